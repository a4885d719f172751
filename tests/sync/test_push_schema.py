"""Push request validation: the direct reading of a plain body gives exactly marshmallow's result,
and anything it does not vouch for goes through marshmallow (same errors)."""
import copy
import uuid

import pytest
from marshmallow import Schema, ValidationError

from server.api.sync import PushSchema, _load_plain_push

SHA = "ab" * 32
# Constants in parametrize tables, so the test ids are the same in every xdist worker.
UPPER_UUID = "7F3C2A10-5B4E-4C1D-9A8B-0123456789AB"


def body():
    return {"device_id": "phone-0001", "schema_version": 1, "mutations": [
        {"mutation_id": str(uuid.uuid4()), "device_seq": 1, "entity": "inspection", "entity_id": str(uuid.uuid4()),
         "op": "create", "base_version": None, "blob_hashes": [], "client_observed_at": None,
         "fields": {"venue_id": str(uuid.uuid4()), "kind": "routine", "lat": 29.88, "inspector_ids": ["a", "b"]}},
        {"mutation_id": str(uuid.uuid4()), "device_seq": 2, "entity": "hazard", "entity_id": str(uuid.uuid4()),
         "op": "update", "base_version": 3, "blob_hashes": [SHA], "fields": {"description": "疏散通道"},
         "client_observed_at": "2026-11-28T01:41:07.123Z"},
        {"mutation_id": str(uuid.uuid4()), "device_seq": 7, "entity": "item_result", "entity_id": str(uuid.uuid4()),
         "op": "delete"},
    ]}


def marshmallow_load(data):
    return Schema.load(PushSchema(), data)


def outcome(fn, data):
    try:
        return "ok", fn(data)
    except ValidationError as err:
        return "error", err.messages


def test_plain_body_is_read_directly_with_marshmallows_result():
    data = body()
    assert _load_plain_push(data) is not None
    assert PushSchema().load(data) == marshmallow_load(data)
    assert list(PushSchema().load(data)["mutations"][2]) == list(marshmallow_load(data)["mutations"][2])


def test_a_body_read_directly_carries_its_mutations_as_the_view_hands_them_on():
    """The view passes `plain` to sync.push instead of `_plain` of each loaded mutation: the same
    dicts, keys in the same order, the same objects for fields and blob hashes."""
    from server.api.sync import _plain

    data = body()
    loaded = _load_plain_push(data)
    expected = [_plain(m) for m in marshmallow_load(data)["mutations"]]
    assert loaded.plain == expected
    assert [list(m) for m in loaded.plain] == [list(m) for m in expected]
    assert [list(m) for m in loaded.plain] == [list(_plain(m)) for m in loaded["mutations"]]
    assert all(p["fields"] is m["fields"] and p["blob_hashes"] is m["blob_hashes"]
               for p, m in zip(loaded.plain, loaded["mutations"]))
    assert loaded.plain[1]["client_observed_at"] == "2026-11-28T01:41:07.123000+00:00"


VARIANTS = [
    ("device_id", None), ("device_id", "short"), ("device_id", 12345678), ("device_id", "bad device id!"),
    ("schema_version", "1"), ("schema_version", True), ("schema_version", 1.0), ("schema_version", None),
    ("mutations", None), ("mutations", {}), ("mutations", "x"), ("mutations", []), ("extra", 1),
]
MUTATION_VARIANTS = [
    ("mutation_id", None), ("mutation_id", "not-a-uuid"), ("mutation_id", UPPER_UUID),
    ("mutation_id", UPPER_UUID.lower().replace("-", "")), ("mutation_id", 5), ("device_seq", 0), ("device_seq", -3),
    ("device_seq", "4"), ("device_seq", True), ("device_seq", 2.0), ("device_seq", None),
    ("entity", "nope"), ("entity", None), ("entity", 1), ("entity_id", "x"), ("op", "A"), ("op", "x"),
    ("op", "create\n"), ("op", None), ("base_version", "2"), ("base_version", False), ("base_version", 1.5),
    ("fields", None), ("fields", []), ("fields", {1: "a"}), ("fields", "x"), ("blob_hashes", None),
    ("blob_hashes", ["x"]), ("blob_hashes", [SHA.upper()]), ("blob_hashes", [SHA + "\n"]), ("blob_hashes", "x"),
    ("blob_hashes", [1]), ("client_observed_at", "2026-11-27T10:00:00+08:00"), ("client_observed_at", "2026-11-27T10:00:00"),
    ("client_observed_at", "2026-11-27"), ("client_observed_at", ""), ("client_observed_at", "x"),
    ("client_observed_at", 5), ("surprise", 1),
]


