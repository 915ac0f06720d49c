"""Profiles of segments, clusters, tiers or stages by customer attribute, with a test per attribute.

For each group (segment, cluster, tier, stage, ...) the table gives the share of each category of every
categorical attribute and the mean and median of every numeric (and date) attribute; the tests table gives, per
attribute, whether the groups differ:

* categorical: Pearson's chi-square test of independence on the groups × levels table (no continuity
  correction, as ``scipy.stats.chi2_contingency(correction=False)`` and R ``chisq.test(correct = FALSE)``);
  the note warns when more than 20% of the expected counts are below 5 (Cochran's rule);
* numeric and date: the Kruskal-Wallis rank test (ties corrected, as R ``kruskal.test``); dates are compared as
  decimal years.

Customers without a value of an attribute are left out of that attribute's numbers and test (``missing``
counts them).  With several attributes the p-values are also given Holm-adjusted (``p_holm``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from clm_utils.attributes.load import attribute_kinds
from clm_utils.errors import DataError, ModelError, ParameterError

ALL = "all"


@dataclass
class AttributeProfiles:
    """Result of :func:`attribute_profiles`.

    Attributes
    ----------
    table
        Indexed by (``attribute``, ``statistic``) — ``share: <level>`` for categories, ``mean`` and ``median`` for
        numbers (decimal years for dates), ``n`` (customers with a value) — with one column per group, in the
        groups' order, then ``all``.
    tests
        One row per attribute: ``kind``, ``test``, ``statistic``, ``df``, ``p_value``, ``p_holm``, ``n``,
        ``missing``, ``verdict`` (``differs`` when p_holm < alpha), ``note``.
    """

    table: pd.DataFrame
    tests: pd.DataFrame


def _decimal_year(values: pd.Series) -> pd.Series:
    d = pd.to_datetime(values)
    start = pd.to_datetime(d.dt.year.astype("Int64").astype(str) + "-01-01", errors="coerce")
    days_in_year = np.where(d.dt.is_leap_year, 366.0, 365.0)
    return (d.dt.year + (d - start).dt.days / days_in_year).astype("float64")


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stay NaN)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


def attribute_profiles(
    labels: pd.Series,
    attributes: pd.DataFrame,
    columns: Sequence[str] | None = None,
    order: Sequence[str] | None = None,
    max_levels: int = 20,
    alpha: float = 0.05,
) -> AttributeProfiles:
    """Profile each group of ``labels`` by the attributes, with a chi-square or Kruskal-Wallis test each.

    Parameters
    ----------
    labels
        Group per customer (segment, cluster, value tier, stage, ...), indexed by ``customer_id``.  Customers
        with a missing label are left out.
    attributes
        Attribute table indexed by ``customer_id`` (:func:`~clm_utils.attributes.load_attributes`), or the
        joined customer table (``attrs["kinds"]`` tells the kinds, else the dtypes do).
    columns
        Attributes to profile; None = every column of ``attributes``.
    order
        Order of the groups; None = categorical order of ``labels``, else sorted.
    max_levels
        A categorical attribute with more distinct values is refused (an id, a free-text field): profile a
        coarser version of it instead.
    alpha
        Level of the verdict.

    Raises
    ------
    ParameterError
        Unknown column, or a categorical attribute with more than ``max_levels`` levels.
    ModelError
        Fewer than two groups.
    """
    if not isinstance(labels, pd.Series):
        raise ParameterError("labels must be a Series of groups per customer", parameter="labels")
    if not 0 < alpha < 1:
        raise ParameterError("alpha must be between 0 and 1", parameter="alpha")
    kinds = attribute_kinds(attributes)
    columns = list(attributes.columns if columns is None else columns)
    unknown = [c for c in columns if c not in attributes.columns]
    if unknown:
        raise ParameterError(f"no attribute column {unknown[0]!r}", parameter="columns",
                             hint=f"choose from {', '.join(map(repr, list(attributes.columns)[:12]))}")
    lab = labels.dropna()
    if order is None:
        if isinstance(lab.dtype, pd.CategoricalDtype):
            order = [g for g in lab.cat.categories if (lab == g).any()]
        else:
            order = sorted(pd.unique(lab.astype(str)))
    groups = [str(g) for g in order]
    lab = lab.astype(str)
    if len(groups) < 2:
        raise ModelError("profiles need at least two groups", hint="choose a grouping with two or more groups")
    idx = lab.index.astype(str)
    attrs = attributes.copy()
    attrs.index = attrs.index.astype(str)
    if attrs.index.has_duplicates:
        raise DataError("the attribute table has repeated customer ids", hint="keep one row per customer")
    data = attrs.reindex(idx)
    g = pd.Series(lab.to_numpy(), index=idx)
    rows: list[tuple[tuple[str, str], list[float]]] = []
    tests = []
    for column in columns:
        kind = kinds[column]
        v = data[column]
        present = v.notna().to_numpy()
        n_missing = int((~present).sum())
        gv = g[present]
        if kind == "categorical":
            vals = v[present].astype(str)
            levels = sorted(pd.unique(vals))
            if len(levels) > max_levels:
                raise ParameterError(f"attribute {column!r} has {len(levels)} distinct values, more than {max_levels}",
                                     parameter="columns", hint="profile a coarser grouping of it, or leave it out")
            table = pd.crosstab(gv, vals).reindex(index=groups, columns=levels, fill_value=0)
            totals = table.sum(axis=1)
            for level in levels:
                shares = [table.at[grp, level] / totals[grp] if totals[grp] else np.nan for grp in groups]
                overall = table[level].sum() / max(totals.sum(), 1)
                rows.append(((column, f"share: {level}"), shares + [overall]))
            rows.append(((column, "n"), [float(totals[grp]) for grp in groups] + [float(totals.sum())]))
            used = table.loc[totals > 0, table.sum(axis=0) > 0]
            note = ""
            if used.shape[0] < 2 or used.shape[1] < 2:
                stat, df, p = np.nan, np.nan, np.nan
                note = "one group or one level only: no test"
            else:
                res = stats.chi2_contingency(used.to_numpy(), correction=False)
                stat, p, df = float(res.statistic), float(res.pvalue), float(res.dof)
                low = float((res.expected_freq < 5).mean())
                if low > 0.2:
                    note = f"{low:.0%} of expected counts below 5: the chi-square p-value is approximate"
            tests.append({"attribute": column, "kind": kind, "test": "chi-square", "statistic": stat, "df": df,
                          "p_value": p, "n": int(present.sum()), "missing": n_missing, "note": note})
        else:
            x = _decimal_year(v[present]) if kind == "date" else v[present].astype("float64")
            by = {grp: x[(gv == grp).to_numpy()].to_numpy() for grp in groups}
            unit = " (decimal year)" if kind == "date" else ""
            rows.append(((column, "mean" + unit), [float(np.mean(by[grp])) if by[grp].size else np.nan
                                                   for grp in groups] + [float(x.mean())]))
            rows.append(((column, "median" + unit), [float(np.median(by[grp])) if by[grp].size else np.nan
                                                     for grp in groups] + [float(x.median())]))
            rows.append(((column, "n"), [float(by[grp].size) for grp in groups] + [float(x.size)]))
            samples = [s for s in by.values() if s.size]
            note = ""
            if len(samples) < 2 or np.ptp(x.to_numpy()) == 0:
                stat, df, p = np.nan, np.nan, np.nan
                note = "one group or one value only: no test"
            else:
                res = stats.kruskal(*samples)
                stat, p, df = float(res.statistic), float(res.pvalue), float(len(samples) - 1)
            tests.append({"attribute": column, "kind": kind, "test": "Kruskal-Wallis", "statistic": stat, "df": df,
                          "p_value": p, "n": int(present.sum()), "missing": n_missing, "note": note})
    table = pd.DataFrame([r for _, r in rows], columns=groups + [ALL],
                         index=pd.MultiIndex.from_tuples([k for k, _ in rows], names=["attribute", "statistic"]))
    test_frame = pd.DataFrame(tests, columns=["attribute", "kind", "test", "statistic", "df", "p_value", "n",
                                              "missing", "note"]).set_index("attribute")
    test_frame.insert(5, "p_holm", holm(test_frame["p_value"].to_numpy()))
    test_frame.insert(8, "verdict", np.where(test_frame["p_holm"] < alpha, "differs",
                                             np.where(test_frame["p_holm"].isna(), "no test", "no evidence")))
    return AttributeProfiles(table=table, tests=test_frame)
