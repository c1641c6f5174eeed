"""SEC-06: identity numbers are masked wherever shown, printed, exported or logged."""

from __future__ import annotations

# The rule itself lives with the other identity-number rules in catalog.codes, so the drivers (a card's
# record masks its holder's number in every event) use the same one without importing the service.
from catalog.codes import mask_id

__all__ = ["mask_id"]
