"""Tests for graphchurn.contagion on hand-built graphs with answers worked out by hand."""

import igraph as ig
import numpy as np
import pandas as pd
import pytest

from graphchurn.features import exposure, exposure_before_onset, spreading_activation


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


def test_exposure_before_onset_weighs_each_departure_by_the_onsets_it_precedes():
    # A star: vertex 0 tied to 1..6 with equal weight. Onsets 1..7 days back, recent = 10 days.
    g = ig.Graph([(0, i) for i in range(1, 7)])
    g.es["weight"] = [1.0] * 6
    ages = np.array([np.nan, 0.0, 3.0, 7.0, 11.0, 14.0, 20.0])
    share = exposure_before_onset(g, ages, recent_days=10, onset_days=7)
    # Weight of a departure k days back: #{d in 1..7 : 0 <= k - d <= 10} / 7
    #   k=0: none; k=3: d=1..3; k=7: all 7; k=11: d=1..7 (k-d in 4..10); k=14: d=4..7; k=20: none
    assert share[0] == pytest.approx((0 + 3 + 7 + 7 + 4 + 0) / 7 / 6)
    # The leavers themselves: each tied only to 0, who never left.
    assert share[1:].tolist() == [0.0] * 6
    # Equal to the plain share when every onset saw the departure as recent.
    assert exposure_before_onset(g, np.r_[np.nan, [7.0] * 6], 10, 7)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one value per vertex"):
        exposure_before_onset(g, ages[:3])


def test_exposure_no_departures_is_zero():
    g = _graph([(0, 1), (1, 2)])
    ex = exposure(g, np.zeros(3, dtype=bool))
    assert (ex[["share_to_departed", "max_tie_share_departed"]].to_numpy() == 0).all()
    assert (ex["n_departed_contacts"] == 0).all()


# ---------------------------------------------------------------- cascades

from graphchurn.contagion import (  # noqa: E402
    METHODS,
    ContagionCutoff,
    ContagionModel,
    Watcher,
    independent_cascade,
    linear_threshold,
    what_if,
)
from graphchurn.contagion.model import PRIOR_GROUP_LOG_ODDS, PRIOR_TIE_LOG_ODDS  # noqa: E402


def test_ic_with_probability_one_reaches_the_whole_component_only():
    g = _graph([(0, 1), (1, 2), (2, 3), (4, 5)])
    got = independent_cascade(g, [1], edge_probability=1.0, n_simulations=20)
    assert got.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    one_hop = independent_cascade(g, [1], edge_probability=1.0, n_simulations=20, max_hops=1)
    assert one_hop.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_ic_on_a_path_matches_p_to_the_power_of_distance():
    g = _graph([(0, 1), (1, 2)])
    got = independent_cascade(g, [0], edge_probability=0.5, n_simulations=4000, seed=1)
    np.testing.assert_allclose(got, [1.0, 0.5, 0.25], atol=0.03)


def test_ic_same_seed_same_output_other_seed_differs():
    g = _graph([(0, 1), (1, 2), (1, 3), (3, 4)], weights=[1, 2, 1, 3])
    a = independent_cascade(g, [0], n_simulations=300, seed=7)
    b = independent_cascade(g, [0], n_simulations=300, seed=7)
    c = independent_cascade(g, [0], n_simulations=300, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_lt_with_fixed_thresholds_by_hand():
    # 0-2 (1), 1-2 (1), 2-3 (2), 3-4 (1); seeds 0 and 1.
    # 2 hears 0 and 1 with 1/4 each: 0.5 >= theta_2 = 0.5 -> active.
    # 3 hears 2 with 2/3: active iff theta_3 <= 2/3; then 4 hears 3 with 1/1.
    g = _graph([(0, 2), (1, 2), (2, 3), (3, 4)], weights=[1.0, 1.0, 2.0, 1.0])
    stuck = linear_threshold(g, [0, 1], thresholds=[0, 0, 0.5, 0.7, 0.9])
    assert stuck.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    flows = linear_threshold(g, [0, 1], thresholds=[0, 0, 0.5, 0.6, 0.9])
    assert flows.tolist() == [1.0, 1.0, 1.0, 1.0, 1.0]
    one_round = linear_threshold(g, [0, 1], thresholds=[0, 0, 0.5, 0.6, 0.9], max_hops=1)
    assert one_round.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_lt_random_thresholds_on_a_path():
    # P(1 active) = P(theta_1 <= w01 / s1 = 1/2) = 1/2; 2 listens only to 1, so P(2) = 1/2.
    g = _graph([(0, 1), (1, 2)])
    got = linear_threshold(g, [0], n_simulations=4000, seed=3)
    np.testing.assert_allclose(got, [1.0, 0.5, 0.5], atol=0.03)


# ---------------------------------------------------------------- what-if, structural prior


def _two_cliques():
    # clique A = a0..a3, clique B = b0..b3, bridge a3-b0, off-net x tied to a0; a0-a1 weight 3
    names = ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3", "x"]
    ix = {v: i for i, v in enumerate(names)}
    pairs = [("a0", "a1"), ("a0", "a2"), ("a0", "a3"), ("a1", "a2"), ("a1", "a3"), ("a2", "a3"),
             ("b0", "b1"), ("b0", "b2"), ("b0", "b3"), ("b1", "b2"), ("b1", "b3"), ("b2", "b3"),
             ("a3", "b0"), ("a0", "x")]
    weights = [3.0] + [1.0] * (len(pairs) - 1)
    g = _graph([(ix[a], ix[b]) for a, b in pairs], weights=weights, names=names,
               on_net=[True] * 8 + [False])
    membership = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0])
    influencer = np.array([0.9, 0.1, 0.2, 0.5, 0.3, 0.4, 0.6, 0.7, 0.0])  # a0 tops on-net
    return g, membership, influencer


