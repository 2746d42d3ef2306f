"""Choosing a contagion method and its hyper-parameters on held-out cut-offs.

:class:`Selection` fits each candidate method (each with its grid of half-lives and, for the
independent cascade, arc strengths) by logistic regression on the contagion pressure of past
cut-offs, and compares them by held-out log loss against "no contagion" (an expanding window
over the cut-offs, or a seeded 30% of one cut-off's customers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

from graphchurn.contagion.pressure import BETA_GRID, FEATURES, HALF_LIFE_GRID, PRESSURE, decay

__all__ = ["Selection", "standardised_logistic"]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def standardised_logistic(x, y, C):
    """L2 logistic regression on standardised columns, returned on the original scale as
    ``(coef, intercept)``."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=C, max_iter=1000)
    lr.fit((x - mean) / scale, y)
    coef = lr.coef_[0] / scale
    intercept = float(lr.intercept_[0] - np.dot(coef, mean))
    return coef, intercept


def _auc(y, p):
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


class Selection:
    """Design matrices of the prepared cut-offs, cached per (cut-off, method, setting).

    Parameters
    ----------
    model : ContagionModel
        Supplies the method parameters (spread factor, simulations, seed, C, half-life).
    prepared : list of dict
        Per cut-off: ``ctx``, ``age``, ``rows``, ``y``, ``exposed``, ``base`` (see
        ``ContagionModel._prepare``).
    use_base : bool
        Whether every cut-off has a base probability, which then enters as a column.
    """

    def __init__(self, model, prepared, use_base):
        self.model, self.prepared, self.use_base = model, prepared, use_base
        self._cache = {}

    def configs(self, method):
        """The (half-life, beta) settings tried for ``method``."""
        halves = ([float(self.model.half_life_days)] if self.model.half_life_days is not None
                  else list(HALF_LIFE_GRID))
        betas = list(BETA_GRID) if method == "independent_cascade" else [None]
        return [(h, b) for h in halves for b in betas]

    def design(self, k, method, config):
        key = (k, method, config)
        if key not in self._cache:
            p = self.prepared[k]
            weight = decay(p["age"], config[0])
            self._cache[key] = PRESSURE[method](self.model, p["ctx"], weight, config[1])[p["rows"]]
        return self._cache[key]

    def stack(self, parts, method, config):
        xs, ys = [], []
        for k, mask in parts:
            x = self.design(k, method, config)[mask]
            if self.use_base:
                x = np.column_stack([x, self.prepared[k]["base"][mask]])
            xs.append(x)
            ys.append(self.prepared[k]["y"][mask])
        return np.vstack(xs), np.concatenate(ys)

    def best_config(self, method, parts):
        """Fit every setting of ``method`` on ``parts``; keep the lowest training log loss.

        Returns ``(config, (coef, intercept, base_coef), loss)``.
        """
        best = None
        for config in self.configs(method):
            x, y = self.stack(parts, method, config)
            coef, intercept = standardised_logistic(x, y, self.model.C)
            loss = log_loss(y, _sigmoid(intercept + x @ coef), labels=[0, 1])
            if best is None or loss < best[2] - 1e-12:
                n_feat = len(FEATURES[method])
                fitted = (coef[:n_feat], intercept,
                          float(coef[n_feat]) if self.use_base else None)
                best = (config, fitted, loss)
        return best

    def folds(self):
        """Held-out folds: an expanding window over the cut-offs (each later cut-off scored by
        a fit on all earlier ones), or a seeded 30% of the customers of a single cut-off."""
        K = len(self.prepared)
        whole = [(k, np.ones(len(self.prepared[k]["y"]), bool)) for k in range(K)]
        if K >= 2:
            folds = [(whole[:k], whole[k:k + 1]) for k in range(1, K)]
            return folds, f"expanding window: each of the later {K - 1} of {K} cut-offs"
        rng = np.random.default_rng(self.model.seed)
        held = rng.random(len(self.prepared[0]["y"])) < 0.3
        return [([(0, ~held)], [(0, held)])], "30% of the customers of the only cut-off"

    def _pooled(self, parts, key):
        return np.concatenate([self.prepared[k][key][m] for k, m in parts])

    def _no_contagion(self, folds):
        """Held-out probabilities of the reference: an intercept (and the base score if any)."""
        p0 = []
        for train, test in folds:
            y_train = self._pooled(train, "y")
            if self.use_base:
                c, i = standardised_logistic(self._pooled(train, "base")[:, None], y_train,
                                             self.model.C)
                p0.append(_sigmoid(i + self._pooled(test, "base") * c[0]))
            else:
                p0.append(np.full(len(self._pooled(test, "y")),
                                  np.clip(y_train.mean(), 1e-6, 1 - 1e-6)))
        return np.concatenate(p0)

    def compare(self, methods) -> pd.DataFrame:
        """Held-out log loss and AUC of each method against "no contagion"; one row each, the
        best (lowest log loss) flagged ``selected``."""
        folds, how = self.folds()
        y_test = np.concatenate([self._pooled(test, "y") for _, test in folds])
        exposed = np.concatenate([self._pooled(test, "exposed") for _, test in folds])
        n_train = sum(len(self._pooled(train, "y")) for train, _ in folds)

        def row(method, config, p):
            return {"method": method,
                    "half_life_days": np.nan if config is None else config[0],
                    "beta": np.nan if config is None or config[1] is None else config[1],
                    "test_log_loss": log_loss(y_test, p, labels=[0, 1]),
                    "test_auc": _auc(y_test, p),
                    "test_auc_exposed": _auc(y_test[exposed], p[exposed])}

        rows = [row("no contagion", None, self._no_contagion(folds))]
        for method in methods:
            p = []
            for train, test in folds:
                config, (coef, intercept, base_coef), _ = self.best_config(method, train)
                x, _ = self.stack(test, method, config)
                full_coef = coef if base_coef is None else np.append(coef, base_coef)
                p.append(_sigmoid(intercept + x @ full_coef))
            # hyper-parameters of the last fold (the one trained on the most history)
            rows.append(row(method, config, np.concatenate(p)))
        table = pd.DataFrame(rows)
        table["n_train"] = n_train
        table["n_test"] = len(y_test)
        table["evaluated_on"] = how
        candidates = table["method"].isin(methods)
        best = table.loc[candidates, "test_log_loss"].idxmin()
        table["selected"] = table.index == best
        return table
