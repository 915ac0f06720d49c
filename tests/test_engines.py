"""The DuckDB and Spark summaries against the pandas loader + summary, and the published CDNOW counts.

References:
* Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW 1/10 sample:
  2,357 customers, 2,457 repeat purchase days in the calibration period to 1997-09-30 (946
  repeat buyers), 1,882 purchase days in the 39-week holdout (as quoted in tests/test_summary.py).
* The pandas path (clm_utils.data.load_and_check + clm_utils.summary) is an independent
  implementation (row loop for returns, pandas group-bys) of the same contract as the SQL
  engines (window functions over running sums, SQL group-bys); they must agree to 1e-9 relative.
* A netting case computed by hand.
"""

from __future__ import annotations

import gzip
import shutil
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

from clm_utils import config
from clm_utils.cli import main
from clm_utils.engines import summarize_files
from clm_utils.errors import DataError, ParameterError

warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

SQL_ENGINES = ("duckdb", "spark")


@pytest.fixture(scope="session")
def spark():
    pyspark = pytest.importorskip("pyspark", reason="install the dev extra (pyspark)")  # noqa: F841
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("clm-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "4").config("spark.default.parallelism", "2")
               .config("spark.sql.session.timeZone", "UTC").config("spark.driver.memory", "1g")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def run(engine, paths, request=None, **kwargs):
    """summarize_files on ``engine``; the shared Spark session is started only for Spark cases."""
    extra = {"spark": request.getfixturevalue("spark")} if engine == "spark" else {}
    return summarize_files(paths, engine=engine, **extra, **kwargs)


def assert_same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.columns) == list(right.columns)
    assert left.index.tolist() == right.index.tolist()
    for col in left.columns:
        a, b = left[col], right[col]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-9, err_msg=col)
        else:
            assert (a.to_numpy() == b.to_numpy()).all(), col


def assert_same_quality(left, right) -> None:
    pd.testing.assert_frame_equal(left.to_frame().drop(columns=[]), right.to_frame())


# --------------------------------------------------------------------------------------------
# Synthetic log: same-day line items, exact duplicates, zero amounts, returns (matched, partial,
# unmatched, on the same day), rows after the as-of date; written as CSV, CSV.gz and Parquet parts
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    rng = np.random.default_rng(7)
    n_cust = 400
    rows = []
    for c in range(n_cust):
        cid = f"{c:05d}"  # leading zeros must survive
        n = rng.integers(1, 8)
        days = np.sort(rng.integers(0, 400, size=n))
        for day in days:
            for _ in range(rng.integers(1, 3)):  # same-day line items
                rows.append((cid, day, round(float(rng.gamma(2.0, 15.0)) + 0.01, 2)))
        if rng.random() < 0.1:
            rows.append(rows[-1])  # exact duplicate
        if rng.random() < 0.05:
            rows.append((cid, int(days[-1]), 0.0))
        if rng.random() < 0.15:  # a return, full or partial, on or after the last purchase
            rows.append((cid, int(days[-1]) + int(rng.integers(0, 20)), -round(float(rng.uniform(1, 80)), 2)))
        if rng.random() < 0.03:  # a return before any purchase: unmatched
            rows.insert(len(rows) - 1 - int(n), (cid, int(days[0]), -5.0))
    frame = pd.DataFrame(rows, columns=["CustomerID", "day", "Total"])
    frame["InvoiceDate"] = (pd.Timestamp("2023-01-01") + pd.to_timedelta(frame["day"], unit="D")).dt.strftime("%Y-%m-%d")
    frame = frame[["CustomerID", "InvoiceDate", "Total"]].sort_values("InvoiceDate", kind="mergesort")
    root = tmp_path_factory.mktemp("synthetic")
    frame.to_csv(root / "log.csv", index=False)
    with open(root / "log.csv", "rb") as fh, gzip.open(root / "log.csv.gz", "wb") as gz:
        shutil.copyfileobj(fh, gz)
    parts = root / "parts"
    parts.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[chunk].to_parquet(parts / f"part-{i}.parquet", index=False)
    return root


AS_OF = "2024-01-20"
CAL = "2023-09-30"


