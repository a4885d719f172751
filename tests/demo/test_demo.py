"""The demo brigade: a Beilun-like district that loads the same way everywhere, once."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from server.demo import DEMO_LOGINS, DEMO_PASSWORD, STAFF, build_demo, plan_demo
from server.demo.generate import plan_venues
from server.demo.names import STREETS
from server.extensions import db as _db
from server.models import VENUE_TYPES, Area, AuditEvent, User, Venue
from tests.conftest import ApiClient, _wipe

SMALL = 300
STREET_NAMES = {"新碶街道", "小港街道", "大碶街道", "霞浦街道", "柴桥街道", "戚家山街道", "春晓街道", "梅山街道", "白峰街道"}
MOBILE = re.compile(r"^1[358]\d{9}$")


def table_counts() -> dict:
    return {model.__tablename__: _db.session.scalar(select(func.count()).select_from(model))
            for model in (Area, User, Venue, AuditEvent)}


def venue_tuples() -> list[tuple]:
    rows = _db.session.execute(select(
        Venue.id, Venue.code, Venue.name, Venue.address, Venue.type, Area.code, Venue.lat, Venue.lng,
        Venue.responsible_person, Venue.contact_phone, Venue.floors, Venue.floor_area, Venue.occupancy,
        Venue.key_unit, Venue.risk_level, Venue.listed_for_remediation).join(Area, Venue.area_id == Area.id))
    return sorted(tuple(r) for r in rows)


def user_tuples() -> list[tuple]:
    users = _db.session.scalars(select(User)).all()
    return sorted((u.username, u.display_name, u.role, u.enforcement_id, u.phone,
                   tuple(sorted(a.code for a in u.areas)), tuple(sorted(v.code for v in u.venues)))
                  for u in users)


@pytest.fixture(scope="module")
def small_demo(app):
    """One small demo (300 venues) shared by the read-only tests of this module."""
    _wipe(app)
    with app.app_context():
        result = build_demo(venues=SMALL)
        _db.session.remove()
    yield result
    _wipe(app)


@pytest.fixture
def ctx(app, small_demo):
    with app.app_context():
        yield
        _db.session.remove()


# --- the plan, without a database ------------------------------------------------------------

def test_plan_is_the_same_for_the_same_seed_and_differs_for_another():
    first, again, other = plan_demo(venues=200), plan_demo(venues=200), plan_demo(seed=2018, venues=200)
    assert first.venues == again.venues and first.owners == again.owners
    assert [v["name"] for v in first.venues] != [v["name"] for v in other.venues]


def test_a_small_demo_is_the_start_of_the_big_one():
    assert plan_venues(2017, 300) == plan_venues(2017, 3000)[:300]


def test_group_rental_names_name_the_second_landlord_by_surname():
    rentals = [v for v in plan_demo(venues=1000).venues if v["type"] == "group_rental"]
    assert len(rentals) > 100
    for v in rentals:
        assert v["name"].endswith(f"（二房东：{v['responsible_person'][0]}某）"), v
        assert "出租房" in v["name"] or "群租房" in v["name"]


# --- a loaded demo ----------------------------------------------------------------------------

def test_district_has_the_nine_beilun_streets_each_with_four_to_eight_grids(ctx):
    district = _db.session.scalar(select(Area).where(Area.level == "district"))
    assert (district.code, district.name) == ("BL", "北仑区")
    streets = _db.session.scalars(select(Area).where(Area.level == "street")).all()
    assert {s.name for s in streets} == STREET_NAMES
    for street in streets:
        assert street.parent_id == district.id
        grids = [g for g in street.children if g.level == "grid"]
        assert 4 <= len(grids) <= 8, street.name
        for g in grids:
            assert re.fullmatch(rf"{street.code}-G0[1-8]", g.code), g.code
            assert g.name.startswith(street.name.removesuffix("街道")) and g.name.endswith("网格")
            assert g.path == f"{street.path}{g.id}/"


def test_every_street_and_every_venue_type_has_venues_and_every_venue_sits_in_a_grid(ctx):
    rows = _db.session.execute(select(Venue.type, Area.level, Area.parent_id)
                               .join(Area, Venue.area_id == Area.id)).all()
    assert len(rows) == SMALL
    assert {level for _, level, _ in rows} == {"grid"}
    street_names = dict(_db.session.execute(select(Area.id, Area.name).where(Area.level == "street")).all())
    assert {street_names[parent] for _, _, parent in rows} == STREET_NAMES
    types = Counter(t for t, _, _ in rows)
    assert set(types) == set(VENUE_TYPES)
    # 店面房 and 群租房 are the bulk of a brigade's register.
    assert {t for t, _ in types.most_common(2)} == {"storefront", "group_rental"}


def test_venues_have_plausible_codes_places_and_contacts(ctx):
    venues = _db.session.scalars(select(Venue)).all()
    assert sorted(v.code for v in venues) == [f"BL-V-{i:06d}" for i in range(1, SMALL + 1)]
    assert len({(v.name, v.address) for v in venues}) == SMALL
    for v in venues:
        assert v.address.startswith("北仑区") and any(s in v.address for s in STREET_NAMES), v.address
        assert 29.83 <= v.lat <= 29.95 and 121.75 <= v.lng <= 122.05, (v.code, v.lat, v.lng)
        assert MOBILE.match(v.contact_phone), v.contact_phone
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", v.responsible_person), v.responsible_person
        assert v.floors >= 1 and v.floor_area > 0 and v.occupancy > 0
        assert v.server_seq > 0 and v.version == 1
    by_type = {t: [v for v in venues if v.type == t] for t in VENUE_TYPES}
    assert min(v.floors for v in by_type["high_rise"]) >= 12
    assert all(v.key_unit for v in by_type["hazardous_chemical"][:3])
    assert not any(v.key_unit for v in by_type["storefront"] + by_type["group_rental"])
    assert any(v.listed_for_remediation for v in venues)


def test_staff_include_an_admin_supervisors_and_at_least_eight_inspectors_with_enforcement_ids(ctx):
    users = _db.session.scalars(select(User).where(User.role != "owner")).all()
    roles = Counter(u.role for u in users)
    assert roles["admin"] == 1 and roles["supervisor"] >= 3 and roles["inspector"] >= 8
    inspectors = [u for u in users if u.role == "inspector"]
    assert all(re.fullmatch(r"33020610\d{4}", u.enforcement_id) for u in inspectors)
    assert all(1 <= len(u.areas) <= 2 and {a.level for a in u.areas} == {"street"} for u in inspectors)
    # An inspection needs two inspectors: every street has at least two.
    per_street = Counter(a.name for u in inspectors for a in u.areas)
    assert set(per_street) == STREET_NAMES and min(per_street.values()) >= 2
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,5}", u.display_name) for u in users)


def test_demo_logins_cover_every_role_and_two_inspectors_of_one_street():
    roles = Counter(d.role for d in DEMO_LOGINS)
    assert set(roles) == {"admin", "supervisor", "inspector", "owner"} and roles["inspector"] >= 2
    staff = {s.username: s for s in STAFF}
    streets = [set(staff[d.username].area_codes) for d in DEMO_LOGINS if d.role == "inspector"]
    assert set.intersection(*streets)
    assert {d.password for d in DEMO_LOGINS} == {DEMO_PASSWORD}


def test_every_demo_login_works(app, ctx):
    for login in DEMO_LOGINS:
        me = ApiClient(app).login(login.username, login.password).get("/api/v1/auth/me").get_json()["user"]
        assert (me["username"], me["role"], me["display_name"]) == (login.username, login.role, login.display_name)


def test_owners_log_in_and_see_only_their_own_venues(app, ctx):
    owners = _db.session.scalars(select(User).where(User.role == "owner").order_by(User.username)).all()
    assert len(owners) >= 24
    assert {u.username for u in owners} >= {"owner"}
    other_venue = _db.session.scalar(select(Venue).where(Venue.code == "BL-V-000001"))
    for owner in [u for u in owners if u.username == "owner"] + owners[:3]:
        mine = {v.id for v in owner.venues}
        assert mine and all(v.responsible_person == owner.display_name for v in owner.venues)
        client = ApiClient(app).login(owner.username, DEMO_PASSWORD)
        page = client.get("/api/v1/venues?page_size=500").get_json()
        assert {item["id"] for item in page["items"]} == mine
        assert page["meta"]["total"] == len(mine)
        if other_venue.id not in mine:
            resp = client.get(f"/api/v1/venues/{other_venue.id}")
            assert resp.status_code in (403, 404) and resp.get_json()["code"] == resp.status_code


def test_an_inspector_sees_the_venues_of_their_street_only(app, ctx):
    street = _db.session.scalar(select(Area).where(Area.code == "BL-XQ"))
    expected = _db.session.scalar(select(func.count()).select_from(Venue).join(Area, Venue.area_id == Area.id)
                                  .where(Area.parent_id == street.id))
    client = ApiClient(app).login("inspector1", DEMO_PASSWORD)
    page = client.get("/api/v1/venues?page_size=500").get_json()
    assert page["meta"]["total"] == expected > 0
    assert all(item["address"].startswith("北仑区新碶街道") for item in page["items"])


def test_loading_again_adds_nothing(app, ctx):
    before = table_counts()
    venues_before = venue_tuples()
    result = build_demo(venues=SMALL)
    assert not result.created_anything
    assert (result.areas_created, result.users_created, result.venues_created) == (0, 0, 0)
    assert table_counts() == before
    assert venue_tuples() == venues_before


def test_cli_load_is_idempotent_and_logins_prints_the_demo_accounts(app, ctx):
    runner = app.test_cli_runner()
    before = table_counts()
    out = runner.invoke(args=["demo", "load", "--venues", str(SMALL)])
    assert out.exit_code == 0, out.output
    assert "未做任何改动" in out.output
    assert table_counts() == before

    out = runner.invoke(args=["demo", "logins"])
    assert out.exit_code == 0, out.output
    header = out.output.splitlines()[0].split()
    assert header == ["角色", "用户名", "密码", "姓名", "辖区"]
    for login in DEMO_LOGINS:
        line = next(ln for ln in out.output.splitlines() if f" {login.username} " in ln)
        assert login.password in line and login.display_name in line

    out = runner.invoke(args=["demo", "logins", "--all"])
    assert out.exit_code == 0, out.output
    owner_names = _db.session.scalars(select(User.username).where(User.role == "owner")).all()
    assert all(f" {name} " in out.output for name in owner_names + [s.username for s in STAFF])


# --- determinism across databases --------------------------------------------------------------

def test_two_builds_in_clean_databases_give_identical_data(app, db):
    build_demo(venues=120, owners=4, reference=False)
    first = venue_tuples(), user_tuples(), sorted(_db.session.execute(select(Area.code, Area.name, Area.level)).all())
    _db.session.remove()
    _wipe(app)
    build_demo(venues=120, owners=4, reference=False)
    second = venue_tuples(), user_tuples(), sorted(_db.session.execute(select(Area.code, Area.name, Area.level)).all())
    assert len(first[0]) == 120 and len(first[1]) == len(STAFF) + 4
    assert first == second


@pytest.mark.slow
def test_full_demo_loads_three_thousand_venues_of_every_type(db):
    result = build_demo()
    assert (result.areas_created, result.venues_created) == (59, 3000)
    assert result.users_created == len(STAFF) + 30
    types = Counter(_db.session.scalars(select(Venue.type)))
    assert sum(types.values()) == 3000 and set(types) == set(VENUE_TYPES)
    assert {t for t, _ in types.most_common(2)} == {"storefront", "group_rental"}
    assert min(types.values()) >= 50
    streets = Counter(_db.session.scalars(select(Area.parent_id).join(Venue, Venue.area_id == Area.id)))
    assert len(streets) == len(STREETS)
    again = build_demo()
    assert not again.created_anything
    assert _db.session.scalar(select(func.count()).select_from(Venue)) == 3000


def test_readme_lists_the_same_demo_logins():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for login in DEMO_LOGINS:
        assert f"`{login.username}`" in readme, login.username
    assert f"`{DEMO_PASSWORD}`" in readme
