"""REST resources for the desk (tasks, inspections, hazards, campaigns) and the same rules through sync."""
from __future__ import annotations

import uuid

import pytest

from server.extensions import db
from server.models import Hazard, Inspection
from tests import factories
from tests.sync.helpers import mut, push


@pytest.fixture
def template(world):
    return factories.checklist_template("storefront")


def _start(client, world, **kw):
    body = {"venue_id": world.venue_a.id, "inspector_ids": [world.users["inspector_a2"].id],
            "lat": 29.88, "lng": 121.84, "gps_accuracy_m": 9.5, "started_at_device": "2026-03-10T09:00:00+08:00", **kw}
    return client.post("/api/v1/inspections", json=body)


def test_inspection_online_round_trip(login, world, template):
    client = login("inspector_a")
    resp = _start(client, world)
    assert resp.status_code == 201, resp.get_json()
    insp = resp.get_json()
    assert insp["status"] == "in_progress" and insp["template_version"] == 1
    assert insp["inspector_ids"] == sorted([world.users["inspector_a"].id, world.users["inspector_a2"].id])
    assert insp["venue_snapshot"]["name"] == "明州路小吃店" and insp["version"] == 1

    resp = client.post(f"/api/v1/inspections/{insp['id']}/items", json={"item_code": "EXT-1", "result": "fail"})
    assert resp.status_code == 201 and resp.get_json()["result"] == "fail"
    resp = client.post("/api/v1/hazards", json={"inspection_id": insp["id"], "item_code": "EXT-1",
                                                "found_on": "2025-06-02", "location": "收银台旁"})
    assert resp.status_code == 201, resp.get_json()
    hazard = resp.get_json()
    assert hazard["deadline"] == "2025-06-05" and hazard["state"] == "open"

    sigs = {str(world.users["inspector_a"].id): factories.blob(), str(world.users["inspector_a2"].id): factories.blob()}
    resp = client.post(f"/api/v1/inspections/{insp['id']}/finish",
                       json={"inspector_signatures": sigs, "owner_signature_hash": factories.blob(),
                             "owner_signer_name": "王五", "finished_at_device": "2026-03-10T09:40:00+08:00"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "finished"

    detail = client.get(f"/api/v1/inspections/{insp['id']}").get_json()
    assert [i["item_code"] for i in detail["items"]] == ["EXT-1"]
    assert [h["id"] for h in detail["hazards"]] == [hazard["id"]]

    resp = client.patch(f"/api/v1/inspections/{insp['id']}", json={"summary": "改"})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["reason"] == "inspection_finished" and "补充记录" in body["message"]


def test_finish_with_one_inspector_names_the_rule(login, world, template):
    client = login("inspector_a")
    insp = _start(client, world, inspector_ids=[]).get_json()
    resp = client.post(f"/api/v1/inspections/{insp['id']}/finish",
                       json={"inspector_signatures": {str(world.users["inspector_a"].id): factories.blob()},
                             "owner_signature_hash": factories.blob()})
    assert resp.status_code == 422
    assert resp.get_json()["reason"] == "inspection_two_inspectors"
    assert "检查人员不少于两人" in resp.get_json()["message"]


def test_unknown_and_state_fields_are_rejected(login, world, template):
    client = login("inspector_a")
    insp = _start(client, world).get_json()
    resp = client.patch(f"/api/v1/inspections/{insp['id']}", json={"status": "finished"})
    assert resp.status_code == 422 and "status" in resp.get_json()["errors"]["json"]
    hazard = client.post("/api/v1/hazards", json={"venue_id": world.venue_a.id, "description": "杂物堵塞通道",
                                                  "deadline_days": 3}).get_json()
    resp = client.patch(f"/api/v1/hazards/{hazard['id']}", json={"state": "verified_fixed"})
    assert resp.status_code == 422


def test_stale_version_is_a_conflict(login, world, template):
    client = login("inspector_a")
    insp = _start(client, world).get_json()
    resp = client.patch(f"/api/v1/inspections/{insp['id']}", json={"summary": "一", "version": insp["version"]})
    assert resp.status_code == 200 and resp.get_json()["version"] == 2
    resp = client.patch(f"/api/v1/inspections/{insp['id']}", json={"summary": "二", "version": insp["version"]})
    assert resp.status_code == 409 and resp.get_json()["reason"] == "stale_version"


def test_hazard_transitions_over_rest(login, world):
    inspector, supervisor = login("inspector_a"), login("supervisor_a")
    hazard = inspector.post("/api/v1/hazards", json={"venue_id": world.venue_a.id, "description": "灭火器失效",
                                                     "deadline_days": 3, "found_on": "2026-03-02"}).get_json()
    url = f"/api/v1/hazards/{hazard['id']}/transitions"
    resp = inspector.post(url, json={"action": "verify_fixed"})
    assert resp.status_code == 422
    assert resp.get_json()["reason"] == "illegal_transition" and "open" in resp.get_json()["message"]
    resp = inspector.post(url, json={"action": "notify", "as_of": "2026-03-02"})
    assert resp.status_code == 200 and resp.get_json()["state"] == "notified"
    resp = inspector.post(url, json={"action": "mark_overdue", "as_of": "2026-03-20"})
    assert resp.get_json()["state"] == "overdue"
    assert inspector.post(url, json={"action": "escalate"}).status_code == 403
    resp = supervisor.post(url, json={"action": "escalate"})
    assert resp.status_code == 200 and resp.get_json()["state"] == "escalated"

    listed = supervisor.get("/api/v1/hazards?state=escalated").get_json()
    assert listed["meta"]["total"] == 1 and listed["items"][0]["id"] == hazard["id"]
    assert login("inspector_b").get(f"/api/v1/hazards/{hazard['id']}").status_code == 403


def test_tasks_over_rest(login, world):
    sup = login("supervisor_a")
    a = world.users["inspector_a"]
    rentals = [factories.venue(world.grid_a, type="group_rental") for _ in range(2)]
    resp = sup.post("/api/v1/tasks/bulk", json={"filters": {"type": "group_rental", "area_id": world.grid_a.id},
                                                "due_date": "2026-03-10", "assignee_ids": [a.id]})
    assert resp.status_code == 201, resp.get_json()
    assert sorted(t["venue_id"] for t in resp.get_json()["created"]) == sorted(v.id for v in rentals)
    resp = sup.post("/api/v1/tasks", json={"venue_id": world.venue_a.id, "due_date": "2026-03-12",
                                           "assignee_ids": [a.id], "kind": "complaint"})
    assert resp.status_code == 201
    single = resp.get_json()
    assert single["venue_name"] == "明州路小吃店" and single["assignee_ids"] == [a.id]

    today = login("inspector_a").get("/api/v1/tasks/today?on=2026-03-10").get_json()
    assert sorted(t["venue_id"] for t in today) == sorted(v.id for v in rentals)
    page = sup.get("/api/v1/tasks?kind=complaint").get_json()
    assert page["meta"]["total"] == 1 and page["items"][0]["id"] == single["id"]

    assert login("inspector_a").post("/api/v1/tasks", json={"venue_id": world.venue_a.id,
                                                            "due_date": "2026-03-12"}).status_code == 403
    resp = sup.post(f"/api/v1/tasks/{single['id']}/cancel", json={"reason": "投诉已撤回"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"


def test_campaign_over_rest(login, world):
    admin, insp = login("admin"), login("inspector_a")
    resp = admin.post("/api/v1/campaigns", json={"name": "三小场所专项", "starts_on": "2026-03-01",
                                                 "ends_on": "2026-05-31", "venue_types": ["storefront"],
                                                 "area_ids": [world.street_a.id]})
    assert resp.status_code == 201, resp.get_json()
    camp = resp.get_json()
    doors = admin.post(f"/api/v1/campaigns/{camp['id']}/doors/from-venues").get_json()
    assert [d["venue_id"] for d in doors] == [world.venue_a.id]
    resp = insp.patch(f"/api/v1/campaigns/{camp['id']}/doors/{doors[0]['id']}", json={"outcome": "refused"})
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "refused"
    cov = insp.get(f"/api/v1/campaigns/{camp['id']}/coverage").get_json()
    assert cov["overall"] == {"total": 1, "visited": 1, "percent": 100.0,
                              "by_outcome": {"pending": 0, "no_problem": 0, "problem_found": 0,
                                             "nobody_home": 0, "refused": 1}}
    assert login("inspector_b").get(f"/api/v1/campaigns/{camp['id']}").status_code == 404
    assert insp.delete(f"/api/v1/campaigns/{camp['id']}").status_code == 403
    assert admin.delete(f"/api/v1/campaigns/{camp['id']}").status_code == 204
    assert admin.get(f"/api/v1/campaigns/{camp['id']}").status_code == 404


def test_lists_hide_the_venue_snapshot_phone(login, world, template):
    client = login("inspector_a")
    _start(client, world)
    page = client.get(f"/api/v1/inspections?venue_id={world.venue_a.id}").get_json()
    assert page["meta"]["total"] == 1
    assert "venue_snapshot" not in page["items"][0] and page["items"][0]["venue_name"] == "明州路小吃店"


# --- the same rules through sync ------------------------------------------------------------

def test_sync_replays_an_inspection_through_the_services(login, world, template):
    client = login("inspector_a")
    a, a2 = world.users["inspector_a"], world.users["inspector_a2"]
    insp = mut("inspection", "create", {"venue_id": world.venue_a.id, "inspector_ids": [a2.id],
                                        "started_at_device": "2026-03-10T09:00:00+08:00", "kind": "routine"})
    item = mut("item_result", "create", {"inspection_id": insp["entity_id"], "item_code": "EXT-1", "result": "fail"})
    hazard = mut("hazard", "create", {"inspection_id": insp["entity_id"], "item_code": "EXT-1",
                                      "found_on": "2025-06-02"})
    sigs = {str(a.id): factories.blob(), str(a2.id): factories.blob()}
    owner_sig = factories.blob()
    finish = mut("inspection", "finish", {"inspector_signatures": sigs, "owner_signature_hash": owner_sig,
                                          "finished_at_device": "2026-03-10T09:30:00+08:00"},
                 entity_id=insp["entity_id"], blob_hashes=[*sigs.values(), owner_sig])
    late_edit = mut("item_result", "update", {"result": "pass"}, entity_id=item["entity_id"], base_version=1)
    results = push(client, [insp, item, hazard, finish, late_edit])["results"]
    assert [r["status"] for r in results] == ["applied", "applied", "applied", "applied", "rejected"]
    assert results[4]["reason"] == "inspection_finished"
    db.session.expire_all()
    row = db.session.get(Inspection, insp["entity_id"])
    assert row.status == "finished" and row.started_at_device.isoformat() == "2026-03-10T01:00:00+00:00"
    assert db.session.get(Hazard, hazard["entity_id"]).deadline.isoformat() == "2025-06-05"


def test_sync_refuses_a_state_change_by_update_and_an_illegal_transition(login, world):
    client = login("inspector_a")
    hazard = mut("hazard", "create", {"venue_id": world.venue_a.id, "description": "电动车楼道充电",
                                      "deadline_days": 3, "found_on": "2026-03-02"})
    by_update = mut("hazard", "update", {"state": "verified_fixed"}, entity_id=hazard["entity_id"], base_version=1)
    illegal = mut("hazard", "transition", {"action": "escalate"}, entity_id=hazard["entity_id"])
    legal = mut("hazard", "transition", {"action": "notify", "as_of": "2026-03-02"}, entity_id=hazard["entity_id"])
    results = push(client, [hazard, by_update, illegal, legal])["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "applied"]
    assert results[1]["reason"] == "field_not_editable"
    assert results[2]["reason"] in ("illegal_transition", "role_forbidden")


def test_sync_from_another_area_is_rejected(login, world, template):
    client = login("inspector_b")
    insp = mut("inspection", "create", {"venue_id": world.venue_a.id, "inspector_ids": []},
               entity_id=str(uuid.uuid4()))
    result = push(client, [insp])["results"][0]
    assert result["status"] == "rejected" and result["reason"] == "out_of_scope"
    assert db.session.get(Inspection, insp["entity_id"]) is None
