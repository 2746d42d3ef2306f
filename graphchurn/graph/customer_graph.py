"""The customer interaction graph: interactions in a time window become a weighted undirected graph.

The compute core is python-igraph; everything here is vectorised numpy/pandas over the rows of
the log (no Python loop over interactions, vertices or edges). The same pass that aggregates
edges also computes per-customer activity (recency, frequency, duration, trend, contacts,
in/out balance), so a cut-off reads the log once.

Tie strength
------------
Each interaction contributes ``decay(age) * (1 + log1p(duration_minutes))``: a call counts more
than an SMS and a long call more than a short one, but sub-linearly so that one marathon call does
not outweigh weeks of daily contact. With ``half_life_days`` set, ``decay(age) = 0.5 **
(age / half_life)`` where age is measured back from the end of the window, so recent ties count
more. The undirected weight of a pair is the sum over both directions.

References
----------
Dasgupta, K. et al. (2008). Social ties and their relevance to churn in mobile telecom networks.
EDBT. (Tie strength from call counts and durations.)
Onnela, J.-P. et al. (2007). Structure and tie strengths in mobile communication networks. PNAS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import igraph as ig
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphchurn.graph.arrays import edge_list, remember_edges

__all__ = [
    "CustomerGraph",
    "encode_ids",
    "encode_pairs",
    "tie_graph",
    "fade_out_evidence",
    "ACTIVITY_COLUMNS",
    "FADE_DAYS",
    "DAY",
]

DAY = np.timedelta64(1, "D")

ACTIVITY_COLUMNS = [
    "n_out",
    "n_in",
    "duration_out",
    "duration_in",
    "distinct_contacts",
    "days_since_last_out",
    "days_since_last_any",
    "active_days_out",
    "out_recent",
    "out_previous",
    "activity_trend",
    "out_last_week",
    "out_week_ratio",
    "in_week_ratio",
    "fade_out_evidence",
    "out_share",
]


@dataclass
class CustomerGraph:
    """A weighted undirected customer graph plus per-vertex activity.

    Build it with :meth:`from_interactions`. ``graph`` is an :class:`igraph.Graph` with vertex
    attributes ``name`` (str id), ``on_net`` (bool) and ``hub`` (bool: edges dropped by the
    degree cut) and edge attributes ``weight``, ``count`` and ``duration``. ``activity`` is a
    DataFrame indexed by vertex name, in vertex order, with :data:`ACTIVITY_COLUMNS`.

    Example
    -------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"src": ["a", "a", "b"], "dst": ["b", "c", "a"],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"]),
    ...     "duration": [60.0, 0.0, 120.0], "kind": ["call", "sms", "call"]})
    >>> cg = CustomerGraph.from_interactions(log, end=pd.Timestamp("2025-01-04"))
    >>> cg.graph.vcount(), cg.graph.ecount()
    (3, 2)
    """

    graph: ig.Graph
    activity: pd.DataFrame
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    # Built from a log coded by :func:`encode_ids`: the shared categories and each vertex's
    # code in them, so that later passes over the same log map rows to vertices by integers.
    categories: pd.Index | None = field(default=None, repr=False, compare=False)
    vertex_codes: np.ndarray | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_interactions(
        cls,
        interactions: pd.DataFrame,
        *,
        customers: pd.DataFrame | None = None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        half_life_days: float | None = None,
        min_interactions: int = 1,
        reciprocated_only: bool = False,
        max_degree: int | None = None,
        trend_days: int = 14,
        extra_vertices=None,
        departed=None,
    ) -> "CustomerGraph":
        """Aggregate interactions in ``[start, end)`` into a CustomerGraph.

        Parameters
        ----------
        interactions : DataFrame
            The interactions frame (src, dst, timestamp, duration, kind).
        customers : DataFrame, optional
            The customer table. Its ids become vertices even without interactions and mark
            ``on_net``; ids only in the log are off-net. Without it every id is on-net.
        start, end : Timestamp, optional
            The window; rows outside are ignored. ``end`` is exclusive and is the reference
            point for recency and decay (default: the day after the last interaction).
        half_life_days : float, optional
            Exponential decay of an interaction's weight with its age; None = no decay.
        min_interactions : int
            Keep a tie only with at least this many interactions (both directions together).
        reciprocated_only : bool
            Keep a tie only if both ends initiated at least one interaction.
        max_degree : int, optional
            Vertices with more distinct contacts than this (call centres, hotlines) keep their
            vertex but lose all their edges, and are flagged ``hub``.
        trend_days : int
            Length of the two windows compared by ``activity_trend``.
        extra_vertices : iterable of str, optional
            More ids to include as (possibly isolated) vertices.
        departed : iterable of str, optional
            Ids known to have left by ``end``. Their traffic is left out of
            ``fade_out_evidence``, so that a contact's departure does not read as the
            customer's own fade.

        Returns
        -------
        CustomerGraph
        """
        if end is None:
            last = interactions["timestamp"].max() if len(interactions) else pd.Timestamp(0)
            end = pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
        end = pd.Timestamp(end)
        rows, row_ts = _window(interactions, start, end)

        # One vertex numbering for both ends, customers and extras; sorted by name so that the
        # mapping does not depend on row order.
        n_rows = len(rows)
        coded = _coded_vertices(rows, customers, extra_vertices, departed)
        if coded is not None:
            src, dst, names, on_net, gone, categories, vertex_codes = coded
        else:
            id_parts = [rows["src"], rows["dst"]]
            if customers is not None:
                id_parts.append(customers["customer_id"])
            if extra_vertices is not None:
                id_parts.append(pd.Series(list(extra_vertices), dtype="str"))
            # Factorising the (Arrow-backed) string Series avoids a slow detour through objects.
            all_ids = pd.concat([part.astype("str") for part in id_parts], ignore_index=True)
            codes, names = all_ids.factorize(sort=True)
            names = names.to_numpy(dtype=object)
            src = codes[:n_rows].astype(np.int64)
            dst = codes[n_rows : 2 * n_rows].astype(np.int64)
            if customers is not None:
                on_net = pd.Index(names).isin(customers["customer_id"].astype("str"))
            else:
                on_net = np.ones(len(names), dtype=bool)
            gone = None
            if departed is not None:
                gone = pd.Index(names).isin(pd.Index(list(departed), dtype=object).astype(str))
            categories = vertex_codes = None
        n_vertices = len(names)

        age_days = (np.datetime64(end) - row_ts) / DAY
        duration = rows["duration"].to_numpy(dtype=np.float64)
        row_weight = _row_weight(duration)
        if half_life_days is not None:
            row_weight = row_weight * np.power(0.5, age_days / float(half_life_days))

        # ---- edges: aggregate both directions of each pair, in the order of their keys
        # Rows initiated by the lower-numbered end: only a reciprocity filter reads them.
        forward = (src <= dst) if reciprocated_only else None
        paired = None if coded is None else _pair_codes(rows, len(categories))
        if paired is not None:
            # The log's own pair numbering (encode_pairs): sum over every pair of the log,
            # keep those with rows in the window. Vertex numbers follow the categories' order,
            # so the keys' order is the order of (lo, hi) here too.
            pair_code, all_keys = paired
            n_all = len(all_keys)
            e_count = np.bincount(pair_code, minlength=n_all)
            present = np.flatnonzero(e_count)
            e_count = e_count[present]
            e_weight = np.bincount(pair_code, weights=row_weight, minlength=n_all)[present]
            e_duration = np.bincount(pair_code, weights=duration, minlength=n_all)[present]
            e_fwd = (np.bincount(pair_code[forward], minlength=n_all)[present]
                     if reciprocated_only else None)
            local = np.full(len(categories), -1, dtype=np.int64)
            local[vertex_codes] = np.arange(n_vertices)
            e_lo = local[all_keys[present] // len(categories)]
            e_hi = local[all_keys[present] % len(categories)]
        else:
            lo, hi = np.minimum(src, dst), np.maximum(src, dst)
            pair_code, key = pd.factorize(lo * n_vertices + hi, sort=True)
            key = np.asarray(key, dtype=np.int64)
            n_pairs = len(key)
            e_lo, e_hi = key // n_vertices, key % n_vertices
            e_weight = np.bincount(pair_code, weights=row_weight, minlength=n_pairs)
            e_duration = np.bincount(pair_code, weights=duration, minlength=n_pairs)
            e_count = np.bincount(pair_code, minlength=n_pairs)
            e_fwd = (np.bincount(pair_code[forward], minlength=n_pairs)
                     if reciprocated_only else None)
        keep_edge = e_count >= int(min_interactions)
        if reciprocated_only:
            keep_edge &= (e_fwd > 0) & (e_fwd < e_count)
        graph, keep_edge, hub, degree_all = tie_graph(n_vertices, e_lo, e_hi, keep_edge, names, on_net,
                                          max_degree, weight=e_weight, count=e_count,
                                          duration=e_duration)

        if start is not None:
            window_days = (end - pd.Timestamp(start)) / pd.Timedelta(days=1)
        else:
            window_days = float(np.ceil(age_days.max())) if len(age_days) else 1.0
        still_here = None  # every row counts
        if gone is not None:
            still_here = ~gone[src] & ~gone[dst]
        # A window of a time-ordered log: the last days' rows are a slice (see _age_band).
        ordered = (row_ts, np.datetime64(end, "ns")) if _ascending(row_ts) else None
        activity = _activity(src, dst, duration, age_days, n_vertices, degree_all, trend_days,
                             max(window_days, 1.0), still_here, ordered=ordered)
        activity.index = pd.Index(names, name="customer_id")
        return cls(graph=graph, activity=activity, start=start, end=end, categories=categories,
                   vertex_codes=vertex_codes)

    # ------------------------------------------------------------------ lookups
    @property
    def names(self) -> np.ndarray:
        """Vertex names (ids) in vertex order."""
        return self.activity.index.to_numpy(dtype=object)

    @property
    def on_net(self) -> np.ndarray:
        return np.asarray(self.graph.vs["on_net"], dtype=bool)

    def index_of(self, ids) -> np.ndarray:
        """Vertex index of each id; -1 for ids not in the graph."""
        return self.activity.index.get_indexer(pd.Index(np.asarray(ids, dtype=object)))

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(source, target, weight) numpy arrays of the undirected edges, each listed once."""
        edges = edge_list(self.graph)
        weight = np.asarray(self.graph.es["weight"], dtype=np.float64) if edges.size else np.zeros(0)
        return edges[:, 0], edges[:, 1], weight

    def edge_weights_since(self, interactions: pd.DataFrame, start: pd.Timestamp) -> np.ndarray:
        """The strength of each edge over a longer look-back: interactions in ``[start, end)``.

        Same weighting as the graph's own (``1 + log1p(minutes)`` per interaction, no decay),
        for the same edges in edge order; a ``start`` before the graph's own start gives a
        tie more days of traffic to be measured on, and a tie to someone who left during the
        window its strength while both were there, not diluted by the days since. Rows
        between ids that are not vertices, or outside the look-back, are ignored.

        Parameters
        ----------
        interactions : DataFrame
            The interactions frame (src, dst, timestamp, duration).
        start : Timestamp
            First moment counted (the end is the graph's).

        Returns
        -------
        numpy.ndarray of float, one weight per edge (edge order), at least the edge's own
        weight when ``start`` is not later than the graph's start.

        Example
        -------
        >>> log = pd.DataFrame({"src": ["a", "a", "b"], "dst": ["b", "b", "c"],
        ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-03-02"]),
        ...     "duration": [0.0, 0.0, 0.0], "kind": ["sms"] * 3})
        >>> cg = CustomerGraph.from_interactions(log, start=pd.Timestamp("2025-02-01"),
        ...                                      end=pd.Timestamp("2025-04-01"))
        >>> cg.edge_arrays()[2].tolist(), cg.edge_weights_since(log, pd.Timestamp("2024-12-01")).tolist()
        ([1.0, 1.0], [2.0, 1.0])
        """
        src_e, dst_e, _ = self.edge_arrays()
        n, n_edges = self.graph.vcount(), len(src_e)
        if n_edges == 0:
            return np.zeros(0)
        rows, _ = _window(interactions, start, self.end)
        n_rows = len(rows)
        categories = shared_categories(rows)
        same = (self.categories is not None and categories is not None
                and (categories is self.categories or categories.equals(self.categories)))
        paired = _pair_codes(rows, len(categories)) if same else None
        if paired is not None:
            # The log's pair numbering (encode_pairs): sum every pair's rows, then look up
            # each edge's pair by its key; rows of pairs that are not edges are never read.
            pair_code, all_keys = paired
            weight = _row_weight(rows["duration"].to_numpy(dtype=np.float64))
            pair_weight = np.bincount(pair_code, weights=weight, minlength=len(all_keys))
            g_src, g_dst = self.vertex_codes[src_e], self.vertex_codes[dst_e]
            edge_key = (np.minimum(g_src, g_dst).astype(np.int64) * len(categories)
                        + np.maximum(g_src, g_dst))
            at = np.minimum(np.searchsorted(all_keys, edge_key), len(all_keys) - 1)
            found = all_keys[at] == edge_key
            return np.where(found, pair_weight[at], 0.0)
        if same:
            # Integer codes of a log coded by encode_ids: no string is touched.
            vertex_of = np.full(len(categories), -1, dtype=np.int64)
            vertex_of[self.vertex_codes] = np.arange(n)
            u = vertex_of[rows["src"].cat.codes.to_numpy()]
            v = vertex_of[rows["dst"].cat.codes.to_numpy()]
        else:
            # Vertex number of both ends: factorise the ids together with the vertex names, a
            # hash pass over the (Arrow-backed) strings as in from_interactions;
            # Index.get_indexer would go through Python objects, which takes longer than the
            # graph build (docs/results.md).
            ids = pd.concat([pd.Series(self.names).astype("str"), rows["src"].astype("str"),
                             rows["dst"].astype("str")], ignore_index=True)
            codes, uniques = ids.factorize()
            vertex_of = np.full(len(uniques), -1, dtype=np.int64)
            vertex_of[codes[:n]] = np.arange(n)
            u, v = vertex_of[codes[n:n + n_rows]], vertex_of[codes[n + n_rows:]]
        both = (u >= 0) & (v >= 0)
        u, v = u[both], v[both]
        weight = _row_weight(rows["duration"].to_numpy(dtype=np.float64)[both])
        # Sum the rows per unordered pair (in row order, as the graph's own weights), then
        # find each pair's edge by its key.
        pair_code, pair_key = pd.factorize(np.minimum(u, v) * n + np.maximum(u, v))
        pair_weight = np.bincount(pair_code, weights=weight, minlength=len(pair_key))
        edge_key = np.minimum(src_e, dst_e) * n + np.maximum(src_e, dst_e)
        order = np.argsort(edge_key, kind="stable")
        sorted_keys = edge_key[order]
        at = np.minimum(np.searchsorted(sorted_keys, pair_key), n_edges - 1)
        found = sorted_keys[at] == pair_key
        out = np.zeros(n_edges)
        out[order[at[found]]] = pair_weight[found]
        return out

    def strength(self) -> np.ndarray:
        """Total tie strength of every vertex."""
        return np.asarray(self.graph.strength(weights="weight"), dtype=np.float64)

    def summary(self) -> dict:
        """Plain numbers describing the graph, for reports and logs (no identifiers)."""
        g = self.graph
        n = g.vcount()
        components = g.connected_components()
        giant = max(components.sizes()) if n else 0
        degree = np.asarray(g.degree()) if n else np.zeros(0)
        return {
            "vertices": n,
            "on_net_vertices": int(self.on_net.sum()),
            "edges": g.ecount(),
            "hub_vertices_cut": int(np.sum(g.vs["hub"])) if n else 0,
            "mean_degree": float(degree.mean()) if n else 0.0,
            "max_degree": int(degree.max()) if n else 0,
            "components": len(components),
            "giant_component_share": float(giant / n) if n else 0.0,
            "total_tie_strength": float(np.sum(g.es["weight"])) if g.ecount() else 0.0,
        }

    # ------------------------------------------------------------------ exports
    def to_networkx(self):
        """The graph as a :class:`networkx.Graph` with the same node names and attributes."""
        import networkx as nx

        g = nx.Graph()
        names = self.names
        g.add_nodes_from(
            (name, {"on_net": bool(on), "hub": bool(h)})
            for name, on, h in zip(names, self.graph.vs["on_net"], self.graph.vs["hub"])
        )
        for (u, v), w, c, d in zip(self.graph.get_edgelist(), self.graph.es["weight"],
                                   self.graph.es["count"], self.graph.es["duration"]):
            g.add_edge(names[u], names[v], weight=w, count=c, duration=d)
        return g

    def to_pyg(self, x=None, y=None, position=None):
        """The graph as a :class:`torch_geometric.data.Data`.

        Parameters
        ----------
        x : array-like [n_vertices, n_features], optional
            Node features in vertex order (default: a column of ones).
        y : array-like [n_vertices], optional
            Node labels.
        position : array of int [n_vertices], optional
            Renumber vertex ``v`` as ``position[v]`` (a permutation, e.g.
            :func:`graphchurn.graph.canonical.canonical_positions`), rows of ``x`` and ``y``
            with it, and list the edges in the order of their new ends, so that a model's
            random draws over vertices and edges do not depend on how ids are spelled. Take
            per-vertex results back with ``result[position]``.

        Returns
        -------
        Data with ``x``, ``edge_index`` (both directions), ``edge_weight`` and ``y`` if given.
        """
        import torch
        from torch_geometric.data import Data

        src, dst, weight = self.edge_arrays()
        n = self.graph.vcount()
        if position is not None:
            position = np.asarray(position)
            lo = np.minimum(position[src], position[dst])
            hi = np.maximum(position[src], position[dst])
            order = np.lexsort((hi, lo))
            src, dst, weight = lo[order], hi[order], np.asarray(weight)[order]
            vertex_at = np.argsort(position)  # vertex_at[i]: the vertex renumbered i
            x = None if x is None else np.asarray(x)[vertex_at]
            y = None if y is None else np.asarray(y)[vertex_at]
        edge_index = torch.from_numpy(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])]))
        edge_weight = torch.from_numpy(np.concatenate([weight, weight]).astype(np.float32))
        x_t = torch.ones((n, 1)) if x is None else torch.as_tensor(np.asarray(x, dtype=np.float32))
        data = Data(x=x_t, edge_index=edge_index, edge_weight=edge_weight, num_nodes=n)
        if y is not None:
            data.y = torch.as_tensor(np.asarray(y, dtype=np.float32))
        return data


