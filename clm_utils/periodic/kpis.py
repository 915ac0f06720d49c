"""Headline KPIs of one run, and their change between two runs.

The five headline numbers of a run (stored in its ``run.json`` under ``kpis`` so the index page
never recomputes them) are read off the run's customer table and transactions:

=====================  ===========================================================================
``customers``          customers known at the as-of date (first purchase on or before it)
``active_customers``   customers whose activity class is ``active`` (no more than ``active_within``
                       of their own purchase gaps since the last purchase; :func:`clm_utils.rfm.activity_classes`)
``revenue``            revenue of the :data:`REVENUE_WINDOW` (3 months) up to and including the as-of date
``repeat_rate``        share of the customers with at least one repeat purchase day (``frequency > 0``)
``total_clv``          sum of the customers' CLV over the run's horizon (None when the data support no model)
``share_in_decline``   share of the customers whose lifecycle stage is ``decline`` (退化期)
=====================  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.data.values import labels_in

#: Window of the revenue KPI (calendar months up to the as-of date).
REVENUE_WINDOW = "3M"

#: KPI key -> (label, higher is better).
KPIS: dict[str, tuple[str, bool]] = {
    "customers": ("customers known", True),
    "active_customers": ("active customers", True),
    "revenue": ("revenue, last 3 months", True),
    "repeat_rate": ("repeat rate", True),
    "total_clv": ("total CLV", True),
    "share_in_decline": ("share in decline", False),
}
#: KPIs shown as shares and as money.
PERCENT_KPIS = ("repeat_rate", "share_in_decline")
MONEY_KPIS = ("revenue", "total_clv")


def window_start(as_of: Any, window: str = REVENUE_WINDOW) -> pd.Timestamp:
    """Start (exclusive) of a calendar window that ends at ``as_of``: ``as_of`` minus ``window``.

    ``window`` is ``"<n>D"``, ``"<n>W"``, ``"<n>M"``, ``"<n>Q"`` or ``"<n>Y"`` with a whole ``n``.
    Months are calendar months; an as-of date at a month end maps to a month end
    (1998-06-30 minus 3M is 1998-03-31).
    """
    from clm_utils.periodic.history import shift_date

    return shift_date(pd.Timestamp(as_of), window, -1)


def kpis_from_tables(customers: pd.DataFrame, transactions: pd.DataFrame, as_of: Any,
                     window: str = REVENUE_WINDOW) -> dict[str, float | None]:
    """The headline KPIs (see the module docstring) from a customer table and its transactions.

    Parameters
    ----------
    customers
        One row per customer (:attr:`clm_utils.analysis.Analysis.customers`): ``frequency`` and,
        when the data supported them, ``activity``, ``stage``, ``clv``.
    transactions
        ``customer_id``, ``date``, ``amount``.
    as_of
        The as-of date; transactions after it are ignored.
    """
    as_of = pd.Timestamp(as_of)
    n = len(customers)
    start = window_start(as_of, window)
    dates = transactions[config.DATE]
    in_window = (dates > start) & (dates <= as_of)
    out: dict[str, float | None] = {
        "customers": int(n),
        "active_customers": int((customers["activity"] == "active").sum()) if "activity" in customers else None,
        "revenue": float(transactions.loc[in_window, config.AMOUNT].sum()),
        "repeat_rate": float((customers["frequency"] > 0).mean()) if n else None,
        "total_clv": float(customers["clv"].sum()) if "clv" in customers else None,
        "share_in_decline": float(labels_in(customers["stage"], ("decline",)).mean())
        if "stage" in customers and n else None,
    }
    return out


def headline_kpis(run: Any) -> dict[str, float | None]:
    """The headline KPIs of an :class:`~clm_utils.analysis.Analysis` (see the module docstring)."""
    return kpis_from_tables(run.customers, run.transactions, run.observation_end)


def kpi_deltas(before: Mapping[str, float | None], after: Mapping[str, float | None]) -> pd.DataFrame:
    """KPI changes between two runs, with direction and size.

    Returns
    -------
    DataFrame indexed by the KPI label: ``before``, ``after``, ``change`` (after - before),
    ``relative_change`` (change / before; NaN when before is 0 or missing), ``direction``
    (``up``, ``down``, ``unchanged``) and ``reading`` (``better`` / ``worse`` / ``unchanged``:
    up is better except for the share in decline).
    """
    rows = []
    for key, (label, higher_better) in KPIS.items():
        b, a = before.get(key), after.get(key)
        b = np.nan if b is None else float(b)
        a = np.nan if a is None else float(a)
        change = a - b
        rel = change / b if np.isfinite(b) and b != 0 else np.nan
        if not np.isfinite(change):
            direction = reading = "–"
        elif abs(change) <= 1e-12 * max(abs(a), abs(b), 1.0):
            direction = reading = "unchanged"
        else:
            direction = "up" if change > 0 else "down"
            reading = "better" if (change > 0) == higher_better else "worse"
        rows.append({"kpi": label, "before": b, "after": a, "change": change, "relative_change": rel,
                     "direction": direction, "reading": reading})
    return pd.DataFrame(rows).set_index("kpi")


def kpi_table(deltas: pd.DataFrame, currency: str = "USD") -> pd.DataFrame:
    """:func:`kpi_deltas` as display text: each row in its own unit (counts, money, shares), arrows for the direction.

    Shares change in percentage points (``pp``); the relative change is a percentage of the earlier value.
    """
    from clm_utils.plots import currency_symbol

    symbol = currency_symbol(currency)
    kinds = {KPIS[k][0]: ("share" if k in PERCENT_KPIS else "money" if k in MONEY_KPIS else "count") for k in KPIS}

    def fmt(v: float, kind: str, signed: bool = False) -> str:
        if not np.isfinite(v):
            return "–"
        sign = ("+" if v > 0 else "-" if v < 0 else "±") if signed else ("-" if v < 0 else "")
        if kind == "share":
            return f"{sign}{abs(v) * 100:.1f} pp" if signed else f"{v:.1%}"
        if kind == "money":
            return f"{sign}{symbol}{abs(v):,.0f}"
        return f"{sign}{abs(v):,.0f}"

    arrows = {"up": "▲ up", "down": "▼ down", "unchanged": "= unchanged"}
    rows = []
    for label, r in deltas.iterrows():
        kind = kinds.get(str(label), "count")
        rel = r["relative_change"]
        rows.append({"kpi": label, "before": fmt(r["before"], kind), "after": fmt(r["after"], kind),
                     "change": fmt(r["change"], kind, signed=True),
                     "relative change": f"{rel:+.1%}" if np.isfinite(rel) else "–",
                     "direction": arrows.get(r["direction"], r["direction"]), "reading": r["reading"]})
    return pd.DataFrame(rows).set_index("kpi")
