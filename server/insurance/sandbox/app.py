"""The sandbox centre as an HTTP service: the transaction endpoint and the admin endpoints.

POST {path} (default /fsi/api/callService): one NHSA message in, its answer out, faults applied.
POST /epc/fixmedins/*: the prescription platform's REST generation (server.insurance.sandbox.eprx_rest).
/admin/*: read the centre's own ledger, persons and deliveries; inject and clear faults; change
the fund policy, the wire style and the directory; require HMAC signatures; reset.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from catalog.classes import InsuranceCategory
from server.insurance import wire
from server.insurance.dicts import chrgitm_lv_category
from server.insurance.sandbox import eprx, eprx_rest, statements
from server.insurance.sandbox.centre import Centre
from server.insurance.sandbox.directory import Directory
from server.insurance.sandbox.faults import Fault, Faults
from server.insurance.sandbox.fund import Policy
from server.insurance.sandbox.ledger import Ledger
from server.insurance.sandbox.uploads import admin_router as uploads_admin
from server.insurance.signing import verify_hmac

DEFAULT_PATH = "/fsi/api/callService"


class DroppedOnPurpose(Exception):
    """Raised after a partial answer so the server cuts the connection (the 'drop' fault)."""


class TransactionEndpoint:
    """A raw ASGI endpoint: the 'drop' fault needs to cut a connection mid-answer."""

    def __init__(self, centre: Centre, faults: Faults) -> None:
        self.centre = centre
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        secrets = self.centre.ledger.setting("hmac_secrets", {})
        if secrets:
            reason = verify_hmac(headers, secrets, int(time.time() * 1000))
            if reason:
                await self._send(send, 401, wire.dumps({"code": 401, "message": reason}).encode())
                return
        try:
            peek = wire.loads(body)
            infno, msgid = wire.to_text(peek.get("infno")), wire.to_text(peek.get("msgid"))
        except (ValueError, AttributeError):
            infno, msgid = "", ""
        fault = self.faults.take(infno, msgid)
        kind = fault.kind if fault else ""
        if fault and fault.kind == "http_status":
            await self._send(send, fault.status, b"<html><body>gateway error</body></html>", "text/html")
            return
        if fault and fault.kind in ("error", "refuse_sign_in"):
            err = fault.err_msg if fault.kind == "error" else "签到被拒绝：机构状态异常 / sign-in refused"
            text = await anyio.to_thread.run_sync(self.centre.refusal, body, fault.infcode, err, kind)
            await self._send(send, 200, text.encode())
            return
        if fault and fault.kind == "delay":
            await anyio.sleep(fault.delay_ms / 1000)
        misstate = fault.offset_fen if fault and fault.kind == "misstate" else 0
        text = await anyio.to_thread.run_sync(self.centre.handle, body, kind, misstate)
        if fault and fault.kind == "twice":
            text = await anyio.to_thread.run_sync(self.centre.handle, body, "twice (second delivery)")
        if fault and fault.kind == "drop":
            data = text.encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json;charset=utf-8"),
                                    (b"content-length", str(len(data)).encode())]})
            await send({"type": "http.response.body", "body": data[: len(data) // 3], "more_body": True})
            raise DroppedOnPurpose("the 'drop' fault: answer cut off after the commit")
        if fault and fault.kind == "garble":
            text = text[: len(text) // 2]
        await self._send(send, 200, text.encode())

    @staticmethod
    async def _send(send: Send, status: int, data: bytes, ctype: str = "application/json;charset=utf-8") -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype.encode()), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


class FaultIn(BaseModel):
    kind: str = Field(description="delay | drop | twice | error | refuse_sign_in | http_status | garble | misstate")
    infno: str = ""
    times: int = Field(default=1, ge=1, le=1000)
    delay_ms: int = Field(default=0, ge=0, le=600_000)
    infcode: int = -1
    err_msg: str = "模拟错误 / injected error"
    status: int = Field(default=502, ge=400, le=599)
    offset_fen: int = Field(default=0, ge=-10**8, le=10**8)


class PolicyIn(BaseModel):
    fund_ratio: dict[str, str] | None = None
    deductible_fen: dict[str, int] | None = None
    yi_selfpay_ratio: str | None = None
    acct_pays_self_pay: bool | None = None


class SettingsIn(BaseModel):
    wire_style: str | None = Field(default=None, pattern="^(live|spec)$")
    chrgitm_lv_style: str | None = Field(default=None, pattern="^(2digit|1digit)$")
    amount_places: int | None = Field(default=None, ge=2, le=3, description="3: 2101/2102 amounts to the mill")
    hmac_secrets: dict[str, str] | None = None  # access key → secret; {} turns checking off


class DirectoryEntry(BaseModel):
    code: str = Field(min_length=1, max_length=50)
    chrgitm_lv: str = Field(description="甲乙丙: 01/1, 02/2, 03/3 (either spelling)")
    traced: bool | None = Field(default=None, description="sold with 药品追溯码 (false: the store's 无码库 stock)")


def create_sandbox_app(db_path: str | Path, path: str = DEFAULT_PATH) -> FastAPI:
    ledger = Ledger(db_path)
    directory = Directory.from_demo_catalog()
    centre = Centre(ledger, directory)
    faults = Faults()
    app = FastAPI(title="医保沙箱中心 Sandbox insurance centre", version="0.1.0")
    app.state.centre, app.state.faults = centre, faults
    statements.install(app, centre)  # 9101, 9102, 3202 and the reconciliation's knobs
    eprx.install(app, centre)  # 7201–7208: the prescription circulation platform and its knobs
    eprx.seed_demo(centre)
    eprx_rest.install(app, centre, faults)  # the same platform as the national centre's REST generation
    app.router.routes.append(Route(path, endpoint=TransactionEndpoint(centre, faults), methods=["POST"]))
    app.include_router(uploads_admin(centre.uploads))  # /admin/uploads: 3501–3507 held, the completeness query

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "path": path, "db": ledger.path}

    @app.get("/admin/ledger")
    def read_ledger(fixmedins_code: str = "") -> dict[str, Any]:
        sql = "SELECT * FROM settlement" + (" WHERE fixmedins_code = ?" if fixmedins_code else "") + " ORDER BY rowid"
        rows = ledger.query(sql, *([fixmedins_code] if fixmedins_code else []))
        for r in rows:
            r.pop("answer", None)
        return {"settlements": rows, "reversals": ledger.query("SELECT * FROM reversal ORDER BY rowid")}

    @app.get("/admin/persons")
    def persons() -> list[dict[str, Any]]:
        return [_person_out(r) for r in ledger.query("SELECT * FROM person ORDER BY psn_no")]

    @app.get("/admin/persons/{psn_no}")
    def person(psn_no: str) -> dict[str, Any]:
        rows = ledger.query("SELECT * FROM person WHERE psn_no = ?", psn_no)
        if not rows:
            raise HTTPException(404, f"no person {psn_no}")
        return _person_out(rows[0])

    @app.get("/admin/deliveries")
    def deliveries(msgid: str = "", infno: str = "") -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM delivery WHERE 1 = 1", list[str]()
        if msgid:
            sql, args = sql + " AND msgid = ?", [*args, msgid]
        if infno:
            sql, args = sql + " AND infno = ?", [*args, infno]
        return ledger.query(sql + " ORDER BY id", *args)

    @app.get("/admin/sign-ins")
    def sign_ins() -> list[dict[str, Any]]:
        return ledger.query("SELECT * FROM sign_in ORDER BY rowid")

    @app.get("/admin/faults")
    def pending_faults() -> dict[str, Any]:
        return {"pending": faults.pending(), "applied": list(faults.applied)}

    @app.post("/admin/faults", status_code=201)
    def inject(body: FaultIn) -> dict[str, Any]:
        try:
            faults.add(Fault(**body.model_dump()))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"pending": faults.pending()}

    @app.delete("/admin/faults")
    def clear_faults() -> dict[str, Any]:
        faults.clear()
        return {"pending": []}

    @app.get("/admin/policy")
    def get_policy() -> dict[str, Any]:
        return centre.policy.as_dict()

    @app.put("/admin/policy")
    def put_policy(body: PolicyIn) -> dict[str, Any]:
        current = centre.policy.as_dict()
        for key, value in body.model_dump(exclude_none=True).items():
            current[key] = value
        try:
            Policy(fund_ratio={k: wire.to_decimal(v) for k, v in current["fund_ratio"].items()},
                   yi_selfpay_ratio=wire.to_decimal(current["yi_selfpay_ratio"]))
        except wire.WireFormatError as exc:
            raise HTTPException(422, str(exc)) from exc
        ledger.set_setting("policy", current)
        return centre.policy.as_dict()

    @app.put("/admin/settings")
    def put_settings(body: SettingsIn) -> dict[str, Any]:
        for key, value in body.model_dump(exclude_none=True).items():
            ledger.set_setting(key, value)
        return {"wire_style": centre.wire_style, "chrgitm_lv_style": centre.chrgitm_lv_style,
                "amount_places": centre.amount_places, "hmac": bool(ledger.setting("hmac_secrets", {}))}

    @app.post("/admin/directory", status_code=201)
    def add_directory(entries: list[DirectoryEntry]) -> dict[str, Any]:
        with ledger.transaction() as db:
            for e in entries:
                category = chrgitm_lv_category(e.chrgitm_lv)
                if category is InsuranceCategory.NONE:
                    raise HTTPException(422, f"chrgitm_lv {e.chrgitm_lv!r}: use 01/1 甲, 02/2 乙, 03/3 丙")
                db.execute("INSERT OR REPLACE INTO directory (code, category) VALUES (?, ?)", (e.code, category.value))
                if e.traced is not None:
                    db.execute("INSERT OR REPLACE INTO directory_trace (code, traced) VALUES (?, ?)", (e.code, int(e.traced)))
        for e in entries:
            directory.add(e.code, chrgitm_lv_category(e.chrgitm_lv), e.traced)
        return {"added": len(entries)}

    @app.post("/admin/reset")
    def reset() -> dict[str, Any]:
        ledger.reset()
        faults.clear()
        fresh = Directory.from_demo_catalog()
        directory.__dict__.update(fresh.__dict__)
        return {"status": "reset"}

    return app


def _person_out(row: dict[str, Any]) -> dict[str, Any]:
    doc = wire.loads(row["doc"])
    return {**doc, "balc_fen": row["balc_fen"], "dedc_used_fen": row["dedc_used_fen"], "dedc_year": row["dedc_year"]}
