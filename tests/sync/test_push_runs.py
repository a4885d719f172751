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


def test_find_row_inside_a_push_answers_like_session_get(world, db):
    """Inside a push find_row takes the push's session and its known-absent ids: the same rows as
    session.get for a flushed row, a pending one, one never stored (no SELECT), and a row whose id
    the push did not look up."""
    import uuid
    from datetime import date

    from server.models import Venue
    from server.services import inspections
    from tests.statements import Statements

    session = db.session()

    def hazard(row_id):
        return Hazard(id=row_id, venue_id=world.venue_a.id, description="楼道堆物", location="", severity="general",
                      correction_mode="deadline", state="open", found_on=date(2026, 11, 27))

    ids = [str(uuid.uuid4()) for _ in range(3)]
    flushed, pending = hazard(ids[0]), hazard(ids[1])
    session.info["pending_by_key"] = {}
    token = inspections.known_absent.set((session, {(Hazard, i) for i in ids}))
    try:
        session.add(flushed)
        session.flush()
        session.add(pending)
        with Statements() as st:
            inside = [inspections.find_row(Hazard, i) for i in (ids[0], ids[2])]
        assert st.seen == []  # the stored row from the identity map, the absent one known absent
        inside[1:1] = [inspections.find_row(Hazard, ids[1])]
        inside.append(inspections.find_row(Venue, world.venue_a.id))
    finally:
        inspections.known_absent.reset(token)
        session.info.pop("pending_by_key", None)
    try:
        assert inside == [session.get(Hazard, i) for i in ids] + [session.get(Venue, world.venue_a.id)]
        assert inside[:3] == [flushed, pending, None]
    finally:
        session.rollback()


def _rich_batch(world, photo):
    """A field batch that exercises every column rule of the bulk insert: template defaults, a major
    hazard, a deadline override, a hazard with no inspection, photos, notes given and not."""
    batch = field_batch(world)
    iid = batch[0]["entity_id"]
    batch[1]["fields"]["photo_hashes"] = [photo]
    del batch[2]["fields"]["note"]
    batch[3]["fields"]["result"] = "fail"  # LIVE-1: its hazard takes the template's major severity
    batch += [mut("hazard", "create", {"inspection_id": iid, "item_code": "LIVE-1", "description": "住人"}),
              mut("hazard", "create", {"inspection_id": iid, "description": "配电箱周围堆放可燃物", "severity": "major",
                                       "deadline": "2026-12-31", "deadline_override_reason": "业主申请延期",
                                       "found_on": "2026-11-27", "photo_hashes": [photo], "requirement": "清除"}),
              mut("hazard", "create", {"venue_id": world.venue_a.id, "description": "消防通道堆放杂物",
                                       "correction_mode": "immediate", "found_on": "2026-11-27",
                                       "legal_basis_codes": ["XFF-28"]})]
    return batch


def _json_columns(model):
    from sqlalchemy import JSON

    return {c.name for c in model.__table__.columns if isinstance(c.type, JSON)}


def _raw_rows(db, model, ids):
    """Rows exactly as stored: JSON columns as their text (JSON null and SQL NULL differ)."""
    from sqlalchemy import Text, cast

    table = model.__table__
    json_cols = _json_columns(model)
    cols = [cast(c, Text).label(c.name) if c.name in json_cols else c for c in table.columns]
    found = {r.id: r._asdict() for r in db.session.execute(select(*cols).where(table.c.id.in_(ids)))}
    return [found[i] for i in ids]


def _normalised(value, ids, seq0, seq_keys=("server_seq",), time_keys=("created_at", "updated_at",
                                                                         "state_changed_at", "started_at", "at")):
    """Ids by position in their batch, server_seq from the batch's first, timestamps dropped."""
    if isinstance(value, dict):
        return {k: ("<time>" if k in time_keys and v is not None
                    else v - seq0 if k in seq_keys and isinstance(v, int)
                    else _normalised(v, ids, seq0, seq_keys, time_keys)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v, ids, seq0, seq_keys, time_keys) for v in value]
    if isinstance(value, str):
        for i, known in enumerate(ids):
            value = value.replace(known, f"<id{i}>")
        return value
    return value


