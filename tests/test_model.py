"""ChurnModel on a small synthetic table with a planted signal, and metrics on hand-worked cases."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.integrate import trapezoid
from scipy.special import expit, logit

from graphchurn.models.churn import (C_SEARCH_TOLERANCE, ChurnModel, group_folds,
                                     group_holdout, training_sample, tree_path_contributions)
from graphchurn.models.metrics import (
    calibration_table,
    evaluate,
    expected_maximum_profit,
    lift_at,
    lift_curve,
    pr_auc,
    roc_auc,
)
from graphchurn.models.explain import reason_contributions, top_reasons


def _world(n=900, seed=0):
    """Churn driven by `drops` (numeric) and plan == "basic" (categorical); the rest is noise."""
    rng = np.random.default_rng(seed)
    drops = rng.normal(size=n)
    plan = rng.choice(["basic", "plus", "premium"], n)
    logit = -2.0 + 2.5 * drops + 1.5 * (plan == "basic")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    noise = rng.normal(size=n)
    region = rng.choice(["north", "south", "east", "west"], n).astype(object)
    noise[rng.random(n) < 0.1] = np.nan
    region[rng.random(n) < 0.1] = None
    drops_seen = drops.copy()
    drops_seen[rng.random(n) < 0.03] = np.nan
    X = pd.DataFrame({
        "drops": drops_seen,
        "plan": pd.Series(plan, dtype="str"),
        "noise": noise,
        "region": pd.Series(region, dtype="category"),
        "flag": rng.random(n) < 0.5,  # bool noise
    })
    return X, y


def _model(estimator="gbm", **params):
    """Small settings: the test machine's cores are shared."""
    params = {"max_iter": 60, "learning_rate": 0.1, **params}
    return ChurnModel(estimator=estimator, **params)


@pytest.fixture(scope="module")
def world():
    X, y = _world()
    return X.iloc[:600], y[:600], X.iloc[600:].reset_index(drop=True), y[600:]


@pytest.fixture(scope="module")
def fitted(world):
    X_train, y_train, _, _ = world
    return {name: _model(name, random_state=0).fit(X_train, y_train)
            for name in ("gbm", "logistic", "ensemble")}


# ----------------------------------------------------------------------------- ChurnModel


@pytest.mark.parametrize("name", ["gbm", "logistic", "ensemble"])
def test_both_estimators_learn_the_signal_with_calibrated_probabilities(world, fitted, name):
    _, _, X_test, y_test = world
    proba = fitted[name].predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc(y_test, proba[:, 1]) > 0.85
    # Calibrated-ish: the mean prediction tracks the churn rate.
    assert abs(proba[:, 1].mean() - y_test.mean()) < 0.06
    assert list(fitted[name].feature_names_in_) == ["drops", "plan", "noise", "region", "flag"]
    assert fitted[name].categorical_features_ == ["plan", "region"]


def _fold_outputs(model, X):
    """Per calibration fold: (base model's P(churn), calibrated P(churn)) on ``X``."""
    prepared = model._prepare(model._align(X))
    return [(f.estimator.predict_proba(prepared)[:, 1], f.predict_proba(prepared)[:, 1])
            for f in model.estimator_.calibrated_classifiers_]


@pytest.mark.parametrize("name", ["gbm", "ensemble"])
def test_sigmoid_calibration_is_platt_scaling_of_the_log_odds(world, name):
    """Every fold's calibrated probability is sigmoid(a * logit(base) + b) with a > 0: the fold
    model's ranking is kept whole (no ties added), while isotonic regression's plateaus tie
    customers the base model had told apart."""
    X_train, y_train, X_test, y_test = world
    sigmoid = _model(name, calibration="sigmoid", cv=3, importance=None).fit(X_train, y_train)
    for base, calibrated in _fold_outputs(sigmoid, X_test):
        slope, intercept = np.polyfit(logit(base), logit(calibrated), 1)
        assert slope > 0
        np.testing.assert_allclose(logit(calibrated), slope * logit(base) + intercept,
                                   atol=1e-6)
        assert len(np.unique(calibrated)) == len(np.unique(base))
    isotonic = _model(name, calibration="isotonic", cv=3, importance=None).fit(X_train, y_train)
    for base, calibrated in _fold_outputs(isotonic, X_test):
        assert len(np.unique(calibrated)) < len(np.unique(base)) / 2
    proba = sigmoid.predict_proba(X_test)[:, 1]
    assert roc_auc(y_test, proba) > 0.85
    assert abs(proba.mean() - y_test.mean()) < 0.06


def test_sigmoid_calibration_recovers_the_true_probabilities():
    """On a world whose churn probability is known, the Platt-scaled ensemble's probabilities
    are close to the truth: within 0.05 on average."""
    rng = np.random.default_rng(3)
    n = 4000
    x = rng.normal(size=n)
    truth = 1 / (1 + np.exp(-(-2.5 + 1.5 * x)))
    y = (rng.random(n) < truth).astype(int)
    X = pd.DataFrame({"x": x, "noise": rng.normal(size=n)})
    model = _model("ensemble", calibration="sigmoid", cv=5, importance=None).fit(
        X.iloc[:3000], y[:3000])
    error = np.abs(model.predict_proba(X.iloc[3000:])[:, 1] - truth[3000:])
    assert error.mean() < 0.05


def _drifting_cutoffs(seed=4):
    """Two stacked cut-offs with the same effect of ``x`` and a churn level that falls from
    about 25% (older, 3000 rows) to about 7% (newest, 1500 rows), then a future cut-off at the
    newest level."""
    rng = np.random.default_rng(seed)

    def cutoff(n, intercept):
        x = rng.normal(size=n)
        y = (rng.random(n) < 1 / (1 + np.exp(-(intercept + 1.2 * x)))).astype(int)
        return pd.DataFrame({"x": x, "noise": rng.normal(size=n)}), y

    (X_new, y_new), (X_old, y_old), (X_future, y_future) = (
        cutoff(1500, -3.0), cutoff(3000, -1.3), cutoff(3000, -3.0))
    X = pd.concat([X_new, X_old], ignore_index=True)
    latest = np.r_[np.ones(len(y_new), bool), np.zeros(len(y_old), bool)]
    return X, np.r_[y_new, y_old], latest, X_future, y_future


