"""Validation tables and plots for the continuous-time BTYD models (BG/NBD, MBG/NBD, Pareto/NBD).

The standard checks of Fader, Hardie & Lee (2005):

* tracking: cumulative repeat transactions per time unit, actual vs model (calibration + holdout);
* conditional expectations: mean holdout transactions by calibration frequency, actual vs model;
* calibration frequency histogram, actual vs model;
* the P(alive) matrix over frequency x recency;
* a model comparison table (LL, AIC, BIC, holdout errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clm_utils import config
from clm_utils.clv._base import rfm_arrays
from clm_utils.data.values import ids_in
from clm_utils.errors import DataError, ParameterError


def _need(summary: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in summary.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)}", file="summary",
            hint="use clm_utils.summary.calibration_holdout() for the holdout columns",
        )


def tracking_data(
    model: Any,
    transactions: pd.DataFrame,
    summary: pd.DataFrame,
    calibration_end: Any,
    observation_end: Any,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Repeat transactions per time unit, actual vs expected, for the customers of ``summary``.

    Parameters
    ----------
    model
        Fitted transaction model with ``expected_number_of_purchases_up_to_time(t)``.
    transactions
        Canonical transactions (``customer_id``, ``date``, ``amount``).
    summary
        Calibration summary with ``first_purchase`` (the cohort being tracked).
    calibration_end, observation_end
        Dates.
    time_unit
        Period length of the grid and unit of the model.

    Returns
    -------
    DataFrame
        One row per period end: ``period_end`` (date), ``t`` (units since the first first
        purchase), ``actual``, ``expected`` (repeat purchase days in the period) and the
        cumulative ``actual_cum``, ``expected_cum``; ``attrs['calibration_t']`` marks the split.
    """
    return _tracking_frame(model, _TrackingActual(transactions, summary, calibration_end, observation_end, time_unit))


class _TrackingActual:
    """The model-free part of :func:`tracking_data`: the period grid and the actual repeat purchase days
    (computed once when several models are tracked)."""

    def __init__(self, transactions: pd.DataFrame, summary: pd.DataFrame, calibration_end: Any, observation_end: Any,
                 time_unit: str) -> None:
        _need(summary, ["first_purchase"])
        unit = config.unit_days(time_unit)
        cal = pd.Timestamp(calibration_end)
        obs = pd.Timestamp(observation_end)
        first = pd.to_datetime(summary["first_purchase"])
        start = first.min()
        n_per = int(np.ceil((obs - start).days / unit))
        ends = start + pd.to_timedelta(np.arange(1, n_per + 1) * unit, unit="D")
        ends = ends.where(ends <= obs, obs)
        # the calibration end is a grid point too, so the split can be read off the curves
        ends = pd.DatetimeIndex(sorted(set(ends) | ({cal} if start < cal < obs else set())))
        n_per = len(ends)
        # actual: purchase days after the first one, for the tracked customers
        tx = transactions[ids_in(transactions[config.CUSTOMER_ID], summary.index) & (transactions[config.DATE] <= obs)]
        rep = np.array([], dtype="datetime64[ns]")
        if len(tx):
            from clm_utils.lifecycle.stages import _days

            d = _days(tx, obs, need_amount=False)  # one row per (customer, day), integer codes, no text group-by
            fp = first.reindex(d.ids).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
            rep = d.day[d.day > fp[d.code]].astype("datetime64[D]").astype("datetime64[ns]")
        per = np.minimum(np.searchsorted(ends.to_numpy(), rep, side="left"), n_per - 1)
        self.actual = np.bincount(per, minlength=n_per).astype(float)
        self.first, self.start, self.ends, self.cal, self.unit, self.time_unit = first, start, ends, cal, unit, time_unit


def _tracking_frame(model: Any, grid: _TrackingActual) -> pd.DataFrame:
    """:func:`tracking_data` of ``model`` on a computed grid and actual."""
    first, start, ends, unit = grid.first, grid.start, grid.ends, grid.unit
    # expected: sum over first-purchase dates of E[X(age)]
    fd, counts = np.unique((first - start).dt.days.to_numpy(dtype=float), return_counts=True)
    t_end = (ends - start) / pd.Timedelta(days=1)
    t_end = np.asarray(t_end, dtype=float)
    age = np.clip((t_end[:, None] - fd[None, :]) / unit, 0, None)
    E = np.asarray(model.expected_number_of_purchases_up_to_time(age.ravel())).reshape(age.shape)
    exp_cum = E @ counts
    out = pd.DataFrame({
        "period_end": ends,
        "t": t_end / unit,
        "actual": grid.actual,
        "expected": np.diff(np.concatenate([[0.0], exp_cum])),
    })
    out["actual_cum"] = out["actual"].cumsum()
    out["expected_cum"] = exp_cum
    out.attrs["calibration_t"] = (grid.cal - start).days / unit
    out.attrs["time_unit"] = grid.time_unit
    return out


