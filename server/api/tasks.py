"""Tasks: inspections planned at the desk (singly or in bulk from a venue filter), and an
inspector's "today's work". `TaskSchema` is also what sync pull sends to phones.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from server.api.common import OutSchema, PageArgs, PageMetaSchema, StrictSchema, page_meta, require_user
from server.api.inspections import CLIENT_ID, SyncRowSchema
from server.models import RISK_LEVELS, VENUE_TYPES
from server.models.field import INSPECTION_KINDS, TASK_STATUSES
from server.services import tasks

URL_PREFIX = "/tasks"
blp = Blueprint("tasks", __name__, description="Planned inspections (检查任务).")


class TaskSchema(SyncRowSchema):
    venue_id = fields.String()
    venue_name = fields.Function(lambda t: t.venue.name if t.venue else None)
    venue_address = fields.Function(lambda t: t.venue.address if t.venue else None)
    kind = fields.String()
    due_date = fields.Date()
    status = fields.String()
    campaign_id = fields.String(allow_none=True)
    inspection_id = fields.String(allow_none=True)
    assignee_ids = fields.Function(lambda t: sorted(u.id for u in t.assignees))
    note = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)


class TaskCreateSchema(StrictSchema):
    id = fields.String(validate=CLIENT_ID)
    venue_id = fields.String(required=True)
    due_date = fields.Date(required=True)
    kind = fields.String(load_default="routine", validate=validate.OneOf(INSPECTION_KINDS))
    assignee_ids = fields.List(fields.Integer(), load_default=list, validate=validate.Length(max=20))
    campaign_id = fields.String(allow_none=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class VenueFilterSchema(StrictSchema):
    """The venue register's filters (GET /venues)."""

    type = fields.String(validate=validate.OneOf(VENUE_TYPES))
    area_id = fields.Integer()
    key_unit = fields.Boolean()
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    listed_for_remediation = fields.Boolean()
    q = fields.String(validate=validate.Length(max=100))


class TaskBulkSchema(StrictSchema):
    filters = fields.Nested(VenueFilterSchema, required=True)
    due_date = fields.Date(required=True)
    kind = fields.String(load_default="routine", validate=validate.OneOf(INSPECTION_KINDS))
    assignee_ids = fields.List(fields.Integer(), load_default=list, validate=validate.Length(max=20))
    campaign_id = fields.String(allow_none=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))
    skip_planned = fields.Boolean(load_default=True)


class TaskBulkResultSchema(OutSchema):
    created = fields.List(fields.Nested(TaskSchema))
    skipped_venue_ids = fields.List(fields.String())


class TaskUpdateSchema(StrictSchema):
    due_date = fields.Date()
    kind = fields.String(validate=validate.OneOf(INSPECTION_KINDS))
    assignee_ids = fields.List(fields.Integer(), validate=validate.Length(max=20))
    campaign_id = fields.String(allow_none=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class TaskCancelSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class TaskQuerySchema(PageArgs):
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    assignee_id = fields.Integer()
    venue_id = fields.String()
    campaign_id = fields.String()
    kind = fields.String(validate=validate.OneOf(INSPECTION_KINDS))
    area_id = fields.Integer()
    due_before = fields.Date()
    due_after = fields.Date()


class TodayQuerySchema(StrictSchema):
    on = fields.Date()


class TaskPageSchema(OutSchema):
    items = fields.List(fields.Nested(TaskSchema))
    meta = fields.Nested(PageMetaSchema)


@blp.route("")
class Tasks(MethodView):
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskPageSchema)
    def get(self, args):
        """Tasks in the caller's scope by due date; filter by status, assignee, venue, campaign,
        kind, area (with its sub-areas) and due-date range."""
        rows, total = tasks.list_tasks(require_user(), **args)
        return {"items": rows, "meta": page_meta(args["page"], args["page_size"], total)}

    @blp.arguments(TaskCreateSchema)
    @blp.response(201, TaskSchema)
    def post(self, args):
        """Plan one inspection (supervisor/admin); assignees must cover the venue's area."""
        return tasks.create_task(require_user(), **args)


@blp.route("/bulk")
class TaskBulk(MethodView):
    @blp.arguments(TaskBulkSchema)
    @blp.response(201, TaskBulkResultSchema)
    def post(self, args):
        """Plan one task per venue matching `filters` (e.g. every group rental in a grid);
        venues that already have an open task of the same kind are skipped unless
        `skip_planned` is false."""
        return tasks.plan_bulk(require_user(), **args)


@blp.route("/today")
class TasksToday(MethodView):
    @blp.arguments(TodayQuerySchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    def get(self, args):
        """The caller's open tasks due on or before `on` (default today, China time)."""
        return tasks.todays_work(require_user(), args.get("on"))


@blp.route("/<task_id>")
class TaskItem(MethodView):
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        """One task."""
        return tasks.view_task(require_user(), task_id)

    @blp.arguments(TaskUpdateSchema)
    @blp.response(200, TaskSchema)
    def patch(self, args, task_id):
        """Re-plan an open task (due date, kind, assignees, campaign, note)."""
        return tasks.update_task(require_user(), task_id, args)


@blp.route("/<task_id>/cancel")
class TaskCancel(MethodView):
    @blp.arguments(TaskCancelSchema)
    @blp.response(200, TaskSchema)
    def post(self, args, task_id):
        """Cancel a task not yet started; the reason is kept."""
        return tasks.cancel_task(require_user(), task_id, **args)
