"""The one input a scan or a typed code goes into.

A keyboard-wedge scanner types a code and Enter within a few milliseconds, and the next code right after.
Textual runs an Input's Enter binding from the app, after the key has bubbled up — by then the input may
already hold the first characters of the next code, which the submit would swallow or the clear would
wipe. So this input takes Enter itself, in its own message loop, in key order: the code is taken and the
input cleared between the last character of one scan and the first of the next.

Textual's Input gives itself a virtual width of its text's (plus the cursor's cell) on every change, and a change of a
widget's virtual size lays the whole screen out again: on the sale screen, with its rows and F-keys, that layout was
most of a keystroke's repaint (and of a scan's: thirteen keys). This input's virtual width is at least its own, so
while the code fits (it always does, at 50 characters in any width the till supports) a key repaints the input only.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Input

from pos.format import halfwidth


class ScanInput(Input):
    KEEPS_FOCUS_ON_ENTER = True  # pos/typeahead.py: the next scan's keys are not held behind this Enter
    class Scanned(Message):
        def __init__(self, code: str) -> None:
            super().__init__()
            self.code = code

    @property
    def content_width(self) -> int:
        # Never narrower than the field: the virtual size changes (a layout) only when the text outgrows it.
        return max(super().content_width, self.scrollable_content_region.width)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._take_code()
            return
        await super()._on_key(event)

    async def action_submit(self) -> None:  # Enter reaching the binding some other way
        self._take_code()

    def _take_code(self) -> None:
        code = halfwidth(self.value)  # a code typed with a Chinese IME on: full-width digits are the same code
        self.value = ""
        if code:
            self.post_message(self.Scanned(code))
