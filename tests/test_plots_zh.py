"""Plots render Chinese on a machine with no CJK system font (issue 13).

Matplotlib warns "Glyph N (...) missing from font(s) ..." for every character it cannot draw and
then draws an empty box.  The tests draw every kind of plot the suite uses with Chinese titles, axes,
legends, annotations and category ticks, and fail on any such warning.  A control draws the same
figure without the bundled font and must see the warnings, so the check can fail.  The font's
character map is read with fontTools (independent of matplotlib) to check that every Chinese
character of the glossary and of the notebooks is in it.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from clm_utils import plots
from clm_utils.glossary import GLOSSARY, GROUPS, glossary_page_html, term

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
MISSING = re.compile(r"Glyph \d+ .* missing from font")


@pytest.fixture(autouse=True)
def _style():
    with matplotlib.rc_context():
        plots.apply_style("zh")
        yield
    plt.close("all")


def _render(draw: Callable[[], object]) -> list[str]:
    """Draw, save as PNG, and return the missing-glyph warnings matplotlib raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
        for num in plt.get_fignums():
            fig = plt.figure(num)
            fig.savefig(io.BytesIO(), format="png")
            fig.savefig(io.BytesIO(), format="svg")
        plt.close("all")
    return [str(w.message) for w in caught if MISSING.search(str(w.message))]


def z(key: str) -> str:
    return term(key, "zh")


# -- every kind of plot the suite draws, with Chinese text ------------------------------------
def _line_legend_twin():
    ax = plots.new_axes(f"{z('revenue')}与{z('active')}（每月）", z("period"), f"{z('revenue')}（¥）")
    x = np.arange(12)
    ax.bar(x, x * 10.0, label=z("revenue"))
    plots.money(ax, "y", "CNY")
    ax2 = ax.twinx()
    ax2.plot(x, x[::-1], marker="o", label=z("active"))
    ax2.plot(x, x / 2, marker="s", label=z("churned"))
    ax2.set_ylabel(z("n_customers"))
    ax.set_xticks(x[::3], [f"2025年{m}月" for m in x[::3] + 1], rotation=45)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, title=z("activity_class"))


def _heatmap_colorbar():
    import seaborn as sns

    _, ax = plt.subplots()
    stages = [z(k) for k in ("exploration", "formation", "stability", "decline", "terminated")]
    data = pd.DataFrame(np.arange(25.0).reshape(5, 5) / 25, index=stages, columns=stages)
    sns.heatmap(data, annot=True, fmt=".0%", cmap="Blues", ax=ax, cbar_kws={"label": z("share")})
    ax.set_title(z("stage_transition"))
    ax.set_xlabel(f"{z('stage')}（期末）")
    ax.set_ylabel(f"{z('stage')}（期初）")


def _imshow_colorbar_percent():
    _, ax = plt.subplots()
    im = ax.imshow(np.linspace(0, 1, 36).reshape(6, 6), origin="lower", cmap="viridis")
    plt.colorbar(im, ax=ax, label=z("p_alive"))
    ax.set_xlabel(z("btyd_recency"))
    ax.set_ylabel(z("btyd_frequency"))
    ax.set_title(f"{z('p_alive')}矩阵")


def _barh_categories():
    _, ax = plt.subplots()
    segs = [z(k) for k in ("champions", "loyal", "potential_loyalist", "new", "promising", "need_attention",
                           "about_to_sleep", "cant_lose", "at_risk", "hibernating", "lost")]
    ax.barh(segs, np.arange(len(segs)) + 1.0, color="C0")
    plots.percent(ax, "x", scale=100)
    ax.set_title(z("rfm_segment"))
    ax.set_xlabel(z("customer_share"))


