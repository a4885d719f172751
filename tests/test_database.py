"""Engine settings: on SQLite, requests that only read never wait for the write lock; bulk inserts fail as statements do."""
import sqlite3
from datetime import datetime

import pytest
from sqlalchemy import text

from server.extensions import db


@pytest.fixture
def sqlite_path(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite-only: PostgreSQL readers never take a write lock (MVCC)")
    return db.engine.url.database


def test_a_get_reads_while_another_connection_holds_the_write_lock(login, sqlite_path, app):
    client = login("supervisor_a")
    db.session.commit()
    other = sqlite3.connect(sqlite_path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        resp = client.get("/api/v1/venues?q=a")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert resp.status_code == 200, resp.get_json()
    assert "items" in resp.get_json() and resp.get_json()["meta"]["total"] >= 0


def test_a_read_request_cannot_write_and_the_connection_is_writable_afterwards(sqlite_path, app):
    db.session.commit()
    with app.test_request_context("/api/v1/venues", method="GET"):
        with pytest.raises(Exception, match="readonly"):
            db.session.execute(text("DELETE FROM audit_events"))
        db.session.rollback()
    with app.test_request_context("/api/v1/venues", method="POST"):
        db.session.execute(text("DELETE FROM audit_events WHERE id IS NULL"))
        db.session.commit()
    db.session.execute(text("DELETE FROM audit_events WHERE id IS NULL"))
    db.session.commit()


def test_insert_rows_reports_a_duplicate_key_as_the_engine_does(app, db):
    """insert_rows is COPY on PostgreSQL, past the engine; its errors still arrive as SQLAlchemy's
    (sync.push retries on IntegrityError), and the transaction rolls back cleanly afterwards."""
    from sqlalchemy.exc import IntegrityError

    from server import database
    from server.models import ProcessedMutation

    assert database.COPY_ROWS
    row = {"mutation_id": "6f1c3c52-2d0c-4c43-9d55-5b1e2a7f0a01", "device_id": "phone-1", "user_id": None,
           "device_seq": 1, "payload_sha256": "0" * 64, "status": "applied", "result": {"status": "applied"},
           "created_at": datetime(2026, 11, 29, 10, 0)}
    table = ProcessedMutation.__table__
    database.insert_rows(table, [row])
    with pytest.raises(IntegrityError):
        database.insert_rows(table, [dict(row, device_seq=2)])
    db.session.rollback()
    database.insert_rows(table, [row])
    db.session.commit()
    assert db.session.scalar(text("SELECT device_seq FROM processed_mutations WHERE mutation_id = :m"),
                             {"m": row["mutation_id"]}) == 1


def test_insert_rows_stores_what_the_engines_insert_stores(app, db):
    """insert_rows (COPY on PostgreSQL; on SQLite an executemany whose parameters it makes itself)
    stores every value as SQLAlchemy's executemany INSERT of the same dicts does, to the text:
    JSON null and SQL NULL, naive and aware datetimes, booleans, empty and non-ASCII values."""
    from datetime import timedelta, timezone

    from sqlalchemy import Text, cast, select

    from server import database
    from server.models import AuditEvent, ProcessedMutation

    aware = datetime(2026, 11, 29, 18, 30, 5, 123456, tzinfo=timezone(timedelta(hours=8)))

    def events(tag):
        return [dict(user_id=None, role="inspector", device_id="phone-1", mutation_id=f"{tag}-{i}", action="hazard.create",
                     entity="hazard", entity_id=f"{tag}-{i}", before=before, after=after, at=at)
                for i, (before, after, at) in enumerate([
                    (None, {"description": "楼道堆物", "found_on": "2026-11-27", "n": 1.5, "ok": True}, aware),
                    ({}, [], datetime(2026, 11, 29, 10, 0)),
                    ({"a": None}, None, aware)])]

    def answers(tag):
        return [dict(mutation_id=f"{tag}-{i}", device_id="phone-1", user_id=None, device_seq=i, payload_sha256="0" * 64,
                     status="applied", result=result, created_at=aware) for i, result in
                enumerate([{"status": "applied", "server": {"x": "标题", "y": None}}, None, {}])]

    for model, make, key in ((AuditEvent, events, "mutation_id"), (ProcessedMutation, answers, "mutation_id")):
        table = model.__table__
        db.session.connection().execute(table.insert(), make("engine"))
        database.insert_rows(table, make("ours"))
        cols = [cast(c, Text).label(c.name) for c in table.columns if c.name != "id"]  # as stored
        stored = {}
        for tag in ("engine", "ours"):
            rows = db.session.execute(select(*cols).where(table.c[key].startswith(tag)).order_by(table.c[key])).all()
            stored[tag] = [{k: (v.replace(tag, "<tag>") if isinstance(v, str) else v) for k, v in r._asdict().items()}
                           for r in rows]
        assert len(stored["ours"]) == 3
        assert stored["ours"] == stored["engine"], model.__name__
    db.session.rollback()


def test_sqlite_date_and_time_parameters_are_sqlalchemys_text():
    """insert_rows' own SQLite processors of UTCDateTime and Date give the text SQLAlchemy's give:
    naive, UTC and other-zone values, a zone offset that moves the day, zero microseconds, early
    years; a datetime in a Date column gives its day; anything else is refused alike."""
    import random
    from datetime import date, timedelta, timezone

    from sqlalchemy import Date
    from sqlalchemy.dialects import sqlite

    from server import database
    from server.models.base import UTCDateTime

    dialect = sqlite.dialect()
    rng = random.Random(7)
    zones = [None, timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-11, minutes=-30))]
    times = [datetime(1, 1, 1, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))), datetime(999, 12, 31, 0, 0, 0),
             datetime(2026, 11, 29, 23, 30, 0, 0, tzinfo=timezone(timedelta(hours=-8))),
             datetime(2026, 11, 30, 0, 30, 0, 5, tzinfo=timezone(timedelta(hours=8)))]
    times += [datetime(rng.randint(2, 9998), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                       rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, rng.randint(0, 999999)]),
                       tzinfo=rng.choice(zones)) for _ in range(2000)]
    for kind, values in ((UTCDateTime(), times), (Date(), [t.date() for t in times] + times)):
        ours, theirs = database._bind_processor(kind, dialect), kind._cached_bind_processor(dialect)
        assert ours is not theirs  # ours is in use
        assert [ours(v) for v in [None, *values]] == [theirs(v) for v in [None, *values]]
    for kind in (UTCDateTime(), Date()):
        for bad in ("2026-11-29", 5):
            with pytest.raises((TypeError, AttributeError)) as theirs_error:
                kind._cached_bind_processor(dialect)(bad)
            with pytest.raises(theirs_error.type):
                database._bind_processor(kind, dialect)(bad)