@pytest.mark.parametrize("name", ["logistic", "ensemble"])
def test_latest_rows_set_the_level_and_keep_the_ranking(name):
    """Recalibration in the large: with ``latest`` the mean probability over the newest
    cut-off's rows equals their churn rate exactly, every log-odds moves by the same
    ``level_shift_`` (so the ranking is the pooled model's), and on a future cut-off at the
    newest level the pooled model overstates churn by more than half while the shifted one is
    within 15%."""
    X, y, latest, X_future, y_future = _drifting_cutoffs()
    pooled = _model(name, calibration="sigmoid", cv=5, importance=None).fit(X, y)
    shifted = _model(name, calibration="sigmoid", cv=5, importance=None).fit(X, y, latest=latest)
    assert pooled.level_shift_ == 0.0
    assert shifted.level_shift_ < -0.5
    np.testing.assert_allclose(shifted.predict_proba(X[latest])[:, 1].mean(), y[latest].mean(),
                               rtol=1e-9)
    p_pooled = pooled.predict_proba(X_future)[:, 1]
    p_shifted = shifted.predict_proba(X_future)[:, 1]
    np.testing.assert_allclose(logit(p_shifted) - logit(p_pooled), shifted.level_shift_,
                               atol=1e-9)
    assert p_pooled.mean() / y_future.mean() > 1.5
    assert abs(p_shifted.mean() / y_future.mean() - 1.0) < 0.15


def test_latest_rows_without_both_classes_leave_the_level_alone_and_bad_masks_fail():
    X, y, latest, _, _ = _drifting_cutoffs()
    no_churners = latest & (y == 0)
    model = _model("logistic", importance=None).fit(X, y, latest=no_churners)
    assert model.level_shift_ == 0.0
    with pytest.raises(ValueError, match="latest must be a boolean mask"):
        _model("logistic", importance=None).fit(X, y, latest=latest.astype(int))
    with pytest.raises(ValueError, match="latest must be a boolean mask"):
        _model("logistic", importance=None).fit(X, y, latest=latest[:-1])


def test_level_shift_by_hand():
    """Probabilities of 0.5 everywhere and a rate of 0.2: the shift is logit(0.2); a shift
    found for mixed probabilities brings their mean to the rate."""
    from graphchurn.models.churn import _level_shift

    assert _level_shift(np.full(10, 0.5), 0.2) == pytest.approx(logit(0.2), abs=1e-10)
    p = np.array([0.01, 0.1, 0.3, 0.9])
    shift = _level_shift(p, 0.1)
    assert shift < 0
    assert (1 / (1 + np.exp(-(logit(p) + shift)))).mean() == pytest.approx(0.1, abs=1e-10)


@pytest.mark.parametrize("name", ["gbm", "logistic", "ensemble"])
def test_importances_rank_the_informative_features_above_noise(fitted, name):
    importance = fitted[name].feature_importances_
    assert isinstance(importance, pd.Series)
    assert list(importance.index) == ["drops", "plan", "noise", "region", "flag"]
    assert importance.idxmax() == "drops"
    assert importance["plan"] > max(importance["noise"], importance["region"], importance["flag"])


def test_importance_on_capped_held_out_rows(world, fitted):
    """With more held-out rows than importance_max_rows, each shuffle is scored on a sample:
    the estimate changes, the ranking of the strong signals does not."""
    X_train, y_train, _, _ = world  # 150 held-out rows
    capped = _model("logistic", importance_max_rows=80).fit(X_train, y_train)
    uncapped = fitted["logistic"].feature_importances_
    assert not np.allclose(capped.feature_importances_, uncapped)
    assert capped.feature_importances_.idxmax() == "drops"
    roomy = _model("logistic", importance_max_rows=150).fit(X_train, y_train)
    pd.testing.assert_series_equal(roomy.feature_importances_, uncapped)
    with pytest.raises(ValueError, match="importance_max_rows"):
        _model("logistic", importance_max_rows=1).fit(X_train, y_train)


@pytest.mark.parametrize("name", ["gbm", "logistic", "ensemble"])
@pytest.mark.parametrize("l1_ratio", [0.0, 1.0, 0.5])
def test_same_seed_same_probabilities(world, name, l1_ratio):
    X_train, y_train, X_test, _ = world
    first = _model(name, random_state=7, importance=None, l1_ratio=l1_ratio, C=0.1).fit(X_train, y_train)
    np.random.seed(123)  # the libraries' global state must not matter
    second = _model(name, random_state=7, importance=None, l1_ratio=l1_ratio, C=0.1).fit(X_train, y_train)
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))


@pytest.mark.parametrize("name", ["gbm", "logistic", "ensemble"])
def test_unseen_categories_missing_values_and_column_order(world, fitted, name):
    model = fitted[name]
    _, _, X_test, _ = world
    odd = pd.DataFrame({
        "drops": [np.nan, 1.0, 0.5],
        "plan": pd.Series(["platinum", None, "basic"], dtype="str"),
        "noise": [np.nan, np.nan, 0.0],
        "region": pd.Series([None, "mars", "north"], dtype="object"),
        "flag": [True, False, True],
    })
    proba = model.predict_proba(odd)[:, 1]
    assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))
    # Columns are matched by name, not position.
    shuffled = X_test[["flag", "region", "noise", "plan", "drops"]]
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(X_test))


def test_ensemble_is_the_mean_of_the_two_models(world):
    """Soft voting, uncalibrated: exactly the average of boosting's and the logistic
    regression's probabilities, each fitted on the same rows."""
    X_train, y_train, X_test, _ = world
    p = {name: _model(name, calibration=None, importance=None).fit(X_train, y_train)
         .predict_proba(X_test)[:, 1] for name in ("gbm", "logistic", "ensemble")}
    np.testing.assert_allclose(p["ensemble"], (p["gbm"] + p["logistic"]) / 2, rtol=1e-12)
    assert not np.allclose(p["gbm"], p["logistic"], atol=1e-3)


def test_rejects_single_class_and_falls_back_without_enough_churners():
    X = pd.DataFrame({"a": np.arange(20.0), "b": ["x", "y"] * 10})
    with pytest.raises(ValueError):
        _model().fit(X, np.zeros(20, dtype=int))
    y = np.zeros(20, dtype=int)
    y[19] = 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _model("logistic").fit(X, y)
    assert not model.calibrated_
    assert any("calibrate" in str(w.message) for w in caught)
    assert model.predict_proba(X)[:, 1].argmax() == 19


