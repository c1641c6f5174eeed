"""The API's face for errors: AppError -> HTTP 4xx with {code, message_zh, message_en, details};
validation and routing errors in the same shape. Nothing a client sends may produce a 5xx.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.errors import AppError

log = logging.getLogger("dingdian")


class ErrorBody(BaseModel):
    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = {}


_STATUS_TEXT = {
    400: ("请求无效", "bad request"),
    401: ("未登录或登录已失效", "not authenticated"),
    403: ("无权执行此操作", "forbidden"),
    404: ("资源不存在", "not found"),
    405: ("不支持该请求方法", "method not allowed"),
    406: ("不支持的响应格式", "not acceptable"),
    413: ("请求内容过大", "request too large"),
    415: ("不支持的内容类型", "unsupported media type"),
}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def error_response(exc: AppError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e.get("loc", ()))), "problem": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        names = "、".join(dict.fromkeys(e["field"] for e in errors))
        return JSONResponse(
            {"code": "VALIDATION", "message_zh": f"输入有误：{names}",
             "message_en": f"invalid input: {', '.join(dict.fromkeys(e['field'] for e in errors))}",
             "details": {"errors": errors}},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        zh, en = _STATUS_TEXT.get(exc.status_code, ("请求失败", "request failed"))
        return JSONResponse({"code": f"HTTP_{exc.status_code}", "message_zh": zh, "message_en": en,
                             "details": {"detail": str(exc.detail)}}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"code": "INTERNAL", "message_zh": "服务内部错误，操作未完成",
                             "message_en": "internal error; nothing was changed", "details": {}},
                            status_code=500)
