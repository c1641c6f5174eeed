"""the period close (月结): closed periods, their stock snapshot, and the lock on dating anything inside them

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

ST-01, ST-02: period_close (one row per closed period) and period_snapshot (each batch's quantity, cost and
retail per location at the close) are written once and never changed (guards as 0011's: no reopening). From a store's first
close, the database refuses any stock movement, sale, receipt, count, loss or supplier return dated on or before
its last closed day (a movement without a date too): the service refuses first with words (the ledger's one
door); the trigger stops a raw INSERT or a clock set back in a tool that goes around it. The conditions are
written out as at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

_GUARDED = ('period_close', 'period_snapshot')

# table -> (the events the lock is checked on, the date that must lie after the last closed day)
_LOCKED: dict[str, tuple[tuple[str, ...], str]] = {
    'stock_movement': (('insert',), "COALESCE(NEW.business_date, {epoch})"),
    'sale': (('insert', 'update'), "NEW.business_date"),
    'receipt': (('insert', 'update'), "NEW.business_date"),
    'count_sheet': (('insert', 'update'), "NEW.business_date"),
    'stock_loss': (('insert',), "NEW.business_date"),
    'supplier_return': (('insert',), "NEW.business_date"),
}


def _guard_message(table: str, what: str) -> str:
    return (f"{table}: 月结记录不可{'修改' if what == 'update' else '删除'}，已结期间不能重开 / "
            f"the database refuses this {what.upper()} of {table}: a closed period is never reopened (ST-02)")


def _lock_message(table: str) -> str:
    return (f"{table}: 日期在已月结期间内，不得记入；更正请记入当前期间 / the database refuses a {table} row dated "
            f"inside a closed period: a correction goes into the open period (ST-02)")


def _lock_condition(dialect: str, table: str, what: str) -> str:
    epoch = "DATE '0001-01-01'" if dialect == "postgresql" else "'0001-01-01'"
    dated = _LOCKED[table][1].format(epoch=epoch)
    closed = "(SELECT max(pc.last_day) FROM period_close pc WHERE pc.store_id = NEW.store_id)"
    cond = f"{dated} <= {closed}"
    if what == 'update':  # only a date being set or changed: the rest of a row's lawful edits are other guards'
        distinct = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
        cond = f"NEW.business_date {distinct} OLD.business_date AND {cond}"
    return cond


def _triggers(dialect: str) -> list[tuple[str, str, str, str, str]]:
    """(name, table, event, condition, message) of every trigger this revision makes."""
    out = []
    for table in _GUARDED:
        for what in ('update', 'delete'):
            out.append((f"guard_{table}_{what}", table, what, "1 = 1", _guard_message(table, what)))
    for table, (events, _) in _LOCKED.items():
        for what in events:
            out.append((f"closed_period_{table}_{what}", table, what, _lock_condition(dialect, table, what),
                        _lock_message(table)))
    return out


def _create(dialect: str) -> None:
    bind = op.get_bind()
    for name, table, what, when, message in _triggers(dialect):
        if dialect == "postgresql":
            bind.exec_driver_sql(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $guard$ BEGIN "
                f"IF {when} THEN RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = '{message}'; "
                f"END IF; RETURN {'OLD' if what == 'delete' else 'NEW'}; END $guard$")
            bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} "
                                 f"FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} FOR EACH ROW "
                                 f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END")


def _drop(dialect: str) -> None:
    bind = op.get_bind()
    for name, table, *_ in _triggers(dialect):
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
        if dialect == "postgresql":
            bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")


def upgrade() -> None:
    from server.db.types import UTCDateTime

    op.create_table('period_close',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('store_id', sa.Integer(), sa.ForeignKey('store.id'), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.Column('closed_by', sa.Integer(), sa.ForeignKey('app_user.id'), nullable=True),
        sa.Column('closed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_movement_id', sa.Integer(), nullable=False),
        sa.Column('batches', sa.Integer(), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.UniqueConstraint('store_id', 'last_day'))
    op.create_index('ix_period_close_store_id', 'period_close', ['store_id'])
    op.create_index('ix_period_close_last_day', 'period_close', ['last_day'])
    op.create_table('period_snapshot',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('store_id', sa.Integer(), sa.ForeignKey('store.id'), nullable=False),
        sa.Column('close_id', sa.Integer(), sa.ForeignKey('period_close.id'), nullable=False),
        sa.Column('batch_id', sa.Integer(), sa.ForeignKey('batch.id'), nullable=False),
        sa.Column('item_id', sa.Integer(), sa.ForeignKey('item.id'), nullable=False),
        sa.Column('location', sa.String(length=12), nullable=False),
        sa.Column('qty', sa.Integer(), nullable=False),
        sa.Column('cost_fen', sa.Integer(), nullable=False),
        sa.Column('retail_fen', sa.Integer(), nullable=False),
        sa.UniqueConstraint('close_id', 'batch_id', 'location'))
    op.create_index('ix_period_snapshot_store_id', 'period_snapshot', ['store_id'])
    op.create_index('ix_period_snapshot_close_id', 'period_snapshot', ['close_id'])
    _create(op.get_bind().dialect.name)


def downgrade() -> None:
    _drop(op.get_bind().dialect.name)
    op.drop_table('period_snapshot')
    op.drop_table('period_close')
