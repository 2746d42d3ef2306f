"""Social groups of the customer graph: detection and per-group summaries.

Functions take the undirected weighted ``igraph.Graph`` of
:class:`graphchurn.graph.CustomerGraph` (vertex attributes ``name`` and ``on_net``, edge
attribute ``weight``) and return numpy arrays aligned with vertex order, or DataFrames.
"""

from __future__ import annotations


import igraph
import numpy as np
import pandas as pd

from graphchurn.graph.arrays import edge_list
from graphchurn.rng import seeded_igraph_rng

__all__ = ["COMMUNITY_METHODS", "detect_communities", "group_summary"]

#: Methods understood by :func:`detect_communities`.
COMMUNITY_METHODS = ("leiden", "louvain", "label_propagation", "infomap")

# Methods whose quality function has a resolution parameter (modularity with gamma).
_RESOLUTION_METHODS = ("leiden", "louvain")


def edge_weights(graph: igraph.Graph, weights: str | np.ndarray | None) -> np.ndarray:
    """Edge weights of ``graph`` as a float64 array (ones when ``weights`` is None).

    Parameters
    ----------
    graph : igraph.Graph
    weights : str, array-like or None
        Name of an edge attribute, an array with one value per edge, or None for unit weights.

    Returns
    -------
    numpy.ndarray of float64, shape (n_edges,)
    """
    if weights is None:
        return np.ones(graph.ecount(), dtype=np.float64)
    if isinstance(weights, str):
        if weights not in graph.es.attributes():
            raise ValueError(
                f"graph has no edge attribute {weights!r}; pass weights=None for unit weights"
            )
        w = np.asarray(graph.es[weights], dtype=np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64)
    if w.shape != (graph.ecount(),):
        raise ValueError(f"weights must have one value per edge ({graph.ecount()}), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("edge weights must be finite and >= 0")
    return w


def edge_array(graph: igraph.Graph) -> np.ndarray:
    """Endpoints of every edge as an int64 array of shape (n_edges, 2)."""
    return edge_list(graph)


def relabel_by_size(membership: np.ndarray) -> np.ndarray:
    """Renumber group labels 0, 1, ... by decreasing group size.

    Ties in size are ordered by the smallest vertex index in the group, so the numbering only
    depends on the partition, not on the labels a method happened to use.

    Parameters
    ----------
    membership : array-like of int, shape (n_vertices,)

    Returns
    -------
    numpy.ndarray of int64, shape (n_vertices,)

    Example
    -------
    >>> relabel_by_size(np.array([7, 3, 3, 9, 9, 9])).tolist()
    [2, 1, 1, 0, 0, 0]
    """
    membership = np.asarray(membership)
    if membership.size == 0:
        return np.zeros(0, dtype=np.int64)
    labels, first, inverse, counts = np.unique(
        membership, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))  # biggest first, then earliest vertex
    new_label = np.empty(labels.size, dtype=np.int64)
    new_label[order] = np.arange(labels.size)
    return new_label[inverse.reshape(-1)]


