"""PIN hashing with argon2 (pwdlib) and the PIN policy."""

from __future__ import annotations

import re
from functools import lru_cache

from pwdlib import PasswordHash

PIN_PATTERN = re.compile(r"^\d{4,12}$")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_pin(pin: str) -> str:
    return _hasher().hash(pin)


def verify_pin(pin: str, pin_hash: str) -> bool:
    try:
        return _hasher().verify(pin, pin_hash)
    except Exception:  # a malformed stored hash is a failed login, never a crash
        return False


_DUMMY: list[str] = []


def burn_time(pin: str) -> None:
    """Spend a verification's time for an unknown user, so timing does not reveal usernames."""
    if not _DUMMY:
        _DUMMY.append(hash_pin("000000"))
    verify_pin(pin, _DUMMY[0])
