"""Pareto/NBD: published estimates and R BTYD outputs, overflow safety, independent checks.

Published references (CDNOW 1/10 sample, weeks, calibration to 1997-09-30):

* Fader, Hardie & Lee (2005), Table: r 0.553, alpha 10.578, s 0.606, beta 11.669, LL -9595.0;
  CLVTools test suite (``correct.params.nocov.coef = c(r=0.55315, alpha=10.57633, s=0.60625,
  beta=11.67150)``, ``correct.LL.nocov = -9594.976``).
* R BTYD walkthrough (quoted in lifetimes' tests): with (r, alpha, s, beta) = (0.5534, 10.5802,
  0.6061, 11.6562), P(alive | x=26, t_x=30.86, T=31) = 0.9979; with the fitted parameters,
  E[Y(52) | x=26, t_x=30.86, T=31] = 25.46.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from clm_utils.clv import ParetoNBD
from clm_utils.errors import DataError, ModelError


@pytest.fixture(scope="module")
def pnbd(cdnow_sample_cal: pd.DataFrame) -> ParetoNBD:
    return ParetoNBD().fit(cdnow_sample_cal)


def test_reproduces_published_estimates(pnbd: ParetoNBD) -> None:
    # FHL (2005), 3 decimals: r, alpha, s round to exactly the published values; beta (11.669
    # published) is held to 1% because the likelihood is nearly flat in it
    assert pnbd.params_[["r", "alpha", "s"]].round(3).tolist() == [0.553, 10.578, 0.606]
    assert pnbd.params_["beta"] == pytest.approx(11.669, rel=0.01)
    # CLVTools (5 decimals): r, alpha, s to 1e-3 relative; beta loosely (1%) because the
    # likelihood is nearly flat in beta (its SE is ~6 on an estimate of ~12)
    clvtools = pd.Series({"r": 0.55315, "alpha": 10.57633, "s": 0.60625, "beta": 11.67150})
    np.testing.assert_allclose(pnbd.params_[["r", "alpha", "s"]], clvtools[["r", "alpha", "s"]], rtol=1e-3)
    assert pnbd.params_["beta"] == pytest.approx(clvtools["beta"], rel=0.01)
    # LL: published -9595.0 (FHL) and -9594.976 (CLVTools)
    assert pnbd.log_likelihood_ == pytest.approx(-9594.976, abs=0.01)


def test_p_alive_matches_btyd() -> None:
    m = ParetoNBD().set_params(r=0.5534, alpha=10.5802, s=0.6061, beta=11.6562)
    one = pd.DataFrame({"frequency": [26], "recency": [30.86], "T": [31.0]})
    assert m.conditional_probability_alive(one).iloc[0] == pytest.approx(0.9979, abs=5e-5)


def test_conditional_expectation_matches_btyd(pnbd: ParetoNBD) -> None:
    one = pd.DataFrame({"frequency": [26], "recency": [30.86], "T": [31.0]})
    assert pnbd.conditional_expected_number_of_purchases_up_to_time(52, one).iloc[0] == pytest.approx(25.46, abs=0.005)


def test_likelihood_equals_numerical_integral() -> None:
    """Independent check of the hyp2f1 form: L = C [(a+T)^-(r+x) (b+T)^-s + s int_tx^T (a+t)^-(r+x) (b+t)^-(s+1) dt]."""
    from scipy import special

    for alpha, beta in [(10.0, 4.0), (3.0, 12.0), (5.0, 5.0)]:
        r, s = 0.6, 0.8
        m = ParetoNBD().set_params(r=r, alpha=alpha, s=s, beta=beta)
        x, tx, T = np.array([0.0, 3.0, 7.0]), np.array([0.0, 12.0, 30.0]), np.array([20.0, 30.0, 31.0])
        xu, xinv = np.unique(x, return_inverse=True)
        got = m._ll(np.array([r, alpha, s, beta]), {"x": x, "tx": tx, "T": T, "xu": xu, "xinv": xinv})
        for i in range(3):
            integral = integrate.quad(lambda t, i=i: (alpha + t) ** (-(r + x[i])) * (beta + t) ** (-(s + 1)), tx[i], T[i],
                                      epsabs=0, epsrel=1e-12)[0]
            lC = special.gammaln(r + x[i]) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            direct = lC + np.log((alpha + T[i]) ** (-(r + x[i])) * (beta + T[i]) ** (-s) + s * integral)
            assert got[i] == pytest.approx(direct, rel=1e-9)


def test_no_overflow_for_extreme_customers() -> None:
    # lifetimes' overflow case: huge frequencies with a tiny alpha
    m = ParetoNBD().set_params(r=10.465, alpha=7.98565181e-03, s=3.0516, beta=2.820)
    s = pd.DataFrame({"frequency": [400, 500, 500], "recency": [5.0, 1.0, 4.0], "T": [6.0, 37.0, 37.0]})
    p = m.conditional_probability_alive(s)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    xu, xinv = np.unique(x, return_inverse=True)
    ll = m._ll(np.asarray(m.params_), {"x": x, "tx": tx, "T": T, "xu": xu, "xinv": xinv})
    assert np.isfinite(ll).all()
    e = m.conditional_expected_number_of_purchases_up_to_time(10, s)
    assert np.isfinite(e).all()


def test_conditional_expectation_has_no_underflow_jump() -> None:
    # lifetimes' underflow case: neighbouring inputs give neighbouring predictions
    m = ParetoNBD().set_params(r=0.55, alpha=10.58, s=0.61, beta=11.67)
    s = pd.DataFrame({"frequency": [132, 133], "recency": [200.0, 200.0], "T": [200.0, 200.0]})
    e = m.conditional_expected_number_of_purchases_up_to_time(10, s)
    assert abs(e.iloc[0] - e.iloc[1]) < 0.05


def test_pmf_is_consistent_with_expectation(pnbd: ParetoNBD) -> None:
    p = pnbd.probability_of_n_purchases_up_to_time(20.0, np.arange(300))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert (np.arange(300) * p).sum() == pytest.approx(pnbd.expected_number_of_purchases_up_to_time(20.0), rel=1e-7)


def test_survival_and_s_equal_one_limit() -> None:
    m = ParetoNBD().set_params(r=0.5, alpha=10.0, s=0.6, beta=12.0)
    assert m.survival_function(12.0) == pytest.approx((12 / 24) ** 0.6)
    one = pd.DataFrame({"frequency": [2], "recency": [10.0], "T": [20.0]})
    near = [ParetoNBD().set_params(r=0.5, alpha=10.0, s=s, beta=12.0)
            .conditional_expected_number_of_purchases_up_to_time(30, one).iloc[0] for s in (1 - 1e-6, 1.0, 1 + 1e-6)]
    assert near[1] == pytest.approx(near[0], rel=1e-5) and near[1] == pytest.approx(near[2], rel=1e-5)


def test_simulation_check_of_expected_purchases() -> None:
    """Brute force: simulate the Pareto/NBD process and compare the mean count with E[X(t)]."""
    m = ParetoNBD().set_params(r=0.8, alpha=6.0, s=0.9, beta=10.0)
    rng = np.random.default_rng(3)
    n, t = 400_000, 25.0
    lam = rng.gamma(0.8, 1 / 6.0, n)
    mu = rng.gamma(0.9, 1 / 10.0, n)
    life = rng.exponential(1 / mu)
    counts = rng.poisson(lam * np.minimum(life, t))
    se = counts.std() / np.sqrt(n)
    assert counts.mean() == pytest.approx(m.expected_number_of_purchases_up_to_time(t), abs=4 * se)


def test_degenerate_inputs() -> None:
    with pytest.raises(ModelError):
        ParetoNBD().fit(pd.DataFrame({"frequency": [0, 0, 0], "recency": [0.0] * 3, "T": [3.0, 4.0, 5.0]}))
    with pytest.raises(DataError):
        ParetoNBD().fit(pd.DataFrame({"frequency": [1, 2], "recency": [4.0, 1.0], "T": [3.0, 4.0]}))
