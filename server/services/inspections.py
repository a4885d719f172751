"""Inspections (检查记录) and their checklist item results.

One set of functions serves the supervisor's desk (REST) and the phone's offline replay
(sync): REST calls them with the default `commit=True`; the sync handlers registered at the
bottom call them with `commit=False` because sync runs a whole batch in one transaction.

Rules (DOMAIN §2): at least two inspectors sign every record (the second may join before
finishing); every inspector is an active inspector/supervisor whose areas cover the venue; the
record keeps the checklist template version and a snapshot of the venue as it was; finishing
needs the owner's signature or the owner's refusal with a witness and a photo; a finished
record never changes — a correction is an addendum (a new inspection with `corrects_id`).

The small helpers at the top (local date, working days, field coercion, blob checks) are shared
by the other field-work services (hazards, campaigns, tasks).
"""
from __future__ import annotations

import re
from contextlib import nullcontext
from contextvars import ContextVar
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from sqlalchemy import Date as SADate
from sqlalchemy import DateTime as SADateTime
from sqlalchemy import bindparam, event, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, selectinload

from server.extensions import db
from server.models import (Blob, Campaign, ChecklistTemplate, Hazard, Inspection, ItemResult, Task, User,
                           Venue, inspection_inspectors)
from server.models.field import INSPECTION_KINDS, ITEM_RESULTS
from server.models.base import utcnow
from server.services import access, audit
from server.services.errors import BadInput, Conflict, NotFound, RuleViolation
from server.services.registry import sync_handler

CHINA_TZ = timezone(timedelta(hours=8))  # no DST in China
FIELD_ROLES = ("inspector", "supervisor")
MIN_INSPECTORS = 2
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


# --- shared helpers ------------------------------------------------------------------

def local_today(now: datetime | None = None) -> date:
    """Today's date in China (deadlines and 'today's work' are local dates)."""
    return (now or utcnow()).astimezone(CHINA_TZ).date()


def add_working_days(start: date, days: int) -> date:
    """Working-day arithmetic from server/services/calendar.py (holidays and 调休 included)."""
    from server.services.calendar import add_working_days as calendar_add

    return calendar_add(start, days)


def _parse_value(kind, key: str, value: str):
    try:
        if kind is date:
            return date.fromisoformat(value[:10])
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except ValueError:
        raise BadInput("field_value_invalid", fields={key: ["invalid date/time"]}, field=key) from None


def coerce_fields(model, fields: dict) -> dict:
    """Turn the ISO strings a phone sends (JSON has no dates) into date/datetime values (a new dict)."""
    kinds = _time_columns.get(model)
    if kinds is None:  # a mapping's columns are fixed once it is configured
        kinds = _time_columns[model] = _time_kinds(model)
    out = dict(fields)
    for key, value in fields.items():
        kind = kinds.get(key)
        if kind is not None and isinstance(value, str):
            out[key] = _parse_value(kind, key, value)
    return out


def _time_kinds(model) -> dict:
    """{attribute: date or datetime} for the model's Date and DateTime columns (a type decorator's
    by its impl): the only columns whose strings coerce_fields parses, looked up once per model."""
    kinds = {}
    for key, column in sa_inspect(model).columns.items():
        column_type = column.type
        if isinstance(column_type, SADate):
            kinds[key] = date
        elif isinstance(column_type, SADateTime) or getattr(column_type, "impl", None) is not None and \
                isinstance(column_type.impl, SADateTime):
            kinds[key] = datetime
    return kinds


_time_columns: dict = {}


def reject_fields(fields: dict, allowed, reason: str = "field_not_editable") -> None:
    """Refuse any field outside `allowed` with a named error listing the offenders."""
    bad = sorted(set(fields).difference(allowed))
    if bad:
        raise RuleViolation(reason, fields={k: [reason] for k in bad}, field=", ".join(bad))


