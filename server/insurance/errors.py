"""What can go wrong talking to the centre, typed by what the caller must do next.

The question that matters for a settlement is whether the centre may have acted: `uncertain` is
True when the message may have been processed but no readable answer came back (timeout, a lost or
garbled answer, a gateway error after sending). The settlement flow then marks the sale
"settlement uncertain" and resolves it with 2601 by the msgid. When `uncertain` is False the
centre certainly did nothing (it refused, or the message never left).
"""

from __future__ import annotations

from typing import Any

from server.errors import AppError


class GatewayError(Exception):
    uncertain: bool = False
    code: str = "INS-GATEWAY"
    status: int = 424  # the request could not be done because the centre could not do it

    def __init__(self, infno: str, msgid: str, message_zh: str, message_en: str, **details: Any) -> None:
        super().__init__(f"[{infno} {msgid}] {message_en}")
        self.infno = infno
        self.msgid = msgid
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details

    def to_app_error(self) -> AppError:
        """The same failure as the service's error body (Chinese and English, the msgid kept)."""
        return AppError(self.status, self.code, self.message_zh, self.message_en,
                        {"infno": self.infno, "msgid": self.msgid, "uncertain": self.uncertain, **self.details})


class CentreRefused(GatewayError):
    """infcode != 0: the centre answered and refused; err_msg says why. Nothing was done."""

    code = "INS-REFUSED"
    status = 422

    def __init__(self, infno: str, msgid: str, infcode: int, err_msg: str, inf_refmsgid: str = "") -> None:
        super().__init__(infno, msgid, f"医保中心拒绝（{infno}）：{err_msg or '未说明原因'}",
                         f"the insurance centre refused {infno}: {err_msg or 'no reason given'}",
                         infcode=infcode, err_msg=err_msg, inf_refmsgid=inf_refmsgid)
        self.infcode = infcode
        self.err_msg = err_msg
        self.inf_refmsgid = inf_refmsgid


class ClockSkew(CentreRefused):
    """The centre turned the envelope away for its timestamp (the REST generation allows 5 minutes either way):
    the store's clock and the centre's disagree. Nothing was processed, so it is transport-like — the uploads'
    outbox sends the same message again after its wait, which goes through once the clock is put right (NTP,
    or by hand: the message says to check it) — not a refusal of the content for a person to correct."""

    code = "INS-CLOCK"
    status = 503

    def __init__(self, infno: str, msgid: str, infcode: int, err_msg: str) -> None:
        super().__init__(infno, msgid, infcode, err_msg)
        self.message_zh = (f"医保平台拒绝了报文时间戳（{infno}）：本机时钟与平台时间相差超过允许范围，请校准本机时钟；"
                           "上传记录将自动重发")
        self.message_en = (f"the platform refused the message's timestamp ({infno}): this machine's clock is off from "
                           "the platform's by more than it allows; check the clock. Uploads are sent again by "
                           "themselves")


class CentreUnreachable(GatewayError):
    """The message never reached the centre (connection refused, DNS, TLS): certainly not processed."""

    code = "INS-UNREACHABLE"

    def __init__(self, infno: str, msgid: str, reason: str) -> None:
        super().__init__(infno, msgid, "无法连接医保中心，交易未发送，请检查网络后重试",
                         f"cannot reach the insurance centre; {infno} was not sent ({reason})", reason=reason)


class TransportRefused(GatewayError):
    """The centre's gateway turned the message away before processing it (HTTP 4xx: signature, auth)."""

    code = "INS-TRANSPORT"

    def __init__(self, infno: str, msgid: str, http_status: int, body: str) -> None:
        super().__init__(infno, msgid, f"医保网关拒绝了请求（HTTP {http_status}），请检查签名与密钥配置",
                         f"the insurance gateway rejected the request (HTTP {http_status}): check signing keys",
                         http_status=http_status, body=body[:200])


class CentreTimeout(GatewayError):
    """Sent, but no answer within the time allowed: the centre may have acted."""

    uncertain = True
    code = "INS-TIMEOUT"

    def __init__(self, infno: str, msgid: str, seconds: float) -> None:
        super().__init__(infno, msgid, f"医保中心 {seconds:g} 秒内未应答，交易结果不确定",
                         f"no answer from the insurance centre within {seconds:g} s; the outcome is uncertain",
                         timeout_seconds=seconds)


class AnswerLost(GatewayError):
    """Sent, and the answer was lost or unreadable (connection dropped, gateway 5xx, garbled body)."""

    uncertain = True
    code = "INS-LOST"

    def __init__(self, infno: str, msgid: str, reason: str) -> None:
        super().__init__(infno, msgid, "医保中心的应答丢失或无法识别，交易结果不确定",
                         f"the insurance centre's answer was lost or unreadable; the outcome is uncertain ({reason})",
                         reason=reason)
