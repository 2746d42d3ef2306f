"""Social contagion of churn: exposure to departed contacts, diffusion models, "what if X leaves".

Algorithm functions take an undirected weighted :class:`igraph.Graph` (vertex attributes
``name`` and ``on_net``, edge attribute ``weight``; see ``docs/INTERNALS.md``) and return numpy
arrays aligned with vertex order, or DataFrames indexed by vertex name in vertex order.

How the pieces fit (the pipeline's side):

1. History: for each past cut-off ``c`` whose horizon ends by as-of, a
   :class:`ContagionCutoff` (graph of the interactions before ``c``, days since each departure
   known at ``c``, next-horizon churn label, optional influencer score);
   :meth:`ContagionCutoff.from_churn_dates` builds one from contract churn dates.
2. ``model = ContagionModel(method="auto").fit(history)``: compares the diffusion models on
   held-out cut-offs (``model.comparison_``) or, with no history, uses a structural prior
   (``model.source_`` says which).
3. ``alerts, at_risk = what_if(graph, membership, base_probability, value, leavers, model,
   influencer_score)`` at as-of.
4. ``Watcher(...)`` + ``update(customer_id, date)`` for a stream of departures.

Everything on a hot path is vectorised over the edge list (``np.bincount``, ``scipy.sparse``);
loops run over rounds, hops or cut-offs, never over vertices or edges (only the plain-words
reasons of the at-risk list are formatted row by row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from graphchurn.errors import InputError

__all__ = [
    "spreading_activation",
    "exposure",
    "exposure_before_onset",
    "independent_cascade",
    "linear_threshold",
    "departure_ages",
    "ContagionCutoff",
    "ContagionModel",
    "what_if",
    "Watcher",
    "METHODS",
]


# ----------------------------------------------------------------------------------------------
# graph helpers


def _edge_arrays(graph, weights="weight"):
    """Return ``(src, dst, weight)`` numpy arrays of the graph's edges.

    ``weights`` is an edge attribute name, an array of per-edge weights, or ``None`` (all 1).
    """
    edges = np.asarray(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    if weights is None:
        w = np.ones(len(edges), dtype=float)
    elif isinstance(weights, str):
        if graph.ecount() and weights in graph.es.attributes():
            w = np.asarray(graph.es[weights], dtype=float)
        else:
            w = np.ones(len(edges), dtype=float)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(edges),):
            raise ValueError("weights must have one value per edge")
    return edges[:, 0], edges[:, 1], w


def _vertex_names(graph):
    if "name" in graph.vs.attributes():
        return pd.Index(np.asarray(graph.vs["name"], dtype=object).astype(str), name="customer_id")
    return pd.Index(np.arange(graph.vcount()).astype(str), name="customer_id")


def _symmetric_adjacency(graph, weights="weight"):
    """Weighted adjacency matrix (CSR, symmetric) of an undirected graph."""
    n = graph.vcount()
    src, dst, w = _edge_arrays(graph, weights)
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    vals = np.concatenate([w, w])
    # duplicate (multi-)edges are summed by the COO -> CSR conversion
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def _as_mask(mask, n, what="mask"):
    arr = np.asarray(mask)
    if arr.dtype != bool:
        # accept an index list as well as a boolean mask
        out = np.zeros(n, dtype=bool)
        out[arr.astype(np.int64)] = True
        return out
    if arr.shape != (n,):
        raise ValueError(f"{what} must have one entry per vertex ({n}), got shape {arr.shape}")
    return arr


# ----------------------------------------------------------------------------------------------
# spreading activation


def spreading_activation(graph, initial_energy, spread_factor=0.8, iterations=5, weights="weight"):
    """Energy received by each vertex when energy spreads out of the departed vertices.

    Energy starts on the departed vertices (``initial_energy``). In each round every vertex
    keeps ``1 - spread_factor`` of its current energy and passes ``spread_factor`` of it to its
    neighbours in proportion to tie weight (a vertex without neighbours keeps all of it). What a
    vertex receives is accumulated over the rounds; the result is that accumulated inflow. A
    vertex's own initial energy is *not* counted as received, but energy that flows back to a
    departed vertex from its neighbours is.

    The computation is ``iterations`` sparse matrix-vector products with the row-normalised
    adjacency ``P`` (``P[i, j] = w_ij / sum_k w_ik``): ``t = s * P.T @ e``; ``e = (1 - s) e + t``;
    ``received += t``. Total energy is conserved, so each round hands out at most
    ``spread_factor * initial_energy.sum()``.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected graph.
    initial_energy : array_like of float, shape (n_vertices,)
        Starting energy, typically 1.0 on departed vertices (a boolean mask works) and 0 elsewhere.
    spread_factor : float, default 0.8
        Fraction of its energy a vertex passes on in each round, in [0, 1].
    iterations : int, default 5
        Number of rounds. Energy travels at most ``iterations`` hops, so only vertices within
        that distance of a vertex with initial energy can receive any.
    weights : str, array_like or None, default "weight"
        Edge attribute with tie strengths, an array with one weight per edge, or None for 1.

    Returns
    -------
    numpy.ndarray of float, shape (n_vertices,)
        Energy received by each vertex over all rounds.

    Example
    -------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2)])          # path 0 - 1 - 2
    >>> spreading_activation(g, [1.0, 0, 0], spread_factor=0.5, iterations=1, weights=None)
    array([0. , 0.5, 0. ])

    References
    ----------
    Dasgupta, K., Singh, R., Viswanathan, B., Chakraborty, D., Mukherjea, S., Nanavati, A. A.,
    Joshi, A. (2008). Social ties and their relevance to churn in mobile telecom networks.
    EDBT 2008, 668-677.
    """
    n = graph.vcount()
    energy = np.asarray(initial_energy, dtype=float).copy()
    if energy.shape != (n,):
        raise ValueError(f"initial_energy must have one entry per vertex ({n})")
    if not 0.0 <= spread_factor <= 1.0:
        raise ValueError("spread_factor must be in [0, 1]")
    if iterations < 0:
        raise ValueError("iterations must be >= 0")
    received = np.zeros(n, dtype=float)
    if n == 0 or iterations == 0:
        return received
    transfer_t = _transfer_matrix(graph, weights)
    has_neighbours = np.asarray(transfer_t.sum(axis=0)).ravel() > 0
    return _spread(transfer_t, has_neighbours, energy, spread_factor, iterations)


def _spread(transfer_t, has_neighbours, energy, spread_factor, iterations):
    """The rounds of :func:`spreading_activation` on a prepared transfer matrix."""
    # vertices without neighbours have nowhere to send energy: they keep it all
    keep = np.where(has_neighbours, 1.0 - spread_factor, 1.0)
    energy = np.asarray(energy, dtype=float)
    received = np.zeros_like(energy)
    for _ in range(iterations):
        inflow = spread_factor * (transfer_t @ energy)
        energy = keep * energy + inflow
        received += inflow
    return received


def _transfer_matrix(graph, weights="weight"):
    """Transpose of the row-normalised adjacency: ``(P.T @ e)[j] = sum_i e_i w_ij / s_i``."""
    adj = _symmetric_adjacency(graph, weights)
    strength = np.asarray(adj.sum(axis=1)).ravel()
    inv = np.divide(1.0, strength, out=np.zeros_like(strength), where=strength > 0)
    # P = D^-1 A ; P.T = A D^-1 (A symmetric): scale column i by 1/s_i
    return (adj @ sp.diags(inv)).tocsr()


# ----------------------------------------------------------------------------------------------
# exposure to departed contacts


EXPOSURE_COLUMNS = [
    "share_to_departed",
    "n_departed_contacts",
    "departed_influencer_contact",
    "max_tie_share_departed",
]


def exposure(graph, departed_mask, weights="weight", influencer_mask=None):
    """How strongly each vertex is tied to departed vertices.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected weighted graph.
    departed_mask : array_like of bool, shape (n_vertices,)
        True for vertices that have left (an array of vertex indices is accepted too).
    weights : str, array_like or None, default "weight"
        Edge attribute with tie strengths, an array with one weight per edge, or None for 1.
    influencer_mask : array_like of bool, optional
        True for influencers; without it ``departed_influencer_contact`` is all False.

    Returns
    -------
    pandas.DataFrame
        Indexed by vertex name (``customer_id``) in vertex order, with columns

        - ``share_to_departed``: weight of ties to departed neighbours / total tie weight (0 for
          a vertex without ties),
        - ``n_departed_contacts``: number of departed neighbours,
        - ``departed_influencer_contact``: whether a departed neighbour is an influencer,
        - ``max_tie_share_departed``: the largest single tie to a departed neighbour as a share
          of total tie weight.

        Departed vertices get their exposure to *other* departed vertices like anyone else.

    Example
    -------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (0, 2)]); g.es["weight"] = [3.0, 1.0]
    >>> exposure(g, [False, True, False])["share_to_departed"].tolist()
    [0.75, 0.0, 0.0]

    References
    ----------
    Nitzan, I., Libai, B. (2011). Social effects on customer retention. Journal of Marketing,
    75(6), 24-38 (exposure to defecting neighbours as a hazard covariate).
    """
    n = graph.vcount()
    departed = _as_mask(departed_mask, n, "departed_mask")
    influencer = (
        np.zeros(n, dtype=bool)
        if influencer_mask is None
        else _as_mask(influencer_mask, n, "influencer_mask")
    )
    src, dst, w = _edge_arrays(graph, weights)
    # each undirected edge seen from both ends: (vertex, neighbour, weight)
    me = np.concatenate([src, dst])
    other = np.concatenate([dst, src])
    ww = np.concatenate([w, w])
    strength = np.bincount(me, weights=ww, minlength=n)
    to_departed = departed[other]
    strength_departed = np.bincount(me, weights=ww * to_departed, minlength=n)
    n_departed = np.bincount(me, weights=to_departed.astype(float), minlength=n)
    infl_contacts = np.bincount(me, weights=(to_departed & influencer[other]).astype(float),
                                minlength=n)
    safe = np.where(strength > 0, strength, 1.0)
    share = np.where(strength > 0, strength_departed / safe, 0.0)
    tie_share = np.where(to_departed, ww / safe[me], 0.0)
    max_share = np.zeros(n, dtype=float)
    np.maximum.at(max_share, me, tie_share)
    return pd.DataFrame(
        {
            "share_to_departed": share,
            "n_departed_contacts": np.rint(n_departed).astype(np.int64),
            "departed_influencer_contact": infl_contacts > 0,
            "max_tie_share_departed": max_share,
        },
        index=_vertex_names(graph),
    )


def exposure_before_onset(graph, departure_age_days, recent_days=30, onset_days=28,
                          weights="weight"):
    """Exposure to departed contacts at the time a decision now under way was taken.

    A customer who has decided to leave rarely goes at once: its traffic tapers off for days or
    weeks first (see :func:`graphchurn.graph.fade_out_evidence`). For a customer already
    tapering off at the cut-off, the departures that could have driven its decision are those
    that were recent *when it decided*, some day among the last ``onset_days``, not those of
    the last ``recent_days`` before the cut-off: a contact who left yesterday cannot explain a
    fade that began two weeks ago, and one who left seven weeks ago may. This is the share of
    tie strength to contacts who had left in the ``recent_days`` before a candidate onset day,
    averaged over the onset days 1 .. ``onset_days`` before the cut-off (a uniform prior over
    the onset, as in the fade-out evidence). A departure ``k`` days before the cut-off weighs
    the share of those onset days at which it was recent::

        a(k) = #{d in 1..onset_days : 0 <= k - d <= recent_days} / onset_days

    which rises from 0 (left today) to 1, stays there, and falls back to 0 once
    ``k > recent_days + onset_days``. The lag between an exposure and the churn it causes is the
    time-varying hazard covariate of Nitzan & Libai (2011), read here with the onset unknown.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected weighted graph.
    departure_age_days : array_like of float, shape (n_vertices,)
        Days from each vertex's departure to the cut-off (NaN = not departed), e.g.
        :func:`departure_ages`.
    recent_days : int, default 30
        How long a departure counts as recent (the window of ``share_to_departed``).
    onset_days : int, default 28
        The earliest onset considered, in days before the cut-off (the longest taper of the
        fade-out evidence).
    weights : str, array_like or None, default "weight"
        Edge attribute with tie strengths, an array with one weight per edge, or None for 1.

    Returns
    -------
    numpy.ndarray of float, shape (n_vertices,)
        Between 0 and 1; 0 for a vertex without ties.

    Example
    -------
    A customer with two equal ties: one contact left 1 day ago, the other 10 days ago. With
    onsets up to 4 days back, the first was recent at 1 of the 4 onsets, the second at all:

    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (0, 2)]); g.es["weight"] = [1.0, 1.0]
    >>> float(exposure_before_onset(g, [np.nan, 1.0, 10.0], recent_days=30, onset_days=4)[0])
    0.625

    References
    ----------
    Nitzan, I., Libai, B. (2011). Social effects on customer retention. Journal of Marketing,
    75(6), 24-38.
    Dasgupta, K. et al. (2008). Social ties and their relevance to churn in mobile telecom
    networks. EDBT.
    """
    n = graph.vcount()
    age = np.asarray(departure_age_days, dtype=float)
    if age.shape != (n,):
        raise ValueError(f"departure_age_days must have one value per vertex ({n}), "
                         f"got shape {age.shape}")
    if int(onset_days) < 1 or int(recent_days) < 0:
        raise ValueError("onset_days must be >= 1 and recent_days >= 0")
    k = np.where(np.isnan(age), -1.0, np.floor(age))  # never departed: weight 0 below
    first = np.maximum(1.0, k - recent_days)
    last = np.minimum(float(onset_days), k)
    departed_weight = np.clip(last - first + 1.0, 0.0, None) / float(onset_days)
    adjacency = _symmetric_adjacency(graph, weights)
    strength = np.asarray(adjacency.sum(axis=1)).ravel()
    to_departed = adjacency @ departed_weight
    return np.divide(to_departed, strength, out=np.zeros(n), where=strength > 0)


# ----------------------------------------------------------------------------------------------
# counter-based random numbers
#
# Monte Carlo cascades draw their coins from a hash of (seed, stream, key) instead of a
# sequential generator. Simulation ``s`` is then one fixed "possible world" (which arcs are
# live, which parent a vertex listens to) whatever the seed set is, so (a) a before/after
# comparison uses common random numbers and its difference has far less noise, and (b) the
# reach of a vertex can be recomputed locally (watch mode) and equal a full recompute exactly.

_STREAM_ARC = 1  # independent cascade: is arc u -> v live in simulation s
_STREAM_PARENT = 2  # linear threshold: which neighbour v listens to in simulation s
_STREAM_SEED = 3  # is a departed vertex an active seed in simulation s (time decay, influence)


def _mix64(z):
    """SplitMix64 finaliser (Steele, Lea & Flood 2014) on a uint64 array."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(seed, stream, keys):
    """Uniform numbers in [0, 1), a pure function of ``(seed, stream, key)`` for each key."""
    with np.errstate(over="ignore"):
        base = _mix64(np.asarray([(int(seed) % (1 << 60)) * 8 + stream], dtype=np.uint64))
        z = _mix64(np.asarray(keys, dtype=np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                   + base)
    return (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)


# ----------------------------------------------------------------------------------------------
# a graph in CSR form, built once and shared by the models


class _GraphIndex:
    """CSR view of an undirected weighted graph (both directions of every tie).

    Position ``k`` of the CSR arrays is the arc ``row[k] -> indices[k]`` with weight
    ``data[k]``; ``share_out[k] = w / s_row`` and ``share_in[k] = w / s_target``.
    """

    def __init__(self, graph, weights="weight"):
        self.graph = graph
        self.n = graph.vcount()
        adj = _symmetric_adjacency(graph, weights)
        adj.sum_duplicates()
        adj.sort_indices()
        self.indptr = adj.indptr.astype(np.int64)
        self.indices = adj.indices.astype(np.int64)
        self.data = adj.data.astype(float)
        self.degree = np.diff(self.indptr)
        self.row = np.repeat(np.arange(self.n, dtype=np.int64), self.degree)
        self.strength = np.bincount(self.row, weights=self.data, minlength=self.n)
        safe = np.where(self.strength > 0, self.strength, 1.0)
        self.share_out = self.data / safe[self.row]
        self.share_in = self.data / safe[self.indices]
        self.names = _vertex_names(graph)
        self.name_array = np.asarray(self.names, dtype=object)
        if "on_net" in graph.vs.attributes():
            self.on_net = np.asarray(graph.vs["on_net"], dtype=bool)
        else:
            self.on_net = np.ones(self.n, dtype=bool)

    @cached_property
    def _lookup(self):
        return {name: i for i, name in enumerate(self.name_array)}

    @cached_property
    def reverse(self):
        """``reverse[k]``: position of the opposite arc of arc ``k``."""
        order = np.lexsort((self.row, self.indices))
        rev = np.empty(len(order), dtype=np.int64)
        rev[order] = np.arange(len(order), dtype=np.int64)
        return rev

    @cached_property
    def cum_before(self):
        """Cumulative ``share_out`` of the arcs before ``k`` in the same row (for LT parents)."""
        cum = np.cumsum(self.share_out)
        row_offset = np.concatenate([[0.0], cum])[self.indptr[:-1]]
        return cum - self.share_out - row_offset[self.row]

    @cached_property
    def transfer_t(self):
        """``P.T`` for spreading activation, ``P[i, j] = w_ij / s_i``."""
        return sp.csr_matrix((self.share_in, self.indices, self.indptr), shape=(self.n, self.n))

    def expand(self, vertices):
        """Arcs out of ``vertices``: ``(owner, position)``, owner indexing into ``vertices``."""
        vertices = np.asarray(vertices, dtype=np.int64)
        start = self.indptr[vertices]
        deg = self.indptr[vertices + 1] - start
        total = int(deg.sum())
        owner = np.repeat(np.arange(len(vertices), dtype=np.int64), deg)
        offset = np.repeat(np.cumsum(deg) - deg, deg)
        return owner, start[owner] + np.arange(total, dtype=np.int64) - offset

    def ball(self, vertex, radius):
        """Vertices within ``radius`` hops of ``vertex`` (itself included), sorted."""
        return np.sort(np.asarray(self.graph.neighborhood(int(vertex), order=int(radius)),
                                  dtype=np.int64))

    def positions(self, ids, what="customer"):
        """Vertex indices of customer ids (or of vertex indices), never echoing an id."""
        ids = list(ids) if not isinstance(ids, (str, bytes)) else [ids]
        if all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ids):
            idx = np.asarray(ids, dtype=np.int64)
            if len(idx) and (idx.min() < 0 or idx.max() >= self.n):
                raise InputError(f"a {what} index is out of range")
            return idx
        if len(ids) <= 16:
            idx = np.asarray([self._lookup.get(str(i), -1) for i in ids], dtype=np.int64)
        else:
            idx = self.names.get_indexer(pd.Index([str(i) for i in ids]))
        missing = np.flatnonzero(idx < 0)
        if len(missing):
            raise InputError(
                f"{len(missing)} of {len(ids)} {what} id(s) are not in the graph "
                f"(first at position {missing[0] + 1})")
        return idx.astype(np.int64)


