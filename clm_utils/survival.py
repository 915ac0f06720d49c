"""Relationship survival: churn durations, Kaplan-Meier, log-rank tests and Cox regression.

How long does a customer relationship (客户关系) last before the customer churns (流失)?  In a
non-contractual business nobody cancels, so churn must be *inferred* from silence.  This module
turns a transactions frame into survival data and fits the standard survival models on it.

Churn definition (used everywhere in the suite)
------------------------------------------------
A customer is **churned** at ``as_of`` when the gap since the last purchase exceeds the
``inactivity`` window; otherwise the customer is **right-censored** (still possibly active).

* ``churn_time="last_purchase"`` (default): the churn time is the date of the *last purchase*,
  i.e. the end of the observed relationship.  This is exactly the "death" of the BTYD models
  (BG/NBD customers drop out right after a purchase), so the Kaplan-Meier curve and the
  model-implied survival curve measure the same thing.  A censored customer is known to be
  alive up to the last purchase, so the censoring time is the last purchase as well.
  Duration = last purchase - first purchase (0 for a one-time buyer who churned: the
  relationship ended with the first purchase).
* ``churn_time="declared"``: the churn time is ``last purchase + inactivity`` (the moment the
  silence rule declares the churn); censored customers are censored at ``as_of``.  The curve
  then reads "share of an acquisition cohort still counted active t after the first purchase".

Durations are in ``time_unit`` (days / 7 for weeks, as in the rest of the suite).

Validation (tests/test_survival.py): Kaplan-Meier and its log-log CI against R ``survfit`` on the
``aml`` leukemia data; log-rank against R ``survdiff`` on the ``lung`` data (two and four groups);
Cox coefficients and standard errors against R ``coxph`` (Efron ties) on the Rossi recidivism
data, the ovarian data and the lung data; the proportional-hazards test against R ``cox.zph``
values quoted in the lifelines test suite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clm_utils.config import duration_in_units, unit_days
from clm_utils.errors import DataError, ModelError, ParameterError

__all__ = [
    "KaplanMeier",
    "CoxPH",
    "LogRankResult",
    "churn_durations",
    "landmark_durations",
    "kaplan_meier",
    "km_by_group",
    "logrank_test",
    "cox_ph",
    "concordance_index",
    "plot_km",
    "median_table",
    "inactivity_sensitivity",
    "survival_at",
]

def _check_transactions(transactions: pd.DataFrame, need_amount: bool = True) -> None:
    if not isinstance(transactions, pd.DataFrame):
        raise DataError("transactions must be a pandas DataFrame", hint="load them with clm_utils.data")
    need = ["customer_id", "date"] + (["amount"] if need_amount else [])
    missing = [c for c in need if c not in transactions.columns]
    if missing:
        raise DataError(
            f"transactions lack the column(s) {', '.join(missing)}",
            column=missing[0],
            hint="map your columns with the `columns` parameter (customer_id, date, amount)",
        )
    if len(transactions) == 0:
        raise DataError("there are no transactions", hint="check the data file and the as-of date")


def _to_days(value: Any, time_unit: str, name: str) -> float:
    """A window given as a number of time units, a Timedelta or text such as '26W' or '182D'."""
    if isinstance(value, (pd.Timedelta, np.timedelta64)):
        days = pd.Timedelta(value) / pd.Timedelta(days=1)
    elif isinstance(value, str):  # "26W", "6M", "182D": config's parser (pandas would read "6M" as 6 minutes)
        days = duration_in_units(value, "D", name)
    else:
        try:
            days = float(value) * unit_days(time_unit)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"{value!r} is not a number", parameter=name) from exc
    if not np.isfinite(days) or days <= 0:
        raise ParameterError(f"{name} must be positive, got {value!r}", parameter=name)
    return float(days)


# ----------------------------------------------------------------------------------------------
# durations
# ----------------------------------------------------------------------------------------------
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
        are ignored; purchases on the same day are one purchase.
    as_of
        The date at which churn is judged (None = last transaction date).
    inactivity
        The silence that means churn: a number of ``time_unit`` (26 weeks by default, about two
        typical CDNOW repurchase intervals... but see the notebook for how results move with it),
        or a Timedelta / string such as ``"182D"``.
    time_unit
        Unit of the returned durations (``D``, ``W``, ``M``, ``Q``, ``Y``).
    churn_time
        ``"last_purchase"`` (default) or ``"declared"``; see the module docstring.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with ``first_purchase``, ``last_purchase``,
    ``duration`` (time units), ``event`` (1 = churned, 0 = censored), ``gap`` (time since last
    purchase, in time units), ``n_purchase_days``, ``total_amount``, ``first_amount`` (spend on
    the first purchase day), ``cohort`` (acquisition month, ``YYYY-MM``).  Sorted by customer.
    """
    _check_transactions(transactions)
    if churn_time not in ("last_purchase", "declared"):
        raise ParameterError(
            f"churn_time must be 'last_purchase' or 'declared', got {churn_time!r}", parameter="churn_time"
        )
    unit = unit_days(time_unit)
    window = _to_days(inactivity, time_unit, "inactivity")
    tx = transactions[["customer_id", "date", "amount"]]
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else tx["date"].max()
    tx = tx[tx["date"] <= as_of_ts]
    if len(tx) == 0:
        raise DataError(f"no transactions on or before the as-of date {as_of_ts.date()}", hint="use a later as_of")
    days = tx.groupby(["customer_id", "date"], sort=True, observed=True)["amount"].sum().reset_index()
    g = days.groupby("customer_id", sort=True, observed=True)
    out = pd.DataFrame(
        {
            "first_purchase": g["date"].min(),
            "last_purchase": g["date"].max(),
            "n_purchase_days": g["date"].size().astype(int),
            "total_amount": g["amount"].sum(),
            "first_amount": g["amount"].first(),
        }
    )
    gap_days = (as_of_ts - out["last_purchase"]).dt.days.astype(float)
    churned = gap_days > window
    life_days = (out["last_purchase"] - out["first_purchase"]).dt.days.astype(float)
    if churn_time == "last_purchase":
        dur_days = life_days
    else:
        tenure_days = (as_of_ts - out["first_purchase"]).dt.days.astype(float)
        dur_days = np.where(churned, life_days + window, tenure_days)
    out["duration"] = np.asarray(dur_days, dtype=float) / unit
    out["event"] = churned.astype(int)
    out["gap"] = gap_days / unit
    out["cohort"] = out["first_purchase"].dt.strftime("%Y-%m")
    out.index.name = "customer_id"
    return out[
        ["first_purchase", "last_purchase", "duration", "event", "gap", "n_purchase_days", "total_amount",
         "first_amount", "cohort"]
    ]


