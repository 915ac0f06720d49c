"""Large bases: heavy per-customer statistics on a seeded sample of customers (clm_utils.data.sampling).

What is checked, and against what:

* the sample itself: its size, determinism, proportional strata, and no sample at or below the
  threshold (brute force);
* a statistic on a sample agrees with the same statistic on the whole base within the sample's
  stated sampling error: the whole-base lifecycle curve (computed with sampling off) lies inside
  the 95% bootstrap band of a 10% sample for ~95% of 40 seeds (coverage, Monte Carlo margin
  stated below); stage validity's P(no purchase) and the Cox hazard ratios of a sample lie within
  two interval half-widths of the whole-base values;
* every sampled output says so (a note with "sample of N of M customers");
* below the threshold nothing changes: outputs are identical to those with sampling off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils import lifecycle, survival
from clm_utils.data.sampling import SAMPLE_ABOVE, sample_limit, sample_positions, sample_transactions
from clm_utils.synth import simulate_transactions

BIG = 40_000
LIMIT = 4_000


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    """A BG/NBD + Gamma-Gamma base of 40,000 customers over two years (known-truth simulation)."""
    return simulate_transactions(BIG, r=0.6, alpha=9.0, a=0.8, b=2.5, start="2022-01-01", acquisition_days=360,
                                 observation_end="2023-12-31", seed=5)


def test_sample_positions_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sample_positions(1000, limit=1000) is None
    pos = sample_positions(1001, limit=100, seed=3)
    assert pos is not None and len(pos) == 100 and len(np.unique(pos)) == 100 and np.all(np.diff(pos) > 0)
    assert np.array_equal(pos, sample_positions(1001, limit=100, seed=3))
    assert not np.array_equal(pos, sample_positions(1001, limit=100, seed=4))
    strata = np.r_[np.zeros(900, int), np.ones(100, int), [2]]  # 900 / 100 / 1
    spos = sample_positions(1001, limit=100, seed=3, strata=strata)
    assert np.bincount(strata[spos]).tolist() == [90, 10, 1]  # proportional; a tiny stratum keeps one
    monkeypatch.setenv("CLM_SAMPLE_ABOVE", "0")
    assert sample_limit() is None and sample_positions(10**6) is None
    monkeypatch.setenv("CLM_SAMPLE_ABOVE", "50")
    assert sample_limit() == 50
    monkeypatch.delenv("CLM_SAMPLE_ABOVE")
    assert sample_limit() == SAMPLE_ABOVE >= 30_000  # CDNOW (23,570 customers) is never sampled


def test_sample_transactions_keeps_whole_customers(base: pd.DataFrame) -> None:
    sub, note = sample_transactions(base, limit=LIMIT, seed=1)
    assert sub["customer_id"].nunique() == LIMIT
    counts = sub["customer_id"].value_counts()
    assert (counts == base["customer_id"].value_counts().reindex(counts.index)).all()
    assert note is not None and f"sample of {LIMIT:,} of {BIG:,} customers" in note
    same, none = sample_transactions(base, limit=BIG, seed=1)
    assert same is base and none is None


@pytest.mark.slow
def test_lifecycle_curve_of_a_sample_covers_the_whole_base(base: pd.DataFrame) -> None:
    """Coverage over 40 seeds of the 95% band of a 10% sample for the whole-base curve at ages 1 and 6.

    Per seed the band should cover with probability ~0.95 (slightly more: the finite-population
    correction for a 10% sample is not applied, so the band is ~5% too wide).  With 40 seeds and
    2 ages, 80 checks; under p = 0.95 the number of misses is Binomial(80, 0.05) (mean 4) and
    P(misses >= 12) < 0.002, so the test fails only if the bands do not carry the sampling error.
    """
    full = lifecycle.lifecycle_curves(base, period="M", basis="acquired", n_boot=100, sample_above=0).table
    misses = 0
    for seed in range(40):
        c = lifecycle.lifecycle_curves(base, period="M", basis="acquired", n_boot=100, seed=seed, sample_above=LIMIT)
        assert c.note and f"{LIMIT:,} of {BIG:,}" in c.note
        t = c.table
        for age in (1, 6):
            misses += not (t.loc[age, "volume_lower"] <= full.loc[age, "volume"] <= t.loc[age, "volume_upper"])
    assert misses < 12


def test_stage_validity_on_a_sample_agrees_with_the_whole_base(base: pd.DataFrame) -> None:
    full = lifecycle.stage_validity(base, "2023-06-30", n_boot=50, sample_above=0)
    part = lifecycle.stage_validity(base, "2023-06-30", n_boot=50, sample_above=LIMIT, seed=7)
    assert any(f"sample of {LIMIT:,} of" in n for n in part.notes)
    assert not any("sample" in n for n in full.notes)
    assert part.table["customers"].sum() == LIMIT
    both = full.table.join(part.table.add_suffix("_s"))
    both = both[(both["customers"] >= 200) & (both["customers_s"] >= 20)]
    assert len(both) >= 3
    half = (both["p_no_purchase_upper_s"] - both["p_no_purchase_lower_s"]) / 2
    assert ((both["p_no_purchase"] - both["p_no_purchase_s"]).abs() <= 2 * half).all()
    # the thresholds are those of the whole base, so the stage rule is the run's
    assert part.params == full.params


def test_stage_sensitivity_and_cox_say_they_sampled(base: pd.DataFrame) -> None:
    sens = lifecycle.stage_sensitivity(base, grid={"decline_ratio": [0.5]}, sample_above=LIMIT)
    full = lifecycle.stage_sensitivity(base, grid={"decline_ratio": [0.5]}, sample_above=0)
    assert f"{LIMIT:,} of {BIG:,}" in sens.attrs["note"] and "note" not in full.attrs
    shares = list(lifecycle.STAGES)
    se = np.sqrt(full[shares].to_numpy() * (1 - full[shares].to_numpy()) / LIMIT)
    assert (np.abs(sens[shares].to_numpy() - full[shares].to_numpy()) <= 4 * se + 1e-12).all()

    dur = survival.churn_durations(base, "2023-12-31", inactivity=26, time_unit="W")
    cox_s, data_s, note_s = survival.early_period_cox(base, dur, 13, "W", sample_above=LIMIT, seed=2)
    cox_f, data_f, note_f = survival.early_period_cox(base, dur, 13, "W", sample_above=0)
    assert cox_s is not None and cox_f is not None
    assert f"{LIMIT:,} of" in note_s and note_f == "" and len(data_s) == LIMIT
    hr_s, hr_f = cox_s.summary, cox_f.summary
    coef = [c for c in hr_f.index if c in hr_s.index]
    assert coef
    for c in coef:
        assert abs(hr_s.loc[c, "coef"] - hr_f.loc[c, "coef"]) <= 4 * hr_s.loc[c, "se(coef)"]


def test_nothing_changes_below_the_threshold(cdnow_sample: pd.DataFrame) -> None:
    """CDNOW's sample (2,357 customers) with the default threshold equals sampling switched off."""
    a = lifecycle.stage_validity(cdnow_sample, "1997-09-30", n_boot=30)
    b = lifecycle.stage_validity(cdnow_sample, "1997-09-30", n_boot=30, sample_above=0)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    assert a.notes == b.notes
    ca = lifecycle.lifecycle_curves(cdnow_sample, n_boot=30)
    cb = lifecycle.lifecycle_curves(cdnow_sample, n_boot=30, sample_above=0)
    pd.testing.assert_frame_equal(ca.table, cb.table)
    assert ca.note is None
    sa = lifecycle.stage_sensitivity(cdnow_sample, grid={"decline_ratio": [0.5]})
    assert "note" not in sa.attrs


