"""Official numbers: gapless, duplicate-free, leased to phones in blocks, every fate in the register."""
from __future__ import annotations

import multiprocessing
import os
import uuid
from datetime import date

import pytest
from sqlalchemy import create_engine, select, text

from server.extensions import db
from server.models import Document, NumberCounter, NumberLease, VoidedNumber
from server.services import documents, numbering
from server.services.errors import RuleViolation
from tests.concurrency import race
from tests.documents import helpers


def _push(client, device_id, mutation):
    body = {"device_id": device_id, "schema_version": 1,
            "mutations": [dict({"mutation_id": str(uuid.uuid4()), "device_seq": 1, "base_version": None,
                                "blob_hashes": []}, **mutation)]}
    resp = client.post("/api/v1/sync/push", json=body)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["results"][0]


def test_number_format():
    assert numbering.format_number("北仑消", "限", 2026, 1) == "北仑消限字〔2026〕第0001号"
    assert numbering.format_number("北仑消", "罚决", 2026, 69) == "北仑消罚决字〔2026〕第0069号"


def test_sequential_issues_are_gapless_and_use_the_counter(world):
    helpers.legal_bases()
    numbers = [helpers.issue_complete(world, "immediate_rectification").number for _ in range(3)]
    assert numbers == [f"北仑消立字〔2026〕第000{i}号" for i in (1, 2, 3)]
    counter = db.session.get(NumberCounter, ("北仑消", "immediate_rectification", 2026))
    assert counter.next_serial == 4


def test_a_rolled_back_allocation_consumes_no_number(world):
    assert numbering.take_serials("北仑消", "deadline_rectification", 2026) == 1
    db.session.rollback()
    assert numbering.take_serials("北仑消", "deadline_rectification", 2026) == 1
    db.session.commit()
    assert numbering.take_serials("北仑消", "deadline_rectification", 2026) == 2
    db.session.rollback()


def test_an_issue_that_fails_after_numbering_consumes_no_number(world):
    helpers.legal_bases()
    lost_photo = helpers.blob(helpers.png((1, 2, 3)), store=False)  # row exists, bytes never arrived
    doc = helpers.complete_draft(world, "deadline_rectification", photos=[lost_photo])
    with pytest.raises(RuleViolation) as caught:
        documents.issue(world.users["inspector_a"], doc.id, today=helpers.ISSUE_DAY)
    assert caught.value.reason == "document_render_failed"
    db.session.rollback()
    assert helpers.issue_complete(world, "deadline_rectification").number.endswith("第0001号")


def test_leases_on_two_devices_never_overlap(world):
    a = numbering.lease_numbers(world.users["inspector_a"], kind="immediate_rectification", count=5,
                                device_id="phone-aaaa")
    b = numbering.lease_numbers(world.users["inspector_a2"], kind="immediate_rectification", count=5,
                                device_id="phone-bbbb")
    serials_a = set(range(a.first_serial, a.last_serial + 1))
    serials_b = set(range(b.first_serial, b.last_serial + 1))
    assert not serials_a & serials_b
    assert serials_a | serials_b == set(range(1, 11))


def test_lease_size_and_holding_are_capped(world):
    with pytest.raises(RuleViolation):
        numbering.lease_numbers(world.users["inspector_a"], kind="immediate_rectification", count=21,
                                device_id="phone-aaaa")
    numbering.lease_numbers(world.users["inspector_a"], kind="immediate_rectification", count=15,
                            device_id="phone-aaaa")
    with pytest.raises(RuleViolation) as caught:
        numbering.lease_numbers(world.users["inspector_a"], kind="immediate_rectification", count=6,
                                device_id="phone-aaaa")
    assert caught.value.reason == "number_lease_limit"


