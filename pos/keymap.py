"""Every key of the till, declared once: the key, its action, its Chinese words, and the screen it belongs to.

A screen's keys are one `Keymap`. Its entries come in the order the screen's bindings are declared (the footer shows
them in that order), grouped in sections as the help shows them. A screen takes `KEYS = keymap.SALE` and
`BINDINGS = KEYS.bindings()`, and F1 opens `HelpScreen(KEYS)`, whose text is generated from the same entries — so the
help cannot disagree with the keys (tests/pos/test_keymap.py holds every screen to its keymap and its help).

A key has two sets of words: the footer's `label`, short (12 F-keys share 80 columns), and the help's `does`, which
may say more. What is done without a key of its own — typing into a field and Enter, a scan — is a section's notes.
Several keys can be one line of the help (↑↓, "F2 或 回车"); one key can do different things in different steps of a
screen (the card's F2), the screen's check_action deciding which is live.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from textual.binding import Binding, BindingType

from pos.codes import SCAN_HELP

# How a key is named: in the footer (beside its label) and in the help.
FOOTER_NAMES = {"escape": "Esc", "enter": "Enter", "space": "空格", "plus": "+", "minus": "-"}
HELP_NAMES = FOOTER_NAMES | {"enter": "回车", "equals_sign": "=", "up": "↑", "down": "↓"}
_F_KEY = re.compile(r"f\d{1,2}")


def key_name(key: str, names: dict[str, str] = HELP_NAMES) -> str:
    """A Textual key name as the cashier reads it: f2 → F2, ctrl+g → Ctrl+G, escape → Esc, enter → 回车 …"""
    if _F_KEY.fullmatch(key):
        return key.upper()
    if key.startswith("ctrl+"):
        return "Ctrl+" + key_name(key.removeprefix("ctrl+"), names).upper()
    return names.get(key, key)


@dataclass(frozen=True)
class Key:
    """One entry of the help: the key(s) as printed, what it does, and the bindings behind it."""

    shown: str
    does: str
    bindings: tuple[Binding, ...]

    def __str__(self) -> str:
        return f"{self.shown} {self.does}"


@dataclass(frozen=True)
class Section:
    heading: str
    keys: tuple[Key, ...]
    notes: tuple[str, ...] = ()  # what is done without a key of its own, in the cashier's words


@dataclass(frozen=True)
class Keymap:
    screen: str  # the screen's name, as the help's title says it
    sections: tuple[Section, ...]

    def keys(self) -> Iterator[Key]:
        for section in self.sections:
            yield from section.keys

    def bindings(self) -> list[BindingType]:
        """The screen's BINDINGS, in the order declared here."""
        return [binding for entry in self.keys() for binding in entry.bindings]


def key(keys: str, action: str, label: str, does: str = "", *, show: bool = True) -> Key:
    """`keys` as Textual names them ("f2", "plus,equals_sign": one binding, either key); `label` the footer's
    words; `does` the help's when it says more; `show=False` keeps it out of the footer (the help lists it)."""
    names = keys.split(",")
    binding = Binding(keys, action, label, show=show, key_display=key_name(names[0], FOOTER_NAMES) if show else None)
    return Key(" 或 ".join(key_name(k) for k in names), does or label, (binding,))


def either(*keys: Key, does: str = "") -> Key:
    """Several keys that do one thing, as one entry of the help ("F2 或 回车 预结算")."""
    return Key(" 或 ".join(k.shown for k in keys), does or keys[0].does, tuple(b for k in keys for b in k.bindings))


def arrows(does: str, up: str = "上一行", down: str = "下一行") -> Key:
    """↑↓ move the cursor of the screen's table (its `cursor` action), never shown in the footer."""
    return Key("↑↓", does, (Binding("up", "cursor(-1)", up, show=False), Binding("down", "cursor(1)", down, show=False)))


HELP_KEY = key("f1", "help", "帮助")


def back(does: str = "返回上一步", *, show: bool = True, action: str = "back") -> Key:
    return key("escape", action, "返回", does, show=show)


# --- the screens with a help (F1) ------------------------------------------------------------------

