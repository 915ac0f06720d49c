"""The customer attribute table: loading, validation, joins and profiles (numbers worked out by hand)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clm_utils.attributes import (
    attribute_profiles,
    describe_attributes,
    join_attributes,
    load_attributes,
)
from clm_utils.errors import DataError, ModelError, ParameterError

CSV = """Customer ID;channel;region_code;age;signup;satisfaction
00123;web;0101;34;2021-03-05;4
00124;shop;0102;51;2020-11-30;
77;web;0101;29;2022-01-15;5
;web;0101;40;2022-01-16;3
"""


def _write(tmp_path: Path, text: str, name: str = "cust.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_keeps_ids_and_detects_kinds(tmp_path: Path) -> None:
    frame, quality = load_attributes(_write(tmp_path, CSV))
    assert list(frame.index) == ["00123", "00124", "77"]  # as written, sorted; the row without id dropped
    assert frame.attrs["kinds"] == {"channel": "categorical", "region_code": "categorical", "age": "numeric",
                                    "signup": "date", "satisfaction": "numeric"}
    assert frame.loc["00123", "region_code"] == "0101"  # a code with leading zeros stays text
    assert frame.loc["00124", "signup"] == pd.Timestamp("2020-11-30")
    assert np.isnan(frame.loc["00124", "satisfaction"])
    q = quality.to_frame().set_index("check")
    assert q.loc["attribute rows without a customer id (dropped)", "count"] == 1
    assert q.loc["attribute rows read", "count"] == 4
    desc = describe_attributes(frame)
    assert desc.loc["age", "summary"] == "29 – 51, median 34"
    assert desc.loc["satisfaction", "missing"] == 1
    assert desc.loc["channel", "summary"] == "web (2), shop (1)"


def test_float_ids_are_normalised_like_transactions(tmp_path: Path) -> None:
    frame, quality = load_attributes(_write(tmp_path, "CustomerID,tier\n17850.0,a\n13047.0,b\n"))
    assert list(frame.index) == ["13047", "17850"]
    assert "floats" in quality.to_frame()["check"].str.cat()


def test_duplicate_id_is_one_clear_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "client,tier\n1,a\n2,b\n1,c\n")
    with pytest.raises(DataError) as err:
        load_attributes(path)
    line = err.value.one_line()
    assert "'1' appears on 2 rows" in line and "rows 2, 4" in line and "\n" not in line


def test_id_column_named_and_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, "who,tier\nA,x\nB,y\n")
    with pytest.raises(DataError, match="no customer id column"):
        load_attributes(path)
    frame, _ = load_attributes(path, id_column="who")
    assert list(frame.columns) == ["tier"]
    with pytest.raises(ParameterError, match="no column 'nope'"):
        load_attributes(path, id_column="nope")


def test_parquet_and_excel(tmp_path: Path) -> None:
    src = pd.DataFrame({"customer_id": ["007", "008"], "spend_band": ["hi", "lo"], "age": [30.0, 40.0],
                        "signup": pd.to_datetime(["2020-01-01", "2021-06-01"])})
    src.to_parquet(tmp_path / "a.parquet")
    frame, _ = load_attributes(tmp_path / "a.parquet")
    assert frame.attrs["kinds"] == {"spend_band": "categorical", "age": "numeric", "signup": "date"}
    src.to_excel(tmp_path / "a.xlsx", index=False)
    frame_x, _ = load_attributes(tmp_path / "a.xlsx")
    assert list(frame_x.index) == ["007", "008"]
    assert frame_x.attrs["kinds"] == frame.attrs["kinds"]
    assert frame_x.loc["008", "signup"] == pd.Timestamp("2021-06-01")


def test_join_counts_missing_and_extra_ids() -> None:
    customers = pd.DataFrame({"revenue": [1.0, 2.0, 3.0, 4.0]}, index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
    attrs = pd.DataFrame({"channel": ["web", "shop", "web"]}, index=pd.Index(["b", "d", "z"], name="customer_id"))
    joined, counts = join_attributes(customers, attrs)
    assert list(joined.index) == ["a", "b", "c", "d"]  # nobody lost
    assert joined["channel"].tolist()[1::2] == ["web", "shop"]
    assert joined["channel"].isna().tolist() == [True, False, True, False]
    assert (counts.customers, counts.matched, counts.without_attributes, counts.without_transactions) == (4, 2, 2, 1)
    assert counts.examples_without_attributes == ["a", "c"] and counts.examples_without_transactions == ["z"]
    assert counts.to_frame()["count"].tolist() == [4, 2, 2, 1]
    with pytest.raises(DataError, match="name of a column"):
        join_attributes(customers, attrs.rename(columns={"channel": "revenue"}))


def test_profiles_against_hand_computed_values() -> None:
    labels = pd.Series(["A", "A", "B", "B", "B", "C"], index=list("uvwxyq"))
    attrs = pd.DataFrame({"channel": ["web", "shop", "web", "web", "shop", None],
                          "age": [20.0, 30.0, 40.0, 50.0, 60.0, np.nan]}, index=list("uvwxyq"))
    prof = attribute_profiles(labels, attrs, order=["A", "B", "C"])
    t = prof.table
    assert t.loc[("channel", "share: web"), "A"] == 0.5
    assert t.loc[("channel", "share: web"), "B"] == pytest.approx(2 / 3)
    assert t.loc[("channel", "share: web"), "all"] == pytest.approx(3 / 5)
    assert np.isnan(t.loc[("channel", "share: web"), "C"])  # C has no channel value
    assert t.loc[("age", "mean"), "A"] == 25.0 and t.loc[("age", "median"), "B"] == 50.0
    # chi-square by hand: table [[1, 1], [2, 1]], expected [[1.2, .8], [1.8, 1.2]]
    # (0.2^2)(1/1.2 + 1/.8 + 1/1.8 + 1/1.2) = 0.138889, df 1
    tests = prof.tests
    assert tests.loc["channel", "statistic"] == pytest.approx(0.04 * (1 / 1.2 + 1 / 0.8 + 1 / 1.8 + 1 / 1.2))
    assert tests.loc["channel", "df"] == 1 and tests.loc["channel", "missing"] == 1
    # Kruskal-Wallis by hand: ranks A {1, 2}, B {3, 4, 5}; H = 12/(5*6) (3^2/2 + 12^2/3) - 3*6 = 3
    assert tests.loc["age", "statistic"] == pytest.approx(3.0)
    assert tests.loc["age", "p_value"] == pytest.approx(stats.chi2.sf(3.0, 1))
    assert tests.loc["age", "p_holm"] == pytest.approx(min(1.0, 2 * tests.loc["age", "p_value"]))
    assert set(tests["verdict"]) == {"no evidence"}


def test_profiles_dates_and_refusals() -> None:
    labels = pd.Series(["A", "B"], index=["u", "v"])
    attrs = pd.DataFrame({"signup": pd.to_datetime(["2020-07-02", "2021-01-01"])}, index=["u", "v"])
    prof = attribute_profiles(labels, attrs)
    # 2020-07-02 is day 183 of a leap year: 2020 + 183/366 = 2020.5
    assert prof.table.loc[("signup", "mean (decimal year)"), "A"] == pytest.approx(2020.5)
    with pytest.raises(ModelError):
        attribute_profiles(pd.Series(["A", "A"], index=["u", "v"]), attrs)
    many = pd.DataFrame({"code": [str(i) for i in range(30)]}, index=[str(i) for i in range(30)])
    with pytest.raises(ParameterError, match="30 distinct values"):
        attribute_profiles(pd.Series(["A", "B"] * 15, index=many.index), many)


def test_chi_square_null_calibration() -> None:
    """With attributes independent of the groups the test rejects at about its level (vectorised draws)."""
    rng = np.random.default_rng(7)
    n_sim, n = 250, 300
    rejections = 0
    idx = [str(i) for i in range(n)]
    for _ in range(n_sim):
        labels = pd.Series(rng.choice(["a", "b", "c"], n), index=idx)
        attrs = pd.DataFrame({"ch": rng.choice(["x", "y"], n), "v": rng.normal(size=n)}, index=idx)
        p = attribute_profiles(labels, attrs).tests["p_value"]
        rejections += int((p < 0.05).sum())
    rate = rejections / (2 * n_sim)
    # Monte Carlo margin: 3 standard errors of a rate 0.05 over 500 tests = 0.029
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / (2 * n_sim))
