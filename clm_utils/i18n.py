"""Reports in English or Chinese from one source: language cells, labels, and locale formatting.

One source of text
------------------
A notebook stays a single file.  Narrative that differs by language is written as one markdown
cell per language, tagged ``lang-en`` and ``lang-zh`` and placed side by side (the English cell,
then its Chinese translation), so a translator sees both.  Untagged cells are shown in every
language.  Before a report is rendered, :func:`select_language` keeps the cells of the chosen
language and drops the others; :func:`missing_translations` lists tagged cells that have no
translation next to them (and, in strict mode, untagged prose), and the tests run it over every
notebook.

Labels of tables and plots go through the glossary (:func:`label`, :func:`localize`,
:func:`clm_utils.plots.localize_figure`); numbers and dates through :func:`format_number` and
:func:`format_date` (``2025年12月31日`` in Chinese prose, ISO ``2025-12-31`` in tables).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import nbformat
import numpy as np
import pandas as pd

from clm_utils import glossary
from clm_utils.errors import ParameterError

LANGS: tuple[str, ...] = glossary.LANGS
DEFAULT_LANG = "en"
#: Cell tag per language.
TAGS: dict[str, str] = {lang: f"lang-{lang}" for lang in LANGS}
_TAG = re.compile(r"^lang-(.+)$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")

label = glossary.label
localize = glossary.localize
category_label = glossary.category_label


def check_lang(lang: str) -> str:
    """``lang`` if it is supported (``en`` or ``zh``); a :class:`ParameterError` otherwise."""
    if lang not in LANGS:
        raise ParameterError(f"{lang!r} is not a supported language", parameter="lang", hint="use en or zh")
    return lang


def pick(en: str, zh: str, lang: str) -> str:
    """The text for ``lang``: ``pick("Customers", "客户数", lang)`` (for short strings in code cells)."""
    return en if check_lang(lang) == "en" else zh


# ---------------------------------------------------------------------------------------------
# language cells
# ---------------------------------------------------------------------------------------------
def cell_language(cell: Any, where: str = "cell") -> str | None:
    """The language a cell is tagged with (``lang-en`` -> ``"en"``), or None for an untagged cell.

    Raises :class:`ParameterError` for an unknown ``lang-*`` tag or a cell tagged with two languages.
    """
    langs = [m.group(1) for tag in cell.get("metadata", {}).get("tags", []) if (m := _TAG.match(str(tag)))]
    if not langs:
        return None
    if len(langs) > 1:
        raise ParameterError(f"{where} is tagged with more than one language ({', '.join(langs)})",
                             parameter="tags", hint="give each cell one lang-en or lang-zh tag")
    if langs[0] not in LANGS:
        raise ParameterError(f"{where} has the unknown language tag lang-{langs[0]}", parameter="tags",
                             hint="use lang-en or lang-zh")
    return langs[0]


def select_language(nb: nbformat.NotebookNode, lang: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the cells of other languages removed (untagged cells are kept).

    Parameters
    ----------
    nb
        A notebook (nbformat 4); it is not modified.
    lang
        ``en`` or ``zh``.  The copy records it in ``metadata["clm"]["lang"]``.

    Returns
    -------
    nbformat.NotebookNode
        Same cells in the same order, less those tagged ``lang-<other>``.
    """
    check_lang(lang)
    out = copy.deepcopy(nb)
    out.cells = [c for i, c in enumerate(out.cells) if cell_language(c, f"cell {i}") in (None, lang)]
    out.metadata.setdefault("clm", {})["lang"] = lang
    return out


def _is_prose(cell: Any) -> bool:
    """A markdown cell with words in it (not only a rule, an image or an empty line)."""
    if cell.get("cell_type") != "markdown":
        return False
    text = re.sub(r"<[^>]+>|!\[[^\]]*\]\([^)]*\)|[#>*_`|\-\s:=]", "", str(cell.get("source", "")))
    return bool(_CJK.search(text) or _LATIN_WORD.search(text))


def missing_translations(nb: nbformat.NotebookNode, strict: bool = False) -> list[str]:
    """Problems with the language cells of ``nb``, one sentence each; empty when all is translated.

    Rules: consecutive language-tagged cells form a unit and must hold the same number of cells for
    every language (a ``lang-en`` cell needs its ``lang-zh`` cell next to it, and the other way
    round); a ``lang-zh`` cell must contain Chinese and a ``lang-en`` cell must contain English
    words (a copied, untranslated cell is caught); no tagged cell may be empty.  With ``strict``,
    an untagged markdown cell with prose is reported too (it would show in one language in both
    reports).  Untagged notebooks pass when not strict.
    """
    problems: list[str] = []
    units: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for i, cell in enumerate(nb.cells):
        lang = cell_language(cell, f"cell {i}")
        if lang is None:
            if current:
                units.append(current)
                current = []
            if strict and _is_prose(cell):
                head = str(cell.source).strip().splitlines()[0][:60]
                problems.append(f"cell {i}: untagged markdown ({head!r}): split it into lang-en and lang-zh cells")
            continue
        current.append((i, lang))
        text = str(cell.get("source", ""))
        if not text.strip():
            problems.append(f"cell {i} (lang-{lang}) is empty")
        elif lang == "zh" and not _CJK.search(text):
            problems.append(f"cell {i} (lang-zh) has no Chinese text: translate it")
        elif lang == "en" and not _LATIN_WORD.search(text):
            problems.append(f"cell {i} (lang-en) has no English text")
    if current:
        units.append(current)
    for unit in units:
        counts = {lang: sum(1 for _i, x in unit if x == lang) for lang in LANGS}
        if len(set(counts.values())) > 1:
            cells = ", ".join(f"{i} (lang-{x})" for i, x in unit)
            lacking = [lang for lang, n in counts.items() if n < max(counts.values())]
            problems.append(f"cells {cells}: no lang-{'/lang-'.join(lacking)} translation next to them")
    return problems


