"""In-process profile of sync push: statements per mutation and CPU per batch of 50.

The same batches as bench_sync.py, posted through the Flask test client (the whole WSGI stack
but no sockets), so the figures do not depend on gunicorn or on the machine's other load:
statement counts are exact and CPU time is this process only.

    .venv/bin/python bench/profile_push.py [--db sqlite|postgres] [--batches 10] [--profile out.prof]

Instructions per batch (load-independent): the difference of two cachegrind runs, one with
`--batches 0` (start-up and warm-up only), over the number of batches:

    PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        .venv/bin/python bench/profile_push.py --batches 20   # and again with --batches 0

`--statements` counts what goes through the engine, with the mean wall time of each kind (sent
to answer read: on PostgreSQL the round trip and the server's work): on PostgreSQL a push's runs of
rows, audit events and stored answers go in by COPY on the driver's cursor (four per batch), not
counted.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import database, make_app  # noqa: E402
from bench.bench_sync import PASSWORD, make_batch, seed_people  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--profile", help="write cProfile stats of the measured batches here")
    ap.add_argument("--statements", action="store_true", help="print the statements of one batch by kind")
    args = ap.parse_args()
    from sqlalchemy import event

    from server.extensions import db

    with tempfile.TemporaryDirectory() as tmp, database(args.db, Path(tmp)) as url:
        app = make_app(url, Path(tmp))
        ids = seed_people(app)
        client = app.test_client()
        csrf = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
        body = client.post("/api/v1/auth/login", json={"username": "insp1", "password": PASSWORD},
                           headers={"X-CSRF-Token": csrf}).get_json()
        headers = {"X-CSRF-Token": body["csrf_token"]}

        def post(muts, device_id="bench-device-1"):
            resp = client.post("/api/v1/sync/push", headers=headers,
                               json={"device_id": device_id, "schema_version": 1, "mutations": muts})
            out = resp.get_json()
            assert resp.status_code == 200, out
            bad = [r for r in out["results"] if r["status"] != "applied"]
            assert not bad, bad[:2]

        # Warm-up (imports, caches, first counter row) from another device, as in bench_sync.py: the
        # measured one sends its numbers from 1 on, as a phone does.
        post(make_batch(ids, 100000), "bench-device-0")
        payloads = [make_batch(ids, 1 + i * 50) for i in range(args.batches)]
        statements: Counter = Counter()
        seconds: Counter = Counter()
        with app.app_context():
            engine = db.engine

        def count(conn, cursor, statement, parameters, context, executemany):
            words = statement.split()
            key = words[0] if words[0] in ("SAVEPOINT", "RELEASE", "ROLLBACK") else " ".join(words[:4])
            statements[key] += 1
            conn.info["statement_started"] = (key, time.perf_counter())

        def timed(conn, cursor, statement, parameters, context, executemany):
            key, started = conn.info.pop("statement_started")
            seconds[key] += time.perf_counter() - started

        event.listen(engine, "before_cursor_execute", count)
        event.listen(engine, "after_cursor_execute", timed)
        # CPU time, not wall: the machine is shared, and a wall-clock profile charges other jobs to us.
        prof = cProfile.Profile(time.process_time) if args.profile else None
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        per_batch = []
        for muts in payloads:
            b0 = time.process_time()
            post(muts)
            per_batch.append(time.process_time() - b0)
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        event.remove(engine, "before_cursor_execute", count)
        event.remove(engine, "after_cursor_execute", timed)
        if not args.batches:  # a baseline for instruction counts: start-up and warm-up only
            return
        n = args.batches * 50
        total = sum(statements.values())
        print(f"{args.db}: {args.batches} batches, {n} mutations: {total / n:.2f} statements/mutation, "
              f"CPU {cpu / args.batches * 1000:.1f} ms/batch, wall {wall / args.batches * 1000:.1f} ms/batch"
              f"{' (under cProfile)' if prof else ''}")
        # The least disturbed batches: on a shared machine the mean CPU time drifts with the load
        # (caches, frequency), the minimum and median much less.
        per_batch.sort()
        print(f"  CPU per batch: min {per_batch[0] * 1000:.1f} ms, median {per_batch[len(per_batch) // 2] * 1000:.1f} ms"
              f" (load average {os.getloadavg()[0]:.1f})")
        if prof:
            import pstats

            calls = pstats.Stats(args.profile).total_calls
            print(f"  Python calls per batch (cProfile): {calls / args.batches:,.0f}")
        if args.statements:
            for stmt, k in statements.most_common():
                print(f"  {k / args.batches:7.1f}/batch  {seconds[stmt] / k * 1000:6.2f} ms  {stmt}")


if __name__ == "__main__":
    main()
