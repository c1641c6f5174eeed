"""Signing in to and out of the insurance centre (9001 / 9002), and the check settlement relies on.

"签到之后才能调用其他交易" (reference §1.4): an operator signs in at the start of the business day;
the centre's sign_no goes into the envelope of every later call that operator makes; 9002 signs out
at day end. A sign-in is per store and per operator (the 9001 input names the operator, and the
centre checks the envelope's opter against it), and counts only for the business day it was made.

The centre is never called inside a database transaction: the call first, then one unit of work
records the outcome with its audit entry.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server import audit
from server.db.models import InsuranceSignIn, User
from server.db.uow import Unit, core_unit, orm, read_session
from server.errors import AppError
from server.insurance.gateway import Caller, InsuranceGateway
from server.insurance.msgid import allocate_msgid
from server.services.context import Ctx

NOT_SIGNED_IN = "INS-SIGNIN"


@dataclass(frozen=True, slots=True)
class SignInState:
    user_id: int
    opter: str
    opter_name: str
    sign_no: str
    sign_time: str
    business_date: date
    signed_in_at: datetime
    signed_out_at: datetime | None
    sign_out_time: str
    row_id: int = 0

    @classmethod
    def of(cls, row: InsuranceSignIn, opter_name: str) -> SignInState:
        return cls(row.user_id, row.opter, opter_name, row.sign_no, row.sign_time, row.business_date,
                   row.signed_in_at, row.signed_out_at, row.sign_out_time, row.id or 0)

    def public(self) -> dict[str, Any]:
        return {"opter": self.opter, "opter_name": self.opter_name, "sign_time": self.sign_time,
                "signed_out": self.signed_out_at is not None}


def _operator(s: Session, ctx: Ctx) -> User:
    if ctx.actor.user_id is None:
        raise AppError(422, "INS-OPERATOR", "医保签到须由登录的经办人进行", "an insurance sign-in needs a logged-in operator")
    user = s.get(User, ctx.actor.user_id)
    if user is None or user.store_id != ctx.store_id:
        raise AppError(422, "INS-OPERATOR", "经办人不存在", "the operator does not exist")
    return user


def opter_code(user: User) -> str:
    """经办人编号 (9001 opter_no, C20): the username; an id-based code where a username is longer."""
    return user.username if len(user.username) <= 20 else f"U{user.id}"


def caller_for(s: Session, ctx: Ctx, sign_no: str = "", insuplc_admdvs: str = "", dev_no: str = "") -> Caller:
    """The envelope's operator fields for the acting user."""
    user = _operator(s, ctx)
    return Caller(opter_code(user), user.display_name, sign_no, insuplc_admdvs, dev_no=dev_no)


def current_sign_in(s: Session, ctx: Ctx) -> InsuranceSignIn | None:
    """The acting operator's open sign-in of today's business day (the newest, if several)."""
    if ctx.actor.user_id is None:
        return None
    return s.exec(select(InsuranceSignIn).where(
        InsuranceSignIn.store_id == ctx.store_id, InsuranceSignIn.user_id == ctx.actor.user_id,
        InsuranceSignIn.business_date == ctx.today, col(InsuranceSignIn.signed_out_at).is_(None))
        .order_by(col(InsuranceSignIn.id).desc())).first()


def require_signed_in(s: Session, ctx: Ctx) -> str:
    """The sign_no a settlement must carry; refused (INS-SIGNIN) without a sign-in of today."""
    row = current_sign_in(s, ctx)
    if row is None:
        raise AppError(409, NOT_SIGNED_IN, "今日尚未医保签到（9001），不能医保结算；请先签到",
                       "not signed in to the insurance centre today (9001): sign in before settling",
                       {"operator": ctx.actor.name, "business_date": ctx.today.isoformat()})
    return row.sign_no


def settlement_msgid(u: Unit, ctx: Ctx) -> str:
    """A msgid for a 2102 (or 2103 / 2601), allocated inside the caller's unit of work so it commits
    with the intent that records it (DESIGN: intent before effect); pass it to gateway.settle."""
    return allocate_msgid(u, ctx.store_id, ctx.settings.store.fixmedins_code, ctx.settings.store.tz)


def terminal_mac() -> str:
    """This machine's MAC address as 9001 carries it (AA:BB:…), where the terminal gave none."""
    return ":".join(f"{(uuid.getnode() >> s) & 0xFF:02X}" for s in range(40, -1, -8))


def terminal_ip(host: str) -> str:
    """The caller's address as 9001 carries it (an IP), 127.0.0.1 where the connection gave none."""
    try:
        return str(ipaddress.ip_address(host))[:20]
    except ValueError:
        return "127.0.0.1"


def sign_in(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, mac: str, ip: str, note: str = "") -> SignInState:
    """9001 for the acting operator; the sign_no is kept for today's business day (audited)."""
    with read_session(engine) as s:
        caller = caller_for(s, ctx)
    result = gateway.sign_in(caller, mac, ip)  # GatewayError propagates: nothing recorded
    with core_unit(engine) as u:
        row = InsuranceSignIn(store_id=ctx.store_id, user_id=ctx.actor_id, opter=caller.opter,
                              sign_no=result.sign_no, sign_time=result.sign_time[:19], business_date=ctx.today,
                              signed_in_at=ctx.now, mac=mac[:20], ip=ip[:20])
        orm(u).add(row)
        audit.record_row(u, ctx.store_id, ctx.actor, "insurance.sign_in", row,
                         note=f"9001 msgid {result.receipt.msgid}" + (f"; {note}" if note else ""))
        return SignInState.of(row, caller.opter_name)


def sign_out(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, row_id: int | None = None) -> SignInState:
    """9002 of the acting operator's current sign-in, or of their sign-in `row_id` (audited)."""
    with read_session(engine) as s:
        row = current_sign_in(s, ctx) if row_id is None else s.get(InsuranceSignIn, row_id)
        if row is None or row.user_id != ctx.actor.user_id or row.signed_out_at is not None:
            raise AppError(409, NOT_SIGNED_IN, "今日没有可签退的医保签到", "no insurance sign-in of today to sign out")
        caller = caller_for(s, ctx, row.sign_no)
        row_id = row.id
    result = gateway.sign_out(caller)
    with core_unit(engine) as u:
        s = orm(u)
        row = s.get(InsuranceSignIn, row_id)
        assert row is not None
        before = audit.snapshot(row)
        row.signed_out_at = ctx.now
        row.sign_out_time = result.sign_time[:19]
        s.add(row)
        audit.record_row(u, ctx.store_id, ctx.actor, "insurance.sign_out", row, before,
                         note=f"9002 msgid {result.receipt.msgid}")
        return SignInState.of(row, caller.opter_name)


def todays_sign_ins(s: Session, ctx: Ctx) -> list[SignInState]:
    rows = s.exec(select(InsuranceSignIn, User.display_name).join(User, col(User.id) == InsuranceSignIn.user_id)
                  .where(InsuranceSignIn.store_id == ctx.store_id, InsuranceSignIn.business_date == ctx.today)
                  .order_by(col(InsuranceSignIn.id))).all()
    return [SignInState.of(row, name) for row, name in rows]


def store_state(s: Session, ctx: Ctx) -> dict[str, Any]:
    """What the tills' status bar shows: who is signed in today (events 'insurance' state)."""
    open_now = [st for st in todays_sign_ins(s, ctx) if st.signed_out_at is None]
    return {"signed_in": bool(open_now), "business_date": ctx.today.isoformat(),
            "operators": [st.public() for st in open_now]}
