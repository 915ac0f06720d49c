"""Seeded simulators with known parameters, for tests and benchmarks.

* :func:`simulate_bgnbd`: customer summaries drawn from the BG/NBD purchase process (Fader,
  Hardie & Lee 2005), optionally with Gamma-Gamma spend (Fader, Hardie & Lee 2005b / Colombo &
  Jiang 1999).
* :func:`simulate_paretonbd`: customer summaries drawn from the Pareto/NBD process (Schmittlein,
  Morrison & Colombo 1987), optionally with Gamma-Gamma spend.
* :func:`simulate_transactions`: the same process written out as a dated transaction log, so
  that the whole pipeline (loading, summary, models) can be tested end to end.

The BG/NBD process for one customer: purchase rate ``lambda ~ Gamma(r, rate=alpha)``; dropout
probability ``p ~ Beta(a, b)``; repeat purchases arrive as a Poisson process with rate
``lambda`` from the first purchase at time 0; after each *repeat* purchase the customer drops
out with probability ``p``.  So the number of repeat purchases before dropping out is
``J ~ Geometric(p)`` on 1, 2, ...  Given ``N ~ Poisson(lambda T)`` arrivals in ``(0, T]``,
the arrival times are ``N`` sorted uniforms, and the customer's ``k``-th arrival is the
``k``-th order statistic, ``T * Beta(k, N - k + 1)``; this makes the simulation exact and
vectorised.

The Pareto/NBD process for one customer: ``lambda ~ Gamma(r, rate=alpha)``, ``mu ~ Gamma(s,
rate=beta)``, lifetime ``tau ~ Exponential(mu)`` from the first purchase; while alive the customer
buys as a Poisson process with rate ``lambda``.  Over the observed active time ``u = min(tau, T)``
the count is ``x ~ Poisson(lambda u)`` and the last of ``x`` uniform arrival times on ``(0, u]`` is
``u * Beta(x, 1)``: again exact and vectorised.

Gamma-Gamma spend: ``nu ~ Gamma(q, rate=gamma)`` per customer; each transaction's value is
``Gamma(p, rate=nu)``, so the mean of ``x`` values is ``Gamma(p x, rate=nu) / x``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.errors import ParameterError


def _check_positive(**values: float | None) -> None:
    for name, value in values.items():
        if value is not None and not (np.isfinite(value) and value > 0):
            raise ParameterError(f"must be a positive number, got {value!r}", parameter=name)


def _ages(n: int, T: float | np.ndarray | tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    if isinstance(T, tuple):
        lo, hi = T
        return rng.uniform(lo, hi, size=n)
    ages = np.broadcast_to(np.asarray(T, dtype="float64"), (n,)).copy()
    if (ages <= 0).any():
        raise ParameterError("every T must be positive", parameter="T")
    return ages


def _draw_bgnbd(n: int, r: float, alpha: float, a: float, b: float, ages: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    n_arrivals = rng.poisson(lam * ages)
    dropout_after = rng.geometric(np.clip(p, 1e-12, 1.0))  # J >= 1
    x = np.minimum(n_arrivals, dropout_after)
    tx = np.zeros(n)
    has = x > 0
    # the x-th of N uniform arrival times on (0, T] is T * Beta(x, N - x + 1)
    tx[has] = ages[has] * rng.beta(x[has], n_arrivals[has] - x[has] + 1)
    # alive at T unless the dropout purchase (the J-th) happened in (0, T]
    return x, tx, lam, p, n_arrivals < dropout_after


def simulate_bgnbd(
    n_customers: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | np.ndarray | tuple[float, float] = 39.0,
    seed: int = config.DEFAULT_SEED,
    p: float | None = None,
    q: float | None = None,
    gamma: float | None = None,
) -> pd.DataFrame:
    """Draw customer summaries from the BG/NBD process (and Gamma-Gamma spend).

    Parameters
    ----------
    n_customers
        Number of customers.
    r, alpha, a, b
        BG/NBD parameters (purchase rate ``Gamma(r, alpha)``, dropout ``Beta(a, b)``), per time unit.
    T
        Each customer's observation length (time since the first purchase): a number, an array
        of length ``n_customers``, or a ``(low, high)`` tuple to draw uniformly (continuous T,
        as in real data where first purchases are spread out).
    seed
        Seed of the random generator; the same seed gives the same frame.
    p, q, gamma
        Gamma-Gamma spend parameters; when all three are given a ``monetary_value`` column is
        added (mean spend of the repeat purchases, 0 when there are none).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (``c000001`` ...): ``frequency``, ``recency``, ``T``
        [, ``monetary_value``], plus the true latent ``lambda_``, ``p_``, ``alive_`` (still alive at
        ``T``) (and ``nu_``).
    """
    if int(n_customers) < 1:
        raise ParameterError("must be at least 1", parameter="n_customers")
    _check_positive(r=r, alpha=alpha, a=a, b=b, p=p, q=q, gamma=gamma)
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    ages = _ages(n, T, rng)
    x, tx, lam, pdrop, alive = _draw_bgnbd(n, r, alpha, a, b, ages, rng)
    width = max(6, len(str(n)))
    out = pd.DataFrame(
        {"frequency": x.astype("int64"), "recency": tx, "T": ages, "lambda_": lam, "p_": pdrop, "alive_": alive},
        index=pd.Index([f"c{i:0{width}d}" for i in range(1, n + 1)], name=config.CUSTOMER_ID),
    )
    _add_spend(out, x, p, q, gamma, rng)
    return out


def _add_spend(out: pd.DataFrame, x: np.ndarray, p: float | None, q: float | None, gamma: float | None,
               rng: np.random.Generator) -> None:
    if p is None or q is None or gamma is None:
        return
    n = x.size
    nu = rng.gamma(shape=q, scale=1.0 / gamma, size=n)
    spend = np.zeros(n)
    has = x > 0
    spend[has] = rng.gamma(shape=p * x[has], scale=1.0 / nu[has]) / x[has]
    out["monetary_value"] = spend
    out["nu_"] = nu


def simulate_paretonbd(
    n_customers: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T: float | np.ndarray | tuple[float, float] = 39.0,
    seed: int = config.DEFAULT_SEED,
    p: float | None = None,
    q: float | None = None,
    gamma: float | None = None,
) -> pd.DataFrame:
    """Draw customer summaries from the Pareto/NBD process (and Gamma-Gamma spend).

    Parameters
    ----------
    n_customers
        Number of customers.
    r, alpha, s, beta
        Pareto/NBD parameters (purchase rate ``Gamma(r, alpha)``, dropout rate ``Gamma(s, beta)``),
        per time unit.
    T
        Each customer's observation length, as in :func:`simulate_bgnbd`.
    seed
        Seed of the random generator; the same seed gives the same frame.
    p, q, gamma
        Gamma-Gamma spend parameters; when all three are given a ``monetary_value`` column is
        added (mean spend of the repeat purchases, 0 when there are none).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (``c000001`` ...): ``frequency``, ``recency``, ``T``
        [, ``monetary_value``], plus the true latent ``lambda_``, ``mu_``, the lifetime ``tau_``
        and ``alive_`` (``tau_ > T``) (and ``nu_``).
    """
    if int(n_customers) < 1:
        raise ParameterError("must be at least 1", parameter="n_customers")
    _check_positive(r=r, alpha=alpha, s=s, beta=beta, p=p, q=q, gamma=gamma)
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    ages = _ages(n, T, rng)
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    mu = rng.gamma(shape=s, scale=1.0 / beta, size=n)
    tau = rng.exponential(size=n) / mu
    active = np.minimum(tau, ages)
    x = rng.poisson(lam * active)
    tx = np.zeros(n)
    has = x > 0
    tx[has] = active[has] * rng.beta(x[has], 1.0)
    width = max(6, len(str(n)))
    out = pd.DataFrame(
        {"frequency": x.astype("int64"), "recency": tx, "T": ages, "lambda_": lam, "mu_": mu, "tau_": tau,
         "alive_": tau > ages},
        index=pd.Index([f"c{i:0{width}d}" for i in range(1, n + 1)], name=config.CUSTOMER_ID),
    )
    _add_spend(out, x, p, q, gamma, rng)
    return out


def simulate_transactions(
    n_customers: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float = 6.0,
    q: float = 4.0,
    gamma: float = 15.0,
    start: str = "2024-01-01",
    acquisition_days: int = 90,
    observation_end: str = "2025-06-30",
    time_unit: str = "W",
    seed: int = config.DEFAULT_SEED,
) -> pd.DataFrame:
    """Simulate a dated transaction log from BG/NBD + Gamma-Gamma with known parameters.

    Customers make their first purchase uniformly within ``acquisition_days`` of ``start``;
    repeat purchases follow the BG/NBD process (rates per ``time_unit``) up to
    ``observation_end``.  Purchase times are rounded down to the day, and only the first
    purchase of a day is kept, so that the log has exactly one transaction per purchase day.

    Returns
    -------
    DataFrame
        Canonical transactions: ``customer_id``, ``date``, ``amount``, sorted by customer and date.
    """
    _check_positive(r=r, alpha=alpha, a=a, b=b, p=p, q=q, gamma=gamma)
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    unit = config.unit_days(time_unit)
    t0 = pd.Timestamp(start)
    end = pd.Timestamp(observation_end)
    first_offset = rng.integers(0, max(1, acquisition_days), size=n)
    ages_days = (end - t0).days - first_offset
    if (ages_days <= 0).any():
        raise ParameterError("must be after the acquisition window", parameter="observation_end")
    ages = ages_days / unit
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    pdrop = rng.beta(a, b, size=n)
    n_arrivals = rng.poisson(lam * ages)
    dropout_after = rng.geometric(np.clip(pdrop, 1e-12, 1.0))
    x = np.minimum(n_arrivals, dropout_after)
    # all arrival times: N uniforms per customer, sorted; keep the first x of them
    owner = np.repeat(np.arange(n), n_arrivals)
    times = rng.uniform(0.0, 1.0, size=owner.size) * ages[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    rank = np.arange(owner.size) - np.repeat(np.r_[0, np.cumsum(n_arrivals)[:-1]], n_arrivals)
    keep = rank < x[owner]
    owner, times = owner[keep], times[keep]
    nu = rng.gamma(shape=q, scale=1.0 / gamma, size=n)
    ids = np.r_[np.arange(n), owner]
    offset_days = np.r_[np.zeros(n), np.floor(times * unit)].astype("int64") + first_offset[ids]
    spend = rng.gamma(shape=p, scale=1.0 / nu[ids])
    width = max(6, len(str(n)))
    frame = pd.DataFrame({
        config.CUSTOMER_ID: pd.Series([f"c{i + 1:0{width}d}" for i in ids], dtype="str"),
        config.DATE: t0 + pd.to_timedelta(offset_days, unit="D"),
        config.AMOUNT: np.round(spend, 2),
    })
    frame = frame.drop_duplicates([config.CUSTOMER_ID, config.DATE], keep="first")
    frame = frame[frame[config.DATE] <= end]
    return frame.sort_values([config.CUSTOMER_ID, config.DATE], kind="mergesort").reset_index(drop=True)
