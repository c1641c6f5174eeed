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
from sqlalchemy import update
from sqlmodel import Session, select

from catalog.classes import GspClass, InsuranceCategory
from devices.printer.documents import (
    CardSettlement,
    ReceiptDoc,
    ReceiptLine,
    RxReviewSlip,
    StoreHeader,
    TenderLine,
    ZReportDoc,
    to_json,
)
from server import audit
from server.db.models import (
    Item,
    PharmacistDuty,
    PrintJob,
    PrintJobKind,
    PrintJobStatus,
    Sale,
    SaleLine,
    SaleStatus,
    Tender,
    TenderKind,
    Till,
    User,
)
from server.db.prepared import Prepared
from server.db.session import Unit, on_commit
from server.errors import conflict, not_found
from server.privacy import mask_id
from server.services.context import Ctx
from server.services.store import shifts

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


def _queued(s: Unit) -> None:
    s.info[_FLAG] = True


# --- documents from the database --------------------------------------------------------------------

def _local(ctx: Ctx, at: datetime | str | None) -> str:
    if at is None:
        return ""
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    return value.astimezone(ctx.settings.store.tz).strftime("%Y-%m-%d %H:%M:%S")


def store_header(ctx: Ctx) -> StoreHeader:
    st = ctx.settings.store
    return StoreHeader(st.name, st.fixmedins_code, st.address)


def _names(s: Session, user_ids: list[int | None]) -> dict[int, str]:
    ids = {u for u in user_ids if u is not None}
    if not ids:
        return {}
    return {u.id: u.display_name for u in s.exec(select(User).where(User.id.in_(ids)))}  # type: ignore[union-attr,misc]


def _pharmacists_at(s: Session, shift_id: int, at: datetime) -> str:
    rows = s.exec(select(User.display_name).join(PharmacistDuty, PharmacistDuty.user_id == User.id)  # type: ignore[arg-type]
                  .where(PharmacistDuty.shift_id == shift_id, PharmacistDuty.on_at <= at)
                  .where((PharmacistDuty.off_at.is_(None)) | (PharmacistDuty.off_at >= at))  # type: ignore[union-attr,operator]
                  .order_by(PharmacistDuty.id))
    return "、".join(dict.fromkeys(rows))


def card_settlement_for(s: Session, ctx: Ctx, sale: Sale) -> CardSettlement | None:
    """The 医保 settlement of a card sale for its receipt (CARD-05): what the card paid, the balance left,
    the insured person with the ID number masked, and the buyer's signature line."""
    from server.services.card.settlement import insured_of, settled_of

    settled = settled_of(s, sale.id)
    insured = insured_of(s, sale.id) if settled else None
    if settled is None or insured is None:
        return None
    return CardSettlement(fund_fen=settled.fund_pay_fen, personal_account_fen=settled.acct_pay_fen,
                          cash_fen=settled.cash_pay_fen, balance_after_fen=settled.balc_fen,
                          insured_name=insured.psn_name, insured_id_masked=mask_id(insured.certno),
                          setl_id=settled.setl_id, insurance_region=insured.insuplc_admdvs)


def receipt_doc(s: Session, ctx: Ctx, sale: Sale, reprint: bool = False,
                card: CardSettlement | None = None) -> ReceiptDoc:
    lines = list(s.exec(select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(SaleLine.line_no)))
    items = {i.id: i for i in s.exec(select(Item).where(Item.id.in_({ln.item_id for ln in lines})))} if lines else {}  # type: ignore[union-attr]
    tenders = list(s.exec(select(Tender).where(Tender.sale_id == sale.id).order_by(Tender.id)))
    till = s.get(Till, sale.till_id)
    names = _names(s, [sale.completed_by])
    out_lines = []
    for ln in lines:
        item = items[ln.item_id]
        category = InsuranceCategory(item.insurance_category)
        out_lines.append(ReceiptLine(
            name=item.name, spec=item.spec, qty=ln.qty, unit=(item.split_unit or item.unit) if ln.split else item.unit,
            unit_price_fen=ln.unit_price_fen, amount_fen=ln.amount_fen, gsp_class=item.gsp_class,
            gsp_class_label=GspClass(item.gsp_class).label,
            insurance_mark="" if category is InsuranceCategory.NONE else category.label))
    completed = sale.completed_at or ctx.now
    return ReceiptDoc(
        store=store_header(ctx), till_code=till.code if till else "", sale_no=sale.sale_no or "",
        completed_at=_local(ctx, completed), cashier=names.get(sale.completed_by or 0, ""),  # type: ignore[arg-type]
        pharmacist=_pharmacists_at(s, sale.shift_id, completed), lines=out_lines, total_fen=sale.total_fen,
        tenders=[TenderLine(t.kind, TENDER_LABELS.get(t.kind, t.kind), t.amount_fen, t.tendered_fen) for t in tenders],
        change_fen=sale.change_fen, footer=ctx.settings.devices.receipt_footer,
        card=card if card is not None else card_settlement_for(s, ctx, sale), reprint=reprint)


