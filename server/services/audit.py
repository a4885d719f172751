"""The append-only audit trail: every write adds an event in the same transaction.

A sync push collects its events in an `EventBuffer` and inserts them in one statement before it
commits (same transaction, so the same guarantee); everything else adds them to the session.
"""
from __future__ import annotations

import contextvars
import decimal
from datetime import date, datetime, timezone

from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from server.database import insert_rows
from server.extensions import db
from server.models import AuditEvent
from server.models.base import day_text, utc_isoformat, utcnow

# Set by the sync replay so audit events name the phone a change came from.
current_device: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_device", default=None)
current_mutation: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_mutation", default=None)

SKIP = {"password_hash"}


def jsonable(value):
    kind = type(value)
    if kind is datetime and value.tzinfo is timezone.utc:  # utcnow()'s: most of a push's snapshot times
        return utc_isoformat(value)
    if kind is date:
        return day_text(value.toordinal())
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


_snapshot_keys: dict[type, tuple[str, ...]] = {}


def snapshot(obj) -> dict:
    """Column values of a model row as JSON-safe data (for before/after)."""
    keys = _snapshot_keys.get(type(obj))
    if keys is None:  # a mapping's columns are fixed once it is configured
        keys = tuple(c.key for c in sa_inspect(obj).mapper.column_attrs if c.key not in SKIP)
        _snapshot_keys[type(obj)] = keys
    # A loaded column's value is in the instance dict, which is what its attribute returns; only
    # an unloaded one (expired, deferred) goes through the attribute, which loads it.
    values = obj.__dict__
    out = {}
    for key in keys:
        value = values[key] if key in values else getattr(obj, key)
        out[key] = value if type(value) in _AS_IS else jsonable(value)
    return out


# Types jsonable() returns unchanged (exact types: a subclass goes through jsonable()).
_AS_IS = frozenset((str, int, float, bool, type(None), list, dict))


def record(actor, action: str, entity: str, entity_id, *, before: dict | None = None,
           after: dict | None = None) -> AuditEvent | None:
    """Append an event for a write (None when a sync push buffers it for its bulk insert)."""
    values = dict(
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
    buffer = db.session.info.get("audit_buffer")
    if buffer is not None:
        buffer.append(values)
        return None
    event = AuditEvent(**values)
    db.session.add(event)
    return event


def record_created(actor, action: str, entity: str, row, view=snapshot) -> None:
    """Append the event for a new row; `after` is `view(row)` as stored (defaults, server_seq).

    Outside a sync push this flushes the row and takes the view now. Inside one the view is
    taken right after the next flush (the one that inserts the row, before anything else can
    change it), so a batch of creates needs one flush instead of one each.
    """
    buffer = db.session.info.get("audit_buffer")
    if buffer is None:
        db.session.flush()
        record(actor, action, entity, row.id, after=view(row))
        return
    state = sa_inspect(row)
    if state.persistent and not state.modified:  # already stored as it is: nothing to wait for
        record(actor, action, entity, row.id, after=view(row))
        return
    buffer.append(dict(user_id=getattr(actor, "id", None), role=getattr(actor, "role", None),
                       device_id=current_device.get(), mutation_id=current_mutation.get(), action=action,
                       entity=entity, entity_id=str(row.id), before=None, after=None),
                  pending=(row, view))


class EventBuffer:
    """The audit events of one sync push, inserted together before it commits."""

    def __init__(self):
        self.rows: list[dict] = []
        self.pending: list[tuple[int, object, object]] = []  # (row index, new row, view)

    def append(self, values: dict, pending=None) -> None:
        values["at"] = utcnow()
        if pending is not None:
            self.pending.append((len(self.rows), *pending))
        self.rows.append(values)

    def mark(self) -> int:
        return len(self.rows)

    def reset(self, mark: int) -> None:
        """Forget the events of a rolled-back savepoint."""
        del self.rows[mark:]
        self.pending = [p for p in self.pending if p[0] < mark]

    def resolve(self) -> None:
        """Take the `after` view of every new row that has been flushed since it was recorded."""
        still = []
        for index, row, view in self.pending:
            if sa_inspect(row).persistent:
                self.rows[index]["after"] = view(row)
            else:
                still.append((index, row, view))
        self.pending = still

    def write(self, session: Session) -> None:
        session.flush()
        if self.pending:
            raise RuntimeError("audit event for a row that was never stored")
        if self.rows:
            # Core on the session's connection (same transaction): the same rows as the ORM's bulk
            # insert of these dicts, without its per-row machinery (COPY on PostgreSQL).
            insert_rows(AuditEvent.__table__, self.rows)
            self.rows = []


@sa_event.listens_for(Session, "after_flush_postexec")
def _resolve_new_rows(session, flush_context) -> None:
    buffer = session.info.get("audit_buffer")
    if buffer is not None and buffer.pending:
        buffer.resolve()
