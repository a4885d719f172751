"""Official document numbers: number blocks leased to phones, and the register of every number."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields as ma
from marshmallow import validate

from server.api.common import OutSchema, StrictSchema, require_user
from server.services import documents, numbering

URL_PREFIX = "/numbers"
blp = Blueprint("numbers", __name__, description="Number blocks for offline issue and the number register.")

KINDS = tuple(documents.kinds())


class LeaseSchema(OutSchema):
    id = ma.String()
    agency = ma.String()
    kind = ma.String()
    year = ma.Integer()
    first_serial = ma.Integer()
    last_serial = ma.Integer()
    device_id = ma.String()
    user_id = ma.Integer()
    leased_at = ma.DateTime()
    closed_at = ma.DateTime(allow_none=True)
    # The numbers as printed, so the phone needs no formatting rules of its own.
    numbers = ma.Function(lambda lz: [numbering.format_number(
        lz.agency, documents.kind_spec(lz.kind)["kind_word"], lz.year, s)
        for s in range(lz.first_serial, lz.last_serial + 1)])
    unused = ma.Function(lambda lz: numbering.unused_serials(lz))


class LeaseCreateSchema(StrictSchema):
    kind = ma.String(required=True, validate=validate.OneOf(KINDS))
    count = ma.Integer(required=True, validate=validate.Range(min=1, max=numbering.MAX_LEASE))
    device_id = ma.String(required=True, validate=validate.Length(min=1, max=64))
    year = ma.Integer(metadata={"description": "this year (the default) or, in December, the next one"})


class LeaseReturnSchema(StrictSchema):
    reason = ma.String(validate=validate.Length(max=500))


class LeaseReturnResultSchema(OutSchema):
    lease = ma.Nested(LeaseSchema)
    voided = ma.List(ma.Integer())


class RegisterArgs(StrictSchema):
    kind = ma.String(required=True, validate=validate.OneOf(KINDS))
    year = ma.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class RegisterRowSchema(OutSchema):
    serial = ma.Integer()
    number = ma.String()
    fate = ma.String()
    document_id = ma.String(allow_none=True)
    document_state = ma.String(allow_none=True)
    reason = ma.String(allow_none=True)
    lease_id = ma.String(allow_none=True)
    device_id = ma.String(allow_none=True)


class RegisterSchema(OutSchema):
    agency = ma.String()
    kind = ma.String()
    year = ma.Integer()
    next_serial = ma.Integer()
    counts = ma.Dict(keys=ma.String(), values=ma.Integer())
    items = ma.List(ma.Nested(RegisterRowSchema))


@blp.route("/leases")
class Leases(MethodView):
    @blp.arguments(LeaseCreateSchema)
    @blp.response(201, LeaseSchema)
    def post(self, args):
        """Lease the next 1–20 serials of a kind to this phone, to issue on site without signal.

        The numbers are of this year (China time) or, from December 1, of the next year if
        asked. On sync an offline issue must use an unused serial of a lease of the same device
        and of the year the document is issued in.
        """
        return numbering.lease_numbers(require_user(), **args)


@blp.route("/leases/<lease_id>")
class LeaseItem(MethodView):
    @blp.response(200, LeaseSchema)
    def get(self, lease_id):
        """One lease and its unused serials (its holder, supervisors, admins)."""
        return numbering.get_lease(require_user(), lease_id)


@blp.route("/leases/<lease_id>/return")
class LeaseReturn(MethodView):
    @blp.arguments(LeaseReturnSchema)
    @blp.response(200, LeaseReturnResultSchema)
    def post(self, args, lease_id):
        """Return a lease: its unused serials are voided with the reason, never reused.

        A lease already returned (or returned by another request at the same moment) is 422
        `number_lease_closed`; its serials were voided once."""
        lease, voided = numbering.return_lease(require_user(), lease_id, reason=args.get("reason"))
        return {"lease": lease, "voided": voided}


@blp.route("/register")
class Register(MethodView):
    @blp.arguments(RegisterArgs, location="query")
    @blp.response(200, RegisterSchema)
    def get(self, args):
        """Every serial of a kind and year with its fate: issued (document), voided (reason),
        leased (device, unused) or free (the next to be handed out)."""
        return numbering.register(require_user(), **args)
