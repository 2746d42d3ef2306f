"""Exposure of each customer to departed contacts: the contagion features of the churn model.

Algorithm functions take an undirected weighted :class:`igraph.Graph` (vertex attributes
``name`` and ``on_net``, edge attribute ``weight``) and return numpy arrays aligned with vertex
order, or DataFrames indexed by vertex name in vertex order. The diffusion models and the
what-if that build on them live in :mod:`graphchurn.contagion`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from graphchurn.graph.arrays import as_mask, edge_arrays, symmetric_adjacency, vertex_names

__all__ = ["LONGER_EXPOSURE_WINDOWS", "spreading_activation", "EXPOSURE_COLUMNS", "exposure", "exposure_before_onset", "departure_ages"]


# ----------------------------------------------------------------------------------------------
# exposure to departed contacts


#: ``share_to_departed_longer`` counts the departures of this many recent windows.
LONGER_EXPOSURE_WINDOWS = 2

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
    departed = as_mask(departed_mask, n, "departed_mask")
    influencer = (
        np.zeros(n, dtype=bool)
        if influencer_mask is None
        else as_mask(influencer_mask, n, "influencer_mask")
    )
    src, dst, w = edge_arrays(graph, weights)
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
        index=vertex_names(graph),
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
    adjacency = symmetric_adjacency(graph, weights)
    strength = np.asarray(adjacency.sum(axis=1)).ravel()
    to_departed = adjacency @ departed_weight
    return np.divide(to_departed, strength, out=np.zeros(n), where=strength > 0)


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
    aligned = dates.reindex(vertex_names(graph).astype(str))
    age = np.array((cutoff - aligned) / pd.Timedelta(days=1), dtype=float)
    age[~(age >= 0)] = np.nan  # not departed, or departed after the cut-off (unknown then)
    return age


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
    adj = symmetric_adjacency(graph, weights)
    strength = np.asarray(adj.sum(axis=1)).ravel()
    inv = np.divide(1.0, strength, out=np.zeros_like(strength), where=strength > 0)
    # P = D^-1 A ; P.T = A D^-1 (A symmetric): scale column i by 1/s_i
    return (adj @ sp.diags(inv)).tocsr()
