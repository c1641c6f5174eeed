"""The till's footer: Textual's, with the keys a narrow terminal cannot hold left out.

At 80 columns the sale screen's F2..F12 and "Ctrl+S换人" fill the line (79 columns): F1 (帮助) leaves the
footer there and the scan field's placeholder names it instead. Wider, every key is shown.

Textual's footer makes its keys afresh (a dozen widgets mounted, styled and laid out) whenever the screen's
bindings may have changed — on every focus move and every return to the screen. This one does so only when what
it shows changes: a switch of user (the login's two fields, then the sale screen again) spent more of its time
there than in the service.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from textual.app import ComposeResult
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW = "-narrow"  # the app's breakpoint class (pos/app.py HORIZONTAL_BREAKPOINTS)


class TillFooter(Footer):
    def __init__(self, narrow_hidden: Iterable[str] = (), **kwargs: object) -> None:
        super().__init__(compact=True, show_command_palette=False, **kwargs)  # type: ignore[arg-type]
        self.narrow_hidden = frozenset(narrow_hidden)
        self._narrow: bool | None = None
        self._told = False  # the screen has told its bindings (before that Textual's footer shows nothing)
        self._composed: Hashable = None  # what the keys shown were made from

    def shown(self) -> Hashable:
        """What the keys are made from: each binding shown, its words, whether it is enabled; the width."""
        return self.screen.has_class(NARROW), tuple(
            (b.key, b.key_display, b.description, b.action, b.group, enabled, tooltip)
            for _node, b, enabled, tooltip in self.screen.active_bindings.values() if b.show)

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self._told and screen is self.screen and self._composed is not None and self.shown() == self._composed:
            return  # the same keys: nothing to make again
        self._told = True
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        narrow = self.screen.has_class(NARROW)
        self._narrow = narrow
        self._composed = self.shown() if self._told else None
        for widget in super().compose():
            if narrow and isinstance(widget, FooterKey) and widget.key in self.narrow_hidden:
                continue
            yield widget

    def on_resize(self, _: Resize) -> None:
        if self._narrow is not None and self.screen.has_class(NARROW) != self._narrow:
            self.call_after_refresh(self.recompose)

