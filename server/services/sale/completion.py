"""Completing a sale: the moment it becomes final.

In one transaction: what refuses the completion is asked once (`refusal`, the same for the cash payment
and for the card's precheck before 2102), the sale number is taken, stock leaves by batch (FEFO, through
the stock ledger), tenders are recorded, the receipt is queued and the audit entry written. A retried
completion with the same sale id returns the first result and changes nothing (the till may retry for
ever).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from catalog.classes import GspClass
from server import audit
from server.db.models import (
    MovementKind,
    SaleStatus,
    ShiftStatus,
    Store,
    TenderKind,
    Till,
)
from server.db.models.base import table_of
from server.db.prepared import Prepared
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, refused
from server.rules.agreement import till_refusals
from server.rules.completion import CompletionFacts, LineFacts, Refusal, completion_refusal, trace_code_refusal
from server.rules.tenders import TenderOffer, change_fen
from server.services import printing, sales_ledger
from server.services.catalog.items import get_item
from server.services.context import Ctx
from server.services.rx import dispensing as rx_dispensing
from server.services.rx import platform_sale
from server.services.sale import trace_codes
from server.services.sale.lines import (
    ITEM,
    ITEM_COLUMNS,
    LINE,
    LINE_VIEW_KEYS,
    PLACEMENT_COLUMNS,
    SHIFT,
    SHOWN_COLUMNS,
    SNAPSHOT_ONLY,
    VIEW_KEYS,
    ZONE,
    base_qty,
    check_available,
    placement_refusals,
    presence_refusals,
    snapshot_of,
)
from server.services.stock import ledger
from server.services.store.profile import usable_till
from server.services.store.shifts import open_shift_for


@dataclass
class Completion:
    sale: Any  # the sale's row as committed (sales_ledger's named tuple: what complete() read and wrote)
    replayed: bool = False
    allocations: list[dict[str, int]] = field(default_factory=list)
    lines: list[dict[str, Any]] | None = None  # the line views (lines.line_views), when the completion has them


_TILL: sa.Table = table_of(Till)
_STORE: sa.Table = table_of(Store)
_SELLING_POINT = Prepared(sa.select(_TILL.c.id, _TILL.c.store_id, _TILL.c.site_code, _TILL.c.status,
                                    _STORE.c.site_code.label("store_site"), SHIFT.c.id.label("shift_id"))
                          .select_from(_TILL).join(_STORE, _STORE.c.id == _TILL.c.store_id)
                          .outerjoin(SHIFT, (SHIFT.c.till_id == _TILL.c.id) & (SHIFT.c.status == ShiftStatus.OPEN.value))
                          .where(_TILL.c.store_id == sa.bindparam("sid"), _TILL.c.code == sa.bindparam("code")))


# The sale's items as the catalog has them now (with what the till shows of them, their placement, and what a
# line keeps of them), found through the sale's lines: one statement, whatever the number of items. The
# completion's rules judge by these, and the lines keep exactly these.
_SALE_ITEM_IDS = sa.select(LINE.c.item_id).where(LINE.c.sale_id == sa.bindparam("sale"))
_ITEMS_FOR_STOCK = Prepared(sa.select(*ITEM_COLUMNS, *SHOWN_COLUMNS, *PLACEMENT_COLUMNS, *SNAPSHOT_ONLY)
                            .outerjoin(ZONE, ZONE.c.id == ITEM.c.zone_id)
                            .where(ITEM.c.store_id == sa.bindparam("sid"), ITEM.c.id.in_(_SALE_ITEM_IDS)))


def _selling_point(u: Unit, ctx: Ctx, till_code: str) -> tuple[int, int]:
    """The registered till and its open shift, in one read: CARD-06 / AGR-02, and a closed shift takes no sale."""
    row = _SELLING_POINT.first(u.connection(), {"sid": ctx.store_id, "code": till_code})
    if row is None or till_refusals(row.store_id, row.site_code, row.status, ctx.store_id, row.store_site):
        usable_till(orm(u), ctx, till_code)  # the refusal, worded once
    if row.shift_id is None:
        open_shift_for(orm(u), ctx, till_code)  # the refusal, worded once
    return int(row.id), int(row.shift_id)


def _error(r: Refusal) -> AppError:
    return AppError(r.status, r.code, r.message_zh, r.message_en, r.details)


@dataclass
class _Checked:
    """What the checks read, for the completion to go on with: nothing is read twice."""

    lines: list[dict[str, Any]]
    items: dict[int, Any]
    dispensing: dict[int, int]  # sale line -> prescription line (RX-04's plan)
    traced: bool


def refusal_check(u: Unit, ctx: Ctx, sale: Any, till_code: str, offers: list[TenderOffer], settling: bool,
                  card_part_pending: bool = False, stock: bool = True) -> _Checked:
    """Everything that refuses a completion, in one order, for the cash payment and the card's precheck alike:
    the sale's state, tender, till and shift, lines and tenders (rules.completion); a pharmacist on duty for
    the goods that wait for one (RX-10); the prescription (RX-01/04/10); the trace codes; the stock (GSP-06).
    Raises the first refusal.

    `stock=False`: the completion itself, whose locked taking of stock (_take_stock) refuses a shortage with
    the same body (ledger.shortage) — the stock is not read twice on the payment's path."""
    checked, found = _refusals(u, ctx, sale, till_code, offers, settling, card_part_pending, stock, every=False)
    if found:
        raise found[0]
    assert checked is not None
    return checked


