"""A cut-off's feature table on the executors (graphchurn.engines.spark_features) against the
local engine's (graphchurn.features.build.build_features), in Spark's local mode.

One small generated world, two cut-offs (one with a short history behind it); the local
engine's influence spread is taken within two hops there too (the executors' estimator), so
every column must agree.
"""

import functools

import numpy as np
import pandas as pd
import pytest

from spark_guard import require_spark, spark  # noqa: E402,F401 (spark: the fixture)

require_spark()

from graphchurn.engines import spark_features  # noqa: E402
from graphchurn.engines.spark import log_from_pandas  # noqa: E402
from graphchurn.features import build  # noqa: E402
from graphchurn.synth.world import generate_world  # noqa: E402
from graphchurn.windows.labels import active_at, before, known_departures  # noqa: E402


#: PageRank on Spark stops within 5.7e-7 (L1) of the fixed point (spark_graph.pagerank).
_ATOL = {"pagerank": 6e-7}


@pytest.fixture(scope="module")
def world():
    return generate_world(n_customers=250, days=100, seed=3)


def _local(world, cutoff, monkeypatch, **kwargs):
    khop = functools.partial(build.influencer_scores, influence_method="khop",
                             influence_hops=2)
    monkeypatch.setattr(build, "influencer_scores", khop)
    return build.build_features(world.interactions, world.customers, cutoff,
                                definition="contract", communities=False, **kwargs)


def _on_spark(spark, world, cutoff, window_days=90, **kwargs):
    cutoff = pd.Timestamp(cutoff)
    past = before(world.interactions, cutoff)
    known = build.known_customers(world.customers, cutoff)
    departures = known_departures(past, known, cutoff, "contract", 30)
    active = active_at(past, known, cutoff, "contract", 30)
    start = cutoff - pd.Timedelta(days=window_days)
    if past["timestamp"].min().normalize() > start:
        start = past["timestamp"].min().normalize()
    covered = (cutoff - start) / pd.Timedelta(days=window_days)
    slog = log_from_pandas(spark, world.interactions)
    vertex = spark_features.cutoff_features(
        spark, slog, cutoff, start=start, tie_start=cutoff - pd.Timedelta(days=180),
        departures=departures, active=active, customers=world.customers,
        covered_share=covered, **kwargs)
    return spark_features.feature_table(vertex, active, world.customers, cutoff), vertex


@pytest.mark.parametrize("day, max_degree", [(100, None), (60, 5)])
def test_features_equal_the_local_engine(spark, world, monkeypatch, day, max_degree):
    # Day 60 has 60 days of log behind it: window totals are scaled up on both sides; with
    # max_degree=5 the hubs' ties leave the graph on both sides.
    cutoff = world.interactions["timestamp"].min().normalize() + pd.Timedelta(days=day)
    expected = _local(world, cutoff, monkeypatch, max_degree=max_degree).table
    got, vertex = _on_spark(spark, world, cutoff, max_degree=max_degree)
    assert list(got.index) == list(expected.index)
    past = world.interactions[world.interactions["timestamp"] < cutoff]
    assert vertex.count() == len(set(world.customers["customer_id"].astype(str))
                                 | set(past["src"].astype(str)) | set(past["dst"].astype(str)))
    if max_degree is None:
        assert got["share_to_departed"].gt(0).any()  # departures to be exposed to
        assert got["share_to_departed_before_onset"].gt(0).any()
    else:
        assert (expected["distinct_contacts"] > max_degree).any()  # some hubs at this cap
    # With the hubs' ties gone the graph has isolated pairs of equal PageRank, which Spark's
    # iteration leaves within its tolerance (not bit-equal): such a tie can split into
    # neighbouring ranks, a few thousandths of the score, and move a customer across the
    # influencer cut.
    near = {"influencer_score", "departed_influencer_contact"} if max_degree else set()
    for column in expected.columns:
        a, b = expected[column], got[column]
        if column in near:
            continue
        if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
            np.testing.assert_allclose(b.to_numpy(dtype=float), a.to_numpy(dtype=float),
                                       rtol=1e-6, atol=_ATOL.get(column, 1e-9), err_msg=column)
        else:
            assert (b.astype(str) == a.astype(str)).all(), column
    if near:
        score, local = got["influencer_score"], expected["influencer_score"]
        assert np.abs(score - local).max() < 0.01
        assert score.corr(local, method="spearman") > 0.999
        assert (got["departed_influencer_contact"]
                != expected["departed_influencer_contact"]).mean() < 0.02


def test_percentile_rank_matches_the_local_one(spark):
    from graphchurn.social.roles import percentile_rank as local

    values = np.array([3.0, 1.0, 2.0, 2.0, 0.0, 3.0, 3.0])
    frame = spark.createDataFrame([(i, float(x)) for i, x in enumerate(values)], "id int, x double")
    got = {r["id"]: r["r"] for r in spark_features.percentile_rank(frame, "x", "r").collect()}
    np.testing.assert_allclose([got[i] for i in range(len(values))], local(values))


@pytest.mark.slow
def test_pipeline_with_features_on_the_executors(spark, world, monkeypatch):
    from graphchurn.pipeline import AnalyzeConfig, analyze

    cfg = AnalyzeConfig(embeddings=False)
    khop = functools.partial(build.influencer_scores, influence_method="khop",
                             influence_hops=2)
    monkeypatch.setattr(build, "influencer_scores", khop)
    local = analyze(world.interactions, world.customers, cfg)
    monkeypatch.undo()
    remote = analyze(world.interactions, world.customers,
                     AnalyzeConfig(engine="spark", embeddings=False), spark=spark,
                     features_on="executors")
    timings = remote.metrics["spark_timings_s"]
    assert sum("spark executors" in name for name in timings) == len(remote.training)
    assert remote.features.has_graph  # the scoring cut-off's, for groups and influencers
    for fs_local, fs_remote in zip(local.training, remote.training):
        assert list(fs_remote.table.columns) == list(fs_local.table.columns)
        pd.testing.assert_frame_equal(fs_remote.table, fs_local.table, check_dtype=False,
                                      rtol=1e-6, atol=6e-7)
    a = local.scores.set_index("customer_id")["churn_probability"]
    b = remote.scores.set_index("customer_id")["churn_probability"].reindex(a.index)
    assert a.corr(b, method="spearman") >= 0.99
    assert remote.metrics["roc_auc"] == pytest.approx(local.metrics["roc_auc"], abs=0.01)


def test_features_on_is_checked(spark, world):
    from graphchurn.errors import InputError
    from graphchurn.pipeline import AnalyzeConfig, ChurnPipeline

    with pytest.raises(InputError, match="features_on must be one of driver, executors"):
        ChurnPipeline(AnalyzeConfig(engine="spark"), spark=spark,
                      features_on="gpu").prepare(world.interactions, world.customers)
    with pytest.raises(InputError, match="no draws to average"):
        ChurnPipeline(AnalyzeConfig(engine="spark", influence_draws=4), spark=spark,
                      features_on="executors").prepare(world.interactions, world.customers)
