"""The report pipeline end to end: `clm run` / `clm validate` as a user runs them."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from clm_utils import cli, config, report
from clm_utils.report import external_resources


def clm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clm_utils.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=1800)


def tree_digest(folder: Path) -> dict[str, str]:
    """Hashes of every report file (failed notebooks are kept aside in _failed/, not among the reports)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.relative_to(folder).parts[0] != "_failed"}


@pytest.fixture(scope="session")
def user_file(tmp_path_factory, cdnow_sample) -> Path:
    """The CDNOW sample as another shop would export it: own column names, day-first dates, no quantity."""
    path = tmp_path_factory.mktemp("user") / "shop export.csv"
    out = cdnow_sample.rename(columns={"customer_id": "Client", "date": "Order Date", "amount": "Total"})
    out["Order Date"] = out["Order Date"].dt.strftime("%d/%m/%Y")
    out[["Client", "Order Date", "Total"]].to_csv(path, sep=";", index=False)
    return path


@pytest.fixture(scope="session")
def full_run(tmp_path_factory, user_file) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("reports")
    # --zero keep: the sample has 8 customers whose only purchase is a $0 row; the published analyses keep them
    proc = clm("run", "--data", str(user_file), "--columns", "customer_id=Client,date=Order Date,amount=Total",
               "--as-of", "1998-06-30", "--zero", "keep", "--output", str(out), "--run-name", "shop",
               "--set", "n_draws=200")
    return out, proc


@pytest.mark.slow  # executes notebooks
def test_full_run_on_a_users_file_renders_every_report(full_run, user_file):
    out, proc = full_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = out / "shop"
    index = (out / "index.html").read_text(encoding="utf-8")
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert [r["notebook"] for r in meta["reports"]] == list(config.NOTEBOOKS)
    for name in config.NOTEBOOKS:
        page = (run_dir / f"{name}.html").read_text(encoding="utf-8")
        assert external_resources(page) == [], name
        assert "hl-ipython3" not in page, "code is hidden by default"
        assert f'shop/{name}.html' in index
    assert meta["data"]["sha256"] == hashlib.sha256(user_file.read_bytes()).hexdigest()
    assert meta["data"]["customers"] == 2_357 and meta["data"]["rows_read"] == 6_919
    assert meta["data"]["sha256"] in index and "pandas" in index
    assert "customer_scorecard.csv" in meta["files"] and (run_dir / "customer_scorecard.csv").exists()
    assert 'href="shop/customer_scorecard.csv"' in index


@pytest.mark.slow  # executes notebooks
def test_bad_data_exits_2_with_one_line_and_keeps_the_previous_report(full_run, tmp_path):
    out, proc = full_run
    assert proc.returncode == 0
    before = tree_digest(out)
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\nA,2024-01-01,12\nB,2024-01-02,twelve\n", encoding="utf-8")
    failed = clm("run", "--data", str(bad), "--output", str(out), "--run-name", "shop")
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in failed.stderr
    assert "bad.csv" in lines[0] and "column 'amount'" in lines[0] and "row 3" in lines[0] and "fix:" in lines[0]
    assert tree_digest(out) == before


@pytest.mark.slow  # executes notebooks
def test_user_error_inside_a_notebook_is_one_line_and_keeps_previous(full_run):
    out, _ = full_run
    before = tree_digest(out)
    failed = clm("run", "--notebooks", "00", "--param", "period=fortnight", "--output", str(out), "--run-name", "shop")
    assert failed.returncode == 2, failed.stderr
    assert "00_data_overview.ipynb" in failed.stderr and "Traceback" not in failed.stderr
    assert tree_digest(out) == before


