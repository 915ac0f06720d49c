"""Language cells, translation coverage and locale formatting (issue 13).

Dates and numbers are checked against Babel (the CLDR locale data; installed with JupyterLab, used
here only as an independent reference): ``format_date(..., "zh")`` must equal Babel's long zh_CN date,
``format_number(..., compact=True)`` Babel's short decimal format for zh_CN and en_US.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from clm_utils import i18n
from clm_utils.errors import ParameterError
from clm_utils.glossary import GLOSSARY

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CJK = re.compile(r"[\u4e00-\u9fff]")

#: Notebooks whose narrative carries both languages: checked in strict mode (every markdown cell with
#: prose tagged, every tagged cell translated).  Add a notebook here once it is translated.
STRICT_NOTEBOOKS: set[str] = {"00_data_overview", "01_rfm_segmentation", "02_clustering", "03_clv", "04_lifecycle",
                                "05_survival", "06_summary", "07_change", "08_profit_and_customers"}


def md(text: str, lang: str | None = None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text)
    if lang:
        cell.metadata["tags"] = [f"lang-{lang}"]
    return cell


def bilingual_nb() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("lang = 'en'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        md("# RFM segmentation", "en"), md("# RFM 客户细分", "zh"),
        nbformat.v4.new_code_cell("x = 1"),
        md("Recency is the time since the last purchase.", "en"), md("最近一次购买至今的时间间隔。", "zh"),
        md("---"),
    ]
    return nb


# -- select_language ---------------------------------------------------------------------------
def test_select_language_keeps_one_language_and_untagged_cells():
    nb = bilingual_nb()
    before = nbformat.writes(nb)
    en = i18n.select_language(nb, "en")
    zh = i18n.select_language(nb, "zh")
    assert nbformat.writes(nb) == before  # the input is not modified
    assert [c.source for c in en.cells] == ["lang = 'en'", "# RFM segmentation", "x = 1",
                                            "Recency is the time since the last purchase.", "---"]
    assert [c.source for c in zh.cells] == ["lang = 'en'", "# RFM 客户细分", "x = 1", "最近一次购买至今的时间间隔。", "---"]
    assert zh.metadata["clm"]["lang"] == "zh"
    nbformat.validate(en)
    nbformat.validate(zh)
    with pytest.raises(ParameterError):
        i18n.select_language(nb, "fr")


def test_bad_language_tags_are_user_errors():
    nb = bilingual_nb()
    nb.cells[1].metadata["tags"] = ["lang-en", "lang-zh"]
    with pytest.raises(ParameterError, match="more than one language"):
        i18n.select_language(nb, "en")
    nb.cells[1].metadata["tags"] = ["lang-fr"]
    with pytest.raises(ParameterError, match="lang-fr"):
        i18n.missing_translations(nb)


# -- missing_translations ----------------------------------------------------------------------
def test_a_translated_notebook_passes_even_in_strict_mode():
    nb = bilingual_nb()
    assert i18n.missing_translations(nb) == []
    assert i18n.missing_translations(nb, strict=True) == []  # "---" is no prose


def test_missing_translations_are_found():
    nb = bilingual_nb()
    del nb.cells[5]  # the zh cell of the second pair
    problems = i18n.missing_translations(nb)
    assert len(problems) == 1 and "cells 4 (lang-en)" in problems[0] and "lang-zh" in problems[0]
    nb = bilingual_nb()
    del nb.cells[1]  # the en heading
    assert "lang-en" in i18n.missing_translations(nb)[0]
    nb = bilingual_nb()
    nb.cells[2].source = "# RFM segmentation"  # copied, not translated
    assert i18n.missing_translations(nb) == ["cell 2 (lang-zh) has no Chinese text: translate it"]
    nb.cells[2].source = "  "
    assert i18n.missing_translations(nb) == ["cell 2 (lang-zh) is empty"]


def test_strict_mode_reports_untagged_prose():
    nb = bilingual_nb()
    nb.cells.append(md("Customers who bought once are one-time buyers."))
    nb.cells.append(md("<br>"))
    assert i18n.missing_translations(nb) == []
    problems = i18n.missing_translations(nb, strict=True)
    assert len(problems) == 1 and problems[0].startswith("cell 7: untagged markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_is_translated(path):
    nb = nbformat.read(path, as_version=4)
    assert i18n.missing_translations(nb, strict=path.stem in STRICT_NOTEBOOKS) == []
    for lang in i18n.LANGS:  # selecting never loses an untagged cell
        kept = i18n.select_language(nb, lang)
        untagged = [c.source for c in nb.cells if i18n.cell_language(c) is None]
        assert [c.source for c in kept.cells if i18n.cell_language(c) is None] == untagged


def test_strict_list_names_real_notebooks():
    assert STRICT_NOTEBOOKS <= {p.stem for p in NOTEBOOKS}


# -- labels --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(GLOSSARY))
def test_every_glossary_label_has_a_translation(key):
    zh = i18n.label(key, "zh")
    assert isinstance(zh, str) and CJK.search(zh) and zh != key
    assert i18n.label(key, "en") == GLOSSARY[key].en


def test_pick_and_localize_are_reexported():
    assert i18n.pick("Customers", "客户数", "zh") == "客户数" and i18n.pick("Customers", "客户数", "en") == "Customers"
    out = i18n.localize(pd.DataFrame({"stage": ["decline"]}), "zh")
    assert list(out.columns) == ["生命周期阶段"] and list(out.iloc[:, 0]) == ["退化期"]
    with pytest.raises(ParameterError):
        i18n.pick("a", "b", "de")


# -- dates ---------------------------------------------------------------------------------------
def test_format_date_matches_babel_long_dates():
    dates = pytest.importorskip("babel.dates")
    rng = np.random.default_rng(13)
    days = pd.Timestamp("1990-01-01") + pd.to_timedelta(rng.integers(0, 20000, 300), unit="D")
    for ts in list(days) + [pd.Timestamp("2025-12-31 17:45"), pd.Timestamp("2024-02-29")]:
        d = ts.date()
        assert i18n.format_date(ts, "zh") == dates.format_date(d, format="long", locale="zh_CN")
        assert i18n.format_date(ts, "en") == dates.format_date(d, format="long", locale="en_GB")
        assert i18n.format_date(ts, "zh", style="table") == i18n.format_date(ts, "en", style="table") == d.isoformat()


def test_format_date_examples_and_errors():
    assert i18n.format_date("2025-12-31", "zh") == "2025年12月31日"
    assert i18n.format_date(dt.date(2025, 12, 31), "zh", style="table") == "2025-12-31"
    assert i18n.format_date(pd.NaT, "zh") == "" and i18n.format_date(None, "en") == ""
    with pytest.raises(ParameterError):
        i18n.format_date("not a date", "zh")
    with pytest.raises(ParameterError):
        i18n.format_date("2025-12-31", "zh", style="long")


# -- numbers -------------------------------------------------------------------------------------
def test_format_number_matches_babel():
    numbers = pytest.importorskip("babel.numbers")
    rng = np.random.default_rng(7)
    # Babel leaves numbers below the smallest unit unrounded, so the comparison starts there
    for lang, locale, smallest in (("zh", "zh_CN", 1e4), ("en", "en_US", 1e3)):
        values = np.r_[10 ** rng.uniform(np.log10(smallest), 14, 1500), [1050, 765450, 999999, 9999999, 99999999,
                                                                          9999.95, 1e12, 3.2e13]]
        for v in values[values >= smallest]:
            for digits in (1, 2):
                want = numbers.format_compact_decimal(v, locale=locale, fraction_digits=digits).replace("K", "k")
                assert i18n.format_number(v, lang, digits, compact=True) == want, (v, lang)
                assert i18n.format_number(-v, lang, digits, compact=True) == "-" + want, (v, lang)
        for v in rng.normal(0, 1e6, 200):
            assert i18n.format_number(v, lang, 2) == numbers.format_decimal(v, locale=locale, format="#,##0.00")
            assert i18n.format_number(v / 1e6, lang, percent=True) == numbers.format_percent(
                v / 1e6, locale=locale, format="#,##0.0%")


def test_format_number_examples():
    assert i18n.format_number(1234567, "zh") == "1,234,567"
    assert i18n.format_number(1234.5, "en") == "1,234.50"
    assert i18n.format_number(1234.5, "zh", currency="CNY") == "¥1,234.50"
    assert i18n.format_number(-1234.5, "en", currency="USD") == "-$1,234.50"
    assert i18n.format_number(123456, "zh", compact=True) == "12.3万"
    assert i18n.format_number(123456, "en", compact=True, currency="USD") == "$123.5k"
    assert i18n.format_number(0.1234, "zh", percent=True) == "12.3%"
    assert i18n.format_number(float("nan"), "zh") == "–" and i18n.format_number(None, "en") == "–"


def test_durations_and_units():
    assert i18n.format_duration(26, "W", "zh") == "26周" and i18n.format_duration(26, "w", "en") == "26 weeks"
    assert i18n.format_duration(6, "M", "zh") == "6个月" and i18n.format_duration(1, "Y", "en") == "1 year"
    assert i18n.format_duration(2, "Q", "zh") == "2个季度" and i18n.format_duration(182, "D", "zh") == "182天"
    assert i18n.unit_name("W", "zh") == "周" and i18n.unit_name("M", "zh") == "月" and i18n.unit_name("D") == "days"
    with pytest.raises(ParameterError):
        i18n.format_duration(3, "H", "zh")


def test_describe_run_writes_dates_and_numbers_in_the_locale():
    manifest = {"data": {"label": "shop.csv"}, "rows_kept": 69659, "customers": 23570, "first_date": "1997-01-01",
                "observation_end": "1998-06-30", "calibration_end": "1997-09-30"}
    zh = i18n.describe_run(manifest, "W", "USD", "zh", {"margin": 0.3, "data_path": "x.csv"})
    assert zh == ("数据：shop.csv；23,570 位客户的 69,659 笔交易，1997年1月1日至1998年6月30日（分析日期）；"
                  "校准期截至1997年9月30日；时间单位：周；货币：USD；设置：margin=0.3。")
    en = i18n.describe_run(manifest, "W", "USD", "en")
    assert en == ("Data: shop.csv; 69,659 transactions of 23,570 customers, 1997-01-01 to 1998-06-30 (as-of date); "
                  "calibration end 1997-09-30; time unit: weeks; currency USD.")
    assert "存活概率" in i18n.model_caveat_zh("BG/NBD", True) and "按构造等于 1" in i18n.model_caveat_zh("BG/NBD", True)
    assert "按构造" not in i18n.model_caveat_zh("Pareto/NBD", False)


def test_scale_notes_translate_whole():
    """The notes a large or recent base prints (sampling, cohorts left out of the Cox model, the loyalty
    interval), alone and joined in one line, come out in Chinese with only code names left in Latin letters."""
    import re

    from clm_utils.data.sampling import sample_note
    from clm_utils.i18n import translate

    cohorts = ("854 customers of the cohort(s) 2011-03 to 2011-09 are left out of the Cox model: none of them has "
               "churned yet (acquired too recently for the inactivity window), so their cohort effect cannot be estimated.")
    sampled = "Cox model " + sample_note(200_000, 1_443_914, 42) + "."
    loyalty = ("bootstrap on a seeded random sample of at most 100,000 customers per group (seed 42; CLM_SAMPLE_ABOVE), "
               "its spread rescaled to the full groups of 345,289 and 3,104,711")
    for text in (cohorts, sampled, f"{cohorts} {sampled}", loyalty, sample_note(5_000, 300_000, 1, stratified_by="stage")):
        zh = translate(text, "zh")
        assert re.findall(r"[A-Za-z_]+", zh.replace("CLM_SAMPLE_ABOVE", "")) in ([], ["Cox"], ["Cox", "Cox"]), zh
    assert "2011-03 至 2011-09" in translate(cohorts, "zh") and "854" in translate(cohorts, "zh")
    assert translate("interval", "zh") == "区间说明"
    assert translate(f"{cohorts} An unknown sentence.", "zh") == f"{cohorts} An unknown sentence."  # all or nothing
