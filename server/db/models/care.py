"""Stock care (养护与盘点): count sheets (盘点), loss documents (报损, 过期报损, 销毁, 召回退回), recalls (召回) and the
monthly upkeep inspection (养护, GSP-06).

These are documents; their stock moves only through the ledger (server.services.stock.ledger), each movement
pointing at its document line (ref_type "count_line", "loss_line").
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk
from server.db.types import UTCDateTime


class CountSheet(Table, table=True):
    """A count sheet (盘点单): one zone or the whole store, its book taken at the snapshot."""

    __tablename__ = "count_sheet"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    zone_id: int | None = Field(default=None, foreign_key="zone.id")  # None: the whole store
    blind: bool = False  # 盲盘: the sheet given to the counter hides the book quantities
    quarantine: bool = False  # the count includes stock held in quarantine (待验), each batch's on its own line
    status: str = Field(default="open", max_length=20)  # open | submitted | posted
    snapshot_at: datetime = created_at()
    snapshot_movement_id: int = 0  # the ledger's last movement at the snapshot: later ones are after it
    business_date: date
    note: str = Field(default="", max_length=200)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    submitted_by: int | None = Field(default=None, foreign_key="app_user.id")
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    posted_by: int | None = Field(default=None, foreign_key="app_user.id")  # the approver, not a counter
    posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CountLine(Table, table=True):
    __tablename__ = "count_line"
    __table_args__ = (UniqueConstraint("sheet_id", "batch_id", "location", name="uq_count_line_batch_location"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    sheet_id: int = Field(foreign_key="count_sheet.id", index=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    item_id: int = Field(foreign_key="item.id")
    location: str = Field(default="sellable", max_length=20)  # sellable | quarantine (待验): where it is counted
    book_qty: int  # split units in that location at the snapshot
    counted_qty: int | None = Field(default=None, ge=0)  # split units found; None: not counted yet
    reason: str = Field(default="", max_length=200)  # why it differs (盘盈/盘亏原因)
    counted_by: int | None = Field(default=None, foreign_key="app_user.id")
    counted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Loss(Table, table=True):
    """A loss document: 报损 (damage), 过期报损 (expiry), 销毁 (destruction, two witnesses and the method), or
    the return of recalled stock (召回退回)."""

    __tablename__ = "stock_loss"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    kind: str = Field(max_length=20)  # a MovementKind: damage | expiry_writeoff | destruction | recall
    reason: str = Field(max_length=200)
    method: str = Field(default="", max_length=100)  # 销毁方式 (destruction only)
    witness_1: int | None = Field(default=None, foreign_key="app_user.id")
    witness_2: int | None = Field(default=None, foreign_key="app_user.id")
    recall_id: int | None = Field(default=None, foreign_key="recall.id")
    business_date: date
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at()


class LossLine(Table, table=True):
    __tablename__ = "stock_loss_line"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    loss_id: int = Field(foreign_key="stock_loss.id", index=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    item_id: int = Field(foreign_key="item.id")
    qty: int = Field(gt=0)  # split units
    location: str = Field(default="sellable", max_length=20)


class Recall(Table, table=True):
    """A recall (召回) of a batch: it is stopped from sale and its buyers are listed; its stock leaves by a loss
    document of kind recall."""

    __tablename__ = "recall"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    batch_id: int = Field(foreign_key="batch.id", index=True)
    notice_no: str = Field(default="", max_length=50)  # the recall notice (召回通知) number
    reason: str = Field(max_length=200)
    started_by: int | None = Field(default=None, foreign_key="app_user.id")
    started_at: datetime = created_at()
    business_date: date


class Upkeep(Table, table=True):
    """The monthly upkeep inspection (养护检查, GSP-06) of one zone."""

    __tablename__ = "upkeep"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    zone_id: int = Field(foreign_key="zone.id", index=True)
    month: str = Field(max_length=7, index=True)  # YYYY-MM of the store's business day
    business_date: date
    inspected_by: int | None = Field(default=None, foreign_key="app_user.id")
    inspected_at: datetime = created_at()
    note: str = Field(default="", max_length=200)


class UpkeepLine(Table, table=True):
    __tablename__ = "upkeep_line"
    __table_args__ = (UniqueConstraint("upkeep_id", "batch_id"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    upkeep_id: int = Field(foreign_key="upkeep.id", index=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    appearance: str = Field(max_length=100)  # 外观
    packaging: str = Field(max_length=100)  # 包装
    storage: str = Field(max_length=100)  # 储存条件
    outcome: str = Field(max_length=10)  # ok | doubt (质量疑问: the batch is stopped)
    note: str = Field(default="", max_length=200)
    cleared_by: int | None = Field(default=None, foreign_key="app_user.id")
    cleared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cleared_reason: str = Field(default="", max_length=200)


# Stock care's documents, written through the ORM and audited row by row (server.audit's reference tables).
CARE_DOCUMENTS = (CountSheet, CountLine, Recall, Loss, LossLine, Upkeep, UpkeepLine)
