"""CustomerGraph on tiny hand-built logs with answers computed by hand."""

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from graphchurn.graph.customer_graph import CustomerGraph, fade_out_evidence

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


def _daily_log(counts_by_days_ago: dict[str, list[int]], end: pd.Timestamp) -> pd.DataFrame:
    """``counts[i]`` calls from each customer to an off-net number, ``i`` days before ``end``."""
    rows = []
    for who, counts in counts_by_days_ago.items():
        for days_ago, k in enumerate(counts):
            for j in range(k):
                at = end - pd.Timedelta(days=days_ago) + pd.Timedelta(hours=-12 + j)
                rows.append((who, "offnet", at, 60.0, "call"))
    return pd.DataFrame(rows, columns=["src", "dst", "timestamp", "duration", "kind"])


def _background(days: int, per_day: int = 5, callers: int = 20, quiet_last_day=False):
    """Steady callers that make a network's daily volume (the fade-out evidence reads a
    customer's days against the network's, so a tiny log of a few fading customers would
    otherwise read as a quiet network)."""
    counts = [0 if (quiet_last_day and d == 0) else per_day for d in range(days)]
    return {f"background{i:02d}": counts for i in range(callers)}


def _daily_log_with_background(counts_by_days_ago, end, days, **background):
    """``_daily_log`` plus steady background callers who call a number of their own."""
    noise = _daily_log(_background(days, **background), end).assign(dst="background_peer")
    return pd.concat([_daily_log(counts_by_days_ago, end), noise], ignore_index=True)


