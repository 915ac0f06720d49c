"""Behavioural clustering and factor-then-cluster segmentation (因子-聚类分析).

Flow: :func:`behaviour_features` (raw features per customer, vectorised) ->
:func:`prepare_features` (log-transform skewed features, standardise) -> :func:`choose_k`
(silhouette, Calinski-Harabasz, inertia, Gaussian-mixture BIC over a k range) ->
:func:`fit_kmeans` / :func:`fit_gmm` -> :func:`bootstrap_stability` -> :func:`cluster_profiles`
and :func:`name_clusters`.  Factor-then-cluster: :func:`kmo`, :func:`bartlett_sphericity`,
:func:`n_factors_kaiser` / :func:`parallel_analysis`, :func:`factor_analysis` (varimax), then
k-means on the factor scores and :func:`value_risk_grid`.

All randomness is seeded through ``seed`` parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats

from clm_utils import config
from clm_utils.errors import DataError, ModelError, ParameterError

#: Readable words for a cluster that is high / low on a feature (used by :func:`name_clusters`).
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "recency_time": ("lapsed", "recent"),
    "frequency": ("frequent", "one-off"),
    "monetary": ("big-basket", "small-basket"),
    "tenure": ("long-standing", "newer"),
    "ipt_mean": ("slow-cycle", "fast-cycle"),
    "ipt_cv": ("irregular", "regular"),
    "spend_trend": ("growing-spend", "shrinking-spend"),
    "largest_purchase": ("big-ticket", "small-ticket"),
    "first_amount": ("big-first-order", "small-first-order"),
    "active_share": ("still-engaged", "faded"),
    "items_per_purchase": ("many-items", "few-items"),
}

#: Chinese labels of the features (tables and markdown only).
FEATURE_ZH: dict[str, str] = {
    "recency_time": "距上次购买时间 (R)",
    "frequency": "购买次数 (F)",
    "monetary": "平均每次消费 (M)",
    "tenure": "客户关系时长",
    "ipt_mean": "平均购买间隔",
    "ipt_cv": "购买间隔变异系数",
    "spend_trend": "消费趋势",
    "largest_purchase": "最大单次消费",
    "first_amount": "首次消费金额",
    "active_share": "活跃时长占比",
    "items_per_purchase": "每次购买件数",
}

#: Unit of each raw feature ("{time}" = the notebook's time unit, "{currency}" = the currency).
FEATURE_UNITS: dict[str, str] = {
    "recency_time": "{time}", "frequency": "purchase days", "monetary": "{currency} per purchase day",
    "tenure": "{time}", "ipt_mean": "{time}", "ipt_cv": "ratio", "spend_trend": "relative change per purchase",
    "largest_purchase": "{currency}", "first_amount": "{currency}", "active_share": "share of tenure",
    "items_per_purchase": "items per purchase day",
}


def feature_label(feature: str, time_unit_name: str = "weeks", currency: str = "USD") -> str:
    """``"feature (unit)"`` for axis labels, e.g. ``"largest_purchase (USD)"``."""
    unit = FEATURE_UNITS.get(feature, "")
    unit = unit.replace("{time}", time_unit_name).replace("{currency}", currency)
    return f"{feature} ({unit})" if unit else feature


#: Features that describe value (worth) and those that describe (churn) risk, for labelling factors
#: and for the factor-then-cluster value x risk grid.  Both are oriented so that higher = more value
#: / more risk.  Other features (tenure, ipt_cv, spend_trend, active_share) are neither.
VALUE_FEATURES: tuple[str, ...] = ("frequency", "monetary", "largest_purchase", "first_amount",
                                   "items_per_purchase")
RISK_FEATURES: tuple[str, ...] = ("recency_time", "ipt_mean")


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------

def behaviour_features(summary: pd.DataFrame, transactions: pd.DataFrame) -> pd.DataFrame:
    """Behavioural features per customer, vectorised (no loop over customers).

    Parameters
    ----------
    summary
        Customer summary of :func:`clm_utils.summary.summarize` (``frequency``, ``recency``, ``T``,
        ``n_purchase_days``, ``total_amount``, ``first_amount``), in time units.
    transactions
        Canonical transactions (``customer_id``, ``date``, ``amount`` [, ``quantity``]); rows
        after the summary's observation end are ignored (purchase days are rebuilt from the
        summary's ``last_purchase``).

    Returns
    -------
    DataFrame
        Indexed like ``summary``:

        ``recency_time``  time since the last purchase (``T - recency``);
        ``frequency``     number of purchase days;
        ``monetary``      mean spend per purchase day;
        ``tenure``        time since the first purchase (``T``);
        ``ipt_mean``      mean inter-purchase time (``recency / frequency``); one-time buyers get
                          ``T`` (their first gap is at least ``T``: a censored lower bound);
        ``ipt_cv``        coefficient of variation of the gaps (0 with fewer than 2 gaps);
        ``spend_trend``   least-squares slope of purchase-day spend on the purchase number,
                          divided by the customer's mean spend (relative change per purchase;
                          0 for one-time buyers);
        ``largest_purchase`` largest purchase-day spend;
        ``first_amount``  spend on the first purchase day;
        ``active_share``  ``recency / T``: share of the relationship with purchases in it;
        ``items_per_purchase`` mean quantity per purchase day (only when ``quantity`` exists).
    """
    need = ["frequency", "recency", "T", "n_purchase_days", "total_amount", "first_amount", "last_purchase"]
    missing = [c for c in need if c not in summary.columns]
    if missing:
        raise DataError(f"clustering features need the summary column(s) {', '.join(missing)}",
                        hint="build the summary with clm_utils.summary.summarize(transactions)")
    cid, date, amount = config.CUSTOMER_ID, config.DATE, config.AMOUNT
    end = summary["last_purchase"].max()
    tx = transactions[(transactions[date] <= end) & transactions[cid].isin(summary.index)]
    has_q = config.QUANTITY in tx.columns and tx[config.QUANTITY].notna().any()
    cols = [amount] + ([config.QUANTITY] if has_q else [])
    days = (tx.assign(**{date: tx[date].dt.normalize()})
            .groupby([cid, date], sort=True, observed=True)[cols].sum().reset_index())
    g = days.groupby(cid, sort=True, observed=True)
    # gaps between consecutive purchase days (days), per customer
    gap = g[date].diff().dt.days.astype(float)
    days["gap"] = gap
    gstats = days.groupby(cid, sort=True, observed=True)["gap"].agg(["mean", "std", "count"])
    # spend trend: slope of amount on purchase number k = 0..n-1, scaled by mean amount
    days["k"] = g.cumcount().astype(float)
    kbar = days.groupby(cid, observed=True)["k"].transform("mean")
    abar = days.groupby(cid, observed=True)[amount].transform("mean")
    days["sxy"] = (days["k"] - kbar) * (days[amount] - abar)
    days["sxx"] = (days["k"] - kbar) ** 2
    tr = days.groupby(cid, sort=True, observed=True)[["sxy", "sxx"]].sum()
    mean_amt = days.groupby(cid, sort=True, observed=True)[amount].mean()
    slope = np.where(tr["sxx"] > 0, tr["sxy"] / tr["sxx"].where(tr["sxx"] > 0, 1.0), 0.0)
    trend = pd.Series(np.where(mean_amt > 0, slope / mean_amt.where(mean_amt > 0, 1.0), 0.0), index=tr.index)
    largest = days.groupby(cid, sort=True, observed=True)[amount].max()

    s = summary
    freq = s["frequency"].to_numpy(dtype=float)
    rec = s["recency"].to_numpy(dtype=float)
    T = s["T"].to_numpy(dtype=float)
    out = pd.DataFrame(index=s.index)
    out["recency_time"] = T - rec
    out["frequency"] = s["n_purchase_days"].astype(float)
    out["monetary"] = s["total_amount"].astype(float) / s["n_purchase_days"].astype(float)
    out["tenure"] = T
    out["ipt_mean"] = np.where(freq > 0, rec / np.maximum(freq, 1.0), T)
    cv = (gstats["std"] / gstats["mean"]).where((gstats["count"] >= 2) & (gstats["mean"] > 0))
    out["ipt_cv"] = cv.reindex(s.index).fillna(0.0).to_numpy()
    out["spend_trend"] = trend.reindex(s.index).fillna(0.0).to_numpy()
    out["largest_purchase"] = largest.reindex(s.index).fillna(s["first_amount"]).to_numpy(dtype=float)
    out["first_amount"] = s["first_amount"].astype(float)
    out["active_share"] = np.where(T > 0, rec / np.where(T > 0, T, 1.0), 0.0)
    if has_q:
        q = days.groupby(cid, sort=True, observed=True)[config.QUANTITY].mean()
        out["items_per_purchase"] = q.reindex(s.index).fillna(0.0).to_numpy(dtype=float)
    bad = ~np.isfinite(out.to_numpy(dtype=float))
    if bad.any():
        raise DataError(f"{int(bad.any(axis=1).sum())} customer(s) have non-finite features",
                        hint="check the data for missing amounts or dates")
    return out


@dataclass
class PreparedFeatures:
    """Standardised features ready for clustering, with the transformation record."""

    X: pd.DataFrame
    raw: pd.DataFrame
    transforms: pd.DataFrame
    mean_: pd.Series = field(default_factory=pd.Series)
    scale_: pd.Series = field(default_factory=pd.Series)


def prepare_features(features: pd.DataFrame, columns: Sequence[str] | None = None,
                     skew_threshold: float = 1.0) -> PreparedFeatures:
    """Log-transform skewed features, then standardise (z-scores).

    A feature is log-transformed (``log1p`` after shifting its minimum to 0) when its sample
    skewness exceeds ``skew_threshold``: k-means and Gaussian mixtures use Euclidean distances /
    covariances, which a long right tail (a few very big spenders) would otherwise dominate.
    Constant features are dropped (they carry no information and cannot be standardised).

    Returns
    -------
    PreparedFeatures
        ``X`` (standardised, same index), ``raw`` (the selected raw features), ``transforms``
        (per feature: skew before, log applied, skew after, kept).
    """
    if columns is not None:
        missing = [c for c in columns if c not in features.columns]
        if missing:
            raise ParameterError(f"unknown feature(s) {', '.join(missing)}", parameter="features",
                                 hint=f"choose from {', '.join(features.columns)}")
        features = features[list(columns)]
    if len(features) < 3:
        raise ModelError(f"clustering needs at least 3 customers, got {len(features)}")
    rows, cols = [], {}
    for c in features.columns:
        x = features[c].to_numpy(dtype=float)
        sd = x.std()
        if sd == 0 or not np.isfinite(sd):
            rows.append({"feature": c, "skew_before": 0.0, "log": False, "skew_after": 0.0, "kept": False})
            continue
        sk = float(stats.skew(x))
        use_log = sk > skew_threshold
        y = np.log1p(x - x.min()) if use_log else x
        rows.append({"feature": c, "skew_before": sk, "log": bool(use_log), "skew_after": float(stats.skew(y)),
                     "kept": True})
        cols[c] = y
    if len(cols) < 2:
        raise ModelError("fewer than 2 features vary between customers, nothing to cluster on",
                         hint="check the data: do customers differ in spend or purchase counts?")
    Y = pd.DataFrame(cols, index=features.index)
    mu, sd = Y.mean(), Y.std(ddof=0)
    X = (Y - mu) / sd
    return PreparedFeatures(X=X, raw=features[list(cols)], transforms=pd.DataFrame(rows), mean_=mu, scale_=sd)


# ---------------------------------------------------------------------------------------------
# Choosing k and fitting
# ---------------------------------------------------------------------------------------------

def _check_k_range(k_range: Sequence[int], n: int) -> list[int]:
    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 2:
        raise ParameterError("k_range must contain integers >= 2", parameter="k_range", hint="e.g. range(2, 9)")
    ks = [k for k in ks if k < n]
    if not ks:
        raise ModelError(f"too few customers ({n}) for the k range asked")
    return ks


def choose_k(X: pd.DataFrame, k_range: Sequence[int] = range(2, 9), seed: int = config.DEFAULT_SEED,
             n_init: int = 4, silhouette_sample: int = 3000, gmm: bool = True,
             gmm_sample: int = 5000) -> pd.DataFrame:
    """Criteria for each k: inertia (elbow), silhouette, Calinski-Harabasz and GMM BIC.

    Silhouette is computed on a seeded subsample of ``silhouette_sample`` customers (it is
    O(n^2)) and the Gaussian-mixture BIC on a seeded subsample of ``gmm_sample`` (the same rows
    for every k, so the BICs are comparable); inertia and Calinski-Harabasz on all customers.

    Default-k rule (:func:`pick_k`): the k with the highest silhouette; ties (within 0.005) go to
    the smaller k.

    Returns
    -------
    DataFrame
        Indexed by ``k``: ``inertia``, ``silhouette``, ``calinski_harabasz``, ``gmm_bic``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, silhouette_score
    from sklearn.mixture import GaussianMixture

    A = np.asarray(X, dtype=float)
    ks = _check_k_range(k_range, len(A))
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(A), size=min(silhouette_sample, len(A)), replace=False))
    gsample = np.sort(rng.choice(len(A), size=min(gmm_sample, len(A)), replace=False))
    rows = []
    for k in ks:
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(A)
        lab = km.labels_
        n_lab = len(np.unique(lab))
        sil = float(silhouette_score(A[sample], lab[sample])) if len(np.unique(lab[sample])) > 1 else np.nan
        ch = float(calinski_harabasz_score(A, lab)) if n_lab > 1 else np.nan
        bic = np.nan
        if gmm:
            gm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed, n_init=1,
                                 reg_covar=1e-4, max_iter=200).fit(A[gsample])
            bic = float(gm.bic(A[gsample]))
        rows.append({"k": k, "inertia": float(km.inertia_), "silhouette": sil, "calinski_harabasz": ch, "gmm_bic": bic})
    return pd.DataFrame(rows).set_index("k")


