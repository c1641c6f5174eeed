"""Suppliers (供应商, GSP-05): who they are (许可证号, 统一社会信用代码), until when they may supply, what (经营范围),
and the 首营 approvals — of a first-time supplier and of a first-time item from a supplier — with who approved
them and when. Receiving (receiving.py) refuses goods from a supplier these facts do not allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlmodel import Session, col, select

from catalog.codes import check_uscc
from catalog.violations import Violation
from server import audit
from server.db.models import Supplier, SupplierItem
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.rules import stock as rules
from server.services.catalog.items import get_item
from server.services.context import Ctx


def facts(sup: Supplier) -> rules.SupplierFacts:
    return rules.SupplierFacts(sup.name, sup.active, sup.licence_expiry, sup.first_approved_at is not None,
                               frozenset(sup.scope or ()))


def supplier_licence_refusals(supplier: Supplier, on: date) -> list[Violation]:
    """GSP-05: goods come only from an approved supplier whose licence is valid that day."""
    return rules.supplier_refusals(facts(supplier), on)


def _scope(values: Iterable[str]) -> list[str]:
    out = []
    for v in values:
        try:
            out.append(rules.Scope(v).value)
        except ValueError:
            raise AppError(422, "VALIDATION", f"经营范围 {v} 不认识", f"unknown business scope {v}",
                           {"scope": v, "known": [s.value for s in rules.Scope]}) from None
    return sorted(set(out))


def add_supplier(u: Unit, ctx: Ctx, name: str, licence_no: str, licence_expiry: date,
                 business_licence_no: str = "", contact: str = "", phone: str = "",
                 scope: Iterable[str] = ()) -> Supplier:
    s = orm(u)
    if s.exec(select(Supplier).where(Supplier.store_id == ctx.store_id, Supplier.name == name)).first():
        raise conflict("DUPLICATE", f"供应商 {name} 已存在", f"supplier {name} exists")
    if business_licence_no and (problems := check_uscc(business_licence_no)):
        raise refused(problems)
    sup = Supplier(store_id=ctx.store_id, name=name, licence_no=licence_no, licence_expiry=licence_expiry,
                   business_licence_no=business_licence_no.strip().upper(), contact=contact, phone=phone,
                   scope=_scope(scope))
    s.add(sup)
    audit.record_row(u, ctx.store_id, ctx.actor, "supplier.create", sup)
    return sup


def list_suppliers(s: Session, ctx: Ctx) -> list[Supplier]:
    return list(s.exec(select(Supplier).where(Supplier.store_id == ctx.store_id).order_by(col(Supplier.id))))


def get_supplier(s: Session, ctx: Ctx, supplier_id: int) -> Supplier:
    sup = s.get(Supplier, supplier_id)
    if sup is None or sup.store_id != ctx.store_id:
        raise not_found("供应商", "supplier", supplier_id=supplier_id)
    return sup


def update_supplier(u: Unit, ctx: Ctx, supplier_id: int, licence_expiry: date | None = None,
                    scope: Iterable[str] | None = None, active: bool | None = None, note: str = "") -> Supplier:
    """A renewed licence, a changed scope, a supplier stopped: audited with the image before."""
    s = orm(u)
    sup = get_supplier(s, ctx, supplier_id)
    before = audit.snapshot(sup)
    if licence_expiry is not None:
        sup.licence_expiry = licence_expiry
    if scope is not None:
        sup.scope = _scope(scope)
    if active is not None:
        sup.active = active
    s.add(sup)
    audit.record_row(u, ctx.store_id, ctx.actor, "supplier.update", sup, before, note=note)
    return sup


def approve_supplier(u: Unit, ctx: Ctx, supplier_id: int, note: str = "") -> Supplier:
    """首营企业审核: the person in charge approves a first-time supplier (recorded: who, when)."""
    s = orm(u)
    sup = get_supplier(s, ctx, supplier_id)
    if sup.first_approved_at is not None:
        raise conflict("DUPLICATE", f"供应商 {sup.name} 已通过首营审核", f"supplier {sup.name} is approved already")
    if not sup.scope:
        raise AppError(422, "GSP-05", f"供应商 {sup.name} 未登记经营范围，不能审核",
                       f"supplier {sup.name} has no business scope on record: it cannot be approved")
    before = audit.snapshot(sup)
    sup.first_approved_by, sup.first_approved_at = ctx.actor.user_id, ctx.now
    s.add(sup)
    audit.record_row(u, ctx.store_id, ctx.actor, "supplier.approve", sup, before, note=note)
    return sup


def approve_item(u: Unit, ctx: Ctx, supplier_id: int, item_id: int, note: str = "") -> SupplierItem:
    """首营品种审核: an item approved for delivery by this supplier, within its scope (recorded: who, when)."""
    s = orm(u)
    sup = get_supplier(s, ctx, supplier_id)
    item = get_item(s, ctx, item_id)
    if v := rules.scope_refusal(sup.name, frozenset(sup.scope or ()), item.name, item.gsp_class):
        raise refused([v])
    if s.exec(select(SupplierItem).where(SupplierItem.supplier_id == supplier_id,
                                         SupplierItem.item_id == item_id)).first():
        raise conflict("DUPLICATE", f"{item.name} 已通过首营品种审核", f"{item.code} is approved already")
    row = SupplierItem(store_id=ctx.store_id, supplier_id=id_of(sup), item_id=id_of(item),
                       approved_by=ctx.actor.user_id, approved_at=ctx.now)
    s.add(row)
    audit.record_row(u, ctx.store_id, ctx.actor, "supplier.approve_item", row, note=note)
    return row


def approved_items(s: Session, supplier_id: int, item_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(item_ids))
    if not ids:
        return set()
    return set(s.exec(select(SupplierItem.item_id).where(SupplierItem.supplier_id == supplier_id,
                                                         col(SupplierItem.item_id).in_(ids))).all())
