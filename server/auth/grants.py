"""Authorisations in place: short-lived, single-use, for one action on one thing at one till's session.

When an action needs another post than the one logged in at the till (a review, a void, a return, a
pharmacist's duty), the holder of that post types their username and PIN there; POST /auth/authorise checks
them (server.services.store.hands) and issues one of these. The action's request carries it (header
`X-Grant`), and the permission check then runs against the authoriser's posts and the use case acts as the
authoriser, the till's person named beside them in the audit entry.

A grant is good for its till session only, for its action on its subject (the sale, the prescription, the
shift), for `GRANT_SECONDS`, and once: it is claimed while its request runs, spent when the request succeeds,
and given back when the request is refused (nothing was written, so the till can mend what was missing — a
second person — and send it again). A request that repeats a spent one's idempotency key (the same return id)
passes, so a retry of a lost answer gets the first result instead of a refusal. Kept in the service's memory:
a restart forgets them, and the till asks again.

A second person (SEC-01's mutual check, CARD-04, RX-01, CARD-07, AGR-01) is a grant too, asked with `second`:
its action is `second_action(action)`, it travels in the header `X-Second`, and it names who confirmed — the
request's rule judges them at the use (another person than the one acting, live, holding the post). Their PIN
never travels in a business request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from server.roles import Role

GRANT_SECONDS = 120  # long enough to type a reason or pick the lines, short enough not to be kept for later
HEADER = "X-Grant"
SECOND_HEADER = "X-Second"


def second_action(action: str) -> str:
    """The grant's action for a second person's check of `action` (never usable as an in-place grant)."""
    return f"second:{action}"


@dataclass(frozen=True, slots=True)
class Authoriser:
    """Who authorised, as the use case acts: their account and posts when they typed their PIN."""

    user_id: int
    username: str
    display_name: str
    roles: frozenset[Role]


@dataclass(slots=True)
class Grant:
    session_id: int  # the till session it was asked at
    till_user_id: int
    authoriser: Authoriser
    action: str
    subject: str
    expires_at: datetime
    state: str = "ready"  # ready | claimed | spent
    spent_key: str = ""  # the idempotency key of the request that spent it (a return's id)


class GrantRefused(Exception):
    """Why a grant cannot be used (in the till's words and in English)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


@dataclass
class Grants:
    _by_hash: dict[str, Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, session_id: int, till_user_id: int, authoriser: Authoriser, action: str, subject: str,
              now: datetime) -> tuple[str, datetime]:
        token = secrets.token_urlsafe(24)
        expires_at = now + timedelta(seconds=GRANT_SECONDS)
        with self._lock:
            self._forget_expired(now)
            self._by_hash[_hash(token)] = Grant(session_id, till_user_id, authoriser, action, subject.lower(),
                                                expires_at)
        return token, expires_at

    def claim(self, token: str, session_id: int, action: str, subject: str, replay_key: str,
              now: datetime) -> tuple[Grant, bool]:
        """The grant, claimed for this request (and whether the request repeats the one that spent it)."""
        with self._lock:
            grant = self._by_hash.get(_hash(token))
            if grant is None or grant.session_id != session_id:
                raise GrantRefused("授权无效：请授权人重新输入工号和 PIN", "the authorisation is unknown at this till")
            if grant.expires_at <= now:
                raise GrantRefused("授权已过期：请授权人重新输入工号和 PIN", "the authorisation has expired")
            if grant.action != action or grant.subject != subject.lower():
                raise GrantRefused("该授权不是为此操作给出的：请授权人为此操作重新授权",
                                   "the authorisation was given for another action or another sale")
            if grant.state == "spent":
                if replay_key and replay_key == grant.spent_key:
                    return grant, True
                raise GrantRefused("该授权已使用过一次：每次授权只能用于一次操作",
                                   "the authorisation was used already: one authorisation, one action")
            if grant.state == "claimed":
                raise GrantRefused("该授权正在使用中", "the authorisation is in use by another request")
            grant.state = "claimed"
            return grant, False

    def spend(self, grant: Grant, key: str) -> None:
        with self._lock:
            grant.state, grant.spent_key = "spent", key

    def give_back(self, grant: Grant) -> None:
        with self._lock:
            if grant.state == "claimed":
                grant.state = "ready"

    def _forget_expired(self, now: datetime) -> None:
        for h in [h for h, g in self._by_hash.items() if g.expires_at <= now]:
            del self._by_hash[h]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