def test_returned_lease_numbers_are_voided_and_shown_in_the_register(world, login, on_issue_day):
    helpers.legal_bases()
    phone = login("inspector_a")
    lease = phone.post("/api/v1/numbers/leases", json={"kind": "immediate_rectification", "count": 3,
                                                        "device_id": "phone-aaaa"}).get_json()
    assert lease["numbers"][0] == "北仑消立字〔2026〕第0001号"
    doc = helpers.approve_if_needed(world, helpers.complete_draft(world, "immediate_rectification"))
    result = _push(phone, "phone-aaaa", {"entity": "document", "entity_id": doc.id, "op": "issue",
                                      "fields": {"serial": 2, "lease_id": lease["id"],
                                                 "issued_at_device": "2026-03-03T10:00:00+08:00"}})
    assert result["status"] == "applied", result
    helpers.issue_complete(world, "immediate_rectification")  # online: takes serial 4
    back = phone.post(f"/api/v1/numbers/leases/{lease['id']}/return", json={"reason": "手机更换"})
    assert back.status_code == 200 and back.get_json()["voided"] == [1, 3]
    register = login("supervisor_a").get("/api/v1/numbers/register?kind=immediate_rectification&year=2026")
    assert register.status_code == 200
    fates = {r["serial"]: r for r in register.get_json()["items"]}
    assert fates[1]["fate"] == "voided" and fates[1]["reason"] == "手机更换"
    assert fates[2]["fate"] == "issued" and fates[2]["document_id"] == doc.id
    assert fates[3]["fate"] == "voided"
    assert fates[4]["fate"] == "issued"
    assert fates[5]["fate"] == "free"
    assert register.get_json()["counts"]["missing"] == 0
    # A voided serial is never handed out again, not even through sync.
    other = helpers.complete_draft(world, "immediate_rectification")
    again = _push(phone, "phone-aaaa", {"entity": "document", "entity_id": other.id, "op": "issue",
                                     "fields": {"serial": 3, "lease_id": lease["id"]}})
    assert again["status"] == "rejected" and again["reason"] == "number_serial_voided"


def test_register_shows_leased_unused_numbers(world, login, on_issue_day):
    numbering.lease_numbers(world.users["inspector_a"], kind="deadline_rectification", count=2,
                            device_id="phone-aaaa")
    items = login("supervisor_a").get("/api/v1/numbers/register?kind=deadline_rectification&year=2026").get_json()["items"]
    assert [(r["fate"], r["device_id"]) for r in items] == [("leased", "phone-aaaa"), ("leased", "phone-aaaa"),
                                                            ("free", None)]
    assert login("inspector_a").get("/api/v1/numbers/register?kind=deadline_rectification&year=2026").status_code == 403


def test_offline_issue_with_another_devices_lease_is_refused(world, login):
    helpers.legal_bases()
    lease_b = numbering.lease_numbers(world.users["inspector_a2"], kind="immediate_rectification", count=2,
                                      device_id="phone-bbbb")
    doc = helpers.complete_draft(world, "immediate_rectification")
    result = _push(login("inspector_a"), "phone-aaaa", {
        "entity": "document", "entity_id": doc.id, "op": "issue",
        "fields": {"serial": lease_b.first_serial, "lease_id": lease_b.id}})
    assert result["status"] == "rejected" and result["reason"] == "number_lease_wrong_device"
    assert db.session.get(Document, doc.id).state == "draft"


def test_a_used_leased_serial_cannot_be_used_twice(world, login):
    helpers.legal_bases()
    phone = login("inspector_a")
    lease = numbering.lease_numbers(world.users["inspector_a"], kind="immediate_rectification", count=2,
                                    device_id="phone-aaaa")
    first = helpers.complete_draft(world, "immediate_rectification")
    second = helpers.complete_draft(world, "immediate_rectification")
    fields = {"serial": lease.first_serial, "lease_id": lease.id}
    assert _push(phone, "phone-aaaa", {"entity": "document", "entity_id": first.id, "op": "issue",
                                    "fields": fields})["status"] == "applied"
    dup = _push(phone, "phone-aaaa", {"entity": "document", "entity_id": second.id, "op": "issue", "fields": fields})
    assert dup["status"] == "rejected" and dup["reason"] == "number_serial_used"


