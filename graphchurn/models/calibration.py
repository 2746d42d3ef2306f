"""Calibration of a base model's log-odds, and the fitted wrappers a ChurnModel is made of.

:func:`fit_calibrator` fits Platt scaling or isotonic regression of the labels on a base
model's log-odds (:func:`base_log_odds`) on held-out rows; :class:`HeldOutCalibrated` applies
it, :class:`Averaged` averages cross-fitted calibrated members, :class:`SoftVote` averages
the probabilities of already fitted members (the gbm + logistic ensemble), :class:`LogOdds`
gives any classifier a ``decision_function`` for scikit-learn's sigmoid calibration, and
:func:`level_shift` matches a model's level to a known churn rate (recalibration in the
large). :class:`~graphchurn.models.churn.ChurnModel` composes them; they are not estimators
to fit on their own.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

__all__ = [
    "level_shift",
    "base_log_odds",
    "fit_calibrator",
    "HeldOutCalibrated",
    "Averaged",
    "SoftVote",
    "LogOdds",
]


def level_shift(p: np.ndarray, rate: float) -> float:
    """The constant ``d`` for which ``mean(expit(logit(p) + d)) == rate``.

    This is the maximum-likelihood intercept of a logistic model with ``logit(p)`` as offset
    (its score equation is exactly that mean), found by bracketing the monotone mean.

    Parameters
    ----------
    p : array of shape (n,)
        Probabilities.
    rate : float
        The level to match, strictly between 0 and 1.

    Returns
    -------
    float
        0.0 when no shift can reach ``rate`` (probabilities pinned at 0 or 1).

    Example
    -------
    >>> p = np.array([0.1, 0.2, 0.3])
    >>> round(float(np.mean(expit(logit(p) + level_shift(p, 0.25)))), 9)
    0.25
    """
    log_odds = logit(np.asarray(p, dtype=np.float64))

    def excess(shift):
        return float(np.mean(expit(log_odds + shift))) - rate

    low, high = -50.0, 50.0  # far beyond any real shift; brentq needs only a sign change
    if excess(low) > 0 or excess(high) < 0:  # probabilities pinned at 0 or 1 everywhere
        return 0.0
    return float(brentq(excess, low, high, xtol=1e-12))


_EPS = 1e-12


def base_log_odds(base, X) -> np.ndarray:
    """The fitted classifier ``base``'s log-odds of churn on ``X``: its ``decision_function``
    where it has one, else the logit of its probability (clipped away from 0 and 1)."""
    if hasattr(base, "decision_function"):
        return np.asarray(base.decision_function(X), dtype=np.float64)
    p = base.predict_proba(X)[:, 1]
    return logit(np.clip(p, _EPS, 1.0 - _EPS))


def fit_calibrator(method: str, z: np.ndarray, y: np.ndarray):
    """Platt scaling or isotonic regression of 0/1 labels on log-odds.

    Parameters
    ----------
    method : {"sigmoid", "isotonic"}
        ``"sigmoid"``: a logistic regression of the label on the log-odds, no penalty;
        ``"isotonic"``: a monotone step function of them.
    z : array of shape (n,)
        Held-out log-odds (:func:`base_log_odds`).
    y : array of shape (n,)
        Their labels.

    Returns
    -------
    tuple
        ``("sigmoid", slope, intercept)`` or ``("isotonic", fitted IsotonicRegression)``, what
        :class:`HeldOutCalibrated` reads.

    Example
    -------
    >>> z = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 0.5])
    >>> method, slope, intercept = fit_calibrator("sigmoid", z, np.array([0, 0, 1, 0, 1, 1]))
    >>> method, slope > 0
    ('sigmoid', True)
    """
    if method == "sigmoid":
        platt = LogisticRegression(C=np.inf, solver="lbfgs").fit(z[:, None], y)
        return ("sigmoid", float(platt.coef_[0, 0]), float(platt.intercept_[0]))
    return ("isotonic", IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(z, y))


class HeldOutCalibrated(ClassifierMixin, BaseEstimator):
    """A fitted base model and a calibration of its log-odds fitted on held-out rows.

    Parameters
    ----------
    base : fitted classifier
    calibrator : tuple or None
        From :func:`fit_calibrator`; None: the base model's own probabilities.
    """

    def __init__(self, base=None, calibrator=None):
        self.base = base
        self.calibrator = calibrator
        self.classes_ = np.array([0, 1])

    def calibrate(self, z: np.ndarray) -> np.ndarray:
        """P(churn) from the base model's log-odds ``z``."""
        if self.calibrator is None:
            return expit(z)
        if self.calibrator[0] == "sigmoid":
            _, slope, intercept = self.calibrator
            return expit(slope * z + intercept)
        return np.clip(self.calibrator[1].predict(z), _EPS, 1.0 - _EPS)

    def predict_proba(self, X) -> np.ndarray:
        churn = self.calibrate(base_log_odds(self.base, X))
        return np.column_stack([1.0 - churn, churn])


class Averaged(ClassifierMixin, BaseEstimator):
    """Cross-fitted members, their calibrated probabilities averaged.

    Parameters
    ----------
    members : list of HeldOutCalibrated
    """

    def __init__(self, members=None):
        self.members = members
        self.classes_ = np.array([0, 1])

    def predict_proba(self, X) -> np.ndarray:
        churn = np.mean([m.predict_proba(X)[:, 1] for m in self.members], axis=0)
        return np.column_stack([1.0 - churn, churn])


class SoftVote(ClassifierMixin, BaseEstimator):
    """Fitted members, soft voting: the mean of their probabilities (L. I. Kuncheva,
    "Combining Pattern Classifiers", 2004, ch. 5).

    Parameters
    ----------
    members : list of fitted classifiers
    """

    def __init__(self, members=None):
        self.members = members
        self.classes_ = np.array([0, 1])

    def fit(self, X, y):
        """The members come fitted (see ChurnModel._fit_base); refitting is not offered."""
        raise NotImplementedError("SoftVote holds fitted members")

    def predict_proba(self, X) -> np.ndarray:
        return np.mean([m.predict_proba(X) for m in self.members], axis=0)


class LogOdds(ClassifierMixin, BaseEstimator):
    """``estimator`` with ``decision_function`` = the log-odds of its churn probability.

    What sigmoid calibration scales: the logit of a probability (for the logistic regression
    and the boosting model, their own raw score) rather than the probability, on which a
    two-parameter sigmoid cannot reach both a 1% and a 60% risk well.

    Parameters
    ----------
    estimator : classifier
        Cloned and fitted by :meth:`fit`.
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
