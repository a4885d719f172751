"""The API around documents: PDF download, listing scope, service records, the public verify page."""
from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest

from server.extensions import db
from server.models import Document, Hazard
from tests.documents import helpers


@pytest.fixture
def issued(world):
    helpers.legal_bases()
    return helpers.issue_complete(world, "deadline_rectification")


def test_downloaded_pdf_names_the_number_and_venue(world, issued, login, tmp_path):
    resp = login("inspector_a").get(f"/api/v1/documents/{issued.id}/pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    disposition = resp.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"{issued.number}.pdf"
    path = tmp_path / "doc.pdf"
    path.write_bytes(resp.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    squeezed = "".join(text.split())
    assert issued.number in squeezed
    assert world.venue_a.name in squeezed
    assert "地下室应急照明系统失效" in squeezed
    # The same bytes on every download.
    assert login("owner_a").get(f"/api/v1/documents/{issued.id}/pdf").data == resp.data


def test_owner_sees_issued_documents_of_own_venue_only(world, issued, login):
    draft = helpers.complete_draft(world, "deadline_rectification")
    owner = login("owner_a")
    items = owner.get("/api/v1/documents").get_json()["items"]
    assert [d["id"] for d in items] == [issued.id]
    assert owner.get(f"/api/v1/documents/{draft.id}").status_code == 404
    assert login("inspector_b").get(f"/api/v1/documents/{issued.id}").status_code == 403


def test_list_filters_by_kind_state_and_date(world, issued, login):
    helpers.complete_draft(world, "immediate_rectification")
    client = login("supervisor_a")
    assert client.get("/api/v1/documents?kind=immediate_rectification").get_json()["meta"]["total"] == 1
    assert [d["id"] for d in client.get("/api/v1/documents?state=issued").get_json()["items"]] == [issued.id]
    assert client.get("/api/v1/documents?date_from=2026-03-04").get_json()["meta"]["total"] == 0
    assert client.get("/api/v1/documents?date_from=2026-03-03&date_to=2026-03-03").get_json()["meta"]["total"] == 1


def test_first_service_starts_the_deadline_and_notifies_hazards(world, issued, login):
    served_at = datetime(2026, 3, 5, 2, 0, tzinfo=timezone.utc)  # Thursday, 10:00 in Ningbo
    resp = login("inspector_a").post(f"/api/v1/documents/{issued.id}/service-records", json={
        "method": "in_person", "served_at": served_at.isoformat(), "place": world.venue_a.address,
        "recipient_name": "王五", "recipient_relation": "本人"})
    assert resp.status_code == 201, resp.get_json()
    doc = db.session.get(Document, issued.id)
    db.session.refresh(doc)
    assert doc.state == "served" and doc.served_on.isoformat() == "2026-03-05"
    assert doc.deadline.isoformat() == "2026-03-19"  # 10 working days from the service day
    hazards = db.session.query(Hazard).filter(Hazard.id.in_([h.id for h in doc.hazards])).all()
    assert {h.state for h in hazards} == {"notified"}
    assert {h.deadline.isoformat() for h in hazards} == {"2026-03-19"}


def test_refusal_needs_a_witness_and_e_service_needs_consent(world, issued, login):
    client = login("inspector_a")
    url = f"/api/v1/documents/{issued.id}/service-records"
    refused = client.post(url, json={"method": "in_person", "served_at": "2026-03-03T10:00:00+08:00",
                                     "place": "现场", "refused": True})
    assert refused.status_code == 422 and refused.get_json()["reason"] == "service_witness_required"
    electronic = client.post(url, json={"method": "electronic", "served_at": "2026-03-03T10:00:00+08:00"})
    assert electronic.status_code == 422 and electronic.get_json()["reason"] == "service_no_e_consent"
    world.venue_a.e_service_consent_at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    db.session.commit()
    ok = client.post(url, json={"method": "electronic", "served_at": "2026-03-03T10:00:00+08:00"})
    assert ok.status_code == 201, ok.get_json()


def test_owner_signs_a_self_rectification_commitment(world, login, on_issue_day):
    helpers.legal_bases()
    doc = helpers.complete_draft(world, "self_rectification_commitment")
    fields = dict(doc.fields)
    fields.pop("party_signature_hash")
    from server.services import documents

    documents.update_draft(world.users["inspector_a"], doc, {"fields": fields})
    signature = helpers.blob(helpers.png((0, 0, 0)))
    resp = login("owner_a").post(f"/api/v1/documents/{doc.id}/sign",
                                 json={"signature_hash": signature, "signer_name": "王五"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["state"] == "issued" and body["number"] == "北仑消诺字〔2026〕第0001号"
    assert body["content"]["party_signature_hash"] == signature


def test_verify_page_for_a_voided_document(world, issued, login, app):
    login("supervisor_a").post(f"/api/v1/documents/{issued.id}/void", json={"reason": "当事人名称错误"})
    resp = app.test_client().get(f"/verify/{issued.verify_code}")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "已作废" in page
    assert issued.pdf_sha256 in page and issued.number in page
    assert world.venue_a.name not in page and "王五" not in page and "地下室" not in page


def test_verify_page_states_and_unknown_code(world, issued, app):
    client = app.test_client()
    assert "有效" in client.get(f"/verify/{issued.verify_code}").get_data(as_text=True)
    missing = client.get("/verify/not-a-real-code-123456")
    assert missing.status_code == 404 and "没有与此核验码对应的文书" in missing.get_data(as_text=True)
    assert client.get(f"/verify/{issued.number}").status_code == 404  # the number is not the code
