"""Customer relationship lifecycle (客户关系生命周期): stages, stage x value grid, transitions, curves.

The lifecycle theory (Dwyer, Schurr & Oh 1987; Chen Mingliang 陈明亮 2002) says a relationship
moves through exploration 考察期, formation 形成期, stability 稳定期 and decline 退化期, and ends
(terminated 终止).  This module turns that theory into measurements on transaction data.

Stage rule (:func:`assign_stages`)
----------------------------------
Every customer's evidence is measured against the customer's **own** history, so a slow buyer is
not "declining" just because they buy less than a fast one:

* ``rhythm``: the customer's mean interval between purchase days, shrunk towards the pooled
  median interval with weight ``rhythm_prior_weight`` intervals (a one-time buyer gets the pooled
  median).  ``silence`` = days since the last purchase / rhythm.
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

1. **terminated** 终止: ``silence >= terminated_multiple`` (default 3: a buyer who still purchased
   at their own Poisson rhythm would show such a silence with probability e^-3 ≈ 5%), or
   ``p_alive < p_alive_terminated`` when P(alive) is given.
2. **decline** 退化期 (from any stage): ``silence >= decline_multiple`` (default 2, probability
   e^-2 ≈ 14% under an unchanged rhythm), or P(alive) < ``p_alive_decline``, or — when at least
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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.errors import DataError, ModelError, ParameterError
from clm_utils.summary import purchase_days

__all__ = [
    "STAGES",
    "STAGES_ZH",
    "STAGE_STRATEGY",
    "StageParams",
    "assign_stages",
    "stage_shares",
    "stage_sensitivity",
    "stage_value_grid",
    "stage_strategy_table",
    "stage_transitions",
    "TransitionResult",
    "lifecycle_curves",
    "LifecycleCurves",
    "evaluate_lifecycle_claims",
    "plot_stage_sensitivity",
    "plot_lifecycle_curves",
    "plot_stage_value_grid",
]

STAGES: tuple[str, ...] = ("exploration", "formation", "stability", "decline", "terminated")
STAGES_ZH: dict[str, str] = {
    "exploration": "考察期",
    "formation": "形成期",
    "stability": "稳定期",
    "decline": "退化期",
    "terminated": "终止",
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
    rhythm_prior_weight: float = 1.0
    prior_rhythm: float | None = None  # days; None = pooled median inter-purchase interval
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


def _purchase_days(transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    if not isinstance(transactions, pd.DataFrame):
        raise DataError("transactions must be a pandas DataFrame")
    missing = [c for c in ("customer_id", "date", "amount") if c not in transactions.columns]
    if missing:
        raise DataError(f"transactions lack the column(s) {', '.join(missing)}", column=missing[0],
                        hint="map your columns with the `columns` parameter")
    tx = transactions.loc[transactions["date"] <= as_of, ["customer_id", "date", "amount"]]
    if len(tx) == 0:
        raise DataError(f"no transactions on or before {as_of.date()}", hint="use a later as-of date")
    return purchase_days(tx)[["customer_id", "date", "amount"]]


def _pooled_median_ipt(days: pd.DataFrame) -> float:
    g = days.groupby("customer_id", sort=False, observed=True)["date"]
    n = g.size()
    span = (g.max() - g.min()).dt.days.astype(float)
    rep = n > 1
    if not rep.any():
        return float("nan")
    return float(np.median(span[rep] / (n[rep] - 1)))


def resolve_params(transactions: pd.DataFrame, as_of: Any = None, **params: Any) -> StageParams:
    """The stage parameters with the data-driven defaults filled in (as used by assign_stages)."""
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    unknown = sorted(set(params) - set(StageParams.__dataclass_fields__))
    if unknown:
        raise ParameterError(f"unknown stage parameter(s): {', '.join(unknown)}", parameter=unknown[0],
                             hint="valid: " + ", ".join(StageParams.__dataclass_fields__))
    p = StageParams(**params)
    p.validate()
    days = _purchase_days(transactions, as_of_ts)
    prior = p.prior_rhythm
    if prior is None:
        prior = _pooled_median_ipt(days)
        if not np.isfinite(prior) or prior <= 0:
            prior = 30.0  # nobody repeats (or all repeat the same day): fall back to a month
    window = p.recent_window if p.recent_window is not None else max(7.0, round(2.0 * prior))
    hist = p.min_history if p.min_history is not None else window
    return StageParams(**{**p.__dict__, "prior_rhythm": float(prior), "recent_window": float(window),
                          "min_history": float(hist)})


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
    p = resolve_params(transactions, as_of_ts, **params)
    days = _purchase_days(transactions, as_of_ts)
    W = float(p.recent_window)
    cut = as_of_ts - pd.Timedelta(days=W)
    cid = days["customer_id"]
    g = days.groupby("customer_id", sort=True, observed=True)
    first = g["date"].min()
    last = g["date"].max()
    n = g.size().astype(float)
    total = g["amount"].sum()
    first_amount = g["amount"].first()
    is_recent = days["date"] > cut
    recent_n = is_recent.groupby(cid, sort=True, observed=True).sum().astype(float)
    recent_spend = days["amount"].where(is_recent, 0.0).groupby(cid, sort=True, observed=True).sum()
    before_n = n - recent_n
    before_spend = total - recent_spend
    tenure = (as_of_ts - first).dt.days.astype(float)
    recency = (as_of_ts - last).dt.days.astype(float)
    span = (last - first).dt.days.astype(float)
    k = p.rhythm_prior_weight
    prior = float(p.prior_rhythm)
    denom = (n - 1.0) + k
    rhythm = np.where(denom > 0, (span + k * prior) / np.where(denom > 0, denom, 1.0), prior)
    rhythm = np.maximum(rhythm, 1.0)  # at least a day: same-day repeaters do not divide by zero
    silence = recency / rhythm
    exposure = ((cut - first).dt.days.astype(float)).clip(lower=0.0)
    evaluable = (exposure >= float(p.min_history)) & (before_n >= 1)
    repeats_before = (before_n - 1.0).clip(lower=0.0)
    rate_before = repeats_before / exposure.where(exposure > 0, np.nan)
    expected = rate_before * W
    rate_ratio = ((recent_n + 0.5) / (expected + 0.5)).where(evaluable)
    spend_before = (before_spend - first_amount).clip(lower=0.0)
    expected_spend = spend_before / exposure.where(exposure > 0, np.nan) * W
    ticket = (total / n).where(total > 0, 1.0)
    spend_ratio = ((recent_spend + 0.5 * ticket) / (expected_spend + 0.5 * ticket)).where(evaluable)
    idx = first.index
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
    term_silence = (silence_s >= p.terminated_multiple) & ~use_pa
    term_pa = use_pa & (pa < p.p_alive_terminated)
    dec_silence = (silence_s >= p.decline_multiple) & ~use_pa
    dec_pa = use_pa & (pa < p.p_alive_decline)
    dec_rate = enough & (rate_ratio <= p.decline_ratio).fillna(False)
    dec_spend = enough & (spend_ratio <= p.decline_ratio).fillna(False)
    explore = n <= p.exploration_max_purchases
    rising = ((rate_ratio >= p.rise_ratio) | (spend_ratio >= p.rise_ratio)).fillna(False)
    immature = (tenure < p.stability_min_tenure) | (n < p.stability_min_purchases)

    conditions = [
        (term_silence | term_pa).to_numpy(),
        (dec_silence | dec_pa | dec_rate | dec_spend).to_numpy(),
        explore.to_numpy(),
        (rising | immature).to_numpy(),
    ]
    stage = np.select(conditions, ["terminated", "decline", "exploration", "formation"], default="stability")
    rule = np.select(
        [
            term_pa.to_numpy(), term_silence.to_numpy(), dec_pa.to_numpy(), dec_silence.to_numpy(),
            dec_rate.to_numpy(), dec_spend.to_numpy(), explore.to_numpy(), rising.to_numpy(), immature.to_numpy(),
        ],
        ["p_alive", "silence", "p_alive", "silence", "rate drop", "spend drop", "few purchases", "rising",
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


def stage_shares(stages: pd.DataFrame | pd.Series) -> pd.Series:
    """Share of customers per stage (all five stages, in order)."""
    s = stages["stage"] if isinstance(stages, pd.DataFrame) else stages
    return s.value_counts(normalize=True).reindex(list(STAGES), fill_value=0.0).rename("share")


def stage_sensitivity(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
    grid: Mapping[str, Sequence[float]] | None = None,
    p_alive: pd.Series | None = None,
    **base: Any,
) -> pd.DataFrame:
    """Stage shares when one threshold at a time moves over a grid (the others at ``base``).

    Default grid: ``terminated_multiple`` 2-5, ``decline_multiple`` 1.5-2.5, ``decline_ratio``
    0.3-0.7, ``recent_window`` 0.5x-2x of the resolved default.

    Returns
    -------
    DataFrame with ``parameter``, ``value``, ``is_default`` and one share column per stage.
    """
    resolved = resolve_params(transactions, as_of, **base)
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
            st = assign_stages(transactions, as_of, p_alive=p_alive, **kw)
            sh = stage_shares(st)
            rows.append({"parameter": name, "value": float(v), "is_default": bool(np.isclose(v, fixed[name])),
                         **sh.to_dict()})
    return pd.DataFrame(rows)


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
    """The strategy per stage (THEORY.md section 3), English with the Chinese stage name."""
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


# ----------------------------------------------------------------------------------------------
# transitions
# ----------------------------------------------------------------------------------------------
@dataclass
class TransitionResult:
    """Stage transitions between two as-of dates.

    ``counts``: rows = stage at ``date_1`` (plus ``new`` for customers acquired after it),
    columns = stage at ``date_2``.  ``probabilities``: the same, row-normalised.
    """

    date_1: pd.Timestamp
    date_2: pd.Timestamp
    counts: pd.DataFrame
    probabilities: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def project(self, steps: int = 4, start: pd.Series | None = None) -> pd.DataFrame:
        """Markov projection of the stage mix (Pfeifer & Carraway 2000's migration model).

        The mix of the existing customers at ``date_2`` (or ``start``) is multiplied by the
        transition matrix ``steps`` times; each step is one ``date_2 - date_1`` interval.  It
        assumes time-homogeneous transitions and no new customers (a closed book): it shows where
        today's customers are heading, not the future size of the business.
        """
        if steps < 0:
            raise ParameterError("steps must be >= 0", parameter="steps")
        P = np.array(self.probabilities.loc[list(STAGES), list(STAGES)].to_numpy(dtype=float), copy=True)
        # a stage never observed at date_1 keeps its customers (identity row) rather than losing them
        empty = self.counts.loc[list(STAGES)].sum(axis=1).to_numpy() == 0
        P[empty] = np.eye(len(STAGES))[empty]
        m = (start if start is not None else self.counts.sum(axis=0)).reindex(list(STAGES), fill_value=0.0)
        m = m.to_numpy(dtype=float)
        if m.sum() <= 0:
            raise ModelError("no customers to project")
        m = m / m.sum()
        rows = [m]
        for _ in range(steps):
            m = m @ P
            rows.append(m)
        step_len = (self.date_2 - self.date_1).days
        out = pd.DataFrame(rows, columns=list(STAGES),
                           index=pd.Index([f"+{i * step_len}d" for i in range(steps + 1)], name="horizon"))
        out.attrs["unobserved_stages"] = [s for s, e in zip(STAGES, empty) if e]
        return out

    def unobserved_stages(self) -> list[str]:
        """Stages nobody was in at ``date_1``: their exit rates are unknown (kept in place by project)."""
        return [s for s in STAGES if self.counts.loc[s].sum() == 0]

    def plot_heatmap(self, ax: Any = None) -> Any:
        """Row-normalised transition matrix as an annotated heatmap."""
        import matplotlib.pyplot as plt

        P = self.probabilities
        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 4.5))
        im = ax.imshow(P.to_numpy(dtype=float), cmap="Purples", vmin=0, vmax=1, aspect="auto")
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                v = P.iat[i, j]
                ax.text(j, i, f"{v:.2f}\n{int(self.counts.iat[i, j]):,}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.6 else "black")
        ax.set_xticks(range(P.shape[1]), P.columns, rotation=30)
        ax.set_yticks(range(P.shape[0]), P.index)
        ax.set_xlabel(f"stage at {self.date_2.date()}")
        ax.set_ylabel(f"stage at {self.date_1.date()}")
        ax.set_title("Stage transitions (row share, count)")
        ax.grid(False)
        ax.figure.colorbar(im, ax=ax, fraction=0.04)
        return ax

    def plot_flow(self, ax: Any = None, min_share: float = 0.002) -> Any:
        """Sankey-style flow: stacked stage bars at both dates joined by bands sized by count."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import PathPatch, Rectangle
        from matplotlib.path import Path

        C = self.counts
        total = float(C.to_numpy().sum())
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 5))
        left_names = list(C.index)
        right_names = list(C.columns)
        colors = {s: f"C{i}" for i, s in enumerate(STAGES)}
        colors["new"] = "0.6"
        gap = 0.02
        x0, x1, w = 0.0, 1.0, 0.06

        def positions(sizes: np.ndarray) -> np.ndarray:
            starts = np.zeros(len(sizes))
            y = 0.0
            for i, s in enumerate(sizes):
                starts[i] = y
                y += s / total * (1 - gap * (len(sizes) - 1)) + (gap if s > 0 else 0)
            return starts

        lsz = C.sum(axis=1).to_numpy(float)
        rsz = C.sum(axis=0).to_numpy(float)
        ly, ry = positions(lsz), positions(rsz)
        scale = (1 - gap * (len(lsz) - 1)) / total
        for i, name in enumerate(left_names):
            if lsz[i] > 0:
                ax.add_patch(Rectangle((x0 - w, ly[i]), w, lsz[i] * scale, color=colors[name]))
                ax.text(x0 - w - 0.01, ly[i] + lsz[i] * scale / 2, f"{name} {int(lsz[i]):,}", ha="right",
                        va="center", fontsize=8)
        for j, name in enumerate(right_names):
            if rsz[j] > 0:
                ax.add_patch(Rectangle((x1, ry[j]), w, rsz[j] * scale, color=colors[name]))
                ax.text(x1 + w + 0.01, ry[j] + rsz[j] * scale / 2, f"{name} {int(rsz[j]):,}", ha="left",
                        va="center", fontsize=8)
        loff = ly.copy()
        roff = ry.copy()
        for i, a in enumerate(left_names):
            for j, b in enumerate(right_names):
                c = float(C.iat[i, j])
                if c <= 0:
                    continue
                h = c * scale
                if c / total >= min_share:
                    ya, yb = loff[i], roff[j]
                    verts = [(x0, ya), (0.5, ya), (0.5, yb), (x1, yb), (x1, yb + h), (0.5, yb + h), (0.5, ya + h),
                             (x0, ya + h), (x0, ya)]
                    codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO, Path.CURVE4,
                             Path.CURVE4, Path.CURVE4, Path.CLOSEPOLY]
                    ax.add_patch(PathPatch(Path(verts, codes), facecolor=colors[a], alpha=0.35, lw=0))
                loff[i] += h
                roff[j] += h
        ax.set_xlim(-0.45, 1.45)
        ax.set_ylim(-0.02, 1.02)
        ax.invert_yaxis()
        ax.axis("off")
        ax.set_title(f"Customer flow between stages: {self.date_1.date()} -> {self.date_2.date()}")
        return ax


