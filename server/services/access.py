"""The access policy: role × action × area scope, used by every endpoint and by sync.

`authorize(user, action, ...)` is the single gate. Actions are "<resource>.<verb>"; the table
below says which roles may do each; `scope` checks say which rows. Admins see everything;
supervisors and inspectors see the venues inside their areas (an area includes its
descendants); owners see only their own venues.
"""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import joinedload, lazyload

from server.extensions import db
from server.services.errors import Forbidden

ADMIN, SUPERVISOR, INSPECTOR, OWNER = "admin", "supervisor", "inspector", "owner"
STAFF = frozenset({ADMIN, SUPERVISOR, INSPECTOR})
FIELD = frozenset({SUPERVISOR, INSPECTOR})
DESK = frozenset({ADMIN, SUPERVISOR})
EVERYONE = frozenset({ADMIN, SUPERVISOR, INSPECTOR, OWNER})

POLICY: dict[str, frozenset[str]] = {
    "area.read": STAFF,
    "area.manage": frozenset({ADMIN}),
    "user.read": STAFF,
    "user.manage": frozenset({ADMIN}),
    "venue.read": EVERYONE,
    "venue.create": STAFF,
    "venue.update": STAFF,
    "venue.archive": DESK,
    "venue.import": DESK,
    "venue.export": DESK,
    "venue.consent": frozenset({OWNER}),
    "reference.read": EVERYONE,
    "reference.manage": frozenset({ADMIN}),
    "task.read": STAFF,
    "task.plan": DESK,
    "campaign.read": STAFF,
    "campaign.manage": DESK,
    "campaign.visit": FIELD,
    "inspection.read": EVERYONE,
    "inspection.write": FIELD,
    "hazard.read": EVERYONE,
    "hazard.write": FIELD,
    "hazard.verify": FIELD,
    "hazard.escalate": frozenset({SUPERVISOR}),
    "hazard.evidence": frozenset({OWNER}),
    "document.read": EVERYONE,
    "document.draft": FIELD,
    "document.issue": FIELD,
    "document.approve": frozenset({SUPERVISOR}),
    "document.void": frozenset({SUPERVISOR}),
    "document.serve": FIELD,
    "document.owner_sign": frozenset({OWNER}),
    "number.lease": FIELD,
    "number.register": DESK,
    "followup.read": STAFF,
    "followup.request": frozenset({OWNER}),
    "followup.write": FIELD,
    "case.read": DESK,
    "case.write": frozenset({SUPERVISOR}),
    "blob.write": EVERYONE,
    "blob.read": EVERYONE,
    "sync.use": EVERYONE,
    "report.read": DESK,
    "audit.read": DESK,
}


def allowed(user, action: str) -> bool:
    roles = POLICY.get(action)
    if roles is None:
        raise KeyError(f"unknown action {action!r}")  # a programming error, not a 403
    return user is not None and user.role in roles


def scope_area_ids(user) -> set[int] | None:
    """Area ids inside the user's scope (descendants included); None means everywhere."""
    role = user.role  # an ORM attribute: read once (checked for every synced row)
    if role == ADMIN:
        return None
    if role == OWNER:
        return set()
    cached = getattr(user, "_scope_area_ids", None)
    if cached is not None:
        return cached
    paths = frozenset(a.path for a in user.areas)
    # Inside a sync push, users with the same areas (the two inspectors of a street, say) share
    # one answer: the push's lookups live until it ends (server/services/sync.py).
    batch_cache = db.session.info.get("batch_cache")
    key = ("scope_area_ids", paths)
    ids = batch_cache.get(key) if batch_cache is not None else None
    if ids is None:
        if not paths:
            ids = set()
        else:
            ids = set(db.session.scalars(_scope_query(len(paths)),
                                         {f"path_{i}": p for i, p in enumerate(sorted(paths))}))
        if batch_cache is not None:
            batch_cache[key] = ids
    user._scope_area_ids = ids
    return ids


@lru_cache(maxsize=32)
def _scope_query(n: int):
    """Ids of the areas under any of n paths (parameters path_0 … path_<n-1>); built once per n."""
    from server.models import Area

    return select(Area.id).where(or_(*[Area.path.startswith(bindparam(f"path_{i}")) for i in range(n)]))


@lru_cache(maxsize=1)
def user_loading() -> tuple:
    """Loader options for a user whose scope will be checked: one statement with the areas joined
    in (scope_area_ids reads them); an owner's venues are loaded when first read (owner_venue_ids),
    not for every other role (User.venues is otherwise loaded eagerly).

    Built once: options are immutable, and making them costs about as much as the lookup."""
    from server.models import User

    return (joinedload(User.areas), lazyload(User.venues))


def load_user(user_id):
    """`db.session.get(User, user_id, options=user_loading())`, the statement built once (making
    it and its cache key cost more than running it). A user already in the session is returned by
    `session.get` itself, as before."""
    from server.models import User

    session = db.session()
    if session.identity_map.get(_user_key(user_id)) is not None:
        return session.get(User, user_id, options=user_loading())
    return session.execute(_user_query(), {"user_id": user_id}).unique().scalar_one_or_none()


def _user_key(user_id):
    from server.models import User

    return User.__mapper__.identity_key_from_primary_key([user_id])


@lru_cache(maxsize=1)
def _user_query():
    from server.models import User

    return select(User).options(*user_loading()).where(User.id == bindparam("user_id"))


def owner_venue_ids(user) -> set[str]:
    return {v.id for v in user.venues}


def venue_in_scope(user, venue) -> bool:
    role = user.role  # an ORM attribute: read once (checked for every synced row)
    if role == ADMIN:
        return True
    if role == OWNER:
        return venue.id in owner_venue_ids(user)
    return venue.area_id in scope_area_ids(user)


def area_in_scope(user, area_id: int | None) -> bool:
    ids = scope_area_ids(user)
    return ids is None or (area_id is not None and area_id in ids)


def authorize(user, action: str, *, venue=None, area_id: int | None = None) -> None:
    """Raise Forbidden unless the user's role may do `action` on this venue/area."""
    if not allowed(user, action):
        raise Forbidden("role_forbidden")
    if venue is not None and not venue_in_scope(user, venue):
        raise Forbidden("out_of_scope")
    if area_id is not None and user.role != OWNER and not area_in_scope(user, area_id):
        raise Forbidden("out_of_scope")


def venue_scope_clause(user, venue_model):
    """A WHERE clause limiting venues (or rows joined to venues) to the user's scope."""
    if user.role == ADMIN:
        return None
    if user.role == OWNER:
        ids = owner_venue_ids(user)
        return venue_model.id.in_(ids) if ids else venue_model.id.is_(None)
    ids = scope_area_ids(user)
    return venue_model.area_id.in_(ids) if ids else venue_model.area_id.is_(None)


def apply_venue_scope(query, user, venue_model):
    clause = venue_scope_clause(user, venue_model)
    return query if clause is None else query.where(clause)