def require_blobs(*hashes) -> None:
    """Every named photo/signature must already be uploaded (the phone PUTs blobs first)."""
    for h in hashes:
        if h is None:
            continue
        if not isinstance(h, str) or not _SHA256.match(h):
            raise BadInput("blob_hash_invalid", hash=str(h)[:80])
        if db.session.get(Blob, h) is None:
            raise RuleViolation("blob_missing", hash=h)


def require_keys(fields: dict, keys) -> None:
    """A replayed create must name its required fields (REST schemas check this themselves)."""
    missing = [k for k in keys if fields.get(k) in (None, "")]
    if missing:
        raise BadInput("field_required", fields={k: ["required"] for k in missing}, field=", ".join(missing))


def hash_list(value, key: str = "photo_hashes") -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise BadInput("field_value_invalid", fields={key: ["list of sha256 hex strings"]}, field=key)
    if len(value) > 50:
        raise BadInput("field_value_invalid", fields={key: ["at most 50 photos"]}, field=key)
    require_blobs(*value)
    return list(dict.fromkeys(value))


def check_version(row, version) -> None:
    """REST edits may send the version they saw; a stale one is refused instead of overwritten."""
    if version is not None and version != row.version:
        raise Conflict("stale_version", version=row.version)


# Inside a sync push: (its session, the (model, id) pairs of its creates it looked up and found
# absent), set by sync._push_once for the length of the push. find_row, called twice per synced
# create, takes the session from here: Flask-SQLAlchemy's lookup of the scoped session for the
# context (`db.session()`) costs more than the rest of find_row.
known_absent: ContextVar[tuple | None] = ContextVar("known_absent", default=None)


def find_row(model, row_id):
    """`db.session.get`, without the SELECT for an id a sync batch already found absent.

    A sync push looks up the ids of all its creates in one query per table and leaves the
    absent ones in `known_absent`; such a row can only be in this session (created earlier in
    the batch), so the identity map and the pending rows are enough.
    """
    batch = known_absent.get()
    if batch is None:
        return db.session.get(model, row_id)
    session, absent = batch
    if (model, row_id) in absent:
        row = session.identity_map.get(_identity_key(model, row_id))
        if row is not None:
            return row
        if not _is_pending(session, model, row_id):
            return None
    return session.get(model, row_id)


def _is_pending(session, model, row_id) -> bool:
    """Whether a `model` row with this id was added to the session and not flushed yet.

    Inside a sync push the rows added are indexed by (model, id) as they are added (see
    `_index_pending` below), so this is a dict lookup instead of a scan of `session.new` per
    call (a batch of 50 creates scanned it ~100 times). A row added without an id, or outside
    a push, is looked for in `session.new` as before.
    """
    index = session.info.get("pending_by_key")
    if index is None or model in index.get(_UNKEYED, ()):
        return any(type(o) is model and o.id == row_id for o in session.new)
    row = index.get((model, row_id))
    return row is not None and row.id == row_id and sa_inspect(row).pending


_UNKEYED = "unkeyed"  # models some row of which was added with no id: looked up by a scan


@event.listens_for(Session, "transient_to_pending")
def _index_pending(session, instance):
    index = session.info.get("pending_by_key")
    if index is not None:
        row_id = instance.__dict__.get("id")
        if row_id is None:
            index.setdefault(_UNKEYED, set()).add(type(instance))
        else:
            index[(type(instance), row_id)] = instance


_mappers: dict = {}


def _identity_key(model, row_id):
    """`session.identity_key(model, row_id)` with the mapper looked up once per model."""
    mapper = _mappers.get(model)
    if mapper is None:
        mapper = _mappers[model] = sa_inspect(model)
    return mapper.identity_key_from_primary_key([row_id])


def pending_rows(model):
    """Rows of `model` added to the session and not flushed yet."""
    return [o for o in db.session.new if type(o) is model]