def stage_transitions(
    transactions: pd.DataFrame,
    date_1: str | pd.Timestamp,
    date_2: str | pd.Timestamp,
    p_alive_1: pd.Series | None = None,
    p_alive_2: pd.Series | None = None,
    **params: Any,
) -> TransitionResult:
    """Transition matrix between the stages at two as-of dates.

    The data-driven defaults (recent window, pooled rhythm) are resolved once at ``date_1`` and
    used at both dates, so a change of stage reflects the customer, not a moved threshold.
    Customers first seen after ``date_1`` form the row ``new``.
    """
    d1, d2 = pd.Timestamp(date_1), pd.Timestamp(date_2)
    if d2 <= d1:
        raise ParameterError("date_2 must be after date_1", parameter="date_2")
    p = resolve_params(transactions, d1, **params)
    s1 = assign_stages(transactions, d1, p_alive=p_alive_1, **p.__dict__)["stage"]
    s2 = assign_stages(transactions, d2, p_alive=p_alive_2, **p.__dict__)["stage"]
    before = s1.reindex(s2.index).astype(object).fillna("new")
    rows = list(STAGES) + ["new"]
    counts = pd.crosstab(pd.Categorical(before, categories=rows), pd.Categorical(s2.astype(object), categories=list(STAGES)),
                         dropna=False)
    counts = counts.reindex(index=rows, columns=list(STAGES), fill_value=0).astype(int)
    counts.index.name = "from"
    counts.columns.name = "to"
    rs = counts.sum(axis=1)
    probs = counts.div(rs.where(rs > 0, np.nan), axis=0).fillna(0.0)
    return TransitionResult(date_1=d1, date_2=d2, counts=counts, probabilities=probs, params=p.__dict__.copy())


