"""Reconciliation with the centre (ST-07): each 3201 run per day (or month) × clearing group, the settlements the
centre's 3202 answer named, and the 医保 administrator's acknowledgments of a difference.

All three are evidence in a dispute with the agency: append-only (the database refuses UPDATE and DELETE, migration
0026), each row imaged in the audit chain as it is written. A later run is a new row; the latest daily run of a day
× group is what the month close reads (server.services.recon.blockers).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import JSONDoc, UTCDateTime


class ReconRun(Table, table=True):
    """One 3201 (医药机构费用结算对总账) for one clearing group over a day or a month, with what we sent."""

    __tablename__ = "recon_run"
    __table_args__ = (Index("ix_recon_run_period", "store_id", "stmt_begndate", "stmt_enddate"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    kind: str = Field(max_length=5)  # day | month
    stmt_begndate: date
    stmt_enddate: date
    insutype: str = Field(max_length=6)  # the clearing group (server.insurance.clearing.ClearingGroup)
    clr_type: str = Field(max_length=6)
    clr_optins: str = Field(max_length=6)
    away: bool = False  # 异地
    refd_setl_flag: str = Field(max_length=1)  # the refund policy the totals were built under
    medfee_fen: int  # our totals, from the stored answers (2102, and 2103 when refunds are included)
    fund_fen: int
    acct_fen: int
    cash_fen: int
    setl_cnt: int
    setl_ids: list[str] = Field(default_factory=list, sa_type=JSONDoc)  # the settlements counted, by setl_id
    result: str = Field(max_length=1)  # 0 平 | 1 不平 (the centre's stmt_rslt)
    result_dscr: str = Field(default="", max_length=200)  # the centre's stmt_rslt_dscr
    msgid: str = Field(max_length=30)  # the 3201's
    detail_msgid: str = Field(default="", max_length=30)  # the 3202's, on 不平
    detail_error: str = Field(default="", max_length=300)  # why the 3202 gave no list (the centre's words)
    ran_by: int | None = Field(default=None, foreign_key="app_user.id")
    ran_at: datetime = Field(sa_type=UTCDateTime)


class ReconItem(Table, table=True):
    """One settlement as the centre's 3202 result named it: 平, or 不平 with the centre's message."""

    __tablename__ = "recon_item"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    run_id: int = Field(foreign_key="recon_run.id", index=True)
    setl_id: str = Field(default="", max_length=30, index=True)
    mdtrt_id: str = Field(default="", max_length=30)
    psn_no: str = Field(default="", max_length=30)
    msgid: str = Field(default="", max_length=30)  # the centre's record of our msgid: what 2601 reverses
    refd_setl_flag: str = Field(default="0", max_length=1)
    stmt_rslt: str = Field(max_length=1)  # 0 平 | 1 不平
    memo: str = Field(default="", max_length=300)
    ours: bool = False  # the settlement is in our books (False: only the centre has it)


class ReconAck(Table, table=True):
    """The 医保 administrator's acknowledgment of a 不平 day × group (a difference written off, ST-07), with a note."""

    __tablename__ = "recon_ack"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    run_id: int = Field(foreign_key="recon_run.id", index=True)
    note: str = Field(max_length=500)
    acked_by: int = Field(foreign_key="app_user.id")
    acked_at: datetime = Field(sa_type=UTCDateTime)


def run_figures(row: Any) -> tuple[Any, ...]:
    """What a difference is: our totals and the centre's words. An acknowledgment covers a later run with the same."""
    return (row.medfee_fen, row.fund_fen, row.acct_fen, row.cash_fen, row.setl_cnt, row.result, row.result_dscr)
