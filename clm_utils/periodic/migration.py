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

At scale
--------
Every table here pairs the two runs' customers through one :class:`Alignment` (an Arrow hash
lookup of the earlier ids among the later ones) and counts integer label codes, so no function
unions, intersects or reindexes millions of text ids; :class:`clm_utils.periodic.Change` makes the
alignment once and keeps each matrix and the retention list.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.data.values import ids_positions, labels_in
from clm_utils.errors import DataError, ParameterError
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


class Alignment:
    """How the rows of an earlier and a later customer table pair up by ``customer_id``.

    Computed once per pair of tables (one Arrow hash lookup of the earlier ids in the later ones,
    :func:`clm_utils.data.values.ids_positions`) and shared by :func:`migration_matrix`,
    :func:`customer_flows`, :func:`movers` and :func:`change_columns`, so none of them unions,
    intersects or reindexes millions of text ids.

    Parameters
    ----------
    before_index, after_index
        The customer ids of the earlier and of the later table (each without repeats).

    Attributes
    ----------
    before_in_after
        For each row of the earlier table, its row in the later one (-1: gone from the later data).
    after_in_before
        For each row of the later table, its row in the earlier one (-1: first seen after the earlier date).

    Raises
    ------
    DataError
        A customer id appears twice in one table.
    """

    def __init__(self, before_index: pd.Index, after_index: pd.Index) -> None:
        self.before_index = before_index if isinstance(before_index, pd.Index) else pd.Index(before_index)
        self.after_index = after_index if isinstance(after_index, pd.Index) else pd.Index(after_index)
        self._sorted = _strictly_increasing(self.before_index) and _strictly_increasing(self.after_index)
        if not self._sorted:
            for label, index in (("earlier", self.before_index), ("later", self.after_index)):
                if not index.is_unique:
                    raise DataError(f"customer ids repeat in the {label} customer table", column=config.CUSTOMER_ID,
                                    hint="give every customer one row")
        self.before_in_after = ids_positions(self.before_index, self.after_index)
        found = self.before_in_after >= 0
        self.after_in_before = np.full(len(self.after_index), -1, dtype=np.int64)
        self.after_in_before[self.before_in_after[found]] = np.flatnonzero(found)

    def check(self, before_index: pd.Index, after_index: pd.Index) -> None:
        """Raise ValueError unless the alignment was made for these two indexes."""
        for mine, theirs in ((self.before_index, before_index), (self.after_index, after_index)):
            if not (mine is theirs or (len(mine) == len(theirs) and mine.equals(theirs))):
                raise ValueError("the alignment was made for other customer tables")

    @cached_property
    def union(self) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        """Every customer of either table in the order of ``before_index.union(after_index)``, with each
        one's row in the earlier and in the later table (-1 where absent)."""
        b, a = self.before_index, self.after_index
        only_after = np.flatnonzero(self.after_in_before < 0)
        if self._sorted and b.dtype == a.dtype:
            # both sorted without repeats: the union is the sorted set, as pandas builds it
            if not len(only_after):
                return b, np.arange(len(b), dtype=np.int64), self.before_in_after
            if (self.before_in_after >= 0).all():
                return a, self.after_in_before, np.arange(len(a), dtype=np.int64)
            both = b.append(a.take(only_after))
            order = np.asarray(both.argsort(), dtype=np.int64)
            in_b = np.where(order < len(b), order, -1)
            in_a = np.concatenate([self.before_in_after, only_after])[order]
            return both.take(order), in_b, in_a
        ids = b.union(a)
        return ids, ids_positions(ids, b), ids_positions(ids, a)


def _strictly_increasing(index: pd.Index) -> bool:
    """Whether ``index`` is sorted without repeats (for Arrow-backed text: one vectorised comparison)."""
    if len(index) < 2:
        return not index.hasnans
    if isinstance(index.dtype, pd.StringDtype) and index.dtype.storage == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(index.array)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        return arr.null_count == 0 and bool(pc.all(pc.greater(arr[1:], arr[:-1])).as_py())
    return bool(index.is_monotonic_increasing and index.is_unique and not index.hasnans)


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of a label column (-1: missing) and the label of each code."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # .to_numpy(): np.asarray(series) would look up __array_interface__ among the labels of a text index
        return values.cat.codes.to_numpy(dtype=np.int64), pd.Index(values.cat.categories)
    codes, uniques = pd.factorize(values)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques)


