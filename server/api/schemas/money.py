"""Receivables and the reserve (ST-05, ST-07), the working-day calendar, reports handed in (ST-04)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from server.api.schemas.common import FIRST_DAY, LAST_DAY, Strict

MAX_FEN = 2_000_000_000
# Dates a store's books can hold: the arithmetic of periods and deadlines never runs off the calendar's end


def Day() -> Any:  # a Field factory, named as the type it bounds
    return Field(ge=FIRST_DAY, le=LAST_DAY)


class CalendarDayIn(Strict):
    kind: str = Field(pattern=r"^(holiday|workday)$")  # holiday: a weekday off; workday: a weekend worked (调休)
    name: str = Field(default="", max_length=40)


class DeclareIn(Strict):
    period_start: date = Day()  # the first day of a statement period (statement_period)


class PaymentIn(Strict):
    amount_fen: int = Field(ge=-MAX_FEN, le=MAX_FEN)  # refused unless positive (ST-05): said so, not a 422
    received_on: date = Day()
    reference: str = Field(max_length=60)  # the agency's payment notice
    part: str = Field(default="interim", max_length=10)  # interim | reserve
    note: str = Field(default="", max_length=200)


class WriteOffIn(Strict):
    kind: str = Field(max_length=10)  # refused (拒付) | deduction (扣款) | penalty (罚款)
    amount_fen: int = Field(ge=-MAX_FEN, le=MAX_FEN)
    reason: str = Field(max_length=200)
    written_on: date = Day()
    reference: str = Field(default="", max_length=60)


class AssessmentIn(Strict):
    year: int = Field(ge=2000, le=2100)
    deducted_fen: int = Field(default=0, ge=-MAX_FEN, le=MAX_FEN)
    reason: str = Field(default="", max_length=200)
    reference: str = Field(default="", max_length=60)


MAX_FILE_B64 = 70 * 1024 * 1024


class SubmissionIn(Strict):
    kind: str | None = Field(default=None, max_length=20)  # ledger | card_statement | rx_statement | declaration
    period_start: date | None = Field(default=None, ge=FIRST_DAY, le=LAST_DAY)
    previous_id: int | None = Field(default=None, ge=1, le=2_147_483_647)  # the rejected one this resubmits
    file_name: str = Field(default="", max_length=200)
    # the file, base64; empty for the 进销存 (kind ledger): its XLSX is made from the ledger, as GET /reports/ledger
    content_b64: str = Field(default="", max_length=MAX_FILE_B64)


class SubmissionFileIn(Strict):
    file_name: str = Field(default="", max_length=200)
    content_b64: str = Field(max_length=MAX_FILE_B64)


class DecisionIn(Strict):
    accepted: bool
    reason: str = Field(default="", max_length=200)  # the agency's reason (a rejection needs one)
    agency_ref: str = Field(default="", max_length=60)
