"""A witness (监督人) of a destruction (销毁, GSP-06) confirms with their username and PIN."""

from __future__ import annotations

from sqlalchemy import Engine

from server.db.uow import core_unit
from server.errors import AppError
from server.services.context import Ctx
from server.services.store.users import second_person


def witness(engine: Engine, ctx: Ctx, username: str, pin: str) -> int:
    """The witness's user id, their PIN checked with the login's lockout in a unit of its own (a wrong one is
    counted and committed before the refusal). Whether they are another person is the destruction's to judge."""
    with core_unit(engine) as u:
        found = second_person(u, ctx, username, pin) if username else None
    if found is None:
        raise AppError(403, "GSP-06", f"监督人 {username} 的用户名或 PIN 错误", f"witness {username}: wrong username or PIN",
                       {"witness": username})
    return found.user_id
