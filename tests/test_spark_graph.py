"""Graph algorithms on Spark DataFrames (graphchurn.engines.spark_graph) against the local
igraph / numpy functions, in Spark's local mode.

Few and small: one Spark session for the module, graphs of tens of vertices. Each test
compares values, so a wrong formula, normalisation or tie-break fails it.
"""


import numpy as np
import pytest

from spark_guard import require_spark, spark  # noqa: E402,F401 (spark: the fixture)

require_spark()

import igraph as ig
from sklearn.metrics import normalized_mutual_info_score

from graphchurn.engines.spark_graph import (
    clustering,
    coreness,
    exposure_before_onset,
    exposure_shares,
    khop_influence,
    label_propagation,
    pagerank,
    spreading_activation,
    strength_degree,
)
from graphchurn.features.exposure import exposure
from graphchurn.features.exposure import exposure_before_onset as local_before_onset
from graphchurn.features.exposure import spreading_activation as local_spreading
from graphchurn.social.communities import detect_communities
from graphchurn.social.roles import khop_influence_spread


def _ties(spark, edges, weights):
    rows = [(int(min(a, b)), int(max(a, b)), float(w)) for (a, b), w in zip(edges, weights)]
    return spark.createDataFrame(rows, "u long, v long, weight double")


def _vertices(spark, n):
    return spark.createDataFrame([(i,) for i in range(n)], "id long")


def _by_id(frame, column, n, fill=np.nan):
    out = np.full(n, fill)
    for row in frame.select("id", column).collect():
        out[row["id"]] = row[column]
    return out


def _random_graph(n, m, seed, isolated=0):
    """A simple graph on ``n`` vertices, the last ``isolated`` of them without ties."""
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < m:
        a, b = rng.integers(0, n - isolated, 2)
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    edges = sorted(pairs)
    return edges, rng.uniform(0.5, 5.0, len(edges))


def _planted(sizes, p_in, p_out, seed, w_in=(1.0, 3.0), w_out=0.2):
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    edges, weights = [], []
    for a in range(truth.size):
        for b in range(a + 1, truth.size):
            same = truth[a] == truth[b]
            if rng.random() < (p_in if same else p_out):
                edges.append((a, b))
                weights.append(rng.uniform(*w_in) if same else w_out)
    return edges, np.asarray(weights), truth


def test_strength_degree_and_exposure_by_hand(spark):
    # 1 -3- 0 -1- 2 -2- 3, and 4 alone; 1 and 3 departed, 3 an influencer
    ties = _ties(spark, [(0, 1), (0, 2), (2, 3)], [3.0, 1.0, 2.0])
    sd = strength_degree(ties, vertices=_vertices(spark, 5))
    assert _by_id(sd, "degree", 5).tolist() == [2, 1, 2, 1, 0]
    assert _by_id(sd, "strength", 5).tolist() == [4.0, 3.0, 3.0, 2.0, 0.0]
    ex = exposure_shares(ties, [1, 3], vertices=_vertices(spark, 5), influencers=[3])
    np.testing.assert_allclose(_by_id(ex, "share_to_departed", 5), [0.75, 0, 2 / 3, 0, 0])
    assert _by_id(ex, "n_departed_contacts", 5).tolist() == [1, 0, 1, 0, 0]
    np.testing.assert_allclose(_by_id(ex, "max_tie_share_departed", 5), [0.75, 0, 2 / 3, 0, 0])
    assert _by_id(ex, "departed_influencer_contact", 5).tolist() == [0, 0, 1, 0, 0]


def test_exposure_equals_the_local_function(spark):
    n = 80
    edges, w = _random_graph(n, 200, seed=3, isolated=4)
    rng = np.random.default_rng(4)
    departed = rng.random(n) < 0.2
    influencer = rng.random(n) < 0.1
    g = ig.Graph(n=n, edges=edges)
    local = exposure(g, departed, weights=w, influencer_mask=influencer)
    ids = spark.createDataFrame([(int(i),) for i in np.flatnonzero(departed)], "id long")
    remote = exposure_shares(_ties(spark, edges, w), ids, vertices=_vertices(spark, n),
                             influencers=np.flatnonzero(influencer).tolist())
    assert remote.count() == n
    for column in local.columns:
        np.testing.assert_allclose(_by_id(remote, column, n), local[column].to_numpy(dtype=float),
                                   rtol=0, atol=1e-12, err_msg=column)


