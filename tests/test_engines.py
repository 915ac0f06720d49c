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


def run(engine, paths, spark_session=None, **kwargs):
    extra = {"spark": spark_session} if engine == "spark" else {}
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


@pytest.mark.parametrize("engine", SQL_ENGINES)
@pytest.mark.parametrize("split", ["plain", "cal"])
def test_synthetic_engines_agree_with_pandas(engine, split, synthetic, reference, spark):
    cal = CAL if split == "cal" else None
    summary, quality = run(engine, synthetic / "log.csv", spark, as_of=AS_OF, calibration_end=cal)
    ref_summary, ref_quality = reference[split]
    assert_same(ref_summary, summary)
    assert_same_quality(ref_quality, quality)


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_folder_glob_and_gzip_inputs(engine, synthetic, reference, spark):
    ref_summary, ref_quality = reference["plain"]
    for paths in (synthetic / "parts", str(synthetic / "parts" / "part-*.parquet"), synthetic / "log.csv.gz"):
        summary, quality = run(engine, paths, spark, as_of=AS_OF)
        assert_same(ref_summary, summary)
        q, r = quality.to_frame(), ref_quality.to_frame()
        assert q["count"].tolist() == r["count"].tolist()  # the file label differs, the counts do not


def test_pandas_engine_reads_folder_like_single_file(synthetic, reference):
    summary, quality = summarize_files(synthetic / "parts", as_of=AS_OF, engine="pandas")
    assert_same(reference["plain"][0], summary)


@pytest.mark.parametrize("engine", ["pandas", *SQL_ENGINES])
def test_netting_by_hand(engine, tmp_path, spark):
    # A buys 10 + 5 on day 1, 20 on day 2, returns 22 on day 3: the return takes the 20 of day 2
    # (most recent first), then 2 of the 5 bought later on day 1 -> days: 01-01 = 10 + 3 = 13.
    # B returns 7 with nothing bought before (unmatched), then buys 4.  C: a duplicated row.
    rows = [("A", "2024-01-01", 10.0), ("A", "2024-01-01", 5.0), ("A", "2024-01-02", 20.0),
            ("A", "2024-01-03", -22.0), ("A", "2024-01-10", 8.0),
            ("B", "2024-01-02", -7.0), ("B", "2024-01-05", 4.0),
            ("C", "2024-01-01", 3.0), ("C", "2024-01-01", 3.0), ("C", "2024-01-08", 6.0)]
    path = tmp_path / "t.csv"
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(path, index=False)
    s, q = run(engine, path, spark, as_of="2024-01-15", time_unit="D")
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
def test_cdnow_sample_published_counts_on_every_engine(engine, spark):
    s, _ = run(engine, config.CDNOW_SAMPLE, spark, as_of="1998-06-30", calibration_end="1997-09-30",
               duplicates="keep", zero="keep")  # as load_cdnow keeps them, like the published analyses
    assert len(s) == 2_357
    assert int(s["frequency"].sum()) == 2_457
    assert int((s["frequency"] > 0).sum()) == 946
    assert int(s["frequency_holdout"].sum()) == 1_882
    assert (s["duration_holdout"] == 39.0).all()


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_cdnow_master_engines_agree(engine, spark):
    keep = {"duplicates": "keep", "zero": "keep"}  # as load_cdnow, so all 23,570 customers stay
    ref, ref_q = summarize_files(config.CDNOW_MASTER, as_of="1998-06-30", engine="pandas", time_unit="M", **keep)
    s, q = run(engine, config.CDNOW_MASTER, spark, as_of="1998-06-30", time_unit="M", **keep)
    assert len(s) == 23_570
    assert_same(ref, s)
    assert_same_quality(ref_q, q)


# --------------------------------------------------------------------------------------------
# Out of core, errors, CLI
# --------------------------------------------------------------------------------------------
def test_duckdb_spills_under_a_tiny_memory_limit(tmp_path):
    rng = np.random.default_rng(1)
    n = 600_000
    frame = pd.DataFrame({
        "customer_id": rng.integers(0, 200_000, n).astype(str),
        "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "amount": np.round(rng.gamma(2.0, 10.0, n) + 0.01, 2),
    })
    path = tmp_path / "big.parquet"
    frame.to_parquet(path, index=False)
    ref, ref_q = summarize_files(path, as_of="2021-12-31", engine="pandas")
    spill = tmp_path / "spill"
    spill.mkdir()
    s, q = summarize_files(path, as_of="2021-12-31", engine="duckdb", memory_limit="60MB", threads=2, temp_dir=spill)
    assert_same(ref, s)
    assert_same_quality(ref_q, q)


@pytest.mark.parametrize("engine", ["pandas", *SQL_ENGINES])
def test_user_errors_are_the_same(engine, tmp_path, spark):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,10\nB,not a date,5\nC,2024-01-03,7\n")
    with pytest.raises(DataError, match="1 dates cannot be parsed"):
        run(engine, path, spark, as_of="2024-02-01")
    s, q = run(engine, path, spark, as_of="2024-02-01", invalid="drop")
    assert s.index.tolist() == ["A", "C"]
    with pytest.raises(ParameterError, match="not before the observation end"):
        run(engine, path, spark, as_of="2024-02-01", calibration_end="2024-03-01", invalid="drop")


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
