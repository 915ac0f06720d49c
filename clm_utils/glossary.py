"""English and Chinese names for every concept shown in a report (THEORY.md terms).

``TERMS`` maps a key to ``(english, chinese)``.  Use :func:`term` for one language and
:func:`both` for "English 中文" labels in tables and markdown.  Plots use English only: the
machines that render reports have no CJK font for matplotlib.
"""

from __future__ import annotations

from typing import TypeVar

import pandas as pd

from clm_utils.errors import ParameterError

_Frame = TypeVar("_Frame", pd.DataFrame, pd.Series)

TERMS: dict[str, tuple[str, str]] = {
    # --- foundation: data and customer base ---
    "customer": ("customer", "客户"),
    "transaction": ("transaction", "交易"),
    "data_quality": ("data quality", "数据质量"),
    "customer_base": ("customer base", "客户群"),
    "cohort": ("acquisition cohort", "获客批次"),
    "retention": ("retention", "留存"),
    "revenue": ("revenue", "收入"),
    "repeat_purchase": ("repeat purchase", "重复购买"),
    "inter_purchase_time": ("inter-purchase time", "购买间隔"),
    "customer_value": ("customer value", "客户价值"),
    "current_value": ("current value", "当前价值"),
    "potential_value": ("potential value", "潜在价值"),
    "lifecycle": ("customer relationship lifecycle", "客户关系生命周期"),
    "clv": ("customer lifetime value", "客户生命周期价值"),
    "segmentation": ("customer segmentation", "客户细分"),
    # --- segmentation (rfm, cluster) ---
    "rfm": ("RFM analysis", "RFM分析"),
    "recency": ("recency (time since last purchase)", "最近一次购买"),
    "frequency": ("frequency (purchases)", "购买频次"),
    "monetary": ("monetary value (spend per purchase)", "消费金额"),
    "rfm_score": ("RFM score", "RFM评分"),
    "rfm_segment": ("RFM segment", "RFM客户群"),
    "value_tier": ("value tier", "价值层级"),
    "high_value": ("high-value customers", "高价值客户"),
    "medium_value": ("medium-value customers", "中价值客户"),
    "low_value": ("low-value customers", "低价值客户"),
    "customer_pyramid": ("customer pyramid", "客户金字塔"),
    "platinum": ("platinum tier", "铂金层"),
    "gold": ("gold tier", "黄金层"),
    "iron": ("iron tier", "钢铁层"),
    "lead": ("lead tier", "重铅层"),
    "activity_class": ("activity class", "活跃度分类"),
    "active": ("active customer", "活跃客户"),
    "sleeping": ("sleeping customer", "沉睡客户"),
    "churned": ("churned customer", "流失客户"),
    "purchase_rhythm": ("own purchase rhythm", "个人购买节奏"),
    "concentration": ("value concentration", "价值集中度"),
    "lorenz_curve": ("Lorenz curve", "洛伦兹曲线"),
    "gini": ("Gini coefficient", "基尼系数"),
    "pareto_rule": ("80/20 rule", "二八法则"),
    "loyal_customer": ("loyal customer", "忠诚客户"),
    "clustering": ("cluster analysis", "聚类分析"),
    "cluster": ("cluster", "客户簇"),
    "kmeans": ("k-means", "K均值聚类"),
    "gaussian_mixture": ("Gaussian mixture model", "高斯混合模型"),
    "silhouette": ("silhouette coefficient", "轮廓系数"),
    "cluster_stability": ("cluster stability", "聚类稳定性"),
    "cluster_profile": ("cluster profile", "客户簇画像"),
    "factor_analysis": ("factor analysis", "因子分析"),
    "factor_cluster": ("factor-then-cluster analysis", "因子-聚类分析"),
    "kmo": ("Kaiser-Meyer-Olkin measure", "KMO检验"),
    "bartlett": ("Bartlett's test of sphericity", "Bartlett球形检验"),
    "varimax": ("varimax rotation", "方差最大正交旋转"),
    "factor_loading": ("factor loading", "因子载荷"),
    "value_factor": ("value factor", "价值因子"),
    "risk_factor": ("risk factor", "风险因子"),
    "value_risk_grid": ("value x risk grid", "价值-风险矩阵"),
    # --- clv ---
    "btyd": ("buy till you die models", "“购买直至流失”模型"),
    "non_contractual": ("non-contractual setting", "非契约情境"),
    "contractual": ("contractual setting", "契约情境"),
    "bgnbd": ("BG/NBD model", "BG/NBD 模型（贝塔几何/负二项分布）"),
    "mbgnbd": ("MBG/NBD model", "MBG/NBD 模型（修正贝塔几何/负二项分布）"),
    "pareto_nbd": ("Pareto/NBD model", "Pareto/NBD 模型（帕累托/负二项分布）"),
    "bgbb": ("BG/BB model", "BG/BB 模型（贝塔几何/贝塔二项分布）"),
    "sbg": ("shifted-beta-geometric model", "移位贝塔几何模型"),
    "gamma_gamma": ("Gamma-Gamma spend model", "Gamma-Gamma 消费金额模型"),
    "p_alive": ("probability alive", "存活概率"),
    "expected_purchases": ("expected purchases", "预期购买次数"),
    "expected_spend": ("expected spend per purchase", "预期单次消费金额"),
    "calibration_period": ("calibration period", "校准期"),
    "holdout_period": ("holdout period", "验证期"),
    "tracking_plot": ("tracking plot", "累计交易跟踪图"),
    "conditional_expectation": ("conditional expectation", "条件期望"),
    "log_likelihood": ("log-likelihood", "对数似然"),
    "discount_rate": ("discount rate", "折现率"),
    "margin": ("profit margin", "利润率"),
    "horizon": ("forecast horizon", "预测期"),
    "retention_rate": ("retention rate", "留存率"),
    "survival_share": ("share still active", "存活比例"),
    "derl": ("discounted expected residual lifetime", "折现预期剩余生命周期"),
    "bootstrap_ci": ("bootstrap confidence interval", "自助法置信区间"),
    "value_matrix": ("current x potential value matrix", "当前价值×潜在价值矩阵"),
    "most_valuable": ("most valuable customers", "最有价值客户"),
    "growth_potential": ("growth-potential customers", "潜力客户"),
    "maintain": ("maintain customers", "维持型客户"),
    # --- lifecycle and survival ---
    "stage": ("lifecycle stage", "生命周期阶段"),
    "exploration": ("exploration", "考察期"),
    "formation": ("formation", "形成期"),
    "stability": ("stability", "稳定期"),
    "decline": ("decline", "退化期"),
    "terminated": ("terminated", "终止"),
    "stage_transition": ("stage transition", "阶段迁移"),
    "stage_value_grid": ("stage x value grid", "生命周期-价值矩阵"),
    "lifecycle_curve": ("aggregate lifecycle curve", "生命周期曲线"),
    "churn": ("churn", "流失"),
    "inactivity_window": ("inactivity window", "沉默期阈值"),
    "censoring": ("right-censoring", "右删失"),
    "survival_function": ("survival function", "生存函数"),
    "kaplan_meier": ("Kaplan-Meier estimate", "Kaplan-Meier 估计"),
    "median_lifetime": ("median relationship length", "关系中位时长"),
    "log_rank": ("log-rank test", "对数秩检验"),
    "hazard": ("hazard (churn risk)", "风险率"),
    "hazard_ratio": ("hazard ratio", "风险比"),
    "cox_model": ("Cox proportional-hazards model", "Cox 比例风险模型"),
    "concordance": ("concordance (C-index)", "一致性指数"),
    "proportional_hazards": ("proportional-hazards assumption", "比例风险假设"),
}


