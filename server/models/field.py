"""Field work: tasks, inspections, checklist results, hazards, campaigns and their doors."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, Date, Float, ForeignKey,
                        Index, Integer, String, Table, Text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import JSONType, SyncMixin, UTCDateTime, utcnow

INSPECTION_KINDS = ("routine", "campaign_sweep", "complaint", "pre_opening", "look_back", "joint")
INSPECTION_STATUSES = ("in_progress", "finished")
ITEM_RESULTS = ("pass", "fail", "na")
HAZARD_SEVERITIES = ("general", "major")
HAZARD_STATES = ("open", "notified", "rectification_claimed", "verified_fixed", "overdue",
                 "escalated", "major_pending", "withdrawn")
CORRECTION_MODES = ("immediate", "deadline")
DOOR_OUTCOMES = ("pending", "no_problem", "problem_found", "nobody_home", "refused")
TASK_STATUSES = ("open", "in_progress", "done", "cancelled")

inspection_inspectors = Table(
    "inspection_inspectors",
    db.metadata,
    Column("inspection_id", ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
)

task_assignees = Table(
    "task_assignees",
    db.metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
)

campaign_areas = Table(
    "campaign_areas",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id"), primary_key=True),
)


class Campaign(SyncMixin, db.Model):
    """专项行动, e.g. the group-rental three-year campaign."""

    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    venue_types: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    areas = relationship("Area", secondary=campaign_areas, lazy="selectin")


class CampaignDoor(SyncMixin, db.Model):
    """One building/household on a campaign's door list and its visit outcome."""

    __tablename__ = "campaign_doors"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), nullable=False, index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), nullable=False, index=True)
    venue_id: Mapped[str | None] = mapped_column(ForeignKey("venues.id"))
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    outcome: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    inspection_id: Mapped[str | None] = mapped_column(ForeignKey("inspections.id"))
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revisit_due: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)

    area = relationship("Area")

    __table_args__ = (CheckConstraint(f"outcome IN {DOOR_OUTCOMES}", name="outcome"),)


class Task(SyncMixin, db.Model):
    """A planned inspection: today's work on an inspector's phone."""

    __tablename__ = "tasks"

    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="routine")
    due_date: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id"))
    inspection_id: Mapped[str | None] = mapped_column(ForeignKey("inspections.id", use_alter=True, ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    assignees = relationship("User", secondary=task_assignees, lazy="selectin")
    venue = relationship("Venue")

    __table_args__ = (
        CheckConstraint(f"kind IN {INSPECTION_KINDS}", name="kind"),
        CheckConstraint(f"status IN {TASK_STATUSES}", name="status"),
    )


class Inspection(SyncMixin, db.Model):
    """检查记录: one visit to a venue by at least two inspectors."""

    __tablename__ = "inspections"

    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="routine")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="in_progress")
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_templates.id"))
    template_version: Mapped[int | None] = mapped_column(Integer)
    # Addendum: a correction to a finished inspection points at it.
    corrects_id: Mapped[str | None] = mapped_column(ForeignKey("inspections.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at_device: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    finished_at_device: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    gps_accuracy_m: Mapped[float | None] = mapped_column(Float)
    venue_snapshot: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    summary: Mapped[str | None] = mapped_column(Text)
    owner_signature_hash: Mapped[str | None] = mapped_column(String(64))
    owner_signer_name: Mapped[str | None] = mapped_column(String(64))
    owner_refused: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    refusal_witness: Mapped[str | None] = mapped_column(String(64))
    refusal_photo_hash: Mapped[str | None] = mapped_column(String(64))
    # {user_id(str): signature sha256}
    inspector_signatures: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))

    inspectors = relationship("User", secondary=inspection_inspectors, lazy="selectin")
    venue = relationship("Venue")

    __table_args__ = (
        CheckConstraint(f"kind IN {INSPECTION_KINDS}", name="kind"),
        CheckConstraint(f"status IN {INSPECTION_STATUSES}", name="status"),
    )


class ItemResult(SyncMixin, db.Model):
    __tablename__ = "item_results"

    # Indexed by uq_item_results_inspection_item, whose leading column it is.
    inspection_id: Mapped[str] = mapped_column(ForeignKey("inspections.id"), nullable=False)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_items.id"))
    item_code: Mapped[str] = mapped_column(String(32), nullable=False)
    result: Mapped[str] = mapped_column(String(8), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    photo_hashes: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)

    __table_args__ = (
        CheckConstraint(f"result IN {ITEM_RESULTS}", name="result"),
        Index("uq_item_results_inspection_item", "inspection_id", "item_code", unique=True),
    )


class Hazard(SyncMixin, db.Model):
    """隐患: a fire hazard found at a venue."""

    __tablename__ = "hazards"

    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), nullable=False, index=True)
    inspection_id: Mapped[str | None] = mapped_column(ForeignKey("inspections.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_items.id"))
    item_code: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, nullable=False)
    location: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    severity: Mapped[str] = mapped_column(String(8), nullable=False, default="general")
    correction_mode: Mapped[str] = mapped_column(String(16), nullable=False, default="deadline")
    legal_basis_codes: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    requirement: Mapped[str | None] = mapped_column(Text)
    photo_hashes: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    found_on: Mapped[date] = mapped_column(Date, nullable=False)
    deadline: Mapped[date | None] = mapped_column(Date, index=True)
    deadline_days: Mapped[int | None] = mapped_column(Integer)
    deadline_override_reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(24), nullable=False, default="open", index=True)
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fixed_on: Mapped[date | None] = mapped_column(Date)
    notified_on: Mapped[date | None] = mapped_column(Date)
    # Collective determination of a major hazard (≥3 people): {"by": [user ids], "on": date,
    # "confirmed": bool, "note": str}. Kept on the row so the notice can cite who decided.
    major_determination: Mapped[dict | None] = mapped_column(JSONType)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint(f"severity IN {HAZARD_SEVERITIES}", name="severity"),
        CheckConstraint(f"state IN {HAZARD_STATES}", name="state"),
        CheckConstraint(f"correction_mode IN {CORRECTION_MODES}", name="correction_mode"),
    )


class HazardEvidence(SyncMixin, db.Model):
    """Owner's proof of repair for one hazard (photos and a note)."""

    __tablename__ = "hazard_evidence"

    hazard_id: Mapped[str] = mapped_column(ForeignKey("hazards.id"), nullable=False, index=True)
    note: Mapped[str | None] = mapped_column(Text)
    photo_hashes: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class FieldHistory(db.Model):
    """Values that lost a same-field conflict, kept so nothing a person typed is lost."""

    __tablename__ = "field_history"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    field: Mapped[str] = mapped_column(String(64), nullable=False)
    server_value: Mapped[dict | list | str | int | float | bool | None] = mapped_column(JSONType)
    other_value: Mapped[dict | list | str | int | float | bool | None] = mapped_column(JSONType)
    mutation_id: Mapped[str | None] = mapped_column(String(36))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    resolved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
