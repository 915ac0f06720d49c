"""Model registry and fit_value_models: CDNOW (interior fits) and UCI Online Retail (boundary fits).

References: lifetimes' BG/NBD on the UCI Online Retail summary at the default split (calibration
end 2011-06-05, weeks, as-of 2011-12-09) has a holdout MAE of 1.553 purchases per customer
(issue 8, measured with lifetimes 0.11.3); each model here must do at least as well, by itself or
through its limit model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_utils import clv
from clm_utils.config import ROOT
from clm_utils.errors import ParameterError
from clm_utils.summary import calibration_holdout, summarize

RETAIL = ROOT / "data/raw/online_retail.csv"


def test_registry_names_and_one_time_buyer_flags() -> None:
    assert clv.MODELS == {"BG/NBD": clv.BetaGeo, "MBG/NBD": clv.ModifiedBetaGeo, "Pareto/NBD": clv.ParetoNBD,
                          "NBD": clv.NBD}
    flags = {n: c.one_time_buyers_alive for n, c in clv.MODELS.items()}
    assert flags == {"BG/NBD": True, "MBG/NBD": False, "Pareto/NBD": False, "NBD": True}
    # the flag is what the models do: P(alive) at frequency 0
    one = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [30.0]})
    pars = {"BG/NBD": dict(r=0.24, alpha=4.4, a=0.79, b=2.4), "MBG/NBD": dict(r=0.5, alpha=6.2, a=0.9, b=1.6),
            "Pareto/NBD": dict(r=0.55, alpha=10.6, s=0.61, beta=11.7), "NBD": dict(r=0.5, alpha=5.0)}
    for n, c in clv.MODELS.items():
        p = c().set_params(**pars[n]).conditional_probability_alive(one).iloc[0]
        assert (p == 1.0) == c.one_time_buyers_alive, n


def test_fit_value_models_on_cdnow(cdnow_sample: pd.DataFrame, cdnow_sample_cal: pd.DataFrame) -> None:
    full = summarize(cdnow_sample, "1998-06-30")
    vm = clv.fit_value_models(cdnow_sample_cal, full)
    comp = vm.comparison
    assert list(comp.index) == ["BG/NBD", "Pareto/NBD", "MBG/NBD"]
    assert comp["converged"].all() and comp["chosen"].sum() == 1
    assert vm.chosen == comp["mae"].idxmin() and comp.loc[vm.chosen, "chosen"]
    # published CDNOW LLs reappear (FHL 2005: BG/NBD -9582.4, Pareto/NBD -9595.0)
    assert comp.loc["BG/NBD", "log_likelihood"] == pytest.approx(-9582.43, abs=0.01)
    # interior fits beat the NBD clearly on CDNOW (dropout is real there)
    assert (comp["lr_p_value"] < 1e-6).all()
    assert type(vm.model) is clv.MODELS[vm.chosen] and vm.model_name == vm.chosen
    assert vm.model.n_obs_ == len(full) and vm.spend_model is not None
    assert set(vm.calibration_models) == set(comp.index)
    forced = clv.fit_value_models(cdnow_sample_cal, full, models=("BG/NBD", "NBD"), clv_model="BG/NBD", spend=False)
    assert forced.chosen == "BG/NBD" and forced.spend_model is None
    assert any("P(alive) = 1" in n for n in forced.notes)
    with pytest.raises(ParameterError):
        clv.fit_value_models(cdnow_sample_cal, full, models=("BG/NBD", "Gompertz"))
    with pytest.raises(ParameterError):
        clv.fit_value_models(cdnow_sample_cal, full, models=("BG/NBD",), clv_model="Pareto/NBD")


def test_non_converged_models_are_not_chosen(monkeypatch: pytest.MonkeyPatch, cdnow_sample: pd.DataFrame,
                                             cdnow_sample_cal: pd.DataFrame) -> None:
    real = clv.BetaGeo._finish

    def flagged(self, logp, data):  # BG/NBD pretends that no start converged
        real(self, logp, data)
        if type(self) is clv.BetaGeo:
            self.converged_ = False
            self.notes_.append("BG/NBD: the optimiser did not converge from any start")

    monkeypatch.setattr(clv.BetaGeo, "_finish", flagged)
    vm = clv.fit_value_models(cdnow_sample_cal, summarize(cdnow_sample, "1998-06-30"), models=("BG/NBD", "MBG/NBD"),
                              spend=False)
    assert not vm.comparison.loc["BG/NBD", "converged"] and vm.chosen == "MBG/NBD"
    assert "did not converge" in vm.comparison.loc["BG/NBD", "note"]


@pytest.fixture(scope="module")
def retail() -> tuple[pd.DataFrame, pd.DataFrame]:
    d = pd.read_csv(RETAIL, dtype={"CustomerID": str, "InvoiceNo": str})
    tx = pd.DataFrame({"customer_id": d["CustomerID"], "date": pd.to_datetime(d["InvoiceDate"]),
                       "amount": d["TotalPrice"]})
    return (calibration_holdout(tx, "2011-06-05", "2011-12-09", time_unit="W"),
            summarize(tx, "2011-12-09", time_unit="W"))


@pytest.mark.slow
def test_uci_online_retail_every_model_fits_or_returns_its_limit(retail: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cal, full = retail
    for name in ("BG/NBD", "MBG/NBD", "Pareto/NBD", "NBD"):
        fit = clv.fit_transaction_model(name, cal)
        pred = fit.model.conditional_expected_number_of_purchases_up_to_time(cal["duration_holdout"], cal)
        assert np.isfinite(pred).all()
        mae = float(np.abs(pred - cal["frequency_holdout"]).mean())
        assert mae <= 1.553, (name, fit.name, mae)
    vm = clv.fit_value_models(cal, full)
    # the three dropout models run to the no-dropout boundary on these data: one NBD row stands for all
    assert list(vm.comparison.index) == ["NBD"] and vm.chosen == "NBD"
    assert vm.comparison.loc["NBD", "requested"] == "BG/NBD, Pareto/NBD, MBG/NBD"
    assert sum("boundary" in n and "chi2_0" in n for n in vm.notes) == 3
    assert vm.comparison.loc["NBD", "mae"] <= 1.553
    assert isinstance(vm.model, clv.NBD) and vm.one_time_buyers_alive
    assert vm.spend_model is not None
    values = clv.customer_lifetime_value(vm.model, vm.spend_model, full, horizon="12M")
    assert np.isfinite(values["clv"]).all()
