"""Speed and memory of the data layer: loading a CSV and building the BTYD customer summary.

Baseline, measured in the same run on the same data: the straightforward per-customer
implementation (``groupby(...).apply`` with a Python function per customer), which is what the
vectorised :func:`clm_utils.summary.summarize` replaces.  Prints times, peak memory and ratios.

    python benchmarks/bench_summary.py [--customers 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from clm_utils.data import load_transactions
from clm_utils.summary import summarize
from clm_utils.synth import simulate_transactions


def naive_summary(tx: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Per-customer Python loop: the baseline (same definitions as summarize)."""

    def one(group: pd.DataFrame) -> pd.Series:
        days = group.groupby("date")["amount"].sum()
        first, last = days.index.min(), days.index.max()
        freq = len(days) - 1
        return pd.Series({
            "frequency": freq,
            "recency": (last - first).days / 7,
            "T": (end - first).days / 7,
            "monetary_value": days.iloc[1:].mean() if freq else 0.0,
        })

    return tx.groupby("customer_id").apply(one, include_groups=False)


def measure(fn, *args):
    """Time one call (no tracing), then peak Python memory in a second, traced call."""
    tick = time.perf_counter()
    out = fn(*args)
    seconds = time.perf_counter() - tick
    tracemalloc.start()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--baseline-customers", type=int, default=5_000,
                        help="the naive baseline is run on a subset this size and scaled linearly")
    args = parser.parse_args()
    tx = simulate_transactions(args.customers, r=0.243, alpha=4.414, a=0.793, b=2.426, seed=1)
    end = tx["date"].max()
    print(f"data: {args.customers:,} customers, {len(tx):,} transactions")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tx.csv"
        tx.assign(date=tx["date"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
        loaded, t_load, m_load = measure(load_transactions, path)
    print(f"load_transactions (CSV, validate, clean): {t_load:6.2f} s, peak {m_load:7.1f} MiB, "
          f"{len(loaded) / t_load:,.0f} rows/s")
    fast, t_fast, m_fast = measure(summarize, loaded, end, "W")
    print(f"summarize (vectorised):                   {t_fast:6.2f} s, peak {m_fast:7.1f} MiB")
    ids = fast.index[: args.baseline_customers]
    subset = loaded[loaded["customer_id"].isin(ids)]
    slow, t_slow, m_slow = measure(naive_summary, subset, end)
    scale = len(fast) / len(ids)
    fast_sub, t_fast_sub, _ = measure(summarize, subset, end, "W")
    pd.testing.assert_frame_equal(fast_sub[["frequency", "recency", "T", "monetary_value"]], slow,
                                  check_dtype=False)
    print(f"baseline per-customer apply on {len(ids):,} customers: {t_slow:6.2f} s "
          f"(scaled to all: {t_slow * scale:6.1f} s), peak {m_slow:7.1f} MiB")
    print(f"ratio on the same {len(ids):,} customers: summarize is {t_slow / t_fast_sub:,.0f}x faster "
          f"than the baseline (results identical)")


if __name__ == "__main__":
    main()
