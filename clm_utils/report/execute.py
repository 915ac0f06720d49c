"""Running one notebook with papermill in a kernel of this interpreter, and naming what failed."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clm_utils.errors import UserError

#: Error names raised inside a notebook that mean "the user's input is wrong" (exit code 2).
USER_ERROR_NAMES = {"DataError", "ParameterError", "ModelError", "UserError"}


class AnalysisIncomplete(UserError):
    """The data are valid but cannot support one analysis (a ModelError inside a notebook).

    The run goes on: that report is rendered up to the failing section with a notice, and the
    index marks it incomplete.
    """


class NotebookFailed(Exception):
    """A notebook raised an error that is not the user's (exit code 1)."""

    exit_code = 1


def _kernel_env() -> tempfile.TemporaryDirectory[str]:
    """Point Jupyter at a kernel spec that runs *this* interpreter, whatever else is installed."""
    tmp = tempfile.TemporaryDirectory(prefix="clm-kernel-")
    spec_dir = Path(tmp.name) / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    # CRITICAL: a kernel logs the interrupt jupyter_client sends at shutdown as an ERROR line; cell errors reach
    # papermill through the outputs, not the log
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=CRITICAL"],
            "display_name": "Python 3 (clm-lab)", "language": "python",
            "env": {"PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                    # notebooks run side by side, one per core: threaded BLAS/OpenMP inside each only contends
                    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return tmp


class _JupyterPath:
    """Context manager: put the kernel spec first on JUPYTER_PATH while notebooks run."""

    def __enter__(self) -> _JupyterPath:
        self._tmp = _kernel_env()
        self._old = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = self._tmp.name + (os.pathsep + self._old if self._old else "")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = self._old
        self._tmp.cleanup()


def declared_parameters(notebook: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters`` cell."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=", cell.source, flags=re.M))
    return set()


def _error_message(evalue: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(evalue)).strip()
    return text.splitlines()[0] if text else ""


def execute_notebook(source: Path, target: Path, parameters: Mapping[str, Any], timeout: int = 1800) -> None:
    """Run one notebook with papermill; raise UserError or NotebookFailed naming the cell."""
    # cwd=None: papermill's cwd is a process-wide chdir, which notebooks running side by side in threads would
    # interleave (leaving the process in a folder that is later deleted); the notebooks use absolute paths
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(str(source), str(target), parameters=dict(parameters), kernel_name="python3",
                            language="python", cwd=None, progress_bar=False, log_output=False,
                            request_save_on_cell_execute=False, execution_timeout=timeout)
    except PapermillExecutionError as exc:
        msg = _error_message(exc.evalue)
        if exc.ename == "ModelError":
            raise AnalysisIncomplete(msg) from None
        if exc.ename in USER_ERROR_NAMES:
            raise UserError(f"{source.name}: {msg}") from None
        where = _source_cell(source, target, exc.cell_index)
        raise NotebookFailed(f"{source.name} failed in {where}: {exc.ename}: {msg}") from None


def _source_cell(source: Path, executed: Path, index: int) -> str:
    """Name the failing cell as the user sees it in the source notebook: "cell 7 (`first line`)"."""
    import nbformat

    try:
        done = nbformat.read(executed, as_version=4).cells
        errored = [c for c in done if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
        failing = errored[0].source if errored else done[index].source
        cells = nbformat.read(source, as_version=4).cells
        number = next(i for i, c in enumerate(cells, 1) if c.source == failing)
    except (OSError, IndexError, StopIteration, ValueError):
        return f"cell {index}"
    first = failing.strip().splitlines()[0][:60] if failing.strip() else ""
    return f"cell {number} (`{first}`)"
