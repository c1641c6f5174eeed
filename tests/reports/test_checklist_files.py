"""The compliance checklist's files and history (issue #22): written by `dingdian checklist --pdf --xlsx` and by
GET /checklist/export, reopened (openpyxl; pdftotext, one page rendered), each item's verdict the one recorded in
checklist_run (read with plain SQL, not through the report), every identity number masked — one slipped into a
receipt and one typed into an attestation's note included — and the history (`dingdian checklist-history`,
GET /checklist/runs) saying what changed between two runs."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from catalog.codes import id_check_char, mask_ids_in
from server.config import Settings
from server.db.uow import core_unit
from server.rules.agreement import AgreementStatus
from server.services.compliance import checklist as compliance
from server.services.context import Ctx
from server.services.store.profile import record_agreement_event
from tests.conftest import ROLE_PINS, add_role_users, login
from tests.reports.pdf_check import POPPLER, inked
from tests.reports.pdf_check import text as pdf_text
from tests.reports.test_checklist import _acting

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
WHOLE_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
SLIPPED = "11010519491231002X"  # written into a receipt behind the service's back (checklist item 14 finds it)
TYPED = f"44010619800101123{id_check_char('44010619800101123')}"  # typed into an attestation's note
ZH = {"pass": "合格", "fail": "不合格", "manual": "需人工确认"}


def test_free_text_is_masked_where_it_holds_an_identity_number_and_left_alone_elsewhere() -> None:
    assert mask_ids_in(f"参保人 {SLIPPED}，核对人 {TYPED.lower()}") == "参保人 1101**********002X，核对人 4401**********" \
        + TYPED[-4:].lower()
    setl_id = "440100202611010001"  # 18 digits, not an identity number (its check character does not hold)
    assert id_check_char(setl_id[:17]) != setl_id[17] and mask_ids_in(setl_id) == setl_id
    trace = "81234567890123456789"  # a 20-digit 追溯码 is not cut into one
    assert mask_ids_in(trace) == trace


def _recorded(engine: Engine) -> list[dict[int, str]]:
    """Each run's verdicts as checklist_run keeps them, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT verdicts FROM checklist_run ORDER BY id")).all()
    return [{int(k): v for k, v in (json.loads(r[0]) if isinstance(r[0], str) else r[0]).items()} for r in rows]


def _sheet(wb: Any, title: str) -> list[list[Any]]:
    return [list(r) for r in wb[title].iter_rows(values_only=True)]


def _verdicts_in_xlsx(wb: Any) -> dict[int, str]:
    return {int(r[0]): r[3] for r in _sheet(wb, "逐项结论")[1:]}


