"""The sandbox centre's side of the reconciliation (reference §1.6, §5.2): 9101 file upload, 9102 file download and
3202 医药机构费用结算对明细账, compared with the centre's own ledger; and the test knobs that make each difference
the store must find (admin):

- `lose`:     the centre loses one of its settlements (the store has it, the centre does not);
- `offset`:   one settlement's amount at the centre is off by `offset_fen` (a fen, typically);
- `unrefund`: the centre loses a cancellation (2103): the refund is on the store's side only;
- the clock pinned (`PUT /admin/clock`): the centre stamps every answer with that instant — a settlement at
  23:59:59 Shanghai time while the store's own clock is already on the next day.

(A settlement the store lost, or a refund on the centre's side only, is made by sending 2102 or 2103 straight to
the centre through a gateway: nothing in the store's books records it.)

Files are ZIPs of one TAB-separated UTF-8 text file. 3202 compares the uploaded list with the centre's rows of
that clearing agency and period; its result file has one row per settlement of either side: psn_no, mdtrt_id,
setl_id, msgid (the original message, for 2601), stmt_rslt (0 平, 1 不平), refd_setl_flag, memo.
"""

from __future__ import annotations

import base64
import sqlite3
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from server.insurance.dicts import same_code
from server.insurance.sandbox.centre import CN, DT, Centre, Refuse, _need, _object
from server.insurance.stmtfiles import UPLOAD_COLUMNS, unzip_rows, zip_rows
from server.insurance.wire import amount_to_fen, fen_to_amount, to_text

SCHEMA = """
CREATE TABLE IF NOT EXISTS stmt_file (
    file_qury_no TEXT PRIMARY KEY, fixmedins_code TEXT NOT NULL, filename TEXT NOT NULL, content BLOB NOT NULL,
    at TEXT NOT NULL);
"""

def _file(db: sqlite3.Connection, code: str, file_qury_no: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM stmt_file WHERE file_qury_no = ? AND fixmedins_code = ?",
                     (file_qury_no, code)).fetchone()
    if row is None:
        raise Refuse(f"文件查询号不存在：{file_qury_no} / no such file")
    return row


def _store(db: sqlite3.Connection, code: str, filename: str, content: bytes, now: datetime) -> str:
    file_qury_no = f"F{now:%Y%m%d%H%M%S}{uuid.uuid4().hex[:12]}"
    db.execute("INSERT INTO stmt_file (file_qury_no, fixmedins_code, filename, content, at) VALUES (?, ?, ?, ?, ?)",
               (file_qury_no, code, filename, content, now.strftime(DT)))
    return file_qury_no


