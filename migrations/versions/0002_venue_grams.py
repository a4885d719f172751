"""venue search: bigram fragment index (venue_grams on SQLite, GIN on PostgreSQL), risk-sorted and count indexes

A two-character fragment (星光) cannot use trigrams, and LIKE '%星光%' over 100,000 venues
tests every row. SQLite gets the venue_grams table, kept by triggers on venues, and PostgreSQL a
GIN index over venue_gram_array(name, address); see server/models/venues.py (VenueGram), whose
SQL this migration runs. Existing venues are indexed here (SQLite: backfill; PostgreSQL: the
index build). ix_venues_live_risk serves pages sorted by risk level, ix_venues_gone the count of
a whole district's live register.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

from server.models.venues import (GONE, LIVE, SQLITE_VENUE_GRAMS_BACKFILL_SQL, SQLITE_VENUE_GRAMS_DROP_SQL,
                                  SQLITE_VENUE_GRAMS_SQL, VENUE_GRAM_FUNCTION_SQL)

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('venue_grams',
    sa.Column('gram', sa.String(length=2), nullable=False),
    sa.Column('venue_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('gram', 'venue_id', name=op.f('pk_venue_grams')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.create_index('ix_venues_live_risk', ['risk_level', 'id', 'area_id', 'archived_at', 'deleted_at'],
                              unique=False, sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))
        batch_op.create_index('ix_venues_gone', ['id'], unique=False,
                              sqlite_where=sa.text(GONE), postgresql_where=sa.text(GONE))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(VENUE_GRAM_FUNCTION_SQL))
        op.create_index('ix_venues_grams', 'venues', [sa.text('venue_gram_array(name, address)')],
                        unique=False, postgresql_using='gin')
    else:
        for statement in SQLITE_VENUE_GRAMS_SQL:
            op.execute(sa.text(statement))
        op.execute(sa.text(SQLITE_VENUE_GRAMS_BACKFILL_SQL))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_venues_grams', table_name='venues', postgresql_using='gin')
        op.execute("DROP FUNCTION IF EXISTS venue_gram_array(text, text)")
    else:
        for statement in SQLITE_VENUE_GRAMS_DROP_SQL:
            op.execute(sa.text(statement))
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.drop_index('ix_venues_gone')
        batch_op.drop_index('ix_venues_live_risk')
    op.drop_table('venue_grams')