def reading_without_flush(model):
    """Context for a query on `model` whose caller checks the unflushed new rows itself.

    Autoflush would write every pending row of the batch just to run the query; it is only
    skipped when no loaded `model` row has unflushed changes, so the answer stays the same.
    """
    session = db.session
    if any(type(o) is model for o in session.dirty) or any(type(o) is model for o in session.deleted):
        return nullcontext()
    return session.no_autoflush


def get_venue(venue_id) -> Venue:
    venue = db.session.get(Venue, venue_id) if venue_id else None
    if venue is None or venue.deleted_at is not None:
        raise NotFound("venue_not_found", id=venue_id)
    return venue


def get_live(model, row_id, reason: str):
    row = find_row(model, row_id) if row_id else None
    if row is None or row.deleted_at is not None:
        raise NotFound(reason, id=row_id)
    return row


def check_new_id(model, row_id) -> None:
    """A client-made id must be a fresh UUID-shaped string."""
    if row_id is None:
        return
    if not isinstance(row_id, str) or not 8 <= len(row_id) <= 36:
        raise BadInput("field_value_invalid", fields={"id": ["bad id"]}, field="id")
    if find_row(model, row_id) is not None:
        raise Conflict("id_taken", id=row_id)


def field_staff(user_ids, venue: Venue) -> list[User]:
    """Resolve user ids to active inspectors/supervisors whose scope covers the venue."""
    users: list[User] = []
    for uid in dict.fromkeys(user_ids or []):
        # Loaded as the request's own user is (areas joined, no owner venues): one statement, not three.
        user = access.load_user(uid) if isinstance(uid, int) else None
        if user is None:
            raise RuleViolation("inspector_not_found", id=uid)
        if not user.active or user.role not in FIELD_ROLES:
            raise RuleViolation("inspector_not_field_staff", name=user.display_name)
        if not access.venue_in_scope(user, venue):
            raise RuleViolation("inspector_out_of_area", name=user.display_name)
        users.append(user)
    return users


def _check_gps(values: dict) -> None:
    for key, low, high in (("lat", -90, 90), ("lng", -180, 180), ("gps_accuracy_m", 0, 100000)):
        v = values.get(key)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not low <= v <= high):
            raise BadInput("field_value_invalid", fields={key: [f"between {low} and {high}"]}, field=key)


# --- templates and snapshots ---------------------------------------------------------

def current_template(venue_type: str) -> ChecklistTemplate | None:
    """The checklist template in force for a venue type (reference service when present)."""
    try:
        from server.services.reference import current_template as reference_current
    except ImportError:
        reference_current = None
    if reference_current is not None:
        try:
            return reference_current(venue_type)
        except NotFound:
            return None
    return db.session.scalars(
        select(ChecklistTemplate).where(ChecklistTemplate.venue_type == venue_type,
                                        ChecklistTemplate.active.is_(True))
        .order_by(ChecklistTemplate.version.desc()).limit(1)).first()


def venue_snapshot(venue: Venue) -> dict:
    """The venue's details as they were at the inspection (the record must not drift)."""
    return {
        "id": venue.id, "name": venue.name, "type": venue.type, "address": venue.address,
        "responsible_person": venue.responsible_person, "contact_phone": venue.contact_phone,
        "area_id": venue.area_id, "area_name": venue.area.name if venue.area else None,
        "key_unit": bool(venue.key_unit), "risk_level": venue.risk_level,
        "listed_for_remediation": bool(venue.listed_for_remediation),
    }


def template_item(inspection: Inspection, item_code: str):
    """The checklist item with this code in the inspection's template (None if no template)."""
    if inspection.template_id is None:
        return None
    template = db.session.get(ChecklistTemplate, inspection.template_id)
    for item in template.items:
        if item.code == item_code:
            return item
    raise RuleViolation("item_not_in_template", code=item_code)


# --- inspections ---------------------------------------------------------------------

