"""SEC-06: identity numbers are masked wherever shown, printed, exported or logged; a read of an insured
person's full record is logged."""

from __future__ import annotations

# The rule itself lives with the other identity-number rules in catalog.codes, so the drivers (a card's
# record masks its holder's number in every event) use the same one without importing the service.
from catalog.codes import mask_id
from server import audit
from server.db.uow import Unit

__all__ = ["READ", "mask_id", "record_read"]

READ = "privacy.read"


def record_read(u: Unit, store_id: int, actor: audit.Actor, whose: str, name: str, what: str, why: str) -> None:
    """Log a read of a person's full record in the caller's unit of work: who (the actor) and when (the entry),
    whose (the identity number masked: the whole number is never logged, and the name), what was read and
    why (the purpose, or the reason the user gave)."""
    masked = mask_id(whose)
    audit.record(u, store_id, actor, READ, "person", masked or "-", None,
                 {"whose": masked, "name": name, "what": what, "why": why}, note=why[:500])
