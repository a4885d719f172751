"""Push: idempotent replay, per-mutation judgement, field-level conflicts, device sequence gaps."""
import hashlib
import io
import threading

from PIL import Image

from server.models import FieldHistory, Hazard, Inspection, ProcessedMutation
from tests.sync.helpers import hazard_fields, inspection_batch, mut, push


def statuses(answer):
    return [r["status"] for r in answer["results"]]


def test_replayed_push_returns_stored_result(login, world, db):
    c = login("inspector_a")
    batch = inspection_batch(world)
    first = push(c, batch)
    assert statuses(first) == ["applied"] * 3
    second = push(c, batch)
    assert second["results"] == first["results"]
    assert db.session.query(Inspection).count() == 1
    assert db.session.query(Hazard).count() == 2
    assert db.session.query(ProcessedMutation).count() == 3


def test_concurrent_replay_of_one_batch_makes_one_row_each(app, login, world, db):
    batch = inspection_batch(world, n_hazards=5)
    clients = [login("inspector_a"), login("inspector_a")]
    db.session.commit()  # end this thread's read transaction: on SQLite it would hold the write lock
    answers, errors = [None, None], []
    barrier = threading.Barrier(2)

    def run(i):
        try:
            with app.app_context():
                barrier.wait()
                answers[i] = push(clients[i], batch)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert answers[0]["results"] == answers[1]["results"]
    assert statuses(answers[0]) == ["applied"] * 6
    db.session.expire_all()
    assert db.session.query(Inspection).count() == 1
    assert db.session.query(Hazard).count() == 5


def test_reused_mutation_id_with_other_payload_is_id_reuse(login, world, db):
    c = login("inspector_a")
    m = mut("hazard", "create", hazard_fields(world.venue_a))
    assert statuses(push(c, [m])) == ["applied"]
    forged = dict(m, fields=hazard_fields(world.venue_a, description="另一内容"))
    answer = push(c, [forged])
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["reason"] == "id_reuse"
    assert db.session.get(Hazard, m["entity_id"]).description == "三楼楼梯间停放电动自行车并充电"


def test_one_poisoned_mutation_leaves_the_rest_applied(login, world, db):
    c = login("inspector_a")
    good1 = mut("hazard", "create", hazard_fields(world.venue_a, description="好的一"))
    poison = mut("hazard", "create", hazard_fields(world.venue_a, severity="catastrophic"))
    good2 = mut("hazard", "create", hazard_fields(world.venue_a, description="好的二"))
    answer = push(c, [good1, poison, good2])
    assert statuses(answer) == ["applied", "rejected", "applied"]
    assert answer["results"][1]["message"]  # a readable reason for "needs attention"
    assert {h.description for h in db.session.query(Hazard)} == {"好的一", "好的二"}
    # the rejection is final and stored: a replay gives the same answer
    assert push(c, [poison])["results"] == [answer["results"][1]]


def _create_hazard(c, world):
    m = mut("hazard", "create", hazard_fields(world.venue_a))
    push(c, [m])
    return m["entity_id"]


def test_disjoint_field_edits_from_two_devices_merge(login, world, db):
    a, b = login("inspector_a"), login("inspector_a2")
    hid = _create_hazard(a, world)
    ra = push(a, [mut("hazard", "update", {"description": "A 改描述"}, entity_id=hid, base_version=1)], "dev-aaaa-0001")
    rb = push(b, [mut("hazard", "update", {"location": "B 改位置"}, entity_id=hid, base_version=1)], "dev-bbbb-0002")
    assert ra["results"][0]["status"] == "applied"
    assert rb["results"][0]["status"] == "applied" and rb["results"][0]["merged"] is True
    h = db.session.get(Hazard, hid)
    assert (h.description, h.location) == ("A 改描述", "B 改位置")


def test_same_field_edit_is_a_conflict_and_keeps_both_values(login, world, db):
    a, b = login("inspector_a"), login("inspector_a2")
    hid = _create_hazard(a, world)
    push(a, [mut("hazard", "update", {"description": "服务器上的值"}, entity_id=hid, base_version=1)], "dev-aaaa-0001")
    rb = push(b, [mut("hazard", "update", {"description": "手机上的值", "location": "二楼"},
                      entity_id=hid, base_version=1)], "dev-bbbb-0002")
    res = rb["results"][0]
    assert res["status"] == "conflict" and res["reason"] == "same_field_conflict"
    assert res["conflicts"] == [{"field": "description", "server_value": "服务器上的值", "your_value": "手机上的值"}]
    assert res["server"]["description"] == "服务器上的值"
    assert res["applied_fields"] == ["location"]
    h = db.session.get(Hazard, hid)
    assert (h.description, h.location) == ("服务器上的值", "二楼")
    kept = db.session.query(FieldHistory).one()
    assert (kept.field, kept.other_value, kept.server_value) == ("description", "手机上的值", "服务器上的值")
    # the phone resolves: the user's choice goes out against the server's version and wins
    resolved = push(b, [mut("hazard", "update", {"description": "手机上的值"}, entity_id=hid,
                            base_version=res["version"])], "dev-bbbb-0002")
    assert resolved["results"][0]["status"] == "applied"
    db.session.expire_all()
    assert db.session.get(Hazard, hid).description == "手机上的值"


def test_edit_after_delete_is_a_conflict(login, world, db):
    from server.models.base import utcnow

    c = login("inspector_a")
    hid = _create_hazard(c, world)
    h = db.session.get(Hazard, hid)
    h.deleted_at = utcnow()  # the tombstone a delete leaves (hazards are withdrawn, not deleted, in the UI)
    db.session.commit()
    answer = push(c, [mut("hazard", "update", {"description": "改"}, entity_id=hid, base_version=1)])
    res = answer["results"][0]
    assert res["status"] == "conflict" and res["reason"] == "edited_after_delete"
    assert db.session.get(Hazard, hid).description == "三楼楼梯间停放电动自行车并充电"


