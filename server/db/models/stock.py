"""Batches and the append-only stock ledger: stock is the sum of movements (ST-02)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk
from server.db.types import UTCDateTime


class BatchStatus(StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"  # quality doubt: never sold until cleared (GSP-06)


class Batch(Table, table=True):
    __tablename__ = "batch"
    __table_args__ = (UniqueConstraint("store_id", "batch_no"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    item_id: int = Field(foreign_key="item.id", index=True)
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id")
    batch_no: str = Field(max_length=30)  # the store's own batch serial: fixmedins_bchno
    lot_no: str = Field(max_length=30)  # 生产批号 manu_lotnum
    manufactured_on: date
    expires_on: date = Field(index=True)
    cost_fen: int = Field(ge=0)  # purchase price per unit (not per split unit)
    zone_id: int | None = Field(default=None, foreign_key="zone.id")  # where the batch is kept
    status: str = Field(default=BatchStatus.ACTIVE.value, max_length=20)
    stop_reason: str = Field(default="", max_length=200)
    received_at: datetime = created_at()


class MovementKind(StrEnum):
    OPENING = "opening"  # 期初
    PURCHASE = "purchase"  # 采购入库 (3503)
    PURCHASE_RETURN = "purchase_return"  # 采购退货 (3504)
    SALE = "sale"  # 销售 (3505)
    SALE_RETURN = "sale_return"  # 销售退货 (3506)
    COUNT_GAIN = "count_gain"  # 盘盈 (3502: 103)
    COUNT_LOSS = "count_loss"  # 盘损 (3502: 104)
    LOSS = "loss"  # 报损 / 销毁 (3502: 105)
    TRANSFER_IN = "transfer_in"  # 调拨入库 (3502: 101)
    TRANSFER_OUT = "transfer_out"  # 调拨出库 (3502: 102)
    CORRECTION = "correction"  # a later entry that corrects an earlier one (corrects_id)


class StockMovement(Table, table=True):
    """One change of one batch's stock, in split units (the smallest unit the item is sold in).

    Never updated or deleted: a correction is a new row pointing at what it corrects.
    """

    __tablename__ = "stock_movement"
    # A return finds what its sale line took, and what came back already, by reference: without this
    # the lookup reads the whole ledger, which grows by every line sold.
    __table_args__ = (Index("ix_stock_movement_ref", "ref_type", "ref_id"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    batch_id: int = Field(foreign_key="batch.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    kind: str = Field(max_length=20)
    qty: int  # signed, in split units
    # sellable stock, or held in quarantine (returned goods awaiting inspection): never sold from there
    location: str = Field(default="sellable", max_length=12)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    ref_type: str = Field(default="", max_length=30)  # sale | sale_return | receipt | count | ...
    ref_id: str = Field(default="", max_length=40)
    corrects_id: int | None = Field(default=None, foreign_key="stock_movement.id")
    note: str = Field(default="", max_length=200)


class BatchBalance(Table, table=True):
    """What a batch holds now per location: the running sum of its movements, kept in the same
    transaction as each movement (the ledger stays the truth; audit verify recomputes this).

    It lets a sale find sellable batches without summing years of history, and gives PostgreSQL
    one row to lock per batch while stock is taken.
    """

    __tablename__ = "batch_balance"
    # Stock never goes below zero: the use cases refuse first; the database refuses regardless.
    __table_args__ = (CheckConstraint("qty >= 0", name="ck_batch_balance_not_negative"),)

    batch_id: int = Field(foreign_key="batch.id", primary_key=True)
    location: str = Field(primary_key=True, max_length=12)
    store_id: int = store_fk()
    item_id: int = Field(foreign_key="item.id", index=True)
    qty: int = 0
