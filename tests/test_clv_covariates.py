"""Pareto/NBD with static covariates: reduction to the plain model, an mpmath reference, recovery and coverage.

References (independent of the code under test):

* with every gamma = 0 the model is the plain Pareto/NBD: its per-customer log-likelihood must equal
  ``clm_utils.clv.ParetoNBD``'s (itself validated against Fader & Hardie's published CDNOW estimates in
  ``tests/test_clv_pareto.py``) to 1e-10;
* the per-customer likelihood with customer-specific alpha_i, beta_i equals the double integral over
  lambda ~ Gamma(r, alpha_i), mu ~ Gamma(s, beta_i) of the individual-level likelihood
  ``lambda^x mu/(lambda+mu) e^{-(lambda+mu) t_x} + lambda^(x+1)/(lambda+mu) e^{-(lambda+mu) T}``
  (Fader & Hardie 2005, eq. 3), computed with mpmath;
* simulation with known parameters: recovery and the coverage of the 95% intervals over many seeds.

CLVTools' published estimates (vignette: apparel data with gender and channel) were not used: the apparel data sets
ship only as R ``.rda`` files and the estimates could not be matched to data we can read here.
"""

from __future__ import annotations

from typing import Any

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from clm_utils.clv import BetaGeo, ParetoNBD
from clm_utils.clv.covariates import (
    BetaGeoCovariates,
    ParetoNBDCovariates,
    bgnbd_loglik_rows,
    covariate_design,
    pnbd_loglik_rows,
    simulate_bgnbd_covariates,
    simulate_pnbd_covariates,
)
from clm_utils.errors import DataError, ModelError


@pytest.mark.parametrize("theta", [(0.553, 10.58, 0.606, 11.67), (0.55, 12.0, 0.6, 8.0), (2.0, 3.0, 0.3, 30.0)])
def test_zero_gammas_reduce_to_plain_pareto_nbd(cdnow_sample_cal: pd.DataFrame, theta: tuple[float, ...]) -> None:
    s = cdnow_sample_cal
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    r, alpha, sh, beta = theta
    ours = pnbd_loglik_rows(r, np.full(x.size, alpha), sh, np.full(x.size, beta), x, tx, T)
    xu, xinv = np.unique(x, return_inverse=True)
    plain = ParetoNBD._ll(np.array(theta), {"x": x, "tx": tx, "T": T, "xu": xu, "xinv": xinv})
    np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-10)


def _mp_loglik(x: int, tx: float, T: float, r: float, alpha: float, s: float, beta: float) -> float:
    mp.mp.dps = 20

    def f(lam: mp.mpf, mu: mp.mpf) -> mp.mpf:
        ind = lam**x * mu / (lam + mu) * mp.e ** (-(lam + mu) * tx) + lam ** (x + 1) / (lam + mu) * mp.e ** (
            -(lam + mu) * T)
        g1 = alpha**r * lam ** (r - 1) * mp.e ** (-alpha * lam) / mp.gamma(r)
        g2 = beta**s * mu ** (s - 1) * mp.e ** (-beta * mu) / mp.gamma(s)
        return ind * g1 * g2

    return float(mp.log(mp.quad(f, [0, mp.inf], [0, mp.inf])))


@pytest.mark.parametrize("row", [(0, 0.0, 30.0, 9.0, 14.0), (3, 20.0, 38.0, 14.0, 6.0), (7, 35.5, 39.0, 4.0, 25.0)])
def test_customer_likelihood_matches_mpmath_double_integral(row: tuple[float, ...]) -> None:
    x, tx, T, alpha, beta = row
    r, s = 1.3, 1.6
    ours = pnbd_loglik_rows(r, np.array([alpha]), s, np.array([beta]), np.array([x]), np.array([tx]),
                            np.array([T]))[0]
    assert ours == pytest.approx(_mp_loglik(int(x), tx, T, r, alpha, s, beta), abs=1e-7)


TRUE = {"r": 0.8, "alpha0": 6.0, "s": 0.7, "beta0": 10.0, "gp": [0.5, -0.4], "gd": [0.4, 0.7]}


