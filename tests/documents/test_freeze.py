"""Issued means frozen: service layer, ORM guard and database all refuse a change."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from server.extensions import db
from server.models import Document
from server.services import documents
from server.services.errors import RuleViolation
from tests.documents import helpers


@pytest.fixture
def issued(world):
    helpers.legal_bases()
    return helpers.issue_complete(world, "deadline_rectification")


def test_api_update_of_an_issued_document_is_refused(issued, login):
    resp = login("inspector_a").patch(f"/api/v1/documents/{issued.id}", json={"fields": {"reinspection": "改"}})
    assert resp.status_code == 422
    assert resp.get_json()["reason"] == "document_frozen"
    assert json.loads(db.session.get(Document, issued.id).canonical_content)["reinspection"] != "改"


def test_orm_change_of_frozen_content_is_refused(issued):
    issued.canonical_content = issued.canonical_content.replace("地下室", "一楼")
    with pytest.raises(RuleViolation) as caught:
        db.session.commit()
    assert caught.value.reason == "document_frozen"
    db.session.rollback()


def test_orm_delete_of_an_issued_document_is_refused(issued):
    db.session.delete(issued)
    with pytest.raises(RuleViolation):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("sql", [
    "UPDATE documents SET canonical_content = '{}' WHERE id = :id",
    "UPDATE documents SET number = 'X' WHERE id = :id",
    "UPDATE documents SET fields = '{}' WHERE id = :id",
    "UPDATE documents SET pdf_sha256 = :zero WHERE id = :id",
    "UPDATE documents SET state = 'draft' WHERE id = :id",
])
def test_direct_sql_update_is_refused_by_the_database(issued, sql):
    """PostgreSQL: the documents_freeze trigger; SQLite: the same rule as an SQLite trigger."""
    doc_id = issued.id
    db.session.close()  # let the raw connection have the database (SQLite has one writer)
    with pytest.raises(DBAPIError) as caught:
        with db.engine.begin() as conn:
            conn.execute(text(sql), {"id": doc_id, "zero": "0" * 64})
    assert "frozen" in str(caught.value) or "cannot become" in str(caught.value)
    assert db.session.get(Document, issued.id).number.endswith("第0001号")


def test_direct_sql_may_still_record_service_and_voiding(issued):
    doc_id = issued.id
    db.session.close()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE documents SET state = 'voided', void_reason = '测试' WHERE id = :id"),
                     {"id": doc_id})
    assert db.session.get(Document, doc_id).state == "voided"


@pytest.mark.postgres
def test_direct_sql_delete_is_refused_on_postgresql(issued):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the DELETE trigger is PostgreSQL's (SQLite relies on the ORM guard)")
    doc_id = issued.id
    db.session.close()
    with pytest.raises(DBAPIError, match="cannot be deleted"):
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM documents WHERE id = :id"), {"id": doc_id})


def test_rerendering_the_frozen_content_gives_the_same_bytes(issued):
    from server.storage import get_storage

    stored = get_storage().get(issued.pdf_sha256)
    assert documents.render_pdf(json.loads(issued.canonical_content)) == stored


def test_issue_is_idempotent_online(world, issued):
    again = documents.issue(world.users["inspector_a"], issued.id)
    assert (again.number, again.pdf_sha256, again.content_sha256) == (
        issued.number, issued.pdf_sha256, issued.content_sha256)


def _issue_mutation(doc_id, fields):
    return {"mutation_id": str(uuid.uuid4()), "device_seq": 1, "entity": "document", "entity_id": doc_id,
            "op": "issue", "base_version": None, "fields": fields, "blob_hashes": []}


def test_replayed_offline_issue_is_idempotent_and_changed_content_refused(world, login, on_issue_day):
    helpers.legal_bases()
    phone = login("inspector_a")
    lease = phone.post("/api/v1/numbers/leases", json={"kind": "immediate_rectification", "count": 2,
                                                        "device_id": "phone-aaaa"}).get_json()
    ins = helpers.inspection(world)
    h = helpers.hazard(world, ins)
    doc_id = str(uuid.uuid4())
    fields = {"kind": "immediate_rectification", "venue_id": world.venue_a.id, "inspection_id": ins.id,
              "hazard_ids": [h.id], "fields": helpers.BODIES["immediate_rectification"],
              "serial": lease["first_serial"], "lease_id": lease["id"],
              "issued_at_device": "2026-03-03T09:15:00+08:00"}

    def push(f):
        body = {"device_id": "phone-aaaa", "schema_version": 1, "mutations": [_issue_mutation(doc_id, f)]}
        return phone.post("/api/v1/sync/push", json=body).get_json()["results"][0]

    first = push(fields)
    assert first["status"] == "applied", first
    doc = db.session.get(Document, doc_id)
    assert doc.number == "北仑消立字〔2026〕第0001号" and doc.issued_on.isoformat() == "2026-03-03"
    replay = push(fields)  # a new mutation id, the same issue
    assert replay["status"] == "applied"
    assert replay["server"]["pdf_sha256"] == doc.pdf_sha256
    assert replay["server"]["content_sha256"] == doc.content_sha256
    changed = push(dict(fields, fields=dict(fields["fields"], reinspection="另行复查")))
    assert changed["status"] == "rejected" and changed["reason"] == "document_frozen"


def test_supersede_issues_a_new_row_and_links_both(world, issued, login, on_issue_day):
    resp = login("inspector_a").post(f"/api/v1/documents/{issued.id}/supersede",
                                     json={"fields": dict(issued.fields, deadline_days=15)})
    assert resp.status_code == 201, resp.get_json()
    new = resp.get_json()
    assert new["id"] != issued.id and new["state"] == "issued"
    assert new["supersedes_id"] == issued.id and new["number"].endswith("第0002号")
    old = db.session.get(Document, issued.id)
    db.session.refresh(old)
    assert old.state == "superseded" and old.superseded_by_id == new["id"]
    assert old.number.endswith("第0001号")


def test_void_needs_a_supervisor_and_a_reason(world, issued, login):
    assert login("inspector_a").post(f"/api/v1/documents/{issued.id}/void",
                                     json={"reason": "当事人名称错误"}).status_code == 403
    resp = login("supervisor_a").post(f"/api/v1/documents/{issued.id}/void", json={"reason": "当事人名称错误"})
    assert resp.status_code == 200 and resp.get_json()["state"] == "voided"
    assert resp.get_json()["void_reason"] == "当事人名称错误"


def test_approval_kinds_cannot_issue_before_approval(world):
    helpers.legal_bases()
    doc = helpers.complete_draft(world, "penalty_decision")
    with pytest.raises(RuleViolation) as caught:
        documents.issue(world.users["supervisor_a"], doc.id)
    assert caught.value.reason == "document_needs_approval"
    documents.submit(world.users["inspector_a"], doc.id)
    with pytest.raises(Exception):
        documents.approve(world.users["inspector_a"], doc.id)
    db.session.rollback()
    documents.approve(world.users["supervisor_a"], doc.id)
    assert documents.issue(world.users["supervisor_a"], doc.id, today=helpers.ISSUE_DAY).state == "issued"
