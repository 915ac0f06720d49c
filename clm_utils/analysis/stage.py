"""The shared analysis stage: compute once per run what more than one report shows.

:func:`build` loads and cleans the data, summarises it, fits and chooses the value models,
scores every customer, and assigns every label (RFM segment, value tier, pyramid tier, activity
class, behavioural cluster, lifecycle stage).  The result is one table with one row per
customer, ``customers.parquet``, which every report reads: the same customer carries the same
labels and numbers everywhere.

Analyses the data cannot support (a ``ModelError``: too few customers to cluster, a BTYD model
that the data cannot identify, ...) do not stop the stage: the reason is kept in
``analysis.json`` under ``incomplete`` and the reports that need that part say so.
"""

from __future__ import annotations

import pickle
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.analysis import artifacts
from clm_utils.data.sampling import sample_positions
from clm_utils.data.values import ids_in
from clm_utils.errors import ModelError
from clm_utils.profit.costs import NO_COSTS
from clm_utils.settings import Settings

#: Columns of the per-customer table, in order (those that could not be computed are left out).
CUSTOMER_COLUMNS: tuple[str, ...] = (
    "first_purchase", "last_purchase", "n_purchase_days", "frequency", "recency", "T", "monetary_value",
    "revenue", "R", "F", "M", "RFM", "segment", "value_tier", "pyramid", "activity", "cluster", "cluster_name",
    "stage", "stage_rule", "p_alive", "expected_purchases", "clv", "clv_lower", "clv_upper",
    # profit (clm_utils.profit) and the sources' schemes (clm_utils.schemes); issue 14
    "cogs", "gross_margin", "cost_to_serve", "acquisition", "profit", "profit_margin",
    "type_no", "customer_type", "type_policy", "frequency_class", "cpg_class", "loyal",
)
#: Column names of the per-customer table besides ``CUSTOMER_COLUMNS`` (an attribute may not take them).
RESERVED_COLUMNS: frozenset[str] = frozenset({
    config.CUSTOMER_ID, "model", "n_orders", "previous_segment", "previous_value_tier", "previous_pyramid",
    "previous_stage", "previous_activity", "moved", "change"})
#: Attribute columns named like a satisfaction or NPS score (after lower-casing; see ``_satisfaction_column``).
SATISFACTION_NAMES = re.compile(r"satisf|csat|nps|net.?promoter|满意")


#: What a light analysis leaves out (see :func:`build`); the reason kept in ``incomplete`` and ``notes``.
LIGHT_REASON = ("not computed: this is the light analysis a later run compares with, which reads only the labels, "
                "point CLV and models (what to do: run the suite at this as-of date for the full analysis)")


