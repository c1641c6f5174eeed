"""PIN hashing with argon2id (pwdlib) and the PIN policy.

The cost is configurable (service.pin_hash_memory_kib / pin_hash_time_cost), one lane as OWASP's configurations
have it. A hash records its own parameters, so a PIN hashed at another cost (an older default, a changed config)
still verifies, at its own cost; `verify_and_update` then gives the hash made again at the store's cost, which the
login keeps — the owner's next right PIN is all a change of cost needs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pwdlib import PasswordHash

PIN_PATTERN = re.compile(r"^\d{4,12}$")
DEFAULT_MEMORY_KIB, DEFAULT_TIME_COST = 19456, 2  # server.config's defaults
PARALLELISM = 1  # OWASP's configurations are for one lane; a hash with another is made again on the next login


@lru_cache(maxsize=4)
def _hasher(memory_kib: int = DEFAULT_MEMORY_KIB, time_cost: int = DEFAULT_TIME_COST) -> PasswordHash:
    # argon2's cffi backend loads on the first login, not with the service (its start is measured)
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    return PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=PARALLELISM),))


def hash_pin(pin: str, memory_kib: int = DEFAULT_MEMORY_KIB, time_cost: int = DEFAULT_TIME_COST) -> str:
    return _hasher(memory_kib, time_cost).hash(pin)


def verify_pin(pin: str, pin_hash: str) -> bool:
    try:
        return _hasher().verify(pin, pin_hash)
    except Exception:  # a malformed stored hash is a failed login, never a crash
        return False


def verify_and_update(pin: str, pin_hash: str, memory_kib: int, time_cost: int) -> tuple[bool, str | None]:
    """Whether `pin` is right, checked at the cost `pin_hash` records; when right and that cost is not the store's
    (memory, passes, lanes), the PIN hashed again at the store's, to be stored in its place (else None)."""
    try:
        return _hasher(memory_kib, time_cost).verify_and_update(pin, pin_hash)
    except Exception:  # a malformed stored hash is a failed login, never a crash
        return False, None


@lru_cache(maxsize=4)
def _dummy(memory_kib: int, time_cost: int) -> str:
    return hash_pin("000000", memory_kib, time_cost)


def burn_time(pin: str, memory_kib: int = DEFAULT_MEMORY_KIB, time_cost: int = DEFAULT_TIME_COST) -> None:
    """Spend a verification's time for an unknown user, so timing does not reveal usernames: at the cost the
    store's PINs are hashed with (a dummy at any other cost would answer faster or slower than a real one)."""
    verify_pin(pin, _dummy(memory_kib, time_cost))
