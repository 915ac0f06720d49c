"""The customer summary (BTYD definitions) and the calibration / holdout split.

Definitions (Fader, Hardie & Lee 2005; the ``lifetimes`` and CLVTools conventions):

* purchases on the same day are merged into one *purchase day*, before anything is counted;
* times are in the chosen unit: days divided by :func:`clm_utils.config.unit_days`
  (7 for weeks, 365.25/12 for months);
* ``frequency`` is the number of repeat purchase days (purchase days after the first);
* ``recency`` is the time from the first purchase to the last (0 for one-time buyers);
* ``T`` is the time from the first purchase to the end of the observation period;
* ``monetary_value`` is the mean amount of the repeat purchase days (0 when there are none).

Everything is vectorised with group-by operations: no Python loop over customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.data.values import ids_in
from clm_utils.errors import DataError, ParameterError

SUMMARY_COLUMNS = (
    "frequency", "recency", "T", "monetary_value", "n_transactions", "n_purchase_days",
    "total_amount", "first_amount", "first_purchase", "last_purchase",
)


def parse_day(value: object, name: str) -> pd.Timestamp:
    """A parameter date as a day-precision Timestamp (ParameterError naming ``name`` when it does not parse)."""
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise ParameterError(f"{value!r} is not a date", parameter=name, hint="write it as YYYY-MM-DD") from None
    if pd.isna(ts):
        raise ParameterError("is empty", parameter=name, hint="write it as YYYY-MM-DD")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(None)
    return ts.normalize()


_timestamp = parse_day


def purchase_days(transactions: pd.DataFrame) -> pd.DataFrame:
    """Merge each customer's transactions of the same day into one purchase day.

    Parameters
    ----------
    transactions
        Canonical frame: ``customer_id``, ``date``, ``amount`` [, ``quantity``].

    Returns
    -------
    DataFrame
        One row per customer and day: ``customer_id``, ``date``, ``amount`` (the day's sum),
        ``n_transactions`` (rows merged), sorted by customer then date.
    """
    day = transactions[config.DATE].dt.normalize()
    grouped = (
        transactions.assign(**{config.DATE: day})
        .groupby([config.CUSTOMER_ID, config.DATE], sort=True, observed=True)[config.AMOUNT]
        .agg(["sum", "size"])
        .reset_index()
        .rename(columns={"sum": config.AMOUNT, "size": "n_transactions"})
    )
    return grouped


def resolve_dates(
    transactions: pd.DataFrame,
    observation_end: object = None,
    calibration_end: object = None,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Fill in the default calibration end and observation end, and check them.

    Defaults: the observation end is the last transaction date; the calibration end is the
    midpoint (rounded down to the day) between the first transaction date and the observation
    end.  On CDNOW this gives the published split, 1997-09-30 / 1998-06-30.

    Returns
    -------
    (calibration_end, observation_end)
        Both as day-precision Timestamps.

    Raises
    ------
    ParameterError
        If a date does not parse, the calibration end is not before the observation end, or
        either lies before the first transaction.
    """
    if transactions.empty:
        raise DataError("there are no transactions", hint="check the data file and the as-of date")
    first = transactions[config.DATE].min().normalize()
    last = transactions[config.DATE].max().normalize()
    obs = last if observation_end is None or observation_end == "" else _timestamp(observation_end, "observation_end")
    if obs < first:
        raise ParameterError(f"{obs.date()} is before the first transaction ({first.date()})",
                             parameter="observation_end", hint=f"choose a date after {first.date()}")
    if calibration_end is None or calibration_end == "":
        cal = first + pd.Timedelta(days=int((obs - first).days // 2))
    else:
        cal = _timestamp(calibration_end, "calibration_end")
    if cal < first:
        raise ParameterError(f"{cal.date()} is before the first transaction ({first.date()})",
                             parameter="calibration_end", hint=f"choose a date after {first.date()}")
    if cal >= obs:
        raise ParameterError(f"{cal.date()} is not before the observation end {obs.date()}",
                             parameter="calibration_end", hint="choose a calibration end before the observation end")
    return cal, obs


def summarize(
    transactions: pd.DataFrame,
    observation_end: object = None,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Return the customer summary at ``observation_end`` (BTYD definitions, see the module doc).

    Parameters
    ----------
    transactions
        Canonical frame: ``customer_id``, ``date``, ``amount`` [, ``quantity``].  Rows after
        ``observation_end`` are ignored.
    observation_end
        End of the observation period (inclusive); defaults to the last transaction date.
    time_unit
        ``D``, ``W`` (default), ``M``, ``Q`` or ``Y``.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted), one row per customer with a purchase on or before
        ``observation_end``: ``frequency`` (int), ``recency``, ``T``, ``monetary_value``,
        ``n_transactions`` (rows), ``n_purchase_days``, ``total_amount``, ``first_amount``
        (amount of the first purchase day), ``first_purchase``, ``last_purchase``.
    """
    unit = config.unit_days(time_unit)
    if observation_end is None:
        if transactions.empty:
            raise DataError("there are no transactions", hint="check the data file and the as-of date")
        end = transactions[config.DATE].max().normalize()
    else:
        end = _timestamp(observation_end, "observation_end")
    tx = transactions[transactions[config.DATE] <= end]
    if tx.empty:
        raise DataError(f"no transactions on or before {end.date()}", column=config.DATE,
                        hint="choose a later as-of / observation end date")
    days = purchase_days(tx)
    g = days.groupby(config.CUSTOMER_ID, sort=True, observed=True)
    out = pd.DataFrame({
        "first_purchase": g[config.DATE].min(),
        "last_purchase": g[config.DATE].max(),
        "n_purchase_days": g.size(),
        "n_transactions": g["n_transactions"].sum(),
        "total_amount": g[config.AMOUNT].sum(),
        "first_amount": g[config.AMOUNT].first(),
    })
    out["frequency"] = (out["n_purchase_days"] - 1).astype("int64")
    out["recency"] = (out["last_purchase"] - out["first_purchase"]).dt.days / unit
    out["T"] = (end - out["first_purchase"]).dt.days / unit
    repeat_total = out["total_amount"] - out["first_amount"]
    freq = out["frequency"].to_numpy()
    out["monetary_value"] = np.where(freq > 0, repeat_total / np.maximum(freq, 1), 0.0)
    out.index.name = config.CUSTOMER_ID
    return out[list(SUMMARY_COLUMNS)]


def calibration_holdout(
    transactions: pd.DataFrame,
    calibration_end: object,
    observation_end: object = None,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Split into a calibration summary and holdout counts (the standard BTYD validation setup).

    Customers are those with a first purchase on or before ``calibration_end``.  Calibration
    columns follow :func:`summarize` at ``calibration_end``; the holdout columns are

    ``frequency_holdout``
        number of purchase days in (calibration_end, observation_end];
    ``monetary_value_holdout``
        mean amount of those purchase days (0 when there are none);
    ``duration_holdout``
        length of the holdout period in ``time_unit``.

    Parameters
    ----------
    transactions
        Canonical frame: ``customer_id``, ``date``, ``amount``.
    calibration_end, observation_end
        Dates; ``observation_end`` defaults to the last transaction date.
    time_unit
        ``D``, ``W`` (default), ``M``, ``Q`` or ``Y``.
    """
    cal, obs = resolve_dates(transactions, observation_end, calibration_end)
    unit = config.unit_days(time_unit)
    calib = summarize(transactions, cal, time_unit)
    tx = transactions[(transactions[config.DATE] > cal) & (transactions[config.DATE] <= obs)]
    days = purchase_days(tx)
    days = days[ids_in(days[config.CUSTOMER_ID], calib.index)]
    g = days.groupby(config.CUSTOMER_ID, sort=True, observed=True)[config.AMOUNT]
    n = g.size().reindex(calib.index, fill_value=0)
    total = g.sum().reindex(calib.index, fill_value=0.0)
    calib["frequency_holdout"] = n.astype("int64")
    calib["monetary_value_holdout"] = np.where(n > 0, total / np.maximum(n, 1), 0.0)
    calib["duration_holdout"] = (obs - cal).days / unit
    return calib
