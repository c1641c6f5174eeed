"""ST-05, ST-07: declarations derived from the period's settlements (fund part, by clearing group, dated by the
centre's day, refunds netted), payments from the agency's notices, write-offs never owed, duplicates due back, the
reserve's year-end assessment, overdue on the store's working-day calendar — and the walk-arounds refused with
nothing written. One busy store for the module (SQLite); the database's guards on both backends."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, exc, insert, text
from sqlmodel import select

from server import audit
from server.audit import Actor
from server.config import Settings
from server.db.engine import make_engine
from server.db.models import CardSettlement, SaleInsured, User
from server.db.models.base import id_of, table_of
from server.db.models.money import Declaration
from server.db.models.selling import Sale, Shift
from server.db.uow import core_unit, read_session
from server.errors import AppError
from server.rules.receivables import HOLIDAY, WORKDAY
from server.services.context import Ctx
from server.services.insurance import calendar, declarations, receivables
from server.services.store.profile import bootstrap_store, register_till
from tests.conftest import add_role_users, make_settings

SH = ZoneInfo("Asia/Shanghai")
STORE_ADMDVS = "440300"
LOCAL = ("310", "41", "440300", STORE_ADMDVS)  # 职工医保, 普通门诊, the store's own agency, insured here
NONLOCAL = ("310", "41", "440300", "110100")  # insured in Beijing: 异地


@dataclass
class Money:
    engine: Engine
    settings: Settings
    store_id: int
    admin: Actor
    manager: Actor
    cashier: Actor

    def at(self, when: datetime, actor: Actor | None = None) -> Ctx:
        """The context at an instant of the store's clock (the tests drive time, they never read it)."""
        return Ctx(self.store_id, self.settings, actor or self.admin, when.astimezone(ZoneInfo("UTC")))

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())

    def audit_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM audit_entry")).scalar_one())


def _settle(m: Money, till_id: int, shift_id: int, n: int, created: datetime, setl_time: str, fund: int,
            group: tuple[str, str, str, str], cancelled_at: datetime | None = None) -> None:
    """A completed card sale and its settlement as the centre answered it (and its 2103, if cancelled)."""
    insutype, clr_type, clr_optins, insuplc = group
    sale_id = str(uuid.uuid4())
    uid = m.admin.user_id
    cancel_msgid = f"P44030000001{cancelled_at.astimezone(SH):%Y%m%d%H%M%S}0001" if cancelled_at else ""
    with m.engine.begin() as conn:
        conn.execute(insert(table_of(Sale)).values(
            id=sale_id, store_id=m.store_id, till_id=till_id, shift_id=shift_id, status="completed", opened_by=uid,
            opened_at=created, total_fen=fund * 2, business_date=created.astimezone(SH).date(), day_no=n,
            sale_no=f"S{n:05d}", completed_by=uid, completed_at=created, change_fen=0, void_reason=""))
        conn.execute(insert(table_of(SaleInsured)).values(
            store_id=m.store_id, sale_id=sale_id, method="card", id_reason="", mdtrt_cert_type="03",
            mdtrt_cert_no="C1", card_sn="", psn_no=f"P{n}", psn_name="参保人", psn_cert_type="01",
            certno="440300199001011234", gend="1", insutype=insutype, psn_type="11", balc_fen=0,
            insuplc_admdvs=insuplc, buyer_name="", buyer_certno="", identified_by=uid, identified_at=created,
            signed_how="", signed_lines="", signature_sha256=""))
        conn.execute(insert(table_of(CardSettlement)).values(
            store_id=m.store_id, sale_id=sale_id, msgid=f"P44030000001{n:018d}",
            status="cancelled" if cancelled_at else "settled", medfee_sumamt_fen=fund * 2, fund_pay_fen=fund,
            acct_pay_fen=fund // 2, cash_pay_fen=fund - fund // 2, setl_id=f"SETL{n}", mdtrt_id=f"MD{n}", lines=[],
            answer={"setl_time": setl_time, "insutype": insutype, "clr_type": clr_type, "clr_optins": clr_optins},
            error="", created_by=uid, created_at=created, resolved_at=created, cancel_msgid=cancel_msgid,
            cancel_reason="退货" if cancelled_at else ""))


