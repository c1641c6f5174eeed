"""药品追溯码 (traceability codes) scanned per box sold, kept with the sale line.

A box's code leaves the store once: a code sold as a whole box (and not come back by a return) is never
sold again; 拆零 sales reuse the opened box's code with the split flag. The partial unique index makes
the database refuse a second whole-box sale of one code, whatever the use case checked before.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import UTCDateTime


class SaleTraceCode(Table, table=True):
    __tablename__ = "sale_trace_code"
    # `sold` is set by the completion for every code of the sale: audit verify checks it against the sale's
    # status instead of an entry per code.
    __audit_exclude__ = ("sold",)
    __table_args__ = (
        Index("ux_sale_trace_code_sold_box", "store_id", "code", unique=True,
              sqlite_where=text("sold = 1 AND split = 0 AND returned_in IS NULL"),
              postgresql_where=text("sold AND NOT split AND returned_in IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    sale_id: str = Field(foreign_key="sale.id", max_length=36, index=True)
    sale_line_id: int = Field(foreign_key="sale_line.id", index=True)
    item_id: int = Field(foreign_key="item.id")
    code: str = Field(max_length=20, index=True)
    split: bool = False  # 拆零: the opened box's code, shared by the split sales of that box
    sold: bool = False  # the sale completed
    returned_in: str | None = Field(default=None, foreign_key="sale_return.id", max_length=36)
    scanned_by: int = Field(foreign_key="app_user.id")
    scanned_at: datetime = Field(sa_type=UTCDateTime)
