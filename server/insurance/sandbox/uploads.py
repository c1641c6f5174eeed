"""The sandbox centre's 进销存 side: 3501–3507 checked and kept per store and batch, and the completeness query.

- Each row is checked the way the reference gives (§4): the required fields ([HN]'s Y; for 3505 the "07号文"
  set [MOCK] lists, the prescriber only for a prescription drug, the person's certificate type only for an
  insured sale), dates and times in their formats, numbers, the dictionaries (rx_flag, trdn_flag, inv_chg_type,
  inv_data_type), trace codes (20 digits from 8). A malformed row is refused with a business error (infcode -1
  and err_msg; or, with the `result_in_output` setting, infcode 0 and a failed business result in the output, as
  some regions answer).
- A fact is kept once: the same row again (a retry, a duplicate delivery, a replay) is answered as accepted and
  changes nothing (warn_msg says so). 3507 deletes every fact of the batch (fixmedins_bchno) of its data type.
- The completeness query: per day and transaction, the count of facts and their amount in fen (count × price),
  for the store to compare with its own (`dingdian uploads replay`). The day is the fact's own date field.

Faults (the admin's `/admin/faults`) apply to these transactions as to any: drop after commit, delay, an error
code, a duplicate delivery.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from server.insurance import wire
from server.insurance.sandbox.ledger import Ledger

SCHEMA = """
CREATE TABLE IF NOT EXISTS upload_fact (
    id INTEGER PRIMARY KEY, fixmedins_code TEXT NOT NULL, txn TEXT NOT NULL, bchno TEXT NOT NULL,
    day TEXT NOT NULL, amount_fen INTEGER NOT NULL, digest TEXT NOT NULL, row TEXT NOT NULL, msgid TEXT NOT NULL,
    at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS ux_upload_fact ON upload_fact (fixmedins_code, txn, digest);
CREATE INDEX IF NOT EXISTS ix_upload_fact_batch ON upload_fact (fixmedins_code, bchno);
CREATE TABLE IF NOT EXISTS upload_deletion (
    id INTEGER PRIMARY KEY, fixmedins_code TEXT NOT NULL, bchno TEXT NOT NULL, inv_data_type TEXT NOT NULL,
    deleted INTEGER NOT NULL, msgid TEXT NOT NULL, at TEXT NOT NULL);
"""
TABLES = ("upload_fact", "upload_deletion")
TXNS_OF = {"1": ("3501",), "2": ("3502",), "3": ("3503", "3504"), "4": ("3505", "3506")}
NODE = {"3501": "invinfo", "3502": "invinfo", "3503": "purcinfo", "3504": "purcinfo", "3505": "selinfo",
        "3506": "selinfo", "3507": "data"}
_COMMON = ("med_list_codg", "fixmedins_hilist_id", "fixmedins_hilist_name", "fixmedins_bchno", "rx_flag")
REQUIRED: dict[str, tuple[str, ...]] = {
    "3501": (*_COMMON, "invdate", "inv_cnt", "manu_date", "expy_end"),
    "3502": (*_COMMON, "inv_chg_type", "pric", "cnt", "inv_chg_time"),
    "3503": (*_COMMON, "spler_name", "manu_lotnum", "prdr_name", "aprvno", "manu_date", "expy_end", "purc_retn_cnt",
             "purc_retn_stoin_time", "purc_retn_opter_name", "prod_geay_flag"),
    "3504": (*_COMMON, "spler_name", "manu_date", "expy_end", "purc_retn_cnt", "purc_invo_no", "purc_retn_stoin_time",
             "purc_retn_opter_name"),
    "3505": (*_COMMON, "hi_feesetl_type", "mdtrt_sn", "manu_lotnum", "manu_date", "trdn_flag", "rtal_docno",
             "sel_retn_cnt", "sel_retn_time", "sel_retn_opter_name", "mdtrt_setl_type"),
    "3506": (*_COMMON, "manu_lotnum", "manu_date", "trdn_flag", "sel_retn_cnt", "sel_retn_time", "sel_retn_opter_name"),
    "3507": ("fixmedins_bchno", "inv_data_type"),
}
DATES = ("invdate", "manu_date", "expy_end")
TIMES = ("inv_chg_time", "purc_retn_stoin_time", "sel_retn_time")
COUNTS = ("inv_cnt", "cnt", "purc_retn_cnt", "sel_retn_cnt")
PRICES = ("pric", "finl_trns_pric")
DAY_OF = {"3501": "invdate", "3502": "inv_chg_time", "3503": "purc_retn_stoin_time", "3504": "purc_retn_stoin_time",
          "3505": "sel_retn_time", "3506": "sel_retn_time"}
COUNT_OF = {"3502": "cnt", "3503": "purc_retn_cnt", "3504": "purc_retn_cnt", "3505": "sel_retn_cnt",
            "3506": "sel_retn_cnt"}
PRICE_OF = {"3502": "pric", "3503": "finl_trns_pric", "3504": "finl_trns_pric", "3505": "finl_trns_pric",
            "3506": "finl_trns_pric"}
INV_CHG_TYPES = frozenset({"101", "102", "103", "104", "105", "106", "107"})
TRACE = re.compile(r"^8\d{19}$")


class RowRefused(Exception):
    def __init__(self, err_msg: str) -> None:
        super().__init__(err_msg)
        self.err_msg = err_msg


def _text(row: dict[str, Any], key: str) -> str:
    return wire.to_text(row.get(key)).strip()


def _number(row: dict[str, Any], key: str) -> Decimal:
    try:
        return Decimal(_text(row, key) or "0")
    except InvalidOperation as exc:
        raise RowRefused(f"{key}应为数值 / {key} must be a number") from exc


def check(txn: str, row: dict[str, Any]) -> None:
    """The reference's checks of one row; RowRefused names the first that fails."""
    for key in REQUIRED[txn]:
        if _text(row, key) == "":
            raise RowRefused(f"{key}不能为空 / {key} is required")
    if txn == "3507":
        if _text(row, "inv_data_type") not in TXNS_OF:
            raise RowRefused("inv_data_type应为1/2/3/4 / inv_data_type must be 1, 2, 3 or 4")
        return
    if len(_text(row, "fixmedins_bchno")) > 30:
        raise RowRefused("fixmedins_bchno超长(C30) / fixmedins_bchno is longer than 30")
    for key in DATES:
        if _text(row, key):
            try:
                date.fromisoformat(_text(row, key))
            except ValueError as exc:
                raise RowRefused(f"{key}格式应为yyyy-MM-dd / {key} must be yyyy-MM-dd") from exc
    for key in TIMES:
        if _text(row, key):
            try:
                datetime.strptime(_text(row, key), "%Y-%m-%d %H:%M:%S")
            except ValueError as exc:
                raise RowRefused(f"{key}格式应为yyyy-MM-dd HH:mm:ss / {key} must be yyyy-MM-dd HH:mm:ss") from exc
    for key in COUNTS:
        if key in row and _number(row, key) <= 0 and not (key == "inv_cnt" and _number(row, key) == 0):
            raise RowRefused(f"{key}应大于0 / {key} must be above zero")
    for key in PRICES:
        if key in row and _number(row, key) < 0:
            raise RowRefused(f"{key}不能为负 / {key} must not be negative")
    if _text(row, "rx_flag") not in ("0", "1", "2"):
        raise RowRefused("rx_flag应为0/1/2 / rx_flag must be 0, 1 or 2")
    if "trdn_flag" in REQUIRED[txn] and _text(row, "trdn_flag") not in ("0", "1"):
        raise RowRefused("trdn_flag应为0/1 / trdn_flag must be 0 or 1")
    if txn == "3503" and _text(row, "prod_geay_flag") not in ("0", "1"):  # [OI]: 必填, 0/1
        raise RowRefused("prod_geay_flag应为0/1 / prod_geay_flag must be 0 or 1")
    if txn == "3502" and _text(row, "inv_chg_type") not in INV_CHG_TYPES:
        raise RowRefused("inv_chg_type不在字典中(101–107) / inv_chg_type is not in the dictionary (101–107)")
    if txn == "3505":
        if _text(row, "rx_flag") == "1" and not _text(row, "prsc_dr_name"):
            raise RowRefused("处方药须填开方医师姓名 prsc_dr_name / a prescription drug needs prsc_dr_name")
        if _text(row, "hi_feesetl_type") != "0" and not _text(row, "psn_cert_type"):
            raise RowRefused("医保结算须填人员证件类型 psn_cert_type / an insured sale needs psn_cert_type")
        if _text(row, "mdtrt_setl_type") == "1" and not _text(row, "setl_id"):
            raise RowRefused("医保结算须填结算ID setl_id / an insured sale needs setl_id")
    traces = row.get("drugtracinfo")
    if traces is not None:
        if not isinstance(traces, list):
            raise RowRefused("drugtracinfo应为数组 / drugtracinfo must be an array")
        for t in traces:
            code = wire.to_text(t.get("drug_trac_codg") if isinstance(t, dict) else "").strip()
            if not TRACE.match(code):
                raise RowRefused(f"药品追溯码格式错误：{code or '空'} / a trace code must be 20 digits from 8")


def amount_fen(txn: str, row: dict[str, Any]) -> int:
    """What the completeness query sums for a row: count × price in fen (3501 carries no price: 0)."""
    if txn not in COUNT_OF:
        return 0
    value = _number(row, COUNT_OF[txn]) * _number(row, PRICE_OF[txn]) * 100
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class Uploads:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        ledger.script(SCHEMA)
        ledger.extra_tables.extend(t for t in TABLES if t not in ledger.extra_tables)

    def handlers(self) -> dict[str, Callable[..., tuple[Any, str]]]:
        return {txn: self._handle for txn in NODE}

    @property
    def result_in_output(self) -> bool:
        return bool(self.ledger.setting("uploads_result_in_output", False))

    def _handle(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime
                ) -> tuple[Any, str]:
        from server.insurance.sandbox.centre import Refuse

        txn, code, msgid = wire.to_text(req["infno"]), wire.to_text(req["fixmedins_code"]), wire.to_text(req["msgid"])
        node = inp.get(NODE[txn])
        row = node[0] if isinstance(node, list) and len(node) == 1 else node
        try:
            if not isinstance(row, dict):
                raise RowRefused(f"{NODE[txn]}应为一行记录 / {NODE[txn]} must be one row")
            check(txn, row)
        except RowRefused as r:
            if self.result_in_output:
                return {"result": {"succ_flag": "0", "fail_msg": r.err_msg}}, ""
            raise Refuse(r.err_msg) from r
        stamp = now.strftime("%Y-%m-%d %H:%M:%S")
        if txn == "3507":
            bchno, data_type = _text(row, "fixmedins_bchno"), _text(row, "inv_data_type")
            txns = TXNS_OF[data_type]
            marks = ", ".join("?" for _ in txns)
            deleted = db.execute(f"DELETE FROM upload_fact WHERE fixmedins_code = ? AND bchno = ? AND txn IN ({marks})",
                                 (code, bchno, *txns)).rowcount
            db.execute("INSERT INTO upload_deletion (fixmedins_code, bchno, inv_data_type, deleted, msgid, at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (code, bchno, data_type, deleted, msgid, stamp))
            return self._ok(), f"已删除 {deleted} 条 / {deleted} deleted"
        digest = _digest(row)
        if db.execute("SELECT 1 FROM upload_fact WHERE fixmedins_code = ? AND txn = ? AND digest = ?",
                      (code, txn, digest)).fetchone():
            return self._ok(duplicate=True), "重复上传，已忽略 / already held: ignored"
        db.execute("INSERT INTO upload_fact (fixmedins_code, txn, bchno, day, amount_fen, digest, row, msgid, at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (code, txn, _text(row, "fixmedins_bchno"), _text(row, DAY_OF[txn])[:10], amount_fen(txn, row),
                    digest, json.dumps(row, ensure_ascii=False, default=str), msgid, stamp))
        return self._ok(), ""

    def _ok(self, duplicate: bool = False) -> dict[str, Any]:
        if self.result_in_output:
            return {"result": {"succ_flag": "1", "dup_flag": "1" if duplicate else "0"}}
        return {}

    # --- the completeness query and the admin's views ----------------------------------------------------------

    def summary(self, fixmedins_code: str, first: str, last: str) -> list[dict[str, Any]]:
        return self.ledger.query(
            "SELECT day, txn, COUNT(*) AS count, SUM(amount_fen) AS amount_fen FROM upload_fact "
            "WHERE fixmedins_code = ? AND day >= ? AND day <= ? GROUP BY day, txn ORDER BY day, txn",
            fixmedins_code, first, last)

    def facts(self, fixmedins_code: str, bchno: str = "") -> list[dict[str, Any]]:
        sql = "SELECT * FROM upload_fact WHERE fixmedins_code = ?" + (" AND bchno = ?" if bchno else "") + " ORDER BY id"
        rows = self.ledger.query(sql, *([fixmedins_code, bchno] if bchno else [fixmedins_code]))
        for r in rows:
            r["row"] = json.loads(r["row"])
        return rows

    def forget(self, fixmedins_code: str, day: str, every: int) -> int:
        """Lose every `every`-th fact of a day (a centre that holds only a part: the replay's test)."""
        with self.ledger.transaction() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM upload_fact WHERE fixmedins_code = ? AND day = ? "
                                            "ORDER BY id", (fixmedins_code, day)).fetchall()]
            gone = ids[::every]
            for i in gone:
                db.execute("DELETE FROM upload_fact WHERE id = ?", (i,))
        return len(gone)


class ForgetIn(BaseModel):
    fixmedins_code: str
    day: str
    every: int = Field(default=2, ge=1)


class UploadSettingsIn(BaseModel):
    result_in_output: bool | None = None


def admin_router(uploads: Uploads) -> APIRouter:
    """/admin/uploads: what the centre holds per store and batch, the completeness query, test knobs."""
    router = APIRouter(prefix="/admin/uploads")

    @router.get("")
    def held(fixmedins_code: str, bchno: str = "") -> list[dict[str, Any]]:
        return uploads.facts(fixmedins_code, bchno)

    @router.get("/summary")
    def summary(fixmedins_code: str, first: str, last: str) -> list[dict[str, Any]]:
        return uploads.summary(fixmedins_code, first, last)

    @router.get("/deletions")
    def deletions(fixmedins_code: str) -> list[dict[str, Any]]:
        return uploads.ledger.query("SELECT * FROM upload_deletion WHERE fixmedins_code = ? ORDER BY id", fixmedins_code)

    @router.post("/forget")
    def forget(body: ForgetIn) -> dict[str, Any]:
        return {"forgotten": uploads.forget(body.fixmedins_code, body.day, body.every)}

    @router.put("/settings")
    def settings(body: UploadSettingsIn) -> dict[str, Any]:
        if body.result_in_output is not None:
            uploads.ledger.set_setting("uploads_result_in_output", body.result_in_output)
        return {"result_in_output": uploads.result_in_output}

    return router
