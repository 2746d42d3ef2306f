"""Feature tables: no peeking past the cut-off, exposure computed by hand, reasons in words."""

import numpy as np
import pandas as pd
import pytest

from graphchurn.features import build_features, describe_reasons, reason_texts
from graphchurn.synth import generate_world


@pytest.fixture(scope="module")
def world():
    return generate_world(n_customers=300, days=90, seed=3)


def _features(log, customers, cutoff, definition):
    return build_features(log, customers, cutoff, definition=definition, horizon_days=20,
                          window_days=60, seed=1).table


@pytest.mark.parametrize("definition", ["contract", "inactivity"])
def test_future_rows_and_churn_dates_change_nothing(world, definition):
    cutoff = pd.Timestamp(world.interactions["timestamp"].min()).normalize() + pd.Timedelta(days=60)
    log, customers = world.interactions, world.customers
    honest = _features(log[log["timestamp"] < cutoff], _blank_after(customers, cutoff), cutoff,
                       definition)

    # The future as recorded, plus made-up future rows and future churn dates.
    future = log[log["timestamp"] >= cutoff]
    invented = future.sample(n=min(2000, len(future)), random_state=0).assign(
        timestamp=lambda f: f["timestamp"] + pd.Timedelta(days=3), duration=999.0)
    noisy_customers = customers.copy()
    stayers = noisy_customers["churn_date"].isna()
    noisy_customers.loc[stayers, "churn_date"] = cutoff + pd.Timedelta(days=5)
    with_future = _features(pd.concat([log, invented], ignore_index=True), noisy_customers,
                            cutoff, definition)

    assert len(honest) > 100
    assert honest.index.equals(with_future.index)
    pd.testing.assert_frame_equal(honest, with_future)


def _blank_after(customers, cutoff):
    out = customers.copy()
    out.loc[out["churn_date"] > cutoff, "churn_date"] = pd.NaT
    return out


def _log(rows):
    return pd.DataFrame({
        "src": pd.Series([r[0] for r in rows], dtype="str"),
        "dst": pd.Series([r[1] for r in rows], dtype="str"),
        "timestamp": pd.to_datetime([r[2] for r in rows]),
        "duration": 0.0, "kind": "sms"})


def test_exposure_features_by_hand():
    # c talks to a (2 SMS) and b (1 SMS) and d (1 SMS); a left on Jan 20 (contract churn date).
    rows = [("c", "a", "2025-01-05"), ("c", "a", "2025-01-06"), ("c", "b", "2025-01-07"),
            ("c", "d", "2025-01-08"), ("b", "d", "2025-01-25"), ("d", "b", "2025-01-26"),
            ("a", "b", "2025-01-09")]
    customers = pd.DataFrame({
        "customer_id": pd.Series(list("abcd"), dtype="str"),
        "churn_date": pd.to_datetime(["2025-01-20", None, None, None]),
        "value": [10.0, 20.0, 30.0, 40.0]})
    fs = build_features(_log(rows), customers, pd.Timestamp("2025-02-01"), definition="contract",
                        horizon_days=30, window_days=60)
    t = fs.table
    assert list(t.index) == ["b", "c", "d"]  # a is gone
    assert t.loc["c", "n_departed_contacts"] == 1
    assert t.loc["c", "share_to_departed"] == pytest.approx(2 / 4)
    assert t.loc["b", "share_to_departed"] == pytest.approx(1 / 4)  # b: a 1, c 1, d 2
    assert t.loc["d", "share_to_departed"] == 0.0
    assert t.loc["c", "value"] == 30.0
    assert t.loc["c", "spreading_activation_energy"] > t.loc["d", "spreading_activation_energy"]


def test_a_log_shorter_than_the_window_gives_full_window_scales():
    # x and y text each other once a day, every day from Jan 1. At a cut-off 30 days into the
    # log (window 60), the steady pair must look as it does with a full window behind it:
    # 60 messages each way per window, last week equal to the weekly average, no sign of a fade.
    days = pd.date_range("2025-01-01 12:00", "2025-03-31 12:00", freq="D")
    rows = [(a, b, str(d)) for d in days for a, b in (("x", "y"), ("y", "x"))]
    customers = pd.DataFrame({"customer_id": pd.Series(["x", "y"], dtype="str"),
                              "churn_date": pd.to_datetime([None, None])})
    tables = {cutoff: build_features(_log(rows), customers, pd.Timestamp(cutoff),
                                     definition="contract", horizon_days=30,
                                     window_days=60).table
              for cutoff in ("2025-01-31", "2025-03-31")}
    for table in tables.values():
        assert table.loc["x", "n_out"] == pytest.approx(60)
        assert table.loc["x", "active_days_out"] == pytest.approx(60)
        assert table.loc["x", "out_week_ratio"] == pytest.approx(1.0)
        assert table.loc["x", "fade_out_evidence"] < 0
    assert tables["2025-01-31"].loc["x", "strength"] == pytest.approx(
        tables["2025-03-31"].loc["x", "strength"])


