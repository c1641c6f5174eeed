"""the compliance checklist's own records: attestations, training sessions, checklist runs (issue #22)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07

New tables only. Each is append-only evidence: an attestation renewed, a training recorded again, a checklist run
again are new rows; the database refuses an UPDATE or DELETE of any of them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

_TABLES = ('attestation', 'training_session', 'checklist_run')


def _message(table: str, what: str) -> str:
    return (f"{table}: 记录不可{'修改' if what == 'update' else '删除'}，须新增记录 / "
            f"the database refuses this {what.upper()} of {table}: a new record is a new row")


def upgrade() -> None:
    from server.db.types import UTCDateTime

    s, i, ts = sa.String, sa.Integer, UTCDateTime(timezone=True)

    def store() -> sa.Column[int]:
        return sa.Column('store_id', i(), sa.ForeignKey('store.id'), nullable=False, index=True)

    def user(name: str) -> sa.Column[int]:
        return sa.Column(name, i(), sa.ForeignKey('app_user.id'), nullable=False)

    op.create_table('attestation',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('topic', s(length=30), nullable=False),
        user('confirmed_by'), sa.Column('confirmed_at', ts, nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=False),
        sa.Column('note', s(length=500), nullable=False),
        sa.Column('photo_sha256', s(length=64), nullable=False),
        sa.Column('photo', sa.LargeBinary(), nullable=True))
    op.create_table('training_session',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('held_on', sa.Date(), nullable=False),
        sa.Column('topic', s(length=200), nullable=False),
        sa.Column('trainer', s(length=50), nullable=False),
        sa.Column('attendees', sa.JSON(), nullable=False),
        user('recorded_by'), sa.Column('recorded_at', ts, nullable=False))
    op.create_table('checklist_run',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('first', sa.Date(), nullable=False),
        sa.Column('last', sa.Date(), nullable=False),
        sa.Column('at', ts, nullable=False),
        sa.Column('run_by', s(length=60), nullable=False),
        sa.Column('verdicts', sa.JSON(), nullable=False))
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
    for table in reversed(_TABLES):
        op.drop_table(table)
