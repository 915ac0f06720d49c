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
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clm_utils import glossary
from clm_utils.errors import ParameterError

if TYPE_CHECKING:  # nbformat imports jsonschema (about 1 s): only the notebook helpers need it, at run time not at all
    import nbformat

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


# ---------------------------------------------------------------------------------------------
# free text of plots and tables: an exact-match table, patterns, and the glossary
# ---------------------------------------------------------------------------------------------
#: English texts the suite's plot and table functions write -> Chinese (exact match).  Names of
#: concepts belong in the glossary; this table holds the sentences, axis labels and short words.
TEXTS_ZH: dict[str, str] = {
    # units and short words
    "day": "天", "days": "天", "week": "周", "weeks": "周", "month": "月", "months": "月", "quarter": "季度",
    "quarters": "季度", "year": "年", "years": "年", "Month": "月份", "Week": "周", "Quarter": "季度",
    "Year": "年份", "Day": "日期", "count": "计数", "std": "标准差", "min": "最小值", "max": "最大值",
    "sd": "标准差", "se": "标准误", "info": "提示", "ok": "正常", "warning": "警告", "yes": "是", "no": "否",
    "actual": "实际值", "expected": "预期值", "order": "序号", "score": "评分", "dimension": "维度",
    "variable": "变量", "detail": "说明", "check": "检查项", "status": "状态", "top": "前列客户比例",
    "claim": "论断", "definition": "定义", "verdict": "结论", "interval": "区间说明", "holds": "成立", "does not hold": "不成立",
    "does not hold (smaller)": "不成立（偏小）", "does not hold (larger)": "不成立（偏大）",
    "name": "名称", "feature": "特征", "features": "特征", "indicator": "指标", "indicators": "指标数",
    "reason": "原因", "set": "指标集", "parameters": "参数个数", "model": "模型", "chosen": "选用",
    "requested": "已请求", "converged": "已收敛", "correlation": "相关系数", "aic": "AIC", "bic": "BIC",
    "mae": "平均绝对误差", "rmse": "均方根误差", "p_value": "p 值", "df": "自由度", "log": "对数变换",
    "skew_before": "变换前偏度", "skew_after": "变换后偏度", "lower_95": "95% 下限", "upper_95": "95% 上限",
    "n_boot": "自助重抽样次数", "p05": "5% 分位数", "buyer type": "购买者类型", "one-time buyer": "一次性购买者",
    "repeat buyer": "重复购买者", "k": "聚类数 k", "inertia": "组内平方和", "calinski_harabasz": "Calinski-Harabasz 指数",
    "calinski harabasz": "Calinski-Harabasz 指数", "gmm_bic": "高斯混合 BIC", "gmm bic": "高斯混合 BIC",
    "silhouette": "轮廓系数", "value_index": "价值指数", "risk_index": "风险指数", "value_lift": "价值提升倍数",
    "bootstrap ARI": "自助法调整兰德指数", "KMO": "KMO", "bartlett_chi2": "Bartlett 卡方",
    "non-redundant indicators": "非冗余指标", "kept indicators": "保留的指标", "collinear pair": "共线指标对",
    "low MSA": "MSA 过低", "first_purchase": "首次购买日期", "last_purchase": "最近一次购买日期",
    "n_purchase_days": "购买日数", "RFM": "RFM 组合", "cluster_name": "客户群名称", "stage_rule": "阶段判定规则",
    "clv_lower": "CLV 下限", "clv_upper": "CLV 上限", "clv_share": "CLV 占比", "clv share": "CLV 占比",
    "clv_total": "CLV 合计", "clv_total_lower": "CLV 合计下限", "clv_total_upper": "CLV 合计上限",
    "clv_mean": "CLV 均值", "clv_mean_lower": "CLV 均值下限", "clv_mean_upper": "CLV 均值上限",
    "clv_total_sd": "CLV 合计标准差", "mean_p_alive_repeat": "重复购买者平均存活概率", "rate drop": "购买率下降",
    "silence": "沉默过久", "spend drop": "消费下降", "value_share": "价值占比", "value_per_customer": "人均价值",
    "revenue_per_customer": "人均收入", "revenue_per_active": "每位活跃客户收入", "active_customers": "活跃客户数",
    "new_customers": "新客户数", "transactions": "交易笔数", "purchase days": "购买日数",
    "one-time buyers (%)": "一次性购买者（%）", "revenue per customer": "人均收入",
    "median days between purchases": "购买间隔中位数（天）", "first date": "首个日期", "last date": "最后日期",
    "days between purchases": "购买间隔（天）", "repeat buyers (%)": "重复购买者（%）",
    "historical revenue": "历史收入", "revenue share of top 20% (%)": "前 20% 客户的收入占比（%）",
    "customers in decline or terminated (%)": "处于退化期或流失期的客户（%）",
    "mean P(alive), repeat buyers": "重复购买者的平均存活概率", "CLV share of top 20% (%)": "前 20% 客户的 CLV 占比（%）",
    "current_mean": "当前价值均值", "potential_mean": "潜在价值均值", "current_share": "当前价值占比",
    "potential_share": "潜在价值占比", "share of future value": "未来价值占比", "what to do": "对策",
    "中文": "中文名称", "holdout_actual": "验证期实际购买次数", "holdout_expected": "验证期预期购买次数",
    "total_error_pct": "总误差（%）", "lr_vs_nbd": "相对 NBD 的似然比", "lr_p_value": "似然比检验 p 值",
    "calibration_frequency": "校准期重复购买次数", "repeat_transactions": "重复购买次数",
    "repeat purchase days in calibration": "校准期重复购买日数", "repeat buyers in calibration": "校准期重复购买者",
    "purchase days in holdout": "验证期购买日数", "Gamma-Gamma spend": "Gamma-Gamma 消费金额模型",
    "high value, high risk": "高价值、高风险", "high value, low risk": "高价值、低风险",
    "low value, high risk": "低价值、高风险", "low value, low risk": "低价值、低风险",
    "keep & grow": "保持并发展", "win back": "挽回", "nurture": "培育", "let go / low cost": "放弃或低成本维护",
    "worth it": "值得挽回", "period": "期间", "cohort": "获客批次", "segment": "RFM细分类别",
    "customer_id": "客户编号", "parameter": "参数", "tier": "分级", "buyer_type": "购买者类型", "quadrant_name": "象限",
    # survival tables and plots
    "RFM segment": "RFM细分类别", "pyramid tier": "客户金字塔层级", "first-purchase value band": "首次消费金额段",
    "Q1 (lowest)": "Q1（最低）", "Q4 (highest)": "Q4（最高）", "GLOBAL": "整体检验", "HR lower 95%": "风险比 95% 下限",
    "HR upper 95%": "风险比 95% 上限", "actual_last": "最后一期实际值", "projected_last": "最后一期预测值",
    "all": "全部", "alpha": "alpha", "beta": "beta", "censored": "删失数", "chisq": "卡方", "covariate": "协变量",
    "early_repeats": "早期重复购买日数", "log_first_amount": "首次消费金额（对数）", "events": "事件数（流失）",
    "group": "组", "grouping": "分组方式", "groups": "组数",
    "inactivity": "沉默期阈值", "log-rank": "对数秩检验", "median_lower": "中位数下限", "median_upper": "中位数上限",
    "no customers": "无客户", "not reached": "未达到", "one_time_share_of_churned": "流失客户中一次性购买者的比例",
    "retention_rate_t1": "第 1 期客户保持率", "retention_rate_t12": "第 12 期客户保持率", "rho": "rho",
    "share_churned": "流失比例", "time": "时间", "stage_decline": "阶段：退化期", "stage_formation": "阶段：形成期",
    "stage_stability": "阶段：稳定期", "stage_terminated": "阶段：流失期", "stage_exploration": "阶段：考察期",
    "Kaplan-Meier by RFM segment": "按 RFM细分类别的 Kaplan-Meier 估计",
    "Kaplan-Meier by acquisition cohort": "按获客批次的 Kaplan-Meier 估计",
    "Kaplan-Meier by first-purchase value band": "按首次消费金额段的 Kaplan-Meier 估计",
    "Kaplan-Meier by pyramid tier": "按客户金字塔层级的 Kaplan-Meier 估计",
    "The customer base at the as-of date": "分析日期时的全体客户",
    "Share of each cohort buying in each period since its start": "各获客批次自起点以来每期仍在购买的客户比例",
    "Activity class by buyer type (share of customers)": "按购买者类型的行为分级（客户占比）",
    "identical in all 4 columns of the file": "文件的全部 4 列都相同",
    "80/20 (other side)": "二八法则（另一面）", "80/20: top 20% of customers bring ~80% of revenue":
        "二八法则：前 20% 的客户带来约 80% 的收入", "loyal customer worth ~10x an ordinary one": "忠诚客户的价值约为普通客户的 10 倍",
    "mean revenue of Champions+Loyal / mean revenue of all other customers": "冠军客户与忠诚客户的人均收入 / 其余客户的人均收入",
    "mean revenue of repeat buyers / mean revenue of one-time buyers": "重复购买者的人均收入 / 一次性购买者的人均收入",
    "revenue share of the top 20% of customers by total spend": "按总消费额排名前 20% 客户的收入占比",
    "share of customers (largest first) that make 80% of revenue": "贡献 80% 收入所需的客户比例（从大到小）",
    # plot titles and axis labels (cohorts, rfm)
    "Purchases per customer": "每位客户的购买次数",
    "Purchase days per customer (same-day purchases merged)": "每位客户的购买日数（同日购买合并）",
    "Customers (count)": "客户数（人）", "New customers (count)": "新客户数（人）",
    "Purchase pairs (count)": "相邻购买对数（个）", "Time between consecutive purchases": "相邻两次购买的时间间隔",
    "Cohort retention: share of each acquisition cohort buying again": "获客批次客户保持率：各批次再次购买的客户比例",
    "Acquisition cohort (period of first purchase)": "获客批次（首次购买所在期间）",
    "Acquisition cohort": "获客批次", "customers active (%)": "仍在购买的客户（%）", "active customers": "活跃客户数",
    "new customers": "新客户数", "no repeat purchases": "没有重复购买",
    "Share of customers by R and F score": "按 R、F 评分的客户占比", "R score (5 = most recent)": "R 评分（5 = 最近）",
    "F score (5 = most frequent)": "F 评分（5 = 最频繁）", "share (%)": "占比（%）",
    "RFM segments: size vs revenue": "RFM 细分类别：客户占比与收入占比",
    "Concentration of revenue (Lorenz curve)": "收入集中度（洛伦兹曲线）",
    "cumulative share of customers (smallest first)": "客户累计占比（从小到大）",
    "cumulative share of revenue": "收入累计占比", "perfect equality": "完全平均线",
    # clv
    "Calibration frequency: actual vs model": "校准期购买次数分布：实际与模型",
    "Conditional expectations: holdout transactions by calibration frequency": "条件期望：按校准期购买次数的验证期购买次数",
    "Current x potential value matrix": "当前价值×客户增值潜力矩阵",
    "Distribution of predicted customer lifetime value": "预测的客户生命周期价值分布",
    "Tracking: cumulative repeat transactions, actual vs model": "累计交易跟踪：累计重复购买次数，实际与模型",
    "Tracking: repeat transactions, actual vs model": "交易跟踪：每期重复购买次数，实际与模型",
    "cumulative repeat transactions": "累计重复购买次数", "repeat transactions per period": "每期重复购买次数",
    "end of calibration": "校准期结束", "mean transactions in the holdout period": "验证期平均购买次数",
    "repeat transactions (frequency)": "重复购买次数（frequency）",
    "repeat transactions in the calibration period": "校准期重复购买次数",
    "Survival: sBG model vs observed": "存活：sBG 模型与观测值", "% of cohort still active": "批次中仍活跃的客户（%）",
    "observed": "观测值",
    # clustering
    "Choosing the number of clusters": "选择客户群数量", "number of clusters k": "客户群数量 k",
    "Inertia (elbow; lower = tighter)": "组内平方和（肘部法；越低越紧凑）", "Silhouette (higher = better)": "轮廓系数（越高越好）",
    "Calinski-Harabasz (higher = better)": "Calinski-Harabasz 指数（越高越好）",
    "Gaussian mixture BIC (lower = better)": "高斯混合模型 BIC（越低越好）",
    "Cluster profiles (mean z-score of each feature)": "客户群画像（各特征的平均 z 分数）",
    "z-score (standard deviations)": "z 分数（标准差）", "z-score": "z 分数",
    "Factor-then-cluster: clusters on the value x risk grid": "因子-聚类分析：各客户群在价值-风险矩阵中的位置",
    "risk index (risk-factor score; higher = riskier)": "风险指数（风险因子得分；越高风险越大）",
    "value index (value-factor score)": "价值指数（价值因子得分）",
    # survival
    "share not churned S(t)": "未流失比例 S(t)", "share alive / not churned": "存活 / 未流失比例",
    "at risk": "风险集人数", "Kaplan-Meier survival": "Kaplan-Meier 生存曲线", "Kaplan-Meier": "Kaplan-Meier 估计",
    "Model-implied survival vs Kaplan-Meier": "模型推算的存活曲线与 Kaplan-Meier 估计",
    "Kaplan-Meier by inactivity window": "不同沉默期阈值下的 Kaplan-Meier 估计",
    "period since acquisition": "获客后的期数", "share of the cohort still a customer": "批次中仍为客户的比例",
    "sBG: cohort retention, fitted and projected": "sBG：获客批次客户保持率（拟合与预测）",
    "Cox model: hazard ratios": "Cox 模型：风险比", "Time-varying effect check: flat = proportional hazards":
        "时变效应检验：水平线 = 比例风险成立", "mean scaled Schoenfeld residual (beta(t))": "平均标准化 Schoenfeld 残差（beta(t)）",
    "all customers": "全部客户", "repeat buyers": "重复购买者", "one-time buyers": "一次性购买者",
    # summary and lifecycle
    "Value by lifecycle stage: realised revenue and predicted CLV": "各生命周期阶段的价值：已实现收入与预测 CLV",
    "Lifecycle stage": "生命周期阶段", "revenue so far": "至今收入", "value tier": "价值分级",
    "share of customers": "客户占比",
    # strategies (clm_utils.lifecycle.STAGE_STRATEGY, scorecard tier modifiers, cluster actions)
    "offer common value, learn needs and preferences; make the second purchase easy":
        "提供普遍价值，了解需求与偏好；让第二次购买更容易",
    "personalised value-added service; deepen needs, cross-sell": "个性化增值服务；深挖需求，交叉销售",
    "retain, grow share of wallet, lower the cost to serve": "保持客户，提高钱包份额，降低服务成本",
    "find out why; win back the customers worth it, let the others go": "查明原因；挽回值得挽回的客户，放弃其余客户",
    "win back only high-value customers at low cost; otherwise stop spending": "仅以低成本挽回高价值客户；否则停止投入",
    "invest most: personal contact, priority service": "重点投入：专人联系、优先服务",
    "invest selectively: targeted offers": "选择性投入：定向优惠",
    "serve at low cost: automated, mass channels": "低成本服务：自动化、大众渠道",
    "Retain and grow share of wallet; VIP service, lower cost to serve.": "保持客户并提高钱包份额；VIP 服务，降低服务成本。",
    "Win back at high priority: find out why they slowed, tailored offers.": "优先挽回：查明购买放缓的原因，提供定制优惠。",
    "Nurture: personalised offers to build a second and third purchase.": "培育：以个性化优惠促成第二、第三次购买。",
    "Low-cost reactivation; keep those who respond.": "低成本唤醒；保留有回应的客户。",
    "Let go: cheap automated contact only.": "放弃：只做低成本的自动联系。",
    "Keep and grow: VIP service, share of wallet, lower cost to serve.": "保持并发展：VIP 服务，提高钱包份额，降低服务成本。",
    "Win back first: find out why they slowed, personal contact, tailored offers.":
        "优先挽回：查明购买放缓的原因，专人联系，定制优惠。",
    "Nurture and up-sell: bundles and cross-sell to raise spend per purchase.": "培育并向上销售：组合销售与交叉销售，提高每次消费金额。",
    "Let go: low-cost automated contact only.": "放弃：只做低成本的自动联系。",
    "retain at all costs: dedicated service, loyalty benefits, first access; invest most here":
        "全力保持：专属服务、忠诚度权益、优先体验；在此投入最多",
    "develop: cross-sell and up-sell, onboarding into the next purchase, raise share of wallet":
        "发展：交叉销售与向上销售，引导下一次购买，提高钱包份额",
    "maintain at lower cost to serve; find out why future value is low and win back those worth it":
        "以较低服务成本维持；查明未来价值低的原因，挽回值得挽回的客户",
    "serve through low-cost channels only; no special investment": "只通过低成本渠道服务；不做专门投入",
    "Retain and grow share of wallet: VIP service, early access, referral asks; keep cost to serve low.":
        "保持客户并提高钱包份额：VIP 服务、优先体验、请其推荐；控制服务成本。",
    "Reward loyalty and cross-/up-sell to raise spend per purchase; ask for reviews and referrals.":
        "回馈忠诚，交叉销售与向上销售以提高每次消费金额；请其评价与推荐。",
    "Deepen the relationship with personalised value-added offers and a membership programme.":
        "以个性化增值优惠和会员计划加深关系。",
    "Onboard well: offer common value, learn needs and preferences, make the second purchase easy.":
        "做好新客户引导：提供普遍价值，了解需求与偏好，让第二次购买更容易。",
    "Nurture with a second-purchase incentive and content that shows the range; learn preferences.":
        "用第二次购买激励和展示商品范围的内容培育客户；了解偏好。",
    "Re-engage with personalised, time-limited offers before the relationship stalls.": "在关系停滞之前，以个性化限时优惠重新激活。",
    "Find out why buying slowed; send low-cost reminders and recommendations.": "查明购买放缓的原因；发送低成本的提醒与推荐。",
    "Win back at high priority: personal contact, find the cause, make a strong tailored offer.":
        "优先挽回：专人联系，查明原因，提供有力的定制优惠。",
    "Targeted win-back campaign for those still worth it; ask what went wrong.": "对仍值得挽回的客户开展定向挽回活动；询问问题所在。",
    "Low-cost automated reactivation only; stop spending on those who do not respond.": "只做低成本的自动唤醒；对没有回应的客户停止投入。",
    "Let go: at most a cheap automated win-back; do not spend acquisition-level budgets.":
        "放弃：至多做低成本的自动挽回；不要投入获客级别的预算。",
    # data-quality checks (clm_utils.data)
    "columns detected by name": "按列名识别的列", "rows read": "读取的行数",
    "rows without a customer id (guests) dropped": "删除的无客户编号行（游客订单）", "unparseable dates": "无法解析的日期",
    "non-numeric amounts": "非数值金额", "exact duplicate rows kept": "保留的完全重复行",
    "exact duplicate rows dropped": "删除的完全重复行", "zero-amount rows kept": "保留的零金额行",
    "zero-amount rows dropped": "删除的零金额行", "negative-amount rows (returns) kept": "保留的负金额行（退货）",
    "transactions kept": "保留的交易", "date range (days)": "日期范围（天）",
}

