"""Numpy views of an undirected weighted igraph graph: edge arrays, names, adjacency, masks.

Shared by the stages that compute on a graph's edge list (exposure, diffusion, what-if).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["edge_arrays", "edge_list", "vertex_names", "symmetric_adjacency", "as_mask"]

# igraph hands its edge list out as Python tuples (slow on large graphs, and a cut-off's stages
# ask for it several times; docs/results.md): the graph object keeps ((n_edges, n_vertices), read-only
# (n_edges, 2) endpoints) under this attribute for as long as it lives (a copy starts without).
_EDGE_LIST_ATTRIBUTE = "_graphchurn_edge_list"


def edge_list(graph) -> np.ndarray:
    """Endpoints of every edge, int64 of shape (n_edges, 2), in edge order (read-only).

    Cached per graph object and checked against its edge and vertex counts; a graph edited in
    place without changing either (a rewiring) must call :func:`forget_edges`.
    """
    key = (graph.ecount(), graph.vcount())
    hit = getattr(graph, _EDGE_LIST_ATTRIBUTE, None)
    if hit is not None and hit[0] == key:
        return hit[1]
    flat = itertools.chain.from_iterable(graph.get_edgelist())
    edges = np.fromiter(flat, dtype=np.int64, count=2 * key[0]).reshape(key[0], 2)
    return remember_edges(graph, edges)


def remember_edges(graph, edges: np.ndarray) -> np.ndarray:
    """Record ``edges`` (what was passed to ``add_edges`` on an empty graph) as its edge list."""
    edges = np.array(edges, dtype=np.int64).reshape(-1, 2)
    edges.flags.writeable = False
    setattr(graph, _EDGE_LIST_ATTRIBUTE, ((graph.ecount(), graph.vcount()), edges))
    return edges


def forget_edges(graph) -> None:
    """Drop the cached edge list of ``graph`` (after editing it in place)."""
    if hasattr(graph, _EDGE_LIST_ATTRIBUTE):
        delattr(graph, _EDGE_LIST_ATTRIBUTE)


# ----------------------------------------------------------------------------------------------
# graph helpers


def edge_arrays(graph, weights="weight"):
    """Return ``(src, dst, weight)`` numpy arrays of the graph's edges.

    ``weights`` is an edge attribute name, an array of per-edge weights, or ``None`` (all 1).
    """
    edges = edge_list(graph)
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


def vertex_names(graph):
    if "name" in graph.vs.attributes():
        return pd.Index(np.asarray(graph.vs["name"], dtype=object).astype(str), name="customer_id")
    return pd.Index(np.arange(graph.vcount()).astype(str), name="customer_id")


def symmetric_adjacency(graph, weights="weight"):
    """Weighted adjacency matrix (CSR, symmetric) of an undirected graph."""
    n = graph.vcount()
    src, dst, w = edge_arrays(graph, weights)
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    vals = np.concatenate([w, w])
    # duplicate (multi-)edges are summed by the COO -> CSR conversion
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def as_mask(mask, n, what="mask"):
    arr = np.asarray(mask)
    if arr.dtype != bool:
        # accept an index list as well as a boolean mask
        out = np.zeros(n, dtype=bool)
        out[arr.astype(np.int64)] = True
        return out
    if arr.shape != (n,):
        raise ValueError(f"{what} must have one entry per vertex ({n}), got shape {arr.shape}")
    return arr


