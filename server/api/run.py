"""Where a call runs: on the event loop, or in a worker thread. Asked by the routes and the till's hot lane
alike, so a request is served the same way whichever door it came through.

On SQLite, a scan or a cash payment runs on the event loop when the writer's lock is free: a few statements
and a commit, cheaper than the hop to a worker thread and back, which measured as much as half the scan and
a sixth of the payment. If another writer holds the lock (a print job's update, another till's payment,
another process), it is not waited for here, and work that needs the ORM (a refusal worded from full reads,
an Rx sale's checks, a retried payment) is not done here: the call goes to the threadpool (NotOnLoop:
nothing was written). A durable commit waits for the disk: on the loop only while the disk answers quickly
(loop_may_wait). On PostgreSQL every statement is a network round trip: always the threadpool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from server.db.sqlite import loop_may_wait
from server.db.uow import NotOnLoop

T = TypeVar("T")


async def run(engine: Engine, durable: bool, fn: Callable[..., T], *args: Any) -> T:
    """fn(engine, *args, on_loop=True) on the event loop where it may, else fn(engine, *args) in a worker thread.

    `fn` opens its own unit of work: loop_unit when on_loop (raising NotOnLoop, nothing written, to be done
    again in a worker), else one that may wait. `durable`: its commit must be on disk before it answers."""
    if engine.dialect.name == "sqlite" and (not durable or loop_may_wait(engine)):
        try:
            return fn(engine, *args, on_loop=True)
        except NotOnLoop:
            pass
    return await run_in_threadpool(fn, engine, *args)