#: Profit (issue 14), and the captions and labels of notebooks 01, 04, 06, 07 and 08.
TEXTS_ZH.update({
    # profit columns (clm_utils.analysis.Analysis.profit_table, run.customers)
    "profit": "利润", "amount": "金额", "cogs": "销售成本", "gross_margin": "毛利", "acquisition": "客户获取成本",
    "profit_share": "利润占比", "profit_per_customer": "人均利润", "cpg_class": "核心/潜力/一般客户",
    "customer_type": "客户类型", "loyal": "忠诚客户", "profit_lower": "利润下限", "profit_upper": "利润上限",
    "volume": "交易量", "volume_lower": "交易量下限", "volume_upper": "交易量上限", "revenue_lower": "收入下限",
    "revenue_upper": "收入上限", "historical profit": "历史利润", "profit share of top 20% (%)": "前 20% 客户的利润占比（%）",
    "profit basis": "利润口径", "profit = revenue (no costs given)": "利润 = 收入（未给出成本）",
    "cost of goods from the cost column": "销售成本取自成本列",
    "acquisition cost per customer from the attribute file": "客户获取成本按客户取自属性文件",
    "From revenue to customer profit": "从收入到客户利润", "Revenue → profit, all customers": "收入 → 利润（全部客户）",
    "Profitability by RFM segment": "按 RFM细分类别的客户利润", "Profitability by lifecycle stage": "按生命周期阶段的客户利润",
    "Revenue and profit by RFM segment": "按 RFM细分类别的收入与利润", "Revenue and profit by value tier": "按价值分级的收入与利润",
    "profit margin (%)": "利润率（%）",
    "no CLV on these data: the grid shows revenue only": "这些数据没有 CLV：矩阵只显示收入",
    # labels of the lifecycle tables (clm_utils.lifecycle) and the schemes (clm_utils.schemes)
    "Stage shares by threshold (* = default)": "各阈值下的阶段占比（* = 默认值）", "retained": "保持", "acquired": "获取",
    "age": "关系时长", "basis": "口径", "ci_lower": "区间下限", "ci_upper": "区间上限", "cv_lower": "变异系数下限",
    "cv_upper": "变异系数上限", "is_default": "是否默认", "default": "默认", "setting": "设置", "from": "起点",
    "few purchases": "购买次数少", "rising": "上升", "steady": "稳定", "not yet mature": "关系尚未成熟",
    "supported": "支持", "not supported": "不支持", "inconclusive": "无定论", "mean_purchase_days_cal": "校准期平均购买日数",
    "n_exploration": "考察期人数", "n_formation": "形成期人数", "n_stability": "稳定期人数", "n_decline": "退化期人数",
    "n_terminated": "流失期人数", "null_fp_rate": "零假设假阳性率", "null_fp_ci_upper": "假阳性率区间上限",
    "p_no_purchase": "零购买概率", "p_no_purchase_lower": "零购买概率下限", "p_no_purchase_upper": "零购买概率上限",
    "power": "检验功效", "power_ci_lower": "功效区间下限", "power_ci_upper": "功效区间上限", "prediction": "预测",
    "purchases": "购买次数", "purchases_lower": "购买次数下限", "purchases_upper": "购买次数上限", "rate_ratio": "速率比",
    "rate_ratio_lower": "速率比下限", "rate_ratio_upper": "速率比上限", "selection": "选定的时长", "spend": "消费金额",
    "spend_lower": "消费金额下限", "spend_upper": "消费金额上限", "statistic": "统计量", "test": "检验",
    "tier_level": "价值层次", "purchase_days_cal (4 = 4+)": "校准期购买日数（4 = 4 及以上）",
    "1. slow rise, rapid growth, plateau, then fall": "1. 缓慢上升、快速增长、平台、然后下降",
    "2. in formation, profit grows faster than volume": "2. 在形成期，利润的增长快于交易量",
    "3. volume peaks before profit": "3. 交易量先于利润达到峰值", "4. in decline, profit falls more slowly than volume":
        "4. 在退化期，利润的下降慢于交易量", "1. stable customers buy most": "1. 稳定期客户购买最多",
    "2a. declining customers buy below their own past rate": "2a. 退化期客户的购买低于其自身过去的速率",
    "2b. declining customers fall further below their past rate than stable ones":
        "2b. 退化期客户低于过去速率的幅度大于稳定期客户", "3. exploration customers are the most uncertain":
        "3. 考察期客户的不确定性最大", "4. terminated customers rarely return": "4. 流失期客户很少回来",
    "policy": "策略", "type": "类型", "type_no": "类型编号", "value_group": "价值群体", "mean_loyal": "忠诚客户平均价值",
    "mean_ordinary": "普通客户平均价值", "ordinary": "普通客户", "ratio": "比值", "consistent with the claim": "与论断一致",
    "80/20: the top 20% of customers bring ~80%": "二八法则：前 20% 的客户带来约 80%",
    "a loyal customer is worth ~10× an ordinary one": "一位忠诚客户的价值约为普通客户的 10 倍",
    "share of total revenue from the top 20% of customers": "前 20% 客户的收入占总收入的比例",
    "Projection made with the transitions observed over the preceding interval.": "预测使用此前一个间隔内观测到的迁移。",
    "No satisfaction scores: the attribute file needs a numeric column named like satisfaction, csat or nps (or set "
    "satisfaction_column).": "没有满意度评分：属性文件需要一个名称类似 satisfaction、csat 或 nps 的数值列（或设置 satisfaction_column）。",
    "Core / potential / general customers: profit and CLV": "核心/潜力/一般客户：利润与 CLV",
    "Frequency class × lifecycle stage (customers)": "购买频率分级 × 生命周期阶段（客户数）",
    "Loyal vs ordinary customers: ratio of mean value with a 95% bootstrap interval":
        "忠诚客户与普通客户：平均价值之比及其 95% 自助法区间",
    "The attribute file": "客户属性文件", "Do the groups differ by attribute? (Holm-adjusted p)": "各群体的属性是否不同？（Holm 校正 p 值）",
    "Lifecycle stages by attribute (shares, means, medians)": "各生命周期阶段的属性（占比、均值、中位数）",
    "Hazard ratios of churn by attribute (95% CI)": "各属性的流失风险比（95% 置信区间）",
    "Pareto/NBD with covariates": "带协变量的 Pareto/NBD", "Covariates vs the plain Pareto/NBD": "协变量模型与普通 Pareto/NBD 的比较",
    "The chain, link by link": "逐环检验：满意度 → 忠诚度 → 再购买",
    # notebook 04
    "Stage (rows) by the rule that placed the customer": "生命周期阶段（行）与判定该阶段的规则",
    "Run's stages vs the other rule": "本次运行的阶段与另一规则的阶段", "other rule": "另一规则",
    "Stage shares by threshold": "各阈值下的阶段占比",
    "Holdout behaviour by stage at the calibration end (95% intervals)": "校准期末各阶段客户在验证期的行为（95% 区间）",
    "The theory's predictions on the holdout": "理论预测在验证期的检验",
    "P(no purchase in the holdout) by stage and purchase days before the calibration end":
        "按阶段与校准期末前购买日数划分的验证期零购买概率",
    "Stage counts and predictions holding, at the default thresholds and alternatives": "默认阈值与备选阈值下的阶段人数和成立的预测",
    "Stage × value tier": "生命周期阶段 × 价值分级",
    "Strategy per stage, with today's customers and revenue share": "各阶段的策略，以及当前的客户数和收入占比",
    "Markov projection of the stage mix": "阶段构成的马尔可夫预测",
    "Retained basis: per customer and period, by relationship age": "客户保持口径：按关系时长的每位客户每期数值",
    "Claim verdicts with each test's null false-positive rate and power": "论断结论及各检验的零假设假阳性率与检验功效",
    "Retained basis: ages chosen and statistic tested": "客户保持口径：选定的时长与检验的统计量",
    # notebook 07
    "RFM segment: earlier date (rows) → later date (columns)": "RFM细分类别：较早日期（行）→ 较晚日期（列）",
    "Value tier: earlier date (rows) → later date (columns)": "价值分级：较早日期（行）→ 较晚日期（列）",
    "Customer pyramid: earlier date (rows) → later date (columns)": "客户金字塔：较早日期（行）→ 较晚日期（列）",
    "Activity class: earlier date (rows) → later date (columns)": "行为分级：较早日期（行）→ 较晚日期（列）",
    "Lifecycle stage: earlier date (rows) → later date (columns)": "生命周期阶段：较早日期（行）→ 较晚日期（列）",
    "Stage mix of the customers known at the earlier date": "较早日期已知客户的阶段构成",
    "Transition rates over one interval: projected at the earlier date vs observed": "一个间隔内的迁移率：较早日期的预测与实际观测",
    "Total forecast against the outcome": "预测总量与实际结果", "Expected vs actual purchase days by decile": "按十分位的预期与实际购买日数",
    "P(alive) vs the share who bought again, by decile": "按十分位的存活概率与再次购买客户比例",
})