def _sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SH)


@pytest.fixture(scope="module")
def money(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Money]:
    path = tmp_path_factory.mktemp("money") / "money.db"
    shutil.copy(sqlite_template, path)
    settings = make_settings(f"sqlite:///{path}")
    engine = make_engine(settings.database.url)
    store_id = bootstrap_store(engine, settings)
    ctx = Ctx(store_id, settings)
    add_role_users(engine, ctx)
    with read_session(engine) as s:
        people = {u.username: Actor(id_of(u), u.username) for u in s.exec(select(User))}
    m = Money(engine, settings, store_id, people["u_insurance_admin"], people["u_manager"], people["u_cashier"])
    with core_unit(engine) as u:
        till_id = id_of(register_till(u, ctx, "T01", "1号台", ""))
    with engine.begin() as conn:
        shift_id = conn.execute(insert(table_of(Shift)).values(
            store_id=store_id, till_id=till_id, status="open", business_date=date(2026, 1, 1), float_fen=0,
            opened_by=m.admin.user_id, opened_at=_sh(2026, 1, 1, 8)).returning(table_of(Shift).c.id)).scalar_one()
    # January 2026, as the centre dates it
    _settle(m, till_id, shift_id, 1, _sh(2026, 1, 10, 10), "2026-01-10 10:00:05", 10_000, LOCAL)
    _settle(m, till_id, shift_id, 2, _sh(2025, 12, 31, 23, 59, 59), "2026-01-01 00:00:01", 3_000, LOCAL)  # centre: Jan
    _settle(m, till_id, shift_id, 3, _sh(2026, 1, 15, 9), "2026-01-15 09:00:00", 5_000, NONLOCAL,
            cancelled_at=_sh(2026, 1, 20, 11))  # refunded in January: nets to nothing
    _settle(m, till_id, shift_id, 4, _sh(2026, 1, 20, 15), "2026-01-20 15:00:00", 7_000, LOCAL,
            cancelled_at=_sh(2026, 2, 3, 10))  # refunded in February: netted there
    _settle(m, till_id, shift_id, 5, _sh(2026, 1, 31, 23, 59, 59), "2026-02-01 00:00:01", 8_000, LOCAL)  # centre: Feb
    _settle(m, till_id, shift_id, 6, _sh(2026, 2, 27, 10), "2026-02-27 10:00:00", 30_000, LOCAL)
    # the 2026 Spring Festival as the State Council's notice set it
    with core_unit(engine) as u:
        for i in range(9):
            calendar.set_day(u, m.at(_sh(2026, 1, 5, 9)), date(2026, 2, 15) + timedelta(days=i), HOLIDAY, "春节")
        for d in (date(2026, 2, 14), date(2026, 2, 28)):
            calendar.set_day(u, m.at(_sh(2026, 1, 5, 9)), d, WORKDAY, "春节调休")
    with core_unit(engine) as u:  # January declared on 5 February, February on 4 March
        declarations.declare(u, m.at(_sh(2026, 2, 5, 10)), date(2026, 1, 1))
    with core_unit(engine) as u:
        declarations.declare(u, m.at(_sh(2026, 3, 4, 10)), date(2026, 2, 1))
    yield m
    engine.dispose()


def _decl(m: Money, start: date) -> Declaration:
    with read_session(m.engine) as s:
        row = s.exec(select(Declaration).where(Declaration.period_start == start)).one()
        s.expunge(row)
        return row


