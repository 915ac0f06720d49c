"""Resolve a FILE | DIR | GLOB input into a :class:`Source`: files, format, column mapping, date rule.

The SQL engines never load the data into pandas; they read a small sample of the first file
(the first lines of a text file, the first rows of a Parquet file) and reuse the pandas loader's
own detection (:mod:`clm_utils.data`: separator sniffing, header detection, the CDNOW layout,
column mapping by synonyms or ``--columns``) on that sample, so that the engines read the same
columns the pandas path reads.
"""

from __future__ import annotations

import glob as _glob
import gzip
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from clm_utils import config
from clm_utils import data as _data
from clm_utils.data.read import sniff_text
from clm_utils.data.values import MISSING_ID_TEXT
from clm_utils.engines._sql import SLASH_PATTERN
from clm_utils.errors import DataError

#: File name endings read from a folder.
SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz", ".gz", ".parquet", ".pq")
SAMPLE_LINES = 2_000

Kind = Literal["csv", "whitespace", "parquet"]
#: How a source column is typed: text, a number, or a date/timestamp already.
ValueType = Literal["string", "integer", "float", "date", "timestamp", "timestamptz", "other"]


@dataclass
class Source:
    """What an engine needs to read the input.

    Attributes
    ----------
    files
        The files, sorted by path (the pandas engine concatenates them in this order).
    label
        Shown in data-quality tables and error messages.
    kind
        ``csv`` (delimited text), ``whitespace`` (white-space separated text such as CDNOW) or
        ``parquet``.
    delimiter, header, encoding
        Text layout (``delimiter`` is None for white-space separated text).
    n_fields
        Number of fields per row (text) or of columns (Parquet).
    columns
        Canonical name (``customer_id``, ``date``, ``amount``, ``quantity``, ``price``) to the
        0-based position of the source column.
    types
        Canonical name to the source value type.
    date_rule
        ``("native",)`` for date/timestamp columns, ``("format", strftime)``, ``("iso",)`` or
        ``("slashed",)`` (day/month order decided over all rows by the engine).
    """

    files: list[Path]
    label: str
    kind: Kind
    delimiter: str | None = None
    header: bool = True
    encoding: str = "utf-8"
    n_fields: int = 0
    source_names: list[str] = field(default_factory=list)
    columns: dict[str, int] = field(default_factory=dict)
    types: dict[str, ValueType] = field(default_factory=dict)
    date_rule: tuple[str, ...] = ("iso",)
    date_example: str | None = None
    #: The first customer id that is not missing, as text (decides whether ids may be floats).
    id_example: str | None = None
    #: Source columns that play no role but count when rows are compared for exact duplicates.
    other: list[int] = field(default_factory=list)
    #: Columns detected by name (role -> source name), for the data-quality table.
    detected: dict[str, str] = field(default_factory=dict)
    #: The amount column is a price column (no quantity): its name, quoted, for the quality table.
    amount_from_price: str | None = None
    #: A folder or glob was given (the quality table then lists the files read).
    many: bool = False

    @property
    def total_bytes(self) -> int:
        """Total size of the input files on disk."""
        return sum(f.stat().st_size for f in self.files)


