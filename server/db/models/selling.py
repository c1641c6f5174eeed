"""Shifts, the pharmacists on duty, sales with their lines and tenders, returns.

A sale is a basket while open or suspended; once completed or voided it is final and never
changed again — a return is a new row pointing at it (ST-02).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk
from server.db.types import UTCDateTime


class ShiftStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Shift(Table, table=True):
    """A till's working period: opened with a cash float, closed with a counted cash amount (Z report)."""

    __tablename__ = "shift"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    till_id: int = Field(foreign_key="till.id", index=True)
    status: str = Field(default=ShiftStatus.OPEN.value, max_length=10)
    business_date: date
    float_fen: int = Field(ge=0)
    opened_by: int = Field(foreign_key="app_user.id")
    opened_at: datetime = Field(sa_type=UTCDateTime)
    closed_by: int | None = Field(default=None, foreign_key="app_user.id")
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    counted_cash_fen: int | None = None
    expected_cash_fen: int | None = None  # fixed at close, so the Z report reprints the same


class PharmacistDuty(Table, table=True):
    """A pharmacist on duty in a shift, from log-in to log-out of the pharmacist role (RX-10)."""

    __tablename__ = "pharmacist_duty"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    shift_id: int = Field(foreign_key="shift.id", index=True)
    user_id: int = Field(foreign_key="app_user.id")
    on_at: datetime = Field(sa_type=UTCDateTime)
    off_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SaleStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"  # 挂单: resumable on any till of the store
    SETTLING = "settling"  # a card settlement is under way or uncertain: nothing happens to it until resolved
    COMPLETED = "completed"
    VOIDED = "voided"


class Sale(Table, table=True):
    __tablename__ = "sale"
    __table_args__ = (UniqueConstraint("store_id", "business_date", "day_no"),)

    id: str = Field(primary_key=True, max_length=36)  # the till's UUID: retries carry the same id
    store_id: int = store_fk()
    till_id: int = Field(foreign_key="till.id", index=True)
    shift_id: int = Field(foreign_key="shift.id", index=True)
    status: str = Field(default=SaleStatus.OPEN.value, max_length=12, index=True)
    opened_by: int = Field(foreign_key="app_user.id")
    opened_at: datetime = Field(sa_type=UTCDateTime)
    total_fen: int = 0
    # Assigned at completion, gap-free per store and business day: the receipt's sale number.
    business_date: date | None = Field(default=None, index=True)
    day_no: int | None = None
    sale_no: str | None = Field(default=None, max_length=20, index=True)
    completed_by: int | None = Field(default=None, foreign_key="app_user.id")
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    change_fen: int = 0
    voided_by: int | None = Field(default=None, foreign_key="app_user.id")
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    void_reason: str = Field(default="", max_length=200)
    void_confirmed_by: int | None = Field(default=None, foreign_key="app_user.id")  # the second person (SEC-01)
    suspended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The prescription its Rx lines are dispensed against (RX-01); one per sale.
    prescription_id: int | None = Field(default=None, foreign_key="prescription.id", index=True)


class SaleLine(Table, table=True):
    __tablename__ = "sale_line"
    __table_args__ = (UniqueConstraint("sale_id", "line_no"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    sale_id: str = Field(foreign_key="sale.id", index=True, max_length=36)
    line_no: int
    item_id: int = Field(foreign_key="item.id")
    split: bool = False  # sold in split units (拆零)
    qty: int = Field(gt=0)  # in the unit sold: units, or split units when split
    unit_price_fen: int = Field(ge=0)  # the catalog price at the moment of the line (CARD-03)
    amount_fen: int = Field(ge=0)
    added_at: datetime = created_at()
    # Set at completion for an Rx line: the prescription line it is dispensed against (RX-04).
    rx_line_id: int | None = Field(default=None, foreign_key="prescription_line.id", index=True)
    # What was true of the item when it was sold (the month-end reports and the checklist read these, never
    # today's catalog): written at the scan from what the scan read, written again at completion from what the
    # completion's rules judged, kept from then on (the guard of migration 0013). NULL on a line sold before
    # that migration: nobody knows any more what was true then.
    gsp_class: str | None = Field(default=None, max_length=20)  # catalog.classes.GspClass
    insurance_category: str | None = Field(default=None, max_length=10)  # catalog.classes.InsuranceCategory
    nhsa_code: str | None = Field(default=None, max_length=50)  # 国家统一医保编码, as mapped then
    mapping_uploaded_on: date | None = None  # CARD-07: the mapping's upload day as known then (None: not uploaded)
    zone_id: int | None = Field(default=None, foreign_key="zone.id")  # the zone the placement check judged
    storage: str | None = Field(default=None, max_length=20)  # catalog.classes.Storage
    # At completion: what the stock taken cost, at each batch's cost (per unit, so a split take is its share),
    # rounded half up to the fen once per line.
    cost_fen: int | None = Field(default=None, ge=0)


class TenderKind(StrEnum):
    CASH = "cash"
    OTHER = "other"  # bank card, mobile payment … recorded by reference
    INSURANCE = "insurance"  # 医保 card / e-voucher: the card issue adds it


class Tender(Table, table=True):
    """How a completed sale was paid. Cash may be over-tendered; change comes only from cash."""

    __tablename__ = "tender"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    sale_id: str = Field(foreign_key="sale.id", index=True, max_length=36)
    kind: str = Field(max_length=12)
    amount_fen: int = Field(ge=0)  # what this tender pays of the sale
    tendered_fen: int = Field(ge=0)  # what was handed over (cash); equals amount otherwise
    reference: str = Field(default="", max_length=64)


class SaleReturn(Table, table=True):
    """A return of (part of) a completed sale. Refunds go back by the original tender."""

    __tablename__ = "sale_return"

    id: str = Field(primary_key=True, max_length=36)  # the till's UUID: retry-safe
    store_id: int = store_fk()
    sale_id: str = Field(foreign_key="sale.id", index=True, max_length=36)
    till_id: int = Field(foreign_key="till.id")
    shift_id: int = Field(foreign_key="shift.id", index=True)
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(max_length=200)
    to_quarantine: bool = False
    total_fen: int = 0
    confirmed_by: int | None = Field(default=None, foreign_key="app_user.id")  # the second person (SEC-01)


class SaleReturnLine(Table, table=True):
    __tablename__ = "sale_return_line"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    return_id: str = Field(foreign_key="sale_return.id", index=True, max_length=36)
    sale_line_id: int = Field(foreign_key="sale_line.id", index=True)
    qty: int = Field(gt=0)
    amount_fen: int = Field(ge=0)


class Refund(Table, table=True):
    __tablename__ = "refund"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    return_id: str = Field(foreign_key="sale_return.id", index=True, max_length=36)
    kind: str = Field(max_length=12)
    amount_fen: int = Field(ge=0)
    reference: str = Field(default="", max_length=64)


class DayCounter(Table, table=True):
    """The last sale number given out per store and business day; locked while the next is taken."""

    __tablename__ = "day_counter"

    store_id: int = Field(foreign_key="store.id", primary_key=True)
    business_date: date = Field(primary_key=True)
    last_no: int = 0
