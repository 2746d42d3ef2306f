"""Which cut-offs an analysis trains and backtests on (pipeline.labelled_cutoffs,
pipeline.backtest_training), by hand and on a small world."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from graphchurn.errors import InputError
from graphchurn.io.atomic import write_json
from graphchurn.pipeline import (
    AnalyzeConfig,
    analyze,
    backtest_training,
    labelled_cutoffs,
    resolve_as_of,
    stack_cutoffs,
    stray_timestamps,
)
from graphchurn.synth.world import generate_world

T = pd.Timestamp


def test_labelled_cutoffs_need_a_full_activity_window_behind_them():
    log = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-03-30 08:00"])})
    as_of = T("2024-04-01")
    # 30 days before 2024-02-01 is 2024-01-02, inside the log; before 2024-01-02 it is not.
    assert labelled_cutoffs(log, as_of, AnalyzeConfig(n_train_cutoffs=4)) == [
        T("2024-03-02"), T("2024-02-01")]
    assert labelled_cutoffs(log, as_of, AnalyzeConfig(
        n_train_cutoffs=5, train_cutoff_step_days=15)) == [
        T("2024-03-02"), T("2024-02-16"), T("2024-02-01")]
    assert labelled_cutoffs(log, as_of, AnalyzeConfig(active_window_days=60)) == [T("2024-03-02")]
    assert labelled_cutoffs(log.iloc[:0], as_of, AnalyzeConfig()) == []


def test_the_newest_cut_off_is_used_with_less_than_an_activity_window_behind_it():
    # issue 22: 47 days of log, a 30-day horizon: the cut-off 30 days back has 17 days behind it.
    log = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-02-16 08:00"])})
    as_of = T("2024-02-17")
    assert labelled_cutoffs(log, as_of, AnalyzeConfig()) == [T("2024-01-18")]
    # No log before the would-be cut-off: none, and the refusal names what would work.
    assert labelled_cutoffs(log, as_of, AnalyzeConfig(horizon_days=47)) == []
    with pytest.raises(InputError, match=r"horizon of at most 46 days, or a log of at least 48 days"):
        analyze(log.assign(src="a", dst="b"), None, AnalyzeConfig(horizon_days=47))


@pytest.mark.slow
def test_a_log_shorter_than_two_horizons_is_analysed_with_a_warning(caplog):
    world = generate_world(n_customers=400, days=47, seed=3)
    with caplog.at_level("WARNING", logger="graphchurn"):
        result = analyze(world.interactions, world.customers,
                         AnalyzeConfig(embeddings=False, horizon_days=30))
    m = result.metrics
    cutoff = str((world.end - pd.Timedelta(days=30)).date())
    assert m["cutoff"] == cutoff and m["training_cutoffs"] == [cutoff]
    assert 0.0 <= m["roc_auc"] <= 1.0 and m["n"] > 0  # a backtest is reported
    assert m["short_history"] == [{"cutoff": cutoff, "history_days": 17,
                                   "activity_window_days": 30}]
    assert any(f"{cutoff} has 17 day(s) of history" in r.getMessage() for r in caplog.records)
    assert any(n.startswith("short history") for n in m["notes"])
    assert m["window_coverage"][cutoff] < 1.0
    assert len(result.scores) > 0


def test_backtest_trains_only_on_cut_offs_labelled_by_the_test_cut_off():
    fortnightly = [T("2024-03-02"), T("2024-02-16"), T("2024-02-01"), T("2024-01-17")]
    # 2024-02-16 + 30 days = 2024-03-17: its churners are still to come at 2024-03-02.
    assert backtest_training(fortnightly, 30) == [2, 3]
    assert backtest_training(fortnightly, 14) == [1, 2, 3]
    assert backtest_training(fortnightly, 45) == [3]
    assert backtest_training(fortnightly[:1], 30) == []
    assert backtest_training([], 30) == []


@pytest.mark.slow
@pytest.mark.parametrize("step, n", [(None, 4), (15, 5)])
def test_analyze_backtest_never_trains_on_labels_after_its_cut_off(step, n):
    world = generate_world(n_customers=400, days=150, seed=4, monthly_churn=0.08)
    cfg = AnalyzeConfig(n_train_cutoffs=n, train_cutoff_step_days=step, embeddings=False,
                         estimator="logistic")  # the fastest model: the test is about cut-offs
    result = analyze(world.interactions, world.customers, cfg)
    m = result.metrics
    test_cutoff = T(m["cutoff"])
    trained_on = [T(d) for d in m["backtest"].removeprefix("trained on cut-offs ").split(", ")]
    assert trained_on and all(c + pd.Timedelta(days=30) <= test_cutoff for c in trained_on)
    # The scoring model uses every labelled cut-off, the overlapping ones included.
    expected = [str((world.end - pd.Timedelta(days=30 + i * (step or 30))).date()) for i in range(n)]
    assert m["training_cutoffs"] == expected
    assert len(trained_on) == 3  # days 30-90 of 150 monthly; days 60-90 fortnightly


def test_stack_cutoffs_marks_the_newest_stacked_cut_off():
    cutoffs = [(pd.DataFrame({"f": [float(i)] * (i + 1)}, index=[f"c{j}" for j in range(i + 1)]),
                pd.Series([i % 2] * (i + 1))) for i in range(3)]  # sizes 1, 2, 3
    X, y, latest = stack_cutoffs(cutoffs)
    assert X["f"].tolist() == [0.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    assert latest.tolist() == [True, False, False, False, False, False]
    X, y, latest = stack_cutoffs(cutoffs, [2, 1])
    assert X["f"].tolist() == [2.0, 2.0, 2.0, 1.0, 1.0]
    assert latest.tolist() == [True, True, True, False, False]
    assert y.tolist() == [0, 0, 0, 1, 1]


@pytest.mark.slow
@pytest.mark.parametrize("draws", [1, 4])
def test_analyze_matches_the_newest_cut_offs_churn_rate_without_reordering(draws):
    """The scoring model's mean probability over the newest labelled cut-off equals that
    cut-off's churn rate; --pooled-churn-rate keeps the pooled level (no shift) and the same
    ranking of customers. With one influence draw the scores are that model's, shifted by its
    level shift; with several draws they are the mean of one model per draw, each with its
    own shift, so the log-odds move by about the same amount for every customer (the ranking
    is kept), not by exactly the first model's shift."""
    world = generate_world(n_customers=400, days=150, seed=5, monthly_churn=0.1)
    cfg = AnalyzeConfig(embeddings=False, estimator="logistic", influence_draws=draws)
    shifted = analyze(world.interactions, world.customers, cfg)
    pooled = analyze(world.interactions, world.customers,
                     AnalyzeConfig(embeddings=False, estimator="logistic", pooled_churn_rate=True,
                                   influence_draws=draws))
    newest_y = shifted.training_labels[0]
    newest_X = shifted.training[0].table.loc[newest_y.index]
    np.testing.assert_allclose(shifted.model.predict_proba(newest_X)[:, 1].mean(),
                               newest_y.mean(), rtol=1e-9)
    assert shifted.metrics["level_shift"]["final"] != 0.0
    assert pooled.metrics["level_shift"] == {"backtest": 0.0, "final": 0.0}
    a = shifted.scores.set_index("customer_id")["churn_probability"]
    b = pooled.scores.set_index("customer_id")["churn_probability"].reindex(a.index)
    inside = (a > 1e-6) & (a < 1 - 1e-6)  # scores.csv rounds; compare where logit is defined
    moved = logit(a[inside]) - logit(b[inside])
    if draws == 1:
        np.testing.assert_allclose(moved, shifted.metrics["level_shift"]["final"], atol=1e-3)
    else:
        assert np.ptp(moved) < 1e-3
        assert moved.mean() == pytest.approx(shifted.metrics["level_shift"]["final"], abs=0.05)
    for key in ("roc_auc", "pr_auc", "lift_top_decile"):
        assert shifted.metrics[key] == pytest.approx(pooled.metrics[key])


