"""The period close (月结, ST-01)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict


class CloseIn(Strict):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")  # YYYY-MM
    note: str = Field(default="", max_length=200)


class ReopenIn(Strict):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


class CloseOut(BaseModel):
    id: int
    month: str
    first_day: str
    last_day: str
    closed_by: int | None
    closed_at: str
    batches: int
    qty: int
    cost_fen: int
    retail_fen: int