def _upload(db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
    data = _object(inp, "fsUploadIn")
    _need(data, "in", "filename", "fixmedins_code")
    code = to_text(req["fixmedins_code"])
    if to_text(data["fixmedins_code"]) != code:
        raise Refuse("文件的定点医药机构编号与报文头不符 / fixmedins_code differs from the envelope's")
    try:
        content = base64.b64decode(to_text(data["in"]), validate=True)
    except ValueError as exc:
        raise Refuse("文件内容应为base64编码 / the file's bytes must be base64") from exc
    file_qury_no = _store(db, code, to_text(data["filename"]), content, now)
    return {"file_qury_no": file_qury_no, "filename": to_text(data["filename"]), "fixmedins_code": code,
            "dld_endtime": (now + timedelta(days=1)).strftime(DT)}, ""


def _download(db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
    data = _object(inp, "fsDownloadIn")
    _need(data, "file_qury_no", "filename")
    row = _file(db, to_text(req["fixmedins_code"]), to_text(data["file_qury_no"]))
    return {"out": base64.b64encode(row["content"]).decode("ascii"), "filename": row["filename"]}, ""


def _money(fen: int) -> str:
    return format(fen_to_amount(fen), "f")


def _detail(db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
    data = _object(inp, "data")
    _need(data, "setl_optins", "file_qury_no", "stmt_begndate", "stmt_enddate", "clr_type")
    if not same_code(data["clr_type"], "41"):
        raise Refuse("药店对账清算类别应为41 / clr_type must be 41 for a pharmacy")
    code = to_text(req["fixmedins_code"])
    try:
        begin = date.fromisoformat(to_text(data["stmt_begndate"])[:10])
        end = date.fromisoformat(to_text(data["stmt_enddate"])[:10])
        listed = unzip_rows(_file(db, code, to_text(data["file_qury_no"]))["content"])
    except ValueError as exc:
        raise Refuse(f"对账明细文件或日期格式错误 / the detail file or the dates are malformed: {exc}") from exc
    theirs: dict[str, dict[str, Any]] = {}
    for cells in listed:
        if len(cells) != len(UPLOAD_COLUMNS):
            raise Refuse(f"对账明细每行应为{len(UPLOAD_COLUMNS)}列 / each row has {len(UPLOAD_COLUMNS)} columns")
        row = dict(zip(UPLOAD_COLUMNS, cells, strict=True))
        try:
            theirs[row["setl_id"]] = {**row, "medfee": amount_to_fen(row["medfee_sumamt"]),
                                      "fund": amount_to_fen(row["fund_pay_sumamt"]), "acct": amount_to_fen(row["acct_pay"])}
        except ValueError as exc:
            raise Refuse(f"结算{row['setl_id']}金额格式错误 / malformed amount: {exc}") from exc
    sql = ("SELECT * FROM settlement WHERE fixmedins_code = ? AND clr_optins = ? AND setl_date BETWEEN ? AND ? "
           "AND status != 'reversed'")
    if to_text(data.get("refd_setl_flag")) == "0":
        sql += " AND refd_setl_flag = '0'"
    ours = {r["setl_id"]: r for r in db.execute(sql, (code, to_text(data["setl_optins"]), begin.isoformat(),
                                                     end.isoformat()))}
    labels = {"medfee": ("医疗费总额", "medfee_fen"), "fund": ("基金支付总额", "fund_fen"),
              "acct": ("个人账户支付", "acct_fen")}
    result: list[tuple[str, ...]] = []
    for setl_id, r in ours.items():
        t = theirs.get(setl_id)
        if t is None:
            memo, rslt = "机构对账明细无此结算（中心有记录） / the centre has this settlement, the store's list does not", "1"
        else:
            diffs = [f"{label} 中心{_money(r[col])} 机构{_money(t[key])}" for key, (label, col) in labels.items()
                     if r[col] != t[key]]
            memo, rslt = ("；".join(diffs) + " / amounts differ", "1") if diffs else ("对账一致 / balanced", "0")
        result.append((r["psn_no"], r["mdtrt_id"], setl_id, r["msgid"], rslt, r["refd_setl_flag"], memo))
    for setl_id, t in theirs.items():
        if setl_id not in ours:
            result.append((t["psn_no"], t["mdtrt_id"], setl_id, "", "1", t["refd_setl_flag"],
                           "中心无此结算 / the centre has no such settlement"))
    filename = f"3202_{to_text(data['setl_optins'])}_{begin:%Y%m%d}_{end:%Y%m%d}.txt"
    file_qury_no = _store(db, code, filename.replace(".txt", ".zip"), zip_rows(filename, result), now)
    return {"fileinfo": {"file_qury_no": file_qury_no, "filename": filename.replace(".txt", ".zip"),
                         "dld_endtime": (now + timedelta(days=1)).strftime(DT)}}, ""


class ReconFaultIn(BaseModel):
    kind: str = Field(pattern="^(lose|offset|unrefund)$")
    setl_id: str = Field(min_length=1, max_length=30)
    offset_fen: int = Field(default=1, ge=-10**6, le=10**6)


class ClockIn(BaseModel):
    at: str | None = Field(default=None, description="yyyy-MM-dd HH:mm:ss in the centre's time; null: the real clock")


def install(app: FastAPI, centre: Centre) -> None:
    """Adds 9101, 9102 and 3202 to the centre, its clock knob, and the admin endpoints of the knobs."""
    ledger = centre.ledger
    ledger.script(SCHEMA)
    centre.more_handlers.update({"9101": _upload, "9102": _download, "3202": _detail})
    real: Callable[[], datetime] = centre.clock

    def clock() -> datetime:
        pinned = ledger.setting("pinned_clock", None)
        return datetime.strptime(pinned, DT).replace(tzinfo=CN) if pinned else real()

    centre.clock = clock

    @app.put("/admin/clock")
    def pin_clock(body: ClockIn) -> dict[str, Any]:
        if body.at is not None:
            try:
                datetime.strptime(body.at, DT)
            except ValueError as exc:
                raise HTTPException(422, "at: yyyy-MM-dd HH:mm:ss") from exc
        ledger.set_setting("pinned_clock", body.at)
        return {"at": body.at}

    @app.post("/admin/recon-faults", status_code=201)
    def recon_fault(body: ReconFaultIn) -> dict[str, Any]:
        with ledger.transaction() as db:
            row = db.execute("SELECT * FROM settlement WHERE setl_id = ?", (body.setl_id,)).fetchone()
            if row is None:
                raise HTTPException(404, f"no settlement {body.setl_id}")
            if body.kind == "lose":
                db.execute("DELETE FROM settlement WHERE setl_id = ?", (body.setl_id,))
            elif body.kind == "offset":
                db.execute("UPDATE settlement SET medfee_fen = medfee_fen + ?, cash_fen = cash_fen + ? "
                           "WHERE setl_id = ?", (body.offset_fen, body.offset_fen, body.setl_id))
            else:
                refund = db.execute("SELECT setl_id FROM settlement WHERE ref_setl_id = ? AND refd_setl_flag = '1'",
                                    (body.setl_id,)).fetchone()
                if refund is None:
                    raise HTTPException(404, f"settlement {body.setl_id} has no cancellation")
                db.execute("DELETE FROM settlement WHERE setl_id = ?", (refund["setl_id"],))
                db.execute("UPDATE settlement SET status = 'active' WHERE setl_id = ?", (body.setl_id,))
        return {"kind": body.kind, "setl_id": body.setl_id}
