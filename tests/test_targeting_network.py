"""Network-aware value (issue 24, item 1): hand-computed cases on tiny graphs."""

import igraph as ig
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from graphchurn.contagion.model import ContagionCutoff, ContagionModel, what_if
from graphchurn.targeting.contact_list import contact_list
from graphchurn.targeting.network import (
    NETWORK_COLUMNS,
    FollowerEffects,
    follower_effects,
    network_contact_list,
)


def _scores(ids, probs, values):
    return pd.DataFrame({"customer_id": ids, "churn_probability": probs, "value": values})


def test_leader_with_followers_beats_a_riskier_loner():
    # a leads b and c: D[a, b] = D[a, c] = 0.4. Lifetime value 10 each (value 10, 1 month).
    # own(a) = 0.5 * 0.5 * 10 = 2.5; claim of a on b = p_a * D = 0.2, claimable r_b = 0.8 *
    # (1 - (1 - 0.2 / 0.8)) = 0.2, so followers(a) = 2 * min(0.5 * 0.2, 0.2) * 10 = 2.
    # d: own 0.5 * 0.8 * 10 = 4, no followers. Today's list calls d, the network list calls a.
    scores = _scores(["a", "b", "c", "d"], [0.5, 0.2, 0.2, 0.8], [10.0] * 4)
    D = sparse.csr_matrix(([0.4, 0.4], ([0, 0], [1, 2])), shape=(4, 4))
    call = {"call": (1.0, 0.5)}
    today = contact_list(scores, 1.0, channels=call, horizon_months=1)
    assert today["customer_id"].tolist() == ["d"]
    out = network_contact_list(scores, 1.0, D, channels=call, horizon_months=1)
    assert list(out.columns) == NETWORK_COLUMNS
    assert out["customer_id"].tolist() == ["a"]
    row = out.iloc[0]
    assert row["own_value"] == pytest.approx(2.5)
    assert row["followers_value"] == pytest.approx(2.0)
    assert row["expected_saving"] == pytest.approx(4.5)
    assert row["net_saving"] == pytest.approx(3.5)
    # without effects it is today's list
    plain = network_contact_list(scores, 1.0, None, channels=call, horizon_months=1)
    assert plain["customer_id"].tolist() == ["d"]
    assert plain["followers_value"].tolist() == [0.0]


def test_two_leaders_of_one_group_do_not_both_claim_the_same_followers():
    # a and e both lead b and c (D = 0.4), p = 0.5, a sure-fire call (effect 1).
    # claimable r_b = 0.8 * (1 - 0.75 ** 2) = 0.35 (noisy-OR), not 0.2 + 0.2.
    # a first (id tie-break): own 5 + followers 2 * 0.2 * 10 = 4; then e: own 5 + followers
    # 2 * (0.35 - 0.2) * 10 = 3. Together 7 = the followers' whole claimable risk x value.
    scores = _scores(["a", "b", "c", "e"], [0.5, 0.2, 0.2, 0.5], [10.0] * 4)
    D = sparse.csr_matrix(([0.4, 0.4, 0.4, 0.4], ([0, 0, 3, 3], [1, 2, 1, 2])), shape=(4, 4))
    out = network_contact_list(scores, 2.0, D, channels={"call": (1.0, 1.0)}, horizon_months=1)
    got = out.set_index("customer_id")
    assert sorted(got.index) == ["a", "e"]
    assert got.loc["a", "followers_value"] == pytest.approx(4.0)
    assert got.loc["e", "followers_value"] == pytest.approx(3.0)
    assert got["followers_value"].sum() == pytest.approx(7.0)
    assert got["own_value"].tolist() == pytest.approx([5.0, 5.0])
    assert out["cumulative_cost"].iloc[-1] == pytest.approx(2.0)


