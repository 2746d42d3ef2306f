"""Inside fitted models: per-feature log-odds contributions of a boosting model's trees, and
the iterations each fitted learner ran.

:func:`tree_path_contributions` decomposes a HistGradientBoostingClassifier's log-odds into
one additive part per input column in one vectorised walk of its trees (what reasons and
contribution importance read); :func:`fitted_iterations` finds the boosting and logistic
learners inside the wrappers of :mod:`graphchurn.models.calibration`.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from graphchurn.models.calibration import HeldOutCalibrated, LogOdds, SoftVote

__all__ = ["tree_path_contributions", "add_tree_values", "fitted_iterations"]


def tree_path_contributions(gbm: HistGradientBoostingClassifier, X) -> tuple[np.ndarray, float]:
    """Per-row additive contributions of each input column to a fitted binary
    HistGradientBoostingClassifier's raw score (log-odds), by path attribution (Saabas).

    Every internal node gets a value: the mean of its training rows' leaf values (the
    count-weighted mean of its children). Walking a row down a tree, each split moves the
    value from the node's to the child's; that change is credited to the split's feature.
    Summed over a tree the changes telescope to ``leaf - root``, so for every row::

        contributions.sum(axis=1) + expected == gbm.decision_function(X)

    with ``expected`` the baseline plus the trees' root values. The walk goes split by split,
    each on the column of the rows that reach it; splits follow the predictor's own rules
    (missing values and categories outside the training ones go the way of
    ``missing_go_to_left``, categories by the split's bitset).

    Parameters
    ----------
    gbm : fitted HistGradientBoostingClassifier (binary)
    X : array of shape (n, m), the classifier's own input (categories ordinal-encoded)

    Returns
    -------
    (contributions of shape (n, m), expected : float)
    """
    # Columns contiguous: every split reads one feature's column and credits one column.
    X = np.asfortranarray(X, dtype=np.float64)
    n, m = X.shape
    known, f_idx_map = gbm._bin_mapper.make_known_categories_bitsets()
    contributions = np.zeros((n, m), dtype=np.float64, order="F")
    expected = float(np.ravel(gbm._baseline_prediction)[0])
    every_row = np.arange(n)
    for (predictor,) in gbm._predictors:
        nodes = predictor.nodes
        value = _internal_values(nodes)
        expected += value[0]
        for i, rows, left in _walk(predictor, X, known, f_idx_map, every_row):
            if left is None:
                continue  # a leaf: its path's changes are credited already
            feature = int(nodes["feature_idx"][i])
            l, r = int(nodes["left"][i]), int(nodes["right"][i])
            contributions[rows, feature] += np.where(left, value[l] - value[i],
                                                     value[r] - value[i])
    return contributions, expected


def add_tree_values(predictors, X, raw_predictions: np.ndarray, known_bitsets,
                    f_idx_map) -> None:
    """Add each tree's leaf value to every row's raw prediction (a binary boosting model's
    ``_predict_iterations`` on raw features), deciding each split over whole columns: the same
    leaves as scikit-learn's predictor, added in the same order (so the same sums), at a
    fraction of its cost for the small trees of :func:`graphchurn.pipeline.churn_model`
    (docs/results.md#operator-scale-issue-27).

    Parameters
    ----------
    predictors : list of [TreePredictor]
        A fitted model's ``_predictors`` (or the first iterations of them).
    X : array of shape (n, m)
        Raw (not binned) input.
    raw_predictions : array of shape (n, 1)
        Added to in place.
    known_bitsets, f_idx_map
        The bin mapper's ``make_known_categories_bitsets()``.
    """
    X = np.asfortranarray(X, dtype=np.float64)
    out = raw_predictions[:, 0]
    every_row = np.arange(X.shape[0])
    for (predictor,) in predictors:
        if len(predictor.nodes) <= _EVERY_ROW_MAX_NODES:
            out += _leaf_values(predictor, X, known_bitsets, f_idx_map)
            continue
        leaf_value = predictor.nodes["value"]
        for i, rows, left in _walk(predictor, X, known_bitsets, f_idx_map, every_row):
            if left is None:
                out[rows] += leaf_value[i]
    if not np.shares_memory(out, raw_predictions):
        raw_predictions[:, 0] = out


#: Trees of at most this many nodes (8 leaves) are predicted by :func:`_leaf_values`: every
#: split read over whole columns costs less than gathering the rows that reach each node.
_EVERY_ROW_MAX_NODES = 15


def _leaf_values(predictor, X, known_bitsets, f_idx_map) -> np.ndarray:
    """Each row's leaf value in one small tree: every split decided over whole (contiguous)
    columns, children before their parent, each node taking its left or right child's value."""
    nodes = predictor.nodes
    value = [None] * len(nodes)
    for i in range(len(nodes) - 1, -1, -1):  # children always come after their parent
        node = nodes[i]
        if node["is_leaf"]:
            value[i] = node["value"]
            continue
        feature = int(node["feature_idx"])
        bitset = known_bitsets[f_idx_map[feature]] if node["is_categorical"] else None
        left = _goes_left(node, X[:, feature], predictor, bitset)
        value[i] = np.where(left, value[int(node["left"])], value[int(node["right"])])
    return np.broadcast_to(value[0], X.shape[:1])


def _walk(predictor, X, known_bitsets, f_idx_map, every_row):
    """Node by node (a parent before its children), the rows that reach it (a slice for all,
    else their indices) and, at a split, which of them go left (None at a leaf). A tree has a
    few internal nodes, so each split is a handful of operations on whole columns."""
    nodes = predictor.nodes
    reach = {0: slice(None)}
    for i in range(len(nodes)):
        if i not in reach:
            continue
        rows = reach.pop(i)
        if nodes["is_leaf"][i]:
            yield i, rows, None
            continue
        feature = int(nodes["feature_idx"][i])
        x = X[rows, feature]
        bitset = (known_bitsets[f_idx_map[feature]] if nodes["is_categorical"][i] else None)
        left = _goes_left(nodes[i], x, predictor, bitset)
        yield i, rows, left
        indices = every_row[rows]
        reach[int(nodes["left"][i])] = indices[left]
        reach[int(nodes["right"][i])] = indices[~left]


def _goes_left(node, x: np.ndarray, predictor, known_bitset) -> np.ndarray:
    """Which of the values ``x`` one split sends left, by the predictor's own rules: missing
    values (and, for a categorical split, categories outside the training ones) the way of
    ``missing_go_to_left``; categories by the split's bitset."""
    to_missing_side = bool(node["missing_go_to_left"])
    if known_bitset is None:
        # A comparison with NaN is False: one pass sends missing values the right way.
        if to_missing_side:
            return ~(x > node["num_threshold"])
        return x <= node["num_threshold"]
    missing = np.isnan(x)
    code = np.where(missing | (x < 0), 0, x).astype(np.int64)
    valid = ~missing & (x >= 0)
    word, bit = code // 32, (code % 32).astype(np.uint32)
    in_left = ((predictor.raw_left_cat_bitsets[node["bitset_idx"], word] >> bit) & 1).astype(bool)
    in_known = ((known_bitset[word] >> bit) & 1).astype(bool)
    return np.where(valid & in_left, True, np.where(valid & in_known, False, to_missing_side))


def _internal_values(nodes) -> np.ndarray:
    """Leaf values as fitted; an internal node's value is the count-weighted mean of its
    children's (children always come after their parent in the node array)."""
    value = nodes["value"].astype(np.float64).copy()
    count = nodes["count"].astype(np.float64)
    for i in range(len(nodes) - 1, -1, -1):  # a tree of a few leaves: a few nodes
        if not nodes["is_leaf"][i]:
            l, r = nodes["left"][i], nodes["right"][i]
            total = count[l] + count[r]
            value[i] = ((count[l] * value[l] + count[r] * value[r]) / total if total
                        else 0.5 * (value[l] + value[r]))
    return value


def fitted_iterations(model) -> list[int]:
    """Iterations run by each boosting or logistic model fitted inside ``model`` (a pipeline,
    a calibrated or voting wrapper, or the wrappers of :mod:`graphchurn.models.calibration`).

    Example
    -------
    >>> from sklearn.linear_model import LogisticRegression
    >>> lr = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    >>> fitted_iterations(SoftVote([lr, lr])) == 2 * fitted_iterations(lr)
    True
    """
    if isinstance(model, (HistGradientBoostingClassifier, LogisticRegression)):
        return [int(np.max(model.n_iter_))]
    if isinstance(model, Pipeline):
        return fitted_iterations(model.steps[-1][1])
    if isinstance(model, HeldOutCalibrated):
        return fitted_iterations(model.base)
    if isinstance(model, LogOdds):
        return fitted_iterations(model.estimator_)
    members = (model.members if isinstance(model, SoftVote)
               else model.estimators_ if isinstance(model, VotingClassifier)
               else [c.estimator for c in model.calibrated_classifiers_]
               if isinstance(model, CalibratedClassifierCV) else [])
    return [n for member in members for n in fitted_iterations(member)]
