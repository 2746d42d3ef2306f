"""Ingestion benchmark: how fast does a large interaction log load, and at what memory cost?

Writes a synthetic log (default 10,000,000 rows: random phone-like ids, ISO 8601 timestamps,
durations, kinds) as CSV.gz and Parquet under experiments/data/ (git-ignored), then, each in a
fresh subprocess so peak RSS is that step's own:

* the raw CSV.gz parse with every column as text, in pyarrow.csv and in DuckDB (engine choice);
* ``graphchurn.io.load_interactions`` on CSV.gz and on Parquet (parse + validation);
* ``CustomerGraph.from_interactions`` on the loaded frame, when graphchurn.graph provides it.

Results: experiments/results/bench_ingest.json and .md (interactions per second, peak RSS).

Usage::

    nice python experiments/bench_ingest.py [--rows 10000000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"


def make_log(rows: int, seed: int, n_ids: int) -> dict[str, Path]:
    """Write the synthetic log as CSV.gz and Parquet (skipped when already there)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    stem = f"bench_{rows}_{seed}"
    paths = {"csv.gz": DATA / f"{stem}.csv.gz", "parquet": DATA / f"{stem}.parquet"}
    if all(p.exists() for p in paths.values()):
        return paths
    rng = np.random.default_rng(seed)
    # Phone-like ids with a leading zero, so any numeric coercion would show.
    numbers = rng.choice(10**10, size=n_ids, replace=False)
    ids = np.char.add("0", np.char.zfill(numbers.astype(str), 10))
    start = np.datetime64("2016-01-01T00:00:00", "s")
    tmp = {key: path.with_name(path.name + ".tmp") for key, path in paths.items()}
    # Written in 1M-row batches so generation memory stays small.
    with pa.output_stream(str(tmp["csv.gz"]), compression="gzip") as sink:
        csv_writer = parquet_writer = None
        for offset in range(0, rows, 1_000_000):
            size = min(1_000_000, rows - offset)
            stamps = start + rng.integers(0, 31 * 86400, size).astype("timedelta64[s]")
            kind = np.where(rng.random(size) < 0.7, "call", "sms")
            duration = np.where(kind == "call", rng.exponential(120.0, size).round(), 0.0)
            batch = pa.table({
                "src": pa.array(ids[rng.integers(0, n_ids, size)], pa.string()),
                "dst": pa.array(ids[rng.integers(0, n_ids, size)], pa.string()),
                "timestamp": pa.array(np.datetime_as_string(stamps, unit="s"), pa.string()),
                "duration": pa.array(duration.astype(np.int64).astype(str), pa.string()),
                "kind": pa.array(kind, pa.string()),
            })
            if csv_writer is None:
                csv_writer = pacsv.CSVWriter(sink, batch.schema)
                parquet_writer = pq.ParquetWriter(str(tmp["parquet"]), batch.schema)
            csv_writer.write_table(batch)
            parquet_writer.write_table(batch)
        csv_writer.close()
        parquet_writer.close()
    for key, path in paths.items():
        os.replace(tmp[key], path)
    return paths


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def cpu_seconds() -> float:
    # CPU time (user + system, all threads) is steadier than wall time on a shared machine.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def step(name: str, path: str) -> dict:
    """One measured step, run inside its own process; returns seconds, rows and peak RSS."""
    # Imports happen before the clock starts, as in any long-lived caller.
    import duckdb
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from graphchurn.io.readers import load_interactions
    if name == "load_and_graph":
        from graphchurn.graph.customer_graph import CustomerGraph

    baseline = peak_rss_mib()
    begin = time.perf_counter()
    cpu_begin = cpu_seconds()
    extra = {}
    if name == "parse_pyarrow":
        names = ["src", "dst", "timestamp", "duration", "kind"]
        table = pacsv.read_csv(
            pa.input_stream(path, compression="gzip"),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}))
        rows = table.num_rows
    elif name == "parse_duckdb":
        con = duckdb.connect()
        con.execute("SET threads TO 2")
        table = con.execute("SELECT * FROM read_csv(?, all_varchar=true, header=true, "
                            "compression='gzip')", [path]).to_arrow_table()
        rows = table.num_rows
    elif name in ("load", "load_and_graph"):
        log = load_interactions(path)
        rows = len(log)
        if name == "load_and_graph":
            loaded = time.perf_counter()
            cpu_loaded = cpu_seconds()
            before_graph = peak_rss_mib()
            graph = CustomerGraph.from_interactions(log)
            extra = {"graph_seconds": time.perf_counter() - loaded,
                     "graph_cpu_seconds": cpu_seconds() - cpu_loaded,
                     "rss_before_graph_mib": before_graph,
                     "vertices": graph.graph.vcount(), "edges": graph.graph.ecount()}
    else:
        raise ValueError(name)
    seconds = time.perf_counter() - begin
    cpu = cpu_seconds() - cpu_begin
    return {"step": name, "seconds": seconds, "cpu_seconds": cpu, "rows": rows,
            "peak_rss_mib": peak_rss_mib(),
            "rss_after_imports_mib": baseline, **extra}


