"""One run, one truth: the shared analysis every report reads.

A notebook starts with ``run = analysis.load(settings, run_dir)``:

* under ``clm run``, ``run_dir`` is the run's folder, where the stage has already written the
  analysis (:mod:`clm_utils.analysis.stage`); the notebook only reads it;
* opened alone in JupyterLab, ``run_dir`` is None: the stage runs with the notebook's
  ``settings`` overrides, or reuses the cache in ``data/processed/analysis/<key>/`` when the
  same data, settings and code were analysed before.

:class:`Analysis` gives the notebooks the cleaned transactions, the data-quality table, the
customer summary and calibration/holdout split, the fitted value models and, above all,
:attr:`Analysis.customers`: one row per customer with every label and number of the run.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils import config
from clm_utils.analysis import artifacts
from clm_utils.analysis.stage import CUSTOMER_COLUMNS, build
from clm_utils.errors import ModelError
from clm_utils.settings import Settings

__all__ = ["CUSTOMER_COLUMNS", "Analysis", "build", "ensure", "load"]

#: Sub-folder of a run folder that holds its analysis.
RUN_SUBDIR = "analysis"


class Analysis:
    """Read access to one finished analysis folder (tables are read on first use).

    Attributes
    ----------
    settings
        The :class:`~clm_utils.settings.Settings` it was computed with.
    folder
        The artifact folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.manifest: dict[str, Any] = artifacts.read_manifest(self.folder)
        self.settings = Settings.from_mapping(self.manifest["settings"])

    # -- tables ---------------------------------------------------------------------------
    @cached_property
    def transactions(self) -> pd.DataFrame:
        """Cleaned transactions up to the as-of date: ``customer_id``, ``date``, ``amount`` [, ...]."""
        return artifacts.read_table(self.folder, "transactions")

    @cached_property
    def quality(self) -> pd.DataFrame:
        """The data-quality table: ``check``, ``status``, ``count``, ``detail``."""
        return artifacts.read_table(self.folder, "quality")

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Customer summary at the as-of date (:func:`clm_utils.summary.summarize`)."""
        return artifacts.read_table(self.folder, "summary")

    @cached_property
    def calibration(self) -> pd.DataFrame:
        """Calibration summary with holdout counts (:func:`clm_utils.summary.calibration_holdout`)."""
        return artifacts.read_table(self.folder, "calibration")

    @cached_property
    def customers(self) -> pd.DataFrame:
        """One row per customer with every label and number of the run (see ``CUSTOMER_COLUMNS``)."""
        return artifacts.read_table(self.folder, "customers")

    @cached_property
    def rfm_scores(self) -> pd.DataFrame:
        """R, F, M scores with their raw values (:func:`clm_utils.rfm.rfm_scores`)."""
        scores = artifacts.read_table(self.folder, "rfm_scores")
        scores.attrs["bins"] = self.settings.rfm_bins
        return scores

    @cached_property
    def model_comparison(self) -> pd.DataFrame:
        """The transaction models compared on the holdout (raises ModelError when none could be fitted)."""
        self.require("clv")
        return artifacts.read_table(self.folder, "model_comparison")

    @cached_property
    def clv_interval(self) -> pd.DataFrame:
        """Total and per-segment CLV with intervals from the parameter uncertainty (:func:`clm_utils.clv.clv_interval`)."""
        self.require("clv")
        if not (self.folder / "clv_interval.parquet").exists():
            raise ModelError("no interval on CLV on these data: " + "; ".join(n for n in self.notes if "interval" in n))
        return artifacts.read_table(self.folder, "clv_interval")

    @cached_property
    def cluster_criteria(self) -> pd.DataFrame:
        """Criteria by k used to choose the number of clusters."""
        self.require("clusters")
        return artifacts.read_table(self.folder, "cluster_criteria")

    @cached_property
    def _models(self) -> dict[str, Any]:
        with (self.folder / "models.pkl").open("rb") as fh:
            result: dict[str, Any] = pickle.load(fh)  # noqa: S301 - our own cache, keyed by the code's hash
        return result

    @property
    def model(self) -> Any:
        """The chosen transaction model, fitted on the whole period up to the as-of date."""
        self.require("clv")
        return self._models["model"]

    @property
    def calibration_models(self) -> dict[str, Any]:
        """Every compared transaction model, fitted on the calibration period."""
        self.require("clv")
        return dict(self._models["calibration_models"])

    @property
    def spend_model(self) -> Any:
        """The Gamma-Gamma spend model, or None when it could not be fitted (CLV then uses the mean spend)."""
        self.require("clv")
        return self._models["spend_model"]

    # -- facts ----------------------------------------------------------------------------
    @property
    def observation_end(self) -> pd.Timestamp:
        """The as-of date."""
        return pd.Timestamp(self.manifest["observation_end"])

    @property
    def calibration_end(self) -> pd.Timestamp:
        """End of the calibration period."""
        return pd.Timestamp(self.manifest["calibration_end"])

    @property
    def time_unit(self) -> str:
        return self.settings.time_unit

    @property
    def unit_name(self) -> str:
        return self.settings.unit_name

    @property
    def currency(self) -> str:
        return self.settings.currency

    @property
    def lang(self) -> str:
        return self.settings.lang

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def chosen_model(self) -> str | None:
        """Name of the transaction model every report uses for P(alive) and CLV, or None."""
        return self.manifest["value"].get("chosen") if self.manifest["value"] else None

    @property
    def notes(self) -> list[str]:
        """One-sentence notes of the stage (boundary fits, fallbacks, ...)."""
        return list(self.manifest.get("notes", []))

    @property
    def incomplete(self) -> dict[str, str]:
        """Parts the data could not support, with the reason."""
        return dict(self.manifest.get("incomplete", {}))

    def require(self, part: str) -> None:
        """Raise ModelError with the stage's reason when ``part`` (``clv``, ``clusters``) is missing."""
        reason = self.incomplete.get(part)
        if reason:
            raise ModelError(reason)

    def model_caveat(self) -> str:
        """The sentence every report prints next to P(alive): which model, and its one-time-buyer property."""
        if not self.chosen_model:
            return f"No transaction model on these data: {self.incomplete.get('clv', '')}"
        text = f"P(alive), expected purchases and CLV come from {self.chosen_model}, the model the CLV report chose."
        if self.chosen_model == "NBD":
            text += (" The NBD has no dropout (the data show none within the calibration window), so every customer's"
                     " P(alive) is 1: read who is at risk from the lifecycle stage and activity class instead.")
        elif self.manifest["value"].get("one_time_buyers_alive"):
            text += (f" Under {self.chosen_model} a customer who never repeated has P(alive) = 1 by construction,"
                     " so read their P(alive) with their lifecycle stage, not instead of it.")
        return text

    def describe(self) -> str:
        """One paragraph naming the data, the dates and the settings that differ from the defaults."""
        m = self.manifest
        diff = {k: v for k, v in self.settings.differences().items() if k not in ("data_path",)}
        extra = ("; settings: " + ", ".join(f"{k}={v}" for k, v in diff.items())) if diff else ""
        return (f"Data: {m['data']['label']}; {m['rows_kept']:,} transactions of {m['customers']:,} customers, "
                f"{m['first_date']} to {m['observation_end']} (as-of date); calibration end {m['calibration_end']}; "
                f"time unit: {self.unit_name}; currency {self.currency}{extra}.")

    def __repr__(self) -> str:
        return f"<Analysis {self.folder.name}: {self.manifest['customers']:,} customers>"


