"""Transactions -> customer summary at scale: pandas, DuckDB and Spark, against lifetimes.

Run from the repository root::

    .venv/bin/python benchmarks/bench_scale.py [--sizes 10M,30M,100M] [--engines pandas,duckdb,spark]
        [--memory-limit-run 2GB] [--lifetimes-python PATH] [--threads 2]

Data: a BG/NBD-like log (FHL 2005 CDNOW parameters for the purchase rate and the dropout,
customers born uniformly over two years, observed to the end of the second year), written as
13 Parquet files sorted by date, so a customer is spread over files as in a time-ordered
export.  About 3 rows and 2.7 purchase days per customer (~33M customers at 100M rows): every
purchase day has one line, plus extra same-day line items with probability ~0.1 each.
Columns ``customer_id`` (int64, as a shop's CRM writes it), ``date`` (date32), ``amount``
(float64, cents).  Generated with vectorised numpy in chunks of customers (100M rows: ~1 GB,
~40 s) and cached under ``data/interim/bench/<size>/`` (git-ignored).

For every engine the summary (``summarize_files(..., out=...)``: Parquet written, the
data-quality table built) runs in a CHILD process, so each figure is that of a whole process:

* ``wall s``: wall time of the child process, interpreter start and imports included;
* ``CPU s``: user + system CPU time of the child (and the processes it waited for) -- on a
  machine shared with other jobs, the figure that does not depend on their load;
* ``peak GB``: the child's maximum resident set size (``getrusage(RUSAGE_CHILDREN)``);
* ``rows/s``: input rows / wall time;
* ``spill GB``: the largest size of the engine's temp folder seen while it ran (polled every
  0.2 s; DuckDB spills there above ``memory_limit``, Spark writes its shuffle files there).

pandas is skipped above ``--pandas-max`` rows (default 30M: it needs ~11 GB at 100M rows, on a
machine other jobs share).  The baseline, measured in the same run on the same 10M rows:
``lifetimes.utils.summary_data_from_transaction_data`` (lifetimes 0.11.3) in a separate
interpreter (``freq="D"``, so its frequency counts purchase days as ours does), since lifetimes does not install with pandas 3 -- a throwaway venv outside the
repository (``python3 -m venv /tmp/clm-lifetimes-venv && /tmp/clm-lifetimes-venv/bin/pip install lifetimes==0.11.3 "pandas<2" "pyarrow<15"
"numpy<2"``; pyarrow < 15 is the last that reads Parquet with numpy 1), found there or passed with ``--lifetimes-python`` (as ``benchmarks/bench_clv.py`` does).  Its
time includes reading the same Parquet files with pandas.

Every engine's summary is checked against the DuckDB one of the same size (same customers,
frequencies, recency, T; monetary value to 1e-9 relative), so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "data" / "interim" / "bench"
N_FILES = 13
START = np.datetime64("2022-01-01")
DAYS = 730
AS_OF = "2023-12-31"
#: BG/NBD purchase rate (per day) and dropout, FHL (2005) CDNOW fit rescaled from weeks to days
#: and made a little more active so the log has ~2.7 purchase days per customer.
PARAMS = {"r": 0.55, "alpha": 48.0, "a": 0.8, "b": 2.4}
LINE_ITEM_P = 0.10


def parse_size(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 10**3, "M": 10**6, "B": 10**9}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "KMB" else text) * mult)


def size_name(n: int) -> str:
    return f"{n // 10**6}M" if n % 10**6 == 0 else str(n)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def simulate_chunk(rng: np.random.Generator, first_id: int, n_cust: int) -> tuple[np.ndarray, ...]:
    """Rows (customer_id, day, amount) of ``n_cust`` BG/NBD customers, vectorised."""
    p = PARAMS
    birth = rng.integers(0, DAYS, n_cust)
    exposure = DAYS - birth  # days from the first purchase to the end of the log
    lam = rng.gamma(p["r"], 1.0 / p["alpha"], n_cust)
    drop = rng.beta(p["a"], p["b"], n_cust)
    # repeat purchases: Poisson in the exposure, cut at the (geometric) dropout after a purchase
    n_rep = np.minimum(rng.poisson(lam * exposure), rng.geometric(drop) - 1)
    n_days = 1 + n_rep
    cust = np.repeat(np.arange(n_cust), n_days)
    first = np.zeros(len(cust), dtype=bool)
    first[np.concatenate([[0], np.cumsum(n_days)[:-1]])] = True
    # given their number, Poisson purchase times are uniform in the exposure (dropout only cuts)
    offset = np.where(first, 0, (rng.random(len(cust)) * exposure[cust]).astype(np.int64))
    day = birth[cust] + offset
    spend = rng.gamma(4.0, 10.0, n_cust)  # each customer's mean spend per line (Gamma-Gamma-like)
    lines = 1 + rng.binomial(3, LINE_ITEM_P / 3, len(cust))  # same-day line items, 0.1 per day on average
    cust = np.repeat(cust, lines)
    day = np.repeat(day, lines)
    amount = np.round(rng.gamma(4.0, spend[cust] / 4.0) + 0.01, 2)
    return (cust + first_id).astype(np.int64), day.astype(np.int32), amount


def generate(n_rows: int, seed: int = 1) -> Path:
    """The cached log of about ``n_rows`` rows (13 Parquet files sorted by date)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = CACHE / size_name(n_rows)
    done = folder / "_meta.json"
    if done.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    rows_per_customer = 3.0  # refined after the first chunk
    chunk = 2_000_000
    cids, days, amounts = [], [], []
    total, next_id = 0, 0
    while total < n_rows:
        want = max(1, min(chunk, int((n_rows - total) / rows_per_customer) + 1))
        c, d, a = simulate_chunk(rng, next_id, want)
        rows_per_customer = len(c) / want
        if total + len(c) > n_rows:  # the last chunk: cut at a customer boundary
            keep = n_rows - total
            while 0 < keep < len(c) and c[keep] == c[keep - 1]:
                keep += 1
            c, d, a = c[:keep], d[:keep], a[:keep]
        cids.append(c)
        days.append(d)
        amounts.append(a)
        total += len(c)
        next_id += want
    cid = np.concatenate(cids)
    day = np.concatenate(days)
    amount = np.concatenate(amounts)
    del cids, days, amounts
    # shuffle the customers' ids so the id order is not the birth order, then sort by date
    perm = rng.permutation(next_id).astype(np.int64) + 10_000_000
    cid = perm[cid]
    order = np.argsort(day, kind="stable")
    cid, day, amount = cid[order], day[order], amount[order]
    bounds = np.linspace(0, len(cid), N_FILES + 1).astype(np.int64)
    epoch = (START - np.datetime64("1970-01-01")).astype(np.int64)
    for i in range(N_FILES):
        s = slice(bounds[i], bounds[i + 1])
        table = pa.table({
            "customer_id": pa.array(cid[s]),
            "date": pa.array((day[s] + epoch).astype(np.int32), type=pa.int32()).cast(pa.date32()),
            "amount": pa.array(amount[s]),
        })
        pq.write_table(table, tmp / f"part-{i:02d}.parquet", row_group_size=1_000_000)
    n_cust = len(np.unique(cid))
    n_days = len(np.unique(cid * 1024 + day))
    meta = {"rows": len(cid), "customers": int(n_cust), "purchase_days": int(n_days),
            "seconds": round(time.perf_counter() - t0, 1), "seed": seed}
    (tmp / "_meta.json").write_text(json.dumps(meta))
    tmp.rename(folder)
    return folder


