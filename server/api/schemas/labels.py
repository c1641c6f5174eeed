"""Shelf labels (GSP-04): what to print — never what a label says, which is the catalog's."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict


class LabelPrintIn(Strict):
    selection: str = Field(pattern=r"^(items|zone|changed)$",
                           description="items: item_ids; zone: zone_code's items; changed: stale or never labelled")
    item_ids: list[Annotated[int, Field(ge=1, le=2_147_483_647)]] = Field(default_factory=list, max_length=2000)
    zone_code: str | None = Field(default=None, min_length=1, max_length=20)
    template: str = Field(default="standard", pattern=r"^(standard|small)$",
                          description="standard: every field and the 医保 mark; small (小价签): no room for the mark")
    to_printer: bool = Field(default=False, description="also queue them on this till's receipt printer (ESC/POS)")


class LabelOut(BaseModel):
    item_id: int
    code: str
    name: str
    spec: str
    manufacturer: str
    unit: str
    price_fen: int
    barcode: str
    class_mark: str
    insurance_mark: str
    zone_code: str


class LabelRunOut(BaseModel):
    id: int
    queued_on: str | None = None  # the till whose receipt printer prints them
    printed_at: datetime
    business_date: date
    selection: str
    zone_code: str
    template: str
    labels: list[LabelOut]


class StaleLabelOut(BaseModel):
    item_id: int
    code: str
    name: str
    run_id: int
    changed: list[str]
    printed_price_fen: int
    price_fen: int | None  # now; None when the item left the catalog
