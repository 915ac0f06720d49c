"""Every concept shown in a report has one English and one Chinese name, and a definition in each.

The Chinese names are checked against the terminology review of the five source texts recorded in
issue 13 ("Chinese reports"): those expectations are written out below, not read from the module.
"""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd
import pytest

from clm_utils import glossary
from clm_utils.errors import ParameterError
from clm_utils.glossary import (
    CATEGORIES,
    GLOSSARY,
    GROUPS,
    TERMS,
    both,
    category_label,
    glossary_page_html,
    label,
    localize,
    lookup,
    term,
    untranslated,
)

CJK = re.compile(r"[\u4e00-\u9fff]")

# issue 13, "Terminology as the sources use it": key -> the one Chinese name
ISSUE_13_NAMES = {
    "clm": "客户生命周期管理",
    "retention": "客户保持",
    "retention_rate": "客户保持率",
    "value_tier": "价值分级",
    "activity_class": "行为分级",
    "cluster": "客户群",
    "frequency": "购买频率",
    "monetary": "消费金额",
    "recency": "最近一次购买至今的时间间隔",
    "value_growth_potential": "客户增值潜力",
    "sleeping": "沉睡客户",
    "hibernating": "沉睡客户",
    "satisfaction": "满意度",
    "loyalty": "忠诚度",
    "acquisition_cost": "客户获取成本",
    "maintenance_cost": "维护成本",
    "customer_profit": "客户利润",
    "transaction_volume": "交易量",
    "churn_warning": "流失预警",
    "high_frequency": "高频客户",
    "low_frequency": "低频客户",
    "zero_frequency": "零频客户",
    "core_customer": "核心客户",
    "potential_customer": "潜力客户",
    "general_customer": "一般客户",
    # docs/theory.md section 3: the four stages
    "exploration": "考察期",
    "formation": "形成期",
    "stability": "稳定期",
    "decline": "退化期",
}


def test_every_term_has_both_languages_and_definitions():
    for key, t in GLOSSARY.items():
        assert t.key == key
        assert t.en.strip() and not CJK.search(t.en), key
        assert CJK.search(t.zh), key
        assert t.en_def.strip() and "\n" not in t.en_def, key
        assert CJK.search(t.zh_def) and "\n" not in t.zh_def, key
        assert t.origin in ("sources", "standard", "project"), key
        assert t.group in GROUPS, key
    assert TERMS == {k: (t.en, t.zh) for k, t in GLOSSARY.items()}


@pytest.mark.parametrize("key, zh", sorted(ISSUE_13_NAMES.items()))
def test_names_of_issue_13(key, zh):
    assert term(key, "zh") == zh


def test_retired_names_are_no_main_name():
    main = {t.zh for t in GLOSSARY.values()}
    for retired in ("留存", "留存率", "客户关系生命周期管理", "休眠客户", "终止", "客户簇", "价值层级", "活跃度分类",
                    "折现预期剩余生命周期", "最近一次购买"):
        assert retired not in main, retired
    # one name for an ended relationship, the stage included
    for key in ("churn", "churned", "terminated", "lost"):
        assert "流失" in term(key, "zh") and "终止" not in term(key, "zh"), key
    # F, M, R and DERL: one name each (no other term carries an R/F/M/DERL name)
    assert [t.key for t in GLOSSARY.values() if t.zh == "最近一次购买至今的时间间隔"] == ["recency"]
    assert [t.key for t in GLOSSARY.values() if "剩余寿命" in t.zh] == ["derl"]
    assert "total" in GLOSSARY["monetary"].en and "总额" in GLOSSARY["monetary"].zh_def


def test_one_chinese_name_per_concept():
    counts = Counter(t.zh for t in GLOSSARY.values())
    for zh, n in counts.items():
        if n == 1:
            continue
        keys = [t for t in GLOSSARY.values() if t.zh == zh]
        roots = {t.same_as or t.key for t in keys}
        assert len(roots) == 1, f"{zh} names {[t.key for t in keys]} without same_as"
    for t in GLOSSARY.values():
        if t.same_as:
            assert GLOSSARY[t.same_as].zh == t.zh, t.key


def test_aliases_lead_to_their_term():
    assert lookup("衰退期") == "decline"
    assert lookup("成长期") == "formation"
    assert lookup("开发期") == "exploration"
    assert lookup("终止") == "terminated" and lookup("留存") == "retention" and lookup("休眠") == "sleeping"
    assert lookup("Hibernating") == "hibernating" and lookup("P(alive)") == "p_alive"
    assert lookup("inter_purchase_time") == "inter_purchase_time" and lookup("nothing like it") is None
    for t in GLOSSARY.values():  # no alias or name is shadowed by another term's
        for name in (t.en, *t.aliases):
            found = lookup(name)
            assert found == t.key or GLOSSARY[found].zh == t.zh, (name, t.key, found)


