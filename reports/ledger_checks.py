"""The checks an inspector makes on a 进销存, shown on the report (ST-01, issue #20):

1. A batch's stock never goes below zero at any point of the period in any location — so its sales never exceed
   its opening and what came in before them (walked movement by movement, in the order they were written).
2. 医保 sales quantity per item = the quantity settled on the card: what left stock for the lines a standing
   settlement lists (the ledger) against the cnt of the settlement's own lines (CardSettlement.lines, as sent
   and settled), both in the smallest sale unit. 甲/乙 lines of those sales the card did not pay are shown
   beside it (they are sold for cash, not a difference). Once uploads exist: = what the centre accepted (#21).
3. Book vs count: every 盘盈/盘亏 movement of the period with the count document that explains it (stock care's
   count_line: counted − book = the movement, on a posted sheet). Where this database has no count documents
   yet, each is shown as 需人工确认 naming what is missing — never a silent 合格.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from reports import queries
from server.rules.movements import MovementKind

if TYPE_CHECKING:
    from reports.ledger import LedgerReport

OK, FAIL, MANUAL = "合格", "不合格", "需人工确认"
CARD_PAID = ("jia", "yi")


@dataclass(frozen=True, slots=True)
class Shortfall:
    """The first point a batch's stock in a location went below zero in the period."""

    batch_id: int
    location: str
    movement_id: int
    business_date: Any
    kind: str
    ref: str
    held: int  # what was there after the movement (negative)


@dataclass(frozen=True, slots=True)
class CardQty:
    item_id: int
    code: str
    ledger_qty: int  # what left stock for the settled lines
    settled_qty: int  # the settlements' own lines (cnt, in the smallest unit)
    unsettled_qty: int  # 甲/乙 lines on those sales the card did not pay

    @property
    def agrees(self) -> bool:
        return self.ledger_qty == self.settled_qty


@dataclass(frozen=True, slots=True)
class CountDiff:
    batch_id: int
    kind: str
    ref_type: str
    ref_id: str
    qty: int
    cost: int
    document: Any  # the count line with its sheet, None if absent
    verdict: str
    why: str


@dataclass
class Checks:
    shortfalls: list[Shortfall] = field(default_factory=list)
    card: list[CardQty] = field(default_factory=list)
    counts: list[CountDiff] = field(default_factory=list)
    count_documents: bool = True  # whether this database has count documents to read

    def verdicts(self) -> dict[str, str]:
        counts = FAIL if any(c.verdict == FAIL for c in self.counts) else (
            MANUAL if any(c.verdict == MANUAL for c in self.counts) else OK)
        return {"stock": FAIL if self.shortfalls else OK,
                "card": OK if all(c.agrees for c in self.card) else FAIL,
                "counts": counts}

    def lines(self) -> list[tuple[str, str, str, str]]:
        """(check, verdict, subject, detail) rows, as the exports show them."""
        v = self.verdicts()
        out = [("批次销售不超过期初+入库", v["stock"], f"{len(self.shortfalls)} 处", "库存任何时点不为负")]
        out += [("批次销售不超过期初+入库", FAIL, f"批次 {s.batch_id} {s.location}",
                 f"{s.business_date} {s.kind} {s.ref} 后结存 {s.held}") for s in self.shortfalls]
        out.append(("医保销售数量=医保结算数量", v["card"], f"{len(self.card)} 个品种", "按品种，最小销售单位"))
        out += [("医保销售数量=医保结算数量", OK if c.agrees else FAIL, c.code,
                 f"出库 {c.ledger_qty}，结算 {c.settled_qty}" + (f"，甲乙类未走医保 {c.unsettled_qty}"
                                                                  if c.unsettled_qty else ""))
                for c in self.card]
        out.append(("账实差异与盘点单", v["counts"], f"{len(self.counts)} 笔盘盈盘亏",
                    "" if self.count_documents else "本库尚无盘点单据表（库存养护上线后核对）"))
        out += [("账实差异与盘点单", c.verdict, f"批次 {c.batch_id} {c.ref_type}:{c.ref_id}", c.why)
                for c in self.counts]
        return out


