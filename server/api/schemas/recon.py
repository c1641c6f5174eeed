"""The reconciliation with the centre (ST-07): runs, their named settlements, acknowledgments, the repair."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict


class AckIn(Strict):
    note: str = Field(default="", max_length=500)  # required by the rule (ST-07), said in its words when missing


class ReconItemOut(BaseModel):
    id: int
    setl_id: str
    mdtrt_id: str
    psn_no: str
    msgid: str
    refd_setl_flag: str
    stmt_rslt: str
    memo: str
    ours: bool


class AckOut(BaseModel):
    id: int
    run_id: int
    note: str
    acked_by: int
    acked_at: datetime


class RunOut(BaseModel):
    id: int
    kind: str
    stmt_begndate: date
    stmt_enddate: date
    insutype: str
    clr_type: str
    clr_optins: str
    away: bool
    refd_setl_flag: str
    medfee_fen: int
    fund_fen: int
    acct_fen: int
    cash_fen: int
    setl_cnt: int
    setl_ids: list[str]
    result: str
    result_zh: str
    result_dscr: str
    msgid: str
    detail_msgid: str
    detail_error: str
    ran_by: int | None
    ran_at: datetime
    items: list[ReconItemOut] = []
    acks: list[AckOut] = []


class DayGroupOut(BaseModel):
    day: date
    group: str
    settlements: int
    status: str  # 未对账 | 平 | 不平
    run_id: int | None
    result_dscr: str
    acknowledged: bool
    blocker: dict[str, Any] | None


class SettlementStatusOut(BaseModel):
    setl_id: str
    msgid: str
    day: date
    group: str
    refund: bool
    medfee_sumamt: str
    status: str  # 未对账 | 平 | 不平
    memo: str


class BlockersOut(BaseModel):
    first_day: date
    last_day: date
    blockers: list[dict[str, Any]]


class RepairOut(BaseModel):
    item_id: int
    setl_id: str
    omsgid: str
    oinfno: str
    msgid: str
    warn_msg: str