@pytest.mark.slow
def test_customers_who_join_later_are_left_out_of_earlier_cut_offs():
    """Forty customers of a world 'join' on day 100 (their earlier rows removed, start_date
    set): analyze leaves them out of the training cut-offs before that day, where they would
    otherwise be labelled stayers without a single call, and scores them at as-of."""
    world = generate_world(n_customers=400, days=150, seed=6, monthly_churn=0.08)
    customers = world.customers.copy()
    joined = world.start + pd.Timedelta(days=100)
    newcomers = customers.loc[customers["churn_date"].isna(), "customer_id"].iloc[:40]
    log = world.interactions
    early = log["timestamp"] < joined
    log = log[~(early & (log["src"].isin(newcomers) | log["dst"].isin(newcomers)))]
    customers["start_date"] = pd.NaT
    customers.loc[customers["customer_id"].isin(newcomers), "start_date"] = joined
    result = analyze(log, customers, AnalyzeConfig(embeddings=False, estimator="logistic"))
    for fs, labels in zip(result.training, result.training_labels):
        inside = set(newcomers) & set(labels.index)
        assert not inside if fs.cutoff <= joined else inside == set(newcomers)
    assert any(fs.cutoff <= joined for fs in result.training)
    assert set(newcomers) <= set(result.scores["customer_id"])


