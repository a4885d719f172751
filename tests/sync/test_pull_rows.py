"""Pull reads plain-column entities as driver rows (`sync._RowDumper`) instead of ORM objects, and
finds a page's end with one merged statement. Both are speed-ups: these tests hold them to the
general path — the resource schema's dump of the ORM object — and to the page contract."""
from datetime import date, datetime, timezone

import orjson
import pytest

from server.models import SYNC_ENTITIES, Campaign, CampaignDoor, Hazard, Inspection, ItemResult, Venue
from server.models.base import utcnow
from server.services import sync
from tests.sync.helpers import inspection_batch, push
from tests.sync.test_pull import pull_all

UTC = timezone.utc


def _edge_rows(world, db):
    """Rows holding every kind of value the row dumpers convert: NULLs, floats, true and false
    booleans, dates, datetimes with and without a fraction of a second, JSON lists and objects
    (non-ASCII too), a tombstone, a venue in another street."""
    inspection = db.session.scalars(db.select(Inspection)).first()
    full = Venue(name="星光超市", type="storefront", address="明州路9号", area_id=world.grid_a.id, code="EDGE-1",
                 key_unit=True, lat=29.5, lng=121.123456789, floors=3, floor_area=120.25, occupancy=0, notes="",
                 risk_level="high", listed_for_remediation=True, responsible_person="李四", contact_phone="13800000009",
                 archived_at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
                 e_service_consent_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    other = Venue(name="小港高层住宅", type="high_rise", address="小港路1号", area_id=world.grid_b.id)
    db.session.add_all([full, other])
    db.session.flush()
    hazards = [
        Hazard(venue_id=full.id, description="消防车通道被占用", location="", severity="major",
               correction_mode="immediate", legal_basis_codes=["XFF-28", "XFF-60-1-3"], photo_hashes=["a" * 64],
               found_on=date(2026, 1, 31), deadline=None, state="open",
               state_changed_at=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
               major_determination={"by": "王队", "要点": ["重大", 2], "ok": True, "score": 1.5}),
        Hazard(venue_id=world.venue_a.id, inspection_id=inspection.id, item_code="EXIT-1", description="已撤销",
               found_on=date(2026, 11, 1), deadline=date(2026, 11, 8), deadline_days=5,
               deadline_override_reason="节假日", notified_on=date(2026, 11, 2), fixed_on=date(2026, 11, 7),
               state="verified_fixed", client_observed_at=datetime(2026, 11, 1, 1, 2, 3, 456000, tzinfo=UTC),
               deleted_at=utcnow()),
    ]
    db.session.add_all(hazards)
    db.session.add_all([ItemResult(inspection_id=inspection.id, item_code="EXIT-1", result="fail", note=None,
                                   photo_hashes=["b" * 64, "c" * 64]),
                        ItemResult(inspection_id=inspection.id, item_code="EXT-1", result="pass", note="良好")])
    campaign = Campaign(name="群租房专项", starts_on=date(2026, 11, 1), ends_on=date(2026, 12, 31),
                        venue_types=["group_rental"], areas=[db.session.get(type(world.grid_a), world.grid_a.id)])
    db.session.add(campaign)
    db.session.flush()
    db.session.add_all([CampaignDoor(campaign_id=campaign.id, area_id=world.grid_a.id, label="3幢201",
                                     outcome="nobody_home", revisit_due=date(2026, 12, 1),
                                     visited_at=datetime(2026, 11, 29, 10, 0, 0, 1, tzinfo=UTC)),
                        CampaignDoor(campaign_id=campaign.id, area_id=world.grid_a.id, label="3幢202")])
    db.session.commit()


@pytest.fixture
def edge_world(login, world, db):
    push(login("inspector_a"), inspection_batch(world, n_hazards=3))
    _edge_rows(world, db)
    return world


def _as_json(data) -> bytes:
    """The JSON the phone gets, compared strictly (false is not 0, 1.0 is not 1); key order is
    checked separately."""
    return orjson.dumps(orjson.loads(sync.encode_json(data)), option=orjson.OPT_SORT_KEYS)


def test_row_dumpers_equal_the_resource_schemas_row_by_row(edge_world, db):
    """Every row of every entity the pull reads as driver rows: the same keys in the same order and
    the same JSON as the schema's dump of the ORM object, and the right change envelope."""
    dialect = db.session.get_bind().dialect
    fast = {entity for entity in SYNC_ENTITIES if sync._row_dumper(entity, dialect) is not None}
    # The street benchmark's two entities must take the fast path (venue through its area join).
    assert {"venue", "hazard", "item_result", "campaign_door"} <= fast
    checked = {}
    for entity in sorted(fast):
        model = SYNC_ENTITIES[entity]
        dumper = sync._row_dumper(entity, dialect)
        stmt = db.select(*dumper.columns).select_from(model)
        if dumper.joins is not None:
            stmt = stmt.outerjoin(*dumper.joins)
        rows = db.session.connection().execute(stmt.order_by(model.server_seq)).all()
        for row in rows:
            seq, row_id, version, deleted, data = dumper.dump(row)
            db.session.expire_all()
            obj = db.session.get(model, row_id)
            expected = sync._schema(entity).dump(obj)
            assert list(data) == list(expected), entity
            assert _as_json(data) == _as_json(expected), (entity, row_id)
            assert (seq, version, deleted) == (obj.server_seq, obj.version, obj.deleted_at is not None)
        checked[entity] = len(rows)
    assert checked["venue"] >= 4 and checked["hazard"] >= 5 and checked["item_result"] >= 2
    assert checked["campaign_door"] >= 2


@pytest.mark.parametrize("username", ["inspector_a", "admin", "owner_a"])
def test_pulled_rows_equal_the_schemas_and_the_rows_in_scope(edge_world, login, db, username):
    """Through the endpoint, in small pages across several tables: exactly the rows this user may
    see, each once, in server_seq order, each as its schema dumps it (tombstones included)."""
    from server.models import User
    from server.services.access import venue_in_scope

    c = login(username)
    changes, _, _ = pull_all(c, limit=3)
    seqs = [ch["server_seq"] for ch in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    user = db.session.scalars(db.select(User).where(User.username == username)).one()
    for ch in changes:
        obj = db.session.get(SYNC_ENTITIES[ch["entity"]], ch["id"])
        expected = sync._schema(ch["entity"]).dump(obj)
        assert list(ch["data"]) == list(expected) and _as_json(ch["data"]) == _as_json(expected), ch["entity"]
        assert (ch["version"], ch["server_seq"], ch["deleted"]) == (obj.version, obj.server_seq,
                                                                    obj.deleted_at is not None)
    pulled = {(ch["entity"], ch["id"]) for ch in changes}
    # What the user may see of the venues and hazards, decided row by row by the access rules.
    for model, entity in ((Venue, "venue"), (Hazard, "hazard")):
        for obj in db.session.scalars(db.select(model)):
            venue = obj if model is Venue else db.session.get(Venue, obj.venue_id)
            assert ((entity, obj.id) in pulled) == venue_in_scope(user, venue), (username, entity, obj.id)
    kinds = {ch["entity"] for ch in changes}
    if username == "admin":
        assert {"venue", "hazard", "inspection", "item_result", "campaign", "campaign_door"} <= kinds
    assert any(ch["deleted"] for ch in changes if ch["entity"] == "hazard")


@pytest.mark.parametrize("limit", [1, 2, 5, 7, 2000])
def test_pages_split_anywhere_give_the_same_rows(edge_world, login, limit):
    """The merged page-end statement: every page but the last is full, and the pages joined are
    the one-page answer, whatever the page size."""
    c = login("admin")
    whole, cursor_all, _ = pull_all(c, limit=2000)
    cursor, pages, joined = 0, [], []
    while True:
        page = c.get(f"/api/v1/sync/pull?cursor={cursor}&limit={limit}").get_json()
        pages.append(page)
        joined.extend(page["changes"])
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    assert joined == whole and cursor == cursor_all
    assert all(len(p["changes"]) == limit for p in pages[:-1])
    assert all(p["cursor"] == p["changes"][-1]["server_seq"] for p in pages[:-1])
    assert len(pages) == max(1, -(-len(whole) // limit))  # no empty page at the end
