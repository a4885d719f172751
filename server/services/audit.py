"""The append-only audit trail: every write adds an event in the same transaction."""
from __future__ import annotations

import contextvars
import decimal
from datetime import date, datetime

from sqlalchemy import inspect as sa_inspect

from server.extensions import db
from server.models import AuditEvent

# Set by the sync replay so audit events name the phone a change came from.
current_device: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_device", default=None)
current_mutation: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_mutation", default=None)

SKIP = {"password_hash"}


def jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def snapshot(obj) -> dict:
    """Column values of a model row as JSON-safe data (for before/after)."""
    mapper = sa_inspect(obj).mapper
    return {c.key: jsonable(getattr(obj, c.key)) for c in mapper.column_attrs if c.key not in SKIP}


def record(actor, action: str, entity: str, entity_id, *, before: dict | None = None,
           after: dict | None = None) -> AuditEvent:
    event = AuditEvent(
        user_id=getattr(actor, "id", None),
        role=getattr(actor, "role", None),
        device_id=current_device.get(),
        mutation_id=current_mutation.get(),
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=before,
        after=after,
    )
    db.session.add(event)
    return event
