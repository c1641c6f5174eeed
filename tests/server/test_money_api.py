"""The receivables and the submissions through the API and the command line: the 医保 administrator writes, the
manager reads, a cashier is refused (SEC-01) — and nothing is written by a refusal."""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from server.config import Settings
from server.services.context import Ctx
from tests.conftest import Clock, add_role_users
from tests.server.test_duty_cli import _config


@pytest.fixture
def backend() -> str:
    """Permissions and wiring, not the database: SQLite is enough (the guards run on both in the other modules)."""
    return "sqlite"


def _rows(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _last_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


@pytest.mark.refuses("SEC-01", "ST-05")
def test_a_cashier_recording_a_payment_is_refused_and_the_manager_only_reads(
        client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, clock: Clock) -> None:
    admin, manager, cashier = headers["insurance_admin"], headers["manager"], headers["cashier"]
    start = _last_month(clock.today)
    assert client.post("/declarations", json={"period_start": start.isoformat()}, headers=manager).status_code == 403
    made = client.post("/declarations", json={"period_start": start.isoformat()}, headers=admin)
    assert made.status_code == 201, made.text
    decl = made.json()["declaration"]
    assert decl["declared_fen"] == 0 and decl["declared_on"] == clock.today.isoformat()
    pay = {"amount_fen": 100, "received_on": clock.today.isoformat(), "reference": "BF-1"}
    for who in (cashier, manager):
        r = client.post(f"/declarations/{decl['id']}/payments", json=pay, headers=who)
        assert (r.status_code, r.json()["code"]) == (403, "SEC-01")
    back = client.post(f"/declarations/{decl['id']}/payments", headers=admin,
                       json=pay | {"received_on": (clock.today - timedelta(days=1)).isoformat()})
    assert (back.status_code, back.json()["code"]) == (422, "ST-05")
    assert _rows(engine, "receivable_payment") == 0
    ok = client.post(f"/declarations/{decl['id']}/payments", json=pay, headers=admin)
    assert ok.status_code == 201, ok.text
    view = client.get("/receivables", headers=manager)
    assert view.status_code == 200
    row = view.json()["declarations"][0]
    assert (row["paid_interim_fen"], row["outstanding_fen"], row["due_back_fen"]) == (100, 0, 100)  # beyond what is due
    assert client.get("/receivables", headers=cashier).status_code == 403


@pytest.mark.refuses("ST-04")
def test_a_report_handed_in_through_the_api_comes_back_as_kept(client: TestClient, headers: dict[str, dict[str, str]],
                                                               clock: Clock) -> None:
    admin, manager = headers["insurance_admin"], headers["manager"]
    content = "进销存,2026\n".encode()
    body = {"kind": "ledger", "period_start": _last_month(clock.today).isoformat(), "file_name": "ledger.csv",
            "content_b64": base64.b64encode(content).decode()}
    made = client.post("/submissions", json=body, headers=manager)
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    assert client.post(f"/submissions/{sid}/submit", headers=admin).status_code == 200
    swap = client.put(f"/submissions/{sid}/file", headers=admin,
                      json={"content_b64": base64.b64encode(b"other").decode()})
    assert (swap.status_code, swap.json()["code"]) == (409, "ST-04")
    got = client.get(f"/submissions/{sid}/file", headers=manager)
    assert got.content == content and got.headers["x-content-sha256"] == hashlib.sha256(content).hexdigest()
    made = client.post("/submissions", headers=manager,  # the 进销存 with no file given: made from the ledger
                       json={"kind": "ledger", "period_start": clock.today.replace(day=1).isoformat()})
    assert made.status_code == 201 and made.json()["file_name"].endswith(".xlsx"), made.text
    xlsx = client.get(f"/submissions/{made.json()['id']}/file", headers=manager).content
    assert xlsx[:2] == b"PK" and hashlib.sha256(xlsx).hexdigest() == made.json()["sha256"]
    board = client.get("/submissions/board", headers=manager).json()
    assert [u["details"]["kind"] for u in board["unset"]] == ["declaration"]
    unset = client.get("/submissions/board", params={"kind": "declaration"}, headers=manager)
    assert (unset.status_code, unset.json()["code"]) == (422, "ST-04")


@pytest.mark.refuses("SEC-01")
def test_the_command_line_as_the_insurance_administrator_not_a_cashier(
        engine: Engine, ctx: Ctx, settings: Settings, clock: Clock, tmp_path: Path) -> None:
    from server.cli import app

    add_role_users(engine, ctx)
    config = _config(tmp_path, settings)
    runner = CliRunner()

    def cli(*args: str, pin: str = "") -> Any:
        return runner.invoke(app, [*args, "--config", str(config)], input=pin)

    start = _last_month(clock.today).isoformat()
    made = cli("receivables", "declare", start, "--as", "u_insurance_admin", pin="3333\n")
    assert made.exit_code == 0 and "基金支付 0.00 元" in made.output, made.output
    today = clock.today.isoformat()
    refused = cli("receivables", "pay", "1", "1.00", "--on", today, "--ref", "BF-1", "--as", "u_cashier", pin="1111\n")
    assert refused.exit_code == 1 and "SEC-01" in refused.output, refused.output
    assert _rows(engine, "receivable_payment") == 0
    paid = cli("receivables", "pay", "1", "1.00", "--on", today, "--ref", "BF-1", "--as", "u_insurance_admin",
               pin="3333\n")
    assert paid.exit_code == 0, paid.output
    view = cli("receivables", "view", "--as", "u_manager", pin="4444\n")
    assert view.exit_code == 0 and "0.01" not in view.output and "| 1.00 |" in view.output, view.output
    report = tmp_path / "stmt.csv"
    report.write_bytes(b"card statement")
    drafted = cli("submission", "draft", "card_statement", start, str(report), "--as", "u_manager", pin="4444\n")
    assert drafted.exit_code == 0 and "v1 draft" in drafted.output, drafted.output
    ledger = cli("submission", "draft", "ledger", start, "--as", "u_insurance_admin", pin="3333\n")
    assert ledger.exit_code == 0 and ".xlsx" in ledger.output and "校验通过" in ledger.output, ledger.output
    board = cli("submission", "board", "--kind", "declaration", "--as", "u_manager", pin="4444\n")
    assert board.exit_code == 1 and "deadline_days.declaration" in board.output, board.output
