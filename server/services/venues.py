"""The venue register (检查对象): create, read, update, archive, search.

Every function takes the acting user, checks `access.authorize`, writes through the session and
appends an audit event in the same transaction. Import/export live in venue_io.py and reuse the
validators here.
"""
from __future__ import annotations

import re
import uuid

from sqlalchemy import Text, case, func, literal, or_, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from server.extensions import db
from server.models import RISK_LEVELS, VENUE_TYPES, Area, Venue
from server.models.venues import VenueCount, VenueGram
from server.models.base import utcnow
from server.services import access, audit
from server.services.errors import Conflict, Forbidden, NotFound, RuleViolation

# Fields a person may set on a venue (create and update alike).
EDITABLE = ("code", "name", "type", "key_unit", "address", "area_id", "lat", "lng",
            "responsible_person", "contact_phone", "floors", "floor_area", "occupancy",
            "risk_level", "listed_for_remediation", "notes")
MAX_LENGTH = {"code": 40, "name": 200, "address": 300, "responsible_person": 64, "contact_phone": 32}

# Mainland mobile (13x–19x) or a landline with area code and optional extension (0574-86781234-802).
PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?)$")

SORTS = ("name", "-name", "created_at", "-created_at", "risk_level", "-risk_level")
DEFAULT_SORT = "name"


def normalise_phone(phone: str | None) -> str | None:
    """Strip spaces and a +86 prefix; '' becomes None."""
    if phone is None:
        return None
    phone = re.sub(r"\s+", "", str(phone))
    if phone.startswith("+86"):
        phone = phone[3:].lstrip("-")
    return phone or None


def valid_phone(phone: str) -> bool:
    return bool(PHONE_RE.match(phone))


def mask_phone(phone: str | None) -> str | None:
    """138****0001: lists never show a whole personal number (DESIGN §9)."""
    if not phone or len(phone) < 7:
        return phone
    return phone[:3] + "****" + phone[-4:]


# --- validation ------------------------------------------------------------------------

def _grid(area_id) -> Area:
    area = db.session.get(Area, area_id) if area_id is not None else None
    if area is None:
        raise NotFound("area_not_found", id=area_id)
    if area.level != "grid":
        raise RuleViolation("venue_area_not_grid", fields={"area_id": ["not a grid"]}, name=area.name)
    return area


def _clean(values: dict) -> dict:
    """Normalise and check one set of venue fields (partial: only the keys present)."""
    out = {}
    for key, value in values.items():
        if key not in EDITABLE:
            raise RuleViolation("venue_field_invalid", fields={key: ["unknown field"]}, field=key)
        if isinstance(value, str):
            value = value.strip()
            if value == "" and key not in ("name", "address"):
                value = None
        out[key] = value
    if "name" in out and not out["name"]:
        raise RuleViolation("venue_name_required", fields={"name": ["required"]})
    if "address" in out and not out["address"]:
        raise RuleViolation("venue_address_required", fields={"address": ["required"]})
    if "type" in out and out["type"] not in VENUE_TYPES:
        raise RuleViolation("venue_bad_type", fields={"type": ["invalid"]}, type=out["type"])
    if "risk_level" in out:
        out["risk_level"] = out["risk_level"] or "low"
        if out["risk_level"] not in RISK_LEVELS:
            raise RuleViolation("venue_bad_risk_level", fields={"risk_level": ["invalid"]},
                                risk_level=out["risk_level"])
    if "contact_phone" in out:
        out["contact_phone"] = normalise_phone(out["contact_phone"])
        if out["contact_phone"] and not valid_phone(out["contact_phone"]):
            raise RuleViolation("venue_bad_phone", fields={"contact_phone": ["invalid"]},
                                phone=out["contact_phone"])
    for key, limit in MAX_LENGTH.items():
        if out.get(key) and len(out[key]) > limit:
            raise RuleViolation("venue_field_invalid", fields={key: ["too long"]}, field=key)
    for key in ("key_unit", "listed_for_remediation"):
        if key in out:
            out[key] = bool(out[key])
    for key in ("floors", "occupancy", "floor_area"):
        if out.get(key) is not None and out[key] < 0:
            raise RuleViolation("venue_field_invalid", fields={key: ["negative"]}, field=key)
    if out.get("lat") is not None and not -90 <= out["lat"] <= 90:
        raise RuleViolation("venue_field_invalid", fields={"lat": ["out of range"]}, field="lat")
    if out.get("lng") is not None and not -180 <= out["lng"] <= 180:
        raise RuleViolation("venue_field_invalid", fields={"lng": ["out of range"]}, field="lng")
    return out


