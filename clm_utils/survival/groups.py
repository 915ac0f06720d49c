"""Survival across groups: Kaplan-Meier curves and log-rank tests for several groupings at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from clm_utils.errors import ParameterError
from clm_utils.survival.kaplan_meier import KaplanMeier, km_by_group, median_table
from clm_utils.survival.logrank import logrank_test

__all__ = ["GroupComparison", "compare_groups", "quantile_bands"]


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
    note
        Empty, or the sentence saying the comparison ran on a seeded sample of customers.
    """

    fits: dict[str, dict[str, KaplanMeier]]
    logrank: pd.DataFrame
    skipped: list[str]
    note: str = ""

    def medians(self) -> dict[str, pd.DataFrame]:
        """Median relationship length (with CI) per group, for each compared grouping."""
        return {name: median_table(fits) for name, fits in self.fits.items()}

    def median_summary(self) -> pd.DataFrame:
        """All median tables in one, indexed by (``grouping``, ``group``)."""
        if not self.fits:
            return pd.DataFrame(columns=["n", "events", "median", "median_lower", "median_upper"])
        return pd.concat(self.medians(), names=["grouping"])

    def plot(self, **kwargs: Any) -> list[Any]:
        """One Kaplan-Meier figure per compared grouping (options of :func:`plot_km`); returns the Axes."""
        from clm_utils.survival.plots import plot_km

        title = kwargs.pop("title", "Kaplan-Meier by {name}")
        return [plot_km(fits, title=title.format(name=name), **kwargs) for name, fits in self.fits.items()]


def compare_groups(durations: pd.DataFrame, groupings: Mapping[str, pd.Series],
                   min_group_size: int = 30, sample_above: int | None = None, seed: int = 42) -> GroupComparison:
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
    sample_above, seed
        With more customers than ``sample_above`` (None: the ``CLM_SAMPLE_ABOVE`` default,
        200,000; 0: never) the curves and tests use a seeded random sample of that many
        customers (:mod:`clm_utils.data.sampling`); ``note`` says so.  The curves' bands and the
        tests then carry the sampling error (a log-rank test on millions of customers rejects
        any difference, however small; the sample's curves differ from the whole base's only
        within their bands).
    """
    from clm_utils.data.sampling import sample_customers

    durations, note = sample_customers(durations, limit=sample_above, seed=seed)
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
    return GroupComparison(fits, table, skipped, note=f"Survival by group {note}." if note else "")


def quantile_bands(values: pd.Series, n: int = 4) -> pd.Series:
    """Equal-count bands of ``values`` labelled ``Q1 (lowest)`` .. ``Qn (highest)`` (ties broken by order).

    With fewer customers than bands there are as many bands as customers (a single customer is one
    band, ``Q1 (all)``); group comparisons then leave out groups that are too small.
    """
    if n < 2:
        raise ParameterError("at least 2 bands are needed", parameter="n")
    n = min(n, len(values))
    if n < 2:
        return pd.Series("Q1 (all)", index=values.index, dtype="str")
    labels = [f"Q{i}" for i in range(1, n + 1)]
    labels[0], labels[-1] = "Q1 (lowest)", f"Q{n} (highest)"
    return pd.qcut(values.rank(method="first"), n, labels=labels).astype("str")
