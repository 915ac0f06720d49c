"""Periodic reports (issue 12): two as-of analyses of the CDNOW sample, checked against the transactions.

Independent references: the raw transactions (purchase days and revenue counted here with plain
pandas), the activity rule recomputed from the transactions (own mean gap, the population median
gap for one-time buyers), and the MBG/NBD conditional expectation of Batislam, Denizel &
Filiztekin (2007, eq. 10, as implemented in the R package BTYD / Python lifetimes'
ModifiedBetaGeoFitter) evaluated with mpmath.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from clm_utils import analysis, config, periodic
from clm_utils.data import load_cdnow
from clm_utils.errors import ModelError, ParameterError

D1, D2 = "1997-12-31", "1998-03-31"
SAMPLE = {"data_path": str(config.CDNOW_SAMPLE), "zero": "keep", "duplicates": "keep"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("analysis-cache")
    with pytest.MonkeyPatch.context() as mp_:
        mp_.setenv("CLM_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def runs(cache):
    return analysis.load({**SAMPLE, "as_of": D1}), analysis.load({**SAMPLE, "as_of": D2})


@pytest.fixture(scope="module")
def change(runs):
    return periodic.Change(*runs)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The sample's transactions as the file holds them (no cleaning policy: zero amounts and duplicates kept)."""
    return load_cdnow(sample=True)


# ------------------------------------------------------------------ migrations and flows
@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_migration_rows_account_for_every_customer_known_at_the_earlier_date(change, raw):
    known_1 = raw.loc[raw["date"] <= D1, "customer_id"].nunique()
    new = raw.loc[raw["date"] <= D2].groupby("customer_id")["date"].min().gt(pd.Timestamp(D1)).sum()
    assert change.dimensions() == ["segment", "value_tier", "pyramid", "activity", "stage"]
    for dim in change.dimensions():
        m = change.migration(dim)
        assert int(m.drop(index="new")["total"].sum()) == known_1 == 2_357, dim
        assert int(m.loc["new", "total"]) == new
        body = m.drop(columns="total")
        assert (body.sum(axis=1) == m["total"]).all()
        # the columns are the labels of the later run, customer by customer
        later = change.after.customers[dim].astype(str).value_counts()
        assert body.sum(axis=0).drop("gone").loc[later.index].tolist() == later.tolist()


def test_migration_matrix_counts_new_and_gone_customers():
    before = pd.Series({"a": "high", "b": "low", "c": "low"})
    after = pd.Series({"a": "low", "b": "low", "d": "high"})
    m = periodic.migration_matrix(before, after, ("high", "medium", "low"))
    assert m.loc["high", "low"] == 1 and m.loc["low", "low"] == 1 and m.loc["low", "gone"] == 1
    assert m.loc["new", "high"] == 1 and m.loc["medium", "total"] == 0
    assert m.drop(index="new")["total"].sum() == 3


@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_new_retained_lost_add_up(change, raw):
    s = change.flow_summary()["customers"]
    flows = change.flows
    lb = flows["lapsed_before"].fillna(False).astype(bool)
    known_1 = change.before.customers.index
    assert s["retained"] + s["lost"] == int((~lb.loc[known_1]).sum())
    assert s["reactivated"] + s["still lapsed"] == int(lb.loc[known_1].sum())
    assert s[["retained", "lost", "reactivated", "still lapsed"]].sum() == len(known_1)
    assert s[list(periodic.FLOW_STATUSES)].sum() == s["total"] == raw.loc[raw["date"] <= D2, "customer_id"].nunique()
    # revenue of the period adds up to the transactions of the period
    period = raw[(raw["date"] > D1) & (raw["date"] <= D2)]
    assert change.flow_summary().loc["total", "period_revenue"] == pytest.approx(period["amount"].sum(), rel=1e-12)


def _churned_at(raw: pd.DataFrame, date: str, churned_after: float = 3.0) -> pd.Series:
    """The activity rule recomputed from the transactions: days since the last purchase day over the own
    mean gap between purchase days (one-time buyers: the median mean gap of the repeat buyers) > 3."""
    tx = raw[raw["date"] <= date]
    days = tx.groupby("customer_id")["date"].agg(first="min", last="max", n="nunique")
    gap = (days["last"] - days["first"]).dt.days / (days["n"] - 1).where(days["n"] > 1)
    gap = gap.fillna(gap.median())
    overdue = (pd.Timestamp(date) - days["last"]).dt.days / gap
    return overdue > churned_after