SALE = Keymap("收银", (
    Section("", (), notes=tuple(SCAN_HELP.values())),  # pos/codes.py: where each kind of code goes
    Section("", (
        HELP_KEY,
        key("f2", "pay", "收款"),
        key("f3", "card", "读卡", "医保结算（读卡）"),
        key("f4", "prescription", "处方", "处方（登记/审方）"),
        key("f5", "suspend", "挂单"),
        key("f6", "resume", "取单"),
        key("f7", "quantity", "数量", "改数量"),
        key("f8", "void", "作废"),
        key("f9", "search", "查询"),
        key("f10", "remove", "删行"),
        key("f11", "returns", "退货"),
        key("f12", "shift", "班次", "班次（结班/开班）"),
    )),
    Section("", (
        key("ctrl+g", "duty", "药师在岗", "药师在岗/离岗", show=False),  # 岗 (gang)
        key("ctrl+y", "insurance_sign_in", "医保签到", show=False),  # 医 (yi)
        key("ctrl+p", "app.prints", "小票", "小票/重打", show=False),  # 票 (piao): pos/screens/prints.py
        key("ctrl+l", "split", "拆零", "拆零（所选药品按粒/片卖）", show=False),  # 零 (ling)
        # B: back office (后台). Not in the footer: at 80 columns F2..F12 and Ctrl+S fill it.
        key("ctrl+b", "back_office", "后台", "后台（收货验收、盘点、月结报表、上传与对账；药师、店长、医保管理员）",
            show=False),
        # 锁 (suo). In the footer, last: at 80 columns it takes F1's place (till.tcss), F1 said in the scan field.
        key("ctrl+s", "lock", "换人", "锁屏换人（保留未完成的销售和班次，换人或本人重新登录）"),
        back(show=False),  # Esc clears what is half typed; it backs out one step everywhere else
        arrows("选择商品行"),
    )),
))

CARD = Keymap("医保结算", (
    Section("", (HELP_KEY,)),
    Section("识别参保人", (
        key("f2", "mode('reader')", "读卡器", "读卡器（插卡后回车）"),
        key("f5", "mode('card')", "卡号", "社保卡号+卡识别码"),
        key("f6", "mode('voucher')", "电子凭证", "医保电子凭证（扫码）"),
        key("f7", "mode('id')", "身份证", "身份证号（须填原因）"),
        key("f8", "sign_in", "医保签到", "医保签到（今日未签到时）"),
    ), notes=("医保电子凭证在任何识别方式下都可直接扫描",)),
    Section("核对明细", (
        either(key("f2", "preview", "预结算"), key("enter", "preview", "预结算", show=False), does="预结算（2101）"),
    ), notes=("医保/自费逐行列出及原因；统筹/个人账户/个人现金先显示再确认",)),
    Section("确认结算", (
        key("f2", "tender('cash')", "现金", "现金（输入实收，回车）"),
        key("f3", "tender('other')", "其他支付", "其他支付（输入凭证号，回车）"),
        key("f4", "sign", "已签字", "参保人（或代购人）已在购药清单上签字：记录签字"),
    )),
    Section("结算结果待确认（SETTLE-UNCERTAIN）", (
        key("f9", "resolve", "处理待确认结算", "向医保中心冲正确认（2601）"),
    )),
    Section("结算完成", (key("enter", "finish", "返回收银", show=False),)),
    Section("", (
        arrows("选择明细行"),
        back("返回上一步（结算 → 明细 → 识别 → 收银）"),
    )),
))

PRESCRIPTION = Keymap("处方", (
    Section("", (HELP_KEY,)),
    Section("查找或登记", (
        key("f3", "enter_new", "登记处方", "登记纸质处方（按本单处方药预填）"),
        key("enter", "choose", "关联所选", "关联所选处方", show=False),
    ), notes=("输入患者姓名或身份证号后回车，查找已登记的处方",)),
    Section("登记表", (
        key("f2", "save", "保存并关联", "保存并关联本单"),
        key("f9", "add_drug", "加药", "查询加药"),
        key("f10", "remove_drug", "删药", "删除药品行"),
    ), notes=("回车到下一项（勾选框上也是）；空格 勾选（外配/签名/盖章），勾上显示 ✓",)),
    Section("审方（在岗药师）", (
        key("f5", "approve", "审核通过", "通过"),
        key("f6", "reject", "拒绝", "拒绝（选原因）"),
        key("f7", "refer", "转介", "转介（填写转介药店）"),
    )),
    Section("", (
        arrows("选择处方/药品行"),
        back("返回上一步（审方 → 处方 → 查找 → 收银）"),
    )),
))

