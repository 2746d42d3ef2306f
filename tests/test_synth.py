"""The synthetic world: determinism, schema, and that the planted structure is really there.

Every statistical check is computed from the generated tables (the log and the customer
table), the way a downstream model would see them, and compared with the planted truth.
"""

from __future__ import annotations

import gzip
import random

import igraph as ig
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import normalized_mutual_info_score, roc_auc_score

from graphchurn.errors import InputError
from graphchurn.synth.world import PLANS, World, generate_world, write_world

COLUMNS = ["src", "dst", "timestamp", "duration", "kind"]


@pytest.fixture(scope="module")
def world() -> World:
    """The default world (2,000 customers, 120 days, seed 0), with hazard snapshots."""
    return generate_world(hazard_days=[60, 90, 120])


@pytest.fixture(scope="module")
def short() -> World:
    """The default world stopped after 90 days."""
    return generate_world(days=90)


@pytest.fixture(scope="module")
def small() -> World:
    return generate_world(n_customers=400, days=30, seed=5)


def _churn_day(world: World) -> np.ndarray:
    """Churn day of every customer counted from the start (inf for stayers)."""
    days = (world.customers["churn_date"] - world.start).dt.days.to_numpy(dtype=float)
    return np.where(np.isnan(days), np.inf, days)


def _pairs(world: World) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    codes, names = pd.factorize(pd.concat([world.interactions["src"],
                                           world.interactions["dst"]], ignore_index=True))
    m = len(world.interactions)
    return codes[:m], codes[m:], pd.Index(names)


# ---------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_world(small):
    again = generate_world(n_customers=400, days=30, seed=5)
    pd.testing.assert_frame_equal(small.interactions, again.interactions)
    pd.testing.assert_frame_equal(small.customers, again.customers)
    pd.testing.assert_frame_equal(small.truth, again.truth)
    pd.testing.assert_frame_equal(small.ties, again.ties)


def test_different_seed_gives_different_world(small):
    other = generate_world(n_customers=400, days=30, seed=6)
    assert not set(other.customers["customer_id"]) & set(small.customers["customer_id"])
    assert len(other.interactions) != len(small.interactions) or not other.interactions.equals(
        small.interactions)


def test_shorter_world_is_a_prefix_of_a_longer_one(world, short):
    # Randomness is drawn per day, so the future never changes the past.
    log = world.interactions
    pd.testing.assert_frame_equal(short.interactions,
                                  log[log["timestamp"] < short.end].reset_index(drop=True))
    known = world.customers["churn_date"].where(world.customers["churn_date"] <= short.end)
    pd.testing.assert_series_equal(short.customers["churn_date"], known)



def test_traffic_days_cuts_the_log_and_nothing_else(small):
    # Traffic draws from its own random stream: stopping it after day 10 leaves every
    # departure as it was, and the log is the first 10 days of the full one.
    cut = generate_world(n_customers=400, days=30, seed=5, traffic_days=10)
    pd.testing.assert_frame_equal(cut.customers, small.customers)
    pd.testing.assert_frame_equal(cut.truth, small.truth)
    pd.testing.assert_frame_equal(cut.ties, small.ties)
    log = small.interactions
    first = log[log["timestamp"] < small.start + pd.Timedelta(days=10)].reset_index(drop=True)
    assert 0 < len(first) < len(log)
    pd.testing.assert_frame_equal(cut.interactions, first)
    assert generate_world(n_customers=400, days=30, seed=5, traffic_days=0).interactions.empty
    with pytest.raises(InputError, match="hazard_days"):
        generate_world(n_customers=400, days=30, seed=5, traffic_days=10, hazard_days=[20])

# ---------------------------------------------------------------------------- schema
def test_interactions_schema(world):
    log = world.interactions
    assert list(log.columns) == COLUMNS
    for col in ("src", "dst", "kind"):
        assert log[col].dtype == pd.StringDtype("pyarrow", na_value=np.nan)
    assert log["timestamp"].dtype == np.dtype("datetime64[ns]")
    assert log["duration"].dtype == np.float64
    assert set(log["kind"].unique()) == {"call", "sms"}
    assert log["timestamp"].is_monotonic_increasing
    assert log["timestamp"].min() >= world.start
    assert log["timestamp"].max() < world.start + pd.Timedelta(days=120)
    sms = log["kind"] == "sms"
    assert (log.loc[sms, "duration"] == 0).all()
    calls = log.loc[~sms, "duration"]
    assert (calls >= 1).all() and (calls == calls.round()).all()
    assert 30 <= calls.median() <= 300  # a typical call lasts a minute or two
    assert (log["src"] != log["dst"]).all()
    # About 1.2 rows per customer per day by default (the 1-3 range of real logs).
    assert 0.9 <= len(log) / (2000 * 120) <= 1.5