@pytest.mark.slow
def test_groups_and_influencers_name_only_current_customers():
    """Leavers stay in the graph (their ties feed the exposure features), but groups.csv and
    influencers.csv are for a retention team: no group made only of leavers, and nobody who
    left is named as an influencer."""
    world = generate_world(n_customers=400, days=150, seed=7, monthly_churn=0.1)
    result = analyze(world.interactions, world.customers,
                     AnalyzeConfig(embeddings=False, estimator="logistic"))
    scored = set(result.scores["customer_id"])
    in_graph = set(result.features.graph.names)
    left = set(world.customers.loc[world.customers["churn_date"] <= result.as_of, "customer_id"])
    assert len(left & in_graph) > 20  # the graph does hold leavers, so the test can fail
    assert set(result.groups["community"]) == set(result.scores["community"].dropna())
    named = {c for cell in result.groups["top_influencers"] for c in cell.split(";") if c}
    assert named and named <= scored
    assert set(result.influencers["customer_id"]) <= scored
    # Every group's expected churners are its scored customers' probabilities.
    assert result.groups["expected_churners"].sum() == pytest.approx(
        result.scores["churn_probability"].sum())


def test_an_as_of_after_the_log_ends_warns_then_fails(caplog):
    log = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-03-05 10:00"])})
    assert resolve_as_of(log, AnalyzeConfig()) == T("2024-03-06")
    assert resolve_as_of(log, AnalyzeConfig(as_of=T("2024-02-01"))) == T("2024-02-01")
    assert not caplog.records
    with caplog.at_level("WARNING", logger="graphchurn"):
        assert resolve_as_of(log, AnalyzeConfig(as_of=T("2024-03-16"))) == T("2024-03-16")
    assert "10 day(s) after the log ends (2024-03-06)" in caplog.text
    assert "horizon" not in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="graphchurn"):
        resolve_as_of(log, AnalyzeConfig(as_of=T("2024-04-06")))
    assert "31 day(s) after" in caplog.text and "longer than the 30-day horizon" in caplog.text


@pytest.mark.slow
def test_an_as_of_far_after_the_log_is_blamed_on_the_as_of():
    world = generate_world(n_customers=200, days=120, seed=3, monthly_churn=0.1)
    late = world.end + pd.Timedelta(days=60)
    with pytest.raises(InputError, match=r"^as_of: .*days after the log ends"):
        analyze(world.interactions, None, AnalyzeConfig(as_of=late, definition="inactivity",
                                                        embeddings=False, estimator="logistic"))


@pytest.mark.slow
def test_an_older_cut_off_without_churners_is_dropped_with_a_note():
    """A quiet month among the older training cut-offs used to abort the run; it is left out
    and said so. Without churners in the newest cut-off the backtest has nothing to measure."""
    world = generate_world(n_customers=400, days=180, seed=8, monthly_churn=0.08)
    customers = world.customers.copy()
    as_of = world.end
    oldest = as_of - pd.Timedelta(days=120)  # the 4th cut-off, 30 days apart
    quiet = customers["churn_date"].between(oldest, oldest + pd.Timedelta(days=30),
                                            inclusive="right")
    assert quiet.sum() > 0
    customers.loc[quiet, "churn_date"] = pd.NaT
    cfg = AnalyzeConfig(as_of=as_of, embeddings=False, estimator="logistic")
    result = analyze(world.interactions, customers, cfg)
    assert str(oldest.date()) not in result.metrics["training_cutoffs"]
    assert len(result.metrics["training_cutoffs"]) == 3
    assert any(str(oldest.date()) in note and "dropped" in note for note in result.notes)
    # With workers, the backtest model is not fitted early on cut-offs the run then drops:
    # the same backtest on the cut-offs kept.
    sideways = analyze(world.interactions, customers, replace(cfg, n_jobs=2))
    assert "RFM baseline" not in sideways.metrics["timings_s"]
    assert sideways.metrics["roc_auc"] == result.metrics["roc_auc"]
    pd.testing.assert_frame_equal(sideways.scores, result.scores)

    newest = as_of - pd.Timedelta(days=30)
    customers.loc[customers["churn_date"].between(newest, as_of, inclusive="right"),
                  "churn_date"] = pd.NaT
    with pytest.raises(InputError, match="newest training cut-off"):
        analyze(world.interactions, customers, cfg)


