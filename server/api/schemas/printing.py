"""The print queue's jobs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class PrintJobOut(BaseModel):
    id: int
    till_code: str
    kind: str
    ref: str
    reprint: bool
    status: str
    status_label: str
    attempts: int
    last_error: str
    created_at: datetime
    printed_at: datetime | None
