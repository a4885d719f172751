"""Legal documents (文书): drafts, approval, issue (= freeze), correction, voiding, service.

A kind is data (server/data/document_kinds.json): template, kind word for the number, required
fields, who may issue, whether a supervisor approves first.

Issuing freezes a document. `issue()` builds the canonical content — the venue and party as they
are now, the hazards with their photos' hashes, the legal bases' text as in force in the
LegalBasis table, the deadline, the inspectors with their enforcement ids, the signers, the
number — serialises it canonically, hashes it, renders the PDF from exactly that content, stores
the PDF in the blob store and records both hashes. From then on the service refuses any change,
and so does the database (see server/models/documents.py). A correction is a new document that
supersedes the old; voiding is a recorded act with a reason.

The number is taken from the counter inside the issuing transaction (server/services/numbering.py),
so a refused or failed issue consumes no number. An issue replayed by sync with the same content
returns the stored document; with different content it is refused (`document_frozen`).
"""
from __future__ import annotations

import copy
import hashlib
import json
import secrets
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from flask import current_app
from sqlalchemy import func, or_, select

from server.extensions import db
from server.models import (Blob, Document, Hazard, Inspection, ItemResult, LegalBasis, ServiceRecord, User,
                           Venue)
from server.models.base import utcnow
from server.models.documents import FROZEN_STATES, SERVICE_METHODS
from server.services import access, audit, numbering
from server.services.errors import BadInput, Forbidden, NotFound, RuleViolation
from server.services.registry import sync_handler

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "document_kinds.json"

# Keys a draft's `fields` may hold besides the kind's own body fields.
COMMON_FIELDS = frozenset({"party", "inspector_ids", "legal_basis_codes", "deadline", "deadline_days",
                           "inspection_date", "receipt", "party_signature_hash", "appeal"})
# Fields that select rows rather than print text; consumed by build_content, not copied.
REFERENCE_FIELDS = frozenset({"inspector_ids", "legal_basis_codes", "deadline_days",
                              "original_document_id", "hazard_results", "service_record_id"})
PARTY_KEYS = frozenset({"name", "address", "responsible_person", "responsible_title", "id_label",
                        "id_number", "phone", "role"})
MAX_FIELDS_BYTES = 64 * 1024
DRAFT_STATES = ("draft", "pending_approval", "approved")
STATE_LABELS = {"in_force": "有效", "rectified": "已整改", "superseded": "已被更正", "voided": "已作废"}


# --------------------------------------------------------------------------- kinds as data

