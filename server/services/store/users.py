"""Accounts, posts and staff records; login with a PIN, bearer tokens, freezing (SEC-01..03)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from catalog.codes import mask_id
from server import audit
from server.auth.pins import PIN_PATTERN, burn_time, hash_pin, verify_and_update, verify_pin
from server.db.models import AuthSession, PharmacistDuty, StaffProfile, Till, User, UserRole, UserStatus
from server.db.models.base import id_of
from server.db.uow import Unit, orm, read_session
from server.errors import AppError, conflict, not_found, refused
from server.permissions import Action, allowed
from server.roles import Role
from server.rules.controlled import Approver
from server.rules.duties import person_key, person_posts_refusal
from server.rules.staff import StaffRecord, role_combination_refusals
from server.services.context import Ctx

ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
CODE_DIGITS = 10  # a one-time code: typed at the till; the lockout and its expiry bound the guessing


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


def live_grant() -> Any:
    """A grant that gives its right now: approved (not a pending request) and not revoked."""
    return col(UserRole.revoked_at).is_(None) & ~col(UserRole.pending)


def active_roles(s: Session, user_id: int) -> frozenset[Role]:
    rows = s.exec(select(UserRole.role).where(UserRole.user_id == user_id, live_grant()))
    return frozenset(Role(r) for r in rows)


def pending_roles(s: Session, user_id: int) -> frozenset[Role]:
    rows = s.exec(select(UserRole.role).where(UserRole.user_id == user_id, col(UserRole.pending),
                                              col(UserRole.revoked_at).is_(None)))
    return frozenset(Role(r) for r in rows)


def user_of(s: Session, ctx: Ctx, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None or user.store_id != ctx.store_id:
        raise not_found("用户", "user", user_id=user_id)
    return user


def id_number_of(s: Session, user_id: int) -> str:
    return s.exec(select(StaffProfile.id_number).where(StaffProfile.user_id == user_id)).first() or ""


def person_of(s: Session, user_id: int) -> str:
    """The person an account belongs to (server.rules.duties.person_key)."""
    return person_key(id_number_of(s, user_id), user_id)


def person_posts(s: Session, id_number: str, user_id: int) -> set[Role]:
    """Every post the person holds or has requested, over all their live accounts (any store of the chain): a
    second staff record with the same identity number is the same person."""
    number = id_number.strip().upper()
    if not number:
        accounts = {user_id}
    else:
        accounts = set(s.exec(select(StaffProfile.user_id).join(User, col(User.id) == StaffProfile.user_id)
                              .where(func.upper(StaffProfile.id_number) == number,
                                     User.status == UserStatus.ACTIVE.value)))
        accounts.add(user_id)
    rows = s.exec(select(UserRole.role).where(col(UserRole.user_id).in_(accounts),
                                              col(UserRole.revoked_at).is_(None)))
    return {Role(r) for r in rows}


def check_person_posts(s: Session, id_number: str, user_id: int, adding: set[Role]) -> None:
    """SEC-02 by person: refused when the posts the person would hold mix a maintainer's with an operator's."""
    if v := person_posts_refusal(person_posts(s, id_number, user_id) | adding, id_number):
        raise refused([v])


def _check_id_number(id_number: str) -> str:
    number = id_number.strip().upper()
    if not ID_NUMBER.match(number):
        raise AppError(422, "SEC-01", "账号须属于一个人：请填写其 18 位身份证号",
                       "an account belongs to a person: give their 18-character identity number")
    return number


def create_account(u: Unit, ctx: Ctx, username: str, display_name: str, id_number: str, roles: set[Role]) -> User:
    """SEC-01/02: an account for a person (their staff record, with the identity number), with no PIN: its posts
    are requests until someone else approves them, and its owner sets the first PIN with a one-time code that
    the approval issues. Nobody who creates an account ever knows its PIN."""
    s = orm(u)
    number = _check_id_number(id_number)
    if not roles:
        raise AppError(422, "SEC-01", "至少申请一个岗位", "request at least one post")
    if problems := role_combination_refusals(roles):
        raise refused(problems)
    if s.exec(select(User).where(User.store_id == ctx.store_id, User.username == username)).first():
        raise conflict("DUPLICATE", f"用户名 {username} 已存在", f"username {username} is taken", username=username)
    check_person_posts(s, number, 0, roles)
    user = User(store_id=ctx.store_id, username=username, display_name=display_name, pin_hash="")
    s.add(user)
    audit.record_row(u, ctx.store_id, ctx.actor, "user.create", user)
    profile = StaffProfile(store_id=ctx.store_id, user_id=id_of(user), id_number=number, updated_at=ctx.now)
    s.add(profile)
    audit.record_row(u, ctx.store_id, ctx.actor, "staff.create", profile)
    for role in sorted(roles):
        grant = UserRole(store_id=ctx.store_id, user_id=id_of(user), role=role.value, granted_by=ctx.actor.user_id,
                         granted_at=ctx.now, pending=True)
        s.add(grant)
        audit.record_row(u, ctx.store_id, ctx.actor, "user.grant_requested", grant)
    return user


def add_user(u: Unit, ctx: Ctx, username: str, display_name: str, pin: str, roles: set[Role],
             id_number: str = "") -> User:
    """Internal provisioning, reached by no API route and no command but the bootstrap of a fresh store: the
    store's first accounts, the demo's and the tests' people. The posts live at once (provisioned, audited as
    such) and the PIN is set as its owner sets it: through a one-time code."""
    s = orm(u)
    if not PIN_PATTERN.match(pin):
        raise AppError(422, "VALIDATION", "PIN 须为 4–12 位数字", "the PIN must be 4 to 12 digits")
    if not roles:
        raise AppError(422, "SEC-01", "至少授予一个岗位", "grant at least one post")
    if problems := role_combination_refusals(roles):
        raise refused(problems)
    if s.exec(select(User).where(User.store_id == ctx.store_id, User.username == username)).first():
        raise conflict("DUPLICATE", f"用户名 {username} 已存在", f"username {username} is taken", username=username)
    number = _check_id_number(id_number) if id_number else ""
    if number:
        check_person_posts(s, number, 0, roles)
    user = User(store_id=ctx.store_id, username=username, display_name=display_name, pin_hash="")
    s.add(user)
    audit.record_row(u, ctx.store_id, ctx.actor, "user.create", user)
    if number:
        profile = StaffProfile(store_id=ctx.store_id, user_id=id_of(user), id_number=number, updated_at=ctx.now)
        s.add(profile)
        audit.record_row(u, ctx.store_id, ctx.actor, "staff.create", profile)
    for role in sorted(roles):
        # live at once, approved by nobody: the audit entry says it was provisioned
        grant = UserRole(store_id=ctx.store_id, user_id=id_of(user), role=role.value,
                         granted_by=ctx.actor.user_id, granted_at=ctx.now)
        s.add(grant)
        audit.record_row(u, ctx.store_id, ctx.actor, "user.grant", grant, note="provisioned")
    code = issue_code(u, ctx, user)
    if set_first_pin(u, ctx, username, code, pin) is None:  # pragma: no cover - the code was just issued
        raise AppError(500, "SEC-01", "一次性码无效", "the one-time code was refused")
    return user


# --- the first PIN: set by the owner with a one-time code (SEC-01) -------------------------------------------


def issue_code(u: Unit, ctx: Ctx, user: User) -> str:
    """A one-time code for an account that has no PIN yet, handed to its owner in person; only its hash is kept.
    Issuing again replaces the earlier code."""
    if user.pin_hash:
        raise conflict("SEC-01", "该账号已设置 PIN", "this account has its PIN already")
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    before = audit.snapshot(user)
    user.one_time_code_hash = hash_pin(code, *pin_cost(ctx))
    user.one_time_code_expires_at = ctx.now + timedelta(hours=ctx.settings.service.one_time_code_hours)
    user.updated_at = ctx.now
    orm(u).add(user)
    audit.record_row(u, ctx.store_id, ctx.actor, "user.code_issued", user, before)
    return code


BAD_CODE = AppError(401, "AUTH", "用户名或一次性码错误，或一次性码已过期",
                     "wrong username or one-time code, or the code has expired")


def set_first_pin(u: Unit, ctx: Ctx, username: str, code: str, pin: str) -> User | None:
    """The owner sets their first PIN with the one-time code. A wrong code is counted with the login's lockout
    and returns None (the caller commits the count before refusing)."""
    s = orm(u)
    if not PIN_PATTERN.match(pin):
        raise AppError(422, "VALIDATION", "PIN 须为 4–12 位数字", "the PIN must be 4 to 12 digits")
    user = s.exec(select(User).where(User.store_id == ctx.store_id, User.username == username)).first()
    if user is None or user.pin_hash or not user.one_time_code_hash:
        burn_time(code, *pin_cost(ctx))
        raise BAD_CODE
    if user.status != UserStatus.ACTIVE.value:
        raise AppError(403, "SEC-03", "账号已冻结", "this account is frozen")
    if user.locked_until and user.locked_until > ctx.now:
        raise AppError(403, "AUTH_LOCKED", "错误次数过多，账号暂时锁定", "too many wrong codes; the account is locked for a while",
                       {"locked_until": user.locked_until.isoformat()})
    expired = user.one_time_code_expires_at is None or user.one_time_code_expires_at <= ctx.now
    if expired or not verify_pin(code, user.one_time_code_hash):
        _count_failure(u, ctx, user, username, "auth.code_failed")
        return None
    before = audit.snapshot(user)
    user.pin_hash = hash_pin(pin, *pin_cost(ctx))
    user.one_time_code_hash, user.one_time_code_expires_at = "", None
    user.failed_attempts, user.locked_until, user.updated_at = 0, None, ctx.now
    s.add(user)
    audit.record_row(u, ctx.store_id, audit.Actor(user.id, user.username), "user.first_pin", user, before)
    return user


def _count_failure(u: Unit, ctx: Ctx, user: User, username: str, action: str) -> bool:
    cfg = ctx.settings.service
    user.failed_attempts += 1
    locked = user.failed_attempts >= cfg.lockout_attempts
    if locked:
        user.locked_until = ctx.now + timedelta(minutes=cfg.lockout_minutes)
        user.failed_attempts = 0
    orm(u).add(user)
    audit.record(u, ctx.store_id, audit.Actor(None, username), action, "auth", user.id, None, {"locked": locked})
    return locked


def end_sessions(u: Unit, ctx: Ctx, user_id: int) -> None:
    """Every live token of the account dies at once (SEC-03): a freeze, a revoked post, a transfer."""
    s = orm(u)
    for sess in s.exec(select(AuthSession).where(AuthSession.user_id == user_id, col(AuthSession.revoked_at).is_(None))):
        before = audit.snapshot(sess)
        sess.revoked_at = ctx.now
        s.add(sess)
        # each session's image moves on in the chain (audit verify names a session revived behind the service)
        audit.record_row(u, ctx.store_id, ctx.actor, "auth.session_ended", sess, before)


def end_duty(u: Unit, ctx: Ctx, user_id: int, action: str, reason: str) -> None:
    """RX-10: a pharmacist's open duty ends with their account's freeze or their post's end."""
    s = orm(u)
    for duty in s.exec(select(PharmacistDuty).where(PharmacistDuty.user_id == user_id,
                                                    col(PharmacistDuty.off_at).is_(None))):
        duty_before = audit.snapshot(duty)
        duty.off_at = ctx.now
        s.add(duty)
        audit.record_row(u, ctx.store_id, ctx.actor, action, duty, duty_before, note=reason)