def z_report_doc(s: Session, ctx: Ctx, shift_id: int, reprint: bool = False) -> ZReportDoc:
    rep = shifts.z_report(s, ctx, shifts.get_shift(s, ctx, shift_id))
    return ZReportDoc(
        store=store_header(ctx), till_code=rep.till_code, shift_id=rep.shift_id, business_date=rep.business_date,
        opened_at=_local(ctx, rep.opened_at), closed_at=_local(ctx, rep.closed_at) or None, float_fen=rep.float_fen,
        sales_count=rep.sales_count, sales_fen=rep.sales_fen, by_tender=dict(rep.by_tender),
        voids_count=rep.voids_count, voids_fen=rep.voids_fen, returns_count=rep.returns_count,
        returns_fen=rep.returns_fen, refunds_by_tender=dict(rep.refunds_by_tender),
        cash_expected_fen=rep.cash_expected_fen, counted_cash_fen=rep.counted_cash_fen, variance_fen=rep.variance_fen,
        pharmacists=[{"name": p["name"], "on_at": _local(ctx, p["on_at"])[11:16],
                      "off_at": _local(ctx, p["off_at"])[11:16] if p["off_at"] else None} for p in rep.pharmacists],
        printed_at=_local(ctx, ctx.now), reprint=reprint)


# --- queueing ---------------------------------------------------------------------------------------

def _job(s: Session, ctx: Ctx, till_code: str, kind: PrintJobKind, ref: str, document: dict[str, Any],
         reprint: bool = False, expires_at: datetime | None = None) -> PrintJob:
    job = PrintJob(store_id=ctx.store_id, till_code=till_code, kind=kind.value, ref=ref, reprint=reprint,
                   document=document, created_by=ctx.actor.user_id, created_at=ctx.now, expires_at=expires_at)
    s.add(job)
    s.flush()
    _queued(s)
    return job


def _first_print(s: Session, ctx: Ctx, kind: PrintJobKind, ref: str) -> PrintJob | None:
    return s.exec(select(PrintJob).where(PrintJob.store_id == ctx.store_id, PrintJob.kind == kind.value,
                                         PrintJob.ref == ref, PrintJob.reprint.is_(False))).first()  # type: ignore[attr-defined]


def enqueue_receipt(s: Session, ctx: Ctx, sale_id: str, reprint: bool = False, till_code: str | None = None,
                    card: CardSettlement | None = None) -> PrintJob:
    """Queue the sale's receipt (and, on a cash sale's first print, the drawer kick).

    The first print is idempotent: called again for the same sale (a replayed completion) it returns the
    job already queued. `reprint=True` queues a new job marked 重打, audited. `till_code` is the till
    whose printer prints it (default: the sale's own).
    """
    sale = s.exec(select(Sale).where(Sale.id == sale_id, Sale.store_id == ctx.store_id)).first()
    if sale is None:
        raise not_found("销售单", "sale", sale_id=sale_id)
    if sale.status != SaleStatus.COMPLETED.value:
        raise conflict("PRINT-NOT-FINAL", "只有已完成的销售单才能打印小票", "only a completed sale has a receipt",
                       sale_id=sale_id, status=sale.status)
    if not reprint and (existing := _first_print(s, ctx, PrintJobKind.RECEIPT, sale.id)) is not None:
        return existing
    till = till_code or (t.code if (t := s.get(Till, sale.till_id)) else ctx.settings.till.code)
    if not reprint and card is None:
        # The first print rides on the completion's transaction: it is queued by reference, laid out when
        # the worker claims it (claim_next), so completing a sale does not wait for the layout.
        cash = s.exec(select(Tender.id).where(Tender.sale_id == sale.id, Tender.kind == TenderKind.CASH.value)).first()
        if ctx.settings.devices.cash_drawer and cash is not None:
            _job(s, ctx, till, PrintJobKind.DRAWER, sale.id, {}, expires_at=ctx.now + DRAWER_WINDOW)
        return _job(s, ctx, till, PrintJobKind.RECEIPT, sale.id, {}, reprint)
    doc = receipt_doc(s, ctx, sale, reprint, card)
    if not reprint and ctx.settings.devices.cash_drawer and any(t.kind == TenderKind.CASH.value for t in doc.tenders):
        _job(s, ctx, till, PrintJobKind.DRAWER, sale.id, {}, expires_at=ctx.now + DRAWER_WINDOW)
    job = _job(s, ctx, till, PrintJobKind.RECEIPT, sale.id, to_json(doc), reprint)
    if reprint:  # a second copy of a receipt is a special operation: who, when, which sale
        audit.record(s, ctx.store_id, ctx.actor, "receipt.reprint", "print_job", job.id, None,
                     {"sale_id": sale.id, "sale_no": sale.sale_no, "till_code": till})
    return job


