"""Scale benchmark: `graphchurn analyze` end to end against a plain reference pipeline.

For each size (customers) a generator world is made once and cached (Parquet, ``--days`` days,
90 by default so that 1M customers make about 100M interactions; seed 1, ``graphchurn
generate``) under ``--data`` as ``w<size/1000>k_d<days>``. Then, one after the other,
each in a fresh process under ``/usr/bin/time -v``:

- ``graphchurn analyze`` on it (defaults; its metrics.json gives the time of every stage, the
  inner steps of each cut-off's features and the backtest ROC-AUC);
- the reference pipeline (``experiments/reference_pipeline.py``: DuckDB aggregation per
  cut-off, igraph Leiden + PageRank, tie-strength exposure to recent leavers, customer
  attributes, HistGradientBoosting on the same cut-offs), with its own time and AUC. When the
  file is absent the reference is skipped with a message, and the table says so.

Wall time, CPU time (user + system, all threads and processes) and peak RSS come from
``/usr/bin/time -v`` (the largest single process's resident set); the peak PSS of the whole
process tree (forked workers included, shared pages counted once) is sampled every half
second: it is the memory figure to compare with a machine's. The machine is shared: the load average
before and after each run is recorded, and CPU time is the figure that load disturbs least.

Run:  nice -n 5 .venv/bin/python experiments/bench_scale.py [--sizes 100000 300000 1000000]
          [--data /work/data] [--reference experiments/reference_pipeline.py] [--skip-reference]
          [--one-process]  (also analyze --jobs 1, the cut-offs one after the other)
Writes experiments/results/bench_scale.json, bench_scale.md and bench_scale.png (log-log time
against size).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, library_version

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_REFERENCE = Path(__file__).resolve().parent / "reference_pipeline.py"


#: Days of every generated world (set from --days).
DAYS = 90


def world_dir(data: Path, size: int) -> Path:
    return data / ((f"w{size // 1000}k" if size % 1000 == 0 else f"w{size}") + f"_d{DAYS}")


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    tree, stack = [], [pid]
    while stack:
        tree.append(stack.pop())
        stack += children.get(tree[-1], [])
    return tree


def tree_pss_kb(pid: int) -> int:
    """Proportional set size of a process tree (kB): shared pages (a forked worker's view of
    its parent's memory) counted once, split between the processes sharing them."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def timed(command: list[str], log_path: Path, env=None) -> dict:
    """Run ``command`` under /usr/bin/time -v; wall, CPU, peak RSS (the largest single
    process), peak PSS of the whole process tree (sampled every half second or less often,
    see below: the memory the run took, workers included), exit code, load averages."""
    load_before = os.getloadavg()
    start = time.perf_counter()
    peak_pss = 0
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["/usr/bin/time", "-v", *command], stdout=log,
                                stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        while proc.poll() is None:
            sampled = time.perf_counter()
            peak_pss = max(peak_pss, tree_pss_kb(proc.pid))
            # Reading smaps_rollup of a 10 GB process takes a good part of a second: sampled
            # no more often than keeps this sampler under a tenth of a core, which it would
            # otherwise take from the run it measures.
            time.sleep(max(0.5, 10 * (time.perf_counter() - sampled)))
    wall = time.perf_counter() - start
    text = log_path.read_text(errors="replace")

    def field(name, cast=float):
        match = re.search(rf"{re.escape(name)}: (\S+)", text)
        return cast(match.group(1)) if match else None

    user, system = field("User time (seconds)"), field("System time (seconds)")
    rss_kb = field("Maximum resident set size (kbytes)", int)
    return {"rc": proc.returncode, "wall_s": round(wall, 1),
            "cpu_s": round((user or 0.0) + (system or 0.0), 1),
            "peak_rss_mb": round(rss_kb / 1024, 1) if rss_kb else None,
            "peak_tree_pss_mb": round(peak_pss / 1024, 1) if peak_pss else None,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()], "log": str(log_path)}


def ensure_world(size: int, data: Path, python: str, env) -> dict | None:
    """Generate the world unless its files are there (another run may be writing it: wait)."""
    folder = world_dir(data, size)
    files = [folder / "interactions.parquet", folder / "customers.csv"]
    if all(f.exists() for f in files):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    print(f"generating {size:,} customers into {folder} ...", flush=True)
    return timed([python, "-m", "graphchurn", "generate", "--customers", str(size), "--seed", "1",
                  "--days", str(DAYS), "--format", "parquet", "--out", str(folder)], folder / "generate.log", env)


#: The analyze variants a run may time: the defaults, and one process (``--jobs 1``: the
#: cut-offs' features one after the other), whose figures show what the workers cost and save.
VARIANTS = {"analyze": [], "analyze --jobs 1": ["--jobs", "1"]}


