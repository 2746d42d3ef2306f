"""Diffusion models of churn on the customer graph: spreading activation, independent cascade
and linear threshold, with counter-based random numbers so that before/after comparisons use
common random numbers. Everything is vectorised over the edge list (``np.bincount``,
``scipy.sparse``); loops run over rounds, hops or cut-offs, never over vertices or edges.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from graphchurn.errors import InputError
from graphchurn.graph.arrays import as_mask, symmetric_adjacency, vertex_names
from graphchurn.rng import counter_uniform

__all__ = ["independent_cascade", "linear_threshold"]


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
        adj = symmetric_adjacency(graph, weights)
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
        self.names = vertex_names(graph)
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
    active = counter_uniform(seed, _STREAM_SEED, codes) < np.asarray(seed_prob, dtype=float)[:, None]
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
            live = counter_uniform(seed, _STREAM_ARC, pos * S + sims) < arc_prob[pos]
        else:
            back = index.reverse[pos]  # arc target -> source, in the target's row
            u = counter_uniform(seed, _STREAM_PARENT, target * S + sims)
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
    seed_idx = np.flatnonzero(as_mask(seeds, index.n, "seeds"))
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
    seed_mask = as_mask(seeds, index.n, "seeds")
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


