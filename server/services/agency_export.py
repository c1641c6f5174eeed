"""The statements' export for the agency (ST-03): the one file that carries insured persons' whole identity numbers
(SEC-06 masks them everywhere else). Only the 医保 administrator may make it (Action.REPORT_AGENCY_EXPORT); each one
is recorded in the audit log in its own unit of work before the file is handed over: who, which statement and
period, how many rows and persons, and the file's SHA-256, so the file given to the agency can be named later — and,
in the same transaction, as a read of each person's full record (server.privacy.record_reads: whose, by which door)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Engine

from server import audit
from server.db.uow import core_unit
from server.privacy import record_reads
from server.services.context import Ctx

ACTION = "report.agency_export"
WHY = "报送经办机构（证件号码完整） / the agency's submission, identity numbers whole"


def record(engine: Engine, ctx: Ctx, statement: str, start: date, end: date, fmt: str, body: bytes, rows: int,
           persons: Sequence[tuple[str, str, str]], route: str) -> str:
    """Audits the export of `body` (the file as it will be handed over) and logs it as a read of the full record
    of each of `persons` (psn_no, identity number, name) through `route`; returns the file's SHA-256."""
    digest = hashlib.sha256(body).hexdigest()
    with core_unit(engine) as u:
        read = record_reads(u, ctx.store_id, ctx.actor, persons,
                            f"{statement} {start.isoformat()}..{end.isoformat()} ({fmt}, sha256 {digest[:16]})", WHY,
                            route)
        audit.record(u, ctx.store_id, ctx.actor, ACTION, statement, f"{start.isoformat()}..{end.isoformat()}", None,
                     {"statement": statement, "from": start.isoformat(), "to": end.isoformat(), "format": fmt,
                      "rows": rows, "persons": read, "sha256": digest, "bytes": len(body)},
                     note="给经办机构的导出（证件号码不打码） / export for the agency, identity numbers whole")
    return digest
