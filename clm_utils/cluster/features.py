"""Behavioural features per customer and their preparation for clustering (log, standardise)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from clm_utils import config
from clm_utils.data.values import ids_in
from clm_utils.errors import DataError, ModelError, ParameterError

__all__ = ["FEATURE_UNITS", "FEATURE_WORDS", "FEATURE_ZH", "RISK_FEATURES", "VALUE_FEATURES", "PreparedFeatures", "behaviour_features", "describe_features", "feature_label", "prepare_features"]


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
    "recency_time": "最近一次购买至今的时间间隔 (R)",
    "frequency": "购买频率 (F)",
    "monetary": "平均每次消费金额 (M)",
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
    tx = transactions[(transactions[date] <= end) & ids_in(transactions[cid], summary.index)]
    has_q = config.QUANTITY in tx.columns and tx[config.QUANTITY].notna().any()
    cols = [amount] + ([config.QUANTITY] if has_q else [])
    # group on integer codes in sorted id order (the same groups, order and sums as on the ids, much faster)
    codes, ids = pd.factorize(tx[cid], sort=True)
    days = (pd.DataFrame({"_code": codes, date: tx[date].dt.normalize().to_numpy()}, index=tx.index)
            .join(tx[cols]).groupby(["_code", date], sort=True)[cols].sum().reset_index())
    days[cid] = days.pop("_code")
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

    by_id = pd.Index(ids, name=cid)
    for frame in (gstats, trend, largest):
        frame.index = by_id.take(frame.index.to_numpy())
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
        q.index = by_id.take(q.index.to_numpy())
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


def describe_features(prepared: PreparedFeatures) -> pd.DataFrame:
    """Per used feature: mean, median and max of the raw values, skewness before / after, log applied."""
    raw = prepared.raw
    tr = prepared.transforms.set_index("feature").reindex(raw.columns)
    return pd.DataFrame({"mean": raw.mean(), "median": raw.median(), "max": raw.max(),
                         "skew_before": tr["skew_before"], "log": tr["log"].astype(bool), "skew_after": tr["skew_after"]})
