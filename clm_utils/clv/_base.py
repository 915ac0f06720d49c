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
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize, stats

from clm_utils.errors import DataError, ModelError, ParameterError

Z95 = 1.959963984540054
#: log-parameter box used by the optimiser (exp(+-18) ~ 1.5e-8 .. 6.6e7).
LOG_BOUND = 18.0


#: log-value at which a collapsed shape parameter (r, a or s -> infinity) is held: e^12 ~ 1.6e5, a
#: coefficient of variation of 1/sqrt(1.6e5) = 0.25%, i.e. no heterogeneity, while the matching
#: scale parameter (shape / mean) stays well inside the box.
COLLAPSE_LOG = LOG_BOUND - 6.0
#: fewest repeat buyers for which a transaction model is fitted at all.  Below this the 2-4
#: parameters rest on a handful of customers: the estimates are at the boundary or have standard
#: errors larger than themselves (checked on CDNOW subsamples), so a clear error is more honest.
MIN_REPEAT_BUYERS = 10
#: a dropout model whose fitted share of customers dropping out by the longest observed T is
#: below this is numerically its no-dropout limit, the NBD.
DROPOUT_NIL = 1e-6


class BoundaryEstimate(ModelError):
    """The maximum-likelihood estimate lies on the boundary of the parameter space.

    A :class:`~clm_utils.errors.ModelError` (callers that catch that keep working) that carries
    what the fit found, so that a caller can fit the nested limit model instead:

    ``model``         name of the model that was fitted;
    ``limit``         name of the nested limit model the estimate converges to (``"NBD"``), or None;
    ``log_likelihood`` the supremum of the log-likelihood reached (for the likelihood-ratio test);
    ``logp``          the log-parameters where the optimiser stopped;
    ``at_low`` / ``at_high`` which parameters sit on the lower / upper edge of the box;
    ``description``   one phrase saying where the estimate went, e.g. ``"a -> 0"``.
    """

    def __init__(self, message: str, *, hint: str | None = None, model: str = "", limit: str | None = None,
                 log_likelihood: float = float("nan"), logp: np.ndarray | None = None,
                 at_low: np.ndarray | None = None, at_high: np.ndarray | None = None,
                 description: str = "") -> None:
        self.model = model
        self.limit = limit
        self.log_likelihood = log_likelihood
        self.logp = logp
        self.at_low = at_low
        self.at_high = at_high
        self.description = description
        super().__init__(message, hint=hint)


def _max_gradient(res: Any) -> float:
    jac = getattr(res, "jac", None)
    if jac is None:
        return float("nan")
    return float(np.max(np.abs(np.asarray(jac, dtype=float)))) if np.size(jac) else 0.0


def _converged(res: Any) -> bool:
    """Optimiser success, or a gradient of the mean log-likelihood below 1e-5 (L-BFGS-B often
    stops with a line-search warning at an optimum that is already exact to the last digit)."""
    if bool(res.success):
        return True
    g = _max_gradient(res)
    return bool(np.isfinite(g) and g < 1e-5)


def check_repeat_buyers(x: np.ndarray, w: np.ndarray | None, model: str) -> None:
    """Raise :class:`ModelError` when fewer than :data:`MIN_REPEAT_BUYERS` customers repeat."""
    n_rep = float(np.count_nonzero(x > 0)) if w is None else float(np.dot(w, x > 0))
    if n_rep == 0:
        raise ModelError(
            f"{model}: nobody made a repeat purchase, so purchase rates and dropout cannot be identified",
            hint="use a longer calibration period or data with repeat customers",
        )
    if n_rep < MIN_REPEAT_BUYERS:
        raise ModelError(
            f"{model}: only {n_rep:g} customer(s) made a repeat purchase; at least {MIN_REPEAT_BUYERS} are "
            "needed to estimate purchase rates (and dropout)",
            hint="use a longer calibration period (or an earlier calibration end), or more customers",
        )


