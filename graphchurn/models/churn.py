"""The churn model: :class:`ChurnModel`, a scikit-learn classifier over a pandas feature table
(numeric and categorical columns, missing values allowed) that returns calibrated churn
probabilities.

This module holds the estimator itself: input validation, the encoding and learners, the fit
strategies (held-out slice, cross-fitting, calibration folds), the penalty search and feature
importance. Its parts live beside it: :mod:`graphchurn.models.sampling` (group folds, the
held-out slice, the training sample), :mod:`graphchurn.models.calibration` (calibrating
log-odds and the fitted wrappers), :mod:`graphchurn.models.trees` (path contributions of the
boosting trees). Reasons are in :mod:`graphchurn.models.explain`, metrics in
:mod:`graphchurn.models.metrics`.

References
----------
Metrics' and reasons' references are in :mod:`graphchurn.models.metrics` and
:mod:`graphchurn.models.explain`.

.. [4] B. Zadrozny, C. Elkan, "Transforming classifier scores into accurate multiclass
   probability estimates", KDD 2002 (isotonic calibration); J. Platt, "Probabilistic outputs
   for support vector machines...", 1999 (sigmoid calibration).
.. [5] A. Fisher, C. Rudin, F. Dominici, "All models are wrong, but many are useful: learning a
   variable's importance by studying an entire class of prediction models simultaneously",
   JMLR 20(177) (2019) 1-81 (permutation importance, after L. Breiman, "Random forests",
   Machine Learning 45 (2001) 5-32).
.. [7] L. I. Kuncheva, "Combining Pattern Classifiers: Methods and Algorithms", Wiley (2004),
   ch. 5 (averaging the class probabilities of diverse classifiers).
.. [8] K. J. M. Janssen, K. G. M. Moons, C. J. Kalkman, D. E. Grobbee, Y. Vergouwe, "Updating
   methods improved the performance of a clinical prediction model in new patients", Journal
   of Clinical Epidemiology 61(1) (2008) 76-86 (recalibration in the large: a new intercept
   for an existing model's log-odds).
.. [9] T. M. Beasley, S. Erickson, D. B. Allison, "Rank-based inverse normal transformations
   are increasingly used, but are they merited?", Behavior Genetics 39(5) (2009) 580-595.
"""

from __future__ import annotations

import contextlib
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import VotingClassifier
from sklearn.inspection import permutation_importance
from sklearn.model_selection import (GridSearchCV, GroupShuffleSplit, StratifiedKFold,
                                     train_test_split)
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (check_array, check_consistent_length, check_is_fitted,
                                      column_or_1d)
from threadpoolctl import threadpool_limits

from graphchurn.models.calibration import (Averaged, HeldOutCalibrated, LogOdds, SoftVote,
                                           base_log_odds, fit_calibrator, level_shift)
from graphchurn.models.learners import gbm_pipeline, is_categorical, logistic_pipeline
from graphchurn.models.sampling import group_folds, group_holdout, training_sample
from graphchurn.models.trees import fitted_iterations, tree_path_contributions

__all__ = ["ChurnModel", "C_SEARCH_REPEATS", "C_SEARCH_TOLERANCE"]

# group_folds, group_holdout, training_sample and tree_path_contributions stay importable from
# here (tests/test_model.py imports them so), and so does the level shift under its former
# private name.
_level_shift = level_shift

# Below this many rows native thread pools cost more than they save (see ChurnModel.n_threads).
_SMALL_TABLE_ROWS = 50_000
#: The C search compares the grid on this many 3-fold splits (fixed seeds 0, 1, ...) ...
C_SEARCH_REPEATS = 3
#: ... and takes the strongest penalty within this ROC-AUC of the best.
C_SEARCH_TOLERANCE = 0.001


