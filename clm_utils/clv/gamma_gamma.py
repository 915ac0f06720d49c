"""Gamma-Gamma model of spend per transaction (Colombo & Jiang 1999; Fader, Hardie & Lee 2005,
"RFM and CLV"; Fader & Hardie 2013, "The Gamma-Gamma model of monetary value").

A customer's transaction values are Gamma(p, nu); ``nu ~ Gamma(q, gamma)`` across customers, so
the mean spend ``E[Z] = p / nu`` has population mean ``p gamma / (q - 1)``.  Fitted on repeat
buyers (``frequency > 0`` and ``monetary_value > 0``), with ``monetary_value`` = mean value of the
repeat transactions.  Log-likelihood of a customer with x transactions of mean m (FH 2013 eq. 3)::

    lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln m + px ln x - (px+q) ln(gamma + m x)

The model assumes spend is independent of purchase frequency; :func:`independence_check`
reports that correlation.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from clm_utils.clv._base import BaseFitter, as_float_column, compress_rows, resolve_weights
from clm_utils.errors import DataError, ModelError


def independence_check(summary: pd.DataFrame, threshold: float = 0.3, warn: bool = True) -> dict[str, float]:
    """Pearson and Spearman correlation between ``frequency`` and ``monetary_value`` among repeat buyers.

    Returns a dict (``pearson``, ``spearman``, ``n``, ``threshold``, ``strong``); warns when
    ``|pearson| > threshold`` because the Gamma-Gamma model assumes independence.
    """
    x = as_float_column(summary, "frequency")
    mv = as_float_column(summary, "monetary_value")
    keep = (x > 0) & (mv > 0)
    n = int(keep.sum())
    if n < 3:
        raise ModelError("independence check needs at least 3 repeat buyers")
    s = pd.DataFrame({"x": x[keep], "m": mv[keep]})
    pear = float(s["x"].corr(s["m"])) if s["x"].nunique() > 1 and s["m"].nunique() > 1 else 0.0
    spear = float(s["x"].corr(s["m"], method="spearman")) if s["x"].nunique() > 1 and s["m"].nunique() > 1 else 0.0
    strong = abs(pear) > threshold
    if strong and warn:
        warnings.warn(
            f"Gamma-Gamma: frequency and spend are correlated (Pearson {pear:.2f}); the model assumes "
            "independence, so spend predictions may be biased",
            UserWarning,
            stacklevel=2,
        )
    return {"pearson": pear, "spearman": spear, "n": float(n), "threshold": threshold, "strong": bool(strong)}


class GammaGamma(BaseFitter):
    """Gamma-Gamma spend model with parameters ``p, q, gamma``."""

    _param_names = ("p", "q", "gamma")
    _model_name = "Gamma-Gamma"

    def __init__(self, independence_threshold: float = 0.3) -> None:
        self.independence_threshold = independence_threshold

    def fit(self, summary: pd.DataFrame, weights: Any = None) -> GammaGamma:
        """Fit on the repeat buyers of ``summary`` (``frequency`` > 0, ``monetary_value`` > 0).

        Raises
        ------
        ModelError
            Fewer than 3 repeat buyers, or all spend values identical.
        """
        if not isinstance(summary, pd.DataFrame) or len(summary) == 0:
            raise DataError("the customer summary is empty", file="summary")
        x = as_float_column(summary, "frequency")
        mv = as_float_column(summary, "monetary_value")
        w = resolve_weights(summary, weights)
        keep = (x > 0) & (mv > 0)
        if keep.sum() < 3:
            raise ModelError(
                f"Gamma-Gamma: {int(keep.sum())} repeat buyer(s) with positive spend; at least 3 are needed",
                hint="use a longer calibration period",
            )
        if np.unique(mv[keep]).size == 1:
            raise ModelError("Gamma-Gamma: every repeat buyer has the same mean spend; the spread cannot be identified")
        self.independence_ = independence_check(summary, self.independence_threshold, warn=True)
        (ux, um), uw, _ = compress_rows([x[keep], mv[keep]], None if w is None else w[keep])
        xu, xinv = np.unique(ux, return_inverse=True)
        self._fit_ml({"x": ux, "m": um, "w": uw, "xu": xu, "xinv": xinv, "lm": np.log(um),
                      "lx": np.log(ux), "mx": um * ux})
        self.n_repeat_buyers_ = float(uw.sum())
        return self

    def _start(self, data: dict[str, np.ndarray]) -> np.ndarray:
        w = data["w"]
        mean_m = float(np.dot(w, data["m"]) / w.sum())
        return np.log([1.0, 2.0, max(mean_m, 1e-6)])

    def _loglik_rows(self, logp: np.ndarray, data: dict[str, np.ndarray], need_grad: bool) -> tuple[
        np.ndarray, np.ndarray | None
    ]:
        p, q, g = np.exp(logp)
        x, xu, xinv, lm, lx, mx = data["x"], data["xu"], data["xinv"], data["lm"], data["lx"], data["mx"]
        pxu = p * xu
        px = p * x
        lxm = np.log(g + mx)
        # terms in x only are evaluated on the unique x values
        ll = (special.gammaln(pxu + q) - special.gammaln(pxu))[xinv] - special.gammaln(q) + q * np.log(g) \
            + (px - 1) * lm + px * lx - (px + q) * lxm
        if not need_grad:
            return ll, None
        psu = special.digamma(pxu + q)
        ps = psu[xinv]
        dp = (xu * (psu - special.digamma(pxu)))[xinv] + x * (lm + lx - lxm)
        dq = ps - special.digamma(q) + np.log(g) - lxm
        dg = q / g - (px + q) / (g + mx)
        return ll, np.column_stack([dp * p, dq * q, dg * g])

    def population_mean_spend(self) -> float:
        """E[Z] = p gamma / (q - 1); requires q > 1."""
        p, q, g = self._p()
        if q <= 1:
            raise ModelError("Gamma-Gamma: q <= 1, so the population mean spend is infinite")
        return p * g / (q - 1)

    def conditional_expected_average_profit(self, summary: pd.DataFrame) -> pd.Series:
        """E[Z | x, m] = p (gamma + m x) / (p x + q - 1): a weighted average of the population mean and
        the customer's observed mean (FH 2013 eq. 5); the population mean for customers with no repeat purchase."""
        self._check_fitted()
        p, q, g = self._p()
        x = as_float_column(summary, "frequency")
        mv = as_float_column(summary, "monetary_value")
        rep = (x > 0) & (mv > 0)
        if q <= 1 and not np.all(rep):
            raise ModelError("Gamma-Gamma: q <= 1, so spend cannot be predicted for customers without repeat purchases")
        with np.errstate(all="ignore"):
            out = np.where(rep, p * (g + mv * x) / (p * x + q - 1), p * g / (q - 1) if q > 1 else np.nan)
        return pd.Series(out, index=summary.index, name="expected_spend")
