"""Authorisation in place (SEC-01): another post's holder types their username and PIN at the till.

Where the person logged in at a till may not do an action (a cashier's void, return or review; a pharmacist's
duty from a cashier's till), the holder of a post that may does it there without taking the till over. Their
PIN goes through the login's lockout (a wrong one is counted and committed though the authorisation is
refused); a frozen account is refused (SEC-03); the authoriser is another person than the one logged in, not
another account of theirs (server.rules.duties); and their posts must allow the action, the refusal naming the
posts that do. The grant itself is server.auth.grants's; the use case that spends it records both people.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import select

from server.auth.grants import Authoriser
from server.db.models import User, UserStatus
from server.db.models.base import id_of
from server.db.uow import core_unit, read_session
from server.errors import AppError
from server.permissions import IN_PLACE, SECOND_PERSON, Action, allowed, who_may, who_may_zh
from server.roles import Role
from server.services.context import Ctx
from server.services.store.users import active_roles, check_pin, person_of, verify_ahead

# 403, not 401: the caller's own session is sound (a 401 would send the till back to its login)
WRONG = AppError(403, "AUTH", "授权人工号或 PIN 错误", "the authoriser's username or PIN is wrong")
SECOND_WRONG = AppError(403, "AUTH", "复核人工号或 PIN 错误", "the second person's username or PIN is wrong")


def _named(engine: Engine, ctx: Ctx, username: str) -> User | None:
    with read_session(engine) as r:
        return r.exec(select(User).where(User.store_id == ctx.store_id, User.username == username)).first()


def _refusal(rule: str, zh: str, en: str, action: Action, **details: object) -> AppError:
    return AppError(403, rule, zh, en, {"action": action.value, "who_may": [r.value for r in who_may(action)],
                                        "who_may_zh": who_may_zh(action)} | details)


def authorise(engine: Engine, ctx: Ctx, till_user_id: int, username: str, pin: str, action: Action) -> Authoriser:
    """The authoriser of `action` at the till where `till_user_id` is logged in, judged; refused otherwise."""
    if action not in IN_PLACE:
        raise AppError(422, "SEC-01", "此操作不能由他人当场授权", f"{action.value} is not authorised in place",
                       {"action": action.value})
    words = IN_PLACE[action]
    may = who_may_zh(action)
    try:  # the login's own check: an unknown user spends a verification's time, a frozen one is refused
        verified = verify_ahead(engine, ctx, username, pin)  # before the unit: the writer is not held meanwhile
        with core_unit(engine) as u:  # the PIN's own unit: a wrong one is counted and committed
            checked = check_pin(u, ctx, username, pin, verified)
    except AppError as exc:
        if exc.code == "SEC-03" and (user := _named(engine, ctx, username)) is not None:
            raise _refusal("SEC-03", f"授权人 {user.display_name} 的账号已冻结，不能授权；{words}须由在职的{may}授权",
                           f"the authoriser's account is frozen; {action.value} needs a live {may}", action,
                           frozen=True) from exc
        if exc.status == 401:
            raise WRONG from exc
        raise
    if checked is None:  # the failure was counted and committed above
        raise WRONG
    with read_session(engine) as r:
        uid = id_of(checked)
        roles = active_roles(r, uid)
        same = person_of(r, uid) == person_of(r, till_user_id)
    if same:  # another account of the person at the till is that person (SEC-02: accounts belong to a person)
        raise _refusal("SEC-01", f"授权人不能是本机登录人本人（含本人的其他账号）：{words}须由另一位{may}授权",
                       "the authoriser cannot be the person logged in at the till, nor another account of theirs",
                       action, same_person=True)
    if not allowed(roles, action):
        posts = "、".join(r.label for r in sorted(roles)) or "无岗位"
        raise _refusal("SEC-01", f"{checked.display_name}（{posts}）无权{words}：须由{may}授权",
                       f"{checked.username}'s posts may not do {action.value}: it needs a {may}", action,
                       roles=sorted(r.value for r in roles))
    return Authoriser(uid, checked.username, checked.display_name, roles)


def still_authorised(engine: Engine, ctx: Ctx, authoriser: Authoriser, action: Action) -> frozenset[Role]:
    """At the grant's use: the authoriser's posts now (a freeze or a revoked post since the PIN ends it)."""
    with read_session(engine) as r:
        user = r.get(User, authoriser.user_id)
        roles = active_roles(r, authoriser.user_id) if user is not None else frozenset()
    if user is None or user.status != UserStatus.ACTIVE.value or not allowed(roles, action):
        raise _refusal("SEC-03" if user is not None and user.status != UserStatus.ACTIVE.value else "SEC-01",
                       f"授权人 {authoriser.display_name} 已无权{IN_PLACE.get(action, action.value)}（账号冻结或岗位变更）",
                       "the authoriser no longer holds the post (frozen or revoked since)", action)
    return roles


def second(engine: Engine, ctx: Ctx, username: str, pin: str, action: Action) -> Authoriser:
    """The second person of `action`'s check (SEC-01, CARD-04, RX-01, CARD-07, AGR-01), their PIN checked with the
    login's lockout (a wrong one counted and committed). Whether they may confirm this request — another person
    than the one acting, a post that checks it — is the request's rule's to judge at the use, in its own words."""
    if action not in SECOND_PERSON:
        raise AppError(422, "SEC-01", "此操作无须复核人", f"{action.value} has no second person",
                       {"action": action.value})
    try:
        verified = verify_ahead(engine, ctx, username, pin)  # before the unit: the writer is not held meanwhile
        with core_unit(engine) as u:  # the PIN's own unit: a wrong one is counted and committed
            checked = check_pin(u, ctx, username, pin, verified)
    except AppError as exc:
        if exc.code == "SEC-03" and (user := _named(engine, ctx, username)) is not None:
            raise AppError(403, "SEC-03", f"复核人 {user.display_name} 的账号已冻结，不能复核",
                           "the second person's account is frozen", {"action": action.value, "frozen": True}
                           ) from exc
        if exc.status == 401:
            raise SECOND_WRONG from exc
        raise
    if checked is None:  # the failure was counted and committed above
        raise SECOND_WRONG
    with read_session(engine) as r:
        uid = id_of(checked)
        roles = active_roles(r, uid)
    return Authoriser(uid, checked.username, checked.display_name, roles)