# ----------------------------------------------------------------------------------------------
# aggregate lifecycle curves and the four claims
# ----------------------------------------------------------------------------------------------
@dataclass
class LifecycleCurves:
    """Mean volume / revenue / profit per customer by relationship age, with bootstrap bands.

    ``table`` (index ``age``): ``customers``, and for each of ``volume``, ``revenue``, ``profit``
    the mean and its ``_lower`` / ``_upper`` percentile-bootstrap band.  ``boot`` holds the
    bootstrap replicates (n_boot x ages) per measure, for the claim tests.
    """

    table: pd.DataFrame
    boot: dict[str, np.ndarray]
    period: str
    basis: str
    alpha: float


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
) -> LifecycleCurves:
    """Aggregate lifecycle curves: per-customer volume, revenue and profit by relationship age.

    Parameters
    ----------
    period
        Length of one age step: ``W``, ``M`` (default; a twelfth of a year) or ``Q``.
        Age 0 is the period starting with the first purchase.
    margin, cost_per_order, acquisition_cost
        profit = margin x revenue - cost_per_order x orders, minus the acquisition cost at age 0.
        With the defaults profit equals revenue (set ``margin`` to the gross margin rate).
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
    """
    if period not in ("W", "M", "Q"):
        raise ParameterError("period must be 'W', 'M' or 'Q'", parameter="period")
    if basis not in ("retained", "acquired"):
        raise ParameterError("basis must be 'retained' or 'acquired'", parameter="basis")
    if n_boot < 20:
        raise ParameterError("n_boot must be at least 20", parameter="n_boot")
    plen = {"W": 7.0, "M": 365.25 / 12.0, "Q": 365.25 / 4.0}[period]
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else transactions["date"].max()
    days = _purchase_days(transactions, as_of_ts)
    codes, uniq = pd.factorize(days["customer_id"], sort=True)
    first = days.groupby(codes)["date"].transform("min")
    age = np.floor((days["date"] - first).dt.days.to_numpy() / plen).astype(int)
    n_cust = uniq.size
    first_c = days.groupby(codes)["date"].min().to_numpy()
    observed_ages = np.floor(((as_of_ts - pd.to_datetime(first_c)).days.to_numpy() + 1) / plen).astype(int)
    A = int(observed_ages.max())
    if max_age is not None:
        A = min(A, int(max_age) + 1)
    if A < 1:
        raise ModelError("the data span less than one full period", hint="use a shorter period or a later as_of")
    keep = age < A
    vol = np.zeros((n_cust, A))
    rev = np.zeros((n_cust, A))
    np.add.at(vol, (codes[keep], age[keep]), 1.0)
    np.add.at(rev, (codes[keep], age[keep]), days["amount"].to_numpy()[keep])
    ages = np.arange(A)
    mask = ages[None, :] < observed_ages[:, None]
    if basis == "retained":
        if lookahead < 0:
            raise ParameterError("lookahead must be >= 0", parameter="lookahead")
        bought = np.cumsum(np.concatenate([np.zeros((n_cust, 1)), (vol > 0)], axis=1), axis=1)
        hi = np.minimum(ages + lookahead, A - 1) + 1
        ahead = bought[:, hi] - bought[:, ages]
        mask &= (ages[None, :] + lookahead < observed_ages[:, None]) & (ahead > 0)
    prof = margin * rev - cost_per_order * vol
    prof[:, 0] -= acquisition_cost
    counts = mask.sum(axis=0)
    good = counts >= min_customers
    if not good.any():
        raise ModelError("too few customers per age for lifecycle curves", hint="lower min_customers")
    A = int(np.argmin(good)) if not good.all() else A
    ages, mask, vol, rev, prof, counts = ages[:A], mask[:, :A], vol[:, :A], rev[:, :A], prof[:, :A], counts[:A]
    rng = np.random.default_rng(seed)
    table = {"customers": counts}
    boot: dict[str, np.ndarray] = {}
    W = rng.poisson(1.0, size=(n_boot, n_cust)).astype(np.float32)
    Mw = mask.astype(np.float32)
    denom_b = W @ Mw
    for name, X in (("volume", vol), ("revenue", rev), ("profit", prof)):
        XM = (X * mask).astype(np.float64)
        mean = XM.sum(axis=0) / counts
        with np.errstate(invalid="ignore", divide="ignore"):
            bt = (W.astype(np.float64) @ XM) / denom_b
        boot[name] = bt
        table[name] = mean
        table[f"{name}_lower"] = np.nanquantile(bt, alpha / 2, axis=0)
        table[f"{name}_upper"] = np.nanquantile(bt, 1 - alpha / 2, axis=0)
    out = pd.DataFrame(table, index=pd.Index(ages, name="age"))
    return LifecycleCurves(table=out, boot=boot, period=period, basis=basis, alpha=alpha)


