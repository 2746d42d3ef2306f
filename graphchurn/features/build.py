"""Features of every customer at a cut-off: activity, structure, exposure and attributes.

One function, :func:`build_features`, computes the feature table for any cut-off; training
cut-offs and the scoring cut-off go through exactly the same code, so what the model learns on
is what it is applied to. It reads only interactions strictly before the cut-off and only
departures known at the cut-off (:func:`graphchurn.windows.known_departures`); the customer
table's future churn dates are never read (``test_features.py`` appends future rows and checks
that nothing changes).

Feature families
----------------
activity
    Counts, durations, recency, active days and the two-week trend of outgoing activity
    (from :class:`graphchurn.graph.CustomerGraph`); classic RFM. Totals describe a full
    ``window_days`` window even at a cut-off with less log behind it (:data:`WINDOW_TOTALS`).
    Plus the fade-out evidence (:func:`graphchurn.graph.fade_out_evidence`): a Bayes factor
    for traffic tapering off towards zero, as it does between a decision to leave and the
    churn date.
structure
    Tie strength, degree, weighted PageRank, coreness, local clustering, community size, the
    combined influencer score and whether the customer leads its group.
exposure
    Share of tie strength to recent leavers, the number of departed contacts, whether a
    departed contact was an influencer, the share of the group that left, and the energy
    received by spreading activation from recent leavers (Dasgupta et al. 2008).
attributes
    Every other column of the customer table (numeric or categorical) as given; a date
    column as its age in days at the cut-off (:func:`attributes_at`).

The columns that need the communities (:data:`COMMUNITY_FEATURES`) are left out with
``communities=False``, which skips community detection: the churn model does not use them by
default (``AnalyzeConfig.community_features``), so only the scoring cut-off, whose groups are
part of the outputs, detects communities.

References
----------
Dasgupta, K., Singh, R., Viswanathan, B., Chakraborty, D., Mukherjea, S., Nanavati, A. A.,
Joshi, A. (2008). Social ties and their relevance to churn in mobile telecom networks. EDBT.
Verbeke, W., Martens, D., Baesens, B. (2014). Social network analysis for customer churn
prediction. Applied Soft Computing 14, 431-446.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from graphchurn.social.communities import detect_communities
from graphchurn.features.exposure import (LONGER_EXPOSURE_WINDOWS, departure_ages, exposure,
                                          exposure_before_onset, spreading_activation)
from graphchurn.graph.canonical import in_canonical_order, renumbered
from graphchurn.graph.customer_graph import FADE_DAYS, CustomerGraph
from graphchurn.social.roles import (DEFAULT_RIS_SAMPLES, influencer_score_draws,
                                     influencer_scores, leaders_and_followers, susceptibility)
from graphchurn.windows.labels import active_at, before, known_departures

__all__ = [
    "FeatureSet",
    "build_features",
    "features_on_graph",
    "add_communities",
    "community_part",
    "CommunityPart",
    "attributes_at",
    "known_customers",
    "RFM_FEATURES",
    "ACTIVITY_FEATURES",
    "STRUCTURE_FEATURES",
    "EXPOSURE_FEATURES",
    "COMMUNITY_FEATURES",
    "WINDOW_TOTALS",
    "NON_FEATURE_COLUMNS",
    "check_finite_features",
    "FEATURE_LIMIT",
    "FEATURE_RIS_SAMPLES",
    "STABLE_INFLUENCE_DRAWS",
    "INFLUENCE_DRAW_COLUMNS",
    "influence_draw_seeds",
]

#: Largest magnitude a feature may reach before a fit: inputs are bounded at the door
#: (io.readers), so anything beyond is a bug or an input that slipped through; far below the
#: ~1e154 whose square overflows a standardisation.
FEATURE_LIMIT = 1e15

#: RR sets of the feature stage's influence sampling (``influencer_scores``' ``ris_samples``).
#: A vertex's estimated spread is its share of the sets, so its noise falls as one over the
#: square root of their number, and with it how far a different seed moves customers across
#: the influencer cut. Ten times more sets took a little of that spread off but ranked
#: slightly worse on the generated worlds, so the feature stage keeps the library's default
#: (issue 22, docs/results.md). The estimates within two or three hops without sampling
#: (``influence_method="khop"``, ``influence_hops=2|3``) have no seed but ranked worse on
#: Bitcoin OTC, and three hops also took longer than the sets on a 100,000-customer cut-off
#: (experiments/results/influence_deterministic.md), so the sampled one stays.
FEATURE_RIS_SAMPLES = DEFAULT_RIS_SAMPLES

#: ``influence_draws`` (``AnalyzeConfig.influence_draws``, ``--influence-draws``) for a ranking
#: that does not move with the seed: the draws of the RR sets a cut-off's influence columns are
#: computed under (the first is the table's own; the others go to
#: ``FeatureSet.influence_draws``). The pipeline fits one model
#: per draw (each on that draw's training tables) and averages their probabilities, each on
#: its draw of the scored table (``pipeline.averaged_over_draws``). The seed reaches the
#: probabilities only through the RR sets, and mostly through the model fitted on them: with
#: the same model, averaging the scored table's draws alone left the largest move on a
#: 20,000-customer world as it was, since the trees fitted on another draw split elsewhere.
#: The mean over draws estimates the expectation over the sampling noise, so the seed moves
#: it less (issue 22, experiments/results/stability_averaged.md). Not the default (1 = one
#: draw, one model): each draw is one more model fit of the backtest and of the scoring model,
#: about three times the analysis at 20,000 customers, and scale comes first.
STABLE_INFLUENCE_DRAWS = 4

#: The model columns that depend on the draw of the RR sets.
INFLUENCE_DRAW_COLUMNS = ("influencer_score", "departed_influencer_contact")


def influence_draw_seeds(seed: int, n_draws: int) -> list[int]:
    """Seeds of the RR sets of a cut-off's ``n_draws`` influence draws under ``seed``.

    The first is ``seed`` itself (the table's own draw, as with one draw); the others come
    from ``numpy.random.SeedSequence((seed, k))``, so that two seeds share no draw.

    Parameters
    ----------
    seed : int
        The analysis seed (``AnalyzeConfig.seed``).
    n_draws : int
        Number of draws (>= 1).

    Returns
    -------
    list of int

    Example
    -------
    >>> influence_draw_seeds(0, 3)[0], len(set(influence_draw_seeds(0, 3) + influence_draw_seeds(1, 3)))
    (0, 6)
    """
    return [int(seed)] + [int(np.random.SeedSequence((int(seed), k)).generate_state(1)[0])
                          for k in range(1, int(n_draws))]


def check_finite_features(X: pd.DataFrame) -> None:
    """Raise an InputError naming the first numeric feature of ``X`` holding an infinite value
    or one beyond :data:`FEATURE_LIMIT` in magnitude (NaN is a missing value, imputed).

    Example
    -------
    >>> check_finite_features(pd.DataFrame({"n_out": [1.0, np.nan]}))
    >>> check_finite_features(pd.DataFrame({"value": [1.0, np.inf]}))
    Traceback (most recent call last):
    ...
    graphchurn.errors.InputError: feature 'value' is infinite or beyond 1e+15 in magnitude in 1 row(s); check that input column for extreme numbers
    """
    from graphchurn.errors import InputError

    for name in X.columns:
        column = X[name]
        if not (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
            continue
        with np.errstate(invalid="ignore"):
            bad = np.abs(column.to_numpy(dtype=np.float64, na_value=np.nan)) > FEATURE_LIMIT
        if bad.any():
            raise InputError(f"feature {name!r} is infinite or beyond {FEATURE_LIMIT:g} in "
                             f"magnitude in {int(bad.sum())} row(s); check that input column "
                             "for extreme numbers")


log = logging.getLogger("graphchurn")

#: An inner step of :func:`build_features` that takes at least this long gets its own progress
#: line (logging INFO, off under the command line's -q); shorter ones log at DEBUG.
PROGRESS_MIN_SECONDS = 2.0


class _Steps:
    """Times the inner steps of one cut-off: ``timings`` by step, and a log line for each."""

    def __init__(self, cutoff):
        self.label = str(pd.Timestamp(cutoff).date())
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name):
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.timings[name] = round(elapsed, 3)
        log.log(logging.INFO if elapsed >= PROGRESS_MIN_SECONDS else logging.DEBUG,
                "  %s: %s done in %.1f s", self.label, name, elapsed)


#: Columns of the customer table that are identifiers or future information, never features.
NON_FEATURE_COLUMNS = ("customer_id", "churn_date")

# Recency, frequency, duration and trend of the customer's own traffic: what the RFM-only
# baseline of the backtest sees.
RFM_FEATURES = [
    "n_out", "n_in", "duration_out", "duration_in", "days_since_last_out", "days_since_last_any",
    "active_days_out", "out_recent", "out_previous", "activity_trend", "out_last_week",
    "out_week_ratio", "in_week_ratio", "out_share",
]
# Totals that grow with the length of the window (the rest are rates, shares, fixed-length
# counts or structural).
WINDOW_TOTALS = ["n_out", "n_in", "duration_out", "duration_in", "active_days_out", "strength"]
# Plus the fade-out evidence, which counts only traffic with contacts still there (it reads
# the departures of the customer's contacts, so it is not in the RFM baseline).
ACTIVITY_FEATURES = RFM_FEATURES + ["fade_out_evidence"]
STRUCTURE_FEATURES = [
    "distinct_contacts", "strength", "pagerank", "coreness", "clustering", "community_size",
    "influencer_score", "is_leader", "share_to_leaders", "embeddedness", "susceptibility",
]
#: The columns computed from the community membership (Leiden): group size and churn, the
#: leaders and the susceptibility. ``communities=False`` leaves them out.
COMMUNITY_FEATURES = [
    "community_size", "group_churn_rate", "embeddedness", "susceptibility", "share_to_leaders",
    "is_leader",
]
EXPOSURE_FEATURES = [
    "share_to_departed", "n_departed_contacts", "departed_influencer_contact",
    "max_tie_share_departed", "group_churn_rate", "spreading_activation_energy",
    "share_to_departed_longer", "share_to_departed_before_onset",
]

#: Every column of ``FeatureSet.vertex_features``, in their order (the order a model sees).
VERTEX_COLUMNS = ACTIVITY_FEATURES + [
    "distinct_contacts", "strength", "pagerank", "coreness", "clustering", "community_size",
    "influencer_score", "is_leader", "share_to_leaders", "embeddedness", "susceptibility",
    "share_to_departed", "n_departed_contacts", "departed_influencer_contact",
    "max_tie_share_departed", "group_churn_rate", "spreading_activation_energy",
    "share_to_departed_longer", "share_to_departed_before_onset",
]


@dataclass
class FeatureSet:
    """Everything computed at one cut-off.

    ``table`` holds one row per customer active at the cut-off (index ``customer_id``), with
    feature columns only. ``vertex_features`` holds the activity, structure and exposure
    features of every vertex of the graph (off-net numbers and leavers included), in vertex
    order: the node features of the GNN. The other fields keep the graph-side results aligned
    with ``graph.graph``'s vertex order, for groups, influencers and what-if analyses.
    :meth:`release_graph` drops them (None) where only the table is needed afterwards.
    """

    cutoff: pd.Timestamp
    table: pd.DataFrame
    graph: CustomerGraph
    membership: np.ndarray
    influence: pd.DataFrame
    roles: pd.DataFrame
    departed_recent: np.ndarray
    departures: pd.Series
    vertex_features: pd.DataFrame
    attribute_columns: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per inner step
    #: Where the feature window starts (the log's first day when the log is shorter than
    #: ``window_days``) and the share of the nominal window it covers (1.0 = full): a window
    #: shorter than its nominal length is flagged here, and its totals were scaled up by it.
    window_start: pd.Timestamp | None = None
    covered_share: float = 1.0
    #: Each vertex's number in the graph renumbered by content (``in_canonical_order``), on
    #: which the random and tie-breaking steps run.
    canonical_position: np.ndarray | None = None
    #: The :data:`INFLUENCE_DRAW_COLUMNS` of ``table``'s rows under the other draws of the RR
    #: sets (one DataFrame per draw, index ``table.index``; empty with one draw). Kept by
    #: :meth:`release_graph`: each draw's model is fitted on them (training cut-offs) and
    #: the backtest's test cut-off is scored with them.
    influence_draws: list = field(default_factory=list)

    @property
    def short_window(self) -> bool:
        """Whether the feature window covers less than its nominal length."""
        return self.covered_share < 1.0

    @property
    def feature_columns(self) -> list[str]:
        return list(self.table.columns)

    @property
    def has_graph(self) -> bool:
        """Whether the graph-side fields are still held (see :meth:`release_graph`)."""
        return self.graph is not None

    def release_graph(self) -> None:
        """Drop the graph and the per-vertex results (set to None), keeping the cut-off, the
        feature table, the attribute columns, timings and window coverage.

        A training cut-off needs only its table once its features are built; its graph and
        vertex tables are most of its memory (a tie graph of millions of edges).
        """
        self.graph = None
        self.membership = self.influence = self.roles = None
        self.departed_recent = self.departures = self.vertex_features = None
        self.canonical_position = None

    def set_communities(self, part: CommunityPart) -> None:
        """Take the communities, leaders and :data:`COMMUNITY_FEATURES` of
        :func:`community_part` (computed on this cut-off, possibly in another process)."""
        self.membership, self.roles = part.membership, part.roles
        self.timings.update(part.timings)
        columns = pd.DataFrame(part.columns, index=self.vertex_features.index)
        self.vertex_features = _in_column_order(self.vertex_features.join(columns))
        # Customers without traffic in the window are in no group: 0, as the other counts.
        rows = columns.reindex(self.table.index).fillna(0)
        self.table = _in_column_order(self.table.join(rows), self.attribute_columns)


def build_features(
    interactions: pd.DataFrame,
    customers: pd.DataFrame | None,
    cutoff: pd.Timestamp,
    *,
    definition: str,
    horizon_days: int = 30,
    active_window_days: int | None = None,
    window_days: int = 90,
    tie_window_days: int = 180,
    recent_departure_days: int = 30,
    community_method: str = "leiden",
    resolution: float = 1.0,
    max_degree: int | None = None,
    influencer_quantile: float = 0.95,
    seed: int = 0,
    communities: bool = True,
    influence_draws: int = 1,
) -> FeatureSet:
    """Build the feature table of every customer active at ``cutoff``.

    Parameters
    ----------
    interactions, customers : DataFrame
        Validated inputs (see docs/INTERNALS.md); ``customers`` may be None.
    cutoff : Timestamp
        Only rows with ``timestamp < cutoff`` and departures known at ``cutoff`` are read.
    definition : {"contract", "inactivity"}
        The churn definition; decides who is active and which departures are known.
    horizon_days : int
        Churn horizon; under inactivity a departure is known once it lasted this long.
    active_window_days : int, optional
        Inactivity definition: activity window before the cut-off (default: horizon).
    window_days : int
        Length of the interaction window the graph and activity are built from. When the log
        starts less than ``window_days`` before the cut-off, the window starts at the log's
        first day and the totals in :data:`WINDOW_TOTALS` are scaled up to a full window.
    tie_window_days : int
        The exposure features weigh each tie by its traffic over this many days before the
        cut-off (never fewer than ``window_days``): a tie measured on more days is measured
        with less noise, and a contact who left during the window is weighed by its traffic
        while it was there, not diluted by the days since.
    recent_departure_days : int
        A departure counts as "recent" for exposure features this many days back;
        ``share_to_departed_longer`` looks twice as far back.
    community_method, resolution : str, float
        Passed to :func:`graphchurn.community.detect_communities`.
    max_degree : int, optional
        Drop hub numbers (call centres) with more contacts than this from the graph.
    influencer_quantile : float
        Customers above this quantile of the influencer score count as influencers for the
        "a departed influencer nearby" feature.
    seed : int
        Seed of every random step (communities, influence sampling).
    communities : bool, default True
        Whether to detect communities; without them the :data:`COMMUNITY_FEATURES` columns
        are left out, ``membership`` and ``roles`` are None and every other column is the
        same.
    influence_draws : int, default 1
        Draws of the RR sets the influence columns are computed under (see
        :data:`STABLE_INFLUENCE_DRAWS` and :func:`features_on_graph`).

    Returns
    -------
    FeatureSet

    Example
    -------
    >>> fs = build_features(log, customers, pd.Timestamp("2025-03-01"),
    ...                     definition="contract")  # doctest: +SKIP
    >>> fs.table.loc[some_id, "share_to_departed"]  # doctest: +SKIP
    """
    cutoff = pd.Timestamp(cutoff)
    if active_window_days is None:
        active_window_days = horizon_days
    step = _Steps(cutoff)
    past = before(interactions, cutoff)
    known = known_customers(customers, cutoff)
    with step("departures and active customers"):
        departures = known_departures(past, known, cutoff, definition, horizon_days)
        active = active_at(past, known, cutoff, definition, active_window_days)

    # The window starts where the log does when the log covers less than window_days (an
    # early training cut-off): rates and the fade-out evidence's baseline then describe the days
    # the log covers instead of being diluted by days before its first row.
    start = cutoff - pd.Timedelta(days=window_days)
    if len(past) and past["timestamp"].min().normalize() > start:
        start = past["timestamp"].min().normalize()
    covered_share = (cutoff - start) / pd.Timedelta(days=window_days)
    with step("graph and activity"):
        cg = CustomerGraph.from_interactions(
            past,
            customers=customers,
            start=start,
            end=cutoff,
            max_degree=max_degree,
            extra_vertices=active,
            departed=departures.index,
        )
    with step("tie strengths"):
        tie_strength = cg.edge_weights_since(
            past, cutoff - pd.Timedelta(days=max(tie_window_days, window_days)))
    fs = features_on_graph(
        cg, customers, cutoff, departures=departures, active=active,
        tie_strength=tie_strength, covered_share=covered_share,
        recent_departure_days=recent_departure_days, community_method=community_method,
        resolution=resolution, influencer_quantile=influencer_quantile, seed=seed, step=step,
        communities=communities, influence_draws=influence_draws)
    fs.window_start = start
    return fs


def features_on_graph(
    cg: CustomerGraph,
    customers: pd.DataFrame | None,
    cutoff: pd.Timestamp,
    *,
    departures: pd.Series,
    active: pd.Index,
    tie_strength: np.ndarray,
    covered_share: float = 1.0,
    recent_departure_days: int = 30,
    community_method: str = "leiden",
    resolution: float = 1.0,
    influencer_quantile: float = 0.95,
    seed: int = 0,
    step=None,
    communities: bool = True,
    influence_method: str = "rr",
    influence_hops: int = 2,
    influence_draws: int = 1,
) -> FeatureSet:
    """The part of :func:`build_features` after the log is read: communities, roles, exposure,
    attributes and the feature table, from the cut-off's graph and what the log said about it.

    An engine that aggregates the log elsewhere (:mod:`graphchurn.engines.spark`) builds ``cg``
    from its tie and activity tables and calls this, so both engines share every algorithm.

    Parameters
    ----------
    cg : CustomerGraph
        The graph and activity of the window before ``cutoff``.
    customers : DataFrame or None
        The customer table (attributes; future churn dates are not read).
    cutoff : Timestamp
    departures : Series
        :func:`graphchurn.windows.known_departures` at ``cutoff``.
    active : Index
        :func:`graphchurn.windows.active_at` at ``cutoff`` (the rows of the table).
    tie_strength : ndarray
        Each edge's weight over the longer tie window (:meth:`CustomerGraph.edge_weights_since`).
    covered_share : float
        Share of a full window the log covers (totals are scaled up by its inverse when < 1).
    recent_departure_days, community_method, resolution, influencer_quantile, seed
        As in :func:`build_features`.
    step : callable, optional
        Step timer (internal); None times the steps afresh.
    communities : bool, default True
        As in :func:`build_features`.
    influence_method, influence_hops
        The influence spread in ``influencer_score`` (:func:`graphchurn.social.roles.
        influencer_scores`): RR sets by default; ``"khop"`` within ``influence_hops`` hops for
        an engine whose other cut-offs are computed so (the Spark engine's executor features).
    influence_draws : int, default 1
        Draws of the RR sets (:data:`STABLE_INFLUENCE_DRAWS`): the table holds the first, and
        ``FeatureSet.influence_draws`` the influence columns under the others.

    Returns
    -------
    FeatureSet
    """
    cutoff = pd.Timestamp(cutoff)
    if step is None:
        step = _Steps(cutoff)
    g = cg.graph
    names = cg.names

    # The random and tie-breaking steps run on the graph renumbered by its content, so that
    # their draws do not depend on how the ids are spelled; results come back by position.
    with step("canonical order"):
        position, ordered = in_canonical_order(g)
    with step("influencers"):
        # Eigenvector and betweenness centrality are not features and not part of the
        # influencer score; skipping them saves most of this step (docs/results.md).
        estimator = ({"influence_method": "khop", "influence_hops": influence_hops}
                     if influence_method == "khop" else {})
        ordered_influence = influencer_scores(ordered, seed=seed, descriptive=False,
                                              ris_samples=FEATURE_RIS_SAMPLES, **estimator)
        influence = ordered_influence.iloc[position]

    departure_time = departures.reindex(names)
    recent_start = cutoff - pd.Timedelta(days=recent_departure_days)
    departed_recent = (departure_time.notna() & (departure_time >= recent_start)).to_numpy()

    score = influence["influencer_score"].to_numpy()
    influencer_mask = score >= np.quantile(score, influencer_quantile) if len(score) else None
    with step("exposure"):
        exposed = exposure(g, departed_recent, weights=tie_strength,
                           influencer_mask=influencer_mask)
        # Decisions already under way (traffic tapering off before the departure) were taken up
        # to a fade's length ago, under the departures of the window before that: exposure over
        # twice the recent window reads what drove them.
        earlier_start = cutoff - pd.Timedelta(days=LONGER_EXPOSURE_WINDOWS
                                              * recent_departure_days)
        departed_earlier = (departure_time.notna()
                            & (departure_time >= earlier_start)).to_numpy()
        exposed_earlier = exposure(g, departed_earlier, weights=tie_strength)
        # The same share as it stood on the day a fade now under way began, averaged over the
        # onsets the fade-out evidence considers (a departure of yesterday cannot explain it).
        exposed_before_onset = exposure_before_onset(g, departure_ages(g, departures, cutoff),
                                                     recent_days=recent_departure_days,
                                                     onset_days=FADE_DAYS[1],
                                                     weights=tie_strength)
        energy = spreading_activation(g, departed_recent.astype(float))
    draw_columns = []
    if influence_draws > 1:
        with step("influence draws"):
            draw_columns = _influence_draws(g, names, ordered, ordered_influence, position,
                                            departed_recent, tie_strength, seed,
                                            influencer_quantile, influence_draws)
    with step("clustering"):
        clustering = np.nan_to_num(np.asarray(g.transitivity_local_undirected(mode="zero")))
    vertex_features = pd.DataFrame(
        {
            **{col: cg.activity[col].to_numpy() for col in ACTIVITY_FEATURES + ["distinct_contacts"]},
            "strength": influence["strength"].to_numpy(),
            "pagerank": influence["pagerank"].to_numpy(),
            "coreness": influence["coreness"].to_numpy(),
            "clustering": clustering,
            "influencer_score": influence["influencer_score"].to_numpy(),
            "share_to_departed": exposed["share_to_departed"].to_numpy(),
            "n_departed_contacts": exposed["n_departed_contacts"].to_numpy(),
            "departed_influencer_contact": exposed["departed_influencer_contact"].to_numpy().astype(np.int8),
            "max_tie_share_departed": exposed["max_tie_share_departed"].to_numpy(),
            "spreading_activation_energy": energy,
            "share_to_departed_longer": exposed_earlier["share_to_departed"].to_numpy(),
            "share_to_departed_before_onset": exposed_before_onset,
        },
        index=pd.Index(names, name="customer_id"),
    )

    if covered_share < 1.0:
        # Totals over the window are extrapolated to a full window, so that a customer's totals
        # at a cut-off with a short log behind it are on the same scale as at later cut-offs
        # (training stacks cut-offs of both kinds).
        vertex_features[WINDOW_TOTALS] = vertex_features[WINDOW_TOTALS] / covered_share
    table = vertex_features.reindex(pd.Index(active, name="customer_id"))
    attribute_columns: list[str] = []
    if customers is not None:
        attributes = attributes_at(customers, cutoff)
        attribute_columns = list(attributes.columns)
        table = table.join(attributes, how="left")
    # Customers with no interaction in the window: no activity, no ties.
    count_like = [c for c in ACTIVITY_FEATURES + STRUCTURE_FEATURES + EXPOSURE_FEATURES
                  if c in vertex_features.columns and c not in _MAY_BE_MISSING]
    table[count_like] = table[count_like].fillna(0)
    fs = FeatureSet(
        cutoff=cutoff,
        table=table,
        graph=cg,
        membership=None,
        influence=influence,
        roles=None,
        departed_recent=departed_recent,
        departures=departures,
        vertex_features=vertex_features,
        attribute_columns=attribute_columns,
        timings=step.timings,
        covered_share=float(min(1.0, covered_share)),
        canonical_position=position,
        influence_draws=[frame.reindex(table.index).fillna(0).astype(table[list(frame.columns)].dtypes)
                         for frame in draw_columns],
    )
    if communities:
        fs.set_communities(community_part(fs, community_method=community_method,
                                          resolution=resolution, seed=seed, step=step,
                                          ordered=ordered))
    return fs


def _influence_draws(g, names, ordered, ordered_influence, position, departed_recent, tie_strength,
                     seed, influencer_quantile, n_draws) -> list[pd.DataFrame]:
    """:data:`INFLUENCE_DRAW_COLUMNS` of every vertex (index: names, as ``vertex_features``)
    under the RR draws after the first of ``n_draws``; each draw has its
    own influencer cut, so its own ``departed_influencer_contact``."""
    seeds = influence_draw_seeds(seed, n_draws)[1:]
    if g.vcount() == 0:
        return []
    # On the canonical graph, as the table's own draw, and back by position.
    scores = influencer_score_draws(ordered, ordered_influence, seeds,
                                    ris_samples=FEATURE_RIS_SAMPLES)[position]
    names = pd.Index(names, name="customer_id")
    frames = []
    for k in range(len(seeds)):
        score = scores[:, k]
        mask = score >= np.quantile(score, influencer_quantile)
        contact = exposure(g, departed_recent, weights=tie_strength, influencer_mask=mask)
        frames.append(pd.DataFrame(
            {"influencer_score": score,
             "departed_influencer_contact": contact["departed_influencer_contact"].to_numpy()
             .astype(np.int8)}, index=names))
    return frames


# Features that stay missing for a customer without traffic in the window (the rest are 0).
_MAY_BE_MISSING = ("days_since_last_out", "days_since_last_any", "out_share", "out_week_ratio",
                   "in_week_ratio")


@dataclass
class CommunityPart:
    """What :func:`community_part` computes at a cut-off (small enough to pickle: a few
    numbers per vertex, no graph)."""

    membership: np.ndarray
    roles: pd.DataFrame
    columns: dict[str, np.ndarray]
    timings: dict[str, float]


def community_part(fs: FeatureSet, *, community_method: str = "leiden", resolution: float = 1.0,
                   seed: int = 0, step=None, ordered=None) -> CommunityPart:
    """Communities, leaders and the :data:`COMMUNITY_FEATURES` of a cut-off built without them.

    Parameters
    ----------
    fs : FeatureSet
        Built with ``communities=False`` (its graph held).
    community_method, resolution, seed
        As in :func:`build_features`.
    step : callable, optional
        Step timer (internal).
    ordered : igraph.Graph, optional
        The graph already renumbered by ``fs.canonical_position`` (internal).

    Returns
    -------
    CommunityPart
        Apply it with :meth:`FeatureSet.set_communities`; :func:`add_communities` does both.
        Building with ``communities=True`` gives the same FeatureSet.

    See Also
    --------
    add_communities
    """
    if not fs.has_graph:
        raise ValueError("this FeatureSet released its graph: communities need it")
    if step is None:
        step = _Steps(fs.cutoff)
    # On the graph in canonical order, as every random or tie-breaking step (see
    # features_on_graph); the influencer scores go back to that order with it.
    if ordered is None:
        ordered = renumbered(fs.graph.graph, fs.canonical_position)
    ordered_influence = fs.influence.iloc[np.argsort(fs.canonical_position)]
    with step("communities"):
        ordered_membership = detect_communities(ordered, method=community_method,
                                                resolution=resolution, seed=seed)
        membership = ordered_membership[fs.canonical_position]
    with step("leaders"):
        roles = leaders_and_followers(ordered, ordered_membership,
                                      ordered_influence).iloc[fs.canonical_position]
        columns = _community_columns(fs.graph, membership, roles, fs.departed_recent)
    return CommunityPart(membership, roles, columns, dict(step.timings))


def add_communities(fs: FeatureSet, **kwargs) -> FeatureSet:
    """:func:`community_part` applied to ``fs`` (in place); returns ``fs``.

    Examples
    --------
    >>> from graphchurn.synth import generate_world
    >>> world = generate_world(n_customers=100, days=60, seed=0)
    >>> cutoff = world.interactions["timestamp"].min().normalize() + pd.Timedelta(days=45)
    >>> fs = build_features(world.interactions, world.customers, cutoff,
    ...                     definition="contract", communities=False)
    >>> fs.membership is None, "community_size" in fs.table.columns
    (True, False)
    >>> add_communities(fs).membership is not None, "community_size" in fs.table.columns
    (True, True)
    """
    fs.set_communities(community_part(fs, **kwargs))
    return fs


def _in_column_order(frame: pd.DataFrame, last=()) -> pd.DataFrame:
    """``frame``'s columns in :data:`VERTEX_COLUMNS` order, then ``last`` (attributes)."""
    present = set(frame.columns)
    return frame[[c for c in VERTEX_COLUMNS if c in present] + list(last)]


def _community_columns(cg: CustomerGraph, membership: np.ndarray, roles: pd.DataFrame,
                       departed_recent: np.ndarray) -> dict[str, np.ndarray]:
    """The :data:`COMMUNITY_FEATURES` of every vertex, from its community and the leaders."""
    susc = susceptibility(cg.graph, membership, roles, departed=departed_recent)
    # Share of each group (on-net members seen in the window) that left recently.
    on_net = cg.on_net
    group_departed = np.bincount(membership, weights=(departed_recent & on_net).astype(float))
    group_on_net = np.bincount(membership, weights=on_net.astype(float))
    # (float out: bincount of an empty graph's membership is an int array)
    group_churn_rate = np.divide(group_departed, group_on_net,
                                 out=np.zeros(len(group_departed), dtype=np.float64),
                                 where=group_on_net > 0)[membership]
    return {
        "community_size": np.bincount(membership)[membership],
        "is_leader": (roles["role"].to_numpy() == "leader").astype(np.int8),
        "share_to_leaders": susc["share_to_leaders"].to_numpy(),
        "embeddedness": susc["embeddedness"].to_numpy(),
        "susceptibility": susc["susceptibility"].to_numpy(),
        "group_churn_rate": group_churn_rate,
    }


def attributes_at(customers: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The customer attributes as features at ``cutoff``, indexed by ``customer_id``.

    Every column but ``customer_id`` and ``churn_date`` is an attribute (one named like a
    computed feature is renamed ``attr_<name>``). A date attribute
    (datetime64, e.g. a contract ``start_date``) becomes ``days_since_<name>``: its age in
    days at the cut-off, so that it means the same at every stacked cut-off (a tenure grows
    with the cut-off; the date does not). A date at or after the cut-off is not known yet by
    the time contract and is missing.

    Parameters
    ----------
    customers : DataFrame
        A validated customer table (:func:`graphchurn.io.load_customers`).
    cutoff : Timestamp

    Returns
    -------
    DataFrame
        One row per customer, attribute columns as given except date ones.

    Example
    -------
    >>> customers = pd.DataFrame({"customer_id": ["a"], "plan": ["prepaid"],
    ...                           "start_date": pd.to_datetime(["2025-01-01"])})
    >>> attributes_at(customers, pd.Timestamp("2025-03-02")).loc["a"].to_dict()
    {'plan': 'prepaid', 'days_since_start_date': 60.0}
    """
    attributes = customers.set_index("customer_id").drop(
        columns=[c for c in NON_FEATURE_COLUMNS if c in customers.columns and c != "customer_id"])
    renamed = {}
    for name in attributes.columns:
        if pd.api.types.is_datetime64_any_dtype(attributes[name]):
            date = attributes[name]
            age = (pd.Timestamp(cutoff) - date) / pd.Timedelta(days=1)
            attributes[name] = age.where(date < cutoff).astype(np.float64)
            renamed[name] = f"days_since_{name}"
    # An attribute named like a computed feature (a customer table with its own "strength"
    # or "days_since_last_out") keeps its values under attr_<name>.
    reserved = set(ACTIVITY_FEATURES + STRUCTURE_FEATURES + EXPOSURE_FEATURES)
    for name in attributes.columns:
        new = renamed.get(name, name)
        if new in reserved or new.startswith("embedding_"):
            renamed[name] = f"attr_{new}"
    return attributes.rename(columns=renamed)


def known_customers(customers: pd.DataFrame | None, cutoff: pd.Timestamp) -> pd.DataFrame | None:
    """The customer table as it was knowable at ``cutoff``: churn dates after it are blanked."""
    if customers is None or "churn_date" not in customers.columns:
        return customers
    known = customers.copy()
    known.loc[known["churn_date"] > cutoff, "churn_date"] = pd.NaT
    return known


