"""The sources' schemes: 12 types, frequency classes, core/potential/general, 80/20 and the ten-times check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils.errors import DataError, ParameterError
from clm_utils.schemes import (
    concentration_checks,
    core_potential_general,
    customer_types,
    frequency_classes,
    loyal_customers,
    loyalty_ratio,
    period_purchase_counts,
    type_grid,
    type_table,
)


def test_twelve_types_account_for_every_customer() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    idx = pd.Index([f"{i:06d}" for i in range(n)], name="customer_id")
    value = pd.Series(rng.choice(["high", "medium", "low"], n), index=idx)
    stage = pd.Series(rng.choice(["exploration", "formation", "stability", "decline", "terminated"], n), index=idx)
    types = customer_types(value, stage)
    assert len(types) == n and types["type"].notna().all()
    assert types["type_no"].between(1, 12).all()
    grid = type_grid(types)
    assert len(grid) == 12 and grid["customers"].sum() == n == grid.attrs["total"]
    # every customer in the cell of its own value group and (mapped) stage
    expected = pd.crosstab(value, stage.replace("terminated", "decline"))
    for t, row in grid.iterrows():
        assert row["customers"] == expected.loc[row["value_group"], row["stage"]], t
    assert grid["terminated"].sum() == int((stage == "terminated").sum())
    assert grid.loc[grid["stage"] != "decline", "terminated"].sum() == 0
    assert type_table().loc["high value · stability", "type_zh"] == "高价值·稳定期"


def test_types_refuse_unknown_labels_and_map_terminated_on_request() -> None:
    idx = ["a", "b"]
    with pytest.raises(DataError, match="valid stage"):
        customer_types(pd.Series(["high", "low"], index=idx), pd.Series(["new", "decline"], index=idx))
    t = customer_types(pd.Series(["high", "low"], index=idx), pd.Series(["terminated", "decline"], index=idx),
                       terminated="exploration")
    assert t["stage"].tolist() == ["exploration", "decline"] and t["terminated"].tolist() == [True, False]
    with pytest.raises(ParameterError):
        customer_types(pd.Series(["high"], index=["a"]), pd.Series(["decline"], index=["a"]), terminated="x")


def test_frequency_classes_by_hand() -> None:
    tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "c", "c", "c", "c"],
                       "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01", "2024-03-01",
                                               "2024-01-02", "2024-01-03", "2024-01-04", "2023-12-31"])})
    counts = period_purchase_counts(tx, pd.Index(["a", "b", "c", "d"]), "2024-01-01", "2024-12-31")
    assert counts.tolist() == [2, 1, 3, 0]  # a: two rows on one day count once; c: 2023 outside
    cls = frequency_classes(counts)
    # purchasers 2, 1, 3 -> median 2; high = more than 2
    assert cls.attrs["threshold"] == 2.0
    assert cls.tolist() == ["low", "low", "high", "zero"]
    assert frequency_classes(counts, threshold=1).tolist() == ["high", "low", "high", "zero"]


def test_core_potential_general_by_hand() -> None:
    idx = list("abcdefghij")
    current = pd.Series([100, 90, 10, 9, 8, 7, 6, 5, 4, 3], index=idx, dtype=float)
    potential = pd.Series([1, 2, 50, 3, 60, 4, 5, 6, 7, 8], index=idx, dtype=float)
    cls = core_potential_general(current, potential)
    # top 20% by current: a, b; top 20% by potential: e (60), c (50) -> potential
    assert cls.tolist() == ["core", "core", "potential", "general", "potential"] + ["general"] * 5


def test_concentration_by_hand() -> None:
    values = pd.Series([50.0, 30.0, 10.0, 5.0, 5.0, 0, 0, 0, 0, 0])
    out = concentration_checks(values, basis="profit").set_index("claim")
    assert out.iloc[0]["value"] == pytest.approx(0.8)  # top 2 of 10 hold 80 of 100
    assert out.iloc[1]["value"] == pytest.approx(0.2)
    assert set(out["basis"]) == {"profit"} and set(out["verdict"]) == {"holds"}


def test_loyal_definition_uses_behaviour_only() -> None:
    s = pd.DataFrame({"first_purchase": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-01"]),
                      "last_purchase": pd.to_datetime(["2021-06-01", "2020-03-01", "2021-06-01"]),
                      "n_purchase_days": [6, 9, 2], "total_amount": [1.0, 1e6, 1e6]})
    assert loyal_customers(s).tolist() == [True, False, False]


def test_loyalty_ratio_ci_coverage_with_known_ratio() -> None:
    """Simulated values with a known ratio of means (10): the 95% interval must cover it in at least
    0.95 - 3 sqrt(0.95 * 0.05 / 300) = 0.912 of 300 data sets (Monte Carlo margin of 3 SE)."""
    n_rep, n_loyal, n_ord = 300, 200, 1500
    covered = 0
    for rep in range(n_rep):
        rng = np.random.default_rng(rep)
        a = rng.gamma(2.0, 50.0, n_loyal)  # mean 100
        b = rng.gamma(2.0, 5.0, n_ord)  # mean 10
        values = pd.Series(np.r_[a, b])
        loyal = pd.Series(np.r_[np.ones(n_loyal, bool), np.zeros(n_ord, bool)])
        out = loyalty_ratio(values, loyal, n_boot=400, seed=rep).iloc[0]
        covered += int(out["lower"] <= 10.0 <= out["upper"])
    assert covered / n_rep >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / n_rep)


def test_loyalty_ratio_sampled_interval_covers_and_matches_the_full_bootstrap() -> None:
    """Large groups: the bootstrap runs on a sample per group with its spread rescaled to the full group.

    Coverage: the 95% interval must cover the known ratio (10) in at least 0.95 - 3 SE of 300 data
    sets (skewed gamma values, 4,000 loyal and 30,000 ordinary, samples of 1,000 per group).
    Width: averaged over 20 data sets, within 10% of the full bootstrap's width on the same data
    (the exact computation the rescaling stands in for; Monte Carlo error of one width ~3%).
    """
    n_rep, n_loyal, n_ord = 300, 4000, 30000
    covered, widths = 0, []
    for rep in range(n_rep):
        rng = np.random.default_rng(1000 + rep)
        values = pd.Series(np.r_[rng.gamma(0.8, 125.0, n_loyal), rng.gamma(0.5, 20.0, n_ord)])  # means 100, 10
        loyal = pd.Series(np.r_[np.ones(n_loyal, bool), np.zeros(n_ord, bool)])
        out = loyalty_ratio(values, loyal, n_boot=400, seed=rep, sample_above=2000)
        row = out.iloc[0]
        assert "sample" in out.attrs["note"] and row["interval"] == out.attrs["note"]
        assert row["ratio"] == pytest.approx(values[loyal].mean() / values[~loyal].mean(), rel=1e-12)
        covered += int(row["lower"] <= 10.0 <= row["upper"])
        if rep < 20:
            full = loyalty_ratio(values, loyal, n_boot=2000, seed=rep, sample_above=0).iloc[0]
            assert "interval" not in full
            widths.append((row["upper"] - row["lower"]) / (full["upper"] - full["lower"]))
    assert covered / n_rep >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / n_rep)
    assert 0.9 <= float(np.mean(widths)) <= 1.1


def test_loyalty_ratio_verdicts() -> None:
    values = pd.Series([100.0, 110, 90, 105, 1, 2, 1, 2, 1, 1.5])
    loyal = pd.Series([True] * 4 + [False] * 6)
    out = loyalty_ratio(values, loyal, basis="profit", n_boot=500).iloc[0]
    assert out["ratio"] == pytest.approx(101.25 / (8.5 / 6))
    assert out["verdict"] == "larger than claimed" and out["basis"] == "profit"
    assert loyalty_ratio(values, pd.Series([False] * 10), n_boot=500).iloc[0]["verdict"].startswith("cannot")
