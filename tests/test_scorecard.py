"""The business scorecard reads the run's one table per customer and adds up."""

from __future__ import annotations

import pytest

from clm_utils import analysis, config
from clm_utils.scorecard import action_plan, customer_scorecard, focus_groups, key_metrics, worth_saving


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield analysis.load({"data_path": str(config.CDNOW_SAMPLE), "as_of": "1998-06-30", "zero": "keep",
                             "duplicates": "keep"})


def test_the_scorecard_is_the_runs_customer_table(run):
    card = customer_scorecard(run)
    assert card.table.equals(run.customers.sort_index())
    assert card.has_clv and run.model_caveat() == card.notes[0]


def test_metrics_and_plan_add_up(run):
    card = customer_scorecard(run)
    metrics = key_metrics(card)
    assert metrics["customers"] == len(card.table) == 2_357
    assert metrics["total CLV, next 12M"] == pytest.approx(card.table["clv"].sum(), abs=0.005)  # rounded to cents
    plan = action_plan(card)
    assert plan["customers"].sum() == len(card.table)
    assert plan["clv_share"].sum() == pytest.approx(1.0)
    assert plan["clv_share"].is_monotonic_decreasing
    assert plan["strategy"].str.len().min() > 10
    focus = focus_groups(plan)
    assert ((focus["customers"] / len(card.table) >= 0.02) | (focus["clv_share"] >= 0.02)).all()
    saving = worth_saving(card, 5)
    assert len(saving) == 5 and (saving["p_alive"] < 0.5).all() and (saving["frequency"] > 0).all()
    assert saving["clv"].is_monotonic_decreasing


def test_no_repeat_buyers_means_no_clv_and_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("CLM_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "once.csv"
    path.write_text("customer_id,date,amount\n" + "".join(f"c{i},2024-01-{1 + i:02d},{10 + i}\n" for i in range(30)),
                    encoding="utf-8")
    card = customer_scorecard(analysis.load({"data_path": str(path), "as_of": "2024-03-31"}))
    assert not card.has_clv and card.notes and "No CLV" in card.notes[-1]
    assert card.table["pyramid"].notna().all()
    assert "total CLV, next 12M" not in key_metrics(card)
    assert worth_saving(card).empty


def _profit_card(profit, basis="profit = revenue − acquisition cost 5 per customer"):
    import pandas as pd

    from clm_utils.scorecard import Scorecard

    table = pd.DataFrame({"revenue": [100.0, 50.0, 20.0, 10.0], "profit": profit, "frequency": [3, 2, 1, 0],
                          "stage": ["stability", "stability", "decline", "exploration"],
                          "pyramid": ["platinum", "gold", "lead", "lead"]},
                         index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
    return Scorecard(table, [], "12M", basis)


def test_profit_in_the_metrics_and_the_plan_against_a_hand_computed_table():
    # by hand: profit 40 + 10 − 5 + 5 = 50 on revenue 180 (27.8%); cells' shares 40/50, 10/50, −5/50, 5/50
    card = _profit_card([40.0, 10.0, -5.0, 5.0])
    metrics = key_metrics(card)
    assert metrics["historical profit"] == 50.0 and metrics["profit margin (%)"] == 27.8
    assert metrics["profit basis"] == card.profit_basis
    plan = action_plan(card).set_index(["stage", "pyramid"])["profit_share"]
    assert plan.to_dict() == pytest.approx({("stability", "platinum"): 0.8, ("stability", "gold"): 0.2,
                                            ("decline", "lead"): -0.1, ("exploration", "lead"): 0.1})
    assert "profit_share" in focus_groups(action_plan(card)).columns
    # a base that loses money overall has no meaningful share of profit
    assert action_plan(_profit_card([-40.0, 10.0, -5.0, 5.0]))["profit_share"].isna().all()
    # without a profit column nothing about profit is claimed
    no_profit = _profit_card([0.0] * 4)
    no_profit.table = no_profit.table.drop(columns="profit")
    assert "historical profit" not in key_metrics(no_profit) and "profit_share" not in action_plan(no_profit)


def test_the_runs_card_carries_its_profit_basis(run):
    card = customer_scorecard(run)
    assert card.profit_basis == run.profit_basis == "profit = revenue (no costs given)"
    assert key_metrics(card)["historical profit"] == pytest.approx(card.table["revenue"].sum(), abs=0.005)
