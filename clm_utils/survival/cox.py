"""Cox proportional-hazards regression (lifelines-style), residuals and the proportional-hazards check.

Estimation by statsmodels ``PHReg`` (Efron ties by default, as R's ``coxph``); the Schoenfeld
residuals use R's Efron weighting for tied deaths, and :meth:`CoxPH.check_proportional_hazards`
reproduces ``survival::cox.zph`` (version 2.x form).  Validated in ``tests/test_survival_cox.py``
against R ``coxph`` on ``ovarian``, Rossi and ``lung`` and R ``cox.zph`` on Rossi.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clm_utils.errors import DataError, ModelError, ParameterError
from clm_utils.survival._common import clean_survival_input
from clm_utils.survival.concordance import concordance_index
from clm_utils.survival.kaplan_meier import KaplanMeier

__all__ = ["CoxPH", "cox_ph"]


class CoxPH:
    """Cox proportional-hazards model: configure, then ``fit(data, duration_col, event_col, covariates)``.

    Parameters
    ----------
    ties
        ``"efron"`` (default, as R's ``coxph``) or ``"breslow"``.
    alpha
        1 - confidence level of the intervals in :attr:`summary`.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_, standard_errors_ : Series indexed by design column (log hazard ratios and their SEs).
    variance_matrix_ : DataFrame, the inverse observed information.
    log_likelihood_ : maximised log partial likelihood.
    concordance_ : Harrell's C of the linear predictor.
    n_, n_events_ : sample size and number of events.

    Examples
    --------
    >>> cox = CoxPH(ties="efron").fit(df, "week", "arrest", covariates=["fin", "age", "prio"])  # doctest: +SKIP
    >>> cox.summary  # doctest: +SKIP
    """

    def __init__(self, ties: str = "efron", alpha: float = 0.05) -> None:
        if ties not in ("efron", "breslow"):
            raise ParameterError("ties must be 'efron' or 'breslow'", parameter="ties")
        if not 0 < alpha < 1:
            raise ParameterError("alpha must be between 0 and 1", parameter="alpha")
        self.ties = ties
        self.alpha = alpha
        self.duration_col = ""
        self.event_col = ""
        self.covariates: list[str] = []
        self.strata: str | None = None
        self.params_ = pd.Series(dtype=float)
        self.standard_errors_ = pd.Series(dtype=float)
        self.variance_matrix_ = pd.DataFrame()
        self.log_likelihood_ = float("nan")
        self.concordance_ = float("nan")
        self.n_ = 0
        self.n_events_ = 0
        self._X = np.empty((0, 0))
        self._t = np.empty(0)
        self._e = np.empty(0, dtype=int)
        self._result: Any = None
        self._strata: np.ndarray | None = None

    def __repr__(self) -> str:
        fitted = f", covariates={self.covariates}, n={self.n_}, events={self.n_events_}" if self.n_ else ""
        return f"CoxPH(ties={self.ties!r}, alpha={self.alpha}{fitted})"

    def fit(
        self,
        data: pd.DataFrame,
        duration_col: str,
        event_col: str,
        covariates: Sequence[str] | None = None,
        strata: str | None = None,
    ) -> CoxPH:
        """Estimate the model.

        Parameters
        ----------
        data
            One row per subject with the duration, the event flag (1/0) and the covariates.
            Non-numeric covariates are one-hot encoded (first observed level = reference).
            Rows with a missing value in a used column are left out (``n_`` says how many remain).
        duration_col, event_col
            Column names of the duration and of the event flag.
        covariates
            Covariate columns; None = every other column except ``strata``.
        strata
            Optional column: a separate baseline hazard per level (coefficients shared).

        Returns
        -------
        self

        Raises
        ------
        ModelError
            When there are no events, a covariate is constant / collinear, or the fit does not
            converge (separation).
        """
        if not isinstance(data, pd.DataFrame):
            raise DataError("the Cox model needs a DataFrame", hint="one row per customer")
        for c in (duration_col, event_col) + ((strata,) if strata else ()):
            if c not in data.columns:
                raise DataError(f"column {c!r} not found", column=c)
        if covariates is None:
            covariates = [c for c in data.columns if c not in (duration_col, event_col, strata)]
        covariates = list(covariates)
        if not covariates:
            raise ParameterError("give at least one covariate", parameter="covariates")
        from statsmodels.duration.hazard_regression import PHReg
        from statsmodels.tools.sm_exceptions import ConvergenceWarning

        X, names = _design(data, covariates)
        keep = X.notna().all(axis=1) & data[duration_col].notna() & data[event_col].notna()
        if strata is not None:
            keep &= data[strata].notna()
        X = X[keep]
        t, e = clean_survival_input(data.loc[keep, duration_col], data.loc[keep, event_col])
        if e.sum() == 0:
            raise ModelError("no events: the Cox model cannot be estimated", hint="use a shorter inactivity window")
        Xv = X.to_numpy(float)
        sd = Xv.std(axis=0)
        if np.any(sd == 0):
            bad = [n for n, s in zip(names, sd, strict=True) if s == 0]
            raise ModelError(f"covariate(s) {', '.join(bad)} do not vary", hint="drop them from covariates")
        if np.linalg.matrix_rank(Xv - Xv.mean(axis=0)) < Xv.shape[1]:
            raise ModelError("covariates are collinear", hint="drop redundant covariates")
        st = None if strata is None else pd.factorize(data.loc[keep, strata])[0]
        model = PHReg(t, Xv, status=e, strata=st, ties=self.ties)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            res = model.fit(disp=False)
        # PHReg's results carry no ``mle_retvals``: a fit that ran out of iterations says so only by warning
        retvals = getattr(res, "mle_retvals", None) or {}
        converged = bool(retvals.get("converged", True)) and not any(
            issubclass(w.category, ConvergenceWarning) for w in caught)
        params = np.asarray(res.params, dtype=float)
        cov = np.asarray(res.cov_params(), dtype=float)
        se = np.sqrt(np.abs(np.diag(cov)))
        # monotone likelihood (separation): a coefficient runs off to infinity; its effect per
        # standard deviation of the covariate becomes absurd (hazard ratio beyond e^15) and its SE explodes
        runaway = np.any(np.abs(params * sd) > 15.0) or np.any(~np.isfinite(se)) or np.any(se * sd > 1e3)
        if not converged or not np.all(np.isfinite(params)) or runaway:
            raise ModelError("the Cox model did not converge (a covariate may separate churners from the others)",
                             hint="drop or merge sparse categories, or use more data")
        self.duration_col, self.event_col, self.covariates, self.strata = duration_col, event_col, covariates, strata
        self.params_ = pd.Series(params, index=names, name="coef")
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(cov)), index=names, name="se(coef)")
        self.variance_matrix_ = pd.DataFrame(cov, index=names, columns=names)
        self.log_likelihood_ = float(res.llf)
        self.n_, self.n_events_ = int(t.size), int(e.sum())
        self._X, self._t, self._e, self._result, self._strata = Xv, t, e, res, st
        self.concordance_ = concordance_index(t, Xv @ params, e)
        return self

    def _check_fitted(self) -> None:
        if self.params_.empty:
            raise ModelError("the Cox model is not fitted yet", hint="call .fit(data, duration_col, event_col) first")

    @property
    def summary(self) -> pd.DataFrame:
        """Coefficient table: coef, exp(coef) = hazard ratio, SE, z, p and CIs of both (R's layout)."""
        self._check_fitted()
        z = stats.norm.ppf(1 - self.alpha / 2)
        b, se = self.params_, self.standard_errors_
        zval = b / se
        level = round(100 * (1 - self.alpha))
        return pd.DataFrame(
            {
                "coef": b,
                "exp(coef)": np.exp(b),
                "se(coef)": se,
                "z": zval,
                "p": 2 * stats.norm.sf(np.abs(zval)),
                f"coef lower {level}%": b - z * se,
                f"coef upper {level}%": b + z * se,
                f"HR lower {level}%": np.exp(b - z * se),
                f"HR upper {level}%": np.exp(b + z * se),
            }
        )

    def hazard_ratios(self) -> pd.DataFrame:
        """Hazard ratio, its CI and p per design column (the table a reader needs)."""
        s = self.summary
        return s[["exp(coef)", s.columns[-2], s.columns[-1], "p"]].rename(columns={"exp(coef)": "hazard ratio"})

    def predict_log_hazard(self, data: pd.DataFrame | None = None) -> np.ndarray:
        """Linear predictor x'beta for ``data`` (None = the training data)."""
        self._check_fitted()
        if data is None:
            X = self._X
        else:
            X = _design(data, self.covariates)[0].reindex(columns=self.params_.index, fill_value=0.0).to_numpy(float)
        return X @ self.params_.to_numpy()

    def schoenfeld_residuals(self) -> np.ndarray:
        """Unscaled Schoenfeld residuals (n x p, NaN rows for censored subjects), with this model's ties."""
        self._check_fitted()
        return _schoenfeld_residuals(self._t, self._e, self._X, self.params_.to_numpy(), self._strata, self.ties)

    def scaled_schoenfeld(self) -> pd.DataFrame:
        """Scaled Schoenfeld residuals (one row per event, sorted by time), beta added.

        r*_k = d * V r_k + beta, with d the number of events and V the variance matrix
        (Grambsch & Therneau 1994).  A smooth of r*_j against time estimates beta_j(t).
        """
        res = self.schoenfeld_residuals()
        ev = self._e == 1
        order = np.argsort(self._t[ev], kind="stable")
        r = res[ev][order]
        d = int(ev.sum())
        scaled = d * r @ self.variance_matrix_.to_numpy() + self.params_.to_numpy()
        return pd.DataFrame(scaled, columns=self.params_.index, index=pd.Index(self._t[ev][order], name="time"))

    def binned_schoenfeld(self, bins: int = 10, covariates: Sequence[str] | None = None) -> pd.DataFrame:
        """Mean scaled Schoenfeld residual per equal-count bin of event time: a coarse beta(t).

        Events are sorted by time and cut into ``min(bins, events)`` bins of (nearly) equal
        count; each bin's mean of r*_j estimates beta_j over that stretch of time.  A flat row
        of means around the fitted beta_j supports proportional hazards.

        Returns
        -------
        DataFrame indexed by ``bin`` (0 = earliest events) with ``time_from``, ``time_to``,
        ``events`` and one column per covariate.
        """
        res = self.scaled_schoenfeld()
        cols = list(self.params_.index) if covariates is None else [c for c in covariates if c in res.columns]
        if not cols:
            raise ParameterError("none of the covariates is in the model", parameter="covariates",
                                 hint=f"choose from {', '.join(res.columns)}")
        if bins < 1:
            raise ParameterError("bins must be at least 1", parameter="bins")
        nb = min(int(bins), len(res))
        # events are sorted by time: consecutive bins of equal count (the first len % nb bins one larger)
        b = np.concatenate([np.full(len(c), i) for i, c in enumerate(np.array_split(np.arange(len(res)), nb))])
        t = res.index.to_numpy(dtype=float)
        g = res[cols].groupby(b)
        out = g.mean()
        out.insert(0, "events", g.size())
        out.insert(0, "time_to", pd.Series(t).groupby(b).max())
        out.insert(0, "time_from", pd.Series(t).groupby(b).min())
        out.index.name = "bin"
        return out

    def plot_schoenfeld(self, covariates: Sequence[str] | None = None, bins: int = 10, ax: Any = None) -> Any:
        """Binned scaled Schoenfeld residuals (beta(t)) against event-time bins, with the fitted betas."""
        import matplotlib.pyplot as plt

        table = self.binned_schoenfeld(bins, covariates)
        cols = [c for c in table.columns if c not in ("time_from", "time_to", "events")]
        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 4))
        for i, col in enumerate(cols):
            ax.plot(table.index, table[col], marker="o", color=f"C{i}", label=f"{col}: beta(t)")
            ax.axhline(self.params_[col], color=f"C{i}", lw=1, ls="--", label=f"{col}: fitted beta")
        ax.set_xlabel(f"event-time bin (equal counts, {len(table)} bins)")
        ax.set_ylabel("mean scaled Schoenfeld residual (beta(t))")
        ax.set_title("Time-varying effect check: flat = proportional hazards")
        ax.legend(frameon=False, fontsize=8)
        return ax

    def check_proportional_hazards(self, transform: str = "km") -> pd.DataFrame:
        """Test of proportional hazards from scaled Schoenfeld residuals (like R's ``cox.zph``).

        For each covariate the test asks whether the scaled residual trends with a transform
        g(t) of time: the score test of Grambsch & Therneau (1994) in the form of
        ``survival::cox.zph`` before version 3.0 (and of lifelines), with R's Schoenfeld residuals
        (Efron-weighted risk-set means for tied deaths when ``ties="efron"``),

            T_j = (sum_k (g_k - gbar) s_kj)^2 / (d * V_jj * sum_k (g_k - gbar)^2),  chi-square(1),

        with s_kj = d * (V r_k)_j the scaled residual without beta, and the global test
        d * u' V u / sum (g - gbar)^2 with u = sum_k (g_k - gbar) s_k, chi-square(p).

        ``transform``: ``"km"`` (default, as R): g(t) = 1 - KM(t-), the left-continuous
        Kaplan-Meier estimate of the pooled data, which spreads event times evenly and is
        robust to a few very long times; ``"rank"``: rank of the event time; ``"identity"``: t;
        ``"log"``: log t.  A small p-value says the hazard ratio changes with time.
        """
        self._check_fitted()
        ev = self._e == 1
        t_ev = self._t[ev]
        order = np.argsort(t_ev, kind="stable")
        t_ev = t_ev[order]
        d = t_ev.size
        if d < 3:
            raise ModelError("too few events to test proportional hazards", hint="need at least 3 events")
        res = self.schoenfeld_residuals()[ev][order]
        V = self.variance_matrix_.to_numpy()
        s = d * res @ V
        if transform == "km":
            km = KaplanMeier(conf_type="plain").fit(self._t, self._e)
            sf = km.survival_function_
            # left-continuous: S just before t
            pos = np.searchsorted(sf.index.to_numpy(), t_ev, side="left") - 1
            s_left = np.where(pos >= 0, sf["survival"].to_numpy()[np.clip(pos, 0, None)], 1.0)
            g = 1.0 - s_left
        elif transform == "rank":
            g = stats.rankdata(t_ev)
        elif transform == "identity":
            g = t_ev
        elif transform == "log":
            if np.any(t_ev <= 0):
                raise ModelError("log transform needs positive event times", hint="use transform='km'")
            g = np.log(t_ev)
        else:
            raise ParameterError("transform must be 'km', 'rank', 'identity' or 'log'", parameter="transform")
        xx = g - g.mean()
        sxx = float(np.sum(xx**2))
        if sxx == 0:
            raise ModelError("all events happen at the same time: the PH test is undefined")
        u = xx @ s
        chisq = u**2 / (d * np.diag(V) * sxx)
        rho = np.array([np.corrcoef(xx, s[:, j])[0, 1] if np.std(s[:, j]) > 0 else np.nan for j in range(s.shape[1])])
        u_raw = xx @ res  # R: the global test uses the unscaled residuals
        glob = float(d * u_raw @ V @ u_raw / sxx)
        names = list(self.params_.index)
        table = pd.DataFrame(
            {
                "rho": np.append(rho, np.nan),
                "chisq": np.append(chisq, glob),
                "df": [1] * len(names) + [len(names)],
            },
            index=pd.Index(names + ["GLOBAL"], name="covariate"),
        )
        table["p"] = stats.chi2.sf(table["chisq"], table["df"])
        return table

    def plot(self, ax: Any = None) -> Any:
        """Forest plot of hazard ratios with their CIs (log scale)."""
        import matplotlib.pyplot as plt

        s = self.summary
        lo, hi = s.columns[-2], s.columns[-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.5 * len(s) + 1.2))
        y = np.arange(len(s))[::-1]
        ax.errorbar(s["exp(coef)"], y, xerr=[s["exp(coef)"] - s[lo], s[hi] - s["exp(coef)"]], fmt="o", color="C0")
        ax.axvline(1.0, color="grey", ls="--", lw=1)
        ax.set_yticks(y, s.index)
        ax.set_xscale("log")
        ax.set_xlabel(f"hazard ratio (log scale), {round(100 * (1 - self.alpha))}% CI")
        ax.set_title("Cox model: hazard ratios")
        return ax

    plot_hazard_ratios = plot

    def plot_checks(self, covariates: Sequence[str] | None = None, bins: int = 10) -> Any:
        """Hazard ratios (left) and the binned beta(t) check (right) in one figure; returns the two Axes."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(13, 4))
        self.plot(ax=axes[0])
        self.plot_schoenfeld(covariates, bins=bins, ax=axes[1])
        fig.tight_layout()
        return axes


def _schoenfeld_residuals(
    t: np.ndarray, e: np.ndarray, X: np.ndarray, beta: np.ndarray, strata: np.ndarray | None, ties: str
) -> np.ndarray:
    """Unscaled Schoenfeld residuals, one row per subject (NaN for censored), R's definition.

    For a death at time t the residual is x_i minus the risk-set mean of x weighted by exp(x'beta).
    With Efron ties and m deaths at t, the k-th of the m "virtual" risk sets down-weights the
    tied deaths by k/m, and each tied death gets the average of the m means (as R's
    ``residuals.coxph(type = "schoenfeld")``); with Breslow ties every tied death sees the full
    risk set (statsmodels' ``PHRegResults.schoenfeld_residuals``).  Vectorised per stratum.
    """
    n, p = X.shape
    res = np.full((n, p), np.nan)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for idx in groups:
        ts, es, Xs = t[idx], e[idx], X[idx]
        ev = es == 1
        if not ev.any():
            continue
        eta = Xs @ beta
        w = np.exp(eta - eta.max())
        order = np.argsort(ts, kind="stable")
        st, sw, swx = ts[order], w[order], (w[:, None] * Xs)[order]
        suf_w = np.concatenate([np.cumsum(sw[::-1])[::-1], [0.0]])
        suf_wx = np.vstack([np.cumsum(swx[::-1], axis=0)[::-1], np.zeros((1, p))])
        u, inv, m = np.unique(ts[ev], return_inverse=True, return_counts=True)
        pos = np.searchsorted(st, u, side="left")
        S0, S1 = suf_w[pos], suf_wx[pos]
        d0 = np.bincount(inv, weights=w[ev], minlength=u.size)
        d1 = np.zeros((u.size, p))
        np.add.at(d1, inv, w[ev][:, None] * Xs[ev])
        rep = np.repeat(np.arange(u.size), m)
        k = np.arange(rep.size) - np.repeat(np.cumsum(m) - m, m)
        frac = k / m[rep] if ties == "efron" else np.zeros(rep.size)
        xbar = (S1[rep] - frac[:, None] * d1[rep]) / (S0[rep] - frac * d0[rep])[:, None]
        mean = np.zeros((u.size, p))
        np.add.at(mean, rep, xbar)
        mean /= m[:, None]
        res[idx[ev]] = Xs[ev] - mean[inv]
    return res


def _design(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Numeric design matrix: numeric columns as they are, others one-hot (first level dropped)."""
    missing = [c for c in covariates if c not in data.columns]
    if missing:
        raise DataError(f"covariate column(s) not found: {', '.join(missing)}", column=missing[0])
    parts = []
    for c in covariates:
        col = data[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            parts.append(col.astype(float).rename(c))
        else:
            # observed levels only (an unused category would give an all-zero column); first = reference
            cat = col.astype("category") if not isinstance(col.dtype, pd.CategoricalDtype) else col
            cat = cat.cat.remove_unused_categories()
            dummies = pd.get_dummies(cat, prefix=c, drop_first=True, dtype=float)
            parts.append(dummies)
    X = pd.concat(parts, axis=1)
    return X, list(X.columns)



def cox_ph(
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: Sequence[str],
    strata: str | None = None,
    ties: str = "efron",
    alpha: float = 0.05,
) -> CoxPH:
    """Fit a Cox model: ``CoxPH(ties, alpha).fit(data, duration_col, event_col, covariates, strata)``."""
    return CoxPH(ties=ties, alpha=alpha).fit(data, duration_col, event_col, covariates=covariates, strata=strata)
