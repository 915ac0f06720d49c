"""Input checks shared by the survival modules (not public)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clm_utils.config import duration_in_units, unit_days
from clm_utils.errors import DataError, ParameterError


def check_transactions(transactions: pd.DataFrame, need_amount: bool = True) -> None:
    """Raise a :class:`DataError` unless ``transactions`` has the canonical columns and rows."""
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


def to_days(value: Any, time_unit: str, name: str) -> float:
    """A window given as a number of time units, a Timedelta or text such as '26W' or '182D', in days."""
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


def clean_survival_input(durations: Any, events: Any) -> tuple[np.ndarray, np.ndarray]:
    """Durations and 0/1 events as float / int arrays, checked (``events=None``: all events)."""
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