def _label_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a label column (-1: missing) and the text of each code (``astype(object).astype(str)``)."""
    codes, uniques = _codes(values)
    return codes, [str(t) for t in uniques.astype(object).astype(str)]


def _ranks(values: pd.Series, rank: dict[str, int]) -> np.ndarray:
    """``values.map(rank)`` as floats (NaN: not ranked), on the distinct labels only."""
    codes, uniques = _codes(values)
    return np.array([rank.get(t, np.nan) for t in uniques] + [np.nan], dtype=np.float64)[codes]


def _take(values: np.ndarray, positions: np.ndarray, fill: Any) -> np.ndarray:
    """``values[positions]`` with ``fill`` where the position is -1."""
    return np.append(values, np.array([fill], dtype=values.dtype))[positions]  # -1 picks the appended fill


def _reindex(values: pd.Series, positions: np.ndarray, index: pd.Index) -> pd.Series:
    """``values.reindex(index)`` given each entry of ``index``'s position in ``values`` (-1: absent)."""
    taken = pd.api.extensions.take(values.array, positions, allow_fill=True)
    return pd.Series(taken, index=index, name=values.name)


def migration_matrix(before: pd.Series, after: pd.Series, order: Sequence[str] | None = None, *,
                     alignment: Alignment | None = None) -> pd.DataFrame:
    """Counts of customers by label at the earlier date (rows) and at the later date (columns).

    Parameters
    ----------
    before, after
        One label per customer, indexed by ``customer_id``, at the earlier and later date
        (plain text or categorical; a label is compared by its text).
    order
        Label order (labels not in it follow, sorted).
    alignment
        :class:`Alignment` of ``before.index`` and ``after.index`` when the caller has it (it is
        the costly part at millions of customers); computed here otherwise.

    Returns
    -------
    DataFrame of counts: one row per earlier label, so the rows other than ``new`` add up to every
    customer known at the earlier date, plus the row ``new`` (first seen later); one column per
    later label plus ``gone`` (known earlier, absent from the later data) and ``total``.

    Raises
    ------
    ValueError
        A customer without a label, or a label named ``new`` or ``gone``.
    """
    if alignment is None:
        alignment = Alignment(before.index, after.index)
    else:
        alignment.check(before.index, after.index)
    (b_codes, b_text), (a_codes, a_text) = _label_codes(before), _label_codes(after)
    if (b_codes < 0).any() or (a_codes < 0).any():
        raise ValueError("a customer has no label: every customer needs one for a migration matrix")
    seen = ({t for t, n in zip(b_text, np.bincount(b_codes, minlength=len(b_text))) if n}
            | {t for t, n in zip(a_text, np.bincount(a_codes, minlength=len(a_text))) if n})
    labels = list(order or ()) + sorted(seen - set(order or ()))
    rows, cols = [*labels, NEW], [*labels, GONE]
    if len(set(rows)) < len(rows) or len(set(cols)) < len(cols):
        raise ValueError(f"the labels {labels} repeat or include {NEW!r} or {GONE!r}")
    where = {t: i for i, t in enumerate(labels)}
    b_row = np.array([where.get(t, -1) for t in b_text], dtype=np.int64)[b_codes]
    a_col = np.array([where.get(t, -1) for t in a_text], dtype=np.int64)[a_codes]
    # every earlier customer: its earlier label against its later label (or gone) ...
    to = _take(a_col, alignment.before_in_after, len(labels))
    # ... and every customer first seen later: new against the later label
    new = alignment.after_in_before < 0
    frm = np.concatenate([b_row, np.full(int(new.sum()), len(labels), dtype=np.int64)])
    to = np.concatenate([to, a_col[new]])
    counts = np.bincount(frm * len(cols) + to, minlength=len(rows) * len(cols)).reshape(len(rows), len(cols))
    counts = np.column_stack([counts, counts.sum(axis=1)]).astype("int64")
    return pd.DataFrame(counts, index=pd.Index(rows, name="from \\ to"), columns=pd.Index([*cols, "total"]))


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
            ax.text(x + dx, y + size * scale / 2, f"{name} {int(size):,}", ha=ha,
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
    return pd.Series(labels_in(customers[column], (value,)), index=customers.index, name="lapsed")


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
                   date_2: Any, lapsed_by: str = "activity", *, alignment: Alignment | None = None) -> pd.DataFrame:
    """Every customer's group between two dates (see the module docstring).

    Parameters
    ----------
    before, after
        Customer tables of the earlier and later run (index ``customer_id``; ``activity`` or ``stage``).
    transactions
        Transactions up to at least ``date_2`` (the later run's).
    date_1, date_2
        The earlier and later as-of dates.
    alignment
        :class:`Alignment` of the two tables' indexes when the caller has it.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (every customer of either table, sorted): ``status``
    (one of :data:`FLOW_STATUSES`), ``lapsed_before``, ``lapsed_after``, ``period_purchases``,
    ``period_revenue`` (in ``(date_1, date_2]``).
    """
    if alignment is None:
        alignment = Alignment(before.index, after.index)
    else:
        alignment.check(before.index, after.index)
    ids, in_before, in_after = alignment.union
    ids = ids.rename(config.CUSTOMER_ID)
    known, gone = in_before >= 0, in_after < 0
    was_lapsed = _take(lapsed(before, lapsed_by).to_numpy(dtype=bool), in_before, False)
    now_lapsed = _take(lapsed(after, lapsed_by).to_numpy(dtype=bool), in_after, False)
    bought = period_purchases(transactions, date_1, date_2)
    where = ids_positions(ids, bought.index)
    purchases = _reindex(bought["purchases"], where, ids).fillna(0).astype("int64")
    now = now_lapsed | gone
    group = np.select([~known, ~was_lapsed & ~now, ~was_lapsed & now, was_lapsed & (purchases.to_numpy() > 0)],
                      [0, 1, 2, 3], default=4)
    status = pd.array(["new", "retained", "lost", "reactivated", "still lapsed"], dtype="str").take(group)
    out = pd.DataFrame({"status": status, "lapsed_before": pd.arrays.BooleanArray(was_lapsed, ~known),
                        "lapsed_after": pd.arrays.BooleanArray(now_lapsed, gone), "period_purchases": purchases,
                        "period_revenue": _reindex(bought["revenue"], where, ids).fillna(0.0)}, index=ids)
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