def test_json_outputs_write_null_for_nan(tmp_path):
    write_json({"beta": float("nan"), "rows": [{"auc": np.float64("inf")}, {"auc": 0.5}]},
               tmp_path / "w.json")
    text = (tmp_path / "w.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    import json
    assert json.loads(text) == {"beta": None, "rows": [{"auc": None}, {"auc": 0.5}]}


@pytest.mark.slow
def test_an_empty_churn_date_column_switches_to_inactivity_out_loud(caplog):
    world = generate_world(n_customers=200, days=120, seed=3, monthly_churn=0.1)
    customers = world.customers.assign(churn_date=pd.NaT)
    with caplog.at_level("WARNING", logger="graphchurn"):
        result = analyze(world.interactions, customers,
                         AnalyzeConfig(embeddings=False, estimator="logistic"))
    assert result.definition == "inactivity"
    assert "no churn dates: churn is inactivity" in caplog.text
    assert any("inactivity" in note for note in result.notes)
    caplog.clear()
    with caplog.at_level("WARNING", logger="graphchurn"):
        analyze(world.interactions, customers,
                AnalyzeConfig(definition="inactivity", embeddings=False, estimator="logistic"))
    assert "no churn dates" not in caplog.text  # asked for: nothing to warn about


def test_stray_timestamps_far_from_the_log_are_warned_about(caplog):
    days = pd.date_range("2024-01-01", "2024-06-30", freq="6h")
    log = pd.DataFrame({"timestamp": days})
    assert stray_timestamps(log) == ({}, {})
    odd = pd.DataFrame({"timestamp": days.append(pd.DatetimeIndex(["1970-01-01", "2099-03-01"]))})
    early, late = stray_timestamps(odd)
    assert early == {"rows": 1, "first": "1970-01-01", "bulk": "2024-01-01"}
    assert late == {"rows": 1, "last": "2099-03-01", "bulk": "2024-06-30"}
    with caplog.at_level("WARNING", logger="graphchurn"):
        # The stray moves the default as-of decades past the log: an error that blames it.
        with pytest.raises(InputError, match=r"^as_of: 1 stray interaction\(s\) up to "
                                             r"2099-03-01.*default as-of to 2099-03-02"):
            resolve_as_of(odd, AnalyzeConfig())
    assert "far before the rest of the log (from 1970-01-01" in caplog.text
    assert "they move the default as-of to 2099-03-02" in caplog.text
    # Three strays among the bulk are flagged as well as one (count and span, not a quantile).
    three = pd.DataFrame({"timestamp": days.append(pd.DatetimeIndex(["2099-03-01"] * 3))})
    assert stray_timestamps(three)[1]["rows"] == 3
    # A log with a quiet spell in the middle is not stray at either end.
    gap = pd.DataFrame({"timestamp": days.append(days + pd.Timedelta(days=400))})
    assert stray_timestamps(gap) == ({}, {})


def test_csv_outputs_have_no_float_noise_and_keep_money_exact(tmp_path):
    from graphchurn.io.atomic import write_csv

    write_csv(pd.DataFrame({"value": [123456.78, 0.1 + 0.2, 1e-7]}), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines() == ["value", "123456.78", "0.3", "1e-07"]


@pytest.mark.slow
def test_a_stray_far_future_row_is_blamed_on_the_as_of_it_moved():
    world = generate_world(n_customers=200, days=120, seed=3, monthly_churn=0.1)
    stray = world.interactions.iloc[[0]].assign(timestamp=pd.Timestamp("2099-01-01"))
    log = pd.concat([world.interactions, stray], ignore_index=True)
    with pytest.raises(InputError, match=r"^as_of: 1 stray interaction\(s\) up to 2099-01-01"):
        analyze(log, world.customers, AnalyzeConfig(embeddings=False, estimator="logistic"))


@pytest.mark.slow
def test_whatif_fallback_reuses_the_as_of_features_analyze_built(monkeypatch):
    """Nobody ever left: analyze builds the as-of features, then finds no churner to learn
    from; the what-if's structural prior scores on those same features instead of building
    them again."""
    from graphchurn import pipeline

    people = [f"p{i}" for i in range(6)]
    rows = [(u, people[(i + 1) % 6], f"{day.date()}T10:00:00", 60)
            for day in pd.date_range("2025-01-01", periods=150) for i, u in enumerate(people)]
    log = pd.DataFrame(rows, columns=["src", "dst", "timestamp", "duration"])
    log["timestamp"] = pd.to_datetime(log["timestamp"])
    built = []
    real = pipeline.build_features
    monkeypatch.setattr(pipeline, "build_features",
                        lambda *a, **k: built.append(pd.Timestamp(a[2])) or real(*a, **k))
    basis = pipeline.whatif_basis(log, None, AnalyzeConfig(embeddings=False))
    assert "structural prior" in basis.source
    as_of = pd.Timestamp("2025-05-31")
    assert built.count(as_of) == 1  # once, by analyze
    assert sorted(basis.features.table.index) == people
    assert np.allclose(basis.base_probability, pipeline.PRIOR_BASE_PROBABILITY)


@pytest.mark.slow
def test_without_torch_the_analysis_runs_without_embeddings_and_says_so(monkeypatch, caplog):
    import sys

    # The light install: importing the embeddings module fails as it does without torch.
    monkeypatch.setitem(sys.modules, "graphchurn.models.embed", None)
    world = generate_world(n_customers=300, days=100, seed=0)
    with caplog.at_level("WARNING", logger="graphchurn"):
        analysis = analyze(world.interactions, world.customers, AnalyzeConfig(embeddings=True))
    assert not any(c.startswith("embedding_") for c in analysis.features.table.columns)
    assert "graph embeddings skipped: torch is not installed" in analysis.notes
    assert "torch" in caplog.text


def test_by_size_picks_the_model_by_training_rows():
    """estimator="by_size" (the default): the former 5-fold ensemble on small tables, the
    held-out-calibrated ensemble in between, boosting alone on large tables; naming the
    estimator by_size picks gives the same settings."""
    from graphchurn.pipeline import (ENSEMBLE_MAX_ROWS, FOLD_CALIBRATION_MAX_ROWS, by_size,
                                     fit_churn_model)
    assert AnalyzeConfig().estimator == "by_size"
    assert by_size(FOLD_CALIBRATION_MAX_ROWS - 1) == {"estimator": "ensemble", "cv": 5,
                                                       "max_iter": 200}
    assert by_size(FOLD_CALIBRATION_MAX_ROWS) == {"estimator": "ensemble"}
    assert by_size(ENSEMBLE_MAX_ROWS) == {"estimator": "gbm", "learning_rate": 0.1}
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600)},
                     index=pd.Index([f"c{i}" for i in range(600)], name="customer_id"))
    y = pd.Series((rng.random(600) < 0.3).astype(int), index=X.index)
    cfg = AnalyzeConfig(embeddings=False)
    small = fit_churn_model(cfg, X, y, importance=None)
    assert (small.estimator, small.cv, small.max_iter) == ("ensemble", 5, 200)
    named = fit_churn_model(cfg, X, y, importance=None, estimator="ensemble")
    np.testing.assert_array_equal(named.predict_proba(X), small.predict_proba(X))
    other = fit_churn_model(cfg, X, y, importance=None, estimator="gbm")
    assert (other.estimator, other.cv) == ("gbm", "holdout")