# --------------------------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------------------------
CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
args = json.loads(sys.argv[2])
from clm_utils.engines import summarize_files
t = time.perf_counter()
_, q = summarize_files(args["data"], as_of=args["as_of"], engine=args["engine"], out=args["out"],
                       memory_limit=args.get("memory_limit"), threads=args.get("threads"), temp_dir=args["temp"])
print(json.dumps({"inner_s": time.perf_counter() - t}))
"""

CHILD_SPARK = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
args = json.loads(sys.argv[2])
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master(f"local[{args.get('threads') or '*'}]").appName("bench")
         .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.shuffle.partitions", str(args["partitions"]))
         .config("spark.driver.memory", args["driver_memory"]).config("spark.local.dir", args["temp"])
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
from clm_utils.engines import summarize_files
t = time.perf_counter()
_, q = summarize_files(args["data"], as_of=args["as_of"], engine="spark", out=args["out"], spark=spark)
print(json.dumps({"inner_s": time.perf_counter() - t}))
spark.stop()
"""

LIFETIMES = r"""
import json, sys, time
import pandas as pd
from lifetimes.utils import summary_data_from_transaction_data
t = time.perf_counter()
frame = pd.concat([pd.read_parquet(f) for f in sorted(sys.argv[1:-1])], ignore_index=True)
frame["date"] = pd.to_datetime(frame["date"])
s = summary_data_from_transaction_data(frame, "customer_id", "date", monetary_value_col="amount",
                                       observation_period_end=sys.argv[-1], freq="D")
print(json.dumps({"inner_s": time.perf_counter() - t, "customers": len(s),
                  "frequency": int(s["frequency"].sum())}))
"""


