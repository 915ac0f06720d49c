"""Dated runs (issue 12): `clm history`, `clm run --compare-to`, the index of runs, the scheduler's line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from clm_utils import config, report
from clm_utils.report import external_resources
from clm_utils.report.index import summary_line, write_top_index


def clm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clm_utils.cli", *args], capture_output=True, text=True,
                          timeout=1800, env={**os.environ, **(env or {})})


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.relative_to(folder).parts[0] != "_failed"}


SAMPLE_ARGS = ("--data", str(config.CDNOW_SAMPLE), "--zero", "keep", "--duplicates", "keep", "--set", "n_draws=200")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    cache = tmp_path_factory.mktemp("cache")
    proc = clm("history", "--from", "1998-03-31", "--to", "1998-06-30", "--every", "1Q", "--notebooks", "00,07",
               *SAMPLE_ARGS, "--output", str(out), env={"CLM_CACHE_DIR": str(cache)})
    return out, proc


@pytest.mark.slow  # two dated runs with notebooks 00 and 07 (three analyses of the sample)
def test_history_makes_dated_runs_and_the_index_lists_every_run(history):
    out, proc = history
    assert proc.returncode == 0, proc.stderr[-3000:]
    dates = ["1998-03-31", "1998-06-30"]
    for d in dates:
        meta = json.loads((out / d / "run.json").read_text(encoding="utf-8"))
        assert meta["run_name"] == d and meta["as_of"] == d and meta["data"]["observation_end"] == d
        assert set(meta["kpis"]) >= {"active_customers", "revenue", "repeat_rate", "total_clv", "share_in_decline"}
        assert [r["notebook"] for r in meta["reports"]] == ["00_data_overview", "07_change"]
        assert all(r["incomplete"] is None for r in meta["reports"])
        assert (out / d / "index.html").exists() and (out / d / "07_change.html").exists()
    first = json.loads((out / dates[0] / "run.json").read_text(encoding="utf-8"))
    second = json.loads((out / dates[1] / "run.json").read_text(encoding="utf-8"))
    assert first["compare_to"] == "1997-12-31"  # the first run of a series: the default offset, 3 months
    assert second["compare_to"] == "1998-03-31"  # then each run is compared with the previous one
    # the stored KPIs are those of the transactions
    raw = pd.read_csv(config.CDNOW_SAMPLE, sep=r"\s+", header=None, names=["cid", "id", "date", "n", "amount"],
                      dtype={"cid": str}, parse_dates=["date"], date_format="%Y%m%d")
    window = raw[(raw["date"] > "1998-03-31") & (raw["date"] <= "1998-06-30")]
    assert second["kpis"]["revenue"] == pytest.approx(window["amount"].sum(), rel=1e-9)
    # the index: every run, newest first, with the KPI trend drawn inline
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.index('href="1998-06-30/index.html"') < index.index('href="1998-03-31/index.html"')
    assert "<svg" in index and "<polyline" in index and "share in decline" in index
    assert external_resources(index) == []
    # one line per run on stdout, for a scheduler
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and all("2,357 customers" in line and "2 reports complete" in line for line in lines)
    # the hand-off file carries what changed since the comparison date
    card = pd.read_csv(out / dates[1] / "customer_scorecard.csv", dtype={"customer_id": str})
    assert {"previous_segment", "previous_stage", "previous_value_tier", "previous_pyramid", "moved",
            "change"} <= set(card.columns)
    assert card["customer_id"].str.len().eq(5).all() and len(card) == 2_357
    page = (out / dates[1] / "07_change.html").read_text(encoding="utf-8")
    assert "1998-03-31" in page and "Total forecast against the outcome" in page


@pytest.mark.slow  # needs the history above
def test_a_failed_history_keeps_every_earlier_run(history, tmp_path):
    out, proc = history
    assert proc.returncode == 0
    before = tree_digest(out)
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\nA,1998-01-01,12\nB,1998-01-02,twelve\n", encoding="utf-8")
    failed = clm("history", "--from", "1998-03-31", "--to", "1998-06-30", "--every", "1Q", "--data", str(bad),
                 "--output", str(out))
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("clm:")]  # the rest is progress
    assert len(errors) == 1 and "bad.csv" in errors[0]
    assert tree_digest(out) == before


@pytest.mark.parametrize(("args", "message"), [
    (["history", "--from", "1998-03-31", "--to", "1998-06-30", "--as-of", "1998-01-01"], "does not apply"),
    (["history", "--from", "1998-06-30", "--to", "1998-03-31"], "is before --from"),
    (["history", "--from", "1998-03-31", "--to", "1998-06-30", "--every", "fortnight"], "not a calendar step"),
    (["run", "--as-of", "1998-03-31", "--compare-to", "1998-06-30"], "not before the as-of date"),
    (["run", "--compare-to", "someday"], "is not a date"),
])
def test_bad_history_and_comparison_flags_exit_2_with_one_line(args, message):
    proc = clm(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_runs_are_named_by_their_as_of_date():
    assert report.build_options({}, as_of="1998-03-31").run_name == "1998-03-31"
    assert report.build_options({}).run_name == "cdnow"  # `make report` still writes reports/cdnow/
    assert report.build_options({}, as_of="1998-03-31", run_name="q1").run_name == "q1"
    opts = report.build_options({"compare_to": "1997-12-31"}, as_of="1998-03-31")
    assert opts.compare_to == "1997-12-31"


def _fake_run(out: Path, name: str, as_of: str, kpis: dict[str, float] | None, incomplete: int = 0) -> None:
    meta = {"run_name": name, "as_of": as_of, "finished": f"2024-01-0{len(list(out.glob('*'))) + 1} 00:00:00 UTC",
            "seconds": 1.0, "host": "h", "versions": {"python": "3"}, "parameters": {"as_of": as_of},
            "data": {"file": "shop.csv", "sha256": "abc", "rows_read": 10, "rows_kept": 10, "customers": 5,
                     "first_date": "2023-01-01", "last_date": as_of, "calibration_end": "2023-06-30",
                     "observation_end": as_of, "warnings": 0},
            "reports": [{"notebook": "00_data_overview", "html": "00_data_overview.html", "title": "Overview",
                         "seconds": 1.0, "incomplete": "too small" if incomplete else None}],
            "kpis": kpis}
    (out / name).mkdir(parents=True)
    (out / name / "run.json").write_text(json.dumps(meta), encoding="utf-8")


def test_index_lists_runs_newest_first_with_kpis_and_a_trend(tmp_path):
    for i, d in enumerate(["2024-03-31", "2023-12-31", "2024-06-30"]):
        _fake_run(tmp_path, d, d, {"customers": 5, "active_customers": 3 + i, "revenue": 100.0 * (i + 1),
                                   "repeat_rate": 0.5, "total_clv": None, "share_in_decline": 0.1 * i},
                  incomplete=int(d == "2024-06-30"))
    _fake_run(tmp_path, "old-style", "2023-09-30", None)  # a run from before the KPIs were stored
    index = write_top_index(tmp_path, "2024-03-31").read_text(encoding="utf-8")
    order = [index.index(f'href="{d}/index.html"') for d in ("2024-06-30", "2024-03-31", "2023-12-31", "old-style")]
    assert order == sorted(order)
    assert index.count("<polyline") == 4  # four KPIs with values (total CLV has none)
    assert "1 incomplete" in index
    assert "<h2>Run <code>2024-03-31</code></h2>" in index  # the run just made, in full
    assert external_resources(index) == []
    line = summary_line(tmp_path / "2024-06-30")
    assert line.startswith("clm: run 2024-06-30 as-of 2024-06-30: 5 customers, 0 reports complete, 1 incomplete")
    assert "\n" not in line
