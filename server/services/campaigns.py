"""Campaigns (专项行动) and their carpet-style (地毯式) door lists.

A supervisor creates a campaign (name, period, venue types, areas) and its door list — every
building or household to knock on, bulk-added from a list or from the register's venues of the
campaign's types in its areas. Inspectors record one outcome per door: no problem, problem
found (linked to the inspection), nobody home (a revisit falls due the next working day) or
refused entry. Coverage is counted per grid and per street.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import func, or_, select

from server.extensions import db
from server.models import VENUE_TYPES, Area, Campaign, CampaignDoor, Inspection, Venue
from server.models.field import DOOR_OUTCOMES
from server.models.base import utcnow
from server.services import access, audit
from server.services.errors import BadInput, NotFound, RuleViolation
from server.services.inspections import (CHINA_TZ, add_working_days, check_new_id, coerce_fields, get_live,
                                         reject_fields, require_keys)
from server.services.registry import sync_handler

VISIT_OUTCOMES = tuple(o for o in DOOR_OUTCOMES if o != "pending")
REVISIT_WORKING_DAYS = 1
DOORS_PER_CALL = 5000
CAMPAIGN_FIELDS = {"name", "starts_on", "ends_on", "venue_types", "area_ids", "description"}
DOOR_CREATE_FIELDS = {"id", "campaign_id", "area_id", "venue_id", "label", "address", "outcome",
                      "inspection_id", "note", "visited_at"}
DOOR_VISIT_FIELDS = {"outcome", "inspection_id", "note", "visited_at", "label", "address"}


# --- campaigns -----------------------------------------------------------------------

def _areas(area_ids, actor) -> list[Area]:
    if not area_ids:
        raise RuleViolation("campaign_needs_area", fields={"area_ids": ["required"]})
    areas = []
    for area_id in dict.fromkeys(area_ids):
        area = db.session.get(Area, area_id)
        if area is None:
            raise NotFound("area_not_found", id=area_id)
        access.authorize(actor, "campaign.manage", area_id=area.id)
        areas.append(area)
    return areas


def _check_campaign_values(values: dict) -> None:
    name = values.get("name")
    if "name" in values and (not isinstance(name, str) or not name.strip() or len(name) > 200):
        raise BadInput("field_value_invalid", fields={"name": ["1–200 characters"]}, field="name")
    types = values.get("venue_types")
    if "venue_types" in values and (not isinstance(types, list) or set(types) - set(VENUE_TYPES)):
        raise BadInput("field_value_invalid", fields={"venue_types": ["known venue types"]}, field="venue_types")
    if values.get("starts_on") and values.get("ends_on") and values["ends_on"] < values["starts_on"]:
        raise RuleViolation("campaign_period_reversed")


def get_campaign(campaign_id) -> Campaign:
    return get_live(Campaign, campaign_id, "campaign_not_found")


def _visible_area_ids(actor) -> set[int] | None:
    """Areas whose campaigns the actor sees: their scope plus its ancestors (a district-wide
    campaign concerns every grid in it)."""
    ids = access.scope_area_ids(actor)
    if ids is None:
        return None
    ancestors = {int(x) for a in actor.areas for x in a.path.strip("/").split("/") if x}
    return ids | ancestors


def view_campaign(actor, campaign_id) -> Campaign:
    campaign = get_campaign(campaign_id)
    access.authorize(actor, "campaign.read")
    visible = _visible_area_ids(actor)
    if visible is not None and not any(a.id in visible for a in campaign.areas):
        raise NotFound("campaign_not_found", id=campaign_id)
    return campaign


def _audit_view(campaign: Campaign) -> dict:
    data = audit.snapshot(campaign)
    data["area_ids"] = sorted(a.id for a in campaign.areas)
    return data


def create_campaign(actor, *, name, starts_on: date, ends_on: date, area_ids, venue_types=(),
                    description=None, id=None, commit=True) -> Campaign:
    """Create a campaign over areas the actor covers."""
    access.authorize(actor, "campaign.manage")
    _check_campaign_values({"name": name, "starts_on": starts_on, "ends_on": ends_on,
                            "venue_types": list(venue_types)})
    check_new_id(Campaign, id)
    campaign = Campaign(id=id, name=name.strip(), starts_on=starts_on, ends_on=ends_on,
                        venue_types=list(venue_types), description=description, created_by_id=actor.id)
    campaign.areas = _areas(area_ids, actor)
    db.session.add(campaign)
    db.session.flush()
    audit.record(actor, "campaign.create", "campaign", campaign.id, after=_audit_view(campaign))
    if commit:
        db.session.commit()
    return campaign


def update_campaign(actor, campaign_id, changes: dict, *, commit=True) -> Campaign:
    campaign = view_campaign(actor, campaign_id)
    access.authorize(actor, "campaign.manage")
    for area in campaign.areas:
        access.authorize(actor, "campaign.manage", area_id=area.id)
    reject_fields(changes, CAMPAIGN_FIELDS)
    merged = {"starts_on": campaign.starts_on, "ends_on": campaign.ends_on, **changes}
    _check_campaign_values(merged)
    before = _audit_view(campaign)
    if "area_ids" in changes:
        campaign.areas = _areas(changes["area_ids"], actor)
    for key in CAMPAIGN_FIELDS - {"area_ids"}:
        if key in changes:
            setattr(campaign, key, changes[key].strip() if key == "name" else changes[key])
    campaign.updated_at = utcnow()
    audit.record(actor, "campaign.update", "campaign", campaign.id, before=before, after=_audit_view(campaign))
    if commit:
        db.session.commit()
    return campaign


def delete_campaign(actor, campaign_id, *, commit=True) -> Campaign:
    """Tombstone a campaign and its doors (phones drop them on pull)."""
    campaign = view_campaign(actor, campaign_id)
    for area in campaign.areas:
        access.authorize(actor, "campaign.manage", area_id=area.id)
    now = utcnow()
    campaign.deleted_at = now
    for door in db.session.scalars(select(CampaignDoor).where(CampaignDoor.campaign_id == campaign.id,
                                                              CampaignDoor.deleted_at.is_(None))):
        door.deleted_at = now
    audit.record(actor, "campaign.delete", "campaign", campaign.id, before=_audit_view(campaign))
    if commit:
        db.session.commit()
    return campaign


def list_campaigns(actor, *, active_on: date | None = None, q=None, page=1, page_size=50):
    access.authorize(actor, "campaign.read")
    from server.models import campaign_areas

    stmt = select(Campaign).where(Campaign.deleted_at.is_(None))
    visible = _visible_area_ids(actor)
    if visible is not None:
        stmt = stmt.where(Campaign.id.in_(select(campaign_areas.c.campaign_id)
                                          .where(campaign_areas.c.area_id.in_(visible or {-1}))))
    if active_on:
        stmt = stmt.where(Campaign.starts_on <= active_on, Campaign.ends_on >= active_on)
    if q:
        stmt = stmt.where(Campaign.name.ilike(f"%{q}%"))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(Campaign.starts_on.desc(), Campaign.id)
                              .limit(page_size).offset((page - 1) * page_size)).all()
    return rows, total


# --- doors ---------------------------------------------------------------------------

def _door_area(campaign: Campaign, area_id, actor, action: str) -> Area:
    area = db.session.get(Area, area_id) if area_id is not None else None
    if area is None:
        raise NotFound("area_not_found", id=area_id)
    if not any(area.path.startswith(a.path) for a in campaign.areas):
        raise RuleViolation("door_outside_campaign", area=area.name)
    access.authorize(actor, action, area_id=area.id)
    return area


def _door_venue(venue_id, actor):
    if venue_id is None:
        return None
    venue = get_live(Venue, venue_id, "venue_not_found")
    access.authorize(actor, "venue.read", venue=venue)
    return venue


def _check_label(values: dict) -> None:
    for key, limit in (("label", 200), ("address", 300)):
        if key in values:
            v = values[key]
            if not isinstance(v, str) or len(v) > limit or (key == "label" and not v.strip()):
                raise BadInput("field_value_invalid", fields={key: [f"up to {limit} characters"]}, field=key)


def _new_door(actor, campaign, action, *, label=None, address="", area_id=None, venue_id=None, id=None):
    venue = _door_venue(venue_id, actor)
    if area_id is None and venue is not None:
        area_id = venue.area_id
    area = _door_area(campaign, area_id, actor, action)
    label = label or (venue.name if venue else None)
    address = address or (venue.address if venue else "")
    _check_label({"label": label, "address": address})
    door = CampaignDoor(id=id, campaign_id=campaign.id, area_id=area.id, venue_id=venue.id if venue else None,
                        label=label.strip(), address=address, outcome="pending")
    db.session.add(door)
    return door


def add_doors(actor, campaign_id, doors: list[dict], *, commit=True) -> list[CampaignDoor]:
    """Bulk-add doors (label, address, area_id, optional venue_id) to a campaign's list."""
    campaign = view_campaign(actor, campaign_id)
    access.authorize(actor, "campaign.manage")
    if len(doors) > DOORS_PER_CALL:
        raise RuleViolation("door_too_many", max=DOORS_PER_CALL)
    rows = []
    for spec in doors:
        reject_fields(spec, {"label", "address", "area_id", "venue_id"}, "field_not_allowed")
        rows.append(_new_door(actor, campaign, "campaign.manage", **spec))
    db.session.flush()
    audit.record(actor, "campaign.add_doors", "campaign", campaign.id,
                 after={"door_ids": [d.id for d in rows]})
    if commit:
        db.session.commit()
    return rows


