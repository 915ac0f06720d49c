"""Running the notebooks with papermill, rendering self-contained HTML, and the index page.

A run is built in a staging folder next to its target and moved into place only when every
notebook has run and rendered, so a failed run never half-overwrites an earlier report.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from clm_utils import config
from clm_utils.errors import ParameterError, UserError

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: Packages whose versions are recorded in every run's metadata.
RECORDED_PACKAGES = ("clm-lab", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "matplotlib",
                     "seaborn", "papermill", "nbconvert")
#: Error names raised inside a notebook that mean "the user's input is wrong" (exit code 2).
USER_ERROR_NAMES = {"DataError", "ParameterError", "ModelError", "UserError"}
POLICIES = ("negative", "zero", "duplicates", "invalid", "strict", "decimal", "sep")


class AnalysisIncomplete(UserError):
    """The data are valid but cannot support one analysis (a ModelError inside a notebook).

    The run goes on: that report is rendered up to the failing section with a notice, and the
    index marks it incomplete.
    """


class NotebookFailed(Exception):
    """A notebook raised an error that is not the user's (exit code 1)."""

    exit_code = 1


@dataclass
class RunConfig:
    """Everything a run needs; built from defaults, a YAML file and flags, in that order.

    ``data_path`` None means the bundled CDNOW master file.  ``params`` holds extra notebook
    parameters (``{"n_bootstrap": 50}``): each is passed to the notebooks that declare it.
    """

    data_path: str | None = None
    columns: dict[str, str] | None = None
    date_format: str | None = None
    observation_end: str | None = None
    calibration_end: str | None = None
    time_unit: str = "W"
    currency: str = config.DEFAULT_CURRENCY
    lang: str = config.DEFAULT_LANG
    seed: int = config.DEFAULT_SEED
    output_dir: str = str(config.REPORTS_DIR)
    run_name: str | None = None
    notebooks: list[str] = field(default_factory=lambda: list(config.NOTEBOOKS))
    show_code: bool = False
    policies: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def notebook_parameters(self) -> dict[str, Any]:
        """The common parameters every notebook declares (DESIGN.md, "Notebook parameters")."""
        return {
            "data_path": self.data_path,
            "columns": self.columns,
            "date_format": self.date_format,
            "observation_end": self.observation_end,
            "calibration_end": self.calibration_end,
            "time_unit": self.time_unit,
            "currency": self.currency,
            "lang": self.lang,
            "seed": self.seed,
            "output_dir": None,
        }


