"""Aggregate lifecycle curves: volume, revenue and profit per customer by relationship age.

Ages are periods of ``W`` (7 days), ``M`` (365.25 / 12 days) or ``Q`` (365.25 / 4 days) counted
from each customer's first purchase.  A month of 30.44 days holds 30 or 31 whole days, so raw
counts per age carry a ±3 % sawtooth (issue 9); every per-age value is therefore a **rate per
day** of that age bin times the nominal period length: ``sum over the bin / days in the bin x
period length``.  A customer buying every day shows exactly ``period length`` purchase days at
every age.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.data.sampling import sample_transactions
from clm_utils.errors import ModelError, ParameterError
from clm_utils.lifecycle.stages import _days

PERIOD_DAYS: dict[str, float] = {"W": 7.0, "M": 365.25 / 12.0, "Q": 365.25 / 4.0}


def profit_definition(margin: float = 1.0, cost_per_order: float = 0.0, acquisition_cost: float = 0.0) -> str:
    """One line saying what "profit" means for these cost settings (shown with the claims)."""
    if margin == 1.0 and cost_per_order == 0.0 and acquisition_cost == 0.0:
        return "profit = revenue (no costs given)"
    parts = [f"{margin:g} x revenue" if margin != 1.0 else "revenue"]
    if cost_per_order:
        parts.append(f"{cost_per_order:g} per purchase day")
    if acquisition_cost:
        parts.append(f"{acquisition_cost:g} acquisition cost at age 0")
    return "profit = " + " - ".join(parts)


def bin_days(n_ages: int, period_days: float) -> np.ndarray:
    """Whole days in each age bin: ``ceil((a + 1) L) - ceil(a L)`` for a = 0 .. n_ages - 1."""
    edges = np.ceil(np.arange(n_ages + 1) * period_days)
    return np.diff(edges)


@dataclass
class LifecycleCurves:
    """Mean volume / revenue / profit per customer by relationship age, with bootstrap bands.

    ``table`` (index ``age``): ``customers``, and for each of ``volume``, ``revenue``, ``profit``
    the mean (per period, normalised per day, see the module docstring) and its ``_lower`` /
    ``_upper`` percentile-bootstrap band.  ``boot`` holds the bootstrap replicates (n_boot x ages)
    per measure.  ``profit_definition`` says what profit means (``"profit = revenue (no costs
    given)"`` with the defaults).  The per-customer matrices (``per_customer``: ``volume``,
    ``revenue``, ``profit``, ``mask``; customers x ages) are kept for the claim tests, which
    split customers into a selection half and a test half.
    """

    table: pd.DataFrame
    boot: dict[str, np.ndarray]
    period: str
    basis: str
    alpha: float
    profit_definition: str = "profit = revenue (no costs given)"
    per_customer: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    n_boot: int = 200
    seed: int = 42
    note: str | None = None


def lifecycle_curves(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
    period: str = "M",
    margin: float = 1.0,
    cost_per_order: float = 0.0,
    acquisition_cost: float = 0.0,
    basis: str = "retained",
    lookahead: int = 3,
    max_age: int | None = None,
    min_customers: int = 30,
    n_boot: int = 200,
    alpha: float = 0.05,
    seed: int = 42,
    sample_above: int | None = None,
) -> LifecycleCurves:
    """Aggregate lifecycle curves: per-customer volume, revenue and profit by relationship age.

    Parameters
    ----------
    transactions
        ``customer_id``, ``date`` (datetime64), ``amount``; purchases on one day are one purchase
        day (:func:`clm_utils.summary.purchase_days`), rows after ``as_of`` are ignored.
    period
        Length of one age step: ``W``, ``M`` (default; a twelfth of a year) or ``Q``.
        Age 0 is the period starting with the first purchase.  Values are per-day rates of each
        age bin times the period length (no 30/31-day sawtooth).
    margin, cost_per_order, acquisition_cost
        profit = margin x revenue - cost_per_order x orders, minus the acquisition cost at age 0.
        With the defaults profit equals revenue (``profit_definition`` says so).
    basis
        ``"retained"`` (default): at each age a, the customers whose relationship is still going,
        i.e. who buy at least once in ages a .. a + ``lookahead`` (the whole window must lie
        before ``as_of``; a fixed look-ahead keeps the condition equally strict at every age,
        whereas "buys at a or later" would select ever-heavier buyers near the end of the data).
        This traces a living relationship, which is what the stage theory describes.
        ``"acquired"``: every acquired customer, churned ones counting zero (the cohort view).
    lookahead
        Periods of the look-ahead window of the retained basis (default 3).
    max_age, min_customers
        Ages are kept while at least ``min_customers`` customers are observed for the full
        period (and up to ``max_age`` if given).  Customers enter an age only if the whole period
        lies before ``as_of``.
    n_boot, seed
        Percentile bootstrap over customers (Poisson weights) for the bands; seeded.
    sample_above
        With more customers than this, the curves and their bands are computed on a seeded
        random sample of this many customers (:mod:`clm_utils.data.sampling`; None: the
        ``CLM_SAMPLE_ABOVE`` default, 200,000; 0: never); ``note`` then says so.  The bands
        of a sample cover the whole base's curve: the customers are an iid draw from it.

    Returns
    -------
    LifecycleCurves
    """
    if period not in PERIOD_DAYS:
        raise ParameterError("period must be 'W', 'M' or 'Q'", parameter="period")
    if basis not in ("retained", "acquired"):
        raise ParameterError("basis must be 'retained' or 'acquired'", parameter="basis")
    if n_boot < 20:
        raise ParameterError("n_boot must be at least 20", parameter="n_boot")
    if not 0 < alpha < 1:
        raise ParameterError("alpha must lie between 0 and 1", parameter="alpha")
    plen = PERIOD_DAYS[period]
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    transactions, note = sample_transactions(transactions, limit=sample_above, seed=seed)
    d = _days(transactions, as_of_ts)
    codes = d.code
    first_c = d.day[d.starts[:-1]]  # first purchase day of each customer (days are sorted within a customer)
    age = np.floor((d.day - first_c[codes]) / plen).astype(int)
    n_cust = len(d.ids)
    observed_ages = np.floor((np.floor(as_of_ts.value / 86_400e9 - first_c) + 1) / plen).astype(int)
    A = int(observed_ages.max())
    if max_age is not None:
        A = min(A, int(max_age) + 1)
    if A < 1:
        raise ModelError("the data span less than one full period", hint="use a shorter period or a later as_of")
    keep = age < A
    cell = codes[keep] * A + age[keep]  # (customer, age) cells, summed in order as np.add.at would
    vol = np.bincount(cell, minlength=n_cust * A).astype(float).reshape(n_cust, A)
    rev = np.bincount(cell, weights=d.amount[keep], minlength=n_cust * A).reshape(n_cust, A)
    ages = np.arange(A)
    mask = ages[None, :] < observed_ages[:, None]
    if basis == "retained":
        if lookahead < 0:
            raise ParameterError("lookahead must be >= 0", parameter="lookahead")
        bought = np.cumsum(np.concatenate([np.zeros((n_cust, 1)), (vol > 0)], axis=1), axis=1)
        hi = np.minimum(ages + lookahead, A - 1) + 1
        ahead = bought[:, hi] - bought[:, ages]
        mask &= (ages[None, :] + lookahead < observed_ages[:, None]) & (ahead > 0)
    per_day = plen / bin_days(A, plen)  # per-day normalisation, in units of one nominal period
    vol = vol * per_day
    rev = rev * per_day
    prof = margin * rev - cost_per_order * vol
    prof[:, 0] -= acquisition_cost
    counts = mask.sum(axis=0)
    good = counts >= min_customers
    if not good.any():
        raise ModelError("too few customers per age for lifecycle curves", hint="lower min_customers")
    A = int(np.argmin(good)) if not good.all() else A
    ages, mask, vol, rev, prof, counts = ages[:A], mask[:, :A], vol[:, :A], rev[:, :A], prof[:, :A], counts[:A]
    rng = np.random.default_rng(seed)
    table: dict[str, np.ndarray] = {"customers": counts}
    boot: dict[str, np.ndarray] = {}
    W = rng.poisson(1.0, size=(n_boot, n_cust)).astype(np.float64)
    Mw = mask.astype(np.float64)
    denom_b = W @ Mw
    for name, X in (("volume", vol), ("revenue", rev), ("profit", prof)):
        XM = X * mask
        mean = XM.sum(axis=0) / counts
        with np.errstate(invalid="ignore", divide="ignore"):
            bt = (W @ XM) / denom_b
        boot[name] = bt
        table[name] = mean
        table[f"{name}_lower"] = np.nanquantile(bt, alpha / 2, axis=0)
        table[f"{name}_upper"] = np.nanquantile(bt, 1 - alpha / 2, axis=0)
    out = pd.DataFrame(table, index=pd.Index(ages, name="age"))
    return LifecycleCurves(table=out, boot=boot, period=period, basis=basis, alpha=alpha,
                           profit_definition=profit_definition(margin, cost_per_order, acquisition_cost),
                           per_customer={"volume": vol, "revenue": rev, "profit": prof, "mask": mask},
                           n_boot=n_boot, seed=seed, note=note)


def plot_lifecycle_curves(curves: LifecycleCurves, axes: Any = None, currency: str = "USD") -> Any:
    """Two panels: volume and profit per customer by relationship age, with bootstrap bands."""
    import matplotlib.pyplot as plt

    t = curves.table
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    unit = {"W": "weeks", "M": "months", "Q": "quarters"}[curves.period]
    for ax, name, ylab in ((axes[0], "volume", "purchase days per customer"),
                           (axes[1], "profit", f"profit per customer ({currency})")):
        ax.plot(t.index, t[name], marker="o", ms=3, color="C0" if name == "volume" else "C2")
        ax.fill_between(t.index, t[f"{name}_lower"], t[f"{name}_upper"], alpha=0.2,
                        color="C0" if name == "volume" else "C2")
        ax.set_xlabel(f"relationship age ({unit} since first purchase)")
        ax.set_ylabel(ylab)
        ax.set_title(f"{name.capitalize()} per {curves.basis} customer, {int(100 * (1 - curves.alpha))}% band")
    return axes


BASES: tuple[str, ...] = ("retained", "acquired")


def lifecycle_curves_by_basis(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
    bases: tuple[str, ...] = BASES,
    lookahead: int = 3,
    **kwargs: Any,
) -> dict[str, LifecycleCurves]:
    """:func:`lifecycle_curves` on each basis with the same settings (the notebook compares them).

    ``lookahead`` applies to the retained basis only; ``kwargs`` go to every call (``period``,
    ``margin``, ``cost_per_order``, ``acquisition_cost``, ``n_boot``, ``seed``, ...).

    Returns
    -------
    dict basis -> :class:`LifecycleCurves`, in the order of ``bases``.
    """
    if not bases:
        raise ParameterError("bases must name at least one basis", parameter="bases", hint=f"use {BASES}")
    out: dict[str, LifecycleCurves] = {}
    for b in bases:
        extra: dict[str, Any] = {"lookahead": lookahead} if b == "retained" else {}
        out[b] = lifecycle_curves(transactions, as_of, basis=b, **extra, **kwargs)
    return out


def plot_lifecycle_curves_by_basis(curves: dict[str, LifecycleCurves], currency: str = "USD") -> Any:
    """One row of :func:`plot_lifecycle_curves` panels (volume, profit) per basis; returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(curves), 2, figsize=(12, 3.75 * len(curves)), squeeze=False)
    for row, c in zip(axes, curves.values()):
        plot_lifecycle_curves(c, axes=row, currency=currency)
    fig.tight_layout()
    return fig
