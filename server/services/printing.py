"""Printing: receipts, Z reports and review slips go through a durable queue (intent first).

A use case that wants something printed writes a `PrintJob` in its own transaction — the document is
built from the database there and kept with the job — and the till's print worker sends it after the
commit. Printing never blocks or fails a sale: a printer that is offline leaves the job pending. The
worker claims a job with a compare-and-set (pending → printing), so no job is sent twice by a retry;
a reprint is a new job that carries 重打 and is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from devices.printer.documents import (
    QrSheet,
    RxReviewSlip,
    StoreHeader,
    to_json,
)
from server import audit
from server.db.models import (
    PrintJob,
    PrintJobKind,
    PrintJobStatus,
    Sale,
    TenderKind,
)
from server.db.models.base import table_of
from server.db.prepared import Prepared
from server.db.uow import Reader, Unit, on_commit, orm
from server.errors import conflict, not_found
from server.services.context import Ctx

DRAWER_WINDOW = timedelta(seconds=30)  # a drawer that cannot open now must not open minutes later
TENDER_LABELS = {TenderKind.CASH.value: "现金", TenderKind.OTHER.value: "其他支付", TenderKind.INSURANCE.value: "医保"}


# --- waking the worker after a commit ---------------------------------------------------------------

_listeners: list[Callable[[], None]] = []
_FLAG = "dingdian_print_enqueued"


def on_enqueued(listener: Callable[[], None]) -> Callable[[], None]:
    """Call `listener` after every commit that queued a print job; returns the function that unsubscribes."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


@on_commit
def _after_commit(info: dict[str, Any]) -> None:
    if info.pop(_FLAG, False):
        for listener in list(_listeners):
            listener()


def _queued(u: Unit) -> None:
    u.info[_FLAG] = True


# --- what every printed document carries -----------------------------------------------------------

def local_time(ctx: Ctx, at: datetime | str | None) -> str:
    """A stored UTC time as the store's clock shows it, for paper."""
    if at is None:
        return ""
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    return value.astimezone(ctx.settings.store.tz).strftime("%Y-%m-%d %H:%M:%S")


def store_header(ctx: Ctx) -> StoreHeader:
    st = ctx.settings.store
    return StoreHeader(st.name, st.fixmedins_code, st.address)


# --- queueing ---------------------------------------------------------------------------------------

def add_job(u: Unit, ctx: Ctx, till_code: str, kind: PrintJobKind, ref: str, document: dict[str, Any],
            reprint: bool = False, expires_at: datetime | None = None) -> Any:
    """One job queued, audited (the receipt stub is a record, RX-08); its row as written."""
    u.flush()
    job = _ADD_JOB.first(u.connection(), {
        "store_id": ctx.store_id, "till_code": till_code, "ref": ref, "reprint": reprint, "document": document,
        "status": PrintJobStatus.PENDING.value, "attempts": 0, "last_error": "", "created_by": ctx.actor.user_id,
        "created_at": ctx.now, "kind": kind.value, "expires_at": expires_at})
    audit.record(u, ctx.store_id, ctx.actor, "print_job.queue", "print_job", job.id, None,
                 audit.image(PrintJob, job._asdict()))
    _queued(u)
    return job


def queue_qr_codes(u: Unit, ctx: Ctx, till_code: str, title: str, codes: list[str]) -> int:
    """Codes printed as QR on a till's receipt printer, one per cut (the demo's prescription codes): queued and
    audited like every job; the job's id."""
    sheet = QrSheet(store_header(ctx), title, list(codes))
    return int(add_job(u, ctx, till_code, PrintJobKind.QR_CODES, f"qr:{codes[0]}"[:60], to_json(sheet)).id)


def first_print(s: Session, ctx: Ctx, kind: PrintJobKind, ref: str) -> PrintJob | None:
    return s.exec(select(PrintJob).where(PrintJob.store_id == ctx.store_id, PrintJob.kind == kind.value,
                                         PrintJob.ref == ref, col(PrintJob.reprint).is_(False))).first()


_JOB_KEYS = ("store_id", "till_code", "ref", "reprint", "document", "status", "attempts", "last_error", "created_by",
             "created_at", "kind", "expires_at")
_ADD_JOB_ID = Prepared(sa.insert(table_of(PrintJob)).returning(table_of(PrintJob).c.id), _JOB_KEYS)
_ADD_JOB = Prepared(sa.insert(table_of(PrintJob)).returning(*table_of(PrintJob).c), _JOB_KEYS)