@pytest.mark.slow  # executes notebooks
def test_internal_failure_names_notebook_and_cell(tmp_path, monkeypatch, capsys):
    books = tmp_path / "books"
    books.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"),
                nbformat.v4.new_code_cell("data_path = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("raise ValueError('boom')")]
    nbformat.write(nb, books / "00_data_overview.ipynb")
    out = tmp_path / "reports"
    (out / "keep").mkdir(parents=True)
    (out / "keep" / "index.html").write_text("previous", encoding="utf-8")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", books)
    rc = cli.main(["run", "--notebooks", "00", "--output", str(out), "--run-name", "keep",
                   "--data", str(config.CDNOW_SAMPLE)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "00_data_overview.ipynb failed in cell 4 (`raise ValueError('boom')`)" in err and "ValueError: boom" in err
    assert (out / "keep" / "index.html").read_text(encoding="utf-8") == "previous"
    assert (out / "_failed" / "keep" / "00_data_overview.ipynb").exists()
    assert not list(out.glob(".staging-*"))


@pytest.mark.slow  # executes notebooks
def test_same_run_twice_gives_identical_tables_and_show_code(tmp_path):
    outputs = []
    for name in ("a", "b"):
        proc = clm("run", "--notebooks", "00", "--data", str(config.CDNOW_SAMPLE), "--output", str(tmp_path),
                   "--run-name", name, "--show-code")
        assert proc.returncode == 0, proc.stderr[-2000:]
        nb = nbformat.read(tmp_path / name / "00_data_overview.ipynb", as_version=4)
        outputs.append([o.get("text", "") or o.get("data", {}).get("text/plain", "")
                        for c in nb.cells if c.cell_type == "code" for o in c.outputs])
        assert "hl-ipython3" in (tmp_path / name / "00_data_overview.html").read_text(encoding="utf-8")
    assert outputs[0] == outputs[1] and any(outputs[0])
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="b/00_data_overview.html"' in index and 'href="a/index.html"' in index


def test_config_file_and_flag_precedence(tmp_path, user_file):
    cfg_file = tmp_path / "run.yml"
    cfg_file.write_text(
        f"data: {user_file}\ncolumns: {{Client: customer_id, 'Order Date': date, Total: amount}}\n"
        "as_of: 1998-06-30\ncurrency: EUR\nnotebooks: [00]\nduplicates: keep\n", encoding="utf-8")
    opts = report.build_options(report.read_config_file(cfg_file), currency="GBP")
    assert opts.settings.currency == "GBP" and opts.notebooks == ["00_data_overview"]
    assert opts.settings.columns == {"Client": "customer_id", "Order Date": "date", "Total": "amount"}
    assert opts.settings.duplicates == "keep" and opts.settings.as_of == "1998-06-30"
    bad = tmp_path / "bad.yml"
    bad.write_text("colour: blue\n", encoding="utf-8")
    proc = clm("run", "--config", str(bad))
    assert proc.returncode == 2 and "unknown setting 'colour'" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--as-of", "someday"], "is not a date"),
        (["run", "--notebooks", "99"], "no notebook called"),
        (["run", "--time-unit", "X"], "invalid choice"),
        (["run", "--as-of", "1998-01-01", "--calibration-end", "1998-02-01"], "not before"),
        (["run", "--param", "no_such_parameter=1"], "no chosen notebook has a parameter"),
        (["validate"], "required"),
    ],
)
def test_bad_parameters_exit_2_with_one_line(args, message):
    proc = clm(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_validate_prints_the_quality_table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,10\nA,2024-01-01,10\nB,2024-01-02,5\n", encoding="utf-8")
    proc = clm("validate", "--data", str(path))
    assert proc.returncode == 0
    assert "exact duplicate rows dropped" in proc.stdout and "2 customers" in proc.stdout


def test_external_resource_detection():
    assert external_resources('<script src="https://cdn.example/x.js"></script>') == ["https://cdn.example/x.js"]
    assert external_resources('<link rel="stylesheet" href="//fonts.example/css">') == ["//fonts.example/css"]
    assert external_resources("<style>@import url('https://f.example/a.css');</style>")
    assert external_resources('<a href="https://example.org">a link to click</a>') == []
    assert external_resources('<img src="data:image/png;base64,AAAA">') == []


@pytest.mark.slow  # executes notebooks
def test_every_notebook_runs_with_non_default_units_language_and_dates(tmp_path):
    # windows that carry their own unit ("26W") must keep their meaning when the analysis unit is months
    proc = clm("run", "--data", str(config.CDNOW_SAMPLE), "--time-unit", "M", "--lang", "zh", "--currency", "EUR",
               "--as-of", "1998-03-31", "--calibration-end", "1997-08-31", "--output", str(tmp_path),
               "--run-name", "monthly", "--set", "n_draws=200")
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "monthly" / "run.json").read_text(encoding="utf-8"))
    assert meta["data"]["observation_end"] == "1998-03-31" and meta["data"]["calibration_end"] == "1997-08-31"
    assert len(meta["reports"]) == len(config.NOTEBOOKS)
    summary = (tmp_path / "monthly" / "06_summary.html").read_text(encoding="utf-8")
    assert "收入" in summary or "稳定期" in summary  # Chinese labels in the business tables