@pytest.fixture(scope="module")
def reference(synthetic):
    return {
        "plain": summarize_files(synthetic / "log.csv", as_of=AS_OF, engine="pandas"),
        "cal": summarize_files(synthetic / "log.csv", as_of=AS_OF, calibration_end=CAL, engine="pandas"),
    }


def test_synthetic_has_what_the_policies_handle(reference):
    counts = dict(zip(reference["plain"][1].to_frame()["check"], reference["plain"][1].to_frame()["count"]))
    assert counts["exact duplicate rows dropped"] > 0
    assert counts["zero-amount rows dropped"] > 0
    assert counts["returns netted against earlier purchases"] > 10
    assert counts["returns without an earlier purchase dropped"] > 0
    assert counts[f"rows after observation end {AS_OF} left out"] > 0


@pytest.mark.parametrize(("engine", "split"), [("duckdb", "plain"), ("duckdb", "cal"), ("spark", "cal")])
def test_synthetic_engines_agree_with_pandas(engine, split, synthetic, reference, request):
    cal = CAL if split == "cal" else None
    summary, quality = run(engine, synthetic / "log.csv", request, as_of=AS_OF, calibration_end=cal)
    ref_summary, ref_quality = reference[split]
    assert_same(ref_summary, summary)
    assert_same_quality(ref_quality, quality)


@pytest.mark.parametrize(("engine", "kind"), [("duckdb", "folder"), ("duckdb", "glob"), ("duckdb", "gzip"),
                                              ("spark", "folder")])
def test_folder_glob_and_gzip_inputs(engine, kind, synthetic, reference, request):
    paths = {"folder": synthetic / "parts", "glob": str(synthetic / "parts" / "part-*.parquet"),
             "gzip": synthetic / "log.csv.gz"}[kind]
    ref_summary, ref_quality = summarize_files(paths, as_of=AS_OF, engine="pandas")
    assert_same(reference["plain"][0], ref_summary)  # the same log, one file or three
    summary, quality = run(engine, paths, request, as_of=AS_OF)
    assert_same(ref_summary, summary)
    assert_same_quality(ref_quality, quality)


@pytest.mark.parametrize("kind", ["csv-cal", "parquet-plain", "int-ids"])
def test_duckdb_in_ranges_of_customers_agrees_with_pandas(kind, synthetic, reference, monkeypatch, tmp_path):
    # Large inputs are summarised one range of customer ids at a time; force 7 ranges on the
    # synthetic log (text ids with leading zeros, returns netted, duplicates, zeros) and on integer
    # ids, and check the result (order included) and the quality table against pandas.
    from clm_utils.engines import duckdb_engine

    monkeypatch.setattr(duckdb_engine, "SPLIT_ABOVE_ROWS", 0)
    monkeypatch.setattr(duckdb_engine, "ROWS_PER_BUCKET", 200)
    cal = CAL if kind == "csv-cal" else None
    if kind == "int-ids":
        frame = pd.read_csv(synthetic / "log.csv", dtype={"CustomerID": str})
        frame["CustomerID"] = frame["CustomerID"].astype("int64") * 37 % 1009  # numeric order != text order
        path = tmp_path / "int.parquet"
        frame.to_parquet(path, index=False)
        ref_summary, ref_quality = summarize_files(path, as_of=AS_OF, engine="pandas")
    elif kind == "csv-cal":
        path = synthetic / "log.csv"
        ref_summary, ref_quality = reference["cal"]
    else:
        path = synthetic / "parts"
        ref_summary, ref_quality = summarize_files(path, as_of=AS_OF, engine="pandas")
    ex_counts = []
    real = duckdb_engine.DuckDBExecutor.bucket_count
    monkeypatch.setattr(duckdb_engine.DuckDBExecutor, "bucket_count",
                        lambda self: ex_counts.append(real(self)) or ex_counts[-1])
    summary, quality = summarize_files(path, as_of=AS_OF, calibration_end=cal, engine="duckdb")
    assert ex_counts and ex_counts[0] >= 7
    assert_same(ref_summary, summary)
    assert_same_quality(ref_quality, quality)
    out = tmp_path / "out" / "summary.parquet"
    written, _ = summarize_files(path, as_of=AS_OF, calibration_end=cal, engine="duckdb", out=out)
    back = pd.read_parquet(written)
    # sorted by id: numerically when the ids are integers (as documented), as text otherwise
    assert back["customer_id"].tolist() == sorted(summary.index, key=int if kind == "int-ids" else str)
    assert [f.name for f in out.parent.iterdir()] == ["summary.parquet"]  # no temporary file left


