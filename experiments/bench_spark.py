"""Spark engine benchmark (local mode): wall time and driver memory per stage, against the
local engine in the same run, and the two engines' agreement.

Worlds: generator worlds given with ``--worlds DIR ...`` (``interactions.parquet`` and
``customers.csv``, e.g. ``graphchurn generate --customers 300000 --days 90 --seed 1 --format
parquet``), or made here with ``--sizes`` (120 days, seed 0) under ``--data`` as ``w<size>``.
Each engine analyses each world in a fresh process (``--worker``), embeddings off (as at
scale), the command line's way (the local engine reads with ``load_interactions``; the Spark
engine is ``graphchurn.pipeline.analyze`` with ``AnalyzeConfig(engine="spark")`` on the
paths). A sampler thread reads, every 0.1 s, the resident set of the Python driver and of
the JVM it started (with the JVM's Python workers); each stage's peak is the largest sample
while the stage ran (stages = the pipeline's progress lines: reading, label rows, features at
each cut-off, models, outputs). In local mode the JVM is driver *and* executors (its heap is
capped by ``spark.driver.memory``), so its memory is not a cluster driver's; the Python
driver's is: it holds the aggregated tables, the graph, the feature tables and the model,
never the rows. Each worker also reports the feature tables the model trains on (rows and
bytes on the driver) and the load average before and after it.

``--lock FILE`` runs each worker under ``flock FILE`` (a machine shared with other memory-heavy
runs), ``--timeout`` stops a worker (its whole process group, JVM included) after that many
seconds of running (not counting the wait for the lock) and keeps the stages it finished. Results are written after every worker, merged into
the existing file by world (``--merge``), so a long run that is stopped keeps what it had.

Run:  nice -n 19 .venv/bin/python experiments/bench_spark.py --worlds /work/data/w300k_d90 \\
          /work/data/w1m_d90 --lock /work/scratch/bigmem.lock --timeout 2400
Writes experiments/results/bench_spark.json and bench_spark.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def _rss_mb(pids) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0


def _descendants(pid: int) -> list[int]:
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


class _StageMemory(logging.Handler):
    """Peak RSS (Python driver, JVM and its workers) and wall time per stage, stages from the
    progress lines; every finished stage is written to ``progress`` at once."""

    def __init__(self, progress: Path):
        super().__init__(logging.INFO)
        self.progress = progress
        self.stage, self.began, self.stages = "start", time.perf_counter(), {}
        self.peak_py = self.peak_jvm = 0.0
        threading.Thread(target=self._sample, daemon=True).start()

    def emit(self, record):
        message = record.getMessage()
        if message.endswith(" ..."):
            self.switch(message[:-4])

    def switch(self, name):
        now = time.perf_counter()
        self.stages[self.stage] = {"wall_s": round(now - self.began, 2),
                                   "python_driver_peak_mb": round(self.peak_py, 1),
                                   "jvm_peak_mb": round(self.peak_jvm, 1)}
        self.stage, self.began = name, now
        self.peak_py = _rss_mb([os.getpid()])
        self.peak_jvm = 0.0
        staged = self.progress.with_suffix(".tmp")  # renamed: a reader never sees half a file
        staged.write_text(json.dumps({"stages": self.stages, "running": name}))
        staged.replace(self.progress)

    def _sample(self):
        me, kids, tick = os.getpid(), [], 0
        while True:
            if tick % 20 == 0:  # the process tree changes rarely; /proc is scanned every 2 s
                kids = _descendants(me)
            tick += 1
            self.peak_py = max(self.peak_py, _rss_mb([me]))
            self.peak_jvm = max(self.peak_jvm, _rss_mb(kids))
            time.sleep(0.1)


#: The Spark engine's variants (``--engines``): where the training cut-offs' features are
#: computed (``SparkPipeline(features_on=...)``).
SPARK = {"spark": "driver", "spark-executors": "executors"}
ENGINES = ("local", *SPARK)


def worker(engine: str, world: Path, out: Path, master: str, conf: dict) -> dict:
    from graphchurn.app.outputs import write_outputs
    from graphchurn.pipeline import AnalyzeConfig, analyze

    out.mkdir(parents=True, exist_ok=True)
    meter = _StageMemory(out / "progress.json")
    logging.getLogger("graphchurn").addHandler(meter)
    logging.getLogger("graphchurn").setLevel(logging.INFO)
    cfg = AnalyzeConfig(embeddings=False, engine="spark" if engine in SPARK else engine)
    began = time.perf_counter()
    meter.switch("read and validate")
    if engine in SPARK:
        analysis = analyze(str(world / "interactions.parquet"), str(world / "customers.csv"),
                           cfg, master=master, conf=conf, features_on=SPARK[engine])
    else:
        from graphchurn.graph.customer_graph import encode_ids
        from graphchurn.io.readers import (check_customers_match, load_customers,
                                           load_interactions)

        customers = load_customers(world / "customers.csv")
        log = load_interactions(world / "interactions.parquet")
        check_customers_match(log, customers, world / "customers.csv")
        log = encode_ids(log, customers)  # as the command line: the string columns are freed
        analysis = analyze(log, customers, cfg)
        del log
    meter.switch("write outputs")
    write_outputs(analysis, out)
    meter.switch("end")
    m = analysis.metrics
    # What the model trains on: one row per customer per training cut-off, on the driver.
    tables = [fs.table for fs in analysis.training]
    return {"engine": engine, "wall_s": round(time.perf_counter() - began, 2),
            "roc_auc": m["roc_auc"], "graph": m["graph"], "n_scored": m["n_scored"],
            "stages": meter.stages, "spark_timings_s": m.get("spark_timings_s", {}),
            "training": {"rows": int(m["n_training_rows"]),
                         "columns": int(tables[0].shape[1]) if tables else 0,
                         "driver_mb": round(sum(int(t.memory_usage(deep=True).sum())
                                                for t in tables) / 2**20, 1),
                         "model_fit_rows_cap": analysis.model.max_train_rows}}


def _run_worker(engine, world, out, args) -> dict:
    """One engine on one world in a fresh process (under flock when asked), stopped by
    ``timeout`` after ``args.timeout`` seconds of running (the wait for the lock does not
    count); ``timeout`` ends the worker's whole process group, its JVM too."""
    command = ["timeout", "-s", "KILL", str(args.timeout), sys.executable, __file__,
               "--master", args.master,
               *[x for kv in args.spark_conf for x in ("--spark-conf", kv)],
               "--worker", engine, str(world), str(out)]
    if args.lock:
        command = ["flock", str(args.lock), *command]
    progress = out / "progress.json"
    progress.unlink(missing_ok=True)
    load_before, commit = os.getloadavg(), _commit()  # as the worker is started
    began = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    timed_out = proc.returncode in (124, 137, -9)
    result = {"commit": commit,
              "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()],
              "elapsed_with_lock_wait_s": round(time.perf_counter() - began, 1)}
    if proc.returncode == 0:
        result.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        return result
    partial = json.loads(progress.read_text()) if progress.exists() else {}
    result.update({"engine": engine, "error": ("timed out after %d s" % args.timeout
                                               if timed_out else
                                               (proc.stderr.strip().splitlines() or ["?"])[-1]),
                   "stages": partial.get("stages", {}),
                   "unfinished_stage": partial.get("running")})
    return result


