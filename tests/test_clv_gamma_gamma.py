"""Gamma-Gamma spend model on the 946 repeat buyers of the CDNOW sample.

Published: p 6.25, q 3.74, gamma 15.44 (Fader & Hardie 2013, "The Gamma-Gamma model of monetary
value"); LL -4055.9177 (CLVTools test suite, ``correct.LL = -4055.9177``); conditional expected
average spend of the first ten CDNOW customers from Hardie's spreadsheet (quoted in lifetimes'
tests, 2 decimals): 24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17.
Coverage of the parameter intervals (many seeds, replacing a one-seed recovery test):
``tests/test_clv_coverage.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clm_utils import config
from clm_utils.clv import GammaGamma, independence_check
from clm_utils.errors import ModelError


@pytest.fixture(scope="module")
def gg(cdnow_sample_cal: pd.DataFrame) -> GammaGamma:
    return GammaGamma().fit(cdnow_sample_cal)


def test_reproduces_published_estimates(gg: GammaGamma) -> None:
    assert gg.n_repeat_buyers_ == 946
    assert gg.params_.round(2).tolist() == [6.25, 3.74, 15.44]  # 2 decimals published
    assert gg.log_likelihood_ == pytest.approx(-4055.9177, abs=1e-3)


def test_expected_spend_matches_spreadsheet(gg: GammaGamma, cdnow_sample_cal: pd.DataFrame) -> None:
    # the spreadsheet lists customers in sample-id order (0001..0010) and uses the unrounded
    # estimates (with the rounded 6.25/3.74/15.44 the no-repeat value would be 35.22, not 35.17)
    raw = pd.read_csv(config.CDNOW_SAMPLE, sep=r"\s+", header=None, dtype=str)
    first_ten = raw[0].unique()[:10]
    got = gg.conditional_expected_average_profit(cdnow_sample_cal.loc[first_ten]).to_numpy()
    expected = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    np.testing.assert_allclose(got, expected, atol=0.005 + 1e-9)  # 2 decimals published


def test_expected_spend_is_a_credibility_weighted_mean(gg: GammaGamma) -> None:
    """FH 2013 eq. (5) in its weighted-average form, typed here from the note (the code uses the
    algebraically equivalent p (gamma + m x) / (p x + q - 1))."""
    p, q, g = gg.params_
    one = pd.DataFrame({"frequency": [4], "monetary_value": [50.0]})
    w = (p * 4) / (p * 4 + q - 1)
    direct = w * 50.0 + (1 - w) * p * g / (q - 1)
    assert gg.conditional_expected_average_profit(one).iloc[0] == pytest.approx(direct, rel=1e-12)


def test_population_mean_spend_matches_spreadsheet_and_simulation(gg: GammaGamma) -> None:
    # Published: customers without repeat purchases get the population mean, 35.17 in Hardie's
    # spreadsheet (quoted in lifetimes' tests, 2 decimals)
    assert round(gg.population_mean_spend(), 2) == 35.17
    # and E[Z] = E[p / nu] with nu ~ Gamma(q, gamma), by simulation (numpy only), 4 Monte Carlo SEs
    p, q, g = 6.25, 3.74, 15.44
    z = p / np.random.default_rng(4).gamma(q, 1.0 / g, 400_000)
    model = GammaGamma().set_params(p=p, q=q, gamma=g).population_mean_spend()
    assert abs(z.mean() - model) < 4 * z.std() / np.sqrt(z.size)
    with pytest.raises(ModelError):
        GammaGamma().set_params(p=p, q=0.9, gamma=g).population_mean_spend()


def test_independence_check_warns_on_strong_correlation() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, 500)
    s = pd.DataFrame({"frequency": x, "monetary_value": 10 * x + rng.normal(0, 1, 500).clip(-5, 5)})
    with pytest.warns(UserWarning, match="correlated"):
        res = independence_check(s)
    assert res["strong"] and res["pearson"] > 0.9
    calm = pd.DataFrame({"frequency": x, "monetary_value": rng.gamma(5, 5, 500)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not independence_check(calm)["strong"]


def test_degenerate_inputs() -> None:
    with pytest.raises(ModelError):
        GammaGamma().fit(pd.DataFrame({"frequency": [0, 0, 1], "monetary_value": [0.0, 0.0, 3.0]}))
    with pytest.raises(ModelError):
        GammaGamma().fit(pd.DataFrame({"frequency": [1, 2, 3, 4], "monetary_value": [5.0] * 4}))
