"""The 外配处方 statement (RX-09, 《基本医疗保险外配处方费用月度统计表》): one row per 外配处方 dispensed in a period
(a completed sale against a prescription for the card, by the sale's business date) — 处方号, the prescribing
institution and doctor, the prescription's date, the patient (masked), the dispensing date, the pharmacist who
reviewed it, the items, the amount, of which fund / account / cash from the sale's card settlement, and its status —
with totals per prescribing institution.

Status: 已结算 (the card settlement stands), 已撤销 (cancelled by 2103 since), 未医保结算 (dispensed without the card).
A cancellation is a negative row of its own (撤销冲减), as on the card statement, in the period of the centre's day
of the 2103 (reports.card_statement.cancellation_day): a period's statement stays what it was when handed in, and
every total — and every SUM in the workbook — is the net the fund paid. Read only through reports.queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from catalog.codes import mask_id
from reports import card_statement, queries

STATUS_ZH = {"settled": "已结算", "cancelled": "已撤销", "": "未医保结算"}


@dataclass(frozen=True, slots=True)
class RxRow:
    sale_id: str
    sale_no: str
    rx_no: str
    institution_code: str
    institution_name: str
    doctor: str
    issued_on: date
    patient_name: str
    patient_certno: str  # whole: shown masked
    dispensed_on: date
    pharmacist: str
    items: tuple[tuple[str, str, int], ...]  # (drug, qty with unit, amount)
    amount: int  # the dispensed prescription lines' amount
    medfee: int  # what the card settlement covered (the sale's card lines)
    fund: int
    acct: int
    cash: int
    status: str  # settled | cancelled | ""
    reversed_on: date | None = None  # on the negative row that takes a cancelled one back: the centre's day of it

    @property
    def reversal(self) -> bool:
        return self.reversed_on is not None

    def negated(self, day: date) -> RxRow:
        return replace(self, items=tuple((n, q, -a) for n, q, a in self.items), amount=-self.amount,
                       medfee=-self.medfee, fund=-self.fund, acct=-self.acct, cash=-self.cash, reversed_on=day)

    @property
    def status_zh(self) -> str:
        return "撤销冲减" if self.reversal else STATUS_ZH.get(self.status, self.status)


@dataclass
class RxTotal:
    label: str
    prescriptions: int = 0
    amount: int = 0
    medfee: int = 0
    fund: int = 0
    acct: int = 0
    cash: int = 0
    cancelled: int = 0

    def add(self, r: RxRow) -> None:
        if r.reversal:
            self.cancelled += 1
        else:
            self.prescriptions += 1
        self.amount += r.amount
        self.medfee += r.medfee
        self.fund += r.fund
        self.acct += r.acct
        self.cash += r.cash


@dataclass
class RxStatement:
    store_id: int
    start: date
    end: date
    rows: list[RxRow]
    by_institution: list[RxTotal] = field(default_factory=list)
    total: RxTotal = field(default_factory=lambda: RxTotal("合计"))


def _row(d: Any, items: Mapping[str, list[tuple[str, str, int]]], approvals: Mapping[int, Any]) -> RxRow:
    approved = approvals.get(int(d.rx_id))
    mine = tuple(items.get(d.sale_id, ()))
    return RxRow(d.sale_id, d.sale_no or "", d.rx_no, d.institution_code, d.institution_name, d.doctor_name,
                 d.issued_on, d.patient_name, d.patient_certno or "", d.business_date,
                 (approved.display_name if approved else ""), mine, sum(a for *_, a in mine),
                 int(d.medfee_sumamt_fen or 0), int(d.fund_pay_fen or 0), int(d.acct_pay_fen or 0),
                 int(d.cash_pay_fen or 0), d.setl_status or "")


def build(dispensed: Iterable[Any], taken_back: Iterable[tuple[Any, date]], lines: Iterable[Any],
          approvals: Mapping[int, Any], store_id: int, start: date, end: date) -> RxStatement:
    """The statement from plain facts (reports.queries: waipei_dispensed, rx_lines_sold, rx_approvals): the
    dispensed of the period, and the cancelled ones (as waipei_dispensed gives them) with the day of their 2103."""
    items: dict[str, list[tuple[str, str, int]]] = {}
    for ln in lines:
        unit = (ln.split_unit or ln.unit) if ln.split else ln.unit
        items.setdefault(ln.sale_id, []).append((f"{ln.name} {ln.spec}".strip(), f"{ln.qty}{unit}",
                                                 int(ln.amount_fen)))
    rows = [_row(d, items, approvals) for d in dispensed]
    rows += [_row(d, items, approvals).negated(day) for d, day in taken_back]
    rows.sort(key=lambda r: (r.institution_code, r.reversed_on or r.dispensed_on, r.sale_no, r.reversal))
    per: dict[str, RxTotal] = {}
    total = RxTotal("合计")
    for r in rows:
        per.setdefault(r.institution_code, RxTotal(f"{r.institution_name}（{r.institution_code}）")).add(r)
        total.add(r)
    return RxStatement(store_id, start, end, rows, [per[k] for k in sorted(per)], total)


def rx_statement(engine: Engine, store_id: int, start: date, end: date, tz: ZoneInfo) -> RxStatement:
    if end < start:
        raise ValueError("the period ends before it starts")
    lo, hi = card_statement.window(start, end, tz)
    with queries.reading(engine) as conn:
        dispensed = queries.waipei_dispensed(conn, store_id, start, end)
        days: dict[str, date] = {}
        for r in queries.card_cancellations(conn, store_id, lo, hi):
            day, _ = card_statement.cancellation_day(r, tz)
            if r.rx_no and start <= day <= end:
                days[r.sale_id] = day
        back = queries.waipei_dispensed(conn, store_id, sale_ids=list(days)) if days else []
        sales = [d.sale_id for d in (*dispensed, *back)]
        lines = queries.rx_lines_sold(conn, sales)
        approvals = queries.rx_approvals(conn, [int(d.rx_id) for d in (*dispensed, *back)])
    return build(dispensed, [(d, days[d.sale_id]) for d in back], lines, approvals, store_id, start, end)


def as_dict(st: RxStatement) -> dict[str, Any]:
    def total(t: RxTotal) -> dict[str, Any]:
        return {"label": t.label, "prescriptions": t.prescriptions, "cancelled": t.cancelled, "amount_fen": t.amount,
                "medfee_fen": t.medfee, "fund_fen": t.fund, "acct_fen": t.acct, "cash_fen": t.cash}

    return {
        "from": st.start.isoformat(), "to": st.end.isoformat(),
        "rows": [{"rx_no": r.rx_no, "institution_code": r.institution_code, "institution_name": r.institution_name,
                  "doctor": r.doctor, "issued_on": r.issued_on.isoformat(), "patient_name": r.patient_name,
                  "patient_certno": mask_id(r.patient_certno), "dispensed_on": r.dispensed_on.isoformat(),
                  "sale_no": r.sale_no, "pharmacist": r.pharmacist,
                  "items": [{"name": n, "qty": q, "amount_fen": a} for n, q, a in r.items], "amount_fen": r.amount,
                  "medfee_fen": r.medfee, "fund_fen": r.fund, "acct_fen": r.acct, "cash_fen": r.cash,
                  "status": r.status or "none", "reversed_on": r.reversed_on.isoformat() if r.reversed_on else None,
                  "status_zh": r.status_zh} for r in st.rows],
        "by_institution": [total(t) for t in st.by_institution], "total": total(st.total),
    }