def missing(u: Unit, ctx: Ctx, sale_id: str, till_code: str) -> list[AppError]:
    """What stands between the sale and its payment now, every refusal the completion would give (refusal_check,
    the same checks in the same order) before any tender is offered: empty when it may be paid. A refusal of
    the sale itself (its state, till, shift, no lines) is alone: the rest is not asked. Reads only."""
    sale = sales_ledger.sale(u, ctx, sale_id)
    return _refusals(u, ctx, sale, till_code, [], settling=False, card_part_pending=True, stock=True, every=True)[1]


def _refusals(u: Unit, ctx: Ctx, sale: Any, till_code: str, offers: list[TenderOffer], settling: bool,
              card_part_pending: bool, stock: bool, every: bool) -> tuple[_Checked | None, list[AppError]]:
    """refusal_check's checks: the first refusal (every=False), or every one after the sale's own (every=True)."""
    till_id, shift_id = _selling_point(u, ctx, till_code)
    lines = sales_ledger.lines(u, sale.id)
    items = ({r.id: r for r in _ITEMS_FOR_STOCK.rows(u.connection(), {"sid": ctx.store_id, "sale": sale.id})}
             if lines else {})
    traced = any(items[ln["item_id"]].traced for ln in lines)
    codes = trace_codes.codes_by_line(u, sale.id) if traced else {}
    facts = CompletionFacts(
        sale_status=sale.status, sale_till_id=sale.till_id, sale_shift_id=sale.shift_id, till_id=till_id,
        shift_id=shift_id, offers=offers, settling=settling, card_part_pending=card_part_pending,
        lines=[LineFacts(ln["id"], items[ln["item_id"]].code, items[ln["item_id"]].name, ln["qty"], ln["split"],
                         ln["amount_fen"], bool(items[ln["item_id"]].traced and not items[ln["item_id"]].no_code_stock),
                         len(codes.get(ln["id"], ()))) for ln in lines])
    if (r := completion_refusal(facts)) is not None:
        return None, [_error(r)]
    found: list[AppError] = []
    dispensing: dict[int, int] = {}
    # The catalog may have changed since the scan (a class, a zone): its placement judged again, as the line
    # will keep it (GSP-01..03).
    if problems := [v for item in items.values() for v in placement_refusals(item)]:
        found.append(refused(problems))
    if problems := presence_refusals(u, ctx, items.values()):  # RX-10 again: the pharmacist may have left since the scan
        found.append(refused(problems))
    if found and not every:
        return None, found
    try:
        dispensing = _prescription_check(u, ctx, sale, lines, items)
    except AppError as exc:
        found.append(exc)
        if not every:
            return None, found
    if (r := trace_code_refusal(facts.lines)) is not None:
        found.append(_error(r))
        if not every:
            return None, found
    for item_id, item in items.items() if stock else ():
        try:
            check_available(u, ctx, item, sum(base_qty(item, ln["split"], ln["qty"])
                                              for ln in lines if ln["item_id"] == item_id))
        except AppError as exc:
            found.append(exc)
            if not every:
                return None, found
    return _Checked(lines, items, dispensing, traced), found