def landmark_durations(
    transactions: pd.DataFrame,
    landmark: str | pd.Timestamp,
    as_of: str | pd.Timestamp | None = None,
    inactivity: float | str | pd.Timedelta = 26,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Time from a landmark date to declared churn, for the customers still active at the landmark.

    Used to ask "does churn risk differ by lifecycle stage?": stages are assigned at ``landmark``
    with information up to that date only, then each customer still active then (last purchase
    within ``inactivity`` of the landmark) is followed to ``as_of``.  As in
    :func:`churn_durations`, a customer who buys again is not churned: churn is declared at
    ``last purchase before as_of + inactivity`` when that moment lies on or before ``as_of``;
    the others are censored at ``as_of``.

    Returns
    -------
    DataFrame indexed by ``customer_id``: ``duration`` (time units from the landmark), ``event``.
    """
    _check_transactions(transactions, need_amount=False)
    unit = unit_days(time_unit)
    window = _to_days(inactivity, time_unit, "inactivity")
    lm = pd.Timestamp(landmark)
    end = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    if lm >= end:
        raise ParameterError("the landmark must be before as_of", parameter="landmark")
    tx = transactions.loc[transactions["date"] <= end, ["customer_id", "date"]]
    before = tx[tx["date"] <= lm].groupby("customer_id", observed=True)["date"].max()
    active = before[(lm - before).dt.days <= window]
    last = tx[tx["customer_id"].isin(active.index)].groupby("customer_id", observed=True)["date"].max()
    last = last.reindex(active.index)
    declared = last + pd.Timedelta(days=window)
    event = declared <= end
    stop = declared.where(event, end)
    out = pd.DataFrame({"duration": (stop - lm).dt.days.astype(float) / unit, "event": event.astype(int)})
    out.index.name = "customer_id"
    return out.sort_index()


# ----------------------------------------------------------------------------------------------
# Kaplan-Meier
# ----------------------------------------------------------------------------------------------
def _clean_survival_input(durations: Any, events: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(durations, dtype=float).ravel()
    e = np.ones_like(t) if events is None else np.asarray(events, dtype=float).ravel()
    if t.size == 0:
        raise DataError("there are no durations to analyse", hint="check the as-of date and the filters")
    if t.shape != e.shape:
        raise DataError("durations and events have different lengths")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise DataError("durations must be finite and non-negative")
    if not np.all(np.isin(e, (0.0, 1.0))):
        raise DataError("events must be 0 (censored) or 1 (event)")
    return t, e.astype(int)


@dataclass
class KaplanMeier:
    """A fitted Kaplan-Meier curve (product-limit estimator).

    Attributes (after :func:`kaplan_meier`)
    ---------------------------------------
    survival_function_ : DataFrame indexed by ``time`` (0 and every distinct observed time) with
        ``survival``, ``std_err`` (Greenwood standard error of log S, as R reports it),
        ``lower``, ``upper`` (pointwise CI), ``at_risk``, ``events``, ``censored``.
    median_ : float, the median survival time (``inf`` if the curve never reaches 0.5).
    median_ci_ : (lower, upper), read off the CI curves as R's ``survfit`` does.
    """

    label: str = "all"
    alpha: float = 0.05
    conf_type: str = "log-log"
    survival_function_: pd.DataFrame = field(default_factory=pd.DataFrame)
    median_: float = np.nan
    median_ci_: tuple[float, float] = (np.nan, np.nan)
    n_: int = 0
    n_events_: int = 0
    _durations: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    def predict(self, times: Any) -> pd.Series:
        """S(t) at the given times (right-continuous step function)."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        sf = self.survival_function_
        pos = np.searchsorted(sf.index.to_numpy(), t, side="right") - 1
        vals = np.where(pos >= 0, sf["survival"].to_numpy()[np.clip(pos, 0, None)], 1.0)
        return pd.Series(vals, index=pd.Index(t, name="time"), name=self.label)

    def at_risk(self, times: Any) -> pd.Series:
        """Number still at risk (duration >= t) at each time."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        d = np.sort(self._durations)
        counts = d.size - np.searchsorted(d, t, side="left")
        return pd.Series(counts.astype(int), index=pd.Index(t, name="time"), name=self.label)

    def summary(self) -> pd.DataFrame:
        """One-row table: n, events, median and its CI."""
        return pd.DataFrame(
            {
                "n": [self.n_],
                "events": [self.n_events_],
                "median": [self.median_],
                "median_lower": [self.median_ci_[0]],
                "median_upper": [self.median_ci_[1]],
            },
            index=pd.Index([self.label], name="group"),
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot this curve with its CI band; see :func:`plot_km` for the options."""
        return plot_km({self.label: self}, ax=ax, **kwargs)


def _first_time_at_or_below(times: np.ndarray, curve: np.ndarray, level: float = 0.5) -> float:
    below = np.nonzero(curve <= level + 1e-12)[0]
    return float(times[below[0]]) if below.size else float("inf")


def _median_from_curve(times: np.ndarray, surv: np.ndarray) -> float:
    """R's rule: first time S <= 0.5; if S == 0.5 exactly on a flat stretch, the midpoint."""
    idx = np.nonzero(surv <= 0.5 + 1e-12)[0]
    if idx.size == 0:
        return float("inf")
    i = idx[0]
    if abs(surv[i] - 0.5) < 1e-12 and i + 1 < times.size:
        return float((times[i] + times[i + 1]) / 2.0)
    return float(times[i])


def kaplan_meier(
    durations: Any,
    events: Any = None,
    label: str = "all",
    alpha: float = 0.05,
    conf_type: str = "log-log",
) -> KaplanMeier:
    """Fit a Kaplan-Meier curve.

    Built on :class:`statsmodels.duration.survfunc.SurvfuncRight` (product-limit estimate and
    Greenwood variance); this wrapper adds the time-0 row, censoring times, at-risk counts,
    pointwise confidence intervals on R's ``conf.type`` scales and the median with its CI.

    Parameters
    ----------
    durations, events
        Array-likes of equal length; ``events`` 1 = event observed, 0 = right-censored
        (None = all events).
    alpha
        1 - confidence level (0.05 gives 95% intervals).
    conf_type
        ``"log-log"`` (default; intervals stay inside [0, 1]), ``"log"`` (R's default) or
        ``"plain"``.

    Edge cases: nobody churned gives S = 1 throughout and an infinite median; everyone churned
    ends the curve at 0; a single customer works.
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    if conf_type not in ("log-log", "log", "plain"):
        raise ParameterError("conf_type must be 'log-log', 'log' or 'plain'", parameter="conf_type")
    if not 0 < alpha < 1:
        raise ParameterError("alpha must be between 0 and 1", parameter="alpha")
    t, e = _clean_survival_input(durations, events)
    times = np.unique(np.concatenate([[0.0], t]))
    # counts per distinct time
    order = np.searchsorted(times, t)
    n_event = np.bincount(order, weights=e, minlength=times.size)
    n_cens = np.bincount(order, weights=1 - e, minlength=times.size)
    at_risk = t.size - np.concatenate([[0], np.cumsum(n_event + n_cens)[:-1]])
    surv = np.ones(times.size)
    var_log = np.zeros(times.size)
    if e.sum() > 0:
        sf = SurvfuncRight(t, e)
        ev_times = np.asarray(sf.surv_times, dtype=float)
        pos = np.searchsorted(times, ev_times)
        step_s = np.full(times.size, np.nan)
        step_s[pos] = np.asarray(sf.surv_prob, dtype=float)
        surv = pd.Series(step_s).ffill().fillna(1.0).to_numpy()  # S is flat between event times
        # Greenwood variance of log S (what R calls std.err, squared)
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = np.where(at_risk - n_event > 0, n_event / (at_risk * (at_risk - n_event)), np.inf)
        inc = np.where(n_event > 0, inc, 0.0)
        var_log = np.cumsum(inc)
    z = stats.norm.ppf(1 - alpha / 2)
    se = np.sqrt(var_log)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            lower = surv * np.exp(-z * se)
            upper = np.minimum(1.0, surv * np.exp(z * se))
        elif conf_type == "plain":
            lower = np.clip(surv - z * se * surv, 0, 1)
            upper = np.clip(surv + z * se * surv, 0, 1)
        else:
            logs = np.log(surv)
            ok = (surv > 0) & (surv < 1)
            lower = np.where(ok, np.exp(-np.exp(np.log(-np.where(ok, logs, -1.0)) - z * se / np.where(ok, logs, -1.0))), surv)
            upper = np.where(ok, np.exp(-np.exp(np.log(-np.where(ok, logs, -1.0)) + z * se / np.where(ok, logs, -1.0))), surv)
    lower = np.where(np.isfinite(lower), lower, 0.0)
    upper = np.where(np.isfinite(upper), upper, 1.0)
    table = pd.DataFrame(
        {
            "survival": surv,
            "std_err": se,
            "lower": lower,
            "upper": upper,
            "at_risk": at_risk.astype(int),
            "events": n_event.astype(int),
            "censored": n_cens.astype(int),
        },
        index=pd.Index(times, name="time"),
    )
    km = KaplanMeier(label=str(label), alpha=alpha, conf_type=conf_type)
    km.survival_function_ = table
    km.n_ = int(t.size)
    km.n_events_ = int(e.sum())
    km._durations = t
    km.median_ = _median_from_curve(times, surv)
    km.median_ci_ = (_first_time_at_or_below(times, lower), _first_time_at_or_below(times, upper))
    return km


def km_by_group(
    durations: Any, events: Any, groups: Any, alpha: float = 0.05, conf_type: str = "log-log", min_size: int = 1
) -> dict[str, KaplanMeier]:
    """One Kaplan-Meier curve per group (groups with fewer than ``min_size`` members are skipped).

    Group order follows a categorical's categories when ``groups`` is categorical, else sorted.
    """
    t, e = _clean_survival_input(durations, events)
    g = pd.Series(np.asarray(groups, dtype=object) if not isinstance(groups, pd.Series) else groups.to_numpy())
    if len(g) != t.size:
        raise DataError("groups must have the same length as durations")
    if isinstance(groups, pd.Series) and isinstance(groups.dtype, pd.CategoricalDtype):
        levels = [c for c in groups.cat.categories if (groups == c).sum() >= min_size]
    else:
        levels = sorted(pd.unique(g.dropna()).tolist(), key=str)
    out: dict[str, KaplanMeier] = {}
    gv = g.to_numpy()
    for level in levels:
        mask = gv == level
        if mask.sum() >= min_size:
            out[str(level)] = kaplan_meier(t[mask], e[mask], label=str(level), alpha=alpha, conf_type=conf_type)
    if not out:
        raise DataError("no group has enough customers for a survival curve", hint="lower min_size")
    return out


def median_table(fits: Mapping[str, KaplanMeier]) -> pd.DataFrame:
    """n, events, median and CI of several curves in one table."""
    return pd.concat([f.summary() for f in fits.values()])


def survival_at(fits: Mapping[str, KaplanMeier], times: Sequence[float]) -> pd.DataFrame:
    """S(t) of several curves at the given times: rows = group, columns = times."""
    return pd.DataFrame({name: f.predict(times).to_numpy() for name, f in fits.items()}, index=list(times)).T


# ----------------------------------------------------------------------------------------------
# log-rank
# ----------------------------------------------------------------------------------------------
@dataclass
class LogRankResult:
    """Result of a (multi-group) log-rank test.

    ``table`` has one row per group: N, observed and expected events, (O-E)^2/E.
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"chisq": [self.statistic], "df": [self.df], "p_value": [self.p_value]}, index=["log-rank"]
        )


