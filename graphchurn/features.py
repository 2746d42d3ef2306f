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
from .contagion import (departure_ages, exposure, exposure_before_onset,
                        spreading_activation)
from .graph import FADE_DAYS, CustomerGraph
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
    "share_to_departed_longer", "share_to_departed_before_onset",
]
#: ``share_to_departed_longer`` counts the departures of this many recent windows.
LONGER_EXPOSURE_WINDOWS = 2


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
    tie_window_days: int = 180,
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
    tie_strength = cg.edge_weights_since(
        past, cutoff - pd.Timedelta(days=max(tie_window_days, window_days)))
    exposed = exposure(g, departed_recent, weights=tie_strength, influencer_mask=influencer_mask)
    # Decisions already under way (traffic tapering off before the departure) were taken up to
    # a fade's length ago, under the departures of the window before that: exposure over twice
    # the recent window reads what drove them.
    earlier_start = cutoff - pd.Timedelta(days=LONGER_EXPOSURE_WINDOWS * recent_departure_days)
    departed_earlier = (departure_time.notna() & (departure_time >= earlier_start)).to_numpy()
    exposed_earlier = exposure(g, departed_earlier, weights=tie_strength)
    # The same share as it stood on the day a fade now under way began, averaged over the
    # onsets the fade-out evidence considers (a departure of yesterday cannot explain it).
    exposed_before_onset = exposure_before_onset(g, departure_ages(g, departures, cutoff),
                                                 recent_days=recent_departure_days,
                                                 onset_days=FADE_DAYS[1],
                                                 weights=tie_strength)
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
#: What :func:`describe_reasons` says for a customer none of whose features raises the risk by
#: a material amount (see the threshold of :func:`graphchurn.model.top_reasons`).
NO_REASON_TEXT = "no single factor stands out"


def plain_number(value) -> str:
    """A number as a reader wants to see it: no float noise, integers without decimals.

    Whole numbers and numbers of 100 or more are rounded to an integer (with thousands
    separators); smaller ones keep 3 significant digits.

    Parameters
    ----------
    value : float or None

    Returns
    -------
    str
        "" for a missing value.

    Example
    -------
    >>> [plain_number(v) for v in (14.0, 12.4, 0.1 + 0.2, 1234.56, 0.000123, None)]
    ['14', '12.4', '0.3', '1,235', '0.000123', '']
    """
    if value is None or pd.isna(value):
        return ""
    v = float(value)
    if abs(v) >= 100 or v == round(v):
        return f"{int(round(v)):,}"
    return np.format_float_positional(v, precision=3, unique=False, fractional=False, trim="-")


def typical_values(table: pd.DataFrame) -> dict:
    """The typical value of every numeric column of ``table``: its median (NaN skipped).

    :func:`describe_reasons` compares a customer's value with it to say "above the typical"
    or "below the typical"; over every scored customer this is close to the training median
    that :func:`graphchurn.model.reason_contributions` replaces each value by.

    Parameters
    ----------
    table : DataFrame
        Raw feature rows (booleans and categorical columns have no typical value).

    Returns
    -------
    dict
        Column name to median, for the numeric columns with at least one value.

    Example
    -------
    >>> typical_values(pd.DataFrame({"x": [1.0, 2.0, 9.0], "plan": ["a", "b", "b"]}))
    {'x': 2.0}
    """
    numeric = table.select_dtypes(include="number")
    return {str(k): float(v) for k, v in numeric.median().items() if pd.notna(v)}


def _count_words(n: pd.Series, word: str) -> pd.Series:
    n = n.fillna(0).round().astype(np.int64)
    return n.astype(str) + " " + word + np.where(n == 1, "", "s")


def _percent(share: pd.Series) -> pd.Series:
    """Shares in [0, 1] as whole percentages; "<1%" / ">99%" rather than a rounded 0% / 100%
    for a share that is not exactly 0 / 1."""
    share = pd.to_numeric(share, errors="coerce").astype(np.float64).fillna(0.0)
    pct = (100 * share).round()
    text = pct.astype(np.int64).astype(str).to_numpy(dtype=object) + "%"
    text = np.where((share > 0) & (pct < 1), "<1%", text)
    text = np.where((share < 1) & (pct > 99), ">99%", text)
    return pd.Series(text, index=share.index, dtype=object)


