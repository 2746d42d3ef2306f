"""Graph algorithms on Spark DataFrames (graphchurn.engines.spark_graph) against igraph / numpy
on the driver, on a generator world's tie graph: wall time, memory and agreement.

The tie graph: the whole log of a world (``interactions.parquet``, 90 days), aggregated with
pandas into one row per pair with the engine's tie weight ``sum(1 + log1p(minutes))``, the ends
coded as ranks in the sorted identifiers (as :func:`graphchurn.engines.spark.cutoff_aggregates`
codes them). Departed: the customers whose ``churn_date`` falls in the last 30 days of the log
(the recent departures of the exposure features). This is done once per world in a worker of
its own (``prepare``) and written under ``--scratch``.

Then, each in a fresh process (so that one's memory does not count in the other's):

- ``local``: igraph on the driver: the graph built from the tie table, PageRank
  (``graph.pagerank(directed=False, weights=w)``, one thread, as roles.py), Leiden
  (:func:`graphchurn.social.communities.detect_communities`, the local engine's communities),
  igraph's label propagation (asynchronous, for reference), exposure
  (:func:`graphchurn.features.exposure.exposure`) and two-hop influence
  (:func:`graphchurn.social.roles.khop_influence_spread`);
- ``spark``: Spark local mode (``--master``, default ``local[2]``) reading the same tie table
  from Parquet: :func:`pagerank`, :func:`label_propagation`, :func:`exposure_shares`,
  :func:`khop_influence`, each stage ending with its result written to Parquet (the action).

A sampler thread reads, every 0.1 s, the resident set of the worker (the Python driver) and of
its descendants (the JVM in the Spark worker); each stage's peak is the largest sample while it
ran. The parent compares the two workers' outputs by vertex: max |PageRank difference|, NMI of
the Spark label propagation against Leiden (and igraph's label propagation against Leiden,
the same comparison for the algorithm on the driver), and the largest exposure and influence
differences. Load averages before and after each worker, the library's commit and the command
are recorded.

Run:  nice -n 10 .venv/bin/python experiments/bench_spark_graph.py --worlds /work/data/w100k_d90 \\
          --scratch /work/scratch/sparkgraph --lock /work/scratch/bigmem.lock
Writes experiments/results/bench_spark_graph.json and bench_spark_graph.md.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_spark import _commit, _descendants, _rss_mb

RECENT_DAYS = 30


class _Sampler:
    """Peak RSS of this process and of its descendants, per named stage."""

    def __init__(self):
        self.stages, self._stop = [], False
        self.py = self.jvm = 0.0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        me = os.getpid()
        while not self._stop:
            self.py = max(self.py, _rss_mb([me]))
            self.jvm = max(self.jvm, _rss_mb(_descendants(me)))
            time.sleep(0.1)

    def stage(self, name):
        sampler = self

        class _Stage:
            def __enter__(self):
                sampler.py = _rss_mb([os.getpid()])
                sampler.jvm = 0.0
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                time.sleep(0.15)  # one more sample after the stage's last allocation
                sampler.stages.append({"stage": name,
                                       "wall_s": round(time.perf_counter() - self.t, 2),
                                       "python_peak_mb": round(sampler.py, 1),
                                       "jvm_peak_mb": round(sampler.jvm, 1)})
        return _Stage()


# ---------------------------------------------------------------------------------- workers
def prepare(world: Path, scratch: Path) -> dict:
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    log = pq.read_table(world / "interactions.parquet",
                        columns=["src", "dst", "timestamp", "duration"]).to_pandas()
    end = log["timestamp"].max().normalize() + pd.Timedelta(days=1)
    codes, ids = pd.factorize(pd.concat([log["src"], log["dst"]], ignore_index=True))
    order = np.argsort(ids.to_numpy(dtype=str), kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    n_rows = len(log)
    a, b = rank[codes[:n_rows]], rank[codes[n_rows:]]
    weight = 1.0 + np.log1p(log["duration"].fillna(0.0).to_numpy() / 60.0)
    del log, codes
    keep = a != b
    n = len(ids)
    key = np.minimum(a, b)[keep] * n + np.maximum(a, b)[keep]
    pairs = pd.Series(weight[keep]).groupby(key).sum()
    ties = pd.DataFrame({"u": pairs.index.to_numpy() // n, "v": pairs.index.to_numpy() % n,
                         "weight": pairs.to_numpy()})
    # Only the ends of ties are vertices (a customer of the table without a tie has none).
    used = np.unique(np.concatenate([ties["u"].to_numpy(), ties["v"].to_numpy()]))
    remap = np.full(n, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    ties["u"], ties["v"] = remap[ties["u"]], remap[ties["v"]]
    sorted_ids = ids.to_numpy(dtype=str)[order][used]
    customers = pd.read_csv(world / "customers.csv", dtype={"customer_id": str},
                            usecols=["customer_id", "churn_date"], parse_dates=["churn_date"])
    recent = customers[(customers["churn_date"] > end - pd.Timedelta(days=RECENT_DAYS))
                       & (customers["churn_date"] <= end)]["customer_id"].to_numpy(dtype=str)
    at = np.searchsorted(sorted_ids, recent)
    found = (at < sorted_ids.size) & (sorted_ids[np.minimum(at, sorted_ids.size - 1)] == recent)
    departed = pd.DataFrame({"id": at[found].astype(np.int64)})
    scratch.mkdir(parents=True, exist_ok=True)
    ties.to_parquet(scratch / "ties.parquet", index=False)
    departed.to_parquet(scratch / "departed.parquet", index=False)
    return {"log_rows": n_rows, "vertices": int(used.size), "ties": len(ties),
            "departed": len(departed), "end": str(end.date())}


def run_local(scratch: Path, sampler: _Sampler) -> dict:
    import igraph as ig
    import numpy as np
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from graphchurn.features.exposure import exposure
    from graphchurn.social.communities import detect_communities
    from graphchurn.social.roles import khop_influence_spread

    with sampler.stage("read ties (pandas)"):
        ties = pd.read_parquet(scratch / "ties.parquet")
        departed_ids = pd.read_parquet(scratch / "departed.parquet")["id"].to_numpy()
    with sampler.stage("build igraph"):
        n = int(max(ties["u"].max(), ties["v"].max())) + 1
        g = ig.Graph(n=n, edges=np.column_stack([ties["u"], ties["v"]]))
        w = ties["weight"].to_numpy()
        g.es["weight"] = w
    out = pd.DataFrame(index=pd.RangeIndex(n, name="id"))
    with sampler.stage("pagerank"), threadpool_limits(limits=1, user_api="openmp"):
        out["pagerank"] = np.asarray(g.pagerank(directed=False, weights=w.tolist()))
    with sampler.stage("leiden"):
        out["leiden"] = detect_communities(g, seed=0)
    with sampler.stage("label propagation (igraph)"):
        out["lpa_igraph"] = np.asarray(g.community_label_propagation(weights="weight").membership)
    with sampler.stage("exposure"):
        mask = np.zeros(n, dtype=bool)
        mask[departed_ids] = True
        ex = exposure(g, mask, weights=w)
        for c in ["share_to_departed", "n_departed_contacts", "max_tie_share_departed"]:
            out[c] = ex[c].to_numpy()
    with sampler.stage("khop influence"):
        out["influence_spread"] = khop_influence_spread(g, hops=2, weights=w)
    out.reset_index().to_parquet(scratch / "local.parquet", index=False)
    return {}


def run_spark(scratch: Path, sampler: _Sampler, master: str, driver_memory: str) -> dict:
    from graphchurn.engines.spark import spark_session
    from graphchurn.engines.spark_graph import (
        exposure_shares,
        khop_influence,
        label_propagation,
        pagerank,
    )

    notes = []

    class _Notes(logging.Handler):
        def emit(self, record):
            notes.append(record.getMessage())
    logging.getLogger("graphchurn").addHandler(_Notes())
    logging.getLogger("graphchurn").setLevel(logging.INFO)

    with sampler.stage("start Spark"):
        spark = spark_session(master, {"spark.driver.memory": driver_memory})
    out = scratch / "spark"
    with sampler.stage("read ties (Spark, cached)"):
        ties = spark.read.parquet(str(scratch / "ties.parquet")).cache()
        ties.count()
        departed = spark.read.parquet(str(scratch / "departed.parquet"))
    with sampler.stage("pagerank"):
        pagerank(ties).write.mode("overwrite").parquet(str(out / "pagerank"))
    with sampler.stage("label propagation"):
        label_propagation(ties, seed=0).write.mode("overwrite").parquet(str(out / "lpa"))
    with sampler.stage("exposure"):
        exposure_shares(ties, departed).write.mode("overwrite").parquet(str(out / "exposure"))
    with sampler.stage("khop influence"):
        khop_influence(ties, hops=2).write.mode("overwrite").parquet(str(out / "khop"))
    spark.stop()
    return {"notes": notes}


def compare(scratch: Path) -> dict:
    import numpy as np
    import pandas as pd
    from sklearn.metrics import normalized_mutual_info_score as nmi

    local = pd.read_parquet(scratch / "local.parquet").set_index("id")

    def read(name):
        return pd.read_parquet(scratch / "spark" / name).set_index("id").reindex(local.index)

    pr, lpa, ex, kh = read("pagerank"), read("lpa"), read("exposure"), read("khop")
    diff = (pr["pagerank"] - local["pagerank"]).abs()
    coarse, other_seed = _leiden_on_contracted(scratch, local.index, lpa["community"].to_numpy())
    return {
        # The reference for the two NMIs below: Leiden against itself with another seed.
        "leiden_seed1_vs_seed0_nmi": float(nmi(local["leiden"], other_seed)),
        # What a driver holding only the communities' graph would get: Leiden on the graph of
        # the Spark label-propagation communities (ties between two communities summed, those
        # inside one kept as a self-loop), each vertex given its community's group.
        "lpa_contracted_vertices": int(lpa["community"].nunique()),
        "lpa_then_leiden_vs_leiden_nmi": float(nmi(local["leiden"], coarse)),
        "pagerank_max_abs_diff": float(diff.max()),
        "pagerank_max_rel_diff": float((diff / local["pagerank"]).max()),
        "pagerank_l1_diff": float(diff.sum()),
        "lpa_spark_vs_leiden_nmi": float(nmi(local["leiden"], lpa["community"])),
        "lpa_igraph_vs_leiden_nmi": float(nmi(local["leiden"], local["lpa_igraph"])),
        "lpa_spark_vs_igraph_lpa_nmi": float(nmi(local["lpa_igraph"], lpa["community"])),
        "communities": {"leiden": int(local["leiden"].nunique()),
                        "lpa_spark": int(lpa["community"].nunique()),
                        "lpa_igraph": int(local["lpa_igraph"].nunique())},
        "largest_community_share": {
            "leiden": float(local["leiden"].value_counts(normalize=True).iloc[0]),
            "lpa_spark": float(lpa["community"].value_counts(normalize=True).iloc[0]),
            "lpa_igraph": float(local["lpa_igraph"].value_counts(normalize=True).iloc[0])},
        "exposure_max_abs_diff": {c: float(np.abs(ex[c] - local[c]).max())
                                  for c in ["share_to_departed", "n_departed_contacts",
                                            "max_tie_share_departed"]},
        "khop_max_abs_diff": float((kh["influence_spread"] - local["influence_spread"])
                                   .abs().max()),
        "missing_in_spark": int(pr["pagerank"].isna().sum()),
    }


def _leiden_on_contracted(scratch, index, community):
    import igraph as ig
    import numpy as np
    import pandas as pd

    from graphchurn.social.communities import detect_communities

    ties = pd.read_parquet(scratch / "ties.parquet")
    codes, groups = pd.factorize(community)
    position = pd.Series(np.arange(len(index)), index=index)
    a = codes[position[ties["u"]].to_numpy()]
    b = codes[position[ties["v"]].to_numpy()]
    pairs = (pd.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b),
                           "weight": ties["weight"].to_numpy()})
             .groupby(["a", "b"], as_index=False)["weight"].sum())
    g = ig.Graph(n=len(groups), edges=pairs[["a", "b"]].to_numpy())
    g.es["weight"] = pairs["weight"].to_numpy()
    full = ig.Graph(n=len(index), edges=ties[["u", "v"]].to_numpy())
    full.es["weight"] = ties["weight"].to_numpy()
    return detect_communities(g, seed=0)[codes], detect_communities(full, seed=1)


def worker(args) -> None:
    sampler = _Sampler()
    scratch = Path(args.scratch)
    if args.worker == "prepare":
        with sampler.stage("prepare"):
            info = prepare(Path(args.world), scratch)
    elif args.worker == "local":
        info = run_local(scratch, sampler)
    else:
        info = run_spark(scratch, sampler, args.master, args.driver_memory)
    json.dump({"stages": sampler.stages, **info}, sys.stdout)


# ---------------------------------------------------------------------------------- parent
def _run_worker(kind, world, scratch, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--world", str(world),
           "--scratch", str(scratch), "--master", args.master,
           "--driver-memory", args.driver_memory]
    if args.lock:
        cmd = ["flock", args.lock, *cmd]
    load_before = [round(x, 2) for x in os.getloadavg()]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"worker {kind} failed ({proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(load_before=load_before, load_after=[round(x, 2) for x in os.getloadavg()],
                  wall_s_with_start=round(time.perf_counter() - t, 1))
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="*", default=[])
    parser.add_argument("--scratch", default="/work/scratch/sparkgraph")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="3g")
    parser.add_argument("--lock")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--worker", choices=["prepare", "local", "spark"])
    parser.add_argument("--world")
    parser.add_argument("--compare-only", action="store_true",
                        help="recompute the agreement of the worlds' last run from --scratch")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    if args.compare_only:
        entries = json.loads((RESULTS / "bench_spark_graph.json").read_text())
        for e in entries:
            if e["world"] in [Path(w).name for w in args.worlds]:
                e["agreement"] = compare(Path(args.scratch) / e["world"])
        write(entries)
        return
    # Results are merged into the existing file by world: one world a run keeps the others.
    previous = RESULTS / "bench_spark_graph.json"
    entries = json.loads(previous.read_text()) if previous.exists() else []
    for world in map(Path, args.worlds):
        scratch = Path(args.scratch) / world.name
        entry = {"world": world.name, "commit": _commit(),
                 "command": " ".join([Path(sys.executable).name, *sys.argv])}
        for kind in ["prepare", "local", "spark"]:
            entry[kind] = _run_worker(kind, world, scratch, args)
            print(kind, json.dumps(entry[kind]), flush=True)
        entry["agreement"] = compare(scratch)
        print(json.dumps(entry["agreement"]), flush=True)
        entries = [e for e in entries if e["world"] != world.name] + [entry]
        write(entries)


def write(entries) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_spark_graph.json").write_text(json.dumps(entries, indent=1))
    lines = ["# Graph algorithms on Spark DataFrames against igraph on the driver", "",
             ("experiments/bench_spark_graph.py; see its docstring for what is measured. "
              "Spark: local[2] on a shared 2-core machine (load averages below), the Python "
              "driver holding no tie or vertex table. Local: igraph / numpy on the driver. "
              "Seconds are PageRank + communities + exposure (Spark: PageRank, label "
              "propagation, exposure; local: PageRank, Leiden, exposure); peaks are over the "
              "whole worker."), "",
             ("| world | vertices | ties | local s | Spark s | local Python peak MB | "
              "Spark Python peak MB | Spark JVM peak MB | PageRank max abs diff | "
              "NMI LPA (Spark) vs Leiden | NMI LPA (igraph) vs Leiden | NMI Leiden on LPA "
              "groups vs Leiden | NMI Leiden seed 1 vs seed 0 | exposure max diff | "
              "khop max diff |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def seconds(stages, names):
        return round(sum(x["wall_s"] for x in stages if x["stage"] in names), 1)

    for e in entries:
        p, a, lo, sp = e["prepare"], e["agreement"], e["local"]["stages"], e["spark"]["stages"]
        lines.append(
            f"| {e['world']} | {p['vertices']:,} | {p['ties']:,} | "
            f"{seconds(lo, ['pagerank', 'leiden', 'exposure'])} | "
            f"{seconds(sp, ['pagerank', 'label propagation', 'exposure'])} | "
            f"{max(x['python_peak_mb'] for x in lo)} | {max(x['python_peak_mb'] for x in sp)} | "
            f"{max(x['jvm_peak_mb'] for x in sp)} | {a['pagerank_max_abs_diff']:.1e} | "
            f"{a['lpa_spark_vs_leiden_nmi']:.3f} | {a['lpa_igraph_vs_leiden_nmi']:.3f} | "
            f"{a.get('lpa_then_leiden_vs_leiden_nmi', float('nan')):.3f} | "
            f"{a.get('leiden_seed1_vs_seed0_nmi', float('nan')):.3f} | "
            f"{max(a['exposure_max_abs_diff'].values()):.1e} | {a['khop_max_abs_diff']:.1e} |")
    lines.append("")
    for e in entries:
        p, a = e["prepare"], e["agreement"]
        lines += [(f"## {e['world']}: {p['vertices']:,} vertices, {p['ties']:,} ties "
                   f"({p['log_rows']:,} log rows), {p['departed']:,} departed"), "",
                  f"Commit {e['commit']}; command `{e['command']}`.", "",
                  "| engine | stage | wall s | Python driver peak MB | JVM peak MB |",
                  "|---|---|---:|---:|---:|"]
        for kind in ["local", "spark"]:
            for s in e[kind]["stages"]:
                lines.append(f"| {kind} | {s['stage']} | {s['wall_s']} | "
                             f"{s['python_peak_mb']} | {s['jvm_peak_mb'] or ''} |")
        for kind in ["prepare", "local", "spark"]:
            lines.append(f"\nLoad averages ({kind} worker): before {e[kind]['load_before']}, "
                         f"after {e[kind]['load_after']}; worker wall "
                         f"{e[kind]['wall_s_with_start']} s with its start.")
        if e["spark"].get("notes"):
            lines.append("\nSpark log: " + "; ".join(e["spark"]["notes"]) + ".")
        lines += ["", "Agreement (Spark against the driver, by vertex):", "",
                  "```", json.dumps(a, indent=1), "```", ""]
    (RESULTS / "bench_spark_graph.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
