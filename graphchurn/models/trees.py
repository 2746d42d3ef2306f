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

__all__ = ["tree_path_contributions", "fitted_iterations"]


def tree_path_contributions(gbm: HistGradientBoostingClassifier, X) -> tuple[np.ndarray, float]:
    """Per-row additive contributions of each input column to a fitted binary
    HistGradientBoostingClassifier's raw score (log-odds), by path attribution (Saabas).

    Every internal node gets a value: the mean of its training rows' leaf values (the
    count-weighted mean of its children). Walking a row down a tree, each split moves the
    value from the node's to the child's; that change is credited to the split's feature.
    Summed over a tree the changes telescope to ``leaf - root``, so for every row::

        contributions.sum(axis=1) + expected == gbm.decision_function(X)

    with ``expected`` the baseline plus the trees' root values. The walk is vectorised over
    rows, one tree level at a time; splits follow the predictor's own rules (missing values
    and categories outside the training ones go the way of ``missing_go_to_left``,
    categories by the split's bitset).

    Parameters
    ----------
    gbm : fitted HistGradientBoostingClassifier (binary)
    X : array of shape (n, m), the classifier's own input (categories ordinal-encoded)

    Returns
    -------
    (contributions of shape (n, m), expected : float)
    """
    X = np.asarray(X, dtype=np.float64)
    n, m = X.shape
    known, f_idx_map = gbm._bin_mapper.make_known_categories_bitsets()
    contributions = np.zeros((n, m), dtype=np.float64)
    expected = float(np.ravel(gbm._baseline_prediction)[0])
    rows = np.arange(n)
    for (predictor,) in gbm._predictors:
        nodes = predictor.nodes
        value = _internal_values(nodes)
        is_leaf = nodes["is_leaf"].astype(bool)
        expected += value[0]
        node = np.zeros(n, dtype=np.int64)
        active = rows if not is_leaf[0] else rows[:0]
        while len(active):
            at = node[active]
            feature = nodes["feature_idx"][at].astype(np.int64)
            x = X[active, feature]
            missing = np.isnan(x)
            left = np.where(missing, nodes["missing_go_to_left"][at].astype(bool),
                            x <= nodes["num_threshold"][at])
            categorical = nodes["is_categorical"][at].astype(bool) & ~missing
            if categorical.any():
                c = np.flatnonzero(categorical)
                code = x[c]
                valid = code >= 0
                code = np.where(valid, code, 0).astype(np.int64)
                word, bit = code // 32, (code % 32).astype(np.uint32)
                in_left = ((predictor.raw_left_cat_bitsets[nodes["bitset_idx"][at[c]], word]
                            >> bit) & 1).astype(bool)
                in_known = ((known[f_idx_map[feature[c]], word] >> bit) & 1).astype(bool)
                as_missing = nodes["missing_go_to_left"][at[c]].astype(bool)
                left[c] = np.where(valid & in_left, True,
                                   np.where(valid & in_known, False, as_missing))
            child = np.where(left, nodes["left"][at], nodes["right"][at]).astype(np.int64)
            contributions[active, feature] += value[child] - value[at]
            node[active] = child
            active = active[~is_leaf[child]]
    return contributions, expected


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
