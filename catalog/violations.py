"""What a rule returns when it refuses: the rule ID and a message in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str  # a rule ID from rules.md (e.g. GSP-02), or a catalog code (e.g. CODE-GTIN)
    message_zh: str
    message_en: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.rule, "message_zh": self.message_zh, "message_en": self.message_en, "details": self.details}