def logrank_test(durations: Any, events: Any, groups: Any, strata: Any = None) -> LogRankResult:
    """Log-rank (Mantel-Cox) test that two or more survival curves are equal.

    The statistic comes from :func:`statsmodels.duration.survfunc.survdiff` (optionally
    stratified); the observed / expected table is computed here.  With k groups the statistic
    is chi-square with k - 1 degrees of freedom under the null.
    """
    from statsmodels.duration.survfunc import survdiff

    t, e = _clean_survival_input(durations, events)
    graw = pd.Series(np.asarray(groups, dtype=object))
    if graw.size != t.size:
        raise DataError("groups must have the same length as durations")
    if graw.isna().any():
        raise DataError(f"{int(graw.isna().sum())} subjects have no group", hint="drop them or give them a group")
    g = graw.astype(str).to_numpy()
    levels = np.unique(g)
    if levels.size < 2:
        raise ModelError("the log-rank test needs at least two groups", hint="choose a grouping with 2+ levels")
    if e.sum() == 0:
        raise ModelError("no events: survival curves cannot be compared", hint="use a shorter inactivity window")
    kwargs: dict[str, Any] = {}
    if strata is not None:
        kwargs["strata"] = np.asarray(strata)
    chisq, p = survdiff(t, e, g, **kwargs)
    # observed / expected per group (unstratified)
    times = np.unique(t[e == 1])
    n_total = t.size - np.searchsorted(np.sort(t), times, side="left")
    d_total = np.bincount(np.searchsorted(times, t[e == 1]), minlength=times.size)
    rows = []
    for level in levels:
        m = g == level
        tg = np.sort(t[m])
        n_g = tg.size - np.searchsorted(tg, times, side="left")
        expected = float(np.sum(d_total * n_g / n_total))
        observed = float(e[m].sum())
        rows.append((str(level), int(m.sum()), observed, expected))
    table = pd.DataFrame(rows, columns=["group", "N", "observed", "expected"]).set_index("group")
    table["(O-E)^2/E"] = (table["observed"] - table["expected"]) ** 2 / table["expected"]
    return LogRankResult(statistic=float(chisq), df=int(levels.size - 1), p_value=float(p), table=table)