def pick_k(criteria: pd.DataFrame, tol: float = 0.005) -> int:
    """Default k: highest silhouette, ties within ``tol`` broken towards the smaller k."""
    sil = criteria["silhouette"].dropna()
    if sil.empty:
        raise ModelError("no silhouette could be computed", hint="set k explicitly")
    best = sil.max()
    return int(sil[sil >= best - tol].index.min())


def plot_k_selection(criteria: pd.DataFrame, chosen: int | None = None) -> np.ndarray:
    """The four criteria against k in one figure (2 x 2 panels); returns the Axes array."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    spec = [("inertia", "Inertia (elbow; lower = tighter)"), ("silhouette", "Silhouette (higher = better)"),
            ("calinski_harabasz", "Calinski-Harabasz (higher = better)"), ("gmm_bic", "Gaussian mixture BIC (lower = better)")]
    for ax, (col, title) in zip(axes.ravel(), spec, strict=True):
        ax.plot(criteria.index, criteria[col], marker="o")
        ax.set_title(title)
        ax.set_ylabel(col.replace("_", " "))
        if chosen is not None:
            ax.axvline(chosen, color="C3", ls="--", lw=1)
    for ax in axes[1]:
        ax.set_xlabel("number of clusters k")
    fig.suptitle("Choosing the number of clusters" + (f" (chosen k = {chosen})" if chosen else ""))
    fig.tight_layout()
    return axes


def fit_kmeans(X: pd.DataFrame, k: int, seed: int = config.DEFAULT_SEED, n_init: int = 10) -> pd.Series:
    """k-means labels (0..k-1, relabelled by cluster size, largest first), aligned to ``X``."""
    from sklearn.cluster import KMeans

    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}", parameter="k")
    if k > len(X):
        raise ModelError(f"k = {k} is larger than the number of customers ({len(X)})", hint="choose a smaller k")
    km = KMeans(n_clusters=int(k), n_init=n_init, random_state=seed).fit(np.asarray(X, dtype=float))
    return _relabel_by_size(pd.Series(km.labels_, index=X.index, name="cluster"))


def fit_gmm(X: pd.DataFrame, k: int, seed: int = config.DEFAULT_SEED, n_init: int = 2) -> pd.Series:
    """Gaussian-mixture (full covariance) hard labels, relabelled by size, aligned to ``X``."""
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(n_components=int(k), covariance_type="full", random_state=seed, n_init=n_init,
                         reg_covar=1e-4).fit(np.asarray(X, dtype=float))
    return _relabel_by_size(pd.Series(gm.predict(np.asarray(X, dtype=float)), index=X.index, name="cluster"))


def _relabel_by_size(labels: pd.Series) -> pd.Series:
    counts = labels.value_counts()
    order = sorted(counts.index, key=lambda c: (-counts[c], c))
    mapping = {old: new for new, old in enumerate(order)}
    return labels.map(mapping).astype("int64").rename("cluster")


def bootstrap_stability(X: pd.DataFrame, k: int, n_boot: int = 20, seed: int = config.DEFAULT_SEED,
                        n_init: int = 3, sample_size: int | None = None,
                        reference: pd.Series | None = None) -> pd.DataFrame:
    """Stability of k-means: adjusted Rand index between the reference clustering and clusterings
    fitted on bootstrap resamples (each resample's model labels all customers).

    Parameters
    ----------
    n_boot
        Number of bootstrap resamples.
    sample_size
        Size of each resample (default: all customers, drawn with replacement); a smaller size
        speeds it up on large bases.
    reference
        The clustering to compare with (e.g. :func:`fit_kmeans` labels, aligned to ``X``); default:
        a k-means fit on all customers with ``n_init`` starts.

    Returns
    -------
    DataFrame
        One row per resample: ``replicate``, ``ari``.  Summarise with :func:`stability_summary`.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    if n_boot < 1:
        raise ParameterError("n_boot must be at least 1", parameter="n_boot")
    A = np.asarray(X, dtype=float)
    n = len(A)
    if reference is not None:
        ref = reference.reindex(X.index).to_numpy()
    else:
        ref = KMeans(n_clusters=int(k), n_init=n_init, random_state=seed).fit(A).labels_
    rng = np.random.default_rng(seed)
    m = n if sample_size is None else min(int(sample_size), n)
    rows = []
    for b in range(n_boot):
        idx = rng.integers(0, n, size=m)
        km = KMeans(n_clusters=int(k), n_init=n_init, random_state=int(rng.integers(0, 2**31 - 1))).fit(A[idx])
        rows.append({"replicate": b + 1, "ari": float(adjusted_rand_score(ref, km.predict(A)))})
    return pd.DataFrame(rows)


def stability_summary(boot: pd.DataFrame) -> pd.Series:
    """Mean, standard deviation, 5th percentile, min and max of the bootstrap ARI."""
    a = boot["ari"]
    return pd.Series({"mean": a.mean(), "sd": a.std(ddof=1) if len(a) > 1 else 0.0,
                      "p05": a.quantile(0.05), "min": a.min(), "max": a.max(), "n_boot": float(len(a))})


# ---------------------------------------------------------------------------------------------
# Profiles and names
# ---------------------------------------------------------------------------------------------

def cluster_profiles(prepared: PreparedFeatures, labels: pd.Series, revenue: pd.Series) -> pd.DataFrame:
    """Size, revenue share and raw feature means per cluster.

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
    return out.join(g)


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
    for c in final:
        nm = final[c]
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


def crosstab_segments(labels: pd.Series, segments: pd.Series, names: pd.Series | None = None) -> tuple[pd.DataFrame, float]:
    """Cluster x RFM-segment crosstab (counts) and the adjusted Rand index between the two."""
    from sklearn.metrics import adjusted_rand_score

    seg = segments.reindex(labels.index)
    rows = labels.map(lambda c: f"{c}: {names[c]}") if names is not None else labels
    tab = pd.crosstab(rows.rename("cluster"), seg.rename("segment"))
    ari = float(adjusted_rand_score(labels.to_numpy(), seg.astype(str).to_numpy()))
    return tab, ari


def cluster_recommendations(profiles: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """A short recommendation per cluster from its profile (value share vs customer share, recency).

    Rules (THEORY.md stage strategies): value share >= 1.5x customer share -> retain/grow
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
            act, stage = "Let go: cheap automated contact only.", "terminated 终止"
        rows.append({"cluster": c, "name": names.get(c, str(c)), "customers": int(p["customers"]),
                     "customer_share": p["customer_share"], "revenue_share": p["revenue_share"],
                     "value_lift": lift, "stage": stage, "action": act})
    return pd.DataFrame(rows).set_index("cluster")


# ---------------------------------------------------------------------------------------------
# Factor analysis: suitability tests, factors, factor-then-cluster
# ---------------------------------------------------------------------------------------------

def _corr(data: pd.DataFrame | np.ndarray) -> np.ndarray:
    A = np.asarray(data, dtype=float)
    if A.ndim != 2 or A.shape[1] < 2:
        raise ParameterError("need a 2-D table with at least 2 variables", parameter="data")
    return np.corrcoef(A, rowvar=False)


def partial_correlations(data: pd.DataFrame | np.ndarray, is_corr: bool = False) -> np.ndarray:
    """Partial correlation of every pair of variables given all the others.

    ``P_ij = -(R^-1)_ij / sqrt((R^-1)_ii (R^-1)_jj)`` for i != j, 1 on the diagonal.  (The
    anti-image correlation matrix of psych::KMO is the same up to the sign of the off-diagonal.)
    """
    R = np.asarray(data, dtype=float) if is_corr else _corr(data)
    if not np.all(np.isfinite(R)):
        raise ModelError("the correlation matrix has missing values (a constant variable?)",
                         hint="drop variables that do not vary")
    try:
        inv = np.linalg.inv(R)
    except np.linalg.LinAlgError:
        raise ModelError("the correlation matrix is singular (some variables are exact combinations of others)",
                         hint="drop redundant variables") from None
    d = np.sqrt(np.diag(inv))
    P = -inv / np.outer(d, d)
    np.fill_diagonal(P, 1.0)
    return P


def kmo(data: pd.DataFrame | np.ndarray, is_corr: bool = False) -> tuple[float, pd.Series]:
    """Kaiser-Meyer-Olkin measure of sampling adequacy (Kaiser & Rice 1974; as psych::KMO, SPSS).

    With ``r_ij`` the correlations and ``q_ij`` the partial correlations
    (:func:`partial_correlations`): ``KMO = sum r_ij^2 / (sum r_ij^2 + sum q_ij^2)`` over the
    off-diagonal pairs, and per variable the same sums restricted to row ``i`` (MSA_i).
    Kaiser's labels: >= .9 marvellous, .8 meritorious, .7 middling, .6 mediocre, .5 miserable,
    below .5 unacceptable.

    Parameters
    ----------
    data
        Observations x variables, or a correlation matrix with ``is_corr=True``.

    Returns
    -------
    (overall, per_variable)
    """
    R = np.asarray(data, dtype=float) if is_corr else _corr(data)
    names = list(data.columns) if isinstance(data, pd.DataFrame) else [f"x{i + 1}" for i in range(R.shape[0])]
    Q = partial_correlations(R, is_corr=True)
    off = ~np.eye(R.shape[0], dtype=bool)
    r2 = np.where(off, R ** 2, 0.0)
    q2 = np.where(off, Q ** 2, 0.0)
    overall = float(r2.sum() / (r2.sum() + q2.sum()))
    per = r2.sum(axis=1) / (r2.sum(axis=1) + q2.sum(axis=1))
    return overall, pd.Series(per, index=names, name="MSA")


def bartlett_sphericity(data: pd.DataFrame | np.ndarray, n: int | None = None, is_corr: bool = False) -> dict[str, float]:
    """Bartlett's (1951) test that the correlation matrix is the identity.

    ``chi2 = -(n - 1 - (2p + 5) / 6) ln |R|`` with ``df = p (p - 1) / 2``.

    Returns
    -------
    dict
        ``chi2``, ``df``, ``p_value``.
    """
    if is_corr:
        if n is None:
            raise ParameterError("n (number of observations) is needed with a correlation matrix", parameter="n")
        R = np.asarray(data, dtype=float)
    else:
        R = _corr(data)
        n = len(np.asarray(data))
    p = R.shape[0]
    sign, logdet = np.linalg.slogdet(R)
    if sign <= 0:
        raise ModelError("the correlation matrix is singular or not positive definite",
                         hint="drop redundant variables")
    chi2 = -(n - 1 - (2 * p + 5) / 6.0) * logdet
    df = p * (p - 1) / 2.0
    return {"chi2": float(chi2), "df": float(df), "p_value": float(stats.chi2.sf(chi2, df))}


def n_factors_kaiser(data: pd.DataFrame | np.ndarray) -> int:
    """Kaiser's rule: the number of correlation-matrix eigenvalues greater than 1 (at least 1)."""
    ev = np.linalg.eigvalsh(_corr(data))
    return max(1, int((ev > 1.0).sum()))


def parallel_analysis(data: pd.DataFrame | np.ndarray, n_iter: int = 20, quantile: float = 0.95,
                      seed: int = config.DEFAULT_SEED, max_rows: int = 5000) -> tuple[int, pd.DataFrame]:
    """Horn's parallel analysis: keep factors whose eigenvalue beats the ``quantile`` of
    eigenvalues of uncorrelated normal data of the same shape (rows capped at ``max_rows``)."""
    A = np.asarray(data, dtype=float)
    n, p = min(len(A), max_rows), A.shape[1]
    obs = np.sort(np.linalg.eigvalsh(_corr(A)))[::-1]
    rng = np.random.default_rng(seed)
    sims = np.array([np.sort(np.linalg.eigvalsh(np.corrcoef(rng.standard_normal((n, p)), rowvar=False)))[::-1]
                     for _ in range(n_iter)])
    ref = np.quantile(sims, quantile, axis=0)
    keep = obs > ref
    k = int(np.argmin(keep)) if not keep.all() else p
    table = pd.DataFrame({"observed": obs, "random_q": ref}, index=pd.RangeIndex(1, p + 1, name="factor"))
    return max(1, k), table


@dataclass
class FactorResult:
    """Varimax factor analysis of standardised indicators."""

    loadings: pd.DataFrame
    scores: pd.DataFrame
    names: pd.Series
    kinds: pd.Series
    variance_share: pd.Series
    eigenvalues: pd.Series


def varimax(loadings: np.ndarray, tol: float = 1e-8, max_iter: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Kaiser's varimax rotation (with Kaiser row normalisation), the standard SVD algorithm.

    Returns
    -------
    (rotated loadings, rotation matrix)
        ``rotated = loadings @ rotation``; the rotation is orthogonal, so communalities (row sums
        of squared loadings) are unchanged.
    """
    L = np.asarray(loadings, dtype=float)
    p, k = L.shape
    if k < 2:
        return L.copy(), np.eye(k)
    h = np.sqrt((L ** 2).sum(axis=1))
    h[h == 0] = 1.0
    A = L / h[:, None]
    Rot = np.eye(k)
    crit = 0.0
    for _ in range(max_iter):
        B = A @ Rot
        u, sv, vt = np.linalg.svd(A.T @ (B ** 3 - B @ np.diag((B ** 2).sum(axis=0)) / p))
        Rot = u @ vt
        new = sv.sum()
        if new < crit * (1 + tol):
            break
        crit = new
    return (A @ Rot) * h[:, None], Rot


def factor_analysis(X: pd.DataFrame, n_factors: int | None = None, seed: int = config.DEFAULT_SEED,
                    rule: str = "kaiser") -> FactorResult:
    """Principal-component factor extraction with varimax rotation (the SPSS default used in the
    factor-then-cluster literature), on standardised indicators.

    Loadings are ``eigenvector * sqrt(eigenvalue)`` of the correlation matrix for the retained
    factors, rotated by :func:`varimax`; factor scores by the regression method
    (``X R^-1 L``).  Deterministic (no iterative random start).

    Parameters
    ----------
    X
        Standardised indicators (:func:`prepare_features`), >= 8 columns recommended.
    n_factors
        Number of factors; ``None`` = by ``rule``.
    rule
        ``"kaiser"`` (eigenvalues > 1, default) or ``"parallel"`` (Horn's parallel analysis,
        seeded with ``seed``).

    Each factor is labelled a *value* or *risk* factor by which group of indicators
    (:data:`VALUE_FEATURES` or :data:`RISK_FEATURES`) holds more of its squared loadings, or
    *other* when the two groups hold less than 30% of them together (e.g. a tenure factor);
    oriented so that a higher score means more value / more risk (otherwise its largest loading
    is positive), and named after its two strongest indicators in words (:data:`FEATURE_WORDS`, e.g. a
    factor loading negatively on ``frequency`` and ``active_share`` is "one-off, faded").
    """
    if X.shape[1] < 3:
        raise ModelError("factor analysis needs at least 3 indicators")
    R = _corr(X)
    if not np.all(np.isfinite(R)):
        raise ModelError("an indicator does not vary, so correlations are undefined", hint="drop constant indicators")
    evals, evecs = np.linalg.eigh(R)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    ev = pd.Series(evals, index=range(1, X.shape[1] + 1), name="eigenvalue")
    if n_factors is None:
        if rule == "kaiser":
            n_factors = n_factors_kaiser(X)
        elif rule == "parallel":
            n_factors = parallel_analysis(X, seed=seed)[0]
        else:
            raise ParameterError(f"unknown rule {rule!r}", parameter="rule", hint="use 'kaiser' or 'parallel'")
    n_factors = int(min(max(1, n_factors), X.shape[1] - 1))
    L0 = evecs[:, :n_factors] * np.sqrt(np.maximum(evals[:n_factors], 0.0))
    L, _ = varimax(L0)
    sign = np.sign(L[np.argmax(np.abs(L), axis=0), np.arange(L.shape[1])])
    sign[sign == 0] = 1
    L = L * sign
    ss = (L ** 2).sum(axis=0)
    order = np.argsort(-ss, kind="stable")
    L, ss = L[:, order], ss[order]
    Z = np.asarray(X, dtype=float)
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    S = Z @ np.linalg.solve(R, L)
    cols = [f"F{i + 1}" for i in range(n_factors)]
    loadings = pd.DataFrame(L, index=X.columns, columns=cols)
    names, kinds = {}, {}
    S = pd.DataFrame(S, index=X.index, columns=cols)
    for c in cols:
        col = loadings[c]
        v = float((col[[f for f in col.index if f in VALUE_FEATURES]] ** 2).sum())
        r = float((col[[f for f in col.index if f in RISK_FEATURES]] ** 2).sum())
        total = float((col ** 2).sum())
        kind = "other" if v + r < 0.3 * total else ("value" if v >= r else "risk")
        # orient value factors so value indicators load positively, risk factors so risk
        # indicators load positively (higher score = more value / more risk)
        group = VALUE_FEATURES if kind == "value" else RISK_FEATURES if kind == "risk" else ()
        ref = float(col[[f for f in col.index if f in group]].sum()) if group else 0.0
        if ref < 0:
            loadings[c] = -col
            S[c] = -S[c]
        kinds[c] = kind
        top = loadings[c].abs().sort_values(ascending=False).index[:2]
        words = []
        for t in top:
            hi, lo = FEATURE_WORDS.get(str(t), (f"high {t}", f"low {t}"))
            words.append(hi if loadings.loc[t, c] > 0 else lo)
        names[c] = ", ".join(words)
    return FactorResult(
        loadings=loadings,
        scores=S,
        names=pd.Series(names, name="name"),
        kinds=pd.Series(kinds, name="kind"),
        variance_share=pd.Series(ss / X.shape[1], index=cols, name="variance_share"),
        eigenvalues=ev,
    )


def loadings_table(fr: FactorResult, highlight: float = 0.4) -> pd.DataFrame:
    """Loadings rounded, with the factor names and kinds as a header row block."""
    t = fr.loadings.copy()
    t.columns = [f"{c} ({fr.kinds[c]}): {fr.names[c]}" for c in t.columns]
    t.index = [f"{i} {FEATURE_ZH.get(str(i), '')}".strip() for i in t.index]
    return t


def value_risk_grid(labels: pd.Series, factors: FactorResult | None = None,
                    prepared: PreparedFeatures | None = None, names: pd.Series | None = None) -> pd.DataFrame:
    """Place clusters on a value x risk grid (the reading of Meng & Shao's factor-then-cluster).

    With ``factors``: value index = variance-weighted mean of the *value* factors' scores, risk
    index = the same for the *risk* factors (:func:`factor_analysis` orients both so higher = more
    value / more risk).  When the factor solution has no value or no risk factor, or without
    ``factors``, that axis falls back to the mean z-score of the value (:data:`VALUE_FEATURES`) or
    risk (:data:`RISK_FEATURES`) indicators in ``prepared``.  Both indices are averaged per
    cluster; quadrants are read against 0 (the customer-base average).

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
        if not cols:
            raise ModelError(f"the value x risk grid needs at least one {kind} indicator",
                             hint="include e.g. monetary and recency_time in the feature list")
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


#: What to do with a group in each quadrant of the value x risk grid (THEORY.md stage strategies).
QUADRANT_ACTIONS: dict[str, tuple[str, str]] = {
    "high value, low risk": ("stability 稳定期", "Keep and grow: VIP service, share of wallet, lower cost to serve."),
    "high value, high risk": ("decline 退化期 (worth it)",
                              "Win back first: find out why they slowed, personal contact, tailored offers."),
    "low value, low risk": ("exploration/formation 考察/形成期",
                            "Nurture and up-sell: bundles and cross-sell to raise spend per purchase."),
    "low value, high risk": ("terminated 终止", "Let go: low-cost automated contact only."),
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


def select_indicators(data: pd.DataFrame, min_msa: float = 0.5, min_kept: int = 3) -> list[str]:
    """Indicators fit for factor analysis: those whose individual KMO (MSA) is at least ``min_msa``.

    Kaiser's rule of thumb: an indicator with MSA below 0.5 shares too little variance with the
    others to load on a common factor.  When fewer than ``min_kept`` indicators pass, all are kept
    (the caller then reports the weak overall KMO rather than analysing a trivial set).
    """
    _, msa = kmo(data)
    keep = [str(c) for c in data.columns if msa[c] >= min_msa]
    return keep if len(keep) >= min_kept else [str(c) for c in data.columns]
