"""Request and response bodies of the electronic 外配处方 API (issue #23): the platform's prescriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict
from server.api.schemas.rx import RxOut


class QueryIn(Strict):
    """7202 by the insured person's credential: 01 医保电子凭证 (its token), 02 ID number, 03 social security card."""

    mdtrt_cert_type: Literal["01", "02", "03"] = "01"
    mdtrt_cert_no: str = Field(min_length=1, max_length=100)


class ListedOut(BaseModel):
    hi_rxno: str
    auth_rxno: str
    prsc_time: str
    fixmedins_name: str
    prsc_dr_name: str


class DownloadIn(Strict):
    """The patient's prescription code as scanned (7201 → 7203), or an auth_rxno from the query (7203)."""

    qr: str = Field(default="", max_length=60)
    auth_rxno: str = Field(default="", max_length=60)


class PlatformOut(BaseModel):
    hi_rxno: str
    sign_verified: bool
    variant: str
    received_at: datetime
    review_uploaded: bool  # the platform took the latest review (7204 accepted)
    review_state: str = ""  # its outbox row: pending | sent | accepted | rejected | failed ("" none)
    review_row_id: int | None = None  # that row in GET /uploads
    rx_chk_biz_sn: str
    reports: list[dict[str, str | int]] = Field(default_factory=list)  # the outbox's 72xx rows: txn, key, state


class DownloadOut(BaseModel):
    new: bool  # false: scanned again, the prescription already on file
    prescription: RxOut
    platform: PlatformOut


class UploadErrorOut(BaseModel):
    code: str
    message_zh: str
    message_en: str


class EprxReviewOut(BaseModel):
    prescription: RxOut
    platform: PlatformOut
    upload_error: UploadErrorOut | None = None  # the review stands; not taken yet (queued: retried) or refused
