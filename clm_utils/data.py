"""Loading, column mapping, validation and cleaning of transaction data.

Every problem in the input becomes one :class:`~clm_utils.errors.DataError` naming the file, the
column, the first offending rows (as line numbers of the file, the header being line 1) and a
hint.  Problems that a policy resolves (duplicates dropped, returns netted, ...) are counted in a
:class:`QualityReport`, which the notebooks and ``clm validate`` show as the data-quality table.

The canonical transactions frame (DESIGN.md) has the columns

``customer_id``
    str, stripped of surrounding white space; never missing.
``date``
    datetime64[ns], normalised to the day (time of day and time zones are dropped).
``amount``
    float64, currency units, > 0 after cleaning.
``quantity``
    float64, optional (only when the input has it).

and is sorted by ``customer_id`` then ``date`` (stable, so equal keys keep file order).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.errors import DataError, ParameterError

NegativePolicy = Literal["net", "drop", "raise"]
ZeroPolicy = Literal["drop", "keep", "raise"]
DuplicatePolicy = Literal["drop", "keep", "raise"]
InvalidPolicy = Literal["raise", "drop"]

CANONICAL = (config.CUSTOMER_ID, config.DATE, config.AMOUNT, config.QUANTITY)
#: A unit price column, used only to compute ``amount = quantity * price`` when no amount is given.
PRICE = "price"

#: Names recognised without a mapping (compared after lower-casing and dropping non-alphanumerics).
SYNONYMS: dict[str, tuple[str, ...]] = {
    config.CUSTOMER_ID: (
        "customerid", "customer", "custid", "customerno", "customernumber", "clientid", "client",
        "userid", "memberid", "accountid", "buyerid", "shopperid",
    ),
    config.DATE: (
        "date", "orderdate", "invoicedate", "transactiondate", "purchasedate", "txdate", "datetime",
        "timestamp", "orderdatetime", "saledate",
    ),
    config.AMOUNT: (
        "amount", "sales", "revenue", "value", "total", "totalamount", "dollarvalue", "spend",
        "ordervalue", "monetary", "netamount", "amountspent", "salesamount", "ordertotal",
    ),
    config.QUANTITY: ("quantity", "qty", "numberofcds", "units", "items", "nitems"),
    PRICE: ("price", "unitprice", "itemprice"),
}

_CURRENCY_CHARS = re.compile(r"[\s$€£¥₹₩₽¤]|[A-Za-z]{3}$|^[A-Za-z]{3}")


# --------------------------------------------------------------------------------------------
# Quality report
# --------------------------------------------------------------------------------------------
@dataclass
class QualityReport:
    """The data-quality table of one load: what was read, checked, dropped or changed.

    Attributes
    ----------
    file
        The file (or label) the data came from.
    rows
        One dict per check: ``check``, ``status`` (``ok``, ``info``, ``warning``), ``count`` and
        ``detail``.
    """

    file: str
    rows: list[dict[str, object]] = field(default_factory=list)

    def add(self, check: str, count: int | float, detail: str = "", status: str | None = None) -> None:
        """Record one check; ``status`` defaults to ``ok`` for 0 and ``warning`` otherwise."""
        if status is None:
            status = "ok" if not count else "warning"
        self.rows.append({"check": check, "status": status, "count": count, "detail": detail})

    @property
    def n_warnings(self) -> int:
        """How many checks ended in a warning."""
        return sum(1 for r in self.rows if r["status"] == "warning")

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame with columns check, status, count, detail (in check order)."""
        return pd.DataFrame(self.rows, columns=["check", "status", "count", "detail"])

    def to_text(self) -> str:
        """The table as plain text, for the terminal."""
        frame = self.to_frame()
        frame["count"] = frame["count"].map(lambda v: f"{v:,}" if isinstance(v, (int, np.integer)) else str(v))
        return frame.to_string(index=False)


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------
def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _detect_format(path: Path, head: bytes) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if head.startswith(b"PAR1") or suffixes[-1:] in ([".parquet"], [".pq"]):
        return "parquet"
    if head.startswith(b"PK\x03\x04") or suffixes[-1:] in ([".xlsx"], [".xls"]):
        return "excel"
    if suffixes[-1:] == [".gz"] or head.startswith(b"\x1f\x8b"):
        return "gzip"
    return "text"


