"""The customer summary in Apache Spark: the same SQL as DuckDB, in Spark SQL.

The same code runs on a laptop (``local[*]``) and on a cluster (``spark-submit``, EMR, Dataproc,
Databricks): the input files are read by Spark's CSV / text / Parquet readers into a view, and
the queries of :mod:`clm_utils.engines._sql` do the rest; nothing is collected to the driver
except the data-quality counts and the customers with returns.

Run on a cluster (see ``docs/scaling.md``)::

    spark-submit --master yarn -m clm_utils.engines.spark_engine ...   # or
    spark-submit --master yarn clm_utils/engines/spark_engine.py --data 's3://...' ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils.data import QualityReport
from clm_utils.engines import _sql
from clm_utils.engines._common import Policies, finish_frame, run_sql
from clm_utils.engines._source import Source

#: Settings of the local session created when none is running (tests, laptops).
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "2g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def get_session(threads: int | None = None) -> Any:
    """The active SparkSession, or a new local one (``local[threads]``, default all cores)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.master(f"local[{threads or '*'}]").appName("clm-summarize")
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _source_frame(spark: Any, src: Source) -> Any:
    """The input as a DataFrame with columns ``c<i>`` (mapped ones), ``_file`` and ``_row``."""
    from pyspark.sql import functions as F

    files = [str(f) for f in src.files]
    used = sorted(set(src.columns.values()) | set(src.other))
    if src.kind == "parquet":
        df = spark.read.parquet(*files)
        cols = [F.col(f"`{src.source_names[i]}`").alias(f"c{i}") for i in used]
    elif src.kind == "csv":
        df = (spark.read.option("sep", src.delimiter).option("header", str(src.header).lower())
              .option("inferSchema", "false").option("ignoreLeadingWhiteSpace", "true")
              .option("encoding", "ISO-8859-1" if src.encoding == "latin-1" else "UTF-8").csv(files))
        df = df.toDF(*[f"c{i}" for i in range(len(df.columns))])
        cols = [F.col(f"c{i}") if i < len(df.columns) else F.lit(None).cast("string").alias(f"c{i}") for i in used]
    else:
        df = spark.read.option("encoding", "ISO-8859-1" if src.encoding == "latin-1" else "UTF-8").text(files)
        line = F.regexp_replace(F.trim(F.col("value")), r"^\s+|\s+$", "")
        df = df.where(line != "")
        if src.header:
            df = df.where(F.regexp_replace(line, r"\s+", " ") != " ".join(src.source_names))
        parts = F.split(line, r"\s+")
        cols = [parts.getItem(i).alias(f"c{i}") for i in used]
    return df.select(*cols, F.input_file_name().alias("_file"), F.monotonically_increasing_id().alias("_row"))


