"""Command/response exchange with a card, the way real cards answer (ISO 7816-4).

A transport sends one command APDU and returns (data, SW1, SW2); it knows nothing of status words.
`exchange` adds what PC/SC and pyscard leave to the caller: `61xx` (more data waiting → GET RESPONSE,
repeated until the card says 9000) and `6Cxx` (wrong Le → the same command again with Le = xx).
Social security card readers meet both: T=0 cards answer SELECT with 61xx, and issuers' record
lengths differ from the standard's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from devices.card.errors import StatusWordError, UnreadableCardError

SW_OK = 0x9000
# Named status words (ISO 7816-4 and the 社保卡 terminal specs); anything else is "unknown".
SW_NAMES: dict[int, tuple[str, str]] = {
    0x6281: ("返回的数据可能有错", "part of the returned data may be corrupted"),
    0x6282: ("文件或记录结束前已读完", "end of file or record reached before reading Le bytes"),
    0x6283: ("选择的文件已失效", "selected file invalidated"),
    0x6581: ("卡片存储器故障", "memory failure"),
    0x6700: ("长度错误", "wrong length"),
    0x6882: ("不支持安全报文", "secure messaging not supported"),
    0x6981: ("命令与文件结构不相容", "command incompatible with file structure"),
    0x6982: ("安全状态不满足", "security status not satisfied"),
    0x6983: ("认证方法被锁定", "authentication method blocked"),
    0x6985: ("使用条件不满足", "conditions of use not satisfied"),
    0x6986: ("命令不允许（无当前文件）", "command not allowed (no current EF)"),
    0x6A81: ("功能不支持（卡片已锁定）", "function not supported (card or application blocked)"),
    0x6A82: ("文件或应用未找到", "file or application not found"),
    0x6A83: ("记录未找到", "record not found"),
    0x6A86: ("参数 P1 P2 不正确", "incorrect parameters P1-P2"),
    0x6A88: ("引用的数据未找到", "referenced data not found"),
    0x6B00: ("参数错误（偏移超出文件）", "wrong parameters (offset outside the file)"),
    0x6D00: ("指令不支持", "instruction code not supported"),
    0x6E00: ("类别不支持", "class not supported"),
    0x6F00: ("卡片内部错误", "no precise diagnosis (card internal error)"),
}

# A card that keeps answering 61xx would loop forever; real FCI and records are far shorter.
MAX_RESPONSE_CHAINS = 16


class Transport(Protocol):
    def transmit(self, apdu: bytes) -> tuple[bytes, int, int]: ...


@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK


def sw_name(sw: int) -> tuple[str, str]:
    if sw in SW_NAMES:
        return SW_NAMES[sw]
    if sw >> 8 == 0x63 and sw & 0xF0 == 0xC0:
        return f"校验失败，还可重试 {sw & 0x0F} 次", f"verification failed, {sw & 0x0F} tries left"
    return "未知状态字", "unknown status word"


def refusal(sw: int, command: str) -> StatusWordError:
    zh, en = sw_name(sw)
    return StatusWordError(sw, zh, en, command)


def exchange(transport: Transport, apdu: bytes) -> Response:
    """Send `apdu`; follow 61xx with GET RESPONSE and resend once on 6Cxx. Returns the final status."""
    data, sw1, sw2 = transport.transmit(apdu)
    if sw1 == 0x6C and len(apdu) >= 5:
        # Wrong Le: the card says how many bytes it has; ask again for exactly that many.
        data, sw1, sw2 = transport.transmit(_with_le(apdu, sw2))
    collected = bytearray(data)
    chains = 0
    while sw1 == 0x61:
        chains += 1
        if chains > MAX_RESPONSE_CHAINS:
            raise UnreadableCardError("卡片不停地要求取响应", "the card keeps answering 61xx (more data) without end",
                                      apdu=apdu.hex().upper())
        data, sw1, sw2 = transport.transmit(bytes([apdu[0] & 0x03, 0xC0, 0x00, 0x00, sw2]))
        if sw1 == 0x6C:  # GET RESPONSE with the wrong length: same rule
            data, sw1, sw2 = transport.transmit(bytes([apdu[0] & 0x03, 0xC0, 0x00, 0x00, sw2]))
        collected += data
    return Response(bytes(collected), (sw1 << 8) | sw2)


def _with_le(apdu: bytes, le: int) -> bytes:
    """The same command with its Le replaced (case 2: header + Le; case 4: header + Lc + data + Le)."""
    if len(apdu) == 5:
        return apdu[:4] + bytes([le])
    lc = apdu[4]
    return apdu[:5 + lc] + bytes([le])