def test_customers_and_truth_schema(world):
    cust, truth = world.customers, world.truth
    assert list(cust.columns) == ["customer_id", "churn_date", "value", "tenure_months",
                                  "plan", "age", "region", "support_contacts"]
    assert len(cust) == 2000 and cust["customer_id"].is_unique
    assert cust["customer_id"].str.fullmatch(r"\+447\d{9}").all()
    assert cust["churn_date"].dtype == np.dtype("datetime64[ns]")
    left = cust["churn_date"].dropna()
    assert ((left > world.start) & (left <= world.end)).all()
    assert (left == left.dt.normalize()).all()
    assert set(cust["plan"]) == set(PLANS)
    assert cust["age"].between(18, 90).all() and (cust["tenure_months"] >= 0).all()
    assert (cust["support_contacts"] >= 0).all()
    # Value is tied to the plan: prepaid brings the least.
    median = cust.groupby("plan")["value"].median()
    assert median["prepaid"] < median["family"] < median["postpaid"]

    assert truth["customer_id"].equals(cust["customer_id"])
    gone = cust["churn_date"].notna().to_numpy()
    assert truth["hazard_end"].isna().to_numpy().tolist() == gone.tolist()
    p = truth["p_churn_30d"].dropna()
    assert ((p >= 0) & (p <= 1)).all()
    assert 0.02 <= truth["is_influencer"].mean() <= 0.04


# ---------------------------------------------------------------------------- structure
def test_off_net_share_near_target(world):
    ids = pd.unique(pd.concat([world.interactions["src"], world.interactions["dst"]]))
    off_net = ~pd.Index(ids).isin(world.customers["customer_id"])
    assert abs(off_net.mean() - 0.10) < 0.02
    # The operator only sees traffic that touches one of its customers.
    customers = world.customers["customer_id"]
    touches = world.interactions["src"].isin(customers) | world.interactions["dst"].isin(customers)
    assert touches.all()


def test_most_traffic_stays_within_planted_communities(world):
    community = pd.Series(world.truth["community"].to_numpy(),
                          index=world.truth["customer_id"].to_numpy())
    src = world.interactions["src"].map(community)
    dst = world.interactions["dst"].map(community)
    both = src.notna() & dst.notna()
    within = (src[both] == dst[both]).mean()
    assert 0.8 <= within <= 0.97  # mostly inside, yet communities do mix


def test_leiden_recovers_planted_communities(world):
    a, b, names = _pairs(world)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pair, keys = pd.factorize(lo.astype(np.int64) * len(names) + hi)
    keys = np.asarray(keys)
    graph = ig.Graph(n=len(names), edges=np.column_stack([keys // len(names),
                                                          keys % len(names)]))
    weight = np.bincount(pair, weights=1 + np.log1p(world.interactions["duration"] / 60))
    ig.set_random_number_generator(random.Random(0))
    try:
        found = graph.community_leiden(objective_function="modularity", weights=weight,
                                       n_iterations=-1).membership
    finally:
        ig.set_random_number_generator(random)
    label = pd.Series(found, index=names).reindex(world.truth["customer_id"]).to_numpy(float)
    # A customer with no traffic is its own group.
    label = np.where(np.isnan(label), -1 - np.arange(len(label)), label)
    assert normalized_mutual_info_score(world.truth["community"], label) >= 0.9