def test_the_declaration_is_the_fund_part_by_clearing_group_dated_by_the_centre(money: Money) -> None:
    jan, feb = _decl(money, date(2026, 1, 1)), _decl(money, date(2026, 2, 1))
    assert jan.declared_fen == 10_000 + 3_000 + 5_000 - 5_000 + 7_000
    assert {(g["label"], g["fund_fen"], g["settlements"], g["refunds"]) for g in jan.groups} == {
        ("310/41/440300/本地", 20_000, 3, 0), ("310/41/440300/异地", 0, 1, 1)}
    assert feb.declared_fen == 8_000 + 30_000 - 7_000  # the 23:59:59 sale the centre dated 1 February; Jan's refund
    assert jan.interim_ratio == "0.90" and jan.declared_on == date(2026, 2, 5)
    with read_session(money.engine) as s:  # derived, never typed: a fresh derivation says the same
        period = declarations.period_at(money.at(_sh(2026, 6, 1, 9)), date(2026, 1, 1))
        assert period is not None
        again = declarations.derive(s, money.at(_sh(2026, 6, 1, 9)), period)
    assert again.declared_fen == jan.declared_fen and again.groups == jan.groups


@pytest.mark.refuses("ST-05")
def test_a_period_is_declared_once_and_only_when_ended(money: Money) -> None:
    before = (money.count("declaration"), money.audit_seq())
    for when, start in ((_sh(2026, 3, 20, 9), date(2026, 3, 1)),  # March has not ended
                        (_sh(2026, 4, 2, 9), date(2026, 1, 1)),  # January again
                        (_sh(2026, 4, 2, 9), date(2026, 3, 15))):  # not a period's first day
        with pytest.raises(AppError) as refused, core_unit(money.engine) as u:
            declarations.declare(u, money.at(when), start)
        assert refused.value.code == "ST-05"
    assert (money.count("declaration"), money.audit_seq()) == before


def test_payments_write_offs_and_a_duplicate_in_the_view(money: Money) -> None:
    """January: 90 % of what is not written off is paid; the reserve is held; a refused amount is never owed; the
    same notice recorded twice — on January again, or on February — is due back."""
    jan, feb = id_of(_decl(money, date(2026, 1, 1))), id_of(_decl(money, date(2026, 2, 1)))
    ctx = money.at(_sh(2026, 3, 10, 10))
    with core_unit(money.engine) as u:
        receivables.write_off(u, ctx, jan, "refused", 2_000, "超量开药，经办机构拒付", date(2026, 3, 9), "JJ-01")
        receivables.record_payment(u, ctx, jan, 16_200, date(2026, 3, 9), "BF-2026-031")
        receivables.record_payment(u, ctx, jan, 16_200, date(2026, 3, 10), "BF-2026-031")  # the notice typed again
        receivables.record_payment(u, ctx, feb, 16_200, date(2026, 3, 10), "bf-2026-031")  # and against February
    with read_session(money.engine) as s:
        view = receivables.view(s, money.at(_sh(2026, 3, 10, 12), money.manager), 2026)
        history = receivables.history(s, ctx, jan)
    row = next(r for r in view["declarations"] if r["declaration_id"] == jan)
    assert (row["declared_fen"], row["written_off_fen"], row["approved_fen"]) == (20_000, 2_000, 18_000)
    assert (row["interim_due_fen"], row["reserve_fen"], row["paid_interim_fen"]) == (16_200, 1_800, 16_200)
    assert (row["outstanding_fen"], row["due_back_fen"], row["overdue"]) == (0, 16_200, False)
    assert [p["duplicate"] for p in history["payments"]] == [False, True]
    other = next(r for r in view["declarations"] if r["declaration_id"] == feb)
    assert (other["paid_interim_fen"], other["due_back_fen"]) == (0, 16_200)  # one notice, one declaration
    assert row["due_on"] == date(2026, 3, 25)  # 30 working days across the Spring Festival and two 调休 Saturdays
    assert 2026 not in view["calendar_missing_years"]


