"""Survival data from transactions, and the analyses notebook 05 runs on them.

Expected values are worked out by hand in each test from the stated definitions (durations,
censoring, landmark follow-up, the Kaplan-Meier product limit on small examples), from a closed
form (an exponential survival curve), or from published values (Fader & Hardie 2007 for sBG).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils import survival as sv
from clm_utils.errors import DataError, ModelError, ParameterError
from clm_utils.survival import (
    churn_durations,
    cox_ph,
    inactivity_sensitivity,
    kaplan_meier,
    landmark_durations,
    logrank_test,
)


def _tx(rows):
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).assign(date=lambda d: pd.to_datetime(d["date"]))


def test_churn_durations_definition_and_censoring():
    tx = _tx([
        ("a", "2020-01-01", 10), ("a", "2020-02-01", 5), ("a", "2020-02-01", 5),  # same day merged
        ("b", "2020-01-01", 20), ("b", "2020-12-20", 20),  # recent: censored
        ("c", "2020-06-01", 7),  # one-time buyer, long ago: churned at duration 0
        ("d", "2021-03-01", 9),  # after as_of: ignored
    ])
    d = churn_durations(tx, "2020-12-31", inactivity=90, time_unit="D")
    assert list(d.index) == ["a", "b", "c"]
    assert d.loc["a", "event"] == 1 and d.loc["a", "duration"] == 31 and d.loc["a", "n_purchase_days"] == 2
    assert d.loc["a", "first_amount"] == 10 and d.loc["a", "total_amount"] == 20
    assert d.loc["b", "event"] == 0 and d.loc["b", "duration"] == (pd.Timestamp("2020-12-20") - pd.Timestamp("2020-01-01")).days
    assert d.loc["c", "event"] == 1 and d.loc["c", "duration"] == 0
    dec = churn_durations(tx, "2020-12-31", inactivity="90D", time_unit="D", churn_time="declared")
    assert dec.loc["a", "duration"] == 31 + 90
    assert dec.loc["b", "duration"] == 365  # censored at as_of
    w = churn_durations(tx, "2020-12-31", inactivity=90 / 7, time_unit="W")
    assert w.loc["a", "duration"] == pytest.approx(31 / 7)


def test_churn_durations_errors():
    tx = _tx([("a", "2020-01-01", 1)])
    with pytest.raises(ParameterError):
        churn_durations(tx, "2020-12-31", inactivity=0)
    with pytest.raises(DataError):
        churn_durations(tx, "2019-12-31", inactivity=4)
    with pytest.raises(DataError):
        churn_durations(tx.drop(columns="amount"), "2020-12-31")


def test_landmark_durations():
    tx = _tx([("a", "2020-01-01", 1), ("a", "2020-05-01", 1), ("b", "2020-04-01", 1), ("b", "2020-11-15", 1),
              ("c", "2019-01-01", 1)])
    d = landmark_durations(tx, "2020-05-15", "2020-12-31", inactivity=60, time_unit="D")
    assert "c" not in d.index  # already silent at the landmark
    assert d.loc["a", "event"] == 1 and d.loc["a", "duration"] == (pd.Timestamp("2020-06-30") - pd.Timestamp("2020-05-15")).days
    assert d.loc["b", "event"] == 0 and d.loc["b", "duration"] == (pd.Timestamp("2020-12-31") - pd.Timestamp("2020-05-15")).days


def test_cdnow_durations_and_km_scale(cdnow_master):
    d = churn_durations(cdnow_master, None, inactivity=26)
    assert len(d) == 23570 and set(d["event"].unique()) <= {0, 1}
    km = kaplan_meier(d["duration"], d["event"])
    s = km.survival_function_["survival"].to_numpy()
    assert np.all(np.diff(s) <= 1e-15) and 0 < s[-1] < 1
    sens = inactivity_sensitivity(cdnow_master, None, [13, 26, 52])
    assert sens["share_churned"].is_monotonic_decreasing  # longer window -> fewer churned


def _many(rows):
    return _tx([(c, d, 10.0) for c, d in rows])


def test_everyone_churned():
    tx = _many([("a", "2020-01-01"), ("a", "2020-02-01"), ("b", "2020-01-15"), ("c", "2020-03-01")])
    d = churn_durations(tx, "2021-01-01", inactivity=30, time_unit="D")
    assert d["event"].tolist() == [1, 1, 1]
    km = kaplan_meier(d["duration"], d["event"])
    # two one-time buyers churn at 0, the third customer at day 31
    assert km.predict([0]).iloc[0] == pytest.approx(1 / 3) and km.predict([31]).iloc[0] == 0
    assert km.median_ == 0


def test_nobody_churned():
    tx = _many([("a", "2020-12-01"), ("a", "2020-12-20"), ("b", "2020-12-30")])
    d = churn_durations(tx, "2021-01-01", inactivity=30, time_unit="D")
    assert d["event"].sum() == 0
    km = kaplan_meier(d["duration"], d["event"])
    assert (km.survival_function_["survival"] == 1).all() and np.isinf(km.median_)
    assert np.isinf(km.median_ci_[0]) and np.isinf(km.median_ci_[1])
    with pytest.raises(ModelError):
        logrank_test(d["duration"], d["event"], ["x", "y"])
    with pytest.raises(ModelError):
        cox_ph(d.assign(x=[1.0, 2.0]), "duration", "event", ["x"])


def test_single_customer():
    tx = _many([("only", "2020-01-01"), ("only", "2020-03-01")])
    d = churn_durations(tx, "2021-01-01", inactivity=30, time_unit="D")
    assert len(d) == 1 and d.loc["only", "event"] == 1 and d.loc["only", "duration"] == 60
    km = kaplan_meier(d["duration"], d["event"])
    assert km.median_ == 60 and km.n_ == 1
    censored = churn_durations(tx, "2020-03-10", inactivity=30, time_unit="D")
    assert censored.loc["only", "event"] == 0
    assert np.isinf(kaplan_meier(censored["duration"], censored["event"]).median_)


def test_sbg_cohorts_reproduce_fader_hardie_2007():
    # Fader & Hardie (2007), fitted to years 0-7: regular alpha 0.704, beta 1.182; high end 0.668, 3.806
    from clm_utils.clv import fader_hardie_2007_example

    table, fits = sv.sbg_cohorts(fader_hardie_2007_example(), fit_periods=7)
    assert table.loc[:, ["alpha", "beta"]].round(3).to_numpy().tolist() == [[0.704, 1.182], [0.668, 3.806]]
    assert set(fits) == set(table.index)


def test_same_day_purchases_at_different_times_are_one_purchase_day():
    tx = _tx([("a", "2020-01-01 09:00", 10), ("a", "2020-01-01 17:30", 5), ("a", "2020-01-11 08:00", 1)])
    d = churn_durations(tx, "2020-12-31", inactivity=30, time_unit="D")
    assert d.loc["a", "n_purchase_days"] == 2 and d.loc["a", "first_amount"] == 15
    assert d.loc["a", "duration"] == 10 and d.loc["a", "gap"] == (pd.Timestamp("2020-12-31") - pd.Timestamp("2020-01-11")).days


def test_km_by_window_labels_and_matches_single_fits():
    tx = _many([("a", "2020-01-01"), ("a", "2020-03-01"), ("b", "2020-01-15"), ("b", "2020-11-01"),
                ("c", "2020-06-01")])
    fits = sv.km_by_window(tx, "2020-12-31", [30, 90], time_unit="D", unit_name="days")
    assert list(fits) == ["30 days", "90 days"]
    # by hand, 30-day window: durations a 60 (churned), b 291 (censored), c 0 (churned) -> S(0) = 2/3, S(60) = 1/3
    assert fits["30 days"].predict([0, 60]).tolist() == pytest.approx([2 / 3, 1 / 3])


# ------------------------------------------------------------------ Cox covariates (early-period landmark)
def test_early_period_cox_data_by_hand():
    tx = _tx([
        ("a", "2020-01-01", 10), ("a", "2020-01-20", 5), ("a", "2020-01-25", 5), ("a", "2020-06-01", 5),
        ("b", "2020-01-01", 0.5), ("b", "2020-05-01", 9),  # no repeat in the first 30 days
        ("c", "2020-01-01", 3), ("c", "2020-01-10", 3),    # relationship shorter than the early period + ...
        ("d", "2020-02-01", 7),                            # one-time buyer: duration 0, left out
    ])
    dur = churn_durations(tx, "2020-12-31", inactivity=60, time_unit="D")
    cd = sv.early_period_cox_data(tx, dur, early_period="30D", time_unit="D")
    assert list(cd.index) == ["a", "b"]  # c (9 days) and d (0 days) did not outlast the early period
    assert cd.loc["a", "early_repeats"] == 2 and cd.loc["b", "early_repeats"] == 0
    assert cd.loc["a", "duration"] == (pd.Timestamp("2020-06-01") - pd.Timestamp("2020-01-01")).days - 30
    assert cd.loc["b", "log_first_amount"] == pytest.approx(np.log(1.5))
    assert cd.loc["a", "event"] == 1 and cd.loc["a", "cohort"] == "2020-01"
    assert sv.varying_covariates(cd, ["log_first_amount", "early_repeats", "cohort", "nope"]) == [
        "log_first_amount", "early_repeats"]
    with pytest.raises(DataError):
        sv.early_period_cox_data(tx, dur.drop(columns="cohort"), 30, "D")


# ------------------------------------------------------------------ model-implied survival
class _Exponential:
    """A stand-in fitted model with S(t) = exp(-t / 10) (closed form)."""

    def survival_function(self, t):
        return np.exp(-np.asarray(t, dtype=float) / 10)


class _Unidentified:
    def fit(self, summary):
        raise ModelError("the data cannot identify the model")


def test_model_implied_survival_and_table_against_closed_form():
    grid = np.linspace(0, 30, 61)
    curves, notes = sv.model_implied_survival(pd.DataFrame(), grid, {"exp": _Exponential(), "bad": _Unidentified})
    assert list(curves.columns) == ["exp"] and notes == ["bad cannot be fitted on this data (the data cannot identify the model)"]
    np.testing.assert_allclose(curves["exp"], np.exp(-grid / 10), rtol=1e-15)
    km = kaplan_meier([2.0, 4.0, 6.0, 8.0], [1, 1, 0, 1])
    table = sv.model_vs_km_table(km, curves, [0, 3, 5, 9, 50])
    assert table.index.tolist() == [0, 3, 5]  # beyond the last KM time (8) is left out
    # KM by hand: S(3) = 3/4, S(5) = 3/4 * 2/3 = 1/2
    assert table["Kaplan-Meier"].tolist() == pytest.approx([1.0, 0.75, 0.5])
    # grid step 0.5: 3 and 5 are grid points, so the interpolated curve is exact
    np.testing.assert_allclose(table["exp"], np.exp(-np.array([0, 3, 5]) / 10), rtol=1e-12)
    ax = sv.plot_model_vs_km(km, curves)
    assert ax.get_ylabel() == "share alive / not churned"


def test_model_implied_survival_fits_model_classes(cdnow_sample):
    from clm_utils.clv import BetaGeo
    from clm_utils.summary import summarize

    summary = summarize(cdnow_sample, None, "W")
    curves, notes = sv.model_implied_survival(summary, [0.0, 26.0, 52.0], {"BG/NBD": BetaGeo})
    ref = BetaGeo().fit(summary)
    assert notes == [] and curves["BG/NBD"].iloc[0] == pytest.approx(1.0)
    assert curves["BG/NBD"].is_monotonic_decreasing
    np.testing.assert_allclose(curves["BG/NBD"], ref.survival_function(np.array([0.0, 26.0, 52.0])))


# ------------------------------------------------------------------ churn by stage at a landmark
def _stage_data(n_per_stage: int = 40):
    """Customers in two stages active at the 2020-07-01 landmark: stage 'x' stops buying right after,
    stage 'y' keeps buying; plus 3 customers of a rare stage 'z'."""
    rows, stages = [], {}
    for i in range(n_per_stage):
        rows += [(f"x{i:02d}", "2020-06-01", 10.0)]
        stages[f"x{i:02d}"] = "x"
        rows += [(f"y{i:02d}", "2020-06-15", 20.0), (f"y{i:02d}", "2020-12-20", 20.0)]
        stages[f"y{i:02d}"] = "y"
    for i in range(3):
        rows += [(f"z{i}", "2020-06-20", 5.0)]
        stages[f"z{i}"] = "z"
    cat = pd.CategoricalDtype(["x", "y", "z"], ordered=True)
    return _tx(rows), pd.Series(stages, dtype=cat)


def test_stage_churn_by_hand():
    tx, stages = _stage_data()
    res = sv.stage_churn(tx, "2020-12-31", landmark_offset="183D", inactivity=60, time_unit="D", min_group_size=30,
                         stages=stages)
    assert res.landmark == pd.Timestamp("2020-07-01") and res.horizon == 183
    assert res.dropped == 3 and set(res.data["stage"].cat.categories) == {"x", "y"}
    # x: last purchase 2020-06-01, churn declared 60 days later = 2020-07-31, 30 days after the landmark
    assert (res.data.loc[res.data["stage"] == "x", "duration"] == 30).all()
    assert (res.data.loc[res.data["stage"] == "y", "event"] == 0).all()  # bought again in December: censored
    assert res.fits["x"].median_ == 30 and np.isinf(res.fits["y"].median_)
    direct = logrank_test(res.data["duration"], res.data["event"], res.data["stage"].astype(str))
    assert res.logrank.statistic == pytest.approx(direct.statistic)
    assert res.cox is None and res.note.startswith("no test possible")  # stage separates churners: no finite HR

    table = sv.stage_strategy(res, tx, margin=0.5, unit_name="days", currency="EUR",
                              strategy=pd.DataFrame({"stage_zh": ["X", "Y", "Z"], "strategy": ["a", "b", "c"]},
                                                    index=pd.Index(["x", "y", "z"], name="stage")))
    assert table.columns.tolist() == ["stage_zh", "median time to churn (days)", "churned within 183 days",
                                      "margin to date of these customers (EUR)", "strategy"]
    assert table["median time to churn (days)"].tolist() == ["30.0", "not reached", "no customers"]
    assert table.loc["x", "churned within 183 days"] == 1.0 and table.loc["y", "churned within 183 days"] == 0.0
    # margin x spend up to the landmark: 40 x 10 x 0.5 and 40 x 20 x 0.5; the rare stage is left out
    assert table.loc["x", "margin to date of these customers (EUR)"] == 200.0
    assert table.loc["y", "margin to date of these customers (EUR)"] == 400.0
    assert table.loc["z", "margin to date of these customers (EUR)"] == 0.0


def test_stage_churn_too_few_stages_and_early_landmark():
    tx, stages = _stage_data(n_per_stage=10)
    res = sv.stage_churn(tx, "2020-12-31", "183D", 60, "D", min_group_size=30, stages=stages)
    assert res.fits == {} and res.note.startswith("fewer than two stages")
    assert sv.stage_strategy(res, tx, strategy=pd.DataFrame({"stage_zh": ["X"], "strategy": ["a"]},
                                                           index=pd.Index(["x"], name="stage"))).shape == (1, 4)
    early = sv.stage_churn(tx, "2020-12-31", "400D", 60, "D", stages=stages)
    assert early.data.empty and early.fits == {} and "before the first transaction" in early.note
    assert (sv.stage_strategy(early, tx, strategy=pd.DataFrame({"stage_zh": ["X"], "strategy": ["a"]},
                                                              index=pd.Index(["x"], name="stage")))
            .iloc[0, 1] == "no customers")


def test_churn_overview_by_hand():
    tx = _many([("a", "2020-01-01"), ("a", "2020-02-01"), ("b", "2020-01-15"), ("c", "2020-03-01"),
                ("d", "2020-12-01"), ("d", "2020-12-20")])
    d = churn_durations(tx, "2021-01-01", inactivity=30, time_unit="D")
    o = sv.churn_overview(d)
    assert o.index.tolist() == ["all", "repeat buyers"]
    assert o.loc["all", ["n", "churned", "censored"]].tolist() == [4, 3, 1]
    assert o.loc["all", "one_time_share_of_churned"] == pytest.approx(2 / 3)
    # KM by hand, all: S = 2/4 exactly from 0 until the next drop at 31 (d's censoring at 19 does not
    # change S); R's quantile.survfit removes flat portions and takes the midpoint: (0 + 31) / 2
    assert o.loc["all", "median"] == 15.5
    assert o.loc["repeat buyers", "n"] == 2 and o.loc["repeat buyers", "median"] == 31


def test_group_comparison_plots_and_median_summary():
    rng = np.random.default_rng(5)
    n = 200
    idx = pd.Index([f"c{i}" for i in range(n)], name="customer_id")
    grp = pd.Series(np.where(np.arange(n) < 100, "a", "b"), index=idx)
    dur = pd.DataFrame({"duration": rng.exponential(10, n), "event": 1}, index=idx)
    comp = sv.compare_groups(dur, {"ab": grp}, min_group_size=30)
    axes = comp.plot(time_label="days", at_risk_counts=False)
    assert len(axes) == 1 and axes[0].get_title() == "Kaplan-Meier by ab"
    ms = comp.median_summary()
    assert ms.index.names == ["grouping", "group"] and ms.loc[("ab", "a"), "n"] == 100
