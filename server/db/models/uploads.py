"""The uploads' outbox (ST-01, ST-06): every 进销存 fact the insurance centre must hear of (3501–3507),
written in the same transaction as the event itself, then sent by the uploads worker.

Written only by server.services.outbox (Core statements; the units of work refuse ORM writes to it). What a
row says (its transaction, batch, quantity, amount, day, the document line it comes from) never changes; its
sending state moves along pending → sent → accepted | rejected | failed, and the database's guard (migration
0025) keeps it to those edges.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table
from server.db.types import JSONDoc, UTCDateTime


class UploadState(StrEnum):
    PENDING = "pending"  # waiting for its first send (or sent back to the queue by a person, a replay)
    SENT = "sent"  # claimed, msgid and payload committed, on its way: outcome unknown until answered
    ACCEPTED = "accepted"  # infcode 0: the centre holds it
    REJECTED = "rejected"  # the centre refused the content (business error): a person corrects and re-sends
    FAILED = "failed"  # transport: not processed, or unknown — sent again by itself (same msgid, same payload)

    @property
    def label(self) -> str:
        return {"pending": "待上传", "sent": "上传中", "accepted": "已接收", "rejected": "被拒（需处理）",
                "failed": "失败（自动重试）"}[self.value]


class UploadOutbox(Table, table=True):
    __tablename__ = "upload_outbox"
    __table_args__ = (UniqueConstraint("store_id", "key"),
                      Index("ix_upload_outbox_queue", "store_id", "state", "next_at"),
                      Index("ix_upload_outbox_day", "store_id", "business_date", "txn"))

    id: int | None = Field(default=None, primary_key=True)
    # Few indexes: every sale writes rows here (the queue's, the day's and the key's lead with the store).
    store_id: int = Field(foreign_key="store.id", nullable=False)
    # The idempotency key: the document line the fact comes from (a stock movement: "m<id>:<txn>"; a count
    # line: "c<id>"; a deletion or a re-send after one: named after what it deletes) — one fact, one row.
    key: str = Field(max_length=80)
    txn: str = Field(max_length=4)  # 3501 … 3507
    inv_chg_type: str = Field(default="", max_length=6)  # 3502 only
    inv_data_type: str = Field(default="", max_length=2)  # 3507 only: 1 盘存 2 库存变更 3 采购 4 销售
    # the stock movement the fact is (no foreign key: only the stock ledger names its tables; neither row is ever
    # deleted, and audit verify checks the pair)
    movement_id: int | None = Field(default=None, index=True)
    ref_type: str = Field(default="", max_length=30)  # the document line (as the stock movement names it)
    ref_id: str = Field(default="", max_length=40)
    batch_id: int = Field(foreign_key="batch.id")  # fixmedins_bchno: the store's batch serial
    item_id: int = Field(foreign_key="item.id")
    qty: int = 0  # split units, unsigned (the transaction says the direction)
    amount_fen: int = 0  # unsigned: what the centre sums (3505/3506 retail, 3502–3504 cost; 3501/3507 none)
    business_date: date  # the store's day of the fact: the completeness query's day
    created_at: datetime = Field(sa_type=UTCDateTime)
    after_id: int | None = Field(default=None, foreign_key="upload_outbox.id")  # sent only once that is accepted
    replaces_id: int | None = Field(default=None, foreign_key="upload_outbox.id")  # a re-send after a 3507
    # the sending state
    state: str = Field(default=UploadState.PENDING.value, max_length=10)
    attempts: int = 0
    next_at: datetime = Field(sa_type=UTCDateTime)
    msgid: str = Field(default="", max_length=30)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)  # the row as sent (frozen at first send)
    last_error: str = Field(default="", max_length=500)
    centre_message: str = Field(default="", max_length=500)  # err_msg of a rejection, for the person
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
