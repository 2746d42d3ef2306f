"""Influence spread without sampling (issue 22): time and agreement of the two-hop estimate
(``influencer_scores(influence_method="khop")``) against the RR-set estimate it replaces.

Graphs:

* ``100k``: the graph of the last 90 days of a generator world (default
  /work/data/w100k_d90), built as the feature stage builds a cut-off's graph
  (``CustomerGraph.from_interactions`` then ``in_canonical_order``);
* ``1m``: a random graph of ``--scale`` times as many vertices with the same degree and
  tie-strength distribution: degrees and strengths drawn (seed 0) from the 100k graph's,
  joined by the configuration model, loops and parallel ties removed.

For each graph, in the same process, in turns: the feature stage's influence estimate by
RR sets (``build.FEATURE_RIS_SAMPLES`` sets), by two hops and by three, best of ``--repeats``
wall and CPU seconds. On the 100k graph also how each ranks against a reference of ``--reference-sets``
RR sets (Spearman) and how far the RR estimate moves from seed 0 to seed 1.

    python experiments/influence_deterministic.py            # both graphs
    python experiments/influence_deterministic.py --only 100k
    python experiments/influence_deterministic.py --only small  # 6,000-customer worlds

``--only small``: on the last 90 days of some of the cached 6,000-customer worlds of the paired
accuracy runs (``--small-worlds``, ``--small-seeds``), how each estimate ranks against
``--reference-sets`` RR sets, how close each is to PageRank, and how close the resulting
``influencer_score`` is between the two estimates and between two seeds of the RR one.

Results: experiments/results/influence_deterministic.md (printed as a Markdown table).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import igraph
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from graphchurn.features.build import FEATURE_RIS_SAMPLES
from graphchurn.graph import CustomerGraph
from graphchurn.graph.canonical import in_canonical_order
from graphchurn.io import load_customers, load_interactions
from graphchurn.rng import seeded_igraph_rng
from graphchurn.social.communities import edge_array, edge_weights
from graphchurn.social.roles import _influence_spread, _khop_spread, influencer_scores


def world_graph(directory: Path, window_days: int = 90) -> igraph.Graph:
    interactions = load_interactions(directory / "interactions.parquet")
    customers = load_customers(directory / "customers.csv")
    end = interactions["timestamp"].max().normalize() + pd.Timedelta(days=1)
    cg = CustomerGraph.from_interactions(interactions, customers=customers,
                                         start=end - pd.Timedelta(days=window_days), end=end)
    return in_canonical_order(cg.graph)[1]


def scaled_graph(graph: igraph.Graph, scale: int, seed: int = 0) -> igraph.Graph:
    rng = np.random.default_rng(seed)
    degree = np.asarray(graph.degree())
    degree = rng.choice(degree, size=graph.vcount() * scale)
    if degree.sum() % 2:
        degree[np.argmax(degree)] += 1
    # igraph's configuration model draws with igraph's own generator: seed it too.
    with seeded_igraph_rng(seed):
        big = igraph.Graph.Degree_Sequence(degree.tolist(), method="configuration")
    big.simplify()
    big.es["weight"] = rng.choice(np.asarray(graph.es["weight"]), size=big.ecount()).tolist()
    return big


def timed(functions: dict, repeats: int) -> dict:
    """Best wall and CPU seconds of each function, run in turns (one of each per round), so
    that a change in the machine's load falls on all of them alike."""
    values, walls, cpus = {}, {k: [] for k in functions}, {k: [] for k in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            wall, cpu = time.perf_counter(), time.process_time()
            values[name] = function()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    return {name: (values[name], min(walls[name]), min(cpus[name])) for name in functions}


def measure(name: str, graph: igraph.Graph, repeats: int, reference_sets: int | None) -> dict:
    n = graph.vcount()
    edges, w = edge_array(graph), edge_weights(graph, "weight")
    simple = graph.is_simple()
    results = timed({
        "rr": lambda: _influence_spread(n, edges, w, FEATURE_RIS_SAMPLES, 0, "weighted_cascade"),
        "khop": lambda: _khop_spread(n, edges, w, "weighted_cascade", simple=simple),
        "khop3": lambda: _khop_spread(n, edges, w, "weighted_cascade", hops=3, simple=simple),
    }, repeats)
    row = {"graph": name, "vertices": n, "ties": graph.ecount()}
    for method, (_, wall, cpu) in results.items():
        row.update({f"{method}_wall": wall, f"{method}_cpu": cpu})
    row["load_avg_1min"] = os.getloadavg()[0]
    if reference_sets:
        rr, khop, khop3 = (results[method][0] for method in ("rr", "khop", "khop3"))
        reference = _influence_spread(n, edges, w, reference_sets, 12345, "weighted_cascade")
        rr1 = _influence_spread(n, edges, w, FEATURE_RIS_SAMPLES, 1, "weighted_cascade")
        row.update({
            "spearman_rr_vs_reference": spearmanr(rr, reference).statistic,
            "spearman_khop_vs_reference": spearmanr(khop, reference).statistic,
            "spearman_khop3_vs_reference": spearmanr(khop3, reference).statistic,
            "spearman_rr_seed0_vs_seed1": spearmanr(rr, rr1).statistic,
            "share_in_no_rr_set": float(np.mean(rr == 0)),
        })
    print(row, flush=True)
    return row


def small_world_agreement(directory: Path, reference_sets: int) -> dict:
    import json

    interactions = pd.read_parquet(directory / "interactions.parquet")
    customers = pd.read_parquet(directory / "customers.parquet")
    end = pd.Timestamp(json.loads((directory / "meta.json").read_text())["end"])
    cg = CustomerGraph.from_interactions(interactions, customers=customers,
                                         start=end - pd.Timedelta(days=90), end=end)
    graph = in_canonical_order(cg.graph)[1]

    def scores(**kwargs):
        return influencer_scores(graph, descriptive=False, **kwargs)

    rr = scores(seed=0, influence_method="rr")
    rr1 = scores(seed=1, influence_method="rr")
    reference = scores(seed=12345, influence_method="rr", ris_samples=reference_sets)
    khop = scores(influence_method="khop")
    khop3 = scores(influence_method="khop", influence_hops=3)

    def rho(a, b):
        return spearmanr(a, b).statistic

    row = {"world": directory.name, "vertices": graph.vcount(),
           "rr_vs_reference": rho(rr.influence_spread, reference.influence_spread),
           "khop_vs_reference": rho(khop.influence_spread, reference.influence_spread),
           "khop3_vs_reference": rho(khop3.influence_spread, reference.influence_spread),
           "rr_seed0_vs_seed1": rho(rr.influence_spread, rr1.influence_spread),
           "pagerank_vs_rr": rho(rr.pagerank, rr.influence_spread),
           "pagerank_vs_khop": rho(khop.pagerank, khop.influence_spread),
           "pagerank_vs_reference": rho(reference.pagerank, reference.influence_spread),
           "score_rr_vs_khop": rho(rr.influencer_score, khop.influencer_score),
           "score_rr_seed0_vs_seed1": rho(rr.influencer_score, rr1.influencer_score)}
    print(row, flush=True)
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=Path("/work/data/w100k_d90"))
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-sets", type=int, default=2_000_000)
    parser.add_argument("--only", choices=["100k", "1m", "small"])
    parser.add_argument("--small-worlds", type=Path, default=Path("/work/data/worlds6k"))
    parser.add_argument("--small-seeds", type=int, nargs="+", default=[2, 3, 4])
    args = parser.parse_args(argv)
    if args.only == "small":
        rows = [small_world_agreement(args.small_worlds / f"seed_{seed}", args.reference_sets)
                for seed in args.small_seeds]
    else:
        rows = []
        graph = world_graph(args.world)
        if args.only in (None, "100k"):
            rows.append(measure("100k", graph, args.repeats, args.reference_sets))
        if args.only in (None, "1m"):
            big = scaled_graph(graph, args.scale)
            del graph
            rows.append(measure("1m", big, args.repeats, None))
    table = pd.DataFrame(rows).round(4).astype(str)
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * table.shape[1])
    for values in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in values) + " |")


if __name__ == "__main__":
    main()
