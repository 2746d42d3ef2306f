"""Budget-constrained retention targeting: whom to contact, through which channel.

A retention campaign has a budget and a few contact channels (SMS, e-mail, a call from an
agent), each with a cost per contact and an *effectiveness*: the probability that a contacted
customer who would otherwise churn is retained. Each customer gets at most one channel. The
expected saving of contacting customer ``i`` through channel ``k`` is

    saving_ik = churn_probability_i * effect_k * lifetime_value_i
    lifetime_value_i = monthly value_i * horizon_months

(the lifetime value is a deliberately simple proxy: the revenue a retained customer brings over
``horizon_months``, undiscounted). Choosing customers and channels to maximise the total expected
*net* saving ``sum(saving_ik - cost_k)`` under ``sum(cost_k) <= budget`` is a multiple-choice
knapsack problem (one class per customer, options = channels or no contact).

It is solved with the classic incremental-efficiency greedy of Sinha & Zoltners (1979): for every
customer, keep the options on the upper convex hull of (cost, net saving) starting from "no
contact"; each hull edge is an *upgrade step* (e.g. none -> e-mail -> SMS -> call) with a marginal
cost and a marginal saving, and the steps of one customer have decreasing marginal efficiency.
All steps of all customers are taken in order of marginal saving per marginal cost while the
budget lasts; a step that does not fit is skipped, and so are the later steps of the same
customer. Finally the greedy plan is compared with the best single contact that fits the budget
and the better one is returned, which guarantees at least half of the optimum (see
:func:`contact_list`). Everything is vectorised over customers; loops run over channels and over
the (few) distinct step costs only.
"""

from __future__ import annotations

import numbers

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from graphchurn.errors import InputError

__all__ = ["Channel", "DEFAULT_CHANNELS", "DEFAULT_HORIZON_MONTHS", "contact_list", "CONTACT_COLUMNS"]


class Channel(NamedTuple):
    """A contact channel.

    Attributes
    ----------
    cost : float
        Cost of one contact, in the currency of the customers' ``value`` (>= 0).
    effect : float
        Probability in [0, 1] that a contacted customer who would churn is retained.
    """

    cost: float
    effect: float


#: Default channels; callers override any of them (or pass their own set).
DEFAULT_CHANNELS: dict[str, Channel] = {
    "sms": Channel(cost=0.05, effect=0.03),
    "email": Channel(cost=0.01, effect=0.01),
    "call": Channel(cost=2.0, effect=0.20),
}

#: Months of monthly value that a retained customer is worth (undiscounted lifetime-value proxy).
DEFAULT_HORIZON_MONTHS = 12.0

#: Columns of the frame :func:`contact_list` returns, in order.
CONTACT_COLUMNS = [
    "customer_id",
    "channel",
    "cost",
    "expected_saving",
    "net_saving",
    "churn_probability",
    "reasons",
    "cumulative_cost",
]

# Relative slack when comparing sums of float costs with the budget, so that e.g. three SMS at
# 0.05 fit a budget of 0.15 despite 0.05 * 3 == 0.15000000000000002 in binary floating point.
_BUDGET_RTOL = 1e-9


def normalise_channels(channels) -> dict[str, Channel]:
    """Check and convert a channel specification to ``{name: Channel}``.

    Parameters
    ----------
    channels : mapping
        ``{name: Channel | (cost, effect) | {"cost": ..., "effect": ...}}``.

    Returns
    -------
    dict of str to Channel

    Raises
    ------
    InputError
        When a channel is malformed, has a negative or non-finite cost, or an effect outside [0, 1].
    """
    if not isinstance(channels, Mapping) or len(channels) == 0:
        raise InputError("channels must be a non-empty mapping of name -> (cost, effect)", file="channels")
    out: dict[str, Channel] = {}
    for name, spec in channels.items():
        if not str(name).strip():
            raise InputError("a channel needs a non-empty name", file="channels")
        if isinstance(spec, Mapping):
            try:
                cost, effect = spec["cost"], spec["effect"]
            except KeyError:
                raise InputError(f"channel '{name}' needs 'cost' and 'effect'", file="channels") from None
            unknown = sorted(set(map(str, spec)) - {"cost", "effect"})
            if unknown:
                raise InputError(f"channel '{name}': unknown key(s) {', '.join(unknown)} (only "
                                 "'cost' and 'effect')", file="channels")
        else:
            try:
                cost, effect = spec
            except (TypeError, ValueError):
                raise InputError(f"channel '{name}' must be (cost, effect)", file="channels") from None
        # Only real numbers: "1" or true would otherwise pass float() and be read as 1.
        if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
                   for v in (cost, effect)):
            raise InputError(f"channel '{name}': cost and effect must be numbers", file="channels")
        try:
            cost, effect = float(cost), float(effect)
        except (TypeError, ValueError):
            raise InputError(f"channel '{name}': cost and effect must be numbers", file="channels") from None
        if not np.isfinite(cost) or cost < 0:
            raise InputError(f"channel '{name}': cost must be a finite number >= 0", file="channels")
        if not np.isfinite(effect) or not 0.0 <= effect <= 1.0:
            raise InputError(f"channel '{name}': effect must be a probability in [0, 1]", file="channels")
        out[str(name)] = Channel(cost, effect)
    return out