def add_doors_from_venues(actor, campaign_id, *, commit=True) -> list[CampaignDoor]:
    """Add every register venue of the campaign's types in its areas (and the actor's scope)
    that is not on the list yet."""
    campaign = view_campaign(actor, campaign_id)
    access.authorize(actor, "campaign.manage")
    paths = [a.path for a in campaign.areas]
    stmt = select(Venue).where(Venue.deleted_at.is_(None), Venue.archived_at.is_(None),
                               Venue.area_id.in_(select(Area.id).where(or_(*[Area.path.startswith(p) for p in paths]))),
                               Venue.id.not_in(select(CampaignDoor.venue_id).where(
                                   CampaignDoor.campaign_id == campaign.id, CampaignDoor.venue_id.is_not(None),
                                   CampaignDoor.deleted_at.is_(None))))
    if campaign.venue_types:
        stmt = stmt.where(Venue.type.in_(campaign.venue_types))
    stmt = access.apply_venue_scope(stmt, actor, Venue)
    venues = db.session.scalars(stmt.order_by(Venue.area_id, Venue.address, Venue.id)
                                .limit(DOORS_PER_CALL + 1)).all()
    if len(venues) > DOORS_PER_CALL:
        raise RuleViolation("door_too_many", max=DOORS_PER_CALL)
    rows = [CampaignDoor(campaign_id=campaign.id, area_id=v.area_id, venue_id=v.id, label=v.name,
                         address=v.address, outcome="pending") for v in venues]
    db.session.add_all(rows)
    db.session.flush()
    audit.record(actor, "campaign.add_doors", "campaign", campaign.id,
                 after={"door_ids": [d.id for d in rows], "from": "venues"})
    if commit:
        db.session.commit()
    return rows


