"""Uplift from past campaigns (issue 24, item 4): Qini by hand, learners on planted responders."""

import numpy as np
import pandas as pd
import pytest

from graphchurn.errors import InputError
from graphchurn.targeting.uplift import (
    _decide,
    average_effect,
    fit_uplift,
    qini_at_depth,
    qini_coefficient,
    qini_curve,
    reliability_slope,
)


def test_qini_curve_by_hand():
    # sorted by score: T stay, C leave, T leave, C stay
    k, q = qini_curve([0.9, 0.8, 0.5, 0.1], [1, 0, 1, 0], [1, 0, 0, 1])
    # Q(k) = R_T - R_C * N_T / N_C:  k=1: 1 - 0 = 1 (N_C = 0 -> 0); k=2: 1 - 0 = 1;
    # k=3: 1 - 0 * 2 / 1 = 1; k=4: 1 - 1 * 2 / 2 = 0
    assert q.tolist() == pytest.approx([0, 1, 1, 1, 0])
    # mean of Q(k) - k/4 * Q(4) = 3/5, per treated customer (2): 0.3
    assert qini_coefficient([0.9, 0.8, 0.5, 0.1], [1, 0, 1, 0], [1, 0, 0, 1]) == pytest.approx(0.3)
    # reversed ranking is worse than random
    assert qini_coefficient([0.1, 0.2, 0.5, 0.9], [1, 0, 1, 0], [1, 0, 0, 1]) < 0


def test_qini_at_depth_by_hand():
    # sorted by score: T stay, C leave, T leave, C leave
    treated, stayed = [1, 0, 1, 0], [1, 0, 0, 0]
    # Q(k) = R_T - R_C * N_T / N_C = 1 for k = 1..4 (no control stays), so Q(n) = 1
    # top half (k = 1, 2): mean of Q(k) - k/4 * Q(4) = (0.75 + 0.5) / 2 = 0.625, per treated: 0.3125
    assert qini_at_depth([0.9, 0.8, 0.5, 0.1], treated, stayed, 0.5) == pytest.approx(0.3125)
    # a share below one customer reads the first: 0.75 / 2
    assert qini_at_depth([0.9, 0.8, 0.5, 0.1], treated, stayed, 0.01) == pytest.approx(0.375)
    # the whole ranking: (0.75 + 0.5 + 0.25 + 0) / 4 / 2; qini_coefficient averages k = 0 too
    assert qini_at_depth([0.9, 0.8, 0.5, 0.1], treated, stayed, 1.0) == pytest.approx(0.1875)
    assert qini_coefficient([0.9, 0.8, 0.5, 0.1], treated, stayed) == pytest.approx(0.15)


def test_reliability_slope_by_hand():
    # q = 1, half treated: observed effect y* = churned (2 for a control leaver, -2 for a
    # treated one, 0 for a stayer). Learned effects 1, 1, 1, 0, 0, 0 around the average 0.5:
    # departures +-0.5 (mean 0), sum of squares 1.5; observed - average: 1.5 for the one
    # leaver (a control, among the learned responders), -0.5 for the five stayers, whose
    # departures sum to -0.5: slope = (0.5 * 1.5 + 0.5 * 0.5) / 1.5 = 2/3
    uplift = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    treated, churned = [0, 1, 0, 1, 0, 1], [1, 0, 0, 0, 0, 0]
    assert reliability_slope(uplift, 1.0, 0.5, treated, churned, 0.5) == pytest.approx(2 / 3)
    # the same at q = 0.5 (uplift 0.5 is effect 1): the leaver's observed effect doubles to 4,
    # slope 4/3, clipped to 1
    half = [u / 2 for u in uplift]
    assert reliability_slope(half, 0.5, 0.5, treated, churned, 0.5) == 1.0
    # the leaver among the learned non-responders: slope -2/3, clipped to 0
    assert reliability_slope(uplift[::-1], 1.0, 0.5, treated, churned, 0.5) == 0.0
    # one effect for all departs from nothing
    assert reliability_slope([0.3] * 6, 1.0, 0.5, treated, churned, 0.5) == 0.0


