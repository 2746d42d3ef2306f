"""Hostile input through the command line (issue 26): >= 100 mutated inputs, each run as
`python -m graphchurn analyze` in a subprocess, counted as clean error (exit 2, one line),
acceptance (exit 0), traceback, other exit, or hang (timeout); with each run's peak memory
(max RSS of the child) against the input's size.

The base input is a 2,000-row slice of the demo log (every 130th row of
data/sample/interactions.csv.gz, so it spans the demo's four months) and the demo customer table.

    python experiments/fuzz_inputs.py [--jobs 2] [--timeout 120]

Writes experiments/results/fuzz_inputs.md (and .json).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from _common import ROOT, library_version, markdown_table

RESULTS = ROOT / "experiments" / "results"
_WRAPPER = ("import resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
            "sys.stderr.buffer.write(p.stderr)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.exit(p.returncode)\n")
BYTES = [b",", b";", b'"', b"\t", b"\r", b"\n", b"\x00", b"\xff", b" ", b"9", b"e", b"-",
         b"|", b"1e308", b'""', b"2099", b"\xc3"]


def base_inputs() -> tuple[list[str], list[str]]:
    with gzip.open(ROOT / "data/sample/interactions.csv.gz", "rt") as handle:
        lines = handle.read().splitlines()
    log = [lines[0]] + [line for i, line in enumerate(lines) if i % 130 == 0 and i][:2000]
    customers = (ROOT / "data/sample/customers.csv").read_text().splitlines()
    return log, customers


def _set(line: str, column: int, value: str, sep=",") -> str:
    fields = line.split(sep)
    fields[column] = value
    return sep.join(fields)


def cases(seed: int = 0):
    """(kind, name, log lines or bytes, customer lines or None, extra args)."""
    log, customers = base_inputs()
    out = []

    def edit(lines, row, column, value):
        lines = list(lines)
        lines[row] = _set(lines[row], column, value)
        return lines

    for value in ["1e308", "-1e308", "inf", "nan", "99999999999999999999999", "1e400", "864001",
                  "-5", "1,5", "0x10"]:
        out.append(("extreme number", f"duration {value}", edit(log, 100, 3, value), None, []))
    for column, name in [(2, "value"), (3, "tenure_months"), (5, "age")]:
        for value in ["1e308", "inf", "99999999999999999999999"]:
            out.append(("extreme number", f"{name} {value}", log, edit(customers, 50, column, value), []))
    for size in [300, 100_000, 1_000_000, 10_000_000]:
        out.append(("long id", f"src of {size:,} chars", edit(log, 100, 0, "7" * size), None, []))
    out.append(("long id", "customer_id of 1,000,000 chars", log,
                edit(customers, 50, 0, "7" * 1_000_000), []))
    for cell in ['"\t=1+1"', '"\r+447000000001"', '"+4470\t00"', 'ab"c', '"x\x0by"', '"  +44 "',
                 '"=1+1"', '"\u00a0+447"']:
        out.append(("odd id", f"src {cell!r}", edit(log, 100, 0, cell), None, []))
    semi = [line.replace(",", ";") for line in log]
    out.append(("delimiter", "comma header, semicolon rows", [log[0]] + semi[1:], None, []))
    out.append(("delimiter", "semicolon header, comma rows", [semi[0]] + log[1:], None, []))
    out.append(("delimiter", "tab header, comma rows", [log[0].replace(",", "\t")] + log[1:], None, []))
    out.append(("delimiter", "all semicolons", semi, None, []))
    out.append(("delimiter", "one semicolon row", log[:200] + [semi[200]] + log[201:], None, []))
    for date in ["1970-01-01T00:00:00", "2099-01-01T00:00:00"]:
        for count in [1, 3, 10, 40]:
            lines = list(log)
            for row in range(10, 10 + count):
                lines[row] = _set(lines[row], 2, date)
            out.append(("stray date", f"{count} row(s) at {date[:10]}", lines, None, []))
    for date in ["9999-01-01T00:00:00", "0001-01-01T00:00:00", "2262-04-12T00:00:00"]:
        out.append(("stray date", f"timestamp {date[:10]}", edit(log, 100, 2, date), None, []))
    for as_of in ["9999-01-01", "0001-01-01", "1677-01-01", "2262-04-12", "2025-02-30",
                  "2025-04-01"]:
        out.append(("option", f"--as-of {as_of}", log, None, ["--as-of", as_of]))
    rng = random.Random(seed)
    text = ("\n".join(log) + "\n").encode()
    for i in range(50):
        data = bytearray(text)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            piece = rng.choice(BYTES)
            action = rng.choice(["insert", "delete", "replace"])
            if action == "insert":
                data[at:at] = piece
            elif action == "delete":
                del data[at:at + rng.randint(1, 40)]
            else:
                data[at:at + len(piece)] = piece
        out.append(("random bytes", f"mutation {i}", bytes(data), None, []))
    return out


def run_case(case, workdir: Path, timeout: float) -> dict:
    kind, name, log, customers, extra = case
    index = abs(hash(name)) % 10**8
    log_path = workdir / f"log_{index}.csv"
    log_path.write_bytes(log if isinstance(log, bytes) else ("\n".join(log) + "\n").encode(
        "utf-8", "surrogatepass"))
    size = log_path.stat().st_size
    args = [sys.executable, "-m", "graphchurn", "-q", "analyze", "--interactions", str(log_path),
            "--out", str(workdir / f"out_{index}"), "--no-embeddings", "--estimator", "logistic"]
    if customers is not None:
        cust_path = workdir / f"customers_{index}.csv"
        cust_path.write_text("\n".join(customers) + "\n")
        size += cust_path.stat().st_size
        args += ["--customers", str(cust_path)]
    args += extra
    start = time.perf_counter()
    # A wrapper runs the CLI and reports its child's peak memory (max RSS) on stdout.
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        out, err = proc.communicate(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        hung = True
    try:
        peak_mb = int(out.decode().strip().splitlines()[-1]) / 1024
    except (IndexError, ValueError):
        peak_mb = float("nan")
    seconds = time.perf_counter() - start
    err = err.decode("utf-8", "replace")
    if hung:
        outcome = "hang"
    elif "Traceback" in err:
        outcome = "traceback"
    elif proc.returncode == 0:
        outcome = "accepted"
    elif proc.returncode == 2 and len([l for l in err.splitlines() if "error" in l]) == 1:
        outcome = "clean error"
    else:
        outcome = f"exit {proc.returncode}"
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return {"kind": kind, "case": name, "outcome": outcome, "input_mb": size / 1e6,
            "peak_mb": peak_mb,
            "seconds": round(seconds, 1), "message": last[:160]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120)
    opts = parser.parse_args()
    all_cases = cases()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)

        with ThreadPoolExecutor(opts.jobs) as pool:
            rows = list(pool.map(lambda case: run_case(case, workdir, opts.timeout), all_cases))
    frame = pd.DataFrame(rows)
    counts = frame.groupby(["kind", "outcome"]).size().unstack(fill_value=0)
    totals = frame["outcome"].value_counts()
    (RESULTS / "fuzz_inputs.json").write_text(frame.to_json(orient="records", indent=1))
    lines = [
        "# Hostile input through the command line (issue 26)",
        "",
        f"`python experiments/fuzz_inputs.py` at {library_version()}: {len(frame)} mutated inputs "
        "of a 2,000-row slice of the demo log (and the demo customer table), each run as "
        "`python -m graphchurn -q analyze --no-embeddings --estimator logistic` in a subprocess "
        f"with a {opts.timeout:.0f} s timeout, {opts.jobs} at a time on a shared 2-core machine.",
        "",
        "Totals: " + ", ".join(f"{v} {k}" for k, v in totals.items()) + ".",
        "",
        f"Peak memory: median {frame['peak_mb'].median():.0f} MB, largest "
        f"{frame['peak_mb'].max():.0f} MB ({frame.loc[frame['peak_mb'].idxmax(), 'case']}); "
        "the largest input is "
        f"{frame['input_mb'].max():.1f} MB ({frame.loc[frame['input_mb'].idxmax(), 'case']}, "
        f"peak {frame.loc[frame['input_mb'].idxmax(), 'peak_mb']:.0f} MB).",
        "",
        markdown_table(counts),
        "",
        "Peak memory (max RSS of the child process) against input size; an interpreter with "
        "numpy, pandas, pyarrow and scikit-learn imported is about 0.2-0.3 GB before any data:",
        "",
        markdown_table(frame.set_index("case")[["kind", "outcome", "input_mb", "peak_mb",
                                                "seconds", "message"]], floatfmt=".1f"),
        "",
    ]
    (RESULTS / "fuzz_inputs.md").write_text("\n".join(lines))
    print("\n".join(lines[:8]))


if __name__ == "__main__":
    main()