def _scatter_symlog_quadrants():
    _, ax = plt.subplots()
    rng = np.random.default_rng(1)
    for k in ("most_valuable", "growth_potential", "maintain", "low_value"):
        ax.scatter(rng.gamma(2, 50, 30), rng.gamma(2, 50, 30), s=6, label=z(k))
    ax.set_xscale("symlog", linthresh=1)
    ax.set_yscale("log")
    plots.money(ax, "x", "CNY")
    ax.set_xlabel(f"{z('current_value')}（¥）")
    ax.set_ylabel(f"{z('value_growth_potential')}（¥）")
    ax.set_title(z("value_matrix"))
    ax.legend(title=z("quadrant"))
    ax.annotate(z("most_valuable"), (100, 100))
    ax.text(0.02, 0.02, "“流失预警”：沉默期超过个人购买节奏的两倍。", transform=ax.transAxes)


def _hist_axvline():
    _, ax = plt.subplots()
    gaps = np.random.default_rng(2).exponential(30, 500)
    ax.hist(gaps, bins=30)
    ax.axvline(np.median(gaps), ls="--", label=f"中位数 {np.median(gaps):.0f} 天")
    ax.set_title(z("inter_purchase_time"))
    ax.set_xlabel(f"{z('inter_purchase_time')}（天）")
    ax.set_ylabel("购买对数（个）")
    ax.legend()


def _step_fill_between_subplots():
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    t = np.arange(20)
    for i, (ax, key) in enumerate(zip(axes, ("kaplan_meier", "sbg"), strict=True)):
        s = np.exp(-0.1 * (i + 1) * t)
        ax.step(t, s, where="post", label=z("survival_function"))
        ax.fill_between(t, s * 0.9, np.minimum(s * 1.1, 1), step="post", alpha=0.2, label=z("bootstrap_ci"))
        ax.set_title(z(key))
        ax.set_xlabel("客户关系时长（周）")
        ax.legend()
    axes[0].set_ylabel(z("survival_share"))
    fig.suptitle(f"{z('survival_analysis')}：{z('median_lifetime')} − 对比")


def _pie_and_errorbars():
    _fig, (a1, a2) = plt.subplots(1, 2)
    a1.pie([4, 3, 2, 1], labels=[z(k) for k in ("platinum", "gold", "iron", "lead")], autopct="%1.0f%%")
    a1.set_title(z("customer_pyramid"))
    a2.errorbar([0, 1, 2], [1.0, 1.5, 0.7], yerr=0.2, fmt="o")
    a2.set_xticks([0, 1, 2], [z(k) for k in ("high_value", "medium_value", "low_value")])
    a2.set_title(f"{z('hazard_ratio')}（{z('cox_model')}）")


