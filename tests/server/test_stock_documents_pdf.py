"""The printable stock documents (issue #19) and the 进销存's PDF through the API and the command line: a receipt with its 验收 record,
a count sheet to count on (no book) and its result, a destruction record with its two witnesses — each PDF's pages
rendered and not blank, its Chinese drawn from the embedded font, and what it says read back: the people, the
outcomes, and the amounts the ledger's movements carry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from reports.export import fonts
from reports.export.pdf import money
from server.cli import app
from server.config import ROOT, Settings
from tests.conftest import ROLE_PINS, Shop
from tests.reports.pdf_check import embedded_font, inked, missing_glyphs, needs_poppler, pages
from tests.reports.pdf_check import text as pdf_text
from tests.server.test_counts import BOOK, _count_as_book
from tests.server.test_receiving import _line, _receipt, _supplier
from tests.server.test_stock_care import _batch, _loss

pytestmark = [needs_poppler, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


def _read(tmp_path: Path, name: str, body: bytes) -> str:
    """The PDF's text, once every page is shown rendered and its characters drawn by the embedded font."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(body)
    images = pages(path)
    assert images and all(inked(i) > 300 for i in images), name
    words = pdf_text(path)
    assert missing_glyphs(embedded_font(path), words) == [], name
    return words


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_the_receipt_count_and_destruction_documents_print_what_was_done(shop: Shop, engine: Engine,
                                                                          tmp_path: Path) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    # a blind count: the sheet to count on never shows the book; its result only once handed in
    sheet = c.post("/counts", json={"blind": True, "note": "月末盘点"}, headers=ph).json()
    printed = c.get(f"/counts/{sheet['id']}/sheet.pdf", headers=ph)
    blank = _read(tmp_path, "sheet", printed.content)
    assert "盘点表" in blank and "实盘数量" in blank and "账面" not in blank
    code = printed.headers["x-document-fingerprint"]
    assert "核验码" in blank and code in blank  # what it says, not when: printed again, the same code
    assert c.get(f"/counts/{sheet['id']}/sheet.pdf", headers=mg).headers["x-document-fingerprint"] == code
    assert all(no in blank for no in BOOK)
    early = c.get(f"/counts/{sheet['id']}/result.pdf", headers=mg)
    assert early.status_code == 409 and early.json()["code"] == "ST-02"
    _count_as_book(c, ph, sheet, BOOK, B_VITC_1=48, B_AMOX_2=50)
    assert c.post(f"/counts/{sheet['id']}/submit", json={}, headers=ph).status_code == 200
    ids = {ln["batch_no"]: ln["batch_id"] for ln in sheet["lines"]}
    reasons = {str(ids["B-VITC-1"]): "破损未登记", str(ids["B-AMOX-2"]): "上次盘点漏点"}
    assert c.post(f"/counts/{sheet['id']}/post", json={"reasons": reasons}, headers=mg).status_code == 200
    assert c.get(f"/counts/{sheet['id']}/sheet.pdf", headers=ph).headers["x-document-fingerprint"] != code  # posted
    result = _read(tmp_path, "result", c.get(f"/counts/{sheet['id']}/result.pdf", headers=mg).content)
    cost = _scalar(engine, "SELECT SUM(cost_fen) FROM stock_movement WHERE ref_type = 'count_line'")
    assert cost != 0
    for said in ("盘点结果", "已审核过账", "破损未登记", "上次盘点漏点", "提交人（盘点人）：测试pharmacist（u_pharmacist）",
                 "审核过账人：测试manager（u_manager）", money(cost)):
        assert said in result, said
    vitc_line = next(ln.split() for ln in result.splitlines() if "B-VITC-1" in ln)
    assert ["50", "48", "-2"] == [t for t in vitc_line if t in ("50", "48", "-2")]  # book, counted, variance

    # a delivery: entered and inspected by the pharmacist, one line each accepted, held and rejected; approved
    sup = _supplier(c, mg, "国药控股北京", today + timedelta(days=365), ["drugs"], [items["vitc"], items["amox"]])
    made = _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", 10, 180, today=today),
                                 _line(items["amox"], "Z-RX", 2, 800, "L-AMX", today=today),
                                 _line(items["vitc"], "Z-OTC", 5, 180, "L-BAD", today=today)])
    rid = made.json()["id"]
    assert c.post(f"/receipts/{rid}/inspection", json={"verdicts": [
        {"line_no": 1, "outcome": "accepted"}, {"line_no": 2, "outcome": "quarantine", "reason": "外包装破损待复检"},
        {"line_no": 3, "outcome": "rejected", "reason": "批号与随货同行单不符"}]}, headers=ph).status_code == 200
    assert c.post(f"/receipts/{rid}/approve", json={"note": "同意入库"}, headers=mg).status_code == 200
    got = c.get(f"/receipts/{rid}/pdf", headers=shop["cashier"])  # whoever may read stock
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf", got.text
    words = _read(tmp_path, "receipt", got.content)
    for said in ("药品采购入库验收单", "国药控股北京", "SH-20260001", "FP-0001", "合格", "待验", "拒收", "外包装破损待复检",
                 "批号与随货同行单不符", "L-AMX", "验收员：测试pharmacist（u_pharmacist）",
                 "审核人（质量负责人）：测试manager（u_manager）", f"R{rid:06d}-001"):
        assert said in words, said
    assert money(10 * 180 + 2 * 800 + 5 * 180) in words  # the delivery's amount, 合计
    assert c.get("/receipts/999999/pdf", headers=ph).status_code == 404

    # a destruction before two witnesses: the record names them and what left at cost
    ice = _batch(engine, "B-ICE-1")
    cashier = {"username": "u_cashier", "pin": ROLE_PINS["cashier"]}
    manager = {"username": "u_manager", "pin": ROLE_PINS["manager"]}
    done = _loss(c, ph, "destruction", ice["id"], 4, reason="抽检不合格", method="焚烧", witnesses=[cashier, manager])
    assert done.status_code == 201, done.text
    loss = _read(tmp_path, "loss", c.get(f"/losses/{done.json()['id']}/pdf", headers=ph).content)
    left = -_scalar(engine, "SELECT SUM(cost_fen) FROM stock_movement WHERE ref_type = 'loss_line'")
    for said in ("药品销毁记录", "焚烧", "抽检不合格", "B-ICE-1", "经办人：测试pharmacist（u_pharmacist）",
                 "监督人1：测试cashier（u_cashier）", "监督人2：测试manager（u_manager）", money(left)):
        assert said in loss, said


