"""What the till asks of its own state."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from server.api.schemas.selling import SaleOut


class TillStatusOut(BaseModel):
    """What the till's status bar shows that the service knows (devices and links come on GET /events)."""
    store_name: str
    till_code: str
    user: str
    shift_id: int | None
    business_date: date | None
    on_duty: list[str]  # display names of the pharmacists on duty in the open shift (RX-10)


class ReturnableLineOut(BaseModel):
    sale_line_id: int
    returnable_qty: int
    quarantine_required: bool  # store policy sends it to quarantine whatever the pharmacist chooses (GSP-06)


class ReturnableSaleOut(BaseModel):
    """A past sale found by its receipt number, with what is left to return of each line."""
    sale: SaleOut
    lines: list[ReturnableLineOut]


class RejectReasonOut(BaseModel):
    code: str
    label: str
