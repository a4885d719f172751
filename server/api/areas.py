"""The area tree: district → street (街道) → grid (网格)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from server.api.common import OutSchema, StrictSchema, require_user
from server.models import AREA_LEVELS
from server.services import accounts

URL_PREFIX = "/areas"
blp = Blueprint("areas", __name__, description="Areas that scope users and venues.")


class AreaSchema(OutSchema):
    id = fields.Integer(dump_only=True)
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_id = fields.Integer(allow_none=True)
    active = fields.Boolean()


class AreaCreateSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    level = fields.String(required=True, validate=validate.OneOf(AREA_LEVELS))
    parent_id = fields.Integer(allow_none=True, load_default=None)


class AreaUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    active = fields.Boolean()


class AreaQuerySchema(StrictSchema):
    level = fields.String(validate=validate.OneOf(AREA_LEVELS))
    parent_id = fields.Integer()


@blp.route("")
class Areas(MethodView):
    @blp.arguments(AreaQuerySchema, location="query")
    @blp.response(200, AreaSchema(many=True))
    def get(self, args):
        """Areas in the caller's scope (with their ancestors), ordered as a tree."""
        return accounts.list_areas(require_user(), **args)

    @blp.arguments(AreaCreateSchema)
    @blp.response(201, AreaSchema)
    def post(self, args):
        """Create a street under the district or a grid under a street (admin)."""
        return accounts.create_area(require_user(), **args)


@blp.route("/<int:area_id>")
class AreaItem(MethodView):
    @blp.arguments(AreaUpdateSchema)
    @blp.response(200, AreaSchema)
    def patch(self, args, area_id):
        """Rename or deactivate an area (admin)."""
        return accounts.update_area(require_user(), area_id, **args)