def dir_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def tree_rss(pid: int) -> tuple[int, float]:
    """Resident memory (bytes) and CPU seconds so far of a process and all its descendants (Spark's JVM)."""
    total, cpu, todo = 0, 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / tick
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError, IndexError):
            pass
    return total, cpu


def run_child(cmd: list[str], temp: Path | None, timeout: float) -> dict:
    """Run ``cmd``: wall time, peak memory and the peak size of ``temp`` while it ran.

    Peak memory: the child's own maxrss (``os.wait4``, which covers the descendants it waited
    for) or the largest resident size of its process tree seen by polling (Spark's JVM), the
    larger of the two.
    """
    peak_tmp, peak_rss, tree_cpu = [0], [0], [0.0]
    stop = threading.Event()
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def poll() -> None:
        while not stop.is_set():
            if temp is not None:
                peak_tmp[0] = max(peak_tmp[0], dir_size(temp))
            rss, cpu = tree_rss(proc.pid)
            peak_rss[0] = max(peak_rss[0], rss)
            tree_cpu[0] = max(tree_cpu[0], cpu)
            stop.wait(0.2)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    chunks: dict[str, str] = {}

    def drain(name: str, stream) -> None:
        chunks[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(n, s), daemon=True)
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    deadline = time.monotonic() + timeout
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            stop.set()
            return {"error": f"timed out after {timeout:.0f} s"}
        time.sleep(0.05)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    watcher.join()
    for r in readers:
        r.join()
    out = {"wall_s": wall, "spill_bytes": peak_tmp[0], "cpu_s": max(usage.ru_utime + usage.ru_stime, tree_cpu[0]),
           "peak_gb": max(usage.ru_maxrss * 1024, peak_rss[0]) / 2**30}
    if proc.returncode != 0:
        out["error"] = (chunks.get("err", "").strip().splitlines() or ["failed"])[-1][:200]
        return out
    try:
        out.update(json.loads(chunks.get("out", "").strip().splitlines()[-1]))
    except (ValueError, IndexError):
        out["error"] = "no result printed"
    return out


