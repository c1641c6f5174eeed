"""AGR-01/02: may this store settle with the card today? Pure functions over plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from catalog.violations import Violation


class AgreementStatus(StrEnum):
    ACTIVE = "active"  # 正常
    SUSPENDED = "suspended"  # 中止
    TERMINATED = "terminated"  # 解除
    NONE = "none"  # 尚未签订

    @property
    def label(self) -> str:
        return {"active": "正常", "suspended": "中止", "terminated": "解除", "none": "未签订"}[self.value]


@dataclass(frozen=True, slots=True)
class StoreStanding:
    agreement_status: str  # active | suspended | terminated | none
    agreement_start: date | None
    agreement_end: date | None
    drug_licence_no: str
    drug_licence_expiry: date | None


def card_settlement_refusals(s: StoreStanding, on: date) -> list[Violation]:
    """AGR-01: card / e-voucher settlement only while the agreement is active and the licence valid."""
    out: list[Violation] = []
    if s.agreement_status == "suspended":
        out.append(Violation("AGR-01", "医保协议已中止，暂停期间不得医保结算（可现金结算）",
                             "the insurance agreement is suspended: no card settlement (cash sales continue)",
                             {"status": s.agreement_status}))
    elif s.agreement_status == "terminated":
        out.append(Violation("AGR-01", "医保协议已解除，不得医保结算", "the insurance agreement is terminated",
                             {"status": s.agreement_status}))
    elif s.agreement_status != "active":
        out.append(Violation("AGR-01", "尚无有效医保协议，不得医保结算", "no insurance agreement in force",
                             {"status": s.agreement_status}))
    if s.agreement_start and on < s.agreement_start:
        out.append(Violation("AGR-01", f"医保协议自 {s.agreement_start} 起生效", f"the agreement starts on {s.agreement_start}",
                             {"agreement_start": s.agreement_start.isoformat()}))
    if s.agreement_end and on > s.agreement_end:
        out.append(Violation("AGR-01", f"医保协议已于 {s.agreement_end} 到期", f"the agreement ended on {s.agreement_end}",
                             {"agreement_end": s.agreement_end.isoformat()}))
    if not s.drug_licence_no or s.drug_licence_expiry is None:
        out.append(Violation("AGR-01", "未登记药品经营许可证", "no drug-business licence on record", {}))
    elif on > s.drug_licence_expiry:
        out.append(Violation("AGR-01", f"药品经营许可证已于 {s.drug_licence_expiry} 过期",
                             f"the drug-business licence expired on {s.drug_licence_expiry}",
                             {"licence_expiry": s.drug_licence_expiry.isoformat()}))
    return out


@dataclass(frozen=True, slots=True)
class AgreementStep:
    """One event of the agreement's history: the status it moves to, from its effective date (not the day it
    was recorded), and the end date it sets (a signing, a renewal)."""

    status: str
    effective_on: date
    ends_on: date | None


def _after(state: tuple[str, date | None, date | None], e: AgreementStep) -> tuple[str, date | None, date | None]:
    status, start, end = state
    if e.status == "active" and status in ("none", "terminated"):
        return "active", e.effective_on, e.ends_on
    if e.status == "active":  # a renewal, or the suspension lifted: the term runs on (a renewal moves its end)
        return "active", start, e.ends_on or end
    return e.status, start, end


def standing_on(history: list[AgreementStep], day: date, licence_no: str, licence_expiry: date | None) -> StoreStanding:
    """The store's standing on `day`: every event effective by then, in the order they take effect (`history`
    sorted by effective date, then as recorded)."""
    state: tuple[str, date | None, date | None] = ("none", None, None)
    for e in history:
        if e.effective_on > day:
            break
        state = _after(state, e)
    return StoreStanding(state[0], state[1], state[2], licence_no, licence_expiry)


def span_refusals(history: list[AgreementStep], first: date, last: date, licence_no: str,
                  licence_expiry: date | None) -> list[Violation]:
    """AGR-01 over a sale's whole time, from the day it was opened (`first`) to the day it is settled (`last`):
    a cost incurred while the agreement was not in force is never settled, not even after it is back in force.
    A day on which an event put the agreement out of force counts whole (a suspension lifted the same day
    does not make that day's sales settleable)."""
    out: list[Violation] = []
    seen: set[str] = set()

    def add(found: list[Violation], day: date) -> None:
        for v in found:
            if v.message_en not in seen:
                seen.add(v.message_en)
                out.append(v if day == last else Violation(
                    v.rule, f"本单于 {first} 开单，期间（{day}）{v.message_zh}；暂停期间发生的费用不予结算",
                    f"the sale was opened on {first}; on {day}: {v.message_en} — a cost incurred then is never settled",
                    v.details | {"on": day.isoformat(), "sale_opened_on": first.isoformat()}))

    add(card_settlement_refusals(standing_on(history, last, licence_no, licence_expiry), last), last)
    add(card_settlement_refusals(standing_on(history, first, licence_no, licence_expiry), first), first)
    state: tuple[str, date | None, date | None] = ("none", None, None)
    for e in history:
        state = _after(state, e)
        if first <= e.effective_on <= last and state[0] != "active":
            add(card_settlement_refusals(StoreStanding(state[0], state[1], state[2], licence_no, licence_expiry),
                                         e.effective_on), e.effective_on)
    return out


def till_refusals(till_store_id: int | None, till_site: str | None, till_status: str | None,
                  store_id: int, store_site: str) -> list[Violation]:
    """AGR-02 / CARD-06: only a registered, active till bound to this store and its site."""
    if till_store_id is None:
        return [Violation("CARD-06", "收款机未登记，不能在本店使用", "this till is not registered with the store", {})]
    out: list[Violation] = []
    if till_store_id != store_id:
        out.append(Violation("AGR-02", "收款机属于其他门店", "the till belongs to another store", {}))
    if till_site != store_site:
        out.append(Violation("AGR-02", f"收款机登记地点 {till_site} 与本店地点 {store_site} 不符",
                             f"the till is registered at site {till_site}, not this store's site {store_site}",
                             {"till_site": till_site, "store_site": store_site}))
    if till_status != "active":
        out.append(Violation("CARD-06", "收款机已停用", "the till is retired", {"status": till_status}))
    return out
