"""The store profile, its 医保协议 history (AGR-01/03) and its registered tills (AGR-02)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server import audit
from server.config import Settings
from server.db.models import AgreementEvent, AgreementStatus, Store, Till, TillStatus
from server.db.models.base import id_of
from server.db.uow import Unit, core_unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.rules.agreement import AgreementStep, StoreStanding, standing_on, till_refusals
from server.rules.controlled import Approver
from server.services.context import Ctx


def bootstrap_store(engine: Engine, settings: Settings) -> int:
    """The store row for the configured 定点编号: created once from config.toml, then owned by the data."""
    with core_unit(engine) as u:
        s = orm(u)
        store = s.exec(select(Store).where(Store.code == settings.store.fixmedins_code)).first()
        if store is None:
            cfg = settings.store
            store = Store(code=cfg.fixmedins_code, name=cfg.name, admdvs=cfg.admdvs, timezone=cfg.timezone,
                          site_code=cfg.site_code, address=cfg.address)
            s.add(store)
            s.flush()
            audit.ensure_head(u, id_of(store))
            audit.record_row(u, id_of(store), audit.SYSTEM, "store.create", store)
        return id_of(store)


def get_store(s: Session, ctx: Ctx) -> Store:
    store = s.get(Store, ctx.store_id)
    if store is None:
        raise not_found("门店", "store", store_id=ctx.store_id)
    return store


PROFILE_FIELDS = ("name", "address", "legal_representative", "person_in_charge", "business_scope", "chain_code",
                  "drug_licence_no", "drug_licence_expiry", "business_licence_no", "business_licence_expiry")


def update_profile(u: Unit, ctx: Ctx, changes: dict[str, Any]) -> Store:
    s = orm(u)
    store = get_store(s, ctx)
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise AppError(422, "VALIDATION", f"不能修改的字段：{'、'.join(sorted(unknown))}",
                       f"fields not editable here: {', '.join(sorted(unknown))}")
    before = audit.snapshot(store)
    for k, v in changes.items():
        setattr(store, k, v)
    store.updated_at = ctx.now
    s.add(store)
    audit.record_row(u, ctx.store_id, ctx.actor, "store.update", store, before)
    return store


# Which status an event may move the agreement to, from which statuses.
_TRANSITIONS: dict[str, set[str]] = {
    "active": {"none", "active", "suspended"},  # sign, renew, resume after suspension
    "suspended": {"active"},
    "terminated": {"active", "suspended"},
}


def needs_confirmation(current: str, status: AgreementStatus) -> bool:
    """The agency's decision — a suspension, its lifting, a termination — is recorded by one 医保 administrator
    and confirmed by another (AGR-01: it decides when the card may settle); a signing or a renewal is not."""
    return status is not AgreementStatus.ACTIVE or current == AgreementStatus.SUSPENDED.value


def record_agreement_event(u: Unit, ctx: Ctx, status: AgreementStatus, effective_on: date,
                           ends_on: date | None, agreement_no: str | None, reason: str,
                           confirmer: Approver | None = None) -> AgreementEvent:
    """Every status change of the 医保协议 is one append-only event, in force from its effective date (the card
    reads the history, server.rules.agreement.standing_on); the store row holds the state after the last event
    on record. An event may be recorded late (back-dated), never before the last one on record."""
    s = orm(u)
    store = get_store(s, ctx)
    if status.value not in _TRANSITIONS or store.agreement_status not in _TRANSITIONS[status.value]:
        raise conflict("AGR-01", f"医保协议不能从「{AgreementStatus(store.agreement_status).label}」变为「{status.label}」",
                       f"the agreement cannot go from {store.agreement_status} to {status.value}",
                       current=store.agreement_status, requested=status.value)
    if status is AgreementStatus.ACTIVE and store.agreement_status in ("none", "active") and ends_on is None:
        raise AppError(422, "AGR-03", "签订或续签医保协议须填写协议截止日期",
                       "signing or renewing the agreement needs its end date")
    if ends_on is not None and ends_on < effective_on:
        raise AppError(422, "VALIDATION", "截止日期早于生效日期", "the end date is before the effective date")
    if status is AgreementStatus.SUSPENDED and not reason.strip():
        raise AppError(422, "AGR-03", "中止医保协议须填写原因", "a suspension needs a reason")
    last = s.exec(select(AgreementEvent).where(AgreementEvent.store_id == ctx.store_id)
                  .order_by(col(AgreementEvent.effective_on).desc(), col(AgreementEvent.id).desc())).first()
    if last is not None and effective_on < last.effective_on:
        raise conflict("AGR-01", f"生效日期不能早于上一条协议记录的生效日期 {last.effective_on}",
                       f"an event cannot take effect before the last one on record ({last.effective_on})",
                       last_effective_on=last.effective_on.isoformat())
    if needs_confirmation(store.agreement_status, status) and (
            confirmer is None or confirmer.user_id == ctx.actor.user_id):
        raise AppError(403, "AGR-01", "记录经办机构的中止、恢复或解除决定须由另一位医保管理员输入 PIN 确认",
                       "recording the agency's suspension, reinstatement or termination needs a second insurance "
                       "administrator to confirm with their PIN")
    before = audit.snapshot(store)
    event = AgreementEvent(store_id=ctx.store_id, status=status.value, effective_on=effective_on, ends_on=ends_on,
                           reason=reason, recorded_by=ctx.actor.user_id, recorded_at=ctx.now,
                           confirmed_by=confirmer.user_id if confirmer is not None else None)
    s.add(event)
    audit.record_row(u, ctx.store_id, ctx.actor, f"agreement.{status.value}", event,
                     note=f"confirmed by {confirmer.username}" if confirmer is not None else "")
    if status is AgreementStatus.ACTIVE and store.agreement_status in ("none", "active"):
        store.agreement_start = store.agreement_start if store.agreement_status == "active" else effective_on
        store.agreement_end = ends_on
    elif status is AgreementStatus.ACTIVE and ends_on is not None:  # lifted with a new end: the term runs to it
        store.agreement_end = ends_on
    if agreement_no:
        store.agreement_no = agreement_no
    store.agreement_status = status.value
    store.updated_at = ctx.now
    s.add(store)
    audit.record_row(u, ctx.store_id, ctx.actor, "store.agreement", store, before)
    return event


def agreement_history(s: Session, ctx: Ctx) -> list[AgreementEvent]:
    return list(s.exec(select(AgreementEvent).where(AgreementEvent.store_id == ctx.store_id)
                       .order_by(col(AgreementEvent.id))))


def standing(s: Session, ctx: Ctx, store: Store, on: date | None = None) -> StoreStanding:
    """The store's standing on a day (default: today), its agreement read from the events in force by then."""
    steps = [AgreementStep(e.status, e.effective_on, e.ends_on) for e in
             s.exec(select(AgreementEvent).where(AgreementEvent.store_id == ctx.store_id)
                    .order_by(col(AgreementEvent.effective_on), col(AgreementEvent.id)))]
    return standing_on(steps, on or ctx.today, store.drug_licence_no, store.drug_licence_expiry)


