"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).

Both models: while alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r,
alpha)``; after each repeat purchase (BG/NBD) -- or after each purchase *including the first*
(MBG/NBD) -- the customer drops out with probability ``p ~ Beta(a, b)``.

Summary contract: ``frequency`` (repeat purchase days), ``recency`` and ``T`` (same time unit).

Log-likelihood of one customer, with ``m = 0`` (BG/NBD) or ``m = 1`` (MBG/NBD)::

    log L = lnG(r+x) - lnG(r) + r ln(alpha) + lnB(a, b+x+m) - lnB(a, b) - (r+x) ln(alpha+T)
            + log(1 + 1[x>0 or m=1] * a/(b+x-1+m) * ((alpha+T)/(alpha+t_x))^(r+x))

(FHL 2005 eq. 6; Batislam et al. 2007 eq. 3), evaluated with log-sum-exp.  The gradient is
analytic (digamma functions).
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
from clm_utils.errors import ModelError


class BetaGeo(TransactionModel):
    """BG/NBD model (beta-geometric / negative binomial distribution).

    Examples
    --------
    >>> m = BetaGeo().fit(summary)            # doctest: +SKIP
    >>> m.params_                              # r, alpha, a, b
    >>> m.conditional_probability_alive(summary)
    """

    _param_names = ("r", "alpha", "a", "b")
    _model_name = "BG/NBD"
    _m = 0  # 1 for MBG/NBD
    #: BG/NBD: dropout can only follow a repeat purchase, so P(alive) = 1 at frequency 0.
    one_time_buyers_alive: ClassVar[bool] = True
    _shape_params: ClassVar[tuple[str, ...]] = ("r", "a")
    _collapse_meaning: ClassVar[dict[str, str]] = {
        "r": "purchase rates do not vary between customers",
        "a": "the dropout probability does not vary between customers",
    }
    _warm_rows = 20_000  # distinct rows used by the warm-start fit on large data

    # ------------------------------------------------------------------ fitting
    def fit(self, summary: pd.DataFrame, weights: Any = None) -> BetaGeo:
        """Fit by maximum likelihood.

        Parameters
        ----------
        summary
            Customer summary with ``frequency``, ``recency``, ``T``.
        weights
            Optional: a column name or an array of customer counts per row.

        Raises
        ------
        DataError
            Invalid summary (see :func:`clm_utils.clv._base.rfm_arrays`).
        ModelError
            Fewer than ``MIN_REPEAT_BUYERS`` (10) repeat buyers, or the data cannot identify the
            parameters.
        BoundaryEstimate
            (a ModelError) The estimate runs to the no-dropout boundary; ``limit == "NBD"``.

        After the fit, ``converged_`` is False (with a note in ``notes_``) when no optimiser start
        converged, and ``fixed_`` names a shape parameter held at its limit when a heterogeneity
        collapsed (see :class:`~clm_utils.clv._base.TransactionModel`).
        """
        x, tx, T = rfm_arrays(summary)
        w = resolve_weights(summary, weights)
        wsum = len(x) if w is None else float(w.sum())
        if wsum <= 0:
            raise ModelError(f"{self._model_name}: the total weight is zero")
        check_repeat_buyers(x, w, self._model_name)
        if len(x) < 3 and w is None:
            raise ModelError(
                f"{self._model_name}: {len(x)} customer(s) cannot identify a 4-parameter model",
                hint="fit on the whole customer base",
            )
        (ux, utx, uT), uw, _ = compress_rows([x, tx, T], w)
        keep = uw > 0
        ux, utx, uT, uw = ux[keep], utx[keep], uT[keep], uw[keep]
        x0 = hess0 = None
        self._fixed = {}
        if ux.size > 4 * self._warm_rows:
            # warm start on large data: a fit on every k-th distinct row (weights scaled by k) lands
            # close to the optimum and gives the curvature there, so BFGS on the full data needs
            # only a few steps.  The result is still the full-data MLE (same convergence test).
            k = ux.size // self._warm_rows
            sub = slice(0, None, k)
            try:
                sub_data = self._make_data(ux[sub], utx[sub], uT[sub], uw[sub] * k)
                x0 = self._fit_ml(sub_data, finish=False)
                hess0 = self._mean_hessian(x0, sub_data)
            except ModelError:
                x0 = hess0 = None
        self._fit_transaction(self._make_data(ux, utx, uT, uw), x0=x0, hess0=hess0)
        return self

    def _dropout_share(self, theta: np.ndarray, t: float) -> float:
        """An upper bound on the share of a cohort that has dropped out by ``t``.

        1 - S(t) = E_p[(1 - p)^m (1 - (alpha/(alpha + p t))^r)] + m E[p] <= (r t / alpha) E[p] + m E[p]
        (since 1 - (1 + u)^-r <= r u), with E[p] = a/(a+b).  The bound is used to decide that dropout
        is nil; scipy's 2F1 for S(t) itself returns NaN at the boundary (a + b ~ 1e4).
        """
        r, alpha, a, b = theta
        mean_p = a / (a + b)
        return float(min(1.0, mean_p * (r * t / alpha + self._m)))

    def _no_dropout_description(self, theta: np.ndarray) -> str:
        _, _, a, b = theta
        return f"mean dropout probability a/(a+b) -> 0, with a = {a:.2g}, b = {b:.3g}"

    def _make_data(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
        # rows without repeat purchases first: for BG/NBD their likelihood has no second term
        order = np.argsort(x > 0, kind="stable")
        x, tx, T, w = x[order], tx[order], T[order], w[order]
        n0 = int(np.count_nonzero(x == 0)) if self._m == 0 else 0
        xu, xinv = np.unique(x, return_inverse=True)
        # logs of (alpha + T) and (alpha + t_x) are taken on the distinct values only (real data
        # hold few distinct day counts) and gathered back
        Tu, Tinv = np.unique(T, return_inverse=True)
        txu, txinv = np.unique(tx[n0:], return_inverse=True)
        return {"x": x, "tx": tx, "T": T, "w": w, "xu": xu, "xinv": xinv, "n0": np.array(n0),
                "xr": x[n0:], "xinvr": xinv[n0:], "Tu": Tu, "Tinv": Tinv, "Tinvr": Tinv[n0:],
                "txu": txu, "txinv": txinv}

    def _start(self, data: dict[str, np.ndarray]) -> np.ndarray:
        w = data["w"]
        mean_T = float(np.sum(w * data["T"]) / w.sum())
        mean_x = float(np.sum(w * data["x"]) / w.sum())
        alpha0 = max(mean_T / (mean_x + 1.0), 1e-3)
        return np.log([1.0, alpha0, 1.0, 3.0])

    def _loglik_rows(self, logp: np.ndarray, data: dict[str, np.ndarray], need_grad: bool) -> tuple[
        np.ndarray, np.ndarray | None
    ]:
        r, alpha, a, b = np.exp(logp)
        m = self._m
        x, xu, xinv = data["x"], data["xu"], data["xinv"]
        n0 = int(data["n0"])
        xinvr = data["xinvr"]
        # terms that depend on x only are evaluated on the unique x values
        gl = special.gammaln(r + xu) + special.gammaln(b + xu + m) - special.gammaln(a + b + xu + m)
        const = -special.gammaln(r) + r * np.log(alpha) - special.gammaln(b) + special.gammaln(a + b)
        laTu = np.log(alpha + data["Tu"])
        laT = laTu[data["Tinv"]]
        rx = r + x
        ll = (gl + const)[xinv] - rx * laT
        # second term (possible dropout after the last purchase): repeat buyers (BG) or everybody (MBG)
        latxu = np.log(alpha + data["txu"])
        dlog = laTu[data["Tinvr"]] - latxu[data["txinv"]]
        rxr = rx[n0:]
        ldenu = np.log(b + xu - 1 + m) if m == 1 else np.log(np.maximum(b + xu - 1, 1e-300))
        u = (np.log(a) - ldenu)[xinvr] + rxr * dlog
        e = np.exp(-np.abs(u))
        ll[n0:] += np.maximum(u, 0.0) + np.log1p(e)
        if not need_grad:
            return ll, None
        s = np.where(u >= 0, 1.0, e) / (1.0 + e)  # sigmoid(u)
        psi_x = special.digamma(r + xu)
        psi_abx = special.digamma(a + b + xu + m)
        psi_bx = special.digamma(b + xu + m)
        dab = special.digamma(a + b)
        g = np.empty((x.size, 4))
        g[:, 0] = (psi_x - special.digamma(r) + np.log(alpha))[xinv] - laT
        inv_aT = 1.0 / (alpha + data["Tu"])
        g[:, 1] = r / alpha - rx * inv_aT[data["Tinv"]]
        g[:, 2] = (dab - psi_abx)[xinv]
        g[:, 3] = (psi_bx - psi_abx - special.digamma(b) + dab)[xinv]
        g[n0:, 0] += s * dlog
        g[n0:, 1] += s * rxr * (inv_aT[data["Tinvr"]] - (1.0 / (alpha + data["txu"]))[data["txinv"]])
        g[n0:, 2] += s / a
        g[n0:, 3] -= s * (1.0 / np.exp(ldenu))[xinvr]
        g *= np.array([r, alpha, a, b])
        return ll, g

    # ------------------------------------------------------------------ predictions (arrays)
    def _palive(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self._p()
        m = self._m
        mask = (x > 0) if m == 0 else np.ones(np.shape(x), bool)
        den = np.where(mask, b + x - 1 + m, 1.0)
        with np.errstate(divide="ignore", over="ignore"):
            u = np.log(a) - np.log(den) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(mask, sigmoid(-u), 1.0)

    def _exp_alive(self, t: np.ndarray, x: np.ndarray, T: np.ndarray) -> np.ndarray:  # noqa: D401
        """E[purchases in (T, T+t] | alive at T], posterior lambda~G(r+x, alpha+T), p~Beta(a, b+x+m-?)."""
        r, alpha, a, b = self._p()
        m = self._m
        # posterior of p given alive: Beta(a, b + x + m)  (BG: b+x, MBG: b+x+1)
        bb = b + x + m
        c = a + bb - 1.0
        k = r + x
        zz = t / (alpha + T + t)
        with np.errstate(all="ignore"):
            hyp = special.hyp2f1(k, bb, c, zz)
            out = (c / (a - 1.0)) * (1.0 - np.exp(k * np.log1p(-zz)) * hyp)
        bad = ~np.isfinite(out) | (out < 0) | (np.abs(a - 1.0) < 1e-6) | (c <= 0)
        bad &= t > 0
        if np.any(bad):
            # where the closed form is unusable (c <= 0 when a + b < 1, or 2F1 fails), integrate over p
            # exactly against its Beta(a, bb) posterior with Gauss-Jacobi quadrature, vectorised per bb
            idx = np.flatnonzero(np.broadcast_to(bad, out.shape))
            out = np.array(out, dtype=float)
            tb, kb, bbb, Tb = (np.broadcast_to(v, out.shape).ravel()[idx] for v in (t, k, bb, T))
            out.flat[idx] = _expected_given_alive_quadrature(tb / (alpha + Tb), kb, bbb, a)
        return np.where(t > 0, out, 0.0)

    # ------------------------------------------------------------------ predictions (API)
    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray | float:
        """E[X(t)] for a new customer, t time units after the first purchase (FHL 2005 eq. 9)."""
        self._check_fitted()
        tt = time_array(t)
        z = np.zeros_like(tt)
        out = self._cond_exp(tt, z, z, z)
        return float(out) if np.ndim(out) == 0 else out

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> np.ndarray | float:
        """P(X(t) = n) for a new customer (FHL 2005 eq. 8; MBG analogue); broadcasts ``t`` and ``n``."""
        self._check_fitted()
        r, alpha, a, b = self._p()
        m = self._m
        tt = time_array(t)
        nn = np.asarray(n, dtype=float)
        if np.any(nn < 0) or np.any(nn != np.round(nn)):
            from clm_utils.errors import ParameterError

            raise ParameterError("n must be a non-negative integer", parameter="n")
        pr = alpha / (alpha + tt)
        lbab = special.betaln(a, b)
        stay = np.exp(special.betaln(a, b + nn + m) - lbab)
        with np.errstate(all="ignore"):
            drop = np.exp(special.betaln(a + 1, b + nn - 1 + m) - lbab)
            pmf = stats.nbinom.pmf(nn, r, pr)
            sf = np.where(nn > 0, stats.nbinom.sf(nn - 1, r, pr), 1.0)
        if m == 0:
            out = stay * pmf + np.where(nn > 0, drop * sf, 0.0)
        else:
            out = stay * pmf + drop * sf
        out = np.where(tt == 0, (nn == 0).astype(float) * (1.0 if m == 0 else 1.0), out)
        return float(out) if np.ndim(out) == 0 else out

    def survival_function(self, t: Any) -> np.ndarray | float:
        """Share of a cohort still alive ``t`` time units after the first purchase.

        Derivation: given (lambda, p), a BG/NBD customer is alive at age t iff none of the N(t)
        repeat purchases was followed by dropout, so P(alive | lambda, p) = E[(1-p)^N(t)] =
        exp(-lambda p t).  Averaging over lambda ~ Gamma(r, alpha) gives (alpha/(alpha+p t))^r and
        over p ~ Beta(a, b) (Euler's integral) ``S(t) = 2F1(r, a; a+b; -t/alpha)``.  For MBG/NBD the
        extra dropout at time 0 multiplies by (1-p): ``S(t) = b/(a+b) 2F1(r, a; a+b+1; -t/alpha)``.
        """
        self._check_fitted()
        r, alpha, a, b = self._p()
        tt = time_array(t)
        if self._m == 0:
            out = special.hyp2f1(r, a, a + b, -tt / alpha)
        else:
            out = b / (a + b) * special.hyp2f1(r, a, a + b + 1, -tt / alpha)
        return float(out) if np.ndim(out) == 0 else out

class ModifiedBetaGeo(BetaGeo):
    """MBG/NBD model (Batislam, Denizel & Filiztekin 2007): dropout is possible right after the first
    purchase too, so a customer with no repeat purchase is not certainly alive."""

    _model_name = "MBG/NBD"
    _m = 1
    one_time_buyers_alive: ClassVar[bool] = False


def _expected_given_alive_quadrature(y: np.ndarray, k: np.ndarray, bb: np.ndarray, a: float,
                                     nodes: int = 96) -> np.ndarray:
    """E over p ~ Beta(a, bb) of (1 - (1 + p y)^-k) / p, by Gaussian quadrature.

    This is E[purchases in the next t | alive] with ``y = t / (alpha + T)`` and ``k = r + x``:
    integrating the NBD count over the posterior of lambda gives ``(1 - (1 + p y)^-k) / p`` for a
    given dropout probability p.

    * ``bb <= 400``: Gauss-Jacobi.  The weight ``(1-u)^(bb-1) (1+u)^(a-1)`` on [-1, 1] is the Beta
      density up to a constant, so its singularity at p = 0 (a < 1) is handled exactly.
    * ``bb > 400`` (heavy buyers: bb = b + x): the Jacobi weights overflow (their sum is
      ``2^(a+bb-1) B(a, bb)``, infinite for bb >~ 1,020).  The posterior then lies within a few
      1/bb of 0, so with ``p = v / (bb-1)`` the density is ``v^(a-1) e^-v`` (generalised
      Gauss-Laguerre weight, whose sum Gamma(a) is finite) times the smooth factor
      ``exp((bb-1) log(1 - v/(bb-1)) + v)``, taken in logs; the ratio of the two weighted sums
      normalises exactly.  Checked against mpmath in the tests, at any frequency.
    """
    out = np.empty(y.shape, dtype=float)
    for value in np.unique(bb):
        sel = bb == value
        if value <= 400.0:
            u, w = special.roots_jacobi(nodes, value - 1.0, a - 1.0)
            p = (1.0 + u) / 2.0
        else:
            v, wl = special.roots_genlaguerre(nodes, a - 1.0)
            c = value - 1.0
            inside = v < c
            with np.errstate(divide="ignore", invalid="ignore"):
                log_factor = np.where(inside, c * np.log1p(-np.minimum(v / c, 1.0)) + v, -np.inf)
            w = wl * np.exp(log_factor)
            p = np.where(inside, v / c, 0.5)
        py = np.outer(y[sel], p)
        g = -np.expm1(-k[sel][:, None] * np.log1p(py)) / p
        out[sel] = g @ w / w.sum()
    return out
