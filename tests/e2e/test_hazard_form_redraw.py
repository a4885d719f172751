"""The hazard form of a failed item while the inspector adds a photo to the item: what was
typed in the form survives the redraw that the photo's save causes, and the hazard saved right
after carries the photo even if it was still being prepared."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e import phone

pytestmark = pytest.mark.browser


def test_typed_hazard_fields_survive_a_photo_and_the_hazard_gets_it(live_server, world, page, photo_files):
    phone.ready(page, live_server.url)
    phone.cut_network(page.context)
    inspection_id = phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.set_result(page, "SF-03", "fail")
    card = phone.item(page, "SF-03")
    card.locator("input[name=location]").fill("一楼仓库门口")
    card.locator("textarea[name=description]").fill("仓库门口堆放纸箱，堵塞疏散通道")
    card.locator("input.photo-input").set_input_files(photo_files(1)[0])
    # Saved at once, while the photo may still be being prepared.
    card.locator("button.save-hazard").click()
    expect(phone.item(page, "SF-03").locator("p.ok")).to_be_visible(timeout=10000)
    expect(phone.item(page, "SF-03").locator("img.thumb")).to_have_count(1)
    hazards = phone.evaluate(page, f"return await s.byIndex('hazards', 'inspection_id', '{inspection_id}');")
    result = phone.evaluate(page, f"""return (await s.byIndex('item_results', 'inspection_id', '{inspection_id}'))
      .find((r) => r.item_code === 'SF-03');""")
    assert [(x["location"], x["description"]) for x in hazards] == [("一楼仓库门口", "仓库门口堆放纸箱，堵塞疏散通道")]
    assert len(result["photo_hashes"]) == 1 and hazards[0]["photo_hashes"] == result["photo_hashes"]


def test_text_typed_before_a_photo_is_still_there_after_it(live_server, world, page, photo_files):
    phone.ready(page, live_server.url)
    phone.cut_network(page.context)
    phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.set_result(page, "SF-03", "fail")
    phone.item(page, "SF-03").locator("input[name=location]").fill("二楼走道")
    page.locator("textarea[name=summary]").fill("现场检查发现火灾隐患1处。")
    phone.add_photo(page, "SF-03", photo_files(1)[0])  # the save redraws the page
    expect(phone.item(page, "SF-03").locator("input[name=location]")).to_have_value("二楼走道")
    expect(page.locator("textarea[name=summary]")).to_have_value("现场检查发现火灾隐患1处。")