@pytest.mark.parametrize("key,value", VARIANTS)
def test_odd_top_level_gives_marshmallows_answer(key, value):
    data = body()
    data[key] = value
    assert outcome(PushSchema().load, copy.deepcopy(data)) == outcome(marshmallow_load, copy.deepcopy(data))


@pytest.mark.parametrize("key,value", MUTATION_VARIANTS)
@pytest.mark.parametrize("drop", [False, True])
def test_odd_mutation_gives_marshmallows_answer(key, value, drop):
    data = body()
    if drop:
        data["mutations"][1].pop(key, None)
    else:
        data["mutations"][1][key] = value
    assert outcome(PushSchema().load, copy.deepcopy(data)) == outcome(marshmallow_load, copy.deepcopy(data))


def test_non_dict_bodies_give_marshmallows_answer():
    for data in (None, [], "x", 3, {"mutations": [None]}, {"device_id": "phone-0001", "schema_version": 1,
                                                           "mutations": [None, 1, []]}):
        assert outcome(PushSchema().load, copy.deepcopy(data)) == outcome(marshmallow_load, copy.deepcopy(data))


# --- the answer ---------------------------------------------------------------------------

from server.api.sync import PushResultSchema, _dump_plain_push  # noqa: E402


def answer():
    return {"results": [
        {"mutation_id": "m1", "status": "applied", "entity": "hazard", "entity_id": "h1", "version": 1,
         "server": {"id": "h1", "deadline": "2026-12-04", "photo_hashes": [], "lat": 1.5}},
        {"mutation_id": "m2", "status": "conflict", "entity": "hazard", "entity_id": "h2", "reason": "same_field",
         "message": "冲突", "version": 4, "server": {"id": "h2"}, "conflicts": [{"field": "description"}],
         "applied_fields": ["location"], "merged": True, "unknown_key": 1},
        {"mutation_id": "m3", "status": "retry", "entity": "hazard", "entity_id": "h3", "reason": "blob_missing",
         "message": "x", "missing_blobs": [SHA], "errors": None},
        {"mutation_id": "m4", "status": "rejected", "entity": None, "entity_id": "h4", "reason": "invalid",
         "message": "y", "errors": {"fields": ["bad"]}},
    ], "device": {"max_seq": 7, "missing_seqs": [3, 4]}}


def marshmallow_dump(obj):
    return Schema.dump(PushResultSchema(), obj)


def test_plain_answer_is_dumped_directly_with_marshmallows_result():
    obj = answer()
    assert _dump_plain_push(obj) is not None
    fast, slow = PushResultSchema().dump(obj), marshmallow_dump(obj)
    assert fast == slow
    assert [list(r) for r in fast["results"]] == [list(r) for r in slow["results"]]  # same key order


ODD_RESULT_VALUES = [("version", "4"), ("version", 4.0), ("version", True), ("mutation_id", uuid.UUID(UPPER_UUID)),
                     ("merged", 1), ("server", None), ("conflicts", [None]), ("conflicts", ({"a": 1},)),
                     ("applied_fields", ["a", 1]), ("missing_blobs", None), ("errors", [1]), ("status", 5)]


@pytest.mark.parametrize("key,value", ODD_RESULT_VALUES)
def test_odd_answer_gives_marshmallows_dump(key, value):
    obj = answer()
    obj["results"][1][key] = value
    try:
        expected = marshmallow_dump(copy.deepcopy(obj))
    except (TypeError, ValueError, AttributeError):
        with pytest.raises((TypeError, ValueError, AttributeError)):
            PushResultSchema().dump(copy.deepcopy(obj))
        return
    assert PushResultSchema().dump(copy.deepcopy(obj)) == expected


