"""Scores averaged over several draws of the RR sets (issue 22, experiments/results/
stability_averaged.md): the mean is taken by hand on tiny cases, each draw's influence
columns are those influencer_scores gives under its seed, and the same seed gives the same
outputs."""

import igraph as ig
import numpy as np
import pandas as pd
import pytest

from graphchurn.errors import InputError
from graphchurn.features import build
from graphchurn.features.build import (INFLUENCE_DRAW_COLUMNS, build_features,
                                       influence_draw_seeds)
from graphchurn.pipeline import (AnalyzeConfig, ChurnPipeline, analyze, averaged_over_draws,
                                 model_table, with_draw)
from graphchurn.social.roles import influencer_score_draws, influencer_scores
from graphchurn.synth.world import generate_world


def test_averaged_over_draws_is_the_mean_by_hand():
    X = pd.DataFrame({"influencer_score": [0.1, 0.5, 0.9],
                      "departed_influencer_contact": np.array([0, 1, 0], dtype=np.int8),
                      "f": [1.0, 2.0, 3.0]}, index=["a", "b", "c"])
    draws = [pd.DataFrame({"influencer_score": [0.3, 0.5, 0.7],
                           "departed_influencer_contact": np.array([1, 1, 0], dtype=np.int8)},
                          index=["c", "b", "a"]),
             pd.DataFrame({"influencer_score": [0.2, 0.2, 0.2],
                           "departed_influencer_contact": np.array([0, 0, 0], dtype=np.int8)},
                          index=["a", "b", "c"])]

    def score(t):  # a "model" whose answer is easy to work out
        return (t["influencer_score"] + 10 * t["departed_influencer_contact"] + 100 * t["f"]
                ).to_numpy()

    # a: own 100.1, draw 1 (a -> 0.7, 0) 100.7, draw 2 100.2; b: 210.5, 210.5, 200.2;
    # c: 300.9, 310.3, 300.2.
    expected = [(100.1 + 100.7 + 100.2) / 3, (210.5 + 210.5 + 200.2) / 3,
                (300.9 + 310.3 + 300.2) / 3]
    np.testing.assert_allclose(averaged_over_draws(score, X, draws), expected)
    np.testing.assert_array_equal(averaged_over_draws(score, X, []), score(X))
    # The table itself is left as it was.
    assert X["influencer_score"].tolist() == [0.1, 0.5, 0.9]


def test_one_model_per_draw_is_the_mean_by_hand():
    X = pd.DataFrame({"influencer_score": [0.1, 0.5]}, index=["a", "b"])
    draws = [pd.DataFrame({"influencer_score": [0.3, 0.7]}, index=["a", "b"])]
    models = [lambda t: t["influencer_score"].to_numpy(),
              lambda t: 10 * t["influencer_score"].to_numpy()]
    # a: (0.1 + 3.0) / 2; b: (0.5 + 7.0) / 2 -- each model scores its own draw only.
    np.testing.assert_allclose(averaged_over_draws(models, X, draws), [1.55, 3.75])
    with pytest.raises(ValueError):
        averaged_over_draws(models, X, [])


def test_averaged_over_draws_needs_every_row():
    X = pd.DataFrame({"influencer_score": [0.1, 0.5]}, index=["a", "b"])
    with pytest.raises(KeyError):
        averaged_over_draws(lambda t: t["influencer_score"].to_numpy(), X,
                            [pd.DataFrame({"influencer_score": [0.3]}, index=["a"])])


def test_draw_seeds_start_with_the_seed_and_two_seeds_share_none():
    assert influence_draw_seeds(7, 1) == [7]
    zero, one = influence_draw_seeds(0, 8), influence_draw_seeds(1, 8)
    assert zero[0] == 0 and one[0] == 1
    assert len(set(zero) | set(one)) == 16
    assert influence_draw_seeds(0, 8) == zero


