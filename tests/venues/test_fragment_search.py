"""Fragment search through the bigram index gives exactly what a LIKE scan gives.

SQLite reads candidates from venue_grams (kept by triggers), PostgreSQL from a GIN index over
venue_gram_array(name, address); in both the real LIKE decides. These tests compare the search
with a plain Python substring filter, and check that every way of writing a venue keeps the
index right.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert, select, text

from server.extensions import db
from server.models import Venue
from server.models.base import utcnow
from server.models.venues import VenueGram
from server.services import venues
from tests import factories

NAMES = [
    ("星光KTV", "明州路 1 号"), ("星光网吧", "长江路 3 号"), ("小菜园面馆", "新碶街道长江路 12 号"),
    ("小菜园快餐店", "新碶街道黄山路 5 号"), ("园面小吃", "太河路 8 号"), ("光星超市", "星光路 9 号"),
    ("Ktv Star", "Mingzhou Rd 7"), ("100%纯棉服装店", "百合路 2 号"), ("张家小吃_二店", "百合路 4 号"),
    ("长江大厦", "庐山路 1 号"), ("星星光便利店", "长 江路 5 号"), ("a", "b"),
]
FRAGMENTS = ["星光", "长江路", "小菜园面馆", "园面", "ktv", "KTV", "Star", "tv s", "100%", "_二", "长 江",
             "江路 1", "星", "a", "光星", "不存在的店", "路 ", "Rd 7", "BLV-0001", "星光路"]


def _expected(actor_rows, q):
    q = q.strip()
    folded = q.lower()
    return sorted(r.id for r in actor_rows
                  if folded in r.name.lower() or folded in r.address.lower() or r.code == q)


@pytest.fixture
def corpus(world):
    made = [factories.venue(world.grid_a, name, address=addr, commit=False) for name, addr in NAMES]
    made[0].code = "BLV-0001"
    db.session.commit()
    return made


@pytest.mark.parametrize("q", FRAGMENTS)
def test_fragment_search_matches_a_substring_scan(world, corpus, q):
    admin = world.users["admin"]
    everything = db.session.scalars(select(Venue).where(Venue.deleted_at.is_(None), Venue.archived_at.is_(None))).all()
    rows, total = venues.list_venues(admin, q=q, page_size=500)
    assert sorted(r.id for r in rows) == _expected(everything, q)
    assert total == len(rows)


@pytest.mark.parametrize("cap", [1, 2, 10_000])
def test_every_candidate_strategy_gives_the_same_result(world, corpus, monkeypatch, cap):
    """A tiny cap forces the scan fallback (every bigram 'common'), 2 the two-bigram join."""
    monkeypatch.setattr(venues, "GRAM_PROBE_CAP", cap)
    admin = world.users["admin"]
    everything = db.session.scalars(select(Venue).where(Venue.deleted_at.is_(None), Venue.archived_at.is_(None))).all()
    for q in FRAGMENTS:
        rows, _ = venues.list_venues(admin, q=q, page_size=500)
        assert sorted(r.id for r in rows) == _expected(everything, q), q


def _grams_of(venue_id):
    return set(db.session.scalars(select(VenueGram.gram).where(VenueGram.venue_id == venue_id)))


def _sqlite_only():
    if db.engine.dialect.name != "sqlite":
        pytest.skip("venue_grams is SQLite's index; PostgreSQL's GIN index is maintained by PostgreSQL")


def test_venue_grams_follow_inserts_updates_and_deletes(world):
    _sqlite_only()
    v = factories.venue(world.grid_a, "星光KTV", address="明州路1号")
    assert _grams_of(v.id) == {"星光", "光k", "kt", "tv", "明州", "州路", "路1", "1号"}
    venues.update_venue(world.users["admin"], v.id, name="海天网吧")
    assert _grams_of(v.id) == {"海天", "天网", "网吧", "明州", "州路", "路1", "1号"}
    db.session.execute(text("UPDATE venues SET address = '长江路' WHERE id = :id"), {"id": v.id})
    assert _grams_of(v.id) == {"海天", "天网", "网吧", "长江", "江路"}
    db.session.execute(text("DELETE FROM venues WHERE id = :id"), {"id": v.id})
    assert _grams_of(v.id) == set()


def test_bulk_inserted_venues_are_found_by_fragment(world):
    """The import, the demo loader and the benchmarks insert venues with Core INSERTs."""
    now = utcnow()
    vid = str(uuid.uuid4())
    db.session.execute(insert(Venue), [{
        "id": vid, "name": "甬新时代公寓", "type": "group_rental", "address": "霞浦街道枫林路 3 号",
        "area_id": world.grid_a.id, "key_unit": False, "risk_level": "low", "listed_for_remediation": False,
        "version": 1, "server_seq": 10_000, "created_at": now, "updated_at": now, "field_versions": {}}])
    db.session.commit()
    for q in ("新时代公", "枫林路 3", "甬新"):
        assert [r.id for r in venues.list_venues(world.users["admin"], q=q)[0]] == [vid]


def test_renamed_venue_is_found_by_its_new_name_only(world):
    v = factories.venue(world.grid_a, "阿强便利店", address="小港路 1 号")
    venues.update_venue(world.users["admin"], v.id, name="福满超市")
    admin = world.users["admin"]
    assert venues.list_venues(admin, q="阿强")[1] == 0
    assert [r.id for r in venues.list_venues(admin, q="福满")[0]] == [v.id]
