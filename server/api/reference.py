"""Reference data: checklists, legal bases, 三停 measures and the working-day calendar."""
from __future__ import annotations

from datetime import date

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from server.api.common import OutSchema, PageArgs, PageMetaSchema, StrictSchema, page_meta, require_user
from server.models import VENUE_TYPES
from server.services import calendar, reference
from server.services.errors import BadInput

URL_PREFIX = "/reference"
blp = Blueprint("reference", __name__,
                description="Checklists per venue type, the legal-basis library, 三停 measures and the "
                            "working-day calendar (holidays and 调休 make-up workdays).")


# --- schemas -------------------------------------------------------------------------------

class ChecklistItemSchema(OutSchema):
    id = fields.Integer()
    code = fields.String()
    position = fields.Integer()
    section = fields.String(allow_none=True)
    text = fields.String()
    check_method = fields.String()
    default_severity = fields.String()
    correction_mode = fields.String()
    default_days = fields.Integer(allow_none=True, metadata={"description": "working days (deadline items)"})
    legal_basis_codes = fields.List(fields.String())
    requirement = fields.String(allow_none=True)
    gb35181_code = fields.String(allow_none=True)


class ChecklistTemplateSchema(OutSchema):
    id = fields.Integer()
    venue_type = fields.String()
    version = fields.Integer()
    title = fields.String()
    effective_from = fields.Date()
    active = fields.Boolean()
    content_hash = fields.String()
    items = fields.List(fields.Nested(ChecklistItemSchema))


class ChecklistQuerySchema(StrictSchema):
    venue_type = fields.String(validate=validate.OneOf(VENUE_TYPES))
    version = fields.Integer(validate=validate.Range(min=1))


class LegalPeriodSchema(OutSchema):
    key = fields.String()
    value = fields.Integer()
    unit = fields.String()
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)


class LegalBasisSchema(OutSchema):
    code = fields.String()
    law = fields.String()
    version_date = fields.Date()
    article = fields.String()
    clause = fields.String(allow_none=True)
    item = fields.String(allow_none=True)
    citation = fields.Function(reference.citation)
    kind = fields.String()
    text = fields.String()
    fine_range = fields.Dict(keys=fields.String(), values=fields.List(fields.Integer()), allow_none=True,
                             metadata={"description": "yuan, per party: unit, individual, commercial, non_commercial"})
    other_sanctions = fields.List(fields.String())
    unverified = fields.Boolean(metadata={"description": "wording or numbering not yet checked on the official text"})
    note = fields.String(allow_none=True)
    periods = fields.List(fields.Nested(LegalPeriodSchema), allow_none=True)
    source_version = fields.String()


class LegalBasisQuerySchema(PageArgs):
    law = fields.String(validate=validate.Length(max=100), metadata={"description": "fragment, e.g. 消防法"})
    article = fields.String(validate=validate.Regexp(r"^\d{1,3}$"))
    kind = fields.String(validate=validate.OneOf(reference.BASIS_KINDS))
    unverified = fields.Boolean()
    q = fields.String(validate=validate.Length(max=64))


class LegalBasisPageSchema(OutSchema):
    items = fields.List(fields.Nested(LegalBasisSchema))
    meta = fields.Nested(PageMetaSchema)


class ThreeStopMeasureSchema(OutSchema):
    code = fields.String()
    name = fields.String()
    name_en = fields.String()


class ThreeStopSchema(OutSchema):
    venue_type = fields.String()
    set = fields.String()
    name = fields.String()
    issued_by = fields.String(metadata={"description": "brigade | district_government"})
    measures = fields.List(fields.Nested(ThreeStopMeasureSchema))
    legal_basis_codes = fields.List(fields.String())
    note = fields.String(allow_none=True)
    version = fields.String()


class ThreeStopQuerySchema(StrictSchema):
    venue_type = fields.String(validate=validate.OneOf(VENUE_TYPES))


class CalendarCoverageSchema(OutSchema):
    package = fields.String()
    package_version = fields.String()
    official_from = fields.Integer()
    official_to = fields.Integer()
    override_years = fields.List(fields.Integer())
    admin_years = fields.List(fields.Integer())
    fallback = fields.String()


class CalendarDaySchema(OutSchema):
    date = fields.Date()
    name = fields.String()
    source = fields.String(metadata={"description": "package | override"})


class YearCalendarSchema(OutSchema):
    year = fields.Integer()
    source = fields.String(metadata={"description": "official | override | weekends_only"})
    official = fields.Boolean()
    holidays = fields.List(fields.Nested(CalendarDaySchema))
    workdays = fields.List(fields.Nested(CalendarDaySchema), metadata={"description": "make-up workdays (调休)"})
    coverage = fields.Nested(CalendarCoverageSchema)


class CalendarYearQuerySchema(StrictSchema):
    year = fields.Integer(required=True, validate=validate.Range(min=1950, max=2199))


class AddWorkingDaysQuerySchema(StrictSchema):
    date = fields.Date(required=True)
    days = fields.Integer(required=True, validate=validate.Range(min=0, max=3650))


class AddWorkingDaysSchema(OutSchema):
    date = fields.Date()
    days = fields.Integer()
    result = fields.Date()
    official = fields.Boolean(metadata={"description": "every year crossed has an official or admin schedule"})


