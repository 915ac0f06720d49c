"""RFM scores and segments, value tiers, the customer pyramid, activity classes and concentration.

Everything here works on the customer summary of :func:`clm_utils.summary.summarize` (one row per
customer, indexed by ``customer_id``) or on a plain Series of values per customer, and returns
objects aligned to that index.  docs/theory.md sections 1-2 list the concepts (客户价值, 客户细分, RFM,
客户金字塔, 活跃/沉睡/流失).

Scoring rule (ties)
-------------------
RFM scores are quantile scores computed from ranks, never with ``qcut``: a customer's score on a
dimension is ``1 + floor(bins * share of customers with a strictly worse value)``.  Consequences:

* equal values ALWAYS get equal scores (a tie block is never split across bins);
* the worst observed value always scores 1 (on CDNOW every one-time buyer has F = 1);
* a score of ``s`` is only given to values that beat at least ``(s - 1) / bins`` of the customers,
  so a heavy tie block is not promoted into a bin it does not reach; some scores can therefore be
  empty (on CDNOW, where about half the customers never come back, F takes the values 1, 3, 4, 5);
* a dimension on which every customer has the same value carries no information: every customer
  gets the middle score ``(bins + 1) // 2`` on it (3 of 5), also for a single customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clm_utils import glossary as _glossary
from clm_utils.errors import DataError, ModelError, ParameterError

#: The 11 named RFM segments, in the order of the rules of :func:`rfm_segments`.
SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "Can't Lose",
    "At Risk",
    "Hibernating",
    "Lost",
)

#: Chinese names of the segments, from the glossary (clm_utils.glossary: "Hibernating" is 沉睡客户,
#: "Lost" 流失客户, the names of the activity classes sleeping / churned).
SEGMENTS_ZH: dict[str, str] = {s: str(_glossary.category_label("rfm_segment", s, "zh")) for s in SEGMENTS}

#: Lifecycle stage (docs/theory.md section 3) each segment is treated like, and the recommended action.
_SEGMENT_ACTIONS: dict[str, tuple[str, str, str]] = {
    "Champions": ("stability", "稳定期",
                  "Retain and grow share of wallet: VIP service, early access, referral asks; keep cost to serve low."),
    "Loyal": ("stability", "稳定期",
              "Reward loyalty and cross-/up-sell to raise spend per purchase; ask for reviews and referrals."),
    "Potential Loyalist": ("formation", "形成期",
                           "Deepen the relationship with personalised value-added offers and a membership programme."),
    "New": ("exploration", "考察期",
            "Onboard well: offer common value, learn needs and preferences, make the second purchase easy."),
    "Promising": ("exploration", "考察期",
                  "Nurture with a second-purchase incentive and content that shows the range; learn preferences."),
    "Need Attention": ("formation", "形成期",
                       "Re-engage with personalised, time-limited offers before the relationship stalls."),
    "About to Sleep": ("decline", "退化期",
                       "Find out why buying slowed; send low-cost reminders and recommendations."),
    "Can't Lose": ("decline", "退化期",
                   "Win back at high priority: personal contact, find the cause, make a strong tailored offer."),
    "At Risk": ("decline", "退化期",
                "Targeted win-back campaign for those still worth it; ask what went wrong."),
    "Hibernating": ("decline", "退化期",
                    "Low-cost automated reactivation only; stop spending on those who do not respond."),
    "Lost": ("terminated", "流失期",
             "Let go: at most a cheap automated win-back; do not spend acquisition-level budgets."),
}

VALUE_TIERS: tuple[str, ...] = ("high", "medium", "low")
VALUE_TIERS_ZH: dict[str, str] = {"high": "高价值", "medium": "中价值", "low": "低价值"}
PYRAMID_TIERS: tuple[str, ...] = ("platinum", "gold", "iron", "lead")
PYRAMID_TIERS_ZH: dict[str, str] = {"platinum": "铂金层", "gold": "黄金层", "iron": "钢铁层", "lead": "重铅层"}
ACTIVITY_CLASSES: tuple[str, ...] = ("active", "sleeping", "churned")
ACTIVITY_CLASSES_ZH: dict[str, str] = {"active": "活跃", "sleeping": "沉睡", "churned": "流失"}

#: Default value-tier shares (share of customers, best first): the top 20% of the 80/20 rule, the
#: next 30%, the remaining half.
DEFAULT_TIER_SHARES: tuple[float, float, float] = (0.20, 0.30, 0.50)
#: Default pyramid shares (platinum, gold, iron, lead).  Platinum + gold = the top 20% of the 80/20
#: rule, split 1:3 so that the very top (5%) is served separately; iron = the next 30% and lead =
#: the bottom half, so that the pyramid refines the high / medium / low value tiers exactly
#: (platinum + gold = high, iron = medium, lead = low).
DEFAULT_PYRAMID_SHARES: tuple[float, float, float, float] = (0.05, 0.15, 0.30, 0.50)


# ---------------------------------------------------------------------------------------------
# RFM scores
# ---------------------------------------------------------------------------------------------

def _require(summary: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise DataError(
            f"{what} needs the summary column(s) {', '.join(missing)}",
            hint="build the summary with clm_utils.summary.summarize(transactions)",
        )


def rfm_values(summary: pd.DataFrame, monetary: str = "average") -> pd.DataFrame:
    """The raw R, F and M values RFM is scored on.

    Parameters
    ----------
    summary
        Customer summary with ``recency`` and ``T`` (time units), and either ``n_purchase_days``
        and ``total_amount`` (from :func:`clm_utils.summary.summarize`) or, failing those,
        ``frequency`` and ``monetary_value`` (a BTYD summary, e.g. simulated).
    monetary
        ``"average"`` (default): spend per purchase day, first purchase included
        (``total_amount / n_purchase_days``); ``"total"``: total spend.

    Returns
    -------
    DataFrame
        ``recency_time`` (time since the last purchase, ``T - recency``; lower is better),
        ``n_purchases`` (purchase days, ``frequency + 1``) and ``monetary`` (see above), same index.
    """
    if monetary not in ("average", "total"):
        raise ParameterError(f"{monetary!r} is not a monetary definition", parameter="monetary",
                             hint="use 'average' (spend per purchase) or 'total'")
    _require(summary, ["recency", "T"], "RFM")
    if len(summary) == 0:
        raise DataError("the customer summary is empty", hint="check the data and the as-of date")
    rec = summary["T"].astype(float) - summary["recency"].astype(float)
    if "n_purchase_days" in summary.columns:
        n = summary["n_purchase_days"].astype(float)
    else:
        _require(summary, ["frequency"], "RFM")
        n = summary["frequency"].astype(float) + 1.0
    if "total_amount" in summary.columns:
        total = summary["total_amount"].astype(float)
    else:
        _require(summary, ["monetary_value"], "RFM")
        # BTYD summaries only carry the mean of the repeat purchases; use it for every purchase.
        total = summary["monetary_value"].astype(float) * n
    mon = total / n if monetary == "average" else total
    out = pd.DataFrame({"recency_time": rec, "n_purchases": n, "monetary": mon}, index=summary.index)
    bad = ~np.isfinite(out.to_numpy()).all(axis=1)
    if bad.any():
        raise DataError(f"{int(bad.sum())} customer(s) have missing or infinite R/F/M values",
                        hint="check the summary for missing amounts or dates")
    return out


def rank_counts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each value: how many values are strictly lower, and how many equal it (itself included).

    One sort of ``x`` (``np.unique``), then a lookup, instead of a binary search per value: at
    millions of customers the searches jump around memory and cost ~12x more.

    Parameters
    ----------
    x
        1-D array of finite numbers.

    Returns
    -------
    (lower, ties)
        Two int64 arrays aligned with ``x``; the number of values strictly higher is
        ``x.size - lower - ties``.
    """
    _, inverse, counts = np.unique(np.asarray(x), return_inverse=True, return_counts=True)
    before = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return before[inverse.ravel()], counts.astype(np.int64)[inverse.ravel()]