def queue_receipt(u: Unit, ctx: Ctx, sale_id: str, till_code: str, cash: bool) -> list[dict[str, Any]]:
    """A sale's first receipt, queued by the completion that just made it final (so there is none yet):
    by reference (laid out by the worker when it prints), with the drawer kick on a cash sale — no reads,
    an insert each, on the completion's path. Their audited images, with their ids, for the completion's
    entry (the worker's layout later audits the stub by id)."""
    job = {"store_id": ctx.store_id, "till_code": till_code, "ref": sale_id, "reprint": False, "document": {},
           "status": PrintJobStatus.PENDING.value, "attempts": 0, "last_error": "",
           "created_by": ctx.actor.user_id, "created_at": ctx.now}
    jobs = [job | {"kind": PrintJobKind.RECEIPT.value, "expires_at": None}]
    if cash and ctx.settings.devices.cash_drawer:  # the drawer opens first, as the receipt starts printing
        jobs.insert(0, job | {"kind": PrintJobKind.DRAWER.value, "expires_at": ctx.now + DRAWER_WINDOW})
    conn = u.connection()
    # audit.image's result, made directly (on the completion's path): the imaged columns, the empty document's digest
    images = [{"id": _ADD_JOB_ID.scalar(conn, j)} | {k: j[k] for k in _IMAGED} | {"document": _NO_DOCUMENT}
              for j in jobs]
    _queued(u)
    return images


_IMAGED = tuple(k for k in _JOB_KEYS if k not in PrintJob.__audit_exclude__ and k != "document")
_NO_DOCUMENT = audit.digest({})


def enqueue_rx_slip(u: Unit, ctx: Ctx, slip: RxReviewSlip, till_code: str | None = None) -> PrintJob:
    """Queue a prescription review slip (the prescription work builds the slip)."""
    return add_job(u, ctx, till_code or slip.till_code or ctx.settings.till.code, PrintJobKind.RX_SLIP, slip.rx_no,
                to_json(slip), slip.reprint)


# --- the queue as the till and the worker see it ----------------------------------------------------

def get_job(s: Session, ctx: Ctx, job_id: int) -> PrintJob:
    job = s.exec(select(PrintJob).where(PrintJob.id == job_id, PrintJob.store_id == ctx.store_id)).first()
    if job is None:
        raise not_found("打印任务", "print job", job_id=job_id)
    return job


def list_jobs(s: Session, ctx: Ctx, status: PrintJobStatus | None = None, till_code: str | None = None,
              limit: int = 100) -> list[PrintJob]:
    q = select(PrintJob).where(PrintJob.store_id == ctx.store_id)
    if status is not None:
        q = q.where(PrintJob.status == status.value)
    if till_code is not None:
        q = q.where(PrintJob.till_code == till_code)
    return list(s.exec(q.order_by(col(PrintJob.id).desc()).limit(limit)))


# The worker's queue statements run after every sale: prepared (server.db.prepared), on the queue's index
# (store_id, till_code, status, id).
_Q = table_of(PrintJob)
_TILLS_JOBS = (_Q.c.store_id == sa.bindparam("sid"), _Q.c.till_code == sa.bindparam("till"))
_WAITING = Prepared(sa.select(sa.func.count()).select_from(_Q).where(
    *_TILLS_JOBS, sa.or_(_Q.c.status == PrintJobStatus.PENDING.value, _Q.c.status == PrintJobStatus.UNCERTAIN.value)))
_UNCERTAIN = Prepared(sa.select(sa.func.count()).select_from(_Q).where(
    *_TILLS_JOBS, _Q.c.status == PrintJobStatus.UNCERTAIN.value))
_ANY_PENDING = Prepared(sa.select(_Q.c.id).where(*_TILLS_JOBS, _Q.c.status == PrintJobStatus.PENDING.value).limit(1))
_NEXT_PENDING = Prepared(sa.select(_Q).where(*_TILLS_JOBS, _Q.c.status == PrintJobStatus.PENDING.value)
                         .order_by(_Q.c.id).limit(1))
_CLAIM = Prepared(sa.update(_Q).where(_Q.c.id == sa.bindparam("id"), _Q.c.status == PrintJobStatus.PENDING.value,
                                      _Q.c.attempts == sa.bindparam("seen_attempts"))
                  .values(status=sa.bindparam("new_status"), attempts=sa.bindparam("new_attempts"),
                          claimed_at=sa.bindparam("at")))
_PRINTED_UPDATE = (sa.update(_Q).where(_Q.c.id == sa.bindparam("id"), _Q.c.status == PrintJobStatus.PRINTING.value)
                   .values(status=PrintJobStatus.PRINTED.value, printed_at=sa.bindparam("at"), last_error=""))
