"""The access policy as one table: role × endpoint × in-scope/out-of-scope target → status.

In `world`, grid_a (in street_a) is inside the scope of supervisor_a (street_a), inspector_a
(grid_a) and owner_a (owns venue_a); grid_b, venue_b and inspector_b are outside it.
A 403 is either ROLE (the role may never do this) or SCOPE (allowed, but not on this target).
"""
from __future__ import annotations

import io
import itertools
from types import SimpleNamespace

import pytest
from openpyxl import Workbook

from tests import factories
from tests.conftest import ApiClient, _wipe

# Under pytest-xdist (--dist loadgroup) the whole table runs on one worker, so the module-scoped
# table_world (a real world build and five logins, ~0.8 s of CPU) is built once, not per worker.
pytestmark = pytest.mark.xdist_group("access_table")

ROLE, SCOPE = "403 role_forbidden", "403 out_of_scope"
ROLES = ("admin", "supervisor_a", "inspector_a", "owner_a", "anonymous")

#                 admin        supervisor_a   inspector_a    owner_a        anonymous
#                 in    out    in    out      in    out      in    out      in   out
TABLE = {
    "venue.list":    ((200, 200), (200, SCOPE), (200, SCOPE), (200, 200), (401, 401)),
    "venue.get":     ((200, 200), (200, SCOPE), (200, SCOPE), (200, SCOPE), (401, 401)),
    "venue.create":  ((201, 201), (201, SCOPE), (201, SCOPE), (ROLE, ROLE), (401, 401)),
    "venue.update":  ((200, 200), (200, SCOPE), (200, SCOPE), (ROLE, ROLE), (401, 401)),
    "venue.archive": ((200, 200), (200, SCOPE), (ROLE, ROLE), (ROLE, ROLE), (401, 401)),
    # import judges scope per row: an out-of-scope grid is a row error in the report (see below)
    "venue.import":  ((200, 200), (200, 200), (ROLE, ROLE), (ROLE, ROLE), (401, 401)),
    "venue.export":  ((200, 200), (200, SCOPE), (ROLE, ROLE), (ROLE, ROLE), (401, 401)),
    "venue.consent": ((ROLE, ROLE), (ROLE, ROLE), (ROLE, ROLE), (200, SCOPE), (401, 401)),
    # colleagues' lists are filtered by scope rather than refused
    "user.list":     ((200, 200), (200, 200), (200, 200), (ROLE, ROLE), (401, 401)),
    "user.get":      ((200, 200), (ROLE, ROLE), (ROLE, ROLE), (ROLE, ROLE), (401, 401)),
    "user.create":   ((201, 201), (ROLE, ROLE), (ROLE, ROLE), (ROLE, ROLE), (401, 401)),
    "user.patch":    ((200, 200), (ROLE, ROLE), (ROLE, ROLE), (ROLE, ROLE), (401, 401)),
    "area.list":     ((200, 200), (200, 200), (200, 200), (ROLE, ROLE), (401, 401)),
    "area.create":   ((201, 201), (ROLE, ROLE), (ROLE, ROLE), (ROLE, ROLE), (401, 401)),
    "area.patch":    ((200, 200), (ROLE, ROLE), (ROLE, ROLE), (ROLE, ROLE), (401, 401)),
}

CASES = [
    pytest.param(endpoint, role, target, expected[i][j], id=f"{endpoint}-{role}-{target}")
    for endpoint, expected in TABLE.items()
    for i, role in enumerate(ROLES)
    for j, target in enumerate(("in", "out"))
]

_uniq = itertools.count(1)