def test_overdue_on_the_working_day_calendar_and_the_store_clock(money: Money) -> None:
    """February declared on 4 March 2026 (no holiday in its 30 working days): due 15 April; the day after, unpaid,
    it is overdue; a day before, not."""
    feb = id_of(_decl(money, date(2026, 2, 1)))
    for when, overdue in ((_sh(2026, 4, 15, 23, 59, 59), False), (_sh(2026, 4, 16, 0, 0, 1), True)):
        with read_session(money.engine) as s:
            row = next(r for r in receivables.view(s, money.at(when))["declarations"] if r["declaration_id"] == feb)
        assert row["due_on"] == date(2026, 4, 15)
        assert row["overdue"] is overdue, when
    with read_session(money.engine) as s:  # what the checklist's items 5 and 6 are given
        facts = receivables.checklist_facts(s, money.at(_sh(2026, 4, 16, 0, 0, 1)))
    assert ("2026-02", date(2026, 4, 15)) in [(o["period"], o["due_on"]) for o in facts["overdue"]]
    assert facts["undeclared"] == ["2026-03"] and facts["deposits"][0]["year"] == 2026
    with read_session(money.engine) as s:  # March ended on the store's clock and is not declared yet
        assert receivables.view(s, money.at(_sh(2026, 4, 1, 0, 0, 1)), 2026)["undeclared"] == ["2026-03"]
        assert receivables.view(s, money.at(_sh(2026, 3, 31, 23, 59, 59)), 2026)["undeclared"] == []


@pytest.mark.refuses("ST-05", "ST-07")
def test_the_walk_arounds_are_refused_and_nothing_is_written(money: Money) -> None:
    """A payment back-dated before the declaration, one dated tomorrow, a write-off made negative to carry a refusal as owed again, one beyond the declaration, one with no
    reason: each refused, no row and no audit entry written."""
    feb = id_of(_decl(money, date(2026, 2, 1)))
    ctx = money.at(_sh(2026, 4, 1, 10))
    before = (money.count("receivable_payment"), money.count("receivable_write_off"), money.audit_seq())
    attempts: list[tuple[str, Any]] = [
        ("ST-05", lambda u: receivables.record_payment(u, ctx, feb, 27_900, date(2026, 3, 3), "BF-0303")),
        ("ST-05", lambda u: receivables.record_payment(u, ctx, feb, 27_900, date(2026, 4, 2), "BF-0402")),
        ("ST-07", lambda u: receivables.write_off(u, ctx, feb, "refused", -5_000, "转回应收", date(2026, 4, 1))),
        ("ST-07", lambda u: receivables.write_off(u, ctx, feb, "penalty", 31_001, "违约金", date(2026, 4, 1))),
        ("ST-07", lambda u: receivables.write_off(u, ctx, feb, "deduction", 100, "  ", date(2026, 4, 1))),
        ("ST-07", lambda u: receivables.write_off(u, ctx, feb, "deduction", 100, "扣款", date(2026, 3, 1))),
    ]
    for rule, attempt in attempts:
        with pytest.raises(AppError) as refused, core_unit(money.engine) as u:
            attempt(u)
        assert refused.value.code == rule, refused.value.body()
    assert (money.count("receivable_payment"), money.count("receivable_write_off"), money.audit_seq()) == before