_ADD_JOBS = Prepared(sa.insert(PrintJob.__table__),  # type: ignore[attr-defined]
                     ("store_id", "till_code", "ref", "reprint", "document", "status", "attempts", "last_error",
                      "created_by", "created_at", "kind", "expires_at"))


def queue_new_receipt(s: Unit, ctx: Ctx, sale: Any, till_code: str, cash: bool) -> None:
    """A sale's first receipt, queued by the completion that just made it final (so there is none yet):
    by reference, with the drawer kick on a cash sale — no reads, one insert, on the completion's path."""
    job = {"store_id": ctx.store_id, "till_code": till_code, "ref": sale.id, "reprint": False, "document": {},
           "status": PrintJobStatus.PENDING.value, "attempts": 0, "last_error": "",
           "created_by": ctx.actor.user_id, "created_at": ctx.now}
    jobs = [job | {"kind": PrintJobKind.RECEIPT.value, "expires_at": None}]
    if cash and ctx.settings.devices.cash_drawer:  # the drawer opens first, as the receipt starts printing
        jobs.insert(0, job | {"kind": PrintJobKind.DRAWER.value, "expires_at": ctx.now + DRAWER_WINDOW})
    _ADD_JOBS.run_many(s.connection(), jobs)
    _queued(s)


def enqueue_z_report(s: Session, ctx: Ctx, shift_id: int, reprint: bool = False,
                     till_code: str | None = None) -> PrintJob:
    """Queue the shift's Z report (on close; again with 重打 on request, audited)."""
    if not reprint and (existing := _first_print(s, ctx, PrintJobKind.Z_REPORT, str(shift_id))) is not None:
        return existing
    doc = z_report_doc(s, ctx, shift_id, reprint)
    job = _job(s, ctx, till_code or doc.till_code, PrintJobKind.Z_REPORT, str(shift_id), to_json(doc), reprint)
    if reprint:
        audit.record(s, ctx.store_id, ctx.actor, "z_report.reprint", "print_job", job.id, None, {"shift_id": shift_id})
    return job


