"""Who leads a group and who follows: influencer, leader/follower and susceptibility scores.

Functions take the undirected weighted ``igraph.Graph`` of
:class:`graphchurn.graph.CustomerGraph` (vertex attribute ``name``, edge attribute
``weight`` = tie strength) and return DataFrames indexed by vertex name.

Influence spread follows the independent-cascade model (Kempe, Kleinberg and Tardos 2003) and
is estimated with reverse-reachable (RR) sets (Borgs et al. 2014; Tang et al. 2014, 2015):
pick a uniformly random target vertex, keep every arc ``u -> v`` live with its activation
probability, and collect the vertices that reach the target through live arcs. The share of
RR sets holding ``u`` times ``n`` is an unbiased estimate of the expected number of customers
``u`` would activate. RR sets are grown many at a time by a batched breadth-first search over
CSR arrays, one numpy step per BFS level. :func:`khop_influence_spread` computes instead, with
no random step, the expected activations within two hops (two passes over the arcs) or three
(a few passes more, and the graph's triangles).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import igraph
import numpy as np
import pandas as pd
from scipy.stats import rankdata

from threadpoolctl import threadpool_limits

from graphchurn.social.communities import edge_array, edge_weights, vertex_mask
from graphchurn.rng import seeded_igraph_rng

__all__ = [
    "INFLUENCER_SCORE_COMPONENTS",
    "INFLUENCE_METHODS",
    "influencer_score_draws",
    "influencer_scores",
    "khop_influence_spread",
    "leaders_and_followers",
    "reverse_reachable_sets",
    "select_seed_set",
    "susceptibility",
]

#: Columns of :func:`influencer_scores` averaged (as percentile ranks) into ``influencer_score``.
INFLUENCER_SCORE_COMPONENTS = ("pagerank", "influence_spread", "strength", "coreness")

#: Default number of RR sets used by :func:`influencer_scores` and :func:`select_seed_set`.
DEFAULT_RIS_SAMPLES = 20_000

#: Estimators of ``influence_spread`` in :func:`influencer_scores`: paths within two (or
#: ``influence_hops``) hops, computed (:func:`khop_influence_spread`), or RR sets, sampled.
INFLUENCE_METHODS = ("khop", "rr")

# Below this many vertices betweenness is exact; above it, sampled from
# clip(budget / n_edges, min, max) sources, so its cost stays near budget edge visits.
_EXACT_BETWEENNESS_MAX_VERTICES = 2_000
_BETWEENNESS_EDGE_BUDGET = 10_000_000
_BETWEENNESS_SOURCES = (16, 256)


def _vertex_index(graph: igraph.Graph) -> pd.Index:
    if "name" in graph.vs.attributes():
        return pd.Index(graph.vs["name"], name="name")
    return pd.RangeIndex(graph.vcount(), name="name")


def _strength(n: int, edges: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.bincount(edges.ravel(), weights=np.repeat(w, 2), minlength=n)


# --------------------------------------------------------------------------------------------
# Reverse-reachable sets
# --------------------------------------------------------------------------------------------


def _arc_probabilities(n: int, edges: np.ndarray, w: np.ndarray, activation) -> np.ndarray:
    """Activation probability of the arcs ``edges[:, 0] -> edges[:, 1]``, then of the reverse
    ones (``2 * n_edges`` values)."""
    heads = np.concatenate([edges[:, 1], edges[:, 0]])
    if isinstance(activation, str):
        if activation != "weighted_cascade":
            raise ValueError("activation must be 'weighted_cascade' or a probability in [0, 1]")
        strength = _strength(n, edges, w)
        with np.errstate(divide="ignore", invalid="ignore"):
            prob = np.concatenate([w, w]) / strength[heads]
        return np.nan_to_num(prob, nan=0.0)
    p = float(activation)
    if not 0.0 <= p <= 1.0:
        raise ValueError("activation probability must be in [0, 1]")
    return np.full(heads.size, p)


def _reverse_arcs(
    n: int, edges: np.ndarray, w: np.ndarray, activation
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arcs ``u -> v`` grouped by their head ``v`` (CSR): ``indptr``, tails ``u``, probabilities.

    Every undirected tie gives two arcs. Under the weighted cascade an arc ``u -> v`` is live
    with probability ``w_uv / strength(v)``: a customer hears from each contact in proportion
    to the share of its own talk time that contact has.
    """
    tails = np.concatenate([edges[:, 0], edges[:, 1]])
    heads = np.concatenate([edges[:, 1], edges[:, 0]])
    prob = _arc_probabilities(n, edges, w, activation)
    # Arcs by head, then tail: the live-arc draws follow the vertex numbers, not the order in
    # which the edges were added (graph.canonical renumbers vertices, not edges). One stable
    # sort of a combined key: the order of a two-key lexsort, one pass of sorting instead of two.
    order = np.argsort(heads.astype(np.int64) * max(n, 1) + tails, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(heads, minlength=n), out=indptr[1:])
    return indptr, tails[order], prob[order]