def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def expand_paths(paths: str | Path | list[str | Path] | tuple[str | Path, ...]) -> tuple[list[Path], str]:
    """Expand a file, a folder of data files, a glob, or a list of them into sorted files.

    Returns
    -------
    (files, label)
        Sorted, de-duplicated files and a label for messages.
    """
    if not isinstance(paths, (list, tuple)) and _data.is_many(paths):
        return _data.expand(paths)  # the loader's own rule: the same files, the same label
    items = list(paths) if isinstance(paths, (list, tuple)) else [paths]
    files: list[Path] = []
    for item in items:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            found = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith((".", "_"))
                     and p.name.lower().endswith(SUFFIXES)]
            if not found:
                raise DataError("the folder holds no CSV, gzipped CSV or Parquet files", file=_label(path),
                                hint="point --data at a folder of .csv, .csv.gz or .parquet files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif _glob.has_magic(text):
            found = [Path(p) for p in sorted(_glob.glob(text, recursive=True)) if Path(p).is_file()]
            if not found:
                raise DataError("the pattern matches no file", file=text, hint="check the glob pattern given with --data")
            files.extend(found)
        else:
            raise DataError("file not found", file=text, hint="check the path given with --data / data_path")
    files = sorted(dict.fromkeys(files))
    for f in files:
        if f.stat().st_size == 0:
            raise DataError("the file is empty", file=_label(f), hint="export the transactions again")
    label = _label(files[0]) if len(files) == 1 else (str(items[0]) if len(items) == 1 else f"{len(files)} files")
    return files, label


def _kind_of(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(8)
    return _data._detect_format(path, head)


def _head_text(path: Path, compressed: bool, encoding: str | None) -> tuple[str, str]:
    """The first :data:`SAMPLE_LINES` lines of a text file, decoded, and the encoding used."""
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            lines = []
            for _ in range(SAMPLE_LINES):
                line = fh.readline()
                if not line:
                    break
                lines.append(line)
    except OSError:
        raise DataError("is not a valid gzip file", file=_label(path), hint="decompress it and pass the CSV") from None
    raw = b"".join(lines)
    if b"\x00" in raw[:4096]:
        raise DataError("looks binary, not text", file=_label(path), hint="pass a CSV, TSV or Parquet file")
    if encoding:
        return raw.decode(encoding, errors="replace"), encoding
    for enc in ("utf-8-sig", "cp1252", "latin-1"):  # the loader's order (clm_utils.data.read)
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1", errors="replace"), "latin-1"  # pragma: no cover - latin-1 decodes anything


def _probe_mapping(sample: pd.DataFrame, columns: Mapping[str, str] | str | None, label: str) -> dict[str, str]:
    """Canonical name -> source column name, decided by :func:`clm_utils.data.map_columns`.

    ``map_columns`` returns the renamed frame; a first row holding the column names tells which
    source column became which canonical column.
    """
    probe = pd.concat([pd.DataFrame([list(sample.columns)], columns=sample.columns), sample], ignore_index=True)
    mapped = _data.map_columns(probe.astype("object"), columns, label)
    return {str(c): str(mapped[c].iloc[0]) for c in mapped.columns}


def _arrow_type(kind: object) -> ValueType:
    import pyarrow as pa

    t = pa.types
    if t.is_timestamp(kind):
        return "timestamptz" if kind.tz is not None else "timestamp"  # type: ignore[attr-defined]
    if t.is_date(kind):
        return "date"
    if t.is_integer(kind):
        return "integer"
    if t.is_floating(kind) or t.is_decimal(kind):
        return "float"
    if t.is_string(kind) or t.is_large_string(kind) or t.is_dictionary(kind):
        return "string"
    return "other"


_SLASH = re.compile(SLASH_PATTERN)  # day/month/year as clm_utils.data.parse_dates recognises it
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def _date_rule(values: pd.Series, date_format: str | None, label: str) -> tuple[str, ...]:
    """Decide how the engines parse a text date column, from a sample of its values.

    Mirrors :func:`clm_utils.data.parse_dates`: an explicit format, ``YYYYMMDD``, ISO 8601, or
    day/month/year vs month/day/year (decided by the engine over all rows, as pandas does).
    """
    if date_format:
        return ("format", date_format)
    text = values.dropna().astype("str").str.strip()
    text = text[text != ""]
    if text.empty or text.str.fullmatch(r"\d{8}").mean() > 0.5:
        return ("format", "%Y%m%d")
    if text.str.fullmatch(_ISO).mean() > 0.5:  # the rest are counted as unparseable, as pandas does
        return ("iso",)
    if text.str.match(_SLASH).mean() > 0.5:
        return ("slashed",)
    raise DataError(f"dates such as {text.iloc[0]!r} are not in one recognised format", file=label,
                    column=config.DATE, hint="pass --date-format (e.g. '%d %b %Y'), or use --engine pandas")


def resolve_source(
    paths: str | Path | list[str | Path] | tuple[str | Path, ...],
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
) -> Source:
    """Expand the input and decide format, layout, column mapping and date rule from a sample.

    Raises
    ------
    DataError
        No file, mixed formats, Excel files, missing or ambiguous columns (the messages of
        :func:`clm_utils.data.map_columns`).
    """
    files, label = expand_paths(paths)
    many = not isinstance(paths, (list, tuple)) and _data.is_many(paths)
    kinds = {_kind_of(f) for f in files}
    if "excel" in kinds:
        raise DataError("Excel workbooks are not read by the large-data engines", file=label,
                        hint="save the sheet as CSV, or use --engine pandas")
    text_kinds = {"text", "gzip"}
    if len(kinds - text_kinds) + (1 if kinds & text_kinds else 0) > 1:
        raise DataError("mixes Parquet and text files", file=label, hint="convert them to one format")
    first = files[0]
    if kinds == {"parquet"}:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(first)
            sample = next(pf.iter_batches(batch_size=SAMPLE_LINES)).to_pandas() if pf.metadata.num_rows else None
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
            raise DataError(f"is not a readable Parquet file ({type(exc).__name__})", file=_label(first),
                            hint="write it again with pandas.DataFrame.to_parquet") from None
        if sample is None:
            sample = pf.schema_arrow.empty_table().to_pandas()
        sample.columns = [str(c) for c in sample.columns]
        arrow_schema = pf.schema_arrow
        src = Source(files=files, label=label, kind="parquet", n_fields=sample.shape[1],
                     source_names=list(sample.columns), many=many)
        raw_sample = sample
    else:
        text, enc = _head_text(first, "gzip" in kinds and _kind_of(first) == "gzip", encoding)
        if not text.strip():
            raise DataError("the file is empty", file=_label(first), hint="export the transactions again")
        delim, header, _ = sniff_text(text, sep)
        lines = [ln for ln in text.splitlines() if ln.strip()]
        body = "\n".join(lines[: SAMPLE_LINES - 1])
        if delim is None:
            raw_sample = pd.read_csv(io.StringIO(body), sep=r"\s+", header=0 if header else None, dtype=str,
                                     engine="python")
        else:
            raw_sample = pd.read_csv(io.StringIO(body), sep=delim, header=0 if header else None, dtype=str,
                                     skipinitialspace=True, index_col=False, on_bad_lines="skip")
        if not header:
            raw_sample.columns = [f"column_{i + 1}" for i in range(raw_sample.shape[1])]
        raw_sample.columns = [str(c).strip() for c in raw_sample.columns]
        arrow_schema = None
        src = Source(files=files, label=label, kind="whitespace" if delim is None else "csv", delimiter=delim,
                     header=header, encoding="latin-1" if enc in ("cp1252", "latin-1") else "utf-8",
                     n_fields=raw_sample.shape[1], source_names=list(raw_sample.columns), many=many)
    names = list(raw_sample.columns)
    if columns is None and src.kind != "parquet" and _data._is_cdnow_layout(raw_sample):
        # the CDNOW text layout, as clm_utils.data._cdnow_columns maps it
        positions = [0, 2, 3, 4] if raw_sample.shape[1] == 5 else [0, 1, 2, 3]
        src.columns = dict(zip((config.CUSTOMER_ID, config.DATE, config.QUANTITY, config.AMOUNT), positions))
    else:
        given = _data.parse_columns(columns) or {}
        found = _data.detect_columns(names, given, label)
        src.detected = {role: user for role, user in found.items() if user not in given and user != role}
        unsupported = sorted(set(found) - {config.CUSTOMER_ID, config.DATE, config.AMOUNT, config.QUANTITY, "price"})
        if unsupported:
            role = unsupported[0]
            rule = ("order lines are merged into orders only by the pandas engine" if role == "order_id"
                    else "this column is read only by the pandas engine")
            raise DataError(f"has a {role!r} column ({found[role]!r}): {rule}", file=label,
                            hint="use --engine pandas, or leave the column out of the export")
        if (config.AMOUNT in found and config.QUANTITY not in found and found[config.AMOUNT] not in given
                and re.sub(r"[^0-9a-z]", "", str(found[config.AMOUNT]).lower()) in _data.PRICE_AS_AMOUNT):
            src.amount_from_price = repr(found[config.AMOUNT])
        src.columns = {role: names.index(user) for role, user in found.items()}
        src.other = [i for i in range(len(names)) if i not in src.columns.values()]
    src.types = {c: (_arrow_type(arrow_schema.field(i).type) if arrow_schema is not None and src.kind == "parquet" else "string")
                 for c, i in src.columns.items()}
    ids = raw_sample.iloc[:, src.columns[config.CUSTOMER_ID]]
    ids = ids[ids.notna()].astype("str").str.strip()
    ids = ids[(ids != "") & ~ids.str.lower().isin(MISSING_ID_TEXT)]
    src.id_example = str(ids.iloc[0]) if len(ids) else None
    if src.types[config.DATE] in ("timestamp", "timestamptz", "date"):
        src.date_rule = ("native",)
    else:
        values = raw_sample.iloc[:, src.columns[config.DATE]]
        src.date_rule = _date_rule(values, date_format, label)
        nonblank = values.dropna().astype("str").str.strip()
        nonblank = nonblank[nonblank.str.match(_SLASH)]
        src.date_example = str(nonblank.iloc[0]) if len(nonblank) else None
    return src