def test_duckdb_memory_limit_text():
    from clm_utils.engines.duckdb_engine import memory_bytes

    assert memory_bytes("2GB") == 2e9
    assert memory_bytes("512MiB") == 512 * 2**20
    assert memory_bytes(None) > 0
    for bad in ("lots", "2 GB please", "-1GB", "0GB"):
        with pytest.raises(ParameterError, match="not a memory size"):
            memory_bytes(bad)


def test_cli_bad_memory_limit_is_one_line_and_exit_2(tmp_path, synthetic, capsys):
    assert main(["summarize", "--data", str(synthetic / "log.csv"), "--as-of", AS_OF, "--engine", "duckdb",
                 "--memory-limit", "lots", "--out", str(tmp_path / "s.parquet")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "memory_limit" in err[0] and "2GB" in err[0]
    assert not (tmp_path / "s.parquet").exists()


def test_pandas_engine_reads_folder_like_single_file(synthetic, reference):
    summary, _ = summarize_files(synthetic / "parts", as_of=AS_OF, engine="pandas")
    assert_same(reference["plain"][0], summary)


@pytest.mark.parametrize("engine", ["pandas", *SQL_ENGINES])
def test_netting_by_hand(engine, tmp_path, request):
    # A buys 10 + 5 on day 1, 20 on day 2, returns 22 on day 3: the return takes the 20 of day 2
    # (most recent first), then 2 of the 5 bought later on day 1 -> days: 01-01 = 10 + 3 = 13.
    # B returns 7 with nothing bought before (unmatched), then buys 4.  C: a duplicated row.
    rows = [("A", "2024-01-01", 10.0), ("A", "2024-01-01", 5.0), ("A", "2024-01-02", 20.0),
            ("A", "2024-01-03", -22.0), ("A", "2024-01-10", 8.0),
            ("B", "2024-01-02", -7.0), ("B", "2024-01-05", 4.0),
            ("C", "2024-01-01", 3.0), ("C", "2024-01-01", 3.0), ("C", "2024-01-08", 6.0)]
    path = tmp_path / "t.csv"
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(path, index=False)
    s, q = run(engine, path, request, as_of="2024-01-15", time_unit="D")
    assert s.loc["A", ["frequency", "recency", "T"]].tolist() == [1, 9.0, 14.0]
    assert s.loc["A", "first_amount"] == pytest.approx(13.0) and s.loc["A", "monetary_value"] == pytest.approx(8.0)
    assert s.loc["B", ["frequency", "T", "total_amount"]].tolist() == [0, 10.0, 4.0]
    assert s.loc["C", ["frequency", "first_amount", "n_transactions"]].tolist() == [1, 3.0, 2]
    counts = dict(zip(q.to_frame()["check"], q.to_frame()["count"]))
    assert counts["returns netted against earlier purchases"] == 1
    assert counts["returns without an earlier purchase dropped"] == 1
    assert counts["exact duplicate rows dropped"] == 1


# --------------------------------------------------------------------------------------------
# CDNOW: published counts on every engine, and the master file across engines
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["pandas", *SQL_ENGINES])
def test_cdnow_sample_published_counts_on_every_engine(engine, request):
    s, _ = run(engine, config.CDNOW_SAMPLE, request, as_of="1998-06-30", calibration_end="1997-09-30",
               duplicates="keep", zero="keep")  # as load_cdnow keeps them, like the published analyses
    assert len(s) == 2_357
    assert int(s["frequency"].sum()) == 2_457
    assert int((s["frequency"] > 0).sum()) == 946
    assert int(s["frequency_holdout"].sum()) == 1_882
    assert (s["duration_holdout"] == 39.0).all()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["duckdb"])  # Spark reads the same layout in the CDNOW sample test
