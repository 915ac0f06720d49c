"""`clm run` end to end on large inputs: a 1M-row and a 10M-row Parquet folder.

Run from the repository root::

    .venv/bin/python benchmarks/bench_run_scale.py [--sizes 1M,10M] [--baseline-size 1M] [--no-baseline]

Data: a BG/NBD + Gamma-Gamma log from :func:`clm_utils.synth.simulate_transactions` (purchase
rate r = 0.6, alpha = 9 per week; dropout a = 0.8, b = 2.5; first purchases spread over two
years, observed to their end), simulated in chunks of 500,000 customers with their own seeds and
id prefixes, about 3 rows per customer (10M rows: ~3.4M customers).  The rows are sorted by date
and written as 13 Parquet files (``part-00.parquet`` ...), so a customer is spread over the files
as in a time-ordered export; ``customer_id`` is text (``k03c0004711``).  Cached under
``data/interim/bench/run_<size>/`` (git-ignored).

Each run is ``clm run --data <folder>`` in a CHILD process with a fresh analysis cache, so its
figures are those a user sees:

* ``wall s``: wall time of the whole command (analysis stage, seven notebooks, HTML, scorecard);
* ``peak GB``: the largest resident set of the run's processes (``getrusage(RUSAGE_CHILDREN)``:
  the run itself or one notebook kernel);
* the per-step times from the run's ``run.json`` (the analysis stage's steps, then each notebook).

Baseline, measured in the same invocation on the same data (``--baseline-size``, default 1M):
the same ``clm run`` with the large-base sampling switched off (``CLM_SAMPLE_ABOVE=0``): every
per-customer statistic (bootstraps, Cox models, log-rank, stage validity, lifecycle curves,
cluster choice, scatter plots) is then computed on the whole base, as before this benchmark's
change.  The ratio shows what the sampling buys; results differ only within the stated sampling
error.  Goals (2-core machine): 10M rows <= 600 s; 1M rows <= 120 s at <= 3 GB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "data" / "interim" / "bench"
N_FILES = 13
CHUNK = 500_000
ROWS_PER_CUSTOMER = 2.9
SIM = {"r": 0.6, "alpha": 9.0, "a": 0.8, "b": 2.5, "start": "2022-01-01", "acquisition_days": 720,
       "observation_end": "2023-12-31"}


def parse_size(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 10**3, "M": 10**6}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "KM" else text) * mult)


def size_name(n: int) -> str:
    return f"{n // 10**6}M" if n % 10**6 == 0 else f"{n // 10**3}K"


def generate(n_rows: int, seed: int = 11) -> Path:
    """The cached folder of about ``n_rows`` rows (13 Parquet files sorted by date)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clm_utils.synth import simulate_transactions

    folder = CACHE / f"run_{size_name(n_rows)}"
    if (folder / "_meta.json").exists():
        return folder
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    n_customers = int(n_rows / ROWS_PER_CUSTOMER)
    parts = []
    for i, first in enumerate(range(0, n_customers, CHUNK)):
        n = min(CHUNK, n_customers - first)
        tx = simulate_transactions(n, seed=seed + i, **SIM)  # type: ignore[arg-type]
        tx["customer_id"] = f"k{i:02d}" + tx["customer_id"]
        parts.append(tx)
    frame = pd.concat(parts, ignore_index=True)
    del parts
    frame = frame.iloc[:n_rows].sort_values("date", kind="stable").reset_index(drop=True)
    bounds = np.linspace(0, len(frame), N_FILES + 1).astype(np.int64)
    for i in range(N_FILES):
        part = frame.iloc[bounds[i]:bounds[i + 1]]
        table = pa.table({"customer_id": pa.array(part["customer_id"].to_numpy(dtype=object), type=pa.string()),
                          "date": pa.array(part["date"].dt.date.to_numpy(), type=pa.date32()),
                          "amount": pa.array(part["amount"].to_numpy())})
        pq.write_table(table, tmp / f"part-{i:02d}.parquet", row_group_size=1_000_000)
    meta = {"rows": int(len(frame)), "customers": int(frame["customer_id"].nunique()),
            "seconds": round(time.perf_counter() - t0, 1), "seed": seed, "simulation": SIM}
    (tmp / "_meta.json").write_text(json.dumps(meta))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def clm_run(data: Path, out: Path, label: str, env_extra: dict[str, str]) -> dict[str, object]:
    """``clm run`` on ``data`` in a child process: wall time, peak memory, per-step timings."""
    env = dict(os.environ, CLM_CACHE_DIR=str(out / "cache"), PYTHONHASHSEED="0", **env_extra)
    cmd = [sys.executable, "-m", "clm_utils.cli", "run", "--data", str(data), "--output", str(out),
           "--run-name", label]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    tick = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - tick
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"{label}: clm run failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}")
    meta = json.loads((out / label / "run.json").read_text(encoding="utf-8"))
    steps = dict(meta.get("timings") or {})
    manifest = out / label / "analysis" / "analysis.json"
    if manifest.exists():
        steps = {**{f"analysis: {k}": v for k, v in json.loads(manifest.read_text())["timings"].items()}, **steps}
    incomplete = {r["notebook"]: r["incomplete"] for r in meta.get("reports", []) if r.get("incomplete")}
    # ru_maxrss of children is the largest single child seen so far: only new maxima are attributable
    return {"wall": wall, "peak": max(peak, before) / 2**20, "peak_new": peak > before, "steps": steps,
            "reports": len(meta.get("reports", [])), "incomplete": incomplete}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1M,10M")
    ap.add_argument("--baseline-size", default="1M", help="size of the run repeated without sampling")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2-core machine shared with other jobs)")
    results = []
    with tempfile.TemporaryDirectory(prefix="clm_run_scale_") as tmp:
        for n in sizes:
            tick = time.perf_counter()
            folder = generate(n)
            meta = json.loads((folder / "_meta.json").read_text())
            print(f"{size_name(n)}: {meta['rows']:,} rows, {meta['customers']:,} customers "
                  f"({time.perf_counter() - tick:.0f} s to generate or find)")
            runs = [("sampled", {})]
            if not args.no_baseline and n == parse_size(args.baseline_size):
                runs.append(("baseline: no sampling", {"CLM_SAMPLE_ABOVE": "0"}))
            for name, env in runs:
                label = f"{size_name(n)}_{'base' if env else 'run'}"
                res = clm_run(folder, Path(tmp) / label, label, env)
                results.append((size_name(n), name, res))
                print(f"  {name:24s} wall {res['wall']:7.1f} s   peak {res['peak']:5.2f} GB"
                      f"{'' if res['peak_new'] else ' (<= an earlier run)'}   load {os.getloadavg()[0]:.1f}")
                print(f"      reports complete: {res['reports'] - len(res['incomplete'])} of {res['reports']}")
                for nb, why in res["incomplete"].items():
                    print(f"      {nb}: incomplete: {why}")
                for step, sec in res["steps"].items():
                    print(f"      {step:45s} {float(sec):7.1f} s")
                sys.stdout.flush()
    print("\nsize  run                        wall s   peak GB")
    for size, name, res in results:
        print(f"{size:5s} {name:24s} {res['wall']:8.1f} {res['peak']:8.2f}")


if __name__ == "__main__":
    main()