def _no_whole_id_in_xlsx(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as z:  # every part of the workbook, not only the cells read back
        assert not any(WHOLE_ID.search(z.read(n).decode("utf-8", "replace")) for n in z.namelist())


@SQLITE_ONLY
def test_the_checklists_files_carry_the_recorded_verdicts_masked_and_the_history_says_what_changed(
        engine: Engine, ctx: Ctx, settings: Settings, client: Any, tmp_path: Path) -> None:
    from server.cli import app

    # a store as it starts, with no agreement on record yet (item 1 需人工确认): what the files show is what was
    # recorded, whatever it is; the clean store of test_checklist would cost this test seconds and prove nothing more
    add_role_users(engine, ctx)
    manager = _acting(engine, ctx, "u_manager")
    compliance.attest(engine, manager, "sign", f"标牌已悬挂，核对人身份证 {TYPED}")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO print_job (store_id, till_code, kind, ref, reprint, document, status, attempts, "
                          "last_error, created_at) VALUES (:s, 'T01', 'receipt', 'x', false, :d, 'printed', 1, '', :at)"),
                     {"s": ctx.store_id, "at": ctx.now,
                      "d": json.dumps({"lines": [f"参保人 张三 {SLIPPED}"]}, ensure_ascii=False)})
    engine.dispose()
    config = tmp_path / "config.toml"
    config.write_text(Path("config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    day = ctx.today.isoformat()
    runner = CliRunner()

    # the command line: the files written from its run, the run's exit status the failed item's
    pdf, xlsx = tmp_path / "checklist.pdf", tmp_path / "checklist.xlsx"
    first = runner.invoke(app, ["checklist", "--from", day, "--to", day, "--pdf", str(pdf), "--xlsx", str(xlsx),
                                "--config", str(config)])
    assert first.exit_code == 1, first.output  # item 14 among others: the whole number in the receipt
    assert f"已写入 / written: {pdf}" in first.output
    (recorded,) = _recorded(engine)
    assert recorded[14] == "fail" and recorded[1] == "manual" and len(recorded) == 26
    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["自查概况", "逐项结论", "证据明细", "期限提醒", "人工确认事项", "签字确认"]
    assert _verdicts_in_xlsx(wb) == {no: ZH[v] for no, v in recorded.items()}
    n = Counter(recorded.values())
    summary = dict((r[0], r[1]) for r in _sheet(wb, "自查概况")[1:])
    assert summary["结论"] == f"合格 {n['pass']} 项，不合格 {n['fail']} 项，需人工确认 {n['manual']} 项"
    assert summary["与上次比较"] == "本期首次自查"
    evidence = [r for r in _sheet(wb, "证据明细")[1:] if r[0] == "14"]
    assert evidence and "1101**********002X" in evidence[0][4]  # named, masked
    sign = next(r for r in _sheet(wb, "人工确认事项")[1:] if r[0] == "定点标牌悬挂")
    assert sign[1] == "有效" and sign[2] and mask_ids_in(TYPED) in sign[5]  # the latest of the topic, masked
    assert [r[0] for r in _sheet(wb, "签字确认")[2:]] == ["自查人", "质量负责人", "门店负责人（盖章）"]
    _no_whole_id_in_xlsx(xlsx.read_bytes())
    assert pdf.read_bytes().startswith(b"%PDF")
    if POPPLER:
        pages = [p for p in pdf_text(pdf).split("\f") if p.strip()]
        flat = [re.sub(r"\s+", "", p) for p in pages]
        assert all("定点零售药店医保合规自查表" in p and f"第{k}页共{len(pages)}页" in p for k, p in enumerate(flat, 1))
        everything = "".join(flat)
        assert not WHOLE_ID.search("".join(pages)) and "1101**********002X" in everything
        assert f"不合格{n['fail']}项" in everything and "自查人：" in flat[-1] and "签字：" in flat[-1]
        subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(tmp_path / "p1")], check=True, timeout=60)
        assert inked(Image.open(tmp_path / "p1.png").convert("L")) > 1000

    # the agreement is recorded; the API's file is a run of its own, and says what changed since the one before
    with core_unit(engine) as u:
        record_agreement_event(u, manager, AgreementStatus.ACTIVE, ctx.today, ctx.today + timedelta(days=365), "XY-1",
                               "签订")
    manager_h, cashier_h = login(client, "u_manager", ROLE_PINS["manager"]), login(client, "u_cashier",
                                                                                   ROLE_PINS["cashier"])
    q = {"from": day, "to": day}
    assert client.get("/checklist/export", params=q | {"format": "xlsx"}, headers=cashier_h).status_code == 403
    assert len(_recorded(engine)) == 1  # the refused export ran nothing
    got = client.get("/checklist/export", params=q | {"format": "xlsx"}, headers=manager_h)
    assert got.status_code == 200, got.text
    _no_whole_id_in_xlsx(got.content)
    then, now = _recorded(engine)
    assert then[1] == "manual" and now[1] != "manual"
    rows = {int(r[0]): r for r in _sheet(load_workbook(io.BytesIO(got.content)), "逐项结论")[1:]}
    assert rows[1][3] == ZH[now[1]] and rows[1][8] == f"需人工确认→{ZH[now[1]]}"
    assert not any(r[8] for no, r in rows.items() if then[no] == now[no])

    # the history, newest first, from the command line and the API
    history = runner.invoke(app, ["checklist-history", "--config", str(config)])
    assert history.exit_code == 0, history.output
    assert history.output.index(f"第 1 项：manual → {now[1]}") < history.output.rindex(f"{day} 至 {day}")
    runs = client.get("/checklist/runs", params=q, headers=manager_h)
    assert runs.status_code == 200, runs.text
    latest, earlier = runs.json()
    changed = {str(no): [then[no], v] for no, v in now.items() if then[no] != v}
    assert latest["changes"] == changed and "1" in changed and earlier["changes"] == {}
    assert latest["failed"] == Counter(now.values())["fail"] and 14 in latest["failed_items"]
    assert client.get("/checklist/runs", headers=cashier_h).status_code == 403