def _decode(raw: bytes, label: str) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DataError("cannot be decoded as text", file=label, hint="save the file as UTF-8 CSV")  # pragma: no cover


def _sniff_delimiter(text: str) -> str | None:
    """Return ``,``, ``;``, tab or ``|``, or None for white-space separated text."""
    sample_lines = [line for line in text[:65536].splitlines()[:50] if line.strip()]
    if not sample_lines:
        return None
    sample = "\n".join(sample_lines)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        delim = dialect.delimiter
        counts = [line.count(delim) for line in sample_lines]
        if min(counts) >= 1 and len(set(counts)) <= 2:
            return delim
    except csv.Error:
        pass
    for delim in (",", ";", "\t", "|"):
        counts = [line.count(delim) for line in sample_lines]
        if min(counts) >= 1 and max(counts) == min(counts):
            return delim
    # ragged rows: trust the separator of the header line, so the parser can name the bad rows
    header_counts = {d: sample_lines[0].count(d) for d in (",", ";", "\t", "|")}
    best = max(header_counts, key=lambda d: header_counts[d])
    return best if header_counts[best] > 0 else None


def _ragged_lines(text: str, delim: str, n_fields: int) -> list[int]:
    """File line numbers of the rows whose field count differs from the header's (error path only)."""
    bad = []
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delim), 1):
        if row and any(f.strip() for f in row) and len(row) != n_fields:
            bad.append(number)
    return bad


def _looks_like_header(fields: list[str]) -> bool:
    """A first row is a header when none of its fields parses as a number."""

    def numeric(value: str) -> bool:
        try:
            float(value.replace(",", ""))
            return True
        except ValueError:
            return False

    return not any(numeric(f) for f in fields)


def read_raw(path: str | Path, *, sep: str | None = None, encoding: str | None = None) -> tuple[pd.DataFrame, str, int]:
    """Read a transaction file into a frame of strings (no parsing of values yet).

    Parameters
    ----------
    path
        CSV/TSV/semicolon/pipe separated text (optionally ``.gz``), Parquet, or white-space
        separated text such as the CDNOW files.
    sep
        Field separator; detected when None.
    encoding
        Text encoding; UTF-8 (with or without BOM), then cp1252, then latin-1 are tried when None.

    Returns
    -------
    (frame, label, first_line)
        The raw frame (all columns as strings for text input), the file label used in error
        messages, and the file line number of the frame's first row (2 with a header, else 1).
    """
    path = Path(path)
    label = _label(path)
    if not path.exists():
        raise DataError("file not found", file=label, hint="check the path given with --data / data_path")
    if path.is_dir():
        raise DataError("is a folder, not a file", file=label, hint="point --data at a CSV or Parquet file")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise DataError(f"cannot be read ({exc.strerror})", file=label, hint="check the file permissions") from None
    if path.stat().st_size == 0:
        raise DataError("the file is empty", file=label, hint="export the transactions again")
    kind = _detect_format(path, head)
    if kind == "excel":
        raise DataError(
            "Excel workbooks are not read directly", file=label, hint="save the sheet as CSV (UTF-8) and pass that file"
        )
    if kind == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
            raise DataError(f"is not a readable Parquet file ({type(exc).__name__})", file=label,
                            hint="write it again with pandas.DataFrame.to_parquet") from None
        if frame.empty:
            raise DataError("the file has no rows", file=label, hint="export the transactions again")
        frame.columns = [str(c) for c in frame.columns]
        return frame, label, 1
    raw = path.read_bytes()
    if kind == "gzip":
        import gzip

        try:
            raw = gzip.decompress(raw)
        except OSError:
            raise DataError("is not a valid gzip file", file=label, hint="decompress it and pass the CSV") from None
    if b"\x00" in raw[:4096]:
        raise DataError("looks binary, not text", file=label, hint="pass a CSV, TSV or Parquet file")
    text, enc = (raw.decode(encoding), encoding) if encoding else _decode(raw, label)
    if not text.strip():
        raise DataError("the file is empty", file=label, hint="export the transactions again")
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype", "<html", "<?xml", "<")):
        raise DataError("looks like a web page or XML, not a table of transactions", file=label,
                        hint="download the export again as CSV")
    if start.startswith(("[", "{")):
        raise DataError("looks like JSON, not CSV", file=label,
                        hint="convert it to CSV or Parquet, e.g. pandas.read_json(...).to_csv(...)")
    delim = sep or _sniff_delimiter(text)
    first_line_text = text.lstrip()[:65536].splitlines()[0]
    first_fields = first_line_text.split(delim) if delim else first_line_text.split()
    first_fields = [f.strip().strip('"').strip("'") for f in first_fields]
    header = _looks_like_header(first_fields)
    if header:
        seen = [f for f in first_fields if f]
        dupes = sorted({f for f in seen if seen.count(f) > 1})
        if dupes:
            raise DataError(f"two columns are named {dupes[0]!r}", file=label, column=dupes[0],
                            hint="rename one of them in the header, then map it with --columns")
    try:
        if delim is None:
            frame = pd.read_csv(io.StringIO(text), sep=r"\s+", header=0 if header else None, dtype=str,
                                engine="python" if len(text) < 2_000 else "c", skip_blank_lines=True)
        else:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(io.StringIO(text), sep=delim, header=0 if header else None, dtype=str,
                                    skip_blank_lines=True, skipinitialspace=True, index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        rows = _ragged_lines(text, delim, len(first_fields)) if delim else []
        raise DataError("has rows with the wrong number of fields", file=label, rows=rows[:5], n_rows=len(rows),
                        hint="check for unquoted separators in text fields, or pass --sep") from None
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=label, hint="export the transactions again") from None
    if frame.empty:
        raise DataError("the file has a header but no rows", file=label, hint="export the transactions again")
    if not header:
        frame.columns = [f"column_{i + 1}" for i in range(frame.shape[1])]
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, label, 2 if header else 1