def _check_code_free(code: str | None, venue_id: str | None = None) -> None:
    if not code:
        return
    stmt = select(Venue.id).where(Venue.code == code)
    if venue_id:
        stmt = stmt.where(Venue.id != venue_id)
    if db.session.scalar(stmt) is not None:
        raise Conflict("venue_code_taken", fields={"code": ["taken"]}, code=code)


# --- reads -----------------------------------------------------------------------------

def _load(venue_id: str) -> Venue:
    venue = db.session.get(Venue, venue_id) if venue_id else None
    if venue is None or venue.deleted_at is not None:
        raise NotFound("venue_not_found", id=venue_id)
    return venue


def get_venue(actor, venue_id: str) -> Venue:
    """One venue the actor may see (archived ones included)."""
    venue = _load(venue_id)
    access.authorize(actor, "venue.read", venue=venue)
    return venue


def _check_area_filter(actor, area: Area) -> None:
    """Field staff may filter by an area inside their scope or above it (their street's district)."""
    if actor.role in (access.ADMIN, access.OWNER):
        return
    if access.area_in_scope(actor, area.id):
        return
    if any(mine.path.startswith(area.path) for mine in actor.areas):
        return
    raise Forbidden("out_of_scope")


def _scope_is_everywhere(actor) -> bool:
    """A brigade leader whose area is the whole district: `area_id IN (every area)` only slows
    the query down, so it is left out."""
    if actor.role not in access.FIELD:
        return False
    cached = getattr(actor, "_scope_everywhere", None)  # asked several times per request
    if cached is None:
        ids = access.scope_area_ids(actor)
        cached = actor._scope_everywhere = bool(ids) and len(ids) == db.session.scalar(
            select(func.count()).select_from(Area))
    return cached


# Bigram lists are counted up to this many venues when choosing the rarest bigram; a fragment
# whose rarest bigram reaches it is searched without the bigram index.
GRAM_PROBE_CAP = 10_000
# A fragment's bigrams probed when choosing (evenly spread over a long fragment).
GRAM_PROBES = 6


def _gram(q: str, i: int):
    """The bigram at 1-based position i of the lower-cased fragment, computed by the database
    with the same lower() its triggers use for venue_grams (see models/venues.py)."""
    return func.substr(func.lower(literal(q)), i, 2)


def _fragment_candidates(q: str):
    """SQLite: a subquery of venue ids that holds every venue whose name or address contains
    `q` (and the venue whose code is `q`), from venue_grams; None when a scan is cheaper.

    It may hold more (a venue with both bigrams apart): the caller keeps the real LIKE. A
    fragment's bigrams are probed with capped counts and the rarest one or two are used: a
    two-character fragment is one bigram; 小菜园面馆 is best found under 园面.
    """
    # Positions of distinct bigrams (by Python's lower(), only to skip obvious repeats).
    seen, positions = set(), []
    for i in range(1, len(q)):
        if q[i - 1:i + 1].lower() not in seen:
            seen.add(q[i - 1:i + 1].lower())
            positions.append(i)
    if len(positions) > GRAM_PROBES:
        step = (len(positions) - 1) / (GRAM_PROBES - 1)
        positions = [positions[round(k * step)] for k in range(GRAM_PROBES)]
    probes = [select(func.count()).select_from(
        select(literal(1)).where(VenueGram.gram == _gram(q, i)).limit(GRAM_PROBE_CAP).subquery())
        .scalar_subquery() for i in positions]
    ranked = sorted(zip(db.session.execute(select(*probes)).one(), positions))
    if ranked[0][0] >= GRAM_PROBE_CAP:
        # Every bigram is common (新碶, 街道): reading ten thousand venues one by one costs more
        # than testing LIKE along the covering search index.
        return None
    positions = [ranked[0][1]]
    if len(ranked) > 1 and ranked[0][0] > 200 and ranked[1][0] < GRAM_PROBE_CAP:
        positions.append(ranked[1][1])  # two selective bigrams: read only venues with both
    first = VenueGram.__table__.alias("g1")
    ids = select(first.c.venue_id).where(first.c.gram == _gram(q, positions[0]))
    if len(positions) > 1:
        second = VenueGram.__table__.alias("g2")
        ids = ids.join(second, (second.c.venue_id == first.c.venue_id) & (second.c.gram == _gram(q, positions[1])))
    return union_all(ids, select(Venue.id).where(Venue.code == q))