def freeze_user(u: Unit, ctx: Ctx, user_id: int, reason: str) -> User:
    """SEC-03: a departing or transferred employee's account is frozen; its tokens die at once."""
    s = orm(u)
    user = user_of(s, ctx, user_id)
    if not reason.strip():
        raise AppError(422, "SEC-03", "冻结账号须填写原因（离职/调岗）", "freezing an account needs a reason")
    if user.id == ctx.actor.user_id:
        raise AppError(422, "SEC-01", "不能冻结自己的账号", "you cannot freeze your own account")
    if user.status == UserStatus.FROZEN.value:
        return user
    before = audit.snapshot(user)
    user.status, user.frozen_reason, user.frozen_at, user.updated_at = UserStatus.FROZEN.value, reason, ctx.now, ctx.now
    s.add(user)
    end_sessions(u, ctx, id_of(user))
    audit.record_row(u, ctx.store_id, ctx.actor, "user.freeze", user, before, note=reason)
    # RX-10: a frozen pharmacist's duty ends with the freeze (presence stops counting it at once either way; the
    # row says when, for the record of the time the store sold without one)
    end_duty(u, ctx, id_of(user), "duty.off_by_freeze", reason)
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
    user_of(s, ctx, user_id)
    if values.get("contract_start") and values.get("contract_end") and values["contract_end"] < values["contract_start"]:
        raise AppError(422, "VALIDATION", "合同截止日期早于开始日期", "the contract ends before it starts")
    profile = s.exec(select(StaffProfile).where(StaffProfile.user_id == user_id)).first()
    values = dict(values)
    on_record = profile.id_number if profile else ""
    if not values.get("id_number"):
        values["id_number"] = on_record  # not given: the owner stays who they are
    elif on_record and values["id_number"].strip().upper() != on_record.upper():
        # the owner of an account is who it was made for: another person gets an account of their own
        raise AppError(409, "SEC-01", "账号所属人员（身份证号）不可更改", "the person an account belongs to cannot change",
                       {"id_number": mask_id(on_record)})
    else:  # the account now belongs to this person: their other accounts' posts count too
        values["id_number"] = _check_id_number(values["id_number"])
        check_person_posts(s, values["id_number"], user_id, set())
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


