"""Labelled feature tables of a world, built once by ``ChurnPipeline.prepare`` and cached as
Parquet, so that model experiments refit models without rebuilding features.

A cached world is a directory with one ``cutoff_<i>.parquet`` per labelled training cut-off
(newest first; the feature table indexed by customer_id plus the label column ``__churn__``),
``scoring.parquet`` (the feature table at as-of, for timing reasons) and ``meta.json``
(cut-off dates, horizon, the positions the backtest trains on).

Run:  nice .venv/bin/python experiments/model_tables.py w100k      (about 5 minutes)
      nice .venv/bin/python experiments/model_tables.py small       (seeds 100-104, 6,000 customers)
      nice .venv/bin/python experiments/model_tables.py bitcoin     (the 5 settings of real_bitcoin_otc)
The cache lives outside git (default /work/data/cache_model, ``--cache`` another directory).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from graphchurn import pipeline

LABEL = "__churn__"
DEFAULT_CACHE = Path("/work/data/cache_model")
W100K = Path("/work/data/w100k")
BITCOIN = Path("/work/shared/data/bitcoin-otc/soc-sign-bitcoinotc.csv.gz")
BITCOIN_SETTINGS = [("2013-01-01", 90), ("2013-07-01", 90), ("2014-01-01", 90),
                    ("2013-07-01", 60), ("2014-01-01", 60)]
SMALL_SEEDS = range(100, 105)


def build(directory: Path, interactions, customers, cfg: pipeline.AnalyzeConfig) -> None:
    """``ChurnPipeline(cfg).prepare`` the inputs and cache its tables."""
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    pipe = pipeline.ChurnPipeline(cfg).prepare(interactions, customers)
    for i, (X, y) in enumerate(pipe.labelled_):
        X.assign(**{LABEL: y.to_numpy()}).to_parquet(directory / f"cutoff_{i}.parquet")
    pipe.scoring_.table.to_parquet(directory / "scoring.parquet")
    meta = {"cutoffs": [str(c.date()) for c in pipe.cutoffs_],
            "horizon_days": cfg.horizon_days, "seed": cfg.seed,
            "backtest_training": pipe.backtest_training_,
            "prepare_s": round(time.perf_counter() - started, 1)}
    (directory / "meta.json").write_text(json.dumps(meta, indent=1))


def load(directory: Path):
    """(labelled [(X, y)] newest first, scoring table, meta) of a cached world (``labelled`` and
    the scoring table are ``ChurnPipeline.prepare``'s ``labelled_`` and ``scoring_.table``)."""
    meta = json.loads((directory / "meta.json").read_text())
    labelled = []
    for i in range(len(meta["cutoffs"])):
        table = pd.read_parquet(directory / f"cutoff_{i}.parquet")
        labelled.append((table.drop(columns=LABEL), table[LABEL].astype(int)))
    return labelled, pd.read_parquet(directory / "scoring.parquet"), meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["w100k", "small", "bitcoin"])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    if args.which == "w100k":
        from graphchurn.io.readers import load_customers, load_interactions
        build(args.cache / "w100k", load_interactions(W100K / "interactions.parquet"),
              load_customers(W100K / "customers.csv"), pipeline.AnalyzeConfig())
    elif args.which == "small":
        from graphchurn.synth.world import generate_world
        for seed in SMALL_SEEDS:
            world = generate_world(n_customers=6000, seed=seed)
            build(args.cache / f"w6k_{seed}", world.interactions, world.customers,
                  pipeline.AnalyzeConfig())
    else:
        from graphchurn.io.readers import load_interactions
        log = load_interactions(BITCOIN, "src=0,dst=1,timestamp=3")
        for as_of, horizon in BITCOIN_SETTINGS:
            cfg = pipeline.AnalyzeConfig(as_of=pd.Timestamp(as_of), horizon_days=horizon,
                                         definition="inactivity", seed=0)
            build(args.cache / f"btc_{as_of}_{horizon}", log, None, cfg)


if __name__ == "__main__":
    main()
