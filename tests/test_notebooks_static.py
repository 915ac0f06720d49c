"""Checks on the committed notebooks that need no kernel: structure, parameters, clean outputs."""

from __future__ import annotations

import json
import logging
import re

import nbformat
import papermill as pm
import pytest

from clm_utils import config, i18n

#: Every notebook declares these first: overrides of the run settings, and the run folder `clm run` passes.
COMMON = ["settings", "run_dir"]
NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))


def test_every_suite_notebook_exists():
    assert [p.stem for p in NOTEBOOKS] == list(config.NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("lang", i18n.LANGS)
def test_structure(path, lang):
    """The report of each language opens with a heading cell, then the parameters cell (untagged cells count
    for every language; a bilingual notebook has the lang-en and lang-zh opening cells before the parameters)."""
    nb = i18n.select_language(nbformat.read(path, as_version=4), lang)
    assert re.fullmatch(r"\d\d_[a-z_]+", path.stem)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert re.search(r"[\u4e00-\u9fff]", nb.cells[0].source), "the opening cell names the theory in Chinese too"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is nb.cells[1]
    names = re.findall(r"^([A-Za-z_]\w*)\s*=", tagged[0].source, flags=re.M)
    assert names[: len(COMMON)] == COMMON
    checked = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# NBVAL_CHECK_OUTPUT")]
    assert checked, "key results are printed in nbval-checked cells"
    assert any("what this means" in c.source.lower() or re.search(r"这对.*意味着什么", c.source)
               for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(path, caplog):
    with caplog.at_level(logging.WARNING, logger="papermill"):
        params = pm.inspect_notebook(str(path))
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()]
    assert set(COMMON) <= set(params)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "committed executed, top to bottom"
    counts = [c.execution_count for c in code]
    assert counts == sorted(counts)
    text = json.dumps(nb)
    assert not re.search(r"/tmp/|/root/|/home/\w", text), "no machine paths"
    assert "papermill" not in nb.metadata
    for cell in code:
        assert "execution" not in cell.metadata
        for out in cell.outputs:
            assert out.output_type != "error"
            plain = out.get("text", "") if out.output_type == "stream" else out.get("data", {}).get("text/plain", "")
            assert not re.search(r"0x[0-9a-f]{8,}", plain), f"memory address in {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_narrate_and_the_logic_lives_in_clm_utils(path):
    """At most 60 code lines outside the parameters cell, and no def, class, for or while."""
    nb = nbformat.read(path, as_version=4)
    lines = [line for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
             for line in c.source.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(lines) <= 60, f"{len(lines)} code lines"
    assert not [line for line in lines if re.match(r"\s*(def|class|for|while)\b", line)]
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])][0].source
    assert not re.search(r"^(data_path|time_unit|observation_end)\s*=", params, flags=re.M), \
        "run settings are not copied into parameters cells"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_text_dumps_of_tables(path):
    """Tables are rendered as formatted HTML (clm_utils.tables.show), not printed with to_string()."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert ".to_string(" not in code


#: Calls that compute a customer's labels or value: only the shared analysis stage may make them.
RECOMPUTING = re.compile(r"rfm_segments\(|rfm_scores\(|value_tiers\(|customer_pyramid\(|fit_value_models\(|"
                         r"customer_lifetime_value\(|(BetaGeo|ModifiedBetaGeo|ParetoNBD|NBD|GammaGamma)\(\)\.fit\(|"
                         r"activity_classes\(|fit_kmeans\(")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_truth_notebooks_read_labels_and_values_from_the_run(path):
    """No notebook recomputes segments, tiers, clusters, P(alive) or CLV: they come from the shared analysis."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not RECOMPUTING.search(code), RECOMPUTING.search(code).group(0)
    assert "nbk.start(settings, run_dir)" in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_reports_with_p_alive_or_clv_name_the_chosen_model(path):
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    if re.search(r"p_alive|\"clv\"|'clv'|\bclv_", code):
        assert re.search(r"model_caveat\(|customer_scorecard\(|forecast", code), \
            "a report that shows P(alive) or CLV says which model gave them"
