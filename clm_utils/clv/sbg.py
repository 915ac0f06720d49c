"""Shifted-beta-geometric (sBG) retention model (Fader & Hardie 2007, "How to project customer
retention", Journal of Interactive Marketing 21(1)); discounted expected residual lifetime from
Fader & Hardie (2010), "Customer-base valuation in a contractual setting: the perils of ignoring
heterogeneity", Marketing Science 29(1).

Each customer renews at the end of every period with probability ``1 - theta``; ``theta ~ Beta(
alpha, beta)`` across customers.  With ``T`` the period in which a customer churns::

    P(T = t) = B(alpha+1, beta+t-1) / B(alpha, beta)      (t = 1, 2, ...)
    S(t)     = B(alpha, beta+t) / B(alpha, beta)
    r_t      = (beta+t-1) / (alpha+beta+t-1)               (retention rate in period t)

Data contract: ``alive`` = number (or share) of a cohort still active at periods 0..n.
"""

from __future__ import annotations

import warnings
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import special

from clm_utils.clv._base import BaseFitter, time_array
from clm_utils.errors import DataError, ModelError, ParameterError

#: Fader & Hardie (2007), Table 1: customers (of 1,000 per cohort) still active at years 0..12.
_FH2007 = {
    "regular": [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173],
    "high_end": [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394],
}


def fader_hardie_2007_example() -> pd.DataFrame:
    """The two cohorts of Fader & Hardie (2007), Table 1: active customers at years 0-12.

    The paper fits the sBG to years 0-7 (``frame.loc[:7]``) and projects years 8-12.  Published
    estimates: regular alpha 0.704, beta 1.182; high end alpha 0.668, beta 3.806.
    """
    df = pd.DataFrame(_FH2007, index=pd.RangeIndex(0, 13, name="year")).astype(float)
    df.attrs["fit_years"] = 7
    return df


