"""The card's answer-to-reset (ATR, 复位应答): its historical bytes are the 卡复位信息 of the record."""

from __future__ import annotations


def historical_bytes(atr: bytes) -> bytes:
    """The K historical bytes after TS, T0 and the interface bytes (ISO 7816-3 §8.2); b"" if malformed."""
    if len(atr) < 2:
        return b""
    k = atr[1] & 0x0F
    y = atr[1] >> 4
    i = 2
    while True:
        count = bin(y).count("1")
        if i + count > len(atr):
            return b""
        has_td = y & 0x8
        i += count
        if not has_td:
            break
        y = atr[i - 1] >> 4
    return atr[i:i + k] if i + k <= len(atr) else b""
