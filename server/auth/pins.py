"""PIN hashing with argon2 (pwdlib) and the PIN policy.

The cost is configurable (service.pin_hash_memory_kib / pin_hash_time_cost): a hash records its own
parameters, so raising the cost later still verifies every PIN hashed before.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pwdlib import PasswordHash

PIN_PATTERN = re.compile(r"^\d{4,12}$")


@lru_cache(maxsize=4)
def _hasher(memory_kib: int = 65536, time_cost: int = 3) -> PasswordHash:
    # argon2's cffi backend loads on the first login, not with the service (its start is measured)
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    return PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))


def hash_pin(pin: str, memory_kib: int = 65536, time_cost: int = 3) -> str:
    return _hasher(memory_kib, time_cost).hash(pin)


def verify_pin(pin: str, pin_hash: str) -> bool:
    try:
        return _hasher().verify(pin, pin_hash)
    except Exception:  # a malformed stored hash is a failed login, never a crash
        return False


@lru_cache(maxsize=4)
def _dummy(memory_kib: int, time_cost: int) -> str:
    return hash_pin("000000", memory_kib, time_cost)


def burn_time(pin: str, memory_kib: int = 65536, time_cost: int = 3) -> None:
    """Spend a verification's time for an unknown user, so timing does not reveal usernames: at the cost the
    store's PINs are hashed with (a dummy at any other cost would answer faster or slower than a real one)."""
    verify_pin(pin, _dummy(memory_kib, time_cost))
