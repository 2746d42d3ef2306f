"""Do the influencer scores find the generator's planted influencers?

On default generator worlds (2,000 customers, 120 days; seeds 0, 1, 2) the graph is built from
the call/SMS log with ``CustomerGraph``; ``influencer_scores`` ranks the customers (on-net
vertices) and precision@50 is the share of planted ``is_influencer`` among the top 50 of each
score (the planted share is about 3 %, i.e. ~60 influencers per world).

Reference rows, not graph scores:

* ``random``: the expected precision of a random top 50 (the planted share);
* ``oracle_true_degree``: number of ties in the generator's true social network
  (``world.ties``), which the log only reveals partly; it bounds what structure can tell,
  since influencers are planted as high-degree, high-activity customers;
* ``activity_n_out``: outgoing interactions in the log (influencers are planted with twice
  the outgoing activity), from ``CustomerGraph.activity``.

``greedy_seed_set`` is the first 50 seeds of greedy RR-set maximum coverage
(``select_seed_set``; off-net picks count as misses). ``--influence-method`` picks
``influencer_scores``' estimator of ``influence_spread`` (two hops or RR sets).

Writes ``results/influencers_recovery.{csv,md,png}``. Run:
``python experiments/influencers_recovery.py`` (about a minute).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from _common import markdown_table  # noqa: E402
from graphchurn.io.atomic import atomic_write as write_atomic  # noqa: E402
from graphchurn.graph.customer_graph import CustomerGraph  # noqa: E402
from graphchurn.social.roles import influencer_scores, select_seed_set  # noqa: E402
from graphchurn.synth.world import generate_world  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TOP_K = 50
SCORE_COLUMNS = ["influencer_score", "pagerank", "influence_spread", "strength", "coreness",
                 "eigenvector", "degree", "betweenness"]


def precision_at(ranking: pd.Series, planted: pd.Series, k: int) -> float:
    """Share of planted influencers among the ``k`` highest values (ties by position)."""
    top = ranking.sort_values(ascending=False, kind="stable").index[:k]
    return float(planted.reindex(top, fill_value=False).mean())


def evaluate_world(seed: int, influence_method: str | None = None) -> list[dict]:
    world = generate_world(seed=seed)
    cg = CustomerGraph.from_interactions(world.interactions, customers=world.customers)
    graph = cg.graph
    planted = pd.Series(world.truth["is_influencer"].to_numpy(dtype=bool),
                        index=world.customers["customer_id"].to_numpy())
    method = {} if influence_method is None else {"influence_method": influence_method}
    scores = influencer_scores(graph, seed=seed, **method)
    on_net = np.asarray(graph.vs["on_net"], dtype=bool)
    customers = scores.loc[on_net]
    rows = [dict(seed=seed, score=c, precision_at_50=precision_at(customers[c], planted, TOP_K))
            for c in SCORE_COLUMNS]

    seeds = select_seed_set(graph, TOP_K, seed=seed)
    rows.append(dict(seed=seed, score="greedy_seed_set",
                     precision_at_50=float(planted.reindex(seeds.index, fill_value=False).mean())))
    true_degree = pd.concat([world.ties["a"], world.ties["b"]]).value_counts()
    true_degree = true_degree.reindex(planted.index, fill_value=0)
    rows.append(dict(seed=seed, score="oracle_true_degree",
                     precision_at_50=precision_at(true_degree, planted, TOP_K)))
    n_out = cg.activity["n_out"].loc[on_net]
    rows.append(dict(seed=seed, score="activity_n_out",
                     precision_at_50=precision_at(n_out, planted, TOP_K)))
    rows.append(dict(seed=seed, score="random",
                     precision_at_50=float(planted.reindex(customers.index).mean())))
    return rows


def plot(summary: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    colours = ["tab:blue" if s in SCORE_COLUMNS or s == "greedy_seed_set" else "tab:grey"
               for s in summary.index]
    ax.bar(range(len(summary)), summary["mean"],
           yerr=[summary["mean"] - summary["min"], summary["max"] - summary["mean"]],
           color=colours, capsize=3)
    ax.set_xticks(range(len(summary)), summary.index, rotation=35, ha="right")
    ax.set(ylabel=f"precision@{TOP_K}", title="Planted influencers in the top 50 (default world)")
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--influence-method", choices=["khop", "rr"],
                        help="influencer_scores' estimator of influence_spread")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = pd.DataFrame([row for seed in args.seeds
                            for row in evaluate_world(seed, args.influence_method)])
    order = list(dict.fromkeys(results["score"]))
    summary = results.groupby("score")["precision_at_50"].agg(["mean", "min", "max"]).loc[order]
    per_seed = results.pivot(index="score", columns="seed", values="precision_at_50").loc[order]
    per_seed.columns = [f"seed {c}" for c in per_seed.columns]
    summary.index.name = per_seed.index.name = "score"

    write_atomic(args.out / "influencers_recovery.csv",
                 lambda tmp: results.to_csv(tmp, index=False, float_format="%.4g"))
    text = "\n".join([
        f"# Influencer recovery: precision@{TOP_K} against planted influencers",
        "",
        f"Default generator worlds (seeds {', '.join(map(str, args.seeds))}); on-net customers "
        "ranked by each score. `influencer_score` = mean percentile rank of pagerank, "
        "influence_spread, strength and coreness. Rows below `greedy_seed_set` are references, "
        "not graph scores (see the script's docstring).",
        "",
        markdown_table(summary.join(per_seed)),
        "",
    ])
    write_atomic(args.out / "influencers_recovery.md", lambda tmp: tmp.write_text(text))
    plot(summary, args.out / "influencers_recovery.png")
    print(text)
    return results


if __name__ == "__main__":
    main()