CREATE_FIELDS = {"id", "venue_id", "kind", "campaign_id", "task_id", "corrects_id", "inspector_ids",
                 "lat", "lng", "gps_accuracy_m", "started_at_device", "summary", "device_id"}
EDITABLE_FIELDS = {"kind", "campaign_id", "lat", "lng", "gps_accuracy_m", "started_at_device",
                   "summary", "inspector_ids", "owner_signer_name"}
FINISH_FIELDS = {"owner_signature_hash", "owner_signer_name", "owner_refused", "refusal_witness",
                 "refusal_photo_hash", "inspector_signatures", "finished_at_device", "summary"}


def get_inspection(inspection_id) -> Inspection:
    return get_live(Inspection, inspection_id, "inspection_not_found")


def view_inspection(actor, inspection_id) -> Inspection:
    inspection = get_inspection(inspection_id)
    access.authorize(actor, "inspection.read", venue=inspection.venue)
    return inspection


def scope_inspection(actor, inspection: Inspection) -> None:
    access.authorize(actor, "inspection.write", venue=inspection.venue)


def _require_unfinished(inspection: Inspection) -> None:
    if inspection.status == "finished":
        raise RuleViolation("inspection_finished")


def _check_kind(kind) -> None:
    if kind not in INSPECTION_KINDS:
        raise BadInput("inspection_bad_kind", fields={"kind": ["invalid"]}, kind=kind)


def _check_campaign(campaign_id) -> None:
    if campaign_id is not None:
        get_live(Campaign, campaign_id, "campaign_not_found")


@lru_cache(maxsize=1)
def _open_task_query():
    """The id of the venue's first open task assigned to any of the users (parameters venue_id, user_ids):
    the earliest due, and of tasks due the same day the one planned first (then by id, so the
    choice never depends on the order the database happens to read rows in).

    Built once: making the statement (its EXISTS over the assignees) cost more than running it."""
    return (select(Task.id).where(Task.venue_id == bindparam("venue_id"), Task.status == "open",
                               Task.deleted_at.is_(None),
                               Task.assignees.any(User.id.in_(bindparam("user_ids", expanding=True))))
            .order_by(Task.due_date, Task.created_at, Task.id).limit(1))


def _link_task(inspection: Inspection, task_id, inspectors) -> None:
    """Attach the planned task this visit carries out (explicit, else the inspectors' own open one)."""
    if task_id is not None:
        task = get_live(Task, task_id, "task_not_found")
        if task.venue_id != inspection.venue_id:
            raise RuleViolation("task_other_venue")
        if task.status in ("done", "cancelled"):
            raise RuleViolation("task_closed", status=task.status)
    else:
        # The id by Core (most visits have no planned task: no ORM query machinery for nothing),
        # after the flush the ORM query would autoflush; the task itself as the session has it.
        session = db.session()
        if session.autoflush:
            session.flush()
        task_id = session.connection().execute(_open_task_query(), {
            "venue_id": inspection.venue_id, "user_ids": [u.id for u in inspectors]}).scalar()
        if task_id is None:
            return
        task = session.get(Task, task_id)
    inspection.task_id = task.id
    task.status = "in_progress"
    task.inspection_id = inspection.id
    if inspection.campaign_id is None:
        inspection.campaign_id = task.campaign_id