def test_odd_device_gives_marshmallows_dump():
    for device in (None, {"max_seq": "3"}, {"missing_seqs": None}, {"max_seq": 2, "missing_seqs": ["1"]}):
        obj = dict(answer(), device=device)
        assert PushResultSchema().dump(copy.deepcopy(obj)) == marshmallow_dump(copy.deepcopy(obj))


def test_push_answers_the_same_through_marshmallow(login, world, db, monkeypatch):
    """A real batch pushed twice (the replay returns the stored answers): once through the direct
    paths, once with them turned off; the HTTP answers are the same."""
    from server.api import sync as api_sync
    from tests.sync.helpers import inspection_batch, push

    c = login("inspector_a")
    batch = inspection_batch(world, n_hazards=3)
    assert api_sync._load_plain_push({"device_id": "dev-test-0001", "schema_version": 1, "mutations": batch})
    direct = push(c, batch)
    assert [r["status"] for r in direct["results"]] == ["applied"] * 4
    assert _dump_plain_push(direct) is not None
    monkeypatch.setattr(api_sync, "_load_plain_push", lambda data: None)
    monkeypatch.setattr(api_sync, "_dump_plain_push", lambda obj: None)
    assert push(c, batch) == direct


def test_the_push_answer_is_the_json_flask_would_send(app, db):
    """Encoded by orjson: the same data and key order as Flask's jsonify; a value orjson would
    write otherwise (a date) or refuses (a Decimal) sends the answer Flask's way, byte for byte."""
    import json
    from datetime import date
    from decimal import Decimal

    from flask import jsonify

    from server.api.sync import _json_response

    answer = {"results": [{"status": "applied", "mutation_id": "m-1", "version": 1, "entity": "hazard",
                           "server": {"description": "疏散通道堆放杂物", "lat": 29.88, "found_on": "2026-11-27",
                                      "photo_hashes": [], "deleted_at": None, "key_unit": False, "z": 1, "a": 2}}],
              "device": {"missing_seqs": [3, 4], "max_seq": 7}}
    with app.test_request_context():
        ours, flasks = _json_response(answer), jsonify(answer)
        assert ours.mimetype == flasks.mimetype == "application/json"
        assert json.loads(ours.get_data()) == json.loads(flasks.get_data()) == answer
        # the same key order (Flask sorts keys)
        assert list(json.loads(ours.get_data())["results"][0]["server"]) == \
            list(json.loads(flasks.get_data())["results"][0]["server"])
        for odd in (date(2026, 11, 27), Decimal("1.5"), 2 ** 70):
            data = {"results": [{"server": {"value": odd}}]}
            assert _json_response(data).get_data() == jsonify(data).get_data()


def test_payload_digest_is_that_of_the_canonical_json():
    """Stored digests decide `id_reuse` for replays: the bytes hashed must never change."""
    import hashlib
    import json
    from datetime import date

    from server.services.sync import payload_sha256

    payloads = [dict(m, fields=dict(m.get("fields") or {}, when=date(2026, 11, 27), big=2 ** 70, tiny=1e-7,
                                    text="疏散通道\n\"堆物\"", nested={"b": [1, 2.5, None], "a": True}))
                for m in body()["mutations"]]
    for m in payloads:
        keys = ("entity", "entity_id", "op", "base_version", "fields", "blob_hashes")
        raw = json.dumps({k: m.get(k) for k in keys}, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                         default=str)
        assert payload_sha256(m) == hashlib.sha256(raw.encode()).hexdigest()


def test_the_view_hands_on_a_directly_read_body_without_converting_it_again(login, world, db, monkeypatch):
    """A body read directly reaches sync.push as its `plain` mutations (no `_plain` per mutation), and
    marshmallow's form of them (UUID objects) is never made."""
    from types import SimpleNamespace

    from server.api import sync as api_sync
    from tests.sync.helpers import inspection_batch, push

    def no_plain(m):
        raise AssertionError("_plain called for a body read directly")

    def no_uuid(text):
        raise AssertionError("a UUID made of a mutation's text, only to be turned back into it")

    monkeypatch.setattr(api_sync, "_plain", no_plain)
    monkeypatch.setattr(api_sync, "uuid", SimpleNamespace(UUID=no_uuid))  # only the view's module
    answer = push(login("inspector_a"), inspection_batch(world, n_hazards=1))
    assert [r["status"] for r in answer["results"]] == ["applied"] * 2
