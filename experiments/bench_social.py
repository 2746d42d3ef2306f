"""Benchmark: the social-structure stage on igraph/numpy vs the same steps in networkx.

The stage is: build the graph, find communities, score centralities, pick leaders and compute
susceptibility. Both implementations run on the same graphs -- the true social network
(``world.ties``) of generator worlds with 27,000 and 270,000 customers (about 150k and 1.5M
weighted edges; degree-corrected planted partition with heavy-tailed degrees) -- in a fresh
child process each, so that timings and memory do not leak between them.

Steps (like for like), ours vs networkx:

* build: ``igraph.Graph`` with name/weight attributes vs ``nx.Graph.add_weighted_edges_from``;
* communities: ``detect_communities(method="louvain")`` vs ``nx.community.louvain_communities``;
* centralities: ``influencer_scores`` without RIS (pagerank, eigenvector, strength, coreness,
  betweenness from k sources) vs ``pagerank``, ``eigenvector_centrality_numpy`` (on the giant
  component: networkx refuses disconnected graphs), weighted degree, ``core_number``,
  ``betweenness_centrality(k=...)``;
* leaders + susceptibility: ``leaders_and_followers`` + ``susceptibility`` vs the same rules
  over ``G.adjacency()`` in plain Python.

Betweenness uses the same number ``k`` of sampled sources and distances ``1 / weight`` on
both sides. Ours also runs two steps networkx has no counterpart for, reported apart and left
out of the ratios: Leiden (the default community method) and the RR-set influence spread
(20,000 sets).

Time: wall-clock per step. Memory: peak resident set size of the child up to the end of the
like-for-like steps minus its resident size just before building the graph (igraph and numpy
allocate outside Python's heap, so ``tracemalloc`` would miss them). The machine is shared
with other jobs, so absolute times are inflated and noisy; the two runs of one size are made
back to back. A networkx run that exceeds ``--timeout`` is stopped and only its finished steps
are reported.

Writes ``results/bench_social.{json,md,png}``. Run:
``nice python experiments/bench_social.py`` (tens of minutes; ``--sizes 27000`` for the
small graph only).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from graphchurn.io.atomic import atomic_write as write_atomic  # noqa: E402
import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = HERE / "data"
LIKE_FOR_LIKE = ["build", "communities", "centralities", "leaders_susceptibility"]
OURS_ONLY = ["leiden", "influence_spread"]


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


# ------------------------------------------------------------------------------------ graphs


def bench_graph(n_customers: int, seed: int = 0) -> Path:
    """Edge list of a generator world's social network, cached under experiments/data/."""
    path = DATA / f"bench_social_{n_customers}_{seed}.npz"
    if path.exists():
        return path
    import pandas as pd

    from graphchurn.synth.world import generate_world

    world = generate_world(n_customers=n_customers, days=1, seed=seed)
    codes, _ = pd.factorize(pd.concat([world.ties["a"], world.ties["b"]], ignore_index=True))
    m = len(world.ties)
    DATA.mkdir(parents=True, exist_ok=True)
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a handle, so numpy does not append ".npz"
            np.savez(handle, source=codes[:m].astype(np.int64),
                     target=codes[m:].astype(np.int64),
                     weight=world.ties["weight"].to_numpy(dtype=np.float64),
                     n=int(codes.max()) + 1)

    write_atomic(path, save)
    return path


# ------------------------------------------------------------------------------- child side


class StepLog:
    """Times steps and records peak memory; rewrites the JSON file after every step."""

    def __init__(self, path: Path, baseline_rss: int):
        self.path, self.baseline = path, baseline_rss
        self.record = {"steps": {}, "peak_rss_over_baseline": {}, "baseline_rss": baseline_rss}

    def run(self, name: str, step):
        start = time.perf_counter()
        result = step()
        seconds = time.perf_counter() - start
        self.record["steps"][name] = seconds
        self.record["peak_rss_over_baseline"][name] = peak_rss_bytes() - self.baseline
        write_atomic(self.path, lambda tmp: tmp.write_text(json.dumps(self.record)))
        return result


def child_ours(data, k: int, log_path: Path) -> None:
    import igraph

    from graphchurn.social.communities import detect_communities
    from graphchurn.social.roles import (
        influencer_scores,
        leaders_and_followers,
        reverse_reachable_sets,
        susceptibility,
    )

    source, target, weight, n = data
    log = StepLog(log_path, rss_bytes())

    def build():
        graph = igraph.Graph(n=n, edges=list(zip(source.tolist(), target.tolist())))
        graph.vs["name"] = [str(v) for v in range(n)]
        graph.es["weight"] = weight.tolist()
        return graph

    graph = log.run("build", build)
    membership = log.run("communities", lambda: detect_communities(graph, method="louvain"))
    scores = log.run("centralities", lambda: influencer_scores(
        graph, betweenness_samples=k, ris_samples=0))

    def leaders_susceptibility():
        roles = leaders_and_followers(graph, membership, scores)
        return susceptibility(graph, membership, roles)

    log.run("leaders_susceptibility", leaders_susceptibility)
    log.run("leiden", lambda: detect_communities(graph))
    log.run("influence_spread", lambda: reverse_reachable_sets(graph, 20_000))


