"""Real shops' exports (issue 8): column detection, line items and orders, duplicates, guests, float ids, Excel.

The synthetic corpus in ``tests/corpus/`` (see its README) is loaded file by file against ``manifest.yml``, whose
numbers were worked out by hand from the rows.  The bundled UCI Online Retail file is checked against the file
itself, read with the standard library's ``csv`` module (an independent reader), and against its published
description (18,532 invoices of 4,338 customers; Chen, Sain & Guo 2012 via the UCI copy's README).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from clm_utils import config
from clm_utils.data import (
    detect_columns,
    load_and_check,
    load_input,
    load_transactions,
    normalize_float_ids,
    order_amount_layout,
    read_raw,
)
from clm_utils.errors import DataError, ParameterError, UserError

CORPUS = Path(__file__).resolve().parent / "corpus"
MANIFEST = yaml.safe_load((CORPUS / "manifest.yml").read_text(encoding="utf-8"))["files"]


def write(tmp_path: Path, text: str, name: str = "tx.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# The corpus, file by file
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", MANIFEST, ids=[f"{e['file']}{'-' + str(e['options']) if e['options'] else ''}"
                                                  for e in MANIFEST])
def test_corpus_file_loads_as_the_manifest_says(entry):
    path = CORPUS / entry["file"]
    options = dict(entry["options"])
    if entry["outcome"] != "complete":
        with pytest.raises(UserError) as info:
            load_and_check(path, **options)
        line = info.value.one_line()
        assert entry["outcome"] in line and "\n" not in line and "fix:" in line
        return
    raw, label, _ = read_raw(path, **{k: v for k, v in options.items() if k == "sheet"})
    assert detect_columns(list(raw.columns), None, label) == entry["columns"]
    tx, report = load_and_check(path, **options)
    table = report.to_frame().set_index("check")
    assert table.loc["rows read", "count"] == entry["rows_read"]
    assert len(tx) == table.loc["transactions kept", "count"] == entry["transactions"]
    assert tx["customer_id"].nunique() == entry["customers"]
    if "revenue" in entry:
        assert tx["amount"].sum() == pytest.approx(entry["revenue"], abs=1e-9)
    if "ids" in entry:
        assert sorted(tx["customer_id"].unique()) == entry["ids"]
    for check, count in entry.get("quality", {}).items():
        assert table.loc[check, "count"] == count, check
    # every row that changed or left is explained: no new rule runs silently
    assert (tx["amount"] > 0).all() and tx["date"].notna().all()


def test_corpus_files_are_small_and_regenerate_identically(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    make_corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_corpus)
    make_corpus.main(tmp_path)
    for entry in {e["file"] for e in MANIFEST}:
        committed = CORPUS / entry
        assert committed.stat().st_size < 300_000, entry
        if committed.suffix == ".csv":
            assert (tmp_path / entry).read_bytes() == committed.read_bytes(), entry
    fresh, _ = load_and_check(tmp_path / "erp_workbook.xlsx", sheet="Orders")
    pd.testing.assert_frame_equal(fresh, load_and_check(CORPUS / "erp_workbook.xlsx", sheet="Orders")[0])


def test_uci_line_items_worked_by_hand():
    tx = load_transactions(CORPUS / "uci_line_items.csv")
    by = tx.groupby("customer_id")["amount"].apply(list).to_dict()
    # 536365: 6 x 2.55 + 6 x 3.39 (its duplicate line dropped); 536366: 6 x 1.85 -- two invoices, one day
    assert by["17850"] == pytest.approx([35.64, 11.10])
    # 536367: 32 x 1.69 + 6 x 2.10; 536368: 6 x 4.25 = 25.50, less the cancellation C536379 of 2 x 4.25
    assert by["13047"] == pytest.approx([66.68, 17.00])
    # 536370 with its free line (0.00) merged, nothing dropped; 536372
    assert by["12583"] == pytest.approx([144.00, 11.10])
    # C536391 comes before any purchase of 17548: dropped, counted; 536392 kept
    assert by["17548"] == pytest.approx([6.96])


def test_heavy_b2b_buyers_have_their_purchase_days_against_a_calendar_count():
    tx = load_transactions(CORPUS / "heavy_b2b.csv")
    days = tx.groupby("customer_id")["date"].nunique()
    # independent count with the standard library's calendar: weekdays, Monday-Saturday, weekdays outside August
    every_day = [dt.date(2019, 1, 1) + dt.timedelta(days=i) for i in range((dt.date(2024, 1, 1) - dt.date(2019, 1, 1)).days)]
    assert days["H001"] == sum(d.weekday() < 5 for d in every_day) == 1304
    assert days["H002"] == sum(d.weekday() < 6 for d in every_day) == 1565
    assert days["H003"] == sum(d.weekday() < 5 and d.month != 8 for d in every_day)
    assert (days[["H001", "H002", "H003"]] > 1100).all()
    assert (days.drop(["H001", "H002", "H003"]) < 20).all()


# --------------------------------------------------------------------------------------------
# The bundled UCI Online Retail file (issue 8, item 4: no invoice lost)
# --------------------------------------------------------------------------------------------
def test_online_retail_keeps_every_invoice_and_all_revenue():
    with config.ONLINE_RETAIL.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 18_532 and len({r["CustomerID"] for r in rows}) == 4_338  # the published description
    same_day_total = {}
    for r in rows:
        key = (r["CustomerID"], r["InvoiceDate"], r["TotalPrice"])
        same_day_total[key] = same_day_total.get(key, 0) + 1
    # the 39 invoices that the old duplicate rule dropped: other invoice numbers, same customer, day and total
    assert sum(n - 1 for n in same_day_total.values() if n > 1) == 39
    tx, report = load_and_check(config.ONLINE_RETAIL)
    table = report.to_frame().set_index("check")["count"]
    assert table["rows read"] == len(tx) == 18_532
    assert table["exact duplicate rows dropped"] == 0
    assert tx["customer_id"].nunique() == 4_338
    # revenue exactly preserved: the same multiset of amounts, and the same exact decimal total
    assert sorted(tx["amount"].tolist()) == sorted(float(r["TotalPrice"]) for r in rows)
    assert math.fsum(tx["amount"]) == math.fsum(float(r["TotalPrice"]) for r in rows)
    assert round(sum(Decimal(r["TotalPrice"]) for r in rows), 2) == Decimal("8911407.90")
    assert str(tx["date"].min().date()) == "2010-12-01" and str(tx["date"].max().date()) == "2011-12-09"


def test_online_retail_is_a_copy_of_the_reference_file():
    shared = config.ROOT.parent / "shared" / "data" / "online_retail.csv"
    if not shared.exists():
        pytest.skip("../shared is not beside this clone (a user's clone)")
    assert config.ONLINE_RETAIL.read_bytes() == shared.read_bytes()


# --------------------------------------------------------------------------------------------
# Exact duplicates: identical in every column of the file
# --------------------------------------------------------------------------------------------
def test_rows_differing_only_in_an_unmapped_column_are_not_duplicates(tmp_path):
    text = ("order,customer_id,date,amount,channel\n"
            "1,A,2024-01-01,10,web\n2,A,2024-01-01,10,web\n3,A,2024-01-01,10,shop\n3,A,2024-01-01,10,shop\n"
            "4,B,2024-01-02,5,\n4,B,2024-01-02,5,\n")
    tx, report = load_and_check(write(tmp_path, text), columns={"order": "order_id"})
    table = report.to_frame().set_index("check")
    # 1 and 2 differ in the order id, 2 and 3 in the channel; the repeated 3 and 4 are identical in all 5 columns
    assert table.loc["exact duplicate rows dropped", "count"] == 2
    assert "all 5 columns" in table.loc["exact duplicate rows dropped", "detail"]
    assert tx["amount"].sum() == 35.0
    with pytest.raises(DataError, match="exact duplicates") as info:
        load_transactions(write(tmp_path, text), columns={"order": "order_id"}, duplicates="raise")
    assert info.value.rows == [5, 7]


def test_unmapped_column_named_like_a_role_still_counts_for_duplicates(tmp_path):
    text = "Client,Date,Total,amount\nA,2024-01-01,10,1\nA,2024-01-01,10,2\n"
    tx = load_transactions(write(tmp_path, text), columns="customer_id=Client,amount=Total")
    assert len(tx) == 2


# --------------------------------------------------------------------------------------------
# Column detection (issue 8, item 5): header sets of the major exports and the mapping expected
# --------------------------------------------------------------------------------------------
SHOPIFY_FULL = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,"
    "Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,"
    "Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,"
    "Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
    "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,"
    "Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,"
    "Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,"
    "Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,"
    "Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value"
)  # the Shopify orders export header, as quoted in several public importers' test fixtures

HEADERS = {
    "shopify orders": (SHOPIFY_FULL, {"customer_id": "Email", "date": "Created at", "amount": "Total",
                                      "quantity": "Lineitem quantity", "price": "Lineitem price", "order_id": "Name"}),
    "woocommerce orders": (
        ("Order ID,Order Number,Order Status,Order Date,Customer Note,Customer User,Billing Email,Order Subtotal,"
        "Order Total,Order Currency"),
        None,  # Order ID and Order Number both name the order: ambiguous (checked below)
    ),
    "woocommerce export": (("Order Number,Order Status,Order Date,Customer User,Billing Email,Order Subtotal,"
                           "Order Shipping,Order Total"), {"customer_id": "Billing Email", "date": "Order Date",
                                                          "amount": "Order Total", "order_id": "Order Number"}),
    "woocommerce user only": ("Order Number,Order Date,Customer User,Order Total",
                              {"customer_id": "Customer User", "date": "Order Date", "amount": "Order Total",
                               "order_id": "Order Number"}),
    "magento sales_order": (("entity_id,increment_id,customer_id,customer_email,created_at,updated_at,grand_total,"
                            "base_grand_total,subtotal,total_qty_ordered,status"),
                            {"customer_id": "customer_id", "date": "created_at", "amount": "grand_total",
                             "quantity": "total_qty_ordered", "order_id": "increment_id"}),
    "magento order grid": (("ID,Purchase Point,Purchase Date,Bill-to Name,Ship-to Name,Grand Total (Base),"
                           "Grand Total (Purchased),Status,Customer Email"),
                           {"customer_id": "Customer Email", "date": "Purchase Date",
                            "amount": "Grand Total (Purchased)", "order_id": "ID"}),
    "uci online retail": ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
                          {"customer_id": "CustomerID", "date": "InvoiceDate", "quantity": "Quantity",
                           "price": "UnitPrice", "order_id": "InvoiceNo"}),
    "uci online retail ii": ("Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country",
                             {"customer_id": "Customer ID", "date": "InvoiceDate", "quantity": "Quantity",
                              "price": "Price", "order_id": "Invoice"}),
    "uci tutorial (TotalPrice)": ("InvoiceNo,InvoiceDate,CustomerID,TotalPrice",
                                  {"customer_id": "CustomerID", "date": "InvoiceDate", "amount": "TotalPrice",
                                   "order_id": "InvoiceNo"}),
    "uci tutorial with line total": ("InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID,TotalPrice",
                                     {"customer_id": "CustomerID", "date": "InvoiceDate", "amount": "TotalPrice",
                                      "quantity": "Quantity", "price": "UnitPrice", "order_id": "InvoiceNo"}),
    "erp sales": ("Id,order_date,Sales", {"customer_id": "Id", "date": "order_date", "amount": "Sales"}),
    "erp revenue": ("Client,Order Date,Revenue,Region", {"customer_id": "Client", "date": "Order Date",
                                                          "amount": "Revenue"}),
    "erp net amount": ("Account,Document Date,Net Amount,Document No",
                       {"customer_id": "Account", "date": "Document Date", "amount": "Net Amount",
                        "order_id": "Document No"}),
    "erp id and customer": ("Id,Customer ID,Date,Amount", {"customer_id": "Customer ID", "date": "Date",
                                                          "amount": "Amount", "order_id": "Id"}),
    "price alone is the amount": ("customer,date,Price", {"customer_id": "customer", "date": "date",
                                                          "amount": "Price"}),
    "price with quantity is a unit price": ("customer,date,Qty,Price",
                                            {"customer_id": "customer", "date": "date", "quantity": "Qty",
                                             "price": "Price"}),
    "cdnow master": ("customer_id,date,number_of_cds,dollar_value",
                     {"customer_id": "customer_id", "date": "date", "quantity": "number_of_cds",
                      "amount": "dollar_value"}),
}


@pytest.mark.parametrize("name", [n for n, (_, m) in HEADERS.items() if m is not None])
def test_export_headers_map_as_expected(name):
    header, expected = HEADERS[name]
    assert detect_columns(header.split(","), None, name) == expected


@pytest.mark.parametrize(
    ("header", "role"),
    [
        (HEADERS["woocommerce orders"][0], "order_id"),
        ("customer_id,date,sales,revenue", "amount"),
        ("Customer,Client,Date,Total", "customer_id"),
        ("CustomerID,Order Date,Invoice Date,Total", "date"),
        ("CustomerID,Date,Total,Net Amount", "amount"),
    ],
)
def test_two_candidates_for_one_role_ask_for_columns(header, role):
    with pytest.raises(DataError, match=f"could all be '{role}'") as info:
        detect_columns(header.split(","), None, "x.csv")
    assert f"--columns {role}=" in info.value.one_line()


def test_an_explicit_mapping_settles_an_ambiguity(tmp_path):
    path = write(tmp_path, "customer_id,date,sales,revenue\nA,2024-01-01,1,2\n")
    tx = load_transactions(path, columns="amount=revenue")
    assert tx["amount"].tolist() == [2.0]


def test_price_alone_is_the_amount_and_says_so(tmp_path):
    tx, report = load_and_check(write(tmp_path, "customer,date,Price\nA,2024-01-01,9.5\n"))
    assert tx["amount"].tolist() == [9.5]
    assert report.to_frame().set_index("check").loc["amount taken from the price column (no quantity column)",
                                                      "detail"] == "'Price'"


def test_detected_columns_are_listed_in_the_quality_table(tmp_path):
    _, report = load_and_check(write(tmp_path, "Customer ID,order_date,Revenue\nA,2024-01-01,3\n"))
    detail = report.to_frame().set_index("check").loc["columns detected by name", "detail"]
    assert detail == "customer_id \u2190 'Customer ID', date \u2190 'order_date', amount \u2190 'Revenue'"


# --------------------------------------------------------------------------------------------
# Orders and line items
# --------------------------------------------------------------------------------------------
def test_order_total_repeated_on_every_line_is_counted_once(tmp_path):
    text = ("Order Number,Order Date,Billing Email,Item,Order Total\n"
            "1,2024-01-01,a@x,mug,30\n1,2024-01-01,a@x,tray,30\n2,2024-01-05,a@x,mug,12\n"
            "3,2024-02-01,b@x,vase,50\n3,2024-02-01,b@x,cup,50\n3,2024-02-01,b@x,lid,50\n")
    tx, report = load_and_check(write(tmp_path, text))
    assert tx["amount"].tolist() == [30.0, 12.0, 50.0]
    table = report.to_frame().set_index("check")["count"]
    assert table["order totals repeated on every line: counted once per order"] == 3


def test_line_amounts_that_differ_within_an_order_are_summed(tmp_path):
    text = "InvoiceNo,CustomerID,InvoiceDate,LineTotal\n7,A,2024-01-01,4\n7,A,2024-01-01,6\n8,A,2024-01-01,6\n8,A,2024-01-01,6.5\n"
    tx, report = load_and_check(write(tmp_path, text))
    assert tx["amount"].tolist() == [10.0, 12.5]
    assert report.to_frame().set_index("check").loc["order lines merged into one transaction per order",
                                                     "count"] == 2


@pytest.mark.parametrize(
    ("orders", "amounts", "expected"),
    [
        (["1", "1", "2"], [10.0, np.nan, 5.0], "first_line"),
        (["1", "1", "2", "2"], [10.0, 10.0, 4.0, 4.0], "repeated"),
        (["1", "1", "2"], [10.0, 10.0, 4.0], "line"),  # one multi-line order: too little to tell, lines summed
        (["1", "1", "2", "2"], [10.0, 3.0, 4.0, 4.0], "line"),
        (["", "", ""], [1.0, 2.0, 3.0], "line"),
    ],
)
def test_order_amount_layout(orders, amounts, expected):
    assert order_amount_layout(pd.Series(orders), pd.Series(amounts)) == expected


def test_negative_quantity_lines_without_c_prefix_are_returns(tmp_path):
    text = ("InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice\n1,A,2024-01-01,4,2.5\n2,A,2024-01-03,-2,2.5\n")
    tx, report = load_and_check(write(tmp_path, text))
    assert tx["amount"].tolist() == [5.0]
    assert report.to_frame().set_index("check").loc["returns netted against earlier purchases", "count"] == 1


# --------------------------------------------------------------------------------------------
# Ids written as floats (item 7) and guests
# --------------------------------------------------------------------------------------------
def test_float_ids_are_normalised_only_when_every_id_is_integral():
    ids, n = normalize_float_ids(pd.Series(["17850.0", "", "13047.0", "nan"]))
    assert ids.tolist() == ["17850", "", "13047", "nan"] and n == 2
    for untouched in (["17850.0", "1.5"], ["00123", "17850.0"], ["00123", "0042"], ["A.0", "B.0"]):
        ids, n = normalize_float_ids(pd.Series(untouched))
        assert ids.tolist() == untouched and n == 0


def test_leading_zeros_survive_and_float_ids_in_parquet_are_normalised(tmp_path):
    tx = load_transactions(write(tmp_path, "customer_id,date,amount\n00123,2024-01-01,1\n00123.5,2024-01-02,2\n"))
    assert sorted(tx["customer_id"]) == ["00123", "00123.5"]
    frame = pd.DataFrame({"CustomerID": [17850.0, np.nan, 13047.0], "InvoiceDate": ["2024-01-01"] * 3,
                          "Revenue": [1.0, 2.0, 3.0]})
    frame.to_parquet(tmp_path / "f.parquet")
    tx, report = load_and_check(tmp_path / "f.parquet")
    assert sorted(tx["customer_id"]) == ["13047", "17850"]
    table = report.to_frame().set_index("check")["count"]
    assert table["customer ids written as floats: '.0' removed"] == 2
    assert table["rows without a customer id (guests) dropped"] == 1


def test_shopify_continuation_lines_are_not_guests(tmp_path):
    text = ("Name,Email,Created at,Total,Lineitem quantity,Lineitem price\n"
            "#1,a@x,2024-01-01 10:00:00 +0000,12,1,12\n#1,,,,1,0\n#2,,2024-01-02 10:00:00 +0000,5,1,5\n")
    tx, report = load_and_check(write(tmp_path, text))
    assert tx["customer_id"].tolist() == ["a@x"] and tx["amount"].tolist() == [12.0]
    table = report.to_frame().set_index("check")["count"]
    assert table["rows without a customer id (guests) dropped"] == 1  # order #2 only


# --------------------------------------------------------------------------------------------
# Excel (item 6)
# --------------------------------------------------------------------------------------------
def _book(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_excel_sheet_by_name_or_position_and_errors_listing_the_sheets(tmp_path):
    path = CORPUS / "erp_workbook.xlsx"
    by_name = load_transactions(path, sheet="Orders")
    pd.testing.assert_frame_equal(by_name, load_transactions(path, sheet=0))
    pd.testing.assert_frame_equal(by_name, load_transactions(path, sheet="0"))
    # serial numbers (45352 = 2024-03-01, 45366, 45383.5) and real dates give the same kind of day
    assert by_name["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-05", "2024-03-01", "2024-01-06", "2024-03-15", "2024-02-01", "2024-04-01"]
    with pytest.raises(DataError, match="no sheet named 'Sales'") as info:
        load_transactions(path, sheet="Sales")
    assert "'Orders', 'Notes', 'Empty'" in info.value.one_line()
    with pytest.raises(DataError, match="no sheet at position 5"):
        load_transactions(path, sheet=5)
    with pytest.raises(DataError, match="'Empty' is empty"):
        load_transactions(path, sheet="Empty")


def test_excel_serial_date_arithmetic_against_the_standard_library():
    # Excel's serial n is n days after 1899-12-30 (for n >= 61); checked with datetime, not with pandas
    from clm_utils.data.values import _excel_serials_to_iso

    serials = [61, 36526, 45292, 45383]
    out = _excel_serials_to_iso(pd.Series([str(s) for s in serials]), None)
    assert out.tolist() == [(dt.date(1899, 12, 30) + dt.timedelta(days=s)).isoformat() for s in serials]
    assert out.tolist()[2] == "2024-01-01"


def test_excel_has_the_same_validation_as_csv(tmp_path):
    path = _book(tmp_path / "v.xlsx", {"Data": [["customer_id", "date", "amount"], ["A", "2024-01-01", 10],
                                                ["B", "not a date", 5], ["", "2024-01-02", 3]]})
    with pytest.raises(DataError, match="dates cannot be parsed") as info:
        load_transactions(path)
    assert info.value.rows == [3] and "v.xlsx" in info.value.one_line()  # the sheet's own row number
    tx, report = load_and_check(path, invalid="drop")
    assert tx["customer_id"].tolist() == ["A"]
    assert report.to_frame().set_index("check").loc["rows without a customer id (guests) dropped", "count"] == 1
    dupes = _book(tmp_path / "d.xlsx", {"S": [["customer_id", "amount", "amount"], ["A", 1, 2]]})
    with pytest.raises(DataError, match="two columns are named 'amount'"):
        load_transactions(dupes)
    with pytest.raises(DataError, match="no data in any sheet"):
        load_transactions(_book(tmp_path / "e.xlsx", {"S": []}))
    with pytest.raises(DataError, match="header but no rows"):
        load_transactions(_book(tmp_path / "h.xlsx", {"S": [["customer_id", "date", "amount"]]}))


def test_old_xls_and_broken_workbooks_are_one_line_errors(tmp_path):
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(DataError, match=r"\.xls"):
        load_transactions(tmp_path / "old.xls")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a readable Excel workbook"):
        load_transactions(tmp_path / "broken.xlsx")


def test_sheet_is_a_policy_of_load_input_and_refused_for_csv(tmp_path):
    tx, _ = load_input(str(CORPUS / "erp_workbook.xlsx"), None, None, sheet="Orders")
    assert len(tx) == 6
    with pytest.raises(ParameterError, match="not an Excel workbook"):
        load_input(str(CORPUS / "guests.csv"), None, None, sheet="Orders")
