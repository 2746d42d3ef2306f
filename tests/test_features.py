"""Feature tables: no peeking past the cut-off, exposure computed by hand, reasons in words."""

import numpy as np
import pandas as pd
import pytest

from graphchurn.features.reasons import (
    NO_REASON_TEXT,
    describe_reasons,
    plain_number,
    reason_texts,
    typical_values,
)
from graphchurn.features.build import build_features
from graphchurn.synth.world import generate_world


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


@pytest.mark.parametrize("definition", ["contract", "inactivity"])
@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("pairs", [False, True])
def test_integer_coded_log_gives_the_same_features(world, definition, shuffled, pairs):
    """encode_ids (the pipeline's one factorisation of the identifiers), and encode_pairs on
    top of it (one numbering of the ties for every cut-off), change no value, on a time-sorted
    log (slices) and on a shuffled one (masks)."""
    from graphchurn.graph.customer_graph import encode_ids, encode_pairs

    log, customers = world.interactions, world.customers
    if shuffled:
        log = log.sample(frac=1.0, random_state=0)
    cutoff = pd.Timestamp(log["timestamp"].min()).normalize() + pd.Timedelta(days=75)
    known = _blank_after(customers, cutoff)
    plain = build_features(log, known, cutoff, definition=definition, horizon_days=20,
                           window_days=60, seed=1)
    coded_log = encode_ids(log, customers)
    assert isinstance(coded_log["src"].dtype, pd.CategoricalDtype)
    if pairs:
        coded_log = encode_pairs(coded_log)
        assert coded_log["pair"].nunique() < len(coded_log)  # ties with several rows
    coded = build_features(coded_log, known, cutoff, definition=definition, horizon_days=20,
                           window_days=60, seed=1)
    assert coded.graph.vertex_codes is not None and plain.graph.vertex_codes is None
    np.testing.assert_array_equal(coded.graph.names, plain.graph.names)
    assert coded.graph.graph.get_edgelist() == plain.graph.graph.get_edgelist()
    pd.testing.assert_frame_equal(coded.table, plain.table, check_exact=not shuffled)
    pd.testing.assert_frame_equal(coded.vertex_features, plain.vertex_features,
                                  check_exact=not shuffled)
    if shuffled:  # masks over a shuffled log, slices of the time-ordered one: same values
        ordered = build_features(world.interactions, known, cutoff, definition=definition,
                                 horizon_days=20, window_days=60, seed=1)
        pd.testing.assert_frame_equal(coded.table, ordered.table)


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
    # a left 12 days before the cut-off: inside both windows
    assert t["share_to_departed_longer"].equals(t["share_to_departed"])
    # Before a fade's onset: a was recent (left within 30 days) at 12 of the 28 onset days.
    assert t.loc["c", "share_to_departed_before_onset"] == pytest.approx(2 / 4 * 12 / 28)
    assert t.loc["d", "share_to_departed_before_onset"] == 0.0
    # At a cut-off 40 days after a left: out of the 30-day window, inside the 60-day one.
    later = build_features(_log(rows), customers, pd.Timestamp("2025-03-01"),
                           definition="contract", horizon_days=30, window_days=60).table
    assert later.loc["c", "share_to_departed"] == 0.0
    assert later.loc["c", "share_to_departed_longer"] == pytest.approx(2 / 4)
    assert later.loc["d", "share_to_departed_longer"] == 0.0
    # 40 days after: recent at the onsets 10 .. 28 days before the cut-off.
    assert later.loc["c", "share_to_departed_before_onset"] == pytest.approx(2 / 4 * 19 / 28)


def test_exposure_weighs_ties_over_the_longer_look_back():
    # Within the 30-day window c texts a and b once each; 60 days back c texted a 3 more times.
    # a left 5 days before the cut-off. Over the window alone the two ties weigh the same; over
    # a 90-day look-back the tie to a weighs 4 to b's 1.
    rows = [("c", "a", "2025-01-01"), ("c", "a", "2025-01-02"), ("c", "a", "2025-01-03"),
            ("c", "a", "2025-02-20"), ("c", "b", "2025-02-20")]
    customers = pd.DataFrame({"customer_id": pd.Series(list("abc"), dtype="str"),
                              "churn_date": pd.to_datetime(["2025-02-24", None, None])})
    shares = {look_back: build_features(_log(rows), customers, pd.Timestamp("2025-03-01"),
                                        definition="contract", window_days=30,
                                        tie_window_days=look_back).table.loc["c"]
              for look_back in (30, 90)}
    assert shares[30]["share_to_departed"] == pytest.approx(1 / 2)
    assert shares[90]["share_to_departed"] == pytest.approx(4 / 5)
    assert shares[90]["max_tie_share_departed"] == pytest.approx(4 / 5)
    assert shares[90]["share_to_departed_longer"] == pytest.approx(4 / 5)
    # The graph itself (strength, contacts) is still the 30-day window's.
    assert shares[30]["strength"] == shares[90]["strength"] == pytest.approx(2.0)


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
    assert reason_texts("plan", table).iloc[0] == "plan is 'prepaid'"
    joined = describe_reasons(table, [[("share_to_departed", 0.2), ("n_departed_contacts", 0.1),
                                       ("out_recent", 0.05)], [("plan", 0.1)]])
    assert joined[0] == ("3 of 5 contacts left in the last 30 days (40% of their calling); "
                         "outgoing activity down 60% in the last 2 weeks")
    assert joined[1] == "plan is 'family'"


