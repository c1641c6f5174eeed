"""the message log, the sessions and the msgid counter made tamper-evident (issue #17)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

ST-02, SEC-04: from this revision every row of the message log with the centre (insurance_message: each
2101/2102/2103 request and answer, evidence in a dispute with the agency) and every login session
(auth_session) is imaged in the audit chain as it is written, and `dingdian audit verify` compares each row
with its image; the msgid counter is checked against the message log (server.evidence lists every table).
The database refuses what the service never does: a session changed but for its ending once, or deleted; the
msgid counter set back, or deleted (the message log's own guards are migration 0011's). In a store that
already had data, an `audit.coverage` entry records the last id of the two tables: older rows are legacy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_SESSION_KEPT = ('id', 'store_id', 'user_id', 'token_hash', 'till_id', 'created_at', 'expires_at')


def _changed(dialect: str, columns: tuple[str, ...]) -> str:
    op_ = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return "(" + " OR ".join(f"OLD.{c} {op_} NEW.{c}" for c in columns) + ")"


def _rules(d: str) -> dict[str, tuple[str, str]]:
    """table -> (when an UPDATE is refused, when a DELETE is refused), as at this revision."""
    return {
        # a session only ends, once
        "auth_session": (f"{_changed(d, _SESSION_KEPT)} OR (OLD.revoked_at IS NOT NULL AND "
                         f"{_changed(d, ('revoked_at',))})", "1 = 1"),
        # the last msgid handed out only rises (server.insurance.msgid)
        "insurance_msgid_counter": (f"{_changed(d, ('store_id',))} OR NEW.stamp < OLD.stamp"
                                    " OR (NEW.stamp = OLD.stamp AND NEW.seq <= OLD.seq)", "1 = 1"),
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


_COVERED = ("insurance_message", "auth_session")


def _coverage() -> None:
    """In each store that already has an audit chain: where row-by-row verifying of the two tables began."""
    from server.audit import COVERAGE, SYSTEM, record
    from server.db.uow import Unit

    bind = op.get_bind()
    for (store_id,) in bind.execute(sa.text("SELECT store_id FROM audit_head ORDER BY store_id")).all():
        tables = {t: bind.execute(sa.text(f"SELECT max(id) FROM {t} WHERE store_id = :s"), {"s": store_id}).scalar()
                  for t in _COVERED}
        record(Unit(bind), store_id, SYSTEM, COVERAGE, "audit_head", store_id, None,
               {"revision": revision, "tables": tables},
               note="0016: rows written before are legacy (not verified row by row) / 此前写入的记录为存量，不逐行核验")


def upgrade() -> None:
    _coverage()
    _create(op.get_bind().dialect.name)


def downgrade() -> None:
    _drop(op.get_bind().dialect.name)
