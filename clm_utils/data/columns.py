"""Column mapping: the user's column names onto the canonical ones, by mapping or by common names.

Roles
-----
``customer_id``, ``date``, ``amount``
    Required (``amount`` may instead be computed as ``quantity`` × ``price``).
``quantity``, ``price``
    Optional.  ``price`` is a unit price: it is used only when there is no amount column.  A lone
    ``Price`` column with no quantity column is the amount.
``cost``
    Optional: the cost of goods sold (COGS) of the row, in currency units (:mod:`clm_utils.profit`).
    Parsed like ``quantity``; summed when order lines merge; netted with the amount in returns.
``order_id``
    Optional: an order, invoice or receipt number.  Line items of one order are summed into one
    transaction, order-level values written on the first line only (Shopify) are carried to the
    others, and UCI-style cancellations (``C`` prefix) are recognised.

Every other column of the file is kept (as text) until the duplicate check: an exact duplicate
must be identical in every column of the source file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

from clm_utils import config
from clm_utils.errors import DataError, ParameterError

CANONICAL = (config.CUSTOMER_ID, config.DATE, config.AMOUNT, config.QUANTITY)
#: A unit price column, used only to compute ``amount = quantity * price`` when no amount is given.
PRICE = "price"
#: An order / invoice number: line items of one order are summed into one transaction.
ORDER_ID = "order_id"
#: The cost of goods sold per row (optional; customer profitability, clm_utils.profit).
COST = "cost"
#: Every role a column can be mapped onto, in the order they are detected.
ROLES: tuple[str, ...] = (config.CUSTOMER_ID, config.DATE, config.AMOUNT, config.QUANTITY, PRICE, ORDER_ID, COST)
#: Prefix of a source column that is kept only for the duplicate check and whose own name is a role name.
SOURCE_PREFIX = "source:"

#: Names recognised without a mapping, compared after lower-casing and dropping everything but letters and
#: digits (``Customer ID``, ``customer_id`` and ``CustomerID`` are all ``customerid``).  Per role, tiers in order
#: of preference: the first tier with a match wins; two matches in one tier are ambiguous and stop the load.
#: Sources: the column headers of the Shopify orders export, WooCommerce order exports, Magento's
#: ``sales_order`` table and order grid, the UCI Online Retail I and II files, and common ERP/POS exports.
SYNONYM_TIERS: dict[str, tuple[tuple[str, ...], ...]] = {
    config.CUSTOMER_ID: (
        ("customerid", "customer", "custid", "customerno", "customernumber", "customercode", "customerkey",
         "customerref", "clientid", "client", "clientno", "clientnumber", "clientcode", "userid", "memberid",
         "membernumber", "memberno", "accountid", "account", "accountno", "accountnumber", "buyerid", "shopperid",
         "contactid", "debtorid", "debtorno", "partnerid", "cardnumber", "loyaltyid", "loyaltynumber"),
        # e-mail addresses: Shopify (Email), WooCommerce (Billing Email), Magento (customer_email)
        ("email", "customeremail", "billingemail", "emailaddress", "customeremailaddress", "buyeremail",
         "useremail", "contactemail"),
        # WooCommerce's user number is 0 for every guest order, so its e-mail column is preferred
        ("customeruser", "customeruserid"),
        ("id",),
    ),
    config.DATE: (
        ("date", "orderdate", "invoicedate", "transactiondate", "purchasedate", "txdate", "txndate", "datetime",
         "timestamp", "orderdatetime", "saledate", "salesdate", "createdat", "datecreated", "createddate",
         "creationdate", "orderplaced", "orderedat", "purchasedat", "documentdate", "postingdate", "bookingdate",
         "invoicedat", "orderdatecreated", "dateofpurchase", "transactiontime", "orderdatetimeutc"),
        ("paidat", "paiddate", "datepaid", "completeddate", "datecompleted", "completedat"),
    ),
    config.AMOUNT: (
        ("amount", "sales", "revenue", "value", "total", "totalamount", "dollarvalue", "spend", "ordervalue",
         "monetary", "netamount", "amountspent", "salesamount", "ordertotal", "totalprice", "grandtotal",
         "grandtotalpurchased", "totalsales", "salesvalue", "netsales", "netrevenue", "linetotal", "totalvalue",
         "invoiceamount", "invoicetotal", "invoicevalue", "orderamount", "turnover", "netvalue", "totalpaid",
         "amountpaid", "paidamount", "purchaseamount", "transactionamount"),
        ("subtotal", "ordersubtotal", "basegrandtotal", "grandtotalbase", "grossamount", "grosssales",
         "grossrevenue", "grossvalue"),
    ),
    config.QUANTITY: (
        ("quantity", "qty", "numberofcds", "units", "items", "nitems", "lineitemquantity", "quantityordered",
         "qtyordered", "totalqtyordered", "orderedquantity", "itemcount", "numberofitems", "unitssold",
         "qtysold", "quantitysold", "pieces"),
    ),
    PRICE: (
        ("price", "unitprice", "itemprice", "lineitemprice", "priceeach", "priceperunit", "saleprice",
         "salesprice", "sellingprice", "netprice", "unitnetprice"),
    ),
    ORDER_ID: (
        ("invoiceno", "invoice", "invoicenumber", "invoiceid", "orderid", "orderno", "ordernumber", "incrementid",
         "transactionid", "transactionno", "receiptno", "receiptnumber", "receiptid", "documentno",
         "documentnumber", "salesorder", "salesorderid", "salesorderno", "billno", "orderreference", "orderref"),
        ("id",),
    ),
    COST: (
        ("cost", "cogs", "costofgoods", "costofgoodssold", "linecost", "totalcost"),
    ),
}
#: Flat view of :data:`SYNONYM_TIERS`: every name recognised for a role.
SYNONYMS: dict[str, tuple[str, ...]] = {role: tuple(n for tier in tiers for n in tier)
                                        for role, tiers in SYNONYM_TIERS.items()}
#: A price column with one of these names is the amount itself when the file has no quantity column.
PRICE_AS_AMOUNT: tuple[str, ...] = ("price", "saleprice", "salesprice", "sellingprice")


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _is_shopify(columns: Sequence[str]) -> bool:
    """Shopify's orders export: ``Lineitem ...`` columns, and the order number in ``Name``."""
    return any(_norm(c).startswith("lineitem") for c in columns)


