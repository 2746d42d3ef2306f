"""Network-aware retention value: keeping a customer also keeps the followers it would pull out.

Contacting customer ``i`` through a channel of effect ``e`` saves, in expectation,

    own_i       = e * p_i * LV_i
    followers_i = sum_j LV_j * min(e * p_i * D_ij, r_j)

where ``p`` is the churn probability, ``LV = monthly value * months`` the lifetime-value proxy
and ``D_ij`` the per-tie effect of the contagion model: how much ``j``'s churn probability rises
if ``i`` leaves now (:func:`follower_effects`, the same response as
:func:`graphchurn.contagion.what_if`). ``i`` leaves with probability ``p_i``; the contact keeps it
with probability ``e``, so ``e * p_i * D_ij`` is the drop of ``p_j`` the contact brings.

Overlap. A follower can be pulled out only once: ``r_j`` is the follower's *claimable* risk,
initialised to the rise of ``p_j`` that all its contacts' expected departures bring when each
pulls it independently (noisy-OR)::

    r_j = (1 - p_j) * (1 - prod_i (1 - p_i * D_ij / (1 - p_j)))

which is below the plain sum ``sum_i p_i D_ij`` when two leaders share the follower. Every
contact selected claims its part of ``r_j`` (and ``r_j`` falls by it); a follower contacted
itself keeps only ``(1 - e_j)`` of its remaining ``r_j`` (it stays anyway when it responds).
So two leaders of one group never claim more of their shared followers than the followers
could lose, and the value of a candidate only falls as others are selected (a submodular
objective): the selection is a *lazy greedy* on marginal saving per marginal cost (Minoux
1978) over the channels' upgrade steps (as in :func:`graphchurn.targeting.contact_list`), and
the result is compared with the best single contact (the 1/2 guarantee of the knapsack greedy
on the LP relaxation does not carry over exactly to a submodular objective; the comparison
keeps the best-single fallback).

Costs: ``D`` has one entry per arc of the graph for the tie part (and one per pair of
members of a group when the model has a group term); the greedy pops about (contacts x the
followers each claims) entries from a heap, in a Python loop over the *selected* customers,
never over the whole graph.

References
----------
Minoux, M. (1978). Accelerated greedy algorithms for maximizing submodular set functions.
Optimization Techniques, LNCS 7, 234-243.
Nitzan, I. & Libai, B. (2011). Social effects on customer retention. J. Marketing 75(6).
"""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
from scipy import sparse

from graphchurn.targeting.contact_list import (
    _BUDGET_RTOL,
    _best_single,
    _campaign_inputs,
    _priority_order,
    _single_wins,
    _sorted_channels,
    DEFAULT_CHANNELS,
    DEFAULT_HORIZON_MONTHS,
)

__all__ = ["follower_effects", "network_contact_list", "NETWORK_COLUMNS", "FollowerEffects"]

#: Columns of :func:`network_contact_list`, in order.
NETWORK_COLUMNS = [
    "customer_id",
    "channel",
    "cost",
    "expected_saving",
    "own_value",
    "followers_value",
    "net_saving",
    "churn_probability",
    "community",
    "reasons",
    "cumulative_cost",
]


