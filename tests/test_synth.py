"""The simulators against closed forms of the BG/NBD, Pareto/NBD and Gamma-Gamma models (computed
here with scipy, independently of clm_utils).  Tolerances are Monte Carlo margins: 4 standard errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.special import hyp2f1

from clm_utils.errors import ParameterError
from clm_utils.summary import summarize
from clm_utils.synth import simulate_bgnbd, simulate_paretonbd, simulate_transactions

R, ALPHA, A, B = 0.243, 4.414, 0.793, 2.426  # the CDNOW estimates of Fader, Hardie & Lee (2005)


def bgnbd_expected_purchases(t: float, r: float, alpha: float, a: float, b: float) -> float:
    """E[X(t)] of BG/NBD, equation (9) of Fader, Hardie & Lee (2005)."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_mean_repeat_purchases_match_the_closed_form():
    n = 200_000
    sim = simulate_bgnbd(n, R, ALPHA, A, B, T=39.0, seed=7)
    expected = bgnbd_expected_purchases(39.0, R, ALPHA, A, B)
    se = sim["frequency"].std() / np.sqrt(n)
    assert abs(sim["frequency"].mean() - expected) < 4 * se


def test_share_with_no_repeat_purchase_matches_the_closed_form():
    # P(X(t)=0) = (alpha/(alpha+t))^r for BG/NBD (no dropout before the first repeat purchase)
    n = 200_000
    sim = simulate_bgnbd(n, R, ALPHA, A, B, T=39.0, seed=11)
    p0 = (ALPHA / (ALPHA + 39.0)) ** R
    share = (sim["frequency"] == 0).mean()
    assert abs(share - p0) < 4 * np.sqrt(p0 * (1 - p0) / n)


def test_gamma_gamma_mean_spend():
    # E[Z] = p * gamma / (q - 1) for the Gamma-Gamma model
    p, q, gamma = 6.25, 3.74, 15.44
    sim = simulate_bgnbd(200_000, R, ALPHA, A, B, T=39.0, seed=3, p=p, q=q, gamma=gamma)
    one = sim[sim["frequency"] == 1]["monetary_value"]
    # q > 2, so the spend of one transaction has a finite variance and the sample mean a standard error
    assert abs(one.mean() - p * gamma / (q - 1)) < 4 * one.std() / np.sqrt(one.size)


def test_seed_determinism_and_shapes():
    a = simulate_bgnbd(1000, R, ALPHA, A, B, T=(10, 39), seed=5)
    b = simulate_bgnbd(1000, R, ALPHA, A, B, T=(10, 39), seed=5)
    c = simulate_bgnbd(1000, R, ALPHA, A, B, T=(10, 39), seed=6)
    assert a.equals(b) and not a.equals(c)
    assert ((a["recency"] <= a["T"]) & (a["recency"] >= 0)).all()
    assert (a.loc[a["frequency"] == 0, "recency"] == 0).all()


def test_bad_parameters():
    with pytest.raises(ParameterError):
        simulate_bgnbd(10, -1, ALPHA, A, B)
    with pytest.raises(ParameterError):
        simulate_bgnbd(0, R, ALPHA, A, B)


def test_transactions_summarise_to_the_same_process():
    tx = simulate_transactions(20_000, R, ALPHA, A, B, seed=2, acquisition_days=1,
                               start="2024-01-01", observation_end="2024-09-29")
    assert tx["customer_id"].nunique() == 20_000
    s = summarize(tx, "2024-09-29", "W")
    # everyone starts on day 0, so T = 272 days = 38.86 weeks; compare with E[X(T)]
    expected = bgnbd_expected_purchases(272 / 7, R, ALPHA, A, B)
    assert s["frequency"].mean() == pytest.approx(expected, rel=0.05)
    assert (tx["amount"] > 0).all()


# Pareto/NBD: the CDNOW estimates of Fader, Hardie & Lee (2005, "A note on deriving the Pareto/NBD model")
PR, PALPHA, PS, PBETA = 0.55, 10.58, 0.61, 11.67


def pareto_expected_purchases(t: float, r: float, alpha: float, s: float, beta: float) -> float:
    """E[X(t)] of Pareto/NBD, Fader & Hardie (2005) eq. (17)."""
    return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))


def pareto_p_zero(t: float, r: float, alpha: float, s: float, beta: float) -> float:
    """P(X(t) = 0) by direct integration over the lifetime tau ~ Lomax(s, beta):
    no purchase while alive for min(tau, t), and E[exp(-lambda u)] = (alpha / (alpha + u))^r."""
    survive = (beta / (beta + t)) ** s
    dens = integrate.quad(lambda u: s / beta * (beta / (beta + u)) ** (s + 1) * (alpha / (alpha + u)) ** r, 0, t,
                          epsabs=1e-13, epsrel=1e-12)[0]
    return survive * (alpha / (alpha + t)) ** r + dens


def test_pareto_mean_repeat_purchases_and_zero_share_match_closed_forms():
    n = 200_000
    sim = simulate_paretonbd(n, PR, PALPHA, PS, PBETA, T=39.0, seed=8)
    expected = pareto_expected_purchases(39.0, PR, PALPHA, PS, PBETA)
    assert abs(sim["frequency"].mean() - expected) < 4 * sim["frequency"].std() / np.sqrt(n)
    p0 = pareto_p_zero(39.0, PR, PALPHA, PS, PBETA)
    assert abs((sim["frequency"] == 0).mean() - p0) < 4 * np.sqrt(p0 * (1 - p0) / n)
    # share still alive at T: (beta / (beta + T))^s
    alive = (PBETA / (PBETA + 39.0)) ** PS
    assert abs(sim["alive_"].mean() - alive) < 4 * np.sqrt(alive * (1 - alive) / n)


def test_pareto_recency_distribution():
    # given the count x >= 1 and the active time u = min(tau, T), the last purchase is at u * Beta(x, 1):
    # for customers alive at T, recency / T is then Beta(x, 1) distributed, with mean x / (x + 1)
    sim = simulate_paretonbd(100_000, PR, PALPHA, PS, PBETA, T=39.0, seed=9)
    two = sim[sim["alive_"] & (sim["frequency"] == 2)]
    u = two["recency"] / two["T"]
    assert abs(u.mean() - 2 / 3) < 4 * np.sqrt(1 / 18 / two.shape[0])  # Var Beta(2, 1) = 2/36
    assert ((sim["recency"] <= sim["T"]) & (sim["recency"] >= 0)).all()
    assert (sim.loc[sim["frequency"] == 0, "recency"] == 0).all()
    dead = sim[~sim["alive_"]]
    assert (dead["recency"] <= dead["tau_"]).all()


def test_pareto_seed_determinism_and_errors():
    a = simulate_paretonbd(500, PR, PALPHA, PS, PBETA, T=(10, 39), seed=5, p=6.0, q=4.0, gamma=15.0)
    b = simulate_paretonbd(500, PR, PALPHA, PS, PBETA, T=(10, 39), seed=5, p=6.0, q=4.0, gamma=15.0)
    assert a.equals(b) and "monetary_value" in a
    assert (a.loc[a["frequency"] == 0, "monetary_value"] == 0).all()
    with pytest.raises(ParameterError):
        simulate_paretonbd(10, PR, PALPHA, -1.0, PBETA)
    with pytest.raises(ParameterError):
        simulate_paretonbd(0, PR, PALPHA, PS, PBETA)
