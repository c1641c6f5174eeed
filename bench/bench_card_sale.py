"""A 5-line mixed card sale over HTTP beside the same basket paid in cash: `python -m bench.bench_card_sale`.

A temp SQLite store (bench._service: OTC drugs and devices, deep stock) is served by `dingdian serve`
and the sandbox insurance centre runs beside it as `dingdian sandbox-centre` (both subprocesses on
127.0.0.1). The store is made ready for card sales through the API, as the card-sale tests do: an
active 医保协议 (AGR-01) and a drug licence, 甲/乙/丙 mappings with national codes the sandbox's directory
knows, the mappings recorded as uploaded (CARD-07), the cashier signed in for the day (9001).

The basket (5 lines, one unit each): two 甲 and one 乙 drug (card-eligible), one 丙 drug (self-pay,
CARD-02) and one medical device (non-drug, never on the card). Measured, alternating one by one with
the same basket paid in cash on the same till and keep-alive client:

  card sale   open + 5 lines + identify (1101, card number + 卡识别码 of the demo 职工) + preview (2101)
              + settle (2102 intent-first, the completion with the cash part and the self-pay lines)
  cash sale   open + 5 lines + complete

Target: the whole card sale's median and p99 ≤ 2× the cash sale's. Also shown: identify + preview +
settle against the cash completion alone, each step's median, and the CPU the service and the
sandbox used per sale (Linux /proc). Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bench._common import HOST, dingdian_command, free_port, p50_p99, process_cpu_s, running, serve_command
from bench._service import ITEMS, BenchStore, build_store
from bench.bench_selling import Till, TillError, client
from catalog.classes import InsuranceCategory
from server.config import load_settings
from server.db.engine import make_engine
from server.db.uow import core_unit, orm
from server.insurance.sandbox.client import SandboxAdmin
from server.insurance.sandbox.persons import DEMO_PERSONS
from server.roles import Role
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store
from server.services.store.users import add_user, second_person

TARGET_RATIO = 2.0
WARMUP = 10
ADMIN_PIN, MANAGER_PIN, ADMIN2_PIN = "7531", "9753", "7532"
# item code → 医保 category of the bench basket; FY9001 (a device) stays unmapped: non-drug goods
BASKET = [("YP9001", InsuranceCategory.JIA), ("YP9002", InsuranceCategory.YI), ("YP9003", InsuranceCategory.JIA),
          ("YP9004", InsuranceCategory.BING), ("FY9001", None)]
PERSON = DEMO_PERSONS[0]  # the demo 职工 (310) on the simulated reader's "employee" card


def directory_codes() -> dict[InsuranceCategory, list[str]]:
    """National codes the sandbox's directory classifies (it is built from the demo catalog), of products sold
    without trace codes: the bench store scans none, and the centre refuses a traced product without them."""
    from catalog.demo_data import demo_items

    out: dict[InsuranceCategory, list[str]] = {}
    for item in demo_items():
        if item.nhsa_code and not item.traced and item.nhsa_code not in out.setdefault(item.insurance_category, []):
            out[item.insurance_category].append(item.nhsa_code)
    return out


def point_insurance_at(config: Path, url: str) -> None:
    text = config.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^(\[insurance\][^\[]*?^url\s*=\s*)"[^"]*"', lambda m: f'{m.group(1)}"{url}"', text)
    if n != 1:
        raise RuntimeError("config.toml: no [insurance] url line to replace")
    config.write_text(text, encoding="utf-8")


@dataclass
class CardStore:
    store: BenchStore
    basket: list[str]  # barcodes, in BASKET's order
    item_ids: list[int]  # the 甲/乙 drugs, whose mappings are recorded as uploaded
    today: str


def map_items(store: BenchStore) -> CardStore:
    """Codes and categories on the basket's drugs, and the users who run the store's side of the card."""
    settings = load_settings(store.config)
    engine = make_engine(store.db_url)
    codes = directory_codes()
    taken: dict[InsuranceCategory, int] = {}
    try:
        ctx = Ctx(bootstrap_store(engine, settings), settings)
        with core_unit(engine) as u:
            add_user(u, ctx, "bench_ins", "医保管理员", ADMIN_PIN, {Role.INSURANCE_ADMIN})
            add_user(u, ctx, "bench_ins2", "医保管理员", ADMIN2_PIN, {Role.INSURANCE_ADMIN})
            add_user(u, ctx, "bench_mgr", "店长", MANAGER_PIN, {Role.MANAGER})
            # CARD-07: a new 医保 code is approved by the other 医保 administrator
            approver = second_person(u, ctx, "bench_ins2", ADMIN2_PIN)
            assert approver is not None
            approval = catalog_service.Approval(approver, "基准测试对照")
            basket, ids = [], []
            codes_in_order = [code for code, *_ in ITEMS]  # build_store's barcodes follow ITEMS
            for code, category in BASKET:
                barcode = store.barcodes[codes_in_order.index(code)]
                basket.append(barcode)
                item = catalog_service.find_by_barcode(orm(u), ctx, barcode)
                assert item is not None and item.id is not None and item.code == code
                if category is not None:
                    k = taken.get(category, 0)
                    taken[category] = k + 1
                    catalog_service.update_item(u, ctx, item.id, {"nhsa_code": codes[category][k],
                                                                  "insurance_category": category.value}, approval)
                    if category in (InsuranceCategory.JIA, InsuranceCategory.YI):  # only those are uploaded
                        ids.append(item.id)
        today = ctx.today.isoformat()
    finally:
        engine.dispose()
    return CardStore(store, basket, ids, today)


def ready_for_cards(port: int, cs: CardStore) -> None:
    """AGR-01 agreement and licence, CARD-07 mappings uploaded — through the API, audited as in a store."""
    today = date.fromisoformat(cs.today)
    with client(port) as http:
        def login(user: str, pin: str) -> dict[str, str]:
            r = http.post("/auth/login", json={"username": user, "pin": pin})
            if r.status_code != 200:
                raise TillError(f"login {user}: {r.status_code} {r.text[:200]}")
            return {"Authorization": f"Bearer {r.json()['token']}"}

        admin, manager = login("bench_ins", ADMIN_PIN), login("bench_mgr", MANAGER_PIN)
        # the other 医保 administrator confirms the uploads in place: their grant travels as X-Second, not their PIN
        r = http.post("/auth/authorise", headers=admin, json={"username": "bench_ins2", "pin": ADMIN2_PIN,
                                                               "action": "mapping.write", "subject": "",
                                                               "second": True})
        if r.status_code != 200:
            raise TillError(f"authorise bench_ins2: {r.status_code} {r.text[:200]}")
        confirmed = admin | {"X-Second": r.json()["grant"]}
        steps = [
            ("POST", "/store/agreement-events", admin, 201,
             {"status": "active", "effective_on": (today - timedelta(days=30)).isoformat(),
              "ends_on": (today + timedelta(days=300)).isoformat(), "agreement_no": "YB-BENCH-001"}),
            ("PATCH", "/store", manager, 200,
             {"drug_licence_no": "粤AA0001", "drug_licence_expiry": (today + timedelta(days=900)).isoformat()}),
            ("POST", "/items/mapping-uploaded", confirmed, 200, {"item_ids": cs.item_ids}),
        ]
        for method, path, headers, status, body in steps:
            r = http.request(method, path, json=body, headers=headers)
            if r.status_code != status:
                raise TillError(f"{method} {path}: {r.status_code} {r.text[:300]}")


class CardTill(Till):
    def sign_in(self) -> None:
        self._check(self.http.post("/insurance/sign-in", json={}), 201)

    def identify(self, sale_id: str) -> None:
        body = {"method": "card", "card_no": PERSON.card_no, "card_sn": PERSON.card_sn}
        self._check(self.http.post(f"/sales/{sale_id}/insured", json=body), 200)

    def preview(self, sale_id: str) -> dict[str, int]:
        return self._check(self.http.post(f"/sales/{sale_id}/card/preview", json={}), 200).json()

    def settle(self, sale_id: str, due_otherwise_fen: int) -> dict[str, object]:
        tenders = [{"kind": "cash", "amount_fen": due_otherwise_fen, "tendered_fen": due_otherwise_fen}]
        r = self._check(self.http.post(f"/sales/{sale_id}/card/settle", json={"tenders": tenders}), 200)
        sale = r.json()
        if sale["status"] != "completed" or not any(t["kind"] == "insurance" for t in sale["tenders"]):
            raise TillError(f"card sale {sale_id} not completed with the card: {r.text[:300]}")
        return sale


@dataclass
class Timings:
    whole: list[float] = field(default_factory=list)
    payment: list[float] = field(default_factory=list)  # card: identify + preview + settle; cash: complete
    steps: dict[str, list[float]] = field(default_factory=dict)
    cpu_service_s: float = 0.0
    cpu_sandbox_s: float = 0.0

    def step(self, name: str, ms: float) -> None:
        self.steps.setdefault(name, []).append(ms)


@contextmanager
def cpu_of(t: Timings, service_pid: int, sandbox_pid: int) -> Iterator[None]:
    s0, b0 = process_cpu_s(service_pid), process_cpu_s(sandbox_pid)
    yield
    t.cpu_service_s += process_cpu_s(service_pid) - s0
    t.cpu_sandbox_s += process_cpu_s(sandbox_pid) - b0


def ms(t0: float, t1: float) -> float:
    return (t1 - t0) * 1000


def card_sale(till: CardTill, basket: list[str], t: Timings | None) -> None:
    t0 = time.perf_counter()
    sale = till.open_sale()
    for barcode in basket:
        till.scan(sale, barcode)
    t1 = time.perf_counter()
    till.identify(sale)
    t2 = time.perf_counter()
    pre = till.preview(sale)
    t3 = time.perf_counter()
    till.settle(sale, pre["due_otherwise_fen"])
    t4 = time.perf_counter()
    if t is not None:
        t.whole.append(ms(t0, t4))
        t.payment.append(ms(t1, t4))
        for name, a, b in (("open + 5 lines", t0, t1), ("identify (1101)", t1, t2), ("preview (2101)", t2, t3),
                           ("settle (2102 + completion)", t3, t4)):
            t.step(name, ms(a, b))


def cash_sale(till: Till, basket: list[str], t: Timings | None) -> None:
    t0 = time.perf_counter()
    sale = till.open_sale()
    total = 0
    for barcode in basket:
        total = till.scan(sale, barcode)
    t1 = time.perf_counter()
    till.pay_cash(sale, total)
    t2 = time.perf_counter()
    if t is not None:
        t.whole.append(ms(t0, t2))
        t.payment.append(ms(t1, t2))
        t.step("open + 5 lines", ms(t0, t1))
        t.step("complete", ms(t1, t2))


def row(what: str, values: list[float], note: str = "") -> str:
    p50, p99 = p50_p99(values)
    return f"  {what:<46}{len(values):>7,}{p50:>10.2f}{p99:>10.2f}   {note}".rstrip()


def ratio(card: list[float], cash: list[float], target: bool) -> str:
    c50, c99 = p50_p99(card)
    k50, k99 = p50_p99(cash)
    text = f"{c50 / k50:.2f}× median, {c99 / k99:.2f}× p99 of cash"
    if not target:
        return text
    met = c50 <= TARGET_RATIO * k50 and c99 <= TARGET_RATIO * k99
    return f"{text} (target ≤ {TARGET_RATIO:g}×): {'met' if met else 'NOT met'}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=200, help="card sales and cash sales measured, each (default 200)")
    args = parser.parse_args(argv)
    print(f"== 5-line mixed card sale over HTTP with the sandbox centre, beside the same basket in cash "
          f"({os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}) ==")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dingdian-bench-card-sale-") as tmp:
        directory = Path(tmp)
        store = build_store(directory, tills=1)
        port, centre_port = free_port(), free_port()
        point_insurance_at(store.config, f"http://{HOST}:{centre_port}")
        cs = map_items(store)
        centre_cmd = [*dingdian_command(), "sandbox-centre", "--port", str(centre_port),
                      "--db", str(directory / "centre.db")]
        card, cash = Timings(), Timings()
        with running(centre_cmd, centre_port, "/health", directory / "centre.log") as (centre, centre_up), \
                running(serve_command(store.config, port), port, "/health", directory / "serve.log") as (svc, up):
            print(f"sandbox centre up in {centre_up:.2f} s, service up in {up:.2f} s (127.0.0.1)")
            ready_for_cards(port, cs)
            till = CardTill(port, store.cashiers[0], store.pin, store.tills[0])
            try:
                till.sign_in()
                for _ in range(WARMUP):
                    card_sale(till, cs.basket, None)
                    cash_sale(till, cs.basket, None)
                gc.collect()
                for _ in range(args.sales):
                    with cpu_of(card, svc.pid, centre.pid):
                        card_sale(till, cs.basket, card)
                    with cpu_of(cash, svc.pid, centre.pid):
                        cash_sale(till, cs.basket, cash)
            finally:
                till.close()
            admin = SandboxAdmin(f"http://{HOST}:{centre_port}")
            try:  # the centre's own ledger: one active settlement per card sale, no more, no less
                booked = [r for r in admin.settlements() if r["status"] == "active"]
                person = admin.person(PERSON.psn_no)
            finally:
                admin.close()

    n = args.sales
    basket = ", ".join(f"{code} {cat.label if cat else '器械'}" for code, cat in BASKET)
    print(f"  basket: {basket}; "
          f"insured: the demo 职工 ({PERSON.insutype}) by card number + 卡识别码")
    print(f"  {'':<46}{'n':>7}{'median':>10}{'p99':>10}   (ms, wall clock at the client)")
    print("  whole sale (open + 5 lines + payment)")
    print(row("  card: … + identify + preview + settle", card.whole,
              f"{ratio(card.whole, cash.whole, True)}; 10 requests"))
    print(row("  cash: … + complete", cash.whole, "7 requests"))
    print("  payment only")
    print(row("  card: identify + preview + settle", card.payment, ratio(card.payment, cash.payment, False)))
    print(row("  cash: complete", cash.payment))
    for kind, t in (("card", card), ("cash", cash)):
        print(f"  {kind} sale, step by step")
        for name, values in t.steps.items():
            print(row(f"    {name}", values))
    print(f"  CPU per sale: service card {card.cpu_service_s * 1000 / n:.1f} ms, cash {cash.cpu_service_s * 1000 / n:.1f} ms;"
          f" sandbox centre {card.cpu_sandbox_s * 1000 / n:.1f} ms per card sale")
    expected = WARMUP + n
    print(f"  sandbox ledger: {len(booked)} active settlements for {expected} card sales "
          f"({'one each' if len(booked) == expected else 'MISMATCH'}); the 职工's account balance now "
          f"{person.get('balc_fen', '?')} fen (from {PERSON.balance_fen})")
    print(f"  total {time.perf_counter() - started:.0f} s (latencies need an otherwise idle machine)")


if __name__ == "__main__":
    main()
