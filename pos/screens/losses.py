"""报损 / 过期报损 / 销毁 (后台 F8): batches scanned off their labels (or typed), a quantity in the smallest unit for
each, then the reason; a destruction also asks its method and two witnesses, each typing their username and PIN at
this till (the PIN masked, sent once with the document, never kept). The service decides everything: an expiry
write-off of a batch not yet expired, a witness who is the actor or the same person twice, a reason left out — each
refused in both languages, and the lines stay for another try."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from pos import keymap
from pos.client import Json
from pos.screens.office import OfficeScreen

KIND_ZH = {"damage": "报损", "expiry_writeoff": "过期报损", "destruction": "销毁"}
LOCATION_ZH = {"sellable": "可售", "quarantine": "待验"}
# What each step after the lines asks, in order (a destruction's whole path; the others stop after the reason).
ASK = {"reason": "原因（如 破损、霉变、过期）回车", "method": "销毁方式（如 焚烧、深埋）回车",
       "w1": "监督人1 用户名回车", "pin1": "监督人1 PIN 回车", "w2": "监督人2 用户名回车", "pin2": "监督人2 PIN 回车"}
DESTRUCTION_STEPS = ("reason", "method", "w1", "pin1", "w2", "pin2")


class LossScreen(OfficeScreen):
    KEYS = keymap.LOSSES
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "报损销毁"
    COLUMNS = ("#", "品名", "规格", "批次号", "批号", "有效期", "库位", "数量")

    def __init__(self, state: Any, expired: Json | None = None) -> None:
        """`expired`: a row of the near-expiry pull list, written off as expired (its batch and quantity offered)."""
        super().__init__(state)
        self.expired = expired
        self.kind = "damage"
        self.step = "batch"
        self.lines: list[Json] = []
        self.found: Json | None = None  # the batch scanned, its quantity asked
        self.answers: dict[str, str] = {}  # reason, method, witnesses (PINs only until sent)
        self.done: Json | None = None  # the loss document the service recorded
        self.last_saved: Path | None = None  # its PDF, saved to [till] export_dir

    def on_mount(self) -> None:
        self.to_start()
        if self.expired is not None:
            self.kind = "expiry_writeoff"
            self._title()
            self.work(self._find(self.expired["batch_no"], self.expired["location"], self.expired["qty"]))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        live = {"kind": self.step == "batch", "submit": self.step == "batch" and bool(self.lines),
                "save_pdf": self.step == "done"}
        return live.get(action, True)

    def _step(self, step: str) -> None:
        self.step = step
        self.input.password = step in ("pin1", "pin2")
        self.keys_follow(step, bool(self.lines))

    def _title(self) -> None:
        self.title_says(f"{KIND_ZH[self.kind]}单  {len(self.lines)} 行   F5 报损  F6 过期报损  F7 销毁")

    def to_start(self) -> None:
        self.lines, self.answers, self.done, self.found = [], {}, None, None
        self.rows([], keep=False)
        self._to_batch()

    def _to_batch(self) -> None:
        self.answers = {}
        self._step("batch")
        self._title()
        self.ask("扫描批次号或批号回车，再输入数量；F2 提交")

    def action_kind(self, kind: str) -> None:
        self.kind = kind
        self._title()

    def _show_lines(self) -> None:
        self.rows([(n, ln["item_name"], ln["spec"], ln["batch_no"], ln["lot_no"], ln["expires_on"],
                    LOCATION_ZH.get(ln["location"], ln["location"]), ln["qty"]) for n, ln in enumerate(self.lines, 1)])
        self._title()

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        text = self.input.value.strip() if self.step in ("pin1", "pin2") else self.typed().strip()
        getattr(self, f"_enter_{self.step}")(text)

    def _enter_batch(self, text: str) -> None:
        if not text:
            self.say("请扫描批次号", error=True)
            return
        self.work(self._find(text))

    async def _find(self, number: str, location: str | None = None, qty: int | None = None) -> None:
        found = await self.calls.find_batches(number=number)
        if not found:
            self.say(f"本店没有批次号或批号为 {number} 的批次", error=True)
            self.ask("扫描批次号或批号回车，再输入数量；F2 提交")
            return
        b = found[0]
        b["location"] = location or ("quarantine" if not b["sellable"] and b["quarantine"] else "sellable")
        self.found = b
        self._step("qty")
        held = b["sellable"] if b["location"] == "sellable" else b["quarantine"]
        self.say(f"{b['item_name']} {b['batch_no']}  有效期 {b['expires_on']}{'（已过期）' if b['expired'] else ''}"
                 f"  {LOCATION_ZH[b['location']]}库存 {held}")
        self.ask(f"{b['item_name']} {b['batch_no']}：数量（最小单位）回车", str(qty) if qty else "")

    def _enter_qty(self, text: str) -> None:
        if not text.isdigit() or int(text) <= 0:
            self.say("请输入数量（最小单位，大于 0）", error=True)
            return
        assert self.found is not None
        self.lines.append(self.found | {"qty": int(text)})
        self.found = None
        self._show_lines()
        self.say(f"已加入第 {len(self.lines)} 行")
        self._to_batch()

    def action_submit(self) -> None:
        if self.lines:
            self._ask_next("reason")

    def _ask_next(self, step: str) -> None:
        self._step(step)
        self.ask(ASK[step])

    def _answer(self, text: str) -> None:
        self.answers[self.step] = text
        path = DESTRUCTION_STEPS if self.kind == "destruction" else ("reason",)
        at = path.index(self.step)
        if at + 1 < len(path):
            self._ask_next(path[at + 1])
            return
        self._send()

    _enter_reason = _enter_method = _enter_w1 = _enter_pin1 = _enter_w2 = _enter_pin2 = _answer

    def _send(self) -> None:
        a = self.answers
        body: Json = {"kind": self.kind, "reason": a.get("reason", ""), "method": a.get("method", ""),
                      "lines": [{"batch_id": ln["batch_id"], "qty": ln["qty"], "location": ln["location"]}
                                for ln in self.lines],
                      "witnesses": [{"username": a[w], "pin": a[p]} for w, p in (("w1", "pin1"), ("w2", "pin2"))
                                    if a.get(w) and a.get(p)]}
        self.answers = {}  # the PINs leave with the request and are not kept
        self._step("sending")
        self.work(self._write_off(body))

    async def _write_off(self, body: Json) -> None:
        try:
            self.done = await self.calls.write_off(body)
        except BaseException:
            self._to_batch()  # refused: the lines stay, the reason and witnesses are asked again
            raise
        self._step("done")
        self.title_says(f"{KIND_ZH[self.kind]}单 {self.done['id']} 已记录  营业日 {self.done['business_date']}")
        self.say(f"已记录{KIND_ZH[self.kind]}单 {self.done['id']}：{len(self.lines)} 行已出库；F9 存PDF")
        self.ask("回车开新单；F9 存PDF；Esc 返回后台")

    def action_save_pdf(self) -> None:
        if self.step == "done" and self.done is not None:
            self.work(self._save_pdf(self.done["id"]))

    async def _save_pdf(self, loss_id: int) -> None:
        body, name = await self.calls.loss_pdf(loss_id)
        folder = Path(self.state.export_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / Path(name).name  # the service's name, never a path of its choosing
            path.write_bytes(body)
        except OSError as exc:
            self.say(f"文件保存失败：{exc.strerror or exc}（Could not save the file）", error=True)
            return
        self.last_saved = path
        self.say(f"已保存：{path}（{len(body) // 1024 + 1} KB；服务已留存副本，可核验）")

    def _enter_sending(self, _: str) -> None:
        pass

    def _enter_done(self, _: str) -> None:
        self.to_start()

    def action_leave(self) -> None:
        if self.step in ("qty", *DESTRUCTION_STEPS):
            self.found = None
            self._to_batch()
        else:
            self.app.pop_screen()
