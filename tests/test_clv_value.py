"""Discounted CLV (unit handling, discounting, bootstrap), the value matrix, and the validation helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils import clv
from clm_utils.clv import BetaGeo, GammaGamma, customer_lifetime_value
from clm_utils.errors import ParameterError


@pytest.fixture(scope="module")
def fitted(cdnow_sample_cal: pd.DataFrame) -> tuple[BetaGeo, GammaGamma]:
    return BetaGeo().fit(cdnow_sample_cal), GammaGamma().fit(cdnow_sample_cal)


def test_horizon_units() -> None:
    assert clv.horizon_in_units("12M", "W") == pytest.approx(365.25 / 7)
    assert clv.horizon_in_units("1Y", "D") == pytest.approx(365.25)
    assert clv.horizon_in_units(52, "W") == 52
    for bad in ("twelve months", -3, 0):
        with pytest.raises(ParameterError):
            clv.horizon_in_units(bad, "W")


def test_undiscounted_clv_is_margin_spend_expected_purchases(fitted, cdnow_sample_cal: pd.DataFrame) -> None:
    bg, gg = fitted
    out = customer_lifetime_value(bg, gg, cdnow_sample_cal, horizon=52, discount_rate=0.0, time_unit="W", margin=0.3)
    e = bg.conditional_expected_number_of_purchases_up_to_time(52, cdnow_sample_cal)
    spend = gg.conditional_expected_average_profit(cdnow_sample_cal)
    np.testing.assert_allclose(out["clv"], 0.3 * spend * e, rtol=1e-10)
    np.testing.assert_allclose(out["expected_purchases"], e, rtol=1e-10)


def test_discounting_equals_fine_grid_integral(fitted, cdnow_sample_cal: pd.DataFrame) -> None:
    """Independent check: int_0^H (1+d)^(-t/52.18) dE[Y(t)] on a very fine grid (trapezoid in E)."""
    bg, gg = fitted
    s = cdnow_sample_cal.iloc[:50]
    H, d = 104.0, 0.15
    out = customer_lifetime_value(bg, gg, s, horizon=H, discount_rate=d, time_unit="W", margin=1.0)
    grid = np.linspace(0, H, 4001)
    E = np.column_stack([bg.conditional_expected_number_of_purchases_up_to_time(t, s).to_numpy() for t in grid])
    mid = (grid[1:] + grid[:-1]) / 2
    disc = (1 + d) ** (-mid * 7 / 365.25)
    ref = np.diff(E, axis=1) @ disc * gg.conditional_expected_average_profit(s).to_numpy()
    np.testing.assert_allclose(out["clv"], ref, rtol=2e-4)


def test_clv_does_not_depend_on_the_time_unit(fitted, cdnow_sample_cal: pd.DataFrame) -> None:
    """The same customers and model expressed in days instead of weeks give the same CLV."""
    bg, gg = fitted
    s = cdnow_sample_cal.iloc[:200]
    weeks = customer_lifetime_value(bg, gg, s, horizon="12M", discount_rate=0.10, time_unit="W", margin=0.3)
    s_days = s.assign(recency=s["recency"] * 7, T=s["T"] * 7)
    r, alpha, a, b = bg.params_
    bg_days = BetaGeo().set_params(r=r, alpha=alpha * 7, a=a, b=b)  # rate per day = rate per week / 7
    days = customer_lifetime_value(bg_days, gg, s_days, horizon="12M", discount_rate=0.10, time_unit="D", margin=0.3)
    np.testing.assert_allclose(days["expected_purchases"], weeks["expected_purchases"], rtol=1e-9)
    np.testing.assert_allclose(days["clv"], weeks["clv"], rtol=1e-4)
    # and a 10%/year rate discounts one year by 1/1.1 (not by a 30-day-month approximation)
    flat = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0]})
    m = BetaGeo().set_params(r=1.0, alpha=1.0, a=1e-6, b=1e6)  # ~no dropout, rate 1/week
    one_year = customer_lifetime_value(m, 1.0, flat, horizon="1Y", discount_rate=0.10, time_unit="W")
    E = m.expected_number_of_purchases_up_to_time(365.25 / 7)
    assert one_year["clv"].iloc[0] < E and one_year["clv"].iloc[0] > E / 1.1


def test_bootstrap_is_seeded_and_covers_the_estimate(fitted, cdnow_sample_cal: pd.DataFrame) -> None:
    bg, gg = fitted
    c = customer_lifetime_value(bg, gg, cdnow_sample_cal, horizon="12M", discount_rate=0.1, time_unit="W", margin=0.3)["clv"]
    seg = pd.Series(np.where(cdnow_sample_cal["frequency"] > 0, "repeat", "one-off"), index=c.index)
    b1 = clv.bootstrap_clv(c, seg, n_boot=200, seed=1)
    b2 = clv.bootstrap_clv(c, seg, n_boot=200, seed=1)
    pd.testing.assert_frame_equal(b1, b2)
    assert list(b1.index) == ["total", "mean", "mean: one-off", "mean: repeat"]
    assert ((b1["lower"] < b1["estimate"]) & (b1["estimate"] < b1["upper"])).all()
    # the bootstrap SE of a mean is close to sd/sqrt(n)
    half = (b1.loc["mean", "upper"] - b1.loc["mean", "lower"]) / 2
    assert half == pytest.approx(1.96 * c.std() / np.sqrt(len(c)), rel=0.25)
    with pytest.raises(ParameterError):
        clv.bootstrap_clv(c, n_boot=5)


def test_parameter_interval(fitted, cdnow_sample_cal: pd.DataFrame) -> None:
    bg, gg = fitted
    s = cdnow_sample_cal.iloc[:300]
    total = customer_lifetime_value(bg, gg, s, horizon=26, discount_rate=0.1, time_unit="W")["clv"].sum()
    iv = clv.clv_parameter_interval(bg, gg, s, n_draws=30, seed=3, horizon=26, discount_rate=0.1, time_unit="W")
    assert iv["lower"] < total < iv["upper"]


def test_value_matrix_quadrants() -> None:
    cur = pd.Series([1.0, 2.0, 10.0, 20.0], index=list("abcd"))
    pot = pd.Series([5.0, 50.0, 1.0, 60.0], index=list("abcd"))
    vm = clv.value_matrix(cur, pot)
    assert vm["quadrant"].tolist() == ["low_current_low_potential", "low_current_high_potential",
                                       "high_current_low_potential", "high_current_high_potential"]
    tab = clv.value_matrix_summary(vm)
    assert tab["customers"].sum() == 4 and tab["customer_share"].sum() == pytest.approx(1.0)
    assert tab["potential_share"].sum() == pytest.approx(1.0)
    assert set(tab["quadrant_zh"]) == {"最有价值客户", "潜力客户", "维持型客户", "低价值客户"}
    assert clv.plot_value_matrix(vm).get_xlabel().startswith("current value")


def test_validation_helpers(fitted, cdnow_sample, cdnow_sample_cal: pd.DataFrame) -> None:
    bg, _ = fitted
    td = clv.tracking_data(bg, cdnow_sample, cdnow_sample_cal, "1997-09-30", "1998-06-30", "W")
    # every repeat purchase day of the cohort is counted once: calibration + holdout totals
    total = cdnow_sample_cal["frequency"].sum() + cdnow_sample_cal["frequency_holdout"].sum()
    assert td["actual_cum"].iloc[-1] == total
    # the expected cumulative count at the calibration end equals sum_i E[X(T_i)]
    i = int(np.argmin(np.abs(td["t"] - td.attrs["calibration_t"])))
    assert td["t"].iloc[i] == pytest.approx(td.attrs["calibration_t"], abs=1e-9)
    ex = bg.expected_number_of_purchases_up_to_time(cdnow_sample_cal["T"].to_numpy()).sum()
    assert td["expected_cum"].iloc[i] == pytest.approx(ex, rel=1e-9)
    ce = clv.conditional_expectations(bg, cdnow_sample_cal)
    assert ce["customers"].sum() == len(cdnow_sample_cal)
    fh = clv.frequency_histogram(bg, cdnow_sample_cal)
    assert fh["actual"].sum() == len(cdnow_sample_cal) and fh["expected"].sum() == pytest.approx(len(cdnow_sample_cal))
    pm = clv.p_alive_matrix(bg, cdnow_sample_cal)
    assert (pm[0] == 1.0).all() and pm.to_numpy().max() <= 1
    cmp = clv.compare_models({"BG/NBD": bg}, cdnow_sample_cal)
    assert cmp.loc["BG/NBD", "holdout_actual"] == cdnow_sample_cal["frequency_holdout"].sum()
    for ax in (clv.plot_tracking(td), clv.plot_conditional_expectations(ce), clv.plot_frequency_histogram(fh),
               clv.plot_p_alive_matrix(pm)):
        assert ax.get_title()
