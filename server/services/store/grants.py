"""Posts as requests (SEC-01), revoked and transferred at once (SEC-03).

A post is requested (by the maintainer who keeps the accounts), and gives its right only once someone other
than the grantee and the requester approves it — persons, not accounts. Revoking a post, or transferring a
person to another post, takes the old rights away at once: the account's sessions end with it (the principal
cache forgets them at the flush, server.auth.principals), and a pharmacist's duty ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from server import audit
from server.db.models import User, UserRole, UserStatus
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.roles import Role
from server.rules.duties import grant_approval_refusal
from server.rules.staff import role_combination_refusals
from server.services.context import Ctx
from server.services.store.users import (
    active_roles,
    check_person_posts,
    end_duty,
    end_sessions,
    id_number_of,
    issue_code,
    person_of,
    user_of,
)


def _grant(u: Unit, ctx: Ctx, grant_id: int) -> UserRole:
    grant = orm(u).get(UserRole, grant_id)
    if grant is None or grant.store_id != ctx.store_id:
        raise not_found("岗位申请", "post request", grant_id=grant_id)
    return grant


def request_post(u: Unit, ctx: Ctx, user_id: int, role: Role, note: str = "") -> UserRole:
    """A request for a post: no right until approved. Refused when the person would then mix a maintainer's
    post with an operator's (SEC-02), whichever of their accounts holds which."""
    s = orm(u)
    user = user_of(s, ctx, user_id)
    if user.status != UserStatus.ACTIVE.value:
        raise AppError(409, "SEC-03", "账号已冻结，不能申请岗位", "a frozen account gets no post")
    open_grants = s.exec(select(UserRole).where(UserRole.user_id == user_id, UserRole.role == role.value,
                                                col(UserRole.revoked_at).is_(None))).first()
    if open_grants is not None:
        raise conflict("DUPLICATE", "该岗位已授予或已在申请中", "this post is held or requested already", role=role.value)
    check_person_posts(s, id_number_of(s, user_id), user_id, {role})
    grant = UserRole(store_id=ctx.store_id, user_id=user_id, role=role.value, granted_by=ctx.actor.user_id,
                     granted_at=ctx.now, pending=True)
    s.add(grant)
    audit.record_row(u, ctx.store_id, ctx.actor, "user.grant_requested", grant, note=note)
    return grant


@dataclass(frozen=True, slots=True)
class Approved:
    grant: UserRole
    one_time_code: str | None  # the account's first-PIN code, when it has no PIN yet: for its owner's hands only


def approve(u: Unit, ctx: Ctx, grant_id: int) -> Approved:
    """SEC-01: approved by someone other than the grantee and the requester. An account without a PIN gets its
    one-time code with the approval: the approver hands it to the owner, who sets the PIN; the maintainer who
    made the account never sees it."""
    s = orm(u)
    grant = _grant(u, ctx, grant_id)
    if not grant.pending or grant.revoked_at is not None:
        raise conflict("SEC-01", "该申请不在待批准状态", "this request is not awaiting approval", grant_id=grant_id)
    if ctx.actor.user_id is None:
        raise AppError(403, "SEC-01", "岗位授权须由具名人员批准", "a grant is approved by a named person")
    approver = person_of(s, ctx.actor.user_id)
    requester = person_of(s, grant.granted_by) if grant.granted_by is not None else "system"
    if v := grant_approval_refusal(approver, requester, person_of(s, grant.user_id)):
        raise refused([v])
    user = user_of(s, ctx, grant.user_id)
    if user.status != UserStatus.ACTIVE.value:
        raise AppError(409, "SEC-03", "账号已冻结，不能授予岗位", "a frozen account gets no post")
    # checked again: the person's other accounts may have changed since the request
    check_person_posts(s, id_number_of(s, grant.user_id), grant.user_id, {Role(grant.role)})
    before = audit.snapshot(grant)
    grant.pending, grant.approved_by, grant.approved_at = False, ctx.actor.user_id, ctx.now
    s.add(grant)
    audit.record_row(u, ctx.store_id, ctx.actor, "user.grant_approved", grant, before)
    return Approved(grant, None if user.pin_hash else issue_code(u, ctx, user))


def refuse(u: Unit, ctx: Ctx, grant_id: int, reason: str) -> UserRole:
    """A request turned down (or withdrawn): it stays on record, closed."""
    grant = _grant(u, ctx, grant_id)
    if not grant.pending or grant.revoked_at is not None:
        raise conflict("SEC-01", "该申请不在待批准状态", "this request is not awaiting approval", grant_id=grant_id)
    if not reason.strip():
        raise AppError(422, "SEC-01", "驳回申请须填写原因", "turning a request down needs a reason")
    return _close(u, ctx, grant, "user.grant_refused", reason)


