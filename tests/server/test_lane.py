"""The till's hot lane (server.api.lane): it serves the routes marked @hot — the scan and the payment — on their
happy path with the
same answers as the full routes, and passes everything else on untouched, to be answered as routed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Query, Response
from pydantic_core import PydanticUndefined
from sqlalchemy import Engine
from sqlmodel import col, select

from server import audit
from server.api import lane
from server.api import run as runner
from server.db import sqlite as db_sqlite
from server.db.models import AuditEntry, PrintJob
from server.db.uow import core_unit, read_session
from server.services.context import Ctx
from tests.conftest import BARCODE_AMOX, BARCODE_ICE, BARCODE_VITC, Shop, login, prescribe, service_state, sqlite_file
from tests.server.test_trace_codes import CODE1, trace, traced


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the hot lane served itself, in order, by handler ("scan", "pay")."""
    seen: list[str] = []
    real = lane._call

    async def counted(hot_lane: Any, *args: Any) -> bytes:
        seen.append(hot_lane.name)
        return await real(hot_lane, *args)

    monkeypatch.setattr(lane, "_call", counted)
    yield seen


def open_sale(shop: Shop) -> str:
    sid = str(uuid.uuid4())
    r = shop["client"].post("/sales", json={"id": sid}, headers=shop["cashier"])
    assert r.status_code == 201, r.text
    return sid


def test_scan_and_payment_are_served_with_the_full_routes_answers(shop: Shop, served: list[str]) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = open_sale(shop)
    r = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 2}, headers=h)
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    assert r.json() == c.get(f"/sales/{sid}", headers=h).json()  # the basket exactly as the full route reads it
    assert r.json()["total_fen"] == 700
    r = c.post(f"/sales/{sid.upper()}/complete",  # the id as the full route admits it: any case
               json={"tenders": [{"kind": "cash", "amount_fen": 700, "tendered_fen": 1000}]}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "completed" and r.json()["change_fen"] == 300
    assert r.json() == c.get(f"/sales/{sid}", headers=h).json()
    assert served == ["scan", "pay"]


def test_a_barcode_typed_in_full_width_digits_is_the_same_barcode(shop: Shop, served: list[str]) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = open_sale(shop)
    wide = BARCODE_VITC.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})  # as a Chinese IME types it
    assert wide != BARCODE_VITC
    r = c.post(f"/sales/{sid}/lines", json={"barcode": wide}, headers=h)
    assert r.status_code == 201, r.text
    assert [(ln["name"], ln["qty"]) for ln in r.json()["lines"]] == [("维生素C片", 1)]


@pytest.mark.refuses("CARD-06")
def test_a_refusal_on_the_fast_path_has_the_canonical_body(shop: Shop, served: list[str]) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = open_sale(shop)
    r = c.post(f"/sales/{sid}/lines", json={"barcode": "6900000000007"}, headers=h)
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    assert "6900000000007" in r.json()["message_zh"] and r.json()["details"] == {"barcode": "6900000000007"}
    # a mistyped code is told apart from an unknown one: its check digit is wrong, and the right one named
    r = c.post(f"/sales/{sid}/lines", json={"barcode": "6900000000002"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "CODE-GTIN"
    assert "校验位错误：应为 7" in r.json()["message_zh"] and r.json()["details"]["expected_check_digit"] == 7
    r = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 1}]}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "SALE-EMPTY"
    # logged in away from a till: CARD-06, raised by the shared use case, answered the same way
    pharmacist_off_till = login(c, "u_pharmacist", "2222")
    r = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC}, headers=pharmacist_off_till)
    assert r.status_code == 403 and r.json()["code"] == "CARD-06"
    assert served == ["scan", "scan", "pay", "scan"]


@pytest.mark.refuses("SEC-01", "CARD-03")
@pytest.mark.parametrize("case", ["no token", "unknown token", "post may not sell", "invalid body", "extra field",
                                  "not json", "json lines", "large body", "first authorization not bearer"])