def test_next_years_numbers_can_be_leased_in_december_only(world, login, monkeypatch):
    inspector = world.users["inspector_a"]

    def lease(year, today):
        return numbering.lease_numbers(inspector, kind="immediate_rectification", count=2, device_id="phone-aaaa",
                                       year=year, today=today)
    with pytest.raises(RuleViolation) as refused:
        lease(2027, date(2026, 11, 30))
    assert refused.value.reason == "number_lease_year"
    with pytest.raises(RuleViolation):
        lease(2025, date(2026, 12, 1))  # never last year's
    ahead = lease(2027, date(2026, 12, 1))
    assert (ahead.year, ahead.first_serial) == (2027, 1)
    assert lease(None, date(2026, 12, 1)).year == 2026  # the default stays this year
    # Through the API, in December by the server's clock; the holding cap counts per year.
    monkeypatch.setattr(numbering, "local_today", lambda now=None: date(2026, 12, 28))
    resp = login("inspector_a").post("/api/v1/numbers/leases", json={
        "kind": "immediate_rectification", "count": 18, "device_id": "phone-aaaa", "year": 2027})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["numbers"][0] == "北仑消立字〔2027〕第0003号"
    monkeypatch.setattr(numbering, "local_today", lambda now=None: date(2026, 11, 28))
    resp = login("inspector_a").post("/api/v1/numbers/leases", json={
        "kind": "immediate_rectification", "count": 1, "device_id": "phone-aaaa", "year": 2027})
    assert resp.status_code == 422 and resp.get_json()["reason"] == "number_lease_year"
    assert "2027" in resp.get_json()["message"]


def test_last_years_lease_issues_until_new_year_and_is_refused_after(world, login):
    """A phone that leased numbers in December issues with them on 31 December; on 2 January
    the same lease would print last year in the number, so the issue is refused, the document
    stays a draft and the serial stays free for voiding."""
    helpers.legal_bases()
    phone = login("inspector_a")
    lease = numbering.lease_numbers(world.users["inspector_a"], kind="immediate_rectification", count=3,
                                    device_id="phone-aaaa", today=date(2025, 12, 30))
    assert lease.year == 2025
    before, after = (helpers.complete_draft(world, "immediate_rectification") for _ in range(2))
    on_new_years_eve = _push(phone, "phone-aaaa", {"entity": "document", "entity_id": before.id, "op": "issue",
                                                "fields": {"serial": lease.first_serial, "lease_id": lease.id,
                                                           "issued_at_device": "2025-12-31T23:50:00+08:00"}})
    assert on_new_years_eve["status"] == "applied", on_new_years_eve
    assert db.session.get(Document, before.id).number == "北仑消立字〔2025〕第0001号"
    after_new_year = _push(phone, "phone-aaaa", {"entity": "document", "entity_id": after.id, "op": "issue",
                                              "fields": {"serial": lease.first_serial + 1, "lease_id": lease.id,
                                                         "issued_at_device": "2026-01-02T09:00:00+08:00"}})
    assert after_new_year["status"] == "rejected" and after_new_year["reason"] == "number_lease_other_year"
    assert "2025" in after_new_year["message"] and "2026" in after_new_year["message"]
    assert db.session.get(Document, after.id).state == "draft"
    assert numbering.unused_serials(db.session.get(NumberLease, lease.id)) == [2, 3]


# ------------------------------------------------------------------ a return racing another request