def test_grouped_calibration_folds_do_not_trust_a_memorised_customer():
    """Each customer appears at three stacked cut-offs with the same label and the same
    (pure-noise) features. Split by row, every calibration fold model has seen the held-out
    customers' twins, so their held-out predictions look perfect and the calibration learns to
    trust scores that mean nothing; split by customer, it learns they carry no signal."""
    rng = np.random.default_rng(5)
    n = 300
    X1 = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"),
                      index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    y1 = (rng.random(n) < 0.3).astype(int)
    X = pd.concat([X1, X1, X1])
    y = np.concatenate([y1, y1, y1])
    fresh = pd.DataFrame(rng.normal(size=(2000, 4)), columns=list("abcd"))
    memorising = dict(max_iter=150, learning_rate=0.3, max_leaf_nodes=31, min_samples_leaf=2,
                      l2_regularization=0.0, importance=None)
    by_row = _model(**memorising).fit(X, y).predict_proba(fresh)[:, 1]
    by_customer = _model(**memorising).fit(X, y, groups=X.index).predict_proba(fresh)[:, 1]
    # The truth for a fresh customer is the base rate (0.3) whatever its features.
    assert np.abs(by_customer - y1.mean()).mean() < 0.5 * np.abs(by_row - y1.mean()).mean()
    assert by_customer.std() < 0.1
    with pytest.raises(ValueError, match="groups"):
        _model().fit(X, y, groups=X.index[:10])


