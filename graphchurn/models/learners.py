"""The learners inside a :class:`~graphchurn.models.churn.ChurnModel`, each with the encoding of
the feature table it needs.

- :func:`gbm_pipeline`: histogram gradient boosting with native categorical splits
  (categories ordinal-encoded, rare ones pooled) and native missing-value handling;
- :func:`logistic_pipeline`: median imputation with missing indicators and standard scaling
  for numbers (optionally also each number's rank as a normal score), one-hot encoding with
  missing as its own level for categories, then the logistic regression of :func:`logistic`.

:func:`is_categorical` says which columns are categories. ChurnModel chooses among these,
fits, calibrates and combines them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import OneHotEncoder, QuantileTransformer, StandardScaler

from graphchurn.models.trees import add_tree_values

__all__ = ["is_categorical", "gbm_pipeline", "logistic_pipeline", "logistic",
           "WalkingBoostingClassifier", "CategoryCodes"]

_MISSING_LABEL = "(missing)"
# normal_scores: quantiles estimated from at most this many rows, on this many levels (more
# levels than a few hundred change no rank that matters for a risk score).
_NORMAL_SCORE_SUBSAMPLE = 100_000
_NORMAL_SCORE_QUANTILES = 1000


def is_categorical(series: pd.Series) -> bool:
    """Whether a feature column is categorical (object, string or category dtype) rather than
    numeric (numbers and bool); other dtypes (dates) are refused.

    Example
    -------
    >>> is_categorical(pd.Series(["a", "b"])), is_categorical(pd.Series([True, False]))
    (True, False)
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return False
    if (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)):
        return True
    raise TypeError(f"feature column {series.name!r} has dtype {dtype}; "
                    "use numbers or strings (convert dates to ages in days)")


def gbm_pipeline(categorical: list, numeric: list, *, max_iter: int, learning_rate: float,
                 max_leaf_nodes: int | None, min_samples_leaf: int, l2_regularization: float,
                 random_state) -> Pipeline:
    """Gradient boosting on the ``categorical`` and ``numeric`` columns of a prepared table.

    Parameters
    ----------
    categorical, numeric : list of str
        Column names; categories are ordinal-encoded (:class:`CategoryCodes`: at most 250
        levels, the rest pooled; unknown and missing as NaN), numbers pass through.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization, random_state
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`'s (``min_samples_leaf`` a
        count of rows).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``encode`` and ``classify``, unfitted.
    """
    # Categories first, so the boosting's categorical mask is a simple prefix.
    encode = ColumnTransformer(
        [("cat", CategoryCodes(max_categories=250), categorical),
         ("num", "passthrough", numeric)],
        verbose_feature_names_out=False)
    mask = [True] * len(categorical) + [False] * len(numeric)
    classifier = WalkingBoostingClassifier(
        max_iter=max_iter, learning_rate=learning_rate,
        max_leaf_nodes=max_leaf_nodes, min_samples_leaf=min_samples_leaf,
        l2_regularization=l2_regularization,
        categorical_features=mask if categorical else None,
        random_state=random_state)
    return Pipeline([("encode", encode), ("classify", classifier)])


class CategoryCodes(TransformerMixin, BaseEstimator):
    """Ordinal codes of categorical columns, for the boosting's native categorical splits.

    The codes of scikit-learn's ``OrdinalEncoder(handle_unknown="use_encoded_value",
    unknown_value=nan, encoded_missing_value=nan, max_categories=m)``: categories in sorted
    order; with more than ``m`` of them the least frequent (ties: the earlier in sorted
    order) are pooled into one last code so that ``m`` codes remain; missing and unseen
    values as NaN. Computed with pandas' hash tables, where OrdinalEncoder counts object
    columns value by value in Python (docs/results.md#operator-scale-issue-27).

    Parameters
    ----------
    max_categories : int, default=250
        Codes per column at most (the boosting's limit is 255 bins, one for missing).

    Attributes
    ----------
    categories_ : list of ndarray
        Each column's categories in sorted order (pooled ones included).
    codes_ : list of ndarray
        Each column's code per category (``categories_`` order), float.

    Examples
    --------
    >>> X = pd.DataFrame({"plan": ["b", "a", None, "b"]})
    >>> CategoryCodes().fit(X).transform(pd.DataFrame({"plan": ["a", "b", "z", None]}))
    array([[ 0.],
           [ 1.],
           [nan],
           [nan]])
    """

    def __init__(self, max_categories: int = 250):
        self.max_categories = max_categories

    def fit(self, X, y=None):
        if (isinstance(self.max_categories, bool)
                or not isinstance(self.max_categories, (int, np.integer))
                or self.max_categories < 2):
            raise ValueError(f"max_categories must be an integer >= 2, got "
                             f"{self.max_categories!r}")
        frame = pd.DataFrame(X)
        self.n_features_in_ = frame.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.categories_, self.codes_ = [], []
        for _, column in frame.items():
            codes, categories = pd.factorize(column.to_numpy(dtype=object), sort=True)
            counts = np.bincount(codes[codes >= 0], minlength=len(categories))
            out = np.arange(len(categories), dtype=np.float64)
            if len(categories) > self.max_categories:
                pooled = np.zeros(len(categories), dtype=bool)
                pooled[np.argsort(counts, kind="mergesort")[:len(categories)
                                                            - self.max_categories + 1]] = True
                out[~pooled] = np.arange((~pooled).sum())
                out[pooled] = (~pooled).sum()
            self.categories_.append(np.asarray(categories, dtype=object))
            self.codes_.append(out)
        return self

    def transform(self, X):
        frame = pd.DataFrame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {frame.shape[1]} columns, CategoryCodes was fitted on "
                             f"{self.n_features_in_}")
        result = np.empty(frame.shape, dtype=np.float64)
        for j, (_, column) in enumerate(frame.items()):
            index = pd.Index(self.categories_[j]).get_indexer(column.to_numpy(dtype=object))
            # -1: missing or unseen; the lookup's extra last slot holds NaN for them.
            result[:, j] = np.append(self.codes_[j], np.nan)[index]
        return result

    def get_feature_names_out(self, input_features=None):
        if input_features is None:
            input_features = getattr(self, "feature_names_in_",
                                     [f"x{i}" for i in range(self.n_features_in_)])
        return np.asarray(input_features, dtype=object)


