"""Paired backtest accuracy of the default analysis on generated worlds, for comparing two
versions of the library (issue 22: stable rankings must not cost accuracy).

    python experiments/stability_accuracy.py generate --worlds DIR --seeds 2 3 ...   # once
    PYTHONPATH=<version> python experiments/stability_accuracy.py run --worlds DIR \\
        --seeds 2 3 ... --out F.jsonl
    python experiments/stability_accuracy.py compare OLD.jsonl NEW.jsonl
    PYTHONPATH=<version> python experiments/stability_accuracy.py bitcoin --out F.jsonl

``generate`` writes each world (``generate_world(customers, days, seed, monthly_churn=...)``;
by default the 6,000-customer, 180-day worlds of experiments/ablation.py) as Parquet, so that
both versions read the very same inputs. ``run`` analyses each with the default
``AnalyzeConfig`` (as-of the world's end; with ``--backtest-only`` only up to the backtest)
and writes the backtest ROC-AUC, PR-AUC and wall time as JSON lines (a world already in ``--out`` is skipped, so a run can be resumed).
``compare`` prints the paired differences. ``bitcoin`` runs the backtests of Bitcoin OTC's
five settings (experiments/real_bitcoin_otc.py) once per seed, so that the two versions are
compared over several draws of their random steps, not one.
``--influence-method khop|rr`` (run, bitcoin) sets the feature stage's estimator of the
influence spread (``influencer_scores(influence_method=...)``), so that the two estimators are
compared on one version of the library; ``--influence-hops 3`` with ``khop`` counts paths of
up to three arcs. ``--influence-draws K`` (run, bitcoin) scores with the mean over K draws of
the RR sets (``AnalyzeConfig.influence_draws``; issue 22,
experiments/results/stability_averaged.md).
"""

import argparse
import contextlib
import functools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd


@contextlib.contextmanager
def influence_method(method, hops=None):
    """The feature stage's ``influencer_scores`` with ``influence_method=method`` and, if
    given, ``influence_hops=hops`` (None: as the library has it)."""
    from graphchurn.features import build

    original = build.influencer_scores
    settings = {} if method is None else {"influence_method": method}
    if hops is not None:
        settings["influence_hops"] = hops
    if settings:
        build.influencer_scores = functools.partial(original, **settings)
    try:
        yield
    finally:
        build.influencer_scores = original


def set_influence_draws(k):
    """Set the feature stage's number of influence draws (None: as the library has it).
    Forked workers inherit it."""
    if k is not None:
        from graphchurn import pipeline

        if not hasattr(pipeline.AnalyzeConfig(), "influence_draws"):
            raise SystemExit("this version of the library has no AnalyzeConfig.influence_draws")
        # Every analysis here builds its features through feature_kwargs: K draws there give
        # the pipeline one model per draw (whatever config the caller made).
        original = pipeline.feature_kwargs

        def with_draws(cfg, definition):
            return {**original(cfg, definition), "influence_draws": k}

        pipeline.feature_kwargs = with_draws


def world_dir(worlds: Path, seed: int) -> Path:
    return worlds / f"seed_{seed}"


def generate(args) -> None:
    from graphchurn.synth.world import generate_world

    for seed in args.seeds:
        directory = world_dir(args.worlds, seed)
        if (directory / "meta.json").exists():
            continue
        directory.mkdir(parents=True, exist_ok=True)
        world = generate_world(n_customers=args.customers, days=args.days, seed=seed,
                               monthly_churn=args.monthly_churn)
        world.interactions.to_parquet(directory / "interactions.parquet")
        world.customers.to_parquet(directory / "customers.parquet")
        (directory / "meta.json").write_text(json.dumps(
            {"seed": seed, "customers": args.customers, "days": args.days,
             "monthly_churn": args.monthly_churn, "end": str(world.end)}))
        print("generated", directory, flush=True)


def run(args) -> None:
    from graphchurn.pipeline import AnalyzeConfig, analyze

    # --draw S: another draw of the random steps of either version, to compare the versions'
    # expected accuracy, not one draw.
    draw = {} if args.draw is None else {"seed": args.draw}
    set_influence_draws(args.influence_draws)
    done = set()
    if args.out.exists():
        done = {json.loads(line)["seed"] for line in args.out.read_text().splitlines() if line}
    with open(args.out, "a") as out, influence_method(args.influence_method, args.influence_hops):
        for seed in args.seeds:
            if seed in done:
                continue
            directory = world_dir(args.worlds, seed)
            meta = json.loads((directory / "meta.json").read_text())
            interactions = pd.read_parquet(directory / "interactions.parquet")
            customers = pd.read_parquet(directory / "customers.parquet")
            cfg = AnalyzeConfig(as_of=pd.Timestamp(meta["end"]), **draw)
            start = time.perf_counter()
            if args.backtest_only:
                m = {**backtest(interactions, customers, cfg), "n_training_rows": None}
            else:
                m = analyze(interactions, customers, cfg).metrics
            row = {"seed": seed, "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"],
                   "seconds": round(time.perf_counter() - start, 2),
                   "n_training_rows": m["n_training_rows"], "estimator": m["estimator"]}
            print(row, flush=True)
            out.write(json.dumps(row) + "\n")
            out.flush()