def start_inspection(actor, *, venue_id, inspector_ids=(), kind="routine", campaign_id=None,
                     task_id=None, corrects_id=None, lat=None, lng=None, gps_accuracy_m=None,
                     started_at_device=None, summary=None, device_id=None, id=None,
                     commit=True) -> Inspection:
    """Start an inspection of a venue; the actor is always one of its inspectors."""
    venue = get_venue(venue_id)
    access.authorize(actor, "inspection.write", venue=venue)
    _check_kind(kind)
    _check_campaign(campaign_id)
    _check_gps({"lat": lat, "lng": lng, "gps_accuracy_m": gps_accuracy_m})
    check_new_id(Inspection, id)
    if not isinstance(inspector_ids, (list, tuple)):
        raise BadInput("field_value_invalid", fields={"inspector_ids": ["list of user ids"]}, field="inspector_ids")
    inspectors = field_staff([actor.id, *inspector_ids], venue)
    if corrects_id is not None:
        original = get_inspection(corrects_id)
        if original.status != "finished":
            raise RuleViolation("addendum_needs_finished")
        if original.venue_id != venue.id:
            raise RuleViolation("addendum_other_venue")
    template = current_template(venue.type)
    values = dict(
        id=id, venue_id=venue.id, kind=kind, campaign_id=campaign_id, corrects_id=corrects_id,
        template_id=template.id if template else None,
        template_version=template.version if template else None,
        started_at=utcnow(), started_at_device=started_at_device, lat=lat, lng=lng,
        gps_accuracy_m=gps_accuracy_m, venue_snapshot=venue_snapshot(venue), summary=summary,
        created_by_id=actor.id, device_id=device_id or audit.current_device.get(),
        inspector_signatures={},
    )
    # Inside a sync push the row and its inspector links go in by Core statements and the object
    # is attached as stored (no unit of work for one row); it is then what a flush would leave.
    insert_new = db.session.info.get("insert_new_row")
    inspection = insert_new(Inspection, values, {"inspectors": inspectors}) if insert_new is not None else None
    if inspection is None:
        inspection = Inspection(**values)
        inspection.inspectors = inspectors
        db.session.add(inspection)
        db.session.flush()
    _no_item_codes_yet(inspection.id)
    if corrects_id is None:
        _link_task(inspection, task_id, inspectors)
    elif task_id is not None:
        raise RuleViolation("addendum_no_task")
    audit.record_created(actor, "inspection.create", "inspection", inspection, view=_audit_view)
    if commit:
        db.session.commit()
    return inspection


def _audit_view(inspection: Inspection) -> dict:
    data = audit.snapshot(inspection)
    data["inspector_ids"] = sorted(u.id for u in inspection.inspectors)
    return data


def update_inspection(actor, inspection: Inspection, changes: dict, *, commit=True) -> Inspection:
    """Edit an unfinished inspection; status moves only by finishing."""
    scope_inspection(actor, inspection)
    _require_unfinished(inspection)
    reject_fields(changes, EDITABLE_FIELDS)
    before = _audit_view(inspection)
    if "kind" in changes:
        _check_kind(changes["kind"])
    if "campaign_id" in changes:
        _check_campaign(changes["campaign_id"])
    _check_gps(changes)
    if "inspector_ids" in changes:
        ids = changes["inspector_ids"]
        if not isinstance(ids, list) or not ids:
            raise BadInput("field_value_invalid", fields={"inspector_ids": ["non-empty list"]}, field="inspector_ids")
        inspection.inspectors = field_staff(ids, inspection.venue)
    for key, value in changes.items():
        if key != "inspector_ids":
            setattr(inspection, key, value)
    audit.record(actor, "inspection.update", "inspection", inspection.id, before=before,
                 after=_audit_view(inspection))
    if commit:
        db.session.commit()
    return inspection


def add_inspector(actor, inspection_id, user_id, *, commit=True) -> Inspection:
    """Add a (second) inspector before the record is finished."""
    inspection = get_inspection(inspection_id)
    scope_inspection(actor, inspection)
    _require_unfinished(inspection)
    (user,) = field_staff([user_id], inspection.venue)
    if user in inspection.inspectors:
        return inspection
    before = _audit_view(inspection)
    inspection.inspectors = [*inspection.inspectors, user]
    # The association table does not dirty the row; bump it so the phone pulls the change.
    inspection.updated_at = utcnow()
    audit.record(actor, "inspection.add_inspector", "inspection", inspection.id, before=before,
                 after=_audit_view(inspection))
    if commit:
        db.session.commit()
    return inspection


