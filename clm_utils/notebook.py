"""What every notebook does first: open the run's shared analysis.

A notebook's first code cell is ``run = nbk.start(settings, run_dir)``: under ``clm run`` it
reads the analysis the run computed once; opened alone in JupyterLab it computes the analysis
for the ``settings`` overrides of its parameters cell (or reuses the cache).  Either way every
notebook shows the same customers with the same labels and numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clm_utils import analysis
from clm_utils.analysis import Analysis


def start(settings: Mapping[str, Any] | None = None, run_dir: str | Path | None = None) -> Analysis:
    """Open the shared analysis (see :func:`clm_utils.analysis.load`) and apply the plot style."""
    return analysis.load(settings, run_dir)


def setup(
    data_path: str | Path | None = None,
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    observation_end: object = None,
    calibration_end: object = None,
    time_unit: str = "W",
    currency: str | None = None,
    lang: str | None = None,
    seed: int | None = None,
    run_dir: str | Path | None = None,
    **policies: object,
) -> Analysis:
    """The older entry point with one keyword per common setting; same result as :func:`start`."""
    if run_dir not in (None, ""):
        return analysis.load(run_dir=run_dir)
    values: dict[str, Any] = dict(data_path=data_path, columns=columns, date_format=date_format, as_of=observation_end,
                                  calibration_end=calibration_end, time_unit=time_unit, currency=currency, lang=lang,
                                  seed=seed, **policies)
    return analysis.load({k: v for k, v in values.items() if v is not None})
