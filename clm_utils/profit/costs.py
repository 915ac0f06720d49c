"""Profit per purchase day and per customer from the optional cost inputs (see the package docstring)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.data.values import ids_in
from clm_utils.errors import DataError, ParameterError

#: The optional per-transaction cost-of-goods column of the canonical transactions frame.
COST = "cost"
#: The columns of :func:`customer_profitability`, in order.
PROFIT_COLUMNS: tuple[str, ...] = (
    "n_orders", "revenue", "cogs", "gross_margin", "cost_to_serve", "acquisition", "profit", "profit_margin",
)
NO_COSTS = "profit = revenue (no costs given)"


@dataclass(frozen=True)
class CostInputs:
    """The run's cost inputs, validated once.

    Attributes
    ----------
    margin
        Gross-margin rate in (0, 1]; None or 1 = no cost of goods (unless the data have a ``cost`` column).
    cost_per_order
        Cost to serve one purchase day, >= 0 (currency units).
    acquisition_cost
        Acquisition cost per customer, >= 0; used for every customer when ``acquisition_column`` is None and
        for customers without a value in that column otherwise.
    acquisition_column
        Name of a column of the attribute file (``--customers``) holding the acquisition cost per customer.
    """

    margin: float | None = None
    cost_per_order: float = 0.0
    acquisition_cost: float = 0.0
    acquisition_column: str | None = None

    def __post_init__(self) -> None:
        _check_margin(self.margin)
        _check_nonneg(self.cost_per_order, "cost_per_order")
        _check_nonneg(self.acquisition_cost, "acquisition_cost")

    def acquisition(self, attributes: pd.DataFrame | None) -> float | pd.Series:
        """The ``acquisition_cost`` argument of :func:`customer_profitability` for this run.

        Raises
        ------
        ParameterError
            ``acquisition_column`` is set but there is no attribute table, or it lacks that column.
        DataError
            The column holds values that are not non-negative numbers.
        """
        if self.acquisition_column is None:
            return float(self.acquisition_cost)
        if attributes is None:
            raise ParameterError(f"the acquisition cost column {self.acquisition_column!r} needs an attribute file",
                                 parameter="acquisition_column", hint="pass --customers FILE, or give a number")
        if self.acquisition_column not in attributes.columns:
            listed = ", ".join(map(repr, attributes.columns[:10]))
            raise ParameterError(f"the attribute file has no column {self.acquisition_column!r}",
                                 parameter="acquisition_column", hint=f"choose one of {listed}")
        raw = attributes[self.acquisition_column]
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = (values.isna() & raw.notna()) | (values < 0) | ~np.isfinite(values.fillna(0.0))
        if bad.any():
            example = raw[bad].iloc[0]
            raise DataError(f"{int(bad.sum())} acquisition cost(s) are not non-negative numbers (e.g. {example!r})",
                            column=self.acquisition_column, hint="fix the values or leave them empty")
        return values.rename("acquisition")


def _check_margin(margin: float | None) -> None:
    if margin is None:
        return
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) \
            or not 0 < margin <= 1:
        raise ParameterError(f"must be a gross-margin rate in (0, 1], got {margin!r}", parameter="margin",
                             hint="e.g. 0.3 for a 30% margin; 1 means profit = revenue")


def _check_nonneg(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ParameterError(f"must be a number >= 0, got {value!r}", parameter=name)


def profit_basis(has_cost_column: bool = False, margin: float | None = None, cost_per_order: float = 0.0,
                 acquisition: bool | float = 0.0) -> str:
    """One sentence saying what "profit" means in this run (every report prints it).

    ``acquisition`` is the acquisition cost (a number) or True when it comes per customer from a column.
    """
    parts = []
    if has_cost_column:
        parts.append("cost of goods from the cost column")
    elif margin is not None and margin < 1:
        parts.append(f"cost of goods = {1 - margin:.0%} of revenue (margin {margin:.0%})")
    if cost_per_order:
        parts.append(f"cost to serve {cost_per_order:g} per order")
    if acquisition is True:
        parts.append("acquisition cost per customer from the attribute file")
    elif acquisition:
        parts.append(f"acquisition cost {float(acquisition):g} per customer")
    if not parts:
        return NO_COSTS
    return "profit = revenue − " + ", − ".join(parts)


def purchase_day_profit(
    transactions: pd.DataFrame,
    margin: float | None = None,
    cost_per_order: float = 0.0,
    acquisition_cost: float | pd.Series = 0.0,
    acquisition_default: float = 0.0,
) -> pd.DataFrame:
    """Revenue, costs and profit per customer and purchase day.

    Parameters
    ----------
    transactions
        Canonical frame: ``customer_id``, ``date`` (datetime64), ``amount`` (revenue), optional ``cost``
        (cost of goods per row, >= 0).  Rows of one customer on one day form one purchase day (one order).
    margin
        Gross-margin rate in (0, 1] (only without a ``cost`` column): COGS = (1 − margin) × revenue.
    cost_per_order
        Cost to serve, charged once per purchase day.
    acquisition_cost
        Charged once, on each customer's first purchase day: a number, or a Series indexed by customer id
        (ids as written; NaN = not known).  Customers without a value are charged ``acquisition_default``.
    acquisition_default
        Acquisition cost of customers missing from the ``acquisition_cost`` Series.

    Returns
    -------
    DataFrame
        ``customer_id``, ``date``, ``revenue``, ``cogs``, ``gross_margin`` (revenue − cogs), ``cost_to_serve``,
        ``acquisition``, ``profit`` (gross_margin − cost_to_serve − acquisition); sorted by customer and date.
        ``attrs``: ``basis`` (see :func:`profit_basis`), ``acquisition_missing`` (customers without a
        per-customer acquisition cost), ``acquisition_extra`` (ids in the Series without transactions).

    Raises
    ------
    ParameterError
        A bad cost parameter, or both a ``cost`` column and a margin below 1.
    DataError
        Missing columns, or cost values that are missing, negative or not numbers.
    """
    for column in (config.CUSTOMER_ID, config.DATE, config.AMOUNT):
        if column not in transactions.columns:
            raise DataError(f"the transactions have no {column!r} column", column=column,
                            hint="load them with clm_utils.data.load_and_check")
    _check_margin(margin)
    _check_nonneg(cost_per_order, "cost_per_order")
    _check_nonneg(acquisition_default, "acquisition_default")
    has_cost = COST in transactions.columns
    if has_cost and margin is not None and margin < 1:
        raise ParameterError("the data have a cost column and a margin was given as well; the two would disagree",
                             parameter="margin", hint="leave out --margin (the cost column is used), or drop the column")
    tx = transactions[[config.CUSTOMER_ID, config.DATE, config.AMOUNT] + ([COST] if has_cost else [])].copy()
    if has_cost:
        cost = pd.to_numeric(tx[COST], errors="coerce").astype("float64")
        bad = cost.isna() | (cost < 0) | ~np.isfinite(cost.fillna(0.0))
        if bad.any():
            rows = list(np.flatnonzero(bad.to_numpy())[:5])
            raise DataError(f"{int(bad.sum())} cost value(s) are missing, negative or not numbers", column=COST,
                            rows=rows, n_rows=int(bad.sum()), hint="fill in the cost of goods of every row")
        tx[COST] = cost
    else:
        rate = 0.0 if margin is None else 1.0 - float(margin)
        tx[COST] = tx[config.AMOUNT].astype("float64") * rate
    tx[config.DATE] = tx[config.DATE].dt.normalize()
    days = (tx.groupby([config.CUSTOMER_ID, config.DATE], sort=True, observed=True)[[config.AMOUNT, COST]].sum()
            .reset_index().rename(columns={config.AMOUNT: "revenue", COST: "cogs"}))
    days["revenue"] = days["revenue"].astype("float64")
    days["gross_margin"] = days["revenue"] - days["cogs"]
    days["cost_to_serve"] = float(cost_per_order)
    first = ~days[config.CUSTOMER_ID].duplicated()
    missing = extra = 0
    if isinstance(acquisition_cost, pd.Series):
        per = acquisition_cost.astype("float64")
        per.index = per.index.astype(str)
        if per.index.has_duplicates:
            dup = per.index[per.index.duplicated()][0]
            raise DataError(f"customer id {dup!r} has two acquisition costs", column=str(acquisition_cost.name),
                            hint="keep one row per customer")
        if ((per < 0) | np.isinf(per)).any():
            raise DataError("acquisition costs must be numbers >= 0", column=str(acquisition_cost.name))
        ids = pd.Index(days.loc[first, config.CUSTOMER_ID].astype(str))
        looked = per.reindex(ids)
        missing = int(looked.isna().sum())
        extra = int((~ids_in(per.index, ids)).sum())
        acq = looked.fillna(float(acquisition_default)).to_numpy()
        acq_basis: bool | float = True
    else:
        _check_nonneg(acquisition_cost, "acquisition_cost")
        acq = float(acquisition_cost)
        acq_basis = float(acquisition_cost)
    days["acquisition"] = 0.0
    days.loc[first, "acquisition"] = acq
    days["profit"] = days["gross_margin"] - days["cost_to_serve"] - days["acquisition"]
    days.attrs.update(basis=profit_basis(has_cost, margin, cost_per_order, acq_basis),
                      acquisition_missing=missing, acquisition_extra=extra)
    return days


def customer_profitability(
    transactions: pd.DataFrame,
    margin: float | None = None,
    cost_per_order: float = 0.0,
    acquisition_cost: float | pd.Series = 0.0,
    acquisition_default: float = 0.0,
) -> pd.DataFrame:
    """Customer profitability: revenue − COGS − cost to serve − acquisition, one row per customer.

    Parameters are those of :func:`purchase_day_profit`.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted): ``n_orders`` (purchase days), ``revenue``, ``cogs``,
        ``gross_margin``, ``cost_to_serve`` (n_orders × cost_per_order), ``acquisition``, ``profit``,
        ``profit_margin`` (profit / revenue).  ``attrs`` as in :func:`purchase_day_profit`; ``attrs["basis"]``
        is ``"profit = revenue (no costs given)"`` when no cost input was given.
    """
    days = purchase_day_profit(transactions, margin, cost_per_order, acquisition_cost, acquisition_default)
    g = days.groupby(config.CUSTOMER_ID, sort=True, observed=True)
    out = g[["revenue", "cogs", "gross_margin", "cost_to_serve", "acquisition", "profit"]].sum()
    out.insert(0, "n_orders", g.size().astype("int64"))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["profit_margin"] = np.where(out["revenue"] > 0, out["profit"] / out["revenue"], np.nan)
    out.index.name = config.CUSTOMER_ID
    out.attrs.update(days.attrs)
    return out[list(PROFIT_COLUMNS)]
