"""A "sync now" made while a sync pass runs is not dropped: one more pass follows the running one
(which may have pulled before the change the call is for), shared by every call made meanwhile."""
from __future__ import annotations

import pytest

from tests import factories
from tests.e2e import phone

pytestmark = pytest.mark.browser

IDLE = "const m = await import('/js/sync.js'); return !m.status().running;"


def test_calls_during_a_pass_get_one_more_pass_after_it(live_server, world, page):
    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    phone.wait_synced_reference(page)
    phone.wait_until(page, IDLE)
    before = live_server.counter.count()
    answers = phone.evaluate(page, """const m = await import('/js/sync.js');
      const calls = [m.syncNow('first'), m.syncNow('during'), m.syncNow('during too')];
      return await Promise.all(calls);""")
    pulls = [p for method, p in live_server.counter.since(before) if (method, p) == ("GET", "/api/v1/sync/pull")]
    # the first call's pass, then one pass for both calls made during it (each pass: one page here)
    assert answers == [True, True, True]
    assert len(pulls) == 2, live_server.counter.since(before)
