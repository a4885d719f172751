"""/api/v1/reference: everyone logged in reads; only admins change the calendar or reload files."""
from __future__ import annotations

from datetime import date

import pytest

from server.models import VENUE_TYPES
from server.services import calendar, reference

BASE = "/api/v1/reference"
UNCOVERED = calendar.package_years()[1] + 1
NON_ADMINS = ["supervisor_a", "inspector_a", "owner_a"]


@pytest.fixture
def loaded(world, reference_data):
    return world


def _error(resp, status, reason):
    body = resp.get_json()
    assert resp.status_code == status, body
    assert body["code"] == status and body["reason"] == reason and body["message"]
    return body


@pytest.mark.parametrize("username", ["admin", "supervisor_a", "inspector_a", "owner_a"])
def test_every_role_reads_the_current_checklists(loaded, login, username):
    resp = login(username).get(f"{BASE}/checklists")
    assert resp.status_code == 200
    templates = resp.get_json()
    assert sorted(t["venue_type"] for t in templates) == sorted(VENUE_TYPES)
    for t in templates:
        assert t["active"] is True and t["items"]
        item = t["items"][0]
        assert {"code", "text", "check_method", "default_severity", "correction_mode", "default_days",
                "legal_basis_codes", "requirement"} <= set(item)


def test_checklists_filter_by_venue_type_and_version(loaded, login):
    client = login("inspector_a")
    [rental] = client.get(f"{BASE}/checklists?venue_type=group_rental").get_json()
    current = reference.current_template("group_rental")
    assert rental["id"] == current.id and rental["version"] == current.version
    assert [i["code"] for i in rental["items"]] == [i.code for i in current.items]
    by_version = client.get(f"{BASE}/checklists?venue_type=group_rental&version={current.version}").get_json()
    assert [t["id"] for t in by_version] == [current.id]
    assert client.get(f"{BASE}/checklists?venue_type=group_rental&version=999").get_json() == []
    one = client.get(f"{BASE}/checklists/{current.id}")
    assert one.status_code == 200 and one.get_json()["venue_type"] == "group_rental"
    _error(client.get(f"{BASE}/checklists/999999"), 404, "checklist_template_not_found")
    _error(client.get(f"{BASE}/checklists?venue_type=castle"), 422, "invalid_input")


def test_legal_bases_filter_by_law_and_article_and_show_the_unverified_flag(loaded, login):
    client = login("inspector_a")
    body = client.get(f"{BASE}/legal-bases?law=消防法&article=60&page_size=100").get_json()
    codes = [b["code"] for b in body["items"]]
    assert codes and all(c.startswith("XFF2021-60") for c in codes)
    assert body["meta"]["total"] == len(codes)
    item3 = next(b for b in body["items"] if b["code"] == "XFF2021-60-1-3")
    assert item3["citation"] == "《中华人民共和国消防法》第六十条第一款第三项"
    assert item3["fine_range"]["unit"] == [5000, 50000]
    assert item3["version_date"] == "2021-04-29" and item3["unverified"] is False

    unverified = client.get(f"{BASE}/legal-bases?unverified=true&page_size=500").get_json()["items"]
    assert "XFF2021-61-2" in {b["code"] for b in unverified}
    assert all(b["unverified"] for b in unverified)

    high_rise = client.get(f"{BASE}/legal-bases/GCGD2021-37").get_json()
    assert set(high_rise["fine_range"]) == {"commercial", "non_commercial"}
    _error(client.get(f"{BASE}/legal-bases/NOPE-1"), 404, "legal_basis_not_found")


def test_legal_bases_are_paged(loaded, login):
    client = login("supervisor_a")
    first = client.get(f"{BASE}/legal-bases?page_size=10").get_json()
    second = client.get(f"{BASE}/legal-bases?page_size=10&page=2").get_json()
    assert len(first["items"]) == 10 and first["meta"]["pages"] >= 2
    assert not {b["code"] for b in first["items"]} & {b["code"] for b in second["items"]}


def test_three_stop_measures(loaded, login):
    client = login("inspector_a")
    [rental] = client.get(f"{BASE}/three-stop-measures?venue_type=group_rental").get_json()
    assert [m["code"] for m in rental["measures"]] == ["stop_renting", "cut_water", "cut_power"]
    everything = client.get(f"{BASE}/three-stop-measures").get_json()
    assert {m["venue_type"] for m in everything} == set(VENUE_TYPES)


