"""Two requests racing for the same rows, in a fixed order: `race`.

SQLite serialises writers (every write transaction begins with its lock), so these races are
PostgreSQL's: READ COMMITTED lets a second request read what the first is about to change.
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import text

from server.extensions import db
from server.services import audit


def race(app, monkeypatch, first, second, pause_on: str):
    """Run `first` in a thread until it records the audit event `pause_on` (its writes made, its
    transaction open), then `second` in another thread until that one waits for a lock (seen in
    pg_stat_activity; SQLite's write lock is taken at BEGIN, so there a short wait does), then let
    `first` commit. Returns (first's result, second's result). Neither may touch this thread's ORM
    rows (an expired one would load in this thread's session and hold SQLite's write lock)."""
    reached, release = threading.Event(), threading.Event()
    real = audit.record

    def record(actor, action, *args, **kw):
        if action == pause_on and not reached.is_set():
            reached.set()
            assert release.wait(30)
        return real(actor, action, *args, **kw)

    monkeypatch.setattr(audit, "record", record)
    db.session.commit()  # end this thread's read transaction (SQLite: it would hold the lock)
    out, errors = [None, None], []

    def run(i, fn):
        try:
            with app.app_context():
                out[i] = fn()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    one = threading.Thread(target=run, args=(0, first))
    one.start()
    assert reached.wait(30)
    two = threading.Thread(target=run, args=(1, second))
    two.start()
    if db.engine.dialect.name == "postgresql":
        deadline = time.monotonic() + 10
        while two.is_alive() and time.monotonic() < deadline:
            waiting = db.session.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar()
            db.session.commit()
            if waiting:
                break
            time.sleep(0.02)
    else:
        two.join(0.2)  # SQLite: the second waits at BEGIN IMMEDIATE (busy_timeout); nothing to poll
    release.set()
    one.join(30)
    two.join(30)
    assert not errors, errors
    return out


def write_while_paused(app, slow, paused: threading.Event, release: threading.Event, write):
    """Start the request `slow` in a thread; once it signals `paused` (it is doing its slow part),
    run the write request `write` in another thread and give it 10 s; then `release` the slow
    one. Returns (whether `write` finished while `slow` was paused, slow's result, write's)."""
    results = {}

    def run(name, fn):
        with app.app_context():
            results[name] = fn()

    first = threading.Thread(target=run, args=("slow", slow))
    first.start()
    assert paused.wait(30)
    second = threading.Thread(target=run, args=("write", write))
    second.start()
    second.join(10)
    finished_meanwhile = not second.is_alive()
    release.set()
    first.join(30)
    second.join(30)
    return finished_meanwhile, results.get("slow"), results.get("write")


def lease_two(client) -> int:
    """A small write request: lease two notice numbers to a phone. Returns the status."""
    return client.post("/api/v1/numbers/leases", json={"kind": "immediate_rectification", "count": 2,
                                                        "device_id": "phone-aaaa"}).status_code
