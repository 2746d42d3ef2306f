"""A vertex order that does not depend on how identifiers are spelled (issue 22).

A cut-off's graph numbers its vertices in the order of their ids. The random steps that run
on it draw over those numbers (Leiden visits vertices in a random order, the influence
sampling draws its targets and live arcs) and ties are broken by them (leaders of equal
score, groups of equal size), so hashing every id (a pseudonymised export) gave other groups
and leaders and moved probabilities. Here the vertices are put in the order of a key read
from the graph itself: each vertex's ties and their interaction counts and durations, refined
over its neighbours' keys (Weisfeiler-Lehman colour refinement [1]_). The key reads nothing
but the cut-off's graph, so it adds no information from after the cut-off, and both engines,
which build the same graph, get the same order.

References
----------
.. [1] B. Weisfeiler and A. Leman, "The reduction of a graph to canonical form and the
   algebra which appears therein", Nauchno-Technicheskaya Informatsia 2(9), 1968.
"""

from __future__ import annotations

import igraph as ig
import numpy as np

from graphchurn.graph.arrays import edge_list, remember_edges
from graphchurn.rng import mix64

__all__ = ["vertex_key", "canonical_positions", "in_canonical_order", "renumbered"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _edge_integers(graph, name: str) -> np.ndarray:
    # Whole numbers only: counts are integers and durations whole seconds in practice, and a
    # rounded sum is the same whichever engine added it up in whichever order.
    if not graph.ecount() or name not in graph.es.attributes():
        return np.zeros(graph.ecount(), dtype=np.uint64)
    values = np.rint(np.asarray(graph.es[name], dtype=np.float64))
    return values.astype(np.int64).view(np.uint64)


def vertex_key(graph, rounds: int = 2) -> np.ndarray:
    """A 64-bit key per vertex from the graph's content, not from the vertex numbers.

    Round 0 hashes each vertex's degree and the sums of its ties' ``count`` and (rounded)
    ``duration`` attributes; each further round hashes the key with the sum, modulo 2**64, of
    a hash of every neighbour's key and the tie's count. Sums modulo 2**64 are exact in any
    order, so relabelling the vertices permutes the keys and changes none.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected; edge attributes ``count`` and ``duration`` are read when present.
    rounds : int, default 2
        Refinement rounds (each one looks one tie further).

    Returns
    -------
    numpy.ndarray of uint64, shape (n_vertices,)

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph(n=4, edges=[(0, 1), (1, 2), (2, 3)])
    >>> key = vertex_key(g)
    >>> bool(key[0] == key[3]), bool(key[0] == key[1])  # the two ends alike, not the middle
    (True, False)
    >>> flipped = ig.Graph(n=4, edges=[(3, 2), (2, 1), (1, 0)])
    >>> bool((vertex_key(flipped) == key[::-1]).all())
    True

    See Also
    --------
    canonical_positions : the order these keys give.
    """
    n = graph.vcount()
    edges = edge_list(graph)
    lo, hi = edges[:, 0], edges[:, 1]
    count = _edge_integers(graph, "count")
    duration = _edge_integers(graph, "duration")
    with np.errstate(over="ignore"):
        key = np.zeros(n, dtype=np.uint64)
        for per_edge in (np.ones(len(edges), dtype=np.uint64), count, duration):
            total = np.zeros(n, dtype=np.uint64)
            np.add.at(total, lo, per_edge)
            np.add.at(total, hi, per_edge)
            key = mix64(key * _GOLDEN + total)
        tie = mix64(count + _GOLDEN)
        for _ in range(rounds):
            heard = np.zeros(n, dtype=np.uint64)
            np.add.at(heard, lo, mix64(key[hi] ^ tie))
            np.add.at(heard, hi, mix64(key[lo] ^ tie))
            key = mix64(key * _GOLDEN + heard)
    return key


def canonical_positions(graph) -> np.ndarray:
    """Each vertex's position in the order of :func:`vertex_key`.

    Vertices with equal keys (alike in their ties two steps out: leaves of one hub with equal
    counts, isolated vertices) keep their present relative order.

    Returns
    -------
    numpy.ndarray of int64, shape (n_vertices,)
        ``position[v]``: the number vertex ``v`` gets.

    Examples
    --------
    >>> import igraph as ig
    >>> sorted(canonical_positions(ig.Graph(n=3, edges=[(0, 1), (1, 2)])).tolist())
    [0, 1, 2]
    """
    n = graph.vcount()
    order = np.lexsort((np.arange(n), vertex_key(graph)))
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    return position


def in_canonical_order(graph) -> tuple[np.ndarray, ig.Graph]:
    """The graph renumbered by :func:`canonical_positions`.

    Vertex and edge attributes go with their vertices and edges; the edges keep their order
    (Leiden reads a vertex's ties in the order of its neighbours' numbers, and the influence
    sampling sorts its arcs by their ends, so neither reads the edge order). Run a random or
    tie-breaking algorithm on the returned graph and take its per-vertex results back with
    ``result[position]``.

    Returns
    -------
    position : numpy.ndarray of int64
        ``position[v]``: the number of ``graph``'s vertex ``v`` in the returned graph.
    ordered : igraph.Graph

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph(n=3, edges=[(0, 1), (1, 2)])
    >>> g.vs["name"] = ["a", "b", "c"]
    >>> position, ordered = in_canonical_order(g)
    >>> [ordered.vs["name"][p] for p in position]
    ['a', 'b', 'c']
    """
    position = canonical_positions(graph)
    return position, renumbered(graph, position)


def renumbered(graph, position: np.ndarray) -> ig.Graph:
    """``graph`` with vertex ``v`` renumbered ``position[v]`` (the graph
    :func:`in_canonical_order` returns for its ``position``, without computing it again).

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph(n=3, edges=[(0, 1), (1, 2)])
    >>> g.vs["name"] = ["a", "b", "c"]
    >>> renumbered(g, np.array([2, 0, 1])).vs["name"]
    ['b', 'c', 'a']
    """
    edges = position[edge_list(graph)]
    # igraph's new vertex i is the old vertex permutation[i].
    ordered = graph.permute_vertices(np.argsort(position).tolist())
    # An undirected edge's ends come back lower number first.
    edges.sort(axis=1)
    remember_edges(ordered, edges)
    return ordered
