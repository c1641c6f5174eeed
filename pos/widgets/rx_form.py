"""The paper prescription's entry form (处方登记): the header fields, the 外配 / signature / seal boxes, and the
drug lines — prefilled from the sale's prescription drugs, more added by search (F9), each line's drug name as
the prescription writes it, quantity, dosage, frequency, route and form typed in the editor under the table. The
days' supply is not typed: the service computes it from quantity, dose and frequency (RX-06), and compares the
written name with the item's generic name (RX-04).

Keyboard-first: Enter moves to the next field, space ticks a box, ↑↓ choose the line being edited. The form
only collects what the pharmacist typed into the body of POST /prescriptions; every check is the service's.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.coordinate import Coordinate
from textual.widgets import Checkbox, DataTable, Input, Label

HEADER = (("rx_no", "处方编号"), ("issued_on", "开具日期"), ("institution_code", "机构编码"),
          ("institution_name", "医疗机构"), ("doctor_name", "处方医师"), ("diagnosis", "诊断"),
          ("patient_name", "患者姓名"), ("patient_certno", "身份证号"), ("patient_sex", "性别"), ("patient_age", "年龄"))
BOXES = (("for_insurance", "外配处方（医保）"), ("doctor_signed", "医师已签名"), ("institution_sealed", "机构已盖章"),
         ("waipei_sealed", "外配章"))
SEXES = {"男": "男", "1": "男", "m": "男", "女": "女", "2": "女", "f": "女"}  # typed without an IME: 1/2 or m/f
LINE_FIELDS = (("drug_name", "处方药名"), ("qty", "数量"), ("dosage", "单次剂量"), ("frequency", "频次"),
               ("route", "用法"), ("dosage_form", "剂型"))
FIELD_LENGTH = {"drug_name": 100}  # the others: 30, as the service takes them


class Box(Checkbox):
    """A form's tick box: space ticks it, Enter goes on to the next field as it does everywhere in the form (a
    Checkbox's own Enter ticks it silently), and a ticked box shows ✓, readable without colour."""

    inherit_bindings = False
    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "toggle_button", "勾选", show=False),
                                             Binding("enter", "next_field", "下一项", show=False)]
    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "✓" if self.value else " "
        super().watch_value()

    def action_next_field(self) -> None:
        self.screen.focus_next()


class FormProblem(Exception):
    """What the pharmacist typed cannot be sent as it is (not a number, not a date); says which field."""


