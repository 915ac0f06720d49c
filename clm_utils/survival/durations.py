"""Survival data from transactions: relationship durations with churn / censoring flags.

Churn definition (used everywhere in the suite): a customer is **churned** at ``as_of`` when
the gap since the last purchase exceeds the ``inactivity`` window; otherwise the customer is
**right-censored** (still possibly active).  See :mod:`clm_utils.survival` for the two choices
of churn time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clm_utils.config import unit_days
from clm_utils.errors import DataError, ParameterError
from clm_utils.survival._common import check_transactions, to_days

__all__ = ["churn_durations", "churn_overview", "landmark_durations"]


def churn_durations(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
    inactivity: float | str | pd.Timedelta = 26,
    time_unit: str = "W",
    churn_time: str = "last_purchase",
) -> pd.DataFrame:
    """Relationship duration and churn flag for every customer.

    Parameters
    ----------
    transactions
        Frame with ``customer_id``, ``date`` (datetime64) and ``amount``.  Rows after ``as_of``
        are ignored; purchases on the same day are one purchase day
        (:func:`clm_utils.summary.purchase_days`, the suite's one per-customer aggregation).
    as_of
        The date at which churn is judged (None = last transaction date).
    inactivity
        The silence that means churn: a number of ``time_unit`` (26 weeks by default), or a
        Timedelta / string such as ``"182D"``.
    time_unit
        Unit of the returned durations (``D``, ``W``, ``M``, ``Q``, ``Y``).
    churn_time
        ``"last_purchase"`` (default: the churn time is the last purchase, the "death" of the
        BTYD models) or ``"declared"`` (last purchase + inactivity; censored customers are
        censored at ``as_of``).

    Returns
    -------
    DataFrame indexed by ``customer_id`` with ``first_purchase``, ``last_purchase``,
    ``duration`` (time units), ``event`` (1 = churned, 0 = censored), ``gap`` (time since last
    purchase, in time units), ``n_purchase_days``, ``total_amount``, ``first_amount`` (spend on
    the first purchase day), ``cohort`` (acquisition month, ``YYYY-MM``).  Sorted by customer.
    """
    check_transactions(transactions)
    if churn_time not in ("last_purchase", "declared"):
        raise ParameterError(
            f"churn_time must be 'last_purchase' or 'declared', got {churn_time!r}", parameter="churn_time"
        )
    unit = unit_days(time_unit)
    window = to_days(inactivity, time_unit, "inactivity")
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    if not (transactions["date"] <= as_of_ts).any():
        raise DataError(f"no transactions on or before the as-of date {as_of_ts.date()}", hint="use a later as_of")
    from clm_utils.lifecycle.stages import _days

    # one row per customer and purchase day, as sorted integer codes (the same sums as purchase_days)
    d = _days(transactions, as_of_ts)
    first_day, last_day = d.day[d.starts[:-1]], d.day[d.starts[1:] - 1]
    out = pd.DataFrame(
        {
            "first_purchase": first_day.astype("datetime64[D]").astype("datetime64[ns]"),
            "last_purchase": last_day.astype("datetime64[D]").astype("datetime64[ns]"),
            "n_purchase_days": np.diff(d.starts).astype(int),
            "total_amount": d.per_customer(d.amount),
            "first_amount": d.amount[d.starts[:-1]],
        },
        index=d.ids,
    )
    out = _with_window(out, as_of_ts, window, unit, churn_time)
    month = first_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    month_code, months = pd.factorize(month)  # format each month once
    labels = pd.DatetimeIndex(np.asarray(months, dtype="datetime64[M]").astype("datetime64[ns]")).strftime("%Y-%m")
    out["cohort"] = labels.take(month_code).to_numpy()
    out.index.name = "customer_id"
    return out[
        ["first_purchase", "last_purchase", "duration", "event", "gap", "n_purchase_days", "total_amount",
         "first_amount", "cohort"]
    ]


def _with_window(out: pd.DataFrame, as_of_ts: pd.Timestamp, window: float, unit: float,
                 churn_time: str) -> pd.DataFrame:
    """``duration``, ``event`` and ``gap`` of :func:`churn_durations` for one inactivity window (days),
    from ``first_purchase`` and ``last_purchase`` (so several windows share one pass over the data)."""
    out = out.copy()
    gap_days = (as_of_ts.normalize() - out["last_purchase"]).dt.days.astype(float)
    churned = gap_days > window
    life_days = (out["last_purchase"] - out["first_purchase"]).dt.days.astype(float)
    if churn_time == "last_purchase":
        dur_days = life_days
    else:
        tenure_days = (as_of_ts.normalize() - out["first_purchase"]).dt.days.astype(float)
        dur_days = np.where(churned, life_days + window, tenure_days)
    out["duration"] = np.asarray(dur_days, dtype=float) / unit
    out["event"] = churned.astype(int)
    out["gap"] = gap_days / unit
    return out


def churn_durations_by_window(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None,
    windows: list[float] | tuple[float, ...],
    time_unit: str = "W",
    churn_time: str = "last_purchase",
) -> dict[float, pd.DataFrame]:
    """:func:`churn_durations` for each inactivity window, with one pass over the transactions.

    Returns
    -------
    dict window -> the frame :func:`churn_durations` returns for it (identical to calling it).
    """
    windows = list(windows)
    if not windows:
        return {}
    base = churn_durations(transactions, as_of, inactivity=windows[0], time_unit=time_unit, churn_time=churn_time)
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    unit = unit_days(time_unit)
    cols = list(base.columns)
    return {w: _with_window(base, as_of_ts, to_days(w, time_unit, "inactivity"), unit, churn_time)[cols]
            for w in windows}


def landmark_durations(
    transactions: pd.DataFrame,
    landmark: str | pd.Timestamp,
    as_of: str | pd.Timestamp | None = None,
    inactivity: float | str | pd.Timedelta = 26,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Time from a landmark date to declared churn, for the customers still active at the landmark.

    Each customer still active at ``landmark`` (last purchase within ``inactivity`` of it) is
    followed to ``as_of``.  As in :func:`churn_durations`, a customer who buys again is not
    churned: churn is declared at ``last purchase before as_of + inactivity`` when that moment
    lies on or before ``as_of``; the others are censored at ``as_of``.

    Returns
    -------
    DataFrame indexed by ``customer_id``: ``duration`` (time units from the landmark), ``event``.
    """
    check_transactions(transactions, need_amount=False)
    unit = unit_days(time_unit)
    window = to_days(inactivity, time_unit, "inactivity")
    lm = pd.Timestamp(landmark)
    end = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    if lm >= end:
        raise ParameterError("the landmark must be before as_of", parameter="landmark")
    from clm_utils.lifecycle.stages import _days

    # on sorted integer codes, in integer nanoseconds (so every floor is the one Timedelta.days takes)
    d = _days(transactions, end, need_amount=False)
    ns = 86_400_000_000_000
    t = d.day * ns
    last = t[d.starts[1:] - 1]  # last purchase up to as_of
    upto = t <= lm.value
    before = np.full(len(d.ids), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(before, d.code[upto], t[upto])  # last purchase up to the landmark
    has = before > np.iinfo(np.int64).min
    active = has & (((lm.value - np.where(has, before, 0)) // ns) <= window)
    declared = last[active] + pd.Timedelta(days=window).value
    event = declared <= end.value
    stop = np.where(event, declared, end.value)
    out = pd.DataFrame({"duration": ((stop - lm.value) // ns).astype(float) / unit, "event": event.astype(int)},
                       index=d.ids[active])
    out.index.name = "customer_id"
    return out


def churn_overview(durations: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Headline numbers of :func:`churn_durations` output, for all customers and for repeat buyers.

    When most customers buy once, the overall median relationship length is 0 (the typical
    relationship ends with the first purchase); the repeat buyers' median is then the planning number.

    Returns
    -------
    DataFrame indexed by ``customers`` (``all`` and ``repeat buyers``, the latter only when there
    are any): ``n``, ``churned``, ``censored``, ``share_churned``, ``one_time_share_of_churned``,
    ``median``, ``median_lower``, ``median_upper`` (Kaplan-Meier, log-log CI at level 1 - alpha).
    """
    from clm_utils.survival.kaplan_meier import KaplanMeier

    groups = {"all": durations, "repeat buyers": durations[durations["n_purchase_days"] >= 2]}
    rows = []
    for name, d in groups.items():
        if len(d) == 0:
            continue
        km = KaplanMeier(alpha=alpha).fit(d["duration"], d["event"], label=name)
        churned = d["event"] == 1
        rows.append({"customers": name, "n": len(d), "churned": int(churned.sum()), "censored": int((~churned).sum()),
                     "share_churned": float(churned.mean()),
                     "one_time_share_of_churned": float((d.loc[churned, "n_purchase_days"] == 1).mean())
                     if churned.any() else float("nan"),
                     "median": km.median_, "median_lower": km.median_ci_[0], "median_upper": km.median_ci_[1]})
    return pd.DataFrame(rows).set_index("customers")
