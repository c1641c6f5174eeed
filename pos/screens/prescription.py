"""F4 处方: the sale's prescription — found by the patient or entered from the paper, tied to the sale, and
reviewed there by the pharmacist on duty (审方: approve, reject with a reason from RX-05's fixed list, or refer
the patient to another designated pharmacy). Rx lines cannot be paid before the approval (RX-01): the service
refuses, and this screen is where the pharmacist gets them through.

An electronic 外配处方 from the insurance platform: the patient's prescription code scanned here (or typed into the
patient box) downloads it (the service verifies the platform's signature), puts its drugs on the sale, ties it
and shows it for the review, which the service uploads to the platform (issue #23).

Steps, each undone by Esc: home (find by patient, or F3 to enter one; F2 is
only ever 保存, so an F2 meant for the payment never opens a blank form) → the entry form → the prescription
(detail) → a refusal's reason / the referral's pharmacy. The service checks everything; refusals are shown
with their rule IDs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from pos import keymap
from pos.client import ServiceError
from pos.codes import is_rx_code, is_voucher
from pos.format import store_today
from pos.screens.authorise import AuthoriseScreen
from pos.screens.help import HelpScreen
from pos.screens.search import SearchScreen
from pos.screens.task import TaskScreen
from pos.state import TillState
from pos.widgets.rx_form import FormProblem, RxForm
from pos.widgets.status import StatusBar

STATUS_ZH = {"pending": "待审核", "approved": "审核通过", "rejected": "已拒绝", "referred": "已转介"}
VERDICT_ZH = {"approved": "通过", "rejected": "拒绝", "referred": "转介"}
STEP_ACTIONS = {"home": {"enter_new", "choose", "cursor"}, "form": {"save", "add_drug", "remove_drug", "cursor"},
                "detail": {"approve", "reject", "refer", "cursor"}, "reason": set()}
STEP_BOUND = {"enter_new", "choose", "save", "add_drug", "remove_drug", "approve", "reject", "refer", "cursor"}


class PrescriptionScreen(TaskScreen):
    """Dismissed with the sale as the service has it after the prescription was tied (or None)."""

    MESSAGE_ID = "rx-message"
    WORKER_GROUP = "rx"
    OFFLINE_TEXT = "无法连接收银服务，请稍后重试（已填写的内容保留）"

    KEYS = keymap.PRESCRIPTION
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    AUTO_FOCUS = "#rx-patient"

    def __init__(self, state: TillState, sale: dict[str, Any], code: str | None = None) -> None:
        super().__init__(state)
        self.sale = sale
        self.code = code  # an electronic prescription's code scanned at the sale: downloaded once the screen is up
        self.step = "home"
        self.found: list[dict[str, Any]] = []
        self.listed: list[dict[str, Any]] = []  # the platform's prescriptions for the person's e-voucher (7202)
        self.rx: dict[str, Any] | None = None  # the prescription shown in the detail step
        self.reasons: list[dict[str, str]] = []
        self.verdict = ""  # rejected | referred, while its reason is asked
        # the sale after the tie (SaleOut): a sale opened here tied already is one (Esc after its approval: the sale)
        self.tied: dict[str, Any] | None = sale if sale.get("prescription_id") else None
        # A pharmacist's authorisation in place of the review of the prescription shown (grant, who, which rx).
        self.grant: dict[str, Any] | None = None

    # --- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.state, id="status")
        yield Static("", id="rx-title", markup=False)
        with Vertical(id="rx-home"):
            yield Input(placeholder="患者姓名或身份证号，回车查找已登记的处方", id="rx-patient", max_length=50)
        yield DataTable(id="rx-table", cursor_type="row", zebra_stripes=True)
        with Vertical(id="rx-reason"):
            yield OptionList(id="rx-reasons")
            yield Input(placeholder="转介的定点药店名称（必填），回车提交", id="rx-referred", max_length=100)
        yield Static("", id="rx-message", classes="message", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#rx-table", DataTable).can_focus = False
        self._go("home")
        rx_names = [f"{ln['name']}×{ln['qty']}" for ln in self.sale["lines"] if ln["gsp_class"] == "rx"]
        self.say(("本单处方药：" + "、".join(rx_names) if rx_names else "本单没有处方药")
                 + "\nF3 登记纸质处方；或输入患者姓名/身份证号回车查找")
        if self.sale.get("prescription_id"):
            self._work(self._open(int(self.sale["prescription_id"])))
        elif self.code is not None:
            self._work(self._download(self.code.strip()))

    # --- helpers ----------------------------------------------------------------------------------

    def _go(self, step: str) -> None:
        self.step = step
        self.query_one("#rx-home").display = step == "home"
        self.query_one("#rx-table").display = step in ("home", "detail")
        self.query_one("#rx-reason").display = step == "reason"
        for form in self.query(RxForm):
            form.display = step == "form"
        titles = {"home": "处方：查找或登记", "form": "登记纸质处方（回车下一项，空格勾选，F2 保存）",
                  "detail": "处方详情", "reason": "审方"}
        self.query_one("#rx-title", Static).update(titles[step])
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in STEP_BOUND:
            return True
        if action not in STEP_ACTIONS[self.step]:
            return False
        if action == "choose":  # Enter picks a found prescription once the patient input is left
            return bool(self.found or self.listed) and not any(box.has_focus for box in self.query("#rx-patient"))
        if action in ("approve", "reject", "refer"):  # whoever is logged in: a pharmacist may authorise in place
            return self.rx is not None and self.rx["status"] == "pending"
        return True

    def _may_review(self) -> bool:
        """The logged-in person reviews: a pharmacist on duty (RX-10); the service decides whether it counts."""
        user = self.client.user or {}
        return self.state.may("rx.review") and user.get("display_name") in (self.state.on_duty or [])

    def _granted(self) -> str | None:
        """The grant for the prescription shown, if a pharmacist authorised its review in place."""
        if self.grant is not None and self.rx is not None and self.grant["subject"] == str(self.rx["id"]):
            return str(self.grant["grant"])
        return None

    def _reviewer(self, then: Any) -> None:
        """Go on with the review as the logged-in pharmacist on duty, or once a pharmacist on duty has typed
        their username and PIN here (before any reason is asked)."""
        if self.rx is None or self.busy:
            return
        if self._may_review() or self._granted():
            then()
            return
        on_duty = "、".join(self.state.on_duty or []) or "无"
        note = f"审方须由在岗药师当场输入本人工号和 PIN（当前在岗：{on_duty}；不在岗的药师先按 Ctrl+G 在岗）"

        def given(out: dict[str, Any] | None) -> None:
            if out is None:
                self.say("未授权，未审方。" + self._next_hint(), error=True)
                return
            self.grant = out
            self.say(f"{out['user']['display_name']} 审方")
            then()
        self.app.push_screen(AuthoriseScreen(self.state, f"审核处方 {self.rx['rx_no']}", "rx.review",
                                             str(self.rx["id"]), note=note), given)

    def take_scan(self, code: str) -> None:
        if is_rx_code(code) and self.step == "home" and not self.busy:
            self._work(self._download(code.strip()))
            return
        if is_voucher(code) and self.step == "home" and not self.busy:  # never shown, never logged
            self._work(self._query(code.strip()))
            return
        self.say("处方登记中不能扫商品，请先按 Esc 返回收银", error=True)

    # --- home: find by patient --------------------------------------------------------------------

    @on(Input.Submitted, "#rx-patient")
    def _find(self, event: Input.Submitted) -> None:
        if event.value.strip() and not self.busy:
            value = event.value.strip()
            if is_voucher(value):  # the token read back from the box nowhere: it only asks the platform (7202)
                event.input.value = ""
            self._work(self._download(value) if is_rx_code(value)
                       else self._query(value) if is_voucher(value) else self._search(value))

    async def _query(self, voucher: str) -> None:
        """The person's prescriptions waiting at the platform (7202), listed to pick one to download."""
        self.say("正在查询医保电子处方平台…")
        self.found, self.listed = [], await self.client.query_eprx(voucher)
        table = self.query_one("#rx-table", DataTable)
        table.clear(columns=True)
        table.add_columns("平台处方号", "开具时间", "医疗机构", "医师")
        for rx in self.listed:
            table.add_row(rx["hi_rxno"], rx["prsc_time"], rx["fixmedins_name"], rx["prsc_dr_name"])
        if self.listed:
            self.set_focus(None)
            self.say(f"平台上有 {len(self.listed)} 张待取药的电子处方：↑↓ 选择，回车下载；Esc 重新输入")
        else:
            self.say("平台上没有该参保人待取药的电子处方", error=True)
        self.refresh_bindings()

    async def _download(self, code: str = "", auth_rxno: str = "") -> None:
        """The platform's prescription: downloaded, its drugs put on the sale (those not on it yet), tied."""
        self.say("正在从医保电子处方平台下载处方…")
        got = await self.client.download_eprx(code, auth_rxno)
        self.listed = []
        rx = got["prescription"]
        on_sale = {ln["item_id"] for ln in self.sale["lines"]}
        for ln in rx["lines"]:
            if ln["item_id"] not in on_sale:
                self.sale = await self.client.add_line(self.sale["id"], item_id=ln["item_id"], qty=ln["qty"],
                                                       split=ln["split"])
        await self._tie(rx)
        self.say(f"电子处方 {rx['rx_no']} 已下载（平台签名已验证），药品已加入本单。" + self._next_hint())

    async def _search(self, patient: str) -> None:
        self.found, self.listed = await self.client.find_prescriptions(patient), []
        table = self.query_one("#rx-table", DataTable)
        table.clear(columns=True)
        table.add_columns("处方编号", "开具日期", "医疗机构", "医师", "患者", "药品", "状态")
        for rx in self.found:
            table.add_row(rx["rx_no"], rx["issued_on"], rx["institution_name"], rx["doctor_name"], rx["patient_name"],
                          "、".join(ln["drug_name"] for ln in rx["lines"]), STATUS_ZH.get(rx["status"], rx["status"]))
        if self.found:
            self.set_focus(None)
            self.say(f"找到 {len(self.found)} 张处方：↑↓ 选择，回车关联本单；Esc 重新输入")
        else:
            self.say(f"没有找到患者“{patient}”的处方：F3 登记纸质处方", error=True)
        self.refresh_bindings()

    def action_choose(self) -> None:
        if self.busy or not (self.found or self.listed):
            return
        row = self.query_one("#rx-table", DataTable).cursor_row
        if self.listed:
            self._work(self._download(auth_rxno=self.listed[min(row, len(self.listed) - 1)]["auth_rxno"]))
            return
        self._work(self._tie(self.found[min(row, len(self.found) - 1)]))

    # --- the entry form ---------------------------------------------------------------------------

    def action_enter_new(self) -> None:
        form = self.query(RxForm)
        if not form:
            today = store_today(self.state.tz)  # the form's default issue day; the service judges RX-07
            new = RxForm(self.sale, today, id="rx-form")
            self.mount(new, after=self.query_one("#rx-title"))
            self._work(self._load_registry(new))
        self._go("form")
        self.say("填写处方：回车到下一项，空格勾选；F9 加药  F10 删药；F2 保存并关联本单")
        self.call_after_refresh(lambda: self.query_one("#rx-rx_no", Input).focus())

    async def _load_registry(self, form: RxForm) -> None:
        form.institutions = {i["code"]: i["name"] for i in await self.client.institutions()}

    def action_add_drug(self) -> None:
        search = SearchScreen(self.state)

        def picked(item_id: int | None) -> None:
            hit = next((h["item"] for h in search.hits if h["item"]["id"] == item_id), None)
            if hit is not None:
                self.query_one(RxForm).add_item(hit)
                self.say(f"已加入药品：{hit['name']}，请填写数量、天数、剂量、频次、用法")
        self.app.push_screen(search, picked)

    def action_remove_drug(self) -> None:
        gone = self.query_one(RxForm).remove_current()
        self.say(f"已删除药品：{gone}" if gone else "没有药品行", error=gone is None)

    def action_save(self) -> None:
        if self.busy:
            return
        try:
            body = self.query_one(RxForm).body()
        except FormProblem as exc:
            self.say(str(exc), error=True)
            return
        self._work(self._save(body))

    async def _save(self, body: dict[str, Any]) -> None:
        self.say("正在保存处方…")
        rx = await self.client.enter_prescription(body)
        await self._tie(rx)
        for form in self.query(RxForm):
            await form.remove()  # entered: a second F2 starts a new, empty form

    async def _tie(self, rx: dict[str, Any]) -> None:
        self.tied = await self.client.tie_prescription(self.sale["id"], rx["id"])
        self.sale = self.tied
        await self._open(rx["id"])
        self.say(f"处方 {rx['rx_no']} 已关联本单。" + self._next_hint())

    # --- the prescription and its review -------------------------------------------------------------

    async def _open(self, rx_id: int) -> None:
        self.rx = await self.client.get_prescription(rx_id)
        self._show_rx()

    def _show_rx(self) -> None:
        rx = self.rx
        assert rx is not None
        self._go("detail")
        self.set_focus(None)
        self.query_one("#rx-title", Static).update(
            f"处方 {rx['rx_no']}  {rx['institution_name']}  {rx['doctor_name']}  {rx['issued_on']}  "
            f"患者 {rx['patient_name']} {rx['patient_sex']} {rx['patient_age']}岁 {rx['patient_certno_masked']}\n"
            f"诊断 {rx['diagnosis']}  {'外配（医保）' if rx['for_insurance'] else '非外配'}  "
            f"状态 {STATUS_ZH.get(rx['status'], rx['status'])}")
        table = self.query_one("#rx-table", DataTable)
        table.clear(columns=True)
        # The written name beside the dispensed item's generic name: a substitution is seen before F5 (RX-04).
        table.add_columns("#", "处方药名", "调配药品（通用名）", "数量", "天数", "剂量", "频次", "用法", "已发")
        for ln in rx["lines"]:
            table.add_row(str(ln["line_no"]), ln["drug_name"],
                          ln["generic_name"] if ln["name_matches"] else f"≠ {ln['generic_name']}",
                          f"{ln['qty']}{'(拆)' if ln['split'] else ''}", str(ln["days"]), ln["dosage"], ln["frequency"],
                          ln["route"], str(ln["dispensed_base"]))
        for rev in rx["reviews"]:
            table.add_row("审", f"{VERDICT_ZH.get(rev['verdict'], rev['verdict'])} {rev['reason_label']}",
                          rev["referred_to"], "", "", "", "", "", "")
        self.refresh_bindings()

    def _next_hint(self) -> str:
        if self.rx is None or self.rx["status"] != "pending":
            return "Esc 返回"
        here = "" if self._may_review() else "（在岗药师当场输入工号和 PIN）"
        if any(not ln["name_matches"] for ln in self.rx["lines"]):
            return f"处方药名与调配药品通用名不符（≠，RX-04）：不能通过。F6 拒绝  F7 转介{here}"
        return f"审方：F5 通过  F6 拒绝  F7 转介{here}"

    def action_approve(self) -> None:
        self._reviewer(lambda: self._work(self._review({"verdict": "approved"})))

    def action_reject(self) -> None:
        self._reviewer(lambda: self._ask_reason("rejected"))

    def action_refer(self) -> None:
        self._reviewer(lambda: self._ask_reason("referred"))

    def _ask_reason(self, verdict: str) -> None:
        if self.busy or self.rx is None:
            return
        self.verdict = verdict
        self._work(self._show_reasons())

    async def _show_reasons(self) -> None:
        if not self.reasons:
            self.reasons = await self.client.reject_reasons()
        options = self.query_one("#rx-reasons", OptionList)
        options.clear_options()
        options.add_options([Option(r["label"], id=r["code"]) for r in self.reasons])
        if self.verdict == "referred":  # 缺货 is the usual reason a patient is sent elsewhere
            options.highlighted = next((n for n, r in enumerate(self.reasons) if r["code"] == "out_of_stock"), 0)
        else:
            options.highlighted = 0
        self._go("reason")
        self.query_one("#rx-title", Static).update(
            f"审方 {self.rx['rx_no'] if self.rx else ''}：" + ("拒绝调配" if self.verdict == "rejected" else "转介其他定点药店"))
        self.query_one("#rx-referred").display = False
        options.focus()
        self.say(("拒绝调配" if self.verdict == "rejected" else "转介其他定点药店") + "：↑↓ 选择原因，回车确认；Esc 返回")

    @on(OptionList.OptionSelected, "#rx-reasons")
    def _reason_chosen(self, event: OptionList.OptionSelected) -> None:
        if self.busy:
            return
        if self.verdict == "referred" or event.option.id == "out_of_stock":  # RX-05: the pharmacy arranged is named
            referred = self.query_one("#rx-referred", Input)
            referred.display = True
            referred.focus()
            self.say(f"原因：{event.option.prompt}。请输入为患者安排的其他定点药店，回车提交")
            return
        self._work(self._review({"verdict": "rejected", "reason": event.option.id}))

    @on(Input.Submitted, "#rx-referred")
    def _referred(self, event: Input.Submitted) -> None:
        if self.busy:
            return
        options = self.query_one("#rx-reasons", OptionList)
        reason = options.get_option_at_index(options.highlighted or 0).id
        self._work(self._review({"verdict": self.verdict, "reason": reason, "referred_to": event.value.strip()}))

    async def _review(self, body: dict[str, Any]) -> None:
        assert self.rx is not None
        self.say("正在提交审方…")
        upload_error: dict[str, Any] | None = None
        try:
            if self.rx["source"] == "electronic":  # from the platform: the review is uploaded to it too
                out = await self.client.review_eprx(self.rx["id"], body, self._granted())
                self.rx, upload_error = out["prescription"], out["upload_error"]
            else:
                self.rx = await self.client.review_prescription(self.rx["id"], body, self._granted())
        except ServiceError as exc:
            if exc.details.get("grant") == "refused":  # expired or used: the next F5 asks again
                self.grant = None
            raise
        self.grant = None  # spent
        self._show_rx()
        verdict = VERDICT_ZH.get(body["verdict"], body["verdict"])
        if upload_error is not None:  # the review stands, queued (retried by itself) or refused: not dispensed yet
            self.say(f"审方已记录：{verdict}。{upload_error['message_zh']}", error=True)
            return
        self.say(f"审方已记录：{verdict}" + ("。按 Esc 返回收银，F2 收款" if body["verdict"] == "approved"
                                      else "。本处方的处方药不能调配"), error=body["verdict"] != "approved")

    # --- keys -------------------------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        if self.step == "form":
            form = self.query_one(RxForm)
            form.select(form.current + step)
            return
        table = self.query_one("#rx-table", DataTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS))

    def action_back(self) -> None:
        if self.busy:
            self.say("正在提交，请稍候", error=True)
            return
        if self.step == "reason":
            referred = self.query_one("#rx-referred", Input)
            if referred.display and referred.has_focus:
                referred.display = False
                self.query_one("#rx-reasons", OptionList).focus()
                return
            self._show_rx()
            self.say(self._next_hint())
        elif self.step == "detail" and self.tied is not None and self.rx is not None and self.rx["status"] == "approved":
            self.dismiss(self.tied)  # tied and approved: nothing is left to do here, back to the sale to be paid
        elif self.step in ("form", "detail"):
            self._go("home")
            self.query_one("#rx-patient", Input).focus()
            self.say("F3 登记纸质处方；或输入患者姓名/身份证号回车查找" + ("（已填写的处方保留）" if self.query(RxForm) else ""))
        elif self.step == "home" and (self.found or self.listed) and not self.query_one("#rx-patient", Input).has_focus:
            self.query_one("#rx-patient", Input).focus()
            self.refresh_bindings()
        else:
            self.dismiss(self.tied)
