"""The read + code stage of ``graphchurn analyze`` alone, for comparing two versions of the
library in one run (docs/results.md, issue 27: reading at 1M).

Runs ``load_interactions``, ``load_customers``, ``check_customers_match``, ``cut_at`` (at the
default as-of) and ``coded_log`` on a world folder (``interactions.parquet`` and
``customers.csv``), with the ``graphchurn`` found first on ``--tree`` (default: this checkout).
Prints, per step, CPU seconds (user + system, all threads), wall seconds and the peak RSS
during the step (sampled every 20 ms), then one ``RESULT`` line of JSON with those, the
process's peak RSS and a SHA-256 digest of the coded log (codes, categories, timestamps,
durations, kinds): two versions that give the same digest give the same log.

Example
-------
Old and new one after the other, under the shared machine's memory lock::

    git archive OLD graphchurn | tar -x -C /tmp/old
    for tree in /tmp/old .; do
        nice -n 19 flock /work/scratch/bigmem.lock .venv/bin/python \\
            experiments/bench_read_stage.py /work/data/w1m_d90 --tree $tree
    done
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import threading
import time
from pathlib import Path


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Steps:
    """Times steps and samples the peak RSS of each in a background thread."""

    def __init__(self):
        self.peak, self.out = 0, {}
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        while True:
            self.peak = max(self.peak, _rss())
            time.sleep(0.02)

    def run(self, name, fn, *args):
        self.peak = _rss()
        cpu, wall = _cpu(), time.perf_counter()
        value = fn(*args)
        self.out[name] = dict(cpu=round(_cpu() - cpu, 2), wall=round(time.perf_counter() - wall, 2),
                              peak_gb=round(self.peak / 1e9, 2), rss_after_gb=round(_rss() / 1e9, 2))
        print(name, self.out[name], flush=True)
        return value


def _digest(coded) -> str:
    digest = hashlib.sha256()
    digest.update("\n".join(coded["src"].cat.categories).encode())
    for name in ("src", "dst", "pair", "kind"):
        digest.update(coded[name].cat.codes.to_numpy().tobytes())
    digest.update(coded["pair"].cat.categories.to_numpy().tobytes())
    digest.update(coded["timestamp"].to_numpy().tobytes())
    digest.update(coded["duration"].to_numpy().tobytes())
    digest.update(str([list(coded.columns), list(coded["kind"].cat.categories)]).encode())
    return digest.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("world", type=Path, help="folder with interactions.parquet, customers.csv")
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1],
                        help="folder holding the graphchurn package to measure")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.tree.resolve()))
    from graphchurn.io.readers import check_customers_match, load_customers, load_interactions
    from graphchurn.pipeline import coded_log, cut_at, default_as_of

    steps = _Steps()
    log = steps.run("load_interactions", load_interactions, args.world / "interactions.parquet")
    customers = steps.run("load_customers", load_customers, args.world / "customers.csv")
    steps.run("check_customers_match", check_customers_match, log, customers, "customers.csv")
    log, customers = steps.run("cut_at", cut_at, log, customers, default_as_of(log))
    coded = steps.run("coded_log", coded_log, log, customers)
    del log
    result = dict(steps.out, digest=_digest(coded), total_cpu=round(_cpu(), 2),
                  maxrss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 2))
    print("RESULT", json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
