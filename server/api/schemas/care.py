"""Stock care: counts (盘点), losses (报损, 销毁), recalls (召回), upkeep (养护), the near-expiry pull list."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict


class CountSheetIn(Strict):
    zone_code: str | None = Field(default=None, min_length=1, max_length=20)  # None: the whole store
    blind: bool = False  # 盲盘: the counter does not see the book
    quarantine: bool = False  # the count includes stock held in quarantine (待验), on lines of their own
    note: str = Field(default="", max_length=200)


class CountEntryIn(Strict):
    batch_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    batch_no: str | None = Field(default=None, min_length=1, max_length=30)  # as scanned off the batch label
    location: str = Field(default="sellable", pattern=r"^(sellable|quarantine)$")  # quarantine: 待验 stock
    qty: int = Field(default=0, ge=0, le=1_000_000)  # whole packs
    loose: int = Field(default=0, ge=0, le=1_000_000)  # split units beyond the packs
    add: bool = False  # a scan adds to what is counted already
    reason: str = Field(default="", max_length=200)


class CountEntriesIn(Strict):
    entries: list[CountEntryIn] = Field(min_length=1, max_length=50_000)


class CountPostIn(Strict):
    note: str = Field(default="", max_length=200)
    reasons: dict[int, str] = Field(default_factory=dict, max_length=50_000)  # by batch id: a variance's reason


class CountLineOut(BaseModel):
    id: int
    batch_id: int
    location: str
    batch_no: str
    lot_no: str
    expires_on: date
    item_id: int
    item_name: str
    spec: str
    book_qty: int | None  # hidden (None) on a blind sheet until it is submitted
    counted_qty: int | None
    variance: int | None
    reason: str


class CountSheetOut(BaseModel):
    id: int
    zone_id: int | None
    blind: bool
    quarantine: bool
    status: str
    snapshot_at: datetime
    business_date: date
    note: str
    created_by: int | None
    submitted_by: int | None
    posted_by: int | None
    posted_at: datetime | None
    lines: list[CountLineOut]


class LossLineIn(Strict):
    batch_id: int = Field(ge=1, le=2_147_483_647)
    qty: int = Field(ge=1, le=10_000_000)  # split units
    location: str = Field(default="sellable", pattern=r"^(sellable|quarantine)$")


class WitnessIn(Strict):
    username: str = Field(min_length=1, max_length=50)
    pin: str = Field(min_length=1, max_length=20)


class LossIn(Strict):
    kind: str = Field(pattern=r"^(damage|expiry_writeoff|destruction|recall)$")
    reason: str = Field(max_length=200)
    lines: list[LossLineIn] = Field(min_length=1, max_length=5_000)
    method: str = Field(default="", max_length=100)  # 销毁方式
    witnesses: list[WitnessIn] = Field(default_factory=list, max_length=2)  # 销毁: two other persons
    recall_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


class LossLineOut(BaseModel):
    id: int
    batch_id: int
    item_id: int
    qty: int
    location: str


class LossOut(BaseModel):
    id: int
    kind: str
    reason: str
    method: str
    witness_1: int | None
    witness_2: int | None
    recall_id: int | None
    business_date: date
    created_by: int | None
    created_at: datetime
    lines: list[LossLineOut]


class RecallIn(Strict):
    batch_id: int = Field(ge=1, le=2_147_483_647)
    reason: str = Field(max_length=200)
    notice_no: str = Field(default="", max_length=50)


class BuyerOut(BaseModel):
    sale_id: str
    sale_no: str | None
    business_date: date | None
    sale_line_id: int
    qty: int  # split units taken from the batch, net of what came back
    returned: bool
    insured_name: str | None
    insured_id: str | None  # masked (SEC-06)


class RecallOut(BaseModel):
    id: int
    batch_id: int
    notice_no: str
    reason: str
    started_by: int | None
    started_at: datetime
    business_date: date
    buyers: list[BuyerOut]


class UpkeepCheckIn(Strict):
    batch_id: int = Field(ge=1, le=2_147_483_647)
    appearance: str = Field(max_length=100)
    packaging: str = Field(max_length=100)
    storage: str = Field(max_length=100)
    outcome: str = Field(default="ok", pattern=r"^(ok|doubt)$")
    note: str = Field(default="", max_length=200)


class UpkeepIn(Strict):
    zone_code: str = Field(min_length=1, max_length=20)
    checks: list[UpkeepCheckIn] = Field(min_length=1, max_length=5_000)
    note: str = Field(default="", max_length=200)


class UpkeepClearIn(Strict):
    reason: str = Field(max_length=200)


class UpkeepLineOut(BaseModel):
    id: int
    batch_id: int
    appearance: str
    packaging: str
    storage: str
    outcome: str
    note: str
    cleared_by: int | None
    cleared_at: datetime | None
    cleared_reason: str


class UpkeepOut(BaseModel):
    id: int
    zone_id: int
    month: str
    business_date: date
    inspected_by: int | None
    inspected_at: datetime
    note: str
    lines: list[UpkeepLineOut]


class ZoneDueOut(BaseModel):
    zone: str
    name: str
    month: str


class NearExpiryOut(BaseModel):
    zone: str | None
    batch_id: int
    batch_no: str
    lot_no: str
    item_id: int
    item_name: str
    location: str
    qty: int
    expires_on: date
    days_left: int
    expired: bool


class FoundBatchOut(BaseModel):
    batch_id: int
    batch_no: str
    lot_no: str
    item_id: int
    item_name: str
    spec: str
    zone: str | None
    expires_on: date
    expired: bool
    status: str
    stop_reason: str
    sellable: int  # split units
    quarantine: int


class DoubtOut(BaseModel):
    line_id: int
    upkeep_id: int
    zone: str
    month: str
    batch_id: int
    batch_no: str
    item_name: str
    note: str
    batch_status: str
