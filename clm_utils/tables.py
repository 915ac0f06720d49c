"""Tables as a reader sees them: HTML with formatted numbers, and the same table as text.

``show(frame, percent=[...], money=[...])`` returns a :class:`Table` that renders as an HTML
table in a notebook and in the reports (thousands separators, percentages, currency), and as
aligned text where only text is shown.  The HTML carries no random ids, so a rerun gives the
same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.plots import currency_symbol


def _fmt_number(decimals: int) -> Callable[[Any], str]:
    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return "–"
        if isinstance(v, pd.Timestamp):
            return v.strftime("%Y-%m-%d") if v == v.normalize() else v.strftime("%Y-%m-%d %H:%M")
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
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
            {"selector": "th", "props": "text-align: left; padding: 2px 8px;"},
            {"selector": "td", "props": "text-align: right; padding: 2px 8px;"},
            {"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left;"},
        ])
        return str(styler.to_html())

    def __repr__(self) -> str:
        text = self.formatted().to_string(index=self.index)
        return f"{self.caption}\n{text}" if self.caption else text


def show(frame: pd.DataFrame | pd.Series, *, percent: Sequence[Any] = (), money: Sequence[Any] = (),
         currency: str = "USD", decimals: int = 2, percent_decimals: int = 1, caption: str | None = None,
         index: bool = True) -> Table:
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
            formats[col] = _fmt_number(decimals)
    return Table(frame, formats, caption=caption, index=index)