def test_each_draw_is_influencer_scores_under_its_seed():
    rng = np.random.default_rng(0)
    g = ig.Graph.Erdos_Renyi(n=80, m=200, loops=False)
    g.es["weight"] = rng.random(g.ecount()).tolist()
    own = influencer_scores(g, seed=5, ris_samples=300, descriptive=False)
    draws = influencer_score_draws(g, own, [5, 11], ris_samples=300)
    other = influencer_scores(g, seed=11, ris_samples=300, descriptive=False)
    np.testing.assert_array_equal(draws[:, 0], own["influencer_score"].to_numpy())
    np.testing.assert_array_equal(draws[:, 1], other["influencer_score"].to_numpy())
    assert not np.array_equal(draws[:, 0], draws[:, 1])


@pytest.fixture(scope="module")
def world():
    return generate_world(n_customers=300, days=150, seed=3)


def test_a_cutoff_carries_the_other_draws_columns(world):
    fs = build_features(world.interactions, world.customers, world.end, definition="contract",
                        seed=2, communities=False, influence_draws=4)
    assert len(fs.influence_draws) == 3
    for frame in fs.influence_draws:
        assert frame.index.equals(fs.table.index)
        assert list(frame.columns) == list(INFLUENCE_DRAW_COLUMNS)
        assert (frame.dtypes == fs.table[list(INFLUENCE_DRAW_COLUMNS)].dtypes).all()
    # The draws differ from the table's own and from each other.
    own = fs.table["influencer_score"].to_numpy()
    assert all(not np.array_equal(own, f["influencer_score"].to_numpy())
               for f in fs.influence_draws)
    fs.release_graph()
    assert len(fs.influence_draws) == 3


def test_the_config_sets_the_draws(world):
    """The default is one draw (no other draws carried); influence_draws=K carries K - 1."""
    from graphchurn.pipeline import feature_kwargs

    one = build_features(world.interactions, world.customers, world.end,
                         **feature_kwargs(AnalyzeConfig(), "contract"), communities=False)
    assert one.influence_draws == []
    cfg = AnalyzeConfig(influence_draws=build.STABLE_INFLUENCE_DRAWS)
    fs = build_features(world.interactions, world.customers, world.end,
                        **feature_kwargs(cfg, "contract"), communities=False)
    assert len(fs.influence_draws) == build.STABLE_INFLUENCE_DRAWS - 1


def test_the_scores_are_the_draw_models_mean(world):
    """Each draw has its own scoring model, fitted on that draw's training tables; the scores
    are the mean of each model on its draw of the as-of table."""
    cfg = AnalyzeConfig(influence_draws=4)
    pipe = ChurnPipeline(cfg).fit(world.interactions, world.customers)
    models = [pipe.model_] + pipe._final_draw_models
    assert len(models) == 4
    X = model_table(pipe.scoring_.table, cfg)
    tables = [X] + [with_draw(X, f) for f in pipe.scoring_.influence_draws]
    by_hand = np.mean([m.predict_proba(t)[:, 1] for m, t in zip(models, tables)], axis=0)
    got = pipe.analysis_.scores.set_index("customer_id")["churn_probability"].reindex(X.index)
    np.testing.assert_allclose(got.to_numpy(), by_hand, rtol=0, atol=1e-12)
    # The draw models were fitted on other columns: they are other models.
    assert not np.allclose(models[0].predict_proba(X)[:, 1], models[1].predict_proba(X)[:, 1])


@pytest.mark.parametrize("draws", [0, 2.5, True])
def test_influence_draws_is_checked(world, draws):
    with pytest.raises(InputError, match="influence_draws must be a whole number >= 1"):
        ChurnPipeline(AnalyzeConfig(influence_draws=draws)).fit(world.interactions,
                                                                world.customers)


def test_same_seed_same_averaged_outputs(world):
    cfg = AnalyzeConfig(seed=1, influence_draws=4)
    a, b = (analyze(world.interactions, world.customers, cfg) for _ in range(2))
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert a.metrics["roc_auc"] == b.metrics["roc_auc"]


def test_one_draw_is_the_single_draw_score(world):
    """With one draw (the default) the scores are the model's own probabilities of the
    table."""
    analysis = analyze(world.interactions, world.customers, AnalyzeConfig())
    X = analysis.features.table[analysis.model.feature_names_in_]
    p = analysis.model.predict_proba(X)[:, 1]
    got = analysis.scores.set_index("customer_id")["churn_probability"].reindex(X.index)
    np.testing.assert_allclose(got.to_numpy(), p, atol=1e-12)
