"""drop two indexes that repeat the leading column of a unique index

ix_item_results_inspection_id (inspection_id) is the first column of
uq_item_results_inspection_item (inspection_id, item_code), and ix_checklist_items_template_id
(template_id) the first of uq_checklist_items_template_code (template_id, code). Both databases
answer a lookup by that column from the unique index alone, so the single-column copies only
cost a write each: every item result a push creates updated both. tests/test_schema_indexes.py
keeps such pairs from coming back.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_item_results_inspection_id', table_name='item_results')
    op.drop_index('ix_checklist_items_template_id', table_name='checklist_items')


def downgrade():
    op.create_index('ix_checklist_items_template_id', 'checklist_items', ['template_id'], unique=False)
    op.create_index('ix_item_results_inspection_id', 'item_results', ['inspection_id'], unique=False)