def enqueue_rx_slip(s: Session, ctx: Ctx, slip: RxReviewSlip, till_code: str | None = None) -> PrintJob:
    """Queue a prescription review slip (the prescription work builds the slip)."""
    return _job(s, ctx, till_code or slip.till_code or ctx.settings.till.code, PrintJobKind.RX_SLIP, slip.rx_no,
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
    return list(s.exec(q.order_by(PrintJob.id.desc()).limit(limit)))  # type: ignore[union-attr]


# The worker's queue statements run after every sale: prepared (server.db.prepared), on the queue's index
# (store_id, till_code, status, id).
_Q = PrintJob.__table__  # type: ignore[attr-defined]
_TILLS_JOBS = (_Q.c.store_id == sa.bindparam("sid"), _Q.c.till_code == sa.bindparam("till"))
_WAITING = Prepared(sa.select(sa.func.count()).select_from(_Q).where(
    *_TILLS_JOBS, sa.or_(_Q.c.status == PrintJobStatus.PENDING.value, _Q.c.status == PrintJobStatus.UNCERTAIN.value)))
_ANY_PENDING = Prepared(sa.select(_Q.c.id).where(*_TILLS_JOBS, _Q.c.status == PrintJobStatus.PENDING.value).limit(1))
_NEXT_PENDING = Prepared(sa.select(_Q).where(*_TILLS_JOBS, _Q.c.status == PrintJobStatus.PENDING.value)
                         .order_by(_Q.c.id).limit(1))
_CLAIM = Prepared(sa.update(_Q).where(_Q.c.id == sa.bindparam("id"), _Q.c.status == PrintJobStatus.PENDING.value,
                                      _Q.c.attempts == sa.bindparam("seen_attempts"))
                  .values(status=sa.bindparam("new_status"), attempts=sa.bindparam("new_attempts"),
                          claimed_at=sa.bindparam("at")))
_PRINTED = Prepared(sa.update(_Q).where(_Q.c.id == sa.bindparam("id"), _Q.c.status == PrintJobStatus.PRINTING.value)
                    .values(status=PrintJobStatus.PRINTED.value, printed_at=sa.bindparam("at"), last_error=""))
_PRINTED_LAID_OUT = Prepared(_PRINTED.statement.values(document=sa.bindparam("doc", type_=_Q.c.document.type)))


def waiting_count(s: Session, ctx: Ctx, till_code: str) -> int:
    """Jobs the till still waits for: pending, or cut off and needing a decision."""
    return int(_WAITING.scalar(s.connection(), {"sid": ctx.store_id, "till": till_code}))


def retry(s: Session, ctx: Ctx, job_id: int) -> PrintJob:
    """Print a waiting job now. A printed job is never sent again this way (a copy is a reprint)."""
    job = get_job(s, ctx, job_id)
    status = PrintJobStatus(job.status)
    if status is PrintJobStatus.PRINTED:
        raise conflict("PRINT-DONE", "该任务已打印；如需再打一张，请用重打小票",
                       "this job has printed; ask for a reprint to get another copy", job_id=job_id)
    if status is PrintJobStatus.PRINTING:
        raise conflict("PRINT-BUSY", "该任务正在打印", "this job is printing now", job_id=job_id)
    if status is PrintJobStatus.EXPIRED:
        raise conflict("PRINT-EXPIRED", "钱箱指令已过期，请用钥匙开钱箱",
                       "the drawer kick has expired; open the drawer with its key", job_id=job_id)
    if status is PrintJobStatus.UNCERTAIN:  # the person at the till decided it did not come out whole
        before = {"status": job.status}
        job.status, job.last_error = PrintJobStatus.PENDING.value, ""
        s.add(job)
        audit.record(s, ctx.store_id, ctx.actor, "print_job.retry", "print_job", job.id, before, {"status": job.status})
    _queued(s)
    return job


def recover_interrupted(s: Session, ctx: Ctx, till_code: str) -> int:
    """At start-up: a job left `printing` was cut off mid-send and may have come out — never resent by itself."""
    result = s.exec(update(PrintJob).where(  # type: ignore[call-overload]
        PrintJob.store_id == ctx.store_id, PrintJob.till_code == till_code,
        PrintJob.status == PrintJobStatus.PRINTING.value).values(
        status=PrintJobStatus.UNCERTAIN.value, last_error="打印中断（服务重启），请确认后重打 / cut off by a restart"))
    return int(result.rowcount or 0)


def has_pending(s: Session, ctx: Ctx, till_code: str) -> bool:
    return _ANY_PENDING.first(s.connection(), {"sid": ctx.store_id, "till": till_code}) is not None


def claim_next(s: Session, ctx: Ctx, till_code: str) -> Any:
    """The oldest pending job of the till, now `printing` (its row as written) — or None. Compare-and-set:
    one claimer wins."""
    conn = s.connection()
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


def lay_out(s: Session, ctx: Ctx, job: Any) -> dict[str, Any]:
    """A first receipt is queued by reference at completion (the sale is final, so its document is the same
    later) and laid out by the worker from a read session, outside the writers' lock; other jobs carry theirs."""
    if job.kind == PrintJobKind.RECEIPT.value and not job.document:
        sale = s.get(Sale, job.ref)
        if sale is not None:
            return to_json(receipt_doc(s, ctx, sale, job.reprint))
    return job.document


def mark_printed(s: Session, ctx: Ctx, job_id: int, document: dict[str, Any] | None = None) -> None:
    """Printed; `document`: the layout the worker made of a receipt queued by reference, kept with the job."""
    if document is None:
        _PRINTED.run(s.connection(), {"id": job_id, "at": ctx.now})
    else:
        _PRINTED_LAID_OUT.run(s.connection(), {"id": job_id, "at": ctx.now, "doc": document})


def mark_failed(s: Session, ctx: Ctx, job_id: int, error: str, final: bool = False) -> None:
    """Back to pending (the printer was not there); `final` for a job that can never print (bad document)."""
    status = PrintJobStatus.UNCERTAIN if final else PrintJobStatus.PENDING
    s.exec(update(PrintJob).where(PrintJob.id == job_id, PrintJob.status == PrintJobStatus.PRINTING.value)  # type: ignore[call-overload]
           .values(status=status.value, last_error=error[:300]))
