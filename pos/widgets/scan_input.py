"""The one input a scan or a typed code goes into.

A keyboard-wedge scanner types a code and Enter within a few milliseconds, and the next code right after.
Textual runs an Input's Enter binding from the app, after the key has bubbled up — by then the input may
already hold the first characters of the next code, which the submit would swallow or the clear would
wipe. So this input takes Enter itself, in its own message loop, in key order: the code is taken and the
input cleared between the last character of one scan and the first of the next.

A scanner's burst is taken as one: the characters that reach the input together (a wedge scanner's code and its
Enter arrive in one read of the terminal, so they are queued here before the first is handled) are kept aside and
put into the field at once, by a callback queued behind them — one change of the value and one repaint instead of
thirteen; and a code whose Enter is among them never shows in the field at all, the scan repainting the screen
once, with its line. A key typed by a person is alone in the queue: it goes into the field at once, as
Textual's Input puts it. Any other key (a cursor move, Backspace, an F-key on its way to its binding), a paste or the focus
leaving puts the kept characters in first, so they are never reordered or lost.

Textual's Input gives itself a virtual width of its text's (plus the cursor's cell) on every change, and a change of a
widget's virtual size lays the whole screen out again: on the sale screen, with its rows and F-keys, that layout was
most of a keystroke's repaint (and of a scan's: thirteen keys). This input's virtual width is at least its own, so
while the code fits (it always does, at 50 characters in any width the till supports) a key repaints the input only.
"""

from __future__ import annotations

from typing import Any

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._burst: list[str] = []  # characters received, not yet in the value (put in by _put_burst)

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
        if (event.is_printable and event.character is not None and self.selection.is_empty
                and (self._burst or self.message_queue_size)):  # more keys behind it: a burst
            event.stop()
            event.prevent_default()
            self._burst.append(event.character)
            if len(self._burst) == 1:  # behind the keys already queued: the burst is put in once
                self.call_later(self._put_burst)
            return
        self._put_burst()  # a key that acts on the text acts on all of it
        await super()._on_key(event)

    def _on_paste(self, event: events.Paste) -> None:
        self._put_burst()
        super()._on_paste(event)

    def _on_blur(self, event: events.Blur) -> None:
        self._put_burst()
        super()._on_blur(event)

    def _put_burst(self) -> None:
        """The characters kept aside into the field at the cursor, as one change (cut at max_length, with the bell,
        as Textual's Input refuses the key that would pass it)."""
        if not self._burst:
            return
        text, self._burst = "".join(self._burst), []
        if self.max_length and len(self.value) + len(text) > self.max_length:
            text = text[:max(0, self.max_length - len(self.value))]
            self.restricted()
        if text:
            self._restart_blink()
            self.insert_text_at_cursor(text)

    async def action_submit(self) -> None:  # Enter reaching the binding some other way
        self._take_code()

    def _take_code(self) -> None:
        value, at = self.value, self.cursor_position
        typed = "".join(self._burst)  # a whole scan in one burst: the field never held it
        self._burst = []
        # a code typed with a Chinese IME on: full-width digits are the same code
        code = halfwidth((value[:at] + typed + value[at:])[:self.max_length or None])
        if value:
            self.value = ""
        if code:
            self.post_message(self.Scanned(code))
