"""`dingdian audit verify` on a store with a few thousand sales: `python -m bench.bench_audit_verify [--sales 3000]`.

A temp SQLite store (bench._service) sells --sales cash sales of 3 lines through the ordinary use cases (open,
scan, complete: every row audited as the till's are), and logs --exchanges message exchanges with the centre
(an out row and an in row each, through the message log as the gateway writes them, the msgid taken from the
counter in the out row's transaction). Then `audit.verify` runs
over the store, best of --repeat; beside it, in the same run, its floor: every row of every table of the store
read once (a plain SELECT each, rows fetched, nothing compared) — what any check of every row costs at least.

Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel, select

from bench._service import build_store
from server import audit
from server.audit import Actor
from server.config import load_settings
from server.db.engine import make_engine
from server.db.models import MessageOutcome, Store
from server.db.models.base import id_of
from server.db.uow import core_unit, orm, read_session
from server.insurance.msgid import MsgidSource
from server.insurance.msglog import MessageLog
from server.rules.tenders import TenderOffer
from server.services.context import Ctx
from server.services.sale import basket, completion
from server.services.store import shifts
from server.services.store.users import find_user


def _answer(n: int) -> str:
    return json.dumps({"infcode": 0, "output": {"setlinfo": {
        "setl_id": f"S{n:06d}", "medfee_sumamt": "35.00", "fund_pay_sumamt": "20.00", "acct_pay": "15.00",
        "psn_cash_pay": "0.00", "balc": "100.00"}}})


def _sell(engine: sa.Engine, ctx: Ctx, till: str, barcodes: list[str], prices: dict[str, int], sales: int) -> None:
    with core_unit(engine) as u:
        till_id = shifts.open_shift(u, ctx, till, 0).till_id
    for n in range(sales):
        sid = str(uuid.uuid4())
        picked = [barcodes[(n + k) % len(barcodes)] for k in range(3)]
        with core_unit(engine) as u:
            basket.open_sale(u, ctx, sid, till)
            for code in picked:
                basket.add_line(u, ctx, sid, till_id, 1, False, barcode=code)
        total = sum(prices[c] for c in picked)
        with core_unit(engine) as u:
            completion.complete(u, ctx, sid, till, [TenderOffer("cash", total, total)])


def _exchanges(engine: sa.Engine, ctx: Ctx, count: int) -> None:
    log = MessageLog(engine, ctx.store_id)
    msgids = MsgidSource(engine, ctx.store_id, ctx.settings.store.fixmedins_code, ctx.settings.store.tz)
    for n in range(count):
        request = json.dumps({"infno": "2102", "input": {"druginfo": {"psn_no": f"P{n:06d}"}}})
        msgid, _ = log.sent(msgids.allocate, "2102", request, opter="bench_c01")
        log.received(msgid, "2102", _answer(n), MessageOutcome.OK, elapsed_ms=40, opter="bench_c01")


def _floor(engine: sa.Engine, store_id: int) -> int:
    rows = 0
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            where = table.c.id == store_id if table.name == "store" else (
                table.c.store_id == store_id if "store_id" in table.c else sa.true())
            rows += len(conn.execute(sa.select(table).where(where)).all())
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sales", type=int, default=3000)
    p.add_argument("--exchanges", type=int, default=1500, help="message exchanges with the centre (2 rows each)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        store = build_store(Path(tmp), tills=1)
        settings = load_settings(store.config)
        engine = make_engine(store.db_url)
        try:
            with read_session(engine) as s:
                store_id = int(s.exec(select(Store.id)).one() or 0)
            ctx = Ctx(store_id, settings)
            with core_unit(engine) as u:
                cashier = find_user(orm(u), ctx, store.cashiers[0])
            as_cashier = ctx.acting(Actor(id_of(cashier), cashier.username))
            started = time.perf_counter()
            _sell(engine, as_cashier, store.tills[0], store.barcodes, store.price_fen, args.sales)
            _exchanges(engine, ctx, args.exchanges)
            built = time.perf_counter() - started
            verify_s, floor_s = [], []
            report = None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                with read_session(engine) as s:
                    report = audit.verify(s, store_id)
                verify_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                rows = _floor(engine, store_id)
                floor_s.append(time.perf_counter() - t0)
        finally:
            engine.dispose()
    assert report is not None
    print(f"bench_audit_verify: {args.sales} cash sales of 3 lines, {args.exchanges} message exchanges "
          f"(built in {built:.1f} s)")
    print(f"  audit verify        {min(verify_s) * 1000:8.0f} ms  (best of {args.repeat}; {report.entries} entries, "
          f"{report.rows_checked} rows checked, {len(report.problems)} problems)")
    print(f"  floor: every row    {min(floor_s) * 1000:8.0f} ms  ({rows} rows read, nothing compared)")
    print(f"  ratio               {min(verify_s) / min(floor_s):8.1f}x")


if __name__ == "__main__":
    main()
