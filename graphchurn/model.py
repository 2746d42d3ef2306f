"""Churn model, explanations and churn-specific metrics.

- :class:`ChurnModel`: a scikit-learn classifier over a pandas feature table (numeric and
  categorical columns, missing values allowed) that returns calibrated churn probabilities.
- :func:`top_reasons` / :func:`reason_contributions`: per customer, the features that push the
  risk up the most.
- Metrics: :func:`roc_auc`, :func:`pr_auc`, :func:`lift_at`, :func:`expected_maximum_profit`,
  :func:`evaluate`, and the chart tables :func:`lift_curve` and :func:`calibration_table`.

References
----------
.. [1] T. Verbraken, W. Verbeke, B. Baesens, "A novel profit maximizing metric for measuring
   classification performance of customer churn prediction models", IEEE Transactions on
   Knowledge and Data Engineering 25(5) (2013) 961-973.
.. [2] S. A. Neslin, S. Gupta, W. Kamakura, J. Lu, C. H. Mason, "Defection detection: measuring
   and understanding the predictive accuracy of customer churn models", Journal of Marketing
   Research 43(2) (2006) 204-211.
.. [3] W. Verbeke, K. Dejaeger, D. Martens, J. Hur, B. Baesens, "New insights into churn
   prediction in the telecommunication sector: a profit driven data mining approach",
   European Journal of Operational Research 218(1) (2012) 211-229.
.. [4] B. Zadrozny, C. Elkan, "Transforming classifier scores into accurate multiclass
   probability estimates", KDD 2002 (isotonic calibration); J. Platt, "Probabilistic outputs
   for support vector machines...", 1999 (sigmoid calibration).
.. [5] A. Fisher, C. Rudin, F. Dominici, "All models are wrong, but many are useful: learning a
   variable's importance by studying an entire class of prediction models simultaneously",
   JMLR 20(177) (2019) 1-81 (permutation importance, after L. Breiman, "Random forests",
   Machine Learning 45 (2001) 5-32).
.. [6] M. Robnik-Sikonja, I. Kononenko, "Explaining classifications for individual instances",
   IEEE Transactions on Knowledge and Data Engineering 20(5) (2008) 589-600 (prediction
   difference when a feature's value is replaced).
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

import numpy as np
import pandas as pd
from scipy.spatial import ConvexHull
from scipy.optimize import brentq
from scipy.special import betainc, expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from sklearn.model_selection import (GridSearchCV, GroupShuffleSplit, StratifiedGroupKFold,
                                     StratifiedKFold, train_test_split)
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (OneHotEncoder, OrdinalEncoder, QuantileTransformer,
                                   StandardScaler)
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

__all__ = [
    "ChurnModel",
    "group_folds",
    "top_reasons",
    "reason_contributions",
    "roc_auc",
    "pr_auc",
    "lift_at",
    "expected_maximum_profit",
    "evaluate",
    "lift_curve",
    "calibration_table",
    "backtest",
]

_MISSING_LABEL = "(missing)"
# Below this many rows native thread pools cost more than they save (see ChurnModel.n_threads).
_SMALL_TABLE_ROWS = 50_000
# normal_scores: quantiles estimated from at most this many rows, on this many levels (more
# levels than a few hundred change no rank that matters for a risk score).
_NORMAL_SCORE_SUBSAMPLE = 100_000
_NORMAL_SCORE_QUANTILES = 1000
# Above this many customers, calibration folds split customers without StratifiedGroupKFold's
# greedy balancing (see group_folds).
_GREEDY_GROUP_FOLDS_MAX = 100_000
# Rows per model call when explaining scores (see reason_contributions): big enough that the
# fixed cost of a call vanishes, small enough to keep the stacked copies in memory.
_REASON_BATCH_ROWS = 200_000


# =========================================================================== the estimator


def _is_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return False
    if (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)):
        return True
    raise TypeError(f"feature column {series.name!r} has dtype {dtype}; "
                    "use numbers or strings (convert dates to ages in days)")


def group_folds(y, groups, n_splits: int, random_state=0,
                greedy_max_groups: int = _GREEDY_GROUP_FOLDS_MAX
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep each group's rows together, as (fit rows, held rows) pairs.

    Up to ``greedy_max_groups`` groups: :class:`~sklearn.model_selection.
    StratifiedGroupKFold`, which places the groups one by one to balance the class shares of
    the folds as well as it can. Its placement is a Python loop over the groups (about 0.2 ms
    each, minutes for a million customers), and with that many groups exact balancing buys
    nothing: beyond the limit the groups themselves are split by
    :class:`~sklearn.model_selection.StratifiedKFold`, stratified on whether a group holds a
    positive row. Where each group has at most one positive row (a customer churns once) that
    still balances the positives exactly; the negatives balance by the law of large numbers.

    Parameters
    ----------
    y : array of shape (n,), 0/1
    groups : array of shape (n,)
    n_splits : int
    random_state : int
    greedy_max_groups : int, default 100_000
        The most groups placed by StratifiedGroupKFold.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        Row positions, every row held out exactly once.

    Example
    -------
    >>> y = np.array([1, 0, 0, 1, 0, 0])
    >>> folds = group_folds(y, np.array(["a", "a", "b", "c", "c", "d"]), 2)
    >>> sorted(len(held) for _, held in folds), [int(y[held].sum()) for _, held in folds]
    ([3, 3], [1, 1])
    """
    y, groups = np.asarray(y), np.asarray(groups)
    codes, uniques = pd.factorize(groups)
    if len(uniques) <= greedy_max_groups:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
        return list(splitter.split(np.zeros(len(y)), y, groups))
    group_has_positive = np.bincount(codes, weights=(y == 1), minlength=len(uniques)) > 0
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    folds = []
    rows = np.arange(len(y))
    for _, held_groups in splitter.split(np.zeros(len(uniques)), group_has_positive):
        held = np.zeros(len(uniques), dtype=bool)
        held[held_groups] = True
        held_rows = held[codes]
        folds.append((rows[~held_rows], rows[held_rows]))
    return folds


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

    Probabilities are calibrated with :class:`~sklearn.calibration.CalibratedClassifierCV`
    (stratified, shuffled, seeded folds; the fold models are averaged) [4]_.

    Parameters
    ----------
    estimator : {"gbm", "logistic", "ensemble"}, default "gbm"
    calibration : {"isotonic", "sigmoid"} or None, default "isotonic"
        ``"sigmoid"`` is Platt scaling of the base model's log-odds, ``P = 1 / (1 + exp(-(a
        logit(p) + b)))`` fitted on each held-out fold [4]_ (scikit-learn would fit it on the
        soft-voting ensemble's probability itself, which has no log-odds of its own). Being
        strictly increasing, it keeps the base model's ranking; ``"isotonic"`` is a step
        function, so customers on one of its plateaus tie. None fits the base pipeline on all
        the data, uncalibrated.
    cv : int, default 3
        Calibration folds (reduced to the smaller class count when that is lower; calibration is
        skipped with a warning when a class has fewer than 2 rows).
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
        (liblinear needs about 40 s per fit on 192,000 rows at the weak penalties), while with
        a quarter of a million rows for a few dozen columns the candidates differ by a few
        ten-thousandths of AUC. The chosen C, applied to more rows, penalises each row less,
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
    importance : {"permutation"} or None, default "permutation"
        How ``feature_importances_`` is computed: permutation importance [5]_ -- the mean drop in
        ROC AUC when a column is shuffled -- measured on a held-out, stratified
        ``importance_holdout`` share of the training rows by a copy of the (uncalibrated) base
        pipeline fitted on the rest. None skips it (``feature_importances_`` is all NaN).
    importance_holdout : float, default 0.25
    importance_repeats : int, default 3
    importance_max_rows : int or None, default 100_000
        Each shuffle is scored on at most this many held-out rows (a fresh sample per
        repeat): every feature costs ``importance_repeats`` predictions of the held-out rows,
        about 15 minutes for 46 features on 750,000 held-out rows (extrapolated from 41 s on
        48,000), while the ranking settles long before that. None scores every held-out row.
    random_state : int, default 0
        Seeds the folds, the boosting and the permutation importance: same data + seed gives
        the same probabilities.
    n_threads : int, "auto" or None, default "auto"
        Cap on native (OpenMP/BLAS) threads while fitting and predicting. None keeps the
        libraries' default (all cores); "auto" uses one thread for tables under 50,000 rows and
        the default above. On small tables the per-split parallel regions are so short that a
        thread pool only adds synchronisation, and on a busy machine its spinning threads slow
        gradient boosting down by orders of magnitude (measured: a 600-row fit took 157 s with
        the default pool on 2 loaded cores, 5.7 s single-threaded).

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
        Training rows (what a fractional ``min_samples_leaf`` is a share of).
    C_ : float or None
        The logistic regression's C (chosen from ``Cs`` when ``C="auto"``; None for "gbm").
    C_scores_ : dict or None
        With ``C="auto"``: the cross-validated ROC-AUC of each candidate.
    n_C_search_rows_ : int or None
        With ``C="auto"``: the rows the candidates were compared on.
    classes_ : ndarray, ``[0, 1]``
    estimator_ : the fitted scikit-learn model (calibrated or not)
    calibrated_ : bool
    level_shift_ : float
        Added to the log-odds of every probability (0.0 unless ``fit`` was given ``latest``).
    feature_importances_ : pandas.Series
        Indexed by feature name, in ``feature_names_in_`` order.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"calls": rng.normal(size=400), "plan": rng.choice(["a", "b"], 400)})
    >>> y = (X["calls"] + rng.normal(scale=0.5, size=400) > 1).astype(int)
    >>> model = ChurnModel(estimator="logistic", importance=None).fit(X, y)
    >>> model.predict_proba(X).shape
    (400, 2)
    """

    def __init__(self, estimator="gbm", calibration="isotonic", cv=3, max_iter=200,
                 learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20,
                 l2_regularization=1.0, C=1.0, Cs=(0.02, 0.05, 0.2, 1.0),
                 C_search_max_rows=250_000, l1_ratio=0.0, normal_scores=False,
                 importance="permutation",
                 importance_holdout=0.25, importance_repeats=3, importance_max_rows=100_000,
                 random_state=0, n_threads="auto"):
        self.estimator = estimator
        self.calibration = calibration
        self.cv = cv
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
        self.n_threads = n_threads

    def _threads(self, n_rows: int):
        limit = self.n_threads
        if limit == "auto":
            limit = 1 if n_rows < _SMALL_TABLE_ROWS else None
        if limit is None:
            return contextlib.nullcontext()
        return threadpool_limits(limits=int(limit))

    # ------------------------------------------------------------------ input handling

    @staticmethod
    def _as_frame(X) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"expected a 2-D feature table, got shape {array.shape}")
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def _align(self, X) -> pd.DataFrame:
        X = self._as_frame(X)
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"feature table lacks {len(missing)} column(s) seen in fit: "
                             f"{missing[:5]}")
        return X

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
                columns[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
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
        # Categories first, so the boosting's categorical mask is a simple prefix.
        encode = ColumnTransformer(
            [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                    encoded_missing_value=np.nan, max_categories=250),
              categorical),
             ("num", "passthrough", numeric)],
            verbose_feature_names_out=False)
        mask = [True] * len(categorical) + [False] * len(numeric)
        classifier = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self._min_samples_leaf(),
            l2_regularization=self.l2_regularization,
            categorical_features=mask if categorical else None,
            random_state=self.random_state)
        return Pipeline([("encode", encode), ("classify", classifier)])

    def _logistic_pipeline(self, categorical: list, numeric: list, C: float) -> Pipeline:
        scale = StandardScaler()
        if self.normal_scores:
            # The value as is and its rank as a normal score, each standardised (the missing
            # indicators pass through both, harmlessly).
            scale = Pipeline([
                ("both", FeatureUnion([
                    ("value", "passthrough"),
                    ("normal_score", QuantileTransformer(
                        n_quantiles=self._normal_score_quantiles(), output_distribution="normal",
                        subsample=_NORMAL_SCORE_SUBSAMPLE, random_state=self.random_state))])),
                ("scale", StandardScaler())])
        numbers = Pipeline([
            ("impute", SimpleImputer(strategy="median", add_indicator=True,
                                     keep_empty_features=True)),
            ("scale", scale)])
        categories = Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=_MISSING_LABEL,
                                     keep_empty_features=True)),
            ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5,
                                     max_categories=50, sparse_output=False))])
        encode = ColumnTransformer([("num", numbers, numeric), ("cat", categories, categorical)],
                                   verbose_feature_names_out=False)
        return Pipeline([("encode", encode),
                         ("classify", self._logistic(C))])

    def _normal_score_quantiles(self) -> int:
        # No more levels than the rows a fold model is fitted on (the smallest is the
        # penalty search's: two thirds of the rows), which QuantileTransformer would warn about.
        return int(min(_NORMAL_SCORE_QUANTILES, max(10, self.n_fit_rows_ // 2)))

    def _min_samples_leaf(self) -> int:
        leaf = self.min_samples_leaf
        if isinstance(leaf, float) and 0 < leaf < 1:
            return max(20, int(round(leaf * self.n_fit_rows_)))
        if int(leaf) != leaf or leaf < 1:
            raise ValueError(f"min_samples_leaf must be a count >= 1 or a share in (0, 1), "
                             f"got {leaf!r}")
        return int(leaf)

    def _logistic(self, C: float) -> LogisticRegression:
        if not 0.0 <= self.l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio must be in [0, 1], got {self.l1_ratio!r}")
        # lbfgs for the smooth L2 penalty; liblinear's coordinate descent for pure L1; saga
        # for the elastic net in between.
        solver = {0.0: "lbfgs", 1.0: "liblinear"}.get(float(self.l1_ratio), "saga")
        # liblinear and saga visit the rows in a random order: seeded, for reproducibility.
        return LogisticRegression(C=C, l1_ratio=float(self.l1_ratio), solver=solver,
                                  max_iter=2000, random_state=self.random_state)

    # ------------------------------------------------------------------ fit / predict

    def fit(self, X, y, groups=None, latest=None):
        """Fit on a feature table and 0/1 churn labels.

        Parameters
        ----------
        X : pandas.DataFrame (or 2-D array) of shape (n, m)
        y : array-like of shape (n,), values in {0, 1}
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
        if self.calibration not in ("isotonic", "sigmoid", None):
            raise ValueError(f"calibration must be 'isotonic', 'sigmoid' or None, "
                             f"got {self.calibration!r}")
        X = self._as_frame(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"y must be 1-D with one label per row ({len(X)}), got {y.shape}")
        if not np.isin(y, [0, 1]).all():
            raise ValueError("churn labels must be 0 or 1")
        y = y.astype(np.int64)
        counts = np.bincount(y, minlength=2)
        if counts.min() == 0:
            raise ValueError("training labels hold a single class; need churners and stayers")
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
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        if len(set(self.feature_names_in_)) != len(self.feature_names_in_):
            raise ValueError("feature names must be unique")
        X = X.set_axis(list(self.feature_names_in_), axis=1)
        self.n_features_in_ = len(self.feature_names_in_)
        self.categorical_features_ = [c for c in self.feature_names_in_ if _is_categorical(X[c])]
        self.classes_ = np.array([0, 1])
        prepared = self._prepare(X)
        self.empty_features_ = [c for c in self.feature_names_in_ if prepared[c].isna().all()]
        self.reference_values_ = self._reference_values(prepared)

        with self._threads(len(prepared)):
            self.C_, self.C_scores_ = self._choose_C(prepared, y, groups)
        base = self._make_pipeline()
        folds = self._folds(self.cv, prepared, y, groups)
        self.calibrated_ = self.calibration is not None and folds is not None
        if self.calibrated_:
            # Platt scaling reads decision_function when the model has one: give every
            # estimator (the soft-voting ensemble too) the log-odds of its probability.
            inner = _LogOdds(base) if self.calibration == "sigmoid" else base
            self.estimator_ = CalibratedClassifierCV(inner, method=self.calibration, cv=folds,
                                                     ensemble=True)
        else:
            if self.calibration is not None:
                warnings.warn("too few churners or stayers to calibrate; probabilities are "
                              "uncalibrated", RuntimeWarning, stacklevel=2)
            self.estimator_ = base
        self.level_shift_ = 0.0
        with self._threads(len(prepared)):
            self.estimator_.fit(prepared, y)
            self.feature_importances_ = self._importances(base, prepared, y, counts, groups)
            if latest is not None and 0 < y[latest].sum() < latest.sum():
                p_latest = self.estimator_.predict_proba(prepared[latest])[:, 1]
                self.level_shift_ = _level_shift(p_latest, y[latest].mean())
        return self

    def _folds(self, n_splits, prepared, y, groups):
        """Stratified, shuffled, seeded folds (by group when given); None if too few churners."""
        n_splits = int(min(n_splits, np.bincount(y, minlength=2).min()))
        if groups is not None:
            # Each fold needs a churner: no more folds than groups holding one.
            n_splits = int(min(n_splits, len(np.unique(groups[y == 1]))))
        if n_splits < 2:
            return None
        if groups is None:
            return list(StratifiedKFold(n_splits=n_splits, shuffle=True,
                                        random_state=self.random_state).split(prepared, y))
        return group_folds(y, groups, n_splits, self.random_state)

    def _choose_C(self, prepared, y, groups):
        self.n_C_search_rows_ = None
        if self.estimator == "gbm":
            return None, None
        if self.C != "auto":
            if not isinstance(self.C, (int, float)) or self.C <= 0:
                raise ValueError(f"C must be a positive number or 'auto', got {self.C!r}")
            return float(self.C), None
        candidates = [float(c) for c in self.Cs]
        if not candidates or min(candidates) <= 0:
            raise ValueError(f"Cs must hold positive numbers, got {self.Cs!r}")
        rows = self._C_search_rows(y, groups)
        if rows is not None:
            prepared, y = prepared.iloc[rows], y[rows]
            groups = None if groups is None else groups[rows]
        self.n_C_search_rows_ = len(y)
        folds = self._folds(3, prepared, y, groups)
        if folds is None:  # too few churners to compare: the middle of the grid
            return sorted(candidates)[len(candidates) // 2], None
        # The logistic regression alone, whatever the estimator; every fold refits the whole
        # pipeline, so imputation and scaling never see the held-out rows.
        grid = sorted(candidates)
        search = GridSearchCV(self._make_pipeline(grid[0], "logistic"),
                              {"classify__C": grid}, scoring="roc_auc", cv=folds, refit=False,
                              error_score=np.nan).fit(prepared, y)
        scores = {C: float(score) for C, score in zip(grid, search.cv_results_["mean_test_score"])}
        # Ties go to the stronger regularisation (the first of the sorted grid), as do all-NaN
        # scores (no fold with both classes held out).
        best = max(grid, key=lambda c: -np.inf if np.isnan(scores[c]) else scores[c])
        return best, scores

    def _C_search_rows(self, y, groups):
        """Row positions the C search compares on: None (all) up to ``C_search_max_rows``,
        else a seeded sample of whole groups (stratified rows without groups)."""
        cap = self.C_search_max_rows
        if cap is not None and (isinstance(cap, bool) or int(cap) != cap or cap < 2):
            raise ValueError(f"C_search_max_rows must be a count >= 2 or None, got {cap!r}")
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
        if self.importance != "permutation":
            raise ValueError(f"importance must be 'permutation' or None, got {self.importance!r}")
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
        if max_rows is not None and (int(max_rows) != max_rows or max_rows < 2):
            raise ValueError(f"importance_max_rows must be a count >= 2 or None, got {max_rows!r}")
        # Every held-out row (1.0) unless there are more than the cap.
        max_samples = 1.0 if max_rows is None or len(y_hold) <= max_rows else int(max_rows)
        result = permutation_importance(held_out_model, X_hold, y_hold, scoring="roc_auc",
                                        n_repeats=self.importance_repeats,
                                        max_samples=max_samples,
                                        random_state=self.random_state)
        return pd.Series(result.importances_mean, index=names, name="importance")

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
        """1 where the churn probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def _score_prepared(self, prepared: pd.DataFrame, calibrated: bool) -> np.ndarray:
        """P(churn) from the calibrated model, or the mean of the fold base models."""
        if calibrated or not self.calibrated_:
            return self._shifted(self.estimator_.predict_proba(prepared)[:, 1])
        folds = self.estimator_.calibrated_classifiers_
        return np.mean([f.estimator.predict_proba(prepared)[:, 1] for f in folds], axis=0)


def _level_shift(p: np.ndarray, rate: float) -> float:
    """The constant ``d`` for which ``mean(expit(logit(p) + d)) == rate``.

    This is the maximum-likelihood intercept of a logistic model with ``logit(p)`` as offset
    (its score equation is exactly that mean), found by bracketing the monotone mean.
    ``rate`` must be strictly between 0 and 1.
    """
    log_odds = logit(np.asarray(p, dtype=np.float64))

    def excess(shift):
        return float(np.mean(expit(log_odds + shift))) - rate

    low, high = -50.0, 50.0  # far beyond any real shift; brentq needs only a sign change
    if excess(low) > 0 or excess(high) < 0:  # probabilities pinned at 0 or 1 everywhere
        return 0.0
    return float(brentq(excess, low, high, xtol=1e-12))


class _LogOdds(ClassifierMixin, BaseEstimator):
    """``estimator`` with ``decision_function`` = the log-odds of its churn probability.

    What sigmoid calibration scales: the logit of a probability (for the logistic regression
    and the boosting model, their own raw score) rather than the probability, on which a
    two-parameter sigmoid cannot reach both a 1% and a 60% risk well.
    """

    _EPS = 1e-12

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self.estimator_.predict_proba(X)

    def decision_function(self, X) -> np.ndarray:
        return logit(np.clip(self.estimator_.predict_proba(X)[:, 1], self._EPS, 1.0 - self._EPS))


# =========================================================================== explanations


def _reason_candidates(model: ChurnModel, features, max_features, importance=None) -> list:
    """The features to test: given ones, else the ``max_features`` most important ones."""
    if features is not None:
        names = list(features)
        unknown = [f for f in names if f not in model.reference_values_]
        if unknown:
            raise ValueError(f"unknown feature(s): {unknown[:5]}")
        return names
    names = [c for c in model.feature_names_in_ if c not in set(model.empty_features_)]
    importance = (model.feature_importances_ if importance is None
                  else pd.Series(importance, dtype=np.float64)).reindex(names)
    if max_features is None or len(names) <= max_features or importance.isna().all():
        return names
    ranked = importance.fillna(-np.inf).sort_values(ascending=False, kind="stable")
    chosen = set(ranked.index[:int(max_features)])
    return [c for c in names if c in chosen]


def reason_contributions(model: ChurnModel, X, *, features=None, max_features: int | None = 12,
                         calibrated: bool = False, importance=None) -> pd.DataFrame:
    """How much each feature's value raises each customer's risk above a typical value.

    Prediction difference [6]_: for feature ``j``, ``p(x) - p(x with x_j := reference_j)``, where
    the reference is the training median (numbers) or mode (categories). Positive means the
    customer's value of ``j`` pushes the risk up. The rows and their copies with one feature
    set to its reference are stacked and scored together, in batches of about
    :data:`_REASON_BATCH_ROWS` rows: a model call has a fixed cost (column checks and
    encoding in every pipeline of every calibration fold) that a call per feature would pay
    ``1 + len(features)`` times.

    Parameters
    ----------
    model : ChurnModel
        A fitted model.
    X : pandas.DataFrame
        Feature table (columns as in fit).
    features : list of str, optional
        Exactly these features. By default: every feature the model uses (not
        ``empty_features_``), or, when there are more than ``max_features`` and
        ``feature_importances_`` is known, the ``max_features`` most important ones.
    max_features : int or None, default 12
        Cap on the features tested when ``features`` is not given (None: no cap). Features with
        almost no importance rarely move one customer's risk much, and each costs a prediction.
    calibrated : bool, default False
        Measure on the calibrated probability. The default uses the average of the fold base
        models' probabilities, which is smooth: with ``calibration="isotonic"`` the calibrated
        probability is a step function whose plateaus (often at the top of the risk range)
        would hide small contributions, and with Platt scaling it is a monotone map of each
        fold model's, which ranks the features alike.
    importance : pandas.Series, optional
        Feature importances that choose the ``max_features`` candidates, instead of the model's
        own ``feature_importances_`` (e.g. from a model fitted with ``importance=None``).

    Returns
    -------
    pandas.DataFrame
        One column per tested feature (in ``feature_names_in_`` order unless ``features`` is
        given), index of ``X``, contributions in probability units.
    """
    contributions, _ = _contributions_and_scores(model, X, features, max_features, calibrated,
                                                 importance)
    return contributions


def _contributions_and_scores(model: ChurnModel, X, features, max_features, calibrated,
                              importance) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`reason_contributions`' table, plus each row's own probability on the same scale
    (the first of the stacked copies, so it costs no extra model call)."""
    check_is_fitted(model, "estimator_")
    prepared = model._prepare(model._align(X))
    names = _reason_candidates(model, features, max_features, importance)
    n_rows, n_copies = len(prepared), len(names) + 1
    contributions = np.empty((n_rows, len(names)), dtype=np.float64)
    own = np.empty(n_rows, dtype=np.float64)
    step = max(1, _REASON_BATCH_ROWS // n_copies)
    for start in range(0, n_rows, step):
        chunk = prepared.iloc[start:start + step]
        stacked = _with_reference_values(model, chunk, names)
        with model._threads(len(stacked)):
            scores = model._score_prepared(stacked, calibrated).reshape(n_copies, len(chunk))
        contributions[start:start + len(chunk)] = (scores[0] - scores[1:]).T
        own[start:start + len(chunk)] = scores[0]
    table = pd.DataFrame(contributions, index=X.index if isinstance(X, pd.DataFrame) else None,
                         columns=names)
    return table, own


def _with_reference_values(model: ChurnModel, prepared: pd.DataFrame, names: list) -> pd.DataFrame:
    """``prepared``, then one copy of it per feature in ``names`` with that feature set to its
    reference value, stacked (``(1 + len(names)) * len(prepared)`` rows)."""
    n_rows, n_copies = len(prepared), len(names) + 1
    columns = {c: np.tile(prepared[c].to_numpy(), n_copies) for c in prepared.columns}
    for copy, name in enumerate(names, start=1):
        columns[name][copy * n_rows:(copy + 1) * n_rows] = model.reference_values_[name]
    return pd.DataFrame(columns, columns=prepared.columns)


#: Defaults of :func:`top_reasons`' materiality threshold: a reason must lower the customer's
#: probability, when set to its typical value, by at least this much in absolute terms
#: (0.1 percentage point) ...
REASON_MIN_CONTRIBUTION = 0.001
#: ... and by at least this share of the customer's own probability (of the complement, for a
#: probability above 0.5).
REASON_MIN_SHARE = 0.05


def top_reasons(model: ChurnModel, X, k: int = 3, *, features=None,
                max_features: int | None = 12, calibrated: bool = False, importance=None,
                min_contribution: float = REASON_MIN_CONTRIBUTION,
                min_share: float = REASON_MIN_SHARE) -> list[list[tuple[str, float]]]:
    """Per row, the (up to) ``k`` features that push the churn risk up the most, by a material
    amount.

    Method: :func:`reason_contributions` (replace one feature at a time by its training
    median/mode and measure the drop in predicted probability [6]_), then keep each row's ``k``
    largest contributions that are material. A contribution ``c`` of a row whose own
    probability is ``p`` (both on the scale chosen by ``calibrated``) is material when::

        c >= max(min_contribution, min_share * min(p, 1 - p))   and   c > 0

    - ``min_share * min(p, 1 - p)`` (default 5% of the customer's own risk) is the relative
      part: with a typical value of the feature, this customer's risk would be at least a
      twentieth lower. It means the same for a customer at 1% and one at 40%, and it drops the
      many features that each move the risk by a sliver of itself (e.g. an embedding
      coordinate that is a little off its median), which would otherwise be listed for most
      customers. Above 50% it is a share of the chance of staying instead: near certainty
      every single feature moves the probability little (a customer at 99% whose plan takes
      them from 98% is still explained by the plan). ``min(p, 1 - p)`` is within a factor
      2 of ``p * (1 - p)``, the change in probability per unit of log-odds, so on either side
      the test asks for a log-odds change of about ``min_share`` to ``2 * min_share``.
    - ``min_contribution`` (default 0.001, a tenth of a percentage point) is the absolute
      floor: no retention decision turns on a smaller difference, it is of the order of the
      model's own graininess (tree splits, calibration steps), and it keeps the lowest-risk
      customers, whose whole risk is a fraction of a percent, from getting "reasons" for a
      risk they do not have.

    A row may so get fewer than ``k`` reasons, or none (:func:`graphchurn.features.describe_reasons`
    then says that no single factor stands out). ``min_contribution=0, min_share=0`` gives
    every strictly positive contribution, the behaviour before the threshold.

    Parameters
    ----------
    model : ChurnModel
    X : pandas.DataFrame
    k : int, default 3
    features, max_features, calibrated, importance
        Passed to :func:`reason_contributions` (by default the 12 most important features are
        tested).
    min_contribution : float, default 0.001
        Absolute floor on a reason's contribution, in probability units (>= 0).
    min_share : float, default 0.05
        Floor on a reason's contribution as a share of the row's own probability (of one minus
        it, when that is smaller), in [0, 1].

    Returns
    -------
    list of list of (str, float)
        One list per row of ``X``, largest contribution first; may be shorter than ``k`` (even
        empty) when fewer features raise the risk materially.

    Example
    -------
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame({"drops": rng.normal(size=300), "noise": rng.normal(size=300)})
    >>> y = (X["drops"] > 0.5).astype(int)
    >>> model = ChurnModel(estimator="logistic", importance=None).fit(X, y)
    >>> top_reasons(model, pd.DataFrame({"drops": [3.0], "noise": [0.0]}), k=1)[0][0][0]
    'drops'
    >>> top_reasons(model, pd.DataFrame({"drops": [-3.0], "noise": [0.0]}))  # risk near 0
    [[]]
    """
    if not (np.isfinite(min_contribution) and min_contribution >= 0):
        raise ValueError(f"min_contribution must be >= 0, got {min_contribution!r}")
    if not (np.isfinite(min_share) and 0 <= min_share <= 1):
        raise ValueError(f"min_share must be in [0, 1], got {min_share!r}")
    contributions, own = _contributions_and_scores(model, X, features, max_features, calibrated,
                                                   importance)
    values = contributions.to_numpy()
    names = np.asarray(contributions.columns, dtype=object)
    k = min(int(k), values.shape[1])
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(values, order, axis=1)
    floor = np.maximum(min_contribution, min_share * np.minimum(own, 1.0 - own))[:, None]
    keep = (best > 0) & (best >= floor)
    best_names = names[order]
    # Building the nested Python lists is the output format itself; everything above is batched.
    return [[(n, float(v)) for n, v, ok in zip(row_n, row_v, row_k) if ok]
            for row_n, row_v, row_k in zip(best_names.tolist(), best.tolist(), keep.tolist())]


# =========================================================================== metrics


def _check_scores(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if len(y) != len(p):
        raise ValueError(f"y and p differ in length ({len(y)} vs {len(p)})")
    if not np.isin(y, [0.0, 1.0]).all():
        raise ValueError("labels must be 0 or 1")
    if np.isnan(p).any():
        raise ValueError("scores contain NaN")
    return y.astype(np.int64), p


def roc_auc(y, p) -> float:
    """Area under the ROC curve (NaN when only one class is present).

    Example
    -------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y, p = _check_scores(y, p)
    if y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, p))


def pr_auc(y, p) -> float:
    """Area under the precision-recall curve as average precision (NaN without churners).

    Example
    -------
    >>> pr_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.3])
    1.0
    """
    y, p = _check_scores(y, p)
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, p))


def _ranked(y: np.ndarray, p: np.ndarray):
    """Negated scores in ascending order (so ties are contiguous) and cumulative churners."""
    order = np.argsort(-p, kind="stable")
    neg = -p[order]
    cum = np.concatenate([[0.0], np.cumsum(y[order], dtype=np.float64)])
    return neg, cum


def _expected_churners_in_top(y: np.ndarray, p: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Expected churners among the ``k`` highest scores, ties taken in proportion."""
    neg, cum = _ranked(y, p)
    ks = np.asarray(ks, dtype=np.int64)
    out = np.zeros(len(ks), dtype=np.float64)
    positive = ks > 0
    last = neg[ks[positive] - 1]
    lo = np.searchsorted(neg, last, side="left")
    hi = np.searchsorted(neg, last, side="right")
    out[positive] = cum[lo] + (ks[positive] - lo) * (cum[hi] - cum[lo]) / (hi - lo)
    return out


def lift_at(y, p, fraction: float = 0.1) -> float:
    """Lift in the top ``fraction`` of scores: churn rate there over the overall rate [2]_, [3]_.

    The top group holds ``max(1, round(fraction * n))`` customers; customers tied with the last
    one count in proportion (so the lift does not depend on how ties happen to be ordered). A
    perfect ranking reaches ``min(1 / base_rate, 1 / fraction)`` (up to the rounding of the
    group size).

    Returns
    -------
    float
        NaN when there are no churners.

    Example
    -------
    >>> lift_at([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0.9] + [0.1] * 9, fraction=0.1)
    10.0
    """
    y, p = _check_scores(y, p)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    n = len(y)
    if n == 0 or y.sum() == 0:
        return float("nan")
    k = max(1, int(round(fraction * n)))
    churners = _expected_churners_in_top(y, p, np.array([k]))[0]
    return float((churners / k) / y.mean())


def _upper_hull(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the concave majorant of a monotone staircase from (0, 0), in order."""
    if x[-1] == 0 or y[-1] == 0:  # one class only: the staircase is a straight line
        return np.array([0.0, x[-1]]), np.array([0.0, y[-1]])
    # Adding the bottom-right corner closes the polygon; its upper boundary is the ROC hull.
    points = np.column_stack([np.append(x, x[-1]), np.append(y, 0.0)])
    hull = ConvexHull(points)
    vertices = hull.vertices[hull.vertices != len(x)]
    vx, vy = x[vertices], y[vertices]
    order = np.lexsort((vy, vx))
    return vx[order], vy[order]


def expected_maximum_profit(y, p, clv: float = 200.0, incentive: float = 10.0,
                            contact_cost: float = 1.0, alpha: float = 6.0, beta: float = 14.0
                            ) -> tuple[float, float]:
    """Expected maximum profit (EMP) of a retention campaign [1]_, per customer of the base.

    A campaign contacts the customers whose score is above a threshold; each contact costs
    ``f = contact_cost`` and offers an incentive ``d = incentive``. A contacted would-be churner
    accepts with probability ``gamma`` and stays (worth ``CLV - d``); a contacted non-churner
    takes the incentive. Per customer of the base, targeting a fraction holding a share ``y0`` of
    churners and ``x1`` of non-churners (both as fractions of the whole base) earns

        P(gamma) = (gamma * (CLV - d) - f) * y0 - (d + f) * x1.

    The best threshold maximises this for each ``gamma``; EMP averages the maximum over
    ``gamma ~ Beta(alpha, beta)``. Only vertices of the ROC convex hull can be optimal, and
    vertex ``i`` is optimal for ``gamma`` between the break-even points of its two hull edges,

        gamma_i = (f * dy + (d + f) * dx) / ((CLV - d) * dy),

    so the integral is a sum of regularised incomplete beta functions (exact, no quadrature):

        EMP = sum_i (CLV - d) y_i E[gamma; g_i, g_i+1] - (f y_i + (d + f) x_i) Pr[g_i < gamma < g_i+1]

    with ``E[gamma; a, b] = alpha / (alpha + beta) * (I_b(alpha+1, beta) - I_a(alpha+1, beta))``.

    Parameters
    ----------
    y : array-like of 0/1
        1 = churner.
    p : array-like of float
        Scores (higher = more likely to churn).
    clv : float, default 200
        Customer lifetime value.
    incentive : float, default 10
        Cost ``d`` of the retention offer (paid by everyone who accepts it).
    contact_cost : float, default 1
        Cost ``f`` of one contact.
    alpha, beta : float, default 6, 14
        Beta distribution of the acceptance rate ``gamma`` (mean 0.3), as in [1]_.

    Returns
    -------
    emp : float
        Expected maximum profit per customer, in the units of ``clv``.
    best_fraction : float
        Expected share of the base to target (``eta_emp`` in [1]_).

    Notes
    -----
    For a perfect ranking with churn rate ``pi0`` the hull is ``(0,0), (0,pi0), (1-pi0,pi0)``
    and ``EMP = pi0 * ((CLV-d) E[gamma; g, 1] - f Pr[gamma > g])`` with ``g = f / (CLV - d)``.

    Example
    -------
    >>> emp, fraction = expected_maximum_profit([1, 0, 0, 0], [0.9, 0.2, 0.1, 0.3])
    >>> round(emp, 2), round(fraction, 3)
    (14.0, 0.25)
    """
    y, p = _check_scores(y, p)
    if not (clv > incentive >= 0 and contact_cost >= 0 and alpha > 0 and beta > 0):
        raise ValueError("need clv > incentive >= 0, contact_cost >= 0, alpha > 0, beta > 0")
    n = len(y)
    if n == 0 or y.sum() == 0:
        return 0.0, 0.0
    d, f = float(incentive), float(contact_cost)
    # ROC staircase in counts at every distinct score (ties move together), as base fractions.
    neg, cum = _ranked(y, p)
    ends = np.flatnonzero(np.append(neg[1:] != neg[:-1], True)) + 1
    tp = np.concatenate([[0.0], cum[ends]])
    fp = np.concatenate([[0.0], ends - cum[ends]])
    x, z = _upper_hull(fp / n, tp / n)

    dx, dz = np.diff(x), np.diff(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        breaks = np.where(dz > 0, (f * dz + (d + f) * dx) / ((clv - d) * dz), np.inf)
    # Hull slopes decrease, so break-even points increase; accumulate guards round-off.
    bounds = np.clip(np.maximum.accumulate(np.concatenate([[0.0], breaks, [1.0]])), 0.0, 1.0)
    mass = np.diff(betainc(alpha, beta, bounds))
    mean_gamma = alpha / (alpha + beta) * np.diff(betainc(alpha + 1.0, beta, bounds))
    emp = np.sum((clv - d) * z * mean_gamma - (f * z + (d + f) * x) * mass)
    fraction = np.sum((x + z) * mass)
    return float(emp), float(fraction)


def evaluate(y, p, **emp_kwargs) -> dict:
    """All headline metrics of a scored, labelled cut-off.

    Parameters
    ----------
    y : array-like of 0/1
    p : array-like of float
    **emp_kwargs
        Passed to :func:`expected_maximum_profit` (clv, incentive, ...).

    Returns
    -------
    dict
        ``n``, ``base_rate``, ``mean_probability`` (to set against ``base_rate``: calibration
        in the large), ``log_loss``, ``roc_auc``, ``pr_auc``, ``lift_top_decile``, ``emp``,
        ``emp_fraction`` as plain Python numbers; a metric undefined for the data (e.g. AUC with
        one class) is None, so the dict dumps to valid JSON.

    Example
    -------
    >>> evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])["roc_auc"]
    0.75
    """
    y, p = _check_scores(y, p)

    def clean(value):
        value = float(value)
        return None if np.isnan(value) else value

    emp, fraction = expected_maximum_profit(y, p, **emp_kwargs)
    return {
        "n": int(len(y)),
        "base_rate": clean(y.mean()) if len(y) else None,
        "mean_probability": clean(p.mean()) if len(y) else None,
        "log_loss": clean(log_loss(y, np.clip(p, 1e-12, 1 - 1e-12), labels=[0, 1]))
        if len(y) else None,
        "roc_auc": clean(roc_auc(y, p)),
        "pr_auc": clean(pr_auc(y, p)),
        "lift_top_decile": clean(lift_at(y, p, 0.1)),
        "emp": clean(emp),
        "emp_fraction": clean(fraction),
    }


def lift_curve(y, p, bins: int = 10) -> pd.DataFrame:
    """Lift and gains by score bin (deciles by default), highest scores first.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin`` (1 = highest scores), ``fraction`` (cumulative share
        of customers), ``customers``, ``churners`` (expected count; ties split in proportion),
        ``churn_rate``, ``lift`` (bin rate / base rate), ``cumulative_lift`` and ``captured``
        (cumulative share of all churners: the gains curve).

    Example
    -------
    >>> lift_curve([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], bins=2)["lift"].tolist()
    [2.0, 0.0]
    """
    y, p = _check_scores(y, p)
    n = len(y)
    ends = np.unique(np.round(np.arange(1, bins + 1) * n / bins).astype(np.int64))
    ends = ends[ends > 0]
    cumulative = _expected_churners_in_top(y, p, ends)
    starts = np.concatenate([[0], ends[:-1]])
    customers = ends - starts
    churners = np.diff(np.concatenate([[0.0], cumulative]))
    total = y.sum()
    base = total / n if n else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame({
            "bin": np.arange(1, len(ends) + 1),
            "fraction": ends / n,
            "customers": customers,
            "churners": churners,
            "churn_rate": churners / customers,
            "lift": (churners / customers) / base,
            "cumulative_lift": (cumulative / ends) / base,
            "captured": cumulative / total if total else np.nan,
        })
    return table


def calibration_table(y, p, bins: int = 10, strategy: str = "uniform") -> pd.DataFrame:
    """Predicted vs observed churn rate per probability bin (a reliability diagram's data).

    Parameters
    ----------
    y, p : array-like
    bins : int, default 10
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width bins on [0, 1], or bins holding equal numbers of customers.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin``, ``p_low``, ``p_high``, ``customers``,
        ``mean_predicted``, ``observed_rate``.

    Example
    -------
    >>> calibration_table([0, 1, 1, 1], [0.1, 0.9, 0.9, 0.7], bins=2)["observed_rate"].tolist()
    [0.0, 1.0]
    """
    y, p = _check_scores(y, p)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, bins + 1)))
        if len(edges) < 2:
            edges = np.array([edges[0], edges[0]])
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    n_bins = len(edges) - 1
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    customers = np.bincount(index, minlength=n_bins)
    predicted = np.bincount(index, weights=p, minlength=n_bins)
    observed = np.bincount(index, weights=y.astype(np.float64), minlength=n_bins)
    used = customers > 0
    return pd.DataFrame({
        "bin": np.arange(1, n_bins + 1)[used],
        "p_low": edges[:-1][used],
        "p_high": edges[1:][used],
        "customers": customers[used],
        "mean_predicted": predicted[used] / customers[used],
        "observed_rate": observed[used] / customers[used],
    })


def backtest(model_factory, X_train, y_train, X_test, y_test, **emp_kwargs) -> dict:
    """Fit a fresh model on one cut-off and evaluate it on a later, labelled one.

    Parameters
    ----------
    model_factory : callable
        Returns an unfitted estimator with ``fit`` / ``predict_proba``.
    X_train, y_train, X_test, y_test
        Feature tables and labels of the training and test cut-offs.

    Returns
    -------
    dict
        :func:`evaluate` of the test predictions plus ``n_train`` and ``train_base_rate``.
    """
    model = model_factory().fit(X_train, y_train)
    scores = model.predict_proba(X_test)[:, 1]
    result = evaluate(y_test, scores, **emp_kwargs)
    y_train = np.asarray(y_train)
    result["n_train"] = int(len(y_train))
    result["train_base_rate"] = float(y_train.mean())
    return result
