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

from server.api.schemas.common import PIN_FIELDS
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


def _field(loc: tuple[Any, ...], kind: str = "") -> str:
    if kind == "json_invalid":  # its loc is ("body", offset): the offset is where, not a field
        return "body"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


# The fields a till or an office user sends most, in their words; any other is shown by its name.
_FIELD_ZH = {
    "body": "请求内容", "qty": "数量", "barcode": "条码", "item_id": "商品", "split": "拆零", "tenders": "支付方式",
    "kind": "支付方式", "amount_fen": "金额", "tendered_fen": "实收金额", "reference": "凭证号", "reason": "原因",
    "username": "工号", "pin": "密码", "till_code": "收款机", "id": "单号", "sale_id": "销售单号", "code": "编码",
    "float_fen": "备用金", "counted_cash_fen": "实点现金", "lines": "商品行", "sale_line_id": "商品行", "q": "查询内容",
    "limit": "条数", "name": "名称", "price_fen": "价格", "spec": "规格", "to_quarantine": "去向",
    "prescription_id": "处方", "patient_name": "患者姓名", "verdict": "审方结论", "zone_code": "区域",
    "confirm_username": "复核人工号 confirm_username", "confirm_pin": "复核人 PIN confirm_pin",
}


def field_zh(field: str) -> str:
    """tenders.0.amount_fen -> 支付方式第1项的金额; an unknown name stays as it is."""
    words = []
    for part in field.split("."):
        if part.isascii() and part.isdigit():  # a list index; "¹" is a digit to str.isdigit, not to int()
            words.append(f"第{int(part) + 1}项")
        else:
            words.append(("的" if words else "") + _FIELD_ZH.get(part, part))
    return "".join(words)


# A second person's username or PIN in a business request's body (as requests once sent them): what to do instead.
_PIN_IN_BODY = ("不应随请求发送：复核人须在收款机上当场输入工号和 PIN（POST /auth/authorise，second），"
                "请求以 X-Second 头携带其授权", "a second person's PIN never travels in a request: they confirm in "
                "place (POST /auth/authorise with second) and the request carries the grant in the X-Second header")


def _pin_in_body(error: Any) -> bool:
    loc = tuple(error.get("loc", ()))
    return error.get("type") == "extra_forbidden" and bool(loc) and loc[-1] in PIN_FIELDS


def problem_zh(error: Any) -> str:
    """What is wrong with one value, in Chinese (pydantic's error type and its limits); the English is pydantic's."""
    if _pin_in_body(error):
        return _PIN_IN_BODY[0]
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    limit = next((ctx[k] for k in ("ge", "gt", "le", "lt", "min_length", "max_length") if k in ctx), "")
    words = {
        "missing": "必须填写", "extra_forbidden": "不应出现", "json_invalid": "不是有效的 JSON",
        "greater_than_equal": f"不能小于 {limit}", "greater_than": f"须大于 {limit}",
        "less_than_equal": f"不能大于 {limit}", "less_than": f"须小于 {limit}",
        "string_too_short": f"至少 {limit} 个字符", "string_too_long": f"最多 {limit} 个字符",
        "too_short": f"至少 {limit} 项", "too_long": f"最多 {limit} 项",
        "int_parsing": "须为整数", "int_type": "须为整数", "int_from_float": "须为整数",
        "bool_parsing": "须为是或否", "bool_type": "须为是或否", "string_type": "须为文字",
        "string_pattern_mismatch": "格式不对", "list_type": "须为列表", "model_attributes_type": "须为对象",
        "dict_type": "须为对象", "date_from_datetime_parsing": "须为日期", "date_parsing": "须为日期",
        "datetime_parsing": "须为时间", "enum": "不是可选的值", "literal_error": "不是可选的值",
        "uuid_parsing": "格式不对",
    }.get(kind, "无效")
    if kind == "json_invalid":
        where = next((p for p in error.get("loc", ()) if isinstance(p, int)), None)
        return words + (f"（第 {where} 个字符附近）" if where is not None else "")
    return words


def error_response(exc: AppError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e.get("loc", ())), e.get("type", "")),
                   "problem": _PIN_IN_BODY[1] if _pin_in_body(e) else e.get("msg", ""),
                   "problem_zh": problem_zh(e), "type": e.get("type", "")} for e in exc.errors()]
        said = "；".join(dict.fromkeys(f"{field_zh(e['field'])}{e['problem_zh']}" for e in errors))
        return JSONResponse(
            {"code": "VALIDATION", "message_zh": f"输入有误：{said}",
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
