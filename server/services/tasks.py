"""Tasks: inspections planned at the desk, pulled by phones as "today's work".

Supervisors plan tasks singly or in bulk from a filtered venue list (e.g. every group rental
in a grid). Phones never create or edit tasks; a task moves open → in_progress when an
inspection of it starts, → done when that inspection finishes, or → cancelled at the desk.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from server.extensions import db
from server.models import Area, Campaign, Task, User, Venue
from server.models.field import INSPECTION_KINDS
from server.models.base import utcnow
from server.services import access, audit
from server.services.errors import BadInput, RuleViolation
from server.services.inspections import check_new_id, field_staff, get_live, get_venue, local_today

OPEN_STATUSES = ("open", "in_progress")
BULK_MAX = 2000
EDITABLE_FIELDS = {"due_date", "kind", "assignee_ids", "campaign_id", "note"}


def _check_kind(kind) -> None:
    if kind not in INSPECTION_KINDS:
        raise BadInput("inspection_bad_kind", fields={"kind": ["invalid"]}, kind=kind)


def _campaign(campaign_id):
    return get_live(Campaign, campaign_id, "campaign_not_found") if campaign_id is not None else None


def _audit_view(task: Task) -> dict:
    data = audit.snapshot(task)
    data["assignee_ids"] = sorted(u.id for u in task.assignees)
    return data


def get_task(task_id) -> Task:
    return get_live(Task, task_id, "task_not_found")


def view_task(actor, task_id) -> Task:
    task = get_task(task_id)
    access.authorize(actor, "task.read", venue=task.venue)
    return task


def _new_task(actor, venue: Venue, *, due_date: date, kind: str, assignees: list[User],
              campaign_id, note, id=None) -> Task:
    task = Task(id=id, venue_id=venue.id, due_date=due_date, kind=kind, campaign_id=campaign_id,
                note=note, status="open", created_by_id=actor.id)
    task.assignees = assignees
    db.session.add(task)
    db.session.flush()
    audit.record(actor, "task.create", "task", task.id, after=_audit_view(task))
    return task


def create_task(actor, *, venue_id, due_date: date, kind="routine", assignee_ids=(), campaign_id=None,
                note=None, id=None, commit=True) -> Task:
    """Plan one inspection of a venue for the given inspectors."""
    venue = get_venue(venue_id)
    access.authorize(actor, "task.plan", venue=venue)
    _check_kind(kind)
    _campaign(campaign_id)
    check_new_id(Task, id)
    task = _new_task(actor, venue, due_date=due_date, kind=kind, assignees=field_staff(assignee_ids, venue),
                     campaign_id=campaign_id, note=note, id=id)
    if commit:
        db.session.commit()
    return task


def filter_venues(actor, **filters):
    """SELECT of the register's venues matching `filters`, with the register's own semantics
    (server/services/venues.py: scope, area incl. descendants, archived left out)."""
    from server.services.venues import venue_query

    return select(Venue).where(*venue_query(actor, **filters))


def plan_bulk(actor, *, filters: dict, due_date: date, kind="routine", assignee_ids=(), campaign_id=None,
              note=None, skip_planned=True, commit=True) -> dict:
    """Plan one task per venue matching `filters`; venues that already have an open task of the
    same kind are skipped (so re-running a plan does not double the work)."""
    access.authorize(actor, "task.plan")
    _check_kind(kind)
    _campaign(campaign_id)
    venues = db.session.scalars(filter_venues(actor, **filters).order_by(Venue.area_id, Venue.name, Venue.id)
                                .limit(BULK_MAX + 1)).all()
    if len(venues) > BULK_MAX:
        raise RuleViolation("task_bulk_too_many", max=BULK_MAX)
    if not venues:
        raise RuleViolation("task_bulk_no_venues")
    planned = set()
    if skip_planned:
        planned = set(db.session.scalars(select(Task.venue_id).where(
            Task.venue_id.in_([v.id for v in venues]), Task.kind == kind, Task.status.in_(OPEN_STATUSES),
            Task.deleted_at.is_(None))))
    user_ids = list(dict.fromkeys(assignee_ids or []))
    created, skipped = [], []
    for venue in venues:
        if venue.id in planned:
            skipped.append(venue.id)
            continue
        assignees = field_staff(user_ids, venue)
        access.authorize(actor, "task.plan", venue=venue)
        created.append(_new_task(actor, venue, due_date=due_date, kind=kind, assignees=assignees,
                                 campaign_id=campaign_id, note=note))
    if commit:
        db.session.commit()
    return {"created": created, "skipped_venue_ids": skipped}


def update_task(actor, task_id, changes: dict, *, commit=True) -> Task:
    """Re-plan an open task (date, kind, inspectors, campaign, note)."""
    task = get_task(task_id)
    access.authorize(actor, "task.plan", venue=task.venue)
    bad = set(changes) - EDITABLE_FIELDS
    if bad:
        raise RuleViolation("field_not_editable", field=", ".join(sorted(bad)))
    if task.status not in OPEN_STATUSES:
        raise RuleViolation("task_closed", status=task.status)
    before = _audit_view(task)
    if "kind" in changes:
        _check_kind(changes["kind"])
    if "campaign_id" in changes:
        _campaign(changes["campaign_id"])
    if "assignee_ids" in changes:
        task.assignees = field_staff(changes["assignee_ids"], task.venue)
    for key in ("due_date", "kind", "campaign_id", "note"):
        if key in changes:
            setattr(task, key, changes[key])
    # An assignee change alone does not dirty the row; touch it so phones pull the new list.
    task.updated_at = utcnow()
    audit.record(actor, "task.update", "task", task.id, before=before, after=_audit_view(task))
    if commit:
        db.session.commit()
    return task


def cancel_task(actor, task_id, *, reason: str, commit=True) -> Task:
    """Cancel a task that has not been carried out; the reason is kept."""
    task = get_task(task_id)
    access.authorize(actor, "task.plan", venue=task.venue)
    if task.status != "open":
        raise RuleViolation("task_not_cancellable", status=task.status)
    if not (reason or "").strip():
        raise RuleViolation("task_cancel_reason_required", fields={"reason": ["required"]})
    before = _audit_view(task)
    task.status, task.cancel_reason = "cancelled", reason.strip()
    audit.record(actor, "task.cancel", "task", task.id, before=before, after=_audit_view(task))
    if commit:
        db.session.commit()
    return task


def close_task_for(actor, inspection) -> Task | None:
    """The inspection of a task finished: the task is done (called inside finish_inspection)."""
    task = db.session.get(Task, inspection.task_id) if inspection.task_id else None
    if task is None or task.status in ("done", "cancelled"):
        return task
    before = _audit_view(task)
    task.status = "done"
    task.inspection_id = inspection.id
    audit.record(actor, "task.done", "task", task.id, before=before, after=_audit_view(task))
    return task


def list_tasks(actor, *, status=None, assignee_id=None, venue_id=None, campaign_id=None, kind=None,
               due_before=None, due_after=None, area_id=None, page=1, page_size=50):
    """Tasks in the actor's scope, by due date."""
    access.authorize(actor, "task.read")
    stmt = select(Task).join(Venue, Venue.id == Task.venue_id).where(Task.deleted_at.is_(None))
    stmt = access.apply_venue_scope(stmt, actor, Venue)
    if status:
        stmt = stmt.where(Task.status == status)
    if assignee_id is not None:
        stmt = stmt.where(Task.assignees.any(User.id == assignee_id))
    if venue_id:
        stmt = stmt.where(Task.venue_id == venue_id)
    if campaign_id:
        stmt = stmt.where(Task.campaign_id == campaign_id)
    if kind:
        stmt = stmt.where(Task.kind == kind)
    if due_before:
        stmt = stmt.where(Task.due_date <= due_before)
    if due_after:
        stmt = stmt.where(Task.due_date >= due_after)
    if area_id is not None:
        area = db.session.get(Area, area_id)
        path = area.path if area else "/-1/"
        stmt = stmt.where(Venue.area_id.in_(select(Area.id).where(Area.path.startswith(path))))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(Task.due_date, Venue.name, Task.id)
                              .limit(page_size).offset((page - 1) * page_size)).all()
    return rows, total


def todays_work(actor, on: date | None = None) -> list[Task]:
    """The actor's open tasks due on or before `on` (default: today in China), oldest first."""
    access.authorize(actor, "task.read")
    on = on or local_today()
    stmt = select(Task).join(Venue, Venue.id == Task.venue_id).where(
        Task.deleted_at.is_(None), Task.status.in_(OPEN_STATUSES), Task.due_date <= on,
        Task.assignees.any(User.id == actor.id))
    stmt = access.apply_venue_scope(stmt, actor, Venue)
    return db.session.scalars(stmt.order_by(Task.due_date, Venue.name, Task.id)).all()
