"""The 进销存's doors: GET /reports/ledger for the manager and the 医保 administrator only (SEC-01), and
`dingdian report ledger` acting as a named person who authenticates."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from server.config import ROOT, Settings
from server.permissions import PERMISSIONS, Action
from server.roles import Role
from server.services.context import Ctx
from tests.conftest import BARCODE_VITC, ROLE_PINS, Shop, login
from tests.server.test_selling import new_sale, pay_cash, scan


def test_who_may_read_the_reports() -> None:
    holders = {r for r in Role if Action.REPORT_READ in PERMISSIONS[r]}
    assert holders == {Role.MANAGER, Role.INSURANCE_ADMIN}


@pytest.mark.refuses("SEC-01")
def test_the_ledger_over_the_api(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, today = shop["client"], shop["clock"].today
    sid = new_sale(c, shop["cashier"])  # a cash sale through the service: 3 × 维生素C at 3.50
    assert scan(c, shop["cashier"], sid, BARCODE_VITC, qty=3).status_code == 201
    assert pay_cash(c, shop["cashier"], sid, 1050, 1050).status_code == 200
    q = {"from": (today - timedelta(days=3)).isoformat(), "to": today.isoformat()}
    for role in ("cashier", "pharmacist"):  # the counter's posts: refused, whatever the format
        for fmt in ("json", "xlsx"):
            r = c.get("/reports/ledger", params=q | {"format": fmt}, headers=shop[role])
            assert r.status_code == 403 and r.json()["code"] == "SEC-01"
    sysadmin = login(c, "u_sysadmin", ROLE_PINS["sysadmin"])
    assert c.get("/reports/ledger", params=q, headers=sysadmin).status_code == 403
    admin = login(c, "u_insurance_admin", ROLE_PINS["insurance_admin"])
    body = c.get("/reports/ledger", params=q, headers=admin).json()
    assert body["from"] == q["from"] and body["to"] == q["to"]
    # the seeded shop's first inventory is in the period (six batches in), and the sale out, all balanced
    assert len(body["batches"]) == 6 and all(r["balanced"] for r in body["batches"] + body["items"])
    total = body["total"]
    assert total["columns"]["in_other"]["qty"] - total["columns"]["out_sale"]["qty"] == total["closing"]["qty"] > 0
    vitc = next(r for r in body["items"] if r["item_id"] == shop["items"]["vitc"])
    # 3 of the batch's 50 at 2.00 each: 6.00 at cost; at retail what was paid
    assert vitc["columns"]["out_sale"] == {"qty": 3, "cost_fen": 600, "retail_fen": 1050}
    assert body["checks"]["verdicts"]["stock"] == "合格"
    month = c.get("/reports/ledger", headers=shop["manager"]).json()
    assert month["from"].endswith("-01") and month["from"][:7] == today.isoformat()[:7]
    x = c.get("/reports/ledger", params=q | {"format": "xlsx"}, headers=shop["manager"])
    assert x.status_code == 200 and "attachment" in x.headers["content-disposition"]
    assert load_workbook(io.BytesIO(x.content)).sheetnames[0] == "批次明细"
    r = c.get("/reports/ledger", params=q | {"format": "csv"}, headers=shop["manager"])
    assert r.content.startswith(b"\xef\xbb\xbf") and len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) > 6
    bad = c.get("/reports/ledger", params={"from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()},
                headers=shop["manager"])
    assert bad.status_code == 422


def test_the_ledger_from_the_command_line(shop: Shop, settings: Settings, tmp_path: Path) -> None:
    from server.cli import app

    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    today = shop["clock"].today
    args = ["report", "ledger", "--from", (today - timedelta(days=1)).isoformat(), "--to", today.isoformat(),
            "--config", str(config)]
    runner = CliRunner()
    assert runner.invoke(app, args).exit_code == 2  # no --as: the command line acts as a named person
    refused = runner.invoke(app, [*args, "--as", "u_cashier"], input=ROLE_PINS["cashier"] + "\n")
    assert refused.exit_code == 1 and "report.read" in refused.output
    out_x, out_c = tmp_path / "jxc.xlsx", tmp_path / "jxc.csv"
    ok = runner.invoke(app, [*args, "--as", "u_manager", "--xlsx", str(out_x), "--csv", str(out_c)],
                       input=ROLE_PINS["manager"] + "\n")
    assert ok.exit_code == 0, ok.output
    assert "6 个批次" in ok.output and out_x.exists() and out_c.read_bytes().startswith(b"\xef\xbb\xbf")
