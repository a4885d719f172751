"""In-process profile of the initial pull of bench_sync.py's street (5,000 venues, 20,000 hazards).

Pages are fetched through the Flask test client with gzip, as the PWA asks for them; prints
statements, CPU and wall time of the whole pull and the gzipped bytes.

    .venv/bin/python bench/profile_pull.py [--db sqlite|postgres] [--limit 2000] [--profile out.prof]

With --http, the pull goes through a real gunicorn worker, as in bench_sync.py, and the CPU
seconds of the worker process (from /proc) and of this client are printed apart: on a shared
machine they move far less with the load than the wall time does.

    .venv/bin/python bench/profile_pull.py --http [--db sqlite|postgres] [--repeat 3]
"""
from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import Client, database, gunicorn_process, make_app  # noqa: E402
from bench.bench_sync import PASSWORD, seed_street  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--profile")
    ap.add_argument("--http", action="store_true", help="through a gunicorn worker; server and client CPU apart")
    args = ap.parse_args()
    if args.http:
        return http_pull(args)
    from sqlalchemy import event

    from server.extensions import db

    with tempfile.TemporaryDirectory() as tmp, database(args.db, Path(tmp)) as url:
        app = make_app(url, Path(tmp))
        seed_street(app)
        client = app.test_client()
        csrf = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
        client.post("/api/v1/auth/login", json={"username": "insp1", "password": PASSWORD},
                    headers={"X-CSRF-Token": csrf})
        client.get("/api/v1/sync/pull?cursor=999999999")  # warm-up
        with app.app_context():
            engine = db.engine
        counter = {"n": 0}

        def count(*_):
            counter["n"] += 1

        event.listen(engine, "before_cursor_execute", count)
        for attempt in range(args.repeat):
            # CPU-time profile: the machine is shared, and wall-clock per-call times are mostly other
            # processes' time slices.
            prof = (cProfile.Profile(time.process_time) if args.profile and attempt == args.repeat - 1
                    else None)
            counter["n"] = 0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if prof:
                prof.enable()
            def get(cursor):
                resp = client.get(f"/api/v1/sync/pull?cursor={cursor}&limit={args.limit}",
                                  headers={"Accept-Encoding": "gzip"})
                return resp.get_data(), resp.headers

            rows, pages, size = _pull_all(get)
            if prof:
                prof.disable()
                prof.dump_stats(args.profile)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            print(f"{args.db}: {rows} rows in {pages} pages, {size:,} gzipped bytes, {counter['n']} statements, "
                  f"CPU {cpu:.2f} s, wall {wall:.2f} s{' (under cProfile)' if prof else ''}")


def _pull_all(get) -> tuple[int, int, int]:
    """Pull from cursor 0 until caught up; get(cursor) → (gzipped body, headers).
    Returns (rows, pages, bytes received)."""
    cursor, size, rows, pages = 0, 0, 0, 0
    while True:
        payload, headers = get(cursor)
        size += len(payload)
        body = json.loads(gzip.decompress(payload) if headers.get("Content-Encoding") == "gzip" else payload)
        rows += len(body["changes"])
        pages += 1
        cursor = body["cursor"]
        if not body["has_more"]:
            return rows, pages, size


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat, clock ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_pull(args):
    with tempfile.TemporaryDirectory() as tmp, database(args.db, Path(tmp)) as url:
        app = make_app(url, Path(tmp))
        seed_street(app)
        with gunicorn_process(url, Path(tmp)) as (port, proc):
            client = Client(port).login("insp1", PASSWORD)
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                worker = int(f.read().split()[0])
            client.request("GET", "/api/v1/sync/pull?cursor=999999999")  # warm-up, as bench_sync.py

            def get(cursor):
                _, payload, headers = client.request(
                    "GET", f"/api/v1/sync/pull?cursor={cursor}&limit={args.limit}",
                    headers={"Accept-Encoding": "gzip"}, raw=True)
                return payload, headers

            for attempt in range(args.repeat):
                server0, client0, wall0 = _cpu_seconds(worker), time.process_time(), time.perf_counter()
                rows, pages, size = _pull_all(get)
                server, client_cpu = _cpu_seconds(worker) - server0, time.process_time() - client0
                wall = time.perf_counter() - wall0
                print(f"{args.db} over HTTP{' (first pull of the worker)' if attempt == 0 else ''}: {rows} rows in "
                      f"{pages} pages, {size:,} gzipped bytes, server CPU {server:.2f} s + client CPU "
                      f"{client_cpu:.2f} s, wall {wall:.2f} s, load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