class ShiftedBetaGeo(BaseFitter):
    """sBG model; ``fit(alive)`` with alive counts for periods 0..n."""

    _param_names = ("alpha", "beta")
    _model_name = "sBG"

    @classmethod
    def fader_hardie_2007_example(cls) -> pd.DataFrame:
        """See :func:`fader_hardie_2007_example`."""
        return fader_hardie_2007_example()

    def fit(self, alive: Any, cohort_size: float | None = None) -> ShiftedBetaGeo:
        """Fit to the survivor counts (or shares) ``alive[0..n]`` of one cohort.

        Parameters
        ----------
        alive
            Non-increasing counts (``alive[0]`` = cohort size) or shares (``alive[0] == 1``).
        cohort_size
            Cohort size used when ``alive`` holds shares (only the standard errors depend on it);
            default 1,000 with a warning.

        Raises
        ------
        DataError
            Fewer than 2 periods, negative/NaN values, or an increasing series.
        ModelError
            Nobody churned (or everybody churned at once): alpha/beta cannot be identified.
        """
        a = np.asarray(pd.Series(alive).to_numpy(dtype=float))
        if a.ndim != 1 or a.size < 2:
            raise DataError("sBG needs the active count for at least periods 0 and 1", file="alive")
        if not np.all(np.isfinite(a)) or np.any(a < 0) or a[0] <= 0:
            raise DataError("active counts must be finite, non-negative, with alive[0] > 0", file="alive")
        if np.any(np.diff(a) > 1e-9 * a[0]):
            bad = np.flatnonzero(np.diff(a) > 1e-9 * a[0]) + 1
            raise DataError(
                "active counts increase over time", file="alive", rows=bad[:5].tolist(),
                hint="pass the survivors of one cohort, which can only fall",
            )
        if a[0] <= 1.0 + 1e-12:
            if cohort_size is None:
                warnings.warn("sBG: shares given without cohort_size; standard errors assume 1,000 customers",
                              UserWarning, stacklevel=2)
                cohort_size = 1000.0
            a = a * float(cohort_size)
        lost = -np.diff(a)
        if lost.sum() <= 0:
            raise ModelError("sBG: nobody churned, so the churn distribution cannot be identified",
                             hint="use more periods")
        if a[-1] <= 0 and np.count_nonzero(lost) == 1 and lost[0] > 0:
            raise ModelError("sBG: everybody churned in the first period; heterogeneity cannot be identified")
        self.alive_ = a
        t = np.arange(1, a.size, dtype=float)
        self._fit_ml({"t": t, "lost": lost, "n_end": np.array([a[-1]]), "w": np.array([1.0])})
        self.n_obs_ = float(a[0])
        return self

    def _start(self, data: dict[str, np.ndarray]) -> np.ndarray:
        return np.log([1.0, 1.0])

    def _loglik_rows(self, logp: np.ndarray, data: dict[str, np.ndarray], need_grad: bool) -> tuple[
        np.ndarray, np.ndarray | None
    ]:
        al, be = np.exp(logp)
        t, lost, n_end = data["t"], data["lost"], float(data["n_end"][0])
        n = t[-1]
        lB = special.betaln(al, be)
        lp = special.betaln(al + 1, be + t - 1) - lB
        ls = special.betaln(al, be + n) - lB
        ll = np.array([np.dot(lost, lp) + (n_end * ls if n_end > 0 else 0.0)])
        if not need_grad:
            return ll, None
        dab = special.digamma(al + be)
        d0a, d0b = special.digamma(al) - dab, special.digamma(be) - dab
        s1 = special.digamma(al + be + t)
        dpa = special.digamma(al + 1) - s1 - d0a
        dpb = special.digamma(be + t - 1) - s1 - d0b
        s2 = special.digamma(al + be + n)
        dsa = special.digamma(al) - s2 - d0a
        dsb = special.digamma(be + n) - s2 - d0b
        ga = np.dot(lost, dpa) + n_end * dsa
        gb = np.dot(lost, dpb) + n_end * dsb
        return ll, np.array([[ga * al, gb * be]])

    @property
    def bic_(self) -> float:
        self._check_fitted()
        return len(self._param_names) * np.log(self.n_obs_) - 2 * self.log_likelihood_

    # ------------------------------------------------------------------ predictions
    def survival_function(self, t: Any) -> np.ndarray | float:
        """S(t) = P(still active at period t) = B(alpha, beta+t)/B(alpha, beta)."""
        self._check_fitted()
        al, be = self._p()
        tt = time_array(t)
        out = np.exp(special.betaln(al, be + tt) - special.betaln(al, be))
        return float(out) if np.ndim(out) == 0 else out

    def retention_rate(self, t: Any) -> np.ndarray | float:
        """r_t = S(t)/S(t-1) = (beta+t-1)/(alpha+beta+t-1) for t >= 1."""
        self._check_fitted()
        al, be = self._p()
        tt = time_array(t)
        if np.any(tt < 1):
            raise ParameterError("retention rates are defined for t >= 1", parameter="t")
        out = (be + tt - 1) / (al + be + tt - 1)
        return float(out) if np.ndim(out) == 0 else out

    def discounted_expected_residual_lifetime(self, discount_rate: float, periods_survived: int = 0) -> float:
        """DERL (Fader & Hardie 2010, eq. 6): expected discounted number of future payments of a
        customer who has made ``periods_survived`` renewals (n-1 in the paper's notation), seen just
        before the next renewal decision::

            DERL = B(alpha, beta+n)/B(alpha, beta+n-1) * 2F1(1, beta+n; alpha+beta+n; 1/(1+d)),  n = periods_survived + 1

        ``discount_rate`` d is per model period (e.g. per year for yearly renewals).
        """
        self._check_fitted()
        if not np.isfinite(discount_rate) or discount_rate <= 0:
            raise ParameterError("discount_rate must be > 0 (per period)", parameter="discount_rate")
        if periods_survived < 0:
            raise ParameterError("periods_survived must be >= 0", parameter="periods_survived")
        al, be = self._p()
        n = periods_survived + 1.0
        ratio = np.exp(special.betaln(al, be + n) - special.betaln(al, be + n - 1))
        return float(ratio * special.hyp2f1(1.0, be + n, al + be + n, 1.0 / (1.0 + discount_rate)))

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL for a newly acquired customer (FH 2010): ``2F1(1, beta; alpha+beta; 1/(1+d))``,
        counting the payment at acquisition."""
        self._check_fitted()
        if not np.isfinite(discount_rate) or discount_rate <= 0:
            raise ParameterError("discount_rate must be > 0 (per period)", parameter="discount_rate")
        al, be = self._p()
        return float(special.hyp2f1(1.0, be, al + be, 1.0 / (1.0 + discount_rate)))

    def plot_survival(
        self,
        observed: Any = None,
        horizon: int | None = None,
        ax: Axes | None = None,
        label: str = "sBG",
        period_label: str = "period",
    ) -> Axes:
        """Plot the model survival curve (percent active), optionally against observed counts."""
        self._check_fitted()
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        obs = None
        if observed is not None:
            obs = np.asarray(pd.Series(observed).to_numpy(dtype=float))
        elif hasattr(self, "alive_"):
            obs = self.alive_
        n = horizon if horizon is not None else (len(obs) - 1 if obs is not None else 12)
        t = np.arange(0, n + 1)
        ax.plot(t, 100 * np.asarray(self.survival_function(t)), "--", label=f"{label} model")
        if obs is not None:
            ax.plot(np.arange(len(obs)), 100 * obs / obs[0], "o-", label="observed")
        if hasattr(self, "alive_"):
            ax.axvline(len(self.alive_) - 1, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(period_label)
        ax.set_ylabel("% of cohort still active")
        ax.set_title("Survival: sBG model vs observed")
        ax.legend()
        return ax