def parse_columns(spec: str | Mapping[str, str] | None) -> dict[str, str] | None:
    """Parse a column mapping given as a dict or as ``"a=b,c=d"`` text (the CLI form).

    Either direction is accepted: ``{"CustomerID": "customer_id"}`` (user's name to canonical)
    or ``{"customer_id": "CustomerID"}``.  The result always maps the user's name to the
    canonical name.
    """
    if spec is None or spec == "" or spec == {}:
        return None
    if isinstance(spec, str):
        pairs: dict[str, str] = {}
        for item in spec.split(","):
            if not item.strip():
                continue
            if "=" not in item and ":" not in item:
                raise ParameterError(f"cannot read {item!r} as name=name", parameter="columns",
                                     hint="write --columns customer_id=CustomerID,date=InvoiceDate,amount=Total")
            left, right = re.split(r"[=:]", item, maxsplit=1)
            pairs[left.strip()] = right.strip()
        spec = pairs
    if not isinstance(spec, Mapping):
        raise ParameterError("must be a mapping of column names", parameter="columns",
                             hint='use {"YourCustomerColumn": "customer_id", ...}')
    canonical = set(CANONICAL) | {PRICE, ORDER_ID, COST}
    mapping: dict[str, str] = {}
    for left, right in spec.items():
        left, right = str(left), str(right)
        if right in canonical and left not in canonical:
            mapping[left] = right
        elif left in canonical and right not in canonical:
            mapping[right] = left
        elif left in canonical and right in canonical:
            mapping[left] = right
        else:
            raise ParameterError(
                f"neither {left!r} nor {right!r} is one of {', '.join(sorted(canonical))}",
                parameter="columns", hint="map each of your columns onto customer_id, date, amount (or quantity, price, order_id, cost)",
            )
    targets = list(mapping.values())
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    if dupes:
        raise ParameterError(f"more than one column is mapped onto {dupes[0]!r}", parameter="columns",
                             hint="map exactly one of your columns onto each canonical name")
    return mapping