def _design(n: int, seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(10_000 + seed)
    z = rng.normal(size=n)
    g = rng.integers(0, 2, n)
    return np.c_[z, g], pd.DataFrame({"z": z, "grp": np.where(g == 1, "b", "a")})


def _simulate(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    Z, cov = _design(n, seed)
    T = np.random.default_rng(20_000 + seed).uniform(26, 52, n)
    sim = simulate_pnbd_covariates(n, TRUE["r"], TRUE["alpha0"], TRUE["s"], TRUE["beta0"], TRUE["gp"], TRUE["gd"],
                                   Z, T, seed=seed)
    cov.index = sim.index
    return sim, cov


def test_fit_api_predictions_and_reduction_of_predictions() -> None:
    sim, cov = _simulate(800, 1)
    model = ParetoNBDCovariates().fit(sim, cov)
    table = model.summary()
    assert list(table.index) == ["r", "alpha0", "s", "beta0", "purchase:z", "purchase:grp=b", "dropout:z",
                                 "dropout:grp=b"]
    assert model.converged_
    assert table.attrs["n"] == 800
    pa = model.conditional_probability_alive(sim, cov)
    assert pa.between(0, 1).all() and pa.index.equals(sim.index)
    # a customer whose covariates are all 0 has alpha0, beta0: predictions equal the plain model's
    zero = pd.DataFrame({"z": [0.0], "grp": ["a"]}, index=["c00000"])
    plain = ParetoNBD().set_params(r=model.params_["r"], alpha=model.params_["alpha0"], s=model.params_["s"],
                                   beta=model.params_["beta0"])
    one = sim.iloc[:1]
    assert model.conditional_probability_alive(one, zero).iloc[0] == pytest.approx(
        plain.conditional_probability_alive(one).iloc[0], abs=1e-12)
    assert model.conditional_expected_number_of_purchases_up_to_time(10.0, one, zero).iloc[0] == pytest.approx(
        plain.conditional_expected_number_of_purchases_up_to_time(10.0, one).iloc[0], rel=1e-10)
    assert model.expected_number_of_purchases_up_to_time(10.0, zero).iloc[0] == pytest.approx(
        plain.expected_number_of_purchases_up_to_time(10.0), rel=1e-10)
    lr = model.lr_test(sim)
    assert lr["df"] == 4 and lr["p_value"] < 0.01  # true effects of this size are found at n = 800


def test_errors() -> None:
    sim, cov = _simulate(300, 2)
    with pytest.raises(DataError, match="have no covariates"):
        ParetoNBDCovariates().fit(sim, cov.iloc[:-3])
    bad = cov.copy()
    bad.loc[bad.index[0], "z"] = np.nan
    with pytest.raises(DataError, match="1 customer"):
        ParetoNBDCovariates().fit(sim, bad)
    with pytest.raises(ModelError, match="do not vary"):
        ParetoNBDCovariates().fit(sim, cov.assign(k=1.0))
    design, levels = covariate_design(cov)
    assert list(design.columns) == ["z", "grp=b"] and levels == {"grp": ["a", "b"]}
    with pytest.raises(DataError, match="not seen"):
        covariate_design(pd.DataFrame({"grp": ["c"]}), levels=levels)


def _check_recovery_and_coverage(model: type, simulate: Any, truth: list[float], dropout_names: list[str],
                                 n_rep: int = 150, n: int = 1000) -> None:
    """Fit ``model`` to ``n_rep`` simulated data sets (seeds 100, 101, ...) with known parameters ``truth``
    (four gammas, then r, alpha0 and the two dropout parameters): coverage of each 95% interval within 3
    Monte Carlo standard errors of 0.95, mean of each gamma within 3 Monte Carlo standard errors of the truth."""
    names = ["purchase:z", "purchase:grp=b", "dropout:z", "dropout:grp=b", "r", "alpha0", *dropout_names]
    true = np.asarray(truth, dtype=float)
    est = np.empty((n_rep, true.size))
    covered = np.zeros((n_rep, true.size), dtype=bool)
    for rep in range(n_rep):
        sim, cov = simulate(n, 100 + rep)
        table = model().fit(sim, cov).summary().loc[names]
        est[rep] = table["estimate"].to_numpy()
        covered[rep] = (table["lower_95"].to_numpy() <= true) & (true <= table["upper_95"].to_numpy())
    coverage = covered.mean(axis=0)
    assert np.all(coverage >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / n_rep)), dict(zip(names, coverage, strict=True))
    gam = est[:, :4]
    mc_se = gam.std(axis=0, ddof=1) / np.sqrt(n_rep)
    assert np.all(np.abs(gam.mean(axis=0) - true[:4]) <= 3 * mc_se), (gam.mean(axis=0), mc_se)


@pytest.mark.slow
def test_recovery_and_coverage_over_seeds() -> None:
    """150 simulated data sets of 1,000 customers with known gammas.

    Coverage of each 95% interval must lie within 3 Monte Carlo standard errors of 0.95
    (sqrt(0.95 * 0.05 / 150) = 0.018, so at least 0.897); the mean estimate of each gamma must lie within 3 Monte
    Carlo standard errors (sd / sqrt(150)) of the truth (recovery)."""
    truth = TRUE["gp"] + TRUE["gd"] + [TRUE["r"], TRUE["alpha0"], TRUE["s"], TRUE["beta0"]]
    _check_recovery_and_coverage(ParetoNBDCovariates, _simulate, truth, ["s", "beta0"])


# ============================================================================================
# BG/NBD with static covariates (CLVTools' ``bgnbd`` link)
# ============================================================================================
# References, independent of the code under test:
#
# * with every gamma = 0 the model is the plain BG/NBD: its per-customer log-likelihood must equal
#   ``clm_utils.clv.BetaGeo``'s (validated against Fader, Hardie & Lee's published CDNOW estimates in
#   ``tests/test_clv_betageo.py``) to 1e-10;
# * the per-customer likelihood with customer-specific alpha_i, a_i, b_i equals the double integral over
#   lambda ~ Gamma(r, alpha_i), p ~ Beta(a_i, b_i) of the individual-level likelihood
#   ``(1-p)^x lambda^x e^{-lambda T} + 1[x>0] p (1-p)^(x-1) lambda^x e^{-lambda t_x}`` (FHL 2005, eq. 3),
#   computed with mpmath;
# * the link is CLVTools' (``src/bgnbd.cpp``: ``bgnbd_staticcov_alpha_i`` = alpha_0 exp(-Z_trans g_trans),
#   ``bgnbd_staticcov_a_i`` / ``_b_i`` = a_0 / b_0 exp(Z_life g_life));
# * the simulator is checked against the closed-form BG/NBD count distribution P(X(T) = k) (FHL 2005 eq. 8);
# * simulation with known parameters: coverage of the 95% intervals over many seeds, and the LR test's size under
#   the null and its power with a real effect.
#
# CLVTools' published BG/NBD covariate estimates are for the apparel data (vignette; apparelTrans/apparelStaticCov),
# which ship only as R ``.rda`` files not available here, so they were not compared.


@pytest.mark.parametrize("theta", [(0.243, 4.414, 0.793, 2.426), (1.5, 8.0, 0.3, 6.0), (0.6, 2.0, 3.0, 0.8)])
def test_bgnbd_zero_gammas_reduce_to_plain_bgnbd(cdnow_sample_cal: pd.DataFrame, theta: tuple[float, ...]) -> None:
    """(0.243, 4.414, 0.793, 2.426) are FHL (2005)'s CDNOW estimates; the others are off the optimum."""
    s = cdnow_sample_cal
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    r, alpha, a, b = theta
    ours = bgnbd_loglik_rows(r, np.full(x.size, alpha), np.full(x.size, a), np.full(x.size, b), x, tx, T)
    plain_model = BetaGeo()
    data = plain_model._make_data(x, tx, T, np.ones(x.size))
    plain_sorted, _ = plain_model._loglik_rows(np.log(theta), data, False)
    order = np.argsort(x > 0, kind="stable")  # _make_data puts the customers without repeat purchases first
    plain = np.empty(x.size)
    plain[order] = plain_sorted
    np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-10)


