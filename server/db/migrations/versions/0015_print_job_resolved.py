"""print jobs cut off by a crash: uncertain until the cashier decides, then resolved (final)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

A job the service was sending when it died is marked uncertain at the next start and never sent again by
itself (it may have come out). The till shows it; the cashier resolves it — with a reprint marked 重打 (a new
job) or without one — and `resolved` is final. The print queue's guard (0011) is written anew for that: an
uncertain job may only become resolved, and only an uncertain one may; printed, expired and resolved rows
never change.
"""

from __future__ import annotations

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_NAME = "guard_print_job_update"
_MESSAGE = ("print_job: 账本记录不可修改，更正须新增记录 / "
            "the database refuses this UPDATE of print_job: a correction is a new row (ST-02)")
_IDENTITY = ('id', 'store_id', 'till_code', 'kind', 'ref', 'reprint', 'created_by', 'created_at', 'expires_at')


def _when(dialect: str, final: tuple[str, ...], resolved: bool) -> str:
    pg = dialect == "postgresql"
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" if pg else f"OLD.{c} IS NOT NEW.{c}" for c in _IDENTITY)
    doc_changed = ("OLD.document::text IS DISTINCT FROM NEW.document::text" if pg
                   else "OLD.document IS NOT NEW.document")
    statuses = ", ".join(f"'{s}'" for s in final)
    when = (f"OLD.status IN ({statuses}) OR ({changed})"
            f" OR (({doc_changed}) AND OLD.document{'::text' if pg else ''} <> '{{}}')")
    if resolved:
        when += (" OR (OLD.status = 'uncertain' AND NEW.status NOT IN ('uncertain', 'resolved'))"
                 " OR (NEW.status = 'resolved' AND OLD.status <> 'uncertain')")
    return when


def _replace(when: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION {_NAME}() RETURNS trigger LANGUAGE plpgsql AS $guard$ BEGIN "
            f"IF {when} THEN RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = '{_MESSAGE}'; "
            "END IF; RETURN NEW; END $guard$")
        return
    bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_NAME}")
    bind.exec_driver_sql(f"CREATE TRIGGER {_NAME} BEFORE UPDATE ON print_job FOR EACH ROW "
                         f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END")


def upgrade() -> None:
    _replace(_when(op.get_bind().dialect.name, ("printed", "expired", "resolved"), resolved=True))


def downgrade() -> None:
    _replace(_when(op.get_bind().dialect.name, ("printed", "expired"), resolved=False))
    # a resolved row goes back to what 0011 knew of it: uncertain (the decision stays in the audit log)
    op.get_bind().exec_driver_sql("UPDATE print_job SET status = 'uncertain' WHERE status = 'resolved'")
