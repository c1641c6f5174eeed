"""Shifts, the basket, the payment, returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from server.api.schemas.common import Fen, SaleId, Strict


class ShiftOpenIn(Strict):
    float_fen: int = Fen


class ShiftCloseIn(Strict):
    counted_cash_fen: int = Fen


class ShiftOut(BaseModel):
    id: int
    till_id: int
    status: str
    business_date: date
    float_fen: int
    opened_by: int
    opened_at: datetime
    closed_at: datetime | None
    counted_cash_fen: int | None
    opened_by_name: str = ""  # who opened it: the shift is the till's, and whoever logs in after joins it


class DutyOut(BaseModel):
    id: int
    shift_id: int
    user_id: int
    on_at: datetime
    off_at: datetime | None


class UnattendedPeriodOut(BaseModel):
    """A period the store sold with no pharmacist counting as on duty (RX-10), and the sales completed in it."""

    start: datetime
    end: datetime
    seconds: int
    sales: list[str]


class UnattendedOut(BaseModel):
    start: datetime
    end: datetime
    store_24h: bool  # the whole range is selling time, not only the open shifts
    periods: list[UnattendedPeriodOut]
    total_seconds: int


class SaleOpenIn(Strict):
    id: str = SaleId


class LineIn(Strict):
    barcode: str | None = Field(default=None, min_length=1, max_length=14)
    item_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    qty: int = Field(default=1, ge=1, le=10_000)
    split: bool = False


class LineQtyIn(Strict):
    qty: int = Field(ge=1, le=10_000)


class TenderIn(Strict):
    kind: str = Field(pattern=r"^[a-z_]{1,12}$", description="cash | other")
    amount_fen: int = Fen
    tendered_fen: int | None = Field(default=None, ge=0, le=100_000_000, description="cash handed over")
    reference: str = Field(default="", max_length=64)


class CompleteIn(Strict):
    tenders: list[TenderIn] = Field(min_length=1, max_length=5)


class SaleLineOut(BaseModel):
    id: int
    line_no: int
    item_id: int
    item_code: str
    name: str
    spec: str
    gsp_class: str
    gsp_class_label: str
    insurance_label: str
    unit: str
    split: bool
    split_unit: str | None = None  # the unit the item is also sold by (拆零: 粒, 片), where it may be
    qty: int
    unit_price_fen: int
    amount_fen: int
    returned_qty: int = 0
    traced: bool = False  # sold with a 药品追溯码 per box
    trace_codes: list[str] = Field(default_factory=list)  # 药品追溯码 scanned for this line


class TenderOut(BaseModel):
    kind: str
    amount_fen: int
    tendered_fen: int
    reference: str


class SaleOut(BaseModel):
    id: str
    status: str
    till_id: int
    shift_id: int
    sale_no: str | None
    business_date: date | None
    opened_at: datetime
    completed_at: datetime | None
    total_fen: int
    change_fen: int
    void_reason: str
    lines: list[SaleLineOut]
    tenders: list[TenderOut]
    replayed: bool = False
    prescription_id: int | None = None  # the prescription the Rx lines are dispensed against (RX-01)
    warnings: list[ErrorOut] = Field(default_factory=list)  # a scan's warnings (GSP-06 near expiry): not refusals


class ErrorOut(BaseModel):
    """A refusal as the service answers one (server.api.errors): the rule ID, both messages, the details."""

    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = Field(default_factory=dict)


class ReadinessOut(BaseModel):
    """May the sale be paid now: `missing` lists every refusal its completion would give (empty when ready)."""

    ready: bool
    missing: list[ErrorOut]


class VoidIn(Strict):
    """The second person of a void or a refund (SEC-01: on a later day, or above the store's amount) is not in the
    body: they confirm at the till and the request carries their grant (header X-Second)."""

    reason: str = Field(min_length=1, max_length=200)


class ReturnLineIn(Strict):
    sale_line_id: int = Field(ge=1, le=2_147_483_647)
    qty: int = Field(ge=1, le=10_000)


class ReturnIn(Strict):
    id: str = SaleId
    sale_id: str = SaleId
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=200)
    to_quarantine: bool = False


class RefundOut(BaseModel):
    kind: str
    amount_fen: int
    reference: str


class ReturnOut(BaseModel):
    id: str
    sale_id: str
    sale_no: str | None
    created_at: datetime
    reason: str
    to_quarantine: bool
    total_fen: int
    lines: list[dict[str, int]]
    refunds: list[RefundOut]
    confirmed_by: int | None = None  # the second person who checked it (SEC-01)


class TraceCodeIn(Strict):
    code: str = Field(min_length=1, max_length=40, description="药品追溯码: 20 digits starting with 8")
