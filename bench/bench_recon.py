"""The reconciliation's reading of our books for a busy month: `python -m bench.bench_recon [--per-day 300]
[--rounds 3]`.

A month of card settlements is written by bulk insert (sales, their insured persons, the settlements with their
stored 2102 answers, 2% cancelled with the 2103 answer in the message log), then timed in the same run:

- a day's 3201 totals per clearing group as the reconciliation builds them (server.services.recon.books: every
  answer read, grouped, dated by the centre's setl_time) beside a bare SQL SUM of the same day's settlement rows;
- the month close's seam (month_blockers: every day × group of the month judged) beside a bare GROUP BY over the
  month's rows.

The ratio is the figure: what reading the answers (never recomputing) costs over summing our own columns.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench._common import write_config
from server.config import load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.db.uow import read_unit
from server.services.context import Ctx
from server.services.recon import books
from server.services.recon.blockers import month_blockers
from server.services.store.profile import bootstrap_store

SH = ZoneInfo("Asia/Shanghai")
FIRST = date(2026, 11, 1)
DAYS = 30


def _filled(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """values, and a plain value for every other NOT NULL column without a default (bench rows, nothing checked)."""
    row = dict(values)
    for c in table.c:
        if c.name in row or c.nullable or c.default is not None or c.server_default is not None or c.primary_key:
            continue
        t = c.type.python_type if hasattr(c.type, "python_type") else str
        row[c.name] = {int: 0, bool: False, str: "x", datetime: datetime(2026, 11, 1, tzinfo=UTC),
                       date: FIRST}.get(t, "x")
    return row


def _generate(engine: Any, store_id: int, per_day: int, seed: int = 21) -> int:
    rnd = random.Random(seed)
    md = sa.MetaData()
    names = ("app_user", "till", "shift", "sale", "sale_insured", "card_settlement", "insurance_message")
    user, till, shift, sale, insured, setl, msg = (sa.Table(t, md, autoload_with=engine) for t in names)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        uid = conn.execute(sa.insert(user).values(_filled(user, {"store_id": store_id, "username": "bench",
                                                                  "display_name": "bench", "status": "active"}))
                           .returning(user.c.id)).scalar_one()
        tid = conn.execute(sa.insert(till).values(_filled(till, {"store_id": store_id, "code": "T-BENCH"}))
                           .returning(till.c.id)).scalar_one()
        sid = conn.execute(sa.insert(shift).values(_filled(shift, {"store_id": store_id, "till_id": tid,
                                                                    "opened_by": uid, "opened_at": now}))
                           .returning(shift.c.id)).scalar_one()
        n = 0
        for d in range(DAYS):
            day = FIRST + timedelta(days=d)
            sales, people, settlements, messages = [], [], [], []
            for k in range(per_day):
                n += 1
                at = datetime(day.year, day.month, day.day, 8, tzinfo=SH) + timedelta(seconds=rnd.randrange(14 * 3600))
                sale_id, msgid = str(uuid.uuid4()), f"H44030000001{at:%Y%m%d%H%M%S}{n % 10000:04d}"
                away = rnd.random() < 0.1
                admdvs, insutype = ("310100" if away else "440300"), rnd.choice(("310", "390"))
                fee = rnd.randint(500, 30000)
                fund, acct = fee * 6 // 10, fee // 5
                answer = {"setl_id": f"S{n:012d}", "mdtrt_id": f"M{n:012d}", "psn_no": f"P{n % 500:08d}",
                          "insutype": insutype, "setl_time": f"{at:%Y-%m-%d %H:%M:%S}", "clr_type": "41",
                          "clr_optins": admdvs, "medfee_sumamt": f"{fee / 100:.2f}", "fund_pay_sumamt": f"{fund / 100:.2f}",
                          "acct_pay": f"{acct / 100:.2f}", "psn_cash_pay": f"{(fee - fund - acct) / 100:.2f}"}
                cancelled = rnd.random() < 0.02
                sales.append(_filled(sale, {"id": sale_id, "store_id": store_id, "till_id": tid, "shift_id": sid,
                                            "status": "completed", "opened_by": uid, "opened_at": at,
                                            "total_fen": fee, "business_date": day, "day_no": k + 1}))
                people.append(_filled(insured, {"store_id": store_id, "sale_id": sale_id, "psn_no": answer["psn_no"],
                                                "insutype": insutype, "insuplc_admdvs": admdvs, "identified_by": uid,
                                                "identified_at": at}))
                settlements.append(_filled(setl, {
                    "store_id": store_id, "sale_id": sale_id, "msgid": msgid,
                    "status": "cancelled" if cancelled else "settled", "medfee_sumamt_fen": fee, "fund_pay_fen": fund,
                    "acct_pay_fen": acct, "cash_pay_fen": fee - fund - acct, "setl_id": answer["setl_id"],
                    "mdtrt_id": answer["mdtrt_id"], "lines": [], "answer": answer, "created_by": uid, "created_at": at,
                    "resolved_at": at, "cancel_msgid": f"C{msgid[1:]}" if cancelled else ""}))
                if cancelled:
                    back = {**answer, "setl_id": f"R{n:012d}", "medfee_sumamt": f"-{answer['medfee_sumamt']}",
                            "fund_pay_sumamt": f"-{answer['fund_pay_sumamt']}", "acct_pay": f"-{answer['acct_pay']}",
                            "cash_payamt": "0", "setl_time": f"{at + timedelta(hours=1):%Y-%m-%d %H:%M:%S}"}
                    body = '{"infcode":0,"output":{"setlinfo":' + __import__("json").dumps(back) + "}}"
                    messages.append(_filled(msg, {"store_id": store_id, "msgid": f"C{msgid[1:]}", "infno": "2103",
                                                  "direction": "in", "at": at, "body": body, "outcome": "ok"}))
            conn.execute(sa.insert(sale), sales)
            conn.execute(sa.insert(insured), people)
            conn.execute(sa.insert(setl), settlements)
            if messages:
                conn.execute(sa.insert(msg), messages)
    return n


def _bare_day(engine: Any, store_id: int, day: date) -> int:
    lo, hi = datetime(day.year, day.month, day.day, tzinfo=SH), datetime(day.year, day.month, day.day, tzinfo=SH) \
        + timedelta(days=1)
    with engine.connect() as conn:
        return len(conn.execute(sa.text(
            "SELECT i.insutype, i.insuplc_admdvs, COUNT(*), SUM(s.medfee_sumamt_fen), SUM(s.fund_pay_fen), "
            "SUM(s.acct_pay_fen) FROM card_settlement s JOIN sale_insured i ON i.sale_id = s.sale_id "
            "WHERE s.store_id = :s AND s.resolved_at >= :lo AND s.resolved_at < :hi "
            "GROUP BY i.insutype, i.insuplc_admdvs"), {"s": store_id, "lo": lo.astimezone(UTC), "hi": hi.astimezone(UTC)})
            .all())


def _bare_month(engine: Any, store_id: int) -> int:
    with engine.connect() as conn:
        return len(conn.execute(sa.text(
            "SELECT date(s.resolved_at), i.insutype, i.insuplc_admdvs, COUNT(*), SUM(s.medfee_sumamt_fen) "
            "FROM card_settlement s JOIN sale_insured i ON i.sale_id = s.sale_id WHERE s.store_id = :s "
            "GROUP BY 1, 2, 3"), {"s": store_id}).all())


def _day_totals(engine: Any, ctx: Ctx, day: date) -> int:
    with read_unit(engine) as u:
        ours = books.booked(u, ctx.store_id, SH, ctx.settings.store.admdvs, day, day)
    groups = {b.group for b in ours}
    return len([books.totals(b for b in ours if b.group == g) for g in groups])


def _month(engine: Any, ctx: Ctx) -> int:
    with read_unit(engine) as u:
        return len(month_blockers(u, ctx.store_id, FIRST, FIRST + timedelta(days=DAYS - 1)))


def _timed(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--per-day", type=int, default=300, help="card settlements a day")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'recon.db'}"
        settings = load_settings(write_config(Path(tmp), url))
        engine = make_engine(url)
        try:
            upgrade(engine)
            ctx = Ctx(bootstrap_store(engine, settings), settings)
            t0 = time.perf_counter()
            n = _generate(engine, ctx.store_id, args.per_day)
            print(f"SQLite: {n} card settlements over {DAYS} days generated in {time.perf_counter() - t0:.1f} s")
            day = FIRST + timedelta(days=14)
            bare_ms, bare_groups = _timed(lambda: _bare_day(engine, ctx.store_id, day), args.rounds)
            ours_ms, groups = _timed(lambda: _day_totals(engine, ctx, day), args.rounds)
            print(f"  a day's 3201 totals from the stored answers: {ours_ms:.1f} ms ({groups} groups) beside the bare "
                  f"SUM of our columns {bare_ms:.1f} ms ({bare_groups} groups), same run -> {ours_ms / bare_ms:.1f}x "
                  f"(median of {args.rounds})")
            bare_ms, bare_rows = _timed(lambda: _bare_month(engine, ctx.store_id), args.rounds)
            month_ms, found = _timed(lambda: _month(engine, ctx), args.rounds)
            print(f"  the month's close seam (month_blockers, {found} day × group blockers: nothing reconciled) "
                  f"{month_ms:.0f} ms beside a bare GROUP BY of the month {bare_ms:.0f} ms ({bare_rows} rows), same "
                  f"run -> {month_ms / bare_ms:.1f}x")
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