def _sheet(grid_code: str) -> bytes:
    wb = Workbook()
    wb.active.append(["名称", "类型", "地址", "网格编码"])
    wb.active.append([f"表格场所{next(_uniq)}", "店面房", "某路 1 号", grid_code])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def request_for(endpoint: str, w, inside: bool):
    """(method, url, keyword arguments) for one endpoint against an in- or out-of-scope target."""
    grid, street = (w.grid_a, w.street_a) if inside else (w.grid_b, w.street_b)
    venue = w.venue_a if inside else w.venue_b
    colleague = w.users["inspector_a" if inside else "inspector_b"]
    n = next(_uniq)
    V = "/api/v1/venues"
    if endpoint == "venue.list":
        return "get", V, {"query_string": {"area_id": grid.id}}
    if endpoint == "venue.get":
        return "get", f"{V}/{venue.id}", {}
    if endpoint == "venue.create":
        return "post", V, {"json": {"name": f"新场所{n}", "type": "storefront", "address": f"某路 {n} 号",
                                    "area_id": grid.id}}
    if endpoint == "venue.update":
        return "patch", f"{V}/{venue.id}", {"json": {"notes": f"备注{n}"}}
    if endpoint == "venue.archive":  # a fresh venue each time, so order does not matter
        return "post", f"{V}/{w.fresh_venue(grid)}/archive", {}
    if endpoint == "venue.import":
        return "post", f"{V}/import?dry_run=true", {
            "data": {"file": (io.BytesIO(_sheet(grid.code)), "r.xlsx")}, "content_type": "multipart/form-data"}
    if endpoint == "venue.export":
        return "get", f"{V}/export", {"query_string": {"area_id": grid.id}}
    if endpoint == "venue.consent":
        return "post", f"{V}/{venue.id}/e-service-consent", {"json": {"consent": True}}
    if endpoint == "user.list":
        return "get", "/api/v1/users", {"query_string": {"area_id": grid.id}}
    if endpoint == "user.get":
        return "get", f"/api/v1/users/{colleague.id}", {}
    if endpoint == "user.create":
        return "post", "/api/v1/users", {"json": {
            "username": f"new_inspector_{n}", "password": factories.PASSWORD, "display_name": f"新检查员{n}",
            "role": "inspector", "area_ids": [grid.id], "enforcement_id": f"T{n:08d}"}}
    if endpoint == "user.patch":
        return "patch", f"/api/v1/users/{colleague.id}", {"json": {"display_name": colleague.display_name}}
    if endpoint == "area.list":
        return "get", "/api/v1/areas", {"query_string": {"parent_id": street.id}}
    if endpoint == "area.create":
        return "post", "/api/v1/areas", {"json": {"code": f"G-T{n}", "name": f"测试网格{n}", "level": "grid",
                                                   "parent_id": street.id}}
    if endpoint == "area.patch":
        return "patch", f"/api/v1/areas/{grid.id}", {"json": {"name": grid.name}}
    raise AssertionError(endpoint)


def _plain(obj, *attrs):
    return SimpleNamespace(**{a: getattr(obj, a) for a in attrs})


@pytest.fixture(scope="module")
def table_world(app):
    """One world for the whole table (building it per case would dominate the run time).

    Every case either reads, writes something new, or rewrites a value with itself, so the
    cases do not depend on each other's order. No app context stays pushed while requests run
    (a shared one would share `g`, and with it Flask-Login's cached user, between clients), so
    the world is kept as plain values.
    """
    _wipe(app)
    with app.app_context():
        built = factories.build_world()
        w = SimpleNamespace(**{name: _plain(getattr(built, name), "id", "code", "name", "path")
                               for name in ("district", "street_a", "street_b", "grid_a", "grid_b")})
        w.venue_a, w.venue_b = (_plain(v, "id", "name") for v in (built.venue_a, built.venue_b))
        w.users = {k: _plain(u, "id", "username", "display_name") for k, u in built.users.items()}
    w.fresh_venue = lambda grid: _fresh_venue(app, grid)
    clients = {name: ApiClient(app).login(name) for name in ROLES if name != "anonymous"}
    clients["anonymous"] = ApiClient(app)
    yield w, clients
    _wipe(app)


def _fresh_venue(app, grid) -> str:
    with app.app_context():
        return factories.venue(grid).id


@pytest.mark.parametrize("endpoint,role,target,expected", CASES)
def test_access_policy(table_world, endpoint, role, target, expected):
    w, clients = table_world
    method, url, kw = request_for(endpoint, w, target == "in")
    resp = getattr(clients[role], method)(url, **kw)
    body = resp.get_json(silent=True)
    if isinstance(expected, int):
        assert resp.status_code == expected, body
        if expected == 401:
            assert body["reason"] == "login_required"
    else:
        status, reason = expected.split()
        assert (resp.status_code, (body or {}).get("reason")) == (int(status), reason), body


@pytest.mark.parametrize("role,visible", [
    ("admin", {"明州路小吃店", "红联群租房"}),
    ("supervisor_a", {"明州路小吃店"}),
    ("inspector_a", {"明州路小吃店"}),
    ("owner_a", {"明州路小吃店"}),
])
def test_lists_show_only_the_callers_scope(table_world, role, visible):
    _w, clients = table_world
    names = {v["name"] for v in clients[role].get("/api/v1/venues", query_string={"page_size": 500}).get_json()["items"]}
    assert {"明州路小吃店", "红联群租房"} & names == visible


def test_import_reports_rows_outside_the_supervisors_scope(table_world):
    _w, clients = table_world
    resp = clients["supervisor_a"].post("/api/v1/venues/import?dry_run=true",
                                        data={"file": (io.BytesIO(_sheet("G-B1")), "r.xlsx")},
                                        content_type="multipart/form-data")
    assert resp.get_json()["errors"] == [{"row": 2, "column": "网格编码", "message": "网格“G-B1”不在您负责的辖区内"}]
