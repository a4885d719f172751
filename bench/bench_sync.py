"""Sync benchmarks (issue 3).

1. Push throughput through the full HTTP stack (gunicorn, one worker; client in this process)
   for batches of 50 mutations (1 inspection + 24 item results + 25 hazards), side by side with
   two raw SQLAlchemy Core inserts, on SQLite and PostgreSQL:
   - the entity rows only (1 inspection, 24 item results, 25 hazards: 50 rows per batch);
   - every row the push's transaction wrote (those 50, the 2 inspector links, 50 audit events
     and 50 stored answers: 152 rows), read back after the HTTP run and inserted again with new
     keys, with the push's counter and device updates.
2. Initial pull of a street with 5,000 venues and 20,000 hazards: wall time and gzipped bytes.

Issue 3's targets: at least 1,000 mutations/s; within 3× of "a raw SQLAlchemy Core insert of the
same rows", read as the second baseline, the rows the push really writes (its audit events and
stored answers are required in the same transaction by the same issue); the entity-rows-only
ratio is printed beside it as a stricter reference. The pull: under 2 s and under 3 MB. The
last lines say which targets this run met.

    .venv/bin/python bench/bench_sync.py [--batches 200] [--db sqlite,postgres] [--skip-pull]

200 batches by default: a 40-batch push (half a second) moved its ratio by 1× from run to run.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import Client, database, gunicorn, make_app  # noqa: E402

PASSWORD = "bench-password-1"


def seed_people(app):
    from server.extensions import db
    from server.models import Venue
    from server.services import accounts

    with app.app_context():
        db.create_all()
        district = accounts.create_area(None, code="D", name="北仑区", level="district")
        street = accounts.create_area(None, code="S1", name="新碶街道", level="street", parent_id=district.id)
        grid = accounts.create_area(None, code="G1", name="新碶第一网格", level="grid", parent_id=street.id)
        a = accounts.create_user(None, username="insp1", password=PASSWORD, display_name="林晓峰", role="inspector",
                                 area_ids=[street.id], enforcement_id="330206100001")
        b = accounts.create_user(None, username="insp2", password=PASSWORD, display_name="徐佳颖", role="inspector",
                                 area_ids=[street.id], enforcement_id="330206100002")
        venue = Venue(name="明州路小吃店", type="storefront", address="明州路1号", area_id=grid.id)
        db.session.add(venue)
        db.session.commit()
        return {"grid": grid.id, "street": street.id, "venue": venue.id, "a": a.id, "b": b.id}


def make_batch(ids, seq0):
    insp_id = str(uuid.uuid4())
    muts = [{"mutation_id": str(uuid.uuid4()), "device_seq": seq0, "entity": "inspection", "entity_id": insp_id,
             "op": "create", "base_version": None, "blob_hashes": [], "client_observed_at": None,
             "fields": {"venue_id": ids["venue"], "kind": "routine", "inspector_ids": [ids["a"], ids["b"]],
                        "lat": 29.88, "lng": 121.84, "gps_accuracy_m": 8.0}}]
    for i in range(24):
        muts.append({"mutation_id": str(uuid.uuid4()), "device_seq": seq0 + len(muts), "entity": "item_result",
                     "entity_id": str(uuid.uuid4()), "op": "create", "base_version": None, "blob_hashes": [],
                     "client_observed_at": None,
                     "fields": {"inspection_id": insp_id, "item_code": f"B-{i:02d}", "result": "pass" if i % 3 else "fail",
                                "note": "现场检查记录"}})
    for i in range(25):
        muts.append({"mutation_id": str(uuid.uuid4()), "device_seq": seq0 + len(muts), "entity": "hazard",
                     "entity_id": str(uuid.uuid4()), "op": "create", "base_version": None, "blob_hashes": [],
                     "client_observed_at": None,
                     "fields": {"venue_id": ids["venue"], "inspection_id": insp_id,
                                "description": f"疏散通道堆放杂物（第{i}处）", "location": "一楼走道",
                                "severity": "general", "correction_mode": "deadline", "deadline_days": 5,
                                "found_on": "2026-11-27"}})
    return muts


def bench_push(kind, batches):
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        app = make_app(url, Path(tmp))
        ids = seed_people(app)
        with gunicorn(url, Path(tmp)) as port:
            c = Client(port).login("insp1", PASSWORD)
            payloads = [make_batch(ids, 1 + i * 50) for i in range(batches)]
            # Warm-up from another device: the measured one sends 1, 2, 3 … as a phone does (after a
            # warm-up at 100000 on it, every measured number was an old one and the device row carried
            # a list of 1,000 missing numbers, read and written back in every batch).
            c.request("POST", "/api/v1/sync/push", {"device_id": "bench-device-0", "schema_version": 1,
                                                     "mutations": make_batch(ids, 100000)})
            t0 = time.perf_counter()
            for muts in payloads:
                _, body = c.request("POST", "/api/v1/sync/push",
                                    {"device_id": "bench-device-1", "schema_version": 1, "mutations": muts})
                bad = [r for r in body["results"] if r["status"] != "applied"]
                if bad:
                    raise SystemExit(f"push failed: {bad[:2]}")
            http_s = time.perf_counter() - t0
        raw_s = bench_raw(app, ids, batches)
        written = rows_written(app, payloads)
        all_s, all_rows = bench_raw_written(app, written)
    n = batches * 50
    return {"db": kind, "mutations": n, "http_s": http_s, "http_rate": n / http_s, "raw_s": raw_s,
            "raw_rate": n / raw_s, "ratio": http_s / raw_s, "all_s": all_s, "all_rows": all_rows,
            "all_ratio": http_s / all_s}


def bench_raw(app, ids, batches):
    """The same rows (and their server_seq) with SQLAlchemy Core, one transaction per batch."""
    from sqlalchemy import insert, text

    from server.extensions import db
    from server.models import Hazard, Inspection, ItemResult

    now = datetime.now(timezone.utc)
    with app.app_context():
        db.session.close()
        engine = db.engine
        t0 = time.perf_counter()
        for _ in range(batches):
            insp_id = str(uuid.uuid4())
            with engine.begin() as conn:
                seq = conn.execute(text("UPDATE change_counter SET value = value + 50 WHERE id = 1 RETURNING value")).scalar()
                common = {"version": 1, "created_at": now, "updated_at": now, "field_versions": {}}
                conn.execute(insert(Inspection), [dict(common, id=insp_id, server_seq=seq, venue_id=ids["venue"],
                                                       kind="routine", status="in_progress", started_at=now,
                                                       venue_snapshot={}, inspector_signatures={},
                                                       owner_refused=False)])
                conn.execute(insert(ItemResult), [dict(common, id=str(uuid.uuid4()), server_seq=seq + i,
                                                       inspection_id=insp_id, item_code=f"B-{i:02d}", result="pass",
                                                       note="现场检查记录", photo_hashes=[]) for i in range(24)])
                conn.execute(insert(Hazard), [dict(common, id=str(uuid.uuid4()), server_seq=seq + 24 + i,
                                                   venue_id=ids["venue"], inspection_id=insp_id,
                                                   description=f"疏散通道堆放杂物（第{i}处）", location="一楼走道",
                                                   severity="general", correction_mode="deadline",
                                                   legal_basis_codes=[], photo_hashes=[], found_on=date(2026, 11, 27),
                                                   deadline=date(2026, 12, 4), state="open") for i in range(25)])
        return time.perf_counter() - t0


# What one push transaction writes besides its two counter updates: the tables, and how a
# batch's rows are found in each (by the inspection's id or by the batch's mutation ids).
_WRITTEN = (("inspections", "id"), ("inspection_inspectors", "inspection_id"), ("item_results", "inspection_id"),
            ("hazards", "inspection_id"), ("audit_events", "mutation_id"), ("processed_mutations", "mutation_id"))


def rows_written(app, payloads):
    """Every row the HTTP push wrote, batch by batch, read back from the database."""
    from sqlalchemy import select

    from server.extensions import db

    batches = []
    with app.app_context():
        tables = db.metadata.tables
        with db.engine.connect() as conn:
            for muts in payloads:
                keys = {"id": [muts[0]["entity_id"]], "inspection_id": [muts[0]["entity_id"]],
                        "mutation_id": [m["mutation_id"] for m in muts]}
                batch = {}
                for name, column in _WRITTEN:
                    table = tables[name]
                    batch[name] = [dict(r._mapping) for r in
                                   conn.execute(select(table).where(table.c[column].in_(keys[column])))]
                batches.append(batch)
    return batches


def _fresh_copies(batch):
    """The batch's rows with new keys (ids, mutation ids), so they can be inserted again."""
    insp_id = str(uuid.uuid4())
    renamed = {batch["inspections"][0]["id"]: insp_id}
    out = {"inspections": [dict(batch["inspections"][0], id=insp_id)],
           "inspection_inspectors": [dict(r, inspection_id=insp_id) for r in batch["inspection_inspectors"]]}
    for name in ("item_results", "hazards"):
        out[name] = []
        for r in batch[name]:
            renamed[r["id"]] = str(uuid.uuid4())
            out[name].append(dict(r, id=renamed[r["id"]], inspection_id=insp_id))
    mutation_ids = {r["mutation_id"]: str(uuid.uuid4()) for r in batch["processed_mutations"]}
    out["processed_mutations"] = [dict(r, mutation_id=mutation_ids[r["mutation_id"]])
                                  for r in batch["processed_mutations"]]
    out["audit_events"] = [{k: v for k, v in dict(r, entity_id=renamed.get(r["entity_id"], r["entity_id"]),
                                                  mutation_id=mutation_ids[r["mutation_id"]]).items() if k != "id"}
                           for r in batch["audit_events"]]
    return out


