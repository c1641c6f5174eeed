"""The card-purchase statement (ST-03) and the 外配处方 statement (RX-09) of a busy store, made through the service
against the sandbox centre: card sales, a same-day refund (2103), a later-day reversal, a non-local insured person,
a 外配处方 and a sale at 23:59:59 Shanghai. Every figure is recomputed from raw rows written by others — the
centre's own ledger (the sandbox's settlements) and our card_settlement rows read with plain SQL — never by calling
the report; the files are reopened, their SUM formulas evaluated against the values and the ledger, and searched
for a whole identity number."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from catalog.codes import mask_id
from reports import card_statement, rx_statement
from reports.export.tables import FORMULA_LABEL, VALUE_LABEL
from server.config import Settings
from server.insurance.sandbox.persons import DEMO_PERSONS, DemoPerson
from tests import privacy_scan
from tests.conftest import (
    BARCODE_AMOX,
    BARCODE_MASK,
    BARCODE_VITC,
    ROLE_PINS,
    SECOND_INSURANCE_ADMIN,
    SECOND_INSURANCE_PIN,
    CardShop,
    Post,
    Shop,
    login,
    make_settings,
    second,
    till_login,
)
from tests.insurance import test_card_sale
from tests.insurance.test_card_sale import identify, sale_with, settle, waipei
from tests.reports.pdf_check import POPPLER
from tests.reports.pdf_check import text as pdf_text
from tests.server.test_duty_cli import _config

EMPLOYEE, RETIREE, NONLOCAL = DEMO_PERSONS[0], DEMO_PERSONS[1], DEMO_PERSONS[4]
WHOLE_ID = re.compile(rb"(?<!\d)\d{17}[\dXx](?!\d)")  # an 18-digit 居民身份证号, unmasked
SUM = re.compile(r"^=SUM\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)$")
card_shop = test_card_sale.card_shop  # the shop with its agreement, uploaded mappings and the cashier signed in


@pytest.fixture
def backend() -> str:
    """The statements read what the card sale wrote; the sale's own tests run both backends."""
    return "sqlite"


@pytest.fixture
def settings(db_url: str, sandbox_url: str) -> Settings:
    return make_settings(db_url, insurance={"url": sandbox_url, "timeout_seconds": 2})


def card_sale(shop: Shop, *scans: tuple[str, int], person: DemoPerson = EMPLOYEE, rx: bool = False) -> str:
    c, h = shop["client"], shop["cashier"]
    sid = sale_with(shop, *scans)
    r = identify(shop, sid, card_no=person.card_no, card_sn=person.card_sn)
    assert r.status_code == 200, r.text
    if rx:
        waipei(shop, sid, patient=person.name, certno=person.certno)
    pv = c.post(f"/sales/{sid}/card/preview", json={}, headers=h)
    assert pv.status_code == 200, pv.text
    done = settle(shop, sid, pv.json()["due_otherwise_fen"])
    assert done.status_code == 200, done.text
    return sid


def cancel(shop: Shop, sid: str, reason: str, by: tuple[str, str] | None = None) -> None:
    """A card reversal at the pharmacist's till; a later-day one confirmed in place by `by` (username, PIN)."""
    c, ph = shop["client"], shop["pharmacist"]
    headers = second(c, ph, *by, "sale.return", sid) if by else ph
    r = c.post(f"/sales/{sid}/card/cancel", json={"return_id": str(uuid.uuid4()), "reason": reason}, headers=headers)
    assert r.status_code == 201, r.text


@contextmanager
def at(tz: ZoneInfo, day: date, hms: time, tick: bool = True) -> Iterator[None]:
    with time_machine.travel(datetime.combine(day, hms, tz).astimezone(UTC), tick=tick):
        yield