def test_what_if_prior_ranks_the_leavers_clique_first_with_hand_computed_risk():
    g, membership, influencer = _two_cliques()
    base = np.full(9, 0.1)
    value = np.full(9, 20.0)
    model = ContagionModel().fit([])
    assert model.source_ == "structural prior"
    alerts, at_risk = what_if(g, membership, base, value, ["a0"], model, influencer)
    assert alerts.attrs["source"] == "structural prior"
    assert alerts["community"].tolist() == [0, 1]
    assert alerts.loc[0, "members"] == 3  # a1..a3: the leaver and the off-net x are not scored
    assert alerts.loc[0, "increase"] > 0 and alerts.loc[1, "increase"] == 0
    assert set(at_risk["customer_id"]) == {"a1", "a2", "a3"}
    # a1: tie share 3/5 to a top influencer (weight 0.5 + 0.5 * 1), fully inside its group
    dz = PRIOR_TIE_LOG_ODDS * 0.6 + PRIOR_GROUP_LOG_ODDS * 1.0
    odds = 0.1 / 0.9 * np.exp(dz)
    row = at_risk.set_index("customer_id").loc["a1"]
    assert row["churn_probability_after"] == pytest.approx(odds / (1 + odds))
    assert row["reason"] == "1 of 3 strongest contacts is leaving (60% of tie strength), an influencer"
    assert at_risk["customer_id"].iloc[0] == "a1"  # the strongest tie rises most
    assert alerts.loc[0, "value_at_risk_after"] == pytest.approx(
        20.0 * at_risk.loc[at_risk["community"] == 0, "churn_probability_after"].sum())


def test_what_if_bridge_leaver_still_puts_its_own_clique_first():
    g, membership, influencer = _two_cliques()
    alerts, at_risk = what_if(g, membership, np.full(9, 0.1), None, ["a3"], None, influencer)
    assert alerts["community"].tolist()[0] == 0
    assert "b0" in set(at_risk["customer_id"])  # tied across the bridge
    assert "a3" not in set(at_risk["customer_id"]) and "x" not in set(at_risk["customer_id"])
    assert alerts["value_at_risk_before"].isna().all()


def test_what_if_rejects_unknown_leaver_without_echoing_it():
    g, membership, _ = _two_cliques()
    with pytest.raises(Exception) as err:
        what_if(g, membership, np.full(9, 0.1), None, ["+447700900123"])
    assert "+447700900123" not in str(err.value)


# ---------------------------------------------------------------- fitting on history


def _planted_world(seed=0, n_blocks=4, block=50):
    """Planted-partition graph; churn labels drawn from a known tie-share contagion."""
    rng = np.random.default_rng(seed)
    n = n_blocks * block
    membership = np.repeat(np.arange(n_blocks), block)
    a, b = np.triu_indices(n, k=1)
    keep = rng.random(len(a)) < np.where(membership[a] == membership[b], 0.15, 0.01)
    g = ig.Graph(n=n, edges=np.column_stack([a[keep], b[keep]]).tolist())
    g.es["weight"] = rng.lognormal(0.0, 0.7, g.ecount()).tolist()
    g.vs["name"] = [f"c{i:03d}" for i in range(n)]
    on_net = np.ones(n, dtype=bool)
    on_net[rng.choice(n, 10, replace=False)] = False
    g.vs["on_net"] = on_net.tolist()
    return g, membership, on_net, rng