@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_reactivated_are_exactly_the_lapsed_who_bought_again(change, raw):
    churned = _churned_at(raw, D1)
    bought = set(raw.loc[(raw["date"] > D1) & (raw["date"] <= D2), "customer_id"])
    expected = {c for c in churned[churned].index if c in bought}
    got = set(change.flows.index[change.flows["status"] == "reactivated"])
    assert len(expected) > 50 and got == expected
    # and the lapse rule is the run's activity class
    assert set(churned[churned].index) == set(change.before.customers.index[change.before.customers["activity"]
                                                                                == "churned"])


def test_flows_on_a_small_book_with_a_new_and_a_gone_customer():
    before = pd.DataFrame({"activity": ["active", "churned", "active", "churned"]}, index=["a", "b", "c", "g"])
    after = pd.DataFrame({"activity": ["active", "active", "churned", "active"]}, index=["a", "b", "c", "n"])
    tx = pd.DataFrame({"customer_id": ["b", "n", "n", "a"], "date": pd.to_datetime(["2024-02-01", "2024-02-03",
                                                                                    "2024-02-03", "2023-12-01"]),
                       "amount": [10.0, 5.0, 7.0, 3.0]})
    flows = periodic.customer_flows(before, after, tx, "2024-01-31", "2024-03-31")
    assert flows["status"].to_dict() == {"a": "retained", "b": "reactivated", "c": "lost", "g": "still lapsed",
                                         "n": "new"}
    assert flows.loc["n", "period_purchases"] == 1 and flows.loc["n", "period_revenue"] == 12.0
    assert flows.loc["a", "period_purchases"] == 0
    with pytest.raises(ParameterError):
        periodic.lapsed(before, by="mood")


@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_movers_are_high_value_customers_who_fell_or_entered_decline(change):
    b, a = change.before.customers, change.after.customers
    ids = b.index.intersection(a.index)
    rank = {t: i for i, t in enumerate(("platinum", "gold", "iron", "lead"))}
    vrank = {t: i for i, t in enumerate(("high", "medium", "low"))}
    b, a = b.loc[ids], a.loc[ids]
    high = b["pyramid"].isin(["platinum", "gold"]) | (b["value_tier"] == "high")
    down = ((a["pyramid"].map(rank) > b["pyramid"].map(rank)) | (a["value_tier"].map(vrank) > b["value_tier"].map(vrank))
            | (a["stage"].astype(str).isin(["decline", "terminated"])
               & ~b["stage"].astype(str).isin(["decline", "terminated"])))
    movers = change.movers(10_000)
    assert set(movers.index) == set(ids[high & down]) and movers.attrs["n"] == int((high & down).sum()) > 0
    assert movers["clv_before"].is_monotonic_decreasing
    assert len(change.movers(5)) == 5


@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_hand_off_change_columns(change):
    cols = change.change_columns()
    a = change.after.customers
    assert list(cols.index) == list(a.index)
    assert {"previous_segment", "previous_value_tier", "previous_pyramid", "previous_stage", "previous_activity",
            "moved", "change"} <= set(cols.columns)
    b = change.before.customers.reindex(a.index)
    differs = ((b["segment"] != a["segment"]) | (b["value_tier"] != a["value_tier"]) | (b["pyramid"] != a["pyramid"])
               | (b["stage"].astype(str) != a["stage"].astype(str)))
    assert (cols["moved"] == differs).all()
    assert (cols["previous_stage"] == b["stage"].astype(str)).all()


