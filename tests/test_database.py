"""Engine settings: on SQLite, requests that only read never wait for the write lock."""
import sqlite3

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
