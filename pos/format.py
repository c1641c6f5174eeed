"""Showing and reading money at the till. Amounts are the service's integer fen; the till only displays them
and reads what the cashier types (元 with up to two decimals) — it never computes a price."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, tzinfo

from rich.console import Console
from rich.text import Text

_YUAN = re.compile(r"^\s*(\d{1,7})(?:\.(\d{0,2}))?\s*$", re.ASCII)


def halfwidth(text: str) -> str:
    """What was typed, with full-width digits and letters (a Chinese IME's １２３、ＡＢＣ) read as ASCII, trimmed:
    a code, an amount, a number typed either way is the same."""
    return (text if text.isascii() else unicodedata.normalize("NFKC", text)).strip()


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def parse_yuan(text: str) -> int | None:
    """'20', '20.5', '20.50' → fen; anything else → None."""
    m = _YUAN.match(halfwidth(text))
    if not m:
        return None
    return int(m.group(1)) * 100 + int((m.group(2) or "").ljust(2, "0"))


def store_today(tz: tzinfo) -> date:
    """The store's date now, for what the till shows or offers by default (a form's date): the store's zone,
    never the machine's. Whatever depends on the business day is the service's to judge."""
    return datetime.now(UTC).astimezone(tz).date()


def local_hhmm(iso: str, tz: tzinfo) -> str:
    """A time from the service (UTC) as the store's wall clock, HH:MM."""
    at = datetime.fromisoformat(iso)
    if at.tzinfo is None:  # the service stores UTC; a naive value is UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(tz).strftime("%H:%M")


_CONSOLE: Console | None = None


def wrapped_lines(text: str, width: int) -> int:
    """How many lines `text` takes wrapped at `width` cells (CJK two cells each), as a Static wraps it; 2 while
    the widget has no width yet."""
    global _CONSOLE
    if width <= 0:
        return 2
    if _CONSOLE is None:
        _CONSOLE = Console(width=200, legacy_windows=False)
    return len(Text(text).wrap(_CONSOLE, width))
