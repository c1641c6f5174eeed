"""The in-memory token → caller cache never outlives a change to users, posts, sessions or tills."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from server.auth import principals
from server.auth.principals import PrincipalCache
from server.db.models import Item, User
from server.db.uow import Unit, core_unit, orm
from server.services.context import Ctx
from tests.conftest import Clock, Post, Shop, service_state


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


def test_only_identity_writes_bump_the_epoch_at_flush_and_at_commit(engine: Engine, shop: Shop) -> None:
    before = principals.current_epoch()
    with core_unit(engine) as u:
        item = orm(u).exec(select(Item)).first()
        assert item is not None
        item.spec = item.spec + " "
        orm(u).add(item)
    assert principals.current_epoch() == before
    with core_unit(engine) as u:
        user = orm(u).exec(select(User)).first()
        assert user is not None
        user.display_name = user.display_name + "·"
        orm(u).add(user)
    assert principals.current_epoch() == before + 2  # once at the flush, once at the commit


def test_a_cached_caller_is_answered_on_the_event_loop(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every guarded request asks who calls: a token in the cache is answered on the event loop, without a hop to
    a worker thread; one not in it is read from the database in a worker, and an unknown one still refused."""
    from server.api import deps

    reads: list[str] = []
    real = deps.run_in_threadpool

    async def counted(fn: Callable[..., Any], state: Any, token: str) -> Any:
        reads.append(token)
        return await real(fn, state, token)

    monkeypatch.setattr(deps, "run_in_threadpool", counted)
    client, cashier = shop["client"], shop["cashier"]
    assert client.get("/auth/me", headers=cashier).status_code == 200  # cached now, if it was not
    before = len(reads)
    for _ in range(3):
        assert client.get("/auth/me", headers=cashier).status_code == 200
    assert len(reads) == before
    assert client.get("/auth/me", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert reads[before:] == ["not-a-token"]


@pytest.mark.refuses("SEC-03")
def test_a_revoked_or_transferred_persons_rights_leave_the_cache_at_once(shop: Shop, engine: Engine,
                                                                         ctx: Ctx) -> None:
    """SEC-03: a post revoked, or its holder transferred, through the service: the cached caller is forgotten at
    the flush, so the very next request of the old session is refused."""
    from server.audit import Actor
    from server.roles import Role
    from server.services.store import grants
    from server.services.store.users import token_hash

    client, state = shop["client"], service_state(shop["client"])
    manager = client.get("/auth/me", headers=shop["manager"]).json()
    by_manager = ctx.acting(Actor(manager["id"], manager["username"]))
    changes: list[tuple[Post, Callable[[Unit, int], object]]] = [
        ("cashier", lambda u, uid: grants.revoke(u, by_manager, uid, Role.CASHIER, "调岗")),
        ("pharmacist", lambda u, uid: grants.transfer(u, by_manager, uid, {Role.CASHIER}, "调岗"))]
    for who, change in changes:
        h = shop[who]
        me = client.get("/auth/me", headers=h).json()  # read, and cached
        assert me["roles"] == [who]
        key = token_hash(h["Authorization"].removeprefix("Bearer "))
        assert state.principals.get(key, ctx.now) is not None
        with core_unit(engine) as u:
            change(u, me["id"])
            assert state.principals.get(key, ctx.now) is None  # forgotten at the flush, before the commit
        assert client.get("/auth/me", headers=h).status_code == 401
