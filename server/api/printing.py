"""Printing: reprint a receipt or a Z report, see the print queue, retry a waiting job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from server.api.deps import CtxDep, ReadSession, RowId, Who, guarded, unit_of_work
from server.api.schemas.common import UUID_PATTERN
from server.api.schemas.printing import PrintJobOut
from server.db.models import PrintJob, PrintJobStatus
from server.db.models.base import id_of
from server.permissions import Action
from server.services import printing
from server.services.sale import receipt
from server.services.store import z_report

router = APIRouter(tags=["printing"])


def job_out(job: PrintJob) -> PrintJobOut:
    return PrintJobOut(id=id_of(job), till_code=job.till_code, kind=job.kind, ref=job.ref, reprint=job.reprint,
                       status=job.status, status_label=PrintJobStatus(job.status).label, attempts=job.attempts,
                       last_error=job.last_error, created_at=job.created_at, printed_at=job.printed_at)


@router.post("/sales/{sale_id}/receipt", response_model=PrintJobOut, status_code=201, **guarded(Action.PRINT))
def reprint_receipt(sale_id: Annotated[str, Path(pattern=UUID_PATTERN)], request: Request, ctx: CtxDep,
                    who: Who) -> PrintJobOut:
    """Print the sale's receipt again, marked 重打 (audited), on this till's printer."""
    with unit_of_work(request) as u:
        return job_out(receipt.enqueue_receipt(u, ctx, sale_id.lower(), reprint=True, till_code=who.till_code))


@router.post("/shifts/{shift_id}/z-report/print", response_model=PrintJobOut, status_code=201,
             **guarded(Action.PRINT))
def reprint_z_report(shift_id: RowId, request: Request, ctx: CtxDep, who: Who) -> PrintJobOut:
    """Print the shift's Z report again, marked 重打 (audited)."""
    with unit_of_work(request) as u:
        return job_out(z_report.enqueue_z_report(u, ctx, shift_id, reprint=True, till_code=who.till_code))


@router.get("/print-jobs", response_model=list[PrintJobOut], **guarded(Action.DEVICE_READ))
def print_jobs(s: ReadSession, ctx: CtxDep, status: Annotated[PrintJobStatus | None, Query()] = None,
               till_code: Annotated[str | None, Query(max_length=20)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[PrintJobOut]:
    """The print queue, newest first: `status=pending` is what waits for the printer."""
    return [job_out(j) for j in printing.list_jobs(s, ctx, status, till_code, limit)]


@router.post("/print-jobs/{job_id}/retry", response_model=PrintJobOut, **guarded(Action.PRINT))
def retry_job(job_id: RowId, request: Request, ctx: CtxDep) -> PrintJobOut:
    """Print a waiting job now (a printed one is refused: ask for a reprint instead)."""
    with unit_of_work(request) as u:
        return job_out(printing.retry(u, ctx, job_id))
