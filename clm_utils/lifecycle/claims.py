"""Tests of the four aggregate lifecycle claims (docs/theory.md section 3) on :class:`LifecycleCurves`.

Why sample splitting
--------------------
Every claim needs ages chosen from the data (the volume peak, the profit peak), and a statistic
evaluated at the chosen ages.  Choosing the ages by argmax and testing on the same data is biased:
at an argmax the curve is high by construction, so "the curve rises to the peak and falls after it"
is true of pure noise, and a growth *from* the peak is biased downwards.  Bootstrapping the
statistic at fixed ages ignores the choice; bootstrapping the whole procedure does not remove the
bias either (the replicate argmax is selected in the same way).  The tests here therefore split
the customers at random (seeded) into two halves:

* the **selection half** picks the ages (argmax of its own curves);
* the **test half** estimates the statistic at those ages, with a percentile bootstrap over its
  customers (Poisson weights).  Given the ages, the test half is independent of the choice, so a
  claim's false-positive rate is at most the one-sided level ``alpha / 2`` (2.5 % by default) per
  component; claims with two conditions are intersection-union tests (both must hold), which keeps
  the level.

This costs power (half the customers test) but makes "supported" mean what it says;
:func:`clm_utils.lifecycle.calibration.claim_calibration` measures the false-positive rate on
data with no lifecycle and the power on data that follow the theory.

Verdicts: "supported" (the test half's CI lies above 0), "not supported" (the CI of the
claim's key contrast lies below 0: the data show the opposite), "inconclusive" otherwise.
Growths are relative to the curve's mean level in the test half, so volume (purchase days) and
profit (currency) can be compared.  ``basis`` carries what "profit" means: with margin 1 and no
costs, profit is revenue, and claims 2-4 then compare revenue with volume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clm_utils.errors import ModelError, ParameterError
from clm_utils.lifecycle.curves import LifecycleCurves

CLAIMS: tuple[str, ...] = (
    "1. slow rise, rapid growth, plateau, then fall",
    "2. in formation, profit grows faster than volume",
    "3. volume peaks before profit",
    "4. in decline, profit falls more slowly than volume",
)


def _half_means(X: np.ndarray, M: np.ndarray, rows: np.ndarray) -> np.ndarray:
    num = (X[rows] * M[rows]).sum(axis=0)
    den = M[rows].sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _boot_means(X: np.ndarray, M: np.ndarray, rows: np.ndarray, W: np.ndarray) -> np.ndarray:
    XM = X[rows] * M[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (W @ XM) / (W @ M[rows].astype(float))


def _level(x: np.ndarray) -> np.ndarray:
    """Mean absolute level of a curve (last axis = ages); the scale of relative growths."""
    return np.nanmean(np.abs(x), axis=-1)


def _growth(x: np.ndarray, a0: int, a1: int, level: np.ndarray | float) -> np.ndarray:
    """Change from age a0 to a1 relative to the curve's mean level (sign-safe growth)."""
    return (x[..., a1] - x[..., a0]) / np.abs(level)


def _ci(x: np.ndarray, alpha: float) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    return float(np.quantile(x, alpha / 2)), float(np.quantile(x, 1 - alpha / 2))


def _verdict_from_ci(lo: float, hi: float) -> str:
    if lo > 0:
        return "supported"
    if hi < 0:
        return "not supported"
    return "inconclusive"


