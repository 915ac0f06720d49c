"""Factor analysis for factor-then-cluster: suitability (KMO, Bartlett), factor count, varimax factors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from clm_utils import config
from clm_utils.cluster.features import (
    FEATURE_WORDS,
    FEATURE_ZH,
    RISK_FEATURES,
    VALUE_FEATURES,
)
from clm_utils.errors import ModelError, ParameterError

__all__ = ["FactorResult", "bartlett_sphericity", "factor_analysis", "kmo", "loadings_table", "n_factors_kaiser", "parallel_analysis", "partial_correlations", "select_indicators", "varimax"]


def _corr(data: pd.DataFrame | np.ndarray) -> np.ndarray:
    A = np.asarray(data, dtype=float)
    if A.ndim != 2 or A.shape[1] < 2:
        raise ParameterError("need a 2-D table with at least 2 variables", parameter="data")
    return np.corrcoef(A, rowvar=False)


def partial_correlations(data: pd.DataFrame | np.ndarray, is_corr: bool = False) -> np.ndarray:
    """Partial correlation of every pair of variables given all the others.

    ``P_ij = -(R^-1)_ij / sqrt((R^-1)_ii (R^-1)_jj)`` for i != j, 1 on the diagonal.  (The
    anti-image correlation matrix of psych::KMO is the same up to the sign of the off-diagonal.)
    """
    R = np.asarray(data, dtype=float) if is_corr else _corr(data)
    if not np.all(np.isfinite(R)):
        raise ModelError("the correlation matrix has missing values (a constant variable?)",
                         hint="drop variables that do not vary")
    try:
        inv = np.linalg.inv(R)
    except np.linalg.LinAlgError:
        raise ModelError("the correlation matrix is singular (some variables are exact combinations of others)",
                         hint="drop redundant variables") from None
    d = np.sqrt(np.diag(inv))
    P = -inv / np.outer(d, d)
    np.fill_diagonal(P, 1.0)
    return P


def kmo(data: pd.DataFrame | np.ndarray, is_corr: bool = False) -> tuple[float, pd.Series]:
    """Kaiser-Meyer-Olkin measure of sampling adequacy (Kaiser & Rice 1974; as psych::KMO, SPSS).

    With ``r_ij`` the correlations and ``q_ij`` the partial correlations
    (:func:`partial_correlations`): ``KMO = sum r_ij^2 / (sum r_ij^2 + sum q_ij^2)`` over the
    off-diagonal pairs, and per variable the same sums restricted to row ``i`` (MSA_i).
    Kaiser's labels: >= .9 marvellous, .8 meritorious, .7 middling, .6 mediocre, .5 miserable,
    below .5 unacceptable.

    Parameters
    ----------
    data
        Observations x variables, or a correlation matrix with ``is_corr=True``.

    Returns
    -------
    (overall, per_variable)
    """
    R = np.asarray(data, dtype=float) if is_corr else _corr(data)
    names = list(data.columns) if isinstance(data, pd.DataFrame) else [f"x{i + 1}" for i in range(R.shape[0])]
    Q = partial_correlations(R, is_corr=True)
    off = ~np.eye(R.shape[0], dtype=bool)
    r2 = np.where(off, R ** 2, 0.0)
    q2 = np.where(off, Q ** 2, 0.0)
    overall = float(r2.sum() / (r2.sum() + q2.sum()))
    per = r2.sum(axis=1) / (r2.sum(axis=1) + q2.sum(axis=1))
    return overall, pd.Series(per, index=names, name="MSA")


def bartlett_sphericity(data: pd.DataFrame | np.ndarray, n: int | None = None, is_corr: bool = False) -> dict[str, float]:
    """Bartlett's (1951) test that the correlation matrix is the identity.

    ``chi2 = -(n - 1 - (2p + 5) / 6) ln |R|`` with ``df = p (p - 1) / 2``.

    Returns
    -------
    dict
        ``chi2``, ``df``, ``p_value``.
    """
    if is_corr:
        if n is None:
            raise ParameterError("n (number of observations) is needed with a correlation matrix", parameter="n")
        R = np.asarray(data, dtype=float)
    else:
        R = _corr(data)
        n = len(np.asarray(data))
    p = R.shape[0]
    sign, logdet = np.linalg.slogdet(R)
    if sign <= 0:
        raise ModelError("the correlation matrix is singular or not positive definite",
                         hint="drop redundant variables")
    chi2 = -(n - 1 - (2 * p + 5) / 6.0) * logdet
    df = p * (p - 1) / 2.0
    return {"chi2": float(chi2), "df": float(df), "p_value": float(stats.chi2.sf(chi2, df))}


def n_factors_kaiser(data: pd.DataFrame | np.ndarray) -> int:
    """Kaiser's rule: the number of correlation-matrix eigenvalues greater than 1 (at least 1)."""
    ev = np.linalg.eigvalsh(_corr(data))
    return max(1, int((ev > 1.0).sum()))


