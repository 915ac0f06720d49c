"""Validation and cleaning of a mapped frame: ids, dates, amounts, orders, duplicates, zeros, returns.

Every rule that drops or changes rows adds a row to the :class:`~clm_utils.data.quality.QualityReport`
saying what it did and why.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.data.columns import COST, ORDER_ID, PRICE, ROLES
from clm_utils.data.quality import QualityReport
from clm_utils.data.values import (
    MAX_AMOUNT,
    MISSING_ID_TEXT,
    _first_rows,
    normalize_float_ids,
    parse_amount,
    parse_dates,
)
from clm_utils.errors import DataError, ParameterError

NegativePolicy = Literal["net", "drop", "raise"]
ZeroPolicy = Literal["drop", "keep", "raise"]
DuplicatePolicy = Literal["drop", "keep", "raise"]
InvalidPolicy = Literal["raise", "drop"]
#: How order-level amounts are written in a line-item file (see :func:`order_amount_layout`).
AmountLayout = Literal["line", "first_line", "repeated"]


def net_returns(frame: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Net negative amounts (returns) against the same customer's earlier purchases.

    A return reduces the customer's most recent purchase on or before its date; what is left
    over reduces the purchase before that, and so on.  Purchases reduced to zero are removed.
    Returns with no earlier purchase to net against are dropped.

    Parameters
    ----------
    frame
        Canonical transactions sorted by customer and date (``customer_id``, ``date``, ``amount``).

    Returns
    -------
    (frame, n_netted, n_unmatched)
        The frame without negative rows, the number of returns netted and the number dropped
        because no earlier purchase of that customer was found.

    Notes
    -----
    With a ``cost`` column (cost of goods), a return gives its cost back to the purchases it
    nets against, in proportion to the amount it takes from each: the return's own cost (its
    absolute value) when it has one, else the purchase's cost in proportion to the amount
    returned.  A purchase removed by a return leaves with its cost.
    """
    neg = frame[config.AMOUNT].to_numpy() < 0
    if not neg.any():
        return frame, 0, 0
    amounts = frame[config.AMOUNT].to_numpy(dtype="float64").copy()
    has_cost = COST in frame.columns
    costs = frame[COST].to_numpy(dtype="float64").copy() if has_cost else np.zeros(len(frame))
    ids = frame[config.CUSTOMER_ID].to_numpy()
    # positions of each customer's block (frame is sorted by customer, then date)
    starts = np.r_[0, np.flatnonzero(ids[1:] != ids[:-1]) + 1]
    block_start = np.repeat(starts, np.diff(np.r_[starts, len(ids)]))
    unmatched = 0
    for pos in np.flatnonzero(neg):  # loop over returns only (rare), not over customers
        remaining = -amounts[pos]
        returned, given_back = remaining, abs(costs[pos])
        amounts[pos] = 0.0
        j = pos - 1
        lo = block_start[pos]
        while remaining > 1e-12 and j >= lo:
            if amounts[j] > 0:
                take = min(amounts[j], remaining)
                if has_cost:  # the cost of the goods returned leaves with them
                    back = given_back * take / returned if np.isfinite(given_back) else costs[j] * take / amounts[j]
                    costs[j] = max(costs[j] - back, 0.0)
                amounts[j] -= take
                remaining -= take
            j -= 1
        if remaining > 1e-12 and remaining == -frame[config.AMOUNT].iloc[pos]:
            unmatched += 1
    out = frame.assign(**{config.AMOUNT: amounts})
    if has_cost:
        out[COST] = costs
    out = out[(~neg) & (amounts > 1e-9)]
    return out, int(neg.sum()) - unmatched, unmatched


# --------------------------------------------------------------------------------------------
# The public loaders
# --------------------------------------------------------------------------------------------