def movers(before: pd.DataFrame, after: pd.DataFrame, top_n: int | None = 20, *,
           alignment: Alignment | None = None) -> pd.DataFrame:
    """High-value customers at the earlier date who fell a tier or entered decline: the retention list.

    High value: pyramid ``platinum``/``gold`` or value tier ``high``.
    Moved: a lower pyramid tier or value tier at the later date, or a stage of ``decline`` or
    ``terminated`` after a stage that was neither.  Sorted by earlier CLV (else revenue), highest first.

    Parameters
    ----------
    before, after
        Customer tables of the earlier and later run (index ``customer_id``).
    top_n
        Rows kept (None: every mover).
    alignment
        :class:`Alignment` of the two tables' indexes when the caller has it.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with the labels before and after (``*_before``,
    ``*_after``), ``clv_before``/``clv_after`` (or revenue), ``p_alive`` (later),
    ``last_purchase`` and ``what`` (the move in words); at most ``top_n`` rows.
    ``.attrs["n"]`` holds the number of movers before the cut.
    """
    if alignment is None:
        alignment = Alignment(before.index, after.index)
    else:
        alignment.check(before.index, after.index)
    # the customers of both tables, in the earlier table's order
    b_rows = np.flatnonzero(alignment.before_in_after >= 0)
    a_rows = alignment.before_in_after[b_rows]
    high = np.zeros(len(b_rows), dtype=bool)
    fell: dict[str, np.ndarray] = {}
    for dim, top in HIGH_VALUE.items():
        if dim in before and dim in after:
            high |= before[dim].isin(top).to_numpy(dtype=bool)[b_rows]
            rank = {t: i for i, t in enumerate(DIMENSIONS[dim])}
            fell[dim] = _ranks(after[dim], rank)[a_rows] > _ranks(before[dim], rank)[b_rows]
    entered = np.zeros(len(b_rows), dtype=bool)
    if "stage" in before and "stage" in after:
        entered = labels_in(after["stage"], DECLINING)[a_rows] & ~labels_in(before["stage"], DECLINING)[b_rows]
    chosen = high & np.logical_or.reduce([*fell.values(), entered])
    # the text and the columns for the chosen customers only
    name = before.index.name if before.index.name == after.index.name else None
    ids = before.index.take(b_rows[chosen]).rename(name)
    b = before.iloc[b_rows[chosen]].set_axis(ids)
    a = after.iloc[a_rows[chosen]].set_axis(ids)
    what = pd.Series("", index=ids, dtype=object)
    for dim, moved in fell.items():
        what = what.where(~moved[chosen], what + f"{dim}: " + b[dim].astype(str) + " → " + a[dim].astype(str) + "; ")
    if "stage" in b and "stage" in a:
        what = what.where(~entered[chosen],
                          what + "stage: " + b["stage"].astype(str) + " → " + a["stage"].astype(str) + "; ")
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
    out = pd.DataFrame(cols, index=ids)
    out = out.sort_values([f"{value}_before"], ascending=False, kind="stable")
    n = len(out)
    if top_n is not None:
        out = out.head(top_n)
    out.attrs["n"] = n
    return out


