"""The log-rank (Mantel-Cox) test of equal survival curves, two or more groups.

Validated in ``tests/test_survival_logrank.py`` against R ``survdiff`` on ``lung`` (two and four groups).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.errors import DataError, ModelError
from clm_utils.survival._common import clean_survival_input

__all__ = ["LogRankResult", "logrank_test"]


@dataclass
class LogRankResult:
    """Result of a (multi-group) log-rank test.

    ``table`` has one row per group: N, observed and expected events, (O-E)^2/E.
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame

    @property
    def summary(self) -> pd.DataFrame:
        """One-row table: ``chisq``, ``df``, ``p_value``."""
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

    t, e = clean_survival_input(durations, events)
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
