"""The business scorecard joins the analyses consistently and degrades clearly without a CLV model."""

from __future__ import annotations

import pandas as pd
import pytest

from clm_utils import lifecycle, rfm
from clm_utils.scorecard import action_plan, customer_scorecard, key_metrics
from clm_utils.summary import summarize


@pytest.fixture(scope="module")
def card(cdnow_sample):
    end = pd.Timestamp("1998-06-30")
    return customer_scorecard(cdnow_sample, summarize(cdnow_sample, end), end)


def test_one_row_per_customer_and_same_labels_as_the_other_notebooks(card, cdnow_sample):
    t = card.table
    assert len(t) == cdnow_sample["customer_id"].nunique() and t.index.is_unique
    end = pd.Timestamp("1998-06-30")
    # the stage is the one notebook 04 shows by default, the segment the one of notebook 01
    stages = lifecycle.assign_stages(cdnow_sample, end)["stage"]
    pd.testing.assert_series_equal(t["stage"].astype("str"), stages.reindex(t.index).astype("str"), check_names=False)
    segments = rfm.rfm_segments(rfm.rfm_scores(summarize(cdnow_sample, end)))
    assert (t["segment"] == segments.reindex(t.index)).all()
    assert card.has_clv and (t["clv"] >= 0).all() and t["p_alive"].between(0, 1).all()


def test_metrics_and_plan_add_up(card):
    metrics = key_metrics(card)
    assert metrics["customers"] == len(card.table)
    assert metrics["total CLV, next 12M"] == pytest.approx(card.table["clv"].sum(), abs=0.005)  # rounded to cents
    plan = action_plan(card)
    assert plan["customers"].sum() == len(card.table)
    assert plan["clv_share"].sum() == pytest.approx(1.0)
    assert plan["clv_share"].is_monotonic_decreasing
    assert plan["strategy"].str.len().min() > 10


def test_no_repeat_buyers_means_no_clv_and_a_note():
    tx = pd.DataFrame({"customer_id": [f"c{i}" for i in range(30)],
                       "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(range(30), "D"),
                       "amount": [10.0 + i for i in range(30)]})
    end = pd.Timestamp("2024-03-31")
    card = customer_scorecard(tx, summarize(tx, end), end)
    assert not card.has_clv and card.notes and "cannot be fitted" in card.notes[0]
    assert card.table["pyramid"].notna().all()
    assert "total CLV, next 12M" not in key_metrics(card)
