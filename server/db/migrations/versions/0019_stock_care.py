"""stock care: count sheets (盘点), loss documents (报损, 过期报损, 销毁, 召回退回), recalls (召回) and the monthly
upkeep inspection (养护, GSP-06)

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-07

New tables only: count_sheet, count_line, recall, stock_loss, stock_loss_line, upkeep, upkeep_line. Their stock
moves through the ledger (stock_movement, whose guards of 0011 stand); nothing existing is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0017'
branch_labels = None
depends_on = None

_TABLES = ('upkeep_line', 'upkeep', 'stock_loss_line', 'stock_loss', 'recall', 'count_line', 'count_sheet')


def upgrade() -> None:
    from server.db.types import UTCDateTime

    s, i, d = sa.String, sa.Integer, sa.Date
    ts = UTCDateTime(timezone=True)

    def user(name: str) -> sa.Column[int]:
        return sa.Column(name, i(), sa.ForeignKey('app_user.id'), nullable=True)

    def store() -> sa.Column[int]:
        return sa.Column('store_id', i(), sa.ForeignKey('store.id'), nullable=False)

    op.create_table('count_sheet',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('zone_id', i(), sa.ForeignKey('zone.id'), nullable=True),
        sa.Column('blind', sa.Boolean(), nullable=False),
        sa.Column('status', s(length=20), nullable=False),
        sa.Column('snapshot_at', ts, nullable=False),
        sa.Column('snapshot_movement_id', i(), nullable=False),
        sa.Column('business_date', d(), nullable=False),
        sa.Column('note', s(length=200), nullable=False),
        user('created_by'), user('submitted_by'), sa.Column('submitted_at', ts, nullable=True),
        user('posted_by'), sa.Column('posted_at', ts, nullable=True))
    op.create_table('count_line',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('sheet_id', i(), sa.ForeignKey('count_sheet.id'), nullable=False),
        sa.Column('batch_id', i(), sa.ForeignKey('batch.id'), nullable=False),
        sa.Column('item_id', i(), sa.ForeignKey('item.id'), nullable=False),
        sa.Column('book_qty', i(), nullable=False),
        sa.Column('counted_qty', i(), nullable=True),
        sa.Column('reason', s(length=200), nullable=False),
        user('counted_by'), sa.Column('counted_at', ts, nullable=True),
        sa.UniqueConstraint('sheet_id', 'batch_id'))
    op.create_table('recall',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('batch_id', i(), sa.ForeignKey('batch.id'), nullable=False),
        sa.Column('notice_no', s(length=50), nullable=False),
        sa.Column('reason', s(length=200), nullable=False),
        user('started_by'), sa.Column('started_at', ts, nullable=False),
        sa.Column('business_date', d(), nullable=False))
    op.create_table('stock_loss',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('kind', s(length=20), nullable=False),
        sa.Column('reason', s(length=200), nullable=False),
        sa.Column('method', s(length=100), nullable=False),
        user('witness_1'), user('witness_2'),
        sa.Column('recall_id', i(), sa.ForeignKey('recall.id'), nullable=True),
        sa.Column('business_date', d(), nullable=False),
        user('created_by'), sa.Column('created_at', ts, nullable=False))
    op.create_table('stock_loss_line',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('loss_id', i(), sa.ForeignKey('stock_loss.id'), nullable=False),
        sa.Column('batch_id', i(), sa.ForeignKey('batch.id'), nullable=False),
        sa.Column('item_id', i(), sa.ForeignKey('item.id'), nullable=False),
        sa.Column('qty', i(), nullable=False),
        sa.Column('location', s(length=20), nullable=False))
    op.create_table('upkeep',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('zone_id', i(), sa.ForeignKey('zone.id'), nullable=False),
        sa.Column('month', s(length=7), nullable=False),
        sa.Column('business_date', d(), nullable=False),
        user('inspected_by'), sa.Column('inspected_at', ts, nullable=False),
        sa.Column('note', s(length=200), nullable=False))
    op.create_table('upkeep_line',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('upkeep_id', i(), sa.ForeignKey('upkeep.id'), nullable=False),
        sa.Column('batch_id', i(), sa.ForeignKey('batch.id'), nullable=False),
        sa.Column('appearance', s(length=100), nullable=False),
        sa.Column('packaging', s(length=100), nullable=False),
        sa.Column('storage', s(length=100), nullable=False),
        sa.Column('outcome', s(length=10), nullable=False),
        sa.Column('note', s(length=200), nullable=False),
        user('cleared_by'), sa.Column('cleared_at', ts, nullable=True),
        sa.Column('cleared_reason', s(length=200), nullable=False),
        sa.UniqueConstraint('upkeep_id', 'batch_id'))
    indexed = {'count_sheet': ['store_id'], 'count_line': ['store_id', 'sheet_id', 'batch_id'],
               'recall': ['store_id', 'batch_id'], 'stock_loss': ['store_id'],
               'stock_loss_line': ['store_id', 'loss_id', 'batch_id'], 'upkeep': ['store_id', 'zone_id', 'month'],
               'upkeep_line': ['store_id', 'upkeep_id', 'batch_id']}
    for table, columns in indexed.items():
        for column in columns:
            op.create_index(f'ix_{table}_{column}', table, [column])


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
