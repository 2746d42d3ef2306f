"""The customer interaction graph at a cut-off (igraph core, tie weights, activity)."""

from graphchurn.graph.arrays import edge_arrays, vertex_names, symmetric_adjacency, as_mask
from graphchurn.graph.customer_graph import (
    CustomerGraph,
    fade_out_evidence,
    ACTIVITY_COLUMNS,
    FADE_DAYS,
    DAY,
)

__all__ = [
    "edge_arrays",
    "vertex_names",
    "symmetric_adjacency",
    "as_mask",
    "CustomerGraph",
    "fade_out_evidence",
    "ACTIVITY_COLUMNS",
    "FADE_DAYS",
    "DAY",
]