def test_update_before_its_create_is_retried_then_applied(login, world, db):
    c = login("inspector_a")
    create = mut("hazard", "create", hazard_fields(world.venue_a))
    update = mut("hazard", "update", {"location": "后到的位置"}, entity_id=create["entity_id"], base_version=1)
    early = push(c, [update])
    assert early["results"][0]["status"] == "retry" and early["results"][0]["reason"] == "entity_missing"
    assert db.session.query(ProcessedMutation).count() == 0
    assert statuses(push(c, [create, update])) == ["applied", "applied"]
    assert db.session.get(Hazard, create["entity_id"]).location == "后到的位置"


def test_mutation_outside_users_area_is_rejected(login, world, db):
    c = login("inspector_b")  # grid B; venue_a is in grid A
    answer = push(c, [mut("hazard", "create", hazard_fields(world.venue_a))])
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["reason"] == "out_of_scope"
    assert db.session.query(Hazard).count() == 0


def test_update_of_row_outside_users_area_is_rejected(login, world, db):
    hid = _create_hazard(login("inspector_a"), world)
    answer = push(login("inspector_b"), [mut("hazard", "update", {"location": "x"}, entity_id=hid, base_version=1)])
    assert answer["results"][0]["status"] == "rejected" and answer["results"][0]["reason"] == "out_of_scope"


def test_owner_cannot_push_inspection_data(login, world, db):
    answer = push(login("owner_a"), [mut("hazard", "create", hazard_fields(world.venue_a))])
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["reason"] == "role_forbidden"


def test_missing_blob_is_retried_then_applied_after_upload(login, world, db):
    c = login("inspector_a")
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 200)).save(out, "JPEG")
    photo = out.getvalue()
    digest = hashlib.sha256(photo).hexdigest()
    m = mut("hazard", "create", hazard_fields(world.venue_a, photo_hashes=[digest]), blob_hashes=[digest])
    first = push(c, [m])["results"][0]
    assert first["status"] == "retry" and first["reason"] == "blob_missing" and first["missing_blobs"] == [digest]
    assert db.session.query(Hazard).count() == 0
    assert c.put(f"/api/v1/blobs/{digest}", data=photo, content_type="image/jpeg").status_code == 201
    second = push(c, [m])["results"][0]
    assert second["status"] == "applied"
    assert db.session.get(Hazard, m["entity_id"]).photo_hashes == [digest]


def test_device_sequence_gap_is_reported(login, world, db):
    c = login("inspector_a")
    dev = "dev-gappy-0001"
    f = lambda: hazard_fields(world.venue_a)  # noqa: E731
    assert push(c, [mut("hazard", "create", f(), seq=1), mut("hazard", "create", f(), seq=2)], dev)["device"] == \
        {"max_seq": 2, "missing_seqs": []}
    assert push(c, [mut("hazard", "create", f(), seq=5)], dev)["device"] == {"max_seq": 5, "missing_seqs": [3, 4]}
    assert push(c, [mut("hazard", "create", f(), seq=3)], dev)["device"] == {"max_seq": 5, "missing_seqs": [4]}
    status = c.get(f"/api/v1/sync/devices/{dev}").get_json()
    assert status["missing_seqs"] == [4]


def test_whole_batch_errors(login, world):
    c = login("inspector_a")
    old = c.post("/api/v1/sync/push", json={"device_id": "dev-test-0001", "schema_version": 0, "mutations": []})
    assert old.status_code == 426 and old.get_json()["reason"] == "sync_upgrade_required"
    big = [mut("hazard", "create", hazard_fields(world.venue_a)) for _ in range(501)]
    too_many = c.post("/api/v1/sync/push", json={"device_id": "dev-test-0001", "schema_version": 1, "mutations": big})
    assert too_many.status_code == 413
    bad = c.post("/api/v1/sync/push", json={"device_id": "dev-test-0001", "schema_version": 1,
                                            "mutations": [{"mutation_id": "nope"}]})
    assert bad.status_code == 422 and "mutations" in bad.get_json()["errors"]["json"]


def test_push_needs_login(client, world):
    resp = client.post("/api/v1/sync/push", json={"device_id": "dev-test-0001", "schema_version": 1, "mutations": []})
    assert resp.status_code == 401


def test_device_sequence_tracking_matches_the_plain_list_rule():
    """_note_seqs keeps counts beside the list for its membership test: the same max_seq and
    missing_seqs (order, duplicates, the 1,000 bound) as the plain list scan it replaced."""
    import random
    from types import SimpleNamespace

    from server.services.sync import _note_seqs

    def reference(max_seq, missing, seqs):
        missing = list(missing)
        for seq in seqs:
            if not isinstance(seq, int) or seq < 1:
                continue
            if seq > max_seq:
                missing.extend(range(max_seq + 1, seq))
                max_seq = seq
            elif seq in missing:
                missing.remove(seq)
            if len(missing) > 1000:
                del missing[:-1000]
        return max_seq, missing

    rnd = random.Random(3)
    for _ in range(300):
        max_seq = rnd.choice([0, 5, 40, 1500])
        missing = [rnd.randint(1, max_seq) for _ in range(rnd.randint(0, 12))] if max_seq else []
        seqs = [rnd.choice([rnd.randint(1, max_seq + 30), rnd.randint(1, 3000), None, 0, "7"]) for _ in range(60)]
        device = SimpleNamespace(max_seq=max_seq, missing_seqs=missing)
        _note_seqs(device, seqs)
        assert (device.max_seq, device.missing_seqs) == reference(max_seq, missing, seqs)
