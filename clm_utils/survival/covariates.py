"""Cox covariates built from the purchase history: an early-period landmark design."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clm_utils.config import unit_days
from clm_utils.errors import DataError
from clm_utils.survival._common import check_transactions, to_days

__all__ = ["early_period_cox_data", "varying_covariates"]


def early_period_cox_data(
    transactions: pd.DataFrame,
    durations: pd.DataFrame,
    early_period: float | str = 13,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Landmark data for a Cox model with covariates known at the end of an early period.

    The number of repeat purchase days in the first ``early_period`` after the first purchase is
    only known at the end of that period, so the model follows the customers whose relationship
    lasted beyond it, from its end (otherwise early repeaters could not churn early by
    construction).

    Parameters
    ----------
    transactions
        Canonical transactions (``customer_id``, ``date``, ``amount``); purchase days after a
        customer's ``last_purchase`` in ``durations`` are ignored.
    durations
        :func:`clm_utils.survival.churn_durations` output (``first_purchase``,
        ``last_purchase``, ``duration``, ``event``, ``first_amount``, ``cohort``), in ``time_unit``.
    early_period
        Length of the early period: a number of ``time_unit`` or text such as ``"13W"``.

    Returns
    -------
    DataFrame indexed by ``customer_id``, only customers with ``duration > early_period``:
    ``duration`` (time units after the end of the early period), ``event``,
    ``log_first_amount`` (``log1p`` of the first purchase day's spend, negatives clipped to 0),
    ``early_repeats`` (purchase days after the first one, up to the end of the early period),
    ``cohort`` (acquisition month).
    """
    check_transactions(transactions)
    need = ["first_purchase", "last_purchase", "duration", "event", "first_amount", "cohort"]
    missing = [c for c in need if c not in durations.columns]
    if missing:
        raise DataError(f"durations lack the column(s) {', '.join(missing)}", column=missing[0],
                        hint="build them with clm_utils.survival.churn_durations")
    early_days = to_days(early_period, time_unit, "early_period")
    early_units = early_days / unit_days(time_unit)
    from clm_utils.lifecycle.stages import _days

    # purchase days as sorted integer codes; each customer's first and last purchase from ``durations``
    d = _days(transactions, transactions["date"].max())
    pos = d.ids.get_indexer(durations.index)  # -1: a customer of durations without transactions
    ns = np.int64(86_400_000_000_000)
    first = np.full(len(d.ids), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(d.ids), np.iinfo(np.int64).min, dtype=np.int64)
    found = pos >= 0
    first[pos[found]] = durations["first_purchase"].to_numpy(dtype="datetime64[ns]").astype(np.int64)[found]
    last[pos[found]] = durations["last_purchase"].to_numpy(dtype="datetime64[ns]").astype(np.int64)[found]
    t = d.day * ns
    f, lst = first[d.code], last[d.code]
    in_early = (t > f) & (t - f <= pd.Timedelta(days=early_days).value) & (t <= lst)
    counts = np.bincount(d.code[in_early], minlength=len(d.ids))
    early = np.where(found, counts[np.where(found, pos, 0)], 0)
    out = pd.DataFrame(
        {
            "duration": durations["duration"] - early_units,
            "event": durations["event"].astype(int),
            "log_first_amount": np.log1p(durations["first_amount"].astype(float).clip(lower=0)),
            "early_repeats": early.astype(int),
            "cohort": durations["cohort"],
        },
        index=durations.index,
    )
    return out[durations["duration"] > early_units].sort_index()


def varying_covariates(data: pd.DataFrame, candidates: list[str]) -> list[str]:
    """The candidate columns of ``data`` that take more than one value (constant ones cannot enter a Cox model)."""
    return [c for c in candidates if c in data.columns and data[c].nunique(dropna=True) > 1]


#: Covariates of the early-period Cox model, in order (constant ones are left out).
EARLY_PERIOD_COVARIATES = ("log_first_amount", "early_repeats", "cohort")


def early_period_cox(
    transactions: pd.DataFrame,
    durations: pd.DataFrame,
    early_period: float | str = 13,
    time_unit: str = "W",
    strata: str | None = None,
    sample_above: int | None = None,
    seed: int = 42,
) -> tuple[Any, pd.DataFrame, str]:
    """Fit the early-period Cox model of :func:`early_period_cox_data` (Efron ties).

    With more customers in the landmark data than ``sample_above`` (None: the
    ``CLM_SAMPLE_ABOVE`` default, 200,000; 0: never) the model is fitted on a seeded random
    sample of that many (:mod:`clm_utils.data.sampling`): the hazard ratios' standard errors are
    those of the sample, so their intervals carry the sampling error; ``note`` says so.

    Returns
    -------
    (cox, data, note)
        The fitted :class:`~clm_utils.survival.CoxPH`, or None with ``note`` saying why the data
        cannot support it (a ModelError or ParameterError message); the data the model was
        fitted on (the landmark data, or its sample); ``note`` also names a sample.
    """
    from clm_utils.data.sampling import sample_customers
    from clm_utils.errors import UserError
    from clm_utils.survival.cox import CoxPH

    data = early_period_cox_data(transactions, durations, early_period, time_unit)
    data, left_out = _drop_eventless_cohorts(data)
    data, sampled = sample_customers(data, limit=sample_above, seed=seed)
    notes = [left_out] if left_out else []
    try:
        cox = CoxPH(ties="efron").fit(data, "duration", "event", strata=strata,
                                      covariates=varying_covariates(data, list(EARLY_PERIOD_COVARIATES)))
    except UserError as exc:
        return None, data, " ".join([*notes, f"Cox model not estimable on these data: {exc.one_line()}"])
    return cox, data, " ".join([*notes, *([f"Cox model {sampled}."] if sampled else [])])


def _drop_eventless_cohorts(data: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Leave out the acquisition cohorts in which nobody churned, and say so.

    A cohort without a single churn event separates the data: its coefficient's likelihood keeps
    rising towards minus infinity, so the fit never converges (at 10M transactions the Newton
    steps ran 100 iterations to a hazard ratio of e^-22).  It happens to the latest cohorts, whose
    customers were acquired too recently to have been silent for the whole inactivity window
    after the early period: they carry no information on churn yet.
    """
    if "cohort" not in data.columns or data.empty:
        return data, ""
    events = data.groupby("cohort", observed=True, sort=True)["event"].sum()
    empty = events.index[events.to_numpy() == 0]
    if len(empty) == 0 or len(empty) == len(events):
        return data, ""
    keep = ~data["cohort"].isin(empty).to_numpy()
    names = [str(c) for c in empty]
    span = names[0] if len(names) == 1 else f"{names[0]} to {names[-1]}" if len(names) > 2 else " and ".join(names)
    note = (f"{int((~keep).sum()):,} customers of the cohort(s) {span} are left out of the Cox model: none of them has "
            "churned yet (acquired too recently for the inactivity window), so their cohort effect cannot be "
            "estimated.")
    return data[keep], note