def _check_policy(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ParameterError(f"{value!r} is not a valid policy", parameter=name,
                             hint=f"use one of {', '.join(allowed)}")


def _apply_policy(out: pd.DataFrame, mask: np.ndarray, policy: str, report: QualityReport, label: str,
                  column: str | None, what: str, check: str, hint: str, detail: str = "") -> pd.DataFrame:
    """Raise on, drop, or keep the rows in ``mask``, and record the count in the report."""
    n = int(mask.sum())
    if n and policy == "raise":
        raise DataError(f"{n:,} {what}", file=label, column=column, rows=out["_line"].to_numpy()[mask][:5].tolist(),
                        n_rows=n, hint=hint)
    if policy == "drop":
        report.add(f"{check} dropped", n, detail if n else "")
        return out[~mask]
    report.add(f"{check} kept", n, detail if n else "", status="info" if n else "ok")
    return out


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped text, ``""`` where missing."""
    return values.astype("str").str.strip().where(values.notna(), "")


def _fill_from_order(values: pd.Series, blank: np.ndarray, orders: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Fill blank values from the first non-blank value of the same order (rows without an order stay)."""
    keys = orders.where(orders != "")
    first = values.where(~blank).groupby(keys, sort=False).transform("first")
    filled = blank & first.notna().to_numpy() & keys.notna().to_numpy()
    return values.where(~filled, first), filled


def order_amount_layout(orders: pd.Series, amount: pd.Series) -> AmountLayout:
    """How the amount column of a file with an order id is written.

    Parameters
    ----------
    orders
        Order ids as text (``""`` where there is none).
    amount
        Parsed amounts, NaN where the cell is blank.

    Returns
    -------
    ``"first_line"``
        An order total on one line of each order and blank on its other lines (Shopify's orders
        export): taken once per order.
    ``"repeated"``
        The same order total on every line of each order (at least two orders with several
        lines, all of them constant): taken once per order.
    ``"line"``
        Anything else: the amounts belong to the lines and are summed per order.
    """
    keyed = (orders != "").to_numpy()
    if not keyed.any():
        return "line"
    frame = pd.DataFrame({"o": orders[keyed].to_numpy(), "a": amount[keyed].to_numpy()})
    grouped = frame.groupby("o", sort=False)["a"]
    size = grouped.size()
    multi = size > 1
    if not multi.any():
        return "line"
    filled = grouped.count()
    distinct = grouped.nunique()
    if (filled[multi] < size[multi]).any() and (filled <= 1).all():
        return "first_line"
    if int(multi.sum()) >= 2 and (filled[multi] == size[multi]).all() and (distinct[multi] == 1).all():
        return "repeated"
    return "line"


def _merge_order_lines(out: pd.DataFrame, report: QualityReport) -> pd.DataFrame:
    """Sum the lines of each order (same customer, order id and day) into one transaction."""
    keyed = (out[ORDER_ID] != "").to_numpy()
    keys = [config.CUSTOMER_ID, ORDER_ID, config.DATE]
    part = out[keyed]
    if not part.duplicated(keys).any():
        return out
    sign = pd.DataFrame({"pos": part[config.AMOUNT].to_numpy() > 0, "neg": part[config.AMOUNT].to_numpy() < 0},
                        index=part.index)
    agg: dict[str, str] = {config.AMOUNT: "sum", "_line": "min"}
    if config.QUANTITY in part:
        agg[config.QUANTITY] = "sum"
    if COST in part:
        agg[COST] = "sum"
    merged = part.groupby(keys, sort=False).agg(agg).reset_index()
    if COST in part:  # an order with a line of unknown cost has an unknown cost (not a silent 0)
        unknown = part[COST].isna().groupby([part[k] for k in keys], sort=False).any().to_numpy()
        merged[COST] = merged[COST].where(~unknown)
    mixed = sign.groupby([part[k] for k in keys], sort=False).any()
    n_mixed = int((mixed["pos"] & mixed["neg"]).sum())
    report.add("order lines merged into one transaction per order", len(part) - len(merged),
               f"{len(part):,} lines of {len(merged):,} orders: amounts summed per order id, customer and day",
               status="info")
    if n_mixed:
        report.add("orders with return lines netted inside the order", n_mixed,
                   "a negative line reduces its own order's total", status="info")
    return pd.concat([merged, out[~keyed]], ignore_index=True)[list(out.columns)]


def clean_transactions(
    frame: pd.DataFrame,
    *,
    label: str = "<data>",
    first_line: int = 1,
    date_format: str | None = None,
    negative: NegativePolicy = "net",
    zero: ZeroPolicy = "drop",
    duplicates: DuplicatePolicy = "drop",
    invalid: InvalidPolicy = "raise",
    observation_end: str | pd.Timestamp | None = None,
    strict: bool = False,
    decimal: str = ".",
    excel_dates: bool = False,
    report: QualityReport | None = None,
    source_columns: int | None = None,
) -> tuple[pd.DataFrame, QualityReport]:
    """Validate and clean a frame that already has canonical column names.

    Parameters
    ----------
    frame
        Columns ``customer_id``, ``date``, ``amount`` (or ``quantity`` and ``price``), optional
        ``quantity`` and ``order_id``; values may still be text.  Any other column is a column of
        the source file that plays no role: it is compared by the duplicate check, then left out.
    label, first_line
        Used in error messages: the file name and the file line number of the frame's first row.
    date_format
        strftime format of the dates; detected when None (see :func:`parse_dates`).
    negative
        Negative amounts are returns: ``net`` them against the customer's earlier purchases
        (default), ``drop`` them, or ``raise`` a DataError.  UCI-style cancellation invoices
        (order id ``C...``) and negative quantities arrive here as negative amounts.
    zero
        Zero amounts (free items, test orders): ``drop`` (default), ``keep``, or ``raise``.
        With an order id, this applies to whole orders, after their lines are summed.
    duplicates
        Exact duplicate rows, identical in every column of the source file (an order or invoice
        id included): ``drop`` (default), ``keep`` (they are genuine repeat purchases), or
        ``raise``.  Two invoices with different numbers are never duplicates.
    invalid
        Rows with an unparseable date or amount: ``raise`` (default) or ``drop`` them (counted in
        the quality table).  Rows without a customer id (guest purchases) are always dropped and
        counted: they cannot be followed over time.
    observation_end
        Transactions dated after it are left out and counted (an as-of run on a newer export);
        with ``strict=True`` they raise instead.
    decimal
        Decimal mark of text amounts, ``.`` or ``,``.
    excel_dates
        The values come from a workbook: numbers in the date column are Excel serial dates.
    source_columns
        How many columns the source file has, for the duplicate check's note (default: the
        frame's); the folder reader passes the files' count, having reduced the columns that
        play no role to one hash column.

    Returns
    -------
    (transactions, report)
        The canonical frame (see :mod:`clm_utils.data`) and the data-quality report.

    Notes
    -----
    With an ``order_id`` column, the lines of one order are summed into one transaction
    (``amount`` = sum of quantity × price, or of the line amounts); a line without its own date
    or customer takes its order's (Shopify writes them on the first line only); an order total
    written once per order, or repeated on each line, is taken once.  Customer ids written as
    floats (``17850.0``, every one of them) lose the ``.0``.  Each of these is counted in the
    quality table.
    """
    _check_policy("negative", negative, ("net", "drop", "raise"))
    _check_policy("zero", zero, ("drop", "keep", "raise"))
    _check_policy("duplicates", duplicates, ("drop", "keep", "raise"))
    _check_policy("invalid", invalid, ("raise", "drop"))
    report = report or QualityReport(label)
    n_read = len(frame)
    report.add("rows read", n_read, status="info")
    frame = frame.reset_index(drop=True)
    line = np.arange(n_read) + first_line  # file line number of every row
    has_orders = ORDER_ID in frame
    other = [c for c in frame.columns if c not in ROLES]

    # customer ids (and, in a line-item file, the order's customer and date on every line)
    ids = _text(frame[config.CUSTOMER_ID])
    date_values = frame[config.DATE]
    orders = _text(frame[ORDER_ID]) if has_orders else None
    if orders is not None:
        ids, id_filled = _fill_from_order(ids, ((ids == "") | ids.str.lower().isin(MISSING_ID_TEXT)).to_numpy(),
                                          orders)
        date_blank = (date_values.isna() | (_text(date_values) == "")).to_numpy()
        date_values, date_filled = _fill_from_order(date_values, date_blank, orders)
        n_filled = int((id_filled | date_filled).sum())
        if n_filled:
            report.add("order lines without their own date or customer: taken from the order", n_filled,
                       "the export writes them on the order's first line only", status="info")
    missing_id = (ids == "") | ids.str.lower().isin(MISSING_ID_TEXT)
    ids, n_float = normalize_float_ids(ids, missing_id)
    if n_float:
        report.add("customer ids written as floats: '.0' removed", n_float,
                   "every id was a whole number written like 17850.0 (a pandas export with missing ids); "
                   "now 17850, as the shop's own systems write it", status="info")
    guest = missing_id.to_numpy()
    n_guest = int(guest.sum())
    if n_guest == n_read:
        raise DataError(f"every customer id is empty ({n_read:,} rows)", file=label, column=config.CUSTOMER_ID,
                        hint="map the column that identifies customers with --columns customer_id=<column>; "
                        "purchases without an id cannot be followed over time")
    report.add("rows without a customer id (guests) dropped", n_guest,
               "guest purchases cannot be followed over time; give them an id (e.g. the e-mail) to keep them"
               if n_guest else "")

    mixed: list[int] = []
    serials: list[int] = []
    dates = parse_dates(date_values, date_format, label, config.DATE, first_line, notes=mixed,
                        excel_serial=excel_dates, serial_notes=serials)
    bad_date = dates.isna().to_numpy() & ~guest
    if mixed:
        report.add("dates not in ISO format, parsed one by one", mixed[0],
                   "check them, or pass --date-format for one consistent format")
    if serials:
        report.add("dates written as Excel serial numbers: converted", serials[0],
                   "days since 1899-12-30, as Excel counts them", status="info")

    layout: AmountLayout = "line"
    continuation = np.zeros(n_read, dtype=bool)
    if config.AMOUNT in frame:
        amount = parse_amount(frame[config.AMOUNT], decimal=decimal)
        if orders is not None:
            blank = (frame[config.AMOUNT].isna() | (_text(frame[config.AMOUNT]) == "")).to_numpy()
            layout = order_amount_layout(orders, amount.where(~blank))
            if layout == "first_line":
                continuation = blank & (orders != "").to_numpy()
    else:
        qty = parse_amount(frame[config.QUANTITY], decimal=decimal)
        price = parse_amount(frame[PRICE], decimal=decimal)
        amount = qty * price
        report.add("amount computed as quantity × price", n_read, status="info")
    bad_amount = (amount.isna().to_numpy() | ~(np.abs(amount.fillna(0).to_numpy()) < MAX_AMOUNT)) \
        & ~guest & ~continuation
    quantity = None
    if config.QUANTITY in frame:
        quantity = parse_amount(frame[config.QUANTITY], decimal=decimal)
    cost = None
    if COST in frame:  # cost of goods: parsed like quantity; unreadable or blank costs are counted, not guessed
        cost = parse_amount(frame[COST], decimal=decimal)
        blank_cost = (frame[COST].isna() | (_text(frame[COST]) == "")).to_numpy() & ~guest
        unreadable = cost.isna().to_numpy() & ~blank_cost & ~guest
        report.add("unreadable costs (left empty)", int(unreadable.sum()),
                   f"e.g. {str(frame[COST][unreadable].iloc[0])!r}: fix the cost column" if unreadable.any() else "")
        report.add("rows without a cost", int(blank_cost.sum()),
                   "profit needs the cost of goods of every purchase: fill them in" if blank_cost.any() else "")

    problems = [
        (bad_date, config.DATE, "dates cannot be parsed", "unparseable dates",
         "pass --date-format (e.g. '%Y-%m-%d'), fix the rows, or pass --invalid drop"),
        (bad_amount, config.AMOUNT, "amounts are not numbers (or implausibly large)", "non-numeric amounts",
         "remove currency text or pass --decimal ',', fix the rows, or pass --invalid drop"),
    ]
    drop_mask = guest.copy()
    for mask, column, what, check, hint in problems:
        n_bad = int(mask.sum())
        if n_bad and invalid == "raise":
            source = frame[column] if column in frame else frame[config.QUANTITY]
            example = f" (e.g. {str(source[mask].iloc[0])!r})"
            raise DataError(f"{n_bad:,} {what}{example}", file=label, column=column,
                            rows=_first_rows(mask, first_line), n_rows=n_bad, hint=hint)
        report.add(f"{check} (rows dropped)" if n_bad else check, n_bad)
        drop_mask |= mask

    data = {config.CUSTOMER_ID: ids.astype("str"), config.DATE: dates, config.AMOUNT: amount}
    if quantity is not None:
        data[config.QUANTITY] = quantity
    if cost is not None:
        data[COST] = cost
    if orders is not None:
        data[ORDER_ID] = orders
    if config.AMOUNT in frame and PRICE in frame:
        data[PRICE] = _text(frame[PRICE])  # not used, but a column of the file
    out = pd.DataFrame(data)
    for name in other:
        out[name] = frame[name].to_numpy()
    out["_line"] = line
    out = out[~drop_mask]

    if observation_end is not None:
        end = pd.Timestamp(observation_end).normalize()
        after = (out[config.DATE] > end).to_numpy()
        n_after = int(after.sum())
        if n_after and strict:
            raise DataError(f"{n_after:,} transactions are dated after the observation end {end.date()}",
                            file=label, column=config.DATE, rows=out["_line"].to_numpy()[after][:5].tolist(),
                            n_rows=n_after, hint="drop --strict to leave them out, or choose a later --as-of date")
        report.add(f"rows after observation end {end.date()} left out", n_after,
                   status="info" if n_after else "ok")
        out = out[~after]

    # exact duplicates: identical in every column of the file, then orders, zero amounts, returns
    subset = [c for c in out.columns if c != "_line"]
    try:
        dup = out.duplicated(subset=subset, keep="first").to_numpy()
    except TypeError:  # unhashable cells (lists in a Parquet file): compare their text
        dup = out[subset].astype("str").duplicated(keep="first").to_numpy()
    n_source = source_columns or frame.shape[1]
    out = _apply_policy(out, dup, duplicates, report, label, None, "rows are exact duplicates of earlier rows",
                        "exact duplicate rows",
                        "remove them, or pass --duplicates drop (or keep if they are real repeat purchases)",
                        detail=f"identical in all {n_source} columns of the file")
    out = out.drop(columns=[c for c in other if c in out] + ([PRICE] if PRICE in out else []))
    if orders is not None:
        out = _orders(out, layout, report)
    out = _apply_policy(out, (out[config.AMOUNT] == 0).to_numpy(), zero, report, label, config.AMOUNT,
                        "amounts are zero", "zero-amount rows",
                        "pass --zero drop (free items, test orders) or --zero keep")
    out = out.sort_values([config.CUSTOMER_ID, config.DATE, "_line"], kind="mergesort")
    is_neg = (out[config.AMOUNT] < 0).to_numpy()
    n_neg = int(is_neg.sum())
    if negative != "net" or not n_neg:
        out = _apply_policy(out, is_neg, "keep" if negative == "net" else negative, report, label, config.AMOUNT,
                            "amounts are negative (returns or refunds)", "negative-amount rows (returns)",
                            "pass --negative net (net returns against purchases) or --negative drop")
    else:
        out, n_netted, n_unmatched = net_returns(out)
        report.add("returns netted against earlier purchases", n_netted)
        report.add("returns without an earlier purchase dropped", n_unmatched)

    out = out.drop(columns="_line").reset_index(drop=True)
    if out.empty:
        raise DataError("no transactions are left after cleaning", file=label,
                        hint="see `clm validate` for what was dropped; check the policies and --as-of")
    n_customers = int(out[config.CUSTOMER_ID].nunique())
    report.add("transactions kept", len(out), status="info")
    report.add("customers", n_customers, status="info")
    span = int((out[config.DATE].max() - out[config.DATE].min()).days) + 1
    report.add("date range (days)", span, f"{out[config.DATE].min().date()} to {out[config.DATE].max().date()}",
               status="info")
    return out, report


def _orders(out: pd.DataFrame, layout: AmountLayout, report: QualityReport) -> pd.DataFrame:
    """Order totals taken once, line items summed per order, cancellations counted; drops ``order_id``."""
    if layout == "first_line":
        n_cont = int(out[config.AMOUNT].isna().sum())
        out = out.assign(**{config.AMOUNT: out[config.AMOUNT].fillna(0.0)})
        report.add("order totals written on the first line only: other lines add nothing", n_cont,
                   "a Shopify-style export: the lines below an order's first line belong to that order", status="info")
    elif layout == "repeated":
        later = out.duplicated([ORDER_ID], keep="first").to_numpy() & (out[ORDER_ID] != "").to_numpy()
        out = out.assign(**{config.AMOUNT: np.where(later, 0.0, out[config.AMOUNT].to_numpy())})
        report.add("order totals repeated on every line: counted once per order", int(later.sum()),
                   "every order with several lines has the same amount on each of them", status="info")
    out = _merge_order_lines(out, report)
    cancelled = (out[ORDER_ID].str.match(r"[Cc]\d") & (out[config.AMOUNT] < 0)).to_numpy()
    if cancelled.any():
        report.add("cancellation invoices (order id 'C...')", int(cancelled.sum()),
                   "negative totals: handled by the returns policy below", status="info")
    return out.drop(columns=ORDER_ID)
