"""Returns of a completed sale: refer to its lines, at most what is left to return, stock back to the
same batch (or into quarantine), the refund by the original tender. Retry-safe by the return's id.

A card-paid sale comes back only whole, after its settlement was cancelled with the centre (2103,
server/services/card/cancel.py): the card's part is never refunded as cash (CARD-04).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from catalog.classes import GspClass
from server import audit
from server.db.models import (
    Item,
    MovementKind,
    Refund,
    Sale,
    SaleLine,
    SaleReturn,
    SaleReturnLine,
    SaleStatus,
    SaleTraceCode,
    TenderKind,
)
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, not_found
from server.services.catalog.items import get_item
from server.services.context import Ctx
from server.services.records import get_sale, lines_of, returned_so_far, tenders_of
from server.services.rx import platform_sale
from server.services.sale import trace_codes
from server.services.stock import ledger
from server.services.store import second_person
from server.services.store.shifts import open_shift_for


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    sale_line_id: int
    qty: int  # in the unit the line was sold in


def quarantine_required(ctx: Ctx, gsp_class: str) -> bool:
    """Store policy (GSP-06): a returned drug goes to quarantine until inspected; otherwise the pharmacist decides."""
    return ctx.settings.rules.returned_drugs_to_quarantine and GspClass(gsp_class).is_drug


@dataclass(frozen=True, slots=True)
class ReturnableLine:
    sale_line_id: int
    returnable_qty: int
    quarantine_required: bool


def returnable_lines(s: Session, ctx: Ctx, sale: Sale) -> list[ReturnableLine]:
    """What is left to return of each line of a sale, and where policy sends it (a till picks from this)."""
    lines = lines_of(s, sale.id)
    done = returned_so_far(s, [id_of(ln) for ln in lines])
    unknown = {ln.item_id for ln in lines if ln.gsp_class is None}  # sold before migration 0013: the catalog's
    classes = {i: c for i, c in s.exec(select(Item.id, Item.gsp_class).where(col(Item.id).in_(unknown)))
               if i is not None} if unknown else {}
    completed = sale.status == SaleStatus.COMPLETED.value
    return [ReturnableLine(id_of(ln), ln.qty - done.get(id_of(ln), 0) if completed else 0,
                           quarantine_required(ctx, sold_class(ln, classes))) for ln in lines]


def sold_class(line: SaleLine, catalog: dict[int, str]) -> str:
    """The class a line was sold under (a return judges by it, not by today's catalog); a line sold before
    migration 0013 kept none: the catalog's (`catalog`: item -> class)."""
    return line.gsp_class if line.gsp_class is not None else catalog[line.item_id]


def _refund_plan(s: Session, sale_id: str, amount: int) -> list[tuple[str, int, str]]:
    """Split a refund over the sale's tenders: non-cash first, each up to what it paid less earlier refunds."""
    paid: dict[tuple[str, str], int] = {}
    for t in tenders_of(s, sale_id):
        paid[(t.kind, t.reference)] = paid.get((t.kind, t.reference), 0) + t.amount_fen
    refunded = s.exec(select(Refund.kind, Refund.reference, func.sum(Refund.amount_fen))
                      .join(SaleReturn, col(SaleReturn.id) == Refund.return_id)
                      .where(SaleReturn.sale_id == sale_id).group_by(Refund.kind, Refund.reference)).all()
    for kind, ref, amt in refunded:
        paid[(kind, ref)] = paid.get((kind, ref), 0) - int(amt)
    plan: list[tuple[str, int, str]] = []
    for (kind, ref), left in sorted(paid.items(), key=lambda kv: kv[0][0] == "cash"):
        take = min(left, amount)
        if take > 0:
            plan.append((kind, take, ref))
            amount -= take
    if amount:
        raise AppError(409, "RETURN-REFUND", "退款金额超过原支付金额", "the refund exceeds what the sale was paid",
                       {"left_over_fen": amount})
    return plan


def create_return(u: Unit, ctx: Ctx, return_id: str, sale_id: str, till_code: str,
                  requests: list[ReturnRequest], reason: str, to_quarantine: bool,
                  card_cancelled: bool = False, confirmation: second_person.Confirmation | None = None,
                  rule_id: str = "SEC-01") -> SaleReturn:
    """A return of sold lines: stock back by batch (or to quarantine), refunds by the original tenders.

    A card-paid sale comes back only whole and only after its settlement was cancelled with the centre
    (2103, `card_cancelled`): what the card paid is never refunded as cash (CARD-04). A refund on a later day
    than the sale, or above the store's amount, is checked by a second person (`confirmation`, SEC-01).
    """
    s = orm(u)
    existing = s.get(SaleReturn, return_id)
    if existing is not None:
        if existing.store_id != ctx.store_id or existing.sale_id != sale_id:
            raise conflict("RETURN-ID", "退货单号已被使用", "this return id is already used")
        return existing  # a retried return: the first result, nothing changed
    till, shift = open_shift_for(s, ctx, till_code)
    sale = get_sale(s, ctx, sale_id, lock=True)
    if sale.status != SaleStatus.COMPLETED.value:
        raise conflict("RETURN-STATE", "只有已完成的销售可以退货", "only a completed sale can be returned",
                       status=sale.status)
    if not reason.strip():
        raise AppError(422, "RETURN-REASON", "退货须填写原因", "a return needs a reason")
    if not requests:
        raise AppError(422, "RETURN-EMPTY", "请选择要退的商品", "choose the lines to return")
    lines = {id_of(ln): ln for ln in lines_of(s, sale.id)}
    done = returned_so_far(s, list(lines))
    card_paid = any(t.kind == TenderKind.INSURANCE.value for t in tenders_of(s, sale.id))
    if card_paid and not card_cancelled:
        raise AppError(409, "CARD-04", "医保结算的销售须先撤销医保结算（2103）后整单退货，医保支付部分不得退现金",
                       "a card-paid sale is returned whole after its settlement is cancelled (2103): "
                       "the card's part is never refunded as cash")
    wanted: dict[int, int] = {}
    for r in requests:
        if r.sale_line_id not in lines:
            raise not_found("原销售行", "sale line of this sale", line_id=r.sale_line_id)
        if r.qty <= 0:
            raise AppError(422, "RETURN-QTY", "退货数量须大于 0", "the quantity must be positive", {"qty": r.qty})
        wanted[r.sale_line_id] = wanted.get(r.sale_line_id, 0) + r.qty
    for line_id, qty in wanted.items():
        left = lines[line_id].qty - done.get(line_id, 0)
        if qty > left:
            item = get_item(s, ctx, lines[line_id].item_id)
            raise AppError(409, "RETURN-QTY", f"{item.name} 最多还可退 {left}", f"at most {left} of line {line_id} can be returned",
                           {"line_id": line_id, "sold": lines[line_id].qty, "returned": done.get(line_id, 0),
                            "requested": qty})
    if card_paid and any(wanted.get(i, 0) != ln.qty - done.get(i, 0) for i, ln in lines.items()):
        raise AppError(409, "CARD-04", "医保结算的销售只能整单退货", "a card-paid sale is returned whole")
    # Worked out first, so the return's row is written once, whole (the database refuses an edit of it, ST-02).
    plan = []
    for line_id, qty in wanted.items():
        item = get_item(s, ctx, lines[line_id].item_id)
        # Returned drugs are not resold without inspection: store policy or the pharmacist's call — by the class
        # the line was sold under (a class changed since does not let a drug back on the shelf uninspected).
        to_q = to_quarantine or quarantine_required(ctx, sold_class(lines[line_id], {id_of(item): item.gsp_class}))
        plan.append((lines[line_id], item, qty, qty * lines[line_id].unit_price_fen,
                     ledger.QUARANTINE if to_q else ledger.SELLABLE))
    total = sum(amount for _, _, _, amount, _ in plan)
    later_day = sale.business_date is not None and sale.business_date < ctx.today
    confirmed_by = second_person.require(u, ctx, rule_id, total, later_day, confirmation)
    ret = SaleReturn(id=return_id, store_id=ctx.store_id, sale_id=sale.id, till_id=id_of(till), shift_id=id_of(shift),
                     created_by=ctx.actor_id, created_at=ctx.now, reason=reason, total_fen=total,
                     to_quarantine=any(location == ledger.QUARANTINE for *_, location in plan),
                     confirmed_by=confirmed_by)
    s.add(ret)
    s.flush()
    moved = ledger.moved_for(s, "sale_line", [str(i) for i in wanted])
    written: list[tuple[SaleReturnLine, str]] = []
    movements: list[dict[str, Any]] = []
    freed: list[SaleTraceCode] = []
    for line, item, qty, amount, location in plan:
        rl = SaleReturnLine(store_id=ctx.store_id, return_id=ret.id, sale_line_id=id_of(line), qty=qty, amount_fen=amount)
        s.add(rl)
        written.append((rl, location))
        movements += _restock(u, ctx, line, item.split_ratio, qty, moved.get(str(line.id), []), location, ret.id)
        if item.traced and not line.split:  # whole boxes back: their codes may be sold again
            freed += trace_codes.mark_returned(u, id_of(line), qty, ret.id)
    refunds = [Refund(store_id=ctx.store_id, return_id=ret.id, kind=k, amount_fen=a, reference=ref)
               for k, a, ref in _refund_plan(s, sale.id, total)]
    s.add_all(refunds)
    s.flush()
    platform_sale.on_return(u, ctx, sale.id, ret.id, reason)  # a platform prescription's report cancelled (#23)
    # Every row the return wrote or changed is imaged in its entry (audit.NESTED).
    audit.record(u, ctx.store_id, ctx.actor, "sale.return", "sale_return", ret.id, None, audit.snapshot(ret) | {
        "lines": [audit.snapshot(rl) | {"location": location} for rl, location in written],
        "refunds": [audit.snapshot(r) for r in refunds], "movements": movements,
        "trace_codes": [audit.snapshot(c) for c in freed]}, note=reason)
    return ret


def _restock(u: Unit, ctx: Ctx, line: SaleLine, ratio: int, qty: int, taken: list[ledger.Movement],
             location: str, return_id: str) -> list[dict[str, Any]]:
    """Put the quantity back on the batches the line took it from, latest-expiring batch first; the movements."""
    s = orm(u)
    base = qty if line.split else qty * ratio
    back_already = ledger.net_by_batch(s, "sale_return_line", str(line.id))
    out: list[dict[str, Any]] = []
    amount = qty * int(line.unit_price_fen)
    whole = base
    for mv in reversed([m for m in taken if m.kind == "sale"]):
        back_qty, back_cost = back_already.get(mv.batch_id, (0, 0))
        room = -mv.qty - back_qty
        put = min(room, base)
        if put > 0:
            # The cost comes back as its sale took it: the share of what this movement took and is not back yet
            # (all of it, once the whole line is back); the retail as the return's amount, spread by quantity.
            cost = ledger.share(-mv.cost_fen - back_cost, room, put)
            retail = amount if put == base else (2 * amount * put + whole) // (2 * whole)
            out += ledger.append(u, ctx, [ledger.Move(mv.batch_id, mv.item_id, MovementKind.SALE_RETURN.value, put,
                                                      "sale_return_line", str(line.id), location=location,
                                                      note=f"退货 {return_id}", cost_fen=cost, retail_fen=retail)])
            base -= put
            amount -= retail
            whole -= put
        if base == 0:
            return out
    raise AppError(409, "RETURN-STOCK", "退货数量超过原出库数量", "more returned than the sale took from stock",
                   {"line_id": line.id})


def return_lines(s: Session, return_id: str) -> list[SaleReturnLine]:
    return list(s.exec(select(SaleReturnLine).where(SaleReturnLine.return_id == return_id)
                       .order_by(col(SaleReturnLine.id))))


def refunds_of(s: Session, return_id: str) -> list[Refund]:
    return list(s.exec(select(Refund).where(Refund.return_id == return_id).order_by(col(Refund.id))))


