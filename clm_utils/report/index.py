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


#: Every text of the index pages, in English and Chinese (``--lang zh`` gives a Chinese index).
INDEX_TEXT: dict[str, tuple[str, str]] = {
    "CLM Lab reports": ("CLM Lab reports", "CLM Lab 分析报告"),
    "intro": ("Customer-lifecycle analyses of transaction data, one report per notebook. Every file opens offline.",
              "基于交易数据的客户生命周期分析，每个笔记本一份报告。所有文件均可离线打开。"),
    "Run": ("Run", "运行"),
    "finished": ("Finished {when} in {seconds} s on {host}.", "{when} 完成，用时 {seconds} 秒，主机 {host}。"),
    "Reports": ("Reports", "报告"),
    "Input data": ("Input data", "输入数据"),
    "Parameters": ("Parameters", "参数"),
    "parameter": ("parameter", "参数"),
    "value": ("value", "取值"),
    "Software": ("Software", "软件版本"),
    "Data files": ("Data files", "数据文件"),
    "Glossary": ("Glossary (English / Chinese)", "术语表（中英对照）"),
    "incomplete": ("incomplete:", "未完成："),
    "file": ("file", "文件"),
    "rows read / kept": ("rows read / kept", "读取 / 保留行数"),
    "customers": ("customers", "客户数"),
    "first / last transaction": ("first / last transaction", "首笔 / 末笔交易"),
    "calibration end / as-of date": ("calibration end / as-of date", "校准期结束 / 截止日期"),
    "data-quality warnings": ("data-quality warnings", "数据质量警告"),
    "All runs": ("All runs", "全部运行"),
    "Trend": ("Trend", "趋势"),
    "span": ("{n} as-of date(s) of {file}, {first} to {last}.", "{file} 的 {n} 个截止日期，{first} 至 {last}。"),
    "Runs": ("Runs", "运行记录"),
    "run": ("run", "运行"),
    "as-of": ("as-of", "截止日期"),
    "data": ("data", "数据"),
    "reports": ("reports", "报告"),
    "KPI": ("KPI", "指标"),
    "trend": ("trend", "趋势"),
    "first": ("first", "最早"),
    "latest": ("latest", "最新"),
    "complete": ("complete", "完成"),
    "active customers": ("active customers", "活跃客户"),
    "revenue, last 3 months": ("revenue, last 3 months", "近3个月收入"),
    "repeat rate": ("repeat rate", "重复购买率"),
    "total CLV": ("total CLV", "客户生命周期价值合计"),
    "share in decline": ("share in decline", "退化期客户占比"),
}


def tr(key: str, lang: str = "en", **values: Any) -> str:
    """The index text ``key`` in ``lang`` (en or zh), with ``values`` filled in."""
    en, zh = INDEX_TEXT[key]
    return (zh if lang == "zh" else en).format(**values)


def _lang(meta: Mapping[str, Any]) -> str:
    return str(meta.get("parameters", {}).get("lang", "en"))


def _index_page(title: str, sections: list[str], lang: str = "en") -> str:
    style = ("body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans CJK SC','PingFang SC',"
             "'Microsoft YaHei',sans-serif;max-width:980px;margin:2em auto;"
             "padding:0 1em;color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
             "padding:4px 10px;text-align:left;vertical-align:top}th{background:#f3f3f3}code{background:#f6f6f6;"
             "padding:1px 4px}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.5em}.muted{color:#666}")
    from clm_utils.report.render import FONT_STACK, cjk_font_css

    body = "\n".join(sections)
    head = cjk_font_css([title, body]).replace("<style>", "").replace("</style>", "")
    style = style.replace("body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans CJK SC','PingFang SC',"
                          "'Microsoft YaHei',sans-serif;", f"body{{font-family:{FONT_STACK};")
    code = "zh-CN" if lang == "zh" else "en"
    return (f"<!DOCTYPE html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\"><title>" + html.escape(title)
            + f"</title><style>{head}{style}</style></head><body>\n" + body + "\n</body></html>\n")


def _table(rows: Sequence[tuple[str, str]], header: tuple[str, str] | None = None) -> str:
    head = f"<tr><th>{html.escape(header[0])}</th><th>{html.escape(header[1])}</th></tr>" if header else ""
    body = "".join(f"<tr><td>{html.escape(str(a))}</td><td>{b}</td></tr>" for a, b in rows)
    return f"<table>{head}{body}</table>"


