"""Contractual retention of cohorts: the shifted-beta-geometric (sBG) model per cohort, fitted and projected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.errors import ModelError

__all__ = ["plot_sbg_cohorts", "sbg_cohorts"]


def sbg_cohorts(table: pd.DataFrame, fit_periods: int = 7, discount_rate: float = 0.10,
                periods_survived: int = 4) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit the shifted-beta-geometric model to each cohort of a survivor table and project it.

    Parameters
    ----------
    table
        Customers still active per period: rows are periods 0..n (row 0 = cohort size), one
        column per cohort (e.g. :func:`clm_utils.clv.fader_hardie_2007_example`).
    fit_periods
        Periods 0..fit_periods are used to fit; the rest are projected (a holdout check).
    discount_rate, periods_survived
        For the discounted expected residual lifetime (DERL) of a customer who has renewed
        ``periods_survived`` times; the rate is per period.

    Returns
    -------
    (summary, fits)
        One row per cohort (alpha, beta, retention rates, projected vs actual survival at the last
        period, DERL) and the fitted models by cohort.
    """
    from clm_utils.clv import ShiftedBetaGeo

    if table.shape[0] < 3:
        raise ModelError("a survivor table needs at least 3 periods", hint="give periods 0, 1, 2, ...")
    rows, fits = [], {}
    last = table.shape[0] - 1
    for cohort in table.columns:
        alive = table[cohort].to_numpy(dtype=float)
        model = ShiftedBetaGeo().fit(alive[: fit_periods + 1])
        fits[str(cohort)] = model
        rows.append({
            "cohort": str(cohort), **model.params_.round(4).to_dict(),
            "retention_rate_t1": float(model.retention_rate(1)),
            f"retention_rate_t{last}": float(model.retention_rate(last)),
            "projected_last": float(model.survival_function(last)),
            "actual_last": float(alive[-1] / alive[0]),
            f"DERL(d={discount_rate:g}, n={periods_survived})":
                float(model.discounted_expected_residual_lifetime(discount_rate, periods_survived=periods_survived)),
        })
    return pd.DataFrame(rows).set_index("cohort"), fits


def plot_sbg_cohorts(table: pd.DataFrame, fits: Mapping[str, Any], fit_periods: int, ax: Any = None) -> Any:
    """Actual cohort survival (points) against the fitted and projected sBG curves (lines)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    t = np.arange(table.shape[0])
    for i, cohort in enumerate(table.columns):
        alive = table[cohort].to_numpy(dtype=float)
        ax.plot(t, alive / alive[0], "o", color=f"C{i}", ms=4, label=f"{cohort}: actual")
        ax.plot(t, fits[str(cohort)].survival_function(t), "-", color=f"C{i}",
                label=f"{cohort}: sBG (fit on 0-{fit_periods})")
    ax.axvline(fit_periods + 0.5, color="grey", ls=":", lw=1)
    ax.set_xlabel("period since acquisition")
    ax.set_ylabel("share of the cohort still a customer")
    ax.set_title("sBG: cohort retention, fitted and projected")
    ax.legend(frameon=False, fontsize=8)
    return ax
