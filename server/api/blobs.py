"""Photos and signatures by SHA-256: HEAD (or POST /missing for many) to ask, PUT to upload, GET to read."""
from __future__ import annotations

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from server.api.common import OutSchema, StrictSchema, require_user
from server.services import blobs
from server.services.errors import BadInput, NotFound, RuleViolation
from server.storage import get_storage, valid_key

URL_PREFIX = "/blobs"
blp = Blueprint("blobs", __name__, description="Content-addressed photos and signatures.")


class BlobSchema(OutSchema):
    sha256 = fields.String()
    mime = fields.String()
    size = fields.Integer()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)


class MissingQuerySchema(StrictSchema):
    hashes = fields.List(fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$")), required=True,
                         validate=validate.Length(max=blobs.MISSING_MAX))


class MissingSchema(OutSchema):
    missing = fields.List(fields.String())


@blp.route("/missing")
class BlobsMissing(MethodView):
    @blp.arguments(MissingQuerySchema)
    @blp.response(200, MissingSchema)
    def post(self, args):
        """Which of these SHA-256 names (at most 500) the server lacks — one question per sync batch.

        The answer keeps the order asked; the phone PUTs exactly those. Same meaning as a HEAD per
        hash (404 = listed here), without a round trip per photo.
        """
        return {"missing": blobs.missing(require_user(), args["hashes"])}


def _key(sha256: str) -> str:
    if not valid_key(sha256):
        raise BadInput("blob_bad_hash")
    return sha256


@blp.route("/<sha256>")
class BlobItem(MethodView):
    @blp.response(200)
    def head(self, sha256):
        """200 if the server already has this blob, 404 if it must be uploaded."""
        require_user()
        if blobs.exists(_key(sha256)) is None:
            raise NotFound("blob_not_found")
        return Response(status=200)

    @blp.response(201, BlobSchema)
    @blp.alt_response(200, schema=BlobSchema, description="Already stored (identical upload).")
    def put(self, sha256):
        """Upload the raw bytes (JPEG, PNG, WebP image or PNG/SVG signature) named by their SHA-256.

        The server re-hashes the body and refuses a mismatch; the content type is judged by the
        bytes. Raster images are re-encoded without metadata; a thumbnail is made.
        """
        actor = require_user()
        if request.content_length and request.content_length > current_app.config["BLOB_MAX_BYTES"]:
            raise RuleViolation("blob_too_large", max_mb=current_app.config["BLOB_MAX_BYTES"] // (1024 * 1024))
        blob, created = blobs.store(actor, _key(sha256), request.stream, storage=get_storage(),
                                    max_bytes=current_app.config["BLOB_MAX_BYTES"])
        return blob, (201 if created else 200)

    @blp.response(200, content_type="image/*")
    def get(self, sha256):
        """The stored bytes (staff: any blob; owners: their own venues' photos and signatures)."""
        data, mime = blobs.load(require_user(), _key(sha256), storage=get_storage())
        return _image(data, mime)


@blp.route("/<sha256>/thumb")
class BlobThumb(MethodView):
    @blp.response(200, content_type="image/jpeg")
    def get(self, sha256):
        """A JPEG thumbnail (320 px long edge) of a raster image."""
        data, mime = blobs.load(require_user(), _key(sha256), storage=get_storage(), thumb=True)
        return _image(data, mime)


def _image(data: bytes, mime: str) -> Response:
    resp = Response(data, mimetype=mime)
    resp.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if mime == "image/svg+xml":
        resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return resp
