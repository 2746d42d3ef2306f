"""Paired backtest accuracy of the default analysis on generated worlds, for comparing two
versions of the library (issue 22: stable rankings must not cost accuracy).

    PYTHONPATH=<version> python experiments/stability_accuracy.py --seeds 2 3 4 5 6 7 --out F.json

Each world: generate_world(2000 customers, 120 days, seed); default AnalyzeConfig; the
backtest ROC-AUC, PR-AUC and wall time are written as JSON lines to --out.
"""

import argparse
import json
import time

from graphchurn.pipeline import AnalyzeConfig, analyze
from graphchurn.synth.world import generate_world


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4, 5, 6, 7])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "w") as out:
        for seed in args.seeds:
            world = generate_world(n_customers=args.customers, days=120, seed=seed)
            start = time.perf_counter()
            m = analyze(world.interactions, world.customers, AnalyzeConfig()).metrics
            row = {"seed": seed, "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"],
                   "seconds": round(time.perf_counter() - start, 2)}
            print(row, flush=True)
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
