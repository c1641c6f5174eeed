"""Controlled facts of an item (RX-01, CARD-02, CARD-07): its GSP class, its 医保 category and its national code.

These decide whether a prescription is needed, whether a pharmacist must be present and whether the card pays.
A change that keeps or tightens control is one person's (the post that maintains the fact); a change that
loosens it needs a second person with the right post — a pharmacist for the class, the other 医保 administrator
for the mapping — and a reason. Pure functions over plain facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from catalog.classes import DRUG_CLASSES, GspClass, InsuranceCategory
from catalog.violations import Violation
from server.roles import Role
from server.rules.staff import NEEDS_PHARMACIST_PRESENT, StaffRecord, pharmacist_refusals

COVERED = frozenset({InsuranceCategory.JIA, InsuranceCategory.YI})  # what the card may pay (CARD-02)


@dataclass(frozen=True, slots=True)
class ControlledFacts:
    gsp_class: GspClass
    insurance_category: InsuranceCategory
    nhsa_code: str | None


def _controls(c: GspClass) -> frozenset[str]:
    """What selling goods of this class obliges: a prescription (RX-01), a pharmacist present (RX-10), the drug
    rules (GSP-01: kept apart from non-drugs; only drugs may be card-paid)."""
    out = set()
    if c is GspClass.RX:
        out.add("prescription")
    if c in NEEDS_PHARMACIST_PRESENT:
        out.add("pharmacist_present")
    if c in DRUG_CLASSES:
        out.add("drug")
    return frozenset(out)


def class_loosens(before: GspClass, after: GspClass) -> bool:
    """A class change loosens control when the new class drops an obligation the old one had: Rx to anything,
    甲类 OTC to 乙类 or herbal, a drug to non-drug goods. OTC to Rx, or one drug class to another of the same
    obligations (乙类 OTC and 中药饮片), does not."""
    return not _controls(before) <= _controls(after)


def mapping_loosens(before: ControlledFacts | None, after: ControlledFacts) -> bool:
    """A 医保 mapping change loosens control when the card may pay more or otherwise: a new national code (set
    where there was none, or changed), a category that becomes 甲/乙, or one 甲/乙 turned into the other. Taking a
    code away, or an item out of 甲/乙 (self-pay), tightens. A new item counts as changed from no mapping."""
    old_code = before.nhsa_code if before else None
    old_cat = before.insurance_category if before else InsuranceCategory.NONE
    if after.nhsa_code and after.nhsa_code != old_code:
        return True
    return after.insurance_category in COVERED and after.insurance_category != old_cat


def approvals_needed(before: ControlledFacts | None, after: ControlledFacts) -> dict[Role, str]:
    """The posts whose second person must approve this change, each with the rule it guards. A new item's class
    is its first, so only its mapping can loosen."""
    out: dict[Role, str] = {}
    if before is not None and class_loosens(before.gsp_class, after.gsp_class):
        out[Role.PHARMACIST] = "RX-01"
    if mapping_loosens(before, after):
        out[Role.INSURANCE_ADMIN] = "CARD-07"
    return out


def resets_mapping_upload(before: ControlledFacts, after: ControlledFacts) -> bool:
    """Any change of class, category or code: the centre's copy of the mapping no longer describes the item, so
    the card waits for the next upload (CARD-07)."""
    return before != after


@dataclass(frozen=True, slots=True)
class Approver:
    """The second person, as their PIN was checked just now: their account, posts and staff record."""

    user_id: int
    username: str
    roles: frozenset[Role]
    record: StaffRecord | None
    requesters_person: bool = False  # an account of the requester's own person (their ID number), not another one


def approval_refusals(needed: dict[Role, str], actor_id: int | None, approver: Approver | None, reason: str,
                      store_code: str, on: date, min_contract_years: int = 1) -> list[Violation]:
    """Whether this approval lets a loosening change through: a reason, a second person (never the requester),
    holding every post the change needs; a pharmacist's approval counts only under STAFF-01 (qualified,
    registered here, in contract that day). A frozen account never gets here: its PIN is refused first."""
    if not needed:
        return []
    posts = "、".join(r.label for r in needed)
    first = next(iter(needed.values()))
    if approver is None:
        return [Violation(first, f"该修改放宽了管控，须由另一位{posts}输入 PIN 核准并填写原因",
                          f"this change loosens control: a second person ({', '.join(needed)}) must approve it "
                          "with their PIN, and a reason is needed", {"needs": sorted(needed)})]
    out: list[Violation] = []
    if not reason.strip():
        out.append(Violation(first, "放宽管控的修改须填写原因", "a change that loosens control needs a reason", {}))
    if approver.user_id == actor_id or approver.requesters_person:
        out.append(Violation(first, "申请人不能核准自己的修改", "the requester cannot approve their own change",
                             {"approver": approver.username}))
    for role, rule in needed.items():
        if role not in approver.roles:
            out.append(Violation(rule, f"核准人 {approver.username} 不是{role.label}",
                                 f"the approver {approver.username} is not a {role.value}",
                                 {"approver": approver.username, "needs": role.value}))
        elif role is Role.PHARMACIST:
            out.extend(Violation("STAFF-01", f"核准人的药师资格不成立：{v.message_zh}",
                                 f"the approver's sign-off does not count: {v.message_en}", v.details)
                       for v in pharmacist_refusals(approver.record, store_code, on, min_contract_years))
    return out