# ----------------------------------------------------------------------------------------------
# concordance
# ----------------------------------------------------------------------------------------------
def concordance_index(durations: Any, risk: Any, events: Any = None) -> float:
    """Harrell's C for a risk score (higher risk = shorter expected survival).

    A pair (i, j) is comparable when i has an event and j survives longer (T_j > T_i, or
    T_j == T_i with j censored, as in R's ``survival::concordance``).  It is concordant when
    risk_i > risk_j; ties in risk count one half.  O(n log n): subjects are swept from the
    longest time down while a Fenwick tree over risk ranks counts the risks of those "later";
    each sweep step handles a block of equal times with vectorised tree operations.
    """
    t, e = _clean_survival_input(durations, events)
    r = np.asarray(risk, dtype=float).ravel()
    if r.shape != t.shape or not np.all(np.isfinite(r)):
        raise DataError("risk must be finite and as long as durations")
    ranks = np.unique(r, return_inverse=True)[1] + 1  # 1..m
    m = int(ranks.max())
    tree = np.zeros(m + 1, dtype=np.int64)

    def query(idx: np.ndarray) -> np.ndarray:  # count of inserted with rank <= idx
        out = np.zeros(idx.size, dtype=np.int64)
        idx = idx.copy()
        while np.any(idx > 0):
            live = idx > 0
            out[live] += tree[idx[live]]
            idx[live] -= idx[live] & (-idx[live])
        return out

    def insert(idx: np.ndarray) -> None:
        idx = idx.copy()
        while idx.size:
            np.add.at(tree, idx, 1)
            idx = idx + (idx & (-idx))
            idx = idx[idx <= m]

    order = np.argsort(-t, kind="stable")
    ts, es, rs = t[order], e[order], ranks[order]
    bounds = np.flatnonzero(np.diff(ts)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [ts.size]])
    concordant = 0.0
    comparable = 0.0
    inserted = 0
    for s, f in zip(starts, ends):
        blk_e = es[s:f]
        blk_r = rs[s:f]
        # censored at the same time count as "later" than deaths at that time
        cens_r = blk_r[blk_e == 0]
        ev_r = blk_r[blk_e == 1]
        if ev_r.size:
            below = query(ev_r - 1)
            upto = query(ev_r)
            n_later = inserted + cens_r.size
            same_time_c_below = (
                np.searchsorted(np.sort(cens_r), ev_r, side="left") if cens_r.size else np.zeros(ev_r.size, int)
            )
            same_time_c_equal = (
                np.searchsorted(np.sort(cens_r), ev_r, side="right") - same_time_c_below
                if cens_r.size
                else np.zeros(ev_r.size, int)
            )
            conc = below + same_time_c_below
            ties = (upto - below) + same_time_c_equal
            concordant += float(np.sum(conc) + 0.5 * np.sum(ties))
            comparable += float(n_later * ev_r.size)
        insert(blk_r)
        inserted += blk_r.size
    if comparable == 0:
        raise ModelError("no comparable pairs: concordance is undefined", hint="need at least one event before a later time")
    return concordant / comparable


