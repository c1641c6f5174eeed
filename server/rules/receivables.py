"""Receivables from the fund (ST-05, ST-07): the working-day calendar, the statement periods, what a declaration
(申报) is owed and when, and the refusals of a payment, a write-off and a year-end assessment. Pure: plain facts in,
figures or Violations out.

The agency pays the audited amount within N working days of the declaration (ST-05); an interim share (90 %) may be
paid and the rest held as a deposit (质量保证金, the reserve) until the year-end assessment, which returns it or
deducts from it. What the agency refuses (拒付), deducts (扣款) or fines (罚款) is written off: it is never money the
fund owes (ST-07, 医保欠费). A payment beyond what is due — the same notice twice, or more than the interim share —
is money the store owes back, returned from the next payment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from catalog.violations import Violation

HOLIDAY = "holiday"  # 法定节假日: a weekday off
WORKDAY = "workday"  # 调休上班: a weekend day worked
DAY_KINDS = (HOLIDAY, WORKDAY)

REFUSED = "refused"  # 拒付: the agency refuses a claimed amount
DEDUCTION = "deduction"  # 扣款: deducted on audit
PENALTY = "penalty"  # 罚款/违约金: a penalty under the agreement
WRITE_OFF_KINDS = {REFUSED: "拒付", DEDUCTION: "扣款", PENALTY: "罚款"}

INTERIM = "interim"  # the interim share of a declaration (预付 90 %)
RESERVE = "reserve"  # the reserve returned after the year-end assessment (质量保证金返还)
PAYMENT_PARTS = {INTERIM: "预付", RESERVE: "保证金返还"}

PERIOD_MONTHS = {"monthly": 1, "bimonthly": 2, "quarterly": 3}


@dataclass(frozen=True, slots=True)
class Calendar:
    """The store's working-day calendar: weekdays work and weekends rest, except the listed days (the State
    Council's notice each year: public holidays off, and the make-up working days, 调休, on weekends)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, days: Iterable[tuple[date, str]]) -> Calendar:
        listed = list(days)
        return cls(frozenset(d for d, k in listed if k == HOLIDAY), frozenset(d for d, k in listed if k == WORKDAY))

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


def working_days_after(start: date, n: int, calendar: Calendar) -> date:
    """The n-th working day after `start` (the day itself not counted): a deadline of n working days."""
    if n < 0:
        raise ValueError("n must be >= 0")
    day, left = start, n
    while left:
        day += timedelta(days=1)
        if calendar.is_working(day):
            left -= 1
    return day


# --- periods ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, order=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def label(self) -> str:
        if self.start.month == self.end.month:
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y-%m}~{self.end:%Y-%m}"

    def holds(self, day: date) -> bool:
        return self.start <= day <= self.end


def _month_end(year: int, month: int) -> date:
    return date(year, 12, 31) if month == 12 else date(year, month + 1, 1) - timedelta(days=1)


def period_of(day: date, statement_period: str) -> Period:
    """The statement period (`statement_period`: monthly, bimonthly, quarterly; calendar-aligned) holding `day`."""
    months = PERIOD_MONTHS[statement_period]
    first = (day.month - 1) // months * months + 1
    return Period(date(day.year, first, 1), _month_end(day.year, first + months - 1))


def period_starting(start: date, statement_period: str) -> Period | None:
    """The period beginning on `start`, or None when no period of this length begins that day."""
    period = period_of(start, statement_period)
    return period if period.start == start else None


def report_due(period: Period, deadline_day: int | None) -> date | None:
    """A report of `period` is due on the deadline day of the month after the period (ST-04); None: unset."""
    if deadline_day is None:
        return None
    nxt = period.end + timedelta(days=1)
    return date(nxt.year, nxt.month, deadline_day)


# --- what a declaration is owed ----------------------------------------------------------------------------------

