"""The till's API client: one keep-alive httpx connection to the service, plain dicts in and out.

The till never decides anything itself; every method sends an intent and returns the service's answer
(a SaleOut, a ShiftOut … as JSON). Errors come back as ServiceError (the service refused: rule ID and
messages) or ServiceUnavailable (no answer at all). A 401 on a session that was logged in means the token
is gone (expired, revoked, the account frozen): `on_unauthorized` tells the app, which asks for the login.

`events()` follows the till's event stream (server-sent events: device and link states, serial scans) on a
second connection, reconnecting with `Last-Event-ID` after a drop so no scan published meanwhile is lost.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from httpx_sse import SSEError, aconnect_sse

Json = dict[str, Any]
GRANT_HEADER = "X-Grant"  # an authorisation in place (POST /auth/authorise), for the one request it was given for
SECOND_HEADER = "X-Second"  # a second person's check (POST /auth/authorise, second): their PIN never in a request


def _granted(grant: str | None, second: str | None = None) -> dict[str, Any]:
    """The call's extra keyword: the grants' headers, when someone authorised the call in place (`grant`) or
    checked it as the second person (`second`)."""
    headers = ({GRANT_HEADER: grant} if grant else {}) | ({SECOND_HEADER: second} if second else {})
    return {"headers": headers} if headers else {}

# Gateways in front of the service answer these while it restarts; nothing was done, so a retry is safe.
RETRYABLE_STATUS = {502, 503, 504}
# The service sends a keep-alive comment every 15 s: a stream silent for longer than this is dead.
EVENTS_READ_TIMEOUT = 40.0


class TillCallFailed(Exception):
    """Any call that did not do what was asked; `text_zh` is what the cashier is shown."""

    text_zh = "无法连接收银服务，请稍后重试"


class ServiceError(TillCallFailed):
    """The service answered and refused: code is the rule ID (e.g. GSP-06) or a generic code."""

    def __init__(self, status: int, code: str, message_zh: str, message_en: str, details: Json | None = None):
        super().__init__(f"[{code}] {message_en}")
        self.status = status
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details or {}
        self.text_zh = _all_zh(code, message_zh, self.details)


class ServiceUnavailable(TillCallFailed):
    """No answer from the service (connection refused, reset, timed out)."""

    def __init__(self, cause: Exception):
        super().__init__(f"service unavailable: {cause!r}")
        self.cause = cause
        # A connect error means the request never left: repeating it cannot double anything.
        self.not_sent = isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)


def _all_zh(code: str, message_zh: str, details: Json) -> str:
    """The rule ID and the Chinese message; every violation when the service listed several (e.g. RX-02 + RX-07)."""
    more = details.get("violations")
    if isinstance(more, list) and len(more) > 1:
        return "；".join(f"[{v.get('code', code)}] {v.get('message_zh', '')}" for v in more if isinstance(v, dict))
    return f"[{code}] {message_zh}"


def _error_of(response: httpx.Response) -> ServiceError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ServiceError(response.status_code, str(body.get("code", f"HTTP_{response.status_code}")),
                        str(body.get("message_zh", "服务返回错误")), str(body.get("message_en", response.text[:200])),
                        body.get("details") if isinstance(body.get("details"), dict) else None)


class TillClient:
    def __init__(self, base_url: str, timeout: float = 10.0,
                 on_connection: Callable[[bool], None] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 on_unauthorized: Callable[[], None] | None = None):
        self.base_url = base_url
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        # The event stream holds its connection open: its own client, so it never waits for (or blocks) a call.
        self._stream_http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=httpx.Timeout(
            timeout, read=EVENTS_READ_TIMEOUT))
        self.on_connection = on_connection
        self.on_unauthorized = on_unauthorized
        self.connected: bool | None = None  # unknown until the first exchange
        self.user: Json | None = None
        self.token: str | None = None
        self.last_event_id: int | None = None

    @classmethod
    def for_settings(cls, settings: Any, **kwargs: Any) -> TillClient:
        """The service of this store's config (service.host / service.port)."""
        return cls(f"http://{settings.service.host}:{settings.service.port}", **kwargs)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._stream_http.aclose()

    def _seen(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            if self.on_connection is not None:
                self.on_connection(connected)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._send(method, path, **kwargs)
        return response.json() if response.content else None

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any route's JSON answer, with the errors every call has (the back office's screens: pos/office.py)."""
        return await self._call(method, path, **kwargs)

    async def download(self, path: str, params: dict[str, Any], timeout: float | None = None) -> tuple[bytes, str]:
        """A file the service makes (a report's XLSX or PDF): its bytes and the name the service gives it.
        `timeout`: a long report may take longer than a call."""
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        response = await self._send("GET", path, params=params, **extra)
        disposition = response.headers.get("content-disposition", "")
        name = disposition.partition('filename="')[2].rstrip('"') or path.rsplit("/", 1)[-1]
        return response.content, name

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            self._seen(False)
            raise ServiceUnavailable(exc) from exc
        self._seen(True)
        if response.status_code in RETRYABLE_STATUS:
            raise ServiceUnavailable(_error_of(response))
        if response.status_code == 401 and self.token is not None and path != "/auth/login":
            self._session_lost()
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def _session_lost(self) -> None:
        """The service no longer knows our token: forget it and let the app ask for the login again."""
        self.token = None
        self._http.headers.pop("Authorization", None)
        if self.on_unauthorized is not None:
            self.on_unauthorized()

    # --- connection and session -------------------------------------------------------------------

    async def health(self) -> bool:
        try:
            await self._call("GET", "/health")
        except (ServiceUnavailable, ServiceError):
            return False
        return True

    async def login(self, username: str, pin: str, till_code: str | None) -> Json:
        """A session at this till (`till_code`), or, for the back office in a browser, at none (None)."""
        out = await self._call("POST", "/auth/login", json={"username": username, "pin": pin, "till_code": till_code})
        self.token = out["token"]
        self._http.headers["Authorization"] = f"Bearer {out['token']}"
        self.user = out["user"]
        return out

    async def logout(self) -> None:
        """End this session at the service (the till is locked or changes hands); the token is forgotten whatever
        the answer, so nothing more is done in the name of the person who left."""
        try:
            if self.token is not None:
                await self._call("POST", "/auth/logout")
        finally:
            self.token, self.user = None, None
            self._http.headers.pop("Authorization", None)

    async def authorise(self, username: str, pin: str, action: str, subject: str, second: bool = False) -> Json:
        """Another post's holder authorises one action on one thing at this till (SEC-01): their username and
        PIN → a grant for that one request (`grant`), and who they are (`user`). `second`: they check the action
        as its second person (the grant then travels as X-Second)."""
        return await self._call("POST", "/auth/authorise", json={"username": username, "pin": pin, "action": action,
                                                                 "subject": subject, "second": second})

    async def till_status(self) -> Json:
        """The shift and the pharmacists on duty, for the status bar."""
        return await self._call("GET", "/till/status")

    async def current_shift(self) -> Json:
        return await self._call("GET", "/shifts/current")

    async def open_shift(self, float_fen: int) -> Json:
        return await self._call("POST", "/shifts", json={"float_fen": float_fen})

    async def close_shift(self, shift_id: int, counted_cash_fen: int) -> Json:
        """Close the shift with the cash counted in the drawer; the answer is the Z report."""
        return await self._call("POST", f"/shifts/{shift_id}/close", json={"counted_cash_fen": counted_cash_fen})

    async def shift_report(self, shift_id: int) -> Json:
        return await self._call("GET", f"/shifts/{shift_id}/report")

    async def duty_on(self, shift_id: int, grant: str | None = None) -> Json:
        return await self._call("POST", f"/shifts/{shift_id}/duty", **_granted(grant))

    async def duty_off(self, shift_id: int, grant: str | None = None) -> Json:
        return await self._call("DELETE", f"/shifts/{shift_id}/duty", **_granted(grant))

    # --- the sale ---------------------------------------------------------------------------------

    async def open_sale(self, sale_id: str | None = None) -> Json:
        """The till names the sale (uuid4) so that every later retry can say which sale it means."""
        return await self._call("POST", "/sales", json={"id": sale_id or str(uuid.uuid4())})

    async def get_sale(self, sale_id: str) -> Json:
        return await self._call("GET", f"/sales/{sale_id}")

    async def readiness(self, sale_id: str) -> Json:
        """May the sale be paid now: `ready`, and `missing`, every refusal its completion would give."""
        return await self._call("GET", f"/sales/{sale_id}/readiness")

    async def add_line(self, sale_id: str, *, barcode: str | None = None, item_id: int | None = None,
                       qty: int = 1, split: bool = False) -> Json:
        body: Json = {"qty": qty} | ({"barcode": barcode} if barcode is not None else {"item_id": item_id})
        if split:  # 拆零: qty in the item's split unit
            body["split"] = True
        return await self._call("POST", f"/sales/{sale_id}/lines", json=body)

    async def add_trace_code(self, sale_id: str, line_id: int, code: str) -> Json:
        return await self._call("POST", f"/sales/{sale_id}/lines/{line_id}/trace-codes", json={"code": code})

    async def set_qty(self, sale_id: str, line_id: int, qty: int) -> Json:
        return await self._call("PATCH", f"/sales/{sale_id}/lines/{line_id}", json={"qty": qty})

    async def remove_line(self, sale_id: str, line_id: int) -> Json:
        return await self._call("DELETE", f"/sales/{sale_id}/lines/{line_id}")

    async def suspend(self, sale_id: str) -> Json:
        return await self._call("POST", f"/sales/{sale_id}/suspend")

    async def resume(self, sale_id: str) -> Json:
        return await self._call("POST", f"/sales/{sale_id}/resume")

    async def suspended(self) -> list[Json]:
        return await self._call("GET", "/sales/suspended")

    async def void(self, sale_id: str, reason: str, grant: str | None = None, second: str | None = None) -> Json:
        """`grant`: a pharmacist authorised the void in place; `second`: above the store's amount, the second
        person's check (SEC-01)."""
        return await self._call("POST", f"/sales/{sale_id}/void", json={"reason": reason}, **_granted(grant, second))

    async def complete(self, sale_id: str, tenders: list[Json], *, retry_delay: float = 0.5,
                       max_delay: float = 5.0, on_retry: Callable[[int], None] | None = None) -> Json:
        """Complete the sale, retrying with the same sale id until the service answers.

        A completion whose answer was lost may or may not have happened; the service makes a repeated
        completion return the first result, so asking again is the way to find out (DESIGN: idempotent writes).
        """
        return await self._until_answered("POST", f"/sales/{sale_id}/complete", {"tenders": tenders},
                                          retry_delay, max_delay, on_retry)

    async def _until_answered(self, method: str, path: str, body: Json, retry_delay: float, max_delay: float,
                              on_retry: Callable[[int], None] | None, grant: str | None = None,
                              second: str | None = None) -> Any:
        attempt = 0
        delay = retry_delay
        while True:
            try:  # a retry carries the same grant: the service answers the request that spent it with its result
                return await self._call(method, path, json=body, **_granted(grant, second))
            except ServiceUnavailable:
                attempt += 1
                if on_retry is not None:
                    on_retry(attempt)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)

    # --- returns ----------------------------------------------------------------------------------

    async def returnable(self, sale_no: str) -> Json:
        """A past sale by its receipt number, with what is left to return of each line."""
        return await self._call("GET", f"/returns/for-sale/{sale_no}")

    async def create_return(self, return_id: str, sale_id: str, lines: list[Json], reason: str, to_quarantine: bool,
                            *, retry_delay: float = 0.5, max_delay: float = 5.0,
                            on_retry: Callable[[int], None] | None = None, grant: str | None = None,
                            second: str | None = None) -> Json:
        """A return (a refund) is retried with the same return id until answered, like a completion. On a later
        day, or above the store's amount, it needs a second person's check (SEC-01): their grant, `second`."""
        body = {"id": return_id, "sale_id": sale_id, "lines": lines, "reason": reason, "to_quarantine": to_quarantine}
        return await self._until_answered("POST", "/returns", body, retry_delay, max_delay, on_retry, grant, second)

    async def card_cancel(self, sale_id: str, return_id: str, reason: str, to_quarantine: bool, *,
                          retry_delay: float = 0.5, max_delay: float = 5.0,
                          on_retry: Callable[[int], None] | None = None, grant: str | None = None,
                          second: str | None = None) -> Json:
        """A card-paid sale back whole (CARD-04): 2103 cancels its settlement, then the return; retried with the
        same return id like a return. A later-day reversal needs a second person's check (`second`)."""
        body = {"return_id": return_id, "reason": reason, "to_quarantine": to_quarantine}
        return await self._until_answered("POST", f"/sales/{sale_id}/card/cancel", body, retry_delay, max_delay,
                                          on_retry, grant, second)

    # --- catalog ----------------------------------------------------------------------------------

    async def search(self, q: str, limit: int = 20) -> list[Json]:
        return await self._call("GET", "/items/search", params={"q": q, "limit": limit})

    # --- the insurance centre: sign-in and the card ------------------------------------------------

    async def insurance_status(self) -> Json:
        """Today's sign-in (9001) of the logged-in operator: `signed_in`, and who else is signed in."""
        return await self._call("GET", "/insurance/status")

    async def insurance_sign_in(self) -> Json:
        return await self._call("POST", "/insurance/sign-in", json={})

    async def identify(self, sale_id: str, body: Json) -> Json:
        """1101: who the card pays for (method card | reader | voucher | id); the snapshot, masked."""
        return await self._call("POST", f"/sales/{sale_id}/insured", json=body)

    async def card_split(self, sale_id: str) -> Json:
        return await self._call("GET", f"/sales/{sale_id}/card/split")

    async def card_preview(self, sale_id: str) -> Json:
        """2101: fund / personal account / cash of the card lines, and what is due otherwise. Books nothing."""
        return await self._call("POST", f"/sales/{sale_id}/card/preview", json={})

    async def card_signature(self, sale_id: str, how: str = "key") -> Json:
        """CARD-05: the insured person (or the proxy buyer) signed the purchase list shown; the snapshot, masked."""
        return await self._call("POST", f"/sales/{sale_id}/card/signature", json={"how": how})

    async def card_settle(self, sale_id: str, tenders: list[Json]) -> Json:
        """2102 with the completion; `tenders` pay the rest. Not repeated on a lost answer: the caller asks
        the sale's state instead (the service would replay a completed sale's settle, but a sale whose 2102
        is still in flight is "settling" and a second settle is refused)."""
        return await self._call("POST", f"/sales/{sale_id}/card/settle", json={"tenders": tenders})

    async def unresolved_settlements(self) -> list[Json]:
        return await self._call("GET", "/settlements/unresolved")

    async def resolve_settlement(self, settlement_id: int) -> Json:
        """2601 by msgid: afterwards the settlement is certainly not in effect (reversed), or still uncertain."""
        return await self._call("POST", f"/settlements/{settlement_id}/resolve")

    # --- printing ---------------------------------------------------------------------------------

    async def uncertain_prints(self) -> list[Json]:
        """This till's print jobs a crash of the service cut off (each with `what` it is)."""
        return await self._call("GET", "/print-jobs/uncertain")

    async def resolve_print(self, job_id: int, reprint: bool) -> Json:
        """The cashier's decision on a cut-off job: reprint it marked 重打, or not (it came out whole)."""
        return await self._call("POST", f"/print-jobs/{job_id}/resolve", json={"reprint": reprint})

    async def printed_paper(self, limit: int = 20) -> list[Json]:
        """What this till's simulated printer printed, newest first, as text (409 on a real printer)."""
        return await self._call("GET", "/devices/printer/paper", params={"limit": limit})

    async def reprint_receipt(self, sale_id: str) -> Json:
        return await self._call("POST", f"/sales/{sale_id}/receipt")

    # --- prescriptions ----------------------------------------------------------------------------

    async def institutions(self) -> list[Json]:
        return await self._call("GET", "/institutions")

    async def enter_prescription(self, body: Json) -> Json:
        return await self._call("POST", "/prescriptions", json=body)

    async def find_prescriptions(self, patient: str) -> list[Json]:
        return await self._call("GET", "/prescriptions", params={"patient": patient})

    async def get_prescription(self, rx_id: int) -> Json:
        return await self._call("GET", f"/prescriptions/{rx_id}")

    async def review_prescription(self, rx_id: int, body: Json, grant: str | None = None) -> Json:
        return await self._call("POST", f"/prescriptions/{rx_id}/review", json=body, **_granted(grant))

    async def tie_prescription(self, sale_id: str, rx_id: int) -> Json:
        return await self._call("POST", f"/sales/{sale_id}/prescription", json={"prescription_id": rx_id})

    async def download_eprx(self, qr: str = "", auth_rxno: str = "") -> Json:
        """The patient's electronic prescription code (or an auth_rxno the query listed) → the platform's
        prescription, on file (DownloadOut)."""
        return await self._call("POST", "/eprx/download", json={"qr": qr, "auth_rxno": auth_rxno})

    async def query_eprx(self, voucher: str) -> list[Json]:
        """7202: the insured person's prescriptions waiting at the platform, by their 医保电子凭证 (ListedOut)."""
        listed: list[Json] = await self._call("POST", "/eprx/query",
                                              json={"mdtrt_cert_type": "01", "mdtrt_cert_no": voucher})
        return listed

    async def review_eprx(self, rx_id: int, body: Json, grant: str | None = None) -> Json:
        """The review of a platform prescription, uploaded to it (EprxReviewOut: prescription, upload_error)."""
        return await self._call("POST", f"/eprx/prescriptions/{rx_id}/review", json=body, **_granted(grant))

    async def reject_reasons(self) -> list[Json]:
        """RX-05's fixed list of refusal reasons, with the labels the service prints."""
        return await self._call("GET", "/till/rx-reject-reasons")

    # --- the till's event stream ------------------------------------------------------------------

    async def events(self, retry_delay: float = 0.5, max_delay: float = 5.0) -> AsyncIterator[tuple[str, Json]]:
        """(kind, data) of every event for this till, for as long as the session lasts.

        A dropped stream is reopened with the last event id seen (backing off while the service is away), so
        the service replays what was published meanwhile. Ends when the session is gone (401).
        """
        delay = retry_delay
        while self.token is not None:
            headers = {"Authorization": f"Bearer {self.token}"}
            if self.last_event_id is not None:
                headers["Last-Event-ID"] = str(self.last_event_id)
            try:
                async with aconnect_sse(self._stream_http, "GET", "/events", headers=headers) as source:
                    response = source.response
                    if response.status_code == 401:
                        self._session_lost()
                        return
                    if response.status_code < 400:
                        self._seen(True)
                        delay = retry_delay
                        async for sse in source.aiter_sse():
                            if sse.id.isdigit():
                                self.last_event_id = int(sse.id)
                            if sse.data:  # the stream's opening `retry:` frame carries no event
                                yield sse.event or "message", json.loads(sse.data)
            except (httpx.TransportError, SSEError, ValueError):
                pass  # reopened below; the calls and the ping report the connection state
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
