"""The card-purchase statement (ST-03): one row per settlement the centre made for the store in a period — a 2102
positive, its 2103 (a refund, a later-day reversal) a negative row of its own that names the settlement it takes
back — with the insured person, the money as the centre split it, the lines and the 外配处方 number; subtotals by
the centre's clearing groups (server.insurance.clearing: the groups the daily reconciliation uses, so the two prove
each other), and each row dated by the centre's own settlement time (`centre_day`), never by our clock.

Per row, the centre's two identities are checked and shown, never mended: 医疗费总额 = 基金支付 + 个人负担 and
个人负担 = 个人账户 + 现金 (`problems`). Figures are fen; the money the store booked (medfee, fund, account, cash:
server.insurance.messages.Shares) is the row's, the breakdown the centre gave (统筹, the other funds, the self-pay
parts, 个人负担) is read from its stored answer. The identity number is kept whole here: every presentation masks
it (`certno_shown`), except the export for the agency, which only its caller may ask for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from catalog.codes import mask_id
from reports import queries
from server.insurance.clearing import ClearingGroup, centre_day, group_of, settled_at

PERIODS = {"monthly": 1, "bimonthly": 2, "quarterly": 3}


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each field through object.__setattr__, and a year's
class Money:               # statement makes one per settlement and adds three times per settlement
    """A settlement's money in fen, in the columns the statement shows."""

    medfee: int = 0  # 医疗费总额
    fulamt_ownpay: int = 0  # 全自费
    overlmt_selfpay: int = 0  # 超限价自费
    preselfpay: int = 0  # 先行自付
    hifp: int = 0  # 统筹基金支出
    other_funds: int = 0  # 其他基金 (公务员补助, 大额, 大病, 医疗救助 …): 基金支付 less 统筹
    fund: int = 0  # 基金支付合计
    psn_part: int = 0  # 个人负担
    acct: int = 0  # 个人账户
    cash: int = 0  # 现金

    def __add__(self, o: Money) -> Money:  # spelled out, not over fields(): the same reason
        return Money(self.medfee + o.medfee, self.fulamt_ownpay + o.fulamt_ownpay,
                     self.overlmt_selfpay + o.overlmt_selfpay, self.preselfpay + o.preselfpay, self.hifp + o.hifp,
                     self.other_funds + o.other_funds, self.fund + o.fund, self.psn_part + o.psn_part,
                     self.acct + o.acct, self.cash + o.cash)

    def __neg__(self) -> Money:
        return Money(*(-getattr(self, f.name) for f in fields(self)))

    def problems(self) -> list[str]:
        out = []
        if self.medfee != self.fund + self.psn_part:
            out.append(f"医疗费总额{self.medfee}≠基金支付{self.fund}+个人负担{self.psn_part}")
        if self.psn_part != self.acct + self.cash:
            out.append(f"个人负担{self.psn_part}≠个人账户{self.acct}+现金{self.cash}")
        return out


MONEY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("medfee", "医疗费总额"), ("fulamt_ownpay", "全自费"), ("overlmt_selfpay", "超限价自费"), ("preselfpay", "先行自付"),
    ("hifp", "统筹基金"), ("other_funds", "其他基金"), ("fund", "基金支付合计"), ("psn_part", "个人负担"),
    ("acct", "个人账户"), ("cash", "现金"))


class Line(NamedTuple):
    name: str
    qty: str  # with its unit: "2盒", "12粒"
    amount: int


@dataclass(slots=True)  # not frozen, as Money: one per settlement
class StatementRow:
    settlement_id: int
    kind: str  # "2102" a settlement, "2103" its cancellation (negative)
    day: date  # the centre's day (centre_day)
    setl_time: datetime | None  # the centre's time, in the store's zone
    setl_id: str
    original_setl_id: str  # on a 2103 row: the settlement it takes back
    sale_no: str
    psn_no: str
    psn_name: str
    certno: str  # whole: shown masked (certno_shown) except to the agency
    insutype: str
    psn_type: str
    group: ClearingGroup
    money: Money
    lines: tuple[Line, ...]
    rx_no: str
    rx_institution: str = ""  # the 外配处方's prescribing institution (ST-03 names it)
    problems: tuple[str, ...] = ()

    def certno_shown(self, unmasked: bool = False) -> str:
        return self.certno if unmasked else mask_id(self.certno)


