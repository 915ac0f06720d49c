"""What one ``clm run`` does: the analysis settings plus where and how the reports are written.

Settings come from defaults, a YAML file (``--config``) and flags, in that order; flags win.
Every analysis setting goes through :class:`clm_utils.settings.Settings`, the one place that
validates them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clm_utils import config
from clm_utils.errors import ParameterError
from clm_utils.settings import ALIASES, Settings

#: Settings of the run itself (not of the analysis), with their YAML spellings.
RUN_KEYS: dict[str, str] = {"output": "output_dir", "output_dir": "output_dir", "run_name": "run_name",
                            "notebooks": "notebooks", "show_code": "show_code", "params": "params", "jobs": "jobs",
                            "compare_to": "compare_to"}  # compare_to: issue 12 (periodic reports)


@dataclass
class RunOptions:
    """A validated run: analysis settings, output folder and name, notebooks, display options.

    ``params`` holds notebook-own parameters (``{"period": "Q"}``), each passed to the notebooks
    that declare it; ``jobs`` is how many notebooks run at once.
    """

    settings: Settings
    output_dir: str = str(config.REPORTS_DIR)
    run_name: str = "run"
    notebooks: list[str] = field(default_factory=lambda: list(config.NOTEBOOKS))
    show_code: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    jobs: int = 2
    #: The earlier as-of date this run is compared with (notebook 07, hand-off change columns); None:
    #: the as-of date minus notebook 07's ``compare_offset`` when 07 runs (clm_utils.periodic).
    compare_to: str | None = None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML run configuration; a relative data path is taken relative to the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"config file {path} not found", parameter="config", hint="check the path to the YAML file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ParameterError(f"{path} is not valid YAML{where}", parameter="config",
                             hint="check the indentation and quoting") from None
    if not isinstance(raw, dict):
        raise ParameterError(f"{path} must hold a mapping of settings", parameter="config",
                             hint="write one `key: value` per line")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "policies" and isinstance(value, dict):  # the older nested form
            out.update(value)
        else:
            out[str(key)] = value
    known = set(RUN_KEYS) | set(Settings.names()) | set(ALIASES)
    unknown = sorted(set(out) - known)
    if unknown:
        raise ParameterError(f"{path}: unknown setting {unknown[0]!r}", parameter="config",
                             hint=f"known settings: {', '.join(sorted(known))}")
    data = out.get("data", out.get("data_path"))
    if data:
        p = Path(str(data)).expanduser()
        out.pop("data", None)
        out["data_path"] = str(p if p.is_absolute() else (path.parent / p).resolve())
    return out


def build_options(file_values: Mapping[str, Any] | None = None, **flags: Any) -> RunOptions:
    """Merge defaults, config-file values and flags (flags win; None means "not given") and validate.

    Keys are setting names (:class:`~clm_utils.settings.Settings`, with the aliases ``data`` and
    ``observation_end``) or run keys (``output_dir``, ``run_name``, ``notebooks``, ``show_code``,
    ``params``, ``jobs``).  A ``params`` entry that names a setting is a setting.
    """
    merged: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for source in (file_values or {}, flags):
        for key, value in source.items():
            if value is None:
                continue
            if key == "params":
                params.update(value)
            else:
                merged[RUN_KEYS.get(key, ALIASES.get(key, key))] = value
    for name in [p for p in params if p in Settings.names() or p in ALIASES]:
        merged[ALIASES.get(name, name)] = params.pop(name)
    run_values = {k: merged.pop(k) for k in list(merged) if k in RUN_KEYS.values()}
    settings = Settings.from_mapping(merged)
    opts = RunOptions(settings=settings, params=params)
    if "output_dir" in run_values:
        opts.output_dir = str(run_values["output_dir"])
    opts.notebooks = resolve_notebooks(run_values.get("notebooks", list(config.NOTEBOOKS)))
    if not opts.notebooks:
        raise ParameterError("no notebook chosen", parameter="notebooks", hint=f"choose from {', '.join(config.NOTEBOOKS)}")
    opts.show_code = bool(run_values.get("show_code", False))
    jobs = run_values.get("jobs", min(2, os.cpu_count() or 1))
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ParameterError(f"{jobs!r} is not a whole number ≥ 1", parameter="jobs", hint="e.g. --jobs 2")
    opts.jobs = jobs
    # --- periodic reports (issue 12): comparison date; a run with an as-of date is named by that date ---
    from clm_utils.settings import as_date_text

    opts.compare_to = as_date_text(run_values.get("compare_to"), "compare_to")
    if opts.compare_to and settings.as_of and opts.compare_to >= settings.as_of:
        raise ParameterError(f"--compare-to {opts.compare_to} is not before the as-of date {settings.as_of}",
                             parameter="compare_to", hint="compare with an earlier date")
    name = run_values.get("run_name")
    if name is None and settings.as_of:
        name = settings.as_of
    # --- end periodic reports ---
    if name is None:
        stem = Path(settings.data_path).stem if settings.data_path else "cdnow"
        name = stem + (f"_{settings.as_of}" if settings.as_of else "")
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:80] or "run"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}", str(name)):
        raise ParameterError(f"{name!r} is not a usable folder name", parameter="run_name",
                             hint="use letters, digits, '.', '_' or '-'")
    opts.run_name = str(name)
    return opts


def resolve_notebooks(names: Sequence[str] | str) -> list[str]:
    """Turn ``["00", "clv", "03_clv.ipynb"]`` or ``"00,03"`` into notebook names, in run order."""
    if isinstance(names, str):
        names = [n for n in re.split(r"[,\s]+", names) if n]
    chosen: set[str] = set()
    for name in names:
        key = f"{name:02d}" if isinstance(name, int) else Path(str(name)).stem  # YAML reads 03 as 3
        hits = [nb for nb in config.NOTEBOOKS if nb == key or nb.startswith(f"{key}_") or nb.split("_", 1)[1] == key]
        if not hits:
            raise ParameterError(f"no notebook called {name!r}", parameter="notebooks",
                                 hint=f"choose from {', '.join(config.NOTEBOOKS)}")
        chosen.update(hits)
    return [nb for nb in config.NOTEBOOKS if nb in chosen]
