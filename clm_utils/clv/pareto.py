"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), following Fader & Hardie (2005), "A note on
deriving the Pareto/NBD model and related expressions".

While alive a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; the lifetime is
exponential with rate ``mu ~ Gamma(s, beta)``.  Summary contract: ``frequency``, ``recency``,
``T``.

Likelihood (FH 2005 eq. 19)::

    L = G(r+x) alpha^r beta^s / G(r) * [ (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A0 ]

with ``A0 = F(t_x) - F(T)`` and, for ``alpha >= beta``,
``F(y) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+y)) / (alpha+y)^(r+s+x)``
(roles of the parameters swapped when ``alpha < beta``).  The Gauss function is only ever
evaluated as a logarithm through Euler's transformation
``2F1(a, b; a+1; z) = (1-z)^(1-b) 2F1(1, a+1-b; a+1; z)``, whose series has first parameter 1 and
positive terms bounded by ``z^n``, so it stays between 1 and ``1/(1-z)`` and never overflows,
whatever the frequency.  Everything else is combined with log-sum-exp.  No closed-form gradient
exists (derivatives of 2F1 in its parameters), so the fit uses central differences.
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
    sigmoid,
    time_array,
)
from clm_utils.errors import ModelError, ParameterError


def _log_hyp2f1_a_a1(a: np.ndarray, b: np.ndarray, z: np.ndarray, log1mz: np.ndarray | None = None) -> np.ndarray:
    """log 2F1(a, b; a+1; z) for 0 <= z < 1 via Euler's transformation (no overflow).

    ``log1mz`` is log(1 - z) when the caller can form 1 - z without cancellation."""
    if log1mz is None:
        log1mz = np.log1p(-z)
    with np.errstate(all="ignore"):
        out = (1.0 - b) * log1mz + np.log(special.hyp2f1(1.0, a + 1.0 - b, a + 1.0, z))
        bad = ~np.isfinite(out)
        if np.any(bad):
            # z within ~1e-12 of 1 with b > 1: the Euler form diverges like (1-z)^(1-b) and scipy
            # returns inf; the untransformed series converges at z = 1 there (c - a - b = 1 - b < 0
            # is excluded, so use it only where it is finite)
            direct = np.log(special.hyp2f1(a, b, a + 1.0, z))
            out = np.where(bad & np.isfinite(direct), direct, out)
    return out


