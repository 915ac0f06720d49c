"""Satisfaction → loyalty → repurchase (满意度 → 忠诚度 → 再购买): the theory's chain, tested on data.

Given a satisfaction or NPS score per customer (a numeric column of the attribute file), each link is tested with
a stated statistic, and called **supported** only when the test rejects "no association" at level ``alpha``
(two-sided) *and* the effect has the direction the theory predicts:

=====================================  ====================================================================
link                                   statistic
=====================================  ====================================================================
satisfaction → repurchase              repurchase rate (frequency > 0) per level with Wilson intervals;
                                       trend: logistic regression of repurchase on the score (Wald test of the
                                       slope; equivalent in large samples to the Cochran-Armitage trend test)
satisfaction → loyalty (P(alive))      mean P(alive) per level with t intervals; trend: Spearman's rho
satisfaction → churn hazard            Cox model of the churn durations on the score: hazard ratio per point
                                       (supported when < 1)
satisfaction → holdout purchases       mean holdout purchases per level with t intervals; trend: Spearman's rho
=====================================  ====================================================================

Customers without a score are left out and counted.  Scores with more than 11 distinct values are shown in the
per-level table by quintile, the tests always use the score itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from clm_utils.errors import DataError, ModelError, ParameterError

LINKS: tuple[str, ...] = ("repurchase", "p_alive", "churn_hazard", "holdout_purchases")


@dataclass
class SatisfactionChain:
    """Result of :func:`satisfaction_chain`.

    Attributes
    ----------
    by_level
        One row per satisfaction level (or quintile): ``customers``, ``repurchase_rate`` with ``repurchase_lower``
        / ``repurchase_upper``, and where available ``p_alive`` (mean, ``p_alive_lower``/``upper``) and
        ``holdout_purchases`` (mean, ``holdout_lower``/``upper``).
    tests
        One row per link: ``statistic`` (its name), ``estimate`` (slope / rho / hazard ratio per point),
        ``lower``, ``upper`` (95% CI where defined), ``p_value``, ``n``, ``verdict``.
    verdict
        ``supported`` (every tested link supported), ``partly supported``, ``not supported``.
    n_missing
        Customers without a score (left out).
    """

    by_level: pd.DataFrame
    tests: pd.DataFrame
    verdict: str
    n_missing: int

    def describe(self) -> str:
        """One sentence for the report."""
        ok = self.tests.index[self.tests["verdict"] == "supported"].tolist()
        return (f"satisfaction → loyalty → repurchase: {self.verdict} ({len(ok)} of {len(self.tests)} links "
                f"supported at 5%: {', '.join(ok) if ok else 'none'}); {self.n_missing} customers without a score "
                "were left out")


def _wilson(k: np.ndarray, n: np.ndarray, z: float = 1.959963984540054) -> tuple[np.ndarray, np.ndarray]:
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def _mean_ci(values: pd.Series, groups: pd.Series) -> pd.DataFrame:
    g = values.groupby(groups, observed=True)
    mean, sd, n = g.mean(), g.std(ddof=1), g.size()
    half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    return pd.DataFrame({"mean": mean, "lower": mean - half, "upper": mean + half})


def _verdict(p: float, direction_ok: bool, alpha: float) -> str:
    if not np.isfinite(p):
        return "not tested"
    return "supported" if p < alpha and direction_ok else "not supported"


def satisfaction_chain(customers: pd.DataFrame, attributes: pd.DataFrame, column: str,
                       durations: pd.DataFrame | None = None, holdout: pd.Series | None = None,
                       alpha: float = 0.05) -> SatisfactionChain:
    """Test satisfaction → loyalty → repurchase (see the module docstring for the statistics).

    Parameters
    ----------
    customers
        The run's customer table indexed by ``customer_id`` with ``frequency`` (repeat purchases) and optionally
        ``p_alive``.
    attributes
        Attribute table (or the joined customer table) with the score ``column`` (numeric; higher = more
        satisfied; NPS 0-10 or a 1-5 scale).
    column
        The satisfaction / NPS column.
    durations
        Optional churn durations (:func:`clm_utils.survival.churn_durations`: ``duration``, ``event``) for the Cox
        link.
    holdout
        Optional purchases per customer in the holdout period (e.g. ``calibration["frequency_holdout"]``).
    alpha
        Level of the tests.

    Raises
    ------
    ParameterError
        The column is missing or not numeric.
    ModelError
        Fewer than 2 distinct scores or fewer than 20 scored customers.
    """
    if column not in attributes.columns:
        raise ParameterError(f"no column {column!r} in the attribute table", parameter="satisfaction_column")
    if "frequency" not in customers.columns:
        raise DataError("the customer table has no 'frequency' column", column="frequency")
    if not 0 < alpha < 1:
        raise ParameterError("alpha must be between 0 and 1", parameter="alpha")
    ids = customers.index.astype(str)
    attrs = attributes.copy()
    attrs.index = attrs.index.astype(str)
    score = pd.to_numeric(attrs[column].reindex(ids), errors="coerce")
    if attrs[column].notna().any() and pd.to_numeric(attrs[column], errors="coerce").isna().all():
        raise ParameterError(f"the column {column!r} is not numeric", parameter="satisfaction_column",
                             hint="use a numeric score (e.g. 1-5 or NPS 0-10)")
    score.index = ids
    have = score.notna().to_numpy()
    n_missing = int((~have).sum())
    s = score[have].astype(float)
    if s.size < 20 or s.nunique() < 2:
        raise ModelError(f"the satisfaction analysis needs at least 20 scored customers with 2+ distinct scores "
                         f"(found {s.size} with {s.nunique()})", hint="check the satisfaction column")
    cust = customers.copy()
    cust.index = ids
    cust = cust.loc[have]
    repurchase = (cust["frequency"].to_numpy(float) > 0).astype(float)
    levels = s if s.nunique() <= 11 else pd.qcut(s, 5, duplicates="drop").astype(str)
    levels = pd.Series(levels.to_numpy(), index=s.index, name="level")

    by = pd.DataFrame({"customers": levels.groupby(levels, observed=True).size()})
    k = pd.Series(repurchase, index=s.index).groupby(levels, observed=True).sum()
    by["repurchase_rate"] = k / by["customers"]
    lo, hi = _wilson(k.to_numpy(), by["customers"].to_numpy().astype(float))
    by["repurchase_lower"], by["repurchase_upper"] = lo, hi
    rows = []

    # 1. repurchase: logistic regression slope
    import statsmodels.api as sm

    X = sm.add_constant(s.to_numpy())
    try:
        fit = sm.Logit(repurchase, X).fit(disp=0)
        b, se, p = float(fit.params[1]), float(fit.bse[1]), float(fit.pvalues[1])
    except Exception:  # noqa: BLE001 - perfect separation or a constant outcome
        b, se, p = np.nan, np.nan, np.nan
    rows.append({"link": "repurchase", "statistic": "logistic slope (log odds per point)", "estimate": b,
                 "lower": b - 1.96 * se, "upper": b + 1.96 * se, "p_value": p, "n": int(s.size),
                 "verdict": _verdict(p, b > 0, alpha)})

    # 2. P(alive)
    if "p_alive" in cust.columns and cust["p_alive"].notna().sum() >= 20:
        pa = cust["p_alive"].astype(float)
        ci = _mean_ci(pa, levels)
        by["p_alive"], by["p_alive_lower"], by["p_alive_upper"] = ci["mean"], ci["lower"], ci["upper"]
        ok = pa.notna()
        rho, p = stats.spearmanr(s[ok], pa[ok])
        rows.append({"link": "p_alive", "statistic": "Spearman rho", "estimate": float(rho), "lower": np.nan,
                     "upper": np.nan, "p_value": float(p), "n": int(ok.sum()),
                     "verdict": _verdict(float(p), rho > 0, alpha)})

    # 3. churn hazard: Cox
    if durations is not None:
        from clm_utils.survival import CoxPH

        d = durations.copy()
        d.index = d.index.astype(str)
        d = d.reindex(s.index)[["duration", "event"]].assign(satisfaction=s)
        d = d.dropna()
        try:
            cox = CoxPH().fit(d, "duration", "event", covariates=["satisfaction"])
            hr = cox.hazard_ratios().iloc[0]
            est, lo_hr, hi_hr, p = (float(hr["hazard ratio"]), float(hr.iloc[1]), float(hr.iloc[2]), float(hr["p"]))
        except ModelError:
            est = lo_hr = hi_hr = p = np.nan
        rows.append({"link": "churn_hazard", "statistic": "Cox hazard ratio per point", "estimate": est,
                     "lower": lo_hr, "upper": hi_hr, "p_value": p, "n": len(d),
                     "verdict": _verdict(p, est < 1, alpha)})

    # 4. holdout purchases
    if holdout is not None:
        h = holdout.copy()
        h.index = h.index.astype(str)
        h = h.reindex(s.index).astype(float)
        ci = _mean_ci(h, levels)
        by["holdout_purchases"], by["holdout_lower"], by["holdout_upper"] = ci["mean"], ci["lower"], ci["upper"]
        ok = h.notna()
        rho, p = stats.spearmanr(s[ok], h[ok])
        rows.append({"link": "holdout_purchases", "statistic": "Spearman rho", "estimate": float(rho),
                     "lower": np.nan, "upper": np.nan, "p_value": float(p), "n": int(ok.sum()),
                     "verdict": _verdict(float(p), rho > 0, alpha)})

    tests = pd.DataFrame(rows).set_index("link")
    tested = tests["verdict"] != "not tested"
    n_ok = int((tests["verdict"] == "supported").sum())
    verdict = ("supported" if n_ok == int(tested.sum()) and n_ok > 0 else "partly supported" if n_ok
               else "not supported")
    by.index.name = column
    return SatisfactionChain(by_level=by, tests=tests, verdict=verdict, n_missing=n_missing)
