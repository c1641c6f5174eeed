"""backups and restore drills (SEC-05)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07

New tables only: backup_run (each backup: file, size, SHA-256, schema head, the audit chain's head) and
restore_drill (each restore into a new database and its verification). Both are evidence the checklist reads:
append-only, the database refuses an UPDATE or DELETE of either.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

_TABLES = ('backup_run', 'restore_drill')


def _message(table: str, what: str) -> str:
    return (f"{table}: 记录不可{'修改' if what == 'update' else '删除'}，须新增记录 / "
            f"the database refuses this {what.upper()} of {table}: a backup or drill is a new row (SEC-05)")


def upgrade() -> None:
    from server.db.types import UTCDateTime

    s, i, ts = sa.String, sa.Integer, UTCDateTime(timezone=True)

    def store() -> sa.Column[int]:
        return sa.Column('store_id', i(), sa.ForeignKey('store.id'), nullable=False, index=True)

    op.create_table('backup_run',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('started_at', ts, nullable=False), sa.Column('finished_at', ts, nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('backend', s(length=12), nullable=False),
        sa.Column('file_name', s(length=200), nullable=False),
        sa.Column('directory', s(length=400), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('sha256', s(length=64), nullable=False),
        sa.Column('revision', s(length=32), nullable=False),
        sa.Column('audit_head', s(length=90), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('error', s(length=400), nullable=False),
        sa.Column('taken_by', s(length=60), nullable=False))
    op.create_table('restore_drill',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('at', ts, nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('backup_file', s(length=200), nullable=False),
        sa.Column('backup_sha256', s(length=64), nullable=False),
        sa.Column('backup_taken_at', ts, nullable=True),
        sa.Column('target', s(length=400), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('problems', sa.JSON(), nullable=False),
        sa.Column('elapsed_ms', i(), nullable=False),
        sa.Column('drilled_by', i(), sa.ForeignKey('app_user.id'), nullable=False))
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for table in _TABLES:
        for what in ("update", "delete"):
            name = f"guard_{table}_{what}"
            if pg:
                bind.exec_driver_sql(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $guard$ BEGIN "
                    f"RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = '{_message(table, what)}'; "
                    f"END $guard$")
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} "
                                     f"FOR EACH ROW EXECUTE FUNCTION {name}()")
            else:
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} FOR EACH ROW "
                                     f"BEGIN SELECT RAISE(ABORT, '{_message(table, what)}'); END")


def downgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for table in _TABLES:
        for what in ("update", "delete"):
            name = f"guard_{table}_{what}"
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if pg else ""))
            if pg:
                bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table('restore_drill')
    op.drop_table('backup_run')
