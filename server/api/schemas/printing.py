"""The print queue's jobs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class PrintJobOut(BaseModel):
    id: int
    till_code: str
    kind: str
    ref: str
    reprint: bool
    status: str
    status_label: str
    attempts: int
    last_error: str
    created_at: datetime
    printed_at: datetime | None


class UncertainJobOut(PrintJobOut):
    """A job a crash of the service cut off: it may have come out; the cashier decides."""
    what: str  # 小票 20261122-0001 / 钱箱（小票 …） / 交班报表 班次 #3 / 处方审核单 …


class ResolveIn(BaseModel):
    reprint: bool  # True: print it again marked 重打; False: it came out whole (a drawer kick: always False)


class ResolvedOut(BaseModel):
    resolved: PrintJobOut
    reprint: PrintJobOut | None
