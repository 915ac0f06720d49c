"""The run: the shared analysis once, then every notebook on it, then HTML and the index.

A run is built in a staging folder next to its target and moved into place only when every
notebook has run and rendered, so a failed run never half-overwrites an earlier report.
"""

from __future__ import annotations

import html
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clm_utils import config
from clm_utils.errors import ParameterError, UserError
from clm_utils.report.execute import (
    AnalysisIncomplete,
    NotebookFailed,
    WarmKernels,
    _JupyterPath,
    declared_parameters,
    execute_notebook,
)
from clm_utils.report.index import (
    _index_page,
    package_versions,
    run_section,
    tr,
    write_top_index,
)
from clm_utils.report.options import RunOptions
from clm_utils.report.render import _title, add_head, cjk_font_css, render_page

#: Parameters every notebook declares: the run's folder, and overrides of the settings when run alone.
COMMON_PARAMETERS = ("settings", "run_dir")
#: Kernels warmed beyond those running (:class:`~clm_utils.report.execute.WarmKernels`): each holds a few
#: hundred MB, so one ahead (three alive with two jobs) covers the stage and keeps memory modest.
KERNELS_AHEAD = 1
#: Stands for the footer in a page rendered before the run has finished (the footer names the finishing time).
FOOTER_MARK = "@@clm-run-footer@@"
#: Columns of the hand-off file, in order (see docs/design.md, "Hand-off files").
SCORECARD_FILE = "customer_scorecard"


