"""Run metadata (input hash, versions) and the index pages that link the reports."""

from __future__ import annotations

import hashlib
import html
import json
import os
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any


#: Packages whose versions are recorded in every run's metadata.
RECORDED_PACKAGES = ("clm-lab", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "matplotlib",
                     "seaborn", "papermill", "nbconvert")

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