def _int(text: str, label: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise FormProblem(f"{label}须为整数") from None


def _date(text: str) -> str:
    text = text.strip()
    try:
        if len(text) == 8 and text.isdigit():  # 20261122, as typed fast
            return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FormProblem("开具日期格式为 2026-11-22 或 20261122") from None


class RxForm(VerticalScroll):
    def __init__(self, sale: dict[str, Any], today: date, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.today = today
        self.institutions: dict[str, str] = {}  # code → name, from the registry the store imported
        # The sale's prescription drugs, as the form's first lines (the quantity the sale holds).
        self.lines: list[dict[str, Any]] = [
            {"item_id": ln["item_id"], "name": ln["name"], "spec": ln["spec"], "qty": str(ln["qty"]),
             "split": ln["split"], "drug_name": "", "dosage": "", "frequency": "", "route": "", "dosage_form": ""}
            for ln in sale["lines"] if ln["gsp_class"] == "rx"]
        self.current = 0
        self._loading = False

    def compose(self) -> ComposeResult:
        with Grid(id="rx-header"):
            for key, label in HEADER:
                yield Label(label)
                value = self.today.isoformat() if key == "issued_on" else ""
                yield Input(value=value, id=f"rx-{key}", compact=True, max_length=200,
                            placeholder="男/女 或 1/2" if key == "patient_sex" else "")
        with Horizontal(id="rx-boxes"):
            for key, label in BOXES:
                yield Box(label, id=f"rx-{key}", compact=True)
        yield DataTable(id="rx-lines", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="rx-editor"):
            for key, label in LINE_FIELDS:
                yield Label(label)
                yield Input(id=f"ln-{key}", compact=True, max_length=FIELD_LENGTH.get(key, 30))

    def on_mount(self) -> None:
        table = self.query_one("#rx-lines", DataTable)
        table.can_focus = False
        table.add_columns("#", "药品", "规格", *[label for _, label in LINE_FIELDS])
        self.redraw()
        self.select(0)

    # --- the lines ----------------------------------------------------------------------------------

    def redraw(self) -> None:
        table = self.query_one("#rx-lines", DataTable)
        table.clear()
        for n, ln in enumerate(self.lines, start=1):
            table.add_row(str(n), ln["name"], ln["spec"], *[ln[k] + ("(拆)" if k == "qty" and ln["split"] else "")
                                                             for k, _ in LINE_FIELDS])
        if self.lines:
            table.move_cursor(row=min(self.current, len(self.lines) - 1))

    def select(self, index: int) -> None:
        """Edit line `index` in the editor (its values loaded, nothing typed elsewhere lost)."""
        if not self.lines:
            return
        self.current = max(0, min(len(self.lines) - 1, index))
        self._loading = True
        for key, _ in LINE_FIELDS:
            self.query_one(f"#ln-{key}", Input).value = self.lines[self.current][key]
        self._loading = False
        self.query_one("#rx-lines", DataTable).move_cursor(row=self.current)

    def add_item(self, item: dict[str, Any]) -> None:
        self.lines.append({"item_id": item["id"], "name": item["name"], "spec": item["spec"], "qty": "1",
                           "split": False, "drug_name": "", "dosage": "", "frequency": "", "route": "",
                           "dosage_form": ""})
        self.redraw()
        self.select(len(self.lines) - 1)
        self.query_one("#ln-drug_name", Input).focus()

    def remove_current(self) -> str | None:
        if not self.lines:
            return None
        gone = self.lines.pop(self.current)
        self.redraw()
        self.select(self.current)
        return str(gone["name"])

    @on(Input.Changed, "#rx-editor Input")
    def _line_typed(self, event: Input.Changed) -> None:
        if self._loading or not self.lines or event.input.id is None:
            return
        key = event.input.id.removeprefix("ln-")
        self.lines[self.current][key] = event.value
        col = 3 + [k for k, _ in LINE_FIELDS].index(key)
        table = self.query_one("#rx-lines", DataTable)
        split = key == "qty" and self.lines[self.current]["split"]
        table.update_cell_at(Coordinate(self.current, col), event.value + ("(拆)" if split else ""))

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "rx-institution_code":  # the registry names the institution
            name = self.institutions.get(event.value.strip())
            box = self.query_one("#rx-institution_name", Input)
            if name and not box.value:
                box.value = name
        if event.input.id == "ln-dosage_form" and self.current < len(self.lines) - 1:
            self.select(self.current + 1)  # the last field of a line: on to the next line
            self.query_one("#ln-drug_name", Input).focus()
            return
        self.screen.focus_next()

    # --- the body ------------------------------------------------------------------------------------

    def body(self) -> dict[str, Any]:
        """The POST /prescriptions body from what was typed; FormProblem names a field that is not a number/date."""
        value = {key: self.query_one(f"#rx-{key}", Input).value.strip() for key, _ in HEADER}
        body: dict[str, Any] = value | {key: self.query_one(f"#rx-{key}", Checkbox).value for key, _ in BOXES}
        body["issued_on"] = _date(value["issued_on"])
        body["patient_age"] = _int(value["patient_age"], "年龄")
        body["patient_sex"] = SEXES.get(value["patient_sex"].lower(), value["patient_sex"])
        if not self.lines:
            raise FormProblem("处方没有药品：按 F9 查询加入药品")
        body["lines"] = []
        for n, ln in enumerate(self.lines, start=1):
            line = {k: ln[k].strip() for k in ("drug_name", "dosage", "frequency", "route", "dosage_form")}
            line |= {"item_id": ln["item_id"], "split": ln["split"], "qty": _int(ln["qty"], f"第{n}行数量")}
            body["lines"].append(line)
        return body