# --------------------------------------------------------------------------------------------
# Column mapping
# --------------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def parse_columns(spec: str | Mapping[str, str] | None) -> dict[str, str] | None:
    """Parse a column mapping given as a dict or as ``"a=b,c=d"`` text (the CLI form).

    Either direction is accepted: ``{"CustomerID": "customer_id"}`` (user's name to canonical)
    or ``{"customer_id": "CustomerID"}``.  The result always maps the user's name to the
    canonical name.
    """
    if spec is None or spec == "" or spec == {}:
        return None
    if isinstance(spec, str):
        pairs: dict[str, str] = {}
        for item in spec.split(","):
            if not item.strip():
                continue
            if "=" not in item and ":" not in item:
                raise ParameterError(f"cannot read {item!r} as name=name", parameter="columns",
                                     hint="write --columns customer_id=CustomerID,date=InvoiceDate,amount=Total")
            left, right = re.split(r"[=:]", item, maxsplit=1)
            pairs[left.strip()] = right.strip()
        spec = pairs
    if not isinstance(spec, Mapping):
        raise ParameterError("must be a mapping of column names", parameter="columns",
                             hint='use {"YourCustomerColumn": "customer_id", ...}')
    canonical = set(CANONICAL) | {PRICE}
    mapping: dict[str, str] = {}
    for left, right in spec.items():
        left, right = str(left), str(right)
        if right in canonical and left not in canonical:
            mapping[left] = right
        elif left in canonical and right not in canonical:
            mapping[right] = left
        elif left in canonical and right in canonical:
            mapping[left] = right
        else:
            raise ParameterError(
                f"neither {left!r} nor {right!r} is one of {', '.join(sorted(canonical))}",
                parameter="columns", hint="map each of your columns onto customer_id, date, amount (or quantity, price)",
            )
    targets = list(mapping.values())
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    if dupes:
        raise ParameterError(f"more than one column is mapped onto {dupes[0]!r}", parameter="columns",
                             hint="map exactly one of your columns onto each canonical name")
    return mapping


