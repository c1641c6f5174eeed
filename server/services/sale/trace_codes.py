"""药品追溯码 at the till: each box of a traced drug is scanned into its sale line.

Refused, each with the reason: a code that is not 20 digits starting with 8 (CODE-TRACE); a code
already sold as a whole box and not returned — a possible resale or swap (TRACE-SOLD); a box opened
for 拆零 sold again whole (TRACE-SOLD); the same code twice (TRACE-DUP) or on another open basket
(TRACE-TAKEN); more codes than boxes (TRACE-COUNT); a code received into this store as another item, or
whose box is not on the shelf (ST-01, GSP-05: server.services.stock.trace_codes). At completion every traced line carries one code
per box (a split line: its box's code) unless the item is flagged code-less stock 无码 (TRACE-MISSING).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from catalog.codes import check_trace_code
from server import audit
from server.db.models import Item, Sale, SaleLine, SaleStatus, SaleTraceCode
from server.db.models.base import id_of, table_of
from server.db.prepared import Prepared
from server.db.uow import Reader, Unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.rules.stock import received_code_refusal
from server.services.context import Ctx
from server.services.stock import trace_codes as stock_codes

_CODES = table_of(SaleTraceCode)
# Prepared: a scan into a basket of traced drugs answers with their codes, from the event loop's unit too.
_CODES_OF_SALE = Prepared(sa.select(_CODES.c.sale_line_id, _CODES.c.code)
                          .where(_CODES.c.sale_id == sa.bindparam("sale")).order_by(_CODES.c.id))


def codes_by_line(r: Reader, sale_id: str) -> dict[int, list[str]]:
    r.flush()  # codes just added through the ORM are read too
    out: dict[int, list[str]] = {}
    for line_id, code in _CODES_OF_SALE.rows(r.connection(), {"sale": sale_id}):
        out.setdefault(line_id, []).append(code)
    return out


def add_code(u: Unit, ctx: Ctx, sale: Sale, line_id: int, code: str) -> SaleTraceCode:
    s = orm(u)
    code = code.strip()
    line = s.get(SaleLine, line_id)
    if line is None or line.sale_id != sale.id:
        raise not_found("销售行", "sale line", line_id=line_id)
    item = s.get(Item, line.item_id)
    assert item is not None
    if not item.traced:
        raise AppError(422, "TRACE-NOT-TRACED", f"{item.name} 不是追溯码管理的药品，无需扫码",
                       f"{item.code} is not sold with trace codes", {"item": item.code})
    if problems := check_trace_code(code):
        raise refused(problems)
    if (box := stock_codes.received(s, ctx, code)) and (v := received_code_refusal(
            code, item.name, id_of(item), box.item_id, box.approved, box.on_shelf)):
        raise refused([v], status=409)
    mine = list(s.exec(select(SaleTraceCode).where(SaleTraceCode.sale_line_id == line.id)))
    if any(t.code == code for t in s.exec(select(SaleTraceCode).where(SaleTraceCode.sale_id == sale.id))):
        raise conflict("TRACE-DUP", f"追溯码 {code} 已在本单扫描过", f"trace code {code} is already on this sale", code=code)
    if len(mine) >= (1 if line.split else line.qty):
        raise AppError(422, "TRACE-COUNT", f"{item.name} 已扫满 {len(mine)} 个追溯码（每盒一个；拆零扫所拆的那一盒）",
                       f"{item.code} already has its {len(mine)} code(s): one per box, a split line its box's",
                       {"line_id": line.id, "codes": len(mine)})
    others = s.exec(select(SaleTraceCode, Sale.status).join(Sale, col(Sale.id) == SaleTraceCode.sale_id)
                    .where(SaleTraceCode.store_id == ctx.store_id, SaleTraceCode.code == code,
                           col(SaleTraceCode.returned_in).is_(None), SaleTraceCode.sale_id != sale.id)).all()
    for other, status in others:
        if other.sold and not other.split:
            raise conflict("TRACE-SOLD", f"追溯码 {code} 已于其他销售单售出且未退回，疑似重复销售或调包，不得再次销售",
                           f"trace code {code} was already sold and never came back: possible resale or swap",
                           code=code, sale_id=other.sale_id)
        if other.sold and other.split and not line.split:
            raise conflict("TRACE-SOLD", f"追溯码 {code} 对应的这盒已拆零销售，不能再整盒销售",
                           f"the box {code} was opened for split sales: it cannot be sold whole", code=code)
        if not other.sold and status in (SaleStatus.OPEN.value, SaleStatus.SUSPENDED.value, SaleStatus.SETTLING.value) \
                and not (other.split and line.split):
            raise conflict("TRACE-TAKEN", f"追溯码 {code} 正在另一张未结账的销售单中", f"trace code {code} is on another open sale",
                           code=code, sale_id=other.sale_id)
    row = SaleTraceCode(store_id=ctx.store_id, sale_id=sale.id, sale_line_id=id_of(line), item_id=id_of(item), code=code,
                        split=line.split, scanned_by=ctx.actor_id, scanned_at=ctx.now)
    s.add(row)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "sale.trace_code", "sale_trace_code", row.id, None,
                 audit.snapshot(row) | {"item": item.code})
    return row


def remove_code(u: Unit, ctx: Ctx, sale: Sale, line_id: int, code: str) -> None:
    s = orm(u)
    row = s.exec(select(SaleTraceCode).where(SaleTraceCode.sale_id == sale.id, SaleTraceCode.sale_line_id == line_id,
                                             SaleTraceCode.code == code)).first()
    if row is None:
        raise not_found("追溯码", "trace code", code=code)
    before = audit.snapshot(row)
    s.delete(row)
    audit.record(u, ctx.store_id, ctx.actor, "sale.trace_code_remove", "sale_trace_code", row.id, before, None)


_SOLD = sa.update(_CODES).where(_CODES.c.sale_id == sa.bindparam("sale")).values(sold=True)


def mark_sold(u: Unit, sale_id: str) -> None:
    """At completion. The partial unique index refuses a whole box sold twice even if two tills raced."""
    s = orm(u)
    try:
        with s.begin_nested():
            s.connection().execute(_SOLD, {"sale": sale_id})
    except sa.exc.IntegrityError:
        raise conflict("TRACE-SOLD", "本单有追溯码刚在其他收款机售出，请核对药盒", "a trace code of this sale was just sold on another till") from None


def mark_returned(u: Unit, sale_line_id: int, boxes: int, return_id: str) -> list[SaleTraceCode]:
    """Whole boxes that came back free their codes (the last scanned first); an opened box's code stays. The
    codes freed (the return's entry images them)."""
    s = orm(u)
    rows = list(s.exec(select(SaleTraceCode).where(SaleTraceCode.sale_line_id == sale_line_id,
                                                   col(SaleTraceCode.returned_in).is_(None),
                                                   col(SaleTraceCode.split).is_(False))
                       .order_by(col(SaleTraceCode.id).desc()).limit(boxes)))
    for r in rows:
        r.returned_in = return_id
        s.add(r)
    return rows


def count_for_line(s: Session, sale_line_id: int) -> int:
    return len(s.exec(select(SaleTraceCode.id).where(SaleTraceCode.sale_line_id == sale_line_id)).all())


def drop_line_codes(u: Unit, sale_line_id: int) -> list[dict[str, Any]]:
    """A removed basket line takes its scanned codes with it; their images, for the caller's entry of the
    removal (audit.NESTED: the line's "trace_codes")."""
    s = orm(u)
    rows = list(s.exec(select(SaleTraceCode).where(SaleTraceCode.sale_line_id == sale_line_id)))
    images = [audit.snapshot(r) for r in rows]
    for r in rows:
        s.delete(r)
    if rows:
        s.flush()
    return images