def _push_both_ways(login, db, monkeypatch, build, paths=("bulk", "one_by_one")):
    """Push build() (fresh ids each call) once with runs of creates (item results and hazards
    inserted in bulk) and once with every mutation judged on its own (_judge/_apply: ORM rows and
    a flush each). Returns, per path, the answers, the rows as stored, the audit events and the
    stored answers, with ids, server_seq and timestamps normalised; and the entities of the runs the
    bulk path applied and kept. (Path "bulk_by_insert": the bulk path with its rows written by
    executemany INSERTs, where PostgreSQL has COPY; "orm_inspection": a new inspection added and
    flushed as an ORM row, not inserted by Core and attached.)"""
    from sqlalchemy import Text, cast

    from server import database
    from server.models import AuditEvent
    from server.services import sync

    models = {"inspection": Inspection, "item_result": ItemResult, "hazard": Hazard}
    seen, bulk_rows = {}, []
    for path in paths:
        batch = build()
        mids = list(dict.fromkeys(m["mutation_id"] for m in batch))
        rows_of = list(dict.fromkeys((m["entity"], m["entity_id"]) for m in batch))
        ids = [i for _, i in rows_of] + mids
        with monkeypatch.context() as patch:
            if path == "one_by_one":
                patch.setattr(sync, "GROUPABLE_CREATES", frozenset())
            elif path == "bulk_by_insert":
                patch.setattr(database, "COPY_ROWS", False)
            elif path == "orm_inspection":
                patch.setattr(sync, "INSERT_NEW_ROWS", False)
            else:
                real = sync._judge_group

                def judge_group(actor, group, handlers, batch_):
                    results = real(actor, group, handlers, batch_)
                    if results is not None:  # the run was kept as the bulk path applied it
                        bulk_rows.extend(m["entity"] for m in group)
                    return results

                patch.setattr(sync, "_judge_group", judge_group)
            answer = push(login("inspector_a"), batch)
        seq0 = answer["results"][0]["server"]["server_seq"]
        rows = [(_raw_rows(db, models[e], [i]) or [None])[0] if db.session.get(models[e], i) else None
                for e, i in rows_of]
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.mutation_id.in_(mids))
                                    .order_by(AuditEvent.id)).all()
        stored = {p.mutation_id: p for p in db.session.scalars(select(ProcessedMutation).where(
            ProcessedMutation.mutation_id.in_(mids)))}
        seen[path] = _normalised({
            "answers": answer["results"],
            "rows": rows,
            "events": [{k: getattr(e, k) for k in ("user_id", "role", "device_id", "mutation_id", "action", "entity",
                                                   "entity_id", "before", "after")} for e in events],
            # JSON null and SQL NULL read back alike: which of before/after is SQL NULL, as stored
            "event_nulls": db.session.execute(
                select(cast(AuditEvent.before, Text).is_(None), cast(AuditEvent.after, Text).is_(None))
                .where(AuditEvent.mutation_id.in_(mids)).order_by(AuditEvent.id)).all(),
            # (the payload hash covers the ids, so it differs between the two batches by construction)
            "stored": [{k: getattr(stored[mid], k) for k in ("device_id", "user_id", "status", "result")}
                       if mid in stored else None for mid in mids],
        }, ids, seq0)
    return seen, bulk_rows


def test_the_bulk_path_stores_and_answers_exactly_like_one_mutation_at_a_time(login, world, template, db,
                                                                             monkeypatch):
    """The same batch through both paths: the same answers, the same rows to the byte, the same
    audit events and stored answers."""
    photo = factories.blob()
    seen, kept = _push_both_ways(login, db, monkeypatch, lambda: _rich_batch(world, photo))
    assert kept == [m["entity"] for m in _rich_batch(world, photo)]  # one run, kept
    assert [r["status"] for r in seen["bulk"]["answers"]] == ["applied"] * len(kept)
    assert seen["bulk"]["answers"] == seen["one_by_one"]["answers"]
    assert seen["bulk"]["rows"] == seen["one_by_one"]["rows"]
    assert seen["bulk"]["events"] == seen["one_by_one"]["events"]
    assert seen["bulk"]["stored"] == seen["one_by_one"]["stored"]
    hazard = seen["bulk"]["rows"][-1]
    assert hazard["major_determination"] is None  # not given, no default: SQL NULL, as the ORM leaves it


def test_copy_stores_what_the_insert_stores(login, world, template, db, monkeypatch):
    """PostgreSQL writes a push's bulk rows, audit events and stored answers by COPY: the same
    rows to the byte as executemany INSERTs (elsewhere both ways are INSERTs)."""
    photo = factories.blob()
    seen, _ = _push_both_ways(login, db, monkeypatch, lambda: _rich_batch(world, photo),
                              paths=("bulk", "bulk_by_insert"))
    assert seen["bulk"] == seen["bulk_by_insert"]
    assert [r["status"] for r in seen["bulk"]["answers"]] == ["applied"] * len(seen["bulk"]["answers"])


