"""The customer summary against a table computed by hand and against the published CDNOW counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils.errors import DataError, ParameterError
from clm_utils.summary import calibration_holdout, resolve_dates, summarize


@pytest.fixture
def small() -> pd.DataFrame:
    rows = [
        ("A", "2024-01-01", 10.0), ("A", "2024-01-01", 5.0), ("A", "2024-01-08", 20.0), ("A", "2024-01-22", 30.0),
        ("B", "2024-01-15", 12.0),
        ("C", "2024-02-05", 99.0),
        ("D", "2024-01-03", 8.0), ("D", "2024-01-10", 4.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def test_summary_matches_hand_computed_table(small):
    s = summarize(small, "2024-01-29", "W")
    # by hand: A buys on 3 days (same-day purchases merged): 01-01 (15), 01-08 (20), 01-22 (30)
    expected = pd.DataFrame(
        {"frequency": [2, 0, 1], "recency": [3.0, 0.0, 1.0], "T": [4.0, 2.0, 26 / 7],
         "monetary_value": [25.0, 0.0, 4.0], "n_transactions": [4, 1, 2], "n_purchase_days": [3, 1, 2],
         "total_amount": [65.0, 12.0, 12.0], "first_amount": [15.0, 12.0, 8.0]},
        index=pd.Index(["A", "B", "D"], name="customer_id"),
    )
    pd.testing.assert_frame_equal(s[expected.columns], expected, check_dtype=False)
    assert s.loc["A", "first_purchase"] == pd.Timestamp("2024-01-01")
    assert s.loc["A", "last_purchase"] == pd.Timestamp("2024-01-22")


def test_time_units(small):
    days = summarize(small, "2024-01-29", "D")
    assert days.loc["A", ["recency", "T"]].tolist() == [21.0, 28.0]
    months = summarize(small, "2024-01-29", "M")
    assert months.loc["A", "T"] == pytest.approx(28 / (365.25 / 12))
    with pytest.raises(ParameterError, match="time unit"):
        summarize(small, "2024-01-29", "fortnight")


def test_calibration_holdout_by_hand(small):
    s = calibration_holdout(small, "2024-01-10", "2024-01-29", "W")
    assert s.index.tolist() == ["A", "D"]  # B and C are first seen after the calibration end
    assert s.loc["A", ["frequency", "recency", "T"]].tolist() == [1, 1.0, 9 / 7]
    assert s.loc["A", ["frequency_holdout", "monetary_value_holdout"]].tolist() == [1, 30.0]
    assert s.loc["D", ["frequency", "T", "frequency_holdout", "monetary_value_holdout"]].tolist() == [1, 1.0, 0, 0.0]
    assert (s["duration_holdout"] == 19 / 7).all()


def test_cdnow_sample_matches_published_counts(cdnow_sample_cal):
    # Fader, Hardie & Lee (2005) and ../shared/data/README.md: 2,357 customers, 2,457 repeat purchase days in
    # calibration (946 repeat buyers), 1,882 purchase days in the 39-week holdout
    s = cdnow_sample_cal
    assert len(s) == 2_357
    assert int(s["frequency"].sum()) == 2_457
    assert int((s["frequency"] > 0).sum()) == 946
    assert int(s["frequency_holdout"].sum()) == 1_882
    assert s["T"].max() == pytest.approx(272 / 7)  # first buyers of 1997-01-01 have T = 38.86 weeks
    assert (s["duration_holdout"] == 273 / 7).all()  # 39 weeks
    assert ((s["recency"] <= s["T"]) & (s["recency"] >= 0)).all()


def test_summary_columns_are_consistent(cdnow_master):
    s = summarize(cdnow_master)
    assert len(s) == 23_570
    assert (s["frequency"] == s["n_purchase_days"] - 1).all()
    repeat = s["frequency"] > 0
    recomputed = (s["total_amount"] - s["first_amount"])[repeat] / s["frequency"][repeat]
    np.testing.assert_allclose(s.loc[repeat, "monetary_value"], recomputed)
    assert (s.loc[~repeat, ["recency", "monetary_value"]] == 0).all().all()
    assert s.index.is_monotonic_increasing


def test_resolve_dates_defaults_reproduce_the_published_split(cdnow_master):
    cal, obs = resolve_dates(cdnow_master)
    assert (str(cal.date()), str(obs.date())) == ("1997-09-30", "1998-06-30")


def test_resolve_dates_rejects_bad_dates(small):
    with pytest.raises(ParameterError, match="not before"):
        resolve_dates(small, "2024-01-10", "2024-01-20")
    with pytest.raises(ParameterError, match="before the first transaction"):
        resolve_dates(small, "2023-01-01")
    with pytest.raises(ParameterError, match="not a date"):
        resolve_dates(small, "soon")


def test_no_transactions_before_observation_end(small):
    with pytest.raises(DataError, match="no transactions on or before"):
        summarize(small, "2023-12-31")
