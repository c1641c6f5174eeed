"""F1: the keys of the screen it was opened from."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

SALE_KEYS = """\
扫码或输入编码后回车：加入商品；输入拼音首字母/品名回车：查询；扫小票条码：退货；扫医保电子凭证：医保结算
F1 帮助      F2 收款      F3 医保结算（读卡） F4 处方（登记/审方）
F5 挂单      F6 取单      F7 改数量          F8 作废
F9 查询      F10 删行     F11 退货           F12 班次（结班/开班）
↑↓ 选择商品行   Ctrl+G 药师在岗/离岗   Ctrl+Y 医保签到   Esc 返回上一步"""

CARD_KEYS = """\
识别参保人：F2 读卡器（插卡后回车）  F5 社保卡号+卡识别码  F6 医保电子凭证（扫码）  F7 身份证号（须填原因）
F8 医保签到（今日未签到时）
核对明细：医保/自费逐行列出及原因；F2 或回车 预结算（2101），统筹/个人账户/个人现金先显示再确认
确认结算：F2 现金（输入实收，回车）  F3 其他支付（输入凭证号，回车）
结算结果待确认（SETTLE-UNCERTAIN）：F9 向医保中心冲正确认（2601）
Esc 返回上一步（结算 → 明细 → 识别 → 收银）"""

RX_KEYS = """\
F2 登记纸质处方（按本单处方药预填）  F5 按患者姓名/身份证号查找处方  回车 关联所选处方
登记表：回车到下一项；空格 勾选（外配/签名/盖章）；药品行 ↑↓ 选择、F9 查询加药、F10 删行
F2 保存并关联本单
审方（在岗药师）：F5 通过  F6 拒绝（选原因）  F7 转介（填写转介药店）
Esc 返回上一步"""

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
