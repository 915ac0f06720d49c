"""Pareto/NBD and BG/NBD with static (time-invariant) covariates, as in CLVTools' ``pnbd`` and ``bgnbd``.

Fader & Hardie (2007), "Incorporating time-invariant covariates into the Pareto/NBD and BG/NBD models", and
CLVTools (Bachmann, Meierer & Näf) let the gamma scale parameters of the purchase and dropout processes depend
on each customer's covariates ``z_i``::

    lambda_i ~ Gamma(r, alpha_i),  alpha_i = alpha0 * exp(-gamma_p' z_i)     (purchase process)
    mu_i     ~ Gamma(s, beta_i),   beta_i  = beta0  * exp(-gamma_d' z_i)     (dropout process)

so a positive ``gamma_p`` raises the mean purchase rate ``r / alpha_i`` by the factor ``exp(gamma_p)`` per unit
of the covariate, and a positive ``gamma_d`` raises the mean dropout rate ``s / beta_i`` likewise.  Given
``alpha_i`` and ``beta_i`` a customer's likelihood is the plain Pareto/NBD one (Fader & Hardie 2005, eq. 19),
evaluated here per customer with the overflow-free Gauss function of :mod:`clm_utils.clv.pareto`; with every
gamma 0 it is the plain Pareto/NBD likelihood.

Estimation: maximum likelihood over ``(log r, log alpha0, log s, log beta0, gamma_p, gamma_d)``, on
covariates centred and scaled internally (so the optimiser sees comparable scales; the estimates are mapped back,
exactly, to the user's units).  Standard errors: the inverse observed information from central second
differences of the log-likelihood, carried to the natural scale by the delta method (log-normal intervals for
``r, alpha0, s, beta0``; normal ones for the gammas).

Non-numeric covariates are one-hot encoded, the first level in sorted order being the reference.

BG/NBD (:class:`BetaGeoCovariates`): CLVTools' link, ``alpha_i = alpha0 exp(-gamma_p' z)`` and
``a_i = a0 exp(gamma_d' z)``, ``b_i = b0 exp(gamma_d' z)`` (the mean dropout probability ``a/(a+b)`` stays
fixed while its spread changes), with the same estimation, standard errors and API; see the class docstring
for the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from clm_utils.clv._base import (
    LOG_BOUND,
    Z95,
    _numeric_hessian_from_fun,
    _numeric_hessian_from_grad,
    _single_thread_blas,
    check_repeat_buyers,
    log1pexp,
    rfm_arrays,
    sigmoid,
    time_array,
)
from clm_utils.clv.betageo import BetaGeo, _expected_given_alive_quadrature
from clm_utils.clv.pareto import ParetoNBD, _log_hyp2f1_a_a1
from clm_utils.errors import DataError, ModelError, ParameterError
from clm_utils.data.values import ids_in

__all__ = [
    "BetaGeoCovariates",
    "ParetoNBDCovariates",
    "bgnbd_loglik_rows",
    "covariate_design",
    "pnbd_loglik_rows",
    "simulate_bgnbd_covariates",
    "simulate_pnbd_covariates",
]


# --------------------------------------------------------------------------------------------
# the likelihood, per customer
# --------------------------------------------------------------------------------------------
def _log_F_vec(r: float, alpha: np.ndarray, s: float, beta: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log F(y) of Fader & Hardie (2005) with a scale pair per customer (the branch chosen per element)."""
    a1 = r + s + x
    big_alpha = alpha >= beta
    b1 = np.where(big_alpha, s + 1.0, r + x)
    big = np.where(big_alpha, alpha, beta)
    small = np.where(big_alpha, beta, alpha)
    log_big = np.log(big + y)
    z = (big - small) / (big + y)
    return _log_hyp2f1_a_a1(a1, b1, z, np.log(small + y) - log_big) - a1 * log_big


