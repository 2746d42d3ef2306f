"""Reasons in words: why a customer's churn risk is high, for the people who will call them.

:func:`describe_reasons` turns the model's top contributions per customer
(:func:`graphchurn.models.top_reasons`) into short sentences, with the customer's own numbers
and how they compare with a typical customer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphchurn.features.exposure import LONGER_EXPOSURE_WINDOWS
from graphchurn.graph.customer_graph import FADE_DAYS

__all__ = ["NO_REASON_TEXT", "WORDINGS", "plain_number", "typical_values", "reason_texts",
           "describe_reasons"]


#: What :func:`describe_reasons` says for a customer none of whose features raises the risk by
#: a material amount (see the threshold of :func:`graphchurn.models.top_reasons`).
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
    that :func:`graphchurn.models.reason_contributions` replaces each value by.

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


class _Rows:
    """The rows a sentence is written for, with the helpers every wording uses."""

    def __init__(self, rows: pd.DataFrame, feature: str, recent_days: int, typical: dict):
        self.rows, self.feature, self.recent_days, self.typical = rows, feature, recent_days, typical

    def col(self, name=None) -> pd.Series:
        name = self.feature if name is None else name
        return self.rows[name] if name in self.rows else pd.Series(0.0, index=self.rows.index)

    def ref(self, name=None):
        return self.typical.get(self.feature if name is None else name)

    def side(self, name=None) -> np.ndarray:
        return _side(self.col(name), self.ref(name))

    def out(self, values) -> pd.Series:
        return pd.Series(values, index=self.rows.index, dtype=object)

    def contacts(self) -> pd.Series:
        return _count_words(self.col("distinct_contacts"), "contact")

    def three_sided(self, above, below, neutral) -> pd.Series:
        """``above`` / ``below`` / ``neutral`` by which side of the typical value a row is on."""
        return self.out(_pick(self.side(), above, below, neutral))


# ---- one wording per feature (or family); each returns a Series of sentences

def _departed_contacts(r: _Rows) -> pd.Series:
    left = r.col("n_departed_contacts").fillna(0).round().astype(np.int64)
    n = r.col("distinct_contacts").fillna(0).round().astype(np.int64)
    days = r.recent_days
    text = (left.astype(str) + " of " + r.contacts() + f" left in the last {days} days ("
            + _percent(r.col("share_to_departed")) + " of their calling)")
    return r.out(np.where(left > 0, text, "none of their " + n.astype(str)
                          + f" contacts left in the last {days} days"))


def _departed_longer(r: _Rows) -> pd.Series:
    share = r.col().fillna(0)
    days = LONGER_EXPOSURE_WINDOWS * r.recent_days
    return r.out(np.where(share > 0, _percent(share) + " of their calling was with contacts who "
                          f"left in the last {days} days",
                          f"none of their contacts left in the last {days} days"))


def _departed_before_onset(r: _Rows) -> pd.Series:
    # A weighted share (see features.exposure.exposure_before_onset): departures 1 .. recent +
    # onset days ago count, fully those whose age lies between the two windows' ends.
    share = r.col().fillna(0)
    last = r.recent_days + FADE_DAYS[1]
    full = f"{FADE_DAYS[1]}-{r.recent_days + 1}"
    return r.out(np.where(share > 0, "contacts who left 1-" + str(last) + " days ago held "
                          + _percent(share) + f" of their calling (weighted, most those of "
                          f"{full} days ago, when a slowdown now under way would have begun)",
                          f"none of their contacts left 1-{last} days ago"))


def _departed_influencer(r: _Rows) -> pd.Series:
    left = f"influential contact left in the last {r.recent_days} days"
    return r.out(np.where(r.col().fillna(0) > 0, "an " + left, "no " + left))


def _spreading_energy(r: _Rows) -> pd.Series:
    near = r.three_sided("close to a cluster of recent leavers",
                         "far from recent leavers in the call network",
                         "close to a cluster of recent leavers")
    return r.out(np.where(r.col().fillna(0) <= 0, "no recent leavers nearby in the call network",
                          near))


def _group_churn(r: _Rows) -> pd.Series:
    rate = r.col().fillna(0)
    return r.out(np.where(rate > 0, _percent(rate) + " of their social group left recently",
                          "none of their social group left recently"))


def _last_week(r: _Rows) -> pd.Series:
    who = "incoming" if r.feature == "in_week_ratio" else "outgoing"
    ratio = r.col("in_week_ratio" if who == "incoming" else "out_week_ratio").astype(float)
    change = (100 * (ratio - 1)).round()
    size = change.abs().fillna(0).astype(np.int64).astype(str) + "%"
    return r.out(np.select(
        [ratio.isna(), ratio == 0, change < 0, change > 0],
        [f"no {who} activity in the window", f"no {who} activity last week",
         f"{who} activity last week " + size + " below their usual",
         f"{who} activity last week " + size + " above their usual"],
        f"{who} activity last week at their usual level"))


def _trend(r: _Rows) -> pd.Series:
    recent, previous = r.col("out_recent").astype(float), r.col("out_previous").astype(float)
    change = (100 * (recent / previous.where(previous > 0) - 1)).round()
    size = change.abs().fillna(0).astype(np.int64).astype(str) + "%"
    return r.out(np.select(
        [(recent <= 0) & (previous <= 0), previous <= 0, recent <= 0, change < 0, change > 0],
        ["no outgoing activity in the last 4 weeks",
         "outgoing activity in the last 2 weeks after none in the 2 weeks before",
         "no outgoing activity in the last 2 weeks",
         "outgoing activity down " + size + " in the last 2 weeks",
         "outgoing activity up " + size + " in the last 2 weeks"],
        "outgoing activity steady over the last 4 weeks"))


def _fade_out(r: _Rows) -> pd.Series:
    # A log Bayes factor: > 0 favours a fade-out over steady use. Between the typical
    # (negative) value and 0 the evidence leans to steady use, but less than usual.
    fading = "calls and messages tapering off in recent weeks, more than chance explains"
    text = r.three_sided("slight signs of calls and messages tapering off in recent weeks "
                         "(within what chance explains)",
                         "calls and messages steady in recent weeks",
                         "no clear sign of calls and messages tapering off in recent weeks")
    return r.out(np.where(r.col().fillna(0) > 0, fading, text))


def _silence(what: str):
    def wording(r: _Rows) -> pd.Series:
        text = f"no {what} for " + _count_words(r.col(), "day")
        return text.where(r.col().notna(), f"no {what} in the window")
    return wording


def _out_share(r: _Rows) -> pd.Series:
    # n_out / (n_out + n_in): the share of the customer's calls and messages (counts, either
    # direction) that the customer made rather than received.
    share = r.col()
    made = _percent(share) + " of their calls and messages are ones they made"
    usual = "" if r.ref() is None else _percent(pd.Series([r.ref()])).iloc[0]
    text = r.three_sided(made + ", above the typical " + usual,
                         made + ", below the typical " + usual, made)
    return r.out(np.where(share.isna(), "no calls or messages in the window", text))


def _counts(r: _Rows) -> pd.Series:
    what = ("outgoing" if r.feature == "n_out" else "incoming") + " calls and messages"
    amount = r.col().fillna(0).round().astype(np.int64).astype(str)
    return r.three_sided(f"many {what} (" + amount + " in the window)",
                         f"few {what} (" + amount + " in the window)",
                         amount + f" {what} in the window")


def _durations(r: _Rows) -> pd.Series:
    what = ("outgoing" if r.feature == "duration_out" else "incoming") + " calls"
    seconds = r.col().fillna(0)
    minutes = _count_words(seconds / 60.0, "minute")
    minutes = minutes.where((seconds <= 0) | (r.col() >= 60), "under 1 minute")
    return r.three_sided(f"much time on {what} (" + minutes + " in the window)",
                         f"little time on {what} (" + minutes + " in the window)",
                         minutes + f" of {what} in the window")


def _active_days(r: _Rows) -> pd.Series:
    days = _count_words(r.col(), "active day")
    return r.three_sided("active on many days (" + days + " in the window)",
                         "low usage (" + days + " in the window)", days + " in the window")


def _distinct_contacts(r: _Rows) -> pd.Series:
    contacts = r.contacts()
    return r.three_sided("many social ties (" + contacts + ")", "few social ties (" + contacts
                         + ")", "social ties (" + contacts + ")")


def _strength(r: _Rows) -> pd.Series:
    # Tie strength counts calls and messages (longer calls weigh more): a customer with many
    # contacts can still have weak ties, and is then not "few social ties".
    contacts = r.contacts()
    weak = np.where(r.side("distinct_contacts") == "below", "few social ties (" + contacts + ")",
                    "little calling or messaging with their " + contacts)
    return r.three_sided("much calling and messaging with their " + contacts, weak,
                         "social ties (" + contacts + ")")


def _fixed(above: str, below: str, neutral: str):
    """A wording that depends only on the side of the typical value."""
    return lambda r: r.three_sided(above, below, neutral)


def _clustering(r: _Rows) -> pd.Series:
    value = r.col().fillna(0)
    pairs = " (" + _percent(value) + " of pairs)"
    text = r.three_sided("many of their contacts are in touch with each other" + pairs,
                         "few of their contacts are in touch with each other" + pairs,
                         _percent(value) + " of pairs of their contacts are in touch with each "
                         "other")
    return r.out(np.where(value <= 0, "none of their contacts are in touch with each other",
                          text))


def _community_size(r: _Rows) -> pd.Series:
    members = _count_words(r.col(), "member")
    return r.three_sided("large social group (" + members + ")",
                         "small social group (" + members + ")", "social group of " + members)


def _share_of_calling(above: str, below: str, neutral: str):
    """A share of the customer's calling: ``{share}`` in the texts stands for it."""
    def fill(template: str, share: pd.Series) -> pd.Series:
        before, after = template.split("{share}")
        return before + share + after

    def wording(r: _Rows) -> pd.Series:
        share = _percent(r.col())
        return r.three_sided(fill(above, share), fill(below, share), fill(neutral, share))
    return wording