def detect_communities(
    graph: igraph.Graph,
    method: str = "leiden",
    resolution: float = 1.0,
    seed: int = 0,
    weights: str | np.ndarray | None = "weight",
    n_iterations: int = 2,
    n_runs: int = 1,
) -> np.ndarray:
    """Partition the customers into social groups.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected graph; edge weights are tie strengths (bigger = closer).
    method : {"leiden", "louvain", "label_propagation", "infomap"}
        ``leiden`` (default) optimises weighted modularity with the Leiden algorithm;
        ``louvain`` optimises the same objective with the
        multilevel algorithm; ``label_propagation`` and ``infomap`` have no resolution.
    resolution : float
        Modularity resolution gamma (leiden and louvain only). Above 1 yields smaller groups
        (household size), below 1 bigger ones (neighbourhood size).
    seed : int
        Seed of the random vertex orders and tie breaks; same seed => same groups.
    weights : str, array-like or None
        Edge attribute name, per-edge array, or None for an unweighted graph.
    n_iterations : int
        Leiden only: passes of the algorithm; a negative value iterates until no vertex moves.
        Two passes (igraph's default) reach nearly the same modularity as iterating to
        stability for a fraction of the time on million-edge graphs (see
        experiments/communities_recovery.py).
    n_runs : int
        Leiden and Louvain: run this many times, each with its own draws (the first with
        ``seed`` itself, the others with seeds derived from it), and keep the partition of
        the highest modularity (ties: the earliest run). Modularity has many near-optimal
        partitions and one run lands on one of them by its draws; the best of several lands
        on the same one more often, so a different seed moves fewer groups (issue 22).

    Returns
    -------
    numpy.ndarray of int64, shape (n_vertices,)
        Group label of every vertex; 0 is the biggest group, then by decreasing size (ties by
        smallest vertex index). A vertex without ties is a group of its own.

    Example
    -------
    >>> g = igraph.Graph.Full(4) + igraph.Graph.Full(4)
    >>> g.add_edges([(0, 4)])
    >>> g.es["weight"] = 1.0
    >>> detect_communities(g).tolist()
    [0, 0, 0, 0, 1, 1, 1, 1]

    References
    ----------
    V. A. Traag, L. Waltman, N. J. van Eck, "From Louvain to Leiden: guaranteeing
    well-connected communities", Scientific Reports 9, 5233 (2019).
    V. D. Blondel et al., "Fast unfolding of communities in large networks", J. Stat. Mech.
    P10008 (2008).
    U. N. Raghavan, R. Albert, S. Kumara, "Near linear time algorithm to detect community
    structures in large-scale networks", Phys. Rev. E 76, 036106 (2007).
    M. Rosvall, C. T. Bergstrom, "Maps of random walks on complex networks reveal community
    structure", PNAS 105, 1118 (2008).
    """
    if method not in COMMUNITY_METHODS:
        raise ValueError(f"method must be one of {COMMUNITY_METHODS}, got {method!r}")
    if graph.is_directed():
        raise ValueError("detect_communities expects an undirected graph")
    if method not in _RESOLUTION_METHODS and resolution != 1.0:
        raise ValueError(f"method {method!r} has no resolution parameter; use leiden or louvain")
    if not resolution > 0:
        raise ValueError("resolution must be > 0")
    n = graph.vcount()
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    w = edge_weights(graph, weights)
    # igraph treats None as unit weights; passing a list avoids attribute look-ups.
    w_arg = None if weights is None else w.tolist()

    if int(n_runs) < 1:
        raise ValueError(f"n_runs must be >= 1, got {n_runs!r}")
    runs = int(n_runs) if method in _RESOLUTION_METHODS else 1
    best, best_quality = None, -np.inf
    for run_seed in run_seeds(seed, runs):
        membership = _one_run(graph, method, resolution, run_seed, w_arg, n_iterations)
        quality = (graph.modularity(membership.tolist(), weights=w_arg,
                                    resolution=float(resolution)) if runs > 1 else 0.0)
        if best is None or quality > best_quality:
            best, best_quality = membership, quality
    membership = best

    # Whatever a method does with vertices that have no ties, they form their own groups.
    isolated = np.asarray(graph.strength(weights=w_arg), dtype=np.float64) <= 0
    if isolated.any():
        membership = membership.copy()
        membership[isolated] = membership.max() + 1 + np.arange(int(isolated.sum()))
    return relabel_by_size(membership)


def run_seeds(seed: int, n_runs: int) -> list[int]:
    """Seeds of ``n_runs`` runs: ``seed`` itself, then seeds derived from it.

    Example
    -------
    >>> run_seeds(3, 1), run_seeds(3, 3)[0], len(set(run_seeds(3, 3)))
    ([3], 3, 3)
    """
    derived = np.random.SeedSequence(int(seed)).generate_state(max(n_runs - 1, 0), np.uint32)
    return [int(seed)] + [int(s) for s in derived]


def _one_run(graph, method, resolution, seed, w_arg, n_iterations) -> np.ndarray:
    with seeded_igraph_rng(seed):
        if method == "leiden":
            clustering = graph.community_leiden(
                objective_function="modularity",
                weights=w_arg,
                resolution=float(resolution),
                n_iterations=int(n_iterations),
            )
        elif method == "louvain":
            clustering = graph.community_multilevel(weights=w_arg, resolution=float(resolution))
        elif method == "label_propagation":
            clustering = graph.community_label_propagation(weights=w_arg)
        else:
            clustering = graph.community_infomap(edge_weights=w_arg)
    return np.asarray(clustering.membership, dtype=np.int64)


def vertex_mask(graph: igraph.Graph, values, what: str = "values") -> np.ndarray:
    """Boolean array aligned with vertex order.

    ``values`` is a boolean array aligned with vertex order, a boolean Series indexed by
    vertex name, or a collection of vertex names.
    """
    n = graph.vcount()
    names = graph.vs["name"] if "name" in graph.vs.attributes() else None
    if isinstance(values, pd.Series) and pd.api.types.is_bool_dtype(values.dtype):
        if names is None:
            return _aligned_bool(values.to_numpy(dtype=bool), n, what)
        return values.reindex(names, fill_value=False).to_numpy(dtype=bool)
    if not isinstance(values, (set, frozenset, dict)):
        array = np.asarray(values)
        if array.dtype == bool:
            return _aligned_bool(array, n, what)
    if names is None:
        raise ValueError(f"{what}: give a boolean array aligned with vertex order")
    return pd.Index(names).isin(list(values))