def map_columns(frame: pd.DataFrame, columns: Mapping[str, str] | str | None, label: str) -> pd.DataFrame:
    """Rename the user's columns to the canonical names, detecting them when no mapping is given.

    Raises
    ------
    DataError
        When a required column is missing, a mapped column does not exist, or two columns could
        both be the same canonical column.
    """
    mapping = parse_columns(columns) or {}
    available = list(frame.columns)
    for user_name in mapping:
        if user_name not in available:
            raise DataError(f"the mapped column {user_name!r} is not in the file", file=label, column=user_name,
                            hint=f"the file has the columns {', '.join(map(repr, available[:12]))}")
    found: dict[str, str] = {canonical: user for user, canonical in mapping.items()}
    norm_available = {c: _norm(c) for c in available if c not in mapping}
    for canonical, names in SYNONYMS.items():
        if canonical in found:
            continue
        exact = [c for c in norm_available if c == canonical]
        matches = exact or [c for c, n in norm_available.items() if n in names]
        if len(matches) > 1:
            raise DataError(
                f"the columns {', '.join(map(repr, matches))} could all be '{canonical}'", file=label,
                column=matches[0], hint=f"say which one with --columns {canonical}={matches[0]}",
            )
        if matches:
            found[canonical] = matches[0]
    if config.AMOUNT not in found and config.QUANTITY in found and PRICE in found:
        pass  # amount is computed from quantity * price below
    missing = [c for c in config.REQUIRED_COLUMNS if c not in found
               and not (c == config.AMOUNT and config.QUANTITY in found and PRICE in found)]
    if missing:
        raise DataError(
            f"no column for {', '.join(map(repr, missing))}", file=label,
            hint=f"the file has {', '.join(map(repr, available[:12]))}; map them with "
            f"--columns {missing[0]}=<your column>",
        )
    keep = {user: canonical for canonical, user in found.items()}
    return frame[list(keep)].rename(columns=keep)


# --------------------------------------------------------------------------------------------
# Value parsing
# --------------------------------------------------------------------------------------------
def _first_rows(mask: np.ndarray, first_line: int, limit: int = 5) -> list[int]:
    return [int(i) + first_line for i in np.flatnonzero(mask)[:limit]]


def parse_amount(values: pd.Series, *, decimal: str = ".") -> pd.Series:
    """Parse amounts that may carry currency symbols, thousands separators or ``(12.00)`` negatives.

    Returns a float Series; values that cannot be read are NaN (the caller reports them).
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    plain = pd.to_numeric(values, errors="coerce").astype("float64")  # fast path: plain numbers
    retry = plain.isna() & values.notna()
    if not retry.any():
        return plain
    return plain.where(~retry, _parse_messy_amount(values[retry], decimal))


def _parse_messy_amount(values: pd.Series, decimal: str) -> pd.Series:
    text = values.astype("str").str.strip()
    text = text.where(values.notna(), "")
    negative = text.str.startswith("(") & text.str.endswith(")")
    text = text.str.strip("()")
    text = text.str.replace(_CURRENCY_CHARS, "", regex=True)
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    text = text.str.replace("\u2212", "-", regex=False)
    out = pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
    return out.where(~negative, -out)


#: Larger absolute amounts are treated as unreadable (overflow, ids pasted into the amount column).
MAX_AMOUNT = 1e12
#: Dates outside this range are treated as unreadable (they are typos, not transactions).
EARLIEST_DATE = pd.Timestamp("1900-01-01")
LATEST_DATE = pd.Timestamp("2200-01-01")

_SLASH = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})")


def parse_dates(values: pd.Series, date_format: str | None, label: str, column: str, first_line: int,
                notes: list[int] | None = None) -> pd.Series:
    """Parse dates to day-precision, time-zone-naive datetime64.

    Without ``date_format`` the parser accepts ISO 8601 (``1997-01-31``, with or without time and
    offset), compact ``YYYYMMDD`` (CDNOW) and day/month/year or month/day/year with ``/``, ``.``
    or ``-``.  The order of day and month is decided from the data (a first field above 12 means
    day first); when no value tells, the dates are ambiguous and a :class:`DataError` asks for
    ``date_format``.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.astype("str").str.strip().where(values.notna(), "")
        nonblank = text[text != ""]
        if date_format is not None:
            parsed = pd.to_datetime(text.where(text != ""), format=date_format, errors="coerce")
        elif len(nonblank) and nonblank.iloc[:1000].str.fullmatch(r"\d{8}").all() and nonblank.str.fullmatch(r"\d{8}").all():
            parsed = pd.to_datetime(text.where(text != ""), format="%Y%m%d", errors="coerce")
        elif len(nonblank) and (iso := pd.to_datetime(text.where(text != ""), format="ISO8601", errors="coerce",
                                                     utc=True)).notna().sum() == len(nonblank):
            parsed = iso.dt.tz_convert(None)  # fast path: every date is ISO 8601
        else:
            parts = nonblank.str.extract(_SLASH)
            slashed = parts[0].notna()
            if len(nonblank) and slashed.mean() > 0.5:
                first = pd.to_numeric(parts.loc[slashed, 0])
                second = pd.to_numeric(parts.loc[slashed, 1])
                year_len = parts.loc[slashed, 2].str.len()
                if (first > 12).any() and (second > 12).any():
                    raise DataError("dates mix day-first and month-first order", file=label, column=column,
                                    hint="export the dates in one format, e.g. YYYY-MM-DD")
                if (first > 12).any():
                    order = "%d", "%m"
                elif (second > 12).any():
                    order = "%m", "%d"
                else:
                    example = nonblank[slashed].iloc[0]
                    raise DataError(f"dates such as {example!r} are ambiguous (day/month or month/day)",
                                    file=label, column=column,
                                    hint="pass --date-format '%d/%m/%Y' or '%m/%d/%Y'")
                found = re.search(r"\d([/.\-])\d", nonblank[slashed].iloc[0])
                sep = found.group(1) if found else "/"
                yfmt = "%Y" if (year_len == 4).all() else "%y"
                fmt = f"{order[0]}{sep}{order[1]}{sep}{yfmt}"
                head = text.str.extract(r"^\s*(\S+)")[0]  # the time of day, if any, is not used
                parsed = pd.to_datetime(head.where(text != ""), format=fmt, errors="coerce")
            else:
                parsed = pd.to_datetime(text.where(text != ""), format="ISO8601", errors="coerce", utc=True)
                retry = parsed.isna() & (text != "")
                if retry.any() and notes is not None:
                    notes.append(int(retry.sum()))
                if retry.any():
                    alt = pd.to_datetime(text[retry], format="mixed", errors="coerce", utc=True)
                    parsed = parsed.where(~retry, alt)
                parsed = parsed.dt.tz_convert(None)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    parsed = parsed.dt.normalize()
    # implausible dates (typos such as year 0001 or 9999) count as unparseable
    plausible = (parsed >= EARLIEST_DATE) & (parsed < LATEST_DATE)
    return parsed.where(plausible).astype("datetime64[ns]")


