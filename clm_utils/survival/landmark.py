"""Churn risk by lifecycle stage: stages assigned at a landmark date, customers followed to the as-of date.

Stages are assigned ``landmark_offset`` before the as-of date with only the data known then
(:func:`clm_utils.lifecycle.assign_stages`); the customers still active at the landmark are
followed to the as-of date (:func:`clm_utils.survival.landmark_durations`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.config import unit_days
from clm_utils.errors import ModelError
from clm_utils.survival._common import check_transactions, to_days
from clm_utils.survival.cox import CoxPH
from clm_utils.survival.durations import landmark_durations
from clm_utils.survival.kaplan_meier import KaplanMeier, km_by_group, median_table
from clm_utils.survival.logrank import LogRankResult, logrank_test

__all__ = ["StageChurn", "stage_churn", "stage_strategy"]


@dataclass
class StageChurn:
    """Time to churn by lifecycle stage at a landmark date.

    Attributes
    ----------
    landmark
        The date at which stages were assigned.
    horizon
        Time (in the analysis unit) from the landmark to the as-of date.
    data
        One row per customer active at the landmark and in a stage with at least
        ``min_group_size`` such customers: ``duration``, ``event``, ``stage`` (categorical,
        stage order kept, unused stages removed).  Indexed by ``customer_id``.
    dropped
        Customers left out because their stage had fewer than ``min_group_size`` active customers.
    fits, logrank, cox
        Kaplan-Meier per stage, the log-rank test across stages, a Cox model with the stage as
        covariate (reference: the first stage present); empty / None when fewer than two stages
        are large enough (``note`` says why) or the Cox model cannot be estimated.
    note
        Empty, or one sentence on what could not be compared and why.
    """

    landmark: pd.Timestamp
    horizon: float
    data: pd.DataFrame
    dropped: int = 0
    fits: dict[str, KaplanMeier] = field(default_factory=dict)
    logrank: LogRankResult | None = None
    cox: CoxPH | None = None
    note: str = ""

    def result_tables(self) -> list[pd.DataFrame]:
        """The log-rank summary and table and the Cox hazard ratios that could be computed, in that order."""
        out = [self.logrank.summary, self.logrank.table] if self.logrank is not None else []
        return out + ([self.cox.hazard_ratios()] if self.cox is not None else [])


def stage_churn(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None,
    landmark_offset: float | str = 26,
    inactivity: float | str = 26,
    time_unit: str = "W",
    min_group_size: int = 30,
    stages: pd.Series | None = None,
    sample_above: int | None = None,
    seed: int = 42,
    **stage_params: Any,
) -> StageChurn:
    """Assign stages at ``as_of - landmark_offset`` and compare the time to churn across stages.

    Parameters
    ----------
    transactions
        Canonical transactions (``customer_id``, ``date``, ``amount``).
    as_of
        End of follow-up (None = last transaction date).
    landmark_offset, inactivity
        Numbers of ``time_unit`` or text such as ``"26W"``.
    min_group_size
        Stages with fewer active customers at the landmark are left out (counted in ``dropped``).
    stages
        Stage per customer at the landmark; None = :func:`clm_utils.lifecycle.assign_stages`
        with the data up to the landmark and ``stage_params`` (the run's stage rule:
        ``Settings.stage_params()``).
    sample_above, seed
        With more active customers at the landmark than ``sample_above`` (None: the
        ``CLM_SAMPLE_ABOVE`` default, 200,000; 0: never) the Cox model is fitted on a seeded
        sample of that many, stratified by stage (the curves and the log-rank test use everyone);
        ``note`` says so.

    When the landmark lies on or before the first transaction (no history to assign stages), the
    result is empty and ``note`` says so.
    """
    check_transactions(transactions, need_amount=False)
    end = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    offset_days = to_days(landmark_offset, time_unit, "landmark_offset")
    landmark = end - pd.Timedelta(days=offset_days)
    horizon = offset_days / unit_days(time_unit)
    if landmark <= transactions["date"].min():
        empty = pd.DataFrame({"duration": pd.Series(dtype=float), "event": pd.Series(dtype=int),
                              "stage": pd.Categorical([])}, index=pd.Index([], name="customer_id"))
        return StageChurn(landmark=landmark, horizon=horizon, data=empty,
                          note=f"the landmark {landmark.date()} lies before the first transaction: no stage comparison "
                               "(choose a shorter landmark_offset)")
    if stages is None:
        from clm_utils.lifecycle import assign_stages

        stages = assign_stages(transactions[transactions["date"] <= end], landmark, **stage_params)["stage"]
    lm = landmark_durations(transactions, landmark, end, inactivity=inactivity, time_unit=time_unit)
    lm = lm.join(stages.rename("stage"))
    if not isinstance(lm["stage"].dtype, pd.CategoricalDtype):
        lm["stage"] = lm["stage"].astype("category")
    counts = lm["stage"].value_counts()
    big = counts[counts >= min_group_size].index
    keep = lm["stage"].isin(big)
    data = lm[keep].copy()
    data["stage"] = data["stage"].cat.remove_unused_categories()
    out = StageChurn(landmark=landmark, horizon=horizon, data=data,
                     dropped=int((~keep).sum()))
    if data["stage"].nunique() < 2:
        out.note = (f"fewer than two stages with {min_group_size}+ active customers at {landmark.date()}: "
                    "no comparison")
        return out
    out.fits = km_by_group(data["duration"], data["event"], data["stage"])
    from clm_utils.data.sampling import sample_customers

    # the Cox model (Efron ties) is the heavy part: above the threshold it is fitted on a sample stratified by stage
    cox_data, sampled = sample_customers(data, limit=sample_above, seed=seed, strata="stage")
    try:
        out.logrank = logrank_test(data["duration"], data["event"], data["stage"].astype(str))
        out.cox = CoxPH().fit(cox_data.reset_index(), "duration", "event", ["stage"])
        if sampled:
            out.note = f"Hazard ratios by stage (Cox model) {sampled}."
    except ModelError as exc:
        out.note = f"no test possible: {exc.message}"
    return out


def stage_strategy(
    result: StageChurn,
    transactions: pd.DataFrame,
    margin: float = 1.0,
    unit_name: str = "weeks",
    currency: str = "USD",
    strategy: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The stage strategy table with what the landmark analysis says about each stage.

    Columns: the strategy table's ``stage_zh``, then ``median time to churn (<unit>)`` (text:
    a number, "not reached" or "no customers"), ``churned within <h> <unit>`` (1 - KM at the
    horizon h = the smaller of the landmark offset and the longest follow-up), ``margin to date of
    these customers (<currency>)`` (``margin`` x their spend up to the landmark, per stage), then
    ``strategy``.

    Parameters
    ----------
    strategy
        Stage x (``stage_zh``, ``strategy``) table; None = :func:`clm_utils.lifecycle.stage_strategy_table`.
    """
    if strategy is None:
        from clm_utils.lifecycle import stage_strategy_table

        strategy = stage_strategy_table()
    table = strategy.copy()
    fits = result.fits
    med = (median_table(fits)["median"] if fits else pd.Series(dtype=float)).reindex(table.index)
    med_txt = [("not reached" if np.isinf(v) else f"{v:.1f}") if pd.notna(v) else "no customers" for v in med]
    table.insert(1, f"median time to churn ({unit_name})", med_txt)
    if fits:
        horizon = float(min(result.horizon, max(f.survival_function_.index.max() for f in fits.values())))
        churned = pd.Series({k: 1 - float(f.predict([horizon]).iloc[0]) for k, f in fits.items()})
        table.insert(2, f"churned within {horizon:g} {unit_name}", churned.reindex(table.index))
    lm = result.data
    spend = transactions.loc[transactions["date"] <= result.landmark].groupby("customer_id", observed=True)["amount"].sum()
    at_stake = (margin * spend.reindex(lm.index).fillna(0.0)).groupby(lm["stage"], observed=False).sum()
    table.insert(len(table.columns) - 1, f"margin to date of these customers ({currency})",
                 at_stake.reindex(table.index, fill_value=0.0))
    return table
