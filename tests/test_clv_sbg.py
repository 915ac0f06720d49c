"""sBG retention model against Fader & Hardie (2007) and DERL of Fader & Hardie (2010).

Published (FH 2007, fitted to years 1-7 of 1,000-customer cohorts): regular alpha 0.704, beta
1.182; high end alpha 0.668, beta 3.806 (3 decimals).  The observed survival series (% alive,
years 0-12) are the paper's Table 1, reproduced by :func:`fader_hardie_2007_example`; the paper
shows the sBG projection for years 8-12 tracking them closely (Fig. 4).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from clm_utils.clv import ShiftedBetaGeo, fader_hardie_2007_example
from clm_utils.errors import DataError, ModelError, ParameterError

REGULAR = [100, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1, 22.3, 20.7, 19.4, 18.3, 17.3]
HIGH_END = [100, 86.9, 74.3, 65.3, 59.3, 55.1, 51.7, 49.1, 46.8, 44.5, 42.7, 40.9, 39.4]


def test_example_data_is_the_published_table() -> None:
    ex = fader_hardie_2007_example()
    np.testing.assert_allclose(ex["regular"] / 10, REGULAR)
    np.testing.assert_allclose(ex["high_end"] / 10, HIGH_END)
    assert ShiftedBetaGeo.fader_hardie_2007_example().equals(ex)


@pytest.mark.parametrize("segment, expected", [("regular", [0.704, 1.182]), ("high_end", [0.668, 3.806])])
def test_reproduces_published_estimates(segment: str, expected: list[float]) -> None:
    ex = fader_hardie_2007_example()
    m = ShiftedBetaGeo().fit(ex[segment].loc[:7])
    assert m.params_.round(3).tolist() == expected  # 3 decimals published
    # projection to years 8-12 stays within 2 percentage points of the observed survival
    proj = 100 * m.survival_function(np.arange(8, 13))
    obs = (ex[segment].loc[8:12] / 10).to_numpy()
    assert np.max(np.abs(proj - obs)) < 2.0
    # shares give the same point estimates
    m2 = ShiftedBetaGeo().fit(ex[segment].loc[:7] / 1000, cohort_size=1000)
    np.testing.assert_allclose(m2.params_, m.params_, rtol=1e-6)


def test_survival_and_retention_closed_forms() -> None:
    m = ShiftedBetaGeo().set_params(alpha=0.704, beta=1.182)
    a, b = 0.704, 1.182
    # S(t) = prod_{i=1..t} r_i
    t = np.arange(1, 13)
    r = m.retention_rate(t)
    np.testing.assert_allclose(np.cumprod(r), m.survival_function(t), rtol=1e-12)
    # S(1) = 1 - P(T=1) = 1 - a/(a+b)
    assert m.survival_function(1) == pytest.approx(1 - a / (a + b))
    assert m.survival_function(0) == pytest.approx(1.0)


def test_derl_equals_brute_force_sum() -> None:
    m = ShiftedBetaGeo().set_params(alpha=0.668, beta=3.806)
    d = 0.10
    for n_renewals in (0, 1, 4):
        n = n_renewals + 1
        # sum_{t>=n} S(t)/S(n-1) / (1+d)^(t-n)
        t = np.arange(n, n + 5000)
        S = np.exp(special.betaln(0.668, 3.806 + t) - special.betaln(0.668, 3.806 + n - 1))
        brute = np.sum(S / (1 + d) ** (t - n))
        assert m.discounted_expected_residual_lifetime(d, periods_survived=n_renewals) == pytest.approx(brute, rel=1e-6)
    # DEL counts the acquisition payment: DEL = 1 + DERL(0 renewals)/(1+d)
    assert m.discounted_expected_lifetime(d) == pytest.approx(1 + m.discounted_expected_residual_lifetime(d, 0) / (1 + d))


def test_errors_and_plot() -> None:
    with pytest.raises(DataError):
        ShiftedBetaGeo().fit([1000])
    with pytest.raises(DataError):
        ShiftedBetaGeo().fit([1000, 800, 900])
    with pytest.raises(ModelError):
        ShiftedBetaGeo().fit([1000, 1000, 1000])
    m = ShiftedBetaGeo().fit([1000, 631, 468, 382, 326])
    with pytest.raises(ParameterError):
        m.discounted_expected_residual_lifetime(-0.1)
    with pytest.raises(ParameterError):
        m.retention_rate(0)
    ax = m.plot_survival(horizon=12)
    assert ax.get_ylabel() == "% of cohort still active"
