"""Hazards (隐患) and their life cycle (DESIGN §8).

A hazard comes from a failed checklist item (code, legal bases, requirement, severity, correction
mode and default days copied from the item) or stands alone. Its deadline counts working days
from the day it was found; an immediate-correction hazard is due the same day; any other
deadline is an override that needs a reason.

State only moves through `transition()`, driven by the table TRANSITIONS below:

    major_pending ─determine_major→ open ─notify→ notified ─claim_rectified→ rectification_claimed
    open ─withdraw→ withdrawn            notified | rectification_claimed | overdue ─verify_fixed→ verified_fixed
    notified | rectification_claimed ─mark_overdue→ overdue ─escalate→ escalated

A major hazard (重大火灾隐患) starts in `major_pending` and needs a collective determination by
at least three people before any notice (DOMAIN §2).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, or_, select

from server.database import lock_writes
from server.extensions import db
from server.models import Area, Hazard, ItemResult, User, Venue
from server.models.field import CORRECTION_MODES, HAZARD_SEVERITIES
from server.models.base import utcnow
from server.services import access, audit
from server.services.errors import BadInput, Forbidden, RuleViolation
from server.services.inspections import (add_working_days, check_new_id, coerce_fields, get_inspection,
                                         get_live, get_venue, hash_list, local_today, pending_rows,
                                         reading_without_flush, reject_fields, require_keys, template_item)
from server.services.registry import sync_handler

# action → (states it may start from, state it leads to, policy actions any of which allows it)
TRANSITIONS: dict[str, tuple[frozenset[str], str, tuple[str, ...]]] = {
    "determine_major": (frozenset({"major_pending"}), "open", ("hazard.escalate",)),
    "notify": (frozenset({"open"}), "notified", ("hazard.write",)),
    "claim_rectified": (frozenset({"notified"}), "rectification_claimed", ("hazard.write", "hazard.evidence")),
    "verify_fixed": (frozenset({"notified", "rectification_claimed", "overdue"}), "verified_fixed",
                     ("hazard.verify",)),
    "mark_overdue": (frozenset({"notified", "rectification_claimed"}), "overdue", ("hazard.write",)),
    "escalate": (frozenset({"overdue"}), "escalated", ("hazard.escalate",)),
    "withdraw": (frozenset({"open"}), "withdrawn", ("hazard.write",)),
}
ACTIONS = tuple(TRANSITIONS)
# Content can change only before the notice is served; afterwards the notice is the record.
EDITABLE_STATES = frozenset({"open", "major_pending"})
MIN_DETERMINERS = 3
MAX_DEADLINE_DAYS = 365

CREATE_FIELDS = {"id", "venue_id", "inspection_id", "item_id", "item_code", "description", "location",
                 "severity", "correction_mode", "legal_basis_codes", "requirement", "photo_hashes",
                 "found_on", "deadline", "deadline_days", "deadline_override_reason"}
DEADLINE_FIELDS = {"deadline", "deadline_days", "deadline_override_reason", "correction_mode"}
EDITABLE_FIELDS = {"description", "location", "severity", "photo_hashes", "legal_basis_codes",
                   "requirement"} | DEADLINE_FIELDS


def compute_deadline(found_on: date, correction_mode: str, days: int | None,
                     deadline: date | None = None, reason: str | None = None) -> tuple[date | None, str | None]:
    """(deadline, override reason): working days from `found_on`, or an override with a reason."""
    if correction_mode not in CORRECTION_MODES:
        raise BadInput("hazard_bad_correction_mode", fields={"correction_mode": ["invalid"]})
    if days is not None and (not isinstance(days, int) or isinstance(days, bool)
                             or not 0 <= days <= MAX_DEADLINE_DAYS):
        raise BadInput("field_value_invalid", fields={"deadline_days": [f"0–{MAX_DEADLINE_DAYS}"]},
                       field="deadline_days")
    if correction_mode == "immediate":
        if deadline is not None and deadline != found_on:
            raise RuleViolation("hazard_immediate_deadline")
        return found_on, None
    computed = add_working_days(found_on, days) if days is not None else None
    if deadline is None or deadline == computed:
        return computed, None
    if deadline < found_on:
        raise RuleViolation("hazard_deadline_before_found")
    if not (reason or "").strip():
        raise RuleViolation("hazard_deadline_reason_required",
                            fields={"deadline_override_reason": ["required"]})
    return deadline, reason.strip()


def get_hazard(hazard_id) -> Hazard:
    return get_live(Hazard, hazard_id, "hazard_not_found")


def _venue_of(hazard: Hazard) -> Venue:
    return db.session.get(Venue, hazard.venue_id)


def view_hazard(actor, hazard_id) -> Hazard:
    hazard = get_hazard(hazard_id)
    access.authorize(actor, "hazard.read", venue=_venue_of(hazard))
    return hazard


def scope_hazard(actor, hazard: Hazard) -> None:
    access.authorize(actor, "hazard.write", venue=_venue_of(hazard))


def _check_severity(severity) -> None:
    if severity not in HAZARD_SEVERITIES:
        raise BadInput("hazard_bad_severity", fields={"severity": ["general or major"]})


def _check_text(value, key: str, required: bool, max_len: int) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise BadInput("field_value_invalid", fields={key: [f"text up to {max_len} characters"]}, field=key)


def _check_codes(codes) -> list:
    if codes is None:
        return []
    if not isinstance(codes, list) or not all(isinstance(c, str) and len(c) <= 64 for c in codes):
        raise BadInput("field_value_invalid", fields={"legal_basis_codes": ["list of codes"]},
                       field="legal_basis_codes")
    return codes


def create_hazard(actor, *, description=None, venue_id=None, inspection_id=None, item_code=None,
                  item_id=None, location="", severity=None, correction_mode=None,
                  legal_basis_codes=None, requirement=None, photo_hashes=None, found_on=None,
                  deadline_days=None, deadline=None, deadline_override_reason=None, id=None,
                  commit=True) -> Hazard:
    """Record a hazard, from a failed checklist item of an unfinished inspection or free-standing."""
    hazard = Hazard(**new_hazard_values(
        actor, description=description, venue_id=venue_id, inspection_id=inspection_id, item_code=item_code,
        item_id=item_id, location=location, severity=severity, correction_mode=correction_mode,
        legal_basis_codes=legal_basis_codes, requirement=requirement, photo_hashes=photo_hashes,
        found_on=found_on, deadline_days=deadline_days, deadline=deadline,
        deadline_override_reason=deadline_override_reason, id=id))
    db.session.add(hazard)
    audit.record_created(actor, "hazard.create", "hazard", hazard)
    if commit:
        db.session.commit()
    return hazard


def new_hazard_values(actor, *, description=None, venue_id=None, inspection_id=None, item_code=None,
                      item_id=None, location="", severity=None, correction_mode=None,
                      legal_basis_codes=None, requirement=None, photo_hashes=None, found_on=None,
                      deadline_days=None, deadline=None, deadline_override_reason=None, id=None) -> dict:
    """Every rule of `create_hazard`; the new row's column values, nothing written yet.

    Also the bulk entry point of a sync push, which inserts a run of new rows with one statement
    (server/services/sync.py).
    """
    inspection = None
    if inspection_id is not None:
        inspection = get_inspection(inspection_id)
        venue = inspection.venue
        if venue_id is not None and venue_id != venue.id:
            raise RuleViolation("hazard_other_venue")
    else:
        venue = get_venue(venue_id)
    access.authorize(actor, "hazard.write", venue=venue)
    if inspection is not None and inspection.status == "finished":
        raise RuleViolation("inspection_finished")
    check_new_id(Hazard, id)
    item = None
    if item_code is not None:
        if inspection is None:
            raise RuleViolation("hazard_item_needs_inspection")
        item = template_item(inspection, item_code)
        # This batch's unflushed item results in memory, so the query needs no flush.
        pending = [r.result for r in pending_rows(ItemResult) if r.inspection_id == inspection.id
                   and r.item_code == item_code and r.deleted_at is None]
        if pending:
            result = pending[0]
        else:
            with reading_without_flush(ItemResult):
                result = db.session.scalar(select(ItemResult.result).where(
                    ItemResult.inspection_id == inspection.id, ItemResult.item_code == item_code,
                    ItemResult.deleted_at.is_(None)))
        if result is not None and result != "fail":
            raise RuleViolation("hazard_item_not_failed", code=item_code)
    if item is not None:
        # The item supplies defaults; what the inspector typed wins.
        description = description or item.text
        severity = severity or ("major" if item.default_severity == "major" else "general")
        correction_mode = correction_mode or item.correction_mode
        deadline_days = deadline_days if deadline_days is not None else item.default_days
        legal_basis_codes = legal_basis_codes if legal_basis_codes is not None else list(item.legal_basis_codes or [])
        requirement = requirement if requirement is not None else item.requirement
        item_id = item.id
    severity = severity or "general"
    correction_mode = correction_mode or "deadline"
    _check_severity(severity)
    _check_text(description, "description", True, 4000)
    _check_text(location, "location", False, 200)
    if found_on is None:
        found_on = local_today(inspection.started_at) if inspection is not None else local_today()
    deadline, reason = compute_deadline(found_on, correction_mode, deadline_days, deadline,
                                        deadline_override_reason)
    return dict(
        id=id, venue_id=venue.id, inspection_id=inspection.id if inspection else None, item_id=item_id,
        item_code=item_code, description=description.strip(), location=location or "", severity=severity,
        correction_mode=correction_mode, legal_basis_codes=_check_codes(legal_basis_codes),
        requirement=requirement, photo_hashes=hash_list(photo_hashes), found_on=found_on,
        deadline=deadline, deadline_days=deadline_days, deadline_override_reason=reason,
        state="major_pending" if severity == "major" else "open", state_changed_at=utcnow(),
        created_by_id=getattr(actor, "id", None),
    )


def update_hazard(actor, hazard: Hazard, changes: dict, *, commit=True) -> Hazard:
    """Edit a hazard before its notice; state changes only through transitions.

    Raising the severity to major sends an open hazard to collective determination
    (major_pending); lowering it before determination sends it back to open.
    """
    scope_hazard(actor, hazard)
    reject_fields(changes, EDITABLE_FIELDS)
    if hazard.state not in EDITABLE_STATES:
        raise RuleViolation("hazard_locked", state=hazard.state)
    if hazard.inspection_id is not None and set(changes) - DEADLINE_FIELDS:
        if get_inspection(hazard.inspection_id).status == "finished":
            raise RuleViolation("inspection_finished")
    before = audit.snapshot(hazard)
    if "description" in changes:
        _check_text(changes["description"], "description", True, 4000)
        hazard.description = changes["description"].strip()
    if "location" in changes:
        _check_text(changes["location"], "location", False, 200)
        hazard.location = changes["location"] or ""
    if "requirement" in changes:
        hazard.requirement = changes["requirement"]
    if "legal_basis_codes" in changes:
        hazard.legal_basis_codes = _check_codes(changes["legal_basis_codes"])
    if "photo_hashes" in changes:
        hazard.photo_hashes = hash_list(changes["photo_hashes"])
    if "severity" in changes and changes["severity"] != hazard.severity:
        _check_severity(changes["severity"])
        hazard.severity = changes["severity"]
        hazard.state = "major_pending" if hazard.severity == "major" else "open"
        hazard.state_changed_at = utcnow()
        hazard.major_determination = None
    if set(changes) & DEADLINE_FIELDS:
        mode = changes.get("correction_mode", hazard.correction_mode)
        days = changes.get("deadline_days", hazard.deadline_days)
        reason = changes.get("deadline_override_reason", hazard.deadline_override_reason)
        if "deadline" in changes:
            explicit = changes["deadline"]
        else:  # keep an existing override unless the mode makes it meaningless
            explicit = hazard.deadline if hazard.deadline_override_reason and mode == "deadline" else None
        hazard.deadline, hazard.deadline_override_reason = compute_deadline(
            hazard.found_on, mode, days, explicit, reason)
        hazard.correction_mode, hazard.deadline_days = mode, days
    audit.record(actor, "hazard.update", "hazard", hazard.id, before=before, after=audit.snapshot(hazard))
    if commit:
        db.session.commit()
    return hazard


def _authorize_transition(actor, action: str, hazard: Hazard) -> None:
    if actor is None:  # the daily tick (server console) may only mark deadlines passed
        if action != "mark_overdue":
            raise Forbidden("role_forbidden")
        return
    venue = _venue_of(hazard)
    policies = TRANSITIONS[action][2]
    if not any(access.allowed(actor, p) for p in policies):
        raise Forbidden("role_forbidden")
    access.authorize(actor, "hazard.read", venue=venue)


def _determiners(user_ids) -> list[User]:
    if not isinstance(user_ids, list):
        raise RuleViolation("hazard_determination_needs_three", min=MIN_DETERMINERS)
    users = []
    for uid in dict.fromkeys(user_ids):
        user = db.session.get(User, uid) if isinstance(uid, int) else None
        if user is None or not user.active or user.role not in access.STAFF:
            raise RuleViolation("hazard_determiner_invalid", id=uid)
        users.append(user)
    if len(users) < MIN_DETERMINERS:
        raise RuleViolation("hazard_determination_needs_three", min=MIN_DETERMINERS)
    return users


def transition(actor, hazard_id, action: str, *, as_of: date | None = None, reason: str | None = None,
               determined_by=None, confirmed: bool = True, note: str | None = None,
               commit=True) -> Hazard:
    """Move a hazard along TRANSITIONS; any other move raises `illegal_transition`."""
    if action not in TRANSITIONS:
        raise BadInput("hazard_unknown_action", fields={"action": ["unknown"]}, action=str(action)[:40])
    hazard = get_hazard(hazard_id)
    _authorize_transition(actor, action, hazard)
    sources, target, _ = TRANSITIONS[action]
    if hazard.state not in sources:
        raise RuleViolation("illegal_transition", from_state=hazard.state, action=action)
    today = as_of or local_today()
    before = audit.snapshot(hazard)
    if action == "notify":
        if hazard.deadline is None:
            raise RuleViolation("hazard_no_deadline")
        hazard.notified_on = today
    elif action == "mark_overdue":
        if hazard.deadline is None or today <= hazard.deadline:
            raise RuleViolation("hazard_not_past_deadline", deadline=str(hazard.deadline))
    elif action == "verify_fixed":
        hazard.fixed_on = today
    elif action == "withdraw":
        if not (reason or "").strip():
            raise RuleViolation("hazard_withdraw_reason_required", fields={"reason": ["required"]})
        hazard.withdrawn_reason = reason.strip()
    elif action == "determine_major":
        users = _determiners(determined_by)
        hazard.major_determination = {
            "by": [u.id for u in users], "names": [u.display_name for u in users],
            "on": today.isoformat(), "confirmed": bool(confirmed), "note": note,
            "recorded_by": getattr(actor, "id", None),
        }
        if not confirmed:
            hazard.severity = "general"
    hazard.state = target
    hazard.state_changed_at = utcnow()
    after = audit.snapshot(hazard)
    if note or reason:
        after["transition_note"] = note or reason
    audit.record(actor, f"hazard.{action}", "hazard", hazard.id, before=before, after=after)
    if commit:
        db.session.commit()
    return hazard


def mark_overdue_hazards(as_of: date, actor=None, *, commit=True) -> list[Hazard]:
    """Daily tick: every notified or claimed hazard whose deadline has passed becomes overdue."""
    lock_writes()  # a hazard verified meanwhile must not be marked overdue from a stale read
    ids = db.session.scalars(select(Hazard.id).where(
        Hazard.state.in_(TRANSITIONS["mark_overdue"][0]), Hazard.deadline < as_of,
        Hazard.deleted_at.is_(None)).order_by(Hazard.deadline, Hazard.id)).all()
    hazards = [transition(actor, hid, "mark_overdue", as_of=as_of, commit=False) for hid in ids]
    if commit:
        db.session.commit()
    return hazards


def list_hazards(actor, *, state=None, severity=None, venue_id=None, area_id=None, inspection_id=None,
                 deadline_before=None, deadline_after=None, overdue=None, as_of=None, page=1, page_size=50):
    """Hazards in the actor's scope, soonest deadline first.

    `overdue=True` means in state `overdue`, or notified/claimed with the deadline already passed
    (the daily tick may not have run yet).
    """
    access.authorize(actor, "hazard.read")
    stmt = select(Hazard).join(Venue, Venue.id == Hazard.venue_id).where(Hazard.deleted_at.is_(None))
    stmt = access.apply_venue_scope(stmt, actor, Venue)
    if state:
        stmt = stmt.where(Hazard.state == state)
    if severity:
        stmt = stmt.where(Hazard.severity == severity)
    if venue_id:
        stmt = stmt.where(Hazard.venue_id == venue_id)
    if inspection_id:
        stmt = stmt.where(Hazard.inspection_id == inspection_id)
    if area_id is not None:
        area = db.session.get(Area, area_id)
        path = area.path if area else "/-1/"
        stmt = stmt.where(Venue.area_id.in_(select(Area.id).where(Area.path.startswith(path))))
    if deadline_before:
        stmt = stmt.where(Hazard.deadline <= deadline_before)
    if deadline_after:
        stmt = stmt.where(Hazard.deadline >= deadline_after)
    if overdue is not None:
        today = as_of or local_today()
        late = or_(Hazard.state == "overdue",
                   Hazard.state.in_(("notified", "rectification_claimed")) & (Hazard.deadline < today))
        stmt = stmt.where(late if overdue else ~late)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(Hazard.deadline.is_(None), Hazard.deadline, Hazard.created_at,
                                            Hazard.id)
                              .limit(page_size).offset((page - 1) * page_size)).all()
    return rows, total


# --- sync handlers -------------------------------------------------------------------

@sync_handler("hazard", "create")
def _sync_create_hazard(actor, entity_id, fields):
    return create_hazard(actor, id=entity_id, commit=False, **_sync_hazard_fields(fields))


def sync_hazard_values(actor, entity_id, fields) -> dict:
    """The hazard create handler's rules, returning the new row's values (sync's bulk path)."""
    return new_hazard_values(actor, id=entity_id, **_sync_hazard_fields(fields))


def _sync_hazard_fields(fields) -> dict:
    reject_fields(fields, CREATE_FIELDS, "field_not_allowed")
    require_keys(fields, ("venue_id",) if not fields.get("inspection_id") else ("inspection_id",))
    values = coerce_fields(Hazard, fields)  # a new dict: the id is the entity's, not a field
    values.pop("id", None)
    return values


@sync_handler("hazard", "update")
def _sync_update_hazard(actor, row, changes):
    return update_hazard(actor, row, coerce_fields(Hazard, changes), commit=False)


@sync_handler("hazard", "transition")
def _sync_transition_hazard(actor, entity_id, fields):
    reject_fields(fields, {"action", "as_of", "reason", "determined_by", "confirmed", "note"},
                  "field_not_allowed")
    require_keys(fields, ("action",))
    fields = dict(fields)
    if isinstance(fields.get("as_of"), str):
        fields["as_of"] = coerce_fields(Hazard, {"found_on": fields["as_of"]})["found_on"]
    return transition(actor, entity_id, fields.pop("action"), commit=False, **fields)
