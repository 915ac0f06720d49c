"""Who moved where between two as-of dates: migration matrices, customer flows, the movers.

Customer flows (:func:`customer_flows`)
---------------------------------------
A customer is *lapsed* at a date when the run of that date classes them ``churned`` (activity
class: more than ``churned_after`` of their own purchase gaps, default 3, since the last
purchase; a live Poisson buyer is that late with probability e^-3 ≈ 5%).  With
``lapsed_by="stage"`` the lifecycle stage ``terminated`` is used instead.  Every customer known at
the later date falls in exactly one group:

===============  ==========================================================================
``new``          first purchase after the earlier date
``retained``     not lapsed at the earlier date, not lapsed at the later date
``lost``         not lapsed at the earlier date, lapsed at the later date (or gone from the data)
``reactivated``  lapsed at the earlier date and bought after it (won back, 挽回)
``still lapsed`` lapsed at the earlier date and no purchase since
===============  ==========================================================================

so retained + lost = the customers live at the earlier date, reactivated + still lapsed = the
customers lapsed then, and the four together are every customer known at the earlier date.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.data.values import ids_in
from clm_utils.errors import ParameterError
from clm_utils.lifecycle import STAGES
from clm_utils.rfm import ACTIVITY_CLASSES, PYRAMID_TIERS, SEGMENTS, VALUE_TIERS

#: The labels that migrate, with their order.
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "segment": SEGMENTS,
    "value_tier": VALUE_TIERS,
    "pyramid": PYRAMID_TIERS,
    "activity": ACTIVITY_CLASSES,
    "stage": STAGES,
}
#: Row of customers first seen after the earlier date; column of customers absent from the later data.
NEW = "new"
GONE = "gone"
FLOW_STATUSES: tuple[str, ...] = ("retained", "lost", "reactivated", "still lapsed", "new")
#: Labels of a high-value customer at the earlier date (pyramid on CLV, value tier on revenue).
HIGH_VALUE = {"pyramid": ("platinum", "gold"), "value_tier": ("high",)}
DECLINING = ("decline", "terminated")


def migration_matrix(before: pd.Series, after: pd.Series, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Counts of customers by label at the earlier date (rows) and at the later date (columns).

    Parameters
    ----------
    before, after
        One label per customer, indexed by ``customer_id``, at the earlier and later date.
    order
        Label order (labels not in it follow, sorted).

    Returns
    -------
    DataFrame of counts: one row per earlier label, so the rows other than ``new`` add up to every
    customer known at the earlier date, plus the row ``new`` (first seen later); one column per
    later label plus ``gone`` (known earlier, absent from the later data) and ``total``.
    """
    b = before.astype(object).astype(str)
    a = after.astype(object).astype(str)
    seen = set(b) | set(a)
    labels = list(order or ()) + sorted(seen - set(order or ()))
    ids = b.index.union(a.index)
    frm = b.reindex(ids).fillna(NEW)
    to = a.reindex(ids).fillna(GONE)
    rows, cols = [*labels, NEW], [*labels, GONE]
    counts = pd.crosstab(pd.Categorical(frm, categories=rows), pd.Categorical(to, categories=cols), dropna=False)
    counts = counts.reindex(index=rows, columns=cols, fill_value=0).astype("int64")
    counts.index.name = "from \\ to"
    counts.columns.name = None
    counts["total"] = counts.sum(axis=1)
    return counts


