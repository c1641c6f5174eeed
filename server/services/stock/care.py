"""Losses (报损, 过期报损), destruction (销毁) and recalls (召回), and the near-expiry pull list (近效期, GSP-06).

A loss document names its kind, its reason and its lines (batch, quantity, location); its stock leaves through the
ledger at its share of each batch's cost on hand, one movement a line (ref "loss_line"). A destruction is done
before two witnesses — two other persons, each confirming with their PIN — and records its method. A recall stops
its batch (the existing quality stop) and lists who bought from it: sale numbers, dates, quantities, and for card
sales the insured persons with their identity numbers masked; the recalled stock leaves by a loss of kind recall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from catalog.codes import mask_id
from catalog.violations import Violation
from server import audit
from server.db.models import Batch, Item, Sale, SaleInsured, SaleLine, SaleReturnLine, Zone
from server.db.models.base import id_of
from server.db.models.care import Loss, LossLine, Recall
from server.db.uow import Unit, orm
from server.errors import AppError, not_found, refused
from server.rules import care as rules
from server.rules.movements import MovementKind
from server.services.catalog.items import zone_by_code
from server.services.context import Ctx
from server.services.stock import batches as batch_service
from server.services.stock import ledger
from server.services.stock.persons import actor_person, person_of

LOSS_KINDS = (MovementKind.DAMAGE, MovementKind.EXPIRY_WRITEOFF, MovementKind.DESTRUCTION, MovementKind.RECALL)


@dataclass(frozen=True, slots=True)
class LossLineIn:
    batch_id: int
    qty: int  # split units
    location: str = ledger.SELLABLE


def _batch(s: Session, ctx: Ctx, batch_id: int) -> Batch:
    batch = s.get(Batch, batch_id)
    if batch is None or batch.store_id != ctx.store_id:
        raise not_found("批次", "batch", batch_id=batch_id)
    return batch


def write_off(u: Unit, ctx: Ctx, kind: str, reason: str, lines: Sequence[LossLineIn], method: str = "",
              witnesses: Sequence[int] = (), recall_id: int | None = None) -> Loss:
    """A loss document and its movements out: 报损 (damage), 过期报损 (expiry_writeoff: expired batches only),
    销毁 (destruction: the method and two witnesses, other persons than the actor and each other) or the return of
    a recall's stock (recall: the recall named, its batch only). Refused whole, nothing written."""
    s = orm(u)
    try:
        mk = MovementKind(kind)
    except ValueError:
        mk = None
    if mk not in LOSS_KINDS:
        raise AppError(422, "VALIDATION", f"报损类型 {kind} 不认识", f"unknown loss kind {kind}", {"kind": kind})
    if not lines:
        raise AppError(422, "VALIDATION", "报损单至少一行", "a loss document has at least one line")
    problems: list[Violation] = []
    if v := rules.loss_reason_refusal(reason):
        problems.append(v)
    if mk == MovementKind.DESTRUCTION:
        problems += rules.destruction_refusals(actor_person(s, ctx), [person_of(s, w) for w in witnesses], method)
    recall = None
    if mk == MovementKind.RECALL:
        recall = s.get(Recall, recall_id) if recall_id is not None else None
        if recall is None or recall.store_id != ctx.store_id:
            raise not_found("召回", "recall", recall_id=recall_id)
    elif recall_id is not None:
        raise AppError(422, "VALIDATION", "只有召回退回单指向召回", "only a recall's return names the recall")
    batches = {ln.batch_id: _batch(s, ctx, ln.batch_id) for ln in lines}
    items = {id_of(i): i for i in s.exec(select(Item).where(col(Item.id).in_({b.item_id for b in batches.values()})))}
    for ln in lines:
        batch = batches[ln.batch_id]
        if ln.qty <= 0:
            problems.append(Violation("VALIDATION", f"批次 {batch.batch_no} 数量须大于 0",
                                      f"batch {batch.batch_no}: the quantity must be positive", {"batch": batch.batch_no}))
        if ln.location not in (ledger.SELLABLE, ledger.QUARANTINE):
            problems.append(Violation("VALIDATION", f"库位 {ln.location} 不认识", f"unknown location {ln.location}",
                                      {"location": ln.location}))
        if mk == MovementKind.EXPIRY_WRITEOFF and (v := rules.expiry_writeoff_refusal(batch.batch_no, batch.expires_on,
                                                                                        ctx.today)):
            problems.append(v)
        if recall is not None and id_of(batch) != recall.batch_id:
            problems.append(Violation("GSP-06", f"批次 {batch.batch_no} 不是召回 {recall.id} 的批次",
                                      f"batch {batch.batch_no} is not recall {recall.id}'s", {"batch": batch.batch_no}))
    if problems:
        raise refused(problems, status=409 if any(p.rule.startswith("GSP") for p in problems) else 422)
    loss = Loss(store_id=ctx.store_id, kind=mk.value, reason=reason.strip(), method=method.strip(),
                witness_1=witnesses[0] if witnesses else None, witness_2=witnesses[1] if len(witnesses) > 1 else None,
                recall_id=recall_id, business_date=ctx.today, created_by=ctx.actor.user_id, created_at=ctx.now)
    s.add(loss)
    s.flush()
    rows = [LossLine(store_id=ctx.store_id, loss_id=id_of(loss), batch_id=ln.batch_id,
                     item_id=batches[ln.batch_id].item_id, qty=ln.qty, location=ln.location) for ln in lines]
    s.add_all(rows)
    s.flush()
    moves = [ledger.Move(row.batch_id, row.item_id, mk.value, -row.qty, "loss_line", str(id_of(row)),
                         location=row.location, note=reason.strip(),
                         retail_fen=-ledger.retail_of(items[row.item_id], row.qty)) for row in rows]
    written = ledger.append(u, ctx, moves)
    audit.record(u, ctx.store_id, ctx.actor, f"stock.loss_{mk.value}", "stock_loss", id_of(loss), None,
                 audit.snapshot(loss) | {"lines": [audit.snapshot(r) for r in rows],
                                         "movements": audit.compact(written)}, note=reason)
    return loss


