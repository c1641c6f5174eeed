"""What keeps the till's repaints small (#18), on bare Textual apps (no service): a key into the scan field lays
nothing out, and the footer keeps its keys while what it shows stays the same. bench/bench_till.py measures the
latencies these make; here only the mechanism is held, cheaply."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from pos.widgets.footer import TillFooter
from pos.widgets.scan_input import ScanInput


def test_a_key_into_the_scan_field_changes_no_virtual_size_while_the_code_fits() -> None:
    """Textual's Input widens its virtual size with every character, and a changed virtual size lays the whole
    screen out. The scan field's stays its own width while the code fits; a longer text still scrolls."""

    class Till(App[None]):
        def compose(self) -> ComposeResult:
            yield ScanInput(id="scan", max_length=50)

    async def body() -> None:
        app = Till()
        async with app.run_test(size=(24, 3)) as pilot:
            field = app.query_one(ScanInput)
            field.focus()
            await pilot.pause()
            width = field.scrollable_content_region.width
            await pilot.press("6")
            before = field.virtual_size  # set by the first change of the value
            await pilot.press(*"90123")
            assert field.value == "690123"
            assert field.virtual_size == before and before.width >= width
            field.insert_text_at_cursor("1" * (width + 5))  # longer than the field: it scrolls as Textual's does
            await pilot.pause()
            assert field.virtual_size.width > width and field.scroll_offset.x > 0

    asyncio.run(body())


def test_a_scanners_burst_is_taken_as_one_and_a_persons_keys_show_one_by_one() -> None:
    """A wedge scanner's code and Enter reach the field together: the code is scanned whole, in order, without the
    field's value changing once (no repaint of the field: the scan repaints with its line). Keys that reach it one
    at a time show one at a time; a Backspace behind a burst deletes the burst's last character, never an earlier
    one; a burst past max_length is cut there, as Textual's Input refuses each key past it."""
    from textual import events
    from textual.message import Message

    scanned: list[str] = []
    changes: list[str] = []

    class Till(App[None]):
        def compose(self) -> ComposeResult:
            yield ScanInput(id="scan", max_length=20)

        def on_scan_input_scanned(self, event: ScanInput.Scanned) -> None:
            scanned.append(event.code)

        def on_input_changed(self, event: Input.Changed) -> None:
            changes.append(event.value)

    def burst(app: App[None], text: str) -> None:  # as a terminal delivers one read: every key queued at once
        for ch in text:
            key: Message = events.Key("enter", "\r") if ch == "\r" else events.Key(ch, ch)
            app.post_message(key)

    async def body() -> None:
        app = Till()
        async with app.run_test(size=(30, 3)) as pilot:
            field = app.query_one(ScanInput)
            field.focus()
            await pilot.pause()
            burst(app, "6901234567892\r6970000000017\r")
            await pilot.pause()
            assert scanned == ["6901234567892", "6970000000017"]
            assert changes == [] and field.value == ""  # the field never held them
            for ch in "123":  # a person: each key alone, each shown
                await pilot.press(ch)
                assert field.value == "123"[:len(changes)]
            assert changes == ["1", "12", "123"]
            burst(app, "45")
            app.post_message(events.Key("backspace", None))
            await pilot.pause()
            assert field.value == "1234"  # the burst went in first, then the Backspace took its last key
            burst(app, "9" * 30)
            await pilot.pause()
            assert field.value == "1234" + "9" * 16  # cut at max_length
            burst(app, "\r")
            await pilot.pause()
            assert scanned[-1] == "1234" + "9" * 16 and field.value == ""

    asyncio.run(body())


def test_a_line_added_to_the_sale_mounts_nothing_and_lays_nothing_out_while_the_lines_fit() -> None:
    """A scan's new line is a line of the lines widget, not a widget mounted (its styles and the screen's layout
    were a third of a new line's CPU): the virtual size stays the box's while the lines fit, grows once they do not,
    and the cursor's line is scrolled into view; the lines read back in order, renumbered after a removal."""
    from pos.widgets.sale_lines import SaleLines

    columns = (("#", 3), ("品名", 0), ("数量", 5))

    class Till(App[None]):
        def compose(self) -> ComposeResult:
            yield SaleLines(columns, right=(2,), id="lines")

    async def body() -> None:
        app = Till()
        async with app.run_test(size=(40, 6)) as pilot:
            lines = app.query_one(SaleLines)
            await pilot.pause()
            box = lines.virtual_size
            for n in range(1, 5):  # the header and four lines fill the box's five lines (a sixth is the gutter's)
                lines.add_row(str(n), f"药品{n}", "1盒", key=f"k{n}")
                lines.move_cursor(row=n - 1)
                await pilot.pause()
                assert lines.virtual_size == box and not lines.children  # nothing mounted, nothing laid out
            assert lines.get_row_at(3) == ["4", "药品4", "1盒"] and lines.cursor_row == 3
            for n in range(5, 9):
                lines.add_row(str(n), f"药品{n}", "1盒", key=f"k{n}")
            lines.move_cursor(row=7)
            await pilot.pause()
            assert lines.virtual_size.height == 9 > box.height and lines.scroll_offset.y > 0  # the cursor in view
            shown = [strip.text for strip in app.screen._compositor.render_strips()]
            assert any("药品8" in line for line in shown) and not any("药品1 " in line for line in shown)
            lines.remove_row("k2")
            assert lines.keys() == ["k1", "k3", "k4", "k5", "k6", "k7", "k8"] and lines.cursor_row == 6

    asyncio.run(body())


def test_the_footer_keeps_its_keys_when_the_focus_moves_and_remakes_them_when_the_keys_change() -> None:
    class Login(App[None]):
        BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "返回"), Binding("f2", "go", "确认")]

        def compose(self) -> ComposeResult:
            yield Input(id="user")
            yield Input(id="pin")
            yield TillFooter()

        def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
            # F2 only from the PIN (None: shown disabled)
            return True if action != "go" or (self.focused is not None and self.focused.id == "pin") else None

    async def keys(app: Any) -> list[FooterKey]:
        return list(app.query(FooterKey))

    async def body() -> None:
        app = Login()
        async with app.run_test(size=(60, 6)) as pilot:
            app.query_one("#user").focus()
            await pilot.pause(0.1)
            shown = await keys(app)
            assert [k.key for k in shown] == ["escape", "f2"] and shown[1].has_class("-disabled")
            app.query_one("#pin").focus()
            await pilot.pause(0.1)
            now = await keys(app)
            assert [k.key for k in now] == ["escape", "f2"] and not now[1].has_class("-disabled")  # made again: F2 enabled
            app.refresh_bindings()  # the same keys, the same state: the same widgets
            await pilot.pause(0.1)
            assert all(a is b for a, b in zip(await keys(app), now, strict=True))

    asyncio.run(body())