def test_degree_tail_is_heavy(world):
    a, b, names = _pairs(world)
    contacts = pd.DataFrame({"a": np.concatenate([a, b]), "b": np.concatenate([b, a])})
    degree = contacts.drop_duplicates().groupby("a").size()
    assert degree.max() >= 6 * degree.median()
    top = degree.sort_values().iloc[-len(degree) // 100:]
    assert top.mean() >= 3 * degree.median()


def test_households_are_small_strong_and_inside_communities(world):
    truth = world.truth
    members = truth[truth["household"] >= 0]
    size = world.ties  # household ties over all people, customers and off-net
    per_household = members.groupby("household")
    assert per_household["community"].nunique().max() == 1
    assert per_household.size().max() <= 5
    assert size.loc[size["household"], "within_community"].all()
    assert size.loc[size["household"], "weight"].median() > 3 * size.loc[
        ~size["household"], "weight"].median()
    # Family plans need a household.
    family = world.customers["plan"] == "family"
    assert (truth.loc[family, "household"] >= 0).all()


def test_influencers_have_more_contacts_and_call_out_more(world):
    a, b, names = _pairs(world)
    out = pd.Series(np.bincount(a, minlength=len(names)), index=names)
    inn = pd.Series(np.bincount(b, minlength=len(names)), index=names)
    degree = pd.DataFrame({"a": np.concatenate([a, b]), "b": np.concatenate([b, a])})
    degree = pd.Series(degree.drop_duplicates().groupby("a").size().reindex(
        range(len(names)), fill_value=0).to_numpy(), index=names)
    ids = world.truth["customer_id"]
    infl = world.truth["is_influencer"].to_numpy()
    deg = degree.reindex(ids).fillna(0).to_numpy()
    share_out = (out / (out + inn)).reindex(ids).to_numpy()
    assert np.median(deg[infl]) > 2 * np.median(deg[~infl])
    assert np.nanmedian(share_out[infl]) > np.nanmedian(share_out[~infl]) + 0.1


def test_daily_and_weekly_rhythm(world):
    ts = world.interactions["timestamp"]
    per_hour = ts.dt.hour.value_counts()
    assert per_hour[19] > 10 * per_hour[4]
    per_weekday = ts.dt.day_of_week.value_counts() / ts.dt.normalize().drop_duplicates(
    ).dt.day_of_week.value_counts()
    assert per_weekday[6] < 0.9 * per_weekday[[0, 1, 2, 3]].mean()  # quieter Sundays


# ---------------------------------------------------------------------------- churn
def test_nothing_after_churn_date(world):
    churn = world.customers.set_index("customer_id")["churn_date"]
    log = world.interactions
    for end in ("src", "dst"):
        date = log[end].map(churn)
        assert not (log["timestamp"] >= date).any()


def test_activity_fades_before_departure(world):
    churn_day = _churn_day(world)
    index = pd.Index(world.customers["customer_id"])
    log = world.interactions
    day = ((log["timestamp"] - world.start).dt.days).to_numpy()
    leavers = np.flatnonzero(churn_day >= 60)
    assert len(leavers) >= 30
    counts = {}
    for end in ("src", "dst"):
        who = index.get_indexer(log[end])
        rel = day - churn_day[np.maximum(who, 0)]
        mine = (who >= 0) & np.isin(who, leavers)
        counts[end] = rel[mine]
    rel = np.concatenate(list(counts.values()))
    before = ((rel >= -50) & (rel < -30)).sum() / 20
    last_week = ((rel >= -7) & (rel < 0)).sum() / 7
    assert last_week < 0.35 * before


def test_hazard_follows_the_stated_formula(world):
    """Exposure and hazard at the end, recomputed by hand from ties and churn dates."""
    truth = world.truth.set_index("customer_id")
    churn = world.customers.set_index("customer_id")["churn_date"]
    ties = world.ties
    both = pd.concat([ties.rename(columns={"a": "me", "b": "other"}),
                      ties.rename(columns={"b": "me", "a": "other"})])
    both = both[both["me"].isin(truth.index)]
    left = both["other"].map(churn)
    recent = (left <= world.end) & (left > world.end - pd.Timedelta(days=30))
    boost = np.where(both["other"].map(truth["is_influencer"]).fillna(False).astype(bool),
                     3.0, 1.0)
    exposed = (both["weight"] * recent * boost).groupby(both["me"]).sum()
    total = both["weight"].groupby(both["me"]).sum()
    expected = (exposed / total).reindex(truth.index).fillna(0.0)
    still = truth["hazard_end"].notna()
    assert (truth.loc[still, "exposure_end"] > 0).sum() > 20
    np.testing.assert_allclose(truth.loc[still, "exposure_end"], expected[still], atol=1e-12)
    undecided = still & truth["decision_date"].isna()
    hazard = np.minimum(truth["baseline_hazard_end"] * (1 + 15.0 * truth["exposure_end"]), 1)
    np.testing.assert_allclose(truth.loc[undecided, "hazard_end"], hazard[undecided])
    decided = still & truth["decision_date"].notna()
    assert (truth.loc[decided, "hazard_end"] == 1.0).all()


def test_baseline_hazard_rises_with_risk_attributes(world):
    t = world.truth.join(world.customers.drop(columns="customer_id"))
    h = t["baseline_hazard_end"]
    assert h[t["plan"] == "prepaid"].median() > 1.5 * h[t["plan"] == "postpaid"].median()
    assert h[t["tenure_months"] < 6].median() > h[t["tenure_months"] > 36].median()
    assert h[t["support_contacts"] >= 2].median() > h[t["support_contacts"] == 0].median()
    # Support contacts are an observable symptom of risk.
    assert np.corrcoef(t["support_contacts"], np.log(h.fillna(h.median())))[0, 1] > 0.2


def test_baseline_churn_rate_matches_monthly_target():
    w = generate_world(n_customers=3000, days=30, contagion_strength=0.0, monthly_churn=0.04)
    decided = w.truth["decision_date"]
    still = ~(decided < w.start)  # not already on the way out at the start
    share = (decided[still] < w.end).mean()
    assert abs(share - 0.04) < 0.012


def _exposed_churn_ratio(world: World, window: int = 30, horizon: int = 30) -> float:
    """Churn rate in the next ``horizon`` days of customer-days with a contact who left in the
    last ``window`` days, over that of customer-days without one."""
    cust = pd.Index(world.customers["customer_id"])
    a = cust.get_indexer(world.interactions["src"])
    b = cust.get_indexer(world.interactions["dst"])
    on = (a >= 0) & (b >= 0)
    n = len(cust)
    adj = sp.coo_matrix((np.ones(on.sum()), (a[on], b[on])), shape=(n, n)).tocsr()
    adj = ((adj + adj.T) > 0).astype(float)
    cd = _churn_day(world)[:, None]
    t = np.arange(world.days)[None, :]
    recent = (cd <= t) & (cd > t - window)
    exposed = (adj @ recent.astype(float)) > 0
    at_risk = (cd > t) & (t <= world.days - horizon)
    churns = cd <= t + horizon
    return churns[at_risk & exposed].mean() / churns[at_risk & ~exposed].mean()


def test_contagion_is_visible_in_churn_dates():
    knobs = dict(n_customers=2000, days=120, seed=1, monthly_churn=0.04)
    on = generate_world(contagion_strength=30.0, **knobs)
    off = generate_world(contagion_strength=0.0, **knobs)
    ratio_on, ratio_off = _exposed_churn_ratio(on), _exposed_churn_ratio(off)
    assert ratio_on > 1.8
    assert ratio_on > 2 * ratio_off
    assert on.customers["churn_date"].notna().sum() > 1.2 * off.customers[
        "churn_date"].notna().sum()


def test_hazard_snapshots_and_true_30_day_probability(world, short):
    snaps = world.hazard_snapshots
    assert list(snaps.columns) == [60, 90, 120]
    assert snaps.index.equals(pd.Index(world.customers["customer_id"], name="customer_id"))
    np.testing.assert_array_equal(snaps[120].to_numpy(), world.truth["hazard_end"].to_numpy())
    gone_at_60 = (world.customers["churn_date"] <= world.start + pd.Timedelta(days=60))
    assert snaps[60].isna().to_numpy().tolist() == gone_at_60.to_numpy().tolist()
    # The true 30-day probability at day 90 is calibrated on what happens on days 91-120.
    p = short.truth["p_churn_30d"]
    active = p.notna().to_numpy()
    date = world.customers["churn_date"]
    happened = ((date > short.end) & (date <= short.end + pd.Timedelta(days=30))).to_numpy()
    assert abs(p[active].sum() - happened[active].sum()) < 3 * np.sqrt(happened.sum()) + 3
    assert roc_auc_score(happened[active], p[active]) > 0.85


def test_log_forecast_is_calibrated_and_sits_between_the_hidden_and_the_full_truth(world, short):
    """The best forecast from the log: calibrated on what happens next, better than a model
    blind to who is fading out, worse than knowing every decision."""
    forecast = world.log_forecast_snapshots
    assert list(forecast.columns) == [60, 90, 120]
    assert forecast.index.equals(world.hazard_snapshots.index)
    np.testing.assert_array_equal(forecast.isna().to_numpy(), world.hazard_snapshots.isna().to_numpy())
    p = forecast[90].to_numpy()
    active = ~np.isnan(p)
    assert ((p[active] > 0) & (p[active] < 1)).all()
    date = world.customers["churn_date"]
    cut = short.end
    happened = ((date > cut) & (date <= cut + pd.Timedelta(days=30))).to_numpy()[active]
    assert abs(p[active].sum() - happened.sum()) < 3 * np.sqrt(happened.sum()) + 3
    truth = short.truth
    gamma = short.params["contagion_strength"]
    hidden = np.minimum(truth["baseline_hazard_end"] * (1 + gamma * truth["exposure_end"]), 1)
    auc = {name: roc_auc_score(happened, score[active]) for name, score in (
        ("forecast", p), ("decision hidden", hidden.to_numpy()),
        ("full truth", truth["p_churn_30d"].to_numpy()))}
    assert auc["decision hidden"] + 0.01 < auc["forecast"] < auc["full truth"] - 0.05
    # The traffic fade is what lifts it: customers who had decided by day 90 score higher.
    decided = (truth["decision_date"] < cut).to_numpy()[active]
    assert p[active][decided].mean() > 2 * p[active][~decided].mean()


def test_log_forecast_with_fades_longer_than_the_horizon():
    """A fade of 35-40 days: whoever leaves within 30 days had decided before the cut-off, so
    the forecast rests on the traffic evidence alone (and used to fail looking up a fade).
    It overstates churn by about a third at such fades (see _LogForecast), hence the bounds."""
    long = generate_world(n_customers=800, days=100, seed=3, monthly_churn=0.08,
                          fade_days=(35, 40), hazard_days=[70])
    p = long.log_forecast_snapshots[70].to_numpy()
    active = ~np.isnan(p)
    assert ((p[active] > 0) & (p[active] < 1)).all()
    cut = long.start + pd.Timedelta(days=70)
    date = long.customers["churn_date"]
    happened = ((date > cut) & (date <= cut + pd.Timedelta(days=30))).to_numpy()[active]
    assert 0.8 * happened.sum() < p[active].sum() < 1.6 * happened.sum()
    assert roc_auc_score(happened, p[active]) > 0.8


def test_forced_departure_happens_on_the_given_day(world):
    truth = world.truth
    candidates = truth[truth["is_influencer"] & truth["true_churn_date"].isna()]
    who = candidates["customer_id"].iloc[0]
    fade = int(candidates["fade_days"].iloc[0])
    forced = generate_world(hazard_days=[60, 90, 120], forced_departures={who: 40})
    day40 = world.start + pd.Timedelta(days=40)
    cust = forced.customers.set_index("customer_id")
    assert cust.loc[who, "churn_date"] == day40
    log = forced.interactions
    mine = (log["src"] == who) | (log["dst"] == who)
    assert not (log.loc[mine, "timestamp"] >= day40).any()
    assert mine.sum() > 0
    # Counterfactual: identical until the forced customer starts fading out ...
    fade_start = day40 - pd.Timedelta(days=fade)
    base = world.interactions
    pd.testing.assert_frame_equal(log[log["timestamp"] < fade_start],
                                  base[base["timestamp"] < fade_start])
    # ... and nobody else's departure changes before the contagion could act on it.
    others = world.customers["customer_id"] != who
    early = world.start + pd.Timedelta(days=40 + 14)
    before = world.customers["churn_date"].where(world.customers["churn_date"] < early)
    after = forced.customers["churn_date"].where(forced.customers["churn_date"] < early)
    pd.testing.assert_series_equal(before[others], after[others])


def test_bad_forced_departure_is_refused_without_echoing_the_id():
    with pytest.raises(InputError) as err:
        generate_world(n_customers=100, days=10, forced_departures={"+447000000000": 3})
    assert "+447000000000" not in str(err.value)


# ---------------------------------------------------------------------------- writing
def test_write_world_csv_round_trip(small, tmp_path):
    paths = write_world(small, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "customers.csv", "interactions.csv.gz", "truth.csv"]
    with gzip.open(paths["interactions"], "rt") as fh:
        header = fh.readline().strip()
        first = fh.readline().strip().split(",")
    assert header == "src,dst,timestamp,duration,kind"
    assert pd.Timestamp(first[2]).isoformat() == first[2]  # ISO 8601 date-time
    log = pd.read_csv(paths["interactions"], dtype={"src": str, "dst": str})
    assert len(log) == len(small.interactions)
    assert (log["src"] == small.interactions["src"].to_numpy()).all()
    np.testing.assert_array_equal(pd.to_datetime(log["timestamp"]).to_numpy(),
                                  small.interactions["timestamp"].to_numpy())
    np.testing.assert_array_equal(log["duration"], small.interactions["duration"])
    cust = pd.read_csv(paths["customers"], dtype={"customer_id": str, "churn_date": str},
                       keep_default_na=False)
    stayed = small.customers["churn_date"].isna().to_numpy()
    assert (cust.loc[stayed, "churn_date"] == "").all()
    assert cust.loc[~stayed, "churn_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    truth = pd.read_csv(paths["truth"], dtype={"customer_id": str})
    assert list(truth.columns) == list(small.truth.columns)


def test_write_world_parquet_keeps_dtypes(small, tmp_path):
    paths = write_world(small, tmp_path, fmt="parquet")
    back = pd.read_parquet(paths["interactions"])
    pd.testing.assert_frame_equal(back, small.interactions, check_dtype=False)
    assert back["timestamp"].dtype == np.dtype("datetime64[ns]")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
