"""Every concept shown in a report has an English and a Chinese name."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from clm_utils.errors import ParameterError
from clm_utils.glossary import TERMS, both, localize, term


def test_every_term_has_both_languages():
    for key, (en, zh) in TERMS.items():
        assert en.strip() and re.search(r"[\u4e00-\u9fff]", zh), key


def test_theory_terms_are_present():
    # THEORY.md: the lifecycle stages, the pyramid tiers, RFM and CLV must be named in reports
    zh = {z for _e, z in TERMS.values()}
    for needed in ("客户生命周期价值", "客户细分", "客户关系生命周期"):
        assert needed in zh


def test_term_both_and_localize():
    assert term("clv", "zh") == "客户生命周期价值" and term("clv") == "customer lifetime value"
    assert both("cohort") == "acquisition cohort 获客批次"
    assert term("not a key") == "not a key"
    frame = pd.DataFrame({"revenue": [1.0]}, index=["cohort"])
    out = localize(frame, "zh")
    assert list(out.columns) == ["revenue 收入"] and list(out.index) == ["acquisition cohort 获客批次"]
    assert localize(frame, "en") is frame
    with pytest.raises(ParameterError):
        term("clv", "fr")


def test_no_key_is_defined_twice():
    # a repeated key in a dict literal silently overwrites the earlier entry
    import ast

    from clm_utils import glossary

    tree = ast.parse(open(glossary.__file__, encoding="utf-8").read())
    keys = [k.value for node in ast.walk(tree) if isinstance(node, ast.Dict)
            for k in node.keys if isinstance(k, ast.Constant)]
    assert len(keys) == len(set(keys))
