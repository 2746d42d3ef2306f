"""Spark engine benchmark (local mode): wall time and driver memory per stage, against the
local engine in the same run, and the two engines' agreement.

For each size (customers) a generator world (120 days, seed 0, Parquet) is made once under
``--data`` as ``w<size>``. Then each engine analyses it in a fresh process (``--worker``),
embeddings off (as at scale). A sampler thread reads, every 0.1 s, the resident set of the
Python driver and (Spark engine) of the JVM it started; each stage's peak is the largest
sample while the stage ran (stage = the pipeline's progress lines: reading, features at each
cut-off, models, outputs). In local mode the JVM is driver *and* executors, so its memory is
not the cluster driver's; the Python driver's is (it holds the aggregated tables, the graph
and the model, never the rows). The driver therefore grows with customers and ties, not with
rows: to see it stay flat as the log grows, compare worlds by rows per tie (the issue's 300k
vs 1M customers comparison also grows the ties, so it shows growth with ties).

Run:  nice -n 5 .venv/bin/python experiments/bench_spark.py [--sizes 2000 10000]
          [--data /tmp/bench_spark] [--master local[2]]
Writes experiments/results/bench_spark.json and bench_spark.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


class _StageMemory(logging.Handler):
    """Peak RSS (Python driver, JVM) and wall time per stage, stages from the progress lines."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.stage, self.began, self.stages = "start", time.perf_counter(), {}
        self.peak_py = self.peak_jvm = 0.0
        self._stop = False
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

    def _sample(self):
        me = os.getpid()
        while not self._stop:
            self.peak_py = max(self.peak_py, _rss_mb([me]))
            kids = [p for p in _children(me)]
            self.peak_jvm = max(self.peak_jvm, _rss_mb(kids))
            time.sleep(0.1)


def worker(engine: str, world: Path, out: Path, master: str) -> dict:
    from graphchurn.app.outputs import write_outputs
    from graphchurn.pipeline import AnalyzeConfig

    meter = _StageMemory()
    logging.getLogger("graphchurn").addHandler(meter)
    logging.getLogger("graphchurn").setLevel(logging.INFO)
    cfg = AnalyzeConfig(embeddings=False, engine=engine)
    began = time.perf_counter()
    meter.switch("read and validate")
    if engine == "spark":
        from graphchurn.engines.spark import analyze_spark, spark_session

        spark = spark_session(master, {"spark.driver.memory": "4g"})
        analysis = analyze_spark(str(world / "interactions.parquet"),
                                 str(world / "customers.csv"), cfg, spark=spark)
    else:
        from graphchurn.graph.customer_graph import encode_ids
        from graphchurn.io.readers import load_customers, load_interactions
        from graphchurn.pipeline import analyze

        customers = load_customers(world / "customers.csv")
        log = encode_ids(load_interactions(world / "interactions.parquet"), customers)
        analysis = analyze(log, customers, cfg)
    meter.switch("write outputs")
    write_outputs(analysis, out)
    meter.switch("end")
    m = analysis.metrics
    return {"engine": engine, "wall_s": round(time.perf_counter() - began, 2),
            "roc_auc": m["roc_auc"], "graph": m["graph"], "stages": meter.stages,
            "spark_timings_s": m.get("spark_timings_s", {})}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000])
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench_spark"))
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--worker", nargs=3, metavar=("ENGINE", "WORLD", "OUT"))
    args = parser.parse_args()
    if args.worker:
        engine, world, out = args.worker
        print(json.dumps(worker(engine, Path(world), Path(out), args.master)))
        return

    import pandas as pd
    from scipy.stats import spearmanr
    from sklearn.metrics import normalized_mutual_info_score

    from graphchurn.synth import generate_world
    from graphchurn.synth.world import write_world

    runs = []
    for size in args.sizes:
        world = args.data / f"w{size}"
        if not (world / "interactions.parquet").exists():
            write_world(generate_world(n_customers=size, days=120, seed=0), world, fmt="parquet")
        result = {"customers": size, "rows": int(pd.read_parquet(
            world / "interactions.parquet", columns=["src"]).shape[0])}
        for engine in ("local", "spark"):
            out = args.data / f"out_{engine}_{size}"
            proc = subprocess.run([sys.executable, __file__, "--master", args.master,
                                   "--worker", engine, str(world), str(out)],
                                  capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            if proc.returncode != 0:
                result[engine] = {"error": proc.stderr.strip().splitlines()[-1:]}
                continue
            result[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
        if "stages" in result.get("local", {}) and "stages" in result.get("spark", {}):
            a = pd.read_csv(args.data / f"out_local_{size}" / "scores.csv",
                            dtype={"customer_id": str}).set_index("customer_id")
            b = pd.read_csv(args.data / f"out_spark_{size}" / "scores.csv",
                            dtype={"customer_id": str}).set_index("customer_id").reindex(a.index)
            result["agreement"] = {
                "spearman": float(spearmanr(a["churn_probability"],
                                            b["churn_probability"]).correlation),
                "roc_auc_difference": abs(result["local"]["roc_auc"] - result["spark"]["roc_auc"]),
                "communities_nmi": float(normalized_mutual_info_score(a["community"],
                                                                      b["community"]))}
        runs.append(result)
        print(json.dumps(result, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_spark.json").write_text(json.dumps({"master": args.master, "runs": runs},
                                                         indent=1))
    lines = ["# bench_spark (local mode, " + args.master + ")", "",
             "| customers | rows | engine | wall s | Python driver peak MB | JVM peak MB |",
             "|---|---|---|---|---|---|"]
    for r in runs:
        for engine in ("local", "spark"):
            e = r.get(engine, {})
            if "stages" not in e:
                lines.append(f"| {r['customers']} | {r['rows']} | {engine} | error | | |")
                continue
            peak_py = max(s["python_driver_peak_mb"] for s in e["stages"].values())
            peak_jvm = max(s["jvm_peak_mb"] for s in e["stages"].values())
            lines.append(f"| {r['customers']} | {r['rows']} | {engine} | {e['wall_s']} | "
                         f"{peak_py} | {peak_jvm} |")
    lines += ["", "Per stage (wall s / Python driver peak MB / JVM peak MB):", ""]
    for r in runs:
        for engine in ("local", "spark"):
            for name, s in r.get(engine, {}).get("stages", {}).items():
                lines.append(f"- {r['customers']} {engine} {name}: {s['wall_s']} s, "
                             f"{s['python_driver_peak_mb']} MB, {s['jvm_peak_mb']} MB")
        if "agreement" in r:
            lines.append(f"- {r['customers']} agreement: {r['agreement']}")
    (RESULTS / "bench_spark.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
