"""Who holds a token, remembered between requests.

Every request resolves its bearer token; on the scan path that lookup was a third of the server's
work. The answer is kept in memory and thrown away whenever anything that could change it is
written through this process (a flush or a commit touching users, posts, sessions or tills bumps
the epoch), so a frozen user's or a revoked session's token dies at the next request, as before.
Writes by another process (a chain's second service on the same PostgreSQL) are seen within
`ttl_seconds`. A token past its expiry is refused from memory too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from server.db.models import AuthSession, Till, User, UserRole
from server.db.uow import on_commit

_WATCHED = (User, UserRole, AuthSession, Till)
_lock = threading.Lock()
_epoch = 0


def _bump(*_: Any) -> None:
    global _epoch
    with _lock:
        _epoch += 1


def _touches_identity(session: Session, *_: Any) -> None:
    if any(isinstance(obj, _WATCHED) for group in (session.new, session.dirty, session.deleted) for obj in group):
        session.info["identity_changed"] = True
        _bump()


@on_commit  # a unit of work's commit whose Session flushed such a change
def _after_commit(info: dict[str, Any]) -> None:
    # Bumped again at commit: a lookup that read the old rows between the flush and the commit
    # was stored under the flush's epoch, and must not outlive the commit.
    if info.pop("identity_changed", False):
        _bump()


event.listen(Session, "after_flush", _touches_identity)
event.listen(Session, "after_rollback", lambda session: session.info.pop("identity_changed", None))


def current_epoch() -> int:
    return _epoch


class PrincipalCache:
    def __init__(self, ttl_seconds: float = 5.0, max_entries: int = 1024) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[int, float, datetime, Any]] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str, now: datetime) -> Any | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        epoch, stored_at, expires_at, who = entry
        if epoch != _epoch or time.monotonic() - stored_at > self._ttl or expires_at <= now:
            return None
        return who

    def resolve(self, token_hash: str, now: datetime, expires_at_of: Callable[[Any], datetime],
                load: Callable[[], Any | None]) -> Any | None:
        """The cached principal, or `load()`'s answer stored under the epoch read BEFORE loading."""
        if (who := self.get(token_hash, now)) is not None:
            return who
        epoch = _epoch
        who = load()
        if who is not None:
            with self._lock:
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[token_hash] = (epoch, time.monotonic(), expires_at_of(who), who)
        return who
