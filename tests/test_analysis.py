"""One run, one truth: the shared analysis stage and the rules every report relies on."""

from __future__ import annotations

import pandas as pd
import pytest

from clm_utils import analysis, clv, config, lifecycle, rfm
from clm_utils.analysis import artifacts
from clm_utils.errors import ModelError
from clm_utils.report import write_scorecard
from clm_utils.settings import Settings
from clm_utils.summary import summarize


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLM_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def sample_settings() -> Settings:
    # the CDNOW sample as a user's file: published split, zero-amount rows kept as in the published analyses
    return Settings.from_mapping({"data_path": str(config.CDNOW_SAMPLE), "as_of": "1998-06-30",
                                  "calibration_end": "1997-09-30", "zero": "keep", "duplicates": "keep"})


@pytest.fixture(scope="module")
def run(cache, sample_settings) -> analysis.Analysis:
    return analysis.load(sample_settings)


def test_one_row_per_customer_with_every_label(run):
    c = run.customers
    assert len(c) == 2_357 and c.index.is_unique and c.index.is_monotonic_increasing
    for col in ("segment", "value_tier", "pyramid", "activity", "stage", "cluster_name", "p_alive", "clv"):
        assert c[col].notna().all(), col
    # the published calibration counts (Fader, Hardie & Lee 2005) reach the notebooks unchanged
    cal = run.calibration
    assert int(cal["frequency"].sum()) == 2_457 and int(cal["frequency_holdout"].sum()) == 1_882


def test_labels_are_those_the_modules_give_independently(run):
    """Recompute each label from the transactions with the public functions and compare."""
    tx, end = run.transactions, pd.Timestamp("1998-06-30")
    summary = summarize(tx, end, "W")
    c = run.customers
    assert (c["segment"] == rfm.rfm_segments(rfm.rfm_scores(summary)).reindex(c.index)).all()
    stages = lifecycle.assign_stages(tx, end)["stage"].reindex(c.index)
    assert (c["stage"].astype(str) == stages.astype(str)).all()
    assert (c["value_tier"].astype(str) == rfm.value_tiers(summary["total_amount"]).reindex(c.index).astype(str)).all()
    # P(alive) comes from the chosen model, refitted here from scratch on the same summary
    assert run.manifest["value"]["requested"] in run.model_comparison.index
    refit = clv.fit_transaction_model(run.chosen_model, summary).model
    pd.testing.assert_series_equal(c["p_alive"], refit.conditional_probability_alive(summary).reindex(c.index),
                                   check_names=False, rtol=1e-6)


def test_the_model_every_report_names_is_the_one_the_clv_report_chose(run):
    comp = run.model_comparison
    assert run.chosen_model is not None
    assert run.model_caveat().count(run.chosen_model) >= 1
    if getattr(clv.MODELS[run.chosen_model], "one_time_buyers_alive", False):
        assert "P(alive) = 1 by construction" in run.model_caveat()
    assert len(comp) >= 1


