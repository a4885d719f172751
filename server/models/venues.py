"""The venue register (检查对象)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, event, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import SyncMixin, UTCDateTime

VENUE_TYPES = ("high_rise", "group_rental", "storefront", "entertainment", "flammable",
               "hazardous_chemical", "other")
RISK_LEVELS = ("low", "medium", "high")
LIVE = "deleted_at IS NULL AND archived_at IS NULL"
GONE = "deleted_at IS NOT NULL OR archived_at IS NOT NULL"


class Venue(SyncMixin, db.Model):
    __tablename__ = "venues"

    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    type: Mapped[str] = mapped_column(String(24), nullable=False)
    key_unit: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    address: Mapped[str] = mapped_column(String(300), nullable=False)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), nullable=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    responsible_person: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    floors: Mapped[int | None] = mapped_column(Integer)
    floor_area: Mapped[float | None] = mapped_column(Float)
    occupancy: Mapped[int | None] = mapped_column(Integer)
    risk_level: Mapped[str] = mapped_column(String(8), nullable=False, default="low")
    listed_for_remediation: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The party's consent to electronic service (行政处罚法 art. 61), set by the owner.
    e_service_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    area = relationship("Area", lazy="joined")

    __table_args__ = (
        CheckConstraint(f"type IN {VENUE_TYPES}", name="type"),
        CheckConstraint(f"risk_level IN {RISK_LEVELS}", name="risk_level"),
        # The register search index: covering for the list's count(*) and id page in a scope
        # under every sort, fragment search included (name/address/code LIKE is checked inside the index, with no
        # row lookups), so a supervisor's search reads one contiguous index range.
        Index("ix_venues_area_type", "area_id", "type", "archived_at", "deleted_at", "name", "address",
              "code", "risk_level", "created_at", "id"),
        Index("ix_venues_name_address", "name", "address"),
        # SQLite's fragment search reads candidate venue ids from venue_grams and tests each
        # venue's name, address, code, scope and liveness: keyed by id and covering what a
        # fragment search filters and sorts on, that is one index lookup per candidate instead
        # of the id index plus the table row (100,000 venues, interleaved medians: district-wide
        # 星光, 1,904 candidates, 24.6 -> 19.1 ms; a street's 星光 23.1 -> 10.4 ms). PostgreSQL's
        # GIN search reads the heap in block order and has no use for it.
        Index("ix_venues_id_match", "id", "deleted_at", "archived_at", "area_id", "type", "risk_level",
              "created_at", "name", "address", "code").ddl_if(dialect="sqlite"),
        # Register sorts (ties broken on id): a page walks the index in order, no sort. The scope
        # and live columns ride along, so a street's list (a tenth of the register) walks it
        # too, testing them inside the index with no row lookups, while that is cheaper than
        # sorting the scope (services.venues.WALK_FACTOR decides).
        Index("ix_venues_name_scope", "name", "id", "area_id", "archived_at", "deleted_at"),
        Index("ix_venues_created_scope", "created_at", "id", "area_id", "archived_at", "deleted_at"),
        # Register sorted by risk level (a CASE rank no index can hold): read level by level in id
        # order, each level a range of this index; the level counts are ranges too. Partial on
        # live venues so both databases walk it without row lookups (SQLite needs the two
        # columns listed to call it covering).
        Index("ix_venues_live_risk", "risk_level", "id", "area_id", "archived_at", "deleted_at",
              sqlite_where=text(LIVE), postgresql_where=text(LIVE)),
        # Search by fragment (LIKE '%长江路%') on PostgreSQL: trigram GIN indexes (pg_trgm,
        # created before the table, see below). Fragments under three characters still scan.
        Index("ix_venues_name_trgm", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
        Index("ix_venues_address_trgm", "address", postgresql_using="gin",
              postgresql_ops={"address": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )


class VenueGram(db.Model):
    """SQLite's fragment-search index: every two-character piece (bigram) of a venue's
    lower-cased name and address, one row per (bigram, venue).

    A supervisor types two Chinese characters (星光) far more often than three; trigram indexes
    cannot serve that, and LIKE '%星光%' over a district's 100,000 venues tests every row. Any
    fragment of two or more characters occurs only in venues that hold each of its bigrams, so
    the search reads the venues listed under its rarest bigram(s) and checks the real LIKE on
    those. Rows are written by triggers (below) in the same statement as the venue, so the ORM,
    bulk inserts, imports and raw SQL all keep it exact.

    PostgreSQL does the same with a GIN index over venue_gram_array(name, address) on the
    venues table itself (a few MB instead of a 200 MB table): this table exists there too, so
    both databases have one schema, but stays empty.
    """

    __tablename__ = "venue_grams"

    gram: Mapped[str] = mapped_column(String(2), primary_key=True)
    venue_id: Mapped[str] = mapped_column(String(36), primary_key=True)

    __table_args__ = ({"sqlite_with_rowid": False},)


# PostgreSQL: the bigrams of a venue as an array, substr(lower(text), i, 2) for i in 1 ..
# length - 1 over the name and the address. lower() is the one ILIKE compares with, and the
# search takes the fragment's bigrams from the same function, venue_gram_array(q, '').
# Reusable verbatim in an Alembic migration (op.execute); it must exist before the index.
VENUE_GRAM_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION venue_gram_array(name text, address text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
DECLARE
  n text := lower(coalesce(name, ''));
  a text := lower(coalesce(address, ''));
  grams text[] := '{}';
BEGIN
  -- Every bigram of both texts; repeats are harmless (GIN keeps each key once, and @> ignores
  -- them). PL/pgSQL: about 4x cheaper per row than the SQL form (generate_series + UNION) that
  -- each INSERT pays for the index (10,000 rows: 0.55 s against 2.2 s).
  FOR i IN 1 .. length(n) - 1 LOOP grams := grams || substr(n, i, 2); END LOOP;
  FOR i IN 1 .. length(a) - 1 LOOP grams := grams || substr(a, i, 2); END LOOP;
  RETURN grams;
END
$fn$
"""