def interim_share(approved_fen: int, ratio: Decimal) -> int:
    """The interim payment of an approved amount: the ratio's share, rounded down to the fen (the reserve, never
    the store, takes the odd fen)."""
    return int((Decimal(approved_fen) * ratio).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class PaymentFact:
    id: int
    received_on: date
    amount_fen: int
    reference: str
    part: str


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one declaration stands: every figure derived, none typed."""

    declared_fen: int
    written_off_fen: int
    approved_fen: int  # declared − written off: all the fund can owe
    interim_due_fen: int
    reserve_fen: int  # held until the year-end assessment
    paid_interim_fen: int
    paid_reserve_fen: int
    duplicate_fen: int  # payments whose notice (reference) was already recorded
    due_back_fen: int  # what the store owes the fund back: duplicates and payments beyond the interim share
    outstanding_fen: int  # interim share still owed by the fund (never a written-off fen)
    due_on: date
    overdue: bool
    duplicates: list[int] = field(default_factory=list)


def reference_key(reference: str) -> str:
    """A notice's number as compared for duplicates: spaces and case ignored."""
    return "".join(reference.split()).upper()


def standing(declared_fen: int, ratio: Decimal, declared_on: date, payment_working_days: int, calendar: Calendar,
             today: date, payments: Iterable[PaymentFact], written_off_fen: int,
             first_elsewhere: Mapping[str, int] | None = None) -> Standing:
    """The declaration's standing on `today`. A payment repeating an earlier one's reference — on this declaration,
    or recorded earlier on another (`first_elsewhere`: reference -> the first payment id that used it) — is a
    duplicate: the whole of it is due back; interim payments beyond the interim share are due back too (returned
    from the next payment, ST-07). Outstanding never counts a written-off amount."""
    elsewhere = first_elsewhere or {}
    approved = max(declared_fen - written_off_fen, 0)
    interim_due = interim_share(approved, ratio)
    seen: set[str] = set()
    duplicates: list[int] = []
    paid_interim = paid_reserve = duplicate = 0
    for p in sorted(payments, key=lambda p: (p.received_on, p.id)):
        ref = reference_key(p.reference)
        if ref in seen or elsewhere.get(ref, p.id) < p.id:
            duplicates.append(p.id)
            duplicate += p.amount_fen
            continue
        seen.add(ref)
        if p.part == RESERVE:
            paid_reserve += p.amount_fen
        else:
            paid_interim += p.amount_fen
    due_on = working_days_after(declared_on, payment_working_days, calendar)
    outstanding = max(interim_due - paid_interim, 0)
    due_back = duplicate + max(paid_interim - interim_due, 0)
    return Standing(declared_fen, written_off_fen, approved, interim_due, approved - interim_due, paid_interim,
                    paid_reserve, duplicate, due_back, outstanding, due_on, outstanding > 0 and today > due_on,
                    duplicates)


@dataclass(frozen=True, slots=True)
class YearDeposit:
    """The reserve (deposit) of one year's declarations: held, deducted at the assessment, returned."""

    year: int
    held_fen: int  # Σ reserve of the year's declarations
    deducted_fen: int
    returned_fen: int  # reserve payments received
    assessed: bool

    @property
    def released_fen(self) -> int:
        """What the assessment releases back to the store: the reserve less its deduction (0 before it)."""
        return max(self.held_fen - self.deducted_fen, 0) if self.assessed else 0

    @property
    def still_held_fen(self) -> int:
        return max(self.held_fen - self.deducted_fen - self.returned_fen, 0)

    @property
    def due_back_fen(self) -> int:
        """Returned beyond what was held less what was deducted: the store owes it back."""
        return max(self.returned_fen + self.deducted_fen - self.held_fen, 0)


# --- refusals ----------------------------------------------------------------------------------------------------

def payment_refusals(amount_fen: int, received_on: date, reference: str, part: str, declared_on: date,
                     today: date, assessed: bool) -> list[Violation]:
    """A payment recorded from the agency's notice: a positive amount, a reference, received on or after the
    declaration and not in the future; the reserve comes back only after the year's assessment (ST-05)."""
    out: list[Violation] = []
    if amount_fen <= 0:
        out.append(Violation("ST-05", "到账金额须大于零", "a payment received is a positive amount",
                             {"amount_fen": amount_fen}))
    if not reference.strip():
        out.append(Violation("ST-05", "须填写经办机构拨付通知的编号", "the agency's payment notice reference is required"))
    if part not in PAYMENT_PARTS:
        out.append(Violation("ST-05", f"未知的拨付类型 {part}", f"unknown payment part {part!r}", {"part": part}))
    if received_on < declared_on:
        out.append(Violation("ST-05", f"到账日期 {received_on} 早于申报日期 {declared_on}",
                             f"received on {received_on}, before the declaration of {declared_on}",
                             {"received_on": received_on.isoformat(), "declared_on": declared_on.isoformat()}))
    if received_on > today:
        out.append(Violation("ST-05", f"到账日期 {received_on} 晚于今天", f"received on {received_on}, after today",
                             {"received_on": received_on.isoformat()}))
    if part == RESERVE and not assessed:
        out.append(Violation("ST-05", "年度考核前保证金不予返还，请先登记年度考核结果",
                             "the reserve is returned after the year-end assessment: record the assessment first"))
    return out


def write_off_refusals(kind: str, amount_fen: int, reason: str, declared_fen: int, written_off_fen: int,
                       on: date, declared_on: date, today: date) -> list[Violation]:
    """A write-off (ST-07): a kind, a positive amount no larger than what is left of the declaration, a reason,
    dated between the declaration and today. A negative write-off would carry the amount as owed again."""
    out: list[Violation] = []
    if kind not in WRITE_OFF_KINDS:
        out.append(Violation("ST-07", f"未知的核销类型 {kind}", f"unknown write-off kind {kind!r}", {"kind": kind}))
    if amount_fen <= 0:
        out.append(Violation("ST-07", "核销金额须大于零（拒付、扣款不得转回为应收）",
                             "a write-off is a positive amount (a refused amount is never carried as owed again)",
                             {"amount_fen": amount_fen}))
    elif written_off_fen + amount_fen > declared_fen:
        out.append(Violation("ST-07", "核销金额超过申报金额的剩余部分",
                             "the write-off exceeds what is left of the declaration",
                             {"declared_fen": declared_fen, "written_off_fen": written_off_fen}))
    if not reason.strip():
        out.append(Violation("ST-07", "核销须填写原因（经办机构的拒付/扣款通知）",
                             "a write-off needs its reason (the agency's notice)"))
    if on < declared_on or on > today:
        out.append(Violation("ST-07", f"核销日期 {on} 须在申报日 {declared_on} 至今天之间",
                             f"a write-off is dated between the declaration ({declared_on}) and today",
                             {"on": on.isoformat()}))
    return out


def declaration_refusals(period: Period | None, today: date, declared_before: bool) -> list[Violation]:
    """A declaration covers a whole statement period that has ended, once."""
    if period is None:
        return [Violation("ST-05", "申报期间须为一个完整的结算周期", "a declaration covers one whole statement period")]
    out: list[Violation] = []
    if period.end >= today:
        out.append(Violation("ST-05", f"期间 {period.label} 尚未结束，不能申报", f"period {period.label} has not ended",
                             {"period": period.label}))
    if declared_before:
        out.append(Violation("ST-05", f"期间 {period.label} 已申报", f"period {period.label} is already declared",
                             {"period": period.label}))
    return out


def assessment_refusals(year: int, deducted_fen: int, held_fen: int, reason: str, today: date,
                        assessed_before: bool) -> list[Violation]:
    """The year-end assessment: once per year, after the year ends; it deducts at most what is held."""
    out: list[Violation] = []
    if year >= today.year:
        out.append(Violation("ST-05", f"{year} 年度尚未结束，不能登记年度考核", f"the year {year} has not ended"))
    if assessed_before:
        out.append(Violation("ST-05", f"{year} 年度考核已登记", f"the assessment of {year} is already recorded"))
    if deducted_fen < 0 or deducted_fen > held_fen:
        out.append(Violation("ST-05", "扣除金额须在 0 至保证金余额之间", "the deduction is between 0 and the reserve held",
                             {"deducted_fen": deducted_fen, "held_fen": held_fen}))
    if deducted_fen and not reason.strip():
        out.append(Violation("ST-07", "扣除保证金须填写原因", "a deduction from the reserve needs its reason"))
    return out
