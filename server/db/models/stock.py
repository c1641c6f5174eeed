"""Batches and the kinds of stock movement; the ledger's own tables are in ledger.py (ST-02)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk


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