def _prescription_check(u: Unit, ctx: Ctx, sale: Any, lines: list[dict[str, Any]],
                        items: dict[int, Any]) -> dict[int, int]:
    """RX-01 for every tender: Rx lines only against an approved prescription (RX-04, RX-10 with it)."""
    rx_lines = [rx_dispensing.RxLineView(ln["id"], ln["item_id"], items[ln["item_id"]].name, ln["qty"], ln["split"],
                                         items[ln["item_id"]].split_ratio)
                for ln in lines if items[ln["item_id"]].gsp_class == GspClass.RX.value]
    if not rx_lines:
        return {}
    plan, problems = rx_dispensing.completion_refusals(orm(u), ctx, sale, rx_lines)
    if problems:
        raise refused(problems)
    return plan


def complete(u: Unit, ctx: Ctx, sale_id: str, till_code: str, offers: list[TenderOffer],
             settling: bool = False) -> Completion:
    """Make the sale final: number, stock by batch, tenders, receipt, audit — one transaction; a retry replays.

    `settling`: called by the card settlement with the centre's answer; only then may an insurance tender
    pay and a sale marked "settling" complete (CARD-01: the card's part is the centre's, not the client's).
    """
    u.flush()  # the sale is read through the connection: what the caller changed in the session is written first
    sale = sales_ledger.sale(u, ctx, sale_id, lock=True)
    if sale.status == SaleStatus.COMPLETED.value:
        # A retry from the till that completed it gets the first result; another till is told it lost.
        if usable_till(orm(u), ctx, till_code).id != sale.till_id:
            raise conflict("SALE-TAKEN", f"该销售单已在其他收款机完成（小票号 {sale.sale_no}）",
                           f"the sale was completed on another till ({sale.sale_no})", sale_no=sale.sale_no)
        return Completion(sale, replayed=True)
    if sale.prescription_id is not None:
        orm(u)  # its checks (RX-01/04/10) read through the ORM: asked for first, before work the loop's unit would undo
    checked = refusal_check(u, ctx, sale, till_code, offers, settling, stock=False)
    lines, items = checked.lines, checked.items
    before = audit.row_image(sale._asdict())
    allocations, movements, costs = _take_stock(u, ctx, sale.id, lines, items)
    # Each line keeps what the checks above judged of its item (not what its scan saw), what its stock cost,
    # and an Rx line its prescription line: all lines in one statement.
    # A card sale's lines keep what the centre settled them by (the line's own 医保 facts, sales_ledger.card_facts),
    # so the line and the settlement never disagree; the class stays the one the checks above judged.
    for ln in lines:
        item = items[ln["item_id"]]
        sold = snapshot_of(item)
        if settling:
            card = sales_ledger.card_facts(ln, sold)
            sold |= {k: card[k] for k in sales_ledger.CARD_KEYS if k != "gsp_class"}
        ln.update(sold, cost_fen=costs[ln["id"]], rx_line_id=checked.dispensing.get(ln["id"], ln["rx_line_id"]))
    sales_ledger.finish_lines(u, lines)
    if checked.traced:
        trace_codes.mark_sold(u, sale.id)
    day, no = ctx.today, sales_ledger.next_number(u, ctx)
    total = sum(ln["amount_fen"] for ln in lines)
    final = {"business_date": day, "day_no": no, "sale_no": f"{day:%Y%m%d}-{no:04d}",
             "status": SaleStatus.COMPLETED.value, "completed_by": ctx.actor.user_id, "completed_at": ctx.now,
             "total_fen": total, "change_fen": change_fen(offers)}
    sales_ledger.finish(u, sale.id, final)
    done = sale._replace(**final)
    tenders = [{"store_id": ctx.store_id, "sale_id": sale.id, "kind": o.kind, "amount_fen": o.amount_fen,
                "tendered_fen": o.tendered_fen, "reference": o.reference} for o in offers]
    sales_ledger.add_tenders(u, tenders)
    if sale.prescription_id is not None:  # a platform prescription's sale is reported to it, with the sale (#23)
        platform_sale.on_complete(u, ctx, sale, lines, offers, movements,
                                  trace_codes.codes_by_line(u, sale.id) if checked.traced else {})
    # Intent first: the receipt's job (and a cash sale's drawer kick) commits with the sale (CARD-05 for a card).
    jobs = printing.queue_receipt(u, ctx, sale.id, till_code, cash=any(o.kind == TenderKind.CASH.value for o in offers))
    # Every row the completion wrote is imaged in its entry (audit.NESTED), so audit verify names an edit of any
    # (the stock taken by line and batch is in the movements: ref_id is the line).
    audit.record(u, ctx.store_id, ctx.actor, "sale.complete", "sale", sale.id, before,
                 audit.row_image(done._asdict()) | {"lines": lines, "tenders": tenders,
                                                    "movements": audit.compact(movements), "print_jobs": jobs})
    views = [{k: ln[k] for k in LINE_VIEW_KEYS} | {k: getattr(items[ln["item_id"]], k) for k in VIEW_KEYS}
             for ln in lines]
    return Completion(done, allocations=allocations, lines=views)


