"""Reading transaction files into frames of text: CSV and friends, Parquet, Excel workbooks.

Nothing is parsed here except the table structure: every value stays as the file wrote it (text),
so that the checks in :mod:`clm_utils.data.clean` can name the rows they reject.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils.errors import DataError, ParameterError

#: How a file was read: ``text``, ``gzip``, ``parquet`` or ``excel``.
FileKind = str

def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _detect_format(path: Path, head: bytes) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if head.startswith(b"PAR1") or suffixes[-1:] in ([".parquet"], [".pq"]):
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0") or suffixes[-1:] == [".xls"]:
        return "xls"
    if head.startswith(b"PK\x03\x04") or suffixes[-1:] in ([".xlsx"], [".xlsm"]):
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


def sniff_text(head: str, sep: str | None = None) -> tuple[str | None, bool, list[str]]:
    """How :func:`read_file` reads a text file, decided from its first lines (no values parsed).

    For readers that see only the start of a large file (the DuckDB and Spark engines of
    :mod:`clm_utils.engines`), so that they read the columns this loader reads.

    Parameters
    ----------
    head
        The first lines of the file, decoded (a few hundred lines are plenty).
    sep
        The separator the user gave; detected when None.

    Returns
    -------
    (delimiter, has_header, fields)
        The field separator (``,``, ``;``, tab or ``|``; None for white-space separated text such
        as the CDNOW files), whether the first line is a header (none of its fields is a number),
        and the fields of the first line, stripped of white space and quotes.
    """
    delim = sep or _sniff_delimiter(head)
    first = head.lstrip()[:65536].splitlines()[0] if head.strip() else ""
    fields = first.split(delim) if delim else first.split()
    fields = [f.strip().strip('"').strip("'") for f in fields]
    return delim, _looks_like_header(fields), fields


def read_raw(path: str | Path, *, sep: str | None = None, encoding: str | None = None,
             sheet: str | int | None = None) -> tuple[pd.DataFrame, str, int]:
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
    sheet
        Excel workbooks (``.xlsx``) only: the sheet's name, or its position counted from 0 (as in
        :func:`pandas.read_excel`).  None: the only sheet that holds data.

    Returns
    -------
    (frame, label, first_line)
        The raw frame (all columns as strings for text input), the file label used in error
        messages, and the file line number of the frame's first row (2 with a header, else 1;
        for a workbook, the sheet's row number).
    """
    frame, label, first_line, _ = read_file(path, sep=sep, encoding=encoding, sheet=sheet)
    return frame, label, first_line


def read_file(path: str | Path, *, sep: str | None = None, encoding: str | None = None,
              sheet: str | int | None = None) -> tuple[pd.DataFrame, str, int, FileKind]:
    """:func:`read_raw`, also returning how the file was read (``text``, ``gzip``, ``parquet``, ``excel``)."""
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
    if kind == "xls":
        raise DataError("old-style Excel workbooks (.xls) are not read", file=label,
                        hint="save it as an Excel workbook (.xlsx) or as CSV (UTF-8)")
    if sheet is not None and kind != "excel":
        raise ParameterError(f"a sheet ({sheet!r}) was chosen, but {label} is not an Excel workbook",
                             parameter="sheet", hint="leave out the sheet option for CSV and Parquet files")
    if kind == "excel":
        frame, first_line = read_excel_sheet(path, label, sheet)
        return frame, label, first_line, kind
    if kind == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
            raise DataError(f"is not a readable Parquet file ({type(exc).__name__})", file=label,
                            hint="write it again with pandas.DataFrame.to_parquet") from None
        if frame.empty:
            raise DataError("the file has no rows", file=label, hint="export the transactions again")
        frame.columns = [str(c) for c in frame.columns]
        return frame, label, 1, kind
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
    return frame, label, 2 if header else 1, kind