def build(settings: Settings, target: Path, log: Callable[[str], None] | None = None, light: bool = False) -> Path:
    """Compute the shared analysis for ``settings`` into the folder ``target`` (atomically).

    With ``light``, only what a comparison with a later run reads (:mod:`clm_utils.periodic`: every label,
    P(alive), expected purchases, point CLV, the fitted models) is computed: the CLV intervals (per customer
    and per segment: ``n_draws`` parameter draws), the clusters and the covariate model are left out, with
    :data:`LIGHT_REASON` under ``incomplete`` (``clusters``, ``covariates``) and in ``notes``.  Every number
    it holds is the number the full analysis holds.

    Raises
    ------
    DataError, ParameterError
        Bad data or settings (the run stops with one line).
    """
    from clm_utils.data import load_input
    from clm_utils.summary import resolve_dates

    log = log or (lambda _msg: None)
    staging = artifacts.staging_folder(target)
    timings: dict[str, float] = {}
    incomplete: dict[str, str] = {}
    notes: list[str] = []
    tick = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(now - tick, 3)
        tick = now
        log(f"analysis: {name} ({timings[name]:.1f} s)")

    try:
        transactions, quality = load_input(settings.data_path, settings.columns, settings.date_format,
                                           observation_end=settings.as_of, **settings.load_options())
        cal_end, obs = resolve_dates(transactions, settings.as_of, settings.calibration_end)
        summary, calibration = _summaries(settings, transactions, cal_end, obs, notes)
        lap("load and summarise")

        customers = summary.rename(columns={"total_amount": "revenue"})
        attrs = _attributes(settings, summary.index, quality, notes)
        profit = _profit(settings, transactions, attrs["table"], quality, notes)
        customers = customers.join(profit["table"])
        lap("attributes and profit")
        value = _value(settings, calibration, summary, incomplete, notes, profit["clv"], intervals=not light)
        for col in ("p_alive", "expected_purchases", "clv", "clv_lower", "clv_upper"):
            if value["table"] is not None and col in value["table"]:
                customers[col] = value["table"][col]
        lap("value models and CLV")

        segments, scores = _segments(settings, summary, customers, incomplete)
        customers = customers.join(segments)
        interval = None if light else _segment_interval(settings, value, summary, customers, notes)
        lap("segments, tiers and activity")
        customers = customers.join(_stages(settings, transactions, obs, customers))
        lap("lifecycle stages")
        schemes, schemes_meta = _schemes(settings, transactions, obs, summary, customers, incomplete)
        customers = customers.join(schemes)
        covariate_model = None
        if light:
            if settings.covariates:
                incomplete["covariates"] = LIGHT_REASON
        else:
            covariate_model = _covariate_model(settings, summary, attrs["table"], incomplete, notes,
                                               (value["meta"] or {}).get("chosen"))
        if covariate_model is not None:
            value["objects"]["covariate_model"] = covariate_model
        lap("schemes and covariates")
        clusters, criteria = None, None
        if light:
            incomplete["clusters"] = LIGHT_REASON
            notes.append("Light analysis for a comparison: the CLV intervals, clusters and covariate model are "
                         "left out.")
        else:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):  # k-means on small data: OpenMP threads only contend (35 s -> 2 s on CDNOW)
                clusters, criteria = _clusters(settings, summary, transactions, incomplete)
            lap("clusters")
        if clusters is not None:
            customers = customers.join(clusters)

        customers = customers[[c for c in CUSTOMER_COLUMNS if c in customers.columns]].sort_index()
        customers.index.name = config.CUSTOMER_ID
        if attrs["table"] is not None:  # the attributes under their own names, after the run's columns
            from clm_utils.attributes import join_attributes

            customers = join_attributes(customers, attrs["table"])[0]
            customers.attrs = {}
            artifacts.write_table(staging, "attributes", attrs["table"])
        for name, frame in (("transactions", transactions.reset_index(drop=True)),
                            ("quality", quality.to_frame().astype({"count": "float64"})),
                            ("summary", summary), ("calibration", calibration), ("customers", customers),
                            ("rfm_scores", scores)):
            artifacts.write_table(staging, name, frame)
        if value["comparison"] is not None:
            artifacts.write_table(staging, "model_comparison", value["comparison"])
        if criteria is not None:
            artifacts.write_table(staging, "cluster_criteria", criteria)
        if interval is not None:
            artifacts.write_table(staging, "clv_interval", interval)
        with (staging / "models.pkl").open("wb") as fh:
            pickle.dump(value["objects"], fh, protocol=pickle.HIGHEST_PROTOCOL)
        manifest = {
            "settings": settings.to_dict(),
            "data": {"label": settings.data_label, "file": str(settings.data_path or config.CDNOW_MASTER),
                     "sha256": _data_digest(settings)},
            "observation_end": str(obs.date()),
            "calibration_end": str(cal_end.date()),
            "first_date": str(transactions[config.DATE].min().date()),
            "rows_read": _rows_read(quality.to_frame(), len(transactions)),
            "rows_kept": int(len(transactions)),
            "customers": int(len(customers)),
            "quality_warnings": int(quality.n_warnings),
            "value": value["meta"],
            "pyramid_basis": "clv" if "clv" in customers else "revenue",
            "profit": profit["meta"],
            "attributes": attrs["meta"],
            "schemes": schemes_meta,
            "incomplete": incomplete,
            "notes": notes,
            "light": bool(light),
            "timings": timings,
        }
        artifacts.write_manifest(staging, manifest)
        artifacts.move_into_place(staging, target)
    finally:
        if staging.exists():
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    return target


