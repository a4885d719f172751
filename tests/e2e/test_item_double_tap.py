"""Quick taps on a checklist item's result buttons (a double tap, or "fail" then at once
"pass") record one result for the item: the second tap updates what the first created. They
used to create two item results for the same item, and the server refused the second."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e import phone

pytestmark = pytest.mark.browser


def test_two_quick_taps_on_an_item_record_one_result(live_server, world, page):
    phone.ready(page, live_server.url)
    inspection_id = phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.cut_network(page.context)
    card = phone.item(page, "SF-03")
    # Both taps land before the first one's save has finished and the card is drawn again.
    card.evaluate("""(el) => { el.querySelector('button[data-result=fail]').click();
                               el.querySelector('button[data-result=pass]').click(); }""")
    expect(phone.item(page, "SF-03")).to_have_class("card item-card pass", timeout=10000)
    stored = phone.evaluate(page, f"""return (await s.byIndex('item_results', 'inspection_id', '{inspection_id}'))
      .filter((r) => r.item_code === 'SF-03').map((r) => [r.id, r.result]);""")
    assert len(stored) == 1 and stored[0][1] == "pass", stored
    queued = [m for m in phone.outbox(page) if m["entity"] == "item_result"]
    assert {m["entity_id"] for m in queued} == {stored[0][0]}


def test_two_photos_added_quickly_to_an_item_both_stay(live_server, world, page, photo_files):
    phone.ready(page, live_server.url)
    phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.set_result(page, "SF-07", "pass")
    first, second = photo_files(2)
    photo = phone.item(page, "SF-07").locator("input.photo-input")
    photo.set_input_files(first)  # its save is still running when the second photo comes
    photo.set_input_files(second)
    expect(phone.item(page, "SF-07").locator("img.thumb")).to_have_count(2, timeout=15000)
