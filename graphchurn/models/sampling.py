"""How :class:`~graphchurn.models.churn.ChurnModel` splits and samples its training rows.

A customer appears once per stacked cut-off, so every split here keeps a group's (customer's)
rows on one side: :func:`group_folds` for calibration and cross-fitting folds,
:func:`group_holdout` for the held-out slice that stops boosting early and fits the
calibration, and :func:`training_sample` for the capped, reweighted sample of a large table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

__all__ = ["group_folds", "group_holdout", "training_sample"]

# Above this many customers, calibration folds split customers without StratifiedGroupKFold's
# greedy balancing (see group_folds).
_GREEDY_GROUP_FOLDS_MAX = 100_000


def group_folds(y, groups, n_splits: int, random_state=0,
                greedy_max_groups: int = _GREEDY_GROUP_FOLDS_MAX
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep each group's rows together, as (fit rows, held rows) pairs.

    Up to ``greedy_max_groups`` groups: :class:`~sklearn.model_selection.
    StratifiedGroupKFold`, which places the groups one by one to balance the class shares of
    the folds as well as it can. Its placement is a Python loop over the groups (too slow
    for a million customers; docs/results.md), and with that many groups exact balancing buys
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


def group_holdout(y, groups, share: float, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """A held-out slice of whole groups, as (fit rows, held rows).

    About ``share`` of the groups are held out, separately among the groups that hold a
    churner and among the rest (so the slice's churn share matches), over the groups in sorted
    order. With ``rng`` (a numpy Generator) they are drawn at random; with None they are
    dealt: evenly spaced positions of each stratum in sorted order, so that the slice is a
    function of the group numbers alone. Groups numbered in an order that carries no
    information (:func:`graphchurn.pipeline.canonical_groups`: ranks of a hash of each
    customer's activity) make that deal as good as a draw, and a slice that no seed moves
    (issue 22). No Python loop over groups. Without ``groups`` every row is its own group.

    Example
    -------
    >>> y = np.array([1, 0, 0, 1, 0, 0, 0, 0])
    >>> fit, held = group_holdout(y, np.array(list("aabccdde")), 0.5, np.random.default_rng(0))
    >>> len(set("aabccdde"[i] for i in held) & set("aabccdde"[i] for i in fit))
    0
    >>> sorted(set("aabccdde"[i] for i in group_holdout(y, np.array(list("aabccdde")), 0.5)[1]))
    ['b', 'c', 'e']
    """
    y = np.asarray(y)
    if groups is None:
        codes = np.arange(len(y))
    else:
        # Groups numbered in sorted order, not in order of appearance, so that the slice of
        # canonically numbered groups does not depend on the row order (issue 22).
        codes = pd.factorize(np.asarray(groups), sort=True)[0]
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    has_churner = np.bincount(codes, weights=(y == 1), minlength=n_groups) > 0
    held_group = np.zeros(n_groups, dtype=bool)
    for stratum in (np.flatnonzero(has_churner), np.flatnonzero(~has_churner)):
        k = int(round(share * len(stratum)))
        held_group[_pick(stratum, k, rng)] = True
    held = held_group[codes]
    return np.flatnonzero(~held), np.flatnonzero(held)


def _pick(stratum: np.ndarray, k: int, rng) -> np.ndarray:
    """``k`` of ``stratum``: drawn with ``rng``, or (None) the middles of ``k`` equal runs."""
    if rng is not None:
        return rng.choice(stratum, size=k, replace=False)
    if k == 0:
        return stratum[:0]
    return stratum[((np.arange(k) + 0.5) * len(stratum) / k).astype(np.int64)]


def training_sample(y, rows, max_rows, rng) -> tuple[np.ndarray, np.ndarray | None]:
    """At most ``max_rows`` of ``rows`` to fit on, with the sample weights that undo the draw.

    Every churner is kept while they fill at most half of ``max_rows`` (else half of the
    rows are churners drawn at random); the rest of the cap is a random draw of stayers.
    Each kept row weighs ``1 / share`` of its class, so weighted class totals (and so the
    fitted probabilities) are those of all rows. Returns ``(rows, None)`` when ``rows`` fit.

    Example
    -------
    >>> y = np.array([1] * 10 + [0] * 990)
    >>> kept, w = training_sample(y, np.arange(1000), 100, np.random.default_rng(0))
    >>> len(kept), int(y[kept].sum()), float(w[y[kept] == 0][0]), float(w.sum())
    (100, 10, 11.0, 1000.0)
    """
    rows = np.asarray(rows)
    if max_rows is None or len(rows) <= max_rows:
        return rows, None
    y = np.asarray(y)
    positives, negatives = rows[y[rows] == 1], rows[y[rows] == 0]
    n_pos = min(len(positives), int(max_rows) // 2)
    n_neg = min(len(negatives), int(max_rows) - n_pos)
    chosen_pos = rng.choice(positives, size=n_pos, replace=False)
    chosen_neg = rng.choice(negatives, size=n_neg, replace=False)
    kept = np.concatenate([chosen_pos, chosen_neg])
    weights = np.concatenate([np.full(n_pos, len(positives) / max(n_pos, 1)),
                              np.full(n_neg, len(negatives) / max(n_neg, 1))])
    order = np.argsort(kept, kind="stable")
    return kept[order], weights[order]
