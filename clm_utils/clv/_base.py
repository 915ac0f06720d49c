"""Shared maximum-likelihood machinery for the BTYD models.

Every model in :mod:`clm_utils.clv` is fitted the same way:

* parameters are optimised on the log scale (unconstrained; every parameter is positive);
* the data are compressed to unique rows with integer weights, found with a *single* integer
  key built from per-column codes (``pd.factorize`` on each column, then a mixed-radix key),
  which is O(n) and far cheaper than ``np.unique(axis=0)``;
* the negative mean log-likelihood and, where the likelihood allows, its analytic gradient are
  handed to ``scipy.optimize.minimize`` (L-BFGS-B, deterministic start values, no random
  restarts);
* standard errors come from the observed information: the Hessian of the log-likelihood on the
  log scale, by central differences of the analytic gradient (or of the likelihood itself when
  no gradient is available), inverted; the natural-scale standard error is ``theta * se(log
  theta)`` (delta method) and the 95% interval is ``exp(log theta +- 1.96 se)``, which stays
  positive.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from clm_utils.errors import DataError, ModelError, ParameterError

Z95 = 1.959963984540054
#: log-parameter box used by the optimiser (exp(+-18) ~ 1.5e-8 .. 6.6e7).
LOG_BOUND = 18.0


# --------------------------------------------------------------------------------------------
# data handling
# --------------------------------------------------------------------------------------------
def _column_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), len(uniques)


def compress_rows(columns: Sequence[np.ndarray], weights: np.ndarray | None = None) -> tuple[
    list[np.ndarray], np.ndarray, np.ndarray
]:
    """Compress rows to unique combinations of ``columns`` with summed weights.

    The key is a single ``int64``: each column is factorised to codes ``0..k_j-1`` and the codes
    are combined in mixed radix (``((c0 * k1) + c1) * k2 + c2``).  When the product of the
    cardinalities would overflow ``int64`` the partial key is re-factorised first, so the key
    stays exact for any data size.

    Parameters
    ----------
    columns
        Equal-length 1-D arrays (e.g. frequency, recency, T).
    weights
        Optional non-negative row weights (default 1 each).

    Returns
    -------
    (unique_columns, unique_weights, inverse)
        ``unique_columns[j][inverse]`` reproduces ``columns[j]``.
    """
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    card = 1
    for col in columns:
        codes, k = _column_codes(np.asarray(col))
        if card * max(k, 1) >= 2**62:
            key, card = _column_codes(key)
        key = key * k + codes
        card *= max(k, 1)
    inverse, uniques = pd.factorize(key, sort=False)
    m = len(uniques)
    first = np.empty(m, dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    uw = np.bincount(inverse, weights=w, minlength=m)
    return [np.asarray(c)[first] for c in columns], uw, inverse


def _refuse_rows(mask: np.ndarray, what: str, label: str, column: str, hint: str) -> None:
    """Raise one DataError naming the first rows where ``mask`` is true (positions in the summary)."""
    bad = np.flatnonzero(mask)
    if bad.size:
        raise DataError(f"{bad.size} {what}", file=label, column=column, rows=bad[:5].tolist(),
                        n_rows=int(bad.size), hint=hint)


def as_float_column(frame: pd.DataFrame, name: str, label: str = "summary") -> np.ndarray:
    """Return ``frame[name]`` as float array; raise :class:`DataError` when missing, NaN or negative."""
    if name not in frame.columns:
        raise DataError(
            f"column '{name}' is missing (columns present: {', '.join(map(str, frame.columns))})",
            file=label,
            column=name,
            hint="build the customer summary with clm_utils.summary.summarize()",
        )
    try:
        values = pd.to_numeric(frame[name], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"column '{name}' is not numeric", file=label, column=name) from exc
    _refuse_rows(~np.isfinite(values), "missing or infinite values", label, name,
                 "drop or fill these customers before fitting")
    _refuse_rows(values < 0, "negative values", label, name, "frequency, recency, T and spend cannot be negative")
    return values


def resolve_weights(frame: pd.DataFrame, weights: Any, label: str = "summary") -> np.ndarray | None:
    """Weights given as ``None``, a column name, or an array aligned with ``frame``."""
    if weights is None:
        return None
    if isinstance(weights, str):
        w = as_float_column(frame, weights, label)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(frame),):
            raise ParameterError(
                f"weights have shape {w.shape}, expected ({len(frame)},)", parameter="weights"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise DataError("weights must be finite and non-negative", file=label, column="weights")
    return w


def rfm_arrays(summary: pd.DataFrame, label: str = "summary") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``frequency``, ``recency``, ``T`` arrays of a BTYD customer summary.

    Raises
    ------
    DataError
        Empty frame; missing/NaN/negative values; non-integer frequency; recency > T;
        recency > 0 with frequency 0.
    """
    if not isinstance(summary, pd.DataFrame):
        raise DataError("expected a customer summary DataFrame", file=label)
    if len(summary) == 0:
        raise DataError("the customer summary is empty", file=label, hint="check the date range and filters")
    x = as_float_column(summary, "frequency", label)
    tx = as_float_column(summary, "recency", label)
    T = as_float_column(summary, "T", label)
    _refuse_rows(np.abs(x - np.round(x)) > 1e-9, "non-integer frequencies", label, "frequency",
                 "frequency is a count of repeat purchase days")
    _refuse_rows(tx > T * (1 + 1e-9) + 1e-9, "customers have recency > T", label, "recency",
                 "recency (first to last purchase) cannot exceed T (first purchase to the end of the period)")
    _refuse_rows((x == 0) & (tx > 1e-9), "customers have recency > 0 but no repeat purchase", label, "recency",
                 "by the BTYD convention recency is 0 when frequency is 0")
    return np.round(x), np.minimum(tx, T), T


