"""Boundaries of the BTYD parameter space, the NBD limit model, and numerical precision.

Independent references used here:

* the NBD likelihood and predictions against scipy's negative-binomial pmf and numerical integrals
  over the gamma posterior (closed forms written out in the test);
* simulation with known truth (NBD data: no dropout; Poisson data: no rate heterogeneity);
* mpmath (50 digits) for the Pareto/NBD log-likelihood at extreme alpha/beta ratios and for
  BG/NBD and MBG/NBD E[purchases] of very heavy buyers;
* CLVTools' published Pareto/NBD standard errors on the CDNOW sample
  (tests/testthat/test_correctness_pnbd.R: r 0.0476264, alpha 0.8427222, s 0.1872594,
  beta 6.2105448) and, for BG/NBD, a Richardson-extrapolated central-difference Hessian of the
  FHL (2005) eq. 6 log-likelihood written out independently below.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from clm_utils.clv import (
    MIN_REPEAT_BUYERS,
    NBD,
    BetaGeo,
    BoundaryEstimate,
    ModifiedBetaGeo,
    ParetoNBD,
    boundary_lr_test,
    fit_transaction_model,
)
from clm_utils.clv import _base
from clm_utils.errors import ModelError

mp = pytest.importorskip("mpmath")


def simulate_nbd(n: int, r: float, alpha: float, seed: int) -> pd.DataFrame:
    """NBD customers (no dropout) with ages 10..52: purchase times uniform given the Poisson count."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(10, 52, n)
    lam = rng.gamma(r, 1 / alpha, n)
    x = rng.poisson(lam * T)
    # recency = the largest of x uniform times on (0, T)
    tx = np.where(x > 0, T * rng.random(n) ** (1.0 / np.maximum(x, 1)), 0.0)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T})


# ------------------------------------------------------------------------------------ NBD
def test_nbd_likelihood_is_the_negative_binomial_pmf() -> None:
    m = NBD().set_params(r=0.7, alpha=6.0)
    x = np.array([0.0, 1.0, 5.0, 40.0])
    T = np.array([3.0, 20.0, 35.0, 52.0])
    xu, xinv = np.unique(x, return_inverse=True)
    Tu, Tinv = np.unique(T, return_inverse=True)
    ll, g = m._loglik_rows(np.log([0.7, 6.0]), {"x": x, "T": T, "xu": xu, "xinv": xinv, "Tu": Tu, "Tinv": Tinv}, True)
    # add back the parameter-free x ln T - ln x! to get the full NB log-pmf
    full = ll + x * np.log(T) - special.gammaln(x + 1)
    np.testing.assert_allclose(full, stats.nbinom.logpmf(x, 0.7, 6.0 / (6.0 + T)), rtol=1e-12)
    # analytic gradient vs central differences
    for i in range(2):
        e = np.zeros(2)
        e[i] = 1e-6
        up, _ = m._loglik_rows(np.log([0.7, 6.0]) + e, {"x": x, "T": T, "xu": xu, "xinv": xinv, "Tu": Tu, "Tinv": Tinv}, False)
        dn, _ = m._loglik_rows(np.log([0.7, 6.0]) - e, {"x": x, "T": T, "xu": xu, "xinv": xinv, "Tu": Tu, "Tinv": Tinv}, False)
        np.testing.assert_allclose(g[:, i], (up - dn) / 2e-6, rtol=1e-6, atol=1e-9)