def plot_tracking(data: pd.DataFrame, cumulative: bool = True, ax: Axes | None = None, label: str = "model") -> Axes:
    """Tracking plot: repeat transactions over time, actual vs model, calibration end marked."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    a, e = ("actual_cum", "expected_cum") if cumulative else ("actual", "expected")
    ax.plot(data["t"], data[a], color="black", label="actual")
    ax.plot(data["t"], data[e], "--", color="C3", label=label)
    ax.axvline(data.attrs.get("calibration_t", np.nan), color="grey", ls=":", label="end of calibration")
    unit = config.TIME_UNIT_NAMES.get(data.attrs.get("time_unit", "W"), "time units")
    ax.set_xlabel(f"{unit} since the first acquisition")
    ax.set_ylabel("cumulative repeat transactions" if cumulative else "repeat transactions per period")
    ax.set_title("Tracking: " + ("cumulative " if cumulative else "") + "repeat transactions, actual vs model")
    ax.legend()
    return ax


def conditional_expectations(model: Any, summary: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Mean holdout transactions by calibration frequency (censored at ``max_frequency``+), actual vs model."""
    _need(summary, ["frequency_holdout", "duration_holdout"])
    pred = model.conditional_expected_number_of_purchases_up_to_time(summary["duration_holdout"], summary)
    f = np.minimum(summary["frequency"].to_numpy(dtype=int), max_frequency)
    labels = np.where(f >= max_frequency, f"{max_frequency}+", f.astype(str))
    df = pd.DataFrame({"bin": labels, "order": f, "actual": summary["frequency_holdout"].to_numpy(float),
                       "expected": pred.to_numpy()})
    g = df.groupby(["order", "bin"])[["actual", "expected"]].agg(["size", "mean"])
    out = pd.DataFrame({
        "customers": g[("actual", "size")].to_numpy(),
        "actual": g[("actual", "mean")].to_numpy(),
        "expected": g[("expected", "mean")].to_numpy(),
    }, index=pd.Index(g.index.get_level_values("bin"), name="calibration_frequency"))
    return out


def plot_conditional_expectations(table: pd.DataFrame, ax: Axes | None = None, label: str = "model",
                                  unit_name: str = "weeks") -> Axes:
    """Line plot of :func:`conditional_expectations`."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    x = np.arange(len(table))
    ax.plot(x, table["actual"], "o-", color="black", label="actual")
    ax.plot(x, table["expected"], "s--", color="C3", label=label)
    ax.set_xticks(x, table.index)
    ax.set_xlabel("repeat transactions in the calibration period")
    ax.set_ylabel("mean transactions in the holdout period")
    ax.set_title("Conditional expectations: holdout transactions by calibration frequency")
    ax.legend()
    return ax


def frequency_histogram(model: Any, summary: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Customers by calibration repeat frequency (0..max-1, max+), actual vs model."""
    x, _, _ = rfm_arrays(summary)
    exp = model.expected_frequency_distribution(summary, max_frequency)
    f = np.minimum(x.astype(int), max_frequency)
    act = np.bincount(f, minlength=max_frequency + 1).astype(float)
    return pd.DataFrame({"actual": act, "expected": exp.to_numpy()},
                        index=pd.Index(exp.index, name="repeat_transactions"))


def plot_frequency_histogram(table: pd.DataFrame, ax: Axes | None = None, label: str = "model") -> Axes:
    """Bar chart of :func:`frequency_histogram`."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["actual"], width=0.4, color="0.3", label="actual")
    ax.bar(x + 0.2, table["expected"], width=0.4, color="C3", label=label)
    ax.set_xticks(x, table.index)
    ax.set_xlabel("repeat transactions in the calibration period")
    ax.set_ylabel("customers")
    ax.set_title("Calibration frequency: actual vs model")
    ax.legend()
    return ax


def p_alive_matrix(model: Any, summary: pd.DataFrame, max_frequency: int | None = None,
                   n_recency: int = 40) -> pd.DataFrame:
    """P(alive) for a customer observed for T = max(T) over a frequency x recency grid.

    Rows are recency values (0..T), columns frequencies (0..max_frequency, default the 99th
    percentile).  Frequency 0 is evaluated at recency 0 (its only possible value) for every row.
    """
    x, _, T = rfm_arrays(summary)
    Tm = float(T.max())
    if max_frequency is None:
        max_frequency = int(max(np.quantile(x, 0.99), 1))
    if max_frequency < 1:
        raise ParameterError("max_frequency must be >= 1", parameter="max_frequency")
    rec = np.linspace(0, Tm, n_recency)
    fr = np.arange(0, max_frequency + 1, dtype=float)
    R, F = np.meshgrid(rec, fr, indexing="ij")
    Rv = np.where(F == 0, 0.0, R)
    P = model._palive(F.ravel(), Rv.ravel(), np.full(F.size, Tm)).reshape(F.shape)
    out = pd.DataFrame(P, index=pd.Index(np.round(rec, 2), name="recency"),
                       columns=pd.Index(fr.astype(int), name="frequency"))
    out.attrs["T"] = Tm
    return out


def plot_p_alive_matrix(matrix: pd.DataFrame, ax: Axes | None = None, unit_name: str = "weeks") -> Axes:
    """Heatmap of :func:`p_alive_matrix` (recency on the y axis, most recent at the top)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5.5))
    m = matrix.to_numpy()
    im = ax.imshow(m, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1,
                   extent=(matrix.columns.min() - 0.5, matrix.columns.max() + 0.5,
                           matrix.index.min(), matrix.index.max()))
    plt.colorbar(im, ax=ax, label="P(alive)")
    ax.set_xlabel("repeat transactions (frequency)")
    ax.set_ylabel(f"recency ({unit_name} from first to last purchase)")
    ax.set_title(f"P(alive) for a customer first seen {matrix.attrs.get('T', float('nan')):.0f} {unit_name} ago")
    return ax


