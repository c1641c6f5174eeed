"""Reading and verifying the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from server import audit
from server.api.deps import CtxDep, ReadSession, guarded
from server.api.schemas.audit import AuditEntryOut, AuditVerifyOut
from server.db.models import AuditEntry
from server.errors import AppError
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
def verify(s: ReadSession, ctx: CtxDep,
           anchor: Annotated[list[str] | None, Query(max_length=90, description="seq:hash as the Z report prints it")]
           = None) -> AuditVerifyOut:
    try:
        anchors = [audit.Anchor.parse(a) for a in anchor or []]
    except ValueError as exc:
        raise AppError(422, "VALIDATION", "审计锚点格式应为 序号:哈希（至少 16 位十六进制）",
                       "an anchor is seq:hash with at least 16 hex digits", {"anchor": anchor}) from exc
    report = audit.verify(s, ctx.store_id, anchors)
    return AuditVerifyOut(ok=report.ok, entries=report.entries, rows_checked=report.rows_checked,
                          problems=report.problems)