def _progress(names: Sequence[str]) -> Any:
    from tqdm import tqdm

    return tqdm(names, desc="clm run", unit="notebook", file=sys.stderr, disable=None,
                bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {postfix} [{elapsed}]")


def run(opts: RunOptions, log: Callable[[str], None] | None = None) -> Path:
    """Compute the shared analysis, execute the chosen notebooks on it, render HTML, move into place.

    Returns the path of ``index.html`` in ``opts.output_dir``.

    Raises
    ------
    UserError
        Bad data or parameters, whether found before the run or inside a notebook.
    NotebookFailed
        A notebook failed for another reason; the message names the notebook and the cell.
    """
    from clm_utils import analysis
    from clm_utils.analysis import artifacts

    log = log or (lambda msg: print(msg, file=sys.stderr))
    started = time.time()
    settings = opts.settings
    run_name = opts.run_name
    sources = [config.NOTEBOOKS_DIR / f"{name}.ipynb" for name in opts.notebooks]
    missing = [s for s in sources if not s.exists()]
    if missing:
        raise NotebookFailed(f"notebook {missing[0].name} is missing from {config.NOTEBOOKS_DIR}")
    declared = {s.stem: declared_parameters(s) for s in sources}
    unknown = sorted(set(opts.params) - set().union(*declared.values()))
    if unknown:
        raise ParameterError(f"no chosen notebook has a parameter {unknown[0]!r}", parameter="params",
                             hint="see the parameters cell of each notebook")
    output_dir = Path(opts.output_dir).expanduser().absolute()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{run_name}-", dir=output_dir))
    except OSError as exc:
        raise ParameterError(f"cannot write to {output_dir} ({exc.strerror or type(exc).__name__})",
                             parameter="output", hint="choose a folder you can write to with --output") from None
    timings: dict[str, float] = {}
    kernels = ExitStack()
    try:
        # kernels for the first notebooks start and import their modules on the other core while the stage runs
        kernels.enter_context(_JupyterPath())
        warm = kernels.enter_context(WarmKernels(sources, live=opts.jobs + KERNELS_AHEAD))
        # 1. the shared analysis: bad input fails here, fast and with one line (the warm kernels are killed)
        tick = time.time()
        cached = analysis.ensure(settings, log=log)
        artifacts.copy_folder(cached, staging / analysis.RUN_SUBDIR)
        result = analysis.Analysis(staging / analysis.RUN_SUBDIR)
        _release_memory()  # the stage's frames are gone: give their memory back before the kernels start
        timings["analysis stage"] = round(time.time() - tick, 1)
        # --- periodic reports (issue 12): the comparison analysis, for 07 and the hand-off change columns ---
        from clm_utils import periodic

        tick = time.time()
        with analysis.light_analyses():  # 07 and the change columns read labels, point CLV and models only
            compare_dir, compare_meta = periodic.history.prepare_run_comparison(opts, result, staging, log)
        previous = analysis.Analysis(compare_dir) if compare_dir else None
        extra = {"compare_dir": str(compare_dir)} if compare_dir else {}
        timings["comparison analysis"] = round(time.time() - tick, 1)
        # --- end periodic reports ---
        # the hand-off file and the glossary page are written beside the notebooks (this process waits for them)
        background = kernels.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="clm-run"))
        scorecard = background.submit(write_scorecard, result, staging, previous)
        glossary = background.submit(_glossary_page, opts.settings.lang)
        # 2. the notebooks, in parallel: they only read the analysis; each is rendered as soon as it has run
        #    (the footer and the font styles, which need the whole run, are filled in below)
        nav = " · ".join(f'<a href="{s.stem}.html">{html.escape(s.stem)}</a>' for s in sources)
        jobs = jobs_for_memory(opts.jobs, int(result.manifest.get("customers", 0)))
        if jobs < opts.jobs:
            log(f"{result.manifest.get('customers', 0):,} customers: notebooks run {jobs} at a time "
                "(each kernel holds the analysis in memory)")
        reports = _execute_all(opts, sources, declared, staging, output_dir, log, extra, warm,
                               nav=f'<a href="index.html">Index</a> · {nav}', jobs=jobs)
        kernels.close()
        scorecard.result()
        for rep in reports:
            timings[rep["notebook"]] = rep["seconds"]
        # 3. HTML and the index
        tick = time.time()
        meta = _run_meta(opts, result, reports, started)
        meta |= {"as_of": str(result.observation_end.date()), **compare_meta,  # periodic reports (issue 12)
                 "kpis": periodic.headline_kpis(result)}
        footer = (f"CLM Lab run <b>{html.escape(run_name)}</b>: data {html.escape(meta['data']['file'])} "
                  f"(SHA-256 {meta['data']['sha256'][:12]}…), as-of {meta['data']['observation_end']}, "
                  f"{meta['finished']}.")
        import nbformat

        books = {source.name: nbformat.read(staging / source.name, as_version=4) for source in sources}
        head = cjk_font_css(json.dumps(nb, ensure_ascii=False) for nb in books.values())
        for rep, source in zip(reports, sources):
            rep["title"] = _title(books[source.name]) or source.stem
            page = add_head(rep.pop("page").replace(FOOTER_MARK, footer, 1), head)
            (staging / rep["html"]).write_text(page, encoding="utf-8")
        timings["render"] = round(time.time() - tick, 1)
        shutil.rmtree(staging / "_sources", ignore_errors=True)
        (staging / "glossary.html").write_text(glossary.result(), encoding="utf-8")
        meta["files"] = sorted(p.name for p in staging.iterdir() if p.suffix in (".csv", ".parquet", ".xlsx"))
        meta["timings"] = timings
        meta["seconds"] = round(time.time() - started, 1)
        (staging / "run.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        lang = opts.settings.lang
        (staging / "index.html").write_text(
            _index_page(f"CLM Lab run {run_name}", [f"<p><a href=\"../index.html\">{tr('All runs', lang)}</a></p>",
                                                        run_section(meta)], lang), encoding="utf-8")
        _swap_into_place(staging, output_dir / run_name)
    finally:
        kernels.close()
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log("where the time went: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return write_top_index(output_dir, run_name)


def _glossary_page(lang: str) -> str:
    from clm_utils.glossary import glossary_page_html

    return glossary_page_html(lang)


def _release_memory() -> None:
    """Collect garbage and hand Arrow's unused pooled memory back to the system."""
    import gc

    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - only an optimisation
        pass


#: Memory a notebook kernel may need per customer of the base (07 holds two analyses: 12.5 GB at
#: 3.4M customers, ~3.7 KB each; the other notebooks 1.2-1.5 KB each).
KERNEL_BYTES_PER_CUSTOMER = 4_000


def jobs_for_memory(jobs: int, customers: int, available: float | None = None) -> int:
    """How many notebooks may run at once: ``jobs``, fewer when their kernels would not fit in memory.

    ``available``: bytes free for the kernels (default: 80% of the machine's RAM less this
    process's resident memory).  Never below one.
    """
    if available is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            with open("/proc/self/statm") as fh:
                resident = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            return max(1, jobs)
        available = 0.8 * total - resident
    need = max(1, customers) * KERNEL_BYTES_PER_CUSTOMER
    return max(1, min(jobs, int(available // need)))


def _execute_all(opts: RunOptions, sources: list[Path], declared: dict[str, set[str]], staging: Path,
                 output_dir: Path, log: Callable[[str], None],
                 extra: dict[str, Any] | None = None, warm: WarmKernels | None = None,
                 nav: str = "", jobs: int | None = None) -> list[dict[str, Any]]:
    """Execute the notebooks, ``opts.jobs`` at a time, and render each; reports come back in run order.

    ``extra``: run-made parameters (``compare_dir``), passed to the notebooks that declare them.
    ``warm``: kernels started ahead for ``sources`` (inside its :class:`_JupyterPath`); without it each
    notebook starts its own kernel.  Each report carries its HTML ``page`` with :data:`FOOTER_MARK` where the
    footer goes and without the run's font styles; ``seconds`` is the time to execute it.
    """

    def one(source: Path) -> dict[str, Any]:
        tick = time.time()
        params: dict[str, Any] = {"run_dir": str(staging), "output_dir": str(staging)}
        params |= {k: v for k, v in opts.params.items() if k in declared[source.stem]}
        params |= {k: v for k, v in (extra or {}).items() if k in declared[source.stem]}  # issue 12
        params = {k: v for k, v in params.items() if k in declared[source.stem]}
        executed = staging / source.name
        incomplete = None
        kernel = warm.take(source) if warm is not None else None
        try:
            execute_notebook(_in_language(source, opts.settings.lang, staging), executed, params, kernel=kernel)
        except AnalysisIncomplete as exc:
            incomplete = exc.message
            mark_incomplete(executed, incomplete, opts.settings.lang)
            log(f"{source.stem}: incomplete: {incomplete}")
        except (UserError, NotebookFailed):
            _keep_failed(output_dir, opts.run_name, executed)
            raise
        finally:
            if kernel is not None:
                warm.release(kernel)  # type: ignore[union-attr]
        seconds = round(time.time() - tick, 1)
        with render_lock:  # nbconvert holds the GIL: one page at a time, while the other kernels compute
            page = render_page(executed, show_code=opts.show_code, nav=nav, footer=FOOTER_MARK)
        return {"notebook": source.stem, "html": f"{source.stem}.html", "title": "", "seconds": seconds,
                "incomplete": incomplete, "page": page}

    render_lock = threading.Lock()

    with ExitStack() as stack:
        if warm is None:
            stack.enter_context(_JupyterPath())
        bar = _progress([s.stem for s in sources])
        done: list[dict[str, Any]] = []
        with ThreadPoolExecutor(max_workers=max(1, opts.jobs if jobs is None else jobs)) as pool:
            futures = [pool.submit(one, s) for s in sources]
            try:
                for fut in futures:
                    done.append(fut.result())
                    bar.set_postfix_str(done[-1]["notebook"])
                    bar.update(1)
                    if bar.disable:
                        log(f"[{len(done)}/{len(sources)}] {done[-1]['notebook']}: done in {done[-1]['seconds']:.0f} s")
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        bar.close()
    return done


def _in_language(source: Path, lang: str, staging: Path) -> Path:
    """The notebook with only the narrative cells of ``lang`` (:func:`clm_utils.i18n.select_language`)."""
    import nbformat

    from clm_utils.i18n import select_language

    nb = nbformat.read(source, as_version=4)
    chosen = select_language(nb, lang)
    if len(chosen.cells) == len(nb.cells):
        return source
    folder = staging / "_sources"
    folder.mkdir(exist_ok=True)
    nbformat.write(chosen, folder / source.name)
    return folder / source.name


def write_scorecard(result: Any, folder: Path, previous: Any = None) -> None:
    """The hand-off file: one row per customer, as CSV and Parquet, with ids exactly as the shop wrote them.

    With ``previous`` (the comparison run's Analysis), the "what changed" columns follow
    (:func:`clm_utils.periodic.migration.change_columns`; docs/design.md, "Hand-off file").
    """
    table = result.customers.copy()
    table.insert(0, "model", result.chosen_model or "")
    if previous is not None:  # periodic reports (issue 12)
        from clm_utils.periodic import Change

        table = table.join(Change(previous, result).change_columns())
    table.to_parquet(folder / f"{SCORECARD_FILE}.parquet", engine="pyarrow", compression="zstd")
    table.to_csv(folder / f"{SCORECARD_FILE}.csv", float_format="%.6g", date_format="%Y-%m-%d")


def _run_meta(opts: RunOptions, result: Any, reports: list[dict[str, Any]], started: float) -> dict[str, Any]:
    m = result.manifest
    data_file = Path(opts.settings.data_path) if opts.settings.data_path else config.CDNOW_MASTER
    return {
        "run_name": opts.run_name,
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "seconds": round(time.time() - started, 1),
        "host": platform.node() or "unknown",
        "data": {
            "file": data_file.name if opts.settings.data_path is None else str(data_file),
            "sha256": m["data"]["sha256"],
            "rows_read": m["rows_read"],
            "rows_kept": m["rows_kept"],
            "customers": m["customers"],
            "first_date": m["first_date"],
            "last_date": m["observation_end"],
            "calibration_end": m["calibration_end"],
            "observation_end": m["observation_end"],
            "warnings": m["quality_warnings"],
        },
        "analysis": {"chosen_model": result.chosen_model, "notes": m.get("notes", []),
                     "incomplete": m.get("incomplete", {}), "timings": m.get("timings", {})},
        "parameters": {**opts.settings.to_dict(), "notebooks": opts.notebooks, "params": opts.params,
                       "show_code": opts.show_code},
        "versions": package_versions(),
        "reports": reports,
    }


#: The notice of a report the data cannot support, by language: (at the top, where it stopped).
INCOMPLETE_NOTICE = {
    "en": ("> **This analysis is incomplete: the data cannot support all of it.** {reason}\n>\n> The sections after "
           "the notice below were not run. The other reports of this run are complete; with more customers or a "
           "longer history this section runs as usual.",
           "> **This analysis stopped here: the data cannot support it.** {reason}\n>\n> The sections below were "
           "not run. The other reports of this run are complete; with more customers or a longer history this "
           "section runs as usual."),
    "zh": ("> **本分析未完成：数据不足以支持其中一部分。** {reason}\n>\n> 下方提示之后的部分没有运行。本次运行的其他报告完整；"
           "客户更多或历史更长时，这一部分会照常运行。",
           "> **本分析在此停止：数据不足以支持它。** {reason}\n>\n> 以下部分没有运行。本次运行的其他报告完整；"
           "客户更多或历史更长时，这一部分会照常运行。"),
}


def mark_incomplete(executed: Path, message: str, lang: str = "en") -> None:
    """Replace the error output of a notebook stopped by a ModelError with a readable notice (in ``lang``)."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    nb.cells = [c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    top, here = (t.format(reason=html.escape(message)) for t in INCOMPLETE_NOTICE.get(lang, INCOMPLETE_NOTICE["en"]))
    for i, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
            nb.cells.insert(i + 1, nbformat.v4.new_markdown_cell(here))
            break
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(top))
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


