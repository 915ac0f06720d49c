"""NBD model (Ehrenberg 1959; Morrison & Schmittlein 1988): Poisson purchasing with gamma-distributed
rates and no dropout.

Every customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)`` and never dies.  It is
the limit of BG/NBD and MBG/NBD as the dropout probability vanishes (a -> 0 or b -> infinity) and of
Pareto/NBD as the dropout rate vanishes (s -> 0 or beta -> infinity), so it is the model reported
when those estimates run to that boundary (see :func:`clm_utils.clv.fit_transaction_model`).

Summary contract: ``frequency`` and ``T`` (``recency`` is validated but carries no information:
without dropout the time of the last purchase does not matter).

Log-likelihood of one customer, up to the term ``x ln T - ln x!`` that does not involve the
parameters (dropped, as in the BG/NBD and Pareto/NBD likelihoods, so log-likelihoods of the
four models are comparable)::

    log L = lnG(r+x) - lnG(r) + r ln(alpha) - (r+x) ln(alpha+T)

Predictions: P(alive) = 1; E[X(t)] = r t / alpha; E[X(T, T+t] | x, T] = (r+x) t / (alpha+T)
(the posterior of lambda is Gamma(r+x, alpha+T)); P(X(t) = n) is negative binomial with size r and
probability alpha / (alpha+t).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special, stats

from clm_utils.clv._base import (
    TransactionModel,
    check_repeat_buyers,
    compress_rows,
    resolve_weights,
    rfm_arrays,
    time_array,
)
from clm_utils.errors import ModelError, ParameterError


class NBD(TransactionModel):
    """NBD (gamma-Poisson) model with parameters ``r, alpha``: purchase-rate heterogeneity, no dropout.

    Examples
    --------
    >>> m = NBD().fit(summary)                       # doctest: +SKIP
    >>> m.conditional_expected_number_of_purchases_up_to_time(26, summary)
    """

    _param_names = ("r", "alpha")
    _model_name = "NBD"
    #: nobody dies in the NBD: P(alive) = 1 for every customer.
    one_time_buyers_alive: ClassVar[bool] = True
    _shape_params: ClassVar[tuple[str, ...]] = ("r",)
    _collapse_meaning: ClassVar[dict[str, str]] = {"r": "purchase rates do not vary between customers (Poisson)"}

    def fit(self, summary: pd.DataFrame, weights: Any = None) -> NBD:
        """Fit by maximum likelihood (analytic gradient).

        Parameters
        ----------
        summary
            Customer summary with ``frequency``, ``recency``, ``T``.
        weights
            Optional: a column name or an array of customer counts per row.

        Raises
        ------
        DataError
            Invalid summary.
        ModelError
            Fewer than 10 repeat buyers.
        """
        x, _, T = rfm_arrays(summary)
        w = resolve_weights(summary, weights)
        if (len(x) if w is None else float(w.sum())) <= 0:
            raise ModelError("NBD: the total weight is zero")
        check_repeat_buyers(x, w, self._model_name)
        (ux, uT), uw, _ = compress_rows([x, T], w)
        keep = uw > 0
        ux, uT, uw = ux[keep], uT[keep], uw[keep]
        xu, xinv = np.unique(ux, return_inverse=True)
        Tu, Tinv = np.unique(uT, return_inverse=True)
        data = {"x": ux, "T": uT, "w": uw, "xu": xu, "xinv": xinv, "Tu": Tu, "Tinv": Tinv}
        self._fit_transaction(data)
        return self

    def _start(self, data: dict[str, np.ndarray]) -> np.ndarray:
        # method of moments on the rates x/T: mean m, variance v of x/T -> r = m^2/(v - m/T), alpha = r/m
        w, x, T = data["w"], data["x"], data["T"]
        rate = x / np.maximum(T, 1e-9)
        m = max(float(np.dot(w, rate) / w.sum()), 1e-6)
        v = float(np.dot(w, (rate - m) ** 2) / w.sum()) - m * float(np.dot(w, 1 / np.maximum(T, 1e-9)) / w.sum())
        r = m * m / v if v > 1e-12 else 1.0
        r = float(np.clip(r, 1e-3, 1e3))
        return np.log([r, r / m])

    def _loglik_rows(self, logp: np.ndarray, data: dict[str, np.ndarray], need_grad: bool) -> tuple[
        np.ndarray, np.ndarray | None
    ]:
        r, alpha = np.exp(logp)
        x, xu, xinv = data["x"], data["xu"], data["xinv"]
        laT = np.log(alpha + data["Tu"])[data["Tinv"]]
        ll = (special.gammaln(r + xu) - special.gammaln(r))[xinv] + r * np.log(alpha) - (r + x) * laT
        if not need_grad:
            return ll, None
        g = np.empty((x.size, 2))
        g[:, 0] = r * ((special.digamma(r + xu) - special.digamma(r))[xinv] + np.log(alpha) - laT)
        g[:, 1] = alpha * (r / alpha - (r + x) / (alpha + data["Tu"])[data["Tinv"]])
        return ll, g

    # ------------------------------------------------------------------ predictions
    def _palive(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        return np.ones(np.broadcast(x, tx, T).shape)

    def _exp_alive(self, t: np.ndarray, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha = self._p()
        return (r + x) * t / (alpha + T)

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray | float:
        """E[X(t)] = r t / alpha for a new customer."""
        self._check_fitted()
        r, alpha = self._p()
        out = r * time_array(t) / alpha
        return float(out) if np.ndim(out) == 0 else out

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> np.ndarray | float:
        """P(X(t) = n) = NB(n; r, alpha/(alpha+t)) for a new customer; broadcasts ``t`` and ``n``."""
        self._check_fitted()
        r, alpha = self._p()
        tt = time_array(t)
        nn = np.asarray(n, dtype=float)
        if np.any(nn < 0) or np.any(nn != np.round(nn)):
            raise ParameterError("n must be a non-negative integer", parameter="n")
        out = stats.nbinom.pmf(nn, r, alpha / (alpha + tt))
        return float(out) if np.ndim(out) == 0 else out

    def survival_function(self, t: Any) -> np.ndarray | float:
        """Share of a cohort alive ``t`` after the first purchase: 1 (nobody dies)."""
        self._check_fitted()
        out = np.ones_like(time_array(t))
        return float(out) if np.ndim(out) == 0 else out
