"""Every kind issues when complete, and is refused by name for each missing required field."""
from __future__ import annotations

import hashlib
import json
import re

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import Document, Hazard, NumberCounter
from server.pdf import KINDS as PDF_KINDS
from server.services import documents
from server.services.errors import RuleViolation
from server.storage import get_storage
from tests.conftest import StateSnapshot
from tests.documents import helpers

ALL_KINDS = sorted(documents.kinds())
REQUIRED = [(kind, path) for kind in ALL_KINDS for path in documents.kind_spec(kind)["required"]]


def test_kinds_data_is_consistent_with_the_pdf_templates_and_labels():
    data = documents._data()
    assert len(ALL_KINDS) == 11
    for kind, spec in data["kinds"].items():
        assert spec["template"] in PDF_KINDS, kind
        assert spec["kind_word"] and spec["title"]
        for path in spec["required"]:
            assert path in data["field_labels"], (kind, path)
    words = [s["kind_word"] for s in data["kinds"].values()]
    assert len(set(words)) == len(words), "kind words must tell the kinds apart"
    approval = {k for k, s in data["kinds"].items() if s["needs_approval"]}
    assert approval == {"penalty_decision", "penalty_notice", "temporary_seal", "three_stop_notice",
                        "major_hazard_rectification"}
    assert data["kinds"]["self_rectification_commitment"]["owner_signs"] is True


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_complete_document_of_each_kind_issues(world, kind):
    helpers.legal_bases()
    doc = helpers.issue_complete(world, kind)
    spec = documents.kind_spec(kind)
    assert doc.state == "issued"
    assert doc.number == f"北仑消{spec['kind_word']}字〔2026〕第0001号"
    assert re.fullmatch(r"北仑消.+字〔2026〕第\d{4}号", doc.number)
    content = json.loads(doc.canonical_content)
    assert doc.canonical_content == documents.canonical_json(content)
    assert doc.content_sha256 == hashlib.sha256(doc.canonical_content.encode()).hexdigest()
    assert content["number"] == doc.number and content["verify_code"] == doc.verify_code
    pdf = get_storage().get(doc.pdf_sha256)
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == doc.pdf_sha256
    assert len(doc.verify_code) >= 20 and doc.number not in doc.verify_code


def _set_path(fields: dict, path: str, value) -> None:
    parts = path.split(".")
    node = fields
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _blank(world, doc, path) -> str:
    """Remove one required field from a complete draft; returns the error key expected."""
    fields = json.loads(json.dumps(doc.fields))
    hazards = sorted(doc.hazards, key=lambda h: (h.found_on, h.created_at, h.id))
    changes = {}
    expected = path
    if path == "hazards":
        changes["hazard_ids"] = []
    elif path.startswith("hazards.*."):
        attr = path.rsplit(".", 1)[1]
        expected = f"hazards.0.{attr}"
        if attr == "legal_basis_text":
            hazards[0].legal_basis_codes = []
        elif attr == "result":
            fields["hazard_results"] = {hazards[0].id: ""}
        else:
            setattr(hazards[0], attr, "" if attr != "requirement" else None)
    elif path == "inspectors":
        fields["inspector_ids"] = []
    elif path in ("venue.name", "venue.address"):
        setattr(doc.venue, path.split(".")[1], "")
    elif path == "legal_bases":
        for h in hazards:
            h.legal_basis_codes = []
        fields.pop("legal_basis_codes", None)
    elif path == "deadline":
        fields.pop("deadline_days", None)
        fields["deadline"] = None
        for h in hazards:
            h.deadline = None
    elif path == "original.number":
        fields.pop("original_document_id")
    elif path.startswith("service."):
        fields.pop("service_record_id")
    elif path == "party_signature_hash":
        fields.pop("party_signature_hash")
    else:
        _set_path(fields, path, None)
    changes["fields"] = fields
    db.session.commit()
    documents.update_draft(world.users["inspector_a"], doc, changes)
    return expected


_drafts: dict = {}  # kind -> (StateSnapshot, document id): this worker's first build of it


def complete_draft(world, kind) -> Document:
    """helpers.legal_bases() + helpers.complete_draft(world, kind); built for real the first time
    per kind and worker, then the same rows restored (about 40 ms of CPU less per test)."""
    if kind not in _drafts:
        helpers.legal_bases()
        doc = helpers.complete_draft(world, kind)
        _drafts[kind] = (StateSnapshot(), doc.id)
        return db.session.get(Document, doc.id)
    snapshot, doc_id = _drafts[kind]
    snapshot.restore_over()
    return db.session.get(Document, doc_id)


