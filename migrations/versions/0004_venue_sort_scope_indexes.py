"""venue search: the sort indexes carry the scope and live columns

ix_venues_name_id (name, id) and ix_venues_created_id (created_at, id) become
ix_venues_name_scope / ix_venues_created_scope with area_id, archived_at and deleted_at added,
so a supervisor's page sorted by name walks the index in order and tests the scope inside it
(no row lookups) instead of sorting every venue in scope. See server/services/venues.py
(WALK_FACTOR).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SCOPE = ['area_id', 'archived_at', 'deleted_at']


def upgrade():
    op.create_index('ix_venues_name_scope', 'venues', ['name', 'id', *SCOPE], unique=False)
    op.create_index('ix_venues_created_scope', 'venues', ['created_at', 'id', *SCOPE], unique=False)
    op.drop_index('ix_venues_name_id', table_name='venues')
    op.drop_index('ix_venues_created_id', table_name='venues')


def downgrade():
    op.create_index('ix_venues_name_id', 'venues', ['name', 'id'], unique=False)
    op.create_index('ix_venues_created_id', 'venues', ['created_at', 'id'], unique=False)
    op.drop_index('ix_venues_created_scope', table_name='venues')
    op.drop_index('ix_venues_name_scope', table_name='venues')
