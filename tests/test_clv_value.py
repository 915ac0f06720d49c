"""Discounted CLV (unit handling, discounting, intervals), the value matrix, and the validation helpers.

References are independent of the code under test: fine-grid integrals and closed forms computed
here, the delta method, and simulation with known latent truth (clm_utils.synth, itself checked
against closed forms in test_synth.py).  Coverage of the intervals: test_clv_coverage.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils import clv
from clm_utils.clv import BetaGeo, GammaGamma, ParetoNBD, customer_lifetime_value
from clm_utils.clv.value import (
    _DiscountedPurchases,
    clv_interval,
    customer_clv_interval,
)
from clm_utils.errors import ModelError, ParameterError
from clm_utils.synth import simulate_bgnbd, simulate_paretonbd


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


def test_clv_interval_estimate_rows_and_determinism(fitted, cdnow_sample_cal: pd.DataFrame) -> None:
    bg, gg = fitted
    s = cdnow_sample_cal
    args = {"horizon": "12M", "discount_rate": 0.1, "time_unit": "W", "margin": 0.3}
    point = customer_lifetime_value(bg, gg, s, **args)["clv"]
    seg = pd.Series(np.where(s["frequency"] > 0, "repeat", "one-off"), index=s.index)
    iv = clv_interval(bg, gg, s, seg, n_draws=300, seed=3, **args)
    assert list(iv.index) == ["total", "one-off", "repeat"]
    assert iv.loc["total", "customers"] == len(s)
    assert iv.loc["total", "clv_total"] == pytest.approx(point.sum(), rel=1e-12)
    assert iv.loc["repeat", "clv_total"] == pytest.approx(point[seg == "repeat"].sum(), rel=1e-12)
    assert iv.loc["one-off", "clv_mean"] == pytest.approx(point[seg == "one-off"].mean(), rel=1e-12)
    assert ((iv["clv_total_lower"] < iv["clv_total"]) & (iv["clv_total"] < iv["clv_total_upper"])).all()
    pd.testing.assert_frame_equal(iv, clv_interval(bg, gg, s, seg, n_draws=300, seed=3, **args))
    assert not iv.equals(clv_interval(bg, gg, s, seg, n_draws=300, seed=4, **args))
    # per customer: same estimate, intervals around it
    pc = customer_clv_interval(bg, gg, s, n_draws=300, seed=3, **args)
    np.testing.assert_allclose(pc["clv"], point, rtol=1e-12)
    assert (pc["clv_lower"] <= pc["clv_upper"]).all()
    inside = ((pc["clv_lower"] <= pc["clv"]) & (pc["clv"] <= pc["clv_upper"])).mean()
    assert inside > 0.99
    # the compatibility wrapper returns the total row
    old = clv.clv_parameter_interval(bg, gg, s, n_draws=300, seed=3, **args)
    assert old["lower"] == pytest.approx(iv.loc["total", "clv_total_lower"], rel=1e-12) and old["draws"] == 300


def test_clv_interval_spread_matches_the_delta_method(fitted, cdnow_sample_cal: pd.DataFrame) -> None:
    """Independent reference: the delta-method standard deviation of the CLV total, sqrt(g' V g), with g
    the gradient of the total in the log-parameters of both models (central differences of
    customer_lifetime_value) and V the block-diagonal covariance of the log-parameters."""
    bg, gg = fitted
    s = cdnow_sample_cal
    args = {"horizon": 52, "discount_rate": 0.1, "time_unit": "W", "margin": 1.0}

    def total(theta_bg: np.ndarray, theta_gg: np.ndarray) -> float:
        m = BetaGeo().set_params(**dict(zip(bg.params_.index, theta_bg, strict=True)))
        g = GammaGamma().set_params(**dict(zip(gg.params_.index, theta_gg, strict=True)))
        return float(customer_lifetime_value(m, g, s, **args)["clv"].sum())

    tb, tg = bg.params_.to_numpy(), gg.params_.to_numpy()
    lt = np.log(np.r_[tb, tg])
    h = 1e-4
    grad = np.empty(lt.size)
    for i in range(lt.size):
        e = np.zeros(lt.size)
        e[i] = h
        up, dn = np.exp(lt + e), np.exp(lt - e)
        grad[i] = (total(up[:4], up[4:]) - total(dn[:4], dn[4:])) / (2 * h)
    cov = np.zeros((7, 7))
    cov[:4, :4] = bg.covariance_.to_numpy() / np.outer(tb, tb)  # covariance of the log-parameters
    cov[4:, 4:] = gg.covariance_.to_numpy() / np.outer(tg, tg)
    delta_sd = float(np.sqrt(grad @ cov @ grad))
    iv = clv_interval(bg, gg, s, n_draws=2000, seed=1, **args).loc["total"]
    # Monte Carlo error of an SD from 2,000 draws ~1.6%; the rest is the curvature of CLV in the parameters
    assert iv["clv_total_sd"] == pytest.approx(delta_sd, rel=0.08)
    half = (iv["clv_total_upper"] - iv["clv_total_lower"]) / 2
    assert half == pytest.approx(1.96 * delta_sd, rel=0.12)


@pytest.mark.parametrize("model_class", [BetaGeo, ParetoNBD])
def test_draw_discounting_matches_a_fine_grid(model_class, cdnow_sample_cal: pd.DataFrame) -> None:
    """The Gauss-Legendre discounting used for the draws against int_0^H (1+d)^(-t/52.18) dE(t) on a
    4,000-step grid computed here."""
    s = cdnow_sample_cal.iloc[:300]
    m = model_class().fit(cdnow_sample_cal)
    H, d = 104.0, 0.15
    dp = _DiscountedPurchases(m, s, H, d, 7.0)
    assert dp.factorised
    got = dp(m)[dp.inverse]
    grid = np.linspace(0, H, 4001)
    E = np.column_stack([m.conditional_expected_number_of_purchases_up_to_time(t, s).to_numpy() for t in grid])
    disc = (1 + d) ** (-(grid[1:] + grid[:-1]) / 2 * 7 / 365.25)
    np.testing.assert_allclose(got, np.diff(E, axis=1) @ disc, rtol=1e-6)


def test_generic_model_path_equals_customer_lifetime_value(fitted, cdnow_sample_cal: pd.DataFrame) -> None:
    """A transaction model outside the BTYD class family is evaluated at the grid of customer_lifetime_value."""
    bg, _ = fitted
    s = cdnow_sample_cal.iloc[:200]

    class Wrapped:
        def conditional_expected_number_of_purchases_up_to_time(self, t, summary):
            return bg.conditional_expected_number_of_purchases_up_to_time(t, summary)

    dp = _DiscountedPurchases(Wrapped(), s, 30.0, 0.2, 7.0)
    assert not dp.factorised
    ref = customer_lifetime_value(bg, 1.0, s, horizon=30, discount_rate=0.2, time_unit="W")["discounted_purchases"]
    np.testing.assert_allclose(dp(Wrapped())[dp.inverse], ref, rtol=1e-12)


@pytest.mark.parametrize("model", ["BG/NBD", "Pareto/NBD"])
def test_clv_matches_the_latent_truth_of_simulated_customers(model: str) -> None:
    """Simulation with known truth.  For each simulated customer the latent rates are known, so the
    expected discounted value given the latents is a closed form: alive at T, purchases at rate
    lambda while alive, alive after t more with probability exp(-lambda p t) (BG/NBD: dropout after
    each purchase) or exp(-mu t) (Pareto/NBD); spend p/nu per purchase; with kappa = ln(1+d)/52.18
    a week, E = 1[alive] (p/nu) lambda (1 - exp(-(h + kappa) H)) / (h + kappa), h the hazard.  Its
    average over customers must equal the average of the model's CLV given each history under the
    true parameters (tower property), within 4 Monte Carlo standard errors."""
    n, H, d = 100_000, 52.0, 0.10
    spend = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    T = np.random.default_rng(1).integers(26 * 7, 52 * 7 + 1, n) / 7.0
    if model == "BG/NBD":
        truth = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        sim = simulate_bgnbd(n, T=T, seed=21, **truth, **spend)
        m = BetaGeo().set_params(**truth)
        hazard = sim["lambda_"] * sim["p_"]
    else:
        truth = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
        sim = simulate_paretonbd(n, T=T, seed=22, **truth, **spend)
        m = ParetoNBD().set_params(**truth)
        hazard = sim["mu_"]
    kappa = np.log1p(d) * 7 / 365.25
    rate = hazard + kappa
    latent = sim["alive_"] * spend["p"] / sim["nu_"] * sim["lambda_"] * -np.expm1(-rate * H) / rate
    model_clv = customer_lifetime_value(m, GammaGamma().set_params(**spend), sim, horizon=H, discount_rate=d,
                                        time_unit="W")["clv"]
    diff = (latent - model_clv).to_numpy()
    assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(n), (latent.mean(), model_clv.mean())


def test_clv_interval_errors(fitted, cdnow_sample_cal: pd.DataFrame) -> None:
    bg, gg = fitted
    s = cdnow_sample_cal
    with pytest.raises(ParameterError):
        clv_interval(bg, gg, s, n_draws=50)
    with pytest.raises(ModelError):  # parameters set by hand have no covariance to draw from
        clv_interval(BetaGeo().set_params(r=0.24, alpha=4.4, a=0.79, b=2.4), gg, s, n_draws=100)
    # a spend given as a number is taken as known: the interval is the purchase model's alone
    fixed = clv_interval(bg, 30.0, s, n_draws=200, seed=1)
    assert fixed.loc["total", "clv_total_lower"] < fixed.loc["total", "clv_total"] < fixed.loc["total", "clv_total_upper"]


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
