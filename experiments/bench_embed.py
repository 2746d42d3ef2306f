"""Benchmark: time and peak memory of GraphSAGE and node2vec embeddings on large random graphs.

The graph is a Chung-Lu random graph (Chung & Lu 2002) with power-law expected degrees: each
edge's two endpoints are drawn independently with probability proportional to a node's target
weight (Pareto tail, degree exponent 2.5), self-loops and repeats dropped. Tie strengths are
log-normal; node features are log(1 + degree) plus Gaussian noise columns; churn labels are
random (10 %), which is enough to time training.

Each (size, method) runs in its own subprocess so that peak RSS (``ru_maxrss``) belongs to that
run alone; the RSS after building the graph is reported beside it.

Run:  nice .venv/bin/python experiments/bench_embed.py [--sizes 100000 1000000] [--threads 2]
Writes experiments/results/bench_embed.json and bench_embed.md.
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

RESULTS = Path(__file__).resolve().parent / "results"
AVG_UNDIRECTED_DEGREE = 10  # 1M nodes -> ~5M undirected edges
N_FEATURES = 8


def chung_lu_graph(n_nodes: int, n_edges: int, exponent: float = 2.5, seed: int = 0):
    """Random power-law graph as a PyG ``Data`` (both edge directions, tie strengths, x, y).

    Expected degrees follow a Pareto law with degree exponent ``exponent`` (capped at
    sqrt(sum of weights), as Chung-Lu requires); endpoints are sampled in one vectorised draw.
    """
    import torch
    from torch_geometric.data import Data

    rng = np.random.default_rng(seed)
    target = 1.0 + rng.pareto(exponent - 1.0, n_nodes)
    target = np.minimum(target, np.sqrt(target.sum()))
    cumulative = np.cumsum(target / target.sum())
    draws = int(n_edges * 1.15)
    ends = np.searchsorted(cumulative, rng.random((2, draws)) * cumulative[-1], side="right")
    ends = np.minimum(ends, n_nodes - 1)
    lo, hi = np.minimum(ends[0], ends[1]), np.maximum(ends[0], ends[1])
    keys = np.unique((lo * n_nodes + hi)[lo != hi])
    if keys.size > n_edges:
        keys = rng.choice(keys, n_edges, replace=False)
    src, dst = keys // n_nodes, keys % n_nodes
    weight = rng.lognormal(0.0, 1.0, src.size).astype(np.float32)
    degree = np.bincount(src, minlength=n_nodes) + np.bincount(dst, minlength=n_nodes)
    x = np.column_stack([np.log1p(degree), rng.normal(size=(n_nodes, N_FEATURES - 1))]).astype(np.float32)
    y = (rng.random(n_nodes) < 0.1).astype(np.float32)
    return Data(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])])),
        edge_weight=torch.from_numpy(np.concatenate([weight, weight])),
        y=torch.from_numpy(y),
        train_mask=torch.ones(n_nodes, dtype=torch.bool),
        num_nodes=n_nodes,
    )


def _rss_now_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_one(n_nodes: int, method: str, epochs: int, threads: int) -> dict:
    """One measurement, in this process (called by the child)."""
    from graphchurn.models.embed import GraphSAGEEmbedder, Node2VecEmbedder

    start = time.perf_counter()
    data = chung_lu_graph(n_nodes, n_nodes * AVG_UNDIRECTED_DEGREE // 2)
    out = {
        "nodes": n_nodes,
        "undirected_edges": int(data.edge_index.size(1) // 2),
        "method": method,
        "epochs": epochs,
        "threads": threads,
        "graph_build_s": round(time.perf_counter() - start, 2),
        "rss_after_graph_mb": round(_rss_now_mb(), 1),
    }
    if method == "graphsage":
        # epochs=0 times the one-off part of fit (standardising, sorting the edges, building
        # the CSC/CSR caches), so the per-epoch cost can be read off.
        start = time.perf_counter()
        GraphSAGEEmbedder(epochs=0, n_jobs=threads).fit(data)
        out["setup_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        model = GraphSAGEEmbedder(epochs=epochs, objective="supervised", seed=0, n_jobs=threads).fit(data)
        out["fit_s"] = round(time.perf_counter() - start, 2)
        out["per_epoch_s"] = round((out["fit_s"] - out["setup_s"]) / max(epochs, 1), 2)
        out["default_epochs"] = GraphSAGEEmbedder().epochs
        out["default_fit_estimate_s"] = round(out["setup_s"] + out["default_epochs"] * out["per_epoch_s"], 1)
        start = time.perf_counter()
        z = model.transform(data)
        out["transform_s"] = round(time.perf_counter() - start, 2)
        out["final_loss"] = round(model.loss_history_[-1], 4)
    else:
        start = time.perf_counter()
        model = Node2VecEmbedder(epochs=epochs, seed=0, n_jobs=threads)
        z = model.fit_transform(data)
        out["fit_s"] = round(time.perf_counter() - start, 2)
        out["per_epoch_s"] = round(out["fit_s"] / epochs, 2)
        out["final_loss"] = round(model.loss_history_[-1], 4)
        # Sanity check of what was learned: edges should score above random pairs.
        rng = np.random.default_rng(1)
        edges = data.edge_index.numpy()[:, rng.integers(0, data.edge_index.size(1), 100_000)]
        pairs = rng.integers(0, n_nodes, (2, 100_000))
        score = np.r_[(z[edges[0]] * z[edges[1]]).sum(1), (z[pairs[0]] * z[pairs[1]]).sum(1)]
        truth = np.r_[np.ones(edges.shape[1]), np.zeros(pairs.shape[1])]
        from sklearn.metrics import roc_auc_score

        out["edge_vs_random_pair_auc"] = round(float(roc_auc_score(truth, score)), 4)
    out["embedding_shape"] = list(z.shape)
    out["embedding_finite"] = bool(np.isfinite(z).all())
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=1, help="n_jobs of the embedders (default: theirs, 1)")
    parser.add_argument("--sage-epochs", type=int, default=2)
    parser.add_argument("--node2vec-epochs", type=int, default=1)
    parser.add_argument("--child", nargs=3, metavar=("NODES", "METHOD", "EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        nodes, method, epochs = args.child
        print(json.dumps(run_one(int(nodes), method, int(epochs), args.threads)))
        return

    runs = []
    for nodes in args.sizes:
        for method, epochs in (("graphsage", args.sage_epochs), ("node2vec", args.node2vec_epochs)):
            command = [sys.executable, __file__, "--threads", str(args.threads), "--child", str(nodes), method, str(epochs)]
            print(f"running {method} on {nodes:,} nodes ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                sys.stderr.write(done.stderr)
                raise SystemExit(f"{method} on {nodes} nodes failed")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["process_wall_s"] = round(time.perf_counter() - start, 2)
            print(json.dumps(result), file=sys.stderr, flush=True)
            runs.append(result)

    report = {
        "description": "GraphSAGEEmbedder (supervised, full batch, random labels) and Node2VecEmbedder "
        "(default walk settings) on Chung-Lu power-law graphs; wall-clock seconds and peak RSS per run",
        "machine": {
            "cpus_visible": os.cpu_count(),
            "threads_used": args.threads,
            "python": platform.python_version(),
            "load_average_at_end": list(os.getloadavg()),
        },
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    _write(RESULTS / "bench_embed.json", json.dumps(report, indent=2) + "\n")
    _write(RESULTS / "bench_embed.md", _markdown(report))


def _markdown(report: dict) -> str:
    lines = [
        "# Embedding benchmark (`experiments/bench_embed.py`)",
        "",
        report["description"] + ".",
        f"Threads: {report['machine']['threads_used']}; load average at the end: "
        f"{', '.join(f'{v:.1f}' for v in report['machine']['load_average_at_end'])} "
        "(the machine is shared, so times are upper bounds).",
        "",
        "| nodes | undirected edges | method | epochs | setup s | fit s | per epoch s | transform s "
        "| graph RSS MB | peak RSS MB |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in report["runs"]:
        lines.append(
            f"| {run['nodes']:,} | {run['undirected_edges']:,} | {run['method']} | {run['epochs']} | "
            f"{run.get('setup_s', '-')} | {run['fit_s']} | {run['per_epoch_s']} | {run.get('transform_s', '-')} | "
            f"{run['rss_after_graph_mb']} | {run['peak_rss_mb']} |"
        )
    lines += [
        "",
        "- *setup*: the one-off part of a GraphSAGE fit (standardise features, sort edges by target,",
        "  build the CSC/CSR caches); *fit* includes it. *graph RSS*: the process after building the",
        "  graph, before embedding; *peak RSS*: `ru_maxrss` of that run's own process.",
    ]
    for run in report["runs"]:
        if "edge_vs_random_pair_auc" in run:
            lines.append(
                f"- node2vec on {run['nodes']:,} nodes: dot products of the embeddings rank 100k sampled "
                f"edges above 100k random node pairs with AUC {run['edge_vs_random_pair_auc']}."
            )
        if "default_fit_estimate_s" in run:
            lines.append(
                f"- GraphSAGE with the default {run['default_epochs']} epochs on {run['nodes']:,} nodes: "
                f"about {run['default_fit_estimate_s']} s (setup + epochs x per-epoch time)."
            )
    lines.append("")
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
