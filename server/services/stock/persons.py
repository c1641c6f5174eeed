"""Who an account belongs to, for the stock wing's four-eyes checks (server.rules.duties: persons, not accounts)."""

from __future__ import annotations

from sqlmodel import Session, select

from server.db.models import StaffProfile
from server.rules.duties import person_key
from server.services.context import Ctx


def person_of(s: Session, user_id: int) -> str:
    number = s.exec(select(StaffProfile.id_number).where(StaffProfile.user_id == user_id)).first() or ""
    return person_key(number, user_id)


def actor_person(s: Session, ctx: Ctx) -> str:
    return person_of(s, ctx.actor.user_id) if ctx.actor.user_id is not None else "system"