def _planted_history(n_cutoffs=3, seed=0, with_departures=True):
    g, _, on_net, rng = _planted_world(seed)
    n = g.vcount()
    adj = np.asarray(g.get_adjacency_sparse(attribute="weight").todense())
    share = adj / np.maximum(adj.sum(axis=1, keepdims=True), 1e-12)
    history = []
    for _ in range(n_cutoffs):
        departed = on_net & (rng.random(n) < (0.15 if with_departures else 0.0))
        age = np.where(departed, rng.uniform(0, 60, n), np.nan)
        decay = np.where(departed, 0.5 ** (age / 30.0), 0.0)
        logit = -3.0 + 10.0 * share @ decay
        label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
        history.append(ContagionCutoff(graph=g, departure_age_days=age, label=label))
    return history


@pytest.fixture(scope="module")
def history():
    return _planted_history()


@pytest.fixture(scope="module")
def fitted(history):
    return {m: ContagionModel(method=m, half_life_days=30.0, n_simulations=60).fit(history)
            for m in METHODS}


def test_fit_exposure_recovers_the_planted_effect(fitted, history):
    model = fitted["exposure"]
    assert model.source_ == "fitted on history" and model.method_ == "exposure"
    # the fitted tie-share response tracks the planted 10 x decayed tie share
    cut = history[-1]
    p = model.predict_proba(cut)
    g = cut.graph
    adj = np.asarray(g.get_adjacency_sparse(attribute="weight").todense())
    share = adj / adj.sum(axis=1, keepdims=True)
    planted = share @ np.where(np.isfinite(cut.departure_age_days),
                               0.5 ** (cut.departure_age_days / 30.0), 0.0)
    assert np.corrcoef(p, planted)[0, 1] > 0.9
    assert model.coef_[0] + model.coef_[2] > 0


def test_auto_compares_methods_on_held_out_cutoffs(history):
    model = ContagionModel(half_life_days=30.0, n_simulations=100).fit(history)
    table = model.comparison_
    assert table["method"].tolist() == ["no contagion", *METHODS]
    assert table["evaluated_on"].iloc[0] == "expanding window: each of the later 2 of 3 cut-offs"
    assert table["selected"].sum() == 1
    chosen = table.loc[table["selected"]].iloc[0]
    assert chosen["method"] == model.method_
    baseline = table.iloc[0]
    assert chosen["test_log_loss"] < baseline["test_log_loss"]
    exposure_row = table.loc[table["method"] == "exposure"].iloc[0]
    assert exposure_row["test_auc"] > max(0.6, baseline["test_auc"])


def test_no_departures_in_history_falls_back_to_structural_prior():
    model = ContagionModel().fit(_planted_history(n_cutoffs=2, with_departures=False))
    assert model.source_ == "structural prior" and model.method_ == "structural_prior"


def test_fit_same_seed_same_coefficients(history):
    a = ContagionModel(method="independent_cascade", half_life_days=30, n_simulations=50).fit(history)
    b = ContagionModel(method="independent_cascade", half_life_days=30, n_simulations=50).fit(history)
    assert a.beta_ == b.beta_ and np.array_equal(a.coef_, b.coef_)


def test_cutoff_from_churn_dates_by_hand():
    g = _graph([(0, 1), (1, 2), (2, 3)], names=["a", "b", "c", "x"],
               on_net=[True, True, True, False])
    dates = pd.Series(pd.to_datetime(["2025-01-10", "2025-02-05", None]), index=["a", "b", "c"])
    cut = ContagionCutoff.from_churn_dates(g, dates, "2025-01-31", 30)
    np.testing.assert_allclose(cut.departure_age_days[:1], [21.0])
    assert np.isnan(cut.departure_age_days[1:]).all()
    assert cut.label.tolist() == [0, 1, 0, 0]
    assert cut.eligible.tolist() == [False, True, True, False]
    with pytest.raises(ValueError):
        ContagionCutoff.from_churn_dates(g, dates, "2025-01-31", 30, known_until="2025-02-15")


# ---------------------------------------------------------------- watch mode


def _full_probability(g, membership, base, leavers, model, infl):
    alerts, at_risk = what_if(g, membership, base, None, leavers, model, infl)
    p = np.where(np.asarray(g.vs["on_net"]), base, np.nan)
    idx = {name: i for i, name in enumerate(g.vs["name"])}
    for cid, after in zip(at_risk["customer_id"], at_risk["churn_probability_after"]):
        p[idx[cid]] = after
    p[[idx[c] for c in leavers]] = np.nan
    return p, alerts


