"""Tests for graphchurn.contagion on hand-built graphs with answers worked out by hand."""

import igraph as ig
import numpy as np
import pandas as pd
import pytest

from graphchurn.contagion import exposure, spreading_activation


def _graph(edges, weights=None, names=None, on_net=None):
    g = ig.Graph(n=1 + max(max(e) for e in edges), edges=edges)
    g.es["weight"] = list(weights) if weights is not None else [1.0] * len(edges)
    g.vs["name"] = names if names is not None else [f"c{i}" for i in range(g.vcount())]
    g.vs["on_net"] = on_net if on_net is not None else [True] * g.vcount()
    return g


# ---------------------------------------------------------------- spreading activation


def test_spreading_activation_path_two_rounds_by_hand():
    # path 0-1-2, start with 1 unit on 0, pass half each round
    # round 1: 0 -> 1 gets 0.5;               energy [0.5, 0.5, 0]
    # round 2: 0 -> 1 gets 0.25; 1 -> 0, 2 get 0.125 each
    g = _graph([(0, 1), (1, 2)])
    got = spreading_activation(g, [1.0, 0.0, 0.0], spread_factor=0.5, iterations=2)
    np.testing.assert_allclose(got, [0.125, 0.75, 0.125])


def test_spreading_activation_star_splits_by_weight():
    # star centre 0, leaves 1,2,3 with weights 1,1,2: 0.8 of the energy split 1:1:2
    g = _graph([(0, 1), (0, 2), (0, 3)], weights=[1.0, 1.0, 2.0])
    got = spreading_activation(g, np.array([True, False, False, False]), 0.8, iterations=1)
    np.testing.assert_allclose(got, [0.0, 0.2, 0.2, 0.4])


def test_spreading_activation_reaches_only_within_iterations_hops():
    # path of 6: after 3 rounds energy from vertex 0 has reached at most vertex 3
    g = _graph([(i, i + 1) for i in range(5)])
    got = spreading_activation(g, [1, 0, 0, 0, 0, 0], spread_factor=0.8, iterations=3)
    assert (got[1:4] > 0).all()
    assert (got[4:] == 0).all()


def test_spreading_activation_isolated_vertex_keeps_energy():
    g = _graph([(0, 1)])
    g.add_vertices(1)  # vertex 2 without ties
    got = spreading_activation(g, [0.0, 0.0, 1.0], weights=None)
    np.testing.assert_allclose(got, [0.0, 0.0, 0.0])


# ---------------------------------------------------------------- exposure


def test_exposure_shares_by_hand():
    # 0 tied to 1 (w=3), 2 (w=1); 2 tied to 3 (w=2). departed: 1 and 3; 1 is an influencer.
    g = _graph([(0, 1), (0, 2), (2, 3)], weights=[3.0, 1.0, 2.0])
    departed = np.array([False, True, False, True])
    infl = np.array([False, True, False, False])
    ex = exposure(g, departed, influencer_mask=infl)
    assert list(ex.index) == ["c0", "c1", "c2", "c3"]
    np.testing.assert_allclose(ex["share_to_departed"], [0.75, 0.0, 2 / 3, 0.0])
    assert ex["n_departed_contacts"].tolist() == [1, 0, 1, 0]
    assert ex["departed_influencer_contact"].tolist() == [True, False, False, False]
    np.testing.assert_allclose(ex["max_tie_share_departed"], [0.75, 0.0, 2 / 3, 0.0])


def test_exposure_max_tie_share_with_two_departed_contacts():
    # 0 tied to 1 (w=1), 2 (w=2), 3 (w=5); 1 and 2 departed
    g = _graph([(0, 1), (0, 2), (0, 3)], weights=[1.0, 2.0, 5.0])
    ex = exposure(g, [False, True, True, False])
    assert ex.loc["c0", "share_to_departed"] == pytest.approx(3 / 8)
    assert ex.loc["c0", "max_tie_share_departed"] == pytest.approx(2 / 8)
    assert ex.loc["c0", "n_departed_contacts"] == 2
    assert not ex["departed_influencer_contact"].any()


def test_exposure_no_departures_is_zero():
    g = _graph([(0, 1), (1, 2)])
    ex = exposure(g, np.zeros(3, dtype=bool))
    assert (ex[["share_to_departed", "max_tie_share_departed"]].to_numpy() == 0).all()
    assert (ex["n_departed_contacts"] == 0).all()