def _commit() -> str:
    """The library's git commit (``+dirty`` with uncommitted changes to graphchurn/)."""
    def git(*a):
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout
    return git("rev-parse", "--short", "HEAD").strip() + (
        "+dirty" if git("status", "--porcelain", "graphchurn").strip() else "")


def _world(folder: Path) -> dict:
    import pyarrow.parquet as pq

    with open(folder / "customers.csv") as f:
        customers = sum(1 for _ in f) - 1
    return {"world": str(folder), "customers": customers,
            "rows": pq.ParquetFile(folder / "interactions.parquet").metadata.num_rows}


def _agreement(a_dir: Path, b_dir: Path, a: dict, b: dict) -> dict:
    import pandas as pd
    from scipy.stats import spearmanr
    from sklearn.metrics import normalized_mutual_info_score

    x = pd.read_csv(a_dir / "scores.csv", dtype={"customer_id": str}).set_index("customer_id")
    y = pd.read_csv(b_dir / "scores.csv", dtype={"customer_id": str}).set_index("customer_id")
    y = y.reindex(x.index)
    return {"spearman": float(spearmanr(x["churn_probability"], y["churn_probability"],
                                        nan_policy="omit").correlation),
            "roc_auc_difference": abs(a["roc_auc"] - b["roc_auc"]),
            "communities_nmi": float(normalized_mutual_info_score(
                x["community"], y["community"].fillna(-1)))}


def _peak(stages: dict, key: str) -> float:
    return max((s[key] for s in stages.values()), default=0.0)


