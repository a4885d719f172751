"""Builders for document tests: legal bases, an inspection by two inspectors, hazards, and a
complete draft of every kind (what the document service needs to issue it)."""
from __future__ import annotations

import copy
import hashlib
import io
import json
import uuid
from datetime import date, datetime, timezone

from flask import current_app

from server.extensions import db
from server.models import Blob, Document, Hazard, Inspection, LegalBasis
from server.services import documents
from server.storage import get_storage

ISSUE_DAY = date(2026, 3, 3)
ART_60_1 = "xfa-2021-60-1-1"
ART_60_3 = "xfa-2021-60-1-3"


def legal_bases():
    rows = [
        LegalBasis(code=ART_60_1, law="中华人民共和国消防法", version_date=date(2021, 4, 29), article="60",
                   clause="1", item="1", text="消防设施、器材或者消防安全标志的配置、设置不符合国家标准、"
                   "行业标准，或者未保持完好有效的", fine_range={"unit": [5000, 50000]}),
        LegalBasis(code=ART_60_3, law="中华人民共和国消防法", version_date=date(2021, 4, 29), article="60",
                   clause="1", item="3", text="占用、堵塞、封闭疏散通道、安全出口或者有其他妨碍安全疏散行为的",
                   fine_range={"unit": [5000, 50000]}),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def png(color=(200, 60, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (60, 40), color).save(buf, format="PNG")
    return buf.getvalue()


def blob(data: bytes | None = None, *, store=True) -> str:
    """An uploaded image blob (row + bytes); store=False leaves the bytes out (a lost upload)."""
    data = data or png()
    sha = hashlib.sha256(data).hexdigest()
    if store:
        get_storage(current_app).put_as(sha, data)
    if db.session.get(Blob, sha) is None:
        db.session.add(Blob(sha256=sha, mime="image/png", size=len(data)))
        db.session.commit()
    return sha


def inspection(world, venue=None, inspectors=("inspector_a", "inspector_a2")) -> Inspection:
    venue = venue or world.venue_a
    ins = Inspection(venue_id=venue.id, kind="routine", status="finished",
                     started_at=datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc),
                     finished_at=datetime(2026, 3, 2, 2, 40, tzinfo=timezone.utc),
                     summary="现场检查发现火灾隐患2处。", owner_signer_name="王五",
                     venue_snapshot={"name": venue.name})
    ins.inspectors = [world.users[u] for u in inspectors]
    db.session.add(ins)
    db.session.commit()
    return ins


def hazard(world, ins=None, *, venue=None, description="地下室应急照明系统失效，断电后灯具不亮",
           location="地下室", codes=(ART_60_1,), photos=(), deadline=date(2026, 3, 17), **kw) -> Hazard:
    venue = venue or world.venue_a
    h = Hazard(venue_id=venue.id, inspection_id=ins.id if ins else None, description=description,
               location=location, legal_basis_codes=list(codes), requirement=kw.pop("requirement", "维修应急照明"),
               photo_hashes=list(photos), found_on=date(2026, 3, 2), deadline=deadline,
               deadline_days=10, state=kw.pop("state", "open"), **kw)
    db.session.add(h)
    db.session.commit()
    return h


def issued_stub(world, kind="deadline_rectification", serial=900) -> Document:
    """An issued document row written directly (no PDF), to be referred to by another one."""
    doc = Document(kind=kind, venue_id=world.venue_a.id, state="issued", agency="北仑消", year=2026,
                   serial=serial, number=f"北仑消限字〔2026〕第{serial:04d}号",
                   canonical_content=json.dumps({"party": {"name": world.venue_a.name}}, ensure_ascii=False),
                   content_sha256="0" * 64, pdf_sha256="0" * 64, verify_code=uuid.uuid4().hex,
                   issued_on=date(2026, 3, 2), issued_at=datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc))
    db.session.add(doc)
    db.session.commit()
    return doc


def service_record_for(world, doc):
    from server.models import ServiceRecord

    rec = ServiceRecord(document_id=doc.id, method="in_person",
                        served_at=datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc), place=world.venue_a.address,
                        recipient_name="王五", recipient_relation="本人",
                        server_user_id=world.users["inspector_a"].id)
    db.session.add(rec)
    db.session.commit()
    return rec


