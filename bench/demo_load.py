"""Time `build_demo()` (what `flask demo load` runs) on a fresh database, then the no-op re-run.

    python bench/demo_load.py                 # SQLite in a temporary directory
    python bench/demo_load.py --postgres      # also PostgreSQL (throw-away database on 127.0.0.1:5432)
    python bench/demo_load.py --venues 10000

Runs with the development config, so passwords get the real argon2 cost. Prints the total and the time per stage (plan, areas, venues, users). Writes nothing outside a
temporary directory and the throw-away database it drops afterwards.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "firesweep_bench_demo"


def run(label: str, url: str, venues: int) -> None:
    from server import create_app
    from server.demo import build_demo
    from server.extensions import db

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"ENV_NAME": "development", "INSTANCE_DIR": tmp, "SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{tmp}/bench.db"})
        with app.app_context():
            db.drop_all()
            db.create_all()
            started = time.perf_counter()
            first = build_demo(venues=venues, log=lambda _msg: None)
            total = time.perf_counter() - started
            stages = ", ".join(f"{k} {v:.2f}s" for k, v in first.timings.items())
            print(f"{label}: {first.venues_created} venues, {first.users_created} users, "
                  f"{first.areas_created} areas in {total:.2f}s ({stages})")
            started = time.perf_counter()
            again = build_demo(venues=venues, log=lambda _msg: None)
            assert not again.created_anything
            print(f"{label}: re-run (nothing to do) {time.perf_counter() - started:.2f}s")
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", type=int, default=3000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    os.environ.pop("DATABASE_URL", None)
    run("sqlite", "", args.venues)
    if args.postgres:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
            conn.execute(f"CREATE DATABASE {PG_DB}")
        try:
            run("postgresql", f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}", args.venues)
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")


if __name__ == "__main__":
    main()
