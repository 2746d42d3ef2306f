"""Independent stages side by side in forked worker processes (the cut-offs' feature builds).

The cut-offs' feature builds of one analysis are independent of each other, and most of their
time is spent in python-igraph, which holds the GIL: threads would take turns. Forked workers
share the parent's memory (the coded log is read, never written, so its pages stay shared)
and send back only their result. One item may be pinned to this process, so that what stays
in use afterwards (the scoring cut-off's graph) is never copied through a pipe.

A worker that fails, or dies (killed for memory), costs time, never the result: its item is
built again in this process, where an error is raised as it would have been without workers.

Workers are forked, never spawned: a spawned worker would have to be sent the whole log.
Forking is used only on Linux; elsewhere :func:`map_forked` runs everything in this process.
A worker runs OpenMP code on one thread: GNU OpenMP in a forked child waits forever for the
thread pool its parent had started (python-igraph's PageRank starts one), and a worker is
there to use a core of its own anyway.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from collections import deque
from multiprocessing.connection import wait

from threadpoolctl import threadpool_limits

__all__ = [
    "fork_available",
    "available_cores",
    "available_memory",
    "resolve_n_jobs",
    "map_forked",
]

log = logging.getLogger(__name__)


def fork_available() -> bool:
    """Whether this platform can run :func:`map_forked`'s workers (Linux: fork start method)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes the kernel estimates it can give new work without swapping (Linux's MemAvailable),
    or None where it does not say."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def resolve_n_jobs(n_jobs: int | None, n_items: int) -> int:
    """Processes to use for ``n_items`` independent items, scikit-learn's way: None is 1, -1 is
    every available core, -2 all but one, and so on; never more than the items.

    Examples
    --------
    >>> resolve_n_jobs(None, 3), resolve_n_jobs(2, 3), resolve_n_jobs(8, 3)
    (1, 2, 3)
    """
    if n_jobs is None:
        n_jobs = 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer or None, got {n_jobs!r}")
    if n_jobs < 0:
        n_jobs = max(available_cores() + 1 + n_jobs, 1)
    return max(1, min(n_jobs, n_items))


class _Worker:
    """One forked process computing ``fn(item)``; its result comes back through a pipe."""

    def __init__(self, fn, item):
        context = multiprocessing.get_context("fork")
        self.reader, writer = context.Pipe(duplex=False)
        self.process = context.Process(target=_work, args=(writer, fn, item), daemon=True)
        self.process.start()
        writer.close()  # the child holds its own copy; EOF reaches us if it dies

    def result(self):
        """``("ok", value, seconds)``, ``("error", message)`` or ``("died", exit code)``."""
        try:
            message = self.reader.recv()
        except EOFError:
            message = None
        finally:
            self.reader.close()
        self.process.join()
        return message if message is not None else ("died", self.process.exitcode)

    def stop(self):
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.reader.close()


def _work(writer, fn, item):
    try:
        start = time.perf_counter()
        # GNU OpenMP (python-igraph's PageRank uses it, as does scikit-learn) waits forever in
        # a forked child for the thread pool its parent started; on one thread it starts none.
        with threadpool_limits(limits=1, user_api="openmp"):
            value = fn(item)
        writer.send(("ok", value, time.perf_counter() - start))
    except BaseException as exc:  # reported, then raised again by the parent's own run
        writer.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        writer.close()


def _timed(fn, item):
    start = time.perf_counter()
    value = fn(item)
    return value, time.perf_counter() - start


def map_forked(fn, items, *, n_jobs: int | None = None, pin_first: bool = True,
               worker_bytes: int = 0):
    """``fn`` of every item, up to ``n_jobs`` at a time: this process and forked workers.

    This process computes the first item when ``pin_first`` (its result is never pickled),
    then, whenever it is free, the next item no worker has started; up to ``n_jobs - 1``
    workers take the others, one fresh fork per item (so a worker starts from this process's
    memory as it is then, and gives all of its own back when it ends). With ``n_jobs`` 1, or
    where forking is not available (:func:`fork_available`), every item runs here, in order.

    Parameters
    ----------
    fn : callable
        Called with one item; its result must pickle (it comes back through a pipe). It must be
        deterministic: a worker's failure is handled by calling it again here.
    items : sequence
    n_jobs : int or None
        Processes at once, this one included (:func:`resolve_n_jobs`).
    pin_first : bool
        Compute ``items[0]`` in this process.
    worker_bytes : int
        Memory one item's work takes: a worker is forked only while the machine has this much
        available (:func:`available_memory`) beyond every running worker's share, else the
        item waits for this process.

    Returns
    -------
    list of (result, seconds)
        In the order of ``items``; seconds is each item's own computing time.

    Examples
    --------
    >>> [value for value, _ in map_forked(abs, [-1, 2, -3], n_jobs=2)]
    [1, 2, 3]
    """
    items = list(items)
    n_jobs = resolve_n_jobs(n_jobs, len(items)) if items else 1
    if n_jobs == 1 or not fork_available():
        return [_timed(fn, item) for item in items]
    results = [None] * len(items)
    pending = deque(range(len(items)))
    running: dict[int, _Worker] = {}
    forking = True

    def room():
        if not worker_bytes:
            return True
        free = available_memory()
        # Running workers may not have reached their peak yet: their share is still to come.
        return free is None or free >= worker_bytes * (len(running) + 1)

    def collect(i):
        nonlocal forking
        outcome = running.pop(i).result()
        if outcome[0] == "ok":
            results[i] = outcome[1:]
            return
        if outcome[0] == "died":
            # Killed from outside (most often for memory): no more workers in this run.
            forking = False
            log.warning("a worker process stopped (exit code %s, perhaps out of memory): its "
                        "item is computed in this process, the rest one at a time here",
                        outcome[1])
        else:
            log.debug("a worker failed (%s); computing its item here", outcome[1])
        results[i] = _timed(fn, items[i])

    try:
        # This process's next item is taken before the workers are filled: it needs no pipe.
        mine = pending.popleft() if pin_first else None
        while mine is not None or pending or running:
            if mine is None and pending:
                mine = pending.popleft()
            while forking and pending and len(running) < n_jobs - 1 and room():
                i = pending.popleft()
                running[i] = _Worker(fn, items[i])
            if mine is not None:
                results[mine] = _timed(fn, items[mine])
                mine = None
            elif running:
                ready = wait([w.reader for w in running.values()])
                for i in [i for i, w in running.items() if w.reader in ready]:
                    collect(i)
            for i in [i for i, w in running.items() if w.reader.poll()]:
                collect(i)
    finally:
        for worker in running.values():
            worker.stop()
    return results
