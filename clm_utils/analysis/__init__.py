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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils import config
from clm_utils.analysis import artifacts
from clm_utils.analysis.stage import CUSTOMER_COLUMNS, build
from clm_utils.errors import ModelError
from clm_utils.settings import Settings

__all__ = ["CUSTOMER_COLUMNS", "Analysis", "build", "ensure", "light_analyses", "load"]

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

    # -- profit, attributes and the sources' schemes (issue 14) ---------------------------
    @cached_property
    def attributes(self) -> pd.DataFrame | None:
        """The ``--customers`` attribute table (every row of the file, indexed by ``customer_id``, ``attrs["kinds"]``
        naming each column numeric / categorical / date), or None when the run has no attribute file.  The run's
        customers carry the same columns in :attr:`customers`."""
        meta = self.manifest.get("attributes")
        if not meta:
            return None
        table = artifacts.read_table(self.folder, "attributes")
        table.attrs["kinds"] = {col: meta["kinds"][col] for col in table.columns}  # file order
        return table

    @property
    def profit_basis(self) -> str:
        """What "profit" means in this run, e.g. ``profit = revenue (no costs given)`` (every report prints it)."""
        return str((self.manifest.get("profit") or {}).get("basis", "profit = revenue (no costs given)"))

    @property
    def has_costs(self) -> bool:
        """Whether any cost was given (cost column, margin below 1, cost to serve, acquisition cost)."""
        return bool((self.manifest.get("profit") or {}).get("has_costs", False))

    @property
    def value_basis(self) -> str:
        """``profit`` when costs were given, else ``revenue``: the value the 80/20 and ten-times checks use."""
        return "profit" if self.has_costs else "revenue"

    @property
    def satisfaction_column(self) -> str | None:
        """The attribute column holding satisfaction / NPS scores (set, or detected by name), or None."""
        return (self.manifest.get("attributes") or {}).get("satisfaction_column")

    def attributes_note(self) -> str:
        """One sentence: the attribute file and its join, or how to give one."""
        meta = self.manifest.get("attributes")
        if not meta:
            return ("No customer attribute file in this run: give one with `clm run --customers FILE` (CSV, Parquet or "
                    "Excel; one row per customer id, any columns such as channel, region, satisfaction), or "
                    "settings={\"customers\": \"customers.csv\"} in this notebook's parameters.")
        join = meta["join"]
        return (f"Attributes: {meta['file']}, {len(meta['columns'])} columns ({', '.join(meta['columns'])}); "
                f"{join['customers with attributes']:,} of {join['customers in the run']:,} customers matched, "
                f"{join['attribute rows without transactions']:,} attribute rows have no transactions.")

    def attribute_columns(self, kinds: tuple[str, ...] = ("categorical", "numeric", "date"),
                          max_levels: int = 20) -> list[str]:
        """Attribute columns of the given ``kinds`` fit to group or model by: numbers and dates that vary,
        categories with 2 to ``max_levels`` levels among the run's customers; the acquisition-cost column (a cost,
        not a trait) left out.  File order; empty without an attribute file."""
        if self.attributes is None:
            return []
        cols = []
        for col, kind in self.attributes.attrs["kinds"].items():
            if kind not in kinds:
                continue
            levels = self.customers[col].dropna().nunique()
            if col != self.settings.acquisition_column and levels >= 2 and (kind != "categorical"
                                                                            or levels <= max_levels):
                cols.append(col)
        return cols

    @property
    def covariate_model(self) -> Any:
        """The chosen model's family with the ``covariates`` setting's attributes on both processes
        (:class:`~clm_utils.clv.covariates.BetaGeoCovariates` when the run chose BG/NBD or MBG/NBD, else
        :class:`~clm_utils.clv.covariates.ParetoNBDCovariates`); ModelError when none was fitted."""
        if not self.settings.covariates:
            raise ModelError("no covariate BTYD model in this run: no covariates were set",
                             hint='set covariates, e.g. --set covariates=[channel,region] with --customers FILE')
        self.require("covariates")
        return self._models["covariate_model"]

    @property
    def covariate_test(self) -> pd.Series:
        """Likelihood-ratio test of the covariate model against the plain one on the same customers:
        ``statistic``, ``df``, ``p_value``."""
        return self.covariate_model.lr_test_

    def customer_types(self) -> pd.DataFrame:
        """Every customer's type of the 12 (3 value groups × 4 stages, :func:`clm_utils.schemes.customer_types`)."""
        from clm_utils import schemes

        self.require("types")
        c = self.customers
        return schemes.customer_types(c["value_tier"].astype("object"), c["stage"].astype("object"),
                                      terminated=self.settings.type_terminated_stage)

    def type_grid(self) -> pd.DataFrame:
        """The 12-cell grid with its policies, customers and value (profit; revenue without costs)."""
        from clm_utils import schemes

        return schemes.type_grid(self.customer_types(), value=self.customers["profit"])

    def profit_table(self, by: str | None = None) -> pd.DataFrame:
        """Revenue → COGS → gross margin → cost to serve → acquisition → profit, in total or per group of ``by``
        (a column of :attr:`customers`); ``profit_margin`` = profit / revenue, ``profit_share`` of the total."""
        c = self.customers
        cols = ["revenue", "cogs", "gross_margin", "cost_to_serve", "acquisition", "profit"]
        total = c[cols].sum().to_frame("all customers").T
        total.insert(0, "customers", len(c))
        if by is not None:
            groups = c[by]
            table = c[cols].groupby(groups, observed=True, sort=True).sum()
            table.insert(0, "customers", groups.value_counts().reindex(table.index).astype("int64"))
            table.index = table.index.astype(str)
            total = pd.concat([table, total])
        total["profit_margin"] = total["profit"] / total["revenue"].where(total["revenue"] > 0)
        total["profit_share"] = total["profit"] / float(c["profit"].sum()) if c["profit"].sum() else float("nan")
        total.index.name = by or ""
        return total

    def durations(self, inactivity: str | float = "26W", churn_time: str = "last_purchase") -> pd.DataFrame:
        """Churn durations of every customer in the run's time unit (:func:`clm_utils.survival.churn_durations`)."""
        from clm_utils.config import duration_in_units
        from clm_utils.survival import churn_durations

        window = duration_in_units(inactivity, self.time_unit, "inactivity")
        return churn_durations(self.transactions, self.observation_end, window, self.time_unit, churn_time)

    def satisfaction(self, inactivity: str | float = "26W") -> Any:
        """The chain satisfaction → loyalty → repurchase (:func:`clm_utils.satisfaction.satisfaction_chain`) on the
        run's customers, churn durations and holdout purchases; ModelError saying how when there is no score."""
        from clm_utils.satisfaction import satisfaction_chain

        if self.satisfaction_column is None:
            raise ModelError("no satisfaction scores in this run", hint="give an attribute file (--customers FILE) with "
                             "a numeric column named like satisfaction, csat or nps, or set satisfaction_column")
        holdout = self.calibration["frequency_holdout"] if "frequency_holdout" in self.calibration else None
        return satisfaction_chain(self.customers, self.attributes, self.satisfaction_column,
                                  durations=self.durations(inactivity), holdout=holdout)

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
    def light(self) -> bool:
        """Whether this is a light analysis (for a comparison: no CLV intervals, clusters, covariate model)."""
        return bool(self.manifest.get("light", False))

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
        if self.lang == "zh":
            from clm_utils.i18n import model_caveat_zh

            return model_caveat_zh(self.chosen_model, bool((self.manifest["value"] or {}).get("one_time_buyers_alive")),
                                   self.incomplete.get("clv", ""))
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
        from clm_utils.i18n import describe_run

        diff = {k: v for k, v in self.settings.differences().items() if k not in ("data_path", "customers_path")}
        return describe_run(self.manifest, self.time_unit, self.currency, self.lang, diff)

    def __repr__(self) -> str:
        return f"<Analysis {self.folder.name}: {self.manifest['customers']:,} customers>"