def _is_leader(r: _Rows) -> pd.Series:
    return r.out(np.where(r.col().fillna(0) > 0, "a leader of their social group",
                          "not a leader of their social group"))


# Susceptibility is a noisy-OR of the shares of calling with the group's leaders, with recent
# leavers and (damped) with the group (graphchurn.social.roles.susceptibility).
_SUSCEPTIBLE = "of their calling is with their social group, its leaders or recent leavers"

#: Feature -> the function that words it. Features not listed are embeddings (by prefix) or
#: customer attributes (:func:`_attribute_wording`).
WORDINGS = {
    "n_departed_contacts": _departed_contacts,
    "share_to_departed": _departed_contacts,
    "max_tie_share_departed": _departed_contacts,
    "share_to_departed_longer": _departed_longer,
    "share_to_departed_before_onset": _departed_before_onset,
    "departed_influencer_contact": _departed_influencer,
    "spreading_activation_energy": _spreading_energy,
    "group_churn_rate": _group_churn,
    "out_week_ratio": _last_week,
    "in_week_ratio": _last_week,
    "out_last_week": _last_week,
    "activity_trend": _trend,
    "out_recent": _trend,
    "out_previous": _trend,
    "fade_out_evidence": _fade_out,
    "days_since_last_out": _silence("outgoing calls or messages"),
    # Incoming traffic counts here too, so the wording must not say "outgoing": next to
    # days_since_last_out it would read as the same fact with a different number.
    "days_since_last_any": _silence("calls or messages either way"),
    "out_share": _out_share,
    "n_out": _counts,
    "n_in": _counts,
    "duration_out": _durations,
    "duration_in": _durations,
    "active_days_out": _active_days,
    "distinct_contacts": _distinct_contacts,
    "strength": _strength,
    "pagerank": _fixed("central in the call network", "peripheral in the call network",
                       "their position in the call network"),
    "coreness": _fixed("in the densely connected core of the call network",
                       "peripheral in the call network", "their position in the call network"),
    "clustering": _clustering,
    "community_size": _community_size,
    "embeddedness": _share_of_calling(
        "closely embedded in their social group ({share} of their calling within it)",
        "weakly embedded in their social group ({share} of their calling within it)",
        "{share} of their calling within their social group"),
    "share_to_leaders": _share_of_calling(
        "strongly tied to their group's leaders ({share} of their calling)",
        "weakly tied to their group's leaders ({share} of their calling)",
        "{share} of their calling with their group's leaders"),
    "susceptibility": _fixed("much " + _SUSCEPTIBLE, "little " + _SUSCEPTIBLE,
                             "calling with their social group, its leaders and recent leavers"),
    "is_leader": _is_leader,
    "influencer_score": _fixed("influential in the call network",
                               "little influence in the call network",
                               "their influence in the call network"),
}