def loss_lines(s: Session, loss_id: int) -> list[LossLine]:
    return list(s.exec(select(LossLine).where(LossLine.loss_id == loss_id).order_by(col(LossLine.id))))


def get_loss(s: Session, ctx: Ctx, loss_id: int) -> Loss:
    loss = s.get(Loss, loss_id)
    if loss is None or loss.store_id != ctx.store_id:
        raise not_found("报损单", "loss document", loss_id=loss_id)
    return loss


# --- recalls ------------------------------------------------------------------------------------------------------

def start_recall(u: Unit, ctx: Ctx, batch_id: int, reason: str, notice_no: str = "") -> Recall:
    """召回: the batch is stopped from sale (GSP-06's quality stop, with the recall as its reason) and the recall
    recorded; who bought from it is `buyers`."""
    s = orm(u)
    batch = _batch(s, ctx, batch_id)
    if not reason.strip():
        raise refused([Violation("GSP-06", "召回须填写原因", "a recall needs a reason", {})])
    recall = Recall(store_id=ctx.store_id, batch_id=id_of(batch), notice_no=notice_no.strip(), reason=reason.strip(),
                    started_by=ctx.actor.user_id, started_at=ctx.now, business_date=ctx.today)
    s.add(recall)
    s.flush()
    audit.record_row(u, ctx.store_id, ctx.actor, "recall.start", recall, note=reason)
    batch_service.set_batch_stop(u, ctx, id_of(batch), True, f"召回 {notice_no or recall.id}：{reason.strip()}"[:200])
    return recall


def get_recall(s: Session, ctx: Ctx, recall_id: int) -> Recall:
    recall = s.get(Recall, recall_id)
    if recall is None or recall.store_id != ctx.store_id:
        raise not_found("召回", "recall", recall_id=recall_id)
    return recall


def buyers(s: Session, ctx: Ctx, batch_id: int) -> list[dict[str, Any]]:
    """Who bought from a batch (GSP-06: a batch traced to its buyers): each sale that took from it — its number,
    business date, the quantity taken net of what came back to the batch — and for a card sale the insured person
    (name, identity number masked, SEC-06)."""
    _batch(s, ctx, batch_id)
    took: dict[int, int] = {}
    back: dict[int, int] = {}
    for kind, ref_type, ref_id, qty in ledger.sold_from(s, ctx, batch_id):
        if kind == MovementKind.SALE.value and ref_type == "sale_line":
            took[int(ref_id)] = took.get(int(ref_id), 0) - int(qty)
        elif ref_type == "sale_return_line":
            back[int(ref_id)] = back.get(int(ref_id), 0) + int(qty)
    if back:
        for rl in s.exec(select(SaleReturnLine).where(col(SaleReturnLine.id).in_(list(back)))):
            took[rl.sale_line_id] = took.get(rl.sale_line_id, 0) - back[id_of(rl)]
    if not took:
        return []
    rows = s.exec(select(SaleLine, Sale, SaleInsured).join(Sale, col(Sale.id) == col(SaleLine.sale_id))
                  .join(SaleInsured, col(SaleInsured.sale_id) == col(Sale.id), isouter=True)
                  .where(col(SaleLine.id).in_(list(took))).order_by(col(Sale.completed_at))).all()
    return [{"sale_id": sale.id, "sale_no": sale.sale_no, "business_date": sale.business_date,
             "sale_line_id": line.id, "qty": took[id_of(line)], "returned": took[id_of(line)] <= 0,
             "insured_name": ins.psn_name if ins else None, "insured_id": mask_id(ins.certno) if ins else None}
            for line, sale, ins in rows]


