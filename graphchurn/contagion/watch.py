"""Watch mode: a stream of departures, each updating the at-risk groups incrementally."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphchurn.contagion.diffusion import _GraphIndex, _reach_codes, _sorted_isin
from graphchurn.features.exposure import _spread
from graphchurn.contagion.model import (ALERT_COLUMNS, AT_RISK_COLUMNS, _aligned, _alert_frame,
                                        _at_risk_table, _Context, _influence_rank, _logit,
                                        _shift)

__all__ = ["Watcher"]


# ----------------------------------------------------------------------------------------------
# watch mode


class Watcher:
    """Incremental what-if for a stream of departures.

    Holds the graph, the current probabilities and the contagion state (the model's features
    of every vertex). :meth:`update` adds one leaver and re-scores only the vertices its
    departure can change: the ``r``-hop ball around it, ``r`` = 1 for exposure features,
    ``spread_iterations`` for spreading activation, ``max_hops`` for the cascades (whose
    counter-based coins make the cascade from a seed set the union of the cascades from each
    seed), plus the leaver's group for the structural prior's group term. The result equals a
    full :func:`what_if` with every leaver so far, computed from scratch.

    Departures in the stream count as fresh (no decay between events): watch mode reacts
    within a day; a scheduled full ``what_if``/``analyze`` ages them.

    Parameters
    ----------
    graph, membership, base_probability, value, model, influencer_score, weights
        As in :func:`what_if`; ``model`` must be fitted.

    Attributes
    ----------
    probability_ : ndarray
        Current churn probability per vertex (NaN for vertices not scored).
    departed_ : ndarray of bool
        Leavers seen so far.
    events_ : list of (vertex index, Timestamp)
    last_affected_ : ndarray of int
        Vertices whose contagion features the last update recomputed.

    Example
    -------
    >>> import igraph as ig
    >>> from graphchurn.contagion import ContagionModel
    >>> g = ig.Graph.Full(3) + ig.Graph.Full(3)
    >>> g.add_edges([(2, 3)]); g.es["weight"] = 1.0
    >>> g.vs["name"] = list("abcdef"); g.vs["on_net"] = True
    >>> w = Watcher(g, [0, 0, 0, 1, 1, 1], [0.1] * 6, None, ContagionModel().fit([]))
    >>> alerts, at_risk = w.update("a", "2025-03-01")
    >>> at_risk["customer_id"].tolist()
    ['b', 'c']
    """

    def __init__(self, graph, membership, base_probability, value, model, influencer_score=None,
                 weights="weight"):
        model._check_fitted()
        self.model = model
        self._index = _GraphIndex(graph, weights)
        n = self._index.n
        self._ctx = _Context(self._index, _influence_rank(self._index, influencer_score),
                             membership)
        base = _aligned(base_probability, n, "base_probability")
        self._base = base
        self._logit0 = _logit(base)
        self._values = None if value is None else np.nan_to_num(_aligned(value, n, "value"))
        self._scored = self._index.on_net & np.isfinite(base)
        self.probability_ = np.where(self._scored, base, np.nan)
        self.departed_ = np.zeros(n, dtype=bool)
        self.events_ = []
        self._x = np.zeros((n, len(model.coef_)))
        self._energy = np.zeros((2, n))
        self._codes = [np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)]
        self._counts = np.zeros((2, n))
        code = self._ctx.group_code
        self._n_groups = int(code.max()) + 1 if code.size else 0
        self._members = np.bincount(code, weights=self._scored.astype(float),
                                    minlength=self._n_groups)
        self._leavers = np.zeros(self._n_groups)
        p0 = np.where(self._scored, base, 0.0)
        self._expected = np.bincount(code, weights=p0, minlength=self._n_groups)
        self._var = (None if self._values is None
                     else np.bincount(code, weights=p0 * self._values, minlength=self._n_groups))

    def _advance(self, leaver):
        """Add ``leaver`` to the contagion state; return the vertices whose features moved."""
        index, ctx, model = self._index, self._ctx, self.model
        f = ctx.influence[leaver]
        method = model.method_
        if method in ("exposure", "structural_prior"):
            pos = np.arange(index.indptr[leaver], index.indptr[leaver + 1])
            nb = index.indices[pos]
            tie = index.share_in[pos]  # w / s_neighbour: the tie's share of the neighbour
            if method == "exposure":
                self._x[nb, 0] += tie
                self._x[nb, 1] += tie * f
                self._x[nb, 2] = np.maximum(self._x[nb, 2], tie)
                return nb
            g = 0.5 + 0.5 * f
            self._x[nb, 0] += tie * g
            order, bounds = ctx.group_members
            c = ctx.group_code[leaver]
            group = order[bounds[c]:bounds[c + 1]]
            self._x[group, 1] += ctx.embeddedness[group] * g
            return np.union1d(nb, group)
        if method == "spreading_activation":
            ball = index.ball(leaver, model.spread_iterations)
            sub = index.transfer_t[ball][:, ball]
            start = (ball == leaver).astype(float)
            # walks of at most `iterations` steps from the leaver stay inside the ball, and
            # the transfer matrix keeps the full graph's normalisation: this is exact
            gained = _spread(sub, index.degree[ball] > 0, start, model.spread_factor,
                             model.spread_iterations)
            self._energy[0, ball] += gained
            self._energy[1, ball] += f * gained
            self._x[ball] = np.log1p(self._energy[:, ball].T)
            return ball
        kind = "ic" if method == "independent_cascade" else "lt"
        arc = np.minimum(1.0, model.beta_ * index.share_in) if kind == "ic" else None
        moved = []
        for j, seed_prob in enumerate((1.0, f)):
            codes = _reach_codes(index, kind, [leaver], [seed_prob], model.n_simulations,
                                 model.max_hops, model.seed, arc)
            new = codes[~_sorted_isin(codes, self._codes[j])]
            self._codes[j] = np.union1d(self._codes[j], new)
            vertices, counts = np.unique(new // model.n_simulations, return_counts=True)
            self._counts[j, vertices] += counts
            moved.append(vertices)
        moved = np.union1d(moved[0], moved[1])
        self._x[moved] = self._counts[:, moved].T / model.n_simulations
        return moved

    def update(self, customer_id, date=None):
        """Register a departure and re-score its neighbourhood.

        Parameters
        ----------
        customer_id : str or int
            The leaver (vertex name or index).
        date : Timestamp or str, optional
            Date of the departure (recorded in ``events_``).

        Returns
        -------
        alerts : pandas.DataFrame
            The groups touched by this departure, with before/after sums over all their
            scored members (columns as in :func:`what_if`), ranked by increase.
        at_risk : pandas.DataFrame
            Customers of the affected neighbourhood whose probability rose with this event.
        """
        leaver = int(self._index.positions([customer_id], "leaver")[0])
        self.events_.append((leaver, None if date is None else pd.Timestamp(date)))
        ctx = self._ctx
        code = ctx.group_code
        if self.departed_[leaver]:
            empty = pd.DataFrame(columns=ALERT_COLUMNS), pd.DataFrame(columns=AT_RISK_COLUMNS)
            return empty
        self.departed_[leaver] = True
        # the leaver stops being a scored member of its group
        if self._scored[leaver]:
            c = code[leaver]
            self._members[c] -= 1
            self._expected[c] -= self.probability_[leaver]
            if self._var is not None:
                self._var[c] -= self.probability_[leaver] * self._values[leaver]
            self._scored[leaver] = False
            self.probability_[leaver] = np.nan
        self._leavers[code[leaver]] += 1
        moved = self._advance(leaver)
        self.last_affected_ = moved
        rows = moved[self._scored[moved]]
        before_p = self.probability_[rows].copy()
        after_p = _shift(self._base[rows], self._logit0[rows], self._x[rows] @ self.model.coef_)
        self.probability_[rows] = after_p
        groups = np.union1d(code[rows], [code[leaver]])
        before_g = self._expected.copy()
        np.add.at(self._expected, code[rows], after_p - before_p)
        var_before = None
        if self._var is not None:
            var_before = self._var.copy()
            np.add.at(self._var, code[rows], (after_p - before_p) * self._values[rows])
        nan = np.full(self._n_groups, np.nan)
        alerts = _alert_frame(ctx, self._members, self._leavers, before_g, self._expected,
                              nan if var_before is None else var_before,
                              nan if self._var is None else self._var, groups)
        at_risk = _at_risk_table(ctx, rows, before_p, after_p, self.departed_,
                                 np.array([leaver]))
        return alerts, at_risk
