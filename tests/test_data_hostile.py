"""Messy and hostile inputs: every file either loads or fails with one DataError, never another exception."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clm_utils.data import load_and_check
from clm_utils.errors import DataError, UserError

CASES = {
    "bom_crlf": "\ufeffcustomer_id,date,amount\r\nA,2024-01-01,10\r\nB,2024-01-02,5\r\n",
    "quoted_separators": 'customer_id,date,amount,note\n"Smith, J",2024-01-01,"1,234.50","a, b"\nX,2024-01-02,3,\n',
    "unicode_ids": "customer_id,date,amount\n客户-001,2024-01-01,10\nÅsa,2024-01-02,5\n🙂,2024-01-03,1\n",
    "infinite_amount": "customer_id,date,amount\nA,2024-01-01,inf\nB,2024-01-02,5\n",
    "nan_text_amount": "customer_id,date,amount\nA,2024-01-01,NaN\n",
    "huge_amount": "customer_id,date,amount\nA,2024-01-01,1e308\nA,2024-01-02,1e308\n",
    "formula_injection": "customer_id,date,amount\n=cmd|' /C calc'!A0,2024-01-01,10\n",
    "only_header_spaces": "customer_id,date,amount\n   \n\n",
    "ragged_rows": "customer_id,date,amount\nA,2024-01-01,10,extra,fields\nB,2024-01-02\n",
    "year_0001": "customer_id,date,amount\nA,0001-01-01,10\n",
    "year_9999": "customer_id,date,amount\nA,9999-12-31,10\n",
    "numbers_as_dates": "customer_id,date,amount\nA,45123,10\n",
    "duplicate_header_names": "customer_id,date,amount,amount\nA,2024-01-01,10,11\n",
    "html_instead_of_csv": "<html><body><h1>404 Not Found</h1></body></html>\n",
    "json_instead_of_csv": '[{"customer_id": "A", "date": "2024-01-01", "amount": 10}]\n',
    "single_column": "customer_id\nA\nB\n",
    "negative_everything": "customer_id,date,amount\nA,2024-01-01,-10\nB,2024-01-02,-5\n",
    "mixed_date_formats": "customer_id,date,amount\nA,2024-01-31,10\nB,31/01/2024,5\nC,Jan 31 2024,7\n",
    "whitespace_ids": "customer_id,date,amount\n  A  ,2024-01-01,10\nA,2024-01-05,5\n",
    "latin1_bytes": None,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_loads_or_raises_one_data_error(tmp_path: Path, name: str):
    path = tmp_path / f"{name}.csv"
    if CASES[name] is None:
        path.write_bytes("customer_id,date,amount\nJosé,2024-01-01,10\n".encode("latin-1"))
    else:
        path.write_text(CASES[name], encoding="utf-8")
    try:
        tx, report = load_and_check(path)
    except UserError as exc:
        line = exc.one_line()
        assert "\n" not in line and path.name in line and "fix:" in line
        return
    assert list(tx.columns)[:3] == ["customer_id", "date", "amount"]
    assert np.isfinite(tx["amount"]).all() and (tx["amount"] > 0).all()
    assert tx["customer_id"].str.len().min() > 0
    assert tx["date"].notna().all()


def test_whitespace_around_ids_is_one_customer(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text(CASES["whitespace_ids"], encoding="utf-8")
    tx, _ = load_and_check(path)
    assert tx["customer_id"].unique().tolist() == ["A"]


def test_infinite_amount_is_reported_as_not_a_number(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text(CASES["infinite_amount"], encoding="utf-8")
    with pytest.raises(DataError, match="amounts are not numbers") as info:
        load_and_check(path)
    assert info.value.rows == [2]


def test_latin1_file_is_decoded(tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes("customer_id,date,amount\nJosé,2024-01-01,10\n".encode("latin-1"))
    tx, _ = load_and_check(path)
    assert tx["customer_id"].tolist() == ["José"]


def test_in_memory_frame_with_object_columns(tmp_path):
    frame = pd.DataFrame({"customer_id": [1, 2, None], "date": ["2024-01-01", None, "2024-01-03"],
                          "amount": ["10", "x", "3"]})
    frame.to_parquet(tmp_path / "m.parquet")
    with pytest.raises(DataError):
        load_and_check(tmp_path / "m.parquet")
    tx, report = load_and_check(tmp_path / "m.parquet", invalid="drop")
    assert tx["customer_id"].tolist() == ["1"]
    assert report.n_warnings >= 2


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("duplicate_header_names", "two columns are named 'amount'"),
        ("ragged_rows", "wrong number of fields"),
        ("html_instead_of_csv", "web page"),
        ("json_instead_of_csv", "JSON"),
        ("huge_amount", "implausibly large"),
        ("year_9999", "dates cannot be parsed"),
    ],
)
def test_specific_hostile_messages(tmp_path, name, message):
    path = tmp_path / f"{name}.csv"
    path.write_text(CASES[name], encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_and_check(path)


def test_mixed_date_formats_are_flagged(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(CASES["mixed_date_formats"], encoding="utf-8")
    tx, report = load_and_check(path)
    assert tx["date"].nunique() == 1
    assert report.to_frame().set_index("check").loc["dates not in ISO format, parsed one by one", "count"] == 2
