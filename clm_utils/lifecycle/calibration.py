"""How much a claim verdict weighs: false-positive rate with no lifecycle, power with one.

:func:`claim_calibration` simulates many transaction logs, runs the whole procedure on each
(:func:`~clm_utils.lifecycle.lifecycle_curves` then
:func:`~clm_utils.lifecycle.evaluate_lifecycle_claims`) and counts how often each claim comes out
"supported".  Scenarios (:func:`simulate_lifecycle_transactions`):

``no_lifecycle``
    The null of every claim.  Constant purchase rates per customer (gamma heterogeneity across
    customers), staggered acquisition over the first 120 days, a constant dropout hazard (no age
    pattern), i.i.d. gamma spend per purchase around a gamma-distributed customer mean (the
    Gamma-Gamma set-up).  No age effect anywhere.
``volume_hump``
    The null of claims 2-4: the purchase rate follows the theory's hump (rise, plateau, fall) but
    spend per purchase does not depend on age, so profit is proportional to volume in
    expectation: profit cannot grow faster, peak later or fall more slowly than volume.  The
    ages are then chosen on a real peak, which is where selection bias would bite.
``theory``
    Data that follow the theory: the rate rises through formation, peaks early and declines;
    spend per purchase keeps rising into late stability, so profit grows faster than volume in
    formation, peaks later and falls more slowly.  Power of every claim.

Each claim's null false-positive rate is the largest "supported" rate over the scenarios in which
its null holds (claim 1: ``no_lifecycle``; claims 2-4: ``no_lifecycle`` and ``volume_hump``),
with a Clopper-Pearson interval (the Monte Carlo margin).  The numbers describe the settings
simulated here (400 customers, two years); a larger data set has more power.  The committed
tables (:func:`calibration_table`, one per curve basis: ``retained`` and ``acquired``) were made
with ``python -m clm_utils.lifecycle.calibration``; ``tests/test_lifecycle_claims.py``
recomputes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clm_utils.errors import ParameterError
from clm_utils.lifecycle.claims import CLAIMS, evaluate_lifecycle_claims
from clm_utils.lifecycle.curves import (
    LifecycleCurves,
    lifecycle_curves,
    profit_definition,
)

SCENARIOS: tuple[str, ...] = ("no_lifecycle", "volume_hump", "theory")
NULL_SCENARIOS: dict[str, tuple[str, ...]] = {
    CLAIMS[0]: ("no_lifecycle",),
    CLAIMS[1]: ("no_lifecycle", "volume_hump"),
    CLAIMS[2]: ("no_lifecycle", "volume_hump"),
    CLAIMS[3]: ("no_lifecycle", "volume_hump"),
}
_MONTH = 365.25 / 12.0
# relative purchase rate and spend per purchase by relationship age (months), piecewise linear
_HUMP = ((0.0, 4.0, 7.0, 15.0, 30.0), (0.25, 1.0, 0.9, 0.3, 0.3))
_SPEND = ((0.0, 4.0, 12.0, 30.0), (0.3, 0.8, 2.0, 2.0))


def simulate_lifecycle_transactions(
    scenario: str,
    n_customers: int = 400,
    seed: int = 0,
    rate_per_month: float = 4.0,
    horizon_days: int = 720,
    acquisition_days: int = 120,
    mean_lifetime_days: float = 600.0,
    start: str = "2020-01-01",
) -> pd.DataFrame:
    """Simulate a transaction log for one calibration scenario (see the module docstring).

    Vectorised: repeat purchases are a Poisson process at ``rate_i x max(h)`` thinned with
    probability ``h(age) / max(h)``; the first purchase is on the acquisition day; several
    purchases on one day are one purchase day (the suite's unit of volume) with one amount.

    Returns
    -------
    DataFrame with ``customer_id`` (``c0000`` ...), ``date``, ``amount``; ``.attrs["as_of"]``.
    """
    if scenario not in SCENARIOS:
        raise ParameterError(f"unknown scenario {scenario!r}", parameter="scenario", hint=f"use one of {SCENARIOS}")
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    t0 = rng.integers(0, acquisition_days, size=n)
    lam = rng.gamma(3.0, rate_per_month / _MONTH / 3.0, size=n)  # purchases per day, CV 0.58
    life = rng.exponential(mean_lifetime_days, size=n)
    L = np.minimum(life, horizon_days - t0)
    mu = rng.gamma(4.0, 40.0 / 4.0, size=n)  # customer mean spend
    k = rng.poisson(lam * L)
    cust = np.repeat(np.arange(n), k)
    age = rng.uniform(0.0, 1.0, size=cust.size) * L[cust]
    if scenario != "no_lifecycle":
        keep = rng.uniform(size=age.size) < np.interp(age / _MONTH, *_HUMP)
        cust, age = cust[keep], age[keep]
    cust = np.concatenate([np.arange(n), cust])
    age = np.concatenate([np.zeros(n), age])
    # the unit of volume is the purchase day: keep one purchase per customer and day, so that
    # spend per purchase day (not per purchase) is what is independent of age under the nulls
    _, first_of_day = np.unique(cust.astype(np.int64) * (horizon_days + 1) + np.floor(age).astype(np.int64),
                                return_index=True)
    cust, age = cust[first_of_day], age[first_of_day]
    s = np.interp(age / _MONTH, *_SPEND) if scenario == "theory" else np.ones(age.size)
    amount = rng.gamma(5.0, mu[cust] * s / 5.0)
    day = t0[cust] + np.floor(age).astype(int)
    start_ts = pd.Timestamp(start)
    tx = pd.DataFrame({
        "customer_id": np.char.add("c", np.char.zfill(cust.astype(str), 4)),
        "date": start_ts + pd.to_timedelta(day, unit="D"),
        "amount": np.round(amount, 2),
    }).sort_values(["customer_id", "date"], ignore_index=True)
    tx.attrs["as_of"] = start_ts + pd.Timedelta(days=horizon_days - 1)
    return tx


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def claim_calibration(
    n_sims: int = 200,
    seed: int = 0,
    n_customers: int = 400,
    n_boot: int = 100,
    basis: str = "retained",
    scenarios: tuple[str, ...] = SCENARIOS,
) -> pd.DataFrame:
    """Per claim: the share of simulated data sets in which it is "supported", null and theory.

    Parameters
    ----------
    n_sims
        Data sets per scenario.
    seed
        Seeds the data sets (data set i of a scenario uses ``seed * 100003 + i``).
    n_customers, n_boot, basis
        Customers per data set, bootstrap replicates of the claim test, curve basis.

    Returns
    -------
    DataFrame indexed by ``claim`` with ``null_fp_rate`` (largest "supported" rate over the
    claim's null scenarios), ``null_scenario`` (where it was reached), ``null_fp_ci_lower`` /
    ``null_fp_ci_upper`` (Clopper-Pearson 95%: the Monte Carlo margin), ``power`` ("supported"
    rate on the ``theory`` scenario), ``power_ci_lower`` / ``power_ci_upper`` and ``n_sims``.
    ``.attrs["by_scenario"]``: the long table (claim, scenario, supported / not supported /
    inconclusive rates); ``.attrs["settings"]``: the arguments.
    """
    if n_sims < 1:
        raise ParameterError("n_sims must be >= 1", parameter="n_sims")
    counts = {(c, s): {"supported": 0, "not supported": 0, "inconclusive": 0} for c in CLAIMS for s in scenarios}
    for s_i, scen in enumerate(scenarios):
        for i in range(n_sims):
            tx = simulate_lifecycle_transactions(scen, n_customers=n_customers, seed=seed * 100003 + i + 7919 * s_i)
            curves = lifecycle_curves(tx, tx.attrs["as_of"], basis=basis, n_boot=20, seed=i)
            claims = evaluate_lifecycle_claims(curves, n_boot=n_boot, seed=i)
            for c, v in claims["verdict"].items():
                counts[(str(c), scen)][str(v)] += 1
    long = pd.DataFrame([{"claim": c, "scenario": s, **{k: v / n_sims for k, v in d.items()}}
                         for (c, s), d in counts.items()])
    rows = []
    for c in CLAIMS:
        nulls = [s for s in NULL_SCENARIOS[c] if s in scenarios]
        row: dict[str, object] = {"claim": c}
        if nulls:
            worst = max(nulls, key=lambda s: counts[(c, s)]["supported"])
            k = counts[(c, worst)]["supported"]
            lo, hi = _clopper_pearson(k, n_sims)
            row.update(null_fp_rate=k / n_sims, null_scenario=worst, null_fp_ci_lower=lo, null_fp_ci_upper=hi)
        if "theory" in scenarios:
            k = counts[(c, "theory")]["supported"]
            lo, hi = _clopper_pearson(k, n_sims)
            row.update(power=k / n_sims, power_ci_lower=lo, power_ci_upper=hi)
        row["n_sims"] = n_sims
        rows.append(row)
    out = pd.DataFrame(rows).set_index("claim")
    out.attrs["by_scenario"] = long
    out.attrs["settings"] = {"n_sims": n_sims, "seed": seed, "n_customers": n_customers, "n_boot": n_boot,
                             "basis": basis}
    return out


def calibration_table(basis: str = "retained") -> pd.DataFrame:
    """The committed calibration of one curve basis (see the module docstring): per claim null FP rate and power.

    ``basis``: ``"retained"`` or ``"acquired"`` (the basis of :func:`lifecycle_curves` the
    simulated data sets were analysed on).  ``.attrs["settings"]``: the arguments of
    :func:`claim_calibration` that made it.
    """
    from clm_utils.lifecycle import _calibration_table as t

    if basis not in t.TABLES:
        raise ParameterError(f"no committed calibration for basis {basis!r}", parameter="basis",
                             hint=f"use one of {tuple(t.TABLES)}")
    entry: dict[str, Any] = t.TABLES[basis]
    out = pd.DataFrame(entry["rows"]).set_index("claim")
    out.attrs["settings"] = dict(entry["settings"])
    return out


def claims_with_calibration(claims: pd.DataFrame, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The claim verdicts with each claim's null false-positive rate and power (for reports).

    Returns ``claims``' ``estimate``, ``ci_lower``, ``ci_upper``, ``verdict`` joined with
    ``null_fp_rate``, ``null_fp_ci_upper``, ``power``, ``power_ci_lower``, ``power_ci_upper``
    (from ``table``, default :func:`calibration_table`).  ``.attrs`` keeps the claims' ``basis``.
    """
    table = calibration_table() if table is None else table
    cols = ["null_fp_rate", "null_fp_ci_upper", "power", "power_ci_lower", "power_ci_upper"]
    out = claims[["estimate", "ci_lower", "ci_upper", "verdict"]].join(table[cols])
    out.attrs.update(claims.attrs)
    out.attrs["calibration"] = dict(table.attrs.get("settings", {}))
    return out


def claims_by_basis(
    curves: Mapping[str, LifecycleCurves],
    formation_ages: int = 3,
    seed: int | None = None,
    n_boot: int | None = None,
) -> pd.DataFrame:
    """The four claims tested on each basis's curves, each verdict with its calibration (for reports).

    Parameters
    ----------
    curves
        basis -> :class:`LifecycleCurves` (e.g. :func:`lifecycle_curves_by_basis`); each curve
        object's ``basis`` picks its committed calibration (:func:`calibration_table`).
    formation_ages, seed, n_boot
        As in :func:`evaluate_lifecycle_claims`.

    Returns
    -------
    DataFrame indexed by (``basis``, ``claim``) with the columns of
    :func:`claims_with_calibration` plus ``selection`` (the ages chosen on the selection half)
    and ``test``.  ``.attrs``: ``basis`` (what profit means, one sentence; the curves must share
    it), ``method`` (how the claims were tested) and ``calibration`` (basis -> the calibration's
    settings).
    """
    if not curves:
        raise ParameterError("no curves given", parameter="curves", hint="pass {basis: LifecycleCurves}")
    parts, methods, settings = [], {}, {}
    profit = {c.profit_definition for c in curves.values()}
    if len(profit) > 1:
        raise ParameterError("the curves define profit differently: " + "; ".join(sorted(profit)),
                             parameter="curves", hint="build every basis with the same margin and costs")
    for name, c in curves.items():
        claims = evaluate_lifecycle_claims(c, formation_ages=formation_ages, seed=seed, n_boot=n_boot)
        table = calibration_table(c.basis)
        joined = claims_with_calibration(claims, table).join(claims[["selection", "test"]])
        parts.append(joined)
        methods[name] = claims.attrs["method"]
        settings[name] = dict(table.attrs["settings"])
    out = pd.concat(parts, keys=list(curves), names=["basis", "claim"])
    out.attrs["basis"] = profit.pop()
    out.attrs["note"] = f"What profit means here: {out.attrs['basis']}" + (
        "; so claims 2-4 compare revenue with volume." if out.attrs["basis"] == profit_definition() else ".")
    unique = list(dict.fromkeys(methods.values()))
    out.attrs["method"] = unique[0] if len(unique) == 1 else "; ".join(f"{k}: {v}" for k, v in methods.items())
    out.attrs["calibration"] = settings
    return out


def _write_table(path: str, n_sims: int = 200, seed: int = 0,
                 bases: tuple[str, ...] = ("retained", "acquired")) -> dict[str, pd.DataFrame]:
    cols = ["null_fp_rate", "null_scenario", "null_fp_ci_lower", "null_fp_ci_upper", "power", "power_ci_lower",
            "power_ci_upper", "n_sims"]
    lines = ['"""Committed claim calibration (written by `python -m clm_utils.lifecycle.calibration`)."""', "",
             "TABLES = {"]
    out = {}
    for basis in bases:
        cal = claim_calibration(n_sims=n_sims, seed=seed, basis=basis)
        out[basis] = cal
        rows = [{"claim": c, **{k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in r[cols].items()}}
                for c, r in cal.iterrows()]
        lines += [f"    {basis!r}: {{", f"        'settings': {cal.attrs['settings']!r},", "        'rows': ["]
        lines += [f"            {r!r}," for r in rows]
        lines += ["        ],", "    },"]
    lines += ["}", ""]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return out


if __name__ == "__main__":  # pragma: no cover - regenerates the committed table
    import pathlib

    target = pathlib.Path(__file__).with_name("_calibration_table.py")
    for name, table in _write_table(str(target)).items():
        print(name)
        print(table.round(3).to_string())
