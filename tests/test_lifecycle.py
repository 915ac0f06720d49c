"""Tests of clm_utils.lifecycle: archetypes get the obvious stage, and the tables add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils.errors import DataError, ModelError, ParameterError
from clm_utils.lifecycle import (
    BASES,
    STAGES,
    TransitionResult,
    assign_stages,
    evaluate_lifecycle_claims,
    lifecycle_curves,
    lifecycle_curves_by_basis,
    plot_lifecycle_curves,
    plot_lifecycle_curves_by_basis,
    plot_stage_sensitivity,
    plot_stage_value_grid,
    resolve_params,
    stage_sensitivity,
    stage_shares,
    stage_summary,
    stage_transitions,
    stage_value_grid,
)

AS_OF = pd.Timestamp("2021-01-01")


def _customer(cid: str, day_offsets, amounts=None) -> pd.DataFrame:
    """Purchases of one customer at the given offsets (days before AS_OF, negative = past)."""
    offs = np.asarray(day_offsets, dtype=int)
    amt = np.full(offs.size, 50.0) if amounts is None else np.asarray(amounts, dtype=float)
    return pd.DataFrame({"customer_id": cid, "date": AS_OF + pd.to_timedelta(offs, unit="D"), "amount": amt})


@pytest.fixture(scope="module")
def archetypes() -> pd.DataFrame:
    parts = [
        # a single recent purchase
        _customer("explore", [-7]),
        # sparse for a year and more, then weekly in the last three months: a rising rate
        _customer("formation", [-500, -400, -300, -200, -100] + list(range(-84, 0, 7))),
        # every four weeks for two years, last purchase 10 days ago: a long steady rhythm
        _customer("stability", list(range(-738, -9, 28))),
        # weekly for a year, then a single purchase in the last three months
        _customer("decline", list(range(-500, -99, 7)) + [-20]),
        # same weekly rhythm throughout, but the basket collapses to a tenth recently
        _customer("decline_spend", list(range(-500, 0, 7)),
                  [100.0 if d <= -91 else 10.0 for d in range(-500, 0, 7)]),
        # every two weeks for 200 days, then silent for 300 days: far beyond its own rhythm
        _customer("terminated", list(range(-500, -299, 14))),
    ]
    return pd.concat(parts, ignore_index=True).sort_values(["customer_id", "date"], ignore_index=True)


def test_archetypes_get_the_obvious_stage(archetypes):
    st = assign_stages(archetypes, AS_OF, recent_window=91)
    expected = {"explore": "exploration", "formation": "formation", "stability": "stability",
                "decline": "decline", "decline_spend": "decline", "terminated": "terminated"}
    got = st["stage"].astype(str).to_dict()
    assert got == expected, st[["stage", "rule", "silence", "rate_ratio", "spend_ratio"]]
    assert st.loc["formation", "rule"] == "rising"  # not merely young
    assert st.loc["decline_spend", "rule"] == "spend drop"
    assert st.loc["stability", "rate_ratio"] == pytest.approx(1.0, abs=0.25)


def test_archetypes_with_default_window(archetypes):
    st = assign_stages(archetypes, AS_OF)  # data-driven window
    assert st.loc["explore", "stage"] == "exploration"
    assert st.loc["terminated", "stage"] == "terminated"
    assert st.loc["stability", "stage"] == "stability"


def test_p_alive_overrides_silence_for_repeaters(archetypes):
    pa = pd.Series({"stability": 0.05, "formation": 0.3, "explore": 0.01, "terminated": 0.99})
    st = assign_stages(archetypes, AS_OF, p_alive=pa, recent_window=91)
    assert st.loc["stability", "stage"] == "terminated" and st.loc["stability", "rule"] == "p_alive"
    assert st.loc["formation", "stage"] == "decline"
    assert st.loc["explore", "stage"] == "exploration"  # one-time buyer: P(alive) not used
    assert st.loc["terminated", "stage"] != "terminated"  # a confident model wins over silence
    with pytest.raises(DataError):
        assign_stages(archetypes, AS_OF, p_alive=pd.Series({"stability": 1.5}))


def test_exactly_one_stage_and_shares(archetypes):
    st = assign_stages(archetypes, AS_OF, recent_window=91)
    assert st.index.is_unique and st["stage"].notna().all()
    assert set(st["stage"].astype(str)) <= set(STAGES)
    sh = stage_shares(st)
    assert list(sh.index) == list(STAGES) and sh.sum() == pytest.approx(1.0)


def test_decline_can_follow_any_stage():
    """Customers silent for 2-3 own intervals are in decline whatever their history."""
    parts = [
        _customer("young", [-60]),  # one purchase, pooled rhythm 30 days -> silence 2
        _customer("young2", [-90, -60]),
        _customer("old", list(range(-900, -59, 30))),
    ]
    tx = pd.concat(parts, ignore_index=True)
    st = assign_stages(tx, AS_OF, prior_rhythm=30, recent_window=91)
    assert (st["stage"] == "decline").all(), st[["stage", "silence"]]
    # rhythm closed forms with the pseudo-count k = 2 population gaps of 30 days
    assert st.loc["young", "rhythm_days"] == pytest.approx(30.0)
    assert st.loc["young2", "rhythm_days"] == pytest.approx((30 + 2 * 30) / (1 + 2))


def test_parameters_are_validated(archetypes):
    with pytest.raises(ParameterError):
        assign_stages(archetypes, AS_OF, decline_ratio=1.5)
    with pytest.raises(ParameterError):
        assign_stages(archetypes, AS_OF, decline_multiple=5, terminated_multiple=3)
    with pytest.raises(ParameterError):
        assign_stages(archetypes, AS_OF, no_such_threshold=1)
    with pytest.raises(DataError):
        assign_stages(archetypes, "2000-01-01")


def test_cdnow_every_customer_one_stage(cdnow_master):
    st = assign_stages(cdnow_master)
    assert len(st) == 23570 and st["stage"].notna().all()
    # the monotone effect of the main threshold: a stricter silence rule terminates fewer
    sens = stage_sensitivity(cdnow_master, None, grid={"terminated_multiple": [2.0, 3.0, 5.0]})
    assert sens["terminated"].is_monotonic_decreasing
    np.testing.assert_allclose(sens[list(STAGES)].sum(axis=1), 1.0)
    plot_stage_sensitivity(sens)


def test_stage_value_grid_adds_up(archetypes):
    st = assign_stages(archetypes, AS_OF, recent_window=91)
    rev = archetypes.groupby("customer_id")["amount"].sum()
    tiers = pd.Series(np.where(rev > rev.median(), "gold", "tin"), index=rev.index)
    grid = stage_value_grid(st, tiers, rev, clv=rev * 2)
    assert len(grid) == len(STAGES) * 2
    assert grid["customers"].sum() == len(st)
    assert grid["revenue_share"].sum() == pytest.approx(1.0) and grid["clv_share"].sum() == pytest.approx(1.0)
    assert set(grid.xs("gold", level="tier")["tier_level"]) == {"high"}
    assert set(grid.xs("tin", level="tier")["tier_level"]) == {"low"}
    assert grid.loc[("decline", "gold"), "strategy"].startswith("find out why")
    plot_stage_value_grid(grid)


def test_transitions_and_markov_projection(archetypes):
    tr = stage_transitions(archetypes, AS_OF - pd.Timedelta(days=120), AS_OF, recent_window=91)
    assert tr.counts.to_numpy().sum() == archetypes["customer_id"].nunique()
    rows = tr.counts.sum(axis=1) > 0
    np.testing.assert_allclose(tr.probabilities[rows].sum(axis=1), 1.0)
    proj = tr.project(3)
    np.testing.assert_allclose(proj.sum(axis=1), 1.0)
    # one projection step is the mix times the matrix (closed form)
    P = tr.probabilities.loc[list(STAGES), list(STAGES)].to_numpy()
    m0 = proj.iloc[0].to_numpy()
    empty = tr.counts.loc[list(STAGES)].sum(axis=1).to_numpy() == 0
    P = P.copy()
    P[empty] = np.eye(len(STAGES))[empty]
    np.testing.assert_allclose(proj.iloc[1].to_numpy(), m0 @ P)
    tr.plot_heatmap()
    tr.plot_flow()
    with pytest.raises(ParameterError):
        stage_transitions(archetypes, AS_OF, AS_OF - pd.Timedelta(days=1))


def _hump_transactions(n: int = 120) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """n identical-shaped customers: orders per month and price per order by age."""
    orders = np.array([1, 2, 4, 4, 3, 2, 1, 1])
    price = np.array([10.0, 20, 40, 60, 70, 70, 70, 70])
    start = pd.Timestamp("2019-01-01")
    plen = 365.25 / 12
    rows = []
    for c in range(n):
        first = start + pd.Timedelta(days=c % 5)
        for a, (k, p) in enumerate(zip(orders, price)):
            for j in range(k):
                day = int(np.ceil(a * plen)) + 2 * j + (1 if a > 0 else 0) * 0
                rows.append((f"c{c:03d}", first + pd.Timedelta(days=day), p))
    tx = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    return tx, orders.astype(float), orders * price


def _per_day(x: np.ndarray, plen: float = 365.25 / 12) -> np.ndarray:
    """Closed form of the per-day normalisation: x / whole days in the age bin x period length."""
    edges = np.ceil(np.arange(len(x) + 1) * plen)
    return x / np.diff(edges) * plen


def test_lifecycle_curves_recover_known_shape_and_claims():
    tx, vol, rev = _hump_transactions()
    vol_n, rev_n = _per_day(vol), _per_day(rev)
    c = lifecycle_curves(tx, as_of="2020-06-30", period="M", basis="acquired", n_boot=50, min_customers=10)
    t = c.table
    np.testing.assert_allclose(t["volume"].to_numpy()[: len(vol)], vol_n)
    np.testing.assert_allclose(t["profit"].to_numpy()[: len(rev)], rev_n)
    c = lifecycle_curves(tx, as_of="2020-06-30", period="M", basis="retained", n_boot=50, min_customers=10)
    t = c.table
    assert len(t) == len(vol)  # ages after the last purchase have no retained customers
    np.testing.assert_allclose(t["volume"], vol_n)
    claims = evaluate_lifecycle_claims(c)
    # identical customers: both halves equal the whole, so the estimates are the closed forms.
    # volume peaks at age 2 (first maximum of 1,2,4,4,...; age 2 has 31 days, age 3 has 30, so the
    # per-day rate peaks at age 3), profit at age 3
    v = int(np.argmax(vol_n))
    assert claims.loc["1. slow rise, rapid growth, plateau, then fall", "verdict"] == "supported"
    g_p = (rev_n[v] - rev_n[0]) / rev_n.mean()
    g_v = (vol_n[v] - vol_n[0]) / vol_n.mean()
    assert claims.loc["2. in formation, profit grows faster than volume", "estimate"] == pytest.approx(g_p - g_v)
    g_p4 = (rev_n[-1] - rev_n[v]) / rev_n.mean()
    g_v4 = (vol_n[-1] - vol_n[v]) / vol_n.mean()
    fall_v = (vol_n[v] - vol_n[-1]) / vol_n.mean()
    assert claims.loc["4. in decline, profit falls more slowly than volume", "estimate"] == pytest.approx(
        min(fall_v, g_p4 - g_v4))
    assert set(claims["verdict"]) <= {"supported", "not supported", "inconclusive"}
    assert (claims["basis"] == "profit = revenue (no costs given)").all()
    plot_lifecycle_curves(c)


def test_curves_have_no_month_length_sawtooth():
    """A customer who buys every day shows exactly 365.25/12 purchase days at every monthly age.

    Raw counts per 30.44-day bin alternate 30/31 (the +-3% sawtooth of issue 9)."""
    days = pd.date_range("2019-01-01", "2020-12-31", freq="D")
    tx = pd.DataFrame({"customer_id": np.repeat([f"d{i}" for i in range(40)], len(days)),
                       "date": np.tile(days, 40), "amount": 10.0})
    c = lifecycle_curves(tx, as_of="2020-12-31", period="M", basis="acquired", n_boot=20, min_customers=10)
    np.testing.assert_allclose(c.table["volume"], 365.25 / 12, rtol=1e-12)
    np.testing.assert_allclose(c.table["revenue"], 10 * 365.25 / 12, rtol=1e-12)
    cw = lifecycle_curves(tx, as_of="2020-12-31", period="W", basis="acquired", n_boot=20, min_customers=10)
    np.testing.assert_allclose(cw.table["volume"], 7.0, rtol=1e-12)


def test_young_customer_two_purchases_one_day_apart_is_exploration():
    """Issue 8 item 3: first two purchases one day apart, 18 days before the as-of date."""
    rng = np.random.default_rng(3)
    parts = [_customer(f"p{i:02d}", -np.cumsum(rng.integers(30, 50, size=8))[::-1]) for i in range(30)]
    parts.append(_customer("young", [-19, -18]))
    tx = pd.concat(parts, ignore_index=True)
    st = assign_stages(tx, AS_OF)
    assert st.attrs["params"]["prior_rhythm"] > 19  # the population's normal gap is longer than the relationship
    assert st.loc["young", "stage"] == "exploration" and st.loc["young", "rule"] == "younger than a normal gap"
    # even a model that calls the customer dead cannot end a relationship younger than a normal gap
    st = assign_stages(tx, AS_OF, p_alive=pd.Series({"young": 0.01}))
    assert st.loc["young", "stage"] == "exploration"
    # the rhythm of one one-day gap is shrunk with a pseudo-count of 2 population gaps (closed form)
    prior = st.attrs["params"]["prior_rhythm"]
    assert st.loc["young", "rhythm_days"] == pytest.approx((1 + 2 * prior) / 3)
    # the minimum absolute silence: with young_tenure switched off, silence alone (18 days) is still
    # shorter than one population gap, so neither decline nor terminated
    st = assign_stages(tx, AS_OF, young_tenure=1.0)
    assert st.loc["young", "stage"] == "exploration" and st.loc["young", "rule"] == "few purchases"
    # and without the minimum silence and the prior, the old behaviour comes back: terminated
    st = assign_stages(tx, AS_OF, young_tenure=1.0, min_silence=0.0, rhythm_prior_weight=0.0)
    assert st.loc["young", "stage"] == "terminated"


def test_lifecycle_curves_margin_and_costs():
    tx, vol, rev = _hump_transactions(40)
    c = lifecycle_curves(tx, as_of="2020-06-30", basis="acquired", margin=0.3, cost_per_order=1.0,
                         acquisition_cost=5.0, n_boot=20, min_customers=10)
    expected = 0.3 * _per_day(rev) - _per_day(vol)  # rates per day x period; acquisition cost once
    expected[0] -= 5.0
    np.testing.assert_allclose(c.table["profit"].to_numpy()[: len(rev)], expected)
    assert c.profit_definition == "profit = 0.3 x revenue - 1 per purchase day - 5 acquisition cost at age 0"
    with pytest.raises(ParameterError):
        lifecycle_curves(tx, period="D")


def test_cdnow_claims_are_not_forced(cdnow_master):
    c = lifecycle_curves(cdnow_master, n_boot=50)
    claims = evaluate_lifecycle_claims(c)
    assert len(claims) == 4 and set(claims["verdict"]) <= {"supported", "not supported", "inconclusive"}
    # CDNOW volume is highest in the acquisition month: the hump of claim 1 is not there
    assert claims.iloc[0]["verdict"] == "not supported"
    assert claims.attrs["basis"] == "profit = revenue (no costs given)"


def test_stage_summary_counts_and_revenue_by_hand(archetypes):
    st = assign_stages(archetypes, AS_OF, recent_window=91)
    rev = archetypes.groupby("customer_id")["amount"].sum()
    table = stage_summary(st["stage"], rev)
    assert list(table.index) == list(STAGES)
    assert table.loc["terminated", "stage_zh"] == "流失期"  # the glossary's name (issue 13)
    total = sum(rev)
    for stage in STAGES:  # brute force over customers
        members = [c for c in st.index if st.loc[c, "stage"] == stage]
        assert table.loc[stage, "customers"] == len(members)
        assert table.loc[stage, "share"] == pytest.approx(len(members) / len(st))
        assert table.loc[stage, "revenue_share"] == pytest.approx(sum(rev[c] for c in members) / total)
    assert table["customers"].sum() == len(st)
    # a customer without revenue counts 0; no revenue at all gives no shares, not a division by zero
    assert stage_summary(st, rev.iloc[1:])["customers"].sum() == len(st)
    assert stage_summary(st, rev * 0)["revenue_share"].isna().all()


def test_transitions_onto_given_stages_2(archetypes):
    d1, d2 = AS_OF - pd.Timedelta(days=120), AS_OF
    given = assign_stages(archetypes, d2, recent_window=91)["stage"]
    tr = stage_transitions(archetypes, d1, d2, stages_2=given, recent_window=91)
    # the column totals are the given stages, whatever they are
    pd.testing.assert_series_equal(tr.counts.sum(axis=0), given.value_counts().reindex(list(STAGES), fill_value=0),
                                   check_names=False)
    flipped = given.astype(object).where(given != "terminated", "exploration")
    tr2 = stage_transitions(archetypes, d1, d2, stages_2=flipped, recent_window=91)
    assert tr2.counts["terminated"].sum() == 0
    # the rows are the stages at date_1 with the thresholds resolved at date_2
    p2 = resolve_params(archetypes, d2, recent_window=91)
    s1 = assign_stages(archetypes, d1, **p2.__dict__)["stage"]
    rows = tr.counts.loc[list(STAGES)].sum(axis=1)
    pd.testing.assert_series_equal(rows, s1.value_counts().reindex(list(STAGES), fill_value=0), check_names=False)
    assert tr.params["prior_rhythm"] == p2.prior_rhythm
    assert (tr.projection_note() == "") == (not tr.unobserved_stages())
    if tr.unobserved_stages():
        assert tr.unobserved_stages()[0] in tr.projection_note()
    assert len(tr.plot().axes) >= 2
    with pytest.raises(ParameterError):
        stage_transitions(archetypes, d1, d2, stages_2=given.astype(object).replace("decline", "falling"))
    with pytest.raises(ParameterError):
        stage_transitions(archetypes, d1, d2, stages_2=given.iloc[1:])
    with pytest.raises(ModelError):
        stage_transitions(archetypes, "2010-01-01", d2)


def test_curves_by_basis_and_their_plot():
    tx, _, _ = _hump_transactions(60)
    both = lifecycle_curves_by_basis(tx, lookahead=2, n_boot=20, min_customers=10, margin=0.5)
    assert list(both) == list(BASES)
    assert both["retained"].basis == "retained" and both["acquired"].basis == "acquired"
    one = lifecycle_curves(tx, basis="retained", lookahead=2, n_boot=20, min_customers=10, margin=0.5)
    pd.testing.assert_frame_equal(both["retained"].table, one.table)
    assert both["acquired"].profit_definition == "profit = 0.5 x revenue"
    fig = plot_lifecycle_curves_by_basis(both)
    assert len(fig.axes) == 4 and all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    with pytest.raises(ParameterError):
        lifecycle_curves_by_basis(tx, bases=())


def test_projection_note_names_the_stages_nobody_was_in():
    rows = list(STAGES) + ["new"]
    counts = pd.DataFrame(np.eye(len(rows), len(STAGES), dtype=int) * 3, index=rows, columns=list(STAGES))
    probs = counts.div(counts.sum(axis=1).where(lambda r: r > 0), axis=0).fillna(0.0)
    tr = TransitionResult(pd.Timestamp("2020-01-01"), pd.Timestamp("2020-07-01"), counts, probs)
    assert tr.projection_note() == ""
    counts.loc["stability"] = 0
    tr = TransitionResult(tr.date_1, tr.date_2, counts, counts.div(counts.sum(axis=1).where(lambda r: r > 0),
                                                                     axis=0).fillna(0.0))
    assert tr.unobserved_stages() == ["stability"]
    assert tr.projection_note().startswith("Note: nobody was in stability at 2020-01-01, so the exit rates of that")