def venue_query(actor, *, q=None, type=None, area_id=None, key_unit=None, risk_level=None,
                listed_for_remediation=None, include_archived=False):
    """The WHERE clauses for a register search, scope included (shared by list and export)."""
    if include_archived and actor.role not in access.DESK:
        raise Forbidden("role_forbidden")
    conds = [Venue.deleted_at.is_(None)]
    scope = access.venue_scope_clause(actor, Venue)
    if scope is not None and not _scope_is_everywhere(actor):
        conds.append(scope)
    if not include_archived:
        conds.append(Venue.archived_at.is_(None))
    if q:
        q = q.strip()
    if q:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", q) + "%"
        # SQLite's LIKE is already case-insensitive for ASCII; ILIKE there would add lower().
        # On PostgreSQL ILIKE costs several times LIKE per row, and a fragment with no letters
        # (Chinese, digits) has no case: use it only when the fragment has letters.
        if db.session.get_bind().dialect.name == "postgresql" and q.lower() != q.upper():
            name_m, addr_m = Venue.name.ilike(pattern, escape="\\"), Venue.address.ilike(pattern, escape="\\")
        else:
            name_m, addr_m = Venue.name.like(pattern, escape="\\"), Venue.address.like(pattern, escape="\\")
        conds.append(or_(name_m, addr_m, Venue.code == q))
        if len(q) >= 2:
            # Narrow to venues holding the fragment's bigrams (see models.venues.VenueGram); the
            # LIKE above still decides, so the result is exactly what a scan would give.
            if db.session.get_bind().dialect.name == "postgresql":
                grams = func.venue_gram_array(Venue.name, Venue.address, type_=ARRAY(Text))
                conds.append(or_(grams.contains(func.venue_gram_array(q, "", type_=ARRAY(Text))),
                                 Venue.code == q))
            else:
                candidates = _fragment_candidates(q)
                if candidates is not None:
                    conds.append(Venue.id.in_(candidates))
    if type:
        conds.append(Venue.type == type)
    if area_id is not None:
        area = db.session.get(Area, area_id)
        if area is None:
            raise NotFound("area_not_found", id=area_id)
        _check_area_filter(actor, area)
        if area.level == "grid":
            conds.append(Venue.area_id == area.id)
        else:
            conds.append(Venue.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))
    if key_unit is not None:
        conds.append(Venue.key_unit == bool(key_unit))
    if risk_level:
        conds.append(Venue.risk_level == risk_level)
    if listed_for_remediation is not None:
        conds.append(Venue.listed_for_remediation == bool(listed_for_remediation))
    return conds


def order_by(sort: str, *, search: bool = False):
    if sort not in SORTS:
        raise RuleViolation("venue_field_invalid", fields={"sort": ["invalid"]}, field="sort")
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "risk_level":
        col = case({"low": 1, "medium": 2, "high": 3}, value=Venue.risk_level)
    elif search:
        # A narrow query (a fragment, an area, a supervisor's scope) matches a few thousand rows:
        # find them in the covering search index and sort those. Sorting on an expression keeps
        # SQLite from walking the whole (name, id) index instead, testing every row it meets
        # (it assumes a small LIMIT will stop it early) — ten times slower here.
        col = func.coalesce(getattr(Venue, key), getattr(Venue, key))
    else:
        col = getattr(Venue, key)
    # Ties (same name, same import second) are broken on id so paging never repeats or skips;
    # id runs the same way as the key so one index (name, id) serves both directions.
    if desc:
        return [col.desc(), Venue.id.desc()]
    return [col.asc(), Venue.id.asc()]


# Filters a total can be read from venue_counts for (with the actor's scope).
COUNTED_FILTERS = ("area_id", "risk_level")


def _counted_total(actor, filters, level: str | None = None) -> int | None:
    """The number of live venues the list would hold, summed from venue_counts (per grid and
    risk level, kept by triggers), or None when a filter needs a real count(*).

    Only for what those rows can tell: the actor's area scope (not an owner's venues), an
    area filter, a risk level (`level`: one level of a page sorted by risk). `venue_query`
    has already checked the filters and the area."""
    if actor.role == access.OWNER or filters.get("include_archived") or any(
            value not in (None, "") for key, value in filters.items()
            if key not in COUNTED_FILTERS and key != "include_archived"):
        return None
    conds = []
    if actor.role != access.ADMIN and not _scope_is_everywhere(actor):
        conds.append(VenueCount.area_id.in_(access.scope_area_ids(actor)))
    area_id = filters.get("area_id")
    if area_id is not None:
        area = db.session.get(Area, area_id)
        conds.append(VenueCount.area_id == area.id if area.level == "grid" else
                     VenueCount.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))
    for wanted in {filters.get("risk_level") or None, level} - {None}:
        conds.append(VenueCount.risk_level == wanted)
    return db.session.scalar(select(func.coalesce(func.sum(VenueCount.live), 0)).where(*conds))


