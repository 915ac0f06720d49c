"""The satisfaction chain on simulated data: power where there is an effect, calibration where there is none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils.errors import ModelError, ParameterError
from clm_utils.satisfaction import satisfaction_chain


def _simulate(n: int, effect: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.Series]:
    """Scores 1-5; with ``effect`` > 0 a higher score raises repurchase odds, P(alive) and holdout purchases and
    lowers the churn hazard; with 0 every outcome is independent of the score."""
    rng = np.random.default_rng(seed)
    idx = pd.Index([f"{i:05d}" for i in range(n)], name="customer_id")
    score = rng.integers(1, 6, n)
    c = score - 3.0
    repurchase = rng.random(n) < 1 / (1 + np.exp(-(0.2 + effect * c)))
    frequency = np.where(repurchase, rng.poisson(2.0, n) + 1, 0)
    p_alive = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + effect * c)))
    duration = rng.exponential(1.0 / (0.05 * np.exp(-effect * c)))
    event = (duration < 40).astype(int)
    holdout = pd.Series(rng.poisson(np.exp(0.0 + effect * c)), index=idx)
    customers = pd.DataFrame({"frequency": frequency.astype(float), "p_alive": p_alive}, index=idx)
    attrs = pd.DataFrame({"satisfaction": score.astype(float)}, index=idx)
    durations = pd.DataFrame({"duration": np.minimum(duration, 40.0), "event": event}, index=idx)
    return customers, attrs, durations, holdout


def test_finds_a_true_effect() -> None:
    cust, attrs, dur, hold = _simulate(1500, 0.3, 1)
    attrs.iloc[:7, 0] = np.nan  # customers without a score are counted, not lost silently
    out = satisfaction_chain(cust, attrs, "satisfaction", durations=dur, holdout=hold)
    assert out.verdict == "supported"
    assert out.n_missing == 7
    assert set(out.tests.index) == {"repurchase", "p_alive", "churn_hazard", "holdout_purchases"}
    assert out.tests.loc["churn_hazard", "estimate"] < 1
    # the Cox hazard ratio per point estimates exp(-0.3) = 0.741
    assert out.tests.loc["churn_hazard", "lower"] < np.exp(-0.3) < out.tests.loc["churn_hazard", "upper"]
    assert list(out.by_level.index) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert out.by_level["customers"].sum() == 1500 - 7
    assert out.by_level["repurchase_rate"].is_monotonic_increasing
    assert "supported" in out.describe()


@pytest.mark.slow
def test_power_over_seeds() -> None:
    """A moderate effect (0.15 per point, n = 1000) is found by every link in at least 80% of 40 data sets."""
    hits = np.zeros(4)
    for seed in range(40):
        cust, attrs, dur, hold = _simulate(1000, 0.15, 100 + seed)
        t = satisfaction_chain(cust, attrs, "satisfaction", durations=dur, holdout=hold).tests
        hits += (t["verdict"] == "supported").to_numpy()
    assert np.all(hits / 40 >= 0.8), hits


@pytest.mark.slow
def test_null_calibration() -> None:
    """No effect: each link is called supported in at most 5% of 200 data sets plus a Monte Carlo margin
    of 3 SE (3 sqrt(0.05 * 0.95 / 200) = 0.046).  (Two-sided tests with a direction requirement: the expected
    rate is about 2.5%.)  Also the overall verdict is "supported" at most that often."""
    n_rep = 200
    hits = np.zeros(4)
    overall = 0
    for seed in range(n_rep):
        cust, attrs, dur, hold = _simulate(400, 0.0, 1000 + seed)
        out = satisfaction_chain(cust, attrs, "satisfaction", durations=dur, holdout=hold)
        hits += (out.tests["verdict"] == "supported").to_numpy()
        overall += out.verdict == "supported"
    limit = 0.05 + 3 * np.sqrt(0.05 * 0.95 / n_rep)
    assert np.all(hits / n_rep <= limit), hits / n_rep
    assert overall / n_rep <= limit


def test_refusals() -> None:
    cust, attrs, _, _ = _simulate(100, 0.0, 5)
    with pytest.raises(ParameterError):
        satisfaction_chain(cust, attrs, "nps")
    with pytest.raises(ModelError):
        satisfaction_chain(cust, attrs.assign(satisfaction=3.0), "satisfaction")
    with pytest.raises(ParameterError, match="not numeric"):
        satisfaction_chain(cust, attrs.assign(satisfaction="good"), "satisfaction")
    only = satisfaction_chain(cust, attrs, "satisfaction")  # without durations and holdout: two links
    assert list(only.tests.index) == ["repurchase", "p_alive"]