# ----------------------------------------------------------------------------------------------
# Cox proportional hazards
# ----------------------------------------------------------------------------------------------
@dataclass
class CoxPH:
    """A fitted Cox proportional-hazards model (statsmodels ``PHReg``, Efron ties by default).

    Attributes
    ----------
    params_, standard_errors_ : Series indexed by covariate (log hazard ratios and their SEs).
    log_likelihood_ : maximised log partial likelihood.
    concordance_ : Harrell's C of the linear predictor.
    n_, n_events_ : sample size and number of events.
    """

    duration_col: str
    event_col: str
    covariates: list[str]
    strata: str | None = None
    ties: str = "efron"
    alpha: float = 0.05
    params_: pd.Series = field(default_factory=pd.Series)
    standard_errors_: pd.Series = field(default_factory=pd.Series)
    variance_matrix_: pd.DataFrame = field(default_factory=pd.DataFrame)
    log_likelihood_: float = np.nan
    concordance_: float = np.nan
    n_: int = 0
    n_events_: int = 0
    _X: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)
    _t: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    _e: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    _result: Any = field(default=None, repr=False)
    _strata: np.ndarray | None = field(default=None, repr=False)

    def schoenfeld_residuals(self) -> np.ndarray:
        """Unscaled Schoenfeld residuals (n x p, NaN rows for censored subjects), with this model's ties."""
        return _schoenfeld_residuals(self._t, self._e, self._X, self.params_.to_numpy(), self._strata, self.ties)

    def summary(self) -> pd.DataFrame:
        """Coefficient table: coef, exp(coef) = hazard ratio, SE, z, p and 95% CIs of both."""
        z = stats.norm.ppf(1 - self.alpha / 2)
        b, se = self.params_, self.standard_errors_
        zval = b / se
        level = int(round(100 * (1 - self.alpha)))
        return pd.DataFrame(
            {
                "coef": b,
                "exp(coef)": np.exp(b),
                "se(coef)": se,
                "z": zval,
                "p": 2 * stats.norm.sf(np.abs(zval)),
                f"coef lower {level}%": b - z * se,
                f"coef upper {level}%": b + z * se,
                f"HR lower {level}%": np.exp(b - z * se),
                f"HR upper {level}%": np.exp(b + z * se),
            }
        )

    def predict_log_hazard(self, data: pd.DataFrame | None = None) -> np.ndarray:
        """Linear predictor x'beta for ``data`` (None = the training data)."""
        X = self._X if data is None else _design(data, self.covariates)[0].reindex(columns=self.params_.index, fill_value=0.0).to_numpy(float)
        return X @ self.params_.to_numpy()

    def scaled_schoenfeld(self) -> pd.DataFrame:
        """Scaled Schoenfeld residuals (one row per event, sorted by time), beta added.

        r*_k = d * V r_k + beta, with d the number of events and V the variance matrix
        (Grambsch & Therneau 1994).  A smooth of r*_j against time estimates beta_j(t).
        """
        res = self.schoenfeld_residuals()
        ev = self._e == 1
        order = np.argsort(self._t[ev], kind="stable")
        r = res[ev][order]
        d = int(ev.sum())
        scaled = d * r @ self.variance_matrix_.to_numpy() + self.params_.to_numpy()
        return pd.DataFrame(scaled, columns=self.params_.index, index=pd.Index(self._t[ev][order], name="time"))

    def check_proportional_hazards(self, transform: str = "km") -> pd.DataFrame:
        """Test of proportional hazards from scaled Schoenfeld residuals (like R's ``cox.zph``).

        For each covariate the test asks whether the scaled residual trends with a transform
        g(t) of time: the score test of Grambsch & Therneau (1994) in the form of
        ``survival::cox.zph`` before version 3.0 (and of lifelines), with R's Schoenfeld residuals
        (Efron-weighted risk-set means for tied deaths when ``ties="efron"``),

            T_j = (sum_k (g_k - gbar) s_kj)^2 / (d * V_jj * sum_k (g_k - gbar)^2),  chi-square(1),

        with s_kj = d * (V r_k)_j the scaled residual without beta, and the global test
        d * u' V u / sum (g - gbar)^2 with u = sum_k (g_k - gbar) s_k, chi-square(p).

        ``transform``: ``"km"`` (default, as R): g(t) = 1 - KM(t-), the left-continuous
        Kaplan-Meier estimate of the pooled data, which spreads event times evenly and is
        robust to a few very long times; ``"rank"``: rank of the event time; ``"identity"``: t;
        ``"log"``: log t.  A small p-value says the hazard ratio changes with time.
        """
        ev = self._e == 1
        t_ev = self._t[ev]
        order = np.argsort(t_ev, kind="stable")
        t_ev = t_ev[order]
        d = t_ev.size
        if d < 3:
            raise ModelError("too few events to test proportional hazards", hint="need at least 3 events")
        res = self.schoenfeld_residuals()[ev][order]
        V = self.variance_matrix_.to_numpy()
        s = d * res @ V
        if transform == "km":
            km = kaplan_meier(self._t, self._e, conf_type="plain")
            sf = km.survival_function_
            # left-continuous: S just before t
            pos = np.searchsorted(sf.index.to_numpy(), t_ev, side="left") - 1
            s_left = np.where(pos >= 0, sf["survival"].to_numpy()[np.clip(pos, 0, None)], 1.0)
            g = 1.0 - s_left
        elif transform == "rank":
            g = stats.rankdata(t_ev)
        elif transform == "identity":
            g = t_ev
        elif transform == "log":
            if np.any(t_ev <= 0):
                raise ModelError("log transform needs positive event times", hint="use transform='km'")
            g = np.log(t_ev)
        else:
            raise ParameterError("transform must be 'km', 'rank', 'identity' or 'log'", parameter="transform")
        xx = g - g.mean()
        sxx = float(np.sum(xx**2))
        if sxx == 0:
            raise ModelError("all events happen at the same time: the PH test is undefined")
        u = xx @ s
        chisq = u**2 / (d * np.diag(V) * sxx)
        rho = np.array([np.corrcoef(xx, s[:, j])[0, 1] if np.std(s[:, j]) > 0 else np.nan for j in range(s.shape[1])])
        u_raw = xx @ res  # R: the global test uses the unscaled residuals
        glob = float(d * u_raw @ V @ u_raw / sxx)
        names = list(self.params_.index)
        table = pd.DataFrame(
            {
                "rho": np.append(rho, np.nan),
                "chisq": np.append(chisq, glob),
                "df": [1] * len(names) + [len(names)],
            },
            index=pd.Index(names + ["GLOBAL"], name="covariate"),
        )
        table["p"] = stats.chi2.sf(table["chisq"], table["df"])
        return table

    def plot_hazard_ratios(self, ax: Any = None) -> Any:
        """Forest plot of hazard ratios with their CIs (log scale)."""
        import matplotlib.pyplot as plt

        s = self.summary()
        lo, hi = s.columns[-2], s.columns[-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.5 * len(s) + 1.2))
        y = np.arange(len(s))[::-1]
        ax.errorbar(s["exp(coef)"], y, xerr=[s["exp(coef)"] - s[lo], s[hi] - s["exp(coef)"]], fmt="o", color="C0")
        ax.axvline(1.0, color="grey", ls="--", lw=1)
        ax.set_yticks(y, s.index)
        ax.set_xscale("log")
        ax.set_xlabel("hazard ratio (log scale), 95% CI")
        ax.set_title("Cox model: hazard ratios")
        return ax


