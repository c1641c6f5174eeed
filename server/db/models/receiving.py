"""Receiving (采购入库, GSP-05) and the first inventory (初始化入库): the receipt, its lines by item × 批号 with the
inspection's verdict, the trace codes scanned at receipt, and a supplier's first-time items (首营品种).

A receipt is a document with a life (draft → inspected → approved); its stock enters the ledger only at
approval, through the one writer (server.services.stock.ledger), each movement pointing at its line.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk
from server.db.types import UTCDateTime


class Receipt(Table, table=True):
    __tablename__ = "receipt"
    # One first inventory a store, ever (a second opening document is refused by the database too).
    __table_args__ = (Index("uq_receipt_one_opening", "store_id", unique=True,
                            sqlite_where=text("kind = 'opening'"), postgresql_where=text("kind = 'opening'")),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    kind: str = Field(default="purchase", max_length=20)  # purchase | opening (the first inventory)
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id", index=True)
    dynt_no: str = Field(default="", max_length=50)  # 随货同行单号 (3503 dynt_no)
    purc_invo_no: str = Field(default="", max_length=50)  # 采购发票号 (3503 purc_invo_no)
    business_date: date = Field(index=True)  # the day the goods came: the supplier's licence is judged that day
    status: str = Field(default="draft", max_length=20)  # draft | inspected | approved
    note: str = Field(default="", max_length=200)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at()
    inspected_by: int | None = Field(default=None, foreign_key="app_user.id")  # 验收员
    inspected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    approved_by: int | None = Field(default=None, foreign_key="app_user.id")  # 质量负责人 / 店长, not the inspector
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReceiptLine(Table, table=True):
    __tablename__ = "receipt_line"
    __table_args__ = (UniqueConstraint("receipt_id", "line_no"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    receipt_id: int = Field(foreign_key="receipt.id", index=True)
    line_no: int
    item_id: int = Field(foreign_key="item.id", index=True)
    lot_no: str = Field(max_length=30)  # 生产批号 manu_lotnum
    manufactured_on: date
    expires_on: date
    qty: int = Field(ge=0)  # whole packs (the item's unit)
    loose: int = Field(default=0, ge=0)  # split units beyond the packs (a first inventory's opened packs)
    unit_cost_fen: int = Field(ge=0)  # per pack: 3503 finl_trns_pric
    zone_id: int | None = Field(default=None, foreign_key="zone.id")  # where the batch will be kept
    outcome: str = Field(default="pending", max_length=20)  # server.rules.stock.Outcome
    reason: str = Field(default="", max_length=200)  # why rejected or held (拒收 / 待验 原因)
    batch_id: int | None = Field(default=None, foreign_key="batch.id", index=True)  # the batch made at approval


class ReceiptTraceCode(Table, table=True):
    """A 追溯码 scanned at receipt: one box of the line (the same code is later sold once)."""

    __tablename__ = "receipt_trace_code"
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    line_id: int = Field(foreign_key="receipt_line.id", index=True)
    code: str = Field(max_length=30)


class SupplierItem(Table, table=True):
    """首营品种: an item approved for delivery by one supplier — who approved it and when."""

    __tablename__ = "supplier_item"
    __table_args__ = (UniqueConstraint("supplier_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    approved_by: int | None = Field(default=None, foreign_key="app_user.id")
    approved_at: datetime = created_at()


class SupplierReturn(Table, table=True):
    """购进退出: goods of an approved delivery sent back to its supplier (3504), with the reason."""

    __tablename__ = "supplier_return"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    receipt_id: int = Field(foreign_key="receipt.id", index=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    purc_invo_no: str = Field(max_length=50)  # 3504 requires it: the delivery's invoice, or the one given
    business_date: date = Field(index=True)
    reason: str = Field(max_length=200)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at()


class SupplierReturnLine(Table, table=True):
    __tablename__ = "supplier_return_line"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    return_id: int = Field(foreign_key="supplier_return.id", index=True)
    receipt_line_id: int = Field(foreign_key="receipt_line.id", index=True)
    batch_id: int = Field(foreign_key="batch.id")
    qty: int = Field(gt=0)  # split units
    location: str = Field(max_length=12)  # sellable | quarantine: where the goods were taken from
