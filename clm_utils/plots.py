"""The shared plot style and the plots used by more than one notebook."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥", "RMB": "¥"}


def apply_style() -> None:
    """One look for every report: seaborn's whitegrid, readable sizes, deterministic output."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    mpl.rcParams.update({
        "figure.figsize": (9, 4.8),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "svg.hashsalt": "clm-lab",  # deterministic ids if SVG output is used
        "path.simplify": True,
    })


def currency_symbol(currency: str) -> str:
    """``$`` for USD, ``€`` for EUR, ...; the code itself followed by a space otherwise."""
    return CURRENCY_SYMBOLS.get(currency.upper(), f"{currency} ")


def money(ax: Axes, axis: str = "y", currency: str = "USD") -> Axes:
    """Format an axis as money: ``$1.2k``, ``$3.4M``."""
    sym = currency_symbol(currency)

    def fmt(value: float, _pos: int) -> str:
        size = abs(value)
        if size >= 1e6:
            return f"{sym}{value / 1e6:.1f}M"
        if size >= 1e3:
            return f"{sym}{value / 1e3:.0f}k"
        return f"{sym}{value:,.0f}"

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(FuncFormatter(fmt))
    return ax


def percent(ax: Axes, axis: str = "y", scale: float = 1.0) -> Axes:
    """Format an axis as percentages; ``scale=1`` means the values are shares in [0, 1]."""
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(
        FuncFormatter(lambda v, _p: f"{v * 100 / scale:.0f}%")
    )
    return ax


def new_axes(title: str, xlabel: str, ylabel: str, figsize: tuple[float, float] | None = None) -> Axes:
    """A fresh figure with one titled and labelled Axes."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax
