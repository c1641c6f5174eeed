"""Receiving (采购入库, GSP-05) and the store's first inventory (初始化入库): a receipt is entered, inspected (验收)
by a named person line by line, and approved by the person in charge who is not the inspector; only then does
its stock enter the ledger — accepted lines as sellable stock, 待验 lines into quarantine, rejected lines never.

A delivery: from a supplier approved as a first-time supplier (首营), licensed on the receipt's business date
(the day the goods came, back-dated or not), whose scope covers each item, each item approved from it (首营品种),
with its delivery note (随货同行单, dynt_no) and invoice (purc_invo_no), lines by item × 批号 with manufacture and
expiry dates, quantity and unit cost, the trace codes scanned, each batch to a zone that admits it (GSP-01..03/07).

The first inventory is the same document of kind "opening": no supplier, counted by one person (who stands as its
inspector) and approved by another; one per store (a unique index), and after it — or after the store's first
approved delivery — stock enters only by receiving (batches.add_opening_batch is refused then).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from catalog.codes import check_trace_code
from catalog.gsp import check_placement
from catalog.violations import Violation
from server import audit
from server.db.models import Batch, Item, Receipt, ReceiptLine, ReceiptTraceCode, StaffProfile, Supplier, Zone
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError, not_found, refused
from server.rules import stock as rules
from server.rules.duties import person_key
from server.rules.movements import MovementKind
from server.services.catalog.items import find_by_barcode, item_spec, zone_spec
from server.services.context import Ctx
from server.services.stock import ledger, suppliers

PURCHASE, OPENING = "purchase", "opening"
DRAFT, INSPECTED, APPROVED = "draft", "inspected", "approved"


@dataclass(frozen=True, slots=True)
class LineIn:
    item_id: int
    lot_no: str
    manufactured_on: date
    expires_on: date
    qty: int  # whole packs
    unit_cost_fen: int  # per pack
    zone_code: str
    loose: int = 0  # split units beyond the packs (the first inventory's opened packs only)
    trace_codes: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Verdict:
    line_no: int
    outcome: str  # rules.Outcome
    reason: str = ""


def _person(s: Session, user_id: int) -> str:
    """Who an account belongs to (server.rules.duties: persons, not accounts)."""
    number = s.exec(select(StaffProfile.id_number).where(StaffProfile.user_id == user_id)).first() or ""
    return person_key(number, user_id)


def _items(s: Session, ctx: Ctx, ids: Sequence[int]) -> dict[int, Item]:
    """The items of a receipt's lines, read at once (a delivery has hundreds)."""
    found = {id_of(i): i for i in s.exec(select(Item).where(Item.store_id == ctx.store_id,
                                                            col(Item.id).in_(sorted(set(ids)))))}
    for i in ids:
        if i not in found:
            raise not_found("商品", "item", item_id=i)
    return found


def scanned(s: Session, ctx: Ctx, barcode: str) -> int:
    """The item a box's barcode names (scanning at receipt saves typing); refused when the catalog has none."""
    item = find_by_barcode(s, ctx, barcode.strip())
    if item is None:
        raise AppError(422, "VALIDATION", f"条码 {barcode} 不在商品目录中：请先建档（首营品种）",
                       f"barcode {barcode} is in no catalog item: add the item first", {"barcode": barcode})
    return id_of(item)


def _zones(s: Session, ctx: Ctx) -> dict[str, Zone]:
    return {z.code: z for z in s.exec(select(Zone).where(Zone.store_id == ctx.store_id))}


_MOST = 2_000_000_000  # a line's quantity (split units) and amounts (fen) fit the ledger's integer columns


