"""Influencer, leader/follower and susceptibility scores on hand-built graphs."""

import igraph
import numpy as np
import pandas as pd
import pytest

from graphchurn.social.roles import (
    influencer_scores,
    khop_influence_spread,
    leaders_and_followers,
    reverse_reachable_sets,
    select_seed_set,
    susceptibility,
)


def named(graph: igraph.Graph, weights=1.0) -> igraph.Graph:
    graph.vs["name"] = [f"v{i}" for i in range(graph.vcount())]
    graph.vs["on_net"] = True
    graph.es["weight"] = weights
    return graph


def star(n_leaves: int = 7) -> igraph.Graph:
    return named(igraph.Graph.Star(n_leaves + 1))  # vertex 0 is the centre


def path(n: int = 4) -> igraph.Graph:
    return named(igraph.Graph([(i, i + 1) for i in range(n - 1)]))


# ---------------------------------------------------------------- influence spread (RIS)


def test_star_spread_weighted_cascade():
    # Weighted cascade: p(centre -> leaf) = 1/strength(leaf) = 1, p(leaf -> centre) = 1/7.
    # The centre reaches all 8 for sure; a leaf reaches the centre w.p. 1/7 and then all
    # 7 others, so 1 + 1/7 * 7 = 2.
    scores = influencer_scores(star(), ris_samples=20_000, seed=3, influence_method="rr")
    assert scores.loc["v0", "influence_spread"] == 8.0
    np.testing.assert_allclose(scores["influence_spread"].iloc[1:], 2.0, atol=0.15)


def test_star_spread_with_fixed_probabilities():
    certain = influencer_scores(star(), ris_samples=2_000, activation=1.0, influence_method="rr")
    assert (certain["influence_spread"] == 8.0).all()  # p = 1: everyone reaches everyone
    # p = 0: only itself (exact: 2,000 sets are 250 rounds with every vertex a target once).
    never = influencer_scores(star(), ris_samples=2_000, activation=0.0, influence_method="rr")
    assert (never["influence_spread"] == 1.0).all()


def test_path_spread_uniform_probability():
    # p = 0.5 on a path 0-1-2-3: sigma(0) = 1 + p + p^2 + p^3, sigma(1) = 1 + 2p + p^2.
    scores = influencer_scores(path(), ris_samples=60_000, activation=0.5, seed=1, influence_method="rr")
    spread = scores["influence_spread"].to_numpy()
    np.testing.assert_allclose(spread, [1.875, 2.25, 2.25, 1.875], atol=0.05)


def test_path_spread_weighted_cascade_uses_strength_of_the_receiver():
    # p(u -> v) = w_uv / strength(v): p(1->0) = 1, p(0->1) = 1/2, p(1->2) = p(2->1) = 1/2,
    # p(2->3) = 1. sigma(0) = 1 + 1/2 + 1/4 + 1/4 = 2; sigma(1) = 1 + 1 + 1/2 + 1/2 = 3.
    scores = influencer_scores(path(), ris_samples=60_000, seed=2, influence_method="rr")
    np.testing.assert_allclose(scores["influence_spread"], [2.0, 3.0, 3.0, 2.0], atol=0.05)


# ---------------------------------------------------------------- influence spread (two hops)


def test_khop_spread_on_a_path_by_hand():
    # Weighted cascade on 0-1-2-3 (unit weights, strengths 1, 2, 2, 1): p(0->1) = 1/2,
    # p(1->0) = 1, p(1->2) = p(2->1) = 1/2, p(2->3) = 1. One hop: sigma(0) = 1 + 1/2,
    # sigma(1) = 1 + 1 + 1/2. Two hops add 0->1->2 (1/4) to 0, and 1->2->3 (1/2) to 1;
    # 1->0 leads nowhere new. (The full spread of 0 is 2: 0->1->2->3 adds 1/4 more.)
    one = khop_influence_spread(path(), hops=1)
    two = khop_influence_spread(path())
    np.testing.assert_allclose(one, [1.5, 2.5, 2.5, 1.5])
    np.testing.assert_allclose(two, [1.75, 3.0, 3.0, 1.75])


