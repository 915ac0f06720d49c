"""The value x risk grid of factor-then-cluster (Meng & Shao 2008) and its recommendations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from matplotlib.axes import Axes

from clm_utils import config
from clm_utils.cluster.factors import FactorResult
from clm_utils.cluster.features import RISK_FEATURES, VALUE_FEATURES, PreparedFeatures
from clm_utils.errors import ModelError

__all__ = ["QUADRANT_ACTIONS", "grid_recommendations", "plot_value_risk_grid", "value_risk_grid"]


def value_risk_grid(labels: pd.Series, factors: FactorResult | None = None,
                    prepared: PreparedFeatures | None = None, names: pd.Series | None = None,
                    indicators: PreparedFeatures | None = None) -> pd.DataFrame:
    """Place clusters on a value x risk grid (the reading of Meng & Shao's factor-then-cluster).

    With ``factors``: value index = variance-weighted mean of the *value* factors' scores, risk
    index = the same for the *risk* factors (:func:`factor_analysis` orients both so higher = more
    value / more risk).  When the factor solution has no value or no risk factor, or without
    ``factors``, that axis falls back to the mean z-score of the value (:data:`VALUE_FEATURES`) or
    risk (:data:`RISK_FEATURES`) indicators in ``prepared``.  Both indices are averaged per
    cluster; quadrants are read against 0 (the customer-base average).  When the screen before
    the factor analysis left no indicator of a kind in ``prepared`` (a low MSA or a collinear partner
    says nothing against averaging its z-scores), that axis uses those of ``indicators`` (the
    standardised indicators before the screen), and its source says so.

    Returns
    -------
    DataFrame
        Per cluster: [``name``], ``customers``, ``value_index``, ``risk_index``, ``quadrant``,
        ``value_source``, ``risk_source``.
    """
    def axis(kind: str, feats: tuple[str, ...]) -> tuple[pd.Series, str]:
        if factors is not None:
            fs = [c for c in factors.kinds.index if factors.kinds[c] == kind]
            if fs:
                w = factors.variance_share[fs]
                sc = factors.scores.reindex(labels.index)[fs]
                return (sc * w).sum(axis=1) / w.sum(), "factors " + ", ".join(fs)
        if prepared is None:
            raise ModelError(f"no {kind} factor was found and no indicators were given for the {kind} axis",
                             hint="pass prepared=... (the standardised indicators)")
        X = prepared.X.reindex(labels.index)
        cols = [c for c in X.columns if c in feats]
        if not cols and indicators is not None:
            X = indicators.X.reindex(labels.index)
            cols = [c for c in X.columns if c in feats]
            if cols:
                return X[cols].mean(axis=1), "indicators before the screen " + ", ".join(cols)
        if not cols:
            raise ModelError(f"the value x risk grid needs at least one {kind} indicator, and none is left after "
                             "dropping constant and collinear indicators on these data",
                             hint=f"read the behavioural clusters instead; with more varied customers a {kind} "
                                  "indicator survives the screen")
        return X[cols].mean(axis=1), "indicators " + ", ".join(cols)

    v, vsrc = axis("value", VALUE_FEATURES)
    r, rsrc = axis("risk", RISK_FEATURES)
    value = v.groupby(labels).mean()
    risk = r.groupby(labels).mean()
    out = pd.DataFrame({"customers": labels.value_counts().reindex(value.index).astype("int64"),
                        "value_index": value, "risk_index": risk})
    out.index.name = "cluster"
    out["quadrant"] = [
        ("high value" if a >= 0 else "low value") + ", " + ("high risk" if b >= 0 else "low risk")
        for a, b in zip(out["value_index"], out["risk_index"], strict=True)
    ]
    out["value_source"] = vsrc
    out["risk_source"] = rsrc
    if names is not None:
        out.insert(0, "name", names.reindex(out.index))
    return out


#: What to do with a group in each quadrant of the value x risk grid (docs/theory.md stage strategies).
QUADRANT_ACTIONS: dict[str, tuple[str, str]] = {
    "high value, low risk": ("stability 稳定期", "Keep and grow: VIP service, share of wallet, lower cost to serve."),
    "high value, high risk": ("decline 退化期 (worth it)",
                              "Win back first: find out why they slowed, personal contact, tailored offers."),
    "low value, low risk": ("exploration/formation 考察/形成期",
                            "Nurture and up-sell: bundles and cross-sell to raise spend per purchase."),
    "low value, high risk": ("terminated 流失期", "Let go: low-cost automated contact only."),
}


def grid_recommendations(grid: pd.DataFrame) -> pd.DataFrame:
    """Stage and action per cluster from its quadrant on the value x risk grid (:data:`QUADRANT_ACTIONS`)."""
    out = grid.copy()
    out["stage"] = [QUADRANT_ACTIONS[q][0] for q in out["quadrant"]]
    out["action"] = [QUADRANT_ACTIONS[q][1] for q in out["quadrant"]]
    return out


def plot_value_risk_grid(grid: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Clusters as bubbles (size = customers) on the value x risk plane, quadrants at 0."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 6))
    size = 3000 * grid["customers"] / grid["customers"].sum()
    ax.scatter(grid["risk_index"], grid["value_index"], s=size + 30, alpha=0.5, color="C0", edgecolor="k")
    for c, row in grid.iterrows():
        lab = f"{c}: {row['name']}" if "name" in grid.columns else str(c)
        ax.annotate(lab, (row["risk_index"], row["value_index"]), fontsize=8, ha="center", va="bottom",
                    xytext=(0, 8), textcoords="offset points")
    ax.axhline(0, color="grey", lw=1)
    ax.axvline(0, color="grey", lw=1)
    lim_x = max(0.5, float(grid["risk_index"].abs().max()) * 1.3)
    lim_y = max(0.5, float(grid["value_index"].abs().max()) * 1.3)
    ax.set_xlim(-lim_x, lim_x)
    ax.set_ylim(-lim_y, lim_y)
    for x, y, t in ((-1, 1, "keep & grow"), (1, 1, "win back"), (-1, -1, "nurture"), (1, -1, "let go / low cost")):
        ax.text(x * lim_x * 0.95, y * lim_y * 0.95, t, ha="left" if x < 0 else "right",
                va="top" if y > 0 else "bottom", fontsize=9, color="grey", style="italic")
    ax.set_xlabel("risk index (risk-factor score; higher = riskier)")
    ax.set_ylabel("value index (value-factor score)")
    ax.set_title("Factor-then-cluster: clusters on the value x risk grid")
    return ax


@dataclass
class FactorClusters:
    """k-means on factor scores, placed on the value x risk grid.

    ``criteria`` (by k), ``k`` (used), ``labels``, ``names`` and ``grid`` (:func:`value_risk_grid`
    with a ``revenue_share`` column).
    """

    criteria: pd.DataFrame
    k: int
    labels: pd.Series
    names: pd.Series
    grid: pd.DataFrame


def factor_clusters(factors: FactorResult, prepared: PreparedFeatures, revenue: pd.Series,
                    k_range: Sequence[int] = range(3, 9), k: int | None = None, seed: int = config.DEFAULT_SEED,
                    n_init: int = 4, silhouette_sample: int = 3000,
                   indicators: PreparedFeatures | None = None) -> FactorClusters:
    """Cluster the factor scores (k by the silhouette rule unless given), name the clusters from the
    indicators, and place them on the value x risk grid with their revenue share (``indicators``:
    the standardised indicators before the screen, for an axis the screen left empty; see
    :func:`value_risk_grid`)."""
    from clm_utils.cluster.kmeans import choose_k, fit_kmeans, pick_k
    from clm_utils.cluster.profiles import (
        cluster_profiles,
        cluster_zscores,
        name_clusters,
    )

    criteria = choose_k(factors.scores, k_range=k_range, seed=seed, n_init=n_init,
                        silhouette_sample=silhouette_sample, gmm=False)
    k_used = int(k) if k is not None else pick_k(criteria)
    labels = fit_kmeans(factors.scores, k_used, seed=seed)
    names = name_clusters(cluster_zscores(prepared, labels))
    grid = value_risk_grid(labels, factors, prepared, names, indicators=indicators)
    grid["revenue_share"] = cluster_profiles(prepared, labels, revenue)["revenue_share"]
    return FactorClusters(criteria=criteria, k=k_used, labels=labels, names=names, grid=grid)