# ------------------------------------------------------------------ KPIs
@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_kpis_from_the_transactions(runs, raw):
    before, after = runs
    k = periodic.headline_kpis(after)
    window = raw[(raw["date"] > "1997-12-31") & (raw["date"] <= D2)]
    assert k["revenue"] == pytest.approx(window["amount"].sum(), rel=1e-12)
    days = raw[raw["date"] <= D2].groupby("customer_id")["date"].nunique()
    assert k["repeat_rate"] == pytest.approx((days > 1).mean(), abs=1e-12)
    assert k["customers"] == 2_357
    assert k["active_customers"] == int((after.customers["activity"] == "active").sum())
    assert k["share_in_decline"] == pytest.approx((after.customers["stage"] == "decline").mean())
    d = periodic.kpi_deltas(periodic.headline_kpis(before), k)
    assert d.loc["share in decline", "reading"] == ("worse" if d.loc["share in decline", "change"] > 0 else "better")
    assert d.loc["customers known", "direction"] == "unchanged"
    rev = d.loc["revenue, last 3 months"]
    assert rev["relative_change"] == pytest.approx(rev["change"] / rev["before"])
    table = periodic.kpi_table(d)
    assert table.loc["repeat rate", "change"].endswith("pp")


def test_calendar_steps_keep_month_ends():
    assert periodic.as_of_dates("1997-06-30", "1998-06-30", "1Q") == [
        "1997-06-30", "1997-09-30", "1997-12-31", "1998-03-31", "1998-06-30"]
    assert periodic.as_of_dates("1998-01-31", "1998-04-30", "1M") == [
        "1998-01-31", "1998-02-28", "1998-03-31", "1998-04-30"]
    assert periodic.as_of_dates("1998-01-15", "1998-03-20", "1M") == ["1998-01-15", "1998-02-15", "1998-03-15"]
    assert periodic.as_of_dates("1998-01-01", "1998-01-15", "1W") == ["1998-01-01", "1998-01-08", "1998-01-15"]
    assert str(periodic.comparison_date("1998-06-30", "3M").date()) == "1998-03-31"
    for bad in ("fortnight", "0M", "1.5M"):
        with pytest.raises(ParameterError):
            periodic.as_of_dates("1998-01-01", "1998-06-30", bad)
    with pytest.raises(ParameterError):
        periodic.as_of_dates("1998-06-30", "1998-01-01", "1M")


@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_no_comparison_before_the_data(runs):
    _, after = runs
    with pytest.raises(ModelError, match="before the first transaction"):
        periodic.open_change(after, None, "2Y")


