"""The phone pulls in pages of the server's maximum, 2000 rows (docs/sync-protocol.md §3)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests import factories
from tests.e2e import phone

pytestmark = pytest.mark.browser


def test_phone_asks_for_pages_of_2000_rows_and_stores_what_it_pulled(live_server, world, page):
    pulls = []
    page.on("request", lambda r: pulls.append(r.url) if "/api/v1/sync/pull" in r.url else None)
    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    phone.wait_synced_reference(page, leases=False)
    assert pulls
    assert all(parse_qs(urlsplit(url).query).get("limit") == ["2000"] for url in pulls), pulls
    stored = phone.evaluate(page, "return (await s.all('venues')).map((v) => v.id);")
    assert world["venue_a"] in stored
