"""Do the stages predict what the theory says?  Stage validity on a holdout period.

The stage rule (:func:`clm_utils.lifecycle.assign_stages`) is a hypothesis.  :func:`stage_validity`
assigns stages at ``calibration_end`` with data up to that date only, then measures each stage's
customers in the holdout ``(calibration_end, as_of]``:

* ``purchases``: mean holdout purchase days per customer; ``spend``: mean holdout spend;
* ``p_no_purchase``: share with no holdout purchase, with an **exact Clopper-Pearson** interval;
* ``rate_ratio``: holdout purchases / purchases expected at the customer's own past repeat rate
  (``(purchase days - 1) / days from first purchase to calibration_end``, as in the stage rule),
  a ratio of sums over the stage's customers (customers first seen on ``calibration_end`` have no
  past rate and are left out of this ratio only);
* ``cv``: coefficient of variation (sd / mean) of holdout purchase days, the measure of
  uncertainty: the spread of what a customer of the stage will do, relative to its mean.

Every interval except ``p_no_purchase`` is a percentile **bootstrap over customers** (Poisson
weights, seeded), recomputed per replicate for the derived contrasts below.

Predictions of the theory (``.predictions``; ``holds`` is True when the interval of the contrast
lies on the predicted side of 0 or 1; NA when a stage is empty):

1. stable customers buy most: ``purchases(stability) - max(purchases of every other stage) > 0``;
2. declining customers buy below their own past rate: ``rate_ratio(decline) < 1``; and, because
   every selected group regresses towards the mean, also below what steady customers do:
   ``rate_ratio(decline) < rate_ratio(stability)``;
3. exploration customers are the most uncertain: ``cv(exploration) - max(cv of formation,
   stability, decline) > 0`` (terminated customers are over, not uncertain, and are left out);
4. terminated customers rarely return: ``min(P(return) of every other stage) - P(return)(
   terminated) > 0``.

Why *decline* churns more slowly than *exploration* on CDNOW (issue 9).  Every CDNOW customer
joined in Q1 1997.  At the landmark of notebook 05 (1997-12-30) one-time buyers have been silent
for 9 months or more, far beyond 3 population intervals (62.5 days), so they are all terminated;
exploration is then made only of **two**-purchase-day customers whose second purchase was recent.
Half or more of two-purchase-day customers never buy again, whatever their label.  Decline
customers are habitual buyers with a longer record (median 4-5 purchase days) whose rate dropped.
At equal history the stage does carry the theory's signal: ``.by_history`` on CDNOW (stages
at 1997-12-30, holdout to 1998-06-30) gives P(no purchase) 72 % for decline vs 65 % for
exploration at 2 purchase days, 61 % vs 52 % (formation) at 3, and 37 % vs 30 % at 4+.
So the comparison across stages mixes the stage with the length of
the record; the stage order of the theory is a statement about the relationship's phase, not a
ranking of churn risk.  CDNOW also has no *stability* customers before 1998 (stability needs a
year of tenure), so the predictions that involve stability are not testable there (NA).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clm_utils.data.sampling import sample_transactions
from clm_utils.errors import ParameterError
from clm_utils.lifecycle.stages import (
    STAGES,
    _assign,
    _days,
    _group_sum,
    resolve_params,
)

_ACTIVE = ("exploration", "formation", "stability", "decline")
PREDICTIONS: tuple[str, ...] = (
    "1. stable customers buy most",
    "2a. declining customers buy below their own past rate",
    "2b. declining customers fall further below their past rate than stable ones",
    "3. exploration customers are the most uncertain",
    "4. terminated customers rarely return",
)


@dataclass
class StageValidity:
    """Holdout behaviour by stage and the theory's predictions (see the module docstring).

    ``table`` (index ``stage``): ``customers``, ``mean_purchase_days_cal``, ``purchases`` [CI],
    ``spend`` [CI], ``p_no_purchase`` [exact CI], ``rate_ratio`` [CI], ``cv`` [CI].
    ``predictions`` (index ``prediction``): ``statistic``, ``estimate``, ``ci_lower``,
    ``ci_upper``, ``holds`` (nullable boolean).  ``customers``: per customer stage and holdout
    numbers.  ``by_history``: customers and P(no purchase) by stage x calibration purchase days
    (1, 2, 3, 4+), which separates the stage from the length of the record.  ``notes``: how the
    intervals were made, and what was left out.
    """

    table: pd.DataFrame
    predictions: pd.DataFrame
    customers: pd.DataFrame
    calibration_end: pd.Timestamp
    as_of: pd.Timestamp
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    by_history: pd.DataFrame = field(default_factory=pd.DataFrame)


def _boot_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Poisson bootstrap weights over ``n`` customers, with a first row of ones (the estimate)."""
    rng = np.random.default_rng(seed)
    return np.vstack([np.ones((1, n)), rng.poisson(1.0, size=(n_boot, n)).astype(float)])