def evaluate_lifecycle_claims(
    curves: LifecycleCurves,
    formation_ages: int = 3,
    seed: int | None = None,
    n_boot: int | None = None,
) -> pd.DataFrame:
    """Operational tests of the four lifecycle claims, with selection and test on separate halves.

    Ages are chosen on the selection half, statistics are estimated on the test half (see the
    module docstring).  ``V`` = volume (purchase days per customer and period), ``P`` = profit per
    customer and period, ``g_X(a, b) = (X[b] - X[a]) / mean |X|``.

    1. *Slow rise, rapid growth, plateau, rapid fall*: for volume and for profit, the selection
       half's peak age ``k`` must be interior, and the test half must show both a rise
       ``X[k] - X[0]`` and a fall ``X[k] - X[last]``: statistic ``min(rise, fall) / mean |X|``
       (intersection-union).  A peak at age 0 is tested for ``X[1] < X[0]`` (no rise: "not
       supported" if significant); a peak at the last age for ``X[last] > X[last-1]`` (still
       rising: "not supported").  Supported only if both volume and profit are.
    2. *In formation profit grows faster than volume*: ``g_P(0, v) - g_V(0, v)`` > 0 with ``v`` the
       selection half's volume peak.  Without a rising volume phase (``v = 0``) there is no
       formation phase: reported over ages 0 .. ``formation_ages`` but "inconclusive".
    3. *Volume peaks before profit*: ``v`` as above, ``e`` = the selection half's highest-profit
       age after ``v``.  Supported if in the test half profit is higher at ``e`` than at ``v``
       *and* grows faster than volume from ``v`` to ``e``: ``min((P[e] - P[v]) / mean |P|,
       g_P(v, e) - g_V(v, e)) > 0``.  "Not supported" if profit at ``e`` is significantly below
       profit at ``v`` (profit peaks with or before volume).
    4. *In decline profit falls more slowly than volume*: from ``v`` to the last age (at least 2
       ages), volume must fall and profit must fall less: ``min((V[v] - V[last]) / mean |V|,
       g_P(v, last) - g_V(v, last)) > 0``.  "Not supported" if ``g_P - g_V`` is significantly < 0.

    Parameters
    ----------
    curves
        Output of :func:`clm_utils.lifecycle.lifecycle_curves` (keeps the per-customer matrices).
    formation_ages
        Window of claim 2 when volume has no rising phase (reported, not judged).
    seed, n_boot
        Split and bootstrap seed and replicates (default: those of ``curves``).

    Returns
    -------
    DataFrame indexed by ``claim`` with ``test``, ``statistic``, ``selection`` (ages chosen on the
    selection half), ``estimate`` (test half), ``ci_lower``, ``ci_upper`` (percentile bootstrap,
    level ``1 - curves.alpha``), ``verdict`` and ``basis`` (what profit means, e.g. "profit =
    revenue (no costs given)").  ``.attrs``: ``basis``, ``method``, ``n_selection``, ``n_test``.
    """
    if formation_ages < 1:
        raise ParameterError("formation_ages must be >= 1", parameter="formation_ages")
    pc = curves.per_customer
    if not pc:
        raise ParameterError("these curves carry no per-customer data", parameter="curves",
                             hint="build them with clm_utils.lifecycle.lifecycle_curves")
    V, P, M = pc["volume"], pc["profit"], pc["mask"]
    a = curves.alpha
    n_boot = int(curves.n_boot if n_boot is None else n_boot)
    if n_boot < 20:
        raise ParameterError("n_boot must be at least 20", parameter="n_boot")
    rng = np.random.default_rng(curves.seed if seed is None else seed)
    n = V.shape[0]
    perm = rng.permutation(n)
    sel, tst = np.sort(perm[: n // 2]), np.sort(perm[n // 2:])
    # ages observed in both halves (the curves guarantee min_customers over both together)
    both = (M[sel].sum(axis=0) > 0) & (M[tst].sum(axis=0) > 0)
    A = int(np.argmin(both)) if not both.all() else V.shape[1]
    if A < 2:
        raise ModelError("too few ages observed in both halves for the claim tests",
                         hint="use a shorter period or lower min_customers")
    V, P, M = V[:, :A], P[:, :A], M[:, :A]
    Va, Pa = _half_means(V, M, sel), _half_means(P, M, sel)
    Vt, Pt = _half_means(V, M, tst), _half_means(P, M, tst)
    W = rng.poisson(1.0, size=(n_boot, tst.size)).astype(float)
    Vb, Pb = _boot_means(V, M, tst, W), _boot_means(P, M, tst, W)
    lV, lP = _level(Vt), _level(Pt)
    lVb, lPb = _level(Vb), _level(Pb)
    if lV == 0 or lP == 0:
        raise ModelError("the lifecycle curves are flat at zero", hint="check the data and margin")
    basis = curves.profit_definition
    rows: list[dict[str, object]] = []

    def row(claim: int, test: str, statistic: str, selection: str, est: float, ci: tuple[float, float],
            verdict: str) -> None:
        rows.append({"claim": CLAIMS[claim - 1], "test": test, "statistic": statistic, "selection": selection,
                     "estimate": float(est), "ci_lower": ci[0], "ci_upper": ci[1], "verdict": verdict,
                     "basis": basis})

    # ---- claim 1
    parts = []
    for name, Xa, Xt, Xb, lvl, lvlb in (("volume", Va, Vt, Vb, lV, lVb), ("profit", Pa, Pt, Pb, lP, lPb)):
        pk = int(np.nanargmax(Xa))
        if A < 3:
            parts.append((name, "inconclusive", np.nan, (np.nan, np.nan), f"{name}: fewer than 3 ages"))
        elif 0 < pk < A - 1:
            stat_b = np.minimum(Xb[:, pk] - Xb[:, 0], Xb[:, pk] - Xb[:, -1]) / lvlb
            est = min(Xt[pk] - Xt[0], Xt[pk] - Xt[-1]) / lvl
            lo, hi = _ci(stat_b, a)
            parts.append((name, "supported" if lo > 0 else "inconclusive", est, (lo, hi),
                          f"{name} peaks at age {pk} in the selection half"))
        elif pk == 0:
            lo, hi = _ci(_growth(Xb, 0, 1, lvlb), a)
            parts.append((name, "not supported" if hi < 0 else "inconclusive", _growth(Xt, 0, 1, lvl), (lo, hi),
                          f"{name} is highest at age 0 in the selection half (no rise); tested: X[1] - X[0]"))
        else:
            lo, hi = _ci(_growth(Xb, A - 2, A - 1, lvlb), a)
            parts.append((name, "not supported" if lo > 0 else "inconclusive", _growth(Xt, A - 2, A - 1, lvl),
                          (lo, hi), f"{name} is highest at the last age in the selection half; tested: still rising"))
    verdicts = [p[1] for p in parts]
    v1 = "supported" if all(v == "supported" for v in verdicts) else (
        "not supported" if "not supported" in verdicts else "inconclusive")
    pr = parts[-1]
    row(1, "interior peak with a significant rise before and fall after it, in volume and in profit",
        "profit: min(X[peak] - X[0], X[peak] - X[last]) / mean level (first / last step if the peak is at an end)",
        "; ".join(p[4] for p in parts), pr[2], pr[3], v1)

    # ---- claim 2
    v = int(np.nanargmax(Va))
    a1 = v if v >= 1 else min(formation_ages, A - 1)
    st = _growth(Pb, 0, a1, lPb) - _growth(Vb, 0, a1, lVb)
    est = float(_growth(Pt, 0, a1, lP) - _growth(Vt, 0, a1, lV))
    lo, hi = _ci(st, a)
    win = f"ages 0-{a1} (volume peaks at age {v} in the selection half)" if v >= 1 else (
        f"ages 0-{a1}; volume is highest at age 0 in the selection half: no formation phase, so no verdict")
    row(2, "growth of profit minus growth of volume over the formation window, each relative to its mean level",
        "g(profit) - g(volume)", win, est, (lo, hi), _verdict_from_ci(lo, hi) if v >= 1 else "inconclusive")

    # ---- claim 3
    if v >= A - 1:
        row(3, "volume peaks at the last age: no later profit peak to test", "", f"volume peak at age {v}",
            np.nan, (np.nan, np.nan), "inconclusive")
    else:
        e = v + 1 + int(np.nanargmax(Pa[v + 1:]))
        c1 = _growth(Pb, v, e, lPb)
        c2 = c1 - _growth(Vb, v, e, lVb)
        est = float(min(_growth(Pt, v, e, lP), _growth(Pt, v, e, lP) - _growth(Vt, v, e, lV)))
        lo, hi = _ci(np.minimum(c1, c2), a)
        _, hi1 = _ci(c1, a)
        v3 = "supported" if lo > 0 else ("not supported" if hi1 < 0 else "inconclusive")
        row(3, "profit is higher at the later age e than at the volume peak v, and grows faster than volume "
               "from v to e (both must hold)",
            "min(g(profit; v, e), g(profit; v, e) - g(volume; v, e))",
            f"volume peak v = {v}, highest later profit e = {e} (selection half, profit peak at age "
            f"{int(np.nanargmax(Pa))})", est, (lo, hi), v3)

    # ---- claim 4
    if A - 1 - v < 2:
        row(4, "fewer than 2 ages after the volume peak", "", f"volume peak at age {v}", np.nan, (np.nan, np.nan),
            "inconclusive")
    else:
        c1 = _growth(Vb, A - 1, v, lVb)  # volume falls: V[v] - V[last] > 0
        c2 = _growth(Pb, v, A - 1, lPb) - _growth(Vb, v, A - 1, lVb)
        est = float(min(_growth(Vt, A - 1, v, lV), _growth(Pt, v, A - 1, lP) - _growth(Vt, v, A - 1, lV)))
        lo, hi = _ci(np.minimum(c1, c2), a)
        _, hi2 = _ci(c2, a)
        v4 = "supported" if lo > 0 else ("not supported" if hi2 < 0 else "inconclusive")
        row(4, "from the volume peak to the last age volume falls and profit falls less (both must hold)",
            "min(fall of volume, g(profit) - g(volume)), relative to mean levels",
            f"volume peak at age {v} in the selection half; last age {A - 1}", est, (lo, hi), v4)

    out = pd.DataFrame(rows).set_index("claim")
    out.attrs["basis"] = basis
    out.attrs["method"] = (f"ages chosen on a random half of the customers ({sel.size}), statistics on the other "
                           f"half ({tst.size}) with a {n_boot}-replicate percentile bootstrap; "
                           f"{round(100 * (1 - a))}% intervals"
                           + (f"; curves {curves.note}" if getattr(curves, "note", None) else ""))
    out.attrs["n_selection"] = int(sel.size)
    out.attrs["n_test"] = int(tst.size)
    return out