def run_analyze(size: int, data: Path, work: Path, python: str, env,
                variant: str = "analyze") -> dict:
    folder = world_dir(data, size)
    tag = variant.replace(" --", "_").replace(" ", "")
    out = work / f"{tag}_{size}"
    result = timed([python, "-m", "graphchurn", "analyze",
                    "--interactions", str(folder / "interactions.parquet"),
                    "--customers", str(folder / "customers.csv"), "--out", str(out),
                    *VARIANTS[variant]],
                   work / f"{tag}_{size}.log", env)
    metrics_path = out / "metrics.json"
    if result["rc"] == 0 and metrics_path.exists():
        metrics = json.loads(metrics_path.read_text())
        result.update(roc_auc=metrics.get("roc_auc"), stages_s=metrics.get("timings_s"),
                      feature_steps_s=metrics.get("feature_steps_s"),
                      graph=metrics.get("graph"), n_scored=metrics.get("n_scored"),
                      n_training_rows=metrics.get("n_training_rows"))
    else:
        result["stages_s"], result["feature_steps_s"] = stages_from_log(
            Path(result["log"]).read_text(errors="replace"))
    return result


def stages_from_log(text: str) -> tuple[dict, dict]:
    """Stage and per-cut-off step times from an analyze log's progress lines (for a run that
    stopped before writing metrics.json)."""
    stages, steps = {}, {}
    read = re.search(r"inputs read(?: and identifiers coded)? in ([\d.]+) s", text)
    if read:
        stages["read inputs"] = float(read.group(1))
    for name, seconds in re.findall(r"graphchurn: (\S.*?) done in ([\d.]+) s", text):
        stages[name] = float(seconds)
    for cutoff, name, seconds in re.findall(
            r"graphchurn:   (\d{4}-\d\d-\d\d): (.*?) done in ([\d.]+) s", text):
        steps.setdefault(cutoff, {})[name] = float(seconds)
    return stages, steps


def run_reference(size: int, data: Path, work: Path, python: str, reference: Path, env) -> dict:
    folder = world_dir(data, size)
    out = work / f"reference_{size}"
    result = timed([python, str(reference),
                    "--interactions", str(folder / "interactions.parquet"),
                    "--customers", str(folder / "customers.csv"), "--out", str(out)],
                   work / f"reference_{size}.log", env)
    metrics_path = out / "metrics.json"
    if result["rc"] == 0 and metrics_path.exists():
        metrics = json.loads(metrics_path.read_text())
        result.update(roc_auc=metrics.get("roc_auc"), stages_s=metrics.get("timings_s"))
    return result


def _fmt(value, spec=".1f"):
    return "-" if value is None else format(value, spec)


