"""Did the last forecast hold?  The earlier run's predictions against what happened since.

For every customer scored at the earlier date, the earlier run's chosen transaction model
predicts the number of purchase days in the *elapsed* period (``date_2 - date_1``, in the run's
time unit) with ``model.conditional_expected_number_of_purchases_up_to_time(elapsed, summary)``;
that, times the expected spend per purchase (the earlier Gamma-Gamma model's conditional mean,
else the plain mean of the repeat purchases), is the expected revenue.  The earlier run's CLV
covers its own horizon (default 12 months, discounted, times the margin), which is usually not
the elapsed period: it is shown, not checked.

P(alive) is compared with "bought again" (at least one purchase day in the period).  A live
customer need not buy within a short period, so the share who bought should lie *below* the mean
P(alive) of a decile; a share above it means the model wrote customers off too early.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.periodic.migration import period_purchases


@dataclass
class ForecastCheck:
    """Predictions made at ``date_1`` against the outcome in ``(date_1, date_2]``.

    ``customers``: indexed by ``customer_id`` (every customer known at ``date_1``) with
    ``p_alive``, ``expected_purchases`` (elapsed period), ``expected_spend``, ``expected_revenue``,
    ``actual_purchases`` (purchase days), ``actual_revenue``, ``bought_again`` and ``clv`` (the
    earlier run's CLV over its own horizon).
    """

    date_1: pd.Timestamp
    date_2: pd.Timestamp
    elapsed: float
    unit_name: str
    model_name: str
    horizon: str
    customers: pd.DataFrame

    def totals(self) -> pd.DataFrame:
        """Forecast and actual totals with their error.

        Returns
        -------
        DataFrame indexed by ``measure`` (``purchase days``, ``revenue``): ``forecast``, ``actual``,
        ``error`` (actual - forecast), ``relative_error`` (error / forecast) and
        ``mean_absolute_error`` per customer.
        """
        c = self.customers
        rows = []
        for label, pred, act in (("purchase days", "expected_purchases", "actual_purchases"),
                                 ("revenue", "expected_revenue", "actual_revenue")):
            f, a = float(c[pred].sum()), float(c[act].sum())
            rows.append({"measure": label, "forecast": f, "actual": a, "error": a - f,
                         "relative_error": (a - f) / f if f else np.nan,
                         "mean_absolute_error": float((c[act] - c[pred]).abs().mean())})
        return pd.DataFrame(rows).set_index("measure")

    def by_decile(self, by: str = "expected_purchases") -> pd.DataFrame:
        """Prediction against outcome by decile of a prediction (10 = highest predictions).

        ``by`` is ``expected_purchases``, ``expected_revenue`` or ``p_alive``.  Deciles are ranks
        (ties broken by customer id), so each holds a tenth of the customers.

        Returns
        -------
        DataFrame indexed by ``decile``: ``customers``, ``predicted`` (mean of ``by``),
        ``actual`` (mean purchase days, revenue, or the share who bought again for ``p_alive``),
        ``predicted_total``, ``actual_total`` (sums; shares for ``p_alive``), ``ratio`` (actual / predicted).
        """
        actual = {"expected_purchases": "actual_purchases", "expected_revenue": "actual_revenue",
                  "p_alive": "bought_again"}[by]
        c = self.customers
        rank = c[by].rank(method="first")
        decile = np.ceil(rank / len(c) * 10).astype(int).clip(1, 10)
        g = pd.DataFrame({"p": c[by], "a": c[actual].astype(float), "d": decile}).groupby("d")
        out = pd.DataFrame({"customers": g.size(), "predicted": g["p"].mean(), "actual": g["a"].mean(),
                            "predicted_total": g["p"].sum(), "actual_total": g["a"].sum()})
        out["ratio"] = out["actual"] / out["predicted"].where(out["predicted"] > 0)
        out.index.name = "decile"
        return out

    def plot_calibration(self, axes: Any = None) -> Any:
        """Calibration plot: mean prediction against mean outcome per decile (purchases; P(alive))."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        period = f"{self.date_1.date()} → {self.date_2.date()}"
        for ax, by, xlabel, ylabel, title in (
            (axes[0], "expected_purchases", f"expected purchase days in {self.elapsed:.1f} {self.unit_name}",
             "actual purchase days (mean)", "Expected vs actual purchases, by decile"),
            (axes[1], "p_alive", f"P(alive) at {self.date_1.date()}", "share who bought again",
             "P(alive) vs bought again, by decile"),
        ):
            t = self.by_decile(by)
            top = float(max(t["predicted"].max(), t["actual"].max(), 1e-9)) * 1.05
            ax.plot([0, top], [0, top], color="0.6", ls="--", lw=1, label="perfect calibration")
            ax.plot(t["predicted"], t["actual"], "o-", label=f"deciles ({period})")
            ax.set_xlim(0, top)
            ax.set_ylim(0, top)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            ax.legend(loc="upper left", fontsize=8)
        return axes


def forecast_check(before: Any, transactions: pd.DataFrame, date_2: Any) -> ForecastCheck:
    """Check the forecast of an earlier run against the transactions up to ``date_2``.

    Parameters
    ----------
    before
        The earlier :class:`~clm_utils.analysis.Analysis` (its ``model``, ``spend_model``,
        ``summary``, ``customers``); raises ModelError when it has no transaction model.
    transactions
        Transactions up to at least ``date_2`` (``customer_id``, ``date``, ``amount``).
    date_2
        The later as-of date.
    """
    from clm_utils.errors import ParameterError

    before.require("clv")
    d1, d2 = before.observation_end, pd.Timestamp(date_2)
    if d2 <= d1:
        raise ParameterError(f"{d2.date()} is not after the earlier date {d1.date()}", parameter="date_2")
    summary = before.summary
    elapsed = (d2 - d1).days / config.unit_days(before.time_unit)
    expected = before.model.conditional_expected_number_of_purchases_up_to_time(elapsed, summary)
    spend_model = before.spend_model
    if spend_model is not None:
        spend = spend_model.conditional_expected_average_profit(summary)
    else:
        repeat = summary["frequency"] > 0
        mean = float(summary.loc[repeat, "monetary_value"].mean() if repeat.any() else summary["total_amount"].mean())
        spend = pd.Series(mean, index=summary.index)
    actual = period_purchases(transactions, d1, d2).reindex(summary.index)
    cust = before.customers.reindex(summary.index)
    table = pd.DataFrame({
        "p_alive": cust["p_alive"],
        "expected_purchases": expected.astype(float),
        "expected_spend": spend.astype(float),
        "expected_revenue": expected.astype(float) * spend.astype(float),
        "actual_purchases": actual["purchases"].fillna(0).astype("int64"),
        "actual_revenue": actual["revenue"].fillna(0.0),
        "clv": cust["clv"],
    }, index=summary.index)
    table.insert(6, "bought_again", table["actual_purchases"] > 0)
    table.index.name = config.CUSTOMER_ID
    return ForecastCheck(date_1=d1, date_2=d2, elapsed=float(elapsed), unit_name=before.unit_name,
                         model_name=str(before.chosen_model), horizon=before.settings.horizon, customers=table)