def test_bulk_runs_mixed_with_updates_replays_and_refusals_answer_like_one_by_one(login, world, template, db,
                                                                                monkeypatch):
    """Runs broken by updates of a row a run just inserted; a hazard citing a passed item of its own
    run (the item is inserted before the hazard's rules run, so it is refused and the run is redone
    one by one); creates repeating an inserted id (same content: duplicate; other: entity_exists)."""
    def build():
        insp = mut("inspection", "create", {"venue_id": world.venue_a.id, "kind": "routine",
                                            "inspector_ids": [world.users["inspector_a2"].id]})
        iid = insp["entity_id"]
        item = lambda code, result: mut("item_result", "create", {"inspection_id": iid, "item_code": code,
                                                                  "result": result})
        first = mut("hazard", "create", {"inspection_id": iid, "item_code": "EXT-1", "location": "一楼"})
        second = mut("hazard", "create", {"inspection_id": iid, "item_code": "LIVE-1"})
        update = lambda location, version: mut("hazard", "update", {"location": location},
                                               entity_id=second["entity_id"], base_version=version)
        return [insp, item("EXT-1", "fail"), first, item("LIVE-1", "fail"), second,
                update("二楼", 1),
                item("EXIT-1", "pass"), mut("hazard", "create", {"inspection_id": iid, "item_code": "EXIT-1"}),
                mut("hazard", "create", {"inspection_id": iid, "description": "楼道堆物", "deadline_days": 5}),
                update("三楼", 2),
                dict(first, mutation_id=mut("x", "y")["mutation_id"]),
                mut("hazard", "create", {"inspection_id": iid, "description": "另一处"}, entity_id=first["entity_id"])]

    seen, kept = _push_both_ways(login, db, monkeypatch, build)
    assert [(r["status"], r.get("reason")) for r in seen["bulk"]["answers"]] == [
        ("applied", None)] * 7 + [("rejected", "hazard_item_not_failed"), ("applied", None), ("applied", None),
                                  ("duplicate", None), ("rejected", "entity_exists")]
    assert kept == ["inspection", "item_result", "hazard", "item_result", "hazard"]  # only the first run
    assert seen["bulk"] == seen["one_by_one"]


def test_runs_of_creates_of_stored_ids_answer_like_one_by_one(login, world, template, db, monkeypatch):
    """Runs of creates (of every entity a run holds) whose ids are stored already, by an earlier run
    of the same batch or by an earlier push: each create's own rules refuse the id, which sends its
    run one by one (duplicate for the same content, entity_exists for another), as judged alone."""
    import uuid

    def again(m, **changes):
        return dict(m, mutation_id=str(uuid.uuid4()), fields=dict(m["fields"], **changes))

    def build():
        earlier = field_batch(world)
        assert [r["status"] for r in push(login("inspector_a"), earlier)["results"]] == ["applied"] * 6
        batch = field_batch(world)
        update = lambda location, version: mut("hazard", "update", {"location": location},  # noqa: E731
                                               entity_id=batch[5]["entity_id"], base_version=version)
        return [*batch, update("二楼", 1),
                again(batch[0]), again(batch[1], result="na"), again(batch[4]), update("三楼", 2),
                again(earlier[0], lat=30.0), again(earlier[2]), again(earlier[5], description="另一处")]

    seen, kept = _push_both_ways(login, db, monkeypatch, build)
    assert [(r["status"], r.get("reason")) for r in seen["bulk"]["answers"]] == [("applied", None)] * 7 + [
        ("duplicate", None), ("rejected", "entity_exists"), ("duplicate", None), ("applied", None),
        ("rejected", "entity_exists"), ("duplicate", None), ("rejected", "entity_exists")]
    assert kept == ["inspection", "item_result", "item_result", "item_result", "hazard", "hazard"]  # the first run
    assert seen["bulk"] == seen["one_by_one"]


