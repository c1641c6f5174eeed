"""Text as a Chinese-mode ESC/POS printer prints it: GBK bytes, widths counted in bytes.

A Chinese-market printer in its Chinese (double-byte) mode prints GBK; many cannot print GB18030's
four-byte forms, and python-escpos's own encoder sends anything without a hanzi in a Western code page
(devices.md §9) — so the text is encoded here and sent raw. Characters a printer cannot print are mapped
to ones it can (¥ → ￥, µ → μ …); what has no printable form becomes "?" rather than a wrong hanzi.
Control characters never reach the printer as text: in an item name they could be printer commands.
A double-byte character takes two columns, a single byte one — the printed width is the byte length
(East-Asian-Width is wrong for ×, μ, ℃, °, which print double-width).
"""

from __future__ import annotations

import functools
import unicodedata

# Characters outside two-byte GBK (or mis-encoded by Python's cp936-based codec) → printable equivalents.
_MAP = {
    "¥": "￥", "µ": "μ", "€": "EUR", "™": "TM", "©": "(C)", "®": "(R)", "•": "·", "\u00a0": " ",
    "–": "-", "—": "－", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "\u3000": "  ",
}
UNPRINTABLE = "?"


@functools.lru_cache(maxsize=4096)  # a receipt repeats the store's header, item names and labels
def normalise(text: str) -> str:
    """The text with every character printable in two-byte GBK (or replaced visibly)."""
    out = []
    for ch in text:
        out.append(_printable(ch))
    return "".join(out)


@functools.lru_cache(maxsize=8192)
def _printable(ch: str) -> str:
    if ch in _MAP:
        return _MAP[ch]
    if ch == "\t":
        return " "
    if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return " "
    if _gbk_ok(ch):
        return ch
    folded = unicodedata.normalize("NFKC", ch)  # e.g. full-width forms, ligatures, circled digits
    if folded != ch and all(_gbk_ok(c) for c in folded):
        return folded
    return UNPRINTABLE


def _gbk_ok(ch: str) -> bool:
    try:
        raw = ch.encode("gbk")
    except UnicodeEncodeError:
        return False
    # One byte is ASCII only; Python's codec maps € to the single byte 0x80, which printers do not share.
    return (len(raw) == 1 and raw[0] < 0x80) or (len(raw) == 2 and raw[0] >= 0x81)


def encode(text: str) -> bytes:
    return normalise(text).encode("gbk")


def width(text: str) -> int:
    """Printed columns: GBK bytes of the normalised text."""
    return len(encode(text))


def fit(text: str, columns: int) -> str:
    """The normalised text cut to at most `columns` printed columns (never half a double-byte character)."""
    out, used = [], 0
    for ch in normalise(text):
        w = len(ch.encode("gbk"))
        if used + w > columns:
            break
        out.append(ch)
        used += w
    return "".join(out)


def pad(text: str, columns: int, align: str = "left") -> str:
    """Fit and pad with spaces to exactly `columns` printed columns."""
    t = fit(text, columns)
    gap = columns - width(t)
    if align == "right":
        return " " * gap + t
    if align == "center":
        return " " * (gap // 2) + t + " " * (gap - gap // 2)
    return t + " " * gap


def wrap(text: str, columns: int) -> list[str]:
    """Break into lines of at most `columns` printed columns (a long drug name takes two lines)."""
    lines: list[str] = []
    line: list[str] = []
    used = 0
    for ch in normalise(text):
        w = len(ch.encode("gbk"))
        if used + w > columns:
            lines.append("".join(line))
            line, used = [], 0
        line.append(ch)
        used += w
    if line or not lines:
        lines.append("".join(line))
    return lines


def spread(left: str, right: str, columns: int) -> str:
    """`left` … `right` on one line of `columns` columns; the left side is cut if both do not fit."""
    r = fit(right, columns)
    return pad(left, columns - width(r)) + r
