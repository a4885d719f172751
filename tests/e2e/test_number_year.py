"""New Year on the phone: last year's leased numbers stop numbering notices, this year's are
leased, and last year's blocks go back to the server (their unused numbers voided with a
reason) once no queued notice uses them."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.extensions import db
from server.models import NumberLease, VoidedNumber
from server.services import numbering
from tests import factories
from tests.e2e import phone

pytestmark = pytest.mark.browser
CHINA = timezone(timedelta(hours=8))


def in_november(page, monkeypatch) -> int:
    """Server and phone in late November of the real year (no December lease ahead yet), the
    phone's clock running; returns the year."""
    year = numbering.local_today().year
    monkeypatch.setattr(numbering, "local_today", lambda now=None: date(year, 11, 20))
    page.clock.set_system_time(datetime(year, 11, 20, 9, 0, tzinfo=CHINA))
    return year


def held(page) -> list[tuple[str, int]]:
    return sorted((l["kind"], l["year"]) for l in phone.evaluate(page, "return await s.getMeta('leases', []);"))


def server_lease(live_server, lease_id):
    with live_server.app.app_context():
        lease = db.session.get(NumberLease, lease_id)
        voided = db.session.scalars(select(VoidedNumber).where(VoidedNumber.lease_id == lease_id)).all()
        out = (lease.closed_at is not None, sorted(v.serial for v in voided), {v.reason for v in voided})
        db.session.remove()
        return out


def test_after_new_year_the_phone_numbers_with_this_years_block_and_returns_last_years(
        live_server, world, page, monkeypatch):
    this_year = in_november(page, monkeypatch)
    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    phone.wait_worker(page)
    phone.wait_synced_reference(page)  # one block per notice kind
    phone.wait_until(page, "return !(await import('/js/sync.js')).status().running;")
    assert phone.evaluate(page, "return (await import('/js/domain.js')).leaseYears();") == [this_year]
    assert held(page) == [("deadline_rectification", this_year), ("immediate_rectification", this_year)]
    leases = phone.evaluate(page, "return await s.getMeta('leases', []);")
    old = {l["kind"]: l for l in leases}
    # A hazard to write a notice for, synced before the year turns.
    inspection_id = phone.inspection_with_hazard(page, world)
    phone.wait_outbox_empty(page)
    phone.wait_until(page, "return !(await import('/js/sync.js')).status().running;")

    # New Year, on the server and on the phone.
    new_year = this_year + 1
    monkeypatch.setattr(numbering, "local_today", lambda now=None: date(new_year, 1, 2))
    page.clock.set_fixed_time(datetime(new_year, 1, 2, 9, 0, tzinfo=CHINA))

    # Last year's block no longer gives a number; the notice screen says why.
    assert phone.evaluate(page, f"""const d = await import('/js/domain.js');
      const leases = await s.getMeta('leases', []);
      return [d.issueYear(), d.nextLeasedNumber(leases, 'immediate_rectification', d.issueYear()),
              d.remainingNumbers(leases, 'immediate_rectification', d.issueYear())];""") == [new_year, None, 0]
    phone.go(page, f"/inspections/{inspection_id}/notice")
    expect(page.locator("#lease-info")).to_have_text(
        f"本机只有往年的文号，不能用于 {new_year} 年的文书；请联网同步以领取 {new_year} 年的文号。")
    page.locator("button.issue").click()
    expect(page.get_by_role("alert")).to_contain_text("本机只有往年的文号")
    assert phone.outbox_count(page) == 0  # nothing was issued

    # A notice issued offline with last year's deadline block is still queued: that block stays.
    queued_lease = old["deadline_rectification"]["id"]
    phone.evaluate(page, f"""
      await s.commit({{ userId: {world["users"]["inspector_a"]}, changes: [{{ entity: 'document', id: crypto.randomUUID(),
        op: 'issue', record: null, fields: {{ serial: 1, lease_id: '{queued_lease}' }}, base_version: null }}] }});
      const sync = await import('/js/sync.js');
      await sync.topUpLeases();""")
    assert held(page) == [("deadline_rectification", this_year), ("deadline_rectification", new_year),
                          ("immediate_rectification", new_year)]
    closed, voided, reasons = server_lease(live_server, old["immediate_rectification"]["id"])
    assert closed and voided == list(range(old["immediate_rectification"]["first_serial"],
                                           old["immediate_rectification"]["last_serial"] + 1))
    assert reasons == {"跨年未使用，号段退回作废"}
    assert server_lease(live_server, queued_lease) == (False, [], set())
    fresh = phone.evaluate(page, """const d = await import('/js/domain.js');
      return d.nextLeasedNumber(await s.getMeta('leases', []), 'immediate_rectification', d.issueYear());""")
    assert fresh["number"] == f"北仑消立字〔{new_year}〕第0001号"

    # Once that notice has left the outbox, the next pass returns the block.
    phone.evaluate(page, """const box = await s.all('outbox');
      await s.tx(['outbox'], 'readwrite', async (t) => { for (const m of box) t.objectStore('outbox').delete(m.mutation_id); });
      await (await import('/js/sync.js')).topUpLeases();""")
    assert held(page) == [("deadline_rectification", new_year), ("immediate_rectification", new_year)]
    assert server_lease(live_server, queued_lease)[0] is True


