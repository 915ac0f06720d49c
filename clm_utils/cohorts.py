"""The customer base over time: activity per period, acquisition cohorts, cohort retention.

These descriptive tables open every analysis (notebook 00), and the cohort retention table is
also the input of the contractual retention (sBG) view in survival analysis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clm_utils import config
from clm_utils.errors import ParameterError
from clm_utils.plots import money, new_axes
from clm_utils.summary import purchase_days

PERIODS = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}


def period_name(freq: str) -> str:
    """``"month"`` for ``M`` and so on; a ParameterError for anything else."""
    if freq not in PERIODS:
        raise ParameterError(f"{freq!r} is not a calendar period", parameter="period",
                             hint=f"use one of {', '.join(PERIODS)}")
    return PERIODS[freq]


def _period(dates: pd.Series, freq: str) -> pd.Series:
    period_name(freq)
    return dates.dt.to_period(freq)


def activity_by_period(transactions: pd.DataFrame, freq: str = "M") -> pd.DataFrame:
    """Transactions, purchase days, active customers, new customers and revenue per calendar period.

    Parameters
    ----------
    transactions
        Canonical frame: ``customer_id``, ``date``, ``amount``.
    freq
        ``D``, ``W``, ``M`` (default), ``Q`` or ``Y``.

    Returns
    -------
    DataFrame
        Indexed by period (every period between the first and last date, gaps filled with 0):
        ``transactions``, ``active_customers``, ``new_customers``, ``revenue``,
        ``revenue_per_active``.
    """
    period = _period(transactions[config.DATE], freq)
    tx = transactions.assign(period=period)
    first = transactions.groupby(config.CUSTOMER_ID, observed=True)[config.DATE].min()
    new = _period(first, freq).value_counts()
    g = tx.groupby("period", observed=True)
    out = pd.DataFrame({
        "transactions": g.size(),
        "active_customers": g[config.CUSTOMER_ID].nunique(),
        "revenue": g[config.AMOUNT].sum(),
    })
    full = pd.period_range(period.min(), period.max(), freq=freq)
    out = out.reindex(full, fill_value=0)
    out["new_customers"] = new.reindex(full, fill_value=0).to_numpy()
    out["revenue_per_active"] = np.where(out["active_customers"] > 0,
                                         out["revenue"] / out["active_customers"].clip(lower=1), 0.0)
    out.index.name = "period"
    return out[["transactions", "active_customers", "new_customers", "revenue", "revenue_per_active"]]


def cohort_retention(transactions: pd.DataFrame, freq: str = "M", share: bool = True) -> pd.DataFrame:
    """Acquisition-cohort retention: who of each cohort buys again k periods after acquisition.

    A customer's cohort is the period of the first purchase.  Cell (cohort, k) counts the cohort's
    customers with at least one purchase in period ``cohort + k``; column 0 is the cohort size.

    Parameters
    ----------
    transactions
        Canonical frame: ``customer_id``, ``date``, ``amount``.
    freq
        Period length: ``W``, ``M`` (default), ``Q`` or ``Y``.
    share
        True: divide by the cohort size (so column 0 is 1.0); False: counts.

    Returns
    -------
    DataFrame
        Index: cohort (Period); columns: periods since acquisition 0, 1, ...; cells that lie after
        the end of the data are NaN (not observed), not 0.
    """
    period = _period(transactions[config.DATE], freq)
    tx = pd.DataFrame({config.CUSTOMER_ID: transactions[config.CUSTOMER_ID], "period": period})
    tx = tx.drop_duplicates()
    ordinal = pd.Series(tx["period"].array.asi8, index=tx.index)  # period numbers: vectorised arithmetic
    cohort_ord = ordinal.groupby(tx[config.CUSTOMER_ID], observed=True).transform("min")
    frame = pd.DataFrame({"cohort": cohort_ord, "age": ordinal - cohort_ord})
    counts = frame.groupby(["cohort", "age"], observed=True).size().unstack("age", fill_value=0).sort_index()
    last = int(ordinal.max())
    # mask cells not yet observed: cohort + age > last period
    ages = np.asarray(counts.columns)
    horizon = last - counts.index.to_numpy()
    counts.index = pd.PeriodIndex.from_ordinals(counts.index.to_numpy(), freq=freq)
    counts = counts.astype("float64").where(ages[None, :] <= horizon[:, None])
    if share:
        counts = counts.div(counts[0], axis=0)
    counts.index.name = "cohort"
    counts.columns.name = f"{PERIODS[freq]}s since first purchase"
    return counts


def inter_purchase_times(transactions: pd.DataFrame, time_unit: str = "D") -> pd.Series:
    """Times between consecutive purchase days of the same customer (same-day purchases merged).

    Returns a float Series in ``time_unit``; customers with one purchase day contribute nothing.
    """
    days = purchase_days(transactions)
    gap = days[config.DATE].diff().dt.days
    same = days[config.CUSTOMER_ID].eq(days[config.CUSTOMER_ID].shift())
    return (gap[same] / config.unit_days(time_unit)).rename("inter_purchase_time").reset_index(drop=True)


def plot_activity(activity: pd.DataFrame, currency: str = "USD", freq_name: str = "month") -> Axes:
    """Revenue (bars) and active / new customers (lines) per period."""
    ax = new_axes(f"Revenue and active customers per {freq_name}", freq_name.capitalize(), f"Revenue ({currency})",
                  figsize=(10, 4.5))
    x = np.arange(len(activity))
    ax.bar(x, activity["revenue"], color="#9ecae1", label="revenue")
    money(ax, "y", currency)
    ax2 = ax.twinx()
    ax2.plot(x, activity["active_customers"], color="#08519c", marker="o", ms=3, label="active customers")
    ax2.plot(x, activity["new_customers"], color="#e6550d", marker="s", ms=3, label="new customers")
    ax2.set_ylabel("Customers (count)")
    ax2.grid(False)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], [str(p) for p in activity.index[::step]], rotation=45, ha="right")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right")
    return ax


def plot_new_customers(activity: pd.DataFrame, freq_name: str = "month") -> Axes:
    """Bars of newly acquired customers per period (the acquisition cohorts); periods with none are left out.

    ``activity`` is :func:`activity_by_period` (column ``new_customers``, index: periods).
    """
    ax = new_axes(f"New customers per {freq_name} (acquisition cohorts)", f"Cohort ({freq_name} of first purchase)",
                  "New customers (count)")
    new = activity["new_customers"][activity["new_customers"] > 0]
    ax.bar([str(p) for p in new.index], new.to_numpy(), color="#31a354")
    ax.tick_params(axis="x", rotation=45)
    return ax


def plot_cohort_retention(retention: pd.DataFrame, max_age: int = 18) -> Axes:
    """Heatmap of cohort retention shares (cohort × periods since first purchase)."""
    import seaborn as sns

    data = retention.iloc[:, : max_age + 1]
    ax = new_axes("Cohort retention: share of each acquisition cohort buying again",
                  str(retention.columns.name), "Acquisition cohort", figsize=(11, 0.35 * len(data) + 2))
    sns.heatmap(data * 100, ax=ax, cmap="Blues", annot=len(data) <= 24 and data.shape[1] <= 20, fmt=".0f",
                cbar_kws={"label": "customers active (%)"}, vmin=0, vmax=max(5.0, float(np.nanmax(data.iloc[:, 1:].to_numpy()) * 100) if data.shape[1] > 1 else 100))
    ax.set_yticklabels([str(c) for c in data.index], rotation=0)
    ax.set_xlabel(str(retention.columns.name))
    ax.set_ylabel("Acquisition cohort (period of first purchase)")
    return ax


def base_facts(transactions: pd.DataFrame, summary: pd.DataFrame) -> pd.Series:
    """Key numbers of the customer base, for the top of a report.

    Parameters
    ----------
    transactions
        Canonical frame (``customer_id``, ``date``, ``amount``).
    summary
        The customer summary of the same transactions (:func:`clm_utils.summary.summarize`).
    """
    gaps = inter_purchase_times(transactions, "D")
    n = len(summary)
    return pd.Series({
        "customers": n,
        "transactions": len(transactions),
        "purchase days": int(summary["n_purchase_days"].sum()),
        "one-time buyers (%)": round(100 * float((summary["frequency"] == 0).mean()), 1),
        "revenue": round(float(transactions[config.AMOUNT].sum()), 2),
        "revenue per customer": round(float(transactions[config.AMOUNT].sum()) / n, 2),
        "median days between purchases": float(gaps.median()) if len(gaps) else float("nan"),
        "first date": str(transactions[config.DATE].min().date()),
        "last date": str(transactions[config.DATE].max().date()),
    }, name="value", dtype="object")


def plot_purchase_distribution(summary: pd.DataFrame, cap: int = 15) -> Axes:
    """Customers by number of purchase days (the last bar collects ``cap`` and more)."""
    counts = summary["n_purchase_days"].clip(upper=cap).value_counts().sort_index()
    ax = new_axes("Purchases per customer", "Purchase days per customer (same-day purchases merged)",
                  "Customers (count)")
    labels = [str(k) if k < cap else f"{cap}+" for k in counts.index]
    bars = ax.bar(labels, counts.to_numpy(), color="#3182bd")
    share = counts / counts.sum()
    for bar, s in zip(bars, share):
        if s >= 0.02:
            ax.annotate(f"{s:.0%}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        fontsize=8)
    return ax


def plot_inter_purchase(gaps: pd.Series, unit_name: str = "days", quantile: float = 0.99) -> Axes:
    """Histogram of inter-purchase times, with the median marked (the long tail is cut at a quantile)."""
    ax = new_axes("Time between consecutive purchases", f"Inter-purchase time ({unit_name})", "Purchase pairs (count)")
    if len(gaps) == 0:
        ax.text(0.5, 0.5, "no repeat purchases", transform=ax.transAxes, ha="center")
        return ax
    upper = float(gaps.quantile(quantile))
    ax.hist(gaps[gaps <= upper], bins=50, color="#6baed6")
    med = float(gaps.median())
    ax.axvline(med, color="#e6550d", ls="--", label=f"median {med:.0f} {unit_name}")
    ax.legend()
    return ax