def get_door(door_id) -> CampaignDoor:
    return get_live(CampaignDoor, door_id, "door_not_found")


def scope_door(actor, door: CampaignDoor) -> None:
    access.authorize(actor, "campaign.visit", area_id=door.area_id)


def _apply_visit(actor, door: CampaignDoor, changes: dict) -> None:
    _check_label(changes)
    if "label" in changes:
        door.label = changes["label"].strip()
    if "address" in changes:
        door.address = changes["address"]
    if "note" in changes:
        door.note = changes["note"]
    if "outcome" not in changes:
        if "inspection_id" in changes or "visited_at" in changes:
            raise RuleViolation("door_outcome_required")
        return
    outcome = changes["outcome"]
    if outcome not in VISIT_OUTCOMES:
        raise BadInput("door_bad_outcome", fields={"outcome": list(VISIT_OUTCOMES)}, outcome=str(outcome)[:20])
    inspection_id = changes.get("inspection_id")
    if outcome == "problem_found" and not inspection_id:
        raise RuleViolation("door_problem_needs_inspection")
    if inspection_id and outcome not in ("problem_found", "no_problem"):
        raise RuleViolation("door_inspection_not_expected", outcome=outcome)
    if inspection_id:
        inspection = get_live(Inspection, inspection_id, "inspection_not_found")
        if door.venue_id is not None and inspection.venue_id != door.venue_id:
            raise RuleViolation("door_inspection_other_venue")
        access.authorize(actor, "inspection.read", venue=inspection.venue)
    visited_at = changes.get("visited_at") or utcnow()
    if not isinstance(visited_at, datetime):
        raise BadInput("field_value_invalid", fields={"visited_at": ["date-time"]}, field="visited_at")
    door.outcome = outcome
    door.inspection_id = inspection_id
    door.visited_at = visited_at
    door.visited_by_id = actor.id
    door.revisit_due = (add_working_days(visited_at.astimezone(CHINA_TZ).date(), REVISIT_WORKING_DAYS)
                        if outcome == "nobody_home" else None)


def create_door(actor, *, campaign_id, label=None, address="", area_id=None, venue_id=None, id=None,
                commit=True, **visit) -> CampaignDoor:
    """A door found in the field (not on the planned list), optionally with its visit outcome."""
    campaign = get_campaign(campaign_id)
    access.authorize(actor, "campaign.visit")
    check_new_id(CampaignDoor, id)
    door = _new_door(actor, campaign, "campaign.visit", label=label, address=address, area_id=area_id,
                     venue_id=venue_id, id=id)
    reject_fields(visit, {"outcome", "inspection_id", "note", "visited_at"}, "field_not_allowed")
    _apply_visit(actor, door, visit)
    db.session.flush()
    audit.record(actor, "campaign_door.create", "campaign_door", door.id, after=audit.snapshot(door))
    if commit:
        db.session.commit()
    return door


