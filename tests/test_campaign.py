import itertools
import re

import numpy as np
import pandas as pd
import pytest

from graphchurn.targeting.contact_list import CONTACT_COLUMNS, DEFAULT_CHANNELS, contact_list
from graphchurn.errors import InputError


def _scores(ids, probs, values, reasons=None):
    frame = pd.DataFrame({"customer_id": ids, "churn_probability": probs, "value": values})
    if reasons is not None:
        frame["reasons"] = reasons
    return frame


def _brute_force(weight, costs, effects, budget):
    """Optimal total net saving by enumerating every channel assignment (option -1 = none)."""
    n, k = len(weight), len(costs)
    net = np.outer(weight, effects) - costs[None, :]
    best = 0.0
    for assignment in itertools.product(range(-1, k), repeat=n):
        a = np.array(assignment)
        on = a >= 0
        spend = costs[a[on]].sum()
        if spend <= budget + 1e-12:
            best = max(best, net[np.flatnonzero(on), a[on]].sum())
    return best


def _sequential_greedy(weight, costs, effects, budget):
    """Reference for the vectorised greedy: hull steps walked one at a time in a Python loop."""
    n = len(weight)
    order_c = np.argsort(costs, kind="stable")
    steps = []
    for i in range(n):
        pts = [(0.0, 0.0, None)] + [
            (costs[j], weight[i] * effects[j] - costs[j], j) for j in order_c if costs[j] <= budget
        ]
        cur = pts[0]
        s = 0
        while True:
            cands = [(p[1] - cur[1]) / (p[0] - cur[0]) for p in pts if p[0] > cur[0]]
            nxt = [p for p in pts if p[0] > cur[0]]
            if not cands or max(cands) <= 0:
                break
            best = int(np.argmax(cands))
            p = nxt[best]
            steps.append((-max(cands), str(i), s, i, p[0] - cur[0], p[1] - cur[1]))
            cur, s = p, s + 1
    # customer ids below are str(i), so the id tie-break is on str(i)
    steps.sort(key=lambda t: (t[0], t[1], t[2]))
    remaining, blocked, total = budget, set(), 0.0
    for _, _, _, i, dc, dv in steps:
        if i in blocked:
            continue
        if dc <= remaining + 1e-9 * max(1, budget):
            remaining -= dc
            total += dv
        else:
            blocked.add(i)
    net = np.outer(weight, effects) - costs[None, :]
    single = max([0.0] + [net[i, j] for i in range(n) for j in range(len(costs)) if costs[j] <= budget])
    return max(total, single)


def test_zero_budget_contacts_nobody():
    scores = _scores(["a", "b"], [0.9, 0.8], [100.0, 50.0])
    out = contact_list(scores, 0.0)
    assert out.empty
    assert list(out.columns) == CONTACT_COLUMNS


def test_budget_for_exactly_one_call_picks_highest_expected_saving():
    # weight = p * value * 12; call net = 0.2 * weight - 2:
    #   a: 0.9 * 10 * 12 = 108 -> 19.6 ; b: 0.5 * 100 * 12 = 600 -> 118 ; c: 0.3 * 50 * 12 = 180 -> 34
    scores = _scores(["a", "b", "c"], [0.9, 0.5, 0.3], [10.0, 100.0, 50.0], ["r1", "r2", "r3"])
    calls = {"call": (2.0, 0.2)}
    for budget in (2.0, 3.99):
        out = contact_list(scores, budget, channels=calls)
        assert out["customer_id"].tolist() == ["b"]
        row = out.iloc[0]
        assert row["channel"] == "call"
        assert row["cost"] == pytest.approx(2.0)
        assert row["expected_saving"] == pytest.approx(120.0)
        assert row["net_saving"] == pytest.approx(118.0)
        assert row["reasons"] == "r2"
        assert row["churn_probability"] == pytest.approx(0.5)
    two = contact_list(scores, 4.0, channels=calls)
    assert two["customer_id"].tolist() == ["b", "c"]
    assert two["cumulative_cost"].tolist() == pytest.approx([2.0, 4.0])


