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

__all__ = ["NO_REASON_TEXT", "plain_number", "typical_values", "reason_texts", "describe_reasons"]


#: What :func:`describe_reasons` says for a customer none of whose features raises the risk by
#: a material amount (see the threshold of :func:`graphchurn.models.explain.top_reasons`).
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
    that :func:`graphchurn.models.explain.reason_contributions` replaces each value by.

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
        # A weighted share (see features.exposure.exposure_before_onset): departures 1 .. recent +
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
    by a material amount, see :func:`graphchurn.models.explain.top_reasons`) gets ``fallback``.

    Parameters
    ----------
    table : DataFrame
        Raw feature rows, one per customer.
    top_features : list of list of (feature, contribution)
        Per customer, the features that raise its risk most (from
        :func:`graphchurn.models.explain.top_reasons`), in order.
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