# --------------------------------------------------------------------------------------------
# Cleaning policies
# --------------------------------------------------------------------------------------------
def net_returns(frame: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Net negative amounts (returns) against the same customer's earlier purchases.

    A return reduces the customer's most recent purchase on or before its date; what is left
    over reduces the purchase before that, and so on.  Purchases reduced to zero are removed.
    Returns with no earlier purchase to net against are dropped.

    Parameters
    ----------
    frame
        Canonical transactions sorted by customer and date (``customer_id``, ``date``, ``amount``).

    Returns
    -------
    (frame, n_netted, n_unmatched)
        The frame without negative rows, the number of returns netted and the number dropped
        because no earlier purchase of that customer was found.
    """
    neg = frame[config.AMOUNT].to_numpy() < 0
    if not neg.any():
        return frame, 0, 0
    amounts = frame[config.AMOUNT].to_numpy(dtype="float64").copy()
    ids = frame[config.CUSTOMER_ID].to_numpy()
    # positions of each customer's block (frame is sorted by customer, then date)
    starts = np.r_[0, np.flatnonzero(ids[1:] != ids[:-1]) + 1]
    block_start = np.repeat(starts, np.diff(np.r_[starts, len(ids)]))
    unmatched = 0
    for pos in np.flatnonzero(neg):  # loop over returns only (rare), not over customers
        remaining = -amounts[pos]
        amounts[pos] = 0.0
        j = pos - 1
        lo = block_start[pos]
        while remaining > 1e-12 and j >= lo:
            if amounts[j] > 0:
                take = min(amounts[j], remaining)
                amounts[j] -= take
                remaining -= take
            j -= 1
        if remaining > 1e-12 and remaining == -frame[config.AMOUNT].iloc[pos]:
            unmatched += 1
    out = frame.assign(**{config.AMOUNT: amounts})
    out = out[(~neg) & (amounts > 1e-9)]
    return out, int(neg.sum()) - unmatched, unmatched


# --------------------------------------------------------------------------------------------
# The public loaders
# --------------------------------------------------------------------------------------------
def _check_policy(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ParameterError(f"{value!r} is not a valid policy", parameter=name,
                             hint=f"use one of {', '.join(allowed)}")


def _apply_policy(out: pd.DataFrame, mask: np.ndarray, policy: str, report: QualityReport, label: str,
                  column: str | None, what: str, check: str, hint: str) -> pd.DataFrame:
    """Raise on, drop, or keep the rows in ``mask``, and record the count in the report."""
    n = int(mask.sum())
    if n and policy == "raise":
        raise DataError(f"{n:,} {what}", file=label, column=column, rows=out["_line"].to_numpy()[mask][:5].tolist(),
                        n_rows=n, hint=hint)
    if policy == "drop":
        report.add(f"{check} dropped", n)
        return out[~mask]
    report.add(f"{check} kept", n, status="info" if n else "ok")
    return out


def clean_transactions(
    frame: pd.DataFrame,
    *,
    label: str = "<data>",
    first_line: int = 1,
    date_format: str | None = None,
    negative: NegativePolicy = "net",
    zero: ZeroPolicy = "drop",
    duplicates: DuplicatePolicy = "drop",
    invalid: InvalidPolicy = "raise",
    observation_end: str | pd.Timestamp | None = None,
    strict: bool = False,
    decimal: str = ".",
    report: QualityReport | None = None,
) -> tuple[pd.DataFrame, QualityReport]:
    """Validate and clean a frame that already has canonical column names.

    Parameters
    ----------
    frame
        Columns ``customer_id``, ``date``, ``amount`` (or ``quantity`` and ``price``), optional
        ``quantity``; values may still be text.
    label, first_line
        Used in error messages: the file name and the file line number of the frame's first row.
    date_format
        strftime format of the dates; detected when None (see :func:`parse_dates`).
    negative
        Negative amounts are returns: ``net`` them against the customer's earlier purchases
        (default), ``drop`` them, or ``raise`` a DataError.
    zero
        Zero amounts (free items, test orders): ``drop`` (default), ``keep``, or ``raise``.
    duplicates
        Exact duplicate rows (same customer, date, amount and quantity): ``drop`` (default),
        ``keep`` (they are genuine repeat purchases), or ``raise``.
    invalid
        Rows with an unparseable date or amount, or a missing customer id: ``raise`` (default)
        or ``drop`` them (counted in the quality table).
    observation_end
        Transactions dated after it are left out and counted (an as-of run on a newer export);
        with ``strict=True`` they raise instead.
    decimal
        Decimal mark of text amounts, ``.`` or ``,``.

    Returns
    -------
    (transactions, report)
        The canonical frame (see the module docstring) and the data-quality report.
    """
    _check_policy("negative", negative, ("net", "drop", "raise"))
    _check_policy("zero", zero, ("drop", "keep", "raise"))
    _check_policy("duplicates", duplicates, ("drop", "keep", "raise"))
    _check_policy("invalid", invalid, ("raise", "drop"))
    report = report or QualityReport(label)
    n_read = len(frame)
    report.add("rows read", n_read, status="info")
    frame = frame.reset_index(drop=True)
    line = np.arange(n_read) + first_line  # file line number of every row

    # customer ids
    ids = frame[config.CUSTOMER_ID]
    ids = ids.astype("str").str.strip().where(ids.notna(), "")
    ids = ids.str.replace(r"\.0$", "", regex=True) if not pd.api.types.is_string_dtype(frame[config.CUSTOMER_ID]) else ids
    bad_id = (ids == "") | ids.str.lower().isin(["nan", "none", "null", "na", "n/a"])

    mixed: list[int] = []
    dates = parse_dates(frame[config.DATE], date_format, label, config.DATE, first_line, notes=mixed)
    bad_date = dates.isna().to_numpy()
    if mixed:
        report.add("dates not in ISO format, parsed one by one", mixed[0],
                   "check them, or pass --date-format for one consistent format")

    if config.AMOUNT in frame:
        amount = parse_amount(frame[config.AMOUNT], decimal=decimal)
        bad_amount = amount.isna().to_numpy() | ~(np.abs(amount.fillna(0).to_numpy()) < MAX_AMOUNT)
    else:
        qty = parse_amount(frame[config.QUANTITY], decimal=decimal)
        price = parse_amount(frame[PRICE], decimal=decimal)
        amount = qty * price
        bad_amount = amount.isna().to_numpy() | ~(np.abs(amount.fillna(0).to_numpy()) < MAX_AMOUNT)
        report.add("amount computed as quantity × price", n_read, status="info")
    quantity = None
    if config.QUANTITY in frame:
        quantity = parse_amount(frame[config.QUANTITY], decimal=decimal)

    problems = [
        (bad_id.to_numpy(), config.CUSTOMER_ID, "customer ids are missing", "missing customer ids",
         "fill them in, or pass --invalid drop"),
        (bad_date, config.DATE, "dates cannot be parsed", "unparseable dates",
         "pass --date-format (e.g. '%Y-%m-%d'), fix the rows, or pass --invalid drop"),
        (bad_amount, config.AMOUNT, "amounts are not numbers (or implausibly large)", "non-numeric amounts",
         "remove currency text or pass --decimal ',', fix the rows, or pass --invalid drop"),
    ]
    drop_mask = np.zeros(n_read, dtype=bool)
    for mask, column, what, check, hint in problems:
        n_bad = int(mask.sum())
        if n_bad and invalid == "raise":
            example = ""
            if column != config.CUSTOMER_ID:
                source = frame[column] if column in frame else frame[config.QUANTITY]
                example = f" (e.g. {str(source[mask].iloc[0])!r})"
            raise DataError(f"{n_bad:,} {what}{example}", file=label, column=column,
                            rows=_first_rows(mask, first_line), n_rows=n_bad, hint=hint)
        report.add(f"{check} (rows dropped)" if n_bad else check, n_bad)
        drop_mask |= mask

    data = {config.CUSTOMER_ID: ids.astype("str"), config.DATE: dates, config.AMOUNT: amount}
    if quantity is not None:
        data[config.QUANTITY] = quantity
    out = pd.DataFrame(data)
    out["_line"] = line
    out = out[~drop_mask]

    if observation_end is not None:
        end = pd.Timestamp(observation_end).normalize()
        after = (out[config.DATE] > end).to_numpy()
        n_after = int(after.sum())
        if n_after and strict:
            raise DataError(f"{n_after:,} transactions are dated after the observation end {end.date()}",
                            file=label, column=config.DATE, rows=out["_line"].to_numpy()[after][:5].tolist(),
                            n_rows=n_after, hint="drop --strict to leave them out, or choose a later --as-of date")
        report.add(f"rows after observation end {end.date()} left out", n_after,
                   status="info" if n_after else "ok")
        out = out[~after]

    # exact duplicates, zero amounts, then returns (sorted first: netting walks back through a history)
    subset = [c for c in (config.CUSTOMER_ID, config.DATE, config.AMOUNT, config.QUANTITY) if c in out]
    out = _apply_policy(out, out.duplicated(subset=subset, keep="first").to_numpy(), duplicates, report, label,
                        None, "rows are exact duplicates of earlier rows", "exact duplicate rows",
                        "remove them, or pass --duplicates drop (or keep if they are real repeat purchases)")
    out = _apply_policy(out, (out[config.AMOUNT] == 0).to_numpy(), zero, report, label, config.AMOUNT,
                        "amounts are zero", "zero-amount rows",
                        "pass --zero drop (free items, test orders) or --zero keep")
    out = out.sort_values([config.CUSTOMER_ID, config.DATE, "_line"], kind="mergesort")
    is_neg = (out[config.AMOUNT] < 0).to_numpy()
    n_neg = int(is_neg.sum())
    if negative != "net" or not n_neg:
        out = _apply_policy(out, is_neg, "keep" if negative == "net" else negative, report, label, config.AMOUNT,
                            "amounts are negative (returns or refunds)", "negative-amount rows (returns)",
                            "pass --negative net (net returns against purchases) or --negative drop")
    else:
        out, n_netted, n_unmatched = net_returns(out)
        report.add("returns netted against earlier purchases", n_netted)
        report.add("returns without an earlier purchase dropped", n_unmatched)

    out = out.drop(columns="_line").reset_index(drop=True)
    if out.empty:
        raise DataError("no transactions are left after cleaning", file=label,
                        hint="see `clm validate` for what was dropped; check the policies and --as-of")
    n_customers = int(out[config.CUSTOMER_ID].nunique())
    report.add("transactions kept", len(out), status="info")
    report.add("customers", n_customers, status="info")
    span = int((out[config.DATE].max() - out[config.DATE].min()).days) + 1
    report.add("date range (days)", span, f"{out[config.DATE].min().date()} to {out[config.DATE].max().date()}",
               status="info")
    return out, report


def load_and_check(
    path: str | Path,
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    **policies: Any,
) -> tuple[pd.DataFrame, QualityReport]:
    """Read, map, validate and clean a transaction file; return the frame and its quality report.

    Parameters
    ----------
    path
        CSV (any common separator, optionally gzipped), Parquet, or white-space separated text
        such as the CDNOW files.
    columns
        Mapping of the user's column names onto ``customer_id``, ``date``, ``amount`` (and
        optionally ``quantity``; or ``quantity`` and ``price`` when there is no amount), as a dict
        or ``"a=b,c=d"`` text.  Columns are detected by common names when omitted.
    date_format
        strftime format of the date column; detected when None.
    sep, encoding
        Override the detected separator and text encoding.
    **policies
        Passed to :func:`clean_transactions` (``negative``, ``zero``, ``duplicates``,
        ``invalid``, ``observation_end``, ``strict``, ``decimal``).
    """
    raw, label, first_line = read_raw(path, sep=sep, encoding=encoding)
    if columns is None and _is_cdnow_layout(raw):
        raw = _cdnow_columns(raw)
    mapped = map_columns(raw, columns, label)
    return clean_transactions(mapped, label=label, first_line=first_line, date_format=date_format,
                              **policies)  # type: ignore[arg-type]


def load_transactions(
    path: str | Path,
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Read a transaction file into the canonical frame (see :func:`load_and_check`)."""
    return load_and_check(path, columns, date_format, **options)[0]  # type: ignore[arg-type]


