"""Retention campaigns in generator worlds (issue 24, item 5).

For each world (``--worlds``, default 20, ``--customers`` each, seeds ``--first-seed``,
``--first-seed`` + 1, ...): five past
randomised campaigns, one a month on days 0, 30, 60, 90 and 120 (each contacts a random half
of the active customers with a random offer, sms or call; the other half is the control group;
the outcome is churn within 60 days), then a campaign of calls on day 180 (as-of) evaluated
over 60 days. With ``--responders default`` the planted effect of a call is highest for young
non-prepaid customers without support contacts and lowest for the prepaid customers with support
contacts who are the most likely to leave; with ``--responders persuadables`` the riskiest fifth
of the customers (on the observed part of the hazard) are lost causes (a tenth of the base
effect) and the persuadables are at medium risk (:mod:`graphchurn.synth.campaign`). Policies pick whom to call (one offer,
cost 1, assumed effect 0.3) at several budgets; each policy's world is re-simulated with the
same draws, and the retained value is the value x 12 months of the customers lost without the
campaign and kept with it (followers included, through the world's contagion), gross of the
calls' cost (equal budgets).

What the policies know. Risk: the world's true probability of being lost in the window at
as-of, blurred with N(0, 0.5) on the log-odds (a stand-in for the churn model, whose cost
would dominate the run). Contagion: ``ContagionModel(method="exposure")`` fitted on the
world's churn history (cut-offs on days 60, 90, 120 and 150, 30-day labels) over its ties.
Uplift: learned from the past campaigns (:func:`graphchurn.targeting.uplift.fit_uplift`:
learner chosen on the past campaigns held out in turn; effect = uplift / control churn of customers
alike; when the learned ranking's held-out Qini does not beat the risk ranking's, the offer's
average effect in the history for everyone). The oracle knows the true risk and the planted response probabilities (and uses the
same contagion model).

Policies: random mailing, top-risk-first, today's expected-saving list (risk x assumed effect x
value, :func:`contact_list`), network-aware (:func:`network_contact_list`, followers' value
with overlap), uplift-aware (:func:`next_best_action` with the learned effect, or the average
effect where the learned ranking lost on the held-out campaign, and elsewhere the learned effect
shrunk towards the average by its held-out reliability), ``uplift_binary`` (the same without the
shrinking: learned or average, the rule before the reliability), ``uplift_learned`` (the learned
effect whatever the held-out Qini says), ``uplift_bands`` (the ``risk_bands`` learner alone,
whatever the Qini says: the effect by quintile of risk), network + uplift, oracle. Two more take the oracle apart: ``planted_effect`` (the blurred risk with the
planted effects: what a perfect uplift model would give the uplift-aware list) and
``oracle_own`` (the oracle without followers: what the network part adds when risk and effects
are right).

    python experiments/campaigns.py [--worlds 20] [--first-seed 0] [--customers 5000]
                                    [--budgets 25,50,100,200]
                                    [--responders default|persuadables] [--history-share 0.5]
                                    [--sleeping-dogs 0] [--contagion-strength 15]
                                    [--contagion-window 30] [--diagnose]

``--contagion-strength g`` and ``--contagion-window d`` change the worlds' contagion
(``generate_world``'s ``contagion_strength`` and ``contagion_window``; default 15 and 30 days).
The strong-contagion setting of issue 24 was fixed before its run, not tuned on the lists'
results: ``--contagion-strength 40``, the project's strong-contagion world of the churn-model
ablations (docs/results.md), everything else default. In the default world one departed
contact raises a customer's daily hazard by 15 x its share of the customer's tie strength;
Nitzan & Libai (2011) estimate that exposure to a defecting neighbour raises the defection
hazard by about 80% on average, and Dasgupta et al. (2008) find a customer's churn probability
rising with the number of its contacts who churned; 40 multiplies the default per-tie effect
by 2.7, a world where neighbours' departures matter more than the default's.

``--diagnose`` runs :func:`diagnose_world` instead of the policies: contagion's share of the
window's losses (the same worlds without contagion), and what keeping single customers, and
the whole lists, is worth to their contacts, simulated against network.py's estimates
(``{stem}_diagnosis.{json,md}``).

``--sleeping-dogs s`` plants sleeping dogs: the oldest share ``s`` of the customers, whom a
call drives away with probability 0.45 (:mod:`graphchurn.synth.campaign`); the report then
counts the sleeping dogs each policy calls.

Writes experiments/results/campaigns.json (every world's numbers; rewritten after each world),
campaigns.md and campaigns.png; with ``--responders persuadables``,
campaigns_persuadables.{json,md,png}; with ``--sleeping-dogs s``, ``_dogs{s}`` appended; with
``--contagion-strength g`` (``--contagion-window d``), ``_contagion{g}`` (``_window{d}``).
"""

from __future__ import annotations

import os

# Many small gradient-boosting fits: on a shared machine their thread pool only contends
# (several times slower than one thread); set before scikit-learn loads its OpenMP runtime.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import igraph as ig  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, library_version, markdown_table  # noqa: E402