def run_section(meta: Mapping[str, Any], link_prefix: str = "") -> str:
    """The HTML block describing one run: its reports and its metadata (in the run's language)."""
    lang = _lang(meta)
    links = "".join(
        f'<li><a href="{html.escape(link_prefix + r["html"])}">{html.escape(r["title"])}</a>'
        f' <span class="muted">({html.escape(r["notebook"])}, {r["seconds"]:.0f} s)</span>'
        + (f' <b>{tr("incomplete", lang)}</b> {html.escape(r["incomplete"])}' if r.get("incomplete") else "")
        + "</li>"
        for r in meta["reports"]
    )
    params = meta["parameters"]
    param_rows = [(k, f"<code>{html.escape(json.dumps(v, ensure_ascii=False))}</code>") for k, v in params.items()]
    data = meta["data"]
    data_rows = [
        (tr("file", lang), html.escape(data["file"])),
        ("SHA-256", f"<code>{data['sha256']}</code>"),
        (tr("rows read / kept", lang), f"{data['rows_read']:,} / {data['rows_kept']:,}"),
        (tr("customers", lang), f"{data['customers']:,}"),
        (tr("first / last transaction", lang), f"{data['first_date']} / {data['last_date']}"),
        (tr("calibration end / as-of date", lang), f"{data['calibration_end']} / {data['observation_end']}"),
        (tr("data-quality warnings", lang), str(data["warnings"])),
    ]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    files = "".join(f'<li><a href="{html.escape(link_prefix + f)}">{html.escape(f)}</a></li>'
                    for f in meta.get("files", []))
    if files:
        links += f"</ol><h3>{tr('Data files', lang)}</h3><ul>{files}</ul><ol>"
    links += (f'</ol><p><a href="{html.escape(link_prefix)}glossary.html">{tr("Glossary", lang)}</a></p><ol>'
              if "glossary.html" in meta.get("pages", ["glossary.html"]) else "")
    finished = tr("finished", lang, when=meta["finished"], seconds=f"{meta['seconds']:.0f}", host=meta["host"])
    return (
        f"<h2>{tr('Run', lang)} <code>{html.escape(meta['run_name'])}</code></h2>"
        f"<p class=\"muted\">{html.escape(finished)}</p>"
        f"<h3>{tr('Reports', lang)}</h3><ol>{links}</ol>"
        f"<h3>{tr('Input data', lang)}</h3>{_table(data_rows)}"
        f"<h3>{tr('Parameters', lang)}</h3>{_table(param_rows, (tr('parameter', lang), tr('value', lang)))}"
        f"<h3>{tr('Software', lang)}</h3><p class=\"muted\">{html.escape(versions)}</p>"
    )


def _runs(output_dir: Path) -> list[dict[str, Any]]:
    """Every finished run's ``run.json`` under ``output_dir``, newest as-of date first (then newest finished)."""
    runs = []
    for meta_file in sorted(output_dir.glob("*/run.json")):
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(meta, dict) and "run_name" in meta:
            runs.append(meta)
    runs.sort(key=lambda m: (_as_of(m), m.get("finished", ""), m["run_name"]), reverse=True)
    return runs


def _as_of(meta: Mapping[str, Any]) -> str:
    return str(meta.get("as_of") or meta.get("data", {}).get("observation_end", ""))


#: Headline KPIs on the index (key, column title, kind); defined in clm_utils.periodic.kpis.
INDEX_KPIS: tuple[tuple[str, str, str], ...] = (
    ("active_customers", "active customers", "count"),
    ("revenue", "revenue, last 3 months", "money"),
    ("repeat_rate", "repeat rate", "share"),
    ("total_clv", "total CLV", "money"),
    ("share_in_decline", "share in decline", "share"),
)


def _kpi_text(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    v = float(value)
    if kind == "share":
        return f"{v:.1%}"
    if kind == "money":
        return f"{v:,.0f}"
    return f"{v:,.0f}"


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 28) -> str:
    """An inline SVG line of ``values`` (oldest first), self-contained; missing values leave gaps."""
    pts = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    if not pts:
        return ""
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    n = max(len(values) - 1, 1)
    pad = 3.0

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / n if len(values) > 1 else 0.5)
        y = height / 2 if hi == lo else pad + (height - 2 * pad) * (1 - (v - lo) / (hi - lo))
        return round(x, 1), round(y, 1)

    coords = [xy(i, v) for i, v in pts]
    line = " ".join(f"{x},{y}" for x, y in coords)
    last = coords[-1]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
            f' role="img" aria-label="trend"><polyline fill="none" stroke="#4c72b0" stroke-width="1.5" '
            f'points="{line}"/><circle cx="{last[0]}" cy="{last[1]}" r="2.5" fill="#c44e52"/></svg>')