# --- near expiry --------------------------------------------------------------------------------------------------

def pull_list(s: Session, ctx: Ctx, zone_code: str | None = None) -> list[dict[str, Any]]:
    """近效期 pull list (GSP-06): per zone, every batch on hand that has expired or expires within
    `rules.near_expiry_days` (config) of today, earliest expiry first."""
    days = ctx.settings.rules.near_expiry_days
    zones = {id_of(z): z for z in s.exec(select(Zone).where(Zone.store_id == ctx.store_id))}
    if zone_code is not None:  # a zone mistyped is said, never an empty list that reads as "nothing near expiry"
        zone_by_code(s, ctx, zone_code)
    rows = [r for r in ledger.stock_by_batch(s, ctx) if r.expires_on <= ctx.today + timedelta(days=days)]
    names = {id_of(i): i for i in s.exec(select(Item).where(col(Item.id).in_({r.item_id for r in rows})))} if rows else {}
    kept = [(r, kept_in(r.zone_id, names[r.item_id])) for r in rows]
    if zone_code is not None:
        kept = [(r, z) for r, z in kept if z is not None and zones[z].code == zone_code]
    return [{"zone": zones[z].code if z else None, "batch_id": r.batch_id, "batch_no": r.batch_no,
             "lot_no": r.lot_no, "item_id": r.item_id, "item_name": names[r.item_id].name, "location": r.location,
             "qty": int(r.qty), "expires_on": r.expires_on, "days_left": (r.expires_on - ctx.today).days,
             "expired": r.expires_on < ctx.today}
            for r, z in kept]


def kept_in(batch_zone_id: int | None, item: Item) -> int | None:
    """The zone a batch is kept in: its own (placed at receipt), else its item's (a batch from before batches were
    placed: an opening one)."""
    return batch_zone_id if batch_zone_id is not None else item.zone_id


# --- batches as the back office finds them -------------------------------------------------------------------------

def find_batches(s: Session, ctx: Ctx, zone_code: str | None = None, number: str | None = None) -> list[dict[str, Any]]:
    """The store's batches as a back-office screen finds them: by the number on a batch label (our batch number or
    the maker's 批号, any batch, with stock or not: a recall traces one sold out) and/or the zone it is kept in
    (then only those holding stock: what an upkeep inspects). Stock per location, in the smallest unit."""
    zone = zone_by_code(s, ctx, zone_code) if zone_code is not None else None
    q = select(Batch, Item).join(Item, col(Item.id) == col(Batch.item_id)).where(Batch.store_id == ctx.store_id)
    if zone is not None:
        q = q.where((col(Batch.zone_id) == id_of(zone))
                    | (col(Batch.zone_id).is_(None) & (col(Item.zone_id) == id_of(zone))))
    if number is not None:
        q = q.where((col(Batch.batch_no) == number) | (col(Batch.lot_no) == number))
    found = list(s.exec(q.order_by(col(Batch.expires_on), col(Batch.id)).limit(500)).all())
    held: dict[int, dict[str, int]] = {}
    for r in ledger.stock_by_batch(s, ctx):
        held.setdefault(r.batch_id, {})[r.location] = int(r.qty)
    if number is None:
        found = [(b, i) for b, i in found if held.get(id_of(b))]
    zones = {id_of(z): z.code for z in s.exec(select(Zone).where(Zone.store_id == ctx.store_id))}
    out = []
    for b, item in found:
        z = kept_in(b.zone_id, item)
        out.append({"batch_id": id_of(b), "batch_no": b.batch_no, "lot_no": b.lot_no, "item_id": b.item_id,
                    "item_name": item.name, "spec": item.spec, "zone": zones.get(z) if z is not None else None,
                    "expires_on": b.expires_on, "expired": b.expires_on < ctx.today, "status": b.status,
                    "stop_reason": b.stop_reason, "sellable": held.get(id_of(b), {}).get(ledger.SELLABLE, 0),
                    "quarantine": held.get(id_of(b), {}).get(ledger.QUARANTINE, 0)})
    return out