def test_nbd_predictions_equal_closed_forms_and_integrals() -> None:
    r, alpha = 0.7, 6.0
    m = NBD().set_params(r=r, alpha=alpha)
    assert m.expected_number_of_purchases_up_to_time(13.0) == pytest.approx(r * 13 / alpha, rel=1e-14)
    p = m.probability_of_n_purchases_up_to_time(13.0, np.arange(600))
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert (np.arange(600) * p).sum() == pytest.approx(r * 13 / alpha, rel=1e-10)
    one = pd.DataFrame({"frequency": [4], "recency": [20.0], "T": [30.0]})
    assert m.conditional_probability_alive(one).iloc[0] == 1.0
    # E[lambda t | x, T] by integrating over the prior times the Poisson likelihood
    x, T, t = 4, 30.0, 10.0

    def post(lam: float, k: int) -> float:
        return lam**k * stats.poisson.pmf(x, lam * T) * stats.gamma.pdf(lam, r, scale=1 / alpha)

    ref = t * integrate.quad(post, 0, np.inf, args=(1,))[0] / integrate.quad(post, 0, np.inf, args=(0,))[0]
    assert m.conditional_expected_number_of_purchases_up_to_time(t, one).iloc[0] == pytest.approx(ref, rel=1e-8)
    assert m.survival_function(50.0) == 1.0


@pytest.mark.slow
def test_nbd_intervals_cover_the_true_parameters_over_seeds() -> None:
    """95% intervals over 200 simulated data sets: coverage within 3 Monte Carlo SE of 0.95."""
    true, n = {"r": 0.6, "alpha": 5.0}, 200
    hits = dict.fromkeys(true, 0)
    for seed in range(n):
        tab = NBD().fit(simulate_nbd(1000, seed=seed, **true)).summary()
        for name, value in true.items():
            hits[name] += int(tab.loc[name, "lower_95"] <= value <= tab.loc[name, "upper_95"])
    band = 3 * np.sqrt(0.95 * 0.05 / n)
    for name in true:
        assert abs(hits[name] / n - 0.95) <= band, (name, hits[name] / n)


# ------------------------------------------------------------------------------------ boundaries
@pytest.mark.parametrize("name", ["BG/NBD", "MBG/NBD", "Pareto/NBD"])
def test_no_dropout_data_give_the_nbd_limit(name: str) -> None:
    # data simulated without dropout: in about half of such samples the unconstrained MLE of the
    # dropout would be negative, so the constrained one sits on the boundary; this seed is one
    data = simulate_nbd(1500, r=0.6, alpha=5.0, seed=5)
    cls = {"BG/NBD": BetaGeo, "MBG/NBD": ModifiedBetaGeo, "Pareto/NBD": ParetoNBD}[name]
    with pytest.raises(BoundaryEstimate) as info:
        cls().fit(data)
    assert info.value.limit == "NBD" and np.isfinite(info.value.log_likelihood)
    fit = fit_transaction_model(name, data)
    assert fit.name == "NBD" and isinstance(fit.model, NBD)
    assert "NBD" in fit.note and "chi2_0" in fit.note
    # the supremum of the dropout model is (numerically) the NBD maximum: LR ~ 0, p = 1
    assert fit.lr_statistic == pytest.approx(0.0, abs=0.01)
    tab = fit.model.summary()
    assert tab.loc["r", "lower_95"] <= 0.6 <= tab.loc["r", "upper_95"]
    pred = fit.model.conditional_expected_number_of_purchases_up_to_time(26.0, data)
    assert np.isfinite(pred).all()


def test_boundary_lr_test_is_the_chi2_mixture() -> None:
    # 50:50 mixture of chi2_0 and chi2_1: P(LR > 2.71) = 0.5 * 0.0997 ~ 0.05
    lr, p = boundary_lr_test(-100.0 + 2.705543 / 2, -100.0)
    assert lr == pytest.approx(2.705543) and p == pytest.approx(0.05, abs=1e-6)
    assert boundary_lr_test(-100.0, -100.0) == (0.0, 1.0)
    # null calibration by simulation of the mixture itself: a chi2_1 draw with prob 1/2, else 0
    rng = np.random.default_rng(0)
    draws = np.where(rng.random(200_000) < 0.5, rng.chisquare(1, 200_000), 0.0)
    ps = np.array([boundary_lr_test(d / 2, 0.0)[1] for d in draws[:20_000]])
    assert np.mean(ps < 0.05) == pytest.approx(0.05, abs=0.006)  # MC margin ~ 4 se


