"""Write the synthetic export corpus of ``tests/corpus/`` (run from anywhere; files land beside this script).

    python tests/corpus/make_corpus.py

Every file is synthetic: made up here in the shape of a real shop's export (headers as the named system
writes them), small enough to read by eye, with the awkward cases of issue 8 placed on purpose.  The
expected outcome of loading each file is in ``manifest.yml``, worked out by hand from the rows below;
``tests/test_data_exports.py`` checks them.  The CSV files are byte-identical on every run; the workbook's
content is (a .xlsx is a zip archive whose entry times change).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def write(name: str, text: str, out: Path = HERE) -> None:
    (out / name).write_text(text.lstrip("\n"), encoding="utf-8", newline="\n")


# UCI Online Retail I layout, line items: two lines of one invoice; an exact duplicate line; a free line
# inside an invoice; a guest line (no CustomerID); two cancellation invoices (C prefix, negative quantity), one
# with an earlier purchase to net against and one without.  Dates month-first as in the UCI CSV copies.
UCI_LINE_ITEMS = """
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,12/1/2010 8:34,1.69,13047,United Kingdom
536367,22745,POPPY'S PLAYHOUSE BEDROOM,6,12/1/2010 8:34,2.10,13047,United Kingdom
536368,22960,JAM MAKING SET WITH JARS,6,12/13/2010 8:34,4.25,13047,United Kingdom
C536379,22960,JAM MAKING SET WITH JARS,-2,12/14/2010 9:41,4.25,13047,United Kingdom
536370,22728,ALARM CLOCK BAKELIKE PINK,24,12/1/2010 8:45,3.75,12583,France
536370,POST,POSTAGE,3,12/1/2010 8:45,18.00,12583,France
536370,22900,FREE GIFT,1,12/1/2010 8:45,0.00,12583,France
536371,22086,PAPER CHAIN KIT 50'S CHRISTMAS,80,12/1/2010 9:00,2.55,,United Kingdom
536372,22632,HAND WARMER RED POLKA DOT,6,12/20/2010 9:01,1.85,12583,France
C536391,21983,PACK OF 12 BLUE PAISLEY TISSUES,-24,12/21/2010 10:24,0.29,17548,United Kingdom
536392,21983,PACK OF 12 BLUE PAISLEY TISSUES,24,12/22/2010 10:00,0.29,17548,United Kingdom
"""

# UCI Online Retail II layout, as pandas writes it: "Customer ID" holds floats (13085.0) because one is missing.
ONLINE_RETAIL_II_FLOAT_IDS = """
Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom
489434,79323P,PINK CHERRY LIGHTS,12,2009-12-01 07:45:00,6.75,13085.0,United Kingdom
489435,22350,CAT BOWL,12,2009-12-01 07:46:00,2.55,13085.0,United Kingdom
489436,48173C,DOOR MAT BLACK FLOCK,10,2009-12-01 09:06:00,5.95,13078.0,United Kingdom
489437,22143,CHRISTMAS CRAFT HEART DECORATIONS,6,2009-12-01 09:08:00,2.10,,United Kingdom
489438,21329,DINOSAURS WRITING SET,28,2009-12-02 09:24:00,0.98,18102.0,United Kingdom
C489449,22087,PAPER BUNTING WHITE LACE,-12,2009-12-04 10:33:00,2.95,13078.0,United Kingdom
489440,22087,PAPER BUNTING WHITE LACE,12,2009-12-05 10:00:00,2.95,13078.0,United Kingdom
"""

# A generic export in which guest checkouts have no customer id (empty, blank, or the text NULL).
GUESTS = """
customer_id,date,amount
A1,2024-01-05,20.00
,2024-01-06,15.00
A1,2024-02-10,30.00
B2,2024-01-07,12.50
,2024-01-08,9.99
   ,2024-01-09,5.00
