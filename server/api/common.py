"""Shared API pieces: the base schema that refuses unknown fields, paging, the acting user."""
from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from server.auth import require_user  # noqa: F401  (re-exported for handlers)


class StrictSchema(Schema):
    """Input schemas refuse unknown fields (a typo must not be silently dropped)."""

    class Meta:
        unknown = RAISE


class OutSchema(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True


class PageArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def page_meta(page: int, page_size: int, total: int) -> dict:
    return {"page": page, "page_size": page_size, "total": total,
            "pages": (total + page_size - 1) // page_size}


class PageMetaSchema(OutSchema):
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()
