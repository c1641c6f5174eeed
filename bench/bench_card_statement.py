"""The card-purchase statement (ST-03) of a generated store, the month's and the year's, each beside a bare SQL
aggregate of the same settlements in the same run: `python -m bench.bench_card_statement [--sales 100000]
[--card-share 0.4] [--rounds 3] [--pg-url postgresql+psycopg://...]`.

The store is written by bulk insert (Core executemany, nothing checked): items (as bench_ledger_report makes them),
a year of completed sales of one to three lines, a card settlement on `--card-share` of them with the centre's
answer as the service stores it (setlinfo, ~40 fields) and its lines, the insured person, and 1 % of them cancelled
(2103) with the answer in the message log. The report is reports.card_statement.card_statement (rows, the clearing
groups, the daily groups); the bare aggregate is one GROUP BY over the same settlements and window. The ratio is
the figure; the month's XLSX and its PDF (reports.export.card_pdf) are timed, and the peak memory (tracemalloc) printed. SQLite by default; a PostgreSQL
URL runs the same on an empty database there.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench._common import write_config
from bench.bench_ledger_report import _generate as _items
from reports import card_statement
from reports.export import card_pdf, statements
from server.audit import Actor
from server.config import load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.db.uow import core_unit
from server.roles import Role
from server.services.context import Ctx
from server.services.store import shifts
from server.services.store.profile import bootstrap_store, register_till
from server.services.store.users import add_user

TZ = ZoneInfo("Asia/Shanghai")
REGIONS = ("440300", "440300", "440300", "440100")  # a quarter non-local
INSUTYPES = ("310", "310", "390")


def _answer(setl_id: str, when: datetime, medfee: int, fund: int, acct: int, insutype: str, region: str) -> dict[str, Any]:
    def y(fen: int) -> str:
        return f"{fen / 100:.2f}"

    return {"setl_id": setl_id, "mdtrt_id": setl_id, "psn_no": "P", "psn_name": "测试", "psn_cert_type": "01",
            "gend": "1", "naty": "01", "brdy": "1980-01-01", "age": "46", "insutype": insutype, "psn_type": "11",
            "cvlserv_flag": "0", "setl_time": when.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S"), "mdtrt_cert_type": "03",
            "med_type": "41", "medfee_sumamt": y(medfee), "fulamt_ownpay_amt": "0.00", "overlmt_selfpay": "0.00",
            "preselfpay_amt": "0.00", "inscp_scp_amt": y(medfee), "act_pay_dedc": "0.00", "hifp_pay": y(fund),
            "pool_prop_selfpay": "0.3", "cvlserv_pay": "0.00", "hifes_pay": "0.00", "hifmi_pay": "0.00",
            "hifob_pay": "0.00", "maf_pay": "0.00", "oth_pay": "0.00", "fund_pay_sumamt": y(fund),
            "psn_part_amt": y(medfee - fund), "acct_pay": y(acct), "psn_cash_pay": y(medfee - fund - acct),
            "balc": "100.00", "acct_mulaid_pay": "0.00", "medins_setl_id": setl_id, "clr_optins": region,
            "clr_way": "1", "clr_type": "41"}


def card_rows(rnd: random.Random, n: int, store_id: int, sale_id: str, when: datetime, lines: list[dict[str, Any]],
              user_id: int | None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """The insured person, the card settlement with the centre's answer and its lines, and — for 1 % of them,
    cancelled (2103) up to three days later — the 2103 answer in the message log, of sale `n` (bulk-insert rows)."""
    total = sum(ln["amount_fen"] for ln in lines)
    region, insutype = rnd.choice(REGIONS), rnd.choice(INSUTYPES)
    fund = total * 7 // 10
    acct = (total - fund) if rnd.random() < 0.7 else 0
    setl_id, msgid = f"S{n:012d}", f"M{n:012d}"
    cancelled = rnd.random() < 0.01
    insured = {
        "store_id": store_id, "sale_id": sale_id, "method": "card", "id_reason": "", "mdtrt_cert_type": "03",
        "mdtrt_cert_no": "A1", "card_sn": "", "psn_no": f"P{n % 5000:06d}", "psn_name": "测试",
        "psn_cert_type": "01", "certno": f"440305198001{n % 10000:06d}", "gend": "1", "insutype": insutype,
        "psn_type": "11", "balc_fen": 0, "insuplc_admdvs": region, "buyer_name": "", "buyer_certno": "",
        "identified_by": user_id, "identified_at": when}
    setl = {
        "store_id": store_id, "sale_id": sale_id, "msgid": msgid,
        "status": "cancelled" if cancelled else "settled", "medfee_sumamt_fen": total,
        "fund_pay_fen": fund, "acct_pay_fen": acct, "cash_pay_fen": total - fund - acct, "setl_id": setl_id,
        "mdtrt_id": setl_id, "lines": [{"feedetl_sn": str(ln["id"]), "med_list_codg": "X",
                                         "cnt": str(ln["qty"]), "pric_fen": ln["unit_price_fen"],
                                         "det_item_fee_sumamt_fen": ln["amount_fen"]} for ln in lines],
        "answer": _answer(setl_id, when, total, fund, acct, insutype, region), "error": "",
        "created_by": user_id, "created_at": when, "resolved_at": when,
        "cancel_msgid": f"C{n:012d}" if cancelled else "", "cancel_reason": "退药" if cancelled else ""}
    if not cancelled:
        return insured, setl, None
    later = when + timedelta(days=rnd.randint(0, 3))
    body = {"infcode": 0, "output": {"setlinfo": {"setl_id": f"R{n:012d}", "setl_time": later.astimezone(
        TZ).strftime("%Y-%m-%d %H:%M:%S")}}}
    return insured, setl, {"store_id": store_id, "msgid": f"C{n:012d}", "infno": "2103", "direction": "in",
                           "at": later, "body": json.dumps(body), "outcome": "ok", "err_msg": "",
                           "inf_refmsgid": "", "opter": "bench", "elapsed_ms": 5}


def _generate(engine: Any, ctx: Ctx, n_sales: int, share: float, year_end: date, seed: int = 3) -> None:
    rnd = random.Random(seed)
    _items(engine, ctx.store_id, 300, 300, 0, year_end)
    with core_unit(engine) as u:
        user = add_user(u, ctx, "bench", "压测", "1234", {Role.CASHIER})
        register_till(u, ctx, "T01", "1号台", "")
        shift = shifts.open_shift(u, ctx.acting(Actor(user.id, "bench")), "T01", 0)
    md = sa.MetaData()
    item, sale, line, insured, setl, msg = (sa.Table(t, md, autoload_with=engine) for t in (
        "item", "sale", "sale_line", "sale_insured", "card_settlement", "insurance_message"))
    start = year_end - timedelta(days=364)
    with engine.begin() as conn:
        items = [(r[0], r[1]) for r in conn.execute(sa.select(item.c.id, item.c.price_fen)
                                                    .where(item.c.store_id == ctx.store_id))]
    buf: dict[str, list[dict[str, Any]]] = {"sale": [], "line": [], "insured": [], "setl": [], "msg": []}
    line_id, per_day = 0, dict[date, int]()

    def flush(conn: Any) -> None:
        for key, table in (("sale", sale), ("line", line), ("insured", insured), ("setl", setl), ("msg", msg)):
            if buf[key]:
                conn.execute(sa.insert(table), buf[key])
                buf[key] = []

    with engine.begin() as conn:
        for n in range(n_sales):
            day = start + timedelta(days=rnd.randrange(365))
            when = datetime(day.year, day.month, day.day, 1 + rnd.randrange(14), rnd.randrange(60), tzinfo=UTC)
            per_day[day] = per_day.get(day, 0) + 1
            sid = str(uuid.UUID(int=rnd.getrandbits(128)))
            lines = []
            for k in range(rnd.randint(1, 3)):
                line_id += 1
                it, price = rnd.choice(items)
                qty = rnd.randint(1, 3)
                lines.append({"id": line_id, "store_id": ctx.store_id, "sale_id": sid, "line_no": k + 1, "item_id": it,
                              "split": False, "qty": qty, "unit_price_fen": price, "amount_fen": qty * price,
                              "added_at": when})
            total = sum(ln["amount_fen"] for ln in lines)
            buf["sale"].append({"id": sid, "store_id": ctx.store_id, "till_id": shift.till_id, "shift_id": shift.id,
                                "status": "completed", "opened_by": user.id, "opened_at": when, "total_fen": total,
                                "change_fen": 0, "void_reason": "", "business_date": day, "day_no": per_day[day],
                                "sale_no": f"{day:%Y%m%d}-{per_day[day]:04d}", "completed_by": user.id,
                                "completed_at": when})
            buf["line"] += lines
            if rnd.random() < share:
                insured_row, setl_row, msg_row = card_rows(rnd, n, ctx.store_id, sid, when, lines, user.id)
                buf["insured"].append(insured_row)
                buf["setl"].append(setl_row)
                if msg_row is not None:
                    buf["msg"].append(msg_row)
            if len(buf["line"]) >= 20_000:
                flush(conn)
        flush(conn)


def _bare(engine: Any, store_id: int, lo: datetime, hi: datetime) -> int:
    with engine.connect() as conn:
        return len(conn.execute(sa.text(
            "SELECT i.insutype, i.insuplc_admdvs, COUNT(*), SUM(s.medfee_sumamt_fen), SUM(s.fund_pay_fen), "
            "SUM(s.acct_pay_fen), SUM(s.cash_pay_fen) FROM card_settlement s JOIN sale_insured i ON i.sale_id = "
            "s.sale_id WHERE s.store_id = :s AND s.status IN ('settled', 'cancelled') AND s.resolved_at >= :lo "
            "AND s.resolved_at < :hi GROUP BY i.insutype, i.insuplc_admdvs"),
            {"s": store_id, "lo": lo, "hi": hi}).all())


def _timed(fn: Callable[[], Any], rounds: int) -> tuple[float, Any, float]:
    times, cpu, out = [], [], None
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(times), out, statistics.median(cpu)


def _run(engine: Any, ctx: Ctx, args: argparse.Namespace, label: str) -> None:
    year_end = date(2026, 12, 31)
    t0 = time.perf_counter()
    _generate(engine, ctx, args.sales, args.card_share, year_end)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM card_settlement")).scalar()
    print(f"{label}: generated {args.sales} sales, {n} card settlements in {time.perf_counter() - t0:.1f} s")
    for name, (start, end) in (("month", card_statement.period_of(year_end, "monthly")),
                               ("year", (year_end - timedelta(days=364), year_end))):
        lo = datetime.combine(start - timedelta(days=1), datetime.min.time(), TZ)
        hi = datetime.combine(end + timedelta(days=2), datetime.min.time(), TZ)
        bare_ms, groups, bare_cpu = _timed(partial(_bare, engine, ctx.store_id, lo, hi), args.rounds)
        run = partial(card_statement.card_statement, engine, ctx.store_id, start, end, TZ, "440300")
        report_ms, st, report_cpu = _timed(run, args.rounds)
        tracemalloc.start()
        run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert not st.problems()
        print(f"  {name} {start}..{end}: card statement {report_ms:.0f} ms ({len(st.rows)} rows, {len(st.by_group)} "
              f"groups) beside the bare aggregate {bare_ms:.0f} ms ({groups} groups), same run -> ratio "
              f"{report_ms / bare_ms:.1f}x (median of {args.rounds}); CPU {report_cpu:.0f} ms vs {bare_cpu:.0f} ms; "
              f"Python peak {peak / 2**20:.1f} MB")
        if name == "month":
            with tempfile.TemporaryDirectory() as tmp:
                x_ms, _, x_cpu = _timed(partial(statements.write_card, st, Path(tmp) / "m.xlsx", "xlsx"), 1)
                p_ms, _, p_cpu = _timed(partial(card_pdf.write, st, Path(tmp) / "m.pdf", "压测药房", "P44030000001",
                                                datetime.now(UTC), TZ), 1)
                pages = (Path(tmp) / "m.pdf").read_bytes().count(b"/Type /Page\n")
            print(f"  the month's XLSX: {x_ms:.0f} ms (CPU {x_cpu:.0f} ms); its PDF for the paper file: {p_ms:.0f} ms "
                  f"(CPU {p_cpu:.0f} ms, {pages} pages) -> PDF/XLSX {p_ms / x_ms:.1f}x, same run")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sales", type=int, default=100_000)
    parser.add_argument("--card-share", type=float, default=0.4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default="", help="also run on this (empty) PostgreSQL database")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("SQLite", f"sqlite:///{Path(tmp) / 'card.db'}")] + ([("PostgreSQL", args.pg_url)] if args.pg_url else [])
        for label, url in urls:
            settings = load_settings(write_config(Path(tmp), url))
            engine = make_engine(url)
            try:
                upgrade(engine)
                ctx = Ctx(bootstrap_store(engine, settings), settings)
                _run(engine, ctx, args, label)
            finally:
                engine.dispose()


if __name__ == "__main__":
    main()