def _sqlite_grams(row: str, *, with_id: bool = False) -> str:
    """SELECT the bigrams of row.name and row.address (row: NEW or OLD in a trigger, or a table
    alias), with row.id beside each when `with_id`.

    SQLite has no generate_series and allows no WITH inside a trigger, so the positions come
    from json_each over '[0,0,…,0]' with length(text) elements (keys 0 … length - 1)."""
    def one(col):
        text = f"{row}.{col}"
        extra = f", {row}.id" if with_id else ""
        return (f"SELECT substr(lower({text}), j.key + 1, 2){extra} FROM json_each("
                f"'[' || replace(hex(zeroblob(max(length({text}) - 1, 0))), '00', '0,') || '0]') AS j "
                f"WHERE j.key < length({text}) - 1")
    # UNION ALL: the INSERT OR IGNORE drops a bigram the name and the address share.
    return f"{one('name')} UNION ALL {one('address')}"


# SQLite: row triggers (it has no statement triggers); the UPDATE one fires only when the name
# or the address changes, and deletes the old bigrams by primary key. A later migration that
# rebuilds the venues table on SQLite (batch_alter_table recreating it) drops these triggers and
# must run SQLITE_VENUE_GRAMS_SQL again.
SQLITE_VENUE_GRAMS_SQL = [
    "DROP TRIGGER IF EXISTS venue_grams_insert",
    f"""CREATE TRIGGER venue_grams_insert AFTER INSERT ON venues BEGIN
      INSERT OR IGNORE INTO venue_grams (gram, venue_id) {_sqlite_grams("NEW", with_id=True)};
    END""",
    "DROP TRIGGER IF EXISTS venue_grams_update",
    f"""CREATE TRIGGER venue_grams_update AFTER UPDATE OF name, address, id ON venues
      WHEN NEW.name IS NOT OLD.name OR NEW.address IS NOT OLD.address OR NEW.id IS NOT OLD.id BEGIN
      DELETE FROM venue_grams WHERE venue_id = OLD.id AND gram IN ({_sqlite_grams("OLD")});
      INSERT OR IGNORE INTO venue_grams (gram, venue_id) {_sqlite_grams("NEW", with_id=True)};
    END""",
    "DROP TRIGGER IF EXISTS venue_grams_delete",
    f"""CREATE TRIGGER venue_grams_delete AFTER DELETE ON venues BEGIN
      DELETE FROM venue_grams WHERE venue_id = OLD.id AND gram IN ({_sqlite_grams("OLD")});
    END""",
]
SQLITE_VENUE_GRAMS_DROP_SQL = [
    "DROP TRIGGER IF EXISTS venue_grams_insert",
    "DROP TRIGGER IF EXISTS venue_grams_update",
    "DROP TRIGGER IF EXISTS venue_grams_delete",
]

