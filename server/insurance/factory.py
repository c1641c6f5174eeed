"""The gateway the service uses, built from `[insurance]` in config.toml."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from server.config import Settings
from server.insurance.http_adapter import HttpGateway
from server.insurance.msgid import MsgidSource
from server.insurance.msglog import MessageLog
from server.insurance.signing import HmacGatewaySigner, PlainSigner, Signer
from server.insurance.transport import Deferred, Transport

REST_PATH = "/epc/fixmedins"  # the sandbox's REST centre, under [insurance] url


def make_signer(settings: Settings) -> Signer:
    ins = settings.insurance
    if ins.signing == "hmac":
        return HmacGatewaySigner(ins.access_key, ins.secret_key, ins.api_name, ins.api_version)
    if ins.signing == "sm":
        # Token endpoints, grant types and key formats are regional: build SmSigner in code for the
        # region (server.insurance.signing.SmSigner) and pass it to make_gateway(signer=...).
        raise ValueError("insurance.signing = \"sm\" needs a region-specific SmSigner passed to make_gateway")
    return PlainSigner()


def httpx_transport(connect_timeout: float) -> Transport:
    from server.insurance.httpx_transport import HttpxTransport  # the HTTP stack, loaded on first use (Deferred)

    return HttpxTransport(connect_timeout)


def make_gateway(settings: Settings, engine: Engine, store_id: int, *, transport: Transport | None = None,
                 signer: Signer | None = None) -> HttpGateway:
    ins, store, rx = settings.insurance, settings.store, settings.eprx
    common: dict[str, Any] = dict(
        url=ins.url.rstrip("/") + ins.path, fixmedins_code=store.fixmedins_code, fixmedins_name=store.name,
        mdtrtarea_admvs=store.admdvs, tz=store.tz, infver=ins.infver, recer_sys_code=ins.recer_sys_code,
        log=MessageLog(engine, store_id), msgids=MsgidSource(engine, store_id, store.fixmedins_code, store.tz),
        transport=transport or Deferred(lambda: httpx_transport(ins.connect_timeout_seconds)),
        signer=signer or make_signer(settings), timeout=ins.timeout_seconds)
    if rx.generation == "rest":  # the platform's operations over the national centre's REST envelope
        from server.insurance.eprx_rest import RestGateway

        return RestGateway(rest_url=rx.rest_url or ins.url.rstrip("/") + REST_PATH, app_id=rx.app_id,
                           app_secret=rx.app_secret, private_key=rx.private_key, public_key=rx.public_key,
                           platform_public_key=rx.platform_public_key, **common)
    return HttpGateway(**common)
