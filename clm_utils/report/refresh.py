"""Re-executing the committed notebooks in place, and stripping run noise from them."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from clm_utils import config
from clm_utils.report.execute import _JupyterPath
from clm_utils.report.options import resolve_notebooks

NOISE = re.compile(r"0x[0-9a-f]{8,}|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\.\d+")


def clean_notebook(nb: Any) -> list[str]:
    """Strip run-specific metadata (timings, papermill records) in place; return noise found in outputs."""
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    problems = []
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else out.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            noise = NOISE.search(text)
            if noise:
                problems.append(f"cell {i}: {noise.group(0)}")
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"cell {i}: writes to stderr: {text.strip().splitlines()[0][:100] if text.strip() else ''}")
    return problems


def refresh_notebooks(names: Sequence[str] | None = None, timeout: int = 1800,
                      log: Callable[[str], None] | None = None) -> list[str]:
    """Re-execute committed notebooks in place on their default parameters, and clean them.

    Returns a list of noise problems found (memory addresses, timestamps, stderr output).
    """
    import nbformat
    from nbclient import NotebookClient

    log = log or (lambda msg: print(msg, file=sys.stderr))
    chosen = resolve_notebooks(names) if names else [n for n in config.NOTEBOOKS
                                                     if (config.NOTEBOOKS_DIR / f"{n}.ipynb").exists()]
    problems: list[str] = []
    with _JupyterPath():
        for name in chosen:
            path = config.NOTEBOOKS_DIR / f"{name}.ipynb"
            tick = time.time()
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                    resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}})
            client.execute()
            problems += [f"{name}: {p}" for p in clean_notebook(nb)]
            nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                         "name": "python3"}
            tmp = path.with_suffix(".ipynb.tmp")
            nbformat.write(nb, tmp)
            os.replace(tmp, path)
            log(f"{name}: executed in {time.time() - tick:.0f} s")
    return problems
