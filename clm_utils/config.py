"""Project paths and defaults: the one place that knows where things live."""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root (the folder holding ``pyproject.toml``).
ROOT: Path = Path(__file__).resolve().parent.parent
DATA_DIR: Path = ROOT / "data"
RAW_DIR: Path = DATA_DIR / "raw"
NOTEBOOKS_DIR: Path = ROOT / "notebooks"
#: Where ``clm run`` writes; override with the ``CLM_REPORTS_DIR`` environment variable or ``--output``.
REPORTS_DIR: Path = Path(os.environ.get("CLM_REPORTS_DIR", ROOT / "reports"))

CDNOW_MASTER: Path = RAW_DIR / "CDNOW_master.txt"
CDNOW_SAMPLE: Path = RAW_DIR / "CDNOW_sample.txt"
DONATIONS: Path = RAW_DIR / "donations.csv"
#: UCI Online Retail (Chen, Sain & Guo 2012), aggregated to one row per invoice; see data/README.md.
ONLINE_RETAIL: Path = RAW_DIR / "online_retail.csv"

#: Canonical transaction columns (docs/design.md, "Transactions frame").
CUSTOMER_ID = "customer_id"
DATE = "date"
AMOUNT = "amount"
QUANTITY = "quantity"
REQUIRED_COLUMNS: tuple[str, ...] = (CUSTOMER_ID, DATE, AMOUNT)
OPTIONAL_COLUMNS: tuple[str, ...] = (QUANTITY,)

#: Length of one time unit in days.  A month is a twelfth of a Julian year, never a hard-coded 30 days.
TIME_UNITS: dict[str, float] = {
    "D": 1.0,
    "W": 7.0,
    "M": 365.25 / 12.0,
    "Q": 365.25 / 4.0,
    "Y": 365.25,
}
TIME_UNIT_NAMES: dict[str, str] = {"D": "days", "W": "weeks", "M": "months", "Q": "quarters", "Y": "years"}

DEFAULT_SEED = 42
DEFAULT_CURRENCY = "USD"
DEFAULT_LANG = "en"
LANGS: tuple[str, ...] = ("en", "zh")

#: The notebooks of the suite, in run order.
NOTEBOOKS: tuple[str, ...] = (
    "00_data_overview",
    "01_rfm_segmentation",
    "02_clustering",
    "03_clv",
    "04_lifecycle",
    "05_survival",
    "06_summary",
    "07_change",
    "08_profit_and_customers",
)


def unit_days(time_unit: str) -> float:
    """Return the length of ``time_unit`` in days.

    Raises
    ------
    ParameterError
        If the unit is not one of ``D``, ``W``, ``M``, ``Q``, ``Y``.
    """
    from clm_utils.errors import ParameterError

    key = str(time_unit).upper()
    if key not in TIME_UNITS:
        raise ParameterError(
            f"time unit {time_unit!r} is not known",
            hint=f"use one of {', '.join(TIME_UNITS)} (days, weeks, months, quarters, years)",
            parameter="time_unit",
        )
    return TIME_UNITS[key]


def duration_in_units(value: object, time_unit: str, name: str = "duration") -> float:
    """A length of time in ``time_unit`` units.

    ``value`` is a number (already in ``time_unit``) or text with its own unit: ``"26W"``,
    ``"6M"``, ``"182D"``, ``"1.5Y"`` (D, W, M = 365.25/12 days, Q, Y).  Text is the safe way to
    write a window in a notebook parameter, because it keeps its meaning when ``time_unit`` changes.

    Raises
    ------
    ParameterError
        If the text is not understood or the length is not positive.
    """
    import math
    import re

    from clm_utils.errors import ParameterError

    unit = unit_days(time_unit)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([DWMQYdwmqy])\s*", value)
        if not match:
            raise ParameterError(f"{value!r} is not understood as a length of time", parameter=name,
                                 hint='give a number of time units or text such as "26W", "6M", "182D", "1Y"')
        result = float(match.group(1)) * unit_days(match.group(2)) / unit
    else:
        try:
            result = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ParameterError(f"{value!r} is not a length of time", parameter=name,
                                 hint='e.g. 26 (time units) or "26W"') from None
    if not math.isfinite(result) or result <= 0:
        raise ParameterError(f"must be positive, got {value!r}", parameter=name)
    return result