def _trace_refusals(s: Session, ctx: Ctx, scanned_codes: Sequence[str]) -> list[Violation]:
    """A trace code names one box: scanned once in a receipt, and received once in the store."""
    codes = [c.strip() for c in scanned_codes]
    twice = sorted(c for c, n in Counter(codes).items() if n > 1)
    known = sorted(set(s.exec(select(ReceiptTraceCode.code).where(ReceiptTraceCode.store_id == ctx.store_id,
                                                                  col(ReceiptTraceCode.code).in_(sorted(set(codes)))))
                       .all())) if codes else []
    out = []
    if twice:
        out.append(Violation("CODE-TRACE", f"追溯码重复扫描：{'、'.join(twice)}", f"trace codes scanned twice: {twice}",
                             {"codes": twice}))
    if known:
        out.append(Violation("CODE-TRACE", f"追溯码已入过库：{'、'.join(known)}", f"trace codes received before: {known}",
                             {"codes": known}))
    return out


def check_scanned_trace_code(s: Session, ctx: Ctx, code: str, scanned_before: Sequence[str] = ()) -> str:
    """追溯码 scanned at receipt, before its receipt is saved (the till asks at each scan): the same checks `create`
    makes — its form, scanned twice on this receipt (`scanned_before`), received into the store before. Refused
    naming what is wrong; the code as it will be kept otherwise."""
    problems = check_trace_code(code.strip()) or _trace_refusals(s, ctx, [*scanned_before, code])
    if problems:
        raise refused(problems)
    return code.strip()


def _line_refusals(n: int, ln: LineIn, item: Item, zone: Zone | None, on: date, kind: str) -> list[Violation]:
    out: list[Violation] = []
    where = f"第 {n} 行（{item.name}）"
    if ln.qty < 0 or ln.loose < 0 or ln.qty * item.split_ratio + ln.loose <= 0:
        out.append(Violation("VALIDATION", f"{where}数量须大于 0", f"line {n}: the quantity must be positive",
                             {"line": n}))
    if ln.loose and (kind != OPENING or ln.loose >= item.split_ratio):
        out.append(Violation("VALIDATION", f"{where}拆零数量只用于期初盘点，且须少于一整件",
                             f"line {n}: loose units belong to the first inventory, fewer than a pack", {"line": n}))
    if ln.qty * item.split_ratio + ln.loose > _MOST or ln.qty * ln.unit_cost_fen > _MOST or \
            ln.qty * item.price_fen > _MOST:
        out.append(Violation("VALIDATION", f"{where}数量或金额过大", f"line {n}: quantity or amount too large",
                             {"line": n, "most": _MOST}))
    if ln.unit_cost_fen < 0:
        out.append(Violation("VALIDATION", f"{where}单价不能为负", f"line {n}: the unit cost cannot be negative",
                             {"line": n}))
    if ln.expires_on <= ln.manufactured_on:
        out.append(Violation("VALIDATION", f"{where}有效期止须晚于生产日期",
                             f"line {n}: expiry must be after the manufacture date", {"line": n}))
    if ln.expires_on < on and kind != OPENING:  # (the first inventory counts what is there; GSP-06 keeps it off sale)
        out.append(Violation("GSP-06", f"{where}批号 {ln.lot_no} 已于 {ln.expires_on} 过期，不得入库",
                             f"line {n}: lot {ln.lot_no} expired on {ln.expires_on}", {"line": n}))
    if zone is None:
        out.append(Violation("GSP-02", f"{where}区域 {ln.zone_code} 不存在", f"line {n}: no zone {ln.zone_code}",
                             {"line": n, "zone": ln.zone_code}))
    else:  # GSP-01..03/07 at the batch: the zone it lands in admits its class, route and storage
        out += [Violation(v.rule, f"{where}{v.message_zh}", f"line {n}: {v.message_en}", dict(v.details) | {"line": n})
                for v in check_placement(item_spec(item), zone_spec(zone))]
    if len(ln.trace_codes) > ln.qty:
        out.append(Violation("VALIDATION", f"{where}追溯码多于件数", f"line {n}: more trace codes than packs",
                             {"line": n}))
    for code in ln.trace_codes:
        out += check_trace_code(code)
    return out


def _supply_refusals(s: Session, sup: Supplier, on: date, items: Sequence[Item]) -> list[Violation]:
    """GSP-05 on the supplier for this receipt's day and items: licence, 首营, scope, 首营品种."""
    out = suppliers.supplier_licence_refusals(sup, on)
    approved = suppliers.approved_items(s, id_of(sup), [id_of(i) for i in items])
    scope = frozenset(sup.scope or ())
    for item in {id_of(i): i for i in items}.values():
        if v := rules.scope_refusal(sup.name, scope, item.name, item.gsp_class):
            out.append(v)
        elif v := rules.first_item_refusal(sup.name, item.name, id_of(item) in approved):
            out.append(v)
    return out


def _image(s: Session, receipt: Receipt) -> dict[str, Any]:
    lines = lines_of(s, id_of(receipt))
    codes = list(s.exec(select(ReceiptTraceCode).where(col(ReceiptTraceCode.line_id).in_([id_of(ln) for ln in lines]))
                        .order_by(col(ReceiptTraceCode.id)))) if lines else []
    return audit.snapshot(receipt) | {"lines": [audit.snapshot(ln) for ln in lines],
                                      "trace_codes": [audit.snapshot(c) for c in codes]}


def create(u: Unit, ctx: Ctx, kind: str, supplier_id: int | None, dynt_no: str, purc_invo_no: str,
           lines: Sequence[LineIn], business_date: date | None = None, note: str = "") -> Receipt:
    """A delivery entered (or the first inventory counted): refused whole, every problem named, if the supplier,
    the voucher or any line would not be received lawfully on `business_date` (default: today)."""
    s = orm(u)
    on = business_date or ctx.today
    if on > ctx.today:
        raise AppError(422, "VALIDATION", "入库日期不能晚于今天", "a receipt cannot be dated in the future",
                       {"business_date": on.isoformat()})
    ledger.refuse_closed(u, ctx, "receipt", on)  # ST-02: not back-dated into a closed month (月结)
    if not lines:
        raise AppError(422, "VALIDATION", "入库单至少一行", "a receipt has at least one line")
    by_id = _items(s, ctx, [ln.item_id for ln in lines])
    items = [by_id[ln.item_id] for ln in lines]
    zones = _zones(s, ctx)
    problems: list[Violation] = []
    if kind == OPENING:
        if supplier_id is not None:
            raise AppError(422, "VALIDATION", "期初盘点不填供应商", "the first inventory names no supplier")
        if v := rules.opening_refusal(*_opening_closed(s, ctx)):
            raise refused([v], status=409)
        if s.exec(select(Receipt).where(Receipt.store_id == ctx.store_id, Receipt.kind == OPENING)).first():
            raise refused([Violation("GSP-05", "本店已有期初盘点单：期初只有一张", "the store has its first inventory "
                                     "document already: there is one", {})], status=409)
    elif kind == PURCHASE:
        if supplier_id is None:
            raise AppError(422, "GSP-05", "采购入库须填供应商", "a delivery names its supplier")
        sup = suppliers.get_supplier(s, ctx, supplier_id)
        problems += _supply_refusals(s, sup, on, items)
        if v := rules.voucher_refusal(dynt_no, purc_invo_no):
            problems.append(v)
    else:
        raise AppError(422, "VALIDATION", f"入库类型 {kind} 不认识", f"unknown receipt kind {kind}")
    for n, (ln, item) in enumerate(zip(lines, items, strict=True), start=1):
        problems += _line_refusals(n, ln, item, zones.get(ln.zone_code), on, kind)
    problems += _trace_refusals(s, ctx, [c for ln in lines for c in ln.trace_codes])
    if problems:
        gsp = [p for p in problems if p.rule.startswith("GSP")]
        raise refused(gsp + [p for p in problems if p not in gsp], status=409 if gsp else 422)
    receipt = Receipt(store_id=ctx.store_id, kind=kind, supplier_id=supplier_id, dynt_no=dynt_no.strip(),
                      purc_invo_no=purc_invo_no.strip(), business_date=on, note=note, created_by=ctx.actor.user_id,
                      created_at=ctx.now)
    if kind == OPENING:  # counted as it stands on the shelf: the counter is its inspector, another approves
        receipt.status, receipt.inspected_by, receipt.inspected_at = INSPECTED, ctx.actor.user_id, ctx.now
    s.add(receipt)
    s.flush()
    rows = [ReceiptLine(store_id=ctx.store_id, receipt_id=id_of(receipt), line_no=n, item_id=ln.item_id,
                        lot_no=ln.lot_no, manufactured_on=ln.manufactured_on, expires_on=ln.expires_on, qty=ln.qty,
                        loose=ln.loose, unit_cost_fen=ln.unit_cost_fen, zone_id=zones[ln.zone_code].id,
                        outcome=rules.Outcome.ACCEPTED.value if kind == OPENING else rules.Outcome.PENDING.value)
            for n, ln in enumerate(lines, start=1)]
    s.add_all(rows)
    s.flush()
    s.add_all([ReceiptTraceCode(store_id=ctx.store_id, line_id=id_of(row), code=c.strip())
               for row, ln in zip(rows, lines, strict=True) for c in ln.trace_codes])
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, f"receipt.create_{kind}", "receipt", id_of(receipt), None,
                 _image(s, receipt), note=note)
    return receipt


