"""Signing and sealing a message: provinces differ, so it is a seam with three shapes.

- `PlainSigner`: nothing added (the sandbox; regions whose private network is the protection).
- `HmacGatewaySigner`: the API-gateway scheme [HN] documents (reference §1.3): headers `_api_name`,
  `_api_version`, `_api_timestamp` (13-digit ms), `_api_access_key` and `_api_signature` =
  Base64(HmacSHA1(secret, the other four as sorted `k=v&…`)). The centre answers 401 when the
  signature is missing, wrong or older than 30 minutes.
- `SmSigner`: the OAuth2-bearer + 国密 shape [OI] uses: a bearer token from the region's token
  endpoint (given as a callable, since token URLs and grant types differ), `input` encrypted with
  SM4 (ECB, PKCS#7, hex) and marked `enc_type: "SM4"`, the envelope signed with SM2/SM3 into
  `cainfo` with `signtype: "SM2"`. Key formats and the exact signed text are regional: confirm
  against the 统筹区's spec before use. Uses `gmssl` (pure Python).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any, Protocol

from server.insurance import wire


class Signer(Protocol):
    def seal(self, envelope: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The envelope as it should travel, and the HTTP headers to send with it."""
        ...

    def open(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The answer with anything sealed in it opened (e.g. an encrypted output)."""
        ...


class PlainSigner:
    def seal(self, envelope: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        return envelope, {}

    def open(self, answer: dict[str, Any]) -> dict[str, Any]:
        return answer


def hmac_signature(secret: str, headers: dict[str, str]) -> str:
    text = "&".join(f"{k}={headers[k]}" for k in sorted(headers))
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class HmacGatewaySigner:
    SIGNED = ("_api_access_key", "_api_name", "_api_timestamp", "_api_version")

    def __init__(self, access_key: str, secret_key: str, api_name: str, api_version: str,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        if not access_key or not secret_key:
            raise ValueError("HMAC signing needs insurance.access_key and insurance.secret_key")
        self._ak, self._sk, self._name, self._version, self._clock = access_key, secret_key, api_name, api_version, clock_ms

    def seal(self, envelope: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        headers = {"_api_access_key": self._ak, "_api_name": self._name or envelope.get("infno", ""),
                   "_api_timestamp": str(self._clock()), "_api_version": self._version}
        headers["_api_signature"] = hmac_signature(self._sk, headers)
        return envelope, headers

    def open(self, answer: dict[str, Any]) -> dict[str, Any]:
        return answer


def verify_hmac(headers: dict[str, str], secrets: dict[str, str], now_ms: int, max_age_ms: int = 30 * 60 * 1000) -> str:
    """What the centre's gateway checks; returns "" when good, else the reason (the sandbox uses it)."""
    got = {k: headers.get(k, "") for k in HmacGatewaySigner.SIGNED}
    if not all(got.values()) or not headers.get("_api_signature"):
        return "missing signature headers"
    secret = secrets.get(got["_api_access_key"])
    if secret is None:
        return "unknown access key"
    if not got["_api_timestamp"].isdigit() or abs(now_ms - int(got["_api_timestamp"])) > max_age_ms:
        return "timestamp expired"
    if not hmac.compare_digest(hmac_signature(secret, got), headers["_api_signature"]):
        return "bad signature"
    return ""


class SmSigner:
    """OAuth2 bearer + SM4-encrypted input + SM2 signature (see the module docstring)."""

    def __init__(self, token: Callable[[], str], sm4_key: bytes, sm2_private_key: str, sm2_public_key: str) -> None:
        from gmssl import sm2, sm4

        if len(sm4_key) != 16:
            raise ValueError("the SM4 key is 16 bytes")
        self._token = token
        self._key = sm4_key
        self._sm4 = sm4
        self._sm2 = sm2.CryptSM2(private_key=sm2_private_key, public_key=sm2_public_key)

    def encrypt(self, text: str) -> str:
        c = self._sm4.CryptSM4()
        c.set_key(self._key, self._sm4.SM4_ENCRYPT)
        return c.crypt_ecb(text.encode()).hex()

    def decrypt(self, hex_text: str) -> str:
        c = self._sm4.CryptSM4()
        c.set_key(self._key, self._sm4.SM4_DECRYPT)
        return c.crypt_ecb(bytes.fromhex(hex_text)).decode()

    def sign(self, text: str) -> str:
        return self._sm2.sign_with_sm3(text.encode())

    def verify(self, signature: str, text: str) -> bool:
        return bool(self._sm2.verify_with_sm3(signature, text.encode()))

    def seal(self, envelope: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        sealed = dict(envelope)
        sealed["input"] = self.encrypt(wire.dumps(envelope.get("input", {})))
        sealed["enc_type"] = "SM4"
        sealed["signtype"] = "SM2"
        sealed["cainfo"] = self.sign(wire.dumps({k: v for k, v in sealed.items() if k != "cainfo"}))
        return sealed, {"Authorization": f"Bearer {self._token()}"}

    def open(self, answer: dict[str, Any]) -> dict[str, Any]:
        output = answer.get("output")
        if isinstance(output, str) and output and str(answer.get("enc_type", answer.get("enctype", ""))).upper() == "SM4":
            return {**answer, "output": wire.loads(self.decrypt(output))}
        return answer