def reverse_reachable_sets(
    graph: igraph.Graph,
    n_sets: int,
    seed: int = 0,
    weights: str | np.ndarray | None = "weight",
    activation: str | float = "weighted_cascade",
    batch_memory: int = 1 << 25,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample random reverse-reachable sets of the independent-cascade model.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected graph; each tie is two arcs.
    n_sets : int
        Number of RR sets.
    seed : int
        Seed of the target vertices and of the live-arc draws.
    weights : str, array-like or None
        Tie strengths (edge attribute name, per-edge array, or None for ones).
    activation : "weighted_cascade" or float
        ``"weighted_cascade"``: arc ``u -> v`` is live with probability
        ``w_uv / strength(v)``; a float ``p``: every arc is live with probability ``p``.
    batch_memory : int
        Bytes of the visited mask; ``batch_memory // n_vertices`` RR sets grow at once.

    Returns
    -------
    indptr : numpy.ndarray of int64, shape (n_sets + 1,)
    members : numpy.ndarray of int64
        Vertices of RR set ``i`` are ``members[indptr[i]:indptr[i + 1]]`` (target first).

    Example
    -------
    >>> star = igraph.Graph.Star(5)
    >>> indptr, members = reverse_reachable_sets(star, 100, weights=None)
    >>> bool(np.all(np.bincount(members, minlength=5)[0] == 100))  # centre is in every set
    True

    References
    ----------
    C. Borgs, M. Brautbar, J. Chayes, B. Lucier, "Maximizing social influence in nearly
    optimal time", SODA 2014.
    Y. Tang, X. Xiao, Y. Shi, "Influence maximization: near-optimal time complexity meets
    practical efficiency", SIGMOD 2014.
    """
    n = graph.vcount()
    arcs = _reverse_arcs(n, edge_array(graph), edge_weights(graph, weights), activation)
    return _sample_rr_sets(n, arcs, n_sets, seed, batch_memory)


def _sample_rr_sets(n: int, arcs, n_sets: int, seed: int, batch_memory: int = 1 << 25):
    n_sets = int(n_sets)
    if n_sets < 0:
        raise ValueError("n_sets must be >= 0")
    if n == 0 or n_sets == 0:
        return np.zeros(n_sets + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    indptr, tails, prob = arcs
    rng = np.random.default_rng(seed)
    # Targets in shuffled rounds over all vertices: each vertex is a target equally often (up
    # to one), which removes the target-count noise of i.i.d. draws and keeps the estimate
    # unbiased, since every set's target is still uniform.
    n_rounds = -(-n_sets // n)
    rounds = np.broadcast_to(np.arange(n), (n_rounds, n))
    targets = rng.permuted(rounds, axis=1).ravel()[:n_sets]

    batch = int(max(1, min(n_sets, batch_memory // n)))
    visited = np.zeros(batch * n, dtype=bool)  # key = (set within batch) * n + vertex
    set_chunks, node_chunks = [], []
    for start in range(0, n_sets, batch):
        frontier_node = targets[start : start + batch]
        frontier_set = np.arange(frontier_node.size, dtype=np.int64)
        visited[frontier_set * n + frontier_node] = True
        level_sets, level_nodes = [frontier_set], [frontier_node]
        while frontier_node.size:
            first = indptr[frontier_node]
            degree = indptr[frontier_node + 1] - first
            n_arcs = int(degree.sum())
            if n_arcs == 0:
                break
            # Positions of all in-arcs of the frontier, one flat array per BFS level.
            offset = np.arange(n_arcs) - np.repeat(np.cumsum(degree) - degree, degree)
            arc = np.repeat(first, degree) + offset
            live = rng.random(n_arcs) < prob[arc]
            keys = np.repeat(frontier_set, degree)[live] * n + tails[arc[live]]
            keys = np.unique(keys[~visited[keys]])
            visited[keys] = True
            frontier_set, frontier_node = np.divmod(keys, n)
            level_sets.append(frontier_set)
            level_nodes.append(frontier_node)
        batch_sets = np.concatenate(level_sets)
        batch_nodes = np.concatenate(level_nodes)
        visited[batch_sets * n + batch_nodes] = False  # reset only what this batch touched
        order = np.argsort(batch_sets, kind="stable")  # group by set, target first
        set_chunks.append(batch_sets[order] + start)
        node_chunks.append(batch_nodes[order])
    set_of_member = np.concatenate(set_chunks)
    members = np.concatenate(node_chunks)
    out_ptr = np.zeros(n_sets + 1, dtype=np.int64)
    np.cumsum(np.bincount(set_of_member, minlength=n_sets), out=out_ptr[1:])
    return out_ptr, members


def _influence_spread(n, edges, w, n_sets, seed, activation) -> np.ndarray:
    arcs = _reverse_arcs(n, edges, w, activation)
    _, members = _sample_rr_sets(n, arcs, n_sets, seed)
    return n * np.bincount(members, minlength=n) / max(n_sets, 1)


def select_seed_set(
    graph: igraph.Graph,
    k: int,
    weights: str | np.ndarray | None = "weight",
    activation: str | float = "weighted_cascade",
    ris_samples: int = DEFAULT_RIS_SAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Pick ``k`` customers whose joint cascade reaches the most others (greedy on RR sets).

    Greedy maximum coverage of RR sets: each step takes the vertex in the most RR sets not yet
    covered. The covered share times ``n`` estimates the expected spread of the seed set,
    within ``(1 - 1/e - eps)`` of the optimum for enough RR sets (Tang et al. 2014). The number
    of RR sets is fixed by ``ris_samples`` rather than chosen adaptively as in TIM/IMM.

    Parameters
    ----------
    graph : igraph.Graph
    k : int
        Number of seeds (at most the number of vertices).
    weights, activation :
        As in :func:`reverse_reachable_sets`.
    ris_samples : int
        Number of RR sets.
    seed : int
        Seed of the RR-set sampling.

    Returns
    -------
    pandas.DataFrame indexed by ``name`` in the order picked, with columns
    ``marginal_spread`` (expected extra customers reached by adding this seed) and ``spread``
    (expected customers reached by the seeds picked so far).

    Example
    -------
    >>> g = igraph.Graph.Star(6) + igraph.Graph.Star(4)
    >>> select_seed_set(g, 2, weights=None, activation=1.0).index.tolist()
    [0, 6]

    References
    ----------
    D. Kempe, J. Kleinberg, E. Tardos, "Maximizing the spread of influence through a social
    network", KDD 2003.
    Y. Tang, Y. Shi, X. Xiao, "Influence maximization in near-linear time: a martingale
    approach", SIGMOD 2015.
    """
    n = graph.vcount()
    k = int(k)
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and the number of vertices ({n})")
    set_ptr, members = reverse_reachable_sets(graph, ris_samples, seed, weights, activation)
    set_of_member = np.repeat(np.arange(ris_samples), np.diff(set_ptr))
    by_node = np.argsort(members, kind="stable")
    node_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(members, minlength=n), out=node_ptr[1:])
    uncovered_count = np.bincount(members, minlength=n).astype(np.int64)
    covered = np.zeros(ris_samples, dtype=bool)
    chosen, gains = [], []
    for _ in range(k):  # k steps; each step is vectorised over the newly covered sets
        best = int(np.argmax(uncovered_count))
        chosen.append(best)
        gains.append(int(uncovered_count[best]))
        sets = set_of_member[by_node[node_ptr[best] : node_ptr[best + 1]]]
        sets = sets[~covered[sets]]
        covered[sets] = True
        size = set_ptr[sets + 1] - set_ptr[sets]
        offset = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
        newly = members[np.repeat(set_ptr[sets], size) + offset]
        uncovered_count -= np.bincount(newly, minlength=n)
        uncovered_count[best] = -1  # never picked twice, even once every set is covered
    scale = n / max(ris_samples, 1)
    marginal = np.asarray(gains, dtype=np.float64) * scale
    return pd.DataFrame(
        {"marginal_spread": marginal, "spread": np.cumsum(marginal)},
        index=_vertex_index(graph)[np.asarray(chosen, dtype=np.int64)],
    )