def test_rerun_reuses_the_artifacts(cache, sample_settings, run, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the stage ran again")

    monkeypatch.setattr(analysis, "build", boom)
    again = analysis.load(sample_settings)
    assert again.folder == run.folder


def test_two_builds_give_byte_identical_tables(tmp_path, sample_settings, run):
    analysis.build(sample_settings, tmp_path / "b")
    for name in ("customers", "summary", "calibration", "transactions", "quality", "model_comparison", "rfm_scores"):
        assert (tmp_path / "b" / f"{name}.parquet").read_bytes() == (run.folder / f"{name}.parquet").read_bytes(), name
    a_manifest = artifacts.read_manifest(run.folder)
    b_manifest = artifacts.read_manifest(tmp_path / "b")
    a_manifest.pop("timings"), b_manifest.pop("timings")
    assert a_manifest == b_manifest


def test_the_hand_off_file_keeps_ids_as_written_and_matches_the_reports(tmp_path, cache):
    path = tmp_path / "shop.csv"
    path.write_text("customer_id,date,amount\n" + "".join(
        f"{cid},2024-{m:02d}-{d:02d},{10 + d + len(cid)}\n" for cid in ("007", "0070", "70") for m in (1, 3, 5)
        for d in (3, 17)),
        encoding="utf-8")
    result = analysis.load({"data_path": str(path)})
    write_scorecard(result, tmp_path)
    back = pd.read_csv(tmp_path / "customer_scorecard.csv", dtype={"customer_id": str}).set_index("customer_id")
    assert sorted(back.index) == ["007", "0070", "70"]
    parquet = pd.read_parquet(tmp_path / "customer_scorecard.parquet")
    assert list(parquet.index) == list(result.customers.index)
    assert (back["stage"] == result.customers["stage"].astype(str)).all()


def test_what_the_data_cannot_support_is_recorded_and_the_rest_is_computed(tmp_path, cache):
    path = tmp_path / "tiny.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,10\nB,2024-01-05,20\nC,2024-02-01,30\n", encoding="utf-8")
    result = analysis.load({"data_path": str(path)})
    assert set(result.incomplete) >= {"clv", "clusters"}
    assert all(len(reason) > 10 for reason in result.incomplete.values())
    assert result.customers["stage"].notna().all() and result.customers["segment"].notna().all()
    assert "clv" not in result.customers and result.manifest["pyramid_basis"] == "revenue"
    with pytest.raises(ModelError):
        result.model_comparison  # noqa: B018 - the property raises the stage's reason


def test_a_shop_where_everybody_spends_the_same_still_gets_stages_and_segments(tmp_path, cache):
    path = tmp_path / "flat.csv"
    path.write_text("customer_id,date,amount\n" + "".join(f"c{i},2024-01-{1 + i:02d},25\n" for i in range(12)),
                    encoding="utf-8")
    result = analysis.load({"data_path": str(path)})
    assert "value_tier" in result.incomplete and "cannot rank" in result.incomplete["value_tier"]
    assert result.customers["stage"].notna().all() and result.customers["segment"].notna().all()


def test_a_light_analysis_holds_the_full_analysis_numbers_and_leaves_out_only_the_costly_parts(tmp_path, cache,
                                                                                                sample_settings, run):
    """The comparison of `clm run` is light: same labels, point CLV and models as the full analysis (compared
    exactly with the full build of the same settings), no CLV intervals or clusters."""
    folder = analysis.build(sample_settings, tmp_path / "light", light=True)
    light = analysis.Analysis(folder)
    assert light.light and not run.light
    full = run.customers
    assert sorted(set(full.columns) - set(light.customers.columns)) == ["cluster", "cluster_name", "clv_lower",
                                                                       "clv_upper"]
    pd.testing.assert_frame_equal(light.customers, full[light.customers.columns], check_exact=True)
    for table in ("transactions", "summary", "calibration", "rfm_scores", "model_comparison"):
        pd.testing.assert_frame_equal(getattr(light, table), getattr(run, table), check_exact=True)
    assert light.chosen_model == run.chosen_model
    pd.testing.assert_series_equal(light.model.params_, run.model.params_, check_exact=True)
    with pytest.raises(ModelError, match="light analysis"):
        light.require("clusters")
    with pytest.raises(ModelError, match="interval"):
        light.clv_interval  # noqa: B018


def test_ensure_reuses_a_full_analysis_for_a_light_request_and_caches_light_ones_apart(cache, sample_settings, run,
                                                                                      monkeypatch):
    assert analysis.ensure(sample_settings, light=True) == run.folder  # the full one is there: reused
    other = sample_settings.with_(as_of="1998-03-31")
    with analysis.light_analyses():
        folder = analysis.ensure(other)
    assert folder.name.endswith(analysis.LIGHT_SUFFIX) and analysis.Analysis(folder).light
    monkeypatch.setattr(analysis, "build", lambda *a, **k: (_ for _ in ()).throw(AssertionError("built again")))
    assert analysis.ensure(other, light=True) == folder