def _growth(x: np.ndarray, a0: int, a1: int, level: np.ndarray) -> np.ndarray:
    """Change from age a0 to a1 relative to the curve's mean level (sign-safe growth)."""
    return (x[..., a1] - x[..., a0]) / np.abs(level)


def _verdict_from_ci(lo: float, hi: float) -> str:
    if lo > 0:
        return "supported"
    if hi < 0:
        return "not supported"
    return "inconclusive"


def evaluate_lifecycle_claims(curves: LifecycleCurves, formation_ages: int = 3) -> pd.DataFrame:
    """Operational tests of the four lifecycle claims of THEORY.md section 3 on the curves.

    1. *Slow rise, rapid growth, plateau, rapid fall*: the profit (and volume) curve has an
       interior peak: rise = X(peak) - X(0) > 0 and fall = X(last) - X(peak) < 0, both with
       bootstrap CIs excluding 0.  Statistic: the smaller of the two standardised margins
       (min(rise, -fall) / mean level); "not supported" if the peak is at age 0 and X(1) < X(0)
       significantly (the curve only falls) or the curve only rises.
    2. *In formation profit grows much faster than volume*: over the formation window (age 0 to
       the volume peak, or to ``formation_ages`` if the volume peaks at age 0) the standardised
       growth of profit minus that of volume; > 0 supports the claim.
    3. *Volume peaks before profit*: age of the profit peak minus age of the volume peak;
       supported if > 0 in at least 1 - alpha of the bootstrap replicates, not supported if <= 0
       in at least 1 - alpha of them.
    4. *In decline profit falls more slowly than volume*: from the volume peak to the last age,
       standardised growth of profit minus that of volume; > 0 supports the claim (profit falls
       less).

    Returns a table with ``claim``, ``test``, ``statistic``, ``estimate``, ``ci_lower``,
    ``ci_upper`` and ``verdict`` ("supported" / "not supported" / "inconclusive").  Verdicts are
    not forced: if a window is too short the verdict is "inconclusive" and the test says why.
    """
    t = curves.table
    a = curves.alpha
    V, P = t["volume"].to_numpy(), t["profit"].to_numpy()
    Vb, Pb = curves.boot["volume"], curves.boot["profit"]
    A = len(t)
    rows = []
    lvlV, lvlP = np.mean(np.abs(V)), np.mean(np.abs(P))
    if lvlV == 0 or lvlP == 0:
        raise ModelError("the lifecycle curves are flat at zero", hint="check the data and margin")

    def q(x: np.ndarray) -> tuple[float, float]:
        x = x[np.isfinite(x)]
        return float(np.quantile(x, a / 2)), float(np.quantile(x, 1 - a / 2))

    # claim 1
    parts = []
    for name, X, Xb, lvl in (("volume", V, Vb, lvlV), ("profit", P, Pb, lvlP)):
        pk = int(np.argmax(X))
        if A < 3:
            parts.append((name, "inconclusive", np.nan, (np.nan, np.nan), f"{name}: fewer than 3 ages"))
            continue
        if 0 < pk < A - 1:
            rise = (Xb[:, pk] - Xb[:, 0]) / lvl
            fall = (Xb[:, pk] - Xb[:, -1]) / lvl
            stat = np.minimum(rise, fall)
            est = float(min(X[pk] - X[0], X[pk] - X[-1]) / lvl)
            lo, hi = q(stat)
            verdict = "supported" if lo > 0 else "inconclusive"
            note = f"{name} peaks at age {pk}"
        elif pk == 0:
            d01 = (Xb[:, 1] - Xb[:, 0]) / lvl
            est = float((X[1] - X[0]) / lvl)
            lo, hi = q(d01)
            verdict = "not supported" if hi < 0 else "inconclusive"
            note = f"{name} is highest at age 0 and falls after it (no rise)"
        else:
            dlast = (Xb[:, -1] - Xb[:, -2]) / lvl
            est = float((X[-1] - X[-2]) / lvl)
            lo, hi = q(dlast)
            verdict = "not supported" if lo > 0 else "inconclusive"
            note = f"{name} is still rising at the last age (no fall observed)"
        parts.append((name, verdict, est, (lo, hi), note))
    verdicts = [p[1] for p in parts]
    v1 = "supported" if all(v == "supported" for v in verdicts) else (
        "not supported" if "not supported" in verdicts else "inconclusive")
    prof = parts[-1]
    rows.append({
        "claim": "1. slow rise, rapid growth, plateau, then fall",
        "test": "interior peak of the per-customer curve with a significant rise before and fall after it; "
                + "; ".join(p[4] for p in parts),
        "statistic": "profit: min(rise, fall) / mean level (or first / last step if the peak is at an end)",
        "estimate": prof[2], "ci_lower": prof[3][0], "ci_upper": prof[3][1], "verdict": v1,
    })
    # claim 2
    pkV = int(np.argmax(V))
    a1 = pkV if pkV >= 1 else min(formation_ages, A - 1)
    if a1 < 1:
        rows.append({"claim": "2. in formation, profit grows faster than volume", "test": "window too short",
                     "statistic": "", "estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan,
                     "verdict": "inconclusive"})
    else:
        st = _growth(Pb, 0, a1, lvlP) - _growth(Vb, 0, a1, lvlV)
        est = float(_growth(P, 0, a1, lvlP) - _growth(V, 0, a1, lvlV))
        lo, hi = q(st)
        win = "age 0 to the volume peak" if pkV >= 1 else f"ages 0-{a1} (volume has no rising phase)"
        # without a rising volume phase there is no formation phase to test: report, do not judge
        v2 = _verdict_from_ci(lo, hi) if pkV >= 1 else "inconclusive"
        rows.append({"claim": "2. in formation, profit grows faster than volume",
                     "test": f"growth of profit minus growth of volume over {win}, each relative to its mean level"
                             + ("" if pkV >= 1 else "; no formation phase in the aggregate curve, so no verdict"),
                     "statistic": "g(profit) - g(volume)", "estimate": est, "ci_lower": lo, "ci_upper": hi,
                     "verdict": v2})
    # claim 3
    lagb = np.argmax(Pb, axis=1) - np.argmax(Vb, axis=1)
    lag = int(np.argmax(P) - np.argmax(V))
    share_pos = float(np.mean(lagb > 0))
    v3 = "supported" if share_pos >= 1 - a else ("not supported" if np.mean(lagb <= 0) >= 1 - a else "inconclusive")
    lo, hi = q(lagb.astype(float))
    rows.append({"claim": "3. volume peaks before profit",
                 "test": f"age of profit peak minus age of volume peak; share of bootstrap replicates > 0: {share_pos:.2f}",
                 "statistic": f"peak lag ({curves.period})", "estimate": float(lag), "ci_lower": lo, "ci_upper": hi,
                 "verdict": v3})
    # claim 4
    if A - 1 - pkV < 2:
        rows.append({"claim": "4. in decline, profit falls more slowly than volume",
                     "test": "fewer than 2 ages after the volume peak", "statistic": "", "estimate": np.nan,
                     "ci_lower": np.nan, "ci_upper": np.nan, "verdict": "inconclusive"})
    else:
        st = _growth(Pb, pkV, A - 1, lvlP) - _growth(Vb, pkV, A - 1, lvlV)
        est = float(_growth(P, pkV, A - 1, lvlP) - _growth(V, pkV, A - 1, lvlV))
        lo, hi = q(st)
        rows.append({"claim": "4. in decline, profit falls more slowly than volume",
                     "test": f"from the volume peak (age {pkV}) to the last age: growth of profit minus growth of volume",
                     "statistic": "g(profit) - g(volume)", "estimate": est, "ci_lower": lo, "ci_upper": hi,
                     "verdict": _verdict_from_ci(lo, hi)})
    return pd.DataFrame(rows).set_index("claim")


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
