"""Cost of averaging the scores over K draws of the RR sets (issue 22,
experiments/results/stability_averaged.md) on one cut-off of a large generated world.

Generates ``generate_world(n_customers, days, seed)``, builds the features of the cut-off
``--horizon`` days before its end once with one draw and once with K, and reports the
feature stage's added step (``timings["influence draws"]``: K - 1 more RR samples, ranks and
influencer cuts), the time of one model fit on that cut-off's table (labels: churn dates
within the horizon; each draw adds one backtest and one scoring model) and the added scoring
(``averaged_over_draws`` of K models' copies against one ``predict_proba``), with the
machine's load.

    python experiments/influence_draws_cost.py --customers 100000 --days 90 --draws 8
"""

import argparse
import os
import time

import pandas as pd

from graphchurn.features.build import build_features
from graphchurn.pipeline import AnalyzeConfig, averaged_over_draws, fit_churn_model, model_table
from graphchurn.synth.world import generate_world


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--draws", type=int, nargs="+", default=[8])
    args = parser.parse_args(argv)
    start = time.perf_counter()
    world = generate_world(n_customers=args.customers, days=args.days, seed=args.seed)
    print(f"world: {time.perf_counter() - start:.1f} s", flush=True)
    cutoff = pd.Timestamp(world.end) - pd.Timedelta(days=args.horizon)
    kwargs = dict(definition="contract", horizon_days=args.horizon, communities=False)
    fs = build_features(world.interactions, world.customers, cutoff, **kwargs)
    churn = pd.to_datetime(world.customers.set_index("customer_id")["churn_date"])
    y = churn.reindex(fs.table.index)
    y = (y.notna() & (y > cutoff) & (y <= cutoff + pd.Timedelta(days=args.horizon))).astype(int)
    cfg = AnalyzeConfig()
    X = model_table(fs.table, cfg)
    wall, cpu = time.perf_counter(), time.process_time()
    model = fit_churn_model(cfg, X, y)
    print(f"one model fit on this cut-off's table (each draw adds one to the backtest and one "
          f"to the scoring model, on their stacked cut-offs): {time.perf_counter() - wall:.2f} "
          f"s wall / {time.process_time() - cpu:.2f} s CPU", flush=True)
    graph = fs.graph.graph
    print(f"cut-off {cutoff.date()}: {graph.vcount()} vertices, {graph.ecount()} ties, "
          f"{len(X)} rows, estimator {model.estimator}", flush=True)
    for k in args.draws:
        fs_k = build_features(world.interactions, world.customers, cutoff, **kwargs,
                              influence_draws=k)
        timings = {}
        for name, draws in (("one", []), ("averaged", fs_k.influence_draws)):
            wall, cpu = time.perf_counter(), time.process_time()
            averaged_over_draws([lambda t: model.predict_proba(t)[:, 1]] * (1 + len(draws)), X,
                                draws)
            timings[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        print(f"K={k}: influence draws step {fs_k.timings.get('influence draws', 0.0):.2f} s "
              f"(the table's own draw, 'influencers': {fs_k.timings['influencers']:.2f} s); "
              f"scoring {timings['one'][0]:.2f} s wall / {timings['one'][1]:.2f} s CPU with one "
              f"draw, {timings['averaged'][0]:.2f} s / {timings['averaged'][1]:.2f} s averaged; "
              f"load {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