C3,2024-03-01,40.00
NULL,2024-03-02,7.00
B2,2024-03-15,22.00
"""

GUESTS_ONLY = """
customer_id,date,amount
,2024-01-05,20.00
,2024-01-06,15.00
"""

# Shopify's orders export (a subset of its ~70 columns, in its order): one row per line item; the order's own
# fields (Created at, Total, ...) on the first line only.  #1004 is a point-of-sale guest (no Email); #1005 was
# free (100 % discount).
SHOPIFY_HEADER = ("Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,"
                  "Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,"
                  "Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,"
                  "Billing Name,Cancelled at,Refunded Amount,Id")
SHOPIFY_ORDERS = SHOPIFY_HEADER + """
#1001,ann@example.com,paid,2024-01-05 10:02:11 -0500,fulfilled,2024-01-06 09:00:00 -0500,yes,USD,100.00,8.00,5.00,113.00,,0.00,Standard,2024-01-05 10:01:59 -0500,2,Linen Cushion,35.00,,LC-1,Ann Lee,,0.00,5550001
#1001,ann@example.com,,,,,,,,,,,,,,,1,Stoneware Vase,30.00,,SV-2,,,,
#1002,bob@example.com,paid,2024-01-06 11:15:00 -0500,fulfilled,2024-01-07 10:00:00 -0500,no,USD,40.00,5.00,0.00,45.00,,0.00,Standard,2024-01-06 11:14:30 -0500,1,Wool Throw,40.00,,WT-1,Bob Ray,,0.00,5550002
#1003,ann@example.com,paid,2024-02-10 10:30:00 -0500,fulfilled,2024-02-11 10:00:00 -0500,yes,USD,195.50,0.00,15.00,210.50,,0.00,Free,2024-02-10 10:29:40 -0500,1,Oak Tray,95.50,,OT-1,Ann Lee,,0.00,5550003
#1003,ann@example.com,,,,,,,,,,,,,,,2,Candle,25.00,,CA-1,,,,
#1003,ann@example.com,,,,,,,,,,,,,,,1,Table Runner,50.00,,TR-1,,,,
#1004,,paid,2024-02-12 14:00:00 -0500,fulfilled,2024-02-12 14:00:00 -0500,no,USD,20.00,0.00,0.00,20.00,,0.00,,2024-02-12 14:00:00 -0500,1,Gift Card,20.00,,GC-1,,,0.00,5550004
#1005,cat@example.com,paid,2024-02-20 09:00:00 -0500,fulfilled,2024-02-21 09:00:00 -0500,yes,USD,30.00,0.00,0.00,0.00,WELCOME100,30.00,Standard,2024-02-20 08:59:00 -0500,1,Tea Towel,30.00,,TT-1,Cat Ng,,0.00,5550005
#1006,bob@example.com,paid,2024-03-01 12:00:00 -0500,fulfilled,2024-03-02 12:00:00 -0500,no,USD,70.25,5.00,0.00,75.25,,0.00,Standard,2024-03-01 11:59:00 -0500,1,Wool Throw,40.00,,WT-1,Bob Ray,,0.00,5550006
#1006,bob@example.com,,,,,,,,,,,,,,,1,Mug,30.25,,MU-1,,,,
"""

# A WooCommerce order export (one row per order).  Guest orders have Customer User 0 but an e-mail, so the
# e-mail identifies the customer.  A refund appears as a negative order total after the purchase.
WOOCOMMERCE_ORDERS = """
Order Number,Order Status,Order Date,Customer User,Billing First Name,Billing Last Name,Billing Email,Payment Method Title,Cart Discount,Order Subtotal,Order Shipping,Order Total,Order Currency
1201,completed,2024-01-03 09:12,14,Dana,Kim,dana@example.com,Credit card,0.00,54.00,4.95,58.95,EUR
1202,completed,2024-01-04 17:40,0,Eli,Ross,eli@example.com,PayPal,0.00,23.50,4.95,28.45,EUR
1203,completed,2024-01-20 08:05,14,Dana,Kim,dana@example.com,Credit card,5.00,80.00,0.00,75.00,EUR
1204,completed,2024-02-02 19:30,0,Eli,Ross,eli@example.com,PayPal,0.00,12.00,4.95,16.95,EUR
1205,refunded,2024-02-05 10:00,0,Eli,Ross,eli@example.com,PayPal,0.00,-12.00,0.00,-12.00,EUR
1206,completed,2024-02-14 12:00,22,Fay,Ode,fay@example.com,Credit card,0.00,99.00,0.00,99.00,EUR
"""

# Magento 2 sales_order columns.  Guests have no customer_id (Magento leaves it NULL); the grand total in the
# order currency (grand_total) is preferred to the base currency one.
MAGENTO_SALES_ORDER = """
entity_id,increment_id,customer_id,customer_email,created_at,grand_total,base_grand_total,subtotal,total_qty_ordered,status
1,000000001,7,gil@example.com,2023-05-01 10:00:00,120.00,120.00,110.00,2,complete
2,000000002,,guest@example.com,2023-05-02 11:00:00,35.00,35.00,30.00,1,complete
3,000000003,7,gil@example.com,2023-06-11 09:30:00,64.90,64.90,59.90,3,complete
4,000000004,9,hal@example.com,2023-06-12 15:45:00,15.00,15.00,15.00,1,complete
"""

# A typical ERP export: a bare Id for the customer, order_date day-first with dots, Sales.
ERP_SALES = """
Id,order_date,Sales,Region
K-100,03.01.2024,250.00,North
K-100,17.02.2024,125.50,North
K-200,05.01.2024,980.00,South
K-300,28.03.2024,75.25,West
"""

# Two amount columns with the same standing: the loader must ask, not guess.
ERP_AMBIGUOUS = """
Account,Date,Sales,Revenue
A-1,2024-01-02,100.00,90.00
A-2,2024-01-03,50.00,45.00
"""

# A tiny shop: four customers, semicolon separated.
TINY_SHOP = """
Customer;Order Date;Total
c1;2024-01-10;12.00
c2;2024-01-11;30.00
c1;2024-02-10;15.00
c3;2024-02-15;8.50
c4;2024-03-01;22.00
c2;2024-03-05;18.00
"""


def no_returners() -> str:
    """60 customers, one purchase day each (some with two orders on that day): nobody comes back."""
    lines = ["Customer,Date,Sales"]
    start = dt.date(2024, 1, 1)
    for i in range(60):
        day = start + dt.timedelta(days=(i * 5) % 300)
        lines.append(f"N{i:03d},{day.isoformat()},{10 + (i * 7) % 90}.00")
        if i % 10 == 0:
            lines.append(f"N{i:03d},{day.isoformat()},5.00")
    return "\n".join(lines) + "\n"


def heavy_b2b() -> str:
    """Five years of daily B2B orders (2019-2023): three heavy buyers and 12 ordinary ones.

    H001 orders every weekday (Mon-Fri); H002 every day but Sunday; H003 every weekday except in August.
    Amounts are fixed patterns; the ordinary customers' days and amounts come from a seeded generator.
    """
    days = np.arange(np.datetime64("2019-01-01"), np.datetime64("2024-01-01"))
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday: Monday = 0
    month = days.astype("datetime64[M]").astype("int64") % 12 + 1
    rows: list[tuple[str, np.datetime64, float]] = []
    for i, d in enumerate(days[weekday < 5]):
        rows.append(("H001", d, 200.0 + 10 * (i % 7)))
    for i, d in enumerate(days[weekday < 6]):
        rows.append(("H002", d, 75.5 + (i % 3)))
    for i, d in enumerate(days[(weekday < 5) & (month != 8)]):
        rows.append(("H003", d, 1200.0 + 25 * (i % 4)))
    rng = np.random.default_rng(20240801)
    for c in range(12):
        n = int(rng.integers(1, 15))
        picks = np.sort(rng.choice(len(days), size=n, replace=False))
        for p in picks:
            rows.append((f"R{c:03d}", days[p], round(float(rng.uniform(20, 400)), 2)))
    rows.sort(key=lambda r: (r[1], r[0]))
    return "customer_id,date,amount\n" + "".join(f"{c},{d},{a:.2f}\n" for c, d, a in rows)


def workbook(path: Path) -> None:
    """An ERP workbook: 'Orders' (the data: real dates and Excel serial numbers, ids as text and as numbers),
    'Notes' (a remark: a second sheet with data, so the loader must be told which sheet), 'Empty'."""
    import openpyxl

    book = openpyxl.Workbook()
    orders = book.active
    orders.title = "Orders"
    orders.append(["Order ID", "Client", "Order Date", "Net Amount"])
    orders.append([1001, "00042", dt.datetime(2024, 1, 5, 10, 30), 120.5])
    orders.append([1002, 7, dt.datetime(2024, 1, 6), 80])
    orders.append([1003, "00042", 45352, 60.25])  # serial number: 2024-03-01
    orders.append([1004, 7, 45366, 40])  # 2024-03-15
    orders.append([1005, 815, dt.date(2024, 2, 1), 15.0])
    orders.append([])  # an empty row, skipped
    orders.append([1006, 815, 45383.5, 25])  # 2024-04-01 12:00
    for row in orders.iter_rows(min_row=2, min_col=3, max_col=3):
        for cell in row:
            if isinstance(cell.value, (dt.date, dt.datetime)):
                cell.number_format = "yyyy-mm-dd"
    notes = book.create_sheet("Notes")
    notes.append(["Exported from the ERP on 2024-04-02 by the finance team."])
    book.create_sheet("Empty")
    fixed = dt.datetime(2024, 4, 2, 0, 0, 0)
    book.properties.created = fixed
    book.properties.modified = fixed
    book.save(path)


def main(out: Path = HERE) -> None:
    """Write every corpus file into ``out`` (default: this folder)."""
    texts = {
        "uci_line_items.csv": UCI_LINE_ITEMS,
        "online_retail_ii_float_ids.csv": ONLINE_RETAIL_II_FLOAT_IDS,
        "guests.csv": GUESTS,
        "guests_only.csv": GUESTS_ONLY,
        "shopify_orders.csv": SHOPIFY_ORDERS,
        "woocommerce_orders.csv": WOOCOMMERCE_ORDERS,
        "magento_sales_order.csv": MAGENTO_SALES_ORDER,
        "erp_sales.csv": ERP_SALES,
        "erp_ambiguous.csv": ERP_AMBIGUOUS,
        "tiny_shop.csv": TINY_SHOP,
        "no_returners.csv": no_returners(),
        "heavy_b2b.csv": heavy_b2b(),
    }
    for name, text in texts.items():
        write(name, text, out)
    workbook(out / "erp_workbook.xlsx")


if __name__ == "__main__":
    main()