KINDS = {
    "bars, lines, twin axes, money ticks, legend": _line_legend_twin,
    "seaborn heatmap with colour bar": _heatmap_colorbar,
    "imshow with colour bar": _imshow_colorbar_percent,
    "horizontal bars on categories, percent ticks": _barh_categories,
    "scatter on symlog/log axes, annotations": _scatter_symlog_quadrants,
    "histogram with a reference line": _hist_axvline,
    "step curves with bands, subplots, suptitle": _step_fill_between_subplots,
    "pie and error bars with category ticks": _pie_and_errorbars,
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_plot_kind_renders_chinese_without_missing_glyphs(kind):
    assert _render(KINDS[kind]) == []


def test_the_check_can_fail_without_the_bundled_font():
    matplotlib.rcParams["font.family"] = ["sans-serif"]
    matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans"]
    missing = _render(_barh_categories)
    assert missing and all("DejaVu Sans" in m for m in missing)


# -- the suite's own plot functions, relabelled through the glossary --------------------------
@pytest.fixture(scope="module")
def small_data():
    from clm_utils import summary, synth

    tx = synth.simulate_transactions(300, r=0.5, alpha=6.0, a=0.8, b=2.5, seed=7)
    return tx, summary.summarize(tx, time_unit="W")


def test_suite_plots_relabelled_through_the_glossary(small_data):
    from clm_utils import cohorts, rfm

    tx, summ = small_data
    texts = {"Purchases per customer": "每位客户的购买次数", "Customers (count)": "客户数（人）",
             "Time between consecutive purchases": "相邻两次购买的时间间隔"}

    def draw():
        activity = cohorts.activity_by_period(tx, "M")
        cohorts.plot_activity(activity, currency="CNY")
        cohorts.plot_cohort_retention(cohorts.cohort_retention(tx, "M"))
        cohorts.plot_purchase_distribution(summ)
        cohorts.plot_inter_purchase(cohorts.inter_purchase_times(tx, "D"))
        scores = rfm.rfm_scores(summ)
        rfm.plot_rf_heatmap(scores)
        seg = rfm.segment_summary(rfm.rfm_segments(scores), summ)
        rfm.plot_segments(seg)
        rfm.plot_lorenz(summ["monetary_value"].fillna(0) * (summ["frequency"] + 1))
        for num in plt.get_fignums():
            fig = plt.figure(num)
            plots.localize_figure(fig, "zh", texts)
            for ax in fig.axes:  # what the glossary does not know gets a Chinese title here
                if not CJK.search(ax.get_title()) and ax.get_title():
                    ax.set_title(f"{ax.get_title()}（{z('customer')}）")

    assert _render(draw) == []


def test_localize_figure_translates_labels_legends_and_category_ticks():
    _, ax = plt.subplots()
    ax.bar(["decline", "stability"], [1, 2], label="revenue")
    ax.set_title("value tier")
    ax.set_xlabel("lifecycle stage")
    ax.legend()
    plots.localize_figure(ax.figure, "zh", {"value tier": "价值分级（自定）"})
    assert ax.get_title() == "价值分级（自定）" and ax.get_xlabel() == "生命周期阶段"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["退化期", "稳定期"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["收入"]
    fig = ax.figure
    assert plots.localize_figure(fig, "en") is fig
    _, ax2 = plt.subplots()  # labels set with set_yticks (the suite's horizontal bar charts)
    ax2.barh([0, 1], [0.5, 0.25], label="share of customers")
    ax2.set_yticks([0, 1], ["Champions", "Hibernating"])
    ax2.legend()
    plots.localize_figure(ax2.figure, "zh")
    assert [t.get_text() for t in ax2.get_yticklabels()] == ["冠军客户", "沉睡客户"]
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["客户占比"]
    assert ax2.get_xticklabels()[0].get_text() in ("0.0", "0.00")  # numbers keep their formatter


# -- the bundled font itself -------------------------------------------------------------------
def _cmap(path: Path) -> set[int]:
    from fontTools.ttLib import TTFont

    return set(TTFont(str(path))["cmap"].getBestCmap())


def _chinese_text_of_the_project() -> set[str]:
    import nbformat

    chars: set[str] = set()
    for t in GLOSSARY.values():
        chars |= set(CJK.findall(t.zh + t.zh_def + "".join(t.aliases)))
    for _en, zh in GROUPS.values():
        chars |= set(CJK.findall(zh))
    chars |= set(CJK.findall(glossary_page_html("zh")))
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            chars |= set(CJK.findall(cell.source))
    return chars


def test_bundled_font_covers_every_chinese_character_the_project_writes():
    chars = _chinese_text_of_the_project()
    assert len(chars) > 300  # the glossary alone has several hundred distinct characters
    for path in plots.CJK_FONT_PATHS:
        cmap = _cmap(path)
        missing = sorted(c for c in chars if ord(c) not in cmap)
        assert missing == [], f"{path.name} lacks {''.join(missing)}: rebuild it (clm_utils/fonts/README.md)"


def test_bundled_font_is_registered_under_its_family_and_is_no_tofu():
    from matplotlib import font_manager

    assert plots.register_cjk_font() == plots.CJK_FONT_FAMILY
    regular, bold = plots.CJK_FONT_PATHS
    found = font_manager.findfont(font_manager.FontProperties(family=plots.CJK_FONT_FAMILY))
    assert Path(found).name == regular.name
    found_bold = font_manager.findfont(font_manager.FontProperties(family=plots.CJK_FONT_FAMILY, weight="bold"))
    assert Path(found_bold).name == bold.name
    # GB 2312 has 6,763 hanzi; every one is in the subset (the codec is the independent reference)
    hanzi = set()
    for lead in range(0xB0, 0xF8):
        for trail in range(0xA1, 0xFF):
            try:
                hanzi.add(ord(bytes((lead, trail)).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    assert len(hanzi) == 6763 and hanzi <= _cmap(regular) and hanzi <= _cmap(bold)
    # two different characters give two different rasters (a missing glyph would give the same box)
    from matplotlib.ft2font import FT2Font

    font = FT2Font(str(regular))
    images = []
    for ch in "客户":
        font.set_size(24, 72)
        font.set_text(ch)
        font.draw_glyphs_to_bitmap()
        images.append(np.asarray(font.get_image()).copy())
        font.clear()
    assert images[0].sum() > 0 and images[1].sum() > 0
    assert images[0].shape != images[1].shape or not np.array_equal(images[0], images[1])


def test_font_face_css_embeds_exactly_the_chinese_glyphs_of_a_page():
    import base64

    from fontTools.ttLib import TTFont

    from clm_utils.fonts import font_face_css

    text = "客户生命周期价值 CLV：2025年12月31日（沉睡客户）“流失”"  # the curly quotes stay with Latin fonts
    css = font_face_css(text, bold=True)
    assert css == font_face_css(text, bold=True) and font_face_css("only Latin 123") == ""
    blobs = re.findall(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", css)
    assert len(blobs) == 2 and "font-weight:700" in css and "http" not in css
    want = {ord(c) for c in text if not c.isascii() and not c.isspace() and c not in "“”"}
    assert "unicode-range:U+2E80-9FFF,U+FF00-FFEF" in css
    for blob in blobs:
        font = TTFont(io.BytesIO(base64.b64decode(blob)))
        assert font.flavor == "woff"
        assert set(font["cmap"].getBestCmap()) == want


# -- zh reports need no language argument: the translation of plot and table texts -------------
def test_translate_texts_patterns_and_lists():
    from clm_utils.i18n import translate, untranslated_texts

    assert translate("Revenue and active customers per month") == "每月收入与活跃客户数"
    assert translate("median 34 days") == "中位数 34天"
    assert translate("0: small-basket, small-ticket") == "0：小额、小单"  # cluster names are lists of feature words
    assert translate("predicted CLV, next 12M") == "预测 CLV（未来 12个月）"
    assert translate("all customers (n=2,357)") == "全部客户（n=2,357）"
    assert translate("decline 退化期 (worth it)") == "退化期（值得挽回）"
    assert translate("terminated 终止") == "流失期"  # a retired name goes through the glossary
    assert translate("potential value (predicted CLV, USD)") == "客户增值潜力（预测 CLV，USD）"
    assert translate("Hibernating") == "沉睡客户" and translate("R") == "R"  # formula letters stay
    assert translate("1997-01") == "1997-01" and translate("$1.2k") == "$1.2k"  # no words: nothing to translate
    assert translate("some text nobody wrote") == "some text nobody wrote" and translate("Lost", "en") == "Lost"
    assert untranslated_texts(["Purchases per customer", "12%", "some text nobody wrote"]) == ["some text nobody wrote"]


def test_every_text_the_suites_plot_functions_write_is_translated(small_data):
    """Draw the suite's plots with English labels; after localize_figure no word is left untranslated."""
    from matplotlib.text import Text

    from clm_utils import cohorts, rfm
    from clm_utils.i18n import untranslated_texts

    tx, summ = small_data
    activity = cohorts.activity_by_period(tx, "M")
    cohorts.plot_activity(activity, currency="USD")
    cohorts.plot_new_customers(activity)
    with warnings.catch_warnings():  # seaborn reads the PeriodIndex with .values (a pandas-4 deprecation)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="PeriodIndex.values")
        cohorts.plot_cohort_retention(cohorts.cohort_retention(tx, "M"))
    cohorts.plot_purchase_distribution(summ)
    cohorts.plot_inter_purchase(cohorts.inter_purchase_times(tx, "D"))
    scores = rfm.rfm_scores(summ)
    rfm.plot_rf_heatmap(scores)
    rfm.plot_segments(rfm.segment_summary(rfm.rfm_segments(scores), summ))
    rfm.plot_lorenz(summ["monetary_value"].fillna(0) * (summ["frequency"] + 1))
    left: set[str] = set()
    for num in plt.get_fignums():
        fig = plots.localize_figure(plt.figure(num), "zh")
        left |= set(untranslated_texts(t.get_text() for t in fig.findobj(Text)))
    assert left == set()


def test_tables_follow_the_language_set_by_the_run():
    from clm_utils import tables

    frame = pd.DataFrame({"segment_zh": ["冠军客户", "休眠客户"], "customers": [1200, 30], "customer_share": [0.3, 0.7],
                          "stage": ["stability", "decline"], "first_purchase": pd.to_datetime(["1997-01-02"] * 2)},
                         index=pd.Index(["Champions", "Hibernating"], name="segment"))
    try:
        tables.set_language("zh")
        zh = tables.show(frame, percent=["customer_share"], caption="The customer base at the as-of date")
        text = repr(zh)
        assert list(zh.frame.columns) == ["客户数", "客户占比", "生命周期阶段", "首次购买日期"]
        assert list(zh.frame.index) == ["冠军客户", "沉睡客户"] and zh.frame.index.name == "RFM细分类别"
        assert list(zh.frame["生命周期阶段"]) == ["稳定期", "退化期"]
        assert "1,200" in text and "30.0%" in text and "1997-01-02" in text and "分析日期时的全体客户" in text
        assert tables.show(frame, lang="en").frame is frame  # one table in English on request
    finally:
        tables.set_language("en")
    assert list(tables.show(frame).frame.columns) == list(frame.columns)
    ids = pd.DataFrame({"frequency": [1], "recency": [2.0], "T": [3.0]}, index=pd.Index(["007"], name="customer_id"))
    btyd = tables.show(ids, lang="zh").frame
    assert list(btyd.columns) == ["重复购买次数", "首末次购买间隔", "客户观察时长"] and list(btyd.index) == ["007"]


def test_localized_renderer_translates_before_rendering_and_wraps_once():
    from clm_utils.notebook import localized_renderer

    seen: list[str] = []

    def render(fig, **kwargs):
        seen.append(fig.axes[0].get_title())
        return b"png"

    _, ax = plt.subplots()
    ax.set_title("Purchases per customer")
    wrapped = localized_renderer(render, "zh")
    assert wrapped(ax.figure, base64=True) == b"png" and seen == ["每位客户的购买次数"]
    assert localized_renderer(wrapped, "zh") is wrapped and localized_renderer(render, "en") is render
    assert plots.localize_figure(ax.figure, "zh").axes[0].get_title() == "每位客户的购买次数"  # idempotent


def test_an_executed_notebook_shows_its_figures_in_chinese(tmp_path):
    """Inline backend in a real kernel: the flushed figure and a cell ending in an Axes are both translated."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import matplotlib.pyplot as plt\nfrom clm_utils import notebook as nbk, plots\nplots.apply_style('zh')\n"
        "assert nbk.install_figure_translation('zh')",
        "fig, ax = plt.subplots()\nax.bar(['decline', 'stability'], [1, 2])\nax.set_title('Purchases per customer');",
        "print(fig.axes[0].get_title(), [t.get_text() for t in fig.axes[0].get_xticklabels()])",
        "_, ax2 = plt.subplots()\nax2.set_xlabel('share of customers')\nax2",
        "print(ax2.get_xlabel())",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells for o in c.outputs]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "每位客户的购买次数 ['退化期', '稳定期']" in printed and "客户占比" in printed
