"""A venue moved to a grid outside the inspector's areas leaves the phone with its records;
records with unsynced changes stay (docs/sync-protocol.md, left_scope)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import Area, Hazard, User, Venue
from server.services import hazards
from tests import factories
from tests.e2e import phone

pytestmark = pytest.mark.browser

HELD = """const v = VENUE; const h = {
  venue: !!(await s.get('venues', v)),
  inspections: (await s.all('inspections')).filter((r) => r.venue_id === v).length,
  hazards: (await s.all('hazards')).filter((r) => r.venue_id === v).length,
};"""


def test_a_venue_that_leaves_the_inspectors_areas_goes_with_its_records(live_server, world, page):
    venue_id = world["venue_a"]
    with live_server.app.app_context():
        a, a2 = (db.session.get(User, world["users"][n]) for n in ("inspector_a", "inspector_a2"))
        venue = db.session.get(Venue, venue_id)
        insp = factories.inspection(a, venue, second=a2)
        for text in ("消防通道堆放杂物", "灭火器过期"):
            hazards.create_hazard(a, venue_id=venue_id, inspection_id=insp.id, description=text)
        db.session.commit()

    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    phone.wait_synced_reference(page, leases=False)
    held = HELD.replace("VENUE", repr(venue_id))
    phone.wait_until(page, held + "return h.hazards === 2;")
    assert phone.evaluate(page, held + "return h;") == {"venue": True, "inspections": 1, "hazards": 2}

    with live_server.app.app_context():
        other = db.session.scalar(select(Area).where(Area.level == "grid", Area.id != world["grid_a"]))
        db.session.get(Venue, venue_id).area_id = other.id
        db.session.commit()
        assert db.session.scalar(select(Hazard.id).where(Hazard.venue_id == venue_id)) is not None

    phone.evaluate(page, "const sync = await import('/js/sync.js'); await sync.syncNow('test'); return true;")
    phone.wait_until(page, held + "return !h.venue;")
    assert phone.evaluate(page, held + "return h;") == {"venue": False, "inspections": 0, "hazards": 0}


def test_records_with_unsynced_changes_stay_when_their_venue_leaves(live_server, world, page, context):
    """The phone keeps what it has not sent yet: a hazard with a queued change stays (and so
    does nothing else of the venue's); applied to the phone's real store by the real code."""
    venue_id = world["venue_a"]
    with live_server.app.app_context():
        a, a2 = (db.session.get(User, world["users"][n]) for n in ("inspector_a", "inspector_a2"))
        insp = factories.inspection(a, db.session.get(Venue, venue_id), second=a2)
        kept, dropped = (hazards.create_hazard(a, venue_id=venue_id, inspection_id=insp.id, description=text).id
                         for text in ("消防通道堆放杂物", "灭火器过期"))
        db.session.commit()

    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    phone.wait_synced_reference(page, leases=False)
    held = HELD.replace("VENUE", repr(venue_id))
    phone.wait_until(page, held + "return h.hazards === 2;")
    phone.cut_network(context)  # no sync may send the queued change below
    phone.evaluate(page, f"""
      await s.put('outbox', {{ mutation_id: 'test-queued', device_seq: 1e9, user_id: {world["users"]["inspector_a"]},
                               entity: 'hazard', entity_id: {kept!r}, op: 'update', fields: {{ location: '二楼' }} }});
      const sync = await import('/js/sync.js');
      await sync.applyPull({{ changes: [], left_scope: [{{ entity: 'venue', id: {venue_id!r} }}],
                              cursor: await s.getMeta('cursor', 0), has_more: false }});
      return true;""")
    left = phone.evaluate(page, f"""
      return {{ venue: !!(await s.get('venues', {venue_id!r})),
                inspections: (await s.all('inspections')).length,
                hazards: (await s.all('hazards')).map((h) => h.id) }};""")
    assert left == {"venue": False, "inspections": 0, "hazards": [kept]}
    assert dropped != kept