def _customer_values(scores, value_column, default_value, n) -> np.ndarray:
    """Monthly value per customer; missing values take ``default_value`` (or the median known one)."""
    if value_column is not None and value_column in scores.columns:
        values = pd.to_numeric(scores[value_column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        values = np.full(n, np.nan)
    if np.any(values[np.isfinite(values)] < 0):
        raise InputError("customer value must be >= 0", column=value_column)
    missing = ~np.isfinite(values)
    if missing.any():
        if default_value is None:
            known = values[~missing]
            if known.size == 0:
                raise InputError(
                    "no customer value is known: give a default monthly value per customer",
                    column=value_column,
                )
            fill = float(np.median(known))
        else:
            fill = float(default_value)
            if not np.isfinite(fill) or fill < 0:
                raise InputError("default value must be a finite number >= 0", file="default_value")
        values = np.where(missing, fill, values)
    return values


def _upgrade_steps(weight, costs, effects, budget):
    """Upgrade steps along each customer's upper convex hull of (cost, net saving).

    ``weight`` is ``churn_probability * lifetime_value`` per customer (N,); channel ``k`` gives
    net saving ``weight * effects[k] - costs[k]``. Channels are pre-sorted by cost. Returns arrays
    (customer, step, option, delta_cost, delta_saving, efficiency), one entry per step; option is
    a channel index. Gift wrapping from "no contact" (0, 0): the next hull vertex is the option of
    higher cost with the steepest positive slope; on equal slopes the cheaper one, so that
    collinear options stay separate, finer-grained steps.
    """
    n = weight.shape[0]
    affordable = costs <= budget * (1 + _BUDGET_RTOL)
    net = weight[:, None] * effects[None, :] - costs[None, :]  # (N, K)
    net[:, ~affordable] = -np.inf

    cust_parts, step_parts, opt_parts, dc_parts, dv_parts, eff_parts = [], [], [], [], [], []

    def record(rows, step, option, dc, dv, eff):
        cust_parts.append(rows)
        step_parts.append(np.full(rows.size, step, dtype=np.int64))
        opt_parts.append(option)
        dc_parts.append(dc)
        dv_parts.append(dv)
        eff_parts.append(eff)

    # Start: the best zero-cost option (a free channel with positive saving), else no contact.
    cur_cost = np.zeros(n)
    cur_net = np.zeros(n)
    free = np.flatnonzero((costs == 0) & affordable)
    step = 0
    if free.size:
        free_net = net[:, free]
        best = np.argmax(free_net, axis=1)
        best_net = free_net[np.arange(n), best]
        rows = np.flatnonzero(best_net > 0)
        if rows.size:
            record(rows, 0, free[best[rows]], np.zeros(rows.size), best_net[rows], np.full(rows.size, np.inf))
            cur_net[rows] = best_net[rows]
        step = 1

    active = np.arange(n)
    for _ in range(costs.size):
        if active.size == 0:
            break
        dc = costs[None, :] - cur_cost[active, None]  # (A, K)
        dv = net[active] - cur_net[active, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(dc > 0, dv / dc, -np.inf)
        slope[~np.isfinite(net[active])] = -np.inf
        nxt = np.argmax(slope, axis=1)  # first maximum = cheapest on ties (costs sorted)
        best_slope = slope[np.arange(active.size), nxt]
        up = best_slope > 0
        rows = active[up]
        if rows.size == 0:
            break
        opt = nxt[up]
        step_dc = costs[opt] - cur_cost[rows]
        step_dv = net[rows, opt] - cur_net[rows]
        record(rows, step, opt, step_dc, step_dv, best_slope[up])
        cur_cost[rows] = costs[opt]
        cur_net[rows] = net[rows, opt]
        active = rows
        step += 1

    if not cust_parts:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0)
        return empty_i, empty_i, empty_i, empty_f, empty_f, empty_f
    return tuple(np.concatenate(p) for p in (cust_parts, step_parts, opt_parts, dc_parts, dv_parts, eff_parts))


def _greedy_select(order_cust, order_step, order_dc, n_customers, budget):
    """Take steps in the given order while they fit; skip misfits and their customer's later steps.

    Equivalent to the sequential rule "walk the steps in order; take one when the customer's
    earlier steps were all taken and its marginal cost fits the remaining budget", run in rounds:
    each round takes the longest affordable prefix of the still-possible steps in one cumsum.
    Because the remaining budget only shrinks, a step that does not fit now never will, so every
    round removes all steps at least as costly as the one that stopped it: the number of rounds is
    at most the number of distinct step costs plus one.
    """
    m = order_cust.size
    taken = np.zeros(m, dtype=bool)
    dead = np.zeros(m, dtype=bool)
    # A customer's steps from `limit[c]` on are impossible (an earlier step of it died).
    limit = np.full(n_customers, np.iinfo(np.int64).max, dtype=np.int64)
    remaining = float(budget)
    slack = _BUDGET_RTOL * max(1.0, float(budget))
    while True:
        pending = ~taken & ~dead
        too_costly = pending & (order_dc > remaining + slack)
        if too_costly.any():
            dead |= too_costly
            np.minimum.at(limit, order_cust[too_costly], order_step[too_costly])
        pending = ~taken & ~dead & (order_step < limit[order_cust])
        idx = np.flatnonzero(pending)
        if idx.size == 0:
            break
        spent = np.cumsum(order_dc[idx])
        n_fit = int(np.searchsorted(spent, remaining + slack, side="right"))
        taken[idx[:n_fit]] = True
        if n_fit:
            remaining -= float(spent[n_fit - 1])
        if n_fit == idx.size:
            break
        stop = idx[n_fit]
        dead[stop] = True
        limit[order_cust[stop]] = min(limit[order_cust[stop]], order_step[stop])
    return taken


class _Campaign(NamedTuple):
    """Checked inputs every list builder (contact list, network list, next best action) shares."""

    budget: float
    ids: np.ndarray  # customer ids as text
    id_rank: np.ndarray  # rank of each id in sorted order: the deterministic tie-break
    prob: np.ndarray  # churn probability as given (NaN: not scored)
    p: np.ndarray  # the same with NaN -> 0: a customer without a score is never worth a contact
    monthly: np.ndarray  # monthly value, missing ones filled in
    lv: np.ndarray  # lifetime-value proxy: monthly value x horizon months


def _campaign_inputs(scores, budget, value_column, default_value, horizon_months) -> _Campaign:
    """Check a budget, a horizon and a scores table; one bad input is one :class:`InputError`."""
    try:
        budget = float(budget)
    except (TypeError, ValueError):
        raise InputError("budget must be a number", file="budget") from None
    if not np.isfinite(budget) or budget < 0:
        raise InputError("budget must be a finite number >= 0", file="budget")
    try:
        horizon_months = float(horizon_months)
    except (TypeError, ValueError):
        raise InputError("horizon_months must be a positive number", file="horizon_months") from None
    if not np.isfinite(horizon_months) or horizon_months <= 0:
        raise InputError("horizon_months must be a positive number", file="horizon_months")
    for column in ("customer_id", "churn_probability"):
        if column not in scores.columns:
            raise InputError("scores need this column", column=column)
    id_series = scores["customer_id"].astype("str")
    # With unique ids the codes of a sorted factorisation are exactly the ranks in sorted order.
    id_rank, uniques = pd.factorize(id_series, sort=True)
    if len(uniques) != len(id_series) or (id_rank < 0).any():
        raise InputError("customer_id must be unique and non-empty in scores", column="customer_id")
    ids = id_series.to_numpy(dtype=object)
    prob = pd.to_numeric(scores["churn_probability"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.isfinite(prob) & ((prob < 0) | (prob > 1))
    if bad.any():
        raise InputError(
            f"churn_probability must be in [0, 1] (data row {int(np.flatnonzero(bad)[0]) + 1})",
            column="churn_probability",
        )
    monthly = _customer_values(scores, value_column, default_value, ids.size)
    return _Campaign(budget, ids, id_rank, prob, np.where(np.isfinite(prob), prob, 0.0), monthly,
                     monthly * horizon_months)


def _sorted_channels(channels):
    """Channel names, costs and effects sorted by cost, then effect descending, then as listed.

    The hull walk and the network greedy rely on cost order, and the sort fixes how ties
    between channels are broken.
    """
    chans = normalise_channels(channels)
    names = np.array(list(chans), dtype=object)
    costs = np.array([c.cost for c in chans.values()], dtype=float)
    effects = np.array([c.effect for c in chans.values()], dtype=float)
    order = np.lexsort((np.arange(costs.size), -effects, costs))
    return names[order], costs[order], effects[order]


def _best_single(net, allowed, id_rank):
    """The best single (customer, option) by net saving: ``(row, option, net)``.

    ``net`` is (N, K), ``allowed`` broadcasts to it. Ties go to the lower customer id, then the
    option listed first. ``(-1, -1, -inf)`` when nothing is allowed.
    """
    masked = np.where(allowed, net, -np.inf)
    if masked.size == 0:
        return -1, -1, -np.inf
    best_k = np.argmax(masked, axis=1)  # first maximum: the option listed first
    best = masked[np.arange(masked.shape[0]), best_k]
    i = int(np.lexsort((id_rank, -best))[0])
    return i, int(best_k[i]), float(best[i])


def _single_wins(best_single, greedy_total) -> bool:
    """Whether the best single contact beats the greedy plan (the knapsack's 1/2 guarantee)."""
    return best_single > greedy_total * (1 + _BUDGET_RTOL) and best_single > 0


def _priority_order(saving, cost, id_rank):
    """Order of the rows of a list: expected saving per unit of the row's own cost (infinite for
    a free contact), then net saving, then customer id."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cost > 0, saving / np.where(cost > 0, cost, 1.0), np.inf)
    return np.lexsort((id_rank, -(saving - cost), -ratio))


def contact_list(
    scores: pd.DataFrame,
    budget: float,
    channels: Mapping = DEFAULT_CHANNELS,
    value_column: str | None = "value",
    default_value: float | None = None,
    horizon_months: float = DEFAULT_HORIZON_MONTHS,
) -> pd.DataFrame:
    """Choose whom to contact, and how, to maximise expected net saving within a budget.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per customer with ``customer_id`` and ``churn_probability``; optionally
        ``reasons`` (copied to the output) and a monthly value column.
    budget : float
        Total campaign spend allowed (>= 0), in the currency of the channel costs.
    channels : mapping, default DEFAULT_CHANNELS
        ``{name: Channel | (cost, effect) | {"cost": c, "effect": e}}``.
    value_column : str or None, default "value"
        Column of monthly revenue per customer. ``None`` or an absent column: every customer
        takes ``default_value``.
    default_value : float, optional
        Monthly value for customers whose value is missing. When not given, the median of the
        known values is used; when no value is known at all an :class:`InputError` asks for it.
    horizon_months : float, default 12
        Lifetime-value proxy: a retained customer is worth ``value * horizon_months``.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id, channel, cost, expected_saving, net_saving, churn_probability,
        reasons, cumulative_cost``; one row per contacted customer, every row with positive
        ``net_saving``. Rows are in priority order: most ``expected_saving`` per unit of the
        row's own ``cost`` first, so customers reached through a free channel (cost 0:
        unbounded saving per unit of cost) come first; ties, among them all the free contacts,
        go by ``net_saving`` descending, then ``customer_id``.
        ``cumulative_cost`` is the spend of the list up to and including the row and never
        exceeds ``budget`` (up to a relative float tolerance of 1e-9).

    Notes
    -----
    Guarantee: the plan's net saving is at least half of the optimal plan's. Proof sketch: the
    greedy on hull steps in efficiency order solves the LP relaxation exactly up to the first step
    that does not fit (Sinha & Zoltners 1979); the LP optimum bounds the integer optimum and
    exceeds the greedy prefix by at most that step's marginal saving, which is at most the net
    saving of a single affordable option. Returning the better of the greedy plan and the best
    single contact therefore gives >= OPT / 2. In practice (many small steps, a budget much larger
    than one contact) the plan is within one step's saving of the optimum.

    Ties are broken deterministically: in the greedy, equal efficiency -> lower ``customer_id``
    first; equal slopes on one customer's hull -> the cheaper channel; equal cost and effect ->
    the channel listed first. In the returned order, equal saving per unit of cost -> higher
    ``net_saving`` first, then lower ``customer_id``.

    Example
    -------
    >>> scores = pd.DataFrame({"customer_id": ["a", "b"], "churn_probability": [0.9, 0.1],
    ...                        "value": [100.0, 100.0]})
    >>> contact_list(scores, budget=2.0, channels={"call": (2.0, 0.2)})[["customer_id", "channel"]]
      customer_id channel
    0           a    call

    References
    ----------
    Sinha, P. & Zoltners, A. A. (1979). The multiple-choice knapsack problem. *Operations
    Research* 27(3), 503-515.
    """
    inputs = _campaign_inputs(scores, budget, value_column, default_value, horizon_months)
    names, costs, effects = _sorted_channels(channels)
    budget, ids, id_rank, prob = inputs.budget, inputs.ids, inputs.id_rank, inputs.prob
    n = ids.size
    lifetime_value = inputs.lv
    weight = inputs.p * lifetime_value

    cust, step, opt, dc, dv, eff = _upgrade_steps(weight, costs, effects, budget)
    empty = pd.DataFrame(
        {c: pd.Series(dtype="str" if c in ("customer_id", "channel", "reasons") else float) for c in CONTACT_COLUMNS}
    )
    if cust.size == 0:
        return empty

    # Global step order: efficiency desc, then customer id asc, then the customer's step order.
    order = np.lexsort((step, id_rank[cust], -eff))
    taken = _greedy_select(cust[order], step[order], dc[order], n, budget)
    greedy_total = float(dv[order][taken].sum())

    # The best single affordable contact: the other half of the 1/2 guarantee.
    affordable = costs <= budget * (1 + _BUDGET_RTOL)
    single_net = weight[:, None] * effects[None, :] - costs[None, :]
    best_cust, best_opt, best_single = _best_single(single_net, affordable[None, :], id_rank)

    chosen_option = np.full(n, -1, dtype=np.int64)
    if _single_wins(best_single, greedy_total):
        # One contact beats the greedy plan (a large budget-filling call the greedy had to skip).
        chosen_option[best_cust] = best_opt
        priority = np.array([best_cust])
    else:
        t_cust, t_opt = cust[order][taken], opt[order][taken]
        # Steps of one customer are taken in hull order, so its last taken step is its channel.
        chosen_option[t_cust] = t_opt
        chosen = np.unique(t_cust)
        # Priority: each row's own expected saving per unit of its channel's cost (infinite
        # for a free channel), then its net saving, then the customer id. The greedy's order
        # of first steps is not that: a customer first taken on a free e-mail and upgraded to
        # a call would head the list with the call's cost.
        final_option = chosen_option[chosen]
        final_saving = weight[chosen] * effects[final_option]
        priority = chosen[_priority_order(final_saving, costs[final_option], id_rank[chosen])]
    if priority.size == 0:
        return empty

    option = chosen_option[priority]
    cost = costs[option]
    saving = prob[priority] * effects[option] * lifetime_value[priority]
    if "reasons" in scores.columns:
        reasons = scores["reasons"].astype("str").fillna("").to_numpy(dtype=object)[priority]
    else:
        reasons = np.full(priority.size, "", dtype=object)
    result = pd.DataFrame(
        {
            "customer_id": pd.array(ids[priority], dtype="str"),
            "channel": pd.array(names[option], dtype="str"),
            "cost": cost,
            "expected_saving": saving,
            "net_saving": saving - cost,
            "churn_probability": prob[priority],
            "reasons": pd.array(reasons, dtype="str"),
            "cumulative_cost": np.cumsum(cost),
        }
    )
    return result
