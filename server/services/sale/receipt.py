"""The sale's receipt (CARD-05 for a card sale): its document laid out from the database, and a reprint.

The first receipt is queued by the completion itself (printing.queue_receipt, by reference); the print
worker lays it out here when it prints. A reprint is a new job marked 重打, audited.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from catalog.classes import GspClass, InsuranceCategory
from devices.printer.documents import CardSettlement, ReceiptDoc, ReceiptLine, TenderLine, to_json
from server import audit
from server.db.models import Item, PrintJob, PrintJobKind, Sale, SaleLine, SaleStatus, Tender, TenderKind, Till
from server.db.uow import Unit, orm
from server.errors import conflict, not_found
from server.privacy import mask_id
from server.services.context import Ctx
from server.services.printing import DRAWER_WINDOW, TENDER_LABELS, add_job, first_print, local_time, store_header
from server.services.records import insured_of, pharmacists_at, settled_of, tenders_of, user_names


def card_settlement_for(s: Session, ctx: Ctx, sale: Sale) -> CardSettlement | None:
    """The 医保 settlement of a card sale for its receipt (CARD-05): what the card paid, the balance left,
    the insured person with the ID number masked, a proxy buyer with theirs (RX-11), the signature as recorded
    and the buyer's signature line. 现金支付 is what the buyer
    actually paid beside the card (their tenders: the card lines' own cash part and the self-pay lines), not the
    centre's cash part of the card lines alone, which left a self-pay line's cash off the block."""
    settled = settled_of(s, sale.id)
    insured = insured_of(s, sale.id) if settled else None
    if settled is None or insured is None:
        return None
    signed = (f"{SIGNED_HOW.get(insured.signed_how, insured.signed_how)} {local_time(ctx, insured.signed_at)}"
              if insured.signed_how else "")
    paid = sum(t.amount_fen for t in tenders_of(s, sale.id) if t.kind != TenderKind.INSURANCE.value)
    return CardSettlement(fund_fen=settled.fund_pay_fen, personal_account_fen=settled.acct_pay_fen,
                          cash_fen=paid, balance_after_fen=settled.balc_fen,
                          insured_name=insured.psn_name, insured_id_masked=mask_id(insured.certno),
                          setl_id=settled.setl_id, insurance_region=insured.insuplc_admdvs,
                          buyer_name=insured.buyer_name, buyer_id_masked=mask_id(insured.buyer_certno), signed=signed)


SIGNED_HOW = {"key": "已签字（收银确认）", "pad": "已签字（签名板）"}  # CARD-05: how the purchase list was signed


def receipt_doc(s: Session, ctx: Ctx, sale: Sale, reprint: bool = False,
                card: CardSettlement | None = None) -> ReceiptDoc:
    lines = list(s.exec(select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(col(SaleLine.line_no))))
    items = {i.id: i for i in s.exec(select(Item).where(col(Item.id).in_({ln.item_id for ln in lines})))} if lines else {}
    tenders = list(s.exec(select(Tender).where(Tender.sale_id == sale.id).order_by(col(Tender.id))))
    till = s.get(Till, sale.till_id)
    names = user_names(s, [sale.completed_by])
    out_lines = []
    for ln in lines:
        item = items[ln.item_id]
        # The class and 医保 mark the line was sold under (a reprint prints them, whatever the catalog says now);
        # a line sold before migration 0013 kept none: the catalog's.
        gsp_class = ln.gsp_class or item.gsp_class
        category = InsuranceCategory(ln.insurance_category or item.insurance_category)
        out_lines.append(ReceiptLine(
            name=item.name, spec=item.spec, qty=ln.qty, unit=(item.split_unit or item.unit) if ln.split else item.unit,
            unit_price_fen=ln.unit_price_fen, amount_fen=ln.amount_fen, gsp_class=gsp_class,
            gsp_class_label=GspClass(gsp_class).label,
            insurance_mark="" if category is InsuranceCategory.NONE else category.label))
    completed = sale.completed_at or ctx.now
    return ReceiptDoc(
        store=store_header(ctx), till_code=till.code if till else "", sale_no=sale.sale_no or "",
        completed_at=local_time(ctx, completed), cashier=names.get(sale.completed_by or 0, ""),
        pharmacist=pharmacists_at(s, sale.shift_id, completed), lines=out_lines, total_fen=sale.total_fen,
        tenders=[TenderLine(t.kind, TENDER_LABELS.get(t.kind, t.kind), t.amount_fen, t.tendered_fen) for t in tenders],
        change_fen=sale.change_fen, footer=ctx.settings.devices.receipt_footer,
        card=card if card is not None else card_settlement_for(s, ctx, sale), reprint=reprint)


def enqueue_receipt(u: Unit, ctx: Ctx, sale_id: str, reprint: bool = False, till_code: str | None = None,
                    card: CardSettlement | None = None) -> PrintJob:
    """Queue the sale's receipt (and, on a cash sale's first print, the drawer kick).

    The first print is idempotent: called again for the same sale (a replayed completion) it returns the
    job already queued. `reprint=True` queues a new job marked 重打, audited. `till_code` is the till
    whose printer prints it (default: the sale's own).
    """
    s = orm(u)
    sale = s.exec(select(Sale).where(Sale.id == sale_id, Sale.store_id == ctx.store_id)).first()
    if sale is None:
        raise not_found("销售单", "sale", sale_id=sale_id)
    if sale.status != SaleStatus.COMPLETED.value:
        raise conflict("PRINT-NOT-FINAL", "只有已完成的销售单才能打印小票", "only a completed sale has a receipt",
                       sale_id=sale_id, status=sale.status)
    if not reprint and (existing := first_print(s, ctx, PrintJobKind.RECEIPT, sale.id)) is not None:
        return existing
    till = till_code or (t.code if (t := s.get(Till, sale.till_id)) else ctx.settings.till.code)
    if not reprint and card is None:
        # The first print rides on the completion's transaction: it is queued by reference, laid out when
        # the worker claims it (claim_next), so completing a sale does not wait for the layout.
        cash = s.exec(select(Tender.id).where(Tender.sale_id == sale.id, Tender.kind == TenderKind.CASH.value)).first()
        if ctx.settings.devices.cash_drawer and cash is not None:
            add_job(u, ctx, till, PrintJobKind.DRAWER, sale.id, {}, expires_at=ctx.now + DRAWER_WINDOW)
        return add_job(u, ctx, till, PrintJobKind.RECEIPT, sale.id, {}, reprint)
    doc = receipt_doc(s, ctx, sale, reprint, card)
    if not reprint and ctx.settings.devices.cash_drawer and any(t.kind == TenderKind.CASH.value for t in doc.tenders):
        add_job(u, ctx, till, PrintJobKind.DRAWER, sale.id, {}, expires_at=ctx.now + DRAWER_WINDOW)
    job = add_job(u, ctx, till, PrintJobKind.RECEIPT, sale.id, to_json(doc), reprint)
    if reprint:  # a second copy of a receipt is a special operation: who, when, which sale
        audit.record(u, ctx.store_id, ctx.actor, "receipt.reprint", "print_job", job.id, None,
                     {"sale_id": sale.id, "sale_no": sale.sale_no, "till_code": till})
    return job


def lay_out(s: Session, ctx: Ctx, job: Any) -> dict[str, Any]:
    """A first receipt is queued by reference at completion (the sale is final, so its document is the same
    later) and laid out by the worker from a read session, outside the writers' lock; other jobs carry theirs."""
    if job.kind == PrintJobKind.RECEIPT.value and not job.document:
        sale = s.get(Sale, job.ref)
        if sale is not None:
            return to_json(receipt_doc(s, ctx, sale, job.reprint))
    return job.document
