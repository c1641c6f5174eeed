"""STAFF-01 and SEC-02 as pure functions: whose sign-off counts, which posts may be combined."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from catalog.violations import Violation
from server.roles import OPERATIONAL_ROLES, Role

PHARMACIST_QUALIFICATIONS = frozenset({"licensed_pharmacist", "pharmacist", "senior_pharmacist"})


@dataclass(frozen=True, slots=True)
class StaffRecord:
    qualification: str
    qualification_no: str
    registered_store_code: str
    contract_start: date | None
    contract_end: date | None


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


def role_combination_refusals(roles: set[Role]) -> list[Violation]:
    """SEC-02: a system maintainer holds no operational post."""
    if Role.SYSADMIN in roles and roles & OPERATIONAL_ROLES:
        return [Violation("SEC-02", "系统管理员不得兼任业务岗位（收款、审方、结算等）",
                          "a system administrator may not also hold an operational post",
                          {"roles": sorted(r.value for r in roles)})]
    return []
