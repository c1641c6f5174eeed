"""The second person of a special operation (SEC-01: refunds and reversals mutually checked; CARD-04).

One mechanism for every operation that needs one — a later-day card reversal, a refund or a void on a later
day or above `rules.second_person_above_fen`: another person types their username and PIN at the till, which
asks POST /auth/authorise for a second person's grant (their PIN checked there with the login's lockout) and
sends it with the request (header X-Second, server.api.deps.second_of); the PIN never travels in the
request. Who they are is judged here at the use, as they are now, by server.rules.duties (another person,
not another account of the same one; their account live; their post one that checks refunds and voids).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from server.auth.grants import Authoriser
from server.db.models import User, UserStatus
from server.db.uow import Unit, orm, read_session
from server.errors import AppError, refused
from server.permissions import Action, allowed
from server.rules.duties import SecondPerson, needs_second_person, second_person_refusal
from server.services.context import Ctx
from server.services.store.users import active_roles, person_of


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A second person whose PIN was right (or whose account is frozen: refused when judged)."""

    user_id: int
    facts: SecondPerson


def _refusal(rule_id: str, zh: str, en: str) -> AppError:
    return AppError(403, rule_id, zh, en)


def confirmation_of(engine: Engine, by: Authoriser | None) -> Confirmation | None:
    """The second person who confirmed at the till (their grant's account), as they are now, for `require` to
    judge. None when nobody confirmed."""
    if by is None:
        return None
    with read_session(engine) as s:
        user = s.get(User, by.user_id)
        frozen = user is None or user.status != UserStatus.ACTIVE.value
        may = not frozen and allowed(active_roles(s, by.user_id), Action.SALE_CHECK)
        return Confirmation(by.user_id, SecondPerson(person_of(s, by.user_id), frozen, may))


def require(u: Unit, ctx: Ctx, rule_id: str, amount_fen: int, later_day: bool,
            confirmation: Confirmation | None) -> int | None:
    """The second person of this operation, judged: their user id (None when none was needed nor given).
    Refused when one is needed and missing, or the one given is the actor, frozen or without the right."""
    needed = needs_second_person(amount_fen, later_day, ctx.settings.rules.second_person_above_fen)
    if confirmation is None and not needed:
        return None
    actor = person_of(orm(u), ctx.actor.user_id) if ctx.actor.user_id is not None else "system"
    if v := second_person_refusal(rule_id, actor, confirmation.facts if confirmation else None):
        raise refused([v], status=403)
    assert confirmation is not None
    return confirmation.user_id