def login(u: Unit, ctx: Ctx, username: str, pin: str, till_id: int | None,
          verified: PinVerified | None = None) -> tuple[str, AuthSession, User] | None:
    """Check the PIN; lock the account after repeated failures; issue an expiring bearer token. `verified`: the
    PIN verified before the unit of work (verify_ahead), judged again here (check_pin).

    A wrong PIN returns None after recording the failure, so the caller commits the counter (and
    the lock) before refusing; raising here would roll the count back.
    """
    s = orm(u)
    user = check_pin(u, ctx, username, pin, verified)
    if user is None:
        return None
    token = secrets.token_urlsafe(32)
    session = AuthSession(store_id=ctx.store_id, user_id=id_of(user), token_hash=_token_hash(token), till_id=till_id,
                          created_at=ctx.now,
                          expires_at=ctx.now + timedelta(minutes=ctx.settings.service.token_ttl_minutes))
    s.add(session)
    # The session's own image (SEC-04): audit verify names a session slipped in, or revived, behind the service.
    audit.record_row(u, ctx.store_id, audit.Actor(user.id, user.username), "auth.login", session)
    return token, session, user


def pin_cost(ctx: Ctx) -> tuple[int, int]:
    """The argon2 cost the store's PINs are hashed with (memory in KiB, passes)."""
    return ctx.settings.service.pin_hash_memory_kib, ctx.settings.service.pin_hash_time_cost


