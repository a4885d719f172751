"""The venue register (检查对象): search, register, edit, archive, import and export."""
from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from server.api.common import OutSchema, PageArgs, PageMetaSchema, StrictSchema, page_meta, require_user
from server.i18n import translate
from server.models import RISK_LEVELS, VENUE_TYPES
from server.services import venue_io, venues

URL_PREFIX = "/venues"
blp = Blueprint("venues", __name__, description="The venue register (检查对象): search, edit, import, export.")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class VenueSchema(OutSchema):
    id = fields.String()
    code = fields.String(allow_none=True)
    name = fields.String()
    type = fields.String()
    key_unit = fields.Boolean()
    address = fields.String()
    area_id = fields.Integer()
    area_code = fields.Function(lambda v: v.area.code if v.area else None)
    area_name = fields.Function(lambda v: v.area.name if v.area else None)
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    responsible_person = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    floors = fields.Integer(allow_none=True)
    floor_area = fields.Float(allow_none=True)
    occupancy = fields.Integer(allow_none=True)
    risk_level = fields.String()
    listed_for_remediation = fields.Boolean()
    notes = fields.String(allow_none=True)
    archived_at = fields.DateTime(allow_none=True)
    e_service_consent_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class VenueListItemSchema(VenueSchema):
    """Lists mask the responsible person's phone (138****0001); the item endpoint shows it."""

    contact_phone = fields.Function(lambda v: venues.mask_phone(v.contact_phone))


PHONE = validate.Regexp(r"^[0-9+\- ]{5,20}$")


class VenueWriteSchema(StrictSchema):
    code = fields.String(allow_none=True, validate=validate.Length(max=40))
    name = fields.String(validate=validate.Length(min=1, max=200))
    type = fields.String(validate=validate.OneOf(VENUE_TYPES))
    key_unit = fields.Boolean()
    address = fields.String(validate=validate.Length(min=1, max=300))
    area_id = fields.Integer()
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    lng = fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    responsible_person = fields.String(allow_none=True, validate=validate.Length(max=64))
    contact_phone = fields.String(allow_none=True, validate=PHONE)
    floors = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=500))
    floor_area = fields.Float(allow_none=True, validate=validate.Range(min=0))
    occupancy = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    listed_for_remediation = fields.Boolean()
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))


class VenueCreateSchema(VenueWriteSchema):
    id = fields.UUID(load_default=None, metadata={"description": "Client-made UUID (offline creation)."})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = fields.String(required=True, validate=validate.OneOf(VENUE_TYPES))
    address = fields.String(required=True, validate=validate.Length(min=1, max=300))
    area_id = fields.Integer(required=True, metadata={"description": "A grid (网格) in your areas."})


class VenueUpdateSchema(VenueWriteSchema):
    version = fields.Integer(metadata={"description": "The version you edited; a stale one gives 409."})


class VenueFilterSchema(StrictSchema):
    q = fields.String(validate=validate.Length(min=1, max=100),
                      metadata={"description": "Fragment of the name or address, or an exact venue code."})
    type = fields.String(validate=validate.OneOf(VENUE_TYPES))
    area_id = fields.Integer(metadata={"description": "An area; a street or district includes its grids."})
    key_unit = fields.Boolean()
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    listed_for_remediation = fields.Boolean()
    include_archived = fields.Boolean(load_default=False, metadata={"description": "Desk roles only."})
    sort = fields.String(load_default=venues.DEFAULT_SORT, validate=validate.OneOf(venues.SORTS))


class VenueQuerySchema(PageArgs, VenueFilterSchema):
    pass


def compile_dumper(schema):
    """A function with exactly `schema.dump(obj)`'s output for one object, without marshmallow's
    per-field machinery: strings, numbers and ISO datetimes are converted inline, every other
    field (Function, Nested …) goes through its own serialize. A 50-row page spent a third of
    its time in marshmallow."""
    plan = []
    for name, field in schema.dump_fields.items():
        kind = type(field)
        if kind is fields.String:
            how = str
        elif kind is fields.Integer and not field.as_string:
            how = int
        elif kind is fields.Float and not field.as_string:
            how = float
        elif kind is fields.Boolean:
            how = None  # marshmallow dumps the value as it is
        elif kind is fields.DateTime and field.format in (None, "iso", "iso8601"):
            how = datetime.isoformat
        else:
            plan.append((field.data_key or name, name, field))
            continue
        plan.append((field.data_key or name, field.attribute or name, how))
    accessor = schema.get_attribute

    def dump(obj) -> dict:
        out = {}
        for key, attr, how in plan:
            if isinstance(how, fields.Field):
                out[key] = how.serialize(attr, obj, accessor=accessor)
            else:
                value = getattr(obj, attr, None)
                out[key] = value if value is None or how is None else how(value)
        return out
    return dump


