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
from server.rules.agreement import StoreStanding, till_refusals
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


PROFILE_FIELDS = ("name", "address", "legal_representative", "person_in_charge", "business_scope",
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


def record_agreement_event(u: Unit, ctx: Ctx, status: AgreementStatus, effective_on: date,
                           ends_on: date | None, agreement_no: str | None, reason: str) -> AgreementEvent:
    """Every status change of the 医保协议 is one append-only event; the store row holds the current state."""
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
    before = audit.snapshot(store)
    event = AgreementEvent(store_id=ctx.store_id, status=status.value, effective_on=effective_on, ends_on=ends_on,
                           reason=reason, recorded_by=ctx.actor.user_id, recorded_at=ctx.now)
    s.add(event)
    audit.record_row(u, ctx.store_id, ctx.actor, f"agreement.{status.value}", event)
    if status is AgreementStatus.ACTIVE and store.agreement_status in ("none", "active"):
        store.agreement_start = store.agreement_start if store.agreement_status == "active" else effective_on
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


def standing(store: Store) -> StoreStanding:
    return StoreStanding(store.agreement_status, store.agreement_start, store.agreement_end,
                         store.drug_licence_no, store.drug_licence_expiry)


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
