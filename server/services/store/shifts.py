"""Shifts: open with a float, close with a counted cash amount, the Z report; pharmacists on duty (RX-10)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from catalog.violations import Violation
from server import audit
from server.db.models import (
    PharmacistDuty,
    Refund,
    Sale,
    SaleLine,
    SaleReturn,
    SaleStatus,
    Shift,
    ShiftStatus,
    StaffProfile,
    Tender,
    Till,
    User,
)
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.roles import Role
from server.rules.staff import pharmacist_refusals
from server.services import sales_ledger
from server.services.context import Ctx
from server.services.store import presence
from server.services.store.profile import usable_till
from server.services.store.users import staff_record


def open_shift(u: Unit, ctx: Ctx, till_code: str, float_fen: int) -> Shift:
    s = orm(u)
    till = usable_till(s, ctx, till_code)
    s.exec(select(Till).where(Till.id == till.id).with_for_update()).one()  # one opener at a time per till
    if current_shift(s, ctx, id_of(till)) is not None:
        raise conflict("SHIFT-OPEN", f"收款机 {till_code} 已有未结班次", f"till {till_code} already has an open shift",
                       till=till_code)
    shift = Shift(store_id=ctx.store_id, till_id=id_of(till), business_date=ctx.today, float_fen=float_fen,
                  opened_by=ctx.actor_id, opened_at=ctx.now)
    s.add(shift)
    audit.record_row(u, ctx.store_id, ctx.actor, "shift.open", shift)
    return shift


def current_shift(s: Session, ctx: Ctx, till_id: int) -> Shift | None:
    return s.exec(select(Shift).where(Shift.store_id == ctx.store_id, Shift.till_id == till_id,
                                      Shift.status == ShiftStatus.OPEN.value)).first()


def get_shift(s: Session, ctx: Ctx, shift_id: int, lock: bool = False) -> Shift:
    q = select(Shift).where(Shift.id == shift_id, Shift.store_id == ctx.store_id)
    shift = s.exec(q.with_for_update() if lock else q).first()
    if shift is None:
        raise not_found("班次", "shift", shift_id=shift_id)
    return shift


def open_shift_for(s: Session, ctx: Ctx, till_code: str) -> tuple[Till, Shift]:
    """The registered till and its open shift — selling needs both (CARD-06; a closed shift takes no sales)."""
    till = usable_till(s, ctx, till_code)
    shift = current_shift(s, ctx, id_of(till))
    if shift is None:
        raise conflict("SHIFT-CLOSED", f"收款机 {till_code} 没有未结班次，请先开班", f"till {till_code} has no open shift",
                       till=till_code)
    return till, shift


def close_shift(u: Unit, ctx: Ctx, shift_id: int, counted_cash_fen: int) -> Shift:
    s = orm(u)
    shift = get_shift(s, ctx, shift_id, lock=True)
    if shift.status != ShiftStatus.OPEN.value:
        raise conflict("SHIFT-CLOSED", "该班次已结班", "this shift is already closed", shift_id=shift_id)
    if s.exec(select(Sale.id).where(Sale.shift_id == shift.id, Sale.status == SaleStatus.SETTLING.value)).first():
        raise conflict("SETTLE-UNCERTAIN", "本班次有医保结算结果待确认的销售单，须先处理再结班",
                       "a card settlement of this shift is unresolved: resolve it before closing the shift")
    open_sales = list(s.exec(select(Sale.id).where(Sale.shift_id == shift.id, Sale.status == SaleStatus.OPEN.value)))
    # An open sale with no lines is no sale (a refused first scan, every line removed): it closes
    # with the shift, audited, instead of needing a pharmacist's void.
    with_lines = set(s.exec(select(SaleLine.sale_id).where(col(SaleLine.sale_id).in_(open_sales)))) if open_sales else set()
    for empty_id in [sid for sid in open_sales if sid not in with_lines]:
        before = sales_ledger.sale(u, ctx, empty_id, lock=True)
        empty = sales_ledger.change_sale(u, empty_id, status=SaleStatus.VOIDED.value, voided_by=ctx.actor.user_id,
                                         voided_at=ctx.now, void_reason="空单，随结班关闭")
        audit.record(u, ctx.store_id, ctx.actor, "sale.void_empty", "sale", empty_id, audit.row_image(before._asdict()),
                     audit.row_image(empty._asdict()), note=empty.void_reason)
    open_sales = [sid for sid in open_sales if sid in with_lines]
    if open_sales:
        raise conflict("SHIFT-OPEN-SALES", f"还有 {len(open_sales)} 笔未完成的销售，请先挂单或作废",
                       f"{len(open_sales)} sale(s) still open: suspend or void them first", sales=list(open_sales))
    before = audit.snapshot(shift)
    for duty in list(s.exec(select(PharmacistDuty).where(PharmacistDuty.shift_id == shift.id,
                                                         col(PharmacistDuty.off_at).is_(None)))):
        duty.off_at = ctx.now
        s.add(duty)
        s.flush()
        audit.record(u, ctx.store_id, ctx.actor, "duty.off", "pharmacist_duty", duty.id, None, audit.snapshot(duty),
                     note="随结班下岗 / off duty with the shift's close")
    expected = z_report(s, ctx, shift).cash_expected_fen  # read while open: a closed shift's row is final
    shift.status, shift.closed_by, shift.closed_at = ShiftStatus.CLOSED.value, ctx.actor.user_id, ctx.now
    shift.counted_cash_fen, shift.expected_cash_fen = counted_cash_fen, expected
    s.add(shift)
    audit.record_row(u, ctx.store_id, ctx.actor, "shift.close", shift, before)
    return shift


@dataclass
class ZReport:
    shift_id: int
    till_code: str
    status: str
    business_date: str
    opened_at: str
    closed_at: str | None
    float_fen: int
    sales_count: int = 0
    sales_fen: int = 0
    by_tender: dict[str, int] = field(default_factory=dict)
    voids_count: int = 0
    voids_fen: int = 0
    returns_count: int = 0
    returns_fen: int = 0
    refunds_by_tender: dict[str, int] = field(default_factory=dict)
    cash_expected_fen: int = 0
    counted_cash_fen: int | None = None
    variance_fen: int | None = None
    pharmacists: list[dict[str, str | None]] = field(default_factory=list)


def z_report(s: Session, ctx: Ctx, shift: Shift) -> ZReport:
    till = s.get(Till, shift.till_id)
    rep = ZReport(id_of(shift), till.code if till else "", shift.status, shift.business_date.isoformat(),
                  shift.opened_at.isoformat(), shift.closed_at.isoformat() if shift.closed_at else None, shift.float_fen)
    done = SaleStatus.COMPLETED.value
    rep.sales_count, rep.sales_fen = (int(v or 0) for v in s.exec(
        select(func.count(), func.sum(Sale.total_fen)).where(Sale.shift_id == shift.id, Sale.status == done)).one())
    for kind, amount in s.exec(select(Tender.kind, func.sum(Tender.amount_fen)).join(Sale, col(Sale.id) == Tender.sale_id)
                               .where(Sale.shift_id == shift.id, Sale.status == done).group_by(Tender.kind)):
        rep.by_tender[kind] = int(amount)
    # An empty sale closed with the shift (or voided with no line on it) sold nothing and voided nothing: not a void.
    had_lines = select(SaleLine.id).where(SaleLine.sale_id == Sale.id).exists()
    rep.voids_count, rep.voids_fen = (int(v or 0) for v in s.exec(
        select(func.count(), func.sum(Sale.total_fen)).where(Sale.shift_id == shift.id,
                                                             Sale.status == SaleStatus.VOIDED.value, had_lines)).one())
    rep.returns_count, rep.returns_fen = (int(v or 0) for v in s.exec(
        select(func.count(), func.sum(SaleReturn.total_fen)).where(SaleReturn.shift_id == shift.id)).one())
    for kind, amount in s.exec(select(Refund.kind, func.sum(Refund.amount_fen))
                               .join(SaleReturn, col(SaleReturn.id) == Refund.return_id)
                               .where(SaleReturn.shift_id == shift.id).group_by(Refund.kind)):
        rep.refunds_by_tender[kind] = int(amount)
    rep.cash_expected_fen = shift.float_fen + rep.by_tender.get("cash", 0) - rep.refunds_by_tender.get("cash", 0)
    if shift.status == ShiftStatus.CLOSED.value:
        rep.cash_expected_fen = shift.expected_cash_fen if shift.expected_cash_fen is not None else rep.cash_expected_fen
        rep.counted_cash_fen = shift.counted_cash_fen
        rep.variance_fen = (shift.counted_cash_fen or 0) - rep.cash_expected_fen
    for duty, user in s.exec(select(PharmacistDuty, User).join(User, col(User.id) == PharmacistDuty.user_id)
                             .where(PharmacistDuty.shift_id == shift.id).order_by(col(PharmacistDuty.id))):
        rep.pharmacists.append({"name": user.display_name, "on_at": duty.on_at.isoformat(),
                                "off_at": duty.off_at.isoformat() if duty.off_at else None})
    return rep


# --- pharmacists on duty (RX-10) ---------------------------------------------------------------

def qualification_refusals(s: Session, ctx: Ctx) -> list[Violation]:
    """STAFF-01 for the acting user today: qualified, registered here, in contract (duty, a review)."""
    profile = s.exec(select(StaffProfile).where(StaffProfile.user_id == ctx.actor.user_id)).first()
    return pharmacist_refusals(staff_record(profile), ctx.settings.store.fixmedins_code, ctx.today,
                               ctx.settings.rules.min_contract_years)


def duty_on(u: Unit, ctx: Ctx, shift_id: int, roles: frozenset[Role]) -> PharmacistDuty:
    """A pharmacist logs in to the pharmacist role at the till: only one qualified today (STAFF-01)."""
    s = orm(u)
    shift = get_shift(s, ctx, shift_id)
    if shift.status != ShiftStatus.OPEN.value:
        raise conflict("SHIFT-CLOSED", "该班次已结班", "this shift is closed", shift_id=shift_id)
    if Role.PHARMACIST not in roles:
        raise AppError(403, "STAFF-01", "只有药师可以登记在岗", "only a pharmacist can go on duty")
    if problems := qualification_refusals(s, ctx):
        raise refused(problems, status=403)
    existing = s.exec(select(PharmacistDuty).where(PharmacistDuty.shift_id == shift.id,
                                                   PharmacistDuty.user_id == ctx.actor.user_id,
                                                   col(PharmacistDuty.off_at).is_(None))).first()
    if existing is not None:
        return existing
    duty = PharmacistDuty(store_id=ctx.store_id, shift_id=id_of(shift), user_id=ctx.actor_id, on_at=ctx.now)
    s.add(duty)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "duty.on", "pharmacist_duty", duty.id, None, audit.snapshot(duty))
    return duty


def on_duty(s: Session, ctx: Ctx, shift_id: int) -> list[str]:
    """The pharmacists who count as on duty in the shift now (presence.present), by display name, in the order they
    came on (the till's status bar)."""
    return [p.name for p in presence.present(s, ctx) if p.shift_id == shift_id]


def duty_off(u: Unit, ctx: Ctx, shift_id: int) -> PharmacistDuty:
    s = orm(u)
    shift = get_shift(s, ctx, shift_id)
    duty = s.exec(select(PharmacistDuty).where(PharmacistDuty.shift_id == shift.id,
                                               PharmacistDuty.user_id == ctx.actor.user_id,
                                               col(PharmacistDuty.off_at).is_(None))).first()
    if duty is None:
        raise conflict("DUTY", "您不在岗", "you are not on duty in this shift")
    duty.off_at = ctx.now
    s.add(duty)
    audit.record(u, ctx.store_id, ctx.actor, "duty.off", "pharmacist_duty", duty.id, None, audit.snapshot(duty))
    return duty