def check_against(reference: Path, other: Path) -> str:
    """Compare two summaries written as Parquet (``other`` may be a Spark folder): 'ok' or what differs."""
    import duckdb

    def scan(p: Path) -> str:
        return f"read_parquet('{p / '*.parquet' if p.is_dir() else p}')"

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    row = con.execute(f"""
        SELECT count(*) FILTER (WHERE a.customer_id IS NULL OR b.customer_id IS NULL) AS missing,
               count(*) FILTER (WHERE a.frequency <> b.frequency OR a.n_transactions <> b.n_transactions) AS counts,
               count(*) FILTER (WHERE abs(a.recency - b.recency) > 1e-9 * greatest(1, abs(a.recency))
                                   OR abs(a.T - b.T) > 1e-9 * greatest(1, abs(a.T))
                                   OR abs(a.monetary_value - b.monetary_value) > 1e-9 * greatest(1, abs(a.monetary_value))
                                   OR abs(a.total_amount - b.total_amount) > 1e-9 * greatest(1, abs(a.total_amount))) AS values
        FROM {scan(reference)} a FULL JOIN {scan(other)} b ON CAST(a.customer_id AS VARCHAR) = CAST(b.customer_id AS VARCHAR)
    """).fetchone()
    con.close()
    if not any(row):
        return "same"
    return f"DIFFERS (missing {row[0]}, counts {row[1]}, values {row[2]})"


