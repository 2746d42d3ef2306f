"""Social contagion of churn: exposure to departed contacts, diffusion models, "what if X leaves".

Algorithm functions take an undirected weighted :class:`igraph.Graph` (vertex attributes
``name`` and ``on_net``, edge attribute ``weight``; see ``docs/INTERNALS.md``) and return numpy
arrays aligned with vertex order, or DataFrames indexed by vertex name in vertex order.

How the pieces fit (the pipeline's side):

1. History: for each past cut-off ``c`` whose horizon ends by as-of, a
   :class:`ContagionCutoff` (graph of the interactions before ``c``, days since each departure
   known at ``c``, next-horizon churn label, optional influencer score);
   :meth:`ContagionCutoff.from_churn_dates` builds one from contract churn dates.
2. ``model = ContagionModel(method="auto").fit(history)``: compares the diffusion models on
   held-out cut-offs (``model.comparison_``) or, with no history, uses a structural prior
   (``model.source_`` says which).
3. ``alerts, at_risk = what_if(graph, membership, base_probability, value, leavers, model,
   influencer_score)`` at as-of.
4. ``Watcher(...)`` + ``update(customer_id, date)`` for a stream of departures.

Everything on a hot path is vectorised over the edge list (``np.bincount``, ``scipy.sparse``);
loops run over rounds, hops or cut-offs, never over vertices or edges (only the plain-words
reasons of the at-risk list are formatted row by row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from graphchurn.contagion.diffusion import _GraphIndex
from graphchurn.contagion.pressure import DEFAULT_HALF_LIFE, FEATURES, PRESSURE, decay
from graphchurn.contagion.selection import Selection
from graphchurn.features.exposure import departure_ages
from graphchurn.graph.arrays import vertex_names

__all__ = [
    "ContagionCutoff",
    "ContagionModel",
    "what_if",
    "METHODS",
]


@dataclass
class ContagionCutoff:
    """One past cut-off of the churn history a :class:`ContagionModel` is fitted on.

    All arrays are aligned with the vertices of ``graph``.

    Attributes
    ----------
    graph : igraph.Graph
        The customer graph built from interactions before the cut-off only.
    departure_age_days : ndarray of float
        Days between a vertex's departure and the cut-off (>= 0) for departures known at the
        cut-off (churn date <= cut-off); NaN for everyone else.
    label : ndarray of {0, 1}
        1 if the vertex churned in the horizon after the cut-off (read only where eligible).
    eligible : ndarray of bool, optional
        Vertices that count as examples: customers active at the cut-off. Default: on-net
        vertices that have not departed.
    influencer_score : ndarray of float, optional
        Influencer score at the cut-off (e.g. ``roles.influencer_scores``); turned into a
        percentile among on-net vertices. Without it every leaver counts as a median customer.
    base_probability : ndarray of float, optional
        A baseline churn probability that does *not* itself use exposure to departures; when
        every cut-off has one it enters the regression as ``logit(base)``.
    """

    graph: object
    departure_age_days: np.ndarray
    label: np.ndarray
    eligible: np.ndarray | None = None
    influencer_score: np.ndarray | None = None
    base_probability: np.ndarray | None = None

    @classmethod
    def from_churn_dates(cls, graph, churn_dates, cutoff, horizon_days, *, known_until=None,
                         influencer_score=None, base_probability=None):
        """Build a cut-off from contract churn dates.

        Parameters
        ----------
        graph : igraph.Graph
            Graph of the interactions before ``cutoff``.
        churn_dates : pandas.Series
            Churn date per customer id (NaT = still a customer); ids not in it are off-net.
        cutoff : Timestamp
            The cut-off.
        horizon_days : int
            The label is churn in ``(cutoff, cutoff + horizon_days]``.
        known_until : Timestamp, optional
            The as-of of the analysis. Raises if the label would need dates after it.
        influencer_score, base_probability : ndarray, optional
            See the class attributes.
        """
        cutoff = pd.Timestamp(cutoff)
        end = cutoff + pd.Timedelta(days=float(horizon_days))
        if known_until is not None and end > pd.Timestamp(known_until):
            raise ValueError("the label of this cut-off is not fully known at as-of")
        dates = pd.to_datetime(pd.Series(churn_dates))
        dates.index = dates.index.astype(str)
        names = vertex_names(graph).astype(str)
        known = names.isin(dates.index)
        aligned = dates.reindex(names)
        on_net = (np.asarray(graph.vs["on_net"], dtype=bool)
                  if "on_net" in graph.vs.attributes() else np.ones(graph.vcount(), bool))
        d = aligned.to_numpy(dtype="datetime64[ns]")
        still = np.isnat(d) | (d > np.datetime64(cutoff))
        label = (~np.isnat(d)) & (d > np.datetime64(cutoff)) & (d <= np.datetime64(end))
        return cls(graph=graph,
                   departure_age_days=departure_ages(graph, dates, cutoff),
                   label=label.astype(np.int8),
                   eligible=known & on_net & still,
                   influencer_score=influencer_score,
                   base_probability=base_probability)


def _as_cutoff(item):
    if isinstance(item, ContagionCutoff):
        return item
    if isinstance(item, dict):
        return ContagionCutoff(**item)
    return ContagionCutoff(*item)


def _influence_rank(index, influencer_score):
    """Leaver influence in [0, 1]: percentile of the influencer score among on-net vertices.

    Ranks use the "min" rule, so a 0/1 leader flag maps to 0 for non-leaders. Without scores
    every vertex gets 0.5.
    """
    if influencer_score is None:
        return np.full(index.n, 0.5)
    score = np.asarray(influencer_score, dtype=float)
    if score.shape != (index.n,):
        raise ValueError("influencer_score must have one value per vertex")
    out = np.zeros(index.n)
    pool = index.on_net & np.isfinite(score)
    if pool.sum() > 1:
        ordered = np.sort(score[pool])
        out[pool] = np.searchsorted(ordered, score[pool], side="left") / (pool.sum() - 1)
    elif pool.sum() == 1:
        out[pool] = 1.0
    return np.clip(out, 0.0, 1.0)


INFLUENCER_PERCENTILE = 0.9
"""A leaver at or above this influence percentile is called "an influencer" in reasons."""


# ----------------------------------------------------------------------------------------------
# the contagion model

METHODS = ("exposure", "spreading_activation", "independent_cascade", "linear_threshold")


#: Structural prior, used when there is no churn history to calibrate on. Log-odds added to a
#: customer's churn odds per unit of (tie share to leavers x leaver weight), where a leaver
#: weighs 0.5 + 0.5 x its influence percentile: losing every tie to a top influencer at once
#: triples the odds. Of the order of the social effects in Nitzan & Libai (2011) and of the
#: contagion planted in graphchurn.synth; a documented assumption, not an estimate.
PRIOR_TIE_LOG_ODDS = math.log(3.0)

#: Twice the held-out log-likelihood gain a fitted contagion model must show over "no
#: contagion" to count as supported by the history: 3.84, the 5% point of chi-squared(1).
LIKELIHOOD_RATIO_BAR = 3.84
#: Log-odds per departed group member (same weighting), scaled by how embedded the customer
#: is in its group (share of its tie strength inside the group): group churn beyond direct ties.
PRIOR_GROUP_LOG_ODDS = math.log(1.5)


class _Context:
    """What a model needs about one graph at one moment: CSR, influence, groups."""

    def __init__(self, index, influence, membership=None):
        self.index = index
        self.influence = influence
        self.membership = None if membership is None else np.asarray(membership)
        if self.membership is not None:
            if self.membership.shape != (index.n,):
                raise ValueError("membership must have one label per vertex")
            codes, labels = pd.factorize(self.membership)
            self.group_code = codes.astype(np.int64)
            self.group_labels = np.asarray(labels)
            # rank of each group's label, to break ties in a stable, label-ordered way
            self.group_label_rank = np.empty(len(labels), dtype=np.int64)
            self.group_label_rank[np.asarray(pd.Index(labels).argsort())] = np.arange(len(labels))
            same = self.group_code[index.row] == self.group_code[index.indices]
            inside = np.bincount(index.row, weights=index.data * same, minlength=index.n)
            self.embeddedness = np.divide(inside, index.strength,
                                          out=np.zeros(index.n), where=index.strength > 0)
            order = np.argsort(self.group_code, kind="stable")
            bounds = np.searchsorted(self.group_code[order],
                                     np.arange(self.group_code.max() + 2 if index.n else 1))
            self.group_members = (order, bounds)


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def _shift(base, logit_base, dz):
    """``sigmoid(logit(base) + dz)``, exactly ``base`` where ``dz == 0``."""
    return np.where(dz == 0, base, _sigmoid(logit_base + dz))


class ContagionModel:
    """How much a departure raises the churn risk of the leaver's contacts.

    A logistic regression, across past cut-offs, of churn in the next horizon on *contagion
    pressure* features that one diffusion model computes from the departures known at the
    cut-off (each weighted by ``0.5 ** (age / half_life)`` and by the leaver's influence):

    - ``exposure``: tie share to leavers, the same share weighted by leaver influence, the
      largest single tie share (the churn model's own exposure response, Nitzan & Libai 2011);
    - ``spreading_activation``: energy received from leavers (Dasgupta et al. 2008), log1p;
    - ``independent_cascade``: probability of being reached by a cascade from the leavers with
      arc probability ``beta * w_uv / s_v`` (Kempe et al. 2003);
    - ``linear_threshold``: probability of being reached under the linear threshold model
      with uniform thresholds (Kempe et al. 2003).

    A what-if adds the change of the fitted linear predictor to each customer's churn
    log-odds: ``p_after = sigmoid(logit(p_before) + coef . (x_after - x_before))``.

    With ``method="auto"`` every method is scored on held-out cut-offs in an expanding window
    (each later cut-off predicted by a fit on all earlier ones; log-loss and AUC pooled over
    the folds); the best by held-out log-loss is refitted on all cut-offs and the table is
    kept in ``comparison_``. Without churn history (no departure tied to an
    example, or labels of one class only) the model falls back to a structural prior
    (:data:`PRIOR_TIE_LOG_ODDS`, :data:`PRIOR_GROUP_LOG_ODDS`) and says so in ``source_``.

    Parameters
    ----------
    method : {"auto", "exposure", "spreading_activation", "independent_cascade", "linear_threshold"}
    half_life_days : float or None, default None
        Half-life of a departure's effect; None picks it from (7, 14, 30, 60) on history
        (30 without history).
    n_simulations : int, default 200
        Monte Carlo simulations of the cascade models.
    max_hops : int, default 2
        Cascades stop after this many hops (keeps watch-mode neighbourhoods finite).
    spread_factor : float, default 0.8
        Spreading activation: share of energy passed on per round.
    spread_iterations : int, default 3
        Spreading activation rounds (its reach in hops).
    C : float, default 1.0
        Inverse L2 strength of the logistic regression (on standardised features).
    seed : int, default 0
        Seed of the cascade coins and of the held-out split of a single cut-off.

    Attributes
    ----------
    method_ : str
        The method used: one of METHODS, or "structural_prior".
    source_ : str
        "fitted on history" or "structural prior".
    half_life_days_ : float
    beta_ : float or None
        Independent cascade arc-probability scale.
    feature_names_ : list of str
    coef_ : ndarray
        Log-odds per unit of each contagion feature.
    intercept_ : float
    base_coef_ : float or None
        Coefficient of ``logit(base_probability)`` when the history carried one.
    comparison_ : pandas.DataFrame or None
        Held-out comparison of the methods (``method="auto"``).
    heldout_gain_nats_ : float or None
        Held-out log-likelihood of the selected method minus that of "no contagion", summed
        over the test customers (``method="auto"``; None otherwise).
    supported_ : bool or None
        Whether that gain clears the likelihood-ratio bar ``2 * gain > 3.84`` (the 5% point
        of chi-squared with one degree of freedom, used as a rule of thumb on held-out data):
        False means the history does not show contagion beyond chance, and what-if increases
        are the model's assumption more than evidence. None without a comparison.

    Example
    -------
    >>> model = ContagionModel().fit([])      # no history at all
    >>> model.source_
    'structural prior'

    References
    ----------
    Dasgupta, K. et al. (2008). Social ties and their relevance to churn in mobile telecom
    networks. EDBT 2008.
    Kempe, D., Kleinberg, J., Tardos, E. (2003). Maximizing the spread of influence through a
    social network. KDD 2003.
    Nitzan, I., Libai, B. (2011). Social effects on customer retention. J. Marketing 75(6).
    """

    def __init__(self, method="auto", half_life_days=None, n_simulations=200, max_hops=2,
                 spread_factor=0.8, spread_iterations=3, C=1.0, seed=0):
        self.method = method
        self.half_life_days = half_life_days
        self.n_simulations = n_simulations
        self.max_hops = max_hops
        self.spread_factor = spread_factor
        self.spread_iterations = spread_iterations
        self.C = C
        self.seed = seed

    def _radius(self):
        if self.method_ in ("exposure", "structural_prior"):
            return 1
        if self.method_ == "spreading_activation":
            return int(self.spread_iterations)
        return int(self.max_hops)

    # ------------------------------------------------------------------ fitting
    def fit(self, history):
        """Calibrate on past cut-offs.

        Parameters
        ----------
        history : sequence of ContagionCutoff (or dicts / tuples of its fields)
            Past cut-offs in time order (oldest first) whose labels are fully known.

        Returns
        -------
        self
        """
        if self.method != "auto" and self.method not in METHODS:
            raise ValueError(f"method must be 'auto' or one of {METHODS}")
        cutoffs = [_as_cutoff(c) for c in history]
        prepared = [self._prepare(c) for c in cutoffs]
        prepared = [p for p in prepared if p is not None]
        n_pos = sum(int(p["y"].sum()) for p in prepared)
        n_neg = sum(int((1 - p["y"]).sum()) for p in prepared)
        n_exposed = sum(int(p["exposed"].sum()) for p in prepared)
        self.comparison_ = None
        self.heldout_gain_nats_ = self.supported_ = None
        if not prepared or n_pos == 0 or n_neg == 0 or n_exposed == 0:
            return self._use_prior()
        selection = Selection(self, prepared, use_base=all(p["base"] is not None
                                                           for p in prepared))
        methods = list(METHODS) if self.method == "auto" else [self.method]
        if self.method == "auto":
            self.comparison_ = selection.compare(methods)
            chosen = self.comparison_.loc[self.comparison_["selected"], "method"].iloc[0]
            table = self.comparison_.set_index("method")
            gain = float((table.loc["no contagion", "test_log_loss"]
                          - table.loc[chosen, "test_log_loss"]) * table.loc[chosen, "n_test"])
            self.heldout_gain_nats_ = gain
            self.supported_ = bool(2 * gain > LIKELIHOOD_RATIO_BAR)
        else:
            chosen = methods[0]
        every = [(k, np.ones(len(p["y"]), dtype=bool)) for k, p in enumerate(prepared)]
        config, fitted, _ = selection.best_config(chosen, every)
        self.method_ = chosen
        self.source_ = "fitted on history"
        self.half_life_days_, self.beta_ = config
        self.feature_names_ = list(FEATURES[chosen])
        self.coef_, self.intercept_, self.base_coef_ = fitted
        return self

    def _use_prior(self):
        self.method_ = "structural_prior"
        self.source_ = "structural prior"
        self.half_life_days_ = float(self.half_life_days or DEFAULT_HALF_LIFE)
        self.beta_ = None
        self.feature_names_ = list(FEATURES["structural_prior"])
        self.coef_ = np.array([PRIOR_TIE_LOG_ODDS, PRIOR_GROUP_LOG_ODDS])
        self.intercept_ = float("nan")
        self.base_coef_ = None
        return self

    def _prepare(self, cutoff):
        index = _GraphIndex(cutoff.graph)
        n = index.n
        age = np.asarray(cutoff.departure_age_days, dtype=float)
        if age.shape != (n,):
            raise ValueError("departure_age_days must have one value per vertex")
        departed = np.isfinite(age)
        eligible = (index.on_net & ~departed if cutoff.eligible is None
                    else np.asarray(cutoff.eligible, dtype=bool) & ~departed)
        rows = np.flatnonzero(eligible)
        if rows.size == 0:
            return None
        y = np.asarray(cutoff.label, dtype=float)[rows]
        exposed = np.bincount(index.row, weights=departed[index.indices].astype(float),
                              minlength=n)[rows] > 0
        base = (None if cutoff.base_probability is None
                else _logit(np.asarray(cutoff.base_probability, dtype=float)[rows]))
        ctx = _Context(index, _influence_rank(index, cutoff.influencer_score))
        return {"ctx": ctx, "age": age, "rows": rows, "y": y, "exposed": exposed, "base": base}

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self):
        if not hasattr(self, "method_"):
            raise RuntimeError("ContagionModel is not fitted; call fit(history) first")

    def predict_proba(self, cutoff):
        """Churn probability at a cut-off from its departures (fitted models only).

        Parameters
        ----------
        cutoff : ContagionCutoff
            The ``label`` field is not read.

        Returns
        -------
        numpy.ndarray of float, shape (n_vertices,)
        """
        self._check_fitted()
        if self.source_ != "fitted on history":
            raise RuntimeError("a structural prior only gives increases, not probabilities")
        cutoff = _as_cutoff(cutoff)
        index = _GraphIndex(cutoff.graph)
        ctx = _Context(index, _influence_rank(index, cutoff.influencer_score))
        x = self.pressure(ctx, cutoff.departure_age_days)
        z = self.intercept_ + x @ self.coef_
        if self.base_coef_ is not None:
            if cutoff.base_probability is None:
                raise ValueError("this model was fitted with base_probability; pass it")
            z = z + self.base_coef_ * _logit(cutoff.base_probability)
        return _sigmoid(z)

    def pressure(self, ctx, departure_age_days):
        """Contagion features of every vertex for departures of the given ages (internal)."""
        self._check_fitted()
        weight = decay(departure_age_days, self.half_life_days_)
        return PRESSURE[self.method_](self, ctx, weight, self.beta_)


# ----------------------------------------------------------------------------------------------
# what if these customers leave


def what_if(graph, membership, base_probability, value, leavers, model=None, influencer_score=None,
            *, departure_age_days=None, rescore=None, weights="weight"):
    """Which groups and customers are at risk if ``leavers`` leave now.

    Each scored customer's churn log-odds rise by the fitted contagion response to the new
    departures: ``p_after = sigmoid(logit(p_before) + coef . (x_after - x_before))``, with
    ``x`` the model's contagion features (see :class:`ContagionModel`).

    Parameters
    ----------
    graph : igraph.Graph
        Customer graph at as-of (vertex ``name``, ``on_net``; edge ``weight``).
    membership : array_like, shape (n_vertices,)
        Group label of every vertex.
    base_probability : array_like of float, shape (n_vertices,)
        Current churn probability (NaN for vertices that are not scored).
    value : array_like of float or None
        Monthly value per vertex (NaN counts as 0); None leaves the value columns NaN.
    leavers : sequence of str or int
        Customer ids (vertex names) or vertex indices of the customers who leave now.
    model : ContagionModel, optional
        A fitted model; default ``ContagionModel().fit([])``, the structural prior.
    influencer_score : array_like of float, optional
        Influencer score per vertex (a leader 0/1 flag works too).
    departure_age_days : array_like of float, optional
        Earlier departures *not yet reflected in* ``base_probability`` (days ago; NaN for
        none), e.g. leavers announced since the scores were made. They set the "before" state.
    rescore : callable, optional
        ``rescore(departed_mask) -> probabilities``: the churn model re-scored with exposure
        features recomputed as if ``departed_mask`` had left. When given it replaces the
        contagion model for the after (and, with earlier departures, before) probabilities.
    weights : str, array_like or None, default "weight"
        Tie strengths.

    Returns
    -------
    alerts : pandas.DataFrame
        One row per group with scored members: ``community``, ``members`` (scored customers,
        leavers excluded), ``leavers``, ``expected_churners_before``,
        ``expected_churners_after``, ``increase``, ``value_at_risk_before``,
        ``value_at_risk_after``; ranked by ``increase``. ``attrs`` holds ``source`` and
        ``method``.
    at_risk : pandas.DataFrame
        Scored customers whose probability rises: ``customer_id``, ``community``,
        ``churn_probability_before``, ``churn_probability_after``, ``increase``, ``reason``;
        ranked by ``increase``. Off-net vertices and the leavers are never listed.

    Example
    -------
    >>> import igraph as ig
    >>> g = ig.Graph.Full(3) + ig.Graph.Full(3)
    >>> g.add_edges([(2, 3)]); g.es["weight"] = 1.0
    >>> g.vs["name"] = list("abcdef"); g.vs["on_net"] = True
    >>> alerts, at_risk = what_if(g, [0, 0, 0, 1, 1, 1], [0.1] * 6, None, ["a"])
    >>> alerts["community"].tolist()[0], at_risk["customer_id"].tolist()
    (0, ['b', 'c'])
    """
    index = _GraphIndex(graph, weights)
    n = index.n
    if model is None:
        model = ContagionModel().fit([])
    model._check_fitted()
    leaver_idx = index.positions(leavers, "leaver")
    ctx = _Context(index, _influence_rank(index, influencer_score), membership)
    base = _aligned(base_probability, n, "base_probability")
    values = None if value is None else np.nan_to_num(_aligned(value, n, "value"), nan=0.0)
    age_before = (np.full(n, np.nan) if departure_age_days is None
                  else _aligned(departure_age_days, n, "departure_age_days").copy())
    age_after = age_before.copy()
    age_after[leaver_idx] = 0.0
    leaver_mask = np.zeros(n, dtype=bool)
    leaver_mask[leaver_idx] = True
    departed_before = np.isfinite(age_before)
    scored = index.on_net & np.isfinite(base) & ~leaver_mask & ~departed_before

    if rescore is not None:
        p_before = (base if not departed_before.any()
                    else _aligned(rescore(departed_before), n, "rescore()"))
        p_after = _aligned(rescore(departed_before | leaver_mask), n, "rescore()")
        method = "churn model rescore"
    else:
        logit0 = _logit(base)
        x_after = model.pressure(ctx, age_after)
        p_after = _shift(base, logit0, x_after @ model.coef_)
        if departed_before.any():
            p_before = _shift(base, logit0, model.pressure(ctx, age_before) @ model.coef_)
        else:
            p_before = base
        method = model.method_
    p_before = np.where(scored, p_before, np.nan)
    p_after = np.where(scored, p_after, np.nan)
    alerts = _group_alerts(ctx, scored, leaver_mask, p_before, p_after, values)
    departed_after = departed_before | leaver_mask
    rows = np.flatnonzero(scored)
    at_risk = _at_risk_table(ctx, rows, p_before[rows], p_after[rows], departed_after, leaver_idx)
    for frame in (alerts, at_risk):
        frame.attrs["source"] = model.source_ if rescore is None else "churn model"
        frame.attrs["method"] = method
    return alerts, at_risk


def _aligned(values, n, what):
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n,):
        raise ValueError(f"{what} must have one value per vertex ({n})")
    return arr


ALERT_COLUMNS = ["community", "members", "leavers", "expected_churners_before",
                 "expected_churners_after", "increase", "value_at_risk_before",
                 "value_at_risk_after"]
AT_RISK_COLUMNS = ["customer_id", "community", "churn_probability_before",
                   "churn_probability_after", "increase", "reason"]


def _group_alerts(ctx, scored, leaver_mask, p_before, p_after, values, groups=None):
    """Per-group sums over scored members; ``groups`` (codes) restricts the rows."""
    code = ctx.group_code
    n_groups = int(code.max()) + 1 if code.size else 0
    w = scored.astype(float)
    members = np.bincount(code, weights=w, minlength=n_groups)
    n_leavers = np.bincount(code, weights=leaver_mask.astype(float), minlength=n_groups)
    pb = np.where(scored, p_before, 0.0)
    pa = np.where(scored, p_after, 0.0)
    before = np.bincount(code, weights=pb, minlength=n_groups)
    after = np.bincount(code, weights=pa, minlength=n_groups)
    if values is None:
        var_b = var_a = np.full(n_groups, np.nan)
    else:
        var_b = np.bincount(code, weights=pb * values, minlength=n_groups)
        var_a = np.bincount(code, weights=pa * values, minlength=n_groups)
    return _alert_frame(ctx, members, n_leavers, before, after, var_b, var_a, groups)


def _alert_frame(ctx, members, n_leavers, before, after, var_b, var_a, groups=None):
    keep = np.flatnonzero(members > 0) if groups is None else np.asarray(groups, dtype=np.int64)
    keep = keep[members[keep] > 0]
    increase = after[keep] - before[keep]
    # ranked by increase, ties by group label order of first appearance
    keep = keep[np.lexsort((ctx.group_label_rank[keep], -increase))]
    return pd.DataFrame({
        "community": ctx.group_labels[keep],
        "members": np.rint(members[keep]).astype(np.int64),
        "leavers": np.rint(n_leavers[keep]).astype(np.int64),
        "expected_churners_before": before[keep],
        "expected_churners_after": after[keep],
        "increase": after[keep] - before[keep],
        "value_at_risk_before": var_b[keep],
        "value_at_risk_after": var_a[keep],
    }, columns=ALERT_COLUMNS)


def _at_risk_table(ctx, rows, p_before, p_after, departed, leaver_idx):
    """At-risk rows among ``rows`` (scored vertices); probabilities are aligned with ``rows``."""
    increase = p_after - p_before
    up = increase > 1e-12
    rows, p_before, p_after, increase = rows[up], p_before[up], p_after[up], increase[up]
    order = np.lexsort((rows, -increase))
    rows, p_before, p_after, increase = rows[order], p_before[order], p_after[order], increase[order]
    frame = pd.DataFrame({
        "customer_id": pd.array(ctx.index.name_array[rows].astype(str), dtype="str"),
        "community": ctx.membership[rows],
        "churn_probability_before": p_before,
        "churn_probability_after": p_after,
        "increase": increase,
        "reason": _reasons(ctx, rows, departed, leaver_idx),
    }, columns=AT_RISK_COLUMNS)
    return frame


def _hop_distance(index, sources, targets, max_hops=8):
    """Hops from the nearest source to each target (-1 beyond ``max_hops``).

    A breadth-first search from all sources at once that stops as soon as every target is
    reached, so it only visits the ball the targets lie in (not the whole graph).
    """
    dist = np.full(index.n, -1, dtype=np.int64)
    frontier = np.unique(np.asarray(sources, dtype=np.int64))
    dist[frontier] = 0
    targets = np.asarray(targets, dtype=np.int64)
    hops = 0
    while frontier.size and hops < max_hops and (dist[targets] < 0).any():
        hops += 1
        _, pos = index.expand(frontier)
        nb = np.unique(index.indices[pos])
        frontier = nb[dist[nb] < 0]
        dist[frontier] = hops
    return dist[targets]


def _plural(n, one, many):
    return one if n == 1 else many


def _reasons(ctx, rows, departed, leaver_idx, top=4):
    """Plain-words reason per at-risk customer, from its strongest contacts."""
    index = ctx.index
    if rows.size == 0:
        return []
    owner, pos = index.expand(rows)
    nb = index.indices[pos]
    w = index.data[pos]
    deg = index.degree[rows]
    # rank of each tie among the owner's ties, strongest first
    order = np.lexsort((-w, owner))
    rank = np.empty(len(pos), dtype=np.int64)
    rank[order] = np.arange(len(pos)) - np.repeat(np.cumsum(deg) - deg, deg)
    k = np.minimum(top, deg)
    leaving = departed[nb]
    influencer = ctx.influence >= INFLUENCER_PERCENTILE
    m = len(rows)
    n_leaving = np.bincount(owner, weights=leaving, minlength=m).astype(int)
    top_leaving = np.bincount(owner, weights=leaving & (rank < k[owner]), minlength=m).astype(int)
    infl_leaving = np.bincount(owner, weights=leaving & influencer[nb], minlength=m).astype(int)
    share = np.bincount(owner, weights=w * leaving, minlength=m) / np.where(
        index.strength[rows] > 0, index.strength[rows], 1.0)
    same_group = np.zeros(m, dtype=bool)
    group_infl = np.zeros(m, dtype=bool)
    if ctx.membership is not None and len(leaver_idx):
        leaver_groups = ctx.group_code[leaver_idx]
        same_group = np.isin(ctx.group_code[rows], leaver_groups)
        group_infl = np.isin(ctx.group_code[rows], leaver_groups[influencer[leaver_idx]])
    distance = np.full(m, -1, dtype=np.int64)
    far = (n_leaving == 0) & ~same_group
    if far.any() and len(leaver_idx):
        distance[far] = _hop_distance(index, leaver_idx, rows[far])
    out = []
    for i in range(m):
        if n_leaving[i] > 0:
            if top_leaving[i] > 0:
                text = (f"{top_leaving[i]} of {k[i]} strongest contacts "
                        f"{_plural(top_leaving[i], 'is', 'are')} leaving")
            else:
                text = (f"{n_leaving[i]} weaker {_plural(n_leaving[i], 'contact', 'contacts')} "
                        f"leaving")
            text += f" ({share[i]:.0%} of tie strength)"
            if infl_leaving[i] == 1:
                text += ", one an influencer" if n_leaving[i] > 1 else ", an influencer"
            elif infl_leaving[i] > 1:
                text += f", {infl_leaving[i]} of them influencers"
        elif same_group[i]:
            text = ("an influencer of the group is leaving" if group_infl[i]
                    else "a member of the group is leaving")
        else:
            text = (f"{distance[i]} steps from a leaver" if distance[i] > 0
                    else "exposed to leavers")
        out.append(text)
    return out


