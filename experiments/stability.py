"""Stable rankings (issue 22): how far the churn probabilities move when every identifier is
hashed (a pseudonymised export) or the seed changes, on the demo world and on generated worlds.

For each world, three analyses with the default settings (unless --config overrides them):
the reference (seed 0), the same log with every id replaced by its HMAC pseudonym (seed 0),
and the reference log with seed 1. Probabilities are compared customer by customer (hashed
ids mapped back): the largest absolute move, Spearman's rank correlation, and the backtest
ROC-AUC and wall time of each run.

    python experiments/stability.py                       # demo world (data/sample)
    python experiments/stability.py --customers 20000     # a generated world
    python experiments/stability.py --write               # also experiments/results/stability.md
    python experiments/stability.py --influence-draws 8   # scores averaged over 8 RR draws

Results: experiments/results/stability.md (appended one section per run with --write).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, library_version  # noqa: E402

from graphchurn.io.pseudonyms import keyed_pseudonyms  # noqa: E402
from graphchurn.io.readers import load_customers, load_interactions  # noqa: E402
from graphchurn.pipeline import AnalyzeConfig, analyze  # noqa: E402

KEY = b"stability-experiment-key-0123456789"


def hashed(interactions, customers):
    """The inputs with every identifier replaced by its pseudonym, and the map back."""
    ids = pd.unique(pd.concat([interactions["src"], interactions["dst"]]
                              + ([customers["customer_id"]] if customers is not None else []))
                    .astype(str))
    pseudonyms = keyed_pseudonyms(ids, KEY)
    forward = dict(zip(ids, pseudonyms))
    log = interactions.assign(src=interactions["src"].astype(str).map(forward),
                              dst=interactions["dst"].astype(str).map(forward))
    table = None if customers is None else customers.assign(
        customer_id=customers["customer_id"].astype(str).map(forward))
    return log, table, dict(zip(pseudonyms, ids))


def load_world(n_customers: int | None, days: int):
    """(interactions, customers, name): a generated world of ``n_customers`` (seed 0) over
    ``days`` days, or the demo world in data/sample when ``n_customers`` is None."""
    if n_customers:
        from graphchurn.synth.world import generate_world

        world = generate_world(n_customers=n_customers, days=days, seed=0)
        return (world.interactions, world.customers,
                f"generated, {n_customers} customers, {days} days")
    return (load_interactions(ROOT / "data/sample/interactions.csv.gz"),
            load_customers(ROOT / "data/sample/customers.csv"), "demo (data/sample)")


def run(interactions, customers, cfg, back=None):
    start = time.perf_counter()
    analysis = analyze(interactions, customers, cfg)
    seconds = time.perf_counter() - start
    p = analysis.scores.set_index("customer_id")["churn_probability"]
    if back is not None:
        p.index = p.index.map(back)
    return p.astype(float), analysis.metrics["roc_auc"], seconds


def compare(a: pd.Series, b: pd.Series) -> dict:
    b = b.reindex(a.index)
    assert b.notna().all(), "the two runs scored different customers"
    return {"max_abs_dp": float(np.max(np.abs(a - b))),
            "p99_abs_dp": float(np.quantile(np.abs(a - b), 0.99)),
            "spearman": float(spearmanr(a, b).statistic)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, help="generated world of N customers "
                        "(default: the demo world in data/sample)")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--config", default="{}", help="AnalyzeConfig overrides as JSON")
    parser.add_argument("--label", default="", help="name of this configuration")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--influence-draws", type=int, help="scores averaged over this many "
                        "draws of the RR sets (AnalyzeConfig.influence_draws; default: the library's)")
    parser.add_argument("--no-hashed", action="store_true", help="skip the hashed-ids run")
    args = parser.parse_args(argv)
    interactions, customers, name = load_world(args.customers, args.days)
    cfg = replace(AnalyzeConfig(), **json.loads(args.config))
    if args.influence_draws is not None:
        cfg = replace(cfg, influence_draws=args.influence_draws)
    ref, auc0, t0 = run(interactions, customers, cfg)
    rows = []
    if not args.no_hashed:
        log_h, cust_h, back = hashed(interactions, customers)
        hid, auc_h, t_h = run(log_h, cust_h, cfg, back)
        rows.append({"run": "hashed ids", **compare(ref, hid), "roc_auc": auc_h,
                     "roc_auc_ref": auc0, "seconds": t_h, "seconds_ref": t0})
    other, auc1, t1 = run(interactions, customers, replace(cfg, seed=1))
    rows.append({"run": "seed 1", **compare(ref, other), "roc_auc": auc1, "roc_auc_ref": auc0,
                 "seconds": t1, "seconds_ref": t0})
    rows = pd.DataFrame(rows).set_index("run")
    print(name, args.label, args.config, "influence draws:", args.influence_draws)
    print(rows.round(4).to_string())
    if args.write:
        out = ROOT / "experiments/results/stability.md"
        text = out.read_text() if out.exists() else (
            "# Stable rankings\n\nWritten by `experiments/stability.py` (one section per run). "
            "max |dp|: the largest move of one customer's probability against the reference run "
            "(seed 0, ids as given); Spearman: rank correlation of the two runs' probabilities; "
            "ROC-AUC: each run's backtest; seconds: wall time of the analysis (2 shared cores).\n")
        from _common import markdown_table

        text += (f"\n## {name}: {args.label or 'default settings'}\n\n"
                 f"config overrides `{args.config}`, library {library_version()}\n\n"
                 + markdown_table(rows, ".4f") + "\n")
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