def _opening_closed(s: Session, ctx: Ctx) -> tuple[bool, bool]:
    """(the first inventory is approved, a delivery has been approved): either closes the opening door."""
    approved = set(s.exec(select(Receipt.kind).where(Receipt.store_id == ctx.store_id,
                                                     Receipt.status == APPROVED).distinct()).all())
    return OPENING in approved, PURCHASE in approved


def opening_refusal(s: Session, ctx: Ctx) -> Violation | None:
    return rules.opening_refusal(*_opening_closed(s, ctx))


def get_receipt(s: Session, ctx: Ctx, receipt_id: int, lock: bool = False) -> Receipt:
    q = select(Receipt).where(Receipt.id == receipt_id, Receipt.store_id == ctx.store_id)
    receipt = s.exec(q.with_for_update() if lock else q).first()
    if receipt is None:
        raise not_found("入库单", "receipt", receipt_id=receipt_id)
    return receipt


def lines_of(s: Session, receipt_id: int) -> list[ReceiptLine]:
    return list(s.exec(select(ReceiptLine).where(ReceiptLine.receipt_id == receipt_id)
                       .order_by(col(ReceiptLine.line_no))))


def inspect(u: Unit, ctx: Ctx, receipt_id: int, verdicts: Sequence[Verdict], note: str = "") -> Receipt:
    """验收: the caller inspects every line — 合格, 拒收 with a reason, or 待验 (to quarantine) with a reason — and is
    recorded as the receipt's inspector."""
    s = orm(u)
    receipt = get_receipt(s, ctx, receipt_id, lock=True)
    if receipt.status != DRAFT:
        raise AppError(409, "GSP-05", f"入库单 {receipt_id} 已验收（{receipt.status}）",
                       f"receipt {receipt_id} is {receipt.status}: it is inspected once", {"status": receipt.status})
    lines = {ln.line_no: ln for ln in lines_of(s, receipt_id)}
    given = {v.line_no: v for v in verdicts}
    if unknown := sorted(set(given) - set(lines)):
        raise AppError(422, "VALIDATION", f"入库单没有第 {unknown[0]} 行", f"the receipt has no line {unknown[0]}",
                       {"lines": unknown})
    problems = []
    for n in sorted(lines):
        v = given.get(n, Verdict(n, rules.Outcome.PENDING.value))
        try:
            rules.Outcome(v.outcome)
        except ValueError:
            raise AppError(422, "VALIDATION", f"验收结论 {v.outcome} 不认识", f"unknown outcome {v.outcome}") from None
        if p := rules.outcome_refusal(n, v.outcome, v.reason):
            problems.append(p)
    if problems:
        raise refused(problems)
    before = _image(s, receipt)
    for n, ln in lines.items():
        ln.outcome, ln.reason = given[n].outcome, given[n].reason.strip()  # (persistent rows: tracked)
    receipt.status, receipt.inspected_by, receipt.inspected_at = INSPECTED, ctx.actor.user_id, ctx.now
    s.add(receipt)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "receipt.inspect", "receipt", receipt_id, before, _image(s, receipt),
                 note=note)
    return receipt