# ----------------------------------------------------------------------------------------------
# Steps
# ----------------------------------------------------------------------------------------------
#: Above this many customers the per-customer CLV interval (n_draws values per customer) is left out.
MAX_CUSTOMER_INTERVALS = 300_000


def _value(settings: Settings, calibration: pd.DataFrame, summary: pd.DataFrame, incomplete: dict[str, str],
           notes: list[str], basis: dict[str, float] | None = None, intervals: bool = True) -> dict[str, Any]:
    """Fit, compare and choose the transaction model; score every customer (``intervals``: with the
    per-customer CLV interval).

    CLV is profit-based: ``basis["margin"]`` × the expected spend per purchase (the ``margin`` setting, or the
    gross-margin rate the cost column shows), minus ``basis["cost_per_order"]`` per expected purchase, both
    discounted over the horizon.  Acquisition cost is not subtracted: it is spent already (sunk) for the
    customers being valued.
    """
    from clm_utils import clv

    basis = basis or {"margin": settings.margin, "cost_per_order": 0.0}
    margin, serve = float(basis["margin"]), float(basis["cost_per_order"])
    out: dict[str, Any] = {"table": None, "comparison": None, "objects": {}, "meta": {}, "serve": None}
    if margin <= 0:
        incomplete["clv"] = ("no CLV: the cost column leaves no gross margin (costs are at least the revenue) "
                             "(what to do: check the cost column)")
        return out
    try:
        vm = clv.fit_value_models(calibration, summary, models=settings.models, clv_model=settings.clv_model)
    except ModelError as exc:
        incomplete["clv"] = _reason(exc, "no transaction model")
        return out
    notes.extend(vm.notes)
    out["comparison"] = vm.comparison
    out["objects"] = {"calibration_models": vm.calibration_models, "model": vm.model, "spend_model": vm.spend_model}
    model = vm.model
    spend: Any = vm.spend_model
    if spend is None:
        repeat = summary["frequency"] > 0
        spend = float(summary.loc[repeat, "monetary_value"].mean() if repeat.any() else summary["total_amount"].mean())
        notes.append(f"Spend per purchase is the plain average of the repeat purchases ({spend:,.2f}).")
    values = clv.customer_lifetime_value(model, spend, summary, horizon=settings.horizon,
                                         discount_rate=settings.discount_rate, time_unit=settings.time_unit,
                                         margin=margin)
    serve_cost = serve * values["discounted_purchases"]  # cost to serve of the expected purchases, discounted
    table = pd.DataFrame({"p_alive": model.conditional_probability_alive(summary),
                          "expected_purchases": values["expected_purchases"], "clv": values["clv"] - serve_cost})
    out["serve"] = serve_cost
    if vm.spend_model is not None and len(summary) > MAX_CUSTOMER_INTERVALS:
        notes.append(f"Per-customer CLV intervals are left out above {MAX_CUSTOMER_INTERVALS:,} customers "
                     f"({len(summary):,} here: n_draws × customers values); the total and segment intervals "
                     "are given.")
    elif vm.spend_model is not None and intervals:
        try:
            ci = clv.customer_clv_interval(model, vm.spend_model, summary, horizon=settings.horizon,
                                           discount_rate=settings.discount_rate, time_unit=settings.time_unit,
                                           margin=margin, n_draws=settings.n_draws, seed=settings.seed)
            table["clv_lower"], table["clv_upper"] = ci["clv_lower"] - serve_cost, ci["clv_upper"] - serve_cost
        except ModelError as exc:
            notes.append(f"No interval on CLV: {exc.message}")
    out["table"] = table
    out["meta"] = {
        "chosen": vm.model_name,
        "requested": vm.chosen,
        "one_time_buyers_alive": bool(getattr(type(model), "one_time_buyers_alive", False)),
        "params": {k: float(v) for k, v in model.params_.items()},
        "spend_model": None if vm.spend_model is None else {k: float(v) for k, v in vm.spend_model.params_.items()},
        "horizon": settings.horizon,
        "discount_rate": settings.discount_rate,
        "margin": margin,
        "cost_per_order": serve,
    }
    if serve:
        notes.append(f"CLV = {margin:g} × expected spend − {serve:g} cost to serve, per expected purchase, "
                     "discounted; its intervals carry the models' uncertainty of the margin part and are shifted "
                     "by the cost to serve at the fitted parameters.")
    return out