def run(conn: Connection, report: LedgerReport, from_snapshot: bool = True) -> Checks:
    checks = Checks()
    checks.shortfalls = shortfalls(queries.below_zero(conn, report.store_id, report.start, report.end,
                                                      from_snapshot))
    checks.card = card_quantities(queries.settled_card_sales(conn, report.store_id, report.start, report.end),
                                  queries.sale_lines_taken(conn, report.store_id, report.start, report.end),
                                  queries.item_units(conn, report.store_id))
    moves = queries.refs_of_kinds(conn, report.store_id, report.start, report.end,
                                  [MovementKind.COUNT_GAIN.value, MovementKind.COUNT_LOSS.value])
    docs = queries.count_lines(conn, sorted({m.ref_id for m in moves if m.ref_type == "count_line"}))
    checks.count_documents = docs is not None
    checks.counts = count_differences(moves, docs)
    return checks


def shortfalls(points: Any) -> list[Shortfall]:
    """The first point each batch and location went below zero in the period (queries.below_zero walks them)."""
    out: list[Shortfall] = []
    seen: set[tuple[int, str]] = set()
    for m in points:
        key = (int(m.batch_id), m.location)
        if key not in seen:
            seen.add(key)
            out.append(Shortfall(key[0], key[1], int(m.id), m.business_date, m.kind, f"{m.ref_type}:{m.ref_id}",
                                 int(m.held)))
    return out


def card_quantities(settlements: Any, lines: Any, units: Any) -> list[CardQty]:
    ratio = {int(u.id): int(u.split_ratio or 1) for u in units}
    code_of = {int(u.id): u.code for u in units}
    by_code = {u.code: int(u.id) for u in units}
    line = {int(ln.id): ln for ln in lines}
    settled: dict[int, int] = {}
    ledger_qty: dict[int, int] = {}
    listed: set[int] = set()
    for s in settlements:
        for sl in s.lines or []:
            sn = str(sl.get("feedetl_sn", ""))
            ln = line.get(int(sn)) if sn.isdigit() else None
            item = int(ln.item_id) if ln is not None else by_code.get(str(sl.get("medins_list_codg")), -1)
            cnt = Decimal(str(sl.get("cnt", "0")))
            whole = ln is None or not ln.split
            settled[item] = settled.get(item, 0) + int(cnt * (ratio.get(item, 1) if whole else 1))
            if ln is not None:
                listed.add(int(ln.id))
                ledger_qty[item] = ledger_qty.get(item, 0) + int(ln.taken)
    unsettled: dict[int, int] = {}
    for ln in lines:
        if int(ln.id) not in listed and (ln.insurance_category or "") in CARD_PAID:
            unsettled[int(ln.item_id)] = unsettled.get(int(ln.item_id), 0) + int(ln.taken)
    items = sorted(set(settled) | set(ledger_qty) | set(unsettled), key=lambda i: code_of.get(i, ""))
    return [CardQty(i, code_of.get(i, f"#{i}"), ledger_qty.get(i, 0), settled.get(i, 0), unsettled.get(i, 0))
            for i in items]


def count_differences(moves: Any, docs: Any) -> list[CountDiff]:
    found = {str(d.id): d for d in docs or []}
    out = []
    for m in moves:
        doc = found.get(str(m.ref_id)) if m.ref_type == "count_line" else None
        qty = int(m.qty)
        if docs is None:
            verdict, why = MANUAL, "盘点单据表不存在：请人工核对盘点单"
        elif doc is None:
            verdict, why = FAIL, f"无对应盘点单（{m.ref_type}:{m.ref_id}）"
        elif doc.counted_qty is None or int(doc.counted_qty) - int(doc.book_qty) != qty:
            verdict, why = FAIL, f"盘点单 {doc.sheet_id}：账存 {doc.book_qty}，实存 {doc.counted_qty}，变动 {qty}"
        elif doc.status != "posted":
            verdict, why = FAIL, f"盘点单 {doc.sheet_id} 未审核过账（{doc.status}）"
        else:
            verdict, why = OK, (f"盘点单 {doc.sheet_id}（{doc.business_date}）：账存 {doc.book_qty}，实存 "
                                f"{doc.counted_qty}" + (f"，原因：{doc.reason}" if doc.reason else ""))
        out.append(CountDiff(int(m.batch_id), m.kind, m.ref_type, m.ref_id, qty, int(m.cost), doc, verdict, why))
    return out
