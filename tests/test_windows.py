"""Cut-offs, labels and known departures on a hand-built log with answers worked out by hand.

Cut-off C = 2024-02-01, horizon 10 days, active window 10 days:
active window [2024-01-22, 2024-02-01), label horizon [2024-02-01, 2024-02-11).
"""

import numpy as np
import pandas as pd
import pytest

from graphchurn.errors import InputError
from graphchurn.windows.labels import (
    active_at,
    before,
    churn_labels,
    default_as_of,
    known_departures,
    resolve_churn_definition,
    training_cutoffs,
)

C = pd.Timestamp("2024-02-01")
H = 10
T = pd.Timestamp


def _log(rows):
    frame = pd.DataFrame(rows, columns=["src", "dst", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame["duration"] = 60.0
    frame["kind"] = "call"
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


# Who does what (outgoing = src):
#  a: calls in the window and in the horizon            -> active, stays
#  b: calls in the window only                          -> active, churns
#  c: last call 01-10, long before the window           -> inactive; departed 01-11 (known)
#  d: calls exactly at window start and exactly at C    -> active, stays (C is in the horizon)
#  e: last call 01-21 23:59, a minute before the window -> inactive; departed 01-22, known
#     exactly at C (01-22 + 10 days == C); it only *receives* calls in the window
#  f: calls 01-31 and next exactly at C + horizon       -> active, churns (C + h excluded)
#  g: only receives calls                               -> never active
#  h: first call exactly at C                           -> not active at C (window excludes C)
ROWS = [
    ("c", "a", "2024-01-10 12:00"),
    ("e", "a", "2024-01-21 23:59"),
    ("d", "g", "2024-01-22 00:00"),
    ("a", "b", "2024-01-25 08:00"),
    ("a", "e", "2024-01-26 08:00"),
    ("b", "g", "2024-01-30 17:30"),
    ("f", "e", "2024-01-31 09:00"),
    ("d", "a", "2024-02-01 00:00"),
    ("h", "a", "2024-02-01 00:00"),
    ("a", "g", "2024-02-05 10:00"),
    ("f", "a", "2024-02-11 00:00"),
]

# Customer table (f, g, h are off-net):
#  a: never churns                      -> active at C, label 0
#  b: churn_date == C                   -> gone at C (known departure), not active
#  c: churn_date 01-15                  -> gone, known departure
#  d: churn_date == C + horizon         -> active, label 1 (boundary included)
#  e: churn_date == C + horizon + 1 day -> active, label 0
#  z: never churns, no interactions     -> active, label 0
#  y: churns 02-05, no interactions     -> active, label 1
CUSTOMERS = pd.DataFrame({
    "customer_id": ["a", "b", "c", "d", "e", "z", "y"],
    "churn_date": pd.to_datetime([None, "2024-02-01", "2024-01-15", "2024-02-11", "2024-02-12",
                                  None, "2024-02-05"]),
    "value": [10.0, 20.0, 5.0, 7.0, 8.0, 9.0, 3.0],
})


@pytest.fixture
def log():
    return _log(ROWS)


# ----------------------------------------------------------------------------- as-of, cut-offs


def test_default_as_of_is_midnight_after_last_interaction(log):
    assert default_as_of(log) == T("2024-02-12")
    at_midnight = _log([("a", "b", "2024-03-05 00:00")])
    assert default_as_of(at_midnight) == T("2024-03-06")


def test_default_as_of_of_empty_log_is_an_input_error():
    with pytest.raises(InputError):
        default_as_of(_log([]))


def test_before_keeps_strictly_earlier_rows_sorted_or_not(log):
    kept = before(log, C)
    assert len(kept) == 7
    assert (kept["timestamp"] < C).all()
    shuffled = log.sample(frac=1.0, random_state=3)
    assert sorted(before(shuffled, C).index) == sorted(kept.index)


def test_training_cutoffs_newest_first_with_labels_known_by_as_of():
    as_of = T("2024-04-01")
    assert training_cutoffs(as_of, 30) == [T("2024-03-02"), T("2024-02-01"), T("2024-01-02")]
    weekly = training_cutoffs(as_of, 30, n_cutoffs=3, step_days=7)
    assert weekly == [T("2024-03-02"), T("2024-02-24"), T("2024-02-17")]
    assert all(c + pd.Timedelta(days=30) <= as_of for c in weekly)


@pytest.mark.parametrize("kwargs", [{"horizon_days": 0}, {"horizon_days": -5},
                                    {"horizon_days": 30, "n_cutoffs": 0},
                                    {"horizon_days": 30, "step_days": 0}])
def test_training_cutoffs_reject_nonsense(kwargs):
    with pytest.raises(InputError):
        training_cutoffs("2024-04-01", **kwargs)


# ----------------------------------------------------------------------------- definitions


def test_resolve_churn_definition():
    assert resolve_churn_definition(CUSTOMERS) == "contract"
    assert resolve_churn_definition(CUSTOMERS, "inactivity") == "inactivity"
    assert resolve_churn_definition(CUSTOMERS, "contract") == "contract"
    assert resolve_churn_definition(None) == "inactivity"
    no_dates = CUSTOMERS.assign(churn_date=pd.NaT)
    assert resolve_churn_definition(no_dates) == "inactivity"
    assert resolve_churn_definition(CUSTOMERS.drop(columns="churn_date")) == "inactivity"


@pytest.mark.parametrize("customers", [None, CUSTOMERS.assign(churn_date=pd.NaT)])
def test_contract_without_churn_dates_is_an_input_error_naming_the_parameter(customers):
    with pytest.raises(InputError) as err:
        resolve_churn_definition(customers, "contract")
    assert err.value.parameter == "definition"


def test_unknown_definition_is_an_input_error(log):
    with pytest.raises(InputError):
        resolve_churn_definition(CUSTOMERS, "prepaid")
    with pytest.raises(InputError):
        active_at(log, CUSTOMERS, C, "prepaid", H)


def test_contract_needs_a_customer_table(log):
    with pytest.raises(InputError):
        active_at(log, None, C, "contract", H)


# ----------------------------------------------------------------------------- contract


def test_contract_active_and_labels_at_boundaries(log):
    active = active_at(log, CUSTOMERS, C, "contract", H)
    assert list(active) == ["a", "d", "e", "z", "y"]
    assert active.name == "customer_id"
    labels = churn_labels(log, CUSTOMERS, C, H, "contract")
    assert labels.dtype == np.int8
    assert labels.index.name == "customer_id"
    assert labels.to_dict() == {"a": 0, "d": 1, "e": 0, "z": 0, "y": 1}


@pytest.mark.parametrize("definition", ["contract", "inactivity"])
def test_customers_who_start_after_a_cut_off_are_not_customers_there(log, definition):
    """a starts on C's day and z the day after: not in the population at C (a still calls,
    z is silent and would otherwise be labelled a stayer); both are from C + 2 days on."""
    customers = CUSTOMERS.assign(start_date=pd.to_datetime(
        ["2024-02-01", None, None, "2023-06-01", None, "2024-02-02", None]))
    active = active_at(log, customers, C, definition, H)
    assert not {"a", "z"} & set(active)
    assert set(active) == set(active_at(log, CUSTOMERS, C, definition, H)) - {"a", "z"}
    later = active_at(log, customers, C + pd.Timedelta(days=2), definition, H)
    assert ("a" in later) == ("a" in active_at(log, CUSTOMERS, C + pd.Timedelta(days=2),
                                                  definition, H))
    if definition == "contract":
        assert {"a", "z"} <= set(later)
        labels = churn_labels(log, customers, C, H, "contract")
        assert labels.to_dict() == {"d": 1, "e": 0, "y": 1}


def test_contract_known_departures(log):
    gone = known_departures(log, CUSTOMERS, C, "contract", H)
    assert gone.to_dict() == {"b": T("2024-02-01"), "c": T("2024-01-15")}
    assert gone.dtype == "datetime64[ns]"
    # A day earlier b is still a customer, so its departure is not yet known.
    earlier = known_departures(log, CUSTOMERS, C - pd.Timedelta(days=1), "contract", H)
    assert earlier.to_dict() == {"c": T("2024-01-15")}


# ----------------------------------------------------------------------------- inactivity


def test_inactivity_without_table(log):
    active = active_at(log, None, C, "inactivity", H)
    assert list(active) == ["a", "b", "d", "f"]
    labels = churn_labels(log, None, C, H, "inactivity", H)
    assert labels.to_dict() == {"a": 0, "b": 1, "d": 0, "f": 1}
    assert labels.dtype == np.int8


def test_inactivity_with_table_drops_off_net_and_departed(log):
    # f is off-net; b's churn_date == C means it is gone at C.
    active = active_at(log, CUSTOMERS, C, "inactivity", H)
    assert list(active) == ["a", "d"]
    labels = churn_labels(log, CUSTOMERS, C, H, "inactivity", H)
    assert labels.to_dict() == {"a": 0, "d": 0}


def test_inactivity_active_window_and_horizon_are_separate(log):
    # A 2-day window [01-30, 02-01) holds only b and f; a 5-day horizon [02-01, 02-06)
    # holds a's 02-05 call but not f's 02-11 call.
    labels = churn_labels(log, None, C, 5, "inactivity", active_window_days=2)
    assert labels.to_dict() == {"b": 1, "f": 1}
    labels = churn_labels(log, None, C - pd.Timedelta(days=7), 5, "inactivity", 7)
    # C - 7 = 01-25: window [01-18, 01-25) has e (01-21) and d (01-22); horizon [01-25, 01-30)
    # has no call by e or d.
    assert labels.to_dict() == {"d": 1, "e": 1}


def test_inactivity_known_departures(log):
    gone = known_departures(log, None, C, "inactivity", H)
    # c: last call 01-10 -> departed 01-11, confirmed 01-21.  e: last call 01-21 23:59 ->
    # departed 01-22, confirmed exactly at C.  Everyone else called too recently.
    assert gone.to_dict() == {"c": T("2024-01-11"), "e": T("2024-01-22")}
    assert gone.dtype == "datetime64[ns]"
    # One day earlier e's silence is not yet confirmed.
    earlier = known_departures(log, None, C - pd.Timedelta(days=1), "inactivity", H)
    assert earlier.to_dict() == {"c": T("2024-01-11")}
    # With a table, off-net numbers never depart (none of c, e are off-net here).
    off = CUSTOMERS[CUSTOMERS["customer_id"] != "c"]
    assert known_departures(log, off, C, "inactivity", H).to_dict() == {"e": T("2024-01-22")}


def test_inactivity_departure_agrees_with_the_label_at_the_departure_date(log):
    # A known departure D is exactly a churn label of 1 at cut-off D.
    gone = known_departures(log, None, C, "inactivity", H)
    for customer, day in gone.items():
        labels = churn_labels(log, None, day, H, "inactivity", H)
        assert labels[customer] == 1


def test_unsorted_log_gives_same_answers(log):
    shuffled = log.sample(frac=1.0, random_state=7).reset_index(drop=True)
    for definition, customers in [("inactivity", None), ("inactivity", CUSTOMERS),
                                  ("contract", CUSTOMERS)]:
        pd.testing.assert_series_equal(
            churn_labels(shuffled, customers, C, H, definition, H),
            churn_labels(log, customers, C, H, definition, H))
        pd.testing.assert_series_equal(
            known_departures(shuffled, customers, C, definition, H),
            known_departures(log, customers, C, definition, H))


# ----------------------------------------------------------------------------- no peeking


def test_no_peeking_future_rows_and_future_churn_dates_change_nothing_known_at_cutoff(log):
    future_rows = _log([
        ("c", "a", "2024-02-01 00:00"),  # c "comes back" exactly at C
        ("e", "a", "2024-02-03 10:00"),
        ("n", "a", "2024-02-02 10:00"),  # a brand-new number
        ("b", "a", "2024-03-01 10:00"),
    ])
    later_log = pd.concat([log, future_rows], ignore_index=True)
    later_customers = CUSTOMERS.copy()
    # Rewrite every churn date after C (a: NaT -> 02-20, d: 02-11 -> NaT, e -> 03-01, y -> NaT).
    later_customers["churn_date"] = pd.to_datetime(
        [ "2024-02-20", "2024-02-01", "2024-01-15", None, "2024-03-01", None, None])
    for definition in ("contract", "inactivity"):
        for customers, later_table in [(CUSTOMERS, later_customers), (None, None)]:
            if definition == "contract" and customers is None:
                continue
            pd.testing.assert_index_equal(
                active_at(later_log, later_table, C, definition, H),
                active_at(log, customers, C, definition, H))
            pd.testing.assert_series_equal(
                known_departures(later_log, later_table, C, definition, H),
                known_departures(log, customers, C, definition, H))
    pd.testing.assert_frame_equal(before(later_log.sort_values("timestamp", kind="stable"), C),
                                  before(log, C))
    # ...while the labels, which are about the future, do see the new rows.
    assert churn_labels(later_log, None, C, H, "inactivity", H)["b"] == 1
    assert "e" not in churn_labels(later_log, None, C, H, "inactivity", H)


def test_inactivity_active_reads_only_the_window_before_cutoff(log):
    # Rows before the window (and after the cut-off) do not change who is active.
    window_only = log[(log["timestamp"] >= C - pd.Timedelta(days=H)) & (log["timestamp"] < C)]
    pd.testing.assert_index_equal(active_at(window_only, None, C, "inactivity", H),
                                  active_at(log, None, C, "inactivity", H))
