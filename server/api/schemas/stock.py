"""Suppliers, batches and receipts (采购入库, the first inventory)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, model_validator

from server.api.schemas.common import Code, Strict


class SupplierIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    licence_no: str = Field(min_length=1, max_length=50)
    licence_expiry: date
    business_licence_no: str = Field(default="", max_length=50)
    contact: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=30)
    scope: list[str] = Field(default_factory=list, max_length=10)  # server.rules.stock.Scope values (经营范围)


class SupplierUpdateIn(Strict):
    licence_expiry: date | None = None
    scope: list[str] | None = Field(default=None, max_length=10)
    active: bool | None = None
    note: str = Field(default="", max_length=200)


class NoteIn(Strict):
    note: str = Field(default="", max_length=200)


class SupplierOut(BaseModel):
    id: int
    name: str
    licence_no: str
    licence_expiry: date
    business_licence_no: str
    contact: str
    phone: str
    active: bool
    scope: list[str]
    first_approved_by: int | None
    first_approved_at: datetime | None
    licence_valid_today: bool


class SupplierItemOut(BaseModel):
    id: int
    supplier_id: int
    item_id: int
    approved_by: int | None
    approved_at: datetime


class ReceiptLineIn(Strict):
    # the item, by id or by the barcode scanned off the box (one of the two)
    item_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    barcode: str | None = Field(default=None, min_length=1, max_length=64)
    lot_no: str = Field(min_length=1, max_length=30)
    manufactured_on: date
    expires_on: date
    qty: int = Field(ge=0, le=1_000_000)  # whole packs
    loose: int = Field(default=0, ge=0, le=100_000)  # split units beyond the packs (first inventory only)
    unit_cost_fen: int = Field(ge=0, le=100_000_000)  # per pack
    zone_code: str = Field(min_length=1, max_length=20)
    trace_codes: list[str] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _one_item(self) -> ReceiptLineIn:
        if (self.item_id is None) == (self.barcode is None):
            raise ValueError("give item_id or barcode (one of the two) / 商品编号与条码二选一")
        return self


class ReceiptIn(Strict):
    supplier_id: int = Field(ge=1, le=2_147_483_647)
    dynt_no: str = Field(default="", max_length=50)  # 随货同行单号
    purc_invo_no: str = Field(default="", max_length=50)  # 采购发票号
    business_date: date | None = None  # the day the goods came (default today)
    note: str = Field(default="", max_length=200)
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=5_000)


class FirstInventoryIn(Strict):
    business_date: date | None = None
    note: str = Field(default="", max_length=200)
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=50_000)


class TraceCodeCheckIn(Strict):
    """A 追溯码 scanned at receipt, and the codes already scanned on the same unsaved receipt."""
    code: str = Field(min_length=1, max_length=64)
    scanned: list[str] = Field(default_factory=list, max_length=10_000)


class TraceCodeCheckOut(BaseModel):
    code: str


class VerdictIn(Strict):
    line_no: int = Field(ge=1, le=100_000)
    outcome: str = Field(pattern=r"^(accepted|rejected|quarantine)$")
    reason: str = Field(default="", max_length=200)


class InspectionIn(Strict):
    verdicts: list[VerdictIn] = Field(min_length=1, max_length=50_000)
    note: str = Field(default="", max_length=200)


class ReceiptLineOut(BaseModel):
    id: int
    line_no: int
    item_id: int
    lot_no: str
    manufactured_on: date
    expires_on: date
    qty: int
    loose: int
    unit_cost_fen: int
    zone_id: int | None
    outcome: str
    reason: str
    batch_id: int | None
    trace_codes: list[str]


class ReceiptOut(BaseModel):
    id: int
    kind: str
    supplier_id: int | None
    dynt_no: str
    purc_invo_no: str
    business_date: date
    status: str
    note: str
    created_by: int | None
    created_at: datetime
    inspected_by: int | None
    inspected_at: datetime | None
    approved_by: int | None
    approved_at: datetime | None
    lines: list[ReceiptLineOut]


class OpeningBatchIn(Strict):
    item_id: int = Field(ge=1, le=2_147_483_647)
    supplier_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    batch_no: str = Code
    lot_no: str = Field(min_length=1, max_length=30)
    manufactured_on: date
    expires_on: date
    cost_fen: int = Field(ge=0, le=100_000_000)
    qty: int = Field(ge=0, le=10_000_000)
    zone_code: str | None = Field(default=None, max_length=20)


class BatchOut(BaseModel):
    id: int
    item_id: int
    batch_no: str
    lot_no: str
    manufactured_on: date
    expires_on: date
    cost_fen: int
    status: str
    stop_reason: str
    stock: int
    expired: bool


class ReturnLineIn(Strict):
    line_no: int = Field(ge=1, le=100_000)  # the receipt's line
    qty: int = Field(ge=1, le=100_000_000)  # split units
    location: str = Field(default="sellable", pattern=r"^(sellable|quarantine)$")


class SupplierReturnIn(Strict):
    reason: str = Field(min_length=1, max_length=200)
    purc_invo_no: str = Field(default="", max_length=50)
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=5_000)


class SupplierReturnLineOut(BaseModel):
    id: int
    receipt_line_id: int
    batch_id: int
    qty: int
    location: str


class SupplierReturnOut(BaseModel):
    id: int
    receipt_id: int
    supplier_id: int
    purc_invo_no: str
    business_date: date
    reason: str
    created_by: int | None
    created_at: datetime
    lines: list[SupplierReturnLineOut]