def test_cdnow_master_engines_agree(engine, request):
    keep = {"duplicates": "keep", "zero": "keep"}  # as load_cdnow, so all 23,570 customers stay
    ref, ref_q = summarize_files(config.CDNOW_MASTER, as_of="1998-06-30", engine="pandas", time_unit="M", **keep)
    s, q = run(engine, config.CDNOW_MASTER, request, as_of="1998-06-30", time_unit="M", **keep)
    assert len(s) == 23_570
    assert_same(ref, s)
    assert_same_quality(ref_q, q)


# --------------------------------------------------------------------------------------------
# Out of core, errors, CLI
# --------------------------------------------------------------------------------------------
def _poll_size(folder, stop, peak):
    while not stop.is_set():
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0
        peak[0] = max(peak[0], size)
        stop.wait(0.01)


@pytest.mark.slow
def test_duckdb_spills_under_a_tiny_memory_limit(tmp_path):
    # 1.2M rows, 400k customers under a 150 MB limit: the group-bys must spill to the temp folder
    # (watched while the query runs) and the result must not change.
    rng = np.random.default_rng(1)
    n = 1_200_000
    frame = pd.DataFrame({
        "customer_id": rng.integers(0, 400_000, n).astype(str),
        "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "amount": np.round(rng.gamma(2.0, 10.0, n) + 0.01, 2),
    })
    path = tmp_path / "big.parquet"
    frame.to_parquet(path, index=False)
    ref, ref_q = summarize_files(path, as_of="2021-12-31", engine="pandas")
    spill = tmp_path / "spill"
    spill.mkdir()
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=_poll_size, args=(spill, stop, peak), daemon=True)
    watcher.start()
    try:
        s, q = summarize_files(path, as_of="2021-12-31", engine="duckdb", memory_limit="150MB", threads=2,
                               temp_dir=spill)
    finally:
        stop.set()
        watcher.join()
    assert peak[0] > 1_000_000, f"nothing spilled ({peak[0]} bytes)"
    assert not any(spill.iterdir())  # and the spill files are removed afterwards
    assert_same(ref, s)
    assert_same_quality(ref_q, q)


def test_ambiguous_days_take_the_general_path(tmp_path):
    # Days with 3+ line items where the min/max shortcut cannot tell duplicates: (5, 7, 7, 9) holds one
    # duplicate, (5, 7, 9) none, (4, 4, 4) two, (6, 8) none; a zero and a return on the same days.
    rows = [("A", "2024-01-01", a) for a in (5.0, 7.0, 7.0, 9.0)] + [("A", "2024-01-05", 3.0)]
    rows += [("B", "2024-01-02", a) for a in (5.0, 7.0, 9.0)] + [("B", "2024-01-02", 0.0)]
    rows += [("C", "2024-01-03", a) for a in (4.0, 4.0, 4.0)] + [("C", "2024-01-04", a) for a in (6.0, 8.0)]
    rows += [("D", "2024-01-01", a) for a in (2.0, 2.0, 3.0, 3.0, 3.0)] + [("D", "2024-01-09", -1.0)]
    path = tmp_path / "amb.csv"
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(path, index=False)
    for policy in ({}, {"duplicates": "keep", "zero": "keep"}, {"negative": "drop", "zero": "keep"}):
        ref, ref_q = summarize_files(path, as_of="2024-01-31", engine="pandas", **policy)
        s, q = summarize_files(path, as_of="2024-01-31", engine="duckdb", **policy)
        assert_same(ref, s)
        assert_same_quality(ref_q, q)
    counts = dict(zip(ref_q.to_frame()["check"], ref_q.to_frame()["count"]))
    assert counts["exact duplicate rows dropped"] == 1 + 2 + 1 + 2  # A, C, D (2, 2) and (3, 3, 3)
    assert s.loc["A", "first_amount"] == pytest.approx(21.0)


