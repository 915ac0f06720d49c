"""Running one notebook with papermill in a kernel of this interpreter, and naming what failed."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
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


def notebook_imports(notebook: Path) -> list[str]:
    """The modules the code cells of ``notebook`` import (``from a import b`` gives ``a`` and ``a.b``), in order.

    A cell that does not parse (IPython magics) is skipped; names that are not modules are harmless
    (:func:`warm_up_code` skips what cannot be imported).
    """
    import ast

    import nbformat

    found: dict[str, None] = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update((alias.name, None) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found[node.module] = None
                found.update((f"{node.module}.{alias.name}", None) for alias in node.names if alias.name != "*")
    return list(found)


#: Modules every notebook loads in its first cell (``nbk.start``: the analysis tables, the plot style).
WARM_MODULES: tuple[str, ...] = ("clm_utils.notebook", "clm_utils.analysis", "clm_utils.tables", "clm_utils.plots",
                                 "pyarrow.parquet", "matplotlib.pyplot", "seaborn")


def warm_up_code(modules: Sequence[str]) -> str:
    """Code that imports ``modules`` into a kernel and binds no name (a module that fails to import is skipped:
    the notebook's own import then reports it)."""
    return ("def _clm_warm_up(names):\n"
            "    import importlib\n"
            "    for name in names:\n"
            "        try:\n"
            "            importlib.import_module(name)\n"
            "        except Exception:\n"
            "            pass\n"
            f"_clm_warm_up({list(dict.fromkeys(modules))!r})\n"
            "del _clm_warm_up\n")


class WarmKernels:
    """Kernels started ahead of the notebooks that will run in them, each with its notebook's imports done.

    Starting a kernel and importing pandas, matplotlib, scipy and clm_utils takes a few CPU seconds per
    notebook; started while the analysis stage (one core) runs and while other notebooks wait, that work
    leaves the critical path.  One kernel is warmed at a time, in notebook order, with at most ``live``
    kernels alive (warming or running).  The warm-up only imports modules (silently: no output, no
    execution count), so a notebook's outputs are those of a fresh kernel.  A kernel that fails to warm is
    left out: its notebook starts its own (:func:`execute_notebook` without ``kernel``).

    Use as a context manager inside :class:`_JupyterPath` (the kernel spec must be found when they start);
    leaving it kills the kernels no notebook took.
    """

    def __init__(self, notebooks: Sequence[Path], live: int, kernel_name: str = "python3",
                 timeout: float = 120.0) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.kernel_name, self.timeout = kernel_name, timeout
        self._slots = threading.Semaphore(max(1, live))
        self._closed = False
        self._loop: Any = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clm-warm-kernels")
        self._futures = {Path(nb): self._pool.submit(self._start, Path(nb)) for nb in notebooks}

    def __enter__(self) -> WarmKernels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, notebook: Path) -> Any:
        import asyncio

        self._slots.acquire()
        if self._closed:
            return None
        try:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            code = warm_up_code([*WARM_MODULES, *notebook_imports(notebook)])
            return self._loop.run_until_complete(self._warm(code))
        except Exception:  # noqa: BLE001 - a kernel that cannot be warmed is started by papermill as usual
            self._slots.release()
            return None

    async def _warm(self, code: str) -> Any:
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name=self.kernel_name)
        await km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"])  # as nbclient starts it
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=self.timeout)
            reply = await kc.execute_interactive(code, silent=True, store_history=False, timeout=self.timeout,
                                                 output_hook=lambda _msg: None)
            if reply["content"].get("status") != "ok":
                raise RuntimeError("warm-up failed")
        except BaseException:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
            raise
        kc.stop_channels()
        return km

    def take(self, notebook: Path) -> Any:
        """The warm kernel manager of ``notebook`` (waits for it), or None when it could not be warmed.

        Call :meth:`release` once the notebook has finished with it.
        """
        future = self._futures.pop(Path(notebook), None)
        return None if future is None else future.result()

    def release(self, km: Any = None) -> None:
        """The notebook is done with the taken kernel ``km`` (killed here if it still runs, e.g. when the
        notebook failed before papermill took it): the next one may start."""
        try:
            if km is not None and km.has_kernel:
                import asyncio

                loop = asyncio.new_event_loop()
                try:
                    loop.run_until_complete(km.shutdown_kernel(now=True))
                finally:
                    loop.close()
        finally:
            self._slots.release()

    def close(self) -> None:
        """Stop warming and kill every kernel no notebook took."""
        import asyncio

        self._closed = True
        for future in self._futures.values():
            future.cancel()
        for _ in self._futures:  # wake a warm-up waiting for a slot: it sees _closed and stops
            self._slots.release()
        self._pool.shutdown(wait=True)
        loop = asyncio.new_event_loop()
        try:
            for future in self._futures.values():
                km = None if future.cancelled() else future.result()
                if km is not None:
                    loop.run_until_complete(km.shutdown_kernel(now=True))
        finally:
            loop.close()
            if self._loop is not None:
                self._loop.close()
        self._futures.clear()


def _prestarted(km: Any) -> type:
    """A kernel manager class whose "new instance" is the running ``km``: nbclient then takes ``km`` as its own
    (it connects to it instead of starting a kernel, and shuts it down and closes its client at the end)."""
    base = type(km)

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:  # not an instance of cls: __init__ is skipped
        return km

    return type(f"Prestarted{base.__name__}", (base,), {"__new__": __new__})


def execute_notebook(source: Path, target: Path, parameters: Mapping[str, Any], timeout: int = 1800,
                     kernel: Any = None) -> None:
    """Run one notebook with papermill; raise UserError or NotebookFailed naming the cell.

    ``kernel``: a started kernel manager to run it in (from :class:`WarmKernels`); by default a new kernel.
    The kernel is killed once the notebook has run (its outputs are all in by then).
    """
    # cwd=None: papermill's cwd is a process-wide chdir, which notebooks running side by side in threads would
    # interleave (leaving the process in a folder that is later deleted); the notebooks use absolute paths
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    extra: dict[str, Any] = {"kernel_manager_class": _prestarted(kernel)} if kernel is not None else {}
    try:
        pm.execute_notebook(str(source), str(target), parameters=dict(parameters), kernel_name="python3",
                            language="python", cwd=None, progress_bar=False, log_output=False,
                            request_save_on_cell_execute=False, execution_timeout=timeout,
                            shutdown_kernel="immediate", **extra)
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
