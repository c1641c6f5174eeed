"""F1: the keys of the till."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

KEYS = """\
扫码或输入编码后回车：加入商品；输入拼音首字母/品名回车：查询
F1 帮助      F2 收款      F3 读卡（未开放）  F4 处方（未开放）
F5 挂单      F6 取单      F7 改数量          F8 作废
F9 查询      F10 删行     F12 班次           ↑↓ 选择商品行
Esc 返回上一步"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "返回", key_display="Esc"), Binding("f1", "dismiss(None)", "关闭")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("按键说明", classes="dialog-title")
            yield Static(KEYS)
        yield Footer(compact=True, show_command_palette=False)
