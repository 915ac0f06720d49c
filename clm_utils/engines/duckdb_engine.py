"""The customer summary in DuckDB: SQL straight over the files, out of core.

DuckDB reads the CSV / gzipped CSV / Parquet files itself (``read_csv`` / ``read_parquet``), so
the data never passes through pandas.  The connection is configured for large inputs:

* ``memory_limit`` (e.g. ``"2GB"``): above it the hash aggregates and sorts spill to
  ``temp_directory`` instead of failing;
* ``threads``;
* ``preserve_insertion_order = false`` (no ordering work the summary does not need).

The queries are those of :mod:`clm_utils.engines._sql`; the result is written with
``COPY ... TO`` Parquet, sorted by customer id.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils import config
from clm_utils.data import QualityReport
from clm_utils.engines import _sql
from clm_utils.engines._common import HOLDOUT_COLUMNS, SUMMARY_COLUMNS, Policies, finish_frame, run_sql
from clm_utils.engines._source import Source
from clm_utils.errors import ParameterError


#: Rows summarised at once, at most (more rows: ranges of customers, one after the other).
ROWS_PER_BUCKET = 25_000_000
#: Above this many rows the summary is computed in at least two ranges (smaller hash tables: faster).
SPLIT_ABOVE_ROWS = 4_000_000
#: Memory of the group-bys per row summarised at once (measured: ~85-95 bytes at 12-25M rows).
BYTES_PER_ROW = 100
MAX_BUCKETS = 512
#: Share of the memory limit one range's group-bys may take.
RANGE_MEMORY_SHARE = 0.8
#: Rows sampled (system sampling) to find the ranges' bounds.
SAMPLE_ROWS = 200_000


def memory_bytes(limit: str | None) -> float:
    """Bytes of a DuckDB memory limit such as ``"2GB"`` / ``"512MiB"`` (None: DuckDB's default, 80% of RAM)."""
    if limit:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*", str(limit), flags=re.IGNORECASE)
        if not m or float(m.group(1)) <= 0:
            raise ParameterError(f"{limit!r} is not a memory size", parameter="memory_limit",
                                 hint="write it like 2GB, 512MB or 1.5GiB")
        base = 1024 if m.group(3) else 1000
        return float(m.group(1)) * base ** "BKMGT".index((m.group(2) or "B").upper())
    try:
        return 0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 * 1024**3


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _file_list(files: list[Path]) -> str:
    return "[" + ", ".join(_sql.Dialect().lit(str(f)) for f in files) + "]"


def scan_sql(src: Source, with_order: bool = True) -> str:
    """SELECT of the source as ``c<i>`` columns (only the mapped ones) plus ``_file`` and ``_row``."""
    d = _sql.Dialect()
    used = sorted(set(src.columns.values()) | set(src.other))
    files = _file_list(src.files)
    if src.kind == "parquet":
        cols = ", ".join(f"{_quote_ident(src.source_names[i])} AS c{i}" for i in used)
        order = ", filename AS _file, file_row_number AS _row" if with_order else ""
        opts = ", filename = true, file_row_number = true" if with_order else ""
        return f"SELECT {cols}{order} FROM read_parquet({files}, union_by_name = true{opts})"
    encoding = f", encoding = {d.lit(src.encoding)}" if src.encoding != "utf-8" else ""
    if src.kind == "whitespace":
        line = d.trim("line")
        cols = ", ".join(f"string_split_regex({line}, '\\s+')[{i + 1}] AS c{i}" for i in used)
        return (f"SELECT {cols}, filename AS _file, CAST(NULL AS BIGINT) AS _row FROM read_csv({files}, "
                f"columns = {{'line': 'VARCHAR'}}, delim = chr(1), quote = '', escape = '', auto_detect = false, "
                f"header = {str(src.header).lower()}, filename = true{encoding}) WHERE {line} <> ''")
    cols = ", ".join(f"c{i}" for i in used)
    return (f"SELECT {cols}, filename AS _file, CAST(NULL AS BIGINT) AS _row FROM read_csv({files}, "
            f"delim = {d.lit(src.delimiter or ',')}, header = {str(src.header).lower()}, all_varchar = true, "
            f"quote = '\"', auto_detect = false, null_padding = true, "
            f"columns = {{{', '.join(f'{chr(39)}c{i}{chr(39)}: {chr(39)}VARCHAR{chr(39)}' for i in range(src.n_fields))}}}, "
            f"filename = true{encoding})")


def first_line(src: Source) -> int:
    """File line number of the first row, as the pandas loader numbers rows in messages."""
    return 2 if len(src.files) == 1 and src.kind != "parquet" and src.header else 1


class DuckDBExecutor:
    """Runs the shared queries on one DuckDB connection."""

    dialect = _sql.Dialect()
    #: integer ids stay integers through the group-bys (text only per customer, at the end)
    native_ids = True

    def __init__(self, src: Source, *, memory_limit: str | None, threads: int | None, temp_dir: str | Path | None,
                 out: str | Path | None = None):
        import duckdb

        self.src = src
        self.out = Path(out) if out is not None else None
        self.memory_bytes = memory_bytes(memory_limit)
        self.work = Path(tempfile.mkdtemp(prefix="clm-duckdb-", dir=temp_dir))
        self.con = duckdb.connect(config={"preserve_insertion_order": False})
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute(f"SET temp_directory = {self.dialect.lit(str(self.work / 'spill'))}")
        self.con.execute("SET TimeZone = 'UTC'")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {self.dialect.lit(str(memory_limit))}")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.con.execute(f"CREATE TEMP VIEW clm_src AS {scan_sql(src)}")
        self.float_ids = False

    def close(self) -> None:
        self.con.close()
        result = getattr(self, "result", None)
        if result is not None and result.exists() and result.parent != self.work:
            result.unlink()  # an error was raised before the summary was moved to the output path
        shutil.rmtree(self.work, ignore_errors=True)

    def fetch(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).fetchdf()

    def register_customers(self, ids: list[str]) -> None:
        native = self.src.types.get(config.CUSTOMER_ID) == "integer"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE clm_neg (customer_id {'BIGINT' if native else 'VARCHAR'})")
        if ids:
            frame = pd.DataFrame({"customer_id": pd.Series(ids, dtype="object")})
            self.con.register("clm_neg_frame", frame)
            cast = "CAST(customer_id AS BIGINT)" if native else "customer_id"
            self.con.execute(f"INSERT INTO clm_neg SELECT {cast} FROM clm_neg_frame")
            self.con.unregister("clm_neg_frame")
            if self.src.kind != "parquet":
                self._ordered_rows_for_returns()

    def _ordered_rows_for_returns(self) -> None:
        """Text input has no row number: number the rows of customers with returns in file order.

        Only these customers need the file order (returns are netted in it); insertion order is
        preserved for this one statement, so ``row_number() OVER ()`` follows the files.
        """
        plan_cid = self._id_sql()
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET threads = 1")
        try:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE clm_src_net AS SELECT * EXCLUDE (_row), row_number() OVER () AS _row "
                f"FROM ({scan_sql(self.src)}) s WHERE {plan_cid} IN (SELECT customer_id FROM clm_neg)")
        finally:
            self.con.execute("RESET threads")
            self.con.execute("SET preserve_insertion_order = false")
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW clm_src_all AS {scan_sql(self.src)}")
        # the netting path reads clm_src restricted to these customers: swap in the numbered rows
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW clm_src AS SELECT * FROM clm_src_all "
                         f"WHERE {plan_cid} NOT IN (SELECT customer_id FROM clm_neg) UNION ALL SELECT * FROM clm_src_net")

    def _id_sql(self) -> str:
        plan = _sql.Plan(columns=self.src.columns, types=dict(self.src.types), date_rule=self.src.date_rule,
                         as_of="2000-01-01", calibration_end=None, unit_days=1.0, native_id=True,
                         float_ids=self.float_ids)
        return _sql.id_expr(self.dialect, plan)

    def set_rows(self, n_rows: int) -> None:
        """Number of rows read (from the counting scan): decides how many ranges of customers to summarise."""
        self.n_rows = int(n_rows)

    def bucket_count(self) -> int:
        """How many ranges of customers the summary is computed in, one after the other.

        The hash tables of the group-bys grow with the rows summarised at once (~90 bytes per
        row); summarising ranges of customers keeps them within 80% of the memory limit (so the
        group-bys do not spill) and closer to the CPU caches: on 2 cores a bare two-level group-by
        over 100M rows took 21.7 s and 10.4 GB in one piece, 19.6 s and 2.1 GB in 4 ranges.  Every
        range costs one more scan of the input (~0.7 s per 100M Parquet rows).
        """
        n = getattr(self, "n_rows", 0)
        k = max(1, math.ceil(n / ROWS_PER_BUCKET))
        if n > SPLIT_ABOVE_ROWS:
            k = max(k, 2)
        k = max(k, math.ceil(n * BYTES_PER_ROW / (RANGE_MEMORY_SHARE * self.memory_bytes)))
        return min(k, MAX_BUCKETS)

    def _bounds(self, plan: _sql.Plan, slashed: str | None, k: int) -> list[str]:
        """SQL literals of the ``k``-quantiles of the (parsed) customer ids, from a sample of the rows."""
        if k <= 1:
            return []
        pct = min(100.0, 100.0 * SAMPLE_ROWS / max(getattr(self, "n_rows", 1), 1))
        qs = ", ".join(f"{i / k:.6f}" for i in range(1, k))
        sql = (f"WITH {_sql.parsed_cte(self.dialect, plan, slashed, False)}\n"
               f"SELECT quantile_disc(customer_id, [{qs}]) AS q FROM parsed WHERE NOT bad_id")
        sample = f"(SELECT * FROM clm_src USING SAMPLE {pct:.6f} PERCENT (system))"
        values = self.con.execute(sql.replace("FROM clm_src\n", f"FROM {sample}\n")).fetchone()[0]
        if not values:
            return []
        lit = (lambda v: str(int(v))) if isinstance(values[0], int) else (lambda v: self.dialect.lit(str(v)))
        return [lit(v) for v in sorted(set(values))]

    def summary_table(self, plan: _sql.Plan, slashed: str | None, netting: bool, *, has_negative: bool,
                      has_zero: bool) -> str:
        """The summary, computed one range of customers at a time (:meth:`bucket_count`), written once.

        Each range is summarised into a temp table (:meth:`_lean_table`); its totals (the counts of
        the quality table) are kept, its summary rows are streamed sorted by customer id into one
        Parquet file (Arrow batches), and the temp table is dropped.  The ranges follow the id
        order, so the file is sorted.  The file is a temporary one until :meth:`write` moves it to
        the output path (an error raised in between leaves no output).
        """
        import pyarrow.parquet as pq

        self.float_ids = plan.float_ids
        d = self.dialect
        columns = list(SUMMARY_COLUMNS) + (list(HOLDOUT_COLUMNS) if plan.calibration_end else [])
        conds = _sql.bucket_conditions(self._bounds(plan, slashed, self.bucket_count()))
        if self.out is not None:  # next to the output: moved there once every check has passed
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.result = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}"
        else:
            self.result = self.work / "summary.parquet"
        totals: list[pd.DataFrame] = []
        writer = reader = None
        try:
            for cond in conds:
                part_plan = dataclasses.replace(plan, bucket=cond)
                self._lean_table(part_plan, slashed, netting, has_negative=has_negative, has_zero=has_zero)
                wide = f"({_sql.derived_select(d, part_plan, 'clm_lean')}) w"
                totals.append(self.fetch(_sql.totals_query(wide)))
                reader = self.con.sql(self._select(wide, columns)).to_arrow_reader(1_000_000)
                for batch in reader:
                    if writer is None:
                        writer = pq.ParquetWriter(str(self.result), batch.schema)
                    writer.write_batch(batch)
                self.con.execute("DROP TABLE clm_lean")
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # nobody in the summary: an empty file with the columns
            pq.write_table(reader.schema.empty_table(), str(self.result))
        frame = pd.concat(totals, ignore_index=True)
        self.totals_row = pd.Series({
            **{c: frame[c].sum(min_count=1) for c in ("kept", "dup", "zero", "neg", "unmatched", "customers",
                                                      "n_summary")},
            "first_date": frame["first_date"].min(), "last_date": frame["last_date"].max()})
        return "clm_result"

    def totals(self, table: str) -> pd.Series:
        """The totals row of :func:`clm_utils.engines._sql.totals_query`, summed over the ranges."""
        return self.totals_row

    def _lean_table(self, plan: _sql.Plan, slashed: str | None, netting: bool, *, has_negative: bool,
                    has_zero: bool) -> None:
        """``clm_lean``: the per-customer table (:data:`clm_utils.engines._sql.LEAN_COLUMNS`) of ``plan``'s customers.

        Files with customer, date and amount only take the one-pass path
        (:func:`clm_utils.engines._sql.fast_days_ctes`): one group-by per (customer, day) and one
        per customer; the customers with an ambiguous day (3+ different amounts) and those with
        returns to net are then replaced / added by the general path, which reads only their rows.
        Other files take the general path for everyone.
        """
        d = self.dialect
        lean = ", ".join(_sql.LEAN_COLUMNS)
        if not _sql.fast_eligible(plan):
            ctes = _sql.exact_days_ctes(d, plan, slashed, netting)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE clm_lean AS WITH {', '.join(ctes)}\n"
                             f"{_sql.lean_select(d, plan)}")
            return
        ctes = _sql.fast_days_ctes(d, plan, slashed, netting, has_negative, has_zero)
        simple = _sql.fast_is_simple(plan, netting, has_negative, has_zero)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE clm_lean AS WITH {', '.join(ctes)}\n"
                         f"{_sql.lean_select(d, plan, amb=True, simple=simple)}")
        n_amb = self.con.execute("SELECT count(*) FROM clm_lean WHERE amb").fetchone()[0]
        if n_amb:
            self.con.execute("CREATE OR REPLACE TEMP TABLE clm_amb AS SELECT customer_id FROM clm_lean WHERE amb")
            self.con.execute("DELETE FROM clm_lean WHERE amb")
            ctes = _sql.exact_days_ctes(d, plan, slashed, False, only="clm_amb", positive_only=netting)
            self.con.execute(f"INSERT INTO clm_lean ({lean}) WITH {', '.join(ctes)}\n{_sql.lean_select(d, plan)}")
        if netting:
            ctes = _sql.exact_days_ctes(d, plan, slashed, True, only="clm_neg")
            self.con.execute(f"INSERT INTO clm_lean ({lean}) WITH {', '.join(ctes)}\n{_sql.lean_select(d, plan)}")

    def failing_rows(self, plan: _sql.Plan, slashed: str | None, flag: str) -> tuple[str | None, list[int]]:
        """Raw value of the first row (file order) failing ``flag`` and the line numbers of the first five."""
        column = {"bad_id": config.CUSTOMER_ID, "bad_date": config.DATE, "bad_amount": config.AMOUNT}[flag]
        if column not in plan.columns:
            column = config.QUANTITY
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET threads = 1")
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW clm_src_plain AS {scan_sql(self.src)}")
            self.con.execute("CREATE OR REPLACE TEMP TABLE clm_src_numbered AS SELECT * EXCLUDE (_row), "
                             "row_number() OVER () - 1 AS _row FROM clm_src_plain")
        finally:
            self.con.execute("RESET threads")
            self.con.execute("SET preserve_insertion_order = false")
        sql = f"WITH {_sql.parsed_cte(self.dialect, plan, slashed, True, raw=_sql._col(plan, column))}\n" \
              f"SELECT raw_value, _row FROM parsed WHERE {flag} ORDER BY _row LIMIT 5"
        rows = self.fetch(sql.replace("FROM clm_src\n", "FROM clm_src_numbered\n"))
        self.con.execute("DROP TABLE clm_src_numbered")
        if rows.empty:
            return None, []
        return str(rows["raw_value"].iloc[0]), [int(r) + first_line(self.src) for r in rows["_row"]]

    def materialize(self, sql: str) -> str:  # pragma: no cover - the DuckDB engine always takes summary_table
        raise NotImplementedError("the DuckDB engine writes its summary in summary_table")

    def _select(self, table: str, columns: list[str]) -> str:
        """The summary columns of the customers in the summary, sorted by id."""
        cols = ", ".join(f"CAST({c} AS TIMESTAMP) AS {c}" if c in ("first_purchase", "last_purchase") else c
                         for c in columns)
        return f"SELECT customer_id, {cols} FROM {table} WHERE in_summary ORDER BY sort_key"

    def write(self, table: str, columns: list[str], out: str) -> str:
        """Move the summary file of :meth:`summary_table` onto ``out`` (a rename: never half-written)."""
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        if self.result.parent != Path(out).parent:  # another file system, perhaps: copy beside, then rename
            tmp = Path(out).parent / f".{Path(out).name}.tmp-{os.getpid()}"
            shutil.copyfile(self.result, tmp)
            self.result = tmp
        os.replace(self.result, out)
        return str(out)

    def to_pandas(self, table: str, columns: list[str]) -> pd.DataFrame:
        """The summary file of :meth:`summary_table` in the pandas contract."""
        frame = pd.read_parquet(self.result)
        return finish_frame(frame if len(frame) else frame.astype({"customer_id": "str"}), columns)


