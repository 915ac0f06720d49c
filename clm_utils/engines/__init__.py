"""Customer summaries of large transaction logs: pandas, DuckDB (out of core) or Spark (clusters).

The one heavy step of the suite is transactions -> customer summary.  :func:`summarize_files`
does it on one of three engines with the same column mapping, the same cleaning policies, the
same data-quality counts and the same numbers (to floating-point rounding):

``pandas``
    the reference: :func:`clm_utils.data.load_and_check` + :func:`clm_utils.summary.summarize`
    (or :func:`~clm_utils.summary.calibration_holdout`); everything in memory.
``duckdb``
    SQL straight over the files, spilling to disk above ``memory_limit``; the default for
    large files on one machine.  ``pip install "clm-lab[duckdb]"``.
``spark``
    the same queries in Spark SQL, for data on a cluster (``local[*]`` on a laptop).
    ``pip install "clm-lab[spark]"`` and Java 17.
``auto``
    pandas when the input files total at most :data:`AUTO_THRESHOLD_BYTES` on disk and at most
    :data:`AUTO_THRESHOLD_ROWS` Parquet rows, DuckDB above (pandas when DuckDB is not installed).

See ``docs/scaling.md`` for measured speeds and the ``spark-submit`` command.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils import config
from clm_utils.data import QualityReport
from clm_utils.engines._common import (
    HOLDOUT_COLUMNS,
    SUMMARY_COLUMNS,
    Policies,
    parse_day,
)
from clm_utils.engines._source import Source, expand_paths, resolve_source
from clm_utils.errors import ParameterError

#: ``auto`` uses pandas up to this total input size on disk (about 2-5 million rows of CSV;
#: pandas then needs 1-2 GB), DuckDB above it.
AUTO_THRESHOLD_BYTES = 100 * 1024**2
#: ... and, for Parquet (compressed: 10M rows can take under 100 MB), up to this many rows (read
#: from the files' footers).  At 10M rows pandas took 18 s and DuckDB 3.5 s (docs/scaling.md).
AUTO_THRESHOLD_ROWS = 2_000_000
ENGINES = ("auto", "pandas", "duckdb", "spark")

__all__ = [
    "AUTO_THRESHOLD_BYTES", "AUTO_THRESHOLD_ROWS", "ENGINES", "HOLDOUT_COLUMNS", "SUMMARY_COLUMNS", "Source", "choose_engine",
    "resolve_source", "summarize_files",
]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _parquet_rows(files: list[Path]) -> int:
    """Rows of the Parquet files among ``files`` (from their footers; unreadable files count 0)."""
    import pyarrow.parquet as pq

    total = 0
    for f in files:
        if f.suffix.lower() in (".parquet", ".pq"):
            try:
                total += pq.ParquetFile(f).metadata.num_rows
            except Exception:  # noqa: BLE001 - a damaged file is reported by the reader itself
                continue
    return total


def choose_engine(paths: Any, engine: str = "auto") -> str:
    """The engine ``auto`` resolves to for ``paths`` (or ``engine`` itself, checked)."""
    if engine not in ENGINES:
        raise ParameterError(f"{engine!r} is not an engine", parameter="engine", hint=f"use one of {', '.join(ENGINES)}")
    if engine == "auto":
        files, _ = expand_paths(paths)
        size = sum(f.stat().st_size for f in files)
        large = size > AUTO_THRESHOLD_BYTES or _parquet_rows(files) > AUTO_THRESHOLD_ROWS
        return "duckdb" if large and _installed("duckdb") else "pandas"
    module = {"duckdb": "duckdb", "spark": "pyspark"}.get(engine)
    if module and not _installed(module):
        raise ParameterError(f"the {engine} engine needs the {module} package", parameter="engine",
                             hint=f'pip install "clm-lab[{engine}]"')
    return engine


def summarize_files(
    paths: str | Path | list[str | Path],
    *,
    as_of: object,
    calibration_end: object = None,
    time_unit: str = "W",
    engine: str = "auto",
    out: str | Path | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_dir: str | Path | None = None,
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    spark: Any = None,
    **policies: Any,
) -> tuple[pd.DataFrame | str, QualityReport]:
    """Customer summary (BTYD definitions) of one or more transaction files on the chosen engine.

    Parameters
    ----------
    paths
        A CSV (plain or ``.gz``) or Parquet file, a folder of them, a glob, or a list of these.
        Columns are mapped as :func:`clm_utils.data.load_transactions` maps them.
    as_of
        Observation end (inclusive); later rows are left out and counted.
    calibration_end
        When given, the calibration / holdout split of
        :func:`clm_utils.summary.calibration_holdout` instead of the plain summary.
    time_unit
        ``D``, ``W`` (default), ``M`` (365.25/12 days), ``Q`` or ``Y``.
    engine
        ``auto``, ``pandas``, ``duckdb`` or ``spark`` (see the module docstring).
    out
        Write the summary to this Parquet file (a folder of part files for Spark) and return its
        path instead of a DataFrame.
    memory_limit, threads, temp_dir
        DuckDB: memory limit such as ``"2GB"`` (spills to ``temp_dir`` above it), threads.
        Spark: ``threads`` sets the local master ``local[threads]`` when no session runs.
    columns, date_format, sep, encoding
        As for :func:`clm_utils.data.load_and_check`.
    spark
        An existing SparkSession (default: the active one, or a new local one).
    **policies
        ``negative``, ``zero``, ``duplicates``, ``invalid``, ``strict``, ``decimal``: the cleaning
        policies of :func:`clm_utils.data.clean_transactions`, same defaults.

    Returns
    -------
    (summary, quality)
        ``summary``: DataFrame indexed by ``customer_id`` (sorted) with the columns of
        :func:`clm_utils.summary.summarize` (plus ``frequency_holdout``,
        ``monetary_value_holdout``, ``duration_holdout`` with a calibration end), or the output
        path when ``out`` is given (Parquet with ``customer_id`` as a column).  ``quality``: the
        data-quality report, identical across engines.
    """
    time_unit = str(time_unit).upper()
    config.unit_days(time_unit)
    end = parse_day(as_of, "as_of")
    cal = None if calibration_end is None or calibration_end == "" else parse_day(calibration_end, "calibration_end")
    policy = Policies.from_kwargs(policies)  # checked here, so every engine rejects the same input
    chosen = choose_engine(paths, engine)
    if chosen == "pandas":
        from clm_utils.engines.pandas_engine import summarize_pandas, write_summary

        summary, report = summarize_pandas(paths, as_of=end, calibration_end=cal, time_unit=time_unit,
                                           columns=columns, date_format=date_format, sep=sep, encoding=encoding,
                                           **{k: v for k, v in policies.items() if v is not None})
        return (write_summary(summary, out) if out is not None else summary), report
    src = resolve_source(paths, columns, date_format, sep=sep, encoding=encoding)
    sample = _date_sample(src)
    if chosen == "duckdb":
        from clm_utils.engines.duckdb_engine import summarize_duckdb

        return summarize_duckdb(src, as_of=end, calibration_end=cal, time_unit=time_unit, policies=policy, out=out,
                                memory_limit=memory_limit, threads=threads, temp_dir=temp_dir, date_sample=sample)
    from clm_utils.engines.spark_engine import summarize_spark

    return summarize_spark(src, as_of=end, calibration_end=cal, time_unit=time_unit, policies=policy, out=out,
                           spark=spark, threads=threads, date_sample=sample)


def _date_sample(src: Source) -> str | None:
    """The first date value of a d/m/y text file (its separator is reused when parsing)."""
    return src.date_example if src.date_rule[0] == "slashed" else None
