"""Reading and verifying the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from server import audit
from server.api.deps import CtxDep, ReadSession, guarded
from server.api.schemas.audit import AuditEntryOut, AuditVerifyOut
from server.db.models import AuditEntry
from server.permissions import Action

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditEntryOut], **guarded(Action.AUDIT_READ))
def list_entries(s: ReadSession, ctx: CtxDep,
                 after_seq: Annotated[int, Query(ge=0, le=2_147_483_647)] = 0,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[AuditEntryOut]:
    rows = s.exec(select(AuditEntry).where(AuditEntry.store_id == ctx.store_id, AuditEntry.seq > after_seq)
                  .order_by(col(AuditEntry.seq)).limit(limit))
    return [AuditEntryOut.model_validate(e.model_dump()) for e in rows]


@router.get("/verify", response_model=AuditVerifyOut, **guarded(Action.AUDIT_READ))
def verify(s: ReadSession, ctx: CtxDep) -> AuditVerifyOut:
    report = audit.verify(s, ctx.store_id)
    return AuditVerifyOut(ok=report.ok, entries=report.entries, rows_checked=report.rows_checked,
                          problems=report.problems)
