"""Transfers between the stores of a chain (调拨出库 / 调拨入库, GSP-05, ST-02).

The sending store sends batches to another store of its own chain: its stock leaves through the ledger (transfer_out,
each at its share of the batch's cost) and the document records that cost per line; until the receiver takes it the
transfer is in transit (`in_transit`: what the receiving store sees coming). The receiving store inspects it (验收) —
each line accepted to the shelf or held 待验 in quarantine — and its stock enters through the ledger (transfer_in) at
the very cost it left at, into a batch of its own (same lot, dates), in the zone its item is kept in (GSP-01..03/07).
Refused both ways: to a store of another chain or of none, to a store whose business scope does not cover an item
(server.rules.transfer), a batch that cannot be sold (expired, stopped, recalled: GSP-06), an item the receiver's
catalog lacks. Each side is one document of its own store, written once and audited in its own store's chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from catalog.gsp import check_placement
from catalog.violations import Violation
from server import audit
from server.db.models import Batch, Item, Store, Zone
from server.db.models.base import id_of
from server.db.models.transfer import StockTransfer, StockTransferLine, TransferReceipt, TransferReceiptLine
from server.db.uow import Unit, orm
from server.errors import AppError, not_found, refused
from server.rules import transfer as rules
from server.rules.movements import MovementKind
from server.services.catalog.items import item_spec, zone_spec
from server.services.context import Ctx
from server.services.stock import ledger

ACCEPTED, QUARANTINE = "accepted", "quarantine"
_OUT_REF = "stock_transfer"  # a transfer_out movement's ref: "<transfer id>/<line no>" (the line is written after it)
_IN_REF = "transfer_receipt_line"


@dataclass(frozen=True, slots=True)
class Send:
    batch_id: int
    qty: int  # split units


@dataclass(frozen=True, slots=True)
class Take:
    line_no: int
    outcome: str = ACCEPTED  # accepted | quarantine (待验, with a reason)
    reason: str = ""


def _store(s: Session, store_id: int) -> Store:
    store = s.get(Store, store_id)
    if store is None:
        raise not_found("门店", "store", store_id=store_id)
    return store


def _items_by_code(s: Session, store_id: int, codes: Sequence[str]) -> dict[str, Item]:
    return {i.code: i for i in s.exec(select(Item).where(Item.store_id == store_id, col(Item.code).in_(sorted(set(codes)))))}


def _receiver_refusals(s: Session, sender: Store, receiver: Store, items: Sequence[Item]) -> list[Violation]:
    """The chain, the receiver's scope, and the receiver's catalog having each item (by code)."""
    out = []
    if v := rules.chain_refusal(sender.name, sender.chain_code, receiver.name, receiver.chain_code,
                                id_of(sender) == id_of(receiver)):
        return [v]
    scope = rules.store_scope(receiver.business_scope)
    theirs = _items_by_code(s, id_of(receiver), [i.code for i in items])
    for item in {i.code: i for i in items}.values():
        if v := rules.receiver_scope_refusal(receiver.name, scope, item.name, item.gsp_class):
            out.append(v)
        elif item.code not in theirs:
            out.append(Violation("GSP-05", f"门店 {receiver.name} 的商品目录中没有 {item.code} {item.name}（先建档）",
                                 f"store {receiver.name} has no item {item.code} in its catalog: add it first",
                                 {"store": receiver.name, "item": item.code}))
    return out


def send(u: Unit, ctx: Ctx, to_store_code: str, lines: Sequence[Send], note: str = "") -> StockTransfer:
    """调拨出库 to another store of the chain: refused whole, every problem named; the document written."""
    s = orm(u)
    sender = _store(s, ctx.store_id)
    receiver = s.exec(select(Store).where(Store.code == to_store_code.strip())).first()
    if receiver is None:
        raise not_found(f"门店 {to_store_code} ", f"store {to_store_code}")
    if not lines:
        raise AppError(422, "VALIDATION", "调拨单至少一行", "a transfer has at least one line")
    batches = {id_of(b): b for b in s.exec(select(Batch).where(Batch.store_id == ctx.store_id,
                                                               col(Batch.id).in_([ln.batch_id for ln in lines])))}
    if missing := sorted({ln.batch_id for ln in lines} - set(batches)):
        raise not_found("批次", "batch", batch_id=missing[0])
    items = {id_of(i): i for i in s.exec(select(Item).where(col(Item.id).in_({b.item_id for b in batches.values()})))}
    problems: list[Violation] = []  # the batches' own first (GSP-06), then the receiver's
    for n, ln in enumerate(lines, start=1):
        batch = batches[ln.batch_id]
        if ln.qty <= 0:
            problems.append(Violation("VALIDATION", f"第 {n} 行数量须大于 0", f"line {n}: the quantity must be positive",
                                      {"line": n}))
        problems += ledger.expiry_refusals(batch, items[batch.item_id], ctx.today)
    problems += _receiver_refusals(s, sender, receiver, [items[batches[ln.batch_id].item_id] for ln in lines])
    if problems:
        raise refused(problems, status=409 if any(p.rule.startswith("GSP") for p in problems) else 422)
    transfer = StockTransfer(store_id=ctx.store_id, to_store_id=id_of(receiver), business_date=ctx.today,
                             note=note.strip(), sent_by=ctx.actor.user_id, sent_at=ctx.now)
    s.add(transfer)
    s.flush()
    tid = id_of(transfer)
    moves = [ledger.Move(ln.batch_id, batches[ln.batch_id].item_id, MovementKind.TRANSFER_OUT.value, -ln.qty, _OUT_REF,
                         f"{tid}/{n}", note=f"调拨至 {receiver.name}",
                         retail_fen=-ledger.retail_of(items[batches[ln.batch_id].item_id], ln.qty))
             for n, ln in enumerate(lines, start=1)]
    written = ledger.append(u, ctx, moves)  # refused here if a batch holds less than is sent
    rows = [StockTransferLine(store_id=ctx.store_id, transfer_id=tid, line_no=n, item_id=batches[ln.batch_id].item_id,
                              item_code=items[batches[ln.batch_id].item_id].code, batch_id=ln.batch_id,
                              lot_no=batches[ln.batch_id].lot_no, manufactured_on=batches[ln.batch_id].manufactured_on,
                              expires_on=batches[ln.batch_id].expires_on, qty=ln.qty, cost_fen=-int(mv["cost_fen"]))
            for n, (ln, mv) in enumerate(zip(lines, written, strict=True), start=1)]
    s.add_all(rows)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "transfer.send", "stock_transfer", tid, None,
                 audit.snapshot(transfer) | {"lines": [audit.snapshot(r) for r in rows],
                                             "movements": audit.compact(written)}, note=note)
    return transfer


def lines_of(s: Session, transfer_id: int) -> list[StockTransferLine]:
    return list(s.exec(select(StockTransferLine).where(StockTransferLine.transfer_id == transfer_id)
                       .order_by(col(StockTransferLine.line_no))))


def view(s: Session, transfer: StockTransfer) -> dict[str, Any]:
    got = s.exec(select(TransferReceipt).where(TransferReceipt.transfer_id == id_of(transfer))).first()
    lines = lines_of(s, id_of(transfer))
    names = dict(s.exec(select(Item.id, Item.name).where(col(Item.id).in_({ln.item_id for ln in lines}))).all())
    return transfer.model_dump() | {
        "from_store": _store(s, transfer.store_id).name, "to_store": _store(s, transfer.to_store_id).name,
        "status": "received" if got else "in_transit", "received_at": got.inspected_at if got else None,
        "lines": [ln.model_dump() | {"item_name": names.get(ln.item_id, "")} for ln in lines]}


def get_transfer(s: Session, ctx: Ctx, transfer_id: int, lock: bool = False) -> StockTransfer:
    """A transfer this store sent or is sent (another store's is not found)."""
    q = select(StockTransfer).where(StockTransfer.id == transfer_id)
    t = s.exec(q.with_for_update() if lock else q).first()
    if t is None or ctx.store_id not in (t.store_id, t.to_store_id):
        raise not_found("调拨单", "transfer", transfer_id=transfer_id)
    return t


def in_transit(s: Session, ctx: Ctx) -> list[dict[str, Any]]:
    """What is coming to this store and what it sent, not yet received: the transfers in transit either way."""
    received = select(TransferReceipt.transfer_id)
    rows = s.exec(select(StockTransfer).where((StockTransfer.to_store_id == ctx.store_id)
                                              | (StockTransfer.store_id == ctx.store_id),
                                              col(StockTransfer.id).not_in(received))
                  .order_by(col(StockTransfer.id))).all()
    return [view(s, t) for t in rows]


def receive(u: Unit, ctx: Ctx, transfer_id: int, verdicts: Sequence[Take], note: str = "") -> TransferReceipt:
    """调拨入库 with 验收: the caller, this store's inspector, takes every line — to the shelf or held 待验 with a reason;
    each becomes a batch of this store, its stock at the cost it left the sender at."""
    s = orm(u)
    transfer = get_transfer(s, ctx, transfer_id, lock=True)
    if transfer.to_store_id != ctx.store_id:
        raise AppError(409, "GSP-05", f"调拨单 {transfer_id} 不是调往本店的", f"transfer {transfer_id} is not to this store")
    if s.exec(select(TransferReceipt.id).where(TransferReceipt.transfer_id == transfer_id)).first() is not None:
        raise AppError(409, "ST-02", f"调拨单 {transfer_id} 已收货", f"transfer {transfer_id} has been received already")
    lines = lines_of(s, transfer_id)
    given = {v.line_no: v for v in verdicts}
    problems: list[Violation] = []
    for ln in lines:
        v = given.get(ln.line_no)
        if v is None or v.outcome not in (ACCEPTED, QUARANTINE) or (v.outcome == QUARANTINE and not v.reason.strip()):
            problems.append(Violation("GSP-05", f"第 {ln.line_no} 行须验收：合格，或待验并写明原因（不合格品另开调拨单退回）",
                                      f"line {ln.line_no}: accept it, or hold it 待验 with a reason (unfit goods go "
                                      "back on a transfer of their own)", {"line": ln.line_no}))
    if unknown := sorted(set(given) - {ln.line_no for ln in lines}):
        problems.append(Violation("VALIDATION", f"调拨单没有第 {unknown[0]} 行", f"the transfer has no line {unknown[0]}",
                                  {"lines": unknown}))
    sender, receiver = _store(s, transfer.store_id), _store(s, ctx.store_id)
    theirs = {id_of(i): i for i in s.exec(select(Item).where(col(Item.id).in_([ln.item_id for ln in lines])))}
    problems += _receiver_refusals(s, sender, receiver, [theirs[ln.item_id] for ln in lines])
    mine = _items_by_code(s, ctx.store_id, [ln.item_code for ln in lines])
    zones = {id_of(z): z for z in s.exec(select(Zone).where(Zone.store_id == ctx.store_id))}
    for ln in lines:
        item = mine.get(ln.item_code)
        if item is None:
            continue  # (named above)
        zone = zones.get(item.zone_id or 0)
        if zone is None:
            problems.append(Violation("GSP-02", f"第 {ln.line_no} 行 {item.name} 没有陈列区域", f"line {ln.line_no}: "
                                      f"{item.code} has no zone to be kept in", {"line": ln.line_no}))
        else:
            problems += check_placement(item_spec(item), zone_spec(zone))
    if problems:
        raise refused(problems, status=409 if any(p.rule.startswith("GSP") or p.rule == "ST-02" for p in problems)
                      else 422)
    sent = {id_of(b): b for b in s.exec(select(Batch).where(col(Batch.id).in_([ln.batch_id for ln in lines])))}
    batches = [Batch(store_id=ctx.store_id, item_id=id_of(mine[ln.item_code]), supplier_id=None,
                     batch_no=f"T{transfer_id:06d}-{ln.line_no:03d}", lot_no=ln.lot_no,
                     manufactured_on=ln.manufactured_on, expires_on=ln.expires_on, cost_fen=sent[ln.batch_id].cost_fen,
                     zone_id=mine[ln.item_code].zone_id, received_at=ctx.now) for ln in lines]
    s.add_all(batches)
    got = TransferReceipt(store_id=ctx.store_id, transfer_id=transfer_id, business_date=ctx.today, note=note.strip(),
                          inspected_by=ctx.actor.user_id, inspected_at=ctx.now)
    s.add(got)
    s.flush()
    rows = [TransferReceiptLine(store_id=ctx.store_id, receipt_id=id_of(got), transfer_line_id=id_of(ln),
                                item_id=id_of(mine[ln.item_code]), batch_id=id_of(b), outcome=given[ln.line_no].outcome,
                                reason=given[ln.line_no].reason.strip()) for ln, b in zip(lines, batches, strict=True)]
    s.add_all(rows)
    s.flush()
    moves = [ledger.Move(r.batch_id, r.item_id, MovementKind.TRANSFER_IN.value, ln.qty, _IN_REF, str(id_of(r)),
                         location=ledger.QUARANTINE if r.outcome == QUARANTINE else ledger.SELLABLE,
                         note=f"自 {sender.name} 调入" + (f"，待验：{r.reason}" if r.reason else ""), cost_fen=ln.cost_fen,
                         retail_fen=ledger.retail_of(mine[ln.item_code], ln.qty)) for r, ln in zip(rows, lines, strict=True)]
    written = ledger.append(u, ctx, moves)
    audit.record(u, ctx.store_id, ctx.actor, "transfer.receive", "transfer_receipt", id_of(got), None,
                 audit.snapshot(got) | {"lines": [audit.snapshot(r) for r in rows],
                                        "batches": [audit.snapshot(b) for b in batches],
                                        "movements": audit.compact(written)}, note=note)
    return got


def release(u: Unit, ctx: Ctx, transfer_id: int, line_no: int, reason: str) -> list[dict[str, Any]]:
    """待验放行 of a line received held: found fit on re-inspection, to the shelf at the cost it holds."""
    s = orm(u)
    got = s.exec(select(TransferReceipt).where(TransferReceipt.transfer_id == transfer_id,
                                               TransferReceipt.store_id == ctx.store_id)).first()
    line = s.exec(select(TransferReceiptLine).join(StockTransferLine, col(StockTransferLine.id)
                                                   == col(TransferReceiptLine.transfer_line_id))
                  .where(TransferReceiptLine.receipt_id == (got.id if got else -1),
                         StockTransferLine.line_no == line_no)).first()
    if got is None or line is None:
        raise not_found("调拨入库行", "transfer receipt line", transfer_id=transfer_id, line_no=line_no)
    if not reason.strip():
        raise AppError(422, "GSP-05", "待验放行须填写复检结论", "a release from quarantine needs the re-inspection's finding")
    held = ledger.held_in(u, line.batch_id, ledger.QUARANTINE)
    if line.outcome != QUARANTINE or held <= 0:
        raise AppError(409, "GSP-05", f"调拨单 {transfer_id} 第 {line_no} 行没有待验库存可放行",
                       f"line {line_no} of transfer {transfer_id} holds nothing in quarantine", {"held": held})
    moved = ledger.relocate(u, ctx, line.batch_id, line.item_id, held, ledger.QUARANTINE, ledger.SELLABLE,
                            MovementKind.QUARANTINE_OUT.value, _IN_REF, str(id_of(line)), note=reason.strip())
    audit.record(u, ctx.store_id, ctx.actor, "transfer.release", "transfer_receipt", id_of(got), None,
                 {"line_no": line_no, "movements": moved}, note=reason.strip())
    return moved
