"""Plots of the clustering features."""

from __future__ import annotations

import numpy as np

from clm_utils.cluster.features import PreparedFeatures, feature_label

__all__ = ["plot_transform_effect"]


def plot_transform_effect(prepared: PreparedFeatures, n: int = 2, time_unit_name: str = "weeks",
                          currency: str = "USD", bins: int = 60) -> np.ndarray:
    """Histograms of the ``n`` most skewed features: raw (left) and transformed + standardised (right).

    Shows why skewed features are log-transformed before clustering.  Returns the ``n x 2`` Axes array.
    """
    import matplotlib.pyplot as plt

    tr = prepared.transforms.set_index("feature")
    skewed = tr[tr["kept"]].sort_values("skew_before", ascending=False).index[:n].tolist()
    fig, axes = plt.subplots(max(1, len(skewed)), 2, figsize=(11, 3.2 * max(1, len(skewed))), squeeze=False)
    for row, feat in zip(axes, skewed, strict=False):
        row[0].hist(prepared.raw[feat], bins=bins, color="C0")
        row[0].set_title(f"{feat}: raw (skew {tr.loc[feat, 'skew_before']:.1f})")
        row[0].set_xlabel(feature_label(feat, time_unit_name, currency))
        row[1].hist(prepared.X[feat], bins=bins, color="C1")
        row[1].set_title(f"{feat}: {'log-transformed' if tr.loc[feat, 'log'] else 'untransformed'} and standardised")
        row[1].set_xlabel("z-score")
        for ax in row:
            ax.set_ylabel("customers")
    fig.tight_layout()
    return axes
