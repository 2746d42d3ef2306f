"""Next best action: one offer per customer, within a budget and each offer's capacity.

An *offer* (a discount, a plan upgrade, a loyalty call, an SMS, ...) has a contact channel, a
cost per customer, an effect (the probability that a contacted would-be leaver stays; assumed,
or learned per customer by an uplift model), eligibility rules (column predicates on the
customer table: segment, value, plan) and an optional capacity (e.g. how many calls the agents
can make). The expected saving of giving offer ``o`` to customer ``i`` is

    own_io       = effect_io * p_i * LV_i
    followers_io = sum_j LV_j * min(effect_io * p_i * D_ij, r_j)

(``followers`` only with per-tie effects ``D``, see :mod:`graphchurn.targeting.network`) and its
net saving ``own + followers - cost``. Followers are shared: ``r_j`` is what follower ``j`` can
still lose once the customers given an action before ``i`` have claimed their part (the capped
claim rule of :mod:`graphchurn.targeting.network`), so two contacts who share followers do not
both count them, and moving a customer to a stronger offer claims only the difference.

Choosing one offer per customer to maximise the total net saving under the budget and the
capacities is a multiple-choice knapsack with extra (capacity) knapsack rows. It is solved by a
greedy on marginal efficiency with capacity checks (a heap, lazily re-evaluated): each customer's
next move is the offer of higher net saving with the best extra net saving per extra cost (free
or cheaper-and-better moves first) among the eligible offers with capacity left; a move that does
not fit the remaining budget is dropped for good, a capacity freed by an upgrade lets the
customers who wanted that offer move again, and a move whose value fell since it was queued
(others claimed its followers) is re-queued at its new value (lazy greedy, Minoux 1978); then
the plan is compared with the best single eligible (customer, offer) that fits, and the better
one kept (the knapsack greedy's 1/2 guarantee without capacities and followers).

References
----------
Minoux, M. (1978). Accelerated greedy algorithms for maximizing submodular set functions.
Optimization Techniques, LNCS 7, 234-243.

Priority rules the user states: ``{"when": [predicates], "only": [offers]}`` (customers
matching get one of these offers or none) and ``{"when": [...], "exclude": [offers]}``; an
offer's ``priority`` (higher first) breaks ties between equally efficient candidates.

Predicates: ``{"column": "plan", "op": "in", "value": ["postpaid", "family"]}`` with ``op`` one
of ``== != < <= > >= in not_in``.
"""

from __future__ import annotations

import heapq
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from graphchurn.errors import InputError
from graphchurn.targeting.contact_list import (
    _BUDGET_RTOL,
    _best_single,
    _campaign_inputs,
    _priority_order,
    _single_wins,
    DEFAULT_HORIZON_MONTHS,
)
from graphchurn.targeting.network import _aligned_effects, _FollowerClaims

__all__ = ["Offer", "parse_offers", "next_best_action", "ACTION_COLUMNS", "DEFAULT_OFFERS"]

ACTION_COLUMNS = ["customer_id", "action", "channel", "expected_saving_own",
                  "expected_saving_followers", "cost", "net_saving", "churn_probability",
                  "reason", "cumulative_cost"]

_OPS = {
    "==": lambda s, v: s == v,
    "!=": lambda s, v: s != v,
    "<": lambda s, v: s < v,
    "<=": lambda s, v: s <= v,
    ">": lambda s, v: s > v,
    ">=": lambda s, v: s >= v,
    "in": lambda s, v: s.isin(v),
    "not_in": lambda s, v: ~s.isin(v),
}


@dataclass
class Offer:
    """One retention offer. ``eligible``: list of predicates (all must hold)."""

    name: str
    channel: str
    cost: float
    effect: float
    capacity: int | None = None
    eligible: list = field(default_factory=list)
    priority: float = 0.0


#: An example set of offers (costs in the currency of ``value``; effects assumed).
DEFAULT_OFFERS = {
    "offers": {
        "sms_reminder": {"channel": "sms", "cost": 0.05, "effect": 0.03},
        "loyalty_call": {"channel": "call", "cost": 2.0, "effect": 0.15, "capacity": 500},
        "discount": {"channel": "call", "cost": 6.0, "effect": 0.30,
                     "eligible": [{"column": "value", "op": ">=", "value": 20}]},
        "upgrade": {"channel": "call", "cost": 4.0, "effect": 0.25,
                    "eligible": [{"column": "plan", "op": "==", "value": "prepaid"}]},
    },
}