def parallel_analysis(data: pd.DataFrame | np.ndarray, n_iter: int = 20, quantile: float = 0.95,
                      seed: int = config.DEFAULT_SEED, max_rows: int = 5000) -> tuple[int, pd.DataFrame]:
    """Horn's parallel analysis: keep factors whose eigenvalue beats the ``quantile`` of
    eigenvalues of uncorrelated normal data of the same shape (rows capped at ``max_rows``)."""
    A = np.asarray(data, dtype=float)
    n, p = min(len(A), max_rows), A.shape[1]
    obs = np.sort(np.linalg.eigvalsh(_corr(A)))[::-1]
    rng = np.random.default_rng(seed)
    sims = np.array([np.sort(np.linalg.eigvalsh(np.corrcoef(rng.standard_normal((n, p)), rowvar=False)))[::-1]
                     for _ in range(n_iter)])
    ref = np.quantile(sims, quantile, axis=0)
    keep = obs > ref
    k = int(np.argmin(keep)) if not keep.all() else p
    table = pd.DataFrame({"observed": obs, "random_q": ref}, index=pd.RangeIndex(1, p + 1, name="factor"))
    return max(1, k), table


@dataclass
class FactorResult:
    """Varimax factor analysis of standardised indicators."""

    loadings: pd.DataFrame
    scores: pd.DataFrame
    names: pd.Series
    kinds: pd.Series
    variance_share: pd.Series
    eigenvalues: pd.Series