#: Texts with numbers or names inside: a regular expression (full match) and its Chinese template;
#: ``{0}``, ``{1}``, ... are the groups, each translated in turn (numbers and codes stay as they are).
PATTERNS_ZH: tuple[tuple[str, str], ...] = (
    (r"Revenue and active customers per (\w+)", "每{0}收入与活跃客户数"),
    (r"New customers per (\w+) \(acquisition cohorts\)", "每{0}新客户数（获客批次）"),
    (r"Cohort \((\w+) of first purchase\)", "获客批次（首次购买所在{0}）"),
    (r"Revenue \(([^)]+)\)", "收入（{0}）"),
    (r"Value \(([^)]+)\)", "价值（{0}）"),
    (r"Inter-purchase time \((\w+)\)", "购买间隔（{0}）"),
    (r"median ([\d.,]+) (\w+)", "中位数 {0}{1}"),
    (r"(\w+) since first purchase", "首次购买后的时间（{0}）"),
    (r"(\w+) since the first acquisition", "首次获客后的时间（{0}）"),
    (r"(\w+) since (\d{4}-\d\d-\d\d)", "{1} 之后的时间（{0}）"),
    (r"Share of revenue \(([^)]+)\) by R and F score", "按 R、F 评分的收入占比（{0}）"),
    (r"Customer pyramid \(value in ([^)]+)\)", "客户金字塔（价值单位：{0}）"),
    (r"Lorenz curve \((.+)\), Gini = ([\d.]+)", "洛伦兹曲线（{0}），基尼系数 = {1}"),
    (r"(\d+%) of customers, (\d+%) of value", "客户占 {0}，价值占 {1}"),
    (r"Stage x value grid: (.+)", "生命周期-价值矩阵：{0}"),
    (r"predicted CLV, next (.+)", "预测 CLV（未来 {0}）"),
    (r"expected purchases, next (.+)", "预期购买次数（未来 {0}）"),
    (r"total CLV, next (.+)", "CLV 合计（未来 {0}）"),
    (r"(\d+(?:\.\d+)?)([DWMQY])", "{0}{1}"),
    (r"CLV over the horizon \(([^)]+), log scale\)", "预测期内的 CLV（{0}，对数刻度）"),
    (r"current value \(realised margin, ([^)]+)\)", "当前价值（已实现利润，{0}）"),
    (r"potential value \(predicted CLV, ([^)]+)\)", "客户增值潜力（预测 CLV，{0}）"),
    (r"recency \((\w+) from first to last purchase\)", "首末次购买间隔（{0}）"),
    (r"P\(alive\) for a customer first seen ([\d.,]+) (\w+) ago", "首次购买于 {0}{1}前的客户的存活概率"),
    (r"Choosing the number of clusters \(chosen k = (\d+)\)", "选择客户群数量（选定 k = {0}）"),
    (r"(\w+): raw \(skew ([-\d.]+)\)", "{0}：原始值（偏度 {1}）"),
    (r"(\w+): log-transformed and standardised", "{0}：对数变换并标准化"),
    (r"(\w+): untransformed and standardised", "{0}：未变换、已标准化"),
    (r"(\w+) \(purchase days\)", "{0}（购买日数）"),
    (r"(\w+) \((USD|EUR|GBP|CNY|JPY|RMB|[A-Z]{3})\)", "{0}（{1}）"),
    (r"(\d+): (.+)", "{0}：{1}"),
    (r"(.+) \((\d+)\)", "{0}（{1}）"),
    (r"F(\d) \(value\): (.+)", "F{0}（价值因子）：{1}"),
    (r"F(\d) \(risk\): (.+)", "F{0}（风险因子）：{1}"),
    (r"(.+) \(n=([\d,]+)(?:, median ([\d.]+))?\)", "{0}（n={1}，中位数 {2}）"),
    (r"(.+): actual", "{0}：实际值"),
    (r"(.+): sBG \(fit on 0-(\d+)\)", "{0}：sBG（用第 0-{1} 期拟合）"),
    (r"(.+) implied", "{0} 推算"),
    (r"(.+): beta\(t\)", "{0}：beta(t)"),
    (r"(.+): fitted beta", "{0}：拟合的 beta"),
    (r"event-time bin \(equal counts, (\d+) bins\)", "事件时间分组（等频，{0} 组）"),
    (r"hazard ratio \(log scale\), (\d+)% CI", "风险比（对数刻度），{0}% 置信区间"),
    (r"Kaplan-Meier: share of customers not churned \(inactivity ([\d.]+) (\w+)\)",
     "Kaplan-Meier：未流失客户比例（沉默期阈值 {0}{1}）"),
    (r"Kaplan-Meier \(inactivity ([\d.]+) (\w+)\)", "Kaplan-Meier 估计（沉默期阈值 {0}{1}）"),
    (r"Time to churn by lifecycle stage at (\d{4}-\d\d-\d\d)", "{0} 各生命周期阶段客户的流失时间"),
    (r"Activity per (\w+)(?: \(first (\d+)\))?", "每{0}的活跃情况（前 {1} 期）"),
    (r"(\w+) since first purchase", "首次购买后的{0}数"),
    (r"cohort_(.+)", "获客批次 {0}"),
    (r"(\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d)", "{0} 至 {1}"),
    (r"churned within (\d+) (\w+)", "{0}{1}内流失"),
    (r"median time to churn \((\w+)\)", "流失时间中位数（{0}）"),
    (r"margin to date of these customers \(([^)]+)\)", "这些客户迄今的利润（{0}）"),
    (r"DERL\(d=([\d.]+), n=(\d+)\)", "折现预期剩余寿命（d={0}，n={1}）"),
    (r"MSA ([\d.]+) < ([\d.]+)", "个体 KMO（MSA）{0} < {1}"),
    (r"\|r\| = ([\d.]+) with (\w+)", "与 {1} 的 |r| = {0}"),
    (r"(.+) on all data", "{0}（全部数据）"),
    (r"(.+) \(worth it\)", "{0}（值得挽回）"),
    (r"\(worth it\)", "（值得挽回）"),
    (r"\((\w)\)", "（{0}）"),
    (r"(.+) — (.+)", "{0}——{1}"),
)
#: The sentence of :func:`clm_utils.data.sampling.sample_note` after its optional "what: " head.
_SAMPLE_NOTE = (r"computed on a seeded (simple random|stratified by \w+) sample of ([\d,]+) of ([\d,]+) customers "
                r"\(seed (\d+); bases above ([\d,]+) customers are sampled, CLM_SAMPLE_ABOVE\); every customer keeps "
                r"their own labels\.?")