def tie_graph(n: int, lo: np.ndarray, hi: np.ndarray, keep: np.ndarray, names, on_net,
              max_degree: int | None, **edge_values: np.ndarray):
    """The undirected igraph graph of the ties ``lo[keep] - hi[keep]`` among ``n`` vertices.

    A vertex with more than ``max_degree`` distinct contacts (counted over every tie, kept or
    not) is a hub (a call centre, a short code): its ties are dropped and it is flagged.
    ``edge_values`` become edge attributes (one value per tie, before ``keep``).

    Returns
    -------
    (graph, keep, hub, degree) : the graph, the ties kept, the hub flag per vertex and each
    vertex's number of distinct contacts over every tie.
    """
    degree_all = np.bincount(np.concatenate([lo, hi]), minlength=n)
    hub = np.zeros(n, dtype=bool)
    if max_degree is not None:
        hub = degree_all > int(max_degree)
        keep = keep & ~hub[lo] & ~hub[hi]
    graph = ig.Graph(n=n, directed=False)
    edges = np.column_stack([lo[keep], hi[keep]])
    graph.add_edges(edges)
    remember_edges(graph, edges)
    graph.vs["name"] = list(names)
    graph.vs["on_net"] = np.asarray(on_net, dtype=bool).tolist()
    graph.vs["hub"] = hub.tolist()
    for name, values in edge_values.items():
        graph.es[name] = values[keep].tolist()
    return graph, keep, hub, degree_all