def _mp_bg_loglik(x: int, tx: float, T: float, r: float, alpha: float, a: float, b: float) -> float:
    mp.mp.dps = 15  # tanh-sinh quadrature; agrees with 25 digits to ~1e-12 here, and takes a third of the time

    def f(lam: mp.mpf, p: mp.mpf) -> mp.mpf:
        ind = (1 - p) ** x * lam**x * mp.e ** (-lam * T)
        if x > 0:
            ind += p * (1 - p) ** (x - 1) * lam**x * mp.e ** (-lam * tx)
        g = alpha**r * lam ** (r - 1) * mp.e ** (-alpha * lam) / mp.gamma(r)
        dens = p ** (a - 1) * (1 - p) ** (b - 1) / mp.beta(a, b)
        return ind * g * dens

    return float(mp.log(mp.quad(f, [0, mp.inf], [0, 1])))


@pytest.mark.parametrize("row", [(0, 0.0, 30.0, 9.0, 1.7, 2.5), (3, 20.0, 38.0, 4.0, 0.9, 3.0),
                                 (7, 35.5, 39.0, 14.0, 2.2, 1.3)])
def test_bgnbd_customer_likelihood_matches_mpmath_double_integral(row: tuple[float, ...]) -> None:
    x, tx, T, alpha, a, b = row
    r = 1.3
    ours = bgnbd_loglik_rows(r, np.array([alpha]), np.array([a]), np.array([b]), np.array([x]), np.array([tx]),
                             np.array([T]))[0]
    assert ours == pytest.approx(_mp_bg_loglik(int(x), tx, T, r, alpha, a, b), abs=1e-8)