def test_collapsed_rate_heterogeneity_is_held_at_its_limit() -> None:
    # every customer buys at the same rate 0.3 per week, as regularly as a clock (counts less
    # dispersed than Poisson): the gamma of rates collapses, r -> infinity with alpha = r / 0.3
    rng = np.random.default_rng(3)
    T = rng.uniform(20, 52, 3000)
    x = np.round(0.3 * T)
    s = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, T * rng.random(3000) ** (1 / np.maximum(x, 1)), 0), "T": T})
    m = NBD().fit(s)
    assert m.fixed_ == ("r",) and any("do not vary" in n for n in m.notes_)
    assert m.params_["r"] / m.params_["alpha"] == pytest.approx(0.3, rel=0.02)
    assert np.isfinite(m.conditional_expected_number_of_purchases_up_to_time(10, s)).all()
    draws = m.sample_params(50, seed=1)
    assert np.allclose(draws["r"], m.params_["r"])


def test_too_few_repeat_buyers_is_a_clear_model_error() -> None:
    s = pd.DataFrame({"frequency": [1] * (MIN_REPEAT_BUYERS - 1) + [0] * 40,
                      "recency": [3.0] * (MIN_REPEAT_BUYERS - 1) + [0.0] * 40, "T": [10.0] * (MIN_REPEAT_BUYERS + 39)})
    for cls in (BetaGeo, ModifiedBetaGeo, ParetoNBD, NBD):
        with pytest.raises(ModelError, match=f"at least {MIN_REPEAT_BUYERS}"):
            cls().fit(s)


def test_non_convergence_is_flagged(monkeypatch: pytest.MonkeyPatch, cdnow_sample_cal: pd.DataFrame) -> None:
    monkeypatch.setattr(_base, "_converged", lambda res: False)
    m = BetaGeo().fit(cdnow_sample_cal)
    assert m.converged_ is False
    assert any("did not converge" in n for n in m.notes_)
    assert m.summary().attrs["converged"] is False


# ------------------------------------------------------------------------------------ precision
def _pnbd_ll_mpmath(r: float, alpha: float, s: float, beta: float, x: int, tx: float, T: float) -> float:
    """FH (2005) eq. 19 with the integral form of A0, in 50-digit arithmetic."""
    mp.mp.dps = 50
    r, alpha, s, beta, tx, T = map(mp.mpf, (r, alpha, s, beta, tx, T))
    C = mp.gamma(r + x) / mp.gamma(r) * alpha**r * beta**s
    integral = mp.quad(lambda t: (alpha + t) ** (-(r + x)) * (beta + t) ** (-(s + 1)), [tx, T]) if T > tx else 0
    return float(mp.log(C * ((alpha + T) ** (-(r + x)) * (beta + T) ** (-s) + s * integral)))


@pytest.mark.parametrize("alpha, beta", [(1e13, 0.5), (0.5, 1e13), (3e14, 2.0), (2.0, 4e12)])
def test_pareto_log_likelihood_at_extreme_ratios_matches_mpmath(alpha: float, beta: float) -> None:
    r, s = 0.7, 0.9
    x = np.array([0.0, 0.0, 2.0])
    tx = np.array([0.0, 0.0, 5.0])
    T = np.array([0.5, 30.0, 20.0])
    xu, xinv = np.unique(x, return_inverse=True)
    got = ParetoNBD._ll(np.array([r, alpha, s, beta]), {"x": x, "tx": tx, "T": T, "xu": xu, "xinv": xinv})
    ref = np.array([_pnbd_ll_mpmath(r, alpha, s, beta, int(x[i]), tx[i], T[i]) for i in range(3)])
    assert np.all(got <= 0) or np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)


