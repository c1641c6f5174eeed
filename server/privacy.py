"""SEC-06: identity numbers are masked wherever shown, printed, exported or logged; a read of an insured
person's full record is logged.

The read log is the audit log (append-only, hash-chained, guarded by the database), entries of action READ: who
(the actor) and when (the entry), whose (the identity number masked — the whole number is never logged — with the
name and, where known, the 医保 person number psn_no), what was read, why (the purpose, or the reason the user
gave) and by which door (`route`: the HTTP route or the command). A read that hands over several persons' full
records at once (an export for the agency) is one entry naming each of them. The checklist (item 14) lists them.
"""

from __future__ import annotations

from collections.abc import Iterable

# The rule itself lives with the other identity-number rules in catalog.codes, so the drivers (a card's
# record masks its holder's number in every event) use the same one without importing the service.
from catalog.codes import mask_id
from server import audit
from server.db.uow import Unit

__all__ = ["READ", "mask_id", "record_read", "record_reads"]

READ = "privacy.read"  # reports.queries.record_reads reads these entries by this name


def record_read(u: Unit, store_id: int, actor: audit.Actor, whose: str, name: str, what: str, why: str,
                route: str = "") -> None:
    """Log a read of a person's full record in the caller's unit of work: who (the actor) and when (the entry),
    whose (the identity number masked: the whole number is never logged, and the name), what was read, why (the
    purpose, or the reason the user gave) and by which route."""
    masked = mask_id(whose)
    audit.record(u, store_id, actor, READ, "person", masked or "-", None,
                 {"whose": masked, "name": name, "what": what, "why": why, "route": route}, note=why[:500])


def record_reads(u: Unit, store_id: int, actor: audit.Actor, persons: Iterable[tuple[str, str, str]], what: str,
                 why: str, route: str) -> int:
    """Log one read that handed over the full records of several persons, each (psn_no, identity number, name),
    as one entry naming every one of them once (by psn_no, else by number; the number masked). Returns how many."""
    named: dict[str, dict[str, str]] = {}
    for psn_no, certno, name in persons:
        key = psn_no or certno
        if key and key not in named:
            named[key] = {"psn_no": psn_no, "whose": mask_id(certno), "name": name}
    audit.record(u, store_id, actor, READ, "person", f"{len(named)} persons", None,
                 {"persons": len(named), "whose": list(named.values()), "what": what, "why": why, "route": route},
                 note=why[:500])
    return len(named)