def plot_flow(matrix: pd.DataFrame, ax: Any = None, title: str = "", left: str = "earlier",
              right: str = "later", min_share: float = 0.002) -> Any:
    """Flow (Sankey-style) plot of a :func:`migration_matrix`: bars at both dates joined by bands.

    Band width is proportional to the number of customers; bands under ``min_share`` of all
    customers are left out of the drawing (not of the bars).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path

    C = matrix.drop(columns=["total"], errors="ignore")
    C = C.loc[C.sum(axis=1) > 0, C.sum(axis=0) > 0]
    total = float(C.to_numpy().sum())
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.35 * max(len(C.index), len(C.columns)) + 2.5))
    names = list(dict.fromkeys([*C.index, *C.columns]))
    cmap = plt.get_cmap("tab20")
    colors = {n: cmap(i % 20) for i, n in enumerate(x for x in names if x not in (NEW, GONE))}
    colors[NEW] = colors[GONE] = (0.6, 0.6, 0.6, 1.0)
    gap, w = 0.015, 0.05
    lsz, rsz = C.sum(axis=1).to_numpy(float), C.sum(axis=0).to_numpy(float)
    scale = (1 - gap * (max(len(lsz), len(rsz)) - 1)) / total if total else 0.0
    ly = np.concatenate([[0.0], np.cumsum(lsz * scale + gap)[:-1]])
    ry = np.concatenate([[0.0], np.cumsum(rsz * scale + gap)[:-1]])
    for names_, sizes, ys, x, ha, dx in ((C.index, lsz, ly, -w, "right", -0.01), (C.columns, rsz, ry, 1.0, "left",
                                                                                     w + 0.01)):
        for name, size, y in zip(names_, sizes, ys):
            ax.add_patch(Rectangle((x, y), w, size * scale, color=colors[name]))
            ax.text(x + dx if ha == "right" else x + dx, y + size * scale / 2, f"{name} {int(size):,}", ha=ha,
                    va="center", fontsize=8)
    loff, roff = ly.copy(), ry.copy()
    for i, a in enumerate(C.index):
        for j in range(len(C.columns)):
            c = float(C.iat[i, j])
            if c <= 0:
                continue
            h = c * scale
            if c / total >= min_share:
                ya, yb = loff[i], roff[j]
                verts = [(0, ya), (0.5, ya), (0.5, yb), (1, yb), (1, yb + h), (0.5, yb + h), (0.5, ya + h), (0, ya + h),
                         (0, ya)]
                codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO, Path.CURVE4, Path.CURVE4,
                         Path.CURVE4, Path.CLOSEPOLY]
                ax.add_patch(PathPatch(Path(verts, codes), facecolor=colors[a], alpha=0.35, lw=0))
            loff[i] += h
            roff[j] += h
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylim(-0.02, 1.02)
    ax.invert_yaxis()
    ax.set_xticks([-w / 2, 1 + w / 2], [left, right])
    ax.set_yticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.grid(False)
    ax.set_xlabel("as-of date (band width = number of customers)")
    ax.set_title(title or "Customer flow between the two dates")
    return ax


def lapsed(customers: pd.DataFrame, by: str = "activity") -> pd.Series:
    """Whether each customer is lapsed (see the module docstring): activity ``churned`` or stage ``terminated``."""
    if by == "activity":
        column, value = "activity", "churned"
    elif by == "stage":
        column, value = "stage", "terminated"
    else:
        raise ParameterError(f"{by!r} is not a choice", parameter="lapsed_by", hint="use activity or stage")
    if column not in customers and by == "activity" and "stage" in customers:
        # the data could not support activity classes (e.g. nobody repeated, so there is no purchase rhythm):
        # the stage rule is the one left
        column, value = "stage", "terminated"
    if column not in customers:
        raise ParameterError(f"the customer table has no {column!r} column", parameter="lapsed_by",
                             hint="use the other rule (activity or stage)")
    return (customers[column].astype(str) == value).rename("lapsed")


def period_purchases(transactions: pd.DataFrame, date_1: Any, date_2: Any) -> pd.DataFrame:
    """Purchase days and revenue per customer in the period ``(date_1, date_2]``.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (customers with a purchase in the period only):
    ``purchases`` (distinct purchase days) and ``revenue`` (sum of ``amount``).
    """
    d1, d2 = pd.Timestamp(date_1), pd.Timestamp(date_2)
    tx = transactions.loc[(transactions[config.DATE] > d1) & (transactions[config.DATE] <= d2)]
    g = tx.groupby(config.CUSTOMER_ID, sort=True)
    out = pd.DataFrame({"purchases": g[config.DATE].nunique().astype("int64"), "revenue": g[config.AMOUNT].sum()})
    out.index.name = config.CUSTOMER_ID
    return out


def customer_flows(before: pd.DataFrame, after: pd.DataFrame, transactions: pd.DataFrame, date_1: Any,
                   date_2: Any, lapsed_by: str = "activity") -> pd.DataFrame:
    """Every customer's group between two dates (see the module docstring).

    Parameters
    ----------
    before, after
        Customer tables of the earlier and later run (index ``customer_id``; ``activity`` or ``stage``).
    transactions
        Transactions up to at least ``date_2`` (the later run's).
    date_1, date_2
        The earlier and later as-of dates.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (every customer of either table, sorted): ``status``
    (one of :data:`FLOW_STATUSES`), ``lapsed_before``, ``lapsed_after``, ``period_purchases``,
    ``period_revenue`` (in ``(date_1, date_2]``).
    """
    ids = before.index.union(after.index)
    lb = lapsed(before, lapsed_by).reindex(ids)
    la = lapsed(after, lapsed_by).reindex(ids)
    bought = period_purchases(transactions, date_1, date_2).reindex(ids)
    purchases = bought["purchases"].fillna(0).astype("int64")
    known = ids_in(ids, before.index)
    gone = ~ids_in(ids, after.index)
    was_lapsed = lb.fillna(False).astype(bool).to_numpy()
    now_lapsed = la.fillna(False).astype(bool).to_numpy() | gone
    status = np.select(
        [~known, ~was_lapsed & ~now_lapsed, ~was_lapsed & now_lapsed, was_lapsed & (purchases.to_numpy() > 0)],
        ["new", "retained", "lost", "reactivated"], default="still lapsed")
    out = pd.DataFrame({"status": status, "lapsed_before": lb.astype("boolean"), "lapsed_after": la.astype("boolean"),
                        "period_purchases": purchases, "period_revenue": bought["revenue"].fillna(0.0)}, index=ids)
    out.index.name = config.CUSTOMER_ID
    out.attrs["lapsed_by"] = lapsed_by
    return out


def flow_summary(flows: pd.DataFrame) -> pd.DataFrame:
    """Customers and period revenue per group of :func:`customer_flows`, with a total row.

    Returns
    -------
    DataFrame indexed by ``status``: ``customers``, ``customer_share`` (of every customer known at
    the later date), ``buyers`` (bought in the period), ``period_revenue``, ``revenue_share``,
    ``revenue_per_customer``.
    """
    g = flows.groupby("status", sort=False)
    out = pd.DataFrame({"customers": g.size(), "buyers": g["period_purchases"].apply(lambda s: int((s > 0).sum())),
                        "period_revenue": g["period_revenue"].sum()}).reindex(list(FLOW_STATUSES)).fillna(0)
    out = out.astype({"customers": "int64", "buyers": "int64"})
    out.loc["total"] = out.sum()
    n, rev = out.loc["total", "customers"], out.loc["total", "period_revenue"]
    out.insert(1, "customer_share", out["customers"] / n if n else 0.0)
    out["revenue_share"] = out["period_revenue"] / rev if rev else 0.0
    out["revenue_per_customer"] = out["period_revenue"] / out["customers"].where(out["customers"] > 0)
    out.index.name = "status"
    return out


def movers(before: pd.DataFrame, after: pd.DataFrame, top_n: int = 20) -> pd.DataFrame:
    """High-value customers at the earlier date who fell a tier or entered decline: the retention list.

    High value: pyramid ``platinum``/``gold`` (or value tier ``high`` when there is no pyramid).
    Moved: a lower pyramid tier or value tier at the later date, or a stage of ``decline`` or
    ``terminated`` after a stage that was neither.  Sorted by earlier CLV (else revenue), highest first.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with the labels before and after (``*_before``,
    ``*_after``), ``clv_before``/``clv_after`` (or revenue), ``p_alive`` (later),
    ``last_purchase`` and ``what`` (the move in words); at most ``top_n`` rows.
    ``.attrs["n"]`` holds the number of movers before the cut.
    """
    ids = before.index.intersection(after.index)
    b, a = before.loc[ids], after.loc[ids]
    high = pd.Series(False, index=ids)
    what = pd.Series("", index=ids, dtype=object)
    for dim, top in HIGH_VALUE.items():
        if dim in b and dim in a:
            high |= b[dim].isin(top)
            rank = {t: i for i, t in enumerate(DIMENSIONS[dim])}
            fell = a[dim].map(rank) > b[dim].map(rank)
            what = what.where(~fell, what + f"{dim}: " + b[dim].astype(str) + " → " + a[dim].astype(str) + "; ")
    if "stage" in b and "stage" in a:
        entered = a["stage"].astype(str).isin(DECLINING) & ~b["stage"].astype(str).isin(DECLINING)
        what = what.where(~entered, what + "stage: " + b["stage"].astype(str) + " → " + a["stage"].astype(str) + "; ")
    chosen = high & (what != "")
    value = "clv" if "clv" in b and "clv" in a else "revenue"
    cols: dict[str, Any] = {}
    for dim in ("pyramid", "value_tier", "stage"):
        if dim in b and dim in a:
            cols[f"{dim}_before"] = b[dim].astype(str)
            cols[f"{dim}_after"] = a[dim].astype(str)
    cols[f"{value}_before"], cols[f"{value}_after"] = b[value], a[value]
    if "p_alive" in a:
        cols["p_alive"] = a["p_alive"]
    cols["last_purchase"] = a["last_purchase"]
    cols["what"] = what.str.rstrip("; ")
    out = pd.DataFrame(cols, index=ids).loc[chosen]
    out = out.sort_values([f"{value}_before"], ascending=False, kind="stable")
    n = len(out)
    out = out.head(top_n)
    out.attrs["n"] = n
    return out


def change_columns(before: pd.DataFrame, after: pd.DataFrame, flows: pd.DataFrame | None = None) -> pd.DataFrame:
    """The hand-off file's "what changed since the comparison date" columns, on the later customers.

    Returns
    -------
    DataFrame indexed like ``after``: ``previous_segment``, ``previous_value_tier``,
    ``previous_pyramid``, ``previous_stage``, ``previous_activity`` (empty text for customers
    first seen after the comparison date), ``moved`` (True when the segment, value tier, pyramid
    tier or stage differs from the comparison date; False for new customers) and, with ``flows``,
    ``change`` (the :func:`customer_flows` group).
    """
    out = pd.DataFrame(index=after.index)
    moved = pd.Series(False, index=after.index)
    known = ids_in(after.index, before.index)
    for dim in ("segment", "value_tier", "pyramid", "stage", "activity"):
        if dim not in before:
            continue
        prev = before[dim].astype(object).astype(str).reindex(after.index)
        out[f"previous_{dim}"] = prev.fillna("").astype("str")
        if dim != "activity" and dim in after:
            moved |= known & (prev != after[dim].astype(object).astype(str)).to_numpy()
    out["moved"] = moved.astype(bool)
    if flows is not None:
        out["change"] = flows["status"].reindex(after.index).astype("str")
    return out