def backtest(interactions, customers, cfg) -> dict:
    """analyze's stages up to the backtest (features, labels, the backtest model and its
    metrics); the scoring model and the reasons do not change them."""
    from graphchurn.pipeline import ChurnPipeline

    pipe = ChurnPipeline(cfg).prepare(interactions, customers)
    pipe._run_backtest(cfg)
    return pipe.backtest_metrics_


def bitcoin(args) -> None:
    """Bitcoin OTC's five settings (experiments/real_bitcoin_otc.py), once per seed, so that
    each run is another draw of the random steps that shape the ranking in either version."""
    from graphchurn.io.readers import load_interactions
    from graphchurn.pipeline import AnalyzeConfig

    from real_bitcoin_otc import COLUMNS, SETTINGS

    log = load_interactions(args.data, COLUMNS)
    set_influence_draws(args.influence_draws)
    with open(args.out, "a") as out, influence_method(args.influence_method, args.influence_hops):
        for seed in args.seeds:
            for as_of, horizon in SETTINGS:
                cfg = AnalyzeConfig(as_of=pd.Timestamp(as_of), horizon_days=horizon,
                                    definition="inactivity", seed=seed)
                start = time.perf_counter()
                m = backtest(log, None, cfg)
                row = {"seed": seed, "as_of": as_of, "horizon_days": horizon,
                       "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"],
                       "seconds": round(time.perf_counter() - start, 2)}
                print(row, flush=True)
                out.write(json.dumps(row) + "\n")
                out.flush()


def compare(args) -> None:
    old, new = (pd.read_json(path, lines=True) for path in (args.old, args.new))
    # A Bitcoin row is a (seed, setting) pair: pair on all three, not on the seed alone.
    keys = [k for k in ("seed", "as_of", "horizon_days") if k in old and k in new]
    both = old.set_index(keys).merge(new.set_index(keys), left_index=True, right_index=True,
                                     suffixes=("_old", "_new"))
    for metric in ("roc_auc", "pr_auc", "seconds"):
        d = both[f"{metric}_new"] - both[f"{metric}_old"]
        print(f"{metric}: old {both[f'{metric}_old'].mean():.4f}, new "
              f"{both[f'{metric}_new'].mean():.4f}, new - old {d.mean():+.4f} "
              f"(standard error {d.std(ddof=1) / np.sqrt(len(d)):.4f}, higher in "
              f"{int((d > 0).sum())}, equal in {int((d == 0).sum())} of {len(d)} rows)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("generate", "run"):
        p = sub.add_parser(name)
        p.add_argument("--worlds", type=Path, required=True)
        p.add_argument("--seeds", type=int, nargs="+",
                       default=list(range(2, 32)) + list(range(52, 72)))
        if name == "generate":
            p.add_argument("--customers", type=int, default=6000)
            p.add_argument("--days", type=int, default=180)
            p.add_argument("--monthly-churn", type=float, default=0.08)
        else:
            p.add_argument("--out", type=Path, required=True)
            p.add_argument("--draw", type=int, help="seed of every run")
            p.add_argument("--backtest-only", action="store_true",
                           help="stop after the backtest (half the time; same metrics)")
            p.add_argument("--influence-method", choices=["khop", "rr"])
            p.add_argument("--influence-hops", type=int, choices=[1, 2, 3])
            p.add_argument("--influence-draws", type=int)
    p = sub.add_parser("bitcoin")
    p.add_argument("--data", type=Path,
                   default=Path("/work/shared/data/bitcoin-otc/soc-sign-bitcoinotc.csv.gz"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--influence-method", choices=["khop", "rr"])
    p.add_argument("--influence-hops", type=int, choices=[1, 2, 3])
    p.add_argument("--influence-draws", type=int)
    p = sub.add_parser("compare")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    args = parser.parse_args()
    {"generate": generate, "run": run, "bitcoin": bitcoin, "compare": compare}[args.action](args)


if __name__ == "__main__":
    main()