def _stacked_customers(n_customers, seed):
    """Customers at up to three stacked cut-offs; a customer churns at most once (its last
    row), as in the training tables."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(1, 4, n_customers)
    groups = np.repeat(np.arange(n_customers), rows)
    churner = rng.random(n_customers) < 0.1
    last = np.cumsum(rows) - 1
    y = np.zeros(len(groups), dtype=int)
    y[last[churner]] = 1
    return y, groups.astype(str)


@pytest.mark.parametrize("limit", [100_000, 50])  # the greedy splitter, the one for many groups
def test_group_folds_keep_customers_together_and_balance_churners(limit):
    y, groups = _stacked_customers(3000, seed=4)
    folds = group_folds(y, groups, 5, random_state=7, greedy_max_groups=limit)
    held = np.concatenate([h for _, h in folds])
    assert np.array_equal(np.sort(held), np.arange(len(y)))  # every row held out once
    for fit_rows, held_rows in folds:
        assert np.array_equal(np.sort(np.concatenate([fit_rows, held_rows])), np.arange(len(y)))
        assert not set(groups[fit_rows]) & set(groups[held_rows])
    churners = [int(y[h].sum()) for _, h in folds]
    assert max(churners) - min(churners) <= 1  # one churn row per churner: exact balance
    sizes = [len(h) for _, h in folds]
    assert max(sizes) - min(sizes) < 0.1 * len(y) / 5
    again = group_folds(y, groups, 5, random_state=7, greedy_max_groups=limit)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(folds, again))
    other = group_folds(y, groups, 5, random_state=8, greedy_max_groups=limit)
    assert not all(np.array_equal(a, b) for (_, a), (_, b) in zip(folds, other))


def test_group_folds_are_stratified_group_k_fold_up_to_the_limit():
    from sklearn.model_selection import StratifiedGroupKFold

    y, groups = _stacked_customers(400, seed=1)
    reference = StratifiedGroupKFold(3, shuffle=True, random_state=2).split(y, y, groups)
    for (fit_a, held_a), (fit_b, held_b) in zip(group_folds(y, groups, 3, 2), reference):
        assert np.array_equal(fit_a, fit_b) and np.array_equal(held_a, held_b)


def test_l1_logistic_sets_noise_coefficients_to_zero():
    rng = np.random.default_rng(2)
    n = 2000
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=["signal"] + [f"noise{i}" for i in range(5)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.0 + 1.5 * X["signal"])))).astype(int)
    coefficients = {}
    for l1_ratio in (0.0, 1.0):
        model = ChurnModel(estimator="logistic", calibration=None, importance=None, C=0.02,
                           l1_ratio=l1_ratio).fit(X, y)
        encode, classify = model.estimator_.named_steps["encode"], model.estimator_.named_steps["classify"]
        coefficients[l1_ratio] = pd.Series(classify.coef_[0], index=encode.get_feature_names_out())
    assert coefficients[1.0]["signal"] > 0.5
    assert (coefficients[1.0].filter(like="noise") == 0).all()
    assert (coefficients[0.0].filter(like="noise") != 0).all()     # ridge only shrinks them
    with pytest.raises(ValueError, match="l1_ratio"):
        ChurnModel(estimator="logistic", l1_ratio=2.0, importance=None).fit(X, y)


def test_normal_scores_let_the_logistic_regression_follow_a_saturating_effect():
    # Risk grows with the log of a heavy-tailed count (a saturating effect of the raw value)
    # plus a second, normal feature. On the raw count the logistic regression cannot weigh the
    # two right and ranks the test rows worse than on the count's normal score, which here is
    # exactly the log up to scale (the log is normal: ranks map to it).
    rng = np.random.default_rng(5)
    n = 4000
    log_count, other = rng.normal(size=n), rng.normal(size=n)
    X = pd.DataFrame({"count": np.exp(1.5 * log_count), "other": other,
                      "noise": rng.normal(size=n)})
    true_logit = -1.0 + 1.5 * log_count + 1.0 * other
    y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    train, test = slice(0, 3000), slice(3000, None)
    auc = {}
    for normal_scores in (False, True):
        model = ChurnModel(estimator="logistic", calibration=None, importance=None, C=1.0,
                           normal_scores=normal_scores).fit(X.iloc[train], y[train])
        auc[normal_scores] = roc_auc(y[test], model.predict_proba(X.iloc[test])[:, 1])
    best = roc_auc(y[test], true_logit[test])
    assert auc[True] == pytest.approx(best, abs=0.005)
    assert auc[False] < best - 0.02
    # The setting is a hyper-parameter like any other: same data and seed, same probabilities.
    again = [ChurnModel(estimator="ensemble", importance=None, normal_scores=True, max_iter=30,
                        random_state=1).fit(X.iloc[train], y[train]).predict_proba(X.iloc[test])
             for _ in range(2)]
    np.testing.assert_array_equal(again[0], again[1])


def test_auto_C_regularises_a_few_signals_among_many_noise_features_harder():
    """C="auto": two strong signals among 60 noise features on 400 rows want a strong L1
    penalty; twelve weak signals and no noise on 4,000 rows want a light one."""
    rng = np.random.default_rng(0)

    def table(n, informative, noise, weight):
        X = pd.DataFrame(rng.normal(size=(n, informative + noise)),
                         columns=[f"x{i}" for i in range(informative + noise)])
        logit = -1 + X.iloc[:, :informative].to_numpy() @ np.full(informative, weight)
        return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

    chosen = {}
    for name, shape in (("sparse", (400, 2, 60, 0.8)), ("dense", (4000, 12, 0, 0.15))):
        X, y = table(*shape)
        model = ChurnModel(estimator="logistic", C="auto", l1_ratio=1.0, importance=None,
                           calibration=None).fit(X, y)
        assert model.C_ in model.Cs and set(model.C_scores_) == set(model.Cs)
        # the strongest penalty within C_SEARCH_TOLERANCE of the best (issue 22: no flips)
        best = max(model.C_scores_.values())
        assert model.C_ == min(c for c, v in model.C_scores_.items()
                               if v >= best - C_SEARCH_TOLERANCE)
        chosen[name] = model.C_
    assert chosen["sparse"] < chosen["dense"]
    assert ChurnModel(estimator="gbm", C="auto", importance=None).fit(X, y).C_ is None
    with pytest.raises(ValueError, match="'C' parameter"):
        ChurnModel(estimator="logistic", C=-1.0, importance=None).fit(X, y)


def test_C_search_compares_on_a_sample_of_whole_customers_when_capped():
    """Above C_search_max_rows the candidates are compared on a seeded sample of whole
    customers: the same search as on those rows alone, and the chosen C fitted on all rows."""
    y, groups = _stacked_customers(800, seed=6)
    rng = np.random.default_rng(6)
    signal = y + rng.normal(scale=1.5, size=len(y))
    X = pd.DataFrame({"signal": signal, "noise": rng.normal(size=len(y))})
    params = dict(estimator="logistic", C="auto", l1_ratio=1.0, importance=None,
                  calibration=None)
    capped = ChurnModel(C_search_max_rows=600, **params).fit(X, y, groups=groups)
    assert 550 <= capped.n_C_search_rows_ <= 600
    rows = capped._C_search_rows(y, groups)
    assert len(rows) == capped.n_C_search_rows_
    inside = set(groups[rows])
    assert not inside & set(groups[np.setdiff1d(np.arange(len(y)), rows)])  # whole customers
    alone = ChurnModel(C_search_max_rows=None, **params).fit(X.iloc[rows], y[rows],
                                                             groups=groups[rows])
    assert capped.C_scores_ == alone.C_scores_ and capped.C_ == alone.C_
    assert capped.n_fit_rows_ == len(y)  # the chosen C is fitted on every row
    uncapped = ChurnModel(C_search_max_rows=None, **params).fit(X, y, groups=groups)
    roomy = ChurnModel(C_search_max_rows=len(y), **params).fit(X, y, groups=groups)
    assert uncapped.n_C_search_rows_ == roomy.n_C_search_rows_ == len(y)
    assert uncapped.C_scores_ == roomy.C_scores_
    without_groups = ChurnModel(C_search_max_rows=600, **params).fit(X, y)
    assert without_groups.n_C_search_rows_ == 600
    with pytest.raises(ValueError, match="C_search_max_rows"):
        ChurnModel(C_search_max_rows=1, **params).fit(X, y)


def test_min_samples_leaf_as_a_share_of_the_training_rows(world):
    X_train, y_train, _, _ = world
    model = _model(calibration=None, importance=None, min_samples_leaf=0.1).fit(X_train, y_train)
    assert model.estimator_.named_steps["classify"].min_samples_leaf == 60     # 10% of 600
    small = _model(calibration=None, importance=None, min_samples_leaf=0.01).fit(X_train, y_train)
    assert small.estimator_.named_steps["classify"].min_samples_leaf == 20     # the floor
    with pytest.raises(ValueError, match="min_samples_leaf"):
        _model(min_samples_leaf=1.5, importance=None).fit(X_train, y_train)


# ----------------------------------------------------------------------------- reasons


@pytest.mark.parametrize("name", ["gbm", "logistic", "ensemble"])
def test_top_reasons_name_the_informative_features_not_noise(fitted, name):
    model = fitted[name]
    rows = pd.DataFrame({
        "drops": [2.5, -2.0],
        "plan": pd.Series(["basic", "premium"], dtype="str"),
        "noise": [2.5, 2.5],  # an extreme but meaningless value
        "region": pd.Series(["west", "west"], dtype="category"),
        "flag": [True, True],
    })
    reasons = top_reasons(model, rows, k=2)
    risky, safe = reasons
    assert [feature for feature, _ in risky] == ["drops", "plan"]
    assert all(value > 0 for _, value in risky)
    assert risky[0][1] >= risky[1][1]
    # The low-risk row's drops and plan pull risk *down*, so they are never reasons.
    assert all(feature not in ("drops", "plan") for feature, _ in safe)
    contributions = reason_contributions(model, rows)
    assert contributions.loc[0, "drops"] > 5 * abs(contributions.loc[0, "noise"])


def test_reason_contribution_is_the_prediction_difference_at_the_training_median():
    X, y = _world(400, seed=3)
    model = _model("logistic", calibration=None, importance=None).fit(X, y)
    rows = X.iloc[:5]
    contributions = reason_contributions(model, rows, features=["drops"])
    median = np.nanmedian(X["drops"])
    assert model.reference_values_["drops"] == pytest.approx(median)
    typical = rows.assign(drops=median)
    expected = model.predict_proba(rows)[:, 1] - model.predict_proba(typical)[:, 1]
    np.testing.assert_allclose(contributions["drops"].to_numpy(), expected, atol=1e-12)
    assert model.reference_values_["plan"] == pd.Series(X["plan"]).mode().iloc[0]


# ----------------------------------------------------------------------------- metrics


def test_roc_and_pr_auc_by_hand():
    # Positive/negative pairs ranked right: (0.35>0.1), (0.8>0.1), (0.8>0.4); wrong: 0.35<0.4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(3 / 4)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts half
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))
    # Average precision: precision 1/1 at the first churner, 2/3 at the second.
    assert pr_auc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)


def test_lift_perfect_random_and_ties():
    y = np.zeros(100, dtype=int)
    y[:5] = 1
    perfect = np.linspace(1, 0, 100)
    assert lift_at(y, perfect, 0.1) == pytest.approx(10.0)  # capped by 1 / fraction
    y30 = np.zeros(100, dtype=int)
    y30[:30] = 1
    assert lift_at(y30, perfect, 0.1) == pytest.approx(1 / 0.3)  # capped by 1 / base rate
    assert lift_at(y30, np.full(100, 0.5), 0.1) == pytest.approx(1.0)  # all tied = random
    assert lift_at(y30, -perfect, 0.1) == pytest.approx(0.0)
    # Top 2 of 4: the 0.9 churner, then one of three tied rows holding one churner (1/3).
    assert lift_at([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.5], 0.5) == pytest.approx(((1 + 1 / 3) / 2) / 0.5)


def _beta_mean_above(g, a, b):
    return a / (a + b) * stats.beta.sf(g, a + 1, b)


def test_emp_of_a_perfect_classifier_matches_the_closed_form():
    y = np.zeros(200, dtype=int)
    y[:20] = 1
    emp, fraction = expected_maximum_profit(y, -np.arange(200.0))
    pi0, clv, d, f, a, b = 0.1, 200.0, 10.0, 1.0, 6.0, 14.0
    g = f / (clv - d)
    closed = pi0 * ((clv - d) * _beta_mean_above(g, a, b) - f * stats.beta.sf(g, a, b))
    assert emp == pytest.approx(closed, rel=1e-10)
    assert emp == pytest.approx(pi0 * (190 * 0.3 - 1), rel=1e-3)  # P(gamma < 1/190) is tiny
    assert fraction == pytest.approx(pi0 * stats.beta.sf(g, a, b), rel=1e-10)


def test_emp_of_random_classifiers():
    rng = np.random.default_rng(0)
    y = (rng.random(20000) < 0.1).astype(int)
    pi0, pi1 = y.mean(), 1 - y.mean()
    clv, d, f, a, b = 200.0, 10.0, 1.0, 6.0, 14.0
    # A constant score can only target everyone (or no one): profitable only when
    # gamma > (f pi0 + (d + f) pi1) / ((clv - d) pi0).
    g = (f * pi0 + (d + f) * pi1) / ((clv - d) * pi0)
    closed = ((clv - d) * pi0 * _beta_mean_above(g, a, b)
              - (f * pi0 + (d + f) * pi1) * stats.beta.sf(g, a, b))
    emp_constant, fraction_constant = expected_maximum_profit(y, np.zeros(len(y)))
    assert emp_constant == pytest.approx(closed, rel=1e-9)
    assert fraction_constant == pytest.approx(stats.beta.sf(g, a, b), rel=1e-9)
    assert 0 < emp_constant < 0.1
    # Random scores: the hull hugs the diagonal, so EMP stays near the constant's, far below
    # a perfect ranking's.
    emp_random, _ = expected_maximum_profit(y, rng.random(len(y)))
    emp_perfect, _ = expected_maximum_profit(y, y + rng.random(len(y)) * 0.5)
    assert emp_constant - 1e-12 <= emp_random < 0.02 * emp_perfect


def test_emp_equals_brute_force_over_every_threshold():
    """Max over *all* thresholds, integrated numerically over gamma: the hull shortcut agrees."""
    rng = np.random.default_rng(5)
    y = (rng.random(80) < 0.3).astype(int)
    p = np.round(0.5 * y + rng.random(80), 1)  # coarse scores: many ties
    clv, d, f, a, b = 150.0, 20.0, 2.0, 3.0, 5.0
    order = np.unique(p)[::-1]
    tp = np.array([0] + [y[p >= t].sum() for t in order]) / len(y)
    fp = np.array([0] + [(1 - y[p >= t]).sum() for t in order]) / len(y)
    gamma = np.linspace(0, 1, 100001)
    profit = (gamma[:, None] * (clv - d) - f) * tp - (d + f) * fp
    best = profit.argmax(axis=1)
    density = stats.beta.pdf(gamma, a, b)
    brute = trapezoid(profit.max(axis=1) * density, gamma)
    brute_fraction = trapezoid((tp + fp)[best] * density, gamma)
    emp, fraction = expected_maximum_profit(y, p, clv=clv, incentive=d, contact_cost=f,
                                            alpha=a, beta=b)
    assert emp == pytest.approx(brute, rel=1e-5)
    assert fraction == pytest.approx(brute_fraction, abs=1e-4)


def test_emp_edge_cases():
    assert expected_maximum_profit([0, 0, 0], [0.1, 0.2, 0.3]) == (0.0, 0.0)
    # Everyone churns: target everyone whenever gamma (CLV - d) > f.
    emp, fraction = expected_maximum_profit([1, 1], [0.3, 0.1])
    g = 1 / 190
    assert emp == pytest.approx(190 * _beta_mean_above(g, 6, 14) - stats.beta.sf(g, 6, 14))
    assert fraction == pytest.approx(stats.beta.sf(g, 6, 14))
    with pytest.raises(ValueError):
        expected_maximum_profit([0, 1], [0.1, 0.2], clv=5, incentive=10)


def test_evaluate_keys_and_undefined_metrics():
    result = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert set(result) == {"n", "base_rate", "mean_probability", "log_loss", "roc_auc",
                           "pr_auc", "lift_top_decile", "emp", "emp_fraction"}
    assert result["n"] == 4 and result["base_rate"] == 0.5 and result["roc_auc"] == 0.75
    assert result["mean_probability"] == pytest.approx(0.4125)
    # -mean(log 0.9, log 0.6, log 0.35, log 0.8)
    assert result["log_loss"] == pytest.approx(-np.log([0.9, 0.6, 0.35, 0.8]).mean())
    # Top decile of 4 rows is 1 row (score 0.8, a churner): lift 1 / 0.5.
    assert result["lift_top_decile"] == pytest.approx(2.0)
    one_class = evaluate([0, 0, 0], [0.1, 0.2, 0.3])
    assert one_class["roc_auc"] is None and one_class["pr_auc"] is None
    assert one_class["emp"] == 0.0


def test_lift_curve_of_a_perfect_ranking():
    y = np.array([1] * 20 + [0] * 80)
    table = lift_curve(y, np.linspace(1, 0, 100), bins=10)
    assert len(table) == 10 and table["customers"].sum() == 100
    np.testing.assert_allclose(table["lift"], [5, 5] + [0] * 8)
    np.testing.assert_allclose(table["captured"], [0.5] + [1.0] * 9)
    np.testing.assert_allclose(table["cumulative_lift"].iloc[[0, 1, 4, 9]], [5, 5, 2, 1])
    assert table["churners"].sum() == pytest.approx(20)


def test_calibration_table_by_hand():
    y = [0, 0, 1, 1, 1, 0]
    p = [0.05, 0.15, 0.15, 0.85, 0.95, 0.95]
    table = calibration_table(y, p, bins=2)
    assert table["customers"].tolist() == [3, 3]
    np.testing.assert_allclose(table["mean_predicted"], [(0.05 + 0.15 + 0.15) / 3, (0.85 + 1.9) / 3])
    np.testing.assert_allclose(table["observed_rate"], [1 / 3, 2 / 3])
    quantile = calibration_table(y, p, bins=3, strategy="quantile")
    assert quantile["customers"].sum() == 6


@pytest.mark.parametrize("name", ["gbm", "logistic", "ensemble"])
def test_empty_and_nullable_columns_are_handled(name):
    rng = np.random.default_rng(2)
    n = 240
    signal = rng.normal(size=n)
    X = pd.DataFrame({
        "signal": signal,
        "empty_number": np.nan,
        "empty_category": pd.Series([None] * n, dtype="str"),
        "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
    })
    X.loc[[3, 7], "count"] = pd.NA
    y = (signal + 0.3 * rng.normal(size=n) > 0.5).astype(int)
    model = _model(name).fit(X, y)
    assert model.empty_features_ == ["empty_number", "empty_category"]
    assert model.feature_importances_[["empty_number", "empty_category"]].tolist() == [0.0, 0.0]
    proba = model.predict_proba(X)[:, 1]
    assert roc_auc(y, proba) > 0.9
    # An ignored column's value never moves the risk: it is not even tested by default...
    assert list(reason_contributions(model, X.iloc[:20]).columns) == ["signal", "count"]
    # ...and when asked for explicitly, its contribution is exactly zero.
    asked = reason_contributions(model, X.iloc[:20], features=["empty_number", "empty_category"])
    assert (asked == 0).all().all()


def test_reasons_test_only_the_most_important_features_when_capped(world, fitted):
    _, _, X_test, _ = world
    model = fitted["logistic"]
    capped = reason_contributions(model, X_test.iloc[:10], max_features=2)
    assert list(capped.columns) == ["drops", "plan"]  # the two most important, in table order
    full = reason_contributions(model, X_test.iloc[:10], max_features=None)
    pd.testing.assert_frame_equal(capped, full[["drops", "plan"]])
    reasons = top_reasons(model, X_test.iloc[:10], k=3, max_features=2)
    assert all(len(row) <= 2 and {f for f, _ in row} <= {"drops", "plan"} for row in reasons)


def test_reasons_in_small_batches_equal_one_batch(monkeypatch, world, fitted):
    """Stacking the rows with their reference copies is only a way of calling the model less
    often: batches of any size give the same contributions, also at chunk edges."""
    import graphchurn.models.explain as model_module

    _, _, X_test, _ = world
    rows = X_test.iloc[:23]
    whole = reason_contributions(fitted["gbm"], rows, max_features=None, method="difference")
    monkeypatch.setattr(model_module, "_REASON_BATCH_ROWS", 2 * (whole.shape[1] + 1) + 1)
    batched = reason_contributions(fitted["gbm"], rows, max_features=None,
                                   method="difference")  # 2 rows a batch
    pd.testing.assert_frame_equal(batched, whole, atol=1e-12, rtol=0)
    one_at_a_time = pd.concat([reason_contributions(fitted["gbm"], rows.iloc[[i]],
                                                    max_features=None, method="difference")
                               for i in range(3)])
    pd.testing.assert_frame_equal(one_at_a_time, whole.iloc[:3], atol=1e-12, rtol=0)


def test_reasons_can_rank_candidates_by_another_models_importance(world, fitted):
    _, _, X_test, _ = world
    model = fitted["logistic"]
    ranking = pd.Series({"noise": 1.0, "region": 0.5, "drops": 0.0, "plan": 0.0, "flag": 0.0})
    chosen = reason_contributions(model, X_test.iloc[:5], max_features=2, importance=ranking)
    assert list(chosen.columns) == ["noise", "region"]
    reasons = top_reasons(model, X_test.iloc[:5], k=3, max_features=2, importance=ranking)
    assert all({f for f, _ in row} <= {"noise", "region"} for row in reasons)


def _two_driver_model():
    """Logistic model of churn driven by ``a`` and ``b`` alike (log-odds -3 + 2a + 2b)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    y = (rng.random(2000) < 1 / (1 + np.exp(-(-3 + 2 * X["a"] + 2 * X["b"])))).astype(int)
    return _model("logistic", calibration=None, importance=None).fit(X, y)


