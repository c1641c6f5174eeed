"""What every multi-step task screen (F3 card, F4 prescription) does the same way: one message line, and
service calls run as one worker at a time whose refusal is shown there — nothing typed is lost."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, ClassVar

from textual.widgets import Static

from pos.client import ServiceError, ServiceUnavailable


class TaskSteps:
    """Mixin for a Screen: `MESSAGE_ID` names its message Static, `WORKER_GROUP` its worker group."""

    MESSAGE_ID: ClassVar[str]
    WORKER_GROUP: ClassVar[str]
    OFFLINE_TEXT: ClassVar[str] = "无法连接收银服务，请稍后重试"
    busy: bool

    def say(self, text: str, error: bool = False) -> None:
        message = self.query_one(f"#{self.MESSAGE_ID}", Static)  # type: ignore[attr-defined]
        message.update(text)
        message.set_class(error, "error")

    def _work(self, job: Awaitable[Any]) -> None:
        self.run_worker(self._guarded(job), group=self.WORKER_GROUP, exclusive=True)  # type: ignore[attr-defined]

    async def _guarded(self, job: Awaitable[Any]) -> None:
        self.busy = True
        try:
            await job
        except ServiceError as exc:
            self.say(exc.text_zh, error=True)
        except ServiceUnavailable:
            self.say(self.OFFLINE_TEXT, error=True)
        finally:
            self.busy = False
            self.refresh_bindings()  # type: ignore[attr-defined]