SANCTION = {"kind_label": "罚款", "amount": 8000, "basis_code": ART_60_3}
BODIES = {
    "inspection_record": {"inspection": {"summary": "发现火灾隐患2处，已当场告知。", "party_opinion": "无异议"}},
    "immediate_rectification": {"reinspection": "已责令当场改正，检查人员现场确认。"},
    "deadline_rectification": {"deadline_days": 10,
                               "reinspection": "本大队将于改正期限届满之日起三个工作日内进行复查。"},
    "major_hazard_rectification": {
        "determination": {"method": "集体讨论", "date": "2026-03-02", "basis": "GB 35181—2017 第6.2条"},
        "interim_measures": "住宿区人员全部撤离，每日两次防火巡查", "report_to": "北仑区人民政府",
        "reinspection": "整改完毕后向本大队申请复查。", "deadline": "2026-04-30"},
    "reinspection_opinion": {"reinspection_date": "2026-03-03", "conclusion": "第1项已改正，第2项未改正。",
                             "followup": "对未改正的违法行为，本大队将依法予以处罚。"},
    "temporary_seal": {"facts": "安全出口被堵塞，人员密集时发生火灾可能造成群死群伤。",
                       "hearing": "本机关已于2026年3月2日听取你单位意见。",
                       "seal": {"decided_by": "集体研究决定", "scope": "一层生产车间",
                                "starts_on": "2026-03-03", "ends_on": "2026-04-02",
                                "release_conditions": "火灾隐患消除，经复查合格"},
                       "legal_basis_codes": [ART_60_3]},
    "penalty_notice": {"facts": "安全出口被货架堵塞，经责令限期改正后逾期未改正。",
                       "evidence": ["现场检查笔录", "现场照片2张"], "sanctions": [SANCTION],
                       "rights": {"statement_days": 3, "hearing": True, "hearing_days": 5,
                                  "contact": "李明 0574-86805119"},
                       "legal_basis_codes": [ART_60_3]},
    "penalty_decision": {"facts": "安全出口被货架堵塞；复查时仍未改正。", "evidence": ["检查记录一份"],
                         "case": {"opened_on": "2026-03-02"}, "statement": "当事人未提出陈述、申辩。",
                         "sanctions": [SANCTION],
                         "payment": {"days": 15, "bank": "中国工商银行宁波北仑支行", "late_fee_percent": 3},
                         "legal_basis_codes": [ART_60_3]},
    "three_stop_notice": {"facts": "违规搭建隔断、电动自行车室内充电，经责令改正后拒不改正。",
                          "measures": ["停产", "停业", "停止使用"], "scope": "明州路小吃店全部经营场所",
                          "effective_from": "2026-03-04T08:00", "legal_basis_codes": [ART_60_3]},
    "self_rectification_commitment": {"deadline": "2026-03-17", "commitments": ["整改完毕后主动申请复查"]},
    "service_receipt": {},
}


def complete_draft(world, kind, *, actor=None, photos=()) -> Document:
    """A draft of `kind` with everything it needs (approval aside)."""
    actor = actor or world.users["inspector_a"]
    ins = inspection(world)
    h1 = hazard(world, ins, photos=photos)
    h2 = hazard(world, ins, description="一层东侧安全出口被货架堵塞", location="一层车间", codes=(ART_60_3,),
                requirement="清除货架，保持安全出口畅通")
    fields = copy.deepcopy(BODIES[kind])
    if kind == "reinspection_opinion":
        fields["original_document_id"] = issued_stub(world).id
    if kind == "service_receipt":
        fields["service_record_id"] = service_record_for(world, issued_stub(world)).id
    if kind == "self_rectification_commitment":
        fields["party_signature_hash"] = blob(png((10, 10, 10)))
    return documents.create_draft(actor, kind=kind, venue_id=world.venue_a.id, inspection_id=ins.id,
                                  hazard_ids=[h1.id, h2.id], fields=fields)


def approve_if_needed(world, doc) -> Document:
    if documents.kind_spec(doc.kind).get("needs_approval"):
        documents.submit(world.users["inspector_a"], doc.id)
        documents.approve(world.users["supervisor_a"], doc.id)
    return doc


def issuer(world, kind):
    roles = documents.kind_spec(kind)["issue_roles"]
    return world.users["inspector_a"] if "inspector" in roles else world.users["supervisor_a"]


def issue_complete(world, kind="deadline_rectification", **kw) -> Document:
    doc = approve_if_needed(world, complete_draft(world, kind, **kw))
    return documents.issue(issuer(world, kind), doc.id, today=ISSUE_DAY)