def test_reading_needs_a_login(loaded, client):
    _error(client.get(f"{BASE}/checklists"), 401, "login_required")
    _error(client.get(f"{BASE}/calendar?year=2025"), 401, "login_required")


def test_calendar_of_a_year_with_coverage(loaded, login):
    client = login("owner_a")
    body = client.get(f"{BASE}/calendar?year=2024").get_json()
    assert body["source"] == "official" and body["official"] is True
    assert "2024-02-04" in {w["date"] for w in body["workdays"]}
    assert {"date": "2024-10-01", "name": "国庆节", "source": "package"} in body["holidays"]
    assert body["coverage"]["official_to"] == UNCOVERED - 1
    uncovered = client.get(f"{BASE}/calendar?year={UNCOVERED}").get_json()
    assert uncovered["source"] == "weekends_only" and uncovered["official"] is False
    _error(client.get(f"{BASE}/calendar"), 422, "invalid_input")


def test_add_working_days_and_between(loaded, login):
    client = login("inspector_a")
    body = client.get(f"{BASE}/calendar/add-working-days?date=2024-09-30&days=1").get_json()
    assert body == {"date": "2024-09-30", "days": 1,
                    "result": calendar.add_working_days(date(2024, 9, 30), 1).isoformat(), "official": True}
    assert body["result"] == "2024-10-08"
    late = client.get(f"{BASE}/calendar/add-working-days?date={UNCOVERED}-06-01&days=3").get_json()
    assert late["official"] is False
    between = client.get(f"{BASE}/calendar/working-days-between?start=2024-10-08&end=2024-09-30").get_json()
    assert between["working_days"] == -1
    _error(client.get(f"{BASE}/calendar/add-working-days?date=2024-09-30&days=-1"), 422, "invalid_input")


def test_admin_adds_and_removes_an_override_with_immediate_effect(loaded, login):
    admin = login("admin")
    day = f"{UNCOVERED}-01-01"
    resp = admin.post(f"{BASE}/calendar/overrides", json={"day": day, "is_workday": False, "name": "元旦"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["day"] == day and resp.get_json()["is_workday"] is False
    year = admin.get(f"{BASE}/calendar?year={UNCOVERED}").get_json()
    assert year["source"] == "override" and [h["date"] for h in year["holidays"]] == [day]
    listed = admin.get(f"{BASE}/calendar/overrides?year={UNCOVERED}").get_json()
    assert [o["day"] for o in listed] == [day]

    assert admin.delete(f"{BASE}/calendar/overrides/{day}").status_code == 204
    assert admin.get(f"{BASE}/calendar?year={UNCOVERED}").get_json()["source"] == "weekends_only"
    _error(admin.delete(f"{BASE}/calendar/overrides/{day}"), 404, "calendar_override_not_found")
    _error(admin.delete(f"{BASE}/calendar/overrides/not-a-date"), 400, "calendar_bad_date")
    _error(admin.post(f"{BASE}/calendar/overrides", json={"day": day, "is_workday": False, "colour": "red"}),
           422, "invalid_input")


@pytest.mark.parametrize("username", NON_ADMINS)
def test_only_admins_change_the_calendar(loaded, login, username):
    calendar.set_override(loaded.users["admin"], day=date(UNCOVERED, 10, 1), is_workday=False, name="国庆节")
    client = login(username)
    _error(client.post(f"{BASE}/calendar/overrides", json={"day": f"{UNCOVERED}-10-02", "is_workday": False}),
           403, "role_forbidden")
    _error(client.delete(f"{BASE}/calendar/overrides/{UNCOVERED}-10-01"), 403, "role_forbidden")
    assert calendar.is_workday(date(UNCOVERED, 10, 1)) is False
    assert calendar.list_overrides(loaded.users["admin"], UNCOVERED)[0].day == date(UNCOVERED, 10, 1)


@pytest.mark.parametrize("username, status", [("admin", 200)] + [(u, 403) for u in NON_ADMINS])
def test_reload_is_admin_only(loaded, login, username, status):
    resp = login(username).post(f"{BASE}/reload")
    assert resp.status_code == status, resp.get_json()
    if status == 200:
        body = resp.get_json()
        assert body["legal_bases"]["added"] == [] and body["checklists"]["created"] == []