#: Sentences with numbers of the profit basis (clm_utils.profit.profit_basis, lifecycle.profit_definition) and the
#: captions with dates or names of notebooks 04, 07 and 08 (issues 13 and 14).
PATTERNS_ZH = PATTERNS_ZH + (
    (r"What profit means here: (.+); so claims 2-4 compare revenue with volume\.",
     "此处利润的含义：{0}；因此论断 2–4 比较的是收入与交易量。"),
    (r"What profit means here: (.+)\.", "此处利润的含义：{0}。"),
    (r"profit = revenue − (.+)", "利润 = 收入 − {0}"),
    (r"profit = (.+)", "利润 = {0}"),
    (r"(.+?), − (.+)", "{0}，− {1}"),
    (r"((?:[\d.e+]+ x )?revenue) - (.+)", "{0} − {1}"),
    (r"([\d.e+]+ per purchase day) - (.+)", "{0} − {1}"),
    (r"cost of goods = (\d+%) of revenue \(margin (\d+%)\)", "销售成本 = 收入的 {0}（毛利率 {1}）"),
    (r"cost to serve ([\d.e+]+) per order", "维护成本每单 {0}"),
    (r"acquisition cost ([\d.e+]+) per customer", "客户获取成本每位客户 {0}"),
    (r"([\d.e+]+) x revenue", "{0} × 收入"),
    (r"([\d.e+]+) per purchase day", "每个购买日 {0}"),
    (r"([\d.e+]+) acquisition cost at age 0", "首期客户获取成本 {0}"),
    (r"Stages at (\d{4}-\d\d-\d\d)", "{0} 的生命周期阶段"),
    (r"Transition counts \(rows: stage at (\d{4}-\d\d-\d\d); columns: at (\d{4}-\d\d-\d\d)\)",
     "迁移人数（行：{0} 的阶段；列：{1} 的阶段）"),
    (r"Headline KPIs at (\d{4}-\d\d-\d\d) and (\d{4}-\d\d-\d\d)", "{0} 与 {1} 的关键指标"),
    (r"Customers and revenue by group, (\d{4}-\d\d-\d\d) → (\d{4}-\d\d-\d\d)", "各群体的客户数与收入，{0} → {1}"),
    (r"80/20 on (\w+)", "基于{0}的二八法则"),
    (r"The 12 customer types with their policies \((\w+)\)", "12 种客户类型及其策略（{0}）"),
    (r"Log-rank test: equal survival across (.+)", "Log-rank 检验：各 {0} 组的生存曲线是否相同"),
    (r"Median relationship length by (.+) \((\w+)\)", "按 {0} 的关系时长中位数（{1}）"),
    (r"Repurchase, P\(alive\) and holdout purchases by (.+)", "按 {0} 的再购买、存活概率与验证期购买"),
    # sentences the notebooks print
    ((r"([\d,]+) customers of the cohort\(s\) (.+) are left out of the Cox model: none of them has churned yet "
      r"\(acquired too recently for the inactivity window\), so their cohort effect cannot be estimated\."),
     "获客批次 {1} 的 {0} 位客户未纳入 Cox 模型：其中尚无人流失（获客时间太近，还不足以经历完整的沉默期），无法估计这些批次的效应。"),
    (r"(.+?):? " + _SAMPLE_NOTE, ("{0}：基于 {3} 位客户中带种子（{4}）的{1}样本 {2} 位计算（客户数超过 {5} 时抽样，"
                                   "CLM_SAMPLE_ABOVE）；每位客户仍保留自己的标签。")),
    (_SAMPLE_NOTE, ("基于 {2} 位客户中带种子（{3}）的{0}样本 {1} 位计算（客户数超过 {4} 时抽样，CLM_SAMPLE_ABOVE）；"
                    "每位客户仍保留自己的标签。")),
    ((r"bootstrap on a seeded random sample of at most ([\d,]+) customers per group \(seed (\d+); CLM_SAMPLE_ABOVE\), "
      r"its spread rescaled to the full groups of ([\d,]+) and ([\d,]+)"),
     "在每组至多 {0} 位客户的带种子（{1}）随机样本上自助抽样（CLM_SAMPLE_ABOVE），其离散程度按完整的两组（{2} 与 {3} 位客户）换算"),
    (r"Cox model", "Cox 模型"),
    (r"(\d{4}-\d\d) to (\d{4}-\d\d)", "{0} 至 {1}"),
    (r"(\d{4}-\d\d) and (\d{4}-\d\d)", "{0} 与 {1}"),
    (r"simple random", "简单随机"),
    (r"stratified by (\w+)", "按 {0} 分层"),
    (r"typical gap between purchase days \(pooled median\) ([\d.,]+) days; recent window ([\d.,]+) days; "
     r"younger than ([\d.,]+) days: exploration", "典型购买间隔（合并中位数）{0} 天；近期窗口 {1} 天；关系时长不足 {2} 天：考察期"),
    (r"Method: ages chosen on a random half of the customers \((\d+)\), statistics on the other half \((\d+)\) with a "
     r"(\d+)-replicate percentile bootstrap; (\d+)% intervals(.*)\.",
     "方法：在随机一半客户（{0}）上选定时长，在另一半客户（{1}）上用 {2} 次重抽样的百分位自助法检验统计量；{3}% 区间{4}。"),
    (r"([\d.]+%) of customers lose money on these costs \((.+)\)\.", "按这些成本，{0} 的客户亏损（{1}）。"),
    (r"The 12 types hold ([\d,]+) of ([\d,]+) customers\.", "12 种类型涵盖全部 {1} 位客户中的 {0} 位。"),
    (r"Window (\S+) to (\S+); high = more than ([\d.]+) purchase days\.", "时间窗口 {0} 至 {1}；高频 = 多于 {2} 个购买日。"),
    (r"([\d,]+) high-value customers fell a tier or entered decline; the (\d+) with the highest earlier value:",
     "{0} 位高价值客户下降了一级或进入退化期；以下是较早价值最高的 {1} 位："),
    (r"Forecast made at (\S+) by (\S+) for the ([\d.,]+) (\w+) that elapsed \(the earlier CLV covers (\w+)\)\.",
     "预测由 {1} 于 {0} 做出，覆盖此后已过去的 {2} {3}（较早的 CLV 覆盖 {4}）。"),
    (r"Profit basis of the curves and claims: (.+)", "曲线与论断的利润口径：{0}"),
    (r"Profit basis: (.+)", "利润口径：{0}"),
    (r"stages at (\S+) \(data to that date only\); holdout (\S+) to (\S+) \((\d+) days\)",
     "在 {0} 划分阶段（只用截至该日的数据）；验证期 {1} 至 {2}（{3} 天）"),
    (r"intervals: percentile bootstrap over customers \((\d+) Poisson-weight replicates, seed (\d+)\); "
     r"P\(no purchase\): exact Clopper-Pearson", "区间：对客户的百分位自助法（{0} 次泊松权重重抽样，种子 {1}）；零购买概率：精确 Clopper-Pearson 区间"),
    (r"([\d,]+) customers first seen on (\S+) have no past rate \(left out of rate_ratio\)",
     "{0} 位在 {1} 首次出现的客户没有过去的速率（不计入速率比）"),
    (r"Note: nobody was in (.+) at (\S+), so the exit rates of (?:that stage|those stages) are unknown; the projection "
     r"keeps customers who reach it there, so read those shares as an upper bound\.",
     "注意：{1} 没有客户处于{0}，因此其退出率未知；预测让到达该阶段的客户留在那里，因此这些占比应视为上限。"),
    (r"Nobody was in (.+) at (\S+): the projection keeps those customers in place\.", "{1} 没有客户处于{0}：预测让这些客户保持原位。"),
)
#: Names that stay as they are in Chinese text: the models' and statistics' own abbreviations and parameters.
KEEP: frozenset[str] = frozenset({"BG/NBD", "Pareto/NBD", "MBG/NBD", "NBD", "BG/BB", "sBG", "Gamma-Gamma", "AIC", "BIC",
                                  "KMO", "ARI", "CLV", "RFM", "DERL", "alpha", "beta", "gamma", "rho", "theta"})
