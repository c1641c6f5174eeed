"""The uploads' outbox (3501–3507) as the API shows it and what a person may ask of it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

# Row ids: positive and within a 32-bit integer (as server.api.deps.RowId), so no backend overflows on a wild value.
UploadId = Annotated[int, Field(ge=1, le=2_147_483_647)]


class UploadRowOut(BaseModel):
    id: int
    txn: str
    key: str
    state: str
    attempts: int
    business_date: str
    centre_message: str
    last_error: str
    msgid: str
    payload: dict[str, Any]


class UploadsOut(BaseModel):
    by_txn: list[dict[str, Any]]
    backlog: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    backlog_max_hours: int
    signed_in: bool
    rejected: list[UploadRowOut]
    failed: list[UploadRowOut] = []  # transport failures the worker retries (a person may send one now)


class RetryIn(BaseModel):
    ids: list[UploadId] = Field(min_length=1, max_length=10_000)


class RetryOut(BaseModel):
    requeued: int


class CorrectIn(BaseModel):
    fields: dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=500)]] = Field(
        min_length=1, max_length=40)
    note: str = Field(min_length=1, max_length=200)


class CorrectOut(BaseModel):
    id: int
    payload: dict[str, Any]


class RederiveIn(BaseModel):
    note: str = Field(min_length=1, max_length=200)


class RederiveOut(BaseModel):
    id: int
    payload: dict[str, Any]  # the row as it will be sent now (identity numbers masked)
    deletion_id: int | None  # the centre had taken the row: its 3507, sent first
    resent: list[int]  # then these rows: the batch's facts of that data type, each derived again
