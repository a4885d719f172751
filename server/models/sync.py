"""Blobs, the audit trail and sync bookkeeping (change counter, processed mutations, devices)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, bindparam, event, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from server.extensions import db
from server.models.base import JSONType, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class Blob(db.Model):
    """A content-addressed photo or signature; the bytes live in server/storage.py."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    mime: Mapped[str] = mapped_column(String(32), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    stored_sha256: Mapped[str | None] = mapped_column(String(64))
    has_thumbnail: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class AuditEvent(db.Model):
    """Append-only record of every write (行政处罚法 art. 47 full-process record)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str | None] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(64), nullable=False)
    before: Mapped[dict | None] = mapped_column(JSONType)
    after: Mapped[dict | None] = mapped_column(JSONType)
    mutation_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),)


class ChangeCounter(db.Model):
    """The single-row global change counter behind `server_seq`.

    Each write transaction increments it with an UPDATE, which holds the row lock until commit,
    so sequence numbers are handed out in commit order and a pull never skips a late commit.
    """

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class ProcessedMutation(db.Model):
    """A judged sync mutation and its stored answer (idempotency)."""

    __tablename__ = "processed_mutations"

    mutation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    device_seq: Mapped[int | None] = mapped_column(Integer)
    payload_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    result: Mapped[dict] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Device(db.Model):
    """What the server knows of one phone: who used it last and which sequence numbers arrived."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    max_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Sequence numbers below max_seq that have not arrived: a phone that lost data.
    missing_seqs: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScopeExit(db.Model):
    """A row left some areas' scope (e.g. a venue moved grid): pull tells phones to drop it."""

    __tablename__ = "scope_exits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    server_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(36), nullable=False)
    old_area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


_BOOKKEEPING = {"id", "version", "server_seq", "created_at", "updated_at", "field_versions",
                "client_observed_at"}


def _syncable(obj) -> bool:
    return getattr(type(obj), "__syncable__", False)


class SeqAllocator:
    """Sequence numbers for a transaction that already holds the counter's row lock.

    A sync push locks the counter once at its start and keeps the lock until it commits, so
    no other transaction can take a number in between: it hands the numbers out in memory and
    writes the counter back once (`store`) instead of one UPDATE per flush. Commit order is
    unchanged. `mark`/`reset` undo the numbers of a rolled-back savepoint, so there are no gaps.
    """

    def __init__(self, value: int):
        self.start = self.value = value

    def take(self, n: int) -> int:
        first = self.value + 1
        self.value += n
        return first

    def mark(self) -> int:
        return self.value

    def reset(self, mark: int) -> None:
        self.value = mark

    def store(self, session: Session) -> None:
        if self.value != self.start:
            # On the session's connection: a text statement needs none of the ORM's execute.
            session.connection().execute(_STORE_COUNTER, {"v": self.value})
            self.start = self.value


_STORE_COUNTER = text("UPDATE change_counter SET value = :v WHERE id = 1")


def take_server_seqs(session: Session, n: int) -> int:
    """Reserve n sequence numbers under the counter's row lock; returns the first."""
    allocator = session.info.get("seq_allocator")
    if allocator is not None:
        return allocator.take(n)
    row = session.execute(
        text("UPDATE change_counter SET value = value + :n WHERE id = 1 RETURNING value"), {"n": n}
    ).first()
    if row is None:
        session.execute(text("INSERT INTO change_counter (id, value) VALUES (1, :n)"), {"n": n})
        return 1
    return row[0] - n + 1


@event.listens_for(Session, "before_flush")
def _stamp_server_seq(session: Session, flush_context, instances) -> None:
    """Give every new or changed syncable row a fresh server_seq (and bump its version)."""
    new = session.new  # builds a set on every access: read it once per flush
    changed = [o for o in new if _syncable(o)]
    for obj in session.dirty:
        if _syncable(obj) and obj not in new and session.is_modified(obj, include_collections=False):
            changed.append(obj)
    if not changed:
        return
    first = take_server_seqs(session, len(changed))
    for i, obj in enumerate(changed):
        obj.server_seq = first + i
        if obj in new:
            obj.version = obj.version or 1
            continue
        obj.version = (obj.version or 0) + 1
        state = sa_inspect(obj)
        versions = dict(obj.field_versions or {})
        for attr in state.mapper.column_attrs:
            if attr.key in _BOOKKEEPING:
                continue
            if state.attrs[attr.key].history.has_changes():
                versions[attr.key] = obj.version
        obj.field_versions = versions
        if getattr(type(obj), "__tablename__", None) == "venues":
            old_area = state.attrs["area_id"].history.deleted
            if old_area and old_area[0] is not None and old_area[0] != obj.area_id:
                # Phones of the old area must drop the venue: pull reports it as left_scope.
                session.add(ScopeExit(server_seq=obj.server_seq, entity="venue", entity_id=obj.id,
                                      old_area_id=old_area[0]))
                _resend_venue_rows(session, obj.id)


def _venue_row_models():
    """(model, its venue condition) for every synced table scoped through a venue: the tables
    with a venue_id, and the three whose parent has one (as the pull's scope filter reads them)."""
    from server.models import (SYNC_ENTITIES, Document, Hazard, HazardEvidence, Inspection, ItemResult,
                               ServiceRecord)

    def direct(model):
        return lambda venue_id: model.venue_id == venue_id

    def via(column, parent):
        return lambda venue_id: column.in_(select(parent.id).where(parent.venue_id == venue_id))

    models = [(m, direct(m)) for m in SYNC_ENTITIES.values() if "venue_id" in m.__table__.c]
    models += [(ItemResult, via(ItemResult.inspection_id, Inspection)),
               (ServiceRecord, via(ServiceRecord.document_id, Document)),
               (HazardEvidence, via(HazardEvidence.hazard_id, Hazard))]
    return models


def _resend_venue_rows(session: Session, venue_id: str) -> None:
    """A venue moved into another area: its hazards, inspections, documents … take fresh
    server_seq numbers, so the new area's phones, whose cursors are past the old numbers, pull
    them with the venue (the old area's phones get the venue's left_scope marker). Only the
    numbers change: version and content stay as they are."""
    for model, condition in _venue_row_models():
        table = model.__table__
        ids = session.execute(select(table.c.id).where(condition(venue_id))
                              .order_by(table.c.server_seq)).scalars().all()
        if not ids:
            continue
        first = take_server_seqs(session, len(ids))
        session.execute(table.update().where(table.c.id == bindparam("row_id")).values(server_seq=bindparam("seq")),
                        [{"row_id": row_id, "seq": first + i} for i, row_id in enumerate(ids)])
        for i, row_id in enumerate(ids):  # rows this session holds read the new number
            obj = session.identity_map.get(identity_key(model, row_id))
            if obj is not None:
                set_committed_value(obj, "server_seq", first + i)


@event.listens_for(AuditEvent, "before_update")
def _audit_is_append_only(mapper, connection, target):
    raise RuntimeError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _audit_is_never_deleted(mapper, connection, target):
    raise RuntimeError("audit events are append-only")