@dataclass(frozen=True, slots=True)
class PinVerified:
    """A PIN verified before the unit of work that records its outcome (verify_ahead): whose, against which
    stored hash, the answer, and the hash at the store's cost if it is to be stored again."""

    user_id: int
    pin_hash: str
    right: bool
    rehashed: str | None


def _usable(user: User | None, ctx: Ctx, pin: str) -> User:
    """The refusals of a PIN check that write nothing: an unknown user (after a verification's time, so the answer's
    time does not tell which usernames exist), a frozen one, one without a PIN yet (the same time), a locked one."""
    if user is None:
        burn_time(pin, *pin_cost(ctx))
        raise AppError(401, "AUTH", *_BAD_LOGIN)
    if user.status != UserStatus.ACTIVE.value:
        raise AppError(403, "SEC-03", "账号已冻结，不能登录", "this account is frozen")
    if not user.pin_hash:
        burn_time(pin, *pin_cost(ctx))
        raise AppError(403, "AUTH_FIRST_PIN", "该账号尚未设置 PIN：请用发给本人的一次性码设置",
                       "this account has no PIN yet: its owner sets it with the one-time code")
    if user.locked_until and user.locked_until > ctx.now:
        raise AppError(403, "AUTH_LOCKED", f"PIN 错误次数过多，账号锁定至 {user.locked_until.astimezone(ctx.settings.store.tz):%H:%M}",
                       "too many wrong PINs; the account is locked for a while",
                       {"locked_until": user.locked_until.isoformat()})
    return user


def _named(s: Session, ctx: Ctx, username: str) -> User | None:
    return s.exec(select(User).where(User.store_id == ctx.store_id, User.username == username)).first()


