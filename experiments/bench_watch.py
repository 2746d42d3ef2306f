"""Watch mode: time per departure event, incremental vs a full recompute, on a ~100k graph.

The graph is a generator world of 100,000 customers (28 days of calls, graph from the log);
groups by Leiden, influence = percentile of tie strength (a cheap stand-in: the bench times
the contagion step, not the influencer scores). For each contagion method the model is fitted
on the history of a small generator world (its coefficients transfer: the features are tie
shares, energies and reach probabilities), then a stream of departures of random on-net
customers is fed to

- ``Watcher.update`` (incremental: re-scores the affected neighbourhood only), and
- a full recompute of the same event: every vertex's contagion features before and after the
  new departure (earlier leavers included), every probability, the group table and the
  event's at-risk list (the graph's CSR index is prepared once and not counted, which favours
  the full recompute), and
- ``what_if`` end to end (what one `graphchurn whatif` call does after loading: CSR index
  included).

Both give the same probabilities (checked on the last event). Times are wall-clock
``time.perf_counter`` on this machine (2 shared CPU cores), medians over the events.

Run:  nice .venv/bin/python experiments/bench_watch.py [--customers 100000] [--events 100]
Writes experiments/results/bench_watch.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from graphchurn.io.atomic import atomic_write_text as _write  # noqa: E402
from graphchurn import contagion as C
from graphchurn.social.communities import detect_communities
from graphchurn.graph.customer_graph import CustomerGraph
from graphchurn.synth.world import generate_world

RESULTS = Path(__file__).resolve().parent / "results"


def _history(seed: int):
    """Three past cut-offs of a small world, to fit each method's coefficients on."""
    world = generate_world(n_customers=2000, days=120, seed=seed)
    dates = pd.Series(world.customers["churn_date"].to_numpy(),
                      index=world.customers["customer_id"].astype(str).to_numpy())
    as_of = world.end
    out = []
    for offset in (75, 60, 45):
        cutoff = as_of - pd.Timedelta(days=offset)
        rows = world.interactions[world.interactions["timestamp"] < cutoff]
        g = CustomerGraph.from_interactions(rows, customers=world.customers, end=cutoff).graph
        strength = np.asarray(g.strength(weights="weight"))
        out.append(C.ContagionCutoff.from_churn_dates(g, dates, cutoff, 30, known_until=as_of,
                                                      influencer_score=strength))
    return out


def _full_recompute(ctx, model, base, logit0, values, ages_before, leaver):
    """What one event costs from scratch, given a prepared CSR index: every vertex's features
    before and after the new departure, every probability, the group table and the at-risk
    list of the event (the same output as ``Watcher.update``)."""
    ages_after = ages_before.copy()
    ages_after[leaver] = 0.0
    departed = np.isfinite(ages_after)
    scored = ctx.index.on_net & np.isfinite(base) & ~departed
    p_before = C._shift(base, logit0, model.pressure(ctx, ages_before) @ model.coef_)
    p_after = C._shift(base, logit0, model.pressure(ctx, ages_after) @ model.coef_)
    p_before = np.where(scored, p_before, np.nan)
    p_after = np.where(scored, p_after, np.nan)
    new = np.zeros(ctx.index.n, dtype=bool)
    new[leaver] = True
    alerts = C._group_alerts(ctx, scored, new, p_before, p_after, values)
    rows = np.flatnonzero(scored)
    at_risk = C._at_risk_table(ctx, rows, p_before[rows], p_after[rows], departed,
                               np.array([leaver]))
    return p_after, alerts, at_risk


