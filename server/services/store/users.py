"""Accounts, posts and staff records; login with a PIN, bearer tokens, freezing (SEC-01..03)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server import audit
from server.auth.pins import PIN_PATTERN, burn_time, hash_pin, verify_pin
from server.db.models import AuthSession, PharmacistDuty, StaffProfile, Till, User, UserRole, UserStatus
from server.db.models.base import id_of
from server.db.uow import Unit, core_unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.permissions import Action, allowed
from server.roles import Role
from server.rules.controlled import Approver
from server.rules.staff import StaffRecord, role_combination_refusals
from server.services.context import Ctx


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from the bearer token on every request."""

    user_id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    session_id: int
    till_id: int | None
    till_code: str | None = None  # the registered till this session logged in at (AGR-02)
    expires_at: datetime | None = None  # the token's

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(self.user_id, self.username)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def active_roles(s: Session, user_id: int) -> frozenset[Role]:
    rows = s.exec(select(UserRole.role).where(UserRole.user_id == user_id, col(UserRole.revoked_at).is_(None)))
    return frozenset(Role(r) for r in rows)


def _user(s: Session, ctx: Ctx, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None or user.store_id != ctx.store_id:
        raise not_found("用户", "user", user_id=user_id)
    return user


def add_user(u: Unit, ctx: Ctx, username: str, display_name: str, pin: str, roles: set[Role]) -> User:
    s = orm(u)
    if not PIN_PATTERN.match(pin):
        raise AppError(422, "VALIDATION", "PIN 须为 4–12 位数字", "the PIN must be 4 to 12 digits")
    if not roles:
        raise AppError(422, "SEC-01", "至少授予一个岗位", "grant at least one post")
    if problems := role_combination_refusals(roles):
        raise refused(problems)
    if s.exec(select(User).where(User.store_id == ctx.store_id, User.username == username)).first():
        raise conflict("DUPLICATE", f"用户名 {username} 已存在", f"username {username} is taken", username=username)
    user = User(store_id=ctx.store_id, username=username, display_name=display_name, pin_hash=hash_pin(pin, ctx.settings.service.pin_hash_memory_kib,
                                                                   ctx.settings.service.pin_hash_time_cost))
    s.add(user)
    audit.record_row(u, ctx.store_id, ctx.actor, "user.create", user)
    for role in sorted(roles):
        grant = UserRole(store_id=ctx.store_id, user_id=id_of(user), role=role.value,
                         granted_by=ctx.actor.user_id)
        s.add(grant)
        audit.record_row(u, ctx.store_id, ctx.actor, "user.grant", grant)
    return user


def freeze_user(u: Unit, ctx: Ctx, user_id: int, reason: str) -> User:
    """SEC-03: a departing or transferred employee's account is frozen; its tokens die at once."""
    s = orm(u)
    user = _user(s, ctx, user_id)
    if not reason.strip():
        raise AppError(422, "SEC-03", "冻结账号须填写原因（离职/调岗）", "freezing an account needs a reason")
    if user.id == ctx.actor.user_id:
        raise AppError(422, "SEC-01", "不能冻结自己的账号", "you cannot freeze your own account")
    if user.status == UserStatus.FROZEN.value:
        return user
    before = audit.snapshot(user)
    user.status, user.frozen_reason, user.frozen_at, user.updated_at = UserStatus.FROZEN.value, reason, ctx.now, ctx.now
    s.add(user)
    for sess in s.exec(select(AuthSession).where(AuthSession.user_id == user.id, col(AuthSession.revoked_at).is_(None))):
        sess.revoked_at = ctx.now
        s.add(sess)
    audit.record_row(u, ctx.store_id, ctx.actor, "user.freeze", user, before, note=reason)
    # RX-10: a frozen pharmacist's duty ends with the freeze (presence stops counting it at once either way; the
    # row says when, for the record of the time the store sold without one)
    for duty in s.exec(select(PharmacistDuty).where(PharmacistDuty.user_id == user.id,
                                                    col(PharmacistDuty.off_at).is_(None))):
        duty_before = audit.snapshot(duty)
        duty.off_at = ctx.now
        s.add(duty)
        audit.record_row(u, ctx.store_id, ctx.actor, "duty.off_by_freeze", duty, duty_before, note=reason)
    return user


def find_user(s: Session, ctx: Ctx, username: str) -> User:
    user = s.exec(select(User).where(User.store_id == ctx.store_id, User.username == username)).first()
    if user is None:
        raise not_found("用户", "user", username=username)
    return user


def list_users(s: Session, ctx: Ctx) -> list[tuple[User, frozenset[Role]]]:
    users = s.exec(select(User).where(User.store_id == ctx.store_id).order_by(col(User.id))).all()
    return [(u, active_roles(s, id_of(u))) for u in users]


STAFF_FIELDS = ("id_number", "qualification", "qualification_no", "qualification_expiry", "registered_store_code",
                "contract_start", "contract_end", "work_cert_no", "work_cert_expiry")


def set_staff_profile(u: Unit, ctx: Ctx, user_id: int, values: dict[str, Any]) -> StaffProfile:
    s = orm(u)
    _user(s, ctx, user_id)
    if values.get("contract_start") and values.get("contract_end") and values["contract_end"] < values["contract_start"]:
        raise AppError(422, "VALIDATION", "合同截止日期早于开始日期", "the contract ends before it starts")
    profile = s.exec(select(StaffProfile).where(StaffProfile.user_id == user_id)).first()
    before = audit.snapshot(profile) if profile else None
    if profile is None:
        profile = StaffProfile(store_id=ctx.store_id, user_id=user_id)
    for k, v in values.items():
        if k in STAFF_FIELDS:
            setattr(profile, k, v)
    profile.updated_at = ctx.now
    s.add(profile)
    audit.record_row(u, ctx.store_id, ctx.actor, "staff.update" if before else "staff.create", profile, before)
    return profile


def staff_profile(s: Session, user_id: int) -> StaffProfile | None:
    return s.exec(select(StaffProfile).where(StaffProfile.user_id == user_id)).first()


def staff_record(profile: StaffProfile | None) -> StaffRecord | None:
    """What STAFF-01 reads of a staff record."""
    if profile is None:
        return None
    return StaffRecord(profile.qualification, profile.qualification_no, profile.registered_store_code,
                       profile.contract_start, profile.contract_end, profile.qualification_expiry)


# --- login ----------------------------------------------------------------------------------------

_BAD_LOGIN = ("用户名或 PIN 错误", "wrong username or PIN")


BAD_LOGIN = AppError(401, "AUTH", *_BAD_LOGIN)


def login(u: Unit, ctx: Ctx, username: str, pin: str, till_id: int | None) -> tuple[str, AuthSession, User] | None:
    """Check the PIN; lock the account after repeated failures; issue an expiring bearer token.

    A wrong PIN returns None after recording the failure, so the caller commits the counter (and
    the lock) before refusing; raising here would roll the count back.
    """
    s = orm(u)
    user = check_pin(u, ctx, username, pin)
    if user is None:
        return None
    token = secrets.token_urlsafe(32)
    session = AuthSession(store_id=ctx.store_id, user_id=id_of(user), token_hash=_token_hash(token), till_id=till_id,
                          created_at=ctx.now,
                          expires_at=ctx.now + timedelta(minutes=ctx.settings.service.token_ttl_minutes))
    s.add(session)
    s.flush()
    audit.record(u, ctx.store_id, audit.Actor(user.id, user.username), "auth.login", "auth", user.id, None,
                 {"session_id": session.id, "till_id": till_id})
    return token, session, user


def check_pin(u: Unit, ctx: Ctx, username: str, pin: str) -> User | None:
    """A user's PIN, with the lockout: the user when right; None when wrong, the failure recorded (the
    caller commits it before refusing). Unknown, frozen and locked users are refused at once."""
    s = orm(u)
    cfg = ctx.settings.service
    user = s.exec(select(User).where(User.store_id == ctx.store_id, User.username == username)).first()
    if user is None:
        burn_time(pin)
        raise AppError(401, "AUTH", *_BAD_LOGIN)
    if user.status != UserStatus.ACTIVE.value:
        raise AppError(403, "SEC-03", "账号已冻结，不能登录", "this account is frozen")
    if user.locked_until and user.locked_until > ctx.now:
        raise AppError(403, "AUTH_LOCKED", f"PIN 错误次数过多，账号锁定至 {user.locked_until.astimezone(ctx.settings.store.tz):%H:%M}",
                       "too many wrong PINs; the account is locked for a while",
                       {"locked_until": user.locked_until.isoformat()})
    if not verify_pin(pin, user.pin_hash):
        user.failed_attempts += 1
        locked = user.failed_attempts >= cfg.lockout_attempts
        if locked:
            user.locked_until = ctx.now + timedelta(minutes=cfg.lockout_minutes)
            user.failed_attempts = 0
        s.add(user)
        audit.record(u, ctx.store_id, audit.Actor(None, username), "auth.login_failed", "auth", user.id,
                     None, {"locked": locked})
        return None
    if user.failed_attempts or user.locked_until:
        user.failed_attempts, user.locked_until = 0, None
        s.add(user)
    return user


def second_person(u: Unit, ctx: Ctx, username: str, pin: str) -> Approver | None:
    """The second person of a controlled change (RX-01, CARD-07): their PIN checked with the login's lockout,
    their posts and staff record as of now, for the rule to judge (server.rules.controlled). None when the PIN is
    wrong, the failure recorded (the caller commits it before refusing); a frozen or locked account is refused."""
    user = check_pin(u, ctx, username, pin)
    if user is None:
        return None
    s = orm(u)
    return Approver(id_of(user), user.username, active_roles(s, id_of(user)), staff_record(staff_profile(s, id_of(user))))


def confirmed_by(engine: Engine, ctx: Ctx, username: str, pin: str, action: Action, refusal: AppError) -> Approver:
    """A second person confirms with their PIN (a later-day reversal, the agency's decision on the agreement):
    another user than the one acting, whose post allows `action`. The PIN is checked by `second_person` in a unit
    of its own, so a wrong one is counted and committed before `refusal` is raised."""
    if not username or username == ctx.actor.name:
        raise refusal
    with core_unit(engine) as u:
        approver = second_person(u, ctx, username, pin)
    if approver is None or approver.user_id == ctx.actor.user_id or not allowed(approver.roles, action):
        raise refusal
    return approver


def logout(u: Unit, ctx: Ctx, principal: Principal) -> None:
    s = orm(u)
    sess = s.get(AuthSession, principal.session_id)
    if sess is not None and sess.revoked_at is None:
        sess.revoked_at = ctx.now
        s.add(sess)
        audit.record(u, ctx.store_id, principal.actor, "auth.logout", "auth", principal.user_id, None,
                     {"session_id": sess.id})


def resolve_token(s: Session, ctx: Ctx, token: str) -> Principal | None:
    """The caller behind a token, or None if it is unknown, expired, revoked or its user frozen."""
    # One round trip: the session, its user, its till and the user's live posts (one row per post).
    rows = s.exec(
        select(AuthSession, User, Till.code, UserRole.role)
        .join(User, col(User.id) == AuthSession.user_id)
        .join(Till, col(Till.id) == AuthSession.till_id, isouter=True)
        .join(UserRole, (col(UserRole.user_id) == User.id) & col(UserRole.revoked_at).is_(None), isouter=True)
        .where(AuthSession.token_hash == _token_hash(token), AuthSession.store_id == ctx.store_id)
    ).all()
    if not rows:
        return None
    sess, user, till_code, _ = rows[0]
    if sess.revoked_at is not None or sess.expires_at <= ctx.now or user.status != UserStatus.ACTIVE.value:
        return None
    roles = frozenset(Role(r) for *_, r in rows if r is not None)
    return Principal(id_of(user), user.username, user.display_name, roles, id_of(sess), sess.till_id, till_code,
                     sess.expires_at)


def token_hash(token: str) -> str:
    return _token_hash(token)

