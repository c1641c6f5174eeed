"""The second person of a special operation (SEC-01: refunds and reversals mutually checked; CARD-04).

One mechanism for every operation that needs one — a later-day card reversal, a refund or a void on a later
day or above `rules.second_person_above_fen`: another person types their username and PIN at the till. The
PIN is checked with the login's lockout in a unit of its own (a wrong one is counted and committed even
though the operation is refused); who they are is judged by server.rules.duties (another person, not another
account of the same one; their account live; their post one that checks refunds and voids).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import select

from server.auth.pins import burn_time
from server.db.models import User, UserStatus
from server.db.models.base import id_of
from server.db.uow import Unit, core_unit, orm
from server.errors import AppError, refused
from server.permissions import Action, allowed
from server.rules.duties import SecondPerson, needs_second_person, second_person_refusal
from server.services.context import Ctx
from server.services.store.users import active_roles, check_pin, person_of, pin_cost


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A second person whose PIN was right (or whose account is frozen: refused when judged)."""

    user_id: int
    facts: SecondPerson


def _refusal(rule_id: str, zh: str, en: str) -> AppError:
    return AppError(403, rule_id, zh, en)


def confirm(engine: Engine, ctx: Ctx, rule_id: str, username: str, pin: str) -> Confirmation | None:
    """Check the second person's PIN before the operation's own unit opens. None when nobody was named."""
    if not username:
        return None
    wrong = _refusal(rule_id, "确认人用户名或 PIN 错误", "the second person's username or PIN is wrong")
    with core_unit(engine) as u:  # users are reference rows: the ORM's
        s = orm(u)
        user = s.exec(select(User).where(User.store_id == ctx.store_id, User.username == username)).first()
        if user is None:
            burn_time(pin, *pin_cost(ctx))
            raise wrong
        if user.status != UserStatus.ACTIVE.value:  # judged below, with the rule's words
            burn_time(pin, *pin_cost(ctx))
            return Confirmation(id_of(user), SecondPerson(person_of(s, id_of(user)), True, False))
        checked = check_pin(u, ctx, username, pin)
        if checked is not None:
            facts = SecondPerson(person_of(s, id_of(user)), False,
                                 allowed(active_roles(s, id_of(user)), Action.SALE_CHECK))
    if checked is None:  # the failure was counted and committed above
        raise wrong
    return Confirmation(id_of(checked), facts)


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
