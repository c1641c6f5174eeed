"""What every multi-step task screen (F3 card, F4 prescription) does the same way: it is given the till's state,
has one message line, and runs its service calls as one worker at a time whose refusal is shown there — nothing
typed is lost."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, ClassVar

from textual.screen import Screen
from textual.widgets import Static

from pos.client import ServiceError, ServiceUnavailable
from pos.state import TillState


class TaskScreen(Screen[dict[str, Any] | None]):
    """`MESSAGE_ID` names its message Static, `WORKER_GROUP` its worker group. Dismissed with the sale as the
    service has it after the task (or None)."""

    MESSAGE_ID: ClassVar[str]
    WORKER_GROUP: ClassVar[str]
    OFFLINE_TEXT: ClassVar[str] = "无法连接收银服务，请稍后重试"

    def __init__(self, state: TillState) -> None:
        super().__init__()
        self.state = state
        self.client = state.client
        self.busy = False

    def say(self, text: str, error: bool = False) -> None:
        message = self.query_one(f"#{self.MESSAGE_ID}", Static)
        message.update(text)
        message.set_class(error, "error")

    def _work(self, job: Awaitable[Any]) -> None:
        self.run_worker(self._guarded(job), group=self.WORKER_GROUP, exclusive=True)

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
            self.refresh_bindings()