def _side(values: pd.Series, typical) -> np.ndarray:
    """"above" / "below" where a value is above / below ``typical``, "" where it equals it, is
    missing, or there is no typical value to compare with."""
    if typical is None or pd.isna(typical):
        return np.full(len(values), "", dtype=object)
    v = pd.to_numeric(values, errors="coerce").astype(np.float64).to_numpy()
    return np.select([v > typical, v < typical], ["above", "below"], "").astype(object)


def _pick(side: np.ndarray, above, below, neutral) -> np.ndarray:
    """Per row, the ``above``, ``below`` or ``neutral`` text (each a str or a Series)."""
    def arr(x):
        return np.asarray(x.to_numpy(dtype=object) if isinstance(x, pd.Series)
                          else np.full(len(side), x, dtype=object), dtype=object)
    return np.where(side == "above", arr(above),
                    np.where(side == "below", arr(below), arr(neutral)))


def reason_texts(feature: str, rows: pd.DataFrame, recent_departure_days: int = 30,
                 typical=None) -> pd.Series:
    """Plain-language sentences saying why ``feature`` raises the risk of each row.

    Vectorised over customers (one call per feature, not per customer). A sentence states the
    customer's value; a word of direction ("few", "small", "peripheral", "above the typical")
    is used only where ``typical`` says which side of the typical value the customer is on,
    never guessed: the model may find a high value or a low one risky.

    Parameters
    ----------
    feature : str
        A feature column of :func:`build_features` (or an attribute / embedding column).
    rows : DataFrame
        Raw feature rows of the customers concerned.
    recent_departure_days : int
        The "recent" window used by the exposure features, for the wording.
    typical : mapping of str to float, optional
        Typical value of the numeric columns (:func:`typical_values` of all scored
        customers). Without it the sentences give the values with no comparison.

    Returns
    -------
    Series of str aligned with ``rows``.

    Example
    -------
    >>> rows = pd.DataFrame({"n_departed_contacts": [3], "distinct_contacts": [5],
    ...                      "share_to_departed": [0.4], "community_size": [4]})
    >>> reason_texts("n_departed_contacts", rows).iloc[0]
    '3 of 5 contacts left in the last 30 days (40% of their calling)'
    >>> reason_texts("community_size", rows, typical={"community_size": 12}).iloc[0]
    'small social group (4 members)'
    """
    typical = {} if typical is None else typical
    col = lambda name: rows[name] if name in rows else pd.Series(0.0, index=rows.index)  # noqa: E731
    const = lambda text: pd.Series(text, index=rows.index, dtype=object)  # noqa: E731
    out = lambda values: pd.Series(values, index=rows.index, dtype=object)  # noqa: E731
    ref = lambda name: typical[name] if name in typical else None  # noqa: E731
    side = lambda name: _side(col(name), ref(name))  # noqa: E731
    number = lambda values: values.map(plain_number).astype(object)  # noqa: E731
    contacts = _count_words(col("distinct_contacts"), "contact")
    if feature in ("n_departed_contacts", "share_to_departed", "max_tie_share_departed"):
        left = col("n_departed_contacts").fillna(0).round().astype(np.int64)
        n = col("distinct_contacts").fillna(0).round().astype(np.int64)
        text = (left.astype(str) + " of " + contacts + f" left in the last {recent_departure_days} "
                "days (" + _percent(col("share_to_departed")) + " of their calling)")
        return out(np.where(left > 0, text, "none of their " + n.astype(str)
                            + f" contacts left in the last {recent_departure_days} days"))
    if feature == "share_to_departed_longer":
        share = col(feature).fillna(0)
        days = LONGER_EXPOSURE_WINDOWS * recent_departure_days
        return out(np.where(share > 0, _percent(share) + " of their calling was with contacts who "
                            f"left in the last {days} days",
                            f"none of their contacts left in the last {days} days"))
    if feature == "share_to_departed_before_onset":
        # A weighted share (see contagion.exposure_before_onset): departures 1 .. recent +
        # onset days ago count, fully those whose age lies between the two windows' ends.
        share = col(feature).fillna(0)
        last = recent_departure_days + FADE_DAYS[1]
        full = f"{FADE_DAYS[1]}-{recent_departure_days + 1}"
        return out(np.where(share > 0, "contacts who left 1-" + str(last) + " days ago held "
                            + _percent(share) + f" of their calling (weighted, most those of "
                            f"{full} days ago, when a slowdown now under way would have begun)",
                            f"none of their contacts left 1-{last} days ago"))
    if feature == "departed_influencer_contact":
        left = f"influential contact left in the last {recent_departure_days} days"
        return out(np.where(col(feature).fillna(0) > 0, "an " + left, "no " + left))
    if feature == "spreading_activation_energy":
        energy = col(feature).fillna(0)
        return out(np.where(energy <= 0, "no recent leavers nearby in the call network",
                            _pick(side(feature), "close to a cluster of recent leavers",
                                  "far from recent leavers in the call network",
                                  "close to a cluster of recent leavers")))
    if feature == "group_churn_rate":
        rate = col(feature).fillna(0)
        return out(np.where(rate > 0, _percent(rate) + " of their social group left recently",
                            "none of their social group left recently"))
    if feature in ("out_week_ratio", "in_week_ratio", "out_last_week"):
        who = "incoming" if feature == "in_week_ratio" else "outgoing"
        ratio = col("in_week_ratio" if who == "incoming" else "out_week_ratio").astype(float)
        change = (100 * (ratio - 1)).round()
        size = change.abs().fillna(0).astype(np.int64).astype(str) + "%"
        text = np.select(
            [ratio.isna(), ratio == 0, change < 0, change > 0],
            [f"no {who} activity in the window", f"no {who} activity last week",
             f"{who} activity last week " + size + " below their usual",
             f"{who} activity last week " + size + " above their usual"],
            f"{who} activity last week at their usual level")
        return out(text)
    if feature in ("activity_trend", "out_recent", "out_previous"):
        recent, previous = col("out_recent").astype(float), col("out_previous").astype(float)
        change = (100 * (recent / previous.where(previous > 0) - 1)).round()
        size = change.abs().fillna(0).astype(np.int64).astype(str) + "%"
        text = np.select(
            [(recent <= 0) & (previous <= 0), previous <= 0, recent <= 0, change < 0, change > 0],
            ["no outgoing activity in the last 4 weeks",
             "outgoing activity in the last 2 weeks after none in the 2 weeks before",
             "no outgoing activity in the last 2 weeks",
             "outgoing activity down " + size + " in the last 2 weeks",
             "outgoing activity up " + size + " in the last 2 weeks"],
            "outgoing activity steady over the last 4 weeks")
        return out(text)
    if feature == "fade_out_evidence":
        # A log Bayes factor: > 0 favours a fade-out over steady use. Between the typical
        # (negative) value and 0 the evidence leans to steady use, but less than usual.
        evidence = col(feature).fillna(0)
        fading = "calls and messages tapering off in recent weeks, more than chance explains"
        text = _pick(side(feature), "slight signs of calls and messages tapering off in recent "
                     "weeks (within what chance explains)",
                     "calls and messages steady in recent weeks",
                     "no clear sign of calls and messages tapering off in recent weeks")
        return out(np.where(evidence > 0, fading, text))
    if feature == "days_since_last_out":
        text = "no outgoing calls or messages for " + _count_words(col(feature), "day")
        return text.where(col(feature).notna(), "no outgoing calls or messages in the window")
    if feature == "days_since_last_any":
        # Incoming traffic counts here too, so the wording must not say "outgoing": next to
        # days_since_last_out it would read as the same fact with a different number.
        text = "no calls or messages either way for " + _count_words(col(feature), "day")
        return text.where(col(feature).notna(), "no calls or messages either way in the window")
    if feature == "out_share":
        # n_out / (n_out + n_in): the share of the customer's calls and messages (counts, either
        # direction) that the customer made rather than received.
        share = col(feature)
        made = _percent(share) + " of their calls and messages are ones they made"
        usual = "" if ref(feature) is None else _percent(pd.Series([ref(feature)])).iloc[0]
        text = _pick(side(feature), made + ", above the typical " + usual,
                     made + ", below the typical " + usual, made)
        return out(np.where(share.isna(), "no calls or messages in the window", text))
    if feature in ("n_out", "n_in"):
        what = ("outgoing" if feature == "n_out" else "incoming") + " calls and messages"
        amount = col(feature).fillna(0).round().astype(np.int64).astype(str)
        return out(_pick(side(feature), f"many {what} (" + amount + " in the window)",
                         f"few {what} (" + amount + " in the window)",
                         amount + f" {what} in the window"))
    if feature in ("duration_out", "duration_in"):
        what = ("outgoing" if feature == "duration_out" else "incoming") + " calls"
        minutes = _count_words(col(feature).fillna(0) / 60.0, "minute")  # durations in seconds
        minutes = minutes.where((col(feature).fillna(0) <= 0) | (col(feature) >= 60),
                                "under 1 minute")
        return out(_pick(side(feature), f"much time on {what} (" + minutes + " in the window)",
                         f"little time on {what} (" + minutes + " in the window)",
                         minutes + f" of {what} in the window"))
    if feature == "active_days_out":
        days = _count_words(col(feature), "active day")
        return out(_pick(side(feature), "active on many days (" + days + " in the window)",
                         "low usage (" + days + " in the window)", days + " in the window"))
    if feature == "distinct_contacts":
        return out(_pick(side(feature), "many social ties (" + contacts + ")",
                         "few social ties (" + contacts + ")", "social ties (" + contacts + ")"))
    if feature == "strength":
        # Tie strength counts calls and messages (longer calls weigh more): a customer with
        # many contacts can still have weak ties, and is then not "few social ties".
        weak = np.where(side("distinct_contacts") == "below", "few social ties (" + contacts + ")",
                        "little calling or messaging with their " + contacts)
        return out(_pick(side(feature), "much calling and messaging with their " + contacts,
                         weak, "social ties (" + contacts + ")"))
    if feature in ("pagerank", "coreness"):
        central = ("central in the call network" if feature == "pagerank"
                   else "in the densely connected core of the call network")
        return out(_pick(side(feature), central, "peripheral in the call network",
                         "their position in the call network"))
    if feature == "clustering":
        value = col(feature).fillna(0)
        pairs = " (" + _percent(value) + " of pairs)"
        text = _pick(side(feature), "many of their contacts are in touch with each other" + pairs,
                     "few of their contacts are in touch with each other" + pairs,
                     _percent(value) + " of pairs of their contacts are in touch with each other")
        return out(np.where(value <= 0, "none of their contacts are in touch with each other",
                            text))
    if feature == "community_size":
        members = "(" + _count_words(col(feature), "member") + ")"
        return out(_pick(side(feature), "large social group " + members,
                         "small social group " + members,
                         "social group of " + _count_words(col(feature), "member")))
    if feature == "embeddedness":
        within = "(" + _percent(col(feature)) + " of their calling within it)"
        return out(_pick(side(feature), "closely embedded in their social group " + within,
                         "weakly embedded in their social group " + within,
                         _percent(col(feature)) + " of their calling within their social group"))
    if feature == "share_to_leaders":
        share = "(" + _percent(col(feature)) + " of their calling)"
        return out(_pick(side(feature), "strongly tied to their group's leaders " + share,
                         "weakly tied to their group's leaders " + share,
                         _percent(col(feature)) + " of their calling with their group's leaders"))
    if feature == "susceptibility":
        # A noisy-OR of the shares of calling with the group's leaders, with recent leavers
        # and (damped) with the group (graphchurn.roles.susceptibility).
        whom = "of their calling is with their social group, its leaders or recent leavers"
        return out(_pick(side(feature), "much " + whom, "little " + whom,
                         "calling with their social group, its leaders and recent leavers"))
    if feature == "is_leader":
        return out(np.where(col(feature).fillna(0) > 0, "a leader of their social group",
                            "not a leader of their social group"))
    if feature == "influencer_score":
        return out(_pick(side(feature), "influential in the call network",
                         "little influence in the call network",
                         "their influence in the call network"))
    if feature.startswith("embedding_"):
        return const("network position resembles past leavers")
    # Customer attributes (attributes_at): an attribute named like a computed feature keeps
    # its values under attr_<name> and reads as <name>.
    name = feature[len("attr_"):] if feature.startswith("attr_") else feature
    values = col(feature)
    if name.startswith("days_since_"):  # a date attribute (see attributes_at)
        what = name[len("days_since_"):].replace("_", " ")
        text = what + " " + _count_words(values, "day") + " ago"
        return text.where(values.notna(), what + " not known")
    label = name.replace("_", " ")
    if pd.api.types.is_bool_dtype(values):
        return out(np.where(values.fillna(False).astype(bool), label + ": yes", label + ": no"))
    if pd.api.types.is_numeric_dtype(values):
        usual = plain_number(ref(feature))
        shown = number(values)
        text = _pick(side(feature), label + " " + shown + " (above the typical " + usual + ")",
                     label + " " + shown + " (below the typical " + usual + ")",
                     label + " of " + shown)
        return out(np.where(values.isna(), label + " not known", text))
    return out(np.where(values.isna(), label + " not known",
                        label + " is '" + values.astype(str) + "'"))


