"""Parsing values: amounts, dates (text, ISO, compact, day/month order, Excel serial numbers) and ids."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.errors import DataError

_CURRENCY_CHARS = re.compile(r"[\s$€£¥₹₩₽¤]|[A-Za-z]{3}$|^[A-Za-z]{3}")
#: Text that means "no value" in an id column.
MISSING_ID_TEXT: tuple[str, ...] = ("nan", "none", "null", "na", "n/a", "<na>")
#: Excel's day 0 (its serial numbers count days from here, including the fictitious 1900-02-29).
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_SERIAL = re.compile(r"\d{1,7}(\.\d+)?")

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
                notes: list[int] | None = None, *, excel_serial: bool = False,
                serial_notes: list[int] | None = None) -> pd.Series:
    """Parse dates to day-precision, time-zone-naive datetime64.

    Without ``date_format`` the parser accepts ISO 8601 (``1997-01-31``, with or without time and
    offset), compact ``YYYYMMDD`` (CDNOW) and day/month/year or month/day/year with ``/``, ``.``
    or ``-``.  The order of day and month is decided from the data (a first field above 12 means
    day first); when no value tells, the dates are ambiguous and a :class:`DataError` asks for
    ``date_format``.

    With ``excel_serial`` (values read from a workbook), whole or fractional numbers between 1
    and 2,958,465 (9999-12-31) are Excel serial dates: days since 1899-12-30.  How many were
    converted is appended to ``serial_notes``.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.astype("str").str.strip().where(values.notna(), "")
        if excel_serial and date_format is None:
            text = _excel_serials_to_iso(text, serial_notes)
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


def _excel_serials_to_iso(text: pd.Series, notes: list[int] | None) -> pd.Series:
    """Replace Excel serial day numbers (``45292`` = 2024-01-01) by ISO dates; leave other text alone."""
    serial = text.str.fullmatch(_SERIAL)
    if not serial.any():
        return text
    days = pd.to_numeric(text.where(serial), errors="coerce")
    serial &= (days >= 1) & (days <= 2_958_465)
    if not serial.any():
        return text
    iso = (EXCEL_EPOCH + pd.to_timedelta(np.floor(days[serial]), unit="D")).dt.strftime("%Y-%m-%d")
    if notes is not None:
        notes.append(int(serial.sum()))
    return text.where(~serial, iso)


def normalize_float_ids(ids: pd.Series, missing: pd.Series | None = None) -> tuple[pd.Series, int]:
    """Undo ids written as floats: ``17850.0`` -> ``17850``, but only when every id looks like that.

    Pandas writes an integer id column as floats when some ids are missing, so a CRM key
    ``17850`` arrives as ``17850.0``.  When every non-missing id is a whole number written with a
    zero fraction, the fraction is dropped; otherwise every id stays exactly as written (``00123``
    keeps its zeros, ``1.5`` stays ``1.5``).

    Parameters
    ----------
    ids
        Text ids, stripped, ``""`` for missing.
    missing
        Boolean mask of the missing ids, when the caller already has it.

    Returns
    -------
    (ids, n_changed)
        The ids, and how many were rewritten.
    """
    if missing is None:
        missing = (ids == "") | ids.str.lower().isin(MISSING_ID_TEXT)
    keep = ~np.asarray(missing, dtype=bool)
    first = int(np.argmax(keep)) if keep.any() else -1
    if first < 0 or not re.fullmatch(r"-?\d+\.0+", str(ids.iloc[first])):
        return ids, 0  # cheap exit: the first id already decides most files
    present = ids[keep]
    if not present.str.fullmatch(r"-?\d+\.0+").all():
        return ids, 0
    changed = ids.index.isin(present.index)
    return ids.where(~changed, ids.str.replace(r"\.0+$", "", regex=True)), int(changed.sum())


def _arrow_ids(x: object) -> Any:
    """Text ids as one Arrow ``large_string`` array (Arrow-backed pandas strings: no copy)."""
    import pyarrow as pa

    arr = pa.array(pd.Index(x).array, from_pandas=True)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr.cast(pa.large_string())


def ids_in(values: pd.Series | pd.Index, allowed: pd.Series | pd.Index | np.ndarray | list) -> np.ndarray:
    """Boolean array: which of ``values`` (customer ids) are among ``allowed``.

    The same as ``values.isin(allowed)``, but for text ids it is a hash lookup in Arrow
    (``pyarrow.compute.is_in``): pandas 3's ``isin`` on Arrow-backed strings converts every allowed
    value to a Python object first, ~15x slower (seconds per million ids at scale).
    """
    import pyarrow.compute as pc

    if not (pd.api.types.is_string_dtype(values) and pd.api.types.is_string_dtype(pd.Index(allowed))):
        return np.asarray(values.isin(allowed), dtype=bool)
    found = pc.is_in(_arrow_ids(values), value_set=_arrow_ids(allowed))
    return found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def ids_positions(values: pd.Series | pd.Index, other: pd.Series | pd.Index | np.ndarray | list) -> np.ndarray:
    """Integer array: the position of each of ``values`` (customer ids) in ``other``, -1 where absent.

    The same as ``pd.Index(other).get_indexer(values)`` for an ``other`` without repeats (with
    repeats, the first position), but for text ids it is a hash lookup in Arrow
    (``pyarrow.compute.index_in``): pandas 3's ``get_indexer`` on Arrow-backed strings goes
    through Python objects, ~3x slower (3 s against 1 s at 3.45M ids).
    """
    import pyarrow.compute as pc

    if not (pd.api.types.is_string_dtype(values) and pd.api.types.is_string_dtype(pd.Index(other))):
        return np.asarray(pd.Index(other).get_indexer(values), dtype=np.int64)

    found = pc.index_in(_arrow_ids(values), value_set=_arrow_ids(other))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def labels_in(values: pd.Series, texts: Collection[str]) -> np.ndarray:
    """Boolean array: ``values.astype(str).isin(texts)``, compared once per distinct label.

    A categorical column is compared by its categories, other columns by their distinct values, so a
    label column of millions of customers costs one code lookup; a missing value is never in ``texts``.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(dtype=np.int64), pd.Index(values.cat.categories)
    else:
        codes, uniques = pd.factorize(values)
        codes, uniques = np.asarray(codes, dtype=np.int64), pd.Index(uniques)
    wanted = set(texts)
    hit = [str(t) in wanted for t in uniques.astype(object)]
    return np.array([*hit, False], dtype=bool)[codes]  # code -1 (missing) picks the appended False