class FollowerEffects:
    """Per-tie effects ``D[i, j]`` (rise of ``p_j`` if ``i`` leaves now) over customer ids.

    Attributes
    ----------
    ids : pandas.Index of str
        Customer ids, the order of both axes of ``matrix``.
    matrix : scipy.sparse.csr_matrix
        ``matrix[i, j] = D_ij >= 0``; zero diagonal.
    source : str
        Where the effect comes from, in words.
    """

    def __init__(self, ids, matrix, source):
        self.ids = pd.Index(pd.Series(ids, dtype="str"))
        self.matrix = sparse.csr_matrix(matrix)
        self.matrix.setdiag(0.0)
        self.matrix.eliminate_zeros()
        self.source = source

    def aligned(self, customer_ids) -> sparse.csr_matrix:
        """The matrix re-indexed on ``customer_ids`` (ids unknown to it get no effect)."""
        ids = pd.Index(pd.Series(customer_ids, dtype="str"))
        pos = self.ids.get_indexer(ids)
        known = pos >= 0
        n = len(ids)
        sel = sparse.csr_matrix((np.ones(known.sum()), (pos[known], np.flatnonzero(known))),
                                shape=(len(self.ids), n))
        return sparse.csr_matrix(sel.T @ self.matrix @ sel)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def follower_effects(graph, base_probability, model=None, membership=None, influencer_score=None,
                     *, departure_age_days=None, weights="weight") -> FollowerEffects:
    """Per-tie effects of a contagion model: how much each contact's churn probability rises if
    one customer leaves now, for every customer.

    ``D_ij = sigmoid(logit(p_j) + coef . dx_j(i)) - p_j`` where ``dx_j(i)`` is the change of
    ``j``'s contagion features when ``i`` alone leaves now; exactly the what-if of
    :func:`graphchurn.contagion.what_if` with ``leavers=[i]`` for the ``exposure`` model and the
    structural prior (whose features are sums over leavers). For the other diffusion models
    (spreading activation, cascades) the per-leaver response is not a sum over ties, and the
    structural prior's per-tie effect is used instead (``source`` says so).

    Parameters
    ----------
    graph : igraph.Graph
        Customer graph at as-of (vertex ``name``, ``on_net``; edge ``weight``).
    base_probability : array_like, shape (n_vertices,)
        Current churn probability (NaN = not scored: never a follower).
    model : ContagionModel, optional
        Fitted contagion model; default the structural prior.
    membership : array_like, optional
        Group of every vertex (the structural prior's group term needs it).
    influencer_score : array_like, optional
        Influencer score per vertex.
    departure_age_days : array_like, optional
        Earlier departures (days ago, NaN = none): the ``max_tie_share`` feature of the
        ``exposure`` model starts from them.

    Returns
    -------
    FollowerEffects
    """
    from graphchurn.contagion.diffusion import _GraphIndex
    from graphchurn.contagion.model import (
        ContagionModel,
        PRIOR_GROUP_LOG_ODDS,
        PRIOR_TIE_LOG_ODDS,
        _influence_rank,
    )

    index = _GraphIndex(graph, weights)
    n = index.n
    if model is None:
        model = ContagionModel().fit([])
    model._check_fitted()
    base = np.asarray(base_probability, dtype=float)
    if base.shape != (n,):
        raise ValueError(f"base_probability must have one value per vertex ({n})")
    scored = index.on_net & np.isfinite(base)
    f = _influence_rank(index, influencer_score)
    method = model.method_
    source = f"contagion model: {model.source_} ({method})"
    if method in ("exposure",):
        coef = np.asarray(model.coef_, dtype=float)
        share = index.share_out  # arc k: row j -> indices i, w_ji / s_j
        biggest = np.zeros(n)
        if departure_age_days is not None:
            decay = model._decay(np.asarray(departure_age_days, dtype=float), model.half_life_days_)
            np.maximum.at(biggest, index.row, share * decay[index.indices])
        dz = (coef[0] * share + coef[1] * share * f[index.indices]
              + coef[2] * np.maximum(share - biggest[index.row], 0.0))
        rows_i, cols_j = index.indices, index.row
    else:
        if method != "structural_prior":
            source += "; per-tie effect of the structural prior (the model's own response is " \
                      "not a sum over ties)"
            coef = np.array([PRIOR_TIE_LOG_ODDS, PRIOR_GROUP_LOG_ODDS])
        else:
            coef = np.asarray(model.coef_, dtype=float)
        g = 0.5 + 0.5 * f
        dz = coef[0] * index.share_out * g[index.indices]
        rows_i, cols_j = index.indices, index.row
        if membership is not None and coef[1] != 0:
            member = np.asarray(membership)
            code = pd.factorize(member)[0]
            same = code[index.row] == code[index.indices]
            inside = np.bincount(index.row, weights=index.data * same, minlength=n)
            emb = np.divide(inside, index.strength, out=np.zeros(n), where=index.strength > 0)
            # every pair (i, j) of one group: j's group term rises by emb_j * g_i
            order = np.argsort(code, kind="stable")
            sizes = np.bincount(code)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            pair_i, pair_j = [], []
            for gcode in np.flatnonzero(sizes > 1):
                mem = order[starts[gcode]:starts[gcode] + sizes[gcode]]
                pair_i.append(np.repeat(mem, mem.size))
                pair_j.append(np.tile(mem, mem.size))
            if pair_i:
                pi, pj = np.concatenate(pair_i), np.concatenate(pair_j)
                keep = pi != pj
                pi, pj = pi[keep], pj[keep]
                rows_i = np.concatenate([rows_i, pi])
                cols_j = np.concatenate([cols_j, pj])
                dz = np.concatenate([dz, coef[1] * emb[pj] * g[pi]])
    # sum the tie and group parts of one pair, then through the logistic link
    z = sparse.csr_matrix((dz, (rows_i, cols_j)), shape=(n, n))
    z.sum_duplicates()
    coo = z.tocoo()
    j = coo.col
    keep = scored[j] & (coo.data != 0)
    i, j, dzv = coo.row[keep], j[keep], coo.data[keep]
    pj = base[j]
    delta = _sigmoid(_logit(pj) + dzv) - pj
    delta = np.maximum(delta, 0.0)
    matrix = sparse.csr_matrix((delta, (i, j)), shape=(n, n))
    return FollowerEffects(np.asarray(index.name_array, dtype=str), matrix, source)