def _fade_out_reference(daily_counts, day_volume, window_days, fade_days):
    """fade_out_evidence spelled out hypothesis by hypothesis (``daily_counts[d]`` = count
    ``d`` days before the cut-off), to check the vectorised version against."""
    recent = int(min(fade_days[1] - 1, window_days // 2))
    volume = np.asarray(day_volume, dtype=float) / np.mean(day_volume)
    rate = sum(daily_counts[recent:]) / volume[recent:].sum()
    ratios = []
    for length in range(fade_days[0], fade_days[1] + 1):
        for onset in range(1, min(length - 1, recent) + 1):
            log_ratio = 0.0
            for d in range(onset):                       # d days before the cut-off
                level = (length - (onset - 1 - d)) / length
                mu = rate * volume[d]
                log_ratio += daily_counts[d] * math.log(level) - mu * (level - 1)
            ratios.append(math.exp(log_ratio))
    return math.log(sum(ratios) / len(ratios))


def test_fade_out_evidence_matches_the_formula_term_by_term():
    rng = np.random.default_rng(3)
    window = 40
    volume = rng.uniform(0.5, 1.5, size=window)
    counts = {v: rng.poisson(2.0 * volume * np.r_[np.linspace(0.3, 1, 9), np.ones(window - 9)])
              for v in range(3)}
    counts[3] = np.zeros(window, dtype=int)              # no traffic at all
    vertex = np.concatenate([np.repeat(v, c.sum()) for v, c in counts.items()])
    day = np.concatenate([np.repeat(np.arange(window), c) for c in counts.values()])
    got = fade_out_evidence(vertex, day, 4, float(window), fade_days=(4, 15), day_volume=volume)
    for v in range(3):
        assert got[v] == pytest.approx(_fade_out_reference(counts[v], volume, window, (4, 15)))
    assert got[3] == 0.0                                 # no evidence either way


def test_fade_out_evidence_ranks_a_taper_above_steady_traffic():
    end = pd.Timestamp("2025-03-01")
    start = end - pd.Timedelta(days=70)
    taper = [round(4 * (d + 1) / 15) for d in range(14)]  # 4 a day, down to 0 over 15 days
    log = _daily_log_with_background({
        "fading": taper + [4] * 56,
        "steady": [4] * 70,
        "light": [1] * 70,
        "silent_week": [0] * 7 + [4] * 63,
    }, end, 70)
    act = CustomerGraph.from_interactions(log, start=start, end=end).activity
    evidence = act["fade_out_evidence"]
    assert evidence["fading"] > 5                        # a strong case for a fade
    assert evidence["silent_week"] > 5
    # Steady traffic is evidence against a fade, the more so the more traffic there is.
    assert evidence["steady"] < evidence["light"] < 0
    # The off-net end counts its incoming traffic too: it saw two of its callers fade.
    assert evidence["offnet"] > evidence["steady"]


def test_fade_out_evidence_reads_a_quiet_day_of_the_whole_network_as_no_evidence():
    end = pd.Timestamp("2025-03-01")
    start = end - pd.Timedelta(days=60)
    # Everyone is quiet on the last day (a holiday, or a day not fully loaded): the network's
    # volume says so, and nobody's evidence moves towards a fade.
    counts = [0] + [3] * 59
    busy = CustomerGraph.from_interactions(_daily_log_with_background({"a": [3] * 60}, end, 60),
                                           start=start, end=end).activity
    quiet = CustomerGraph.from_interactions(
        _daily_log_with_background({"a": counts}, end, 60, quiet_last_day=True),
        start=start, end=end).activity
    # (The silent day only stops counting as evidence against a fade.)
    assert quiet.loc["a", "fade_out_evidence"] == pytest.approx(
        busy.loc["a", "fade_out_evidence"], abs=0.2)
    # The same silent day for one customer while the network is busy is evidence.
    alone = CustomerGraph.from_interactions(_daily_log_with_background({"a": counts}, end, 60),
                                            start=start, end=end).activity
    assert alone.loc["a", "fade_out_evidence"] > busy.loc["a", "fade_out_evidence"] + 0.5


def test_a_departed_contact_does_not_read_as_the_customers_own_fade():
    end = pd.Timestamp("2025-03-01")
    start = end - pd.Timedelta(days=70)
    rows = []
    for days_ago in range(70):
        at = end - pd.Timedelta(days=days_ago) + pd.Timedelta(hours=-12)
        rows.append(("a", "c", at, 60.0, "call"))          # a keeps calling c every day
        if days_ago >= 10:                                 # b left 10 days ago
            rows.append(("a", "b", at, 60.0, "call"))
    log = pd.concat([pd.DataFrame(rows, columns=["src", "dst", "timestamp", "duration", "kind"]),
                     _daily_log_with_background({}, end, 70)], ignore_index=True)
    blind = CustomerGraph.from_interactions(log, start=start, end=end).activity
    aware = CustomerGraph.from_interactions(log, start=start, end=end, departed=["b"]).activity
    # Without knowing b left, a's traffic halved 10 days ago, which reads as a fade.
    assert blind.loc["a", "fade_out_evidence"] > 1
    # Knowing it, a's traffic with those still here never changed: steady traffic.
    assert aware.loc["a", "fade_out_evidence"] < 0
    # Only the fade-out evidence reads `departed`: the counts are the same.
    assert aware.loc["a", "n_out"] == blind.loc["a", "n_out"] == 70 + 60


def test_encode_ids_adds_customers_missing_from_a_coded_log_in_sorted_order(tmp_path):
    from graphchurn.graph.customer_graph import encode_ids, shared_categories
    from graphchurn.io import load_interactions

    path = tmp_path / "log.csv"
    path.write_text("src,dst,timestamp\nb,d,2024-01-01\nd,a,2024-01-02\n")
    log = load_interactions(path)  # read coded: categories a, b, d
    assert list(shared_categories(log)) == ["a", "b", "d"]
    customers = pd.DataFrame({"customer_id": ["c", "a", "e"]})
    coded = encode_ids(log, customers)
    assert list(shared_categories(coded)) == ["a", "b", "c", "d", "e"]
    assert coded["src"].tolist() == ["b", "d"] and coded["dst"].tolist() == ["d", "a"]
    # the same categories and codes as coding the plain string log
    plain = encode_ids(log.astype({"src": "str", "dst": "str"}), customers)
    assert coded["src"].cat.codes.tolist() == plain["src"].cat.codes.tolist()
    assert coded["dst"].cat.codes.tolist() == plain["dst"].cat.codes.tolist()


def test_encode_pairs_numbers_unordered_ties_and_goes_stale_with_new_ids():
    """Both directions of a tie share one pair code; keys are lo * n + hi over the shared
    categories; new categories (encode_ids adding customers) drop the pair column rather than
    keep keys built over the old numbering."""
    from graphchurn.graph.customer_graph import encode_ids, encode_pairs

    log = pd.DataFrame({"src": ["b", "a", "c", "a"], "dst": ["a", "b", "b", "c"],
                        "timestamp": pd.to_datetime(["2025-01-01"] * 4), "duration": 0.0,
                        "kind": "sms"})
    paired = encode_pairs(encode_ids(log))  # categories a, b, c -> 0, 1, 2
    assert paired["pair"].cat.categories.tolist() == [0 * 3 + 1, 0 * 3 + 2, 1 * 3 + 2]
    assert paired["pair"].cat.codes.tolist() == [0, 0, 2, 1]
    grown = encode_ids(paired, pd.DataFrame({"customer_id": ["0"]}))
    assert "pair" not in grown.columns
    # a second tie-weight look-back on the paired log agrees with the unpaired one
    cg = CustomerGraph.from_interactions(paired, end=pd.Timestamp("2025-01-02"))
    plain = CustomerGraph.from_interactions(encode_ids(log), end=pd.Timestamp("2025-01-02"))
    assert cg.graph.get_edgelist() == plain.graph.get_edgelist() == [(0, 1), (0, 2), (1, 2)]
    assert cg.graph.es["count"] == [2, 1, 1]
    since = pd.Timestamp("2024-12-01")
    assert (cg.edge_weights_since(paired, since).tolist()
            == plain.edge_weights_since(encode_ids(log), since).tolist() == [2.0, 1.0, 1.0])


@pytest.mark.parametrize("options", [dict(reciprocated_only=True), dict(min_interactions=2),
                                     dict(departed=["b"]), dict(departed=[])])
def test_coded_log_builds_the_same_graph_and_activity_as_the_string_log(log, options):
    """The coded, paired log (int32 vertex numbers, pair codes, counts less the rows with a
    departed end) gives exactly the string log's graph and activity."""
    from graphchurn.pipeline import coded_log

    coded = coded_log(log)
    plain = CustomerGraph.from_interactions(log, end=END, **options)
    fast = CustomerGraph.from_interactions(coded, end=END, **options)
    assert fast.graph.get_edgelist() == plain.graph.get_edgelist()
    for name in ("weight", "count", "duration"):
        assert fast.graph.es[name] == plain.graph.es[name]
    pd.testing.assert_frame_equal(fast.activity, plain.activity, check_exact=True,
                                  check_index_type=False)
