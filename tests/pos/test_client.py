"""The till's API client against a scripted transport: errors carry the rule, completions are retried."""

from __future__ import annotations

import asyncio
import json
from zoneinfo import ZoneInfo

import httpx
import pytest

from pos.client import ServiceError, ServiceUnavailable, TillClient
from pos.format import local_hhmm, parse_yuan, yuan

SALE_ID = "0b7e4a52-5d0e-4a8e-9a8b-6f3f0c1d2e3f"


def test_a_refusal_carries_the_rule_and_both_messages() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"code": "GSP-06", "message_zh": "冰糖雪梨膏 批号 L6 因质量问题停售",
                                         "message_en": "batch stopped", "details": {"batch": "B-ICE-1"}})

    async def body() -> None:
        client = TillClient("http://till.test", transport=httpx.MockTransport(answer))
        with pytest.raises(ServiceError) as refused:
            await client.add_line(SALE_ID, barcode="6904567890125")
        assert (refused.value.code, refused.value.status) == ("GSP-06", 409)
        assert "停售" in refused.value.message_zh and refused.value.details == {"batch": "B-ICE-1"}
        await client.aclose()

    asyncio.run(body())


def test_no_connection_is_service_unavailable_and_reported() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    seen: list[bool] = []

    async def body() -> None:
        client = TillClient("http://till.test", transport=httpx.MockTransport(answer), on_connection=seen.append)
        with pytest.raises(ServiceUnavailable) as down:
            await client.search("wss")
        assert down.value.not_sent
        assert not await client.health()
        await client.aclose()

    asyncio.run(body())
    assert seen == [False]


def test_a_completion_is_retried_with_the_same_sale_id_until_the_service_answers() -> None:
    calls: list[tuple[str, dict[str, object]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append((request.url.path, json.loads(request.content)))
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 2:
            raise httpx.ReadTimeout("no answer", request=request)  # sent; the answer was lost
        return httpx.Response(200, json={"id": SALE_ID, "status": "completed", "sale_no": "20261122-0001",
                                         "change_fen": 650, "replayed": True})

    retries: list[int] = []

    async def body() -> None:
        client = TillClient("http://till.test", transport=httpx.MockTransport(answer))
        tenders = [{"kind": "cash", "amount_fen": 1350, "tendered_fen": 2000}]
        done = await client.complete(SALE_ID, tenders, retry_delay=0.01, on_retry=retries.append)
        assert done["sale_no"] == "20261122-0001"
        await client.aclose()

    asyncio.run(body())
    assert retries == [1, 2]
    assert [path for path, _ in calls] == [f"/sales/{SALE_ID}/complete"] * 3
    assert all(b == calls[0][1] for _, b in calls)


def test_money_is_shown_and_read_in_yuan() -> None:
    assert [yuan(0), yuan(350), yuan(1650), yuan(-5)] == ["0.00", "3.50", "16.50", "-0.05"]
    assert [parse_yuan("20"), parse_yuan("20.5"), parse_yuan(" 20.05 ")] == [2000, 2050, 2005]
    assert parse_yuan("abc") is None and parse_yuan("1.234") is None and parse_yuan("") is None


def test_service_times_are_shown_on_the_store_clock() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert local_hhmm("2026-11-22T01:26:00", shanghai) == "09:26"  # naive from the service: UTC
    assert local_hhmm("2026-11-22T01:26:00+00:00", shanghai) == "09:26"


def test_the_event_stream_is_reopened_after_a_drop_with_the_last_event_id() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Last-Event-ID"))
        if len(seen) == 1:  # two events, then the connection drops
            body = ('retry: 1000\n\nevent: state\ndata: {"name":"printer","ok":false,"text":"缺纸"}\n\n'
                    'id: 7\nevent: scan\ndata: {"code":"6902345678903","kind":"gtin"}\n\n')
        else:
            body = 'id: 8\nevent: scan\ndata: {"code":"6903456789014","kind":"gtin"}\n\n'
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())

    async def body() -> list[tuple[str, dict[str, object]]]:
        client = TillClient("http://till.test", transport=httpx.MockTransport(answer))
        client.token = "t"
        got = []
        async for event in client.events(retry_delay=0.01):
            got.append(event)
            if len(got) == 3:
                break
        await client.aclose()
        return got

    got = asyncio.run(body())
    assert [kind for kind, _ in got] == ["state", "scan", "scan"]
    assert got[0][1] == {"name": "printer", "ok": False, "text": "缺纸"}
    assert seen == [None, "7"]  # resumed after the last event it had


def test_a_lost_token_tells_the_app_once_and_ends_the_event_stream() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": "AUTH", "message_zh": "登录已失效，请重新登录", "message_en": "expired"})

    lost: list[bool] = []

    async def body() -> None:
        client = TillClient("http://till.test", transport=httpx.MockTransport(answer),
                            on_unauthorized=lambda: lost.append(True))
        client.token = "t"
        with pytest.raises(ServiceError) as refused:
            await client.get_sale(SALE_ID)
        assert refused.value.code == "AUTH" and client.token is None
        client.token = "t2"
        assert [e async for e in client.events(retry_delay=0.01)] == []  # 401 on the stream: it ends
        await client.aclose()

    asyncio.run(body())
    assert lost == [True, True]