def write_report(rows: list[dict], meta: dict, out: Path) -> None:
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = ["# Scale benchmark (`experiments/bench_scale.py`)", "",
             f"Generator worlds ({DAYS} days, seed 1, Parquet); each run a fresh process under "
             f"`/usr/bin/time -v`, one after the other. Library {meta['library']}, "
             f"{meta['machine']}. The machine is shared: load averages are given per run, and "
             f"CPU time (user + system) is the figure load disturbs least.", "",
             "| customers | interactions | pipeline | wall s | CPU s | peak RSS MB "
             "| peak tree PSS MB | ROC-AUC | wall / reference | CPU / reference "
             "| load before -> after |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        ref = row.get("reference") or {}
        for name in [v for v in VARIANTS if v in row] + ["reference"]:
            r = row.get(name)
            if r is None:
                lines.append(f"| {row['customers']:,} | {row.get('interactions') or '-'} | {name} "
                             f"| {row.get('reference_note', 'not run')} | | | | | | | |")
                continue
            compared = name != "reference" and ref.get("rc") == 0
            def ratio_of(key):
                if compared and r.get(key) and ref.get(key):
                    return r[key] / ref[key]
                return None

            ratio, cpu_ratio = ratio_of("wall_s"), ratio_of("cpu_s")
            failed = "" if r["rc"] == 0 else f" (exit {r['rc']})" if r["rc"] is not None else ""
            if r.get("note"):
                failed += f" ({r['note']})"
            lines.append(
                f"| {row['customers']:,} | {row.get('interactions') or '-'} | {name}{failed} "
                f"| {_fmt(r['wall_s'])} | {_fmt(r['cpu_s'])} | {_fmt(r['peak_rss_mb'], '.0f')} "
                f"| {_fmt(r.get('peak_tree_pss_mb'), '.0f')} "
                f"| {_fmt(r.get('roc_auc'), '.4f')} | {_fmt(ratio, '.2f')} "
                f"| {_fmt(cpu_ratio, '.2f')} "
                f"| {r['load_before'][0]} -> {r['load_after'][0]} |")
    lines += ["", "## analyze, seconds per stage (metrics.json `timings_s`, wall)", ""]
    for row in rows:
        stages = (row.get("analyze") or {}).get("stages_s") or {}
        if stages:
            lines.append(f"- {row['customers']:,}: " + ", ".join(
                f"{k} {v:.1f}" for k, v in stages.items()))
    lines += ["", "## analyze, inner steps of each cut-off's features (wall s)", ""]
    for row in rows:
        steps = (row.get("analyze") or {}).get("feature_steps_s") or {}
        for cutoff, timing in steps.items():
            lines.append(f"- {row['customers']:,} @ {cutoff}: " + ", ".join(
                f"{k} {v:.1f}" for k, v in timing.items()))
    lines += ["", f"Plot: `{out.with_suffix('.png').name}` (log-log wall time against "
              "customers; a slope of 1 is linear growth).", "",
              f"Reproduce: `{meta['command']}`", ""]
    out.with_suffix(".md").write_text("\n".join(lines))


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, style, color in (("analyze", "o-", "C0"), ("reference", "s--", "C1")):
        for measure, alpha in (("wall_s", 1.0), ("cpu_s", 0.45)):
            what = "wall" if measure == "wall_s" else "CPU"
            points = [(row["customers"], row[name][measure]) for row in rows
                      if row.get(name) and row[name]["rc"] == 0]
            if points:
                ax.plot(*zip(*points), style, color=color, alpha=alpha, label=f"{name} ({what})")
            # A run stopped before the end: its time so far, a lower bound.
            stopped = [(row["customers"], row[name][measure]) for row in rows
                       if row.get(name) and row[name]["rc"] != 0 and row[name].get(measure)]
            if stopped:
                ax.plot(*zip(*stopped), "^", color=color, alpha=alpha,
                        label=f"{name} ({what}, stopped: at least)")
    sizes = [row["customers"] for row in rows]
    if sizes:
        ax.axhline(900, color="grey", lw=0.8, ls=":")
        ax.text(min(sizes), 900, " 15 min", va="bottom", fontsize=8, color="grey")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("customers")
    ax.set_ylabel("seconds, end to end")
    ax.set_title("graphchurn analyze against the reference pipeline")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--data", type=Path, default=Path("/work/data"))
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help="the reference pipeline script (default: experiments/"
                             "reference_pipeline.py)")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--one-process", action="store_true",
                        help="also time analyze --jobs 1 (cut-offs one after the other)")
    parser.add_argument("--work", type=Path, default=None,
                        help="where runs write their outputs and logs (default: a temporary "
                             "folder)")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_scale")
    parser.add_argument("--report-only", action="store_true",
                        help="rebuild the table and plot from the JSON of an earlier run")
    args = parser.parse_args(argv)
    globals()["DAYS"] = args.days
    if args.report_only:
        saved = json.loads(args.out.with_suffix(".json").read_text())
        write_report(saved["rows"], saved["meta"], args.out)
        plot(saved["rows"], args.out)
        return 0

    python = sys.executable
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # Both pipelines' OpenMP threads wait passively and OpenBLAS's threads spin briefly, as
    # graphchurn's command line sets by default: the reference's model fits would otherwise
    # lose more on a shared machine.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    reference_note = None
    if args.skip_reference:
        reference_note = "skipped (--skip-reference)"
    elif not args.reference.exists():
        reference_note = f"skipped: {args.reference} not found"
        print(f"reference pipeline {args.reference} not found: the reference is skipped "
              "(pass --reference PATH)", file=sys.stderr)

    rows = []
    for size in sorted(args.sizes):
        row = {"customers": size}
        generated = ensure_world(size, args.data, python, env)
        if generated is not None:
            row["generate"] = generated
            if generated["rc"] != 0:
                print(f"generating {size:,} failed (exit {generated['rc']}); see "
                      f"{generated['log']}", file=sys.stderr)
                rows.append(row)
                continue
        try:
            import pyarrow.parquet as pq

            row["interactions"] = pq.ParquetFile(
                world_dir(args.data, size) / "interactions.parquet").metadata.num_rows
        except Exception:  # noqa: BLE001 - a count for the table only
            row["interactions"] = None
        print(f"{size:,} customers: analyze ...", flush=True)
        for variant in ["analyze"] + (["analyze --jobs 1"] if args.one_process else []):
            if variant != "analyze":
                print(f"{size:,} customers: {variant} ...", flush=True)
            run = row[variant] = run_analyze(size, args.data, work, python, env, variant)
            print(f"  {run['wall_s']} s wall, {run['cpu_s']} s CPU, {run['peak_rss_mb']} MB "
                  f"largest process, {run['peak_tree_pss_mb']} MB tree PSS, "
                  f"AUC {run.get('roc_auc')}", flush=True)
        if reference_note is None:
            print(f"{size:,} customers: reference ...", flush=True)
            row["reference"] = run_reference(size, args.data, work, python, args.reference, env)
            print(f"  {row['reference']['wall_s']} s wall, {row['reference']['cpu_s']} s CPU, "
                  f"{row['reference']['peak_rss_mb']} MB, AUC {row['reference'].get('roc_auc')}",
                  flush=True)
        else:
            row["reference"] = None
            row["reference_note"] = reference_note
        rows.append(row)
        meta = {"library": library_version(), "machine": f"{os.cpu_count()} cores, "
                f"{platform.processor() or platform.machine()}", "work": str(work),
                "reference": str(args.reference), "command": "nice -n 5 .venv/bin/python "
                "experiments/bench_scale.py --sizes " + " ".join(map(str, args.sizes))
                + (" --one-process" if args.one_process else "")}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_report(rows, meta, args.out)  # after every size: a long run keeps what it has
        plot(rows, args.out)
    return 0 if all((r.get("analyze") or {}).get("rc") == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
