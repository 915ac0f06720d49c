"""Periodic reports: dated runs, what changed since the last one, and whether its forecast held.

==========================  =============================================================
module                      concept
==========================  =============================================================
:mod:`.kpis`                the headline KPIs of a run and their deltas
:mod:`.migration`           migration matrices, flow plots, new/retained/lost/reactivated, movers
:mod:`.forecast_check`      the earlier run's predictions against what happened since
:mod:`.compare`             two runs side by side (notebook 07), stage transitions vs projection
:mod:`.history`             calendar steps, comparison dates, ``clm history``
==========================  =============================================================
"""

from clm_utils.periodic.compare import Change, StageCheck, open_change, stage_check
from clm_utils.periodic.forecast_check import ForecastCheck, forecast_check
from clm_utils.periodic.history import (
    prepare_run_comparison,
    COMPARE_SUBDIR,
    DEFAULT_COMPARE_OFFSET,
    as_of_dates,
    comparison_date,
    comparison_settings,
    open_comparison_analysis,
    prepare_comparison,
    run_history,
    shift_date,
)
from clm_utils.periodic.kpis import (
    KPIS,
    MONEY_KPIS,
    PERCENT_KPIS,
    headline_kpis,
    kpi_deltas,
    kpi_table,
    kpis_from_tables,
)
from clm_utils.periodic.migration import (
    DIMENSIONS,
    FLOW_STATUSES,
    change_columns,
    customer_flows,
    flow_summary,
    lapsed,
    migration_matrix,
    movers,
    period_purchases,
    plot_flow,
)

__all__ = [
    "COMPARE_SUBDIR", "DEFAULT_COMPARE_OFFSET", "DIMENSIONS", "FLOW_STATUSES", "KPIS", "MONEY_KPIS", "PERCENT_KPIS",
    "Change", "ForecastCheck", "StageCheck", "as_of_dates", "change_columns", "comparison_date",
    "comparison_settings", "customer_flows", "flow_summary", "forecast_check", "headline_kpis", "kpi_deltas",
    "kpi_table", "kpis_from_tables", "lapsed", "migration_matrix", "movers", "open_change", "open_comparison_analysis",
    "period_purchases", "plot_flow", "prepare_comparison", "prepare_run_comparison", "run_history", "shift_date", "stage_check",
]
