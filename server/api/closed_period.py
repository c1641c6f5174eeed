"""A write dated inside a closed period (ST-02), refused by the database's guard (migration 0024's triggers, reached
where no use case asked first), answered as the same 409 the period close's use cases give."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

_LOCKED = "inside a closed period"


async def _closed_period(request: Request, exc: Exception) -> JSONResponse:
    text = str(getattr(exc, "orig", exc))
    if _LOCKED not in text:
        raise exc
    return JSONResponse(status_code=409, content={
        "code": "ST-02", "message_zh": "日期在已月结期间内，不得记入；更正请记入当前期间",
        "message_en": "a record cannot be dated inside a closed period: a correction goes into the open period",
        "details": {}})


def install_handler(app: FastAPI) -> None:
    app.add_exception_handler(DBAPIError, _closed_period)