_PRINTED = Prepared(_PRINTED_UPDATE)
_PRINTED_LAID_OUT = Prepared(_PRINTED_UPDATE.values(document=sa.bindparam("doc", type_=_Q.c.document.type)))


def waiting_count(r: Reader, ctx: Ctx, till_code: str) -> int:
    """Jobs the till still waits for: pending, or cut off and needing a decision."""
    return int(_WAITING.scalar(r.connection(), {"sid": ctx.store_id, "till": till_code}))


def retry(u: Unit, ctx: Ctx, job_id: int) -> Any:
    """Print a waiting job now. A printed job is never sent again this way (a copy is a reprint)."""
    job = get_job(orm(u), ctx, job_id)
    status = PrintJobStatus(job.status)
    if status is PrintJobStatus.PRINTED:
        raise conflict("PRINT-DONE", "该任务已打印；如需再打一张，请用重打小票",
                       "this job has printed; ask for a reprint to get another copy", job_id=job_id)
    if status is PrintJobStatus.PRINTING:
        raise conflict("PRINT-BUSY", "该任务正在打印", "this job is printing now", job_id=job_id)
    if status is PrintJobStatus.EXPIRED:
        raise conflict("PRINT-EXPIRED", "钱箱指令已过期，请用钥匙开钱箱",
                       "the drawer kick has expired; open the drawer with its key", job_id=job_id)
    if status is PrintJobStatus.UNCERTAIN:  # it may have come out: sent again, it would be a copy without 重打
        raise conflict("PRINT-UNCERTAIN", "该任务可能已打印，请确认后重打（标记重打）",
                       "this job may have printed: resolve it, with a reprint marked 重打 if it did not come out",
                       job_id=job_id)
    if status is PrintJobStatus.RESOLVED:
        raise conflict("PRINT-DONE", "该任务已处理；如需再打一张，请用重打小票",
                       "this job was resolved; ask for a reprint to get another copy", job_id=job_id)
    _queued(u)
    return job


_CUT_OFF = "打印中断（服务重启），请确认后重打 / cut off by a restart of the service"


def recover_interrupted(u: Unit, ctx: Ctx, till_code: str) -> int:
    """At start-up: a job left `printing` was cut off mid-send and may have come out — never resent by itself;
    uncertain until the cashier decides (resolve), audited, shown to the till (the printer's `uncertain`)."""
    cut = list(u.connection().execute(sa.update(_Q).where(
        _Q.c.store_id == ctx.store_id, _Q.c.till_code == till_code, _Q.c.status == PrintJobStatus.PRINTING.value).values(
        status=PrintJobStatus.UNCERTAIN.value, last_error=_CUT_OFF).returning(_Q.c.id, _Q.c.kind, _Q.c.ref)))
    for job in cut:
        audit.record(u, ctx.store_id, ctx.actor, "print_job.uncertain", "print_job", job.id,
                     {"status": PrintJobStatus.PRINTING.value}, {"status": PrintJobStatus.UNCERTAIN.value},
                     note=_CUT_OFF)
    return len(cut)


_RESOLVE = Prepared(sa.update(_Q).where(_Q.c.id == sa.bindparam("id"), _Q.c.status == PrintJobStatus.UNCERTAIN.value)
                    .values(status=PrintJobStatus.RESOLVED.value).returning(*_Q.c))


def resolve(u: Unit, ctx: Ctx, job_id: int, reprint: bool) -> tuple[Any, Any | None]:
    """The cashier's decision on a job a crash cut off: printed again marked 重打 (a new job on the same till's
    printer: a receipt queued by reference is laid out again by the worker) or not (it came out whole). The
    uncertain job is resolved either way, audited with the decision. A drawer kick is never sent again: the
    drawer opens with its key. Returns the resolved job and the reprint (or None)."""
    job = get_job(orm(u), ctx, job_id)
    if job.status != PrintJobStatus.UNCERTAIN.value:
        raise conflict("PRINT-NOT-UNCERTAIN", "该任务不是待确认的打印任务", "this job is not waiting for a decision",
                       job_id=job_id, status=job.status)
    if reprint and job.kind == PrintJobKind.DRAWER.value:
        raise conflict("PRINT-DRAWER", "钱箱指令不重发，请用钥匙开钱箱",
                       "a drawer kick is not sent again: open the drawer with its key", job_id=job_id)
    resolved = _RESOLVE.first(u.connection(), {"id": job.id})
    if resolved is None:  # decided on meanwhile, from another till
        raise conflict("PRINT-BUSY", "该任务已被处理", "this job was dealt with meanwhile", job_id=job_id)
    again = None
    if reprint:
        document = {**job.document, "reprint": True} if job.document else {}
        again = add_job(u, ctx, job.till_code, PrintJobKind(job.kind), job.ref, document, reprint=True)
    audit.record(u, ctx.store_id, ctx.actor, "print_job.resolve", "print_job", job.id,
                 {"status": PrintJobStatus.UNCERTAIN.value},
                 {"status": resolved.status, "reprint_job_id": again.id if again is not None else None},
                 note="重打 / reprinted" if reprint else "已确认打印完整，不重打 / came out whole: no reprint")
    return resolved, again


