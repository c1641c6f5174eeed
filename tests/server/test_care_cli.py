"""Stock care from the command line: the same use cases as the API, acting as a named person with their PIN."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from server.cli import app
from server.db.uow import core_unit
from server.roles import Role
from server.services.context import Ctx
from server.services.store import users
from tests.conftest import Shop
from tests.server.test_duty_cli import _config


@pytest.mark.refuses("SEC-01", "GSP-06")
def test_the_command_line_counts_writes_off_and_recalls_as_the_api_does(shop: Shop, engine: Engine,
                                                                        ctx: Ctx, settings: Any,
                                                                        tmp_path: Any) -> None:
    config = _config(tmp_path, settings)
    runner = CliRunner()

    def cli(*args: str, pin: str = "") -> Any:
        return runner.invoke(app, [*args, "--config", str(config)], input=pin)

    def scalar(sql: str) -> Any:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()

    manager, pharmacist = ("--as", "u_manager"), ("--as", "u_pharmacist")
    made = cli("count", "create", "--blind", *pharmacist, pin="2222\n")
    assert made.exit_code == 0 and "盲盘" in made.output and "账面 -" in made.output, made.output
    sheet = str(scalar("SELECT max(id) FROM count_sheet"))
    lines = [f"{no}={qty}" for no, qty in (("B-AMOX-1", 240), ("B-AMOX-2", 48), ("B-MASK-OLD", 5),
                                           ("B-MASK-NEW", 3), ("B-ICE-1", 4))]
    assert cli("count", "enter", sheet, *[x for ln in lines for x in ("--line", ln)], *pharmacist,
               pin="2222\n").exit_code == 0
    assert cli("count", "enter", sheet, "--line", "B-VITC-1=47", *manager, pin="4444\n").exit_code == 0
    assert cli("count", "submit", sheet, *pharmacist, pin="2222\n").exit_code == 0
    movements = scalar("SELECT COUNT(*) FROM stock_movement")
    vitc = scalar("SELECT id FROM batch WHERE batch_no = 'B-VITC-1'")
    counted_by_manager = cli("count", "post", sheet, "--reason", f"{vitc}=破损", *manager, pin="4444\n")
    assert counted_by_manager.exit_code == 1 and "SEC-01" in counted_by_manager.output, counted_by_manager.output
    assert cli("count", "post", sheet, *pharmacist, pin="2222\n").exit_code == 1  # not the person in charge
    assert scalar("SELECT COUNT(*) FROM stock_movement") == movements
    with core_unit(engine) as u:
        users.add_user(u, ctx, "u_manager2", "副店长", "4545", {Role.MANAGER})
    posted = cli("count", "post", sheet, "--reason", f"{vitc}=破损", "--as", "u_manager2", pin="4545\n")
    assert posted.exit_code == 0 and "posted" in posted.output and "差异 -3 破损" in posted.output, posted.output
    # a destruction before two witnesses, each typing their PIN; one witness only: refused
    ice = scalar("SELECT id FROM batch WHERE batch_no = 'B-ICE-1'")
    one = cli("loss", "create", "destruction", "--batch", f"{ice}=4", "--reason", "抽检不合格", "--method", "焚烧",
              "--witness", "u_cashier", *pharmacist, pin="1111\n2222\n")
    assert one.exit_code == 1 and "GSP-06" in one.output, one.output
    done = cli("loss", "create", "destruction", "--batch", f"{ice}=4", "--reason", "抽检不合格", "--method", "焚烧",
               "--witness", "u_cashier", "--witness", "u_manager", *pharmacist, pin="1111\n4444\n2222\n")
    assert done.exit_code == 0, done.output
    assert scalar("SELECT COUNT(*) FROM stock_loss WHERE kind = 'destruction'") == 1
    recalled = cli("recall", "start", str(vitc), "--reason", "企业召回", "--notice", "ZH-1", *pharmacist, pin="2222\n")
    assert recalled.exit_code == 0 and "ZH-1" in recalled.output, recalled.output
    assert scalar(f"SELECT status FROM batch WHERE id = {vitc}") == "stopped"
    due = cli("upkeep", "due")
    assert due.exit_code == 0 and "Z-OTC" in due.output
    near = cli("near-expiry")
    assert near.exit_code == 0 and "B-AMOX-2" in near.output and "B-MASK-OLD" in near.output, near.output
