"""Login, logout, the current user and the CSRF token."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_login import login_user, logout_user
from flask_smorest import Blueprint
from marshmallow import fields, validate

from server.api.common import OutSchema, StrictSchema, require_user
from server.auth import csrf_token
from server.extensions import limiter
from server.services import accounts

URL_PREFIX = "/auth"
blp = Blueprint("auth", __name__, description="Sessions: log in and out; the CSRF token.")


class LoginSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200), load_only=True)
    remember = fields.Boolean(load_default=False)


class AreaRefSchema(OutSchema):
    id = fields.Integer()
    name = fields.String()
    level = fields.String()


class MeSchema(OutSchema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    role = fields.String()
    enforcement_id = fields.String(allow_none=True)
    areas = fields.List(fields.Nested(AreaRefSchema))
    venue_ids = fields.Function(lambda u: sorted(v.id for v in u.venues))


class SessionSchema(OutSchema):
    user = fields.Nested(MeSchema, allow_none=True)
    csrf_token = fields.String()


@blp.route("/csrf")
class Csrf(MethodView):
    @blp.response(200, SessionSchema)
    def get(self):
        """A CSRF token for this browser session; send it as `X-CSRF-Token` on every unsafe request."""
        return {"user": None, "csrf_token": csrf_token()}


@blp.route("/login")
class Login(MethodView):
    decorators = [limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])]

    @blp.arguments(LoginSchema)
    @blp.response(200, SessionSchema)
    def post(self, args):
        """Log in with username and password; starts a session cookie (HttpOnly, SameSite=Lax)."""
        user = accounts.authenticate(args["username"], args["password"])
        login_user(user, remember=args["remember"])
        return {"user": user, "csrf_token": csrf_token()}


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self):
        """End the session. The phone keeps its unsynced data; logging out never deletes it."""
        logout_user()


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, SessionSchema)
    def get(self):
        """The logged-in user with role, areas and (owners) venues."""
        return {"user": require_user(), "csrf_token": csrf_token()}
