"""Independent stages side by side in forked workers (graphchurn.features.workers): the same
results in the same order as one after the other, a failing or dying worker's item computed
again here, and cut-off features identical whatever n_jobs is."""

import logging
import os
import time

import numpy as np
import pandas as pd
import pytest

from graphchurn.features.workers import fork_available, map_forked, resolve_n_jobs
from graphchurn.errors import InputError
from graphchurn.pipeline import AnalyzeConfig, analyze
from graphchurn.synth.world import generate_world

needs_fork = pytest.mark.skipif(not fork_available(), reason="forked workers need Linux")
PARENT = os.getpid()


def where(item):
    time.sleep(0.1)  # long enough for the workers, forked at the start, to take some items
    return item, os.getpid() == PARENT


def test_resolve_n_jobs_follows_scikit_learns_convention():
    assert resolve_n_jobs(None, 5) == 1
    assert resolve_n_jobs(3, 2) == 2  # never more processes than items
    assert resolve_n_jobs(-1, 1000) == resolve_n_jobs(-1, 10**6) >= 1
    assert resolve_n_jobs(-1000, 4) == 1
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs"):
            resolve_n_jobs(bad, 4)


@needs_fork
def test_items_come_back_in_order_the_first_computed_here():
    results = map_forked(where, range(5), n_jobs=3)
    assert [value for (value, _), _ in results] == list(range(5))
    here = [in_parent for (_, in_parent), _ in results]
    assert here[0] and not all(here)  # pinned item here; workers took some of the rest
    assert all(seconds >= 0 for _, seconds in results)
    assert [r[0] for r in map_forked(where, range(5), n_jobs=1)] == [(i, True) for i in range(5)]


class Refused(Exception):
    def __init__(self, message, *, row):
        super().__init__(message)
        self.row = row


def fails_on_three(item):
    if item == 3:
        raise Refused("bad item", row=item)
    return item


@needs_fork
def test_a_workers_error_is_raised_here_as_it_would_have_been():
    # An exception a pipe could not carry whole (a keyword-only attribute) arrives intact:
    # the item is computed again in this process, which raises it.
    with pytest.raises(Refused) as caught:
        map_forked(fails_on_three, range(5), n_jobs=2)
    assert caught.value.row == 3


def dies_in_a_worker(item):
    if os.getpid() != PARENT:
        os._exit(9)  # as if killed for memory
    time.sleep(0.1)
    return item * 10


@needs_fork
def test_a_dead_workers_item_is_computed_here_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="graphchurn"):
        results = map_forked(dies_in_a_worker, range(4), n_jobs=2)
    assert [value for value, _ in results] == [0, 10, 20, 30]
    assert "exit code 9" in caplog.text and caplog.text.count("worker process stopped") == 1


def slow_in_the_parent(item):
    time.sleep(1.0 if os.getpid() == PARENT else 0.1)
    return item, os.getpid() == PARENT


@needs_fork
def test_a_worker_goes_on_to_the_next_item_while_this_process_is_busy():
    # This process is busy with its pinned item for a second; the one worker takes every
    # other item in turn meanwhile, instead of waiting for this process to hand them out.
    results = map_forked(slow_in_the_parent, range(5), n_jobs=2)
    assert [value for value, _ in results] == [(0, True)] + [(i, False) for i in range(1, 5)]