@pytest.mark.parametrize("case", ["random", "star_and_pair"])
def test_pagerank_equals_igraph(spark, case):
    if case == "random":
        n = 60
        edges, w = _random_graph(n, 150, seed=1, isolated=3)
    else:
        # a weighted star, a pair tied only to each other, and one vertex alone
        n = 9
        edges = [(0, k) for k in range(1, 6)] + [(6, 7)]
        w = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 2.5])
    g = ig.Graph(n=n, edges=edges)
    local = np.asarray(g.pagerank(directed=False, weights=w.tolist()))
    remote = _by_id(pagerank(_ties(spark, edges, w), vertices=_vertices(spark, n)),
                    "pagerank", n)
    # the default tol bounds the L1 distance to the fixed point by 5.7e-7
    np.testing.assert_allclose(remote, local, rtol=0, atol=1e-6)
    assert remote.sum() == pytest.approx(1.0, abs=1e-12)


def test_label_propagation_recovers_planted_groups(spark):
    # three dense groups of 8 with random weights, joined by a few weak bridges
    edges, w, truth = _planted([8, 8, 8], p_in=1.0, p_out=0.05, seed=5)
    found = _by_id(label_propagation(_ties(spark, edges, w), seed=1), "community", truth.size)
    assert normalized_mutual_info_score(truth, found) == 1.0
    assert len(set(found)) == 3


def test_label_propagation_agrees_with_leiden(spark):
    edges, w, truth = _planted([25, 25, 25, 25], p_in=0.4, p_out=0.01, seed=7)
    g = ig.Graph(n=truth.size, edges=edges)
    g.es["weight"] = w.tolist()
    leiden = detect_communities(g, seed=0)
    found = _by_id(label_propagation(_ties(spark, edges, w), seed=0), "community", truth.size)
    assert normalized_mutual_info_score(leiden, found) >= 0.9


@pytest.mark.parametrize("hops", [1, 2])
def test_khop_influence_equals_the_local_function(spark, hops):
    n = 50
    edges, w = _random_graph(n, 90, seed=2, isolated=2)
    # a star whose centre reaches everyone: the cap at n matters on a small graph
    edges = edges + [(40, k) for k in range(41, 48) if (40, k) not in edges]
    w = np.concatenate([w, np.ones(len(edges) - len(w))])
    g = ig.Graph(n=n, edges=edges)
    local = khop_influence_spread(g, hops=hops, weights=w)
    remote = _by_id(khop_influence(_ties(spark, edges, w), hops=hops,
                                   vertices=_vertices(spark, n)), "influence_spread", n)
    np.testing.assert_allclose(remote, local, rtol=0, atol=1e-12)
    # the leaves of a star reach the centre for certain and, through it, the other leaves
    star = _ties(spark, [(0, k) for k in range(1, 6)], np.ones(5))
    np.testing.assert_allclose(_by_id(khop_influence(star, hops=hops), "influence_spread", 6),
                               khop_influence_spread(ig.Graph.Star(6), hops=hops, weights=None),
                               rtol=0, atol=1e-12)


def test_spreading_activation_by_hand(spark):
    # path 0 - 1 - 2 with unit ties, energy from 0, and 3 departed but without ties
    ties = _ties(spark, [(0, 1), (1, 2)], [1.0, 1.0])
    one = spreading_activation(ties, [0, 3], spread_factor=0.5, iterations=1,
                               vertices=_vertices(spark, 4))
    np.testing.assert_allclose(_by_id(one, "spreading_activation_energy", 4), [0, 0.5, 0, 0])
    # round 2: 0 keeps .5 and sends .25 to 1; 1 holds .5 and sends .125 each way
    two = spreading_activation(ties, [0], spread_factor=0.5, iterations=2)
    np.testing.assert_allclose(_by_id(two, "spreading_activation_energy", 3),
                               [0.125, 0.75, 0.125], rtol=0, atol=1e-15)


def test_spreading_activation_equals_the_local_function(spark):
    n = 60
    edges, w = _random_graph(n, 120, seed=8, isolated=5)
    # a pair tied with weight 0 (strength 0: keeps its energy) among the isolated
    edges, w = edges + [(56, 57)], np.concatenate([w, [0.0]])
    rng = np.random.default_rng(9)
    departed = rng.random(n) < 0.15
    departed[[56, 58]] = True
    g = ig.Graph(n=n, edges=edges)
    g.es["weight"] = w.tolist()
    # as features_on_graph calls it: energy 1 on the departed, the graph's "weight"
    local = local_spreading(g, departed.astype(float))
    ids = spark.createDataFrame([(int(i),) for i in np.flatnonzero(departed)], "id long")
    remote = spreading_activation(_ties(spark, edges, w), ids, vertices=_vertices(spark, n))
    assert remote.count() == n
    got = _by_id(remote, "spreading_activation_energy", n)
    assert local.max() > 0.1
    np.testing.assert_allclose(got, local, rtol=0, atol=1e-12)
    # starting energies from a column, other parameters
    energy = rng.uniform(0, 2, n)
    start = spark.createDataFrame([(i, float(e)) for i, e in enumerate(energy)],
                                  "id long, e double")
    local = local_spreading(g, energy, spread_factor=0.6, iterations=3)
    remote = spreading_activation(_ties(spark, edges, w), start, spread_factor=0.6,
                                  iterations=3, energy="e")
    np.testing.assert_allclose(_by_id(remote, "spreading_activation_energy", n, fill=0.0),
                               local, rtol=0, atol=1e-12)


