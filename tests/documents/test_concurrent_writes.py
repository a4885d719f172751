"""Two requests that decide on the same state at the same moment: the second one decides on
what the first committed, never on what both read before (see server/database.py: on
PostgreSQL a write request queues behind the other writers when its transaction begins).

Each test pauses the first request inside its transaction, after its checks, and lets it commit
only once the second is waiting (tests/concurrency.py). On PostgreSQL each fails without the
lock taken at the start of a write request (or by the daily tick)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEvent, Document, Hazard
from server.services import hazards
from tests.concurrency import race
from tests.documents import helpers


def _post(client, url, body=None):
    resp = client.post(url, json=body or {})
    return resp.status_code, resp.get_json()


def _notified_hazard(world) -> str:
    return helpers.hazard(world, state="notified", deadline=date(2026, 3, 17)).id


def test_two_moves_of_one_hazard_at_once_the_second_is_refused(app, world, login, monkeypatch):
    """Verified fixed on one phone while another marks it overdue: before, both were applied
    and the last commit won, so a fixed hazard could end up overdue."""
    hazard_id = _notified_hazard(world)
    url = f"/api/v1/hazards/{hazard_id}/transitions"
    one, two = login("inspector_a"), login("inspector_a2")
    verified, overdue = race(app, monkeypatch, lambda: _post(one, url, {"action": "verify_fixed"}),
                             lambda: _post(two, url, {"action": "mark_overdue", "as_of": "2026-03-20"}),
                             pause_on="hazard.verify_fixed")
    assert verified[0] == 200 and verified[1]["state"] == "verified_fixed"
    assert overdue[0] == 422 and overdue[1]["reason"] == "illegal_transition", overdue
    db.session.expire_all()
    assert db.session.get(Hazard, hazard_id).state == "verified_fixed"


def test_the_daily_tick_does_not_mark_overdue_a_hazard_verified_meanwhile(app, world, login, monkeypatch):
    hazard_id = _notified_hazard(world)
    inspector = login("inspector_a")

    def tick():
        marked = [h.id for h in hazards.mark_overdue_hazards(date(2026, 3, 20))]
        db.session.remove()
        return marked

    verified, marked = race(app, monkeypatch,
                            lambda: _post(inspector, f"/api/v1/hazards/{hazard_id}/transitions",
                                          {"action": "verify_fixed"}),
                            tick, pause_on="hazard.verify_fixed")
    assert verified[0] == 200
    assert marked == []
    db.session.expire_all()
    assert db.session.get(Hazard, hazard_id).state == "verified_fixed"
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == hazard_id)).all()
    assert "hazard.mark_overdue" not in actions


def test_a_double_tap_on_issue_issues_once(app, world, login, monkeypatch, on_issue_day):
    """Before, the second request also took a number and failed on the frozen row with a 500."""
    helpers.legal_bases()
    kind = "deadline_rectification"
    doc_id = helpers.approve_if_needed(world, helpers.complete_draft(world, kind)).id
    issuer = helpers.issuer(world, kind).username
    taps = [login(issuer), login(issuer)]
    url = f"/api/v1/documents/{doc_id}/issue"
    first, second = race(app, monkeypatch, lambda: _post(taps[0], url), lambda: _post(taps[1], url),
                         pause_on="document.issue")
    assert first[0] == 200 and second[0] == 200, (first, second)
    assert first[1]["number"] == second[1]["number"] == "北仑消限字〔2026〕第0001号"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Document).where(Document.serial.is_not(None))) == 1


def test_two_first_services_of_one_notice_at_once_serve_it_once(app, world, login, monkeypatch, on_issue_day):
    """Both inspectors record the service from their phones: one is the first service (it
    starts the deadline and notifies the hazards), the other a second record. Before, both were
    taken as the first."""
    helpers.legal_bases()
    doc_id = helpers.issue_complete(world, "deadline_rectification").id
    url = f"/api/v1/documents/{doc_id}/service-records"
    body = {"method": "in_person", "place": world.venue_a.address, "recipient_name": "王五",
            "recipient_relation": "本人"}
    one, two = login("inspector_a"), login("inspector_a2")
    first, second = race(app, monkeypatch,
                         lambda: _post(one, url, dict(body, served_at="2026-03-05T10:00:00+08:00")),
                         lambda: _post(two, url, dict(body, served_at="2026-03-06T10:00:00+08:00")),
                         pause_on="document.serve")
    assert first[0] == 201 and second[0] == 201, (first, second)
    db.session.expire_all()
    assert db.session.get(Document, doc_id).served_on == date(2026, 3, 5)
    served = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_id == doc_id, AuditEvent.action == "document.served")).all()
    assert len(served) == 1
    notified = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "hazard.notify"))
    assert notified == 2  # the notice's two hazards, once each


def test_two_leases_at_once_keep_to_the_holding_limit(app, world, login, monkeypatch, on_issue_day):
    phones = [login("inspector_a"), login("inspector_a")]
    body = {"kind": "immediate_rectification", "count": 20, "device_id": "phone-aaaa"}
    first, second = race(app, monkeypatch, lambda: _post(phones[0], "/api/v1/numbers/leases", body),
                         lambda: _post(phones[1], "/api/v1/numbers/leases", body), pause_on="number.lease")
    assert first[0] == 201, first
    assert second[0] == 422 and second[1]["reason"] == "number_lease_limit", second