def _log_F(r: float, alpha: float, s: float, beta: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log F(y) of FH 2005 for purchase count x at time y (see the module docstring).

    ``1 - z = (min(alpha, beta) + y) / (max(alpha, beta) + y)`` is formed directly: through
    ``log1p(-z)`` it loses all precision when max/min(alpha, beta) >~ 1e12 and y is small
    (one-time buyers), which made the log-likelihood positive or infinite inside the box."""
    a1 = r + s + x
    if alpha >= beta:
        b1 = s + 1.0
        big, small = alpha, beta
    else:
        b1 = r + x
        big, small = beta, alpha
    log_big = np.log(big + y)
    z = (big - small) / (big + y)
    return _log_hyp2f1_a_a1(a1, b1, z, np.log(small + y) - log_big) - a1 * log_big


def _log_A0_terms(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray,
    pairs: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """log A0 (FH 2005), -inf where t_x == T.

    ``pairs`` (optional) holds the unique (x, t_x) and (x, T) pairs with their inverse indices, so
    that the Gauss function is evaluated once per pair instead of once per customer.
    """
    if pairs is None:
        l1 = _log_F(r, alpha, s, beta, x, tx)
        l2 = _log_F(r, alpha, s, beta, x, T)
    else:
        l1 = _log_F(r, alpha, s, beta, pairs["x1"], pairs["y1"])[pairs["i1"]]
        l2 = _log_F(r, alpha, s, beta, pairs["x2"], pairs["y2"])[pairs["i2"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = l1 + np.log(-np.expm1(np.minimum(l2 - l1, 0.0)))
    return np.where(T - tx > 0, out, -np.inf)


class ParetoNBD(TransactionModel):
    """Pareto/NBD model with parameters ``r, alpha, s, beta``."""

    _param_names = ("r", "alpha", "s", "beta")
    _model_name = "Pareto/NBD"
    _has_gradient = False
    #: a customer without repeat purchase may already have died: P(alive) < 1 at frequency 0.
    one_time_buyers_alive: ClassVar[bool] = False
    _shape_params: ClassVar[tuple[str, ...]] = ("r", "s")
    _collapse_meaning: ClassVar[dict[str, str]] = {
        "r": "purchase rates do not vary between customers",
        "s": "dropout rates do not vary between customers (exponential lifetimes with the common rate s/beta)",
    }

    def fit(self, summary: pd.DataFrame, weights: Any = None) -> ParetoNBD:
        """Fit by maximum likelihood (see :meth:`BetaGeo.fit` for the contract and errors)."""
        x, tx, T = rfm_arrays(summary)
        w = resolve_weights(summary, weights)
        check_repeat_buyers(x, w, self._model_name)
        if len(x) < 3 and w is None:
            raise ModelError(f"Pareto/NBD: {len(x)} customer(s) cannot identify a 4-parameter model")
        (ux, utx, uT), uw, _ = compress_rows([x, tx, T], w)
        keep = uw > 0
        x, tx, T = ux[keep], utx[keep], uT[keep]
        xu, xinv = np.unique(x, return_inverse=True)
        (x1, y1), _, i1 = compress_rows([x, tx])
        (x2, y2), _, i2 = compress_rows([x, T])
        data = {"x": x, "tx": tx, "T": T, "w": uw[keep], "xu": xu, "xinv": xinv,
                "x1": x1, "y1": y1, "i1": i1, "x2": x2, "y2": y2, "i2": i2}
        self._fit_transaction(data)
        return self

    def _dropout_share(self, theta: np.ndarray, t: float) -> float:
        """Share of a cohort dead ``t`` after the first purchase: 1 - (beta/(beta+t))^s."""
        _, _, s, beta = theta
        return float(-np.expm1(-s * np.log1p(t / beta)))

    def _no_dropout_description(self, theta: np.ndarray) -> str:
        _, _, s, beta = theta
        return f"mean dropout rate s/beta -> 0, with s = {s:.2g}, beta = {beta:.3g}"

    def _start(self, data: dict[str, np.ndarray]) -> np.ndarray:
        w = data["w"]
        mean_T = float(np.dot(w, data["T"]) / w.sum())
        mean_x = float(np.dot(w, data["x"]) / w.sum())
        scale = max(mean_T / (mean_x + 1.0), 1e-3)
        return np.log([1.0, scale, 1.0, scale])

    def _fit_ml(self, data: dict[str, np.ndarray], x0: np.ndarray | None = None, finish: bool = True,
                hess0: np.ndarray | None = None) -> np.ndarray:
        # the optimiser gets a finite-difference gradient of the per-row likelihood; the observed
        # information is then taken from central second differences of the likelihood itself
        # (nested differences of a differenced gradient would be too noisy in the flat beta direction)
        self._has_gradient = True
        try:
            logp = super()._fit_ml(data, x0=x0, finish=False, hess0=hess0)
        finally:
            self._has_gradient = False
        if finish:
            self._finish(logp, data)
        return logp

    def _loglik_rows(self, logp: np.ndarray, data: dict[str, np.ndarray], need_grad: bool) -> tuple[
        np.ndarray, np.ndarray | None
    ]:
        ll = self._ll(np.exp(logp), data)
        if not need_grad:
            return ll, None
        # forward differences: at the optimum the bias (h/2 f'') moves the estimate by ~h/2 = 5e-7
        # on the log scale, far below any published precision, at half the cost of central ones
        h = 1e-6
        g = np.empty((ll.size, logp.size))
        for i in range(logp.size):
            e = np.zeros(logp.size)
            e[i] = h
            g[:, i] = (self._ll(np.exp(logp + e), data) - ll) / h
        return ll, g

    @staticmethod
    def _ll(theta: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        r, alpha, s, beta = theta
        x, tx, T = data["x"], data["tx"], data["T"]
        xu, xinv = data["xu"], data["xinv"]
        lnC = special.gammaln(r + xu)[xinv] - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        l1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        pairs = data if "i1" in data else None
        l2 = np.log(s) - np.log(r + s + x) + _log_A0_terms(r, alpha, s, beta, x, tx, T, pairs)
        return lnC + np.logaddexp(l1, l2)

    # ------------------------------------------------------------------ predictions
    def _palive(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = self._p()
        with np.errstate(all="ignore"):
            l1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
            l2 = np.log(s) - np.log(r + s + x) + _log_A0_terms(r, alpha, s, beta, x, tx, T)
        return sigmoid(l1 - l2)

    def _exp_alive(self, t: np.ndarray, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = self._p()
        u = t / (beta + T)
        if abs(s - 1.0) < 1e-8:
            life = (beta + T) * np.log1p(u)
        else:
            life = (beta + T) * (-np.expm1(-(s - 1.0) * np.log1p(u))) / (s - 1.0)
        return (r + x) / (alpha + T) * life

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray | float:
        """E[X(t)] for a new customer (FH 2005 eq. 17)."""
        self._check_fitted()
        tt = time_array(t)
        z = np.zeros_like(tt)
        out = self._exp_alive(tt, z, z)
        return float(out) if np.ndim(out) == 0 else out

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any, n_nodes: int = 96) -> np.ndarray | float:
        """P(X(t) = n) for a new customer.

        Computed by conditioning on the lifetime tau: given tau the count is NBD(r, alpha) over
        ``min(tau, t)``, so ``P = S(t) NB(n; t) + int_0^t NB(n; tau) dF(tau)``.  The integral is taken
        over ``u = S(tau)`` in ``[S(t), 1]`` with Gauss-Legendre (``n_nodes`` nodes).
        """
        self._check_fitted()
        r, alpha, s, beta = self._p()
        tt = time_array(t)
        nn = np.asarray(n, dtype=float)
        if np.any(nn < 0) or np.any(nn != np.round(nn)):
            raise ParameterError("n must be a non-negative integer", parameter="n")
        tt, nn = np.broadcast_arrays(tt, nn)
        St = (beta / (beta + tt)) ** s
        nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
        lo = St[..., None]
        u = lo + (1.0 - lo) * (nodes + 1.0) / 2.0
        tau = beta * (u ** (-1.0 / s) - 1.0)
        with np.errstate(all="ignore"):
            pmf_tau = stats.nbinom.pmf(nn[..., None], r, alpha / (alpha + tau))
        integral = ((1.0 - St) / 2.0) * np.sum(weights * pmf_tau, axis=-1)
        out = St * stats.nbinom.pmf(nn, r, alpha / (alpha + tt)) + integral
        return float(out) if np.ndim(out) == 0 else out

    def survival_function(self, t: Any) -> np.ndarray | float:
        """Share of a cohort alive ``t`` after the first purchase: ``(beta/(beta+t))^s``."""
        self._check_fitted()
        _, _, s, beta = self._p()
        tt = time_array(t)
        out = (beta / (beta + tt)) ** s
        return float(out) if np.ndim(out) == 0 else out
