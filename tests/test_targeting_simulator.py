"""Campaign simulator in the generator (issue 24, item 3)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from graphchurn.synth.campaign import (
    CampaignWorld,
    observed_risk_score,
    planted_effects,
)


@pytest.fixture(scope="module")
def cw():
    return CampaignWorld({"n_customers": 600, "seed": 3}, as_of_day=70, horizon_days=40,
                         history_days=(10, 25), history_window=45)


def test_no_campaign_retains_nothing_and_contacts_never_add_leavers(cw):
    assert cw.retained_value({}) == 0.0
    p = cw.true_risk().dropna()
    contacts = {c: "call" for c in p.sort_values(ascending=False).index[:80]}
    lost = cw.lost(contacts)
    assert (lost <= cw.baseline_lost).all()  # staying only lowers others' exposure
    assert cw.retained_value(contacts) > 0


def test_a_pending_leaver_who_responds_is_kept(cw):
    p = cw.true_risk()
    pending = p.index[(p == 1.0).to_numpy()]
    u = cw._u[cw.as_of_day]
    pos = cw.ids.get_indexer(pending)
    responds = pending[u[pos] < cw.effects["call"].to_numpy()[pos]]
    assert len(responds) > 0
    lost = cw.lost({c: "call" for c in responds})
    assert lost[cw.ids.get_indexer(responds)].sum() == 0
    assert cw.baseline_lost[cw.ids.get_indexer(responds)].sum() == len(responds)


def test_planted_responders_differ_from_high_risk_customers(cw):
    customers = cw.world.customers
    eff = planted_effects(customers)
    prepaid = (customers["plan"] == "prepaid").to_numpy()
    assert eff["call"][prepaid].mean() < eff["call"][~prepaid].mean()
    assert (eff["sms"] <= eff["call"]).all()
    p = cw.true_risk()
    ok = p.notna().to_numpy()
    assert np.corrcoef(p[ok], eff["call"][ok])[0, 1] < 0.1


def test_history_is_a_randomised_campaign_table(cw):
    h = cw.history
    assert list(h.columns) == ["customer_id", "contact_date", "offer", "outcome"]
    assert set(h["offer"]) == {"none", "sms", "call"}
    assert h["contact_date"].nunique() == 2
    assert set(h["outcome"]) <= {0, 1}
    share = (h["offer"] != "none").mean()
    assert 0.4 < share < 0.6


def test_a_past_campaign_whose_window_ends_after_as_of_is_refused():
    with pytest.raises(ValueError, match="window"):
        CampaignWorld({"n_customers": 100, "seed": 0}, as_of_day=60, history_days=(10, 30),
                      history_window=45)


def test_default_responders_are_the_default_setting(cw):
    assert cw.responders == "default"
    pd.testing.assert_frame_equal(planted_effects(cw.world.customers),
                                  planted_effects(cw.world.customers, responders="default"))
    with pytest.raises(ValueError, match="responders"):
        planted_effects(cw.world.customers, responders="sleepy")


def test_persuadables_plant_lost_causes_at_the_top_of_the_risk():
    cw = CampaignWorld({"n_customers": 1500, "seed": 4}, as_of_day=70, horizon_days=40,
                       history_days=(10, 25), history_window=45, responders="persuadables")
    customers = cw.world.customers
    eff = cw.effects["call"].to_numpy()
    r = pd.Series(observed_risk_score(customers)).rank(pct=True).to_numpy()
    # the bands of the module docstring: lost causes 0.1, persuadables 1.6, the rest 1.0
    assert eff[r >= 0.8] == pytest.approx(0.045)
    assert eff[(r >= 0.4) & (r < 0.8)] == pytest.approx(0.72)
    assert eff[r < 0.4] == pytest.approx(0.45)
    # the observed score is the risk the world draws from: the lost causes are the risky ones
    p = cw.true_risk()
    ok = p.notna().to_numpy()
    assert p[ok & (r >= 0.8)].mean() > 1.5 * p[ok & (r < 0.8)].mean()
    # above the median risk, the riskier the customer, the weaker its response
    top = ok & (p >= p[ok].median()).to_numpy()
    assert spearmanr(p[top], eff[top])[0] < -0.2
    # uplift ranks customers less like risk than with the default responders
    up_p = spearmanr(p[ok], p[ok] * eff[ok])[0]
    eff_d = planted_effects(customers)["call"].to_numpy()
    up_d = spearmanr(p[ok], p[ok] * eff_d[ok])[0]
    assert up_p < up_d - 0.2


def test_sleeping_dogs_are_driven_away_by_a_contact():
    cw = CampaignWorld({"n_customers": 600, "seed": 3}, as_of_day=70, horizon_days=40,
                       history_days=(10, 25), history_window=45, sleeping_dogs=0.1)
    customers = cw.world.customers
    # the oldest tenth (60 customers) get minus the base effect; the others their planted one
    dogs = (cw.effects["call"] < 0).to_numpy()
    assert dogs.sum() == 60
    assert customers["age"].to_numpy()[dogs].min() >= customers["age"].to_numpy()[~dogs].max()
    assert (cw.effects.loc[dogs, "call"] == -0.45).all()
    assert (cw.effects.loc[dogs, "sms"] == -0.10).all()
    plain = planted_effects(customers)
    pd.testing.assert_frame_equal(cw.effects[~dogs], plain[~dogs])
    # a dog called in a past campaign whose response uniform falls below 0.45 left within its
    # window (gone 21 days after the call)
    h = cw.history.set_index("customer_id")
    first = h[h["contact_date"] == h["contact_date"].min()]
    u = pd.Series(cw._u[10], index=cw.ids)
    driven = [c for c in cw.ids[dogs] if c in first.index and first.loc[c, "offer"] == "call"
              and u[c] < 0.45]
    assert driven and (first.loc[driven, "outcome"] == 1).all()
    # at as-of: calling the active dogs who would stay and whose uniform is below 0.45 loses them
    u = cw._u[cw.as_of_day]
    active = cw.true_risk().notna().to_numpy()
    target = cw.ids[dogs & active & (u < 0.45) & (cw.baseline_lost == 0)]
    assert len(target) > 0
    lost = cw.lost({c: "call" for c in target})
    assert lost[cw.ids.get_indexer(target)].sum() == len(target)
    assert cw.retained_value({c: "call" for c in target}) < 0


def test_a_kept_customer_stays_and_without_contagion_keeps_nobody_else():
    kwargs = {"n_customers": 600, "seed": 3, "contagion_strength": 0.0}
    cw0 = CampaignWorld(kwargs, as_of_day=70, horizon_days=40, history_days=(10, 25),
                        history_window=45)
    leavers = cw0.ids[cw0.baseline_lost == 1]
    assert len(leavers) > 3
    for cid in leavers[:3]:
        lost = cw0.lost({}, kept=[cid])
        i = cw0.ids.get_loc(cid)
        assert lost[i] == 0
        others = np.arange(len(lost)) != i
        # no contagion: its staying changes nobody else's departure
        assert (lost[others] == cw0.baseline_lost[others]).all()


def test_keeping_every_leaver_loses_nobody(cw):
    # fewer departures only lower everyone's exposure, and the draws are the same: nobody who
    # stayed without the campaign can leave once the window's leavers are all kept
    leavers = list(cw.ids[cw.baseline_lost == 1])
    assert len(leavers) > 0
    assert cw.lost({}, kept=leavers).sum() == 0
    some = leavers[: len(leavers) // 2]
    lost = cw.lost({}, kept=some)
    assert (lost <= cw.baseline_lost).all() and lost[cw.ids.get_indexer(some)].sum() == 0


def test_a_longer_count_window_counts_the_campaign_window_and_more(cw):
    assert (cw.lost({}, horizon_days=cw.horizon_days) == cw.baseline_lost).all()
    longer = cw.lost({}, horizon_days=cw.horizon_days + 30)
    assert (longer >= cw.baseline_lost).all() and longer.sum() > cw.baseline_lost.sum()
