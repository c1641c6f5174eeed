"""The sandbox centre's prescription circulation platform (电子处方流转, reference §7; issue #23).

A demo hospital and its doctors issue electronic 外配处方 to the demo persons; each has a code the patient shows
(epc_qrcd, 27 characters, expiring), a token (epc_token) and an authorisation number (auth_rxno). A pharmacy:

- 7201 decodes a code (an unknown or expired one refused);
- 7202 lists a person's prescriptions still to fill, by their 医保电子凭证 (or card, ID number);
- 7203 downloads one, signed SM2/SM3 (server.insurance.eprx.signed_text) with the platform's demo key; the
  pharmacy that downloads it holds it: another pharmacy's download is refused while it is held (reviewed and
  approved there, or dispensed there), and a prescription dispensed in full is refused everywhere;
- 7204 takes the holder's review (rx_chk_stas_codg 1 approved, 2 rejected: a rejection frees it) → rx_chk_biz_sn;
- 7207 (national) / 7206 (Shenzhen) takes the sale against the approved review: the drugs on the prescription, no
  more than prescribed over every sale (partial fills add up); 7208 / 7206 with sel_retn_flag 1 cancels one.

7204/7206/7207/7208 are effectful: the same msgid with the same input is answered alike and changes nothing (the
outbox's retries). Knobs (admin): issue a prescription (`POST /admin/eprx`), read them (`GET /admin/eprx`), tamper
with the next N downloads after signing (`PUT /admin/eprx/tamper`); the centre's faults apply to 72xx too.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from server.insurance import eprx as wire_eprx
from server.insurance.sandbox.centre import CN, DT, Centre, Refuse, _need, _object
from server.insurance.sandbox.eprx_demo import DEMO_CODES, DEMO_DRUGS, HOSPITAL
from server.insurance.sandbox.ledger import Ledger
from server.insurance.sandbox.persons import DEMO_PERSONS
from server.insurance.wire import to_decimal, to_text

# The platform's demo signing key (the public half is [eprx] platform_public_key's default).
PRIVATE_KEY = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
PUBLIC_KEY = ("09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
              "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13")
EFFECTFUL = ("7204", "7206", "7207", "7208")

SCHEMA = """
CREATE TABLE IF NOT EXISTS eprx_rx (
    hi_rxno TEXT PRIMARY KEY, qr TEXT NOT NULL UNIQUE, epc_token TEXT NOT NULL UNIQUE, auth_rxno TEXT NOT NULL UNIQUE,
    psn_no TEXT NOT NULL, doc TEXT NOT NULL, code_expires TEXT NOT NULL, issued_at TEXT NOT NULL, pharmacy TEXT,
    verdict TEXT, rx_chk_biz_sn TEXT);
