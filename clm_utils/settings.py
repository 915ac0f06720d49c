"""The run's settings: declared once, typed, validated in one place.

Every way of running the suite goes through :class:`Settings`:

* ``clm run`` flags and the YAML file given with ``--config`` (:func:`from_sources`);
* the shared analysis stage (:mod:`clm_utils.analysis`), which is keyed by the settings;
* a notebook opened alone in JupyterLab, whose ``parameters`` cell holds a ``settings`` dict of
  overrides (:func:`Settings.from_mapping`).

A setting that changes a number more than one report shows (the data, the dates, the CLV model,
the stage rule, ...) lives here.  A notebook's own display options (bins of a histogram, how many
rows a table lists) stay in that notebook's ``parameters`` cell.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from clm_utils import config
from clm_utils.errors import ParameterError

#: Cleaning policies of the loader (:func:`clm_utils.data.load_and_check`), with their choices.
POLICY_CHOICES: dict[str, tuple[Any, ...]] = {
    "negative": ("net", "drop", "raise"),
    "zero": ("drop", "keep", "raise"),
    "duplicates": ("drop", "keep", "raise"),
    "invalid": ("raise", "drop"),
    "decimal": (".", ","),
}
#: Transaction models the CLV stage can fit (:data:`clm_utils.clv.MODELS`).
TRANSACTION_MODELS: tuple[str, ...] = ("BG/NBD", "Pareto/NBD", "MBG/NBD")
#: YAML / CLI spellings accepted for a setting.
ALIASES: dict[str, str] = {"data": "data_path", "observation_end": "as_of", "customers": "customers_path"}
#: Scheme stages terminated customers can be placed in (:func:`clm_utils.schemes.customer_types`).
SCHEME_STAGES: tuple[str, ...] = ("exploration", "formation", "stability", "decline")


@dataclass(frozen=True)
class Settings:
    """Everything that decides the shared analysis of one run.

    Data
        ``data_path`` (None: the bundled CDNOW master file), ``columns`` (mapping of your column
        names to ``customer_id``/``date``/``amount``/...), ``date_format``, ``sheet`` (Excel),
        ``sep``, ``decimal`` and the cleaning policies ``negative``, ``zero``, ``duplicates``,
        ``invalid``, ``strict`` (see the README).
    Dates and units
        ``as_of`` (None: the last transaction date), ``calibration_end`` (None: the midpoint),
        ``time_unit`` (D, W, M = 365.25/12 days, Q, Y), ``currency``, ``lang`` (en, zh), ``seed``.
    Value (CLV)
        ``models`` compared on the holdout, ``clv_model`` (None: the smallest holdout MAE),
        ``horizon`` (text with a unit, e.g. ``"12M"``), ``discount_rate`` (annual), ``margin``
        (gross margin on revenue; 1 means profit = revenue), ``n_draws`` (parameter draws for the
        CLV intervals).
    Segments
        ``rfm_bins``, ``rfm_monetary`` (average or total), ``tier_shares`` (high/medium/low),
        ``pyramid_shares`` (platinum/gold/iron/lead), ``active_within`` and ``churned_after``
        (activity classes, in own purchase gaps).
    Lifecycle stages
        ``recent_window_days`` (None: data-driven), ``terminated_multiple``, ``decline_multiple``,
        ``decline_ratio``, ``rise_ratio``, ``stability_min_tenure_days``,
        ``stability_min_purchases``, ``stages_from_p_alive``.
    Clusters
        ``cluster_k`` (None: highest silhouette between ``k_min`` and ``k_max``).
    Costs and profit (客户利润; :mod:`clm_utils.profit`)
        ``margin`` above is the gross-margin rate (cost of goods = (1 − margin) × revenue) unless the
        transactions have a ``cost`` column; ``cost_per_order`` (cost to serve one purchase day),
        ``acquisition_cost`` (per customer) or ``acquisition_column`` (a column of the attribute file
        holding it; ``acquisition_cost`` is then charged to customers without a value).
    Customer attributes (``--customers FILE``; :mod:`clm_utils.attributes`)
        ``customers_path`` (alias ``customers``), ``customers_id`` (its id column; None: detected),
        ``customers_sheet`` (Excel), ``satisfaction_column`` (None: a numeric column named like
        satisfaction, csat or nps), ``covariates`` (attribute columns of the covariate Pareto/NBD;
        empty: not fitted).
    The sources' schemes (:mod:`clm_utils.schemes`)
        ``type_terminated_stage`` (the scheme stage the terminated go to in the 12 types),
        ``frequency_window`` (period before the as-of date of the 高频/低频/零频 classes),
        ``frequency_threshold`` (None: the purchasers' median), ``core_share`` and ``potential_share``
        (核心/潜力/一般 customers).
    """

    # data
    data_path: str | None = None
    columns: dict[str, str] | None = None
    date_format: str | None = None
    sheet: str | int | None = None
    sep: str | None = None
    decimal: str | None = None
    negative: str | None = None
    zero: str | None = None
    duplicates: str | None = None
    invalid: str | None = None
    strict: bool = False
    # dates and units
    as_of: str | None = None
    calibration_end: str | None = None
    time_unit: str = "W"
    currency: str = config.DEFAULT_CURRENCY
    lang: str = config.DEFAULT_LANG
    seed: int = config.DEFAULT_SEED
    # value
    models: tuple[str, ...] = TRANSACTION_MODELS
    clv_model: str | None = None
    horizon: str = "12M"
    discount_rate: float = 0.10
    margin: float = 1.0
    n_draws: int = 1000
    # segments
    rfm_bins: int = 5
    rfm_monetary: str = "average"
    tier_shares: tuple[float, ...] = (0.20, 0.30, 0.50)
    pyramid_shares: tuple[float, ...] = (0.05, 0.15, 0.30, 0.50)
    active_within: float = 1.5
    churned_after: float = 3.0
    # lifecycle stages
    recent_window_days: float | None = None
    terminated_multiple: float = 3.0
    decline_multiple: float = 2.0
    decline_ratio: float = 0.5
    rise_ratio: float = 1.5
    stability_min_tenure_days: float = 364
    stability_min_purchases: int = 5
    stages_from_p_alive: bool = False
    # clusters
    cluster_k: int | None = None
    k_min: int = 3
    k_max: int = 8
    # costs and profit
    cost_per_order: float = 0.0
    acquisition_cost: float = 0.0
    acquisition_column: str | None = None
    # customer attributes
    customers_path: str | None = None
    customers_id: str | None = None
    customers_sheet: str | int | None = None
    satisfaction_column: str | None = None
    covariates: tuple[str, ...] = ()
    # the sources' schemes
    type_terminated_stage: str = "decline"
    frequency_window: str = "12M"
    frequency_threshold: float | None = None
    core_share: float = 0.2
    potential_share: float = 0.2
    # not part of the analysis (excluded from the cache key)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def names(cls) -> list[str]:
        """The setting names, in declaration order."""
        return [f.name for f in fields(cls) if f.name != "extra"]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None, **more: Any) -> Settings:
        """Build and validate settings from a mapping (YAML, papermill, a notebook's dict).

        Unknown names raise :class:`ParameterError` naming the closest known one.
        """
        merged: dict[str, Any] = {}
        for source in (values or {}, more):
            for key, value in source.items():
                merged[ALIASES.get(key, key)] = value
        known = set(cls.names())
        unknown = sorted(set(merged) - known)
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known settings: {', '.join(cls.names())}"
            raise ParameterError(f"unknown setting {unknown[0]!r}", parameter="settings", hint=hint)
        given = {k: v for k, v in merged.items() if v is not None or k in _NULLABLE}
        return cls(**given).validated()

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (validated)."""
        return replace(self, **{ALIASES.get(k, k): v for k, v in changes.items()}).validated()

    # ------------------------------------------------------------------ validation
    def validated(self) -> Settings:
        """Check and normalise every setting; raise ParameterError naming the bad one."""
        from clm_utils.data import parse_columns

        v: dict[str, Any] = {}
        v["time_unit"] = str(self.time_unit).upper()
        config.unit_days(v["time_unit"])
        if self.lang not in config.LANGS:
            raise ParameterError(f"{self.lang!r} is not supported", parameter="lang", hint="use en or zh")
        v["seed"] = _whole(self.seed, "seed", minimum=0)
        v["as_of"] = as_date_text(self.as_of, "as_of")
        v["calibration_end"] = as_date_text(self.calibration_end, "calibration_end")
        if v["as_of"] and v["calibration_end"] and v["calibration_end"] >= v["as_of"]:
            raise ParameterError(f"{v['calibration_end']} is not before the as-of date {v['as_of']}",
                                 parameter="calibration_end", hint="choose an earlier calibration end")
        v["columns"] = parse_columns(self.columns)
        if self.data_path not in (None, ""):
            v["data_path"] = str(Path(str(self.data_path)).expanduser().resolve())
        else:
            v["data_path"] = None
        for name, choices in POLICY_CHOICES.items():
            value = getattr(self, name)
            if value is not None and value not in choices:
                raise ParameterError(f"{value!r} is not a choice", parameter=name,
                                     hint=f"use one of {', '.join(map(str, choices))}")
        v["strict"] = bool(self.strict)
        models = (self.models,) if isinstance(self.models, str) else tuple(self.models)
        bad = [m for m in models if m not in TRANSACTION_MODELS]
        if bad or not models:
            raise ParameterError(f"unknown model {bad[0] if bad else '(none)'!r}", parameter="models",
                                 hint=f"choose from {', '.join(TRANSACTION_MODELS)}")
        v["models"] = models
        if self.clv_model is not None and self.clv_model not in models:
            raise ParameterError(f"{self.clv_model!r} is not among the models compared ({', '.join(models)})",
                                 parameter="clv_model", hint="add it to models, or leave clv_model empty")
        config.duration_in_units(self.horizon, v["time_unit"], "horizon")
        v["horizon"] = str(self.horizon)
        v["discount_rate"] = _number(self.discount_rate, "discount_rate", 0.0, 1.0, "e.g. 0.10 for 10% a year")
        v["margin"] = _number(self.margin, "margin", 0.0, 1.0, "a gross-margin rate in (0, 1]; 1 means revenue")
        if v["margin"] == 0:
            raise ParameterError("must be above 0", parameter="margin", hint="a gross-margin rate in (0, 1]")
        v["n_draws"] = _whole(self.n_draws, "n_draws", minimum=100)
        v["rfm_bins"] = _whole(self.rfm_bins, "rfm_bins", minimum=2)
        if self.rfm_monetary not in ("average", "total"):
            raise ParameterError(f"{self.rfm_monetary!r} is not a choice", parameter="rfm_monetary",
                                 hint="use average or total")
        for name, k in (("tier_shares", 3), ("pyramid_shares", 4)):
            shares = tuple(float(s) for s in getattr(self, name))
            if len(shares) != k or any(s <= 0 for s in shares) or not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
                raise ParameterError(f"needs {k} positive shares that add up to 1, got {list(shares)}", parameter=name)
            v[name] = shares
        for name in ("active_within", "churned_after", "terminated_multiple", "decline_multiple", "decline_ratio",
                     "rise_ratio", "stability_min_tenure_days"):
            v[name] = _number(getattr(self, name), name, 0.0, math.inf, "a positive number")
        if self.recent_window_days is not None:
            v["recent_window_days"] = _number(self.recent_window_days, "recent_window_days", 0.0, math.inf, "days")
        v["stability_min_purchases"] = _whole(self.stability_min_purchases, "stability_min_purchases", minimum=1)
        v["stages_from_p_alive"] = bool(self.stages_from_p_alive)
        if self.cluster_k is not None:
            v["cluster_k"] = _whole(self.cluster_k, "cluster_k", minimum=2)
        v["k_min"] = _whole(self.k_min, "k_min", minimum=2)
        v["k_max"] = _whole(self.k_max, "k_max", minimum=v["k_min"])
        v.update(self._validated_profit_and_attributes(v["time_unit"]))
        return replace(self, **v)

    def _validated_profit_and_attributes(self, time_unit: str) -> dict[str, Any]:
        """The cost, attribute and scheme settings (issue 14), checked and normalised."""
        v: dict[str, Any] = {}
        for name in ("cost_per_order", "acquisition_cost"):
            v[name] = _number(getattr(self, name), name, 0.0, math.inf, "a number ≥ 0 in the run's currency")
        for name in ("acquisition_column", "customers_id", "satisfaction_column"):
            v[name] = _optional_name(getattr(self, name), name)
        if self.customers_path not in (None, ""):
            v["customers_path"] = str(Path(str(self.customers_path)).expanduser().resolve())
        else:
            v["customers_path"] = None
        if v["acquisition_column"] and not v["customers_path"]:
            raise ParameterError(f"the acquisition cost column {v['acquisition_column']!r} needs an attribute file",
                                 parameter="acquisition_column", hint="pass --customers FILE, or give a number")
        sheet = self.customers_sheet
        if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, (str, int))):
            raise ParameterError(f"{sheet!r} is not a sheet name or number", parameter="customers_sheet")
        covs = (self.covariates,) if isinstance(self.covariates, str) else tuple(self.covariates or ())
        covs = tuple(c for c in (str(c).strip() for c in covs) if c)
        if covs and not v["customers_path"]:
            raise ParameterError("covariates are columns of the attribute file, and none was given",
                                 parameter="covariates", hint="pass --customers FILE, or leave covariates empty")
        if len(set(covs)) != len(covs):
            raise ParameterError(f"a covariate is listed twice: {list(covs)}", parameter="covariates")
        v["covariates"] = covs
        if self.type_terminated_stage not in SCHEME_STAGES:
            raise ParameterError(f"{self.type_terminated_stage!r} is not a stage of the 12-type scheme",
                                 parameter="type_terminated_stage", hint=f"use one of {', '.join(SCHEME_STAGES)}")
        config.duration_in_units(self.frequency_window, time_unit, "frequency_window")
        v["frequency_window"] = str(self.frequency_window)
        if self.frequency_threshold is not None:
            v["frequency_threshold"] = _number(self.frequency_threshold, "frequency_threshold", 0.0, math.inf,
                                               "purchase days in the window above which a customer is 高频 (high)")
        for name in ("core_share", "potential_share"):
            v[name] = _number(getattr(self, name), name, 0.0, 1.0, "a share in (0, 1), e.g. 0.2")
            if v[name] in (0.0, 1.0):
                raise ParameterError(f"{v[name]!r} is not a share in (0, 1)", parameter=name, hint="e.g. 0.2")
        return v

    def cost_inputs(self) -> Any:
        """The run's :class:`clm_utils.profit.CostInputs` (margin 1 means no cost of goods)."""
        from clm_utils.profit import CostInputs

        return CostInputs(margin=self.margin, cost_per_order=self.cost_per_order,
                          acquisition_cost=self.acquisition_cost, acquisition_column=self.acquisition_column)

    # ------------------------------------------------------------------ use
    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-able values (tuples become lists)."""
        out = asdict(self)
        out.pop("extra", None)
        return {k: list(val) if isinstance(val, tuple) else val for k, val in out.items()}

    def key(self, data_digest: str, code_digest: str = "") -> str:
        """Cache key of the analysis: the input's hash, these settings, and the code version."""
        text = json.dumps({"data": data_digest, "settings": self.to_dict(), "code": code_digest}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`clm_utils.data.load_input` (policies left at None use the loader's defaults)."""
        opts: dict[str, Any] = {}
        for name in ("negative", "zero", "duplicates", "invalid", "decimal", "sep", "sheet"):
            value = getattr(self, name)
            if value is not None:
                opts[name] = value
        if self.strict:
            opts["strict"] = True
        return opts

    def stage_params(self) -> dict[str, Any]:
        """Keyword arguments of :func:`clm_utils.lifecycle.assign_stages`."""
        return dict(recent_window=self.recent_window_days, terminated_multiple=self.terminated_multiple,
                    decline_multiple=self.decline_multiple, decline_ratio=self.decline_ratio,
                    rise_ratio=self.rise_ratio, stability_min_tenure=self.stability_min_tenure_days,
                    stability_min_purchases=self.stability_min_purchases)

    @property
    def unit_name(self) -> str:
        """``weeks``, ``months``, ... for labels."""
        return config.TIME_UNIT_NAMES[self.time_unit]

    @property
    def data_label(self) -> str:
        """The input's file name, or the bundled data set's name."""
        return "CDNOW master (bundled)" if self.data_path is None else Path(self.data_path).name

    def differences(self) -> dict[str, Any]:
        """Settings that differ from the defaults (for a short description)."""
        default = Settings().to_dict()
        return {k: v for k, v in self.to_dict().items() if v != default[k]}


_NULLABLE = {"recent_window_days", "cluster_k", "clv_model", "as_of", "calibration_end", "acquisition_column",
             "customers_path", "customers_id", "customers_sheet", "satisfaction_column", "frequency_threshold"}


def as_date_text(value: Any, name: str) -> str | None:
    """``value`` as ``YYYY-MM-DD`` text, or None; the one date parser of the settings."""
    if value is None or value == "":
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        raise ParameterError(f"{value!r} is not a date", parameter=name, hint="write it as YYYY-MM-DD") from None
    if pd.isna(ts):
        raise ParameterError(f"{value!r} is not a date", parameter=name, hint="write it as YYYY-MM-DD")
    return str(ts.date())


def _optional_name(value: Any, name: str) -> str | None:
    """A column name, or None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ParameterError(f"{value!r} is not a column name", parameter=name, hint="write the column's name")
    return str(value).strip()


def _whole(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ParameterError(f"{value!r} is not a whole number", parameter=name, hint=f"use a whole number ≥ {minimum}")
    try:
        number = float(value)
    except ValueError:
        raise ParameterError(f"{value!r} is not a whole number", parameter=name,
                             hint=f"use a whole number ≥ {minimum}") from None
    if not number.is_integer() or number < minimum:
        raise ParameterError(f"{value!r} is not a whole number ≥ {minimum}", parameter=name)
    return int(number)


def _number(value: Any, name: str, low: float, high: float, hint: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{value!r} is not a number", parameter=name, hint=hint) from None
    if not math.isfinite(number) or not (low <= number <= high):
        raise ParameterError(f"{value!r} is out of range", parameter=name, hint=hint)
    return number
