"""Issue 14 wired into the run: cost settings, the attribute file, profit per customer, the schemes' columns.

The profit numbers are worked out by hand in the comments from the rows of the tiny files written here; the
12 types are recomputed from the transactions with the public functions (rfm.value_tiers, lifecycle.assign_stages,
schemes.customer_types), not read back from the stage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clm_utils import analysis, lifecycle, rfm, schemes
from clm_utils.cli import _run_options, build_parser
from clm_utils.errors import DataError, ParameterError
from clm_utils.settings import Settings
from clm_utils.summary import summarize


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLM_CACHE_DIR", str(tmp_path / "cache"))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ settings
@pytest.mark.parametrize(
    ("values", "parameter", "text"),
    [
        ({"cost_per_order": -1}, "cost_per_order", "out of range"),
        ({"acquisition_cost": "ten"}, "acquisition_cost", "not a number"),
        ({"acquisition_column": "acq"}, "acquisition_column", "needs an attribute file"),
        ({"covariates": ["channel"]}, "covariates", "columns of the attribute file"),
        ({"customers": "c.csv", "covariates": ["channel", "channel"]}, "covariates", "listed twice"),
        ({"type_terminated_stage": "terminated"}, "type_terminated_stage", "not a stage of the 12-type scheme"),
        ({"frequency_window": "12 parsecs"}, "frequency_window", "not understood"),
        ({"frequency_threshold": -2}, "frequency_threshold", "out of range"),
        ({"core_share": 1.0}, "core_share", "not a share"),
        ({"potential_share": 0}, "potential_share", "not a share"),
        ({"customers": "c.csv", "satisfaction_column": 3.5}, "satisfaction_column", "not a column name"),
    ],
)
def test_bad_profit_and_attribute_settings_name_the_setting(values, parameter, text):
    with pytest.raises(ParameterError) as err:
        Settings.from_mapping(values)
    assert err.value.parameter == parameter and text in err.value.one_line()
    assert "\n" not in err.value.one_line()


def test_profit_settings_normalise(tmp_path):
    s = Settings.from_mapping({"customers": str(tmp_path / "c.csv"), "covariates": "channel", "cost_per_order": "2",
                               "satisfaction_column": " csat "})
    assert s.customers_path == str((tmp_path / "c.csv").resolve()) and s.covariates == ("channel",)
    assert s.cost_per_order == 2.0 and s.satisfaction_column == "csat"
    assert Settings.from_mapping(s.to_dict()) == s
    assert Settings().cost_inputs().margin == 1.0  # margin 1: no cost of goods


def test_the_cache_key_follows_the_attribute_file(tmp_path):
    path = write(tmp_path / "c.csv", "customer_id,channel\nA,web\n")
    s = Settings.from_mapping({"customers": str(path)})
    before = analysis.stage_digest(s)
    assert before != analysis.stage_digest(Settings())
    write(path, "customer_id,channel\nA,mail\n")
    assert analysis.stage_digest(s) != before
    assert analysis.stage_digest(Settings()) == analysis._data_digest(Settings())  # no attribute file: data only


# ------------------------------------------------------------------------------------------ CLI
def test_cli_flags_reach_the_settings(tmp_path):
    base = ["run", "--customers", str(tmp_path / "cust.csv"), "--customers-id", "Client", "--margin", "0.3",
            "--cost-per-order", "2.5"]
    s = _run_options(build_parser().parse_args([*base, "--acquisition-cost", "12"])).settings
    assert (s.customers_path, s.customers_id, s.margin, s.cost_per_order) == (
        str((tmp_path / "cust.csv").resolve()), "Client", 0.3, 2.5)
    assert s.acquisition_cost == 12.0 and s.acquisition_column is None
    s = _run_options(build_parser().parse_args([*base, "--acquisition-cost", "acq_cost"])).settings
    assert s.acquisition_column == "acq_cost" and s.acquisition_cost == 0.0
    with pytest.raises(ParameterError) as err:
        _run_options(build_parser().parse_args(["run", "--acquisition-cost", "acq_cost"]))
    assert err.value.parameter == "acquisition_column"


# ------------------------------------------------------------------------------------------ profit, by hand
def test_stage_profit_columns_equal_the_hand_computed_table(tmp_path):
    data = write(tmp_path / "tx.csv", "customer_id,date,amount\n007,2024-01-03,50\n007,2024-01-03,10\n"
                                      "007,2024-02-10,40\nA1,2024-01-05,100\nB2,2024-03-01,20\n")
    cust = write(tmp_path / "cust.csv", "customer_id,channel,acq\n007,web,12\nA1,mail,\nX9,phone,5\n")
    run = analysis.load({"data_path": str(data), "customers": str(cust), "margin": 0.4, "cost_per_order": 1.5,
                         "acquisition_column": "acq", "acquisition_cost": 3})
    # by hand: cogs = 60% of revenue; cost to serve 1.5 per purchase day (007 bought on 2 days);
    # acquisition: 007 from the file (12), A1 has an empty cell and B2 no row: both get acquisition_cost 3
    # 007: 100 - 60 - 3 - 12 = 25;  A1: 100 - 60 - 1.5 - 3 = 35.5;  B2: 20 - 12 - 1.5 - 3 = 3.5
    expected = pd.DataFrame({
        "cogs": [60.0, 60.0, 12.0], "gross_margin": [40.0, 40.0, 8.0], "cost_to_serve": [3.0, 1.5, 1.5],
        "acquisition": [12.0, 3.0, 3.0], "profit": [25.0, 35.5, 3.5], "profit_margin": [0.25, 0.355, 0.175],
    }, index=pd.Index(["007", "A1", "B2"], name="customer_id"))
    pd.testing.assert_frame_equal(run.customers[list(expected.columns)], expected, rtol=1e-12)
    assert run.profit_basis == ("profit = revenue − cost of goods = 60% of revenue (margin 40%), − cost to serve "
                                "1.5 per order, − acquisition cost per customer from the attribute file")
    assert run.has_costs and run.value_basis == "profit"
    total = run.profit_table().loc["all customers"]
    assert total["profit"] == pytest.approx(64.0) and total["profit_share"] == pytest.approx(1.0)
    # the attribute columns sit under their own names; the join's counts reach the data-quality table
    assert list(run.customers["channel"]) == ["web", "mail", None] or run.customers["channel"].isna().iloc[2]
    q = run.quality.set_index("check")["count"]
    assert q["customers with attributes"] == 2
    assert q["customers without attributes (kept, attributes missing)"] == 1
    assert q["attribute rows without transactions (not used)"] == 1
    assert q["customers without an acquisition cost in the attribute file"] == 2
    assert run.attributes is not None and list(run.attributes.index) == ["007", "A1", "X9"]


def test_a_cost_column_is_kept_merged_by_order_and_netted_with_returns(tmp_path):
    data = write(tmp_path / "orders.csv", "Customer,Order,Date,Amount,Cost\nc1,O1,2024-01-01,30,12\n"
                                          "c1,O1,2024-01-01,20,8\nc1,O2,2024-02-01,40,10\nc1,O3,2024-02-10,-20,-5\n"
                                          "c2,O4,2024-01-15,80,50\n")
    run = analysis.load({"data_path": str(data)})
    # by hand: O1 = 50 revenue / 20 cost; the return O3 (-20, cost 5) nets against O2 (the latest purchase):
    # O2 = 20 / 5.  c1: revenue 70, cogs 25, gross margin 45; c2: 80, 50, 30.  No other cost: profit = gross margin
    c = run.customers
    assert list(c["revenue"]) == [70.0, 80.0] and list(c["cogs"]) == [25.0, 50.0]
    assert list(c["profit"]) == [45.0, 30.0]
    assert run.profit_basis == "profit = revenue − cost of goods from the cost column"
    assert run.manifest["profit"]["clv_margin"] == pytest.approx(75 / 150)  # the CLV's margin: the data's own
    with pytest.raises(ParameterError) as err:
        analysis.load({"data_path": str(data), "margin": 0.3})
    assert err.value.parameter == "margin"


def test_unreadable_costs_are_counted(tmp_path):
    data = write(tmp_path / "tx.csv", "customer_id,date,amount,cogs\nA,2024-01-01,10,4\nA,2024-02-01,10,4 EUR?\n"
                                      "B,2024-01-02,10,\n")
    from clm_utils.data import load_and_check

    tx, report = load_and_check(data)
    q = report.to_frame().set_index("check")["count"]
    assert q["unreadable costs (left empty)"] == 1 and q["rows without a cost"] == 1
    assert tx["cost"].isna().sum() == 2 and len(tx) == 3


def test_no_costs_means_profit_is_revenue(tmp_path):
    data = write(tmp_path / "tx.csv", "customer_id,date,amount\nA,2024-01-01,10\nB,2024-01-05,20\nC,2024-02-01,30\n")
    run = analysis.load({"data_path": str(data)})
    assert run.profit_basis == "profit = revenue (no costs given)" and not run.has_costs
    assert (run.customers["profit"] == run.customers["revenue"]).all() and run.attributes is None
    assert "--customers FILE" in run.attributes_note()


def test_attribute_columns_may_not_take_the_runs_names(tmp_path):
    data = write(tmp_path / "tx.csv", "customer_id,date,amount\nA,2024-01-01,10\nB,2024-01-05,20\n")
    cust = write(tmp_path / "cust.csv", "customer_id,segment\nA,gold\n")
    with pytest.raises(DataError) as err:
        analysis.load({"data_path": str(data), "customers": str(cust)})
    line = err.value.one_line()
    assert "'segment'" in line and "rename" in line and "\n" not in line


# ------------------------------------------------------------------------------------------ the schemes
def test_the_12_types_cover_every_customer_and_match_the_modules(tmp_path):
    rng = np.random.default_rng(7)
    rows = []
    for i in range(60):
        first = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        days = np.sort(rng.integers(0, 500, size=int(rng.integers(1, 9))))
        rows += [(f"{i:03d}", (first + pd.Timedelta(days=int(d))).date(), round(float(rng.gamma(2, 20)) + 1, 2))
                 for d in days]
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    data = tmp_path / "tx.csv"
    frame.to_csv(data, index=False)
    run = analysis.load({"data_path": str(data), "as_of": "2024-06-30", "duplicates": "keep"})
    c = run.customers
    assert c["type_no"].between(1, 12).all() and c["customer_type"].notna().all()
    grid = run.type_grid()
    assert len(grid) == 12 and grid["customers"].sum() == len(c) == grid.attrs["total"]
    # independently: value tiers and stages from the transactions, then the scheme
    tx, end = run.transactions, pd.Timestamp("2024-06-30")
    tiers = rfm.value_tiers(summarize(tx, end, "W")["total_amount"])
    stages = lifecycle.assign_stages(tx, end)["stage"]
    types = schemes.customer_types(tiers.reindex(c.index).astype("object"), stages.reindex(c.index).astype("object"))
    assert (c["type_no"] == types["type_no"]).all()
    assert set(c["frequency_class"]) <= {"high", "low", "zero"}
    assert c["loyal"].dtype == bool
