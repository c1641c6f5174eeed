"""The sale's lines: one widget drawing a header and a line per row (Textual's line API), with a row cursor.

A DataTable re-renders every visible row after any change to any cell (each change clears its render caches), so
each scan redrew the whole table. A widget per row redrew only its row, but a scan that added a line mounted a widget:
its styles worked out from the stylesheet and the whole screen laid out again — a third of a new line's CPU. Here
a row is a line of this one widget: a scan that adds or changes a line repaints that line (and the cursor's old
one), and nothing is mounted or laid out. The virtual height is never below the widget's own, so it changes (a
layout, the scrollbar) only once the lines outgrow the box. The cursor and the zebra stripes are styles a line is
drawn with (the widget's component classes, resolved once), never CSS classes.

It answers the few questions the sale screen (and its tests) ask of a table: `row_count`, `cursor_row`,
`move_cursor(row=)`, `get_row_at(n)`, the keys in order, `add_row`, `update_row`, `remove_row`, `clear`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Column = tuple[str, int]  # the header's words, the width in cells (0: what the others leave)


def fit(text: str, width: int, right: bool = False) -> str:
    """`text` in `width` cells (Chinese takes two): cut with … when longer, padded when shorter."""
    if cell_len(text) > width:
        out, used = "", 0
        for ch in text:
            if used + cell_len(ch) > width - 1:
                break
            out, used = out + ch, used + cell_len(ch)
        text = out + "…"
    pad = " " * max(0, width - cell_len(text))
    return pad + text if right else text + pad


class SaleLines(ScrollView, can_focus=False):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"sale-lines--header", "sale-lines--odd", "sale-lines--cursor"}
    DEFAULT_CSS = """
    SaleLines { height: 1fr; }
    SaleLines > .sale-lines--header { text-style: bold; color: $text-muted; }
    SaleLines > .sale-lines--odd { background: $boost; }
    SaleLines > .sale-lines--cursor { background: $accent; color: $text; text-style: bold; }
    """

    def __init__(self, columns: Sequence[Column], right: Sequence[int] = (), id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.right = frozenset(right)
        self._rows: list[list[str]] = []  # in order, each with its key
        self._keys: list[str] = []
        self._cursor = 0
        self._grown = False  # the virtual size changed, its layout (and scrollbar) not come yet

    # --- what the screen asks -------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def keys(self) -> list[str]:
        return list(self._keys)

    def get_row_at(self, n: int) -> list[str]:
        return list(self._rows[n])

    def get_row(self, key: str) -> list[str]:
        return list(self._rows[self._keys.index(key)])

    # --- changes ------------------------------------------------------------------------------------

    def add_row(self, *cells: str, key: str) -> None:
        self._rows.append(list(cells))
        self._keys.append(key)
        self._fit_height()
        self.refresh_line(len(self._rows))  # line 0 is the header
        if len(self._rows) == 1:
            self.move_cursor(row=0)

    def update_row(self, key: str, *cells: str) -> None:
        at = self._keys.index(key)
        if list(cells) != self._rows[at]:
            self._rows[at] = list(cells)
            self.refresh_line(at + 1)

    def remove_row(self, key: str) -> None:
        at = self._keys.index(key)
        del self._rows[at], self._keys[at]
        self.refresh_lines(at + 1, len(self._rows) - at + 1)  # the lines below move up (and their stripes)
        self._fit_height()
        self.move_cursor(row=min(self._cursor, len(self._rows) - 1))

    def clear(self) -> None:
        self._rows, self._keys, self._cursor = [], [], 0
        self._fit_height()
        self.refresh()

    def move_cursor(self, *, row: int) -> None:
        if not self._rows:
            self._cursor = 0
            return
        row = max(0, min(row, len(self._rows) - 1))
        if row != self._cursor:
            self.refresh_line(self._cursor + 1)
        self._cursor = row
        self.refresh_line(row + 1)
        if self._grown:  # the scrollbar comes with the next layout: scrolled then
            self.call_after_refresh(self._show_cursor)
        else:
            self._show_cursor()

    def _show_cursor(self) -> None:
        self._grown = False
        self.scroll_to_region(Region(0, self._cursor + 1, 1, 1), animate=False, immediate=True)

    # --- drawing ------------------------------------------------------------------------------------

    def _fit_height(self) -> None:
        """The virtual size: the widget's own while the lines fit (no layout), theirs once they do not."""
        size = Size(self.scrollable_content_region.width, max(len(self._rows) + 1, self.scrollable_content_region.height))
        if size != self.virtual_size:
            self.virtual_size = size
            self._grown = True

    def _on_resize(self, event: events.Resize) -> None:
        self._fit_height()

    def _line_text(self, n: int, width: int) -> str:
        cells = [label for label, _ in self.columns] if n < 0 else self._rows[n]
        fixed = sum(w + 1 for _, w in self.columns if w)
        flexible = max(4, width - fixed - 1)
        return " ".join(fit(cell, w or flexible, i in self.right) for i, (cell, (_, w)) in enumerate(
            zip(cells, self.columns, strict=True)))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = y + self.scroll_offset.y  # 0: the header, n: the sale's row n - 1
        base = self.rich_style
        if line > len(self._rows):
            return Strip.blank(width, base)
        n = line - 1
        style: Style = base
        if n < 0:
            style = base + self.get_component_rich_style("sale-lines--header")
        elif n == self._cursor:
            style = base + self.get_component_rich_style("sale-lines--cursor")
        elif n % 2 == 1:
            style = base + self.get_component_rich_style("sale-lines--odd")
        return Strip([Segment(self._line_text(n, width), style)]).crop_extend(0, width, style)
