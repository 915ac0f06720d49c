"""BG/BB model (Fader, Hardie & Shang 2010, "Customer-base analysis in a discrete-time
noncontractual setting", Marketing Science 29(6)).

Discrete transaction opportunities: in each of ``n`` periods an alive customer transacts with
probability ``p ~ Beta(alpha, beta)`` and, at the start of each later period, dies with
probability ``theta ~ Beta(gamma, delta)``.

Summary contract: ``frequency`` x (repeat transactions), ``recency`` t_x (period of the last
transaction, 0 if none) and ``periods`` n (number of opportunities; a ``T`` column is accepted
instead), optionally compressed with a weights column.

Likelihood (FHS 2010 eq. 5)::

    L = B(alpha+x, beta+n-x)/B(alpha,beta) * B(gamma, delta+n)/B(gamma,delta)
        + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha,beta) * B(gamma+1, delta+t_x+i)/B(gamma,delta)

evaluated with log-sum-exp; the gradient is analytic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from clm_utils.clv._base import BaseFitter, as_float_column, compress_rows, resolve_weights, time_array
from clm_utils.errors import DataError, ModelError, ParameterError


def _dlnB(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d/du and d/dv of lnB(u, v)."""
    s = special.digamma(u + v)
    return special.digamma(u) - s, special.digamma(v) - s


