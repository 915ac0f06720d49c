"""BG/BB on the donations data of Fader, Hardie & Shang (2010).

Published: alpha 1.204, beta 0.750, gamma 0.657, delta 2.783, LL -33,225.6 (FHS 2010, Table 3);
Table 6 P(alive in 2002) = 0.11 (x=0, t_x=0), 0.59 (x=2, t_x=4), 0.93 (x=6, t_x=6); Hardie's BG/BB
spreadsheet (quoted in lifetimes' tests): expected transactions 2002-2006 summed over donors
12,884.2, and expected donors with 0 and 6 repeat donations in 1996-2001: 3,454.9 and 1,253.1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils import config
from clm_utils.clv import BetaGeoBetaBinom
from clm_utils.errors import DataError, ModelError


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    return pd.read_csv(config.DONATIONS)


@pytest.fixture(scope="module")
def bgbb(donations: pd.DataFrame) -> BetaGeoBetaBinom:
    return BetaGeoBetaBinom().fit(donations, weights="weights")


def test_reproduces_published_estimates(bgbb: BetaGeoBetaBinom, donations: pd.DataFrame) -> None:
    assert donations["weights"].sum() == 11104
    # 3 decimals published: equal after rounding; LL to 0.1
    assert bgbb.params_.round(3).tolist() == [1.204, 0.750, 0.657, 2.783]
    assert bgbb.log_likelihood_ == pytest.approx(-33225.6, abs=0.1)


def test_table6_p_alive(bgbb: BetaGeoBetaBinom, donations: pd.DataFrame) -> None:
    pa = bgbb.conditional_probability_alive(donations)

    def at(x: int, tx: int) -> float:
        return float(pa[(donations["frequency"] == x) & (donations["recency"] == tx)].iloc[0])

    # 2 decimals published
    assert round(at(0, 0), 2) == 0.11
    assert round(at(2, 4), 2) == 0.59
    assert round(at(6, 6), 2) == 0.93


def test_conditional_expectations_total_matches_spreadsheet(bgbb: BetaGeoBetaBinom, donations: pd.DataFrame) -> None:
    e = bgbb.conditional_expected_number_of_purchases_up_to_time(5, donations)
    assert float((e * donations["weights"]).sum()) == pytest.approx(12884.2, abs=0.05)


def test_in_sample_frequency_matches_spreadsheet(bgbb: BetaGeoBetaBinom) -> None:
    p = bgbb.probability_of_n_purchases_up_to_time(6, [0, 6]) * 11104
    np.testing.assert_allclose(p, [3454.9, 1253.1], atol=0.05)


def test_pmf_and_expectation_are_consistent(bgbb: BetaGeoBetaBinom) -> None:
    """Internal consistency of two separately coded formulas (the pmf and E[X(n)]); the independent
    checks are the spreadsheet values above and the simulation below."""
    p = bgbb.probability_of_n_purchases_up_to_time(10, np.arange(11))
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert (np.arange(11) * p).sum() == pytest.approx(bgbb.expected_number_of_purchases_up_to_time(10), rel=1e-10)


def test_simulation_check_of_expectation() -> None:
    m = BetaGeoBetaBinom().set_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    rng = np.random.default_rng(5)
    n, periods = 200_000, 6
    p = rng.beta(1.2, 0.75, n)
    theta = rng.beta(0.66, 2.8, n)
    alive = np.ones(n, bool)
    count = np.zeros(n)
    for _ in range(periods):
        alive &= rng.random(n) >= theta  # may die at the start of each period
        count += alive & (rng.random(n) < p)
    assert count.mean() == pytest.approx(m.expected_number_of_purchases_up_to_time(periods), abs=4 * count.std() / np.sqrt(n))
    # and the whole distribution P(X(6) = k), k = 0..6, against the simulated shares (4 binomial SEs each)
    pmf = m.probability_of_n_purchases_up_to_time(periods, np.arange(periods + 1))
    share = np.bincount(count.astype(int), minlength=periods + 1) / n
    np.testing.assert_array_less(np.abs(share - pmf), 4 * np.sqrt(pmf * (1 - pmf) / n))


def test_weights_equal_expanded_rows(bgbb: BetaGeoBetaBinom, donations: pd.DataFrame) -> None:
    expanded = donations.loc[donations.index.repeat(donations["weights"])].drop(columns="weights")
    m = BetaGeoBetaBinom().fit(expanded)
    np.testing.assert_allclose(m.params_, bgbb.params_, rtol=1e-6)


def test_degenerate_inputs() -> None:
    with pytest.raises(ModelError):
        BetaGeoBetaBinom().fit(pd.DataFrame({"frequency": [0, 0], "recency": [0, 0], "periods": [6, 6]}))
    with pytest.raises(DataError):
        BetaGeoBetaBinom().fit(pd.DataFrame({"frequency": [3, 1], "recency": [2, 1], "periods": [6, 6]}))
    with pytest.raises(DataError):
        BetaGeoBetaBinom().fit(pd.DataFrame({"frequency": [1.5, 1], "recency": [2, 1], "periods": [6, 6]}))