def _summaries(settings: Settings, transactions: pd.DataFrame, cal_end: pd.Timestamp, obs: pd.Timestamp,
               notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customer summary and the calibration / holdout split.

    Input files above :data:`clm_utils.engines.AUTO_THRESHOLD_BYTES` are summarised by DuckDB
    straight over the files (:func:`clm_utils.engines.summarize_files`: the same cleaning policies,
    the same numbers to 1e-9, tested); smaller inputs, and anything the SQL engines refuse (order
    lines merged into orders, Excel, ...), by pandas from the loaded transactions.
    """
    from clm_utils.errors import DataError, ParameterError
    from clm_utils.summary import calibration_holdout, summarize

    engine = "pandas"
    if settings.data_path:
        from clm_utils.engines import choose_engine

        try:
            engine = choose_engine(settings.data_path, "auto")
        except (DataError, ParameterError, OSError):
            engine = "pandas"
    if engine != "pandas":
        from clm_utils.engines import summarize_files

        opts = {k: v for k, v in settings.load_options().items() if k not in ("sheet",)}
        common = dict(as_of=obs, time_unit=settings.time_unit, engine=engine, columns=settings.columns,
                      date_format=settings.date_format, **opts)
        try:
            summary, _ = summarize_files(settings.data_path, **common)
            calibration, _ = summarize_files(settings.data_path, calibration_end=cal_end, **common)
        except (DataError, ParameterError) as exc:
            notes.append(f"The {engine} engine could not summarise this input ({exc.message}); pandas did.")
        else:
            notes.append(f"Customer summary computed by the {engine} engine straight over the input files.")
            return summary, calibration
    return (summarize(transactions, obs, settings.time_unit),
            calibration_holdout(transactions, cal_end, obs, settings.time_unit))


#: Above MAX_CUSTOMER_INTERVALS customers the total and segment CLV intervals evaluate the parameter
#: draws on a sample of this many customers stratified by segment (:func:`clm_utils.data.sampling.sample_positions`).
INTERVAL_SAMPLE = 10_000
#: ... with at least this many customers of every segment (all of a smaller segment).
INTERVAL_SEGMENT_MIN = 500


def _segment_interval(settings: Settings, value: dict[str, Any], summary: pd.DataFrame, customers: pd.DataFrame,
                      notes: list[str]) -> pd.DataFrame | None:
    """Total and per-segment CLV with an interval that carries the parameter uncertainty of both models."""
    from clm_utils import clv

    objects = value["objects"]
    if not objects or objects.get("spend_model") is None or "segment" not in customers:
        return None
    segments = customers["segment"].reindex(summary.index)
    pos = None
    if len(summary) > MAX_CUSTOMER_INTERVALS:  # stratified by segment, at least INTERVAL_SEGMENT_MIN each
        pos = sample_positions(len(summary), limit=INTERVAL_SAMPLE, seed=settings.seed,
                               strata=segments.astype("object").to_numpy(), minimum=INTERVAL_SEGMENT_MIN)
    try:
        table = clv.clv_interval(objects["model"], objects["spend_model"],
                                 summary if pos is None else summary.iloc[pos],
                                 segments=segments if pos is None else segments.iloc[pos],
                                 horizon=settings.horizon, discount_rate=settings.discount_rate,
                                 time_unit=settings.time_unit, margin=value["meta"]["margin"],
                                 n_draws=settings.n_draws, seed=settings.seed)
    except ModelError as exc:
        notes.append(f"No interval on the total CLV: {exc.message}")
        return None
    table.attrs = {}
    if pos is not None:  # the sample's relative uncertainty, applied to every customer's point estimate
        point = (value["table"]["clv"] + value["serve"]).reindex(summary.index)
        full = pd.concat([pd.Series({"total": float(point.sum())}),
                          point.groupby(segments.astype("object"), observed=True).sum()])
        counts = pd.concat([pd.Series({"total": len(summary)}), segments.astype("object").value_counts()])
        ratio = full.reindex(table.index) / table["clv_total"].where(table["clv_total"] != 0)
        for col in ("clv_total", "clv_total_lower", "clv_total_upper", "clv_total_sd"):
            table[col] = table[col] * ratio.fillna(1.0)
        table["customers"] = counts.reindex(table.index).fillna(0).astype("int64")
        for col in ("clv_mean", "clv_mean_lower", "clv_mean_upper"):
            table[col] = table[col.replace("mean", "total")] / table["customers"].where(table["customers"] > 0, 1)
        notes.append(f"CLV intervals: the {settings.n_draws:,} parameter draws are evaluated on a seeded sample of "
                     f"{len(pos):,} of {len(summary):,} customers (at least {INTERVAL_SEGMENT_MIN:,} per segment; "
                     f"seed {settings.seed}), and each interval is that sample's relative uncertainty around the "
                     "estimate over every customer.")
    if value["meta"].get("cost_per_order"):  # profit-based CLV: the cost to serve of the expected purchases
        serve = value["serve"].reindex(summary.index)
        by = serve.groupby(customers["segment"].reindex(summary.index).astype("object"), observed=True).sum()
        shift = pd.Series([float(serve.sum())] + [float(by.get(k, 0.0)) for k in table.index[1:]], index=table.index)
        for col in ("clv_total", "clv_total_lower", "clv_total_upper"):
            table[col] = table[col] - shift
        for col in ("clv_mean", "clv_mean_lower", "clv_mean_upper"):
            table[col] = table[col.replace("mean", "total")] / table["customers"].where(table["customers"] > 0, 1)
    return table


def _segments(settings: Settings, summary: pd.DataFrame, customers: pd.DataFrame,
              incomplete: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RFM scores and segment, value tier (revenue), pyramid (CLV, else revenue), activity class.

    Returns the per-customer labels and the full score table (:func:`clm_utils.rfm.rfm_scores`).
    A label the data cannot support (say, every customer spent the same, so tiers cannot rank
    them) is left out and its reason kept in ``incomplete``.
    """
    from clm_utils import rfm

    scores = rfm.rfm_scores(summary, bins=settings.rfm_bins, monetary=settings.rfm_monetary)
    out = scores[["R", "F", "M", "RFM"]].copy()
    revenue = summary["total_amount"]
    basis = customers["clv"] if "clv" in customers else revenue
    steps = {
        "segment": lambda: rfm.rfm_segments(scores),
        "value_tier": lambda: rfm.value_tiers(revenue, shares=settings.tier_shares),
        "pyramid": lambda: rfm.customer_pyramid(basis, shares=settings.pyramid_shares),
        "activity": lambda: rfm.activity_classes(summary, active_within=settings.active_within,
                                                 churned_after=settings.churned_after),
    }
    for name, step in steps.items():
        try:
            out[name] = step()
        except ModelError as exc:
            incomplete[name] = _reason(exc)
    return out, scores


def _stages(settings: Settings, transactions: pd.DataFrame, obs: pd.Timestamp,
            customers: pd.DataFrame) -> pd.DataFrame:
    """Lifecycle stage and the rule that gave it."""
    from clm_utils import lifecycle

    p_alive = customers["p_alive"] if settings.stages_from_p_alive and "p_alive" in customers else None
    stages = lifecycle.assign_stages(transactions, obs, p_alive=p_alive, **settings.stage_params())
    return stages[["stage", "rule"]].rename(columns={"rule": "stage_rule"})


#: Customers in the seeded stratified sample k is chosen and the centres fitted on; everyone is then assigned.
CLUSTER_SAMPLE = 5_000


def _clusters(settings: Settings, summary: pd.DataFrame, transactions: pd.DataFrame,
              incomplete: dict[str, str]) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Behavioural k-means clusters with the k chosen on a seeded sample; names from the profiles."""
    from clm_utils import cluster as cl

    try:
        raw = cl.behaviour_features(summary, transactions)
        prepared = cl.prepare_features(raw)
        X = prepared.X
        k_range = range(settings.k_min, settings.k_max + 1)
        criteria = cl.choose_k(X, k_range=k_range, seed=settings.seed, n_init=4, silhouette_sample=3000,
                               gmm_sample=3000, max_sample=CLUSTER_SAMPLE)
        k = settings.cluster_k or cl.pick_k(criteria)
        labels = cl.fit_kmeans(X, k, seed=settings.seed, max_sample=CLUSTER_SAMPLE)
        names = cl.name_clusters(cl.cluster_zscores(prepared, labels))
    except ModelError as exc:
        incomplete["clusters"] = _reason(exc, "no clusters")
        return None, None
    criteria = criteria.copy()
    criteria["chosen"] = criteria.index == k
    out = pd.DataFrame({"cluster": labels.astype("int64"), "cluster_name": labels.map(names).astype("string")})
    return out, criteria


def _attributes(settings: Settings, ids: pd.Index, quality: Any, notes: list[str]) -> dict[str, Any]:
    """The ``--customers`` attribute table: loaded, checked against the run's columns, join counted.

    Its load rows and the join's counts (ids missing on either side) go into the data-quality table.
    """
    out: dict[str, Any] = {"table": None, "meta": None}
    if not settings.customers_path:
        return out
    from clm_utils.attributes import join_attributes, load_attributes
    from clm_utils.errors import DataError, ParameterError

    table, report = load_attributes(settings.customers_path, settings.customers_id, settings.customers_sheet)
    clash = [c for c in table.columns if c in CUSTOMER_COLUMNS or c in RESERVED_COLUMNS]
    if clash:
        raise DataError(f"attribute column {clash[0]!r} has the name of a column of the run's customer table",
                        file=Path(settings.customers_path).name, column=clash[0],
                        hint="rename it in the attribute file")
    kinds = dict(table.attrs.get("kinds", {}))
    for name, column in (("satisfaction_column", settings.satisfaction_column),
                         ("acquisition_column", settings.acquisition_column),
                         *(("covariates", c) for c in settings.covariates)):
        if column is not None and column not in table.columns:
            listed = ", ".join(map(repr, list(table.columns)[:12]))
            raise ParameterError(f"the attribute file has no column {column!r}", parameter=name,
                                 hint=f"choose one of {listed}")
    quality.rows.extend(r for r in report.rows if r["check"] != "customers with attributes")
    _, counts = join_attributes(ids, table)
    counts.add_to(quality)
    satisfaction = _satisfaction_column(settings, kinds)
    if satisfaction and not settings.satisfaction_column:
        notes.append(f"Satisfaction scores: the attribute column {satisfaction!r} (detected by its name).")
    out["table"] = table
    out["meta"] = {"file": Path(settings.customers_path).name, "sha256": _file_digest(Path(settings.customers_path)),
                   "kinds": kinds, "columns": list(table.columns), "rows": int(len(table)),
                   "satisfaction_column": satisfaction, "join": counts.to_frame().drop(columns="examples")
                   .set_index("check")["count"].astype(int).to_dict()}
    return out


def _satisfaction_column(settings: Settings, kinds: dict[str, str]) -> str | None:
    """The satisfaction / NPS column: the setting, else the first numeric column named like one."""
    if settings.satisfaction_column:
        return settings.satisfaction_column
    hits = [c for c, k in kinds.items() if k == "numeric" and SATISFACTION_NAMES.search(str(c).lower())]
    return hits[0] if hits else None


def _profit(settings: Settings, transactions: pd.DataFrame, attributes: pd.DataFrame | None, quality: Any,
            notes: list[str]) -> dict[str, Any]:
    """Customer profitability (:func:`clm_utils.profit.customer_profitability`) and the CLV's margin basis."""
    from clm_utils.profit import COST, customer_profitability

    inputs = settings.cost_inputs()
    has_cost = COST in transactions.columns
    acquisition = inputs.acquisition(attributes)
    table = customer_profitability(transactions, margin=settings.margin,  # refused with a cost column unless 1
                                   cost_per_order=settings.cost_per_order, acquisition_cost=acquisition,
                                   acquisition_default=settings.acquisition_cost)
    basis = str(table.attrs["basis"])
    if isinstance(acquisition, pd.Series):
        quality.add("customers without an acquisition cost in the attribute file", table.attrs["acquisition_missing"],
                    f"charged {settings.acquisition_cost:g} (acquisition_cost)"
                    if table.attrs["acquisition_missing"] else "")
    revenue = float(table["revenue"].sum())
    margin = settings.margin
    if has_cost:
        margin = float(table["gross_margin"].sum()) / revenue if revenue > 0 else 0.0
        notes.append(f"CLV uses the gross-margin rate of the cost column, {margin:.1%} of revenue.")
    totals = {c: float(table[c].sum()) for c in ("revenue", "cogs", "gross_margin", "cost_to_serve", "acquisition",
                                                 "profit")}
    meta = {"basis": basis, "has_costs": basis != NO_COSTS, "cost_column": has_cost, "clv_margin": margin,
            "cost_per_order": settings.cost_per_order, "acquisition_cost": settings.acquisition_cost,
            "acquisition_column": settings.acquisition_column,
            "acquisition_missing": int(table.attrs.get("acquisition_missing", 0)), "totals": totals}
    columns = ["cogs", "gross_margin", "cost_to_serve", "acquisition", "profit", "profit_margin"]
    return {"table": table[columns], "meta": meta,
            "clv": {"margin": margin, "cost_per_order": settings.cost_per_order}}


def _schemes(settings: Settings, transactions: pd.DataFrame, obs: pd.Timestamp, summary: pd.DataFrame,
             customers: pd.DataFrame, incomplete: dict[str, str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The sources' schemes per customer: the 12 types, 高频/低频/零频, 核心/潜力/一般, loyal (clm_utils.schemes)."""
    from clm_utils import schemes

    out = pd.DataFrame(index=customers.index)
    meta: dict[str, Any] = {}
    try:
        if "value_tier" not in customers:
            raise ModelError("the 12 types need the value tiers, which these data cannot rank")
        types = schemes.customer_types(customers["value_tier"].astype("object"),
                                       customers["stage"].astype("object"), terminated=settings.type_terminated_stage)
        out["type_no"] = types["type_no"].astype("int64")
        out["customer_type"] = types["type"].astype("string")
        out["type_policy"] = types["policy"].astype("string")
        meta["types_terminated_in"] = settings.type_terminated_stage
    except ModelError as exc:
        incomplete["types"] = _reason(exc)
    window = config.duration_in_units(settings.frequency_window, "D", "frequency_window")
    start = obs - pd.Timedelta(days=round(window)) + pd.Timedelta(days=1)
    counts = schemes.period_purchase_counts(transactions, customers.index, start, obs)
    classes = schemes.frequency_classes(counts, settings.frequency_threshold)
    out["frequency_class"] = classes.astype("string")
    meta["frequency"] = {"window": settings.frequency_window, "start": str(start.date()), "end": str(obs.date()),
                         "threshold": float(classes.attrs["threshold"])}
    if "clv" in customers:
        out["cpg_class"] = schemes.core_potential_general(customers["profit"], customers["clv"],
                                                          settings.core_share, settings.potential_share
                                                          ).astype("string")
        meta["cpg"] = {"current": "profit", "potential": "clv", "core_share": settings.core_share,
                       "potential_share": settings.potential_share}
    else:
        incomplete["cpg"] = ("core / potential / general customers need the CLV as potential value, which these data "
                             "could not support (what to do: see the reason under clv)")
    loyal = schemes.loyal_customers(summary, settings.stability_min_tenure_days, settings.stability_min_purchases)
    out["loyal"] = loyal.reindex(customers.index).astype(bool)
    meta["loyal_definition"] = loyal.attrs["definition"]
    return out, meta


def _covariate_model(settings: Settings, summary: pd.DataFrame, attributes: pd.DataFrame | None,
                     incomplete: dict[str, str], notes: list[str], chosen: str | None = None) -> Any:
    """The chosen model's family with the ``covariates`` on both processes (CLVTools' static covariates):
    BG/NBD when the run chose BG/NBD or MBG/NBD, else Pareto/NBD; fitted on the customers that have them all."""
    if not settings.covariates or attributes is None:
        return None
    from clm_utils.clv.covariates import BetaGeoCovariates, ParetoNBDCovariates

    family = BetaGeoCovariates if chosen in ("BG/NBD", "MBG/NBD") else ParetoNBDCovariates
    name = "BG/NBD" if family is BetaGeoCovariates else "Pareto/NBD"
    from clm_utils.errors import DataError

    cov = attributes[list(settings.covariates)].copy()
    cov.index = cov.index.astype(str)
    have = ids_in(summary.index.astype(str), cov.dropna().index)
    if (~have).any():
        notes.append(f"The covariate {name} leaves out {int((~have).sum()):,} customers without a value of "
                     f"every covariate ({', '.join(settings.covariates)}).")
    try:
        model = family().fit(summary.loc[have], cov)
        test = model.lr_test(summary.loc[have])  # against the plain model on the same customers
    except (ModelError, DataError) as exc:
        incomplete["covariates"] = _reason(exc, f"no covariate {name}")
        return None
    model.lr_test_ = test
    return model


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
#: What the user can do when a part is missing and the error itself names no remedy.
REMEDIES: dict[str, str] = {
    "no transaction model": "a BTYD model needs at least 10 repeat buyers: export a longer history or more customers; "
                            "the other reports do not need it",
    "no clusters": "clustering needs more customers than the largest k (k_max); with few customers read the RFM "
                   "segments instead, or lower k_max",
    "": "the other labels and reports do not need this one",
}


def _reason(exc: ModelError, what: str = "") -> str:
    """The stage's record of why a part is missing: what, why, and what the user can do."""
    text = f"{what}: {exc.message}" if what else exc.message
    return text + f" (what to do: {exc.hint or REMEDIES.get(what, REMEDIES[''])})"


def _file_digest(path: Path) -> str:
    from clm_utils.report import file_sha256

    return file_sha256(path) if path.is_file() else ""


def _data_digest(settings: Settings) -> str:
    from clm_utils.analysis import _data_digest as digest

    return digest(settings)


def _rows_read(quality: pd.DataFrame, default: int) -> int:
    hit = quality.loc[quality["check"] == "rows read", "count"]
    return int(hit.iloc[0]) if len(hit) else int(default)


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
