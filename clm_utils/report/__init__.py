"""Reports: the shared analysis, then every notebook on it, rendered to self-contained HTML.

==================  ==========================================================
module              concept
==================  ==========================================================
:mod:`.options`     what a run does: settings, output folder, notebooks
:mod:`.execute`     one notebook in a kernel of this interpreter; what failed
:mod:`.render`      executed notebook -> HTML that loads nothing from the net
:mod:`.index`       run metadata and the index pages
:mod:`.pipeline`    the run, built aside and moved into place atomically
:mod:`.refresh`     re-executing the committed notebooks, without noise
==================  ==========================================================
"""

from clm_utils.report.execute import (
    AnalysisIncomplete,
    NotebookFailed,
    declared_parameters,
    execute_notebook,
)
from clm_utils.report.index import (
    file_sha256,
    package_versions,
    run_section,
    write_top_index,
)
from clm_utils.report.options import (
    RunOptions,
    build_options,
    read_config_file,
    resolve_notebooks,
)
from clm_utils.report.pipeline import mark_incomplete, run, write_scorecard
from clm_utils.report.refresh import clean_notebook, refresh_notebooks
from clm_utils.report.render import external_resources, render_html

__all__ = [
    "AnalysisIncomplete",
    "NotebookFailed",
    "RunOptions",
    "build_options",
    "clean_notebook",
    "declared_parameters",
    "execute_notebook",
    "external_resources",
    "file_sha256",
    "mark_incomplete",
    "package_versions",
    "read_config_file",
    "refresh_notebooks",
    "render_html",
    "resolve_notebooks",
    "run",
    "run_section",
    "write_scorecard",
    "write_top_index",
]