def bench_raw_written(app, written):
    """Every row the push wrote (entities, inspector links, audit events, stored answers), copied
    with new keys and inserted with SQLAlchemy Core, plus the push's counter and device updates:
    one transaction per batch. Returns (seconds, rows per batch)."""
    from sqlalchemy import insert, text

    from server.extensions import db

    copies = [_fresh_copies(b) for b in written]  # made before the clock starts
    with app.app_context():
        db.session.close()
        tables = db.metadata.tables
        engine = db.engine
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        for batch in copies:
            with engine.begin() as conn:
                seq = conn.execute(text("UPDATE change_counter SET value = value + 50 WHERE id = 1 RETURNING value")).scalar()
                conn.execute(text("UPDATE devices SET last_seen_at = :now WHERE id = 'bench-device-1'"), {"now": now})
                for i, row in enumerate(batch["inspections"] + batch["item_results"] + batch["hazards"]):
                    row["server_seq"] = seq + i
                for name, _ in _WRITTEN:
                    conn.execute(insert(tables[name]), batch[name])
        elapsed = time.perf_counter() - t0
    return elapsed, sum(len(rows) for rows in copies[0].values())


def seed_street(app, venues=5000, hazards=20000):
    """The pull benchmark's street: venues spread over eight grids, hazards spread over the venues."""
    from sqlalchemy import insert, text

    from server.extensions import db
    from server.models import Hazard, Venue

    rnd = random.Random(7)
    ids = seed_people(app)
    now = datetime.now(timezone.utc)
    with app.app_context():
        from server.services import accounts

        grids = [ids["grid"]] + [accounts.create_area(None, code=f"G{i}", name=f"网格{i}", level="grid",
                                                      parent_id=ids["street"]).id for i in range(2, 9)]
        common = {"version": 1, "created_at": now, "updated_at": now, "field_versions": {}}
        vrows, hrows, seq = [], [], 10
        for i in range(venues):
            seq += 1
            vrows.append(dict(common, id=str(uuid.uuid4()), server_seq=seq, code=f"BV{i:06d}",
                              name=f"{rnd.choice(['张记', '阿强', '明州', '红联', '新碶'])}{rnd.choice(['小吃店', '五金店', '出租房', '超市'])}{i}",
                              type=rnd.choice(["storefront", "group_rental", "high_rise"]), key_unit=False,
                              address=f"新碶街道明州路{i}号", area_id=rnd.choice(grids), risk_level="low",
                              listed_for_remediation=False, responsible_person="王五", contact_phone="13800001234"))
        for i in range(hazards):
            seq += 1
            hrows.append(dict(common, id=str(uuid.uuid4()), server_seq=seq, venue_id=vrows[i % venues]["id"],
                              description="楼梯间停放电动自行车并私拉电线充电", location="三楼楼梯间",
                              severity="general", correction_mode="deadline", legal_basis_codes=["XFF2021-60-1-3"],
                              photo_hashes=[], found_on=date(2026, 11, 1), deadline=date(2026, 11, 8), state="open"))
        db.session.close()  # release this session's transaction (SQLite: its write lock)
        with db.engine.begin() as conn:
            conn.execute(insert(Venue), vrows)
            conn.execute(insert(Hazard), hrows)
            conn.execute(text("UPDATE change_counter SET value = :s WHERE id = 1"), {"s": seq})
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does within a minute of a bulk load (and the venue import does at
            # once): without statistics the planner sorts every hazard in scope on every page.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    return ids


def bench_pull(kind, venues=5000, hazards=20000):
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        app = make_app(url, Path(tmp))
        seed_street(app, venues, hazards)
        with gunicorn(url, Path(tmp)) as port:
            c = Client(port).login("insp1", PASSWORD)
            c.request("GET", "/api/v1/sync/pull?cursor=999999999")  # warm-up
            t0 = time.perf_counter()
            cursor, total_bytes, rows, pages = 0, 0, 0, 0
            while True:
                _, payload, headers = c.request("GET", f"/api/v1/sync/pull?cursor={cursor}&limit=2000",
                                                headers={"Accept-Encoding": "gzip"}, raw=True)
                import gzip
                import json

                total_bytes += len(payload)
                body = json.loads(gzip.decompress(payload) if headers.get("Content-Encoding") == "gzip" else payload)
                rows += len(body["changes"])
                pages += 1
                cursor = body["cursor"]
                if not body["has_more"]:
                    break
            elapsed = time.perf_counter() - t0
    return {"db": kind, "rows": rows, "pages": pages, "seconds": elapsed, "gzip_bytes": total_bytes}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument("--skip-pull", action="store_true")
    args = ap.parse_args()
    kinds = args.db.split(",")
    print("| database | mutations | HTTP push (s) | mutations/s | raw Core insert, entity rows (s) | rows/s "
          "| HTTP ÷ raw | raw Core insert, every row written (s) | rows per batch | HTTP ÷ raw (every row) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for kind in kinds:
        r = bench_push(kind, args.batches)
        print(f"| {r['db']} | {r['mutations']} | {r['http_s']:.2f} | {r['http_rate']:.0f} | {r['raw_s']:.3f} | "
              f"{r['raw_rate']:.0f} | {r['ratio']:.1f}× | {r['all_s']:.3f} | {r['all_rows']} | "
              f"{r['all_ratio']:.1f}× |", flush=True)
        verdicts.append(f"{kind} push: {r['http_rate']:,.0f} mutations/s (target ≥ 1,000: {_met(r['http_rate'] >= 1000)}); "
                        f"{r['all_ratio']:.1f}× the raw insert of the rows it writes (target ≤ 3×: "
                        f"{_met(r['all_ratio'] <= 3)}); entity rows only {r['ratio']:.1f}× (reference)")
    if not args.skip_pull:
        print()
        print("| database | rows pulled | pages | time (s) | gzipped bytes |")
        print("|---|---|---|---|---|")
        for kind in kinds:
            r = bench_pull(kind)
            print(f"| {r['db']} | {r['rows']} | {r['pages']} | {r['seconds']:.2f} | {r['gzip_bytes']:,} |", flush=True)
            verdicts.append(f"{kind} pull: {r['seconds']:.2f} s (target < 2 s: {_met(r['seconds'] < 2)}); "
                            f"{r['gzip_bytes'] / 1e6:.2f} MB (target < 3 MB: {_met(r['gzip_bytes'] < 3e6)})")
    print()
    for line in verdicts:
        print(line)


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


if __name__ == "__main__":
    main()
