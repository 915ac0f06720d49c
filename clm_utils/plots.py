"""The shared plot style and the plots used by more than one notebook.

Chinese in plots
----------------
Matplotlib draws text with the fonts it finds; a plain machine (CI, a container, a fresh laptop)
has no CJK font, so every Chinese character would come out as an empty box.  The package ships its
own font, ``clm_utils/fonts/CLMLabSansSC-{Regular,Bold}.otf``: GB 2312 subsets of Noto Sans CJK SC
(SIL Open Font License 1.1; 2.9 MB each), see ``clm_utils/fonts/README.md`` for why this and not
``mplfonts`` (an 85 MB wheel, not on conda-forge) or SVG text (the reader's fonts decide).
:func:`apply_style` registers it and puts it behind the sans-serif family (DejaVu Sans), so Latin
text keeps matplotlib's look and Chinese falls back to the bundled font (matplotlib >= 3.6 falls
back glyph by glyph along ``font.family``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥", "RMB": "¥"}

#: The bundled Chinese font, regular and bold (see the module docstring).
CJK_FONT_PATHS = tuple(Path(__file__).with_name("fonts") / f"CLMLabSansSC-{w}.otf" for w in ("Regular", "Bold"))
#: Its family name as matplotlib reports it.
CJK_FONT_FAMILY = "CLM Lab Sans SC"


@lru_cache(maxsize=1)
def register_cjk_font() -> str:
    """Add the bundled Chinese font to matplotlib's font manager (once); returns its family name."""
    for path in CJK_FONT_PATHS:
        if not path.is_file():
            raise FileNotFoundError(f"{path.name} is missing from the installed package: reinstall clm-lab "
                                    "(the font is package data of clm_utils.fonts)")
        font_manager.fontManager.addfont(str(path))
        family = font_manager.FontProperties(fname=str(path)).get_name()
        if family != CJK_FONT_FAMILY:
            raise RuntimeError(f"{path.name} reports family {family!r}, expected {CJK_FONT_FAMILY!r}")
    return CJK_FONT_FAMILY


def apply_style(lang: str = "en") -> None:
    """One look for every report: seaborn's whitegrid, readable sizes, deterministic output.

    The bundled Chinese font is registered for every language (a Chinese customer or product name
    in an English report renders too); ``lang`` is checked (``en`` or ``zh``).
    """
    import seaborn as sns

    from clm_utils.errors import ParameterError

    if lang not in ("en", "zh"):
        raise ParameterError(f"{lang!r} is not a supported language", parameter="lang", hint="use en or zh")
    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    family = register_cjk_font()
    sans = [f for f in mpl.rcParams["font.sans-serif"] if f not in ("DejaVu Sans", family)]
    mpl.rcParams.update({
        "figure.figsize": (9, 4.8),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "svg.hashsalt": "clm-lab",  # deterministic ids if SVG output is used
        "path.simplify": True,
        # matplotlib falls back glyph by glyph along font.family (a generic name there resolves to
        # one font only), so the Chinese font is listed there, after the usual sans-serif
        "font.family": ["sans-serif", family],
        "font.sans-serif": ["DejaVu Sans", family, *sans],
        "axes.unicode_minus": True,  # DejaVu Sans has U+2212, and it comes first
        "pdf.fonttype": 42,
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
    _fig, ax = plt.subplots(figsize=figsize)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def localize_figure(fig: Figure, lang: str, texts: Mapping[str, str] | None = None) -> Figure:
    """Translate a drawn figure: titles, axis labels, legend entries, annotations and category ticks.

    A text is replaced when it is a key of ``texts`` (an exact-match table of the caller, e.g.
    ``{"Purchases per customer": "每位客户的购买次数"}``), or else when
    :func:`clm_utils.i18n.translate` knows it: a glossary name, a text of the suite's plot functions
    (:data:`clm_utils.i18n.TEXTS_ZH`) or one of its patterns with numbers inside
    (:data:`clm_utils.i18n.PATTERNS_ZH`).  Numeric tick labels are left to their formatters.
    ``en`` leaves the figure unchanged.  Returns ``fig``; translating twice changes nothing.
    """
    from matplotlib.text import Text

    from clm_utils.i18n import translate

    if lang == "en":
        return fig
    table = dict(texts or {})

    def tr(s: str) -> str:
        if s in table:
            return table[s]
        out = translate(s, lang)
        return out if isinstance(out, str) else s

    fig.canvas.draw()  # tick labels exist only after a draw
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            # category ticks (set_xticks(..., labels), categorical data, heatmaps): fix the translated
            # labels; numeric ticks match no glossary name and keep their formatter
            old = [t.get_text() for t in axis.get_majorticklabels()]
            new = [tr(t) for t in old]
            if new != old and len(new) == len(axis.get_majorticklocs()):
                axis.set_ticks(axis.get_majorticklocs(), labels=new)
    for text in fig.findobj(Text):
        s = text.get_text()
        if s and s.strip():
            translated = tr(s)
            if translated != s:
                text.set_text(translated)
    return fig