# ------------------------------------------------------------------ stage check
@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_stage_check_projection_is_the_earlier_matrix_applied_to_the_earlier_mix(change, runs):
    from clm_utils.lifecycle import STAGES, stage_transitions

    before, after = runs
    sc = change.stage_check()
    params = after.settings.stage_params()
    d0 = pd.Timestamp(D1) - (pd.Timestamp(D2) - pd.Timestamp(D1))
    prev = stage_transitions(before.transactions, d0, D1, **params)
    P = prev.probabilities.loc[list(STAGES), list(STAGES)].to_numpy().copy()
    for i, s in enumerate(STAGES):
        if prev.counts.loc[s].sum() == 0:
            P[i] = np.eye(len(STAGES))[i]
    mix = sc.mix["at_date_1"].to_numpy()
    assert mix.sum() == pytest.approx(1.0) and sc.mix["observed"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(sc.mix["projected"].to_numpy(), mix @ P, atol=1e-12)
    obs = sc.rates["observed"].unstack().loc[list(STAGES), list(STAGES)]
    rows = sc.rates["customers_from"].unstack().iloc[:, 0]
    np.testing.assert_allclose(obs.sum(axis=1)[rows > 0], 1.0)


@pytest.mark.slow  # shares the module's two as-of analyses
def test_stage_check_on_a_customer_sample_stays_within_sampling_error(change, runs):
    # Large bases: the transitions are counted on one seeded sample of customers (both dates).
    # The sampled rates must agree with the full ones within a binomial 4-sigma band, and say so.
    from clm_utils.periodic.compare import stage_check

    before, after = runs
    full = change.stage_check()
    n_all = after.transactions["customer_id"].nunique()
    limit = n_all // 3
    part = stage_check(before.transactions, after.transactions, D1, D2, after.settings.stage_params(),
                       seed=1, sample_above=limit)
    assert f"sample of {limit:,} of {n_all:,} customers" in part.note
    assert full.note == "" or "sample" not in full.note
    frac = part.rates["customers_from"].sum() / full.rates["customers_from"].sum()
    assert 0.25 < frac < 0.42  # about a third of the customers known at the earlier date
    rows = (full.rates["customers_from"] >= 30).to_numpy()
    p = full.rates["observed"].to_numpy()[rows]
    q = part.rates["observed"].to_numpy()[rows]
    n = part.rates["customers_from"].to_numpy()[rows].clip(min=1)
    fpc = 1 - n / full.rates["customers_from"].to_numpy()[rows]  # sampling without replacement
    sd = np.sqrt(np.maximum(p * (1 - p), 1 / n) / n * fpc)  # floor: a rate of 0 can be 1/n in a sample
    assert (np.abs(q - p) <= 4 * sd).all(), np.c_[p, q, n, sd]
    assert not part.rates.equals(full.rates)  # it really is another set of customers


# ------------------------------------------------------------------ forecast check
@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_forecast_check_actuals_match_the_transactions(change, raw):
    f = change.forecast
    known = raw.loc[raw["date"] <= D1, "customer_id"].unique()
    period = raw[(raw["date"] > D1) & (raw["date"] <= D2) & raw["customer_id"].isin(known)]
    t = f.totals()
    assert t.loc["purchase days", "actual"] == period[["customer_id", "date"]].drop_duplicates().shape[0]
    assert t.loc["revenue", "actual"] == pytest.approx(period["amount"].sum(), rel=1e-12)
    assert f.customers["bought_again"].sum() == period["customer_id"].nunique()
    assert t.loc["purchase days", "error"] == pytest.approx(t.loc["purchase days", "actual"]
                                                            - t.loc["purchase days", "forecast"])
    assert f.elapsed == pytest.approx(90 / 7)
    deciles = f.by_decile()
    assert deciles["customers"].sum() == len(known) and deciles["customers"].max() - deciles["customers"].min() <= 1
    assert deciles["actual_total"].sum() == t.loc["purchase days", "actual"]
    assert deciles["predicted_total"].sum() == pytest.approx(t.loc["purchase days", "forecast"])
    assert deciles["predicted"].is_monotonic_increasing


def _mbgnbd_conditional_expectation(params, x, tx, T, t):
    """E[Y(t) | x, tx, T] of the MBG/NBD (Batislam et al. 2007), by mpmath at 30 digits."""
    mp.mp.dps = 30
    r, alpha, a, b = (mp.mpf(params[k]) for k in ("r", "alpha", "a", "b"))
    x, tx, T, t = mp.mpf(x), mp.mpf(tx), mp.mpf(T), mp.mpf(t)
    z = t / (alpha + T + t)
    num = (a + b + x) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * mp.hyp2f1(r + x, b + x + 1,
                                                                                            a + b + x, z))
    den = 1 + a / (b + x) * ((alpha + T) / (alpha + tx)) ** (r + x)
    return float(num / den)


