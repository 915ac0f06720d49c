"""Customer profitability against hand-computed tables (every number below was worked out by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils.errors import DataError, ParameterError
from clm_utils.profit import (
    CostInputs,
    customer_profitability,
    profit_basis,
    purchase_day_profit,
)


def _tx(with_cost: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame({
        "customer_id": ["007", "007", "007", "B"],
        "date": pd.to_datetime(["2024-01-01", "2024-01-01T15:00:00", "2024-02-01", "2024-01-05"], format="ISO8601"),
        "amount": [100.0, 50.0, 200.0, 40.0],
        "cost": [60.0, 20.0, 150.0, 10.0],
    })
    return frame if with_cost else frame.drop(columns="cost")


def test_no_costs_profit_is_revenue_and_basis_says_so() -> None:
    out = customer_profitability(_tx(with_cost=False))
    assert out.attrs["basis"] == "profit = revenue (no costs given)"
    assert list(out.index) == ["007", "B"]  # ids exactly as written
    assert out["revenue"].tolist() == [350.0, 40.0]
    assert out["profit"].tolist() == [350.0, 40.0]
    assert out["n_orders"].tolist() == [2, 1]  # two rows on 2024-01-01 are one order
    # margin 1 is "no cost of goods" as well
    assert customer_profitability(_tx(False), margin=1.0).attrs["basis"] == "profit = revenue (no costs given)"


def test_cost_column_cost_to_serve_and_acquisition_by_hand() -> None:
    out = customer_profitability(_tx(), cost_per_order=5.0, acquisition_cost=30.0)
    # 007: revenue 150 + 200 = 350, cogs 80 + 150 = 230, margin 120, 2 orders x 5 = 10, acq 30 -> 80
    # B:   revenue 40, cogs 10, margin 30, 1 order x 5 = 5, acq 30 -> -5
    expected = pd.DataFrame(
        {"n_orders": [2, 1], "revenue": [350.0, 40.0], "cogs": [230.0, 10.0], "gross_margin": [120.0, 30.0],
         "cost_to_serve": [10.0, 5.0], "acquisition": [30.0, 30.0], "profit": [80.0, -5.0],
         "profit_margin": [80 / 350, -5 / 40]},
        index=pd.Index(["007", "B"], name="customer_id"))
    pd.testing.assert_frame_equal(out, expected)
    assert "cost column" in out.attrs["basis"] and "5 per order" in out.attrs["basis"]


def test_margin_rate_by_hand() -> None:
    out = customer_profitability(_tx(False), margin=0.3, cost_per_order=5.0, acquisition_cost=30.0)
    # 007: cogs 0.7 x 350 = 245, margin 105, - 10 - 30 = 65;  B: cogs 28, margin 12, - 5 - 30 = -23
    np.testing.assert_allclose(out["cogs"], [245.0, 28.0])
    np.testing.assert_allclose(out["profit"], [65.0, -23.0])
    assert "70% of revenue" in out.attrs["basis"]


def test_acquisition_per_customer_counts_missing_and_extra_ids() -> None:
    acq = pd.Series({"007": 100.0, "C": 5.0}, name="acq_cost")
    out = customer_profitability(_tx(False), acquisition_cost=acq, acquisition_default=1.0)
    assert out["acquisition"].tolist() == [100.0, 1.0]
    assert out["profit"].tolist() == [250.0, 39.0]
    assert out.attrs["acquisition_missing"] == 1 and out.attrs["acquisition_extra"] == 1
    days = purchase_day_profit(_tx(False), acquisition_cost=acq)
    # acquisition only on the first purchase day
    assert days.loc[days["customer_id"] == "007", "acquisition"].tolist() == [100.0, 0.0]


def test_cost_inputs_from_attribute_column() -> None:
    attrs = pd.DataFrame({"acq": ["12.5", None]}, index=pd.Index(["007", "B"], name="customer_id"))
    inputs = CostInputs(acquisition_column="acq")
    acq = inputs.acquisition(attrs)
    out = customer_profitability(_tx(False), acquisition_cost=acq, acquisition_default=inputs.acquisition_cost)
    assert out["acquisition"].tolist() == [12.5, 0.0]
    assert out.attrs["acquisition_missing"] == 1
    with pytest.raises(ParameterError, match="no column 'nope'"):
        CostInputs(acquisition_column="nope").acquisition(attrs)
    with pytest.raises(DataError, match="not non-negative"):
        CostInputs(acquisition_column="acq").acquisition(pd.DataFrame({"acq": ["x"]}, index=["007"]))


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(ParameterError, match="margin"):
        customer_profitability(_tx(), margin=0.3)  # cost column and margin
    with pytest.raises(ParameterError, match="gross-margin"):
        customer_profitability(_tx(False), margin=1.5)
    with pytest.raises(ParameterError, match="cost_per_order"):
        customer_profitability(_tx(False), cost_per_order=-1.0)
    bad = _tx()
    bad.loc[1, "cost"] = np.nan
    with pytest.raises(DataError, match="1 cost value"):
        customer_profitability(bad)
    with pytest.raises(ParameterError):
        CostInputs(margin=0.0)


def test_basis_sentence() -> None:
    assert profit_basis() == "profit = revenue (no costs given)"
    assert profit_basis(False, 0.3, 2.0, 10.0) == (
        "profit = revenue − cost of goods = 70% of revenue (margin 30%), − cost to serve 2 per order, "
        "− acquisition cost 10 per customer")
