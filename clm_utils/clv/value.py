"""Discounted customer lifetime value (客户生命周期价值), bootstrap intervals, and the current x
potential value matrix (Chen Mingliang 陈明亮).

Units.  The summary and the transaction model use one time unit (``time_unit``: D, W, M, Q,
Y; a month is 365.25/12 days, never 30).  The horizon may be given in that unit (a number) or
as text with its own unit (``"12M"``, ``"1Y"``, ``"26W"``).  The discount rate is *per year*
and is converted to the model's unit with :func:`clm_utils.config.unit_days`.

CLV of customer i over horizon H, with the horizon cut into ``n`` equal steps
``0 = t_0 < ... < t_n = H`` (one step per time unit, at most ``max_steps``)::

    CLV_i = margin * E[spend_i] * sum_k (E[Y_i(t_k)] - E[Y_i(t_{k-1})]) / (1 + d)^(years at the step's midpoint)

where ``E[Y_i(t)]`` is the transaction model's conditional expectation.  The midpoint rule makes
the result practically independent of the time unit chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clm_utils import config
from clm_utils.clv._base import compress_rows, rfm_arrays
from clm_utils.errors import ModelError, ParameterError


def horizon_in_units(horizon: float | str, time_unit: str) -> float:
    """Convert ``horizon`` (a number in ``time_unit`` or text like ``"12M"``) to ``time_unit`` units."""
    return config.duration_in_units(horizon, time_unit, "horizon")


def _spend(spend_model: Any, summary: pd.DataFrame) -> np.ndarray:
    if spend_model is None:
        raise ParameterError("a spend model (GammaGamma), a Series or a number is needed", parameter="spend_model")
    if hasattr(spend_model, "conditional_expected_average_profit"):
        return spend_model.conditional_expected_average_profit(summary).to_numpy(dtype=float)
    if isinstance(spend_model, pd.Series):
        s = spend_model.reindex(summary.index)
        if s.isna().any():
            raise ParameterError("the spend Series does not cover every customer", parameter="spend_model")
        return s.to_numpy(dtype=float)
    val = float(spend_model)
    if not math.isfinite(val) or val < 0:
        raise ParameterError("spend must be a non-negative number", parameter="spend_model")
    return np.full(len(summary), val)


def customer_lifetime_value(
    transaction_model: Any,
    spend_model: Any,
    summary: pd.DataFrame,
    horizon: float | str = "12M",
    discount_rate: float = 0.10,
    time_unit: str = "W",
    margin: float = 1.0,
    max_steps: int = 400,
) -> pd.DataFrame:
    """Discounted CLV of every customer over ``horizon``.

    Parameters
    ----------
    transaction_model
        A fitted BetaGeo / ModifiedBetaGeo / ParetoNBD (anything with
        ``conditional_expected_number_of_purchases_up_to_time(t, summary)``).
    spend_model
        A fitted :class:`GammaGamma`, a Series of expected spend per transaction, or a number.
    summary
        Customer summary (``frequency``, ``recency``, ``T`` [, ``monetary_value``]) in ``time_unit``.
    horizon
        Number of ``time_unit`` units, or text with a unit (``"12M"``, ``"1Y"``).
    discount_rate
        Annual discount rate (0.10 = 10% a year).
    time_unit
        The unit of the summary and of the fitted model.
    margin
        Profit margin applied to spend, in (0, 1].
    max_steps
        Upper bound on the number of discounting steps.

    Returns
    -------
    DataFrame
        Indexed like ``summary``: ``expected_purchases`` (undiscounted, over the horizon),
        ``expected_spend`` (per transaction), ``clv`` (discounted margin).
    """
    if not (0 < float(margin) <= 1):
        raise ParameterError("margin must be in (0, 1]", parameter="margin")
    if not math.isfinite(discount_rate) or discount_rate < 0 or discount_rate > 10:
        raise ParameterError("discount_rate is an annual rate between 0 and 10 (0.10 = 10%)", parameter="discount_rate")
    H = horizon_in_units(horizon, time_unit)
    unit = config.unit_days(time_unit)
    n = int(min(max(math.ceil(H - 1e-9), 1), max_steps))
    grid = np.linspace(0.0, H, n + 1)
    years_mid = (grid[:-1] + grid[1:]) / 2.0 * unit / 365.25
    df = (1.0 + discount_rate) ** (-years_mid)
    # evaluate on the unique (frequency, recency, T) rows only
    x, tx, T = rfm_arrays(summary)
    (ux, utx, uT), _, inverse = compress_rows([x, tx, T])
    uniq = pd.DataFrame({"frequency": ux, "recency": utx, "T": uT})
    ucum = np.zeros((len(uniq), n + 1))
    for k in range(1, n + 1):
        ucum[:, k] = transaction_model.conditional_expected_number_of_purchases_up_to_time(grid[k], uniq).to_numpy()
    cum = ucum[inverse]
    inc = np.diff(cum, axis=1)
    disc_purchases = inc @ df
    spend = _spend(spend_model, summary)
    out = pd.DataFrame(
        {
            "expected_purchases": cum[:, -1],
            "discounted_purchases": disc_purchases,
            "expected_spend": spend,
            "clv": float(margin) * spend * disc_purchases,
        },
        index=summary.index,
    )
    if not np.all(np.isfinite(out.to_numpy())):
        raise ModelError("CLV could not be computed for some customers (non-finite predictions)")
    out.attrs.update(horizon=H, time_unit=time_unit, discount_rate=discount_rate, margin=margin)
    return out


def bootstrap_clv(
    clv: pd.Series,
    segments: pd.Series | None = None,
    n_boot: int = 200,
    seed: int = config.DEFAULT_SEED,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Bootstrap intervals for the CLV total and the segment means (customers resampled with replacement).

    The interval reflects which customers happen to be in the base (sampling variability of the
    customer base); parameter uncertainty can be added with :func:`clv_parameter_interval`.

    Parameters
    ----------
    clv
        CLV per customer.
    segments
        Optional segment label per customer (aligned with ``clv``); segment means are resampled
        within segments (stratified), the total over the whole base.
    n_boot
        Number of resamples (>= 20).
    seed
        Seed of the random generator.
    ci
        Interval level.

    Returns
    -------
    DataFrame
        Rows ``total`` and ``mean`` (all customers), then ``mean: <segment>``; columns
        ``customers``, ``estimate``, ``lower``, ``upper``.
    """
    if int(n_boot) < 20:
        raise ParameterError("n_boot must be at least 20", parameter="n_boot")
    if not 0 < ci < 1:
        raise ParameterError("ci must be in (0, 1)", parameter="ci")
    v = clv.to_numpy(dtype=float)
    if v.size == 0:
        raise ModelError("no customers to bootstrap")
    rng = np.random.default_rng(seed)
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    n = v.size
    idx = rng.integers(0, n, size=(int(n_boot), n)) if n * n_boot <= 5e7 else None
    if idx is not None:
        totals = v[idx].sum(axis=1)
    else:
        totals = np.array([v[rng.integers(0, n, size=n)].sum() for _ in range(int(n_boot))])
    rows = [
        {"row": "total", "customers": n, "estimate": v.sum(),
         "lower": np.quantile(totals, lo_q), "upper": np.quantile(totals, hi_q)},
        {"row": "mean", "customers": n, "estimate": v.mean(),
         "lower": np.quantile(totals / n, lo_q), "upper": np.quantile(totals / n, hi_q)},
    ]
    if segments is not None:
        seg = segments.reindex(clv.index)
        for name in sorted(seg.dropna().unique(), key=str):
            sv = v[(seg == name).to_numpy()]
            m = sv.size
            means = np.array([sv[rng.integers(0, m, size=m)].mean() for _ in range(int(n_boot))])
            rows.append({"row": f"mean: {name}", "customers": m, "estimate": sv.mean(),
                         "lower": np.quantile(means, lo_q), "upper": np.quantile(means, hi_q)})
    return pd.DataFrame(rows).set_index("row")