# --------------------------------------------------------------------------------------------
# Deterministic influence spread: expected activations within two or three hops
# --------------------------------------------------------------------------------------------


def _khop_spread(n, edges, w, activation, hops: int = 2, simple: bool = False) -> np.ndarray:
    if hops not in (1, 2, 3):
        raise ValueError("hops must be 1, 2 or 3")
    if n == 0:
        return np.zeros(0)
    m = edges.shape[0]
    index_type = np.int32 if n < np.iinfo(np.int32).max else np.int64
    tails = np.concatenate([edges[:, 0], edges[:, 1]]).astype(index_type, copy=False)
    heads = np.concatenate([edges[:, 1], edges[:, 0]]).astype(index_type, copy=False)
    prob = _arc_probabilities(n, edges, w, activation)
    # A vertex cannot activate itself: a self-loop counts in its strength, not in its reach.
    prob = np.where(tails == heads, 0.0, prob)
    # out_sum[u] = sum_v p_uv: the expected activations of the first hop (exact: each contact
    # is reached independently).
    out_sum = np.bincount(tails, weights=prob, minlength=n)
    spread = 1.0 + out_sum
    if hops >= 2:
        # back[arc u -> v] = sum of p_vu over the arcs v -> u: the walks u -> v -> u that the
        # second hop leaves out. On a simple graph that is the arc's own reverse.
        if simple:
            back = np.concatenate([prob[m:], prob[:m]])
        else:
            key = np.minimum(tails, heads).astype(np.int64) * n + np.maximum(tails, heads)
            forward = tails < heads
            _, pair = np.unique(key, return_inverse=True)
            pair = pair.reshape(-1)
            # per pair: total probability of its arcs in each direction
            low_to_high = np.bincount(pair, weights=prob * forward)
            high_to_low = np.bincount(pair, weights=prob * ~forward)
            back = np.where(forward, high_to_low[pair], low_to_high[pair])
        if hops == 3:
            return np.minimum(_three_hop_spread(n, edges, prob, back, simple), float(n))
        spread += np.bincount(tails, weights=prob * (out_sum[heads] - back), minlength=n)
    return np.minimum(spread, float(n))


def _three_hop_spread(n: int, edges: np.ndarray, prob: np.ndarray, back: np.ndarray,
                      simple: bool) -> np.ndarray:
    """Expected live simple paths of at most three arcs from each vertex (uncapped).

    ``prob`` holds the arcs ``edges[:, 0] -> edges[:, 1]`` then the reverse ones (self-loops
    at 0) and ``back`` each arc's reverse probability, as in :func:`_khop_spread`. Parallel
    ties are merged first (their probabilities added, as the two-hop sum does), so that ``P``,
    the matrix of arc probabilities, has one entry per tie and direction and a zero diagonal.
    With ``a = P 1``, ``c_u = sum_v p_uv p_vu`` (two-cycles) and ``b = P a``, the walks of
    three arcs ``u -> v -> x -> y`` add up to ``(P b)_u`` and one is a simple path unless
    ``x = u`` (``c_u a_u``), ``y = v`` (``(P c)_u``) or ``y = u`` (closed triangles,
    ``diag(P^3)_u``); ``x = u`` and ``y = v`` together (``sum_v p_uv^2 p_vu``) is subtracted
    twice and added back once, and the other overlaps would need a self-loop.
    """
    m = edges.shape[0]
    if simple:
        ends, forward, backward = edges, prob[:m], prob[m:]
    else:
        # One row per tie: the arc u -> v with u < v, its probability and its reverse's.
        low, high = edges.min(axis=1), edges.max(axis=1)
        tie = np.flatnonzero(low != high)
        _, first = np.unique(low[tie].astype(np.int64) * n + high[tie], return_index=True)
        tie = tie[first]
        ends = np.column_stack([low[tie], high[tie]])
        # back[arc] sums the probabilities of the tie's arcs the other way, so back of the
        # reverse of edge i sums those of edge i's direction.
        up = edges[tie, 0] < edges[tie, 1]
        forward = np.where(up, back[tie + m], back[tie])
        backward = np.where(up, back[tie], back[tie + m])
    tail = np.concatenate([ends[:, 0], ends[:, 1]]).astype(np.int64)
    head = np.concatenate([ends[:, 1], ends[:, 0]]).astype(np.int64)
    p = np.concatenate([forward, backward])
    q = np.concatenate([backward, forward])  # q[arc u -> v] = p_vu
    a = np.bincount(tail, weights=p, minlength=n)
    c = np.bincount(tail, weights=p * q, minlength=n)
    b = np.bincount(tail, weights=p * a[head], minlength=n)
    # (P b)_u - (P c)_u + sum_v p_uv^2 p_vu in one pass over the arcs
    three = np.bincount(tail, weights=p * ((b - c)[head] + p * q), minlength=n)
    return 1.0 + a + b - c + three - c * a - _closed_triangles(n, tail, head, p, q)