def test_project_terms_are_marked():
    own = {k for k, t in GLOSSARY.items() if t.origin == "project"}
    assert {"champions", "derl", "customer_base", "cohort", "tenure"} <= own
    assert not own & set(ISSUE_13_NAMES)


def test_every_category_value_the_analyses_write_has_a_name():
    from clm_utils import rfm
    from clm_utils.clv import value
    from clm_utils.lifecycle import stages

    for kind, mapping in CATEGORIES.items():
        assert all(k in GLOSSARY for k in mapping.values()), kind
    assert set(rfm.SEGMENTS) <= set(CATEGORIES["rfm_segment"])
    assert set(stages.STAGES) | {"new"} <= set(CATEGORIES["stage"])
    assert set(rfm.ACTIVITY_CLASSES) <= set(CATEGORIES["activity"])
    assert set(rfm.VALUE_TIERS_ZH) <= set(CATEGORIES["value_tier"])
    assert set(rfm.PYRAMID_TIERS_ZH) <= set(CATEGORIES["pyramid"])
    assert set(value.QUADRANTS) <= set(CATEGORIES["quadrant"])
    assert category_label("stage", "terminated", "zh") == "流失期"
    assert category_label("rfm_segment", "Hibernating", "zh") == "沉睡客户"
    assert category_label("stage", "decline", "en") == "decline"
    with pytest.raises(ParameterError):
        category_label("colour", "red", "zh")


def test_cluster_features_have_names():
    from clm_utils import cluster

    for feature in cluster.FEATURE_ZH:
        assert lookup(feature) is not None, feature


def test_term_both_label():
    assert term("clv", "zh") == "客户生命周期价值" and term("clv") == "customer lifetime value"
    assert both("cohort") == "acquisition cohort 获客批次"
    assert term("not a key") == "not a key"
    assert label("decline", "zh") == "退化期" and label("Decline", "en") == "Decline"
    assert label("decline", "en") == "decline" and label(3, "zh") == 3
    assert label("no such thing", "zh") == "no such thing"
    with pytest.raises(ParameterError):
        label("no such thing", "zh", strict=True)
    with pytest.raises(ParameterError):
        term("clv", "fr")


def test_localize_headers_index_and_categories():
    frame = pd.DataFrame({"revenue": [1.0, 2.0], "stage": pd.Categorical(["decline", "new"])},
                         index=pd.Index(["Champions", "Lost"], name="rfm_segment"))
    out = localize(frame, "zh")
    assert list(out.columns) == ["收入", "生命周期阶段"]
    assert list(out.index) == ["冠军客户", "流失客户"] and out.index.name == "RFM细分类别"
    assert list(out["生命周期阶段"]) == ["退化期", "新客户"]
    assert list(frame.columns) == ["revenue", "stage"]  # the input is untouched
    assert localize(frame, "en") is frame
    two = localize(frame, "zh", bilingual=True)
    assert list(two.columns) == ["revenue 收入", "lifecycle stage 生命周期阶段"]
    tiers = localize(pd.Series(["high", "low"], name="tier"), "zh", categories={"tier": "value_tier"})
    assert list(tiers) == ["high", "low"]  # categories= applies to frames' columns and the index
    by_index = localize(pd.DataFrame({"customers": [3]}, index=["high"]), "zh", categories={"index": "value_tier"})
    assert list(by_index.index) == ["高价值客户"] and list(by_index.columns) == ["客户数"]
    btyd = localize(pd.DataFrame({"recency": [1.0], "frequency": [2]}), "zh", names=glossary.BTYD_COLUMNS)
    assert list(btyd.columns) == ["首末次购买间隔", "重复购买次数"]


def test_untranslated_lists_labels_without_entry():
    frame = pd.DataFrame({"revenue": [1.0], "mystery column": [2.0]}, index=pd.Index(["decline"], name="stage"))
    assert untranslated(frame) == ["mystery column"]
    assert untranslated(frame, names={"mystery column": "revenue"}) == []


def test_glossary_page_lists_every_term_and_is_self_contained():
    for lang in ("en", "zh"):
        page = glossary_page_html(lang)
        assert page.startswith("<!DOCTYPE html>") and page == glossary_page_html(lang)
        assert not re.search(r"https?:|src=|url\((?!data:font/woff;base64,)|@import|<link|<script", page)
        assert "@font-face" in page  # the Chinese glyphs travel with the page
        for key, t in GLOSSARY.items():
            row = re.search(rf'<tr id="term-{re.escape(key)}">(.*?)</tr>', page)
            assert row, (lang, key)
            text = row.group(1)
            import html as _html

            assert _html.escape(t.en) in text and t.zh in text, key
            assert _html.escape(t.en_def if lang == "en" else t.zh_def) in text, key
            assert ("★" in text) == (t.origin == "project"), key
    with pytest.raises(ParameterError):
        glossary_page_html("fr")
