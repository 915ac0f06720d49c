"""Tests of clm_utils.rfm: scores and their tie rule, the segment map, tiers, pyramid, activity,
concentration (Gini against closed forms) and the theory checks."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from clm_utils import rfm
from clm_utils.errors import DataError, ModelError, ParameterError
from clm_utils.summary import summarize


def _summary(freq, rec, T, total=None) -> pd.DataFrame:
    freq = np.asarray(freq, dtype=float)
    n = len(freq)
    total = np.asarray(total if total is not None else np.full(n, 10.0), dtype=float)
    return pd.DataFrame({
        "frequency": freq.astype(int), "recency": rec, "T": T, "n_purchase_days": freq.astype(int) + 1,
        "total_amount": total, "monetary_value": np.where(freq > 0, total / (freq + 1), 0.0),
    }, index=pd.Index([f"c{i:03d}" for i in range(n)], name="customer_id"))


# --- scores ---------------------------------------------------------------------------------

def test_distinct_values_give_exact_quintiles():
    s = rfm.quantile_scores(pd.Series(np.arange(1, 101, dtype=float)), bins=5)
    assert s.value_counts().sort_index().tolist() == [20] * 5
    assert s.iloc[0] == 1 and s.iloc[-1] == 5
    # same as the textbook quintiles of distinct values
    expected = pd.qcut(np.arange(1, 101), 5, labels=False) + 1
    assert (s.to_numpy() == expected).all()


def test_heavy_ties_equal_values_equal_scores_hand_example():
    # 60 one-time buyers (value 1), 20 with value 2, then 3..22 once each: n = 100
    x = pd.Series([1.0] * 60 + [2.0] * 20 + list(np.arange(3.0, 23.0)))
    s = rfm.quantile_scores(x, bins=5)
    # score = 1 + floor(5 * share strictly lower): value 1 -> 1; value 2 -> 1 + floor(5 * 0.6) = 4;
    # value 3..22 -> share lower 0.80..0.99 -> 5
    assert set(s[x == 1]) == {1}
    assert set(s[x == 2]) == {4}
    assert set(s[x >= 3]) == {5}
    for v in x.unique():  # the tie rule: equal values always get equal scores
        assert s[x == v].nunique() == 1
    # monotone: a larger value never gets a smaller score
    order = np.argsort(x.to_numpy(), kind="stable")
    assert np.all(np.diff(s.to_numpy()[order]) >= 0)


def test_all_equal_and_single_customer_get_middle_score():
    s = rfm.quantile_scores(pd.Series([7.0] * 50), bins=5)
    assert set(s) == {3}
    one = _summary([0], [0.0], [10.0])
    sc = rfm.rfm_scores(one)
    assert sc.loc["c000", ["R", "F", "M"]].tolist() == [3, 3, 3]
    assert rfm.rfm_segments(sc).iloc[0] == "Need Attention"


def test_recency_scored_on_time_since_last_purchase():
    # same T, larger recency (later last purchase) = more recent = higher R
    sm = _summary([1, 1, 1, 1, 1], [1.0, 2.0, 3.0, 4.0, 5.0], [10.0] * 5)
    sc = rfm.rfm_scores(sm)
    assert sc["recency_time"].tolist() == [9.0, 8.0, 7.0, 6.0, 5.0]
    assert sc["R"].tolist() == [1, 2, 3, 4, 5]


def test_rfm_scores_on_real_transactions_and_bin_edges():
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "c", "c", "d"],
        "date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-05", "2020-01-02", "2020-01-10",
                                "2020-02-01", "2020-02-01"]),
        "amount": [5.0, 5.0, 40.0, 10.0, 20.0, 30.0, 1.0],
    })
    s = summarize(tx, "2020-02-10", time_unit="D")
    sc = rfm.rfm_scores(s, bins=4)
    # purchase days: a 1 (two rows merged), b 1, c 3, d 1; average spend a 10, b 40, c 20, d 1
    assert sc["n_purchases"].to_dict() == {"a": 1, "b": 1, "c": 3, "d": 1}
    assert sc["monetary"].to_dict() == {"a": 10.0, "b": 40.0, "c": 20.0, "d": 1.0}
    assert sc["F"].to_dict() == {"a": 1, "b": 1, "c": 4, "d": 1}   # 3 of 4 strictly lower -> 1+floor(4*.75)
    assert sc["M"].to_dict() == {"a": 2, "b": 4, "c": 3, "d": 1}
    edges = rfm.rfm_bin_edges(sc)
    assert edges.groupby("dimension")["customers"].sum().tolist() == [4, 4, 4]
    for _, g in edges.groupby("dimension"):
        g = g.sort_values("score")
        # ranges of consecutive scores do not overlap (ties never split)
        if g["dimension"].iloc[0] == "R":
            assert (g["lower"].to_numpy()[:-1] > g["upper"].to_numpy()[1:]).all()
        else:
            assert (g["upper"].to_numpy()[:-1] < g["lower"].to_numpy()[1:]).all()


def test_bad_bins_and_missing_columns():
    with pytest.raises(ParameterError):
        rfm.quantile_scores(pd.Series([1.0, 2.0]), bins=1)
    with pytest.raises(DataError):
        rfm.rfm_scores(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(DataError):
        rfm.rfm_scores(_summary([], [], []))


# --- segments ---------------------------------------------------------------------------------

def test_every_one_of_125_combinations_matches_exactly_one_rule():
    grid = np.array(list(itertools.product(range(1, 6), repeat=3)))
    r, f, m = grid.T
    hits = np.zeros(len(grid), dtype=int)
    seg_of = np.full(len(grid), "", dtype=object)
    for rule in rfm.SEGMENT_RULES:
        h = rule.matches(r, f, m)
        hits += h
        seg_of[h] = rule.segment
    assert len(grid) == 125
    assert (hits == 1).all(), grid[hits != 1]
    # every named segment is reachable, and only the 11 named segments exist
    assert set(seg_of) == set(rfm.SEGMENTS)
    assert len(rfm.SEGMENTS) == 11
    # rfm_segments agrees with the rules
    scores = pd.DataFrame(grid, columns=["R", "F", "M"])
    scores.attrs["bins"] = 5
    assert (rfm.rfm_segments(scores).to_numpy() == seg_of.astype(str)).all()


def test_segment_anchors():
    scores = pd.DataFrame([[5, 5, 5], [1, 1, 1], [5, 1, 1], [1, 5, 5], [3, 3, 3]], columns=["R", "F", "M"])
    assert rfm.rfm_segments(scores).tolist() == ["Champions", "Lost", "New", "Can't Lose", "Need Attention"]


def test_segment_actions_cover_all_segments():
    acts = rfm.segment_actions()
    assert list(acts.index) == list(rfm.SEGMENTS)
    assert acts["action"].str.len().gt(20).all()
    assert set(acts["stage"]) <= {"exploration", "formation", "stability", "decline", "terminated"}


def test_segment_summary_shares_sum_to_one(cdnow_sample):
    s = summarize(cdnow_sample)
    seg = rfm.rfm_segments(rfm.rfm_scores(s))
    t = rfm.segment_summary(seg, s)
    assert t["customers"].sum() == len(s)
    assert t["customer_share"].sum() == pytest.approx(1.0)
    assert t["revenue_share"].sum() == pytest.approx(1.0)


# --- tiers and pyramid --------------------------------------------------------------------------

def test_pyramid_shares_sum_to_100_percent_and_match_parameters():
    v = pd.Series(np.arange(1, 1001, dtype=float))
    tiers = rfm.customer_pyramid(v)
    tab = rfm.tier_summary(tiers, v)
    assert tab["customer_share"].sum() == pytest.approx(1.0)
    assert tab["value_share"].sum() == pytest.approx(1.0)
    assert tab["customers"].tolist() == [50, 150, 300, 500]
    assert list(tab.index) == ["platinum", "gold", "iron", "lead"]
    # the top customer is platinum, the bottom one lead
    assert tiers.iloc[-1] == "platinum" and tiers.iloc[0] == "lead"
    custom = rfm.tier_summary(rfm.customer_pyramid(v, shares=(0.1, 0.2, 0.3, 0.4)), v)
    assert custom["customers"].tolist() == [100, 200, 300, 400]


def test_pyramid_refines_value_tiers_and_ties_share_a_tier():
    rng = np.random.default_rng(1)
    v = pd.Series(np.r_[np.zeros(600), rng.gamma(1.0, 50.0, 400)])
    p, t = rfm.customer_pyramid(v), rfm.value_tiers(v)
    assert set(t[p.isin(["platinum", "gold"])]) == {"high"}
    assert set(t[p == "iron"]) == {"medium"} and set(t[p == "lead"]) == {"low"}
    assert p[v == 0].nunique() == 1 and p[v == 0].iloc[0] == "lead"


def test_pyramid_bad_inputs():
    v = pd.Series([1.0, 2.0, 3.0])
    with pytest.raises(ParameterError):
        rfm.customer_pyramid(v, shares=(0.5, 0.5, 0.5, 0.5))
    with pytest.raises(ParameterError):
        rfm.customer_pyramid(v, shares=(0.5, 0.5))
    with pytest.raises(ModelError):
        rfm.customer_pyramid(pd.Series([5.0] * 10))
    with pytest.raises(DataError):
        rfm.value_tiers(pd.Series([1.0, np.nan]))


# --- activity ---------------------------------------------------------------------------------

def test_activity_classes_relative_to_own_rhythm():
    # repeat buyers: 4 repeat purchases over 8 units -> mean gap 2
    sm = _summary([4, 4, 4, 0, 0], [8.0, 8.0, 8.0, 0.0, 0.0], [10.0, 13.0, 20.0, 5.0, 30.0])
    act = rfm.activity_classes(sm, one_time_gap=4.0)
    # overdue = since / gap: 2/2 = 1 active; 5/2 = 2.5 sleeping; 12/2 = 6 churned;
    # one-time buyers against the given gap 4: 5/4 = 1.25 active; 30/4 = 7.5 churned
    assert act.tolist() == ["active", "sleeping", "churned", "active", "churned"]
    # default gap for one-time buyers = median rhythm of the repeat buyers (2 here)
    rh = rfm.purchase_rhythm(sm)
    assert rh.loc["c003", "gap"] == pytest.approx(2.0)
    assert rh["gap_source"].tolist() == ["own"] * 3 + ["population"] * 2
    # thresholds are parameters
    assert rfm.activity_classes(sm, active_within=3, churned_after=7, one_time_gap=4.0).iloc[1] == "active"


def test_activity_nobody_repeats_needs_a_gap():
    sm = _summary([0, 0], [0.0, 0.0], [3.0, 9.0])
    with pytest.raises(ModelError):
        rfm.activity_classes(sm)
    assert rfm.activity_classes(sm, one_time_gap=4.0).tolist() == ["active", "sleeping"]
    with pytest.raises(ParameterError):
        rfm.activity_classes(sm, active_within=3, churned_after=2, one_time_gap=4.0)


# --- concentration ----------------------------------------------------------------------------

def test_gini_hand_example_and_extremes():
    # [1,2,3,4]: sum |xi - xj| over ordered pairs = 20; G = 20 / (2 * 16 * 2.5) = 0.25
    assert rfm.gini([1, 2, 3, 4]) == pytest.approx(0.25)
    assert rfm.gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert rfm.gini([0, 0, 0, 0, 10]) == pytest.approx(4 / 5)  # (n-1)/n


def test_gini_closed_forms_of_known_distributions():
    rng = np.random.default_rng(2024)
    n = 200_000
    assert rfm.gini(rng.uniform(0, 1, n)) == pytest.approx(1 / 3, abs=0.005)
    assert rfm.gini(rng.exponential(1.0, n)) == pytest.approx(0.5, abs=0.005)
    alpha = 3.0  # Pareto (Lomax + 1) with shape alpha: G = 1 / (2 alpha - 1)
    assert rfm.gini(rng.pareto(alpha, n) + 1.0) == pytest.approx(1 / (2 * alpha - 1), abs=0.01)
    # log-normal: G = 2 Phi(sigma / sqrt 2) - 1
    from scipy.stats import norm
    sigma = 1.0
    assert rfm.gini(rng.lognormal(0, sigma, n)) == pytest.approx(2 * norm.cdf(sigma / np.sqrt(2)) - 1, abs=0.005)


def test_lorenz_and_top_shares():
    v = np.arange(1, 11, dtype=float)  # total 55
    lc = rfm.lorenz_curve(v)
    assert lc.iloc[0].tolist() == [0.0, 0.0] and lc.iloc[-1].tolist() == [1.0, 1.0]
    assert lc["value_share"].iloc[5] == pytest.approx(15 / 55)
    top = rfm.top_shares(v, (0.1, 0.2, 0.5))
    assert top["customers"].tolist() == [1, 2, 5]
    assert top["value_share"].tolist() == pytest.approx([10 / 55, 19 / 55, 40 / 55])
    # 80% of 55 = 44 needs the 6 largest (10+9+8+7+6+5 = 45)
    assert rfm.customers_for_share(v, 0.8) == pytest.approx(0.6)
    with pytest.raises(DataError):
        rfm.gini([1.0, -1.0])
    with pytest.raises(ModelError):
        rfm.gini([0.0, 0.0])


def test_theory_checks_on_constructed_base():
    # 20 customers spend 40 each (800), 80 spend 2.5 each (200): top 20% = exactly 80%
    n_hi, n_lo = 20, 80
    sm = _summary([5] * n_hi + [0] * n_lo, [10.0] * n_hi + [0.0] * n_lo, [12.0] * 100,
                  total=[40.0] * n_hi + [2.5] * n_lo)
    chk = rfm.theory_checks(sm)
    assert chk.loc[0, "value"] == pytest.approx(0.8)
    assert chk.loc[0, "verdict"] == "holds"
    # repeat buyers 40 vs one-time buyers 2.5: ratio 16 -> within 5x..20x
    last = chk.iloc[-1]
    assert last["value"] == pytest.approx(16.0) and last["verdict"] == "holds"


def test_plots_return_axes(cdnow_sample):
    s = summarize(cdnow_sample)
    sc = rfm.rfm_scores(s)
    assert rfm.plot_rf_heatmap(sc) is not None
    assert rfm.plot_rf_heatmap(sc, s["total_amount"]) is not None
    assert rfm.plot_segments(rfm.segment_summary(rfm.rfm_segments(sc), s)) is not None
    p = rfm.customer_pyramid(s["total_amount"])
    assert rfm.plot_pyramid(rfm.tier_summary(p, s["total_amount"])) is not None
    assert rfm.plot_lorenz(s["total_amount"]) is not None


def test_other_bin_counts_map_onto_the_segment_map():
    rng = np.random.default_rng(3)
    n = 500
    sm = _summary(rng.poisson(2, n), rng.uniform(0, 50, n), np.full(n, 60.0), total=rng.gamma(2, 30, n))
    sc10 = rfm.rfm_scores(sm, bins=10)
    assert sc10[["R", "F", "M"]].max().max() <= 10
    seg = rfm.rfm_segments(sc10)
    assert seg.isin(rfm.SEGMENTS).all()
    # a customer with top scores on 10 bins is a Champion, bottom scores Lost
    top = pd.DataFrame({"R": [10, 1], "F": [10, 1], "M": [10, 1]})
    top.attrs["bins"] = 10
    assert rfm.rfm_segments(top).tolist() == ["Champions", "Lost"]


def test_activity_summary_by_hand():
    from clm_utils.rfm import activity_summary

    idx = pd.Index(["a", "b", "c", "d"], name="customer_id")
    activity = pd.Series(["active", "active", "churned", "active"], index=idx)
    revenue = pd.Series([10.0, 30.0, 60.0, 0.0], index=idx)
    out = activity_summary(activity, revenue)
    assert list(out.index) == ["active", "sleeping", "churned"]  # empty class kept, theory order
    assert out["customers"].tolist() == [3, 0, 1]
    assert out["revenue_share"].tolist() == pytest.approx([0.4, 0.0, 0.6])
    assert out.loc["sleeping", "class_zh"] == "沉睡"


def test_rank_counts_match_brute_force_counts():
    """rank_counts (one sort) against counting by comparison, with ties, signed zeros and one value."""
    from clm_utils.rfm import rank_counts

    rng = np.random.default_rng(5)
    for x in (np.round(rng.gamma(0.5, 10, 2000), 0), np.array([0.0, -0.0, 1.0, 1.0, -2.0]), np.array([3.0])):
        lower, ties = rank_counts(x)
        assert lower.tolist() == [int((x < v).sum()) for v in x]
        assert ties.tolist() == [int((x == v).sum()) for v in x]