def lifetimes_python(arg: str | None) -> str | None:
    """An interpreter that imports lifetimes: ``arg``, or the throwaway venv of the docstring."""
    for cand in ([arg] if arg else ["/tmp/clm-lifetimes-venv/bin/python", "/tmp/bench-venv/bin/python"]):
        if cand and Path(cand).exists() and subprocess.run([cand, "-c", "import lifetimes"],
                                                           capture_output=True, check=False).returncode == 0:
            return cand
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10M", help="comma-separated row counts, e.g. 10M,30M,100M (default 10M)")
    ap.add_argument("--engines", default="pandas,duckdb,spark")
    ap.add_argument("--memory-limit-run", default="2GB",
                    help="also run DuckDB with this memory limit on the largest size ('' to skip)")
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads / Spark local[N] (default: all cores)")
    ap.add_argument("--pandas-max", default="30M", help="skip pandas above this many rows")
    ap.add_argument("--spark-max", default="10M", help="skip Spark above this many rows")
    ap.add_argument("--spark-driver-memory", default="8g")
    ap.add_argument("--spark-partitions", type=int, default=16)
    ap.add_argument("--lifetimes-python", default=None)
    ap.add_argument("--no-lifetimes", action="store_true")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per child process")
    ap.add_argument("--temp", default=None, help="folder for spill and output files (default: system temp)")
    args = ap.parse_args()

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    pandas_max = parse_size(args.pandas_max)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"(1/5/15 min) at start")
    work = Path(tempfile.mkdtemp(prefix="clm-bench-", dir=args.temp))
    rows = []
    lifetimes_ratio_base = None
    try:
        for n in sizes:
            t = time.perf_counter()
            folder = generate(n)
            meta = json.loads((folder / "_meta.json").read_text())
            print(f"\n{size_name(n)}: {meta['rows']:,} rows, {meta['customers']:,} customers, "
                  f"{meta['purchase_days']:,} purchase days, {dir_size(folder) / 2**30:.2f} GB in {N_FILES} Parquet "
                  f"files (ready in {time.perf_counter() - t:.0f} s; generated in {meta['seconds']:.0f} s)")
            runs = [(e, None) for e in sorted(engines, key=lambda e: e != "duckdb")]  # DuckDB first: the reference
            if args.memory_limit_run and n == max(sizes) and "duckdb" in engines:
                runs.append(("duckdb", args.memory_limit_run))
            reference = None
            for engine, limit in runs:
                label = engine + (f" --memory-limit {limit}" if limit else "")
                if engine == "pandas" and n > pandas_max:
                    print(f"  {label:28s} skipped: above --pandas-max {args.pandas_max} rows (pandas needs ~11 GB "
                          "at 100M rows; the machine is shared)")
                    continue
                if engine == "spark" and n > parse_size(args.spark_max):
                    print(f"  {label:28s} skipped: above --spark-max {args.spark_max} rows (local mode on this "
                          "shared 2-core machine; see docs/scaling.md for the per-core figure)")
                    continue
                temp = work / f"tmp-{engine}-{size_name(n)}-{limit or 'nolimit'}"
                temp.mkdir()
                out = work / f"out-{engine}-{size_name(n)}-{limit or 'nolimit'}.parquet"
                payload = {"data": str(folder), "as_of": AS_OF, "engine": engine, "out": str(out), "temp": str(temp),
                           "memory_limit": limit, "threads": args.threads, "partitions": args.spark_partitions,
                           "driver_memory": args.spark_driver_memory}
                script = CHILD_SPARK if engine == "spark" else CHILD
                res = run_child([sys.executable, "-c", script, str(ROOT), json.dumps(payload)], temp, args.timeout)
                if "error" in res:
                    print(f"  {label:28s} FAILED: {res['error']}")
                    rows.append((size_name(n), label, None, None, None, None, None, "failed"))
                    continue
                if engine == "duckdb" and limit is None:
                    reference = out
                check = check_against(reference, out) if reference is not None and out != reference else (
                    "reference" if out == reference else "-")
                rows.append((size_name(n), label, res["wall_s"], res["cpu_s"], res["peak_gb"],
                             meta["rows"] / res["wall_s"], res["spill_bytes"] / 2**30, check))
                print(f"  {label:28s} {res['wall_s']:7.1f} s  cpu {res['cpu_s']:7.1f} s  peak {res['peak_gb']:5.2f} GB  "
                      f"{meta['rows'] / res['wall_s'] / 1e6:5.2f}M rows/s  spill {res['spill_bytes'] / 2**30:5.2f} GB"
                      f"  (summary call {res.get('inner_s', float('nan')):.1f} s)  {check}", flush=True)
                shutil.rmtree(temp, ignore_errors=True)
            if n == 10_000_000 and not args.no_lifetimes:
                py = lifetimes_python(args.lifetimes_python)
                if py is None:
                    print("  lifetimes                    skipped: no interpreter with lifetimes 0.11.3 "
                          "(see the module docstring)")
                else:
                    files = sorted(str(f) for f in folder.glob("*.parquet"))
                    res = run_child([py, "-c", LIFETIMES, *files, AS_OF], None, args.timeout * 2)
                    if "error" in res:
                        print(f"  lifetimes                    FAILED: {res['error']}")
                    else:
                        lifetimes_ratio_base = (res["wall_s"], res["cpu_s"])
                        ok = "customers and total frequency match" if reference is not None and \
                            _lifetimes_matches(reference, res) else "does not match"
                        rows.append((size_name(n), "lifetimes 0.11.3", res["wall_s"], res["cpu_s"], res["peak_gb"],
                                     meta["rows"] / res["wall_s"], 0.0, ok))
                        print(f"  {'lifetimes 0.11.3':28s} {res['wall_s']:7.1f} s  cpu {res['cpu_s']:7.1f} s  peak {res['peak_gb']:5.2f} GB  "
                              f"{meta['rows'] / res['wall_s'] / 1e6:5.2f}M rows/s  ({ok})", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print("\n| size | engine | wall s | CPU s | peak GB | rows/s | spill GB | vs lifetimes (10M): wall, CPU | result |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for size, label, wall, cpu, peak, rate, spill, check in rows:
        if wall is None:
            print(f"| {size} | {label} | - | - | - | - | - | - | {check} |")
            continue
        ratio = "-"
        if lifetimes_ratio_base and size == "10M" and not label.startswith("lifetimes"):
            ratio = f"{lifetimes_ratio_base[0] / wall:.1f}x, {lifetimes_ratio_base[1] / cpu:.1f}x"
        print(f"| {size} | {label} | {wall:.1f} | {cpu:.1f} | {peak:.2f} | {rate / 1e6:.2f}M | {spill:.2f} | {ratio} "
              f"| {check} |")


def _lifetimes_matches(reference: Path, res: dict) -> bool:
    """lifetimes (freq='D') counts purchase days as we do: same customers, same total frequency."""
    import duckdb

    con = duckdb.connect()
    n, freq = con.execute(f"SELECT count(*), sum(frequency) FROM read_parquet('{reference}')").fetchone()
    con.close()
    return int(n) == res.get("customers") and int(freq) == res.get("frequency")


if __name__ == "__main__":
    main()
