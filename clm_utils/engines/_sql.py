"""The cleaning policies and the BTYD summary as SQL, written once for DuckDB and Spark SQL.

The engines expose the input as a view ``clm_src`` with columns ``c0 .. c{n-1}`` (text as
VARCHAR, Parquet as its own types) plus ``_file`` and ``_row`` (file order, used to order a
customer's same-day rows when returns are netted).  The queries here reproduce
:func:`clm_utils.data.clean_transactions` and :func:`clm_utils.summary.summarize` /
:func:`~clm_utils.summary.calibration_holdout`:

1. parse and validate every row once (missing ids, unparseable dates, non-numeric amounts), leave
   out rows after the as-of date (:func:`stage1_query` counts them in one scan);
2. the one-pass path (:func:`fast_days_ctes`, DuckDB, files with customer/date/amount only): one
   group-by per (customer, day) that also finds the exact duplicates from the count, minimum and
   maximum of the day's amounts, then one per customer (:func:`lean_select`); customers with an
   ambiguous day or with returns to net are recomputed by the general path;
3. the general path (:func:`exact_days_ctes`, Spark and files with more columns): group identical
   (customer, day, amount[, quantity, other columns]) rows -- exact duplicates are dropped or
   kept --, zero and negative amounts by policy, returns netted (see below), then one group-by per
   (customer, day) and one per customer;
4. the summary columns are derived from the per-customer table (:func:`derived_select`).

Returns are netted with window functions instead of pandas' walk back through the history.  A
return takes from the most recent earlier purchases first, so a customer's purchases behave as
a stack: with ``S_t`` the running sum of the signed amounts in (day, file order), the stack
height after row ``t`` is ``H_t = S_t - min(0, min_{s<=t} S_s)`` (returns with nothing left to
take from are lost), and what is left of purchase ``i`` at the end is
``max(0, min_{t>=i} H_t - H_{i-1})``.  A return is "without an earlier purchase" when
``H_{t-1} = 0``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from clm_utils import config
from clm_utils.data import MAX_AMOUNT
from clm_utils.data.values import MISSING_ID_TEXT

BAD_ID_WORDS = MISSING_ID_TEXT
CURRENCY_PATTERN = r"[\s$€£¥₹₩₽¤]|[A-Za-z]{3}$|^[A-Za-z]{3}"
SLASH_PATTERN = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})"
WHITESPACE = " \t\r\n\x0b\x0c"


class Dialect:
    """SQL spelling of DuckDB; :class:`SparkDialect` overrides what Spark SQL spells differently."""

    name = "duckdb"
    text_type = "VARCHAR"

    def lit(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def trim(self, x: str) -> str:
        return f"trim({x}, {self.lit(WHITESPACE)})"

    def strip_chars(self, x: str, chars: str) -> str:
        return f"trim({x}, {self.lit(chars)})"

    def try_double(self, x: str) -> str:
        return f"TRY_CAST({x} AS DOUBLE)"

    def try_int(self, x: str) -> str:
        return f"TRY_CAST({x} AS INTEGER)"

    def replace_all(self, x: str, pattern: str, replacement: str) -> str:
        return f"regexp_replace({x}, {self.lit(pattern)}, {self.lit(replacement)}, 'g')"

    def extract(self, x: str, pattern: str, group: int) -> str:
        return f"regexp_extract({x}, {self.lit(pattern)}, {group})"

    def full_match(self, x: str, pattern: str) -> str:
        return f"regexp_full_match({x}, {self.lit(pattern)})"

    def strptime(self, x: str, fmt: str) -> str:
        return f"CAST(try_strptime({x}, {self.lit(fmt)}) AS DATE)"

    def iso_date(self, x: str) -> str:
        # time zone offsets are converted to UTC (the session time zone), then dropped
        return f"CAST(CAST(TRY_CAST({x} AS TIMESTAMPTZ) AS TIMESTAMP) AS DATE)"

    def native_date(self, x: str, kind: str) -> str:
        if kind == "timestamptz":
            return f"CAST(CAST({x} AS TIMESTAMP) AS DATE)"
        return f"CAST({x} AS DATE)"

    def days(self, start: str, end: str) -> str:
        return f"date_diff('day', {start}, {end})"


def _java_pattern(fmt: str) -> str:
    """strftime format to a Java DateTimeFormatter pattern (Spark)."""
    codes = {"Y": "yyyy", "y": "yy", "m": "M", "d": "d", "H": "H", "M": "m", "S": "s", "b": "MMM",
             "B": "MMMM", "I": "h", "p": "a", "f": "SSSSSS", "j": "D", "e": "d"}
    out, i, literal = [], 0, ""
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            if literal:
                out.append("'" + literal.replace("'", "''") + "'")
                literal = ""
            code = codes.get(fmt[i + 1], fmt[i + 1])
            adjacent = (i + 2 < len(fmt) and fmt[i + 2] == "%") or (i >= 2 and fmt[i - 2] == "%")
            if code in ("M", "d", "H", "m", "s", "h") and adjacent:
                code *= 2  # digits run together (YYYYMMDD): fixed widths
            out.append(code)
            i += 2
            continue
        literal += ch
        i += 1
    if literal:
        out.append("'" + literal.replace("'", "''") + "'")
    return "".join(out)


class SparkDialect(Dialect):
    """Spark SQL (3.5 and 4.x, ANSI mode on or off)."""

    name = "spark"
    text_type = "STRING"

    def lit(self, value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def trim(self, x: str) -> str:
        return f"trim(BOTH {self.lit(WHITESPACE)} FROM {x})"

    def strip_chars(self, x: str, chars: str) -> str:
        return f"trim(BOTH {self.lit(chars)} FROM {x})"

    def try_double(self, x: str) -> str:
        return f"try_cast({x} AS DOUBLE)"

    def try_int(self, x: str) -> str:
        return f"try_cast({x} AS INT)"

    def replace_all(self, x: str, pattern: str, replacement: str) -> str:
        return f"regexp_replace({x}, {self.lit(pattern)}, {self.lit(replacement)})"

    def full_match(self, x: str, pattern: str) -> str:
        return f"({x} RLIKE {self.lit('^' + pattern + '$')})"

    def strptime(self, x: str, fmt: str) -> str:
        return f"to_date(try_to_timestamp({x}, {self.lit(_java_pattern(fmt))}))"

    def iso_date(self, x: str) -> str:
        return f"to_date(try_cast({x} AS TIMESTAMP))"

    def native_date(self, x: str, kind: str) -> str:
        return f"to_date({x})"

    def days(self, start: str, end: str) -> str:
        return f"datediff({end}, {start})"


@dataclass
class Plan:
    """Everything the queries depend on besides the source view."""

    columns: dict[str, int]
    types: dict[str, str]
    date_rule: tuple[str, ...]
    as_of: str  # YYYY-MM-DD
    calibration_end: str | None
    unit_days: float
    negative: str = "net"
    zero: str = "drop"
    duplicates: str = "drop"
    decimal: str = "."
    other: tuple[int, ...] = ()
    #: Integer ids stay integers through the group-bys (cast to text once, per customer).
    native_id: bool = False
    #: Every id is a whole number written as a float (``17850.0``): drop the ``.0`` (as pandas).
    float_ids: bool = False
    #: Only the customers in this range of ids (a condition on the parsed ``customer_id``):
    #: large inputs are summarised one range of customers at a time (see
    #: :func:`bucket_conditions`).
    bucket: str | None = None


# --------------------------------------------------------------------------------------------
# Row-level expressions
# --------------------------------------------------------------------------------------------
def _col(plan: Plan, name: str) -> str:
    return f"c{plan.columns[name]}"


def number_expr(d: Dialect, x: str, kind: str, decimal: str) -> str:
    """An amount as DOUBLE, NULL when unreadable (mirrors :func:`clm_utils.data.parse_amount`)."""
    if kind in ("integer", "float"):
        return f"CAST({x} AS DOUBLE)"
    t = d.trim(f"CAST({x} AS {d.text_type})")
    negative = f"(starts_with({t}, '(') AND ends_with({t}, ')'))" if d.name == "duckdb" else \
        f"({t} LIKE '(%' AND {t} LIKE '%)')"
    messy = d.replace_all(d.strip_chars(t, "()"), CURRENCY_PATTERN, "")
    if decimal == ",":
        messy = f"replace(replace({messy}, '.', ''), ',', '.')"
    else:
        messy = f"replace({messy}, ',', '')"
    messy = f"replace({messy}, {d.lit(chr(0x2212))}, '-')"
    messy_value = d.try_double(f"NULLIF({messy}, '')")
    return (f"coalesce({d.try_double(t)}, CASE WHEN {negative} THEN -{messy_value} ELSE {messy_value} END)")


def id_expr(d: Dialect, plan: Plan) -> str:
    """Customer id as the pandas loader writes it: stripped text (integers stay integers with
    ``plan.native_id``; ``17850.0`` -> ``17850`` with ``plan.float_ids``)."""
    x = _col(plan, config.CUSTOMER_ID)
    kind = plan.types[config.CUSTOMER_ID]
    if kind == "integer":
        return x if plan.native_id else f"CAST({x} AS {d.text_type})"
    if kind == "float":
        # pandas writes str(17850.0) = '17850.0'; whole floats lose the '.0' only with float_ids
        whole = f"CAST(CAST({x} AS BIGINT) AS {d.text_type})"
        text = whole if plan.float_ids else f"concat({whole}, '.0')"
        return f"(CASE WHEN {x} IS NULL OR isnan({x}) THEN NULL ELSE {text} END)"
    text = d.trim(f"CAST({x} AS {d.text_type})") if kind != "string" else d.trim(x)
    if plan.float_ids:
        return d.replace_all(text, r"\.0+$", "")
    return text


def id_text(d: Dialect, plan: Plan, x: str = "customer_id") -> str:
    """The id column of the parsed rows as text (a no-op unless ids stay native integers)."""
    return f"CAST({x} AS {d.text_type})" if plan.native_id and plan.types[config.CUSTOMER_ID] == "integer" else x


def bad_id_cond(d: Dialect, plan: Plan, x: str = "customer_id") -> str:
    """Missing customer id (empty text or a missing-value word; NULL for numbers)."""
    if plan.types[config.CUSTOMER_ID] in ("integer", "float"):
        return f"({x} IS NULL)"
    words = ", ".join(d.lit(w) for w in BAD_ID_WORDS)
    return f"({x} IS NULL OR {x} = '' OR lower({x}) IN ({words}))"


def date_expr(d: Dialect, plan: Plan, slashed_format: str | None = None) -> str:
    """Date as DATE, NULL when unparseable (see :func:`plausible`) (mirrors :func:`clm_utils.data.parse_dates`)."""
    x = _col(plan, config.DATE)
    rule = plan.date_rule
    if rule[0] == "native":
        parsed = d.native_date(x, plan.types[config.DATE])
    else:
        t = d.trim(x)
        if rule[0] == "format":
            parsed = d.strptime(t, rule[1])
        elif rule[0] == "iso":
            parsed = d.iso_date(t)
        else:
            assert slashed_format is not None
            parsed = d.strptime(d.extract(t, r"^(\S+)", 1), slashed_format)
    return parsed


def plausible(x: str) -> str:
    """A parsed date, NULL outside 1900-01-01 .. 2199-12-31 (as :func:`clm_utils.data.parse_dates`)."""
    return f"(CASE WHEN {x} >= DATE '1900-01-01' AND {x} < DATE '2200-01-01' THEN {x} END)"


def slashed_query(d: Dialect, plan: Plan) -> str:
    """Over all rows: the largest first and second field and the year lengths of d/m/y dates."""
    t = d.trim(_col(plan, config.DATE))
    g = [d.try_int(d.extract(t, SLASH_PATTERN, i)) for i in (1, 2)]
    y = f"length({d.extract(t, SLASH_PATTERN, 3)})"
    return (f"SELECT max({g[0]}) AS first_max, max({g[1]}) AS second_max, "
            f"min(CASE WHEN {y} > 0 THEN {y} END) AS year_min, max({y}) AS year_max FROM clm_src")


def parsed_cte(d: Dialect, plan: Plan, slashed_format: str | None, with_order: bool, raw: str | None = None,
               raw_id: bool = False) -> str:
    """``parsed``: customer_id, d, amount, quantity [, _file, _row] and the three validity flags.

    Every value is parsed once (``parsed0``); the flags and the plausibility check of the date
    read the parsed columns.  Quantity is only parsed when it takes part in the duplicate check.
    """
    cid = id_expr(d, plan)
    day = date_expr(d, plan, slashed_format)
    if config.AMOUNT in plan.columns:
        amount = number_expr(d, _col(plan, config.AMOUNT), plan.types[config.AMOUNT], plan.decimal)
    else:
        qty_ = number_expr(d, _col(plan, config.QUANTITY), plan.types[config.QUANTITY], plan.decimal)
        price = number_expr(d, _col(plan, "price"), plan.types["price"], plan.decimal)
        amount = f"({qty_}) * ({price})"
    qty = (", " + number_expr(d, _col(plan, config.QUANTITY), plan.types[config.QUANTITY], plan.decimal)
           + " AS quantity") if config.QUANTITY in plan.columns else ""
    order = ", _file, _row" if with_order else ""
    if _price_compared(plan):
        price_text = d.trim(f"CAST({_col(plan, 'price')} AS {d.text_type})")
        order += f", {price_text} AS oprice"
    order += "".join(f", CAST(c{i} AS {d.text_type}) AS o{i}" for i in plan.other)
    if raw is not None:
        order += f", CAST({raw} AS {d.text_type}) AS raw_value"
    if raw_id:
        order += f", {_col(plan, config.CUSTOMER_ID)} AS raw_id"
    return f"""parsed0 AS (
  SELECT {cid} AS customer_id, {day} AS d0, {amount} AS amount{qty}{order} FROM clm_src
),
parsed AS (
  SELECT *, {plausible('d0')} AS d,
    {bad_id_cond(d, plan)} AS bad_id,
    ({plausible('d0')} IS NULL) AS bad_date,
    (amount IS NULL OR NOT (abs(amount) < {MAX_AMOUNT:.0f})) AS bad_amount
  FROM parsed0
)"""


def _others(plan: Plan) -> str:
    qty = ", quantity" if config.QUANTITY in plan.columns else ""
    price = ", oprice" if _price_compared(plan) else ""
    return qty + price + "".join(f", o{i}" for i in plan.other)


def _price_compared(plan: Plan) -> bool:
    """A price column next to an amount column is a column of the file: compared for duplicates."""
    return "price" in plan.columns and config.AMOUNT in plan.columns


def _valid(plan: Plan) -> str:
    bucket = f" AND {plan.bucket}" if plan.bucket else ""
    return f"NOT (bad_id OR bad_date OR bad_amount) AND d <= DATE '{plan.as_of}'{bucket}"


def bucket_conditions(bounds: list[str]) -> list[str | None]:
    """Conditions splitting the customers into ranges of ids at the SQL literals ``bounds`` (sorted).

    ``[]`` gives one bucket holding everyone (``[None]``); ``k - 1`` bounds give ``k`` buckets in
    id order, so the buckets' sorted summaries, one after the other, are sorted too.
    """
    if not bounds:
        return [None]
    conds = [f"customer_id < {bounds[0]}"]
    conds += [f"customer_id >= {lo} AND customer_id < {hi}" for lo, hi in itertools.pairwise(bounds)]
    conds.append(f"customer_id >= {bounds[-1]}")
    return conds


def stage1_query(d: Dialect, plan: Plan, slashed_format: str | None, float_check: str | None = None,
                 iso_check: bool = False) -> str:
    """One pass: row counts of the validity checks, and the customers that have returns.

    One row per customer with a negative amount (``neg_customer``) plus one row (NULL) for
    everyone else; sum the count columns over all rows.  ``float_check`` (``"float"`` or
    ``"string"``): also count the present ids and those that are whole numbers written as floats
    (``n_id``, ``n_id_float``).  ``iso_check``: count the non-blank dates that are not ISO 8601
    (``n_non_iso``).
    """
    extra = ""
    if float_check:
        present = f"NOT {bad_id_cond(d, plan)}"
        if float_check == "float":
            whole = "(raw_id = floor(raw_id) AND abs(raw_id) < 1e16)"
        else:
            whole = d.full_match("customer_id", r"-?\d+\.0+")
        extra += (f",\n  sum(CASE WHEN {present} THEN 1 ELSE 0 END) AS n_id,"
                  f"\n  sum(CASE WHEN {present} AND {whole} THEN 1 ELSE 0 END) AS n_id_float")
    if iso_check:
        extra += f",\n  sum(CASE WHEN d0 IS NULL AND {d.trim('raw_value')} <> '' THEN 1 ELSE 0 END) AS n_non_iso"
    raw = _col(plan, config.DATE) if iso_check else None
    neg = f"CASE WHEN {_valid(plan)} AND amount < 0 THEN {id_text(d, plan)} END"
    return f"""WITH {parsed_cte(d, plan, slashed_format, False, raw=raw, raw_id=float_check == "float")}
