"""The simulator against closed forms of the BG/NBD and Gamma-Gamma models (computed here with scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hyp2f1

from clm_utils.errors import ParameterError
from clm_utils.summary import summarize
from clm_utils.synth import simulate_bgnbd, simulate_transactions

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
    assert one.mean() == pytest.approx(p * gamma / (q - 1), rel=0.03)


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
