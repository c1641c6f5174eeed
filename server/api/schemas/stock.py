"""Suppliers and batches."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from server.api.schemas.common import Code, Strict


class SupplierIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    licence_no: str = Field(min_length=1, max_length=50)
    licence_expiry: date
    business_licence_no: str = Field(default="", max_length=50)
    contact: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=30)


class SupplierOut(BaseModel):
    id: int
    name: str
    licence_no: str
    licence_expiry: date
    business_licence_no: str
    contact: str
    phone: str
    active: bool
    licence_valid_today: bool


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