def clv_parameter_interval(
    transaction_model: Any,
    spend_model: Any,
    summary: pd.DataFrame,
    n_draws: int = 50,
    seed: int = config.DEFAULT_SEED,
    ci: float = 0.95,
    **clv_args: Any,
) -> pd.Series:
    """Interval for the CLV total from parameter uncertainty: parameters of both models drawn from
    their asymptotic (log-normal) distributions, CLV recomputed for each draw."""
    import copy

    if int(n_draws) < 10:
        raise ParameterError("n_draws must be at least 10", parameter="n_draws")
    tm_draws = transaction_model.sample_params(int(n_draws), seed)
    sm_draws = spend_model.sample_params(int(n_draws), seed + 1) if hasattr(spend_model, "sample_params") else None
    totals = []
    for i in range(int(n_draws)):
        tm = copy.copy(transaction_model).set_params(**tm_draws.iloc[i].to_dict())
        sm = spend_model
        if sm_draws is not None:
            sm = copy.copy(spend_model).set_params(**sm_draws.iloc[i].to_dict())
        totals.append(customer_lifetime_value(tm, sm, summary, **clv_args)["clv"].sum())
    t = np.asarray(totals)
    return pd.Series({"lower": np.quantile(t, (1 - ci) / 2), "upper": np.quantile(t, 1 - (1 - ci) / 2),
                      "draws": float(n_draws)})


