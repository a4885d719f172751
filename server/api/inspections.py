"""Inspections (检查记录) and checklist item results, for the supervisor's desk and online use.

Phones write through sync (/sync/push); these endpoints call the same service functions.
`InspectionSchema` and `ItemResultSchema` are also what sync pull sends to phones.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from server.api.common import OutSchema, PageArgs, PageMetaSchema, StrictSchema, page_meta, require_user
from server.models.field import INSPECTION_KINDS, INSPECTION_STATUSES, ITEM_RESULTS
from server.services import inspections
from server.services.errors import NotFound

URL_PREFIX = "/inspections"
blp = Blueprint("inspections", __name__, description="Inspection records (检查记录) and checklist results.")

SHA256 = validate.Regexp(r"^[0-9a-f]{64}$")
CLIENT_ID = validate.Regexp(r"^[0-9A-Za-z\-]{8,36}$")


class SyncRowSchema(OutSchema):
    """Bookkeeping columns every syncable row carries (DESIGN §5)."""

    id = fields.String()
    version = fields.Integer()
    server_seq = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    client_observed_at = fields.DateTime(allow_none=True)
    deleted_at = fields.DateTime(allow_none=True)


class InspectionSchema(SyncRowSchema):
    venue_id = fields.String()
    venue_name = fields.Function(lambda i: (i.venue_snapshot or {}).get("name"))
    kind = fields.String()
    status = fields.String()
    campaign_id = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    template_id = fields.Integer(allow_none=True)
    template_version = fields.Integer(allow_none=True)
    corrects_id = fields.String(allow_none=True)
    inspector_ids = fields.Function(lambda i: sorted(u.id for u in i.inspectors))
    started_at = fields.DateTime()
    started_at_device = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    finished_at_device = fields.DateTime(allow_none=True)
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    gps_accuracy_m = fields.Float(allow_none=True)
    venue_snapshot = fields.Dict()
    summary = fields.String(allow_none=True)
    owner_signature_hash = fields.String(allow_none=True)
    owner_signer_name = fields.String(allow_none=True)
    owner_refused = fields.Boolean()
    refusal_witness = fields.String(allow_none=True)
    refusal_photo_hash = fields.String(allow_none=True)
    inspector_signatures = fields.Dict(keys=fields.String(), values=fields.String())
    created_by_id = fields.Integer(allow_none=True)
    device_id = fields.String(allow_none=True)


class ItemResultSchema(SyncRowSchema):
    inspection_id = fields.String()
    item_id = fields.Integer(allow_none=True)
    item_code = fields.String()
    result = fields.String()
    note = fields.String(allow_none=True)
    photo_hashes = fields.List(fields.String())


class InspectionCreateSchema(StrictSchema):
    id = fields.String(validate=CLIENT_ID)
    venue_id = fields.String(required=True)
    inspector_ids = fields.List(fields.Integer(), load_default=list, validate=validate.Length(max=20))
    kind = fields.String(load_default="routine", validate=validate.OneOf(INSPECTION_KINDS))
    campaign_id = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    corrects_id = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    lng = fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    gps_accuracy_m = fields.Float(allow_none=True, validate=validate.Range(0, 100000))
    started_at_device = fields.AwareDateTime(allow_none=True)
    summary = fields.String(allow_none=True, validate=validate.Length(max=4000))


class InspectionUpdateSchema(StrictSchema):
    version = fields.Integer(load_only=True)
    inspector_ids = fields.List(fields.Integer(), validate=validate.Length(min=1, max=20))
    kind = fields.String(validate=validate.OneOf(INSPECTION_KINDS))
    campaign_id = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    lng = fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    gps_accuracy_m = fields.Float(allow_none=True, validate=validate.Range(0, 100000))
    started_at_device = fields.AwareDateTime(allow_none=True)
    summary = fields.String(allow_none=True, validate=validate.Length(max=4000))
    owner_signer_name = fields.String(allow_none=True, validate=validate.Length(max=64))


class InspectorAddSchema(StrictSchema):
    user_id = fields.Integer(required=True)


class InspectionFinishSchema(StrictSchema):
    inspector_signatures = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^\d{1,10}$")),
                                       values=fields.String(validate=SHA256), load_default=dict)
    owner_signature_hash = fields.String(allow_none=True, validate=SHA256)
    owner_signer_name = fields.String(allow_none=True, validate=validate.Length(max=64))
    owner_refused = fields.Boolean(load_default=False)
    refusal_witness = fields.String(allow_none=True, validate=validate.Length(max=64))
    refusal_photo_hash = fields.String(allow_none=True, validate=SHA256)
    finished_at_device = fields.AwareDateTime(allow_none=True)
    summary = fields.String(allow_none=True, validate=validate.Length(max=4000))


class ItemResultCreateSchema(StrictSchema):
    id = fields.String(validate=CLIENT_ID)
    item_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    result = fields.String(required=True, validate=validate.OneOf(ITEM_RESULTS))
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    photo_hashes = fields.List(fields.String(validate=SHA256), load_default=list)


class ItemResultUpdateSchema(StrictSchema):
    result = fields.String(validate=validate.OneOf(ITEM_RESULTS))
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    photo_hashes = fields.List(fields.String(validate=SHA256))


class InspectionQuerySchema(PageArgs):
    venue_id = fields.String()
    inspector_id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(INSPECTION_KINDS))
    status = fields.String(validate=validate.OneOf(INSPECTION_STATUSES))
    campaign_id = fields.String()
    date_from = fields.Date()
    date_to = fields.Date()


class InspectionListItemSchema(InspectionSchema):
    """Lists leave out the venue snapshot (it holds the responsible person's phone)."""

    class Meta:
        exclude = ("venue_snapshot",)


class InspectionPageSchema(OutSchema):
    items = fields.List(fields.Nested(InspectionListItemSchema))
    meta = fields.Nested(PageMetaSchema)


class InspectionDetailSchema(OutSchema):
    inspection = fields.Nested(InspectionSchema)
    items = fields.List(fields.Nested(ItemResultSchema))
    hazards = fields.List(fields.Nested(lambda: _hazard_schema()))


def _hazard_schema():
    from server.api.hazards import HazardSchema  # imported late: hazards builds on SyncRowSchema

    return HazardSchema()


@blp.route("")
class Inspections(MethodView):
    @blp.arguments(InspectionQuerySchema, location="query")
    @blp.response(200, InspectionPageSchema)
    def get(self, args):
        """Inspections in the caller's scope, newest first; filter by venue, inspector, kind,
        status, campaign and start date (China time)."""
        rows, total = inspections.list_inspections(require_user(), **args)
        return {"items": rows, "meta": page_meta(args["page"], args["page_size"], total)}

    @blp.arguments(InspectionCreateSchema)
    @blp.response(201, InspectionSchema)
    def post(self, args):
        """Start an inspection; the caller is one of its inspectors. `corrects_id` makes it an
        addendum to a finished inspection."""
        return inspections.start_inspection(require_user(), **args)


@blp.route("/<inspection_id>")
class InspectionItem(MethodView):
    @blp.response(200, InspectionDetailSchema)
    def get(self, inspection_id):
        """One inspection with its item results and hazards."""
        return inspections.inspection_detail(require_user(), inspection_id)

    @blp.arguments(InspectionUpdateSchema)
    @blp.response(200, InspectionSchema)
    def patch(self, args, inspection_id):
        """Edit an unfinished inspection (422 `inspection_finished` once finished; 409 on a stale `version`)."""
        user = require_user()
        row = inspections.view_inspection(user, inspection_id)
        inspections.check_version(row, args.pop("version", None))
        return inspections.update_inspection(user, row, args)


@blp.route("/<inspection_id>/inspectors")
class InspectionInspectors(MethodView):
    @blp.arguments(InspectorAddSchema)
    @blp.response(200, InspectionSchema)
    def post(self, args, inspection_id):
        """Add an inspector (e.g. the second one) before finishing."""
        return inspections.add_inspector(require_user(), inspection_id, args["user_id"])


@blp.route("/<inspection_id>/finish")
class InspectionFinish(MethodView):
    @blp.arguments(InspectionFinishSchema)
    @blp.response(200, InspectionSchema)
    def post(self, args, inspection_id):
        """Finish: every inspector's signature (`{user_id: sha256}`) and the owner's signature,
        or `owner_refused` with `refusal_witness` and `refusal_photo_hash`. Closes the task."""
        return inspections.finish_inspection(require_user(), inspection_id, **args)


@blp.route("/<inspection_id>/items")
class InspectionItemResults(MethodView):
    @blp.arguments(ItemResultCreateSchema)
    @blp.response(201, ItemResultSchema)
    def post(self, args, inspection_id):
        """Record one checklist item's result (pass / fail / na)."""
        return inspections.record_item_result(require_user(), inspection_id=inspection_id, **args)


@blp.route("/<inspection_id>/items/<item_result_id>")
class InspectionItemResult(MethodView):
    @blp.arguments(ItemResultUpdateSchema)
    @blp.response(200, ItemResultSchema)
    def patch(self, args, inspection_id, item_result_id):
        """Change an item result while the inspection is unfinished."""
        row = inspections.get_item_result(item_result_id)
        if row.inspection_id != inspection_id:
            raise NotFound("item_result_not_found", id=item_result_id)
        return inspections.update_item_result(require_user(), row, args)