@needs_fork
def test_cut_offs_built_side_by_side_give_the_same_analysis(monkeypatch):
    import graphchurn.pipeline as pipeline

    # Reasons in parts too (a large table's are found side by side): parts of 40 customers.
    monkeypatch.setattr(pipeline, "REASONS_PART_MIN_ROWS", 40)
    world = generate_world(n_customers=300, days=130, seed=2)
    runs = {n: analyze(world.interactions, world.customers,
                       AnalyzeConfig(embeddings=False, n_jobs=n)) for n in (1, 2)}
    one, two = runs[1], runs[2]
    assert len(two.training) >= 3  # as-of and three training cut-offs: workers had work
    for a, b in zip([one.features] + one.training, [two.features] + two.training):
        pd.testing.assert_frame_equal(a.table, b.table)
        assert b.has_graph and a.graph.graph.get_edgelist() == b.graph.graph.get_edgelist()
    pd.testing.assert_frame_equal(one.scores, two.scores)
    # The groups at as-of, found beside the scoring model's fit with workers: the same.
    np.testing.assert_array_equal(one.features.membership, two.features.membership)
    pd.testing.assert_frame_equal(one.groups, two.groups)
    pd.testing.assert_frame_equal(one.influencers, two.influencers)
    assert "communities at as-of" in two.metrics["timings_s"]
    assert len(two.scores) >= 80 and two.scores["reasons"].nunique() > 5
    assert "features, side by side" in two.metrics["timings_s"]
    assert "features, side by side" not in one.metrics["timings_s"]
    # With workers the backtest model is fitted while the newest cut-off is still being built
    # (its RFM baseline with it): the same model, the same backtest.
    assert "RFM baseline" in two.metrics["timings_s"]
    assert "RFM baseline" not in one.metrics["timings_s"]
    for key in ("roc_auc", "pr_auc", "log_loss", "baseline_rfm_logistic", "level_shift"):
        assert one.metrics[key] == two.metrics[key], key


def test_n_jobs_zero_is_refused_naming_the_parameter():
    world = generate_world(n_customers=120, days=70, seed=1)
    with pytest.raises(InputError, match="n_jobs") as caught:
        analyze(world.interactions, world.customers, AnalyzeConfig(embeddings=False, n_jobs=0))
    assert caught.value.parameter == "n_jobs"


@needs_fork
def test_no_worker_is_forked_without_memory_for_it(monkeypatch):
    import graphchurn.features.workers as forked

    monkeypatch.setattr(forked, "available_memory", lambda: 10 * 2**30)
    spare = map_forked(where, range(3), n_jobs=2, worker_bytes=2**30)
    short = map_forked(where, range(3), n_jobs=2, worker_bytes=20 * 2**30)
    assert not all(in_parent for (_, in_parent), _ in spare)
    assert [value for value, _ in short] == [(0, True), (1, True), (2, True)]


@needs_fork
def test_a_worker_runs_openmp_code_its_parent_ran_before(tmp_path):
    # GNU OpenMP in a forked child waits forever for the pool of threads its parent started
    # (python-igraph's PageRank starts one on graphs of this size): the workers must not. In a
    # subprocess, so that a hang fails the test instead of stopping the suite.
    import subprocess
    import sys

    script = tmp_path / "pagerank_after_fork.py"
    script.write_text(
        "import igraph as ig\n"
        "from graphchurn.features.workers import map_forked\n"
        "g = ig.Graph.Erdos_Renyi(n=20000, m=100000, directed=False)\n"
        "g.personalized_pagerank(implementation='prpack')  # the parent's OpenMP pool\n"
        "ranks = map_forked(lambda i: round(sum(g.personalized_pagerank()), 6), range(3),\n"
        "                   n_jobs=3)\n"
        "print([value for value, _ in ranks])\n")
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("a forked worker hung in OpenMP code")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1.0, 1.0, 1.0]"


def sleeps_for(item):
    time.sleep(item)
    return item


@needs_fork
def test_results_are_told_as_they_come_while_a_worker_builds_the_rest():
    # This process builds 0.2, the worker 0.1 and then 1.5: the worker's first result is
    # sent as soon as it has it, so this process is told of it long before the last one.
    start = time.perf_counter()
    told = []
    results = map_forked(sleeps_for, [0.2, 0.1, 1.5], n_jobs=2,
                         on_result=lambda i, value: told.append((i, value,
                                                                 time.perf_counter() - start)))
    assert [value for value, _ in results] == [0.2, 0.1, 1.5]
    assert [(i, value) for i, value, _ in told] == [(0, 0.2), (1, 0.1), (2, 1.5)]
    assert told[1][2] < 1.0 <= told[2][2]
    sequential = []
    map_forked(sleeps_for, [0.0, 0.01], n_jobs=1, on_result=lambda i, v: sequential.append(i))
    assert sequential == [0, 1]
