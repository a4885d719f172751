"""Sessions (Flask-Login), password hashing (argon2) and CSRF protection for the API."""
from __future__ import annotations

import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, request, session
from flask_login import current_user

from server.extensions import login_manager
from server.services import access
from server.services.errors import Forbidden, Unauthorized

_default_hasher = PasswordHasher()


def _hasher() -> PasswordHasher:
    """The app's hasher (TestConfig uses cheap parameters so fixtures stay fast)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.extensions.get("firesweep_hasher", _default_hasher)
    return _default_hasher
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A constant hash to verify against when the user does not exist, so response time
# does not reveal which usernames exist.
def dummy_verify(password: str) -> None:
    from flask import current_app

    dummy = current_app.extensions.setdefault("firesweep_dummy_hash", hash_password(secrets.token_hex(8)))
    verify_password(dummy, password)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def init_app(app: Flask) -> None:
    params = app.config.get("ARGON2_PARAMS")
    if params:
        app.extensions["firesweep_hasher"] = PasswordHasher(**params)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        try:
            uid, epoch = (int(x) for x in user_id.split(":"))
        except ValueError:
            return None
        # One statement: the areas (every scope check reads them) joined in; an owner's venues
        # are loaded when first read (access.owner_venue_ids), not for every other role.
        user = access.load_user(uid)
        if user is None or user.session_epoch != epoch or not user.active:
            return None
        return user

    @login_manager.unauthorized_handler
    def unauthorized():
        raise Unauthorized()

    @app.before_request
    def check_csrf():
        if request.method in SAFE_METHODS or not request.path.startswith("/api/"):
            return None
        sent = request.headers.get(CSRF_HEADER, "")
        expected = session.get("csrf")
        if not expected or not hmac.compare_digest(sent, expected):
            raise Forbidden("csrf_failed")
        return None


def require_user():
    """The logged-in user, or 401 in the one error shape."""
    if not current_user.is_authenticated:
        raise Unauthorized()
    return current_user._get_current_object()
