"""A door's outcome tapped on a list drawn before a sync pulled a colleague's change to the
door: the tap sends the outcome (with the visit's inspection link) on the door as stored now,
and the colleague's note survives, on the phone and on the server, with no conflict."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from server.extensions import db
from server.models import CampaignDoor, User
from server.services import campaigns, numbering
from tests.e2e import phone

pytestmark = pytest.mark.browser
NOTE = "二房东电话 13800001111，晚上在家"


def test_an_outcome_tapped_on_an_old_list_keeps_a_colleagues_note(live_server, world, page):
    with live_server.app.app_context():
        admin = db.session.get(User, world["users"]["admin"])
        today = numbering.local_today()
        campaign = campaigns.create_campaign(admin, name="群租房消防安全专项整治", starts_on=today - timedelta(days=1),
                                             ends_on=today + timedelta(days=30), venue_types=["group_rental"],
                                             area_ids=[world["grid_a"]])
        door = campaigns.add_doors(admin, campaign.id, [{"label": "3幢201", "address": "明州路 12 号",
                                                          "area_id": world["grid_a"]}])[0]
        campaign_id, door_id = campaign.id, door.id
        db.session.remove()
    phone.ready(page, live_server.url)
    phone.wait_until(page, f"return !!(await s.get('campaign_doors', '{door_id}'));")
    phone.go(page, f"/campaigns/{campaign_id}")
    expect(page.locator(f"li[data-door='{door_id}']")).to_be_visible()

    # A colleague notes something on the door; this phone pulls it, the list stays as drawn.
    with live_server.app.app_context():
        colleague = db.session.get(User, world["users"]["inspector_a2"])
        campaigns.record_visit(colleague, db.session.get(CampaignDoor, door_id), {"note": NOTE})
        db.session.remove()
    phone.evaluate(page, "await (await import('/js/sync.js')).syncNow('test');")
    phone.wait_until(page, f"return (await s.get('campaign_doors', '{door_id}')).note === '{NOTE}';")

    phone.cut_network(page.context)
    page.locator(f"li[data-door='{door_id}'] button[data-outcome=nobody_home]").click()
    phone.wait_until(page, "return (await s.all('outbox')).some((m) => m.entity === 'campaign_door');")
    sent = [m for m in phone.outbox(page) if m["entity"] == "campaign_door"]
    assert [m["fields"] for m in sent] == [{"outcome": "nobody_home", "inspection_id": None}]
    assert phone.evaluate(page, f"return (await s.get('campaign_doors', '{door_id}')).note;") == NOTE

    phone.restore_network(page.context)
    phone.evaluate(page, "await (await import('/js/sync.js')).syncNow('test');")
    phone.wait_outbox_empty(page)
    assert phone.evaluate(page, "return (await s.all('conflicts')).length;") == 0
    with live_server.app.app_context():
        stored = db.session.get(CampaignDoor, door_id)
        assert (stored.outcome, stored.note) == ("nobody_home", NOTE)
        db.session.remove()