def _aligned_bool(array: np.ndarray, n: int, what: str) -> np.ndarray:
    if array.shape != (n,):
        raise ValueError(f"{what} must have one entry per vertex ({n}), got shape {array.shape}")
    return array


def group_summary(
    graph: igraph.Graph,
    membership: np.ndarray,
    churned: np.ndarray | None = None,
    value: np.ndarray | None = None,
    weights: str | np.ndarray | None = "weight",
) -> pd.DataFrame:
    """Size, cohesion and exposure of every group.

    Parameters
    ----------
    graph : igraph.Graph
        Undirected weighted graph.
    membership : array-like of int, shape (n_vertices,)
        Group label of every vertex, e.g. from :func:`detect_communities`.
    churned : array-like of bool, shape (n_vertices,), or collection of names, optional
        Departures already known (e.g. churn dates <= the cut-off).
    value : array-like of float, shape (n_vertices,), optional
        A per-vertex amount such as monthly revenue; NaN counts as 0.
    weights : str, array-like or None
        Edge attribute name, per-edge array, or None for unit weights.

    Returns
    -------
    pandas.DataFrame indexed by ``community`` (sorted), with columns

    - ``size``: number of vertices;
    - ``n_on_net``: vertices with ``on_net`` True (all of them when the attribute is absent);
    - ``internal_strength``: total weight of ties with both ends in the group (each tie once);
    - ``external_strength``: total weight of ties from the group to other groups;
    - ``conductance``: ``external / min(vol(S), vol(V \\ S))`` with ``vol`` the sum of vertex
      strengths; NaN when that minimum is 0 (a group without ties, or the whole graph);
    - ``churned_so_far`` and ``churned_share`` (only when ``churned`` is given): count and
      share of known departures in the group;
    - ``value`` (only when ``value`` is given): sum of ``value`` over the group.

    Example
    -------
    >>> g = igraph.Graph([(0, 1), (1, 2), (2, 3)])
    >>> g.es["weight"] = [2.0, 1.0, 3.0]
    >>> group_summary(g, [0, 0, 1, 1])[["internal_strength", "external_strength"]].values.tolist()
    [[2.0, 1.0], [3.0, 1.0]]

    References
    ----------
    R. Kannan, S. Vempala, A. Vetta, "On clusterings: good, bad and spectral", J. ACM 51(3),
    497-515 (2004) (conductance).
    """
    n = graph.vcount()
    membership = np.asarray(membership, dtype=np.int64)
    if membership.shape != (n,):
        raise ValueError(f"membership must have one label per vertex ({n}), got {membership.shape}")
    if n and membership.min() < 0:
        raise ValueError("membership labels must be >= 0")
    labels, group = np.unique(membership, return_inverse=True)
    group = group.reshape(-1)
    n_groups = labels.size

    w = edge_weights(graph, weights)
    edges = edge_array(graph)
    ga, gb = group[edges[:, 0]], group[edges[:, 1]]
    inside = ga == gb
    internal = np.bincount(ga[inside], weights=w[inside], minlength=n_groups)
    cut = ~inside
    external = np.bincount(ga[cut], weights=w[cut], minlength=n_groups) + np.bincount(
        gb[cut], weights=w[cut], minlength=n_groups
    )
    volume = 2.0 * internal + external
    rest_volume = volume.sum() - volume
    denominator = np.minimum(volume, rest_volume)
    with np.errstate(divide="ignore", invalid="ignore"):
        conductance = np.where(denominator > 0, external / denominator, np.nan)

    if "on_net" in graph.vs.attributes():
        on_net = np.asarray(graph.vs["on_net"], dtype=bool)
    else:
        on_net = np.ones(n, dtype=bool)

    table = pd.DataFrame(
        {
            "size": np.bincount(group, minlength=n_groups),
            "n_on_net": np.bincount(group, weights=on_net, minlength=n_groups).astype(np.int64),
            "internal_strength": internal,
            "external_strength": external,
            "conductance": conductance,
        },
        index=pd.Index(labels, name="community"),
    )
    if churned is not None:
        gone = vertex_mask(graph, churned, "churned")
        count = np.bincount(group, weights=gone, minlength=n_groups).astype(np.int64)
        table["churned_so_far"] = count
        table["churned_share"] = count / table["size"].to_numpy()
    if value is not None:
        amount = np.asarray(value, dtype=np.float64)
        if amount.shape != (n,):
            raise ValueError(f"value must have one entry per vertex ({n}), got {amount.shape}")
        table["value"] = np.bincount(group, weights=np.nan_to_num(amount), minlength=n_groups)
    return table
