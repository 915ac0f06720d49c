"""Benchmark of the CLV model fits on simulated data (100k and 1M customers).

Run from the repository root::

    .venv/bin/python benchmarks/bench_clv.py [--sizes 100000 1000000] [--lifetimes-python PATH]

Data: :func:`clm_utils.synth.simulate_bgnbd` with the FHL (2005) CDNOW parameters, Gamma-Gamma
spend, and realistic continuous ages: first purchases spread over a year and T, recency
measured in whole days and expressed in weeks (days / 7), as real summaries are.  So the
(frequency, recency, T) rows do not collapse to a handful; the compression ratio is printed.

For every model the script prints the fit time (wall clock, best of ``--repeat``) and the peak
Python memory of one fit (``tracemalloc``, measured in a separate run so it does not slow the
timing).

lifetimes comparison: lifetimes is not a project dependency and breaks on pandas 3, so it runs
in a separate interpreter (``--lifetimes-python``, default ``/tmp/bench-venv/bin/python`` when it
exists, a venv with ``lifetimes==0.11.3`` and ``pandas<3``).  The same frequency/recency/T arrays
are passed through a ``.npz`` file and ``BetaGeoFitter().fit(frequency, recency, T)`` -- its
default, uncompressed fit -- is timed in that subprocess, in the same run (best of
``--lifetimes-repeat``).  Its peak memory is
the subprocess's maximum resident set size (a different measure from tracemalloc: it includes
the interpreter).  When no such interpreter is available the comparison is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clm_utils import clv  # noqa: E402
from clm_utils.clv._base import compress_rows  # noqa: E402
from clm_utils.synth import simulate_bgnbd  # noqa: E402

PARAMS = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
SPEND = {"p": 6.25, "q": 3.74, "gamma": 15.44}

LIFETIMES_SCRIPT = r"""
import json, sys, time, resource
import numpy as np
from lifetimes import BetaGeoFitter
d = np.load(sys.argv[1])
times = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    m = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    times.append(time.perf_counter() - t)
print(json.dumps({"seconds": min(times), "all": times, "params": {k: float(v) for k, v in m.params_.items()},
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_data(n: int, seed: int) -> pd.DataFrame:
    """Simulated summary in weeks with day-granular T and recency (continuous-looking values)."""
    rng = np.random.default_rng(seed + 1)
    T_days = rng.integers(30, 396, size=n)  # first purchases spread over a year, 30..395 days ago
    s = simulate_bgnbd(n, T=T_days / 7.0, seed=seed, **PARAMS, **SPEND)
    rec_days = np.floor(s["recency"].to_numpy() * 7.0)
    rec_days = np.where(s["frequency"].to_numpy() > 0, np.maximum(rec_days, 1), 0)
    return pd.DataFrame(
        {"frequency": s["frequency"].to_numpy(), "recency": rec_days / 7.0, "T": T_days / 7.0,
         "monetary_value": s["monetary_value"].to_numpy()},
        index=s.index,
    )


def time_fit(factory, data: pd.DataFrame, repeat: int) -> tuple[float, object]:
    best = np.inf
    model = None
    for _ in range(repeat):
        t = time.perf_counter()
        model = factory().fit(data)
        best = min(best, time.perf_counter() - t)
    return best, model


def peak_mb(factory, data: pd.DataFrame) -> float:
    tracemalloc.start()
    factory().fit(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def run_lifetimes(python: str, data: pd.DataFrame, timeout: int, repeat: int = 2) -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        np.savez(path, frequency=data["frequency"].to_numpy(float), recency=data["recency"].to_numpy(float),
                 T=data["T"].to_numpy(float))
        script = os.path.join(tmp, "lt.py")
        Path(script).write_text(LIFETIMES_SCRIPT)
        try:
            res = subprocess.run([python, script, path, str(repeat)], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout} s"}
        if res.returncode != 0:
            return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "failed"}
        return json.loads(res.stdout.strip().splitlines()[-1])


def lifetimes_python(arg: str | None) -> str | None:
    cands = [arg] if arg else ["/tmp/bench-venv/bin/python", sys.executable]
    for c in cands:
        if c and Path(c).exists():
            ok = subprocess.run([c, "-c", "import lifetimes"], capture_output=True).returncode == 0
            if ok:
                return c
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats (best of)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--lifetimes-python", default=None)
    ap.add_argument("--no-lifetimes", action="store_true")
    ap.add_argument("--lifetimes-timeout", type=int, default=1800)
    ap.add_argument("--lifetimes-repeat", type=int, default=2, help="lifetimes timing repeats (best of)")
    args = ap.parse_args()

    lt_py = None if args.no_lifetimes else lifetimes_python(args.lifetimes_python)
    print(f"lifetimes comparison: {'using ' + lt_py if lt_py else 'skipped (lifetimes not importable)'}")
    models = {
        "BG/NBD": clv.BetaGeo,
        "MBG/NBD": clv.ModifiedBetaGeo,
        "Pareto/NBD": clv.ParetoNBD,
        "Gamma-Gamma": clv.GammaGamma,
    }
    rows = []
    for n in args.sizes:
        t = time.perf_counter()
        data = make_data(n, args.seed)
        t_sim = time.perf_counter() - t
        t = time.perf_counter()
        _, w, _ = compress_rows([data["frequency"].to_numpy(), data["recency"].to_numpy(), data["T"].to_numpy()])
        t_comp = time.perf_counter() - t
        print(f"\n== {n:,} customers (simulated in {t_sim:.1f} s): {w.size:,} unique (frequency, recency, T) rows, "
              f"compression ratio {n / w.size:.1f}x (compression itself {t_comp * 1000:.0f} ms)")
        for name, factory in models.items():
            sec, model = time_fit(factory, data, args.repeat)
            mem = peak_mb(factory, data)
            ps = ", ".join(f"{k}={v:.4f}" for k, v in model.params_.items())
            print(f"{name:12s} fit {sec:7.2f} s  peak {mem:7.1f} MB  ({ps})")
            rows.append({"n": n, "model": name, "seconds": sec, "peak_mb": mem})
        if lt_py:
            lt = run_lifetimes(lt_py, data, args.lifetimes_timeout, args.lifetimes_repeat)
            ours = next(r["seconds"] for r in rows if r["n"] == n and r["model"] == "BG/NBD")
            if lt is None or "error" in lt:
                print(f"lifetimes BetaGeoFitter: failed ({lt})")
            else:
                ps = ", ".join(f"{k}={v:.4f}" for k, v in lt["params"].items())
                print(f"lifetimes BetaGeoFitter (default, uncompressed) fit {lt['seconds']:7.2f} s (best of "
                      f"{len(lt['all'])}: {', '.join(f'{v:.1f}' for v in lt['all'])})  "
                      f"max RSS {lt['maxrss_mb']:7.1f} MB  ({ps})")
                print(f"-> BG/NBD speed-up vs lifetimes at {n:,}: {lt['seconds'] / ours:.1f}x")
                rows.append({"n": n, "model": "lifetimes BetaGeoFitter", "seconds": lt["seconds"],
                             "peak_mb": lt["maxrss_mb"]})
    print("\n" + pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