def test_the_documents_and_the_ledger_pdf_from_the_command_line_and_the_api(shop: Shop, settings: Settings,
                                                                          tmp_path: Path) -> None:
    c, ph = shop["client"], shop["pharmacist"]
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    sheet = c.post("/counts", json={}, headers=ph).json()
    runner = CliRunner()
    out = tmp_path / "sheet.pdf"
    args = ["pdf", "count-sheet", str(sheet["id"]), "--out", str(out), "--config", str(config)]
    assert runner.invoke(app, args).exit_code == 2  # SEC-01: as a named person
    ok = runner.invoke(app, [*args, "--as", "u_cashier"], input=ROLE_PINS["cashier"] + "\n")
    assert ok.exit_code == 0 and f"已写入 / written: {out}" in ok.output, ok.output
    code = c.get(f"/counts/{sheet['id']}/sheet.pdf", headers=ph).headers["x-document-fingerprint"]
    assert f"核验码 / fingerprint: {code}" in ok.output  # the paper from the command line checks against the API's
    assert "B-AMOX-1" in _read(tmp_path, "cli-sheet", out.read_bytes())
    missing = runner.invoke(app, ["pdf", "loss", "999999", "--out", str(tmp_path / "x.pdf"), "--config", str(config),
                                  "--as", "u_cashier"], input=ROLE_PINS["cashier"] + "\n")
    assert missing.exit_code == 1 and not (tmp_path / "x.pdf").exists()
    # the 进销存 as PDF: dingdian report ledger --format pdf, and GET /reports/ledger?format=pdf
    today = shop["clock"].today
    out = tmp_path / "jxc.pdf"
    args = ["report", "ledger", "--from", (today - timedelta(days=1)).isoformat(), "--to", today.isoformat(),
            "--format", "pdf", "--out", str(out), "--config", str(config), "--as", "u_manager"]
    ok = runner.invoke(app, args, input=ROLE_PINS["manager"] + "\n")
    assert ok.exit_code == 0, ok.output
    assert f"已写入 / written: {out}" in ok.output and "━" not in ok.output  # not a terminal: no bar drawn
    assert out.read_bytes().startswith(b"%PDF") and "6 个批次" in ok.output
    assert "6 个批次" in pdf_text(out).split("\f")[0]
    bad = runner.invoke(app, [*args[:-2], "--format", "docx", "--as", "u_manager"], input=ROLE_PINS["manager"] + "\n")
    assert bad.exit_code == 1 and "docx" in bad.output
    with pytest.MonkeyPatch.context() as mp:  # a machine without the font: said in both languages, no PDF of boxes
        mp.setattr(fonts, "CANDIDATES", ((tmp_path / "none.ttc", 0),))
        no_font = c.get("/reports/ledger", params={"format": "pdf"}, headers=shop["manager"])
        assert no_font.status_code == 503 and no_font.json()["code"] == "FONT", no_font.text
        assert fonts.PACKAGE in no_font.json()["message_zh"] and fonts.PACKAGE in no_font.json()["message_en"]
        gone = tmp_path / "none.pdf"
        failed = runner.invoke(app, [*args[:9], str(gone), *args[10:]], input=ROLE_PINS["manager"] + "\n")
        assert failed.exit_code == 1 and fonts.PACKAGE in failed.output and not gone.exists()
    got = c.get("/reports/ledger", params={"format": "pdf"}, headers=shop["manager"])
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert "attachment" in got.headers["content-disposition"] and got.content.startswith(b"%PDF")
    assert c.get("/reports/ledger", params={"format": "pdf"}, headers=shop["cashier"]).status_code == 403
