"""Customer lifetime value: the BTYD model family and discounted CLV (客户生命周期价值).

One module per model family, all fitted by maximum likelihood on numpy/scipy (see
:mod:`clm_utils.clv._base`):

========================  =====================================  ==========================
class                     setting                                module
========================  =====================================  ==========================
:class:`BetaGeo`          non-contractual, continuous (BG/NBD)   :mod:`.betageo`
:class:`ModifiedBetaGeo`  non-contractual, continuous (MBG/NBD)  :mod:`.betageo`
:class:`ParetoNBD`        non-contractual, continuous            :mod:`.pareto`
:class:`NBD`              no dropout (limit of the three above)  :mod:`.nbd`
:class:`BetaGeoBetaBinom` non-contractual, discrete (BG/BB)      :mod:`.bgbb`
:class:`ShiftedBetaGeo`   contractual retention (sBG)            :mod:`.sbg`
:class:`GammaGamma`       spend per transaction                  :mod:`.gamma_gamma`
========================  =====================================  ==========================

:data:`MODELS` names the transaction models; :func:`fit_value_models` fits, compares and chooses
one (falling back to the NBD where an estimate runs to the no-dropout boundary) and fits the spend
model.  :func:`customer_lifetime_value` combines a transaction model and a spend model; validation
tables and plots live in :mod:`.diagnostics`.
"""

from clm_utils.clv._base import MIN_REPEAT_BUYERS, BoundaryEstimate, boundary_lr_test
from clm_utils.clv.betageo import BetaGeo, ModifiedBetaGeo
from clm_utils.clv.bgbb import BetaGeoBetaBinom
from clm_utils.clv.covariates import BetaGeoCovariates, ParetoNBDCovariates
from clm_utils.clv.diagnostics import (
    calibration_counts,
    compare_models,
    conditional_expectations,
    frequency_histogram,
    p_alive_matrix,
    parameter_table,
    plot_conditional_expectations,
    plot_frequency_histogram,
    plot_p_alive_matrix,
    plot_tracking,
    plot_tracking_models,
    tracking_data,
)
from clm_utils.clv.gamma_gamma import GammaGamma, independence_check
from clm_utils.clv.nbd import NBD
from clm_utils.clv.pareto import ParetoNBD
from clm_utils.clv.registry import (
    MODELS,
    TransactionFit,
    ValueModels,
    fit_transaction_model,
    fit_value_models,
)
from clm_utils.clv.sbg import ShiftedBetaGeo, fader_hardie_2007_example
from clm_utils.clv.value import (
    QUADRANTS,
    bootstrap_clv,
    clv_interval,
    clv_parameter_interval,
    customer_clv_interval,
    customer_lifetime_value,
    horizon_in_units,
    plot_clv_distribution,
    plot_value_matrix,
    segment_clv_table,
    value_matrix,
    value_matrix_summary,
)

__all__ = [
    "calibration_counts",
    "parameter_table",
    "plot_tracking_models",
    "MIN_REPEAT_BUYERS",
    "MODELS",
    "NBD",
    "QUADRANTS",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "BetaGeoCovariates",
    "ParetoNBDCovariates",
    "BoundaryEstimate",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "ShiftedBetaGeo",
    "TransactionFit",
    "ValueModels",
    "boundary_lr_test",
    "bootstrap_clv",
    "clv_interval",
    "clv_parameter_interval",
    "customer_clv_interval",
    "compare_models",
    "conditional_expectations",
    "customer_lifetime_value",
    "fader_hardie_2007_example",
    "fit_transaction_model",
    "fit_value_models",
    "frequency_histogram",
    "horizon_in_units",
    "independence_check",
    "p_alive_matrix",
    "plot_clv_distribution",
    "plot_conditional_expectations",
    "plot_frequency_histogram",
    "plot_p_alive_matrix",
    "plot_tracking",
    "plot_value_matrix",
    "segment_clv_table",
    "tracking_data",
    "value_matrix",
    "value_matrix_summary",
]
