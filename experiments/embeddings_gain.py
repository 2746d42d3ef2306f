"""Does GraphSAGE earn its cost? Backtest ROC-AUC of `analyze` with and without embeddings.

On generator worlds of 6,000 customers (seeds 100-104 by default) the same analysis runs twice,
``AnalyzeConfig(embeddings=True)`` and ``embeddings=False``; the paired difference of the
backtest ROC-AUC (measured on the latest fully labelled cut-off) and the time of the
"graph embeddings" stage are reported.

Run:  nice .venv/bin/python experiments/embeddings_gain.py [--seeds 100 101 102 103 104]
Writes experiments/results/embeddings_gain.json and embeddings_gain.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from _common import library_version

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104])
    parser.add_argument("--customers", type=int, default=6000)
    parser.add_argument("--out", default=str(RESULTS / "embeddings_gain"))
    args = parser.parse_args(argv)

    from graphchurn.pipeline import AnalyzeConfig, analyze
    from graphchurn.synth import generate_world

    rows = []
    for seed in args.seeds:
        world = generate_world(n_customers=args.customers, seed=seed)
        row = {"seed": seed}
        for embeddings in (True, False):
            start = time.perf_counter()
            analysis = analyze(world.interactions, world.customers,
                               AnalyzeConfig(embeddings=embeddings))
            key = "with" if embeddings else "without"
            row[f"auc_{key}"] = round(float(analysis.metrics["roc_auc"]), 4)
            row[f"wall_s_{key}"] = round(time.perf_counter() - start, 1)
            if embeddings:
                row["embedding_stage_s"] = analysis.metrics["timings_s"].get("graph embeddings")
        row["gain"] = round(row["auc_with"] - row["auc_without"], 4)
        rows.append(row)
        print(row, flush=True)

    gains = np.array([r["gain"] for r in rows])
    summary = {"mean_gain": round(float(gains.mean()), 4),
               "sd_gain": round(float(gains.std(ddof=1)), 4) if len(gains) > 1 else None,
               "wins": int((gains > 0).sum()), "worlds": len(rows),
               "load": [round(x, 2) for x in os.getloadavg()], "library": library_version()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    lines = ["# GraphSAGE embeddings: backtest ROC-AUC with and without (`experiments/embeddings_gain.py`)",
             "", f"Generator worlds of {args.customers:,} customers, default AnalyzeConfig otherwise; "
             f"library {summary['library']}; load average at the end {summary['load']}.", "",
             "| seed | AUC with | AUC without | gain | embedding stage s | wall s with | wall s without |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['auc_with']:.4f} | {r['auc_without']:.4f} | {r['gain']:+.4f} "
                     f"| {r['embedding_stage_s']} | {r['wall_s_with']} | {r['wall_s_without']} |")
    lines += ["", f"Mean paired gain {summary['mean_gain']:+.4f} (sd {summary['sd_gain']}), "
              f"embeddings better on {summary['wins']} of {summary['worlds']} worlds."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
