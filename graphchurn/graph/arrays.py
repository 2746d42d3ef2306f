"""Numpy views of an undirected weighted igraph graph: edge arrays, names, adjacency, masks.

Shared by the stages that compute on a graph's edge list (exposure, diffusion, what-if).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["edge_arrays", "vertex_names", "symmetric_adjacency", "as_mask"]


# ----------------------------------------------------------------------------------------------
# graph helpers


def edge_arrays(graph, weights="weight"):
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


