"""Small builders for tests: areas, users, venues. They write through the services."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from server.extensions import db
from server.models import Venue
from server.services import accounts

PASSWORD = "correct-horse-9"
_counter = itertools.count(1)


def area(code, name, level, parent=None):
    return accounts.create_area(None, code=code, name=name, level=level,
                                parent_id=parent.id if parent else None)


def user(username, role, areas=(), venues=(), **kw):
    if role == "inspector":
        kw.setdefault("enforcement_id", f"33020{next(_counter):05d}")
    return accounts.create_user(None, username=username, password=PASSWORD,
                                display_name=kw.pop("display_name", username), role=role,
                                area_ids=[a.id for a in areas], venue_ids=[v.id for v in venues], **kw)


def venue(area, name=None, type="storefront", **kw):
    n = next(_counter)
    v = Venue(name=name or f"测试场所{n}", type=type, address=kw.pop("address", f"测试路{n}号"),
              area_id=area.id, **kw)
    db.session.add(v)
    db.session.commit()
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
    district = area("D1", "北仑区", "district")
    street_a = area("S-A", "新碶街道", "street", district)
    street_b = area("S-B", "小港街道", "street", district)
    grid_a = area("G-A1", "新碶第一网格", "grid", street_a)
    grid_b = area("G-B1", "小港第一网格", "grid", street_b)
    venue_a = venue(grid_a, "明州路小吃店", type="storefront", responsible_person="王五", contact_phone="13800000001")
    venue_b = venue(grid_b, "红联群租房", type="group_rental")
    w = World(district, street_a, street_b, grid_a, grid_b, venue_a, venue_b)
    w.users["admin"] = user("admin", "admin")
    w.users["supervisor_a"] = user("supervisor_a", "supervisor", [street_a])
    w.users["inspector_a"] = user("inspector_a", "inspector", [grid_a])
    w.users["inspector_a2"] = user("inspector_a2", "inspector", [grid_a])
    w.users["inspector_b"] = user("inspector_b", "inspector", [grid_b])
    w.users["owner_a"] = user("owner_a", "owner", venues=[venue_a])
    return w
