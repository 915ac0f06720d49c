"""Seeded customer samples for the heavy per-customer statistics of a large base.

Labels (segment, stage, cluster, ...) are always given to every customer.  What does not need
every customer -- a bootstrap interval, a Cox model, a log-rank test, the choice of k, a scatter
plot -- runs on a seeded random sample of customers when the base is larger than
:data:`SAMPLE_ABOVE` customers.  Every function that samples says so in its output (an attrs
``note`` or a returned note) with the sample size and the seed, so the reader knows the
statistic carries sampling error on top of its own.

The threshold is set once for a process by the environment variable ``CLM_SAMPLE_ABOVE``
(a number of customers; ``0`` turns sampling off: every statistic on every customer, as a
baseline or when time does not matter).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from clm_utils.errors import ParameterError

#: Above this many customers the heavy per-customer statistics run on a seeded sample of this many.
#: 200,000 customers keep a proportion's standard error below 0.12 percentage points and a run on
#: 10M transactions within minutes on two cores; CDNOW (23,570) and bases up to this size are never sampled.
SAMPLE_ABOVE = 200_000


def sample_limit(limit: int | None = None) -> int | None:
    """The sample size in force: ``limit`` when given, else ``CLM_SAMPLE_ABOVE``, else :data:`SAMPLE_ABOVE`.

    Returns None when sampling is off (``0``).
    """
    if limit is None:
        text = os.environ.get("CLM_SAMPLE_ABOVE", "").strip()
        if text:
            try:
                limit = int(float(text))
            except ValueError:
                raise ParameterError(f"CLM_SAMPLE_ABOVE={text!r} is not a number of customers",
                                     parameter="CLM_SAMPLE_ABOVE", hint="set it to e.g. 200000, or 0 for no sampling") from None
        else:
            limit = SAMPLE_ABOVE
    if limit < 0:
        raise ParameterError("a sample size cannot be negative", parameter="sample_above", hint="use 0 for no sampling")
    return None if limit == 0 else int(limit)


def sample_positions(n: int, *, limit: int | None = None, seed: int = 0,
                     strata: Sequence[object] | np.ndarray | pd.Series | None = None,
                     minimum: int = 1) -> np.ndarray | None:
    """Sorted positions of a seeded sample of ``n`` customers, or None when no sample is needed.

    Parameters
    ----------
    n
        Number of customers.
    limit
        Sample size (see :func:`sample_limit`); no sample when ``n <= limit``.
    seed
        Seed of the draw.
    strata
        Optional label per customer: the sample is then stratified with proportional allocation
        (each stratum gets ``round(limit * share)`` customers, at least ``minimum`` -- all of a
        smaller stratum), so small groups keep their share.
    minimum
        Least customers per stratum (default 1); raise it when each stratum's own statistic needs
        enough customers (the sample then exceeds ``limit`` by up to ``minimum`` per stratum).

    Returns
    -------
    Sorted int64 positions, or None.
    """
    size = sample_limit(limit)
    if size is None or n <= size:
        return None
    rng = np.random.default_rng(seed)
    if strata is None:
        return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)
    codes, _ = pd.factorize(pd.Series(np.asarray(strata)), use_na_sentinel=False)
    counts = np.bincount(codes)
    take = np.minimum(np.maximum(np.rint(size * counts / n).astype(np.int64), max(int(minimum), 1)), counts)
    order = np.argsort(codes, kind="stable")
    bounds = np.r_[0, np.cumsum(counts)]
    picked = [order[bounds[k] + rng.choice(counts[k], size=take[k], replace=False)] for k in range(len(counts))
              if take[k]]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def sample_note(n_sample: int, n_total: int, seed: int, what: str = "", stratified_by: str | None = None) -> str:
    """The sentence a sampled statistic carries: what was sampled, how many of how many, the seed."""
    how = f"stratified by {stratified_by}" if stratified_by else "simple random"
    head = f"{what}: " if what else ""
    return (f"{head}computed on a seeded {how} sample of {n_sample:,} of {n_total:,} customers (seed {seed}; "
            f"bases above {n_sample:,} customers are sampled, CLM_SAMPLE_ABOVE); every customer keeps their own labels")


def sample_customers(frame: pd.DataFrame, *, limit: int | None = None, seed: int = 0,
                     strata: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """A seeded sample of the rows of a per-customer frame, and its note (None when not sampled)."""
    pos = sample_positions(len(frame), limit=limit, seed=seed,
                           strata=None if strata is None else frame[strata].astype(str).to_numpy())
    if pos is None:
        return frame, None
    return frame.iloc[pos], sample_note(len(pos), len(frame), seed, stratified_by=strata)


def sample_transactions(transactions: pd.DataFrame, *, limit: int | None = None, seed: int = 0,
                        customer_col: str = "customer_id") -> tuple[pd.DataFrame, str | None]:
    """All transactions of a seeded sample of customers, and its note (None when not sampled)."""
    ids = transactions[customer_col]
    codes, uniques = pd.factorize(ids, sort=True)
    pos = sample_positions(len(uniques), limit=limit, seed=seed)
    if pos is None:
        return transactions, None
    keep = np.zeros(len(uniques), dtype=bool)
    keep[pos] = True
    return transactions[keep[codes]], sample_note(len(pos), len(uniques), seed)


__all__ = ["SAMPLE_ABOVE", "sample_customers", "sample_limit", "sample_note", "sample_positions",
           "sample_transactions"]
