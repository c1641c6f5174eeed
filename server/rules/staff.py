"""STAFF-01, RX-10 and SEC-02 as pure functions: whose sign-off counts, who counts as on duty, which goods wait for
a pharmacist, which posts may be combined."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from catalog.classes import GspClass
from catalog.violations import Violation
from server.roles import OPERATIONAL_ROLES, Role


class Qualification(StrEnum):
    LICENSED_PHARMACIST = "licensed_pharmacist"  # 执业药师
    PHARMACIST = "pharmacist"  # 药师 (专业技术职称)
    SENIOR_PHARMACIST = "senior_pharmacist"  # 主管药师及以上
    ASSISTANT_PHARMACIST = "assistant_pharmacist"  # 药士
    NONE = "none"

    @property
    def label(self) -> str:
        return {
            "licensed_pharmacist": "执业药师",
            "pharmacist": "药师",
            "senior_pharmacist": "主管药师",
            "assistant_pharmacist": "药士",
            "none": "无",
        }[self.value]

PHARMACIST_QUALIFICATIONS = frozenset({"licensed_pharmacist", "pharmacist", "senior_pharmacist"})
# A 执业药师's registration (注册证) runs for five years and must be renewed; a professional title (职称) does not
# lapse. So the registration's expiry is required on record, a title's only checked when one is given.
EXPIRING_QUALIFICATIONS = frozenset({"licensed_pharmacist"})
# The goods a store stops selling while no pharmacist is on duty (the national GSP: 执业药师不在岗时，应当挂牌告知，
# 并停止销售处方药和甲类非处方药).
NEEDS_PHARMACIST_PRESENT = frozenset({GspClass.RX, GspClass.OTC_A})


@dataclass(frozen=True, slots=True)
class StaffRecord:
    qualification: str
    qualification_no: str
    registered_store_code: str
    contract_start: date | None
    contract_end: date | None
    qualification_expiry: date | None = None


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def pharmacist_refusals(s: StaffRecord | None, store_code: str, on: date, min_contract_years: int = 1) -> list[Violation]:
    """STAFF-01: a review or sign-off counts only from a pharmacist qualified, registered here, in contract."""
    if s is None:
        return [Violation("STAFF-01", "无药师档案", "no staff record for this pharmacist", {})]
    out: list[Violation] = []
    if s.qualification not in PHARMACIST_QUALIFICATIONS or not s.qualification_no:
        out.append(Violation("STAFF-01", "无有效药师资格（执业药师或药学专业技术职称）",
                             "no valid pharmacist qualification on record", {"qualification": s.qualification}))
    elif s.qualification_expiry is None and s.qualification in EXPIRING_QUALIFICATIONS:
        out.append(Violation("STAFF-01", "执业药师注册证未登记有效期", "the pharmacist's registration has no expiry on record",
                             {"qualification": s.qualification}))
    elif s.qualification_expiry is not None and on > s.qualification_expiry:
        out.append(Violation("STAFF-01", f"药师资格已于 {s.qualification_expiry.isoformat()} 过期",
                             f"the pharmacist's qualification expired on {s.qualification_expiry.isoformat()}",
                             {"qualification_expiry": s.qualification_expiry.isoformat()}))
    if s.registered_store_code != store_code:
        out.append(Violation("STAFF-01", f"药师未注册在本店（注册单位 {s.registered_store_code or '无'}）",
                             f"the pharmacist is registered at {s.registered_store_code or 'no store'}, not here",
                             {"registered_store_code": s.registered_store_code}))
    if s.contract_start is None or s.contract_end is None:
        out.append(Violation("STAFF-01", "无劳动合同记录", "no labour contract on record", {}))
    else:
        if _add_years(s.contract_start, min_contract_years) > s.contract_end:
            out.append(Violation("STAFF-01", f"劳动合同期限不足 {min_contract_years} 年",
                                 f"the labour contract is shorter than {min_contract_years} year(s)",
                                 {"contract_start": s.contract_start.isoformat(),
                                  "contract_end": s.contract_end.isoformat()}))
        if not (s.contract_start <= on <= s.contract_end):
            out.append(Violation("STAFF-01", "劳动合同不在有效期内", "the labour contract is not in term today",
                                 {"contract_start": s.contract_start.isoformat(),
                                  "contract_end": s.contract_end.isoformat()}))
    return out


@dataclass(frozen=True, slots=True)
class DutyFacts:
    """A pharmacist's open duty as the presence rule needs it: whose, whether their account is frozen, their record."""

    user_id: int
    name: str
    frozen: bool
    record: StaffRecord | None


def present_pharmacists(duties: list[DutyFacts], store_code: str, on: date,
                        min_contract_years: int = 1) -> list[DutyFacts]:
    """RX-10 with STAFF-01: the open duties that count today. A frozen account, or a contract or qualification that
    has ended, ends the duty at once, whatever the duty's own row says."""
    return [d for d in duties
            if not d.frozen and not pharmacist_refusals(d.record, store_code, on, min_contract_years)]


def presence_refusal(gsp_class: str, item_name: str, pharmacists_present: int) -> Violation | None:
    """RX-10: 处方药 and 甲类非处方药 are not sold while no pharmacist is on duty in the store."""
    if pharmacists_present or gsp_class not in NEEDS_PHARMACIST_PRESENT:
        return None
    label = GspClass(gsp_class).label
    return Violation("RX-10", f"药师不在岗，{label}暂停销售：{item_name}（请药师登记在岗后再售）",
                     f"no pharmacist is on duty: {gsp_class} goods are not sold until one is ({item_name})",
                     {"gsp_class": gsp_class})


Interval = tuple[datetime, datetime]


def uncovered(selling: Iterable[Interval], covered: Iterable[Interval]) -> list[Interval]:
    """RX-10's record: the parts of the time the store sold (its open shifts, or the whole day of a 24-hour store)
    that no pharmacist's valid duty covered, merged and in order."""
    cover = sorted((a, b) for a, b in covered if a < b)
    out: list[Interval] = []
    for start, end in sorted((a, b) for a, b in selling if a < b):
        at = start
        for a, b in cover:
            if b <= at or a >= end:
                continue
            if a > at:
                out.append((at, a))
            at = max(at, b)
            if at >= end:
                break
        if at < end:
            out.append((at, end))
    merged: list[Interval] = []
    for a, b in out:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def role_combination_refusals(roles: set[Role]) -> list[Violation]:
    """SEC-02: a system maintainer holds no operational post."""
    if Role.SYSADMIN in roles and roles & OPERATIONAL_ROLES:
        return [Violation("SEC-02", "系统管理员不得兼任业务岗位（收款、审方、结算等）",
                          "a system administrator may not also hold an operational post",
                          {"roles": sorted(r.value for r in roles)})]
    return []