def busy(shop: CardShop, tz: ZoneInfo) -> dict[str, Any]:
    """Day D at 10:00: four card sales (two of them 外配处方, one a non-local person, one a retiree) and a same-day refund; D+1 at
    10:00 the reversal of a D sale (a 外配处方); D+1 at 23:59:59 Shanghai a last sale."""
    c = shop["client"]
    d = shop["clock"].today
    nxt = d + timedelta(days=1)
    def signed_in(*who: Post) -> None:
        """Logged in again at the travelled-to time (a session lives hours, not days) and signed in with the centre."""
        for w in who:
            shop[w] = till_login(c, f"u_{w}", ROLE_PINS[w])
            assert c.post("/insurance/sign-in", json={}, headers=shop[w]).status_code == 201

    with at(tz, d, time(10)):
        signed_in("cashier", "pharmacist")
        refunded = card_sale(shop, (BARCODE_VITC, 2))
        rx = card_sale(shop, (BARCODE_AMOX, 1), rx=True)
        nonlocal_ = card_sale(shop, (BARCODE_VITC, 1), person=NONLOCAL)
        reversed_ = card_sale(shop, (BARCODE_AMOX, 1), (BARCODE_MASK, 1), person=RETIREE, rx=True)
        cancel(shop, refunded, "患者退药")
    with at(tz, nxt, time(10)):
        signed_in("pharmacist")
        cancel(shop, reversed_, "次日退药", by=("u_manager", ROLE_PINS["manager"]))
    with at(tz, nxt, time(23, 59, 59), tick=False):
        signed_in("cashier")
        late = card_sale(shop, (BARCODE_VITC, 1))
    return {"d": d, "nxt": nxt, "refunded": refunded, "rx": rx, "nonlocal": nonlocal_, "reversed": reversed_,
            "late": late}