def time_array(t: Any, name: str = "t") -> np.ndarray:
    """A non-negative finite float array from a scalar/array/Series time argument."""
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ParameterError(f"{name} must be finite and non-negative", parameter=name)
    return arr


def aligned(values: np.ndarray, summary: pd.DataFrame, name: str) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=summary.index, name=name)


def broadcast_t(t: Any, n: int, name: str = "t") -> np.ndarray:
    """``t`` as an array of length ``n`` (a scalar or a Series/array aligned with the summary)."""
    arr = time_array(t.to_numpy() if isinstance(t, pd.Series) else t, name)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ParameterError(f"{name} has {arr.size} values for {n} customers", parameter=name)
    return arr


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------
def _numeric_hessian_from_grad(grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Forward differences of the analytic gradient (k + 1 gradient calls), symmetrised.

    The truncation error is O(h * third derivative), ~1e-5 relative on the standard errors."""
    k = x.size
    g0 = grad(x)
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        H[i] = (grad(x + e) - g0) / h
    return (H + H.T) / 2


def _numeric_hessian_from_fun(fun: Callable[[np.ndarray], float], x: np.ndarray, h: float = 2e-3) -> np.ndarray:
    k = x.size
    H = np.empty((k, k))
    f0 = fun(x)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h
        H[i, i] = (fun(x + ei) - 2 * f0 + fun(x - ei)) / h**2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = h
            H[i, j] = H[j, i] = (
                fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)
            ) / (4 * h**2)
    return H


def _numeric_grad(fun: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    g = np.empty(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        g[i] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


class BaseFitter:
    """Common ML fitting, results and summary table for the BTYD models.

    Subclasses set ``_param_names`` and implement ``_loglik(log_params, data) -> (ll_rows,
    grad_rows or None)`` on the compressed data dict, plus ``_prepare(...)``.
    """

    _param_names: tuple[str, ...] = ()
    _model_name: str = "model"
    _has_gradient: bool = True

    params_: pd.Series
    standard_errors_: pd.Series
    log_likelihood_: float
    n_obs_: float
    n_unique_: int
    covariance_: pd.DataFrame

    # -- to implement -------------------------------------------------------------------
    def _loglik_rows(self, logp: np.ndarray, data: dict[str, np.ndarray], need_grad: bool) -> tuple[
        np.ndarray, np.ndarray | None
    ]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _start(self, data: dict[str, np.ndarray]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- machinery ----------------------------------------------------------------------
    def _total_ll(self, logp: np.ndarray, data: dict[str, np.ndarray]) -> float:
        ll, _ = self._loglik_rows(logp, data, False)
        return float(np.sum(data["w"] * ll))

    def _fit_ml(self, data: dict[str, np.ndarray], x0: np.ndarray | None = None, finish: bool = True,
                hess0: np.ndarray | None = None) -> np.ndarray:
        """Maximise the likelihood; ``x0`` is an optional start (log scale) tried first.

        With ``hess0`` (the Hessian of the mean negative log-likelihood near ``x0``, e.g. from a fit
        on a subsample) BFGS starts from that curvature and converges in a few quasi-Newton steps;
        L-BFGS-B from the usual starts remains the fallback.  Returns the log-parameters; with
        ``finish`` the results (params, SEs, ...) are stored.
        """
        w = data["w"]
        total = float(w.sum())
        k = len(self._param_names)

        def objective(logp: np.ndarray) -> tuple[float, np.ndarray] | float:
            with np.errstate(all="ignore"):
                ll, g = self._loglik_rows(logp, data, self._has_gradient)
            f = -float(np.sum(w * ll)) / total
            if not np.isfinite(f):
                f = 1e100
                if self._has_gradient:
                    return f, np.zeros(k)
                return f
            if self._has_gradient:
                grad = -np.sum(w[:, None] * g, axis=0) / total
                if not np.all(np.isfinite(grad)):
                    grad = np.nan_to_num(grad)
                return f, grad
            return f

        with _single_thread_blas():
            return self._fit_ml_inner(data, objective, k, x0, finish, hess0)

    def _fit_ml_inner(self, data: dict[str, np.ndarray], objective: Callable[..., Any], k: int,
                      x0: np.ndarray | None, finish: bool, hess0: np.ndarray | None) -> np.ndarray:
        starts = ([x0] if x0 is not None else []) + [self._start(data)]
        starts += [np.log(np.full(k, v)) for v in (1.0, 0.5, 2.0)]
        best = None
        if x0 is not None and hess0 is not None and self._has_gradient:
            try:
                hinv = np.linalg.inv((hess0 + hess0.T) / 2)
                hinv = (hinv + hinv.T) / 2
                if np.all(np.isfinite(hinv)) and np.all(np.linalg.eigvalsh(hinv) > 0):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        res = optimize.minimize(objective, x0, jac=True, method="BFGS",
                                                options={"gtol": 1e-9, "maxiter": 100, "hess_inv0": hinv})
                    if res.success and np.isfinite(res.fun) and np.max(np.abs(res.x)) < LOG_BOUND - 1e-3:
                        best = res
                        starts = []
                    elif np.isfinite(res.fun) and res.fun < 1e99:
                        starts = [res.x] + starts
            except (np.linalg.LinAlgError, ValueError):
                pass
        for x0 in starts:
            x0 = np.clip(np.asarray(x0, float), -LOG_BOUND + 1, LOG_BOUND - 1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = optimize.minimize(
                    objective,
                    x0,
                    jac=self._has_gradient,
                    method="L-BFGS-B",
                    bounds=[(-LOG_BOUND, LOG_BOUND)] * k,
                    options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
                )
            if np.isfinite(res.fun) and res.fun < 1e99 and (best is None or res.fun < best.fun - 1e-12):
                best = res
            if best is not None and best.success and np.max(np.abs(best.x)) < LOG_BOUND - 1e-3:
                break
        if best is None or not np.isfinite(best.fun) or best.fun >= 1e99:
            raise ModelError(
                f"{self._model_name}: the likelihood could not be evaluated on these data",
                hint="check that the summary uses one time unit and holds enough customers",
            )
        logp = best.x
        at_bound = np.abs(logp) >= LOG_BOUND - 1e-3
        if np.any(at_bound):
            names = [n for n, b in zip(self._param_names, at_bound, strict=True) if b]
            raise ModelError(
                f"{self._model_name}: the data cannot identify the model (parameter(s) {', '.join(names)} "
                "ran off to 0 or infinity)",
                hint="use more customers, a longer calibration period, or a simpler model",
            )
        if finish:
            self._finish(logp, data)
        return logp

    def _mean_hessian(self, logp: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        """Hessian of the mean negative log-likelihood (log scale), from the analytic gradient."""
        w = data["w"]
        total = float(w.sum())

        def grad(lp: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):
                _, g = self._loglik_rows(lp, data, True)
            assert g is not None
            return -np.sum(w[:, None] * g, axis=0) / total

        with _single_thread_blas():
            return _numeric_hessian_from_grad(grad, logp)

    def _finish(self, logp: np.ndarray, data: dict[str, np.ndarray]) -> None:
        names = list(self._param_names)
        theta = np.exp(logp)
        self.params_ = pd.Series(theta, index=names, name="estimate")
        self.log_likelihood_ = self._total_ll(logp, data)
        self.n_obs_ = float(data["w"].sum())
        self.n_unique_ = int(data["w"].size)
        self._logp = logp
        # observed information on the log scale
        with np.errstate(all="ignore"):
            if self._has_gradient:

                def grad(lp: np.ndarray) -> np.ndarray:
                    _, g = self._loglik_rows(lp, data, True)
                    assert g is not None
                    return data["w"] @ g

                H = _numeric_hessian_from_grad(grad, logp)
            else:
                H = _numeric_hessian_from_fun(lambda lp: self._total_ll(lp, data), logp)
        info = -H
        cov_log = np.full((len(names), len(names)), np.nan)
        try:
            eig = np.linalg.eigvalsh(info)
            if np.all(np.isfinite(info)) and eig.min() > 1e-10 * max(eig.max(), 1e-300):
                cov_log = np.linalg.inv(info)
            else:
                raise np.linalg.LinAlgError("singular information")
        except np.linalg.LinAlgError as exc:
            raise ModelError(
                f"{self._model_name}: the data cannot identify the model (the likelihood is flat in some "
                "direction, so the estimates are not unique and have no standard errors)",
                hint="use more customers, a longer calibration period, or a simpler model",
            ) from exc
        se_log = np.sqrt(np.clip(np.diag(cov_log), 0, None))
        self._cov_log = cov_log
        self._se_log = se_log
        self.standard_errors_ = pd.Series(theta * se_log, index=names, name="se")
        D = np.diag(theta)
        self.covariance_ = pd.DataFrame(D @ cov_log @ D, index=names, columns=names)

    # -- results ------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise ModelError(f"{self._model_name} is not fitted yet", hint="call .fit(...) first")

    @property
    def aic_(self) -> float:
        self._check_fitted()
        return 2 * len(self._param_names) - 2 * self.log_likelihood_

    @property
    def bic_(self) -> float:
        self._check_fitted()
        return len(self._param_names) * np.log(self.n_obs_) - 2 * self.log_likelihood_

    def summary(self) -> pd.DataFrame:
        """Parameter table: estimate, standard error and 95% interval (log-normal, always positive).

        The frame's ``attrs`` carry ``log_likelihood``, ``aic``, ``bic``, ``n`` and ``n_unique``.
        """
        self._check_fitted()
        lo = np.exp(self._logp - Z95 * self._se_log)
        hi = np.exp(self._logp + Z95 * self._se_log)
        out = pd.DataFrame(
            {
                "estimate": self.params_.to_numpy(),
                "se": self.standard_errors_.to_numpy(),
                "lower_95": lo,
                "upper_95": hi,
            },
            index=pd.Index(self._param_names, name="parameter"),
        )
        out.attrs.update(
            log_likelihood=self.log_likelihood_,
            aic=self.aic_,
            bic=self.bic_,
            n=self.n_obs_,
            n_unique=self.n_unique_,
        )
        return out

    def _p(self) -> tuple[float, ...]:
        self._check_fitted()
        return tuple(float(self.params_[n]) for n in self._param_names)

    def set_params(self, **params: float) -> BaseFitter:
        """Set parameters directly (e.g. published values) without fitting; returns self."""
        missing = [n for n in self._param_names if n not in params]
        if missing:
            raise ParameterError(f"missing parameter(s) {', '.join(missing)}", parameter=missing[0])
        vals = np.array([float(params[n]) for n in self._param_names])
        if not np.all(np.isfinite(vals)) or np.any(vals <= 0):
            raise ParameterError("parameters must be positive", parameter="params")
        self.params_ = pd.Series(vals, index=list(self._param_names), name="estimate")
        self._logp = np.log(vals)
        self._se_log = np.full(vals.size, np.nan)
        self._cov_log = np.full((vals.size, vals.size), np.nan)
        self.standard_errors_ = pd.Series(np.nan, index=list(self._param_names), name="se")
        self.log_likelihood_ = np.nan
        self.n_obs_ = np.nan
        self.n_unique_ = 0
        return self

    def sample_params(self, n: int, seed: int) -> pd.DataFrame:
        """Draw ``n`` parameter vectors from the asymptotic normal of the log-parameters (seeded)."""
        self._check_fitted()
        if not np.all(np.isfinite(self._cov_log)):
            raise ModelError(f"{self._model_name}: no covariance matrix to sample from")
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(self._logp, self._cov_log, size=n)
        return pd.DataFrame(np.exp(draws), columns=list(self._param_names))

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"<{type(self).__name__}: not fitted>"
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: {ps}>"



class TransactionModel(BaseFitter):
    """Shared prediction API of the continuous-time transaction models (BG/NBD, MBG/NBD, Pareto/NBD).

    A subclass supplies ``_palive(x, tx, T)`` (P(alive at T)) and ``_exp_alive(t, x, T)``
    (expected purchases in ``(T, T+t]`` given alive), plus ``probability_of_n_purchases_up_to_time``;
    the customer-level predictions below are the same for every model.
    """

    def _palive(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _exp_alive(self, t: np.ndarray, x: np.ndarray, T: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> np.ndarray | float:  # pragma: no cover
        raise NotImplementedError

    def _cond_exp(self, t: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        return self._palive(x, tx, T) * self._exp_alive(t, x, T)

    def conditional_probability_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(alive at T | frequency, recency, T) for each customer (see the class docstring for the equation)."""
        self._check_fitted()
        x, tx, T = rfm_arrays(summary)
        return aligned(self._palive(x, tx, T), summary, "p_alive")

    def conditional_expected_number_of_purchases_up_to_time(self, t: Any, summary: pd.DataFrame) -> pd.Series:
        """Expected purchases in the next ``t`` time units for each existing customer.

        ``t`` is a scalar or an array/Series aligned with ``summary`` (e.g. ``duration_holdout``).
        """
        self._check_fitted()
        x, tx, T = rfm_arrays(summary)
        tt = broadcast_t(t, len(x))
        return aligned(self._cond_exp(tt, x, tx, T), summary, "expected_purchases")

    def expected_frequency_distribution(self, summary: pd.DataFrame, max_frequency: int = 7) -> pd.Series:
        """Expected number of customers with 0..max_frequency-1 and >= max_frequency repeat purchases in (0, T]."""
        self._check_fitted()
        _, _, T = rfm_arrays(summary)
        Tu, counts = np.unique(T, return_counts=True)
        ks = np.arange(max_frequency)
        P = np.asarray(self.probability_of_n_purchases_up_to_time(Tu[:, None], ks[None, :]))
        exp = counts @ P
        out = np.append(exp, len(T) - exp.sum())
        return pd.Series(out, index=[str(k) for k in ks] + [f"{max_frequency}+"], name="expected")

class _single_thread_blas:
    """Limit BLAS to one thread during a fit: the problems are tiny (4 parameters), and a
    multi-threaded BLAS on a loaded machine spends far more time waking threads than computing."""

    _controller: Any = None
    _depth = 0

    def __enter__(self) -> _single_thread_blas:
        self._ctx: Any = None
        if _single_thread_blas._depth > 0:  # already limited by an outer fit
            _single_thread_blas._depth += 1
            return self
        try:
            if _single_thread_blas._controller is None:
                from threadpoolctl import ThreadpoolController

                # scanning the loaded libraries is the slow part: do it once per process
                _single_thread_blas._controller = ThreadpoolController()
            self._ctx = _single_thread_blas._controller.limit(limits=1, user_api="blas")
        except Exception:  # threadpoolctl missing or unusable: run as is
            self._ctx = None
        _single_thread_blas._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        _single_thread_blas._depth -= 1
        if self._ctx is not None:
            self._ctx.restore_original_limits()


def log1pexp(u: np.ndarray) -> np.ndarray:
    """log(1 + exp(u)) without overflow."""
    return np.logaddexp(0.0, u)


def sigmoid(u: np.ndarray) -> np.ndarray:
    """exp(u) / (1 + exp(u)) without overflow."""
    return np.exp(-np.logaddexp(0.0, -u))
