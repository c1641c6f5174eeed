"""The shift's Z report (交班报表) as printed: laid out from the shift's figures (shifts.z_report), queued on
close and again with 重打 on request (audited).
"""

from __future__ import annotations

from sqlmodel import Session

from devices.printer.documents import ZReportDoc, to_json
from server import audit
from server.db.models import PrintJob, PrintJobKind
from server.db.uow import Unit, orm
from server.services.context import Ctx
from server.services.printing import add_job, first_print, local_time, store_header
from server.services.store import shifts


def z_report_doc(s: Session, ctx: Ctx, shift_id: int, reprint: bool = False) -> ZReportDoc:
    rep = shifts.z_report(s, ctx, shifts.get_shift(s, ctx, shift_id))
    return ZReportDoc(
        store=store_header(ctx), till_code=rep.till_code, shift_id=rep.shift_id, business_date=rep.business_date,
        opened_at=local_time(ctx, rep.opened_at), closed_at=local_time(ctx, rep.closed_at) or None, float_fen=rep.float_fen,
        sales_count=rep.sales_count, sales_fen=rep.sales_fen, by_tender=dict(rep.by_tender),
        voids_count=rep.voids_count, voids_fen=rep.voids_fen, returns_count=rep.returns_count,
        returns_fen=rep.returns_fen, refunds_by_tender=dict(rep.refunds_by_tender),
        cash_expected_fen=rep.cash_expected_fen, counted_cash_fen=rep.counted_cash_fen, variance_fen=rep.variance_fen,
        pharmacists=[{"name": p["name"], "on_at": local_time(ctx, p["on_at"])[11:16],
                      "off_at": local_time(ctx, p["off_at"])[11:16] if p["off_at"] else None} for p in rep.pharmacists],
        printed_at=local_time(ctx, ctx.now), reprint=reprint, audit_anchor=str(audit.head(s, ctx.store_id)))


def enqueue_z_report(u: Unit, ctx: Ctx, shift_id: int, reprint: bool = False,
                     till_code: str | None = None) -> PrintJob:
    """Queue the shift's Z report (on close; again with 重打 on request, audited)."""
    s = orm(u)
    if not reprint and (existing := first_print(s, ctx, PrintJobKind.Z_REPORT, str(shift_id))) is not None:
        return existing
    doc = z_report_doc(s, ctx, shift_id, reprint)
    job = add_job(u, ctx, till_code or doc.till_code, PrintJobKind.Z_REPORT, str(shift_id), to_json(doc), reprint)
    if reprint:
        audit.record(u, ctx.store_id, ctx.actor, "z_report.reprint", "print_job", job.id, None, {"shift_id": shift_id})
    return job
