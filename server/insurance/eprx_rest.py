"""The second generation of 电子处方流转: the national 医保电子处方中心's REST interface (reference §7 (b), issue #23).

Each pharmacy operation is its own path (`PATHS`) on the centre; the body travels in an envelope
`{appId, encType, signType, timestamp, encData, signData}`: `encData` is the request's JSON, SM4-encrypted (ECB,
PKCS#7, hex) with the app's key; `signData` is the SM2/SM3 signature (hex) of `signed_text(envelope)` — the other
fields as sorted `k=v&…`, empty ones left out — with the pharmacy's private key. The centre answers the same
envelope signed with its own key (`[eprx] platform_public_key` verifies it) and `code` 0, or refuses with the
platform's error shape `{code, message, success: false}` and no encData (a bad signature, a stale timestamp, an
unknown appId, or the business refusal).

`RestGateway` is the service's gateway with 7201–7204/7207/7208 carried this way (the rest — 9001, 1101, 2101…,
3501… — still ride the 7xxx envelope): the use cases call `call(infno, …)` as before and never know which
generation answers. Inside encData the fields here are the 7xxx transaction's (the envelope's header fields and
its `input` nodes): the centre's published field names for the REST bodies were not in the reference — a region's
mapping goes in `to_rest`/`from_rest` once confirmed. Paths, signed text and key formats: confirm likewise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from server.db.models import MessageOutcome
from server.insurance import wire
from server.insurance.errors import AnswerLost, CentreRefused, ClockSkew
from server.insurance.gateway import Caller
from server.insurance.http_adapter import HttpGateway, answer_object
from server.insurance.messages import Receipt

T = TypeVar("T")

# The pharmacy's operations, by the 7xxx number the use cases know them by (SDK numbering, reference §7 (b)).
PATHS = {"7201": "/rxQrcodeDecode",  # 二维码解码
         "7202": "/rxCircQuery",  # 线上流转查询
         "7203": "/rxDownload",  # 处方下载
         "7204": "/rxChkInfoUpld",  # 审方信息上传
         "7207": "/rxSelOutUpld",  # 销售出库明细上传
         "7208": "/rxSelOutUndo"}  # 销售出库明细撤销
ENC_TYPE, SIGN_TYPE = "SM4", "SM2"
SIGNED = ("appId", "encData", "encType", "signType", "timestamp")  # sorted; signData signs these
# The centre's code for an envelope whose timestamp is too far from its clock (the sandbox's; a region's own code
# goes here once confirmed): ClockSkew, retried, not a refusal of the content.
STALE_TIMESTAMP = 40102


def signed_text(envelope: dict[str, Any]) -> str:
    """What is signed of an envelope: its fields but signData (an answer's code and message are outside), the
    non-empty ones, as sorted `k=v&…`."""
    return "&".join(f"{k}={wire.to_text(envelope.get(k))}" for k in SIGNED if wire.to_text(envelope.get(k)))


def encrypt(key_hex: str, text: str) -> str:
    from gmssl import sm4  # pure Python: loaded when the REST generation is used

    c = sm4.CryptSM4()
    c.set_key(bytes.fromhex(key_hex), sm4.SM4_ENCRYPT)
    return str(c.crypt_ecb(text.encode("utf-8")).hex())


def decrypt(key_hex: str, hex_text: str) -> str:
    """The plain text; ValueError when it is not this key's (or not hex)."""
    from gmssl import sm4

    c = sm4.CryptSM4()
    c.set_key(bytes.fromhex(key_hex), sm4.SM4_DECRYPT)
    try:
        return bytes(c.crypt_ecb(bytes.fromhex(hex_text))).decode("utf-8")
    except (UnicodeDecodeError, IndexError, TypeError) as exc:
        raise ValueError("encData does not decrypt with this key") from exc


def sign(private_key: str, public_key: str, text: str) -> str:
    from gmssl import sm2

    return str(sm2.CryptSM2(private_key=private_key, public_key=public_key).sign_with_sm3(text.encode("utf-8")))


def verify(public_key: str, signature: str, text: str) -> bool:
    from gmssl import sm2

    try:
        return bool(signature) and bool(sm2.CryptSM2(private_key="", public_key=public_key).verify_with_sm3(
            signature, text.encode("utf-8")))
    except (ValueError, TypeError, IndexError):  # not hex, or of the wrong length
        return False


def seal(body: dict[str, Any], app_id: str, key_hex: str, private_key: str, public_key: str,
         timestamp_ms: int) -> dict[str, Any]:
    """A body as it travels: encrypted, stamped, signed (both sides use it)."""
    envelope: dict[str, Any] = {"appId": app_id, "encType": ENC_TYPE, "signType": SIGN_TYPE,
                                "timestamp": str(timestamp_ms), "encData": encrypt(key_hex, wire.dumps(body))}
    envelope["signData"] = sign(private_key, public_key, signed_text(envelope))
    return envelope


def open_answer(answer: dict[str, Any], key_hex: str, platform_public_key: str) -> tuple[int, str, Any]:
    """(code, message, the decrypted data or None). A successful answer whose signature does not verify, or
    whose encData does not decrypt, is ValueError: it is not the centre's."""
    code = int(wire.to_decimal(answer.get("code"), "code")) if answer.get("code") not in (None, "") else -1
    message = wire.to_text(answer.get("message") or answer.get("msg"))
    if code != 0:
        return code, message, None
    if platform_public_key and not verify(platform_public_key, wire.to_text(answer.get("signData")),
                                          signed_text(answer)):
        raise ValueError("the answer's signData does not verify with the platform's key")
    enc = wire.to_text(answer.get("encData"))
    return 0, message, wire.loads(decrypt(key_hex, enc)) if enc else {}


class RestGateway(HttpGateway):
    """The gateway with the prescription platform's operations over the national centre's REST envelope."""

    def __init__(self, *, rest_url: str, app_id: str, app_secret: str, private_key: str, public_key: str,
                 platform_public_key: str, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                 **gateway: Any) -> None:
        super().__init__(**gateway)
        self.rest_url = rest_url.rstrip("/")
        self._app = (app_id, app_secret, private_key, public_key)
        self._platform_key = platform_public_key
        self._clock_ms = clock_ms

    def call(self, infno: str, caller: Caller, input_doc: dict[str, Any], msgid: str | None = None,
             read: Callable[[dict[str, Any]], T] | None = None, durable: bool = True) -> tuple[Receipt, T | None]:
        if infno not in PATHS:
            return super().call(infno, caller, input_doc, msgid, read, durable)
        return self._rest(infno, caller, input_doc, msgid, read)

    def _rest(self, infno: str, caller: Caller, input_doc: dict[str, Any], msgid: str | None,
              read: Callable[[dict[str, Any]], T] | None) -> tuple[Receipt, T | None]:
        plain: dict[str, Any] = {}

        def build(mid: str) -> str:
            nonlocal plain
            plain = {k: v for k, v in self.envelope(infno, mid, caller, input_doc).items() if k != "infno"}
            return wire.dumps(plain)

        # logged plain before sending (the sealed body is unreadable in a dispute), as the 7xxx envelope is
        msgid, _ = self.log.sent(msgid or self._msgids.allocate, infno, build, caller.opter)
        app_id, key, private, public = self._app
        body = wire.dumps(seal(plain, app_id, key, private, public, self._clock_ms()))
        started = time.monotonic()

        def done(outcome: MessageOutcome, text: str = "", err: str = "") -> None:
            self.log.received(msgid, infno, text, outcome, err_msg=err,
                              elapsed_ms=int((time.monotonic() - started) * 1000), opter=caller.opter)

        text = self._exchange(self.rest_url + PATHS[infno], body, {}, infno, msgid, done)
        try:
            code, message, data = open_answer(answer_object(text), key, self._platform_key)
        except (ValueError, wire.WireFormatError) as exc:
            done(MessageOutcome.LOST, text, f"unreadable answer: {exc}")
            raise AnswerLost(infno, msgid, f"unreadable answer: {exc}") from exc
        if code != 0:
            done(MessageOutcome.REFUSED, text, message)
            if code == STALE_TIMESTAMP:
                raise ClockSkew(infno, msgid, code, message)
            raise CentreRefused(infno, msgid, code, message)
        output = data if isinstance(data, dict) else {}
        receipt = Receipt(infno=infno, msgid=msgid, output=output)
        try:
            result = read(output) if read else None
        except (ValueError, wire.WireFormatError) as exc:
            done(MessageOutcome.LOST, wire.dumps(output), f"unreadable output: {exc}")
            raise AnswerLost(infno, msgid, f"unreadable output: {exc}") from exc
        done(MessageOutcome.OK, wire.dumps(output))  # the opened answer: what the centre said, readable
        return receipt, result
