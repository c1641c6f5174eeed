"""The sales ledger's rows — sale, sale_line, tender and the day's number — written here only, by Core
statements built once and run prepared (server.db.prepared).

One table, one write style: the basket, the completion, the card settlement and the prescription's tie to
a sale all change a sale through these functions, so no ORM copy of a row is ever written behind a session
that holds it (a guard in server.db.uow refuses an ORM write to these tables). Reads
return the row as written (RETURNING), a named tuple with the table's columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from server.db.models import DayCounter, Sale, SaleLine, SaleStatus, Tender
from server.db.models.base import table_of
from server.db.prepared import Prepared
from server.db.uow import Reader, Unit
from server.errors import not_found
from server.services.context import Ctx

SALE = table_of(Sale)
LINE = table_of(SaleLine)
TENDER = table_of(Tender)
_COUNTER = table_of(DayCounter)

_BY_ID = (SALE.c.id == sa.bindparam("sale"), SALE.c.store_id == sa.bindparam("sid"))
_SALE = Prepared(sa.select(SALE).where(*_BY_ID))
_SALE_LOCKED = Prepared(sa.select(SALE).where(*_BY_ID).with_for_update())
_SALE_KEYS = tuple(c.key for c in SALE.c)
_OPEN = Prepared(sa.insert(SALE).returning(*SALE.c), _SALE_KEYS)


def sale(r: Reader, ctx: Ctx, sale_id: str, lock: bool = False) -> Any:
    """The sale's row (locked until the unit commits, when `lock`), or NOT_FOUND."""
    r.flush()
    row = (_SALE_LOCKED if lock else _SALE).first(r.connection(), {"sale": sale_id, "sid": ctx.store_id})
    if row is None:
        raise not_found("销售单", "sale", sale_id=sale_id)
    return row


def find_sale(r: Reader, sale_id: str) -> Any:
    """The sale's row whatever its store (to tell an id already used elsewhere), or None."""
    r.flush()
    return _ANY_SALE.first(r.connection(), {"sale": sale_id})


_ANY_SALE = Prepared(sa.select(SALE).where(SALE.c.id == sa.bindparam("sale")))


def open_sale(u: Unit, ctx: Ctx, sale_id: str, till_id: int, shift_id: int) -> Any:
    values = {key: None for key in _SALE_KEYS} | {
        "id": sale_id, "store_id": ctx.store_id, "till_id": till_id, "shift_id": shift_id,
        "status": SaleStatus.OPEN.value, "opened_by": ctx.actor.user_id, "opened_at": ctx.now, "total_fen": 0,
        "change_fen": 0, "void_reason": ""}
    return _OPEN.first(u.connection(), values)


_CHANGES: dict[tuple[str, ...], Prepared] = {}


def change_sale(u: Unit, sale_id: str, **changes: Any) -> Any:
    """Set columns of a sale; the row as it is now."""
    keys = tuple(sorted(changes))
    statement = _CHANGES.get(keys)
    if statement is None:  # one statement per set of columns changed, built on first use
        statement = _CHANGES.setdefault(keys, Prepared(
            sa.update(SALE).where(SALE.c.id == sa.bindparam("sale_"))
            .values({k: sa.bindparam(k) for k in keys}).returning(*SALE.c)))
    u.flush()
    return statement.first(u.connection(), {"sale_": sale_id, **changes})


# --- lines -----------------------------------------------------------------------------------------------

# What a line keeps of its item when sold (SaleLine's comment): written with the line, again at completion.
SNAPSHOT_KEYS = ("gsp_class", "insurance_category", "nhsa_code", "mapping_uploaded_on", "zone_id", "storage")
_LINE_KEYS = ("store_id", "sale_id", "line_no", "item_id", "split", "qty", "unit_price_fen", "amount_fen", "added_at",
              *SNAPSHOT_KEYS)
_ADD_LINE = Prepared(sa.insert(LINE).returning(LINE.c.id), _LINE_KEYS)
# Returns the line's added_at and what it keeps of its item, for the audit's images of the line: read only for
# the line changed.
_SET_LINE = Prepared(sa.update(LINE).where(LINE.c.id == sa.bindparam("line"))
                     .values(qty=sa.bindparam("qty"), amount_fen=sa.bindparam("amount"))
                     .returning(LINE.c.added_at, *(LINE.c[k] for k in SNAPSHOT_KEYS)))
_DROP_LINE = Prepared(sa.delete(LINE).where(LINE.c.id == sa.bindparam("line")))
_ADD_TO_TOTAL = Prepared(sa.update(SALE).where(SALE.c.id == sa.bindparam("sale"))
                         .values(total_fen=SALE.c.total_fen + sa.bindparam("delta")).returning(*SALE.c))
