"""Hazards (隐患): list and filter for the desk, record online, edit before notice, and move
through their states with POST /hazards/<id>/transitions. `HazardSchema` is also the sync pull shape.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from server.api.common import OutSchema, PageArgs, PageMetaSchema, StrictSchema, page_meta, require_user
from server.api.inspections import CLIENT_ID, SHA256, SyncRowSchema
from server.models.field import CORRECTION_MODES, HAZARD_SEVERITIES, HAZARD_STATES
from server.services import hazards
from server.services.inspections import check_version

URL_PREFIX = "/hazards"
blp = Blueprint("hazards", __name__, description="Fire hazards (隐患) and their rectification states.")


class HazardSchema(SyncRowSchema):
    venue_id = fields.String()
    inspection_id = fields.String(allow_none=True)
    item_id = fields.Integer(allow_none=True)
    item_code = fields.String(allow_none=True)
    description = fields.String()
    location = fields.String()
    severity = fields.String()
    correction_mode = fields.String()
    legal_basis_codes = fields.List(fields.String())
    requirement = fields.String(allow_none=True)
    photo_hashes = fields.List(fields.String())
    found_on = fields.Date()
    deadline = fields.Date(allow_none=True)
    deadline_days = fields.Integer(allow_none=True)
    deadline_override_reason = fields.String(allow_none=True)
    state = fields.String()
    state_changed_at = fields.DateTime(allow_none=True)
    notified_on = fields.Date(allow_none=True)
    fixed_on = fields.Date(allow_none=True)
    major_determination = fields.Dict(allow_none=True)
    withdrawn_reason = fields.String(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)


class HazardCreateSchema(StrictSchema):
    id = fields.String(validate=CLIENT_ID)
    venue_id = fields.String()
    inspection_id = fields.String()
    item_code = fields.String(validate=validate.Length(min=1, max=32))
    description = fields.String(validate=validate.Length(min=1, max=4000))
    location = fields.String(load_default="", validate=validate.Length(max=200))
    severity = fields.String(validate=validate.OneOf(HAZARD_SEVERITIES))
    correction_mode = fields.String(validate=validate.OneOf(CORRECTION_MODES))
    legal_basis_codes = fields.List(fields.String(validate=validate.Length(max=64)))
    requirement = fields.String(allow_none=True, validate=validate.Length(max=4000))
    photo_hashes = fields.List(fields.String(validate=SHA256), load_default=list)
    found_on = fields.Date()
    deadline_days = fields.Integer(allow_none=True, validate=validate.Range(0, hazards.MAX_DEADLINE_DAYS))
    deadline = fields.Date(allow_none=True)
    deadline_override_reason = fields.String(allow_none=True, validate=validate.Length(max=1000))


class HazardUpdateSchema(StrictSchema):
    version = fields.Integer(load_only=True)
    description = fields.String(validate=validate.Length(min=1, max=4000))
    location = fields.String(validate=validate.Length(max=200))
    severity = fields.String(validate=validate.OneOf(HAZARD_SEVERITIES))
    correction_mode = fields.String(validate=validate.OneOf(CORRECTION_MODES))
    legal_basis_codes = fields.List(fields.String(validate=validate.Length(max=64)))
    requirement = fields.String(allow_none=True, validate=validate.Length(max=4000))
    photo_hashes = fields.List(fields.String(validate=SHA256))
    deadline_days = fields.Integer(allow_none=True, validate=validate.Range(0, hazards.MAX_DEADLINE_DAYS))
    deadline = fields.Date(allow_none=True)
    deadline_override_reason = fields.String(allow_none=True, validate=validate.Length(max=1000))


class HazardTransitionSchema(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf(hazards.ACTIONS))
    as_of = fields.Date()
    reason = fields.String(allow_none=True, validate=validate.Length(max=1000))
    determined_by = fields.List(fields.Integer(), validate=validate.Length(max=50))
    confirmed = fields.Boolean()
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class HazardQuerySchema(PageArgs):
    state = fields.String(validate=validate.OneOf(HAZARD_STATES))
    severity = fields.String(validate=validate.OneOf(HAZARD_SEVERITIES))
    venue_id = fields.String()
    inspection_id = fields.String()
    area_id = fields.Integer()
    deadline_before = fields.Date()
    deadline_after = fields.Date()
    overdue = fields.Boolean()


class HazardPageSchema(OutSchema):
    items = fields.List(fields.Nested(HazardSchema))
    meta = fields.Nested(PageMetaSchema)


@blp.route("")
class Hazards(MethodView):
    @blp.arguments(HazardQuerySchema, location="query")
    @blp.response(200, HazardPageSchema)
    def get(self, args):
        """Hazards in the caller's scope, soonest deadline first. `overdue=true` also catches
        notified hazards whose deadline passed before the daily tick marked them."""
        rows, total = hazards.list_hazards(require_user(), **args)
        return {"items": rows, "meta": page_meta(args["page"], args["page_size"], total)}

    @blp.arguments(HazardCreateSchema)
    @blp.response(201, HazardSchema)
    def post(self, args):
        """Record a hazard: with `inspection_id` + `item_code` the checklist item supplies legal
        bases, severity, correction mode and default working days; or free-standing with `venue_id`.
        A `deadline` other than the computed one needs `deadline_override_reason`."""
        return hazards.create_hazard(require_user(), **args)


@blp.route("/<hazard_id>")
class HazardItem(MethodView):
    @blp.response(200, HazardSchema)
    def get(self, hazard_id):
        """One hazard."""
        return hazards.view_hazard(require_user(), hazard_id)

    @blp.arguments(HazardUpdateSchema)
    @blp.response(200, HazardSchema)
    def patch(self, args, hazard_id):
        """Edit a hazard before its notice (states open / major_pending); `state` is not editable."""
        user = require_user()
        row = hazards.view_hazard(user, hazard_id)
        check_version(row, args.pop("version", None))
        return hazards.update_hazard(user, row, args)


@blp.route("/<hazard_id>/transitions")
class HazardTransitions(MethodView):
    @blp.arguments(HazardTransitionSchema)
    @blp.response(200, HazardSchema)
    def post(self, args, hazard_id):
        """Move the hazard: notify, claim_rectified, verify_fixed, mark_overdue, escalate,
        determine_major (`determined_by`: ≥3 user ids, `confirmed`), withdraw (`reason`).
        An illegal move is 422 `illegal_transition`."""
        return hazards.transition(require_user(), hazard_id, args.pop("action"), **args)