# Fills venue_grams for venues that exist already (the migration that adds the table).
SQLITE_VENUE_GRAMS_BACKFILL_SQL = ("INSERT OR IGNORE INTO venue_grams (gram, venue_id) "
                                   + _sqlite_grams("v", with_id=True).replace(" FROM json_each(", " FROM venues AS v, json_each("))

# create_all() on PostgreSQL needs the extension before the trigram indexes; the Alembic
# migration must run the same statement (op.execute) before creating them.
event.listen(Venue.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))
event.listen(Venue.__table__, "before_create", DDL(VENUE_GRAM_FUNCTION_SQL).execute_if(dialect="postgresql"))
# Fragment search on PostgreSQL (see VenueGram): GIN over the bigram array of each venue.
Index("ix_venues_grams", func.venue_gram_array(Venue.__table__.c.name, Venue.__table__.c.address),
      postgresql_using="gin").ddl_if(dialect="postgresql")
# The triggers may be created before venue_grams exists: SQLite resolves the tables a trigger
# body names when it runs. (DDL() %-formats its text: there is no % in the SQL above.)
for _statement in SQLITE_VENUE_GRAMS_SQL:
    event.listen(Venue.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))


class VenueCount(db.Model):
    """How many live venues (not archived, not deleted) each grid holds at each risk level.

    The register list returns an exact `meta.total` on every page. For a list filtered only by
    scope, area and risk level that total is a sum over these rows (a district: 108 grids × 3
    levels) instead of a count over up to 100,000 index entries — PostgreSQL has no cheaper
    exact count(*) than reading them all. Pages sorted by risk level take their level counts
    from here too. Triggers keep it in the same statement as the venues (below), so the ORM,
    bulk inserts, imports and raw SQL all keep it exact; a row at 0 stays.
    """

    __tablename__ = "venue_counts"
    # Written only by the triggers: copying its rows beside the venues' would count them twice.
    __table_args__ = ({"info": {"kept_by_triggers": True}},)

    area_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    risk_level: Mapped[str] = mapped_column(String(8), primary_key=True)
    live: Mapped[int] = mapped_column(Integer, nullable=False)