# ------------------------------------------------------------------------------------------
# current x potential value matrix (Chen Mingliang 陈明亮)
# ------------------------------------------------------------------------------------------
QUADRANTS: dict[str, tuple[str, str, str]] = {
    # key: (english name, chinese name, strategy)
    "high_current_high_potential": (
        "most valuable", "最有价值客户",
        "retain at all costs: dedicated service, loyalty benefits, first access; invest most here",
    ),
    "low_current_high_potential": (
        "growth potential", "潜力客户",
        "develop: cross-sell and up-sell, onboarding into the next purchase, raise share of wallet",
    ),
    "high_current_low_potential": (
        "maintain", "维持型客户",
        "maintain at lower cost to serve; find out why future value is low and win back those worth it",
    ),
    "low_current_low_potential": (
        "low value", "低价值客户",
        "serve through low-cost channels only; no special investment",
    ),
}
QUADRANT_ORDER: tuple[str, ...] = tuple(QUADRANTS)


def value_matrix(
    current: pd.Series,
    potential: pd.Series,
    current_split: float | None = None,
    potential_split: float | None = None,
    quantile: float = 0.5,
) -> pd.DataFrame:
    """Place every customer in the current x potential value matrix.

    Parameters
    ----------
    current
        Realised (historical) value per customer, e.g. margin x total spend to date.
    potential
        Predicted future value, e.g. CLV over the horizon.
    current_split, potential_split
        Thresholds between low and high; default: the ``quantile`` of each axis.
    quantile
        Quantile used for the default thresholds (0.5 = medians; 0.8 = top 20% are "high").

    Returns
    -------
    DataFrame
        ``current``, ``potential``, ``quadrant`` (key of :data:`QUADRANTS`), ``quadrant_name``,
        ``quadrant_zh``; ``attrs`` hold the splits.
    """
    df = pd.DataFrame({"current": current.astype(float), "potential": potential.reindex(current.index).astype(float)})
    if df.empty:
        raise ModelError("no customers for the value matrix")
    if df.isna().any().any():
        raise ModelError("current or potential value is missing for some customers")
    if not 0 < quantile < 1:
        raise ParameterError("quantile must be in (0, 1)", parameter="quantile")
    cs = float(df["current"].quantile(quantile)) if current_split is None else float(current_split)
    ps = float(df["potential"].quantile(quantile)) if potential_split is None else float(potential_split)
    hc = df["current"] > cs
    hp = df["potential"] > ps
    key = np.where(hc & hp, "high_current_high_potential",
                   np.where(~hc & hp, "low_current_high_potential",
                            np.where(hc & ~hp, "high_current_low_potential", "low_current_low_potential")))
    df["quadrant"] = pd.Series(key, index=df.index, dtype="str")
    df["quadrant_name"] = [QUADRANTS[k][0] for k in key]
    df["quadrant_zh"] = [QUADRANTS[k][1] for k in key]
    df.attrs.update(current_split=cs, potential_split=ps)
    return df


def value_matrix_summary(matrix: pd.DataFrame) -> pd.DataFrame:
    """Customers, value shares and the strategy of each quadrant (in :data:`QUADRANT_ORDER`)."""
    g = matrix.groupby("quadrant")[["current", "potential"]].agg(["size", "sum", "mean"])
    rows = []
    tot_c, tot_p, n = matrix["current"].sum(), matrix["potential"].sum(), len(matrix)
    for k in QUADRANT_ORDER:
        en, zh, strategy = QUADRANTS[k]
        if k in g.index:
            cnt = int(g.loc[k, ("current", "size")])
            sc, sp = g.loc[k, ("current", "sum")], g.loc[k, ("potential", "sum")]
            mc, mp = g.loc[k, ("current", "mean")], g.loc[k, ("potential", "mean")]
        else:
            cnt, sc, sp, mc, mp = 0, 0.0, 0.0, 0.0, 0.0
        rows.append({"quadrant": en, "quadrant_zh": zh, "customers": cnt, "customer_share": cnt / n,
                     "current_mean": mc, "potential_mean": mp,
                     "current_share": sc / tot_c if tot_c else 0.0,
                     "potential_share": sp / tot_p if tot_p else 0.0, "strategy": strategy})
    return pd.DataFrame(rows).set_index("quadrant")


