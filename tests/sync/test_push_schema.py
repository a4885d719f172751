"""Push request validation: the direct reading of a plain body gives exactly marshmallow's result,
and anything it does not vouch for goes through marshmallow (same errors)."""
import copy
import uuid

import pytest
from marshmallow import Schema, ValidationError

from server.api.sync import PushSchema, _load_plain_push

SHA = "ab" * 32


def body():
    return {"device_id": "phone-0001", "schema_version": 1, "mutations": [
        {"mutation_id": str(uuid.uuid4()), "device_seq": 1, "entity": "inspection", "entity_id": str(uuid.uuid4()),
         "op": "create", "base_version": None, "blob_hashes": [], "client_observed_at": None,
         "fields": {"venue_id": str(uuid.uuid4()), "kind": "routine", "lat": 29.88, "inspector_ids": ["a", "b"]}},
        {"mutation_id": str(uuid.uuid4()), "device_seq": 2, "entity": "hazard", "entity_id": str(uuid.uuid4()),
         "op": "update", "base_version": 3, "blob_hashes": [SHA], "fields": {"description": "疏散通道"}},
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


VARIANTS = [
    ("device_id", None), ("device_id", "short"), ("device_id", 12345678), ("device_id", "bad device id!"),
    ("schema_version", "1"), ("schema_version", True), ("schema_version", 1.0), ("schema_version", None),
    ("mutations", None), ("mutations", {}), ("mutations", "x"), ("mutations", []), ("extra", 1),
]
MUTATION_VARIANTS = [
    ("mutation_id", None), ("mutation_id", "not-a-uuid"), ("mutation_id", str(uuid.uuid4()).upper()),
    ("mutation_id", uuid.uuid4().hex), ("mutation_id", 5), ("device_seq", 0), ("device_seq", -3),
    ("device_seq", "4"), ("device_seq", True), ("device_seq", 2.0), ("device_seq", None),
    ("entity", "nope"), ("entity", None), ("entity", 1), ("entity_id", "x"), ("op", "A"), ("op", "x"),
    ("op", "create\n"), ("op", None), ("base_version", "2"), ("base_version", False), ("base_version", 1.5),
    ("fields", None), ("fields", []), ("fields", {1: "a"}), ("fields", "x"), ("blob_hashes", None),
    ("blob_hashes", ["x"]), ("blob_hashes", [SHA.upper()]), ("blob_hashes", [SHA + "\n"]), ("blob_hashes", "x"),
    ("blob_hashes", [1]), ("client_observed_at", "2026-11-27T10:00:00Z"), ("client_observed_at", "x"),
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
