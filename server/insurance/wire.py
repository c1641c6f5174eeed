"""JSON as the centre speaks it: amounts are decimal numbers, never binary floats.

Sending: a Decimal is written as a JSON number literal with exactly its own digits (`12.30`), so
what leaves is what the spec asks for (N16,2). Reading: JSON numbers become Decimal (never float),
and the reader is tolerant the way live centres need (reference §1.3): a number may arrive as a
string or a number, a value may be null or absent, unknown keys are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from json.encoder import encode_basestring  # the C-accelerated one
from typing import Any

CENT = Decimal("0.01")


class WireFormatError(ValueError):
    """A value on the wire cannot be what its field says it is."""


def dumps(doc: Any) -> str:
    """Compact JSON, UTF-8 text (ensure_ascii off: the centre reads Chinese as is)."""
    parts: list[str] = []
    _encode(doc, parts.append)
    return "".join(parts)


def _encode(value: Any, out: Callable[[str], None]) -> None:
    if isinstance(value, str):
        out(encode_basestring(value))
    elif value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise WireFormatError(f"not a finite amount: {value}")
        out(format(value, "f"))
    elif isinstance(value, int):
        out(str(value))
    elif isinstance(value, float):  # nothing in the product builds one; refuse rather than round silently
        raise WireFormatError("floats are never sent; use Decimal")
    elif isinstance(value, dict):
        out("{")
        first = True
        for k, v in value.items():
            if not first:
                out(",")
            first = False
            out(encode_basestring(str(k)))
            out(":")
            _encode(v, out)
        out("}")
    elif isinstance(value, (list, tuple)):
        out("[")
        for i, v in enumerate(value):
            if i:
                out(",")
            _encode(v, out)
        out("]")
    else:
        raise WireFormatError(f"cannot send a {type(value).__name__}")


def canonical(doc: Any) -> Any:
    """The document with every object's keys in order: two that mean the same dump alike (a signed text, a
    repeated message compared)."""
    if isinstance(doc, dict):
        return {k: canonical(doc[k]) for k in sorted(doc)}
    if isinstance(doc, list):
        return [canonical(v) for v in doc]
    return doc


def loads(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as Decimal."""
    return json.loads(text, parse_float=Decimal)


def fen_to_amount(fen: int) -> Decimal:
    """Integer fen → the wire's yuan amount with 2 places (1230 → 12.30; -5 → -0.05)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise WireFormatError(f"an amount in fen must be an int, got {fen!r}")
    return (Decimal(fen) / 100).quantize(CENT)


def amount_to_fen(raw: Any, field: str = "amount") -> int:
    """A wire amount (number, numeric string, null/"" = 0) → integer fen; more than 2 places is refused.
    Strict: what a sender must keep to (N16,2), as the centre reads the pharmacy's amounts."""
    value = to_decimal(raw, field)
    fen = value * 100
    if fen != fen.to_integral_value():
        raise WireFormatError(f"{field}: {raw!r} has more than 2 decimal places")
    return int(fen)


def answer_amount_to_fen(raw: Any, field: str = "amount") -> int:
    """An amount in the centre's answer → integer fen, rounded half up. Live centres answer with three places
    now and then (e.g. 4.895): the value is valid, and refusing it would make a good settlement look lost.
    The answer itself is kept as received (the message log); only the money booked is rounded."""
    return round_fen(to_decimal(raw, field) * 100)


def to_decimal(raw: Any, field: str = "value") -> Decimal:
    if raw is None or raw == "":
        return Decimal(0)
    if isinstance(raw, bool):
        raise WireFormatError(f"{field}: {raw!r} is not a number")
    if isinstance(raw, (int, Decimal)):
        return Decimal(raw)
    if isinstance(raw, float):  # only reachable when a caller parsed with floats: take its shortest repr
        return Decimal(repr(raw))
    if isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation as exc:
            raise WireFormatError(f"{field}: {raw!r} is not a number") from exc
        if not value.is_finite():
            raise WireFormatError(f"{field}: {raw!r} is not a finite number")
        return value
    raise WireFormatError(f"{field}: {raw!r} is not a number")


def to_text(raw: Any) -> str:
    """Tolerant text: null/absent → "", numbers → their digits."""
    if raw is None:
        return ""
    if isinstance(raw, Decimal):
        return format(raw, "f")
    return str(raw)


def round_fen(value: Decimal) -> int:
    """A computed fen amount (ratio × fen) rounded half up to a whole fen."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