RETURN = Keymap("退货", (
    Section("", (HELP_KEY,), notes=("输入或扫描小票号（如 20261122-0001）回车：查出原销售；↑↓ 选择商品行",
                                    "医保结算的小票：整单撤销医保结算（2103）后退货，医保支付部分退回基金和账户；"
                                    "次日及以后须另一位有权人员当场复核")),
    Section("", (
        key("f2", "confirm", "确认退货", "确认退货（商品行上回车亦可）：填写原因后回车提交"),
        key("f5", "toggle_place", "去向", "切换去向（隔离区 / 可售库存；本店制度要求隔离的药品始终进隔离区）"),
    )),
    Section("", (
        key("plus,equals_sign", "more", "多退", "多退一件"),
        key("minus", "less", "少退", "少退一件"),
        key("space", "whole", "整行", "整行全退/取消"),
    )),
    Section("", (back("返回上一步（原因 → 商品行 → 小票号 → 收银）"),)),
))

# --- the other screens and popups (no help of their own: their footer shows every key) --------------------------

LOGIN = Keymap("登录", (Section("", (back("返回上一步（密码 → 工号）"),)),))
HELP = Keymap("按键说明", (Section("", (back(action="dismiss(None)"), key("f1", "dismiss(None)", "关闭"))),))
SEARCH = Keymap("商品查询", (Section("", (back(action="dismiss(None)"), arrows("选择商品", "上一个", "下一个"))),))
PAYMENT = Keymap("收款", (Section("", (key("f2", "mode('cash')", "现金"), key("f3", "mode('other')", "其他支付"),
                                       back())),))
PRINTS = Keymap("小票", (Section("", (back(action="dismiss(None)"), key("f2", "reprint", "重打"),
                                      key("f3", "keep", "已打好"), key("f5", "paper(1)", "上一张"),
                                      key("f6", "paper(-1)", "下一张"), key("f7", "reprint_shown", "重打此票"),
                                      arrows("选择打印任务"))),))
SUSPENDED = Keymap("挂单列表", (Section("", (back(action="dismiss(None)"), key("enter", "choose", "取单"))),))
QUANTITY = Keymap("修改数量", (Section("", (back(action="dismiss(None)"),)),))
VOID = Keymap("作废", (Section("", (back(action="dismiss(None)"),)),))
AUTHORISE = Keymap("授权", (Section("", (back("取消"),)),))
CONFIRM = Keymap("确认", (Section("", (key("enter", "confirm", "确认"), back("取消", action="dismiss(False)"))),))
OPEN_SHIFT = Keymap("开班", (Section("", (back(action="dismiss(None)"),)),))
CLOSE_SHIFT = Keymap("交班结账", (Section("", (back(action="leave"),)),))

# --- the back office (后台, Ctrl+B: pos/screens/backoffice.py and the screens it opens) ------------------------------

BACK_OFFICE = Keymap("后台", (
    Section("", (
        HELP_KEY,
        key("f2", "open('receiving')", "收货验收", "收货验收（采购入库、验收、批准）", show=False),
        key("f3", "open('count')", "盘点", "盘点（录入实盘、提交、过账）", show=False),
        key("f4", "open('month_end')", "月结报表", "月结报表（进销存、刷卡购药对账单，保存 XLSX/PDF）", show=False),
        key("f5", "open('uploads')", "上传对账", "上传与对账（上传积压、重传、当日 3201 对账）", show=False),
        key("f6", "open('supplier_return')", "购进退出", "购进退出（已批准入库单按行、批次退回供应商）", show=False),
        key("f7", "open('transfer')", "调拨", "门店间调拨（调拨出库；在途调拨单验收入库）", show=False),
        key("f8", "open('losses')", "报损", "报损、过期报损、销毁（两名监督人）", show=False),
        key("f9", "open('recall')", "召回", "召回批次（停售、列出购买人）", show=False),
        key("f10", "open('upkeep')", "养护", "月度养护检查（按库区；质量疑问停售、解除）", show=False),
        key("f11", "open('near_expiry')", "近效期", "近效期下架清单（按库区）", show=False),
        key("f12", "open('checklist')", "合规检查", "合规检查（26 项结论、证据、期限，保存 PDF/XLSX）", show=False),
        back("返回收银", action="dismiss(None)"),
    ), notes=("只显示本岗位有权使用的功能（列在菜单中，不占底栏）",)),
))

# The back office alone, in the office PC's browser (`dingdian office`): the same menu, Esc logs out (no till).
OFFICE_MENU = Keymap("后台", (
    Section("", (
        *BACK_OFFICE.sections[0].keys[:-1],  # F1 and the entries: the till's menu but its Esc
        back("退出登录", action="log_out"),
    ), notes=("只显示本岗位有权使用的功能；收银、设备不在浏览器后台",)),
))

