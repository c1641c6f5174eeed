"""A declaration (申报) derived from a month of card settlements, and the year's receivables view, beside a bare SQL
aggregate of the same settlements in the same run: `python -m bench.bench_receivables [--per-day 330] [--rounds 3]`.

A year of card settlements (by default 330 a day, ~120,000: 40 % of a busy store's ~300,000 sales) with the centre's
answer, one in fifty refunded, over four clearing groups, written in bulk on a fresh SQLite file. The figure is the
derivation of one month (server.services.insurance.declarations.derive: rows read around the period, each dated by
the centre's settlement time and grouped by server.insurance.clearing) against `SELECT sum(fund) … GROUP BY` over
the same month by our own timestamp (which dates a midnight settlement wrongly: the ratio is the price of being
right), then the view of twelve declared months.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench._stock_store import otc_store
from server.audit import Actor
from server.db.models import CardSettlement, SaleInsured
from server.db.models.base import id_of, table_of
from server.db.models.selling import Sale, Shift
from server.db.uow import core_unit, read_session
from server.roles import Role
from server.rules.receivables import Period
from server.services.context import Ctx
from server.services.insurance import declarations, receivables
from server.services.store.profile import register_till
from server.services.store.users import add_user

SH = ZoneInfo("Asia/Shanghai")
YEAR = 2026
GROUPS = [("310", "41", "440300", "440300"), ("390", "41", "440300", "440300"), ("310", "41", "440300", "110100"),
          ("310", "99", "440300", "440300")]


def _fill(engine: sa.Engine, ctx: Ctx, per_day: int) -> int:
    with core_unit(engine) as u:
        till_id = id_of(register_till(u, ctx, "T01", "1号台", ""))
    uid = ctx.actor.user_id
    with engine.begin() as conn:
        shift_id = conn.execute(sa.insert(table_of(Shift)).values(
            store_id=ctx.store_id, till_id=till_id, status="open", business_date=date(YEAR, 1, 1), float_fen=0,
            opened_by=uid, opened_at=datetime(YEAR, 1, 1, tzinfo=UTC)).returning(table_of(Shift).c.id)).scalar_one()
    n = 0
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        sales, insured, settlements = [], [], []
        for k in range(per_day):
            n += 1
            at = datetime(day.year, day.month, day.day, 8, tzinfo=SH) + timedelta(seconds=k * 50_000 // per_day)
            g = GROUPS[n % len(GROUPS)]
            sid = str(uuid.uuid4())
            fund = 1_000 + n % 9_000
            refunded = n % 50 == 0
            sales.append({"id": sid, "store_id": ctx.store_id, "till_id": till_id, "shift_id": shift_id,
                          "status": "completed", "opened_by": uid, "opened_at": at, "total_fen": fund * 2,
                          "business_date": day, "day_no": k + 1, "sale_no": f"S{n}", "completed_by": uid,
                          "completed_at": at, "change_fen": 0, "void_reason": ""})
            insured.append({"store_id": ctx.store_id, "sale_id": sid, "method": "card", "id_reason": "",
                            "mdtrt_cert_type": "03", "mdtrt_cert_no": "C", "card_sn": "", "psn_no": f"P{n}",
                            "psn_name": "参保人", "psn_cert_type": "01", "certno": "440300199001011234", "gend": "1",
                            "insutype": g[0], "psn_type": "11", "balc_fen": 0, "insuplc_admdvs": g[3],
                            "buyer_name": "", "buyer_certno": "", "identified_by": uid, "identified_at": at,
                            "signed_how": "", "signed_lines": "", "signature_sha256": ""})
            cancel = (at + timedelta(days=3)).astimezone(SH)
            settlements.append({
                "store_id": ctx.store_id, "sale_id": sid, "msgid": f"P44030000001{n:018d}",
                "status": "cancelled" if refunded else "settled", "medfee_sumamt_fen": fund * 2, "fund_pay_fen": fund,
                "acct_pay_fen": fund // 2, "cash_pay_fen": fund - fund // 2, "setl_id": f"S{n}", "mdtrt_id": f"M{n}",
                "lines": [], "answer": {"setl_time": f"{at.astimezone(SH):%Y-%m-%d %H:%M:%S}", "insutype": g[0],
                                        "clr_type": g[1], "clr_optins": g[2]},
                "error": "", "created_by": uid, "created_at": at, "resolved_at": at,
                "cancel_msgid": f"P44030000001{cancel:%Y%m%d%H%M%S}0001" if refunded else "",
                "cancel_reason": "退货" if refunded else ""})
        with engine.begin() as conn:
            conn.execute(sa.insert(table_of(Sale)), sales)
            conn.execute(sa.insert(table_of(SaleInsured)), insured)
            conn.execute(sa.insert(table_of(CardSettlement)), settlements)
        day += timedelta(days=1)
    return n


def _bare(engine: sa.Engine, period: Period) -> tuple[float, int]:
    """The month's fund part by 险种 and 参保地, by our own timestamp, refunds by status: one aggregate."""
    cs, si = table_of(CardSettlement), table_of(SaleInsured)
    lo = datetime.combine(period.start, datetime.min.time(), SH)
    hi = datetime.combine(period.end + timedelta(days=1), datetime.min.time(), SH)
    q = (sa.select(si.c.insutype, si.c.insuplc_admdvs, sa.func.sum(cs.c.fund_pay_fen), sa.func.count())
         .join(si, si.c.sale_id == cs.c.sale_id)
         .where(cs.c.status.in_(("settled", "cancelled")), cs.c.created_at >= lo, cs.c.created_at < hi)
         .group_by(si.c.insutype, si.c.insuplc_admdvs))
    t0 = time.perf_counter()
    with engine.connect() as conn:
        total = sum(int(r[2]) for r in conn.execute(q))
    return (time.perf_counter() - t0) * 1000, total


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-day", type=int, default=330)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        engine, ctx, _, _, _ = otc_store(Path(tmp), "receivables", 1, "药师")
        with core_unit(engine) as u:
            admin = add_user(u, ctx, "bench_ia", "医保管理员", "8642", {Role.INSURANCE_ADMIN})
        acting = ctx.acting(Actor(id_of(admin), "bench_ia"))
        t0 = time.perf_counter()
        n = _fill(engine, acting, args.per_day)
        print(f"receivables: {n:,} card settlements over {YEAR} written in {time.perf_counter() - t0:.1f} s")
        june = Period(date(YEAR, 6, 1), date(YEAR, 6, 30))
        derived_ms, bare_ms = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            with read_session(engine) as s:
                d = declarations.derive(s, acting, june)
            derived_ms.append((time.perf_counter() - t0) * 1000)
            ms, bare_total = _bare(engine, june)
            bare_ms.append(ms)
        dm, bm = statistics.median(derived_ms), statistics.median(bare_ms)
        print(f"  derive June ({d.settlements:,} rows, {len(d.groups)} groups, {d.declared_fen / 100:,.2f} 元): "
              f"median {dm:.0f} ms; bare GROUP BY {bm:.0f} ms (ratio {dm / bm:.1f}×; "
              f"bare total {bare_total / 100:,.2f} 元 by our own clock, refunds not netted)")
        for month in range(1, 13):
            when = datetime(YEAR + (month == 12), month % 12 + 1, 2, 10, tzinfo=SH).astimezone(UTC)
            with core_unit(engine) as u:
                declarations.declare(u, Ctx(ctx.store_id, ctx.settings, acting.actor, when), date(YEAR, month, 1))
        at = Ctx(ctx.store_id, ctx.settings, acting.actor, datetime(YEAR + 1, 3, 1, tzinfo=UTC))
        t0 = time.perf_counter()
        with read_session(engine) as s:
            v = receivables.view(s, at, YEAR)
        view_ms = (time.perf_counter() - t0) * 1000
        print(f"  the year's receivables view (12 declarations, deposits): {view_ms:.0f} ms; "
              f"declared {v['totals']['declared_fen'] / 100:,.2f} 元, overdue {v['totals']['overdue']}")
        engine.dispose()


if __name__ == "__main__":
    main()
