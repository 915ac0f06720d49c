"""English and Chinese names, with a one-line definition, for every concept a report shows.

One :class:`Term` per concept: its key, its English and Chinese name, a definition in each
language, where the Chinese name comes from (``origin``) and the other names a reader may bring
(``aliases``).  Everything that labels a table, a plot or a category value goes through here, so a
concept has one name in every report.

Origins
-------
``"sources"``
    The name the project's theory sources use (the Chinese CRM course texts digested in the
    project's docs/theory.md, and the terminology review of issue 13).
``"standard"``
    The established name in Chinese statistics / marketing writing (e.g. 基尼系数, 生存函数), or
    an ordinary word (客户数, 占比).
``"project"``
    Coined by this project because the sources have no name for it (e.g. the RFM segment names,
    the behavioural features of the clustering, the BTYD quantities).  Shown as such on the
    glossary page.

Terminology decisions (issue 13): CLM is 客户生命周期管理; retention is 客户保持 / 客户保持率 (not
留存); value tiers 价值分级, activity classes 行为分级, a cluster 客户群; F is 购买频率, M is the
amount spent in the period (消费金额, a total), R is 最近一次购买至今的时间间隔; the value-matrix axis
is 客户增值潜力; 沉睡 only (RFM "Hibernating" too); an ended relationship is 流失 everywhere (the
activity class 流失客户, the lifecycle stage 流失期, the RFM segment "Lost" 流失客户); DERL is
折现预期剩余寿命.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

import pandas as pd

from clm_utils.errors import ParameterError
from clm_utils.fonts import font_face_css

_Frame = TypeVar("_Frame", pd.DataFrame, pd.Series)

LANGS: tuple[str, ...] = ("en", "zh")
Origin = Literal["sources", "standard", "project"]


@dataclass(frozen=True)
class Term:
    """One concept: names and one-line definitions in English and Chinese.

    ``same_as`` names another key whose Chinese name this term shares on purpose (one concept seen
    from two analyses, e.g. the RFM segment "Hibernating" and the activity class "sleeping", both
    沉睡客户).
    """

    key: str
    en: str
    zh: str
    en_def: str
    zh_def: str
    origin: Origin
    group: str
    aliases: tuple[str, ...] = ()
    same_as: str | None = None


_S: Origin = "sources"
_D: Origin = "standard"
_P: Origin = "project"

#: Sections of the glossary page, in order: key -> (English title, Chinese title).
GROUPS: dict[str, tuple[str, str]] = {
    "base": ("Customers, data and value", "客户、数据与价值"),
    "management": ("Managing the relationship", "客户关系管理"),
    "segmentation": ("Segmentation: RFM, tiers, activity", "客户细分：RFM、价值分级、行为分级"),
    "rfm_segment": ("RFM segments", "RFM细分类别"),
    "clustering": ("Clustering and factor analysis", "聚类与因子分析"),
    "feature": ("Behavioural features", "行为特征"),
    "clv": ("Customer lifetime value (BTYD models)", "客户生命周期价值（BTYD 模型）"),
    "lifecycle": ("Lifecycle stages", "生命周期阶段"),
    "survival": ("Survival and churn", "生存分析与客户流失"),
    "table": ("Table headers", "表头"),
}

_TERMS: tuple[Term, ...] = (
    # --- customers, data and value --------------------------------------------------------
    Term("clm", "customer lifecycle management (CLM)", "客户生命周期管理",
         "Managing each customer by the stage of the relationship and the value it brings.",
         "按客户关系所处阶段及其价值对每位客户进行管理。", _S, "base",
         ("CLM", "客户关系生命周期管理")),
    Term("customer", "customer", "客户", "A person or firm with at least one purchase in the data.",
         "数据中至少有一次购买的个人或企业。", _S, "base"),
    Term("transaction", "transaction", "交易", "One purchase record: customer, date and amount.",
         "一条购买记录：客户、日期与金额。", _S, "base"),
    Term("transaction_volume", "transaction volume", "交易量",
         "Number (or amount) of a customer's transactions per period.",
         "客户每期的交易次数（或金额）。", _S, "base"),
    Term("data_quality", "data quality", "数据质量",
         "What was read, dropped or changed on the way from the raw file to the analysis.",
         "从原始文件到分析的过程中读取、删除或修改了哪些记录。", _D, "base"),
    Term("customer_base", "customer base", "全体客户",
         "All customers in the data up to the as-of date.", "截至分析日期数据中的全部客户。", _P, "base"),
    Term("cohort", "acquisition cohort", "获客批次",
         "Customers whose first purchase falls in the same period.", "首次购买落在同一时期的客户。", _P, "base",
         ("cohort",)),
    Term("retention", "retention", "客户保持",
         "Keeping customers buying; measured per cohort as the share still buying.",
         "使客户持续购买；按获客批次以仍在购买的比例衡量。", _S, "base", ("留存", "保持")),
    Term("revenue", "revenue", "收入", "Sum of the transaction amounts.", "交易金额之和。", _D, "base"),
    Term("repeat_purchase", "repeat purchase", "重复购买", "Any purchase day after the first.",
         "首次购买之后的任一购买日。", _S, "base"),
    Term("inter_purchase_time", "inter-purchase time", "购买间隔",
         "Time between two consecutive purchase days of one customer.", "同一客户相邻两个购买日之间的时间。",
         _S, "base"),
    Term("customer_value", "customer value", "客户价值",
         "What a customer is worth to the firm: current plus potential value.", "客户对企业的价值：当前价值加潜在价值。",
         _S, "base"),
    Term("current_value", "current value", "当前价值", "Margin the customer has already brought in.",
         "客户已经带来的利润。", _S, "base"),
    Term("potential_value", "potential value", "潜在价值", "Margin the customer is expected to bring in the future.",
         "客户预期在未来带来的利润。", _S, "base", ("未来价值",)),
    Term("value_growth_potential", "value growth potential", "客户增值潜力",
         "The potential-value axis of the value matrix: predicted future value (CLV).",
         "价值矩阵的潜在价值轴：预测的未来价值（CLV）。", _S, "base", ("growth potential axis",)),
    Term("lifecycle", "customer relationship lifecycle", "客户关系生命周期",
         "The stages a relationship passes through from first contact to its end.", "客户关系从开始到结束所经历的各个阶段。",
         _S, "base"),
    Term("clv", "customer lifetime value", "客户生命周期价值",
         "Discounted margin a customer is expected to bring over the whole relationship.",
         "客户在整个关系期内预期带来的折现利润。", _S, "base", ("CLV",)),
    Term("segmentation", "customer segmentation", "客户细分",
         "Dividing customers into groups to treat each group differently.", "把客户划分为不同群体以区别对待。",
         _S, "base"),
    # --- managing the relationship -----------------------------------------------------------
    Term("satisfaction", "customer satisfaction", "满意度",
         "How far the customer's experience meets their expectations.", "客户的体验满足其期望的程度。", _S,
         "management", ("satisfaction", "客户满意度")),
    Term("loyalty", "customer loyalty", "忠诚度",
         "The customer's commitment to keep buying from the firm.", "客户持续向企业购买的意愿与行为。", _S,
         "management", ("loyalty", "客户忠诚度")),
    Term("acquisition_cost", "customer acquisition cost", "客户获取成本",
         "What the firm spends to win one new customer.", "企业获得一位新客户的花费。", _S, "management",
         ("CAC", "获客成本")),
    Term("maintenance_cost", "cost to serve (maintenance cost)", "维护成本",
         "What the firm spends to keep and serve an existing customer.", "企业保持并服务现有客户的花费。", _S,
         "management", ("cost to serve", "retention cost")),
    Term("customer_profit", "customer profit", "客户利润",
         "Revenue from a customer minus the costs of acquiring and serving them.",
         "来自客户的收入减去获取和服务该客户的成本。", _S, "management"),
    Term("churn_warning", "churn early warning", "流失预警",
         "Flagging customers whose behaviour signals an imminent end of the relationship.",
         "识别行为预示关系即将结束的客户。", _S, "management", ("churn alert",)),
    Term("loyal_customer", "loyal customer", "忠诚客户",
         "A customer who keeps buying over a long relationship.", "在较长关系中持续购买的客户。", _S, "management"),
    Term("core_customer", "core customers", "核心客户",
         "The few customers who bring most of the value.", "带来大部分价值的少数客户。", _S, "management"),
    Term("potential_customer", "potential customers", "潜力客户",
         "Customers of low current but high potential value.", "当前价值低但潜在价值高的客户。", _S, "management"),
    Term("general_customer", "general customers", "一般客户",
         "Customers of low current and low potential value.", "当前价值与潜在价值都较低的客户。", _S, "management",
         ("ordinary customers",)),
    Term("margin", "profit margin", "利润率", "Share of revenue that is profit.", "收入中属于利润的比例。", _D,
         "management"),
    Term("discount_rate", "discount rate", "折现率", "Rate per year by which future money is worth less today.",
         "未来资金折算为今天价值时每年使用的比率。", _D, "management"),
    # --- segmentation ------------------------------------------------------------------------
    Term("rfm", "RFM analysis", "RFM分析",
         "Scoring customers on recency, frequency and monetary value.", "按最近一次购买至今的时间间隔、购买频率和消费金额给客户打分。",
         _S, "segmentation"),
    Term("recency", "recency (R: time since the last purchase)", "最近一次购买至今的时间间隔",
         "Time from a customer's last purchase to the as-of date (RFM's R).",
         "客户最近一次购买到分析日期的时间（RFM中的R）。", _S, "segmentation",
         ("R", "recency_time", "最近一次购买", "距上次购买时间")),
    Term("frequency", "frequency (F: number of purchases)", "购买频率",
         "Number of purchase days in the period (RFM's F).", "期间内的购买次数（按购买日计，RFM中的F）。", _S,
         "segmentation", ("F", "n_purchases", "购买次数", "购买频次")),
    Term("monetary", "monetary value (M: total spent in the period)", "消费金额",
         "Total amount a customer spent in the period (RFM's M).", "客户在期间内的消费总额（RFM中的M）。", _S,
         "segmentation", ("M",)),
    Term("rfm_score", "RFM score", "RFM评分", "Quantile scores of R, F and M, 1 (worst) to 5 (best).",
         "R、F、M 的分位数评分，1（最差）到5（最好）。", _S, "segmentation"),
    Term("rfm_segment", "RFM segment", "RFM细分类别", "A named group of RFM score combinations.",
         "由若干RFM评分组合构成的有名称的客户类别。", _P, "segmentation"),
    Term("value_tier", "value tier", "价值分级", "High / medium / low value customers by rank of value.",
         "按价值排序划分的高/中/低价值客户。", _S, "segmentation", ("价值层级",)),
    Term("high_value", "high-value customers", "高价值客户", "The top tier by value.", "价值最高的一级。", _S,
         "segmentation"),
    Term("medium_value", "medium-value customers", "中价值客户", "The middle tier by value.", "价值居中的一级。", _S,
         "segmentation"),
    Term("low_value", "low-value customers", "低价值客户",
         "The bottom tier by value (also the value-matrix quadrant low current, low potential).",
         "价值最低的一级（也是价值矩阵中当前价值低、增值潜力低的象限）。", _S, "segmentation", ("low value",)),
    Term("customer_pyramid", "customer pyramid", "客户金字塔",
         "Platinum, gold, iron and lead tiers ranked by value (Zeithaml, Rust & Lemon 2001).",
         "按价值排序的铂金层、黄金层、钢铁层和重铅层（Zeithaml、Rust 与 Lemon，2001）。", _S, "segmentation",
         ("pyramid",)),
    Term("platinum", "platinum tier", "铂金层", "The most valuable customers of the pyramid.", "金字塔中价值最高的客户。",
         _S, "segmentation"),
    Term("gold", "gold tier", "黄金层", "The second pyramid tier.", "金字塔的第二层。", _S, "segmentation"),
    Term("iron", "iron tier", "钢铁层", "The third pyramid tier: many customers, modest value.",
         "金字塔的第三层：人数多、价值一般。", _S, "segmentation"),
    Term("lead", "lead tier", "重铅层", "The bottom pyramid tier: costs more than it brings.",
         "金字塔的底层：带来的价值低于服务成本。", _S, "segmentation"),
    Term("activity_class", "activity class", "行为分级",
         "Active / sleeping / churned, against each customer's own purchase rhythm.",
         "相对于客户自身购买节奏划分的活跃/沉睡/流失。", _S, "segmentation", ("activity", "活跃度分类")),
    Term("active", "active customers", "活跃客户", "Bought within their usual rhythm.", "在其通常的购买节奏内有购买。",
         _S, "segmentation", ("active customer", "活跃")),
    Term("sleeping", "sleeping customers", "沉睡客户", "Silent for longer than usual, but not yet churned.",
         "沉默时间超过平常但尚未流失。", _S, "segmentation", ("sleeping customer", "沉睡", "休眠客户", "休眠")),
    Term("churned", "churned customers", "流失客户", "Silent for so long that the relationship is over.",
         "沉默时间之长表明关系已经结束。", _S, "segmentation", ("churned customer", "已流失客户")),
    Term("frequency_class", "purchase-frequency class", "购买频率分级",
         "High / low / zero frequency customers by number of purchases.", "按购买次数划分的高频/低频/零频客户。", _P,
         "segmentation"),
    Term("high_frequency", "high-frequency customers", "高频客户", "Customers who buy often.", "经常购买的客户。", _S,
         "segmentation"),
    Term("low_frequency", "low-frequency customers", "低频客户", "Customers who buy rarely.", "很少购买的客户。", _S,
         "segmentation"),
    Term("zero_frequency", "zero-frequency customers", "零频客户",
         "Customers with no purchase in the period (or no repeat purchase).", "期间内没有购买（或没有重复购买）的客户。",
         _S, "segmentation"),
    Term("purchase_rhythm", "own purchase rhythm", "个人购买节奏",
         "A customer's usual time between purchases, the yardstick for silence.", "客户通常的购买间隔，用来衡量沉默时间。",
         _P, "segmentation"),
    Term("concentration", "value concentration", "价值集中度", "How much of the value a few customers bring.",
         "少数客户带来的价值所占比例。", _S, "segmentation"),
    Term("lorenz_curve", "Lorenz curve", "洛伦兹曲线",
         "Cumulative share of value against cumulative share of customers.", "价值累计占比对客户累计占比的曲线。", _D,
         "segmentation"),
    Term("gini", "Gini coefficient", "基尼系数", "Inequality of value, 0 (equal) to 1 (one customer has all).",
         "价值的不均等程度，0（完全平均）到1（全部集中于一人）。", _D, "segmentation"),
    Term("pareto_rule", "80/20 rule", "二八法则", "The claim that about 20% of customers bring 80% of value.",
         "约20%的客户带来80%价值的说法。", _S, "segmentation"),
    # --- RFM segments (category values of rfm.rfm_segments) -----------------------------------
    Term("champions", "Champions", "冠军客户", "Bought recently, often and much.", "最近购买、购买频繁且金额高。", _P,
         "rfm_segment"),
    Term("loyal", "Loyal", "忠诚客户", "Buy often over a long time.", "长期频繁购买。", _S, "rfm_segment",
         same_as="loyal_customer"),
    Term("potential_loyalist", "Potential Loyalist", "潜在忠诚客户", "Recent customers buying more than once.",
         "近期多次购买的客户。", _P, "rfm_segment"),
    Term("new", "New", "新客户", "First purchase was recent.", "首次购买发生在近期。", _P, "rfm_segment",
         ("new customer", "new customers")),
    Term("promising", "Promising", "有潜力新客户", "Recent, few purchases, some spend.", "近期购买、次数少、有一定消费。", _P,
         "rfm_segment"),
    Term("need_attention", "Need Attention", "需要关注客户", "Middling on all three scores.", "三项评分均处于中等。", _P,
         "rfm_segment"),
    Term("about_to_sleep", "About to Sleep", "即将沉睡客户", "Below-average recency and frequency.",
         "最近购买时间和购买频率均低于平均。", _P, "rfm_segment"),
    Term("cant_lose", "Can't Lose", "不能失去的客户", "Used to buy often and much, long silent.",
         "曾经购买频繁且金额高，但已沉默很久。", _P, "rfm_segment"),
    Term("at_risk", "At Risk", "有流失风险客户", "Good customers who have not bought for a while.", "一段时间未购买的优质客户。",
         _P, "rfm_segment"),
    Term("hibernating", "Hibernating", "沉睡客户", "Long silent, few purchases, low spend.", "长期沉默、购买少、消费低。",
         _S, "rfm_segment", same_as="sleeping"),
    Term("lost", "Lost", "流失客户", "Lowest on recency, frequency and spend.", "最近购买、频率和金额都最低。", _S,
         "rfm_segment", same_as="churned"),
    # --- clustering and factor analysis -------------------------------------------------------
    Term("clustering", "cluster analysis", "聚类分析", "Grouping customers by similarity of behaviour.",
         "按行为相似性对客户分组。", _S, "clustering"),
    Term("cluster", "cluster", "客户群", "One group found by cluster analysis.", "聚类分析得到的一个客户群体。", _S,
         "clustering", ("客户簇",)),
    Term("kmeans", "k-means", "K均值聚类", "Clustering that minimises distances to k group means.",
         "使各点到k个组均值距离最小的聚类方法。", _D, "clustering"),
    Term("gaussian_mixture", "Gaussian mixture model", "高斯混合模型",
         "Clustering as a mixture of normal distributions.", "把数据视为若干正态分布混合的聚类方法。", _D, "clustering"),
    Term("silhouette", "silhouette coefficient", "轮廓系数",
         "How much closer points are to their own cluster than to the next (-1 to 1).",
         "点与本群的接近程度相对于最近他群的差（-1到1）。", _D, "clustering"),
    Term("cluster_stability", "cluster stability", "聚类稳定性",
         "Agreement of the clusters across resamples (adjusted Rand index).", "重复抽样下聚类结果的一致性（调整兰德指数）。",
         _D, "clustering"),
    Term("cluster_profile", "cluster profile", "客户群画像", "Mean of each feature per cluster, standardised.",
         "各客户群各特征的标准化均值。", _P, "clustering", ("客户簇画像",)),
    Term("factor_analysis", "factor analysis", "因子分析", "Explaining many indicators by a few common factors.",
         "用少数公共因子解释众多指标。", _S, "clustering"),
    Term("factor_cluster", "factor-then-cluster analysis", "因子-聚类分析",
         "Cluster on factor scores and read the clusters on a value x risk grid.", "在因子得分上聚类，并在价值-风险矩阵中解读。",
         _S, "clustering"),
    Term("kmo", "Kaiser-Meyer-Olkin measure", "KMO检验", "Whether indicators share enough variance for factors (>= 0.5).",
         "指标间是否有足够的共同方差进行因子分析（≥0.5）。", _D, "clustering", ("KMO",)),
    Term("bartlett", "Bartlett's test of sphericity", "Bartlett球形检验",
         "Tests that the indicators are correlated at all.", "检验指标之间是否存在相关。", _D, "clustering"),
    Term("varimax", "varimax rotation", "方差最大正交旋转", "Rotation that makes each factor load on few indicators.",
         "使每个因子只在少数指标上有高载荷的旋转。", _D, "clustering"),
    Term("factor_loading", "factor loading", "因子载荷", "Correlation of an indicator with a factor.",
         "指标与因子的相关系数。", _D, "clustering"),
    Term("value_factor", "value factor", "价值因子", "A factor whose high scores mean more value.",
         "得分越高表示价值越大的因子。", _S, "clustering"),
    Term("risk_factor", "risk factor", "风险因子", "A factor whose high scores mean more risk of loss.",
         "得分越高表示流失风险越大的因子。", _S, "clustering"),
    Term("value_risk_grid", "value x risk grid", "价值-风险矩阵", "Clusters placed by value index and risk index.",
         "按价值指数与风险指数定位各客户群。", _S, "clustering"),
    # --- behavioural features (cluster.py columns) --------------------------------------------
    Term("tenure", "tenure", "客户关系时长", "Time from first purchase to the as-of date.", "从首次购买到分析日期的时间。",
         _P, "feature"),
    Term("ipt_mean", "mean inter-purchase time", "平均购买间隔", "Mean time between purchase days.",
         "购买日之间的平均时间。", _P, "feature"),
    Term("ipt_cv", "variation of inter-purchase time", "购买间隔变异系数",
         "Standard deviation over mean of the inter-purchase times.", "购买间隔的标准差除以均值。", _P, "feature"),
    Term("spend_trend", "spend trend", "消费趋势", "Relative change of spend per purchase over time.",
         "每次消费金额随时间的相对变化。", _P, "feature"),
    Term("largest_purchase", "largest purchase", "最大单次消费", "Largest amount on one purchase day.",
         "单个购买日的最大金额。", _P, "feature"),
    Term("first_amount", "first purchase amount", "首次消费金额", "Amount of the first purchase day.",
         "首个购买日的消费金额。", _P, "feature"),
    Term("active_share", "share of tenure active", "活跃时长占比",
         "First-to-last purchase span as a share of tenure.", "首末次购买跨度占客户关系时长的比例。", _P, "feature"),
    Term("items_per_purchase", "items per purchase", "每次购买件数", "Mean number of items per purchase day.",
         "每个购买日的平均商品件数。", _P, "feature"),
    Term("spend_per_purchase", "spend per purchase", "平均每次消费金额", "Mean amount per purchase day.",
         "每个购买日的平均消费金额。", _P, "feature"),
    # --- customer lifetime value --------------------------------------------------------------
    Term("btyd", "buy till you die models", "“购买直至流失”模型",
         "Models of repeat buying while alive and an unobserved dropout.", "描述客户存活期间重复购买及不可观测流失的模型。",
         _P, "clv", ("BTYD",)),
    Term("non_contractual", "non-contractual setting", "非契约情境", "Customers can leave without telling the firm.",
         "客户离开时无须告知企业。", _S, "clv"),
    Term("contractual", "contractual setting", "契约情境", "Customers end a subscription visibly.", "客户终止订阅是可观测的。",
         _S, "clv"),
    Term("bgnbd", "BG/NBD model", "BG/NBD 模型（贝塔几何/负二项分布）",
         "Poisson buying while alive; dropout after any purchase (Fader, Hardie & Lee 2005).",
         "存活时按泊松过程购买，每次购买后可能流失（Fader、Hardie 与 Lee，2005）。", _S, "clv", ("BG/NBD",)),
    Term("mbgnbd", "MBG/NBD model", "MBG/NBD 模型（修正贝塔几何/负二项分布）",
         "BG/NBD in which customers with no repeat purchase can also drop out.", "无重复购买的客户也可能流失的BG/NBD。",
         _P, "clv", ("MBG/NBD",)),
    Term("pareto_nbd", "Pareto/NBD model", "Pareto/NBD 模型（帕累托/负二项分布）",
         "Poisson buying and exponential lifetimes, both heterogeneous (Schmittlein et al. 1987).",
         "泊松购买与指数寿命，两者均具异质性（Schmittlein 等，1987）。", _S, "clv", ("Pareto/NBD",)),
    Term("bgbb", "BG/BB model", "BG/BB 模型（贝塔几何/贝塔二项分布）", "BTYD model for discrete purchase opportunities.",
         "离散购买机会下的BTYD模型。", _P, "clv", ("BG/BB",)),
    Term("sbg", "shifted-beta-geometric model", "移位贝塔几何模型", "Contractual retention model (Fader & Hardie 2007).",
         "契约情境下的客户保持模型（Fader 与 Hardie，2007）。", _S, "clv", ("sBG",)),
    Term("gamma_gamma", "Gamma-Gamma spend model", "Gamma-Gamma 消费金额模型",
         "Model of spend per purchase, independent of buying (Fader, Hardie & Lee 2005).",
         "与购买次数独立的每次消费金额模型（Fader、Hardie 与 Lee，2005）。", _S, "clv", ("Gamma-Gamma",)),
    Term("p_alive", "probability alive", "存活概率", "Probability that a customer has not yet dropped out.",
         "客户尚未流失的概率。", _P, "clv", ("P(alive)",)),
    Term("expected_purchases", "expected purchases", "预期购买次数", "Model forecast of purchases in a coming period.",
         "模型预测的未来一段时间内的购买次数。", _P, "clv"),
    Term("expected_spend", "expected spend per purchase", "预期单次消费金额",
         "Gamma-Gamma estimate of a customer's mean spend per purchase.", "Gamma-Gamma 模型估计的客户平均每次消费金额。", _P,
         "clv"),
    Term("calibration_period", "calibration period", "校准期", "The period the model is fitted on.", "用于拟合模型的时期。",
         _D, "clv"),
    Term("holdout_period", "holdout period", "验证期", "The later period used to check forecasts.", "用来检验预测的后续时期。",
         _D, "clv"),
    Term("tracking_plot", "tracking plot", "累计交易跟踪图", "Actual against predicted purchases over time.",
         "实际与预测购买随时间的对比图。", _P, "clv"),
    Term("conditional_expectation", "conditional expectation", "条件期望",
         "Holdout purchases predicted for customers with the same calibration history.", "对校准期历史相同客户预测的验证期购买次数。",
         _D, "clv"),
    Term("log_likelihood", "log-likelihood", "对数似然", "How probable the data are under the fitted model.",
         "拟合模型下数据出现的概率（取对数）。", _D, "clv"),
    Term("horizon", "forecast horizon", "预测期", "How far ahead CLV is summed.", "CLV 累加的未来时长。", _D, "clv"),
    Term("retention_rate", "retention rate", "客户保持率", "Share of customers kept from one period to the next.",
         "从一期到下一期保持下来的客户比例。", _S, "clv", ("保持率", "留存率")),
    Term("survival_share", "share still active", "存活比例", "Share of a cohort still alive at a given age.",
         "某批次客户在某时点仍存活的比例。", _P, "clv"),
    Term("derl", "discounted expected residual lifetime", "折现预期剩余寿命",
         "Expected remaining periods of a subscriber, discounted (Fader & Hardie 2010).",
         "订阅客户预期剩余的期数（折现后，Fader 与 Hardie，2010）。", _P, "clv",
         ("DERL", "折现预期剩余生命周期")),
    Term("bootstrap_ci", "bootstrap confidence interval", "自助法置信区间",
         "Interval from refitting on resampled customers.", "对重抽样客户重新拟合得到的区间。", _D, "clv"),
    Term("value_matrix", "current value x growth potential matrix", "当前价值×客户增值潜力矩阵",
         "Customers placed by current value and predicted future value (Chen Mingliang).",
         "按当前价值与客户增值潜力定位客户（陈明亮）。", _S, "clv", ("当前价值×潜在价值矩阵",)),
    Term("most_valuable", "most valuable", "最有价值客户", "High current value and high growth potential.",
         "当前价值高且增值潜力高。", _P, "clv", ("most valuable customers",)),
    Term("growth_potential", "growth potential", "潜力客户", "Low current value, high growth potential.",
         "当前价值低但增值潜力高。", _S, "clv", ("growth-potential customers",), same_as="potential_customer"),
    Term("maintain", "maintain", "维持型客户", "High current value, low growth potential.", "当前价值高但增值潜力低。", _P,
         "clv", ("maintain customers",)),
    # BTYD summary columns: the same names as RFM's letters, other meanings
    Term("btyd_frequency", "frequency (repeat purchase days)", "重复购买次数",
         "Purchase days after the first (BTYD summary column frequency).", "首次之后的购买日数（BTYD 汇总中的 frequency）。",
         _P, "clv"),
    Term("btyd_recency", "recency (first to last purchase)", "首末次购买间隔",
         "Time from first to last purchase day (BTYD summary column recency).",
         "首个到最后一个购买日的时间（BTYD 汇总中的 recency）。", _P, "clv"),
    Term("btyd_T", "customer age T (first purchase to the end of the period)", "客户观察时长",
         "Time from first purchase to the end of the calibration period (BTYD column T).",
         "首次购买到校准期结束的时间（BTYD 汇总中的 T）。", _P, "clv"),
    Term("monetary_value", "mean spend per repeat purchase", "平均每次重复购买金额",
         "Mean amount of the repeat purchase days (BTYD column monetary_value).",
         "重复购买日的平均金额（BTYD 汇总中的 monetary_value）。", _P, "clv"),
    # --- lifecycle ----------------------------------------------------------------------------
    Term("stage", "lifecycle stage", "生命周期阶段", "Where a relationship stands in its lifecycle.",
         "客户关系在生命周期中所处的位置。", _S, "lifecycle"),
    Term("exploration", "exploration", "考察期", "Trial purchases; low volume, high uncertainty.",
         "试探性购买；交易量低、不确定性高。", _S, "lifecycle", ("开发期",)),
    Term("formation", "formation", "形成期", "Rapidly rising purchases; trust forming.", "购买迅速增加，信任逐步形成。", _S,
         "lifecycle", ("成长期",)),
    Term("stability", "stability", "稳定期", "Highest, steady volume and profit.", "交易量和利润最高且稳定。", _S,
         "lifecycle", ("成熟期",)),
    Term("decline", "decline", "退化期", "Purchases falling, from any stage.", "购买下降，可发生在任何阶段之后。", _S,
         "lifecycle", ("衰退期",)),
    Term("terminated", "terminated", "流失期", "No further purchases: the relationship is over.", "不再有购买：关系已结束。",
         _S, "lifecycle", ("终止", "终止期", "ended")),
    Term("new_customer", "new", "新客户",
         "Too young to be staged (lifecycle table).", "关系太短、尚不能划分阶段（生命周期表）。", _P, "lifecycle",
         same_as="new"),
    Term("stage_transition", "stage transition", "阶段迁移", "Movement of customers between stages over time.",
         "客户随时间在阶段之间的移动。", _P, "lifecycle"),
    Term("stage_value_grid", "stage x value grid", "生命周期-价值矩阵", "Lifecycle stages crossed with value tiers.",
         "生命周期阶段与价值分级的交叉。", _S, "lifecycle"),
    Term("lifecycle_curve", "aggregate lifecycle curve", "生命周期曲线",
         "Volume and profit per period against relationship age.", "每期交易量和利润随关系时长的变化。", _S, "lifecycle"),
    # --- survival and churn -------------------------------------------------------------------
    Term("churn", "churn", "流失", "The end of a customer relationship.", "客户关系的结束。", _S, "survival"),
    Term("inactivity_window", "inactivity window", "沉默期阈值", "Silence after which a customer counts as churned.",
         "沉默超过此时长即视为流失。", _P, "survival"),
    Term("censoring", "right-censoring", "右删失", "The relationship is still going at the end of the data.",
         "数据结束时关系仍在持续。", _D, "survival"),
    Term("survival_analysis", "survival analysis", "生存分析", "Statistics of time until an event, here churn.",
         "研究事件（此处为流失）发生前时间的统计方法。", _D, "survival"),
    Term("survival_function", "survival function", "生存函数", "Probability the relationship lasts beyond time t.",
         "关系持续超过时间t的概率。", _D, "survival"),
    Term("kaplan_meier", "Kaplan-Meier estimate", "Kaplan-Meier 估计", "Estimate of the survival function with censoring.",
         "考虑删失的生存函数估计。", _D, "survival"),
    Term("median_lifetime", "median relationship length", "关系中位时长", "Time by which half the relationships ended.",
         "一半客户关系结束所需的时间。", _P, "survival"),
    Term("log_rank", "log-rank test", "对数秩检验", "Tests whether survival curves differ between groups.",
         "检验各组生存曲线是否不同。", _D, "survival"),
    Term("hazard", "hazard (churn risk)", "风险率", "Rate of churn at time t among those still active.",
         "在时间t仍活跃者中的流失速率。", _D, "survival"),
    Term("hazard_ratio", "hazard ratio", "风险比", "How many times higher one group's churn risk is.",
         "一组的流失风险是另一组的几倍。", _D, "survival"),
    Term("cox_model", "Cox proportional-hazards model", "Cox 比例风险模型",
         "Regression of churn risk on customer characteristics.", "流失风险对客户特征的回归。", _D, "survival"),
    Term("concordance", "concordance (C-index)", "一致性指数", "How often the model ranks two customers' lifetimes right.",
         "模型正确排序两位客户寿命的比例。", _D, "survival", ("C-index",)),
    Term("proportional_hazards", "proportional-hazards assumption", "比例风险假设",
         "Hazard ratios constant over time.", "风险比不随时间变化。", _D, "survival"),
    # --- table headers -------------------------------------------------------------------------
    Term("n_customers", "customers", "客户数", "Number of customers.", "客户的数量。", _D, "table",
         ("n_customers", "customer count")),
    Term("share", "share", "占比", "Part of the whole, in percent.", "占总体的百分比。", _D, "table"),
    Term("customer_share", "customer share", "客户占比", "Share of all customers.", "占全部客户的比例。", _D, "table",
         ("share of customers",)),
    Term("revenue_share", "revenue share", "收入占比", "Share of all revenue.", "占全部收入的比例。", _D, "table",
         ("share of revenue",)),
    Term("mean", "mean", "均值", "Arithmetic mean.", "算术平均值。", _D, "table", ("average",)),
    Term("median", "median", "中位数", "Middle value.", "中间值。", _D, "table"),
    Term("total", "total", "合计", "Sum.", "总和。", _D, "table"),
    Term("estimate", "estimate", "估计值", "Point estimate.", "点估计。", _D, "table"),
    Term("lower", "lower", "下限", "Lower end of an interval.", "区间下限。", _D, "table"),
    Term("upper", "upper", "上限", "Upper end of an interval.", "区间上限。", _D, "table"),
    Term("strategy", "strategy", "策略", "What to do with the group.", "对该群体采取的做法。", _D, "table"),
    Term("action", "action", "行动建议", "Recommended action.", "建议采取的行动。", _D, "table"),
    Term("date", "date", "日期", "Calendar date.", "日历日期。", _D, "table"),
    Term("period", "period", "期间", "Time period of a row.", "行所对应的时期。", _D, "table"),
    Term("value", "value", "数值", "The value in a key-value table.", "键值表中的值。", _D, "table"),
    Term("quadrant", "quadrant", "象限", "One of the four cells of a 2 x 2 matrix.", "2×2 矩阵的四个格之一。", _D, "table"),
)

#: Every term by key.
GLOSSARY: dict[str, Term] = {t.key: t for t in _TERMS}

#: ``key -> (english, chinese)`` (the original interface, kept for callers).
TERMS: dict[str, tuple[str, str]] = {t.key: (t.en, t.zh) for t in _TERMS}

#: Category values as the analyses write them -> glossary key, per kind of category.
CATEGORIES: dict[str, dict[str, str]] = {
    "stage": {"exploration": "exploration", "formation": "formation", "stability": "stability",
              "decline": "decline", "terminated": "terminated", "new": "new_customer"},
    "value_tier": {"high": "high_value", "medium": "medium_value", "low": "low_value"},
    "pyramid": {"platinum": "platinum", "gold": "gold", "iron": "iron", "lead": "lead"},
    "activity": {"active": "active", "sleeping": "sleeping", "churned": "churned"},
    "frequency_class": {"high": "high_frequency", "low": "low_frequency", "zero": "zero_frequency"},
    "customer_class": {"core": "core_customer", "potential": "potential_customer", "general": "general_customer"},
    "rfm_segment": {"Champions": "champions", "Loyal": "loyal", "Potential Loyalist": "potential_loyalist",
                    "New": "new", "Promising": "promising", "Need Attention": "need_attention",
                    "About to Sleep": "about_to_sleep", "Can't Lose": "cant_lose", "At Risk": "at_risk",
                    "Hibernating": "hibernating", "Lost": "lost"},
    "quadrant": {"high_current_high_potential": "most_valuable", "low_current_high_potential": "growth_potential",
                 "high_current_low_potential": "maintain", "low_current_low_potential": "low_value",
                 "most valuable": "most_valuable", "growth potential": "growth_potential", "maintain": "maintain",
                 "low value": "low_value"},
}
#: Columns that hold the same categories under another name (the 12 types' value group, the stage x value grid's
#: tier level, the core / potential / general class of the run's customer table).
CATEGORIES.update({"value_group": CATEGORIES["value_tier"], "tier_level": CATEGORIES["value_tier"],
                   "cpg_class": CATEGORIES["customer_class"]})


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ParameterError(f"{lang!r} is not a supported language", parameter="lang", hint="use en or zh")


def _index() -> dict[str, str]:
    """Every name a reader may use (key, English, Chinese, alias; English case-folded) -> key."""
    out: dict[str, str] = {}
    for t in _TERMS:  # keys first, then names, then aliases: a key always wins
        out.setdefault(t.key, t.key)
    for t in _TERMS:
        for name in (t.en, t.en.casefold(), t.zh):
            out.setdefault(name, t.key)
    for t in _TERMS:
        for name in t.aliases:
            out.setdefault(name, t.key)
            if len(name) > 2:  # R, F, M match exactly: r is a model parameter
                out.setdefault(name.casefold(), t.key)
    return out


_LOOKUP = _index()


def lookup(name: str) -> str | None:
    """The glossary key for a key, an English or Chinese name or an alias (衰退期 -> ``decline``); None if unknown.

    English names match case-insensitively and with ``_`` read as a space.
    """
    if len(name.strip()) <= 2:  # R, F, M: letters match exactly (the parameter r is not recency)
        return _LOOKUP.get(name.strip())
    for candidate in (name, name.casefold(), name.replace("_", " ").casefold(), name.strip()):
        if candidate in _LOOKUP:
            return _LOOKUP[candidate]
    return None


def term(key: str, lang: str = "en") -> str:
    """The name of ``key`` in ``lang`` (``en`` or ``zh``); unknown keys come back as given."""
    _check_lang(lang)
    if key not in TERMS:
        return key
    en, zh = TERMS[key]
    return en if lang == "en" else zh


def both(key: str) -> str:
    """``"English 中文"`` for bilingual tables and markdown."""
    if key not in TERMS:
        return key
    en, zh = TERMS[key]
    return f"{en} {zh}"


def label(name: object, lang: str = "en", *, bilingual: bool = False, strict: bool = False) -> object:
    """Label ``name`` (a key, English or Chinese name, or alias) for ``lang``.

    With ``en`` the English name of a known term is returned only when ``name`` is a key (an
    English label a notebook already shows stays as written); with ``zh`` the Chinese name, or
    ``"English 中文"`` when ``bilingual``.  Non-strings come back unchanged; unknown strings come
    back unchanged, or raise :class:`~clm_utils.errors.ParameterError` when ``strict``.
    """
    _check_lang(lang)
    if not isinstance(name, str):
        return name
    key = lookup(name)
    if key is None:
        if strict:
            raise ParameterError(f"{name!r} has no glossary entry", parameter="name",
                                 hint="add a Term to clm_utils/glossary.py")
        return name
    if lang == "en":
        return GLOSSARY[key].en if name == key else name
    return both(key) if bilingual else GLOSSARY[key].zh


def category_label(kind: str, value: object, lang: str = "en") -> object:
    """Label a category value of ``kind`` (a key of :data:`CATEGORIES`): ``("stage", "decline") -> 退化期``.

    English keeps the value as the analyses write it; unknown values come back unchanged.
    """
    _check_lang(lang)
    if kind not in CATEGORIES:
        raise ParameterError(f"{kind!r} is not a category kind", parameter="kind",
                             hint=f"use one of {', '.join(CATEGORIES)}")
    if lang == "en" or not isinstance(value, str) or value not in CATEGORIES[kind]:
        return value
    return GLOSSARY[CATEGORIES[kind][value]].zh


def localize(table: _Frame, lang: str = "en", *, bilingual: bool = False,
             categories: Mapping[str, str] | None = None, names: Mapping[str, str] | None = None) -> _Frame:
    """Label a table for ``lang``: column names, index labels, index names and category values.

    Parameters
    ----------
    table
        Any frame or series; it is not modified.
    lang
        ``en`` returns ``table`` itself; ``zh`` returns a relabelled copy.
    bilingual
        ``zh`` labels as ``"English 中文"`` (the style of the first reports) instead of Chinese only.
    categories
        Column (or ``"index"``) -> category kind of :data:`CATEGORIES` whose values are translated,
        e.g. ``{"stage": "stage", "index": "rfm_segment"}``.  Columns named like a category kind
        (``stage``, ``value_tier``, ``pyramid``, ``activity``, ``quadrant``, ``rfm_segment``) are
        translated without being named here.
    names
        Column or index label -> glossary key, for names whose meaning differs from the glossary's
        (a BTYD ``recency`` is first-to-last purchase, not RFM's R: pass ``{"recency": "btyd_recency"}``
        or any key).  Labels with no glossary entry stay as they are (see :func:`untranslated`).
    """
    _check_lang(lang)
    if lang == "en":
        return table
    names = dict(names or {})

    def lab(name: object) -> object:
        if isinstance(name, str) and name in names:
            return label(names[name], lang, bilingual=bilingual)
        return label(name, lang, bilingual=bilingual)

    cats = dict(categories or {})
    out = table.copy()
    if isinstance(out, pd.DataFrame):
        for col in out.columns:
            kind = cats.get(col) or (col if col in CATEGORIES else None)
            if kind is not None:
                out[col] = _translate_values(out[col], kind)
    elif isinstance(out.name, str) and out.name in CATEGORIES:
        out = _translate_values(out, out.name)
    index_kind = cats.get("index") or (out.index.name if out.index.name in CATEGORIES else None)
    if index_kind is not None:
        out.index = pd.Index([category_label(index_kind, v, "zh") for v in out.index], name=out.index.name)
    else:
        out = out.rename(index=lab)
    out.index = out.index.rename(lab(out.index.name)) if out.index.nlevels == 1 else out.index
    if isinstance(out, pd.DataFrame):
        out = out.rename(columns=lab)
        if out.columns.nlevels == 1:
            out.columns = out.columns.rename(lab(out.columns.name))
    elif isinstance(out.name, str):
        out = out.rename(lab(out.name))
    return out


def _translate_values(values: pd.Series, kind: str) -> pd.Series:
    mapping = {v: GLOSSARY[k].zh for v, k in CATEGORIES[kind].items()}
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = [mapping.get(c, c) for c in values.cat.categories]
        if len(set(cats)) == len(cats):
            return values.cat.rename_categories(cats)
        values = values.astype(object)
    return values.map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)


def untranslated(table: pd.DataFrame | pd.Series, names: Mapping[str, str] | None = None) -> list[str]:
    """Column names, index labels and names of ``table`` that have no glossary entry (sorted, unique).

    Numbers, dates and customer ids are not labels and are ignored: only strings of the index are
    checked when the index is named like a label column (``segment``, ``stage``, ...) or unnamed
    with string values.  Use it in a notebook test to require that every table a zh report shows
    is fully translated.
    """
    names = dict(names or {})
    labels: list[object] = []
    if isinstance(table, pd.DataFrame):
        labels += list(table.columns)
    elif table.name is not None:
        labels.append(table.name)
    labels.append(table.index.name)
    if table.index.name in CATEGORIES or table.index.name is None or lookup(str(table.index.name)):
        labels += list(table.index)
    missing = {s for s in labels if isinstance(s, str) and s not in names and lookup(s) is None
               and not _is_value(s, table.index.name)}
    return sorted(missing)


def _is_value(name: str, kind: object) -> bool:
    return isinstance(kind, str) and kind in CATEGORIES and name in CATEGORIES[kind]


#: Column names of a BTYD summary -> glossary key, for ``localize(summary, "zh", names=BTYD_COLUMNS)``.
BTYD_COLUMNS: dict[str, str] = {"frequency": "btyd_frequency", "recency": "btyd_recency", "T": "btyd_T",
                                "monetary_value": "monetary_value"}


def terms_table(lang: str = "en") -> pd.DataFrame:
    """Every term as a table (the glossary page's content), sorted by section then key.

    Columns: ``group``, ``en``, ``zh``, ``definition`` (in ``lang``), ``origin``, ``aliases``.
    """
    _check_lang(lang)
    order = {g: i for i, g in enumerate(GROUPS)}
    rows = [{"key": t.key, "group": t.group, "en": t.en, "zh": t.zh,
             "definition": t.en_def if lang == "en" else t.zh_def, "origin": t.origin,
             "aliases": ", ".join(t.aliases)} for t in _TERMS]
    out = pd.DataFrame(rows).set_index("key")
    out["_order"] = out["group"].map(order)
    return out.sort_values(["_order"], kind="stable").drop(columns="_order")


_PAGE_TEXT = {
    "en": {"title": "CLM Lab glossary", "intro": "Every term the reports use, in English and Chinese, with a one-line "
           "definition. Terms marked ★ are the project's own: the theory sources have no name for them.",
           "own": "project's own term"},
    "zh": {"title": "CLM Lab 术语表", "intro": "报告中使用的全部术语（中英文对照），各附一句话定义。标有 ★ 的术语为本项目自拟，"
           "理论来源文献中没有对应名称。", "own": "本项目自拟术语"},
}
_PAGE_STYLE = ("body{font-family:'CLM Lab Sans SC',system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans CJK SC',"
               "'PingFang SC','Microsoft YaHei',sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.45}"
               "table{border-collapse:collapse;width:100%;margin-bottom:1.5em}th,td{border:1px solid #ddd;"
               "padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{white-space:nowrap}"
               ".own{color:#b35900}.muted{color:#666;font-size:.9em}")
_PAGE_HEAD: dict[str, tuple[str, ...]] = {"en": ("English", "中文", "Definition", "Other names"),
                                          "zh": ("中文", "English", "定义", "其他名称")}


def glossary_page_html(lang: str = "en") -> str:
    """A self-contained HTML page (no external resources) listing every term in both languages.

    One table per section of :data:`GROUPS`; columns: the name in ``lang``, the name in the other
    language, a one-line definition in ``lang`` and the other names the lookup accepts.  Terms
    coined by the project are marked ★.  The glyphs of its Chinese text are embedded
    (:func:`clm_utils.fonts.font_face_css`), so it reads on a machine with no CJK font.
    Deterministic: the same input gives the same bytes.
    """
    _check_lang(lang)
    text = _PAGE_TEXT[lang]
    table = terms_table(lang)
    first, second = ("en", "zh") if lang == "en" else ("zh", "en")
    esc = html.escape
    parts = [f"<h1>{esc(text['title'])}</h1>", f"<p>{esc(text['intro'])}</p>"]
    for group, (g_en, g_zh) in GROUPS.items():
        rows = table[table["group"] == group]
        if rows.empty:
            continue
        parts.append(f"<h2 id=\"{esc(group)}\">{esc(g_en if lang == 'en' else g_zh)}</h2>")
        parts.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in _PAGE_HEAD[lang])
                     + "</tr></thead><tbody>")
        for key, r in rows.iterrows():
            mark = (f' <span class="own" title="{esc(text["own"])}">★</span>' if r["origin"] == "project" else "")
            parts.append(f'<tr id="term-{esc(str(key))}"><td class="n">{esc(r[first])}{mark}</td>'
                         f'<td class="n">{esc(r[second])}</td><td>{esc(r["definition"])}</td>'
                         f'<td class="muted">{esc(r["aliases"])}</td></tr>')
        parts.append("</tbody></table>")
    parts.append(f"<p class=\"muted\">★ {esc(text['own'])}</p></body></html>")
    body = "\n".join(parts)
    head = ["<!DOCTYPE html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
            f"<title>{esc(text['title'])}</title>",
            f"<style>{font_face_css(text['title'] + body)}{_PAGE_STYLE}</style></head><body>"]
    return "\n".join(head) + "\n" + body + "\n"


def all_keys() -> Iterable[str]:
    """Every glossary key, in definition order."""
    return (t.key for t in _TERMS)
