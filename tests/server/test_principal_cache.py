"""The in-memory token → caller cache never outlives a change to users, posts, sessions or tills."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import select

from server.auth import principals
from server.auth.principals import PrincipalCache
from server.db.models import Item, User
from server.db.uow import core_unit, orm
from tests.conftest import Clock


def test_a_lookup_overtaken_by_an_identity_write_is_not_served_again(clock: Clock) -> None:
    cache, now = PrincipalCache(), clock.now
    later = now + timedelta(hours=1)

    def load_while_someone_writes() -> str:
        principals._bump()  # a freeze flushed while this lookup read the old rows
        return "stale"

    assert cache.resolve("t", now, lambda _: later, load_while_someone_writes) == "stale"
    assert cache.get("t", now) is None
    assert cache.resolve("t", now, lambda _: later, lambda: "fresh") == "fresh"
    assert cache.get("t", now) == "fresh"


def test_an_expired_token_is_refused_from_memory_too(clock: Clock) -> None:
    cache, now = PrincipalCache(), clock.now
    cache.resolve("t", now, lambda _: now + timedelta(seconds=1), lambda: "who")
    assert cache.get("t", now) == "who"
    assert cache.get("t", now + timedelta(seconds=2)) is None


def test_only_identity_writes_bump_the_epoch_at_flush_and_at_commit(engine: Engine, shop) -> None:  # type: ignore[no-untyped-def]
    before = principals.current_epoch()
    with core_unit(engine) as u:
        item = orm(u).exec(select(Item)).first()
        item.spec = item.spec + " "  # type: ignore[union-attr]
        orm(u).add(item)
    assert principals.current_epoch() == before
    with core_unit(engine) as u:
        user = orm(u).exec(select(User)).first()
        user.display_name = user.display_name + "·"  # type: ignore[union-attr]
        orm(u).add(user)
    assert principals.current_epoch() == before + 2  # once at the flush, once at the commit