def test_bgnbd_simulator_matches_closed_form_count_distribution() -> None:
    """With gammas 0 and a common T, the simulated frequencies follow FHL (2005) eq. 8: each share within
    4 binomial standard errors of P(X(T) = k)."""
    n, T = 40_000, 39.0
    Z = np.zeros((n, 1))
    sim = simulate_bgnbd_covariates(n, 0.9, 6.0, 0.8, 2.4, [0.0], [0.0], Z, T, seed=3)
    plain = BetaGeo().set_params(r=0.9, alpha=6.0, a=0.8, b=2.4)
    for k in range(6):
        p = plain.probability_of_n_purchases_up_to_time(T, k)
        share = float((sim["frequency"] == k).mean())
        assert abs(share - p) <= 4 * np.sqrt(p * (1 - p) / n), (k, share, p)
    assert (sim["recency"] <= sim["T"]).all() and (sim.loc[sim["frequency"] == 0, "recency"] == 0).all()


BG_TRUE = {"r": 0.8, "alpha0": 4.0, "a0": 0.7, "b0": 2.5, "gp": [0.5, -0.4], "gd": [0.4, 0.8]}


def _bg_simulate(n: int, seed: int, gp: list[float] | None = None, gd: list[float] | None = None) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    Z, cov = _design(n, seed)
    T = np.random.default_rng(20_000 + seed).uniform(39, 78, n)
    sim = simulate_bgnbd_covariates(n, BG_TRUE["r"], BG_TRUE["alpha0"], BG_TRUE["a0"], BG_TRUE["b0"],
                                    BG_TRUE["gp"] if gp is None else gp, BG_TRUE["gd"] if gd is None else gd,
                                    Z, T, seed=seed)
    cov.index = sim.index
    return sim, cov


