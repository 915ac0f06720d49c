"""The reference engine: the pandas loader and summary of :mod:`clm_utils.data` / :mod:`clm_utils.summary`.

Several files (a folder or a glob) are read one by one with the loader's own reader and column
mapping, concatenated in path order, and cleaned once, so the policies see the whole history of
every customer (returns are netted across files).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils import data as _data
from clm_utils.data import QualityReport
from clm_utils.engines._source import expand_paths
from clm_utils.summary import calibration_holdout, summarize


def load_files(
    paths: Any,
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    **policies: Any,
) -> tuple[pd.DataFrame, QualityReport]:
    """:func:`clm_utils.data.load_and_check` over one or more files (FILE, DIR, GLOB or a list)."""
    if not isinstance(paths, (list, tuple)):  # one file, a folder or a glob: the loader reads them all
        return _data.load_and_check(paths, columns, date_format, sep=sep, encoding=encoding, **policies)
    files, label = expand_paths(paths)
    if len(files) == 1:
        return _data.load_and_check(files[0], columns, date_format, sep=sep, encoding=encoding, **policies)
    frames = []
    for f in files:
        raw, _, _ = _data.read_raw(f, sep=sep, encoding=encoding)
        if columns is None and _data._is_cdnow_layout(raw):
            raw = _data._cdnow_columns(raw)
        frames.append(_data.map_columns(raw, columns, label))
    mapped = pd.concat(frames, ignore_index=True)
    return _data.clean_transactions(mapped, label=label, first_line=1, date_format=date_format, **policies)


def summarize_pandas(
    paths: Any,
    *,
    as_of: pd.Timestamp,
    calibration_end: pd.Timestamp | None = None,
    time_unit: str = "W",
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    **policies: Any,
) -> tuple[pd.DataFrame, QualityReport]:
    """Load with the pandas loader (rows after ``as_of`` counted and left out) and summarise."""
    tx, report = load_files(paths, columns, date_format, sep=sep, encoding=encoding, observation_end=as_of,
                            **policies)
    if calibration_end is None:
        return summarize(tx, as_of, time_unit), report
    return calibration_holdout(tx, calibration_end, as_of, time_unit), report


def write_summary(summary: pd.DataFrame, out: str | Path) -> str:
    """Write a summary (indexed by customer_id) to Parquet with customer_id as a column."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    summary.reset_index().to_parquet(out, index=False)
    return str(out)