def _count(conds) -> int:
    return db.session.scalar(select(func.count()).select_from(Venue).where(*conds))


def _page_by_risk(actor, filters, conds, desc: bool, offset: int, limit: int) -> list[str]:
    """One page of ids sorted by risk level, ties on id: level by level in id order, each level a
    range of ix_venues_live_risk (levels wholly before the page are only counted)."""
    ids, skip = [], offset
    for level in (reversed(RISK_LEVELS) if desc else RISK_LEVELS):
        level_conds = [*conds, Venue.risk_level == level]
        if skip:
            n = _counted_total(actor, filters, level)
            if n is None:
                n = _count(level_conds)
            if skip >= n:
                skip -= n
                continue
        ids += db.session.scalars(select(Venue.id).where(*level_conds)
                                  .order_by(Venue.id.desc() if desc else Venue.id.asc())
                                  .limit(limit - len(ids)).offset(skip)).all()
        skip = 0
        if len(ids) >= limit:
            break
    return ids


def list_venues(actor, *, page=1, page_size=50, sort=DEFAULT_SORT, **filters):
    """A page of the register in the actor's scope, and the total count."""
    access.authorize(actor, "venue.read")
    conds = venue_query(actor, **filters)
    offset = (page - 1) * page_size
    if filters.get("q"):
        # A fragment matches at most a few thousand rows, all of which the search has to read
        # anyway: one pass over them gives both the page of ids and the total (window count).
        pairs = db.session.execute(
            select(Venue.id, func.count().over()).where(*conds)
            .order_by(*order_by(sort, search=True)).limit(page_size).offset(offset)).all()
        ids = [p[0] for p in pairs]
        total = pairs[0][1] if pairs else (
            0 if page == 1 else db.session.scalar(select(func.count()).select_from(Venue).where(*conds)))
    else:
        counted = _counted_total(actor, filters)
        total = counted if counted is not None else _count(conds)
        if sort.lstrip("-") == "risk_level":
            ids = _page_by_risk(actor, filters, conds, sort.startswith("-"), offset, page_size)
        else:
            ids = db.session.scalars(
                select(Venue.id).where(*conds)
                .order_by(*order_by(sort, search=not _walk_sort_index(actor, filters, counted, offset + page_size)))
                .limit(page_size).offset(offset)).all()
    by_id = {v.id: v for v in db.session.scalars(select(Venue).where(Venue.id.in_(ids)))} if ids else {}
    return [by_id[i] for i in ids], total


# Walk the sort index (ix_venues_name_scope / ix_venues_created_scope) while the entries it
# passes on the way to the page's end stay under this many times the list's size; past that,
# read the list from the covering search index and sort it. Measured on 100,000 venues, a
# street's 11,092 at page 50 (2,500 rows): walking 22,500 entries 2.8 ms against 7.3 ms to sort
# on SQLite, 3.5 ms against 25+ ms on PostgreSQL.
WALK_FACTOR = 4


def _walk_sort_index(actor, filters, counted: int | None, end: int) -> bool:
    """Page a list sorted by name or creation by walking the sort index (True) rather than
    sorting the rows the filters select (False)?

    The walk tests each entry's scope and liveness inside the index, so it only serves lists
    filtered by nothing else (`counted`: venue_counts knew their size); it passes about
    end × register ÷ list entries to reach the page's end. Anything else keeps the old rule:
    the whole register walks, a narrower list sorts."""
    if counted is not None and not filters.get("risk_level"):
        register = db.session.scalar(select(func.coalesce(func.sum(VenueCount.live), 0)))
        return end * register <= WALK_FACTOR * counted * counted
    return filters.get("area_id") is None and (actor.role == access.ADMIN or _scope_is_everywhere(actor))


# --- writes ----------------------------------------------------------------------------

def _check_grid_in_scope(actor, area_id) -> Area:
    area = _grid(area_id)
    if actor is not None and not access.area_in_scope(actor, area.id):
        raise Forbidden("out_of_scope")
    return area