#: Set by :func:`light_analyses`: whether :func:`ensure` computes light analyses by default.
_LIGHT: ContextVar[bool] = ContextVar("clm_light_analyses", default=False)
#: Suffix of the cache folder of a light analysis (see :func:`clm_utils.analysis.stage.build`).
LIGHT_SUFFIX = "-light"


@contextmanager
def light_analyses() -> Iterator[None]:
    """Inside the block, :func:`ensure` computes light analyses (``light=None``): only what a comparison reads.

    ``clm run`` opens its comparison analysis (:func:`clm_utils.periodic.prepare_run_comparison`) inside it,
    so the comparison date costs the models and labels, not the CLV intervals and clusters notebook 07
    never shows.
    """
    token = _LIGHT.set(True)
    try:
        yield
    finally:
        _LIGHT.reset(token)


def ensure(settings: Settings, log: Any = None, light: bool | None = None) -> Path:
    """The cache folder of ``settings``: reused when complete, otherwise computed now.

    With ``light`` (default: inside :func:`light_analyses`), a complete full analysis is reused when there is
    one; otherwise the light analysis (:func:`~clm_utils.analysis.stage.build`) is reused or computed, in its
    own cache folder.
    """
    light = _LIGHT.get() if light is None else light
    digest = stage_digest(settings)
    folder = artifacts.cache_dir() / settings.key(digest, artifacts.code_digest())
    if artifacts.is_complete(folder):
        return folder
    if light:
        folder = folder.with_name(folder.name + LIGHT_SUFFIX)
        if artifacts.is_complete(folder):
            return folder
    build(settings, folder, log=log, light=light)
    return folder


def stage_digest(settings: Settings) -> str:
    """Hash of the inputs: the data (the file's SHA-256; for a folder, its file names, sizes and times) and,
    with ``customers_path``, the attribute file's SHA-256 (so an edited attribute file is analysed anew)."""
    import hashlib

    from clm_utils.report import file_sha256

    digest = _data_digest(settings)
    if settings.customers_path:
        path = Path(settings.customers_path)
        extra = file_sha256(path) if path.is_file() else ""
        return hashlib.sha256(f"{digest}:customers:{extra}".encode()).hexdigest()
    return digest


def _data_digest(settings: Settings) -> str:
    """The input file's SHA-256; for a folder or a glob, a hash of its files' names, sizes and modification times."""
    from clm_utils.data.files import expand, is_many
    from clm_utils.report import file_sha256

    path = Path(settings.data_path) if settings.data_path else config.CDNOW_MASTER
    if path.is_file():
        return file_sha256(path)
    if settings.data_path and is_many(settings.data_path):
        import hashlib

        h = hashlib.sha256()
        for f in expand(settings.data_path)[0]:
            st = f.stat()
            h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
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
