"""Bounded load test of the web workspace on loopback (issue 23): N users browse while a large
run executes in the worker process.

Starts `graphchurn serve --data` on a free loopback port, finishes a small run first (so there
are results pages to browse), then uploads a world of --customers customers through
`POST /api/runs` and, while that run is queued or running, has --users threads (each logged in
with its own session cookie) request the workspace pages and API in a loop (run list, run page,
group page with its SVG, customer page, contact list, /api/runs, /api/runs/{id}). It states
the p50/p95/max latency and error rate of those requests, and how long the big run took.

    nice .venv/bin/python experiments/web_load.py --customers 100000   # the issue's size
    nice .venv/bin/python experiments/web_load.py --customers 10000    # what was run here

Writes results/web_load_<customers>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

from _common import ROOT, library_version

PASSWORD = "load test password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def world(root: Path, n: int, days: int, seed: int) -> Path:
    from graphchurn.synth import generate_world, write_world

    out = root / f"world_{n}"
    write_world(generate_world(n_customers=n, days=days, seed=seed), out, fmt="parquet" if n > 20000 else "csv")
    return out


def post_run(client: httpx.Client, folder: Path, params: dict) -> str:
    log = next(p for p in folder.iterdir() if p.name.startswith("interactions"))
    with open(log, "rb") as fi, open(folder / "customers.csv", "rb") as fc:
        r = client.post("/api/runs", files={"interactions": (log.name, fi), "customers": ("customers.csv", fc)},
                        data={"params": json.dumps(params)}, timeout=600)
    r.raise_for_status()
    return r.json()["id"]


def wait(client: httpx.Client, run_id: str, timeout: float) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = client.get(f"/api/runs/{run_id}").json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(1)
    raise SystemExit(f"run {run_id} did not finish in {timeout} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=3600, help="stop browsing after this long")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="graphchurn-load-"))
    data = root / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "graphchurn"]
    subprocess.run(cli + ["users", "add", "ops", "--data", str(data)], input=PASSWORD + "\n", text=True,
                   check=True, env=env, capture_output=True)
    token = subprocess.run(cli + ["users", "token", "ops", "--data", str(data)], text=True, check=True, env=env,
                           capture_output=True).stdout.split()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(cli + ["serve", "--data", str(data), "--port", str(port), "--workers", "1"],
                              stdout=open(root / "server.log", "w"), stderr=subprocess.STDOUT, env=env)
    try:
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        for _ in range(100):
            try:
                api.get("/login")
                break
            except httpx.TransportError:
                time.sleep(0.3)
        params = {"embeddings": False}
        print("small run to browse ...", flush=True)
        small_id = post_run(api, world(root, 2000, 100, 0), params)
        small = wait(api, small_id, 900)
        assert small["status"] == "done", small["error"]
        groups = api.get(f"/api/runs/{small_id}/groups.csv").text.splitlines()[1:6]
        communities = [g.split(",")[0] for g in groups]
        scores = api.get(f"/api/runs/{small_id}/scores.csv").text.splitlines()[1:21]
        customers = [s.split(",")[0] for s in scores]
        pages = ["/", f"/runs/{small_id}", "/api/runs", f"/api/runs/{small_id}",
                 f"/runs/{small_id}/contacts?budget=500"]
        pages += [f"/runs/{small_id}/groups/{c}" for c in communities]
        pages += [f"/runs/{small_id}/customers/{quote(c, safe='')}" for c in customers[:5]]

        print(f"generating {args.customers:,} customers ...", flush=True)
        big_world = world(root, args.customers, args.days, args.seed)
        t0 = time.time()
        big_id = post_run(api, big_world, params)
        upload_s = time.time() - t0
        samples: list[tuple[str, float, int]] = []
        stop = threading.Event()
        lock = threading.Lock()

        def browse(i: int) -> None:
            rng = random.Random(i)
            with httpx.Client(base_url=url, timeout=60) as c:
                c.post("/login", data={"name": "ops", "password": PASSWORD})
                while not stop.is_set():
                    page = rng.choice(pages)
                    start = time.perf_counter()
                    try:
                        status = c.get(page).status_code
                    except httpx.HTTPError:
                        status = 0
                    with lock:
                        samples.append((page, time.perf_counter() - start, status))
                    time.sleep(rng.uniform(0.2, 1.0))  # a person reading

        threads = [threading.Thread(target=browse, args=(i,), daemon=True) for i in range(args.users)]
        for t in threads:
            t.start()
        status = {}
        while time.time() - t0 < args.max_seconds:
            status = api.get(f"/api/runs/{big_id}").json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(2)
        stop.set()
        for t in threads:
            t.join()
        run_s = time.time() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)

    lat = np.array([s[1] for s in samples]) * 1000
    errors = sum(1 for s in samples if s[2] != 200)
    result = {
        "customers": args.customers, "days": args.days, "users": args.users, "cpu_count": os.cpu_count(),
        "library": library_version(), "big_run_status": status.get("status"), "big_run_error": status.get("error"),
        "big_run_seconds": round(run_s, 1), "upload_seconds": round(upload_s, 2), "requests": len(samples),
        "error_rate": errors / max(len(samples), 1),
        "latency_ms": {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
                       "max": float(lat.max())} if len(lat) else None,
    }
    out = ROOT / "experiments" / "results" / f"web_load_{args.customers}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    md = (f"# Web workspace under load ({args.customers:,} customers)\n\n"
          f"{args.users} users browsing (pages and API, 0.2-1 s between requests) while a "
          f"{args.customers:,}-customer run ({args.days} days, embeddings off) executed in the worker process; "
          f"{os.cpu_count()} CPUs shared with other jobs; library {result['library']}.\n\n"
          f"- big run: {result['big_run_status']} in {result['big_run_seconds']} s "
          f"(upload {result['upload_seconds']} s)\n"
          f"- {result['requests']} page/API requests, error rate {result['error_rate']:.2%}\n")
    if result["latency_ms"]:
        m = result["latency_ms"]
        md += f"- latency: p50 {m['p50']:.0f} ms, **p95 {m['p95']:.0f} ms**, max {m['max']:.0f} ms\n"
    md += f"\nReproduce: `nice .venv/bin/python experiments/web_load.py --customers {args.customers}`\n"
    out.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