# --------------------------------------------------------------------------------------------
# Excel workbooks
# --------------------------------------------------------------------------------------------
def _cell_text(value: Any) -> str | None:
    """One workbook cell as text, the way a CSV export would have written it.

    Numbers that are whole print without a decimal point (an id typed as 17850 stays ``17850``);
    dates and times print in ISO 8601, so the date parser reads them without guessing.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)  # formula errors such as '#N/A' arrive as text


def _sheet_rows(ws: Any) -> list[tuple[int, list[str | None]]]:
    """The non-empty rows of a sheet as (sheet row number, cell texts)."""
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # read-only sheets trust a stored size that some writers get wrong
    rows = []
    for number, values in enumerate(ws.iter_rows(values_only=True), 1):
        cells = [_cell_text(v) for v in values]
        if any(c is not None for c in cells):
            rows.append((number, cells))
    return rows


def read_excel_sheet(path: Path, label: str, sheet: str | int | None = None) -> tuple[pd.DataFrame, int]:
    """Read one sheet of an ``.xlsx`` workbook into a frame of text (see :func:`read_raw`).

    The sheet's first non-empty row is the header (unless it is all numbers); empty rows are
    skipped, as blank lines are in a CSV file.  Error messages name rows by the sheet's row
    numbers (as Excel shows them) when the rows are contiguous.

    Raises
    ------
    DataError
        The workbook cannot be opened, the chosen sheet does not exist or is empty, or no sheet
        was chosen while several hold data (the message lists them).
    """
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise DataError(f"is not a readable Excel workbook ({type(exc).__name__})", file=label,
                        hint="open it in Excel and save it again as .xlsx, or save the sheet as CSV (UTF-8)") from None
    try:
        names = list(book.sheetnames)
        listed = ", ".join(map(repr, names))
        if sheet is not None:
            name = _choose_sheet(names, sheet, label, listed)
            rows = _sheet_rows(book[name])
            if not rows:
                raise DataError(f"the sheet {name!r} is empty", file=label,
                                hint=f"choose a sheet with data; the workbook has {listed}")
        else:
            filled = []
            for candidate in names:
                candidate_rows = _sheet_rows(book[candidate])
                if candidate_rows:
                    filled.append((candidate, candidate_rows))
            if not filled:
                raise DataError("the workbook has no data in any sheet", file=label, hint="export the transactions again")
            if len(filled) > 1:
                which = ", ".join(repr(n) for n, _ in filled)
                raise DataError(f"the workbook has several sheets with data ({which})", file=label,
                                hint=f"choose one with --sheet (e.g. --sheet {filled[0][0]!r}), or sheet= in Python")
            name, rows = filled[0]
    finally:
        book.close()
    _, header_cells = rows[0]
    header_fields = [c.strip() if c else "" for c in header_cells]
    has_header = _looks_like_header([f for f in header_fields if f]) if any(header_fields) else False
    body = rows[1:] if has_header else rows
    if not body:
        raise DataError(f"the sheet {name!r} has a header but no rows", file=label, hint="export the transactions again")
    width = max(len(cells) for _, cells in rows)
    while width > 1 and all(len(cells) < width or cells[width - 1] is None for _, cells in rows):
        width -= 1  # trailing columns that are empty everywhere (formatting only)
    if has_header:
        columns = [f if f else f"column_{i + 1}" for i, f in enumerate((header_fields + [""] * width)[:width])]
        seen = [c for c in columns]
        dupes = sorted({c for c in seen if seen.count(c) > 1})
        if dupes:
            raise DataError(f"two columns are named {dupes[0]!r}", file=label, column=dupes[0],
                            hint="rename one of them in the header, then map it with --columns")
    else:
        columns = [f"column_{i + 1}" for i in range(width)]
    data = [(cells + [None] * width)[:width] for _, cells in body]
    frame = pd.DataFrame(data, columns=columns, dtype=object)
    first = body[0][0]
    contiguous = body[-1][0] - first == len(body) - 1
    return frame, first if contiguous else (2 if has_header else 1)


def _choose_sheet(names: list[str], sheet: str | int, label: str, listed: str) -> str:
    """The sheet name for a name or 0-based position (a name wins over a position written as text)."""
    if isinstance(sheet, str) and sheet in names:
        return sheet
    position: int | None = None
    if isinstance(sheet, bool):
        position = None
    elif isinstance(sheet, int):
        position = sheet
    elif isinstance(sheet, str) and sheet.strip().lstrip("-").isdigit():
        position = int(sheet.strip())
    if position is not None:
        if 0 <= position < len(names):
            return names[position]
        raise DataError(f"has no sheet at position {position} (positions count from 0)", file=label,
                        hint=f"the workbook has {listed}")
    raise DataError(f"has no sheet named {sheet!r}", file=label, hint=f"the workbook has {listed}")
