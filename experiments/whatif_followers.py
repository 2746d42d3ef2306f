"""Do the what-if alerts find the customers who really follow a leaver?

On generator worlds (graphchurn.synth) we force chosen customers to leave on day D and let
the world run on with the same seed. Because the generator shares its random streams between
a world and its forced counterfactual, a customer who churns in (D, D + H] in the forced world
but not in the baseline world churned *because of* the forced departures: a real follower.

At as-of D (the leavers' churn date) we build everything the product would see: the graph of
the interactions before D, detected groups, influencer scores, past cut-offs (D - 30, D - 45,
D - 60, labels known by D, departures before D) to fit the contagion model on; then ``what_if`` ranks customers by
the predicted increase in churn probability and groups by the predicted extra churners. The
predicted increase is compared with the naive rule "flag the leaver's whole group" (and, for
reference, "flag the leaver's direct contacts"):

- customer AUC: predicted increase vs follower (all scored customers, pooled over worlds);
- precision@100: share of real followers among the 100 customers ranked highest;
- group precision@k: share of the k groups ranked highest that hold a real follower, with k
  the number of groups the naive rule flags (naive groups ordered by number of leavers, then
  size) and k = 5; and the share of all followers inside the 5 groups ranked highest.

Ties in a binary naive score are broken by vertex order (arbitrary for the ranking). The
"random customers" scenario forces random non-influencers out. Rows "<method> only" fit one
contagion method each; "fitted on history" is the one ``method="auto"`` picks on held-out
cut-offs of the natural churn before D.

Scenarios: influencers leave (planted truth.is_influencer) and, for contrast, random
customers leave. Every world, choice and model takes a seed; the run is reproducible.

Run:  nice .venv/bin/python experiments/whatif_followers.py            (a few minutes)
      .venv/bin/python experiments/whatif_followers.py --quick         (smoke run)
Writes experiments/results/whatif_followers.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from graphchurn.io.atomic import atomic_write_text as _write  # noqa: E402
from graphchurn.social.communities import detect_communities
from graphchurn.contagion.model import METHODS, ContagionCutoff, ContagionModel, what_if
from graphchurn.graph.customer_graph import CustomerGraph
from graphchurn.social.roles import influencer_scores
from graphchurn.synth.world import generate_world

RESULTS = Path(__file__).resolve().parent / "results"
HISTORY_OFFSETS = (60, 45, 30)  # past cut-offs, days before as-of (oldest first)
LABEL_HORIZON = 30


def _known_churn_dates(customers: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Churn dates as known at as-of: later dates are not known yet (NaT)."""
    d = customers["churn_date"].where(customers["churn_date"] <= as_of)
    return pd.Series(d.to_numpy(), index=customers["customer_id"].astype(str).to_numpy())


def _graph_before(world, customers_known: pd.DataFrame, cutoff: pd.Timestamp) -> CustomerGraph:
    rows = world.interactions[world.interactions["timestamp"] < cutoff]
    return CustomerGraph.from_interactions(rows, customers=customers_known, end=cutoff)


def _scores(graph, seed):
    return influencer_scores(graph, seed=seed, ris_samples=5000)["influencer_score"].to_numpy()


def _pick_leavers(world, day, n_leavers, influencers: bool, seed) -> list[str]:
    """Customers still there well after ``day`` in the baseline world (not already leaving)."""
    truth = world.truth
    start = world.start
    safe = (truth["decision_date"].isna() | (truth["decision_date"] > start + pd.Timedelta(days=day + 60)))
    pool = truth.loc[safe & (truth["is_influencer"] == influencers), "customer_id"].astype(str)
    rng = np.random.default_rng([seed, 1 if influencers else 2])
    return sorted(rng.choice(pool.to_numpy(), size=min(n_leavers, len(pool)), replace=False))


def _group_precision(ranked_groups, true_groups, k):
    top = list(ranked_groups)[:k]
    return float(np.mean([g in true_groups for g in top])) if top else float("nan")