def _check_predicates(preds, where):
    if not isinstance(preds, list):
        raise InputError(f"{where}: predicates must be a list", file="offers")
    for pred in preds:
        if not isinstance(pred, Mapping) or set(pred) != {"column", "op", "value"}:
            raise InputError(f"{where}: a predicate is {{\"column\", \"op\", \"value\"}}",
                             file="offers")
        if pred["op"] not in _OPS:
            raise InputError(f"{where}: unknown op {pred['op']!r} (one of {', '.join(_OPS)})",
                             file="offers")
        if pred["op"] in ("in", "not_in") and not isinstance(pred["value"], list):
            raise InputError(f"{where}: '{pred['op']}' needs a list", file="offers")
    return list(preds)


def parse_offers(spec) -> tuple[dict[str, Offer], list]:
    """Offers and rules from a mapping (the JSON of ``target --offers``).

    ``{"offers": {name: {"channel", "cost", "effect", "capacity"?, "eligible"?, "priority"?}},
    "rules": [{"when": [...], "only"|"exclude": [names]}]}``; a mapping without ``"offers"``
    is read as the offers themselves.
    """
    if not isinstance(spec, Mapping):
        raise InputError("offers must be a JSON object", file="offers")
    offers_spec = spec.get("offers", spec) if "offers" in spec else spec
    rules = spec.get("rules", []) if "offers" in spec else []
    if not isinstance(offers_spec, Mapping) or not offers_spec:
        raise InputError("no offers given", file="offers")
    known = {"channel", "cost", "effect", "capacity", "eligible", "priority"}
    offers = {}
    for name, o in offers_spec.items():
        if not isinstance(o, Mapping):
            raise InputError(f"offer '{name}' must be an object", file="offers")
        extra = sorted(set(o) - known)
        if extra:
            raise InputError(f"offer '{name}': unknown key(s) {', '.join(extra)}", file="offers")
        for key in ("cost", "effect"):
            v = o.get(key)
            if not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(v):
                raise InputError(f"offer '{name}': '{key}' must be a number", file="offers")
        if o["cost"] < 0 or not 0 <= o["effect"] <= 1:
            raise InputError(f"offer '{name}': cost >= 0 and effect in [0, 1]", file="offers")
        cap = o.get("capacity")
        if cap is not None and (not isinstance(cap, numbers.Integral) or isinstance(cap, bool)
                                or cap < 0):
            raise InputError(f"offer '{name}': capacity must be a whole number >= 0",
                             file="offers")
        offers[str(name)] = Offer(name=str(name), channel=str(o.get("channel", name)),
                                  cost=float(o["cost"]), effect=float(o["effect"]),
                                  capacity=None if cap is None else int(cap),
                                  eligible=_check_predicates(o.get("eligible", []),
                                                             f"offer '{name}'"),
                                  priority=float(o.get("priority", 0.0)))
    if not isinstance(rules, list):
        raise InputError("rules must be a list", file="offers")
    for k, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or "when" not in rule or \
                len(set(rule) & {"only", "exclude"}) != 1:
            raise InputError(f"rule {k + 1}: {{\"when\": [...], \"only\" or \"exclude\": [...]}}",
                             file="offers")
        _check_predicates(rule["when"], f"rule {k + 1}")
        names = rule.get("only", rule.get("exclude"))
        unknown = [x for x in names if x not in offers]
        if unknown:
            raise InputError(f"rule {k + 1}: unknown offer(s) {', '.join(map(str, unknown))}",
                             file="offers")
    return offers, list(rules)


def _mask(frame, preds):
    ok = np.ones(len(frame), dtype=bool)
    for pred in preds:
        col = pred["column"]
        if col not in frame.columns:
            raise InputError("an eligibility rule names a column the customers do not have",
                             column=col)
        s = frame[col]
        v = pred["value"]
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            s = pd.to_numeric(s, errors="coerce")
        elif pred["op"] not in ("in", "not_in"):
            s = s.astype("str")
            v = str(v)
        else:
            s = s.astype("str")
            v = [str(x) for x in v]
        res = _OPS[pred["op"]](s, v)
        ok &= np.asarray(res.fillna(False) if hasattr(res, "fillna") else res, dtype=bool)
    return ok