def _closed_triangles(n, tail, head, p, q) -> np.ndarray:
    """``diag(P^3)``: each triangle u, v, x adds ``p_uv p_vx p_xu + p_ux p_xv p_vu`` to all
    three of its vertices.

    Vertices are renumbered by (degree, number) and every tie is kept once, from its lower to
    its higher end, so that each triangle is one pair of contacts of its lowest vertex and a
    hub, last in the order, lists few pairs (Chiba and Nishizeki 1985). ``tail``, ``head``:
    both arcs of every tie of a simple graph; ``p``, ``q``: each arc's probability and its
    reverse's.
    """
    from scipy import sparse

    degree = np.bincount(tail, minlength=n)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), degree))] = np.arange(n)
    rank_tail, rank_head = rank[tail], rank[head]
    up = np.flatnonzero(rank_tail < rank_head)
    # The kept arcs by tail, heads sorted within each tail (scipy's counting sort); each
    # entry holds its arc's number (exact in float64).
    table = sparse.csr_matrix((up.astype(np.float64), (rank_tail[up], rank_head[up])),
                              shape=(n, n))
    table.sort_indices()
    start = table.indptr.astype(np.int64)
    contact = table.indices.astype(np.int64)
    arc = table.data.astype(np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(start))
    # Every pair (v, x), v before x, of later contacts of the same vertex u: a wedge.
    later = start[owner + 1] - np.arange(contact.size) - 1
    first = np.repeat(np.arange(contact.size), later)
    second = first + 1 + np.arange(first.size) - np.repeat(np.cumsum(later) - later, later)
    # v < x in the new numbers, so a tie v - x is kept as v -> x: look it up by (v, x).
    key = owner * n + contact  # sorted
    wanted = contact[first] * n + contact[second]
    found = np.minimum(np.searchsorted(key, wanted), max(key.size - 1, 0))
    closed = key[found] == wanted
    arc_uv, arc_ux, arc_vx = arc[first[closed]], arc[second[closed]], arc[found[closed]]
    cycles = p[arc_uv] * p[arc_vx] * q[arc_ux] + p[arc_ux] * q[arc_vx] * q[arc_uv]
    return (np.bincount(tail[arc_uv], weights=cycles, minlength=n)
            + np.bincount(head[arc_uv], weights=cycles, minlength=n)
            + np.bincount(head[arc_ux], weights=cycles, minlength=n))


def khop_influence_spread(
    graph: igraph.Graph,
    hops: int = 2,
    weights: str | np.ndarray | None = "weight",
    activation: str | float = "weighted_cascade",
) -> np.ndarray:
    r"""Expected customers an independent cascade reaches within ``hops`` hops, computed.

    A deterministic estimate of the influence spread of every vertex (no sampling): the
    expected number of live paths of at most ``hops`` arcs that start at ``u`` and visit no
    vertex twice, ``u`` itself counted once and the total capped at ``n``. With arc ``u -> v``
    live with probability :math:`p_{uv}`,

    .. math::

        \sigma_1(u) = 1 + \sum_v p_{uv}, \qquad
        \sigma_2(u) = \sigma_1(u) + \sum_v p_{uv} \sum_{x \ne u} p_{vx}
                    = \sigma_1(u) + \sum_v p_{uv} \Bigl(a_v - p_{vu}\Bigr),

    where :math:`a_v = \sum_x p_{vx}`. Each term is the probability that one path is live, so
    :math:`\sigma_1` is exact for a cascade stopped after one round and :math:`\sigma_2` is
    exact for one stopped after two rounds wherever two-hop paths do not meet again (trees,
    and every vertex two hops away reached by one path only); where several paths reach the
    same vertex it adds their probabilities instead of taking the union (first order in the
    path probabilities, an upper bound). Both sums are two passes over the arcs (one ``bincount``
    each, the reverse arc read by position), ``O(n + m)`` time and memory.

    Three hops add the simple paths ``u -> v -> x -> y`` by the same reasoning: the walks of
    three arcs, :math:`(P^3 \mathbf{1})_u`, less those that revisit a vertex (``x = u``:
    :math:`c_u a_u` with :math:`c_u = \sum_v p_{uv} p_{vu}`; ``y = v``: :math:`(P c)_u`;
    ``y = u``, the closed triangles: :math:`(P^3)_{uu}`), plus the walks
    ``u -> v -> u -> v`` that the first two both removed (:math:`\sum_v p_{uv}^2 p_{vu}`).
    Parallel ties are merged first (probabilities added, as above). Exact for a cascade
    stopped after three rounds on a tree; elsewhere the same first-order sum. The triangles
    are listed with the vertices ordered by degree (Chiba and Nishizeki 1985), so the cost is
    ``O(m + w)`` for the ``w`` pairs of higher-ordered contacts (at most ``O(m^{3/2})``).

    Why two hops (chosen before any measurement here): under the weighted cascade
    (:math:`p_{uv} = w_{uv} / s_v`) the probabilities into every vertex sum to one, so a
    path's probability shrinks with each hop by the share of its next vertex's talk time, and
    Tang, Tang and Yuan (2018) found that the influence within two hops ranks seeds almost as
    well as the full spread, while three hops already need the closed triangles
    :math:`\sum p_{uv} p_{vx} p_{xu}` (listed below, several times the two-hop cost; the
    measured time and accuracy of both are in experiments/results/influence_deterministic.md).
    The 1-hop sum is the
    single-step estimate behind degree discount (Chen, Wang and Yang 2009). IRIE (Jung, Heo
    and Chen 2012) sums all hops with a damping factor :math:`\alpha`,
    :math:`r = 1 + \alpha P r`; under the weighted cascade that is the linear system of
    PageRank with damping :math:`\alpha` (:math:`P = W S^{-1}`), already a part of
    ``influencer_score``, so it would add nothing to it.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected graph; each tie is two arcs.
    hops : {1, 2, 3}
        Longest path counted.
    weights : str, array-like or None
        Tie strengths (edge attribute name, per-edge array, or None for ones).
    activation : "weighted_cascade" or float
        As in :func:`reverse_reachable_sets`: arc ``u -> v`` live with probability
        ``w_uv / strength(v)``, or every arc with the same probability.

    Returns
    -------
    numpy.ndarray of float64, shape (n_vertices,)
        Estimated spread of each vertex, itself included, in ``[1, n]``.

    Examples
    --------
    On the path 0 - 1 - 2 with unit weights, 0 reaches 1 with probability 1/2 (half of 1's
    talk time) and 1 then reaches 2 for certain; 1 reaches both ends for certain:

    >>> path = igraph.Graph([(0, 1), (1, 2)])
    >>> khop_influence_spread(path, weights=None).tolist()
    [2.0, 3.0, 2.0]

    In a triangle with arc probability 1/2 the two paths to each other vertex are added
    (1 + 2 * (1/2 + 1/4) = 2.5); the union of those paths has probability 5/8 (2.25):

    >>> khop_influence_spread(igraph.Graph.Full(3), weights=None).tolist()
    [2.5, 2.5, 2.5]

    On the path 0 - 1 - 2 - 3, three hops add 0 -> 1 -> 2 -> 3 (1/2 * 1/2 * 1) to 0, which
    then reaches 2, its full spread on this tree:

    >>> khop_influence_spread(igraph.Graph([(0, 1), (1, 2), (2, 3)]), weights=None,
    ...                       hops=3).tolist()
    [2.0, 3.0, 3.0, 2.0]

    References
    ----------
    J. Tang, X. Tang, J. Yuan, "An efficient and effective hop-based approach for influence
    maximization in social networks", The VLDB Journal 27, 2018.
    W. Chen, Y. Wang, S. Yang, "Efficient influence maximization in social networks",
    KDD 2009 (degree discount).
    K. Jung, W. Heo, W. Chen, "IRIE: scalable and robust influence maximization in social
    networks", ICDM 2012.
    N. Chiba, T. Nishizeki, "Arboricity and subgraph listing algorithms", SIAM J. Comput. 14,
    1985 (triangles listed from the lower-degree end).
    D. Kempe, J. Kleinberg, E. Tardos, "Maximizing the spread of influence through a social
    network", KDD 2003 (independent cascade, weighted cascade).

    See Also
    --------
    reverse_reachable_sets : sampled RR sets, whose coverage estimates the full spread.
    influencer_scores : uses this estimate for ``influence_spread`` with
        ``influence_method="khop"``.
    """
    if graph.is_directed():
        raise ValueError("khop_influence_spread expects an undirected graph")
    n = graph.vcount()
    return _khop_spread(n, edge_array(graph), edge_weights(graph, weights), activation,
                        hops=hops, simple=graph.is_simple())


