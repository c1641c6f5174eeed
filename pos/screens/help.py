"""F1: the keys of the screen it was opened from."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

SALE_KEYS = """\
扫码或输入编码后回车：加入商品；输入拼音首字母/品名回车：查询；扫小票条码：退货
F1 帮助      F2 收款      F3 读卡（即将提供） F4 处方（即将提供）
F5 挂单      F6 取单      F7 改数量          F8 作废
F9 查询      F10 删行     F11 退货           F12 班次（结班/开班）
↑↓ 选择商品行   Ctrl+G 药师在岗/离岗   Esc 返回上一步"""

RETURN_KEYS = """\
输入或扫描小票号（如 20261122-0001）回车：查出原销售
↑↓ 选择商品行   + 或 = 多退一件   - 少退一件   空格 整行全退/取消
F5 切换去向（隔离区 / 可售库存；本店制度要求隔离的药品始终进隔离区）
F2 或回车 确认退货：填写原因后回车提交
Esc 返回上一步（原因 → 商品行 → 小票号 → 收银）"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "返回", key_display="Esc"),
                                             Binding("f1", "dismiss(None)", "关闭", key_display="F1")]

    def __init__(self, keys: str = SALE_KEYS) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help"):
            yield Label("按键说明", classes="dialog-title")
            yield Static(self.keys, id="keys", markup=False)
        yield Footer(compact=True, show_command_palette=False)
