"""The Kaplan-Meier (product-limit) estimator, lifelines-style, and tables of several curves.

Validated in ``tests/test_survival_km.py`` against R ``survfit`` (log-log CI on ``aml``,
medians with CIs on ``lung``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clm_utils.errors import DataError, ModelError, ParameterError
from clm_utils.survival._common import clean_survival_input

__all__ = ["KaplanMeier", "kaplan_meier", "km_by_group", "median_table", "survival_at"]

CONF_TYPES = ("log-log", "log", "plain")


def _first_time_at_or_below(times: np.ndarray, curve: np.ndarray, level: float = 0.5) -> float:
    below = np.nonzero(curve <= level + 1e-12)[0]
    return float(times[below[0]]) if below.size else float("inf")


def _median_from_curve(times: np.ndarray, surv: np.ndarray) -> float:
    """R's rule (``quantile.survfit``): first time S <= 0.5; if S == 0.5 exactly on a flat stretch,
    the midpoint of that stretch, i.e. up to the next time the curve *drops* (censoring times,
    where S does not change, are skipped first, as R removes flat portions)."""
    change = np.concatenate([[True], np.diff(surv) != 0])
    times, surv = times[change], surv[change]
    idx = np.nonzero(surv <= 0.5 + 1e-12)[0]
    if idx.size == 0:
        return float("inf")
    i = idx[0]
    if abs(surv[i] - 0.5) < 1e-12 and i + 1 < times.size:
        return float((times[i] + times[i + 1]) / 2.0)
    return float(times[i])


class KaplanMeier:
    """Kaplan-Meier survival curve: configure, then ``fit(durations, events, label)``.

    Built on :class:`statsmodels.duration.survfunc.SurvfuncRight` (product-limit estimate and
    Greenwood variance); adds the time-0 row, censoring times, at-risk counts, pointwise
    confidence intervals on R's ``conf.type`` scales and the median with its CI.

    Parameters
    ----------
    alpha
        1 - confidence level (0.05 gives 95% intervals).
    conf_type
        ``"log-log"`` (default; intervals stay inside [0, 1]), ``"log"`` (R's default) or
        ``"plain"``.

    Attributes (after :meth:`fit`)
    ------------------------------
    survival_function_ : DataFrame indexed by ``time`` (0 and every distinct observed time) with
        ``survival``, ``std_err`` (Greenwood standard error of log S, as R reports it),
        ``lower``, ``upper`` (pointwise CI), ``at_risk``, ``events``, ``censored``.
    median_ : float, the median survival time (``inf`` if the curve never reaches 0.5).
    median_ci_ : (lower, upper), read off the CI curves as R's ``survfit`` does.
    n_, n_events_ : sample size and number of events.

    Edge cases: nobody churned gives S = 1 throughout and an infinite median; everyone churned
    ends the curve at 0; a single customer works.

    Examples
    --------
    >>> km = KaplanMeier(alpha=0.05).fit([1, 2, 3, 4], [1, 1, 0, 1], label="all")
    >>> km.median_
    2.0
    """

    def __init__(self, alpha: float = 0.05, conf_type: str = "log-log") -> None:
        if conf_type not in CONF_TYPES:
            raise ParameterError("conf_type must be 'log-log', 'log' or 'plain'", parameter="conf_type")
        if not 0 < alpha < 1:
            raise ParameterError("alpha must be between 0 and 1", parameter="alpha")
        self.alpha = alpha
        self.conf_type = conf_type
        self.label = "all"
        self.survival_function_ = pd.DataFrame()
        self.median_ = float("nan")
        self.median_ci_: tuple[float, float] = (float("nan"), float("nan"))
        self.n_ = 0
        self.n_events_ = 0
        self._durations = np.empty(0)

    def __repr__(self) -> str:
        fitted = f", n={self.n_}, events={self.n_events_}" if self.n_ else ""
        return f"KaplanMeier(alpha={self.alpha}, conf_type={self.conf_type!r}, label={self.label!r}{fitted})"

    def fit(self, durations: Any, events: Any = None, label: str = "all") -> KaplanMeier:
        """Estimate the curve.

        Parameters
        ----------
        durations, events
            Array-likes of equal length; ``events`` 1 = event observed, 0 = right-censored
            (None = all events).
        label
            Name of the curve (legend, table index).

        Returns
        -------
        self
        """
        from statsmodels.duration.survfunc import SurvfuncRight

        t, e = clean_survival_input(durations, events)
        times = np.unique(np.concatenate([[0.0], t]))
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
        lower, upper = _pointwise_ci(surv, np.sqrt(var_log), self.alpha, self.conf_type)
        self.label = str(label)
        self.survival_function_ = pd.DataFrame(
            {
                "survival": surv,
                "std_err": np.sqrt(var_log),
                "lower": lower,
                "upper": upper,
                "at_risk": at_risk.astype(int),
                "events": n_event.astype(int),
                "censored": n_cens.astype(int),
            },
            index=pd.Index(times, name="time"),
        )
        self.n_ = int(t.size)
        self.n_events_ = int(e.sum())
        self._durations = t
        self.median_ = _median_from_curve(times, surv)
        self.median_ci_ = (_first_time_at_or_below(times, lower), _first_time_at_or_below(times, upper))
        return self

    def _check_fitted(self) -> None:
        if self.survival_function_.empty:
            raise ModelError("the Kaplan-Meier curve is not fitted yet", hint="call .fit(durations, events) first")

    def predict(self, times: Any) -> pd.Series:
        """S(t) at the given times (right-continuous step function)."""
        self._check_fitted()
        t = np.atleast_1d(np.asarray(times, dtype=float))
        sf = self.survival_function_
        pos = np.searchsorted(sf.index.to_numpy(), t, side="right") - 1
        vals = np.where(pos >= 0, sf["survival"].to_numpy()[np.clip(pos, 0, None)], 1.0)
        return pd.Series(vals, index=pd.Index(t, name="time"), name=self.label)

    def at_risk(self, times: Any) -> pd.Series:
        """Number still at risk (duration >= t) at each time."""
        self._check_fitted()
        t = np.atleast_1d(np.asarray(times, dtype=float))
        d = np.sort(self._durations)
        counts = d.size - np.searchsorted(d, t, side="left")
        return pd.Series(counts.astype(int), index=pd.Index(t, name="time"), name=self.label)

    @property
    def summary(self) -> pd.DataFrame:
        """One-row table: ``n``, ``events``, ``median``, ``median_lower``, ``median_upper``."""
        self._check_fitted()
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
        """Plot this curve with its CI band; see :func:`clm_utils.survival.plot_km` for the options."""
        from clm_utils.survival.plots import plot_km

        self._check_fitted()
        return plot_km({self.label: self}, ax=ax, **kwargs)


def _pointwise_ci(surv: np.ndarray, se: np.ndarray, alpha: float, conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S from the standard error of log S, on R's ``conf.type`` scales."""
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            lower = surv * np.exp(-z * se)
            upper = np.minimum(1.0, surv * np.exp(z * se))
        elif conf_type == "plain":
            lower = np.clip(surv - z * se * surv, 0, 1)
            upper = np.clip(surv + z * se * surv, 0, 1)
        else:
            ok = (surv > 0) & (surv < 1)
            logs = np.where(ok, np.log(np.where(ok, surv, 0.5)), -1.0)
            lower = np.where(ok, np.exp(-np.exp(np.log(-logs) - z * se / logs)), surv)
            upper = np.where(ok, np.exp(-np.exp(np.log(-logs) + z * se / logs)), surv)
    lower = np.where(np.isfinite(lower), lower, 0.0)
    upper = np.where(np.isfinite(upper), upper, 1.0)
    return lower, upper


def kaplan_meier(
    durations: Any,
    events: Any = None,
    label: str = "all",
    alpha: float = 0.05,
    conf_type: str = "log-log",
) -> KaplanMeier:
    """Fit a Kaplan-Meier curve: ``KaplanMeier(alpha, conf_type).fit(durations, events, label)``."""
    return KaplanMeier(alpha=alpha, conf_type=conf_type).fit(durations, events, label=label)


def km_by_group(
    durations: Any, events: Any, groups: Any, alpha: float = 0.05, conf_type: str = "log-log", min_size: int = 1
) -> dict[str, KaplanMeier]:
    """One Kaplan-Meier curve per group (groups with fewer than ``min_size`` members are skipped).

    Group order follows a categorical's categories when ``groups`` is categorical, else sorted.
    """
    t, e = clean_survival_input(durations, events)
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
            out[str(level)] = KaplanMeier(alpha, conf_type).fit(t[mask], e[mask], label=str(level))
    if not out:
        raise DataError("no group has enough customers for a survival curve", hint="lower min_size")
    return out


def median_table(fits: Mapping[str, KaplanMeier]) -> pd.DataFrame:
    """n, events, median and CI of several curves in one table (index ``group``)."""
    return pd.concat([f.summary for f in fits.values()])


def survival_at(fits: Mapping[str, KaplanMeier], times: Sequence[float]) -> pd.DataFrame:
    """S(t) of several curves at the given times: rows = group, columns = times."""
    return pd.DataFrame({name: f.predict(times).to_numpy() for name, f in fits.items()}, index=list(times)).T