_PATTERNS = tuple((re.compile(p), t) for p, t in PATTERNS_ZH)
_MIXED = re.compile(r"([A-Za-z][A-Za-z_/ -]*?) ([\u4e00-\u9fff][\u4e00-\u9fff/]*)(.*)")
_DURATION_ZH = {"D": "天", "W": "周", "M": "个月", "Q": "个季度", "Y": "年"}


def translate(text: object, lang: str = "zh") -> object:
    """The Chinese for an English label or sentence of a plot or table; anything unknown comes back as given.

    Looks up, in order: :data:`TEXTS_ZH` (exact), the glossary (:func:`clm_utils.glossary.label`),
    the patterns of :data:`PATTERNS_ZH` (their groups translated recursively), and a comma-separated
    list whose every part translates (``"frequent, recent"``; the cluster names are such lists).
    Numbers, dates and codes have nothing to translate and stay.  ``en`` returns ``text``.
    """
    check_lang(lang)
    if lang == "en" or not isinstance(text, str):
        return text
    return _translate(text, 0)


def _translate(text: str, depth: int) -> str:
    s = text.strip()
    if not s or depth > 4:
        return text
    if not re.search(r"[A-Za-z]", s):  # Chinese already; a retired name (休眠客户) becomes the glossary's
        return str(glossary.label(s, "zh")) if _CJK.search(s) and glossary.lookup(s) is not None else text
    if s in TEXTS_ZH:
        return TEXTS_ZH[s]
    if s in _FEATURE_WORDS_ZH:
        return _FEATURE_WORDS_ZH[s]
    if len(s) <= 2 or s in KEEP:  # R, F, M, T, k, model names: the letters of the formulas stay
        return text
    if glossary.lookup(s) is not None:
        return str(glossary.label(s, "zh"))
    mixed = _MIXED.fullmatch(s)
    if mixed:  # a bilingual label "stability 稳定期", "decline 退化期 (worth it)": the glossary's name
        en, zh, rest = mixed.groups()
        name = _translate(en, depth + 1)
        if not _CJK.search(name):
            found = glossary.label(zh, "zh")
            name = found if isinstance(found, str) else zh
        return name + (_translate(rest.strip(), depth + 1) if rest.strip() else "")
    if "\n" in s:
        return "\n".join(_translate(part, depth + 1) for part in s.split("\n"))
    for pattern, template in _PATTERNS:
        m = pattern.fullmatch(s)
        if m:
            groups = [g or "" for g in m.groups()]
            if template == "{0}{1}":  # a duration such as 12M
                return f"{groups[0]}{_DURATION_ZH[groups[1]]}"
            parts = [_translate(g, depth + 1) if g else "" for g in groups]
            out = template.format(*parts)
            return re.sub(r"（n=([\d,]+)，中位数 ）", r"（n=\1）", out).replace("（前  期）", "")
    if ", " in s:
        parts = [_translate(p, depth + 1) for p in s.split(", ")]
        if all(_CJK.search(p) for p in parts):
            return "、".join(parts)
    for sep, joiner in (("; ", "；"), (" / ", " / ")):
        if sep in s:
            parts = [_translate(p, depth + 1) for p in s.split(sep)]
            if all(_CJK.search(p) for p in parts):
                return joiner.join(parts)
    sentences = re.split(r"(?<=\.) (?=[A-Z0-9])", s)
    if len(sentences) > 1:  # several notes in one line: each sentence on its own
        parts = [_translate(p, depth + 1) for p in sentences]
        if all(_CJK.search(p) for p in parts):
            return "".join(parts)
    return text


