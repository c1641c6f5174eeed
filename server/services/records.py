"""The floor under the wings: reads several use cases need — a sale, its lines and tenders, what of it
came back, its card settlement and insured person, who was on duty.

Read-only. A wing (sale, card, rx, stock, store …) calls down to these instead of into another wing, so
the wings never import each other in a circle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.db.models import (
    CardSettlement,
    PharmacistDuty,
    Sale,
    SaleInsured,
    SaleLine,
    SaleReturnLine,
    SettlementStatus,
    Tender,
    User,
)
from server.db.models.base import table_of
from server.db.uow import Reader
from server.errors import not_found
from server.services.context import Ctx

# Built once: on the completion's path, building and keying the statement cost as much as running it.
_SALE_BY_ID = select(Sale).where(Sale.id == sa.bindparam("sale"), Sale.store_id == sa.bindparam("sid"))
_SALE_BY_ID_LOCKED = _SALE_BY_ID.with_for_update()


def get_sale(s: Session, ctx: Ctx, sale_id: str, lock: bool = False) -> Sale:
    sale = s.exec(_SALE_BY_ID_LOCKED if lock else _SALE_BY_ID, params={"sale": sale_id, "sid": ctx.store_id}).first()
    if sale is None:
        raise not_found("销售单", "sale", sale_id=sale_id)
    return sale


def sale_by_number(s: Session, ctx: Ctx, sale_no: str) -> Sale:
    sale = s.exec(select(Sale).where(Sale.store_id == ctx.store_id, Sale.sale_no == sale_no)).first()
    if sale is None:
        raise not_found(f"小票号 {sale_no} 对应的销售单", f"sale number {sale_no}", sale_no=sale_no)
    return sale


def lines_of(s: Session, sale_id: str) -> list[SaleLine]:
    return list(s.exec(select(SaleLine).where(SaleLine.sale_id == sale_id).order_by(col(SaleLine.line_no))))


# The two reads a sale as the till shows it needs (server.api.selling.sale_out), from a read session or from
# the unit that just changed the sale: through its connection, as the sale's lines are read.
_TENDER = table_of(Tender)
_RETURNED = table_of(SaleReturnLine)


def tenders_of(r: Reader, sale_id: str) -> list[Any]:
    """The sale's tenders as written (rows with the table's columns), in the order they were paid."""
    r.flush()
    return list(r.connection().execute(sa.select(_TENDER).where(_TENDER.c.sale_id == sale_id).order_by(_TENDER.c.id)))


def returned_so_far(r: Reader, line_ids: list[int]) -> dict[int, int]:
    """How much of each sale line came back already, in the unit the line was sold in."""
    if not line_ids:
        return {}
    r.flush()
    rows = r.connection().execute(sa.select(_RETURNED.c.sale_line_id, sa.func.sum(_RETURNED.c.qty))
                                  .where(_RETURNED.c.sale_line_id.in_(line_ids)).group_by(_RETURNED.c.sale_line_id))
    return {int(i): int(q) for i, q in rows}


def insured_of(s: Session, sale_id: str) -> SaleInsured | None:
    """The insured person the sale was identified for (1101's snapshot)."""
    return s.exec(select(SaleInsured).where(SaleInsured.sale_id == sale_id)).first()


def settled_of(s: Session, sale_id: str) -> CardSettlement | None:
    """The sale's card settlement in effect, if any."""
    return s.exec(select(CardSettlement).where(CardSettlement.sale_id == sale_id,
                                               CardSettlement.status == SettlementStatus.SETTLED.value)).first()


def user_names(s: Session, user_ids: list[int | None]) -> dict[int, str]:
    ids = {u for u in user_ids if u is not None}
    if not ids:
        return {}
    return {u.id: u.display_name for u in s.exec(select(User).where(col(User.id).in_(ids))) if u.id is not None}


def pharmacists_at(s: Session, shift_id: int, at: datetime) -> str:
    """Who was on duty in the shift at that moment, as the receipt names them."""
    rows = s.exec(select(User.display_name).join(PharmacistDuty, col(PharmacistDuty.user_id) == col(User.id))
                  .where(PharmacistDuty.shift_id == shift_id, col(PharmacistDuty.on_at) <= at)
                  .where(col(PharmacistDuty.off_at).is_(None) | (col(PharmacistDuty.off_at) >= at))
                  .order_by(col(PharmacistDuty.id)))
    return "、".join(dict.fromkeys(rows))