# PostgreSQL: statement triggers with transition tables, one upsert of the statement's net
# change per (grid, level), in key order so concurrent writers lock counter rows in one order
# (an import's COPY is one statement: one upsert per counter row, not one per venue; 1,000 rows
# in one INSERT cost the trigger 1.7 ms in EXPLAIN ANALYZE). Every venue write takes the
# change counter's row lock first (server_seq), then these rows, so no two writers wait on
# each other in opposite orders. Transition tables allow one event per trigger and no column
# list, hence one trigger per event.
_PG_COUNT_DELTA = {
    "insert": "SELECT area_id, risk_level, 1 AS n FROM new_rows WHERE {live}",
    "delete": "SELECT area_id, risk_level, -1 AS n FROM old_rows WHERE {live}",
    "update": ("SELECT area_id, risk_level, 1 AS n FROM new_rows WHERE {live} "
               "UNION ALL SELECT area_id, risk_level, -1 FROM old_rows WHERE {live}"),
}
PG_VENUE_COUNTS_SQL = []
PG_VENUE_COUNTS_DROP_SQL = []
for _event, _delta in _PG_COUNT_DELTA.items():
    _refs = {"insert": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows",
             "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}[_event]
    PG_VENUE_COUNTS_SQL += [
        f"""CREATE OR REPLACE FUNCTION venue_counts_{_event}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO venue_counts (area_id, risk_level, live)
  SELECT area_id, risk_level, sum(n) FROM ({_delta.format(live=LIVE)}) AS d
  GROUP BY area_id, risk_level HAVING sum(n) <> 0 ORDER BY area_id, risk_level
  ON CONFLICT (area_id, risk_level) DO UPDATE SET live = venue_counts.live + excluded.live;
  RETURN NULL;
END
$fn$""",
        f"DROP TRIGGER IF EXISTS venue_counts_{_event} ON venues",
        f"""CREATE TRIGGER venue_counts_{_event} AFTER {_event.upper()} ON venues
  REFERENCING {_refs} FOR EACH STATEMENT EXECUTE FUNCTION venue_counts_{_event}()""",
    ]
    PG_VENUE_COUNTS_DROP_SQL += [f"DROP TRIGGER IF EXISTS venue_counts_{_event} ON venues",
                                 f"DROP FUNCTION IF EXISTS venue_counts_{_event}()"]
# TRUNCATE fires no row or INSERT/UPDATE/DELETE trigger: empty the counts with it.
PG_VENUE_COUNTS_SQL += [
    """CREATE OR REPLACE FUNCTION venue_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM venue_counts;
  RETURN NULL;
END
$fn$""",
    "DROP TRIGGER IF EXISTS venue_counts_truncate ON venues",
    "CREATE TRIGGER venue_counts_truncate AFTER TRUNCATE ON venues FOR EACH STATEMENT "
    "EXECUTE FUNCTION venue_counts_truncate()",
]
PG_VENUE_COUNTS_DROP_SQL += ["DROP TRIGGER IF EXISTS venue_counts_truncate ON venues",
                             "DROP FUNCTION IF EXISTS venue_counts_truncate()"]

# SQLite: row triggers; the UPDATE one fires only when a counted column is set. The same
# caveat as venue_grams: a migration that rebuilds the venues table must create them again.
_SQLITE_NEW_LIVE = "NEW.deleted_at IS NULL AND NEW.archived_at IS NULL"
_SQLITE_OLD_LIVE = "OLD.deleted_at IS NULL AND OLD.archived_at IS NULL"
_SQLITE_ADD = (f"INSERT INTO venue_counts (area_id, risk_level, live) SELECT NEW.area_id, NEW.risk_level, 1 "
               f"WHERE {_SQLITE_NEW_LIVE} ON CONFLICT (area_id, risk_level) DO UPDATE SET live = live + 1;")
_SQLITE_SUB = (f"UPDATE venue_counts SET live = live - 1 WHERE {_SQLITE_OLD_LIVE} "
               f"AND area_id = OLD.area_id AND risk_level = OLD.risk_level;")
SQLITE_VENUE_COUNTS_SQL = [
    "DROP TRIGGER IF EXISTS venue_counts_insert",
    f"CREATE TRIGGER venue_counts_insert AFTER INSERT ON venues BEGIN {_SQLITE_ADD} END",
    "DROP TRIGGER IF EXISTS venue_counts_update",
    f"""CREATE TRIGGER venue_counts_update AFTER UPDATE OF area_id, risk_level, archived_at, deleted_at ON venues
      BEGIN {_SQLITE_SUB} {_SQLITE_ADD} END""",
    "DROP TRIGGER IF EXISTS venue_counts_delete",
    f"CREATE TRIGGER venue_counts_delete AFTER DELETE ON venues BEGIN {_SQLITE_SUB} END",
]
SQLITE_VENUE_COUNTS_DROP_SQL = ["DROP TRIGGER IF EXISTS venue_counts_insert",
                                "DROP TRIGGER IF EXISTS venue_counts_update",
                                "DROP TRIGGER IF EXISTS venue_counts_delete"]

# Fills venue_counts from the venues that exist (the migration that adds the table).
VENUE_COUNTS_BACKFILL_SQL = (f"INSERT INTO venue_counts (area_id, risk_level, live) "
                             f"SELECT area_id, risk_level, count(*) FROM venues WHERE {LIVE} "
                             f"GROUP BY area_id, risk_level")

# create_all(): the triggers name venue_counts, which PostgreSQL resolves when a trigger first
# runs and SQLite when it runs, so they may be created with venues. (No % in the SQL: DDL().)
for _statement in PG_VENUE_COUNTS_SQL:
    event.listen(Venue.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
for _statement in SQLITE_VENUE_COUNTS_SQL:
    event.listen(Venue.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