def bench_method(name, model, graph, membership, base, value, infl, leavers, n_full):
    watcher = C.Watcher(graph, membership, base, value, model, infl)
    watch_times, affected = [], []
    for k, leaver in enumerate(leavers):
        t0 = time.perf_counter()
        watcher.update(int(leaver), pd.Timestamp("2025-03-01") + pd.Timedelta(hours=k))
        watch_times.append(time.perf_counter() - t0)
        affected.append(len(watcher.last_affected_))

    index = C._GraphIndex(graph)
    ctx = C._Context(index, C._influence_rank(index, infl), membership)
    logit0 = C._logit(base)
    values = np.nan_to_num(value)
    full_times, whatif_times = [], []
    # full recomputes at evenly spaced points of the stream (they cost the same at any point
    # up to the number of seeds), the last one at the end to check equality
    checkpoints = np.unique(np.linspace(1, len(leavers), n_full).astype(int))
    for m in checkpoints:
        prior = np.full(index.n, np.nan)
        prior[leavers[: m - 1]] = 0.0
        t0 = time.perf_counter()
        p_full, _, _ = _full_recompute(ctx, model, base, logit0, values, prior, leavers[m - 1])
        full_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        C.what_if(graph, membership, base, value, [int(leavers[m - 1])], model, infl,
                  departure_age_days=prior)
        whatif_times.append(time.perf_counter() - t0)
    same = np.allclose(np.nan_to_num(watcher.probability_, nan=-1),
                       np.nan_to_num(p_full, nan=-1), rtol=1e-9, atol=1e-12)
    watch = float(np.median(watch_times))
    full = float(np.median(full_times))
    return {
        "method": name, "events": len(leavers),
        "watch_ms_median": round(1e3 * watch, 3),
        "watch_ms_p95": round(1e3 * float(np.percentile(watch_times, 95)), 3),
        "affected_vertices_median": int(np.median(affected)),
        "full_recompute_ms_median": round(1e3 * full, 2),
        "what_if_ms_median": round(1e3 * float(np.median(whatif_times)), 2),
        "full_recomputes_timed": len(full_times),
        "speedup_vs_full_recompute": round(full / watch, 1),
        "speedup_vs_what_if": round(float(np.median(whatif_times)) / watch, 1),
        "equal_to_full_recompute": bool(same),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--full", type=int, default=5, help="full recomputes timed per method")
    parser.add_argument("--simulations", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+",
                        default=["structural_prior", *C.METHODS])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    world = generate_world(n_customers=args.customers, days=args.days, seed=args.seed)
    cg = CustomerGraph.from_interactions(world.interactions, customers=world.customers,
                                         end=world.end)
    graph = cg.graph
    membership = detect_communities(graph, seed=args.seed)
    setup_s = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    on_net = np.asarray(graph.vs["on_net"], dtype=bool)
    base = np.where(on_net, rng.uniform(0.01, 0.2, graph.vcount()), np.nan)
    value = pd.Series(world.customers["value"].to_numpy(),
                      index=world.customers["customer_id"].astype(str)).reindex(
        np.asarray(graph.vs["name"], dtype=object).astype(str)).to_numpy()
    infl = np.asarray(graph.strength(weights="weight"))
    leavers = rng.choice(np.flatnonzero(on_net & (np.asarray(graph.degree()) > 0)),
                         size=args.events, replace=False)
    history = _history(args.seed)
    print(f"graph: {graph.vcount()} vertices, {graph.ecount()} edges, "
          f"{membership.max() + 1} groups (setup {setup_s:.0f} s)", flush=True)

    rows = []
    for name in args.methods:
        if name == "structural_prior":
            model = C.ContagionModel().fit([])
        else:
            model = C.ContagionModel(method=name, half_life_days=30.0,
                                     n_simulations=args.simulations, seed=args.seed).fit(history)
        row = bench_method(name, model, graph, membership, base, value, infl, leavers, args.full)
        print(row, flush=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    payload = {"params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "graph": {"vertices": graph.vcount(), "edges": graph.ecount(),
                         "groups": int(membership.max() + 1)},
               "table": rows}
    lines = [
        "# Watch mode: time per departure event vs a full recompute",
        "",
        f"Graph of a generator world: {graph.vcount():,} vertices, {graph.ecount():,} edges, "
        f"{int(membership.max() + 1):,} groups. {args.events} departures of random on-net "
        f"customers streamed through `Watcher.update`; full recompute = the same event from "
        f"scratch (all features before/after, probabilities, group table, at-risk list; CSR "
        f"index prepared once, not counted); `what_if` = one end-to-end call (CSR included). Medians, wall clock, "
        f"2 shared CPU cores (`experiments/bench_watch.py`).",
        "",
        "| method | watch ms/event (median) | p95 | vertices re-scored | full recompute ms | what_if ms | speed-up vs full | vs what_if | equal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['method']} | {r['watch_ms_median']} | {r['watch_ms_p95']} | "
                     f"{r['affected_vertices_median']} | {r['full_recompute_ms_median']} | "
                     f"{r['what_if_ms_median']} | {r['speedup_vs_full_recompute']}x | "
                     f"{r['speedup_vs_what_if']}x | {r['equal_to_full_recompute']} |")
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "bench_watch.json", json.dumps(payload, indent=2))
    _write(args.out / "bench_watch.md", "\n".join(lines) + "\n")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