def _log_A0(r: float, alpha: np.ndarray, s: float, beta: np.ndarray, x: np.ndarray, tx: np.ndarray,
            T: np.ndarray) -> np.ndarray:
    l1 = _log_F_vec(r, alpha, s, beta, x, tx)
    l2 = _log_F_vec(r, alpha, s, beta, x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = l1 + np.log(-np.expm1(np.minimum(l2 - l1, 0.0)))
    return np.where(T - tx > 0, out, -np.inf)


def pnbd_loglik_rows(r: float, alpha: np.ndarray, s: float, beta: np.ndarray, x: np.ndarray, tx: np.ndarray,
                     T: np.ndarray) -> np.ndarray:
    """Pareto/NBD log-likelihood of each customer given its own ``alpha_i`` and ``beta_i`` (FH 2005 eq. 19)."""
    alpha = np.broadcast_to(np.asarray(alpha, float), x.shape)
    beta = np.broadcast_to(np.asarray(beta, float), x.shape)
    lnC = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    l1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    l2 = np.log(s) - np.log(r + s + x) + _log_A0(r, alpha, s, beta, x, tx, T)
    return lnC + np.logaddexp(l1, l2)


def _bgnbd_ll_grad(r: float, alpha: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray, tx: np.ndarray,
                   T: np.ndarray, need_grad: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """BG/NBD log-likelihood of each customer with its own ``alpha_i, a_i, b_i``, and optionally its gradient
    with respect to ``log r, log alpha_i, log a_i, log b_i`` (an (n, 4) array).

    The expression and its gradient are those of :class:`clm_utils.clv.BetaGeo` (FHL 2005 eq. 6, second term
    by log-sum-exp), with the scale parameters per customer instead of shared."""
    alpha, a, b = (np.broadcast_to(np.asarray(v, float), x.shape) for v in (alpha, a, b))
    rx = r + x
    la_T = np.log(alpha + T)
    la_tx = np.log(alpha + tx)
    ll = (special.gammaln(rx) - special.gammaln(r) + r * np.log(alpha) - rx * la_T
          + special.betaln(a, b + x) - special.betaln(a, b))
    rep = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.log(a) - np.log(np.where(rep, b + x - 1.0, 1.0)) + rx * (la_T - la_tx)
    u = np.where(rep, u, -np.inf)
    ll = ll + np.where(rep, log1pexp(np.where(rep, u, 0.0)), 0.0)
    if not need_grad:
        return ll, None
    sg = np.where(rep, sigmoid(np.where(rep, u, 0.0)), 0.0)
    psi_abx = special.digamma(a + b + x)
    psi_ab = special.digamma(a + b)
    g = np.empty((x.size, 4))
    g[:, 0] = r * (special.digamma(rx) - special.digamma(r) + np.log(alpha) - la_T + sg * (la_T - la_tx))
    g[:, 1] = alpha * (r / alpha - rx / (alpha + T) + sg * rx * (1.0 / (alpha + T) - 1.0 / (alpha + tx)))
    g[:, 2] = a * (psi_ab - psi_abx + sg / a)
    g[:, 3] = b * (special.digamma(b + x) - psi_abx - special.digamma(b) + psi_ab
                   - sg / np.where(rep, b + x - 1.0, 1.0))
    return ll, g


def bgnbd_loglik_rows(r: float, alpha: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray, tx: np.ndarray,
                      T: np.ndarray) -> np.ndarray:
    """BG/NBD log-likelihood of each customer given its own ``alpha_i``, ``a_i``, ``b_i`` (FHL 2005 eq. 6;
    CLVTools' ``bgnbd_LL_ind``)."""
    return _bgnbd_ll_grad(r, alpha, a, b, x, tx, T)[0]


def _bg_palive(r: float, alpha: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray, tx: np.ndarray,
               T: np.ndarray) -> np.ndarray:
    """P(alive | x, t_x, T) of the BG/NBD with per-customer scales (FHL 2005 eq. 13; 1 when x = 0)."""
    rep = x > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = np.log(a) - np.log(np.where(rep, b + x - 1.0, 1.0)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
    return np.where(rep, sigmoid(-np.where(rep, u, 0.0)), 1.0)


def _bg_exp_alive(t: np.ndarray, r: float, alpha: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray,
                  T: np.ndarray) -> np.ndarray:
    """E[purchases in (T, T+t] | alive at T] of the BG/NBD with per-customer scales.

    The closed form of FHL 2005 eq. 10 (without its P(alive) factor), as in :class:`clm_utils.clv.BetaGeo`;
    where it is unusable (``a`` near 1, ``a + b + x <= 1`` or a failing 2F1) the expectation over the
    ``Beta(a_i, b_i + x)`` posterior by :func:`clm_utils.clv.betageo._expected_given_alive_quadrature`, per
    distinct ``a_i``."""
    bb = b + x
    c = a + bb - 1.0
    k = r + x
    zz = t / (alpha + T + t)
    with np.errstate(all="ignore"):
        out = (c / (a - 1.0)) * (1.0 - np.exp(k * np.log1p(-zz)) * special.hyp2f1(k, bb, c, zz))
    bad = (~np.isfinite(out) | (out < 0) | (np.abs(a - 1.0) < 1e-6) | (c <= 0)) & (t > 0)
    if np.any(bad):
        out = np.array(out, dtype=float)
        y = t / (alpha + T)
        for value in np.unique(a[bad]):
            sel = bad & (a == value)
            out[sel] = _expected_given_alive_quadrature(y[sel], k[sel], bb[sel], float(value))
    return np.where(t > 0, out, 0.0)


# --------------------------------------------------------------------------------------------
# covariates
# --------------------------------------------------------------------------------------------
def covariate_design(covariates: pd.DataFrame, columns: Sequence[str] | None = None,
                     levels: dict[str, list[str]] | None = None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Numeric design matrix of covariate columns: numbers as they are, other columns one-hot encoded.

    Parameters
    ----------
    covariates
        One row per customer (indexed by ``customer_id``).
    columns
        The columns to use; None = all.
    levels
        Levels of each non-numeric column (from a previous call, so that predictions use the fitted coding);
        None = the sorted levels found, the first being the reference.

    Returns
    -------
    (design, levels)
        ``design`` has one float column per number and ``<column>=<level>`` per non-reference level.

    Raises
    ------
    DataError
        Missing values (the message counts them and names the column).
    """
    columns = list(covariates.columns if columns is None else columns)
    missing_cols = [c for c in columns if c not in covariates.columns]
    if missing_cols:
        raise ParameterError(f"no covariate column {missing_cols[0]!r}", parameter="covariates",
                             hint=f"choose from {', '.join(map(repr, list(covariates.columns)[:12]))}")
    out: dict[str, np.ndarray] = {}
    levels = dict(levels or {})
    for c in columns:
        v = covariates[c]
        if v.isna().any():
            raise DataError(f"{int(v.isna().sum())} customer(s) have no value", column=c,
                            hint="fill the missing values, or fit on the customers that have them")
        if pd.api.types.is_bool_dtype(v) or pd.api.types.is_numeric_dtype(v):
            out[c] = v.to_numpy(dtype=float)
        else:
            text = v.astype(str)
            if c not in levels:
                levels[c] = sorted(pd.unique(text))
            unknown = sorted(set(pd.unique(text)) - set(levels[c]))
            if unknown:
                raise DataError(f"level {unknown[0]!r} was not seen when the model was fitted", column=c)
            for level in levels[c][1:]:
                out[f"{c}={level}"] = (text == level).to_numpy(dtype=float)
    return pd.DataFrame(out, index=covariates.index), levels


def _aligned_covariates(summary: pd.DataFrame, covariates: pd.DataFrame) -> pd.DataFrame:
    ids = summary.index.astype(str)
    cov = covariates.copy()
    cov.index = cov.index.astype(str)
    if cov.index.has_duplicates:
        raise DataError("the covariate table has repeated customer ids", hint="keep one row per customer")
    lacking = ~ids_in(ids, cov.index)
    if lacking.any():
        example = ", ".join(sorted(ids[lacking])[:3])
        raise DataError(f"{int(lacking.sum())} customer(s) of the summary have no covariates (e.g. {example})",
                        hint="give every customer a row, or fit on the customers that have one")
    return cov.reindex(ids)


# --------------------------------------------------------------------------------------------
# the models
# --------------------------------------------------------------------------------------------
class _StaticCovariateModel:
    """Shared machinery: designs, maximum likelihood on standardised covariates, the summary table.

    A subclass names its four base parameters (``_base_names``, the first two being the purchase shape and
    ``alpha0``), the base parameters the dropout covariates scale (``_life_targets``) and the sign of that
    link (``_life_sign``: scale = base * exp(sign * gamma_d' z)), and implements :meth:`_std_loglik`.  The
    purchase covariates always scale ``alpha0`` as ``alpha0 * exp(-gamma_p' z)``.
    """

    _model_name = ""
    _base_names: tuple[str, ...] = ()
    _life_targets: tuple[int, ...] = ()
    _life_sign = -1.0
    _customer_scales: tuple[tuple[str, int], ...] = ()
    _analytic_gradient = False
    _levels_p: dict[str, list[str]]
    _levels_d: dict[str, list[str]]

    def __init__(self, purchase_covariates: Sequence[str] | None = None,
                 dropout_covariates: Sequence[str] | None = None) -> None:
        self.purchase_covariates = None if purchase_covariates is None else list(purchase_covariates)
        self.dropout_covariates = None if dropout_covariates is None else list(dropout_covariates)

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"<{type(self).__name__}: not fitted>"
        return f"<{type(self).__name__}: " + ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items()) + ">"

    # ------------------------------------------------------------------ model hooks
    def _std_loglik(self, theta: np.ndarray, Sp: np.ndarray, Sd: np.ndarray, x: np.ndarray, tx: np.ndarray,
                    T: np.ndarray, need_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError  # pragma: no cover

    def _plain_model(self) -> Any:
        raise NotImplementedError  # pragma: no cover

    def _fallback_start(self, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def _log_scales(self, theta: np.ndarray, Zp: np.ndarray, Zd: np.ndarray) -> np.ndarray:
        """(n, 4) per-customer log base parameters: column 1 is log alpha_i, the life targets carry gamma_d."""
        kp = Zp.shape[1]
        gp, gd = theta[4:4 + kp], theta[4 + kp:]
        L = np.broadcast_to(theta[:4], (Zp.shape[0], 4)).copy()
        L[:, 1] -= Zp @ gp
        life = Zd @ gd
        for j in self._life_targets:
            L[:, j] += self._life_sign * life
        return L

    # ------------------------------------------------------------------ design
    def _designs(self, covariates: pd.DataFrame, fitting: bool) -> tuple[np.ndarray, np.ndarray]:
        pc = list(covariates.columns) if self.purchase_covariates is None else self.purchase_covariates
        dc = list(covariates.columns) if self.dropout_covariates is None else self.dropout_covariates
        lp = None if fitting else self._levels_p
        ld = None if fitting else self._levels_d
        Zp, lp = covariate_design(covariates, pc, lp)
        Zd, ld = covariate_design(covariates, dc, ld)
        if fitting:
            self._levels_p, self._levels_d = lp, ld
            self.purchase_names_ = list(Zp.columns)
            self.dropout_names_ = list(Zd.columns)
        return Zp.to_numpy(float), Zd.to_numpy(float)

    @property
    def param_names(self) -> list[str]:
        """Names of the parameters, in the order of ``params_``."""
        return (list(self._base_names) + [f"purchase:{n}" for n in self.purchase_names_]
                + [f"dropout:{n}" for n in self.dropout_names_])

    # ------------------------------------------------------------------ fitting
    def fit(self, summary: pd.DataFrame, covariates: pd.DataFrame) -> Any:
        """Fit by maximum likelihood.

        Parameters
        ----------
        summary
            Customer summary indexed by ``customer_id`` with ``frequency``, ``recency``, ``T``
            (:func:`clm_utils.summary.summarize`).
        covariates
            Covariates indexed by ``customer_id`` (every customer of ``summary`` needs a row; extra rows are
            ignored).

        Raises
        ------
        DataError
            Customers without covariates, missing covariate values.
        ModelError
            Too few repeat buyers, a covariate that does not vary or is collinear with others, or a
            likelihood whose maximum is not unique.
        """
        x, tx, T = rfm_arrays(summary)
        check_repeat_buyers(x, None, self._model_name)
        cov = _aligned_covariates(summary, covariates)
        Zp, Zd = self._designs(cov, fitting=True)
        for name, Z, labels in (("purchase", Zp, self.purchase_names_), ("dropout", Zd, self.dropout_names_)):
            if Z.shape[1] == 0:
                continue
            sd = Z.std(axis=0)
            if np.any(sd == 0):
                bad = [n for n, v in zip(labels, sd, strict=True) if v == 0]
                raise ModelError(f"{self._model_name}: covariate(s) {', '.join(bad)} do not vary",
                                 hint=f"drop them from the {name} covariates")
            if np.linalg.matrix_rank(Z - Z.mean(axis=0)) < Z.shape[1]:
                raise ModelError(f"{self._model_name}: the {name} covariates are collinear",
                                 hint="drop redundant covariates")
        kp, kd = Zp.shape[1], Zd.shape[1]
        mp, sp = (Zp.mean(axis=0), Zp.std(axis=0)) if kp else (np.zeros(0), np.ones(0))
        md, sdd = (Zd.mean(axis=0), Zd.std(axis=0)) if kd else (np.zeros(0), np.ones(0))
        Sp, Sd = (Zp - mp) / sp, (Zd - md) / sdd
        n = x.size

        def ll_std(theta: np.ndarray) -> np.ndarray:
            return self._std_loglik(theta, Sp, Sd, x, tx, T, False)[0]

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(all="ignore"):
                base, grad = self._std_loglik(theta, Sp, Sd, x, tx, T, self._analytic_gradient)
                f = -float(base.sum()) / n
                if not np.isfinite(f):
                    return 1e100, np.zeros(theta.size)
                if grad is not None:
                    return f, np.nan_to_num(-grad / n)
                g = np.empty(theta.size)
                h = 1e-6
                for i in range(theta.size):
                    e = np.zeros(theta.size)
                    e[i] = h
                    g[i] = (-float(ll_std(theta + e).sum()) / n - f) / h
            return f, np.nan_to_num(g)

        # start: the plain model (its estimates are the gamma = 0 point of this model)
        try:
            start = np.log(self._plain_model().fit(summary[["frequency", "recency", "T"]]).params_.to_numpy())
        except ModelError:
            start = self._fallback_start(x, T)
        start = np.clip(start, -LOG_BOUND + 1.0, LOG_BOUND - 1.0)
        theta0 = np.concatenate([start, np.zeros(kp + kd)])
        bounds = [(-LOG_BOUND, LOG_BOUND)] * 4 + [(-30.0, 30.0)] * (kp + kd)
        with _single_thread_blas():
            res = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                                    options={"maxiter": 3000, "ftol": 1e-14, "gtol": 1e-9, "maxcor": 20})
        if not np.isfinite(res.fun) or res.fun >= 1e99:
            raise ModelError(f"{self._model_name}: the likelihood could not be evaluated on these data",
                             hint="check that the summary uses one time unit")
        th = res.x
        if np.any(np.abs(th[:4]) >= LOG_BOUND - 1e-3) or np.any(np.abs(th[4:]) >= 30.0 - 1e-3):
            raise ModelError(f"{self._model_name}: the data cannot identify the model (an estimate ran off to "
                             "0 or infinity)", hint="use fewer covariates, more customers or a longer period")
        with np.errstate(all="ignore"), _single_thread_blas():
            if self._analytic_gradient:
                def total_grad(t: np.ndarray) -> np.ndarray:
                    g = self._std_loglik(t, Sp, Sd, x, tx, T, True)[1]
                    assert g is not None
                    return g

                H = _numeric_hessian_from_grad(total_grad, th, h=1e-5)
            else:
                H = _numeric_hessian_from_fun(lambda t: float(ll_std(t).sum()), th, h=1e-4)
        info = -H
        eig = np.linalg.eigvalsh((info + info.T) / 2) if np.all(np.isfinite(info)) else np.array([-1.0])
        if eig.min() <= 1e-10 * max(eig.max(), 1e-300):
            raise ModelError(f"{self._model_name}: the likelihood is flat in some direction, so the estimates "
                             "are not unique", hint="use fewer covariates or more customers")
        cov_std = np.linalg.inv((info + info.T) / 2)
        # map the standardised parameters to the user's units: gamma = g~ / sd; the base parameter a covariate
        # scales absorbs the centring: log alpha0 = log a~ + sum_j g~_j m_j / sd_j, and a dropout target
        # (scaled by exp(sign * gamma_d' z)) log t0 = log t~ - sign * sum_j g~_j m_j / sd_j; a linear map J
        J = np.eye(th.size)
        if kp:
            J[1, 4:4 + kp] = mp / sp
            J[4:4 + kp, 4:4 + kp] = np.diag(1.0 / sp)
        if kd:
            for j in self._life_targets:
                J[j, 4 + kp:] = -self._life_sign * md / sdd
            J[4 + kp:, 4 + kp:] = np.diag(1.0 / sdd)
        est = J @ th
        cov_raw = J @ cov_std @ J.T
        self._est = est
        self._cov_raw = cov_raw
        self._se_raw = np.sqrt(np.clip(np.diag(cov_raw), 0.0, None))
        names = self.param_names
        natural = est.copy()
        natural[:4] = np.exp(est[:4])
        D = np.ones(est.size)
        D[:4] = natural[:4]
        self.params_ = pd.Series(natural, index=names, name="estimate")
        self.standard_errors_ = pd.Series(D * self._se_raw, index=names, name="se")
        self.covariance_ = pd.DataFrame(cov_raw * np.outer(D, D), index=names, columns=names)
        self.log_likelihood_ = -float(res.fun) * n
        self.n_obs_ = n
        self.converged_ = bool(res.success)
        return self

    # ------------------------------------------------------------------ results
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise ModelError(f"{self._model_name} is not fitted yet", hint="call .fit(summary, covariates) first")

    def summary(self) -> pd.DataFrame:
        """Parameter table: ``estimate``, ``se``, ``z`` and ``p`` (gammas: H0 gamma = 0), ``lower_95``,
        ``upper_95`` (log-normal for the four base parameters; normal for the gammas), ``exp_estimate`` (for a
        gamma: the factor per unit of the covariate on what it scales, see the class docstring).  ``attrs``:
        log_likelihood, aic, n, converged."""
        self._check_fitted()
        est, se = self._est, self._se_raw
        lo, hi = est - Z95 * se, est + Z95 * se
        natural = self.params_.to_numpy()
        is_gamma = np.arange(est.size) >= 4
        z = np.where(is_gamma, est / np.where(se > 0, se, np.nan), np.nan)
        out = pd.DataFrame({
            "estimate": natural,
            "se": self.standard_errors_.to_numpy(),
            "z": z,
            "p": np.where(is_gamma, 2 * stats.norm.sf(np.abs(z)), np.nan),
            "lower_95": np.where(is_gamma, lo, np.exp(lo)),
            "upper_95": np.where(is_gamma, hi, np.exp(hi)),
            "exp_estimate": np.where(is_gamma, np.exp(est), np.nan),
        }, index=pd.Index(self.param_names, name="parameter"))
        out.attrs.update(log_likelihood=self.log_likelihood_, aic=2 * est.size - 2 * self.log_likelihood_,
                         n=self.n_obs_, converged=self.converged_)
        return out

    def customer_params(self, covariates: pd.DataFrame) -> pd.DataFrame:
        """Each customer's own scale parameters (see the class docstring), indexed like ``covariates``."""
        self._check_fitted()
        Zp, Zd = self._designs(covariates, fitting=False)
        L = self._log_scales(self._est, Zp, Zd)
        return pd.DataFrame({name: np.exp(L[:, j]) for name, j in self._customer_scales}, index=covariates.index)

    def _arrays(self, summary: pd.DataFrame, covariates: pd.DataFrame) -> tuple[np.ndarray, ...]:
        x, tx, T = rfm_arrays(summary)
        p = self.customer_params(_aligned_covariates(summary, covariates))
        return (x, tx, T) + tuple(p[name].to_numpy() for name, _ in self._customer_scales)

    def lr_test(self, summary: pd.DataFrame) -> pd.Series:
        """Likelihood-ratio test of all gammas = 0 against the plain model fitted on ``summary``.

        Returns ``statistic`` (2 × the log-likelihood difference), ``df`` and ``p_value`` (chi-square)."""
        self._check_fitted()
        plain = self._plain_model().fit(summary[["frequency", "recency", "T"]])
        stat = max(2.0 * (self.log_likelihood_ - plain.log_likelihood_), 0.0)
        df = len(self.params_) - 4
        return pd.Series({"statistic": stat, "df": float(df), "p_value": float(stats.chi2.sf(stat, df))})


class ParetoNBDCovariates(_StaticCovariateModel):
    """Pareto/NBD with static covariates on the purchase and the dropout process (see the module docstring).

    Parameters
    ----------
    purchase_covariates, dropout_covariates
        Covariate columns acting on the purchase process (``alpha_i``) and on the dropout process (``beta_i``).
        None = every column of the covariate table; ``[]`` = none on that process.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_ : Series ``r``, ``alpha0``, ``s``, ``beta0``, then ``purchase:<covariate>`` and ``dropout:<covariate>``
        (the gammas).  ``exp(gamma)`` is the factor on the mean purchase rate (purchase) or on the mean dropout
        rate (dropout) per unit of the covariate.
    standard_errors_, covariance_ : their standard errors and covariance (delta method for the positive ones).
    log_likelihood_, n_obs_ : maximised log-likelihood and the number of customers.
    converged_ : whether the optimiser reported convergence.

    Examples
    --------
    >>> model = ParetoNBDCovariates().fit(summary, attributes[["channel", "age"]])  # doctest: +SKIP
    >>> model.summary()  # doctest: +SKIP
    >>> model.conditional_probability_alive(summary, attributes)  # doctest: +SKIP
    """

    _model_name = "Pareto/NBD with covariates"
    _base_names = ("r", "alpha0", "s", "beta0")
    _life_targets = (3,)
    _life_sign = -1.0
    _customer_scales = (("alpha", 1), ("beta", 3))

    def _std_loglik(self, theta: np.ndarray, Sp: np.ndarray, Sd: np.ndarray, x: np.ndarray, tx: np.ndarray,
                    T: np.ndarray, need_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        L = self._log_scales(theta, Sp, Sd)
        return pnbd_loglik_rows(np.exp(theta[0]), np.exp(L[:, 1]), np.exp(theta[2]), np.exp(L[:, 3]),
                                x, tx, T), None

    def _plain_model(self) -> ParetoNBD:
        return ParetoNBD()

    def _fallback_start(self, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        return np.log([1.0, max(float(T.mean()) / (x.mean() + 1.0), 1e-3), 1.0, float(T.mean())])

    def log_likelihood_rows(self, summary: pd.DataFrame, covariates: pd.DataFrame) -> pd.Series:
        """Each customer's log-likelihood at the fitted parameters."""
        x, tx, T, alpha, beta = self._arrays(summary, covariates)
        r, s = float(self.params_["r"]), float(self.params_["s"])
        return pd.Series(pnbd_loglik_rows(r, alpha, s, beta, x, tx, T), index=summary.index, name="log_likelihood")

    def conditional_probability_alive(self, summary: pd.DataFrame, covariates: pd.DataFrame) -> pd.Series:
        """P(alive at T | frequency, recency, T, covariates) (FH 2005 eq. 18 with the customer's alpha, beta)."""
        x, tx, T, alpha, beta = self._arrays(summary, covariates)
        r, s = float(self.params_["r"]), float(self.params_["s"])
        with np.errstate(all="ignore"):
            l1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
            l2 = np.log(s) - np.log(r + s + x) + _log_A0(r, alpha, s, beta, x, tx, T)
        return pd.Series(sigmoid(l1 - l2), index=summary.index, name="p_alive")

    def conditional_expected_number_of_purchases_up_to_time(self, t: Any, summary: pd.DataFrame,
                                                            covariates: pd.DataFrame) -> pd.Series:
        """Expected purchases in ``(T, T + t]`` given the history and the covariates (FH 2005 eq. 22)."""
        x, _, T, alpha, beta = self._arrays(summary, covariates)
        tt = np.broadcast_to(time_array(t), x.shape)
        r, s = float(self.params_["r"]), float(self.params_["s"])
        p_alive = self.conditional_probability_alive(summary, covariates).to_numpy()
        u = tt / (beta + T)
        life = (beta + T) * np.log1p(u) if abs(s - 1.0) < 1e-8 else \
            (beta + T) * (-np.expm1(-(s - 1.0) * np.log1p(u))) / (s - 1.0)
        return pd.Series(p_alive * (r + x) / (alpha + T) * life, index=summary.index, name="expected_purchases")

    def expected_number_of_purchases_up_to_time(self, t: Any, covariates: pd.DataFrame) -> pd.Series:
        """E[X(t)] for a new customer with the given covariates (FH 2005 eq. 17 with alpha_i, beta_i)."""
        p = self.customer_params(covariates)
        r, s = float(self.params_["r"]), float(self.params_["s"])
        tt = float(np.asarray(time_array(t)).reshape(-1)[0])
        alpha, beta = p["alpha"].to_numpy(), p["beta"].to_numpy()
        if abs(s - 1.0) < 1e-8:
            out = r * beta / alpha * np.log1p(tt / beta)
        else:
            out = r * beta / (alpha * (s - 1.0)) * (1.0 - (beta / (beta + tt)) ** (s - 1.0))
        return pd.Series(out, index=covariates.index, name="expected_purchases")


class BetaGeoCovariates(_StaticCovariateModel):
    """BG/NBD with static covariates, exactly as CLVTools' ``bgnbd`` with static covariates.

    Source: CLVTools (Bachmann, Meierer & Näf), ``src/bgnbd.cpp``: ``bgnbd_staticcov_alpha_i`` returns
    ``alpha_0 * exp(-mCov_trans * gamma_trans)``, ``bgnbd_staticcov_a_i`` and ``bgnbd_staticcov_b_i`` return
    ``a_0 * exp(mCov_life * gamma_life)`` and ``b_0 * exp(mCov_life * gamma_life)``, and
    ``bgnbd_staticcov_LL_ind`` evaluates the plain BG/NBD likelihood (Fader, Hardie & Lee 2005, eq. 6) at each
    customer's ``(alpha_i, a_i, b_i)``::

        lambda_i ~ Gamma(r, alpha_i),  alpha_i = alpha0 * exp(-gamma_p' z_i)        (purchase process)
        p_i      ~ Beta(a_i, b_i),     a_i = a0 * exp(gamma_d' z_i),  b_i = b0 * exp(gamma_d' z_i)   (dropout)

    So ``exp(gamma_p)`` is the factor on the mean purchase rate ``r / alpha_i`` per unit of the covariate, and
    ``exp(gamma_d)`` the factor on ``a_i`` and ``b_i`` together: the mean dropout probability ``a0 / (a0 + b0)``
    is the same for every customer, the covariate changes its concentration ``a_i + b_i`` (a positive
    ``gamma_d`` makes the dropout probabilities of those customers more alike; with ``a0 < 1`` it also thins
    the group of customers who leave almost surely after a purchase).  This is CLVTools' choice, kept for
    comparability; Fader & Hardie (2007) note that it is one of several possible links.

    Parameters
    ----------
    purchase_covariates, dropout_covariates
        Covariate columns acting on the purchase process (``alpha_i``) and on the dropout process
        (``a_i``, ``b_i``).  None = every column of the covariate table; ``[]`` = none on that process.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_ : Series ``r``, ``alpha0``, ``a0``, ``b0``, then ``purchase:<covariate>`` and ``dropout:<covariate>``
        (the gammas).
    standard_errors_, covariance_ : their standard errors and covariance (delta method for the positive ones).
    log_likelihood_, n_obs_ : maximised log-likelihood and the number of customers.
    converged_ : whether the optimiser reported convergence.

    Examples
    --------
    >>> model = BetaGeoCovariates(dropout_covariates=["channel"]).fit(summary, attributes)  # doctest: +SKIP
    >>> model.summary()  # doctest: +SKIP
    >>> model.conditional_probability_alive(summary, attributes)  # doctest: +SKIP
    """

    _model_name = "BG/NBD with covariates"
    _base_names = ("r", "alpha0", "a0", "b0")
    _life_targets = (2, 3)
    _life_sign = 1.0
    _customer_scales = (("alpha", 1), ("a", 2), ("b", 3))
    _analytic_gradient = True

    def _std_loglik(self, theta: np.ndarray, Sp: np.ndarray, Sd: np.ndarray, x: np.ndarray, tx: np.ndarray,
                    T: np.ndarray, need_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        L = self._log_scales(theta, Sp, Sd)
        P = np.exp(L)
        r = float(np.exp(theta[0]))
        ll, g = _bgnbd_ll_grad(r, P[:, 1], P[:, 2], P[:, 3], x, tx, T, need_grad=need_grad)
        if g is None:
            return ll, None
        # g: d ll_i / d log(r, alpha_i, a_i, b_i); chain rule to (log r, log alpha0, log a0, log b0, gp, gd)
        G = g.sum(axis=0)
        grad = np.concatenate([G, -(Sp.T @ g[:, 1]), self._life_sign * (Sd.T @ (g[:, 2] + g[:, 3]))])
        return ll, grad

    def _plain_model(self) -> BetaGeo:
        return BetaGeo()

    def _fallback_start(self, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        return np.log([1.0, max(float(T.mean()) / (x.mean() + 1.0), 1e-3), 1.0, 3.0])

    def log_likelihood_rows(self, summary: pd.DataFrame, covariates: pd.DataFrame) -> pd.Series:
        """Each customer's log-likelihood at the fitted parameters."""
        x, tx, T, alpha, a, b = self._arrays(summary, covariates)
        ll = bgnbd_loglik_rows(float(self.params_["r"]), alpha, a, b, x, tx, T)
        return pd.Series(ll, index=summary.index, name="log_likelihood")

    def conditional_probability_alive(self, summary: pd.DataFrame, covariates: pd.DataFrame) -> pd.Series:
        """P(alive at T | frequency, recency, T, covariates) (FHL 2005 eq. 13 with the customer's alpha, a, b;
        1 for customers without repeat purchases)."""
        x, tx, T, alpha, a, b = self._arrays(summary, covariates)
        return pd.Series(_bg_palive(float(self.params_["r"]), alpha, a, b, x, tx, T), index=summary.index,
                         name="p_alive")

    def conditional_expected_number_of_purchases_up_to_time(self, t: Any, summary: pd.DataFrame,
                                                            covariates: pd.DataFrame) -> pd.Series:
        """Expected purchases in ``(T, T + t]`` given the history and the covariates (FHL 2005 eq. 10)."""
        x, tx, T, alpha, a, b = self._arrays(summary, covariates)
        tt = np.broadcast_to(time_array(t), x.shape).astype(float)
        r = float(self.params_["r"])
        out = _bg_palive(r, alpha, a, b, x, tx, T) * _bg_exp_alive(tt, r, alpha, a, b, x, T)
        return pd.Series(out, index=summary.index, name="expected_purchases")

    def expected_number_of_purchases_up_to_time(self, t: Any, covariates: pd.DataFrame) -> pd.Series:
        """E[X(t)] for a new customer with the given covariates (FHL 2005 eq. 9 with alpha_i, a_i, b_i)."""
        p = self.customer_params(covariates)
        tt = float(np.asarray(time_array(t)).reshape(-1)[0])
        z = np.zeros(len(p))
        out = _bg_exp_alive(np.full(len(p), tt), float(self.params_["r"]), p["alpha"].to_numpy(),
                            p["a"].to_numpy(), p["b"].to_numpy(), z, z)
        return pd.Series(out, index=covariates.index, name="expected_purchases")


# --------------------------------------------------------------------------------------------
# simulation with known truth (vectorised)
# --------------------------------------------------------------------------------------------
def simulate_pnbd_covariates(n: int, r: float, alpha0: float, s: float, beta0: float,
                             gamma_p: Sequence[float], gamma_d: Sequence[float], Z: np.ndarray,
                             T: np.ndarray | float, seed: int) -> pd.DataFrame:
    """Simulate ``frequency``, ``recency``, ``T`` of ``n`` customers from the covariate Pareto/NBD.

    ``Z`` is the (n, k) covariate matrix shared by both processes (``gamma_p`` and ``gamma_d`` of length k;
    zeros switch a covariate off for a process).  Purchases while alive are a Poisson process: the count over
    ``min(tau, T)`` is Poisson and the last purchase time the largest of that many uniforms.
    """
    rng = np.random.default_rng(seed)
    Z = np.asarray(Z, dtype=float).reshape(n, -1)
    alpha = alpha0 * np.exp(-Z @ np.asarray(gamma_p, float))
    beta = beta0 * np.exp(-Z @ np.asarray(gamma_d, float))
    lam = rng.gamma(r, 1.0 / alpha)
    mu = rng.gamma(s, 1.0 / beta)
    tau = rng.exponential(1.0 / mu)
    TT = np.broadcast_to(np.asarray(T, float), (n,)).copy()
    window = np.minimum(tau, TT)
    x = rng.poisson(lam * window)
    u = rng.random(n)
    with np.errstate(divide="ignore"):
        tx = np.where(x > 0, window * u ** (1.0 / np.maximum(x, 1)), 0.0)
    return pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": TT},
                        index=pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id"))


def simulate_bgnbd_covariates(n: int, r: float, alpha0: float, a0: float, b0: float,
                              gamma_p: Sequence[float], gamma_d: Sequence[float], Z: np.ndarray,
                              T: np.ndarray | float, seed: int) -> pd.DataFrame:
    """Simulate ``frequency``, ``recency``, ``T`` of ``n`` customers from the covariate BG/NBD.

    ``alpha_i = alpha0 exp(-gamma_p' z_i)``, ``a_i = a0 exp(gamma_d' z_i)``, ``b_i = b0 exp(gamma_d' z_i)``
    (CLVTools' link, see :class:`BetaGeoCovariates`); ``Z`` is the (n, k) covariate matrix shared by both
    processes (zeros in ``gamma_p`` or ``gamma_d`` switch a covariate off for a process).

    Vectorised: with ``lambda ~ Gamma(r, alpha_i)`` and ``p ~ Beta(a_i, b_i)``, the customer makes ``K ~
    Poisson(lambda T)`` purchases in ``(0, T]`` if never dropping out, and drops out right after the ``N``-th
    repeat purchase, ``N ~ Geometric(p)`` on 1, 2, ...; so ``x = min(K, N)`` and, given ``K`` uniform purchase
    times, ``t_x / T`` is the ``x``-th of ``K`` uniform order statistics, ``Beta(x, K - x + 1)``.
    """
    rng = np.random.default_rng(seed)
    Z = np.asarray(Z, dtype=float).reshape(n, -1)
    alpha = alpha0 * np.exp(-Z @ np.asarray(gamma_p, float))
    life = np.exp(Z @ np.asarray(gamma_d, float))
    lam = rng.gamma(r, 1.0 / alpha)
    p = rng.beta(a0 * life, b0 * life)
    TT = np.broadcast_to(np.asarray(T, float), (n,)).copy()
    K = rng.poisson(lam * TT).astype(float)
    u = rng.random(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        # N = 1 + floor(log U / log(1 - p)) is Geometric(p) on 1, 2, ...; p = 0 (underflow) means never
        N = np.where(p > 0, 1.0 + np.floor(np.log(u) / np.log1p(-np.minimum(p, 1.0 - 1e-16))), np.inf)
    x = np.minimum(K, N)
    v = rng.beta(np.maximum(x, 1.0), np.maximum(K - x, 0.0) + 1.0)
    tx = np.where(x > 0, TT * v, 0.0)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": TT},
                        index=pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id"))
