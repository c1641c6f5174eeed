"""The pharmacist's review (RX-05, RX-10, STAFF-01): approved, rejected with RX-05's reason, or referred."""

from __future__ import annotations

from sqlmodel import Session, col, select

from server import audit
from server.db.models import (
    PharmacistDuty,
    RxReview,
    RxStatus,
    Shift,
    ShiftStatus,
)
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, refused
from server.roles import Role
from server.rules import prescriptions as rx_rules
from server.rules.prescriptions import RejectReason
from server.services.context import Ctx
from server.services.rx.entry import get, stored_facts
from server.services.store.shifts import qualification_refusals


def _duty_shift(s: Session, ctx: Ctx) -> Shift | None:
    """The open shift in which the reviewing pharmacist is on duty now (RX-10)."""
    return s.exec(select(Shift).join(PharmacistDuty, col(PharmacistDuty.shift_id) == Shift.id)
                  .where(Shift.store_id == ctx.store_id, Shift.status == ShiftStatus.OPEN.value,
                         PharmacistDuty.user_id == ctx.actor.user_id, col(PharmacistDuty.off_at).is_(None))
                  .order_by(col(PharmacistDuty.on_at).desc())).first()


def _qualified(s: Session, ctx: Ctx, roles: frozenset[Role]) -> None:
    if Role.PHARMACIST not in roles:
        raise AppError(403, "RX-01", "只有药师可以审核处方", "only a pharmacist may review a prescription")
    if problems := qualification_refusals(s, ctx):
        raise refused(problems, status=403)


def review(u: Unit, ctx: Ctx, rx_id: int, roles: frozenset[Role], verdict: str, reason: RejectReason | None,
           note: str, referred_to: str, dispenser_id: int | None) -> RxReview:
    s = orm(u)
    rx = get(s, ctx, rx_id, lock=True)  # two reviews of one prescription: the second sees the first
    _qualified(s, ctx, roles)
    shift = _duty_shift(s, ctx)
    if shift is None:
        raise AppError(403, "RX-10", "审方药师须在本班次登记在岗", "the reviewing pharmacist must be on duty in an open shift")
    if rx.status != RxStatus.PENDING.value:  # an amended prescription comes back as a new one (RX-05)
        raise conflict("RX-STATE", f"处方已{STATUS_ZH[rx.status]}，不能再次审核", f"the prescription is already {rx.status}",
                       status=rx.status)
    if problems := rx_rules.review_reason_refusals(verdict, reason, referred_to):
        raise refused(problems)
    if verdict == "approved":
        facts = stored_facts(s, rx)
        rules = ctx.settings.rules
        problems = (rx_rules.prescriber_limit_refusals(facts, rules.prescriber_profile)
                    + rx_rules.validity_refusals(facts, ctx.today, rules.rx_max_extended_validity_days,
                                                 default_valid_days=rules.rx_validity_days)
                    + rx_rules.written_name_refusals(facts))
        if problems:
            raise refused(problems)
    rev = RxReview(store_id=ctx.store_id, prescription_id=id_of(rx), verdict=verdict,
                   reason=reason.value if reason else "", note=note, referred_to=referred_to.strip(),
                   pharmacist_id=ctx.actor_id, shift_id=id_of(shift), dispenser_id=dispenser_id, at=ctx.now)
    s.add(rev)
    before = audit.snapshot(rx)
    rx.status = verdict
    s.add(rx)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, f"rx.{verdict}", "prescription", rx.id, before,
                 audit.snapshot(rx) | {"review": audit.snapshot(rev)}, note=note or (reason.label if reason else ""))
    return rev


STATUS_ZH = {"pending": "待审核", "approved": "审核通过", "rejected": "被拒绝", "referred": "转介"}
