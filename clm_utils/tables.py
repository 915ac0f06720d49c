"""Tables as a reader sees them: HTML with formatted numbers, and the same table as text.

``show(frame, percent=[...], money=[...])`` returns a :class:`Table` that renders as an HTML
table in a notebook and in the reports (thousands separators, percentages, currency), and as
aligned text where only text is shown.  The HTML carries no random ids, so a rerun gives the
same bytes.

Language: :func:`set_language` (called by :func:`clm_utils.notebook.start` with the run's ``lang``)
makes every later :func:`show` label its table in that language: in Chinese, column names, index
labels and names, category values (segments, tiers, stages, activity, quadrants) and the caption go
through the glossary and :func:`clm_utils.i18n.translate`; numbers keep their format and dates stay
ISO 8601.  ``show(..., lang="zh")`` overrides it for one table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.plots import currency_symbol

_LANG = {"lang": "en"}


def set_language(lang: str) -> None:
    """Label every later :func:`show` table in ``lang`` (``en`` or ``zh``)."""
    from clm_utils.i18n import check_lang

    _LANG["lang"] = check_lang(lang)


def get_language() -> str:
    """The language :func:`show` labels tables in (``en`` unless :func:`set_language` changed it)."""
    return _LANG["lang"]


def _fmt_number(decimals: int, lang: str = "en") -> Callable[[Any], str]:
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")

    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return "–"
        if isinstance(v, pd.Timestamp):
            return v.strftime("%Y-%m-%d") if v == v.normalize() else v.strftime("%Y-%m-%d %H:%M")
        if isinstance(v, (bool, np.bool_)):
            return yes if v else no
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        if isinstance(v, (float, np.floating)):
            if math.isinf(v):
                return "∞" if v > 0 else "-∞"
            if float(v).is_integer() and abs(v) >= 1000:
                return f"{v:,.0f}"
            return f"{v:,.{decimals}f}"
        return str(v)

    return fmt


def _fmt_percent(decimals: int) -> Callable[[Any], str]:
    def fmt(v: Any) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return f"{float(v):.{decimals}%}"

    return fmt


def _fmt_money(symbol: str, decimals: int) -> Callable[[Any], str]:
    def fmt(v: Any) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return "–"
        sign = "-" if float(v) < 0 else ""
        return f"{sign}{symbol}{abs(float(v)):,.{decimals}f}"

    return fmt


class Table:
    """A DataFrame with column formats; HTML in notebooks, aligned text elsewhere.

    Attributes
    ----------
    frame
        The data, unchanged (use it for further computation).
    formats
        Column name -> function turning a value into its text.
    """

    def __init__(self, frame: pd.DataFrame, formats: dict[Any, Callable[[Any], str]], caption: str | None = None,
                 index: bool = True) -> None:
        self.frame = frame
        self.formats = formats
        self.caption = caption
        self.index = index

    def formatted(self) -> pd.DataFrame:
        """The table with every cell as formatted text."""
        out = self.frame.copy()
        for col in out.columns:
            out[col] = out[col].map(self.formats[col]).astype(object)
        return out

    def _repr_html_(self) -> str:
        styler = self.frame.style.format(self.formats).set_uuid("clm")
        if self.caption:
            styler = styler.set_caption(self.caption)
        if not self.index:
            styler = styler.hide(axis="index")
        styler = styler.set_table_attributes('class="clm-table"').set_table_styles([
            # keep-all: a Chinese header breaks at spaces and punctuation, not after every character
            {"selector": "th", "props": "text-align: left; padding: 2px 8px; word-break: keep-all;"},
            {"selector": "td", "props": "text-align: right; padding: 2px 8px; word-break: keep-all;"},
            {"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left;"},
        ])
        return str(styler.to_html())

    def __repr__(self) -> str:
        text = self.formatted().to_string(index=self.index)
        return f"{self.caption}\n{text}" if self.caption else text


def show(frame: pd.DataFrame | pd.Series, *, percent: Sequence[Any] = (), money: Sequence[Any] = (),
         currency: str = "USD", decimals: int = 2, percent_decimals: int = 1, caption: str | None = None,
         index: bool = True, lang: str | None = None) -> Table:
    """Format a table for a report.

    Parameters
    ----------
    frame
        Any DataFrame (a Series becomes one column).
    percent
        Columns holding shares (0.25 → 25.0%).
    money
        Columns holding amounts of ``currency``.
    decimals
        Decimals of other non-integer numbers; integers get thousands separators.
    caption, index
        Title above the table; whether to show the index.
    lang
        ``en`` or ``zh``; default: the language set by :func:`set_language` (the run's language).
        In Chinese the labels are translated (:func:`localize_table`); the data are not changed.
    """
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    missing = [c for c in [*percent, *money] if c not in frame.columns]
    if missing:
        raise KeyError(f"no column {missing[0]!r} in the table")
    symbol = currency_symbol(currency)
    formats: dict[Any, Callable[[Any], str]] = {}
    for col in frame.columns:
        if col in percent:
            formats[col] = _fmt_percent(percent_decimals)
        elif col in money:
            formats[col] = _fmt_money(symbol, decimals)
        else:
            formats[col] = _fmt_number(decimals, lang or get_language())
    if (lang or get_language()) != "en":
        return _localized_table(frame, formats, lang or get_language(), caption, index)
    return Table(frame, formats, caption=caption, index=index)


def _localized_table(frame: pd.DataFrame, formats: dict[Any, Callable[[Any], str]], lang: str, caption: str | None,
                     index: bool) -> Table:
    out, origin = _localize(frame, lang)
    new_formats = {new: formats[old] for new, old in zip(out.columns, origin, strict=True)}
    text = None if caption is None else translate_label(caption, lang)
    return Table(out, new_formats, caption=text, index=index)


#: ``X_zh`` columns hold the Chinese names of column ``X`` (or of the index); in a Chinese table they
#: replace it.  Companions whose name differs from the stem:
_ZH_COMPANIONS = {"class_zh": "activity", "tier_zh": "tier"}
#: Columns that mark a table of the BTYD customer summary or its model outputs.
_BTYD_MARKERS = frozenset({"T", "recency", "p_alive", "expected_purchases", "clv"})
#: Index names whose values are ids or other data, not labels.
_DATA_INDEX = ("customer_id", "cohort", "period", "date")


def translate_label(value: Any, lang: str) -> Any:
    """A label (column or index name, category value, caption) in ``lang``; unknown labels stay."""
    from clm_utils.i18n import translate

    return translate(value, lang)


def localize_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``frame`` labelled for ``lang``: headers, index labels and names, category and text values.

    ``X_zh`` columns replace their English companion (a column ``X`` or the index) and are dropped;
    a table with ``frequency`` and a BTYD column (``T``, ``recency``, ``p_alive``, ``expected_purchases``,
    ``clv``) gets the BTYD names (``frequency`` = repeat purchase days, 重复购买次数).
    Duplicate Chinese headers are told apart by the English name in brackets.  Numbers, dates and
    ids are not touched.  ``en`` returns ``frame``.
    """
    return _localize(frame, lang)[0]


def _localize(frame: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, list[Any]]:
    from clm_utils import glossary

    if lang == "en":
        return frame, list(frame.columns)
    out = frame.copy()
    for col in [c for c in out.columns if isinstance(c, str) and c.endswith("_zh")]:
        stem = _ZH_COMPANIONS.get(col, col[:-3])
        if stem in out.columns and stem != col:
            out[stem] = out[col].to_numpy()
        elif out.index.nlevels == 1 and (out.index.name == stem or not pd.api.types.is_numeric_dtype(out.index)):
            out.index = pd.Index(out[col].astype(object).to_numpy(), name=out.index.name)
        else:
            continue
        out = out.drop(columns=col)
    origin = list(out.columns)
    # frequency / recency are the BTYD summary's (repeat purchase days, first to last purchase) in any
    # table of customer-model columns; elsewhere (RFM, cluster features) frequency is the number of purchases
    btyd = bool(_BTYD_MARKERS & set(out.columns)) and "frequency" in out.columns
    names = glossary.BTYD_COLUMNS if btyd else {}
    data_index = out.index.name in _DATA_INDEX or pd.api.types.is_numeric_dtype(out.index)
    for col in out.columns:  # category values (segments, tiers, stages, ...) by their kind
        if col in glossary.CATEGORIES:
            out[col] = glossary.localize(out[[col]], lang).iloc[:, 0].to_numpy()
    if out.index.nlevels == 1 and out.index.name in glossary.CATEGORIES:
        out.index = pd.Index([glossary.category_label(str(out.index.name), v, lang) for v in out.index],
                             name=out.index.name)
    out.columns = pd.Index([glossary.label(names[c], lang) if c in names else c for c in out.columns],
                           name=out.columns.name)

    def lab(v: Any) -> Any:
        return translate_label(v, lang) if isinstance(v, str) else v

    for col in out.columns:
        values = out[col]
        if isinstance(values, pd.DataFrame):  # duplicate labels: leave them
            continue
        if isinstance(values.dtype, pd.CategoricalDtype):
            cats = [lab(c) for c in values.cat.categories]
            if len(set(cats)) == len(cats):
                out[col] = values.cat.rename_categories(cats)
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            out[col] = values.map(lab).astype(object)
    if out.index.nlevels == 1:
        values_ = list(out.index) if data_index else [lab(v) for v in out.index]
        out.index = pd.Index(values_, name=lab(out.index.name), dtype=None if not data_index else out.index.dtype)
    else:
        out.index = pd.MultiIndex.from_tuples([tuple(lab(x) for x in t) for t in out.index],
                                              names=[lab(n) for n in out.index.names])
    if out.columns.nlevels == 1:
        cols = [lab(c) for c in out.columns]
        cols = [f"{c}（{o}）" if cols.count(c) > 1 else c for c, o in zip(cols, origin, strict=True)]
        out.columns = pd.Index(cols, name=lab(out.columns.name))
    return out, origin