def _departures(spark, ages):
    return spark.createDataFrame([(i, None if a is None else float(a)) for i, a in
                                  enumerate(ages)], "id long, departure_age_days double")


def _ties_since(spark, edges, weights):
    return _ties(spark, edges, weights).withColumnRenamed("weight", "weight_since")


def test_exposure_before_onset_by_hand(spark):
    # 0 tied equally to 1 (left 1 day ago) and 2 (10 days ago): 1/4 and 4/4 of the onsets;
    # 3 tied to 4 (left 33.5 days ago: recent at onsets 3..28 with recent_days=30, 26/28)
    # and to 5, whose NaN, null or negative age means not departed
    ties = _ties_since(spark, [(0, 1), (0, 2), (3, 4), (3, 5)], [1.0, 1.0, 2.0, 2.0])
    for age5 in (np.nan, None, -3.0):
        ages = _departures(spark, [np.nan, 1.0, 10.0, np.nan, 33.5, age5])
        short = exposure_before_onset(ties, ages, onset_days=4)
        assert _by_id(short, "share_to_departed_before_onset", 6)[0] == 0.625
        full = _by_id(exposure_before_onset(ties, ages, vertices=_vertices(spark, 7)),
                      "share_to_departed_before_onset", 7)
        np.testing.assert_allclose(full[[3, 6]], [26 / 28 / 2, 0.0], rtol=0, atol=1e-15)


def test_exposure_before_onset_equals_the_local_function(spark):
    n = 70
    edges, w = _random_graph(n, 160, seed=10, isolated=3)
    rng = np.random.default_rng(11)
    ages = np.where(rng.random(n) < 0.4, rng.uniform(0, 70, n), np.nan)
    ages[:3] = [0.0, 30.0, 58.0]
    g = ig.Graph(n=n, edges=edges)
    local = local_before_onset(g, ages, recent_days=30, onset_days=28, weights=w)
    assert (local > 0).sum() > 10
    remote = exposure_before_onset(_ties_since(spark, edges, w), _departures(spark, ages),
                                   vertices=_vertices(spark, n))
    assert remote.count() == n
    np.testing.assert_allclose(_by_id(remote, "share_to_departed_before_onset", n), local,
                               rtol=0, atol=1e-12)


def test_coreness_and_clustering_by_hand(spark):
    # K4 on 0..3, a triangle 3 - 4 - 5 on its corner, a tail 5 - 6, 7 alone, and a tree
    # 8 - {9, 10}, 9 - {11, 12}, 10 - {13, 14} where 8 needs two rounds: its neighbours'
    # degrees (3, 3) give h = 2, their own h-indices (1, 1) then h = 1
    edges = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (3, 4), (3, 5), (4, 5), (5, 6),
             (8, 9), (8, 10), (9, 11), (9, 12), (10, 13), (10, 14)]
    ties, n = _ties(spark, edges, np.ones(len(edges))), 15
    core = coreness(ties, vertices=_vertices(spark, n))
    assert _by_id(core, "coreness", n).tolist() == [3, 3, 3, 3, 2, 2, 1, 0] + [1] * 7
    cc = clustering(ties, vertices=_vertices(spark, n))
    assert _by_id(cc, "triangles", n).tolist() == [3, 3, 3, 4, 1, 1, 0, 0] + [0] * 7
    np.testing.assert_allclose(_by_id(cc, "clustering", n),
                               [1, 1, 1, 4 / 10, 1, 1 / 3, 0, 0] + [0] * 7, rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", [12, 13])
def test_coreness_and_clustering_equal_igraph(spark, seed):
    n = 60
    edges, w = _random_graph(n, 180, seed=seed, isolated=2)
    # a hub tied to a third of the graph: degrees spread, the orientation matters
    edges = sorted(set(edges) | {(0, k) for k in range(1, n - 2, 3)})
    g = ig.Graph(n=n, edges=edges)
    ties, vertices = _ties(spark, edges, np.ones(len(edges))), _vertices(spark, n)
    local = np.asarray(g.coreness())
    assert len(set(local)) >= 3
    assert (_by_id(coreness(ties, vertices=vertices), "coreness", n) == local).all()
    local = np.nan_to_num(np.asarray(g.transitivity_local_undirected(mode="zero")))
    assert (local > 0).sum() > 20
    np.testing.assert_allclose(_by_id(clustering(ties, vertices=vertices), "clustering", n),
                               local, rtol=0, atol=1e-15)