@pytest.mark.slow  # two as-of analyses of the CDNOW sample (about 40 s, shared by the module)
def test_forecast_check_expected_purchases_match_the_closed_form(change):
    before = change.before
    if before.chosen_model != "MBG/NBD":
        pytest.skip(f"the earlier run chose {before.chosen_model}; the reference is the MBG/NBD closed form")
    params = before.manifest["value"]["params"]
    s = before.summary
    f = change.forecast.customers
    picks = s.sort_values(["frequency", "recency"]).index[:: max(1, len(s) // 40)]
    for cid in picks:
        ref = _mbgnbd_conditional_expectation(params, s.at[cid, "frequency"], s.at[cid, "recency"], s.at[cid, "T"],
                                              90 / 7)
        assert f.at[cid, "expected_purchases"] == pytest.approx(ref, rel=1e-8), cid


# ------------------------------------------------------------------ fast paths against plain pandas
# The change tables are built from integer codes and Arrow positions (clm_utils.periodic.migration.Alignment)
# so they scale to millions of text ids.  The references below are the straightforward pandas versions
# (union, reindex, crosstab, intersection, .loc), written out here; the fast tables must equal them exactly:
# same rows, order, columns, dtypes and attrs.
def _ref_migration_matrix(before, after, order):
    b, a = before.astype(object).astype(str), after.astype(object).astype(str)
    labels = list(order) + sorted((set(b) | set(a)) - set(order))
    ids = b.index.union(a.index)
    rows, cols = [*labels, "new"], [*labels, "gone"]
    m = pd.crosstab(pd.Categorical(b.reindex(ids).fillna("new"), categories=rows),
                    pd.Categorical(a.reindex(ids).fillna("gone"), categories=cols), dropna=False)
    m = m.reindex(index=rows, columns=cols, fill_value=0).astype("int64")
    m.index.name, m.columns.name = "from \\ to", None
    m["total"] = m.sum(axis=1)
    return m


def _ref_flows(before, after, tx, d1, d2):
    ids = before.index.union(after.index)
    lb = (before["activity"].astype(str) == "churned").reindex(ids)
    la = (after["activity"].astype(str) == "churned").reindex(ids)
    period = tx[(tx["date"] > pd.Timestamp(d1)) & (tx["date"] <= pd.Timestamp(d2))]
    g = period.groupby("customer_id")
    bought = pd.DataFrame({"p": g["date"].nunique(), "r": g["amount"].sum()}).reindex(ids)
    purchases = bought["p"].fillna(0).astype("int64")
    known, gone = ids.isin(before.index), ~ids.isin(after.index)
    was, now = lb.fillna(False).astype(bool).to_numpy(), la.fillna(False).astype(bool).to_numpy() | gone
    status = np.select([~known, ~was & ~now, ~was & now, was & (purchases.to_numpy() > 0)],
                       ["new", "retained", "lost", "reactivated"], default="still lapsed")
    out = pd.DataFrame({"status": status, "lapsed_before": lb.astype("boolean"), "lapsed_after": la.astype("boolean"),
                        "period_purchases": purchases, "period_revenue": bought["r"].fillna(0.0)}, index=ids)
    out.index.name = "customer_id"
    return out


def _ref_movers(before, after):
    ids = before.index.intersection(after.index)
    b, a = before.loc[ids], after.loc[ids]
    high, what = pd.Series(False, index=ids), pd.Series("", index=ids, dtype=object)
    for dim, top, order in (("pyramid", ["platinum", "gold"], ["platinum", "gold", "iron", "lead"]),
                            ("value_tier", ["high"], ["high", "medium", "low"])):
        high |= b[dim].isin(top)
        rank = {t: i for i, t in enumerate(order)}
        fell = a[dim].astype(object).map(rank) > b[dim].astype(object).map(rank)
        what = what.where(~fell, what + f"{dim}: " + b[dim].astype(str) + " → " + a[dim].astype(str) + "; ")
    entered = a["stage"].astype(str).isin(["decline", "terminated"]) & ~b["stage"].astype(str).isin(
        ["decline", "terminated"])
    what = what.where(~entered, what + "stage: " + b["stage"].astype(str) + " → " + a["stage"].astype(str) + "; ")
    cols = {f"{d}_{w}": t[d].astype(str) for d in ("pyramid", "value_tier", "stage")
            for w, t in (("before", b), ("after", a))}
    cols = {k: cols[k] for d in ("pyramid", "value_tier", "stage") for k in (f"{d}_before", f"{d}_after")}
    cols.update(clv_before=b["clv"], clv_after=a["clv"], p_alive=a["p_alive"], last_purchase=a["last_purchase"],
                what=what.str.rstrip("; "))
    out = pd.DataFrame(cols, index=ids).loc[high & (what != "")]
    return out.sort_values(["clv_before"], ascending=False, kind="stable")


def _ref_change_columns(before, after, flows):
    out = pd.DataFrame(index=after.index)
    moved = pd.Series(False, index=after.index)
    known = after.index.isin(before.index)
    for dim in ("segment", "value_tier", "pyramid", "stage", "activity"):
        prev = before[dim].astype(object).astype(str).reindex(after.index)
        out[f"previous_{dim}"] = prev.fillna("").astype("str")
        if dim != "activity":
            moved |= known & (prev != after[dim].astype(object).astype(str)).to_numpy()
    out["moved"] = moved.astype(bool)
    out["change"] = flows["status"].reindex(after.index).astype("str")
    return out


def _random_book(seed: int, shuffle: bool = False):
    """Two customer tables with text ids that differ only by leading zeros, customers only in one table,
    categorical and plain-text labels, labels outside the known orders, and tied CLVs."""
    from clm_utils.lifecycle import STAGES
    from clm_utils.rfm import ACTIVITY_CLASSES, PYRAMID_TIERS, SEGMENTS, VALUE_TIERS

    rng = np.random.default_rng(seed)
    pool = {"007", "0070", "70", "7", "0", "00", "k03c0004711", "K03c0004711", "é1"}
    pool |= {f"{k:0{w}d}" for k, w in zip(rng.integers(0, 900, 400), rng.integers(1, 5, 400))}
    pool = np.array(sorted(pool), dtype=object)
    side = rng.choice(3, len(pool), p=[0.15, 0.15, 0.7])  # 0: earlier only, 1: later only, 2: both
    must = {"007": 2, "0070": 0, "70": 1}  # the look-alikes: one in both tables, one gone, one new
    side = np.array([must.get(i, s) for i, s in zip(pool, side)])

    def table(ids, stage_categorical, segment_categorical):
        n = len(ids)

        def pick(labels, extra):
            return rng.choice([*labels, *extra], n)

        t = pd.DataFrame({
            "segment": pick(SEGMENTS, ["Mystery"]), "value_tier": pick(VALUE_TIERS, []),
            "pyramid": pick(PYRAMID_TIERS, ["tin"]), "activity": pick(ACTIVITY_CLASSES, []),
            "stage": pick(STAGES, []), "clv": rng.choice([10.0, 20.0, 30.0, 40.0], n),
            "revenue": rng.gamma(1.0, 50.0, n), "p_alive": rng.random(n), "frequency": rng.integers(0, 5, n),
            "last_purchase": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, n), unit="D")},
            index=pd.Index(pd.array(ids, dtype="str"), name="customer_id"))
        for col in ("segment", "value_tier", "pyramid", "activity"):
            t[col] = t[col].astype("str")
        if stage_categorical:
            t["stage"] = pd.Categorical(t["stage"], categories=list(STAGES), ordered=True)
        if segment_categorical:  # unused categories, one of them outside the order
            t["segment"] = pd.Categorical(t["segment"], categories=[*SEGMENTS, "Mystery", "Unused"])
        return t.iloc[rng.permutation(n)] if shuffle else t

    before = table(pool[side != 1], True, True)
    after = table(pool[side != 0], False, False)
    cust = rng.choice(pool, 300)
    tx = pd.DataFrame({"customer_id": pd.array(cust, dtype="str"),
                       "date": pd.Timestamp("2024-05-01") + pd.to_timedelta(rng.integers(0, 120, 300), unit="D"),
                       "amount": rng.gamma(2.0, 20.0, 300)})
    return before, after, tx


