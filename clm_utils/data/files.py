"""Several files read as one input: a folder of exports, or a glob such as ``exports/*.parquet``.

A time-ordered export often arrives as one file per month or per day.  :func:`read_many` reads
every file (Parquet through a pyarrow dataset, reading only the columns the analysis needs; text
files one by one) into one raw frame, which :func:`clm_utils.data.load_and_check` then maps,
validates and cleans with the same rules as a single file.  The data-quality table counts the
rows of all files; an error about rows names the file and its line numbers.

Columns of the files that play no role (a product code, a store, ...) are not kept: they are
reduced to one 64-bit hash per row, ``_other_columns``, so that the exact-duplicate check still
compares rows "in every column of the file" at 8 bytes a row.
"""

from __future__ import annotations

import glob as _glob
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clm_utils.data.columns import detect_columns, parse_columns
from clm_utils.data.read import _detect_format, _label, read_file
from clm_utils.errors import DataError

#: File names a folder input reads (case-insensitive); names starting with ``.`` or ``_`` (``_SUCCESS``,
#: ``_meta.json``, hidden files) are skipped, as Spark and Hive do.
DATA_SUFFIXES: tuple[str, ...] = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")
#: Name of the column holding the hash of the columns that play no role.
OTHER_HASH = "_other_columns"


def is_many(path: str | Path) -> bool:
    """True when ``path`` names a folder or a glob pattern (not one existing file)."""
    p = Path(str(path))
    if p.is_file():
        return False
    return p.is_dir() or _glob.has_magic(str(path))


def expand(path: str | Path) -> tuple[list[Path], str]:
    """The data files of a folder (recursively) or a glob, sorted by path, and a label for messages.

    Raises
    ------
    DataError
        The folder holds no data file, the pattern matches none, or one of the files is empty.
    """
    text = str(path)
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith((".", "_"))
                       and f.name.lower().endswith(DATA_SUFFIXES)
                       and not any(part.startswith((".", "_")) for part in f.relative_to(p).parts[:-1]))
        if not files:
            raise DataError("the folder holds no CSV, TSV, gzipped CSV or Parquet files", file=_label(p),
                            hint="point --data at a folder of .csv, .csv.gz or .parquet files, or at one file")
        label = _label(p)
    else:
        files = sorted(Path(f) for f in _glob.glob(text, recursive=True) if Path(f).is_file())
        if not files:
            raise DataError("the pattern matches no file", file=text, hint="check the pattern given with --data "
                            "(quote it, e.g. --data 'exports/*.parquet', so the shell does not expand it)")
        label = text
    for f in files:
        if f.stat().st_size == 0:
            raise DataError("the file is empty", file=_label(f), hint="export it again, or remove it from the folder")
    return files, label


@dataclass
class ManyFiles:
    """The raw frame of several files and where each file's rows are.

    Attributes
    ----------
    frame
        The files' rows in file order: the columns that play a role, as read, plus
        :data:`OTHER_HASH` when the files have other columns.
    label
        The folder or pattern, for the data-quality table.
    files
        Labels of the files, in order.
    starts
        Position of each file's first row in ``frame`` (with a final entry ``len(frame)``).
    first_lines
        File line number of each file's first row (2 with a header line, 1 for Parquet).
    kind
        ``parquet`` or ``text``.
    n_columns
        Number of columns in the files.
    """

    frame: pd.DataFrame
    label: str
    files: list[str]
    starts: np.ndarray
    first_lines: list[int]
    kind: str
    n_columns: int
    detected: dict[str, str] = field(default_factory=dict)

    def locate(self, positions: Sequence[int]) -> list[tuple[str, int]]:
        """(file label, file line number) of rows given by their position in :attr:`frame`."""
        pos = np.asarray(positions, dtype=np.int64)
        idx = np.searchsorted(self.starts, pos, side="right") - 1
        return [(self.files[i], int(p - self.starts[i]) + self.first_lines[i]) for i, p in zip(idx, pos, strict=True)]

    def translate(self, exc: DataError) -> DataError:
        """The error with its row positions turned into the first offending file and its line numbers."""
        if not exc.rows:
            return DataError(exc.message, file=exc.file if exc.file != self.label else self.label,
                             column=exc.column, hint=exc.hint)
        where = self.locate(exc.rows)
        first_file = where[0][0]
        lines = [line for f, line in where if f == first_file]
        n_files = len({f for f, _ in where})
        message = exc.message + (f" (first in {first_file}; more in {n_files - 1} other file(s))" if n_files > 1 else "")
        return DataError(message, file=first_file, column=exc.column, rows=lines, n_rows=exc.n_rows, hint=exc.hint)


