"""Users and areas: authentication, account management, the area tree."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from server.auth import dummy_verify, hash_password, verify_password
from server.extensions import db
from server.models import AREA_LEVELS, ROLES, Area, User, Venue
from server.models.base import utcnow
from server.services import audit
from server.services.access import authorize
from server.services.errors import Conflict, NotFound, RuleViolation, Unauthorized

PARENT_LEVEL = {"district": None, "street": "district", "grid": "street"}
MIN_PASSWORD = 8


def authenticate(username: str, password: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    user_id, password_hash = (user.id, user.password_hash) if user is not None else (None, None)
    # The hash check takes ~150 ms of CPU by design (argon2). A login is a write request, so its
    # transaction holds the writers' lock (server/database.py): end it first, or every push and
    # save in the brigade would queue behind each login.
    db.session.rollback()
    if user_id is None:
        dummy_verify(password)
        raise Unauthorized("bad_credentials")
    if not verify_password(password_hash, password):
        raise Unauthorized("bad_credentials")
    user = db.session.get(User, user_id)
    # Deactivated, or the password changed, while the hash was being checked.
    if user is None or not user.active or user.password_hash != password_hash:
        raise Unauthorized("bad_credentials")
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise RuleViolation("password_too_short", fields={"password": ["too short"]}, min=MIN_PASSWORD)


def _resolve_areas(area_ids) -> list[Area]:
    areas = []
    for area_id in area_ids or []:
        area = db.session.get(Area, area_id)
        if area is None:
            raise NotFound("area_not_found", id=area_id)
        areas.append(area)
    return areas


def _resolve_venues(venue_ids) -> list[Venue]:
    venues = []
    for venue_id in venue_ids or []:
        venue = db.session.get(Venue, venue_id)
        if venue is None:
            raise NotFound("venue_not_found", id=venue_id)
        venues.append(venue)
    return venues


def create_user(actor, *, username: str, password: str, display_name: str, role: str,
                area_ids=(), venue_ids=(), enforcement_id=None, phone=None, commit=True,
                password_hash: str | None = None) -> User:
    """Create an account; `actor=None` is the CLI (a person at the server's console).

    `password_hash` lets a caller that creates many accounts with one password (the demo)
    hash it once; `password` is still checked against the length rule.
    """
    if actor is not None:
        authorize(actor, "user.manage")
    if role not in ROLES:
        raise RuleViolation("bad_role", role=role)
    _check_password(password)
    username = username.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{2,64}", username):
        raise RuleViolation("bad_username", fields={"username": ["invalid"]})
    if db.session.scalar(select(func.count()).select_from(User).where(User.username == username)):
        raise Conflict("username_taken", username=username)
    if role == "inspector" and not enforcement_id:
        raise RuleViolation("enforcement_id_required", fields={"enforcement_id": ["required"]})
    user = User(username=username, display_name=display_name, role=role,
                password_hash=password_hash or hash_password(password), enforcement_id=enforcement_id or None,
                phone=phone)
    user.areas = _resolve_areas(area_ids)
    user.venues = _resolve_venues(venue_ids) if role == "owner" else []
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", "user", user.id, after=audit.snapshot(user))
    if commit:
        db.session.commit()
    return user


def update_user(actor, user_id: int, **changes) -> User:
    authorize(actor, "user.manage")
    user = get_user(user_id)
    before = audit.snapshot(user)
    if "area_ids" in changes:
        user.areas = _resolve_areas(changes.pop("area_ids"))
    if "venue_ids" in changes:
        user.venues = _resolve_venues(changes.pop("venue_ids"))
    if "password" in changes:
        password = changes.pop("password")
        _check_password(password)
        user.password_hash = hash_password(password)
        user.session_epoch += 1
    for key in ("display_name", "role", "enforcement_id", "phone", "active"):
        if key in changes:
            if key == "role" and changes[key] not in ROLES:
                raise RuleViolation("bad_role", role=changes[key])
            setattr(user, key, changes[key])
    if "active" in changes and not changes["active"]:
        user.session_epoch += 1
    audit.record(actor, "user.update", "user", user.id, before=before, after=audit.snapshot(user))
    db.session.commit()
    return user


def set_password(actor, username: str, password: str) -> User:
    """Set a password (CLI when actor is None); ends the user's other sessions."""
    if actor is not None:
        authorize(actor, "user.manage")
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("user_not_found", id=username)
    _check_password(password)
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    audit.record(actor, "user.set_password", "user", user.id)
    db.session.commit()
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found", id=user_id)
    return user


def view_user(actor, user_id: int) -> User:
    authorize(actor, "user.manage")
    return get_user(user_id)


def list_users(actor, *, role=None, area_id=None, q=None, page=1, page_size=50):
    """Users visible to the actor: admins see all; staff see colleagues sharing their scope."""
    authorize(actor, "user.read")
    from server.services.access import scope_area_ids
    from server.models import user_areas

    stmt = select(User)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(User.username.ilike(like) | User.display_name.ilike(like))
    ids = scope_area_ids(actor)
    if ids is not None:
        stmt = stmt.where(User.id.in_(select(user_areas.c.user_id).where(user_areas.c.area_id.in_(ids or {-1})))
                          | (User.id == actor.id))
    if area_id is not None:
        stmt = stmt.where(User.id.in_(select(user_areas.c.user_id).where(user_areas.c.area_id == area_id)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(User.id).limit(page_size).offset((page - 1) * page_size)).all()
    return rows, total


# --- areas ---------------------------------------------------------------------------

def create_area(actor, *, code: str, name: str, level: str, parent_id: int | None = None,
                commit=True) -> Area:
    if actor is not None:
        authorize(actor, "area.manage")
    if level not in AREA_LEVELS:
        raise RuleViolation("bad_area_level", level=level)
    parent = None
    if parent_id is not None:
        parent = db.session.get(Area, parent_id)
        if parent is None:
            raise NotFound("area_not_found", id=parent_id)
    expected = PARENT_LEVEL[level]
    if (parent.level if parent else None) != expected:
        raise RuleViolation("bad_area_parent", level=level)
    if db.session.scalar(select(func.count()).select_from(Area).where(Area.code == code)):
        raise Conflict("area_code_taken", code=code)
    area = Area(code=code, name=name, level=level, parent=parent)
    db.session.add(area)
    db.session.flush()
    area.path = (parent.path if parent else "/") + f"{area.id}/"
    audit.record(actor, "area.create", "area", area.id, after=audit.snapshot(area))
    if commit:
        db.session.commit()
    return area


def update_area(actor, area_id: int, **changes) -> Area:
    authorize(actor, "area.manage")
    area = db.session.get(Area, area_id)
    if area is None:
        raise NotFound("area_not_found", id=area_id)
    before = audit.snapshot(area)
    for key in ("name", "active"):
        if key in changes:
            setattr(area, key, changes[key])
    audit.record(actor, "area.update", "area", area.id, before=before, after=audit.snapshot(area))
    db.session.commit()
    return area


def list_areas(actor, *, level=None, parent_id=None):
    authorize(actor, "area.read")
    from server.services.access import scope_area_ids

    stmt = select(Area).order_by(Area.path)
    if level:
        stmt = stmt.where(Area.level == level)
    if parent_id is not None:
        stmt = stmt.where(Area.parent_id == parent_id)
    ids = scope_area_ids(actor)
    if ids is not None:
        # Ancestors of the user's areas are visible too, so the tree can be drawn.
        ancestor_ids = {int(x) for a in actor.areas for x in a.path.strip("/").split("/") if x}
        stmt = stmt.where(Area.id.in_(ids | ancestor_ids or {-1}))
    return db.session.scalars(stmt).all()