def term(key: str, lang: str = "en") -> str:
    """The name of ``key`` in ``lang`` (``en`` or ``zh``); unknown keys come back as given."""
    if lang not in ("en", "zh"):
        raise ParameterError(f"{lang!r} is not a supported language", parameter="lang", hint="use en or zh")
    if key not in TERMS:
        return key
    en, zh = TERMS[key]
    return en if lang == "en" else zh


def both(key: str) -> str:
    """``"English 中文"`` for tables and markdown."""
    if key not in TERMS:
        return key
    en, zh = TERMS[key]
    return f"{en} {zh}"


def _by_english() -> dict[str, str]:
    return {en: key for key, (en, _zh) in TERMS.items()}


def localize(table: _Frame, lang: str = "en") -> _Frame:
    """Label a table for ``lang``: with ``zh``, known terms in the column names and index get
    "English 中文" labels (a key or its English name is recognised); with ``en`` it is unchanged.
    """
    if lang == "en":
        return table
    if lang != "zh":
        raise ParameterError(f"{lang!r} is not a supported language", parameter="lang", hint="use en or zh")
    english = _by_english()

    def label(name: object) -> object:
        if not isinstance(name, str):
            return name
        key = name if name in TERMS else english.get(name) or english.get(name.replace("_", " "))
        return both(key) if key else name

    out = table.rename(index=label)
    if isinstance(out, pd.DataFrame):
        out = out.rename(columns=label)
    return out
