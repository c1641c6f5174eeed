"""What the 医保 administrator's screens, the API and the CLI show of the reconciliation: per day × group its
latest run and what keeps it open; per settlement its status (未对账 / 平 / 不平 with the centre's message); a run
with the settlements 3202 named and its acknowledgments."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from server.db.uow import Unit
from server.errors import AppError
from server.rules.recon import day_group_refusal
from server.services.context import Ctx
from server.services.recon import blockers, books, runs

UNRECONCILED, BALANCED, UNBALANCED = "未对账", "平", "不平"


def days(u: Unit, ctx: Ctx, first: date, last: date) -> list[dict[str, Any]]:
    out = []
    for f in blockers.day_groups(u, ctx.store_id, first, last):
        v = day_group_refusal(f)
        status = (UNRECONCILED if f.latest is None else BALANCED if f.latest.result == "0" else UNBALANCED)
        out.append({"day": f.day, "group": f.group, "settlements": len(f.setl_ids), "status": status,
                    "run_id": f.latest.run_id if f.latest else None,
                    "result_dscr": f.latest.result_dscr if f.latest else "",
                    "acknowledged": bool(f.latest and f.latest.acknowledged),
                    "blocker": v.as_dict() if v else None})
    return out


def settlements(u: Unit, ctx: Ctx, first: date, last: date) -> list[dict[str, Any]]:
    """Each settlement of ours in the period with its latest status: as the latest daily run of its day × group
    counted it (平), or as the centre's 3202 last named it (平, or 不平 with the centre's message); else 未对账."""
    store = ctx.settings.store
    ours = books.booked(u, ctx.store_id, ZoneInfo(store.timezone), store.admdvs, first, last)
    named = runs.latest_status(u, ctx.store_id, [b.setl_id for b in ours])
    latest: dict[tuple[date, tuple[str, str, str, bool]], Any] = {}
    for r in runs.runs_between(u, ctx.store_id, first, last, "day"):
        latest[(r.stmt_begndate, (r.insutype, r.clr_type, r.clr_optins, bool(r.away)))] = r
    out = []
    for b in ours:
        g = b.group
        r = latest.get((b.day, (g.insutype, g.clr_type, g.clr_optins, g.nonlocal_)))
        item = named.get(b.setl_id)
        if item is not None and (r is None or item.run_id >= r.id):
            status, memo = (BALANCED if item.stmt_rslt == "0" else UNBALANCED), item.memo
        elif r is not None and b.setl_id in (r.setl_ids or ()):
            status, memo = (BALANCED, "") if r.result == "0" else (UNBALANCED, r.result_dscr)
        else:
            status, memo = UNRECONCILED, ""
        out.append({"setl_id": b.setl_id, "msgid": b.msgid, "day": b.day, "group": g.label_zh,
                    "refund": b.refund, "medfee_sumamt": str(b.medfee), "status": status, "memo": memo})
    return out


def run(u: Unit, ctx: Ctx, run_id: int) -> dict[str, Any]:
    row = runs.run(u, ctx.store_id, run_id)
    if row is None:
        raise AppError(404, "NOT_FOUND", "对账记录不存在", "no such reconciliation run", {"run_id": run_id})
    return run_out(u, row)


def run_out(u: Unit, row: Any) -> dict[str, Any]:
    items = runs.items_of(u, [row.id])[row.id]
    acks = runs.acks_of(u, [row.id])[row.id]
    return {**{k: v for k, v in row._asdict().items()}, "result_zh": BALANCED if row.result == "0" else UNBALANCED,
            "items": [i._asdict() for i in items], "acks": [a._asdict() for a in acks]}
