"""venue search: live venue counts per grid and risk level (venue_counts), kept by triggers

The register list's exact `meta.total` for a list filtered only by scope, area and risk level
is a sum over venue_counts instead of a count over every venue in scope (PostgreSQL reads all
100,000 index entries for a district). See server/models/venues.py (VenueCount), whose SQL
this migration runs; existing venues are counted here.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

from server.models.venues import (PG_VENUE_COUNTS_DROP_SQL, PG_VENUE_COUNTS_SQL, SQLITE_VENUE_COUNTS_DROP_SQL,
                                  SQLITE_VENUE_COUNTS_SQL, VENUE_COUNTS_BACKFILL_SQL)

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('venue_counts',
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('risk_level', sa.String(length=8), nullable=False),
    sa.Column('live', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('area_id', 'risk_level', name=op.f('pk_venue_counts'))
    )
    # Count and create the triggers in one transaction (PostgreSQL: Alembic runs the migration
    # in one; the table lock taken by CREATE TRIGGER keeps writers out until it commits).
    statements = PG_VENUE_COUNTS_SQL if op.get_bind().dialect.name == "postgresql" else SQLITE_VENUE_COUNTS_SQL
    for statement in statements:
        op.execute(sa.text(statement))
    op.execute(sa.text(VENUE_COUNTS_BACKFILL_SQL))


def downgrade():
    statements = PG_VENUE_COUNTS_DROP_SQL if op.get_bind().dialect.name == "postgresql" else SQLITE_VENUE_COUNTS_DROP_SQL
    for statement in statements:
        op.execute(sa.text(statement))
    op.drop_table('venue_counts')
