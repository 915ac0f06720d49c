"""Customer relationship lifecycle (客户关系生命周期): stages, transitions, curves, claims, validity.

The lifecycle theory (Dwyer, Schurr & Oh 1987; Chen Mingliang 陈明亮 2002) says a relationship
moves through exploration 考察期, formation 形成期, stability 稳定期 and decline 退化期, and ends
(terminated 流失期).  This package turns that theory into measurements on transaction data:

* :mod:`~clm_utils.lifecycle.stages`: the stage rule (:func:`assign_stages`), shares, threshold
  sensitivity, the stage x value grid and the strategy per stage;
* :mod:`~clm_utils.lifecycle.transitions`: stage transitions between two dates, Markov projection;
* :mod:`~clm_utils.lifecycle.curves`: aggregate volume / revenue / profit by relationship age;
* :mod:`~clm_utils.lifecycle.claims`: tests of the theory's four curve claims (sample splitting);
* :mod:`~clm_utils.lifecycle.calibration`: their false-positive rate on data with no lifecycle and
  their power on data that follow the theory (simulation);
* :mod:`~clm_utils.lifecycle.validity`: do the stages predict the holdout as the theory says?
"""

from __future__ import annotations

from clm_utils.lifecycle.calibration import (
    calibration_table,
    claim_calibration,
    claims_by_basis,
    claims_with_calibration,
)
from clm_utils.lifecycle.claims import CLAIMS, evaluate_lifecycle_claims
from clm_utils.lifecycle.curves import (
    BASES,
    LifecycleCurves,
    lifecycle_curves,
    lifecycle_curves_by_basis,
    plot_lifecycle_curves,
    plot_lifecycle_curves_by_basis,
    profit_definition,
)
from clm_utils.lifecycle.stages import (
    STAGE_STRATEGY,
    STAGES,
    STAGES_ZH,
    StageParams,
    assign_stages,
    plot_stage_sensitivity,
    plot_stage_value_grid,
    resolve_params,
    stage_sensitivity,
    stage_shares,
    stage_strategy_table,
    stage_summary,
    stage_value_grid,
)
from clm_utils.lifecycle.transitions import TransitionResult, stage_transitions
from clm_utils.lifecycle.validity import (
    StageValidity,
    stage_validity,
    stage_validity_sensitivity,
    validity_sensitivity_table,
)

__all__ = [
    "BASES",
    "CLAIMS",
    "STAGES",
    "STAGES_ZH",
    "STAGE_STRATEGY",
    "LifecycleCurves",
    "StageParams",
    "StageValidity",
    "TransitionResult",
    "assign_stages",
    "calibration_table",
    "claim_calibration",
    "claims_by_basis",
    "claims_with_calibration",
    "evaluate_lifecycle_claims",
    "lifecycle_curves",
    "lifecycle_curves_by_basis",
    "plot_lifecycle_curves",
    "plot_lifecycle_curves_by_basis",
    "plot_stage_sensitivity",
    "plot_stage_value_grid",
    "profit_definition",
    "resolve_params",
    "stage_sensitivity",
    "stage_shares",
    "stage_strategy_table",
    "stage_summary",
    "stage_transitions",
    "stage_validity",
    "stage_validity_sensitivity",
    "stage_value_grid",
    "validity_sensitivity_table",
]