@lru_cache(maxsize=1)
def _data() -> dict:
    with open(DATA_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def kinds() -> dict:
    return _data()["kinds"]


def kind_spec(kind: str) -> dict:
    spec = kinds().get(kind)
    if spec is None:
        raise RuleViolation("document_kind_unknown", kind=str(kind)[:40])
    return spec


def field_label(path: str, locale: str = "zh-CN") -> str:
    labels = _data()["field_labels"].get(path) or [path, path]
    return labels[1] if locale == "en" else labels[0]


# --------------------------------------------------------------------------- canonical form

def canonical_json(content: dict) -> str:
    """The one serialisation that is hashed and stored: sorted keys, no spaces, real UTF-8."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, dict)):
        return not value
    return False


def _get_path(content: dict, path: str):
    value = content
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _merge(base, override):
    """Deep-merge draft fields over derived values; an explicit None blanks a value."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base.get(key), value)
        return out
    return copy.deepcopy(override)


def missing_fields(content: dict, spec: dict) -> list[tuple[str, str, str]]:
    """(path, zh label, en label) of every required field the content lacks, in data order."""
    missing = []
    for path in spec["required"]:
        if path.startswith("hazards.*."):
            sub = path[len("hazards.*."):]
            for i, hazard in enumerate(content.get("hazards") or []):
                if _blank(hazard.get(sub)):
                    missing.append((f"hazards.{i}.{sub}",
                                    f"{field_label(path)}（第{i + 1}项隐患）",
                                    f"{field_label(path, 'en')} (hazard {i + 1})"))
            continue
        value = _get_path(content, path)
        if path == "inspectors":
            need = max(1, spec.get("min_inspectors", 0))
            if not isinstance(value, list) or len(value) < need:
                suffix = f"（至少{need}名）" if need > 1 else ""
                missing.append((path, field_label(path) + suffix, field_label(path, "en")))
            continue
        if _blank(value):
            missing.append((path, field_label(path), field_label(path, "en")))
    return missing


def check_required(content: dict, spec: dict) -> None:
    """Refuse naming the first missing field; `errors` lists them all."""
    missing = missing_fields(content, spec)
    if missing:
        path, label, label_en = missing[0]
        raise RuleViolation("document_missing_field", fields={p: [zh] for p, zh, _ in missing},
                            field=label, field_en=label_en, path=path)


# --------------------------------------------------------------------------- lookups

def get_document(document_id) -> Document:
    doc = db.session.get(Document, document_id) if document_id else None
    if doc is None or doc.deleted_at is not None:
        raise NotFound("document_not_found")
    return doc


def _venue(venue_id) -> Venue:
    venue = db.session.get(Venue, venue_id) if venue_id else None
    if venue is None or venue.deleted_at is not None:
        raise NotFound("venue_not_found", id=venue_id)
    return venue


def _owner_may_see(actor, doc: Document) -> bool:
    if doc.state in FROZEN_STATES:
        return True
    return doc.state == "draft" and kind_spec(doc.kind).get("owner_signs", False)


def view_document(actor, document_id) -> Document:
    doc = get_document(document_id)
    access.authorize(actor, "document.read", venue=doc.venue)
    if actor.role == access.OWNER and not _owner_may_see(actor, doc):
        raise NotFound("document_not_found")
    return doc


def _authorize_write(actor, doc: Document, action: str = "document.draft") -> None:
    access.authorize(actor, action, venue=doc.venue)


def _refuse_if_frozen(doc: Document) -> None:
    if doc.state in FROZEN_STATES:
        raise RuleViolation("document_frozen", field="state")


# --------------------------------------------------------------------------- drafts

def _check_fields(kind: str, fields) -> dict:
    if fields is None:
        return {}
    if not isinstance(fields, dict):
        raise BadInput("document_fields_invalid", fields={"fields": ["must be an object"]})
    allowed = COMMON_FIELDS | set(kind_spec(kind).get("body_fields", ()))
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise RuleViolation("document_unknown_field", fields={k: ["not a field of this kind"] for k in unknown},
                            field=", ".join(unknown))
    try:
        raw = json.dumps(fields, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise BadInput("document_fields_invalid", fields={"fields": ["not JSON data"]}) from None
    if len(raw.encode()) > MAX_FIELDS_BYTES:
        raise BadInput("document_fields_invalid", fields={"fields": ["too large"]})
    party = fields.get("party")
    if party is not None and (not isinstance(party, dict) or set(party) - PARTY_KEYS):
        raise BadInput("document_fields_invalid", fields={"party": [f"keys: {sorted(PARTY_KEYS)}"]})
    ids = fields.get("inspector_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                                  for i in ids)):
        raise BadInput("document_fields_invalid", fields={"inspector_ids": ["list of user ids"]})
    codes = fields.get("legal_basis_codes")
    if codes is not None and (not isinstance(codes, list) or not all(isinstance(c, str) for c in codes)):
        raise BadInput("document_fields_invalid", fields={"legal_basis_codes": ["list of codes"]})
    days = fields.get("deadline_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 365):
        raise BadInput("document_fields_invalid", fields={"deadline_days": ["0–365"]})
    for key in ("deadline", "inspection_date"):
        if fields.get(key) is not None:
            _parse_date(fields[key], key)
    return json.loads(raw)


def _parse_date(value, key: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BadInput("document_fields_invalid", fields={key: ["YYYY-MM-DD"]}) from None


def _resolve_hazards(venue: Venue, hazard_ids) -> list[Hazard]:
    hazards = []
    for hid in dict.fromkeys(hazard_ids or ()):
        hazard = db.session.get(Hazard, hid)
        if hazard is None or hazard.deleted_at is not None:
            raise NotFound("hazard_not_found", id=hid)
        if hazard.venue_id != venue.id:
            raise RuleViolation("document_hazard_other_venue", id=hid)
        hazards.append(hazard)
    return hazards


def _resolve_inspection(venue: Venue, inspection_id) -> Inspection | None:
    if not inspection_id:
        return None
    inspection = db.session.get(Inspection, inspection_id)
    if inspection is None or inspection.deleted_at is not None:
        raise NotFound("inspection_not_found")
    if inspection.venue_id != venue.id:
        raise RuleViolation("document_inspection_other_venue")
    return inspection


def create_draft(actor, *, kind: str, venue_id: str, id: str | None = None, inspection_id=None,
                 case_id=None, followup_id=None, hazard_ids=(), fields=None, supersedes_id=None,
                 commit=True) -> Document:
    """A new draft of `kind` for a venue; nothing is checked for completeness until issue."""
    venue = _venue(venue_id)
    access.authorize(actor, "document.draft", venue=venue)
    kind_spec(kind)
    if id is not None and db.session.get(Document, id) is not None:
        raise RuleViolation("document_exists")
    doc = Document(kind=kind, venue_id=venue.id, state="draft", fields=_check_fields(kind, fields),
                   agency=numbering.agency_short_name(), created_by_id=actor.id,
                   device_id=audit.current_device.get(), case_id=case_id, followup_id=followup_id)
    if id is not None:
        doc.id = id
    doc.inspection_id = getattr(_resolve_inspection(venue, inspection_id), "id", None)
    doc.hazards = _resolve_hazards(venue, hazard_ids)
    if supersedes_id:
        old = get_document(supersedes_id)
        if old.venue_id != venue.id:
            raise RuleViolation("document_supersede_other_venue")
        doc.supersedes_id = old.id
    db.session.add(doc)
    db.session.flush()
    audit.record(actor, "document.draft", "document", doc.id, after=_audit_view(doc))
    if commit:
        db.session.commit()
    return doc


DRAFT_EDITABLE = frozenset({"fields", "hazard_ids", "inspection_id", "case_id", "followup_id"})


def update_draft(actor, doc_or_id, changes: dict, *, commit=True) -> Document:
    """Change a draft; anything issued is frozen, anything submitted goes back to draft first."""
    doc = doc_or_id if isinstance(doc_or_id, Document) else get_document(doc_or_id)
    _authorize_write(actor, doc)
    _refuse_if_frozen(doc)
    if doc.state != "draft":
        raise RuleViolation("document_not_draft", state=doc.state)
    unknown = sorted(set(changes) - DRAFT_EDITABLE)
    if unknown:
        raise RuleViolation("document_unknown_field", fields={k: ["not editable"] for k in unknown},
                            field=", ".join(unknown))
    before = _audit_view(doc)
    venue = doc.venue
    if "fields" in changes:
        doc.fields = _check_fields(doc.kind, changes["fields"])
    if "hazard_ids" in changes:
        doc.hazards = _resolve_hazards(venue, changes["hazard_ids"])
    if "inspection_id" in changes:
        doc.inspection_id = getattr(_resolve_inspection(venue, changes["inspection_id"]), "id", None)
    for key in ("case_id", "followup_id"):
        if key in changes:
            setattr(doc, key, changes[key])
    audit.record(actor, "document.update", "document", doc.id, before=before, after=_audit_view(doc))
    if commit:
        db.session.commit()
    return doc


def submit(actor, document_id, *, commit=True) -> Document:
    """Send a draft that needs approval to a supervisor; it must already be complete."""
    doc = get_document(document_id)
    _authorize_write(actor, doc)
    _refuse_if_frozen(doc)
    spec = kind_spec(doc.kind)
    if not spec.get("needs_approval"):
        raise RuleViolation("document_approval_not_needed")
    if doc.state != "draft":
        raise RuleViolation("document_not_draft", state=doc.state)
    check_required(build_content(doc, issued_on=numbering.local_today()), spec)
    before = _audit_view(doc)
    doc.state = "pending_approval"
    audit.record(actor, "document.submit", "document", doc.id, before=before, after=_audit_view(doc))
    if commit:
        db.session.commit()
    return doc


def approve(actor, document_id, *, commit=True) -> Document:
    """A supervisor approves a submitted draft; only an approved draft of such a kind may issue."""
    doc = get_document(document_id)
    access.authorize(actor, "document.approve", venue=doc.venue)
    _refuse_if_frozen(doc)
    if doc.state != "pending_approval":
        raise RuleViolation("document_not_pending", state=doc.state)
    before = _audit_view(doc)
    doc.state, doc.approved_by_id, doc.approved_at = "approved", actor.id, utcnow()
    audit.record(actor, "document.approve", "document", doc.id, before=before, after=_audit_view(doc))
    if commit:
        db.session.commit()
    return doc


def send_back(actor, document_id, *, reason: str, commit=True) -> Document:
    """A supervisor returns a submitted or approved draft for changes (approval is withdrawn)."""
    doc = get_document(document_id)
    access.authorize(actor, "document.approve", venue=doc.venue)
    _refuse_if_frozen(doc)
    if doc.state not in ("pending_approval", "approved"):
        raise RuleViolation("document_not_pending", state=doc.state)
    if not (reason or "").strip():
        raise RuleViolation("document_reason_required", fields={"reason": ["required"]})
    before = _audit_view(doc)
    doc.state, doc.approved_by_id, doc.approved_at = "draft", None, None
    after = _audit_view(doc)
    after["reason"] = reason.strip()
    audit.record(actor, "document.send_back", "document", doc.id, before=before, after=after)
    if commit:
        db.session.commit()
    return doc


# --------------------------------------------------------------------------- content

def _legal_basis_dict(row: LegalBasis) -> dict:
    return {"code": row.code, "law": row.law, "article": row.article, "clause": row.clause,
            "item": row.item, "text": row.text, "version_date": row.version_date.isoformat(),
            "unverified": bool(row.unverified)}


def _citation(basis: dict) -> str:
    from server.pdf.render import citation

    return citation(basis)


class _Bases:
    """Legal bases looked up once per build, in first-use order."""

    def __init__(self):
        self.rows: dict[str, dict] = {}

    def get(self, code: str) -> dict:
        if code not in self.rows:
            row = db.session.scalar(select(LegalBasis).where(LegalBasis.code == code))
            if row is None:
                raise RuleViolation("document_legal_basis_unknown", code=str(code)[:64])
            self.rows[code] = _legal_basis_dict(row)
        return self.rows[code]


def _inspector_view(user: User, signatures: dict) -> dict:
    return {"id": user.id, "name": user.display_name, "enforcement_id": user.enforcement_id,
            "signature_hash": signatures.get(str(user.id))}


def _inspectors(doc: Document, inspection: Inspection | None, fields: dict) -> list[dict]:
    signatures = dict(inspection.inspector_signatures or {}) if inspection else {}
    if "inspector_ids" in fields:
        users = []
        for uid in fields["inspector_ids"] or []:
            user = db.session.get(User, uid)
            if user is None or not user.active or user.role not in access.FIELD:
                raise RuleViolation("document_inspector_invalid", id=uid)
            users.append(user)
    else:
        users = sorted(inspection.inspectors, key=lambda u: u.id) if inspection else []
    for user in users:
        if not user.enforcement_id:
            raise RuleViolation("document_inspector_no_enforcement_id", name=user.display_name)
        if not access.venue_in_scope(user, doc.venue):
            raise RuleViolation("document_inspector_out_of_area", name=user.display_name)
    return [_inspector_view(u, signatures) for u in users]


def _hazard_rows(doc: Document) -> list[Hazard]:
    return sorted(doc.hazards, key=lambda h: (h.found_on, h.created_at, h.id))


def _hazards(doc, spec, bases: _Bases, fields: dict) -> list[dict]:
    results = fields.get("hazard_results") or {}
    out = []
    for seq, hazard in enumerate(_hazard_rows(doc), start=1):
        cited = [bases.get(code) for code in hazard.legal_basis_codes or []]
        row = {"id": hazard.id, "seq": seq, "location": hazard.location,
               "description": hazard.description, "severity": hazard.severity,
               "item_code": hazard.item_code, "requirement": hazard.requirement,
               "legal_basis_codes": list(hazard.legal_basis_codes or []),
               "legal_basis_text": "、".join(_citation(b) for b in cited),
               "found_on": hazard.found_on.isoformat(),
               "deadline": hazard.deadline.isoformat() if hazard.deadline else None}
        # Hashes of the photos as they were at issue; printed in the annex only where the
        # kind has one (the table says "照片见附件" for any hazard with photo_hashes).
        if spec.get("photo_annex"):
            row["photo_hashes"] = list(hazard.photo_hashes or [])
        else:
            row["photo_sha256"] = list(hazard.photo_hashes or [])
        if doc.kind == "reinspection_opinion":
            row["result"] = (results[hazard.id] if hazard.id in results
                             else "已改正" if hazard.state == "verified_fixed" else "未改正")
        out.append(row)
    return out


def _legal_bases(hazards: list[dict], fields: dict, bases: _Bases) -> list[dict]:
    codes = [c for h in hazards for c in h["legal_basis_codes"]] + list(fields.get("legal_basis_codes") or [])
    return [bases.get(code) for code in dict.fromkeys(codes)]


def _deadline(issued_on: date, hazards: list[dict], fields: dict) -> tuple[str | None, int | None]:
    """(deadline, working days): an explicit date, else working days counted from the issue day
    (the service day replaces it when the notice is served — see record_service)."""
    if fields.get("deadline"):
        return _parse_date(fields["deadline"], "deadline").isoformat(), None
    days = fields.get("deadline_days")
    if days is not None:
        return add_working_days(issued_on, days).isoformat(), days
    dates = [h["deadline"] for h in hazards if h.get("deadline")]
    return (max(dates) if dates else None), None


def add_working_days(start: date, days: int) -> date:
    """Working days on the Chinese calendar (server/services/calendar.py, imported lazily)."""
    from server.services.inspections import add_working_days as add

    return add(start, days)


def _venue_view(venue: Venue) -> dict:
    labels = _data()["venue_type_labels"]
    return {"id": venue.id, "name": venue.name, "address": venue.address, "type": venue.type,
            "type_label": labels.get(venue.type, ""), "key_unit": bool(venue.key_unit),
            "area_id": venue.area_id, "area_name": venue.area.name if venue.area else None}


def _inspection_view(inspection: Inspection) -> dict:
    data = _data()
    items = []
    rows = db.session.scalars(select(ItemResult).where(ItemResult.inspection_id == inspection.id,
                                                       ItemResult.deleted_at.is_(None))
                              .order_by(ItemResult.item_code))
    for row in rows:
        text = row.item_code
        if inspection.template_id is not None:
            from server.models import ChecklistItem

            item = db.session.scalar(select(ChecklistItem).where(
                ChecklistItem.template_id == inspection.template_id, ChecklistItem.code == row.item_code))
            text = item.text if item is not None else row.item_code
        items.append({"code": row.item_code, "item": text,
                      "result": data["item_result_labels"].get(row.result, row.result),
                      "note": row.note})
    return {"id": inspection.id, "kind": inspection.kind,
            "type_label": data["inspection_kind_labels"].get(inspection.kind, inspection.kind),
            "started_at": _local_iso(inspection.started_at),
            "ended_at": _local_iso(inspection.finished_at),
            "summary": inspection.summary, "items": items,
            "accompanied_by": inspection.owner_signer_name}


def _local_iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(numbering.CHINA).replace(tzinfo=None).isoformat(timespec="minutes")


def _original(fields: dict, doc: Document) -> dict | None:
    oid = fields.get("original_document_id")
    if not oid:
        return None
    original = get_document(oid)
    if original.venue_id != doc.venue_id or original.state not in FROZEN_STATES:
        raise RuleViolation("document_original_invalid")
    return {"document_id": original.id, "kind": original.kind,
            "name": kind_spec(original.kind)["title"], "number": original.number}


def _service_view(fields: dict, doc: Document) -> dict | None:
    rid = fields.get("service_record_id")
    if not rid:
        return None
    record = db.session.get(ServiceRecord, rid)
    if record is None or record.deleted_at is not None:
        raise NotFound("service_record_not_found")
    served = get_document(record.document_id)
    if served.venue_id != doc.venue_id:
        raise RuleViolation("document_original_invalid")
    content = json.loads(served.canonical_content)
    server = db.session.get(User, record.server_user_id) if record.server_user_id else None
    return {
        "service_record_id": record.id,
        "document_name": kind_spec(served.kind)["title"],
        "document_number": served.number,
        "serving_body": current_app.config["AGENCY_NAME"],
        "addressee": content.get("party", {}).get("name"),
        "served_at": _local_iso(record.served_at),
        "place": record.place,
        "method": _data()["service_method_labels"].get(record.method, record.method),
        "recipient_name": None if record.refused else record.recipient_name,
        "recipient_relation": record.recipient_relation,
        "recipient_signature_hash": record.recipient_signature_hash,
        "witness": record.witness,
        "servers": [{"name": server.display_name}] if server else [],
        "remarks": ("当事人拒绝签收。" if record.refused else "") + (record.remarks or ""),
    }


def build_content(doc: Document, *, issued_on: date) -> dict:
    """The document's canonical content (numbers left empty): what is hashed and printed."""
    spec = kind_spec(doc.kind)
    fields = dict(doc.fields or {})
    venue = doc.venue
    inspection = db.session.get(Inspection, doc.inspection_id) if doc.inspection_id else None
    bases = _Bases()
    hazards = _hazards(doc, spec, bases, fields)
    deadline, deadline_days = _deadline(issued_on, hazards, fields)
    inspection_date = (numbering.local_date(inspection.started_at).isoformat() if inspection else None)
    approver = db.session.get(User, doc.approved_by_id) if doc.approved_by_id else None
    content = {
        "schema": 1,
        "document_id": doc.id,
        "kind": doc.kind,
        "kind_title": spec["title"],
        "agency": {"name": current_app.config["AGENCY_NAME"], "short_name": doc.agency},
        "number": None, "serial": None, "year": None,
        "issued_on": issued_on.isoformat(),
        "verify_code": None, "verify_url": None,
        "venue": _venue_view(venue),
        "party": {"name": venue.name, "address": venue.address,
                  "responsible_person": venue.responsible_person, "phone": venue.contact_phone,
                  "role": "负责人"},
        "inspection_date": inspection_date,
        "inspectors": _inspectors(doc, inspection, fields),
        "hazards": hazards,
        "legal_bases": _legal_bases(hazards, fields, bases),
        "deadline": deadline,
        "deadline_days": deadline_days,
        "appeal": dict(_data()["appeal_defaults"]) if spec.get("appeal") else None,
        "party_signature_hash": None,
        "receipt": {},
        "approved_by": ({"id": approver.id, "name": approver.display_name,
                         "at": doc.approved_at.isoformat() if doc.approved_at else None}
                        if approver else None),
        "supersedes": None,
    }
    if inspection is not None:
        content["inspection"] = _inspection_view(inspection)
        if doc.kind == "inspection_record":
            content["party_signature_hash"] = inspection.owner_signature_hash
            content["receipt"] = {"name": inspection.owner_signer_name,
                                  "refused": bool(inspection.owner_refused),
                                  "witness": inspection.refusal_witness}
    if doc.supersedes_id:
        old = get_document(doc.supersedes_id)
        content["supersedes"] = {"document_id": old.id, "number": old.number}
    if doc.kind == "reinspection_opinion":
        content["original"] = _original(fields, doc)
    if doc.kind == "service_receipt":
        content["service"] = _service_view(fields, doc)
    if spec.get("owner_signs") and fields.get("party_signature_hash"):
        content["party"]["role"] = "承诺人"
    for key, value in fields.items():
        if key in REFERENCE_FIELDS:
            continue
        if key == "sanctions" and value is not None:
            value = _sanctions(value, bases)
        content[key] = _merge(content.get(key), value)
    return content


def _sanctions(value, bases: _Bases):
    if not isinstance(value, list):
        raise BadInput("document_fields_invalid", fields={"sanctions": ["list"]})
    out = []
    for s in value:
        if not isinstance(s, dict):
            raise BadInput("document_fields_invalid", fields={"sanctions": ["list of objects"]})
        s = dict(s)
        amount = s.get("amount")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0):
            raise BadInput("document_fields_invalid", fields={"sanctions": ["amount ≥ 0"]})
        code = s.pop("basis_code", None)
        if code:
            s["basis"] = bases.get(code)
        out.append(s)
    return out


def _blob_hashes(content: dict) -> list[str]:
    hashes = [content.get("party_signature_hash")]
    hashes += [i.get("signature_hash") for i in content.get("inspectors") or []]
    hashes += [p for h in content.get("hazards") or [] for p in h.get("photo_hashes") or []]
    service = content.get("service") or {}
    hashes += [service.get("recipient_signature_hash"), service.get("witness_signature_hash")]
    return [h for h in dict.fromkeys(hashes) if h]


def _blob_loader(sha256: str):
    from server.storage import get_storage

    blob = db.session.get(Blob, sha256)
    data = get_storage().get(sha256) if blob is not None else None
    return (data, blob.mime) if data is not None else None


def render_pdf(content: dict) -> bytes:
    """The PDF of a canonical content (same content → same bytes)."""
    from server import pdf

    spec = kind_spec(content["kind"])
    try:
        return pdf.render(spec["template"], content, blob_loader=_blob_loader)
    except (pdf.ViewModelError, pdf.AssetError) as err:
        raise RuleViolation("document_render_failed", detail=str(err)[:200]) from err


# --------------------------------------------------------------------------- issue

def _authorize_issue(actor, doc: Document, spec: dict) -> None:
    action = "document.owner_sign" if actor.role == access.OWNER else "document.issue"
    access.authorize(actor, action, venue=doc.venue)
    if actor.role not in spec["issue_roles"]:
        raise Forbidden("document_kind_forbidden", kind=doc.kind)


def issue(actor, document_id, *, serial: int | None = None, lease_id: str | None = None,
          issued_at_device: datetime | None = None, today: date | None = None, commit=True) -> Document:
    """Freeze a draft: complete it, number it, hash it, render and store its PDF.

    Issuing an already issued document returns it unchanged (idempotent).
    With `serial` and `lease_id` (an offline issue replayed by sync) the serial must come from
    an open lease of the device named in audit.current_device and be unused.
    """
    doc = get_document(document_id)
    spec = kind_spec(doc.kind)
    if doc.state in FROZEN_STATES:
        access.authorize(actor, "document.read", venue=doc.venue)
        return doc
    _authorize_issue(actor, doc, spec)
    if spec.get("needs_approval") and doc.state != "approved":
        raise RuleViolation("document_needs_approval")
    if not spec.get("needs_approval") and doc.state != "draft" and doc.state != "approved":
        raise RuleViolation("document_not_draft", state=doc.state)
    if doc.kind == "major_hazard_rectification" and any(h.state == "major_pending" for h in doc.hazards):
        raise RuleViolation("document_major_not_determined")
    if issued_at_device is not None:
        _check_device_time(issued_at_device)
        issued_on = numbering.local_date(issued_at_device)
    else:
        issued_on = today or numbering.local_today()
    content = build_content(doc, issued_on=issued_on)
    check_required(content, spec)
    _check_blobs(content)
    old = _supersedable(doc) if doc.supersedes_id else None

    # From here on the number is taken; any failure rolls it back with the transaction.
    if serial is not None or lease_id is not None:
        if serial is None or lease_id is None:
            raise BadInput("document_lease_incomplete")
        lease = numbering.claim_leased(kind=doc.kind, serial=serial, lease_id=lease_id,
                                       device_id=audit.current_device.get(), year=issued_on.year)
        year, doc.lease_id = lease.year, lease.id
    else:
        year = issued_on.year
        serial = numbering.take_serials(doc.agency, doc.kind, year)
    code = secrets.token_urlsafe(16)
    content.update(number=numbering.format_number(doc.agency, spec["kind_word"], year, serial),
                   serial=serial, year=year, verify_code=code,
                   verify_url=current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/verify/" + code)
    canonical = canonical_json(content)
    pdf_bytes = render_pdf(content)
    from server.storage import get_storage

    pdf_sha = get_storage().put(pdf_bytes)

    before = _audit_view(doc)
    doc.year, doc.serial, doc.number = year, serial, content["number"]
    doc.canonical_content, doc.content_sha256 = canonical, sha256_text(canonical)
    doc.pdf_sha256, doc.verify_code = pdf_sha, code
    doc.issued_at, doc.issued_on, doc.issued_by_id = utcnow(), issued_on, actor.id
    doc.deadline = date.fromisoformat(content["deadline"]) if content.get("deadline") else None
    doc.client_observed_at = issued_at_device
    if audit.current_device.get():
        doc.device_id = audit.current_device.get()
    doc.state = "issued"
    db.session.flush()
    if old is not None:
        _mark_superseded(actor, old, doc)
    audit.record(actor, "document.issue", "document", doc.id, before=before, after=_audit_view(doc))
    if commit:
        db.session.commit()
    return doc


def _check_device_time(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise BadInput("document_fields_invalid", fields={"issued_at_device": ["needs a time zone"]})
    if moment > utcnow() + timedelta(hours=1):
        raise RuleViolation("document_issued_in_future")


def _check_blobs(content: dict) -> None:
    for sha in _blob_hashes(content):
        if db.session.get(Blob, sha) is None:
            raise RuleViolation("blob_missing", hash=sha)


def _supersedable(doc: Document) -> Document:
    old = get_document(doc.supersedes_id)
    if old.state not in ("issued", "served"):
        raise RuleViolation("document_not_supersedable", state=old.state)
    if old.kind != doc.kind:
        raise RuleViolation("document_supersede_other_kind")
    return old


def _mark_superseded(actor, old: Document, new: Document) -> None:
    before = _audit_view(old)
    old.state, old.superseded_by_id = "superseded", new.id
    audit.record(actor, "document.supersede", "document", old.id, before=before, after=_audit_view(old))


def supersede(actor, old_id, *, draft_id: str | None = None, new_id: str | None = None, fields=None,
              hazard_ids=None, inspection_id=None, commit=True) -> Document:
    """Correct an issued document: issue a new one that supersedes it (both stay, linked).

    Either name an existing draft (`draft_id`, e.g. an approved correction of a kind that needs
    approval) or give the corrected fields and the old document's inputs are copied.
    """
    old = get_document(old_id)
    access.authorize(actor, "document.issue", venue=old.venue)
    if old.state not in ("issued", "served"):
        raise RuleViolation("document_not_supersedable", state=old.state)
    if draft_id:
        new = get_document(draft_id)
        if new.supersedes_id not in (None, old.id) or new.venue_id != old.venue_id:
            raise RuleViolation("document_supersede_other_venue")
        if new.state == "draft":
            new.supersedes_id = old.id
    else:
        new = create_draft(actor, id=new_id, kind=old.kind, venue_id=old.venue_id,
                           inspection_id=old.inspection_id if inspection_id is None else inspection_id,
                           case_id=old.case_id, followup_id=old.followup_id,
                           hazard_ids=[h.id for h in old.hazards] if hazard_ids is None else hazard_ids,
                           fields=dict(old.fields or {}) if fields is None else fields,
                           supersedes_id=old.id, commit=False)
    new.supersedes_id = new.supersedes_id or old.id
    return issue(actor, new.id, commit=commit)


def void(actor, document_id, *, reason: str, commit=True) -> Document:
    """Void an issued document (supervisor), recording why; the number stays used."""
    doc = get_document(document_id)
    access.authorize(actor, "document.void", venue=doc.venue)
    if doc.state not in ("issued", "served"):
        raise RuleViolation("document_not_voidable", state=doc.state)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise RuleViolation("document_reason_required", fields={"reason": ["required"]})
    before = _audit_view(doc)
    doc.state, doc.voided_at, doc.void_reason = "voided", utcnow(), reason
    audit.record(actor, "document.void", "document", doc.id, before=before, after=_audit_view(doc))
    if commit:
        db.session.commit()
    return doc


def mark_rectified(actor, document_id, *, rectified: bool = True, commit=True) -> Document:
    """Record that everything a notice ordered has been fixed (called by the follow-up work)."""
    doc = get_document(document_id)
    access.authorize(actor, "hazard.verify", venue=doc.venue)
    if doc.state not in ("issued", "served"):
        raise RuleViolation("document_not_in_force", state=doc.state)
    before = _audit_view(doc)
    doc.rectified = bool(rectified)
    audit.record(actor, "document.rectified", "document", doc.id, before=before, after=_audit_view(doc))
    if commit:
        db.session.commit()
    return doc


def owner_sign(actor, document_id, *, signature_hash: str, signer_name: str | None = None,
               commit=True) -> Document:
    """The party signs a document it issues itself (自行整改承诺书); signing issues it."""
    doc = get_document(document_id)
    access.authorize(actor, "document.owner_sign", venue=doc.venue)
    spec = kind_spec(doc.kind)
    if not spec.get("owner_signs"):
        raise RuleViolation("document_not_owner_signed")
    _refuse_if_frozen(doc)
    if doc.state != "draft":
        raise RuleViolation("document_not_draft", state=doc.state)
    if db.session.get(Blob, signature_hash) is None:
        raise RuleViolation("blob_missing", hash=signature_hash)
    fields = dict(doc.fields or {})
    fields["party_signature_hash"] = signature_hash
    fields["receipt"] = {"name": (signer_name or "").strip() or None,
                         "signed_at": _local_iso(utcnow())}
    doc.fields = fields
    audit.record(actor, "document.owner_sign", "document", doc.id, after={"signature_hash": signature_hash})
    return issue(actor, doc.id, commit=commit)


# --------------------------------------------------------------------------- reading

def list_documents(actor, *, kind=None, state=None, venue_id=None, date_from=None, date_to=None,
                   page=1, page_size=50):
    """Documents in the actor's scope, newest first; owners see their venues' issued ones."""
    access.authorize(actor, "document.read")
    stmt = select(Document).join(Venue, Venue.id == Document.venue_id).where(Document.deleted_at.is_(None))
    stmt = access.apply_venue_scope(stmt, actor, Venue)
    if actor.role == access.OWNER:
        signable = [k for k, s in kinds().items() if s.get("owner_signs")]
        stmt = stmt.where(or_(Document.state.in_(FROZEN_STATES),
                              (Document.state == "draft") & Document.kind.in_(signable)))
    if kind:
        stmt = stmt.where(Document.kind == kind)
    if state:
        stmt = stmt.where(Document.state == state)
    if venue_id:
        stmt = stmt.where(Document.venue_id == venue_id)
    if date_from:
        stmt = stmt.where(Document.issued_on >= date_from)
    if date_to:
        stmt = stmt.where(Document.issued_on <= date_to)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(func.coalesce(Document.issued_at, Document.created_at).desc(),
                                            Document.id)
                              .limit(page_size).offset((page - 1) * page_size)).all()
    return rows, total


def content_of(doc: Document) -> dict | None:
    return json.loads(doc.canonical_content) if doc.canonical_content else None


def pdf_of(actor, document_id) -> tuple[bytes, Document]:
    """The stored PDF of an issued document (re-rendered from the frozen content if the blob
    store lost it, and then only if the bytes still match the recorded hash)."""
    doc = view_document(actor, document_id)
    if doc.state not in FROZEN_STATES:
        raise RuleViolation("document_not_issued")
    from server.storage import get_storage

    data = get_storage().get(doc.pdf_sha256)
    if data is None:
        data = render_pdf(content_of(doc))
        if hashlib.sha256(data).hexdigest() != doc.pdf_sha256:
            raise RuleViolation("document_pdf_lost")
        get_storage().put(data)
    return data, doc


def public_state(doc: Document) -> str:
    if doc.state == "voided":
        return "voided"
    if doc.state == "superseded":
        return "superseded"
    if doc.rectified:
        return "rectified"
    return "in_force"


def verify_view(code: str) -> dict | None:
    """What the public verify page may show — what is printed on the paper anyway, no more."""
    if not code or len(code) > 40:
        return None
    doc = db.session.scalar(select(Document).where(Document.verify_code == code))
    if doc is None or doc.state not in FROZEN_STATES:
        return None
    state = public_state(doc)
    return {"number": doc.number, "kind_title": kind_spec(doc.kind)["title"],
            "agency": json.loads(doc.canonical_content)["agency"]["name"],
            "issued_on": doc.issued_on, "state": state, "state_label": STATE_LABELS[state],
            "pdf_sha256": doc.pdf_sha256}


def _audit_view(doc: Document) -> dict:
    data = audit.snapshot(doc)
    data.pop("canonical_content", None)  # large; its hash is kept
    data["hazard_ids"] = sorted(h.id for h in doc.hazards)
    return data


# --------------------------------------------------------------------------- service (送达)

def record_service(actor, document_id, *, method: str, served_at: datetime, place: str = "",
                   id: str | None = None, recipient_name=None, recipient_relation=None,
                   recipient_signature_hash=None, refused: bool = False, witness=None,
                   photo_hashes=(), remarks=None, commit=True) -> ServiceRecord:
    """Record how a document reached the party; the first service starts its deadline."""
    doc = get_document(document_id)
    access.authorize(actor, "document.serve", venue=doc.venue)
    if doc.state not in ("issued", "served"):
        raise RuleViolation("document_not_servable", state=doc.state)
    if method not in SERVICE_METHODS:
        raise BadInput("service_bad_method", fields={"method": [f"one of {SERVICE_METHODS}"]})
    if not isinstance(served_at, datetime) or served_at.tzinfo is None:
        raise BadInput("document_fields_invalid", fields={"served_at": ["date-time with a time zone"]})
    if served_at > utcnow() + timedelta(minutes=10):
        raise RuleViolation("service_in_future")
    served_on = numbering.local_date(served_at)
    if served_on < doc.issued_on:
        raise RuleViolation("service_before_issue")
    witness = (witness or "").strip() or None
    recipient_name = (recipient_name or "").strip() or None
    if (refused or method == "left_with_witness") and not witness:
        raise RuleViolation("service_witness_required", fields={"witness": ["required"]})
    if method == "in_person" and not refused and not recipient_name:
        raise RuleViolation("service_recipient_required", fields={"recipient_name": ["required"]})
    if method == "electronic":
        consent = doc.venue.e_service_consent_at
        if consent is None or consent > served_at:
            raise RuleViolation("service_no_e_consent")
    if method in ("in_person", "left_with_witness", "post") and not (place or "").strip():
        raise RuleViolation("service_place_required", fields={"place": ["required"]})
    hashes = [h for h in [recipient_signature_hash, *(photo_hashes or [])] if h]
    for sha in hashes:
        if db.session.get(Blob, sha) is None:
            raise RuleViolation("blob_missing", hash=sha)
    if id is not None and db.session.get(ServiceRecord, id) is not None:
        raise RuleViolation("service_record_exists")
    record = ServiceRecord(document_id=doc.id, method=method, served_at=served_at, place=(place or "").strip(),
                           recipient_name=recipient_name, recipient_relation=recipient_relation,
                           recipient_signature_hash=recipient_signature_hash, refused=bool(refused),
                           witness=witness, photo_hashes=list(dict.fromkeys(photo_hashes or [])),
                           server_user_id=actor.id, remarks=remarks)
    if id is not None:
        record.id = id
    db.session.add(record)
    db.session.flush()
    audit.record(actor, "document.serve", "service_record", record.id, after=audit.snapshot(record))
    if doc.served_on is None:
        _first_service(actor, doc, served_on)
    if commit:
        db.session.commit()
    return record


def _first_service(actor, doc: Document, served_on: date) -> None:
    """Service day: the document is served, a deadline in working days starts now, hazards are notified."""
    before = _audit_view(doc)
    content = content_of(doc)
    doc.served_on = served_on
    doc.state = "served"
    if content.get("deadline_days") is not None:
        doc.deadline = add_working_days(served_on, content["deadline_days"])
    audit.record(actor, "document.served", "document", doc.id, before=before, after=_audit_view(doc))
    if kind_spec(doc.kind).get("notifies_hazards"):
        notify_hazards(actor, doc, served_on)


def notify_hazards(actor, doc: Document, served_on: date) -> None:
    """Integration point with server/services/hazards.py: the notice's hazards become `notified`,
    with the notice's deadline (which runs from the service day) as theirs."""
    from server.services import hazards as hazard_service

    for hazard in _hazard_rows(doc):
        if hazard.state != "open":
            continue  # already notified by an earlier notice, withdrawn, or fixed
        if doc.deadline is not None and hazard.deadline != doc.deadline and hazard.correction_mode != "immediate":
            before = audit.snapshot(hazard)
            hazard.deadline = doc.deadline
            hazard.deadline_override_reason = f"按{doc.number}送达之日起算"
            audit.record(actor, "hazard.deadline_from_notice", "hazard", hazard.id, before=before,
                         after=audit.snapshot(hazard))
        hazard_service.transition(actor, hazard.id, "notify", as_of=served_on, commit=False)


def list_service_records(actor, document_id) -> list[ServiceRecord]:
    doc = view_document(actor, document_id)
    return db.session.scalars(select(ServiceRecord).where(ServiceRecord.document_id == doc.id,
                                                          ServiceRecord.deleted_at.is_(None))
                              .order_by(ServiceRecord.served_at)).all()


# --------------------------------------------------------------------------- sync handlers

SYNC_CREATE_FIELDS = frozenset({"kind", "venue_id", "inspection_id", "case_id", "followup_id",
                                "hazard_ids", "fields", "supersedes_id"})
SYNC_ISSUE_FIELDS = frozenset({"kind", "venue_id", "inspection_id", "hazard_ids", "fields", "serial",
                               "lease_id", "issued_at_device"})
SYNC_SERVICE_FIELDS = frozenset({"document_id", "method", "served_at", "place", "recipient_name",
                                 "recipient_relation", "recipient_signature_hash", "refused", "witness",
                                 "photo_hashes", "remarks"})


def _reject(fields: dict, allowed) -> None:
    bad = sorted(set(fields) - set(allowed))
    if bad:
        raise RuleViolation("field_not_allowed", fields={k: ["field_not_allowed"] for k in bad},
                            field=", ".join(bad))


def _parse_moment(value, key: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadInput("document_fields_invalid", fields={key: ["ISO date-time"]}) from None


def _same_issue(doc: Document, fields: dict) -> bool:
    """Does a replayed offline issue describe the document already frozen under this id?"""
    def norm(value):
        return json.loads(json.dumps(value or {}, sort_keys=True))

    checks = [
        fields.get("kind", doc.kind) == doc.kind,
        fields.get("venue_id", doc.venue_id) == doc.venue_id,
        (fields.get("inspection_id") or None) == doc.inspection_id if "inspection_id" in fields else True,
        sorted(fields.get("hazard_ids") or []) == sorted(h.id for h in doc.hazards)
        if "hazard_ids" in fields else True,
        norm(fields.get("fields")) == norm(doc.fields) if "fields" in fields else True,
        fields.get("serial") in (None, doc.serial),
        fields.get("lease_id") in (None, doc.lease_id),
    ]
    return all(checks)


@sync_handler("document", "create")
def _sync_create(actor, entity_id, fields):
    _reject(fields, SYNC_CREATE_FIELDS)
    return create_draft(actor, id=entity_id, commit=False, **fields)


@sync_handler("document", "update")
def _sync_update(actor, row, changes):
    return update_draft(actor, row, changes, commit=False)


@sync_handler("document", "issue")
def _sync_issue(actor, entity_id, fields):
    """Offline issue: create or refresh the draft, then issue it with the phone's leased serial."""
    _reject(fields, SYNC_ISSUE_FIELDS)
    doc = db.session.get(Document, entity_id)
    if doc is not None and doc.state in FROZEN_STATES:
        access.authorize(actor, "document.read", venue=doc.venue)
        if not _same_issue(doc, fields):
            raise RuleViolation("document_frozen", field="content")
        return doc
    draft = {k: fields[k] for k in ("inspection_id", "hazard_ids", "fields") if k in fields}
    if doc is None:
        if not fields.get("kind") or not fields.get("venue_id"):
            raise BadInput("field_required", fields={"kind": ["required"], "venue_id": ["required"]},
                           field="kind, venue_id")
        doc = create_draft(actor, id=entity_id, kind=fields["kind"], venue_id=fields["venue_id"],
                           commit=False, **draft)
    elif doc.state == "draft":
        if fields.get("kind", doc.kind) != doc.kind or fields.get("venue_id", doc.venue_id) != doc.venue_id:
            raise RuleViolation("document_kind_changed")
        if draft:
            update_draft(actor, doc, draft, commit=False)
    elif not _same_issue(doc, {k: v for k, v in fields.items() if k not in ("serial", "lease_id")}):
        raise RuleViolation("document_not_draft", state=doc.state)  # approved content may not change
    return issue(actor, doc.id, serial=fields.get("serial"), lease_id=fields.get("lease_id"),
                 issued_at_device=_parse_moment(fields.get("issued_at_device"), "issued_at_device"),
                 commit=False)


@sync_handler("document", "scope")
def _sync_scope(actor, row):
    access.authorize(actor, "document.draft", venue=row.venue)


@sync_handler("document", "venue_id_of")
def _sync_venue_of(row):
    return row.venue_id


@sync_handler("service_record", "create")
def _sync_create_service(actor, entity_id, fields):
    _reject(fields, SYNC_SERVICE_FIELDS)
    fields = dict(fields)
    document_id = fields.pop("document_id", None)
    fields["served_at"] = _parse_moment(fields.get("served_at"), "served_at")
    if fields["served_at"] is None:
        raise BadInput("field_required", fields={"served_at": ["required"]}, field="served_at")
    return record_service(actor, document_id, id=entity_id, commit=False, **fields)


@sync_handler("service_record", "scope")
def _sync_scope_service(actor, row):
    access.authorize(actor, "document.serve", venue=get_document(row.document_id).venue)


@sync_handler("service_record", "venue_id_of")
def _sync_venue_of_service(row):
    return get_document(row.document_id).venue_id