def test_top_reasons_keep_only_material_contributions():
    model = _two_driver_model()
    a, b = model.reference_values_["a"], model.reference_values_["b"]
    rows = pd.DataFrame({"a": [a + 1.0, a - 3.0, a + 3.5], "b": [b + 0.02, b + 0.3, b + 0.3]})
    p = model.predict_proba(rows)[:, 1]
    contributions = reason_contributions(model, rows)
    # Row 0 (risk ~23%): b, a hair above its median, lowers the risk by ~0.75 point when
    # reset, under 5% of the risk. Row 1 (risk ~0.02%): b's 0.008 point is over 5% of that tiny
    # risk but under the 0.1-point floor. Row 2 (risk ~99%): b's ~1 point is far below 5% of
    # the risk but well over 5% of the 1% chance of staying, so it is kept.
    assert 0.15 < p[0] < 0.35 and p[1] < 0.001 and 0.98 < p[2] < 0.995
    assert 0 < contributions.loc[0, "b"] < 0.05 * p[0]
    assert 0.05 * p[1] < contributions.loc[1, "b"] < 0.001
    assert 0.05 * (1 - p[2]) < contributions.loc[2, "b"] < 0.05 * p[2]

    def names(reasons):
        return [[feature for feature, _ in row] for row in reasons]

    assert names(top_reasons(model, rows)) == [["a"], [], ["a", "b"]]
    # Each part of the threshold is what drops its reason; without both, the old behaviour.
    assert names(top_reasons(model, rows, min_share=0)) == [["a", "b"], [], ["a", "b"]]
    assert names(top_reasons(model, rows, min_contribution=0)) == [["a"], ["b"], ["a", "b"]]
    assert names(top_reasons(model, rows, min_contribution=0, min_share=0)) == [
        ["a", "b"], ["b"], ["a", "b"]]
    assert top_reasons(model, rows, min_contribution=1.0) == [[], [], []]
    kept = top_reasons(model, rows)[2]
    assert [v for _, v in kept] == pytest.approx(contributions.loc[2, ["a", "b"]].tolist())
    for bad in ({"min_share": 1.5}, {"min_share": -0.1}, {"min_contribution": -0.001},
                {"min_contribution": np.nan}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            top_reasons(model, rows, **bad)


# ----------------------------------------------------------------------------- scale path


def test_group_holdout_keeps_customers_whole_and_the_churn_share():
    y, groups = _stacked_customers(4000, seed=1)
    fit, held = group_holdout(y, groups, 0.2, np.random.default_rng(0))
    assert np.array_equal(np.sort(np.concatenate([fit, held])), np.arange(len(y)))
    assert not set(groups[fit]) & set(groups[held])
    n_groups, n_churner_groups = len(set(groups)), len(set(groups[y == 1]))
    assert len(set(groups[held])) == pytest.approx(0.2 * n_groups, abs=2)
    assert len(set(groups[held][y[held] == 1])) == round(0.2 * n_churner_groups)
    again = group_holdout(y, groups, 0.2, np.random.default_rng(0))
    assert np.array_equal(again[1], held)


def test_group_holdout_without_a_generator_deals_the_groups_in_sorted_order():
    y, groups = _stacked_customers(4000, seed=1)
    fit, held = group_holdout(y, groups, 0.2)
    assert not set(groups[fit]) & set(groups[held])
    n_groups, n_churner_groups = len(set(groups)), len(set(groups[y == 1]))
    assert len(set(groups[held])) == pytest.approx(0.2 * n_groups, abs=2)
    assert len(set(groups[held][y[held] == 1])) == round(0.2 * n_churner_groups)
    # A function of the groups alone: the rows in another order hold out the same groups.
    perm = np.random.default_rng(3).permutation(len(y))
    _, held_perm = group_holdout(y[perm], groups[perm], 0.2)
    assert set(groups[perm][held_perm]) == set(groups[held])
    # Spread over the sorted order, not a block at one end of it.
    ranks = np.searchsorted(np.unique(groups), np.unique(groups[held]))
    assert ranks.min() < 0.1 * n_groups and ranks.max() > 0.9 * n_groups


def test_churn_model_ordered_holdout_takes_the_slice_from_no_seed():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    y = (X["a"] + rng.normal(size=600) > 1).astype(int)
    groups = np.arange(600)

    def fitted(seed, ordered):
        return ChurnModel(estimator="logistic", importance=None, ordered_holdout=ordered,
                          random_state=seed).fit(X, y, groups=groups).predict_proba(X)[:, 1]

    np.testing.assert_array_equal(fitted(0, True), fitted(1, True))
    assert not np.array_equal(fitted(0, False), fitted(1, False))


def test_training_sample_keeps_every_churner_and_weights_stayers_back():
    y = np.array([1] * 30 + [0] * 970)
    rows, weights = training_sample(y, np.arange(1000), 200, np.random.default_rng(0))
    assert len(rows) == 200 and np.all(np.diff(rows) > 0)
    assert y[rows].sum() == 30                         # every churner
    np.testing.assert_allclose(weights[y[rows] == 1], 1.0)
    np.testing.assert_allclose(weights[y[rows] == 0], 970 / 170)
    assert weights.sum() == pytest.approx(1000)        # the weighted rows are the population
    same, none = training_sample(y, np.arange(100), 200, np.random.default_rng(0))
    assert none is None and len(same) == 100
    # More churners than half the cap: half the rows are churners, both classes weighted.
    y = np.array([1] * 600 + [0] * 400)
    rows, weights = training_sample(y, np.arange(1000), 200, np.random.default_rng(0))
    assert y[rows].sum() == 100
    np.testing.assert_allclose(np.sort(np.unique(weights)), [4.0, 6.0])


def test_sampled_fit_keeps_calibration():
    """Fitted on 6,000 of 40,000 rows (every churner, stayers drawn at about 1 in 9 and
    weighted back), the uncalibrated model's mean probability is still the churn rate (about
    4.6%); unweighted, the same sample would put it near a third."""
    rng = np.random.default_rng(6)
    n = 40_000
    X = pd.DataFrame({"x": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(-3.3 + 0.8 * X["x"])))).astype(int).to_numpy()
    model = _model("gbm", calibration=None, importance=None, max_train_rows=6000,
                   min_samples_leaf=40).fit(X, y)
    assert model.n_train_rows_ == 6000 and model.train_weights_.max() > 5
    assert model.train_weights_.sum() == pytest.approx(n)
    p = model.predict_proba(X)[:, 1]
    assert y.sum() / 6000 > 0.3                        # the sample's own churn share
    assert abs(p.mean() - y.mean()) < 0.005
    assert roc_auc(y, p) > 0.65
    calibrated = _model("gbm", importance=None, max_train_rows=6000).fit(X, y)
    assert abs(calibrated.predict_proba(X)[:, 1].mean() - y.mean()) < 0.005