class _FollowerClaims:
    """Followers' claimable risk and what each contacted customer has claimed of it.

    The capped-claim rule of the module docstring, shared by :func:`network_contact_list` and
    :func:`graphchurn.targeting.actions.next_best_action`: customer ``i`` contacted with effect
    ``e`` wants ``e * p_i * D_ij`` of follower ``j``'s risk, gets at most what the contacts
    selected before it left (``remaining[j]``), and a follower contacted itself keeps only
    ``1 - e_j`` of its remaining risk.

    Parameters
    ----------
    p, lv : numpy.ndarray, shape (n,)
        Churn probability (0 where unknown) and lifetime value of every customer.
    D : scipy.sparse matrix, shape (n, n)
        Per-tie effects aligned with ``p``.
    """

    def __init__(self, p, lv, D):
        D = sparse.csr_matrix(D, dtype=float)
        D.sort_indices()
        n = p.size
        # claim of i on j per unit of effect: p_i * D_ij (a follower must be scored: p_j known)
        self.claim = sparse.csr_matrix((D.data * np.repeat(p, np.diff(D.indptr)), D.indices,
                                        D.indptr), shape=(n, n))
        self.cols, self.indptr = self.claim.indices, self.claim.indptr
        self.rows = np.repeat(np.arange(n), np.diff(self.indptr))
        # claimable risk of each follower: noisy-OR of its contacts' pulls
        pull = np.clip(self.claim.data / np.maximum(1.0 - p[self.cols], 1e-12), 0.0, 1.0 - 1e-12)
        log_stay = np.bincount(self.cols, weights=np.log1p(-pull), minlength=n)
        self.initial = (1.0 - p) * (-np.expm1(log_stay))
        self.remaining = self.initial.copy()
        self.claimed = np.zeros(self.claim.data.size)  # claimed amount per (i, j) entry
        self.lv = lv
        self.held = np.zeros(n)  # followers' value each customer holds now

    def _delta(self, i, effect):
        """Change of i's claims if its effect becomes ``effect``, or None without followers.

        More effect claims more, up to what the followers have left; less effect gives back
        down to ``effect * claim`` (a customer moved to a weaker offer).
        """
        a, b = self.indptr[i], self.indptr[i + 1]
        if a == b:
            return None
        want = effect * self.claim.data[a:b] - self.claimed[a:b]
        return np.where(want >= 0, np.clip(np.minimum(want, self.remaining[self.cols[a:b]]),
                                           0.0, None), want)

    def gain(self, i, effect) -> float:
        """Change of the followers' value i holds if its effect becomes ``effect``."""
        delta = self._delta(i, effect)
        if delta is None:
            return 0.0
        a, b = self.indptr[i], self.indptr[i + 1]
        return float(delta @ self.lv[self.cols[a:b]])

    def move(self, i, effect_old, effect_new):
        """Record that i's contact effect changes from ``effect_old`` (0: none) to ``effect_new``."""
        delta = self._delta(i, effect_new)
        if delta is not None:
            a, b = self.indptr[i], self.indptr[i + 1]
            self.claimed[a:b] += delta
            np.subtract.at(self.remaining, self.cols[a:b], delta)
            self.held[i] += float(delta @ self.lv[self.cols[a:b]])
        # a follower contacted itself stays when it responds: its claimable risk shrinks
        self.remaining[i] *= (1.0 - effect_new) / (1.0 - effect_old) if effect_old < 1 else 0.0

    def standalone(self, effect):
        """Followers' value of every customer contacted alone, ``effect`` per customer (n,)."""
        v = (np.minimum(effect[self.rows] * self.claim.data, self.initial[self.cols])
             * self.lv[self.cols])
        return np.bincount(self.rows, weights=v, minlength=self.lv.size)


