"""Harrell's concordance index (C) of a risk score, O(n log n).

Validated in ``tests/test_survival_cox.py`` against brute force and R's ``coxph`` concordance on ``lung``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clm_utils.errors import DataError, ModelError
from clm_utils.survival._common import clean_survival_input

__all__ = ["concordance_index"]


def concordance_index(durations: Any, risk: Any, events: Any = None) -> float:
    """Harrell's C for a risk score (higher risk = shorter expected survival).

    A pair (i, j) is comparable when i has an event and j survives longer (T_j > T_i, or
    T_j == T_i with j censored, as in R's ``survival::concordance``).  It is concordant when
    risk_i > risk_j; ties in risk count one half.  O(n log n): subjects are swept from the
    longest time down while a Fenwick tree over risk ranks counts the risks of those "later";
    each sweep step handles a block of equal times with vectorised tree operations.
    """
    t, e = clean_survival_input(durations, events)
    r = np.asarray(risk, dtype=float).ravel()
    if r.shape != t.shape or not np.all(np.isfinite(r)):
        raise DataError("risk must be finite and as long as durations")
    ranks = np.unique(r, return_inverse=True)[1] + 1  # 1..m
    m = int(ranks.max())
    tree = np.zeros(m + 1, dtype=np.int64)

    def query(idx: np.ndarray) -> np.ndarray:  # count of inserted with rank <= idx
        out = np.zeros(idx.size, dtype=np.int64)
        idx = idx.copy()
        while np.any(idx > 0):
            live = idx > 0
            out[live] += tree[idx[live]]
            idx[live] -= idx[live] & (-idx[live])
        return out

    def insert(idx: np.ndarray) -> None:
        idx = idx.copy()
        while idx.size:
            np.add.at(tree, idx, 1)
            idx = idx + (idx & (-idx))
            idx = idx[idx <= m]

    order = np.argsort(-t, kind="stable")
    ts, es, rs = t[order], e[order], ranks[order]
    bounds = np.flatnonzero(np.diff(ts)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [ts.size]])
    concordant = 0.0
    comparable = 0.0
    inserted = 0
    for s, f in zip(starts, ends):
        blk_e = es[s:f]
        blk_r = rs[s:f]
        # censored at the same time count as "later" than deaths at that time
        cens_r = blk_r[blk_e == 0]
        ev_r = blk_r[blk_e == 1]
        if ev_r.size:
            below = query(ev_r - 1)
            upto = query(ev_r)
            n_later = inserted + cens_r.size
            same_time_c_below = (
                np.searchsorted(np.sort(cens_r), ev_r, side="left") if cens_r.size else np.zeros(ev_r.size, int)
            )
            same_time_c_equal = (
                np.searchsorted(np.sort(cens_r), ev_r, side="right") - same_time_c_below
                if cens_r.size
                else np.zeros(ev_r.size, int)
            )
            conc = below + same_time_c_below
            ties = (upto - below) + same_time_c_equal
            concordant += float(np.sum(conc) + 0.5 * np.sum(ties))
            comparable += float(n_later * ev_r.size)
        insert(blk_r)
        inserted += blk_r.size
    if comparable == 0:
        raise ModelError("no comparable pairs: concordance is undefined", hint="need at least one event before a later time")
    return concordant / comparable