def _is_cdnow_layout(raw: pd.DataFrame) -> bool:
    """The CDNOW files: 4 (master) or 5 (sample) unnamed numeric columns, the date as YYYYMMDD."""
    if list(raw.columns) == ["customer_id", "date", "number_of_cds", "dollar_value"]:
        return False  # the master file's own header maps by name
    names = [f"column_{i + 1}" for i in range(raw.shape[1])]
    if list(raw.columns) != names or raw.shape[1] not in (4, 5):
        return False
    date_col = raw.iloc[:50, raw.shape[1] - 3]
    return bool(date_col.str.fullmatch(r"(19|20)\d{6}").all())


def _cdnow_columns(raw: pd.DataFrame) -> pd.DataFrame:
    if raw.shape[1] == 5:  # sample: original id, sample id, date, CDs, dollars
        raw = raw.iloc[:, [0, 2, 3, 4]]
    out = raw.copy()
    out.columns = [config.CUSTOMER_ID, config.DATE, config.QUANTITY, config.AMOUNT]
    return out


def load_cdnow(sample: bool = False) -> pd.DataFrame:
    """Return the bundled CDNOW data set as a canonical transactions frame.

    Parameters
    ----------
    sample
        False (default): the full master file, 23,570 customers, 69,659 rows, 1997-01-01 to
        1998-06-30.  True: the 1/10 sample of Fader, Hardie & Lee (2005), 2,357 customers.

    Notes
    -----
    Customer ids are the original zero-padded CDNOW ids in both files.  ``quantity`` is the
    number of CDs.  No row is dropped: CDNOW has no zero or negative amounts; a handful of
    rows repeat exactly and are kept as the published analyses keep them (same-day purchases
    are merged later, in :func:`clm_utils.summary.summarize`).
    """
    path = config.CDNOW_SAMPLE if sample else config.CDNOW_MASTER
    return load_transactions(path, duplicates="keep", zero="keep")


def load_input(
    data_path: str | Path | None = None,
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    **policies: Any,
) -> tuple[pd.DataFrame, QualityReport]:
    """The notebooks' entry point: the user's file, or the bundled CDNOW master file when None."""
    if data_path is None or str(data_path) == "":
        policies.setdefault("duplicates", "keep")
        policies.setdefault("zero", "keep")
        return load_and_check(config.CDNOW_MASTER, None, None, **policies)
    return load_and_check(data_path, columns, date_format, **policies)