def test_holdout_calibration_is_platt_scaling_of_the_base_log_odds(world):
    """cv="holdout": one base model, and P = sigmoid(a z + b) of its log-odds z with a > 0,
    a and b fitted on the held-out customers; the base model's ranking is kept whole."""
    X_train, y_train, X_test, y_test = world
    model = _model("gbm", importance=None).fit(X_train, y_train)
    base = model.estimator_.base
    z = base.decision_function(model._prepare(X_test))
    p = model.predict_proba(X_test)[:, 1]
    slope, intercept = np.polyfit(z, logit(p), 1)
    assert slope > 0
    np.testing.assert_allclose(logit(p), slope * z + intercept, atol=1e-8)
    assert model.n_train_rows_ == pytest.approx(0.8 * len(y_train), abs=2)
    assert roc_auc(y_test, p) > 0.85


def test_early_stopping_stops_on_noise():
    rng = np.random.default_rng(8)
    X = pd.DataFrame(rng.normal(size=(3000, 3)), columns=list("abc"))
    y = (rng.random(3000) < 0.2).astype(int)
    model = _model("gbm", max_iter=300, importance=None).fit(X, y)
    assert model.n_early_stopping_iter_ < 60
    assert model.predict_proba(X)[:, 1].std() < 0.03
    folds = _model("gbm", max_iter=300, cv=3, importance=None).fit(X, y)
    assert folds.n_early_stopping_iter_ is None