def finish_inspection(actor, inspection_id, *, inspector_signatures=None, owner_signature_hash=None,
                      owner_signer_name=None, owner_refused=False, refusal_witness=None,
                      refusal_photo_hash=None, finished_at_device=None, summary=None,
                      commit=True) -> Inspection:
    """Sign off: all inspectors' signatures and the owner's signature or witnessed refusal."""
    inspection = get_inspection(inspection_id)
    scope_inspection(actor, inspection)
    _require_unfinished(inspection)
    if len(inspection.inspectors) < MIN_INSPECTORS:
        raise RuleViolation("inspection_two_inspectors", min=MIN_INSPECTORS)
    signatures = {str(k): v for k, v in (inspector_signatures or {}).items()}
    inspector_keys = {str(u.id) for u in inspection.inspectors}
    if set(signatures) - inspector_keys:
        raise RuleViolation("inspection_signature_not_inspector")
    missing = [u.display_name for u in inspection.inspectors if not signatures.get(str(u.id))]
    if missing:
        raise RuleViolation("inspection_inspector_signature_missing", names="、".join(missing))
    if owner_refused:
        if owner_signature_hash:
            raise RuleViolation("inspection_owner_signed_and_refused")
        if not (refusal_witness or "").strip() or not refusal_photo_hash:
            raise RuleViolation("inspection_refusal_needs_witness_and_photo")
    elif not owner_signature_hash:
        raise RuleViolation("inspection_owner_signature_missing")
    require_blobs(owner_signature_hash, refusal_photo_hash, *signatures.values())
    before = _audit_view(inspection)
    inspection.inspector_signatures = signatures
    inspection.owner_signature_hash = owner_signature_hash
    inspection.owner_signer_name = owner_signer_name or inspection.owner_signer_name
    inspection.owner_refused = bool(owner_refused)
    inspection.refusal_witness = refusal_witness.strip() if owner_refused else None
    inspection.refusal_photo_hash = refusal_photo_hash if owner_refused else None
    inspection.finished_at_device = finished_at_device
    if summary is not None:
        inspection.summary = summary
    inspection.finished_at = utcnow()
    inspection.status = "finished"
    if inspection.task_id:
        from server.services.tasks import close_task_for

        close_task_for(actor, inspection)
    audit.record(actor, "inspection.finish", "inspection", inspection.id, before=before,
                 after=_audit_view(inspection))
    if commit:
        db.session.commit()
    return inspection


def list_inspections(actor, *, venue_id=None, inspector_id=None, kind=None, status=None,
                     campaign_id=None, date_from=None, date_to=None, page=1, page_size=50):
    """Inspections in the actor's scope, newest first; dates are China-local start dates."""
    access.authorize(actor, "inspection.read")
    stmt = select(Inspection).join(Venue, Venue.id == Inspection.venue_id).where(Inspection.deleted_at.is_(None))
    stmt = access.apply_venue_scope(stmt, actor, Venue)
    if venue_id:
        stmt = stmt.where(Inspection.venue_id == venue_id)
    if inspector_id:
        stmt = stmt.where(Inspection.id.in_(select(inspection_inspectors.c.inspection_id)
                                            .where(inspection_inspectors.c.user_id == inspector_id)))
    if kind:
        stmt = stmt.where(Inspection.kind == kind)
    if status:
        stmt = stmt.where(Inspection.status == status)
    if campaign_id:
        stmt = stmt.where(Inspection.campaign_id == campaign_id)
    if date_from:
        start = datetime.combine(date_from, datetime.min.time(), CHINA_TZ)
        stmt = stmt.where(Inspection.started_at >= start)
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), CHINA_TZ)
        stmt = stmt.where(Inspection.started_at < end)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.options(selectinload(Inspection.venue))
                              .order_by(Inspection.started_at.desc(), Inspection.id)
                              .limit(page_size).offset((page - 1) * page_size)).all()
    return rows, total


