"""Customer relationship lifecycle (客户关系生命周期): stages, stage x value grid, transitions, curves.

The lifecycle theory (Dwyer, Schurr & Oh 1987; Chen Mingliang 陈明亮 2002) says a relationship
moves through exploration 考察期, formation 形成期, stability 稳定期 and decline 退化期, and ends
(terminated 流失期).  This module turns that theory into measurements on transaction data.

Stage rule (:func:`assign_stages`)
----------------------------------
Every customer's evidence is measured against the customer's **own** history, so a slow buyer is
not "declining" just because they buy less than a fast one:

* ``rhythm``: the customer's mean interval between purchase days, shrunk towards the population's
  inter-purchase time (``prior_rhythm``, default the median over repeat buyers of their mean
  interval) with a pseudo-count of ``rhythm_prior_weight`` population intervals (default 2):
  ``rhythm = (span + k * prior) / (n_gaps + k)``.  This is the posterior mean of the customer's
  mean gap when gaps are exponential and the mean gap has an inverse-gamma prior with mean
  ``prior`` and shape ``k + 1`` (a conjugate, empirical-Bayes prior centred on the population).
  One one-day gap therefore gives ``(1 + 2 * prior) / 3``, not one day; a one-time buyer gets the
  prior.  ``silence`` = days since the last purchase / rhythm.
* young customers (issue 8): a relationship younger than one population interval
  (``young_tenure``, default ``prior_rhythm``) cannot show silence or a trend yet, and the silence
  rules need an absolute silence of at least ``min_silence`` days (default ``prior_rhythm``).
* ``rate_ratio``: purchase days in the recent window (the last ``recent_window`` days) against the
  number expected from the customer's earlier repeat rate (repeat purchase days before the window
  / earlier exposure); 0.5 is added to both as a continuity correction.  ``spend_ratio``: the same
  for spend (smoothing = half the customer's mean ticket).  Both need ``min_history`` days of
  earlier history, otherwise they are missing (the customer is too young to have a trend).
* optional ``p_alive`` (from a BTYD model): used instead of the silence rule for repeat buyers.
  BG/NBD gives P(alive) = 1 to every customer without a repeat purchase, which carries no
  information, so one-time buyers always use the silence rule.

The rules, applied in this order (the first that matches wins, so every customer gets exactly
one stage):

0. **exploration** 考察期 (young): ``tenure < young_tenure``, whatever the silence or P(alive).
1. **terminated** 流失期: ``silence >= terminated_multiple`` and ``recency >= min_silence``
   (default 3: a buyer who still purchased at their own Poisson rhythm would show such a
   silence with probability e^-3 ≈ 5%), or ``p_alive < p_alive_terminated`` when P(alive) is
   given.
2. **decline** 退化期 (from any stage): ``silence >= decline_multiple`` and ``recency >=
   min_silence`` (default 2, probability e^-2 ≈ 14% under an unchanged rhythm), or P(alive) < ``p_alive_decline``, or — when at least
   ``min_expected`` recent purchases were expected — ``rate_ratio <= decline_ratio`` or
   ``spend_ratio <= decline_ratio`` (default 0.5: the recent level is at most half the
   customer's own earlier level).
3. **exploration** 考察期: at most ``exploration_max_purchases`` purchase days (default 2: a trial
   and at most one repeat).
4. **formation** 形成期: a rising trend (``rate_ratio >= rise_ratio`` or ``spend_ratio >=
   rise_ratio``, default 1.5), or a relationship not yet mature (tenure below
   ``stability_min_tenure`` days, default 364 = one full year, or fewer than
   ``stability_min_purchases`` purchase days, default 5).
5. **stability** 稳定期: everyone else — mature, steady and not silent.

``recent_window`` defaults to twice the pooled median inter-purchase interval (at least 7 days),
so a typical customer is expected to buy about twice in it.  All thresholds are parameters; the
notebook shows how the stage shares move with them (:func:`stage_sensitivity`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.errors import DataError, ParameterError

STAGES: tuple[str, ...] = ("exploration", "formation", "stability", "decline", "terminated")
STAGES_ZH: dict[str, str] = {
    "exploration": "考察期",
    "formation": "形成期",
    "stability": "稳定期",
    "decline": "退化期",
    "terminated": "流失期",
    "new": "新客户",
}
STAGE_STRATEGY: dict[str, str] = {
    "exploration": "offer common value, learn needs and preferences; make the second purchase easy",
    "formation": "personalised value-added service; deepen needs, cross-sell",
    "stability": "retain, grow share of wallet, lower the cost to serve",
    "decline": "find out why; win back the customers worth it, let the others go",
    "terminated": "win back only high-value customers at low cost; otherwise stop spending",
}
_TIER_MODIFIER: dict[str, str] = {
    "high": "invest most: personal contact, priority service",
    "medium": "invest selectively: targeted offers",
    "low": "serve at low cost: automated, mass channels",
}

_STAGE_DTYPE = pd.CategoricalDtype(list(STAGES), ordered=True)


@dataclass(frozen=True)
class StageParams:
    """Thresholds of the stage rule (see the module docstring for the justification of each)."""

    recent_window: float | None = None  # days; None = 2 x pooled median inter-purchase interval
    min_history: float | None = None  # days of earlier history needed for a trend; None = recent_window
    terminated_multiple: float = 3.0
    decline_multiple: float = 2.0
    decline_ratio: float = 0.5
    rise_ratio: float = 1.5
    min_expected: float = 1.0
    exploration_max_purchases: int = 2
    stability_min_tenure: float = 364.0  # days
    stability_min_purchases: int = 5
    rhythm_prior_weight: float = 2.0  # pseudo-count of population intervals in the rhythm
    prior_rhythm: float | None = None  # days; None = pooled median inter-purchase interval
    min_silence: float | None = None  # days of silence the silence rules need; None = prior_rhythm
    young_tenure: float | None = None  # days; younger relationships are exploration; None = prior_rhythm
    p_alive_terminated: float = 0.1
    p_alive_decline: float = 0.5

    def validate(self) -> None:
        checks = {
            "terminated_multiple": self.terminated_multiple > 0,
            "decline_multiple": 0 < self.decline_multiple <= self.terminated_multiple,
            "decline_ratio": 0 < self.decline_ratio < 1,
            "rise_ratio": self.rise_ratio > 1,
            "min_expected": self.min_expected >= 0,
            "exploration_max_purchases": self.exploration_max_purchases >= 1,
            "stability_min_tenure": self.stability_min_tenure >= 0,
            "stability_min_purchases": self.stability_min_purchases >= 1,
            "rhythm_prior_weight": self.rhythm_prior_weight >= 0,
            "p_alive_terminated": 0 <= self.p_alive_terminated <= self.p_alive_decline <= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ParameterError(f"{name}={getattr(self, name)!r} is out of range", parameter=name,
                                     hint="see clm_utils.lifecycle docstring for the allowed values")
        for name in ("recent_window", "min_history", "prior_rhythm"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v > 0):
                raise ParameterError(f"{name} must be a positive number of days", parameter=name)
        for name in ("min_silence", "young_tenure"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v >= 0):
                raise ParameterError(f"{name} must be a number of days >= 0", parameter=name)


@dataclass
class _Days:
    """Purchase days of every customer, as arrays sorted by customer then day.

    ``code`` (customer position in ``ids``), ``day`` (days since 1970-01-01), ``amount`` (the
    day's spend) per purchase day; ``ids`` the customer ids (sorted); ``starts`` the position of
    each customer's first purchase day (with a final entry, the number of purchase days).
    """

    code: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    ids: pd.Index
    starts: np.ndarray

    def frame(self) -> pd.DataFrame:
        """``customer_id``, ``date``, ``amount``: one row per customer and purchase day."""
        return pd.DataFrame({"customer_id": self.ids.take(self.code).to_numpy(),
                             "date": self.day.astype("datetime64[D]").astype("datetime64[ns]"),
                             "amount": self.amount})

    def per_customer(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` (one per purchase day) per customer."""
        return _group_sum(values, self.code, len(self.ids))


def _group_sum(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Sums of ``values`` by integer group 0..n-1 (absent groups 0), in row order with pandas' compensated
    summation, so the sums equal those of a group-by on the ids, to the last bit."""
    sums = pd.Series(values, copy=False).groupby(groups, sort=True).sum()
    out = np.zeros(n)
    out[sums.index.to_numpy()] = sums.to_numpy()
    return out


def _check_transactions(transactions: pd.DataFrame, need_amount: bool = True) -> None:
    if not isinstance(transactions, pd.DataFrame):
        raise DataError("transactions must be a pandas DataFrame")
    need = ("customer_id", "date", "amount") if need_amount else ("customer_id", "date")
    missing = [c for c in need if c not in transactions.columns]
    if missing:
        raise DataError(f"transactions lack the column(s) {', '.join(missing)}", column=missing[0],
                        hint="map your columns with the `columns` parameter")


def _days(transactions: pd.DataFrame, as_of: pd.Timestamp, need_amount: bool = True) -> _Days:
    """The purchase days up to ``as_of`` as sorted arrays (no group-by on text ids: sorted integer codes).

    Same result as :func:`clm_utils.summary.purchase_days`: rows of one customer and calendar day
    summed in file order.  Transactions sorted by customer and date (the canonical order) are
    not sorted again.  Without ``need_amount`` a frame without ``amount`` is accepted (amounts 0).
    """
    _check_transactions(transactions, need_amount)
    dates = transactions["date"]
    keep = (dates <= as_of).to_numpy()
    if not keep.any():
        raise DataError(f"no transactions on or before {as_of.date()}", hint="use a later as-of date")
    everything = bool(keep.all())
    ids = transactions["customer_id"] if everything else transactions["customer_id"][keep]
    code, uniq = pd.factorize(ids)
    if not uniq.is_monotonic_increasing:  # codes in order of appearance: renumber in sorted id order
        order = uniq.argsort()
        rank = np.empty(len(uniq), dtype=np.int64)
        rank[order] = np.arange(len(uniq))
        code = rank[code]
        uniq = uniq.take(order)
    code = code.astype(np.int64)
    day = (dates.to_numpy() if everything else dates.to_numpy()[keep]).astype("datetime64[D]").astype(np.int64)
    amount = (transactions["amount"].to_numpy(dtype=float) if "amount" in transactions
              else np.zeros(len(transactions)))
    if not everything:
        amount = amount[keep]
    dc, dd = np.diff(code), np.diff(day)
    if not bool(np.all((dc > 0) | ((dc == 0) & (dd >= 0)))):
        order = np.lexsort((day, code))  # stable: equal keys keep file order
        code, day, amount = code[order], day[order], amount[order]
        dc, dd = np.diff(code), np.diff(day)
    is_new = np.r_[True, (dc != 0) | (dd != 0)]
    new_day = np.flatnonzero(is_new)
    amount = _group_sum(amount, np.cumsum(is_new) - 1, len(new_day))
    code, day = code[new_day], day[new_day]
    starts = np.r_[np.flatnonzero(np.r_[True, np.diff(code) != 0]), len(code)]
    return _Days(code=code, day=day, amount=amount, ids=pd.Index(uniq, name="customer_id"), starts=starts)


def _purchase_days(transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """``customer_id``, ``date``, ``amount`` per customer and purchase day up to ``as_of`` (sorted)."""
    return _days(transactions, as_of).frame()


def _pooled_median_ipt(d: _Days) -> float:
    n = np.diff(d.starts)
    span = (d.day[d.starts[1:] - 1] - d.day[d.starts[:-1]]).astype(float)
    rep = n > 1
    if not rep.any():
        return float("nan")
    return float(np.median(span[rep] / (n[rep] - 1)))


def resolve_params(transactions: pd.DataFrame, as_of: Any = None, **params: Any) -> StageParams:
    """The stage parameters with the data-driven defaults filled in (as used by assign_stages)."""
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    return _resolve(lambda: _days(transactions, as_of_ts), **params)


def _resolve(days: Any, **params: Any) -> StageParams:
    """:func:`resolve_params` given a callable that returns the :class:`_Days` (called only when needed)."""
    unknown = sorted(set(params) - set(StageParams.__dataclass_fields__))
    if unknown:
        raise ParameterError(f"unknown stage parameter(s): {', '.join(unknown)}", parameter=unknown[0],
                             hint="valid: " + ", ".join(StageParams.__dataclass_fields__))
    p = StageParams(**params)
    p.validate()
    d = days()
    prior = p.prior_rhythm
    if prior is None:
        prior = _pooled_median_ipt(d)
        if not np.isfinite(prior) or prior <= 0:
            prior = 30.0  # nobody repeats (or all repeat the same day): fall back to a month
    window = p.recent_window if p.recent_window is not None else max(7.0, round(2.0 * prior))
    hist = p.min_history if p.min_history is not None else window
    min_sil = p.min_silence if p.min_silence is not None else prior
    young = p.young_tenure if p.young_tenure is not None else prior
    return StageParams(**{**p.__dict__, "prior_rhythm": float(prior), "recent_window": float(window),
                          "min_history": float(hist), "min_silence": float(min_sil), "young_tenure": float(young)})


def assign_stages(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
    p_alive: pd.Series | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Assign every customer one lifecycle stage at ``as_of``.

    Parameters
    ----------
    transactions
        ``customer_id``, ``date`` (datetime64), ``amount``; rows after ``as_of`` are ignored and
        purchases on the same day are one purchase day.
    as_of
        The date the stages describe (None = last transaction date).
    p_alive
        Optional P(alive) per customer (index ``customer_id``), e.g. from
        ``clm_utils.clv.BetaGeo().conditional_probability_alive``; see the module docstring.
    **params
        Any field of :class:`StageParams` (thresholds; windows in days).

    Returns
    -------
    DataFrame indexed by ``customer_id`` (sorted) with ``stage`` (ordered categorical of
    :data:`STAGES`), ``stage_zh``, ``rule`` (which rule fired) and the evidence columns
    ``tenure_days``, ``n_purchase_days``, ``recency_days``, ``rhythm_days``, ``silence``,
    ``recent_purchases``, ``expected_recent``, ``rate_ratio``, ``spend_ratio``, ``total_amount``
    and ``p_alive`` (NaN when not given).  ``.attrs["params"]`` holds the resolved parameters.
    """
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    return _assign(_days(transactions, as_of_ts), as_of_ts, p_alive, **params)


def _assign(d: _Days, as_of_ts: pd.Timestamp, p_alive: pd.Series | None = None, **params: Any) -> pd.DataFrame:
    """:func:`assign_stages` on purchase days already computed (:func:`_days` at ``as_of_ts``)."""
    p = _resolve(lambda: d, **params)
    W = float(p.recent_window)
    # day numbers of as_of and of the window's start (as_of minus W days, to the nanosecond as before)
    as_of_day = (as_of_ts.value / 86_400e9)
    cut_day = as_of_day - W
    idx = d.ids
    first_day = d.day[d.starts[:-1]]
    last_day = d.day[d.starts[1:] - 1]
    n = pd.Series(np.diff(d.starts).astype(float), index=idx)
    total = pd.Series(d.per_customer(d.amount), index=idx)
    first_amount = pd.Series(d.amount[d.starts[:-1]], index=idx)
    is_recent = d.day > cut_day
    recent_n = pd.Series(d.per_customer(is_recent.astype(float)), index=idx)
    recent_spend = pd.Series(d.per_customer(np.where(is_recent, d.amount, 0.0)), index=idx)
    before_n = n - recent_n
    before_spend = total - recent_spend
    tenure = pd.Series(np.floor(as_of_day - first_day), index=idx)
    recency = pd.Series(np.floor(as_of_day - last_day), index=idx)
    span = pd.Series((last_day - first_day).astype(float), index=idx)
    k = p.rhythm_prior_weight
    prior = float(p.prior_rhythm)
    denom = (n - 1.0) + k
    rhythm = np.where(denom > 0, (span + k * prior) / np.where(denom > 0, denom, 1.0), prior)
    rhythm = np.maximum(rhythm, 1.0)  # at least a day: same-day repeaters do not divide by zero
    silence = recency / rhythm
    exposure = pd.Series(np.floor(cut_day - first_day), index=idx).clip(lower=0.0)
    evaluable = (exposure >= float(p.min_history)) & (before_n >= 1)
    repeats_before = (before_n - 1.0).clip(lower=0.0)
    rate_before = repeats_before / exposure.where(exposure > 0, np.nan)
    expected = rate_before * W
    rate_ratio = ((recent_n + 0.5) / (expected + 0.5)).where(evaluable)
    spend_before = (before_spend - first_amount).clip(lower=0.0)
    expected_spend = spend_before / exposure.where(exposure > 0, np.nan) * W
    ticket = (total / n).where(total > 0, 1.0)
    spend_ratio = ((recent_spend + 0.5 * ticket) / (expected_spend + 0.5 * ticket)).where(evaluable)
    if p_alive is not None:
        if not isinstance(p_alive, pd.Series):
            raise ParameterError("p_alive must be a pandas Series indexed by customer_id", parameter="p_alive")
        pa = p_alive.reindex(idx).astype(float)
        if ((pa < 0) | (pa > 1)).any():
            raise DataError("p_alive must lie between 0 and 1", column="p_alive")
        use_pa = pa.notna() & (n >= 2)
    else:
        pa = pd.Series(np.nan, index=idx)
        use_pa = pd.Series(False, index=idx)

    silence_s = pd.Series(silence, index=idx)
    enough = (expected >= p.min_expected).fillna(False) & evaluable
    young = tenure < float(p.young_tenure)  # type: ignore[arg-type]
    long_silent = recency >= float(p.min_silence)  # type: ignore[arg-type]
    term_silence = (silence_s >= p.terminated_multiple) & long_silent & ~use_pa
    term_pa = use_pa & (pa < p.p_alive_terminated)
    dec_silence = (silence_s >= p.decline_multiple) & long_silent & ~use_pa
    dec_pa = use_pa & (pa < p.p_alive_decline)
    dec_rate = enough & (rate_ratio <= p.decline_ratio).fillna(False)
    dec_spend = enough & (spend_ratio <= p.decline_ratio).fillna(False)
    explore = n <= p.exploration_max_purchases
    rising = ((rate_ratio >= p.rise_ratio) | (spend_ratio >= p.rise_ratio)).fillna(False)
    immature = (tenure < p.stability_min_tenure) | (n < p.stability_min_purchases)

    conditions = [
        young.to_numpy(),
        (term_silence | term_pa).to_numpy(),
        (dec_silence | dec_pa | dec_rate | dec_spend).to_numpy(),
        explore.to_numpy(),
        (rising | immature).to_numpy(),
    ]
    stage = np.select(conditions, ["exploration", "terminated", "decline", "exploration", "formation"],
                      default="stability")
    rule = np.select(
        [
            young.to_numpy(), term_pa.to_numpy(), term_silence.to_numpy(), dec_pa.to_numpy(), dec_silence.to_numpy(),
            dec_rate.to_numpy(), dec_spend.to_numpy(), explore.to_numpy(), rising.to_numpy(), immature.to_numpy(),
        ],
        ["younger than a normal gap", "p_alive", "silence", "p_alive", "silence", "rate drop", "spend drop",
         "few purchases", "rising",
         "not yet mature"],
        default="steady",
    )
    out = pd.DataFrame(
        {
            "stage": pd.Categorical(stage, dtype=_STAGE_DTYPE),
            "rule": rule,
            "tenure_days": tenure.to_numpy(),
            "n_purchase_days": n.astype(int).to_numpy(),
            "recency_days": recency.to_numpy(),
            "rhythm_days": rhythm,
            "silence": silence,
            "recent_purchases": recent_n.astype(int).to_numpy(),
            "expected_recent": expected.to_numpy(),
            "rate_ratio": rate_ratio.to_numpy(),
            "spend_ratio": spend_ratio.to_numpy(),
            "total_amount": total.to_numpy(),
            "p_alive": pa.to_numpy(),
        },
        index=idx,
    )
    out.insert(1, "stage_zh", out["stage"].map(STAGES_ZH).astype(str))
    out.index.name = "customer_id"
    out.attrs["params"] = p.__dict__.copy()
    out.attrs["as_of"] = str(as_of_ts.date())
    return out


def stage_summary(stages: pd.DataFrame | pd.Series, revenue: pd.Series) -> pd.DataFrame:
    """Customers, customer share and revenue share per stage (all five stages, in order).

    Parameters
    ----------
    stages
        Output of :func:`assign_stages` or its ``stage`` Series (e.g. the run's
        ``customers["stage"]``), indexed by customer.
    revenue
        Historical revenue per customer (same index; missing customers count 0).

    Returns
    -------
    DataFrame indexed by ``stage`` with ``stage_zh``, ``customers``, ``share`` and
    ``revenue_share`` (NaN when the total revenue is 0).
    """
    s = stages["stage"] if isinstance(stages, pd.DataFrame) else stages
    s = s.astype(_STAGE_DTYPE)
    rev = revenue.reindex(s.index).astype(float).fillna(0.0)
    counts = s.value_counts().reindex(list(STAGES), fill_value=0).astype(int)
    by_stage = rev.groupby(s, observed=False).sum().reindex(list(STAGES), fill_value=0.0)
    total = float(rev.sum())
    out = pd.DataFrame({
        "stage_zh": [STAGES_ZH[x] for x in STAGES],
        "customers": counts.to_numpy(),
        "share": counts.to_numpy() / max(len(s), 1),
        "revenue_share": by_stage.to_numpy() / total if total != 0 else np.nan,
    }, index=pd.Index(list(STAGES), name="stage"))
    return out


def stage_shares(stages: pd.DataFrame | pd.Series) -> pd.Series:
    """Share of customers per stage (all five stages, in order)."""
    s = stages["stage"] if isinstance(stages, pd.DataFrame) else stages
    return s.value_counts(normalize=True).reindex(list(STAGES), fill_value=0.0).rename("share")


def stage_sensitivity(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
    grid: Mapping[str, Sequence[float]] | None = None,
    p_alive: pd.Series | None = None,
    sample_above: int | None = None,
    seed: int = 42,
    **base: Any,
) -> pd.DataFrame:
    """Stage shares when one threshold at a time moves over a grid (the others at ``base``).

    Default grid: ``terminated_multiple`` 2-5, ``decline_multiple`` 1.5-2.5, ``decline_ratio``
    0.3-0.7, ``recent_window`` 0.5x-2x of the resolved default.  With more customers than
    ``sample_above`` (None: the ``CLM_SAMPLE_ABOVE`` default, 200,000; 0: never) the shares are
    those of a seeded random sample of that many customers (thresholds resolved on the whole
    base; a share's standard error is below 0.12 points), and ``.attrs["note"]`` says so.

    Returns
    -------
    DataFrame with ``parameter``, ``value``, ``is_default`` and one share column per stage.
    """
    from clm_utils.data.sampling import sample_transactions

    resolved = resolve_params(transactions, as_of, **base)
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    transactions, note = sample_transactions(transactions, limit=sample_above, seed=seed)
    days = _days(transactions, as_of_ts)  # once for every setting of the grid
    if grid is None:
        w = resolved.recent_window
        grid = {
            "terminated_multiple": [2.0, 2.5, 3.0, 4.0, 5.0],
            "decline_multiple": [1.5, 2.0, 2.5],
            "decline_ratio": [0.3, 0.5, 0.7],
            "recent_window": [round(w * f) for f in (0.5, 1.0, 1.5, 2.0)],
        }
    rows = []
    fixed = {k: v for k, v in resolved.__dict__.items()}
    for name, values in grid.items():
        if name not in fixed:
            raise ParameterError(f"unknown stage parameter {name!r}", parameter="grid")
        for v in values:
            kw = {**fixed, name: v}
            if name == "terminated_multiple":
                kw["decline_multiple"] = min(kw["decline_multiple"], v)
            if name == "recent_window":
                kw["min_history"] = v
            st = _assign(days, as_of_ts, p_alive=p_alive, **kw)
            sh = stage_shares(st)
            rows.append({"parameter": name, "value": float(v), "is_default": bool(np.isclose(v, fixed[name])),
                         **sh.to_dict()})
    out = pd.DataFrame(rows)
    if note:
        out.attrs["note"] = f"stage sensitivity {note}"
    return out


def plot_stage_sensitivity(sens: pd.DataFrame, axes: Any = None) -> Any:
    """One small panel per parameter: stage shares (stacked) against the parameter value."""
    import matplotlib.pyplot as plt

    params = list(dict.fromkeys(sens["parameter"]))
    if axes is None:
        _, axes = plt.subplots(1, len(params), figsize=(3.2 * len(params), 3.4), sharey=True, squeeze=False)
        axes = axes[0]
    for ax, name in zip(axes, params):
        d = sens[sens["parameter"] == name].sort_values("value")
        x = np.arange(len(d))
        bottom = np.zeros(len(d))
        for i, st in enumerate(STAGES):
            ax.bar(x, d[st], bottom=bottom, color=f"C{i}", label=st, width=0.7)
            bottom += d[st].to_numpy()
        labels = [f"{v:g}" + ("*" if dflt else "") for v, dflt in zip(d["value"], d["is_default"])]
        ax.set_xticks(x, labels)
        ax.set_xlabel(name + (" (days)" if name == "recent_window" else ""))
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("share of customers")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    axes[0].figure.suptitle("Stage shares by threshold (* = default)")
    return axes


# ----------------------------------------------------------------------------------------------
# stage x value grid
# ----------------------------------------------------------------------------------------------
def _tier_levels(tiers: pd.Series, value: pd.Series) -> dict[str, str]:
    """Map each tier label to high / medium / low by its mean value (robust to any labels)."""
    means = value.groupby(tiers, observed=True).mean().sort_values(ascending=False)
    k = len(means)
    levels = {}
    for i, name in enumerate(means.index):
        frac = i / max(k - 1, 1)
        levels[str(name)] = "high" if frac < 1 / 3 else ("medium" if frac < 2 / 3 else "low")
    if k == 1:
        levels[str(means.index[0])] = "medium"
    return levels


def stage_strategy_table() -> pd.DataFrame:
    """The strategy per stage (docs/theory.md section 3), English with the Chinese stage name."""
    return pd.DataFrame(
        {"stage_zh": [STAGES_ZH[s] for s in STAGES], "strategy": [STAGE_STRATEGY[s] for s in STAGES]},
        index=pd.Index(list(STAGES), name="stage"),
    )


def stage_value_grid(
    stages: pd.DataFrame | pd.Series,
    value_tiers: pd.Series,
    revenue: pd.Series,
    clv: pd.Series | None = None,
) -> pd.DataFrame:
    """Cross the lifecycle stages with value tiers: the grid of customer types.

    Parameters
    ----------
    stages
        Output of :func:`assign_stages` (or its ``stage`` Series), indexed by customer.
    value_tiers
        Tier label per customer (e.g. ``clm_utils.rfm.value_tiers``).  Tiers are ranked high /
        medium / low by their mean revenue (or CLV when given) for the strategy text, so any
        labels work.
    revenue
        Historical revenue per customer.
    clv
        Optional predicted CLV per customer.

    Returns
    -------
    Long table (one row per stage x tier cell, all cells present) with ``customers``,
    ``customer_share``, ``revenue``, ``revenue_share``, ``clv_share`` (NaN without CLV),
    ``tier_level`` and ``strategy``.
    """
    s = stages["stage"] if isinstance(stages, pd.DataFrame) else stages
    idx = s.index
    tiers = value_tiers.reindex(idx)
    rev = revenue.reindex(idx).astype(float).fillna(0.0)
    if tiers.isna().any():
        raise DataError(f"{int(tiers.isna().sum())} customers have no value tier", hint="compute tiers for all customers")
    df = pd.DataFrame({"stage": s.astype(_STAGE_DTYPE), "tier": tiers.astype(str), "revenue": rev})
    if clv is not None:
        df["clv"] = clv.reindex(idx).astype(float).fillna(0.0)
    levels = _tier_levels(df["tier"], df["clv"] if clv is not None else df["revenue"])
    tier_order = sorted(levels, key=lambda t: ("high", "medium", "low").index(levels[t]))
    grid = df.groupby(["stage", "tier"], observed=False).agg(
        customers=("revenue", "size"), revenue=("revenue", "sum"), **({"clv": ("clv", "sum")} if clv is not None else {})
    )
    full = pd.MultiIndex.from_product([list(STAGES), tier_order], names=["stage", "tier"])
    grid = grid.reindex(full, fill_value=0)
    grid["customers"] = grid["customers"].astype(int)
    grid["customer_share"] = grid["customers"] / max(len(df), 1)
    tot_rev = df["revenue"].sum()
    grid["revenue_share"] = grid["revenue"] / tot_rev if tot_rev != 0 else np.nan
    if clv is not None:
        tot = df["clv"].sum()
        grid["clv_share"] = grid["clv"] / tot if tot != 0 else np.nan
    else:
        grid["clv_share"] = np.nan
    lv = [levels[t] for t in grid.index.get_level_values("tier")]
    grid["tier_level"] = lv
    grid["strategy"] = [
        f"{STAGE_STRATEGY[st]} — {_TIER_MODIFIER[level]}" for st, level in zip(grid.index.get_level_values("stage"), lv)
    ]
    cols = ["customers", "customer_share", "revenue", "revenue_share"] + (["clv"] if clv is not None else []) + [
        "clv_share", "tier_level", "strategy"]
    return grid[cols]


def plot_stage_value_grid(grid: pd.DataFrame, value: str = "revenue_share", ax: Any = None) -> Any:
    """Heatmap of one column of :func:`stage_value_grid` (stages x tiers), cells annotated."""
    import matplotlib.pyplot as plt

    tier_order = list(dict.fromkeys(grid.index.get_level_values("tier")))
    m = grid[value].unstack("tier")
    m = m.reindex(index=list(STAGES), columns=tier_order)
    counts = grid["customers"].unstack("tier").reindex(index=list(STAGES))[m.columns]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * m.shape[1] + 2.5, 3.8))
    im = ax.imshow(m.to_numpy(dtype=float), cmap="Blues", aspect="auto")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            v = m.iat[i, j]
            ax.text(j, i, f"{v:.1%}\n(n={int(counts.iat[i, j]):,})", ha="center", va="center", fontsize=8,
                    color="white" if v > np.nanmax(m.to_numpy(dtype=float)) * 0.6 else "black")
    ax.set_xticks(range(m.shape[1]), m.columns)
    ax.set_yticks(range(m.shape[0]), m.index)
    ax.set_xlabel("value tier")
    ax.set_ylabel("lifecycle stage")
    ax.set_title(f"Stage x value grid: {value.replace('_', ' ')}")
    ax.grid(False)
    ax.figure.colorbar(im, ax=ax, fraction=0.04)
    return ax
