"""What the SQL engines share: the order of the checks, the errors, and the data-quality table.

An engine supplies an :class:`Executor` (run a query into pandas, register the customers with
returns, materialise the wide per-customer table, write or fetch the summary).  :func:`run_sql`
runs the checks in the order :func:`clm_utils.data.clean_transactions` runs them, raises the
same errors, and builds the same :class:`~clm_utils.data.QualityReport`.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from clm_utils import config
from clm_utils.data import QualityReport
from clm_utils.engines import _sql
from clm_utils.engines._source import Source, _label
from clm_utils.errors import DataError, ParameterError
from clm_utils.summary import parse_day  # noqa: F401 - re-exported for the engines

SUMMARY_COLUMNS = (
    "frequency", "recency", "T", "monetary_value", "n_transactions", "n_purchase_days",
    "total_amount", "first_amount", "first_purchase", "last_purchase",
)
HOLDOUT_COLUMNS = ("frequency_holdout", "monetary_value_holdout", "duration_holdout")

_POLICIES = {
    "negative": ("net", "drop", "raise"),
    "zero": ("drop", "keep", "raise"),
    "duplicates": ("drop", "keep", "raise"),
    "invalid": ("raise", "drop"),
}


@dataclass
class Policies:
    """The cleaning policies of :func:`clm_utils.data.clean_transactions` (same defaults)."""

    negative: str = "net"
    zero: str = "drop"
    duplicates: str = "drop"
    invalid: str = "raise"
    strict: bool = False
    decimal: str = "."

    @classmethod
    def from_kwargs(cls, values: dict[str, Any]) -> Policies:
        known = {"negative", "zero", "duplicates", "invalid", "strict", "decimal"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"unknown option {unknown[0]!r}", parameter=unknown[0],
                                 hint=f"use one of {', '.join(sorted(known))}")
        out = cls(**{k: v for k, v in values.items() if v is not None})
        for name, allowed in _POLICIES.items():
            if getattr(out, name) not in allowed:
                raise ParameterError(f"{getattr(out, name)!r} is not a valid policy", parameter=name,
                                     hint=f"use one of {', '.join(allowed)}")
        if out.decimal not in (".", ","):
            raise ParameterError(f"{out.decimal!r} is not a decimal mark", parameter="decimal", hint="use . or ,")
        return out


class Executor(Protocol):
    """What an engine provides to :func:`run_sql`."""

    dialect: _sql.Dialect

    def fetch(self, sql: str) -> pd.DataFrame: ...

    def register_customers(self, ids: list[str]) -> None: ...

    def materialize(self, sql: str) -> str: ...

    def failing_rows(self, plan: _sql.Plan, slashed: str | None, flag: str) -> tuple[str | None, list[int]]:
        """The raw value of the first failing row (file order) and the line numbers of the first five."""
        ...

    def write(self, table: str, columns: list[str], out: str) -> str: ...

    def to_pandas(self, table: str, columns: list[str]) -> pd.DataFrame: ...


def _slashed_format(ex: Executor, plan: _sql.Plan, src: Source, sample_value: str | None) -> str:
    """Day/month order and year width of d/m/y dates over all rows (as :func:`parse_dates`)."""
    stats = ex.fetch(_sql.slashed_query(ex.dialect, plan)).iloc[0]
    first_max, second_max = stats["first_max"], stats["second_max"]
    first_big = pd.notna(first_max) and first_max > 12
    second_big = pd.notna(second_max) and second_max > 12
    if first_big and second_big:
        raise DataError("dates mix day-first and month-first order", file=src.label, column=config.DATE,
                        hint="export the dates in one format, e.g. YYYY-MM-DD")
    if first_big:
        order = "%d", "%m"
    elif second_big:
        order = "%m", "%d"
    else:
        raise DataError(f"dates such as {sample_value!r} are ambiguous (day/month or month/day)", file=src.label,
                        column=config.DATE, hint="pass --date-format '%d/%m/%Y' or '%m/%d/%Y'")
    sep = "/"
    for ch in str(sample_value or ""):
        if ch in "/.-":
            sep = ch
            break
    year = "%Y" if stats["year_min"] == 4 and stats["year_max"] == 4 else "%y"
    return f"{order[0]}{sep}{order[1]}{sep}{year}"


_FLOAT_ID = re.compile(r"-?\d+\.0+")
#: Non-ISO dates: up to this many distinct values are checked against pandas' one-by-one parser.
NON_ISO_CHECKED = 10_000


def _check_non_iso(ex: Executor, plan: _sql.Plan, src: Source, n_rows: int) -> None:
    """Dates that are not ISO 8601 in an ISO column: the pandas loader parses them one by one
    (``format="mixed"``).  The SQL engines count them as unparseable, which is the same only
    when none of them parses; otherwise refuse, naming the rule."""
    values = ex.fetch(_sql.non_iso_query(ex.dialect, plan, NON_ISO_CHECKED + 1))["value"].astype("str")
    hint = "pass --date-format for one consistent format, or use --engine pandas"
    if len(values) > NON_ISO_CHECKED:
        raise DataError(f"{n_rows:,} dates are not ISO 8601 (e.g. {values.iloc[0]!r}): they are parsed one by one "
                        "only by the pandas engine", file=src.label, column=config.DATE, n_rows=n_rows, hint=hint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, format="mixed", errors="coerce", utc=True)
    parsed = parsed.dt.tz_convert(None).dt.normalize()
    ok = parsed.notna() & (parsed >= pd.Timestamp("1900-01-01")) & (parsed < pd.Timestamp("2200-01-01"))
    if ok.any():
        raise DataError(f"{n_rows:,} dates are not ISO 8601 (e.g. {values[ok].iloc[0]!r}): they are parsed one by "
                        "one only by the pandas engine", file=src.label, column=config.DATE, n_rows=n_rows, hint=hint)


def run_sql(
    ex: Executor,
    src: Source,
    *,
    as_of: pd.Timestamp,
    calibration_end: pd.Timestamp | None,
    time_unit: str,
    policies: Policies,
    out: str | None,
    date_sample: str | None = None,
) -> tuple[pd.DataFrame | str, QualityReport]:
    """Run the checks and the summary on an engine; return (summary or output path, quality report)."""
    plan = _sql.Plan(columns=src.columns, types=dict(src.types), date_rule=src.date_rule,
                     as_of=str(as_of.date()), calibration_end=str(calibration_end.date()) if calibration_end is not None
                     else None, unit_days=config.unit_days(time_unit), negative=policies.negative,
                     zero=policies.zero, duplicates=policies.duplicates, decimal=policies.decimal,
                     other=tuple(src.other), native_id=getattr(ex, "native_ids", False))
    d = ex.dialect
    slashed = _slashed_format(ex, plan, src, date_sample) if src.date_rule[0] == "slashed" else None
    report = QualityReport(src.label)
    id_kind = plan.types[config.CUSTOMER_ID]
    float_check = "float" if id_kind == "float" else (
        "string" if id_kind == "string" and src.id_example is not None and _FLOAT_ID.fullmatch(src.id_example) else None)
    iso_check = src.date_rule[0] == "iso"
    stage = ex.fetch(_sql.stage1_query(d, plan, slashed, float_check=float_check, iso_check=iso_check))
    totals = stage.drop(columns="neg_customer").sum()
    n = {k: int(v) for k, v in totals.items()}
    if src.many:
        labels = [_label(f) for f in src.files]
        report.add("files read", len(labels), f"{labels[0]} ... {labels[-1]}" if len(labels) > 1 else labels[0],
                   status="info")
    if src.detected:
        from clm_utils.data import describe_mapping

        report.add("columns detected by name", len(src.detected), describe_mapping(src.detected), status="info")
    if src.amount_from_price:
        report.add("amount taken from the price column (no quantity column)", 1, src.amount_from_price,
                   status="info")
    report.add("rows read", n["n_read"], status="info")
    if float_check and n["n_id"] and n["n_id_float"] == n["n_id"]:
        plan.float_ids = True
        report.add("customer ids written as floats: '.0' removed", n["n_id"],
                   "every id was a whole number written like 17850.0 (a pandas export with missing ids); "
                   "now 17850, as the shop's own systems write it", status="info")
    elif float_check == "float" and n["n_id"]:
        raise DataError("customer ids are decimal numbers, not all whole: their text is kept only by the pandas "
                        "engine", file=src.label, column=config.CUSTOMER_ID,
                        hint="store the ids as text or integers, or use --engine pandas")
    if n["n_bad_id"] == n["n_read"]:
        raise DataError(f"every customer id is empty ({n['n_read']:,} rows)", file=src.label, column=config.CUSTOMER_ID,
                        hint="map the column that identifies customers with --columns customer_id=<column>; "
                        "purchases without an id cannot be followed over time")
    report.add("rows without a customer id (guests) dropped", n["n_bad_id"],
               "guest purchases cannot be followed over time; give them an id (e.g. the e-mail) to keep them"
               if n["n_bad_id"] else "")
    if iso_check and n["n_non_iso"]:
        _check_non_iso(ex, plan, src, n["n_non_iso"])
        report.add("dates not in ISO format, parsed one by one", n["n_non_iso"],
                   "check them, or pass --date-format for one consistent format")
    if config.AMOUNT not in src.columns:
        report.add("amount computed as quantity × price", n["n_read"], status="info")
    problems = [
        ("bad_date", config.DATE, "dates cannot be parsed", "unparseable dates",
         "pass --date-format (e.g. '%Y-%m-%d'), fix the rows, or pass --invalid drop"),
        ("bad_amount", config.AMOUNT, "amounts are not numbers (or implausibly large)", "non-numeric amounts",
         "remove currency text or pass --decimal ',', fix the rows, or pass --invalid drop"),
    ]
    for flag, column, what, check, hint in problems:
        count = n[f"n_{flag}"]
        if count and policies.invalid == "raise":
            example, lines = ex.failing_rows(plan, slashed, flag)
            example = f" (e.g. {example!r})" if example is not None else ""
            raise DataError(f"{count:,} {what}{example}", file=src.label, column=column, rows=lines, n_rows=count,
                            hint=hint)
        report.add(f"{check} (rows dropped)" if count else check, count)
    if n["n_after"] and policies.strict:
        raise DataError(f"{n['n_after']:,} transactions are dated after the observation end {as_of.date()}",
                        file=src.label, column=config.DATE, n_rows=n["n_after"],
                        hint="drop --strict to leave them out, or choose a later --as-of date")
    report.add(f"rows after observation end {as_of.date()} left out", n["n_after"],
               status="info" if n["n_after"] else "ok")
    if policies.duplicates == "raise":
        n_dup = int(ex.fetch(_sql.duplicates_query(d, plan, slashed)).iloc[0, 0])
        if n_dup:
            raise DataError(f"{n_dup:,} rows are exact duplicates of earlier rows", file=src.label, n_rows=n_dup,
                            hint="remove them, or pass --duplicates drop (or keep if they are real repeat purchases)")
    if policies.zero == "raise" and n["n_zero"]:
        raise DataError(f"{n['n_zero']:,} amounts are zero", file=src.label, column=config.AMOUNT,
                        n_rows=n["n_zero"], hint="pass --zero drop (free items, test orders) or --zero keep")
    if policies.negative == "raise" and n["n_negative"]:
        raise DataError(f"{n['n_negative']:,} amounts are negative (returns or refunds)", file=src.label,
                        column=config.AMOUNT, n_rows=n["n_negative"],
                        hint="pass --negative net (net returns against purchases) or --negative drop")
    netting = policies.negative == "net" and n["n_negative"] > 0
    if hasattr(ex, "float_ids"):
        ex.float_ids = plan.float_ids  # the executor's own id expression (file-order numbering) follows the plan
    neg_ids = stage["neg_customer"].dropna().astype(str)
    if plan.float_ids:  # stage 1 wrote them as the file did (17850.0)
        neg_ids = neg_ids.str.replace(r"\.0+$", "", regex=True)
    ex.register_customers(sorted(neg_ids) if netting else [])
    if hasattr(ex, "summary_table"):
        ex.set_rows(n["n_read"])
        wide = ex.summary_table(plan, slashed, netting, has_negative=n["n_negative"] > 0, has_zero=n["n_zero"] > 0)
    else:
        wide = ex.materialize(_sql.summary_query(d, plan, slashed, netting))
    t = ex.totals(wide) if hasattr(ex, "totals") else ex.fetch(_sql.totals_query(wide)).iloc[0]
    count = {k: (int(t[k]) if pd.notna(t[k]) else 0) for k in ("kept", "dup", "zero", "neg", "unmatched", "customers",
                                                                 "n_summary")}
    dup_word = "dropped" if policies.duplicates == "drop" else "kept"
    report.add(f"exact duplicate rows {dup_word}", count["dup"],
               f"identical in all {src.n_fields - (1 if src.n_fields == 5 and src.kind == 'whitespace' else 0)} "
               "columns of the file" if count["dup"] else "",
               status=None if dup_word == "dropped" else ("info" if count["dup"] else "ok"))
    zero_word = "dropped" if policies.zero == "drop" else "kept"
    report.add(f"zero-amount rows {zero_word}", count["zero"],
               status=None if zero_word == "dropped" else ("info" if count["zero"] else "ok"))
    if not netting:
        neg_word = "dropped" if policies.negative == "drop" else "kept"
        report.add(f"negative-amount rows (returns) {neg_word}", count["neg"],
                   status=None if neg_word == "dropped" else ("info" if count["neg"] else "ok"))
    else:
        report.add("returns netted against earlier purchases", count["neg"] - count["unmatched"])
        report.add("returns without an earlier purchase dropped", count["unmatched"])
    if count["kept"] == 0:
        raise DataError("no transactions are left after cleaning", file=src.label,
                        hint="see `clm validate` for what was dropped; check the policies and --as-of")
    first, last = pd.Timestamp(t["first_date"]), pd.Timestamp(t["last_date"])
    report.add("transactions kept", count["kept"], status="info")
    report.add("customers", count["customers"], status="info")
    report.add("date range (days)", int((last - first).days) + 1, f"{first.date()} to {last.date()}", status="info")
    if calibration_end is not None:
        if calibration_end < first:
            raise ParameterError(f"{calibration_end.date()} is before the first transaction ({first.date()})",
                                 parameter="calibration_end", hint=f"choose a date after {first.date()}")
        if calibration_end >= as_of:
            raise ParameterError(f"{calibration_end.date()} is not before the observation end {as_of.date()}",
                                 parameter="calibration_end",
                                 hint="choose a calibration end before the observation end")
    columns = list(SUMMARY_COLUMNS) + (list(HOLDOUT_COLUMNS) if calibration_end is not None else [])
    if out is not None:
        return ex.write(wide, columns, out), report
    return ex.to_pandas(wide, columns), report


def finish_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The engines' result in the pandas contract: indexed by customer_id (sorted), pandas dtypes."""
    frame = frame.set_index(config.CUSTOMER_ID).sort_index()
    frame.index = frame.index.astype("str")
    for c in ("first_purchase", "last_purchase"):
        frame[c] = pd.to_datetime(frame[c]).astype("datetime64[ns]")
    for c in ("frequency", "n_transactions", "n_purchase_days", "frequency_holdout"):
        if c in frame:
            frame[c] = frame[c].astype("int64")
    for c in ("recency", "T", "monetary_value", "total_amount", "first_amount", "monetary_value_holdout",
              "duration_holdout"):
        if c in frame:
            frame[c] = frame[c].astype("float64")
    return frame[columns]
