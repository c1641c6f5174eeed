"""The stock documents as issued: a presented copy or 核验码 checked against the copies kept (issue #19)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict


class VerifyIn(Strict):
    code: str = Field(default="", max_length=40)  # the 核验码 printed on a paper copy
    content_b64: str = Field(default="", max_length=28 * 1024 * 1024)  # the PDF presented, base64


class IssuedOut(BaseModel):
    id: int
    kind: str  # receipt | count_sheet | count_result | loss
    kind_zh: str
    ref_id: int
    fingerprint: str
    file_name: str
    sha256: str
    size: int
    issued_by: str
    issued_at: datetime
    business_date: date
    current: bool  # the document still reads the same today (its facts give the same 核验码)