CONFIG_KEYS = {
    "data": "data_path", "data_path": "data_path", "columns": "columns", "date_format": "date_format",
    "as_of": "observation_end", "observation_end": "observation_end", "calibration_end": "calibration_end",
    "time_unit": "time_unit", "currency": "currency", "lang": "lang", "seed": "seed", "output": "output_dir",
    "output_dir": "output_dir", "run_name": "run_name", "notebooks": "notebooks", "show_code": "show_code",
    "policies": "policies", "params": "params",
}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML run configuration; relative data paths are taken relative to the file."""
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
    unknown = sorted(set(raw) - set(CONFIG_KEYS) - set(POLICIES))
    if unknown:
        raise ParameterError(f"{path}: unknown setting {unknown[0]!r}", parameter="config",
                             hint=f"known settings: {', '.join(sorted(set(CONFIG_KEYS) | set(POLICIES)))}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in POLICIES:
            out.setdefault("policies", {})[key] = value
            continue
        out[CONFIG_KEYS[key]] = value
    if out.get("data_path"):
        data = Path(str(out["data_path"])).expanduser()
        out["data_path"] = str(data if data.is_absolute() else (path.parent / data).resolve())
    return out


def build_config(file_values: Mapping[str, Any] | None = None, **flags: Any) -> RunConfig:
    """Merge defaults, config-file values and flags (flags win; None means "not given")."""
    cfg = RunConfig()
    for source in (file_values or {}, flags):
        for key, value in source.items():
            if value is None:
                continue
            if key in ("policies", "params"):
                getattr(cfg, key).update(value)
            else:
                setattr(cfg, key, value)
    return validate_config(cfg)


def _as_date_text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        raise ParameterError(f"{value!r} is not a date", parameter=name, hint="write it as YYYY-MM-DD") from None
    if pd.isna(ts):
        raise ParameterError(f"{value!r} is not a date", parameter=name, hint="write it as YYYY-MM-DD")
    return str(ts.date())


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


def validate_config(cfg: RunConfig) -> RunConfig:
    """Check and normalise every setting; raise ParameterError naming the bad one."""
    from clm_utils.data import parse_columns

    cfg.time_unit = str(cfg.time_unit).upper()
    config.unit_days(cfg.time_unit)
    if cfg.lang not in config.LANGS:
        raise ParameterError(f"{cfg.lang!r} is not supported", parameter="lang", hint="use en or zh")
    try:
        cfg.seed = int(cfg.seed)
    except (TypeError, ValueError):
        raise ParameterError(f"{cfg.seed!r} is not a whole number", parameter="seed", hint="use e.g. 42") from None
    cfg.observation_end = _as_date_text(cfg.observation_end, "as_of")
    cfg.calibration_end = _as_date_text(cfg.calibration_end, "calibration_end")
    if cfg.observation_end and cfg.calibration_end and cfg.calibration_end >= cfg.observation_end:
        raise ParameterError(f"{cfg.calibration_end} is not before the as-of date {cfg.observation_end}",
                             parameter="calibration_end", hint="choose an earlier calibration end")
    cfg.columns = parse_columns(cfg.columns)
    cfg.notebooks = resolve_notebooks(cfg.notebooks)
    if not cfg.notebooks:
        raise ParameterError("no notebook chosen", parameter="notebooks", hint=f"choose from {', '.join(config.NOTEBOOKS)}")
    if cfg.data_path is not None:
        cfg.data_path = str(Path(str(cfg.data_path)).expanduser().resolve())
    if cfg.run_name is None:
        stem = Path(cfg.data_path).stem if cfg.data_path else "cdnow"
        name = stem + (f"_{cfg.observation_end}" if cfg.observation_end else "")
        cfg.run_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:80] or "run"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}", str(cfg.run_name)):
        raise ParameterError(f"{cfg.run_name!r} is not a usable folder name", parameter="run_name",
                             hint="use letters, digits, '.', '_' or '-'")
    bad = sorted(set(cfg.policies) - set(POLICIES))
    if bad:
        raise ParameterError(f"unknown policy {bad[0]!r}", parameter="policies", hint=f"use {', '.join(POLICIES)}")
    return cfg


# --------------------------------------------------------------------------------------------
# Execution and rendering
# --------------------------------------------------------------------------------------------
def _kernel_env() -> tempfile.TemporaryDirectory[str]:
    """Point Jupyter at a kernel spec that runs *this* interpreter, whatever else is installed."""
    tmp = tempfile.TemporaryDirectory(prefix="clm-kernel-")
    spec_dir = Path(tmp.name) / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.log_level=ERROR"],
            "display_name": "Python 3 (clm-lab)", "language": "python",
            "env": {"PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return tmp


class _JupyterPath:
    """Context manager: put the kernel spec first on JUPYTER_PATH while notebooks run."""

    def __enter__(self) -> _JupyterPath:
        self._tmp = _kernel_env()
        self._old = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = self._tmp.name + (os.pathsep + self._old if self._old else "")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = self._old
        self._tmp.cleanup()


def declared_parameters(notebook: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters`` cell."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=", cell.source, flags=re.M))
    return set()


def _error_message(evalue: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(evalue)).strip()
    return text.splitlines()[0] if text else ""


def execute_notebook(source: Path, target: Path, parameters: Mapping[str, Any], timeout: int = 1800) -> None:
    """Run one notebook with papermill; raise UserError or NotebookFailed naming the cell."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(str(source), str(target), parameters=dict(parameters), kernel_name="python3",
                            language="python", cwd=str(source.parent), progress_bar=False, log_output=False,
                            request_save_on_cell_execute=False, execution_timeout=timeout)
    except PapermillExecutionError as exc:
        msg = _error_message(exc.evalue)
        if exc.ename == "ModelError":
            raise AnalysisIncomplete(msg) from None
        if exc.ename in USER_ERROR_NAMES:
            raise UserError(f"{source.name}: {msg}") from None
        where = _source_cell(source, target, exc.cell_index)
        raise NotebookFailed(f"{source.name} failed in {where}: {exc.ename}: {msg}") from None


