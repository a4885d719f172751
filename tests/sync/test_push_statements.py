"""What a typical field batch (an inspection by two inspectors, item results, hazards) costs in
SQL statements: each lookup is made once per batch, not per mutation or per person."""
from __future__ import annotations

import pytest

from server.extensions import db
from tests import factories
from tests.statements import Statements
from tests.sync.helpers import hazard_fields, inspection_batch, mut, push


@pytest.fixture
def template(world):
    return factories.checklist_template("storefront")


def field_batch(world):
    batch = inspection_batch(world, n_hazards=3)
    iid = batch[0]["entity_id"]
    batch[1:1] = [mut("item_result", "create", {"inspection_id": iid, "item_code": code, "result": "pass"})
                  for code in ("EXIT-1", "LIVE-1")]
    return batch


def push_counted(client, batch) -> Statements:
    # Production begins every request with an empty session; the tests share one app context.
    db.session.commit()
    db.session.expunge_all()
    with Statements() as st:
        answer = push(client, batch)
    assert [r["status"] for r in answer["results"]] == ["applied"] * len(batch), answer["results"]
    return st


def test_the_second_inspector_is_loaded_with_one_statement(login, world, template):
    st = push_counted(login("inspector_a"), field_batch(world))
    users = [s for s in st.matching("FROM users", "FROM user_areas", "FROM owner_venues") if "FROM tasks" not in s]
    # the request's user and the second inspector, each with their areas joined in; no owner venues
    assert len(users) == 2, users
    assert all("user_areas" in s for s in users)


def test_a_device_that_carries_on_in_order_is_noted_with_one_statement(login, world, template):
    c = login("inspector_a")
    dev = "dev-in-order-0001"
    f = lambda: hazard_fields(world.venue_a)  # noqa: E731
    assert push(c, [mut("hazard", "create", f(), seq=1), mut("hazard", "create", f(), seq=4)], dev)["device"] == \
        {"max_seq": 4, "missing_seqs": [2, 3]}
    db.session.commit()
    with Statements() as st:
        answer = push(c, [mut("hazard", "create", f(), seq=5), mut("hazard", "create", f(), seq=6)], dev)
    # the numbers run on from max_seq: the missing ones stay missing, one statement does it
    assert answer["device"] == {"max_seq": 6, "missing_seqs": [2, 3]}
    assert len(st.matching("devices")) == 1, st.matching("devices")
    status = c.get(f"/api/v1/sync/devices/{dev}").get_json()
    assert (status["max_seq"], status["missing_seqs"]) == (6, [2, 3])
    assert status["last_seen_at"] is not None
    # a late number goes the general way (read, then written back)
    assert push(c, [mut("hazard", "create", f(), seq=3)], dev)["device"] == {"max_seq": 6, "missing_seqs": [2]}
    assert c.get(f"/api/v1/sync/devices/{dev}").get_json()["missing_seqs"] == [2]


def test_inspectors_with_the_same_areas_share_one_scope_lookup(login, world, template):
    a, a2 = world.users["inspector_a"], world.users["inspector_a2"]
    assert {x.id for x in a.areas} == {x.id for x in a2.areas}
    st = push_counted(login("inspector_a"), field_batch(world))
    assert len(st.matching("SELECT areas.id FROM areas")) == 1, st.matching("SELECT areas.id FROM areas")


def test_a_second_inspector_from_elsewhere_is_still_refused(login, world, template, db):
    batch = field_batch(world)
    batch[0]["fields"]["inspector_ids"] = [world.users["inspector_b"].id]
    answer = push(login("inspector_a"), batch[:1])
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["reason"] == "inspector_out_of_area"


def test_stored_answers_and_new_ids_are_looked_up_with_one_statement(login, world, template):
    c = login("inspector_a")
    batch = field_batch(world)
    st = push_counted(c, batch)
    lookups = st.matching("FROM processed_mutations", "FROM inspections", "FROM item_results", "FROM hazards")
    lookups = [s for s in lookups if s.startswith("SELECT") and "item_results.item_code" not in s]
    assert len(lookups) == 1, lookups
    assert all(f"FROM {table}" in lookups[0] for table in ("processed_mutations", "inspections", "hazards"))
    # the replay finds the stored answers in the same one statement
    again = push(c, batch)
    assert [r["status"] for r in again["results"]] == ["applied"] * len(batch)


def test_a_new_inspections_item_codes_are_not_looked_up(login, world, template):
    batch = field_batch(world)
    st = push_counted(login("inspector_a"), batch)
    assert st.matching("SELECT item_results.item_code") == []


def test_an_item_recorded_twice_for_a_new_inspection_is_still_refused(login, world, template):
    batch = field_batch(world)
    iid = batch[0]["entity_id"]
    twice = [mut("item_result", "create", {"inspection_id": iid, "item_code": "EXT-1", "result": r})
             for r in ("pass", "fail")]
    answer = push(login("inspector_a"), [*batch, *twice])
    assert [r["status"] for r in answer["results"]] == ["applied"] * (len(batch) + 1) + ["rejected"]
    assert answer["results"][-1]["reason"] == "item_result_exists"


def test_postgresql_copies_the_batchs_rows_in(login, world, template):
    """On PostgreSQL the runs' rows, the audit events and the stored answers go in by COPY (the
    driver's, so the engine sees no INSERT for them); elsewhere by one executemany INSERT each."""
    st = push_counted(login("inspector_a"), field_batch(world))
    tables = ("item_results", "hazards", "audit_events", "processed_mutations")
    inserts = [s for s in st.seen if any(s.startswith(f"INSERT INTO {t} ") for t in tables)]
    if db.engine.dialect.name == "postgresql":
        assert inserts == []
    else:
        assert sorted(s.split()[2] for s in inserts) == sorted(tables)