def _schoenfeld_residuals(
    t: np.ndarray, e: np.ndarray, X: np.ndarray, beta: np.ndarray, strata: np.ndarray | None, ties: str
) -> np.ndarray:
    """Unscaled Schoenfeld residuals, one row per subject (NaN for censored), R's definition.

    For a death at time t the residual is x_i minus the risk-set mean of x weighted by exp(x'beta).
    With Efron ties and m deaths at t, the k-th of the m "virtual" risk sets down-weights the
    tied deaths by k/m, and each tied death gets the average of the m means (as R's
    ``residuals.coxph(type = "schoenfeld")``); with Breslow ties every tied death sees the full
    risk set (statsmodels' ``PHRegResults.schoenfeld_residuals``).  Vectorised per stratum.
    """
    n, p = X.shape
    res = np.full((n, p), np.nan)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for idx in groups:
        ts, es, Xs = t[idx], e[idx], X[idx]
        ev = es == 1
        if not ev.any():
            continue
        eta = Xs @ beta
        w = np.exp(eta - eta.max())
        order = np.argsort(ts, kind="stable")
        st, sw, swx = ts[order], w[order], (w[:, None] * Xs)[order]
        suf_w = np.concatenate([np.cumsum(sw[::-1])[::-1], [0.0]])
        suf_wx = np.vstack([np.cumsum(swx[::-1], axis=0)[::-1], np.zeros((1, p))])
        u, inv, m = np.unique(ts[ev], return_inverse=True, return_counts=True)
        pos = np.searchsorted(st, u, side="left")
        S0, S1 = suf_w[pos], suf_wx[pos]
        d0 = np.bincount(inv, weights=w[ev], minlength=u.size)
        d1 = np.zeros((u.size, p))
        np.add.at(d1, inv, w[ev][:, None] * Xs[ev])
        rep = np.repeat(np.arange(u.size), m)
        k = np.arange(rep.size) - np.repeat(np.cumsum(m) - m, m)
        frac = k / m[rep] if ties == "efron" else np.zeros(rep.size)
        xbar = (S1[rep] - frac[:, None] * d1[rep]) / (S0[rep] - frac * d0[rep])[:, None]
        mean = np.zeros((u.size, p))
        np.add.at(mean, rep, xbar)
        mean /= m[:, None]
        res[idx[ev]] = Xs[ev] - mean[inv]
    return res