def run_world(seed, scenario, args):
    day = args.day
    days = day + max(args.horizons) + 1
    kw = dict(n_customers=args.customers, days=days, seed=seed)
    baseline = generate_world(**kw)
    leavers = _pick_leavers(baseline, day, args.leavers, scenario == "influencers", seed)
    forced = generate_world(**kw, forced_departures={c: day for c in leavers})
    as_of = forced.start + pd.Timedelta(days=day)

    # ---- what the product sees at as-of: nothing after it
    known = _known_churn_dates(forced.customers, as_of)
    customers_known = pd.DataFrame({"customer_id": known.index, "churn_date": known.to_numpy()})
    cg = _graph_before(forced, customers_known, as_of)
    graph = cg.graph
    membership = detect_communities(graph, seed=seed)
    infl = _scores(graph, seed)
    # History is the natural churn before D: the what-if leavers, who leave on D itself, are
    # the question asked, not evidence (they would land in the last cut-off's labels).
    known_before = known.where(known < as_of)
    history = []
    for offset in HISTORY_OFFSETS:
        cutoff = as_of - pd.Timedelta(days=offset)
        g_c = _graph_before(forced, customers_known, cutoff).graph
        history.append(ContagionCutoff.from_churn_dates(
            g_c, known_before, cutoff, LABEL_HORIZON, known_until=as_of,
            influencer_score=_scores(g_c, seed)))
    t0 = time.perf_counter()
    fitted = ContagionModel(method="auto", n_simulations=args.simulations, seed=seed).fit(history)
    fit_seconds = time.perf_counter() - t0
    prior = ContagionModel().fit([])

    names = np.asarray(graph.vs["name"], dtype=object).astype(str)
    on_net = np.asarray(graph.vs["on_net"], dtype=bool)
    kd = known.reindex(names).to_numpy(dtype="datetime64[ns]")
    active = on_net & np.isnat(kd)  # still a customer at as-of (leavers left on as-of)
    rate = float(np.mean(np.concatenate([h.label[h.eligible] for h in history])))
    base = np.where(active, rate, np.nan)  # one base rate: the ranking is the contagion's own
    value = pd.Series(forced.customers["value"].to_numpy(),
                      index=forced.customers["customer_id"].astype(str)).reindex(names).to_numpy()
    leaver_idx = pd.Index(names).get_indexer(leavers)
    scored = active.copy()
    scored[leaver_idx] = False

    # ---- truth: followers churn in (D, D + H] in the forced world and not in the baseline
    def churned(world, h):
        d = pd.Series(world.customers["churn_date"].to_numpy(),
                      index=world.customers["customer_id"].astype(str)).reindex(names)
        d = d.to_numpy(dtype="datetime64[ns]")
        return (~np.isnat(d)) & (d > np.datetime64(as_of)) & (
            d <= np.datetime64(as_of + pd.Timedelta(days=h)))

    followers = {h: churned(forced, h) & ~churned(baseline, h) & scored for h in args.horizons}

    # ---- rankings
    leaver_groups = np.unique(membership[leaver_idx])
    in_group = np.isin(membership, leaver_groups).astype(float)
    contact = np.zeros(len(names))
    contact[np.concatenate([graph.neighbors(int(i)) for i in leaver_idx])] = 1.0
    n_leavers_in = pd.Series(membership[leaver_idx]).value_counts()
    size = pd.Series(membership[scored]).value_counts()
    naive_groups = sorted(leaver_groups, key=lambda g: (-n_leavers_in.get(g, 0), -size.get(g, 0), g))

    rankings = {}
    per_method = [(f"what_if, {m} only", ContagionModel(method=m, n_simulations=args.simulations,
                                                         seed=seed).fit(history))
                  for m in METHODS] if args.per_method else []
    for label, model in [("what_if (fitted on history)", fitted), ("what_if (structural prior)", prior),
                         *per_method]:
        alerts, at_risk = what_if(graph, membership, base, value, leavers, model, infl)
        inc = pd.Series(at_risk["increase"].to_numpy(), index=at_risk["customer_id"].to_numpy())
        score = inc.reindex(names).fillna(0.0).to_numpy()
        rankings[label] = (score, list(alerts["community"]))
        if model is fitted:
            method = model.method_
            comparison = model.comparison_
            coef = dict(zip(model.feature_names_, np.round(model.coef_, 3).tolist()))
            half_life = model.half_life_days_
    rankings["naive: leaver's whole group"] = (in_group, naive_groups)
    rankings["naive: leaver's direct contacts"] = (contact, None)

    rows = []
    for h in args.horizons:
        y = followers[h][scored]
        true_groups = set(np.unique(membership[followers[h]]))
        for label, (score, groups) in rankings.items():
            s = score[scored]
            top = np.argsort(-s, kind="stable")[:100]
            rows.append({
                "seed": seed, "scenario": scenario, "horizon_days": h, "ranking": label,
                "followers": int(y.sum()), "scored": int(scored.sum()),
                "auc": float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan"),
                "precision_at_100": float(y[top].mean()),
                "groups_flagged_by_naive": len(naive_groups),
                "groups_with_followers": len(true_groups),
                "group_precision_at_naive_k": (_group_precision(groups, true_groups, len(naive_groups))
                                                if groups is not None else float("nan")),
                "group_precision_at_5": (_group_precision(groups, true_groups, 5)
                                         if groups is not None else float("nan")),
                "followers_in_top5_groups": (float(np.isin(membership[followers[h]], groups[:5]).mean())
                                             if groups is not None and followers[h].any()
                                             else float("nan")),
                "_y": y, "_s": s,
            })
    info = {"seed": seed, "scenario": scenario, "leavers": len(leavers), "method": method,
            "coef": coef, "half_life_days": half_life,
            "world_params": {k: baseline.params[k] for k in (
                "contagion_strength", "influencer_contagion", "contagion_window", "monthly_churn")},
            "fit_seconds": round(fit_seconds, 2),
            "comparison": comparison.drop(columns=["selected"]).round(4).to_dict(orient="records")
            if comparison is not None else None}
    return rows, info