def test_what_the_fast_path_does_not_serve_is_answered_as_routed(shop: Shop, served: list[str],
                                                                 case: str) -> None:
    c = shop["client"]
    sid = open_sale(shop)
    headers = dict(shop["cashier"])
    body: dict[str, Any] = {"barcode": BARCODE_VITC, "qty": 1}
    expected = {"no token": (401, "AUTH"), "unknown token": (401, "AUTH"), "post may not sell": (403, "SEC-01"),
                "invalid body": (422, "VALIDATION"), "extra field": (422, "VALIDATION"),
                "not json": (422, "VALIDATION"), "json lines": (422, "VALIDATION"), "large body": (422, "VALIDATION"),
                "first authorization not bearer": (401, "AUTH")}[case]
    if case == "no token":
        del headers["Authorization"]
    elif case == "unknown token":
        headers["Authorization"] = "Bearer " + "x" * 43
    elif case == "post may not sell":
        headers = shop["manager"]
    elif case == "invalid body":
        body = {"barcode": BARCODE_VITC, "qty": 0}
    elif case == "extra field":
        body |= {"unit_price_fen": 1}  # a till never sets a price (CARD-03)
    elif case == "large body":
        body |= {"note": "x" * 20_000}
    if case in ("not json", "json lines"):
        r = c.post(f"/sales/{sid}/lines", content=b'{"barcode": "%s"}' % BARCODE_VITC.encode(),
                   headers=headers | {"Content-Type": "text/plain" if case == "not json" else "application/jsonl"})
    elif case == "first authorization not bearer":  # the header is read from its first occurrence, as routed
        r = c.post(f"/sales/{sid}/lines", json=body, headers=[("Authorization", "Basic dTpw"),
                                                              ("Authorization", headers["Authorization"])])
    else:
        r = c.post(f"/sales/{sid}/lines", json=body, headers=headers)
    assert (r.status_code, r.json()["code"]) == expected, r.text
    assert served == []  # answered by the full route
    assert c.get(f"/sales/{sid}", headers=shop["cashier"]).json()["lines"] == []  # and nothing was written


def test_a_body_in_pieces_is_read_whole_and_replayed_as_it_came() -> None:
    pieces: list[dict[str, Any]] = [{"type": "http.request", "body": b'{"barcode": ', "more_body": True},
                                    {"type": "http.request", "body": b'"6902345678903"}', "more_body": False},
                                    {"type": "http.disconnect"}]
    queue = list(pieces)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    async def run() -> tuple[list[Any], bytes | None, list[Any]]:
        messages, body = await lane._read_body(receive)
        replay = lane._replay(messages, receive)
        return messages, body, [await replay() for _ in range(3)]

    _, body, replayed = asyncio.run(run())
    assert body == b'{"barcode": "6902345678903"}'
    assert replayed == pieces  # the two pieces as they came, then what the client sent next


def test_a_body_over_the_limit_or_cut_short_is_not_read_as_whole() -> None:
    async def read(pieces: list[dict[str, Any]]) -> tuple[int, bytes | None]:
        queue = list(pieces)

        async def receive() -> dict[str, Any]:
            return queue.pop(0)

        messages, body = await lane._read_body(receive)
        return len(messages), body

    big = [{"type": "http.request", "body": b"x" * 10_000, "more_body": True}] * 3
    assert asyncio.run(read(big)) == (2, None)  # stopped reading at the limit; the rest stays with the client
    assert asyncio.run(read([{"type": "http.request", "body": b"{", "more_body": True},
                             {"type": "http.disconnect"}])) == (2, None)


# --- where a scan runs: on the event loop when the writer is free, else in a worker thread ---------------

@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The handlers sent to the threadpool, by name ("scan", "pay"), whichever door they came through."""
    # Where a request runs is asked here, not how fast this machine's disk is: any disk counts as quick
    # (the slow-disk test sets the limit back to nothing).
    monkeypatch.setattr(db_sqlite, "LOOP_DURABLE_COMMIT_LIMIT_S", 60.0)
    sent: list[str] = []
    real = runner.run_in_threadpool

    async def counted(fn: Any, *args: Any) -> Any:
        sent.append(fn.__name__)
        return await real(fn, *args)

    monkeypatch.setattr(runner, "run_in_threadpool", counted)
    return sent


def _post_in_background(shop: Shop, path: str, body: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(shop["client"].post(path, json=body, headers=shop["cashier"])))
    thread.start()
    return thread, out


def _scan_in_background(shop: Shop, sid: str) -> tuple[threading.Thread, list[Any]]:
    return _post_in_background(shop, f"/sales/{sid}/lines", {"barcode": BARCODE_VITC, "qty": 1})


@contextmanager
def _another_writer(engine: Any) -> Iterator[None]:
    """Another unit of work of the service holding the writer's lock until the block ends."""
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with core_unit(engine):
            holding.set()
            release.wait(10)

    held = threading.Thread(target=writer)
    held.start()
    assert holding.wait(5)
    try:
        yield
    finally:
        release.set()
        held.join(5)


def _health_while_waiting(shop: Shop, thread: threading.Thread) -> float:
    """Seconds GET /health takes while the scan waits for the writer: the event loop is not blocked."""
    time.sleep(0.2)
    assert thread.is_alive()  # the scan is still waiting for the lock
    t0 = time.perf_counter()
    assert shop["client"].get("/health").status_code == 200
    return time.perf_counter() - t0


def _basket_after_one_scan(shop: Shop, sid: str, out: list[Any]) -> None:
    assert out[0].status_code == 201, out[0].text
    sale = shop["client"].get(f"/sales/{sid}", headers=shop["cashier"]).json()
    assert [(ln["qty"], ln["amount_fen"]) for ln in sale["lines"]] == [(1, 350)] and sale["total_fen"] == 350


def _completions(state: Any, sid: str) -> int:
    """The sale's completion entries in the audit log (one, whoever served it), the chain verified."""
    with read_session(state.engine) as s:
        assert audit.verify(s, state.store_id).ok
        return len(s.exec(select(AuditEntry).where(AuditEntry.action == "sale.complete",
                                                   AuditEntry.entity_id == sid)).all())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_scan_and_a_cash_payment_run_on_the_event_loop(shop: Shop, hops: list[str]) -> None:
    c, h = shop["client"], shop["cashier"]
    state = service_state(c)
    sid = open_sale(shop)
    assert c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 2}, headers=h).status_code == 201
    r = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 700}]}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert hops == []  # served where they arrived: no hop to a worker thread and back
    assert r.json() == c.get(f"/sales/{sid}", headers=h).json()
    assert _completions(state, sid) == 1
    with read_session(state.engine) as s:  # the drawer's kick and the receipt queued with the sale, as in a worker
        assert [j.kind for j in s.exec(select(PrintJob).where(PrintJob.ref == sid))] == ["drawer", "receipt"]
    again = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 700}]}, headers=h)
    assert again.status_code == 200 and again.json()["replayed"] is True  # a retry: its answer needs the ORM
    assert hops == ["pay"] and again.json() | {"replayed": False} == r.json()
    assert _completions(state, sid) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_payment_that_needs_the_orm_is_done_in_a_worker_once(shop: Shop, engine: Engine, ctx: Ctx,
                                                               hops: list[str]) -> None:
    """An Rx sale's checks (RX-01/04/10) and a traced drug's codes are read through the ORM, which the event
    loop's unit of work does not have: such a payment is given up on the loop, nothing kept, and done once in
    a worker."""
    c, h = shop["client"], shop["cashier"]
    state = service_state(c)
    rx_sale = open_sale(shop)
    assert c.post(f"/sales/{rx_sale}/lines", json={"barcode": BARCODE_AMOX, "qty": 1}, headers=h).status_code == 201
    rx = prescribe(shop, rx_sale, [(shop["items"]["amox"], 1, False)])
    r = c.post(f"/sales/{rx_sale}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 1250}]}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert hops == ["pay"] and _completions(state, rx_sale) == 1
    assert c.get(f"/prescriptions/{rx['id']}", headers=h).json()["lines"][0]["remaining_base"] == 0
    traced(engine, ctx, shop["items"]["vitc"])
    traced_sale = open_sale(shop)
    line = c.post(f"/sales/{traced_sale}/lines", json={"barcode": BARCODE_VITC}, headers=h).json()["lines"][0]
    assert trace(shop, traced_sale, line["id"], CODE1).status_code == 201
    r = c.post(f"/sales/{traced_sale}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 350}]}, headers=h)
    assert r.status_code == 200 and r.json()["lines"][0]["trace_codes"] == [CODE1], r.text
    assert hops == ["pay", "pay"] and _completions(state, traced_sale) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_refused_payment_on_the_event_loop_keeps_nothing(shop: Shop, hops: list[str]) -> None:
    c, h = shop["client"], shop["cashier"]
    state = service_state(c)
    sid = open_sale(shop)
    c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 2}, headers=h)
    short = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 600}]}, headers=h)
    assert short.status_code == 422 and short.json()["code"] == "TENDER-SUM", short.text
    assert hops == []  # refused on the loop: the tenders are checked from what it read
    assert c.get(f"/sales/{sid}", headers=h).json()["status"] == "open" and _completions(state, sid) == 0
    r = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 700}]}, headers=h)
    assert r.status_code == 200 and r.json()["sale_no"].endswith("-0001")  # the refusal took no number


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_a_slow_disk_payments_commit_in_a_worker(shop: Shop, hops: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The event loop waits for a durable commit only while the disk answers quickly (loop_may_wait)."""
    c, h = shop["client"], shop["cashier"]
    monkeypatch.setattr(db_sqlite, "LOOP_DURABLE_COMMIT_LIMIT_S", 0.0)  # no commit is that quick
    sid = open_sale(shop)
    c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC}, headers=h)
    r = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 350}]}, headers=h)
    assert r.status_code == 200 and hops == ["pay"]  # the scan stays on the loop: its commit does not wait


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_payment_does_not_wait_on_the_event_loop_for_a_writer_of_this_process(shop: Shop,
                                                                               hops: list[str]) -> None:
    c, h = shop["client"], shop["cashier"]
    state = service_state(c)
    sid = open_sale(shop)
    c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC}, headers=h)
    with _another_writer(state.engine):
        pay, out = _post_in_background(shop, f"/sales/{sid}/complete", {"tenders": [{"kind": "cash", "amount_fen": 350}]})
        assert _health_while_waiting(shop, pay) < 0.5
    pay.join(10)
    assert out[0].status_code == 200 and out[0].json()["status"] == "completed", out[0].text
    assert hops == ["pay"] and _completions(state, sid) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_scan_does_not_wait_on_the_event_loop_for_a_writer_of_this_process(shop: Shop,
                                                                            hops: list[str]) -> None:
    state = service_state(shop["client"])
    sid = open_sale(shop)
    with _another_writer(state.engine):
        scan, out = _scan_in_background(shop, sid)
        assert _health_while_waiting(shop, scan) < 0.5
    scan.join(10)
    _basket_after_one_scan(shop, sid, out)
    assert hops == ["scan"]  # it waited for the lock in a worker thread


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_scan_does_not_wait_on_the_event_loop_for_another_process_writing(shop: Shop,
                                                                           hops: list[str]) -> None:
    state = service_state(shop["client"])
    sid = open_sale(shop)
    other = sqlite3.connect(sqlite_file(state.engine), isolation_level=None)  # e.g. a CLI command writing
    other.execute("BEGIN IMMEDIATE")
    scan, out = _scan_in_background(shop, sid)
    try:
        assert _health_while_waiting(shop, scan) < 0.5
    finally:
        other.execute("ROLLBACK")
        other.close()
        scan.join(10)
    _basket_after_one_scan(shop, sid, out)  # tried on the event loop, refused at once, done once in a worker
    assert hops == ["scan"]
    with read_session(state.engine) as s:  # one audit entry for the one line, and the chain holds
        assert audit.verify(s, state.store_id).ok
        assert len(s.exec(select(AuditEntry).where(AuditEntry.action == "sale.line_add",
                                                   col(AuditEntry.after)["sale_id"].as_string() == sid)).all()) == 1


@pytest.mark.refuses("GSP-06")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_refusal_worded_from_full_reads_is_done_again_in_a_worker(shop: Shop, hops: list[str]) -> None:
    """The stock refusal names the batches and what is sellable, read through the ORM, which the event loop's
    unit of work does not have: that scan is given up on the loop and done once more in a worker thread. (It
    is refused before anything is written; that a unit given up on the loop keeps nothing is
    test_prepared's test_the_loops_unit_of_work_commits_or_writes_nothing.)"""
    c, h = shop["client"], shop["cashier"]
    state = service_state(c)
    sid = open_sale(shop)
    r = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 10_000}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "STOCK", r.text
    assert r.json()["details"]["requested"] == 10_000 and 0 < r.json()["details"]["available"] < 10_000
    r = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_ICE}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "GSP-06", r.text  # its only batch is stopped
    assert hops == ["scan", "scan"]
    sale = c.get(f"/sales/{sid}", headers=h).json()
    assert sale["lines"] == [] and sale["total_fen"] == 0
    with read_session(state.engine) as s:
        assert audit.verify(s, state.store_id).ok
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "sale.line_add",
                                               col(AuditEntry.after)["sale_id"].as_string() == sid)).all() == []
    r = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 2}, headers=h)
    assert r.status_code == 201 and hops == ["scan", "scan"]  # the happy path stays on the loop


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_scan_into_a_basket_of_traced_drugs_answers_with_their_codes_from_the_loop(shop: Shop, engine: Engine,
                                                                                     ctx: Ctx, hops: list[str]) -> None:
    traced(engine, ctx, shop["items"]["vitc"])
    c, h = shop["client"], shop["cashier"]
    sid = open_sale(shop)
    line = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 1}, headers=h).json()["lines"][0]
    assert trace(shop, sid, line["id"], CODE1).status_code == 201
    r = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 1}, headers=h)
    assert r.status_code == 201 and r.json()["lines"][0]["trace_codes"] == [CODE1] and r.json()["lines"][0]["qty"] == 2
    assert r.json() == c.get(f"/sales/{sid}", headers=h).json()
    assert hops == []  # both scans on the event loop


def test_the_lane_is_read_off_the_routes_marked_hot(shop: Shop) -> None:
    """Path, method, status, permission and models are the routes' own: nothing is declared twice."""
    from fastapi.routing import APIRoute

    from server.api import selling
    from server.permissions import Action

    app = shop["client"].app
    assert isinstance(app, FastAPI)
    lanes = {x.name: x for x in lane.lanes_of(app.routes)}
    assert set(lanes) == {"scan", "pay", "find"}
    find = lanes["find"]  # the catalog search: a GET, no body, its query parameters the route's own
    assert (find.method, find.status, find.action, find.body, find.hot.durable) == ("GET", 200, Action.CATALOG_READ,
                                                                                     None, False)
    assert [(q.alias, q.required, q.default) for q in find.query] == [("q", True, PydanticUndefined),
                                                                      ("limit", False, 20)]
    assert lanes["scan"].query == lanes["pay"].query == ()
    routes = {r.endpoint: r for r, _ in lane._api_routes(app.routes) if isinstance(r, APIRoute)}
    for endpoint, name in ((selling.add_line, "scan"), (selling.complete, "pay")):
        route, hot_lane = routes[endpoint], lanes[name]
        assert route.methods
        assert (hot_lane.method, hot_lane.path, hot_lane.status) == (next(iter(route.methods)), route.path_regex,
                                                                      route.status_code or 200)
        assert hot_lane.action is Action.SELL and route.openapi_extra and route.openapi_extra["x-action"] == Action.SELL.value
    assert (lanes["scan"].status, lanes["pay"].status) == (201, 200)
    assert (lanes["scan"].hot.durable, lanes["pay"].hot.durable) == (False, True)
    assert lanes["scan"].path.match("/sales/not-a-uuid/lines")  # the path matches; its parameter does not validate:
    r = shop["client"].post("/sales/not-a-uuid/lines", json={"barcode": BARCODE_VITC}, headers=shop["cashier"])
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION"  # ...so the full route answered it