def test_in_december_the_phone_also_leases_next_years_numbers_and_numbers_with_them_offline_after_new_year(
        live_server, world, page, monkeypatch):
    year = in_november(page, monkeypatch)
    phone.ready(page, live_server.url)
    inspection_id = phone.inspection_with_hazard(page, world)
    phone.wait_outbox_empty(page)
    phone.wait_until(page, "return !(await import('/js/sync.js')).status().running;")

    # 28 December: a sync keeps a block of each year; this year's stays in use. Two top-ups at
    # once (a pass and the `online` event's) lease one block each, not two.
    monkeypatch.setattr(numbering, "local_today", lambda now=None: date(year, 12, 28))
    page.clock.set_fixed_time(datetime(year, 12, 28, 9, 0, tzinfo=CHINA))
    phone.evaluate(page, "const m = await import('/js/sync.js'); await Promise.all([m.topUpLeases(), m.topUpLeases()]);")
    assert held(page) == [("deadline_rectification", year), ("deadline_rectification", year + 1),
                          ("immediate_rectification", year), ("immediate_rectification", year + 1)]
    leases = phone.evaluate(page, "return await s.getMeta('leases', []);")
    assert all(server_lease(live_server, l["id"])[0] is False for l in leases)

    # 2 January, no signal: the notice takes the new year's first number.
    phone.cut_network(page.context)
    page.clock.set_fixed_time(datetime(year + 1, 1, 2, 9, 0, tzinfo=CHINA))
    phone.go(page, f"/inspections/{inspection_id}/notice")
    expect(page.locator("#lease-info")).to_have_text(
        f"将使用文号：北仑消限字〔{year + 1}〕第0001号（本机剩余 10 个）")

    # Back online after New Year: last year's blocks go back, their unused numbers voided.
    phone.restore_network(page.context)
    monkeypatch.setattr(numbering, "local_today", lambda now=None: date(year + 1, 1, 2))
    phone.evaluate(page, "const m = await import('/js/sync.js'); await Promise.all([m.topUpLeases(), m.topUpLeases()]);")
    assert held(page) == [("deadline_rectification", year + 1), ("immediate_rectification", year + 1)]
    for lease in leases:
        if lease["year"] == year:
            closed, voided, reasons = server_lease(live_server, lease["id"])
            assert closed and voided == list(range(lease["first_serial"], lease["last_serial"] + 1))
            assert reasons == {"跨年未使用，号段退回作废"}