def test_a_json_parameter_is_the_engines_json_text(app, db):
    """insert_rows' JSON processors (SQLite's executemany, PostgreSQL's COPY) know the text of None,
    [] and {} beforehand: every value, empty, falsy or not, gives the engine's own processor's text."""
    from sqlalchemy.types import JSON

    from server import database

    dialect = db.session.connection().dialect
    theirs = JSON()._make_bind_processor(None, dialect._json_serializer)
    ours = [database._empties_once(theirs)]
    if dialect.name == "sqlite":
        ours.append(database._bind_processor(JSON(), dialect))
        theirs = JSON()._cached_bind_processor(dialect)
    values = [None, [], {}, [None], {"a": []}, 0, 0.0, "", False, True, "标题", [1, 2], {"a": None}, JSON.NULL]
    for process in ours:
        assert [process(v) for v in values] == [theirs(v) for v in values]
    db.session.rollback()


def test_the_iso_text_of_utc_times_and_days_is_isoformats():
    """audit.jsonable writes a UTC datetime and a date with cached day texts (models.base.utc_isoformat,
    day_text): the same text as isoformat() for random values, zero microseconds, early years; a
    datetime in another zone, a naive one and a Decimal as before."""
    import random
    from datetime import date, timedelta, timezone
    from decimal import Decimal

    from server.services.audit import jsonable

    rng = random.Random(11)
    times = [datetime(1, 1, 1, tzinfo=timezone.utc), datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)]
    times += [datetime(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                       rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, rng.randint(0, 999999)]),
                       tzinfo=timezone.utc) for _ in range(2000)]
    others = [datetime(2026, 11, 29, 8, 0, tzinfo=timezone(timedelta(hours=8))), datetime(2026, 11, 29, 8, 0, 0, 5)]
    values = times + [t.date() for t in times] + others
    assert [jsonable(v) for v in values] == [v.isoformat() for v in values]
    assert jsonable(Decimal("1.5")) == 1.5 and jsonable("x") == "x" and jsonable(None) is None