def plot_value_matrix(matrix: pd.DataFrame, ax: Axes | None = None, currency: str = "USD",
                      max_points: int = 20000, seed: int = config.DEFAULT_SEED) -> Axes:
    """Scatter of current vs potential value (symlog axes) with the split lines and quadrant names."""
    from clm_utils.plots import money

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 6))
    df = matrix
    if len(df) > max_points:
        df = df.sample(max_points, random_state=seed)
    for k in QUADRANT_ORDER:
        sub = df[df["quadrant"] == k]
        ax.scatter(sub["current"], sub["potential"], s=6, alpha=0.4, label=QUADRANTS[k][0])
    cs, ps = matrix.attrs.get("current_split", 0.0), matrix.attrs.get("potential_split", 0.0)
    ax.axvline(cs, color="black", lw=1)
    ax.axhline(ps, color="black", lw=1)
    ax.set_xscale("symlog", linthresh=max(cs / 10, 1e-6))
    ax.set_yscale("symlog", linthresh=max(ps / 10, 1e-6))
    ax.set_xlim(left=min(0.0, float(matrix["current"].min())))
    ax.set_ylim(bottom=min(0.0, float(matrix["potential"].min())))
    money(ax, "x", currency)
    money(ax, "y", currency)
    _small_money(ax, currency)
    ax.set_xlabel(f"current value (realised margin, {currency})")
    ax.set_ylabel(f"potential value (predicted CLV, {currency})")
    ax.set_title("Current x potential value matrix")
    ax.legend(loc="upper left", fontsize=8, markerscale=3)
    return ax


def _small_money(ax: Axes, currency: str) -> None:
    """Money tick labels that keep values below 1 readable ($0.25 rather than $0)."""
    from matplotlib.ticker import FuncFormatter

    from clm_utils.plots import currency_symbol

    sym = currency_symbol(currency)

    def fmt(v: float, _pos: int) -> str:
        a = abs(v)
        if a == 0:
            return f"{sym}0"
        if a < 1:
            return f"{'-' if v < 0 else ''}{sym}{a:.2g}"
        if a >= 1e6:
            return f"{sym}{v / 1e6:.1f}M"
        if a >= 1e3:
            return f"{sym}{v / 1e3:.0f}k"
        return f"{sym}{v:,.0f}"

    ax.xaxis.set_major_formatter(FuncFormatter(fmt))
    ax.yaxis.set_major_formatter(FuncFormatter(fmt))


def plot_clv_distribution(clv: pd.Series, ax: Axes | None = None, currency: str = "USD", bins: int = 60) -> Axes:
    """Histogram of CLV (log-spaced bins for positive values)."""
    from clm_utils.plots import money

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    v = clv.to_numpy(dtype=float)
    pos = v[v > 0]
    if pos.size:
        edges = np.geomspace(max(pos.min(), np.quantile(pos, 0.001)), pos.max() * 1.0001, bins)
        ax.hist(pos, bins=edges, color="C0", alpha=0.8)
        ax.set_xscale("log")
    money(ax, "x", currency)
    ax.set_xlabel(f"CLV over the horizon ({currency}, log scale)")
    ax.set_ylabel("customers")
    ax.set_title("Distribution of predicted customer lifetime value")
    return ax


def segment_clv_table(clv: pd.Series, segments: pd.Series, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Customers, mean and total CLV and CLV share per segment."""
    df = pd.DataFrame({"segment": segments.reindex(clv.index), "clv": clv})
    g = df.groupby("segment", observed=True)["clv"].agg(["size", "mean", "sum"])
    g.columns = ["customers", "clv_mean", "clv_total"]
    g["clv_share"] = g["clv_total"] / g["clv_total"].sum() if g["clv_total"].sum() else 0.0
    if order is not None:
        g = g.reindex([o for o in order if o in g.index])
    else:
        g = g.sort_values("clv_mean", ascending=False)
    return g