def top_positions(x: np.ndarray) -> np.ndarray:
    """Each value's position from the top as a share: values strictly higher plus half of those tied
    with it (mid-rank), over all; equal values get equal positions (the tier rule of the module doc)."""
    lower, ties = rank_counts(x)
    return (x.size - lower - ties + 0.5 * ties) / x.size


def quantile_scores(values: pd.Series, bins: int = 5, higher_is_better: bool = True) -> pd.Series:
    """Rank-based quantile scores 1..``bins`` with the tie rule of the module doc.

    ``score = 1 + floor(bins * share of customers with a strictly worse value)``; a constant
    series gets the middle score ``(bins + 1) // 2``.

    Parameters
    ----------
    values
        One value per customer (finite).
    bins
        Number of score levels (>= 2).
    higher_is_better
        ``False`` for recency-type values (time since the last purchase), where lower is better.
    """
    if not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ParameterError(f"bins must be an integer >= 2, got {bins!r}", parameter="bins", hint="use 5")
    x = values.to_numpy(dtype=float)
    n = x.size
    if n == 0:
        return pd.Series([], index=values.index, dtype="int64", name=values.name)
    key = x if higher_is_better else -x
    if np.all(key == key[0]):
        return pd.Series(np.full(n, (bins + 1) // 2, dtype="int64"), index=values.index, name=values.name)
    worse, _ = rank_counts(key)  # customers with a strictly worse value
    score = 1 + np.floor(bins * worse / n).astype("int64")
    return pd.Series(np.minimum(score, bins), index=values.index, name=values.name)


def rfm_scores(summary: pd.DataFrame, bins: int = 5, monetary: str = "average") -> pd.DataFrame:
    """R, F and M scores per customer.

    Parameters
    ----------
    summary
        Customer summary (see :func:`rfm_values` for the columns used).
    bins
        Score levels per dimension (default 5: quintile scores 1..5).
    monetary
        ``"average"`` spend per purchase (default) or ``"total"`` spend.

    Returns
    -------
    DataFrame
        Indexed like ``summary``: ``R``, ``F``, ``M`` (int scores, higher = better: recent,
        frequent, big spender), ``RFM`` (the code, e.g. ``"545"``), and the raw values
        ``recency_time``, ``n_purchases``, ``monetary``.  ``attrs["bins"]`` holds ``bins``.
        The bin edges are in :func:`rfm_bin_edges`.

    Notes
    -----
    Recency is scored on the time since the last purchase (``T - recency`` of the summary, in
    its time unit): the shorter, the higher the score.  Ties follow the module-level rule.
    """
    vals = rfm_values(summary, monetary=monetary)
    out = pd.DataFrame(index=summary.index)
    out["R"] = quantile_scores(vals["recency_time"], bins, higher_is_better=False)
    out["F"] = quantile_scores(vals["n_purchases"], bins)
    out["M"] = quantile_scores(vals["monetary"], bins)
    out["RFM"] = out["R"].astype(str) + out["F"].astype(str) + out["M"].astype(str)
    out = out.join(vals)
    out.attrs["bins"] = int(bins)
    return out


def rfm_bin_edges(scores: pd.DataFrame) -> pd.DataFrame:
    """The value range behind every score: one row per dimension and score that occurs.

    Parameters
    ----------
    scores
        Output of :func:`rfm_scores`.

    Returns
    -------
    DataFrame
        ``dimension`` (R/F/M), ``score``, ``variable``, ``lower``, ``upper`` (the smallest and
        largest raw value with that score), ``customers``, ``share``; sorted by dimension and score.
        Scores that no customer gets (possible with heavy ties) have no row.
    """
    rows = []
    for dim, var in (("R", "recency_time"), ("F", "n_purchases"), ("M", "monetary")):
        g = scores.groupby(dim, sort=True)[var].agg(["min", "max", "size"])
        for s, r in g.iterrows():
            rows.append({"dimension": dim, "score": int(s), "variable": var, "lower": float(r["min"]),
                         "upper": float(r["max"]), "customers": int(r["size"]),
                         "share": float(r["size"]) / len(scores)})
    return pd.DataFrame(rows).sort_values(["dimension", "score"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SegmentRule:
    """One anchored rule of the segment map: inclusive score ranges on R, F and M."""

    segment: str
    r: tuple[int, int]
    f: tuple[int, int]
    m: tuple[int, int] = (1, 5)

    def matches(self, r: np.ndarray, f: np.ndarray, m: np.ndarray) -> np.ndarray:
        return ((r >= self.r[0]) & (r <= self.r[1]) & (f >= self.f[0]) & (f <= self.f[1])
                & (m >= self.m[0]) & (m <= self.m[1]))


#: The segment map on 1..5 scores, as ordered rules.  The rules are mutually exclusive and cover
#: all 125 (R, F, M) combinations (tests/test_rfm.py proves it), so the order only fixes the
#: reading order: recent customers first, then the middle, then the lapsing ones.
SEGMENT_RULES: tuple[SegmentRule, ...] = (
    # recent: R 4-5
    SegmentRule("Champions", r=(4, 5), f=(4, 5), m=(4, 5)),
    SegmentRule("Loyal", r=(4, 5), f=(4, 5), m=(1, 3)),
    SegmentRule("Loyal", r=(3, 3), f=(4, 5)),
    SegmentRule("Potential Loyalist", r=(4, 5), f=(2, 3)),
    SegmentRule("New", r=(5, 5), f=(1, 1)),
    SegmentRule("Promising", r=(4, 4), f=(1, 1)),
    # middle: R 3
    SegmentRule("Need Attention", r=(3, 3), f=(2, 3)),
    SegmentRule("About to Sleep", r=(3, 3), f=(1, 1)),
    # lapsing: R 1-2
    SegmentRule("Can't Lose", r=(1, 2), f=(4, 5), m=(4, 5)),
    SegmentRule("At Risk", r=(1, 2), f=(4, 5), m=(1, 3)),
    SegmentRule("At Risk", r=(1, 2), f=(3, 3)),
    SegmentRule("Hibernating", r=(2, 2), f=(1, 2)),
    SegmentRule("Lost", r=(1, 1), f=(1, 2)),
)


def segment_rules_table() -> pd.DataFrame:
    """The segment map as a readable table (one row per rule, in order)."""
    return pd.DataFrame([
        {"order": i + 1, "segment": r.segment, "R": f"{r.r[0]}-{r.r[1]}", "F": f"{r.f[0]}-{r.f[1]}",
         "M": f"{r.m[0]}-{r.m[1]}"}
        for i, r in enumerate(SEGMENT_RULES)
    ])


def _to_five(score: pd.Series, bins: int) -> np.ndarray:
    s = score.to_numpy(dtype="int64")
    if bins == 5:
        return s
    # map 1..bins onto 1..5 by the bin's upper percentile: ceil(5 * s / bins)
    return np.ceil(5.0 * s / bins).astype("int64")


def rfm_segments(scores: pd.DataFrame) -> pd.Series:
    """The named segment of every customer.

    Parameters
    ----------
    scores
        Output of :func:`rfm_scores` (columns ``R``, ``F``, ``M``).  Scores on another number of
        bins are mapped onto 1..5 first (``ceil(5 * score / bins)``).

    Returns
    -------
    Series
        Segment names (str) aligned to the index of ``scores``; one of :data:`SEGMENTS`.
    """
    _require(scores, ["R", "F", "M"], "rfm_segments")
    bins = int(scores.attrs.get("bins", 5))
    r, f, m = (_to_five(scores[c], bins) for c in ("R", "F", "M"))
    if len(r) and (min(r.min(), f.min(), m.min()) < 1 or max(r.max(), f.max(), m.max()) > 5):
        raise ParameterError("scores must lie in 1..bins", parameter="scores",
                             hint="compute them with rfm_scores(summary)")
    label = np.full(len(r), "", dtype=object)
    for rule in SEGMENT_RULES:
        hit = rule.matches(r, f, m) & (label == "")
        label[hit] = rule.segment
    if (label == "").any():  # impossible by construction; guarded by the coverage test
        raise ModelError("some RFM score combinations match no segment rule")
    return pd.Series(label.astype(str), index=scores.index, name="segment", dtype="str")


def segment_actions() -> pd.DataFrame:
    """Segment -> lifecycle stage and a one-line recommended action (docs/theory.md section 3).

    Returns
    -------
    DataFrame
        Indexed by ``segment`` (in :data:`SEGMENTS` order): ``segment_zh``, ``stage``, ``stage_zh``,
        ``action``.
    """
    rows = [{"segment": s, "segment_zh": SEGMENTS_ZH[s], "stage": _SEGMENT_ACTIONS[s][0],
             "stage_zh": _SEGMENT_ACTIONS[s][1], "action": _SEGMENT_ACTIONS[s][2]} for s in SEGMENTS]
    return pd.DataFrame(rows).set_index("segment")


def segment_summary(segments: pd.Series, summary: pd.DataFrame) -> pd.DataFrame:
    """Size, revenue and action per segment.

    Parameters
    ----------
    segments
        Output of :func:`rfm_segments`.
    summary
        Customer summary with ``total_amount`` (aligned on the index).

    Returns
    -------
    DataFrame
        One row per segment in :data:`SEGMENTS` order (empty segments included with 0):
        ``customers``, ``customer_share``, ``revenue``, ``revenue_share``, ``revenue_per_customer``,
        ``segment_zh``, ``action``.
    """
    _require(summary, ["total_amount"], "segment_summary")
    rev = summary["total_amount"].reindex(segments.index).astype(float)
    g = pd.DataFrame({"segment": segments, "revenue": rev}).groupby("segment")["revenue"].agg(["size", "sum"])
    g = g.reindex(list(SEGMENTS), fill_value=0)
    out = pd.DataFrame(index=pd.Index(list(SEGMENTS), name="segment"))
    out["customers"] = g["size"].astype("int64")
    out["customer_share"] = out["customers"] / max(len(segments), 1)
    out["revenue"] = g["sum"].astype(float)
    total = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total > 0 else 0.0
    out["revenue_per_customer"] = np.where(out["customers"] > 0, out["revenue"] / out["customers"].clip(lower=1), 0.0)
    acts = segment_actions()
    out["segment_zh"] = acts["segment_zh"]
    out["action"] = acts["action"]
    return out


# ---------------------------------------------------------------------------------------------
# Value tiers and the customer pyramid
# ---------------------------------------------------------------------------------------------

def _check_shares(shares: Sequence[float], k: int, name: str) -> np.ndarray:
    s = np.asarray(shares, dtype=float)
    if s.shape != (k,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ParameterError(f"{name} must be {k} positive shares, got {list(shares)!r}", parameter=name,
                             hint=f"e.g. {name}=" + str(DEFAULT_PYRAMID_SHARES if k == 4 else DEFAULT_TIER_SHARES))
    if abs(s.sum() - 1.0) > 1e-6:
        raise ParameterError(f"{name} must add up to 1 (100%), they add up to {s.sum():.4g}", parameter=name,
                             hint="give shares of customers, best tier first, that sum to 1")
    return s


def _ranked_tiers(values: pd.Series, shares: np.ndarray, names: Sequence[str], what: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise ParameterError(f"{what} needs a pandas Series of values per customer", parameter="values")
    x = values.to_numpy(dtype=float)
    if x.size == 0:
        return pd.Series([], index=values.index, dtype="str", name="tier")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{int((~np.isfinite(x)).sum())} value(s) are missing or infinite", column=str(values.name),
                        hint=f"fill or drop them before computing {what}")
    if np.all(x == x[0]):
        raise ModelError(f"all {x.size} customers have the same value, so {what} cannot rank them",
                         hint="use a value that differs between customers (spend, predicted CLV)")
    # position of a customer from the top: customers with a strictly higher value plus half of the
    # customers tied with it (mid-rank), as a share of all.  Equal values -> equal tiers.
    pos = top_positions(x)
    cuts = np.cumsum(shares)[:-1]
    idx = np.searchsorted(cuts, pos, side="right")
    labels = np.asarray(names, dtype=object)[idx]
    return pd.Series(labels.astype(str), index=values.index, name="tier", dtype="str")


def value_tiers(values: pd.Series, shares: Sequence[float] = DEFAULT_TIER_SHARES) -> pd.Series:
    """High / medium / low value tiers (高/中/低价值客户) by rank of ``values``.

    Parameters
    ----------
    values
        One value per customer: historical spend (``summary["total_amount"]``) or predicted CLV.
    shares
        Shares of customers in the high, medium and low tier (sum 1); default 20/30/50.

    Returns
    -------
    Series
        ``"high"``, ``"medium"`` or ``"low"``, aligned to ``values``.  A customer's position is the
        share of customers with a higher value plus half of those tied with it, so tied customers
        share a tier and a large tie block (e.g. many zeros) lands where its middle lies.
    """
    return _ranked_tiers(values, _check_shares(shares, 3, "shares"), VALUE_TIERS, "value tiers")


def customer_pyramid(values: pd.Series, shares: Sequence[float] = DEFAULT_PYRAMID_SHARES) -> pd.Series:
    """The customer pyramid of Zeithaml, Rust & Lemon (2001): platinum, gold, iron, lead.

    Parameters
    ----------
    values
        One value per customer: historical spend or predicted CLV (the paper ranks on
        profitability / lifetime value).
    shares
        Shares of customers in platinum, gold, iron and lead (sum 1).  Default 5/15/30/50: the
        top 20% of the 80/20 rule split 1:3 into platinum and gold, then iron and lead such that
        the pyramid refines :func:`value_tiers` (platinum+gold = high, iron = medium, lead = low).

    Returns
    -------
    Series
        Tier names aligned to ``values``; ties share a tier (see :func:`value_tiers`).
    """
    return _ranked_tiers(values, _check_shares(shares, 4, "shares"), PYRAMID_TIERS, "the customer pyramid")


def tier_summary(tiers: pd.Series, values: pd.Series, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Customers, value and shares per tier (shares add up to 1).

    Parameters
    ----------
    tiers
        Output of :func:`value_tiers` or :func:`customer_pyramid`.
    values
        The values the tiers were built from (aligned on the index).
    order
        Tier order; defaults to the pyramid or value-tier order found in ``tiers``.
    """
    if order is None:
        found = set(tiers.unique())
        order = PYRAMID_TIERS if found <= set(PYRAMID_TIERS) else VALUE_TIERS
    v = values.reindex(tiers.index).astype(float)
    g = pd.DataFrame({"tier": tiers, "value": v}).groupby("tier")["value"].agg(["size", "sum", "mean"])
    g = g.reindex(list(order)).fillna(0.0)
    out = pd.DataFrame(index=pd.Index(list(order), name="tier"))
    out["customers"] = g["size"].astype("int64")
    out["customer_share"] = out["customers"] / max(len(tiers), 1)
    out["value"] = g["sum"]
    total = out["value"].sum()
    out["value_share"] = out["value"] / total if total != 0 else 0.0
    out["value_per_customer"] = g["mean"]
    zh = {**PYRAMID_TIERS_ZH, **VALUE_TIERS_ZH}
    out["tier_zh"] = [zh.get(t, t) for t in out.index]
    return out


# ---------------------------------------------------------------------------------------------
# Activity classes
# ---------------------------------------------------------------------------------------------

def purchase_rhythm(summary: pd.DataFrame, one_time_gap: float | None = None) -> pd.DataFrame:
    """Each customer's own purchase rhythm and how far behind it they are.

    Parameters
    ----------
    summary
        Customer summary with ``frequency``, ``recency``, ``T`` (time units).
    one_time_gap
        Gap (time units) used for one-time buyers, who have no rhythm of their own.  ``None``
        (default) = the median of the repeat buyers' mean inter-purchase times.

    Returns
    -------
    DataFrame
        ``time_since_last`` (``T - recency``), ``gap`` (mean inter-purchase time
        ``recency / frequency``, or ``one_time_gap`` for one-time buyers), ``gap_source``
        (``own`` / ``population``) and ``overdue`` = ``time_since_last / gap``.
    """
    _require(summary, ["frequency", "recency", "T"], "activity classes")
    freq = summary["frequency"].to_numpy(dtype=float)
    rec = summary["recency"].to_numpy(dtype=float)
    since = summary["T"].to_numpy(dtype=float) - rec
    repeat = freq > 0
    own = np.where(repeat, rec / np.maximum(freq, 1.0), np.nan)
    if one_time_gap is None:
        if not repeat.any():
            raise ModelError("nobody made a repeat purchase, so there is no purchase rhythm to compare with",
                             hint="give one_time_gap (the expected time between purchases) explicitly")
        one_time_gap = float(np.median(own[repeat]))
    if not np.isfinite(one_time_gap) or one_time_gap <= 0:
        raise ParameterError(f"one_time_gap must be a positive time, got {one_time_gap!r}", parameter="one_time_gap")
    # a repeat buyer whose purchases all fell within a tiny span gets at least a tiny positive gap
    floor = 1e-9 + 1e-6 * one_time_gap
    gap = np.where(repeat, np.maximum(own, floor), one_time_gap)
    return pd.DataFrame({
        "time_since_last": since,
        "gap": gap,
        "gap_source": np.where(repeat, "own", "population"),
        "overdue": since / gap,
    }, index=summary.index)


def activity_classes(
    summary: pd.DataFrame,
    active_within: float = 1.5,
    churned_after: float = 3.0,
    one_time_gap: float | None = None,
) -> pd.Series:
    """Active 活跃 / sleeping 沉睡 / churned 流失, relative to each customer's own purchase rhythm.

    A customer is *overdue* by ``time since last purchase / own mean inter-purchase time``
    (:func:`purchase_rhythm`).  Active: overdue <= ``active_within``; churned: overdue >
    ``churned_after``; sleeping in between.  **One-time buyers** have no rhythm of their own: they
    are measured against ``one_time_gap``, by default the median rhythm of the repeat buyers (the
    typical customer's gap).

    Default thresholds: for a customer who is still alive and buys as a Poisson process, the time
    since the last purchase is about exponential with the customer's mean gap, so the chance of
    being more than ``k`` gaps behind is ``exp(-k)``: 22% beyond 1.5 gaps (still called active up
    to there), 5% beyond 3 gaps, so "churned" wrongly catches at most ~5% of live customers.

    Returns
    -------
    Series
        ``"active"``, ``"sleeping"`` or ``"churned"`` aligned to the summary index.
    """
    if not (0 < active_within < churned_after):
        raise ParameterError(f"need 0 < active_within < churned_after, got {active_within} and {churned_after}",
                             parameter="active_within", hint="e.g. active_within=1.5, churned_after=3")
    rh = purchase_rhythm(summary, one_time_gap)
    o = rh["overdue"].to_numpy()
    lab = np.where(o <= active_within, "active", np.where(o > churned_after, "churned", "sleeping"))
    return pd.Series(lab, index=summary.index, name="activity", dtype="str")


# ---------------------------------------------------------------------------------------------
# Concentration
# ---------------------------------------------------------------------------------------------

def _nonneg_values(values: pd.Series | np.ndarray | Sequence[float], what: str) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise DataError(f"{what}: there are no values")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{what}: {int((~np.isfinite(x)).sum())} value(s) are missing or infinite")
    if np.any(x < 0):
        raise DataError(f"{what}: {int((x < 0).sum())} value(s) are negative",
                        hint="concentration needs non-negative values (net spend per customer); clip or drop refunds")
    if x.sum() <= 0:
        raise ModelError(f"{what}: all values are zero, so there is nothing to concentrate")
    return x


def lorenz_curve(values: pd.Series | np.ndarray | Sequence[float]) -> pd.DataFrame:
    """The Lorenz curve of ``values``: customers sorted from smallest to largest.

    Returns
    -------
    DataFrame
        ``customer_share`` and ``value_share`` (cumulative), from (0, 0) to (1, 1), n + 1 rows.
    """
    x = np.sort(_nonneg_values(values, "Lorenz curve"))
    cum = np.concatenate([[0.0], np.cumsum(x)]) / x.sum()
    return pd.DataFrame({"customer_share": np.arange(x.size + 1) / x.size, "value_share": cum})


def gini(values: pd.Series | np.ndarray | Sequence[float]) -> float:
    """The Gini coefficient of non-negative ``values`` (0 = equal, (n-1)/n = one has all).

    ``G = sum_i sum_j |x_i - x_j| / (2 n^2 mean)``, computed in O(n log n) as
    ``2 sum_i i x_(i) / (n sum x) - (n + 1) / n`` with ``x_(i)`` sorted ascending, i = 1..n.
    """
    x = np.sort(_nonneg_values(values, "Gini"))
    n = x.size
    i = np.arange(1, n + 1)
    return float(2.0 * np.sum(i * x) / (n * x.sum()) - (n + 1.0) / n)


def top_shares(values: pd.Series | np.ndarray | Sequence[float],
               tops: Sequence[float] = (0.01, 0.05, 0.10, 0.20)) -> pd.DataFrame:
    """Share of the total held by the top ``p`` of customers, for each ``p`` in ``tops``.

    The top ``p`` are the ``ceil(p * n)`` customers with the largest values.

    Returns
    -------
    DataFrame
        ``top`` (share of customers), ``customers``, ``value_share``.
    """
    x = np.sort(_nonneg_values(values, "top shares"))[::-1]
    cum = np.cumsum(x) / x.sum()
    rows = []
    for p in tops:
        if not 0 < p <= 1:
            raise ParameterError(f"top shares must be in (0, 1], got {p}", parameter="tops")
        k = int(np.ceil(p * x.size - 1e-9))
        k = max(k, 1)
        rows.append({"top": float(p), "customers": k, "value_share": float(cum[k - 1])})
    return pd.DataFrame(rows)


def customers_for_share(values: pd.Series | np.ndarray | Sequence[float], share: float = 0.8) -> float:
    """Smallest share of customers (largest first) that together hold ``share`` of the total."""
    x = np.sort(_nonneg_values(values, "customers for share"))[::-1]
    cum = np.cumsum(x) / x.sum()
    k = int(np.searchsorted(cum, share - 1e-12, side="left")) + 1
    return min(k, x.size) / x.size


def theory_checks(
    summary: pd.DataFrame,
    segments: pd.Series | None = None,
    concentration_threshold: float = 0.75,
    loyalty_claim: float = 10.0,
    loyalty_tolerance: float = 2.0,
) -> pd.DataFrame:
    """Test two claims of docs/theory.md section 1 on the data.

    1. **80/20** (value is concentrated): share of revenue (``total_amount``) from the top 20% of
       customers.  Verdict "holds" when it is at least ``concentration_threshold`` (default 0.75,
       i.e. close to or beyond 80%); also the share of customers needed for 80% of revenue
       ("holds" when at most 25%).
    2. **A loyal customer is worth ~10x an ordinary one.**  Two definitions are reported:
       (a) loyal = RFM segments Champions + Loyal, ordinary = everyone else (needs ``segments``);
       (b) loyal = repeat buyers, ordinary = one-time buyers.
       Worth = mean historical revenue per customer.  Verdict "holds" when the ratio lies within
       a factor ``loyalty_tolerance`` of ``loyalty_claim`` (default 5x-20x).

    Returns
    -------
    DataFrame
        ``claim``, ``definition``, ``value`` (the number found), ``verdict``.
    """
    _require(summary, ["total_amount", "frequency"], "theory checks")
    rev = summary["total_amount"].astype(float)
    rows = []
    top20 = top_shares(rev.clip(lower=0), (0.20,))["value_share"].iloc[0]
    need = customers_for_share(rev.clip(lower=0), 0.8)
    rows.append({"claim": "80/20: top 20% of customers bring ~80% of revenue",
                 "definition": "revenue share of the top 20% of customers by total spend",
                 "value": float(top20),
                 "verdict": "holds" if top20 >= concentration_threshold else "does not hold"})
    rows.append({"claim": "80/20 (other side)",
                 "definition": "share of customers (largest first) that make 80% of revenue",
                 "value": float(need),
                 "verdict": "holds" if need <= 0.25 else "does not hold"})

    def ratio_row(mask: pd.Series, definition: str) -> None:
        a, b = rev[mask], rev[~mask]
        if len(a) == 0 or len(b) == 0 or b.mean() <= 0:
            rows.append({"claim": "loyal customer worth ~10x an ordinary one", "definition": definition,
                         "value": float("nan"), "verdict": "cannot be checked (a group is empty)"})
            return
        ratio = float(a.mean() / b.mean())
        lo, hi = loyalty_claim / loyalty_tolerance, loyalty_claim * loyalty_tolerance
        verdict = "holds" if lo <= ratio <= hi else ("does not hold (smaller)" if ratio < lo else "does not hold (larger)")
        rows.append({"claim": "loyal customer worth ~10x an ordinary one", "definition": definition,
                     "value": ratio, "verdict": verdict})

    if segments is not None:
        seg = segments.reindex(rev.index)
        ratio_row(seg.isin(["Champions", "Loyal"]),
                  "mean revenue of Champions+Loyal / mean revenue of all other customers")
    ratio_row(summary["frequency"] > 0, "mean revenue of repeat buyers / mean revenue of one-time buyers")
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------

def plot_rf_heatmap(scores: pd.DataFrame, revenue: pd.Series | None = None, ax: Axes | None = None,
                    currency: str = "USD") -> Axes:
    """R x F heatmap: share of customers per cell, or share of revenue if ``revenue`` is given."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    bins = int(scores.attrs.get("bins", 5))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    levels = list(range(1, bins + 1))
    if revenue is None:
        tab = pd.crosstab(scores["F"], scores["R"]).reindex(index=levels, columns=levels, fill_value=0)
        tab = tab / max(len(scores), 1)
        title = "Share of customers by R and F score"
    else:
        rv = revenue.reindex(scores.index).astype(float)
        tab = pd.crosstab(scores["F"], scores["R"], values=rv, aggfunc="sum").reindex(
            index=levels, columns=levels).fillna(0.0)
        tab = tab / max(rv.sum(), 1e-12)
        title = f"Share of revenue ({currency}) by R and F score"
    sns.heatmap(tab.iloc[::-1], annot=True, fmt=".1%", cmap="Blues", cbar=False, ax=ax)
    ax.set_title(title)
    ax.set_xlabel("R score (5 = most recent)")
    ax.set_ylabel("F score (5 = most frequent)")
    return ax


def plot_segments(seg_table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Segment sizes next to segment revenue shares (horizontal bars), from :func:`segment_summary`."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5))
    t = seg_table.iloc[::-1]
    y = np.arange(len(t))
    ax.barh(y + 0.2, t["customer_share"], height=0.4, label="share of customers")
    ax.barh(y - 0.2, t["revenue_share"], height=0.4, label="share of revenue")
    ax.set_yticks(y, t.index)
    ax.xaxis.set_major_formatter(lambda v, _p: f"{v:.0%}")
    ax.set_xlabel("share (%)")
    ax.set_title("RFM segments: size vs revenue")
    ax.legend(loc="lower right")
    return ax


def plot_pyramid(table: pd.DataFrame, ax: Axes | None = None, currency: str = "USD") -> Axes:
    """The customer pyramid drawn as a pyramid, from :func:`tier_summary` of :func:`customer_pyramid`.

    Layer heights are equal; each layer is labelled with its share of customers and of value.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    k = len(table)
    colors = {"platinum": "#b8c4d6", "gold": "#e3b448", "iron": "#8a8d91", "lead": "#4f5359"}
    for i, (tier, row) in enumerate(table.iterrows()):
        # layer i from the top; the pyramid's half-width grows linearly with depth
        top, bottom = k - i, k - i - 1
        w_top, w_bot = i / k, (i + 1) / k
        poly = Polygon([(-w_bot, bottom), (w_bot, bottom), (w_top, top), (-w_top, top)],
                       closed=True, facecolor=colors.get(str(tier), f"C{i}"), edgecolor="white", lw=2)
        ax.add_patch(poly)
        ax.text(0, bottom + 0.5, f"{tier}", ha="center", va="center", fontsize=10, fontweight="bold",
                color="black" if str(tier) in ("platinum", "gold") else "white")
        ax.text(1.05, bottom + 0.5,
                f"{row['customer_share']:.0%} of customers, {row['value_share']:.0%} of value",
                ha="left", va="center", fontsize=9)
    ax.set_xlim(-1.05, 2.3)
    ax.set_ylim(0, k)
    ax.axis("off")
    ax.set_title(f"Customer pyramid (value in {currency})")
    return ax


def plot_lorenz(values: pd.Series | np.ndarray, ax: Axes | None = None, label: str = "customers") -> Axes:
    """Lorenz curve with the equality line and the Gini coefficient in the legend."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    lc = lorenz_curve(values)
    g = gini(values)
    if len(lc) > 5001:  # thin the curve for plotting only
        idx = np.unique(np.linspace(0, len(lc) - 1, 5001).astype(int))
        lc = lc.iloc[idx]
    ax.plot(lc["customer_share"], lc["value_share"], label=f"Lorenz curve ({label}), Gini = {g:.2f}")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfect equality")
    ax.axvline(0.8, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("cumulative share of customers (smallest first)")
    ax.set_ylabel("cumulative share of revenue")
    ax.xaxis.set_major_formatter(lambda v, _p: f"{v:.0%}")
    ax.yaxis.set_major_formatter(lambda v, _p: f"{v:.0%}")
    ax.set_title("Concentration of revenue (Lorenz curve)")
    ax.legend(loc="upper left")
    return ax


def activity_summary(activity: pd.Series, revenue: pd.Series) -> pd.DataFrame:
    """Customers, customer share and revenue share per activity class (active, sleeping, churned).

    Parameters
    ----------
    activity
        :func:`activity_classes` output, indexed by ``customer_id``.
    revenue
        Revenue per customer, same index.

    Returns
    -------
    DataFrame indexed by class in :data:`ACTIVITY_CLASSES` order (empty classes kept with 0):
    ``class_zh``, ``customers``, ``customer_share``, ``revenue_share``.
    """
    order = list(ACTIVITY_CLASSES)
    out = pd.DataFrame({"customers": activity.value_counts().reindex(order, fill_value=0)})
    out["customer_share"] = out["customers"] / max(len(activity), 1)
    total = float(revenue.sum())
    by_class = revenue.reindex(activity.index).groupby(activity).sum().reindex(order, fill_value=0.0)
    out["revenue_share"] = by_class / total if total else np.nan
    out.insert(0, "class_zh", [ACTIVITY_CLASSES_ZH[c] for c in order])
    out.index.name = "activity"
    return out


def activity_by_buyer_type(activity: pd.Series, summary: pd.DataFrame) -> pd.DataFrame:
    """Share of one-time and repeat buyers in each activity class (rows add up to 1).

    Parameters
    ----------
    activity
        :func:`activity_classes` output, indexed by ``customer_id``.
    summary
        Customer summary with ``frequency`` (same index).

    Returns
    -------
    DataFrame indexed by ``buyer type`` (``one-time buyer``, ``repeat buyer``), one column per
    class in :data:`ACTIVITY_CLASSES` order.
    """
    _require(summary, ["frequency"], "activity by buyer type")
    buyer = summary["frequency"].reindex(activity.index).gt(0).map({True: "repeat buyer", False: "one-time buyer"})
    return (pd.crosstab(buyer.rename("buyer type"), activity.rename("activity"), normalize="index")
            .reindex(columns=list(ACTIVITY_CLASSES), fill_value=0.0))


def segment_recommendations(seg_table: pd.DataFrame) -> pd.DataFrame:
    """Non-empty segments with their size, revenue share, lifecycle stage and recommended action.

    ``seg_table`` is :func:`segment_summary` output.
    """
    reco = seg_table[["segment_zh", "customers", "customer_share", "revenue_share"]].join(
        segment_actions()[["stage", "stage_zh", "action"]])
    return reco[reco["customers"] > 0]