SELECT {neg} AS neg_customer,
  count(*) AS n_read,
  sum(CASE WHEN bad_id THEN 1 ELSE 0 END) AS n_bad_id,
  sum(CASE WHEN bad_date THEN 1 ELSE 0 END) AS n_bad_date,
  sum(CASE WHEN bad_amount THEN 1 ELSE 0 END) AS n_bad_amount,
  sum(CASE WHEN NOT (bad_id OR bad_date OR bad_amount) AND d > DATE '{plan.as_of}' THEN 1 ELSE 0 END) AS n_after,
  sum(CASE WHEN {_valid(plan)} AND amount < 0 THEN 1 ELSE 0 END) AS n_negative,
  sum(CASE WHEN {_valid(plan)} AND amount = 0 THEN 1 ELSE 0 END) AS n_zero{extra}
FROM parsed
GROUP BY 1"""


def non_iso_query(d: Dialect, plan: Plan, limit: int) -> str:
    """Distinct non-blank date texts that are not ISO 8601 (at most ``limit``)."""
    t = d.trim("raw_value")
    return f"""WITH {parsed_cte(d, plan, None, False, raw=_col(plan, config.DATE))}
SELECT DISTINCT {t} AS value FROM parsed WHERE d0 IS NULL AND {t} <> '' LIMIT {int(limit)}"""


def duplicates_query(d: Dialect, plan: Plan, slashed_format: str | None) -> str:
    """Number of exact duplicate rows (only needed when ``duplicates='raise'``)."""
    return f"""WITH {parsed_cte(d, plan, slashed_format, False)}