def _cond_exp_mpmath(params: tuple[float, ...], m: int, x: int, tx: float, T: float, t: float) -> float:
    """P(alive) * int_0^1 (1 - (1 + p y)^-(r+x)) / p Beta(p; a, b+x+m) dp, 40 digits."""
    mp.mp.dps = 40
    r, alpha, a, b = (mp.mpf(v) for v in params)
    x, tx, T, t = mp.mpf(x), mp.mpf(tx), mp.mpf(T), mp.mpf(t)
    pa = mp.mpf(1) if (m == 0 and x == 0) else 1 / (1 + a / (b + x - 1 + m) * ((alpha + T) / (alpha + tx)) ** (r + x))
    bb, k, y = b + x + m, r + x, t / (alpha + T)
    mid = a / (a + bb)
    pts = [mp.mpf(0)] + [q for q in (mid / 10, mid, 5 * mid, 20 * mid) if q < 1] + [mp.mpf(1)]
    integral = mp.quad(lambda p: (1 - (1 + p * y) ** (-k)) / p * p ** (a - 1) * (1 - p) ** (bb - 1), pts)
    return float(pa * integral / mp.beta(a, bb))


@pytest.mark.parametrize("model_cls, m", [(BetaGeo, 0), (ModifiedBetaGeo, 1)])
@pytest.mark.parametrize("params", [(0.24, 4.4, 0.79, 2.43), (2.0, 1.5, 0.3, 0.6)])
def test_heavy_buyers_expected_purchases_match_mpmath(model_cls: type[BetaGeo], m: int, params: tuple) -> None:
    # daily units over five years: up to 3,000 purchase days (the Gauss-Jacobi weights overflowed
    # beyond ~1,020 and the prediction was NaN)
    model = model_cls().set_params(**dict(zip(("r", "alpha", "a", "b"), params, strict=True)))
    cases = [(1050, 1800.0, 1826.0, 365.0), (1500, 1820.0, 1826.0, 365.0), (3000, 1825.0, 1826.0, 730.0),
             (400, 1500.0, 1826.0, 100.0), (0, 0.0, 1826.0, 365.0)]
    df = pd.DataFrame(cases, columns=["frequency", "recency", "T", "t"])
    got = model.conditional_expected_number_of_purchases_up_to_time(df["t"], df).to_numpy()
    ref = np.array([_cond_exp_mpmath(params, m, *c) for c in cases])
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, rtol=1e-9)


# ------------------------------------------------------------------------------------ standard errors
def test_pareto_standard_errors_match_clvtools(cdnow_sample_cal: pd.DataFrame) -> None:
    se = ParetoNBD().fit(cdnow_sample_cal).standard_errors_
    clvtools = pd.Series({"r": 0.0476264, "alpha": 0.8427222, "s": 0.1872594, "beta": 6.2105448})
    # 4 significant digits (beta's estimate itself agrees with CLVTools to ~1e-4 only)
    np.testing.assert_allclose(se[clvtools.index], clvtools, rtol=5e-4)


def test_bgnbd_standard_errors_match_an_independent_hessian(cdnow_sample_cal: pd.DataFrame) -> None:
    bg = BetaGeo().fit(cdnow_sample_cal)
    x = cdnow_sample_cal["frequency"].to_numpy(float)
    tx = cdnow_sample_cal["recency"].to_numpy(float)
    T = cdnow_sample_cal["T"].to_numpy(float)

    def ll(theta: np.ndarray) -> float:  # FHL (2005) eq. 6, natural scale, written out directly
        r, alpha, a, b = theta
        A = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        B = special.betaln(a, b + x) - special.betaln(a, b)
        C = -(r + x) * np.log(alpha + T)
        D = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + tx), -np.inf)
        return float(np.sum(A + B + np.logaddexp(C, D)))

    theta = bg.params_.to_numpy()

    def hess(h: float) -> np.ndarray:
        H = np.empty((4, 4))
        for i in range(4):
            for j in range(4):
                ei, ej = np.eye(4)[i] * h * theta[i], np.eye(4)[j] * h * theta[j]
                H[i, j] = (ll(theta + ei + ej) - ll(theta + ei - ej) - ll(theta - ei + ej) + ll(theta - ei - ej)) / (
                    4 * h * h * theta[i] * theta[j])
        return H

    H = (4 * hess(1e-4) - hess(2e-4)) / 3  # Richardson extrapolation of the O(h^2) error
    se_ref = np.sqrt(np.diag(np.linalg.inv(-H)))
    np.testing.assert_allclose(bg.standard_errors_.to_numpy(), se_ref, rtol=1e-5)