def ensure(settings: Settings, log: Any = None) -> Path:
    """The cache folder of ``settings``: reused when complete, otherwise computed now."""
    digest = stage_digest(settings)
    folder = artifacts.cache_dir() / settings.key(digest, artifacts.code_digest())
    if not artifacts.is_complete(folder):
        build(settings, folder, log=log)
    return folder


def stage_digest(settings: Settings) -> str:
    """Hash of the input data (the file's SHA-256; for a folder, its file names, sizes and times)."""
    from clm_utils.report import file_sha256

    path = Path(settings.data_path) if settings.data_path else config.CDNOW_MASTER
    if path.is_file():
        return file_sha256(path)
    if path.is_dir():
        import hashlib

        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            st = f.stat()
            h.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()
    return ""


def load(settings: Mapping[str, Any] | Settings | None = None, run_dir: str | Path | None = None) -> Analysis:
    """The analysis a notebook narrates.

    Parameters
    ----------
    settings
        Overrides of the default :class:`~clm_utils.settings.Settings` (a dict, as in a
        notebook's ``parameters`` cell), or a Settings object.  Ignored when ``run_dir`` is given.
    run_dir
        The folder of a ``clm run`` run, whose analysis is read as it is.
    """
    from clm_utils.plots import apply_style

    if run_dir not in (None, ""):
        folder = Path(str(run_dir)) / RUN_SUBDIR
        if not artifacts.is_complete(folder):
            raise FileNotFoundError(f"no finished analysis in {folder}")
        result = Analysis(folder)
    else:
        chosen = settings if isinstance(settings, Settings) else Settings.from_mapping(settings or {})
        result = Analysis(ensure(chosen))
    apply_style(result.lang)
    return result