def _to_pandas(df: Any) -> pd.DataFrame:
    """``DataFrame.toPandas`` without pyspark's warnings about pandas 3 (its own deprecated calls)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return df.toPandas()


class SparkExecutor:
    """Runs the shared queries in Spark SQL."""

    dialect = _sql.SparkDialect()

    def __init__(self, spark: Any, src: Source):
        self.spark = spark
        self.src = src
        self._persisted: list[Any] = []
        self._old_tz = spark.conf.get("spark.sql.session.timeZone")
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        _source_frame(spark, src).createOrReplaceTempView("clm_src")

    def close(self) -> None:
        for df in self._persisted:
            df.unpersist()
        for view in ("clm_src", "clm_neg", "clm_wide"):
            self.spark.catalog.dropTempView(view)
        self.spark.conf.set("spark.sql.session.timeZone", self._old_tz)

    def fetch(self, sql: str) -> pd.DataFrame:
        return _to_pandas(self.spark.sql(sql))

    def register_customers(self, ids: list[str]) -> None:
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField("customer_id", StringType(), False)])
        self.spark.createDataFrame([(i,) for i in ids], schema).createOrReplaceTempView("clm_neg")

    def failing_rows(self, plan: _sql.Plan, slashed: str | None, flag: str) -> tuple[str | None, list[int]]:
        """Raw value of the first row (file order) failing ``flag`` and the line numbers of the first five.

        The line of a row is its position in its file (rows of the same file with a smaller
        ``monotonically_increasing_id``) plus the rows of the earlier files, as the pandas loader
        numbers the rows of the concatenated files.
        """
        from clm_utils import config
        from clm_utils.engines.duckdb_engine import first_line

        column = {"bad_id": config.CUSTOMER_ID, "bad_date": config.DATE, "bad_amount": config.AMOUNT}[flag]
        if column not in plan.columns:
            column = config.QUANTITY
        sql = (f"WITH {_sql.parsed_cte(self.dialect, plan, slashed, True, raw=_sql._col(plan, column))},\n"
               f"numbered AS (SELECT raw_value, _file, {flag} AS bad,\n"
               "  row_number() OVER (PARTITION BY _file ORDER BY _row) - 1 AS pos FROM parsed),\n"
               "firsts AS (SELECT raw_value, _file, pos, row_number() OVER (PARTITION BY _file ORDER BY pos) AS k\n"
               "  FROM numbered WHERE bad)\n"
               "SELECT raw_value, _file, pos FROM firsts WHERE k <= 5")
        rows = self.fetch(sql)
        sizes = self.fetch("SELECT _file, count(*) AS n FROM clm_src GROUP BY _file")
        order = {str(Path(f)): i for i, f in enumerate(self.src.files)}

        def file_index(name: str) -> int:
            from urllib.parse import unquote, urlparse

            return order.get(str(Path(unquote(urlparse(name).path))), len(order))

        sizes["i"] = sizes["_file"].map(file_index)
        sizes = sizes.sort_values("i")
        offset = dict(zip(sizes["_file"], sizes["n"].cumsum() - sizes["n"]))
        if rows.empty:
            return None, []
        rows["i"] = rows["_file"].map(file_index)
        rows = rows.sort_values(["i", "pos"]).head(5)
        lines = [int(offset[f] + p) + first_line(self.src) for f, p in zip(rows["_file"], rows["pos"])]
        return str(rows["raw_value"].iloc[0]), lines

    def materialize(self, sql: str) -> str:
        from pyspark import StorageLevel

        df = self.spark.sql(sql).persist(StorageLevel.MEMORY_AND_DISK)
        self._persisted.append(df)
        df.createOrReplaceTempView("clm_wide")
        return "clm_wide"

    def _select(self, table: str, columns: list[str]) -> Any:
        cols = ", ".join(f"CAST({c} AS TIMESTAMP) AS {c}" if c in ("first_purchase", "last_purchase") else c
                         for c in columns)
        return self.spark.sql(f"SELECT customer_id, {cols} FROM {table} WHERE in_summary ORDER BY customer_id")

    def write(self, table: str, columns: list[str], out: str) -> str:
        self._select(table, columns).write.mode("overwrite").parquet(str(out))
        return str(out)

    def to_pandas(self, table: str, columns: list[str]) -> pd.DataFrame:
        frame = _to_pandas(self._select(table, columns))
        for c in ("first_purchase", "last_purchase"):  # timestamps arrive in the session time zone (UTC)
            if getattr(frame[c].dt, "tz", None) is not None:
                frame[c] = frame[c].dt.tz_convert(None)
        return finish_frame(frame, columns)


def summarize_spark(
    src: Source,
    *,
    as_of: pd.Timestamp,
    calibration_end: pd.Timestamp | None = None,
    time_unit: str = "W",
    policies: Policies | None = None,
    out: str | Path | None = None,
    spark: Any = None,
    threads: int | None = None,
    date_sample: str | None = None,
) -> tuple[pd.DataFrame | str, QualityReport]:
    """Customer summary of ``src`` in Spark (see :func:`clm_utils.engines.summarize_files`)."""
    ex = SparkExecutor(spark or get_session(threads), src)
    try:
        return run_sql(ex, src, as_of=as_of, calibration_end=calibration_end, time_unit=time_unit,
                       policies=policies or Policies(), out=None if out is None else str(out), date_sample=date_sample)
    finally:
        ex.close()


def main(argv: list[str] | None = None) -> int:
    """``spark-submit clm_utils/engines/spark_engine.py --data ... --as-of ... --out ...``."""
    from clm_utils.engines.cli import add_arguments, run

    parser = argparse.ArgumentParser(prog="spark_engine", description="Customer summary on Spark")
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.engine = "spark"
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
