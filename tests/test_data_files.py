"""A folder or glob of files read as one input (clm_utils.data.files).

The reference is the single-file path: the same rows written as ONE file must give the same
transactions and the same data-quality counts (plus the "files read" row), and the rows read
must equal the sum of the files' own rows read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clm_utils.data import is_many, load_and_check
from clm_utils.errors import DataError, ParameterError


def _frame(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Rows with leading-zero ids, exact duplicates, rows equal except for the sku, a guest and a return."""
    rng = np.random.default_rng(seed)
    ids = [f"{i:05d}" for i in rng.integers(0, 120, n)]
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    frame = pd.DataFrame({"customer_id": ids, "date": dates.strftime("%Y-%m-%d"),
                          "amount": rng.integers(1, 50, n).astype(float), "sku": rng.choice(["a", "b"], n)})
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    extra = frame.iloc[[5, 40, 41]].copy()                    # exact duplicates (later, in other files)
    twin = frame.iloc[[60]].assign(sku=lambda d: np.where(d["sku"] == "a", "b", "a"))  # differs in sku only
    guest = frame.iloc[[70]].assign(customer_id="")
    ret = frame.iloc[[80]].assign(amount=-5.0, date="2024-12-30")
    return pd.concat([frame, extra, twin, guest, ret], ignore_index=True)


def _split(frame: pd.DataFrame, k: int = 3) -> list[pd.DataFrame]:
    bounds = np.linspace(0, len(frame), k + 1).astype(int)
    return [frame.iloc[bounds[i]:bounds[i + 1]] for i in range(k)]


def _counts(report) -> dict[str, object]:
    t = report.to_frame()
    return dict(zip(t["check"], t["count"], strict=True))


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_folder_equals_the_same_rows_in_one_file(tmp_path: Path, kind: str) -> None:
    frame = _frame()
    folder = tmp_path / "exports"
    folder.mkdir()
    parts = _split(frame)
    for i, part in enumerate(parts):
        if kind == "csv":
            part.to_csv(folder / f"m{i}.csv", index=False)
        else:
            part.astype({"customer_id": "str"}).to_parquet(folder / f"m{i}.parquet", index=False)
    (folder / "_SUCCESS").write_text("")            # skipped, as Spark writes it
    single = tmp_path / ("all.csv" if kind == "csv" else "all.parquet")
    if kind == "csv":
        frame.to_csv(single, index=False)
    else:
        frame.astype({"customer_id": "str"}).to_parquet(single, index=False)

    many_tx, many_q = load_and_check(folder)
    one_tx, one_q = load_and_check(single)
    pd.testing.assert_frame_equal(many_tx, one_tx)
    many_c, one_c = _counts(many_q), _counts(one_q)
    assert many_c.pop("files read") == 3
    assert many_c == one_c
    # rows read = the sum of the files read one by one
    assert many_c["rows read"] == sum(_counts(load_and_check(f)[1])["rows read"]
                                      for f in sorted(folder.glob(f"*.{kind}")))
    assert many_c["exact duplicate rows dropped"] == 3  # the sku twin is not a duplicate
    assert "identical in all 4 columns" in many_q.to_frame().set_index("check").loc["exact duplicate rows dropped",
                                                                                      "detail"]
    assert many_tx["customer_id"].str.len().eq(5).all()  # leading zeros kept
    # the same through a glob
    glob_tx, glob_q = load_and_check(str(folder / f"m*.{kind}"))
    pd.testing.assert_frame_equal(glob_tx, one_tx)
    assert _counts(glob_q)["rows read"] == one_c["rows read"]


def test_is_many_and_empty_folder_and_pattern(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("customer_id,date,amount\nA,2024-01-01,1\n")
    assert is_many(tmp_path) and is_many(str(tmp_path / "*.csv")) and not is_many(tmp_path / "a.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="folder holds no"):
        load_and_check(empty)
    with pytest.raises(DataError, match="matches no file"):
        load_and_check(str(tmp_path / "*.parquet"))
    with pytest.raises(ParameterError, match="sheet"):
        load_and_check(tmp_path, sheet=0)


def test_errors_name_the_file_and_its_line(tmp_path: Path) -> None:
    head = "customer_id,date,amount\n"
    (tmp_path / "a.csv").write_text(head + "A,2024-01-01,1\nB,2024-01-02,2\n")
    (tmp_path / "b.csv").write_text(head + "C,2024-01-03,3\nD,not a date,4\nE,2024-01-05,5\n")
    with pytest.raises(DataError) as info:
        load_and_check(tmp_path)
    err = info.value
    assert err.file.endswith("b.csv") and err.rows == [3] and err.column == "date"


def test_files_must_share_their_columns_and_kind(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("customer_id,date,amount\nA,2024-01-01,1\n")
    (tmp_path / "b.csv").write_text("customer_id,date,amount,store\nB,2024-01-02,2,x\n")
    with pytest.raises(DataError, match="extra column 'store'") as info:
        load_and_check(tmp_path)
    assert info.value.file.endswith("b.csv")
    (tmp_path / "b.csv").unlink()
    pd.DataFrame({"customer_id": ["B"], "date": ["2024-01-02"], "amount": [2.0]}).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(DataError, match="mixes Parquet and text"):
        load_and_check(tmp_path)


def test_parquet_files_with_different_id_types_read_as_text(tmp_path: Path) -> None:
    pd.DataFrame({"customer_id": [17850, 42], "date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                  "amount": [1.0, 2.0]}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"customer_id": ["00042"], "date": pd.to_datetime(["2024-01-03"]),
                  "amount": [3.0]}).to_parquet(tmp_path / "b.parquet")
    tx, _ = load_and_check(tmp_path)
    assert sorted(tx["customer_id"]) == ["00042", "17850", "42"]
