"""F1: the keys of the screen it was opened from, generated from that screen's keymap (pos/keymap.py)."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from pos import keymap
from pos.keymap import Keymap

WIDTH = 72  # the help dialog's text width at 80 columns
GAP = 3  # cells between two keys on one line


def help_text(keys: Keymap, width: int = WIDTH) -> str:
    """Each section: its heading and notes, then its keys in columns as many as fit the width."""
    lines: list[str] = []
    for section in keys.sections:
        head = "；".join(section.notes)
        if section.heading:
            head = f"{section.heading}：{head}" if head else f"{section.heading}："
        if head:
            lines.append(head)
        indent = "  " if section.heading else ""
        entries = [str(entry) for entry in section.keys]
        column = max((cell_len(e) for e in entries), default=0) + GAP
        per_line = max(1, (width - len(indent) + GAP) // column)
        for start in range(0, len(entries), per_line):
            row = entries[start:start + per_line]
            lines.append(indent + "".join(e + " " * (column - cell_len(e)) for e in row[:-1]) + row[-1])
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    KEYS = keymap.HELP
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, keys: Keymap) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help"):
            yield Label(f"按键说明：{self.keys.screen}", classes="dialog-title")
            yield Static(help_text(self.keys), id="keys", markup=False)
        yield Footer(compact=True, show_command_palette=False)
