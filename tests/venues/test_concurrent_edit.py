"""Two edits of one venue made from the same version at the same moment: the second is told
the venue changed (409) instead of silently overwriting the first (on PostgreSQL both used to
pass the version check before either committed)."""
from __future__ import annotations

from server.extensions import db
from server.models import Venue
from tests.concurrency import race

V = "/api/v1/venues"


def test_two_edits_from_one_version_at_once_the_second_is_a_conflict(app, world, login, monkeypatch):
    one, two = login("inspector_a"), login("supervisor_a")
    created = one.post(V, json={"name": "港城大厦", "type": "high_rise", "address": "新碶街道明州路 88 号",
                                "area_id": world.grid_a.id}).get_json()
    url = f"{V}/{created['id']}"

    def edit(client, floors):
        resp = client.patch(url, json={"floors": floors, "version": 1})
        return resp.status_code, resp.get_json()

    first, second = race(app, monkeypatch, lambda: edit(one, 32), lambda: edit(two, 33), pause_on="venue.update")
    assert first[0] == 200 and first[1]["version"] == 2
    assert second[0] == 409 and second[1]["reason"] == "venue_version_conflict", second
    db.session.expire_all()
    assert db.session.get(Venue, created["id"]).floors == 32
