"""Where the shared analysis keeps its results: Parquet for tables, JSON for the rest.

An artifact folder holds ``analysis.json`` (settings, cache key, dates, notes, timings, fitted
parameters) and one Parquet file per table.  It is written to a temporary sibling and renamed
into place, so a reader never sees half of it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils import config

#: The file that marks a complete artifact folder.
MANIFEST = "analysis.json"


def cache_dir() -> Path:
    """Folder of the analysis cache for notebooks run on their own (``CLM_CACHE_DIR`` overrides it)."""
    return Path(os.environ.get("CLM_CACHE_DIR", config.DATA_DIR / "processed" / "analysis"))


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """Hash of the analysis code (read once per process), so that a cache built by other code is not reused."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def write_table(folder: Path, name: str, frame: pd.DataFrame) -> None:
    """Write ``frame`` as ``folder/name.parquet`` (index kept)."""
    frame.to_parquet(folder / f"{name}.parquet", engine="pyarrow", compression="zstd")


def read_table(folder: Path, name: str) -> pd.DataFrame:
    """Read ``folder/name.parquet``."""
    return pd.read_parquet(folder / f"{name}.parquet", engine="pyarrow")


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``analysis.json`` (sorted keys, so reruns are byte-identical)."""
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
    (folder / MANIFEST).write_text(text + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read ``analysis.json``."""
    result: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return result


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished analysis."""
    return (folder / MANIFEST).is_file()


def staging_folder(target: Path) -> Path:
    """A new empty folder next to ``target`` to build into."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))


def move_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; if another process finished first, keep theirs."""
    try:
        os.replace(staging, target)
    except OSError:
        if is_complete(target):
            shutil.rmtree(staging, ignore_errors=True)
            return
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)


def copy_folder(source: Path, target: Path) -> None:
    """Copy a finished artifact folder (hard links where the file system allows)."""
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        dest = target / item.name
        try:
            os.link(item, dest)
        except OSError:
            shutil.copy2(item, dest)


def _json_default(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
