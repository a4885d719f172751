"""Look-back follow-ups (复查/回头看), administrative cases and their sanctions."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (Boolean, CheckConstraint, Column, Date, ForeignKey, Integer, Numeric,
                        String, Table, Text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import JSONType, SyncMixin, UTCDateTime

FOLLOWUP_REASONS = ("deadline_passed", "owner_request", "scheduled")
FOLLOWUP_STATUSES = ("due", "done", "cancelled")
CASE_STATUSES = ("open", "notified", "hearing", "decided", "executed", "closed", "dropped")
SANCTION_KINDS = ("warning", "fine", "suspend_production", "suspend_business", "stop_use",
                  "stop_construction", "temporary_seal", "three_stop", "detention_referral")
MEASURE_STATES = ("proposed", "decided", "enforced", "lifted", "cancelled")

case_hazards = Table(
    "case_hazards",
    db.metadata,
    Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("hazard_id", ForeignKey("hazards.id"), primary_key=True),
)


class FollowUp(SyncMixin, db.Model):
    __tablename__ = "followups"

    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    reason: Mapped[str] = mapped_column(String(20), nullable=False, default="deadline_passed")
    due_date: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="due")
    inspection_id: Mapped[str | None] = mapped_column(ForeignKey("inspections.id"))
    # {hazard_id: "fixed" | "not_fixed"}
    outcomes: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(f"reason IN {FOLLOWUP_REASONS}", name="reason"),
        CheckConstraint(f"status IN {FOLLOWUP_STATUSES}", name="status"),
    )


class Case(SyncMixin, db.Model):
    """行政案件: a penalty case resting on unfixed hazards and documents."""

    __tablename__ = "cases"

    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="open")
    opened_on: Mapped[date] = mapped_column(Date, nullable=False)
    party_kind: Mapped[str] = mapped_column(String(12), nullable=False, default="unit")
    party_name: Mapped[str] = mapped_column(String(200), nullable=False)
    facts: Mapped[str] = mapped_column(Text, nullable=False, default="")
    evidence: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    hearing_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    decided_on: Mapped[date | None] = mapped_column(Date)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id"))

    hazards = relationship("Hazard", secondary=case_hazards, lazy="selectin")
    sanctions = relationship("Sanction", back_populates="case", lazy="selectin")

    __table_args__ = (CheckConstraint(f"status IN {CASE_STATUSES}", name="status"),)


class Sanction(SyncMixin, db.Model):
    """One sanction or measure; *decided* and *enforced* are separate facts."""

    __tablename__ = "sanctions"

    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="proposed")
    legal_basis_codes: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    target: Mapped[str] = mapped_column(String(12), nullable=False, default="unit")
    person_name: Mapped[str | None] = mapped_column(String(64))
    amount_yuan: Mapped[float | None] = mapped_column(Numeric(12, 2))
    paid_yuan: Mapped[float | None] = mapped_column(Numeric(12, 2))
    paid_on: Mapped[date | None] = mapped_column(Date)
    measures: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    decided_on: Mapped[date | None] = mapped_column(Date, index=True)
    enforced_on: Mapped[date | None] = mapped_column(Date)
    lifted_on: Mapped[date | None] = mapped_column(Date)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    note: Mapped[str | None] = mapped_column(Text)

    case = relationship("Case", back_populates="sanctions")

    __table_args__ = (
        CheckConstraint(f"kind IN {SANCTION_KINDS}", name="kind"),
        CheckConstraint(f"state IN {MEASURE_STATES}", name="state"),
    )