from graphchurn.contagion.model import ContagionCutoff, ContagionModel  # noqa: E402
from graphchurn.synth.campaign import RESPONDERS, CampaignWorld, planted_effects  # noqa: E402
from graphchurn.synth.world import generate_world  # noqa: E402
from graphchurn.targeting.actions import next_best_action  # noqa: E402
from graphchurn.targeting.contact_list import contact_list  # noqa: E402
from graphchurn.targeting.network import follower_effects, network_contact_list  # noqa: E402
from graphchurn.targeting.uplift import (  # noqa: E402
    _churn_rate,
    _design,
    fit_uplift,
    qini_at_depth,
    qini_coefficient,
)

POLICIES = ["random", "top_risk", "expected_saving", "network", "uplift", "uplift_binary",
            "uplift_learned", "uplift_bands", "network_uplift", "planted_effect", "oracle_own",
            "oracle"]
COST, ASSUMED_EFFECT, MONTHS = 1.0, 0.3, 12.0
CONTAGION_CUTOFFS = (60, 90, 120, 150)
PAIRS = [("network", "expected_saving"), ("network", "random"), ("network", "top_risk"),
         ("expected_saving", "random"), ("expected_saving", "top_risk"),
         ("uplift", "expected_saving"), ("uplift", "top_risk"), ("uplift", "uplift_binary"),
         ("uplift_binary", "expected_saving"),
         ("uplift_learned", "expected_saving"), ("uplift_learned", "top_risk"),
         ("uplift_bands", "expected_saving"), ("uplift_bands", "top_risk"),
         ("network_uplift", "uplift"),
         ("network_uplift", "network"), ("network_uplift", "expected_saving"),
         ("planted_effect", "expected_saving"), ("planted_effect", "top_risk"),
         ("planted_effect", "uplift"), ("planted_effect", "uplift_learned"),
         ("oracle_own", "expected_saving"), ("oracle", "oracle_own"),
         ("oracle", "expected_saving"), ("oracle", "network_uplift")]


def _graph(world):
    ties = world.ties
    names = pd.Index(pd.unique(pd.concat([world.customers["customer_id"], ties["a"], ties["b"]])))
    g = ig.Graph(n=len(names), edges=list(zip(names.get_indexer(ties["a"]),
                                              names.get_indexer(ties["b"]))))
    g.es["weight"] = ties["weight"].tolist()
    g.vs["name"] = list(names)
    g.vs["on_net"] = names.isin(world.customers["customer_id"]).tolist()
    return g, names


def _planted_qini(history, customers, effect):
    """Mean Qini, over the past campaigns held out in turn (as in fit_uplift), of ranking call
    and control rows by the control churn learned on the other campaigns times the planted
    effect: what a perfect effect model would score, the ceiling of the learned ranking's Qini
    with this much history."""
    X = _design(customers)
    h = history[history["offer"].isin(["call", "none"])]
    eff = effect.reindex(h["customer_id"]).to_numpy()
    t = (h["offer"] == "call").to_numpy()
    stayed = 1 - h["outcome"].to_numpy()
    out = []
    for d in np.sort(h["contact_date"].unique()):
        test = (h["contact_date"] == d).to_numpy()
        train = h[~test & ~t]
        q = _churn_rate(X.loc[train["customer_id"]].to_numpy(dtype=float),
                        train["outcome"].to_numpy(dtype=float),
                        X.loc[h.loc[test, "customer_id"]].to_numpy(dtype=float), 0)
        out.append(qini_coefficient(q * eff[test], t[test], stayed[test]))
    return float(np.mean(out))


def _depth_qini(held_out, offer, share):
    """Mean over the held-out campaigns of the Qini at ``share`` of the selected learner's
    ranking and of the risk ranking's, and of their paired difference's fold-to-fold
    standard error: how well the history tells them apart where a list of that size reads."""
    learned, risk = [], []
    for _, f in held_out[held_out["offer"] == offer].groupby("fold"):
        stayed = 1 - f["churned"].to_numpy()
        learned.append(qini_at_depth(f["uplift"], f["treated"], stayed, share))
        risk.append(qini_at_depth(f["control_churn"] * f["average_effect"], f["treated"],
                                  stayed, share))
    d = np.subtract(learned, risk)
    return float(np.mean(learned)), float(np.mean(risk)), float(d.std(ddof=1) / np.sqrt(len(d)))


def _world_and_estimates(seed, n_customers, responders="default", history_share=0.5,
                         sleeping_dogs=0.0, world_kwargs=None):
    """One campaign world and what the policies know of it: blurred and true risk, value,
    the graph, the fitted contagion model and its per-tie effects under either risk."""
    cw = CampaignWorld({"n_customers": n_customers, "seed": seed, **(world_kwargs or {})},
                       responders=responders, history_share=history_share,
                       sleeping_dogs=sleeping_dogs)
    world = cw.world
    rng = np.random.default_rng([seed, 99])
    p_true = cw.true_risk()
    active = p_true.notna()
    ids = p_true.index[active.to_numpy()]
    pt = np.clip(p_true[active].to_numpy(), 1e-4, 1 - 1e-4)
    z = np.log(pt) - np.log1p(-pt) + rng.normal(0, 0.5, pt.size)
    p_hat = pd.Series(1 / (1 + np.exp(-z)), index=ids)
    value = world.customers.set_index("customer_id")["value"].reindex(ids)

    g, names = _graph(world)
    churn = world.customers.set_index("customer_id")["churn_date"]
    as_of = world.start + pd.Timedelta(days=cw.as_of_day)
    history = [ContagionCutoff.from_churn_dates(g, churn, world.start + pd.Timedelta(days=d), 30,
                                                known_until=as_of) for d in CONTAGION_CUTOFFS]
    model = ContagionModel(method="exposure", half_life_days=30).fit(history)
    membership = world.truth.set_index("customer_id")["community"].reindex(names).fillna(-1)

    def effects_for(p):
        return follower_effects(g, p.reindex(names).to_numpy(dtype=float), model,
                                membership.to_numpy())

    fe_hat, fe_true = effects_for(p_hat), effects_for(p_true[active])
    return {"cw": cw, "rng": rng, "p_true": p_true, "ids": ids, "pt": pt, "p_hat": p_hat,
            "value": value, "model": model, "fe_hat": fe_hat, "fe_true": fe_true}