def write_results(doc: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_spark.json").write_text(json.dumps(doc, indent=1))
    lines = [f"# bench_spark (Spark local mode, {doc['master']})", "",
             f"Machine: {doc['machine']}. Shared with other jobs: the load average (1, 5, 15 "
             "min) before and after each run is given. Python driver = the analysing process "
             "(what a cluster's driver holds); JVM = Spark's JVM with its Python workers "
             "(local mode: driver and executors in one, heap capped by "
             "spark.driver.memory).", "",
             "| customers | rows | engine | wall s | Python driver peak MB | JVM peak MB | "
             "ties | training rows | training tables MB | ROC-AUC | load before -> after |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in doc["runs"]:
        for engine in ENGINES:
            e = r.get(engine)
            if not e:
                continue
            load = (f"{e['load_before'][0]} -> {e['load_after'][0]}" if "load_before" in e
                    else "not recorded")
            if "error" in e:
                lines.append(f"| {r['customers']:,} | {r['rows']:,} | {engine} | "
                             f"{e['error']} (stopped in: {e.get('unfinished_stage')}) | "
                             f"{_peak(e['stages'], 'python_driver_peak_mb')} | "
                             f"{_peak(e['stages'], 'jvm_peak_mb')} | | | | | {load} |")
                continue
            training = e.get("training", {})
            lines.append(f"| {r['customers']:,} | {r['rows']:,} | {engine} | {e['wall_s']} | "
                         f"{_peak(e['stages'], 'python_driver_peak_mb')} | "
                         f"{_peak(e['stages'], 'jvm_peak_mb')} | {e['graph']['edges']:,} | "
                         f"{format(training['rows'], ',') if training else ''} | "
                         f"{training.get('driver_mb', '')} | "
                         f"{e['roc_auc']:.4f} | {load} |")
    lines += ["", "Runs (library commit, command):", ""]
    for r in doc["runs"]:
        for engine in ENGINES:
            e = r.get(engine)
            if e:
                lines.append(f"- {r['customers']:,} {engine}: {e.get('commit', '?')}, "
                             f"`{e.get('command', doc['command'])}`"
                             + (f", Spark settings {e['spark_conf']}" if "spark_conf" in e
                                else "") + (f" ({e['note']})" if e.get("note") else ""))
    lines += ["", "Per stage (wall s / Python driver peak MB / JVM peak MB):", ""]
    for r in doc["runs"]:
        for engine in ENGINES:
            e = r.get(engine) or {}
            for name, s in e.get("stages", {}).items():
                if name == "start":
                    continue
                lines.append(f"- {r['customers']:,} {engine} {name}: {s['wall_s']} s, "
                             f"{s['python_driver_peak_mb']} MB, {s['jvm_peak_mb']} MB")
            if e.get("spark_timings_s"):
                lines.append(f"- {r['customers']:,} {engine} Spark jobs (s): "
                             + ", ".join(f"{k} {v}" for k, v in e["spark_timings_s"].items()))
        if "agreement" in r:
            lines.append(f"- {r['customers']:,} agreement: {r['agreement']}")
        if "agreement_executors" in r:
            lines.append(f"- {r['customers']:,} agreement, features on the executors (two-hop "
                         f"influence) against the local engine (RR sets): "
                         f"{r['agreement_executors']}")
    earlier = [(r, e) for r in doc["runs"] for e in r.get("earlier", [])]
    if earlier:
        lines += ["", "Earlier runs, replaced by a rerun above (kept for before / after):", ""]
    for r, e in earlier:
        training = e.get("training", {})
        load = (f"{e['load_before'][0]} -> {e['load_after'][0]}" if "load_before" in e
                else "not recorded")
        lines.append(f"- {r['customers']:,} {e['engine']} ({e.get('commit', '?')}, Spark "
                     f"settings {e.get('spark_conf')}, load {load}): {e['wall_s']} s, Python "
                     f"driver peak {_peak(e['stages'], 'python_driver_peak_mb')} MB, JVM peak "
                     f"{_peak(e['stages'], 'jvm_peak_mb')} MB, {e['graph']['edges']:,} ties, "
                     f"ROC-AUC {e['roc_auc']:.4f}"
                     + (f", training tables {training['driver_mb']} MB" if training else "")
                     + (f", agreement {e['agreement']}" if "agreement" in e else "")
                     + (f". {e['note']}" if e.get("note") else ""))
        for name, st in e.get("stages", {}).items():
            if name != "start":
                lines.append(f"  - {name}: {st['wall_s']} s, {st['python_driver_peak_mb']} MB, "
                             f"{st['jvm_peak_mb']} MB")
    failed = [(r, e) for r in doc["runs"] for e in r.get("failed", [])]
    if failed:
        lines += ["", "Earlier attempts that did not finish (kept for the record):", ""]
    for r, e in failed:
        done = [k for k in e.get("stages", {}) if k != "start"]
        lines.append(f"- {r['customers']:,} {e['engine']} ({e.get('commit', '?')}, Spark "
                     f"settings {e.get('spark_conf')}, load {e['load_before'][0]} -> "
                     f"{e['load_after'][0]}): {e['error']}; stages done: "
                     f"{', '.join(done) or 'none'}; stopped in: {e.get('unfinished_stage')}"
                     + (f". {e['note']}" if e.get("note") else ""))
    lines += ["", "Reproduce: the commands above (worlds: `graphchurn generate --customers N "
              "--days 90 --seed 1 --format parquet --out /work/data/w<N>_d90`); in local mode "
              "a 100M-row log needs `--spark-conf spark.driver.memory=6g --spark-conf "
              "spark.sql.files.maxPartitionBytes=33554432` (with 4g the JVM ran out of "
              "memory caching it)."]
    (RESULTS / "bench_spark.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worlds", type=Path, nargs="*", default=[])
    parser.add_argument("--sizes", type=int, nargs="*", default=[])
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench_spark"))
    parser.add_argument("--work", type=Path, default=None,
                        help="where the engines' outputs go (default: --data)")
    parser.add_argument("--engines", nargs="+", default=["local", "spark"], choices=ENGINES,
                        help="spark-executors: the Spark engine with features_on='executors'")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--lock", type=Path, default=None)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--merge", action="store_true",
                        help="keep the results file's other worlds and engines")
    parser.add_argument("--note", default=None,
                        help="a sentence kept with this run's rows (what changed)")
    parser.add_argument("--report", action="store_true",
                        help="only rewrite bench_spark.md from bench_spark.json")
    parser.add_argument("--worker", nargs=3, metavar=("ENGINE", "WORLD", "OUT"))
    args = parser.parse_args()
    if args.report:
        write_results(json.loads((RESULTS / "bench_spark.json").read_text()))
        return
    conf = {"spark.driver.memory": "4g"}
    conf.update(dict(kv.split("=", 1) for kv in args.spark_conf))
    if args.worker:
        engine, world, out = args.worker
        print(json.dumps(worker(engine, Path(world), Path(out), args.master, conf)))
        return

    from graphchurn.synth import generate_world
    from graphchurn.synth.world import write_world

    worlds = list(args.worlds)
    for size in args.sizes:
        folder = args.data / f"w{size}"
        if not (folder / "interactions.parquet").exists():
            write_world(generate_world(n_customers=size, days=120, seed=0), folder,
                        fmt="parquet")
        worlds.append(folder)
    work = args.work or args.data
    previous = RESULTS / "bench_spark.json"
    doc = (json.loads(previous.read_text()) if args.merge and previous.exists()
           else {"runs": []})
    doc.update({"master": args.master, "spark_conf": conf,
                "machine": f"{os.cpu_count()} cores, {platform.machine()}",
                "command": "nice -n 19 .venv/bin/python experiments/bench_spark.py "
                           + " ".join(sys.argv[1:])})
    for folder in worlds:
        info = _world(folder)
        run = next((r for r in doc["runs"] if r.get("world") == info["world"]), None)
        if run is None:
            run = dict(info)
            doc["runs"].append(run)
        run.update(info)
        for engine in args.engines:
            out = work / f"out_{engine}_{folder.name}"
            print(f"{engine} on {folder} ...", flush=True)
            previous = run.get(engine)
            if previous:
                # A rerun replaces the row, and the run it replaces stays in the file: the
                # before of a before / after comparison.
                if "error" in previous:
                    run.setdefault("failed", []).append(previous)
                else:
                    key = {"spark": "agreement",
                           "spark-executors": "agreement_executors"}.get(engine)
                    if key in run:
                        previous["agreement"] = run.pop(key)
                    run.setdefault("earlier", []).append(previous)
            run[engine] = _run_worker(engine, folder, out, args)
            run[engine]["command"] = doc["command"]
            if args.note:
                run[engine]["note"] = args.note
            if engine in SPARK:
                run[engine]["spark_conf"] = conf
            print(json.dumps(run[engine])[:2000], flush=True)
            write_results(doc)
        for engine, key in (("spark", "agreement"), ("spark-executors", "agreement_executors")):
            if "stages" in run.get("local", {}) and "error" not in run.get("local", {}) and \
                    "error" not in run.get(engine, {"error": 1}) and engine in args.engines:
                run[key] = _agreement(work / f"out_local_{folder.name}",
                                      work / f"out_{engine}_{folder.name}",
                                      run["local"], run[engine])
                write_results(doc)


if __name__ == "__main__":
    main()
