"""Churn-specific metrics: ROC-AUC, PR-AUC, lift, expected maximum profit, and chart tables.

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
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import ConvexHull
from scipy.special import betainc
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

__all__ = ["roc_auc", "pr_auc", "lift_at", "expected_maximum_profit", "evaluate", "lift_curve",
           "calibration_table", "backtest"]



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
