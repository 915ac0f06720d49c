"""Behavioural clustering and factor-then-cluster segmentation (因子-聚类分析).

Flow: :func:`behaviour_features` (raw features per customer, vectorised) ->
:func:`prepare_features` (log-transform skewed features, standardise) -> :func:`choose_k`
(silhouette, Calinski-Harabasz, inertia, Gaussian-mixture BIC over a k range) ->
:func:`fit_kmeans` / :func:`fit_gmm` -> :func:`bootstrap_stability` -> :func:`cluster_profiles`
and :func:`name_clusters`.  Factor-then-cluster: :func:`kmo`, :func:`bartlett_sphericity`,
:func:`n_factors_kaiser` / :func:`parallel_analysis`, :func:`factor_analysis` (varimax), then
k-means on the factor scores and :func:`value_risk_grid`.

All randomness is seeded through ``seed`` parameters.

Modules: ``features`` (features and their preparation), ``kmeans`` (choosing k, fitting,
stability; large bases are handled on a stratified sample), ``profiles`` (profiles, names,
recommendations), ``factors`` (KMO, Bartlett, redundant-indicator screening, varimax factors),
``grid`` (the value x risk grid), ``plots`` (feature histograms).
"""

from __future__ import annotations

from clm_utils.cluster.factors import (
    FactorResult,
    IndicatorScreen,
    bartlett_sphericity,
    drop_redundant_indicators,
    factor_analysis,
    kmo,
    loadings_table,
    n_factors_kaiser,
    parallel_analysis,
    partial_correlations,
    screen_indicators,
    select_indicators,
    varimax,
)
from clm_utils.cluster.features import (
    FEATURE_UNITS,
    FEATURE_WORDS,
    FEATURE_ZH,
    RISK_FEATURES,
    VALUE_FEATURES,
    PreparedFeatures,
    behaviour_features,
    describe_features,
    feature_label,
    prepare_features,
)
from clm_utils.cluster.grid import (
    QUADRANT_ACTIONS,
    FactorClusters,
    factor_clusters,
    grid_recommendations,
    plot_value_risk_grid,
    value_risk_grid,
)
from clm_utils.cluster.kmeans import (
    DEFAULT_MAX_SAMPLE,
    bootstrap_stability,
    choose_k,
    fit_gmm,
    fit_kmeans,
    pick_k,
    plot_k_selection,
    stability_summary,
    stratified_sample,
)
from clm_utils.cluster.plots import plot_transform_effect
from clm_utils.cluster.profiles import (
    NAME_WEIGHTS,
    cluster_profiles,
    cluster_recommendations,
    cluster_zscores,
    crosstab_segments,
    name_clusters,
    plot_profile_heatmap,
)

__all__ = [
    "DEFAULT_MAX_SAMPLE",
    "FEATURE_UNITS",
    "FEATURE_WORDS",
    "FEATURE_ZH",
    "NAME_WEIGHTS",
    "QUADRANT_ACTIONS",
    "RISK_FEATURES",
    "VALUE_FEATURES",
    "FactorClusters",
    "FactorResult",
    "IndicatorScreen",
    "PreparedFeatures",
    "bartlett_sphericity",
    "behaviour_features",
    "bootstrap_stability",
    "choose_k",
    "cluster_profiles",
    "cluster_recommendations",
    "cluster_zscores",
    "crosstab_segments",
    "describe_features",
    "drop_redundant_indicators",
    "factor_analysis",
    "factor_clusters",
    "feature_label",
    "fit_gmm",
    "fit_kmeans",
    "grid_recommendations",
    "kmo",
    "loadings_table",
    "n_factors_kaiser",
    "name_clusters",
    "parallel_analysis",
    "partial_correlations",
    "pick_k",
    "plot_k_selection",
    "plot_profile_heatmap",
    "plot_transform_effect",
    "plot_value_risk_grid",
    "prepare_features",
    "screen_indicators",
    "select_indicators",
    "stability_summary",
    "stratified_sample",
    "value_risk_grid",
    "varimax",
]
