"""Money from the fund and the reports handed in (issue #20): the working-day calendar, the declarations (申报),
payments received, write-offs (拒付, 扣款, 罚款), the year-end assessment of the reserve (ST-05, ST-07), and the
reports as submissions (ST-04).

Declarations, payments, write-offs and assessments are written once (a correction is a new row; migration 0023
guards them). A submission moves draft → submitted → accepted | rejected; its file is never replaced once
submitted — a resubmission is a new row naming the one it follows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import JSONDoc, UTCDateTime


class HolidayDay(Table, table=True):
    """A day the store's working-day calendar lists: a public holiday on a weekday, or a make-up working day
    (调休) on a weekend. Every other day is as the week has it."""

    __tablename__ = "holiday_day"
    __table_args__ = (UniqueConstraint("store_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    day: date
    kind: str = Field(max_length=10)  # holiday | workday
    name: str = Field(default="", max_length=40)  # 春节, 国庆节 ...
    set_by: int | None = Field(default=None, foreign_key="app_user.id")
    set_at: datetime = Field(sa_type=UTCDateTime)


class Declaration(Table, table=True):
    """One statement period's declaration to the agency: the fund's part of the period's settlements, by clearing
    group, derived when declared (never typed)."""

    __tablename__ = "declaration"
    __table_args__ = (UniqueConstraint("store_id", "period_start"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    period_start: date
    period_end: date
    statement_period: str = Field(max_length=10)  # monthly | bimonthly | quarterly, as set when declared
    declared_fen: int  # Σ fund part of the settlements the centre dated in the period, refunds netted
    settlements: int  # how many settlements (refunds count as their own rows)
    groups: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONDoc)  # per clearing group
    interim_ratio: str = Field(max_length=10)  # the ratio in force when declared ("0.90")
    declared_on: date  # the store's business day of the declaration: the payment deadline counts from it
    declared_by: int = Field(foreign_key="app_user.id")
    declared_at: datetime = Field(sa_type=UTCDateTime)


class ReceivablePayment(Table, table=True):
    """A payment the agency made, from its notice (拨付通知): recorded by the 医保 administrator."""

    __tablename__ = "receivable_payment"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    declaration_id: int = Field(foreign_key="declaration.id", index=True)
    part: str = Field(max_length=10)  # interim | reserve
    received_on: date
    amount_fen: int
    reference: str = Field(max_length=60)  # the notice's number
    note: str = Field(default="", max_length=200)
    recorded_by: int = Field(foreign_key="app_user.id")
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class ReceivableWriteOff(Table, table=True):
    """An amount the agency refused, deducted or fined (ST-07): written off the declaration, never owed."""

    __tablename__ = "receivable_write_off"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    declaration_id: int = Field(foreign_key="declaration.id", index=True)
    kind: str = Field(max_length=10)  # refused | deduction | penalty
    amount_fen: int
    written_on: date
    reason: str = Field(max_length=200)
    reference: str = Field(default="", max_length=60)  # the agency's notice, if it gave one
    recorded_by: int = Field(foreign_key="app_user.id")
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class ReserveAssessment(Table, table=True):
    """The year-end assessment (年度考核) of a year's reserve: what it deducts; the rest is returned."""

    __tablename__ = "reserve_assessment"
    __table_args__ = (UniqueConstraint("store_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    year: int
    deducted_fen: int
    reason: str = Field(default="", max_length=200)
    reference: str = Field(default="", max_length=60)
    assessed_on: date
    recorded_by: int = Field(foreign_key="app_user.id")
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class ReportSubmission(Table, table=True):
    """A report handed in (ST-04): one version of one report of one period, with its file."""

    __tablename__ = "report_submission"
    __table_args__ = (UniqueConstraint("store_id", "kind", "period_start", "version"),
                      UniqueConstraint("previous_id"))
    __audit_exclude__ = ("content",)  # the log keeps the file by its sha256 (a column, imaged)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    kind: str = Field(max_length=20)  # ledger | card_statement | rx_statement | declaration
    period_start: date
    period_end: date
    version: int = 1
    previous_id: int | None = Field(default=None, foreign_key="report_submission.id")  # the rejected one it follows
    status: str = Field(default="draft", max_length=10)  # draft | submitted | accepted | rejected
    file_name: str = Field(max_length=200)
    content: bytes = Field(sa_type=LargeBinary)
    sha256: str = Field(max_length=64)
    size: int
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    submitted_by: int | None = Field(default=None, foreign_key="app_user.id")
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")  # who recorded the agency's verdict
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=200)  # the agency's reason for a rejection
    agency_ref: str = Field(default="", max_length=60)
