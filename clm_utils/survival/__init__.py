"""Relationship survival: churn durations, Kaplan-Meier, log-rank tests and Cox regression.

How long does a customer relationship (客户关系) last before the customer churns (流失)?  In a
non-contractual business nobody cancels, so churn must be *inferred* from silence.  This module
turns a transactions frame into survival data and fits the standard survival models on it.

Churn definition (used everywhere in the suite)
------------------------------------------------
A customer is **churned** at ``as_of`` when the gap since the last purchase exceeds the
``inactivity`` window; otherwise the customer is **right-censored** (still possibly active).

* ``churn_time="last_purchase"`` (default): the churn time is the date of the *last purchase*,
  i.e. the end of the observed relationship.  This is exactly the "death" of the BTYD models
  (BG/NBD customers drop out right after a purchase), so the Kaplan-Meier curve and the
  model-implied survival curve measure the same thing.  A censored customer is known to be
  alive up to the last purchase, so the censoring time is the last purchase as well.
  Duration = last purchase - first purchase (0 for a one-time buyer who churned: the
  relationship ended with the first purchase).
* ``churn_time="declared"``: the churn time is ``last purchase + inactivity`` (the moment the
  silence rule declares the churn); censored customers are censored at ``as_of``.  The curve
  then reads "share of an acquisition cohort still counted active t after the first purchase".

Durations are in ``time_unit`` (days / 7 for weeks, as in the rest of the suite).

Modules
-------
``durations``      churn / censoring per customer, landmark durations
``kaplan_meier``   :class:`KaplanMeier` (``KaplanMeier(alpha).fit(durations, events)``), tables of curves
``logrank``        the log-rank test
``concordance``    Harrell's C
``cox``            :class:`CoxPH` (``CoxPH(ties).fit(df, duration_col, event_col, covariates)``),
                   Schoenfeld residuals, the proportional-hazards check
``covariates``     the early-period landmark design for Cox covariates
``groups``         curves and tests for several groupings at once, quantile bands
``sensitivity``    results across inactivity windows
``model_implied``  BTYD model-implied survival against Kaplan-Meier
``landmark``       churn risk by lifecycle stage, and the stage strategy table
``cohorts``        contractual retention (sBG) per cohort
``plots``          Kaplan-Meier plots with at-risk tables

Validation (tests/test_survival_*.py): Kaplan-Meier and its log-log CI against R ``survfit`` on
the ``aml`` leukemia data; log-rank against R ``survdiff`` on the ``lung`` data (two and four
groups); Cox coefficients and standard errors against R ``coxph`` (Efron ties) on the Rossi
recidivism data, the ovarian data and the lung data; the proportional-hazards test against R
``cox.zph`` values.
"""

from __future__ import annotations

from clm_utils.survival.cohorts import plot_sbg_cohorts, sbg_cohorts
from clm_utils.survival.concordance import concordance_index
from clm_utils.survival.covariates import (
    early_period_cox,
    early_period_cox_data,
    varying_covariates,
)
from clm_utils.survival.cox import CoxPH, cox_ph
from clm_utils.survival.durations import (
    churn_durations,
    churn_durations_by_window,
    churn_overview,
    landmark_durations,
)
from clm_utils.survival.groups import GroupComparison, compare_groups, quantile_bands
from clm_utils.survival.kaplan_meier import (
    KaplanMeier,
    kaplan_meier,
    km_by_group,
    median_table,
    survival_at,
)
from clm_utils.survival.landmark import StageChurn, stage_churn, stage_strategy
from clm_utils.survival.logrank import LogRankResult, logrank_test
from clm_utils.survival.model_implied import model_implied_survival, model_vs_km_table
from clm_utils.survival.plots import plot_km, plot_model_vs_km
from clm_utils.survival.sensitivity import inactivity_sensitivity, km_by_window

__all__ = [
    "CoxPH",
    "GroupComparison",
    "KaplanMeier",
    "LogRankResult",
    "StageChurn",
    "churn_durations",
    "churn_durations_by_window",
    "churn_overview",
    "compare_groups",
    "concordance_index",
    "cox_ph",
    "early_period_cox",
    "early_period_cox_data",
    "inactivity_sensitivity",
    "kaplan_meier",
    "km_by_group",
    "km_by_window",
    "landmark_durations",
    "logrank_test",
    "median_table",
    "model_implied_survival",
    "model_vs_km_table",
    "plot_km",
    "plot_model_vs_km",
    "plot_sbg_cohorts",
    "quantile_bands",
    "sbg_cohorts",
    "stage_churn",
    "stage_strategy",
    "survival_at",
    "varying_covariates",
]
