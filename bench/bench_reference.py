"""Reference-data and calendar benchmarks (issue 2 part 5).

1. `reference.load_all()`: first load into an empty database, reload into a wiped database
   (what every test using the fixture pays), and a no-change reload (what `make run` pays).
2. Calendar: `add_working_days(d, 10)` and `working_days_between` over a year, per call
   (each call reads the override table once per year touched).

    .venv/bin/python bench/bench_reference.py [--db sqlite,postgres] [--repeat 50]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import database, make_app  # noqa: E402


def timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def run(kind: str, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        app = make_app(url, Path(tmp))
        from server.extensions import db
        from server.models import ChecklistItem, ChecklistTemplate, LegalBasis
        from server.services import calendar, reference

        with app.app_context():
            db.create_all()
            t = time.perf_counter()
            reference.load_all()
            first = (time.perf_counter() - t) * 1000

            def wipe_and_load():
                db.session.query(ChecklistItem).delete()
                db.session.query(ChecklistTemplate).delete()
                db.session.query(LegalBasis).delete()
                db.session.commit()
                t0 = time.perf_counter()
                reference.load_all()
                return (time.perf_counter() - t0) * 1000

            fresh = sorted(wipe_and_load() for _ in range(repeat))
            noop = timed(reference.load_all, repeat)
            start = date(2025, 9, 26)
            add10 = timed(lambda: calendar.add_working_days(start, 10), repeat * 10)
            year = timed(lambda: calendar.working_days_between(date(2025, 1, 1), date(2025, 12, 31)), repeat)
            days = [start + timedelta(days=i) for i in range(365)]
            t = time.perf_counter()
            for d in days:
                calendar.add_working_days(d, 10)
            per_deadline = (time.perf_counter() - t) * 1000 / len(days)
            cal = calendar.WorkCalendar()
            t = time.perf_counter()
            for d in days:
                cal.add_working_days(d, 10)
            shared = (time.perf_counter() - t) * 1000 / len(days)

        print(f"[{kind}] load_all first (cold process) {first:.1f} ms")
        print(f"[{kind}] load_all into wiped tables: median {statistics.median(fresh):.1f} ms, "
              f"p95 {fresh[int(len(fresh) * 0.95) - 1]:.1f} ms")
        print(f"[{kind}] load_all no change: median {noop[0]:.1f} ms, p95 {noop[1]:.1f} ms")
        print(f"[{kind}] add_working_days(2025-09-26, 10): median {add10[0]:.2f} ms, p95 {add10[1]:.2f} ms")
        print(f"[{kind}] working_days_between over 2025: median {year[0]:.2f} ms, p95 {year[1]:.2f} ms")
        print(f"[{kind}] 365 deadlines: {per_deadline:.2f} ms each (new WorkCalendar per call), "
              f"{shared:.3f} ms each (one WorkCalendar shared)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    for kind in args.db.split(","):
        run(kind.strip(), args.repeat)


if __name__ == "__main__":
    main()
