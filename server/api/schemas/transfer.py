"""Transfers between the stores of a chain (调拨出库 / 调拨入库)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict


class TransferLineIn(Strict):
    batch_id: int = Field(ge=1, le=2_147_483_647)
    qty: int = Field(ge=1, le=1_000_000)  # split units


class TransferIn(Strict):
    to_store_code: str = Field(min_length=1, max_length=12)  # the receiving store's 定点编号
    lines: list[TransferLineIn] = Field(min_length=1, max_length=2000)
    note: str = Field(default="", max_length=200)


class TakeIn(Strict):
    line_no: int = Field(ge=1, le=100_000)
    outcome: str = Field(default="accepted", pattern=r"^(accepted|quarantine)$")
    reason: str = Field(default="", max_length=200)


class TransferReceiveIn(Strict):
    verdicts: list[TakeIn] = Field(min_length=1, max_length=2000)
    note: str = Field(default="", max_length=200)


class TransferLineOut(BaseModel):
    line_no: int
    item_id: int
    item_code: str
    item_name: str  # as the sending store's catalog names it
    batch_id: int
    lot_no: str
    manufactured_on: date
    expires_on: date
    qty: int
    cost_fen: int


class TransferOut(BaseModel):
    id: int
    store_id: int
    to_store_id: int
    from_store: str
    to_store: str
    status: str  # in_transit | received
    business_date: date
    note: str
    sent_by: int | None
    sent_at: datetime
    received_at: datetime | None
    lines: list[TransferLineOut]
