"""Coverage of the 95% intervals, by simulation with known truth (many seeds, stated Monte Carlo band).

* Parameters: the 95% Wald intervals of :meth:`summary` (``exp(log theta +- 1.96 se)``) for BG/NBD,
  Pareto/NBD and Gamma-Gamma.  Each replicate draws a fresh customer base from
  :mod:`clm_utils.synth` with the published CDNOW estimates as the truth (BG/NBD: Fader, Hardie &
  Lee 2005; Pareto/NBD: Fader & Hardie 2005 note; Gamma-Gamma: Fader & Hardie 2013) and fits the
  model.  With R = 200 replicates the share of intervals covering the truth must lie in
  ``0.95 +- 3 sqrt(0.95 * 0.05 / R)`` = [0.904, 0.996] for every parameter.  These replace the
  former one-seed "parameter recovery" tests.
* CLV total: :func:`clm_utils.clv.value.clv_interval` (BG/NBD + Gamma-Gamma).  The estimand is the
  *expected* discounted CLV of the simulated customers given their histories under the true
  parameters, ``sum_i E[CLV_i | x_i, t_x,i, T_i, m_i; theta_true]`` (computed with the true
  parameters plugged in); the realised future value, which adds the randomness of future
  purchases, is not what this interval is for.  Required (issue 9): coverage >= 0.90.

Measured (these seeds): BG/NBD r .975, alpha .970, a .960, b .955; Pareto/NBD r .940, alpha .955,
s .950, beta .965; Gamma-Gamma p .955, q .985, gamma .955; CLV total .96.
Run time: about 2 minutes of CPU in all, so every test is marked slow.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from clm_utils.clv import BetaGeo, GammaGamma, ParetoNBD, customer_lifetime_value
from clm_utils.clv.value import clv_interval
from clm_utils.synth import simulate_bgnbd, simulate_paretonbd

pytestmark = pytest.mark.slow

BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL (2005), CDNOW
PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}  # Fader & Hardie (2005 note), CDNOW
SPEND = {"p": 6.25, "q": 3.74, "gamma": 15.44}  # Fader & Hardie (2013), CDNOW
REPLICATES = 200
BAND = 3 * math.sqrt(0.95 * 0.05 / REPLICATES)  # Monte Carlo margin, 3 standard errors


def _ages(n: int, seed: int) -> np.ndarray:
    """Observation lengths in weeks, at whole days between 26 and 52 weeks (as in weekly real data)."""
    return np.random.default_rng(10_000 + seed).integers(26 * 7, 52 * 7 + 1, n) / 7.0


def _coverage(fit_one, truth: dict[str, float]) -> dict[str, float]:
    hits = {k: 0 for k in truth}
    for seed in range(REPLICATES):
        tab = fit_one(seed)
        for k, v in truth.items():
            hits[k] += int(tab.loc[k, "lower_95"] <= v <= tab.loc[k, "upper_95"])
    return {k: h / REPLICATES for k, h in hits.items()}


def _assert_in_band(cov: dict[str, float], model: str) -> None:
    for k, c in cov.items():
        assert abs(c - 0.95) <= BAND, f"{model} {k}: 95% interval covered the truth in {c:.1%} of {REPLICATES} runs"


def test_bgnbd_wald_intervals_cover_the_true_parameters() -> None:
    def fit(seed: int):
        s = simulate_bgnbd(2000, T=_ages(2000, seed), seed=seed, **BGNBD)
        return BetaGeo().fit(s).summary()

    _assert_in_band(_coverage(fit, BGNBD), "BG/NBD")


def test_paretonbd_wald_intervals_cover_the_true_parameters() -> None:
    def fit(seed: int):
        s = simulate_paretonbd(2000, T=_ages(2000, seed), seed=seed, **PARETO)
        return ParetoNBD().fit(s).summary()

    _assert_in_band(_coverage(fit, PARETO), "Pareto/NBD")


def test_gamma_gamma_wald_intervals_cover_the_true_parameters() -> None:
    def fit(seed: int):
        s = simulate_bgnbd(3000, T=_ages(3000, seed), seed=seed, **BGNBD, **SPEND)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the independence check may warn by chance
            return GammaGamma().fit(s).summary()

    _assert_in_band(_coverage(fit, SPEND), "Gamma-Gamma")


def test_clv_total_interval_covers_the_expected_clv_under_the_true_parameters() -> None:
    # 3,000 customers a base: with 1,000 the asymptotic normal is too rough (measured 90% coverage,
    # the truth below the interval in 7 of 10 misses); with 3,000, 96%.  200 draws per interval
    # keep the run short; the library default is 2,000.
    replicates, n, draws = 100, 3000, 200
    settings = {"horizon": 52, "discount_rate": 0.10, "time_unit": "W", "margin": 1.0}
    true_bg = BetaGeo().set_params(**BGNBD)
    true_gg = GammaGamma().set_params(**SPEND)
    hits = 0
    for seed in range(replicates):
        s = simulate_bgnbd(n, T=_ages(n, seed), seed=seed, **BGNBD, **SPEND)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bg, gg = BetaGeo().fit(s), GammaGamma().fit(s)
        truth = customer_lifetime_value(true_bg, true_gg, s, **settings)["clv"].sum()
        row = clv_interval(bg, gg, s, n_draws=draws, seed=seed, **settings).loc["total"]
        hits += int(row["clv_total_lower"] <= truth <= row["clv_total_upper"])
    coverage = hits / replicates
    # issue 9: at least 90%; and not grossly conservative either (3 Monte Carlo SEs above 95%)
    assert 0.90 <= coverage <= 0.95 + 3 * math.sqrt(0.95 * 0.05 / replicates), (
        f"the 95% CLV-total interval covered the expected CLV in {coverage:.1%} of {replicates} runs")
