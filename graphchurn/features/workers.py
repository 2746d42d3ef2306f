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
import struct
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from queue import SimpleQueue

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


class _Items:
    """The items no process has taken yet, as 4-byte tokens in a pipe that this process and
    its forked workers read: each read takes one item, atomically, and no lock is held that
    a worker killed mid-draw could leave taken."""

    def __init__(self, indices):
        indices = list(indices)
        if len(indices) * 4 > 4096:  # PIPE_BUF: one write, never split (and never blocking)
            raise ValueError(f"too many items for one pipe of tokens: {len(indices)}")
        self._read, write = os.pipe()
        os.write(write, b"".join(struct.pack("<i", i) for i in indices))
        os.close(write)  # an empty pipe then reads as EOF, not as "wait"

    def take(self):
        """The next item's index, or None when every item is taken."""
        token = os.read(self._read, 4)
        return struct.unpack("<i", token)[0] if token else None

    def close(self):
        os.close(self._read)


class _Worker:
    """One forked process taking items from ``items`` until none is left. It says which item
    it starts and sends each result as soon as it has it, from a thread of its own: the
    worker goes on to its next item while the result waits in the pipe for this process to
    be free to read it."""

    def __init__(self, fn, items, queue):
        context = multiprocessing.get_context("fork")
        self.reader, writer = context.Pipe(duplex=False)
        self.process = context.Process(target=_work, args=(writer, fn, items, queue),
                                       daemon=True)
        self.process.start()
        writer.close()  # the child holds its own copy; EOF reaches us if it dies
        self.started: list[int] = []

    def messages(self):
        """Messages waiting in the pipe: ``("start", i)``, ``("ok", i, value, seconds)``,
        ``("error", i, message)``, and ``("end",)`` last; a worker that dies first gives
        ``("died", exit code)``."""
        out = []
        while True:
            try:
                if not self.reader.poll():
                    return out
                out.append(self.reader.recv())
            except EOFError:
                self.process.join()
                return out + [("died", self.process.exitcode)]
            if out[-1][0] == "end":
                self.process.join()
                return out

    def stop(self):
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.reader.close()


def _work(writer, fn, items, queue):
    outbox = SimpleQueue()

    def send():  # in order, each message as soon as the pipe takes it
        while (message := outbox.get()) is not None:
            writer.send(message)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        # GNU OpenMP (python-igraph's PageRank uses it, as does scikit-learn) waits forever in
        # a forked child for the thread pool its parent started; on one thread it starts none.
        with threadpool_limits(limits=1, user_api="openmp"):
            while (i := queue.take()) is not None:
                outbox.put(("start", i))
                start = time.perf_counter()
                try:
                    value = fn(items[i])
                except BaseException as exc:  # raised again by the parent's own run
                    outbox.put(("error", i, f"{type(exc).__name__}: {exc}"))
                    break
                outbox.put(("ok", i, value, time.perf_counter() - start))
                del value
        outbox.put(("end",))
    finally:
        outbox.put(None)
        sender.join()
        writer.close()


def _timed(fn, item):
    start = time.perf_counter()
    value = fn(item)
    return value, time.perf_counter() - start


def map_forked(fn, items, *, n_jobs: int | None = None, pin_first: bool = True,
               worker_bytes: int = 0, on_result=None):
    """``fn`` of every item, up to ``n_jobs`` at a time: this process and forked workers.

    This process computes the first item when ``pin_first`` (its result is never pickled);
    up to ``n_jobs - 1`` workers, forked at the start, and this process whenever it is free
    take the other items one at a time, in order, each the next one nobody has taken, until
    none is left (a worker that finishes while this process is busy goes on to the next
    item instead of waiting for it). A worker sends each result as soon as it has it, and
    gives all of its memory back when it ends. With ``n_jobs`` 1, or where forking is not
    available (:func:`fork_available`), every item runs here, in order.

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
        available (:func:`available_memory`) beyond every running worker's share, else its
        items wait for this process.
    on_result : callable, optional
        Called here as ``on_result(index, result)`` for every item, as results become
        available, whenever this process is between items: work that needs some of the
        results can start while the workers build the rest.

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
    results = [None] * len(items)
    told = deque()  # indices whose result on_result has not seen yet

    def done(i, result):
        results[i] = result
        told.append(i)

    def tell():
        while told:
            i = told.popleft()
            if on_result is not None:
                on_result(i, results[i][0])

    if n_jobs == 1 or not fork_available():
        for i, item in enumerate(items):
            done(i, _timed(fn, item))
            tell()
        return results
    mine = 0 if pin_first else None
    queue = _Items(i for i in range(len(items)) if i != mine)
    redo: deque[int] = deque()  # items a worker failed on or died with
    running: list[_Worker] = []

    def room():
        if not worker_bytes:
            return True
        free = available_memory()
        # Running workers may not have reached their peak yet: their share is still to come.
        return free is None or free >= worker_bytes * (len(running) + 1)

    def read(worker):
        for message in worker.messages():
            kind = message[0]
            if kind == "start":
                worker.started.append(message[1])
            elif kind == "ok":
                done(message[1], message[2:])
            elif kind == "error":
                log.debug("a worker failed (%s); computing its item here", message[2])
                redo.append(message[1])
            elif kind == "end":
                running.remove(worker)
            else:  # died: killed from outside, most often for memory
                log.warning("a worker process stopped (exit code %s, perhaps out of memory): "
                            "its items are computed in this process", message[1])
                redo.extend(i for i in worker.started if results[i] is None)
                running.remove(worker)

    try:
        while len(running) < n_jobs - 1 and room():
            running.append(_Worker(fn, items, queue))
        while True:
            if mine is None:
                mine = redo.popleft() if redo else queue.take()
            if mine is not None:
                done(mine, _timed(fn, items[mine]))
                mine = None
            elif running:
                wait([w.reader for w in running])
            else:
                break
            for worker in list(running):
                read(worker)
            tell()
    finally:
        for worker in running:
            worker.stop()
        queue.close()
    # An item a worker took and died before saying so is the one thing left: computed here.
    for i, result in enumerate(results):
        if result is None:
            done(i, _timed(fn, items[i]))
    tell()
    return results
