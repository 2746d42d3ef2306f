"""CustomerGraph on tiny hand-built logs with answers computed by hand."""

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from graphchurn.graph import CustomerGraph

END = pd.Timestamp("2025-01-31")


def make_log(rows):
    """rows: (src, dst, 'YYYY-MM-DD HH:MM', duration)."""
    return pd.DataFrame(
        {
            "src": pd.Series([r[0] for r in rows], dtype="str"),
            "dst": pd.Series([r[1] for r in rows], dtype="str"),
            "timestamp": pd.to_datetime([r[2] for r in rows]),
            "duration": [float(r[3]) for r in rows],
            "kind": ["call"] * len(rows),
        }
    )


@pytest.fixture
def log():
    return make_log(
        [
            ("a", "b", "2025-01-30 10:00", 60),  # a->b, 1 minute
            ("b", "a", "2025-01-29 10:00", 0),  # b->a sms
            ("a", "c", "2025-01-10 10:00", 0),
            ("a", "c", "2025-01-11 10:00", 0),
            ("d", "a", "2025-01-20 10:00", 120),
            ("b", "e", "2025-02-05 10:00", 0),  # after END: must be ignored
        ]
    )


def edge(cg, u, v, attr="weight"):
    i, j = cg.index_of([u, v])
    return cg.graph.es[cg.graph.get_eid(i, j)][attr]


def test_weights_counts_and_window(log):
    cg = CustomerGraph.from_interactions(log, end=END)
    assert sorted(cg.names) == ["a", "b", "c", "d"]  # e only appears after END
    assert cg.graph.ecount() == 3
    assert edge(cg, "a", "b") == pytest.approx((1 + math.log1p(1.0)) + 1.0)
    assert edge(cg, "a", "b", "count") == 2
    assert edge(cg, "a", "c") == pytest.approx(2.0)
    assert edge(cg, "a", "d", "duration") == 120.0


def test_activity_by_hand(log):
    cg = CustomerGraph.from_interactions(log, end=END)
    act = cg.activity
    assert act.loc["a", "n_out"] == 3 and act.loc["a", "n_in"] == 2
    assert act.loc["a", "distinct_contacts"] == 3
    assert act.loc["a", "days_since_last_out"] == 0  # 2025-01-30 10:00 is 14 h before END
    assert act.loc["c", "n_out"] == 0 and np.isnan(act.loc["c", "days_since_last_out"])
    assert act.loc["c", "days_since_last_any"] == 19  # 2025-01-11 10:00: 19 days 14 h
    assert act.loc["a", "duration_out"] == 60.0
    assert act.loc["a", "active_days_out"] == 3
    # a: outgoing in the last 14 days: 1 (Jan 30); in the 14 days before: 2 (Jan 10, 11).
    assert act.loc["a", "out_recent"] == 1 and act.loc["a", "out_previous"] == 2
    assert act.loc["a", "activity_trend"] == pytest.approx((1 - 2) / 3)
    assert act.loc["d", "out_share"] == 1.0


def test_start_filter_and_decay(log):
    cg = CustomerGraph.from_interactions(log, start=pd.Timestamp("2025-01-15"), end=END)
    assert "c" not in set(cg.names)
    decayed = CustomerGraph.from_interactions(log, end=END, half_life_days=10)
    # a-c interactions are 20 days 14 h and 19 days 14 h old.
    expected = 0.5 ** ((20 + 14 / 24) / 10) + 0.5 ** ((19 + 14 / 24) / 10)
    assert edge(decayed, "a", "c") == pytest.approx(expected)


def test_filters(log):
    cg = CustomerGraph.from_interactions(log, end=END, min_interactions=2)
    assert cg.graph.ecount() == 2  # a-b and a-c
    cg = CustomerGraph.from_interactions(log, end=END, reciprocated_only=True)
    assert cg.graph.ecount() == 1 and edge(cg, "a", "b", "count") == 2
    cg = CustomerGraph.from_interactions(log, end=END, max_degree=2)
    a = cg.index_of(["a"])[0]
    assert cg.graph.vs[a]["hub"] and cg.graph.degree(a) == 0
    assert cg.graph.ecount() == 0


def test_customers_on_net_and_isolated_customer(log):
    customers = pd.DataFrame({"customer_id": pd.Series(["a", "b", "z"], dtype="str")})
    cg = CustomerGraph.from_interactions(log, end=END, customers=customers)
    on = dict(zip(cg.names, cg.on_net))
    assert on == {"a": True, "b": True, "c": False, "d": False, "z": True}
    z = cg.index_of(["z"])[0]
    assert cg.graph.degree(z) == 0 and cg.activity.loc["z", "n_out"] == 0
    assert cg.index_of(["nobody"])[0] == -1


def test_mapping_is_stable_under_row_order(log):
    a = CustomerGraph.from_interactions(log, end=END)
    b = CustomerGraph.from_interactions(log.sample(frac=1.0, random_state=3), end=END)
    assert list(a.names) == list(b.names)
    assert a.graph.get_edgelist() == b.graph.get_edgelist()
    assert np.allclose(a.graph.es["weight"], b.graph.es["weight"])


def test_exports(log):
    cg = CustomerGraph.from_interactions(log, end=END)
    g = cg.to_networkx()
    assert set(g.nodes) == {"a", "b", "c", "d"}
    assert g["a"]["c"]["weight"] == pytest.approx(2.0)
    assert nx.number_of_edges(g) == 3
    data = cg.to_pyg(x=np.arange(8).reshape(4, 2), y=[0, 1, 0, 1])
    assert data.num_nodes == 4 and data.edge_index.shape == (2, 6)
    assert data.x.shape == (4, 2) and data.y.tolist() == [0.0, 1.0, 0.0, 1.0]
    # Both directions carry the same weight.
    assert float(data.edge_weight.sum()) == pytest.approx(2 * sum(cg.graph.es["weight"]))


def test_default_end_is_day_after_last_interaction(log):
    cg = CustomerGraph.from_interactions(log)
    assert cg.end == pd.Timestamp("2025-02-06")
    assert "e" in set(cg.names)


def test_last_week_against_usual(log):
    cg = CustomerGraph.from_interactions(log, start=pd.Timestamp("2025-01-03"), end=END)
    act = cg.activity
    # a: 3 outgoing over a 28-day window (0.75 a week), 1 in the last 7 days.
    assert act.loc["a", "out_last_week"] == 1
    assert act.loc["a", "out_week_ratio"] == pytest.approx(1 / 0.75)
    # d: 1 outgoing, none in the last week.
    assert act.loc["d", "out_week_ratio"] == 0.0
    assert np.isnan(act.loc["c", "out_week_ratio"])