def test_upgrade_path_email_then_sms_then_call_by_hand():
    # One customer, p = 0.9, value 100 -> lifetime 1200, weight 1080.
    # net: email 10.8 - 0.01 = 10.79, sms 32.4 - 0.05 = 32.35, call 216 - 2 = 214.
    # Hull from (0, 0): email (slope 1079) -> sms (slope 539) -> call (slope 93.2).
    scores = _scores(["x"], [0.9], [100.0])
    cases = {0.009: None, 0.01: "email", 0.04: "email", 0.05: "sms", 1.99: "sms", 2.0: "call", 50.0: "call"}
    for budget, channel in cases.items():
        out = contact_list(scores, budget)
        if channel is None:
            assert out.empty
        else:
            assert out["channel"].tolist() == [channel], budget
    out = contact_list(scores, 2.0)
    assert out["net_saving"].iloc[0] == pytest.approx(214.0)


def test_three_sms_fit_a_budget_of_their_exact_sum():
    scores = _scores(["a", "b", "c"], [0.5, 0.5, 0.5], [10.0, 10.0, 10.0])
    out = contact_list(scores, 0.15, channels={"sms": (0.05, 0.03)})
    assert len(out) == 3
    assert out["cumulative_cost"].iloc[-1] == pytest.approx(0.15)


def test_single_best_contact_beats_greedy_when_budget_fits_only_it():
    # Greedy spends on cheap SMS first and then cannot afford the call; the single call is worth
    # more, so the 1/2-guarantee fallback returns it.
    scores = _scores(["a", "c"], [0.9, 0.5], [100.0, 100.0])
    out = contact_list(scores, 2.0)
    assert out["customer_id"].tolist() == ["a"]
    assert out["channel"].tolist() == ["call"]


def test_unprofitable_and_dominated_options_are_never_chosen():
    scores = _scores(["rich", "poor"], [0.9, 0.001], [100.0, 1.0])
    channels = {"sms": (0.05, 0.03), "letter": (1.0, 0.02), "call": (2.0, 0.2)}
    out = contact_list(scores, 1000.0, channels=channels)
    assert out["customer_id"].tolist() == ["rich"]  # poor: 0.001*12*0.2 = 0.0024 < any cost
    assert "letter" not in set(out["channel"])  # costs more than sms and retains fewer
    assert (out["net_saving"] > 0).all()


def test_ties_are_broken_by_customer_id_regardless_of_row_order():
    scores = _scores(["b", "a", "c"], [0.5, 0.5, 0.5], [100.0, 100.0, 100.0])
    calls = {"call": (2.0, 0.2)}
    out = contact_list(scores, 2.0, channels=calls)
    assert out["customer_id"].tolist() == ["a"]
    shuffled = contact_list(scores.iloc[[2, 0, 1]], 5.0, channels=calls)
    again = contact_list(scores, 5.0, channels=calls)
    pd.testing.assert_frame_equal(shuffled, again)
    assert again["customer_id"].tolist() == ["a", "b"]


def test_missing_values_take_default_or_median():
    scores = _scores(["a", "b", "c"], [0.5, 0.5, 0.5], [10.0, np.nan, 30.0])
    calls = {"call": (1.0, 0.5)}
    # default_value given: b is worth 0.5 * 0.5 * 200 * 12 = 600
    out = contact_list(scores, 1.0, channels=calls, default_value=200.0)
    assert out["customer_id"].tolist() == ["b"]
    assert out["expected_saving"].iloc[0] == pytest.approx(600.0)
    # no default: median of known (20) -> b's saving 0.25 * 20 * 12 = 60
    out = contact_list(scores, 10.0, channels=calls)
    assert dict(zip(out["customer_id"], out["expected_saving"])) == pytest.approx({"a": 30.0, "b": 60.0, "c": 90.0})
    # horizon_months scales lifetime value
    out = contact_list(scores, 10.0, channels=calls, horizon_months=1)
    assert out.set_index("customer_id")["expected_saving"]["c"] == pytest.approx(7.5)
    with pytest.raises(InputError):
        contact_list(scores.drop(columns="value"), 1.0)
    out = contact_list(scores.drop(columns="value"), 1.0, channels=calls, default_value=100.0)
    assert out["expected_saving"].iloc[0] == pytest.approx(300.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"budget": -1.0},
        {"budget": float("nan")},
        {"budget": 1.0, "channels": {"sms": (-0.1, 0.5)}},
        {"budget": 1.0, "channels": {"sms": (0.1, 1.5)}},
        {"budget": 1.0, "channels": {"sms": {"cost": 0.1}}},
        {"budget": 1.0, "channels": {}},
        {"budget": 1.0, "horizon_months": 0},
    ],
)
def test_bad_arguments_raise_input_error(kwargs):
    scores = _scores(["a"], [0.5], [10.0])
    with pytest.raises(InputError):
        contact_list(scores, **kwargs)