def test_khop_spread_on_a_star_is_the_exact_spread():
    # Depth two: the centre reaches all 8; a leaf reaches the centre w.p. 1/7, then the 6
    # other leaves for sure: 1 + 1/7 + 6/7 = 2 (the RR test above estimates the same).
    spread = khop_influence_spread(star())
    np.testing.assert_allclose(spread, [8.0] + [2.0] * 7)


def test_khop_spread_adds_the_paths_of_a_triangle():
    # Every arc has p = 1/2; each other vertex is reached directly (1/2) or through the third
    # (1/4): the sum 1 + 2 * 3/4 = 2.5, where the union would be 1 + 2 * 5/8 = 2.25.
    np.testing.assert_allclose(khop_influence_spread(named(igraph.Graph.Full(3))), 2.5)


def test_khop_spread_with_fixed_probabilities_and_the_cap():
    # p = 1/2 on 0-1-2-3: sigma(0) = 1 + 1/2 + 1/4, sigma(1) = 1 + 2 * 1/2 + 1/4.
    np.testing.assert_allclose(khop_influence_spread(path(), activation=0.5),
                               [1.75, 2.25, 2.25, 1.75])
    assert (khop_influence_spread(star(), activation=0.0) == 1.0).all()
    # p = 1 in K5: 1 + 4 + 4 * 3 = 17 live paths, capped at the 5 vertices.
    assert (khop_influence_spread(named(igraph.Graph.Full(5)), activation=1.0) == 5.0).all()


def test_khop_spread_with_parallel_ties_and_a_self_loop():
    # Ties 0-1 twice, 1-2, 2-2 (unit weights): strengths 2, 3, 3 (a loop counts twice).
    # p(0->1) = 1/3 per tie, p(1->0) = 1/2 per tie, p(1->2) = p(2->1) = 1/3; the loop
    # activates nobody. sigma(0) = 1 + 2/3 + 2 * 1/3 * (1/3) (on to 2 from 1);
    # sigma(1) = 1 + 1 + 1/3 (0 and 2 lead nowhere new); sigma(2) = 1 + 1/3 + 1/3 * 1.
    graph = named(igraph.Graph([(0, 1), (0, 1), (1, 2), (2, 2)]))
    np.testing.assert_allclose(khop_influence_spread(graph), [17 / 9, 7 / 3, 5 / 3])


def planted(n: int = 1500, seed: int = 0) -> igraph.Graph:
    """Preferential attachment (hubs planted by the growth) with lognormal tie strengths."""
    rng = np.random.default_rng(seed)
    edges = [(0, 1)]
    targets = [0, 1]
    for v in range(2, n):
        # Each new vertex ties to 3 earlier ones picked by degree.
        picks = {targets[i] for i in rng.integers(0, len(targets), size=3)}
        edges += [(v, u) for u in picks]
        targets += list(picks) + [v] * len(picks)
    return named(igraph.Graph(edges), weights=rng.lognormal(0.0, 1.0, len(edges)).tolist())


def test_khop_spread_ranks_like_many_rr_sets():
    from scipy.stats import spearmanr

    graph = planted()
    exact_enough = influencer_scores(graph, ris_samples=300_000, descriptive=False,
                                     influence_method="rr")["influence_spread"]
    khop = khop_influence_spread(graph)
    assert spearmanr(khop, exact_enough).statistic > 0.95
    assert np.corrcoef(khop, exact_enough)[0, 1] > 0.95


def test_khop_influence_ignores_the_seed_and_the_vertex_numbers():
    graph = planted(400)
    at = {seed: influencer_scores(graph, seed=seed, descriptive=False, influence_method="khop")
          for seed in (0, 7)}
    pd.testing.assert_frame_equal(at[0], at[7])
    order = np.random.default_rng(1).permutation(graph.vcount())
    relabelled = graph.permute_vertices(order.tolist())
    # Compared by name, whichever way permute_vertices reads the permutation.
    moved = pd.Series(khop_influence_spread(relabelled), index=relabelled.vs["name"])
    np.testing.assert_allclose(moved[graph.vs["name"]], khop_influence_spread(graph),
                               rtol=1e-12)