@pytest.mark.slow
def test_prepare_gives_the_tables_and_split_that_fit_backtests_on():
    """ChurnPipeline.prepare alone builds what fit trains on: the pipeline's model fitted on
    its backtest_fit_ reproduces fit's backtest ROC-AUC on its backtest_test_."""
    from graphchurn.models.metrics import evaluate
    from graphchurn.pipeline import (ChurnPipeline, averaged_over_draws, fit_churn_model,
                                     with_draw)

    world = generate_world(n_customers=300, days=100, seed=0)
    cfg = AnalyzeConfig(embeddings=False)
    prepared = ChurnPipeline(cfg).prepare(world.interactions, world.customers)
    fitted = ChurnPipeline(cfg).fit(world.interactions, world.customers)
    with pytest.raises(RuntimeError, match="not fitted"):
        prepared.score()
    assert prepared.cutoffs_ == fitted.cutoffs_ and len(prepared.labelled_) == 2
    for (X, y), fs, labels in zip(prepared.labelled_, fitted.analysis_.training,
                                  fitted.analysis_.training_labels):
        pd.testing.assert_frame_equal(X, fs.table.loc[labels.index])
        pd.testing.assert_series_equal(y, labels)
    pd.testing.assert_frame_equal(prepared.scoring_.table, fitted.analysis_.features.table)
    X_fit, y_fit, latest = prepared.backtest_fit_
    X_test, y_test = prepared.backtest_test_
    assert prepared.backtest_training_ == [1]
    assert X_fit.index.equals(prepared.labelled_[1][0].index) and latest.all()
    metrics = fitted.backtest()
    # One model per influence draw (AnalyzeConfig.influence_draws): the first on the tables as they
    # are, each other on its draw's columns (training_[1] trains, training_[0] is tested), and
    # the probabilities averaged, each model on its draw of the test rows.
    fit_draws = [None] + prepared.training_[1].influence_draws
    test_draws = prepared.training_[0].influence_draws
    models = [fit_churn_model(cfg, X_fit if d is None else with_draw(X_fit, d), y_fit,
                              latest=latest, estimator=metrics["estimator"]) for d in fit_draws]
    p = averaged_over_draws([lambda t, m=m: m.predict_proba(t)[:, 1] for m in models], X_test,
                            test_draws)
    assert evaluate(y_test.to_numpy(), p)["roc_auc"] == pytest.approx(metrics["roc_auc"],
                                                                      abs=1e-12)