def test_attribute_reasons_give_the_value_and_how_it_compares():
    rows = pd.DataFrame({"support_contacts": [2.0, 0.0, np.nan], "value": [12.4, 0.1 + 0.2, 1234.56],
                         "tenure_months": [14.0, 3.0, 40.0],
                         "plan": pd.Series(["prepaid", None, "family"], dtype="str"),
                         "attr_strength": [7.0, 5.0, 5.0]})
    typical = {"support_contacts": 1.0, "value": 20.0, "tenure_months": 14.0, "attr_strength": 5.0}
    assert list(reason_texts("support_contacts", rows, typical=typical)) == [
        "support contacts 2 (above the typical 1)", "support contacts 0 (below the typical 1)",
        "support contacts not known"]
    # No float noise, integers as integers; equal to the typical value: no direction.
    assert list(reason_texts("value", rows, typical=typical)) == [
        "value 12.4 (below the typical 20)", "value 0.3 (below the typical 20)",
        "value 1,235 (above the typical 20)"]
    assert reason_texts("tenure_months", rows, typical=typical).iloc[0] == "tenure months of 14"
    # Without typical values nothing is compared.
    assert reason_texts("support_contacts", rows).iloc[0] == "support contacts of 2"
    assert list(reason_texts("plan", rows)) == ["plan is 'prepaid'", "plan not known",
                                                "plan is 'family'"]
    assert reason_texts("attr_strength", rows, typical=typical).iloc[0] == (
        "strength 7 (above the typical 5)")
    # describe_reasons compares with the medians of the customers it describes.
    assert typical_values(rows)["support_contacts"] == 1.0
    assert describe_reasons(rows, [[("support_contacts", 0.1), ("plan", 0.05)], [], []])[0] == (
        "support contacts 2 (above the typical 1); plan is 'prepaid'")
    assert [plain_number(v) for v in (14.0, -2.0, 0.000123, 99.96, np.nan)] == [
        "14", "-2", "0.000123", "100", ""]


def test_out_share_reason_says_what_share_they_made():
    # x makes 3 calls to y and receives 1 from it: 75% of x's calls and messages are outgoing.
    rows = [("x", "y", "2025-01-05"), ("x", "y", "2025-01-06"), ("x", "y", "2025-01-07"),
            ("y", "x", "2025-01-08")]
    table = build_features(_log(rows), None, pd.Timestamp("2025-01-20"), definition="inactivity",
                           horizon_days=30, window_days=30).table
    assert table.loc["x", "out_share"] == pytest.approx(0.75)
    assert list(reason_texts("out_share", table.loc[["x", "y"]])) == [
        "75% of their calls and messages are ones they made",
        "25% of their calls and messages are ones they made"]
    assert list(reason_texts("out_share", table.loc[["x", "y"]], typical={"out_share": 0.5})) == [
        "75% of their calls and messages are ones they made, above the typical 50%",
        "25% of their calls and messages are ones they made, below the typical 50%"]
    silent = pd.DataFrame({"out_share": [np.nan]})
    assert reason_texts("out_share", silent).iloc[0] == "no calls or messages in the window"


