"""The one input a scan or a typed code goes into.

A keyboard-wedge scanner types a code and Enter within a few milliseconds, and the next code right after.
The input takes the code and clears itself in its own submit action, i.e. in the same message loop that
inserts the characters: clearing it later (from the screen's handler) could wipe the first characters of
the next code, which have already arrived.
"""

from __future__ import annotations

from textual.message import Message
from textual.widgets import Input


class ScanInput(Input):
    class Scanned(Message):
        def __init__(self, code: str) -> None:
            super().__init__()
            self.code = code

    async def action_submit(self) -> None:
        code = self.value.strip()
        self.value = ""
        if code:
            self.post_message(self.Scanned(code))
