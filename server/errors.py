"""Errors a user or device can cause, as the use cases raise them: a status, a code, a message in
Chinese and English, and details. The code is the rule ID where a rule refused (e.g. GSP-02, CARD-02).

Domain only: no web framework here, so every use case can raise these without importing one. The API
turns them into HTTP answers (server.api.errors).
"""

from __future__ import annotations

from typing import Any

from catalog.violations import Violation


class AppError(Exception):
    def __init__(self, status: int, code: str, message_zh: str, message_en: str, details: dict[str, Any] | None = None):
        super().__init__(message_en)
        self.status = status
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en,
                "details": self.details}


def refused(violations: list[Violation], status: int = 422) -> AppError:
    """Turn rule violations into one error: the first violation's rule is the code, all are listed."""
    first = violations[0]
    details = dict(first.details)
    if len(violations) > 1:
        details["violations"] = [v.as_dict() for v in violations]
    return AppError(status, first.rule, first.message_zh, first.message_en, details)


def not_found(what_zh: str, what_en: str, /, **details: Any) -> AppError:
    return AppError(404, "NOT_FOUND", f"{what_zh}不存在", f"{what_en} not found", details)


def conflict(rule: str, zh: str, en: str, /, **details: Any) -> AppError:
    return AppError(409, rule, zh, en, details)