# --- tills (AGR-02, CARD-06) -------------------------------------------------------------------

def register_till(u: Unit, ctx: Ctx, code: str, name: str, device_no: str) -> Till:
    s = orm(u)
    store = get_store(s, ctx)
    if s.exec(select(Till).where(Till.store_id == ctx.store_id, Till.code == code)).first():
        raise conflict("DUPLICATE", f"收款机 {code} 已登记", f"till {code} is already registered", code=code)
    till = Till(store_id=ctx.store_id, code=code, name=name, site_code=store.site_code, device_no=device_no)
    s.add(till)
    audit.record_row(u, ctx.store_id, ctx.actor, "till.register", till)
    return till


def retire_till(u: Unit, ctx: Ctx, till_id: int, reason: str) -> Till:
    s = orm(u)
    till = s.get(Till, till_id)
    if till is None or till.store_id != ctx.store_id:
        raise not_found("收款机", "till", till_id=till_id)
    before = audit.snapshot(till)
    till.status = TillStatus.RETIRED.value
    s.add(till)
    audit.record_row(u, ctx.store_id, ctx.actor, "till.retire", till, before, note=reason)
    return till


def usable_till(s: Session, ctx: Ctx, code: str) -> Till:
    """The till a terminal says it is, refused unless registered, active and bound here (AGR-02)."""
    store = get_store(s, ctx)
    till = s.exec(select(Till).where(Till.store_id == ctx.store_id, Till.code == code)).first()
    problems = till_refusals(till.store_id if till else None, till.site_code if till else None,
                             till.status if till else None, ctx.store_id, store.site_code)
    if problems or till is None:  # a missing till is refused above (CARD-06): None never passes
        raise refused(problems, status=403)
    return till