def _attribute_wording(r: _Rows) -> pd.Series:
    """A customer attribute (:func:`graphchurn.features.attributes_at`); an attribute named
    like a computed feature keeps its values under attr_<name> and reads as <name>."""
    feature = r.feature
    name = feature[len("attr_"):] if feature.startswith("attr_") else feature
    values = r.col()
    if name.startswith("days_since_"):  # a date attribute (see attributes_at)
        what = name[len("days_since_"):].replace("_", " ")
        text = what + " " + _count_words(values, "day") + " ago"
        return text.where(values.notna(), what + " not known")
    label = name.replace("_", " ")
    if pd.api.types.is_bool_dtype(values):
        return r.out(np.where(values.fillna(False).astype(bool), label + ": yes", label + ": no"))
    if pd.api.types.is_numeric_dtype(values):
        usual = plain_number(r.ref())
        shown = values.map(plain_number).astype(object)
        text = r.three_sided(label + " " + shown + " (above the typical " + usual + ")",
                             label + " " + shown + " (below the typical " + usual + ")",
                             label + " of " + shown)
        return r.out(np.where(values.isna(), label + " not known", text))
    return r.out(np.where(values.isna(), label + " not known",
                          label + " is '" + values.astype(str) + "'"))


def reason_texts(feature: str, rows: pd.DataFrame, recent_departure_days: int = 30,
                 typical=None) -> pd.Series:
    """Plain-language sentences saying why ``feature`` raises the risk of each row.

    Vectorised over customers (one call per feature, not per customer); the wording of each
    feature is an entry of :data:`WORDINGS`. A sentence states the customer's value; a word of
    direction ("few", "small", "peripheral", "above the typical") is used only where
    ``typical`` says which side of the typical value the customer is on, never guessed: the
    model may find a high value or a low one risky.

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
    r = _Rows(rows, feature, recent_departure_days, {} if typical is None else dict(typical))
    if feature.startswith("embedding_"):
        return r.out(np.full(len(rows), "network position resembles past leavers", dtype=object))
    return WORDINGS.get(feature, _attribute_wording)(r)


def describe_reasons(table: pd.DataFrame, top_features: list[list[tuple[str, float]]],
                     recent_departure_days: int = 30, *, typical=None,
                     fallback: str = NO_REASON_TEXT) -> list[str]:
    """Join each customer's top features into a "; "-separated plain-language string.

    Features that say the same thing (e.g. share and number of departed contacts) produce the
    same sentence, which is given once. A customer with no reason (no feature raises its risk
    by a material amount, see :func:`graphchurn.models.top_reasons`) gets ``fallback``.

    Parameters
    ----------
    table : DataFrame
        Raw feature rows, one per customer.
    top_features : list of list of (feature, contribution)
        Per customer, the features that raise its risk most (from
        :func:`graphchurn.models.top_reasons`), in order.
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