def _sorted_isin(values, sorted_set):
    """``np.isin`` for sorted unique ``sorted_set`` (binary search)."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def _reach_codes(index, kind, seeds, seed_prob, n_sims, max_hops, seed, arc_prob=None):
    """Monte Carlo cascades as live-edge reachability, vectorised over all simulations.

    Returns the sorted codes ``vertex * n_sims + simulation`` of every (vertex, simulation)
    pair reached. A seed is active in simulation ``s`` with probability ``seed_prob``.
    ``kind`` is "ic" (arc ``k`` live with probability ``arc_prob[k]``) or "lt" (each vertex
    listens to one neighbour ``u`` with probability ``w_uv / s_v``: the live-edge form of the
    linear threshold model with uniform thresholds, Kempe et al. 2003, Claim 2.6).
    """
    S = int(n_sims)
    seeds = np.asarray(seeds, dtype=np.int64)
    if seeds.size == 0:
        return np.empty(0, dtype=np.int64)
    codes = seeds[:, None] * S + np.arange(S, dtype=np.int64)[None, :]
    active = _uniform(seed, _STREAM_SEED, codes) < np.asarray(seed_prob, dtype=float)[:, None]
    reached = np.unique(codes[active])
    frontier = reached
    hops = 0
    while frontier.size and (max_hops is None or hops < max_hops):
        hops += 1
        fv, fs = np.divmod(frontier, S)
        owner, pos = index.expand(fv)
        if pos.size == 0:
            break
        target = index.indices[pos]
        sims = fs[owner]
        if kind == "ic":
            live = _uniform(seed, _STREAM_ARC, pos * S + sims) < arc_prob[pos]
        else:
            back = index.reverse[pos]  # arc target -> source, in the target's row
            u = _uniform(seed, _STREAM_PARENT, target * S + sims)
            lo = index.cum_before[back]
            live = (u >= lo) & (u < lo + index.share_out[back])
        candidate = np.unique(target[live] * S + sims[live])
        new = candidate[~_sorted_isin(candidate, reached)]
        reached = np.union1d(reached, new)
        frontier = new
    return reached


def _reach_probability(codes, n, n_sims):
    return np.bincount(codes // int(n_sims), minlength=n) / float(n_sims)


def independent_cascade(graph, seeds, edge_probability=None, n_simulations=1000, max_hops=None,
                        seed=0, weights="weight"):
    """Probability that each vertex is reached by an independent cascade from ``seeds``.

    Every newly active vertex ``u`` gets one chance to activate each inactive neighbour ``v``,
    succeeding with probability ``p(u -> v)``. Simulations run together: each round expands
    the frontier of (vertex, simulation) pairs over the CSR arcs with one numpy pass.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected graph (each tie is two arcs).
    seeds : array_like of bool or int
        Seed mask or seed vertex indices; seeds are active in every simulation.
    edge_probability : float or None, default None
        A constant arc probability, or None for the weighted cascade ``p(u -> v) = w_uv / s_v``
        (the share of ``v``'s tie strength that the tie to ``u`` carries).
    n_simulations : int, default 1000
        Monte Carlo simulations.
    max_hops : int or None, default None
        Stop after this many rounds (None: until no vertex activates).
    seed : int, default 0
        Seed of the coins; same inputs and seed give the same result.
    weights : str, array_like or None, default "weight"
        Tie strengths: edge attribute name, one value per edge, or None for 1.

    Returns
    -------
    numpy.ndarray of float, shape (n_vertices,)
        Share of simulations in which each vertex is active at the end (1.0 for seeds).

    Example
    -------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2), (3, 4)])
    >>> independent_cascade(g, [0], edge_probability=1.0, n_simulations=10).tolist()
    [1.0, 1.0, 1.0, 0.0, 0.0]

    References
    ----------
    Kempe, D., Kleinberg, J., Tardos, E. (2003). Maximizing the spread of influence through a
    social network. KDD 2003, 137-146.
    """
    index = _GraphIndex(graph, weights)
    seed_idx = np.flatnonzero(_as_mask(seeds, index.n, "seeds"))
    if edge_probability is None:
        arc_prob = index.share_in
    else:
        if not 0.0 <= float(edge_probability) <= 1.0:
            raise ValueError("edge_probability must be in [0, 1]")
        arc_prob = np.full(len(index.data), float(edge_probability))
    codes = _reach_codes(index, "ic", seed_idx, np.ones(len(seed_idx)), n_simulations, max_hops,
                         seed, arc_prob)
    return _reach_probability(codes, index.n, n_simulations)


def linear_threshold(graph, seeds, thresholds=None, n_simulations=1000, max_hops=None, seed=0,
                     weights="weight"):
    """Linear threshold cascade from ``seeds`` (Kempe et al. 2003).

    Vertex ``v`` is influenced by neighbour ``u`` with weight ``b_uv = w_uv / s_v`` (the
    weights into ``v`` sum to 1) and becomes active once the active neighbours' weights reach
    its threshold ``theta_v``.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected weighted graph.
    seeds : array_like of bool or int
        Seed mask or seed vertex indices.
    thresholds : array_like of float, optional
        Fixed thresholds, one per vertex: the cascade is deterministic and the result is 0/1.
        Without them thresholds are uniform on [0, 1] and the result is the Monte Carlo
        probability of activation, computed on the equivalent live-edge model (each vertex
        listens to one neighbour drawn with probability ``b_uv``).
    n_simulations : int, default 1000
        Monte Carlo simulations (random thresholds only).
    max_hops : int or None, default None
        Stop after this many rounds.
    seed : int, default 0
        Seed of the random thresholds.
    weights : str, array_like or None, default "weight"
        Tie strengths.

    Returns
    -------
    numpy.ndarray of float, shape (n_vertices,)
        Activation (0/1 with fixed thresholds) or activation probability (seeds: 1.0).

    Example
    -------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2)])           # 1 listens half to 0, half to 2
    >>> linear_threshold(g, [0], thresholds=[0, 0.5, 1.0], weights=None).tolist()
    [1.0, 1.0, 1.0]

    References
    ----------
    Kempe, D., Kleinberg, J., Tardos, E. (2003). Maximizing the spread of influence through a
    social network. KDD 2003, 137-146.
    Granovetter, M. (1978). Threshold models of collective behavior. Am. J. Sociol. 83(6).
    """
    index = _GraphIndex(graph, weights)
    seed_mask = _as_mask(seeds, index.n, "seeds")
    if thresholds is None:
        seed_idx = np.flatnonzero(seed_mask)
        codes = _reach_codes(index, "lt", seed_idx, np.ones(len(seed_idx)), n_simulations,
                             max_hops, seed)
        return _reach_probability(codes, index.n, n_simulations)
    theta = np.asarray(thresholds, dtype=float)
    if theta.shape != (index.n,):
        raise ValueError("thresholds must have one value per vertex")
    # influence[v] = sum over active u of w_uv / s_v  ==  (P @ active)[v]
    influence_matrix = sp.csr_matrix((index.share_out, index.indices, index.indptr),
                                     shape=(index.n, index.n))
    active = seed_mask.copy()
    rounds = 0
    while max_hops is None or rounds < max_hops:
        rounds += 1
        # a small tolerance so that a threshold equal to a sum of shares is reached
        newly = ~active & (influence_matrix @ active.astype(float) >= theta - 1e-12)
        if not newly.any():
            break
        active |= newly
    return active.astype(float)


# ----------------------------------------------------------------------------------------------
# history: what the model is calibrated on


def departure_ages(graph, departure_dates, cutoff):
    """Days from each vertex's departure to ``cutoff`` (NaN for vertices not departed).

    Parameters
    ----------
    graph : igraph.Graph
        Graph whose vertex ``name`` are customer ids.
    departure_dates : pandas.Series
        Departure (churn) dates indexed by customer id; NaT = still a customer.
    cutoff : Timestamp or str
        The cut-off; only departures on or before it count (known at the cut-off).

    Returns
    -------
    numpy.ndarray of float, shape (n_vertices,)
    """
    cutoff = pd.Timestamp(cutoff)
    dates = pd.to_datetime(pd.Series(departure_dates))
    dates.index = dates.index.astype(str)
    aligned = dates.reindex(_vertex_names(graph).astype(str))
    age = np.array((cutoff - aligned) / pd.Timedelta(days=1), dtype=float)
    age[~(age >= 0)] = np.nan  # not departed, or departed after the cut-off (unknown then)
    return age


@dataclass
class ContagionCutoff:
    """One past cut-off of the churn history a :class:`ContagionModel` is fitted on.

    All arrays are aligned with the vertices of ``graph``.

    Attributes
    ----------
    graph : igraph.Graph
        The customer graph built from interactions before the cut-off only.
    departure_age_days : ndarray of float
        Days between a vertex's departure and the cut-off (>= 0) for departures known at the
        cut-off (churn date <= cut-off); NaN for everyone else.
    label : ndarray of {0, 1}
        1 if the vertex churned in the horizon after the cut-off (read only where eligible).
    eligible : ndarray of bool, optional
        Vertices that count as examples: customers active at the cut-off. Default: on-net
        vertices that have not departed.
    influencer_score : ndarray of float, optional
        Influencer score at the cut-off (e.g. ``roles.influencer_scores``); turned into a
        percentile among on-net vertices. Without it every leaver counts as a median customer.
    base_probability : ndarray of float, optional
        A baseline churn probability that does *not* itself use exposure to departures; when
        every cut-off has one it enters the regression as ``logit(base)``.
    """

    graph: object
    departure_age_days: np.ndarray
    label: np.ndarray
    eligible: np.ndarray | None = None
    influencer_score: np.ndarray | None = None
    base_probability: np.ndarray | None = None

    @classmethod
    def from_churn_dates(cls, graph, churn_dates, cutoff, horizon_days, *, known_until=None,
                         influencer_score=None, base_probability=None):
        """Build a cut-off from contract churn dates.

        Parameters
        ----------
        graph : igraph.Graph
            Graph of the interactions before ``cutoff``.
        churn_dates : pandas.Series
            Churn date per customer id (NaT = still a customer); ids not in it are off-net.
        cutoff : Timestamp
            The cut-off.
        horizon_days : int
            The label is churn in ``(cutoff, cutoff + horizon_days]``.
        known_until : Timestamp, optional
            The as-of of the analysis. Raises if the label would need dates after it.
        influencer_score, base_probability : ndarray, optional
            See the class attributes.
        """
        cutoff = pd.Timestamp(cutoff)
        end = cutoff + pd.Timedelta(days=float(horizon_days))
        if known_until is not None and end > pd.Timestamp(known_until):
            raise ValueError("the label of this cut-off is not fully known at as-of")
        dates = pd.to_datetime(pd.Series(churn_dates))
        dates.index = dates.index.astype(str)
        names = _vertex_names(graph).astype(str)
        known = names.isin(dates.index)
        aligned = dates.reindex(names)
        on_net = (np.asarray(graph.vs["on_net"], dtype=bool)
                  if "on_net" in graph.vs.attributes() else np.ones(graph.vcount(), bool))
        d = aligned.to_numpy(dtype="datetime64[ns]")
        still = np.isnat(d) | (d > np.datetime64(cutoff))
        label = (~np.isnat(d)) & (d > np.datetime64(cutoff)) & (d <= np.datetime64(end))
        return cls(graph=graph,
                   departure_age_days=departure_ages(graph, dates, cutoff),
                   label=label.astype(np.int8),
                   eligible=known & on_net & still,
                   influencer_score=influencer_score,
                   base_probability=base_probability)


def _as_cutoff(item):
    if isinstance(item, ContagionCutoff):
        return item
    if isinstance(item, dict):
        return ContagionCutoff(**item)
    return ContagionCutoff(*item)


def _influence_rank(index, influencer_score):
    """Leaver influence in [0, 1]: percentile of the influencer score among on-net vertices.

    Ranks use the "min" rule, so a 0/1 leader flag maps to 0 for non-leaders. Without scores
    every vertex gets 0.5.
    """
    if influencer_score is None:
        return np.full(index.n, 0.5)
    score = np.asarray(influencer_score, dtype=float)
    if score.shape != (index.n,):
        raise ValueError("influencer_score must have one value per vertex")
    out = np.zeros(index.n)
    pool = index.on_net & np.isfinite(score)
    if pool.sum() > 1:
        ordered = np.sort(score[pool])
        out[pool] = np.searchsorted(ordered, score[pool], side="left") / (pool.sum() - 1)
    elif pool.sum() == 1:
        out[pool] = 1.0
    return np.clip(out, 0.0, 1.0)


INFLUENCER_PERCENTILE = 0.9
"""A leaver at or above this influence percentile is called "an influencer" in reasons."""


# ----------------------------------------------------------------------------------------------
# the contagion model

METHODS = ("exposure", "spreading_activation", "independent_cascade", "linear_threshold")

_FEATURES = {
    "exposure": ["tie_share", "influencer_tie_share", "max_tie_share"],
    "spreading_activation": ["log1p_energy", "log1p_influencer_energy"],
    "independent_cascade": ["reach", "influencer_reach"],
    "linear_threshold": ["reach", "influencer_reach"],
    "structural_prior": ["weighted_tie_share", "group_embeddedness"],
}

_HALF_LIFE_GRID = (7.0, 14.0, 30.0, 60.0)
_BETA_GRID = (0.5, 1.0, 2.0)
_DEFAULT_HALF_LIFE = 30.0

#: Structural prior, used when there is no churn history to calibrate on. Log-odds added to a
#: customer's churn odds per unit of (tie share to leavers x leaver weight), where a leaver
#: weighs 0.5 + 0.5 x its influence percentile: losing every tie to a top influencer at once
#: triples the odds. Of the order of the social effects in Nitzan & Libai (2011) and of the
#: contagion planted in graphchurn.synth; a documented assumption, not an estimate.
PRIOR_TIE_LOG_ODDS = math.log(3.0)

#: Twice the held-out log-likelihood gain a fitted contagion model must show over "no
#: contagion" to count as supported by the history: 3.84, the 5% point of chi-squared(1).
LIKELIHOOD_RATIO_BAR = 3.84
#: Log-odds per departed group member (same weighting), scaled by how embedded the customer
#: is in its group (share of its tie strength inside the group): group churn beyond direct ties.
PRIOR_GROUP_LOG_ODDS = math.log(1.5)


class _Context:
    """What a model needs about one graph at one moment: CSR, influence, groups."""

    def __init__(self, index, influence, membership=None):
        self.index = index
        self.influence = influence
        self.membership = None if membership is None else np.asarray(membership)
        if self.membership is not None:
            if self.membership.shape != (index.n,):
                raise ValueError("membership must have one label per vertex")
            codes, labels = pd.factorize(self.membership)
            self.group_code = codes.astype(np.int64)
            self.group_labels = np.asarray(labels)
            # rank of each group's label, to break ties in a stable, label-ordered way
            self.group_label_rank = np.empty(len(labels), dtype=np.int64)
            self.group_label_rank[np.asarray(pd.Index(labels).argsort())] = np.arange(len(labels))
            same = self.group_code[index.row] == self.group_code[index.indices]
            inside = np.bincount(index.row, weights=index.data * same, minlength=index.n)
            self.embeddedness = np.divide(inside, index.strength,
                                          out=np.zeros(index.n), where=index.strength > 0)
            order = np.argsort(self.group_code, kind="stable")
            bounds = np.searchsorted(self.group_code[order],
                                     np.arange(self.group_code.max() + 2 if index.n else 1))
            self.group_members = (order, bounds)


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def _shift(base, logit_base, dz):
    """``sigmoid(logit(base) + dz)``, exactly ``base`` where ``dz == 0``."""
    return np.where(dz == 0, base, _sigmoid(logit_base + dz))


class ContagionModel:
    """How much a departure raises the churn risk of the leaver's contacts.

    A logistic regression, across past cut-offs, of churn in the next horizon on *contagion
    pressure* features that one diffusion model computes from the departures known at the
    cut-off (each weighted by ``0.5 ** (age / half_life)`` and by the leaver's influence):

    - ``exposure``: tie share to leavers, the same share weighted by leaver influence, the
      largest single tie share (the churn model's own exposure response, Nitzan & Libai 2011);
    - ``spreading_activation``: energy received from leavers (Dasgupta et al. 2008), log1p;
    - ``independent_cascade``: probability of being reached by a cascade from the leavers with
      arc probability ``beta * w_uv / s_v`` (Kempe et al. 2003);
    - ``linear_threshold``: probability of being reached under the linear threshold model
      with uniform thresholds (Kempe et al. 2003).

    A what-if adds the change of the fitted linear predictor to each customer's churn
    log-odds: ``p_after = sigmoid(logit(p_before) + coef . (x_after - x_before))``.

    With ``method="auto"`` every method is scored on held-out cut-offs in an expanding window
    (each later cut-off predicted by a fit on all earlier ones; log-loss and AUC pooled over
    the folds); the best by held-out log-loss is refitted on all cut-offs and the table is
    kept in ``comparison_``. Without churn history (no departure tied to an
    example, or labels of one class only) the model falls back to a structural prior
    (:data:`PRIOR_TIE_LOG_ODDS`, :data:`PRIOR_GROUP_LOG_ODDS`) and says so in ``source_``.

    Parameters
    ----------
    method : {"auto", "exposure", "spreading_activation", "independent_cascade", "linear_threshold"}
    half_life_days : float or None, default None
        Half-life of a departure's effect; None picks it from (7, 14, 30, 60) on history
        (30 without history).
    n_simulations : int, default 200
        Monte Carlo simulations of the cascade models.
    max_hops : int, default 2
        Cascades stop after this many hops (keeps watch-mode neighbourhoods finite).
    spread_factor : float, default 0.8
        Spreading activation: share of energy passed on per round.
    spread_iterations : int, default 3
        Spreading activation rounds (its reach in hops).
    C : float, default 1.0
        Inverse L2 strength of the logistic regression (on standardised features).
    seed : int, default 0
        Seed of the cascade coins and of the held-out split of a single cut-off.

    Attributes
    ----------
    method_ : str
        The method used: one of METHODS, or "structural_prior".
    source_ : str
        "fitted on history" or "structural prior".
    half_life_days_ : float
    beta_ : float or None
        Independent cascade arc-probability scale.
    feature_names_ : list of str
    coef_ : ndarray
        Log-odds per unit of each contagion feature.
    intercept_ : float
    base_coef_ : float or None
        Coefficient of ``logit(base_probability)`` when the history carried one.
    comparison_ : pandas.DataFrame or None
        Held-out comparison of the methods (``method="auto"``).
    heldout_gain_nats_ : float or None
        Held-out log-likelihood of the selected method minus that of "no contagion", summed
        over the test customers (``method="auto"``; None otherwise).
    supported_ : bool or None
        Whether that gain clears the likelihood-ratio bar ``2 * gain > 3.84`` (the 5% point
        of chi-squared with one degree of freedom, used as a rule of thumb on held-out data):
        False means the history does not show contagion beyond chance, and what-if increases
        are the model's assumption more than evidence. None without a comparison.

    Example
    -------
    >>> model = ContagionModel().fit([])      # no history at all
    >>> model.source_
    'structural prior'

    References
    ----------
    Dasgupta, K. et al. (2008). Social ties and their relevance to churn in mobile telecom
    networks. EDBT 2008.
    Kempe, D., Kleinberg, J., Tardos, E. (2003). Maximizing the spread of influence through a
    social network. KDD 2003.
    Nitzan, I., Libai, B. (2011). Social effects on customer retention. J. Marketing 75(6).
    """

    def __init__(self, method="auto", half_life_days=None, n_simulations=200, max_hops=2,
                 spread_factor=0.8, spread_iterations=3, C=1.0, seed=0):
        self.method = method
        self.half_life_days = half_life_days
        self.n_simulations = n_simulations
        self.max_hops = max_hops
        self.spread_factor = spread_factor
        self.spread_iterations = spread_iterations
        self.C = C
        self.seed = seed

    # ------------------------------------------------------------------ features
    def _decay(self, age_days, half_life):
        age = np.asarray(age_days, dtype=float)
        return np.where(np.isfinite(age), np.power(0.5, np.maximum(age, 0.0) / half_life), 0.0)

    def _features(self, ctx, decay, method, beta=None):
        """Contagion features of every vertex given departure weights ``decay``."""
        index = ctx.index
        n = index.n
        f = ctx.influence
        if method in ("exposure", "structural_prior"):
            wd = index.share_out * decay[index.indices]  # (w_ij / s_i) d_j at arc i -> j
            if method == "exposure":
                share = np.bincount(index.row, weights=wd, minlength=n)
                infl = np.bincount(index.row, weights=wd * f[index.indices], minlength=n)
                biggest = np.zeros(n)
                np.maximum.at(biggest, index.row, wd)
                return np.column_stack([share, infl, biggest])
            g = 0.5 + 0.5 * f
            share = np.bincount(index.row, weights=wd * g[index.indices], minlength=n)
            group = np.zeros(n)
            if ctx.membership is not None:
                per_group = np.bincount(ctx.group_code, weights=decay * g,
                                        minlength=ctx.group_code.max() + 1)
                group = ctx.embeddedness * per_group[ctx.group_code]
            return np.column_stack([share, group])
        if method == "spreading_activation":
            has = index.degree > 0
            e1 = _spread(index.transfer_t, has, decay, self.spread_factor, self.spread_iterations)
            e2 = _spread(index.transfer_t, has, decay * f, self.spread_factor,
                         self.spread_iterations)
            return np.column_stack([np.log1p(e1), np.log1p(e2)])
        if method in ("independent_cascade", "linear_threshold"):
            kind = "ic" if method == "independent_cascade" else "lt"
            arc = np.minimum(1.0, beta * index.share_in) if kind == "ic" else None
            seeds = np.flatnonzero(decay > 0)
            out = []
            for seed_prob in (decay[seeds], decay[seeds] * f[seeds]):
                codes = _reach_codes(index, kind, seeds, seed_prob, self.n_simulations,
                                     self.max_hops, self.seed, arc)
                out.append(_reach_probability(codes, n, self.n_simulations))
            return np.column_stack(out)
        raise ValueError(f"unknown method {method!r}")

    def _radius(self):
        if self.method_ in ("exposure", "structural_prior"):
            return 1
        if self.method_ == "spreading_activation":
            return int(self.spread_iterations)
        return int(self.max_hops)

    # ------------------------------------------------------------------ fitting
    def fit(self, history):
        """Calibrate on past cut-offs.

        Parameters
        ----------
        history : sequence of ContagionCutoff (or dicts / tuples of its fields)
            Past cut-offs in time order (oldest first) whose labels are fully known.

        Returns
        -------
        self
        """
        if self.method != "auto" and self.method not in METHODS:
            raise ValueError(f"method must be 'auto' or one of {METHODS}")
        cutoffs = [_as_cutoff(c) for c in history]
        prepared = [self._prepare(c) for c in cutoffs]
        prepared = [p for p in prepared if p is not None]
        n_pos = sum(int(p["y"].sum()) for p in prepared)
        n_neg = sum(int((1 - p["y"]).sum()) for p in prepared)
        n_exposed = sum(int(p["exposed"].sum()) for p in prepared)
        self.comparison_ = None
        self.heldout_gain_nats_ = self.supported_ = None
        if not prepared or n_pos == 0 or n_neg == 0 or n_exposed == 0:
            return self._use_prior()
        self._cache = {}
        use_base = all(p["base"] is not None for p in prepared)
        methods = list(METHODS) if self.method == "auto" else [self.method]
        if self.method == "auto":
            self.comparison_ = self._compare(prepared, methods, use_base)
            chosen = self.comparison_.loc[self.comparison_["selected"], "method"].iloc[0]
            table = self.comparison_.set_index("method")
            gain = float((table.loc["no contagion", "test_log_loss"]
                          - table.loc[chosen, "test_log_loss"]) * table.loc[chosen, "n_test"])
            self.heldout_gain_nats_ = gain
            self.supported_ = bool(2 * gain > LIKELIHOOD_RATIO_BAR)
        else:
            chosen = methods[0]
        every = [(k, np.ones(len(p["y"]), dtype=bool)) for k, p in enumerate(prepared)]
        config, fitted, _ = self._best_config(prepared, chosen, every, use_base)
        self._cache = {}
        self.method_ = chosen
        self.source_ = "fitted on history"
        self.half_life_days_, self.beta_ = config
        self.feature_names_ = list(_FEATURES[chosen])
        self.coef_, self.intercept_, self.base_coef_ = fitted
        return self

    def _use_prior(self):
        self.method_ = "structural_prior"
        self.source_ = "structural prior"
        self.half_life_days_ = float(self.half_life_days or _DEFAULT_HALF_LIFE)
        self.beta_ = None
        self.feature_names_ = list(_FEATURES["structural_prior"])
        self.coef_ = np.array([PRIOR_TIE_LOG_ODDS, PRIOR_GROUP_LOG_ODDS])
        self.intercept_ = float("nan")
        self.base_coef_ = None
        return self

    def _prepare(self, cutoff):
        index = _GraphIndex(cutoff.graph)
        n = index.n
        age = np.asarray(cutoff.departure_age_days, dtype=float)
        if age.shape != (n,):
            raise ValueError("departure_age_days must have one value per vertex")
        departed = np.isfinite(age)
        eligible = (index.on_net & ~departed if cutoff.eligible is None
                    else np.asarray(cutoff.eligible, dtype=bool) & ~departed)
        rows = np.flatnonzero(eligible)
        if rows.size == 0:
            return None
        y = np.asarray(cutoff.label, dtype=float)[rows]
        exposed = np.bincount(index.row, weights=departed[index.indices].astype(float),
                              minlength=n)[rows] > 0
        base = (None if cutoff.base_probability is None
                else _logit(np.asarray(cutoff.base_probability, dtype=float)[rows]))
        ctx = _Context(index, _influence_rank(index, cutoff.influencer_score))
        return {"ctx": ctx, "age": age, "rows": rows, "y": y, "exposed": exposed, "base": base}

    def _configs(self, method):
        halves = ([float(self.half_life_days)] if self.half_life_days is not None
                  else list(_HALF_LIFE_GRID))
        betas = list(_BETA_GRID) if method == "independent_cascade" else [None]
        return [(h, b) for h in halves for b in betas]

    def _design(self, prepared, k, method, config):
        key = (k, method, config)
        if key not in self._cache:
            p = prepared[k]
            decay = self._decay(p["age"], config[0])
            self._cache[key] = self._features(p["ctx"], decay, method, config[1])[p["rows"]]
        return self._cache[key]

    def _stack(self, prepared, parts, method, config, use_base):
        xs, ys = [], []
        for k, mask in parts:
            x = self._design(prepared, k, method, config)[mask]
            if use_base:
                x = np.column_stack([x, prepared[k]["base"][mask]])
            xs.append(x)
            ys.append(prepared[k]["y"][mask])
        return np.vstack(xs), np.concatenate(ys)

    def _logistic(self, x, y):
        from sklearn.linear_model import LogisticRegression

        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        lr = LogisticRegression(C=self.C, max_iter=1000)
        lr.fit((x - mean) / scale, y)
        coef = lr.coef_[0] / scale
        intercept = float(lr.intercept_[0] - np.dot(coef, mean))
        return coef, intercept

    def _best_config(self, prepared, method, parts, use_base):
        """Fit every hyper-parameter setting of ``method`` on ``parts``; keep the best fit."""
        from sklearn.metrics import log_loss

        best = None
        for config in self._configs(method):
            x, y = self._stack(prepared, parts, method, config, use_base)
            coef, intercept = self._logistic(x, y)
            loss = log_loss(y, _sigmoid(intercept + x @ coef), labels=[0, 1])
            if best is None or loss < best[2] - 1e-12:
                n_feat = len(_FEATURES[method])
                fitted = (coef[:n_feat], intercept, float(coef[n_feat]) if use_base else None)
                best = (config, fitted, loss)
        return best

    def _folds(self, prepared):
        """Held-out folds: an expanding window over the cut-offs (each later cut-off scored by
        a fit on all earlier ones), or a seeded 30% of the customers of a single cut-off."""
        K = len(prepared)
        whole = [(k, np.ones(len(prepared[k]["y"]), bool)) for k in range(K)]
        if K >= 2:
            folds = [(whole[:k], whole[k:k + 1]) for k in range(1, K)]
            return folds, f"expanding window: each of the later {K - 1} of {K} cut-offs"
        rng = np.random.default_rng(self.seed)
        held = rng.random(len(prepared[0]["y"])) < 0.3
        return [([(0, ~held)], [(0, held)])], "30% of the customers of the only cut-off"

    def _compare(self, prepared, methods, use_base):
        from sklearn.metrics import log_loss, roc_auc_score

        folds, how = self._folds(prepared)

        def auc(y, p):
            return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")

        def pooled(parts, key):
            return np.concatenate([prepared[k][key][m] for k, m in parts])

        y_test = np.concatenate([pooled(test, "y") for _, test in folds])
        exposed = np.concatenate([pooled(test, "exposed") for _, test in folds])
        n_train = sum(len(pooled(train, "y")) for train, _ in folds)
        # reference: no contagion term at all (intercept, and the base score if any)
        p0 = []
        for train, test in folds:
            y_train = pooled(train, "y")
            if use_base:
                c, i = self._logistic(pooled(train, "base")[:, None], y_train)
                p0.append(_sigmoid(i + pooled(test, "base") * c[0]))
            else:
                p0.append(np.full(len(pooled(test, "y")), np.clip(y_train.mean(), 1e-6, 1 - 1e-6)))
        p0 = np.concatenate(p0)
        rows = [{"method": "no contagion", "half_life_days": np.nan, "beta": np.nan,
                 "test_log_loss": log_loss(y_test, p0, labels=[0, 1]), "test_auc": auc(y_test, p0),
                 "test_auc_exposed": auc(y_test[exposed], p0[exposed])}]
        for method in methods:
            p = []
            for train, test in folds:
                config, (coef, intercept, base_coef), _ = self._best_config(prepared, method,
                                                                            train, use_base)
                x, _ = self._stack(prepared, test, method, config, use_base)
                full_coef = coef if base_coef is None else np.append(coef, base_coef)
                p.append(_sigmoid(intercept + x @ full_coef))
            p = np.concatenate(p)
            # hyper-parameters of the last fold (the one trained on the most history)
            rows.append({"method": method, "half_life_days": config[0],
                         "beta": np.nan if config[1] is None else config[1],
                         "test_log_loss": log_loss(y_test, p, labels=[0, 1]),
                         "test_auc": auc(y_test, p),
                         "test_auc_exposed": auc(y_test[exposed], p[exposed])})
        table = pd.DataFrame(rows)
        table["n_train"] = n_train
        table["n_test"] = len(y_test)
        table["evaluated_on"] = how
        candidates = table["method"].isin(methods)
        best = table.loc[candidates, "test_log_loss"].idxmin()
        table["selected"] = table.index == best
        return table

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self):
        if not hasattr(self, "method_"):
            raise RuntimeError("ContagionModel is not fitted; call fit(history) first")

    def predict_proba(self, cutoff):
        """Churn probability at a cut-off from its departures (fitted models only).

        Parameters
        ----------
        cutoff : ContagionCutoff
            The ``label`` field is not read.

        Returns
        -------
        numpy.ndarray of float, shape (n_vertices,)
        """
        self._check_fitted()
        if self.source_ != "fitted on history":
            raise RuntimeError("a structural prior only gives increases, not probabilities")
        cutoff = _as_cutoff(cutoff)
        index = _GraphIndex(cutoff.graph)
        ctx = _Context(index, _influence_rank(index, cutoff.influencer_score))
        x = self.pressure(ctx, cutoff.departure_age_days)
        z = self.intercept_ + x @ self.coef_
        if self.base_coef_ is not None:
            if cutoff.base_probability is None:
                raise ValueError("this model was fitted with base_probability; pass it")
            z = z + self.base_coef_ * _logit(cutoff.base_probability)
        return _sigmoid(z)

    def pressure(self, ctx, departure_age_days):
        """Contagion features of every vertex for departures of the given ages (internal)."""
        self._check_fitted()
        decay = self._decay(departure_age_days, self.half_life_days_)
        return self._features(ctx, decay, self.method_, self.beta_)


# ----------------------------------------------------------------------------------------------
# what if these customers leave


def what_if(graph, membership, base_probability, value, leavers, model=None, influencer_score=None,
            *, departure_age_days=None, rescore=None, weights="weight"):
    """Which groups and customers are at risk if ``leavers`` leave now.

    Each scored customer's churn log-odds rise by the fitted contagion response to the new
    departures: ``p_after = sigmoid(logit(p_before) + coef . (x_after - x_before))``, with
    ``x`` the model's contagion features (see :class:`ContagionModel`).

    Parameters
    ----------
    graph : igraph.Graph
        Customer graph at as-of (vertex ``name``, ``on_net``; edge ``weight``).
    membership : array_like, shape (n_vertices,)
        Group label of every vertex.
    base_probability : array_like of float, shape (n_vertices,)
        Current churn probability (NaN for vertices that are not scored).
    value : array_like of float or None
        Monthly value per vertex (NaN counts as 0); None leaves the value columns NaN.
    leavers : sequence of str or int
        Customer ids (vertex names) or vertex indices of the customers who leave now.
    model : ContagionModel, optional
        A fitted model; default ``ContagionModel().fit([])``, the structural prior.
    influencer_score : array_like of float, optional
        Influencer score per vertex (a leader 0/1 flag works too).
    departure_age_days : array_like of float, optional
        Earlier departures *not yet reflected in* ``base_probability`` (days ago; NaN for
        none), e.g. leavers announced since the scores were made. They set the "before" state.
    rescore : callable, optional
        ``rescore(departed_mask) -> probabilities``: the churn model re-scored with exposure
        features recomputed as if ``departed_mask`` had left. When given it replaces the
        contagion model for the after (and, with earlier departures, before) probabilities.
    weights : str, array_like or None, default "weight"
        Tie strengths.

    Returns
    -------
    alerts : pandas.DataFrame
        One row per group with scored members: ``community``, ``members`` (scored customers,
        leavers excluded), ``leavers``, ``expected_churners_before``,
        ``expected_churners_after``, ``increase``, ``value_at_risk_before``,
        ``value_at_risk_after``; ranked by ``increase``. ``attrs`` holds ``source`` and
        ``method``.
    at_risk : pandas.DataFrame
        Scored customers whose probability rises: ``customer_id``, ``community``,
        ``churn_probability_before``, ``churn_probability_after``, ``increase``, ``reason``;
        ranked by ``increase``. Off-net vertices and the leavers are never listed.

    Example
    -------
    >>> import igraph as ig
    >>> g = ig.Graph.Full(3) + ig.Graph.Full(3)
    >>> g.add_edges([(2, 3)]); g.es["weight"] = 1.0
    >>> g.vs["name"] = list("abcdef"); g.vs["on_net"] = True
    >>> alerts, at_risk = what_if(g, [0, 0, 0, 1, 1, 1], [0.1] * 6, None, ["a"])
    >>> alerts["community"].tolist()[0], at_risk["customer_id"].tolist()
    (0, ['b', 'c'])
    """
    index = _GraphIndex(graph, weights)
    n = index.n
    if model is None:
        model = ContagionModel().fit([])
    model._check_fitted()
    leaver_idx = index.positions(leavers, "leaver")
    ctx = _Context(index, _influence_rank(index, influencer_score), membership)
    base = _aligned(base_probability, n, "base_probability")
    values = None if value is None else np.nan_to_num(_aligned(value, n, "value"), nan=0.0)
    age_before = (np.full(n, np.nan) if departure_age_days is None
                  else _aligned(departure_age_days, n, "departure_age_days").copy())
    age_after = age_before.copy()
    age_after[leaver_idx] = 0.0
    leaver_mask = np.zeros(n, dtype=bool)
    leaver_mask[leaver_idx] = True
    departed_before = np.isfinite(age_before)
    scored = index.on_net & np.isfinite(base) & ~leaver_mask & ~departed_before

    if rescore is not None:
        p_before = (base if not departed_before.any()
                    else _aligned(rescore(departed_before), n, "rescore()"))
        p_after = _aligned(rescore(departed_before | leaver_mask), n, "rescore()")
        method = "churn model rescore"
    else:
        logit0 = _logit(base)
        x_after = model.pressure(ctx, age_after)
        p_after = _shift(base, logit0, x_after @ model.coef_)
        if departed_before.any():
            p_before = _shift(base, logit0, model.pressure(ctx, age_before) @ model.coef_)
        else:
            p_before = base
        method = model.method_
    p_before = np.where(scored, p_before, np.nan)
    p_after = np.where(scored, p_after, np.nan)
    alerts = _group_alerts(ctx, scored, leaver_mask, p_before, p_after, values)
    departed_after = departed_before | leaver_mask
    rows = np.flatnonzero(scored)
    at_risk = _at_risk_table(ctx, rows, p_before[rows], p_after[rows], departed_after, leaver_idx)
    for frame in (alerts, at_risk):
        frame.attrs["source"] = model.source_ if rescore is None else "churn model"
        frame.attrs["method"] = method
    return alerts, at_risk


def _aligned(values, n, what):
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n,):
        raise ValueError(f"{what} must have one value per vertex ({n})")
    return arr


ALERT_COLUMNS = ["community", "members", "leavers", "expected_churners_before",
                 "expected_churners_after", "increase", "value_at_risk_before",
                 "value_at_risk_after"]
AT_RISK_COLUMNS = ["customer_id", "community", "churn_probability_before",
                   "churn_probability_after", "increase", "reason"]


def _group_alerts(ctx, scored, leaver_mask, p_before, p_after, values, groups=None):
    """Per-group sums over scored members; ``groups`` (codes) restricts the rows."""
    code = ctx.group_code
    n_groups = int(code.max()) + 1 if code.size else 0
    w = scored.astype(float)
    members = np.bincount(code, weights=w, minlength=n_groups)
    n_leavers = np.bincount(code, weights=leaver_mask.astype(float), minlength=n_groups)
    pb = np.where(scored, p_before, 0.0)
    pa = np.where(scored, p_after, 0.0)
    before = np.bincount(code, weights=pb, minlength=n_groups)
    after = np.bincount(code, weights=pa, minlength=n_groups)
    if values is None:
        var_b = var_a = np.full(n_groups, np.nan)
    else:
        var_b = np.bincount(code, weights=pb * values, minlength=n_groups)
        var_a = np.bincount(code, weights=pa * values, minlength=n_groups)
    return _alert_frame(ctx, members, n_leavers, before, after, var_b, var_a, groups)


def _alert_frame(ctx, members, n_leavers, before, after, var_b, var_a, groups=None):
    keep = np.flatnonzero(members > 0) if groups is None else np.asarray(groups, dtype=np.int64)
    keep = keep[members[keep] > 0]
    increase = after[keep] - before[keep]
    # ranked by increase, ties by group label order of first appearance
    keep = keep[np.lexsort((ctx.group_label_rank[keep], -increase))]
    return pd.DataFrame({
        "community": ctx.group_labels[keep],
        "members": np.rint(members[keep]).astype(np.int64),
        "leavers": np.rint(n_leavers[keep]).astype(np.int64),
        "expected_churners_before": before[keep],
        "expected_churners_after": after[keep],
        "increase": after[keep] - before[keep],
        "value_at_risk_before": var_b[keep],
        "value_at_risk_after": var_a[keep],
    }, columns=ALERT_COLUMNS)


def _at_risk_table(ctx, rows, p_before, p_after, departed, leaver_idx):
    """At-risk rows among ``rows`` (scored vertices); probabilities are aligned with ``rows``."""
    increase = p_after - p_before
    up = increase > 1e-12
    rows, p_before, p_after, increase = rows[up], p_before[up], p_after[up], increase[up]
    order = np.lexsort((rows, -increase))
    rows, p_before, p_after, increase = rows[order], p_before[order], p_after[order], increase[order]
    frame = pd.DataFrame({
        "customer_id": pd.array(ctx.index.name_array[rows].astype(str), dtype="str"),
        "community": ctx.membership[rows],
        "churn_probability_before": p_before,
        "churn_probability_after": p_after,
        "increase": increase,
        "reason": _reasons(ctx, rows, departed, leaver_idx),
    }, columns=AT_RISK_COLUMNS)
    return frame


def _hop_distance(index, sources, targets, max_hops=8):
    """Hops from the nearest source to each target (-1 beyond ``max_hops``).

    A breadth-first search from all sources at once that stops as soon as every target is
    reached, so it only visits the ball the targets lie in (not the whole graph).
    """
    dist = np.full(index.n, -1, dtype=np.int64)
    frontier = np.unique(np.asarray(sources, dtype=np.int64))
    dist[frontier] = 0
    targets = np.asarray(targets, dtype=np.int64)
    hops = 0
    while frontier.size and hops < max_hops and (dist[targets] < 0).any():
        hops += 1
        _, pos = index.expand(frontier)
        nb = np.unique(index.indices[pos])
        frontier = nb[dist[nb] < 0]
        dist[frontier] = hops
    return dist[targets]


def _plural(n, one, many):
    return one if n == 1 else many


def _reasons(ctx, rows, departed, leaver_idx, top=4):
    """Plain-words reason per at-risk customer, from its strongest contacts."""
    index = ctx.index
    if rows.size == 0:
        return []
    owner, pos = index.expand(rows)
    nb = index.indices[pos]
    w = index.data[pos]
    deg = index.degree[rows]
    # rank of each tie among the owner's ties, strongest first
    order = np.lexsort((-w, owner))
    rank = np.empty(len(pos), dtype=np.int64)
    rank[order] = np.arange(len(pos)) - np.repeat(np.cumsum(deg) - deg, deg)
    k = np.minimum(top, deg)
    leaving = departed[nb]
    influencer = ctx.influence >= INFLUENCER_PERCENTILE
    m = len(rows)
    n_leaving = np.bincount(owner, weights=leaving, minlength=m).astype(int)
    top_leaving = np.bincount(owner, weights=leaving & (rank < k[owner]), minlength=m).astype(int)
    infl_leaving = np.bincount(owner, weights=leaving & influencer[nb], minlength=m).astype(int)
    share = np.bincount(owner, weights=w * leaving, minlength=m) / np.where(
        index.strength[rows] > 0, index.strength[rows], 1.0)
    same_group = np.zeros(m, dtype=bool)
    group_infl = np.zeros(m, dtype=bool)
    if ctx.membership is not None and len(leaver_idx):
        leaver_groups = ctx.group_code[leaver_idx]
        same_group = np.isin(ctx.group_code[rows], leaver_groups)
        group_infl = np.isin(ctx.group_code[rows], leaver_groups[influencer[leaver_idx]])
    distance = np.full(m, -1, dtype=np.int64)
    far = (n_leaving == 0) & ~same_group
    if far.any() and len(leaver_idx):
        distance[far] = _hop_distance(index, leaver_idx, rows[far])
    out = []
    for i in range(m):
        if n_leaving[i] > 0:
            if top_leaving[i] > 0:
                text = (f"{top_leaving[i]} of {k[i]} strongest contacts "
                        f"{_plural(top_leaving[i], 'is', 'are')} leaving")
            else:
                text = (f"{n_leaving[i]} weaker {_plural(n_leaving[i], 'contact', 'contacts')} "
                        f"leaving")
            text += f" ({share[i]:.0%} of tie strength)"
            if infl_leaving[i] == 1:
                text += ", one an influencer" if n_leaving[i] > 1 else ", an influencer"
            elif infl_leaving[i] > 1:
                text += f", {infl_leaving[i]} of them influencers"
        elif same_group[i]:
            text = ("an influencer of the group is leaving" if group_infl[i]
                    else "a member of the group is leaving")
        else:
            text = (f"{distance[i]} steps from a leaver" if distance[i] > 0
                    else "exposed to leavers")
        out.append(text)
    return out


# ----------------------------------------------------------------------------------------------
# watch mode


class Watcher:
    """Incremental what-if for a stream of departures.

    Holds the graph, the current probabilities and the contagion state (the model's features
    of every vertex). :meth:`update` adds one leaver and re-scores only the vertices its
    departure can change: the ``r``-hop ball around it, ``r`` = 1 for exposure features,
    ``spread_iterations`` for spreading activation, ``max_hops`` for the cascades (whose
    counter-based coins make the cascade from a seed set the union of the cascades from each
    seed), plus the leaver's group for the structural prior's group term. The result equals a
    full :func:`what_if` with every leaver so far, computed from scratch.

    Departures in the stream count as fresh (no decay between events): watch mode reacts
    within a day; a scheduled full ``what_if``/``analyze`` ages them.

    Parameters
    ----------
    graph, membership, base_probability, value, model, influencer_score, weights
        As in :func:`what_if`; ``model`` must be fitted.

    Attributes
    ----------
    probability_ : ndarray
        Current churn probability per vertex (NaN for vertices not scored).
    departed_ : ndarray of bool
        Leavers seen so far.
    events_ : list of (vertex index, Timestamp)
    last_affected_ : ndarray of int
        Vertices whose contagion features the last update recomputed.

    Example
    -------
    >>> import igraph as ig
    >>> g = ig.Graph.Full(3) + ig.Graph.Full(3)
    >>> g.add_edges([(2, 3)]); g.es["weight"] = 1.0
    >>> g.vs["name"] = list("abcdef"); g.vs["on_net"] = True
    >>> w = Watcher(g, [0, 0, 0, 1, 1, 1], [0.1] * 6, None, ContagionModel().fit([]))
    >>> alerts, at_risk = w.update("a", "2025-03-01")
    >>> at_risk["customer_id"].tolist()
    ['b', 'c']
    """

    def __init__(self, graph, membership, base_probability, value, model, influencer_score=None,
                 weights="weight"):
        model._check_fitted()
        self.model = model
        self._index = _GraphIndex(graph, weights)
        n = self._index.n
        self._ctx = _Context(self._index, _influence_rank(self._index, influencer_score),
                             membership)
        base = _aligned(base_probability, n, "base_probability")
        self._base = base
        self._logit0 = _logit(base)
        self._values = None if value is None else np.nan_to_num(_aligned(value, n, "value"))
        self._scored = self._index.on_net & np.isfinite(base)
        self.probability_ = np.where(self._scored, base, np.nan)
        self.departed_ = np.zeros(n, dtype=bool)
        self.events_ = []
        self._x = np.zeros((n, len(model.coef_)))
        self._energy = np.zeros((2, n))
        self._codes = [np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)]
        self._counts = np.zeros((2, n))
        code = self._ctx.group_code
        self._n_groups = int(code.max()) + 1 if code.size else 0
        self._members = np.bincount(code, weights=self._scored.astype(float),
                                    minlength=self._n_groups)
        self._leavers = np.zeros(self._n_groups)
        p0 = np.where(self._scored, base, 0.0)
        self._expected = np.bincount(code, weights=p0, minlength=self._n_groups)
        self._var = (None if self._values is None
                     else np.bincount(code, weights=p0 * self._values, minlength=self._n_groups))

    def _advance(self, leaver):
        """Add ``leaver`` to the contagion state; return the vertices whose features moved."""
        index, ctx, model = self._index, self._ctx, self.model
        f = ctx.influence[leaver]
        method = model.method_
        if method in ("exposure", "structural_prior"):
            pos = np.arange(index.indptr[leaver], index.indptr[leaver + 1])
            nb = index.indices[pos]
            tie = index.share_in[pos]  # w / s_neighbour: the tie's share of the neighbour
            if method == "exposure":
                self._x[nb, 0] += tie
                self._x[nb, 1] += tie * f
                self._x[nb, 2] = np.maximum(self._x[nb, 2], tie)
                return nb
            g = 0.5 + 0.5 * f
            self._x[nb, 0] += tie * g
            order, bounds = ctx.group_members
            c = ctx.group_code[leaver]
            group = order[bounds[c]:bounds[c + 1]]
            self._x[group, 1] += ctx.embeddedness[group] * g
            return np.union1d(nb, group)
        if method == "spreading_activation":
            ball = index.ball(leaver, model.spread_iterations)
            sub = index.transfer_t[ball][:, ball]
            start = (ball == leaver).astype(float)
            # walks of at most `iterations` steps from the leaver stay inside the ball, and
            # the transfer matrix keeps the full graph's normalisation: this is exact
            gained = _spread(sub, index.degree[ball] > 0, start, model.spread_factor,
                             model.spread_iterations)
            self._energy[0, ball] += gained
            self._energy[1, ball] += f * gained
            self._x[ball] = np.log1p(self._energy[:, ball].T)
            return ball
        kind = "ic" if method == "independent_cascade" else "lt"
        arc = np.minimum(1.0, model.beta_ * index.share_in) if kind == "ic" else None
        moved = []
        for j, seed_prob in enumerate((1.0, f)):
            codes = _reach_codes(index, kind, [leaver], [seed_prob], model.n_simulations,
                                 model.max_hops, model.seed, arc)
            new = codes[~_sorted_isin(codes, self._codes[j])]
            self._codes[j] = np.union1d(self._codes[j], new)
            vertices, counts = np.unique(new // model.n_simulations, return_counts=True)
            self._counts[j, vertices] += counts
            moved.append(vertices)
        moved = np.union1d(moved[0], moved[1])
        self._x[moved] = self._counts[:, moved].T / model.n_simulations
        return moved

    def update(self, customer_id, date=None):
        """Register a departure and re-score its neighbourhood.

        Parameters
        ----------
        customer_id : str or int
            The leaver (vertex name or index).
        date : Timestamp or str, optional
            Date of the departure (recorded in ``events_``).

        Returns
        -------
        alerts : pandas.DataFrame
            The groups touched by this departure, with before/after sums over all their
            scored members (columns as in :func:`what_if`), ranked by increase.
        at_risk : pandas.DataFrame
            Customers of the affected neighbourhood whose probability rose with this event.
        """
        leaver = int(self._index.positions([customer_id], "leaver")[0])
        self.events_.append((leaver, None if date is None else pd.Timestamp(date)))
        ctx = self._ctx
        code = ctx.group_code
        if self.departed_[leaver]:
            empty = pd.DataFrame(columns=ALERT_COLUMNS), pd.DataFrame(columns=AT_RISK_COLUMNS)
            return empty
        self.departed_[leaver] = True
        # the leaver stops being a scored member of its group
        if self._scored[leaver]:
            c = code[leaver]
            self._members[c] -= 1
            self._expected[c] -= self.probability_[leaver]
            if self._var is not None:
                self._var[c] -= self.probability_[leaver] * self._values[leaver]
            self._scored[leaver] = False
            self.probability_[leaver] = np.nan
        self._leavers[code[leaver]] += 1
        moved = self._advance(leaver)
        self.last_affected_ = moved
        rows = moved[self._scored[moved]]
        before_p = self.probability_[rows].copy()
        after_p = _shift(self._base[rows], self._logit0[rows], self._x[rows] @ self.model.coef_)
        self.probability_[rows] = after_p
        groups = np.union1d(code[rows], [code[leaver]])
        before_g = self._expected.copy()
        np.add.at(self._expected, code[rows], after_p - before_p)
        var_before = None
        if self._var is not None:
            var_before = self._var.copy()
            np.add.at(self._var, code[rows], (after_p - before_p) * self._values[rows])
        nan = np.full(self._n_groups, np.nan)
        alerts = _alert_frame(ctx, self._members, self._leavers, before_g, self._expected,
                              nan if var_before is None else var_before,
                              nan if self._var is None else self._var, groups)
        at_risk = _at_risk_table(ctx, rows, before_p, after_p, self.departed_,
                                 np.array([leaver]))
        return alerts, at_risk
