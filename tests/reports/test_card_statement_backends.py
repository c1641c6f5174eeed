"""The card statement reads of each stored 2102 answer only what it shows, picked out in the database (reports.queries
.card_settlements: SQLite's json_extract, PostgreSQL's jsonb in a lateral subquery). On both backends: one row per
settlement, each with its own answer's figures, and a key the centre left out told from one it sent as null."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import Engine

from reports import card_statement
from server.audit import Actor
from server.db.uow import core_unit
from server.roles import Role
from server.services.context import Ctx
from server.services.store import shifts
from server.services.store.profile import register_till
from server.services.store.users import add_user

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 10)


def _answer(n: int, **fields: Any) -> dict[str, Any]:
    return {"setl_id": f"S{n}", "setl_time": f"2026-12-10 1{n}:00:00", "insutype": "310", "psn_type": "11",
            "psn_name": "测试", "clr_type": "41", "clr_optins": "440300", "fulamt_ownpay_amt": f"0.0{n}",
            "overlmt_selfpay": "0.00", "preselfpay_amt": "0.00", **fields}


def _store(engine: Engine, ctx: Ctx, answers: list[tuple[str, dict[str, Any] | None]]) -> None:
    """Sales of 10.00 yuan, each with a card settlement (status, answer): fund 7.00, account 2.00, cash 1.00."""
    with core_unit(engine) as u:
        user = add_user(u, ctx, "stmt", "对账", "1234", {Role.CASHIER})
        register_till(u, ctx, "TS", "对账台", "")
        shift = shifts.open_shift(u, ctx.acting(Actor(user.id, "stmt")), "TS", 0)
    md = sa.MetaData()
    sale, insured, setl = (sa.Table(t, md, autoload_with=engine) for t in ("sale", "sale_insured", "card_settlement"))
    when = datetime(2026, 12, 10, 3, tzinfo=UTC)
    with engine.begin() as conn:
        for n, (status, answer) in enumerate(answers, start=1):
            sid = str(uuid.uuid4())
            conn.execute(sa.insert(sale), {
                "id": sid, "store_id": ctx.store_id, "till_id": shift.till_id, "shift_id": shift.id,
                "status": "completed", "opened_by": user.id, "opened_at": when, "total_fen": 1000, "change_fen": 0,
                "void_reason": "", "business_date": DAY, "day_no": n, "sale_no": f"20261210-{n:04d}",
                "completed_by": user.id, "completed_at": when})
            conn.execute(sa.insert(insured), {
                "store_id": ctx.store_id, "sale_id": sid, "method": "card", "id_reason": "", "mdtrt_cert_type": "03",
                "mdtrt_cert_no": "A1", "card_sn": "", "psn_no": f"P{n}", "psn_name": "测试", "psn_cert_type": "01",
                "certno": f"44030519800101{n:04d}", "gend": "1", "insutype": "310", "psn_type": "11", "balc_fen": 0,
                "insuplc_admdvs": "440300", "buyer_name": "", "buyer_certno": "", "identified_by": user.id,
                "identified_at": when})
            conn.execute(sa.insert(setl), {
                "store_id": ctx.store_id, "sale_id": sid, "msgid": f"M{n}", "status": status,
                "medfee_sumamt_fen": 1000, "fund_pay_fen": 700, "acct_pay_fen": 200, "cash_pay_fen": 100,
                "setl_id": f"S{n}", "mdtrt_id": f"S{n}", "lines": [], "answer": answer, "error": "",
                "created_by": user.id, "created_at": when, "resolved_at": when, "cancel_msgid": "",
                "cancel_reason": ""})


def test_each_row_has_its_own_answers_figures_on_both_backends(engine: Engine, ctx: Ctx) -> None:
    _store(engine, ctx, [
        ("settled", _answer(1, hifp_pay="5.00", psn_part_amt="3.00")),  # 统筹 5.00 of the fund's 7.00
        ("settled", _answer(2)),  # no 统筹 and no 个人负担 sent: the booked fund and account + cash stand in
        ("settled", _answer(3, hifp_pay=None, psn_part_amt=3.0)),  # 统筹 sent as null: none of the fund is 统筹
        ("failed", _answer(4, hifp_pay="7.00")),  # never settled: not on the statement
        ("pending", None),
    ])
    st = card_statement.card_statement(engine, ctx.store_id, DAY, DAY, TZ, "440300")
    # one row per settlement the centre made, none from another's answer (a join gone wrong repeats them)
    assert [r.setl_id for r in st.rows] == ["S1", "S2", "S3"]
    got = {r.setl_id: (r.money.hifp, r.money.other_funds, r.money.psn_part, r.money.fulamt_ownpay,
                       r.setl_time.hour if r.setl_time else None) for r in st.rows}
    assert got == {"S1": (500, 200, 300, 1, 11), "S2": (700, 0, 300, 2, 12), "S3": (0, 700, 300, 3, 13)}
    assert not st.problems()
    assert (st.total.settlements, st.total.money.hifp, st.total.money.fund) == (3, 1200, 2100)


def test_the_collector_waits_for_the_reports_and_comes_back_as_it_was() -> None:
    import gc
    import sys
    import threading

    from reports import collector

    assert gc.isenabled()
    usual = sys.getswitchinterval()
    inside = threading.Event()
    leave = threading.Event()

    def other_report() -> None:
        with collector.paused():
            inside.set()
            leave.wait(5)

    t = threading.Thread(target=other_report)
    with collector.paused():
        assert not gc.isenabled() and sys.getswitchinterval() == collector.REPORT_SWITCH_INTERVAL_S < usual
        t.start()
        assert inside.wait(5)
    # the other report still runs: the first to finish does not turn the collector back on nor slow the switching
    assert not gc.isenabled() and sys.getswitchinterval() == collector.REPORT_SWITCH_INTERVAL_S
    leave.set()
    t.join(5)
    assert gc.isenabled() and sys.getswitchinterval() == usual  # no report: a scan is not made to switch for nothing
    # a collector off before the report (the service's start-up turns it off) stays off after it
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
