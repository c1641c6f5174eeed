"""card settlement: the insured person on a sale, settlements; item mapping upload day

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('card_settlement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('sale_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('msgid', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('medfee_sumamt_fen', sa.Integer(), nullable=False),
    sa.Column('fund_pay_fen', sa.Integer(), nullable=False),
    sa.Column('acct_pay_fen', sa.Integer(), nullable=False),
    sa.Column('cash_pay_fen', sa.Integer(), nullable=False),
    sa.Column('balc_fen', sa.Integer(), nullable=True),
    sa.Column('setl_id', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('mdtrt_id', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', server.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', server.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_msgid', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('cancel_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('cancelled_by', sa.Integer(), nullable=True),
    sa.Column('cancel_confirmed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['cancel_confirmed_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['cancelled_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('store_id', 'msgid')
    )
    with op.batch_alter_table('card_settlement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_settlement_sale_id'), ['sale_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_card_settlement_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_card_settlement_store_id'), ['store_id'], unique=False)

    op.create_table('sale_insured',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('sale_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('id_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('mdtrt_cert_type', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('mdtrt_cert_no', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
    sa.Column('card_sn', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('psn_no', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('psn_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('psn_cert_type', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('certno', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('gend', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('insutype', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('psn_type', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('balc_fen', sa.Integer(), nullable=False),
    sa.Column('insuplc_admdvs', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('buyer_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('buyer_certno', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('identified_by', sa.Integer(), nullable=False),
    sa.Column('identified_at', server.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['identified_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sale_id')
    )
    with op.batch_alter_table('sale_insured', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sale_insured_store_id'), ['store_id'], unique=False)

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mapping_uploaded_on', sa.Date(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_column('mapping_uploaded_on')

    with op.batch_alter_table('sale_insured', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sale_insured_store_id'))

    op.drop_table('sale_insured')
    with op.batch_alter_table('card_settlement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_settlement_store_id'))
        batch_op.drop_index(batch_op.f('ix_card_settlement_status'))
        batch_op.drop_index(batch_op.f('ix_card_settlement_sale_id'))

    op.drop_table('card_settlement')