def detect_columns(available: Sequence[str], mapping: Mapping[str, str] | None = None,
                   label: str = "<data>") -> dict[str, str]:
    """Decide which column of the file plays which role.

    Parameters
    ----------
    available
        The file's column names, in file order.
    mapping
        The user's own mapping (user name -> role, as returned by :func:`parse_columns`); roles
        it names are not detected.
    label
        The file, for error messages.

    Returns
    -------
    dict
        Role -> the user's column name, for every role found.  ``amount`` is missing when it is to
        be computed from ``quantity`` and ``price``; a lone price column (no quantity) named like
        ``Price`` is returned as ``amount``.

    Raises
    ------
    DataError
        A mapped column is not in the file, two columns match one role equally well (the message
        asks for ``--columns``), or a required role has no column.
    """
    mapping = dict(mapping or {})
    available = list(available)
    for user_name in mapping:
        if user_name not in available:
            raise DataError(f"the mapped column {user_name!r} is not in the file", file=label, column=user_name,
                            hint=f"the file has the columns {', '.join(map(repr, available[:12]))}")
    found: dict[str, str] = {role: user for user, role in mapping.items()}
    used = set(mapping)
    shopify = _is_shopify(available)
    for role in ROLES:
        if role in found:
            continue
        free = [c for c in available if c not in used]
        tiers: list[tuple[str, ...]] = list(SYNONYM_TIERS[role])
        if role == ORDER_ID and shopify:
            tiers.insert(1, ("name",))  # Shopify writes the order number (#1001) in "Name"
        matches = [c for c in free if c == role]  # the canonical name itself
        for tier in ([] if matches else tiers):
            matches = [c for c in free if _norm(c) in tier]
            if matches:
                break
        if len(matches) > 1:
            raise DataError(
                f"the columns {', '.join(map(repr, matches))} could all be '{role}'", file=label,
                column=matches[0], hint=f"say which one with --columns {role}={matches[0]}",
            )
        if matches:
            found[role] = matches[0]
            used.add(matches[0])
    if config.AMOUNT not in found and PRICE in found and config.QUANTITY not in found \
            and _norm(found[PRICE]) in PRICE_AS_AMOUNT:
        found[config.AMOUNT] = found.pop(PRICE)  # a price with no quantity is what was paid
    missing = [c for c in config.REQUIRED_COLUMNS if c not in found
               and not (c == config.AMOUNT and config.QUANTITY in found and PRICE in found)]
    if missing:
        raise DataError(
            f"no column for {', '.join(map(repr, missing))}", file=label,
            hint=f"the file has {', '.join(map(repr, available[:12]))}; map them with "
            f"--columns {missing[0]}=<your column>",
        )
    return found


def map_columns(frame: pd.DataFrame, columns: Mapping[str, str] | str | None, label: str,
                *, keep_other: bool = False) -> pd.DataFrame:
    """Rename the user's columns to the canonical names, detecting them when no mapping is given.

    Parameters
    ----------
    frame
        The raw frame (see :func:`clm_utils.data.read_raw`).
    columns
        The user's mapping (dict or ``"a=b,c=d"``), or None to detect every role.
    label
        The file, for error messages.
    keep_other
        Also keep the columns that play no role, under their own names (prefixed with
        ``source:`` when the name is itself a role name), so that the duplicate check can
        compare every column of the source file.

    Raises
    ------
    DataError
        When a required column is missing, a mapped column does not exist, or two columns could
        both be the same canonical column.
    """
    found = detect_columns(list(frame.columns), parse_columns(columns), label)
    return apply_mapping(frame, found, keep_other=keep_other)


def apply_mapping(frame: pd.DataFrame, found: Mapping[str, str], *, keep_other: bool = False) -> pd.DataFrame:
    """Rename the columns of ``found`` (role -> user name) to their roles; see :func:`map_columns`."""
    keep = {user: role for role, user in found.items()}
    out = frame[list(keep)].rename(columns=keep)
    if not keep_other:
        return out
    reserved = set(ROLES) | {"_line"}
    other = [name for name in frame.columns if name not in keep]
    if not other:
        return out
    extra = frame[other].rename(columns={name: f"{SOURCE_PREFIX}{name}" for name in other
                                         if name in reserved or name.startswith(SOURCE_PREFIX)})
    return pd.concat([out, extra], axis=1)


def describe_mapping(found: Mapping[str, str]) -> str:
    """``customer_id <- 'Email', date <- 'Created at', ...`` for the data-quality table."""
    return ", ".join(f"{role} \u2190 {found[role]!r}" for role in ROLES if role in found)