def _other_hash(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of the columns in ``frame`` (values compared as text, as a CSV shows them)."""
    text = frame.astype("str").where(frame.notna(), "\x00")
    return pd.util.hash_pandas_object(text, index=False).to_numpy()


def read_many(path: str | Path, columns: Mapping[str, str] | str | None = None, *, sep: str | None = None,
              encoding: str | None = None) -> ManyFiles:
    """Read the files of a folder or glob into one raw frame (see the module docstring).

    Parameters
    ----------
    path
        A folder (read recursively) or a glob pattern.  The files must all be Parquet or all text
        (CSV, TSV, optionally gzipped), with the same column names.
    columns, sep, encoding
        As in :func:`clm_utils.data.load_and_check`; the columns are detected on the first file.

    Raises
    ------
    DataError
        No file, files of mixed kinds, or a file whose columns differ from the first file's (named).
    """
    files, label = expand(path)
    kinds = []
    for f in files:
        with f.open("rb") as fh:
            kinds.append("parquet" if _detect_format(f, fh.read(8)) == "parquet" else "text")
    if len(set(kinds)) > 1:
        odd = files[kinds.index("text" if kinds[0] == "parquet" else "parquet")]
        raise DataError(f"mixes Parquet and text files ({_label(files[0])} is {kinds[0]}, {_label(odd)} is not)",
                        file=label, hint="put the Parquet and the CSV exports in separate folders")
    given = parse_columns(columns) or {}
    if kinds[0] == "parquet":
        return _read_parquet(files, label, given)
    return _read_text(files, label, given, sep=sep, encoding=encoding)


def _check_same_columns(names: list[str], first: list[str], file: Path, first_file: Path) -> None:
    if set(names) != set(first):
        missing = [c for c in first if c not in names]
        extra = [c for c in names if c not in first]
        what = (f"lacks column {missing[0]!r}" if missing else f"has an extra column {extra[0]!r}")
        raise DataError(f"{what}, which {_label(first_file)} " + ("has" if missing else "does not have"),
                        file=_label(file), column=(missing or extra)[0],
                        hint="every file of the folder must have the same columns; export them with one layout")


def _read_parquet(files: list[Path], label: str, given: dict[str, str]) -> ManyFiles:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    schemas = []
    for f in files:
        try:
            schemas.append(pq.read_schema(f))
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
            raise DataError(f"is not a readable Parquet file ({type(exc).__name__})", file=_label(f),
                            hint="write it again with pandas.DataFrame.to_parquet, or remove it from the folder") from None
    first = [str(n) for n in schemas[0].names]
    for f, s in zip(files[1:], schemas[1:], strict=True):
        _check_same_columns([str(n) for n in s.names], first, f, files[0])
    found = detect_columns(first, given, _label(files[0]))
    roles = list(dict.fromkeys(found.values()))
    others = [c for c in first if c not in roles]
    # one type per column: where the files disagree (an id written as int in one file and text in another),
    # read that column as text everywhere
    fields = []
    for name in roles + others:
        types = {s.field(name).type for s in schemas}
        fields.append(pa.field(name, types.pop() if len(types) == 1 else pa.string()))
    dataset = ds.dataset([str(f) for f in files], format="parquet", schema=pa.schema(fields))
    sizes = []
    parts = []
    hashes = []
    for fragment in dataset.get_fragments():
        # the role columns as they are; the others only as one hash per row
        table = fragment.to_table(schema=dataset.schema, columns=roles)
        sizes.append(table.num_rows)
        parts.append(table)
        if others:
            other = fragment.to_table(schema=dataset.schema, columns=others).to_pandas()
            hashes.append(_other_hash(other))
    table = pa.concat_tables(parts)
    del parts
    frame = table.to_pandas(date_as_object=False, self_destruct=True)
    del table
    if len(frame) == 0:
        raise DataError("the files have no rows", file=label, hint="export the transactions again")
    frame.columns = [str(c) for c in frame.columns]
    if others:
        frame[OTHER_HASH] = np.concatenate(hashes)
    starts = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    return ManyFiles(frame, label, [_label(f) for f in files], starts, [1] * len(files), "parquet", len(first))


def _read_text(files: list[Path], label: str, given: dict[str, str], *, sep: str | None,
               encoding: str | None) -> ManyFiles:
    frames = []
    first_lines = []
    first: list[str] | None = None
    roles: list[str] = []
    others: list[str] = []
    for f in files:
        raw, _, first_line, kind = read_file(f, sep=sep, encoding=encoding)
        if kind not in ("text", "gzip"):  # pragma: no cover - excluded by the suffix filter
            raise DataError("is not a CSV or Parquet file", file=_label(f), hint="remove it from the folder")
        names = [str(c) for c in raw.columns]
        if first is None:
            first = names
            found = detect_columns(first, given, _label(f))
            roles = list(dict.fromkeys(found.values()))
            others = [c for c in first if c not in roles]
        else:
            _check_same_columns(names, first, f, files[0])
        part = raw[roles].copy()
        if others:
            part[OTHER_HASH] = _other_hash(raw[others])
        frames.append(part)
        first_lines.append(first_line)
        del raw
    sizes = [len(p) for p in frames]
    frame = pd.concat(frames, ignore_index=True)
    starts = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    assert first is not None
    return ManyFiles(frame, label, [_label(f) for f in files], starts, first_lines, "text", len(first))
