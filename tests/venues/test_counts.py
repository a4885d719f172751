"""The register list's totals read from venue_counts equal a real count(*).

venue_counts holds the live venues per grid and risk level, kept by triggers on venues (row
triggers on SQLite, statement triggers with transition tables on PostgreSQL). The list takes
`meta.total`, and the level counts of a page sorted by risk, from it when only scope, area and
risk level filter the list. After every kind of write these tests compare that fast path with
count(*) over the same WHERE clauses, for every role and every filter it serves.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from server.extensions import db
from server.models import RISK_LEVELS, Venue
from server.models.base import utcnow
from server.models.venues import VenueCount
from server.services import venue_io, venues
from tests import factories
from tests.venues.test_import_export import good_row, xlsx


def _filter_sets(world):
    sets = [{}]
    for area in (None, world.district, world.street_a, world.street_b, world.grid_a, world.grid_b):
        for level in (None, *RISK_LEVELS):
            if area is not None or level is not None:
                sets.append({"area_id": area.id if area else None, "risk_level": level})
    return sets


def _check(world):
    """Every actor × filter the counters serve: counted total == count(*), level counts too,
    and list_venues reports the real count."""
    db.session.expire_all()
    checked = 0
    for name in ("admin", "supervisor_a", "inspector_a", "inspector_b"):
        actor = world.users[name]
        for filters in _filter_sets(world):
            try:
                conds = venues.venue_query(actor, **filters)
            except venues.Forbidden:
                continue  # an area filter outside an inspector's scope
            real = db.session.scalar(select(func.count()).select_from(Venue).where(*conds))
            counted = venues._counted_total(actor, filters)
            assert counted == real, (name, filters)
            for level in RISK_LEVELS:
                level_real = db.session.scalar(
                    select(func.count()).select_from(Venue).where(*conds, Venue.risk_level == level))
                assert venues._counted_total(actor, filters, level) == level_real, (name, filters, level)
            assert venues.list_venues(actor, **filters)[1] == real
            checked += 1
    assert checked > 40
    # No counter row was left negative or for venues that are not live.
    assert db.session.scalar(select(func.min(VenueCount.live))) >= 0


def _live_by_grid_and_level():
    return {(area_id, level): n for area_id, level, n in db.session.execute(
        select(Venue.area_id, Venue.risk_level, func.count())
        .where(Venue.deleted_at.is_(None), Venue.archived_at.is_(None))
        .group_by(Venue.area_id, Venue.risk_level)).all()}


def _counters():
    return {(r.area_id, r.risk_level): r.live for r in db.session.scalars(select(VenueCount)) if r.live}


def test_counts_follow_every_kind_of_write(world):
    admin = world.users["admin"]
    assert _counters() == _live_by_grid_and_level() != {}
    _check(world)

    # ORM creates through the service, at every level, in both grids.
    made = [venues.create_venue(admin, name=f"场所{i}", type="storefront", address=f"长江路{i}号",
                                area_id=(world.grid_a if i % 2 else world.grid_b).id,
                                risk_level=RISK_LEVELS[i % 3]) for i in range(9)]
    _check(world)

    # Service updates: risk level, grid, both at once, a name only (no counted column).
    venues.update_venue(admin, made[0].id, risk_level="high")
    venues.update_venue(admin, made[1].id, area_id=world.grid_b.id)
    venues.update_venue(admin, made[2].id, area_id=world.grid_a.id, risk_level="low")
    venues.update_venue(admin, made[3].id, name="新名字")
    _check(world)

    # Archive, archive again (no change), restore; soft delete as sync does it.
    venues.archive_venue(admin, made[4].id)
    venues.archive_venue(admin, made[4].id)
    venues.archive_venue(admin, made[5].id)
    venues.restore_venue(admin, made[5].id)
    made[6].deleted_at = utcnow()
    db.session.commit()
    _check(world)

    # An archived venue edited in the database (still not live) and moved: no count changes.
    db.session.execute(update(Venue).where(Venue.id == made[4].id).values(risk_level="high", area_id=world.grid_a.id))
    db.session.commit()
    _check(world)

    # Core: a bulk insert (import, demo loader), one multi-row UPDATE, raw SQL, deletes.
    now = utcnow()
    db.session.execute(insert(Venue), [{
        "id": str(uuid.uuid4()), "name": f"批量{i}", "type": "group_rental", "address": f"黄山路{i}号",
        "area_id": (world.grid_a if i % 3 else world.grid_b).id, "key_unit": False,
        "risk_level": RISK_LEVELS[i % 3], "listed_for_remediation": False,
        "archived_at": now if i % 7 == 0 else None, "version": 1, "server_seq": 50_000 + i,
        "created_at": now, "updated_at": now, "field_versions": {}} for i in range(60)])
    db.session.commit()
    _check(world)
    db.session.execute(update(Venue).where(Venue.name.like("批量%"), Venue.risk_level == "low")
                       .values(risk_level="medium"))
    db.session.execute(text("UPDATE venues SET area_id = :g WHERE name LIKE '批量1%'"), {"g": world.grid_b.id})
    db.session.execute(text("UPDATE venues SET archived_at = NULL WHERE name LIKE '批量%'"))
    db.session.commit()
    _check(world)
    db.session.execute(delete(Venue).where(Venue.name.like("批量2%")))
    db.session.execute(text("DELETE FROM venues WHERE id = :id"), {"id": made[7].id})
    db.session.commit()
    _check(world)

    # A rolled-back write leaves the counts as they were.
    venues.create_venue(admin, name="回滚", type="storefront", address="回滚路1号", area_id=world.grid_a.id,
                        commit=False)
    db.session.rollback()
    _check(world)

    assert _counters() == _live_by_grid_and_level()


def test_truncate_empties_the_counts_on_postgresql(world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (DELETE without WHERE fires the row triggers)")
    assert _counters() != {}
    db.session.execute(text("TRUNCATE venues CASCADE"))
    db.session.commit()
    assert _counters() == _live_by_grid_and_level() == {}
    factories.venue(world.grid_a)
    assert _counters() == _live_by_grid_and_level() == {(world.grid_a.id, "low"): 1}


def test_counts_follow_an_import(world):
    rows = [good_row(n, grid="G-A1" if n % 2 else "G-B1", 风险等级=["低", "中", "高"][n % 3]) for n in range(40)]
    admin = world.users["admin"]
    report = venue_io.import_venues(admin, "r.xlsx", xlsx(rows), dry_run=False)
    assert report["created"] == 40
    _check(world)
    # Re-import with changed levels and grids: updates through the ORM.
    rows = [good_row(n, grid="G-B1" if n % 2 else "G-A1", 风险等级="高") for n in range(40)]
    report = venue_io.import_venues(admin, "r.xlsx", xlsx(rows), dry_run=False)
    assert report["updated"] == 40
    _check(world)
    assert _counters() == _live_by_grid_and_level()


def test_counted_totals_are_not_used_for_other_filters(world):
    """A fragment, a type, key unit, remediation listing, archived venues and an owner's scope
    need a real count: the fast path declines them."""
    admin, owner = world.users["admin"], world.users["owner_a"]
    for filters in ({"q": "明州"}, {"type": "storefront"}, {"key_unit": False}, {"listed_for_remediation": False},
                    {"include_archived": True}, {"type": "storefront", "area_id": world.grid_a.id}):
        assert venues._counted_total(admin, filters) is None, filters
    assert venues._counted_total(owner, {}) is None
    assert venues._counted_total(admin, {"include_archived": False, "q": None, "type": ""}) == 2


@pytest.mark.parametrize("sort", ["risk_level", "-risk_level"])
def test_pages_sorted_by_risk_are_the_same_with_real_level_counts(world, monkeypatch, sort):
    """Pages sorted by risk level skip whole levels by their counted size; with the counters
    switched off (real count(*) per level) every page is the same."""
    admin = world.users["admin"]
    for i in range(23):
        factories.venue(world.grid_a if i % 2 else world.grid_b, risk_level=RISK_LEVELS[i % 3], commit=False)
    db.session.commit()

    def pages(actor, **filters):
        return [([v.id for v in rows], total) for rows, total in
                (venues.list_venues(actor, page=p, page_size=4, sort=sort, **filters) for p in range(1, 9))]

    cases = [(admin, {}), (admin, {"area_id": world.grid_a.id}), (world.users["supervisor_a"], {})]
    fast = [pages(actor, **f) for actor, f in cases]
    monkeypatch.setattr(venues, "_counted_total", lambda *a, **k: None)
    slow = [pages(actor, **f) for actor, f in cases]
    assert fast == slow
    assert sum(len(ids) for ids, _ in fast[0]) == 25


@pytest.mark.parametrize("sort", ["name", "-name", "created_at", "-created_at"])
def test_walking_the_sort_index_gives_the_same_pages_as_sorting(world, monkeypatch, sort):
    """A scoped list sorted by name or creation walks ix_venues_name_scope / _created_scope when
    that is cheap (WALK_FACTOR), else sorts the rows in scope: both give the same pages, ties
    (same name, same second) broken on id, archived venues left out."""
    admin = world.users["admin"]
    now = utcnow()
    db.session.execute(insert(Venue), [{
        "id": str(uuid.uuid4()), "name": f"同名{i % 4}", "type": "storefront", "address": f"黄山路{i}号",
        "area_id": (world.grid_a if i % 3 else world.grid_b).id, "key_unit": False, "risk_level": "low",
        "listed_for_remediation": False, "archived_at": now if i % 11 == 0 else None, "version": 1,
        "server_seq": 60_000 + i, "created_at": now, "updated_at": now, "field_versions": {}} for i in range(40)])
    db.session.commit()
    cases = [(admin, {}), (admin, {"area_id": world.street_a.id}), (admin, {"area_id": world.grid_b.id}),
             (world.users["supervisor_a"], {}), (world.users["inspector_b"], {})]
    walked = []
    real_walk = venues._walk_sort_index
    monkeypatch.setattr(venues, "_walk_sort_index", lambda *a: walked.append(real_walk(*a)) or walked[-1])

    def pages(actor, **filters):
        out = [venues.list_venues(actor, page=p, page_size=6, sort=sort, **filters) for p in range(1, 10)]
        ids = [v.id for rows, _ in out for v in rows]
        assert len(ids) == len(set(ids)) == out[0][1]  # no repeats, nothing skipped
        return ids

    monkeypatch.setattr(venues, "WALK_FACTOR", 10**9)
    walk = [pages(actor, **f) for actor, f in cases]
    assert all(walked)
    walked.clear()
    monkeypatch.setattr(venues, "WALK_FACTOR", 0)
    sorted_ = [pages(actor, **f) for actor, f in cases]
    assert not any(walked)
    assert walk == sorted_
