"""Which features differ for the customers whose probability moves most between seeds
(issue 22, stable rankings).

Two analyses of the same world with the default settings, seed 0 and seed 1; for the
customers whose churn probability moved most, every model column whose value differs between
the two runs' scoring tables. Prints the result (markdown).

    python experiments/stability_movers.py                    # the 20,000-customer world
    python experiments/stability_movers.py --customers 0      # the demo world (data/sample)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import library_version  # noqa: E402
from stability import load_world  # noqa: E402

from graphchurn.pipeline import AnalyzeConfig, ChurnPipeline, model_table  # noqa: E402


def run(interactions, customers, seed: int):
    """(probabilities by customer, the scoring table the model read, seconds)."""
    start = time.perf_counter()
    pipe = ChurnPipeline(AnalyzeConfig(seed=seed)).fit(interactions, customers)
    scores = pipe.analysis_.scores
    p = scores.set_index("customer_id")["churn_probability"]
    return p, model_table(pipe.scoring_.table, pipe.config), time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args(argv)
    interactions, customers, name = load_world(args.customers or None, args.days)
    (p0, X0, s0), (p1, X1, s1) = (run(interactions, customers, s) for s in (0, 1))
    moved = (p1.reindex(p0.index) - p0).abs().sort_values(ascending=False)
    X1 = X1.reindex(X0.index)
    differs = (X0 != X1) & ~(X0.isna() & X1.isna())
    counts = differs.sum()
    print(f"## Movers between seed 0 and seed 1: {name} (library {library_version()})\n")
    print(f"Wall time {s0:.0f} s and {s1:.0f} s. Largest move {moved.iloc[0]:.4f}, 99th "
          f"percentile {moved.quantile(0.99):.4f}. Model columns that differ for any customer "
          f"(customers): {', '.join(f'{c} ({n})' for c, n in counts[counts > 0].items())}.\n")
    print("| move of the probability | columns that differ (seed 0 -> seed 1) |")
    print("|---:|---|")
    for cid in moved.index[:args.top]:
        cols = differs.columns[differs.loc[cid].to_numpy()]
        shown = "; ".join(f"{c} {np.round(X0.at[cid, c], 4)} -> {np.round(X1.at[cid, c], 4)}"
                          for c in cols) or "none"
        print(f"| {moved[cid]:.4f} | {shown} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
