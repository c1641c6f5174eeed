"""A whole one-till day (#18's "Done when"), as people do it, through the till only: `dingdian demo` in a real
terminal (tmux, 120×35), keys sent, the screen read back. The cashier opens the shift and sells OTC for cash; the
pharmacist goes on duty from the cashier's till (Ctrl+G) and reviews a prescription in place (F4, their username and
PIN in the authorisation dialog); a card sale on the sandbox centre (the card number and 卡识别码 typed, F5); a
return (F11) and a void (F8) the pharmacist authorises in place; a second cashier takes over the open sale (Ctrl+S);
the pharmacist goes off duty and the till refuses a 处方药 and a 甲类 OTC line with its message; the Z report closes
the shift. No Ctrl+Q and no API call from outside the till: the database is read before the day (which products
stand on the shelf, as a person looking at it knows) and after it (what was recorded).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from devices.card.demo_cards import demo_card
from server.config import ROOT
from tests.conftest import Clock
from tests.pos.test_demo_tmux import Tmux, _processes_with
from tests.service import free_port

pytestmark = pytest.mark.slow


class Terminal(Tmux):
    """The tmux pane, with where the terminal's cursor stands: the till puts it in the focused input (for an IME),
    so a focus that moved is seen there — keys typed before it moved would land in the field being left."""

    def cursor(self) -> tuple[int, int]:
        x, y = self.run("display", "-p", "-t", self.session, "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def press(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.session, "-l", text)

    def settled(self, timeout: float = 5) -> tuple[int, int]:
        """What was typed is drawn: the cursor stays put for 0.15 s."""
        deadline, last = time.monotonic() + timeout, self.cursor()
        while True:
            time.sleep(0.15)
            now = self.cursor()
            if now == last or time.monotonic() > deadline:
                return now
            last = now

    def focused(self, label: str, labels: tuple[str, ...], timeout: float = 5) -> None:
        """Wait for the focus (the cursor) in the input labelled `label`: the nearest of `labels` left of the cursor
        on its line (a form's labels stand left of their inputs, two to a line)."""
        deadline = time.monotonic() + timeout
        while True:
            x, y = self.cursor()
            line = self.screen().splitlines()[y] if y < 35 else ""
            left = [(cells(line[:i]), name) for name in labels if (i := line.find(name)) >= 0 and cells(line[:i]) < x]
            if left and max(left)[1] == label:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the focus is not on {label} (cursor {x},{y}):\n{self.screen()}")
            time.sleep(0.03)

    def on_line_of(self, text: str, timeout: float = 5) -> None:
        """Wait for the focus (the cursor) on the line showing `text` (an empty input's placeholder)."""
        deadline = time.monotonic() + timeout
        while True:
            y = self.cursor()[1]
            lines = self.screen().splitlines()
            if y < len(lines) and text in lines[y]:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the focus is not on {text}:\n{self.screen()}")
            time.sleep(0.03)

    def field(self, text: str, key: str = "Enter", timeout: float = 5) -> None:
        """Type into the focused input, then Enter (or `key`), and wait for the focus to leave it."""
        if text:
            self.type(text)
        at = self.settled()
        self.press(key)
        deadline = time.monotonic() + timeout
        while self.cursor() == at:
            if time.monotonic() > deadline:
                raise AssertionError(f"the focus stayed after {text!r}:\n{self.screen()}")
            time.sleep(0.03)

    def enter(self, text: str, then: str, timeout: float = 30) -> str:
        """Type `text`, Enter, and wait for `then` on the screen."""
        if text:
            self.type(text)
        self.settled()
        self.press("Enter")
        return self.wait_for(then, timeout)

    def login(self, username: str, pin: str, then: str) -> str:
        self.wait_for("工号")
        self.field(username)
        return self.enter(pin, then)

    def authorise(self, username: str, pin: str, then: str) -> str:
        """The authorisation dialog (another post's holder in place): their username and PIN."""
        self.wait_for("授权人工号")
        self.field(username)
        return self.enter(pin, then)


def cells(text: str) -> int:
    """How many terminal columns `text` takes (CJK characters two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@dataclass(frozen=True)
class Product:
    barcode: str
    name: str
    price_fen: int
    traced: bool


def on_the_shelf(db: Path, today: date, gsp_class: str, *, traced: bool | None = None,
                 insured: bool = False) -> Product:
    """A product of this class with sellable stock a month from expiry on every batch (`today`: the store's)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute(f"""
            SELECT bc.code, i.name, i.price_fen, i.traced AND NOT i.no_code_stock FROM item i
            JOIN barcode bc ON bc.item_id = i.id
            WHERE i.gsp_class = :cls AND i.active AND length(bc.code) = 13
              {"AND i.traced = :traced" if traced is not None else ""}
              {"AND i.insurance_category IN ('jia', 'yi') AND i.mapping_uploaded_on IS NOT NULL" if insured else ""}
              AND EXISTS (SELECT 1 FROM batch b JOIN batch_balance bb ON bb.batch_id = b.id
                          WHERE b.item_id = i.id AND b.status = 'active' AND bb.location = 'sellable' AND bb.qty > 3
                            AND b.expires_on > :soon)
              AND NOT EXISTS (SELECT 1 FROM batch o JOIN batch_balance ob ON ob.batch_id = o.id
                              WHERE o.item_id = i.id AND ob.qty > 0 AND o.expires_on <= :soon)
            ORDER BY i.code LIMIT 1""", {"cls": gsp_class, "traced": traced,
                                                                      "soon": (today + timedelta(days=30)).isoformat()}).fetchone()
    assert row is not None, f"the demo store has a {gsp_class} product to sell"
    return Product(row[0], row[1], row[2], bool(row[3]))


@pytest.fixture
def day(tmp_path: Path) -> Iterator[tuple[Terminal, Path]]:
    """`dingdian demo --till` at 120×35 on its own database, service port, sandbox centre and tmux server; the
    code under test is this tree's (PYTHONPATH), whichever checkout the shared virtualenv's script came from."""
    assert shutil.which("tmux"), "tmux is installed by `make test` (APT_PACKAGES)"
    db = tmp_path / "dingdian.db"
    # COLUMNS/LINES: the pane's size, said outright; the till started under pytest otherwise drew itself at 80×24
    env = {"COLUMNS": "120", "LINES": "35", "PYTHONPATH": str(ROOT), "DINGDIAN_DATABASE__URL": f"sqlite:///{db}",
           "DINGDIAN_SERVICE__PORT": str(free_port()),
           "DINGDIAN_INSURANCE__URL": f"http://127.0.0.1:{free_port()}",
           "DINGDIAN_INSURANCE__SANDBOX_DB": str(tmp_path / "sandbox-centre.db"),
           "DINGDIAN_SERVICE__PIN_HASH_MEMORY_KIB": "1024", "DINGDIAN_SERVICE__PIN_HASH_TIME_COST": "1"}
    command = " ".join(["env", *(f"{k}={v}" for k, v in env.items()), "TERM=xterm-256color",
                        str(ROOT / ".venv" / "bin" / "dingdian"), "demo", "--till"])
    tmux = Terminal(f"dingdian-day-{uuid.uuid4().hex[:8]}", "demo")
    tmux.run("-f", "/dev/null", "new-session", "-d", "-s", "demo", "-x", "120", "-y", "35", "-c", str(ROOT), command)
    try:
        yield tmux, db
    finally:
        if tmux.alive():
            tmux.press("C-q")  # the test is over: leave the till, the demo stops its service and centre itself
            deadline = time.monotonic() + 10
            while tmux.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)
        for pid in _processes_with(str(db)):
            if pid != os.getpid():
                os.kill(pid, 15)


def trace_code() -> str:
    """A box's 药品追溯码: 20 digits from 8, new each time (a code is sold once)."""
    return "8" + f"{uuid.uuid4().int % 10**19:019d}"


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def test_a_whole_one_till_day(day: tuple[Terminal, Path], clock: Clock) -> None:
    tmux, db = day
    tmux.wait_for("收银登录", timeout=90)  # the demo store is loaded first
    otc = on_the_shelf(db, clock.today, "otc_b")
    rx = on_the_shelf(db, clock.today, "rx", traced=False)
    otc_a = on_the_shelf(db, clock.today, "otc_a", traced=False, insured=True)
    cheap = on_the_shelf(db, clock.today, "device", traced=False)

    def sell_otc() -> None:
        tmux.enter(otc.barcode, "已加入")
        if otc.traced:  # the box's trace code, into the same input
            tmux.enter(trace_code(), "已扫齐")

    def pay_cash() -> str:
        """F2, Enter on the empty tender (the exact amount), Enter: the sale's number from the message."""
        tmux.press("F2")
        tmux.wait_for("现金实收")
        tmux.settled()
        tmux.press("Enter")
        tmux.wait_for("收款完成，按回车")
        tmux.press("Enter")
        shown = tmux.wait_for(r"收款完成 单号 \d{8}-\d{4}")
        found = re.search(r"收款完成 单号 (\d{8}-\d{4})", shown)
        assert found is not None
        return found.group(1)

    # --- morning: the cashier opens the shift and sells OTC for cash ----------------------------------------
    tmux.login("cashier1", "1111", "备用金")
    tmux.enter("200", "F2收款")
    sell_otc()
    first = pay_cash()
    cash = 20000 + otc.price_fen

    # --- the pharmacist goes on duty at the cashier's till -------------------------------------------------
    tmux.press("C-g")
    tmux.authorise("pharm1", "2222", "李建国 已登记在岗")
    tmux.wait_for("在岗药师 李建国")  # the status bar says who is on duty

    # --- an Rx sale: the paper prescription entered, the pharmacist reviews in place --------------------------
    tmux.enter(rx.barcode, "处方药：须登记处方")
    tmux.press("F4")
    tmux.wait_for("F3 登记纸质处方")
    tmux.press("F3")
    tmux.wait_for("填写处方")
    header = ("处方编号", "开具日期", "机构编码", "医疗机构", "处方医师", "诊断", "患者姓名", "身份证号", "性别", "年龄")
    paper = ("RX-DAY-1", "", "H44030000001", "示范医院", "周医生", "高血压", "王五", "", "1", "52")
    for label, value in zip(header, paper, strict=True):  # the issue date is today's already; no ID number
        tmux.focused(label, header)
        if label == "年龄":  # on to the boxes, where no cursor shows
            tmux.type(value)
            tmux.settled()
            tmux.press("Enter")
        else:
            tmux.field(value)
    time.sleep(0.4)
    tmux.press("Enter")  # 外配处方: not ticked (Enter goes on, as everywhere in the form)
    time.sleep(0.4)
    tmux.press("Space")  # 医师已签名 ✓
    tmux.wait_for("✓▌ 医师已签名")
    for _ in range(3):  # 医师已签名 机构已盖章 外配章: on to the drug line
        tmux.press("Enter")
        time.sleep(0.3)
    drug = ("处方药名", "数量", "单次剂量", "频次", "用法", "剂型")
    for label, value in zip(drug, (rx.name, "", "50mg", "qd", "口服"), strict=False):  # the quantity is the sale's
        tmux.focused(label, drug)
        tmux.field(value)
    tmux.press("F2")
    tmux.wait_for("已关联本单")
    tmux.press("F5")  # 审核通过: the cashier may not; the pharmacist types their own username and PIN here
    tmux.authorise("pharm1", "2222", "审方已记录：通过")
    tmux.press("Escape")
    tmux.wait_for("F2收款")
    second = pay_cash()
    cash += rx.price_fen

    # --- a card sale: sign in to the centre, the card number and 卡识别码 typed ------------------------------------
    tmux.press("C-y")
    tmux.wait_for("医保签到成功")
    tmux.enter(otc_a.barcode, "已加入")
    tmux.press("F3")
    tmux.wait_for("插入社保卡后回车识别")
    for _ in range(20):  # F5 (card number) is live once the screen has asked whether the sale was identified before
        tmux.press("F5")
        time.sleep(0.3)
        if "社保卡号" in tmux.screen():
            break
    tmux.wait_for("社保卡号", timeout=1)
    card = demo_card("employee").record
    tmux.field(card.card_no)
    tmux.enter(card.card_sn, "医保可支付")
    tmux.press("F2")
    shown = tmux.wait_for(r"还需支付 \d+\.\d\d 元|无需另付")
    due = re.search(r"还需支付 (\d+)\.(\d\d) 元", shown)
    due_fen = int(due.group(1)) * 100 + int(due.group(2)) if due else 0
    tmux.enter("100" if due_fen else "", "医保结算完成")
    third = re.search(r"单号 (\d{8}-\d{4})", tmux.screen())
    assert third is not None
    third_no = third.group(1)
    tmux.press("Enter")
    tmux.wait_for("F2收款")
    cash += due_fen

    # --- a return, authorised in place by the pharmacist ----------------------------------------------------
    tmux.press("F11")
    tmux.wait_for("退货须由")
    tmux.enter(first, "授权人工号")
    tmux.authorise("pharm1", "2222", "李建国 已授权退货")
    tmux.press("Space")
    tmux.wait_for("已选退货 1 件")
    tmux.press("F2")
    tmux.on_line_of("退货原因（必填）")
    tmux.enter("包装破损", "退货完成")
    cash -= otc.price_fen
    tmux.press("Escape")
    tmux.wait_for("F2收款")

    # --- a void, authorised in place --------------------------------------------------------------------------
    tmux.enter(cheap.barcode, "已加入")
    tmux.press("F8")
    tmux.authorise("pharm1", "2222", "作废当前销售：请输入原因")
    tmux.enter("顾客不要了", "已作废")

    # --- a change of hands mid-shift: the second cashier finds the open sale -------------------------------------
    sell_otc()
    tmux.press("C-s")
    tmux.wait_for("已离开收款机")
    tmux.login("cashier2", "1112", "黄丽 已登录")
    shown = tmux.wait_for("继续未完成的销售（1 件）")
    assert re.search(r"本机班次 #\d+ 由 王芳[^开]*开班", shown), shown  # the till's shift, opened by the first cashier
    assert "按 Ctrl+Y 签到" in shown, shown  # and the 医保 sign-in the second cashier has not made (not cut off)
    fourth = pay_cash()
    cash += otc.price_fen

    # --- the pharmacist goes off duty: no 处方药, no 甲类 OTC -----------------------------------------------------
    tmux.press("C-g")
    tmux.authorise("pharm1", "2222", "李建国 已离岗")
    tmux.wait_for("无在岗药师")
    tmux.enter(rx.barcode, r"药师不在岗，处方药暂停销售")
    tmux.enter(otc_a.barcode, r"药师不在岗，甲类非处方药暂停销售")

    # --- the Z report at the shift's close --------------------------------------------------------------------
    tmux.press("F12")
    tmux.wait_for("请输入实点现金")
    report = tmux.enter(yuan(cash), "Z 报表")
    assert "差额：0.00 元（账实相符）" in report, report

    # --- what was recorded ------------------------------------------------------------------------------------
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        ids = dict(conn.execute("SELECT username, id FROM app_user").fetchall())
        cashier1, cashier2, pharm1 = ids["cashier1"], ids["cashier2"], ids["pharm1"]
        sold = {r[0]: r[1:] for r in conn.execute(
            "SELECT sale_no, opened_by, completed_by, total_fen, prescription_id IS NOT NULL FROM sale "
            "WHERE status = 'completed'")}
        voided = conn.execute("SELECT opened_by, voided_by, total_fen, void_reason FROM sale "
                              "WHERE status = 'voided' AND total_fen > 0").fetchall()
        returned = conn.execute("SELECT s.sale_no, r.created_by, r.total_fen, r.reason FROM sale_return r "
                                "JOIN sale s ON s.id = r.sale_id").fetchall()
        review = conn.execute("SELECT verdict, pharmacist_id FROM rx_review").fetchall()
        duties = conn.execute("SELECT user_id, on_at < off_at FROM pharmacist_duty").fetchall()
        # The audit entries of what the pharmacist did at the cashiers' till: theirs, naming the till's person.
        acted = conn.execute("SELECT action, user_id, json_extract(after, '$.in_place.till_user_id') FROM audit_entry "
                             "WHERE action IN ('duty.on', 'rx.approved', 'sale.return', 'sale.void', 'duty.off') "
                             "ORDER BY seq").fetchall()
        shift = conn.execute("SELECT status, opened_by, closed_by, float_fen, counted_cash_fen, expected_cash_fen "
                             "FROM shift").fetchall()
        card_sales = conn.execute("SELECT s.sale_no, c.status FROM card_settlement c JOIN sale s ON s.id = c.sale_id").fetchall()
    assert sold == {first: (cashier1, cashier1, otc.price_fen, False), second: (cashier1, cashier1, rx.price_fen, True),
                    third_no: (cashier1, cashier1, otc_a.price_fen, False), fourth: (cashier1, cashier2, otc.price_fen, False)}
    assert card_sales == [(third_no, "settled")]
    assert voided == [(cashier1, pharm1, cheap.price_fen, "顾客不要了")]
    assert returned == [(first, pharm1, otc.price_fen, "包装破损")]
    assert review == [("approved", pharm1)]
    assert duties == [(pharm1, 1)]  # one duty, on and off, from the cashiers' till
    assert acted == [("duty.on", pharm1, cashier1), ("rx.approved", pharm1, cashier1), ("sale.return", pharm1, cashier1),
                     ("sale.void", pharm1, cashier1), ("duty.off", pharm1, cashier2)]
    assert shift == [("closed", cashier1, cashier2, 20000, cash, cash)]
    # The Z report on the screen is the day's sales (an empty sale closed with the shift is no void)
    figures = re.sub(r"\s+", " ", report)
    assert f"销售笔数：4 销售金额：{yuan(sum(s[2] for s in sold.values()))} 元" in figures, report
    assert f"作废：1 笔 {yuan(cheap.price_fen)} 元" in figures and f"退货：1 笔 {yuan(otc.price_fen)} 元" in figures, report
    assert f"应有现金：{yuan(cash)} 元" in figures and "在岗药师：李建国" in figures, report