def test_duplicate_ids_and_bad_probabilities_raise():
    with pytest.raises(InputError):
        contact_list(_scores(["a", "a"], [0.5, 0.4], [1.0, 1.0]), 1.0)
    with pytest.raises(InputError):
        contact_list(_scores(["a"], [1.5], [1.0]), 1.0)


def test_free_channel_is_taken_for_everyone_with_positive_saving():
    scores = _scores(["a", "b", "c"], [0.5, 0.0, 0.2], [10.0, 10.0, 10.0])
    out = contact_list(scores, 0.0, channels={"app_push": (0.0, 0.01), "call": (2.0, 0.2)})
    assert sorted(out["customer_id"]) == ["a", "c"]
    assert set(out["channel"]) == {"app_push"}
    assert out["cost"].sum() == 0.0


def test_greedy_matches_reference_and_is_within_half_of_brute_force_optimum():
    rng = np.random.default_rng(7)
    ratios, exact = [], 0
    for _ in range(60):
        n, k = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        costs = np.round(rng.uniform(0.0, 3.0, k), 2)
        effects = np.round(rng.uniform(0.0, 0.5, k), 3)
        probs = rng.uniform(0, 1, n)
        values = rng.uniform(0, 10, n)
        budget = float(np.round(rng.uniform(0, 6), 2))
        ids = [str(i) for i in range(n)]
        channels = {f"ch{j}": (costs[j], effects[j]) for j in range(k)}
        out = contact_list(_scores(ids, probs, values), budget, channels=channels)
        total = out["net_saving"].sum()
        weight = probs * values * 12
        opt = _brute_force(weight, costs, effects, budget)
        assert out["cost"].sum() <= budget + 1e-9
        assert out["customer_id"].is_unique
        assert total <= opt + 1e-9
        assert total >= 0.5 * opt - 1e-9
        assert total == pytest.approx(_sequential_greedy(weight, costs, effects, budget), abs=1e-9)
        ratios.append(total / opt if opt > 0 else 1.0)
        exact += bool(np.isclose(total, opt))
    # The half is a worst-case bound; on these small random cases the greedy is usually exact.
    assert exact >= 40
    assert np.mean(ratios) > 0.95


def test_budget_for_everyones_best_option_gives_the_optimum_exactly():
    rng = np.random.default_rng(3)
    probs, values = rng.uniform(0, 1, 5), rng.uniform(1, 50, 5)
    costs = np.array([0.05, 0.01, 2.0])
    effects = np.array([0.03, 0.01, 0.2])
    out = contact_list(_scores(list("abcde"), probs, values), 100.0)
    net = np.outer(probs * values * 12, effects) - costs
    assert out["net_saving"].sum() == pytest.approx(np.clip(net.max(axis=1), 0, None).sum())
    assert out["net_saving"].sum() == pytest.approx(_brute_force(probs * values * 12, costs, effects, 100.0))


