"""Campaigns (专项行动) with their carpet-sweep door lists and coverage.

`CampaignSchema` and `CampaignDoorSchema` are also what sync pull sends to phones; phones record
door outcomes through sync, the desk through PATCH .../doors/<id>.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from server.api.common import OutSchema, PageArgs, PageMetaSchema, StrictSchema, page_meta, require_user
from server.api.inspections import CLIENT_ID, SyncRowSchema
from server.models import VENUE_TYPES
from server.models.field import DOOR_OUTCOMES
from server.services import campaigns
from server.services.errors import NotFound
from server.services.inspections import check_version

URL_PREFIX = "/campaigns"
blp = Blueprint("campaigns", __name__, description="Campaigns (专项行动) and door-to-door sweeps (地毯式).")


class CampaignSchema(SyncRowSchema):
    name = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    venue_types = fields.List(fields.String())
    area_ids = fields.Function(lambda c: sorted(a.id for a in c.areas))
    description = fields.String(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)


class CampaignDoorSchema(SyncRowSchema):
    campaign_id = fields.String()
    area_id = fields.Integer()
    venue_id = fields.String(allow_none=True)
    label = fields.String()
    address = fields.String()
    outcome = fields.String()
    inspection_id = fields.String(allow_none=True)
    visited_at = fields.DateTime(allow_none=True)
    visited_by_id = fields.Integer(allow_none=True)
    revisit_due = fields.Date(allow_none=True)
    note = fields.String(allow_none=True)


class CampaignCreateSchema(StrictSchema):
    id = fields.String(validate=CLIENT_ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    venue_types = fields.List(fields.String(validate=validate.OneOf(VENUE_TYPES)), load_default=list)
    area_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=4000))


class CampaignUpdateSchema(StrictSchema):
    version = fields.Integer(load_only=True)
    name = fields.String(validate=validate.Length(min=1, max=200))
    starts_on = fields.Date()
    ends_on = fields.Date()
    venue_types = fields.List(fields.String(validate=validate.OneOf(VENUE_TYPES)))
    area_ids = fields.List(fields.Integer(), validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=4000))


class CampaignQuerySchema(PageArgs):
    active_on = fields.Date()
    q = fields.String(validate=validate.Length(max=100))


class CampaignPageSchema(OutSchema):
    items = fields.List(fields.Nested(CampaignSchema))
    meta = fields.Nested(PageMetaSchema)


class DoorSpecSchema(StrictSchema):
    label = fields.String(validate=validate.Length(min=1, max=200))
    address = fields.String(load_default="", validate=validate.Length(max=300))
    area_id = fields.Integer()
    venue_id = fields.String()


class DoorBulkSchema(StrictSchema):
    doors = fields.List(fields.Nested(DoorSpecSchema), required=True,
                        validate=validate.Length(min=1, max=campaigns.DOORS_PER_CALL))


class DoorVisitSchema(StrictSchema):
    version = fields.Integer(load_only=True)
    outcome = fields.String(validate=validate.OneOf(campaigns.VISIT_OUTCOMES))
    inspection_id = fields.String(allow_none=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))
    visited_at = fields.AwareDateTime()
    label = fields.String(validate=validate.Length(min=1, max=200))
    address = fields.String(validate=validate.Length(max=300))


class DoorQuerySchema(PageArgs):
    area_id = fields.Integer()
    outcome = fields.String(validate=validate.OneOf(DOOR_OUTCOMES))
    revisit_due_by = fields.Date()
    q = fields.String(validate=validate.Length(max=100))


class DoorPageSchema(OutSchema):
    items = fields.List(fields.Nested(CampaignDoorSchema))
    meta = fields.Nested(PageMetaSchema)


class CoverageCountsSchema(OutSchema):
    total = fields.Integer()
    visited = fields.Integer()
    percent = fields.Float()
    by_outcome = fields.Dict(keys=fields.String(), values=fields.Integer())


class StreetCoverageSchema(CoverageCountsSchema):
    area_id = fields.Integer()
    name = fields.String(allow_none=True)


class GridCoverageSchema(StreetCoverageSchema):
    street_id = fields.Integer(allow_none=True)


class CoverageSchema(OutSchema):
    campaign_id = fields.String()
    overall = fields.Nested(CoverageCountsSchema)
    streets = fields.List(fields.Nested(StreetCoverageSchema))
    grids = fields.List(fields.Nested(GridCoverageSchema))


@blp.route("")
class Campaigns(MethodView):
    @blp.arguments(CampaignQuerySchema, location="query")
    @blp.response(200, CampaignPageSchema)
    def get(self, args):
        """Campaigns touching the caller's areas, newest first; `active_on` keeps those running that day."""
        rows, total = campaigns.list_campaigns(require_user(), **args)
        return {"items": rows, "meta": page_meta(args["page"], args["page_size"], total)}

    @blp.arguments(CampaignCreateSchema)
    @blp.response(201, CampaignSchema)
    def post(self, args):
        """Create a campaign over areas the caller covers (supervisor/admin)."""
        return campaigns.create_campaign(require_user(), **args)


