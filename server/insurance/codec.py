"""Typed records ⇄ the centre's JSON nodes, field by field, by the records' own type hints.

Naming: a field named `<wire>_fen` is money kept in integer fen and sent as the wire field `<wire>`
with 2 decimal places (read back rounded half up to the fen when a centre answers with more); every
other field carries its wire name unchanged. `extra` keeps keys the record does not know (live
centres add them; reference §1.3) so nothing received is lost.
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from server.insurance.wire import WireFormatError, answer_amount_to_fen, fen_to_amount, to_decimal, to_text

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DT_FORMAT = "%Y-%m-%d %H:%M:%S"
T = TypeVar("T", bound="DataclassInstance")

_HINTS: dict[type, dict[str, Any]] = {}  # per record class, read once


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def wire_name(field_name: str) -> str:
    return field_name[:-4] if field_name.endswith("_fen") else field_name


def _record_type(tp: Any) -> type | None:
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def _unwrap_optional(tp: Any) -> Any:
    args = typing.get_args(tp)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else tp
    return tp


def to_wire(record: Any) -> dict[str, Any]:
    """A record as the JSON node the spec describes (strict: every field present, "" for no text)."""
    out: dict[str, Any] = {}
    hints = _hints(type(record))
    for f in dataclasses.fields(record):
        if f.name == "extra":
            continue
        value = getattr(record, f.name)
        out[wire_name(f.name)] = _send(value, _unwrap_optional(hints[f.name]), f.name)
    out.update(getattr(record, "extra", None) or {})
    return out


def _send(value: Any, tp: Any, name: str) -> Any:
    if name.endswith("_fen"):
        return fen_to_amount(value if value is not None else 0)
    if value is None:
        return "" if tp in (str, datetime, date) else None
    if isinstance(value, datetime):
        return value.strftime(DT_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return to_wire(value)
    if isinstance(value, (list, tuple)):
        return [to_wire(v) if dataclasses.is_dataclass(v) else v for v in value]
    return value


def node(doc: Any) -> dict[str, Any]:
    """A single-row node: centres send it as an object, a one-element list, or null."""
    if isinstance(doc, list):
        doc = doc[0] if doc else {}
    return doc if isinstance(doc, dict) else {}


def rows(doc: Any) -> list[dict[str, Any]]:
    """A multi-row node: a list, a lone object, or null."""
    if doc is None or doc == "":
        return []
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list):
        return [r for r in doc if isinstance(r, dict)]
    raise WireFormatError(f"expected rows, got {type(doc).__name__}")


def from_wire(cls: type[T], doc: Any) -> T:
    """Read a node tolerantly: absent / null → empty, numbers as text where text is meant, unknown keys kept."""
    data = node(doc)
    hints = _hints(cls)
    known: set[str] = set()
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "extra":
            continue
        key = wire_name(f.name)
        known.add(key)
        raw = data.get(key)
        tp = _unwrap_optional(hints[f.name])
        values[f.name] = _read(raw, tp, f.name, key)
    if any(f.name == "extra" for f in dataclasses.fields(cls)):
        values["extra"] = {k: v for k, v in data.items() if k not in known}
    return cls(**values)


def _read(raw: Any, tp: Any, name: str, key: str) -> Any:
    if name.endswith("_fen"):  # records read are answers: a third place is rounded half up, never refused
        return answer_amount_to_fen(raw, key)
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        (inner,) = typing.get_args(tp)[:1]
        rec = _record_type(inner)
        return [from_wire(rec, r) for r in rows(raw)] if rec else list(raw or [])
    if (rec := _record_type(tp)) is not None:
        return from_wire(rec, raw)
    if tp is Decimal:
        return to_decimal(raw, key)
    if tp is int:
        value = to_decimal(raw, key)
        if value != value.to_integral_value():
            raise WireFormatError(f"{key}: {raw!r} is not a whole number")
        return int(value)
    if tp is datetime:
        text = to_text(raw).strip()
        if not text:
            return None
        try:
            return datetime.strptime(text[:19], DT_FORMAT)
        except ValueError as exc:
            raise WireFormatError(f"{key}: {raw!r} is not yyyy-MM-dd HH:mm:ss") from exc
    if tp is date:
        text = to_text(raw).strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError as exc:
            raise WireFormatError(f"{key}: {raw!r} is not yyyy-MM-dd") from exc
    if tp is dict or typing.get_origin(tp) is dict:
        return raw if isinstance(raw, dict) else {}
    return to_text(raw)