class WalkingBoostingClassifier(HistGradientBoostingClassifier):
    """scikit-learn's HistGradientBoostingClassifier, predicting from raw features by walking
    each tree split by split over whole columns (:func:`graphchurn.models.trees.add_tree_values`).

    Fitting is scikit-learn's, unchanged. Every prediction (probabilities, decision
    function, staged ones) adds the same leaf values in the same order, so the results are
    identical; the walk costs a fraction of scikit-learn's row-by-row predictor on the small
    trees the churn model grows, and most of a large analysis's model time was prediction:
    calibration, the level shift, the backtest and the scores
    (docs/results.md#operator-scale-issue-27). Binned predictions during fitting and
    multi-class models keep scikit-learn's predictor.
    """

    def _predict_iterations(self, X, predictors, raw_predictions, is_binned, n_threads):
        if is_binned or self.n_trees_per_iteration_ != 1:
            return super()._predict_iterations(X, predictors, raw_predictions, is_binned,
                                               n_threads)
        known, f_idx_map = self._bin_mapper.make_known_categories_bitsets()
        add_tree_values(predictors, X, raw_predictions, known, f_idx_map)


def logistic_pipeline(categorical: list, numeric: list, C: float, *, l1_ratio: float,
                      normal_scores: bool, n_fit_rows: int, random_state) -> Pipeline:
    """Encoding and logistic regression on the ``categorical`` and ``numeric`` columns.

    Parameters
    ----------
    categorical, numeric : list of str
        Column names.
    C, l1_ratio, random_state
        Of :func:`logistic`.
    normal_scores : bool
        Also give the regression each number's rank as a normal score (ChurnModel's
        ``normal_scores``).
    n_fit_rows : int
        Rows the pipeline will be fitted on: the normal scores use no more quantile levels
        than half of them.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``encode`` and ``classify``, unfitted.
    """
    scale = StandardScaler()
    if normal_scores:
        # The value as is and its rank as a normal score, each standardised (the missing
        # indicators pass through both, harmlessly). No more levels than the rows a fold
        # model is fitted on (the smallest is the penalty search's: two thirds of the rows),
        # which QuantileTransformer would warn about.
        n_quantiles = int(min(_NORMAL_SCORE_QUANTILES, max(10, n_fit_rows // 2)))
        scale = Pipeline([
            ("both", FeatureUnion([
                ("value", "passthrough"),
                ("normal_score", QuantileTransformer(
                    n_quantiles=n_quantiles, output_distribution="normal",
                    subsample=_NORMAL_SCORE_SUBSAMPLE, random_state=random_state))])),
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
                     ("classify", logistic(C, l1_ratio=l1_ratio, random_state=random_state))])


def logistic(C: float, *, l1_ratio: float = 0.0, random_state=0) -> LogisticRegression:
    """A logistic regression with penalty mix ``l1_ratio`` (0: L2, 1: L1) and the solver that
    suits it.

    Example
    -------
    >>> logistic(0.2, l1_ratio=1.0).solver, logistic(1.0).solver, logistic(1.0, l1_ratio=0.5).solver
    ('liblinear', 'lbfgs', 'saga')
    """
    # lbfgs for the smooth L2 penalty; liblinear's coordinate descent for pure L1; saga
    # for the elastic net in between.
    solver = {0.0: "lbfgs", 1.0: "liblinear"}.get(float(l1_ratio), "saga")
    # liblinear and saga visit the rows in a random order: seeded, for reproducibility.
    return LogisticRegression(C=C, l1_ratio=float(l1_ratio), solver=solver,
                              max_iter=2000, random_state=random_state)