def test_a_contacted_follower_is_not_claimed_again():
    # b is contacted itself first (own 1 * 0.9 * 100 = 90 with effect 1): its claimable risk
    # drops to 0, so a (own 0.5 * 10 = 5) claims nothing of b afterwards.
    scores = _scores(["a", "b"], [0.5, 0.9], [10.0, 100.0])
    D = sparse.csr_matrix(([0.05], ([0], [1])), shape=(2, 2))
    out = network_contact_list(scores, 2.0, D, channels={"call": (1.0, 1.0)}, horizon_months=1)
    got = out.set_index("customer_id")
    assert got.loc["b", "own_value"] == pytest.approx(90.0)
    assert got.loc["a", "followers_value"] == pytest.approx(0.0)


def _triangle_pair():
    g = ig.Graph.Full(3) + ig.Graph.Full(3)
    g.add_edges([(2, 3)])
    g.es["weight"] = [1.0, 2.0, 1.0, 1.0, 1.0, 3.0, 0.5]
    g.vs["name"] = list("abcdef")
    g.vs["on_net"] = True
    return g


def test_follower_effects_match_the_what_if_of_one_leaver():
    g = _triangle_pair()
    membership = [0, 0, 0, 1, 1, 1]
    base = np.array([0.1, 0.2, 0.05, 0.3, 0.1, 0.15])
    infl = np.array([5.0, 1.0, 2.0, 0.5, 3.0, 0.0])
    fe = follower_effects(g, base, None, membership, infl)
    assert isinstance(fe, FollowerEffects)
    D = fe.matrix.toarray()
    for i, leaver in enumerate("abcdef"):
        _, at_risk = what_if(g, membership, base, None, [leaver], influencer_score=infl)
        got = dict(zip(at_risk["customer_id"], at_risk["increase"]))
        for j, name in enumerate("abcdef"):
            assert D[i, j] == pytest.approx(got.get(name, 0.0), abs=1e-12), (leaver, name)


def test_follower_effects_of_a_fitted_exposure_model_match_the_what_if():
    rng = np.random.default_rng(0)
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, 60, (200, 2)) if a < b}
    g = ig.Graph(n=60, edges=sorted(pairs))
    g.es["weight"] = rng.uniform(0.5, 2.0, g.ecount()).tolist()
    g.vs["name"] = [f"v{i}" for i in range(60)]
    g.vs["on_net"] = True
    history = []
    for k in range(3):
        age = np.where(rng.random(60) < 0.15, rng.uniform(0, 20, 60), np.nan)
        label = (rng.random(60) < 0.2).astype(np.int8)
        history.append(ContagionCutoff(graph=g, departure_age_days=age, label=label))
    model = ContagionModel(method="exposure", half_life_days=30).fit(history)
    base = rng.uniform(0.02, 0.4, 60)
    fe = follower_effects(g, base, model)
    D = fe.matrix.toarray()
    for i in (0, 7, 31):
        _, at_risk = what_if(g, np.zeros(60), base, None, [f"v{i}"], model)
        inc = at_risk.set_index("customer_id")["increase"].reindex(fe.ids).fillna(0.0).to_numpy().copy()
        inc[i] = 0.0
        assert np.allclose(D[i], inc, atol=1e-12)


def test_effects_are_realigned_on_the_scores_ids():
    fe = FollowerEffects(["x", "y", "z"], sparse.csr_matrix(([0.3], ([0], [2])), shape=(3, 3)),
                         "test")
    m = fe.aligned(["z", "q", "x"]).toarray()
    assert m[2, 0] == pytest.approx(0.3)
    assert m.sum() == pytest.approx(0.3)


def test_budget_is_respected_and_rows_are_unique_on_a_random_case():
    rng = np.random.default_rng(1)
    n = 300
    scores = _scores([f"c{i:03d}" for i in range(n)], rng.beta(1, 5, n), rng.gamma(2, 15, n))
    D = sparse.random(n, n, density=0.03, random_state=2, data_rvs=lambda k: rng.uniform(0, 0.2, k))
    out = network_contact_list(scores, 30.0, D.tocsr())
    assert out["cumulative_cost"].iloc[-1] <= 30.0 + 1e-9
    assert out["customer_id"].is_unique
    assert (out["net_saving"] > 0).all()
    assert np.allclose(out["expected_saving"], out["own_value"] + out["followers_value"])
