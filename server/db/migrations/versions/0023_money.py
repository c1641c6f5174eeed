"""money from the fund and the reports handed in: the working-day calendar, declarations (申报), payments,
write-offs (拒付, 扣款, 罚款), the reserve's year-end assessment (ST-05, ST-07), report submissions (ST-04)

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-07

New tables only. The database refuses an UPDATE or DELETE of a declaration, a payment, a write-off or an
assessment (a correction is a new row), and of a report submission anything but its lawful moves: a draft's file
replaced or submitted; a submitted report accepted or rejected, once; a submitted file never replaced, a
submission never deleted. The conditions are written out here as they are at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0021'
branch_labels = None
depends_on = None

_TABLES = ('report_submission', 'reserve_assessment', 'receivable_write_off', 'receivable_payment', 'declaration',
           'holiday_day')
_SUBMISSION_KEPT = ('id', 'store_id', 'kind', 'period_start', 'period_end', 'version', 'previous_id', 'created_by',
                    'created_at')
_SUBMISSION_FILE = ('file_name', 'content', 'sha256', 'size')


def _changed(dialect: str, columns: tuple[str, ...]) -> str:
    op_ = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return "(" + " OR ".join(f"OLD.{c} {op_} NEW.{c}" for c in columns) + ")"


def _rules(d: str) -> dict[str, tuple[str, str]]:
    """table -> (when an UPDATE is refused, when a DELETE is refused), as at this revision."""
    always = "1 = 1"
    ch = _changed
    return {
        "declaration": (always, always),
        "receivable_payment": (always, always),
        "receivable_write_off": (always, always),
        "reserve_assessment": (always, always),
        "report_submission": (
            f"{ch(d, _SUBMISSION_KEPT)}"
            f" OR (OLD.status <> 'draft' AND {ch(d, _SUBMISSION_FILE)})"
            " OR OLD.status IN ('accepted', 'rejected')"
            " OR (OLD.status = 'draft' AND NEW.status NOT IN ('draft', 'submitted'))"
            " OR (OLD.status = 'submitted' AND NEW.status NOT IN ('accepted', 'rejected'))"
            f" OR (OLD.status = 'submitted' AND {ch(d, ('submitted_by', 'submitted_at'))})",
            always),
    }


def _message(table: str, what: str) -> str:
    return (f"{table}: 账本记录不可{'修改' if what == 'update' else '删除'}，更正须新增记录 / "
            f"the database refuses this {what.upper()} of {table}: a correction is a new row (ST-02)")


def _create(dialect: str) -> None:
    bind = op.get_bind()
    for table, (on_update, on_delete) in _rules(dialect).items():
        for what, when in (("update", on_update), ("delete", on_delete)):
            name = f"guard_{table}_{what}"
            if dialect == "postgresql":
                bind.exec_driver_sql(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $guard$ BEGIN "
                    f"IF {when} THEN RAISE EXCEPTION USING ERRCODE = 'restrict_violation', "
                    f"MESSAGE = '{_message(table, what)}'; "
                    f"END IF; RETURN {'NEW' if what == 'update' else 'OLD'}; END $guard$")
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} "
                                     f"FOR EACH ROW EXECUTE FUNCTION {name}()")
            else:
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} FOR EACH ROW "
                                     f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{_message(table, what)}'); END")


def _drop(dialect: str) -> None:
    bind = op.get_bind()
    for table in _rules(dialect):
        for what in ("update", "delete"):
            name = f"guard_{table}_{what}"
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
            if dialect == "postgresql":
                bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")


def upgrade() -> None:
    from server.db.types import UTCDateTime

    s, i, d = sa.String, sa.Integer, sa.Date
    ts = UTCDateTime(timezone=True)

    def user(name: str, nullable: bool = False) -> sa.Column[int]:
        return sa.Column(name, i(), sa.ForeignKey('app_user.id'), nullable=nullable)

    def store() -> sa.Column[int]:
        return sa.Column('store_id', i(), sa.ForeignKey('store.id'), nullable=False)

    def declaration() -> sa.Column[int]:
        return sa.Column('declaration_id', i(), sa.ForeignKey('declaration.id'), nullable=False)

    op.create_table('holiday_day',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('day', d(), nullable=False),
        sa.Column('kind', s(length=10), nullable=False),
        sa.Column('name', s(length=40), nullable=False),
        user('set_by', nullable=True), sa.Column('set_at', ts, nullable=False),
        sa.UniqueConstraint('store_id', 'day'))
    op.create_table('declaration',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('period_start', d(), nullable=False),
        sa.Column('period_end', d(), nullable=False),
        sa.Column('statement_period', s(length=10), nullable=False),
        sa.Column('declared_fen', i(), nullable=False),
        sa.Column('settlements', i(), nullable=False),
        sa.Column('groups', sa.JSON(), nullable=False),
        sa.Column('interim_ratio', s(length=10), nullable=False),
        sa.Column('declared_on', d(), nullable=False),
        user('declared_by'), sa.Column('declared_at', ts, nullable=False),
        sa.UniqueConstraint('store_id', 'period_start'))
    op.create_table('receivable_payment',
        sa.Column('id', i(), primary_key=True), store(), declaration(),
        sa.Column('part', s(length=10), nullable=False),
        sa.Column('received_on', d(), nullable=False),
        sa.Column('amount_fen', i(), nullable=False),
        sa.Column('reference', s(length=60), nullable=False),
        sa.Column('note', s(length=200), nullable=False),
        user('recorded_by'), sa.Column('recorded_at', ts, nullable=False))
    op.create_table('receivable_write_off',
        sa.Column('id', i(), primary_key=True), store(), declaration(),
        sa.Column('kind', s(length=10), nullable=False),
        sa.Column('amount_fen', i(), nullable=False),
        sa.Column('written_on', d(), nullable=False),
        sa.Column('reason', s(length=200), nullable=False),
        sa.Column('reference', s(length=60), nullable=False),
        user('recorded_by'), sa.Column('recorded_at', ts, nullable=False))
    op.create_table('reserve_assessment',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('year', i(), nullable=False),
        sa.Column('deducted_fen', i(), nullable=False),
        sa.Column('reason', s(length=200), nullable=False),
        sa.Column('reference', s(length=60), nullable=False),
        sa.Column('assessed_on', d(), nullable=False),
        user('recorded_by'), sa.Column('recorded_at', ts, nullable=False),
        sa.UniqueConstraint('store_id', 'year'))
    op.create_table('report_submission',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('kind', s(length=20), nullable=False),
        sa.Column('period_start', d(), nullable=False),
        sa.Column('period_end', d(), nullable=False),
        sa.Column('version', i(), nullable=False),
        sa.Column('previous_id', i(), sa.ForeignKey('report_submission.id'), nullable=True),
        sa.Column('status', s(length=10), nullable=False),
        sa.Column('file_name', s(length=200), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('sha256', s(length=64), nullable=False),
        sa.Column('size', i(), nullable=False),
        user('created_by'), sa.Column('created_at', ts, nullable=False),
        user('submitted_by', nullable=True), sa.Column('submitted_at', ts, nullable=True),
        user('decided_by', nullable=True), sa.Column('decided_at', ts, nullable=True),
        sa.Column('reason', s(length=200), nullable=False),
        sa.Column('agency_ref', s(length=60), nullable=False),
        sa.UniqueConstraint('store_id', 'kind', 'period_start', 'version'),
        sa.UniqueConstraint('previous_id'))
    for table in _TABLES:
        op.create_index(f'ix_{table}_store_id', table, ['store_id'])
    for table in ('receivable_payment', 'receivable_write_off'):
        op.create_index(f'ix_{table}_declaration_id', table, ['declaration_id'])
    _create(op.get_bind().dialect.name)


def downgrade() -> None:
    _drop(op.get_bind().dialect.name)
    for table in _TABLES:
        op.drop_table(table)