def next_best_action(scores: pd.DataFrame, budget: float, offers, rules=(), *,
                     effects=None, uplift: pd.DataFrame | None = None,
                     value_column: str | None = "value", default_value: float | None = None,
                     horizon_months: float = DEFAULT_HORIZON_MONTHS) -> pd.DataFrame:
    """One action per customer maximising expected net saving under budget and capacities.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``customer_id``, ``churn_probability``, the value column and every column the
        eligibility rules name.
    budget : float
    offers : mapping
        ``{name: Offer}`` or the JSON mapping :func:`parse_offers` reads.
    rules : sequence
        Priority rules (see the module docstring); ignored when ``offers`` is a JSON mapping
        (its own ``rules`` are used).
    effects : FollowerEffects or sparse matrix aligned with ``scores``, optional
        Per-tie effects: adds the followers' part.
    uplift : pandas.DataFrame, optional
        Learned effect per customer and offer (index ``customer_id``, one column per offer
        name, values in [0, 1]); replaces the offer's assumed effect where given.

    Returns
    -------
    pandas.DataFrame
        :data:`ACTION_COLUMNS`, one row per customer given an action, most efficient first.
    """
    if isinstance(offers, Mapping) and offers and not all(isinstance(o, Offer)
                                                          for o in offers.values()):
        offers, rules = parse_offers(offers)
    inputs = _campaign_inputs(scores, budget, value_column, default_value, horizon_months)
    budget, ids, id_rank, prob, p = inputs.budget, inputs.ids, inputs.id_rank, inputs.prob, inputs.p
    monthly, lv = inputs.monthly, inputs.lv
    n = ids.size
    names = list(offers)
    K = len(names)
    costs = np.array([offers[o].cost for o in names])
    prio = np.array([offers[o].priority for o in names])
    caps = np.array([np.inf if offers[o].capacity is None else offers[o].capacity
                     for o in names], dtype=float)
    frame = scores
    if value_column is not None:  # rules on value see the filled-in value (default or median)
        frame = scores.assign(**{value_column: monthly})
    allowed = np.column_stack([_mask(frame, offers[o].eligible) for o in names])
    rule_note = np.full(n, "", dtype=object)
    for k, rule in enumerate(rules):
        hit = _mask(frame, rule["when"])
        listed = np.array([o in rule.get("only", rule.get("exclude", [])) for o in names])
        if "only" in rule:
            allowed[hit] &= listed[None, :]
        else:
            allowed[hit] &= ~listed[None, :]
        rule_note[hit] = np.where(rule_note[hit] == "", f"rule {k + 1}",
                                  rule_note[hit].astype(str) + f", rule {k + 1}")
    eff = np.tile(np.array([offers[o].effect for o in names]), (n, 1))
    learned = np.zeros((n, K), dtype=bool)
    if uplift is not None:
        up = uplift.copy()
        up.index = up.index.astype(str)
        up = up.reindex(pd.Index(ids))
        for k, o in enumerate(names):
            if o in up.columns:
                col = pd.to_numeric(up[o], errors="coerce").to_numpy(dtype=float)
                have = np.isfinite(col)
                eff[have, k] = np.clip(col[have], 0.0, 1.0)
                learned[have, k] = True
    own = eff * (p * lv)[:, None]
    fol = np.zeros((n, K))  # followers' value of each (customer, offer) alone
    claims = None
    if effects is not None:
        claims = _FollowerClaims(p, lv, _aligned_effects(effects, ids))
        for k in range(K):
            fol[:, k] = claims.standalone(eff[:, k])
    net = own + fol - costs[None, :]  # alone: an upper bound of the value once others claim
    cand = allowed & (net > 0) & (costs[None, :] <= budget * (1 + _BUDGET_RTOL)) & (caps > 0)[None, :]
    ci = np.nonzero(cand)[0]
    chosen = np.full(n, -1, dtype=np.int64)
    used = np.zeros(K)
    banned = ~cand  # (customer, offer) pairs that can never be taken (or no longer fit)
    spent = 0.0
    slack = _BUDGET_RTOL * max(1.0, budget)

    def net_now(i, ks):
        """Net saving of customer i on each offer of ``ks``, given the followers' risk that
        the contacts taken so far have claimed (the capped-claim rule of network.py)."""
        if claims is None:
            return net[i, ks]
        gains = np.array([claims.gain(i, eff[i, k]) for k in ks])
        return own[i, ks] + claims.held[i] + gains - costs[ks]

    def current_net(i):
        old = chosen[i]
        if old < 0:
            return 0.0
        return net[i, old] if claims is None else own[i, old] + claims.held[i] - costs[old]

    def step(i):
        """Best next move of customer i from its current offer: (key, offer) or None."""
        old = chosen[i]
        net_cur = current_net(i)
        c_cur = costs[old] if old >= 0 else 0.0
        ks = np.flatnonzero(~banned[i] & (used < caps) & (np.arange(K) != old))
        if ks.size == 0:
            return None
        values = net_now(i, ks)
        better = values > net_cur + 1e-12
        if not better.any():
            return None
        ks, values = ks[better], values[better]
        dc = costs[ks] - c_cur
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(dc > 0, (values - net_cur) / np.where(dc > 0, dc, 1), np.inf)
        j = np.lexsort((ks, -prio[ks], -slope))[0]
        return (-slope[j], -prio[ks[j]], int(id_rank[i])), int(ks[j])

    heap = []
    for i in np.unique(ci):
        s = step(i)
        if s is not None:
            heap.append((s[0], int(i), s[1]))
    heapq.heapify(heap)
    while heap:  # one pop per (customer, offer) move: a loop over candidates, not customers
        key, i, k = heapq.heappop(heap)
        s = step(i)
        if s is None:
            continue
        if s[1] != k or s[0] != key:
            # stale: a capacity, the customer's offer or others' claims on its followers changed
            heapq.heappush(heap, (s[0], i, s[1]))
            continue
        old = chosen[i]
        extra = costs[k] - (costs[old] if old >= 0 else 0.0)
        if spent + extra > budget + slack:
            banned[i, k] = True  # the remaining budget only shrinks: it never fits again
        else:
            if old >= 0:
                used[old] -= 1
                if used[old] == caps[old] - 1:
                    # capacity freed: customers who wanted this offer may move again
                    for r in np.flatnonzero(cand[:, old] & ~banned[:, old]):
                        if r != i:
                            t = step(r)
                            if t is not None:
                                heapq.heappush(heap, (t[0], int(r), t[1]))
            if claims is not None:
                claims.move(i, eff[i, old] if old >= 0 else 0.0, eff[i, k])
            chosen[i] = k
            used[k] += 1
            spent += extra
        s = step(i)
        if s is not None:
            heapq.heappush(heap, (s[0], i, s[1]))
    # followers' value each contact holds: what it claimed (alone: all it could claim)
    held = claims.held.copy() if claims is not None else np.zeros(n)
    on = np.flatnonzero(chosen >= 0)
    total = float((own[on, chosen[on]] + held[on] - costs[chosen[on]]).sum())
    best_i, best_k, best_single = _best_single(net, cand, id_rank)
    if _single_wins(best_single, total):
        chosen[:] = -1
        chosen[best_i] = best_k
        held[:] = 0.0
        held[best_i] = fol[best_i, best_k]
    sel = np.flatnonzero(chosen >= 0)
    if sel.size == 0:
        return pd.DataFrame({c: pd.Series(dtype="str" if c in ("customer_id", "action", "channel",
                                                                 "reason") else float)
                             for c in ACTION_COLUMNS})
    k = chosen[sel]
    c = costs[k]
    nets = own[sel, k] + held[sel] - c
    pri = _priority_order(own[sel, k] + held[sel], c, id_rank[sel])
    sel, k, c, nets = sel[pri], k[pri], c[pri], nets[pri]
    reasons = []
    for i, kk in zip(sel, k):
        text = (f"risk {p[i]:.0%}, value {monthly[i]:.2f}/month x {horizon_months:g}; "
                f"{'learned' if learned[i, kk] else 'assumed'} effect {eff[i, kk]:.0%}")
        if held[i] > 0:
            text += f"; keeps followers worth {held[i]:.2f}"
        if fol[i, kk] > held[i] + 1e-9:
            text += f" (of {fol[i, kk]:.2f} alone: contacts before it keep the rest)"
        others = [names[j] for j in np.flatnonzero(allowed[i]) if j != kk]
        if others:
            text += f"; also eligible: {', '.join(others)}"
        if rule_note[i]:
            text += f"; {rule_note[i]}"
        reasons.append(text)
    return pd.DataFrame({
        "customer_id": pd.array(ids[sel], dtype="str"),
        "action": pd.array([names[j] for j in k], dtype="str"),
        "channel": pd.array([offers[names[j]].channel for j in k], dtype="str"),
        "expected_saving_own": own[sel, k],
        "expected_saving_followers": held[sel],
        "cost": c,
        "net_saving": nets,
        "churn_probability": prob[sel],
        "reason": pd.array(reasons, dtype="str"),
        "cumulative_cost": np.cumsum(c),
    })
