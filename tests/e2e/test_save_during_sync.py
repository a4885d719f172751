"""A save made while a sync pass is under way reaches the server and stays on the phone.

The pass reads the outbox, then uploads the batch's photos (seconds on a weak signal). A save
of the same record meanwhile folds into the queued, not yet sent mutation; the pass used to
mark the mutation sent by writing back the copy it had read, so the new note was never sent,
and the server's row then replaced the phone's."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import ItemResult
from tests.e2e import phone

pytestmark = pytest.mark.browser

NOTE = "灭火器压力不足"


def test_a_note_saved_while_the_pass_uploads_photos_is_sent(live_server, world, page, photo_files):
    phone.ready(page, live_server.url)
    phone.cut_network(page.context)
    inspection_id = phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.set_result(page, "SF-07", "pass")
    phone.add_photo(page, "SF-07", photo_files(1)[0])
    held = []  # the photo uploads, kept waiting while the note is saved

    def uploads(route):
        if route.request.method == "PUT":
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/v1/blobs/*", uploads)
    phone.restore_network(page.context)
    page.evaluate("window.dispatchEvent(new Event('online'))")  # the pass starts
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the pass did not upload the photo"
    note = phone.item(page, "SF-07").locator("textarea.note")
    note.fill(NOTE)
    note.dispatch_event("change")
    phone.wait_until(page, f"""return (await s.all('outbox')).some((m) => m.entity === 'item_result'
      && (m.fields || {{}}).note === '{NOTE}');""")
    for route in held:
        route.continue_()
    page.unroute("**/api/v1/blobs/*")
    phone.evaluate(page, "await (await import('/js/sync.js')).syncNow('test');")
    phone.wait_outbox_empty(page)
    with live_server.app.app_context():
        notes = db.session.scalars(select(ItemResult.note).where(
            ItemResult.inspection_id == inspection_id, ItemResult.item_code == "SF-07")).all()
        db.session.remove()
    assert notes == [NOTE]
    local = phone.evaluate(page, f"""return (await s.byIndex('item_results', 'inspection_id', '{inspection_id}'))
      .filter((r) => r.item_code === 'SF-07').map((r) => r.note);""")
    assert local == [NOTE]