def _planted(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)],
                              "age": rng.integers(18, 80, n),
                              "plan": rng.choice(["prepaid", "postpaid"], n)})
    risk = np.where(customers["plan"] == "prepaid", 0.4, 0.2)
    effect = np.where(customers["age"] < 40, 0.8, 0.0)  # responders: the young
    rows = []
    for d, date in enumerate(pd.to_datetime(["2025-01-10", "2025-02-10"])):
        t = rng.random(n) < 0.5
        leave = rng.random(n) < risk
        kept = t & (rng.random(n) < effect)
        rows.append(pd.DataFrame({"customer_id": customers["customer_id"], "contact_date": date,
                                  "offer": np.where(t, "call", "none"),
                                  "outcome": (leave & ~kept).astype(int)}))
    return customers, pd.concat(rows, ignore_index=True), risk * effect


def test_learners_find_the_planted_responders_and_are_compared_on_held_out_campaigns():
    customers, history, true_uplift = _planted()
    result = fit_uplift(history, customers)
    comp = result.comparison
    assert set(comp["learner"]) == {"two_model", "class_transformation", "risk_bands"}
    assert comp["selected"].sum() == 1
    # each of the two campaigns held out in turn: every row scored once
    assert (comp["n_test"] == 8000).all() and (comp["n_folds"] == 2).all()
    # responders by age, risk by plan: bands of risk cannot find them
    assert comp.set_index("learner").loc["risk_bands", "qini"] < comp["qini"].max()
    assert comp["qini"].max() > 0.01  # random targeting: 0
    pred = result.uplift["call"].reindex(customers["customer_id"]).to_numpy()
    assert np.corrcoef(pred, true_uplift)[0, 1] > 0.6
    # the effect is the share of would-be leavers kept: 0.8 for the young, 0 for the others,
    # whatever their risk (0.4 prepaid, 0.2 postpaid): the learned effect, before shrinking
    eff = result.effects(fallback=False)["call"].reindex(customers["customer_id"]).to_numpy()
    assert eff.min() >= 0 and eff.max() <= 1
    young = (customers["age"] < 40).to_numpy()
    assert abs(eff[young].mean() - 0.8) < 0.15 and eff[~young].mean() < 0.15
    q = result.control_churn.reindex(customers["customer_id"]).to_numpy()
    prepaid = (customers["plan"] == "prepaid").to_numpy()
    assert q[prepaid].mean() == pytest.approx(0.4, abs=0.05)
    assert q[~prepaid].mean() == pytest.approx(0.2, abs=0.05)
    # the young responders are not the prepaid risky ones: the learned ranking is kept
    decision = result.decision.loc["call"]
    assert decision["ranking"] == "learned" and decision["qini"] > decision["qini_risk"]
    # ages 18..79, 22 of 62 under 40 (and risk independent of age): 0.8 * 22 / 62 = 0.28
    assert decision["average_effect"] == pytest.approx(0.8 * 22 / 62, abs=0.05)
    # the learned effect kept, shrunk towards the average by its held-out reliability
    w = decision["reliability"]
    assert 0 < w <= 1
    learned = result.effects(fallback=False)
    avg = decision["average_effect"]
    pd.testing.assert_frame_equal(result.effects(), avg + w * (learned - avg))
    pd.testing.assert_frame_equal(result.effects(shrink=False), learned)
    # every row of both campaigns held out once, scored without its campaign
    held = result.held_out
    assert len(held) == 8000 and held.groupby("fold").size().tolist() == [4000, 4000]


def test_without_history_it_says_so():
    customers, history, _ = _planted(100)
    with pytest.raises(InputError, match="no campaign history"):
        fit_uplift(history.iloc[:0], customers)
    with pytest.raises(InputError, match="control group"):
        fit_uplift(history[history["offer"] != "none"], customers)


def test_average_effect_by_hand():
    # controls: 2 of 4 churn (q = 0.5); treated: 1 of 4 (0.25): (0.5 - 0.25) / 0.5 = 0.5
    assert average_effect([0, 0, 0, 0, 1, 1, 1, 1], [1, 1, 0, 0, 1, 0, 0, 0]) == 0.5
    # a contact that raises churn has effect 0 (clipped); no leaver among the controls: 0
    assert average_effect([0, 0, 1, 1], [0, 1, 1, 1]) == 0.0
    assert average_effect([0, 0, 1, 1], [0, 0, 0, 1]) == 0.0