@pytest.mark.parametrize("kind,path", REQUIRED, ids=[f"{k}:{p}" for k, p in REQUIRED])
def test_each_missing_required_field_is_refused_by_name(world, kind, path):
    doc = complete_draft(world, kind)
    expected = _blank(world, doc, path)
    if documents.kind_spec(kind)["needs_approval"]:
        # Submitting checks completeness too; approve straight from the desk to reach issue().
        with pytest.raises(RuleViolation) as at_submit:
            documents.submit(world.users["inspector_a"], doc.id)
        assert expected in at_submit.value.fields
        db.session.rollback()
        doc.state = "approved"
        doc.approved_by_id = world.users["supervisor_a"].id
        db.session.commit()
    with pytest.raises(RuleViolation) as caught:
        documents.issue(helpers.issuer(world, kind), doc.id, today=helpers.ISSUE_DAY)
    err = caught.value
    assert err.reason == "document_missing_field"
    assert expected in err.fields, err.fields
    first_path = next(iter(err.fields))
    assert err.message("zh-CN") == "缺少必填项：" + err.fields[first_path][0]
    db.session.rollback()
    assert db.session.get(Document, doc.id).state in ("draft", "approved")
    assert db.session.scalar(select(NumberCounter).where(NumberCounter.kind == kind)) is None


def test_refusal_names_the_first_missing_field_and_lists_all(world):
    helpers.legal_bases()
    doc = helpers.complete_draft(world, "deadline_rectification")
    fields = dict(doc.fields)
    fields.pop("deadline_days")
    fields["reinspection"] = None
    for h in doc.hazards:
        h.deadline = None
    db.session.commit()
    documents.update_draft(world.users["inspector_a"], doc, {"fields": fields})
    with pytest.raises(RuleViolation) as caught:
        documents.issue(world.users["inspector_a"], doc.id, today=helpers.ISSUE_DAY)
    assert caught.value.message("zh-CN") == "缺少必填项：整改期限"
    assert caught.value.message("en") == "Missing required field: deadline"
    assert list(caught.value.fields) == ["deadline", "reinspection"]


def test_rectification_notice_needs_two_inspectors(world):
    helpers.legal_bases()
    doc = helpers.complete_draft(world, "deadline_rectification")
    fields = dict(doc.fields, inspector_ids=[world.users["inspector_a"].id])
    documents.update_draft(world.users["inspector_a"], doc, {"fields": fields})
    with pytest.raises(RuleViolation) as caught:
        documents.issue(world.users["inspector_a"], doc.id, today=helpers.ISSUE_DAY)
    assert caught.value.message("zh-CN") == "缺少必填项：检查人员（至少2名）"


def test_content_carries_legal_text_as_in_force_and_photo_hashes(world):
    helpers.legal_bases()
    photo = helpers.blob()
    doc = helpers.issue_complete(world, "deadline_rectification", photos=[photo])
    content = json.loads(doc.canonical_content)
    assert [b["code"] for b in content["legal_bases"]] == [helpers.ART_60_1, helpers.ART_60_3]
    assert content["legal_bases"][0]["text"].startswith("消防设施、器材")
    assert content["hazards"][0]["photo_hashes"] == [photo]
    assert content["hazards"][0]["legal_basis_text"] == "《中华人民共和国消防法》第六十条第一款第一项"
    assert [i["enforcement_id"] for i in content["inspectors"]] == [
        world.users["inspector_a"].enforcement_id, world.users["inspector_a2"].enforcement_id]
    assert content["deadline"] == "2026-03-17"  # 10 working days from Tuesday 3 March 2026
    assert content["venue"]["name"] == world.venue_a.name
    # The venue may change later; the issued content does not.
    world.venue_a.name = "改名后的小吃店"
    db.session.commit()
    assert json.loads(db.session.get(Document, doc.id).canonical_content)["venue"]["name"] == "明州路小吃店"


def test_unknown_draft_field_is_refused(world):
    with pytest.raises(RuleViolation) as caught:
        documents.create_draft(world.users["inspector_a"], kind="deadline_rectification",
                               venue_id=world.venue_a.id, fields={"fine": 100})
    assert caught.value.reason == "document_unknown_field"


def test_major_hazard_notice_waits_for_the_collective_determination(world):
    helpers.legal_bases()
    doc = helpers.complete_draft(world, "major_hazard_rectification")
    h = db.session.get(Hazard, doc.hazards[0].id)
    h.state, h.severity = "major_pending", "major"
    doc.state, doc.approved_by_id = "approved", world.users["supervisor_a"].id
    db.session.commit()
    with pytest.raises(RuleViolation) as caught:
        documents.issue(world.users["inspector_a"], doc.id, today=helpers.ISSUE_DAY)
    assert caught.value.reason == "document_major_not_determined"
