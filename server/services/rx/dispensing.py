"""A prescription and a sale: the tie, and what the completion checks (RX-01, RX-04's plan, RX-10)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from catalog.classes import GspClass
from catalog.violations import Violation
from server import audit
from server.db.models import (
    Item,
    Prescription,
    RxReview,
    RxStatus,
    Sale,
    SaleLine,
    SaleStatus,
)
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import conflict
from server.rules import prescriptions as rx_rules
from server.services import sales_ledger
from server.services.context import Ctx
from server.services.rx import platform
from server.services.rx.entry import base_qty, dispensed, get, lines_of, stored_facts
from server.services.rx.review import STATUS_ZH
from server.services.store import presence


def attach_to_sale(u: Unit, ctx: Ctx, sale_id: str, rx_id: int) -> Any:
    """Tie the sale's Rx lines to a prescription; refused once paid. Checked in full at completion. The sale's
    row after it."""
    sale = sales_ledger.sale(u, ctx, sale_id, lock=True)
    rx = get(orm(u), ctx, rx_id)
    if sale.status not in (SaleStatus.OPEN.value, SaleStatus.SUSPENDED.value):
        raise conflict("SALE-STATE", "已结束的销售单不能再关联处方", f"the sale is {sale.status}")
    if rx.status in (RxStatus.REJECTED.value, RxStatus.REFERRED.value):
        raise conflict("RX-05", f"处方已{STATUS_ZH[rx.status]}，不能调配", f"the prescription was {rx.status}")
    after = sales_ledger.change_sale(u, sale_id, prescription_id=rx.id)
    audit.record(u, ctx.store_id, ctx.actor, "sale.prescription", "sale", sale_id, audit.row_image(sale._asdict()),
                 audit.row_image(after._asdict()))
    return after


@dataclass
class RxLineView:
    sale_line_id: int
    item_id: int
    name: str
    qty: int  # in the sale's units
    split: bool
    split_ratio: int


def completion_refusals(s: Session, ctx: Ctx, sale: Sale, rx_lines: list[RxLineView]) -> tuple[dict[int, int], list]:
    """RX-01 / RX-04 / RX-10 at completion: sale_line_id → prescription line, or why the sale cannot be paid."""
    if not rx_lines:
        return {}, []
    if sale.prescription_id is None:
        names = "、".join(ln.name for ln in rx_lines)
        return {}, [Violation("RX-01", f"处方药须凭处方并经药师审核后销售：{names}",
                              "prescription drugs need a reviewed prescription (whatever the tender)",
                              {"sale_line_ids": [ln.sale_line_id for ln in rx_lines]})]
    # Locked until the sale commits: two sales on one prescription never both take its remainder (RX-04).
    rx = get(s, ctx, sale.prescription_id, lock=True)
    out: list[Violation] = []
    if rx.status != RxStatus.APPROVED.value:
        out.append(Violation("RX-01", f"处方 {rx.rx_no} 尚未经药师审核通过（{STATUS_ZH[rx.status]}），处方药不能收款",
                             f"prescription {rx.rx_no} is {rx.status}, not approved by a pharmacist",
                             {"prescription_id": rx.id, "status": rx.status}))
    else:
        last = s.exec(select(RxReview).where(RxReview.prescription_id == rx.id, RxReview.verdict == "approved")
                      .order_by(col(RxReview.id).desc())).first()
        # on duty in the sale's shift now, and still counting: not frozen, contract and qualification in term today
        still_on = last is not None and any(p.user_id == last.pharmacist_id and p.shift_id == sale.shift_id
                                            for p in presence.present(s, ctx))
        if not still_on:
            out.append(Violation("RX-10", "审方药师不在本班次岗位上，处方药不能收款",
                                 "the approving pharmacist is not on duty in this sale's shift",
                                 {"prescription_id": rx.id}))
    out += platform.dispense_refusals(s, rx)  # a platform prescription: its review uploaded (7204) first
    facts, rules = stored_facts(s, rx), ctx.settings.rules
    out += rx_rules.validity_refusals(facts, ctx.today, rules.rx_max_extended_validity_days,
                                      default_valid_days=rules.rx_validity_days)
    out += rx_rules.written_name_refusals(facts)  # the catalog's generic name may have changed since the review
    plines = lines_of(s, id_of(rx))
    ratios = dict(s.exec(select(Item.id, Item.split_ratio).where(col(Item.id).in_({ln.item_id for ln in plines}))).all())
    done = dispensed(s, [id_of(ln) for ln in plines])
    left = [rx_rules.RxLineLeft(id_of(ln), ln.item_id, ln.drug_name, base_qty(ln, ratios[ln.item_id]) - done.get(id_of(ln), 0))
            for ln in plines]
    plan, problems = rx_rules.dispense_plan(
        [rx_rules.RxSaleLine(ln.sale_line_id, ln.item_id, ln.name, ln.qty if ln.split else ln.qty * ln.split_ratio)
         for ln in rx_lines], left)
    return plan, out + problems


def rx_sale_lines(s: Session, sale_id: str) -> list[RxLineView]:
    """The sale's lines of prescription drugs (GSP class 处方药)."""
    rows = s.execute(sa_select(col(SaleLine.id), col(SaleLine.item_id), col(Item.name), col(SaleLine.qty),
                               col(SaleLine.split), col(Item.split_ratio))
                     .join(Item, col(Item.id) == SaleLine.item_id)
                     .where(col(SaleLine.sale_id) == sale_id, col(Item.gsp_class) == GspClass.RX.value)
                     .order_by(col(SaleLine.line_no))).all()
    return [RxLineView(*r) for r in rows]


def count_pending(s: Session, ctx: Ctx) -> int:
    return int(s.exec(select(func.count()).select_from(Prescription)
                      .where(Prescription.store_id == ctx.store_id, Prescription.status == RxStatus.PENDING.value)).one())
