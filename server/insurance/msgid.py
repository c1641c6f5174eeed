"""msgid = fixmedins_code(12) + yyyyMMddHHmmss(14) + 顺序号(4) (reference §1.1), unique and rising.

The last stamp and sequence handed out are kept per store in the database, so a restart, a second
service process or a clock stepped backwards never repeats or lowers a msgid: within one second the
sequence counts up; when the clock shows an earlier (or the same) second the last stamp is kept;
after 9999 in one second the stamp moves one second ahead. Fixed widths make the string order the
numeric order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from server.db.models import InsuranceMsgidCounter
from server.db.models.base import table_of
from server.db.prepared import Prepared
from server.db.types import utcnow
from server.db.uow import Unit, core_unit

STAMP = "%Y%m%d%H%M%S"
MAX_SEQ = 9999


def _next(last_stamp: str, last_seq: int, now_stamp: str) -> tuple[str, int]:
    if now_stamp > last_stamp:
        return now_stamp, 1
    if last_seq < MAX_SEQ:
        return last_stamp, last_seq + 1
    ahead = datetime.strptime(last_stamp, STAMP) + timedelta(seconds=1)
    return ahead.strftime(STAMP), 1


# Every gateway call takes one: three prepared statements on the caller's connection, no ORM round.
_COUNTER = table_of(InsuranceMsgidCounter)
_FIRST = {dialect: Prepared(insert(_COUNTER).values(store_id=sa.bindparam("sid"), stamp="0" * 14, seq=0)
                            .on_conflict_do_nothing())
          for dialect, insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))}
_LAST = Prepared(sa.select(_COUNTER.c.stamp, _COUNTER.c.seq).where(_COUNTER.c.store_id == sa.bindparam("sid"))
                 .with_for_update())  # PostgreSQL: one allocator at a time; SQLite: the writer's lock is that
_TAKE = Prepared(_COUNTER.update().where(_COUNTER.c.store_id == sa.bindparam("sid"))
                 .values(stamp=sa.bindparam("stamp"), seq=sa.bindparam("seq")))


def allocate_msgid(u: Unit, store_id: int, fixmedins_code: str, tz: ZoneInfo,
                   now: datetime | None = None) -> str:
    """The next msgid, inside the caller's unit of work (commit it with the intent that uses it)."""
    if len(fixmedins_code) != 12:
        raise ValueError(f"fixmedins_code must be 12 characters: {fixmedins_code!r}")
    u.flush()  # the caller's pending ORM writes first, as the ORM would: rows are locked in the same order
    conn = u.connection()
    _FIRST[conn.dialect.name].run(conn, {"sid": store_id})
    last = _LAST.first(conn, {"sid": store_id})
    now_stamp = (now or utcnow()).astimezone(tz).strftime(STAMP)
    stamp, seq = _next(last.stamp, last.seq, now_stamp)
    _TAKE.run(conn, {"sid": store_id, "stamp": stamp, "seq": seq})
    return f"{fixmedins_code}{stamp}{seq:04d}"


class MsgidSource:
    """msgids in their own committed transaction (for calls with no intent row of their own)."""

    def __init__(self, engine: Engine, store_id: int, fixmedins_code: str, tz: ZoneInfo,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._engine, self._store_id, self._code, self._tz, self._clock = engine, store_id, fixmedins_code, tz, clock

    def __call__(self) -> str:
        with core_unit(self._engine, durable=False) as s:
            return self.allocate(s)

    def allocate(self, s: Unit) -> str:
        """The next msgid inside an open unit of work (the message log's out row uses it)."""
        return allocate_msgid(s, self._store_id, self._code, self._tz, self._clock())