def test_the_learned_ranking_must_beat_the_risk_ranking():
    t, y = [0, 0, 0, 0, 1, 1, 1, 1], [1, 1, 0, 0, 1, 0, 0, 0]
    kept = _decide("call", "two_model", 0.031, 0.030, t, y)
    assert kept["ranking"] == "learned" and "risk x learned effect" in kept["note"]
    for qini in (0.030, 0.029):  # a tie is no evidence for the learned ranking
        back = _decide("call", "two_model", qini, 0.030, t, y)
        assert back["ranking"] == "risk" and back["average_effect"] == 0.5
        assert "does not beat the risk ranking" in back["note"]
    # a learned ranking that wins but whose departures the held-out outcomes do not confirm
    unconfirmed = _decide("call", "two_model", 0.031, 0.030, t, y, reliability=0.0)
    assert unconfirmed["ranking"] == "risk" and "reliability 0" in unconfirmed["note"]


def test_a_history_too_small_to_split_falls_back_to_the_average_effect():
    # Campaign 1 calls a-d (e-h control), campaign 2 the reverse (tests/test_targeting_cli.py):
    # 8 rows per campaign cannot be split (30 per leaf), so the learned uplift and the risk
    # ranking are both constant and rank the held-out campaign alike: a tie, so the offer uses
    # the average effect: controls churn 3 of 8, the called 1 of 8: (3/8 - 1/8) / (3/8) = 2/3.
    ids = list("abcdefgh")
    customers = pd.DataFrame({"customer_id": ids, "age": [25, 60, 33, 47, 52, 29, 38, 71]})
    churned = {("2025-01-10", "a"), ("2025-01-10", "e"), ("2025-01-10", "f"),
               ("2025-02-10", "b")}
    history = pd.DataFrame([{"customer_id": c, "contact_date": pd.Timestamp(d),
                             "offer": "call" if c in called else "none",
                             "outcome": int((d, c) in churned)}
                            for d, called in (("2025-01-10", "abcd"), ("2025-02-10", "efgh"))
                            for c in ids])
    result = fit_uplift(history, customers)
    decision = result.decision.loc["call"]
    assert decision["qini"] == decision["qini_risk"]
    assert decision["ranking"] == "risk"
    assert decision["average_effect"] == pytest.approx(2 / 3)
    assert result.effects()["call"].to_numpy() == pytest.approx([2 / 3] * 8)


def test_risk_bands_find_lost_causes_at_the_top_of_the_risk():
    # risk 0.1 / 0.3 / 0.6 by plan; the riskiest (prepaid) respond 0.05, the others 0.6
    rng = np.random.default_rng(2)
    n = 6000
    plan = rng.choice(["family", "postpaid", "prepaid"], n)
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "plan": plan})
    risk = np.select([plan == "family", plan == "postpaid"], [0.1, 0.3], 0.6)
    effect = np.where(plan == "prepaid", 0.05, 0.6)
    rows = []
    for date in pd.to_datetime(["2025-01-10", "2025-02-10", "2025-03-10"]):
        t = rng.random(n) < 0.5
        leave = (rng.random(n) < risk) & ~(t & (rng.random(n) < effect))
        rows.append(pd.DataFrame({"customer_id": customers["customer_id"], "contact_date": date,
                                  "offer": np.where(t, "call", "none"),
                                  "outcome": leave.astype(int)}))
    result = fit_uplift(pd.concat(rows, ignore_index=True), customers, learners=("risk_bands",))
    eff = result.effects(fallback=False)["call"].reindex(customers["customer_id"]).to_numpy()
    assert eff[plan == "prepaid"].mean() == pytest.approx(0.05, abs=0.05)
    assert eff[plan != "prepaid"].mean() == pytest.approx(0.6, abs=0.1)
    decision = result.decision.loc["call"]
    # ranking by risk calls the lost causes first: the bands rank the held-out campaigns better
    assert decision["ranking"] == "learned" and decision["qini"] > decision["qini_risk"] + 0.02
