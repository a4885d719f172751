"""Push applies a run of creates in one savepoint with one flush; the answers, rows, audit trail
and sequence numbers must be exactly those of judging the mutations one by one."""
import pytest
from sqlalchemy import select, text

from server.models import AuditEvent, Hazard, Inspection, ItemResult, ProcessedMutation
from server.services import audit
from tests import factories
from tests.sync.helpers import mut, push


@pytest.fixture
def template(world):
    return factories.checklist_template("storefront")


def field_batch(world, *extra):
    a2 = world.users["inspector_a2"]
    insp = mut("inspection", "create", {"venue_id": world.venue_a.id, "inspector_ids": [a2.id], "kind": "routine",
                                        "lat": 29.88, "lng": 121.84, "gps_accuracy_m": 8.0})
    iid = insp["entity_id"]
    items = [mut("item_result", "create", {"inspection_id": iid, "item_code": code, "result": result, "note": "记录"})
             for code, result in (("EXIT-1", "pass"), ("EXT-1", "fail"), ("LIVE-1", "na"))]
    hazards = [mut("hazard", "create", {"inspection_id": iid, "item_code": "EXT-1", "location": "一楼"}),
               mut("hazard", "create", {"inspection_id": iid, "description": "楼道堆物", "deadline_days": 5,
                                        "found_on": "2026-11-27"})]
    return [insp, *items, *hazards, *[m(iid) for m in extra]]


def _stored(db, muts):
    db.session.expire_all()
    rows = []
    for m in muts:
        model = {"inspection": Inspection, "item_result": ItemResult, "hazard": Hazard}[m["entity"]]
        rows.append(db.session.get(model, m["entity_id"]))
    return rows


def test_a_run_of_creates_is_stored_in_order_with_one_audit_event_each(login, world, template, db):
    before = db.session.execute(text("SELECT value FROM change_counter WHERE id = 1")).scalar() or 0
    batch = field_batch(world)
    answer = push(login("inspector_a"), batch)
    assert [r["status"] for r in answer["results"]] == ["applied"] * 6
    rows = _stored(db, batch)
    # server_seq: one each, in mutation order, no gaps, and the counter moved past them
    seqs = [r.server_seq for r in rows]
    assert seqs == list(range(before + 1, before + 7))
    assert db.session.execute(text("SELECT value FROM change_counter WHERE id = 1")).scalar() == seqs[-1]
    assert [r["version"] for r in answer["results"]] == [r.version for r in rows]
    assert [r["server"]["server_seq"] for r in answer["results"]] == seqs
    # one audit event per mutation, naming it, with the row exactly as stored
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.mutation_id.in_(
        [m["mutation_id"] for m in batch])).order_by(AuditEvent.id)).all()
    assert [e.mutation_id for e in events] == [m["mutation_id"] for m in batch]
    assert {e.device_id for e in events} == {"dev-test-0001"}
    for event, row in zip(events, rows):
        expected = audit.snapshot(row)
        if isinstance(row, Inspection):
            expected["inspector_ids"] = sorted(u.id for u in row.inspectors)
        assert event.after == expected and event.before is None
    assert db.session.query(ProcessedMutation).count() == 6


def test_a_failing_create_in_a_run_changes_nothing_but_its_own_answer(login, world, template, db):
    duplicate_item = lambda iid: mut("item_result", "create", {"inspection_id": iid, "item_code": "EXIT-1",
                                                               "result": "fail"})
    hazard_of_passed_item = lambda iid: mut("hazard", "create", {"inspection_id": iid, "item_code": "EXIT-1"})
    last = lambda iid: mut("hazard", "create", {"inspection_id": iid, "description": "配电箱周围堆放可燃物"})
    before = db.session.execute(text("SELECT value FROM change_counter WHERE id = 1")).scalar() or 0
    batch = field_batch(world, duplicate_item, hazard_of_passed_item, last)
    answer = push(login("inspector_a"), batch)
    results = answer["results"]
    assert [r["status"] for r in results] == ["applied"] * 6 + ["rejected", "rejected", "applied"]
    assert results[6]["reason"] == "item_result_exists"
    assert results[7]["reason"] == "hazard_item_not_failed"
    applied = [m for m, r in zip(batch, results) if r["status"] == "applied"]
    rows = _stored(db, applied)
    assert [r.server_seq for r in rows] == list(range(before + 1, before + 8))  # the refused took none
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.mutation_id.in_(
        [m["mutation_id"] for m in batch]))).all()
    assert sorted(e.mutation_id for e in events) == sorted(m["mutation_id"] for m in applied)
    # every final answer is stored, and a replay gives the same answers
    assert db.session.query(ProcessedMutation).count() == 9
    assert push(login("inspector_a"), batch)["results"] == results


def test_a_hazard_may_cite_a_failed_item_recorded_earlier_in_the_same_batch(login, world, template, db):
    batch = field_batch(world)
    answer = push(login("inspector_a"), batch)
    assert answer["results"][4]["status"] == "applied"
    hazard = _stored(db, batch)[4]
    assert hazard.item_code == "EXT-1" and hazard.description == "灭火器过期失效"


def test_a_create_repeated_in_one_batch_is_judged_like_a_replay(login, world, template, db):
    batch = field_batch(world)
    again = dict(batch[4], mutation_id=batch[5]["mutation_id"])  # same row id, another mutation
    answer = push(login("inspector_a"), [*batch[:5], again, batch[4]])
    statuses = [r["status"] for r in answer["results"]]
    assert statuses[:5] == ["applied"] * 5
    assert statuses[5] == "duplicate"  # the same row with the same fields
    assert answer["results"][6] == answer["results"][4]  # the same mutation twice: the same answer
    assert db.session.query(Hazard).count() == 1


def test_the_pending_row_index_answers_like_a_scan_of_the_session(world, db):
    """find_row's "added earlier in this batch?" by (model, id) index equals the scan of session.new
    it replaces: rows added with an id, a row added without one, a flushed row, an expunged row."""
    import uuid
    from datetime import date

    from server.services import inspections

    session = db.session()
    venue = world.venue_a

    def scan(model, row_id):
        return any(type(o) is model and o.id == row_id for o in session.new)

    def hazard(row_id=None):
        return Hazard(id=row_id, venue_id=venue.id, description="楼道堆物", location="", severity="general",
                      correction_mode="deadline", state="open", found_on=date(2026, 11, 27))

    session.info["pending_by_key"] = {}
    try:
        ids = [str(uuid.uuid4()) for _ in range(4)]
        kept, flushed, dropped = hazard(ids[0]), hazard(ids[1]), hazard(ids[2])
        session.add_all([flushed])
        session.flush()
        session.add_all([kept, dropped])
        session.expunge(dropped)
        probes = [(Hazard, i) for i in ids] + [(ItemResult, ids[0]), (Inspection, ids[3])]
        answers = [inspections._is_pending(session, m, i) for m, i in probes]
        assert answers == [scan(m, i) for m, i in probes]
        assert answers[:4] == [True, False, False, False]
        # a row added with no id: that model falls back to the scan (the id comes at flush)
        unkeyed = hazard()
        session.add(unkeyed)
        unkeyed.id = ids[3]
        assert inspections._is_pending(session, Hazard, ids[3]) is True == scan(Hazard, ids[3])
    finally:
        session.info.pop("pending_by_key", None)
        session.rollback()