def test_date_attributes_are_ages_at_the_cutoff():
    rows = [("x", "y", "2025-01-05"), ("y", "x", "2025-02-10"), ("x", "y", "2025-03-20")]
    customers = pd.DataFrame({"customer_id": pd.Series(["x", "y"], dtype="str"),
                              "start_date": pd.to_datetime(["2024-12-01", "2025-03-01"]),
                              "plan": ["prepaid", "contract"]})
    early, late = (build_features(_log(rows), customers, pd.Timestamp(c), definition="inactivity",
                                  horizon_days=60, window_days=90)
                   for c in ("2025-02-15", "2025-04-01"))
    assert "days_since_start_date" in early.attribute_columns
    assert early.table.loc["x", "days_since_start_date"] == 76.0
    assert late.table.loc["x", "days_since_start_date"] == 121.0
    # y's contract starts after the first cut-off: not a customer there yet, although it
    # made a call before its start.
    assert "y" not in early.table.index
    assert late.table.loc["y", "days_since_start_date"] == 31.0
    assert late.table.loc["y", "plan"] == "contract"
    assert list(reason_texts("days_since_start_date", late.table)) == [
        "start date 121 days ago", "start date 31 days ago"]
    # Another date attribute after the cut-off is missing there, the customer still scored.
    renewed = customers.rename(columns={"start_date": "renewed"})
    fs = build_features(_log(rows), renewed, pd.Timestamp("2025-02-15"), definition="inactivity",
                        horizon_days=60, window_days=90)
    assert np.isnan(fs.table.loc["y", "days_since_renewed"])
    assert list(reason_texts("days_since_renewed", fs.table)) == [
        "renewed 76 days ago", "renewed not known"]


def test_attributes_named_like_features_are_kept_apart():
    rows = [("x", "y", "2025-01-05"), ("y", "x", "2025-02-10"), ("x", "y", "2025-03-20")]
    customers = pd.DataFrame({"customer_id": pd.Series(["x", "y"], dtype="str"),
                              "strength": [7.0, 8.0], "embedding_0": ["a", "b"],
                              "last_out": pd.to_datetime(["2025-03-01", "2025-03-02"])})
    fs = build_features(_log(rows), customers, pd.Timestamp("2025-04-01"),
                        definition="inactivity", horizon_days=60)
    assert fs.attribute_columns == ["attr_strength", "attr_embedding_0", "attr_days_since_last_out"]
    assert fs.table.loc["x", "attr_strength"] == 7.0
    # Three SMS between x and y, the log covering 86 of the 90 window days.
    assert fs.table.loc["x", "strength"] == pytest.approx(3 * 90 / 86)
    assert fs.table.loc["y", "attr_days_since_last_out"] == 30.0
    assert fs.table.loc["x", "days_since_last_out"] == 12.0


def test_reasons_are_plain_words():
    table = pd.DataFrame({"n_departed_contacts": [3, 0], "distinct_contacts": [5, 2],
                          "share_to_departed": [0.4, 0.0], "out_recent": [4, 0],
                          "out_previous": [10, 0], "activity_trend": [-0.43, 0.0],
                          "days_since_last_out": [1.0, np.nan], "plan": ["prepaid", "family"]})
    texts = reason_texts("n_departed_contacts", table)
    assert texts.iloc[0] == "3 of 5 contacts left in the last 30 days (40% of their calling)"
    assert reason_texts("activity_trend", table).iloc[0] == "outgoing activity down 60% in the last 2 weeks"
    assert reason_texts("days_since_last_out", table).iloc[1] == "no outgoing calls or messages in the window"
    # Last outgoing 23 days ago, last incoming 22: two different facts, worded differently.
    quiet = pd.DataFrame({"days_since_last_out": [23.0], "days_since_last_any": [22.0]})
    assert describe_reasons(quiet, [[("days_since_last_out", 0.2), ("days_since_last_any", 0.1)]]) == [
        "no outgoing calls or messages for 23 days; no calls or messages either way for 22 days"]
    assert reason_texts("plan", table).iloc[0] == "plan = prepaid"
    joined = describe_reasons(table, [[("share_to_departed", 0.2), ("n_departed_contacts", 0.1),
                                       ("out_recent", 0.05)], [("plan", 0.1)]])
    assert joined[0] == ("3 of 5 contacts left in the last 30 days (40% of their calling); "
                         "outgoing activity down 60% in the last 2 weeks")
    assert joined[1] == "plan = family"
