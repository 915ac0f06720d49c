"""Reading, validating and joining the customer attribute table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.data import (
    QualityReport,
    normalize_float_ids,
    parse_amount,
    parse_dates,
    read_file,
)
from clm_utils.data.columns import SYNONYM_TIERS, _norm
from clm_utils.data.values import MISSING_ID_TEXT, ids_in
from clm_utils.errors import DataError, ParameterError

#: The kinds of attribute column.
KINDS: tuple[str, ...] = ("numeric", "categorical", "date")
_DATE_LIKE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T].*)?$")
_LEADING_ZERO = re.compile(r"^\s*0\d")


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped text, missing as ""."""
    out = values.astype("str").str.strip()
    return out.where(values.notna(), "")


def _find_id_column(columns: list[str], label: str) -> str:
    for tier in SYNONYM_TIERS[config.CUSTOMER_ID]:
        hits = [c for c in columns if _norm(c) in tier]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise DataError(f"several columns could be the customer id ({', '.join(map(repr, hits))})", file=label,
                            hint="name it with --customers-id (id_column=...)")
    raise DataError("no customer id column found", file=label,
                    hint=f"name it with --customers-id (id_column=...); the file has {', '.join(map(repr, columns[:12]))}")


def _convert(values: pd.Series, label: str, column: str, first_line: int,
             report: QualityReport, excel: bool) -> tuple[pd.Series, str]:
    """One column to its kind: numeric when every value is a number (no code with leading zeros),
    date when every value looks like and parses as a date, categorical otherwise."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("object").where(values.notna()).map(lambda v: v if pd.isna(v) else str(v)), "categorical"
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64"), "numeric"
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values.dt.tz_convert(None) if getattr(values.dt, "tz", None) is not None else values
        return out.dt.normalize().astype("datetime64[ns]"), "date"
    text = _text(values)
    text = text.where(~text.str.lower().isin(MISSING_ID_TEXT), "")
    present = text != ""
    if not present.any():
        report.add(f"column {column!r} is empty", 1, "kept as an empty categorical column", status="info")
        return pd.Series(np.nan, index=values.index, dtype="object"), "categorical"
    nonblank = text[present]
    if not nonblank.str.match(_LEADING_ZERO).any():
        numbers = parse_amount(nonblank)
        if numbers.notna().all():
            return parse_amount(text.where(present)).astype("float64"), "numeric"
    if nonblank.str.fullmatch(_DATE_LIKE).all():
        try:
            dates = parse_dates(text.where(present), None, label, column, first_line)
        except DataError as exc:
            report.add(f"column {column!r} looks like dates but was kept as text", 1, exc.message, status="warning")
        else:
            if dates[present].notna().all():
                return dates, "date"
    return text.where(present).astype("object"), "categorical"


def prepare_attributes(raw: pd.DataFrame, id_column: str | None = None, label: str = "<attributes>",
                       first_line: int = 2, excel: bool = False) -> tuple[pd.DataFrame, QualityReport]:
    """Validate a raw attribute frame (as read from a file) into the attribute table.

    Parameters
    ----------
    raw
        One row per customer; values may still be text.
    id_column
        The customer id column; detected by name (``customer_id``, ``CustomerID``, ``client``, ``email``, ...,
        as for transactions) when None.
    label, first_line
        The file, and the file line of the frame's first row, for error messages.

    Returns
    -------
    (frame, quality)
        The table indexed by ``customer_id`` (text as written, sorted), one typed column per attribute
        (``attrs["kinds"]``), and the data-quality table of the load.

    Raises
    ------
    DataError
        No id column, or an id on two rows (one line naming the id and its rows).
    """
    raw = raw.copy()
    raw.columns = [str(c).strip() for c in raw.columns]
    columns = list(raw.columns)
    if id_column is None:
        id_column = _find_id_column(columns, label)
    elif id_column not in columns:
        raise ParameterError(f"the attribute file {label} has no column {id_column!r}", parameter="id_column",
                             hint=f"choose one of {', '.join(map(repr, columns[:12]))}")
    report = QualityReport(label)
    report.add("attribute rows read", len(raw), f"customer id column {id_column!r}", status="info")
    ids = _text(raw[id_column])
    missing = (ids == "") | ids.str.lower().isin(MISSING_ID_TEXT)
    ids, n_float = normalize_float_ids(ids, missing)
    if n_float:
        report.add("customer ids written as floats (17850.0 -> 17850)", n_float, status="info")
    n_missing = int(missing.sum())
    report.add("attribute rows without a customer id (dropped)", n_missing)
    keep = ~missing.to_numpy()
    dup = ids.duplicated(keep=False).to_numpy() & keep
    if dup.any():
        first_id = ids[dup].iloc[0]
        rows = [int(i) + first_line for i in np.flatnonzero((ids == first_id).to_numpy() & keep)[:5]]
        n_ids = int(ids[dup].nunique())
        raise DataError(f"customer id {first_id!r} appears on {len(rows)} rows ({n_ids} id(s) repeat in all)",
                        file=label, column=id_column, rows=rows,
                        hint="keep one row per customer in the attribute file")
    body = raw.loc[keep].drop(columns=[id_column])
    out: dict[str, pd.Series] = {}
    kinds: dict[str, str] = {}
    for column in body.columns:
        out[column], kinds[column] = _convert(body[column], label, column, first_line, report, excel)
    frame = pd.DataFrame({c: s.to_numpy() for c, s in out.items()},
                         index=pd.Index(ids[keep].astype("str").to_numpy(), name=config.CUSTOMER_ID))
    frame = frame.sort_index(kind="stable")
    frame.attrs["kinds"] = kinds
    counts = {k: sum(v == k for v in kinds.values()) for k in KINDS}
    report.add("attribute columns", len(kinds), ", ".join(f"{n} {k}" for k, n in counts.items()), status="info")
    report.add("customers with attributes", len(frame), status="info")
    return frame, report


def load_attributes(path: str | Path, id_column: str | None = None,
                    sheet: str | int | None = None) -> tuple[pd.DataFrame, QualityReport]:
    """Read the customer attribute file (CSV with any common separator, Parquet or Excel ``.xlsx``).

    See :func:`prepare_attributes` for the returned table and the errors.
    """
    raw, label, first_line, kind = read_file(path, sheet=sheet)
    return prepare_attributes(raw, id_column, label, first_line, excel=kind == "excel")


def attribute_kinds(attributes: pd.DataFrame) -> dict[str, str]:
    """Kind of each column: ``attrs["kinds"]`` where present, else from the dtype."""
    known = dict(attributes.attrs.get("kinds", {}))
    out = {}
    for column in attributes.columns:
        if column in known:
            out[column] = known[column]
        elif pd.api.types.is_datetime64_any_dtype(attributes[column]):
            out[column] = "date"
        elif pd.api.types.is_numeric_dtype(attributes[column]) and not pd.api.types.is_bool_dtype(attributes[column]):
            out[column] = "numeric"
        else:
            out[column] = "categorical"
    return out


def describe_attributes(attributes: pd.DataFrame, max_levels: int = 5) -> pd.DataFrame:
    """One row per attribute column: ``kind``, ``n`` (values present), ``missing``, ``levels`` (distinct
    values), ``summary`` (range and median for numbers and dates, the most common levels for categories)."""
    rows = []
    for column, kind in attribute_kinds(attributes).items():
        v = attributes[column]
        present = v.dropna()
        if kind == "numeric" and len(present):
            summary = f"{present.min():g} – {present.max():g}, median {present.median():g}"
        elif kind == "date" and len(present):
            summary = f"{present.min().date()} – {present.max().date()}, median {present.median().date()}"
        elif len(present):
            top = present.astype(str).value_counts().sort_index(kind="stable").sort_values(ascending=False,
                                                                                          kind="stable")
            summary = ", ".join(f"{k} ({n})" for k, n in top.head(max_levels).items())
            if len(top) > max_levels:
                summary += f", … {len(top) - max_levels} more"
        else:
            summary = "empty"
        rows.append({"attribute": column, "kind": kind, "n": int(present.size), "missing": int(v.isna().sum()),
                     "levels": int(present.nunique()), "summary": summary})
    return pd.DataFrame(rows, columns=["attribute", "kind", "n", "missing", "levels", "summary"]).set_index("attribute")


@dataclass
class JoinCounts:
    """What a join of the run's customers with the attribute table matched and left over.

    Attributes
    ----------
    customers
        Customers of the run.
    matched
        Customers of the run with a row in the attribute table.
    without_attributes
        Customers of the run with no row in the attribute table (kept, attributes missing).
    without_transactions
        Attribute rows whose id has no transactions in the run (not in the joined table).
    examples_without_attributes, examples_without_transactions
        Up to five ids of each, sorted, so the user can look them up.
    """

    customers: int
    matched: int
    without_attributes: int
    without_transactions: int
    examples_without_attributes: list[str] = field(default_factory=list)
    examples_without_transactions: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The counts as a table: ``check``, ``count``, ``examples``."""
        return pd.DataFrame({
            "check": ["customers in the run", "customers with attributes", "customers without attributes",
                      "attribute rows without transactions"],
            "count": [self.customers, self.matched, self.without_attributes, self.without_transactions],
            "examples": ["", "", ", ".join(self.examples_without_attributes),
                         ", ".join(self.examples_without_transactions)],
        })

    def add_to(self, report: QualityReport) -> None:
        """Add the join's rows to a data-quality table (warnings when ids are missing on either side)."""
        report.add("customers with attributes", self.matched, status="info")
        report.add("customers without attributes (kept, attributes missing)", self.without_attributes,
                   ", ".join(self.examples_without_attributes))
        report.add("attribute rows without transactions (not used)", self.without_transactions,
                   ", ".join(self.examples_without_transactions))