def child_networkx(data, k: int, log_path: Path) -> None:
    import networkx as nx
    from scipy.stats import rankdata

    source, target, weight, n = data
    log = StepLog(log_path, rss_bytes())

    def build():
        graph = nx.Graph()
        graph.add_nodes_from(str(v) for v in range(n))
        graph.add_weighted_edges_from(
            zip(map(str, source.tolist()), map(str, target.tolist()), weight.tolist()))
        for _, _, attrs in graph.edges(data=True):
            attrs["distance"] = 1.0 / attrs["weight"]
        return graph

    graph = log.run("build", build)

    def communities():
        groups = nx.community.louvain_communities(graph, weight="weight", seed=0)
        return {v: label for label, members in enumerate(groups) for v in members}

    membership = log.run("communities", communities)

    def centralities():
        return {
            "pagerank": nx.pagerank(graph, weight="weight"),
            # networkx refuses disconnected graphs here; like igraph's result, take the
            # component with the largest eigenvalue (the giant one) and 0 elsewhere.
            "eigenvector": nx.eigenvector_centrality_numpy(
                graph.subgraph(max(nx.connected_components(graph), key=len)), weight="weight"),
            "strength": dict(graph.degree(weight="weight")),
            "coreness": nx.core_number(graph),
            "betweenness": nx.betweenness_centrality(graph, k=k, weight="distance", seed=0),
        }

    scores = log.run("centralities", centralities)

    def leaders_susceptibility():
        nodes = list(graph)
        ranks = [rankdata([scores[c][v] for v in nodes]) / len(nodes)
                 for c in ("pagerank", "strength", "coreness")]
        score = dict(zip(nodes, np.mean(ranks, axis=0).tolist()))
        groups: dict[int, list] = {}
        for v in nodes:
            groups.setdefault(membership[v], []).append(v)
        leaders = set()
        for members in groups.values():
            if len(members) >= 3:
                count = min(1 + len(members) // 50, len(members) - 1)
                leaders.update(sorted(members, key=score.__getitem__, reverse=True)[:count])
        table = {}
        for v, neighbours in graph.adjacency():
            total = to_group = to_leaders = 0.0
            for u, attrs in neighbours.items():
                w = attrs["weight"]
                total += w
                if membership[u] == membership[v]:
                    to_group += w
                    if u in leaders:
                        to_leaders += w
            s_l = to_leaders / total if total else 0.0
            e = to_group / total if total else 0.0
            table[v] = (s_l, e, 1.0 - (1.0 - s_l) * (1.0 - 0.25 * e))
        return table

    log.run("leaders_susceptibility", leaders_susceptibility)


def child_main(args) -> None:
    with np.load(args.graph) as z:
        data = (z["source"], z["target"], z["weight"], int(z["n"]))
    runner = child_ours if args.child == "ours" else child_networkx
    runner(data, args.k, args.log)


# ------------------------------------------------------------------------------ parent side


def run_child(impl: str, graph_path: Path, k: int, timeout: float, reuse: bool = False) -> dict:
    log_path = DATA / f"bench_social_{impl}_{graph_path.stem}.json"
    if reuse and log_path.exists():
        record = json.loads(log_path.read_text())
        if all(step in record["steps"] for step in LIKE_FOR_LIKE):
            record.update(timed_out=False, reused=True)
            return record
    log_path.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--child", impl, "--graph", str(graph_path),
               "--k", str(k), "--log", str(log_path)]
    start = time.perf_counter()
    error = None
    try:
        subprocess.run(command, check=True, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    except subprocess.CalledProcessError as failure:
        timed_out, error = False, f"child exited with status {failure.returncode}"
    record = json.loads(log_path.read_text()) if log_path.exists() else {"steps": {}}
    record.update(timed_out=timed_out, error=error, wall_seconds=time.perf_counter() - start)
    return record


def peak_memory(record: dict) -> int:
    """Peak RSS over baseline up to the last like-for-like step that finished."""
    peaks = record.get("peak_rss_over_baseline", {})
    return max([peaks[s] for s in LIKE_FOR_LIKE if s in peaks], default=0)


def summarise(runs: list[dict]) -> str:
    lines = [
        "# Social stage: igraph/numpy (ours) vs networkx",
        "",
        "Same graphs, same steps, fresh child process each (see the script's docstring). "
        "Ratio = networkx / ours (higher = ours faster or smaller). Shared 2-core machine: "
        "absolute times are inflated by other jobs.",
        "",
        "| graph | step | ours s | networkx s | ratio |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        ours, theirs = run["ours"]["steps"], run["networkx"]["steps"]
        label = f"{run['vertices']:,} v / {run['edges']:,} e, k={run['betweenness_k']}"
        for step in LIKE_FOR_LIKE:
            mine = ours.get(step)
            other = theirs.get(step)
            other_text = (f"{other:.2f}" if other is not None
                          else "not reached (run stopped at the "
                          f"{run['timeout']:.0f} s timeout)")
            ratio = f"{other / mine:.1f}x" if other is not None and mine else "-"
            lines.append(f"| {label} | {step} | {mine:.2f} | {other_text} | {ratio} |")
        total_ours = sum(ours[s] for s in LIKE_FOR_LIKE)
        done = all(s in theirs for s in LIKE_FOR_LIKE)
        total_theirs = sum(theirs.get(s, 0.0) for s in LIKE_FOR_LIKE)
        lines.append(
            f"| {label} | **total** | {total_ours:.2f} | "
            f"{total_theirs:.2f}{'' if done else ' (unfinished: at least)'} | "
            f"{'' if done else '>= '}{total_theirs / total_ours:.1f}x |")
        mem_ours = peak_memory(run["ours"]) / 2**20
        mem_theirs = peak_memory(run["networkx"]) / 2**20
        lines.append(f"| {label} | **peak memory MiB** | {mem_ours:.0f} | {mem_theirs:.0f}"
                     f"{'' if done else ' (until stopped)'} | {mem_theirs / mem_ours:.1f}x |")
        extra = ", ".join(f"{s} {ours[s]:.2f} s" for s in OURS_ONLY if s in ours)
        lines.append(f"| {label} | ours only | {extra} | - | - |")
    lines.append("")
    return "\n".join(lines)


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4), squeeze=False)
    for ax, run in zip(axes[0], runs):
        x = np.arange(len(LIKE_FOR_LIKE))
        ours = [run["ours"]["steps"].get(s, np.nan) for s in LIKE_FOR_LIKE]
        theirs = [run["networkx"]["steps"].get(s, np.nan) for s in LIKE_FOR_LIKE]
        ax.bar(x - 0.2, ours, 0.4, label="ours (igraph/numpy)")
        ax.bar(x + 0.2, theirs, 0.4, label="networkx")
        ax.set_xticks(x, LIKE_FOR_LIKE, rotation=20)
        ax.set_yscale("log")
        ax.set(ylabel="seconds", title=f"{run['edges']:,} edges")
        ax.legend(fontsize=8)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[27_000, 270_000],
                        help="customers of the generator worlds (graph: their social network)")
    parser.add_argument("--k", type=int, nargs="+", default=[64, 16],
                        help="betweenness source samples per size")
    parser.add_argument("--timeout", type=float, nargs="+", default=[900, 1500],
                        help="seconds allowed to each child run, per size")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--reuse", nargs="*", default=[], choices=["ours", "networkx"],
                        help="reuse finished child logs of these implementations")
    parser.add_argument("--child", choices=["ours", "networkx"], help=argparse.SUPPRESS)
    parser.add_argument("--graph", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.k = args.k[0]
        child_main(args)
        return

    args.out.mkdir(parents=True, exist_ok=True)
    # Runs of other sizes already in the results file are kept (re-running one size must not
    # drop the others); a size measured now replaces its old entry.
    previous = args.out / "bench_social.json"
    runs = json.loads(previous.read_text()) if previous.exists() else []
    for i, n_customers in enumerate(args.sizes):
        k = args.k[min(i, len(args.k) - 1)]
        timeout = args.timeout[min(i, len(args.timeout) - 1)]
        graph_path = bench_graph(n_customers)
        with np.load(graph_path) as z:
            vertices, edges = int(z["n"]), int(z["source"].size)
        run = dict(customers=n_customers, vertices=vertices, edges=edges,
                   betweenness_k=k, timeout=timeout)
        for impl in ("ours", "networkx"):
            run[impl] = run_child(impl, graph_path, k, timeout, reuse=impl in args.reuse)
            print(impl, n_customers, json.dumps(run[impl]), flush=True)
        runs = sorted([r for r in runs if r["customers"] != n_customers] + [run],
                      key=lambda r: r["customers"])
        # Rewrite after every graph so a long run leaves usable results behind.
        write_atomic(args.out / "bench_social.json",
                     lambda tmp: tmp.write_text(json.dumps(runs, indent=2)))
        text = summarise(runs)
        write_atomic(args.out / "bench_social.md", lambda tmp: tmp.write_text(text))
        plot(runs, args.out / "bench_social.png")
    print(text)


if __name__ == "__main__":
    main()