@pytest.mark.parametrize("entity", ["hazard", "item_result"])
def test_a_bulk_row_answers_with_the_schemas_dump_of_its_values(app, entity):
    """A bulk-inserted row's answer takes its dates and datetimes from its audit snapshot, not
    formatted again: the same as the schema's general dump of the same values (aware, other-zone
    and naive datetimes, dates, None, JSON values)."""
    from datetime import date, datetime, timedelta, timezone
    from types import SimpleNamespace

    from server.services import sync

    model = {"hazard": Hazard, "item_result": ItemResult}[entity]
    values = {"hazard": dict(id="h-1", venue_id="v-1", description="楼道堆物", found_on=date(2026, 11, 27),
                             deadline=date(2026, 12, 4), deadline_days=5, state="open", severity="general",
                             correction_mode="deadline", legal_basis_codes=["XFF-28"], photo_hashes=[],
                             state_changed_at=datetime(2026, 11, 27, 9, 0, tzinfo=timezone(timedelta(hours=8))),
                             client_observed_at=datetime(2026, 11, 27, 1, 2, 3)),
              "item_result": dict(id="r-1", inspection_id="i-1", item_code="EXIT-1", result="pass", note=None,
                                  photo_hashes=["a" * 64], client_observed_at=datetime(2026, 11, 27, 1, 2, 3, 4,
                                                                                        tzinfo=timezone.utc))}[entity]
    _, row = sync._complete_row(model, values)
    row.update(server_seq=7, version=1)
    new_row = sync._NewRow(row, sync._snapshot_values(model, row))
    assert sync.dump(entity, new_row) == sync.dump(entity, SimpleNamespace(**row))
    assert list(sync.dump(entity, new_row)) == list(sync.dump(entity, SimpleNamespace(**row)))


def test_a_model_with_insert_events_is_not_inserted_in_bulk(login, world, template, db, monkeypatch):
    """A Core insert would skip mapper insert events: a model that has any goes the ORM way."""
    from sqlalchemy import event

    from server.services import sync

    seen = []
    listener = lambda mapper, connection, target: seen.append(target.id)  # noqa: E731
    monkeypatch.setattr(sync, "_row_plans", {})
    event.listen(Hazard, "before_insert", listener)
    try:
        batch = field_batch(world)
        answer = push(login("inspector_a"), batch)
    finally:
        event.remove(Hazard, "before_insert", listener)
    assert [r["status"] for r in answer["results"]] == ["applied"] * 6
    assert seen == [m["entity_id"] for m in batch if m["entity"] == "hazard"]


def test_an_inspection_that_takes_over_a_planned_task_numbers_rows_like_one_by_one(login, world, template, db,
                                                                                  monkeypatch):
    """Starting the inspection links the inspectors' open task (an update of the task and of the
    inspection): as on the one-by-one path, both take their numbers before the run's other rows.

    (Which of the two comes first is not fixed on either path: the flush numbers the changed rows
    in the order of the session's dirty set.)"""
    from datetime import date

    from server.models import Task
    from server.services import tasks

    task_ids = []

    def build():
        task = tasks.create_task(world.users["supervisor_a"], venue_id=world.venue_a.id, due_date=date(2026, 12, 1),
                                 assignee_ids=[world.users["inspector_a"].id])
        task_ids.append(task.id)
        return field_batch(world)

    seen, kept = _push_both_ways(login, db, monkeypatch, build)
    assert len(kept) == 6  # the run was applied the bulk way
    for task_id in task_ids:
        db.session.expire_all()
        task = db.session.get(Task, task_id)
        inspection = db.session.get(Inspection, task.inspection_id)
        assert task.status == "in_progress" and inspection.task_id == task.id
        others = [r.server_seq for r in db.session.scalars(select(ItemResult).where(
            ItemResult.inspection_id == inspection.id))]
        others += [r.server_seq for r in db.session.scalars(select(Hazard).where(Hazard.inspection_id == inspection.id))]
        assert sorted([task.server_seq, inspection.server_seq]) == [min(others) - 2, min(others) - 1]
        assert sorted(others) == list(range(min(others), min(others) + 5))


