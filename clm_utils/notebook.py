"""What every notebook does first: load and check the data, resolve the dates, summarise.

Each notebook's third cell is ``ctx = nbk.setup(...)`` with the common parameters, so the
notebooks differ only in their analysis, and a user's data, column mapping and as-of date
reach every notebook the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clm_utils import config
from clm_utils.data import QualityReport, load_input
from clm_utils.errors import ParameterError
from clm_utils.plots import apply_style
from clm_utils.summary import resolve_dates, summarize


@dataclass
class Context:
    """The inputs every notebook shares.

    Attributes
    ----------
    transactions
        Canonical transactions up to ``observation_end`` (later rows are left out and counted).
    quality
        The data-quality report of the load.
    summary
        Customer summary at ``observation_end`` (:func:`clm_utils.summary.summarize`).
    observation_end, calibration_end
        Resolved dates (see :func:`clm_utils.summary.resolve_dates`).
    """

    transactions: pd.DataFrame
    quality: QualityReport
    summary: pd.DataFrame
    observation_end: pd.Timestamp
    calibration_end: pd.Timestamp
    time_unit: str
    currency: str
    lang: str
    seed: int
    data_label: str

    @property
    def unit_name(self) -> str:
        """``weeks``, ``days``, ... for axis labels."""
        return config.TIME_UNIT_NAMES[self.time_unit]

    def describe(self) -> str:
        """One paragraph naming the data and the dates, for the top of a report."""
        n_cust = len(self.summary)
        return (
            f"Data: {self.data_label}; {len(self.transactions):,} transactions of {n_cust:,} customers, "
            f"{self.transactions['date'].min().date()} to {self.observation_end.date()} (as-of date); "
            f"calibration end {self.calibration_end.date()}; time unit: {self.unit_name}; currency {self.currency}."
        )


def setup(
    data_path: str | Path | None = None,
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    observation_end: object = None,
    calibration_end: object = None,
    time_unit: str = "W",
    currency: str = config.DEFAULT_CURRENCY,
    lang: str = config.DEFAULT_LANG,
    seed: int = config.DEFAULT_SEED,
    **policies: object,
) -> Context:
    """Load, validate and summarise the data for a notebook, and apply the plot style.

    Parameters
    ----------
    data_path
        The transaction file; None means the bundled CDNOW master file.
    columns, date_format, **policies
        See :func:`clm_utils.data.load_and_check`.
    observation_end
        The as-of date; transactions after it are left out (and counted).  Defaults to the last
        transaction date.
    calibration_end
        End of the calibration period for holdout validation; defaults to the midpoint.
    time_unit, currency, lang, seed
        Passed through to the analyses.
    """
    config.unit_days(time_unit)
    if lang not in config.LANGS:
        raise ParameterError(f"{lang!r} is not supported", parameter="lang", hint="use en or zh")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ParameterError(f"{seed!r} is not a whole number", parameter="seed", hint="use e.g. 42")
    obs = None if observation_end in (None, "") else pd.Timestamp(str(observation_end)).normalize()
    transactions, quality = load_input(data_path, columns, date_format, observation_end=obs, **policies)
    cal, obs = resolve_dates(transactions, obs, calibration_end)
    summary = summarize(transactions, obs, time_unit)
    apply_style()
    label = "CDNOW master (bundled)" if data_path in (None, "") else Path(str(data_path)).name
    return Context(transactions, quality, summary, obs, cal, time_unit.upper(), currency, lang, seed, label)