def verify_ahead(engine: Engine, ctx: Ctx, username: str, pin: str) -> PinVerified:
    """The PIN's argon2 verification (tens of ms of CPU) before the unit of work that records its outcome, so a
    login or an authorisation does not hold the database's writer (SQLite's one lock) while it runs. The user is
    read without a lock and refused at once where nothing is to be written (unknown, frozen, no PIN, locked).

    No gap: check_pin, given the answer, judges the user again inside the unit as they are at the write — frozen or
    locked since is refused whatever the PIN, and a PIN changed since is verified again against the new hash."""
    with read_session(engine) as s:
        user = _usable(_named(s, ctx, username), ctx, pin)
        uid, stored = id_of(user), user.pin_hash
    right, rehashed = verify_and_update(pin, stored, *pin_cost(ctx))
    return PinVerified(uid, stored, right, rehashed)


def check_pin(u: Unit, ctx: Ctx, username: str, pin: str, verified: PinVerified | None = None) -> User | None:
    """A user's PIN, with the lockout: the user when right; None when wrong, the failure recorded (the
    caller commits it before refusing). Unknown, frozen and locked users are refused at once. `verified`: the
    answer of verify_ahead, taken if the user's stored hash is still the one it was verified against."""
    s = orm(u)
    user = _usable(_named(s, ctx, username), ctx, pin)
    if verified is not None and verified.user_id == user.id and verified.pin_hash == user.pin_hash:
        right, rehashed = verified.right, verified.rehashed
    else:
        right, rehashed = verify_and_update(pin, user.pin_hash, *pin_cost(ctx))
    if not right:
        _count_failure(u, ctx, user, username, "auth.login_failed")
        return None
    if rehashed is not None:  # hashed at another cost (an older default): kept at the store's from now on
        user.pin_hash = rehashed
        s.add(user)
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
    s, uid = orm(u), id_of(user)
    # Another account of the requester's own person is the requester (SEC-02: accounts belong to a person).
    requester = ctx.actor.user_id is not None and person_of(s, uid) == person_of(s, ctx.actor.user_id)
    return Approver(uid, user.username, active_roles(s, uid), staff_record(staff_profile(s, uid)), requester)


def approver_of(s: Session, ctx: Ctx, user_id: int) -> Approver:
    """The second person who confirmed at the till or the office (their grant's account, their PIN checked when it
    was asked), as they are now: their posts and staff record, for the rule to judge. Frozen since: refused."""
    user = s.get(User, user_id)
    if user is None or user.store_id != ctx.store_id or user.status != UserStatus.ACTIVE.value:
        raise AppError(403, "SEC-03", "复核人的账号已冻结", "the second person's account is frozen")
    # Another account of the requester's own person is the requester (SEC-02: accounts belong to a person).
    requester = ctx.actor.user_id is not None and person_of(s, user_id) == person_of(s, ctx.actor.user_id)
    return Approver(user_id, user.username, active_roles(s, user_id), staff_record(staff_profile(s, user_id)),
                    requester)


def confirmed_by(engine: Engine, ctx: Ctx, user_id: int, action: Action, refusal: AppError) -> Approver:
    """A second person who confirmed in place (the agency's decision on the agreement): another person than the
    one acting (not another account of theirs, SEC-02), live, whose post allows `action`; `refusal` otherwise."""
    with read_session(engine) as s:
        user = s.get(User, user_id)
        if user is None or user.status != UserStatus.ACTIVE.value:
            raise refusal
        approver = approver_of(s, ctx, user_id)
        same = ctx.actor.user_id is not None and person_of(s, user_id) == person_of(s, ctx.actor.user_id)
    if same or not allowed(approver.roles, action):
        raise refusal
    return approver


def logout(u: Unit, ctx: Ctx, principal: Principal) -> None:
    s = orm(u)
    sess = s.get(AuthSession, principal.session_id)
    if sess is not None and sess.revoked_at is None:
        before = audit.snapshot(sess)
        sess.revoked_at = ctx.now
        s.add(sess)
        audit.record_row(u, ctx.store_id, principal.actor, "auth.logout", sess, before)


def resolve_token(s: Session, ctx: Ctx, token: str) -> Principal | None:
    """The caller behind a token, or None if it is unknown, expired, revoked or its user frozen."""
    # One round trip: the session, its user, its till and the user's live posts (one row per post).
    rows = s.exec(
        select(AuthSession, User, Till.code, UserRole.role)
        .join(User, col(User.id) == AuthSession.user_id)
        .join(Till, col(Till.id) == AuthSession.till_id, isouter=True)
        .join(UserRole, (col(UserRole.user_id) == User.id) & live_grant(), isouter=True)
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