def test_influence_method_and_hops_are_checked():
    with pytest.raises(ValueError, match="influence_method"):
        influencer_scores(star(), influence_method="exact")
    with pytest.raises(ValueError, match="hops"):
        khop_influence_spread(star(), hops=4)


# ---------------------------------------------------------------- influence spread (three hops)


def test_three_hops_on_a_path_add_the_last_arc():
    # 0->1->2->3 is live with 1/2 * 1/2 * 1 = 1/4: sigma(0) = 1.75 + 0.25 = 2, the full
    # spread of 0 (a tree, one path to each vertex); 1 has no simple path of three arcs.
    np.testing.assert_allclose(khop_influence_spread(path(), hops=3), [2.0, 3.0, 3.0, 2.0])
    # p = 1/2: 0 gains 1/8; 1 still has no path of three arcs.
    np.testing.assert_allclose(khop_influence_spread(path(), hops=3, activation=0.5),
                               [1.875, 2.25, 2.25, 1.875])


def test_three_hops_on_a_star_and_a_triangle_add_nothing():
    # A leaf's paths of three arcs would come back to the centre; in a triangle every path of
    # three arcs returns to a vertex it has visited.
    np.testing.assert_allclose(khop_influence_spread(star(), hops=3), [8.0] + [2.0] * 7)
    np.testing.assert_allclose(khop_influence_spread(named(igraph.Graph.Full(3)), hops=3), 2.5)


def test_three_hops_on_a_square_and_in_k4():
    # Square, p = 1/2: 1 + 2 * 1/2 + 2 * 1/4 (to the opposite corner) + 2 * 1/8 (the long
    # way round to each neighbour) = 2.75.
    np.testing.assert_allclose(khop_influence_spread(named(igraph.Graph.Ring(4)), hops=3), 2.75)
    # K4, p = 1/3: 3 paths of one arc, 6 of two, 6 of three (the closed triangles and the
    # walks that come back are left out): 1 + 3/3 + 6/9 + 6/27 = 26/9.
    np.testing.assert_allclose(khop_influence_spread(named(igraph.Graph.Full(4)), hops=3),
                               26 / 9)


def test_three_hops_with_parallel_ties_and_a_self_loop():
    # The graph of the two-hop test has three vertices, so no simple path of three arcs.
    graph = named(igraph.Graph([(0, 1), (0, 1), (1, 2), (2, 2)]))
    np.testing.assert_allclose(khop_influence_spread(graph, hops=3), [17 / 9, 7 / 3, 5 / 3])


def live_paths_by_enumeration(graph: igraph.Graph, hops: int, activation) -> np.ndarray:
    """Sum over every simple path of at most ``hops`` arcs of its probability, by DFS."""
    from graphchurn.social.communities import edge_array, edge_weights
    from graphchurn.social.roles import _arc_probabilities

    n, edges = graph.vcount(), edge_array(graph)
    prob = _arc_probabilities(n, edges, edge_weights(graph, "weight"), activation)
    p = np.zeros((n, n))
    for u, v, value in zip(np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]],
                           prob):
        if u != v:
            p[u, v] += value
    spread = np.ones(n)

    def extend(route, live):
        for v in np.flatnonzero(p[route[-1]]):
            if v not in route:
                spread[route[0]] += live * p[route[-1], v]
                if len(route) < hops:
                    extend(route + [v], live * p[route[-1], v])

    for u in range(n):
        extend([u], 1.0)
    return np.minimum(spread, n)