def create_venue(actor, *, id: str | None = None, commit: bool = True, **values) -> Venue:
    """Register a venue in a grid inside the actor's scope. `id` may be made by the phone;
    `actor=None` is the console (CLI, demo loader)."""
    if actor is not None:
        access.authorize(actor, "venue.create")
    values = _clean(values)
    for required in ("name", "type", "address", "area_id"):
        if values.get(required) in (None, ""):
            reason = {"name": "venue_name_required", "address": "venue_address_required"}.get(required)
            if reason:
                raise RuleViolation(reason, fields={required: ["required"]})
            raise RuleViolation("venue_field_invalid", fields={required: ["required"]}, field=required)
    _check_grid_in_scope(actor, values["area_id"])
    _check_code_free(values.get("code"))
    if id is not None:
        try:
            id = str(uuid.UUID(str(id)))
        except ValueError:
            raise RuleViolation("venue_field_invalid", fields={"id": ["not a UUID"]}, field="id") from None
        if db.session.get(Venue, id) is not None:
            raise Conflict("venue_id_taken", id=id)
    venue = Venue(id=id or str(uuid.uuid4()), **values)
    db.session.add(venue)
    db.session.flush()
    audit.record(actor, "venue.create", "venue", venue.id, after=audit.snapshot(venue))
    if commit:
        db.session.commit()
    return venue


def apply_changes(actor, venue: Venue, values: dict, *, defer_audit: bool = False):
    """Validate and apply field changes to a venue the actor may update.

    Returns the before-snapshot when something changed, else None. With `defer_audit` the
    caller (the bulk import) flushes once and records the audit events itself.
    """
    values = _clean(values)
    if "area_id" in values and values["area_id"] != venue.area_id:
        _check_grid_in_scope(actor, values["area_id"])
    if "code" in values and values["code"] != venue.code:
        _check_code_free(values["code"], venue.id)
    changed = {k: v for k, v in values.items() if getattr(venue, k) != v}
    if not changed:
        return None
    before = audit.snapshot(venue)
    # A grid change is recorded as a ScopeExit by the flush hook in models/sync.py.
    for key, value in changed.items():
        setattr(venue, key, value)
    if not defer_audit:
        db.session.flush()
        audit.record(actor, "venue.update", "venue", venue.id, before=before, after=audit.snapshot(venue))
    return before


def update_venue(actor, venue_id: str, *, version: int | None = None, commit: bool = True, **values) -> Venue:
    """Change a venue's fields; `version` (if sent) must match or the edit is refused (409)."""
    venue = _load(venue_id)
    access.authorize(actor, "venue.update", venue=venue)
    if version is not None and version != venue.version:
        raise Conflict("venue_version_conflict", version=venue.version)
    if venue.archived_at is not None:
        raise RuleViolation("venue_archived")
    apply_changes(actor, venue, values)
    if commit:
        db.session.commit()
    return venue


def archive_venue(actor, venue_id: str, *, commit: bool = True) -> Venue:
    """Take a venue out of the register (closed, demolished); its records stay. Idempotent."""
    venue = _load(venue_id)
    access.authorize(actor, "venue.archive", venue=venue)
    if venue.archived_at is None:
        before = audit.snapshot(venue)
        venue.archived_at = utcnow()
        db.session.flush()
        audit.record(actor, "venue.archive", "venue", venue.id, before=before, after=audit.snapshot(venue))
    if commit:
        db.session.commit()
    return venue


def restore_venue(actor, venue_id: str, *, commit: bool = True) -> Venue:
    """Bring an archived venue back into the register. Idempotent."""
    venue = _load(venue_id)
    access.authorize(actor, "venue.archive", venue=venue)
    if venue.archived_at is not None:
        before = audit.snapshot(venue)
        venue.archived_at = None
        db.session.flush()
        audit.record(actor, "venue.restore", "venue", venue.id, before=before, after=audit.snapshot(venue))
    if commit:
        db.session.commit()
    return venue


def set_e_service_consent(actor, venue_id: str, consent: bool, *, commit: bool = True) -> Venue:
    """The owner consents to (or withdraws consent to) electronic service of documents (行政处罚法 art. 61)."""
    venue = _load(venue_id)
    access.authorize(actor, "venue.consent", venue=venue)
    before = audit.snapshot(venue)
    if consent and venue.e_service_consent_at is None:
        venue.e_service_consent_at = utcnow()
    elif not consent:
        venue.e_service_consent_at = None
    db.session.flush()
    audit.record(actor, "venue.e_service_consent", "venue", venue.id, before=before, after=audit.snapshot(venue))
    if commit:
        db.session.commit()
    return venue


# --- sync: an inspector may register or correct a venue offline --------------------------

from server.services.registry import sync_handler  # noqa: E402


@sync_handler("venue", "create")
def _sync_create(actor, entity_id: str, fields: dict) -> Venue:
    return create_venue(actor, id=entity_id, commit=False, **fields)


@sync_handler("venue", "update")
def _sync_update(actor, row: Venue, changes: dict) -> Venue:
    access.authorize(actor, "venue.update", venue=row)
    if row.archived_at is not None:
        raise RuleViolation("venue_archived")
    apply_changes(actor, row, changes)
    return row
