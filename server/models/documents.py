"""Legal documents (文书), official numbers and number leases, service records."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (DDL, Boolean, CheckConstraint, Column, Date, ForeignKey, Integer, String,
                        Table, Text, UniqueConstraint, event)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from server.extensions import db
from server.models.base import JSONType, SyncMixin, UTCDateTime, utcnow

DOCUMENT_STATES = ("draft", "pending_approval", "approved", "issued", "served", "superseded", "voided")
SERVICE_METHODS = ("in_person", "left_with_witness", "post", "electronic", "public_notice")

document_hazards = Table(
    "document_hazards",
    db.metadata,
    Column("document_id", ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True),
    Column("hazard_id", ForeignKey("hazards.id"), primary_key=True),
)


class Document(SyncMixin, db.Model):
    __tablename__ = "documents"

    kind: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="draft", index=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    inspection_id: Mapped[str | None] = mapped_column(ForeignKey("inspections.id"))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    followup_id: Mapped[str | None] = mapped_column(ForeignKey("followups.id", use_alter=True))
    # Draft body: the fields the kind requires (see server/data/document_kinds.json).
    fields: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    agency: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    year: Mapped[int | None] = mapped_column(Integer)
    serial: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(64), unique=True)
    lease_id: Mapped[str | None] = mapped_column(ForeignKey("number_leases.id"))
    # Frozen on issue:
    canonical_content: Mapped[str | None] = mapped_column(Text)
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    verify_code: Mapped[str | None] = mapped_column(String(40), unique=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    issued_on: Mapped[date | None] = mapped_column(Date, index=True)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    served_on: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[date | None] = mapped_column(Date)
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    superseded_by_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)
    rectified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))

    hazards = relationship("Hazard", secondary=document_hazards, lazy="selectin")
    venue = relationship("Venue")

    __table_args__ = (
        CheckConstraint(f"state IN {DOCUMENT_STATES}", name="state"),
        UniqueConstraint("agency", "kind", "year", "serial", name="uq_documents_agency_kind_year_serial"),
    )


class NumberCounter(db.Model):
    """Next free serial per agency, kind and year; taken under a row lock."""

    __tablename__ = "number_counters"

    agency: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_serial: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class NumberLease(db.Model):
    """A block of serials leased to one device for issuing on site without signal."""

    __tablename__ = "number_leases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    first_serial: Mapped[int] = mapped_column(Integer, nullable=False)
    last_serial: Mapped[int] = mapped_column(Integer, nullable=False)
    device_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    leased_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VoidedNumber(db.Model):
    """A serial that will never be used, with the reason (an unused leased number, say)."""

    __tablename__ = "voided_numbers"

    agency: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    lease_id: Mapped[str | None] = mapped_column(ForeignKey("number_leases.id"))
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    voided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ServiceRecord(SyncMixin, db.Model):
    """送达回证: how and when a document reached the party."""

    __tablename__ = "service_records"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), nullable=False, index=True)
    method: Mapped[str] = mapped_column(String(20), nullable=False)
    served_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    place: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    recipient_name: Mapped[str | None] = mapped_column(String(64))
    recipient_relation: Mapped[str | None] = mapped_column(String(32))
    recipient_signature_hash: Mapped[str | None] = mapped_column(String(64))
    refused: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    witness: Mapped[str | None] = mapped_column(String(64))
    photo_hashes: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    server_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    remarks: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint(f"method IN {SERVICE_METHODS}", name="method"),)


# --------------------------------------------------------------------------- issued = frozen
#
# Once a document is issued its content is evidence: the database itself refuses to change it,
# whichever code path (or psql session) tries. Only these columns may still move on an issued
# row — service (served_on, and the deadline it drives), correction (superseded_by_id), voiding,
# the rectified flag — plus the sync bookkeeping every syncable row carries.
FROZEN_STATES = ("issued", "served", "superseded", "voided")
MUTABLE_AFTER_ISSUE = ("state", "served_on", "deadline", "superseded_by_id", "voided_at",
                       "void_reason", "rectified", "version", "server_seq", "updated_at",
                       "field_versions")
# issued → served → superseded | voided; superseded and voided are final.
ALLOWED_TRANSITIONS = {
    "issued": ("issued", "served", "superseded", "voided"),
    "served": ("served", "superseded", "voided"),
    "superseded": ("superseded",),
    "voided": ("voided",),
}


def _sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


# PostgreSQL: reusable verbatim in an Alembic migration: op.execute(DOCUMENT_FREEZE_SQL) and
# op.execute(DOCUMENT_HAZARDS_FREEZE_SQL) (raw text, no %-escaping needed there).
# Comparing the rows as jsonb minus the mutable columns freezes every other column, including
# columns added later, without editing the trigger.
DOCUMENT_FREEZE_SQL = f"""
CREATE OR REPLACE FUNCTION documents_freeze() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.state IN ({_sql_list(FROZEN_STATES)}) THEN
      RAISE EXCEPTION 'document % is issued and cannot be deleted', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.state IN ({_sql_list(FROZEN_STATES)}) THEN
    IF NOT (
      (OLD.state = 'issued' AND NEW.state IN ({_sql_list(ALLOWED_TRANSITIONS['issued'])}))
      OR (OLD.state = 'served' AND NEW.state IN ({_sql_list(ALLOWED_TRANSITIONS['served'])}))
      OR (OLD.state IN ('superseded', 'voided') AND NEW.state = OLD.state)
    ) THEN
      RAISE EXCEPTION 'document % is %: state cannot become %', OLD.id, OLD.state, NEW.state
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (to_jsonb(NEW) - ARRAY[{_sql_list(MUTABLE_AFTER_ISSUE)}]::text[])
       IS DISTINCT FROM (to_jsonb(OLD) - ARRAY[{_sql_list(MUTABLE_AFTER_ISSUE)}]::text[]) THEN
      RAISE EXCEPTION 'document % is % and its content is frozen', OLD.id, OLD.state
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS documents_freeze ON documents;
CREATE TRIGGER documents_freeze BEFORE UPDATE OR DELETE ON documents
  FOR EACH ROW EXECUTE FUNCTION documents_freeze();
