"""One table per customer that joins every analysis, and the business summary built from it.

The summary notebook (06) answers the manager's question: *who are our customers, what are they
worth, where are they in the relationship, and what do we do about each group?*  It combines

* value: historical revenue, predicted CLV (the transaction model the CLV report chose, with
  Gamma-Gamma spend, :mod:`clm_utils.clv`) and the customer pyramid on CLV
  (:func:`clm_utils.rfm.customer_pyramid`);
* behaviour: the RFM segment (:mod:`clm_utils.rfm`);
* relationship: the lifecycle stage (:mod:`clm_utils.lifecycle`) and P(alive).

When the data cannot identify the BTYD model (for example nobody repeats), the CLV columns are
left out and :attr:`Scorecard.notes` says why; nothing is silently filled with NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clm_utils import config
from clm_utils.plots import money, new_axes


@dataclass
class Scorecard:
    """Per-customer table and what could not be computed.

    Attributes
    ----------
    table
        Indexed by ``customer_id``: ``revenue``, ``frequency``, ``segment``, ``stage``,
        ``p_alive``, ``expected_purchases``, ``clv``, ``pyramid`` (on CLV, or on revenue when
        there is no CLV).
    notes
        Plain-language notes on what was left out and why.
    horizon_label
        The CLV horizon, e.g. ``"12M"``.
    profit_basis
        What ``profit`` means in the run (``Analysis.profit_basis``, e.g. ``"profit = revenue (no costs given)"``).
    """

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    horizon_label: str = ""
    profit_basis: str = ""

    @property
    def has_clv(self) -> bool:
        """Whether predicted CLV is available."""
        return "clv" in self.table


def customer_scorecard(run: Any) -> Scorecard:
    """The per-customer table of the run's shared analysis, with its notes.

    Parameters
    ----------
    run
        A :class:`clm_utils.analysis.Analysis`.  Nothing is refitted: the segment, stage,
        P(alive), expected purchases and CLV are the ones every other report of the run shows,
        from the transaction model the CLV report chose.
    """
    table = run.customers.copy()
    notes = list(run.notes)
    if "clv" in table:
        notes.insert(0, run.model_caveat())
    else:
        notes.append(f"No CLV: {run.incomplete.get('clv', 'no transaction model on this data')}; "
                     "the pyramid uses historical revenue instead.")
    table.index.name = config.CUSTOMER_ID
    return Scorecard(table.sort_index(), notes, run.settings.horizon, str(getattr(run, "profit_basis", "")))


def key_metrics(card: Scorecard) -> pd.Series:
    """Headline numbers: base size, revenue concentration, profit, activity, and future value.

    With a ``profit`` column (revenue − COGS − cost to serve − acquisition, :mod:`clm_utils.profit`) the
    series also holds ``historical profit``, ``profit margin (%)`` (profit / revenue) and, when the card
    carries it, ``profit basis`` (the sentence saying what profit means, "profit = revenue" without costs).
    """
    t = card.table
    revenue = t["revenue"].to_numpy()
    order = np.sort(revenue)[::-1]
    top20 = order[: max(1, int(np.ceil(0.2 * len(order))))].sum() / order.sum()
    out: dict[str, object] = {
        "customers": len(t),
        "repeat buyers (%)": round(100 * float((t["frequency"] > 0).mean()), 1),
        "historical revenue": round(float(revenue.sum()), 2),
        "revenue share of top 20% (%)": round(100 * float(top20), 1),
        **profit_metrics(card),
        "customers in decline or terminated (%)": round(
            100 * float(t["stage"].astype("str").isin(["decline", "terminated"]).mean()), 1),
    }
    if card.has_clv:
        repeat = t["frequency"] > 0  # BG/NBD gives every one-time buyer P(alive) = 1: leave them out of the mean
        out["mean P(alive), repeat buyers"] = round(float(t.loc[repeat, "p_alive"].mean()), 3) if repeat.any() else None
        out[f"expected purchases, next {card.horizon_label}"] = round(float(t["expected_purchases"].sum()), 0)
        out[f"total CLV, next {card.horizon_label}"] = round(float(t["clv"].sum()), 2)
        top = t["clv"].sort_values(ascending=False)
        n20 = max(1, int(np.ceil(0.2 * len(top))))
        out["CLV share of top 20% (%)"] = round(100 * float(top.iloc[:n20].sum() / top.sum()), 1)
    return pd.Series(out, name="value", dtype="object")


def profit_metrics(card: Scorecard) -> dict[str, object]:
    """``historical profit``, ``profit margin (%)`` and ``profit basis`` of the card (empty without ``profit``)."""
    t = card.table
    if "profit" not in t:
        return {}
    profit, revenue = float(t["profit"].sum()), float(t["revenue"].sum())
    out: dict[str, object] = {"historical profit": round(profit, 2),
                              "profit margin (%)": round(100 * profit / revenue, 1) if revenue > 0 else None}
    if card.profit_basis:
        out["profit basis"] = card.profit_basis
    return out


def stage_grid(card: Scorecard) -> pd.DataFrame:
    """Every stage × pyramid-tier cell (:func:`clm_utils.lifecycle.stage_value_grid`), empty cells included."""
    from clm_utils import lifecycle

    t = card.table
    return lifecycle.stage_value_grid(t["stage"], t["pyramid"], t["revenue"], t["clv"] if card.has_clv else None)


def action_plan(card: Scorecard) -> pd.DataFrame:
    """Stage × pyramid tier: size, revenue, profit and CLV share, mean P(alive) of its repeat buyers, and the strategy.

    ``profit_share`` (with a ``profit`` column) is the cell's share of the base's total profit.

    Built on :func:`clm_utils.lifecycle.stage_value_grid`, so the strategies are those of the
    lifecycle notebook; empty cells are dropped and rows are sorted by CLV (or revenue) share.
    """
    t = card.table
    grid = stage_grid(card)
    grid = grid[grid["customers"] > 0].reset_index()
    if card.has_clv:
        rep = t[t["frequency"] > 0]  # one-time buyers have P(alive) = 1 under BG/NBD: not informative
        mean_pa = rep.groupby([rep["stage"].astype("str"), rep["pyramid"].astype("str")], observed=True)["p_alive"].mean()
        keys = pd.MultiIndex.from_arrays([grid["stage"].astype("str"), grid["tier"].astype("str")])
        grid["mean_p_alive_repeat"] = mean_pa.reindex(keys).to_numpy()
    if "profit" in t:  # each cell's share of the base's profit (NaN when the total is not positive)
        total = float(t["profit"].sum())
        cell = t.groupby([t["stage"].astype("str"), t["pyramid"].astype("str")], observed=True)["profit"].sum()
        keys = pd.MultiIndex.from_arrays([grid["stage"].astype("str"), grid["tier"].astype("str")])
        grid["profit_share"] = cell.reindex(keys, fill_value=0.0).to_numpy() / total if total > 0 else np.nan
    grid = grid.rename(columns={"tier": "pyramid"})
    sort_col = "clv_share" if card.has_clv else "revenue_share"
    return grid.sort_values([sort_col, "customers", "stage"], ascending=[False, False, True]).reset_index(drop=True)


def plot_value_by_stage(card: Scorecard, currency: str = "USD") -> Axes:
    """Revenue so far and predicted CLV per lifecycle stage (bars side by side)."""
    t = card.table
    by = t.groupby(t["stage"], observed=False)
    revenue = by["revenue"].sum()
    ax = new_axes("Value by lifecycle stage: realised revenue and predicted CLV", "Lifecycle stage",
                  f"Value ({currency})")
    x = np.arange(len(revenue))
    width = 0.4 if card.has_clv else 0.8
    ax.bar(x - (width / 2 if card.has_clv else 0), revenue.to_numpy(), width, label="revenue so far", color="#9ecae1")
    if card.has_clv:
        ax.bar(x + width / 2, by["clv"].sum().to_numpy(), width, label=f"predicted CLV, next {card.horizon_label}",
               color="#3182bd")
    ax.set_xticks(x, [str(s) for s in revenue.index])
    money(ax, "y", currency)
    ax.legend()
    return ax


def worth_saving(card: Scorecard, top_n: int = 10) -> pd.DataFrame:
    """Valuable customers at risk, by predicted CLV: the first names for a win-back call.

    At risk means a repeat buyer with P(alive) below 0.5; when the model gives everyone the same
    P(alive) (the NBD has no dropout), a repeat buyer in the *decline* or *terminated* stage.
    ``attrs["rule"]`` says which rule was used.  Returns the ``top_n`` rows with ``revenue``,
    ``frequency``, ``p_alive``, ``clv``, ``segment``, ``stage``, ``pyramid`` (empty without CLV).
    """
    cols = ["revenue", "frequency", "p_alive", "clv", "segment", "stage", "pyramid"]
    if not card.has_clv:
        out = pd.DataFrame(columns=cols)
        out.attrs["rule"] = "no CLV model on these data"
        return out
    t = card.table
    repeat = t["frequency"] > 0
    if t.loc[repeat, "p_alive"].nunique() > 1:
        risk, rule = t["p_alive"] < 0.5, "repeat buyers with P(alive) below 0.5"
    else:
        risk = t["stage"].astype(str).isin(["decline", "terminated"])
        rule = "repeat buyers in decline or terminated (the model gives everyone the same P(alive))"
    worth = t[repeat & risk].sort_values(["clv", "revenue"], ascending=False)[cols].head(top_n)
    worth.attrs["rule"] = rule
    return worth


def focus_groups(plan: pd.DataFrame, min_share: float = 0.02) -> pd.DataFrame:
    """Rows of :func:`action_plan` that hold at least ``min_share`` of the customers or of the value
    (``stage``, ``pyramid``, ``customers``, the value share, ``profit_share`` when the plan has it, ``strategy``)."""
    value_col = "clv_share" if "clv_share" in plan else "revenue_share"
    focus = plan[(plan["customer_share"] >= min_share) | (plan[value_col] >= min_share)]
    extra = ["profit_share"] if "profit_share" in plan and value_col != "profit_share" else []
    return focus[["stage", "pyramid", "customers", value_col, *extra, "strategy"]]