def change_columns(before: pd.DataFrame, after: pd.DataFrame, flows: pd.DataFrame | None = None, *,
                   alignment: Alignment | None = None) -> pd.DataFrame:
    """The hand-off file's "what changed since the comparison date" columns, on the later customers.

    Parameters
    ----------
    before, after
        Customer tables of the earlier and later run (index ``customer_id``).
    flows
        :func:`customer_flows` of the two tables, for the ``change`` column.
    alignment
        :class:`Alignment` of the two tables' indexes when the caller has it.

    Returns
    -------
    DataFrame indexed like ``after``: ``previous_segment``, ``previous_value_tier``,
    ``previous_pyramid``, ``previous_stage``, ``previous_activity`` (empty text for customers
    first seen after the comparison date), ``moved`` (True when the segment, value tier, pyramid
    tier or stage differs from the comparison date; False for new customers) and, with ``flows``,
    ``change`` (the :func:`customer_flows` group).
    """
    if alignment is None:
        alignment = Alignment(before.index, after.index)
    else:
        alignment.check(before.index, after.index)
    pos = alignment.after_in_before
    known = pos >= 0
    out = pd.DataFrame(index=after.index)
    moved = np.zeros(len(after), dtype=bool)
    for dim in ("segment", "value_tier", "pyramid", "stage", "activity"):
        if dim not in before:
            continue
        codes, text = _label_codes(before[dim])
        prev = _take(codes, pos, -1)  # -1: first seen later, or no label then
        out[f"previous_{dim}"] = pd.array([*text, ""], dtype="str").take(np.where(prev < 0, len(text), prev))
        if dim != "activity" and dim in after:
            a_codes, a_text = _label_codes(after[dim])
            shared = {t: i for i, t in enumerate(dict.fromkeys([*text, *a_text]))}
            b_id = np.array([shared[t] for t in text] + [-1], dtype=np.int64)[prev]
            a_id = np.array([shared[t] for t in a_text] + [-2], dtype=np.int64)[a_codes]
            moved |= known & (b_id != a_id)
    out["moved"] = moved
    if flows is not None:
        ids, _, in_after = alignment.union
        if len(flows) == len(ids) and flows.index.equals(ids):
            where = np.full(len(after), -1, dtype=np.int64)
            where[in_after[in_after >= 0]] = np.flatnonzero(in_after >= 0)
        else:
            where = ids_positions(after.index, flows.index)
        out["change"] = _reindex(flows["status"], where, after.index).astype("str")
    return out