@blp.route("/<campaign_id>")
class CampaignItem(MethodView):
    @blp.response(200, CampaignSchema)
    def get(self, campaign_id):
        """One campaign."""
        return campaigns.view_campaign(require_user(), campaign_id)

    @blp.arguments(CampaignUpdateSchema)
    @blp.response(200, CampaignSchema)
    def patch(self, args, campaign_id):
        """Change name, period, venue types, areas or description."""
        user = require_user()
        check_version(campaigns.view_campaign(user, campaign_id), args.pop("version", None))
        return campaigns.update_campaign(user, campaign_id, args)

    @blp.response(204)
    def delete(self, campaign_id):
        """Delete a campaign (tombstone; phones drop it and its doors on pull)."""
        campaigns.delete_campaign(require_user(), campaign_id)


@blp.route("/<campaign_id>/doors")
class CampaignDoors(MethodView):
    @blp.arguments(DoorQuerySchema, location="query")
    @blp.response(200, DoorPageSchema)
    def get(self, args, campaign_id):
        """The door list inside the caller's scope; filter by area, outcome, revisits due."""
        rows, total = campaigns.list_doors(require_user(), campaign_id, **args)
        return {"items": rows, "meta": page_meta(args["page"], args["page_size"], total)}

    @blp.arguments(DoorBulkSchema)
    @blp.response(201, CampaignDoorSchema(many=True))
    def post(self, args, campaign_id):
        """Add doors from a list: `label`, `address`, `area_id` (a grid of the campaign) and
        optionally `venue_id` (then area and label default to the venue's)."""
        return campaigns.add_doors(require_user(), campaign_id, args["doors"])


@blp.route("/<campaign_id>/doors/from-venues")
class CampaignDoorsFromVenues(MethodView):
    @blp.response(201, CampaignDoorSchema(many=True))
    def post(self, campaign_id):
        """Add every register venue of the campaign's types in its areas not yet on the list."""
        return campaigns.add_doors_from_venues(require_user(), campaign_id)


@blp.route("/<campaign_id>/doors/<door_id>")
class CampaignDoorItem(MethodView):
    @blp.arguments(DoorVisitSchema)
    @blp.response(200, CampaignDoorSchema)
    def patch(self, args, campaign_id, door_id):
        """Record a visit outcome: no_problem, problem_found (with `inspection_id`), nobody_home
        (revisit due the next working day) or refused."""
        door = campaigns.get_door(door_id)
        if door.campaign_id != campaign_id:
            raise NotFound("door_not_found", id=door_id)
        check_version(door, args.pop("version", None))
        return campaigns.record_visit(require_user(), door, args)


@blp.route("/<campaign_id>/coverage")
class CampaignCoverage(MethodView):
    @blp.response(200, CoverageSchema)
    def get(self, campaign_id):
        """Doors total, visited, by outcome and percent visited — overall, per street and per grid."""
        return campaigns.coverage(require_user(), campaign_id)