class WorkingDaysBetweenQuerySchema(StrictSchema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)


class WorkingDaysBetweenSchema(OutSchema):
    start = fields.Date()
    end = fields.Date()
    working_days = fields.Integer(metadata={"description": "working days in (start, end]; negative if end < start"})
    official = fields.Boolean()


class CalendarOverrideSchema(OutSchema):
    day = fields.Date()
    is_workday = fields.Boolean()
    name = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class CalendarOverrideCreateSchema(StrictSchema):
    day = fields.Date(required=True)
    is_workday = fields.Boolean(required=True)
    name = fields.String(load_default="", validate=validate.Length(max=64))


class CalendarOverrideQuerySchema(StrictSchema):
    year = fields.Integer(validate=validate.Range(min=1950, max=2199))


class ReferenceLoadReportSchema(OutSchema):
    legal_bases = fields.Dict()
    checklists = fields.Dict()


# --- views ---------------------------------------------------------------------------------

@blp.route("/checklists")
class Checklists(MethodView):
    @blp.arguments(ChecklistQuerySchema, location="query")
    @blp.response(200, ChecklistTemplateSchema(many=True))
    def get(self, args):
        """Current checklist templates with their items, one per venue type (not paged: at most
        one per type). With `version`, that version of each type, current or not."""
        return reference.list_templates(require_user(), **args)


@blp.route("/checklists/<int:template_id>")
class ChecklistItemView(MethodView):
    @blp.response(200, ChecklistTemplateSchema)
    def get(self, template_id):
        """One checklist template by id, active or not (what an old inspection used)."""
        return reference.view_template(require_user(), template_id)


@blp.route("/legal-bases")
class LegalBases(MethodView):
    @blp.arguments(LegalBasisQuerySchema, location="query")
    @blp.response(200, LegalBasisPageSchema)
    def get(self, args):
        """The legal-basis library; `unverified` marks provisions not yet checked on the official text."""
        rows, total = reference.list_legal_bases(require_user(), **args)
        return {"items": rows, "meta": page_meta(args["page"], args["page_size"], total)}


@blp.route("/legal-bases/<string:code>")
class LegalBasisItem(MethodView):
    @blp.response(200, LegalBasisSchema)
    def get(self, code):
        """One legal basis by its stable code, e.g. XFF2021-60-1-3."""
        return reference.view_legal_basis(require_user(), code)


@blp.route("/three-stop-measures")
class ThreeStopMeasures(MethodView):
    @blp.arguments(ThreeStopQuerySchema, location="query")
    @blp.response(200, ThreeStopSchema(many=True))
    def get(self, args):
        """三停 measures per venue type: 停产/停业/停止使用 for businesses, 停租/停水/停电 for group rentals."""
        return reference.three_stop_measures(require_user(), **args)


@blp.route("/calendar")
class YearCalendar(MethodView):
    @blp.arguments(CalendarYearQuerySchema, location="query")
    @blp.response(200, YearCalendarSchema)
    def get(self, args):
        """Holidays and make-up workdays of a year, and which years are official. A year with
        source `weekends_only` has no schedule: deadlines there count weekends only."""
        return calendar.year_calendar(require_user(), args["year"])


@blp.route("/calendar/add-working-days")
class AddWorkingDays(MethodView):
    @blp.arguments(AddWorkingDaysQuerySchema, location="query")
    @blp.response(200, AddWorkingDaysSchema)
    def get(self, args):
        """The date `days` working days after `date` (the start day itself is not counted)."""
        return calendar.deadline_view(require_user(), args["date"], args["days"])


@blp.route("/calendar/working-days-between")
class WorkingDaysBetween(MethodView):
    @blp.arguments(WorkingDaysBetweenQuerySchema, location="query")
    @blp.response(200, WorkingDaysBetweenSchema)
    def get(self, args):
        """Working days in (start, end]."""
        return calendar.between_view(require_user(), args["start"], args["end"])


@blp.route("/calendar/overrides")
class Overrides(MethodView):
    @blp.arguments(CalendarOverrideQuerySchema, location="query")
    @blp.response(200, CalendarOverrideSchema(many=True))
    def get(self, args):
        """Days an admin marked as holiday or working day (not paged: a few dozen per year)."""
        return calendar.list_overrides(require_user(), **args)

    @blp.arguments(CalendarOverrideCreateSchema)
    @blp.response(201, CalendarOverrideSchema)
    def post(self, args):
        """Mark a day as holiday (`is_workday: false`) or working day (admin); replaces an earlier
        override of the same day and takes effect at once. Audited."""
        return calendar.set_override(require_user(), **args)


@blp.route("/calendar/overrides/<string:day>")
class OverrideItem(MethodView):
    @blp.response(204)
    def delete(self, day):
        """Remove an override (admin); the day falls back to the official schedule or weekends. Audited."""
        user = require_user()
        try:
            parsed = date.fromisoformat(day)
        except ValueError:
            raise BadInput("calendar_bad_date", day=day[:20]) from None
        calendar.delete_override(user, parsed)


@blp.route("/reload")
class Reload(MethodView):
    @blp.response(200, ReferenceLoadReportSchema)
    def post(self):
        """Reload server/data/ into the database now (admin) and report what changed. Audited."""
        return reference.reload(require_user())