# ---------------------------------------------------------------------------------------------
# locale formatting
# ---------------------------------------------------------------------------------------------
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


def format_date(value: Any, lang: str = DEFAULT_LANG, style: str = "prose") -> str:
    """A date for a report.

    ``style="table"`` gives ISO 8601 (``2025-12-31``) in every language; ``style="prose"`` gives
    ``31 December 2025`` (en) or ``2025年12月31日`` (zh).  Accepts anything :func:`pandas.Timestamp`
    reads; the time of day is dropped.  ``NaT`` / None give an empty string.
    """
    check_lang(lang)
    if style not in ("prose", "table"):
        raise ParameterError(f"{style!r} is not a date style", parameter="style", hint="use prose or table")
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"{value!r} is not a date", parameter="value", hint="pass a date or an ISO string") from exc
    d: dt.date = ts.date()
    if style == "table":
        return d.isoformat()
    if lang == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"


def format_number(value: float | None, lang: str = DEFAULT_LANG, decimals: int | None = None, *,
                  percent: bool = False, currency: str | None = None, compact: bool = False) -> str:
    """A number for a report: ``1,234.5``; ``12.3%``; ``$1,234.50``; compact ``1.2k`` / ``1.2万``.

    Parameters
    ----------
    value
        The number; NaN / None give ``"–"``.
    lang
        ``en`` or ``zh``.  Both group digits in threes with a comma (the Chinese convention in
        business writing); ``compact`` uses k / M / B / T in English and 万 (10^4) / 亿 (10^8) / 万亿
        (10^12) in Chinese.
    decimals
        Digits after the point; default 0 for integers, 2 for money, 1 for percentages and compact
        numbers, otherwise 2.
    percent
        ``value`` is a share in [0, 1], shown as a percentage.
    currency
        An ISO code (``USD``, ``CNY``, ...): the number is prefixed with its symbol
        (:func:`clm_utils.plots.currency_symbol`).
    compact
        Large numbers shortened for prose (CLDR's short decimal format, as Babel writes it, except
        a lower-case ``k`` as in the plots' money axes).
    """
    check_lang(lang)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    x = float(value)
    if percent:
        return f"{x * 100:,.{1 if decimals is None else decimals}f}%"
    prefix = ""
    if currency is not None:
        from clm_utils.plots import currency_symbol

        prefix = currency_symbol(currency)
    sign = "-" if x < 0 else ""
    a = abs(x)
    if compact:
        # CLDR's short decimal format: the largest unit the value reaches after rounding (half to even,
        # on the decimal value), trailing zeros dropped
        digits = 1 if decimals is None else decimals
        steps = ((10**12, "万亿"), (10**8, "亿"), (10**4, "万")) if lang == "zh" else (
            (10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k"))
        units = (*steps, (1, ""))
        exact = Decimal(repr(a))
        quantum = Decimal(1).scaleb(-digits)

        def scaled(size: int) -> Decimal:
            return (exact / size).quantize(quantum, rounding=ROUND_HALF_EVEN)

        pos = next(i for i, (size, _s) in enumerate(units) if exact >= size or size == 1)
        if pos > 0 and scaled(units[pos][0]) * units[pos][0] >= units[pos - 1][0]:
            pos -= 1  # 999,960 rounds to 1,000k: write 1M
        size, suffix = units[pos]
        text = f"{scaled(size):f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return f"{sign}{prefix}{text}{suffix}"
    if decimals is None:
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        decimals = 0 if is_int and currency is None else 2
    return f"{sign}{prefix}{a:,.{decimals}f}"


_UNITS = {"D": ("day", "days", "天"), "W": ("week", "weeks", "周"), "M": ("month", "months", "个月"),
          "Q": ("quarter", "quarters", "个季度"), "Y": ("year", "years", "年")}


def format_duration(value: float, unit: str, lang: str = DEFAULT_LANG, decimals: int = 0) -> str:
    """``26 weeks`` / ``26周``, ``6 months`` / ``6个月``; ``unit`` is one of D, W, M, Q, Y."""
    check_lang(lang)
    u = unit.upper()
    if u not in _UNITS:
        raise ParameterError(f"{unit!r} is not a time unit", parameter="unit", hint="use D, W, M, Q or Y")
    one, many, zh = _UNITS[u]
    number = f"{value:,.{decimals}f}"
    if lang == "zh":
        return f"{number}{zh}"
    return f"{number} {one if float(number.replace(',', '')) == 1 else many}"


def unit_name(unit: str, lang: str = DEFAULT_LANG) -> str:
    """The plural name of a time unit for axis labels: ``weeks`` / ``周``."""
    check_lang(lang)
    u = unit.upper()
    if u not in _UNITS:
        raise ParameterError(f"{unit!r} is not a time unit", parameter="unit", hint="use D, W, M, Q or Y")
    _one, many, zh = _UNITS[u]
    return many if lang == "en" else zh.removeprefix("个")