def summarise(rows):
    frame = pd.DataFrame(rows)
    out = []
    for (scenario, h, ranking), part in frame.groupby(["scenario", "horizon_days", "ranking"],
                                                      sort=False):
        y = np.concatenate(part["_y"].to_list())
        s = np.concatenate(part["_s"].to_list())
        out.append({
            "scenario": scenario, "horizon_days": int(h), "ranking": ranking,
            "worlds": len(part), "followers": int(part["followers"].sum()),
            "auc_pooled": round(float(roc_auc_score(y, s)), 3),
            "auc_mean_per_world": round(float(part["auc"].mean()), 3),
            "precision_at_100": round(float(part["precision_at_100"].mean()), 3),
            "group_precision_at_naive_k": round(float(part["group_precision_at_naive_k"].mean()), 3),
            "group_precision_at_5": round(float(part["group_precision_at_5"].mean()), 3),
            "followers_in_top5_groups": round(float(part["followers_in_top5_groups"].mean()), 3),
        })
    return pd.DataFrame(out)


def _markdown(table: pd.DataFrame, infos, args, seconds) -> str:
    lines = [
        "# What-if: do the alerts find the customers who really follow?",
        "",
        f"Generator worlds of {args.customers} customers, seeds {list(args.seeds)}; "
        f"{args.leavers} customers forced to leave on day {args.day}; followers = churn in "
        f"(D, D + H] in the forced world but not in the baseline world (same seed). "
        f"Contagion model fitted at as-of D on cut-offs D-60, D-45, D-30 (natural churn before D, labels known by D). "
        f"Customer AUC pooled over worlds; precision and group precision averaged over worlds. "
        f"Generator contagion: {infos[0]['world_params']}. "
        f"Runtime {seconds:.0f} s (`experiments/whatif_followers.py`).",
        "",
        "| scenario | H (days) | ranking | followers | AUC | P@100 customers | group P@k (naive k) | group P@5 | followers in top-5 groups |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(f"| {r.scenario} | {r.horizon_days} | {r.ranking} | {r.followers} | "
                     f"{r.auc_pooled:.3f} | {r.precision_at_100:.3f} | "
                     f"{_fmt(r.group_precision_at_naive_k)} | {_fmt(r.group_precision_at_5)} | "
                     f"{_fmt(r.followers_in_top5_groups)} |")
    lines += ["", "Contagion method chosen on held-out cut-offs per world: " + ", ".join(
        f"{i['scenario']}/seed {i['seed']}: {i['method']}" for i in infos), ""]
    return "\n".join(lines)


def _fmt(x):
    return "–" if not np.isfinite(x) else f"{x:.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=6000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--leavers", type=int, default=40)
    parser.add_argument("--day", type=int, default=100)
    parser.add_argument("--horizons", type=int, nargs="+", default=[30, 60])
    parser.add_argument("--simulations", type=int, default=100)
    parser.add_argument("--no-per-method", dest="per_method", action="store_false",
                        help="skip the rows of each contagion method on its own")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.seeds, args.leavers, args.simulations = 1500, [0], 15, 40
    t0 = time.perf_counter()
    rows, infos = [], []
    for seed in args.seeds:
        for scenario in ("influencers", "random customers"):
            r, info = run_world(seed, scenario, args)
            rows += r
            infos.append(info)
            print(f"seed {seed} {scenario}: method {info['method']} "
                  f"(fit {info['fit_seconds']} s)", flush=True)
    table = summarise(rows)
    seconds = time.perf_counter() - t0
    print(table.to_string(index=False))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "whatif_followers_quick" if args.quick else "whatif_followers"
    payload = {"params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "runtime_seconds": round(seconds, 1), "table": table.to_dict(orient="records"),
               "worlds": infos}
    _write(args.out / f"{stem}.json", json.dumps(payload, indent=2, default=float))
    _write(args.out / f"{stem}.md", _markdown(table, infos, args, seconds))


if __name__ == "__main__":
    main()