def _aligned_effects(effects, ids) -> sparse.csr_matrix:
    """Per-tie effects as an n x n matrix on ``ids`` (None: no effect)."""
    n = len(ids)
    if effects is None:
        return sparse.csr_matrix((n, n))
    if isinstance(effects, FollowerEffects):
        return effects.aligned(ids)
    D = sparse.csr_matrix(effects, dtype=float)
    if D.shape != (n, n):
        raise ValueError("effects must be an n x n matrix aligned with scores")
    return D


def _empty():
    return pd.DataFrame({c: pd.Series(dtype="str" if c in ("customer_id", "channel", "reasons",
                                                             "community") else float)
                         for c in NETWORK_COLUMNS})


def network_contact_list(scores: pd.DataFrame, budget: float, effects=None,
                         channels=DEFAULT_CHANNELS, value_column: str | None = "value",
                         default_value: float | None = None,
                         horizon_months: float = DEFAULT_HORIZON_MONTHS) -> pd.DataFrame:
    """Contact list maximising own + followers' expected saving within a budget.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``customer_id``, ``churn_probability``; optional value column, ``community``,
        ``reasons``.
    budget : float
    effects : FollowerEffects or scipy.sparse matrix, optional
        Per-tie effects ``D[i, j]`` (see :func:`follower_effects`); a matrix must be aligned
        with the rows of ``scores``. None: no network effect (followers_value is 0).
    channels, value_column, default_value, horizon_months
        As in :func:`graphchurn.targeting.contact_list`.

    Returns
    -------
    pandas.DataFrame
        :data:`NETWORK_COLUMNS`: ``expected_saving = own_value + followers_value`` where
        ``followers_value`` is what the row's contact claims of its followers' claimable risk
        (overlap handled, see the module docstring). Rows in the order of own saving per unit
        of cost (expected_saving / cost, free contacts first), cumulative cost within budget.
    """
    inputs = _campaign_inputs(scores, budget, value_column, default_value, horizon_months)
    names, costs, eff = _sorted_channels(channels)
    budget, ids, id_rank, prob, p, lv = (inputs.budget, inputs.ids, inputs.id_rank, inputs.prob,
                                         inputs.p, inputs.lv)
    n = ids.size
    claims = _FollowerClaims(p, lv, _aligned_effects(effects, ids))

    cur = np.full(n, -1, dtype=np.int64)  # current channel index (-1: none)
    affordable = costs <= budget * (1 + _BUDGET_RTOL)

    def gain(i, k):
        """Marginal expected saving of moving i from its current channel to channel k."""
        e_old = eff[cur[i]] if cur[i] >= 0 else 0.0
        return (eff[k] - e_old) * p[i] * lv[i] + claims.gain(i, eff[k])

    def next_step(i):
        """Best next upgrade of i: (efficiency, k) or None."""
        c0 = costs[cur[i]] if cur[i] >= 0 else 0.0
        best = None
        for k in range(costs.size):
            if not affordable[k] or costs[k] < c0 or (cur[i] >= 0 and k == cur[i]):
                continue
            if cur[i] >= 0 and eff[k] <= eff[cur[i]]:
                continue
            dv = gain(i, k)
            dc = costs[k] - c0
            if dv - dc <= 0 and dc > 0:
                continue
            if dc == 0:
                if dv <= 0:
                    continue
                slope = np.inf
            else:
                slope = (dv - dc) / dc
            if best is None or slope > best[0] + 1e-15:
                best = (slope, k)
        return best

    heap = []
    for i in np.flatnonzero(p > 0):
        step = next_step(i)
        if step is not None:
            heap.append((-step[0], int(id_rank[i]), int(i), int(step[1])))
    heapq.heapify(heap)
    spent = 0.0
    slack = _BUDGET_RTOL * max(1.0, budget)
    dead = np.zeros(n, dtype=bool)
    while heap:
        neg, rank, i, k = heapq.heappop(heap)
        if dead[i]:
            continue
        step = next_step(i)  # lazy: recompute the popped entry's current value
        if step is None:
            continue
        if step[1] != k or -step[0] > neg + 1e-12 * max(1.0, abs(neg)):
            if heap and (-step[0], rank) > heap[0][:2]:
                heapq.heappush(heap, (-step[0], rank, i, int(step[1])))
                continue
            k = int(step[1])
        c0 = costs[cur[i]] if cur[i] >= 0 else 0.0
        dc = costs[k] - c0
        if spent + dc > budget + slack:
            dead[i] = True  # a step that does not fit now never will: skip its later steps too
            continue
        claims.move(i, eff[cur[i]] if cur[i] >= 0 else 0.0, eff[k])
        cur[i] = k
        spent += dc
        step = next_step(i)
        if step is not None:
            heapq.heappush(heap, (-step[0], rank, i, int(step[1])))

    followers_value = claims.held
    own_value = np.where(cur >= 0, eff[np.maximum(cur, 0)] * p * lv, 0.0)
    greedy_net = float((own_value + followers_value - np.where(cur >= 0, costs[np.maximum(cur, 0)],
                                                               0.0)).sum())
    # best single contact (standalone value): the knapsack greedy's fallback
    single_fol = np.column_stack([claims.standalone(np.full(n, e)) for e in eff])
    single_net = eff[None, :] * (p * lv)[:, None] + single_fol - costs[None, :]
    i, k, best_single = _best_single(single_net, affordable[None, :], id_rank)
    if _single_wins(best_single, greedy_net):
        cur = np.full(n, -1, dtype=np.int64)
        cur[i] = k
        own_value = np.where(cur >= 0, eff[np.maximum(cur, 0)] * p * lv, 0.0)
        followers_value = np.zeros(n)
        followers_value[i] = single_fol[i, k]
    chosen = np.flatnonzero(cur >= 0)
    if chosen.size == 0:
        return _empty()
    option = cur[chosen]
    cost = costs[option]
    saving = own_value[chosen] + followers_value[chosen]
    pri = _priority_order(saving, cost, id_rank[chosen])
    chosen, option, cost, saving = chosen[pri], option[pri], cost[pri], saving[pri]
    reasons = (scores["reasons"].astype("str").fillna("").to_numpy(dtype=object)[chosen]
               if "reasons" in scores.columns else np.full(chosen.size, "", dtype=object))
    community = (scores["community"].astype("str").to_numpy(dtype=object)[chosen]
                 if "community" in scores.columns else np.full(chosen.size, "", dtype=object))
    return pd.DataFrame({
        "customer_id": pd.array(ids[chosen], dtype="str"),
        "channel": pd.array(names[option], dtype="str"),
        "cost": cost,
        "expected_saving": saving,
        "own_value": own_value[chosen],
        "followers_value": followers_value[chosen],
        "net_saving": saving - cost,
        "churn_probability": prob[chosen],
        "community": pd.array(community, dtype="str"),
        "reasons": pd.array(reasons, dtype="str"),
        "cumulative_cost": np.cumsum(cost),
    })