def encode_ids(interactions: pd.DataFrame, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """The log with ``src`` and ``dst`` as categoricals over one sorted set of identifiers.

    The categories are every identifier of the log and of the customer table, sorted, so a
    row's ends are small integers (``.cat.codes``) from then on: every cut-off's graph, labels
    and tie strengths map rows to vertices without hashing a string again, and the log holds
    two int32 columns instead of two string columns. Vertex order, names and every value
    derived from them are the same as from the string log.

    Parameters
    ----------
    interactions : DataFrame
        A validated log (src and dst as strings, or already coded: returned as is).
    customers : DataFrame, optional
        Its ``customer_id`` values join the categories.

    Returns
    -------
    DataFrame
        A shallow copy of ``interactions`` with coded ``src`` and ``dst``.

    Example
    -------
    >>> log = pd.DataFrame({"src": ["b", "a"], "dst": ["a", "c"]})
    >>> coded = encode_ids(log)
    >>> list(coded["src"].cat.categories), coded["src"].cat.codes.tolist()
    (['a', 'b', 'c'], [1, 0])
    """
    categories = shared_categories(interactions)
    if categories is not None:
        # Coded already (graphchurn.io reads logs coded): add the customer table's ids that
        # the log lacks, keeping the categories sorted; the codes are remapped, not rebuilt.
        extra = (pd.Index(customers["customer_id"].astype("str").unique()).difference(categories)
                 if customers is not None else [])
        if len(extra) == 0:
            return interactions
        merged = categories.append(pd.Index(extra, dtype=categories.dtype)).sort_values()
        dtype = pd.CategoricalDtype(merged)
        new_code = merged.get_indexer(categories).astype(np.int32)
        # Pair keys are built over the categories (encode_pairs): stale once they grow.
        out = interactions.drop(columns=["pair"], errors="ignore").copy(deep=False)
        for end in ("src", "dst"):
            codes = interactions[end].cat.codes.to_numpy()
            out[end] = pd.Categorical.from_codes(new_code[codes], dtype=dtype, validate=False)
        return out
    n = len(interactions)
    parts = [interactions["src"].astype("str"), interactions["dst"].astype("str")]
    if customers is not None:
        parts.append(customers["customer_id"].astype("str"))
    codes, uniques = pd.concat(parts, ignore_index=True).factorize(sort=True)
    dtype = pd.CategoricalDtype(pd.Index(uniques))
    out = interactions.drop(columns=["pair"], errors="ignore").copy(deep=False)
    out["src"] = pd.Categorical.from_codes(codes[:n], dtype=dtype, validate=False)
    out["dst"] = pd.Categorical.from_codes(codes[n:2 * n], dtype=dtype, validate=False)
    return out


def encode_pairs(interactions: pd.DataFrame) -> pd.DataFrame:
    """The coded log (:func:`encode_ids`) with a ``pair`` column numbering each row's tie.

    ``pair`` is a categorical whose categories are the unordered pairs of ends as int64 keys
    ``min(src, dst) * n + max(src, dst)`` over the ``n`` shared id categories, sorted, and
    whose codes (int32) number them. Every cut-off's graph and tie strengths then sum rows per
    tie with a bincount over these codes instead of hashing the pairs of its window again: one
    hash pass over the whole log serves every cut-off and look-back. A row's pair does not
    depend on the window, so no cut-off reads anything after it through this column.

    Parameters
    ----------
    interactions : DataFrame
        A log coded by :func:`encode_ids` (a log that is not coded is returned as is).

    Returns
    -------
    DataFrame
        A shallow copy with the ``pair`` column.

    Example
    -------
    >>> log = encode_ids(pd.DataFrame({"src": ["b", "a", "c"], "dst": ["a", "b", "a"]}))
    >>> paired = encode_pairs(log)
    >>> paired["pair"].cat.codes.tolist(), paired["pair"].cat.categories.tolist()
    ([0, 0, 1], [1, 2])
    """
    categories = shared_categories(interactions)
    if categories is None:
        return interactions
    key = _pair_keys(interactions["src"].cat.codes.to_numpy(),
                     interactions["dst"].cat.codes.to_numpy(), len(categories))
    codes, keys = _factorize_sorted(key)
    out = interactions.copy(deep=False)
    out["pair"] = pd.Categorical.from_codes(codes, categories=pd.Index(keys), validate=False)
    return out


#: Rows per block in :func:`_pair_keys`.
_BLOCK = 1 << 22


def _pair_keys(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    """``min(src, dst) * n + max(src, dst)`` as int64, a block at a time (no int64
    temporaries of every row)."""
    key = np.empty(len(src), dtype=np.int64)
    for start in range(0, len(src), _BLOCK):
        a, b = src[start:start + _BLOCK], dst[start:start + _BLOCK]
        part = key[start:start + _BLOCK]
        np.multiply(np.minimum(a, b), n, out=part, dtype=np.int64)
        np.add(part, np.maximum(a, b), out=part)
    return key


def _factorize_sorted(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(key, sort=True)`` with int32 codes, in memory that grows with the
    distinct keys: pandas sizes its hash table for every row (gigabytes at 100M rows), Arrow's
    grows as keys arrive."""
    encoded = pc.dictionary_encode(pa.array(key))
    del key
    uniques = encoded.dictionary.to_numpy()
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank[encoded.indices.to_numpy(zero_copy_only=False)], uniques[order]


def _pair_codes(rows: pd.DataFrame, n_categories: int):
    """(code per row, int64 key per code) of a coded log's ``pair`` column (see
    :func:`encode_pairs`), or None when the log has none."""
    pair = rows.get("pair")
    if pair is None or not isinstance(pair.dtype, pd.CategoricalDtype):
        return None
    keys = pair.cat.categories.to_numpy()
    if keys.dtype.kind != "i" or (len(keys) and keys[-1] >= n_categories * n_categories):
        return None  # not built over these categories
    return pair.cat.codes.to_numpy(), keys.astype(np.int64, copy=False)


def shared_categories(interactions: pd.DataFrame) -> pd.Index | None:
    """The categories of a log coded by :func:`encode_ids` (src and dst share them), else None."""
    src, dst = interactions["src"].dtype, interactions["dst"].dtype
    if not (isinstance(src, pd.CategoricalDtype) and isinstance(dst, pd.CategoricalDtype)):
        return None
    if src.categories is dst.categories or src.categories.equals(dst.categories):
        return src.categories
    return None


def _global_codes(categories: pd.Index, ids) -> np.ndarray:
    """Code of each id in ``categories`` (-1 when absent), by one hash pass over the strings."""
    if isinstance(ids, (pd.Series, pd.Index)):
        ids = pd.Series(ids.to_numpy())
    else:
        ids = pd.Series(np.asarray(list(ids), dtype=object))
    ids = ids.astype("str")
    codes, _ = pd.concat([pd.Series(categories).astype("str"), ids],
                         ignore_index=True).factorize()
    out = codes[len(categories):].astype(np.int64)
    out[out >= len(categories)] = -1
    return out


def _coded_vertices(rows, customers, extra_vertices, departed):
    """Vertex numbering of a coded log (see from_interactions), or None for a string log or
    customers / extras that are not among the categories."""
    categories = shared_categories(rows)
    if categories is None:
        return None
    n_cat = len(categories)
    # int32 codes and vertex numbers (ids fit in int32 as category codes): half the memory of
    # int64 for every row of the window.
    src_g = rows["src"].cat.codes.to_numpy()
    dst_g = rows["dst"].cat.codes.to_numpy()
    if (src_g < 0).any() or (dst_g < 0).any():
        return None
    present = np.zeros(n_cat, dtype=bool)
    present[src_g] = True
    present[dst_g] = True
    customer_g = None
    if customers is not None:
        customer_g = _global_codes(categories, customers["customer_id"])
        if (customer_g < 0).any():
            return None
        present[customer_g] = True
    if extra_vertices is not None:
        extra_g = _global_codes(categories, extra_vertices)
        if (extra_g < 0).any():
            return None
        present[extra_g] = True
    vertex_codes = np.flatnonzero(present)
    local = np.full(n_cat, -1, dtype=np.int32)
    local[vertex_codes] = np.arange(len(vertex_codes))
    names = categories[vertex_codes].to_numpy(dtype=object)
    if customer_g is not None:
        on_net = np.zeros(n_cat, dtype=bool)
        on_net[customer_g] = True
        on_net = on_net[vertex_codes]
    else:
        on_net = np.ones(len(vertex_codes), dtype=bool)
    gone = None
    if departed is not None:
        departed_g = _global_codes(categories, departed)
        gone = np.zeros(n_cat, dtype=bool)
        gone[departed_g[departed_g >= 0]] = True
        gone = gone[vertex_codes]
    return local[src_g], local[dst_g], names, on_net, gone, categories, vertex_codes


def _window(interactions: pd.DataFrame, start, end):
    """Rows with ``start <= timestamp < end`` (a slice when the log is sorted by time) and
    their timestamps as datetime64[ns]."""
    ts = interactions["timestamp"].to_numpy(dtype="datetime64[ns]")
    lo_t = None if start is None else np.datetime64(pd.Timestamp(start), "ns")
    hi_t = np.datetime64(pd.Timestamp(end), "ns")
    if interactions["timestamp"].is_monotonic_increasing:
        lo = 0 if lo_t is None else int(np.searchsorted(ts, lo_t, side="left"))
        hi = int(np.searchsorted(ts, hi_t, side="left"))
        return interactions.iloc[lo:hi], ts[lo:hi]
    keep = ts < hi_t
    if lo_t is not None:
        keep &= ts >= lo_t
    rows = interactions.loc[keep] if not keep.all() else interactions
    return rows, ts[keep]


def _row_weight(duration_seconds: np.ndarray) -> np.ndarray:
    """What one interaction adds to its tie: 1 for an SMS, more for a longer call, sub-linearly
    (Onnela et al. 2007)."""
    return 1.0 + np.log1p(duration_seconds / 60.0)


_DAY_GRID_MAX = 400_000_000  # vertex x day flags (bytes) active_days_out may use


def _ascending(ts: np.ndarray) -> bool:
    return len(ts) < 2 or bool(ts[0] <= ts[-1] and np.all(ts[1:] >= ts[:-1]))


def _age_band(age_days: np.ndarray, lo: float, hi: float, ordered=None):
    """The rows with ``lo <= age < hi`` days: a boolean mask, or, for rows in time order
    (``ordered`` = (their timestamps, the window's end)), a slice found by binary search."""
    if ordered is None:
        band = age_days < hi
        return band & (age_days >= lo) if lo > 0 else band
    ts, end = ordered

    def after(days):  # first row younger than `days` (age = (end - ts) / DAY < days)
        back = np.timedelta64(int(round(days * 86_400_000_000_000)), "ns")
        return int(np.searchsorted(ts, end - back, side="right"))

    return slice(after(hi), after(lo) if lo > 0 else len(ts))


def _activity(src, dst, duration, age_days, n, degree, trend_days, window_days,
              between_present, ordered=None) -> pd.DataFrame:
    """Per-vertex activity over the window, from the row arrays (vectorised bincounts).

    ``between_present`` marks the rows whose two ends are both still there at the end of the
    window; only those feed ``fade_out_evidence`` (None: every row). ``ordered``: the rows'
    timestamps and the window's end when the rows are in time order (then the last days'
    rows are slices instead of masks over every row).
    """
    n_out = np.bincount(src, minlength=n)
    n_in = np.bincount(dst, minlength=n)
    duration_out = np.bincount(src, weights=duration, minlength=n)
    duration_in = np.bincount(dst, weights=duration, minlength=n)

    # Days since the last outgoing / any interaction; NaN when there was none in the window.
    last_out = np.full(n, np.inf)
    np.minimum.at(last_out, src, age_days)
    last_any = last_out.copy()
    np.minimum.at(last_any, dst, age_days)
    days_since_last_out = np.where(np.isfinite(last_out), np.floor(last_out), np.nan)
    days_since_last_any = np.where(np.isfinite(last_any), np.floor(last_any), np.nan)

    # Distinct active days with an outgoing interaction.
    day_index = np.floor(age_days).astype(np.int64)
    n_days = int(day_index.max()) + 1 if len(day_index) else 1
    if n * n_days <= _DAY_GRID_MAX:
        # A vertex x day grid of flags: one scatter, no hashing of (vertex, day) pairs
        # (docs/results.md); a long unbounded window hashes the pairs.
        seen = np.zeros(n * n_days, dtype=bool)
        seen[src * n_days + day_index] = True
        active_days_out = seen.reshape(n, n_days).sum(axis=1)
    else:
        vertex_days = pd.unique(src * n_days + day_index)
        active_days_out = np.bincount(vertex_days // n_days, minlength=n)

    # Trend: outgoing interactions in the last `trend_days` against the `trend_days` before,
    # as (recent - previous) / (recent + previous) in [-1, 1]; 0 when both are empty.
    recent = _age_band(age_days, 0, trend_days, ordered)
    previous = _age_band(age_days, trend_days, 2 * trend_days, ordered)
    out_recent = np.bincount(src[recent], minlength=n)
    out_previous = np.bincount(src[previous], minlength=n)
    total = out_recent + out_previous
    trend = np.divide(out_recent - out_previous, total, out=np.zeros(n), where=total > 0)
    # Last week against the customer's own weekly average over the window: a scale-free
    # fade signal (a heavy user going quiet and a light user going quiet look alike).
    last_week = _age_band(age_days, 0, 7, ordered)
    out_last_week = np.bincount(src[last_week], minlength=n)
    in_last_week = np.bincount(dst[last_week], minlength=n)
    weeks = window_days / 7.0
    out_week_ratio = np.divide(out_last_week, n_out / weeks, out=np.full(n, np.nan), where=n_out > 0)
    in_week_ratio = np.divide(in_last_week, n_in / weeks, out=np.full(n, np.nan), where=n_in > 0)
    all_count = n_out + n_in
    out_share = np.divide(n_out, all_count, out=np.full(n, np.nan), where=all_count > 0)
    # The fade-out evidence reads only traffic with contacts still there, day by day over the
    # last weeks (plus window totals and the network's daily volume), which keeps the extra
    # memory to a fraction of the log's.
    # Counted over every row, less the few rows with a departed end: integer counts, so the
    # same numbers as counting the rows between present ends, without copying those rows.
    n_window_days = max(int(np.ceil(window_days)), 1)
    day_volume = np.bincount(np.minimum(day_index, n_window_days - 1), minlength=n_window_days)
    present_total = all_count
    fade_rows = _age_band(age_days, 0, FADE_DAYS[1], ordered)
    recent_present = fade_rows
    if between_present is not None:
        away = np.flatnonzero(~between_present)
        present_total = (all_count - np.bincount(src[away], minlength=n)
                         - np.bincount(dst[away], minlength=n))
        day_volume = day_volume - np.bincount(np.minimum(day_index[away], n_window_days - 1),
                                              minlength=n_window_days)
        if isinstance(fade_rows, slice):
            recent_present = np.arange(fade_rows.start, fade_rows.stop)[
                between_present[fade_rows]]
        else:
            recent_present = fade_rows & between_present
    recent_day = day_index[recent_present].astype(np.int32)
    fade_evidence = fade_out_evidence(
        np.concatenate([src[recent_present], dst[recent_present]]).astype(np.int32),
        np.concatenate([recent_day, recent_day]), n, window_days, total=present_total,
        day_volume=day_volume)

    return pd.DataFrame(
        {
            "n_out": n_out,
            "n_in": n_in,
            "duration_out": duration_out,
            "duration_in": duration_in,
            "distinct_contacts": degree,
            "days_since_last_out": days_since_last_out,
            "days_since_last_any": days_since_last_any,
            "active_days_out": active_days_out,
            "out_recent": out_recent,
            "out_previous": out_previous,
            "activity_trend": trend,
            "out_last_week": out_last_week,
            "out_week_ratio": out_week_ratio,
            "in_week_ratio": in_week_ratio,
            "out_share": out_share,
            "fade_out_evidence": fade_evidence,
        }
    )


FADE_DAYS = (7, 28)  # shortest and longest taper that fade_out_evidence considers, in days
_FADE_CHUNK = 16_384  # vertices per block of the likelihood-ratio matrix (memory ~ block x 380)


def fade_out_evidence(vertex: np.ndarray, day_index: np.ndarray, n: int, window_days: float,
                      fade_days: tuple[int, int] = FADE_DAYS, total: np.ndarray | None = None,
                      day_volume: np.ndarray | None = None) -> np.ndarray:
    """Evidence that each vertex's traffic is tapering off: a Bayes factor for a fade-out.

    A customer who has decided to leave rarely stops from one day to the next: traffic moves to
    the new number over days or weeks. This is the log Bayes factor of that against steady
    use. Under "steady", each day's count is Poisson with mean ``mu_t``: the vertex's rate over
    the rest of the window times the day's share of the network's traffic (so that a quiet
    Sunday or a bank holiday is not read as a fade). Under "fading since ``D`` days, over ``L``
    days", the mean is ``mu_t * (L - m) / L`` on the ``m``-th day after the onset (a straight
    line down to zero at the churn date), for every onset that leaves the vertex still active
    (``D < L``) and every taper length ``L`` in ``fade_days``; the onset and the length are
    integrated out with a uniform prior::

        log BF = log mean_{L, D} exp(sum_{m < D} [k_m log((L - m) / L) - mu_m ((L - m) / L - 1)])

    Positive values favour a fade. A vertex whose traffic is steady gets a small negative value
    (the onsets of the last days are still possible: one day of traffic cannot rule out a
    decision taken yesterday), a heavy user with steady traffic a lower one than a light user
    (more traffic, more evidence), and a vertex without traffic 0 (no evidence either way).
    Unlike a ratio of recent to past counts, the statistic weighs a dip by how unlikely it is
    by chance, and unlike a test for a sudden drop, it accumulates the gradual decline the days
    after a decision show.

    Parameters
    ----------
    vertex : ndarray of int
        One entry per interaction end to count (pass both ``src`` and ``dst`` for traffic in
        both directions).
    day_index : ndarray of int
        Whole days between each interaction and the cut-off (0 = the last day).
    n : int
        Number of vertices.
    window_days : float
        Length of the window the interactions come from. The onset stays within its first
        half, so that the baseline rate rests on at least as many days as the fade.
    fade_days : (int, int)
        Shortest and longest taper considered (days from the decision to zero traffic).
    total : ndarray of int, optional
        Each vertex's count over the whole window. When given, ``vertex`` and ``day_index``
        need only hold the entries of the last ``fade_days[1] - 1`` days (the rest are not read).
    day_volume : ndarray, optional
        The network's count on each day of the window (index = ``day_index``); None treats
        every day alike.

    Returns
    -------
    ndarray of float, shape (n,)

    Example
    -------
    Three interactions a day for three weeks, then none on the last day; with tapers of three
    days only, the onsets are yesterday (likelihood ratio 1) or the day before (the last day
    should have had 2 of the usual 3: ratio ``exp(3 * (1 - 2/3))`` for its 0):

    >>> import numpy as np
    >>> days = np.repeat(np.arange(1, 21), 3)
    >>> bf = fade_out_evidence(np.zeros(len(days), dtype=int), days, 1, 21.0, fade_days=(3, 3))
    >>> round(float(bf[0]), 4), round(float(np.log((1 + np.e) / 2)), 4)
    (0.6201, 0.6201)

    References
    ----------
    Raftery, A. E. & Akman, V. E. (1986). Bayesian analysis of a Poisson process with a
    change-point. Biometrika 73, 85-89.
    Kass, R. E. & Raftery, A. E. (1995). Bayes factors. Journal of the American Statistical
    Association 90, 773-795.
    """
    out = np.zeros(n)
    shortest, longest = int(fade_days[0]), int(fade_days[1])
    if shortest < 2 or longest < shortest:
        raise ValueError(f"fade_days must be (min, max) with 2 <= min <= max, got {fade_days}")
    # Days after an onset that can be seen while the vertex is still active: at most L - 1.
    recent = int(min(longest - 1, np.floor(window_days / 2.0)))
    if recent < 1 or n == 0:
        return out
    n_days = max(int(np.ceil(window_days)), recent + 1)
    if day_volume is None:
        volume = np.ones(n_days)
    else:
        volume = np.zeros(n_days)
        given = np.asarray(day_volume, dtype=np.float64)[:n_days]
        volume[:len(given)] = given
        mean = volume.mean()
        volume = volume / mean if mean > 0 else np.ones(n_days)
    baseline_volume = volume[recent:].sum()
    if baseline_volume <= 0:
        return out

    vertex = np.asarray(vertex, dtype=np.int64)
    day_index = np.asarray(day_index, dtype=np.int64)
    in_recent = day_index < recent
    total = (np.bincount(vertex, minlength=n) if total is None else np.asarray(total)
             ).astype(np.float64)

    # One column per hypothesis (L, D): the weights of each recent day's count and expected
    # count in its log-likelihood ratio, so that all hypotheses are two matrix products.
    count_weight, expected_weight = [], []
    for length in range(shortest, longest + 1):
        for onset in range(1, min(length - 1, recent) + 1):
            days_after = onset - 1 - np.arange(recent)       # m on each recent day (< 0: before)
            after = days_after >= 0
            level = np.where(after, (length - days_after) / length, 1.0)
            count_weight.append(np.where(after, np.log(level), 0.0))
            expected_weight.append(np.where(after, 1.0 - level, 0.0))
    count_weight = np.array(count_weight).T                  # recent days x hypotheses
    # Expected counts enter as rate x sum over days of volume x (1 - level): one row.
    expected_weight = (np.array(expected_weight) * volume[None, :recent]).sum(axis=1)
    log_hypotheses = np.log(count_weight.shape[1])

    # Each vertex's count on each recent day, by one bincount (integers: the same counts as
    # grouping the entries by vertex), then blocks of vertices: the per-hypothesis matrix stays
    # small at any graph size.
    all_counts = np.bincount(vertex[in_recent] * recent + day_index[in_recent],
                             minlength=n * recent).reshape(n, recent)
    for first in range(0, n, _FADE_CHUNK):
        last = min(first + _FADE_CHUNK, n)
        counts = all_counts[first:last]
        rate = (total[first:last] - counts.sum(axis=1)) / baseline_volume
        log_ratio = counts @ count_weight
        log_ratio += np.maximum(rate, 0.0)[:, None] * expected_weight
        out[first:last] = _logsumexp_rows(log_ratio) - log_hypotheses
    return out


def _logsumexp_rows(values: np.ndarray) -> np.ndarray:
    """``log(sum(exp(values), axis=1))`` for a finite matrix, computed in place (``values`` is
    overwritten): the largest entry of each row is taken out first, so nothing overflows.
    scipy.special.logsumexp gives the same, with copies and checks for infinities this
    matrix never holds, which were most of the fade-out evidence's cost on large graphs."""
    top = values.max(axis=1)
    values -= top[:, None]
    np.exp(values, out=values)
    return np.log(values.sum(axis=1)) + top
