"""Loading, mapping, validation and cleaning policies: every error names file, column, rows and a fix."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clm_utils import config
from clm_utils.data import load_and_check, load_cdnow, load_transactions, net_returns, parse_amount, parse_columns
from clm_utils.errors import DataError, ParameterError


def write(tmp_path: Path, text: str, name: str = "tx.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "customer_id,date,amount\nA,2024-01-01,10\nA,2024-01-05,20\nB,2024-01-03,5.5\n"


def test_good_csv_gives_canonical_frame(tmp_path):
    tx = load_transactions(write(tmp_path, GOOD))
    assert list(tx.columns) == ["customer_id", "date", "amount"]
    assert tx["date"].dtype == "datetime64[ns]"
    assert tx["amount"].dtype == "float64"
    assert pd.api.types.is_string_dtype(tx["customer_id"])
    assert tx["customer_id"].tolist() == ["A", "A", "B"]
    assert tx["amount"].tolist() == [10.0, 20.0, 5.5]


def test_sorted_by_customer_then_date(tmp_path):
    tx = load_transactions(write(tmp_path, "customer_id,date,amount\nB,2024-02-01,1\nA,2024-03-01,2\nA,2024-01-01,3\n"))
    assert tx["customer_id"].tolist() == ["A", "A", "B"]
    assert tx["date"].dt.month.tolist() == [1, 3, 2]


def test_zero_padded_numeric_ids_are_kept_as_text(tmp_path):
    tx = load_transactions(write(tmp_path, "customer_id,date,amount\n00042,2024-01-01,1\n7,2024-01-01,1\n"))
    assert set(tx["customer_id"]) == {"00042", "7"}


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_separators_are_detected(tmp_path, sep):
    text = GOOD.replace(",", sep)
    assert len(load_transactions(write(tmp_path, text))) == 3


def test_parquet_and_gzip(tmp_path):
    frame = pd.DataFrame({"customer_id": ["A", "B"], "date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                          "amount": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "tx.parquet")
    assert load_transactions(tmp_path / "tx.parquet")["amount"].sum() == 3.0
    (tmp_path / "tx.csv.gz").write_bytes(gzip.compress(GOOD.encode()))
    assert len(load_transactions(tmp_path / "tx.csv.gz")) == 3


def test_column_mapping_both_directions_and_cli_text(tmp_path):
    path = write(tmp_path, "Kunde,Datum,Umsatz\nA,2024-01-01,10\n")
    for mapping in ({"Kunde": "customer_id", "Datum": "date", "Umsatz": "amount"},
                    {"customer_id": "Kunde", "date": "Datum", "amount": "Umsatz"},
                    "customer_id=Kunde,date=Datum,amount=Umsatz"):
        assert load_transactions(path, columns=mapping)["amount"].iloc[0] == 10.0


def test_common_names_are_detected_without_mapping(tmp_path):
    tx = load_transactions(write(tmp_path, "CustomerID,InvoiceDate,Revenue,Qty\nA,2024-01-01,10,2\n"))
    assert list(tx.columns) == ["customer_id", "date", "amount", "quantity"]


def test_amount_from_quantity_times_price(tmp_path):
    tx, report = load_and_check(write(tmp_path, "CustomerID,InvoiceDate,Quantity,UnitPrice\nA,2024-01-01,3,2.5\n"))
    assert tx["amount"].iloc[0] == 7.5
    assert "quantity × price" in report.to_text()


def test_messy_amounts_parse():
    values = pd.Series(["$1,234.50", "(12.00)", " 7 ", "EUR 3.25", "−4"])
    assert parse_amount(values).tolist() == [1234.5, -12.0, 7.0, 3.25, -4.0]
    assert parse_amount(pd.Series(["1.234,50"]), decimal=",").tolist() == [1234.5]


@pytest.mark.parametrize(
    ("text", "message", "column", "rows"),
    [
        ("customer_id,date,amount\nA,2024-01-01,10\nB,not a date,5\n", "dates cannot be parsed", "date", [3]),
        ("customer_id,date,amount\nA,2024-01-01,ten\nB,2024-01-01,5\n", "amounts are not numbers", "amount", [2]),
    ],
)
def test_invalid_values_raise_with_file_column_rows_hint(tmp_path, text, message, column, rows):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_transactions(path)
    err = info.value
    assert message in err.message and err.column == column and err.rows == rows
    line = err.one_line()
    assert "tx.csv" in line and f"column '{column}'" in line and "fix:" in line and "\n" not in line


def test_rows_without_customer_id_are_guests_dropped_and_counted(tmp_path):
    # issue 8: a guest purchase cannot be followed over time; it is dropped and counted, never a crash
    # (this replaces the earlier contract, under which a missing id stopped the load)
    path = write(tmp_path, "customer_id,date,amount\n,2024-01-01,10\nB,2024-01-01,5\nnull,2024-01-02,3\n")
    tx, report = load_and_check(path)
    assert tx["customer_id"].tolist() == ["B"]
    row = report.to_frame().set_index("check").loc["rows without a customer id (guests) dropped"]
    assert row["count"] == 2 and row["status"] == "warning" and "followed over time" in row["detail"]
    with pytest.raises(DataError, match="every customer id is empty") as info:
        load_transactions(write(tmp_path, "customer_id,date,amount\n,2024-01-01,10\n ,2024-01-02,5\n"))
    assert info.value.column == "customer_id" and "--columns customer_id=" in info.value.one_line()


def test_invalid_drop_policy_counts_rows(tmp_path):
    tx, report = load_and_check(write(tmp_path, "customer_id,date,amount\nA,2024-01-01,10\nB,nope,5\n"), invalid="drop")
    assert tx["customer_id"].tolist() == ["A"]
    table = report.to_frame().set_index("check")
    assert table.loc["unparseable dates (rows dropped)", "count"] == 1


def test_first_rows_are_listed_and_counted(tmp_path):
    rows = "\n".join(f"C{i},bad,1" for i in range(9))
    with pytest.raises(DataError) as info:
        load_transactions(write(tmp_path, "customer_id,date,amount\n" + rows + "\n"))
    assert info.value.rows == [2, 3, 4, 5, 6] and info.value.n_rows == 9
    assert "and 4 more" in info.value.one_line()


def test_missing_file_folder_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_transactions(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="folder"):
        load_transactions(tmp_path)
    with pytest.raises(DataError, match="empty"):
        load_transactions(write(tmp_path, ""))
    with pytest.raises(DataError, match="no rows"):
        load_transactions(write(tmp_path, "customer_id,date,amount\n"))


def test_binary_and_excel_files_are_refused(tmp_path):
    (tmp_path / "x.xlsx").write_bytes(b"PK\x03\x04rest")
    with pytest.raises(DataError, match="Excel"):
        load_transactions(tmp_path / "x.xlsx")
    (tmp_path / "x.bin").write_bytes(b"\x00\x01\x02" * 10)
    with pytest.raises(DataError, match="binary"):
        load_transactions(tmp_path / "x.bin")


def test_missing_and_ambiguous_columns(tmp_path):
    with pytest.raises(DataError, match="no column for 'amount'") as info:
        load_transactions(write(tmp_path, "customer_id,date,colour\nA,2024-01-01,red\n"))
    assert "--columns amount=" in info.value.one_line()
    with pytest.raises(DataError, match="could all be 'amount'"):
        load_transactions(write(tmp_path, "customer_id,date,sales,revenue\nA,2024-01-01,1,2\n"))
    with pytest.raises(DataError, match="not in the file"):
        load_transactions(write(tmp_path, GOOD), columns={"Client": "customer_id"})


def test_bad_mappings_are_parameter_errors():
    with pytest.raises(ParameterError):
        parse_columns("customer_id")
    with pytest.raises(ParameterError):
        parse_columns({"a": "b"})
    with pytest.raises(ParameterError, match="more than one"):
        parse_columns({"x": "amount", "y": "amount"})


def test_ambiguous_day_month_needs_a_format(tmp_path):
    path = write(tmp_path, "customer_id,date,amount\nA,01/02/2024,1\nB,03/04/2024,2\n")
    with pytest.raises(DataError, match="ambiguous"):
        load_transactions(path)
    tx = load_transactions(path, date_format="%d/%m/%Y")
    assert tx["date"].dt.month.tolist() == [2, 4]


def test_day_first_is_detected_from_the_data(tmp_path):
    tx = load_transactions(write(tmp_path, "customer_id,date,amount\nA,25/12/2024,1\nB,03/04/2024,2\n"))
    assert sorted(tx["date"].dt.strftime("%m-%d").tolist()) == ["04-03", "12-25"]


def test_timestamps_and_time_zones_are_reduced_to_days(tmp_path):
    tx = load_transactions(write(tmp_path, "customer_id,date,amount\nA,2024-01-01T23:30:00+00:00,1\nA,2024-01-02 08:00,2\n"))
    assert tx["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-02"]


def test_negative_policies(tmp_path):
    text = "customer_id,date,amount\nA,2024-01-01,10\nA,2024-01-03,30\nA,2024-01-05,-35\nB,2024-01-01,-5\nB,2024-01-02,8\n"
    path = write(tmp_path, text)
    with pytest.raises(DataError, match="negative") as info:
        load_transactions(path, negative="raise")
    assert info.value.rows == [4, 5]
    dropped = load_transactions(path, negative="drop")
    assert dropped["amount"].tolist() == [10.0, 30.0, 8.0]
    netted, report = load_and_check(path, negative="net")
    # the -35 return takes the 30 purchase to zero (removed) and 5 off the 10; B's return has no earlier purchase
    assert netted["amount"].tolist() == [5.0, 8.0]
    table = report.to_frame().set_index("check")["count"]
    assert table["returns netted against earlier purchases"] == 1
    assert table["returns without an earlier purchase dropped"] == 1


def test_net_returns_keeps_total_revenue():
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"customer_id": np.sort(rng.choice(list("ABCDEFGH"), n)),
                          "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), "D"),
                          "amount": rng.uniform(5, 50, n)})
    frame.loc[rng.choice(n, 40, replace=False), "amount"] *= -0.5
    frame = frame.sort_values(["customer_id", "date"]).reset_index(drop=True)
    out, netted, unmatched = net_returns(frame)
    # netting moves money only: total kept = purchases - netted returns (unmatched returns dropped)
    first_rows = frame.groupby("customer_id").head(1)
    lost = -first_rows.loc[first_rows["amount"] < 0, "amount"].sum()
    assert out["amount"].sum() == pytest.approx(frame["amount"].sum() + lost)
    assert (out["amount"] > 0).all()


def test_zero_and_duplicate_policies(tmp_path):
    text = "customer_id,date,amount\nA,2024-01-01,10\nA,2024-01-01,10\nB,2024-01-01,0\nB,2024-01-02,4\n"
    path = write(tmp_path, text)
    tx, report = load_and_check(path)
    assert tx["amount"].tolist() == [10.0, 4.0]
    counts = report.to_frame().set_index("check")["count"]
    assert counts["exact duplicate rows dropped"] == 1 and counts["zero-amount rows dropped"] == 1
    assert report.n_warnings == 2
    assert len(load_transactions(path, duplicates="keep", zero="keep")) == 4
    with pytest.raises(DataError, match="duplicates") as info:
        load_transactions(path, duplicates="raise")
    assert info.value.rows == [3]
    with pytest.raises(DataError, match="zero") as info:
        load_transactions(path, zero="raise")
    assert info.value.rows == [4]


def test_unknown_policy_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="policy"):
        load_transactions(write(tmp_path, GOOD), negative="ignore")


def test_rows_after_observation_end_are_counted_or_raise(tmp_path):
    path = write(tmp_path, GOOD)
    tx, report = load_and_check(path, observation_end="2024-01-03")
    assert tx["date"].max() == pd.Timestamp("2024-01-03")
    assert report.to_frame().set_index("check")["count"]["rows after observation end 2024-01-03 left out"] == 1
    with pytest.raises(DataError, match="after the observation end") as info:
        load_transactions(path, observation_end="2024-01-03", strict=True)
    assert info.value.rows == [3]


def test_nothing_left_after_cleaning(tmp_path):
    with pytest.raises(DataError, match="no transactions are left"):
        load_transactions(write(tmp_path, "customer_id,date,amount\nA,2024-01-01,0\n"))


def test_cdnow_files_match_their_published_description():
    master = load_cdnow()
    assert len(master) == 69_659 and master["customer_id"].nunique() == 23_570
    assert str(master["date"].min().date()) == "1997-01-01" and str(master["date"].max().date()) == "1998-06-30"
    sample = load_cdnow(sample=True)
    assert len(sample) == 6_919 and sample["customer_id"].nunique() == 2_357
    assert set(sample["customer_id"]) <= set(master["customer_id"])
    assert "quantity" in master.columns


def test_bundled_data_are_copies_of_the_reference_files():
    shared = config.ROOT.parent / "shared" / "data"
    if not shared.exists():
        pytest.skip("../shared is not beside this clone (a user's clone)")
    for name in ("CDNOW_master.txt", "CDNOW_sample.txt", "donations.csv"):
        assert (config.RAW_DIR / name).read_bytes() == (shared / name).read_bytes()