# =========================================================================== the estimator


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Calibrated churn classifier over a pandas feature table.

    Numeric columns (including bool) are used as numbers; object, string and category columns
    are categorical. Missing values are allowed everywhere. Encoding happens inside:

    - ``estimator="gbm"``: histogram gradient boosting with native categorical splits
      (categories ordinal-encoded, rare ones pooled) and native missing-value handling;
    - ``estimator="logistic"``: median imputation with missing indicators + standard scaling for
      numbers (with ``normal_scores``, also each number's rank mapped to a normal score),
      one-hot encoding (missing as its own level, rare levels pooled) for categories, then
      logistic regression;
    - ``estimator="ensemble"``: both, soft voting (the mean of their probabilities) [7]_.

    By default (``cv="holdout"``) one base model is fitted on the rows outside a held-out
    slice of whole groups (customers), on at most ``max_train_rows`` of them (every churner,
    stayers drawn and weighted back); the boosting stops early on the held-out slice, which
    also fits the calibration and measures permutation importance: one model fit in all.
    With ``cv`` a number of folds, probabilities are calibrated with
    :class:`~sklearn.calibration.CalibratedClassifierCV` instead (stratified, shuffled,
    seeded folds; the fold models are averaged) [4]_, and importance refits the base model.

    Parameters
    ----------
    estimator : {"gbm", "logistic", "ensemble"}, default "gbm"
    calibration : {"isotonic", "sigmoid"} or None, default "sigmoid"
        ``"sigmoid"`` is Platt scaling of the base model's log-odds, ``P = 1 / (1 + exp(-(a
        logit(p) + b)))`` fitted on each held-out fold [4]_ (scikit-learn would fit it on the
        soft-voting ensemble's probability itself, which has no log-odds of its own). Being
        strictly increasing, it keeps the base model's ranking; ``"isotonic"`` is a step
        function, so customers on one of its plateaus tie. None fits the base pipeline on all
        the data, uncalibrated.
    cv : "holdout" or int, default "holdout"
        ``"holdout"``: calibrate on a held-out ``holdout`` share of the groups (calibration is
        skipped with a warning when either side lacks churners or stayers). A number:
        calibration folds (reduced to the smaller class count when that is lower; calibration
        is skipped with a warning when a class has fewer than 2 rows).
    holdout : float, default 0.2
        With ``cv="holdout"``: the share of groups (stratified on holding a churner) held out
        for early stopping, calibration and importance.
    ordered_holdout : bool, default False
        With ``cv="holdout"``: deal the held-out slice over the groups in sorted order
        (:func:`group_holdout` without a generator) instead of drawing it with
        ``random_state``. With ``groups`` numbered in an order that carries no information
        (:func:`graphchurn.pipeline.canonical_groups`) the deal is as good as a draw, and the
        slice, which decides early stopping and the calibration, is a function of the data
        alone: a different seed no longer moves the probabilities through it (issue 22).
    max_train_rows : int or None, default 300_000
        With ``cv="holdout"``: the base model is fitted on at most this many rows
        (:func:`training_sample`: every churner while they fill at most half of it, a random
        draw of stayers for the rest, each row weighted by the inverse of its class's drawn
        share, so probabilities keep the population's level). None: every row.
    early_stopping : bool, default True
        With ``cv="holdout"`` and a calibration: gradient boosting stops when the log loss on
        the held-out slice has not improved for 10 iterations (``max_iter`` is the cap).
    max_iter, learning_rate, max_leaf_nodes, l2_regularization
        Gradient boosting hyper-parameters (see
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`).
    min_samples_leaf : int or float, default 20
        Smallest leaf of a boosting tree: a count, or a share of the training rows when a
        float in (0, 1) (never fewer than 20 rows), so that the same setting regularises a
        small log and a large one alike.
    C : float or "auto", default 1.0
        Inverse regularisation strength of the logistic regression. "auto" picks it from
        ``Cs`` by ROC-AUC in a 3-fold cross-validation of the logistic regression alone (folds
        by ``groups`` when given), once per fit: how strongly to regularise depends on how
        many rows there are and how many features carry signal, which differs between logs.
    Cs : tuple of float, default (0.02, 0.05, 0.2, 1.0)
        The candidates of ``C="auto"``.
    C_search_max_rows : int or None, default 250_000
        ``C="auto"`` compares the candidates on at most this many rows (whole groups, drawn
        with ``random_state``) and fits the chosen C on all of them. The comparison is 3 x
        ``len(Cs)`` fits of the L1 logistic regression, the most expensive part of a large fit
        (timings in docs/results.md), while with a quarter of a million rows for a few dozen
        columns the candidates differ by a few ten-thousandths of AUC. The chosen C, applied to more rows, penalises each row less,
        which a table that long does not need. None compares on every row.
    l1_ratio : float, default 0.0
        Mix of the logistic regression's penalty: 0 = L2 (ridge), 1 = L1 (lasso, which sets
        the coefficients of uninformative features to exactly 0), in between = elastic net.
    normal_scores : bool, default False
        Give the logistic regression every numeric column twice: standardised as is, and as
        its rank-based inverse normal transform (the training quantile of the value mapped to
        a standard normal score, Beasley et al. 2009 [9]_). The two coefficients together
        express a monotone effect that is not a straight line in the raw value: a risk that
        saturates (the share of one's calls to leavers matters most in its first few
        percent), or a heavy-tailed count whose few extreme values would otherwise dictate
        the slope. The penalty sets either coefficient to 0 where it adds nothing.
    importance : {"auto", "contribution", "permutation"} or None, default "permutation"
        How ``feature_importances_`` is computed. "contribution": the mean absolute log-odds
        contribution of each feature (path attribution, :func:`tree_path_contributions`) over
        the held-out slice -- one pass over it, for boosting with ``cv="holdout"`` only;
        a feature the model does not use scores 0, one that moves many customers' log-odds
        far scores high. "auto": "contribution" where the model has that one-pass
        decomposition, "permutation" otherwise. "permutation": permutation importance [5]_ -- the mean drop in
        ROC AUC when a column is shuffled. With ``cv="holdout"``: of the base model itself, on
        (at most ``importance_max_rows`` of) the held-out slice, no refit (all NaN without a
        held-out slice, i.e. with ``calibration=None``). With folds: measured
        on a held-out, stratified ``importance_holdout`` share of the training rows by a copy
        of the (uncalibrated) base pipeline fitted on the rest. None skips it
        (``feature_importances_`` is all NaN).
    importance_holdout : float, default 0.25
    importance_repeats : int, default 3
    importance_max_rows : int or None, default 20_000
        Each shuffle is scored on at most this many held-out rows (a fresh sample per
        repeat): every feature costs ``importance_repeats`` predictions of the held-out rows,
        which grows with the table while the ranking settles long before (docs/results.md).
        None scores every held-out row.
    holdout_folds : int or None, default None
        With ``cv="holdout"``: instead of one held-out slice, split the groups into this many
        stratified folds and fit one base model per fold, each stopped early and calibrated
        on its own fold (every customer is held out once), then average their calibrated
        probabilities (cross-fitting). A single held-out slice makes the model depend on
        which customers the seed (and the spelling of their ids) put in it; averaging over
        complementary slices removes most of that (issue 22, experiments/stability.py), at
        ``holdout_folds`` times the fitting cost. Reasons then use the difference method.
    random_state : int, default 0
        Seeds the folds, the boosting and the permutation importance: same data + seed gives
        the same probabilities.
    fold_seed : int or None, default None
        Seeds the calibration folds and the cross-fitting folds instead of ``random_state``
        (None: ``random_state``). With a fixed fold seed and ``groups`` numbered canonically
        (:func:`graphchurn.pipeline.canonical_groups`) the folds are a function of the data
        alone, so a different seed or differently spelled ids deal the customers into the
        same folds (issue 22).
    n_threads : int, "auto" or None, default "auto"
        Cap on native (OpenMP/BLAS) threads while fitting and predicting. None keeps the
        libraries' default (all cores); "auto" uses one thread for tables under 50,000 rows and
        the default above. On small tables the per-split parallel regions are so short that a
        thread pool only adds synchronisation, and on a busy machine its spinning threads slow
        gradient boosting down by orders of magnitude (docs/results.md).

    Attributes
    ----------
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    categorical_features_ : list of str
    empty_features_ : list of str
        Columns missing in every training row; the model ignores them.
    reference_values_ : dict
        Training median (numbers) or mode (categories) of each feature; used by
        :func:`top_reasons`.
    n_fit_rows_ : int
        Rows the trees are grown on (what a fractional ``min_samples_leaf`` is a share of):
        all training rows with folds, the sampled rows outside the held-out slice with
        ``cv="holdout"``.
    n_train_rows_ : int
        Rows the base model was fitted on.
    train_weights_ : ndarray or None
        Their sample weights when they are a sample (``max_train_rows``), else None.
    n_early_stopping_iter_ : int or None
        Boosting iterations kept by early stopping (None without it).
    C_ : float or None
        The logistic regression's C (chosen from ``Cs`` when ``C="auto"``; None for "gbm").
    C_scores_ : dict or None
        With ``C="auto"``: the cross-validated ROC-AUC of each candidate.
    n_C_search_rows_ : int or None
        With ``C="auto"``: the rows the candidates were compared on.
    classes_ : ndarray of shape (2,)
        The two labels seen in fit, sorted; the second, ``classes_[1]``, is churn (the
        positive class of ``predict_proba[:, 1]``): 0/1, False/True, 1/2, "stay"/"churn"...
    n_iter_ : int
        The most iterations any fitted base model ran (boosting iterations, or the logistic
        solver's).
    estimator_ : the fitted scikit-learn model (calibrated or not)
    calibrated_ : bool
    level_shift_ : float
        Added to the log-odds of every probability (0.0 unless ``fit`` was given ``latest``).
    feature_importances_ : pandas.Series
        Indexed by feature name, in ``feature_names_in_`` order.
    importance_kind_ : {"contribution", "permutation"} or None
        What ``feature_importances_`` measures (``importance="auto"`` resolved).

    Notes
    -----
    The scikit-learn estimator contract holds (``tests/test_sklearn_checks.py`` runs
    :func:`~sklearn.utils.estimator_checks.parametrize_with_checks`): any two class labels;
    a target with more than two classes, or a continuous one, is refused with scikit-learn's
    messages; parameters are validated at ``fit`` (``_parameter_constraints``). Arrays go
    through :func:`~sklearn.utils.validation.check_array` (numbers; NaN allowed, infinity,
    complex and sparse data refused) and are matched to the fitted columns by position;
    DataFrames keep their dtypes (strings and categories are categorical) and are matched by
    column name, in any order, extra columns ignored.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"calls": rng.normal(size=400), "plan": rng.choice(["a", "b"], 400)})
    >>> y = (X["calls"] + rng.normal(scale=0.5, size=400) > 1).astype(int)
    >>> model = ChurnModel(estimator="logistic", importance=None).fit(X, y)
    >>> model.predict_proba(X).shape
    (400, 2)
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [StrOptions({"gbm", "logistic", "ensemble"})],
        "calibration": [StrOptions({"isotonic", "sigmoid"}), None],
        "cv": [StrOptions({"holdout"}), Interval(Integral, 2, None, closed="left")],
        "holdout": [Interval(Real, 0, 1, closed="neither")],
        "holdout_folds": [Interval(Integral, 1, None, closed="left"), None],
        "ordered_holdout": ["boolean"],
        "max_train_rows": [Interval(Integral, 2, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left"), None],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left"),
                             Interval(Real, 0, 1, closed="neither")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "Cs": ["array-like"],
        "C_search_max_rows": [Interval(Integral, 2, None, closed="left"), None],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "normal_scores": ["boolean"],
        "importance": [StrOptions({"auto", "contribution", "permutation"}), None],
        "importance_holdout": [Interval(Real, 0, 1, closed="neither")],
        "importance_repeats": [Interval(Integral, 1, None, closed="left")],
        "importance_max_rows": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
        "fold_seed": [Interval(Integral, 0, None, closed="left"), None],
        "n_threads": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
    }

    def __init__(self, estimator="gbm", calibration="sigmoid", cv="holdout", holdout=0.2,
                 holdout_folds=None, ordered_holdout=False, max_train_rows=300_000,
                 early_stopping=True, max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                 min_samples_leaf=20,
                 l2_regularization=1.0, C=1.0, Cs=(0.02, 0.05, 0.2, 1.0),
                 C_search_max_rows=250_000, l1_ratio=0.0, normal_scores=False,
                 importance="permutation",
                 importance_holdout=0.25, importance_repeats=3, importance_max_rows=20_000,
                 random_state=0, fold_seed=None, n_threads="auto"):
        self.estimator = estimator
        self.calibration = calibration
        self.cv = cv
        self.holdout = holdout
        self.holdout_folds = holdout_folds
        self.ordered_holdout = ordered_holdout
        self.max_train_rows = max_train_rows
        self.early_stopping = early_stopping
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.C = C
        self.Cs = Cs
        self.C_search_max_rows = C_search_max_rows
        self.l1_ratio = l1_ratio
        self.normal_scores = normal_scores
        self.importance = importance
        self.importance_holdout = importance_holdout
        self.importance_repeats = importance_repeats
        self.importance_max_rows = importance_max_rows
        self.random_state = random_state
        self.fold_seed = fold_seed
        self.n_threads = n_threads

    def _threads(self, n_rows: int):
        limit = self.n_threads
        if limit == "auto":
            limit = 1 if n_rows < _SMALL_TABLE_ROWS else None
        if limit is None:
            return contextlib.nullcontext()
        return threadpool_limits(limits=int(limit))

    # ------------------------------------------------------------------ input handling

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # churn or not: two classes
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True  # DataFrame string / category columns
        return tags

    def _validate_X(self, X, reset: bool) -> pd.DataFrame:
        """The feature table as a DataFrame named by ``feature_names_in_``.

        Fit (``reset``): sets ``feature_names_in_`` (a DataFrame's column names; ``x0``,
        ``x1``... for an array) and ``n_features_in_``. Later: a DataFrame must hold every
        fitted column (matched by name, in any order; extra columns are ignored); an array
        must have ``n_features_in_`` columns (matched by position).
        Arrays go through :func:`~sklearn.utils.validation.check_array` (numbers, NaN
        allowed); DataFrames keep their dtypes (infinity is refused in :meth:`_prepare`).
        """
        name = type(self).__name__
        if isinstance(X, pd.DataFrame):
            shape = X.shape
            if shape[1] < 1:
                raise ValueError(f"Found array with 0 feature(s) (shape={shape}) while a "
                                 f"minimum of 1 is required by {name}.")
            if reset and shape[0] < 2:
                raise ValueError(f"Found array with {shape[0]} sample(s) (shape={shape}) while "
                                 f"a minimum of 2 is required by {name}.")
            complex_columns = [c for c, dtype in X.dtypes.items()
                               if pd.api.types.is_complex_dtype(dtype)]
            if complex_columns:
                raise ValueError(f"Complex data not supported: columns {complex_columns[:5]}")
            names = [str(c) for c in X.columns]
            if reset:
                self.feature_names_in_ = np.asarray(names, dtype=object)
                if len(set(names)) != len(names):
                    raise ValueError("feature names must be unique")
                self.n_features_in_ = len(names)
                self._fit_on_array = False
                return X if list(X.columns) == names else X.set_axis(names, axis=1)
            fitted = list(self.feature_names_in_)
            given, known = set(names), set(fitted)
            missing = [c for c in fitted if c not in given]
            if missing and getattr(self, "_fit_on_array", False) and len(names) == len(fitted):
                warnings.warn(f"X has feature names, but {name} was fitted without feature "
                              "names", UserWarning, stacklevel=3)
                return X.set_axis(fitted, axis=1)
            if missing:
                unseen = [c for c in names if c not in known]
                message = "The feature names should match those that were passed during fit.\n"
                if unseen:
                    message += "Feature names unseen at fit time:\n" + "".join(
                        f"- {c}\n" for c in unseen[:5]) + ("- ...\n" if len(unseen) > 5 else "")
                message += "Feature names seen at fit time, yet now missing:\n" + "".join(
                    f"- {c}\n" for c in missing[:5]) + ("- ...\n" if len(missing) > 5 else "")
                raise ValueError(message)
            return X if list(X.columns) == names else X.set_axis(names, axis=1)
        # Arrays: numbers (an object array is converted), unless a fitted model has
        # categorical columns, which an object array may then hold as strings.
        numeric = reset or not self.categorical_features_
        array = check_array(X, accept_sparse=False, dtype="numeric" if numeric else None,
                            ensure_all_finite="allow-nan", ensure_min_samples=2 if reset else 1,
                            estimator=self, input_name="X")
        if reset:
            self.n_features_in_ = array.shape[1]
            self.feature_names_in_ = np.asarray([f"x{i}" for i in range(array.shape[1])],
                                                dtype=object)
            self._fit_on_array = True
        elif array.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {array.shape[1]} features, but {name} is expecting "
                             f"{self.n_features_in_} features as input.")
        elif not getattr(self, "_fit_on_array", True):
            warnings.warn(f"X does not have valid feature names, but {name} was fitted with "
                          "feature names", UserWarning, stacklevel=3)
        return pd.DataFrame(array, columns=list(self.feature_names_in_))

    def _align(self, X) -> pd.DataFrame:
        """The (validated) feature table of a fitted model, columns in fit order."""
        return self._validate_X(X, reset=False)

    def _validate_y(self, y, n_rows: int) -> np.ndarray:
        """Sets ``classes_`` (two labels, sorted) and returns the labels as 0/1 (1: churn,
        ``classes_[1]``)."""
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None.")
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty((n_rows, 0)), y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type.startswith("continuous"):
            raise ValueError(f"Unknown label type: {y_type}. {name} is a classifier (churn or "
                             "not); it got a continuous target, which needs a regressor, or "
                             "labels coded as whole numbers.")
        if y_type != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target "
                             f"is {y_type}: {name} is a binary churn model and needs exactly "
                             f"two labels (stayers and churners), got "
                             f"{len(np.unique(y))}.")
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("training labels hold one class only; need churners and "
                             "stayers")
        return encoded.astype(np.int64)

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns in fit order: numbers as float64 (NaN missing), categories as object str."""
        columns = {}
        categorical = set(self.categorical_features_)
        for name in self.feature_names_in_:
            column = X[name]
            if name in categorical:
                missing = column.isna().to_numpy()
                values = column.astype(str).to_numpy(dtype=object)
                values[missing] = np.nan
                columns[name] = values
            else:
                values = column.to_numpy(dtype=np.float64, na_value=np.nan)
                if np.isinf(values).any():
                    raise ValueError("Input X contains infinity or a value too large for "
                                     f"dtype('float64'): column {name!r}")
                columns[name] = values
        return pd.DataFrame(columns, index=X.index, columns=list(self.feature_names_in_))

    # ------------------------------------------------------------------ pipelines

    def _make_pipeline(self, C=None, estimator=None) -> Pipeline:
        # Columns missing in every training row carry nothing (and break binning): skip them.
        unused = set(self.empty_features_)
        categorical = [c for c in self.categorical_features_ if c not in unused]
        numeric = [c for c in self.feature_names_in_
                   if c not in set(self.categorical_features_) and c not in unused]
        if not categorical and not numeric:
            raise ValueError("every feature column is empty in the training rows")
        C = self.C_ if C is None else C
        estimator = self.estimator if estimator is None else estimator
        if estimator == "gbm":
            return self._gbm_pipeline(categorical, numeric)
        if estimator == "logistic":
            return self._logistic_pipeline(categorical, numeric, C)
        if estimator == "ensemble":
            # Soft voting: the mean of the two models' probabilities. Boosting finds
            # interactions and thresholds, the linear model is smooth and hard to overfit;
            # their errors differ, so the average often ranks better than either.
            return VotingClassifier([("gbm", self._gbm_pipeline(categorical, numeric)),
                                     ("logistic", self._logistic_pipeline(categorical, numeric, C))],
                                    voting="soft")
        raise ValueError(f"estimator must be 'gbm', 'logistic' or 'ensemble', got {estimator!r}")

    def _gbm_pipeline(self, categorical: list, numeric: list) -> Pipeline:
        return gbm_pipeline(categorical, numeric, max_iter=self.max_iter,
                            learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                            min_samples_leaf=self._min_samples_leaf(),
                            l2_regularization=self.l2_regularization,
                            random_state=self.random_state)

    def _logistic_pipeline(self, categorical: list, numeric: list, C: float) -> Pipeline:
        return logistic_pipeline(categorical, numeric, C, l1_ratio=self.l1_ratio,
                                 normal_scores=self.normal_scores, n_fit_rows=self.n_fit_rows_,
                                 random_state=self.random_state)

    def _min_samples_leaf(self) -> int:
        leaf = self.min_samples_leaf
        if isinstance(leaf, float) and 0 < leaf < 1:
            return max(20, int(round(leaf * self.n_fit_rows_)))
        return int(leaf)

    # ------------------------------------------------------------------ fit / predict

    def fit(self, X, y, groups=None, latest=None):
        """Fit on a feature table and churn labels.

        Parameters
        ----------
        X : pandas.DataFrame (or 2-D array) of shape (n, m)
        y : array-like of shape (n,)
            Two distinct labels; the larger (``classes_[1]``) is churn: 1 of 0/1, True,
            2 of 1/2, the later string in sort order.
        groups : array-like of shape (n,), optional
            Rows with the same group (the same customer at several stacked cut-offs) are kept
            in the same calibration fold and on the same side of the importance holdout.
            Without it, a fold model sees a customer's near-identical rows from neighbouring
            cut-offs and is scored on the rest: its held-out predictions are optimistic, and
            the calibration fitted on them is too confident.
        latest : array-like of bool, shape (n,), optional
            The rows of the newest of several stacked cut-offs. After fitting, one constant
            (``level_shift_``) is added to the model's log-odds so that its mean probability
            over these rows equals their churn rate: recalibration in the large [8]_. Stacked
            cut-offs pool churn rates from months apart, and when the rate drifts (in the
            generator's worlds it falls from about 12% to 8% over the training cut-offs, as
            the frailest customers leave first) the pooled level is stale; the newest cut-off's
            rate is the nearest one to the scoring date. The ranking is unchanged (the shift
            is the same for every row). Without churners or without stayers among these rows
            there is no level to match and the shift stays 0.

        Returns
        -------
        self
        """
        self._validate_params()
        X = self._validate_X(X, reset=True)
        y = self._validate_y(y, len(X))
        counts = np.bincount(y, minlength=2)
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(y),):
                raise ValueError(f"groups must be 1-D with one entry per row ({len(y)}), "
                                 f"got {groups.shape}")
        if latest is not None:
            latest = np.asarray(latest)
            if latest.shape != (len(y),) or latest.dtype != bool:
                raise ValueError(f"latest must be a boolean mask with one entry per row "
                                 f"({len(y)}), got {latest.dtype} of shape {latest.shape}")

        self.n_fit_rows_ = len(y)
        self.categorical_features_ = [c for c in self.feature_names_in_ if is_categorical(X[c])]
        prepared = self._prepare(X)
        self.empty_features_ = [c for c in self.feature_names_in_ if prepared[c].isna().all()]
        self.reference_values_ = self._reference_values(prepared)

        with self._threads(len(prepared)):
            self.C_, self.C_scores_ = self._choose_C(prepared, y, groups)
        self.level_shift_ = 0.0
        self.n_early_stopping_iter_ = None
        if self.importance == "contribution" and (self.estimator != "gbm"
                                                  or self.cv != "holdout"):
            raise ValueError("importance='contribution' needs estimator='gbm' and "
                             "cv='holdout' (the one-pass decomposition); use 'auto' or "
                             "'permutation'")
        if self.cv == "holdout" and self.holdout_folds not in (None, 1):
            self._fit_cross(prepared, y, counts, groups)
        elif self.cv == "holdout":
            self._fit_holdout(prepared, y, counts, groups)
        else:
            self._fit_folds(prepared, y, counts, groups)
        if latest is not None and 0 < y[latest].sum() < latest.sum():
            with self._threads(int(latest.sum())):
                p_latest = self.estimator_.predict_proba(prepared[latest])[:, 1]
            self.level_shift_ = level_shift(p_latest, y[latest].mean())
        self.n_iter_ = max(fitted_iterations(self.estimator_), default=1)
        self.importance_kind_ = self._importance_kind()
        return self

    def _fit_folds(self, prepared, y, counts, groups):
        """``cv`` folds: CalibratedClassifierCV averages the calibrated fold models."""
        self.n_train_rows_, self.train_weights_ = len(y), None
        base = self._make_pipeline()
        folds = self._folds(self.cv, prepared, y, groups)
        self.calibrated_ = self.calibration is not None and folds is not None
        if self.calibrated_:
            # Platt scaling reads decision_function when the model has one: give every
            # estimator (the soft-voting ensemble too) the log-odds of its probability.
            inner = LogOdds(base) if self.calibration == "sigmoid" else base
            self.estimator_ = CalibratedClassifierCV(inner, method=self.calibration, cv=folds,
                                                     ensemble=True)
        else:
            if self.calibration is not None:
                warnings.warn("too few churners or stayers to calibrate; probabilities are "
                              "uncalibrated", RuntimeWarning, stacklevel=3)
            self.estimator_ = base
        with self._threads(len(prepared)):
            self.estimator_.fit(prepared, y)
            self.feature_importances_ = self._importances(base, prepared, y, counts, groups)

    def _fit_holdout(self, prepared, y, counts, groups):
        """One base model on (a sample of) the rows outside a held-out slice of whole groups;
        early stopping, calibration and importance on the held-out slice."""
        share = self.holdout
        cap = self.max_train_rows
        rng = np.random.default_rng(self.random_state)
        hold = None
        if self.calibration is not None:
            fit_rows, held_rows = group_holdout(y, groups, share,
                                                None if self.ordered_holdout else rng)
            if (len(np.unique(y[held_rows])) == 2 and len(np.unique(y[fit_rows])) == 2):
                hold = held_rows
            else:
                warnings.warn("too few churners or stayers to calibrate; probabilities are "
                              "uncalibrated", RuntimeWarning, stacklevel=3)
                fit_rows = np.arange(len(y))
        else:
            fit_rows = np.arange(len(y))
        fit_rows, weights = training_sample(y, fit_rows, cap, rng)
        self.n_train_rows_, self.train_weights_ = len(fit_rows), weights
        # A fractional min_samples_leaf is a share of the rows the trees are grown on.
        self.n_fit_rows_ = len(fit_rows)
        X_fit, y_fit = prepared.iloc[fit_rows], y[fit_rows]
        X_hold = None if hold is None else prepared.iloc[hold]
        y_hold = None if hold is None else y[hold]
        with self._threads(len(fit_rows)):
            base = self._fit_base(X_fit, y_fit, weights, X_hold, y_hold)
        self.calibrated_ = hold is not None
        calibrator = None
        if self.calibrated_:
            with self._threads(len(hold)):
                z = base_log_odds(base, X_hold)
            calibrator = fit_calibrator(self.calibration, z, y_hold)
        self.estimator_ = HeldOutCalibrated(base, calibrator) if self.calibrated_ else base
        self.feature_importances_ = self._holdout_importances(base, X_hold, y_hold, rng)

    def _fit_cross(self, prepared, y, counts, groups):
        """``holdout_folds`` base models, each fitted outside one fold of whole groups and
        stopped early, calibrated and measured (importance) on it; probabilities averaged."""
        k = self.holdout_folds
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise ValueError(f"holdout_folds must be None or a number of folds >= 2, got {k!r}")
        if self.calibration is None:
            raise ValueError("holdout_folds needs a calibration (it calibrates on each fold)")
        rng = np.random.default_rng(self.random_state)
        groups = np.arange(len(y)) if groups is None else groups
        folds = group_folds(y, groups, int(k), self._fold_seed())
        members, importances, stops, rows = [], [], [], 0
        for fit_rows, held in folds:
            if len(np.unique(y[held])) < 2 or len(np.unique(y[fit_rows])) < 2:
                continue
            fit_rows, weights = training_sample(y, fit_rows, self.max_train_rows, rng)
            rows += len(fit_rows)
            self.n_fit_rows_ = len(fit_rows)
            X_hold, y_hold = prepared.iloc[held], y[held]
            self.n_early_stopping_iter_ = None
            with self._threads(len(fit_rows)):
                base = self._fit_base(prepared.iloc[fit_rows], y[fit_rows], weights,
                                      X_hold, y_hold)
            if self.n_early_stopping_iter_ is not None:
                stops.append(self.n_early_stopping_iter_)
            with self._threads(len(held)):
                z = base_log_odds(base, X_hold)
            members.append(HeldOutCalibrated(base, fit_calibrator(self.calibration, z, y_hold)))
            # Each member measures importance on its share of importance_max_rows, so the
            # averaged importance costs what one held-out slice's did.
            importances.append(self._holdout_importances(base, X_hold, y_hold, rng,
                                                         share=1.0 / len(folds)))
        if not members:  # too few churners to split: one model as without folds
            self._fit_holdout(prepared, y, counts, groups)
            return
        self.n_train_rows_, self.train_weights_ = rows // len(members), None
        self.n_early_stopping_iter_ = int(np.mean(stops)) if stops else None
        self.calibrated_ = True
        self.estimator_ = Averaged(members)
        self.feature_importances_ = pd.concat(importances, axis=1).mean(axis=1).rename(
            "importance")

    def _fit_base(self, X, y, weights, X_val, y_val):
        """The (uncalibrated) base model, fitted with sample weights; boosting stops early
        on the held-out rows when there are some."""
        estimator = self.estimator
        if estimator == "ensemble":
            members = [self._fit_base_as(name, X, y, weights, X_val, y_val)
                       for name in ("gbm", "logistic")]
            return SoftVote(members)
        return self._fit_base_as(estimator, X, y, weights, X_val, y_val)

    def _fit_base_as(self, estimator, X, y, weights, X_val, y_val):
        pipe = self._make_pipeline(estimator=estimator)
        if estimator != "gbm":
            return pipe.fit(X, y, classify__sample_weight=weights)
        encode, classify = pipe.named_steps["encode"], pipe.named_steps["classify"]
        X_enc = encode.fit_transform(X)
        if self.early_stopping and X_val is not None:
            classify.set_params(early_stopping=True)
            classify.fit(X_enc, y, sample_weight=weights, X_val=encode.transform(X_val),
                         y_val=y_val)
            self.n_early_stopping_iter_ = int(classify.n_iter_)
        else:
            classify.set_params(early_stopping=False)
            classify.fit(X_enc, y, sample_weight=weights)
        return pipe

    def _holdout_importances(self, base, X_hold, y_hold, rng, share: float = 1.0) -> pd.Series:
        names = list(self.feature_names_in_)
        if self.importance is None:
            return pd.Series(np.nan, index=names, name="importance")
        max_rows = self.importance_max_rows
        if max_rows is not None and share < 1.0:  # cross-fitting: the rows shared by members
            max_rows = max(2, int(max_rows * share))
        if X_hold is None or np.bincount(y_hold, minlength=2).min() < 2:
            return pd.Series(np.nan, index=names, name="importance")
        if self.estimator == "gbm" and self.importance in ("auto", "contribution"):
            return self._contribution_importances(base, X_hold, names)
        if max_rows is not None and len(y_hold) > max_rows:
            rows, _ = train_test_split(np.arange(len(y_hold)), train_size=int(max_rows),
                                       stratify=y_hold,
                                       random_state=int(rng.integers(2**31 - 1)))
            X_hold, y_hold = X_hold.iloc[np.sort(rows)], y_hold[np.sort(rows)]
        if self.estimator == "gbm":
            # The boosting's own input has one column per used feature: shuffle those and
            # skip re-encoding the table for every shuffle (most of the cost otherwise).
            encode, classify = base.named_steps["encode"], base.named_steps["classify"]
            with self._threads(len(y_hold)):
                result = permutation_importance(classify, encode.transform(X_hold), y_hold,
                                                scoring="roc_auc",
                                                n_repeats=self.importance_repeats,
                                                random_state=self.random_state)
            used = pd.Series(result.importances_mean,
                             index=[str(c) for c in encode.get_feature_names_out()])
            # A column empty in every training row is not used: shuffling it changes nothing.
            return used.reindex(names, fill_value=0.0).rename("importance")
        with self._threads(len(y_hold)):
            result = permutation_importance(base, X_hold, y_hold, scoring="roc_auc",
                                            n_repeats=self.importance_repeats,
                                            random_state=self.random_state)
        return pd.Series(result.importances_mean, index=names, name="importance")

    def _importance_kind(self) -> str | None:
        """What ``feature_importances_`` measures: "contribution", "permutation" or None."""
        if self.importance is None:
            return None
        one_pass = self.estimator == "gbm" and self.cv == "holdout"
        return "contribution" if self.importance in ("auto", "contribution") and one_pass \
            else "permutation"

    def _contribution_importances(self, base, X_hold, names) -> pd.Series:
        """Mean absolute path contribution of each feature over the held-out rows: one pass
        over them, where permutation costs ``importance_repeats`` predictions per feature."""
        phi, _ = self._path_decomposition(base, X_hold, X_hold)
        return phi.abs().mean(axis=0).reindex(names, fill_value=0.0).rename("importance")

    def _fold_seed(self):
        return self.random_state if self.fold_seed is None else self.fold_seed

    def _folds(self, n_splits, prepared, y, groups, random_state=None):
        """Stratified, shuffled, seeded folds (by group when given); None if too few churners.
        ``random_state`` defaults to the model's fold seed."""
        seed = self._fold_seed() if random_state is None else random_state
        n_splits = int(min(n_splits, np.bincount(y, minlength=2).min()))
        if groups is not None:
            # Each fold needs a churner: no more folds than groups holding one.
            n_splits = int(min(n_splits, len(np.unique(groups[y == 1]))))
        if n_splits < 2:
            return None
        if groups is None:
            return list(StratifiedKFold(n_splits=n_splits, shuffle=True,
                                        random_state=seed).split(prepared, y))
        return group_folds(y, groups, n_splits, seed)

    def _choose_C(self, prepared, y, groups):
        self.n_C_search_rows_ = None
        if self.estimator == "gbm":
            return None, None
        if self.C != "auto":
            return float(self.C), None
        candidates = [float(c) for c in self.Cs]
        if not candidates or min(candidates) <= 0:
            raise ValueError(f"Cs must hold positive numbers, got {self.Cs!r}")
        rows = self._C_search_rows(y, groups)
        if rows is not None:
            prepared, y = prepared.iloc[rows], y[rows]
            groups = None if groups is None else groups[rows]
        self.n_C_search_rows_ = len(y)
        # Three 3-fold splits on fixed seeds, whatever random_state: the penalty is a property
        # of the data, and one seeded split flipped it between neighbouring values of the grid
        # (C 1.0 against 0.2 on the demo world), which moved single customers' probabilities
        # by up to 0.2 between seeds (issue 22, experiments/results/stability.md).
        folds = [fold for repeat in range(C_SEARCH_REPEATS)
                 for fold in (self._folds(3, prepared, y, groups, random_state=repeat) or [])]
        if not folds:  # too few churners to compare: the middle of the grid
            return sorted(candidates)[len(candidates) // 2], None
        # The logistic regression alone, whatever the estimator; every fold refits the whole
        # pipeline, so imputation and scaling never see the held-out rows.
        grid = sorted(candidates)
        search = GridSearchCV(self._make_pipeline(grid[0], "logistic"),
                              {"classify__C": grid}, scoring="roc_auc", cv=folds, refit=False,
                              error_score=np.nan).fit(prepared, y)
        scores = {C: float(score) for C, score in zip(grid, search.cv_results_["mean_test_score"])}
        # Ties go to the stronger regularisation (the first of the sorted grid), as do all-NaN
        # scores (no fold with both classes held out); so does a C within C_SEARCH_TOLERANCE
        # of the best ROC-AUC (a difference that small is noise, not a reason to flip).
        top = max((v for v in scores.values() if not np.isnan(v)), default=np.nan)
        best = next((c for c in grid if not np.isnan(scores[c])
                     and scores[c] >= top - C_SEARCH_TOLERANCE), grid[0])
        return best, scores

    def _C_search_rows(self, y, groups):
        """Row positions the C search compares on: None (all) up to ``C_search_max_rows``,
        else a seeded sample of whole groups (stratified rows without groups)."""
        cap = self.C_search_max_rows
        if cap is None or len(y) <= cap:
            return None
        if groups is None:
            rows, _ = train_test_split(np.arange(len(y)), train_size=int(cap), stratify=y,
                                       random_state=self.random_state)
            return np.sort(rows)
        codes, uniques = pd.factorize(groups)
        order = np.random.default_rng(self.random_state).permutation(len(uniques))
        # Groups in random order, as many as fit in the cap (at least one).
        n_groups = max(1, int(np.searchsorted(np.cumsum(np.bincount(codes)[order]), cap,
                                              side="right")))
        chosen = np.zeros(len(uniques), dtype=bool)
        chosen[order[:n_groups]] = True
        return np.flatnonzero(chosen[codes])

    def _reference_values(self, prepared: pd.DataFrame) -> dict:
        reference = {}
        for name in self.feature_names_in_:
            column = prepared[name]
            if name in self.categorical_features_:
                mode = column.dropna().mode()
                reference[name] = mode.iloc[0] if len(mode) else np.nan
            else:
                reference[name] = float(column.median()) if column.notna().any() else np.nan
        return reference

    def _importances(self, base, prepared, y, counts, groups=None) -> pd.Series:
        names = list(self.feature_names_in_)
        if self.importance is None:
            return pd.Series(np.nan, index=names, name="importance")
        n_hold = int(round(self.importance_holdout * len(y)))
        if counts.min() < 2 or n_hold < 2 or len(y) - n_hold < 2:
            return pd.Series(np.nan, index=names, name="importance")
        if groups is None:
            X_fit, X_hold, y_fit, y_hold = train_test_split(
                prepared, y, test_size=n_hold, stratify=y, random_state=self.random_state)
        else:
            # Whole groups on either side, about importance_holdout of the rows held out.
            fit_rows, hold_rows = next(GroupShuffleSplit(
                n_splits=1, test_size=self.importance_holdout,
                random_state=self.random_state).split(prepared, y, groups))
            if len(np.unique(y[hold_rows])) < 2 or len(np.unique(y[fit_rows])) < 2:
                return pd.Series(np.nan, index=names, name="importance")
            X_fit, X_hold = prepared.iloc[fit_rows], prepared.iloc[hold_rows]
            y_fit, y_hold = y[fit_rows], y[hold_rows]
        held_out_model = clone(base).fit(X_fit, y_fit)
        max_rows = self.importance_max_rows
        # Every held-out row (1.0) unless there are more than the cap.
        max_samples = 1.0 if max_rows is None or len(y_hold) <= max_rows else int(max_rows)
        result = permutation_importance(held_out_model, X_hold, y_hold, scoring="roc_auc",
                                        n_repeats=self.importance_repeats,
                                        max_samples=max_samples,
                                        random_state=self.random_state)
        return pd.Series(result.importances_mean, index=names, name="importance")

    def log_odds_contributions(self, X) -> tuple[pd.DataFrame, np.ndarray] | None:
        """Per row, each feature's additive contribution to the base model's log-odds, and
        those log-odds; None where the model has no one-pass decomposition.

        Gradient boosting with a held-out calibration (``cv="holdout"``): path attribution
        over its trees (:func:`tree_path_contributions`); the contributions plus a constant
        (the expected log-odds) sum to each row's log-odds exactly. Cross-fitted boosting
        (``holdout_folds``): the members' contributions and log-odds averaged (their mean
        log-odds, which :meth:`_calibrate_log_odds` reads through each member's calibration).
        Other models (the logistic regression, the ensemble, fold-calibrated models): None.
        """
        check_is_fitted(self, "estimator_")
        if self.estimator != "gbm" or self.cv != "holdout":
            return None
        prepared = self._prepare(self._align(X))
        if isinstance(self.estimator_, Averaged):
            parts = [self._path_decomposition(m.base, prepared, X)
                     for m in self.estimator_.members]
            return (sum(p for p, _ in parts) / len(parts),
                    sum(z for _, z in parts) / len(parts))
        base = (self.estimator_.base if isinstance(self.estimator_, HeldOutCalibrated)
                else self.estimator_)
        return self._path_decomposition(base, prepared, X)

    def _path_decomposition(self, base, prepared, X):
        encode, gbm = base.named_steps["encode"], base.named_steps["classify"]
        with self._threads(len(prepared)):
            encoded = encode.transform(prepared)
        phi, expected = tree_path_contributions(gbm, encoded)
        used = [str(c) for c in encode.get_feature_names_out()]
        table = pd.DataFrame(0.0, index=X.index if isinstance(X, pd.DataFrame) else None,
                             columns=list(self.feature_names_in_))
        table[used] = phi
        return table, phi.sum(axis=1) + expected

    def _calibrate_log_odds(self, z: np.ndarray) -> np.ndarray:
        """P(churn), level shift included, from the base model's log-odds (held-out
        calibration only)."""
        if isinstance(self.estimator_, HeldOutCalibrated):
            return self._shifted(self.estimator_.calibrate(z))
        if isinstance(self.estimator_, Averaged):
            return self._shifted(np.mean([m.calibrate(z) for m in self.estimator_.members],
                                         axis=0))
        return self._shifted(expit(z))

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): columns P(stay), P(churn)."""
        check_is_fitted(self, "estimator_")
        prepared = self._prepare(self._align(X))
        with self._threads(len(prepared)):
            churn = self._shifted(self.estimator_.predict_proba(prepared)[:, 1])
        return np.column_stack([1.0 - churn, churn])

    def _shifted(self, p: np.ndarray) -> np.ndarray:
        """Probabilities with ``level_shift_`` added to their log-odds."""
        p = np.asarray(p, dtype=np.float64)
        return p if self.level_shift_ == 0.0 else expit(logit(p) + self.level_shift_)

    def predict(self, X) -> np.ndarray:
        """``classes_[1]`` (churn) where the churn probability is at least 0.5, else
        ``classes_[0]``."""
        churn = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[churn.astype(np.int64)]

    def _score_prepared(self, prepared: pd.DataFrame, calibrated: bool) -> np.ndarray:
        """P(churn) from the calibrated model, or the mean of the fold base models (the base
        model's with a held-out calibration)."""
        if calibrated or not self.calibrated_:
            return self._shifted(self.estimator_.predict_proba(prepared)[:, 1])
        if isinstance(self.estimator_, HeldOutCalibrated):
            return self.estimator_.base.predict_proba(prepared)[:, 1]
        if isinstance(self.estimator_, Averaged):
            return np.mean([m.base.predict_proba(prepared)[:, 1]
                            for m in self.estimator_.members], axis=0)
        folds = self.estimator_.calibrated_classifiers_
        return np.mean([f.estimator.predict_proba(prepared)[:, 1] for f in folds], axis=0)
