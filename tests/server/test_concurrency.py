"""Tills racing each other against a running service (uvicorn in a subprocess), on both backends.

The database is seeded first (seed_shop, the users, more tills and items); then `dingdian serve` runs on
a free port and httpx clients in threads play the tills, released together by a barrier: the last unit is
sold once, a load of small sales never oversells and numbers its receipts without gaps, and a suspended
sale resumed and paid on two tills at once goes to exactly one of them.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from server.config import Settings
from server.db.models.base import id_of
from server.db.uow import core_unit
from server.roles import Role
from server.services import sales_ledger
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.stock import batches as stock
from server.services.store.profile import register_till
from server.services.store.users import add_user
from tests.conftest import ROLE_PINS, add_role_users, seed_shop
from tests.service import start_service

pytestmark = pytest.mark.slow

CASHIER_PIN = "5555"
CASHIERS = {"T01": ("u_cashier", ROLE_PINS["cashier"]), "T02": ("u_cashier2", CASHIER_PIN),
            "T03": ("u_cashier3", CASHIER_PIN), "T04": ("u_cashier4", CASHIER_PIN)}
LOAD_STOCK = (25, 35)  # the load item's two batches: the first expires sooner and must empty first
OWN_STOCK = 400
LAST_ROUNDS = 3


def _seed(engine: Engine, ctx: Ctx) -> dict[str, Any]:
    """The shop of conftest, tills T03/T04, a cashier per till, and the items the races are run on."""
    items: dict[str, Any] = seed_shop(engine, ctx)
    add_role_users(engine, ctx)
    today, made = ctx.today, ctx.today - timedelta(days=400)
    with core_unit(engine) as u:
        register_till(u, ctx, "T03", "3号台", "")
        register_till(u, ctx, "T04", "4号台", "")
        for till in ("T02", "T03", "T04"):
            add_user(u, ctx, CASHIERS[till][0], f"收银员{till}", CASHIER_PIN, {Role.CASHIER})

        def item(code: str, name: str) -> int:
            values = {"code": code, "name": name, "spec": "0.1g*100片", "approval_no": "国药准字H7",
                      "gsp_class": "otc_b", "route": "internal", "price_fen": 100}
            created = catalog_service.create_item(u, ctx, values, [], "Z-OTC")
            u.flush()
            return id_of(created)

        items["last"] = []
        for n in range(LAST_ROUNDS):  # exactly one unit each
            items["last"].append(item(f"LAST{n}", f"最后一盒{n}"))
            stock.add_opening_batch(u, ctx, items["last"][-1], None, f"B-LAST-{n}", "L", made,
                                    today + timedelta(days=100), 50, 1)
        items["load"] = item("LOAD01", "限量片")
        soon = stock.add_opening_batch(u, ctx, items["load"], None, "B-LOAD-SOON", "L", made,
                                       today + timedelta(days=20), 50, LOAD_STOCK[0])
        late = stock.add_opening_batch(u, ctx, items["load"], None, "B-LOAD-LATE", "L", made,
                                       today + timedelta(days=600), 50, LOAD_STOCK[1])
        items["load_batches"] = (soon.id, late.id)
        items["own"] = {}
        for till in CASHIERS:  # an item each till sells alone: its completions then contend for nothing
            items["own"][till] = item(f"OWN{till}", f"常备片{till}")  # but the receipt number
            stock.add_opening_batch(u, ctx, items["own"][till], None, f"B-OWN-{till}", "L", made,
                                    today + timedelta(days=300), 50, OWN_STOCK)
    return items


@dataclass
class Service:
    base: str
    engine: Engine
    items: dict[str, Any]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self) -> httpx.Client:
        c = httpx.Client(base_url=self.base, timeout=60)
        self.clients.append(c)
        return c

    def login(self, username: str, pin: str, till_code: str | None = None) -> Till:
        c = self.client()
        body = {"username": username, "pin": pin} | ({"till_code": till_code} if till_code else {})
        r = c.post("/auth/login", json=body)
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['token']}"
        return Till(till_code or "", c)

    def till(self, code: str) -> Till:
        """A till with its cashier logged in and its shift open."""
        till = self.login(*CASHIERS[code], code)
        r = till.c.post("/shifts", json={"float_fen": 0})
        assert r.status_code == 201, r.text
        return till

    def manager(self) -> httpx.Client:
        return self.login("u_manager", ROLE_PINS["manager"]).c

    def sellable(self, item_id: int) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT COALESCE(SUM(qty), 0) FROM stock_movement "
                                         "WHERE item_id = :i AND location = 'sellable'"), {"i": item_id}).scalar_one())


@dataclass
class Till:
    code: str
    c: httpx.Client

    def open(self, *lines: tuple[int, int]) -> dict[str, Any]:
        sid = str(uuid.uuid4())
        r = self.c.post("/sales", json={"id": sid})
        assert r.status_code == 201, r.text
        sale = r.json()
        for item_id, qty in lines:
            r = self.c.post(f"/sales/{sid}/lines", json={"item_id": item_id, "qty": qty})
            assert r.status_code == 201, r.text
            sale = r.json()
        return sale

    def pay(self, sale: dict[str, Any]) -> httpx.Response:
        total = sale["total_fen"]
        return self.c.post(f"/sales/{sale['id']}/complete",
                           json={"tenders": [{"kind": "cash", "amount_fen": total, "tendered_fen": total}]})


def race(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run the calls in threads released at the same moment; their responses, in the order given."""
    barrier = threading.Barrier(len(calls))

    def go(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


@pytest.fixture
def service(engine: Engine, ctx: Ctx, settings: Settings, tmp_path: Path) -> Iterator[Service]:
    items = _seed(engine, ctx)
    base, stop = start_service(settings, tmp_path)
    svc = Service(base, engine, items)
    try:
        yield svc
    finally:
        for c in svc.clients:
            c.close()
        stop()


def test_the_last_unit_is_sold_exactly_once(service: Service) -> None:
    t1, t2 = service.till("T01"), service.till("T02")
    manager = service.manager()
    for item_id in service.items["last"]:
        # Both baskets take the last unit: nothing is reserved until payment.
        a, b = t1.open((item_id, 1)), t2.open((item_id, 1))
        results = race(lambda: t1.pay(a), lambda: t2.pay(b))  # noqa: B023 (called before the loop moves on)
        assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
        lost = next(r for r in results if r.status_code == 409)
        assert lost.json()["code"] == "STOCK", lost.text  # never GSP-06: the batch is good, only empty
        assert lost.json()["details"]["available"] == 0
        assert manager.get(f"/items/{item_id}").json()["stock"] == 0
        assert service.sellable(item_id) == 0
        with service.engine.connect() as conn:
            sold = conn.execute(text("SELECT count(*) FROM sale_line l JOIN sale s ON s.id = l.sale_id "
                                     "WHERE l.item_id = :i AND s.status = 'completed'"), {"i": item_id}).scalar_one()
        assert sold == 1


def test_a_load_of_small_sales_never_oversells_and_numbers_receipts_without_gaps(service: Service) -> None:
    tills = [service.till(code) for code in ("T01", "T02", "T03", "T04")]
    load, own = service.items["load"], service.items["own"]
    total_load = sum(LOAD_STOCK)

    def work(till: Till, seed: int) -> list[tuple[str, int, Any]]:
        """25 customers at one till: mostly 1–3 of the scarce item, often one of the till's own item, in
        either order; a basket of the till's own item alone contends with the others for its receipt number."""
        rnd = random.Random(seed)
        seen: list[tuple[str, int, Any]] = []
        for _ in range(25):
            sid = str(uuid.uuid4())
            r = till.c.post("/sales", json={"id": sid})
            seen.append(("open", r.status_code, r.json().get("code")))
            wants = [(load, rnd.randint(1, 3))] if rnd.random() < 0.7 else []
            if not wants or rnd.random() < 0.5:
                wants.append((own[till.code], 1))
            rnd.shuffle(wants)  # the lock order is the service's business, not the basket's
            sale = r.json()
            for item_id, qty in wants:
                r = till.c.post(f"/sales/{sid}/lines", json={"item_id": item_id, "qty": qty})
                seen.append(("line", r.status_code, r.json().get("code")))
                if r.status_code == 201:
                    sale = r.json()
            if not sale["lines"]:
                continue
            r = till.pay(sale)
            seen.append(("pay", r.status_code, r.json() if r.status_code == 200 else r.json().get("code")))
        return seen

    barrier = threading.Barrier(len(tills))

    def start(till: Till, seed: int) -> list[tuple[str, int, Any]]:
        barrier.wait(timeout=30)
        return work(till, seed)

    with ThreadPoolExecutor(len(tills)) as pool:
        outcomes = [x for part in pool.map(start, tills, range(len(tills))) for x in part]

    assert [o for o in outcomes if o[1] >= 500] == []
    assert {(kind, status) for kind, status, _ in outcomes} <= {("open", 201), ("line", 201), ("line", 409),
                                                                  ("pay", 200), ("pay", 409)}
    assert {code for _, status, code in outcomes if status == 409} <= {"STOCK"}
    paid = [body for kind, status, body in outcomes if kind == "pay" and status == 200]
    assert paid and not any(body["replayed"] for body in paid)

    def sold(item_id: int) -> int:
        return sum(ln["qty"] for body in paid for ln in body["lines"] if ln["item_id"] == item_id)

    final = service.sellable(load)
    assert final >= 0
    assert sold(load) == total_load - final
    assert all(service.sellable(item_id) == OWN_STOCK - sold(item_id) for item_id in own.values())
    manager = service.manager()
    assert manager.get(f"/items/{load}").json()["stock"] == final
    # FEFO held under the race: the later batch is only touched once the sooner one is empty
    batches = {b["id"]: b["stock"] for b in manager.get(f"/items/{load}/batches").json()}
    soon, late = service.items["load_batches"]
    assert batches[late] == LOAD_STOCK[1] or batches[soon] == 0, batches
    assert min(batches.values()) >= 0
    # receipt numbers: unique, and per business day 1..N without holes
    numbers = [body["sale_no"] for body in paid]
    assert len(set(numbers)) == len(numbers)
    with service.engine.connect() as conn:
        rows = conn.execute(text("SELECT business_date, day_no, sale_no FROM sale WHERE status = 'completed' "
                                 "ORDER BY business_date, day_no")).all()
    assert sorted(r[2] for r in rows) == sorted(numbers)
    per_day: dict[Any, list[int]] = {}
    for day, no, _ in rows:
        per_day.setdefault(day, []).append(no)
    assert all(nos == list(range(1, len(nos) + 1)) for nos in per_day.values()), per_day
    report = manager.get("/audit/verify").json()
    assert report["ok"], report["problems"][:3]


def test_a_suspended_sale_resumed_and_paid_on_two_tills_at_once_goes_to_one(service: Service) -> None:
    t1, t2, t3 = service.till("T01"), service.till("T02"), service.till("T03")
    vitc = service.items["vitc"]
    before = service.sellable(vitc)
    rounds = 5
    for _ in range(rounds):
        sale = t1.open((vitc, 1))
        assert t1.c.post(f"/sales/{sale['id']}/suspend").json()["status"] == "suspended"
        resumed = race(lambda: t2.c.post(f"/sales/{sale['id']}/resume"),  # noqa: B023
                       lambda: t3.c.post(f"/sales/{sale['id']}/resume"))  # noqa: B023
        assert sorted(r.status_code for r in resumed) == [200, 409], [r.text for r in resumed]
        assert next(r for r in resumed if r.status_code == 409).json()["code"] == "SALE-STATE"
        winner = t2 if resumed[0].status_code == 200 else t3
        paid = race(lambda: t2.pay(sale), lambda: t3.pay(sale))  # noqa: B023
        assert sorted(r.status_code for r in paid) == [200, 409], [r.text for r in paid]
        ok = next(r for r in paid if r.status_code == 200)
        assert paid[(t2, t3).index(winner)] is ok  # the till that resumed it is the one that is paid
        assert next(r for r in paid if r.status_code == 409).json()["code"] in {"SALE-TILL", "SALE-TAKEN"}
        again = winner.pay(sale)  # the winner's retry is the first result
        assert again.status_code == 200 and again.json()["replayed"] and again.json()["sale_no"] == ok.json()["sale_no"]
    assert service.sellable(vitc) == before - rounds
    with service.engine.connect() as conn:
        done = conn.execute(text("SELECT count(*) FROM sale WHERE status = 'completed'")).scalar_one()
    assert done == rounds


def test_the_first_sales_of_a_day_on_two_tills_at_once_are_numbered_one_and_two(engine: Engine, ctx: Ctx) -> None:
    """The day's counter row is made by its first sale (ON CONFLICT): two first sales at once both get a number,
    the second after the first commits (the row stays locked until then: PostgreSQL's row lock, SQLite's one
    writer), and no number is skipped."""
    day = Ctx(ctx.store_id, ctx.settings, now=ctx.now + timedelta(days=400))  # a day no sale has had yet
    first_took, numbers, failures = threading.Event(), [], []

    def first() -> None:
        with core_unit(engine) as u:
            numbers.append(sales_ledger.next_number(u, day))
            first_took.set()
            time.sleep(0.3)  # the other till asks meanwhile

    def second() -> None:
        assert first_took.wait(10)
        with core_unit(engine) as u:
            numbers.append(sales_ledger.next_number(u, day))

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # reported below: a thread's failure is not the test's otherwise
                failures.append(exc)
        return run

    threads = [threading.Thread(target=guarded(first)), threading.Thread(target=guarded(second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not any(t.is_alive() for t in threads) and failures == []
    assert numbers == [1, 2]