def inspection_detail(actor, inspection_id) -> dict:
    """One inspection with its item results and hazards (for the desk)."""
    inspection = view_inspection(actor, inspection_id)
    items = db.session.scalars(select(ItemResult).where(ItemResult.inspection_id == inspection.id,
                                                        ItemResult.deleted_at.is_(None))
                               .order_by(ItemResult.item_code)).all()
    hazards = db.session.scalars(select(Hazard).where(Hazard.inspection_id == inspection.id,
                                                      Hazard.deleted_at.is_(None))
                                 .order_by(Hazard.created_at)).all()
    return {"inspection": inspection, "items": items, "hazards": hazards}


# --- item results ----------------------------------------------------------------------

ITEM_CREATE_FIELDS = {"id", "inspection_id", "item_code", "item_id", "result", "note", "photo_hashes"}
ITEM_EDITABLE_FIELDS = {"result", "note", "photo_hashes"}


def _check_result(result) -> None:
    if result not in ITEM_RESULTS:
        raise BadInput("item_bad_result", fields={"result": ["pass, fail or na"]}, result=result)


def record_item_result(actor, *, inspection_id, item_code, result, note=None, photo_hashes=None,
                       item_id=None, id=None, commit=True) -> ItemResult:
    """Record pass / fail / n.a. for one checklist item of an unfinished inspection."""
    row = ItemResult(**new_item_result_values(actor, inspection_id=inspection_id, item_code=item_code,
                                              result=result, note=note, photo_hashes=photo_hashes,
                                              item_id=item_id, id=id))
    db.session.add(row)
    audit.record_created(actor, "item_result.create", "item_result", row)
    if commit:
        db.session.commit()
    return row


def new_item_result_values(actor, *, inspection_id, item_code, result, note=None, photo_hashes=None,
                           item_id=None, id=None) -> dict:
    """Every rule of `record_item_result`; the new row's column values, nothing written yet.

    Also the bulk entry point of a sync push, which inserts a run of new rows with one statement
    (server/services/sync.py). Inside a push the new code joins the batch's known item codes here.
    """
    inspection = get_inspection(inspection_id)
    scope_inspection(actor, inspection)
    _require_unfinished(inspection)
    _check_result(result)
    if not isinstance(item_code, str) or not 1 <= len(item_code) <= 32:
        raise BadInput("field_value_invalid", fields={"item_code": ["1–32 characters"]}, field="item_code")
    check_new_id(ItemResult, id)
    item = template_item(inspection, item_code)
    codes = _item_codes(inspection.id)
    if codes is not None:
        exists = item_code in codes
    else:
        # Rows of this batch not flushed yet are checked in memory, so the query needs no flush.
        exists = any(r.inspection_id == inspection.id and r.item_code == item_code for r in pending_rows(ItemResult))
        if not exists:
            with reading_without_flush(ItemResult):
                exists = db.session.scalar(select(func.count()).select_from(ItemResult).where(
                    ItemResult.inspection_id == inspection.id, ItemResult.item_code == item_code))
    if exists:
        raise Conflict("item_result_exists", code=item_code)
    values = dict(id=id, inspection_id=inspection.id, item_code=item_code,
                  item_id=item.id if item is not None else item_id, result=result, note=note,
                  photo_hashes=hash_list(photo_hashes))
    if codes is not None:
        codes.add(item_code)
    return values


def _no_item_codes_yet(inspection_id) -> None:
    """Inside a sync push, a new inspection's item codes are known: none yet (see _item_codes)."""
    cache = db.session.info.get("batch_cache")
    if cache is not None:
        cache[("item_codes", inspection_id)] = set()


