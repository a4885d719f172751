"""Legal documents (文书): drafts, approval, issue, correction, voiding, PDF, service records."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields as ma
from marshmallow import validate

from server.api.common import OutSchema, PageArgs, PageMetaSchema, StrictSchema, page_meta, require_user
from server.models.documents import SERVICE_METHODS
from server.models.documents import DOCUMENT_STATES
from server.services import documents

URL_PREFIX = "/documents"
blp = Blueprint("documents", __name__, description="Legal documents: numbered, frozen on issue, "
                "rendered as official PDFs with a verification QR code.")

KINDS = tuple(documents.kinds())
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$")


def _content(doc):
    content = documents.content_of(doc)
    if content is None:
        return None
    party = content.get("party") or {}
    if party.get("phone"):
        from server.api.users import mask_phone

        party["phone"] = mask_phone(party["phone"])
    return content


class DocumentSchema(OutSchema):
    id = ma.String()
    kind = ma.String()
    kind_title = ma.Function(lambda d: documents.kind_spec(d.kind)["title"])
    state = ma.String()
    venue_id = ma.String()
    inspection_id = ma.String(allow_none=True)
    case_id = ma.String(allow_none=True)
    followup_id = ma.String(allow_none=True)
    hazard_ids = ma.Function(lambda d: sorted(h.id for h in d.hazards))
    body = ma.Dict(data_key="fields", attribute="fields")
    number = ma.String(allow_none=True)
    year = ma.Integer(allow_none=True)
    serial = ma.Integer(allow_none=True)
    lease_id = ma.String(allow_none=True)
    content_sha256 = ma.String(allow_none=True)
    pdf_sha256 = ma.String(allow_none=True)
    verify_code = ma.String(allow_none=True)
    issued_at = ma.DateTime(allow_none=True)
    issued_on = ma.Date(allow_none=True)
    issued_by_id = ma.Integer(allow_none=True)
    approved_by_id = ma.Integer(allow_none=True)
    approved_at = ma.DateTime(allow_none=True)
    served_on = ma.Date(allow_none=True)
    deadline = ma.Date(allow_none=True)
    supersedes_id = ma.String(allow_none=True)
    superseded_by_id = ma.String(allow_none=True)
    voided_at = ma.DateTime(allow_none=True)
    void_reason = ma.String(allow_none=True)
    rectified = ma.Boolean()
    created_by_id = ma.Integer(allow_none=True)
    version = ma.Integer()
    server_seq = ma.Integer()
    created_at = ma.DateTime()
    updated_at = ma.DateTime()
    deleted_at = ma.DateTime(allow_none=True)
    # The frozen canonical content (what was hashed and printed); personal phones masked.
    content = ma.Function(_content)


class ServiceRecordSchema(OutSchema):
    id = ma.String()
    document_id = ma.String()
    method = ma.String()
    served_at = ma.DateTime()
    place = ma.String()
    recipient_name = ma.String(allow_none=True)
    recipient_relation = ma.String(allow_none=True)
    recipient_signature_hash = ma.String(allow_none=True)
    refused = ma.Boolean()
    witness = ma.String(allow_none=True)
    photo_hashes = ma.List(ma.String())
    server_user_id = ma.Integer(allow_none=True)
    remarks = ma.String(allow_none=True)
    version = ma.Integer()
    server_seq = ma.Integer()
    created_at = ma.DateTime()
    updated_at = ma.DateTime()
    deleted_at = ma.DateTime(allow_none=True)


class DraftCreateSchema(StrictSchema):
    id = ma.UUID(load_default=None)
    kind = ma.String(required=True, validate=validate.OneOf(KINDS))
    venue_id = ma.String(required=True, validate=validate.Length(max=36))
    inspection_id = ma.String(allow_none=True, validate=validate.Length(max=36))
    case_id = ma.String(allow_none=True, validate=validate.Length(max=36))
    followup_id = ma.String(allow_none=True, validate=validate.Length(max=36))
    hazard_ids = ma.List(ma.String(validate=validate.Length(max=36)), load_default=list,
                             validate=validate.Length(max=200))
    body = ma.Dict(data_key="fields", attribute="fields", load_default=dict)


class DraftUpdateSchema(StrictSchema):
    inspection_id = ma.String(allow_none=True, validate=validate.Length(max=36))
    case_id = ma.String(allow_none=True, validate=validate.Length(max=36))
    followup_id = ma.String(allow_none=True, validate=validate.Length(max=36))
    hazard_ids = ma.List(ma.String(validate=validate.Length(max=36)), validate=validate.Length(max=200))
    body = ma.Dict(data_key="fields", attribute="fields")


class DocumentQuerySchema(PageArgs):
    kind = ma.String(validate=validate.OneOf(KINDS))
    state = ma.String(validate=validate.OneOf(DOCUMENT_STATES))
    venue_id = ma.String(validate=validate.Length(max=36))
    date_from = ma.Date()
    date_to = ma.Date()


class DocumentListItemSchema(DocumentSchema):
    """A document in a list: without the (large) canonical content."""

    class Meta(DocumentSchema.Meta):
        exclude = ("content",)


class DocumentPageSchema(OutSchema):
    items = ma.List(ma.Nested(DocumentListItemSchema))
    meta = ma.Nested(PageMetaSchema)


class ReasonSchema(StrictSchema):
    reason = ma.String(required=True, validate=validate.Length(min=2, max=1000))


class SupersedeSchema(StrictSchema):
    draft_id = ma.String(validate=validate.Length(max=36))
    new_id = ma.UUID()
    body = ma.Dict(data_key="fields", attribute="fields")
    hazard_ids = ma.List(ma.String(validate=validate.Length(max=36)), validate=validate.Length(max=200))
    inspection_id = ma.String(allow_none=True, validate=validate.Length(max=36))


class OwnerSignSchema(StrictSchema):
    signature_hash = ma.String(required=True, validate=SHA256)
    signer_name = ma.String(validate=validate.Length(max=64))


class ServiceCreateSchema(StrictSchema):
    id = ma.UUID(load_default=None)
    method = ma.String(required=True, validate=validate.OneOf(SERVICE_METHODS))
    served_at = ma.AwareDateTime(required=True)
    place = ma.String(load_default="", validate=validate.Length(max=300))
    recipient_name = ma.String(allow_none=True, validate=validate.Length(max=64))
    recipient_relation = ma.String(allow_none=True, validate=validate.Length(max=32))
    recipient_signature_hash = ma.String(allow_none=True, validate=SHA256)
    refused = ma.Boolean(load_default=False)
    witness = ma.String(allow_none=True, validate=validate.Length(max=64))
    photo_hashes = ma.List(ma.String(validate=SHA256), load_default=list,
                               validate=validate.Length(max=20))
    remarks = ma.String(allow_none=True, validate=validate.Length(max=1000))


def _id(value):
    return str(value) if value is not None else None


@blp.route("")
class Documents(MethodView):
    @blp.arguments(DocumentQuerySchema, location="query")
    @blp.response(200, DocumentPageSchema)
    def get(self, args):
        """Documents in the caller's scope, filtered by kind, state, venue and issue-date range.

        Owners see their own venues' issued documents (and commitments awaiting their signature).
        """
        rows, total = documents.list_documents(require_user(), **args)
        return {"items": rows, "meta": page_meta(args["page"], args["page_size"], total)}

    @blp.arguments(DraftCreateSchema)
    @blp.response(201, DocumentSchema)
    def post(self, args):
        """Start a draft of a document kind for a venue (body `fields` as the kind lists them)."""
        args["id"] = _id(args.get("id"))
        return documents.create_draft(require_user(), **args)


@blp.route("/<document_id>")
class DocumentItem(MethodView):
    @blp.response(200, DocumentSchema)
    def get(self, document_id):
        """One document with its frozen canonical content once issued."""
        return documents.view_document(require_user(), document_id)

    @blp.arguments(DraftUpdateSchema)
    @blp.response(200, DocumentSchema)
    def patch(self, args, document_id):
        """Change a draft. An issued document is frozen: 422 `document_frozen`."""
        return documents.update_draft(require_user(), document_id, args)


@blp.route("/<document_id>/submit")
class Submit(MethodView):
    @blp.response(200, DocumentSchema)
    def post(self, document_id):
        """Send a complete draft of a kind that needs approval to a supervisor."""
        return documents.submit(require_user(), document_id)


@blp.route("/<document_id>/approve")
class Approve(MethodView):
    @blp.response(200, DocumentSchema)
    def post(self, document_id):
        """Approve a submitted draft (supervisor)."""
        return documents.approve(require_user(), document_id)


@blp.route("/<document_id>/send-back")
class SendBack(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, DocumentSchema)
    def post(self, args, document_id):
        """Return a submitted or approved draft for changes (supervisor), with a reason."""
        return documents.send_back(require_user(), document_id, reason=args["reason"])


@blp.route("/<document_id>/issue")
class Issue(MethodView):
    @blp.response(200, DocumentSchema)
    def post(self, document_id):
        """Issue (freeze) the draft: number, canonical content and its SHA-256, PDF.

        A missing required field is refused naming the first one (`errors` lists all).
        Issuing an issued document returns it unchanged.
        """
        return documents.issue(require_user(), document_id)


@blp.route("/<document_id>/void")
class Void(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, DocumentSchema)
    def post(self, args, document_id):
        """Void an issued document with a reason (supervisor); its number stays used."""
        return documents.void(require_user(), document_id, reason=args["reason"])


@blp.route("/<document_id>/supersede")
class Supersede(MethodView):
    @blp.arguments(SupersedeSchema)
    @blp.response(201, DocumentSchema)
    def post(self, args, document_id):
        """Issue a correction: a new document that supersedes this one (both kept, linked).

        Name an existing (approved, where the kind needs it) draft as `draft_id`, or give the
        corrected `fields`/`hazard_ids` and the rest is copied from the original.
        """
        args["new_id"] = _id(args.get("new_id"))
        return documents.supersede(require_user(), document_id, **args)


@blp.route("/<document_id>/sign")
class OwnerSign(MethodView):
    @blp.arguments(OwnerSignSchema)
    @blp.response(200, DocumentSchema)
    def post(self, args, document_id):
        """The owner signs a 自行整改承诺书 drafted for their venue; signing issues it."""
        return documents.owner_sign(require_user(), document_id, **args)


@blp.route("/<document_id>/pdf")
class Pdf(MethodView):
    @blp.response(200, content_type="application/pdf")
    def get(self, document_id):
        """The official PDF (the stored bytes; identical on every download).

        The file is named after the document number (RFC 5987 `filename*` for Chinese).
        """
        data, doc = documents.pdf_of(require_user(), document_id)
        resp = Response(data, mimetype="application/pdf")
        resp.headers["Content-Disposition"] = content_disposition(f"{doc.number}.pdf", doc.id)
        resp.headers["Cache-Control"] = "private, max-age=3600"
        resp.headers["ETag"] = f'"{doc.pdf_sha256}"'
        return resp


def content_disposition(filename: str, fallback_stem: str) -> str:
    """attachment; an ASCII fallback name and the real (Chinese) name per RFC 5987/6266."""
    return f"attachment; filename=\"document-{fallback_stem}.pdf\"; filename*=UTF-8''{quote(filename, safe='')}"


@blp.route("/<document_id>/service-records")
class ServiceRecords(MethodView):
    @blp.response(200, ServiceRecordSchema(many=True))
    def get(self, document_id):
        """How and when the document reached the party (送达回证)."""
        return documents.list_service_records(require_user(), document_id)

    @blp.arguments(ServiceCreateSchema)
    @blp.response(201, ServiceRecordSchema)
    def post(self, args, document_id):
        """Record a service: method, time, place, recipient and relation, witness, photos, refusal.

        A refusal needs a witness; electronic service needs the party's signed consent. The first
        service marks the document served, starts a deadline counted in working days, and
        notifies its hazards.
        """
        args["id"] = _id(args.get("id"))
        return documents.record_service(require_user(), document_id, **args)