def approve(u: Unit, ctx: Ctx, receipt_id: int, note: str = "") -> Receipt:
    """The person in charge approves an inspected receipt (not the inspector, by person): each accepted line becomes
    a batch with its stock, sellable; a 待验 line a batch held in quarantine; a rejected line nothing. The supplier
    is judged again for the receipt's day (a licence or scope changed since entry counts)."""
    s = orm(u)
    receipt = get_receipt(s, ctx, receipt_id, lock=True)
    if receipt.status == APPROVED:
        raise AppError(409, "GSP-05", f"入库单 {receipt_id} 已审核", f"receipt {receipt_id} is approved already")
    inspector = _person(s, receipt.inspected_by) if receipt.inspected_by is not None else None
    approver = _person(s, ctx.actor.user_id) if ctx.actor.user_id is not None else "system"
    if v := rules.approver_refusal(approver, inspector):
        raise refused([v], status=403 if inspector else 409)
    lines = lines_of(s, receipt_id)
    items = _items(s, ctx, [ln.item_id for ln in lines])
    if receipt.kind == PURCHASE:
        assert receipt.supplier_id is not None
        sup = suppliers.get_supplier(s, ctx, receipt.supplier_id)
        if problems := _supply_refusals(s, sup, receipt.business_date, list(items.values())):
            raise refused(problems, status=409)
    elif v := rules.opening_refusal(*_opening_closed(s, ctx)):
        raise refused([v], status=409)
    # each batch lands where the zone admits it as the zone is now (its admissions may have changed since entry)
    zones = {z.id: z for z in _zones(s, ctx).values()}
    if placed := [v for ln in lines if ln.outcome != rules.Outcome.REJECTED.value and ln.zone_id in zones
                  for v in check_placement(item_spec(items[ln.item_id]), zone_spec(zones[ln.zone_id]))]:
        raise refused(placed, status=409)
    before = _image(s, receipt)
    opening = receipt.kind == OPENING
    taken = [ln for ln in lines if ln.outcome != rules.Outcome.REJECTED.value]
    batches = [Batch(store_id=ctx.store_id, item_id=ln.item_id, supplier_id=receipt.supplier_id,
                     batch_no=f"R{receipt_id:06d}-{ln.line_no:03d}", lot_no=ln.lot_no,
                     manufactured_on=ln.manufactured_on, expires_on=ln.expires_on, cost_fen=ln.unit_cost_fen,
                     zone_id=ln.zone_id, received_at=ctx.now) for ln in taken]
    s.add_all(batches)
    s.flush()
    moves: list[ledger.Move] = []
    for ln, batch in zip(taken, batches, strict=True):
        item = items[ln.item_id]
        ln.batch_id = batch.id
        base = ln.qty * item.split_ratio + ln.loose
        held = ln.outcome == rules.Outcome.QUARANTINE.value
        # a delivered line at no cost is a gift (赠品入库: 3503 with prod_geay_flag 1)
        kind = MovementKind.OPENING if opening else MovementKind.GIFT_IN if ln.unit_cost_fen == 0 else \
            MovementKind.PURCHASE
        moves.append(ledger.Move(id_of(batch), ln.item_id, kind.value, base, "receipt_line", str(id_of(ln)),
                                 location=ledger.QUARANTINE if held else ledger.SELLABLE, note=ln.reason if held else "",
                                 cost_fen=ledger.unit_cost(ln.unit_cost_fen, item.split_ratio, base),
                                 retail_fen=ledger.retail_of(item, base)))
    receipt.status, receipt.approved_by, receipt.approved_at = APPROVED, ctx.actor.user_id, ctx.now
    s.add(receipt)
    movements = ledger.append(u, ctx, moves)
    audit.record(u, ctx.store_id, ctx.actor, f"receipt.approve_{receipt.kind}", "receipt", receipt_id, before,
                 _image(s, receipt) | {"batches": [audit.snapshot(b) for b in batches],
                                       "movements": audit.compact(movements)}, note=note)
    return receipt


