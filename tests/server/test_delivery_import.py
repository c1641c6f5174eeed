"""Receipt import from a supplier's delivery file (随货同行单, CSV or XLSX): the columns mapped in one place, UTF-8
(with or without BOM) or GBK detected, a wrong or mixed encoding and a bad cell named by row and column in Chinese
and English; nothing half-written; a draft receipt that still needs its 验收 and its approval (GSP-05)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from catalog.delivery import parse_delivery
from server.cli import app
from tests.conftest import Shop
from tests.server.test_duty_cli import _config
from tests.server.test_receiving import _supplier

HEADER = "商品编码,品名,规格,生产批号,生产日期,有效期至,数量,含税单价,金额,追溯码,随货同行单号,发票号"
TABLES = ("receipt", "receipt_line", "receipt_trace_code", "batch", "stock_movement")


def _rows(today: date, code: str = "YP0002", codes: str = "", lot: str = "L-IMP") -> list[str]:
    made, until = (today - timedelta(days=30)).isoformat(), (today + timedelta(days=700)).strftime("%Y/%m/%d")
    return [f"{code},维生素C片,0.1g*100片,{lot},{made},{until},12,1.80,21.60,{codes},SH-2026-88,FP-88",
            f"YP0001,阿莫西林胶囊,0.25g*24粒,L-AMX,{made},{until},2,8.00,16.00,,SH-2026-88,FP-88"]


def _csv(lines: list[str], encoding: str = "utf-8") -> bytes:
    return "\r\n".join([HEADER, *lines]).encode(encoding)


def test_utf8_with_or_without_bom_gbk_and_xlsx_read_the_same() -> None:
    today = date(2026, 12, 7)
    plain = parse_delivery(_csv(_rows(today)))
    assert plain.ok and plain.encoding == "utf-8" and (plain.dynt_no, plain.purc_invo_no) == ("SH-2026-88", "FP-88")
    assert [(r.row, r.item_code, r.qty, r.unit_cost_fen, r.expires_on) for r in plain.rows] == [
        (2, "YP0002", 12, 180, today + timedelta(days=700)), (3, "YP0001", 2, 800, today + timedelta(days=700))]
    bom = parse_delivery(b"\xef\xbb\xbf" + _csv(_rows(today)))
    gbk = parse_delivery(_csv(_rows(today), "gbk"))
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for line in [HEADER, *_rows(today)]:
        ws.append(line.split(","))
    buf = io.BytesIO()
    wb.save(buf)
    xlsx = parse_delivery(buf.getvalue())
    assert (bom.encoding, gbk.encoding, xlsx.encoding) == ("utf-8-sig", "gb18030", "xlsx")
    assert bom.rows == plain.rows == gbk.rows == xlsx.rows


def test_a_wrong_encoding_or_a_bad_cell_is_named_by_row_and_column() -> None:
    today = date(2026, 12, 7)
    good, second = _rows(today)
    mixed = parse_delivery(HEADER.encode() + b"\r\n" + good.encode() + b"\r\n" + second.encode("gbk"))
    assert [(e.row, e.column) for e in mixed.errors] == [(3, "品名")] and not mixed.rows
    assert "UTF-8" in mixed.errors[0].message_zh and "mixed encoding" in mixed.errors[0].message_en
    latin_row = "YP0002,Vitamin\xe9,100,L1,2026-01-01,2028-01-01,1,1.00,1.00,,SH,FP".encode("latin-1")
    latin = parse_delivery(HEADER.encode("utf-8-sig") + b"\r\n" + latin_row)  # a BOM says UTF-8: the row is not
    assert [(e.row, e.column) for e in latin.errors] == [(2, "品名")]
    bad = parse_delivery(_csv([good.replace(",12,", ",十二,"), second.replace("8.00", "8.005").replace(
        "SH-2026-88", "SH-2026-99")]))
    assert [(e.row, e.column) for e in bad.errors] == [(2, "数量"), (3, "含税单价"), (3, "随货同行单号")]
    assert all(e.message_zh.startswith("第 ") and e.message_en.startswith("row ") for e in bad.errors)
    missing = parse_delivery("品名,数量\n维生素C片,1\n".encode())
    assert {e.column for e in missing.errors} >= {"批号", "生产日期", "有效期至", "单价", "商品编码"}
    assert all(e.row == 1 for e in missing.errors)


def _written(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.refuses("GSP-05")
def test_an_imported_delivery_is_a_draft_that_needs_its_inspection_and_approval(shop: Shop,
                                                                                engine: Engine, settings: Any,
                                                                                tmp_path: Path) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs"], [items["vitc"], items["amox"]])
    lapsed = _supplier(c, mg, "过期供应商", today - timedelta(days=1), ["drugs"], [items["vitc"], items["amox"]])
    codes = "81234567890123450001;81234567890123450002"

    def post(data: bytes, supplier: int = sup) -> Any:
        return c.post(f"/receipts/import?supplier_id={supplier}", content=data, headers=ph)

    before = _written(engine)
    # refused whole, nothing written: an unknown item on one row of two; a supplier unlicensed that day
    unknown = post(_csv(_rows(today, code="YP9999"), "gbk"))
    assert unknown.status_code == 422 and unknown.json()["code"] == "IMPORT"
    assert [(e["row"], e["column"]) for e in unknown.json()["details"]["errors"]] == [(2, "商品编码")]
    expired = post(_csv(_rows(today), "gbk"), lapsed)
    assert expired.status_code == 409 and expired.json()["code"] == "GSP-05", expired.text
    assert expired.json()["details"]["file_rows"] == {"1": 2, "2": 3}
    assert _written(engine) == before
    # a GBK file from the supplier's system: a draft with its vouchers, lines and trace codes
    made = post(_csv(_rows(today, codes=codes), "gbk"))
    assert made.status_code == 201, made.text
    r = made.json()
    assert (r["status"], r["dynt_no"], r["purc_invo_no"]) == ("draft", "SH-2026-88", "FP-88")
    assert [(ln["qty"], ln["unit_cost_fen"], ln["trace_codes"]) for ln in r["lines"]] == [
        (12, 180, codes.split(";")), (2, 800, [])]
    # the same boxes again (a file imported twice): refused by their trace codes, nothing written
    again = _written(engine)
    twice = post(_csv(_rows(today, codes=codes), "utf-8"))
    assert twice.status_code == 422 and twice.json()["code"] == "CODE-TRACE", twice.text
    assert _written(engine) == again
    # not approved before its 验收; inspected by the importer, approved by another
    assert c.post(f"/receipts/{r['id']}/approve", json={}, headers=mg).status_code == 409
    verdicts = {"verdicts": [{"line_no": 1, "outcome": "accepted"}, {"line_no": 2, "outcome": "accepted"}]}
    assert c.post(f"/receipts/{r['id']}/inspection", json=verdicts, headers=ph).status_code == 200
    assert c.post(f"/receipts/{r['id']}/approve", json={}, headers=mg).status_code == 200
    # the command line: the same import, a bad row named, then a good file
    config, runner = _config(tmp_path, settings), CliRunner()
    bad, good = tmp_path / "bad.csv", tmp_path / "good.xlsx"
    bad.write_bytes(_csv([_rows(today, lot="L-CLI")[0].replace(",12,", ",-3,")]))
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for line in [HEADER, *_rows(today, lot="L-CLI")]:
        ws.append(line.split(","))
    wb.save(good)
    out = runner.invoke(app, ["receipt", "import", str(bad), "--supplier", str(sup), "--as", "u_pharmacist",
                              "--config", str(config)], input="2222\n")
    assert out.exit_code == 1 and "第 2 行「数量」" in out.output, out.output
    out = runner.invoke(app, ["receipt", "import", str(good), "--supplier", str(sup), "--as", "u_pharmacist",
                              "--config", str(config)], input="2222\n")
    assert out.exit_code == 0 and "draft" in out.output and "L-CLI" in out.output, out.output