@pytest.mark.slow  # executes notebooks
def test_analysis_the_data_cannot_support_is_marked_incomplete_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    books = tmp_path / "books"
    books.mkdir()
    for name, body in (("00_data_overview", "print('fine')"),
                       ("03_clv", "from clm_utils.errors import ModelError\n"
                                  "raise ModelError('nobody repeats', hint='use more data')")):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"),
                    nbformat.v4.new_code_cell("data_path = None", metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_code_cell(body), nbformat.v4.new_code_cell("print('never run')")]
        nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
        nbformat.write(nb, books / f"{name}.ipynb")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", books)
    out = tmp_path / "reports"
    rc = cli.main(["run", "--notebooks", "00,03", "--output", str(out), "--run-name", "r",
                   "--data", str(config.CDNOW_SAMPLE)])
    assert rc == 0
    assert "03_clv: incomplete: model error: nobody repeats" in capsys.readouterr().err
    page = (out / "r" / "03_clv.html").read_text(encoding="utf-8")
    assert "the data cannot support it" in page and "nobody repeats" in page
    assert "Traceback" not in page and "An Exception was encountered" not in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<b>incomplete:</b> model error: nobody repeats" in index
    meta = json.loads((out / "r" / "run.json").read_text(encoding="utf-8"))
    assert [r["incomplete"] is None for r in meta["reports"]] == [True, False]