def _sql(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def _centre_rows(shop: CardShop, first: date, last: date) -> list[dict[str, Any]]:
    """The centre's own ledger of the store's settlements (2102 positive, 2103 negative) in [first, last]."""
    return [r for r in shop["sandbox"].settlements()
            if r["infno"] in ("2102", "2103") and first.isoformat() <= r["setl_date"] <= last.isoformat()]


def _figures(m: Any) -> tuple[int, int, int, int]:
    return (m.medfee, m.fund, m.acct, m.cash)


def _evaluate(ws: Any, formula: str) -> Decimal:
    m = SUM.match(formula)
    assert m and m.group(1) == m.group(3), formula
    return sum((Decimal(str(cell.value or 0)) for (cell,) in ws[f"{m.group(1)}{m.group(2)}:{m.group(3)}{m.group(4)}"]),
               Decimal(0))


def _sheet_totals(ws: Any) -> dict[str, Decimal]:
    """Each figure column's SUM evaluated here, checked equal to the values row under it; by header."""
    head = [c.value for c in ws[1]]
    formulas, values = ws[ws.max_row - 1], ws[ws.max_row]
    assert formulas[0].value == FORMULA_LABEL and values[0].value == VALUE_LABEL
    assert ws.freeze_panes == "A2"
    out = {}
    for n, name in enumerate(head):
        f = formulas[n].value
        if isinstance(f, str) and f.startswith("=SUM("):
            out[name] = _evaluate(ws, f)
            assert out[name] == Decimal(str(values[n].value)), name
    return out


def _yuan(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def test_the_statements_of_a_busy_store_are_the_centres_and_the_ledgers_figures(
        card_shop: CardShop, engine: Engine, settings: Settings, tmp_path: Path) -> None:
    tz, admdvs = settings.store.tz, settings.store.admdvs
    b = busy(card_shop, tz)
    d, nxt = b["d"], b["nxt"]
    st = card_statement.card_statement(engine, 1, d, nxt, tz, admdvs)

    # every row is one of the centre's, with the centre's figures and day; none more, none missing
    centre = _centre_rows(card_shop, d, nxt)
    assert len(centre) == 7  # five 2102, two 2103
    by_setl = {r.setl_id: r for r in st.rows}
    assert sorted(by_setl) == sorted(r["setl_id"] for r in centre)
    for r in centre:
        row = by_setl[r["setl_id"]]
        assert row.kind == r["infno"] and row.day.isoformat() == r["setl_date"]
        assert _figures(row.money) == (r["medfee_fen"], r["fund_fen"], r["acct_fen"], r["cash_fen"]), r
        assert row.group.clr_optins == r["clr_optins"] and row.insutype == r["insutype"]
        if r["infno"] == "2103":
            assert row.original_setl_id == r["ref_setl_id"] and row.money.medfee < 0
    # … and per clearing group (险种 × 清算经办机构 × 本地/异地), as the centre would total them
    expected: dict[tuple[str, str, bool], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in centre:
        acc = expected[(r["insutype"], r["clr_optins"], r["clr_optins"] != admdvs)]
        for n, k in enumerate(("medfee_fen", "fund_fen", "acct_fen", "cash_fen")):
            acc[n] += r[k]
        acc[4] += 1
    got = {(g.insutype, g.clr_optins, g.nonlocal_): [*_figures(s.money), s.settlements + s.cancellations]
           for g, s in st.by_group}
    assert got == dict(expected)
    assert sum(1 for g, _ in st.by_group if g.nonlocal_) == 1

    # our own rows, read with plain SQL: the 2102s standing or since cancelled, less the cancellations
    raw = _sql(engine, "SELECT setl_id, status, medfee_sumamt_fen, fund_pay_fen, acct_pay_fen, cash_pay_fen "
                       "FROM card_settlement WHERE status IN ('settled', 'cancelled')")
    assert len(raw) == 5
    net = [sum(r[k] for r in raw) - sum(r[k] for r in raw if r[1] == "cancelled") for k in range(2, 6)]
    assert list(_figures(st.total.money)) == net
    assert (st.total.settlements, st.total.cancellations) == (5, 2)

    # the identities, on every row, from the centre's 个人负担 as it answered
    for row in st.rows:
        m = row.money
        assert m.medfee == m.fund + m.psn_part and m.psn_part == m.acct + m.cash and not row.problems
        assert m.fund == m.hifp + m.other_funds
        if row.kind == "2102":
            assert sum(ln.amount for ln in row.lines) == m.medfee  # the lines the centre settled
    assert not st.problems()

    # the 23:59:59 sale is the next day's as the centre dated it, and the period ends there
    late = [r for r in st.rows if r.sale_no and r.kind == "2102" and r.setl_time
            and r.setl_time.time() == time(23, 59, 59)]
    assert len(late) == 1 and late[0].day == nxt
    day_one = card_statement.card_statement(engine, 1, d, d, tz, admdvs)
    day_two = card_statement.card_statement(engine, 1, nxt, nxt, tz, admdvs)
    assert sorted(r.setl_id for r in (*day_one.rows, *day_two.rows)) == sorted(by_setl)
    # the later-day reversal: its 2102 stands on D, its 2103 on D+1 alone, naming it
    (rev,) = [r for r in day_two.rows if r.kind == "2103"]
    assert rev.original_setl_id in {r.setl_id for r in day_one.rows if r.kind == "2102"}
    assert {r.kind for r in day_one.rows if r.setl_id == rev.original_setl_id} == {"2102"}
    assert [r.kind for r in day_one.rows].count("2103") == 1  # the same-day refund

    # the 外配处方 statement: the two dispensed on D with the card's figures for their sales, and on D+1 the
    # reversal of one of them, its own negative row; per institution the net
    tz_rx = partial(rx_statement.rx_statement, engine, 1, tz=tz)
    rs, rs_d, rs_nxt = tz_rx(d, nxt), tz_rx(d, d), tz_rx(nxt, nxt)
    rx_raw = _sql(engine, "SELECT p.rx_no, p.institution_code, p.doctor_name, s.sale_no, c.setl_id, s.id "
                          "FROM sale s JOIN prescription p ON p.id = s.prescription_id "
                          "JOIN card_settlement c ON c.sale_id = s.id WHERE p.for_insurance ORDER BY s.sale_no")
    assert [r[5] for r in rx_raw] == [b["rx"], b["reversed"]]
    centre_of = {r["setl_id"]: r for r in centre}
    assert [r.sale_no for r in rs_d.rows] == [r[3] for r in rx_raw] and not any(r.reversal for r in rs_d.rows)
    for rx_row, (rx_no, inst, doctor, sale_no, setl_id, _) in zip(rs_d.rows, rx_raw, strict=True):
        c2102 = centre_of[setl_id]
        assert (rx_row.rx_no, rx_row.institution_code, rx_row.doctor, rx_row.sale_no) == (rx_no, inst, doctor, sale_no)
        assert (rx_row.medfee, rx_row.fund, rx_row.acct, rx_row.cash) == (c2102["medfee_fen"], c2102["fund_fen"],
                                                                          c2102["acct_fen"], c2102["cash_fen"])
        assert rx_row.pharmacist and by_setl[setl_id].rx_no == rx_no
        assert by_setl[setl_id].rx_institution == rx_row.institution_name
    assert [r.status for r in rs_d.rows] == ["settled", "cancelled"]
    (back,) = rs_nxt.rows
    (c2103,) = [r for r in centre if r["infno"] == "2103" and r["ref_setl_id"] == rx_raw[1][4]]
    assert back.reversal and back.reversed_on == nxt and back.sale_no == rx_raw[1][3]
    assert (back.medfee, back.fund, back.acct, back.cash) == (c2103["medfee_fen"], c2103["fund_fen"],
                                                               c2103["acct_fen"], c2103["cash_fen"])
    kept = centre_of[rx_raw[0][4]]
    (per,) = rs.by_institution
    assert (per.prescriptions, per.cancelled, per.fund, per.acct) == (2, 1, kept["fund_fen"], kept["acct_fen"])
    assert (rs.total.fund, rs.total.medfee) == (kept["fund_fen"], kept["medfee_fen"])
    assert all("*" in r["patient_certno"] for r in rx_statement.as_dict(rs)["rows"])

    # the files through the API: masked, reopened, their totals the statement's
    c, manager = card_shop["client"], card_shop["manager"]
    q = {"from": d.isoformat(), "to": nxt.isoformat()}
    x = c.get("/reports/card-statement", params=q | {"format": "xlsx"}, headers=manager)
    assert x.status_code == 200, x.text
    with zipfile.ZipFile(io.BytesIO(x.content)) as z:
        assert not any(WHOLE_ID.search(z.read(n)) for n in z.namelist())
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["结算明细", "清算分组汇总", "按日清算分组"]
    for title in wb.sheetnames:
        totals = _sheet_totals(wb[title])
        assert totals["医疗费总额(元)"] == _yuan(sum(r["medfee_fen"] for r in centre))
        assert totals["基金支付合计(元)"] == _yuan(sum(r["fund_fen"] for r in centre))
        assert totals["个人账户(元)"] == _yuan(sum(r["acct_fen"] for r in centre))
    assert wb["结算明细"].max_row == len(centre) + 3
    v = c.get("/reports/card-statement", params=q | {"format": "csv"}, headers=manager)
    assert v.content.startswith(b"\xef\xbb\xbf") and not WHOLE_ID.search(v.content)
    rows = list(csv.reader(io.StringIO(v.content.decode("utf-8-sig"))))
    assert Counter(r[0] for r in rows if r[0] != "表")["结算明细"] == len(centre) + 1
    j = c.get("/reports/card-statement", params=q, headers=card_shop["admin"]).json()
    assert j["total"]["money"]["fund"] == sum(r["fund_fen"] for r in centre) and j["problems"] == 0
    assert EMPLOYEE.certno not in str(j)
    rx_file = c.get("/reports/rx-statement", params=q | {"format": "xlsx"}, headers=manager)
    assert rx_file.status_code == 200 and not WHOLE_ID.search(rx_file.content)
    rwb = load_workbook(io.BytesIO(rx_file.content))
    assert _sheet_totals(rwb["外配处方明细"])["基金支付(元)"] == _yuan(kept["fund_fen"])
    assert _sheet_totals(rwb["按开方机构汇总"])["处方数"] == 2
    # the period when none is given: the store's statement period today is in (monthly by default)
    first, _ = card_statement.period_of(card_shop["clock"].today, "monthly")
    assert c.get("/reports/card-statement", headers=manager).json()["from"] == first.isoformat()

    # the agency's file: identity numbers whole, and the export named in the audit log by its digest
    agency = c.get("/reports/card-statement/agency", params=q | {"format": "csv"}, headers=card_shop["admin"])
    assert agency.status_code == 200 and EMPLOYEE.certno.encode() in agency.content
    (entry,) = _sql(engine, "SELECT after FROM audit_entry WHERE action = 'report.agency_export'")
    assert hashlib.sha256(agency.content).hexdigest() in str(entry[0])  # text on SQLite, JSON on PostgreSQL
    # … and its paper submission: the PDF, audited the same way, its totals the centre's ledger's
    paper = c.get("/reports/card-statement/agency", params=q | {"format": "pdf"}, headers=card_shop["admin"])
    assert paper.status_code == 200 and paper.content.startswith(b"%PDF")
    entries = _sql(engine, "SELECT after FROM audit_entry WHERE action = 'report.agency_export' ORDER BY seq")
    assert len(entries) == 2 and hashlib.sha256(paper.content).hexdigest() in str(entries[1][0])
    if POPPLER:
        path = privacy_scan.agency_submission(tmp_path / "agency.pdf")
        path.write_bytes(paper.content)
        flat = re.sub(r"\s+", "", pdf_text(path))
        assert EMPLOYEE.certno in flat and "（报经办机构）" in flat and "经办机构审核人：" in flat
        for label, key in (("医疗费总额", "medfee_fen"), ("基金支付", "fund_fen"), ("个人账户", "acct_fen")):
            assert f"{label}：{_yuan(sum(r[key] for r in centre)):,}元" in flat, label


@pytest.mark.business_day
def test_a_settlement_belongs_to_the_day_the_centre_wrote_not_ours(clock: Any) -> None:
    """Pure: resolved at 23:59:59 by our clock, answered 00:00:01 by the centre's — the next day's row, in the next
    month's statement when the day is a month's last."""
    tz = ZoneInfo("Asia/Shanghai")
    last_day = card_statement.period_of(clock.today, "monthly")[1]
    ours = datetime.combine(last_day, time(23, 59, 59), tz)
    answer = {"setl_time": f"{(last_day + timedelta(days=1)).isoformat()} 00:00:01", "insutype": "310",
              "clr_type": "41", "clr_optins": "440300", "hifp_pay": "2.45", "psn_part_amt": "1.05"}
    row = SimpleNamespace(id=1, answer=answer, resolved_at=ours, setl_id="S1", medfee_sumamt_fen=350, fund_pay_fen=245,
                          acct_pay_fen=105, cash_pay_fen=0, insuplc_admdvs="440300", sale_no="1", psn_no="P",
                          psn_name="甲", certno="440305197806150000", insutype="310", psn_type="11", lines=[],
                          rx_no=None)
    month = card_statement.period_of(last_day, "monthly")
    assert card_statement.build([row], [], {}, 1, *month, tz, "440300").rows == []
    (got,) = card_statement.build([row], [], {}, 1, last_day + timedelta(days=1), last_day + timedelta(days=40), tz,
                                  "440300").rows
    assert got.day == last_day + timedelta(days=1) and not got.problems
    wrong = SimpleNamespace(**{**vars(row), "answer": {**answer, "psn_part_amt": "1.06"}})
    (bad,) = card_statement.build([wrong], [], {}, 1, got.day, got.day, tz, "440300").rows
    assert len(bad.problems) == 2  # shown, never mended


def test_the_statement_periods_are_months_pairs_of_months_and_quarters() -> None:
    p = card_statement.period_of
    assert p(date(2027, 2, 14), "monthly") == (date(2027, 2, 1), date(2027, 2, 28))
    assert p(date(2027, 2, 14), "bimonthly") == (date(2027, 1, 1), date(2027, 2, 28))
    assert p(date(2027, 12, 31), "bimonthly") == (date(2027, 11, 1), date(2027, 12, 31))
    assert p(date(2028, 8, 1), "quarterly") == (date(2028, 7, 1), date(2028, 9, 30))
    assert card_statement.previous_period(date(2027, 1, 5), "quarterly") == (date(2026, 10, 1), date(2026, 12, 31))


@pytest.mark.refuses("SEC-01", "SEC-03", "SEC-06")
def test_only_a_serving_insurance_administrator_exports_for_the_agency(card_shop: CardShop, engine: Engine,
                                                                       settings: Settings, tmp_path: Path) -> None:
    """The unmasked file is the 医保 administrator's: a manager or a cashier is refused by the route and by the
    command line, a frozen administrator by both; nothing is written — no file, no audit entry — until the
    serving administrator makes it."""
    c = card_shop["client"]
    assert c.post("/insurance/sign-in", json={}, headers=card_shop["cashier"]).status_code == 201
    card_sale(card_shop, (BARCODE_VITC, 1))
    exports = "SELECT COUNT(*) FROM audit_entry WHERE action = 'report.agency_export'"
    admin2 = login(c, SECOND_INSURANCE_ADMIN, SECOND_INSURANCE_PIN)
    (admin2_id,) = _sql(engine, "SELECT id FROM app_user WHERE username = :u", u=SECOND_INSURANCE_ADMIN)[0]
    frozen = c.post(f"/users/{admin2_id}/freeze", json={"reason": "调岗"}, headers=card_shop["manager"])
    assert frozen.status_code == 200, frozen.text

    for who in ("manager", "cashier"):
        r = c.get("/reports/card-statement/agency", params={"format": "csv"}, headers=card_shop[who])
        assert r.status_code == 403 and r.json()["code"] == "SEC-01", r.text
    assert c.get("/reports/card-statement/agency", headers=admin2).status_code == 401  # the token died with the freeze
    again = c.post("/auth/login", json={"username": SECOND_INSURANCE_ADMIN, "pin": SECOND_INSURANCE_PIN})
    assert again.status_code == 403 and again.json()["code"] == "SEC-03"
    # another path: the manager's own statement is masked; asking it for more changes nothing
    masked = c.get("/reports/card-statement", params={"format": "csv", "unmasked": "1", "for_agency": "true"},
                   headers=card_shop["manager"])
    assert masked.status_code == 200 and EMPLOYEE.certno.encode() not in masked.content
    assert not WHOLE_ID.search(masked.content)
    # the command line, as the manager and as the frozen administrator
    config, runner = _config(tmp_path, settings), CliRunner()
    from server.cli import app

    for user, pin in (("u_manager", ROLE_PINS["manager"]), (SECOND_INSURANCE_ADMIN, SECOND_INSURANCE_PIN)):
        out, paper = tmp_path / f"{user}.csv", tmp_path / f"{user}.pdf"
        r = runner.invoke(app, ["report", "card-statement", "--for-agency", "--csv", str(out), "--pdf", str(paper),
                                "--as", user, "--config", str(config)], input=f"{pin}\n")
        assert r.exit_code == 1 and not out.exists() and not paper.exists(), r.output
    assert _sql(engine, exports)[0][0] == 0

    ok = c.get("/reports/card-statement/agency", params={"format": "csv"}, headers=card_shop["admin"])
    assert ok.status_code == 200 and EMPLOYEE.certno.encode() in ok.content
    out = privacy_scan.agency_submission(tmp_path / "agency.xlsx")
    r = runner.invoke(app, ["report", "card-statement", "--for-agency", "--xlsx", str(out), "--as",
                            "u_insurance_admin", "--config", str(config)], input=f"{ROLE_PINS['insurance_admin']}\n")
    assert r.exit_code == 0 and out.exists(), r.output
    assert _sql(engine, exports)[0][0] == 2
    # SEC-06: each agency copy is a read of every person's full record it holds, logged with its door; the refused
    # attempts and the masked copies are none
    reads = [(a, json.loads(x) if isinstance(x, str) else x) for a, x in _sql(
        engine, "SELECT actor, after FROM audit_entry WHERE action = 'privacy.read' ORDER BY seq")]
    assert [(a, x["route"], x["persons"]) for a, x in reads] == [
        ("u_insurance_admin", "GET /reports/card-statement/agency", 1),
        ("u_insurance_admin", "dingdian report card-statement --for-agency", 1)]
    assert reads[0][1]["whose"] == [{"psn_no": EMPLOYEE.psn_no, "whose": mask_id(EMPLOYEE.certno),
                                     "name": EMPLOYEE.name}]
    # the manager's own, from the command line: masked, and the 外配处方 statement beside it
    masked_cli = runner.invoke(app, ["report", "card-statement", "--json", "--as", "u_manager", "--config",
                                     str(config)], input=f"{ROLE_PINS['manager']}\n")
    assert masked_cli.exit_code == 0 and '"kind": "2102"' in masked_cli.output, masked_cli.output
    assert EMPLOYEE.certno not in masked_cli.output
    rx_csv, rx_pdf = tmp_path / "rx.csv", tmp_path / "rx.pdf"
    r = runner.invoke(app, ["report", "rx-statement", "--previous", "--csv", str(rx_csv), "--pdf", str(rx_pdf), "--as",
                            "u_manager", "--config", str(config)], input=f"{ROLE_PINS['manager']}\n")
    assert r.exit_code == 0 and rx_csv.read_bytes().startswith(b"\xef\xbb\xbf"), r.output
    assert rx_pdf.read_bytes().startswith(b"%PDF") and f"已写入 / written: {rx_pdf}" in r.output
    if POPPLER:
        seen = pdf_text(rx_pdf)
        assert "基本医疗保险外配处方费用统计表" in seen and not WHOLE_ID.search(seen.encode())
    # no other door: every GET route as the manager, and those refused to the manager as the 医保 administrator (the
    # card statements in every file format, the other reports as JSON and CSV); a whole number comes back only from
    # the agency's route, and every such answer is a read logged
    sale_no = _sql(engine, "SELECT sale_no FROM sale ORDER BY sale_no LIMIT 1")[0][0]
    sale_id = _sql(engine, "SELECT id FROM sale ORDER BY sale_no LIMIT 1")[0][0]
    logged = _sql(engine, "SELECT COUNT(*) FROM audit_entry WHERE action = 'privacy.read'")[0][0]
    whole: list[str] = []
    gets = [p for p, ops in c.get("/openapi.json").json()["paths"].items() if "get" in ops and p != "/events"]
    refused: list[str] = []  # what the manager (who reads everything else) may not: tried as the administrator
    for who, headers, routes in (("manager", card_shop["manager"], gets), ("admin", card_shop["admin"], refused)):
        for route in routes:
            try:
                path = route.format(sale_id=sale_id, sale_no=sale_no)
            except KeyError:  # an id of something this store has none of
                continue
            for fmt in ((None, "csv", "xlsx", "pdf") if path.startswith("/reports/card-statement") else
                        (None, "csv") if path.startswith("/reports") else (None,)):
                r = c.get(path, params={"format": fmt} if fmt else {}, headers=headers)
                if r.status_code == 403 and who == "manager" and route not in refused:
                    refused.append(route)
                if r.status_code == 200 and privacy_scan.scan_bytes(path, r.content):
                    whole.append(f"{who} {path} {fmt}")
    assert "/reports/card-statement/agency" in refused
    assert whole == [f"admin /reports/card-statement/agency {f}" for f in (None, "csv", "xlsx", "pdf")]  # None: xlsx
    assert _sql(engine, "SELECT COUNT(*) FROM audit_entry WHERE action = 'privacy.read'")[0][0] == logged + 4