_LINES = Prepared(sa.select(LINE).where(LINE.c.sale_id == sa.bindparam("sale")).order_by(LINE.c.line_no))
# At completion, every line at once: what it keeps of its item as the completion's rules judged it, what its
# stock cost, and (an Rx line) the prescription line it is dispensed against.
FINAL_LINE_KEYS = (*SNAPSHOT_KEYS, "cost_fen", "rx_line_id")
# What the card settles a line by (2101/2102 and the sale line's final image): what was sold, not today's catalog.
CARD_KEYS = ("gsp_class", "insurance_category", "nhsa_code", "mapping_uploaded_on")


def card_facts(line: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The line's class, 医保 category, national code and mapping upload day as kept when it was scanned (issue
    #17: a catalog change after the scan, even an approved one, does not change what is settled). A line kept
    nothing (scanned before migration 0014): the catalog's. The upload day is of the code sold: a mapping
    recorded uploaded after the scan counts when it is that same code (CARD-07: the centre has it now)."""
    if line["gsp_class"] is None:
        return {k: item[k] for k in CARD_KEYS}
    facts = {k: line[k] for k in CARD_KEYS}
    if facts["mapping_uploaded_on"] is None and facts["nhsa_code"] and item["nhsa_code"] == facts["nhsa_code"]:
        facts["mapping_uploaded_on"] = item["mapping_uploaded_on"]
    return facts
_FINISH_LINES = Prepared(sa.update(LINE).where(LINE.c.id == sa.bindparam("line")).values(
    {k: sa.bindparam(f"new_{k}", type_=LINE.c[k].type) for k in FINAL_LINE_KEYS}))


def lines(r: Reader, sale_id: str) -> list[dict[str, Any]]:
    """The sale's lines as written, in order."""
    r.flush()
    return [row._asdict() for row in _LINES.rows(r.connection(), {"sale": sale_id})]


def add_line(u: Unit, values: dict[str, Any]) -> int:
    """A new line (values: _LINE_KEYS); its id."""
    return int(_ADD_LINE.scalar(u.connection(), values))


def set_line(u: Unit, line_id: int, qty: int, amount_fen: int) -> Any:
    """A line's new quantity and amount; the line's added_at and what it keeps of its item (SNAPSHOT_KEYS), for
    the audit's images."""
    return _SET_LINE.first(u.connection(), {"line": line_id, "qty": qty, "amount": amount_fen})


def drop_line(u: Unit, line_id: int) -> None:
    """A line taken off an open basket (the audit keeps it; a completed sale's lines never change)."""
    _DROP_LINE.run(u.connection(), {"line": line_id})


def add_to_total(u: Unit, sale_id: str, delta_fen: int) -> Any:
    """The sale's total moved by `delta_fen`; the sale's row as it is now."""
    return _ADD_TO_TOTAL.first(u.connection(), {"sale": sale_id, "delta": delta_fen})


def finish_lines(u: Unit, lines: Sequence[dict[str, Any]]) -> None:
    """The lines made final with their sale (each: its id and FINAL_LINE_KEYS), in one statement run for all."""
    _FINISH_LINES.run_many(u.connection(), [{"line": ln["id"]} | {f"new_{k}": ln[k] for k in FINAL_LINE_KEYS}
                                            for ln in lines])


# --- completion ----------------------------------------------------------------------------------------------

def _taking_a_number(insert: Any) -> Prepared:
    """The day's next number in one statement: the day's row made at its first sale, moved on at the others;
    the row stays locked until the sale commits, and two first sales at once both get a number (ON CONFLICT)."""
    first = insert(_COUNTER).values(store_id=sa.bindparam("sid"), business_date=sa.bindparam("day"), last_no=1)
    return Prepared(first.on_conflict_do_update(index_elements=[_COUNTER.c.store_id, _COUNTER.c.business_date],
                                                set_={"last_no": _COUNTER.c.last_no + 1})
                    .returning(_COUNTER.c.last_no))


_NEXT_NO = {"sqlite": _taking_a_number(sqlite_dialect.insert), "postgresql": _taking_a_number(postgresql_dialect.insert)}
_ADD_TENDERS = Prepared(sa.insert(TENDER), ("store_id", "sale_id", "kind", "amount_fen", "tendered_fen", "reference"))
FINAL_KEYS = ("business_date", "day_no", "sale_no", "status", "completed_by", "completed_at", "total_fen", "change_fen")
_FINISH = Prepared(sa.update(SALE).where(SALE.c.id == sa.bindparam("sale")), FINAL_KEYS)


def next_number(u: Unit, ctx: Ctx) -> int:
    """Gap-free per store and business day (the store's): the counter row stays locked until the sale commits."""
    conn = u.connection()
    return int(_NEXT_NO[conn.dialect.name].scalar(conn, {"sid": ctx.store_id, "day": ctx.today}))


def finish(u: Unit, sale_id: str, final: dict[str, Any]) -> None:
    """The sale made final (final: FINAL_KEYS)."""
    _FINISH.run(u.connection(), {"sale": sale_id, **final})


def add_tenders(u: Unit, tenders: Sequence[dict[str, Any]]) -> None:
    _ADD_TENDERS.run_many(u.connection(), tenders)