def uncertain(r: Reader, ctx: Ctx, till_code: str) -> list[dict[str, Any]]:
    """A till's jobs a crash cut off, oldest first, each with what it is in the cashier's words."""
    conn = r.connection()
    jobs = list(conn.execute(sa.select(_Q).where(_Q.c.store_id == ctx.store_id, _Q.c.till_code == till_code,
                                                 _Q.c.status == PrintJobStatus.UNCERTAIN.value).order_by(_Q.c.id)))
    sale_ids = [j.ref for j in jobs if j.kind in (PrintJobKind.RECEIPT.value, PrintJobKind.DRAWER.value)]
    sale = table_of(Sale)
    numbers = dict(conn.execute(sa.select(sale.c.id, sale.c.sale_no).where(sale.c.id.in_(sale_ids))).all()) if sale_ids else {}
    out = []
    for j in jobs:
        what = {"receipt": f"小票 {numbers.get(j.ref) or j.ref}", "drawer": f"钱箱（小票 {numbers.get(j.ref) or j.ref}）",
                "z_report": f"交班报表 班次 #{j.ref}", "rx_slip": f"处方审核单 {j.ref}"}.get(j.kind, j.kind)
        out.append(j._asdict() | {"what": what})
    return out


def uncertain_count(r: Reader, ctx: Ctx, till_code: str) -> int:
    return int(_UNCERTAIN.scalar(r.connection(), {"sid": ctx.store_id, "till": till_code}))


def has_pending(r: Reader, ctx: Ctx, till_code: str) -> bool:
    return _ANY_PENDING.first(r.connection(), {"sid": ctx.store_id, "till": till_code}) is not None


def claim_next(u: Unit, ctx: Ctx, till_code: str) -> Any:
    """The oldest pending job of the till, now `printing` (its row as written) — or None. Compare-and-set:
    one claimer wins."""
    conn = u.connection()
    while True:
        job = _NEXT_PENDING.first(conn, {"sid": ctx.store_id, "till": till_code})
        if job is None:
            return None
        expired = job.expires_at is not None and job.expires_at < ctx.now
        claimed = {"status": (PrintJobStatus.EXPIRED if expired else PrintJobStatus.PRINTING).value,
                   "attempts": job.attempts + (0 if expired else 1), "claimed_at": None if expired else ctx.now}
        won = _CLAIM.run(conn, {"id": job.id, "seen_attempts": job.attempts, "new_status": claimed["status"],
                                "new_attempts": claimed["attempts"], "at": claimed["claimed_at"]}) == 1
        if won and not expired:
            return job._replace(**claimed)  # what was written, without reading the row back
        # lost to another claimer, or an expired drawer kick now marked so: look again


def mark_printed(u: Unit, ctx: Ctx, job_id: int, document: dict[str, Any] | None = None) -> None:
    """Printed; `document`: the layout the worker made of a receipt queued by reference, kept with the job —
    the receipt stub (RX-08), audited by its digest."""
    if document is None:
        _PRINTED.run(u.connection(), {"id": job_id, "at": ctx.now})
    else:
        _PRINTED_LAID_OUT.run(u.connection(), {"id": job_id, "at": ctx.now, "doc": document})
        audit.record(u, ctx.store_id, ctx.actor, "print_job.laid_out", "print_job", job_id, None,
                     audit.image(PrintJob, {"document": document}))


def mark_failed(u: Unit, ctx: Ctx, job_id: int, error: str, final: bool = False) -> None:
    """Back to pending (the printer was not there); `final` for a job that can never print (bad document)."""
    status = PrintJobStatus.UNCERTAIN if final else PrintJobStatus.PENDING
    u.connection().execute(sa.update(_Q).where(_Q.c.id == job_id, _Q.c.status == PrintJobStatus.PRINTING.value)
                           .values(status=status.value, last_error=error[:300]))
