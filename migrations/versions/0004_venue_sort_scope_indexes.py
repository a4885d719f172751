"""venue search: the sort indexes carry the scope and live columns; SQLite's candidate index

ix_venues_name_id (name, id) and ix_venues_created_id (created_at, id) become
ix_venues_name_scope / ix_venues_created_scope with area_id, archived_at and deleted_at added,
so a supervisor's page sorted by name walks the index in order and tests the scope inside it
(no row lookups) instead of sorting every venue in scope. See server/services/venues.py
(WALK_FACTOR).

ix_venues_gone (the few archived or deleted venues, for SQLite's whole-register count) is
dropped: that count now comes from venue_counts.

SQLite only: ix_venues_id_match, keyed by id and covering a fragment search's filters and sort
keys, so each candidate id from venue_grams is tested with one index lookup (see
server/models/venues.py).

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from server.models.venues import GONE

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SCOPE = ['area_id', 'archived_at', 'deleted_at']
ID_MATCH = ['deleted_at', 'archived_at', 'area_id', 'type', 'risk_level', 'created_at', 'name', 'address', 'code']


def upgrade():
    op.create_index('ix_venues_name_scope', 'venues', ['name', 'id', *SCOPE], unique=False)
    op.create_index('ix_venues_created_scope', 'venues', ['created_at', 'id', *SCOPE], unique=False)
    op.drop_index('ix_venues_name_id', table_name='venues')
    op.drop_index('ix_venues_created_id', table_name='venues')
    op.drop_index('ix_venues_gone', table_name='venues')
    if op.get_bind().dialect.name == "sqlite":
        op.create_index('ix_venues_id_match', 'venues', ['id', *ID_MATCH], unique=False)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index('ix_venues_id_match', table_name='venues')
    op.create_index('ix_venues_gone', 'venues', ['id'], unique=False,
                    sqlite_where=sa.text(GONE), postgresql_where=sa.text(GONE))
    op.create_index('ix_venues_name_id', 'venues', ['name', 'id'], unique=False)
    op.create_index('ix_venues_created_id', 'venues', ['created_at', 'id'], unique=False)
    op.drop_index('ix_venues_created_scope', table_name='venues')
    op.drop_index('ix_venues_name_scope', table_name='venues')
