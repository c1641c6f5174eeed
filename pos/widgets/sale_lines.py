"""The sale's lines: one small widget a line, under a header, with a row cursor.

A DataTable re-renders every visible row after any change to any cell (each change clears its render caches), so
each scan redrew the whole table: most of the till's time per scan. Here a scan mounts one row or updates one, and
the screen repaints only what changed. The cursor and the zebra stripes are styles a row renders with (the table's
component classes, resolved once), not CSS classes on the rows: a class changed on a row applies the whole stylesheet
to it again, which cost more than the rest of a scan's redraw whenever the cursor moved to the line just scanned.

It answers the few questions the sale screen (and its tests) ask of a table: `row_count`, `cursor_row`,
`move_cursor(row=)`, `get_row_at(n)`, the keys in order, `add_row`, `update_row`, `remove_row`, `clear`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget

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


class Row(Widget):
    """One line of the sale (or the header): its cells laid out in the columns' widths."""

    DEFAULT_CSS = """
    Row { height: 1; }
    Row.-header { text-style: bold; color: $text-muted; }
    """

    def __init__(self, cells: Sequence[str], columns: Sequence[Column], right: frozenset[int], classes: str = "",
                 odd: bool = False) -> None:
        super().__init__(classes=classes)
        self.cells = list(cells)
        self.columns = columns
        self.right = right
        self.odd = odd
        self.cursor = False

    def set_cells(self, cells: Sequence[str]) -> None:
        if list(cells) != self.cells:
            self.cells = list(cells)
            self.refresh()

    def mark(self, *, odd: bool | None = None, cursor: bool | None = None) -> None:
        """The stripe and the cursor: a repaint of this row, never a restyle."""
        odd = self.odd if odd is None else odd
        cursor = self.cursor if cursor is None else cursor
        if (odd, cursor) != (self.odd, self.cursor):
            self.odd, self.cursor = odd, cursor
            self.refresh()

    def render(self) -> Text:
        fixed = sum(w + 1 for _, w in self.columns if w)
        flexible = max(4, self.size.width - fixed - 1)
        parts = [fit(cell, w or flexible, n in self.right) for n, (cell, (_, w)) in enumerate(
            zip(self.cells, self.columns, strict=True))]
        text = Text(" ".join(parts), no_wrap=True, overflow="crop")
        lines = self.parent
        if (self.cursor or self.odd) and isinstance(lines, SaleLines):
            text.pad_right(self.size.width - text.cell_len)  # the style covers the whole row, as a background does
            text.stylize(lines.get_component_rich_style("sale-lines--cursor" if self.cursor else "sale-lines--odd"))
        return text


class SaleLines(VerticalScroll, can_focus=False):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"sale-lines--odd", "sale-lines--cursor"}
    DEFAULT_CSS = """
    SaleLines { height: 1fr; }
    SaleLines > .sale-lines--odd { background: $boost; }
    SaleLines > .sale-lines--cursor { background: $accent; color: $text; text-style: bold; }
    """

    def __init__(self, columns: Sequence[Column], right: Sequence[int] = (), id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.right = frozenset(right)
        self._rows: list[Row] = []  # in order, each with its key
        self._keys: list[str] = []
        self._cursor = 0

    def compose(self) -> ComposeResult:
        yield Row([label for label, _ in self.columns], self.columns, self.right, classes="-header")

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
        return list(self._rows[n].cells)

    def get_row(self, key: str) -> list[str]:
        return list(self._rows[self._keys.index(key)].cells)

    # --- changes ------------------------------------------------------------------------------------

    def add_row(self, *cells: str, key: str) -> None:
        row = Row(cells, self.columns, self.right, odd=len(self._rows) % 2 == 1)
        self._rows.append(row)
        self._keys.append(key)
        self.mount(row)
        if len(self._rows) == 1:
            self.move_cursor(row=0)

    def update_row(self, key: str, *cells: str) -> None:
        self._rows[self._keys.index(key)].set_cells(cells)

    def remove_row(self, key: str) -> None:
        at = self._keys.index(key)
        row = self._rows.pop(at)
        del self._keys[at]
        row.remove()
        for n, later in enumerate(self._rows[at:], start=at):  # the stripes below shift by one
            later.mark(odd=n % 2 == 1)
        self.move_cursor(row=min(self._cursor, len(self._rows) - 1))

    def clear(self) -> None:
        for row in self._rows:
            row.remove()
        self._rows, self._keys, self._cursor = [], [], 0

    def move_cursor(self, *, row: int) -> None:
        if not self._rows:
            self._cursor = 0
            return
        row = max(0, min(row, len(self._rows) - 1))
        if 0 <= self._cursor < len(self._rows):
            self._rows[self._cursor].mark(cursor=False)
        self._cursor = row
        self._rows[row].mark(cursor=True)
        self.call_after_refresh(self.scroll_to_widget, self._rows[row], animate=False)
