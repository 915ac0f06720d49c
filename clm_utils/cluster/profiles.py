"""Cluster profiles, readable names, the crosstab with RFM segments and recommendations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clm_utils.cluster.features import FEATURE_WORDS, PreparedFeatures

__all__ = ["NAME_WEIGHTS", "cluster_profiles", "cluster_recommendations", "cluster_zscores", "crosstab_segments", "name_clusters", "plot_profile_heatmap"]


def cluster_profiles(prepared: PreparedFeatures, labels: pd.Series, revenue: pd.Series,
                     names: pd.Series | None = None) -> pd.DataFrame:
    """Size, revenue share and raw feature means per cluster (with a first ``name`` column when ``names`` is given).

    Returns
    -------
    DataFrame
        Indexed by cluster: ``customers``, ``customer_share``, ``revenue_share``,
        ``revenue_per_customer`` and the mean of every raw feature.
    """
    raw = prepared.raw.reindex(labels.index)
    rev = revenue.reindex(labels.index).astype(float)
    g = raw.groupby(labels).mean()
    out = pd.DataFrame(index=g.index)
    out.index.name = "cluster"
    sizes = labels.value_counts().reindex(g.index)
    out["customers"] = sizes.astype("int64")
    out["customer_share"] = sizes / len(labels)
    rs = rev.groupby(labels).sum()
    out["revenue_share"] = rs / rs.sum() if rs.sum() > 0 else 0.0
    out["revenue_per_customer"] = rs / sizes
    out = out.join(g)
    if names is not None:
        out.insert(0, "name", names.reindex(out.index))
    return out


def cluster_zscores(prepared: PreparedFeatures, labels: pd.Series) -> pd.DataFrame:
    """Mean standardised (transformed) feature per cluster: the z-score profile."""
    return prepared.X.reindex(labels.index).groupby(labels).mean()


#: Naming weight of the core RFM features: they are what a business reader recognises first.
NAME_WEIGHTS: dict[str, float] = {"recency_time": 1.25, "frequency": 1.25, "monetary": 1.25}


def name_clusters(zscores: pd.DataFrame, n_words: int = 2, min_abs: float = 0.25,
                  weights: dict[str, float] | None = None) -> pd.Series:
    """Readable names from the z-score profile: the ``n_words`` features that stand out most.

    Features are ranked by ``|z| * weight`` (``weights`` default :data:`NAME_WEIGHTS`: the R, F and
    M features count 1.25x, other features 1x).  Each word says whether the cluster is high or low
    on that feature (``FEATURE_WORDS``), e.g. "frequent, big-basket".  Features with
    ``|z| < min_abs`` are not used; a cluster with no such feature is "average".  Duplicate names
    get a further word, then a number.
    """
    w = NAME_WEIGHTS if weights is None else weights
    names: dict[object, list[str]] = {}
    for c, row in zscores.iterrows():
        score = row.abs() * pd.Series({f: w.get(str(f), 1.0) for f in row.index})
        order = score.sort_values(ascending=False, kind="stable")
        words: list[str] = []
        for feat in order.index:
            if abs(row[feat]) < min_abs or len(words) >= n_words + 2:
                break
            hi, lo = FEATURE_WORDS.get(str(feat), (f"high {feat}", f"low {feat}"))
            words.append(hi if row[feat] > 0 else lo)
        names[c] = words if words else ["average"]
    final: dict[object, str] = {}
    base = {c: ", ".join(ws[:n_words]) for c, ws in names.items()}
    for c, ws in names.items():
        nm = base[c]
        if list(base.values()).count(nm) > 1 and len(ws) > n_words:
            nm = ", ".join(ws[: n_words + 1])
        final[c] = nm
    seen: dict[str, int] = {}
    for c, nm in list(final.items()):
        if list(final.values()).count(nm) > 1:
            seen[nm] = seen.get(nm, 0) + 1
            final[c] = f"{nm} ({seen[nm]})"
    return pd.Series(final, name="name", dtype="str")


def plot_profile_heatmap(zscores: pd.DataFrame, names: pd.Series | None = None, ax: Axes | None = None,
                         title: str = "Cluster profiles (mean z-score of each feature)") -> Axes:
    """Heatmap of the z-score profile (clusters x features)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.6 * len(zscores) + 2))
    z = zscores.copy()
    if names is not None:
        z.index = [f"{c}: {names.get(c, '')}" for c in z.index]
    lim = max(1.0, float(np.nanmax(np.abs(z.to_numpy()))))
    sns.heatmap(z, annot=True, fmt=".2f", cmap="RdBu_r", center=0, vmin=-lim, vmax=lim, ax=ax,
                cbar_kws={"label": "z-score (standard deviations)"})
    ax.set_title(title)
    ax.set_xlabel("feature")
    ax.set_ylabel("cluster")
    return ax


def crosstab_segments(labels: pd.Series, segments: pd.Series, names: pd.Series | None = None,
                      order: Sequence[str] | None = None) -> tuple[pd.DataFrame, float]:
    """Cluster x RFM-segment crosstab (counts) and the adjusted Rand index between the two.

    ``order``: segment columns in this order (segments not in it are left out of the table only).
    """
    from sklearn.metrics import adjusted_rand_score

    seg = segments.reindex(labels.index)
    # one name per cluster, not one Python call per customer
    rows = labels.map({c: f"{c}: {names[c]}" for c in pd.unique(labels)}) if names is not None else labels
    tab = pd.crosstab(rows.rename("cluster"), seg.rename("segment"))
    ari = float(adjusted_rand_score(labels.to_numpy(), seg.astype(str).to_numpy()))
    if order is not None:
        tab = tab.reindex(columns=[s for s in order if s in tab.columns])
    return tab, ari


def cluster_recommendations(profiles: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """A short recommendation per cluster from its profile (value share vs customer share, recency).

    Rules (docs/theory.md stage strategies): value share >= 1.5x customer share -> retain/grow
    (stability); recently active and below-average value -> nurture (formation); lapsed with
    above-average value -> win back (decline, worth it); lapsed and low value -> let go / low cost.
    """
    rows = []
    avg_rec = float(np.average(profiles["recency_time"], weights=profiles["customers"])) if "recency_time" in profiles else np.nan
    for c, p in profiles.iterrows():
        lift = p["revenue_share"] / p["customer_share"] if p["customer_share"] > 0 else 0.0
        recent = "recency_time" in p and p["recency_time"] <= avg_rec
        if lift >= 1.5 and recent:
            act, stage = "Retain and grow share of wallet; VIP service, lower cost to serve.", "stability 稳定期"
        elif lift >= 1.5:
            act, stage = "Win back at high priority: find out why they slowed, tailored offers.", "decline 退化期 (worth it)"
        elif recent:
            act, stage = "Nurture: personalised offers to build a second and third purchase.", "exploration/formation 考察/形成期"
        elif lift >= 0.75:
            act, stage = "Low-cost reactivation; keep those who respond.", "decline 退化期"
        else:
            act, stage = "Let go: cheap automated contact only.", "terminated 流失期"
        rows.append({"cluster": c, "name": names.get(c, str(c)), "customers": int(p["customers"]),
                     "customer_share": p["customer_share"], "revenue_share": p["revenue_share"],
                     "value_lift": lift, "stage": stage, "action": act})
    return pd.DataFrame(rows).set_index("cluster")
