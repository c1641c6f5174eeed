"""召回 (后台 F9): a batch scanned off its label (or its number typed), the recall's reason and the notice's number;
the service stops the batch from sale and answers with who bought from it — each sale's number, date and quantity
net of what came back, and for a card sale the insured person, the identity number masked as the service gives it.
#编号 opens a recall already started. The recalled stock leaves by a loss of kind recall (dingdian loss / the API)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from pos import keymap
from pos.client import Json
from pos.screens.office import OfficeScreen

STATUS_ZH = {"active": "可售", "stopped": "已停售"}


class RecallScreen(OfficeScreen):
    KEYS = keymap.RECALL
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "召回"
    COLUMNS = ("#", "销售单号", "营业日", "数量", "参保人", "证件号")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.step = "batch"
        self.target: Json | None = None
        self.reason = ""
        self.recall: Json | None = None

    def on_mount(self) -> None:
        self.to_start()

    def to_start(self) -> None:
        self.target, self.recall, self.reason = None, None, ""
        self.step = "batch"
        self.rows([], keep=False)
        self.title_says("召回：扫描批次号或批号回车；#编号 打开已有召回")
        self.ask("扫描批次号或批号回车（#编号：已有召回）")

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        getattr(self, f"_enter_{self.step}")(self.typed().strip())

    def _enter_batch(self, text: str) -> None:
        if text.startswith("#") and text[1:].isdigit():
            self.work(self._open(int(text[1:])))
        elif text:
            self.work(self._find(text))
        else:
            self.say("请扫描批次号", error=True)

    async def _find(self, number: str) -> None:
        found = await self.calls.find_batches(number=number)
        if not found:
            self.say(f"本店没有批次号或批号为 {number} 的批次", error=True)
            self.ask("扫描批次号或批号回车（#编号：已有召回）")
            return
        self.target = b = found[0]
        self.title_says(f"召回 {b['item_name']} {b['spec']}  批次 {b['batch_no']} 批号 {b['lot_no']}  "
                        f"{STATUS_ZH.get(b['status'], b['status'])}")
        self.say(f"有效期 {b['expires_on']}  库存 可售 {b['sellable']} 待验 {b['quarantine']}")
        self.step = "reason"
        self.ask("召回原因回车")

    def _enter_reason(self, text: str) -> None:
        self.reason = text
        self.step = "notice"
        self.ask("召回通知文号（可空）回车")

    def _enter_notice(self, text: str) -> None:
        assert self.target is not None
        self.step = "sending"
        self.work(self._start(self.target["batch_id"], self.reason, text))

    async def _start(self, batch_id: int, reason: str, notice: str) -> None:
        try:
            recall = await self.calls.start_recall(batch_id, reason, notice)
        except BaseException:
            self.step = "reason"  # refused: asked again, the batch kept
            self.ask("召回原因回车")
            raise
        self._show(recall)

    async def _open(self, recall_id: int) -> None:
        self._show(await self.calls.recall(recall_id))

    def _show(self, recall: Json) -> None:
        self.recall = recall
        self.step = "done"
        buyers = recall["buyers"]
        self.rows([(n, b["sale_no"] or b["sale_id"][:8], b["business_date"] or "", b["qty"],
                    b["insured_name"] or "—", b["insured_id"] or "—") for n, b in enumerate(buyers, 1)])
        self.title_says(f"召回 #{recall['id']} {recall['notice_no']}  批次已停售  营业日 {recall['business_date']}")
        self.say(f"召回原因：{recall['reason']}；购买记录 {len(buyers)} 条"
                 f"（参保人 {sum(1 for b in buyers if b['insured_id'])} 人，证件号已遮蔽）")
        self.ask("回车：下一个召回；Esc 返回后台")

    def _enter_sending(self, _: str) -> None:
        pass

    def _enter_done(self, _: str) -> None:
        self.to_start()

    def action_leave(self) -> None:
        if self.step in ("reason", "notice"):
            self.to_start()
        else:
            self.app.pop_screen()
