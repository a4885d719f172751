"""Pull: commit order, scope, tombstones, left-scope markers, and no row skipped by a late commit."""
import threading
import time

import pytest
from sqlalchemy import text

from server.extensions import db as _db
from server.models import Hazard, Venue
from server.models.base import utcnow
from tests import factories
from tests.sync.helpers import hazard_fields, inspection_batch, mut, push


def pull_all(c, cursor=0, limit=500):
    seen = []
    while True:
        page = c.get(f"/api/v1/sync/pull?cursor={cursor}&limit={limit}").get_json()
        seen.extend(page["changes"])
        cursor = page["cursor"]
        if not page["has_more"]:
            return seen, cursor, page


def test_pull_returns_scope_rows_in_commit_order(login, world, db):
    c = login("inspector_a")
    push(c, inspection_batch(world, n_hazards=3))
    changes, cursor, _ = pull_all(c, limit=2)  # small pages exercise has_more
    seqs = [ch["server_seq"] for ch in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    kinds = [ch["entity"] for ch in changes]
    assert kinds.count("hazard") == 3 and kinds.count("inspection") == 1
    assert {ch["id"] for ch in changes if ch["entity"] == "venue"} == {world.venue_a.id}
    # nothing new: same cursor, nothing returned
    again = c.get(f"/api/v1/sync/pull?cursor={cursor}").get_json()
    assert again["changes"] == [] and again["cursor"] == cursor


def test_pull_respects_area_scope(login, world, db):
    push(login("inspector_a"), inspection_batch(world))
    changes, _, _ = pull_all(login("inspector_b"))
    assert {ch["id"] for ch in changes} == {world.venue_b.id}


def test_owner_pulls_only_own_venue(login, world, db):
    push(login("inspector_a"), inspection_batch(world))
    changes, _, _ = pull_all(login("owner_a"))
    assert {ch["entity"] for ch in changes} <= {"venue", "inspection", "hazard", "document"}
    venues = {ch["id"] for ch in changes if ch["entity"] == "venue"}
    assert venues == {world.venue_a.id}


def test_tombstones_are_pulled(login, world, db):
    c = login("inspector_a")
    m = mut("hazard", "create", hazard_fields(world.venue_a))
    push(c, [m])
    _, cursor, _ = pull_all(c)
    h = db.session.get(Hazard, m["entity_id"])
    h.deleted_at = utcnow()
    db.session.commit()
    changes, _, _ = pull_all(c, cursor)
    assert [(ch["id"], ch["deleted"]) for ch in changes] == [(m["entity_id"], True)]


def test_venue_moved_out_of_area_is_reported_as_left_scope(login, world, db):
    c = login("inspector_a")
    _, cursor, _ = pull_all(c)
    venue = db.session.get(Venue, world.venue_a.id)
    venue.area_id = world.grid_b.id
    db.session.commit()
    changes, _, page = pull_all(c, cursor)
    assert changes == []
    assert page["left_scope"] == [{"entity": "venue", "id": world.venue_a.id}]
    # the new area's inspector now receives it
    got, _, _ = pull_all(login("inspector_b"), 0)
    assert world.venue_a.id in {ch["id"] for ch in got}


def test_venue_moved_into_area_brings_its_records_to_the_new_area(login, world, db):
    """The new area's phones have cursors past the venue's old rows: a move gives the venue's
    inspections, item results, hazards … fresh numbers, so they arrive with the venue."""
    factories.checklist_template("storefront")
    batch = inspection_batch(world, n_hazards=2)
    batch += [mut("item_result", "create", {"inspection_id": batch[0]["entity_id"], "item_code": code,
                                            "result": result}) for code, result in (("EXIT-1", "pass"), ("EXT-1", "fail"))]
    assert {r["status"] for r in push(login("inspector_a"), batch)["results"]} == {"applied"}
    inspector_b = login("inspector_b")
    _, cursor_b, _ = pull_all(inspector_b)
    inspector_a = login("inspector_a")
    before, cursor_a, _ = pull_all(inspector_a)
    versions = {ch["id"]: ch["version"] for ch in before}
    venue = db.session.get(Venue, world.venue_a.id)
    venue.area_id = world.grid_b.id
    db.session.commit()
    got, _, _ = pull_all(inspector_b, cursor_b, limit=3)
    kinds = sorted(ch["entity"] for ch in got)
    assert kinds == sorted(ch["entity"] for ch in before if ch["entity"] != "venue" or ch["id"] == world.venue_a.id)
    assert {"inspection", "item_result", "hazard"} <= set(kinds)
    assert got[0]["entity"] == "venue" and got[0]["id"] == world.venue_a.id  # the venue before its records
    seqs = [ch["server_seq"] for ch in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # only the numbers changed: the records are the same versions
    assert all(ch["version"] == versions[ch["id"]] for ch in got if ch["entity"] != "venue")
    # the old area's phone is told to drop the venue and is sent none of its records
    changes, _, page = pull_all(inspector_a, cursor_a)
    assert changes == [] and page["left_scope"] == [{"entity": "venue", "id": world.venue_a.id}]


def test_pull_needs_login_and_valid_cursor(client, login, world):
    assert client.get("/api/v1/sync/pull").status_code == 401
    resp = login("inspector_a").get("/api/v1/sync/pull?cursor=-1")
    assert resp.status_code == 422


@pytest.mark.postgres
def test_cursor_never_skips_a_row_committed_late(app, world, db):
    """Two real sessions: a long transaction takes its number first and commits last."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs two concurrent writers: PostgreSQL only (SQLite serialises writers)")
    area_id = world.grid_a.id
    db.session.commit()
    engine = db.engine
    first_written = threading.Event()
    release = threading.Event()
    order = []

    def long_writer():
        with engine.connect() as conn:
            with conn.begin():
                seq = conn.execute(text("UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value")).scalar()
                conn.execute(text("INSERT INTO venues (id, version, server_seq, created_at, updated_at, field_versions, "
                                  "name, type, key_unit, address, area_id, risk_level, listed_for_remediation) VALUES "
                                  "('00000000-0000-0000-0000-00000000000a', 1, :s, now(), now(), '{}', '慢事务场所', "
                                  "'storefront', false, '慢路1号', :a, 'low', false)"), {"s": seq, "a": area_id})
                first_written.set()
                release.wait(10)
            order.append(("long", seq))

    def short_writer():
        first_written.wait(10)
        with engine.connect() as conn:
            with conn.begin():
                # Blocks on the counter row until the long transaction commits.
                seq = conn.execute(text("UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value")).scalar()
                conn.execute(text("INSERT INTO venues (id, version, server_seq, created_at, updated_at, field_versions, "
                                  "name, type, key_unit, address, area_id, risk_level, listed_for_remediation) VALUES "
                                  "('00000000-0000-0000-0000-00000000000b', 1, :s, now(), now(), '{}', '快事务场所', "
                                  "'storefront', false, '快路1号', :a, 'low', false)"), {"s": seq, "a": area_id})
            order.append(("short", seq))

    from tests.conftest import ApiClient

    c = ApiClient(app).login("inspector_a")
    _, cursor, _ = pull_all(c)
    t1, t2 = threading.Thread(target=long_writer), threading.Thread(target=short_writer)
    t1.start()
    t2.start()
    first_written.wait(10)
    time.sleep(0.3)  # give the short writer time to reach the counter lock
    # While the long transaction is open, a phone pulls: it must not move past the long row's number.
    mid, cursor_mid, _ = pull_all(c, cursor)
    assert mid == []
    release.set()
    t1.join(10)
    t2.join(10)
    rest, _, _ = pull_all(c, cursor_mid)
    names = [ch["data"]["name"] for ch in rest]
    assert names == ["慢事务场所", "快事务场所"]
    assert order[0][0] == "long" and order[0][1] < order[1][1]


def test_pull_is_gzipped_when_the_client_accepts_it(login, world, db):
    import gzip
    import json

    c = login("inspector_a")
    push(c, inspection_batch(world, n_hazards=10))
    resp = c.get("/api/v1/sync/pull?cursor=0", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(resp.data))
    plain = c.get("/api/v1/sync/pull?cursor=0").get_json()
    assert body == plain and len(resp.data) < len(json.dumps(plain))


def test_pull_rows_are_exactly_what_the_resource_schemas_dump(login, world, db):
    """The pull's compiled dumpers are a speed-up, never a second definition of the fields."""
    import json

    from server.models import SYNC_ENTITIES
    from server.services import sync

    c = login("inspector_a")
    push(c, inspection_batch(world, n_hazards=2))
    changes, _, _ = pull_all(c)
    checked = set()
    for ch in changes:
        schema = sync._schema(ch["entity"])
        row = db.session.get(SYNC_ENTITIES[ch["entity"]], ch["id"])
        expected = json.loads(json.dumps(schema.dump(row), default=str))
        assert ch["data"] == expected, ch["entity"]
        checked.add(ch["entity"])
    assert {"venue", "inspection", "hazard"} <= checked