@pytest.mark.parametrize("hops", [1, 2, 3])
@pytest.mark.parametrize("activation", ["weighted_cascade", 0.3])
def test_khop_spread_matches_path_enumeration_on_small_multigraphs(hops, activation):
    rng = np.random.default_rng(hops)
    for _ in range(15):
        n = int(rng.integers(3, 10))
        edges = [tuple(int(i) for i in rng.integers(0, n, 2)) for _ in range(rng.integers(2, 25))]
        graph = named(igraph.Graph(n=n, edges=edges),
                      weights=rng.lognormal(0.0, 1.0, len(edges)).tolist())
        np.testing.assert_allclose(khop_influence_spread(graph, hops=hops, activation=activation),
                                   live_paths_by_enumeration(graph, hops, activation),
                                   rtol=1e-10, atol=1e-12)


def test_three_hops_ignore_the_seed_and_the_vertex_numbers():
    graph = planted(400)
    at = {seed: influencer_scores(graph, seed=seed, descriptive=False, influence_method="khop",
                                  influence_hops=3) for seed in (0, 7)}
    pd.testing.assert_frame_equal(at[0], at[7])
    assert not np.allclose(at[0]["influence_spread"], khop_influence_spread(graph))
    order = np.random.default_rng(1).permutation(graph.vcount())
    relabelled = graph.permute_vertices(order.tolist())
    moved = pd.Series(khop_influence_spread(relabelled, hops=3), index=relabelled.vs["name"])
    np.testing.assert_allclose(moved[graph.vs["name"]], khop_influence_spread(graph, hops=3),
                               rtol=1e-12)


def test_rr_sets_are_reproducible_and_start_at_their_target():
    graph = named(igraph.Graph.Famous("Zachary"))
    first = reverse_reachable_sets(graph, 300, seed=4)
    second = reverse_reachable_sets(graph, 300, seed=4)
    other = reverse_reachable_sets(graph, 300, seed=5)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    indptr, members = first
    assert indptr[0] == 0 and indptr[-1] == members.size and np.all(np.diff(indptr) >= 1)
    # No vertex twice in one set.
    set_id = np.repeat(np.arange(300), np.diff(indptr))
    assert np.unique(set_id * 34 + members).size == members.size
    # Small batches (many passes) give valid sets too: the centre of a star is in all.
    indptr, members = reverse_reachable_sets(star(), 50, batch_memory=16)
    assert np.bincount(members)[0] == 50


def test_greedy_seed_set_picks_the_centres_of_two_stars():
    graph = named(igraph.Graph.Star(6) + igraph.Graph.Star(4))
    seeds = select_seed_set(graph, 2, ris_samples=4_000)
    assert seeds.index.tolist() == ["v0", "v6"]
    assert seeds["spread"].iloc[-1] == 10.0  # the two centres cover every RR set
    np.testing.assert_allclose(seeds["marginal_spread"], [6.0, 4.0], atol=0.4)
    everyone = select_seed_set(graph, 10, ris_samples=500)
    assert everyone.index.is_unique and (everyone["marginal_spread"].iloc[2:] == 0).all()


# ---------------------------------------------------------------- centralities


def test_star_centre_is_the_top_influencer():
    scores = influencer_scores(star(), ris_samples=1_000)
    assert scores["influencer_score"].idxmax() == "v0"
    assert scores["pagerank"].idxmax() == "v0"
    assert scores.loc["v0", "eigenvector"] == pytest.approx(1.0)
    assert scores.loc["v0", "strength"] == 7.0 and scores.loc["v0", "degree"] == 7
    assert scores.loc["v0", "betweenness"] == pytest.approx(1.0)  # on every leaf-leaf path
    assert (scores["betweenness"].iloc[1:] == 0.0).all()
    assert (scores["coreness"] == 1).all()
    assert scores.index.name == "name"
    assert ((scores["influencer_score"] > 0) & (scores["influencer_score"] <= 1)).all()