def test_structure_reasons_say_what_each_feature_measures():
    # Customer 0 has many contacts (29) but a small, loose group and a peripheral position;
    # customer 1 has few contacts and a large group.
    rows = pd.DataFrame({"distinct_contacts": [29, 3], "strength": [10.0, 2.0],
                         "community_size": [4, 40], "embeddedness": [0.2, 0.9],
                         "pagerank": [1e-5, 1e-3], "coreness": [1, 5], "clustering": [0.1, 0.6]})
    typical = {"distinct_contacts": 9, "strength": 30.0, "community_size": 12,
               "embeddedness": 0.6, "pagerank": 3e-4, "coreness": 3, "clustering": 0.3}
    text = {f: list(reason_texts(f, rows, typical=typical)) for f in typical}
    assert text["community_size"] == ["small social group (4 members)",
                                      "large social group (40 members)"]
    assert text["embeddedness"] == [
        "weakly embedded in their social group (20% of their calling within it)",
        "closely embedded in their social group (90% of their calling within it)"]
    assert text["pagerank"] == ["peripheral in the call network", "central in the call network"]
    assert text["coreness"][0] == "peripheral in the call network"
    assert text["clustering"][0] == "few of their contacts are in touch with each other (10% of pairs)"
    assert text["distinct_contacts"] == ["many social ties (29 contacts)",
                                         "few social ties (3 contacts)"]
    # Weak ties with many contacts is not "few social ties".
    assert text["strength"] == ["little calling or messaging with their 29 contacts",
                                "few social ties (3 contacts)"]
    assert not any("few social ties" in t for f in ("community_size", "embeddedness", "pagerank",
                                                    "coreness", "clustering") for t in text[f])
    # Without typical values: the value, no direction.
    assert reason_texts("community_size", rows).iloc[0] == "social group of 4 members"
    # pagerank and coreness both low: one sentence.
    assert describe_reasons(rows.iloc[[0]], [[("pagerank", 0.1), ("coreness", 0.05)]],
                            typical=typical) == ["peripheral in the call network"]


def test_tiny_shares_read_as_below_one_percent():
    rows = pd.DataFrame({"n_departed_contacts": [1, 0, 5], "distinct_contacts": [91, 91, 5],
                         "share_to_departed": [0.004, 0.0, 0.996],
                         "group_churn_rate": [0.003, 0.0, 0.25]})
    assert list(reason_texts("n_departed_contacts", rows)) == [
        "1 of 91 contacts left in the last 30 days (<1% of their calling)",
        "none of their 91 contacts left in the last 30 days",
        "5 of 5 contacts left in the last 30 days (>99% of their calling)"]
    assert list(reason_texts("group_churn_rate", rows)) == [
        "<1% of their social group left recently", "none of their social group left recently",
        "25% of their social group left recently"]


def test_activity_reasons_do_not_invent_a_fall():
    rows = pd.DataFrame({"out_recent": [4, 12, 0, 5], "out_previous": [10, 6, 8, 0],
                         "out_week_ratio": [0.5, 1.5, 0.0, np.nan]})
    assert list(reason_texts("activity_trend", rows)) == [
        "outgoing activity down 60% in the last 2 weeks",
        "outgoing activity up 100% in the last 2 weeks",
        "no outgoing activity in the last 2 weeks",
        "outgoing activity in the last 2 weeks after none in the 2 weeks before"]
    assert list(reason_texts("out_week_ratio", rows)) == [
        "outgoing activity last week 50% below their usual",
        "outgoing activity last week 50% above their usual",
        "no outgoing activity last week", "no outgoing activity in the window"]


def test_a_customer_without_material_reasons_gets_a_plain_fallback():
    table = pd.DataFrame({"days_since_last_out": [23.0, 2.0]})
    assert describe_reasons(table, [[("days_since_last_out", 0.2)], []]) == [
        "no outgoing calls or messages for 23 days", NO_REASON_TEXT]
    assert NO_REASON_TEXT == "no single factor stands out"
    assert describe_reasons(table, [[], []], fallback="-") == ["-", "-"]


def test_exposure_before_onset_reads_in_words():
    rows = pd.DataFrame({"share_to_departed_before_onset": [0.25, 0.0]})
    assert reason_texts("share_to_departed_before_onset", rows, 30).tolist() == [
        "contacts who left 1-58 days ago held 25% of their calling (weighted, most those of "
        "28-31 days ago, when a slowdown now under way would have begun)",
        "none of their contacts left 1-58 days ago"]


def test_longer_window_exposure_reads_in_words():
    rows = pd.DataFrame({"share_to_departed_longer": [0.25, 0.0]})
    assert reason_texts("share_to_departed_longer", rows, 30).tolist() == [
        "25% of their calling was with contacts who left in the last 60 days",
        "none of their contacts left in the last 60 days"]


def test_without_communities_only_the_community_columns_go(world):
    """communities=False skips detection: the community columns are left out and every other
    column keeps its values."""
    from graphchurn.features.build import COMMUNITY_FEATURES

    cutoff = pd.Timestamp(world.interactions["timestamp"].min()).normalize() + pd.Timedelta(days=60)
    kw = dict(definition="contract", horizon_days=20, window_days=60, seed=1)
    full = build_features(world.interactions, world.customers, cutoff, **kw)
    lean = build_features(world.interactions, world.customers, cutoff, communities=False, **kw)
    assert lean.membership is None and lean.roles is None and full.membership is not None
    assert set(full.table.columns) - set(lean.table.columns) == set(COMMUNITY_FEATURES)
    pd.testing.assert_frame_equal(lean.table, full.table.drop(columns=COMMUNITY_FEATURES))
    pd.testing.assert_frame_equal(lean.vertex_features,
                                  full.vertex_features.drop(columns=COMMUNITY_FEATURES))
