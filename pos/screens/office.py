"""What every back-office screen (后台, Ctrl+B) does the same way, in the till's 80×24: the status bar, a title, one
table, a message line, one input that asks one thing at a time (its placeholder says what), and the F-keys.

Its service calls run as workers, so the till's other keys stay live while one is out; a refusal is shown in both
languages, as the service gave it (the rule ID, the Chinese, the English), and nothing typed is lost."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Input, Label, Static

from pos.client import ServiceError, ServiceUnavailable
from pos.format import halfwidth
from pos.office import OfficeCalls
from pos.screens.help import HelpScreen
from pos.state import TillState
from pos.widgets.footer import TillFooter
from pos.widgets.status import StatusBar

OFFLINE = "无法连接收银服务，请稍后重试（Service unavailable, try again）"


def bilingual(exc: ServiceError) -> str:
    """A refusal as the back office shows it: every rule with its Chinese, then the service's English."""
    return f"{exc.text_zh}\n{exc.message_en}"


class OfficeScreen(Screen[None]):
    """A back-office screen: `TITLE_ZH` its title, `PROMPT` the input's first question, `COLUMNS` its table's."""

    TITLE_ZH: ClassVar[str] = ""
    PROMPT: ClassVar[str] = ""
    COLUMNS: ClassVar[Sequence[str]] = ()
    AUTO_FOCUS = "#office-input"

    def __init__(self, state: TillState) -> None:
        super().__init__()
        self.state = state
        self.calls = OfficeCalls(state.client)
        self.busy = 0  # calls out (the tests wait for 0)
        self._keys_for: tuple[Any, ...] = ()

    def compose(self) -> ComposeResult:
        yield StatusBar(self.state, id="status")
        yield Label(self.TITLE_ZH, id="office-title", markup=False)
        table: DataTable[Any] = DataTable(id="office-table", cursor_type="row", zebra_stripes=True)
        table.can_focus = False  # the input keeps the focus; ↑↓ move the row from there (action_cursor)
        table.add_columns(*self.COLUMNS)
        yield table
        yield from self.compose_more()
        yield Static("", id="office-message", classes="message", markup=False)
        yield Input(placeholder=self.PROMPT, id="office-input", max_length=60)
        yield TillFooter()

    def compose_more(self) -> ComposeResult:
        """What a screen shows between its table and its message (the month end's progress bar)."""
        yield from ()

    # --- what every screen shares -----------------------------------------------------------------

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#office-table", DataTable)

    @property
    def input(self) -> Input:
        return self.query_one("#office-input", Input)

    def ask(self, prompt: str, value: str = "") -> None:
        """The input's next question (its placeholder), the field cleared or preset to `value`."""
        self.input.placeholder = prompt
        self.input.value = value
        self.input.focus()

    def typed(self) -> str:
        return halfwidth(self.input.value)

    def say(self, text: str, error: bool = False) -> None:
        message = self.query_one("#office-message", Static)
        message.update(text)
        message.set_class(error, "error")

    def title_says(self, text: str) -> None:
        self.query_one("#office-title", Label).update(text)

    def rows(self, rows: Sequence[Sequence[Any]], keep: bool = True) -> None:
        """The table's rows, afresh; the cursor kept on the same place when `keep`."""
        table = self.table
        at = table.cursor_row
        table.clear()
        for n, row in enumerate(rows):
            table.add_row(*(str(c) for c in row), key=str(n))
        if rows and keep:
            table.move_cursor(row=min(max(at, 0), len(rows) - 1))

    @property
    def row(self) -> int:
        """The row the cursor is on (-1: an empty table)."""
        return self.table.cursor_row if self.table.row_count else -1

    def keys_follow(self, *what: Any) -> None:
        """The footer shows the keys live for `what` (the screen's step, a sheet's status …): redrawn only when it
        changed — a footer redrawn is a dozen widgets styled anew."""
        if what != self._keys_for:
            self._keys_for = what
            self.refresh_bindings()

    def action_cursor(self, step: int) -> None:
        if self.table.row_count:
            self.table.move_cursor(row=min(max(self.table.cursor_row + step, 0), self.table.row_count - 1))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS))  # type: ignore[attr-defined]

    def action_leave(self) -> None:
        self.app.pop_screen()

    def keep_file(self, body: bytes, name: str) -> str:
        """A file the service made (a report, the checklist), kept where the person is: in the office PC's browser
        it is downloaded there; at the till it is saved into `[till] export_dir`. What to tell them is returned;
        OSError when it could not be saved."""
        name = Path(name).name  # the service's name, never a path of its choosing
        if self.app.is_web:
            self.app.deliver_binary(BytesIO(body), save_filename=name)
            return f"已下载到浏览器：{name}（{len(body) // 1024 + 1} KB）"
        folder = Path(self.state.export_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(body)
        return f"已保存：{path}（{len(body) // 1024 + 1} KB）"

    def work(self, job: Awaitable[Any], done: str = "") -> None:
        """Run a call as a worker (the till's keys stay live); its refusal is said, `done` when it went through."""
        self.busy += 1
        self.run_worker(self._guarded(job, done), group="office")

    async def _guarded(self, job: Awaitable[Any], done: str) -> None:
        try:
            await job
            if done:
                self.say(done)
        except ServiceError as exc:
            self.say(bilingual(exc), error=True)
        except ServiceUnavailable:
            self.say(OFFLINE, error=True)
        finally:
            self.busy -= 1