def _group_sums(W: np.ndarray, G: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Weighted group sums: (n_boot x customers) @ (customers x stages), with x per customer."""
    return W @ (G * x[:, None])


def stage_validity(
    transactions: pd.DataFrame,
    calibration_end: str | pd.Timestamp,
    as_of: str | pd.Timestamp | None = None,
    p_alive: pd.Series | None = None,
    n_boot: int = 200,
    alpha: float = 0.05,
    seed: int = 42,
    sample_above: int | None = None,
    **stage_params: Any,
) -> StageValidity:
    """Assign stages at ``calibration_end`` and measure them on the holdout up to ``as_of``.

    Parameters
    ----------
    transactions
        ``customer_id``, ``date`` (datetime64), ``amount``; purchases on one day are one purchase
        day (:func:`clm_utils.summary.purchase_days`).
    calibration_end, as_of
        Stages use data up to ``calibration_end``; the holdout is ``(calibration_end, as_of]``
        (``as_of`` None = the last transaction date).
    p_alive
        Optional P(alive) at ``calibration_end`` for the stage rule.
    n_boot, alpha, seed
        Bootstrap replicates over customers, interval level ``1 - alpha``, seed.
    sample_above
        With more customers than this, everything is computed on a seeded random sample of this
        many customers (:mod:`clm_utils.data.sampling`; None: the ``CLM_SAMPLE_ABOVE`` default,
        200,000; 0: never), with the stage thresholds resolved on the whole base; ``notes`` say
        so.  The sample is an iid draw of customers, so the bootstrap intervals carry its
        sampling error and cover the whole base's values.
    **stage_params
        Thresholds of the stage rule (:class:`clm_utils.lifecycle.StageParams`).

    Returns
    -------
    StageValidity
    """
    cal = pd.Timestamp(calibration_end)
    end = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    if cal >= end:
        raise ParameterError(f"calibration_end {cal.date()} is not before as_of {end.date()}",
                             parameter="calibration_end", hint="choose a calibration end before the as-of date")
    if n_boot < 20:
        raise ParameterError("n_boot must be at least 20", parameter="n_boot")
    if not 0 < alpha < 1:
        raise ParameterError("alpha must lie between 0 and 1", parameter="alpha")
    sample, note = sample_transactions(transactions, limit=sample_above, seed=seed)
    if note is not None:  # thresholds from the whole base, so the sample's stages are the base's rule
        stage_params = dict(resolve_params(transactions, cal, **stage_params).__dict__)
        transactions = sample
    return _validity(_days(transactions, cal), _days(transactions, end), cal, end, p_alive, n_boot, alpha, seed, note,
                     stage_params)


def _validity(d_cal: Any, d: Any, cal: pd.Timestamp, end: pd.Timestamp, p_alive: pd.Series | None, n_boot: int,
              alpha: float, seed: int, note: str | None, stage_params: dict[str, Any],
              weights: np.ndarray | None = None) -> StageValidity:
    """:func:`stage_validity` on purchase days already computed (at the calibration end, and at ``end``);
    ``weights``: the bootstrap weights of :func:`_boot_weights` when already drawn (they depend only on
    the number of customers, ``n_boot`` and ``seed``)."""
    st = _assign(d_cal, cal, p_alive=p_alive, **stage_params)
    hold = d.day > cal.value / 86_400e9  # purchase days after the calibration end
    n_ids = len(d.ids)
    x = (pd.Series(np.bincount(d.code[hold], minlength=n_ids).astype(float), index=d.ids)
         .reindex(st.index, fill_value=0.0).to_numpy(dtype=float))
    spend = (pd.Series(_group_sum(d.amount[hold], d.code[hold], n_ids), index=d.ids)
             .reindex(st.index, fill_value=0.0).to_numpy(dtype=float))
    H = float((end - cal).days)
    n_cal = st["n_purchase_days"].to_numpy(dtype=float)
    tenure = st["tenure_days"].to_numpy(dtype=float)
    has_rate = tenure >= 1
    past_rate = np.where(has_rate, (n_cal - 1.0) / np.where(has_rate, tenure, 1.0), 0.0)
    expected = past_rate * H
    stage = st["stage"].astype(str).to_numpy()
    G = (stage[:, None] == np.array(STAGES)[None, :]).astype(float)
    Gr = G * has_rate[:, None]
    S = len(STAGES)
    n = len(st)
    W = weights if weights is not None else _boot_weights(n, n_boot, seed)
    cnt = W @ G
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m_x = _group_sums(W, G, x) / cnt
        m_s = _group_sums(W, G, spend) / cnt
        m_x2 = _group_sums(W, G, x * x) / cnt
        cv = np.sqrt(np.maximum(m_x2 - m_x ** 2, 0.0)) / m_x
        ratio = _group_sums(W, Gr, x) / _group_sums(W, Gr, expected)
        p_ret = _group_sums(W, G, (x > 0).astype(float)) / cnt

    def q(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():  # an empty stage gives an all-NaN column: NaN interval
            warnings.simplefilter("ignore", RuntimeWarning)
            return (np.nanquantile(np.where(np.isfinite(v), v, np.nan), alpha / 2, axis=0),
                    np.nanquantile(np.where(np.isfinite(v), v, np.nan), 1 - alpha / 2, axis=0))

    k_none = (G * (x == 0)[:, None]).sum(axis=0)
    n_st = G.sum(axis=0)
    table: dict[str, Any] = {"customers": n_st.astype(int),
                             "mean_purchase_days_cal": [float(n_cal[G[:, j] > 0].mean()) if n_st[j] else np.nan
                                                        for j in range(S)]}
    for name, arr in (("purchases", m_x), ("spend", m_s), ("rate_ratio", ratio), ("cv", cv)):
        lo, hi = q(arr[1:])
        table[name], table[f"{name}_lower"], table[f"{name}_upper"] = arr[0], lo, hi
        if name == "spend":
            p0 = np.where(n_st > 0, k_none / np.maximum(n_st, 1), np.nan)
            cp_lo = np.where(k_none > 0, stats.beta.ppf(alpha / 2, k_none, n_st - k_none + 1), 0.0)
            cp_hi = np.where(k_none < n_st, stats.beta.ppf(1 - alpha / 2, k_none + 1, n_st - k_none), 1.0)
            table["p_no_purchase"] = p0
            table["p_no_purchase_lower"] = np.where(n_st > 0, cp_lo, np.nan)
            table["p_no_purchase_upper"] = np.where(n_st > 0, cp_hi, np.nan)
    tab = pd.DataFrame(table, index=pd.Index(list(STAGES), name="stage"))

    j = {s: i for i, s in enumerate(STAGES)}
    present = n_st > 0
    preds = []

    def add(name: str, statistic: str, v: np.ndarray | None, side: str) -> None:
        if v is None:
            preds.append({"prediction": name, "statistic": statistic, "estimate": np.nan, "ci_lower": np.nan,
                          "ci_upper": np.nan, "holds": pd.NA})
            return
        lo, hi = q(v[1:, None])
        lo_f, hi_f = float(lo[0]), float(hi[0])
        if side == ">0":
            holds = bool(lo_f > 0)
        elif side == "<1":
            holds = bool(hi_f < 1)
        else:
            holds = bool(hi_f < 0)
        if not np.isfinite(v[0]):
            holds = pd.NA  # type: ignore[assignment]
        preds.append({"prediction": name, "statistic": statistic, "estimate": float(v[0]), "ci_lower": lo_f,
                      "ci_upper": hi_f, "holds": holds})

    def others(cols: Sequence[str], exclude: str) -> list[int]:
        return [j[s] for s in cols if s != exclude and present[j[s]]]

    o = others(STAGES, "stability")
    add(PREDICTIONS[0], "purchases(stability) - max(purchases of other stages)",
        m_x[:, j["stability"]] - np.nanmax(m_x[:, o], axis=1) if present[j["stability"]] and o else None, ">0")
    dec_ok = present[j["decline"]] and Gr[:, j["decline"]].sum() > 0
    add(PREDICTIONS[1], "rate_ratio(decline)", ratio[:, j["decline"]] if dec_ok else None, "<1")
    add(PREDICTIONS[2], "rate_ratio(decline) - rate_ratio(stability)",
        ratio[:, j["decline"]] - ratio[:, j["stability"]] if dec_ok and present[j["stability"]] else None, "<0")
    o = others(_ACTIVE, "exploration")
    add(PREDICTIONS[3], "cv(exploration) - max(cv of formation, stability, decline)",
        cv[:, j["exploration"]] - np.nanmax(cv[:, o], axis=1) if present[j["exploration"]] and o else None, ">0")
    o = others(STAGES, "terminated")
    add(PREDICTIONS[4], "min(P(return) of other stages) - P(return)(terminated)",
        np.nanmin(p_ret[:, o], axis=1) - p_ret[:, j["terminated"]] if present[j["terminated"]] and o else None, ">0")
    pred = pd.DataFrame(preds).set_index("prediction")
    pred["holds"] = pred["holds"].astype("boolean")

    cust = pd.DataFrame({"stage": st["stage"], "n_purchase_days_cal": n_cal.astype(int),
                         "holdout_purchases": x.astype(int), "holdout_spend": spend,
                         "expected_at_past_rate": np.where(has_rate, expected, np.nan)}, index=st.index)
    hist = pd.DataFrame({"stage": st["stage"].astype(str), "purchase_days_cal": np.minimum(n_cal, 4).astype(int),
                         "no_purchase": (x == 0).astype(float)})
    by_hist = hist.groupby(["stage", "purchase_days_cal"], sort=False)["no_purchase"].agg(["size", "mean"])
    by_hist = by_hist.rename(columns={"size": "customers", "mean": "p_no_purchase"})
    order = [(s_, k) for s_ in STAGES for k in (1, 2, 3, 4) if (s_, k) in by_hist.index]
    by_hist = by_hist.loc[order]
    by_hist.index = by_hist.index.set_names(["stage", "purchase_days_cal (4 = 4+)"])
    notes = [
        f"stages at {cal.date()} (data to that date only); holdout {cal.date()} to {end.date()} ({H:.0f} days)",
        (f"intervals: percentile bootstrap over customers ({n_boot} Poisson-weight replicates, seed {seed}); "
         "P(no purchase): exact Clopper-Pearson"),
        f"{int((~has_rate).sum())} customers first seen on {cal.date()} have no past rate (left out of rate_ratio)",
    ] + ([f"stage validity {note}"] if note else [])
    return StageValidity(table=tab, predictions=pred, customers=cust, calibration_end=cal, as_of=end,
                         params=dict(st.attrs.get("params", {})), notes=notes, by_history=by_hist)


def stage_validity_sensitivity(
    transactions: pd.DataFrame,
    calibration_end: str | pd.Timestamp,
    as_of: str | pd.Timestamp | None = None,
    grid: Mapping[str, Sequence[float]] | None = None,
    n_boot: int = 200,
    seed: int = 42,
    sample_above: int | None = None,
    **base: Any,
) -> pd.DataFrame:
    """The theory's predictions at the default thresholds and with one threshold moved at a time.

    Default grid: ``terminated_multiple`` 2 and 4, ``decline_multiple`` 1.5 and 2.5,
    ``decline_ratio`` 0.3 and 0.7, ``recent_window`` half and double the resolved default.

    Returns
    -------
    Long DataFrame: ``setting`` ("default" or ``name=value``), ``prediction``, ``estimate``,
    ``ci_lower``, ``ci_upper``, ``holds``, plus the stage counts of that setting
    (``n_<stage>``).  Above ``sample_above`` customers (see :func:`stage_validity`) every
    setting runs on one seeded sample (thresholds resolved on the whole base) and
    ``.attrs["note"]`` says so.
    """
    cal = pd.Timestamp(calibration_end)
    end = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    if cal >= end:
        raise ParameterError(f"calibration_end {cal.date()} is not before as_of {end.date()}",
                             parameter="calibration_end", hint="choose a calibration end before the as-of date")
    if n_boot < 20:
        raise ParameterError("n_boot must be at least 20", parameter="n_boot")
    resolved = resolve_params(transactions, cal, **base)
    transactions, note = sample_transactions(transactions, limit=sample_above, seed=seed)
    d_cal, d_end = _days(transactions, cal), _days(transactions, end)  # once for every setting
    weights = _boot_weights(len(d_cal.ids), n_boot, seed)  # the same draws every setting would make
    if grid is None:
        w = float(resolved.recent_window)  # type: ignore[arg-type]
        grid = {"terminated_multiple": [2.0, 4.0], "decline_multiple": [1.5, 2.5], "decline_ratio": [0.3, 0.7],
                "recent_window": [round(w * 0.5), round(w * 2.0)]}
    fixed = dict(resolved.__dict__)
    settings: list[tuple[str, dict[str, Any]]] = [("default", fixed)]
    for name, values in grid.items():
        if name not in fixed:
            raise ParameterError(f"unknown stage parameter {name!r}", parameter="grid")
        for v in values:
            kw = {**fixed, name: v}
            if name == "terminated_multiple":
                kw["decline_multiple"] = min(kw["decline_multiple"], v)
            if name == "decline_multiple":
                kw["terminated_multiple"] = max(kw["terminated_multiple"], v)
            if name == "recent_window":
                kw["min_history"] = v
            settings.append((f"{name}={v:g}", kw))
    rows = []
    for label, kw in settings:
        sv = _validity(d_cal, d_end, cal, end, None, n_boot, 0.05, seed, None, kw, weights=weights)
        counts = {f"n_{s}": int(sv.table.loc[s, "customers"]) for s in STAGES}
        for pname, r in sv.predictions.iterrows():
            rows.append({"setting": label, "prediction": pname, "estimate": r["estimate"], "ci_lower": r["ci_lower"],
                         "ci_upper": r["ci_upper"], "holds": r["holds"], **counts})
    out = pd.DataFrame(rows)
    out["holds"] = out["holds"].astype("boolean")
    if note:
        out.attrs["note"] = f"stage validity sensitivity {note}"
    return out


def validity_sensitivity_table(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """One row per setting of :func:`stage_validity_sensitivity`: stage counts and which predictions hold.

    Parameters
    ----------
    sensitivity
        The long table of :func:`stage_validity_sensitivity` (``setting``, ``prediction``,
        ``holds``, ``n_<stage>``).

    Returns
    -------
    DataFrame indexed by ``setting`` (in the order of the input, "default" first) with the
    ``n_<stage>`` columns, then one nullable-boolean column per prediction named by its number
    (``"1"``, ``"2a"``, ...; NA: not testable, a stage is empty).
    """
    need = {"setting", "prediction", "holds"}
    missing = sorted(need - set(sensitivity.columns))
    if missing:
        raise ParameterError(f"the sensitivity table lacks the column(s) {', '.join(missing)}",
                             parameter="sensitivity", hint="pass the output of stage_validity_sensitivity")
    order = list(dict.fromkeys(sensitivity["setting"]))
    counts = [f"n_{s}" for s in STAGES if f"n_{s}" in sensitivity.columns]
    first = sensitivity.drop_duplicates("setting").set_index("setting").loc[order, counts]
    key = sensitivity["prediction"].astype(str).str.split(".", n=1).str[0]
    holds = (sensitivity.assign(key=key).pivot(index="setting", columns="key", values="holds")
             .reindex(index=order, columns=list(dict.fromkeys(key))).astype("boolean"))
    holds.columns.name = None
    return first.join(holds)


__all__ = ["PREDICTIONS", "StageValidity", "stage_validity", "stage_validity_sensitivity",
           "validity_sensitivity_table"]