def _reads_query(page: int = 1) -> int:
    return page


# Hot routes the lane can read (the first) and those it cannot, refused at start-up (annotations resolved at
# module level, as the lane reads them).
async def _get_ok(q: Annotated[str, Query(max_length=5)], n: int = 3) -> Response:
    raise AssertionError


async def _get_with_body(body: dict[str, int]) -> Response:
    raise AssertionError


async def _post_without_body(q: str) -> Response:
    raise AssertionError


async def _get_a_list(q: Annotated[list[str], Query()]) -> Response:
    raise AssertionError


async def _get_by_another_name(q: Annotated[str, Query(validation_alias="query")]) -> Response:
    raise AssertionError


async def _get_reading_the_query_in_a_dependency(page: Annotated[int, Depends(_reads_query)]) -> Response:
    raise AssertionError


def test_a_hot_route_the_lane_could_not_read_as_routed_is_refused_at_start_up() -> None:
    from server.api.deps import guarded
    from server.permissions import Action

    def handler(*_: Any, on_loop: bool = False) -> bytes:
        return b"[]"

    def lanes_of_one(method: str, endpoint: Any) -> list[Any]:
        app = FastAPI()
        app.add_api_route("/x", lane.hot(handler, durable=False)(endpoint), methods=[method],
                          **guarded(Action.CATALOG_READ))
        return lane.lanes_of(app.routes)

    [ok] = lanes_of_one("GET", _get_ok)
    assert [(q.alias, q.required, q.default) for q in ok.query] == [("q", True, PydanticUndefined), ("n", False, 3)]
    for method, endpoint in (("GET", _get_with_body), ("POST", _post_without_body), ("GET", _get_a_list),
                             ("GET", _get_by_another_name), ("GET", _get_reading_the_query_in_a_dependency)):
        with pytest.raises(TypeError, match="hot route /x"):
            lanes_of_one(method, endpoint)


def test_a_refused_input_is_said_in_chinese_and_malformed_json_names_no_offset_as_a_field(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = open_sale(shop)
    r = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 0}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION"
    assert r.json()["message_zh"] == "输入有误：数量不能小于 1", r.json()
    assert r.json()["details"]["errors"][0]["field"] == "qty"  # the field's own name stays for a program
    r = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": "x"}]}, headers=h)
    assert r.json()["message_zh"] == "输入有误：支付方式第1项的金额须为整数", r.json()
    r = c.post(f"/sales/{sid}/lines", content=b'{"barcode": "69', headers=h | {"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["details"]["errors"][0]["field"] == "body"
    assert r.json()["message_zh"].startswith("输入有误：请求内容不是有效的 JSON（第 "), r.json()
