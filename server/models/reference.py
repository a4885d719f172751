"""Reference data loaded from server/data/: checklists, legal bases, calendar overrides."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import JSONType, UTCDateTime, utcnow


class LegalBasis(db.Model):
    """One provision of a law as in force from `version_date` (DOMAIN §3)."""

    __tablename__ = "legal_bases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    law: Mapped[str] = mapped_column(String(100), nullable=False)
    version_date: Mapped[date] = mapped_column(Date, nullable=False)
    article: Mapped[str] = mapped_column(String(16), nullable=False)
    clause: Mapped[str | None] = mapped_column(String(16))
    item: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    # Fine ranges in yuan, per party kind: {"unit": [min, max], "individual": [min, max]}
    fine_range: Mapped[dict | None] = mapped_column(JSONType)
    other_sanctions: Mapped[list | None] = mapped_column(JSONType)
    unverified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    source_version: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    # obligation (the duty violated) | penalty (what may be imposed) | procedure (how/when)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="penalty")
    note: Mapped[str | None] = mapped_column(Text)
    # Periods this provision sets, as data: [{"key": "reinspection", "value": 3, "unit": "working_days"}]
    periods: Mapped[list | None] = mapped_column(JSONType)


class ChecklistTemplate(db.Model):
    __tablename__ = "checklist_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    venue_type: Mapped[str] = mapped_column(String(24), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(100), nullable=False)
    effective_from: Mapped[date] = mapped_column(Date, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # SHA-256 of the loaded content (common section merged): the same version must never
    # change content silently, since inspections record the version they used.
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False, default="")

    items = relationship("ChecklistItem", order_by="ChecklistItem.position",
                         back_populates="template", lazy="selectin")

    __table_args__ = (UniqueConstraint("venue_type", "version", name="uq_checklist_templates_type_version"),)


class ChecklistItem(db.Model):
    __tablename__ = "checklist_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexed by uq_checklist_items_template_code, whose leading column it is.
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    section: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    check_method: Mapped[str] = mapped_column(Text, nullable=False, default="")
    default_severity: Mapped[str] = mapped_column(String(16), nullable=False, default="general")
    legal_basis_codes: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    correction_mode: Mapped[str] = mapped_column(String(16), nullable=False, default="deadline")
    default_days: Mapped[int | None] = mapped_column(Integer)
    requirement: Mapped[str | None] = mapped_column(Text)
    gb35181_code: Mapped[str | None] = mapped_column(String(32))

    template = relationship("ChecklistTemplate", back_populates="items")

    __table_args__ = (UniqueConstraint("template_id", "code", name="uq_checklist_items_template_code"),)


class CalendarOverride(db.Model):
    """Admin-entered holiday / make-up workday for a year the calendar package lacks."""

    __tablename__ = "calendar_overrides"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean, nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