def test_large_list_respects_budget_and_is_ordered_by_priority():
    rng = np.random.default_rng(0)
    n = 5000
    scores = _scores([f"c{i:05d}" for i in range(n)], rng.beta(1, 6, n), rng.gamma(2.0, 15.0, n))
    budget = 250.0
    out = contact_list(scores, budget)
    assert out["cumulative_cost"].iloc[-1] <= budget + 1e-9
    assert np.allclose(out["cumulative_cost"], np.cumsum(out["cost"]))
    assert out["customer_id"].is_unique
    assert (out["net_saving"] > 0).all()
    assert set(out["channel"]) <= set(DEFAULT_CHANNELS)
    # the budget is nearly used up: what is left is less than one more call
    assert budget - out["cost"].sum() < DEFAULT_CHANNELS["call"].cost
    again = contact_list(scores, budget)
    pd.testing.assert_frame_equal(out, again)


def test_free_channel_contacts_are_in_priority_order_not_id_order():
    # Every customer's saving per unit of cost is unbounded on a free channel, so the list goes by
    # net saving (weight * 0.05): d 48 > b 5.4 > c 3 > a 0.6 -- the reverse of neither id nor row order.
    scores = _scores(["a", "b", "c", "d"], [0.1, 0.9, 0.5, 0.8], [10.0, 10.0, 10.0, 100.0])
    free = {"push": (0.0, 0.05)}
    out = contact_list(scores, 0.0, channels=free)
    assert out["customer_id"].tolist() == ["d", "b", "c", "a"]
    assert out["net_saving"].tolist() == pytest.approx([48.0, 5.4, 3.0, 0.6])
    assert out["cumulative_cost"].tolist() == [0.0, 0.0, 0.0, 0.0]
    pd.testing.assert_frame_equal(contact_list(scores.iloc[[3, 1, 0, 2]], 0.0, channels=free), out)
    # With a paid channel next to it: d is upgraded to the one call the budget allows; the
    # greedy took d first (on the free channel), but the row is a paid call now, so it comes
    # after the free contacts, which keep their order by net saving.
    mixed = contact_list(scores, 2.0, channels={"push": (0.0, 0.05), "call": (2.0, 0.2)})
    assert mixed["customer_id"].tolist() == ["b", "c", "a", "d"]
    assert mixed["channel"].tolist() == ["push", "push", "push", "call"]
    assert mixed["cumulative_cost"].tolist() == pytest.approx([0.0, 0.0, 0.0, 2.0])


def test_each_row_is_ordered_by_its_own_saving_per_unit_of_cost():
    # Upgrades make the greedy's first-step order differ from the rows' own ratios.
    rng = np.random.default_rng(0)
    n = 60
    scores = _scores([f"c{i:02d}" for i in range(n)], rng.uniform(0.01, 0.9, n),
                     rng.uniform(5, 80, n))
    out = contact_list(scores, 40.0)  # the default sms / email / call channels
    assert len(set(out["channel"])) >= 2
    ratio = out["expected_saving"] / out["cost"]
    assert ratio.is_monotonic_decreasing


def test_paid_contacts_are_listed_most_saving_per_cost_first():
    # One paid channel: saving per unit of cost follows the weight (p * value * 12), whatever the ids.
    scores = _scores(["a", "b", "c"], [0.2, 0.9, 0.5], [10.0, 10.0, 10.0])
    out = contact_list(scores, 10.0, channels={"sms": (0.05, 0.03)})
    assert out["customer_id"].tolist() == ["b", "c", "a"]
    assert out["net_saving"].is_monotonic_decreasing


@pytest.mark.parametrize("channels, words", [
    ({}, "non-empty mapping"), (None, "non-empty mapping"), ([], "non-empty mapping"),
    ({"sms": {"cost": "1", "effect": 0.1}}, "must be numbers"),
    ({"sms": {"cost": True, "effect": 0.1}}, "must be numbers"),
    ({"": {"cost": 1, "effect": 0.1}}, "non-empty name"),
    ({"sms": {"cost": 1, "effect": 0.1, "extra": 3}}, "unknown key(s) extra"),
])
def test_malformed_channels_are_refused(channels, words):
    scores = _scores(["a"], [0.5], [10.0])
    with pytest.raises(InputError, match=re.escape(words)):
        contact_list(scores, 10.0, channels=channels)