def test_float_ids_lose_their_zero_fraction_as_in_the_loader(tmp_path):
    frame = pd.DataFrame({"customer_id": [17850.0, 17850.0, 13047.0, np.nan, 17850.0],
                          "date": ["2024-01-01", "2024-01-08", "2024-01-02", "2024-01-03", "2024-01-09"],
                          "amount": [10.0, 12.0, 7.0, 5.0, -2.0]})  # a return: the netting path reads the ids too
    frame.to_parquet(tmp_path / "f.parquet", index=False)
    frame.assign(customer_id=frame["customer_id"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")).to_csv(
        tmp_path / "f.csv", index=False)
    for name in ("f.parquet", "f.csv"):
        ref, ref_q = summarize_files(tmp_path / name, as_of="2024-01-31", engine="pandas")
        s, q = summarize_files(tmp_path / name, as_of="2024-01-31", engine="duckdb")
        assert s.index.tolist() == ["13047", "17850"]
        assert_same(ref, s)
        assert_same_quality(ref_q, q)
    frame.assign(customer_id=[17850.5, 17850.0, 13047.0, np.nan, 1.0]).to_parquet(tmp_path / "g.parquet", index=False)
    with pytest.raises(DataError, match="not all whole.*only by the pandas engine"):
        summarize_files(tmp_path / "g.parquet", as_of="2024-01-31", engine="duckdb")


def test_non_iso_dates_are_refused_unless_none_parses(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,10\nA,2024-01-05,3\nB,junk,5\nC,2024-01-03,7\n")
    ref, ref_q = summarize_files(path, as_of="2024-02-01", engine="pandas", invalid="drop")
    s, q = summarize_files(path, as_of="2024-02-01", engine="duckdb", invalid="drop")
    assert "dates not in ISO format, parsed one by one" in ref_q.to_frame()["check"].tolist()
    assert_same(ref, s)
    assert_same_quality(ref_q, q)
    path.write_text("customer_id,date,amount\nA,2024-01-01,10\nA,2024-01-05,3\nB,3 Jan 2024,5\nC,2024-01-03,7\n")
    with pytest.raises(DataError, match=r"not ISO 8601 \(e.g. '3 Jan 2024'\).*only by the pandas engine") as err:
        summarize_files(path, as_of="2024-02-01", engine="duckdb")
    assert "--engine pandas" in str(err.value) and "\n" not in str(err.value)


def test_rules_only_the_pandas_engine_has_are_refused(tmp_path):
    orders = tmp_path / "lines.csv"
    orders.write_text("order_id,customer_id,date,amount\n1,A,2024-01-01,10\n1,A,2024-01-01,5\n")
    with pytest.raises(DataError, match="order lines are merged into orders only by the pandas engine") as err:
        summarize_files(orders, as_of="2024-02-01", engine="duckdb")
    assert "--engine pandas" in str(err.value)
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["customer_id", "date", "amount"])
    book.active.append(["A", 45292, 10.0])  # an Excel serial date
    book.save(tmp_path / "book.xlsx")
    with pytest.raises(DataError, match="Excel workbooks are not read by the large-data engines") as err:
        summarize_files(tmp_path / "book.xlsx", as_of="2024-02-01", engine="duckdb")
    assert "--engine pandas" in str(err.value)


def test_price_column_as_amount_is_reported(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("customer_id,date,price\nA,2024-01-01,10\nA,2024-01-09,4\nB,2024-01-03,7\n")
    ref, ref_q = summarize_files(path, as_of="2024-02-01", engine="pandas")
    s, q = summarize_files(path, as_of="2024-02-01", engine="duckdb")
    assert "amount taken from the price column (no quantity column)" in ref_q.to_frame()["check"].tolist()
    assert_same(ref, s)
    assert_same_quality(ref_q, q)


@pytest.mark.parametrize("engine", ["pandas", *SQL_ENGINES])
def test_user_errors_are_the_same(engine, tmp_path, request):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,10\nB,not a date,5\nC,2024-01-03,7\nD,2024-01-04,x\n"
                    "E,2024-01-05,8\nF,2024-01-06,abc\n")
    with pytest.raises(DataError, match="1 dates cannot be parsed") as err:
        run(engine, path, request, as_of="2024-02-01")
    assert err.value.rows == [3]  # file line numbers, as the pandas loader names them
    with pytest.raises(DataError, match=r"2 amounts are not numbers.*\(e.g. 'x'\)") as err:
        run(engine, _without_line(path, 3), request, as_of="2024-02-01")
    assert err.value.rows == [4, 6]
    s, _ = run(engine, path, request, as_of="2024-02-01", invalid="drop")
    assert s.index.tolist() == ["A", "C", "E"]
    with pytest.raises(ParameterError, match="not before the observation end"):
        run(engine, path, request, as_of="2024-02-01", calibration_end="2024-03-01", invalid="drop")


def _without_line(path, number):
    lines = path.read_text().splitlines(keepends=True)
    out = path.with_name(f"without_{number}.csv")
    out.write_text("".join(lines[: number - 1] + lines[number:]))
    return out


def test_cli_summarize(tmp_path, synthetic, capsys):
    out = tmp_path / "s.parquet"
    assert main(["summarize", "--data", str(synthetic / "parts"), "--as-of", AS_OF, "--engine", "duckdb",
                 "--out", str(out), "--calibration-end", CAL, "--memory-limit", "1GB", "--threads", "2"]) == 0
    written = pd.read_parquet(out).set_index("customer_id")
    ref, _ = summarize_files(synthetic / "log.csv", as_of=AS_OF, calibration_end=CAL, engine="pandas")
    assert written.index.tolist() == ref.index.tolist()
    np.testing.assert_allclose(written["monetary_value"], ref["monetary_value"], rtol=1e-9)
    assert "summary written" in capsys.readouterr().out
    # user errors: one line, exit code 2
    assert main(["summarize", "--data", str(tmp_path / "missing.csv"), "--as-of", AS_OF, "--out", str(out)]) == 2
    assert main(["summarize", "--data", str(synthetic / "log.csv"), "--as-of", "soon", "--out", str(out)]) == 2
    assert main(["summarize", "--data", str(synthetic / "log.csv"), "--as-of", AS_OF, "--engine", "polars",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "Traceback" not in err


@pytest.mark.slow  # two analyses of the CDNOW sample
def test_analysis_stage_summarises_large_inputs_on_duckdb_with_the_same_labels(tmp_path, monkeypatch):
    # Input files above the auto threshold are summarised by DuckDB in the shared stage; every
    # label and number of the customer table must be those of the pandas path.
    from clm_utils import analysis, engines
    from clm_utils.settings import Settings

    settings = Settings.from_mapping({"data_path": str(config.CDNOW_SAMPLE), "as_of": "1998-06-30",
                                      "calibration_end": "1997-09-30", "zero": "keep", "duplicates": "keep"})
    monkeypatch.setenv("CLM_CACHE_DIR", str(tmp_path / "pandas"))
    ref = analysis.load(settings)
    monkeypatch.setenv("CLM_CACHE_DIR", str(tmp_path / "duckdb"))
    monkeypatch.setattr(engines, "AUTO_THRESHOLD_BYTES", 0)
    run = analysis.load(settings)
    assert any("duckdb engine" in n for n in run.notes) and not any("duckdb engine" in n for n in ref.notes)
    a, b = ref.customers, run.customers
    assert a.index.tolist() == b.index.tolist() and list(a.columns) == list(b.columns)
    fitted = ("p_alive", "expected_purchases", "clv", "clv_lower", "clv_upper")  # iterative fits: optimizer tolerance
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col]):
            tol = 1e-6 if col in fitted else 1e-9
            np.testing.assert_allclose(b[col].to_numpy(), a[col].to_numpy(), rtol=tol, atol=1e-9, err_msg=col)
        else:
            assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), col


def test_auto_picks_duckdb_by_parquet_rows_as_well_as_by_size(tmp_path, monkeypatch):
    from clm_utils import engines

    path = tmp_path / "t.parquet"
    pd.DataFrame({"customer_id": ["a"] * 30, "date": ["2024-01-01"] * 30, "amount": [1.0] * 30}).to_parquet(path)
    monkeypatch.setattr(engines, "AUTO_THRESHOLD_ROWS", 29)
    assert engines.choose_engine(path) == "duckdb"
    monkeypatch.setattr(engines, "AUTO_THRESHOLD_ROWS", 30)
    assert engines.choose_engine(path) == "pandas"
