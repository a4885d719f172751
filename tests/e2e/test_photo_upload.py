"""Photo uploads during sync: asked for in one question, sent several at once, and never
overtaken by the push that names them — even when one of them fails on the way."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from server.extensions import db
from tests import factories
from tests.e2e import phone

pytestmark = pytest.mark.browser


def held_blobs(live_server, hashes) -> set[str]:
    from server.models import Blob

    with live_server.app.app_context():
        return set(db.session.scalars(select(Blob.sha256).where(Blob.sha256.in_(list(hashes)))))


def test_a_failed_photo_upload_holds_back_the_push_and_only_that_photo_is_sent_again(
        live_server, world, page, photo_files):
    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    phone.wait_worker(page)
    phone.wait_synced_reference(page)
    phone.cut_network(page.context)
    phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    codes = ["SF-03", "SF-06", "SF-07"]
    for code, path in zip(codes, photo_files(3, start=40)):
        phone.set_result(page, code, "pass")
        phone.add_photo(page, code, path)
    photo_hashes = set(phone.phone_blobs(page))
    assert len(photo_hashes) == 3

    puts, asks, unheld_at_push = [], [], []

    def blobs_route(route):
        if route.request.method == "POST":  # POST /blobs/missing
            asks.append(route.request.post_data_json["hashes"])
            route.continue_()
            return
        puts.append(route.request.url.rsplit("/", 1)[1])
        if len(puts) == 2:
            route.abort("connectionreset")  # the second photo never arrives
        else:
            route.continue_()

    def push_route(route):
        named = {h for m in route.request.post_data_json["mutations"] for h in m.get("blob_hashes", [])}
        unheld_at_push.append(named - held_blobs(live_server, named))
        route.continue_()

    page.route("**/api/v1/blobs/*", blobs_route)
    page.route("**/api/v1/sync/push", push_route)
    phone.restore_network(page.context)
    phone.wait_outbox_empty(page, timeout=60000)

    assert set(asks[0]) == photo_hashes  # one question for the whole batch, not a HEAD per photo
    assert set(puts[:3]) == photo_hashes
    assert puts[3:] == [puts[1]], "only the photo that failed is uploaded again"
    assert unheld_at_push and all(not missing for missing in unheld_at_push), \
        "a push named a photo the server did not hold yet"
    assert held_blobs(live_server, photo_hashes) == photo_hashes
    assert phone.evaluate(page, "return (await s.all('blobs')).every((b) => b.uploaded);")