def one_world(seed, n_customers, budgets, responders="default", history_share=0.5,
              sleeping_dogs=0.0, world_kwargs=None):
    t0 = time.time()
    est = _world_and_estimates(seed, n_customers, responders, history_share, sleeping_dogs,
                               world_kwargs)
    cw, rng, ids, pt, p_hat, value, model, fe_hat, fe_true = (
        est[k] for k in ("cw", "rng", "ids", "pt", "p_hat", "value", "model", "fe_hat",
                         "fe_true"))
    world = cw.world
    scores = pd.DataFrame({"customer_id": ids, "churn_probability": p_hat.to_numpy(),
                           "value": value.to_numpy()})
    oracle_scores = scores.assign(churn_probability=pt)
    call = {"call": {"channel": "call", "cost": COST, "effect": ASSUMED_EFFECT}}
    up = fit_uplift(cw.history, world.customers)
    selected = up.comparison[up.comparison["selected"]].set_index("offer")
    up_eff = up.effects()[["call"]]
    up_binary = up.effects(shrink=False)[["call"]]
    up_learned = up.effects(fallback=False)[["call"]]
    up_bands = fit_uplift(cw.history, world.customers,
                          learners=("risk_bands",)).effects(fallback=False)[["call"]]
    decision = up.decision.loc["call"]
    true_eff = cw.effects.loc[ids, ["call"]]
    dogs = set(true_eff.index[true_eff["call"].to_numpy() < 0])
    t_setup = time.time() - t0
    rows = []
    for b in budgets:
        k = int(b // COST)
        picks = {
            "random": list(rng.choice(ids, size=min(k, len(ids)), replace=False)),
            "top_risk": list(p_hat.sort_values(ascending=False, kind="stable").index[:k]),
            "expected_saving": contact_list(scores, b, {"call": (COST, ASSUMED_EFFECT)},
                                            horizon_months=MONTHS)["customer_id"].tolist(),
            "network": network_contact_list(scores, b, fe_hat, {"call": (COST, ASSUMED_EFFECT)},
                                            horizon_months=MONTHS)["customer_id"].tolist(),
            "uplift": next_best_action(scores, b, call, uplift=up_eff,
                                       horizon_months=MONTHS)["customer_id"].tolist(),
            "uplift_binary": next_best_action(scores, b, call, uplift=up_binary,
                                              horizon_months=MONTHS)["customer_id"].tolist(),
            "uplift_learned": next_best_action(scores, b, call, uplift=up_learned,
                                               horizon_months=MONTHS)["customer_id"].tolist(),
            "uplift_bands": next_best_action(scores, b, call, uplift=up_bands,
                                             horizon_months=MONTHS)["customer_id"].tolist(),
            "network_uplift": next_best_action(scores, b, call, uplift=up_eff, effects=fe_hat,
                                               horizon_months=MONTHS)["customer_id"].tolist(),
            "planted_effect": next_best_action(scores, b, call, uplift=true_eff,
                                               horizon_months=MONTHS)["customer_id"].tolist(),
            "oracle_own": next_best_action(oracle_scores, b, call, uplift=true_eff,
                                           horizon_months=MONTHS)["customer_id"].tolist(),
            "oracle": next_best_action(oracle_scores, b, call, uplift=true_eff, effects=fe_true,
                                       horizon_months=MONTHS)["customer_id"].tolist(),
        }
        for policy, chosen in picks.items():
            rows.append({"world": seed, "budget": b, "policy": policy, "contacts": len(chosen),
                         "sleeping_dogs_contacted": len(dogs.intersection(chosen)),
                         "retained_value": cw.retained_value({c: "call" for c in chosen},
                                                             MONTHS)})
    eff_hat = up_learned["call"].reindex(ids).to_numpy()
    meta = {"world": seed,
            "qini_call": float(selected.loc["call", "qini"]),
            "qini_sms": float(selected.loc["sms", "qini"]),
            "learner_call": str(selected.loc["call", "learner"]),
            "qini_call_risk_ranking": float(decision["qini_risk"]),
            "qini_call_planted": _planted_qini(cw.history, world.customers, cw.effects["call"]),
            "ranking_call": str(decision["ranking"]),
            "reliability_call": float(decision["reliability"]),
            "average_effect_call": float(decision["average_effect"]),
            "spearman_learned_true_effect": float(spearmanr(eff_hat, true_eff["call"])[0]),
            "spearman_risk_true_effect": float(spearmanr(pt, true_eff["call"])[0]),
            "spearman_risk_true_uplift": float(spearmanr(pt, pt * true_eff["call"])[0]),
            "mean_learned_effect": float(np.mean(eff_hat)),
            "mean_true_effect": float(true_eff["call"].mean()),
            "history_rows": len(cw.history),
            "lost_without_campaign": int(cw.baseline_lost.sum()),
            "value_lost_without_campaign": float((cw.baseline_lost * world.customers["value"]
                                                  .to_numpy()).sum() * MONTHS),
            "exposure_coef": [float(c) for c in model.coef_],
            "seconds_setup": t_setup, "seconds": time.time() - t0}
    for b in budgets:
        share = (b // COST) / len(ids)
        meta[f"qini_top_{b:g}_learned"], meta[f"qini_top_{b:g}_risk"], meta[
            f"qini_top_{b:g}_diff_se"] = _depth_qini(up.held_out, "call", share)
    return rows, meta


def diagnose_world(seed, n_customers, world_kwargs=None, budget=50.0, top=20, long_days=111):
    """What keeping one customer is worth to its contacts in one world, simulated and estimated.

    Contagion's share of the window's losses: the same world with ``contagion_strength`` 0
    (same draws). Sample: the customers that today's list, the network-aware list and the
    network-aware list on the true risk call at ``budget``, and the ``top`` customers by the
    estimated followers' value on the true risk. For each, the world is re-simulated with that
    customer alone kept through the window (effect 1) and compared with no campaign: own kept
    value and the followers' (every other customer's) kept value, over the campaign's window
    and over ``long_days`` (the window plus the longest fade and the contagion window, long
    enough for a departure in the window to have pulled out all its followers). Estimates with
    effect 1: own ``p_i LV_i``; followers ``sum_j LV_j min(p_i D_ij, r_j)`` (network.py alone,
    on the blurred and on the true risk); and, for a customer lost without the campaign,
    ``sum_j LV_j D_ij`` (the followers' value given that it would leave).
    """
    from graphchurn.targeting.network import _FollowerClaims

    est = _world_and_estimates(seed, n_customers, world_kwargs=world_kwargs)
    cw, ids, pt, p_hat, value = (est[k] for k in ("cw", "ids", "pt", "p_hat", "value"))
    kwargs = {"n_customers": n_customers, "seed": seed, **(world_kwargs or {})}
    no_contagion = CampaignWorld({**kwargs, "contagion_strength": 0.0})
    every = pd.Series(cw.world.customers["value"].to_numpy() * MONTHS, index=cw.ids)
    lv = value.to_numpy() * MONTHS
    d_true = est["fe_true"].aligned(ids)
    standalone = {}
    for name, p, fe in (("hat", p_hat.to_numpy(), est["fe_hat"]), ("true", pt, est["fe_true"])):
        standalone[name] = _FollowerClaims(p, lv, fe.aligned(ids)).standalone(np.ones(ids.size))
    given_leaves = np.asarray(d_true @ lv).ravel()
    scores = pd.DataFrame({"customer_id": ids, "churn_probability": p_hat.to_numpy(),
                           "value": value.to_numpy()})
    offer = {"call": (COST, ASSUMED_EFFECT)}
    lists = {
        "expected_saving": contact_list(scores, budget, offer, horizon_months=MONTHS),
        "network": network_contact_list(scores, budget, est["fe_hat"], offer,
                                         horizon_months=MONTHS),
        "network_true_risk": network_contact_list(scores.assign(churn_probability=pt), budget,
                                                  est["fe_true"], offer, horizon_months=MONTHS),
    }
    chosen = {k: set(v["customer_id"]) for k, v in lists.items()}
    top_ids = set(ids[np.argsort(-standalone["true"], kind="stable")[:top]])
    sample = sorted(top_ids.union(*chosen.values()))
    pos = ids.get_indexer(sample)
    where = cw.ids.get_indexer(sample)
    base = pd.Series(cw.baseline_lost, index=cw.ids)
    base_long = pd.Series(cw.lost({}, horizon_days=long_days), index=cw.ids)
    rows = []
    for cid, k, w in zip(sample, pos, where):
        row = {"world": seed, "customer_id": cid, "p_true": pt[k], "p_hat": float(p_hat.iloc[k]),
               "planted_effect": float(cw.effects["call"].iloc[w]),
               "lost_without": int(base.iloc[w]), "own_est": pt[k] * lv[k],
               "followers_est": standalone["hat"][k], "followers_est_true_risk":
                   standalone["true"][k], "followers_if_leaves_est": given_leaves[k],
               "top_followers": cid in top_ids, **{f"in_{n}": cid in c for n, c in chosen.items()}}
        for tag, b, h in (("", base, None), ("_long", base_long, long_days)):
            gain = (b - pd.Series(cw.lost({}, horizon_days=h, kept=[cid]), index=cw.ids)) * every
            row[f"own_true{tag}"] = float(gain.iloc[w])
            row[f"followers_true{tag}"] = float(gain.sum() - gain.iloc[w])
        rows.append(row)
    # the whole lists at every budget: kept as a block (effect 1) and called (planted responses)
    joint = []
    base_total = float((cw.baseline_lost * every).sum())
    base_long_total = float((base_long * every).sum())
    for b in (25.0, 50.0, 100.0, 200.0):
        for name, frame in (
                ("expected_saving", contact_list(scores, b, offer, horizon_months=MONTHS)),
                ("network", network_contact_list(scores, b, est["fe_hat"], offer,
                                                 horizon_months=MONTHS))):
            called = frame["customer_id"].tolist()
            inside = cw.ids.isin(called)
            kept = cw.lost({}, kept=called)
            kept_long = cw.lost({}, horizon_days=long_days, kept=called)
            joint.append({"world": seed, "budget": b, "policy": name,
                          "kept_all": base_total - float((kept * every).sum()),
                          "kept_all_own": float(((cw.baseline_lost - kept) * every)[inside].sum()),
                          "kept_all_long": base_long_total - float((kept_long * every).sum()),
                          "called": cw.retained_value({c: "call" for c in called}, MONTHS),
                          "estimated_own": float(frame["own_value"].sum()
                                                 if "own_value" in frame else
                                                 frame["expected_saving"].sum()),
                          "estimated_followers": float(frame["followers_value"].sum()
                                                       if "followers_value" in frame else 0.0)})
    # when the window's leavers leave: share of their 30-day exposure inside the window
    w = generate_world(days=cw.as_of_day + cw.horizon_days + 1, retained=cw._history_kept,
                       forced_departures=cw._history_gone or None, traffic_days=0, **kwargs)
    churn_day = (w.truth["true_churn_date"] - w.start).dt.days.to_numpy()[cw.baseline_lost == 1]
    window = int(kwargs.get("contagion_window", 30))
    end = cw.as_of_day + cw.horizon_days
    inside = np.clip(end - churn_day, 0, window) / window
    meta = {"world": seed,
            "lost": int(cw.baseline_lost.sum()), "lost_no_contagion":
                int(no_contagion.baseline_lost.sum()),
            "value_lost": float((cw.baseline_lost * every).sum()),
            "value_lost_no_contagion": float((no_contagion.baseline_lost * every).sum()),
            "exposure_inside_window": float(inside.mean()),
            "exposure_coef": [float(c) for c in est["model"].coef_],
            **{f"list_{n}_followers_share": float(v["followers_value"].sum()
                                                   / v["own_value"].sum())
               for n, v in lists.items() if "followers_value" in v}}
    return rows, joint, meta


def diagnose(args, world_kwargs, stem):
    """Run :func:`diagnose_world` over the worlds and write ``{stem}_diagnosis.{json,md}``."""
    out_dir = ROOT / "experiments" / "results"
    path = out_dir / f"{stem}_diagnosis.json"
    if args.report_only:  # the report again from the json of a finished run
        payload = json.loads(path.read_text())
        raw, joint, meta = (pd.DataFrame(payload[k]) for k in ("rows", "lists", "worlds"))
        minutes, library = payload.get("minutes"), payload["library"]
        if "planted_effect" not in raw:  # runs before the column: the planted effects again
            effect = pd.concat([planted_effects(generate_world(
                n_customers=args.customers, seed=seed, days=CampaignWorld.as_of_day,
                traffic_days=0, **world_kwargs).customers)["call"].rename(seed)
                for seed in meta["world"]], axis=1)
            raw["planted_effect"] = [effect.at[c, w] for c, w in
                                     zip(raw["customer_id"], raw["world"])]
    else:
        rows, joints, metas, t0 = [], [], [], time.time()
        for seed in range(args.first_seed, args.first_seed + args.worlds):
            r, j, m = diagnose_world(seed, args.customers, world_kwargs)
            rows += r
            joints += j
            metas.append(m)
            print(f"world {seed}: total {time.time() - t0:.0f} s", flush=True)
        raw, joint, meta = pd.DataFrame(rows), pd.DataFrame(joints), pd.DataFrame(metas)
        minutes, library = (time.time() - t0) / 60, library_version()
        path.write_text(json.dumps(
            {"command": _command(args) + " --diagnose", "library": library, "minutes": minutes,
             "rows": raw.to_dict("records"), "lists": joint.to_dict("records"),
             "worlds": meta.to_dict("records")}, indent=1, default=float))
    n = len(meta)

    def ms(x, digits=0):
        x = pd.Series(x, dtype=float)
        return f"{x.mean():.{digits}f} ± {x.std(ddof=1) / np.sqrt(len(x)):.{digits}f}"

    share = 1 - meta["lost_no_contagion"] / meta["lost"]
    vshare = 1 - meta["value_lost_no_contagion"] / meta["value_lost"]
    groups = {"today's list (expected_saving)": raw["in_expected_saving"],
              "network-aware list": raw["in_network"],
              "network-aware list, true risk": raw["in_network_true_risk"],
              "top followers' value (true risk)": raw["top_followers"]}
    cols = ["own_est", "own_true", "followers_est", "followers_est_true_risk", "followers_true",
            "followers_true_long"]
    table = []
    for name, mask in groups.items():
        per_world = raw[mask].groupby("world")[cols].sum()
        table.append({"customers": name, "per world": f"{mask.sum() / n:.0f}",
                      **{c: ms(per_world[c]) for c in cols}})
    leavers = raw[raw["lost_without"] == 1].drop_duplicates(["world", "customer_id"])
    pw = leavers.groupby("world")[["followers_if_leaves_est", "followers_true",
                                   "followers_true_long", "own_true"]].sum()
    wide = joint.pivot_table(index=["world", "budget"], columns="policy")
    list_rows = []
    for b, block in wide.groupby(level="budget"):
        row = {"budget": int(b)}
        row["network: estimated followers"] = ms(block[("estimated_followers", "network")])
        for col in ("estimated_own", "kept_all_own", "kept_all", "kept_all_long", "called"):
            row[col] = ms(block[(col, "network")] - block[(col, "expected_saving")])
        d = block[("called", "network")] - block[("called", "expected_saving")]
        row["called: worlds better"] = f"{int((d > 0).sum())}/{len(d)}"
        list_rows.append(row)
    overlap = (raw["in_network"] & raw["in_expected_saving"]).groupby(raw["world"]).sum()
    effect_line = ""
    if "planted_effect" in raw:
        only = {name: raw[raw[f"in_{a}"] & ~raw[f"in_{b}"]].groupby("world")["planted_effect"]
                .mean() for name, a, b in (("network", "network", "expected_saving"),
                                           ("today", "expected_saving", "network"))}
        effect_line = (f"Planted effect of a call, mean over the customers on one list only: "
                       f"network-aware {ms(only['network'], 2)}, today's {ms(only['today'], 2)}.\n")
    text = f"""# Does keeping one customer keep its contacts? (issue 24, diagnosis)

`{_command(args)} --diagnose` ({'' if minutes is None else f'{minutes:.0f} min, '}library
{library}).
{n} worlds of {args.customers} customers, world settings {world_kwargs or 'default'}.
Method: `diagnose_world` in [campaigns.py](../campaigns.py).

## Contagion's share of the window's losses

Customers lost in the 60-day window without a campaign: {ms(meta['lost'])}; in the same worlds
with `contagion_strength` 0 (same draws): {ms(meta['lost_no_contagion'])}. Share of the losses
due to contagion: {ms(share, 3)} of the customers, {ms(vshare, 3)} of the value.
Share of a window leaver's 30-day exposure of its contacts that falls inside the window:
{ms(meta['exposure_inside_window'], 2)}.

## Keeping one customer alone (effect 1), value x 12 months, sums per world (mean ± se)

`own_est` = p LV; `followers_est` = network.py's standalone followers' value on the blurred
risk (what the network-aware list reads), `followers_est_true_risk` on the true risk;
`own_true`, `followers_true` = simulated (that customer kept vs no campaign, same draws) over the
60-day window; `followers_true_long` over {111} days (every follower the window's departures
pull out).

{markdown_table(pd.DataFrame(table).set_index('customers'))}

Customers of the sample lost without the campaign ({len(leavers) / n:.1f} per world): their
followers' value if they leave (`sum_j LV_j D_ij`, network.py on the true risk)
{ms(pw['followers_if_leaves_est'])} per world; simulated {ms(pw['followers_true'])} (window),
{ms(pw['followers_true_long'])} ({111} days); their own value kept {ms(pw['own_true'])}.

Followers' share of the lists' estimated saving (followers / own):
{', '.join(f"{c[5:-16]} {ms(meta[c], 3)}" for c in meta.columns if c.endswith('followers_share'))}.
## The whole lists: network-aware minus today's (value x 12 months, mean ± se over worlds)

At 50 calls the two lists share {ms(overlap, 1)} customers.
{effect_line}`network: estimated followers`: the
followers' value the network-aware list expects (assumed effect 0.3; today's list estimates
none); `estimated_own`: the difference of the lists' expected own value; `kept_all_own`: the called customers' own value kept when every
called customer is kept (effect 1) and `kept_all`: everyone's (followers included), over the
window; `kept_all_long` over {111} days; `called`: the campaign itself (planted responses, the
experiment's retained value).

{markdown_table(pd.DataFrame(list_rows).set_index('budget'))}

Fitted exposure coefficients (tie share, influence-weighted share, largest share), mean over
worlds: {np.round(np.mean(meta['exposure_coef'].tolist(), axis=0), 2).tolist()}.
"""
    (out_dir / f"{stem}_diagnosis.md").write_text(text)
    print(text)


def _paired(wide, a, c):
    d = wide[a] - wide[c]
    return {"mean": float(d.mean()), "se": float(d.std(ddof=1) / np.sqrt(len(d))),
            "worlds_better": f"{int((d > 0).sum())}/{len(d)}"}


def summarise(raw, meta, out_dir, n_customers, elapsed, args, stem, library=None):
    stats = raw.groupby(["budget", "policy"])["retained_value"].agg(["mean", "std", "count"])
    stats["se"] = stats["std"] / np.sqrt(stats["count"])
    wide = raw.pivot_table(index=["world", "budget"], columns="policy", values="retained_value")
    diff_rows = []
    for b, block in wide.groupby(level="budget"):
        for a, c in PAIRS:
            diff_rows.append({"budget": b, "difference": f"{a} - {c}", **_paired(block, a, c)})
    diffs = pd.DataFrame(diff_rows)
    table = stats["mean"].unstack("policy")[POLICIES]
    se = stats["se"].unstack("policy")[POLICIES]
    shown = table.round(0).astype(int).astype(str) + " ± " + se.round(0).astype(int).astype(str)
    contacts = raw.groupby(["budget", "policy"])["contacts"].mean().unstack("policy")[POLICIES]
    dogs = ""
    if args.sleeping_dogs > 0:
        called = raw.groupby(["budget", "policy"])["sleeping_dogs_contacted"].mean().unstack(
            "policy")[POLICIES]
        dogs = (f"\n\nSleeping dogs contacted (mean; the oldest {args.sleeping_dogs:g} of the "
                f"customers, whom a call drives away with probability 0.45):\n\n"
                f"{markdown_table(called.round(1).rename_axis('budget'), floatfmt='.1f')}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for policy in POLICIES:
        ax.errorbar(table.index, table[policy], yerr=se[policy], marker="o", capsize=3,
                    label=policy)
    ax.set_xlabel("budget (calls at cost 1)")
    ax.set_ylabel("retained value (value x 12 months)")
    ax.set_title(f"Retained value vs budget, {len(meta)} worlds of {n_customers} customers, "
                 f"responders={args.responders}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / f"{stem}.png", dpi=110)

    n = len(meta)

    def ms(column, digits=4):
        return f"{meta[column].mean():.{digits}f} ± {meta[column].std(ddof=1) / np.sqrt(n):.{digits}f}"

    qini_gain = meta["qini_call"] - meta["qini_call_risk_ranking"]
    kept = int((meta["ranking_call"] == "learned").sum())
    learned_worlds = meta[meta["ranking_call"] == "learned"]
    def mse(x):
        return f"{x.mean():.5f} ± {x.std(ddof=1) / np.sqrt(n):.5f}"

    depth_rows = []
    for b in sorted(raw["budget"].unique()):
        lq, rq = meta[f"qini_top_{b:g}_learned"], meta[f"qini_top_{b:g}_risk"]
        d = lq - rq
        depth_rows.append({"budget": int(b), "learned": mse(lq), "risk": mse(rq),
                           "learned - risk": mse(d),
                           "within-world se of the difference":
                               f"{meta[f'qini_top_{b:g}_diff_se'].mean():.5f}",
                           "learned higher": f"{int((d > 0).sum())}/{n}"})
    rel = learned_worlds["reliability_call"] if len(learned_worlds) else pd.Series([np.nan])
    depth = pd.DataFrame(depth_rows).set_index("budget")
    diff_table = diffs.assign(mean=diffs["mean"].round(0), se=diffs["se"].round(0)).set_index(
        "budget")
    text = f"""# Retention campaigns in generator worlds (issue 24)

`{_command(args)}` ({elapsed / 60:.0f} min on the shared 2-core machine, library
{library or library_version()}). Setup in the script's docstring: worlds of {n_customers} customers with the
{_contagion_words(args)} and planted responders `{args.responders}`
([graphchurn/synth/campaign.py](../../graphchurn/synth/campaign.py)); five monthly randomised
campaigns (days 0-120, a share {args.history_share} of the active customers each, sms or call at
random, 60-day outcome);
a campaign of calls (cost 1, assumed effect 0.3) on day 180 evaluated over 60 days, each
policy's world re-simulated with the same draws; retained value = value x 12 months of the
customers the campaign keeps, followers included, gross of the calls' cost. Risk given to the
policies: true risk blurred by N(0, 0.5) on the log-odds; contagion: the exposure model fitted
on each world's churn history; uplift: learned from the past campaigns (`uplift` falls back to
the average effect where the learned ranking's held-out Qini does not beat the risk ranking's
and elsewhere shrinks the learned effect towards it by its held-out reliability;
`uplift_binary` does not shrink; `uplift_learned` never falls back). Without a campaign a
world loses {meta['lost_without_campaign'].mean():.0f} customers in the window on average
(value x 12 months: {meta['value_lost_without_campaign'].mean():.0f}).

## Retained value (mean ± standard error over {n} worlds)

{markdown_table(shown.rename_axis('budget'))}

Customers contacted (mean):

{markdown_table(contacts.round(1).rename_axis('budget'), floatfmt='.1f')}{dogs}

![retained value vs budget]({stem}.png)

## Paired differences (same worlds, same draws; mean ± standard error of the difference)

{markdown_table(diff_table, floatfmt='.0f')}

## Planted responders and the uplift model

- Planted effect of a call vs true risk (Spearman over customers, mean ± se over worlds):
  {ms('spearman_risk_true_effect', 2)}: responders are not the high-risk customers. True
  uplift (risk x effect) vs risk: {ms('spearman_risk_true_uplift', 2)}.
- Learned effect vs planted effect (Spearman): {ms('spearman_learned_true_effect', 2)}; mean
  learned effect {meta['mean_learned_effect'].mean():.2f} (planted {meta['mean_true_effect'].mean():.2f};
  the lists assume 0.3).
- Qini coefficient on held-out campaigns (each of the five held out in turn, the learners
  fitted on the other four; mean over them; customers kept per treated customer above random
  targeting, 0 = random), the selected learner: call {ms('qini_call')}, sms {ms('qini_sms')};
  ranking the same campaigns by learned churn risk alone: call {ms('qini_call_risk_ranking')};
  by learned churn risk x the planted effect (a perfect effect model):
  call {ms('qini_call_planted')}; paired difference learned - risk ranking
  {qini_gain.mean():.4f} ± {qini_gain.std(ddof=1) / np.sqrt(n):.4f} (learned higher in
  {int((qini_gain > 0).sum())}/{n} worlds). Learner chosen for calls:
  {meta['learner_call'].value_counts().to_dict()}. The uplift-aware list kept the learned
  ranking for calls in {kept}/{n} worlds and fell back to the average effect (mean
  {meta['average_effect_call'].mean():.2f}) in the others; where it kept it, the learned
  effect's reliability (the share of its departure from the average effect kept,
  `reliability_slope`) was {rel.mean():.2f} on average (min {rel.min():.2f}, max
  {rel.max():.2f}; `uplift_binary` keeps all of it).

## Qini at the list's depth

The Qini coefficient of the top share of each held-out campaign that a list of each budget
reaches (`qini_at_depth`, share = budget / active customers; mean over the five held-out
campaigns, then mean ± se over worlds), the selected learner's ranking against the risk
ranking's (`q(x)` x average effect), and the standard error of their difference from one
world's five campaigns (how well one world's history could tell them apart at that depth):

{markdown_table(depth)}
"""
    (out_dir / f"{stem}.md").write_text(text)
    print(text)
    return diffs


def _contagion_words(args):
    """The worlds' contagion, in words."""
    if args.contagion_strength is None and args.contagion_window is None:
        return "the default contagion"
    return ("contagion_strength "
            f"{15 if args.contagion_strength is None else args.contagion_strength:g}, "
            f"contagion_window {30 if args.contagion_window is None else args.contagion_window}"
            " days (the strong-contagion setting fixed before the run; see the script's "
            "docstring)")


def _command(args):
    return (f"python experiments/campaigns.py --worlds {args.worlds} --first-seed {args.first_seed} "
            f"--customers {args.customers} "
            f"--budgets {args.budgets} --responders {args.responders} "
            f"--history-share {args.history_share}"
            + (f" --sleeping-dogs {args.sleeping_dogs:g}" if args.sleeping_dogs > 0 else "")
            + (f" --contagion-strength {args.contagion_strength:g}"
               if args.contagion_strength is not None else "")
            + (f" --contagion-window {args.contagion_window}"
               if args.contagion_window is not None else ""))


def _write_json(path, raw, meta, args, diffs=None, library=None):
    payload = {"command": _command(args),
               "library": library or library_version(), "policies": POLICIES,
               "rows": raw.to_dict("records"), "worlds": meta.to_dict("records")}
    if diffs is not None:
        payload["paired_differences"] = diffs.to_dict("records")
    path.write_text(json.dumps(payload, indent=1, default=float))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seed of the first world (fresh seeds for a rule chosen on others)")
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--budgets", default="25,50,100,200")
    ap.add_argument("--responders", default="default", choices=RESPONDERS,
                    help="planted response structure (graphchurn.synth.campaign)")
    ap.add_argument("--history-share", type=float, default=0.5,
                    help="share of the active customers in each past randomised campaign")
    ap.add_argument("--sleeping-dogs", type=float, default=0.0,
                    help="share of the customers (the oldest) whom a contact drives away")
    ap.add_argument("--contagion-strength", type=float, default=None,
                    help="the worlds' contagion_strength (default: generate_world's)")
    ap.add_argument("--contagion-window", type=int, default=None,
                    help="the worlds' contagion_window in days (default: generate_world's)")
    ap.add_argument("--suffix", default="",
                    help="appended to the results' file names (a run on further seeds)")
    ap.add_argument("--report-only", action="store_true",
                    help="write the report again from the json of a finished run")
    ap.add_argument("--diagnose", action="store_true",
                    help="simulate what keeping single customers is worth (diagnose_world) "
                         "instead of the policies")
    args = ap.parse_args()
    world_kwargs = {k: v for k, v in (("contagion_strength", args.contagion_strength),
                                      ("contagion_window", args.contagion_window))
                    if v is not None}
    # the default setting keeps its file names; another setting gets its own
    stem = "campaigns" if args.responders == "default" else f"campaigns_{args.responders}"
    if args.history_share != 0.5:
        stem += f"_share{args.history_share:g}"
    if args.sleeping_dogs > 0:
        stem += f"_dogs{args.sleeping_dogs:g}"
    if args.contagion_strength is not None:
        stem += f"_contagion{args.contagion_strength:g}"
    if args.contagion_window is not None:
        stem += f"_window{args.contagion_window}"
    stem += args.suffix
    if args.diagnose:
        return diagnose(args, world_kwargs, stem)
    if args.report_only:  # the report again from the json of a finished run
        payload = json.loads((ROOT / "experiments" / "results" / f"{stem}.json").read_text())
        raw, meta = pd.DataFrame(payload["rows"]), pd.DataFrame(payload["worlds"])
        diffs = summarise(raw, meta, ROOT / "experiments" / "results", args.customers,
                          float(meta["seconds"].sum()), args, stem, payload["library"])
        _write_json(ROOT / "experiments" / "results" / f"{stem}.json", raw, meta, args, diffs,
                    payload["library"])
        return None
    budgets = [float(b) for b in args.budgets.split(",")]
    out_dir = ROOT / "experiments" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows, metas = [], []
    for seed in range(args.first_seed, args.first_seed + args.worlds):
        r, m = one_world(seed, args.customers, budgets, args.responders, args.history_share,
                         args.sleeping_dogs, world_kwargs)
        rows += r
        metas.append(m)
        print(f"world {seed}: {m['seconds']:.0f} s (setup {m['seconds_setup']:.0f} s), "
              f"total {time.time() - t0:.0f} s", flush=True)
        _write_json(out_dir / f"{stem}.json", pd.DataFrame(rows), pd.DataFrame(metas), args)
    raw, meta = pd.DataFrame(rows), pd.DataFrame(metas)
    diffs = summarise(raw, meta, out_dir, args.customers, time.time() - t0, args, stem)
    _write_json(out_dir / f"{stem}.json", raw, meta, args, diffs)


if __name__ == "__main__":
    main()