def _design(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Numeric design matrix: numeric columns as they are, others one-hot (first level dropped)."""
    missing = [c for c in covariates if c not in data.columns]
    if missing:
        raise DataError(f"covariate column(s) not found: {', '.join(missing)}", column=missing[0])
    parts = []
    for c in covariates:
        col = data[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            parts.append(col.astype(float).rename(c))
        else:
            # observed levels only (an unused category would give an all-zero column); first = reference
            cat = col.astype("category") if not isinstance(col.dtype, pd.CategoricalDtype) else col
            cat = cat.cat.remove_unused_categories()
            dummies = pd.get_dummies(cat, prefix=c, drop_first=True, dtype=float)
            parts.append(dummies)
    X = pd.concat(parts, axis=1)
    return X, list(X.columns)


def cox_ph(
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: Sequence[str],
    strata: str | None = None,
    ties: str = "efron",
    alpha: float = 0.05,
) -> CoxPH:
    """Fit a Cox proportional-hazards model.

    Parameters
    ----------
    data
        One row per subject with the duration, the event flag (1/0) and the covariates.
        Non-numeric covariates are one-hot encoded (first level = reference).
    strata
        Optional column: a separate baseline hazard per level (coefficients shared).
    ties
        ``"efron"`` (default, as R's ``coxph``) or ``"breslow"``.

    Raises
    ------
    ModelError
        When there are no events, or a covariate is constant / collinear.
    """
    if ties not in ("efron", "breslow"):
        raise ParameterError("ties must be 'efron' or 'breslow'", parameter="ties")
    for c in (duration_col, event_col) + ((strata,) if strata else ()):
        if c not in data.columns:
            raise DataError(f"column {c!r} not found", column=c)
    if not covariates:
        raise ParameterError("give at least one covariate", parameter="covariates")
    from statsmodels.duration.hazard_regression import PHReg

    X, names = _design(data, covariates)
    keep = X.notna().all(axis=1) & data[duration_col].notna() & data[event_col].notna()
    X = X[keep]
    t, e = _clean_survival_input(data.loc[keep, duration_col], data.loc[keep, event_col])
    if e.sum() == 0:
        raise ModelError("no events: the Cox model cannot be estimated", hint="use a shorter inactivity window")
    Xv = X.to_numpy(float)
    sd = Xv.std(axis=0)
    if np.any(sd == 0):
        bad = [n for n, s in zip(names, sd) if s == 0]
        raise ModelError(f"covariate(s) {', '.join(bad)} do not vary", hint="drop them from covariates")
    if np.linalg.matrix_rank(Xv - Xv.mean(axis=0)) < Xv.shape[1]:
        raise ModelError("covariates are collinear", hint="drop redundant covariates")
    st = None if strata is None else pd.factorize(data.loc[keep, strata])[0]
    model = PHReg(t, Xv, status=e, strata=st, ties=ties)
    import warnings

    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = model.fit(disp=False)
    retvals = getattr(res, "mle_retvals", None) or {}
    converged = bool(retvals.get("converged", True))
    params = np.asarray(res.params, dtype=float)
    se = np.sqrt(np.abs(np.diag(np.asarray(res.cov_params()))))
    # monotone likelihood (separation): a coefficient runs off to infinity; its effect per
    # standard deviation of the covariate becomes absurd (hazard ratio beyond e^15) and its SE explodes
    runaway = np.any(np.abs(params * sd) > 15.0) or np.any(~np.isfinite(se)) or np.any(se * sd > 1e3)
    if not converged or not np.all(np.isfinite(params)) or runaway:
        raise ModelError("the Cox model did not converge (a covariate may separate churners from the others)",
                         hint="drop or merge sparse categories, or use more data")
    cov = np.asarray(res.cov_params())
    out = CoxPH(duration_col=duration_col, event_col=event_col, covariates=list(covariates), strata=strata,
                ties=ties, alpha=alpha)
    out.params_ = pd.Series(np.asarray(res.params), index=names, name="coef")
    out.standard_errors_ = pd.Series(np.sqrt(np.diag(cov)), index=names, name="se(coef)")
    out.variance_matrix_ = pd.DataFrame(cov, index=names, columns=names)
    out.log_likelihood_ = float(res.llf)
    out.n_, out.n_events_ = int(t.size), int(e.sum())
    out._X, out._t, out._e, out._result, out._strata = Xv, t, e, res, st
    out.concordance_ = concordance_index(t, Xv @ out.params_.to_numpy(), e)
    return out


# ----------------------------------------------------------------------------------------------
# plots and sensitivity
# ----------------------------------------------------------------------------------------------
def plot_km(
    fits: Mapping[str, KaplanMeier] | KaplanMeier,
    ax: Any = None,
    ci: bool = True,
    at_risk_counts: bool = True,
    at_risk_times: Sequence[float] | None = None,
    time_label: str = "weeks since first purchase",
    title: str = "Kaplan-Meier survival",
    show_median: bool = True,
) -> Any:
    """Step curves with pointwise CI bands, medians marked, and an at-risk table below.

    Returns the main Axes.
    """
    import matplotlib.pyplot as plt

    if isinstance(fits, KaplanMeier):
        fits = {fits.label: fits}
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    tmax = max(float(f.survival_function_.index.max()) for f in fits.values())
    for i, (name, f) in enumerate(fits.items()):
        sf = f.survival_function_
        color = f"C{i % 10}"
        med = "" if not np.isfinite(f.median_) else f", median {f.median_:.1f}"
        # start at S = 1 just before time 0 so that events at time 0 show as a drop
        x = np.concatenate([[0.0], sf.index.to_numpy(dtype=float)])
        ax.step(x, np.concatenate([[1.0], sf["survival"].to_numpy()]), where="post", color=color,
                label=f"{name} (n={f.n_:,}{med})")
        if ci:
            ax.fill_between(x, np.concatenate([[1.0], sf["lower"].to_numpy()]),
                            np.concatenate([[1.0], sf["upper"].to_numpy()]), step="post", color=color, alpha=0.15, lw=0)
        if show_median and np.isfinite(f.median_):
            ax.plot([f.median_], [0.5], marker="o", color=color, ms=4)
    ax.axhline(0.5, color="grey", lw=0.6, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, tmax * 1.01 if tmax > 0 else 1)
    ax.set_ylabel("share not churned S(t)")
    ax.set_xlabel(time_label)
    ax.set_title(title)
    if len(fits) > 3:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    if at_risk_counts:
        ticks = np.asarray(at_risk_times if at_risk_times is not None else ax.get_xticks(), dtype=float)
        ticks = ticks[(ticks >= 0) & (ticks <= tmax * 1.01)]
        ax.set_xticks(ticks)
        ax.set_xlim(0, tmax * 1.01 if tmax > 0 else 1)
        n = len(fits)
        # the at-risk table lives in its own axes under the x-axis label, sharing the time scale
        height_in = 0.2 * (n + 1)
        ax_h = ax.get_position().height * ax.figure.get_figheight()
        frac = height_in / ax_h
        risk = ax.inset_axes([0.0, -0.2 - frac, 1.0, frac])
        risk.set_xlim(ax.get_xlim())
        risk.set_ylim(-0.5, n + 0.5)
        risk.axis("off")
        risk.text(-0.05, n, "at risk", fontsize=7, ha="right", va="center", transform=risk.get_yaxis_transform())
        for i, (name, f) in enumerate(fits.items()):
            y = n - 1 - i
            counts = f.at_risk(ticks).to_numpy()
            risk.text(-0.05, y, str(name), fontsize=7, ha="right", va="center", color=f"C{i % 10}",
                      transform=risk.get_yaxis_transform())
            for x, c in zip(ticks, counts):
                risk.text(x, y, f"{int(c):,}", fontsize=7, ha="center", va="center")
    return ax


def inactivity_sensitivity(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None,
    windows: Sequence[float],
    time_unit: str = "W",
    churn_time: str = "last_purchase",
    at: Sequence[float] = (26, 52),
) -> pd.DataFrame:
    """How churn results move with the inactivity window.

    For each window: share churned, KM median (and CI) and S(t) at the ``at`` times.
    """
    rows = []
    for w in windows:
        d = churn_durations(transactions, as_of, inactivity=w, time_unit=time_unit, churn_time=churn_time)
        km = kaplan_meier(d["duration"], d["event"], label=str(w))
        row = {
            "inactivity": w,
            "share_churned": float(d["event"].mean()),
            "median": km.median_,
            "median_lower": km.median_ci_[0],
            "median_upper": km.median_ci_[1],
        }
        for a in at:
            row[f"S({a:g})"] = float(km.predict([a]).iloc[0])
        rows.append(row)
    return pd.DataFrame(rows).set_index("inactivity")


# ----------------------------------------------------------------------------------------------
# comparisons across groupings, and contractual cohorts (sBG)
# ----------------------------------------------------------------------------------------------
@dataclass
class GroupComparison:
    """Kaplan-Meier curves and a log-rank test for each of several groupings of the same customers.

    Attributes
    ----------
    fits
        grouping name -> {group -> KaplanMeier}, only groups with at least ``min_group_size`` customers.
    logrank
        One row per compared grouping: ``groups``, ``chisq``, ``df``, ``p_value`` (index ``grouping``).
    skipped
        One sentence per grouping that could not be compared (fewer than two large-enough groups).
    """

    fits: dict[str, dict[str, KaplanMeier]]
    logrank: pd.DataFrame
    skipped: list[str]

    def medians(self) -> dict[str, pd.DataFrame]:
        """Median relationship length (with CI) per group, for each compared grouping."""
        return {name: median_table(fits) for name, fits in self.fits.items()}


def compare_groups(durations: pd.DataFrame, groupings: Mapping[str, pd.Series],
                   min_group_size: int = 30) -> GroupComparison:
    """Compare survival across groups, for several groupings at once.

    Parameters
    ----------
    durations
        :func:`churn_durations` output: ``duration`` and ``event`` indexed by ``customer_id``.
    groupings
        name -> group label per customer (aligned on ``customer_id``; customers without a label
        are left out of that grouping).
    min_group_size
        Groups smaller than this get no curve of their own and are left out of the test.
    """
    rows, fits, skipped = [], {}, []
    for name, labels in groupings.items():
        g = labels.reindex(durations.index)
        keep = g.notna()
        counts = g[keep].value_counts()
        big_levels = counts[counts >= min_group_size].index
        if len(big_levels) < 2:
            skipped.append(f"{name}: fewer than two groups with {min_group_size}+ customers; no comparison")
            continue
        big = keep & g.isin(big_levels)
        sub, labels_big = durations[big], g[big]
        fits[name] = km_by_group(sub["duration"], sub["event"], labels_big, min_size=min_group_size)
        res = logrank_test(sub["duration"], sub["event"], labels_big)
        rows.append({"grouping": name, "groups": len(fits[name]), "chisq": res.statistic, "df": res.df,
                     "p_value": res.p_value})
    table = pd.DataFrame(rows, columns=["grouping", "groups", "chisq", "df", "p_value"]).set_index("grouping")
    return GroupComparison(fits, table, skipped)


def quantile_bands(values: pd.Series, n: int = 4) -> pd.Series:
    """Equal-count bands of ``values`` labelled ``Q1 (lowest)`` .. ``Qn (highest)`` (ties broken by order)."""
    if n < 2:
        raise ParameterError("at least 2 bands are needed", parameter="n")
    labels = [f"Q{i}" for i in range(1, n + 1)]
    labels[0], labels[-1] = "Q1 (lowest)", f"Q{n} (highest)"
    if len(values) < n:
        raise ModelError(f"{len(values)} customers cannot be split into {n} bands", hint="use fewer bands")
    return pd.qcut(values.rank(method="first"), n, labels=labels).astype("str")


def sbg_cohorts(table: pd.DataFrame, fit_periods: int = 7, discount_rate: float = 0.10,
                periods_survived: int = 4) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit the shifted-beta-geometric model to each cohort of a survivor table and project it.

    Parameters
    ----------
    table
        Customers still active per period: rows are periods 0..n (row 0 = cohort size), one
        column per cohort (e.g. :func:`clm_utils.clv.fader_hardie_2007_example`).
    fit_periods
        Periods 0..fit_periods are used to fit; the rest are projected (a holdout check).
    discount_rate, periods_survived
        For the discounted expected residual lifetime (DERL) of a customer who has renewed
        ``periods_survived`` times; the rate is per period.

    Returns
    -------
    (summary, fits)
        One row per cohort (alpha, beta, retention rates, projected vs actual survival at the last
        period, DERL) and the fitted models by cohort.
    """
    from clm_utils.clv import ShiftedBetaGeo

    if table.shape[0] < 3:
        raise ModelError("a survivor table needs at least 3 periods", hint="give periods 0, 1, 2, ...")
    rows, fits = [], {}
    last = table.shape[0] - 1
    for cohort in table.columns:
        alive = table[cohort].to_numpy(dtype=float)
        model = ShiftedBetaGeo().fit(alive[: fit_periods + 1])
        fits[str(cohort)] = model
        rows.append({
            "cohort": str(cohort), **model.params_.round(4).to_dict(),
            "retention_rate_t1": float(model.retention_rate(1)),
            f"retention_rate_t{last}": float(model.retention_rate(last)),
            "projected_last": float(model.survival_function(last)),
            "actual_last": float(alive[-1] / alive[0]),
            f"DERL(d={discount_rate:g}, n={periods_survived})":
                float(model.discounted_expected_residual_lifetime(discount_rate, periods_survived=periods_survived)),
        })
    return pd.DataFrame(rows).set_index("cohort"), fits


def plot_sbg_cohorts(table: pd.DataFrame, fits: Mapping[str, Any], fit_periods: int, ax: Any = None) -> Any:
    """Actual cohort survival (points) against the fitted and projected sBG curves (lines)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    t = np.arange(table.shape[0])
    for i, cohort in enumerate(table.columns):
        alive = table[cohort].to_numpy(dtype=float)
        ax.plot(t, alive / alive[0], "o", color=f"C{i}", ms=4, label=f"{cohort}: actual")
        ax.plot(t, fits[str(cohort)].survival_function(t), "-", color=f"C{i}",
                label=f"{cohort}: sBG (fit on 0-{fit_periods})")
    ax.axvline(fit_periods + 0.5, color="grey", ls=":", lw=1)
    ax.set_xlabel("period since acquisition")
    ax.set_ylabel("share of the cohort still a customer")
    ax.set_title("sBG: cohort retention, fitted and projected")
    ax.legend(frameon=False, fontsize=8)
    return ax
