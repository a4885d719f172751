"""Legal documents (文书), official numbers and number leases, service records."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (Boolean, CheckConstraint, Column, Date, ForeignKey, Integer, String,
                        Table, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