def compare_models(models: Mapping[str, Any], summary: pd.DataFrame) -> pd.DataFrame:
    """Fit statistics and holdout accuracy of fitted transaction models on the same calibration data.

    Returns
    -------
    DataFrame
        Indexed by model name: ``parameters``, ``log_likelihood``, ``aic``, ``bic``,
        ``holdout_actual``, ``holdout_expected`` (totals), ``total_error_pct``, ``mae`` and ``rmse``
        (per customer), ``correlation``.
    """
    _need(summary, ["frequency_holdout", "duration_holdout"])
    if not models:
        raise ParameterError("no models to compare", parameter="models")
    actual = summary["frequency_holdout"].to_numpy(float)
    rows = []
    for name, m in models.items():
        pred = m.conditional_expected_number_of_purchases_up_to_time(summary["duration_holdout"], summary).to_numpy()
        err = pred - actual
        rows.append({
            "model": name,
            "parameters": len(m.params_),
            "log_likelihood": m.log_likelihood_,
            "aic": m.aic_,
            "bic": m.bic_,
            "holdout_actual": actual.sum(),
            "holdout_expected": pred.sum(),
            "total_error_pct": 100 * (pred.sum() - actual.sum()) / max(actual.sum(), 1e-12),
            "mae": np.abs(err).mean(),
            "rmse": np.sqrt((err**2).mean()),
            "correlation": float(np.corrcoef(pred, actual)[0, 1]) if np.std(pred) > 0 and np.std(actual) > 0 else np.nan,
        })
    return pd.DataFrame(rows).set_index("model")


def calibration_counts(calibration: pd.DataFrame) -> pd.Series:
    """The calibration/holdout facts the published analyses quote: customers, repeat purchase days, repeat buyers,
    holdout purchase days (``calibration`` is :func:`clm_utils.summary.calibration_holdout` output)."""
    _need(calibration, ["frequency", "frequency_holdout"])
    return pd.Series({
        "customers": len(calibration),
        "repeat purchase days in calibration": int(calibration["frequency"].sum()),
        "repeat buyers in calibration": int((calibration["frequency"] > 0).sum()),
        "purchase days in holdout": int(calibration["frequency_holdout"].sum()),
    }, name="count")


def parameter_table(models: Mapping[str, Any]) -> pd.DataFrame:
    """Every model's parameter table (:meth:`summary`) stacked, indexed by (model, parameter).

    Models given as None (say, no spend model on these data) are left out.  Columns: ``estimate``,
    ``se``, ``lower_95``, ``upper_95``, ``log_likelihood``.
    """
    parts = []
    for name, model in models.items():
        if model is None:
            continue
        table = model.summary()
        table = table.assign(log_likelihood=float(getattr(model, "log_likelihood_", np.nan)))
        parts.append(table.set_index(pd.MultiIndex.from_product([[name], table.index], names=["model", "parameter"])))
    return pd.concat(parts) if parts else pd.DataFrame(columns=["estimate", "se", "lower_95", "upper_95"])


def plot_tracking_models(models: Mapping[str, Any], transactions: pd.DataFrame, summary: pd.DataFrame,
                         calibration_end: Any, observation_end: Any, time_unit: str = "W",
                         best: str | None = None, cumulative: bool = True) -> Axes:
    """Tracking plot of several models: the ``best`` one solid against the actual, the others dotted."""
    names = list(models)
    best = best if best in models else names[0]
    grid = _TrackingActual(transactions, summary, calibration_end, observation_end, time_unit)
    data = {name: _tracking_frame(models[name], grid) for name in names}
    ax = plot_tracking(data[best], cumulative=cumulative, label=best)
    col = "expected_cum" if cumulative else "expected"
    for i, name in enumerate(n for n in names if n != best):
        ax.plot(data[name]["t"], data[name][col], ":", color=f"C{i}", label=name)
    ax.legend()
    return ax
