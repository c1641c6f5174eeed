"""msgid = fixmedins_code(12) + yyyyMMddHHmmss(14) + sequence(4): unique and rising per store, across
restarts, concurrent callers, a clock stepped back and more than 9999 messages in one second."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from server.config import Settings
from server.db.engine import make_engine
from server.db.uow import core_unit, orm
from server.insurance.msgid import MsgidSource, allocate_msgid
from server.services.context import Ctx
from tests.conftest import BACKENDS

CN = ZoneInfo("Asia/Shanghai")
CODE = "P44030000001"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def test_format_is_code_local_time_and_sequence(engine: Engine, ctx: Ctx) -> None:
    at = datetime(2026, 3, 2, 2, 30, 5, tzinfo=UTC)  # 10:30:05 in Shanghai
    ids = MsgidSource(engine, ctx.store_id, CODE, CN, clock=lambda: at)
    assert [ids(), ids()] == [f"{CODE}202603021030050001", f"{CODE}202603021030050002"]
    later = MsgidSource(engine, ctx.store_id, CODE, CN, clock=lambda: at + timedelta(seconds=1))
    assert later() == f"{CODE}202603021030060001"
    assert re.fullmatch(r"[A-Z0-9]{12}\d{18}", later())


def _stopped_at(instant: datetime) -> Callable[[], datetime]:
    return lambda: instant


def test_unique_and_rising_across_restarts_and_a_clock_stepped_back(settings: Settings, ctx: Ctx) -> None:
    at = datetime(2026, 3, 2, 2, 30, 5, tzinfo=UTC)
    seen: list[str] = []
    for restart, clock in enumerate([at, at, at - timedelta(hours=1), at + timedelta(seconds=2)]):
        engine = make_engine(settings.database.url)  # a new process's engine: nothing kept in memory
        ids = MsgidSource(engine, ctx.store_id, CODE, CN, clock=_stopped_at(clock))
        seen += [ids() for _ in range(3)]
        engine.dispose()
        assert seen == sorted(seen), f"restart {restart}: not rising"
    assert len(set(seen)) == len(seen) == 12
    # the clock went back an hour: the last stamp was kept and the sequence went on
    assert seen[6] == f"{CODE}202603021030050007"
    assert seen[9] == f"{CODE}202603021030070001"


def test_past_9999_in_one_second_the_stamp_moves_ahead(engine: Engine, ctx: Ctx) -> None:
    at = datetime(2026, 3, 2, 2, 30, 5, tzinfo=UTC)
    with core_unit(engine) as u:
        allocate_msgid(u, ctx.store_id, CODE, CN, at)
        from server.db.models import InsuranceMsgidCounter

        row = orm(u).get(InsuranceMsgidCounter, ctx.store_id)
        assert row is not None
        row.seq = 9999
        orm(u).add(row)
    with core_unit(engine) as u:
        assert allocate_msgid(u, ctx.store_id, CODE, CN, at) == f"{CODE}202603021030060001"


def test_concurrent_callers_never_share_a_msgid(engine: Engine, ctx: Ctx) -> None:
    ids = MsgidSource(engine, ctx.store_id, CODE, CN)
    out: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [ids() for _ in range(15)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == len(set(out)) == 60


def test_a_msgid_allocated_in_a_rolled_back_intent_is_not_handed_out(engine: Engine, ctx: Ctx) -> None:
    """The caller allocates inside its intent's unit of work; if that rolls back, so does the counter."""
    at = datetime(2026, 3, 2, 2, 30, 5, tzinfo=UTC)
    with pytest.raises(RuntimeError), core_unit(engine) as u:
        allocate_msgid(u, ctx.store_id, CODE, CN, at)
        raise RuntimeError("the intent could not be written")
    with core_unit(engine) as u:
        assert allocate_msgid(u, ctx.store_id, CODE, CN, at) == f"{CODE}202603021030050001"


def test_a_fixmedins_code_of_the_wrong_length_is_refused(engine: Engine, ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="12 characters"), core_unit(engine) as u:
        allocate_msgid(u, ctx.store_id, "P4403", CN)