def describe_reasons(table: pd.DataFrame, top_features: list[list[tuple[str, float]]],
                     recent_departure_days: int = 30, *, typical=None,
                     fallback: str = NO_REASON_TEXT) -> list[str]:
    """Join each customer's top features into a "; "-separated plain-language string.

    Features that say the same thing (e.g. share and number of departed contacts) produce the
    same sentence, which is given once. A customer with no reason (no feature raises its risk
    by a material amount, see :func:`graphchurn.model.top_reasons`) gets ``fallback``.

    Parameters
    ----------
    table : DataFrame
        Raw feature rows, one per customer.
    top_features : list of list of (feature, contribution)
        Per customer, the features that raise its risk most (from
        :func:`graphchurn.model.top_reasons`), in order.
    recent_departure_days : int
        The "recent" window of the exposure features, for the wording.
    typical : mapping of str to float, optional
        Typical values the customers' values are compared with ("above the typical 1",
        "small social group"); by default :func:`typical_values` of ``table``, i.e. the
        medians over the customers described, which is meaningful when ``table`` holds every
        scored customer (for a single row nothing is above or below itself, and no direction
        is given).
    fallback : str
        The text for a customer with no reason.

    Returns
    -------
    list of str
        One string per row of ``table``.

    Example
    -------
    >>> table = pd.DataFrame({"support_contacts": [2, 0, 0], "plan": ["prepaid", "family", "x"]})
    >>> describe_reasons(table, [[("support_contacts", 0.04), ("plan", 0.01)], [], []])[:2]
    ["support contacts 2 (above the typical 0); plan is 'prepaid'", 'no single factor stands out']
    """
    n = len(table)
    if typical is None:
        typical = typical_values(table)
    depth = max((len(f) for f in top_features), default=0)
    sentences = np.full((n, depth), "", dtype=object)
    for rank in range(depth):
        feature_at_rank = pd.Series([f[rank][0] if len(f) > rank else None for f in top_features])
        for feature, positions in feature_at_rank.groupby(feature_at_rank).groups.items():
            idx = np.asarray(positions)
            sentences[idx, rank] = reason_texts(feature, table.iloc[idx], recent_departure_days,
                                                typical=typical).to_numpy()
    out = []
    for row in sentences:
        unique = list(dict.fromkeys(s for s in row if s))
        out.append("; ".join(unique) if unique else fallback)
    return out
