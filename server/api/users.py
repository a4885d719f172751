"""User accounts (admin), and the colleague list inspectors pick a second inspector from."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from server.api.common import OutSchema, PageArgs, PageMetaSchema, StrictSchema, page_meta, require_user
from server.models import ROLES
from server.services import accounts

URL_PREFIX = "/users"
blp = Blueprint("users", __name__, description="User accounts and roles.")


def mask_phone(phone: str | None) -> str | None:
    if not phone or len(phone) < 7:
        return phone
    return phone[:3] + "****" + phone[-4:]


class UserSchema(OutSchema):
    id = fields.Integer(dump_only=True)
    username = fields.String()
    display_name = fields.String()
    role = fields.String()
    enforcement_id = fields.String(allow_none=True)
    phone = fields.Function(lambda u: mask_phone(u.phone))
    active = fields.Boolean()
    area_ids = fields.Function(lambda u: sorted(a.id for a in u.areas))
    venue_ids = fields.Function(lambda u: sorted(v.id for v in u.venues))


class UserCreateSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=2, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=8, max=200))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    area_ids = fields.List(fields.Integer(), load_default=list)
    venue_ids = fields.List(fields.String(), load_default=list)
    enforcement_id = fields.String(allow_none=True, validate=validate.Length(max=32))
    phone = fields.String(allow_none=True, validate=validate.Regexp(r"^[0-9+\- ]{5,20}$"))


class UserUpdateSchema(StrictSchema):
    password = fields.String(load_only=True, validate=validate.Length(min=8, max=200))
    display_name = fields.String(validate=validate.Length(min=1, max=64))
    role = fields.String(validate=validate.OneOf(ROLES))
    area_ids = fields.List(fields.Integer())
    venue_ids = fields.List(fields.String())
    enforcement_id = fields.String(allow_none=True, validate=validate.Length(max=32))
    phone = fields.String(allow_none=True, validate=validate.Regexp(r"^[0-9+\- ]{5,20}$"))
    active = fields.Boolean()


class UserQuerySchema(PageArgs):
    role = fields.String(validate=validate.OneOf(ROLES))
    area_id = fields.Integer()
    q = fields.String(validate=validate.Length(max=64))


class UserPageSchema(OutSchema):
    items = fields.List(fields.Nested(UserSchema))
    meta = fields.Nested(PageMetaSchema)


@blp.route("")
class Users(MethodView):
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, args):
        """Users in the caller's scope; phone numbers are masked."""
        rows, total = accounts.list_users(require_user(), **args)
        return {"items": rows, "meta": page_meta(args["page"], args["page_size"], total)}

    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, args):
        """Create an account (admin). Inspectors need an enforcement id (执法证号)."""
        return accounts.create_user(require_user(), **args)


@blp.route("/<int:user_id>")
class UserItem(MethodView):
    @blp.response(200, UserSchema)
    def get(self, user_id):
        """One account (admin)."""
        return accounts.view_user(require_user(), user_id)

    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, args, user_id):
        """Change role, areas, password or active flag (admin); a password change ends old sessions."""
        return accounts.update_user(require_user(), user_id, **args)