class CompiledList(fields.List):
    """A list of nested objects dumped by compile_dumper (documented like any List(Nested))."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        dump = self.__dict__.get("_dump")
        if dump is None:
            dump = self._dump = compile_dumper(self.inner.schema)
        return [dump(item) for item in value]


class VenuePageSchema(OutSchema):
    items = CompiledList(fields.Nested(VenueListItemSchema))
    meta = fields.Nested(PageMetaSchema)


class ConsentSchema(StrictSchema):
    consent = fields.Boolean(load_default=True)


class ImportArgsSchema(StrictSchema):
    dry_run = fields.Boolean(load_default=False,
                             metadata={"description": "Judge the file and report; write nothing."})


class ImportFileSchema(StrictSchema):
    file = Upload(required=True, metadata={"description": ".xlsx or .csv (UTF-8 or GB18030)"})


class ImportProblemSchema(OutSchema):
    row = fields.Integer()
    column = fields.String()
    message = fields.String()


class ImportTotalsSchema(OutSchema):
    rows = fields.Integer()
    valid = fields.Integer()
    would_create = fields.Integer()
    would_update = fields.Integer()
    unchanged = fields.Integer()
    errors = fields.Integer()


class ImportReportSchema(OutSchema):
    dry_run = fields.Boolean()
    totals = fields.Nested(ImportTotalsSchema)
    created = fields.Integer()
    updated = fields.Integer()
    errors = fields.List(fields.Nested(ImportProblemSchema))
    ignored_columns = fields.List(fields.String())


@blp.route("")
class Venues(MethodView):
    @blp.arguments(VenueQuerySchema, location="query")
    @blp.response(200, VenuePageSchema)
    def get(self, args):
        """Search the register in your scope: name/address fragment, type, area (with its grids),
        key unit, risk level, listed for remediation; sorted and paged (ties broken on id).
        Phone numbers are masked."""
        page, page_size = args.pop("page"), args.pop("page_size")
        rows, total = venues.list_venues(require_user(), page=page, page_size=page_size, **args)
        return {"items": rows, "meta": page_meta(page, page_size, total)}

    @blp.arguments(VenueCreateSchema)
    @blp.response(201, VenueSchema)
    def post(self, args):
        """Register a venue in a grid of your areas (staff)."""
        if args.get("id") is not None:
            args["id"] = str(args["id"])
        return venues.create_venue(require_user(), **args)


@blp.route("/import")
class VenueImport(MethodView):
    @blp.arguments(ImportArgsSchema, location="query")
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(200, ImportReportSchema)
    def post(self, args, files):
        """Import a register (.xlsx/.csv, Chinese or English headers; desk roles). With
        `dry_run=true` nothing is written and every bad cell is reported as {row, column,
        message}; otherwise all good rows are written in one transaction. Rows match on 编码,
        else on 名称+地址, so re-importing a file creates no duplicates."""
        upload = files["file"]
        cfg = current_app.config
        max_bytes = cfg.get("VENUE_IMPORT_MAX_BYTES", venue_io.MAX_BYTES)
        data = upload.stream.read(max_bytes + 1)
        return venue_io.import_venues(require_user(), upload.filename or "", data, dry_run=args["dry_run"],
                                      max_rows=cfg.get("VENUE_IMPORT_MAX_ROWS", venue_io.MAX_ROWS),
                                      max_bytes=max_bytes)


@blp.route("/export")
class VenueExport(MethodView):
    @blp.arguments(VenueFilterSchema, location="query")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX)
    def get(self, args):
        """The filtered register (same filters as the list) as an .xlsx file with Chinese headers (desk roles)."""
        out, _total = venue_io.export_venues(
            require_user(), max_rows=current_app.config.get("VENUE_EXPORT_MAX_ROWS", venue_io.EXPORT_MAX_ROWS),
            **args)
        stamp = date.today().strftime("%Y%m%d")
        name = f"{translate('venues.export.filename')}-{stamp}.xlsx"
        resp = Response(_chunks(out), mimetype=XLSX, direct_passthrough=True)
        resp.headers["Content-Disposition"] = (
            f"attachment; filename=\"venues-{stamp}.xlsx\"; filename*=UTF-8''{quote(name)}")
        resp.headers["Cache-Control"] = "no-store"
        return resp


def _chunks(fileobj, size=64 * 1024):
    try:
        while chunk := fileobj.read(size):
            yield chunk
    finally:
        fileobj.close()


@blp.route("/<string:venue_id>")
class VenueItem(MethodView):
    @blp.response(200, VenueSchema)
    def get(self, venue_id):
        """One venue with its full contact phone (staff in scope; the venue's owner)."""
        return venues.get_venue(require_user(), venue_id)

    @blp.arguments(VenueUpdateSchema)
    @blp.response(200, VenueSchema)
    def patch(self, args, venue_id):
        """Edit a venue in your scope (staff); moving it needs the new grid in scope too."""
        return venues.update_venue(require_user(), venue_id, **args)


@blp.route("/<string:venue_id>/archive")
class VenueArchive(MethodView):
    @blp.response(200, VenueSchema)
    def post(self, venue_id):
        """Archive a venue (closed or demolished; desk roles). Hidden from lists unless
        `include_archived=true`; its records stay."""
        return venues.archive_venue(require_user(), venue_id)


@blp.route("/<string:venue_id>/restore")
class VenueRestore(MethodView):
    @blp.response(200, VenueSchema)
    def post(self, venue_id):
        """Bring an archived venue back into the register (desk roles)."""
        return venues.restore_venue(require_user(), venue_id)


@blp.route("/<string:venue_id>/e-service-consent")
class VenueConsent(MethodView):
    @blp.arguments(ConsentSchema)
    @blp.response(200, VenueSchema)
    def post(self, args, venue_id):
        """The venue's owner consents to (or withdraws) electronic service of documents (行政处罚法 第61条)."""
        return venues.set_e_service_consent(require_user(), venue_id, args["consent"])
