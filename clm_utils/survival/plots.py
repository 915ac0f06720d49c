"""Survival plots: Kaplan-Meier curves with CI bands and an at-risk table; model-implied curves against KM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.survival.kaplan_meier import KaplanMeier

__all__ = ["plot_km", "plot_model_vs_km"]


def plot_km(
    fits: Mapping[str, KaplanMeier] | KaplanMeier,
    ax: Any = None,
    ci: bool = True,
    at_risk_counts: bool = True,
    at_risk_times: Sequence[float] | None = None,
    time_label: str = "weeks since first purchase",
    title: str = "Kaplan-Meier survival",
    show_median: bool = True,
) -> Any:
    """Step curves with pointwise CI bands, medians marked, and an at-risk table below.

    Returns the main Axes.
    """
    import matplotlib.pyplot as plt

    if isinstance(fits, KaplanMeier):
        fits = {fits.label: fits}
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    tmax = max(float(f.survival_function_.index.max()) for f in fits.values())
    for i, (name, f) in enumerate(fits.items()):
        sf = f.survival_function_
        color = f"C{i % 10}"
        med = "" if not np.isfinite(f.median_) else f", median {f.median_:.1f}"
        # start at S = 1 just before time 0 so that events at time 0 show as a drop
        x = np.concatenate([[0.0], sf.index.to_numpy(dtype=float)])
        ax.step(x, np.concatenate([[1.0], sf["survival"].to_numpy()]), where="post", color=color,
                label=f"{name} (n={f.n_:,}{med})")
        if ci:
            ax.fill_between(x, np.concatenate([[1.0], sf["lower"].to_numpy()]),
                            np.concatenate([[1.0], sf["upper"].to_numpy()]), step="post", color=color, alpha=0.15, lw=0)
        if show_median and np.isfinite(f.median_):
            ax.plot([f.median_], [0.5], marker="o", color=color, ms=4)
    ax.axhline(0.5, color="grey", lw=0.6, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, tmax * 1.01 if tmax > 0 else 1)
    ax.set_ylabel("share not churned S(t)")
    ax.set_xlabel(time_label)
    ax.set_title(title)
    if len(fits) > 3:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    if at_risk_counts:
        ticks = np.asarray(at_risk_times if at_risk_times is not None else ax.get_xticks(), dtype=float)
        ticks = ticks[(ticks >= 0) & (ticks <= tmax * 1.01)]
        ax.set_xticks(ticks)
        ax.set_xlim(0, tmax * 1.01 if tmax > 0 else 1)
        n = len(fits)
        # the at-risk table lives in its own axes under the x-axis label, sharing the time scale
        height_in = 0.2 * (n + 1)
        ax_h = ax.get_position().height * ax.figure.get_figheight()
        frac = height_in / ax_h
        risk = ax.inset_axes([0.0, -0.2 - frac, 1.0, frac])
        risk.set_xlim(ax.get_xlim())
        risk.set_ylim(-0.5, n + 0.5)
        risk.axis("off")
        risk.text(-0.05, n, "at risk", fontsize=7, ha="right", va="center", transform=risk.get_yaxis_transform())
        for i, (name, f) in enumerate(fits.items()):
            y = n - 1 - i
            counts = f.at_risk(ticks).to_numpy()
            risk.text(-0.05, y, str(name), fontsize=7, ha="right", va="center", color=f"C{i % 10}",
                      transform=risk.get_yaxis_transform())
            for x, c in zip(ticks, counts):
                risk.text(x, y, f"{int(c):,}", fontsize=7, ha="center", va="center")
    return ax


def plot_model_vs_km(
    km: KaplanMeier,
    curves: pd.DataFrame,
    ax: Any = None,
    time_label: str = "weeks since first purchase",
    km_label: str = "Kaplan-Meier",
    title: str = "Model-implied survival vs Kaplan-Meier",
) -> Any:
    """The Kaplan-Meier curve (step, CI band) and model-implied survival curves (lines).

    ``curves``: :func:`clm_utils.survival.model_implied_survival` output (index = time, one
    column per model).  Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    sf = km.survival_function_
    ax.step(sf.index, sf["survival"], where="post", color="k", label=km_label)
    ax.fill_between(sf.index, sf["lower"], sf["upper"], step="post", color="k", alpha=0.1)
    for i, name in enumerate(curves.columns):
        ax.plot(curves.index, curves[name], color=f"C{i}", label=f"{name} implied")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(time_label)
    ax.set_ylabel("share alive / not churned")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax
