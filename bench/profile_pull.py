"""In-process profile of the initial pull of bench_sync.py's street (5,000 venues, 20,000 hazards).

Pages are fetched through the Flask test client with gzip, as the PWA asks for them; prints
statements, CPU and wall time of the whole pull and the gzipped bytes.

    .venv/bin/python bench/profile_pull.py [--db sqlite|postgres] [--limit 2000] [--profile out.prof]
"""
from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import database, make_app  # noqa: E402
from bench.bench_sync import PASSWORD, seed_street  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--profile")
    args = ap.parse_args()
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
            prof = cProfile.Profile() if args.profile and attempt == args.repeat - 1 else None
            counter["n"] = 0
            cursor, size, rows, pages = 0, 0, 0, 0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if prof:
                prof.enable()
            while True:
                resp = client.get(f"/api/v1/sync/pull?cursor={cursor}&limit={args.limit}",
                                  headers={"Accept-Encoding": "gzip"})
                payload = resp.get_data()
                size += len(payload)
                body = json.loads(gzip.decompress(payload) if resp.headers.get("Content-Encoding") == "gzip"
                                  else payload)
                rows += len(body["changes"])
                pages += 1
                cursor = body["cursor"]
                if not body["has_more"]:
                    break
            if prof:
                prof.disable()
                prof.dump_stats(args.profile)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            print(f"{args.db}: {rows} rows in {pages} pages, {size:,} gzipped bytes, {counter['n']} statements, "
                  f"CPU {cpu:.2f} s, wall {wall:.2f} s{' (under cProfile)' if prof else ''}")


if __name__ == "__main__":
    main()