def boundary_lr_test(ll_full: float, ll_limit: float) -> tuple[float, float]:
    """Likelihood-ratio test of a nested limit model that lies on the boundary of the full one.

    ``LR = 2 (ll_full - ll_limit)``; values below 1e-3 (the optimisers' precision on a
    log-likelihood of thousands) count as 0.  With one parameter on the boundary under the
    null (a = 0, or s = 0), LR is asymptotically the 50:50 mixture of chi2_0 and chi2_1 (Self & Liang
    1987), so ``p = 0.5 P(chi2_1 > LR)`` for LR > 0 and 1 for LR = 0.  The other dropout parameter
    (b, or beta) is not identified under the null, so this p-value is approximate.
    """
    lr = 2.0 * (float(ll_full) - float(ll_limit))
    if not np.isfinite(lr):
        return float("nan"), float("nan")
    lr = 0.0 if lr < 1e-3 else lr
    p = 1.0 if lr == 0.0 else 0.5 * float(stats.chi2.sf(lr, 1))
    return lr, p


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
    """Central differences of the analytic gradient (2k gradient calls), symmetrised.

    Column i is ``(g(x + h e_i) - g(x - h e_i)) / 2h``; the truncation error is
    O(h^2 * third derivative), ~1e-10 relative, far below the 4 significant digits that
    published standard errors carry (forward differences, used before, were O(h))."""
    k = x.size
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        H[i] = (grad(x + e) - grad(x - e)) / (2 * h)
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
    #: False when no optimiser start converged (the result is flagged, see ``notes_``).
    converged_: bool
    #: one-sentence notes for the report (non-convergence, parameters held at a limit).
    notes_: list[str]
    #: parameters held at a limit value rather than estimated.
    fixed_: tuple[str, ...]

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

    # -- fixed parameters (a collapsed heterogeneity is held at its limit) -------------
    def _free_mask(self) -> np.ndarray:
        mask = np.ones(len(self._param_names), dtype=bool)
        for i in getattr(self, "_fixed", {}):
            mask[i] = False
        return mask

    def _expand(self, free: np.ndarray) -> np.ndarray:
        fixed: dict[int, float] = getattr(self, "_fixed", {})
        if not fixed:
            return np.asarray(free, dtype=float)
        full = np.empty(len(self._param_names))
        full[self._free_mask()] = free
        for i, v in fixed.items():
            full[i] = v
        return full

    def _fit_ml(self, data: dict[str, np.ndarray], x0: np.ndarray | None = None, finish: bool = True,
                hess0: np.ndarray | None = None) -> np.ndarray:
        """Maximise the likelihood; ``x0`` is an optional start (log scale) tried first.

        With ``hess0`` (the Hessian of the mean negative log-likelihood near ``x0``, e.g. from a fit
        on a subsample) BFGS starts from that curvature and converges in a few quasi-Newton steps;
        L-BFGS-B from the usual starts remains the fallback.  Parameters listed in ``self._fixed``
        (index -> log value) are held fixed.  Returns the full vector of log-parameters; with
        ``finish`` the results (params, SEs, ...) are stored.

        Raises
        ------
        BoundaryEstimate
            The maximum lies on the edge of the parameter box (a parameter ran off to 0 or infinity).
        """
        w = data["w"]
        total = float(w.sum())
        mask = self._free_mask()
        k = int(mask.sum())

        def objective(free: np.ndarray) -> tuple[float, np.ndarray] | float:
            logp = self._expand(free)
            with np.errstate(all="ignore"):
                ll, g = self._loglik_rows(logp, data, self._has_gradient)
            f = -float(np.sum(w * ll)) / total
            if not np.isfinite(f):
                f = 1e100
                if self._has_gradient:
                    return f, np.zeros(k)
                return f
            if self._has_gradient:
                grad = -(w @ g)[mask] / total
                if not np.all(np.isfinite(grad)):
                    grad = np.nan_to_num(grad)
                return f, grad
            return f

        if x0 is not None:
            x0 = np.asarray(x0, dtype=float)[mask]
        if hess0 is not None:
            hess0 = np.asarray(hess0, dtype=float)[np.ix_(mask, mask)]
        with _single_thread_blas():
            return self._fit_ml_inner(data, objective, k, x0, finish, hess0)

    def _fit_ml_inner(self, data: dict[str, np.ndarray], objective: Callable[..., Any], k: int,
                      x0: np.ndarray | None, finish: bool, hess0: np.ndarray | None) -> np.ndarray:
        mask = self._free_mask()
        starts = ([x0] if x0 is not None else []) + [self._start(data)[mask]]
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
            if best is not None and _converged(best) and np.max(np.abs(best.x)) < LOG_BOUND - 1e-3:
                break
        if best is None or not np.isfinite(best.fun) or best.fun >= 1e99:
            raise ModelError(
                f"{self._model_name}: the likelihood could not be evaluated on these data",
                hint="check that the summary uses one time unit and holds enough customers",
            )
        logp = self._expand(best.x)
        total = float(data["w"].sum())
        self._converged = _converged(best)
        self._max_gradient = _max_gradient(best)
        at_low = np.zeros(logp.size, dtype=bool)
        at_high = np.zeros(logp.size, dtype=bool)
        at_low[mask] = best.x <= -LOG_BOUND + 1e-3
        at_high[mask] = best.x >= LOG_BOUND - 1e-3
        if np.any(at_low | at_high):
            names = [n for n, b in zip(self._param_names, at_low | at_high, strict=True) if b]
            raise BoundaryEstimate(
                f"{self._model_name}: the data cannot identify the model (parameter(s) {', '.join(names)} "
                "ran off to 0 or infinity)",
                hint="use more customers, a longer calibration period, or a simpler model",
                model=self._model_name, logp=logp, at_low=at_low, at_high=at_high,
                log_likelihood=-float(best.fun) * total,
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
        mask = self._free_mask()
        self.params_ = pd.Series(theta, index=names, name="estimate")
        self.log_likelihood_ = self._total_ll(logp, data)
        self.n_obs_ = float(data["w"].sum())
        self.n_unique_ = int(data["w"].size)
        self._logp = logp
        self.fixed_ = tuple(n for n, free in zip(names, mask, strict=True) if not free)
        self.converged_ = bool(getattr(self, "_converged", True))
        self.notes_ = []
        if not self.converged_:
            self.notes_.append(
                f"{self._model_name}: the optimiser did not converge from any start (largest gradient "
                f"{getattr(self, '_max_gradient', np.nan):.1e}), so the estimates may not be the maximum "
                "likelihood; do not rely on them")
        # observed information on the log scale, over the free parameters
        with np.errstate(all="ignore"):
            if self._has_gradient:

                def grad(free: np.ndarray) -> np.ndarray:
                    _, g = self._loglik_rows(self._expand(free), data, True)
                    assert g is not None
                    return (data["w"] @ g)[mask]

                H = _numeric_hessian_from_grad(grad, logp[mask])
            else:
                H = _numeric_hessian_from_fun(lambda free: self._total_ll(self._expand(free), data), logp[mask])
        info = -H
        try:
            eig = np.linalg.eigvalsh(info)
            if np.all(np.isfinite(info)) and eig.min() > 1e-10 * max(eig.max(), 1e-300):
                cov_free = np.linalg.inv(info)
            else:
                raise np.linalg.LinAlgError("singular information")
        except np.linalg.LinAlgError as exc:
            raise BoundaryEstimate(
                f"{self._model_name}: the data cannot identify the model (the likelihood is flat in some "
                "direction, so the estimates are not unique and have no standard errors)",
                hint="use more customers, a longer calibration period, or a simpler model",
                model=self._model_name, logp=logp, log_likelihood=self.log_likelihood_,
            ) from exc
        cov_log = np.zeros((len(names), len(names)))
        cov_log[np.ix_(mask, mask)] = cov_free
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
            converged=getattr(self, "converged_", True),
            notes=list(getattr(self, "notes_", [])),
            fixed=tuple(getattr(self, "fixed_", ())),
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
        self.converged_ = True
        self.notes_ = []
        self.fixed_ = ()
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
    """Shared prediction API of the continuous-time transaction models (BG/NBD, MBG/NBD, Pareto/NBD, NBD).

    A subclass supplies ``_palive(x, tx, T)`` (P(alive at T)) and ``_exp_alive(t, x, T)``
    (expected purchases in ``(T, T+t]`` given alive), plus ``probability_of_n_purchases_up_to_time``;
    the customer-level predictions below are the same for every model.

    Boundaries of the parameter space (see :meth:`_fit_transaction`):

    * no dropout within the window (BG/NBD a -> 0 or b -> infinity; Pareto/NBD s -> 0 or
      beta -> infinity): the model is its limit, the NBD, and ``fit`` raises
      :class:`BoundaryEstimate` with ``limit="NBD"`` and the supremum of the log-likelihood, so
      that :func:`clm_utils.clv.fit_transaction_model` fits the NBD and reports the
      likelihood-ratio comparison;
    * a heterogeneity that collapses (a shape parameter r, a or s -> infinity with its scale, i.e.
      every customer has the same rate or dropout probability): the shape is held at its limit
      (``e^12``, a coefficient of variation of 0.25%), the other parameters are estimated, and
      ``fixed_`` and ``notes_`` say so.
    """

    #: True when a customer without a repeat purchase has P(alive) = 1 by construction.
    one_time_buyers_alive: ClassVar[bool] = False
    #: shape parameters whose run to infinity means a heterogeneity collapses.
    _shape_params: ClassVar[tuple[str, ...]] = ()
    #: what each shape parameter's collapse means, for the note.
    _collapse_meaning: ClassVar[dict[str, str]] = {}

    def _palive(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _exp_alive(self, t: np.ndarray, x: np.ndarray, T: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> np.ndarray | float:  # pragma: no cover
        raise NotImplementedError

    def _dropout_share(self, theta: np.ndarray, t: float) -> float:
        """(An upper bound on) the share of a cohort dropped out ``t`` after the first purchase; NaN for
        a model without dropout (which has no no-dropout limit to fall back to)."""
        return float("nan")

    def _no_dropout_description(self, theta: np.ndarray) -> str:  # pragma: no cover - per model
        return "no dropout"

    # -- fitting with boundaries --------------------------------------------------------
    def _fit_transaction(self, data: dict[str, np.ndarray], x0: np.ndarray | None = None,
                         hess0: np.ndarray | None = None) -> None:
        """Maximum likelihood with the boundary rules of the class docstring; stores the results."""
        self._fixed = {}
        names = list(self._param_names)
        t_max = float(np.max(data["T"]))
        for _ in range(len(self._shape_params) + 1):
            try:
                logp = self._fit_ml(data, x0=x0, finish=False, hess0=hess0)
                break
            except BoundaryEstimate as exc:
                assert exc.logp is not None and exc.at_high is not None
                self._raise_if_no_dropout(exc.logp, exc.log_likelihood, t_max, exc)
                # a shape parameter whose value, or whose scale partner's (alpha, b, beta: the
                # parameter right after it), ran to +infinity: that heterogeneity collapsed
                collapse = [i for i, n in enumerate(names)
                            if n in self._shape_params and i not in self._fixed
                            and (exc.at_high[i] or (i + 1 < len(names) and exc.at_high[i + 1]))]
                if not collapse:
                    raise
                for i in collapse:
                    self._fixed[i] = COLLAPSE_LOG
                x0 = hess0 = None
        else:  # pragma: no cover - every shape parameter already fixed
            raise ModelError(f"{self._model_name}: the data cannot identify the model")
        self._raise_if_no_dropout(logp, self._total_ll(logp, data), t_max, None)
        try:
            self._finish(logp, data)
        except BoundaryEstimate as exc:
            self._raise_if_no_dropout(logp, exc.log_likelihood, t_max, exc)
            raise
        for n in self.fixed_:
            self.notes_.append(
                f"{self._model_name}: {self._collapse_meaning.get(n, n + ' heterogeneity collapses')} "
                f"({n} -> infinity), so {n} is held at its limit and the other parameters are estimated")

    def _raise_if_no_dropout(self, logp: np.ndarray, ll: float, t_max: float,
                             cause: BaseException | None) -> None:
        theta = np.exp(logp)
        with np.errstate(all="ignore"):
            share = self._dropout_share(theta, t_max)
        if not (np.isfinite(share) and share < DROPOUT_NIL):
            return
        desc = self._no_dropout_description(theta)
        exc = BoundaryEstimate(
            f"{self._model_name}: the estimate runs to the boundary of the parameter space ({desc}): fewer "
            f"than 1 in {1 / DROPOUT_NIL:,.0f} customers would have dropped out within the data, so the "
            "model reduces to its no-dropout limit, the NBD",
            hint="fit clm_utils.clv.NBD instead (clv.fit_transaction_model and clv.fit_value_models do this)",
            model=self._model_name, limit="NBD", log_likelihood=ll, logp=logp, description=desc,
        )
        if cause is None:
            raise exc
        raise exc from cause

    # -- predictions --------------------------------------------------------------------
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