"""

# The hazards a document lists are part of it: frozen with it (run after document_hazards exists).
DOCUMENT_HAZARDS_FREEZE_SQL = f"""
CREATE OR REPLACE FUNCTION document_hazards_freeze() RETURNS trigger AS $$
DECLARE
  doc_id varchar;
BEGIN
  doc_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.document_id ELSE NEW.document_id END;
  IF EXISTS (SELECT 1 FROM documents WHERE id = doc_id AND state IN ({_sql_list(FROZEN_STATES)})) THEN
    RAISE EXCEPTION 'document % is issued: its hazards are frozen', doc_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS document_hazards_freeze ON document_hazards;
CREATE TRIGGER document_hazards_freeze BEFORE INSERT OR UPDATE OR DELETE ON document_hazards
  FOR EACH ROW EXECUTE FUNCTION document_hazards_freeze();
"""


def _sqlite_freeze_sql() -> list[str]:
    """The update rule as an SQLite trigger (one statement each), so raw SQL UPDATEs are refused too."""
    frozen = [c.name for c in Document.__table__.columns if c.name not in MUTABLE_AFTER_ISSUE]
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in frozen)
    states = _sql_list(FROZEN_STATES)
    return [
        "DROP TRIGGER IF EXISTS documents_freeze_update",
        f"""CREATE TRIGGER documents_freeze_update BEFORE UPDATE ON documents
        WHEN OLD.state IN ({states}) AND (
          {changed}
          OR (OLD.state = 'issued' AND NEW.state NOT IN ({_sql_list(ALLOWED_TRANSITIONS['issued'])}))
          OR (OLD.state = 'served' AND NEW.state NOT IN ({_sql_list(ALLOWED_TRANSITIONS['served'])}))
          OR (OLD.state IN ('superseded', 'voided') AND NEW.state IS NOT OLD.state))
        BEGIN SELECT RAISE(ABORT, 'document is issued and frozen'); END""",
        # No SQLite DELETE trigger: the test suite wipes tables with DELETE between tests (on
        # PostgreSQL it TRUNCATEs, which row triggers do not see). The ORM guard refuses deletes.
    ]


SQLITE_DOCUMENT_FREEZE_SQL = _sqlite_freeze_sql()

# DDL() %-formats its text, so the RAISE placeholders are doubled here (and only here).
event.listen(Document.__table__, "after_create",
             DDL(DOCUMENT_FREEZE_SQL.replace("%", "%%")).execute_if(dialect="postgresql"))
event.listen(document_hazards, "after_create",
             DDL(DOCUMENT_HAZARDS_FREEZE_SQL.replace("%", "%%")).execute_if(dialect="postgresql"))
for _statement in SQLITE_DOCUMENT_FREEZE_SQL:
    event.listen(Document.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))


def _frozen_violation(target) -> str | None:
    """Which frozen attribute an ORM flush would change on an issued document, if any."""
    state = sa_inspect(target)
    hist = state.attrs["state"].history
    old_state = (hist.deleted[0] if hist.deleted else target.state)
    if old_state not in FROZEN_STATES:
        return None
    if target.state not in ALLOWED_TRANSITIONS[old_state]:
        return "state"
    for attr in state.mapper.column_attrs:
        if attr.key in MUTABLE_AFTER_ISSUE:
            continue
        if state.attrs[attr.key].history.has_changes():
            return attr.key
    return None


@event.listens_for(Document, "before_update")
def _guard_issued_update(mapper, connection, target):
    """The ORM-level twin of the trigger: a clear domain error before the SQL is even sent."""
    attr = _frozen_violation(target)
    if attr is not None:
        from server.services.errors import RuleViolation

        raise RuleViolation("document_frozen", field=attr)


def _refuse_issued_delete(target) -> None:
    hist = sa_inspect(target).attrs["state"].history
    old_state = hist.deleted[0] if hist.deleted else target.state
    if old_state in FROZEN_STATES:
        from server.services.errors import RuleViolation

        raise RuleViolation("document_frozen", field="id")


@event.listens_for(Document, "before_delete")
def _guard_issued_delete(mapper, connection, target):
    _refuse_issued_delete(target)


@event.listens_for(Session, "before_flush")
def _guard_issued_delete_early(session, flush_context, instances):
    """Before the flush deletes the document's hazard links (which PostgreSQL would refuse less clearly)."""
    for obj in session.deleted:
        if isinstance(obj, Document):
            _refuse_issued_delete(obj)
