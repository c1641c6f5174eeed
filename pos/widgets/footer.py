"""The till's footer: Textual's, with the keys a narrow terminal cannot hold left out.

At 80 columns the sale screen's F2..F12 and "Ctrl+S换人" fill the line (79 columns): F1 (帮助) leaves the
footer there and the scan field's placeholder names it instead. Wider, every key is shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW = "-narrow"  # the app's breakpoint class (pos/app.py HORIZONTAL_BREAKPOINTS)


class TillFooter(Footer):
    def __init__(self, narrow_hidden: Iterable[str] = (), **kwargs: object) -> None:
        super().__init__(compact=True, show_command_palette=False, **kwargs)  # type: ignore[arg-type]
        self.narrow_hidden = frozenset(narrow_hidden)
        self._narrow: bool | None = None

    def compose(self) -> ComposeResult:
        narrow = self.screen.has_class(NARROW)
        self._narrow = narrow
        for widget in super().compose():
            if narrow and isinstance(widget, FooterKey) and widget.key in self.narrow_hidden:
                continue
            yield widget

    def on_resize(self, _: Resize) -> None:
        if self._narrow is not None and self.screen.has_class(NARROW) != self._narrow:
            self.call_after_refresh(self.recompose)

