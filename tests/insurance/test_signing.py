"""Signing is pluggable: the HMAC API-gateway scheme against the sandbox's check, and the SM4/SM2
shape sealing and opening its own messages."""

from __future__ import annotations

import secrets

import pytest
from gmssl import sm2
from sqlalchemy import Engine

from server.insurance import wire
from server.insurance.errors import TransportRefused
from server.insurance.factory import make_gateway
from server.insurance.sandbox.client import SandboxAdmin
from server.insurance.signing import HmacGatewaySigner, SmSigner, hmac_signature, verify_hmac
from server.services.context import Ctx
from tests.conftest import make_settings
from tests.insurance.conftest import OPERATOR


def test_hmac_signed_messages_pass_the_gateway_and_bad_ones_are_turned_away(
        db_url: str, sandbox_url: str, engine: Engine, ctx: Ctx, sandbox: SandboxAdmin) -> None:
    sandbox.set_settings(hmac_secrets={"AK-store-1": "s3cret"})
    good = make_settings(db_url, insurance={"url": sandbox_url, "signing": "hmac", "access_key": "AK-store-1",
                                            "secret_key": "s3cret", "api_name": "hssServives"})
    bad = make_settings(db_url, insurance={"url": sandbox_url, "signing": "hmac", "access_key": "AK-store-1",
                                           "secret_key": "wrong"})
    plain = make_settings(db_url, insurance={"url": sandbox_url})
    gw = make_gateway(good, engine, ctx.store_id)
    assert gw.sign_in(OPERATOR, "00:1A:2B:3C:4D:5E", "127.0.0.1").sign_no
    for settings in (bad, plain):
        other = make_gateway(settings, engine, ctx.store_id)
        with pytest.raises(TransportRefused) as refused:
            other.sign_in(OPERATOR, "00:1A:2B:3C:4D:5E", "127.0.0.1")
        assert not refused.value.uncertain and refused.value.details["http_status"] == 401
        other.close()
    gw.close()
    assert len(sandbox.sign_ins()) == 1


def test_hmac_signature_is_over_the_sorted_headers() -> None:
    signer = HmacGatewaySigner("AK", "SK", "api", "1.0.0", clock_ms=lambda: 1_700_000_000_000)
    _, headers = signer.seal({"infno": "9001"})
    signed = {k: headers[k] for k in HmacGatewaySigner.SIGNED}
    assert headers["_api_signature"] == hmac_signature("SK", signed)
    assert verify_hmac(headers, {"AK": "SK"}, 1_700_000_000_000) == ""
    assert verify_hmac(headers, {"AK": "SK"}, 1_700_000_000_000 + 31 * 60 * 1000) == "timestamp expired"
    assert verify_hmac({**headers, "_api_signature": "x"}, {"AK": "SK"}, 1_700_000_000_000) == "bad signature"
    with pytest.raises(ValueError):
        HmacGatewaySigner("", "", "api", "1.0.0")


def _keypair() -> tuple[str, str]:
    private = secrets.token_hex(32)
    curve = sm2.CryptSM2(private_key=private, public_key="")
    return private, curve._kg(int(private, 16), sm2.default_ecc_table["g"])


def test_sm4_sealed_input_and_sm2_signature_round_trip() -> None:
    private, public = _keypair()
    signer = SmSigner(lambda: "token-123", secrets.token_bytes(16), private, public)
    envelope = {"infno": "1101", "msgid": "P44030000001202603021030050001",
                "input": {"data": {"certno": "440305197503140251", "amount": wire.fen_to_amount(1230)}}}
    sealed, headers = signer.seal(envelope)
    assert headers == {"Authorization": "Bearer token-123"}
    assert sealed["enc_type"] == "SM4" and sealed["signtype"] == "SM2"
    assert "440305197503140251" not in wire.dumps(sealed)  # the input travels encrypted
    assert wire.loads(signer.decrypt(sealed["input"])) == envelope["input"]
    signed_text = wire.dumps({k: v for k, v in sealed.items() if k != "cainfo"})
    assert signer.verify(sealed["cainfo"], signed_text)
    assert not signer.verify(sealed["cainfo"], signed_text.replace("1101", "2102"))
    answer = {"infcode": 0, "enc_type": "SM4", "output": signer.encrypt('{"baseinfo":{"psn_no":"1"}}')}
    assert signer.open(answer)["output"] == {"baseinfo": {"psn_no": "1"}}
