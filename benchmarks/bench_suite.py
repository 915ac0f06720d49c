"""Where the time of `clm run` goes: the shared analysis stage and every notebook, on CDNOW and on 1M rows.

Each run is a child process (`clm run` with a fresh analysis cache), so its wall time and peak memory
(the largest process: the run itself or a notebook kernel) are measured as a user sees them.  The
stage and notebook times come from the run's `run.json`.

Baseline, measured in the same run on the same data: the suite before the shared analysis stage
(commit 917949c: every notebook loads and analyses the data itself, one notebook at a time),
checked out into a temporary git worktree and run with the same interpreter.  Skip it with
`--no-baseline`; it takes minutes on the 1M-row file, so there it runs only with `--baseline-1m`.

    python benchmarks/bench_suite.py [--rows 1000000] [--no-baseline] [--baseline-1m]

Goals (2-core machine): full CDNOW <= 45 s wall; 1M rows <= 120 s at <= 3 GB peak.
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

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "917949c"
BENCH_DIR = ROOT / "data" / "interim" / "bench"


def make_rows(n_rows: int) -> Path:
    """A BG/NBD + Gamma-Gamma log of about ``n_rows`` rows as Parquet (cached under data/interim/bench)."""
    path = BENCH_DIR / f"suite_{n_rows}.parquet"
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT))
    from clm_utils.synth import simulate_transactions

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    customers = max(1000, int(n_rows / 3.0))  # about 3 purchase days per customer with these parameters
    tx = simulate_transactions(customers, r=0.6, alpha=9.0, a=0.8, b=2.5, start="2023-01-01",
                               acquisition_days=180, observation_end="2024-12-31", seed=7)
    tx["customer_id"] = tx["customer_id"].astype(str)
    tx.to_parquet(path, index=False)
    return path


def run_child(cmd: list[str], env: dict[str, str],
              cwd: Path) -> tuple[float, float, float, subprocess.CompletedProcess[str]]:
    """Run ``cmd``; return wall seconds, peak memory (GiB) of the largest descendant, CPU seconds (user + system
    of the run and its kernels) and the result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    tick = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - tick
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = max(after.ru_maxrss, before.ru_maxrss) / 2**20
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, peak, cpu, proc


def clm_run(code: Path, data: Path | None, out: Path, label: str) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(code), CLM_CACHE_DIR=str(out / "cache"), PYTHONHASHSEED="0")
    cmd = [sys.executable, "-m", "clm_utils.cli", "run", "--output", str(out), "--run-name", label]
    if data is not None:
        cmd += ["--data", str(data)]
    load = os.getloadavg()[0]
    wall, peak, cpu, proc = run_child(cmd, env, code)
    if proc.returncode != 0:
        raise SystemExit(f"{label}: clm run failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
    meta = json.loads((out / label / "run.json").read_text(encoding="utf-8"))
    steps = meta.get("timings") or {r["notebook"]: r["seconds"] for r in meta["reports"]}
    stage = (meta.get("analysis") or {}).get("timings") or {}
    return {"stage": stage, "wall": wall, "peak": peak, "cpu": cpu, "load": load, "steps": steps}


def baseline_tree(tmp: Path, commit: str = BASELINE_COMMIT) -> Path:
    tree = tmp / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit],
                   check=True, capture_output=True)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated data set (default 1M)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline runs")
    parser.add_argument("--baseline-1m", action="store_true", help="also run the baseline on the generated data")
    parser.add_argument("--cdnow-only", action="store_true", help="skip the generated data set")
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT,
                        help=f"the commit to compare with (default {BASELINE_COMMIT}, before the shared stage); "
                             "the baseline runs first, so both see the same machine load as nearly as possible")
    args = parser.parse_args()
    data_sets: list[tuple[str, Path | None]] = [("CDNOW", None)]
    if not args.cdnow_only:
        data_sets.append((f"{args.rows / 1e6:g}M rows", make_rows(args.rows)))
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="clm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        tree = None
        try:
            if not args.no_baseline:
                tree = baseline_tree(tmp, args.baseline_commit)
            for i, (label, data) in enumerate(data_sets):
                if tree is not None and (data is None or args.baseline_1m):
                    results[f"{label}: before"] = clm_run(tree, data, tmp / f"before{i}", "bench")
                results[f"{label}: now"] = clm_run(ROOT, data, tmp / f"now{i}", "bench")
        finally:
            if tree is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
                shutil.rmtree(tree, ignore_errors=True)
    print(f"\n{'run':<24}{'wall (s)':>10}{'CPU (s)':>9}{'load':>6}{'peak (GiB)':>12}   where the time went (s)")
    for name, r in results.items():
        steps = ", ".join(f"{k} {v:.0f}" for k, v in r["steps"].items())  # type: ignore[union-attr]
        print(f"{name:<24}{r['wall']:>10.1f}{r['cpu']:>9.1f}{r['load']:>6.1f}{r['peak']:>12.2f}   {steps}")
        if r.get("stage"):
            print(f"{'':<24}analysis stage: " + ", ".join(f"{k} {v:.1f}" for k, v in r["stage"].items()))  # type: ignore[union-attr]
    for label, _ in data_sets:
        now, before = results.get(f"{label}: now"), results.get(f"{label}: before")
        if now and before:
            print(f"{label}: {before['wall'] / now['wall']:.1f}x faster than {args.baseline_commit} "
                  f"({before['wall']:.0f} s -> {now['wall']:.0f} s)")
    print(f"goals: CDNOW <= 45 s wall; 1M rows <= 120 s at <= 3 GB peak (machine: {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
