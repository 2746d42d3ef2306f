"""How well do the community methods recover planted groups, and how fast are they?

Two kinds of graph with known groups:

* generator worlds (``graphchurn.synth.generate_world`` with its defaults: 2,000 customers,
  120 days), the graph built from the call/SMS log with ``CustomerGraph``; truth is the
  planted ``community`` of every customer (off-net numbers have none and are left out of the
  score; customers without any interaction are in it, as singleton groups);
* LFR benchmark graphs (Lancichinetti, Fortunato & Radicchi 2008, networkx generator) with
  n = 1,000 and 5,000 and mixing mu = 0.1 .. 0.6 (share of each vertex's ties leaving its
  group), unweighted.

Score: normalised mutual information (sklearn, arithmetic mean) between found and planted
groups; time: wall-clock seconds of ``detect_communities`` alone (the machine is shared, so
times are indicative). Writes ``results/communities_recovery.{csv,md,png}``.

Run: ``python experiments/communities_recovery.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import igraph
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from networkx.generators.community import LFR_benchmark_graph  # noqa: E402
from sklearn.metrics import normalized_mutual_info_score  # noqa: E402

from _common import markdown_table  # noqa: E402
from graphchurn.io.atomic import atomic_write as write_atomic  # noqa: E402
from graphchurn.social.communities import detect_communities  # noqa: E402
from graphchurn.graph.customer_graph import CustomerGraph  # noqa: E402
from graphchurn.synth.world import generate_world  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# (label, method, extra keyword arguments)
METHODS = [
    ("leiden", "leiden", {}),
    ("leiden_stable", "leiden", {"n_iterations": -1}),
    ("louvain", "louvain", {}),
    ("label_propagation", "label_propagation", {}),
    ("infomap", "infomap", {}),
]


def world_graph(seed: int) -> tuple[igraph.Graph, np.ndarray, np.ndarray]:
    """Graph of a default world, planted community per vertex, mask of scored vertices."""
    world = generate_world(seed=seed)
    graph = CustomerGraph.from_interactions(world.interactions, customers=world.customers).graph
    planted = pd.Series(world.truth["community"].to_numpy(), index=world.customers["customer_id"])
    labels = planted.reindex(pd.Index(graph.vs["name"]))
    scored = labels.notna().to_numpy()
    return graph, labels.fillna(-1).to_numpy(dtype=np.int64), scored


def lfr_graph(n: int, mu: float, seed: int) -> tuple[igraph.Graph, np.ndarray, int]:
    """An LFR graph as igraph (unit weights) and its planted groups; retries bad seeds."""
    for attempt in range(20):
        try:
            nxg = LFR_benchmark_graph(
                n, tau1=2.5, tau2=1.5, mu=mu, average_degree=15, max_degree=60,
                min_community=20, max_community=100 if n <= 1000 else 200,
                seed=seed * 100 + attempt,
            )
            break
        except Exception:  # networkx raises when its rewiring does not converge
            continue
    else:
        raise RuntimeError(f"LFR generation failed for n={n}, mu={mu}")
    groups = {frozenset(nxg.nodes[v]["community"]) for v in nxg}
    labels = np.empty(n, dtype=np.int64)
    for label, members in enumerate(sorted(groups, key=min)):
        labels[list(members)] = label
    graph = igraph.Graph(n=n, edges=list(nxg.edges()))
    graph.es["weight"] = 1.0
    return graph, labels, seed * 100 + attempt


def score_methods(graph, labels, scored, **row) -> list[dict]:
    rows = []
    for label, method, kwargs in METHODS:
        start = time.perf_counter()
        membership = detect_communities(graph, method=method, seed=0, **kwargs)
        seconds = time.perf_counter() - start
        rows.append(dict(
            row, method=label, vertices=graph.vcount(), edges=graph.ecount(),
            nmi=normalized_mutual_info_score(labels[scored], membership[scored]),
            groups_found=int(membership.max()) + 1, groups_planted=len(np.unique(labels[scored])),
            seconds=seconds,
        ))
    return rows


def markdown_tables(results: pd.DataFrame, world_seeds, lfr_seeds) -> str:
    order = [m for m, _, _ in METHODS]
    results = results.assign(graph=np.where(
        results["dataset"] == "world", "world (default, 2000 customers)",
        "LFR n=" + results["n"].astype(str) + " mu=" + results["mu"].map("{:.1f}".format),
    ))
    nmi = results.pivot_table(index="graph", columns="method", values="nmi", sort=False)[order]
    secs = results.pivot_table(index="graph", columns="method", values="seconds", sort=False)
    lines = [
        "# Community recovery: NMI with the planted groups",
        "",
        f"Mean over graph seeds (worlds: seeds {', '.join(map(str, world_seeds))}; "
        f"LFR: {len(lfr_seeds)} graph(s) per setting, tau1=2.5, tau2=1.5, mean degree 15). "
        "`leiden` = 2 Leiden passes (the default), `leiden_stable` = iterate until no vertex "
        "moves.",
        "",
        markdown_table(nmi),
        "",
        "## Seconds per run of detect_communities (shared 2-core machine, indicative)",
        "",
        markdown_table(secs[order]),
        "",
    ]
    return "\n".join(lines)


def plot(results: pd.DataFrame, path: Path) -> None:
    lfr = results[results["dataset"] == "lfr"]
    sizes = sorted(lfr["n"].unique())
    fig, axes = plt.subplots(1, len(sizes) + 1, figsize=(5 * (len(sizes) + 1), 4), sharey=True)
    for ax, n in zip(axes, sizes):
        part = lfr[lfr["n"] == n].groupby(["method", "mu"])["nmi"].mean().unstack(0)
        for label, _, _ in METHODS:
            ax.plot(part.index, part[label], marker="o", label=label)
        ax.axhline(0.9, color="grey", lw=0.8, ls="--")
        ax.set(title=f"LFR n={n}", xlabel="mixing mu", ylabel="NMI")
    world = results[results["dataset"] == "world"].groupby("method")["nmi"].mean()
    labels = [m for m, _, _ in METHODS]
    axes[-1].bar(range(len(labels)), world[labels].to_numpy())
    axes[-1].set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axes[-1].axhline(0.9, color="grey", lw=0.8, ls="--")
    axes[-1].set(title="generator world (default)", ylim=(0, 1.02))
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lfr-sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--lfr-mus", type=float, nargs="+",
                        default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    parser.add_argument("--lfr-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    rows = []
    for seed in args.world_seeds:
        graph, labels, scored = world_graph(seed)
        rows += score_methods(graph, labels, scored, dataset="world", n=int(scored.sum()),
                              mu=np.nan, seed=seed)
    for n in args.lfr_sizes:
        for mu in args.lfr_mus:
            for seed in args.lfr_seeds:
                graph, labels, graph_seed = lfr_graph(n, mu, seed)
                rows += score_methods(graph, labels, np.ones(n, dtype=bool), dataset="lfr",
                                      n=n, mu=mu, seed=graph_seed)
    results = pd.DataFrame(rows)
    write_atomic(args.out / "communities_recovery.csv",
                 lambda tmp: results.to_csv(tmp, index=False, float_format="%.5g"))
    text = markdown_tables(results, args.world_seeds, args.lfr_seeds)
    write_atomic(args.out / "communities_recovery.md", lambda tmp: tmp.write_text(text))
    plot(results, args.out / "communities_recovery.png")
    print(text)
    return results


if __name__ == "__main__":
    main()