def test_bgnbd_fit_api_link_and_reduction_of_predictions() -> None:
    sim, cov = _bg_simulate(1000, 1)
    model = BetaGeoCovariates().fit(sim, cov)
    table = model.summary()
    assert list(table.index) == ["r", "alpha0", "a0", "b0", "purchase:z", "purchase:grp=b", "dropout:z",
                                 "dropout:grp=b"]
    assert model.converged_ and table.attrs["n"] == 1000
    # CLVTools' link: alpha_i = alpha0 exp(-g_trans'z), a_i = a0 exp(g_life'z), b_i = b0 exp(g_life'z)
    p = model.params_
    one = pd.DataFrame({"z": [1.5], "grp": ["b"]}, index=["c00001"])
    cp = model.customer_params(one).iloc[0]
    assert cp["alpha"] == pytest.approx(p["alpha0"] * np.exp(-(1.5 * p["purchase:z"] + p["purchase:grp=b"])))
    assert cp["a"] == pytest.approx(p["a0"] * np.exp(1.5 * p["dropout:z"] + p["dropout:grp=b"]))
    assert cp["b"] == pytest.approx(p["b0"] * np.exp(1.5 * p["dropout:z"] + p["dropout:grp=b"]))
    # the fitted log-likelihood is the sum of the customers' rows
    assert model.log_likelihood_rows(sim, cov).sum() == pytest.approx(model.log_likelihood_, rel=1e-10)
    pa = model.conditional_probability_alive(sim, cov)
    assert pa.between(0, 1).all() and pa.index.equals(sim.index)
    assert (pa[sim["frequency"] == 0] == 1.0).all()
    # a customer whose covariates are all 0 has alpha0, a0, b0: predictions equal the plain BG/NBD's
    zero = pd.DataFrame({"z": [0.0], "grp": ["a"]}, index=["c00000"])
    plain = BetaGeo().set_params(r=p["r"], alpha=p["alpha0"], a=p["a0"], b=p["b0"])
    repeat = sim[sim["frequency"] > 0].iloc[:1]
    zero.index = repeat.index
    assert model.conditional_probability_alive(repeat, zero).iloc[0] == pytest.approx(
        plain.conditional_probability_alive(repeat).iloc[0], abs=1e-12)
    assert model.conditional_expected_number_of_purchases_up_to_time(10.0, repeat, zero).iloc[0] == pytest.approx(
        plain.conditional_expected_number_of_purchases_up_to_time(10.0, repeat).iloc[0], rel=1e-10)
    assert model.expected_number_of_purchases_up_to_time(10.0, zero).iloc[0] == pytest.approx(
        plain.expected_number_of_purchases_up_to_time(10.0), rel=1e-10)
    lr = model.lr_test(sim)
    assert lr["df"] == 4 and lr["p_value"] < 0.01  # the purchase effects alone are found at n = 1,000


def test_bgnbd_errors() -> None:
    sim, cov = _bg_simulate(300, 2)
    with pytest.raises(DataError, match="have no covariates"):
        BetaGeoCovariates().fit(sim, cov.iloc[:-3])
    with pytest.raises(ModelError, match="do not vary"):
        BetaGeoCovariates().fit(sim, cov.assign(k=1.0))
    with pytest.raises(ModelError, match="not fitted"):
        BetaGeoCovariates().summary()


@pytest.mark.slow
def test_bgnbd_lr_test_size_under_the_null_and_power() -> None:
    """Null calibration: 120 data sets of 500 customers with every gamma 0 (one covariate on each process,
    df = 2): the rejection rate at 5% must lie within 3 Monte Carlo SE of 0.05 (sqrt(0.05 * 0.95 / 120) = 0.020).
    Power: with gamma_p = 0.5 on the same design the test rejects in at least 90% of 40 data sets."""
    def p_value(seed: int, gp: float) -> float:
        sim, cov = _bg_simulate(500, 5_000 + seed, gp=[gp, 0.0], gd=[0.0, 0.0])
        model = BetaGeoCovariates(purchase_covariates=["z"], dropout_covariates=["z"]).fit(sim, cov[["z"]])
        return float(model.lr_test(sim)["p_value"])

    null = np.array([p_value(s, 0.0) for s in range(120)])
    rate = float((null < 0.05).mean())
    assert abs(rate - 0.05) <= 3 * np.sqrt(0.05 * 0.95 / 120), rate
    power = np.array([p_value(1_000 + s, 0.5) for s in range(40)])
    assert (power < 0.05).mean() >= 0.9, power


@pytest.mark.slow
def test_bgnbd_recovery_and_coverage_over_seeds() -> None:
    """150 simulated data sets of 1,000 customers with known gammas (CLVTools' link).

    Coverage of each 95% interval must lie within 3 Monte Carlo standard errors of 0.95
    (sqrt(0.95 * 0.05 / 150) = 0.018, so at least 0.897); the mean estimate of each gamma must lie within
    3 Monte Carlo standard errors (sd / sqrt(150)) of the truth (recovery).  Measured when written: coverage
    0.94-0.967 for all eight parameters, mean gammas 0.503, -0.397, 0.396, 0.797 (truth 0.5, -0.4, 0.4, 0.8)."""
    truth = BG_TRUE["gp"] + BG_TRUE["gd"] + [BG_TRUE["r"], BG_TRUE["alpha0"], BG_TRUE["a0"], BG_TRUE["b0"]]
    _check_recovery_and_coverage(BetaGeoCovariates, _bg_simulate, truth, ["a0", "b0"])