def summarize_duckdb(
    src: Source,
    *,
    as_of: pd.Timestamp,
    calibration_end: pd.Timestamp | None = None,
    time_unit: str = "W",
    policies: Policies | None = None,
    out: str | Path | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_dir: str | Path | None = None,
    date_sample: str | None = None,
) -> tuple[pd.DataFrame | str, QualityReport]:
    """Customer summary of ``src`` in DuckDB (see :func:`clm_utils.engines.summarize_files`)."""
    ex = DuckDBExecutor(src, memory_limit=memory_limit, threads=threads, temp_dir=temp_dir, out=out)
    try:
        return run_sql(ex, src, as_of=as_of, calibration_end=calibration_end, time_unit=time_unit,
                       policies=policies or Policies(), out=None if out is None else str(out), date_sample=date_sample)
    finally:
        ex.close()


def period_activity(src: Source, *, as_of: pd.Timestamp, period: str = "M", policies: Any = None,
                    threads: int | None = None, memory_limit: str | None = None) -> pd.DataFrame:
    """Active customers, purchase days and revenue per calendar period (``D``, ``W``, ``M``, ``Q``, ``Y``).

    Valid rows on or before ``as_of`` (invalid rows and amounts <= 0 left out; no netting), for
    the per-period tables of the overview notebooks.  Columns: ``period`` (first day),
    ``active_customers``, ``purchase_days``, ``revenue``.
    """
    unit = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}[period.upper()]
    ex = DuckDBExecutor(src, memory_limit=memory_limit, threads=threads, temp_dir=None)
    try:
        plan = _sql.Plan(columns=src.columns, types=dict(src.types), date_rule=src.date_rule,
                         as_of=str(as_of.date()), calibration_end=None, unit_days=1.0)
        sql = f"""WITH {_sql.parsed_cte(ex.dialect, plan, None, False)}
SELECT CAST(date_trunc('{unit}', d) AS DATE) AS period, count(DISTINCT customer_id) AS active_customers,
  count(DISTINCT customer_id || '|' || CAST(d AS VARCHAR)) AS purchase_days, sum(amount) AS revenue
FROM parsed WHERE NOT (bad_id OR bad_date OR bad_amount) AND d <= DATE '{plan.as_of}' AND amount > 0
GROUP BY 1 ORDER BY 1"""
        return ex.fetch(sql)
    finally:
        ex.close()