@pytest.mark.refuses("ST-05")
def test_the_reserve_is_held_until_the_year_end_assessment(money: Money) -> None:
    """2026's reserve: refused back before the year ends or is assessed; the assessment deducts part; the rest comes
    back as a reserve payment; the deposit then holds nothing."""
    feb = id_of(_decl(money, date(2026, 2, 1)))
    with read_session(money.engine) as s:
        held = receivables.deposit(s, money.at(_sh(2026, 12, 1, 9)), 2026).held_fen
    assert held > 0
    with pytest.raises(AppError) as early, core_unit(money.engine) as u:
        receivables.assess(u, money.at(_sh(2026, 12, 31, 23, 59, 59)), 2026, 0)  # the year has not ended
    assert early.value.code == "ST-05"
    with pytest.raises(AppError) as unassessed, core_unit(money.engine) as u:
        receivables.record_payment(u, money.at(_sh(2027, 1, 5, 9)), feb, 100, date(2027, 1, 5), "BZJ-0", "reserve")
    assert unassessed.value.code == "ST-05"
    with pytest.raises(AppError) as too_much, core_unit(money.engine) as u:
        receivables.assess(u, money.at(_sh(2027, 1, 20, 9)), 2026, held + 1, "考核扣分")
    assert too_much.value.code == "ST-05"
    with core_unit(money.engine) as u:
        receivables.assess(u, money.at(_sh(2027, 1, 20, 9)), 2026, 500, "年度考核扣分", "KH-2026")
    with core_unit(money.engine) as u:
        receivables.record_payment(u, money.at(_sh(2027, 2, 1, 9)), feb, held - 500, date(2027, 2, 1), "BZJ-2026",
                                   "reserve")
    with read_session(money.engine) as s:
        dep = receivables.deposit(s, money.at(_sh(2027, 2, 1, 12)), 2026)
        v = receivables.view(s, money.at(_sh(2027, 2, 1, 12)), 2026)
    assert (dep.held_fen, dep.deducted_fen, dep.returned_fen, dep.still_held_fen, dep.due_back_fen) == (
        held, 500, held - 500, 0, 0)
    assert (v["deposits"][0]["assessed"], v["deposits"][0]["released_fen"]) == (True, held - 500)


def test_every_money_row_verifies_against_its_audit_image(money: Money) -> None:
    ctx = money.at(_sh(2026, 9, 1, 9))
    with core_unit(money.engine) as u:  # a day listed by mistake and taken off again: both audited
        calendar.set_day(u, ctx, date(2026, 9, 26), WORKDAY, "误录")
    with core_unit(money.engine) as u:
        calendar.remove_day(u, ctx, date(2026, 9, 26))
    with pytest.raises(AppError) as weekday, core_unit(money.engine) as u:
        calendar.set_day(u, ctx, date(2026, 9, 25), WORKDAY)  # a Friday is worked anyway
    assert weekday.value.code == "ST-05"
    with read_session(money.engine) as s:
        report = audit.verify(s, money.store_id)
    mine = {"holiday_day", "declaration", "receivable_payment", "receivable_write_off", "reserve_assessment"}
    assert [p for p in report.problems if p.get("table") in mine] == []


# --- the database's guards, on both backends ---------------------------------------------------------------------

@pytest.mark.refuses("ST-07", "ST-02")
def test_a_write_off_carried_as_owed_by_raw_sql_is_refused(engine: Engine, ctx: Ctx, clock: Any) -> None:
    """Behind the service: a write-off zeroed or deleted, a payment or a declaration changed — the database
    refuses each, on SQLite and PostgreSQL."""
    add_role_users(engine, ctx)
    with read_session(engine) as s:
        admin = s.exec(select(User).where(User.username == "u_insurance_admin")).one()
    now = _sh(clock.today.year, clock.today.month, 1, 9) + timedelta(days=40)
    acting = Ctx(ctx.store_id, ctx.settings, Actor(id_of(admin), admin.username), now.astimezone(ZoneInfo("UTC")))
    start = date(clock.today.year, clock.today.month, 1)
    with core_unit(engine) as u:
        decl = declarations.declare(u, acting, start)
        decl_id = id_of(decl)
    with core_unit(engine) as u:  # nothing settled: declared 0; a write-off of 0 would be refused, so pay nothing
        receivables.record_payment(u, acting, decl_id, 100, acting.today, "BF-X")
    for sql in ("UPDATE declaration SET declared_fen = declared_fen + 1000",
                "DELETE FROM declaration",
                "UPDATE receivable_payment SET amount_fen = 0",
                "DELETE FROM receivable_payment"):
        with pytest.raises(exc.DBAPIError), engine.begin() as conn:
            conn.execute(text(sql))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT amount_fen FROM receivable_payment")).scalar_one() == 100
        assert conn.execute(text("SELECT declared_fen FROM declaration")).scalar_one() == 0
