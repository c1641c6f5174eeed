"""Transfers between the stores of a chain (调拨出库 / 调拨入库): the sending store's document with its lines at the cost
its stock left at, and the receiving store's 验收 of it. Each is written once, whole, in its own store (each store's
audit chain holds its own side); a transfer with no receipt is in transit. Stock moves through the one ledger writer.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk


class StockTransfer(Table, table=True):
    """调拨出库: goods sent from this store (store_id) to another store of its chain."""

    __tablename__ = "stock_transfer"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()  # the sending store
    to_store_id: int = Field(foreign_key="store.id", index=True)
    business_date: date = Field(index=True)
    note: str = Field(default="", max_length=200)
    sent_by: int | None = Field(default=None, foreign_key="app_user.id")
    sent_at: datetime = created_at()


class StockTransferLine(Table, table=True):
    __tablename__ = "stock_transfer_line"
    __table_args__ = (UniqueConstraint("transfer_id", "line_no"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()  # the sending store
    transfer_id: int = Field(foreign_key="stock_transfer.id", index=True)
    line_no: int
    item_id: int = Field(foreign_key="item.id")  # the sender's item
    item_code: str = Field(max_length=30)  # the receiver finds its own item by this code
    batch_id: int = Field(foreign_key="batch.id", index=True)  # the sender's batch
    lot_no: str = Field(max_length=30)
    manufactured_on: date
    expires_on: date
    qty: int = Field(gt=0)  # split units
    cost_fen: int = Field(ge=0)  # what the stock sent cost (its movement's share of the batch): the receiver's too


class TransferReceipt(Table, table=True):
    """调拨入库: the receiving store's 验收 of a transfer, once."""

    __tablename__ = "transfer_receipt"
    __table_args__ = (UniqueConstraint("transfer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()  # the receiving store
    transfer_id: int = Field(foreign_key="stock_transfer.id")
    business_date: date = Field(index=True)
    note: str = Field(default="", max_length=200)
    inspected_by: int | None = Field(default=None, foreign_key="app_user.id")  # 验收员
    inspected_at: datetime = created_at()


class TransferReceiptLine(Table, table=True):
    __tablename__ = "transfer_receipt_line"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()  # the receiving store
    receipt_id: int = Field(foreign_key="transfer_receipt.id", index=True)
    transfer_line_id: int = Field(foreign_key="stock_transfer_line.id", index=True)
    item_id: int = Field(foreign_key="item.id")  # the receiver's item
    batch_id: int = Field(foreign_key="batch.id")  # the receiver's batch, made here
    outcome: str = Field(max_length=20)  # accepted | quarantine (待验)
    reason: str = Field(default="", max_length=200)