def test_path_contributions_of_a_single_split_by_hand():
    """One tree, one split on x at 0 (the other column pure noise): a row's contribution of x
    is its leaf value minus the root value (the count-weighted mean of the leaves), noise
    gets 0, and they sum to the raw score minus the expected score."""
    x = np.r_[np.full(300, -1.0), np.full(100, 1.0)]
    y = np.r_[np.zeros(270), np.ones(30), np.zeros(50), np.ones(50)].astype(int)
    X = np.column_stack([x, np.random.default_rng(0).normal(size=400)])
    from sklearn.ensemble import HistGradientBoostingClassifier
    gbm = HistGradientBoostingClassifier(max_iter=1, max_leaf_nodes=2, learning_rate=1.0,
                                         early_stopping=False).fit(X, y)
    nodes = gbm._predictors[0][0].nodes
    assert nodes["feature_idx"][0] == 0 and nodes["is_leaf"].sum() == 2
    left, right = nodes["value"][nodes["left"][0]], nodes["value"][nodes["right"][0]]
    root = (300 * left + 100 * right) / 400
    phi, expected = tree_path_contributions(gbm, np.array([[-1.0, 5.0], [1.0, -5.0],
                                                           [np.nan, 0.0]]))
    np.testing.assert_allclose(phi[:2, 0], [left - root, right - root])
    np.testing.assert_allclose(phi[:, 1], 0.0)
    assert expected == pytest.approx(float(np.ravel(gbm._baseline_prediction)[0]) + root)
    raw = gbm.decision_function(np.array([[-1.0, 5.0], [1.0, -5.0], [np.nan, 0.0]]))
    np.testing.assert_allclose(phi.sum(axis=1) + expected, raw, atol=1e-12)


