"""The sandbox's national 医保电子处方中心 (REST, reference §7 (b)): the same platform as 7201–7208, its pharmacy
operations served at `REST_PATH` + server.insurance.eprx_rest.PATHS.

Each request's envelope is checked as the centre does, in this order, and refused in the platform's error shape
`{code, message, success: false}` (HTTP 200, nothing decrypted, nothing done): an unknown appId (`UNKNOWN_APP`), a
timestamp more than `MAX_AGE_MS` from the centre's wall clock (`STALE`), a signature that does not verify with the
app's registered public key (`BAD_SIGN`), encData that does not decrypt (`BAD_DATA`). The opened body is then the
7xxx transaction's and goes through the centre as one (same handlers, msgid replay, delivery log); its answer
goes back signed with the platform's key and encrypted with the app's, or its refusal as `BUSINESS`. The faults
`http_status` and `error` apply here too.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from server.insurance import eprx_rest, wire
from server.insurance.sandbox.centre import Centre
from server.insurance.sandbox.eprx import PRIVATE_KEY, PUBLIC_KEY
from server.insurance.sandbox.faults import Faults

REST_PATH = "/epc/fixmedins"
MAX_AGE_MS = 5 * 60 * 1000
# The demo pharmacy app: appId → (SM4 key, the pharmacy's SM2 public key); [eprx]'s defaults are its.
APPS = {"DDPOS-SANDBOX-0001": ("5c123edf49393b7078da90d50fbc4d82",
                               "0d5de79f4e55575696fd3a61000c17fede5de62175cdf1379b0c36325f615acf"
                               "59bd31cd985bd994477420a82eb5880f2dc27d451829fd08e6dcf78002daa8e0")}
UNKNOWN_APP, STALE, BAD_SIGN, BAD_DATA, BUSINESS = 40101, eprx_rest.STALE_TIMESTAMP, 40103, 40001, 50001


def refusal(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "success": False}


def opened(envelope: Any, now_ms: int) -> tuple[str, dict[str, Any]] | dict[str, Any]:
    """(appId, the plain body), or the refusal to answer with."""
    if not isinstance(envelope, dict) or not all(wire.to_text(envelope.get(k)) for k in eprx_rest.SIGNED):
        return refusal(BAD_DATA, "报文信封不完整（appId/encType/signType/timestamp/encData/signData）/ incomplete envelope")
    app = APPS.get(wire.to_text(envelope["appId"]))
    if app is None:
        return refusal(UNKNOWN_APP, "appId未注册 / unknown appId")
    stamp = wire.to_text(envelope["timestamp"])
    if not stamp.isdigit() or abs(now_ms - int(stamp)) > MAX_AGE_MS:
        return refusal(STALE, "时间戳已过期或无效 / the timestamp is stale or invalid")
    if not eprx_rest.verify(app[1], wire.to_text(envelope.get("signData")), eprx_rest.signed_text(envelope)):
        return refusal(BAD_SIGN, "签名验证失败 / the signature does not verify")
    try:
        body = wire.loads(eprx_rest.decrypt(app[0], wire.to_text(envelope["encData"])))
    except ValueError:
        return refusal(BAD_DATA, "encData解密失败 / encData does not decrypt")
    if not isinstance(body, dict):
        return refusal(BAD_DATA, "业务数据不是JSON对象 / the body is not a JSON object")
    return wire.to_text(envelope["appId"]), body


def install(app: FastAPI, centre: Centre, faults: Faults) -> None:
    """The REST operations on the sandbox's app."""
    for infno, path in eprx_rest.PATHS.items():
        app.add_api_route(REST_PATH + path, _endpoint(centre, faults, infno), methods=["POST"],
                          include_in_schema=False)


def _endpoint(centre: Centre, faults: Faults, infno: str) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            envelope = wire.loads(await request.body())
        except ValueError:
            envelope = None
        got = opened(envelope, int(time.time() * 1000))  # the wall clock: a transport check, as the HMAC one is
        if isinstance(got, dict):
            return JSONResponse(got)
        app_id, body = got
        req = {**body, "infno": infno, "via": "rest"}  # "via": the delivery log tells the generations apart
        fault = faults.take(infno, wire.to_text(body.get("msgid")))
        if fault and fault.kind == "http_status":
            return Response("<html><body>gateway error</body></html>", fault.status, media_type="text/html")
        raw = wire.dumps(req).encode()
        if fault and fault.kind == "error":
            text = await anyio.to_thread.run_sync(centre.refusal, raw, fault.infcode, fault.err_msg, fault.kind)
        else:
            text = await anyio.to_thread.run_sync(centre.handle, raw, fault.kind if fault else "")
        answer = wire.loads(text)
        if int(wire.to_decimal(answer.get("infcode"), "infcode")) != 0:
            return JSONResponse(refusal(BUSINESS, wire.to_text(answer.get("err_msg"))))
        sealed = await anyio.to_thread.run_sync(lambda: eprx_rest.seal(
            answer.get("output") or {}, app_id, APPS[app_id][0], PRIVATE_KEY, PUBLIC_KEY, int(time.time() * 1000)))
        return Response(wire.dumps({"code": 0, "message": "成功", "success": True, **sealed}),
                        media_type="application/json;charset=utf-8")
    return endpoint
