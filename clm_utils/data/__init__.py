"""Loading, column mapping, validation and cleaning of transaction data.

Every problem in the input becomes one :class:`~clm_utils.errors.DataError` naming the file, the
column, the first offending rows (as line numbers of the file, the header being line 1) and a
hint.  Problems that a policy resolves (duplicates dropped, returns netted, ...) are counted in a
:class:`QualityReport`, which the notebooks and ``clm validate`` show as the data-quality table.

The canonical transactions frame (docs/design.md) has the columns

``customer_id``
    str, stripped of surrounding white space; never missing.
``date``
    datetime64[ns], normalised to the day (time of day and time zones are dropped).
``amount``
    float64, currency units, > 0 after cleaning.
``quantity``
    float64, optional (only when the input has it).

and is sorted by ``customer_id`` then ``date`` (stable, so equal keys keep file order).  With an
order or invoice id in the file, one row is one order (its lines summed).

The package: :mod:`~clm_utils.data.read` (files to frames of text: CSV, Parquet, Excel),
:mod:`~clm_utils.data.columns` (which column plays which role), :mod:`~clm_utils.data.values`
(amounts, dates, ids), :mod:`~clm_utils.data.clean` (validation and the cleaning policies),
:mod:`~clm_utils.data.quality` (the data-quality table); the loaders are here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils import config
from clm_utils.data.clean import (
    AmountLayout,
    DuplicatePolicy,
    InvalidPolicy,
    NegativePolicy,
    ZeroPolicy,
    clean_transactions,
    net_returns,
    order_amount_layout,
)
from clm_utils.data.columns import (
    CANONICAL,
    ORDER_ID,
    PRICE,
    PRICE_AS_AMOUNT,
    ROLES,
    SYNONYM_TIERS,
    SYNONYMS,
    _norm,
    apply_mapping,
    describe_mapping,
    detect_columns,
    map_columns,
    parse_columns,
)
from clm_utils.data.files import OTHER_HASH, expand, is_many, read_many
from clm_utils.data.quality import QualityReport
from clm_utils.data.read import (  # the private helpers are used by clm_utils.engines
    _decode,  # noqa: F401
    _detect_format,  # noqa: F401
    _label,  # noqa: F401
    _looks_like_header,  # noqa: F401
    _sniff_delimiter,  # noqa: F401
    read_excel_sheet,
    read_file,
    read_raw,
)
from clm_utils.data.values import (
    _SLASH,  # noqa: F401 - used by clm_utils.engines
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_AMOUNT,
    normalize_float_ids,
    parse_amount,
    parse_dates,
)
from clm_utils.errors import DataError

__all__ = [
    "CANONICAL", "EARLIEST_DATE", "LATEST_DATE", "MAX_AMOUNT", "ORDER_ID", "PRICE", "PRICE_AS_AMOUNT", "ROLES",
    "SYNONYMS", "SYNONYM_TIERS", "AmountLayout", "DuplicatePolicy", "InvalidPolicy", "NegativePolicy",
    "QualityReport", "ZeroPolicy", "apply_mapping", "clean_transactions", "describe_mapping", "detect_columns",
    "expand", "is_many", "load_and_check", "load_cdnow", "load_input", "load_transactions", "map_columns",
    "net_returns", "normalize_float_ids", "order_amount_layout", "parse_amount", "parse_columns", "parse_dates",
    "read_excel_sheet", "read_file", "read_many", "read_raw",
]


def load_and_check(
    path: str | Path,
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    **policies: Any,
) -> tuple[pd.DataFrame, QualityReport]:
    """Read, map, validate and clean a transaction file; return the frame and its quality report.

    Parameters
    ----------
    path
        CSV (any common separator, optionally gzipped), Parquet, an Excel workbook (``.xlsx``),
        or white-space separated text such as the CDNOW files; or a folder or glob pattern
        (``exports/*.parquet``) of CSV or Parquet files with the same columns, read as one input
        (:mod:`clm_utils.data.files`: the quality table counts the rows of all files, and an error
        names the file and its line numbers).
    columns
        Mapping of the user's column names onto ``customer_id``, ``date``, ``amount`` (and
        optionally ``quantity``, ``order_id``; or ``quantity`` and ``price`` when there is no
        amount), as a dict or ``"a=b,c=d"`` text.  Columns are detected by common names when
        omitted (see :data:`SYNONYM_TIERS`).
    date_format
        strftime format of the date column; detected when None.
    sep, encoding
        Override the detected separator and text encoding.
    sheet
        Excel only: the sheet's name or 0-based position; None reads the only sheet with data.
    **policies
        Passed to :func:`clean_transactions` (``negative``, ``zero``, ``duplicates``,
        ``invalid``, ``observation_end``, ``strict``, ``decimal``).
    """
    if is_many(path):
        return _load_many(path, columns, date_format, sep=sep, encoding=encoding, sheet=sheet, **policies)
    raw, label, first_line, kind = read_file(path, sep=sep, encoding=encoding, sheet=sheet)
    if columns is None and _is_cdnow_layout(raw):
        raw = _cdnow_columns(raw)
    given = parse_columns(columns) or {}
    found = detect_columns(list(raw.columns), given, label)
    report = QualityReport(label)
    detected = {role: user for role, user in found.items() if user not in given and user != role}
    if detected:
        report.add("columns detected by name", len(detected), describe_mapping(detected), status="info")
    if config.AMOUNT in found and config.QUANTITY not in found and _norm(found[config.AMOUNT]) in PRICE_AS_AMOUNT \
            and found[config.AMOUNT] not in given:
        report.add("amount taken from the price column (no quantity column)", 1, repr(found[config.AMOUNT]),
                   status="info")
    mapped = apply_mapping(raw, found, keep_other=True)
    return clean_transactions(mapped, label=label, first_line=first_line, date_format=date_format,
                              excel_dates=kind == "excel", report=report, **policies)  # type: ignore[arg-type]


def _load_many(path: str | Path, columns: Mapping[str, str] | str | None, date_format: str | None, *,
               sep: str | None, encoding: str | None, sheet: str | int | None,
               **policies: Any) -> tuple[pd.DataFrame, QualityReport]:
    """:func:`load_and_check` for a folder or glob of files (:mod:`clm_utils.data.files`)."""
    from clm_utils.errors import ParameterError

    if sheet is not None:
        raise ParameterError(f"a sheet ({sheet!r}) was chosen, but {path} is a folder or pattern of CSV/Parquet files",
                             parameter="sheet", hint="leave out the sheet option for CSV and Parquet files")
    many = read_many(path, columns, sep=sep, encoding=encoding)
    raw = many.frame
    given = parse_columns(columns) or {}
    found = detect_columns([c for c in raw.columns if c != OTHER_HASH], given, many.label)
    report = QualityReport(many.label)
    report.add("files read", len(many.files), f"{many.files[0]} ... {many.files[-1]}" if len(many.files) > 1
               else many.files[0], status="info")
    detected = {role: user for role, user in found.items() if user not in given and user != role}
    if detected:
        report.add("columns detected by name", len(detected), describe_mapping(detected), status="info")
    if config.AMOUNT in found and config.QUANTITY not in found and _norm(found[config.AMOUNT]) in PRICE_AS_AMOUNT \
            and found[config.AMOUNT] not in given:
        report.add("amount taken from the price column (no quantity column)", 1, repr(found[config.AMOUNT]),
                   status="info")
    mapped = apply_mapping(raw, found, keep_other=True)
    del raw
    many.frame = pd.DataFrame()
    try:
        return clean_transactions(mapped, label=many.label, first_line=0, date_format=date_format,
                                  report=report, source_columns=many.n_columns, **policies)  # type: ignore[arg-type]
    except DataError as exc:
        raise many.translate(exc) from None


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