def test_two_returns_of_one_lease_at_once_void_its_numbers_once(app, world, login, monkeypatch, on_issue_day):
    """A phone's two sync passes (or two tabs) returning the same block at once: one closes it,
    the other is told it is closed; before, on PostgreSQL, both voided the serials and the second
    failed with a 500 on the voided-numbers key."""
    lease_id = numbering.lease_numbers(world.users["inspector_a"], kind="deadline_rectification", count=3,
                                       device_id="phone-aaaa").id
    phones = [login("inspector_a"), login("inspector_a")]

    def back(phone):
        resp = phone.post(f"/api/v1/numbers/leases/{lease_id}/return", json={"reason": "跨年未使用，号段退回作废"})
        return resp.status_code, resp.get_json()

    first, second = race(app, monkeypatch, lambda: back(phones[0]), lambda: back(phones[1]),
                          pause_on="number.lease_return")
    assert first[0] == 200 and first[1]["voided"] == [1, 2, 3]
    assert second[0] == 422 and second[1]["reason"] == "number_lease_closed", second
    db.session.expire_all()
    voided = db.session.scalars(select(VoidedNumber.serial).where(VoidedNumber.lease_id == lease_id)).all()
    assert sorted(voided) == [1, 2, 3]


def test_a_return_during_an_offline_issue_on_the_lease_voids_around_its_number(
        app, world, login, monkeypatch, on_issue_day):
    """The phone's queued notice reaches the server while the same block is being returned: the
    return waits for the issue and voids only the serials left, so no number is both issued and
    voided."""
    helpers.legal_bases()
    lease_id = numbering.lease_numbers(world.users["inspector_a"], kind="immediate_rectification", count=3,
                                       device_id="phone-aaaa").id
    doc_id = helpers.complete_draft(world, "immediate_rectification").id
    phones = [login("inspector_a"), login("inspector_a")]

    def issue():
        return _push(phones[0], "phone-aaaa", {
            "entity": "document", "entity_id": doc_id, "op": "issue",
            "fields": {"serial": 2, "lease_id": lease_id, "issued_at_device": "2026-03-03T10:00:00+08:00"}})

    def back():
        resp = phones[1].post(f"/api/v1/numbers/leases/{lease_id}/return", json={"reason": "手机更换"})
        return resp.status_code, resp.get_json()

    issued, returned = race(app, monkeypatch, issue, back, pause_on="document.issue")
    assert issued["status"] == "applied", issued
    assert returned[0] == 200 and returned[1]["voided"] == [1, 3], returned
    db.session.expire_all()
    assert db.session.get(Document, doc_id).serial == 2


# ------------------------------------------------------------------ many processes, one PostgreSQL

WORKERS, PER_WORKER = 8, 250


def _allocate_many(url: str, worker: int, out) -> None:
    """One app process: its own engine, one transaction per number, every 10th rolled back."""
    engine = create_engine(url, pool_size=1)
    from flask import Flask

    app = Flask("alloc")
    app.config.update(SQLALCHEMY_DATABASE_URI=url, AGENCY_SHORT_NAME="北仑消")
    db.init_app(app)
    got = []
    with app.app_context():
        attempt = 0
        while len(got) < PER_WORKER:
            attempt += 1
            serial = numbering.take_serials("北仑消", "deadline_rectification", 2026)
            if attempt % 10 == 0:
                db.session.rollback()  # an issue that failed: its number goes back
                continue
            db.session.execute(text("INSERT INTO voided_numbers (agency, kind, year, serial, reason, voided_at) "
                                    "VALUES ('北仑消', 'deadline_rectification', 2026, :s, :r, now())"),
                               {"s": serial, "r": f"worker {worker}"})
            db.session.commit()
            got.append(serial)
    engine.dispose()
    out.put(got)


@pytest.mark.postgres
@pytest.mark.slow
def test_eight_processes_allocate_2000_distinct_gapless_numbers(db):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("needs PostgreSQL: set DATABASE_URL to a PostgreSQL database")
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_allocate_many, args=(url, w, out)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    serials = [s for r in results for s in r]
    assert len(serials) == WORKERS * PER_WORKER == 2000
    assert sorted(serials) == list(range(1, 2001))  # distinct and gapless, rollbacks included
    stored = db.session.scalars(select(text("serial")).select_from(text("voided_numbers"))).all()
    assert sorted(stored) == list(range(1, 2001))