def _source_cell(source: Path, executed: Path, index: int) -> str:
    """Name the failing cell as the user sees it in the source notebook: "cell 7 (`first line`)"."""
    import nbformat

    try:
        done = nbformat.read(executed, as_version=4).cells
        errored = [c for c in done if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
        failing = errored[0].source if errored else done[index].source
        cells = nbformat.read(source, as_version=4).cells
        number = next(i for i, c in enumerate(cells, 1) if c.source == failing)
    except (OSError, IndexError, StopIteration, ValueError):
        return f"cell {index}"
    first = failing.strip().splitlines()[0][:60] if failing.strip() else ""
    return f"cell {number} (`{first}`)"


def render_html(notebook: Path, target: Path, *, show_code: bool = False, nav: str = "", footer: str = "") -> None:
    """Render an executed notebook to self-contained HTML (no network resources)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATE_DIR)], template_name="clm",
                            exclude_input=not show_code, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    resources = {"metadata": {"name": _title(nb) or notebook.stem}, "clm_nav": nav, "clm_footer": footer}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    leaks = external_resources(body)
    if leaks:
        raise NotebookFailed(f"{notebook.name}: the HTML would load {leaks[0]} from the network")
    target.write_text(body, encoding="utf-8")


def _title(nb: Any) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if match:
                return match.group(1).strip()
    return None


def external_resources(page: str) -> list[str]:
    """URLs a page would fetch when opened: scripts, styles, fonts, images, frames (links to click are fine)."""
    found = re.findall(r"<(?:script|img|iframe|embed|source|audio|video)\b[^>]*\bsrc\s*=\s*[\"']((?:https?:)?//[^\"']+)",
                       page, flags=re.I)
    found += [href for tag, href in re.findall(r"<(link)\b[^>]*\bhref\s*=\s*[\"']((?:https?:)?//[^\"']+)", page, flags=re.I)]
    found += re.findall(r"@import\s+(?:url\()?[\"']?((?:https?:)?//[^\"')\s]+)", page, flags=re.I)
    found += re.findall(r"url\(\s*[\"']?((?:https?:)?//[^\"')\s]+)", page, flags=re.I)
    found += re.findall(r"\bimport\s*\(?\s*[\"']((?:https?:)?//[^\"']+)", page, flags=re.I)
    return found


# --------------------------------------------------------------------------------------------
# Metadata and index
# --------------------------------------------------------------------------------------------
def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the numbers, plus Python's."""
    out = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _index_page(title: str, sections: list[str]) -> str:
    style = ("body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans CJK SC','PingFang SC',"
             "'Microsoft YaHei',sans-serif;max-width:980px;margin:2em auto;"
             "padding:0 1em;color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
             "padding:4px 10px;text-align:left;vertical-align:top}th{background:#f3f3f3}code{background:#f6f6f6;"
             "padding:1px 4px}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.5em}.muted{color:#666}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html.escape(title)
            + f"</title><style>{style}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n")


def _table(rows: Sequence[tuple[str, str]], header: tuple[str, str] | None = None) -> str:
    head = f"<tr><th>{html.escape(header[0])}</th><th>{html.escape(header[1])}</th></tr>" if header else ""
    body = "".join(f"<tr><td>{html.escape(str(a))}</td><td>{b}</td></tr>" for a, b in rows)
    return f"<table>{head}{body}</table>"


def run_section(meta: Mapping[str, Any], link_prefix: str = "") -> str:
    """The HTML block describing one run: its reports and its metadata."""
    links = "".join(
        f'<li><a href="{html.escape(link_prefix + r["html"])}">{html.escape(r["title"])}</a>'
        f' <span class="muted">({html.escape(r["notebook"])}, {r["seconds"]:.0f} s)</span>'
        + (f' <b>incomplete:</b> {html.escape(r["incomplete"])}' if r.get("incomplete") else "") + "</li>"
        for r in meta["reports"]
    )
    params = meta["parameters"]
    param_rows = [(k, f"<code>{html.escape(json.dumps(v, ensure_ascii=False))}</code>") for k, v in params.items()]
    data = meta["data"]
    data_rows = [
        ("file", html.escape(data["file"])),
        ("SHA-256", f"<code>{data['sha256']}</code>"),
        ("rows read / kept", f"{data['rows_read']:,} / {data['rows_kept']:,}"),
        ("customers", f"{data['customers']:,}"),
        ("first / last transaction", f"{data['first_date']} / {data['last_date']}"),
        ("calibration end / as-of date", f"{data['calibration_end']} / {data['observation_end']}"),
        ("data-quality warnings", str(data["warnings"])),
    ]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    files = "".join(f'<li><a href="{html.escape(link_prefix + f)}">{html.escape(f)}</a></li>'
                    for f in meta.get("files", []))
    if files:
        links += f"</ol><h3>Data files</h3><ul>{files}</ul><ol>"
    return (
        f"<h2>Run <code>{html.escape(meta['run_name'])}</code></h2>"
        f"<p class=\"muted\">Finished {html.escape(meta['finished'])} in {meta['seconds']:.0f} s "
        f"on {html.escape(meta['host'])}.</p>"
        f"<h3>Reports</h3><ol>{links}</ol>"
        f"<h3>Input data</h3>{_table(data_rows)}"
        f"<h3>Parameters</h3>{_table(param_rows, ('parameter', 'value'))}"
        f"<h3>Software</h3><p class=\"muted\">{html.escape(versions)}</p>"
    )


def write_top_index(output_dir: Path, latest: str) -> Path:
    """Write ``output_dir/index.html``: the latest run in full, then links to the other runs."""
    runs = []
    for meta_file in sorted(output_dir.glob("*/run.json")):
        try:
            runs.append(json.loads(meta_file.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    runs.sort(key=lambda m: (m["run_name"] != latest, m.get("finished", "")), reverse=False)
    sections = ["<h1>CLM Lab reports</h1>",
                "<p>Customer-lifecycle analyses of transaction data, one report per notebook. "
                "Every file opens offline.</p>"]
    if runs:
        sections.append(run_section(runs[0], link_prefix=f"{runs[0]['run_name']}/"))
    if len(runs) > 1:
        items = "".join(
            f'<li><a href="{html.escape(m["run_name"])}/index.html">{html.escape(m["run_name"])}</a> '
            f'<span class="muted">({html.escape(m.get("finished", ""))}, {html.escape(m["data"]["file"])})</span></li>'
            for m in runs[1:]
        )
        sections.append(f"<h2>Other runs</h2><ul>{items}</ul>")
    target = output_dir / "index.html"
    tmp = output_dir / f".index.html.{os.getpid()}.tmp"
    tmp.write_text(_index_page("CLM Lab reports", sections), encoding="utf-8")
    os.replace(tmp, target)
    return target


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
def _progress(names: Sequence[str]) -> Any:
    from tqdm import tqdm

    return tqdm(names, desc="clm run", unit="notebook", file=sys.stderr, disable=None,
                bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {postfix} [{elapsed}]")


def run(cfg: RunConfig, log: Callable[[str], None] | None = None) -> Path:
    """Execute the chosen notebooks, render HTML, and move the run into place atomically.

    Returns the path of ``reports/index.html`` (in ``cfg.output_dir``).

    Raises
    ------
    UserError
        Bad data or parameters, whether found before the run or inside a notebook.
    NotebookFailed
        A notebook failed for another reason; the message names the notebook and the cell.
    """
    from clm_utils.data import load_input
    from clm_utils.summary import resolve_dates

    log = log or (lambda msg: print(msg, file=sys.stderr))
    started = time.time()
    run_name = str(cfg.run_name)  # set by validate_config
    # 1. check the data before starting any kernel: bad input fails fast, with one line
    policies = {k: v for k, v in cfg.policies.items() if k in ("negative", "zero", "duplicates", "invalid",
                                                                  "strict", "decimal")}
    read_opts = {k: v for k, v in cfg.policies.items() if k == "sep"}
    transactions, quality = load_input(cfg.data_path, cfg.columns, cfg.date_format,
                                       observation_end=cfg.observation_end, **policies, **read_opts)
    cal, obs = resolve_dates(transactions, cfg.observation_end, cfg.calibration_end)
    data_file = Path(cfg.data_path) if cfg.data_path else config.CDNOW_MASTER
    qframe = quality.to_frame()
    data_meta: dict[str, Any] = {
        "file": data_file.name if cfg.data_path is None else str(data_file),
        "sha256": file_sha256(data_file),
        "rows_read": int(qframe.loc[qframe["check"] == "rows read", "count"].iloc[0]),
        "rows_kept": len(transactions),
        "customers": int(transactions["customer_id"].nunique()),
        "first_date": str(transactions["date"].min().date()),
        "last_date": str(transactions["date"].max().date()),
        "calibration_end": str(cal.date()),
        "observation_end": str(obs.date()),
        "warnings": quality.n_warnings,
    }
    del transactions
    # 2. parameters per notebook: the common ones, plus declared extras
    sources = [config.NOTEBOOKS_DIR / f"{name}.ipynb" for name in cfg.notebooks]
    missing = [s for s in sources if not s.exists()]
    if missing:
        raise NotebookFailed(f"notebook {missing[0].name} is missing from {config.NOTEBOOKS_DIR}")
    declared = {s.stem: declared_parameters(s) for s in sources}
    unknown = sorted(set(cfg.params) - set().union(*declared.values()))
    if unknown:
        raise ParameterError(f"no chosen notebook has a parameter {unknown[0]!r}", parameter="params",
                             hint="see the parameters cell of each notebook")
    output_dir = Path(cfg.output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{run_name}-", dir=output_dir))
    except OSError as exc:
        raise ParameterError(f"cannot write to {output_dir} ({exc.strerror or type(exc).__name__})",
                             parameter="output", hint="choose a folder you can write to with --output") from None
    reports: list[dict[str, Any]] = []
    try:
        with _JupyterPath():
            bar = _progress(cfg.notebooks)
            for i, source in enumerate(sources, 1):
                bar.set_postfix_str(source.stem)
                tick = time.time()
                params = cfg.notebook_parameters() | {"output_dir": str(staging)}
                params |= {k: v for k, v in cfg.params.items() if k in declared[source.stem]}
                params = {k: v for k, v in params.items() if k in declared[source.stem]}
                executed = staging / source.name
                incomplete = None
                try:
                    execute_notebook(source, executed, params)
                except AnalysisIncomplete as exc:
                    incomplete = exc.message
                    mark_incomplete(executed, incomplete)
                    log(f"{source.stem}: incomplete: {incomplete}")
                except (UserError, NotebookFailed):
                    _keep_failed(output_dir, run_name, executed)
                    raise
                reports.append({"notebook": source.stem, "html": f"{source.stem}.html", "title": "",
                                "seconds": round(time.time() - tick, 1), "incomplete": incomplete})
                bar.update(1)
                if bar.disable:
                    log(f"[{i}/{len(sources)}] {source.stem}: done in {time.time() - tick:.0f} s")
            bar.close()
        finished = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        footer = (f"CLM Lab run <b>{html.escape(run_name)}</b>: data {html.escape(data_meta['file'])} "
                  f"(SHA-256 {data_meta['sha256'][:12]}…), as-of {data_meta['observation_end']}, {finished}.")
        for rep, source in zip(reports, sources):
            import nbformat

            nb = nbformat.read(staging / source.name, as_version=4)
            rep["title"] = _title(nb) or source.stem
            nav = ' · '.join(f'<a href="{r["notebook"]}.html">{html.escape(r["notebook"])}</a>' for r in reports)
            render_html(staging / source.name, staging / rep["html"], show_code=cfg.show_code,
                        nav=f'<a href="index.html">Index</a> · {nav}', footer=footer)
        extras = sorted(p.name for p in staging.iterdir() if p.suffix in (".csv", ".parquet", ".xlsx"))
        meta = {
            "run_name": run_name,
            "files": extras,
            "finished": finished,
            "seconds": round(time.time() - started, 1),
            "host": platform.node() or "unknown",
            "data": data_meta,
            "parameters": {k: v for k, v in asdict(cfg).items() if k not in ("output_dir",)},
            "versions": package_versions(),
            "reports": reports,
        }
        (staging / "run.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        (staging / "index.html").write_text(
            _index_page(f"CLM Lab run {run_name}", ["<p><a href=\"../index.html\">All runs</a></p>",
                                                        run_section(meta)]), encoding="utf-8")
        _swap_into_place(staging, output_dir / run_name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return write_top_index(output_dir, run_name)


def mark_incomplete(executed: Path, message: str) -> None:
    """Replace the error output of a notebook stopped by a ModelError with a readable notice."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    nb.cells = [c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    notice = ("> **This analysis stopped here: the data cannot support it.** "
              f"{html.escape(message)}\n>\n> The sections below were not run. The other reports of this run are "
              "complete; with more customers or a longer history this section runs as usual.")
    for i, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
            nb.cells.insert(i + 1, nbformat.v4.new_markdown_cell(notice))
            break
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(notice.replace("stopped here", "is incomplete")))
    nbformat.write(nb, executed)


def _keep_failed(output_dir: Path, run_name: str, executed: Path) -> None:
    """Keep the failing executed notebook for inspection, away from the reports."""
    if executed.exists():
        failed = output_dir / "_failed" / run_name
        failed.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executed, failed / executed.name)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with renames only (same file system)."""
    old = None
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Committed notebooks
# --------------------------------------------------------------------------------------------
NOISE = re.compile(r"0x[0-9a-f]{8,}|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\.\d+")


def clean_notebook(nb: Any) -> list[str]:
    """Strip run-specific metadata (timings, papermill records) in place; return noise found in outputs."""
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    problems = []
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else out.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            noise = NOISE.search(text)
            if noise:
                problems.append(f"cell {i}: {noise.group(0)}")
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"cell {i}: writes to stderr: {text.strip().splitlines()[0][:100] if text.strip() else ''}")
    return problems


def refresh_notebooks(names: Sequence[str] | None = None, timeout: int = 1800,
                      log: Callable[[str], None] | None = None) -> list[str]:
    """Re-execute committed notebooks in place on their default parameters, and clean them.

    Returns a list of noise problems found (memory addresses, timestamps, stderr output).
    """
    import nbformat
    from nbclient import NotebookClient

    log = log or (lambda msg: print(msg, file=sys.stderr))
    chosen = resolve_notebooks(names) if names else [n for n in config.NOTEBOOKS
                                                     if (config.NOTEBOOKS_DIR / f"{n}.ipynb").exists()]
    problems: list[str] = []
    with _JupyterPath():
        for name in chosen:
            path = config.NOTEBOOKS_DIR / f"{name}.ipynb"
            tick = time.time()
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                    resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}})
            client.execute()
            problems += [f"{name}: {p}" for p in clean_notebook(nb)]
            nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                         "name": "python3"}
            tmp = path.with_suffix(".ipynb.tmp")
            nbformat.write(nb, tmp)
            os.replace(tmp, path)
            log(f"{name}: executed in {time.time() - tick:.0f} s")
    return problems
