"""Benchmark: wall time and peak memory of generating synthetic telecom worlds.

Times :func:`graphchurn.synth.generate_world` (network, 90 days of traffic, contagious churn,
and the pandas frames of the log, customers and truth) at the default knobs for 1,000,000
customers x 90 days and, for the scaling ratio, a smaller size. Each size runs in its own
subprocess so that its peak RSS (``ru_maxrss``) belongs to that run alone. Optionally also times
``write_world(..., fmt="parquet")``.

Run:  nice .venv/bin/python experiments/bench_generate.py [--sizes 100000 1000000] [--days 90]
Writes experiments/results/bench_generate.json and bench_generate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _child(n_customers: int, days: int, seed: int, write: bool) -> dict:
    """Run one generation in this process and report its figures."""
    import pandas as pd

    from graphchurn.synth.world import generate_world, write_world

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    world = generate_world(n_customers=n_customers, days=days, seed=seed)
    seconds = time.perf_counter() - t0
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    log = world.interactions
    out = {
        "n_customers": n_customers,
        "days": days,
        "seed": seed,
        "seconds": round(seconds, 2),
        "peak_rss_gib": round(rss_peak / 2**20, 3),  # ru_maxrss is in KiB on Linux
        "rss_before_gib": round(rss_start / 2**20, 3),
        "rows": int(len(log)),
        "rows_per_customer_day": round(len(log) / n_customers / days, 3),
        "frame_gib": round(float(log.memory_usage(deep=True).sum()) / 2**30, 3),
        "ties": int(len(world.ties)),
        "churned": int(world.customers["churn_date"].notna().sum()),
        "timestamps_sorted": bool(log["timestamp"].is_monotonic_increasing),
        "first_day": str(pd.Timestamp(log["timestamp"].min()).date()),
    }
    if write:
        scratch = RESULTS.parent / "data"  # git-ignored
        scratch.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            t1 = time.perf_counter()
            write_world(world, tmp, fmt="parquet")
            out["write_parquet_seconds"] = round(time.perf_counter() - t1, 2)
            out["parquet_mib"] = round(os.path.getsize(Path(tmp) / "interactions.parquet")
                                       / 2**20, 1)
    return out


def _run_child(n_customers: int, days: int, seed: int, write: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(n_customers), "--days", str(days),
           "--seed", str(seed)] + (["--write"] if write else [])
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - t0, 2)  # including imports
    return result


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _markdown(report: dict) -> str:
    lines = [
        "# Generating synthetic telecom worlds: time and peak memory",
        "",
        f"`generate_world` at default knobs, seed {report['seed']}, {report['days']} days; "
        "one subprocess per size (peak RSS = `ru_maxrss` of that process, imports included).",
        f"Machine: {report['machine']['cpus']} CPUs, Python {report['machine']['python']}, "
        f"load average at start {report['machine']['load_average']}"
        " (the machine is shared, so times are upper bounds).",
        "",
        "| customers | days | rows | rows / customer / day | ties | churned | generate (s) "
        "| peak RSS (GiB) | log frame (GiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["runs"]:
        lines.append(
            f"| {r['n_customers']:,} | {r['days']} | {r['rows']:,} | {r['rows_per_customer_day']}"
            f" | {r['ties']:,} | {r['churned']:,} | {r['seconds']} | {r['peak_rss_gib']}"
            f" | {r['frame_gib']} |")
    if len(report["runs"]) >= 2:
        a, b = report["runs"][0], report["runs"][-1]
        lines += [
            "",
            f"Scaling {a['n_customers']:,} -> {b['n_customers']:,} customers "
            f"(x{b['n_customers'] / a['n_customers']:g}): time x{b['seconds'] / a['seconds']:.1f}, "
            f"rows x{b['rows'] / a['rows']:.1f}, peak RSS x{b['peak_rss_gib'] / a['peak_rss_gib']:.1f}.",
        ]
    if any("write_parquet_seconds" in r for r in report["runs"]):
        lines += ["", "| customers | write parquet (s) | parquet (MiB) |", "|---:|---:|---:|"]
        for r in report["runs"]:
            if "write_parquet_seconds" in r:
                lines.append(f"| {r['n_customers']:,} | {r['write_parquet_seconds']} "
                             f"| {r['parquet_mib']} |")
    lines += ["", f"Reproduce: `{report['command']}`", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="also time write_world(parquet)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_child(args.child, args.days, args.seed, args.write)))
        return

    report = {
        "command": "nice .venv/bin/python experiments/bench_generate.py "
                   + " ".join(sys.argv[1:] if argv is None else argv),
        "seed": args.seed,
        "days": args.days,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "runs": [],
    }
    for n in sorted(args.sizes):
        result = _run_child(n, args.days, args.seed, args.write)
        print(json.dumps(result), flush=True)
        report["runs"].append(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    _atomic_write(RESULTS / "bench_generate.json", json.dumps(report, indent=2) + "\n")
    _atomic_write(RESULTS / "bench_generate.md", _markdown(report))


if __name__ == "__main__":
    main()