def test_betweenness_treats_weights_as_closeness():
    # Square 0-1-2-3-0 with strong 0-1, 1-2 and 3-0: distances 1/w are .1, .1, 1, .5.
    # Shortest paths: 0-2 via 1; 1-3 via 0; 2-3 via 1 and 0 (0.7 < 1). Raw betweenness
    # 0: 2, 1: 2, 2: 0, 3: 0; normalised by (n-1)(n-2)/2 = 3.
    graph = named(igraph.Graph([(0, 1), (1, 2), (2, 3), (3, 0)]), [10.0, 10.0, 1.0, 2.0])
    scores = influencer_scores(graph, ris_samples=100)
    np.testing.assert_allclose(scores["betweenness"], [2 / 3, 2 / 3, 0.0, 0.0])
    unweighted = influencer_scores(graph, weights=None, ris_samples=100)
    np.testing.assert_allclose(unweighted["betweenness"], [1 / 6] * 4)


def test_sampled_betweenness_estimates_the_exact_value():
    graph = named(igraph.Graph.Famous("Zachary"))
    exact = influencer_scores(graph, ris_samples=100, betweenness_samples=None)["betweenness"]
    every_source = influencer_scores(graph, ris_samples=100, betweenness_samples=34)
    np.testing.assert_allclose(every_source["betweenness"], exact)
    sampled = influencer_scores(graph, ris_samples=100, betweenness_samples=20, seed=1)
    assert np.corrcoef(sampled["betweenness"], exact)[0, 1] > 0.9
    assert sampled["betweenness"].idxmax() == exact.idxmax()


def test_influencer_scores_are_reproducible():
    graph = named(igraph.Graph.Famous("Zachary"))
    pd.testing.assert_frame_equal(
        influencer_scores(graph, seed=9, ris_samples=500),
        influencer_scores(graph, seed=9, ris_samples=500),
    )


# ---------------------------------------------------------------- leaders and followers


def two_stars_and_a_pair() -> tuple[igraph.Graph, np.ndarray]:
    """Star 0 + leaves 1-5, star 6 + leaves 7-9, leaf 5 - leaf 9 bridge, pair 10-11, isolate 12."""
    graph = igraph.Graph.Star(6) + igraph.Graph.Star(4) + igraph.Graph.Full(2)
    graph.add_vertices(1)
    graph.add_edges([(5, 9)])
    named(graph)
    membership = np.array([0] * 6 + [1] * 4 + [2, 2, 3])
    return graph, membership


def test_leaders_are_the_hubs():
    graph, membership = two_stars_and_a_pair()
    scores = influencer_scores(graph, ris_samples=2_000)
    roles = leaders_and_followers(graph, membership, scores)
    assert roles.loc[roles["role"] == "leader"].index.tolist() == ["v0", "v6"]
    assert (roles["role"].iloc[[10, 11, 12]] == "isolate").all()
    assert (roles.loc[["v1", "v5", "v7"], "role"] == "follower").all()
    assert roles["leader_of_group"].iloc[:6].tolist() == ["v0"] * 6
    assert roles["leader_of_group"].iloc[6:10].tolist() == ["v6"] * 4
    assert roles["leader_of_group"].iloc[10:].isna().all()
    assert roles.loc["v9", "follows"] == "v6"  # own group's leader, not the bridge's
    assert roles.loc["v0", "rank_in_group"] == 0 and roles.loc["v6", "rank_in_group"] == 0
    assert roles["community"].tolist() == membership.tolist()