def join_attributes(customers: pd.DataFrame | pd.Series | pd.Index,
                    attributes: pd.DataFrame) -> tuple[pd.DataFrame, JoinCounts]:
    """Join the attribute table onto the run's customers; count ids missing on either side.

    Parameters
    ----------
    customers
        The run's customer table indexed by ``customer_id`` (or a Series on that index, or the index itself).
    attributes
        From :func:`load_attributes`.  Columns whose names clash with the customer table are refused.

    Returns
    -------
    (joined, counts)
        ``joined``: the customer table (every customer, in its order) with the attribute columns added (missing
        where a customer has no attribute row; ``attrs["kinds"]`` kept); ``counts``: a :class:`JoinCounts`.
    """
    if isinstance(customers, pd.Index):
        base = pd.DataFrame(index=customers)
    elif isinstance(customers, pd.Series):
        base = customers.to_frame()
    else:
        base = customers
    clash = [c for c in attributes.columns if c in base.columns]
    if clash:
        raise DataError(f"attribute column(s) {', '.join(map(repr, clash))} have the name of a column of the run",
                        column=clash[0], hint="rename them in the attribute file")
    left = base.index.astype(str)
    right = attributes.index.astype(str)
    in_right = ids_in(left, right)
    extra = right[~ids_in(right, left)]
    attrs = attributes.copy()
    attrs.index = right
    joined = base.copy()
    for column in attrs.columns:
        joined[column] = attrs[column].reindex(left).to_numpy()
    joined.attrs = dict(base.attrs)
    joined.attrs["kinds"] = attribute_kinds(attributes)
    counts = JoinCounts(customers=len(left), matched=int(in_right.sum()), without_attributes=int((~in_right).sum()),
                        without_transactions=len(extra),
                        examples_without_attributes=sorted(left[~in_right])[:5],
                        examples_without_transactions=sorted(extra)[:5])
    return joined, counts