def varimax(loadings: np.ndarray, tol: float = 1e-8, max_iter: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Kaiser's varimax rotation (with Kaiser row normalisation), the standard SVD algorithm.

    Returns
    -------
    (rotated loadings, rotation matrix)
        ``rotated = loadings @ rotation``; the rotation is orthogonal, so communalities (row sums
        of squared loadings) are unchanged.
    """
    L = np.asarray(loadings, dtype=float)
    p, k = L.shape
    if k < 2:
        return L.copy(), np.eye(k)
    h = np.sqrt((L ** 2).sum(axis=1))
    h[h == 0] = 1.0
    A = L / h[:, None]
    Rot = np.eye(k)
    crit = 0.0
    for _ in range(max_iter):
        B = A @ Rot
        u, sv, vt = np.linalg.svd(A.T @ (B ** 3 - B @ np.diag((B ** 2).sum(axis=0)) / p))
        Rot = u @ vt
        new = sv.sum()
        if new < crit * (1 + tol):
            break
        crit = new
    return (A @ Rot) * h[:, None], Rot


def factor_analysis(X: pd.DataFrame, n_factors: int | None = None, seed: int = config.DEFAULT_SEED,
                    rule: str = "kaiser") -> FactorResult:
    """Principal-component factor extraction with varimax rotation (the SPSS default used in the
    factor-then-cluster literature), on standardised indicators.

    Loadings are ``eigenvector * sqrt(eigenvalue)`` of the correlation matrix for the retained
    factors, rotated by :func:`varimax`; factor scores by the regression method
    (``X R^-1 L``).  Deterministic (no iterative random start).

    Parameters
    ----------
    X
        Standardised indicators (:func:`prepare_features`), >= 8 columns recommended.
    n_factors
        Number of factors; ``None`` = by ``rule``.
    rule
        ``"kaiser"`` (eigenvalues > 1, default) or ``"parallel"`` (Horn's parallel analysis,
        seeded with ``seed``).

    Each factor is labelled a *value* or *risk* factor by which group of indicators
    (:data:`VALUE_FEATURES` or :data:`RISK_FEATURES`) holds more of its squared loadings, or
    *other* when the two groups hold less than 30% of them together (e.g. a tenure factor);
    oriented so that a higher score means more value / more risk (otherwise its largest loading
    is positive), and named after its two strongest indicators in words (:data:`FEATURE_WORDS`, e.g. a
    factor loading negatively on ``frequency`` and ``active_share`` is "one-off, faded").
    """
    if X.shape[1] < 3:
        raise ModelError(f"factor analysis needs at least 3 indicators, and only {X.shape[1]} vary independently "
                         "on these data", hint="read the behavioural clusters instead; with more varied customers "
                                               "more indicators survive the screen")
    R = _corr(X)
    if not np.all(np.isfinite(R)):
        raise ModelError("an indicator does not vary, so correlations are undefined", hint="drop constant indicators")
    evals, evecs = np.linalg.eigh(R)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    ev = pd.Series(evals, index=range(1, X.shape[1] + 1), name="eigenvalue")
    if n_factors is None:
        if rule == "kaiser":
            n_factors = n_factors_kaiser(X)
        elif rule == "parallel":
            n_factors = parallel_analysis(X, seed=seed)[0]
        else:
            raise ParameterError(f"unknown rule {rule!r}", parameter="rule", hint="use 'kaiser' or 'parallel'")
    n_factors = int(min(max(1, n_factors), X.shape[1] - 1))
    L0 = evecs[:, :n_factors] * np.sqrt(np.maximum(evals[:n_factors], 0.0))
    L, _ = varimax(L0)
    sign = np.sign(L[np.argmax(np.abs(L), axis=0), np.arange(L.shape[1])])
    sign[sign == 0] = 1
    L = L * sign
    ss = (L ** 2).sum(axis=0)
    order = np.argsort(-ss, kind="stable")
    L, ss = L[:, order], ss[order]
    Z = np.asarray(X, dtype=float)
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    S = Z @ np.linalg.solve(R, L)
    cols = [f"F{i + 1}" for i in range(n_factors)]
    loadings = pd.DataFrame(L, index=X.columns, columns=cols)
    names, kinds = {}, {}
    S = pd.DataFrame(S, index=X.index, columns=cols)
    for c in cols:
        col = loadings[c]
        v = float((col[[f for f in col.index if f in VALUE_FEATURES]] ** 2).sum())
        r = float((col[[f for f in col.index if f in RISK_FEATURES]] ** 2).sum())
        total = float((col ** 2).sum())
        kind = "other" if v + r < 0.3 * total else ("value" if v >= r else "risk")
        # orient value factors so value indicators load positively, risk factors so risk
        # indicators load positively (higher score = more value / more risk)
        group = VALUE_FEATURES if kind == "value" else RISK_FEATURES if kind == "risk" else ()
        ref = float(col[[f for f in col.index if f in group]].sum()) if group else 0.0
        if ref < 0:
            loadings[c] = -col
            S[c] = -S[c]
        kinds[c] = kind
        top = loadings[c].abs().sort_values(ascending=False).index[:2]
        words = []
        for t in top:
            hi, lo = FEATURE_WORDS.get(str(t), (f"high {t}", f"low {t}"))
            words.append(hi if loadings.loc[t, c] > 0 else lo)
        names[c] = ", ".join(words)
    return FactorResult(
        loadings=loadings,
        scores=S,
        names=pd.Series(names, name="name"),
        kinds=pd.Series(kinds, name="kind"),
        variance_share=pd.Series(ss / X.shape[1], index=cols, name="variance_share"),
        eigenvalues=ev,
    )


def loadings_table(fr: FactorResult, highlight: float = 0.4) -> pd.DataFrame:
    """Loadings rounded, with the factor names and kinds as a header row block."""
    t = fr.loadings.copy()
    t.columns = [f"{c} ({fr.kinds[c]}): {fr.names[c]}" for c in t.columns]
    t.index = [f"{i} {FEATURE_ZH.get(str(i), '')}".strip() for i in t.index]
    return t


def select_indicators(data: pd.DataFrame, min_msa: float = 0.5, min_kept: int = 3) -> list[str]:
    """Indicators fit for factor analysis: those whose individual KMO (MSA) is at least ``min_msa``.

    Kaiser's rule of thumb: an indicator with MSA below 0.5 shares too little variance with the
    others to load on a common factor.  When fewer than ``min_kept`` indicators pass, all are kept
    (the caller then reports the weak overall KMO rather than analysing a trivial set).
    """
    _, msa = kmo(data)
    keep = [str(c) for c in data.columns if msa[c] >= min_msa]
    return keep if len(keep) >= min_kept else [str(c) for c in data.columns]


def drop_redundant_indicators(data: pd.DataFrame, max_abs_r: float = 0.98, min_eigenvalue: float = 1e-3,
                              min_kept: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop constant and collinear indicators so that the correlation matrix can be inverted.

    KMO, Bartlett's test and factor scores need the inverse (or log-determinant) of the
    correlation matrix; an indicator that does not vary, duplicates another or is a linear
    combination of others makes it singular.  The suite chooses the indicators, so it removes
    them itself, one at a time, and says why:

    1. **constant**: an indicator with zero (or non-finite) standard deviation;
    2. **collinear pair**: while some pair has ``|r| > max_abs_r``, drop the indicator in the
       most such pairs; ties go to the one with the largest ``|r|``, then to the later column (the
       earlier one, e.g. a core RFM feature, is kept);
    3. **near-linear combination**: while the smallest eigenvalue of the correlation matrix is
       below ``min_eigenvalue`` (a multiple correlation above about ``sqrt(1 - min_eigenvalue)``
       for some indicator), drop the indicator with the largest weight in that eigenvector (the
       one the dependency leans on most; ties go to the later column).

    Parameters
    ----------
    data
        Observations x indicators (e.g. :class:`PreparedFeatures` ``X``).
    max_abs_r, min_eigenvalue
        Thresholds of rules 2 and 3.
    min_kept
        Fewer usable indicators than this is a :class:`ModelError`.

    Returns
    -------
    (kept, dropped)
        ``kept``: ``data`` without the dropped columns (order kept); ``dropped``: one row per
        dropped indicator in the order of dropping, with ``indicator``, ``reason``
        (``constant`` / ``collinear pair`` / ``near-linear combination``) and ``detail``.
    """
    rows: list[dict[str, str]] = []
    cols = [str(c) for c in data.columns]
    A = data.to_numpy(dtype=float)
    sd = A.std(axis=0)
    for c, s in zip(cols, sd, strict=True):
        if not np.isfinite(s) or s == 0:
            rows.append({"indicator": c, "reason": "constant", "detail": "the same value for every customer"})
    kept = [c for c, s in zip(cols, sd, strict=True) if np.isfinite(s) and s > 0]
    pos = {c: i for i, c in enumerate(cols)}
    while len(kept) >= 2:
        R = np.corrcoef(A[:, [pos[c] for c in kept]], rowvar=False)
        off = np.abs(R - np.eye(len(kept)))
        high = off > max_abs_r
        if high.any():
            n_pairs = high.sum(axis=1)
            worst = off.max(axis=1)
            i = max(range(len(kept)), key=lambda j: (n_pairs[j], worst[j], j))
            partners = [kept[j] for j in np.flatnonzero(high[i])]
            detail = "; ".join(f"|r| = {off[i, pos_j]:.3f} with {kept[pos_j]}"
                               for pos_j in np.flatnonzero(high[i]))
            rows.append({"indicator": kept[i], "reason": "collinear pair",
                         "detail": detail if partners else ""})
            kept.pop(i)
            continue
        evals, evecs = np.linalg.eigh(R)
        if evals[0] < min_eigenvalue:
            v = np.abs(evecs[:, 0])
            i = max(range(len(kept)), key=lambda j: (round(float(v[j]), 12), j))
            involved = [kept[j] for j in np.argsort(-v, kind="stable") if v[j] >= 0.1]
            rows.append({"indicator": kept[i], "reason": "near-linear combination",
                         "detail": f"smallest eigenvalue {evals[0]:.2g}; dependency among {', '.join(involved)}"})
            kept.pop(i)
            continue
        break
    if len(kept) < min_kept:
        raise ModelError(f"only {len(kept)} usable indicator(s) remain after dropping constant and collinear ones "
                         f"({', '.join(r['indicator'] for r in rows)}); factor analysis needs at least {min_kept}",
                         hint="the customers hardly differ in their purchase behaviour; use more data or more features")
    dropped = pd.DataFrame(rows, columns=["indicator", "reason", "detail"])
    return data[[c for c in data.columns if str(c) in kept]], dropped


@dataclass
class IndicatorScreen:
    """Which indicators go into factor analysis, and why the others do not.

    Attributes
    ----------
    kept
        Indicators passed to factor analysis, in their original order.
    dropped
        One row per left-out indicator: ``indicator``, ``reason`` (``constant``,
        ``collinear pair``, ``near-linear combination`` or ``low MSA``), ``detail``.
    tests
        KMO and Bartlett's test before the MSA screen (on the non-redundant indicators) and after:
        rows ``non-redundant indicators`` and ``kept indicators``; columns ``indicators``, ``KMO``,
        ``bartlett_chi2``, ``df``, ``p_value``.
    msa
        Individual MSA of each non-redundant indicator.
    """

    kept: list[str]
    dropped: pd.DataFrame
    tests: pd.DataFrame
    msa: pd.Series


def screen_indicators(data: pd.DataFrame, min_msa: float = 0.5, max_abs_r: float = 0.98,
                      min_eigenvalue: float = 1e-3, min_kept: int = 3) -> IndicatorScreen:
    """Redundancy screen (:func:`drop_redundant_indicators`), then the MSA screen (:func:`select_indicators`).

    Returns the kept indicators, one table of everything dropped with the reason, and the KMO /
    Bartlett results before and after the MSA screen.
    """
    clean, dropped = drop_redundant_indicators(data, max_abs_r=max_abs_r, min_eigenvalue=min_eigenvalue)
    _, msa = kmo(clean)
    keep = select_indicators(clean, min_msa=min_msa, min_kept=min_kept)
    low = [{"indicator": str(c), "reason": "low MSA", "detail": f"MSA {msa[c]:.2f} < {min_msa:g}"}
           for c in clean.columns if str(c) not in keep]
    dropped = pd.concat([dropped, pd.DataFrame(low, columns=["indicator", "reason", "detail"])], ignore_index=True)
    rows = []
    for label, frame in (("non-redundant indicators", clean), ("kept indicators", clean[keep])):
        k = kmo(frame)[0] if frame.shape[1] >= 2 else float("nan")
        b = bartlett_sphericity(frame)
        rows.append({"set": label, "indicators": frame.shape[1], "KMO": k, "bartlett_chi2": b["chi2"],
                     "df": b["df"], "p_value": b["p_value"]})
    tests = pd.DataFrame(rows).set_index("set")
    return IndicatorScreen(kept=keep, dropped=dropped, tests=tests, msa=msa.rename("MSA"))
