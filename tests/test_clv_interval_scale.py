"""CLV intervals on large bases: the parameter draws on a stratified sample, scaled to every customer.

Above ``MAX_CUSTOMER_INTERVALS`` customers the shared stage evaluates the draws on a seeded
sample stratified by segment and applies the sample's relative uncertainty to the estimate over
every customer (a ratio estimator).  Reference: the same stage with the draws on every customer
(the exact computation), on full CDNOW (23,570 customers), with the threshold lowered so that the
sample path runs on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils import analysis, config
from clm_utils.analysis import stage
from clm_utils.data.sampling import sample_positions
from clm_utils.settings import Settings

SETTINGS = {"data_path": str(config.CDNOW_MASTER), "as_of": "1998-06-30", "calibration_end": "1997-09-30",
            "zero": "keep", "duplicates": "keep"}


def test_stratified_sample_keeps_a_floor_per_segment():
    seg = pd.Series(["a"] * 9_000 + ["b"] * 900 + ["c"] * 100)
    pos = sample_positions(len(seg), limit=1_000, strata=seg.to_numpy(), minimum=300, seed=3)
    got = seg.iloc[pos].value_counts()
    assert got["a"] == 900 and got["b"] == 300 and got["c"] == 100  # share, floor, all of a small one
    assert np.all(np.diff(pos) > 0)
    assert np.array_equal(pos, sample_positions(len(seg), limit=1_000, strata=seg.to_numpy(), minimum=300, seed=3))
    # the default floor of one keeps the proportional allocation
    got = seg.iloc[sample_positions(len(seg), limit=1_000, strata=seg.to_numpy(), seed=3)].value_counts()
    assert (got["a"], got["b"], got["c"]) == (900, 90, 10)


@pytest.mark.slow  # two analyses of full CDNOW (about 40 s)
def test_sampled_intervals_match_the_exact_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("CLM_CACHE_DIR", str(tmp_path / "exact"))
    exact = analysis.load(Settings.from_mapping(SETTINGS)).clv_interval
    monkeypatch.setenv("CLM_CACHE_DIR", str(tmp_path / "sampled"))
    monkeypatch.setattr(stage, "MAX_CUSTOMER_INTERVALS", 5_000)
    monkeypatch.setattr(stage, "INTERVAL_SAMPLE", 6_000)
    monkeypatch.setattr(stage, "INTERVAL_SEGMENT_MIN", 500)
    run = analysis.load(Settings.from_mapping(SETTINGS))
    sampled = run.clv_interval
    assert any("seeded sample of" in n and "23,570 customers" in n for n in run.notes)
    assert sampled.index.tolist() == exact.index.tolist()
    assert sampled["customers"].tolist() == exact["customers"].tolist()
    # the estimates are those over every customer
    np.testing.assert_allclose(sampled["clv_total"], exact["clv_total"], rtol=1e-9)
    # the interval's half-widths agree within 15% for the total and every segment with 500+ customers
    big = exact["customers"] >= 500
    for side in ("lower", "upper"):
        w_exact = (exact[f"clv_total_{side}"] - exact["clv_total"]).abs()[big]
        w_sampled = (sampled[f"clv_total_{side}"] - sampled["clv_total"]).abs()[big]
        np.testing.assert_allclose(w_sampled, w_exact, rtol=0.15, err_msg=side)
