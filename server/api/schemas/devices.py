"""The till's devices as the API shows them, and the simulated ones' controls."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DeviceOut(BaseModel):
    name: str
    driver: str
    connected: bool
    text: str
    last_event: str | None
    last_event_at: str | None
    last_error: str | None
    last_error_at: str | None
    detail: dict[str, Any] | None


class ScanIn(BaseModel):
    code: str = Field(min_length=1, max_length=512, description="what the simulated scanner reads")


class ScanOut(BaseModel):
    delivered: bool  # False: dropped like a real scanner's noise (the reason is in the log and GET /devices)
    till_code: str


class CardInsertIn(BaseModel):
    key: str = Field(default="employee", min_length=1, max_length=40,
                     description="which demo card: employee (职工 310) | resident (居民 390)")


class CardOut(BaseModel):
    """The card as the till may see it: the ID number masked, no business string (SEC-06)."""
    card_no: str
    card_sn: str
    name: str
    id_number_masked: str
    region: str
    version: str
    issued_on: str | None
    valid_until: str | None
    source: str


class CardRemovedOut(BaseModel):
    removed: bool  # False: the simulated reader was already empty


class PrinterSimIn(BaseModel):
    online: bool | None = None
    paper: bool | None = None


class SlipOut(BaseModel):
    """A document as the simulated printer printed it: its text, for the till's 小票 screen."""
    job_id: int
    kind: str
    ref: str
    reprint: bool
    text: str
    printed_at: str