def _item_codes(inspection_id) -> set | None:
    """Inside a sync push, the item codes an inspection has (rows of every state), read once.

    A push holds the change counter's lock until it commits, so no other transaction can add
    item results meanwhile: the set is the database's, plus what this batch adds (the caller
    adds each new code). The batch empties `batch_cache` when it rolls a savepoint back.
    """
    cache = db.session.info.get("batch_cache")
    if cache is None:
        return None
    key = ("item_codes", inspection_id)
    codes = cache.get(key)
    if codes is None:
        # Core on the session's connection: no autoflush (the unflushed rows are added below).
        codes = set(db.session.connection().execute(_item_codes_query(), {"inspection_id": inspection_id}).scalars())
        codes.update(r.item_code for r in db.session.new if type(r) is ItemResult and r.inspection_id == inspection_id)
        cache[key] = codes
    return codes


@lru_cache(maxsize=1)
def _item_codes_query():
    return select(ItemResult.item_code).where(ItemResult.inspection_id == bindparam("inspection_id"))


def get_item_result(item_result_id) -> ItemResult:
    return get_live(ItemResult, item_result_id, "item_result_not_found")


def scope_item_result(actor, row: ItemResult) -> None:
    scope_inspection(actor, get_inspection(row.inspection_id))


def update_item_result(actor, row: ItemResult, changes: dict, *, commit=True) -> ItemResult:
    """Change a result, note or photos while the inspection is unfinished."""
    inspection = get_inspection(row.inspection_id)
    scope_inspection(actor, inspection)
    _require_unfinished(inspection)
    reject_fields(changes, ITEM_EDITABLE_FIELDS)
    before = audit.snapshot(row)
    if "result" in changes:
        _check_result(changes["result"])
        row.result = changes["result"]
    if "note" in changes:
        row.note = changes["note"]
    if "photo_hashes" in changes:
        row.photo_hashes = hash_list(changes["photo_hashes"])
    audit.record(actor, "item_result.update", "item_result", row.id, before=before, after=audit.snapshot(row))
    if commit:
        db.session.commit()
    return row


# --- sync handlers -------------------------------------------------------------------

@sync_handler("inspection", "create")
def _sync_create_inspection(actor, entity_id, fields):
    reject_fields(fields, CREATE_FIELDS, "field_not_allowed")
    require_keys(fields, ("venue_id",))
    fields = coerce_fields(Inspection, {k: v for k, v in fields.items() if k != "id"})
    return start_inspection(actor, id=entity_id, commit=False, **fields)


@sync_handler("inspection", "update")
def _sync_update_inspection(actor, row, changes):
    return update_inspection(actor, row, coerce_fields(Inspection, changes), commit=False)


@sync_handler("inspection", "finish")
def _sync_finish_inspection(actor, entity_id, fields):
    reject_fields(fields, FINISH_FIELDS, "field_not_allowed")
    return finish_inspection(actor, entity_id, commit=False, **coerce_fields(Inspection, fields))


@sync_handler("inspection", "add_inspector")
def _sync_add_inspector(actor, entity_id, fields):
    reject_fields(fields, {"user_id"}, "field_not_allowed")
    return add_inspector(actor, entity_id, fields.get("user_id"), commit=False)




@sync_handler("item_result", "create")
def _sync_create_item_result(actor, entity_id, fields):
    return record_item_result(actor, id=entity_id, commit=False, **_sync_item_result_fields(fields))


def sync_item_result_values(actor, entity_id, fields) -> dict:
    """The item_result create handler's rules, returning the new row's values (sync's bulk path)."""
    return new_item_result_values(actor, id=entity_id, **_sync_item_result_fields(fields))


def _sync_item_result_fields(fields) -> dict:
    reject_fields(fields, ITEM_CREATE_FIELDS, "field_not_allowed")
    require_keys(fields, ("inspection_id", "item_code", "result"))
    values = dict(fields)  # the id is the entity's, not a field
    values.pop("id", None)
    return values


@sync_handler("item_result", "update")
def _sync_update_item_result(actor, row, changes):
    return update_item_result(actor, row, changes, commit=False)