def record_visit(actor, door: CampaignDoor, changes: dict, *, commit=True) -> CampaignDoor:
    """Record (or correct) a door's visit outcome; a nobody-home visit sets the revisit date."""
    scope_door(actor, door)
    reject_fields(changes, DOOR_VISIT_FIELDS)
    before = audit.snapshot(door)
    _apply_visit(actor, door, changes)
    audit.record(actor, "campaign_door.visit", "campaign_door", door.id, before=before,
                 after=audit.snapshot(door))
    if commit:
        db.session.commit()
    return door


def _door_scope(stmt, actor):
    ids = access.scope_area_ids(actor)
    return stmt if ids is None else stmt.where(CampaignDoor.area_id.in_(ids or {-1}))


def list_doors(actor, campaign_id, *, area_id=None, outcome=None, revisit_due_by=None, q=None,
               page=1, page_size=50):
    """A campaign's doors inside the actor's scope, by area and address."""
    campaign = view_campaign(actor, campaign_id)
    stmt = _door_scope(select(CampaignDoor).where(CampaignDoor.campaign_id == campaign.id,
                                                  CampaignDoor.deleted_at.is_(None)), actor)
    if area_id is not None:
        area = db.session.get(Area, area_id)
        path = area.path if area else "/-1/"
        stmt = stmt.where(CampaignDoor.area_id.in_(select(Area.id).where(Area.path.startswith(path))))
    if outcome:
        stmt = stmt.where(CampaignDoor.outcome == outcome)
    if revisit_due_by:
        stmt = stmt.where(CampaignDoor.outcome == "nobody_home", CampaignDoor.revisit_due <= revisit_due_by)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(CampaignDoor.label.ilike(like) | CampaignDoor.address.ilike(like))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(CampaignDoor.area_id, CampaignDoor.address, CampaignDoor.label,
                                            CampaignDoor.id)
                              .limit(page_size).offset((page - 1) * page_size)).all()
    return rows, total


def _bucket() -> dict:
    return {"total": 0, "visited": 0, "by_outcome": {o: 0 for o in DOOR_OUTCOMES}}


def _finish(bucket: dict) -> dict:
    bucket["percent"] = round(100.0 * bucket["visited"] / bucket["total"], 1) if bucket["total"] else 0.0
    return bucket


def coverage(actor, campaign_id) -> dict:
    """Doors total / visited / by outcome / percent visited, per grid, per street and overall.

    A door counts as visited once it has any outcome (nobody-home doors too: they were
    knocked on; their revisits are listed separately by `revisit_due`).
    """
    campaign = view_campaign(actor, campaign_id)
    stmt = _door_scope(select(CampaignDoor.area_id, CampaignDoor.outcome, func.count())
                       .where(CampaignDoor.campaign_id == campaign.id, CampaignDoor.deleted_at.is_(None))
                       .group_by(CampaignDoor.area_id, CampaignDoor.outcome), actor)
    counts = db.session.execute(stmt).all()
    area_ids = {a for a, _, _ in counts}
    areas = {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_(area_ids or {-1})))}
    parent_ids = {a.parent_id for a in areas.values() if a.level == "grid" and a.parent_id}
    parents = {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_(parent_ids or {-1})))}
    grids, streets, overall = defaultdict(_bucket), defaultdict(_bucket), _bucket()
    for area_id, outcome, n in counts:
        area = areas[area_id]
        street_id = area.parent_id if area.level == "grid" else area.id
        targets = [streets[street_id], overall]
        if area.level == "grid":
            targets.append(grids[area_id])
        for bucket in targets:
            bucket["total"] += n
            bucket["by_outcome"][outcome] += n
            if outcome != "pending":
                bucket["visited"] += n

    def named(area_id):
        area = areas.get(area_id) or parents.get(area_id) or db.session.get(Area, area_id)
        return {"area_id": area_id, "name": area.name if area else None}

    return {
        "campaign_id": campaign.id,
        "overall": _finish(overall),
        "streets": [{**named(sid), **_finish(b)} for sid, b in sorted(streets.items())],
        "grids": [{**named(gid), "street_id": areas[gid].parent_id, **_finish(b)}
                  for gid, b in sorted(grids.items())],
    }


# --- sync handlers -------------------------------------------------------------------

@sync_handler("campaign_door", "create")
def _sync_create_door(actor, entity_id, fields):
    reject_fields(fields, DOOR_CREATE_FIELDS, "field_not_allowed")
    require_keys(fields, ("campaign_id",))
    fields = coerce_fields(CampaignDoor, {k: v for k, v in fields.items() if k != "id"})
    return create_door(actor, id=entity_id, commit=False, **fields)


@sync_handler("campaign_door", "update")
def _sync_update_door(actor, row, changes):
    return record_visit(actor, row, coerce_fields(CampaignDoor, changes), commit=False)
