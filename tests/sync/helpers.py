"""Builders for sync payloads, the way the PWA makes them."""
import itertools
import uuid

_seq = itertools.count(1)


def mut(entity, op, fields=None, *, entity_id=None, base_version=None, blob_hashes=(), seq=None, mutation_id=None):
    return {
        "mutation_id": mutation_id or str(uuid.uuid4()),
        "device_seq": seq if seq is not None else next(_seq),
        "entity": entity,
        "entity_id": entity_id or str(uuid.uuid4()),
        "op": op,
        "base_version": base_version,
        "fields": fields or {},
        "blob_hashes": list(blob_hashes),
        "client_observed_at": "2026-11-28T09:41:07+08:00",
    }


def push(client, mutations, device_id="dev-test-0001"):
    resp = client.post("/api/v1/sync/push", json={"device_id": device_id, "schema_version": 1,
                                                  "mutations": mutations})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def hazard_fields(venue, **kw):
    fields = {"venue_id": venue.id, "description": "三楼楼梯间停放电动自行车并充电", "location": "三楼楼梯间",
              "severity": "general", "correction_mode": "deadline", "deadline_days": 5,
              "found_on": "2026-11-27"}
    fields.update(kw)
    return fields


def inspection_batch(world, n_hazards=2):
    """An inspection by two inspectors with hazards: the typical field batch."""
    insp = mut("inspection", "create", {
        "venue_id": world.venue_a.id, "kind": "routine",
        "inspector_ids": [world.users["inspector_a"].id, world.users["inspector_a2"].id],
        "lat": 29.88, "lng": 121.84, "gps_accuracy_m": 12.0, "started_at_device": "2026-11-27T09:00:00+08:00"})
    hazards = [mut("hazard", "create", hazard_fields(world.venue_a, inspection_id=insp["entity_id"],
                                                       description=f"隐患 {i}：疏散通道堆放杂物"))
               for i in range(n_hazards)]
    return [insp] + hazards