@pytest.mark.parametrize("seed,shuffle", [(1, False), (2, False), (3, True)])
def test_change_tables_equal_the_plain_pandas_versions(seed, shuffle):
    from clm_utils.periodic.migration import Alignment

    before, after, tx = _random_book(seed, shuffle)
    assert {"007", "0070"} <= set(before.index) and {"007", "70"} <= set(after.index)
    assert "0070" not in set(after.index) and "70" not in set(before.index)
    alignment = Alignment(before.index, after.index)
    for dim in periodic.DIMENSIONS:
        expected = _ref_migration_matrix(before[dim], after[dim], periodic.DIMENSIONS[dim])
        for got in (periodic.migration_matrix(before[dim], after[dim], periodic.DIMENSIONS[dim]),
                    periodic.migration_matrix(before[dim], after[dim], periodic.DIMENSIONS[dim], alignment=alignment)):
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
            assert got.index.dtype == expected.index.dtype and got.columns.dtype == expected.columns.dtype
    assert "Mystery" in _ref_migration_matrix(before["segment"], after["segment"], ()).index  # outside the order
    d1, d2 = "2024-06-30", "2024-08-31"
    flows = periodic.customer_flows(before, after, tx, d1, d2, alignment=alignment)
    expected = _ref_flows(before, after, tx, d1, d2)
    pd.testing.assert_frame_equal(flows, expected, check_exact=True)
    assert set(flows["status"]) == set(periodic.FLOW_STATUSES) and flows.index.is_monotonic_increasing
    assert flows.attrs == {"lapsed_by": "activity"}
    expected = _ref_movers(before, after)
    assert len(expected) > 10 and expected["clv_before"].duplicated().any()  # ties keep the earlier table's order
    for top_n in (5, 10_000, 0):
        got = periodic.movers(before, after, top_n)
        pd.testing.assert_frame_equal(got, expected.head(top_n), check_exact=True)
        assert got.attrs == {"n": len(expected)}
    pd.testing.assert_frame_equal(periodic.change_columns(before, after, flows, alignment=alignment),
                                  _ref_change_columns(before, after, flows), check_exact=True)
    pd.testing.assert_frame_equal(periodic.change_columns(before, after, flows.iloc[::-1]),
                                  _ref_change_columns(before, after, flows), check_exact=True)