def test_an_inspection_inserted_by_core_is_stored_and_answered_like_an_orm_flush(login, world, template, db,
                                                                                monkeypatch):
    """Inside a push a new inspection and its inspector links go in by Core and the object is
    attached as stored: the same answers, rows, audit events (inspector list included) and stored
    answers as adding and flushing the ORM row, with and without a planned task to take over."""
    from datetime import date

    from sqlalchemy import select as sa_select

    from server.models import inspection_inspectors
    from server.services import tasks

    photo = factories.blob()
    seen, _ = _push_both_ways(login, db, monkeypatch, lambda: _rich_batch(world, photo),
                              paths=("bulk", "orm_inspection"))
    assert seen["bulk"] == seen["orm_inspection"]
    assert [r["status"] for r in seen["bulk"]["answers"]] == ["applied"] * len(seen["bulk"]["answers"])

    def with_task():
        tasks.create_task(world.users["supervisor_a"], venue_id=world.venue_a.id, due_date=date(2026, 12, 1),
                          assignee_ids=[world.users["inspector_a"].id])
        return field_batch(world)

    seen, _ = _push_both_ways(login, db, monkeypatch, with_task, paths=("bulk", "orm_inspection", "one_by_one"))
    # Each push takes over its own task, and the flush numbers the task and the inspection in the
    # order of the session's dirty set (see the test above): both left out of the comparison.
    assert all(seen[path]["rows"][0]["task_id"] is not None and seen[path]["rows"][0]["version"] == 2
               for path in seen)
    assert _without(seen["bulk"], ("task_id", "server_seq")) == _without(seen["orm_inspection"], ("task_id", "server_seq"))
    assert _without(seen["bulk"], ("task_id", "server_seq")) == _without(seen["one_by_one"], ("task_id", "server_seq"))
    links = db.session.execute(sa_select(inspection_inspectors.c.inspection_id, inspection_inspectors.c.user_id)).all()
    per_inspection = {}
    for inspection_id, user_id in links:
        per_inspection.setdefault(inspection_id, set()).add(user_id)
    expected = {world.users["inspector_a"].id, world.users["inspector_a2"].id}
    assert len(per_inspection) == 5 and all(users == expected for users in per_inspection.values())


def _without(value, keys):
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, (list, tuple)):
        return [_without(v, keys) for v in value]
    return value


def test_a_run_rolled_back_forgets_the_inspection_it_attached(login, world, template, db, monkeypatch):
    """A run whose inspection went in by Core and which then falls back to one by one (a later
    create of the run is refused) must not find that inspection in the session: it is applied
    again, once, and stored once."""
    batch = field_batch(world, lambda iid: mut("hazard", "create", {"inspection_id": iid, "item_code": "EXIT-1"}))
    answer = push(login("inspector_a"), batch)
    assert [r["status"] for r in answer["results"]] == ["applied"] * 6 + ["rejected"]
    assert db.session.query(Inspection).filter_by(id=batch[0]["entity_id"]).count() == 1
    assert db.session.execute(text("SELECT count(*) FROM inspection_inspectors WHERE inspection_id = :i"),
                              {"i": batch[0]["entity_id"]}).scalar() == 2


def test_a_batch_retried_after_an_integrity_error_applies_its_inspection_again(login, world, template, db,
                                                                               monkeypatch):
    """push retries the whole batch after an IntegrityError (a concurrent first counter row): the
    inspection the failed attempt inserted by Core and attached is forgotten with the rollback."""
    from sqlalchemy.exc import IntegrityError

    from server.services import sync

    real = sync._record_device
    failures, held = [], []

    def record_device_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            # The rows stay referenced (as a traceback or a cycle can keep them) past the rollback.
            held.extend(db.session.info["keep_alive"])
            raise IntegrityError("INSERT INTO devices", {}, Exception("duplicate key"))
        return real(*args, **kwargs)

    monkeypatch.setattr(sync, "_record_device", record_device_once)
    batch = field_batch(world)
    answer = push(login("inspector_a"), batch)
    assert failures == [1]
    assert [r["status"] for r in answer["results"]] == ["applied"] * 6
    assert db.session.query(Inspection).filter_by(id=batch[0]["entity_id"]).count() == 1


def test_an_inspection_refused_after_it_was_inserted_leaves_its_id_free_in_the_same_batch(login, world, template,
                                                                                         db):
    """start_inspection inserts the row, then refuses a cancelled task: the savepoint goes and the
    attached object with it, so a second create of the same id in the batch is applied, not
    answered entity_exists (and the row and its inspectors are stored once)."""
    from datetime import date

    from server.services import tasks

    task = tasks.create_task(world.users["supervisor_a"], venue_id=world.venue_a.id, due_date=date(2026, 12, 1),
                             assignee_ids=[world.users["inspector_a"].id])
    tasks.cancel_task(world.users["supervisor_a"], task.id, reason="改期")
    fields = {"venue_id": world.venue_a.id, "kind": "routine", "inspector_ids": [world.users["inspector_a2"].id]}
    bad = mut("inspection", "create", dict(fields, task_id=task.id))
    good = mut("inspection", "create", fields, entity_id=bad["entity_id"])
    answer = push(login("inspector_a"), [bad, good])
    assert [(r["status"], r.get("reason")) for r in answer["results"]] == [("rejected", "task_closed"),
                                                                           ("applied", None)]
    assert db.session.query(Inspection).filter_by(id=bad["entity_id"]).count() == 1
    assert db.session.execute(text("SELECT count(*) FROM inspection_inspectors WHERE inspection_id = :i"),
                              {"i": bad["entity_id"]}).scalar() == 2
