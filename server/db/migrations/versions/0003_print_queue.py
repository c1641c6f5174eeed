"""print queue: print_job (receipts, Z reports, review slips, drawer kicks)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('print_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('till_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('reprint', sa.Boolean(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', server.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', server.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('printed_at', server.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', server.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.create_index('ix_print_job_queue', ['store_id', 'till_code', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_print_job_ref'), ['ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_print_job_store_id'), ['store_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_print_job_store_id'))
        batch_op.drop_index(batch_op.f('ix_print_job_ref'))
        batch_op.drop_index('ix_print_job_queue')
    op.drop_table('print_job')
