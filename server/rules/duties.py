"""SEC-01..03 as pure functions: duties are separated by person, not by account.

A person is their identity number: two accounts (two staff records) with the same number are one person, so
neither the maintainer/operator split (SEC-02) nor the four eyes of a grant or a refund (SEC-01) can be walked
around with a second account. An account whose staff record has no number yet is a person of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from catalog.codes import mask_id
from catalog.violations import Violation
from server.roles import Role
from server.rules.staff import role_combination_refusals


def person_key(id_number: str, user_id: int) -> str:
    """Who an account belongs to: the owner's identity number, or the account itself when none is on record."""
    number = id_number.strip().upper()
    return f"id:{number}" if number else f"account:{user_id}"


def person_posts_refusal(posts: Iterable[Role], id_number: str = "") -> Violation | None:
    """SEC-02 by person: the posts of all of one person's live accounts (and the ones requested) never mix a
    maintainer's with an operator's, whichever account holds which."""
    held = set(posts)
    found = role_combination_refusals(held)
    if not found:
        return None
    who = mask_id(id_number) if id_number else ""
    return Violation("SEC-02", f"同一人（身份证号 {who}）不得既持系统维护账号又持业务账号" if who else
                     "同一人不得既持系统维护账号又持业务账号",
                     "one person may not hold both a system maintainer's account and an operational one",
                     {"posts": sorted(r.value for r in held)} | ({"id_number": who} if who else {}))


def grant_approval_refusal(approver: str, requester: str, grantee: str) -> Violation | None:
    """SEC-01: a post is granted on a request approved by someone other than the grantee and the requester
    (persons, so a second account of either does not count)."""
    if approver == grantee:
        return Violation("SEC-01", "岗位授权不能由被授权人本人批准", "a grant cannot be approved by its grantee",
                         {"who": "grantee"})
    if approver == requester:
        return Violation("SEC-01", "岗位授权不能由申请人本人批准", "a grant cannot be approved by its requester",
                         {"who": "requester"})
    return None


def needs_second_person(amount_fen: int, later_day: bool, threshold_fen: int) -> bool:
    """SEC-01 / CARD-04: a refund or a void is checked by a second person when it is made on a later day than
    the sale, or when it is above the store's amount (`rules.second_person_above_fen`)."""
    return later_day or amount_fen > threshold_fen


@dataclass(frozen=True, slots=True)
class SecondPerson:
    """The person who confirmed with their PIN, as the check needs them."""

    person: str
    frozen: bool
    may_confirm: bool  # holds the post that checks refunds and voids


def second_person_refusal(rule_id: str, actor: str, second: SecondPerson | None) -> Violation | None:
    """The second person of a special operation (SEC-01: mutually checked): another person, their account live,
    holding the post that checks it. `actor` is the person who performs the operation."""
    if second is None:
        return Violation(rule_id, "此操作须由另一位有权人员输入 PIN 确认",
                         "this needs a second person with the right to confirm it with their PIN", {"missing": True})
    if second.person == actor:
        return Violation(rule_id, "确认人不能是操作人本人（含本人的其他账号）",
                         "the second person cannot be the one who performs it (nor another account of theirs)",
                         {"same_person": True})
    if second.frozen:
        return Violation(rule_id, "确认人的账号已冻结", "the second person's account is frozen", {"frozen": True})
    if not second.may_confirm:
        return Violation(rule_id, "确认人无复核此操作的岗位", "the second person's post may not confirm this",
                         {"may_confirm": False})
    return None
