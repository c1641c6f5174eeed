"""SEC-06: identity numbers are masked wherever shown, printed, exported or logged."""

from __future__ import annotations


def mask_id(number: str | None) -> str:
    """1101**********1234: the region prefix and the last four stay, everything between is starred."""
    if not number:
        return ""
    n = number.strip()
    if len(n) <= 8:
        return n[:1] + "*" * (len(n) - 1) if n else ""
    return n[:4] + "*" * (len(n) - 8) + n[-4:]