def _close(u: Unit, ctx: Ctx, grant: UserRole, action: str, reason: str) -> UserRole:
    before = audit.snapshot(grant)
    grant.revoked_at, grant.revoked_by = ctx.now, ctx.actor.user_id
    orm(u).add(grant)
    audit.record_row(u, ctx.store_id, ctx.actor, action, grant, before, note=reason)
    return grant


def _take_away(u: Unit, ctx: Ctx, user: User, roles: set[Role], reason: str) -> list[UserRole]:
    """The posts end now, with the account's sessions (a new login carries only what is left) and, for a
    pharmacist's post, their duty."""
    s = orm(u)
    ended = [_close(u, ctx, g, "user.revoke", reason)
             for g in s.exec(select(UserRole).where(UserRole.user_id == id_of(user), col(UserRole.role).in_(
                 [r.value for r in roles]), col(UserRole.revoked_at).is_(None)).order_by(col(UserRole.id)))]
    end_sessions(u, ctx, id_of(user))
    if Role.PHARMACIST in roles:
        end_duty(u, ctx, id_of(user), "duty.off_by_revoke", reason)
    return ended


def revoke(u: Unit, ctx: Ctx, user_id: int, role: Role, reason: str) -> list[UserRole]:
    """SEC-03: a post ends at once (held or requested); its sessions end with it."""
    s = orm(u)
    user = user_of(s, ctx, user_id)
    if not reason.strip():
        raise AppError(422, "SEC-03", "撤销岗位须填写原因", "revoking a post needs a reason")
    if user_id == ctx.actor.user_id:
        raise AppError(422, "SEC-01", "不能撤销自己的岗位", "you cannot revoke your own post")
    ended = _take_away(u, ctx, user, {role}, reason)
    if not ended:
        raise conflict("SEC-03", "该账号没有此岗位", "the account does not hold this post", role=role.value)
    return ended


def transfer(u: Unit, ctx: Ctx, user_id: int, to: set[Role], reason: str) -> list[UserRole]:
    """SEC-03: a person moves to another post: every post they held ends at once (sessions and duty too), and
    the new ones are requests, live once approved by someone else (SEC-01)."""
    s = orm(u)
    user = user_of(s, ctx, user_id)
    if not reason.strip():
        raise AppError(422, "SEC-03", "调岗须填写原因", "a transfer needs a reason")
    if not to:
        raise AppError(422, "SEC-01", "请指定新岗位", "name the new post")
    if problems := role_combination_refusals(to):
        raise refused(problems)
    if user_id == ctx.actor.user_id:
        raise AppError(422, "SEC-01", "不能为自己调岗", "you cannot transfer yourself")
    held = active_roles(s, user_id)
    _take_away(u, ctx, user, set(Role), reason)  # every post, held or requested: the old rights end now
    audit.record(u, ctx.store_id, ctx.actor, "user.transfer", "transfer", user_id,
                 {"roles": sorted(r.value for r in held)}, {"requested": sorted(r.value for r in to)}, note=reason)
    return [request_post(u, ctx, user_id, role, note=reason) for role in sorted(to)]


def reissue_code(u: Unit, ctx: Ctx, user_id: int) -> str:
    """A new one-time code for an account whose owner has not set their PIN yet (lost or expired), issued under
    the same four eyes as the approval that first gave it: not to the owner, not to who requested its posts."""
    s = orm(u)
    user = user_of(s, ctx, user_id)
    if user.status != UserStatus.ACTIVE.value:
        raise AppError(409, "SEC-03", "账号已冻结", "this account is frozen")
    if ctx.actor.user_id is None:
        raise AppError(403, "SEC-01", "一次性码须由具名人员发放", "a one-time code is issued by a named person")
    grants = s.exec(select(UserRole).where(UserRole.user_id == user_id, col(UserRole.revoked_at).is_(None),
                                           ~col(UserRole.pending))).all()
    if not grants:
        raise conflict("SEC-01", "该账号尚无已批准的岗位", "the account has no approved post yet")
    issuer, owner = person_of(s, ctx.actor.user_id), person_of(s, user_id)
    for g in grants:
        requester = person_of(s, g.granted_by) if g.granted_by is not None else "system"
        if v := grant_approval_refusal(issuer, requester, owner):
            raise refused([v])
    return issue_code(u, ctx, user)