def test_group_comparison_and_stage_cox_on_a_sample(base: pd.DataFrame) -> None:
    dur = survival.churn_durations(base, "2023-12-31", inactivity=26, time_unit="W")
    groups = {"cohort": survival.quantile_bands(dur["first_amount"], 3)}  # three large groups
    full = survival.compare_groups(dur, groups, sample_above=0)
    part = survival.compare_groups(dur, groups, sample_above=LIMIT, seed=3)
    assert full.note == "" and f"sample of {LIMIT:,} of {BIG:,}" in part.note
    for g, fit in part.fits["cohort"].items():
        s = fit.survival_function_
        row = s.loc[s.index <= 26].iloc[-1]
        truth = float(full.fits["cohort"][g].predict([26]).iloc[0])
        assert abs(truth - row["survival"]) <= (row["upper"] - row["lower"])  # two half-widths
    st_full = survival.stage_churn(base, "2023-12-31", 26, 26, "W", sample_above=0)
    st_part = survival.stage_churn(base, "2023-12-31", 26, 26, "W", sample_above=LIMIT, seed=3)
    assert "Cox model" in st_part.note and "stratified by stage" in st_part.note
    assert st_full.cox is not None and st_part.cox is not None
    a, b = st_full.cox.summary, st_part.cox.summary
    for c in a.index:
        assert abs(a.loc[c, "coef"] - b.loc[c, "coef"]) <= 4 * b.loc[c, "se(coef)"]
    # the curves and the log-rank test use everyone
    assert st_part.logrank.statistic == st_full.logrank.statistic


def test_group_comparison_unchanged_below_the_threshold(cdnow_sample: pd.DataFrame) -> None:
    dur = survival.churn_durations(cdnow_sample, "1998-06-30", inactivity=26, time_unit="W")
    groups = {"band": survival.quantile_bands(dur["first_amount"], 4)}
    a, b = survival.compare_groups(dur, groups), survival.compare_groups(dur, groups, sample_above=0)
    pd.testing.assert_frame_equal(a.logrank, b.logrank)
    assert a.note == ""


@pytest.mark.parametrize("churn_time", ["last_purchase", "declared"])
def test_durations_by_window_equal_one_call_per_window(cdnow_sample: pd.DataFrame, churn_time: str) -> None:
    """The one-pass version against the reference: churn_durations called once per window."""
    windows = [13, "26W", 39.5]
    got = survival.churn_durations_by_window(cdnow_sample, "1998-03-31", windows, "W", churn_time)
    for w in windows:
        ref = survival.churn_durations(cdnow_sample, "1998-03-31", inactivity=w, time_unit="W", churn_time=churn_time)
        pd.testing.assert_frame_equal(got[w], ref, check_exact=True)
