"""The durable print queue: a job is written (intent first) before anything is sent to a printer.

A job keeps the document it prints as JSON, so it prints the same whenever the printer comes back.
Status: pending → printing → printed; a failed attempt returns it to pending. A job found `printing`
when the service starts was cut off mid-send: it becomes `uncertain` and is only printed again by
hand (it may have come out), never by an automatic retry. A drawer kick that could not happen at
once expires instead of opening the drawer minutes later.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk
from server.db.types import JSONDoc, UTCDateTime


class PrintJobKind(StrEnum):
    RECEIPT = "receipt"  # 销售小票
    Z_REPORT = "z_report"  # 交班报表
    RX_SLIP = "rx_slip"  # 处方审核单
    DRAWER = "drawer"  # cash drawer kick (cash sales)
    LABELS = "labels"  # 价签: a label run's shelf labels (GSP-04)
    QR_CODES = "qr_codes"  # codes as QR (the demo's electronic prescription codes, issue #23)


class PrintJobStatus(StrEnum):
    PENDING = "pending"
    PRINTING = "printing"
    PRINTED = "printed"
    UNCERTAIN = "uncertain"  # cut off mid-send by a crash: may have printed; the cashier decides (never resent)
    EXPIRED = "expired"  # a drawer kick that could not be done at once
    RESOLVED = "resolved"  # an uncertain job the cashier decided on (a reprint marked 重打, or none): final

    @property
    def label(self) -> str:
        return {"pending": "待打印", "printing": "打印中", "printed": "已打印", "uncertain": "可能未打印完整",
                "expired": "已过期", "resolved": "已处理"}[self.value]


class PrintJob(Table, table=True):
    __tablename__ = "print_job"
    # The queue's own state changes with every attempt and is not business data: the database's guard
    # (migration 0011) keeps it to its edges. The document is the receipt stub (RX-08): in the log by its digest.
    __audit_exclude__ = ("status", "attempts", "last_error", "claimed_at", "printed_at")
    __audit_digest__ = ("document",)
    __table_args__ = (Index("ix_print_job_queue", "store_id", "till_code", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    till_code: str = Field(max_length=20)  # the till whose printer prints it
    kind: str = Field(max_length=12)
    ref: str = Field(max_length=64, index=True)  # the sale id, the shift id, the prescription number
    reprint: bool = False  # printed with the 重打 mark
    document: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    status: str = Field(default=PrintJobStatus.PENDING.value, max_length=12)
    attempts: int = 0
    last_error: str = Field(default="", max_length=300)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at()
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    printed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