CREATE TABLE IF NOT EXISTS eprx_review (
    id INTEGER PRIMARY KEY, hi_rxno TEXT NOT NULL, fixmedins_code TEXT NOT NULL, msgid TEXT NOT NULL,
    verdict TEXT NOT NULL, opinion TEXT NOT NULL, rx_chk_biz_sn TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS eprx_sale (
    id INTEGER PRIMARY KEY, hi_rxno TEXT NOT NULL, fixmedins_code TEXT NOT NULL, infno TEXT NOT NULL,
    msgid TEXT NOT NULL, sale_sn TEXT NOT NULL, setl_id TEXT NOT NULL, lines TEXT NOT NULL,
    cancelled_by TEXT, at TEXT NOT NULL);
"""
_TABLES = ("eprx_rx", "eprx_review", "eprx_sale")


def _row(db: sqlite3.Connection, where: str, value: str) -> sqlite3.Row:
    row = db.execute(f"SELECT * FROM eprx_rx WHERE {where} = ?", (value,)).fetchone()
    if row is None:
        raise Refuse("电子处方不存在或凭证无效 / no such electronic prescription")
    return row


def _dispensed(db: sqlite3.Connection, hi_rxno: str, pharmacy: str | None = None) -> dict[str, int]:
    """Per drug (med_list_codg), what the sales not cancelled took (of one pharmacy, or of all)."""
    out: dict[str, int] = {}
    sql = "SELECT fixmedins_code, lines FROM eprx_sale WHERE hi_rxno = ? AND cancelled_by IS NULL"
    for r in db.execute(sql, (hi_rxno,)):
        if pharmacy is None or r["fixmedins_code"] == pharmacy:
            for code, n in json.loads(r["lines"]).items():
                out[code] = out.get(code, 0) + int(n)
    return out


def _prescribed(doc: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in doc["rxdrugdetail"]:
        out[d["med_list_codg"]] = out.get(d["med_list_codg"], 0) + int(d["drug_cnt"])
    return out


def _expired(row: sqlite3.Row, now: datetime) -> bool:
    return now.strftime(DT) > str(row["code_expires"])


def issue(db: sqlite3.Connection, now: datetime, psn_no: str, drugs: list[dict[str, Any]], diagnosis: tuple[str, str],
          days_ago: int = 0, valid_days: int = 1, code_hours: int = 72, doctor: int = 0, course: str = "acute",
          qr: str = "") -> dict[str, str]:
    """A prescription from the demo hospital to an insured person; its codes."""
    person = db.execute("SELECT doc FROM person WHERE psn_no = ?", (psn_no,)).fetchone()
    if person is None:
        raise ValueError(f"no insured person {psn_no}")
    p = json.loads(person["doc"])
    seq = Ledger.next_value(db, "eprx")
    hi_rxno = f"RX{now:%Y%m%d}{seq:08d}"
    qr = qr or f"EPRX{p['insuplc_admdvs']}{now:%Y%m%d}{seq:09d}"
    at = now - timedelta(days=days_ago)
    born = datetime.strptime(p["brdy"], "%Y-%m-%d")
    age = at.year - born.year - ((at.month, at.day) < (born.month, born.day))
    dr = HOSPITAL["doctors"][doctor]
    doc = {
        "rxinfo": {"hi_rxno": hi_rxno, "hosp_rxno": f"H{seq:010d}", "fixmedins_code": HOSPITAL["code"],
                   "fixmedins_name": HOSPITAL["name"], "prsc_dept_name": "全科门诊", "prsc_dr_code": dr["code"],
                   "prsc_dr_name": dr["name"], "prsc_time": at.strftime(DT), "valid_days": str(valid_days),
                   "course": course, "rx_type_codg": "1"},
        "mdtrtinfo": {"mdtrt_id": f"MD{seq:012d}", "psn_no": psn_no, "patn_name": p["psn_name"], "gend": p["gend"],
                      "age": str(age), "psn_cert_type": "01", "certno": p["certno"],
                      "insuplc_admdvs": p["insuplc_admdvs"]},
        "rxdrugdetail": [{k: str(v) for k, v in d.items()} for d in drugs],
        "diseinfo": [{"diag_code": diagnosis[0], "diag_name": diagnosis[1]}],
    }
    db.execute("INSERT INTO eprx_rx (hi_rxno, qr, epc_token, auth_rxno, psn_no, doc, code_expires, issued_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (hi_rxno, qr, f"EPC{seq:012d}{now:%H%M%S}", f"AU{now:%Y%m%d}{seq:08d}", psn_no,
                json.dumps(doc, ensure_ascii=False), (now + timedelta(hours=code_hours)).strftime(DT), now.strftime(DT)))
    row = _row(db, "hi_rxno", hi_rxno)
    return {"hi_rxno": hi_rxno, "qr": row["qr"], "epc_token": row["epc_token"], "auth_rxno": row["auth_rxno"]}


def _decode(db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
    data = _object(inp, "data")
    _need(data, "epc_qrcd")
    row = db.execute("SELECT * FROM eprx_rx WHERE qr = ?", (to_text(data["epc_qrcd"]),)).fetchone()
    if row is None:
        raise Refuse("处方二维码无效 / unknown prescription code")
    if _expired(row, now):
        raise Refuse("处方二维码已过期，请患者到医院重新获取 / the prescription code has expired")
    info = json.loads(row["doc"])["mdtrtinfo"]
    return {"data": {"epc_token": row["epc_token"], "hi_rxno": row["hi_rxno"], "name": info["patn_name"],
                     "cert_type": info["psn_cert_type"], "certno": info["certno"],
                     "insuplc_admdvs": info["insuplc_admdvs"]}}, ""


def _query(centre: Centre) -> Any:
    def handler(db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        data = _object(inp, "data")
        _need(data, "mdtrt_cert_type", "mdtrt_cert_no")
        person = centre._find(db, to_text(data["mdtrt_cert_type"]), to_text(data["mdtrt_cert_no"]),
                              to_text(data.get("card_sn")))
        out = []
        for row in db.execute("SELECT * FROM eprx_rx WHERE psn_no = ? ORDER BY issued_at", (person["psn_no"],)):
            doc = json.loads(row["doc"])
            if _expired(row, now) or _dispensed(db, row["hi_rxno"]) == _prescribed(doc):
                continue
            if row["pharmacy"] and row["pharmacy"] != to_text(req["fixmedins_code"]):
                continue
            out.append({"hi_rxno": row["hi_rxno"], "auth_rxno": row["auth_rxno"],
                        "prsc_time": doc["rxinfo"]["prsc_time"], "fixmedins_name": doc["rxinfo"]["fixmedins_name"],
                        "prsc_dr_name": doc["rxinfo"]["prsc_dr_name"]})
        return {"rxlist": out}, ""
    return handler


def _download(centre: Centre) -> Any:
    def handler(db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        data = _object(inp, "data")
        token, auth = to_text(data.get("epc_token")), to_text(data.get("auth_rxno"))
        if not token and not auth:
            raise Refuse("epc_token与auth_rxno不能同时为空 / epc_token or auth_rxno is required")
        row = _row(db, "epc_token", token) if token else _row(db, "auth_rxno", auth)
        code, doc = to_text(req["fixmedins_code"]), json.loads(row["doc"])
        if _expired(row, now):
            raise Refuse("处方已过期，不能下载 / the prescription has expired")
        if _dispensed(db, row["hi_rxno"]) == _prescribed(doc):
            raise Refuse("处方已取药完毕（已核销），不能重复下载配药 / the prescription was dispensed already")
        held = row["pharmacy"] and row["pharmacy"] != code and (row["verdict"] == "1" or _dispensed(db, row["hi_rxno"]))
        if held:
            raise Refuse(f"处方已由其他定点药店（{row['pharmacy']}）下载审核，不能重复配药 / the prescription is held "
                         "by another pharmacy")
        if row["pharmacy"] != code:
            db.execute("UPDATE eprx_rx SET pharmacy = ?, verdict = NULL, rx_chk_biz_sn = NULL WHERE hi_rxno = ?",
                       (code, row["hi_rxno"]))
        output: dict[str, Any] = {**doc, "signtype": "SM2", "sign_cert_sn": "SANDBOX-EPRX-1"}
        output["signdata"] = wire_eprx.sign(output, PRIVATE_KEY, PUBLIC_KEY)
        tamper = int(centre.ledger.setting("eprx_tamper", 0))
        if tamper > 0:  # after signing: the quantity changed on the way
            db.execute("INSERT OR REPLACE INTO setting (key, value) VALUES ('eprx_tamper', ?)", (json.dumps(tamper - 1),))
            first = dict(output["rxdrugdetail"][0])
            first["drug_cnt"] = str(int(first["drug_cnt"]) + 1)
            output["rxdrugdetail"] = [first, *output["rxdrugdetail"][1:]]
        return output, ""
    return handler


def _held_here(db: sqlite3.Connection, req: dict[str, Any], data: dict[str, Any]) -> sqlite3.Row:
    row = _row(db, "hi_rxno", to_text(data["hi_rxno"]))
    if row["pharmacy"] != to_text(req["fixmedins_code"]):
        raise Refuse("本药店未下载该处方 / the prescription is not held by this pharmacy")
    return row


def _review(db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
    data = _object(inp, "data")
    _need(data, "hi_rxno", "rx_chk_stas_codg", "rx_chk_time", "phar_name", "phar_prac_cert_no")
    row = _held_here(db, req, data)
    verdict = to_text(data["rx_chk_stas_codg"])
    if verdict not in ("1", "2"):
        raise Refuse("审核状态应为1通过或2不通过 / rx_chk_stas_codg must be 1 or 2")
    if verdict == "2":
        _need(data, "rx_chk_opnn")
    if _dispensed(db, row["hi_rxno"], to_text(req["fixmedins_code"])):
        raise Refuse("处方已配药，不能重新审核 / the prescription was dispensed: no new review")
    sn = f"RC{now:%Y%m%d%H%M%S}{Ledger.next_value(db, 'eprx_review'):06d}"
    db.execute("INSERT INTO eprx_review (hi_rxno, fixmedins_code, msgid, verdict, opinion, rx_chk_biz_sn, at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", (row["hi_rxno"], to_text(req["fixmedins_code"]), to_text(req["msgid"]),
                                                verdict, to_text(data.get("rx_chk_opnn")), sn, now.strftime(DT)))
    # a rejection frees the prescription: the patient may take it to another pharmacy (RX-05)
    db.execute("UPDATE eprx_rx SET verdict = ?, rx_chk_biz_sn = ?, pharmacy = ? WHERE hi_rxno = ?",
               (verdict, sn, row["pharmacy"] if verdict == "1" else None, row["hi_rxno"]))
    return {"data": {"rx_chk_biz_sn": sn}}, ""


def _sale(infno: str) -> Any:
    def handler(db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        data = _object(inp, "data")
        _need(data, "hi_rxno", "medins_sale_sn")
        if infno == "7208" or (infno == "7206" and to_text(data.get("sel_retn_flag")) == "1"):
            return _cancel(db, req, data, infno)
        _need(data, "rx_chk_biz_sn", "sel_time")
        row = _held_here(db, req, data)
        if row["verdict"] != "1" or to_text(data["rx_chk_biz_sn"]) != row["rx_chk_biz_sn"]:
            raise Refuse("处方未经本药店审核通过，不能核销 / no approved review of this pharmacy for the prescription")
        sold: dict[str, int] = {}
        for r in inp.get("selinfo") or []:
            if not isinstance(r, dict):
                raise Refuse("selinfo的每一项须为对象 / each selinfo row must be an object")
            _need(r, "med_list_codg", "sel_cnt")
            cnt = to_decimal(r["sel_cnt"], "sel_cnt")
            if cnt <= 0 or cnt != int(cnt):
                raise Refuse("sel_cnt须为正整数（处方单位）/ sel_cnt must be a positive whole number")
            sold[to_text(r["med_list_codg"])] = sold.get(to_text(r["med_list_codg"]), 0) + int(cnt)
        if not sold:
            raise Refuse("selinfo不能为空 / selinfo is required")
        prescribed, done = _prescribed(json.loads(row["doc"])), _dispensed(db, row["hi_rxno"])
        for code, n in sold.items():
            if code not in prescribed:
                raise Refuse(f"药品{code}不在处方上 / {code} is not on the prescription")
            if done.get(code, 0) + n > prescribed[code]:
                raise Refuse(f"药品{code}超出处方数量 / {code}: more than prescribed")
        db.execute("INSERT INTO eprx_sale (hi_rxno, fixmedins_code, infno, msgid, sale_sn, setl_id, lines, at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (row["hi_rxno"], to_text(req["fixmedins_code"]), infno, to_text(req["msgid"]),
                    to_text(data["medins_sale_sn"]), to_text(data.get("setl_id")), json.dumps(sold), now.strftime(DT)))
        return {"data": {"hi_rxno": row["hi_rxno"], "rx_stas": "dispensed"}}, ""
    return handler


def _cancel(db: sqlite3.Connection, req: dict[str, Any], data: dict[str, Any], infno: str) -> tuple[Any, str]:
    found = db.execute("SELECT * FROM eprx_sale WHERE hi_rxno = ? AND fixmedins_code = ? AND sale_sn = ? "
                       "AND cancelled_by IS NULL", (to_text(data["hi_rxno"]), to_text(req["fixmedins_code"]),
                                                    to_text(data["medins_sale_sn"]))).fetchone()
    if found is None:
        raise Refuse("未找到该销售的核销记录 / no write-off of that sale to cancel")
    db.execute("UPDATE eprx_sale SET cancelled_by = ? WHERE id = ?", (to_text(req["msgid"]), found["id"]))
    return {"data": {"hi_rxno": found["hi_rxno"], "rx_stas": "cancelled"}}, ""


def seed_demo(centre: Centre) -> list[dict[str, str]]:
    """Three prescriptions for the demo card's 职工 (chronic, 14 days), issued today and valid three days, their codes
    the fixed DEMO_CODES: what `dingdian demo` shows for a new user to fill end to end. A demo prescription not of
    today that nobody holds is issued again under its code at the sandbox's start (the demo on a later day)."""
    now = centre.clock().astimezone(CN)
    employee = DEMO_PERSONS[0].psn_no
    out = []
    with centre.ledger.transaction() as db:
        for n, qr in enumerate(DEMO_CODES):
            row = db.execute("SELECT * FROM eprx_rx WHERE qr = ?", (qr,)).fetchone()
            if row is not None and (row["pharmacy"] or str(row["issued_at"])[:10] == now.strftime("%Y-%m-%d")):
                out.append({"hi_rxno": row["hi_rxno"], "qr": qr})
                continue
            if row is not None:  # stale and free: the demo's again, today
                for table in ("eprx_review", "eprx_sale", "eprx_rx"):
                    db.execute(f"DELETE FROM {table} WHERE hi_rxno = ?", (row["hi_rxno"],))
            drugs = [dict(DEMO_DRUGS[n % 2])] if n < 2 else [dict(d) for d in DEMO_DRUGS]
            out.append(issue(db, now, employee, drugs, ("I10.x00", "原发性高血压"), valid_days=3,
                             code_hours=3 * 24, doctor=n % 2, course="chronic", qr=qr))
    return out


class DrugIn(BaseModel):
    med_list_codg: str = Field(min_length=1, max_length=50)
    drug_genname: str = Field(min_length=1, max_length=100)
    drug_cnt: int = Field(ge=1, le=1000)
    sin_doscnt: str = "0.5"
    sin_dosunt: str = "g"
    used_frquname: str = "qid"
    medc_way_dscr: str = "口服"
    drug_dosform: str = ""
    prd_days: int = 3


class IssueIn(BaseModel):
    psn_no: str
    drugs: list[DrugIn] = Field(min_length=1, max_length=5)
    diag_code: str = "J20.900"
    diag_name: str = "急性支气管炎"
    days_ago: int = Field(default=0, ge=0, le=30)
    valid_days: int = Field(default=1, ge=1, le=3)
    code_hours: int = Field(default=72, ge=-1000, le=24 * 90)
    doctor: int = Field(default=0, ge=0, le=1)
    course: str = "acute"


class TamperIn(BaseModel):
    times: int = Field(default=1, ge=0, le=100)


def install(app: FastAPI, centre: Centre) -> None:
    """Adds 7201–7208 to the centre, the demo prescriptions, and the admin endpoints."""
    ledger = centre.ledger
    ledger.script(SCHEMA)
    ledger.extra_tables.extend(_TABLES)
    centre.effectful.update(EFFECTFUL)
    centre.more_handlers.update({"7201": _decode, "7202": _query(centre), "7203": _download(centre),
                                 "7204": _review, "7206": _sale("7206"), "7207": _sale("7207"),
                                 "7208": _sale("7208")})

    @app.post("/admin/eprx", status_code=201)
    def issue_rx(body: IssueIn) -> dict[str, str]:
        with ledger.transaction() as db:
            try:
                return issue(db, centre.clock().astimezone(CN), body.psn_no, [d.model_dump() for d in body.drugs],
                             (body.diag_code, body.diag_name), body.days_ago, body.valid_days, body.code_hours,
                             body.doctor, body.course)
            except ValueError as exc:
                raise HTTPException(404, str(exc)) from exc

    @app.get("/admin/eprx")
    def prescriptions() -> list[dict[str, Any]]:
        out = []
        for row in ledger.query("SELECT * FROM eprx_rx ORDER BY issued_at, hi_rxno"):
            row["doc"] = json.loads(row["doc"])
            row["reviews"] = ledger.query("SELECT * FROM eprx_review WHERE hi_rxno = ? ORDER BY id", row["hi_rxno"])
            row["sales"] = ledger.query("SELECT * FROM eprx_sale WHERE hi_rxno = ? ORDER BY id", row["hi_rxno"])
            dispensed: dict[str, int] = {}  # what stands dispensed per drug: the sales not cancelled (_dispensed)
            for sale in row["sales"]:
                if sale["cancelled_by"] is None:
                    for code, n in json.loads(sale["lines"]).items():
                        dispensed[code] = dispensed.get(code, 0) + int(n)
            row["dispensed"] = dispensed
            out.append(row)
        return out

    @app.put("/admin/eprx/tamper")
    def tamper(body: TamperIn) -> dict[str, int]:
        ledger.set_setting("eprx_tamper", body.times)
        return {"times": body.times}

    @app.post("/admin/eprx/demo", status_code=201)
    def demo() -> list[dict[str, str]]:
        return seed_demo(centre)