SELECT coalesce(sum(n - 1), 0) AS n_dup FROM (
  SELECT count(*) AS n FROM parsed WHERE {_valid(plan)} GROUP BY customer_id, d, amount{_others(plan)}
) g"""


def _keep_condition(plan: Plan, netting: bool) -> str:
    keep = ["TRUE"]
    if plan.zero == "drop":
        keep.append("amount <> 0")
    if plan.negative == "drop":
        keep.append("amount >= 0")
    if netting:
        keep.append("amount > 1e-9")  # pandas' netting keeps positive amounts only, everywhere
    return " AND ".join(keep)


def _in_table(d: Dialect, plan: Plan, table: str, negate: bool = False) -> str:
    """``customer_id [NOT] IN (SELECT customer_id FROM table)``."""
    return f"customer_id {'NOT ' if negate else ''}IN (SELECT customer_id FROM {table})"


def exact_days_ctes(d: Dialect, plan: Plan, slashed_format: str | None, netting: bool,
                    only: str | None = None, positive_only: bool = False) -> list[str]:
    """CTEs ending in ``days`` (customer_id, d, amt, n_tx, c_dup, c_zero, c_neg, c_unm).

    The general path: identical rows grouped (customer, day, amount[, quantity, other columns]),
    then per (customer, day).  ``netting``: the customers in ``clm_neg`` go through the row-level
    netting path (window functions).  ``only``: restrict to the customers listed in that table.
    """
    dup_drop = plan.duplicates == "drop"
    w = "1" if dup_drop else "n"
    keep_cond = _keep_condition(plan, netting or positive_only)
    restrict = f"AND {_in_table(d, plan, only)}" if only else ""
    not_neg = f"AND {_in_table(d, plan, 'clm_neg', negate=True)}" if netting else ""
    ctes = [parsed_cte(d, plan, slashed_format, netting)]
    ctes.append(f"""grp AS (
  SELECT customer_id, d, amount, count(*) AS n FROM parsed WHERE {_valid(plan)} {not_neg} {restrict}
  GROUP BY customer_id, d, amount{_others(plan)}
)""")
    day_rows = f"""SELECT customer_id, d,
    sum(CASE WHEN {keep_cond} THEN amount * {w} END) AS amt,
    sum(CASE WHEN {keep_cond} THEN {w} ELSE 0 END) AS n_tx,
    sum(n - 1) AS c_dup,
    sum(CASE WHEN amount = 0 THEN {w} ELSE 0 END) AS c_zero,
    sum(CASE WHEN amount < 0 THEN {w} ELSE 0 END) AS c_neg,
    0 AS c_unm
  FROM grp GROUP BY customer_id, d"""
    if netting:
        order = "ORDER BY d, _file, _row"
        part = "PARTITION BY customer_id"
        zero_out = "AND amount <> 0" if plan.zero == "drop" else ""
        ctes.append(f"""nrows AS (
  SELECT customer_id, d, amount, _file, _row,
    row_number() OVER (PARTITION BY customer_id, d, amount{_others(plan)} {order.replace('d, ', '')}) > 1 AS is_dup
  FROM parsed WHERE {_valid(plan)} AND {_in_table(d, plan, 'clm_neg')} {restrict}
),
nkept AS (
  SELECT *, sum(amount) OVER ({part} {order} ROWS UNBOUNDED PRECEDING) AS s
  FROM nrows WHERE {'NOT is_dup' if dup_drop else 'TRUE'} {zero_out}
),
nheight AS (
  SELECT *, s - least(0.0, min(s) OVER ({part} {order} ROWS UNBOUNDED PRECEDING)) AS h FROM nkept
),
nleft AS (
  SELECT customer_id, d, amount,
    coalesce(lag(h) OVER ({part} {order}), 0.0) AS h_prev,
    min(h) OVER ({part} {order} ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS h_after
  FROM nheight
),
nfinal AS (
  SELECT customer_id, d, amount,
    CASE WHEN amount > 0 THEN greatest(0.0, h_after - h_prev) ELSE 0.0 END AS remaining,
    CASE WHEN amount < 0 AND h_prev <= 0 AND -amount > 1e-12 THEN 1 ELSE 0 END AS unmatched
  FROM nleft
)""")
        day_rows += f"""
  UNION ALL
  SELECT customer_id, d,
    sum(CASE WHEN amount > 0 AND remaining > 1e-9 THEN remaining END) AS amt,
    sum(CASE WHEN amount > 0 AND remaining > 1e-9 THEN 1 ELSE 0 END) AS n_tx,
    0 AS c_dup, 0 AS c_zero,
    sum(CASE WHEN amount < 0 THEN 1 ELSE 0 END) AS c_neg,
    sum(unmatched) AS c_unm
  FROM nfinal GROUP BY customer_id, d
  UNION ALL
  SELECT customer_id, CAST(NULL AS DATE) AS d, CAST(NULL AS DOUBLE) AS amt, 0 AS n_tx,
    sum(CASE WHEN is_dup THEN 1 ELSE 0 END) AS c_dup,
    sum(CASE WHEN amount = 0 AND {'NOT is_dup' if dup_drop else 'TRUE'} THEN 1 ELSE 0 END) AS c_zero,
    0 AS c_neg, 0 AS c_unm
  FROM nrows GROUP BY customer_id"""
    ctes.append(f"days AS (\n  {day_rows}\n)")
    return ctes


def fast_eligible(plan: Plan) -> bool:
    """The one-pass path applies: duplicates are identical (customer, day, amount) rows."""
    return config.QUANTITY not in plan.columns and not plan.other and not _price_compared(plan)


def fast_is_simple(plan: Plan, netting: bool, has_negative: bool, has_zero: bool) -> bool:
    """The one-pass path sees positive amounts only (see :func:`lean_select`)."""
    return not has_zero and (netting or not has_negative)


def fast_days_ctes(d: Dialect, plan: Plan, slashed_format: str | None, netting: bool, has_negative: bool,
                   has_zero: bool) -> list[str]:
    """CTEs ending in ``days`` -- one group-by per (customer, day), duplicates detected inside it.

    When the only columns are customer, date and amount, two rows are exact duplicates when they
    have the same customer, day and amount, so the duplicates of a (customer, day) group follow
    from the count, minimum and maximum of its amounts (per sign): ``n`` equal amounts are one
    amount and ``n - 1`` duplicates; two different amounts are two; three or more amounts that
    are not all equal may or may not hold duplicates -- such a day is marked ``amb`` and its
    customer is recomputed by the general path (:func:`exact_days_ctes`).  Customers with
    returns to net (``clm_neg``) are left out here and go through the general path as well.
    """
    dup_drop = plan.duplicates == "drop"
    not_neg = f"AND {_in_table(d, plan, 'clm_neg', negate=True)}" if netting else ""
    classes = [("p", "amount > 0")]
    if has_negative and not netting:
        classes.append(("n", "amount < 0"))
    simple = len(classes) == 1 and not has_zero  # every valid row has a positive amount
    aggs, amb = [], []
    for name, cond in classes:
        if simple:
            aggs.append(f"count(*) AS n_{name}, sum(amount) AS s_{name}, min(amount) AS lo_{name}, "
                        f"max(amount) AS hi_{name}")
        else:
            aggs.append(f"count(CASE WHEN {cond} THEN 1 END) AS n_{name}, sum(CASE WHEN {cond} THEN amount END) "
                        f"AS s_{name}, min(CASE WHEN {cond} THEN amount END) AS lo_{name}, "
                        f"max(CASE WHEN {cond} THEN amount END) AS hi_{name}")
        amb.append(f"(n_{name} > 2 AND lo_{name} < hi_{name})")
    if has_zero:
        aggs.append("count(CASE WHEN amount = 0 THEN 1 END) AS n_z")
    ctes = [parsed_cte(d, plan, slashed_format, False)]
    ctes.append(f"""dayagg AS (
  SELECT customer_id, d, {', '.join(aggs)}
  FROM parsed WHERE {_valid(plan)} {not_neg}
  GROUP BY customer_id, d
)""")

    def distinct(name: str) -> tuple[str, str]:
        """(number of distinct amounts, their sum) of a sign class, exact unless ambiguous."""
        n, lo, hi, s_ = f"n_{name}", f"lo_{name}", f"hi_{name}", f"s_{name}"
        return (f"(CASE WHEN {n} = 0 THEN 0 WHEN {lo} = {hi} THEN 1 ELSE {n} END)",
                f"(CASE WHEN {n} = 0 THEN 0.0 WHEN {lo} = {hi} THEN {lo} ELSE {s_} END)")

    kept_n, kept_s, dups = [], [], []
    for name, _ in classes:
        k, sm = distinct(name)
        dups.append(f"n_{name} - {k}")
        if name == "n" and plan.negative == "drop":
            continue
        kept_n.append(k if dup_drop else f"n_{name}")
        kept_s.append(sm if dup_drop else f"coalesce(s_{name}, 0.0)")
    zero_kept = "0"
    c_zero = "0"
    if has_zero:
        dups.append("greatest(n_z - 1, 0)")
        c_zero = "least(n_z, 1)" if dup_drop else "n_z"
        if plan.zero == "keep" and not netting:  # netting keeps positive amounts only, everywhere
            zero_kept = c_zero
    c_neg = "0"
    if len(classes) > 1:
        c_neg = distinct("n")[0] if dup_drop else "n_n"
    n_tx = " + ".join(kept_n + [zero_kept])
    if simple:  # n_p >= 1 on every day
        n_tx = "1" if dup_drop else "n_p"
        kept_s = ["CASE WHEN lo_p = hi_p THEN lo_p ELSE s_p END" if dup_drop else "s_p"]
        dups = ["CASE WHEN lo_p = hi_p THEN n_p - 1 ELSE 0 END"]
        if dup_drop:
            n_tx = "CASE WHEN lo_p = hi_p THEN 1 ELSE n_p END"
    ctes.append(f"""days AS (
  SELECT customer_id, d,
    CASE WHEN {n_tx} > 0 THEN {' + '.join(kept_s)} END AS amt,
    {n_tx} AS n_tx,
    {' + '.join(dups)} AS c_dup,
    {c_zero} AS c_zero, {c_neg} AS c_neg, 0 AS c_unm,
    ({' OR '.join(amb)}) AS amb
  FROM dayagg
)""")
    return ctes


#: Per-customer columns of the lean table (before the summary columns are derived).
LEAN_COLUMNS = ("customer_id", "first_purchase", "last_purchase", "last_any", "n_purchase_days", "n_transactions",
                "total_amount", "first_amount", "frequency_holdout", "holdout_total", "c_kept", "c_dup", "c_zero",
                "c_neg", "c_unm")


def lean_select(d: Dialect, plan: Plan, amb: bool = False, simple: bool = False) -> str:
    """SELECT of one row per customer from ``days`` (the :data:`LEAN_COLUMNS`, plus ``amb``).

    ``simple``: every day in ``days`` is a purchase day and the zero / negative / unmatched
    counts are 0 (the one-pass path on a file without zero or negative amounts), so the
    aggregates need no conditions.
    """
    cal = plan.calibration_end

    def when(*conds: str | None) -> str | None:
        parts = [c for c in conds if c]
        return " AND ".join(parts) if parts else None

    def agg(fn: str, value: str, cond: str | None, other: str = "") -> str:
        if cond is None:
            return f"{fn}({value})"
        return f"{fn}(CASE WHEN {cond} THEN {value}{' ELSE ' + other if other else ''} END)"

    buy = None if simple else "n_tx > 0"
    in_cal = when(buy, f"d <= DATE '{cal}'" if cal else None)
    if cal:
        in_hold = when(buy, f"d > DATE '{cal}'")
        hold = (f"\n    CAST({agg('sum', '1', in_hold, '0')} AS INTEGER) AS frequency_holdout,"
                f"\n    {agg('sum', 'amt', in_hold, '0.0')} AS holdout_total,")
    else:
        hold = "\n    CAST(0 AS INTEGER) AS frequency_holdout, 0.0 AS holdout_total,"
    if simple:
        first_amount = "min_by(amt, d)"
        counts = "CAST(0 AS INTEGER) AS c_zero, CAST(0 AS INTEGER) AS c_neg, CAST(0 AS INTEGER) AS c_unm"
    else:
        first_amount = f"min_by(CASE WHEN {buy} THEN amt END, CASE WHEN {buy} THEN d END)"
        counts = ("CAST(sum(c_zero) AS INTEGER) AS c_zero, CAST(sum(c_neg) AS INTEGER) AS c_neg,\n"
                  "    CAST(sum(c_unm) AS INTEGER) AS c_unm")
    n_days = agg("sum", "1", in_cal, "0") if in_cal else "count(*)"
    amb_col = ",\n    bool_or(amb) AS amb" if amb else ""
    return f"""SELECT customer_id,
    {agg('min', 'd', buy)} AS first_purchase,
    {agg('max', 'd', in_cal)} AS last_purchase,
    {agg('max', 'd', buy)} AS last_any,
    CAST({n_days} AS INTEGER) AS n_purchase_days,
    CAST({agg('sum', 'n_tx', in_cal, '0')} AS INTEGER) AS n_transactions,
    {agg('sum', 'amt', in_cal)} AS total_amount,
    {first_amount} AS first_amount,{hold}
    CAST(sum(n_tx) AS INTEGER) AS c_kept, CAST(sum(c_dup) AS INTEGER) AS c_dup,
    {counts}{amb_col}
  FROM days GROUP BY customer_id"""


def derived_select(d: Dialect, plan: Plan, table: str) -> str:
    """The wide table (summary columns + :data:`COUNT_COLUMNS`) from a lean table."""
    cal = plan.calibration_end or plan.as_of
    unit = f"CAST({float(plan.unit_days)!r} AS DOUBLE)"
    hold = ""
    if plan.calibration_end:
        hold = f""",
  CAST(frequency_holdout AS BIGINT) AS frequency_holdout,
  CASE WHEN frequency_holdout > 0 THEN holdout_total / frequency_holdout ELSE 0.0 END AS monetary_value_holdout,
  CAST({d.days(f"DATE '{cal}'", f"DATE '{plan.as_of}'")} AS DOUBLE) / {unit} AS duration_holdout"""
    return f"""SELECT {id_text(d, plan)} AS customer_id, customer_id AS sort_key,
  CAST(n_purchase_days - 1 AS BIGINT) AS frequency,
  CAST({d.days('first_purchase', 'last_purchase')} AS DOUBLE) / {unit} AS recency,
  CAST({d.days('first_purchase', f"DATE '{cal}'")} AS DOUBLE) / {unit} AS T,
  CASE WHEN n_purchase_days > 1 THEN (total_amount - first_amount) / (n_purchase_days - 1) ELSE 0.0 END
    AS monetary_value,
  CAST(n_transactions AS BIGINT) AS n_transactions,
  CAST(n_purchase_days AS BIGINT) AS n_purchase_days,
  total_amount, first_amount, first_purchase, last_purchase{hold},
  first_purchase <= DATE '{cal}' AS in_summary, last_any,
  CAST(c_kept AS BIGINT) AS c_kept, CAST(c_dup AS BIGINT) AS c_dup, CAST(c_zero AS BIGINT) AS c_zero,
  CAST(c_neg AS BIGINT) AS c_neg, CAST(c_unm AS BIGINT) AS c_unm
FROM {table}"""


def summary_query(d: Dialect, plan: Plan, slashed_format: str | None, netting: bool) -> str:
    """The wide per-customer table by the general path: summary columns plus per-customer counts.

    ``netting`` is True when returns are netted and some exist; then the customers listed in the
    table ``clm_neg(customer_id)`` go through the row-level netting path, everyone else through
    the grouped path.
    """
    ctes = exact_days_ctes(d, plan, slashed_format, netting)
    ctes.append(f"cust AS (\n  {lean_select(d, plan)}\n)")
    return "WITH " + ",\n".join(ctes) + "\n" + derived_select(d, plan, "cust")


#: Columns of the wide table that are not part of the summary.
COUNT_COLUMNS = ("in_summary", "last_any", "c_kept", "c_dup", "c_zero", "c_neg", "c_unm")


def totals_query(table: str) -> str:
    """Totals of the wide table: the counts of the quality table and the date range."""
    return f"""SELECT sum(c_kept) AS kept, sum(c_dup) AS dup, sum(c_zero) AS zero, sum(c_neg) AS neg,
  sum(c_unm) AS unmatched, sum(CASE WHEN c_kept > 0 THEN 1 ELSE 0 END) AS customers,
  min(first_purchase) AS first_date, max(last_any) AS last_date,
  sum(CASE WHEN in_summary THEN 1 ELSE 0 END) AS n_summary FROM {table}"""