CHECKLIST = Keymap("合规检查", (
    Section("", (HELP_KEY,), notes=("输入月份（如 2026-11）回车，按该月重新检查；↑↓ 选择项目，下方显示说明与证据",)),
    Section("", (
        key("f2", "run", "重新检查", "按所示月份重新检查（每次检查留有记录，显示与上次相比的变化）"),
        key("f5", "save('xlsx')", "存XLSX", "保存检查结果为 XLSX（身份证号已遮蔽）"),
        key("f6", "save('pdf')", "存PDF", "保存检查结果为 PDF（含签字栏）"),
    ), notes=("浏览器中使用时，文件由浏览器下载",)),
    Section("", (arrows("选择项目"), back("返回后台", action="leave"))),
))

RECEIVING = Keymap("收货验收", (
    Section("", (HELP_KEY,), notes=("输入框逐项提问，回车确认；↑↓ 选择行",)),
    Section("入库单列表", (
        key("f3", "new", "新入库单", "新建入库单（选供应商，填随货同行单号、发票号）"),
        key("f9", "approve", "批准", "批准所选已验收入库单（批准人不能是验收人）"),
    ), notes=("回车：验收所选草稿入库单",)),
    Section("录入明细", (
        key("f2", "submit", "提交", "提交入库单（草稿）/ 提交验收结论"),
    ), notes=("扫描商品条码，再依次填批号、生产日期、有效期（如 20270630）、数量（件）、单价（元）、库区",
              "扫描药品追溯码：记入所选明细行（重复或无效的追溯码被拒收并说明原因）")),
    Section("验收", (
        key("f5", "verdict('accepted')", "合格"),
        key("f6", "verdict('rejected')", "拒收", "拒收（须填原因）"),
        key("f7", "verdict('quarantine')", "待验", "待验（进隔离区）"),
    ), notes=("回车＝合格",)),
    Section("", (arrows("选择行"), back("返回上一步（明细 → 列表 → 后台）", action="leave"))),
))

COUNT = Keymap("盘点", (
    Section("", (HELP_KEY,), notes=("输入库区编码回车开新盘点单（空：全店），或输入 #单号 打开已有的",)),
    Section("盘点单", (
        key("f5", "blind", "盲盘", "盲盘开关（开单前：盘点人看不到账面数）"),
        key("f2", "submit", "提交", "提交盘点单（提交后不能再录入）"),
        key("f9", "post", "过账", "过账（店长；差异须填原因，提交人不能过账）"),
    ), notes=("扫描或输入批次号回车，再输入实盘数量（件，或 件+拆零数 如 2+5）回车；空回车＝盘所选行；有差异时填原因",)),
    Section("", (arrows("选择行"), back("返回上一步（数量 → 批次 → 后台）", action="leave"))),
))

MONTH_END = Keymap("月结报表", (
    Section("", (HELP_KEY,), notes=("输入月份（如 2026-11）回车，或直接按功能键用所示月份",)),
    Section("", (
        key("f2", "run('ledger')", "进销存", "生成进销存报表"),
        key("f3", "run('card')", "刷卡对账单", "生成刷卡购药结算对账单"),
        key("f5", "save('xlsx')", "存XLSX", "保存所示报表为 XLSX"),
        key("f6", "save('pdf')", "存PDF", "保存所示报表为 PDF（进销存）"),
        key("f7", "submit", "提交", "报送所示报表（医保管理员），显示报送状态"),
    ), notes=("生成中显示进度，其他按键照常可用",)),
    Section("", (arrows("选择行"), back("返回后台", action="leave"))),
))

UPLOADS = Keymap("上传与对账", (
    Section("", (HELP_KEY,), notes=("上传积压按交易列出；被拒或失败的记录附中心说明，选中时整句显示",
                                    "商品目录（厂家、批准文号、医保编码）有误：先在目录中更正，再按 F8 重新生成",)),
    Section("", (
        key("f5", "retry", "重传", "重传所选被拒或失败的记录（医保管理员）"),
        key("f6", "reconcile", "当日对账", "当日对账（3201，医保管理员）"),
        key("f7", "reload", "刷新"),
        key("f8", "rederive", "重新生成", "按更正后的目录重新生成所选记录并上传；中心已接收的先发 3507 删除该批次"
            "（医保管理员，输入框可填原因）"),
        key("f9", "correct", "更正", "输入 字段=值 更正所选被拒记录中心指出的字段（数量、批次、目录字段不可改）"),
    )),
    Section("", (arrows("选择行"), back("返回后台", action="leave"))),
))