# --------------------------------------------------------------------------------------------
# Influencer scores
# --------------------------------------------------------------------------------------------


def _betweenness(graph, w, cutoff, samples, seed) -> np.ndarray:
    """Normalised betweenness on distances ``1 / weight``, exact or source-sampled."""
    n = graph.vcount()
    if n < 3 or graph.ecount() == 0:
        return np.zeros(n)
    # Strong ties are short: shortest paths run along the ties customers use most.
    distance = (1.0 / np.maximum(w, 1e-12)).tolist() if w is not None else None
    if samples == "auto":
        budgeted = int(np.clip(_BETWEENNESS_EDGE_BUDGET // graph.ecount(), *_BETWEENNESS_SOURCES))
        samples = None if n <= _EXACT_BETWEENNESS_MAX_VERTICES else budgeted
    if samples is None or int(samples) >= n:
        values = np.asarray(graph.betweenness(directed=False, cutoff=cutoff, weights=distance))
    else:
        # Brandes & Pich (2007): sum the dependencies of k uniformly sampled sources and scale
        # by n / k (unbiased for the exact value).
        sources = np.random.default_rng(seed).choice(n, size=int(samples), replace=False)
        values = np.asarray(
            graph.betweenness(
                directed=False, cutoff=cutoff, weights=distance, sources=sources.tolist()
            )
        ) * (n / int(samples))
    return values / ((n - 1) * (n - 2) / 2.0)


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Percentile rank in (0, 1] (ties share their average rank).

    Values are compared at 9 significant digits relative to the largest: iterative solvers
    (PageRank, eigenvector) differ in the last bits between processes, and a rank must not
    turn that noise into a different order.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    scale = np.nanmax(np.abs(values))
    if np.isfinite(scale) and scale > 0:
        values = np.round(values / scale, 9)
    return rankdata(values, method="average") / values.size


def influencer_scores(
    graph: igraph.Graph,
    weights: str | np.ndarray | None = "weight",
    seed: int = 0,
    betweenness_cutoff: float | None = None,
    betweenness_samples: int | str | None = "auto",
    ris_samples: int = DEFAULT_RIS_SAMPLES,
    activation: str | float = "weighted_cascade",
    descriptive: bool = True,
    influence_method: str = "rr",
    influence_hops: int = 2,
) -> pd.DataFrame:
    """Centrality and influence of every customer, and one combined influencer score.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected graph; edge weights are tie strengths.
    weights : str, array-like or None
        Edge attribute name, per-edge array, or None for unit weights.
    seed : int
        Seed of the RR sets and of the betweenness source sample.
    betweenness_cutoff : float, optional
        Only shortest paths up to this length (in ``1 / weight`` units) count; igraph's
        cutoff-limited betweenness. None counts all paths.
    betweenness_samples : "auto", int or None
        Betweenness from this many uniformly sampled source vertices, scaled by
        ``n / samples`` (Brandes & Pich 2007; the same estimator as networkx's ``k``). None:
        exact. "auto": exact up to 2,000 vertices; above, ``10**7 / n_edges`` sources clipped
        to [16, 256] (256 at 40k edges, 16 from 625k edges), as each source costs one
        shortest-path tree. Betweenness is reported but not part of ``influencer_score``, so
        its approximation never changes the ranking.
    ris_samples : int
        Number of RR sets for ``influence_spread`` when ``influence_method="rr"``.
    activation : "weighted_cascade" or float
        Independent-cascade arc probability (see :func:`reverse_reachable_sets`).
    descriptive : bool
        Also compute ``eigenvector`` and ``betweenness``, which describe a customer but are not
        part of ``influencer_score``. False leaves both columns out: they are most of this
        function's cost (docs/results.md), and the feature pipeline reads neither.
    influence_method : {"khop", "rr"}
        ``"khop"``: expected activations within ``influence_hops`` hops, computed without a
        random step (:func:`khop_influence_spread`); ``"rr"``: share of ``ris_samples`` RR
        sets holding the vertex, an unbiased estimate of the full spread that depends on
        ``seed``.
    influence_hops : {1, 2, 3}
        Longest path counted with ``influence_method="khop"`` (ignored with ``"rr"``).

    Returns
    -------
    pandas.DataFrame indexed by ``name`` with columns

    - ``pagerank``: weighted PageRank (damping 0.85);
    - ``eigenvector``: weighted eigenvector centrality, scaled to max 1; on a disconnected
      graph it is 0 outside the component with the largest eigenvalue (the giant one);
    - ``strength``: sum of tie weights; ``degree``: number of contacts;
    - ``coreness``: k-core number (unweighted);
    - ``betweenness``: normalised betweenness on distances ``1 / weight``;
    - ``influence_spread``: expected customers an independent cascade started at the vertex
      reaches, itself included (within two hops, or the full spread estimated from RR sets;
      see ``influence_method``);
    - ``influencer_score``: mean of the percentile ranks of pagerank, influence_spread,
      strength and coreness, in (0, 1]; 1 = top on all four.

    Example
    -------
    >>> star = igraph.Graph.Star(6)
    >>> star.es["weight"] = 1.0
    >>> s = influencer_scores(star, ris_samples=500)
    >>> int(s["influencer_score"].idxmax()), float(s.loc[0, "influence_spread"])
    (0, 6.0)

    References
    ----------
    S. Brin, L. Page, "The anatomy of a large-scale hypertextual Web search engine", 1998.
    P. Bonacich, "Power and centrality: a family of measures", Am. J. Sociol. 92, 1987.
    V. Batagelj, M. Zaversnik, "An O(m) algorithm for cores decomposition of networks", 2003.
    U. Brandes, C. Pich, "Centrality estimation in large networks", Int. J. Bifurcation and
    Chaos 17(7), 2007.
    M. Kitsak et al., "Identification of influential spreaders in complex networks",
    Nature Physics 6, 2010 (coreness as a spreader score).
    C. Borgs et al., SODA 2014; Y. Tang et al., SIGMOD 2014 (reverse influence sampling).
    """
    n = graph.vcount()
    if graph.is_directed():
        raise ValueError("influencer_scores expects an undirected graph")
    if influence_method not in INFLUENCE_METHODS:
        raise ValueError(f"influence_method must be one of {INFLUENCE_METHODS}")
    w = edge_weights(graph, weights)
    w_arg = None if weights is None else w.tolist()
    edges = edge_array(graph)
    if n == 0:
        columns = ["pagerank", "eigenvector", "strength", "degree", "coreness", "betweenness",
                   "influence_spread", "influencer_score"]
        return pd.DataFrame({c: np.zeros(0) for c in columns}, index=_vertex_index(graph))

    table = pd.DataFrame(index=_vertex_index(graph))
    # igraph's PRPACK solver sums in parallel (OpenMP) and ARPACK starts the eigenvector
    # iteration from a random vector: one thread and a seeded generator make both give the
    # same bits on every run (otherwise the last digits, and a tree split on them, vary).
    with threadpool_limits(limits=1, user_api="openmp"):
        table["pagerank"] = np.asarray(graph.pagerank(directed=False, weights=w_arg))
    if descriptive and graph.ecount():
        with warnings.catch_warnings(), seeded_igraph_rng(seed):
            # igraph warns on disconnected graphs; the documented result (zero outside the
            # component with the largest eigenvalue) is what we report.
            warnings.simplefilter("ignore", RuntimeWarning)
            # (igraph 1.0 rejects directed=False here; the graph is undirected anyway.)
            eigen = np.asarray(graph.eigenvector_centrality(weights=w_arg))
        table["eigenvector"] = np.maximum(eigen, 0.0)  # no -0.0 from the solver
    elif descriptive:
        table["eigenvector"] = 0.0
    table["strength"] = _strength(n, edges, w)
    table["degree"] = np.asarray(graph.degree(), dtype=np.int64)
    table["coreness"] = np.asarray(graph.coreness(), dtype=np.int64)
    if descriptive:
        table["betweenness"] = _betweenness(
            graph, None if weights is None else w, betweenness_cutoff, betweenness_samples, seed
        )
    if influence_method == "khop":
        table["influence_spread"] = _khop_spread(n, edges, w, activation, hops=influence_hops,
                                                 simple=graph.is_simple())
    else:
        table["influence_spread"] = _influence_spread(n, edges, w, ris_samples, seed, activation)
    table["influencer_score"] = np.mean(
        [percentile_rank(table[c].to_numpy()) for c in INFLUENCER_SCORE_COMPONENTS], axis=0
    )
    return table


def influencer_score_draws(
    graph: igraph.Graph,
    influence: pd.DataFrame,
    seeds,
    weights: str | np.ndarray | None = "weight",
    ris_samples: int = DEFAULT_RIS_SAMPLES,
    activation: str | float = "weighted_cascade",
) -> np.ndarray:
    """``influencer_score`` again under other draws of the RR sets, one column per seed.

    Pagerank, strength and coreness have no random step: they are read from ``influence``
    (:func:`influencer_scores` of the same graph) and only ``influence_spread`` is estimated
    anew from ``ris_samples`` RR sets under each seed. The cascade's arcs are built once and
    shared (they have no random step either); each draw's RR sets are its own.

    Parameters
    ----------
    graph : igraph.Graph
        The undirected graph ``influence`` was computed on (same vertex order).
    influence : pandas.DataFrame
        :func:`influencer_scores` of ``graph``: its ``pagerank``, ``strength`` and
        ``coreness`` columns, in vertex order.
    seeds : sequence of int
        Seed of each draw's RR sets.
    weights, ris_samples, activation :
        As in :func:`influencer_scores` (``influence_method="rr"``).

    Returns
    -------
    numpy.ndarray of shape (n_vertices, len(seeds))
        Column ``k``: the influencer score with the spread of the RR sets drawn with
        ``seeds[k]``; with the seed ``influence`` was computed with, its own score.

    Example
    -------
    >>> star = igraph.Graph.Star(6)
    >>> star.es["weight"] = 1.0
    >>> s = influencer_scores(star, ris_samples=500, seed=3)
    >>> draws = influencer_score_draws(star, s, [3, 4], ris_samples=500)
    >>> bool(np.allclose(draws[:, 0], s["influencer_score"])), draws.shape
    (True, (6, 2))
    """
    n = graph.vcount()
    seeds = [int(s) for s in seeds]
    out = np.zeros((n, len(seeds)))
    if n == 0 or not seeds:
        return out
    w = edge_weights(graph, weights)
    arcs = _reverse_arcs(n, edge_array(graph), w, activation)
    fixed = {c: percentile_rank(influence[c].to_numpy())
             for c in INFLUENCER_SCORE_COMPONENTS if c != "influence_spread"}
    for k, seed in enumerate(seeds):
        _, members = _sample_rr_sets(n, arcs, ris_samples, seed)
        spread = n * np.bincount(members, minlength=n) / max(int(ris_samples), 1)
        ranks = {**fixed, "influence_spread": percentile_rank(spread)}
        # Same components, same order and same mean as influencer_scores: same bits.
        out[:, k] = np.mean([ranks[c] for c in INFLUENCER_SCORE_COMPONENTS], axis=0)
    return out


# --------------------------------------------------------------------------------------------
# Leaders, followers, susceptibility
# --------------------------------------------------------------------------------------------


def _score_array(index: pd.Index, scores) -> np.ndarray:
    """Influencer score aligned with vertex order from a DataFrame, Series or array."""
    if isinstance(scores, pd.DataFrame):
        scores = scores["influencer_score"]
    if isinstance(scores, pd.Series):
        aligned = scores.reindex(index)
        if aligned.isna().any():
            raise ValueError("scores lack some vertices of the graph")
        return aligned.to_numpy(dtype=np.float64)
    array = np.asarray(scores, dtype=np.float64)
    if array.shape != (len(index),):
        raise ValueError(f"scores must have one value per vertex ({len(index)})")
    return array


def default_leader_count(size: np.ndarray) -> np.ndarray:
    """Leaders a group of ``size`` members gets by default: ``1 + size // 50``.

    One voice per small group (households, friend circles), and one more for every 50 members
    in bigger ones, where several people shape opinion.
    """
    return 1 + np.asarray(size, dtype=np.int64) // 50


def leaders_and_followers(
    graph: igraph.Graph,
    membership: np.ndarray,
    scores,
    leaders_per_group: int | Callable[[np.ndarray], np.ndarray] | None = None,
    min_group_size: int = 3,
    weights: str | np.ndarray | None = "weight",
) -> pd.DataFrame:
    """Leaders (top influencer score in their group) and the followers of each group.

    Parameters
    ----------
    graph : igraph.Graph
    membership : array-like of int, shape (n_vertices,)
        Group of every vertex (e.g. from :func:`graphchurn.community.detect_communities`).
    scores : DataFrame with ``influencer_score``, Series indexed by name, or array
        Higher = more influential (e.g. from :func:`influencer_scores`).
    leaders_per_group : int, callable or None
        Leaders per group: a fixed number, a function of the array of group sizes, or None for
        :func:`default_leader_count` (``1 + size // 50``). Always capped at ``size - 1`` so
        every group keeps a follower.
    min_group_size : int
        Groups smaller than this have no leader; their members are ``"isolate"``.
    weights : str, array-like or None
        Tie strengths used to pick whom a follower follows.

    Returns
    -------
    pandas.DataFrame indexed by ``name`` with columns

    - ``community``: the vertex's group;
    - ``role``: ``"leader"``, ``"follower"`` or ``"isolate"``;
    - ``rank_in_group``: 0 for the top score of the group, ties by vertex order;
    - ``leader_of_group``: name of the group's top leader (missing for isolates);
    - ``follows``: the group leader the vertex has its strongest tie to, or the top leader when
      it has no tie to any (missing for leaders and isolates).

    Example
    -------
    >>> g = igraph.Graph.Star(4)
    >>> g.vs["name"] = ["hub", "a", "b", "c"]
    >>> g.es["weight"] = 1.0
    >>> leaders_and_followers(g, [0, 0, 0, 0], [0.9, 0.1, 0.2, 0.3])["role"].tolist()
    ['leader', 'follower', 'follower', 'follower']
    """
    n = graph.vcount()
    membership = np.asarray(membership, dtype=np.int64)
    if membership.shape != (n,):
        raise ValueError(f"membership must have one label per vertex ({n})")
    index = _vertex_index(graph)
    score = _score_array(index, scores)
    labels, group = np.unique(membership, return_inverse=True)
    group = group.reshape(-1)
    size = np.bincount(group, minlength=labels.size)

    if leaders_per_group is None:
        n_leaders = default_leader_count(size)
    elif callable(leaders_per_group):
        n_leaders = np.asarray(leaders_per_group(size), dtype=np.int64)
    else:
        n_leaders = np.full(labels.size, int(leaders_per_group), dtype=np.int64)
    n_leaders = np.clip(n_leaders, 0, np.maximum(size - 1, 0))
    n_leaders[size < min_group_size] = 0

    # Rank inside each group: sort by group, then score descending, then vertex order.
    order = np.lexsort((np.arange(n), -score, group))
    group_start = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start[group[order]]
    is_leader = rank < n_leaders[group]
    has_leaders = n_leaders[group] > 0
    role = np.where(is_leader, "leader", np.where(has_leaders, "follower", "isolate"))

    top_leader = np.full(labels.size, -1, dtype=np.int64)
    led = np.flatnonzero(n_leaders > 0)
    top_leader[led] = order[group_start[led]]

    # Strongest tie from each follower to a leader of its own group.
    follows = np.where(has_leaders & ~is_leader, top_leader[group], -1)
    edges = edge_array(graph)
    if edges.size:
        w = edge_weights(graph, weights)
        a = np.concatenate([edges[:, 0], edges[:, 1]])
        b = np.concatenate([edges[:, 1], edges[:, 0]])
        ww = np.concatenate([w, w])
        keep = is_leader[b] & ~is_leader[a] & (group[a] == group[b])
        a, b, ww = a[keep], b[keep], ww[keep]
        if a.size:
            # Last of (follower, weight ascending, leader rank descending) = strongest tie,
            # ties to the higher-ranked leader.
            pick = np.lexsort((-rank[b], ww, a))
            last = np.r_[a[pick][1:] != a[pick][:-1], True]
            follows[a[pick][last]] = b[pick][last]

    def names_or_missing(vertex: np.ndarray) -> np.ndarray:
        # -1 marks "no such vertex" and becomes a missing value.
        return index.take(vertex, allow_fill=True, fill_value=None).to_numpy()

    return pd.DataFrame(
        {
            "community": membership,
            "role": role,
            "rank_in_group": rank,
            "leader_of_group": names_or_missing(top_leader[group]),
            "follows": names_or_missing(follows),
        },
        index=index,
    )


def susceptibility(
    graph: igraph.Graph,
    membership: np.ndarray,
    leaders,
    departed=None,
    weights: str | np.ndarray | None = "weight",
    embeddedness_weight: float = 0.25,
) -> pd.DataFrame:
    """How exposed each customer is to its group's leaders and to customers who left.

    Parameters
    ----------
    graph : igraph.Graph
    membership : array-like of int, shape (n_vertices,)
        Group of every vertex.
    leaders : DataFrame from :func:`leaders_and_followers`, bool array, or names
        The leaders of every group.
    departed : bool array aligned with vertex order, or names, optional
        Customers known to have left (e.g. churn dates up to the cut-off).
    weights : str, array-like or None
        Tie strengths.
    embeddedness_weight : float in [0, 1]
        Strength of the group's pull relative to a direct tie (beta below).

    Returns
    -------
    pandas.DataFrame indexed by ``name`` with columns (all shares of the vertex's strength,
    0 for a vertex without ties)

    - ``share_to_leaders``: to leaders of its own group (s_L);
    - ``share_to_departed``: to departed customers, any group (s_D);
    - ``embeddedness``: to members of its own group (e);
    - ``susceptibility``: ``1 - (1 - s_L) (1 - s_D) (1 - beta * e)``, in [0, 1].

    The combination is a noisy-OR of three pressures, each read as the chance a random unit of
    the customer's talk time goes to it: its leaders, its leavers, and (damped by ``beta``,
    because a diffuse group pulls less than one person) its group. It is 0 for a customer
    with no ties and 1 for one who only talks to leaders or leavers.

    Example
    -------
    >>> g = igraph.Graph([(0, 1), (0, 2)])
    >>> g.es["weight"] = [3.0, 1.0]
    >>> s = susceptibility(g, [0, 0, 1], leaders=np.array([False, True, False]))
    >>> s["share_to_leaders"].tolist(), s["embeddedness"].tolist()
    ([0.75, 0.0, 0.0], [0.75, 1.0, 0.0])

    References
    ----------
    M. Granovetter, "The strength of weak ties", Am. J. Sociol. 78(6), 1973 (tie strength).
    K. Dasgupta et al., "Social ties and their relevance to churn in mobile telecom networks",
    EDBT 2008 (exposure to churned neighbours).
    """
    n = graph.vcount()
    membership = np.asarray(membership, dtype=np.int64)
    if membership.shape != (n,):
        raise ValueError(f"membership must have one label per vertex ({n})")
    if not 0.0 <= embeddedness_weight <= 1.0:
        raise ValueError("embeddedness_weight must be in [0, 1]")
    index = _vertex_index(graph)
    if isinstance(leaders, pd.DataFrame):
        leaders = leaders["role"].reindex(index).eq("leader").to_numpy()
    is_leader = vertex_mask(graph, leaders, "leaders")
    is_departed = (
        np.zeros(n, dtype=bool) if departed is None else vertex_mask(graph, departed, "departed")
    )

    edges = edge_array(graph)
    w = edge_weights(graph, weights)
    # Both directions of every tie: "own" end a, "other" end b.
    a = np.concatenate([edges[:, 0], edges[:, 1]])
    b = np.concatenate([edges[:, 1], edges[:, 0]])
    ww = np.concatenate([w, w])
    same_group = membership[a] == membership[b]
    strength = np.bincount(a, weights=ww, minlength=n)
    to_group = np.bincount(a, weights=ww * same_group, minlength=n)
    to_leaders = np.bincount(a, weights=ww * (same_group & is_leader[b]), minlength=n)
    to_departed = np.bincount(a, weights=ww * is_departed[b], minlength=n)
    safe = np.where(strength > 0, strength, 1.0)
    share_leaders = to_leaders / safe
    share_departed = to_departed / safe
    embedded = to_group / safe
    combined = 1.0 - (1.0 - share_leaders) * (1.0 - share_departed) * (
        1.0 - embeddedness_weight * embedded
    )
    return pd.DataFrame(
        {
            "share_to_leaders": share_leaders,
            "share_to_departed": share_departed,
            "embeddedness": embedded,
            "susceptibility": np.clip(combined, 0.0, 1.0),
        },
        index=index,
    )