def test_leader_count_rule_and_followers_pick_their_strongest_leader():
    # 120-member group: default rule 1 + 120 // 50 = 3 leaders.
    big = named(igraph.Graph.Star(120))
    score = np.arange(120, 0, -1, dtype=float)  # vertex 0 best, then 1, 2, ...
    roles = leaders_and_followers(big, np.zeros(120, dtype=int), score)
    assert roles.index[roles["role"] == "leader"].tolist() == ["v0", "v1", "v2"]
    fixed = leaders_and_followers(big, np.zeros(120, dtype=int), score, leaders_per_group=5)
    assert (fixed["role"] == "leader").sum() == 5
    # Cap at size - 1: a triangle never has three leaders.
    tri = named(igraph.Graph.Full(3))
    capped = leaders_and_followers(tri, np.zeros(3, dtype=int), [3.0, 2.0, 1.0], 10)
    assert capped["role"].tolist() == ["leader", "leader", "follower"]
    # Two leaders 0, 1; follower 2 talks more to leader 1, follower 3 only to leader 0,
    # follower 4 to no leader (falls back to the top leader 0).
    graph = named(igraph.Graph(5, [(0, 2), (1, 2), (0, 3), (3, 4), (0, 1)]),
                  [1.0, 5.0, 1.0, 1.0, 1.0])
    roles = leaders_and_followers(
        graph, np.zeros(5, dtype=int), [0.9, 0.8, 0.1, 0.2, 0.3], leaders_per_group=2
    )
    assert roles["follows"].iloc[2:].tolist() == ["v1", "v0", "v0"]
    assert roles["follows"].iloc[:2].isna().all()  # leaders follow nobody


# ---------------------------------------------------------------- susceptibility


def five_nodes() -> tuple[igraph.Graph, np.ndarray]:
    """Groups {0,1,2} and {3,4}, plus vertex 5 with no ties."""
    graph = igraph.Graph(6, [(0, 1), (0, 2), (1, 2), (1, 3), (2, 4), (3, 4)])
    named(graph, [3.0, 1.0, 1.0, 2.0, 2.0, 1.0])
    return graph, np.array([0, 0, 0, 1, 1, 2])


def test_susceptibility_shares_by_hand():
    graph, membership = five_nodes()
    leaders = np.array([True, False, False, True, False, False])  # 0 leads {0,1,2}, 3 {3,4}
    departed = np.array([False, False, False, False, True, False])  # 4 has left
    table = susceptibility(graph, membership, leaders, departed)
    # strengths: 4, 6, 4, 3, 3, 0
    np.testing.assert_allclose(table["share_to_leaders"], [0, 3 / 6, 1 / 4, 0, 1 / 3, 0])
    np.testing.assert_allclose(table["share_to_departed"], [0, 0, 2 / 4, 1 / 3, 0, 0])
    np.testing.assert_allclose(table["embeddedness"], [1, 4 / 6, 2 / 4, 1 / 3, 1 / 3, 0])
    # 1 - (1 - sL)(1 - sD)(1 - e/4)
    np.testing.assert_allclose(
        table["susceptibility"], [0.25, 7 / 12, 0.671875, 7 / 18, 7 / 18, 0.0]
    )
    assert table.index.tolist() == [f"v{i}" for i in range(6)]


def test_susceptibility_accepts_roles_frame_and_names():
    graph, membership = five_nodes()
    roles = pd.DataFrame(
        {"role": ["leader", "follower", "follower", "leader", "follower", "isolate"]},
        index=[f"v{i}" for i in range(6)],
    )
    by_names = susceptibility(graph, membership, roles, departed=["v4"])
    by_masks = susceptibility(
        graph, membership, np.array([1, 0, 0, 1, 0, 0], dtype=bool),
        np.array([0, 0, 0, 0, 1, 0], dtype=bool),
    )
    pd.testing.assert_frame_equal(by_names, by_masks)
    no_departures = susceptibility(graph, membership, roles)
    assert (no_departures["share_to_departed"] == 0).all()
    assert no_departures["susceptibility"].between(0, 1).all()


def test_influencer_scores_are_bit_for_bit_reproducible():
    """igraph's PageRank sums in parallel and its eigenvector solver starts from a random
    vector; repeated runs must still agree to the last bit (a tree split can sit on it)."""
    g = igraph.Graph.Barabasi(3000, 4, outpref=True, directed=False)
    g.es["weight"] = np.random.default_rng(0).lognormal(size=g.ecount()).tolist()
    runs = [influencer_scores(g, seed=1, ris_samples=2000) for _ in range(4)]
    for other in runs[1:]:
        for column in ("pagerank", "eigenvector", "influencer_score"):
            assert np.array_equal(runs[0][column].to_numpy(), other[column].to_numpy()), column