class BetaGeoBetaBinom(BaseFitter):
    """BG/BB model with parameters ``alpha, beta`` (transaction) and ``gamma, delta`` (dropout)."""

    _param_names = ("alpha", "beta", "gamma", "delta")
    _model_name = "BG/BB"

    def __init__(self, periods_col: str = "periods") -> None:
        self.periods_col = periods_col

    # ------------------------------------------------------------------ data
    def _arrays(self, summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not isinstance(summary, pd.DataFrame) or len(summary) == 0:
            raise DataError("the BG/BB summary is empty", file="summary")
        col = self.periods_col if self.periods_col in summary.columns else "T"
        x = as_float_column(summary, "frequency")
        tx = as_float_column(summary, "recency")
        n = as_float_column(summary, col if col in summary.columns else self.periods_col)
        for name, v in (("frequency", x), ("recency", tx), (col, n)):
            bad = np.flatnonzero(np.abs(v - np.round(v)) > 1e-9)
            if bad.size:
                raise DataError(
                    f"{bad.size} non-integer values; BG/BB needs counts of discrete periods",
                    file="summary", column=name, rows=bad[:5].tolist(), n_rows=int(bad.size),
                )
        bad = np.flatnonzero((x > tx) | (tx > n) | ((x == 0) & (tx > 0)) | ((x > 0) & (tx == 0)))
        if bad.size:
            raise DataError(
                f"{bad.size} rows violate 0 <= frequency <= recency <= periods (recency 0 iff frequency 0)",
                file="summary", rows=bad[:5].tolist(), n_rows=int(bad.size),
            )
        return np.round(x), np.round(tx), np.round(n)

    # ------------------------------------------------------------------ fitting
    def fit(self, summary: pd.DataFrame, weights: Any = None) -> BetaGeoBetaBinom:
        """Fit by maximum likelihood; ``weights`` is a column name (e.g. ``"weights"``) or an array."""
        x, tx, n = self._arrays(summary)
        w = resolve_weights(summary, weights)
        if np.all(x == 0) or (w is not None and float(np.dot(w, x > 0)) == 0):
            raise ModelError(
                "BG/BB: nobody made a repeat transaction, so the model cannot be identified",
                hint="use data with repeat customers",
            )
        if np.all(x == n) or (w is not None and float(np.dot(w, x < n)) == 0):
            raise ModelError("BG/BB: every customer transacted in every period; dropout cannot be identified")
        (ux, utx, un), uw, _ = compress_rows([x, tx, n], w)
        keep = uw > 0
        self._fit_ml({"x": ux[keep], "tx": utx[keep], "n": un[keep], "w": uw[keep]})
        return self

    def _start(self, data: dict[str, np.ndarray]) -> np.ndarray:
        return np.log([1.0, 1.0, 1.0, 1.0])

    def _terms(self, theta: np.ndarray, x: np.ndarray, tx: np.ndarray, n: np.ndarray) -> tuple[
        np.ndarray, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    ]:
        """Matrix of log terms (rows x K) and their (u, v, g, d, valid) arguments for the gradient."""
        al, be, ga, de = theta
        K = int(np.max(n - tx)) + 1
        lB0 = special.betaln(al, be) + special.betaln(ga, de)
        cols = []
        args = []
        # term 0: alive through n
        u, v, g, d = al + x, be + n - x, np.full_like(x, ga), de + n
        cols.append(special.betaln(u, v) + special.betaln(g, d) - lB0)
        args.append((u, v, g, d, np.ones(x.shape, bool)))
        for i in range(K - 1):
            valid = i <= n - tx - 1
            u, v, g, d = al + x, be + tx - x + i, np.full_like(x, ga + 1.0), de + tx + i
            col = special.betaln(u, v) + special.betaln(g, d) - lB0
            cols.append(np.where(valid, col, -np.inf))
            args.append((u, v, g, d, valid))
        return np.column_stack(cols), args

    def _loglik_rows(self, logp: np.ndarray, data: dict[str, np.ndarray], need_grad: bool) -> tuple[
        np.ndarray, np.ndarray | None
    ]:
        theta = np.exp(logp)
        M, args = self._terms(theta, data["x"], data["tx"], data["n"])
        ll = special.logsumexp(M, axis=1)
        if not need_grad:
            return ll, None
        W = np.exp(M - ll[:, None])
        al, be, ga, de = theta
        d0a, d0b = _dlnB(np.array(al), np.array(be))
        d0g, d0d = _dlnB(np.array(ga), np.array(de))
        G = np.zeros((ll.size, 4))
        for k, (u, v, g, d, valid) in enumerate(args):
            du, dv = _dlnB(u, v)
            dg, dd = _dlnB(g, d)
            wk = np.where(valid, W[:, k], 0.0)
            G[:, 0] += wk * (du - d0a)
            G[:, 1] += wk * (dv - d0b)
            G[:, 2] += wk * (dg - d0g)
            G[:, 3] += wk * (dd - d0d)
        return ll, G * theta

    # ------------------------------------------------------------------ predictions
    def _loglik_summary(self, x: np.ndarray, tx: np.ndarray, n: np.ndarray) -> np.ndarray:
        M, _ = self._terms(np.asarray(self._p()), x, tx, n)
        return special.logsumexp(M, axis=1)

    def conditional_probability_alive(self, summary: pd.DataFrame, m_periods_in_future: int = 1) -> pd.Series:
        """P(alive at period n + m | x, t_x, n) (FHS 2010 eq. 11; m = 1 gives Table 6, "alive in 2002")."""
        self._check_fitted()
        al, be, ga, de = self._p()
        x, tx, n = self._arrays(summary)
        lL = self._loglik_summary(x, tx, n)
        num = (
            special.betaln(al + x, be + n - x) - special.betaln(al, be)
            + special.betaln(ga, de + n + m_periods_in_future) - special.betaln(ga, de)
        )
        return pd.Series(np.exp(num - lL), index=summary.index, name="p_alive")

    def conditional_expected_number_of_purchases_up_to_time(self, t: Any, summary: pd.DataFrame) -> pd.Series:
        """Expected transactions in the next ``t`` periods (FHS 2010 eq. 13)."""
        self._check_fitted()
        al, be, ga, de = self._p()
        x, tx, n = self._arrays(summary)
        tt = np.broadcast_to(time_array(t), x.shape)
        lL = self._loglik_summary(x, tx, n)
        if abs(ga - 1.0) < 1e-9:
            ga = 1.0 + 1e-9
        lead = np.exp(special.betaln(al + x + 1, be + n - x) - special.betaln(al, be) - lL)
        front = de / (ga - 1.0) * np.exp(special.gammaln(ga + de) - special.gammaln(1 + de))
        bracket = np.exp(special.gammaln(1 + de + n) - special.gammaln(ga + de + n)) - np.exp(
            special.gammaln(1 + de + n + tt) - special.gammaln(ga + de + n + tt)
        )
        return pd.Series(lead * front * bracket, index=summary.index, name="expected_purchases")

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray | float:
        """E[X(n)] for a new customer over ``t`` periods (FHS 2010 eq. 9)."""
        self._check_fitted()
        al, be, ga, de = self._p()
        tt = time_array(t)
        if abs(ga - 1.0) < 1e-9:
            ga = 1.0 + 1e-9
        out = al / (al + be) * de / (ga - 1.0) * (
            1.0 - np.exp(special.gammaln(ga + de) + special.gammaln(1 + de + tt)
                         - special.gammaln(ga + de + tt) - special.gammaln(1 + de))
        )
        return float(out) if np.ndim(out) == 0 else out

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> np.ndarray | float:
        """P(X(t) = x) over ``t`` periods for a new customer (FHS 2010 eq. 7); ``t`` and ``n`` integers."""
        self._check_fitted()
        al, be, ga, de = self._p()
        T = np.asarray(t, dtype=float)
        xx = np.asarray(n, dtype=float)
        if np.any(T != np.round(T)) or np.any(xx != np.round(xx)) or np.any(xx < 0) or np.any(T < 0):
            raise ParameterError("BG/BB periods and counts must be non-negative integers", parameter="n")
        T, xx = np.broadcast_arrays(T, xx)
        lab, lgd = special.betaln(al, be), special.betaln(ga, de)

        def lchoose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)

        with np.errstate(all="ignore"):
            out = np.where(
                xx <= T,
                np.exp(lchoose(T, xx) + special.betaln(al + xx, be + T - xx) - lab + special.betaln(ga, de + T) - lgd),
                0.0,
            )
            Imax = int(np.max(T)) if T.size else 0
            for i in range(Imax):
                ok = (i >= xx) & (i <= T - 1)
                term = np.exp(
                    lchoose(np.full_like(xx, i), xx) + special.betaln(al + xx, be + i - xx) - lab
                    + special.betaln(ga + 1, de + i) - lgd
                )
                out = out + np.where(ok, term, 0.0)
        return float(out) if np.ndim(out) == 0 else out

    def survival_function(self, t: Any) -> np.ndarray | float:
        """P(alive at period t) for a new customer: ``B(gamma, delta+t)/B(gamma, delta)``."""
        self._check_fitted()
        _, _, ga, de = self._p()
        tt = time_array(t)
        out = np.exp(special.betaln(ga, de + tt) - special.betaln(ga, de))
        return float(out) if np.ndim(out) == 0 else out
