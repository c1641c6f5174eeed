"""ST-07 (with ST-02): the reconciliation's rows are evidence — the database refuses to change or delete a run, a
named settlement or an acknowledgment on either backend, and an edit made behind the guard is named by `audit
verify`. The rules that keep a month open, over plain facts."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from server.audit import SYSTEM, Actor, verify
from server.db.models import User
from server.db.uow import core_unit, read_session, read_unit
from server.rules.recon import (
    DayGroup,
    LatestRun,
    ack_refusals,
    month_refusals,
    repair_refusals,
    unresolved_refusals,
)
from server.services.context import Ctx
from server.services.recon import reconcile, runs
from server.services.recon.blockers import day_groups, month_blockers
from tests.conftest import add_role_users
from tests.tamper import behind_the_guard

D = date(2026, 12, 31)


def _run_values(ctx: Ctx, admin_id: int | None, **values: Any) -> dict[str, Any]:
    return {"store_id": ctx.store_id, "kind": "day", "stmt_begndate": D, "stmt_enddate": D, "insutype": "310",
            "clr_type": "41", "clr_optins": "440300", "away": False, "refd_setl_flag": "1", "medfee_fen": 1234,
            "fund_fen": 800, "acct_fen": 300, "cash_fen": 134, "setl_cnt": 1, "setl_ids": ["S1"], "result": "1",
            "result_dscr": "医疗费总额 中心12.35 机构12.34", "msgid": "M" * 30, "detail_msgid": "", "detail_error": "",
            "ran_by": admin_id, "ran_at": ctx.now} | values


def admin_id(engine: Engine) -> int:
    with read_session(engine) as s:
        admin = s.exec(select(User).where(User.username == "u_insurance_admin")).one()
    assert admin.id is not None
    return admin.id


def _rows(engine: Engine, ctx: Ctx) -> dict[str, int]:
    add_role_users(engine, ctx)
    with read_session(engine) as s:
        admin = s.exec(select(User).where(User.username == "u_insurance_admin")).one()
    with core_unit(engine) as u:
        run = runs.add_run(u, SYSTEM, _run_values(ctx, admin.id))
        item = runs.add_item(u, SYSTEM, {"store_id": ctx.store_id, "run_id": run.id, "setl_id": "S1", "mdtrt_id": "T1",
                                         "psn_no": "P1", "msgid": "", "refd_setl_flag": "0", "stmt_rslt": "1",
                                         "memo": "金额不符", "ours": True})
        ack = runs.add_ack(u, SYSTEM, {"store_id": ctx.store_id, "run_id": run.id, "note": "差一分，已核销",
                                       "acked_by": admin.id, "acked_at": ctx.now})
    return {"recon_run": run.id, "recon_item": item.id, "recon_ack": ack.id}


def _refused(engine: Engine, table: str, sql: str, row_id: int) -> str | None:
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), {"i": row_id})
    except IntegrityError as exc:
        return None if re.search(f"{table}.*(对账记录不可|refuses this)", str(exc)) else f"{sql}: {exc}"
    return f"{sql}: went through"


@pytest.mark.refuses("ST-07", "ST-02")
def test_the_database_refuses_to_rewrite_a_reconciliation_and_verify_names_an_edit_behind_it(
        engine: Engine, ctx: Ctx) -> None:
    ids = _rows(engine, ctx)
    edits = {"recon_run": "UPDATE recon_run SET result = '0' WHERE id = :i",
             "recon_item": "UPDATE recon_item SET stmt_rslt = '0' WHERE id = :i",
             "recon_ack": "UPDATE recon_ack SET note = '无' WHERE id = :i"}
    failures = [_refused(engine, t, sql, ids[t]) for t, sql in edits.items()]
    failures += [_refused(engine, t, f"DELETE FROM {t} WHERE id = :i", ids[t]) for t in ("recon_ack", "recon_item",
                                                                                         "recon_run")]
    assert [f for f in failures if f] == []
    with engine.connect() as conn:  # nothing changed
        assert conn.execute(text("SELECT result FROM recon_run WHERE id = :i"), {"i": ids["recon_run"]}).scalar() == "1"
        assert conn.execute(text("SELECT count(*) FROM recon_ack")).scalar() == 1
    with read_session(engine) as s:
        assert verify(s, ctx.store_id).ok
    with behind_the_guard(engine, "recon_run") as conn:  # whoever holds the database's keys hides the 不平
        conn.execute(text("UPDATE recon_run SET result = '0' WHERE id = :i"), {"i": ids["recon_run"]})
    with read_session(engine) as s:
        report = verify(s, ctx.store_id)
    assert [(p["table"], p.get("columns")) for p in report.problems] == [("recon_run", ["result"])]


@pytest.mark.refuses("ST-07")
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_refund_difference_is_not_hidden_by_running_the_day_again_without_refunds(engine: Engine, ctx: Ctx) -> None:
    add_role_users(engine, ctx)
    """The refund policy is the region's (config); a run under the other one, balanced because it leaves the refund
    out, stands beside the 不平 one: the month still waits for the difference to be acknowledged."""
    with core_unit(engine) as u:
        unbalanced = runs.add_run(u, SYSTEM, _run_values(ctx, None, setl_ids=[], setl_cnt=0, medfee_fen=0, fund_fen=0,
                                                         acct_fen=0, cash_fen=0))
        runs.add_run(u, SYSTEM, _run_values(ctx, None, refd_setl_flag="0", setl_ids=[], setl_cnt=0, medfee_fen=0,
                                            fund_fen=0, acct_fen=0, cash_fen=0, result="0", result_dscr="对账平"))
    with read_unit(engine) as u:
        shown = [f.latest.result for f in day_groups(u, ctx.store_id, D, D) if f.latest]
        (blocker,) = month_blockers(u, ctx.store_id, D, D)
    assert shown == ["0"]  # the day's screen shows its latest run
    assert blocker.details == {"day": str(D), "group": "310/41/440300/本地", "reason": "unbalanced",
                               "run_id": unbalanced.id}
    with core_unit(engine) as u:  # the difference under its own policy is what the administrator acknowledges
        reconcile.acknowledge(u, ctx.acting(Actor(admin_id(engine), "u_insurance_admin")), unbalanced.id,
                              "退费未到中心，已报经办机构")
    with read_unit(engine) as u:
        assert month_blockers(u, ctx.store_id, D, D) == []


def _fact(setl_ids: tuple[str, ...] = ("S1",), figures: tuple[int, ...] = (100, 60, 20, 20, 1),
          latest: LatestRun | None = None) -> DayGroup:
    return DayGroup(D, "310/41/440300/本地", setl_ids, figures, latest)


def _run(result: str = "0", setl_ids: tuple[str, ...] = ("S1",), figures: tuple[int, ...] = (100, 60, 20, 20, 1),
         acknowledged: bool = False) -> LatestRun:
    return LatestRun(7, result, "" if result == "0" else "医疗费总额 不符", setl_ids, figures, acknowledged)


@pytest.mark.parametrize(("fact", "reason"), [
    (_fact(), "never"),
    (_fact(latest=_run(setl_ids=())), "stale"),  # a settlement came after the run (a late answer, a 2103)
    (_fact(figures=(101, 60, 20, 21, 1), latest=_run()), "stale"),
    (_fact(latest=_run("1")), "unbalanced"),
    (_fact(latest=_run("1", acknowledged=True)), None),
    (_fact(latest=_run()), None),
    (_fact(setl_ids=(), figures=(0, 0, 0, 0, 0)), None),  # a day without settlements
])
def test_a_day_group_keeps_its_month_open_until_reconciled_balanced_or_acknowledged(fact: DayGroup,
                                                                                   reason: str | None) -> None:
    found: list[Any] = month_refusals([fact])
    assert [v.details["reason"] for v in found] == ([reason] if reason else [])
    assert all(v.rule == "ST-07" for v in found)


def test_an_acknowledgment_needs_a_note_and_the_latest_unbalanced_run_and_a_repair_only_the_centres_row() -> None:
    assert [v.details.get("field") for v in ack_refusals(" ok ", "1", True, False)] == ["note"]
    assert ack_refusals("中心多记一分", "0", True, False)[0].message_en.startswith("this run balanced")
    assert ack_refusals("中心多记一分", "1", False, False)[0].message_en.startswith("a later run")
    assert ack_refusals("中心多记一分", "1", True, True)[0].message_en.endswith("already acknowledged")
    assert ack_refusals("中心多记一分", "1", True, False) == []
    assert repair_refusals("1", True, "M")  # ours: 2601 would unbalance it
    assert repair_refusals("0", False, "M") and repair_refusals("1", False, "")
    assert repair_refusals("1", False, "M") == []
    assert unresolved_refusals([]) == [] and unresolved_refusals(["M1"])[0].details["msgids"] == ["M1"]
