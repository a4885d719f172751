"""The venue register (检查对象)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import SyncMixin, UTCDateTime

VENUE_TYPES = ("high_rise", "group_rental", "storefront", "entertainment", "flammable",
               "hazardous_chemical", "other")
RISK_LEVELS = ("low", "medium", "high")


class Venue(SyncMixin, db.Model):
    __tablename__ = "venues"

    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    type: Mapped[str] = mapped_column(String(24), nullable=False)
    key_unit: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    address: Mapped[str] = mapped_column(String(300), nullable=False)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), nullable=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    responsible_person: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    floors: Mapped[int | None] = mapped_column(Integer)
    floor_area: Mapped[float | None] = mapped_column(Float)
    occupancy: Mapped[int | None] = mapped_column(Integer)
    risk_level: Mapped[str] = mapped_column(String(8), nullable=False, default="low")
    listed_for_remediation: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The party's consent to electronic service (行政处罚法 art. 61), set by the owner.
    e_service_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    area = relationship("Area", lazy="joined")

    __table_args__ = (
        CheckConstraint(f"type IN {VENUE_TYPES}", name="type"),
        CheckConstraint(f"risk_level IN {RISK_LEVELS}", name="risk_level"),
        # The register search index: covering for the list's count(*) and id page in a scope
        # under every sort, fragment search included (name/address/code LIKE is checked inside the index, with no
        # row lookups), so a supervisor's search reads one contiguous index range.
        Index("ix_venues_area_type", "area_id", "type", "archived_at", "deleted_at", "name", "address",
              "code", "risk_level", "created_at", "id"),
        Index("ix_venues_name_address", "name", "address"),
        # Register sorts (ties broken on id): a page deep in the list walks the index, no sort.
        Index("ix_venues_name_id", "name", "id"),
        Index("ix_venues_created_id", "created_at", "id"),
        # Search by fragment (LIKE '%长江路%') on PostgreSQL: trigram GIN indexes (pg_trgm,
        # created before the table, see below). Fragments under three characters still scan.
        Index("ix_venues_name_trgm", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
        Index("ix_venues_address_trgm", "address", postgresql_using="gin",
              postgresql_ops={"address": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )


# create_all() on PostgreSQL needs the extension before the trigram indexes; the Alembic
# migration must run the same statement (op.execute) before creating them.
event.listen(Venue.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))
