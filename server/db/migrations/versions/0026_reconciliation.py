"""the reconciliation with the centre (ST-07): 3201 runs per day or month × clearing group, the settlements the
centre's 3202 named, the 医保 administrator's acknowledgments of a difference

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07

New tables only: recon_run, recon_item, recon_ack. Evidence in a dispute with the agency, so append-only: the
database refuses any UPDATE or DELETE of them (a later run, a new acknowledgment is a new row), as 0011 guards the
ledger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

_TABLES = ('recon_ack', 'recon_item', 'recon_run')


def _message(table: str, what: str) -> str:
    return (f"{table}: 对账记录不可{'修改' if what == 'update' else '删除'}，更正须新增记录 / "
            f"the database refuses this {what.upper()} of {table}: a correction is a new row (ST-07, ST-02)")


def _guard(dialect: str) -> None:
    bind = op.get_bind()
    for table in _TABLES:
        for what in ("update", "delete"):
            name = f"guard_{table}_{what}"
            if dialect == "postgresql":
                bind.exec_driver_sql(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $guard$ BEGIN "
                    f"RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = '{_message(table, what)}'; "
                    f"END $guard$")
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} "
                                     f"FOR EACH ROW EXECUTE FUNCTION {name}()")
            else:
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} FOR EACH ROW "
                                     f"BEGIN SELECT RAISE(ABORT, '{_message(table, what)}'); END")


def upgrade() -> None:
    from server.db.types import UTCDateTime

    s, i, d = sa.String, sa.Integer, sa.Date
    ts = UTCDateTime(timezone=True)

    def store() -> sa.Column[int]:
        return sa.Column('store_id', i(), sa.ForeignKey('store.id'), nullable=False)

    op.create_table('recon_run',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('kind', s(length=5), nullable=False),
        sa.Column('stmt_begndate', d(), nullable=False),
        sa.Column('stmt_enddate', d(), nullable=False),
        sa.Column('insutype', s(length=6), nullable=False),
        sa.Column('clr_type', s(length=6), nullable=False),
        sa.Column('clr_optins', s(length=6), nullable=False),
        sa.Column('away', sa.Boolean(), nullable=False),
        sa.Column('refd_setl_flag', s(length=1), nullable=False),
        sa.Column('medfee_fen', i(), nullable=False),
        sa.Column('fund_fen', i(), nullable=False),
        sa.Column('acct_fen', i(), nullable=False),
        sa.Column('cash_fen', i(), nullable=False),
        sa.Column('setl_cnt', i(), nullable=False),
        sa.Column('setl_ids', sa.JSON(), nullable=False),
        sa.Column('result', s(length=1), nullable=False),
        sa.Column('result_dscr', s(length=200), nullable=False),
        sa.Column('msgid', s(length=30), nullable=False),
        sa.Column('detail_msgid', s(length=30), nullable=False),
        sa.Column('detail_error', s(length=300), nullable=False),
        sa.Column('ran_by', i(), sa.ForeignKey('app_user.id'), nullable=True),
        sa.Column('ran_at', ts, nullable=False))
    op.create_index('ix_recon_run_store_id', 'recon_run', ['store_id'])
    op.create_index('ix_recon_run_period', 'recon_run', ['store_id', 'stmt_begndate', 'stmt_enddate'])
    op.create_table('recon_item',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('run_id', i(), sa.ForeignKey('recon_run.id'), nullable=False),
        sa.Column('setl_id', s(length=30), nullable=False),
        sa.Column('mdtrt_id', s(length=30), nullable=False),
        sa.Column('psn_no', s(length=30), nullable=False),
        sa.Column('msgid', s(length=30), nullable=False),
        sa.Column('refd_setl_flag', s(length=1), nullable=False),
        sa.Column('stmt_rslt', s(length=1), nullable=False),
        sa.Column('memo', s(length=300), nullable=False),
        sa.Column('ours', sa.Boolean(), nullable=False))
    for column in ('store_id', 'run_id', 'setl_id'):
        op.create_index(f'ix_recon_item_{column}', 'recon_item', [column])
    op.create_table('recon_ack',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('run_id', i(), sa.ForeignKey('recon_run.id'), nullable=False),
        sa.Column('note', s(length=500), nullable=False),
        sa.Column('acked_by', i(), sa.ForeignKey('app_user.id'), nullable=False),
        sa.Column('acked_at', ts, nullable=False))
    for column in ('store_id', 'run_id'):
        op.create_index(f'ix_recon_ack_{column}', 'recon_ack', [column])
    _guard(op.get_bind().dialect.name)


def downgrade() -> None:
    bind = op.get_bind()
    for table in _TABLES:
        for what in ("update", "delete"):
            name = f"guard_{table}_{what}"
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}"
                                 + (f" ON {table}" if bind.dialect.name == "postgresql" else ""))
            if bind.dialect.name == "postgresql":
                bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
        op.drop_table(table)