LOSSES = Keymap("报损销毁", (
    Section("", (HELP_KEY,), notes=("扫描批次号回车，再输入数量（最小单位）回车；可连续扫描多个批次",)),
    Section("类型", (
        key("f5", "kind('damage')", "报损", "报损（破损等）"),
        key("f6", "kind('expiry_writeoff')", "过期报损", "过期报损（仅已过期批次）"),
        key("f7", "kind('destruction')", "销毁", "销毁（填销毁方式，两名监督人输入用户名和 PIN）"),
    )),
    Section("", (
        key("f2", "submit", "提交", "提交：填原因（销毁另填方式和两名监督人）"),
        key("f9", "save_pdf", "存PDF", "保存本单 PDF（报损单/销毁记录；服务留存副本，可按核验码核验）"),
        arrows("选择行"), back("返回上一步（数量/原因 → 批次 → 后台）", action="leave"),
    ), notes=("提交后回车开新单",)),
))

RECALL = Keymap("召回", (
    Section("", (HELP_KEY,), notes=("扫描或输入批次号/批号回车，填召回原因和通知文号；#编号 打开已有召回",
                                    "召回即停售该批次，并列出购买记录（参保人证件号已遮蔽）")),
    Section("", (arrows("选择行"), back("返回上一步（原因 → 批次 → 后台）", action="leave"))),
))

UPKEEP = Keymap("养护检查", (
    Section("", (HELP_KEY,), notes=("输入库区编码回车（空回车＝所选库区）开始本月养护检查",)),
    Section("检查", (
        key("f6", "doubt", "质量疑问", "所选批次有质量疑问（填说明；提交后停售）"),
        key("f2", "submit", "提交", "提交本库区养护记录"),
    ), notes=("扫描批次号或回车：所选批次合格",)),
    Section("质量疑问", (
        key("f7", "doubts", "待处理疑问", "列出未解除的质量疑问"),
        key("f9", "clear", "解除", "解除所选质量疑问（填原因，恢复销售；召回中的批次仍停售）"),
    )),
    Section("", (arrows("选择行"), back("返回上一步（检查 → 库区 → 后台）", action="leave"))),
))

NEAR_EXPIRY = Keymap("近效期", (
    Section("", (HELP_KEY,), notes=("输入库区编码回车只看该区，空回车看全部；按有效期先后列出，已过期的标明",)),
    Section("", (key("f5", "reload", "刷新"), key("f6", "write_off", "过期报损", "所选已过期批次做过期报损（带出批次和数量）"),
                 arrows("选择行"), back("返回后台", action="leave"))),
))

SUPPLIER_RETURN = Keymap("购进退出", (
    Section("", (HELP_KEY,), notes=("扫描商品条码找该商品的入库单，扫描追溯码直达其入库行；回车：打开所选入库单",)),
    Section("退货明细", (
        key("f6", "location", "切换库位", "切换所选行退自合格区或待验区"),
        key("f2", "submit", "提交", "提交购进退出（须填原因）"),
    ), notes=("回车：所选行的退货数量（件，或 件+拆零数 如 2+5；0 取消该行）",)),
    Section("", (arrows("选择行"), back("返回上一步（数量 → 明细 → 列表 → 后台）", action="leave"))),
))

TRANSFER = Keymap("调拨", (
    Section("", (HELP_KEY,), notes=("列出在途调拨单：本店发出的与调往本店的",)),
    Section("调拨单列表", (
        key("f3", "new", "调拨出库", "新调拨出库单（调入门店编码，扫描商品，选批次，填数量）"),
    ), notes=("回车：打开所选调拨单验收入库（调入门店的验收员）",)),
    Section("验收 / 发出", (
        key("f2", "submit", "提交", "发出调拨单 / 提交调拨验收"),
        key("f5", "verdict('accepted')", "合格"),
        key("f7", "verdict('quarantine')", "待验", "待验（须填原因，进待验区）"),
    ), notes=("回车＝合格；调拨出库时扫描商品条码，多个批次时 ↑↓ 选择后回车，再填数量（件，或 件+拆零数）",)),
    Section("", (arrows("选择行"), back("返回上一步（明细 → 列表 → 后台）", action="leave"))),
))
