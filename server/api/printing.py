"""Printing: reprint a receipt or a Z report, see the print queue, retry a waiting job, decide on a job a crash
cut off (reprint marked 重打, or not)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from server.api.deps import CtxDep, ReadSession, RowId, Who, get_state, guarded, unit_of_work
from server.api.schemas.common import UUID_PATTERN
from server.api.schemas.printing import PrintJobOut, ResolvedOut, ResolveIn, UncertainJobOut
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


@router.get("/print-jobs/uncertain", response_model=list[UncertainJobOut], **guarded(Action.DEVICE_READ))
def uncertain_jobs(s: ReadSession, ctx: CtxDep, who: Who,
                   till_code: Annotated[str | None, Query(max_length=20)] = None) -> list[UncertainJobOut]:
    """This till's jobs a crash of the service cut off mid-print (oldest first): the till shows them at once."""
    return [UncertainJobOut(**_out(j)) for j in printing.uncertain(s, ctx, till_code or who.till_code or
                                                                   ctx.settings.till.code)]


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"status_label": PrintJobStatus(row["status"]).label}


@router.post("/print-jobs/{job_id}/resolve", response_model=ResolvedOut, **guarded(Action.PRINT))
def resolve_job(job_id: RowId, body: ResolveIn, request: Request, ctx: CtxDep) -> ResolvedOut:
    """Decide on a job a crash cut off: `reprint: true` prints it again marked 重打 on the same till's printer;
    `false`: it came out whole. Either way it is resolved (final), audited. A drawer kick is never sent again."""
    with unit_of_work(request) as u:
        resolved, again = printing.resolve(u, ctx, job_id, body.reprint)
    if (devices := get_state(request).devices) is not None and (worker := devices.printers.get(resolved.till_code)):
        worker.look()  # the till's status bar: one fewer to decide on
    return ResolvedOut(resolved=PrintJobOut(**_out(resolved._asdict())),
                       reprint=PrintJobOut(**_out(again._asdict())) if again is not None else None)


@router.post("/print-jobs/{job_id}/retry", response_model=PrintJobOut, **guarded(Action.PRINT))
def retry_job(job_id: RowId, request: Request, ctx: CtxDep) -> PrintJobOut:
    """Print a waiting job now (a printed one is refused: ask for a reprint instead)."""
    with unit_of_work(request) as u:
        return job_out(printing.retry(u, ctx, job_id))
