"""The suite's own speed-ups give what the slow way gives."""
from __future__ import annotations

import itertools
import re
import uuid

import pytest
from sqlalchemy import DateTime, select, text

from server import auth, create_app
from server.config import load_config
from server.extensions import db as _db
from tests import conftest as suite
from tests import factories


def test_built_file_builds_once_and_then_returns_the_same_bytes(built_file):
    calls = []

    def build(payload):
        calls.append(payload)
        return payload

    key = ("test", uuid.uuid4().hex)
    assert built_file(key, lambda: build(b"first")) == b"first"
    # Same key: from the cache, not built again (a second builder giving other bytes is not called).
    assert built_file(key, lambda: build(b"other")) == b"first"
    assert calls == [b"first"]
    # Another key is another file.
    assert built_file(key + ("2",), lambda: build(b"second")) == b"second"
    assert calls == [b"first", b"second"]


# --- the world snapshot (tests/conftest.py) ---------------------------------------------

_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")


def _dump(world) -> dict:
    """Every row of every table, comparable between two builds.

    Left out: DateTime columns and ISO times inside JSON (a restore moves them to "now"), the
    argon2 hashes (salted; checked by logging in instead). Venue UUIDs become the world's
    attribute names.
    """
    names = {v.id: name for name, v in vars(world).items() if name != "users"}

    def norm(value):
        if isinstance(value, str):
            return _ISO_TIME.sub("<time>", names.get(value, value))
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return [norm(v) for v in value]
        return value

    out = {}
    for table in _db.metadata.sorted_tables:
        skip = {c.name for c in table.columns if c.type._type_affinity is DateTime} | {"password_hash"}
        rows = [repr(sorted((k, norm(v)) for k, v in row.items() if k not in skip))
                for row in _db.session.execute(select(table)).mappings()]
        if rows:
            out[table.name] = sorted(rows)
    return out


def test_a_restored_world_has_the_rows_a_fresh_build_writes(app, world, monkeypatch):
    """The `world` fixture builds once per session and restores rows after that: same data."""
    assert suite._world_snapshot is not None  # taken by the world fixture (this test's or earlier)
    _db.session.rollback()  # end this test's read transaction: _wipe deletes through its own
    _db.session.expunge_all()  # the restored objects get the same integer keys as `world`'s
    suite._wipe(app)
    restored = suite._world_snapshot.restore()
    got = _dump(restored)
    # The ORM objects handed to tests read the restored rows.
    assert (restored.venue_a.name, restored.grid_a.code, restored.users["owner_a"].role) == \
        ("明州路小吃店", "G-A1", "owner")
    for user in restored.users.values():
        assert auth.verify_password(user.password_hash, factories.PASSWORD)
    # factories numbers addresses and enforcement ids from a counter: start where the snapshot's
    # build started, so a fresh build writes the same values.
    first = int(re.fullmatch(r"测试路(\d+)号", restored.venue_a.address).group(1))
    monkeypatch.setattr(factories, "_counter", itertools.count(first))
    _db.session.rollback()
    _db.session.expunge_all()
    suite._wipe(app)
    fresh = factories.build_world()
    assert _dump(fresh) == got
    assert set(got) >= {"areas", "users", "venues", "user_areas", "owner_venues", "audit_events"}


# --- password hashing -------------------------------------------------------------------

def test_only_the_test_config_hashes_passwords_cheaply(app, tmp_path):
    """TestConfig's argon2 parameters are minimal; production keeps argon2-cffi's defaults."""
    from argon2 import extract_parameters

    with app.app_context():
        cheap = extract_parameters(auth.hash_password("x"))
    assert (cheap.time_cost, cheap.memory_cost, cheap.parallelism) == (1, 1024, 1)
    prod = create_app({"ENV_NAME": "production", "SECRET_KEY": "k" * 32, "INSTANCE_DIR": str(tmp_path),
                       "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "p.db")})
    with prod.app_context():
        strong = extract_parameters(auth.hash_password("x"))
    assert (strong.time_cost, strong.memory_cost, strong.parallelism) == (3, 65536, 4)
    assert "ARGON2_PARAMS" not in load_config({"ENV_NAME": "development"})


# --- xdist groups -----------------------------------------------------------------------

@pytest.mark.xdist_group("suite_check")
def test_grouped_tests_carry_their_group_in_the_node_id(request):
    """--dist loadgroup keeps a group on one worker only if the id ends in "@<group>"."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only under pytest-xdist with --dist loadgroup (scripts/test.sh)")
    assert request.node.nodeid.endswith("::test_grouped_tests_carry_their_group_in_the_node_id@suite_check")


# --- StateSnapshot (tests/documents/test_kinds.py restores complete drafts with it) -------

def _rows_without_times() -> dict:
    out = {}
    for table in _db.metadata.sorted_tables:
        times = {c.name for c in table.columns if c.type._type_affinity is DateTime}
        rows = sorted(repr(sorted((k, v) for k, v in r.items() if k not in times))
                      for r in _db.session.execute(select(table)).mappings())
        if rows:
            out[table.name] = rows
    return out


def test_state_snapshot_restores_exactly_the_rows_the_build_wrote(world):
    from server.models import Document
    from server.services import documents
    from tests.documents import helpers

    helpers.legal_bases()
    doc = helpers.complete_draft(world, "deadline_rectification")
    doc_id = doc.id
    snapshot = suite.StateSnapshot()
    built = _rows_without_times()
    assert {"documents", "document_hazards", "hazards", "inspections", "legal_bases"} <= set(built)
    # Change, add and delete rows, then come back.
    documents.update_draft(world.users["inspector_a"], doc, {"fields": {"reinspection": "改"}})
    helpers.complete_draft(world, "inspection_record")
    _db.session.execute(text("DELETE FROM document_hazards WHERE document_id = :d"), {"d": doc_id})
    _db.session.commit()
    assert _rows_without_times() != built
    snapshot.restore_over()
    assert _rows_without_times() == built
    # The world's objects are still usable, and the draft reads its restored fields.
    assert world.users["inspector_a"].username == "inspector_a"
    assert _db.session.get(Document, doc_id).fields.get("reinspection") != "改"