def test_prepare_with_one_labelled_cut_off_holds_out_part_of_it():
    from graphchurn.pipeline import ONE_CUTOFF_BACKTEST, ChurnPipeline

    world = generate_world(n_customers=400, days=47, seed=3)
    pipe = ChurnPipeline(AnalyzeConfig(embeddings=False)).prepare(world.interactions,
                                                                  world.customers)
    assert len(pipe.cutoffs_) == 1 and pipe.backtest_training_ == []
    assert ONE_CUTOFF_BACKTEST in pipe.notes_
    (X_fit, _, latest), (X_test, _) = pipe.backtest_fit_, pipe.backtest_test_
    assert latest is None and len(X_test) > 0 and len(X_fit) > len(X_test)
    # The two sides partition the cut-off's customers.
    X, _ = pipe.labelled_[0]
    assert not set(X_fit.index) & set(X_test.index)
    assert sorted(X_fit.index.append(X_test.index)) == sorted(X.index)


def test_released_training_graphs_change_no_score():
    """keep_training_graphs=False (the Spark engine's default) drops each training cut-off's
    graph once its features are built: the same tables and scores, one graph held; the
    contagion history, which reads those graphs, says how to keep them."""
    from graphchurn.pipeline import contagion_history

    world = generate_world(n_customers=300, days=100, seed=0)
    cfg = AnalyzeConfig(embeddings=False)
    kept = analyze(world.interactions, world.customers, cfg)
    released = analyze(world.interactions, world.customers, cfg, keep_training_graphs=False)
    assert all(fs.has_graph for fs in kept.training) and released.features.has_graph
    assert not any(fs.has_graph or fs.vertex_features is not None for fs in released.training)
    for a, b in zip(kept.training, released.training):
        pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(kept.scores, released.scores)
    assert len(contagion_history(kept)) == len(kept.training)
    with pytest.raises(ValueError, match="keep_training_graphs=True"):
        contagion_history(released)


def test_only_the_scoring_cut_off_detects_communities_by_default(monkeypatch):
    """The churn model reads no community column by default, so training cut-offs skip
    community detection; as-of still finds the groups for the outputs. community_features=True
    puts the columns back in the model and detects communities at every cut-off."""
    import graphchurn.features.build as build
    from graphchurn.features.build import COMMUNITY_FEATURES
    from graphchurn.pipeline import ChurnPipeline

    calls = []
    detect = build.detect_communities
    monkeypatch.setattr(build, "detect_communities",
                        lambda graph, **kw: calls.append(graph.vcount()) or detect(graph, **kw))
    world = generate_world(n_customers=300, days=100, seed=0)
    for community_features in (False, True):
        calls.clear()
        cfg = AnalyzeConfig(embeddings=False, community_features=community_features)
        pipe = ChurnPipeline(cfg).fit(world.interactions, world.customers)
        analysis = pipe.analysis_
        uses = set(COMMUNITY_FEATURES) & set(pipe.model_.feature_names_in_)
        assert len(calls) == (1 + len(analysis.training) if community_features else 1)
        assert uses == (set(COMMUNITY_FEATURES) if community_features else set())
        assert all((fs.membership is not None) == community_features for fs in analysis.training)
        assert analysis.scores["community"].notna().all()
        assert analysis.scores["susceptibility"].between(0, 1).all()
        assert len(analysis.groups) > 1
