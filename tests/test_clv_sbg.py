"""sBG retention model against Fader & Hardie (2007) and DERL of Fader & Hardie (2010).

Published (FH 2007, fitted to years 1-7 of 1,000-customer cohorts): regular alpha 0.704, beta
1.182; high end alpha 0.668, beta 3.806 (3 decimals).  The observed survival series (active of
1,000, years 0-12) are the paper's Table 1, bundled as :func:`fader_hardie_2007_example`; the paper
shows the sBG projection for years 8-12 tracking them closely (Fig. 4).  Survival, retention and
DERL are checked against direct numerical integration / brute-force sums computed here.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from clm_utils.clv import ShiftedBetaGeo, fader_hardie_2007_example
from clm_utils.errors import DataError, ModelError, ParameterError


def test_example_data_shape() -> None:
    """The bundled table is FH 2007 Table 1.  Its values are not compared with a retyped copy here (that
    would compare the project with itself): years 0-7 are checked by reproducing the published
    3-decimal estimates below, years 8-12 by the published projection staying close to them."""
    ex = fader_hardie_2007_example()
    assert list(ex.index) == list(range(13)) and list(ex.columns) == ["regular", "high_end"]
    assert (ex.loc[0] == 1000).all() and (ex.diff().iloc[1:] <= 0).all().all()
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


def test_survival_and_retention_against_direct_integration() -> None:
    """Independent reference: S(t) = E[(1 - theta)^t] with theta ~ Beta(a, b), integrated numerically
    (scipy.integrate.quad against scipy.stats.beta), and r_t = S(t) / S(t-1)."""
    a, b = 0.704, 1.182
    m = ShiftedBetaGeo().set_params(alpha=a, beta=b)
    t = np.arange(1, 13)
    dens = stats.beta(a, b).pdf
    brute = np.array([integrate.quad(lambda th, k=k: (1 - th) ** k * dens(th), 0, 1, limit=200)[0] for k in t])
    np.testing.assert_allclose(m.survival_function(t), brute, rtol=1e-7)
    np.testing.assert_allclose(m.retention_rate(t), brute / np.r_[1.0, brute[:-1]], rtol=1e-7)
    # S(1) = 1 - E[theta] = 1 - a/(a+b); S(0) = 1
    assert m.survival_function(1) == pytest.approx(1 - a / (a + b), rel=1e-12)
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
