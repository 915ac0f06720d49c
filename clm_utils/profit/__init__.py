"""Costs and customer profitability (客户利润): revenue − cost of goods − cost to serve − acquisition.

The theory states its lifecycle stages and curve claims in terms of customer profit against what the firm
invests (docs/theory.md §3 and §5).  This package turns the optional cost inputs into profit per purchase day and per
customer, and writes down which costs were used (the *basis*), so that every report can say what "profit" means.

Cost inputs (all optional; with none of them, profit is revenue and the basis says so)
-------------------------------------------------------------------------------------
``cost`` column of the transactions
    Cost of goods sold (COGS) per transaction row, in currency units.
``margin``
    Gross-margin rate in (0, 1]: COGS = (1 − margin) × revenue.  Used only when there is no ``cost`` column
    (giving both is refused: the two would disagree).  1 (or None) means no cost of goods.
``cost_per_order``
    Cost to serve one order, charged once per purchase day (orders of one customer on one day are one
    purchase day, as everywhere in the suite: :func:`clm_utils.summary.purchase_days`).
``acquisition_cost``
    Cost to acquire a customer, charged once, on the first purchase day: a number for everyone, or a
    Series per customer id (e.g. a column of the ``--customers`` attribute file); customers missing
    from the Series are charged ``acquisition_default`` and counted in ``attrs["acquisition_missing"]``.
"""

from __future__ import annotations

from clm_utils.profit.costs import (
    COST,
    PROFIT_COLUMNS,
    CostInputs,
    customer_profitability,
    profit_basis,
    purchase_day_profit,
)

__all__ = ["COST", "PROFIT_COLUMNS", "CostInputs", "customer_profitability", "profit_basis", "purchase_day_profit"]
