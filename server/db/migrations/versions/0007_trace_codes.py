"""trace codes: sale_trace_code

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sale_trace_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('sale_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('sale_line_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('split', sa.Boolean(), nullable=False),
    sa.Column('sold', sa.Boolean(), nullable=False),
    sa.Column('returned_in', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('scanned_by', sa.Integer(), nullable=False),
    sa.Column('scanned_at', server.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
    sa.ForeignKeyConstraint(['returned_in'], ['sale_return.id'], ),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], ),
    sa.ForeignKeyConstraint(['sale_line_id'], ['sale_line.id'], ),
    sa.ForeignKeyConstraint(['scanned_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sale_trace_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sale_trace_code_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_sale_trace_code_sale_id'), ['sale_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sale_trace_code_sale_line_id'), ['sale_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sale_trace_code_store_id'), ['store_id'], unique=False)
        batch_op.create_index('ux_sale_trace_code_sold_box', ['store_id', 'code'], unique=True, sqlite_where=sa.text('sold = 1 AND split = 0 AND returned_in IS NULL'), postgresql_where=sa.text('sold AND NOT split AND returned_in IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('sale_trace_code', schema=None) as batch_op:
        batch_op.drop_index('ux_sale_trace_code_sold_box', sqlite_where=sa.text('sold = 1 AND split = 0 AND returned_in IS NULL'), postgresql_where=sa.text('sold AND NOT split AND returned_in IS NULL'))
        batch_op.drop_index(batch_op.f('ix_sale_trace_code_store_id'))
        batch_op.drop_index(batch_op.f('ix_sale_trace_code_sale_line_id'))
        batch_op.drop_index(batch_op.f('ix_sale_trace_code_sale_id'))
        batch_op.drop_index(batch_op.f('ix_sale_trace_code_code'))

    op.drop_table('sale_trace_code')
