"""The period close (月结, ST-01, ST-02): a month closes once, after it has ended, by the store manager, when
nothing in it is half done; its stock is snapshot; afterwards nothing can be dated inside it — by the service
(words) or the database (triggers of migration 0024) — and it is never reopened. Corrections go into the open
period, naming what they correct. Time is driven: the store's month M is the real one, the close happens on the
5th of M+1 (time-machine), and "the clock moved back" is the real now again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from catalog.violations import Violation
from reports.ledger import as_dict, ledger_report, month_of
from server import audit
from server.audit import Actor
from server.db.uow import core_unit, read_session
from server.errors import AppError
from server.services.context import Ctx
from server.services.period import blockers, close
from server.services.stock import ledger
from tests.conftest import BARCODE_VITC, ROLE_PINS, SHANGHAI, Shop, login, second, seed_shop, till_login
from tests.reports import ledger_data
from tests.server.test_receiving import _line, _receipt, _supplier
from tests.server.test_selling import new_sale, pay_cash, scan


def _next_month_5th(today: date) -> datetime:
    _, last = month_of(today)
    nxt = last + timedelta(days=5)
    return datetime(nxt.year, nxt.month, nxt.day, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)


def _count(engine: Engine, table: str, where: str = "1 = 1", **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {where}"), params).scalar_one())


SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the database guard's test runs on both


def _verifies(engine: Engine, ctx: Ctx) -> None:
    with read_session(engine) as s:
        report = audit.verify(s, ctx.store_id)
    assert report.ok, report.problems[:3]


@SQLITE
@pytest.mark.refuses("ST-01", "ST-02")
def test_a_month_closes_once_and_nothing_is_dated_inside_it_afterwards(shop: Shop, engine: Engine,
                                                                       ctx: Ctx, monkeypatch: pytest.MonkeyPatch
                                                                       ) -> None:
    c, h, today = shop["client"], shop["cashier"], shop["clock"].today
    month = f"{today:%Y-%m}"
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC, 2)
    sale = pay_cash(c, h, sid, 700, 1000)
    assert sale.status_code == 200, sale.text
    line_id = sale.json()["lines"][0]["id"]
    assert c.post("/period/close", json={"month": month}, headers=shop["manager"]).json()["code"] == "ST-01"  # not ended
    later = _next_month_5th(today)
    with time_machine.travel(later, tick=False):
        mg = login(c, "u_manager", ROLE_PINS["manager"])
        ph = till_login(c, "u_pharmacist", ROLE_PINS["pharmacist"])
        first, last = month_of(today)
        replayed = as_dict(ledger_report(engine, ctx.store_id, first, last, checks=False))
        assert c.post("/period/close", json={"month": month}, headers=ph).status_code == 403  # the manager's
        done = c.post("/period/close", json={"month": month, "note": "月末结账"}, headers=mg)
        assert done.status_code == 201, done.text
        assert done.json()["month"] == month and done.json()["batches"] >= 5
        with engine.connect() as conn:
            vitc = conn.execute(text("SELECT s.qty FROM period_snapshot s JOIN batch b ON b.id = s.batch_id "
                                     "WHERE b.batch_no = 'B-VITC-1' AND s.location = 'sellable'")).scalar_one()
        assert vitc == 48
        # once: not again, not reopened
        again = c.post("/period/close", json={"month": month}, headers=mg)
        assert again.status_code == 409 and again.json()["code"] == "ST-02"
        reopened = c.post("/period/reopen", json={"month": month}, headers=mg)
        assert reopened.status_code == 409 and reopened.json()["code"] == "ST-02"
        assert "不能重开" in reopened.json()["message_zh"]
        # a back-dated receipt: refused with words, nothing written
        sup = _supplier(c, mg, "国药控股北京", today + timedelta(days=365), ["drugs"], [shop["items"]["vitc"]])
        receipts = _count(engine, "receipt")
        back = _receipt(c, ph, sup, [_line(shop["items"]["vitc"], "Z-OTC", today=today)], on=last)
        assert back.status_code == 409 and back.json()["code"] == "ST-02", back.text
        assert _count(engine, "receipt") == receipts
        # the service's check taken away (as a path that forgot it would be): the database refuses, the API says
        # why with the same code — not a 500
        with monkeypatch.context() as m:
            m.setattr(ledger, "refuse_closed", lambda *a, **k: None)
            forgot = _receipt(c, ph, sup, [_line(shop["items"]["vitc"], "Z-OTC", today=today)], on=last)
        assert forgot.status_code == 409 and forgot.json()["code"] == "ST-02", forgot.text
        assert _count(engine, "receipt") == receipts
        # a late return of a sale from the closed month: allowed, dated today, referencing its sale
        ret = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": sid, "reason": "买错了",
                                       "lines": [{"sale_line_id": line_id, "qty": 1}]},
                     headers=second(c, ph, "u_manager", ROLE_PINS["manager"], "sale.return", sid))
        assert ret.status_code == 201, ret.text
        with engine.connect() as conn:
            moved = conn.execute(text("SELECT m.business_date FROM stock_movement m JOIN sale_return_line l "
                                      "ON m.ref_id = CAST(l.id AS VARCHAR(40)) JOIN sale_return r ON r.id = l.return_id "
                                      "WHERE m.ref_type = 'sale_return_line' AND r.sale_id = :s"), {"s": sid}).all()
        assert moved and {str(d) for (d,) in moved} == {(later.astimezone(SHANGHAI).date()).isoformat()}
        # the closed month reads the same as before, from its snapshot or replayed
        assert as_dict(ledger_report(engine, ctx.store_id, first, last, checks=False)) == replayed
        listed = c.get("/period/closes", headers=mg).json()
        assert [x["month"] for x in listed] == [month]
    # the clock moved back into the closed month: a sale's completion is refused with words, nothing written
    movements = _count(engine, "stock_movement")
    sid2 = new_sale(c, h)
    assert scan(c, h, sid2, BARCODE_VITC).status_code == 201
    paid = pay_cash(c, h, sid2, 350, 500)
    assert paid.status_code == 409 and paid.json()["code"] == "ST-02", paid.text
    assert _count(engine, "stock_movement") == movements
    count = c.post("/counts", json={}, headers=shop["pharmacist"])
    assert count.status_code == 409 and count.json()["code"] == "ST-02"
    _verifies(engine, ctx)


@SQLITE
@pytest.mark.refuses("ST-01")
def test_the_close_is_refused_while_the_month_has_anything_half_done(shop: Shop, engine: Engine,
                                                                   ctx: Ctx) -> None:
    c, h, today = shop["client"], shop["cashier"], shop["clock"].today
    sup = _supplier(c, shop["manager"], "国药控股北京", today + timedelta(days=365), ["drugs"],
                    [shop["items"]["vitc"]])
    assert _receipt(c, shop["pharmacist"], sup, [_line(shop["items"]["vitc"], "Z-OTC", today=today)]).status_code == 201
    open_sale = new_sale(c, h)
    scan(c, h, open_sale, BARCODE_VITC)
    assert c.post("/counts", json={}, headers=shop["pharmacist"]).status_code == 201
    settling = new_sale(c, h)
    scan(c, h, settling, BARCODE_VITC)
    with engine.begin() as conn:  # a settlement left as an intent (the service stopped before the 2102 left)
        user = conn.execute(text("SELECT id FROM app_user WHERE username = 'u_cashier'")).scalar_one()
        conn.execute(text("INSERT INTO card_settlement (store_id, sale_id, msgid, status, medfee_sumamt_fen, "
                          "fund_pay_fen, acct_pay_fen, cash_pay_fen, setl_id, mdtrt_id, lines, error, created_by, "
                          "created_at, cancel_msgid, cancel_reason) VALUES (:s, :sale, 'M1', 'intent', 350, 0, 0, 0, "
                          "'', '', '[]', '', :u, :at, '', '')"),
                     {"s": ctx.store_id, "sale": settling, "u": user, "at": shop["clock"].now})

    def uploads(u: Any, store_id: int, first: date, last: date) -> list[Violation]:
        return blockers.named("未确认的上传", "uploads not acknowledged", ["U-7"], 1)

    blockers.register("uploads", uploads)
    try:
        with time_machine.travel(_next_month_5th(today), tick=False):
            mg = login(c, "u_manager", ROLE_PINS["manager"])
            r = c.post("/period/close", json={"month": f"{today:%Y-%m}"}, headers=mg)
    finally:
        blockers.unregister("uploads")
    assert r.status_code == 409 and r.json()["code"] == "ST-01", r.text
    found = {v["message_en"].split(" in the period")[0]: v["details"] for v in r.json()["details"]["violations"]}
    assert found["1 receipts not approved"]["count"] == 1
    assert found["1 count sheets not posted"]["count"] == 1
    assert set(found["2 sales not finished (open, suspended or settling)"]["first"]) == {open_sale, settling}
    assert found["1 card settlements unresolved (intent or uncertain)"]["count"] == 1
    assert found["1 uploads not acknowledged"]["first"] == ["U-7"]
    assert _count(engine, "period_close") == 0 and _count(engine, "period_snapshot") == 0
    assert "uploads" not in blockers.registered()


@pytest.fixture
def closed(engine: Engine, ctx: Ctx, clock: Any) -> Iterator[tuple[Ctx, date]]:
    """The seeded shop, its month closed on the 5th of the next by a manager (as the service sees it)."""
    seed_shop(engine, ctx)
    with time_machine.travel(_next_month_5th(clock.today), tick=False):
        later = Ctx(ctx.store_id, ctx.settings, Actor(None, "u_manager"), _next_month_5th(clock.today))
        with core_unit(engine) as u:
            close.close_month(u, later, f"{clock.today:%Y-%m}")
        yield later, month_of(clock.today)[1]


@pytest.mark.refuses("ST-02")
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_the_database_refuses_a_raw_insert_dated_inside_a_closed_period_and_any_reopening(
        engine: Engine, closed: tuple[Ctx, date]) -> None:
    later, last = closed
    with engine.connect() as conn:
        batch, item = conn.execute(text("SELECT id, item_id FROM batch WHERE batch_no = 'B-VITC-1'")).one()
    row = ledger_data.movement(later.store_id, batch, item, "sale", -1, -20, -350, last)
    counts = (_count(engine, "stock_movement"), _count(engine, "period_close"), _count(engine, "period_snapshot"))
    for attempt in (row, row | {"business_date": None}):
        with pytest.raises(DBAPIError, match="closed period"):
            ledger_data.write(engine, [attempt])
    for sql in ("DELETE FROM period_close", "UPDATE period_snapshot SET qty = qty + 1",
                "DELETE FROM period_snapshot"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(sql))
    with pytest.raises(DBAPIError, match="closed period"), engine.begin() as conn:
        conn.execute(text("UPDATE sale SET business_date = :d"), {"d": last})  # no sale yet: nothing to refuse
        conn.execute(text("INSERT INTO sale (id, store_id, till_id, shift_id, status, opened_by, opened_at, "
                          "business_date, day_no, total_fen) SELECT 'S-BACK', :s, t.id, sh.id, 'completed', "
                          "sh.opened_by, :at, :d, 99, 0 FROM till t, shift sh WHERE t.store_id = :s LIMIT 1"),
                     {"s": later.store_id, "at": later.now, "d": last})
    assert (_count(engine, "stock_movement"), _count(engine, "period_close"),
            _count(engine, "period_snapshot")) == counts
    ledger_data.write(engine, [row | {"business_date": last + timedelta(days=1)}])  # the open period: written
    assert _count(engine, "stock_movement") == counts[0] + 1


@SQLITE
def test_the_next_period_opens_from_the_snapshot_as_if_replayed_from_the_start(engine: Engine, ctx: Ctx,
                                                                               clock: Any) -> None:
    """Three months of every kind of movement; the first two closed; every report from a snapshot equals the
    same report replayed from the first movement, and each snapshot equals the raw rows summed independently."""
    items = seed_shop(engine, ctx)
    with engine.connect() as conn:
        pairs = [(int(b), int(i)) for b, i in conn.execute(
            text("SELECT id, item_id FROM batch WHERE store_id = :s"), {"s": ctx.store_id})]
    assert items
    m3 = month_of(month_of(clock.today)[0] - timedelta(days=1))[0]  # last month
    m2 = month_of(m3 - timedelta(days=1))[0]
    m1 = month_of(m2 - timedelta(days=1))[0]
    rows = ledger_data.generated(ctx.store_id, pairs, m1, (month_of(m3)[1] - m1).days + 1, 600, seed=20)
    ledger_data.write(engine, rows)
    manager = ctx.acting(Actor(None, "u_manager"))
    for m in (m1, m2):
        with core_unit(engine) as u:
            close.close_month(u, manager, f"{m:%Y-%m}")
    with engine.connect() as conn:
        snap = {(int(cid), int(b), str(loc)): (int(q), int(c), int(r)) for cid, b, loc, q, c, r in conn.execute(
            text("SELECT close_id, batch_id, location, qty, cost_fen, retail_fen FROM period_snapshot"))}
        closes: dict[int, date | str] = dict(conn.execute(text("SELECT id, last_day FROM period_close")).all())
    for cid, last in closes.items():
        day = last if isinstance(last, date) else date.fromisoformat(last)
        raw: dict[tuple[int, str], list[int]] = {}
        for r in rows:
            if r["business_date"] <= day:
                acc = raw.setdefault((r["batch_id"], r["location"]), [0, 0, 0])
                acc[0] += r["qty"]
                acc[1] += r["cost_fen"]
                acc[2] += r["retail_fen"]
        assert {(b, loc): v for (c, b, loc), v in snap.items() if c == cid} == \
            {k: tuple(v) for k, v in raw.items() if any(v)}
    end3 = month_of(m3)[1]
    for start, end in ((m3, end3), (m3 + timedelta(days=10), end3), (m2, month_of(m2)[1]), (m2, end3),
                       (m1, end3)):
        assert as_dict(ledger_report(engine, ctx.store_id, start, end, checks=False)) == \
            as_dict(ledger_report(engine, ctx.store_id, start, end, checks=False, from_snapshot=False)), (start, end)


@SQLITE
def test_the_inspector_s_walk_goes_on_from_the_snapshot(engine: Engine, ctx: Ctx, clock: Any) -> None:
    """A batch below zero in the last open month is found walking on from the snapshot as from the first
    movement; one below zero only inside a closed month is that month's, not the next's."""
    seed_shop(engine, ctx)
    with engine.connect() as conn:
        batch, item = conn.execute(text("SELECT id, item_id FROM batch WHERE batch_no = 'B-VITC-1'")).one()
    m3 = month_of(month_of(clock.today)[0] - timedelta(days=1))[0]
    m2 = month_of(m3 - timedelta(days=1))[0]
    m1 = month_of(m2 - timedelta(days=1))[0]

    def mv(kind: str, qty: int, day: date) -> dict[str, Any]:
        return ledger_data.movement(ctx.store_id, batch, item, kind, qty, 10 * qty, 35 * qty, day)

    ledger_data.write(engine, [mv("sale", -60, m1 + timedelta(days=3)), mv("purchase", 100, m2 + timedelta(days=3)),
                               mv("sale", -30, m3 + timedelta(days=3)), mv("sale", -20, m3 + timedelta(days=4))])
    manager = ctx.acting(Actor(None, "u_manager"))
    for m in (m1, m2):
        with core_unit(engine) as u:
            close.close_month(u, manager, f"{m:%Y-%m}")

    def short(start: date, snapshot: bool) -> list[tuple[int, str, str]]:
        checks = ledger_report(engine, ctx.store_id, start, month_of(start)[1], from_snapshot=snapshot).checks
        return [(s.batch_id, s.location, str(s.business_date)) for s in checks.shortfalls]

    assert short(m3, True) == short(m3, False) == [(batch, "sellable", str(m3 + timedelta(days=4)))]
    assert short(m2, True) == short(m2, False) == []


@SQLITE
def test_a_month_must_have_ended_and_close_in_order(engine: Engine, ctx: Ctx, clock: Any) -> None:
    seed_shop(engine, ctx)
    first = month_of(clock.today)[0]
    m1 = month_of(first - timedelta(days=1))[0]
    m0 = month_of(m1 - timedelta(days=1))[0]
    manager = ctx.acting(Actor(None, "u_manager"))
    with core_unit(engine) as u:
        close.close_month(u, manager, f"{m0:%Y-%m}")
    for month, code in ((f"{first:%Y-%m}", "ST-01"), (f"{m0:%Y-%m}", "ST-02"), ("2026-13", "VALIDATION")):
        with pytest.raises(AppError) as exc, core_unit(engine) as u:
            close.close_month(u, manager, month)
        assert exc.value.code == code, month
    with core_unit(engine) as u:
        close.close_month(u, manager, f"{m1:%Y-%m}")
    assert _count(engine, "period_close") == 2