def test_path_contributions_sum_to_the_log_odds_with_categories_and_missing(world):
    X_train, y_train, X_test, _ = world
    model = _model("gbm", importance=None, max_leaf_nodes=8).fit(X_train, y_train)
    odd = pd.DataFrame({
        "drops": [np.nan, 1.0, 0.5],
        "plan": pd.Series(["platinum", None, "basic"], dtype="str"),
        "noise": [np.nan, np.nan, 0.0],
        "region": pd.Series([None, "mars", "north"], dtype="object"),
        "flag": [True, False, True],
    })
    for rows in (X_test, odd):
        phi, z = model.log_odds_contributions(rows)
        raw = model.estimator_.base.decision_function(model._prepare(rows))
        np.testing.assert_allclose(z, raw, atol=1e-10)
        assert list(phi.columns) == list(model.feature_names_in_)
    phi, z = model.log_odds_contributions(X_test)
    assert phi["drops"].abs().mean() > 3 * phi["noise"].abs().mean()
    # In probability units: the risk without the feature's share of the log-odds.
    contributions = reason_contributions(model, X_test.iloc[:5], features=["drops", "plan"])
    expected = expit(z[:5, None]) - expit(z[:5, None] - phi[["drops", "plan"]].to_numpy()[:5])
    np.testing.assert_allclose(contributions.to_numpy(), expected, atol=1e-12)
    with pytest.raises(ValueError, match="path"):
        reason_contributions(_model("logistic", importance=None).fit(X_train, y_train),
                             X_test, method="path")


def test_contribution_importance_is_mean_absolute_path_contribution_on_held_out_rows():
    """importance="auto" on boosting with a held-out slice: each feature's mean |path
    contribution| over that slice (a feature the trees never use: 0); on the logistic
    regression "auto" stays permutation; "contribution" without the one-pass decomposition
    is refused."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=3000), "unused": np.zeros(3000)})
    y = (X["signal"] + rng.normal(scale=0.5, size=3000) > 1.0).astype(int)
    model = ChurnModel(estimator="gbm", importance="auto", max_iter=30, random_state=0).fit(X, y)
    assert model.importance_kind_ == "contribution"
    assert model.feature_importances_["unused"] == 0.0
    assert model.feature_importances_["signal"] > 0.1
    logistic = ChurnModel(estimator="logistic", importance="auto").fit(X, y)
    assert logistic.importance_kind_ == "permutation"
    with pytest.raises(ValueError, match="contribution"):
        ChurnModel(estimator="logistic", importance="contribution").fit(X, y)
    assert ChurnModel(estimator="gbm", importance=None, max_iter=5).fit(X, y).importance_kind_ is None


@pytest.mark.parametrize("leaves", [4, 31])  # small trees split over every row; large ones walked
def test_walking_boosting_predicts_exactly_as_scikit_learn(leaves):
    """Both ways of predicting a tree (every split over whole columns for small trees, the
    walk of the rows reaching each node for large ones) add the same leaves in the same order
    as scikit-learn's predictor: identical log-odds, with missing values sent either way, a
    categorical column, categories unseen in training and negative codes."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from graphchurn.models.learners import WalkingBoostingClassifier

    rng = np.random.default_rng(3)
    n = 4000
    X = np.column_stack([rng.integers(0, 6, n).astype(float), rng.normal(size=n),
                         rng.normal(size=n)])
    X[rng.random(n) < 0.1, 1] = np.nan
    y = ((X[:, 0] % 2 == 0) ^ (np.nan_to_num(X[:, 1]) > 0.3)).astype(int)
    # Missing values of the third column look like its high values: sent the other way.
    X[rng.random(n) < 0.1, 2] = np.nan
    y = np.where(np.isnan(X[:, 2]) | (X[:, 2] > 1.0), 1 - y, y)
    params = dict(max_iter=40, max_leaf_nodes=leaves, categorical_features=[True, False, False],
                  random_state=0)
    ours = WalkingBoostingClassifier(**params).fit(X, y)
    theirs = HistGradientBoostingClassifier(**params).fit(X, y)
    splits = [node for (tree,) in ours._predictors for node in tree.nodes
              if not node["is_leaf"] and not node["is_categorical"]]
    assert {bool(node["missing_go_to_left"]) for node in splits} == {True, False}
    test = X.copy()
    test[:50, 0] = 9.0        # a category never seen in training
    test[50:100, 0] = np.nan  # a missing category
    test[100:150, 0] = -1.0   # a negative code
    np.testing.assert_array_equal(ours.decision_function(test), theirs.decision_function(test))
    np.testing.assert_array_equal(ours.predict_proba(test), theirs.predict_proba(test))
    staged = [p for p in ours.staged_decision_function(test)]
    np.testing.assert_array_equal(staged[-1], theirs.decision_function(test))


@pytest.mark.parametrize("n_levels", [6, 400])
def test_category_codes_match_scikit_learns_ordinal_encoder(n_levels):
    """The boosting's category codes (pandas hash tables) are OrdinalEncoder's: sorted
    categories, the least frequent pooled into one last code beyond max_categories (ties: the
    earlier in sorted order), missing and unseen values as NaN."""
    from sklearn.preprocessing import OrdinalEncoder

    from graphchurn.models.learners import CategoryCodes

    rng = np.random.default_rng(3)
    drawn = rng.zipf(1.4, 5000) % n_levels
    column = np.array([f"p{v}" for v in drawn], dtype=object)
    column[rng.random(5000) < 0.05] = np.nan
    X = pd.DataFrame({"plan": column, "region": column[::-1].copy()})
    unseen = np.array([f"p{v}" for v in rng.integers(0, n_levels + 30, 2000)], dtype=object)
    unseen[:20] = np.nan
    T = pd.DataFrame({"plan": unseen, "region": unseen[::-1].copy()})
    theirs = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                            encoded_missing_value=np.nan, max_categories=250).fit(X)
    ours = CategoryCodes(max_categories=250).fit(X)
    for table in (X, T):
        np.testing.assert_array_equal(ours.transform(table), theirs.transform(table))
    assert np.nanmax(ours.transform(X)) == min(n_levels, 250) - 1
    assert list(ours.get_feature_names_out()) == ["plan", "region"]
    with pytest.raises(ValueError, match="max_categories"):
        CategoryCodes(max_categories=1).fit(X)