def kpi_trend(runs: Sequence[Mapping[str, Any]], lang: str = "en") -> str:
    """The KPI trend block: one sparkline per headline KPI over the runs of one data file, by as-of date."""
    if not runs:
        return ""
    sha = runs[0]["data"].get("sha256")
    by_date: dict[str, Mapping[str, Any]] = {}
    for m in runs:  # newest finished first within a date (runs are sorted), keep that one
        if m["data"].get("sha256") == sha and m.get("kpis") and _as_of(m) not in by_date:
            by_date[_as_of(m)] = m
    series = [by_date[d] for d in sorted(by_date)]
    if not series:
        return ""
    rows = []
    for key, title, kind in INDEX_KPIS:
        values = [m["kpis"].get(key) for m in series]
        known = [v for v in values if v is not None]
        if not known:
            continue
        rows.append(f"<tr><td>{html.escape(tr(title, lang))}</td><td>{sparkline(values)}</td>"
                    f"<td>{_kpi_text(known[0], kind)}</td><td>{_kpi_text(known[-1], kind)}</td></tr>")
    span = tr("span", lang, n=len(series), file=str(runs[0]["data"].get("file", "")), first=_as_of(series[0]),
              last=_as_of(series[-1]))
    head = f"<h2>{tr('Trend', lang)}</h2><p class=\"muted\">{html.escape(span)}</p>"
    return (head + "<table><tr>" + "".join(f"<th>{tr(k, lang)}</th>" for k in ("KPI", "trend", "first", "latest"))
            + "</tr>"
            + "".join(rows) + "</table>")


def runs_table(runs: Sequence[Mapping[str, Any]], lang: str = "en") -> str:
    """Every run, newest as-of date first, with its headline KPIs and how many reports are complete."""
    head = ("<tr>" + "".join(f"<th>{tr(k, lang)}</th>" for k in ("run", "as-of", "data", "customers"))
            + "".join(f"<th>{html.escape(tr(t, lang))}</th>" for _, t, _ in INDEX_KPIS)
            + f"<th>{tr('reports', lang)}</th></tr>")
    body = []
    for m in runs:
        k = m.get("kpis") or {}
        reports = m.get("reports", [])
        incomplete = sum(1 for r in reports if r.get("incomplete"))
        status = f"{len(reports) - incomplete} {tr('complete', lang)}" + (
            f", {incomplete} {tr('incomplete', lang).rstrip(':：')}" if incomplete else "")
        body.append(
            f'<tr><td><a href="{html.escape(m["run_name"])}/index.html">{html.escape(m["run_name"])}</a></td>'
            f"<td>{html.escape(_as_of(m))}</td><td>{html.escape(str(m['data'].get('file', '')))}</td>"
            f"<td>{m['data'].get('customers', 0):,}</td>"
            + "".join(f"<td>{_kpi_text(k.get(key), kind)}</td>" for key, _, kind in INDEX_KPIS)
            + f"<td>{status}</td></tr>")
    return f"<h2>{tr('Runs', lang)}</h2><table>" + head + "".join(body) + "</table>"


def write_top_index(output_dir: Path, latest: str) -> Path:
    """Write ``output_dir/index.html``: the KPI trend, every run newest first, then ``latest`` in full."""
    runs = _runs(output_dir)
    shown_meta = next((m for m in runs if m["run_name"] == latest), runs[0] if runs else {})
    lang = _lang(shown_meta)
    sections = [f"<h1>{tr('CLM Lab reports', lang)}</h1>", f"<p>{tr('intro', lang)}</p>"]
    if runs:
        sections.append(kpi_trend(runs, lang))
        sections.append(runs_table(runs, lang))
        shown = next((m for m in runs if m["run_name"] == latest), runs[0])
        sections.append(run_section(shown, link_prefix=f"{shown['run_name']}/"))
    target = output_dir / "index.html"
    tmp = output_dir / f".index.html.{os.getpid()}.tmp"
    tmp.write_text(_index_page(tr("CLM Lab reports", lang), sections, lang), encoding="utf-8")
    os.replace(tmp, target)
    return target


def summary_line(run_folder: Path) -> str:
    """One line for a scheduler's log: run name, as-of date, customers, complete/incomplete reports, folder."""
    meta = json.loads((Path(run_folder) / "run.json").read_text(encoding="utf-8"))
    reports = meta.get("reports", [])
    incomplete = sum(1 for r in reports if r.get("incomplete"))
    return (f"clm: run {meta['run_name']} as-of {_as_of(meta)}: {meta['data']['customers']:,} customers, "
            f"{len(reports) - incomplete} reports complete, {incomplete} incomplete -> {Path(run_folder)}")