def run_step(name: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--step", name, "--path", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def has_graph() -> bool:
    try:
        from graphchurn.graph.customer_graph import CustomerGraph
    except ImportError:
        return False
    return hasattr(CustomerGraph, "from_interactions")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ids", type=int, default=1_000_000, help="distinct identifiers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the .md from the existing .json, without rerunning")
    args = parser.parse_args()
    if args.render_only:
        report = json.loads((RESULTS / "bench_ingest.json").read_text())
        write_atomic(RESULTS / "bench_ingest.md", render_markdown(report))
        return
    if args.step:
        print(json.dumps(step(args.step, args.path)))
        return

    begin = time.perf_counter()
    paths = make_log(args.rows, args.seed, args.ids)
    generate_seconds = time.perf_counter() - begin
    results = [run_step("parse_pyarrow", paths["csv.gz"]),
               run_step("parse_duckdb", paths["csv.gz"])]
    graph = has_graph()
    for fmt, path in paths.items():
        result = run_step("load_and_graph" if graph else "load", path)
        result["format"] = fmt
        results.append(result)
    for result in results:
        load_seconds = result["seconds"] - result.get("graph_seconds", 0.0)
        result["load_seconds"] = load_seconds
        result["load_cpu_seconds"] = result["cpu_seconds"] - result.get("graph_cpu_seconds", 0.0)
        result["rows_per_second"] = result["rows"] / load_seconds
        if "graph_seconds" in result:
            result["graph_rows_per_second"] = result["rows"] / result["graph_seconds"]

    report = {
        "rows": args.rows, "distinct_ids": args.ids, "seed": args.seed,
        "files_mib": {k: p.stat().st_size / 2**20 for k, p in paths.items()},
        "generate_seconds": generate_seconds, "graph_built": graph,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "nice": os.nice(0), "load_average_at_end": os.getloadavg()},
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_atomic(RESULTS / "bench_ingest.json", json.dumps(report, indent=2) + "\n")

    write_atomic(RESULTS / "bench_ingest.md", render_markdown(report))
    print(render_markdown(report))


def render_markdown(report: dict) -> str:
    """The .md table, from the JSON report alone (so it can be re-rendered without a rerun)."""
    machine = report["machine"]
    lines = [
        "# Ingestion benchmark", "",
        f"Synthetic log: {report['rows']:,} rows, {report['distinct_ids']:,} distinct phone-like "
        f"ids, ISO 8601 timestamps, seed {report['seed']}. Files: "
        + ", ".join(f"{k} {v:.0f} MiB" for k, v in report["files_mib"].items()) + ".",
        f"Machine: {machine['cpus']} CPUs shared with other jobs, run under nice "
        f"{machine['nice']}, 1-min load average {machine['load_average_at_end'][0]:.1f} at the "
        "end; each step in a fresh process. Wall times are inflated by the load; CPU times "
        "(user + system, all threads) are steadier.", "",
        "| step | input | load wall s | load CPU s | rows/s (wall) | RSS after load MiB "
        "| graph wall s | graph CPU s | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        graph = "graph_seconds" in r
        after_load = r["rss_before_graph_mib"] if graph else r["peak_rss_mib"]
        lines.append(
            f"| {r['step']} | {r.get('format', 'csv.gz')} | {r['load_seconds']:.1f} | "
            f"{r['load_cpu_seconds']:.1f} | {r['rows_per_second']:,.0f} | {after_load:,.0f} | "
            + (f"{r['graph_seconds']:.1f} | {r['graph_cpu_seconds']:.1f}" if graph else "- | -")
            + f" | {r['peak_rss_mib']:,.0f} |")
    lines += ["", "`parse_*` rows time the raw all-text CSV.gz parse only (engine choice: "
              "pyarrow.csv vs DuckDB read_csv all_varchar); `load_and_graph` rows time "
              "`graphchurn.io.load_interactions` (parse + validation + frame), then "
              "`CustomerGraph.from_interactions`. RSS includes about "
              f"{report['results'][0]['rss_after_imports_mib']:,.0f} MiB of imported libraries."]
    if not report["graph_built"]:
        lines.append("graphchurn.graph.CustomerGraph was not available: graph build not timed.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