def release(u: Unit, ctx: Ctx, receipt_id: int, line_no: int, reason: str) -> list[dict[str, Any]]:
    """待验放行: a line held in quarantine at approval, found fit on re-inspection, goes to the shelf (quarantine_out,
    at the cost it holds there). Only an approved receipt's held line, with a reason; the movements written."""
    s = orm(u)
    receipt = get_receipt(s, ctx, receipt_id, lock=True)
    line = next((ln for ln in lines_of(s, receipt_id) if ln.line_no == line_no), None)
    if line is None:
        raise not_found("入库单行", "receipt line", receipt_id=receipt_id, line_no=line_no)
    if not reason.strip():
        raise AppError(422, "GSP-05", "待验放行须填写复检结论", "a release from quarantine needs the re-inspection's finding")
    held = ledger.held_in(u, line.batch_id, ledger.QUARANTINE) if line.batch_id is not None else 0
    if receipt.status != APPROVED or line.outcome != rules.Outcome.QUARANTINE.value or held <= 0:
        raise AppError(409, "GSP-05", f"入库单 {receipt_id} 第 {line_no} 行没有待验库存可放行",
                       f"line {line_no} of receipt {receipt_id} holds nothing in quarantine to release",
                       {"status": receipt.status, "outcome": line.outcome, "held": held})
    assert line.batch_id is not None
    moved = ledger.relocate(u, ctx, line.batch_id, line.item_id, held, ledger.QUARANTINE, ledger.SELLABLE,
                            MovementKind.QUARANTINE_OUT.value, "receipt_line", str(id_of(line)), note=reason.strip())
    audit.record(u, ctx.store_id, ctx.actor, "receipt.release", "receipt", receipt_id, None,
                 {"line_no": line_no, "movements": moved}, note=reason.strip())
    return moved


def list_receipts(s: Session, ctx: Ctx, status: str | None = None, latest: int | None = None,
                  item_id: int | None = None, trace_code: str | None = None) -> list[Receipt]:
    """The store's receipts, oldest first: of a status, only the `latest` so many, with a line of an item, or the one
    a box's 追溯码 came in on (what a return to the supplier looks for)."""
    q = select(Receipt).where(Receipt.store_id == ctx.store_id)
    if status:
        q = q.where(Receipt.status == status)
    if item_id is not None:
        q = q.where(col(Receipt.id).in_(select(ReceiptLine.receipt_id).where(ReceiptLine.item_id == item_id)))
    if trace_code is not None:
        q = q.where(col(Receipt.id).in_(
            select(ReceiptLine.receipt_id).join(ReceiptTraceCode, col(ReceiptTraceCode.line_id) == col(ReceiptLine.id))
            .where(ReceiptTraceCode.store_id == ctx.store_id, ReceiptTraceCode.code == trace_code.strip())))
    if latest is not None:
        return list(reversed(s.exec(q.order_by(col(Receipt.id).desc()).limit(latest)).all()))
    return list(s.exec(q.order_by(col(Receipt.id))))


def pending_qty(s: Session, ctx: Ctx, item_id: int) -> list[tuple[int, int]]:
    """What of an item waits on receipts not yet approved: [(receipt id, split units)], for a refusal to name."""
    rows = s.exec(select(Receipt.id, ReceiptLine.qty, ReceiptLine.loose, Item.split_ratio)
                  .join(ReceiptLine, col(ReceiptLine.receipt_id) == col(Receipt.id))
                  .join(Item, col(Item.id) == col(ReceiptLine.item_id))
                  .where(Receipt.store_id == ctx.store_id, Receipt.status != APPROVED, ReceiptLine.item_id == item_id,
                         ReceiptLine.outcome != rules.Outcome.REJECTED.value)).all()
    out: dict[int, int] = {}
    for rid, qty, loose, ratio in rows:
        key = int(rid or 0)
        out[key] = out.get(key, 0) + int(qty) * int(ratio) + int(loose)
    return sorted(out.items())
