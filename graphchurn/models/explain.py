"""Per-customer explanations of a :class:`~graphchurn.models.ChurnModel`'s scores.

:func:`reason_contributions` measures how much each feature raises a customer's risk (the
prediction difference when the feature takes its typical value, Robnik-Sikonja & Kononenko
2008 [6]_, or, for boosting, the path attribution over its trees); :func:`top_reasons` keeps the
largest ones per customer.

References
----------
.. [6] M. Robnik-Sikonja, I. Kononenko, "Explaining classifications for individual instances",
   IEEE Transactions on Knowledge and Data Engineering 20(5) (2008) 589-600.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from sklearn.utils.validation import check_is_fitted

from graphchurn.models.churn import ChurnModel

__all__ = ["reason_contributions", "top_reasons"]

# Rows per model call when explaining scores (see reason_contributions): big enough that the
# fixed cost of a call vanishes, small enough to keep the stacked copies in memory.
_REASON_BATCH_ROWS = 200_000



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
                         calibrated: bool = False, importance=None,
                         method: str = "auto") -> pd.DataFrame:
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
    method : {"auto", "difference", "path"}, default "auto"
        ``"difference"``: the prediction difference above, 1 + ``len(features)`` model calls
        per row. ``"path"``: one pass over the trees of a gradient boosting model with a
        held-out calibration (:meth:`ChurnModel.log_odds_contributions`, path attribution):
        with ``z`` the row's log-odds and ``phi_j`` feature ``j``'s additive share of it,
        the contribution is ``p(z) - p(z - phi_j)`` -- the risk the feature adds above the
        average customer, on the same probability scale as the difference. ``"auto"``:
        ``"path"`` where the model has it, else ``"difference"``.

    Returns
    -------
    pandas.DataFrame
        One column per tested feature (in ``feature_names_in_`` order unless ``features`` is
        given), index of ``X``, contributions in probability units.
    """
    contributions, _ = _contributions_and_scores(model, X, features, max_features, calibrated,
                                                 importance, method)
    return contributions


def _contributions_and_scores(model: ChurnModel, X, features, max_features, calibrated,
                              importance, method="auto") -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`reason_contributions`' table, plus each row's own probability on the same scale
    (the first of the stacked copies, so it costs no extra model call)."""
    if method not in ("auto", "difference", "path"):
        raise ValueError(f"method must be 'auto', 'difference' or 'path', got {method!r}")
    check_is_fitted(model, "estimator_")
    names = _reason_candidates(model, features, max_features, importance)
    if method != "difference":
        decomposed = model.log_odds_contributions(X)
        if decomposed is not None:
            return _path_contributions(model, decomposed, names, calibrated)
        if method == "path":
            raise ValueError("method='path' needs a gradient boosting model with a held-out "
                             "calibration (estimator='gbm', cv='holdout')")
    prepared = model._prepare(model._align(X))
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


def _path_contributions(model: ChurnModel, decomposed, names: list, calibrated: bool):
    """``p(z) - p(z - phi_j)`` for each feature ``j`` of ``names``, and ``p(z)``."""
    phi, z = decomposed
    score = model._calibrate_log_odds if calibrated else expit
    own = score(z)
    values = phi[names].to_numpy()
    contributions = own[:, None] - score(z[:, None] - values)
    return pd.DataFrame(contributions, index=phi.index, columns=names), own


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
                method: str = "auto", min_contribution: float = REASON_MIN_CONTRIBUTION,
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
    features, max_features, calibrated, importance, method
        Passed to :func:`reason_contributions` (by default the 12 most important features are
        tested; a boosting model's contributions come from one pass over its trees).
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
                                                   importance, method)
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