def test_unwritable_output_folder_is_a_one_line_user_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder", encoding="utf-8")
    proc = clm("run", "--notebooks", "00", "--data", str(config.CDNOW_SAMPLE), "--output", str(blocker / "sub"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "cannot write to" in proc.stderr and "--output" in proc.stderr


def test_index_pages_speak_the_runs_language():
    from clm_utils.report.index import INDEX_TEXT, _index_page, run_section

    assert all(re.search(r"[\u4e00-\u9fff]", zh) for key, (en, zh) in INDEX_TEXT.items() if key != "KPI")
    meta = {"run_name": "r", "finished": "2026-01-01 00:00:00 UTC", "seconds": 3.0, "host": "h",
            "reports": [{"html": "00.html", "title": "00 · Data", "notebook": "00_data_overview", "seconds": 1.0,
                         "incomplete": "model error: too few customers"}],
            "parameters": {"lang": "zh"}, "versions": {"python": "3.11"},
            "data": {"file": "f.csv", "sha256": "0" * 64, "rows_read": 3, "rows_kept": 3, "customers": 2,
                     "first_date": "2025-01-01", "last_date": "2025-02-01", "calibration_end": "2025-01-15",
                     "observation_end": "2025-02-01", "warnings": 0}}
    page = _index_page("CLM Lab 分析报告", [run_section(meta)], "zh")
    assert 'lang="zh-CN"' in page and "报告" in page and "未完成" in page and "输入数据" in page
    assert ">Reports<" not in page and ">Input data<" not in page
    assert "@font-face" in page and external_resources(page) == []  # the Chinese glyphs travel with the page
    english = run_section({**meta, "parameters": {"lang": "en"}})
    assert ">Reports<" in english and "报告" not in english


def test_notebook_imports_and_the_warm_up_code_bind_no_name(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import json, os.path as osp\nfrom collections import abc, OrderedDict"),
                nbformat.v4.new_code_cell("%matplotlib inline"),  # a magic does not parse: skipped
                nbformat.v4.new_code_cell("from . import x\nimport json")]
    nbformat.write(nb, tmp_path / "n.ipynb")
    from clm_utils.report.execute import notebook_imports, warm_up_code

    assert notebook_imports(tmp_path / "n.ipynb") == ["json", "os.path", "collections", "collections.abc",
                                                      "collections.OrderedDict"]
    namespace: dict[str, object] = {}
    exec(warm_up_code(["json", "collections.OrderedDict", "no_such_module_anywhere"]), namespace)  # noqa: S102
    assert set(namespace) == {"__builtins__"}
    assert "json" in sys.modules


@pytest.mark.slow  # starts two kernels (a few seconds)
def test_a_warm_kernel_runs_a_notebook_as_a_fresh_one_would(tmp_path):
    """Same outputs, same execution counts, no name left by the warm-up; the kernel is gone afterwards."""
    from clm_utils.report.execute import WarmKernels, _JupyterPath, execute_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import json\nprint(sorted(k for k in dir() if not k.startswith('_')))"),
                nbformat.v4.new_code_cell("json.dumps({'x': x})")]
    source = tmp_path / "n.ipynb"
    nbformat.write(nb, source)
    with _JupyterPath(), WarmKernels([source], live=1) as warm:
        km = warm.take(source)
        assert km is not None and "json" in notebook_modules(km)
        execute_notebook(source, tmp_path / "warm.ipynb", {"x": 2}, kernel=km)
        assert not km.has_kernel  # papermill killed it
        warm.release(km)
        execute_notebook(source, tmp_path / "fresh.ipynb", {"x": 2})
    with _JupyterPath(), WarmKernels([source], live=1) as warm:  # a notebook that never reached its kernel
        km = warm.take(source)
        assert km.has_kernel
        warm.release(km)
        assert not km.has_kernel

    def outputs(path):
        cells = nbformat.read(path, as_version=4).cells
        return [(c.execution_count, [o.get("text") or o.get("data", {}).get("text/plain") for o in c.outputs])
                for c in cells if c.cell_type == "code"]

    assert outputs(tmp_path / "warm.ipynb") == outputs(tmp_path / "fresh.ipynb")
    assert outputs(tmp_path / "warm.ipynb")[-1] == (4, ["'{\"x\": 2}'"])


def notebook_modules(km) -> str:
    """The modules a running kernel has loaded (asked through a client of its own)."""
    from jupyter_client.blocking import BlockingKernelClient

    kc = BlockingKernelClient()
    kc.load_connection_info(km.get_connection_info())
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive("", silent=True, store_history=False, timeout=60,  # binds no name
                                       user_expressions={"m": "' '.join(sorted(__import__('sys').modules))"})
        return reply["content"]["user_expressions"]["m"]["data"]["text/plain"]
    finally:
        kc.stop_channels()


def test_notebooks_run_fewer_at_a_time_when_their_kernels_would_not_fit_in_memory():
    from clm_utils.report.pipeline import KERNEL_BYTES_PER_CUSTOMER, jobs_for_memory

    gb = 1024**3
    assert jobs_for_memory(2, 23_570, available=10 * gb) == 2  # CDNOW: as asked
    per = 3_400_000 * KERNEL_BYTES_PER_CUSTOMER
    assert jobs_for_memory(2, 3_400_000, available=1.5 * per) == 1  # 10M rows: one at a time
    assert jobs_for_memory(3, 3_400_000, available=2.5 * per) == 2
    assert jobs_for_memory(2, 50_000_000, available=1 * gb) == 1  # never below one
    assert jobs_for_memory(2, 1000) >= 1  # this machine's own memory