def test_change_tables_with_nobody_moving_or_gone():
    before, after, tx = _random_book(4)
    after = before.copy()  # the same customers, the same labels
    assert (periodic.migration_matrix(before["stage"], after["stage"])["gone"] == 0).all()
    pd.testing.assert_frame_equal(periodic.migration_matrix(before["stage"], after["stage"], ("exploration",)),
                                  _ref_migration_matrix(before["stage"], after["stage"], ("exploration",)))
    got = periodic.movers(before, after, 5)
    pd.testing.assert_frame_equal(got, _ref_movers(before, after).head(5), check_exact=True)
    assert got.empty and got.attrs == {"n": 0}
    pd.testing.assert_frame_equal(periodic.customer_flows(before, after.iloc[:0], tx, "2024-06-30", "2024-08-31"),
                                  _ref_flows(before, after.iloc[:0], tx, "2024-06-30", "2024-08-31"), check_exact=True)
    # every earlier customer still there (the usual case: the later table holds every customer): new ones only
    known = before.iloc[::2]
    flows = periodic.customer_flows(known, after, tx, "2024-06-30", "2024-08-31")
    pd.testing.assert_frame_equal(flows, _ref_flows(known, after, tx, "2024-06-30", "2024-08-31"), check_exact=True)
    assert (flows["status"] == "new").sum() == len(after) - len(known) > 0
    pd.testing.assert_frame_equal(periodic.change_columns(known, after, flows),
                                  _ref_change_columns(known, after, flows), check_exact=True)
    pd.testing.assert_frame_equal(periodic.migration_matrix(known["segment"], after["segment"]),
                                  _ref_migration_matrix(known["segment"], after["segment"], ()), check_exact=True)


def test_change_tables_refuse_repeated_ids_and_missing_labels():
    from clm_utils.errors import DataError

    before, after, _ = _random_book(5)
    with pytest.raises(DataError, match="repeat"):
        periodic.migration_matrix(before["stage"].iloc[[0, 0, 1]], after["stage"])
    with pytest.raises(ValueError, match="no label"):
        periodic.migration_matrix(before["pyramid"].where(before["pyramid"] != "gold"), after["pyramid"])
    with pytest.raises(ValueError, match="other customer tables"):
        periodic.migration_matrix(before["stage"], after["stage"],
                                  alignment=periodic.migration.Alignment(after.index, before.index))


def test_change_caches_the_alignment_matrices_and_the_retention_list():
    from types import SimpleNamespace

    before, after, tx = _random_book(6)
    runs = [SimpleNamespace(customers=t, transactions=tx, observation_end=pd.Timestamp(d), incomplete={})
            for t, d in ((before, "2024-06-30"), (after, "2024-08-31"))]
    change = periodic.Change(*runs)
    m = change.migration("pyramid")
    m.iloc[0, 0] = -1  # a caller's edit does not reach the cache
    pd.testing.assert_frame_equal(change.migration("pyramid"),
                                  _ref_migration_matrix(before["pyramid"], after["pyramid"], periodic.DIMENSIONS["pyramid"]))
    assert set(change._matrices) == {"pyramid"} and change.alignment is change.alignment
    expected = _ref_movers(before, after)
    for top_n in (3, 0, 10_000):
        got = change.movers(top_n)
        pd.testing.assert_frame_equal(got, expected.head(top_n), check_exact=True)
        assert got.attrs == {"n": len(expected)}
    pd.testing.assert_frame_equal(change.flows, _ref_flows(before, after, tx, "2024-06-30", "2024-08-31"))
    pd.testing.assert_frame_equal(change.change_columns(), _ref_change_columns(before, after, change.flows))
