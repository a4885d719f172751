"""Small builders for tests: areas, users, venues. They write through the services."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from server.extensions import db
from server.models import Venue
from server.services import accounts

PASSWORD = "correct-horse-9"
_counter = itertools.count(1)


def area(code, name, level, parent=None, commit=True):
    return accounts.create_area(None, code=code, name=name, level=level,
                                parent_id=parent.id if parent else None, commit=commit)


def user(username, role, areas=(), venues=(), commit=True, **kw):
    if role == "inspector":
        kw.setdefault("enforcement_id", f"33020{next(_counter):05d}")
    return accounts.create_user(None, username=username, password=PASSWORD,
                                display_name=kw.pop("display_name", username), role=role,
                                area_ids=[a.id for a in areas], venue_ids=[v.id for v in venues],
                                commit=commit, **kw)


def venue(area, name=None, type="storefront", commit=True, **kw):
    n = next(_counter)
    v = Venue(name=name or f"测试场所{n}", type=type, address=kw.pop("address", f"测试路{n}号"),
              area_id=area.id, **kw)
    db.session.add(v)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return v


@dataclass
class World:
    district: object
    street_a: object
    street_b: object
    grid_a: object
    grid_b: object
    venue_a: object
    venue_b: object
    users: dict = field(default_factory=dict)


def build_world() -> World:
    """Built in one transaction: thirteen commits per test were most of the suite's setup time."""
    district = area("D1", "北仑区", "district", commit=False)
    street_a = area("S-A", "新碶街道", "street", district, commit=False)
    street_b = area("S-B", "小港街道", "street", district, commit=False)
    grid_a = area("G-A1", "新碶第一网格", "grid", street_a, commit=False)
    grid_b = area("G-B1", "小港第一网格", "grid", street_b, commit=False)
    venue_a = venue(grid_a, "明州路小吃店", type="storefront", responsible_person="王五", contact_phone="13800000001",
                    commit=False)
    venue_b = venue(grid_b, "红联群租房", type="group_rental", commit=False)
    w = World(district, street_a, street_b, grid_a, grid_b, venue_a, venue_b)
    w.users["admin"] = user("admin", "admin", commit=False)
    w.users["supervisor_a"] = user("supervisor_a", "supervisor", [street_a], commit=False)
    w.users["inspector_a"] = user("inspector_a", "inspector", [grid_a], commit=False)
    w.users["inspector_a2"] = user("inspector_a2", "inspector", [grid_a], commit=False)
    w.users["inspector_b"] = user("inspector_b", "inspector", [grid_b], commit=False)
    w.users["owner_a"] = user("owner_a", "owner", venues=[venue_a], commit=False)
    db.session.commit()
    return w


# --- field work (inspections, hazards, campaigns, tasks) --------------------------------

def checklist_template(venue_type="storefront", version=1, items=None, active=True):
    """A small checklist template written directly (no reference data files needed)."""
    import datetime as _dt

    from server.models import ChecklistItem, ChecklistTemplate

    if active:  # one version in force per venue type, as the reference loader keeps it
        for old in db.session.scalars(db.select(ChecklistTemplate).where(ChecklistTemplate.venue_type == venue_type)):
            old.active = False
    template = ChecklistTemplate(venue_type=venue_type, version=version, title=f"{venue_type} v{version}",
                                 effective_from=_dt.date(2026, 1, 1), active=active)
    specs = items if items is not None else [
        {"code": "EXIT-1", "text": "安全出口被锁闭", "correction_mode": "immediate", "default_days": None,
         "default_severity": "general", "legal_basis_codes": ["XFF-28"], "requirement": "保持安全出口畅通"},
        {"code": "EXT-1", "text": "灭火器过期失效", "correction_mode": "deadline", "default_days": 3,
         "default_severity": "general", "legal_basis_codes": ["XFF-16-1-2"], "requirement": "更换灭火器"},
        {"code": "LIVE-1", "text": "住宿与生产经营储存场所设置在同一建筑物内", "correction_mode": "deadline",
         "default_days": 30, "default_severity": "major", "legal_basis_codes": ["XFF-19"], "requirement": "分隔或搬出"},
    ]
    for pos, spec in enumerate(specs):
        template.items.append(ChecklistItem(position=pos, check_method="", **spec))
    db.session.add(template)
    db.session.commit()
    return template


def blob(content: bytes | None = None, mime="image/png"):
    """A Blob row as if a photo/signature had been uploaded (bytes are not stored)."""
    import hashlib

    from server.models import Blob

    content = content or f"blob-{next(_counter)}".encode()
    sha = hashlib.sha256(content).hexdigest()
    row = db.session.get(Blob, sha)
    if row is None:
        row = Blob(sha256=sha, mime=mime, size=len(content))
        db.session.add(row)
        db.session.commit()
    return sha


def inspection(actor, venue, *, second=None, **kw):
    """An in-progress inspection of `venue` by `actor` (and `second`, if given)."""
    from server.services import inspections

    ids = [second.id] if second is not None else []
    return inspections.start_inspection(actor, venue_id=venue.id, inspector_ids=ids, **kw)


def finished_inspection(actor, venue, second, **kw):
    """An inspection signed by both inspectors and the owner."""
    from server.services import inspections

    insp = inspection(actor, venue, second=second, **kw)
    return inspections.finish_inspection(
        actor, insp.id, inspector_signatures={str(actor.id): blob(), str(second.id): blob()},
        owner_signature_hash=blob(), owner_signer_name="王五")
