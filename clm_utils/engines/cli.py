"""``clm summarize``: the customer summary of large inputs on pandas, DuckDB or Spark, to Parquet."""

from __future__ import annotations

import argparse
import time

from clm_utils import config
from clm_utils.engines import ENGINES, choose_engine, summarize_files


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``clm summarize`` (also used by ``spark-submit .../spark_engine.py``)."""
    p.add_argument("--data", metavar="FILE|DIR|GLOB", required=True,
                   help="CSV (.gz ok) or Parquet file, a folder of them, or a glob such as 'exports/*.parquet'")
    p.add_argument("--as-of", dest="as_of", metavar="DATE", required=True,
                   help="observation end (YYYY-MM-DD); later transactions are left out and counted")
    p.add_argument("--calibration-end", metavar="DATE", help="write the calibration / holdout split instead")
    p.add_argument("--time-unit", choices=list(config.TIME_UNITS), default="W", help="time unit (default W, weeks)")
    p.add_argument("--engine", choices=list(ENGINES), default="auto",
                   help="auto (default: pandas for small inputs, DuckDB above 100 MB), pandas, duckdb or spark")
    p.add_argument("--memory-limit", metavar="SIZE", help="DuckDB memory limit, e.g. 2GB (spills to disk above it)")
    p.add_argument("--threads", type=int, metavar="N", help="DuckDB threads / Spark local[N]")
    p.add_argument("--temp-dir", metavar="DIR", help="DuckDB spill folder (default: the system temp folder)")
    p.add_argument("--out", metavar="PARQUET", required=True, help="output Parquet file (a folder for Spark)")
    p.add_argument("--columns", metavar="MAP", help="column mapping, as for `clm run`")
    p.add_argument("--date-format", metavar="FMT", help="strftime format of the dates; detected when omitted")
    p.add_argument("--sep", metavar="CHAR", help="field separator of text files; detected when omitted")
    p.add_argument("--decimal", choices=[".", ","])
    p.add_argument("--negative", choices=["net", "drop", "raise"])
    p.add_argument("--zero", choices=["drop", "keep", "raise"])
    p.add_argument("--duplicates", choices=["drop", "keep", "raise"])
    p.add_argument("--invalid", choices=["raise", "drop"])
    p.add_argument("--strict", action="store_true", default=None)


def run(args: argparse.Namespace) -> int:
    """Run ``clm summarize``; print the data-quality table and where the summary went."""
    policies = {k: getattr(args, k, None) for k in ("negative", "zero", "duplicates", "invalid", "strict", "decimal")}
    engine = choose_engine(args.data, args.engine)
    start = time.perf_counter()
    out, quality = summarize_files(
        args.data, as_of=args.as_of, calibration_end=args.calibration_end, time_unit=args.time_unit, engine=engine,
        out=args.out, memory_limit=args.memory_limit, threads=args.threads, temp_dir=args.temp_dir,
        columns=args.columns, date_format=args.date_format, sep=args.sep,
        **{k: v for k, v in policies.items() if v is not None},
    )
    print(f"Data quality: {quality.file}")
    print(quality.to_text())
    print(f"\nsummary written: {out} (engine {engine}, {time.perf_counter() - start:.1f} s)")
    return 0