#: Words of the cluster names (clm_utils.cluster.FEATURE_WORDS) in Chinese.
_FEATURE_WORDS_ZH: dict[str, str] = {
    "lapsed": "久未购买", "recent": "近期购买", "frequent": "高频", "one-off": "一次性", "big-basket": "大额",
    "small-basket": "小额", "long-standing": "老客户", "newer": "较新客户", "slow-cycle": "购买周期长",
    "fast-cycle": "购买周期短", "irregular": "不规律", "regular": "规律", "growing-spend": "消费增长",
    "shrinking-spend": "消费减少", "big-ticket": "大单", "small-ticket": "小单", "big-first-order": "首单大",
    "small-first-order": "首单小", "still-engaged": "仍活跃", "faded": "已淡出", "many-items": "多件",
    "few-items": "少件",
}


def untranslated_texts(texts: Iterable[str]) -> list[str]:
    """The texts among ``texts`` that :func:`translate` leaves without Chinese (sorted, unique).

    Texts without letters (numbers, dates, percentages) are not labels and are left out.
    """
    out = {t for t in texts if isinstance(t, str) and re.search(r"[A-Za-z]{2,}", t) and not t.startswith("$") and t.strip() not in KEEP
           and not _CJK.search(str(translate(t, "zh")))}
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# sentences of the shared analysis in the run's language
# ---------------------------------------------------------------------------------------------
def describe_run(manifest: Mapping[str, Any], unit: str, currency: str, lang: str,
                 differences: Mapping[str, Any] | None = None) -> str:
    """The paragraph of ``Analysis.describe()`` in ``lang``: data, dates (locale prose format), settings.

    Parameters
    ----------
    manifest
        ``Analysis.manifest``: keys ``data.label``, ``rows_kept``, ``customers``, ``first_date``,
        ``observation_end``, ``calibration_end``.
    unit
        The time unit code (``D``, ``W``, ``M``, ``Q``, ``Y``; ``Analysis.time_unit``).
    currency
        ISO code.
    differences
        Settings that differ from the defaults (``Settings.differences()``; ``data_path`` is left out).

    ``en`` gives ``Analysis.describe()``'s sentence with ISO dates; ``zh`` e.g. ``数据：CDNOW master (bundled)；
    23,570 位客户的 69,659 笔交易，1997年1月1日至1998年6月30日（分析日期）；校准期截至1997年9月30日；时间单位：周；货币：USD。``
    """
    check_lang(lang)
    diff = {k: v for k, v in (differences or {}).items() if k != "data_path"}
    label = manifest["data"]["label"]
    rows, customers = manifest["rows_kept"], manifest["customers"]
    first, end, cal = manifest["first_date"], manifest["observation_end"], manifest["calibration_end"]
    if lang == "en":
        extra = ("; settings: " + ", ".join(f"{k}={v}" for k, v in diff.items())) if diff else ""
        return (f"Data: {label}; {rows:,} transactions of {customers:,} customers, {first} to {end} (as-of date); "
                f"calibration end {cal}; time unit: {unit_name(unit, 'en')}; currency {currency}{extra}.")
    extra = ("；设置：" + "，".join(f"{k}={v}" for k, v in diff.items())) if diff else ""
    return (f"数据：{translate(label, 'zh')}；{format_number(customers, 'zh')} 位客户的 {format_number(rows, 'zh')} 笔交易，"
            f"{format_date(first, 'zh')}至{format_date(end, 'zh')}（分析日期）；校准期截至{format_date(cal, 'zh')}；"
            f"时间单位：{unit_name(unit, 'zh')}；货币：{currency}{extra}。")


def model_caveat_zh(chosen_model: str | None, one_time_buyers_alive: bool, incomplete_reason: str = "") -> str:
    """``Analysis.model_caveat()`` in Chinese (the sentence printed next to P(alive))."""
    if not chosen_model:
        return f"这些数据无法支持交易模型：{incomplete_reason}"
    text = f"存活概率、预期购买次数和 CLV 来自 {chosen_model}，即 CLV 报告选定的模型。"
    if chosen_model == "NBD":
        text += ("NBD 模型没有流失过程（数据在校准期内没有显示流失），因此每位客户的存活概率都是 1："
                 "请改从生命周期阶段和行为分级判断哪些客户有风险。")
    elif one_time_buyers_alive:
        text += (f"在 {chosen_model} 下，从未重复购买的客户的存活概率按构造等于 1，"
                 "因此请结合其生命周期阶段解读他们的存活概率，而不是用它代替阶段。")
    return text
