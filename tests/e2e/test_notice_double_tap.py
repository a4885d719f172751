"""A double tap on "issue" issues one notice with one number (a slow phone shows nothing for a
moment after the first tap, and the second tap used to issue a second notice with the same
number, which the server then refused as `number_serial_used`)."""
from __future__ import annotations

import pytest

from tests.e2e import phone

pytestmark = pytest.mark.browser


def test_a_double_tap_on_issue_issues_one_notice(live_server, world, page):
    phone.ready(page, live_server.url)
    inspection_id = phone.inspection_with_hazard(page, world)
    phone.cut_network(page.context)
    phone.go(page, f"/inspections/{inspection_id}/notice")
    page.locator("#notice-preview").wait_for()
    # Two taps before the first one's save has finished.
    page.evaluate("() => { const b = document.querySelector('button.issue'); b.click(); b.click(); }")
    page.wait_for_url("**/notice?doc=*")
    issues = [m for m in phone.outbox(page) if m["entity"] == "document" and m["op"] == "issue"]
    assert len(issues) == 1, [m["fields"]["serial"] for m in issues]
    documents = phone.evaluate(page, "return await s.all('documents');")
    assert len(documents) == 1
    leases = phone.evaluate(page, "return await s.getMeta('leases', []);")
    used = [(l["id"], serial) for l in leases for serial in l.get("used", [])]
    assert used == [(issues[0]["fields"]["lease_id"], issues[0]["fields"]["serial"])]


def test_two_tabs_issuing_at_once_take_two_numbers(live_server, world, page):
    """Each tab reads the same next free number; the number is checked free inside the save,
    so the tab that commits second takes the next one."""
    phone.ready(page, live_server.url)
    inspection_id = phone.inspection_with_hazard(page, world)
    phone.go(page, f"/inspections/{inspection_id}/notice")
    other = page.context.new_page()
    other.goto(f"{live_server.url}/inspections/{inspection_id}/notice")
    phone.wait_ready(other)
    for tab in (page, other):
        tab.locator("#notice-preview").wait_for()
        tab.evaluate("() => { new BroadcastChannel('tap').onmessage = () => document.querySelector('button.issue').click(); }")
    page.evaluate("() => new BroadcastChannel('tap').postMessage('now')")  # both tabs tap at once
    for tab in (page, other):
        tab.wait_for_url("**/notice?doc=*")
    issues = [m for m in phone.outbox(page) if m["entity"] == "document" and m["op"] == "issue"]
    assert sorted(m["fields"]["serial"] for m in issues) == [1, 2]
    leases = phone.evaluate(page, "return await s.getMeta('leases', []);")
    assert sorted(serial for l in leases for serial in l.get("used", [])) == [1, 2]


def test_the_save_refuses_a_number_another_save_took_first(live_server, world, page):
    """The check inside the save itself, with no tab timing involved: two saves that chose the
    same number at once; the second is undone (NumberTaken) and leaves nothing behind."""
    phone.ready(page, live_server.url)
    phone.cut_network(page.context)
    outcome = phone.evaluate(page, """
      const d = await import('/js/data.js');
      const dom = await import('/js/domain.js');
      const held = await s.getMeta('leases', []);
      const next = dom.nextLeasedNumber(held, 'immediate_rectification', dom.issueYear());
      const issue = (id) => {
        const fields = { kind: 'immediate_rectification', serial: next.serial, lease_id: next.lease_id };
        return d.save({ changes: [d.change('document', { id, ...fields, state: 'issued' }, fields, 'issue')],
          extraMeta: { leases: (l) => dom.markNumberUsed(l, next.lease_id, next.serial) } });
      };
      const results = await Promise.allSettled([issue('doc-one'), issue('doc-two')]);
      return { results: results.map((r) => r.status === 'fulfilled' ? 'saved' : r.reason.name),
               documents: (await s.all('documents')).map((x) => x.id),
               queued: (await s.all('outbox')).filter((m) => m.entity === 'document').map((m) => m.entity_id),
               used: (await s.getMeta('leases', [])).flatMap((l) => l.used || []) };""")
    assert outcome == {"results": ["saved", "NumberTaken"], "documents": ["doc-one"], "queued": ["doc-one"],
                       "used": [1]}
