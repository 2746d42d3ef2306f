"""A CustomerGraph from tables already aggregated elsewhere (a Spark job, a warehouse query).

:meth:`CustomerGraph.from_interactions` reads the rows of the log; an engine that cannot bring
the rows to this process aggregates them where they are and sends two tables instead:

``ties``
    One row per unordered pair of identifiers seen in the window (``u < v`` as strings, or
    integer positions in a dictionary of identifiers, ``tie_ids``): ``weight`` (the sum of
    ``1 + log1p(duration / 60)`` over the pair's rows, both directions), ``count`` and
    ``duration``. Integer positions keep a large tie table compact where it is received
    (numbers, not a string object per end).
``activity``
    One row per identifier seen in the window (index: the id), with the sums and minima that
    :data:`RAW_ACTIVITY_COLUMNS` lists; the per-vertex columns of
    :data:`graphchurn.graph.customer_graph.ACTIVITY_COLUMNS` are derived from them here by the
    same formulas as ``from_interactions``, so the features do not depend on the engine.

Tie weights without decay only (``half_life_days=None``, what build_features uses).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphchurn.graph.customer_graph import ACTIVITY_COLUMNS, CustomerGraph, tie_graph

__all__ = ["graph_from_aggregates", "tie_endpoints", "RAW_ACTIVITY_COLUMNS"]

#: What an engine sends per identifier: counts and durations by direction, the smallest age
#: (days before the end of the window) of an outgoing and of any interaction, distinct days
#: with an outgoing interaction, outgoing counts in the last trend window, the one before and
#: the last week, incoming in the last week, and the fade-out evidence (computed where the
#: per-day counts are, by :func:`graphchurn.graph.fade_out_evidence`).
RAW_ACTIVITY_COLUMNS = ["n_out", "n_in", "duration_out", "duration_in", "min_age_out",
                        "min_age_any", "active_days_out", "out_recent", "out_previous",
                        "out_last_week", "in_last_week", "fade_out_evidence"]


def graph_from_aggregates(ties: pd.DataFrame, activity: pd.DataFrame, *,
                          customers: pd.DataFrame | None = None, start=None, end=None,
                          max_degree: int | None = None, extra_vertices=None,
                          tie_ids=None) -> CustomerGraph:
    """The CustomerGraph that ``from_interactions`` would build from the same window.

    Parameters
    ----------
    ties : DataFrame
        Columns ``u, v`` (str ids, ``u < v``; or integer positions in ``tie_ids``),
        ``weight``, ``count``, ``duration``.
    activity : DataFrame
        Indexed by id, columns :data:`RAW_ACTIVITY_COLUMNS` (missing values mean none).
    customers, start, end, max_degree, extra_vertices
        As in :meth:`CustomerGraph.from_interactions` (``start`` and ``end`` are required).
    tie_ids : array of str, optional
        The identifiers that integer ``u`` and ``v`` point into (each one also in
        ``activity``'s index, ``customers`` or ``extra_vertices``); None: ``u`` and ``v``
        are the identifiers themselves.

    Returns
    -------
    CustomerGraph

    Example
    -------
    >>> ties = pd.DataFrame({"u": ["a"], "v": ["b"], "weight": [2.0], "count": [2],
    ...                      "duration": [0.0]})
    >>> act = pd.DataFrame({"n_out": [2, 0], "n_in": [0, 2], "min_age_out": [1.5, np.nan],
    ...                     "min_age_any": [1.5, 1.5]}, index=["a", "b"])
    >>> cg = graph_from_aggregates(ties, act, start=pd.Timestamp("2025-01-01"),
    ...                            end=pd.Timestamp("2025-02-01"))
    >>> cg.graph.ecount(), float(cg.activity.loc["a", "days_since_last_out"])
    (1, 1.0)
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    parts = [activity.index.astype(str).to_numpy(dtype=object)]
    if customers is not None:
        parts.append(customers["customer_id"].astype(str).to_numpy(dtype=object))
    if extra_vertices is not None:
        parts.append(np.asarray([str(x) for x in extra_vertices], dtype=object))
    names = pd.unique(np.concatenate(parts))
    names = np.asarray(sorted(names), dtype=object)
    index = pd.Index(names)
    n = len(names)
    on_net = (index.isin(customers["customer_id"].astype(str)) if customers is not None
              else np.ones(n, dtype=bool))

    u, v = tie_endpoints(ties, index, tie_ids)
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((hi, lo))  # edge order of from_interactions: by (lower, higher) vertex
    lo, hi = lo[order], hi[order]
    weight = np.asarray(ties["weight"], dtype=np.float64)[order]
    count = np.asarray(ties["count"], dtype=np.int64)[order]
    duration = np.asarray(ties["duration"], dtype=np.float64)[order]
    graph, keep, hub, degree_all = tie_graph(n, lo, hi, count >= 1, names, on_net, max_degree,
                                             weight=weight, count=count, duration=duration)

    raw = activity.copy()
    raw.index = raw.index.astype(str)
    raw = raw.reindex(index)
    window_days = max((end - start) / pd.Timedelta(days=1), 1.0)
    out = _derived(raw, degree_all, window_days)
    out.index = pd.Index(names, name="customer_id")
    assert set(out.columns) == set(ACTIVITY_COLUMNS)
    return CustomerGraph(graph=graph, activity=out, start=start, end=end)


def tie_endpoints(ties, index: pd.Index, tie_ids=None) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``index`` (the graph's vertex names) of each tie's two ends.

    Parameters
    ----------
    ties : DataFrame
        Columns ``u`` and ``v``: identifiers, or integer positions in ``tie_ids``.
    index : pandas.Index
        The vertex names.
    tie_ids : array of str, optional
        What integer ``u`` and ``v`` point into.

    Returns
    -------
    (u, v) : int64 arrays
    """
    if tie_ids is None:
        u = index.get_indexer(ties["u"].astype(str)).astype(np.int64)
        v = index.get_indexer(ties["v"].astype(str)).astype(np.int64)
        return u, v
    # One lookup per identifier of the dictionary, then array indexing per tie end.
    where = index.get_indexer(pd.Index(np.asarray(tie_ids, dtype=object)).astype(str))
    where = where.astype(np.int64)
    return (where[np.asarray(ties["u"], dtype=np.int64)],
            where[np.asarray(ties["v"], dtype=np.int64)])


def _derived(raw: pd.DataFrame, degree: np.ndarray, window_days: float) -> pd.DataFrame:
    """The per-vertex activity columns of ``CustomerGraph._activity`` from the raw sums."""
    def col(name, fill=0.0):
        if name not in raw.columns:
            return np.full(len(raw), fill, dtype=np.float64)
        return raw[name].to_numpy(dtype=np.float64, na_value=fill)

    n_out, n_in = col("n_out").astype(np.int64), col("n_in").astype(np.int64)
    min_out, min_any = col("min_age_out", np.nan), col("min_age_any", np.nan)
    out_recent = col("out_recent").astype(np.int64)
    out_previous = col("out_previous").astype(np.int64)
    total = out_recent + out_previous
    trend = np.divide(out_recent - out_previous, total, out=np.zeros(len(raw)), where=total > 0)
    out_last_week = col("out_last_week").astype(np.int64)
    in_last_week = col("in_last_week").astype(np.int64)
    weeks = window_days / 7.0
    out_week_ratio = np.divide(out_last_week, n_out / weeks, out=np.full(len(raw), np.nan),
                               where=n_out > 0)
    in_week_ratio = np.divide(in_last_week, n_in / weeks, out=np.full(len(raw), np.nan),
                              where=n_in > 0)
    all_count = n_out + n_in
    out_share = np.divide(n_out, all_count, out=np.full(len(raw), np.nan), where=all_count > 0)
    return pd.DataFrame({
        "n_out": n_out,
        "n_in": n_in,
        "duration_out": col("duration_out"),
        "duration_in": col("duration_in"),
        "distinct_contacts": degree,
        "days_since_last_out": np.floor(min_out),
        "days_since_last_any": np.floor(min_any),
        "active_days_out": col("active_days_out").astype(np.int64),
        "out_recent": out_recent,
        "out_previous": out_previous,
        "activity_trend": trend,
        "out_last_week": out_last_week,
        "out_week_ratio": out_week_ratio,
        "in_week_ratio": in_week_ratio,
        "out_share": out_share,
        "fade_out_evidence": col("fade_out_evidence"),
    })
