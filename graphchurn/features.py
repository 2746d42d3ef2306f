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

References
----------
Dasgupta, K., Singh, R., Viswanathan, B., Chakraborty, D., Mukherjea, S., Nanavati, A. A.,
Joshi, A. (2008). Social ties and their relevance to churn in mobile telecom networks. EDBT.
Verbeke, W., Martens, D., Baesens, B. (2014). Social network analysis for customer churn
prediction. Applied Soft Computing 14, 431-446.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .community import detect_communities
from .contagion import exposure, spreading_activation
from .graph import CustomerGraph
from .roles import influencer_scores, leaders_and_followers, susceptibility
from .windows import active_at, before, known_departures

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
EXPOSURE_FEATURES = [
    "share_to_departed", "n_departed_contacts", "departed_influencer_contact",
    "max_tie_share_departed", "group_churn_rate", "spreading_activation_energy",
]


@dataclass
class FeatureSet:
    """Everything computed at one cut-off.

    ``table`` holds one row per customer active at the cut-off (index ``customer_id``), with
    feature columns only. ``vertex_features`` holds the activity, structure and exposure
    features of every vertex of the graph (off-net numbers and leavers included), in vertex
    order: the node features of the GNN. The other fields keep the graph-side results aligned
    with ``graph.graph``'s vertex order, for groups, influencers and what-if analyses.
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

    @property
    def feature_columns(self) -> list[str]:
        return list(self.table.columns)


def build_features(
    interactions: pd.DataFrame,
    customers: pd.DataFrame | None,
    cutoff: pd.Timestamp,
    *,
    definition: str,
    horizon_days: int = 30,
    active_window_days: int | None = None,
    window_days: int = 90,
    recent_departure_days: int = 30,
    community_method: str = "leiden",
    resolution: float = 1.0,
    max_degree: int | None = None,
    influencer_quantile: float = 0.95,
    seed: int = 0,
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
    recent_departure_days : int
        A departure counts as "recent" for exposure features this many days back.
    community_method, resolution : str, float
        Passed to :func:`graphchurn.community.detect_communities`.
    max_degree : int, optional
        Drop hub numbers (call centres) with more contacts than this from the graph.
    influencer_quantile : float
        Customers above this quantile of the influencer score count as influencers for the
        "a departed influencer nearby" feature.
    seed : int
        Seed of every random step (communities, influence sampling).

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
    past = before(interactions, cutoff)
    known = known_customers(customers, cutoff)
    departures = known_departures(past, known, cutoff, definition, horizon_days)
    active = active_at(past, known, cutoff, definition, active_window_days)

    # The window starts where the log does when the log covers less than window_days (an
    # early training cut-off): rates and the fade-out evidence's baseline then describe the days
    # the log covers instead of being diluted by days before its first row.
    start = cutoff - pd.Timedelta(days=window_days)
    if len(past) and past["timestamp"].min().normalize() > start:
        start = past["timestamp"].min().normalize()
    covered_share = (cutoff - start) / pd.Timedelta(days=window_days)
    cg = CustomerGraph.from_interactions(
        past,
        customers=customers,
        start=start,
        end=cutoff,
        max_degree=max_degree,
        extra_vertices=active,
        departed=departures.index,
    )
    g = cg.graph
    names = cg.names

    membership = detect_communities(g, method=community_method, resolution=resolution, seed=seed)
    influence = influencer_scores(g, seed=seed)
    roles = leaders_and_followers(g, membership, influence)

    departure_time = departures.reindex(names)
    recent_start = cutoff - pd.Timedelta(days=recent_departure_days)
    departed_recent = (departure_time.notna() & (departure_time >= recent_start)).to_numpy()

    score = influence["influencer_score"].to_numpy()
    influencer_mask = score >= np.quantile(score, influencer_quantile) if len(score) else None
    exposed = exposure(g, departed_recent, influencer_mask=influencer_mask)
    susc = susceptibility(g, membership, roles, departed=departed_recent)
    energy = spreading_activation(g, departed_recent.astype(float))

    community_size = np.bincount(membership)[membership]
    # Share of each group (on-net members seen in the window) that left recently.
    on_net = cg.on_net
    group_departed = np.bincount(membership, weights=(departed_recent & on_net).astype(float))
    group_on_net = np.bincount(membership, weights=on_net.astype(float))
    group_churn_rate = np.divide(group_departed, group_on_net, out=np.zeros_like(group_departed),
                                 where=group_on_net > 0)[membership]

    vertex_features = pd.DataFrame(
        {
            **{col: cg.activity[col].to_numpy() for col in ACTIVITY_FEATURES + ["distinct_contacts"]},
            "strength": influence["strength"].to_numpy(),
            "pagerank": influence["pagerank"].to_numpy(),
            "coreness": influence["coreness"].to_numpy(),
            "clustering": np.nan_to_num(np.asarray(g.transitivity_local_undirected(mode="zero"))),
            "community_size": community_size,
            "influencer_score": influence["influencer_score"].to_numpy(),
            "is_leader": (roles["role"].to_numpy() == "leader").astype(np.int8),
            "share_to_leaders": susc["share_to_leaders"].to_numpy(),
            "embeddedness": susc["embeddedness"].to_numpy(),
            "susceptibility": susc["susceptibility"].to_numpy(),
            "share_to_departed": exposed["share_to_departed"].to_numpy(),
            "n_departed_contacts": exposed["n_departed_contacts"].to_numpy(),
            "departed_influencer_contact": exposed["departed_influencer_contact"].to_numpy().astype(np.int8),
            "max_tie_share_departed": exposed["max_tie_share_departed"].to_numpy(),
            "group_churn_rate": group_churn_rate,
            "spreading_activation_energy": energy,
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
                  if c not in ("days_since_last_out", "days_since_last_any", "out_share",
                               "out_week_ratio", "in_week_ratio")]
    table[count_like] = table[count_like].fillna(0)
    return FeatureSet(
        cutoff=cutoff,
        table=table,
        graph=cg,
        membership=membership,
        influence=influence,
        roles=roles,
        departed_recent=departed_recent,
        departures=departures,
        vertex_features=vertex_features,
        attribute_columns=attribute_columns,
    )


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


# --------------------------------------------------------------------------- reasons
def _count_words(n: pd.Series, word: str) -> pd.Series:
    n = n.fillna(0).round().astype(np.int64)
    return n.astype(str) + " " + word + np.where(n == 1, "", "s")


def reason_texts(feature: str, rows: pd.DataFrame, recent_departure_days: int = 30) -> pd.Series:
    """Plain-language sentences saying why ``feature`` raises the risk of each row.

    Vectorised over customers (one call per feature, not per customer).

    Parameters
    ----------
    feature : str
        A feature column of :func:`build_features` (or an attribute / embedding column).
    rows : DataFrame
        Raw feature rows of the customers concerned.
    recent_departure_days : int
        The "recent" window used by the exposure features, for the wording.

    Returns
    -------
    Series of str aligned with ``rows``, e.g. "3 of 5 contacts left in the last 30 days
    (40% of their calling)".
    """
    col = lambda name: rows[name] if name in rows else pd.Series(0.0, index=rows.index)  # noqa: E731
    const = lambda text: pd.Series(text, index=rows.index, dtype=object)  # noqa: E731
    if feature in ("n_departed_contacts", "share_to_departed", "max_tie_share_departed"):
        share = (100 * col("share_to_departed").fillna(0)).round().astype(np.int64).astype(str)
        return (col("n_departed_contacts").fillna(0).astype(np.int64).astype(str) + " of "
                + col("distinct_contacts").fillna(0).astype(np.int64).astype(str)
                + f" contacts left in the last {recent_departure_days} days ("
                + share + "% of their calling)")
    if feature == "departed_influencer_contact":
        return const(f"an influential contact left in the last {recent_departure_days} days")
    if feature == "spreading_activation_energy":
        return const("close to a cluster of recent leavers")
    if feature == "group_churn_rate":
        return (100 * col(feature)).round().astype(np.int64).astype(str) + "% of their social group left recently"
    if feature in ("out_week_ratio", "in_week_ratio", "out_last_week"):
        ratio = col("out_week_ratio") if feature != "in_week_ratio" else col("in_week_ratio")
        drop = (100 * (1 - ratio)).round()
        who = "outgoing" if feature != "in_week_ratio" else "incoming"
        text = f"{who} activity last week " + drop.fillna(0).astype(np.int64).astype(str) + "% below their usual"
        return text.where(drop > 0, f"{who} activity last week below their usual")
    if feature in ("activity_trend", "out_recent", "out_previous"):
        recent, previous = col("out_recent").astype(float), col("out_previous").astype(float)
        drop = (100 * (1 - recent / previous.where(previous > 0))).round()
        text = "outgoing activity down " + drop.fillna(0).astype(np.int64).astype(str) + "% in the last 2 weeks"
        return text.where(drop > 0, "outgoing activity falling")
    if feature == "fade_out_evidence":
        return const("calls and messages tapering off in recent weeks, more than chance explains")
    if feature == "days_since_last_out":
        text = "no outgoing calls or messages for " + _count_words(col(feature), "day")
        return text.where(col(feature).notna(), "no outgoing calls or messages in the window")
    if feature == "days_since_last_any":
        # Incoming traffic counts here too, so the wording must not say "outgoing": next to
        # days_since_last_out it would read as the same fact with a different number.
        text = "no calls or messages either way for " + _count_words(col(feature), "day")
        return text.where(col(feature).notna(), "no calls or messages either way in the window")
    if feature in ("n_out", "active_days_out", "duration_out", "n_in", "duration_in"):
        return "low usage (" + _count_words(col("active_days_out"), "active day") + " in the window)"
    if feature in ("distinct_contacts", "strength", "pagerank", "coreness", "clustering",
                   "community_size", "embeddedness"):
        return "few social ties (" + _count_words(col("distinct_contacts"), "contact") + ")"
    if feature in ("share_to_leaders", "susceptibility", "is_leader", "influencer_score"):
        return const("strongly tied to their group's leaders")
    if feature.startswith("embedding_"):
        return const("network position resembles past leavers")
    if feature.startswith("days_since_"):  # a date attribute (see attributes_at)
        what = feature[len("days_since_"):].replace("_", " ")
        text = what + " " + _count_words(col(feature), "day") + " ago"
        return text.where(col(feature).notna(), what + " not known")
    label = feature.replace("_", " ")
    values = col(feature)
    if pd.api.types.is_numeric_dtype(values):
        return label + " = " + values.map(lambda v: f"{v:.3g}")
    return label + " = " + values.astype(str)


def describe_reasons(table: pd.DataFrame, top_features: list[list[tuple[str, float]]],
                     recent_departure_days: int = 30) -> list[str]:
    """Join each customer's top features into a "; "-separated plain-language string.

    Features that say the same thing (e.g. share and number of departed contacts) produce the
    same sentence, which is given once.

    Parameters
    ----------
    table : DataFrame
        Raw feature rows, one per customer.
    top_features : list of list of (feature, contribution)
        Per customer, the features that raise its risk most (from
        :func:`graphchurn.model.top_reasons`), in order.
    """
    n = len(table)
    depth = max((len(f) for f in top_features), default=0)
    sentences = np.full((n, depth), "", dtype=object)
    for rank in range(depth):
        feature_at_rank = pd.Series([f[rank][0] if len(f) > rank else None for f in top_features])
        for feature, positions in feature_at_rank.groupby(feature_at_rank).groups.items():
            idx = np.asarray(positions)
            sentences[idx, rank] = reason_texts(feature, table.iloc[idx], recent_departure_days).to_numpy()
    out = []
    for row in sentences:
        unique = list(dict.fromkeys(s for s in row if s))
        out.append("; ".join(unique))
    return out