def precheck(u: Unit, ctx: Ctx, sale: Any, till_code: str, offers: list[TenderOffer]) -> None:
    """What completion would refuse, asked before a card settlement leaves for the centre (the same function,
    the same bodies), so a refusal costs no 2102 and its reversal. The card's share is not known yet: the
    tenders are checked one by one, not against the total."""
    refusal_check(u, ctx, sale, till_code, offers, settling=False, card_part_pending=True)


def _take_stock(u: Unit, ctx: Ctx, sale_id: str, lines: list[dict[str, Any]],
                items: dict[int, Any]) -> tuple[list[dict[str, int]], list[dict[str, Any]], dict[int, int]]:
    """Stock leaves by batch, earliest expiry first, only from batches the ledger calls sellable (GSP-06).

    All the sale's items in one locked read; the movements through the ledger's one writer. The takes by line,
    the movements as written, and what each line's stock cost (what its movements took of their batches' cost).
    """
    batches = ledger.fefo_for_sale(u, ctx, sale_id)
    out: list[dict[str, int]] = []
    for item_id in sorted(items):
        item = items[item_id]
        mine = [ln for ln in lines if ln["item_id"] == item_id]
        need = sum(base_qty(item, ln["split"], ln["qty"]) for ln in mine)
        fefo = batches.get(item_id, [])
        if need > sum(q for _, q in fefo):
            full = get_item(orm(u), ctx, item_id)  # the refusal names the batches and why they cannot be sold
            raise ledger.shortage(full, need, ledger.availability(orm(u), ctx, full))
        for ln in mine:
            for batch_id, take in ledger.fefo([(b, q) for b, q in fefo], base_qty(item, ln["split"], ln["qty"])):
                out.append({"line_id": ln["id"], "batch_id": batch_id, "qty": take, "item_id": item_id})
                for held in fefo:
                    if held[0] == batch_id:
                        held[1] -= take
            fefo[:] = [held for held in fefo if held[1] > 0]
    # Each take's retail worth: its share of the line's amount (the last take of a line the remainder).
    by_line: dict[int, list[int]] = {}
    for n, a in enumerate(out):
        by_line.setdefault(a["line_id"], []).append(n)
    retail = [0] * len(out)
    amounts = {ln["id"]: int(ln["amount_fen"]) for ln in lines}
    for line_id, idx in by_line.items():
        for n, r in zip(idx, ledger.split_amount(amounts[line_id], [out[n]["qty"] for n in idx]), strict=True):
            retail[n] = r
    movements = ledger.append(u, ctx, [ledger.Move(a["batch_id"], a["item_id"], MovementKind.SALE.value, -a["qty"],
                                                   "sale_line", str(a["line_id"]), retail_fen=-r)
                                       for a, r in zip(out, retail, strict=True)])
    # The line keeps what its stock cost: the cost its movements took, so the snapshot and the ledger agree.
    costs = {ln["id"]: 0 for ln in lines}
    for mv in movements:
        costs[int(mv["ref_id"])] -= int(mv["cost_fen"])
    return [{"line_id": a["line_id"], "batch_id": a["batch_id"], "qty": a["qty"]} for a in out], movements, costs