@pytest.mark.parametrize("method", [*METHODS, "structural_prior"])
def test_watcher_equals_full_recompute(method, fitted):
    model = ContagionModel().fit([]) if method == "structural_prior" else fitted[method]
    g, membership, on_net, rng = _planted_world(seed=5)
    base = rng.uniform(0.02, 0.3, g.vcount())
    value = rng.uniform(5, 50, g.vcount())
    infl = rng.random(g.vcount())
    watcher = Watcher(g, membership, base, value, model, infl)
    leavers = [g.vs["name"][i] for i in np.flatnonzero(on_net)[[3, 4, 60]]]
    for k, leaver in enumerate(leavers):
        event_alerts, event_at_risk = watcher.update(leaver, f"2025-03-0{k + 1}")
        full_p, full_alerts = _full_probability(g, membership, base, leavers[: k + 1], model, infl)
        np.testing.assert_allclose(watcher.probability_, full_p, rtol=1e-9, atol=1e-12)
        # the event equals a what-if of this leaver on top of the earlier ones
        prior = np.full(g.vcount(), np.nan)
        prior[[g.vs["name"].index(c) for c in leavers[:k]]] = 0.0
        ref_alerts, ref_at_risk = what_if(g, membership, base, value, [leaver], model, infl,
                                          departure_age_days=prior)
        ref = ref_alerts.set_index("community").loc[event_alerts["community"]]
        cols = ["members", "expected_churners_before", "expected_churners_after",
                "value_at_risk_after"]
        np.testing.assert_allclose(event_alerts[cols].to_numpy(float), ref[cols].to_numpy(float),
                                   rtol=1e-9)
        assert event_at_risk["customer_id"].tolist() == ref_at_risk["customer_id"].tolist()
        assert len(watcher.last_affected_) < g.vcount()
    if method == "exposure":
        last = g.vs["name"].index(leavers[-1])
        assert sorted(watcher.last_affected_.tolist()) == sorted(g.neighbors(last))
    # a repeated departure changes nothing
    again_alerts, again_at_risk = watcher.update(leavers[0])
    assert again_alerts.empty and again_at_risk.empty


def test_what_if_with_rescore_uses_the_churn_models_response():
    g, membership, _ = _two_cliques()
    base = np.full(9, 0.1)
    adjacency = np.asarray(g.get_adjacency().data, dtype=bool)

    def rescore(departed_mask):
        # stand-in churn model: +0.2 for each departed contact
        return base + 0.2 * adjacency[:, departed_mask].sum(axis=1)

    alerts, at_risk = what_if(g, membership, base, None, ["a3"], rescore=rescore)
    assert alerts.attrs["method"] == "churn model rescore"
    assert sorted(at_risk["customer_id"]) == ["a0", "a1", "a2", "b0"]
    np.testing.assert_allclose(at_risk["increase"], 0.2)
    assert alerts.set_index("community").loc[0, "increase"] == pytest.approx(0.6)


def test_what_if_reasons_for_contacts_of_contacts():
    # a model with known coefficients: 5 log-odds per unit of log1p(energy received)
    model = ContagionModel(spread_iterations=3)
    model.method_, model.source_ = "spreading_activation", "fitted on history"
    model.coef_, model.half_life_days_, model.beta_ = np.array([5.0, 0.0]), 30.0, None
    g = _graph([(0, 1), (1, 2), (2, 3), (3, 4)])
    alerts, at_risk = what_if(g, [0, 1, 2, 3, 4], np.full(5, 0.1), None, ["c0"], model)
    assert at_risk["customer_id"].tolist() == ["c1", "c2", "c3"]  # 3 rounds reach 3 hops
    assert at_risk["reason"].tolist() == [
        "1 of 2 strongest contacts is leaving (50% of tie strength)",
        "2 steps from a leaver",
        "3 steps from a leaver",
    ]
    assert alerts["community"].tolist()[:3] == [1, 2, 3]


def test_held_out_gain_says_whether_the_history_supports_contagion(history):
    planted = ContagionModel(half_life_days=30.0, n_simulations=60).fit(history)
    assert planted.supported_ is True and planted.heldout_gain_nats_ > 1.92
    # Same graphs and departures, labels drawn without any contagion: no support.
    rng = np.random.default_rng(5)
    null = [ContagionCutoff(graph=c.graph, departure_age_days=c.departure_age_days,
                            label=(rng.random(len(c.label)) < 0.1).astype(np.int8))
            for c in history]
    model = ContagionModel(half_life_days=30.0, n_simulations=60).fit(null)
    assert model.source_ == "fitted on history"
    assert model.supported_ is False and model.heldout_gain_nats_ < 1.92
    assert ContagionModel(method="exposure").fit(history).supported_ is None  # no comparison