@dataclass
class Subtotal:
    label: str
    settlements: int = 0
    cancellations: int = 0
    money: Money = field(default_factory=Money)

    def add(self, row: StatementRow) -> None:
        if row.kind == "2103":
            self.cancellations += 1
        else:
            self.settlements += 1
        self.money = self.money + row.money

    def merge(self, other: Subtotal) -> None:
        self.settlements += other.settlements
        self.cancellations += other.cancellations
        self.money = self.money + other.money


@dataclass
class CardStatement:
    store_id: int
    start: date
    end: date
    rows: list[StatementRow]
    by_group: list[tuple[ClearingGroup, Subtotal]]
    by_day_group: list[tuple[date, ClearingGroup, Subtotal]]
    total: Subtotal

    def problems(self) -> list[StatementRow]:
        return [r for r in self.rows if r.problems]


def persons(st: CardStatement) -> list[tuple[str, str, str]]:
    """Whose full records the agency's copy hands over: each row's (psn_no, identity number, name)."""
    return [(r.psn_no, r.certno, r.psn_name) for r in st.rows]


# --- periods ---------------------------------------------------------------------------------------------------

def period_of(day: date, period: str) -> tuple[date, date]:
    """The statement period a day is in: its month, its pair of months (Jan–Feb, Mar–Apr …) or its quarter."""
    months = PERIODS[period]
    first_month = (day.month - 1) // months * months + 1
    first = date(day.year, first_month, 1)
    nxt = date(day.year + (first_month + months > 12), (first_month + months - 1) % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def previous_period(day: date, period: str) -> tuple[date, date]:
    """The last whole period before the one `day` is in: what is handed in at the start of a period."""
    first, _ = period_of(day, period)
    return period_of(first - timedelta(days=1), period)


# --- from the stored answers ------------------------------------------------------------------------------------

_FEN_SEEN: dict[Any, int] = {}  # amounts as received -> fen: a year repeats few ("0.00" in most fields of most rows)
_FEN_SEEN_MAX = 20_000


def fen(answer: Mapping[str, Any], key: str) -> int:
    """An amount of the centre's answer (yuan, as received: text or number) in fen, half up; absent: 0."""
    raw = answer.get(key)
    if raw is None or raw == "" or isinstance(raw, bool):
        return 0
    seen = _FEN_SEEN.get(raw)
    if seen is not None:
        return seen
    value = _fen(raw)
    if len(_FEN_SEEN) < _FEN_SEEN_MAX:
        _FEN_SEEN[raw] = value
    return value


def _fen(raw: Any) -> int:
    if isinstance(raw, str):  # the common case, "12.34" / "-3.5": whole fen without Decimal (a year is 5 per row)
        text = raw.strip()
        whole, _, frac = text.lstrip("+-").partition(".")
        if whole.isdigit() and len(frac) <= 2 and (not frac or frac.isdigit()):
            whole_fen = int(whole) * 100 + int((frac + "00")[:2])
            return -whole_fen if text.startswith("-") else whole_fen
    try:
        value = Decimal(raw) if isinstance(raw, (int, Decimal)) else Decimal(str(raw).strip())
    except InvalidOperation:
        return 0
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def setlinfo_of(body: str | None) -> dict[str, Any]:
    """setlinfo of a stored answer body (the message log keeps the centre's envelope whole)."""
    if not body:
        return {}
    try:
        doc = json.loads(body, parse_float=Decimal)
    except ValueError:
        return {}
    out = doc.get("output") if isinstance(doc, dict) else None
    info = out.get("setlinfo") if isinstance(out, dict) else None
    return info if isinstance(info, dict) else {}


def cancellation_day(r: Any, tz: ZoneInfo) -> tuple[date, datetime | None]:
    """The centre's day and time of a cancellation (a queries.card_cancellations row): its 2103 answer's, or when
    the answer is not there, the time it was recorded."""
    info = setlinfo_of(r.cancel_body)
    when = settled_at(info, tz)
    return (when.date() if when is not None else centre_day(info, tz, r.cancel_at)), when


def money_of(r: Any, answer: Mapping[str, Any]) -> Money:
    """The row's money: what the store booked, and the centre's breakdown of it from its answer."""
    fund = int(r.fund_pay_fen)
    hifp = fen(answer, "hifp_pay") if "hifp_pay" in answer else fund
    psn_part = fen(answer, "psn_part_amt") if "psn_part_amt" in answer else int(r.acct_pay_fen) + int(r.cash_pay_fen)
    return Money(medfee=int(r.medfee_sumamt_fen), fulamt_ownpay=fen(answer, "fulamt_ownpay_amt"),
                 overlmt_selfpay=fen(answer, "overlmt_selfpay"), preselfpay=fen(answer, "preselfpay_amt"), hifp=hifp,
                 other_funds=fund - hifp, fund=fund, psn_part=psn_part, acct=int(r.acct_pay_fen),
                 cash=int(r.cash_pay_fen))


def _lines(r: Any, names: Mapping[int, Any], labels: dict[Any, Any]) -> tuple[Line, ...]:
    out = []
    for d in r.lines or ():
        sn = d.get("feedetl_sn", "")
        if sn.__class__ is not str:
            sn = str(sn)
        ln = names.get(int(sn)) if sn.isdigit() else None
        if ln is not None:
            name, spec = ln.name, ln.spec
            label = labels.get((name, spec))
            if label is None:  # one string per drug
                label = labels[(name, spec)] = f"{name} {spec}".strip()
            unit = (ln.split_unit or ln.unit) if ln.split else ln.unit
            out.append(Line(label, f"{ln.qty}{unit}", int(d.get("det_item_fee_sumamt_fen", ln.amount_fen))))
        else:
            out.append(Line(str(d.get("med_list_codg", sn)), str(d.get("cnt", "")),
                            int(d.get("det_item_fee_sumamt_fen", 0))))
    return tuple(out)


def _row(r: Any, kind: str, day: date, when: datetime | None, setl_id: str, money: Money, group: ClearingGroup,
         names: Mapping[int, Any], labels: dict[Any, Any], original: str = "") -> StatementRow:
    answer = r.answer or {}
    return StatementRow(int(r.id), kind, day, when, setl_id, original, r.sale_no or "", r.psn_no or "",
                        r.psn_name or str(answer.get("psn_name", "")), r.certno or "",
                        r.insutype or str(answer.get("insutype", "")), r.psn_type or str(answer.get("psn_type", "")),
                        group, money, _lines(r, names, labels), r.rx_no or "",
                        getattr(r, "rx_institution", None) or "", tuple(money.problems()))


def build(settled: Iterable[Any], cancelled: Iterable[Any], names: Mapping[int, Any], store_id: int, start: date,
          end: date, tz: ZoneInfo, store_admdvs: str) -> CardStatement:
    """The statement from plain facts, as reports.queries gives them (card_settlements, card_cancellations,
    line_names): the rows whose centre day falls in [start, end], in the centre's order, and the subtotals."""
    rows: list[StatementRow] = []
    labels: dict[Any, Any] = {}  # the drugs' labels, each made once
    groups_seen: dict[tuple[Any, ...], ClearingGroup] = {}  # one object per group, not one per row

    def group(answer: Mapping[str, Any], insuplc_admdvs: str) -> ClearingGroup:
        key = (answer.get("insutype", ""), answer.get("clr_type", ""), answer.get("clr_optins", ""), insuplc_admdvs)
        got = groups_seen.get(key)
        if got is None:
            got = groups_seen[key] = group_of(answer, insuplc_admdvs=insuplc_admdvs, store_admdvs=store_admdvs)
        return got

    for r in settled:
        answer = r.answer or {}
        when = settled_at(answer, tz)  # parsed once: centre_day only when the answer carries no readable time
        day = when.date() if when is not None else centre_day(answer, tz, r.resolved_at)
        if start <= day <= end:
            rows.append(_row(r, "2102", day, when, r.setl_id, money_of(r, answer),
                             group(answer, r.insuplc_admdvs or ""), names, labels))
    for r in cancelled:
        answer, info = r.answer or {}, setlinfo_of(r.cancel_body)
        day, when = cancellation_day(r, tz)
        if start <= day <= end:
            # what the 2103 takes back is the settlement as booked: its money negated, its group the settlement's
            rows.append(_row(r, "2103", day, when, str(info.get("setl_id", "")), -money_of(r, answer),
                             group(answer, r.insuplc_admdvs or ""), names, labels, original=r.setl_id))
    earliest = datetime.min.replace(tzinfo=tz)
    rows.sort(key=lambda x: (x.day, x.setl_time or earliest, x.settlement_id, x.kind))
    # each row added once, to its day's group; the groups' and the whole period's subtotals are sums of those
    days: dict[tuple[date, ClearingGroup], Subtotal] = {}
    for row in rows:
        sub = days.get((row.day, row.group))
        if sub is None:
            sub = days[(row.day, row.group)] = Subtotal(f"{row.day.isoformat()} {row.group.label_zh}")
        sub.add(row)
    groups: dict[ClearingGroup, Subtotal] = {}
    total = Subtotal("合计")
    for (_, g), sub in days.items():
        groups.setdefault(g, Subtotal(g.label_zh)).merge(sub)
        total.merge(sub)
    return CardStatement(store_id, start, end, rows, sorted(groups.items()),
                         [(d, g, s) for (d, g), s in sorted(days.items())], total)


def window(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants to read for a period of centre days: a day either side, as the centre's clock and ours differ
    by seconds and a centre day is the store zone's."""
    return (datetime.combine(start - timedelta(days=1), datetime.min.time(), tz),
            datetime.combine(end + timedelta(days=2), datetime.min.time(), tz))


def card_statement(engine: Engine, store_id: int, start: date, end: date, tz: ZoneInfo,
                   store_admdvs: str) -> CardStatement:
    """The statement of [start, end] (the centre's days, both included), read in one snapshot."""
    if end < start:
        raise ValueError("the period ends before it starts")
    # a centre day is the store zone's: a day either side of the UTC window holds every settlement that can be in it
    lo, hi = window(start, end, tz)
    with queries.reading(engine) as conn:
        cancelled = queries.card_cancellations(conn, store_id, lo, hi)
        names = queries.settled_line_names(conn, store_id, lo, hi)
        # a cancellation of a settlement made before the window names lines the join above did not read
        names.update(queries.line_names(conn, [int(d["feedetl_sn"]) for r in cancelled for d in (r.lines or [])
                                               if str(d.get("feedetl_sn", "")).isdigit()
                                               and int(d["feedetl_sn"]) not in names]))
        return build(queries.card_settlements(conn, store_id, lo, hi), cancelled, names, store_id, start, end, tz,
                     store_admdvs)


def as_dict(st: CardStatement, unmasked: bool = False) -> dict[str, Any]:
    """The statement as plain data (the API's answer, `--json`): money in fen; the identity number masked unless
    `unmasked` (the agency's export)."""

    def money(m: Money) -> dict[str, int]:
        return {k: getattr(m, k) for k, _ in MONEY_COLUMNS}

    def sub(s: Subtotal) -> dict[str, Any]:
        return {"label": s.label, "settlements": s.settlements, "cancellations": s.cancellations,
                "money": money(s.money)}

    def group(g: ClearingGroup) -> dict[str, Any]:
        return {"insutype": g.insutype, "clr_type": g.clr_type, "clr_optins": g.clr_optins, "nonlocal": g.nonlocal_}

    return {
        "from": st.start.isoformat(), "to": st.end.isoformat(),
        "rows": [{"settlement_id": r.settlement_id, "kind": r.kind, "day": r.day.isoformat(),
                  "setl_time": r.setl_time.strftime("%Y-%m-%d %H:%M:%S") if r.setl_time else "", "setl_id": r.setl_id,
                  "original_setl_id": r.original_setl_id, "sale_no": r.sale_no, "psn_name": r.psn_name,
                  "certno": r.certno_shown(unmasked), "insutype": r.insutype, "psn_type": r.psn_type,
                  "nonlocal": r.group.nonlocal_, "group": group(r.group), "money": money(r.money),
                  "lines": [{"name": ln.name, "qty": ln.qty, "amount_fen": ln.amount} for ln in r.lines],
                  "rx_no": r.rx_no, "rx_institution": r.rx_institution, "problems": list(r.problems)}
                 for r in st.rows],
        "by_group": [group(g) | sub(s) for g, s in st.by_group],
        "by_day_group": [{"day": d.isoformat()} | group(g) | sub(s) for d, g, s in st.by_day_group],
        "total": sub(st.total),
        "problems": len(st.problems()),
    }
