"""The venue register: create, read, update, archive; search, filters, sorting and paging."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import AuditEvent, ScopeExit, Venue
from server.services import venues
from server.services.errors import Conflict, Forbidden, NotFound, RuleViolation
from tests import factories

V = "/api/v1/venues"


def _new(world, **kw):
    body = {"name": "港城大厦", "type": "high_rise", "address": "新碶街道明州路 88 号",
            "area_id": world.grid_a.id}
    body.update(kw)
    return body


# --- service: writes ---------------------------------------------------------------------

def test_create_venue_is_audited_and_versioned(world):
    actor = world.users["inspector_a"]
    v = venues.create_venue(actor, **_new(world, contact_phone="138 0000 0002", risk_level="high"))
    assert (v.name, v.type, v.area_id, v.contact_phone, v.risk_level) == (
        "港城大厦", "high_rise", world.grid_a.id, "13800000002", "high")
    assert v.version == 1 and v.server_seq > 0
    events = venues.db.session.scalars(select(AuditEvent).where(AuditEvent.entity_id == v.id)).all()
    assert [(e.action, e.user_id, e.after["name"]) for e in events] == [("venue.create", actor.id, "港城大厦")]


@pytest.mark.parametrize("field,value,reason", [
    ("type", "castle", "venue_bad_type"),
    ("risk_level", "extreme", "venue_bad_risk_level"),
    ("contact_phone", "12345", "venue_bad_phone"),
    ("name", "  ", "venue_name_required"),
    ("address", "", "venue_address_required"),
])
def test_create_venue_validates_fields(world, field, value, reason):
    with pytest.raises(RuleViolation) as err:
        venues.create_venue(world.users["admin"], **_new(world, **{field: value}))
    assert err.value.reason == reason


def test_venues_live_in_grids_inside_the_actors_scope(world):
    with pytest.raises(RuleViolation) as err:
        venues.create_venue(world.users["admin"], **_new(world, area_id=world.street_a.id))
    assert err.value.reason == "venue_area_not_grid"
    with pytest.raises(NotFound):
        venues.create_venue(world.users["admin"], **_new(world, area_id=99999))
    with pytest.raises(Forbidden) as err:
        venues.create_venue(world.users["inspector_a"], **_new(world, area_id=world.grid_b.id))
    assert err.value.reason == "out_of_scope"
    with pytest.raises(Forbidden) as err:
        venues.create_venue(world.users["owner_a"], **_new(world))
    assert err.value.reason == "role_forbidden"


def test_venue_code_is_unique(world):
    venues.create_venue(world.users["admin"], **_new(world, code="BL-0001"))
    with pytest.raises(Conflict) as err:
        venues.create_venue(world.users["admin"], **_new(world, code="BL-0001", name="另一家"))
    assert err.value.reason == "venue_code_taken"


def test_update_checks_version_and_records_before_and_after(world):
    actor = world.users["supervisor_a"]
    v = world.venue_a
    venues.update_venue(actor, v.id, version=1, risk_level="medium", listed_for_remediation=True)
    assert (v.version, v.risk_level, v.listed_for_remediation) == (2, "medium", True)
    with pytest.raises(Conflict) as err:
        venues.update_venue(actor, v.id, version=1, name="过期的编辑")
    assert err.value.reason == "venue_version_conflict"
    event = venues.db.session.scalars(select(AuditEvent).where(AuditEvent.action == "venue.update")).one()
    assert (event.before["risk_level"], event.after["risk_level"]) == ("low", "medium")


def test_moving_a_venue_to_another_grid_needs_that_grid_in_scope_and_tells_phones(world):
    with pytest.raises(Forbidden):
        venues.update_venue(world.users["supervisor_a"], world.venue_a.id, area_id=world.grid_b.id)
    venues.update_venue(world.users["admin"], world.venue_a.id, area_id=world.grid_b.id)
    exit_ = venues.db.session.scalars(select(ScopeExit)).one()
    assert (exit_.entity, exit_.entity_id, exit_.old_area_id) == ("venue", world.venue_a.id, world.grid_a.id)


def test_archive_hides_from_lists_and_blocks_edits_until_restored(world):
    sup = world.users["supervisor_a"]
    venues.archive_venue(sup, world.venue_a.id)
    venues.archive_venue(sup, world.venue_a.id)  # idempotent
    assert world.venue_a.archived_at is not None
    rows, total = venues.list_venues(sup)
    assert (rows, total) == ([], 0)
    rows, total = venues.list_venues(sup, include_archived=True)
    assert [r.id for r in rows] == [world.venue_a.id]
    with pytest.raises(Forbidden):
        venues.list_venues(world.users["inspector_a"], include_archived=True)
    with pytest.raises(RuleViolation) as err:
        venues.update_venue(sup, world.venue_a.id, name="新名字")
    assert err.value.reason == "venue_archived"
    with pytest.raises(Forbidden):
        venues.archive_venue(world.users["inspector_a"], world.venue_a.id)
    venues.restore_venue(sup, world.venue_a.id)
    assert venues.list_venues(sup)[1] == 1
    actions = venues.db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "venue")
                                          .order_by(AuditEvent.id)).all()
    assert actions == ["venue.archive", "venue.restore"]


def test_owner_records_consent_to_electronic_service(world):
    owner = world.users["owner_a"]
    v = venues.set_e_service_consent(owner, world.venue_a.id, True)
    assert v.e_service_consent_at is not None
    with pytest.raises(Forbidden):
        venues.set_e_service_consent(owner, world.venue_b.id, True)
    with pytest.raises(Forbidden):
        venues.set_e_service_consent(world.users["admin"], world.venue_a.id, True)
    venues.set_e_service_consent(owner, world.venue_a.id, False)
    assert v.e_service_consent_at is None


# --- service: search --------------------------------------------------------------------

@pytest.fixture
def register(world):
    """Twelve more venues in grid_a and a few in grid_b with varied attributes."""
    made = []
    specs = [
        ("星光KTV", "entertainment", "明州路 1 号", "high", True, False),
        ("星光网吧", "storefront", "明州路 3 号", "medium", False, True),
        ("宝山路群租房", "group_rental", "宝山路 12 弄", "high", False, True),
        ("恒大化工", "hazardous_chemical", "化工园区 5 号", "high", True, False),
        ("阿强便利店", "storefront", "长江路 100 号", "low", False, False),
        ("阿强便利店", "storefront", "长江路 102 号", "low", False, False),  # same name, other address
        ("北仑加油站", "flammable", "太河路 7 号", "medium", True, False),
        ("港城大厦", "high_rise", "明州路 88 号", "low", True, False),
        ("100%纯棉服装店", "storefront", "百合路 2 号", "low", False, False),
        ("张家小吃_二店", "storefront", "百合路 4 号", "low", False, False),
    ]
    for name, vtype, addr, risk, key, listed in specs:
        made.append(factories.venue(world.grid_a, name, type=vtype, address=addr, risk_level=risk,
                                    key_unit=key, listed_for_remediation=listed))
    made.append(factories.venue(world.grid_b, "小港星光宾馆", type="other", address="小港 明州路 9 号"))
    return made


def _names(rows):
    return [r.name for r in rows]


def test_search_by_name_or_address_fragment(world, register):
    sup = world.users["supervisor_a"]
    assert _names(venues.list_venues(sup, q="星光")[0]) == ["星光KTV", "星光网吧"]
    assert _names(venues.list_venues(sup, q="明州路", sort="name")[0]) == [
        "明州路小吃店", "星光KTV", "星光网吧", "港城大厦"]
    # letters match regardless of case
    assert _names(venues.list_venues(sup, q="ktv")[0]) == ["星光KTV"]
    # LIKE wildcards in the fragment are literal characters
    assert _names(venues.list_venues(sup, q="100%")[0]) == ["100%纯棉服装店"]
    assert _names(venues.list_venues(sup, q="_二")[0]) == ["张家小吃_二店"]
    # admin sees the grid_b venue too
    assert "小港星光宾馆" in _names(venues.list_venues(world.users["admin"], q="星光")[0])


def test_filters_combine(world, register):
    sup = world.users["supervisor_a"]
    assert _names(venues.list_venues(sup, type="storefront", risk_level="low", sort="name")[0]) == [
        "100%纯棉服装店", "张家小吃_二店", "明州路小吃店", "阿强便利店", "阿强便利店"]
    assert _names(venues.list_venues(sup, key_unit=True, sort="name")[0]) == [
        "北仑加油站", "恒大化工", "星光KTV", "港城大厦"]
    assert _names(venues.list_venues(sup, listed_for_remediation=True, sort="name")[0]) == ["宝山路群租房", "星光网吧"]
    assert venues.list_venues(sup, key_unit=False)[1] == 7


def test_area_filter_includes_descendants_and_respects_scope(world, register):
    admin = world.users["admin"]
    assert venues.list_venues(admin, area_id=world.district.id)[1] == 13
    assert venues.list_venues(admin, area_id=world.street_b.id)[1] == 2
    sup = world.users["supervisor_a"]
    # the district is above the supervisor's street: allowed, still limited to their scope
    assert venues.list_venues(sup, area_id=world.district.id)[1] == 11
    with pytest.raises(Forbidden):
        venues.list_venues(sup, area_id=world.grid_b.id)


def test_scope_limits_what_each_role_sees(world, register):
    assert venues.list_venues(world.users["inspector_b"])[1] == 2
    assert _names(venues.list_venues(world.users["owner_a"])[0]) == ["明州路小吃店"]
    with pytest.raises(Forbidden):
        venues.get_venue(world.users["owner_a"], world.venue_b.id)
    with pytest.raises(NotFound):
        venues.get_venue(world.users["admin"], "no-such-venue")


def test_sort_by_risk_level_ranks_by_severity_and_breaks_ties_on_id(world, register):
    sup = world.users["supervisor_a"]
    rank = {"high": 3, "medium": 2, "low": 1}
    rows = venues.list_venues(sup, sort="-risk_level", page_size=100)[0]
    keys = [(rank[r.risk_level], r.id) for r in rows]
    assert keys == sorted(keys, reverse=True) and rows[0].risk_level == "high"
    rows = venues.list_venues(sup, sort="risk_level", page_size=100)[0]
    keys = [(rank[r.risk_level], r.id) for r in rows]
    assert keys == sorted(keys) and rows[0].risk_level == "low"


@pytest.mark.parametrize("sort", venues.SORTS)
def test_paging_is_stable_and_complete_for_every_sort(world, register, sort):
    sup = world.users["supervisor_a"]
    whole = [r.id for r in venues.list_venues(sup, sort=sort, page_size=100)[0]]
    paged = []
    for page in range(1, 5):
        rows, total = venues.list_venues(sup, sort=sort, page=page, page_size=3)
        paged += [r.id for r in rows]
    assert total == 11 and paged == whole and len(set(paged)) == 11


def test_same_name_sorts_deterministically_by_id_in_the_sort_direction(world, register):
    rows = venues.list_venues(world.users["supervisor_a"], q="阿强", sort="name")[0]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    rows = venues.list_venues(world.users["supervisor_a"], q="阿强", sort="-name")[0]
    assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)


def test_a_district_wide_supervisor_sees_everything(world, register):
    from server.services import accounts

    accounts.update_user(world.users["admin"], world.users["supervisor_a"].id, area_ids=[world.district.id])
    leader = venues.db.session.get(type(world.users["supervisor_a"]), world.users["supervisor_a"].id)
    leader.__dict__.pop("_scope_area_ids", None)  # access caches the scope per loaded user (per request)
    assert venues.list_venues(leader)[1] == 13


# --- HTTP ----------------------------------------------------------------------------------

def test_api_crud_round_trip(login, world):
    c = login("inspector_a")
    resp = c.post(V, json=_new(world, contact_phone="13900001111", key_unit=True))
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert (created["name"], created["area_code"], created["contact_phone"], created["version"]) == (
        "港城大厦", "G-A1", "13900001111", 1)
    resp = c.patch(f"{V}/{created['id']}", json={"floors": 32, "version": 1})
    assert resp.status_code == 200 and resp.get_json()["floors"] == 32 and resp.get_json()["version"] == 2
    resp = c.patch(f"{V}/{created['id']}", json={"floors": 33, "version": 1})
    assert resp.status_code == 409 and resp.get_json()["reason"] == "venue_version_conflict"
    assert c.get(f"{V}/{created['id']}").get_json()["floors"] == 32

    sup = login("supervisor_a")
    resp = sup.post(f"{V}/{created['id']}/archive")
    assert resp.status_code == 200 and resp.get_json()["archived_at"]
    assert sup.get(V, query_string={"q": "港城"}).get_json()["meta"]["total"] == 0
    assert sup.get(V, query_string={"q": "港城", "include_archived": "true"}).get_json()["meta"]["total"] == 1


def test_api_client_made_id_is_kept(login, world):
    c = login("inspector_a")
    vid = "6f1b1f3e-0f7a-4d2c-9d55-6a9d0f0b8e11"
    resp = c.post(V, json=_new(world, id=vid))
    assert resp.status_code == 201 and resp.get_json()["id"] == vid
    resp = c.post(V, json=_new(world, id=vid, name="再来一次"))
    assert resp.status_code == 409 and resp.get_json()["reason"] == "venue_id_taken"


def test_lists_mask_phones_but_the_item_shows_them_to_staff(login, world):
    c = login("inspector_a")
    items = c.get(V).get_json()["items"]
    assert [(i["name"], i["contact_phone"]) for i in items] == [("明州路小吃店", "138****0001")]
    assert c.get(f"{V}/{world.venue_a.id}").get_json()["contact_phone"] == "13800000001"


def test_api_list_paging_meta_and_sort(login, world, register):
    c = login("supervisor_a")
    body = c.get(V, query_string={"sort": "-created_at", "page": 2, "page_size": 5}).get_json()
    assert body["meta"] == {"page": 2, "page_size": 5, "total": 11, "pages": 3}
    assert len(body["items"]) == 5
    resp = c.get(V, query_string={"sort": "popularity"})
    assert resp.status_code == 422 and "sort" in resp.get_json()["errors"]["query"]


def test_api_rejects_unknown_fields_and_bad_values(login, world):
    c = login("admin")
    resp = c.post(V, json=_new(world, colour="red"))
    assert resp.status_code == 422 and resp.get_json()["errors"]["json"] == {"colour": ["Unknown field."]}
    resp = c.post(V, json=_new(world, type="castle", contact_phone="abc"))
    assert resp.status_code == 422
    assert sorted(resp.get_json()["errors"]["json"]) == ["contact_phone", "type"]
    resp = c.post(V, json=_new(world, contact_phone="12345678"))  # passes the schema, not the service
    assert resp.status_code == 422 and resp.get_json()["reason"] == "venue_bad_phone"
    assert resp.get_json()["message"] == "联系电话格式不正确：12345678。"


def test_every_api_write_leaves_an_audit_event(login, world):
    c = login("admin")
    vid = c.post(V, json=_new(world)).get_json()["id"]
    c.patch(f"{V}/{vid}", json={"name": "港城大厦A座"})
    c.post(f"{V}/{vid}/archive")
    c.post(f"{V}/{vid}/restore")
    o = login("owner_a")
    assert o.post(f"{V}/{world.venue_a.id}/e-service-consent", json={"consent": True}).status_code == 200
    actions = venues.db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity == "venue").order_by(AuditEvent.id)).all()
    assert actions == ["venue.create", "venue.update", "venue.archive", "venue.restore", "venue.e_service_consent"]
    assert venues.db.session.get(Venue, vid).name == "港城大厦A座"


def test_sync_replays_venue_creation_and_edits_through_the_same_rules(world):
    from server.services.registry import load_handlers

    handlers = load_handlers()
    inspector = world.users["inspector_a"]
    vid = "0b5c4c1e-3d0c-4a55-9a4b-2f6f3f0c9d21"
    v = handlers[("venue", "create")](inspector, vid, _new(world, name="离线登记的场所"))
    venues.db.session.commit()
    assert (v.id, v.name, v.area_id) == (vid, "离线登记的场所", world.grid_a.id)
    handlers[("venue", "update")](inspector, v, {"floors": 6})
    venues.db.session.commit()
    assert (v.floors, v.version) == (6, 2)
    with pytest.raises(Forbidden):
        handlers[("venue", "update")](inspector, venues.db.session.get(Venue, world.venue_b.id), {"floors": 1})
    with pytest.raises(Forbidden):
        handlers[("venue", "create")](inspector, "1b5c4c1e-3d0c-4a55-9a4b-2f6f3f0c9d21",
                                      _new(world, area_id=world.grid_b.id))


def test_whole_register_count_leaves_out_archived_and_deleted_venues(world, register):
    """The unfiltered district-wide list is counted as all venues minus the archived/deleted."""
    admin = world.users["admin"]
    rows, total = venues.list_venues(admin, page_size=500)
    assert total == len(rows) == 13
    venues.archive_venue(admin, register[0].id)
    register[1].deleted_at = register[1].created_at
    venues.db.session.commit()
    for sort in ("name", "-risk_level"):
        rows, total = venues.list_venues(admin, sort=sort, page_size=500)
        assert total == len(rows) == 11
        assert {register[0].id, register[1].id}.isdisjoint(r.id for r in rows)
    assert venues.list_venues(admin, include_archived=True, page_size=500)[1] == 12


def test_list_rows_are_dumped_exactly_as_the_schema_dumps_them(world, register):
    from server.api.venues import VenueListItemSchema, VenuePageSchema

    venues.archive_venue(world.users["admin"], register[0].id)
    register[1].lat, register[1].lng, register[1].floors, register[1].notes = 29.9, 121.8, 3, "备注"
    register[1].contact_phone = "13800000001"
    venues.db.session.commit()
    rows = venues.list_venues(world.users["admin"], include_archived=True, page_size=500)[0]
    expected = VenueListItemSchema(many=True).dump(rows)
    assert VenuePageSchema().dump({"items": rows, "meta": {}})["items"] == expected
    assert any(item["archived_at"] for item in expected) and any(item["lat"] == 29.9 for item in expected)
    assert any(item["contact_phone"] == "138****0001" for item in expected)
