"""The sandbox centre's transactions: the envelope checked, the sign-in required, the fund model
applied, the ledger written — the way a regional platform answers a pharmacy (reference §1–§5).

Trace codes (reference §8) travel with 2101/2102 in `drug_trac_info`: a product the directory lists as
traced needs one code per box sold whole (trdn_flag 0) or its opened box's one code when sold split
(trdn_flag 1); a box already sold whole here, or sold split and now sent whole, is refused. The codes of a
settlement are free again once it is cancelled or reversed.

Test knobs (admin): `amount_places` 3 answers 2101/2102 amounts with three places, the fund's share written
to the mill as live centres do (the figures still add up); the `misstate` fault answers a total off by
`offset_fen` (a centre's slip the pharmacy must catch).

Every message is processed in one ledger transaction. Effectful messages (2102, 2103, 2601) keep
their answer under their msgid: the same msgid with the same input gets the same answer again and
changes nothing (a repeated msgid is never settled twice); the same msgid with a different input
is refused. A 2601 leaves a tombstone for the msgid it reverses, so an original that arrives late
(after its reversal) is refused rather than settled.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from catalog.classes import InsuranceCategory
from server.insurance import wire
from server.insurance.dicts import (
    FUND_PAY_TYPE_LABELS,
    TRDN_SPLIT,
    TRDN_WHOLE,
    ChrgitmLvStyle,
    chrgitm_lv_code,
    same_code,
)
from server.insurance.sandbox.directory import Directory
from server.insurance.sandbox.fund import FundError, Line, Policy, Split, split
from server.insurance.sandbox.ledger import Ledger
from server.insurance.sandbox.uploads import Uploads
from server.insurance.wire import amount_to_fen, fen_to_amount, to_decimal, to_text

CN = ZoneInfo("Asia/Shanghai")
DT = "%Y-%m-%d %H:%M:%S"
EFFECTFUL = frozenset({"2102", "2103", "2601"})
PSN_BEARING = frozenset({"2101", "2102", "2103", "2601"})
ENVELOPE_REQUIRED = ("infno", "msgid", "mdtrtarea_admvs", "recer_sys_code", "infver", "opter_type", "opter",
                     "opter_name", "inf_time", "fixmedins_code", "fixmedins_name")
SETL_MONEY = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
              "act_pay_dedc", "hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay",
              "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "acct_mulaid_pay")


@dataclass(frozen=True)
class Trace:
    feedetl_sn: str
    code: str
    flag: str  # trdn_flag


class Refuse(Exception):
    def __init__(self, err_msg: str) -> None:
        super().__init__(err_msg)
        self.err_msg = err_msg


class _Replay(Exception):
    def __init__(self, text: str) -> None:
        super().__init__("replay")
        self.text = text


def _digest(doc: Any) -> str:
    return hashlib.sha256(wire.dumps(wire.canonical(doc)).encode()).hexdigest()


def _stringify(doc: Any) -> Any:
    """The spec's sample style: numbers as strings."""
    if isinstance(doc, dict):
        return {k: _stringify(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_stringify(v) for v in doc]
    if isinstance(doc, (Decimal, int)) and not isinstance(doc, bool):
        return format(doc, "f") if isinstance(doc, Decimal) else str(doc)
    return doc


def _object(doc: dict[str, Any], key: str) -> dict[str, Any]:
    """doc[key] if it is a JSON object, else {} (absent or malformed: _need then names what is missing)."""
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _need(doc: dict[str, Any], *keys: str) -> None:
    for k in keys:
        if to_text(doc.get(k)).strip() == "":
            raise Refuse(f"{k}不能为空 / {k} is required")


def _med_chrgitm_type(code: str) -> str:
    return {"X": "09", "Z": "11", "T": "10"}.get(code[:1], "14")


class Centre:
    def __init__(self, ledger: Ledger, directory: Directory, clock: Callable[[], datetime] = lambda: datetime.now(CN)):
        self.ledger = ledger
        self.directory = directory
        self.clock = clock
        self.more_handlers: dict[str, Callable[..., tuple[Any, str]]] = {}  # other modules' transactions (statements)
        self.uploads = Uploads(ledger)  # 3501–3507 (server.insurance.sandbox.uploads)
        self.effectful = set(EFFECTFUL)  # answered once per msgid; other modules add theirs (eprx: 7204, 7206–7208)
        for row in ledger.query("SELECT code, category FROM directory"):
            directory.add(row["code"], InsuranceCategory(row["category"]))
        for row in ledger.query("SELECT code, traced FROM directory_trace"):
            directory.set_traced(row["code"], bool(row["traced"]))

    # --- settings the admin endpoint changes ----------------------------------------------------

    @property
    def policy(self) -> Policy:
        raw = self.ledger.setting("policy", None)
        if raw is None:
            return Policy()
        return Policy(fund_ratio={k: Decimal(v) for k, v in raw["fund_ratio"].items()},
                      deductible_fen={k: int(v) for k, v in raw["deductible_fen"].items()},
                      yi_selfpay_ratio=Decimal(raw["yi_selfpay_ratio"]),
                      acct_pays_self_pay=bool(raw["acct_pays_self_pay"]),
                      fund_pay_type=dict(raw["fund_pay_type"]))

    @property
    def wire_style(self) -> str:
        return str(self.ledger.setting("wire_style", "live"))

    @property
    def chrgitm_lv_style(self) -> ChrgitmLvStyle:
        return "1digit" if self.ledger.setting("chrgitm_lv_style", "2digit") == "1digit" else "2digit"

    @property
    def amount_places(self) -> int:
        return 3 if self.ledger.setting("amount_places", 2) == 3 else 2

    # --- one message ----------------------------------------------------------------------------

    def handle(self, body: bytes, fault: str = "", misstate_fen: int = 0) -> str:
        """The answer's text for one delivered message (recorded in the delivery log); `misstate_fen`: the
        answer's total is off by that much (the 'misstate' fault)."""
        now = self.clock().astimezone(CN)
        req: dict[str, Any] = {}
        try:
            parsed = wire.loads(body)
            if not isinstance(parsed, dict):
                raise Refuse("报文不是JSON对象 / the message is not a JSON object")
            req = parsed
            text = self._process(req, now, misstate_fen)
        except Refuse as r:
            text = self.render(req, now, -1, r.err_msg, None, "")
        except (ValueError, wire.WireFormatError) as exc:
            text = self.render(req, now, -1, f"报文格式错误 / malformed message: {exc}", None, "")
        with self.ledger.transaction() as db:
            infcode = wire.loads(text).get("infcode")
            db.execute("INSERT INTO delivery (fixmedins_code, msgid, infno, at, body, infcode, answer, fault) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (to_text(req.get("fixmedins_code")), to_text(req.get("msgid")), to_text(req.get("infno")),
                        now.strftime(DT), body.decode("utf-8", "replace"), str(infcode), text, fault))
        return text

    def refusal(self, body: bytes, infcode: int, err_msg: str, fault: str) -> str:
        """An injected error answer (nothing processed), recorded like any other delivery."""
        now = self.clock().astimezone(CN)
        try:
            req = wire.loads(body)
            req = req if isinstance(req, dict) else {}
        except ValueError:
            req = {}
        text = self.render(req, now, infcode, err_msg, None, "")
        with self.ledger.transaction() as db:
            db.execute("INSERT INTO delivery (fixmedins_code, msgid, infno, at, body, infcode, answer, fault) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (to_text(req.get("fixmedins_code")), to_text(req.get("msgid")), to_text(req.get("infno")),
                        now.strftime(DT), body.decode("utf-8", "replace"), str(infcode), text, fault))
        return text

    def render(self, req: dict[str, Any], now: datetime, infcode: int, err_msg: str, output: Any, warn: str,
               db: sqlite3.Connection | None = None) -> str:
        admdvs = to_text(req.get("mdtrtarea_admvs")) or "440300"
        if db is not None:
            seq = Ledger.next_value(db, "refmsgid")
        else:
            with self.ledger.transaction() as own:
                seq = Ledger.next_value(own, "refmsgid")
        stamp = now.strftime("%Y%m%d%H%M%S%f")[:17]
        live = self.wire_style == "live"
        answer = {
            "infcode": infcode if live else str(infcode),
            "inf_refmsgid": f"{admdvs[:6]:0>6}{now:%Y%m%d%H%M%S}{seq:010d}",
            "refmsg_time": stamp,
            "respond_time": stamp,
            "err_msg": err_msg if err_msg else (None if live else ""),
            "output": output if output is not None else ({} if live else ""),
        }
        if live:
            answer["warn_msg"] = warn or None
        elif warn:
            answer["warn_msg"] = warn
        return wire.dumps(answer if live else _stringify(answer))

    def _process(self, req: dict[str, Any], now: datetime, misstate_fen: int = 0) -> str:
        self._check_envelope(req)
        infno = to_text(req["infno"])
        handler = self._handlers().get(infno)
        if handler is None:
            raise Refuse(f"不支持的交易编号 {infno} / unsupported infno {infno}")
        code, msgid = to_text(req["fixmedins_code"]), to_text(req["msgid"])
        inp = _object(req, "input")
        try:
            with self.ledger.transaction() as db:
                if infno in self.effectful:
                    stored = db.execute("SELECT digest, answer FROM answer WHERE fixmedins_code = ? AND msgid = ?",
                                        (code, msgid)).fetchone()
                    if stored is not None:
                        if stored["digest"] == _digest(inp):
                            raise _Replay(stored["answer"])
                        raise Refuse(f"发送方报文ID重复：{msgid} / duplicate msgid with a different input")
                if infno != "9001":
                    self._require_sign_in(db, req, now.date())
                output, warn = handler(db, req, inp, now)
                if infno in ("2101", "2102"):
                    output = self._as_answered(output, misstate_fen)
                text = self.render(req, now, 0, "", output, warn, db)
                if infno in self.effectful:
                    db.execute("INSERT INTO answer (fixmedins_code, msgid, infno, digest, answer) VALUES (?, ?, ?, ?, ?)",
                               (code, msgid, infno, _digest(inp), text))
                return text
        except _Replay as replay:
            return replay.text

    def _handlers(self) -> dict[str, Callable[..., tuple[Any, str]]]:
        return {"9001": self._sign_in, "9002": self._sign_out, "1101": self._person_info, "2101": self._pre_settle,
                "2102": self._settle, "2103": self._cancel, "2601": self._reverse, "3201": self._reconcile,
                **self.more_handlers, **self.uploads.handlers()}

    def _as_answered(self, output: dict[str, Any], misstate_fen: int) -> dict[str, Any]:
        """The knobs: a total misstated, and amounts with three places (the fund's share to the mill, as a live
        centre computes it: half a fen less for the fund, half a fen more for the person's part, the balance
        following the account; every identity of §3.3 still holds at three places)."""
        info = dict(output["setlinfo"])
        if misstate_fen:
            info["medfee_sumamt"] = fen_to_amount(amount_to_fen(info["medfee_sumamt"]) + misstate_fen)
        if self.amount_places == 3:
            mill, half = Decimal("0.001"), Decimal("0.005")
            for k in (*SETL_MONEY, "balc"):
                info[k] = to_decimal(info[k]).quantize(mill)
            if info["fund_pay_sumamt"] > 0:
                part = "acct_pay" if info["acct_pay"] > 0 else "psn_cash_pay"
                info["fund_pay_sumamt"] -= half
                info["hifp_pay"] -= half
                info[part] += half
                info["psn_part_amt"] += half
                if part == "acct_pay":
                    info["balc"] -= half
                output = {**output, "setldetail": [{**d, "fund_payamt": to_decimal(d["fund_payamt"]).quantize(mill)
                                                    - half} for d in output["setldetail"]]}
        return {**output, "setlinfo": info}

    # --- envelope and sign-in -------------------------------------------------------------------

    def _check_envelope(self, req: dict[str, Any]) -> None:
        _need(req, *ENVELOPE_REQUIRED)
        if not isinstance(req.get("input"), dict):
            raise Refuse("input不能为空 / input must be a JSON object")
        code, msgid = to_text(req["fixmedins_code"]), to_text(req["msgid"])
        if len(code) != 12:
            raise Refuse("fixmedins_code应为12位 / fixmedins_code must be 12 characters")
        if len(msgid) != 30 or not msgid.startswith(code) or not msgid[12:].isdigit():
            raise Refuse("msgid格式错误：定点医药机构编号(12)+yyyyMMddHHmmss(14)+顺序号(4) / malformed msgid")
        if not (len(to_text(req["mdtrtarea_admvs"])) == 6 and to_text(req["mdtrtarea_admvs"]).isdigit()):
            raise Refuse("mdtrtarea_admvs应为6位区划 / mdtrtarea_admvs must be 6 digits")
        try:
            datetime.strptime(to_text(req["inf_time"]), DT)
        except ValueError as exc:
            raise Refuse("inf_time格式应为yyyy-MM-dd HH:mm:ss / inf_time must be yyyy-MM-dd HH:mm:ss") from exc
        if to_text(req["opter_type"]) not in ("1", "2", "3"):
            raise Refuse("opter_type应为1/2/3 / opter_type must be 1, 2 or 3")

    def _require_sign_in(self, db: sqlite3.Connection, req: dict[str, Any], today: date) -> None:
        sign_no = to_text(req.get("sign_no"))
        if not sign_no:
            raise Refuse("未签到，请先签到(9001) / not signed in: sign in (9001) first")
        row = db.execute("SELECT * FROM sign_in WHERE sign_no = ?", (sign_no,)).fetchone()
        if row is None or row["fixmedins_code"] != to_text(req["fixmedins_code"]):
            raise Refuse("签到编号无效，请重新签到 / unknown sign_no: sign in again")
        if row["signed_out_at"]:
            raise Refuse("已签退，请重新签到 / signed out: sign in again")
        if row["sign_date"] != today.isoformat():
            raise Refuse("签到已过期（非当日签到），请重新签到 / the sign-in is not today's: sign in again")
        if row["opter"] != to_text(req["opter"]):
            raise Refuse("经办人与签到人不符 / the operator is not the one who signed in")

    @staticmethod
    def _insuplc(req: dict[str, Any]) -> str:
        """The header's 参保地: where no person is known yet (9001, 1101) it must still be there (§1.1)."""
        admdvs = to_text(req.get("insuplc_admdvs"))
        if not (len(admdvs) == 6 and admdvs.isdigit()):
            raise Refuse("参保地医保区划insuplc_admdvs不能为空，应为6位区划 / insuplc_admdvs is required: 6 digits")
        return admdvs

    def _sign_in(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        data = _object(inp, "signIn")
        _need(data, "opter_no", "mac", "ip")
        if self._insuplc(req) != to_text(req["mdtrtarea_admvs"]):
            raise Refuse("签到的参保地医保区划应为本统筹区 / a sign-in's insuplc_admdvs is the pharmacy's own region")
        seq = Ledger.next_value(db, "sign_no")
        sign_no = f"{to_text(req['mdtrtarea_admvs'])}{now:%Y%m%d%H%M%S}{seq:010d}"
        db.execute("INSERT INTO sign_in (sign_no, fixmedins_code, opter, sign_time, sign_date, mac, ip) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (sign_no, to_text(req["fixmedins_code"]), to_text(data["opter_no"]), now.strftime(DT),
                    now.date().isoformat(), to_text(data["mac"]), to_text(data["ip"])))
        return {"signinoutb": {"sign_time": now.strftime(DT), "sign_no": sign_no}}, ""

    def _sign_out(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        data = _object(inp, "signOut")
        _need(data, "sign_no", "opter_no")
        if to_text(data["sign_no"]) != to_text(req.get("sign_no")):
            raise Refuse("签退编号与报文头签到编号不符 / signOut.sign_no differs from the envelope's sign_no")
        db.execute("UPDATE sign_in SET signed_out_at = ? WHERE sign_no = ?", (now.strftime(DT), to_text(data["sign_no"])))
        return {"signoutoutb": {"sign_time": now.strftime(DT)}}, ""

    # --- persons --------------------------------------------------------------------------------

    def _person(self, db: sqlite3.Connection, psn_no: str) -> tuple[dict[str, Any], sqlite3.Row]:
        row = db.execute("SELECT * FROM person WHERE psn_no = ?", (psn_no,)).fetchone()
        if row is None:
            raise Refuse(f"人员编号不存在：{psn_no} / no insured person {psn_no}")
        return json.loads(row["doc"]), row

    def _find(self, db: sqlite3.Connection, cert_type: str, cert_no: str, card_sn: str) -> dict[str, Any]:
        people = [json.loads(r["doc"]) for r in db.execute("SELECT doc FROM person")]
        if cert_type == "01":
            found = [p for p in people if p["ec_token"] == cert_no]
        elif cert_type == "02":
            found = [p for p in people if p["certno"] == cert_no.upper()]
        elif cert_type == "03":
            card_no = cert_no.split("|", 1)[0]
            if not card_sn:
                raise Refuse("社会保障卡就诊须提供卡识别码card_sn / card_sn is required for a social security card")
            found = [p for p in people if p["card_no"] == card_no]
            if found and found[0]["card_sn"] != card_sn:
                raise Refuse("卡识别码与卡号不符 / the card identification code does not match the card")
        else:
            raise Refuse(f"就诊凭证类型无效：{cert_type} / unknown mdtrt_cert_type")
        if not found:
            raise Refuse("未查询到参保人员信息 / no insured person for this credential")
        return found[0]

    def _insuinfo(self, person: dict[str, Any], balance_fen: int) -> list[dict[str, Any]]:
        rows = [{"balc": fen_to_amount(balance_fen), "insutype": person["insutype"], "psn_type": person["psn_type"],
                 "psn_insu_stas": person["psn_insu_stas"], "psn_insu_date": "2015-01-01", "paus_insu_date": "",
                 "cvlserv_flag": "0", "insuplc_admdvs": person["insuplc_admdvs"], "emp_name": person["emp_name"]}]
        for other in person["other_insutypes"]:
            rows.append({**rows[0], "insutype": other, "balc": fen_to_amount(0)})
        return rows

    def _person_info(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        data = _object(inp, "data")
        _need(data, "mdtrt_cert_type", "mdtrt_cert_no")
        admdvs = self._insuplc(req)
        person = self._find(db, to_text(data["mdtrt_cert_type"]), to_text(data["mdtrt_cert_no"]),
                            to_text(data.get("card_sn")))
        if to_text(data.get("certno")) and to_text(data["certno"]).upper() != person["certno"]:
            raise Refuse("证件号码与就诊凭证不符 / the certificate number does not match the credential")
        if admdvs not in (to_text(req["mdtrtarea_admvs"]), person["insuplc_admdvs"]):  # routed to neither platform
            raise Refuse("参保地医保区划insuplc_admdvs既非本统筹区也非人员参保地 / insuplc_admdvs is neither this "
                         "region nor the person's")
        _, row = self._person(db, person["psn_no"])
        born = date.fromisoformat(person["brdy"])
        age = now.year - born.year - ((now.month, now.day) < (born.month, born.day))
        base = {k: person[k] for k in ("psn_no", "psn_cert_type", "certno", "psn_name", "gend", "naty", "brdy")}
        return {"baseinfo": {**base, "age": Decimal(age).quantize(Decimal("0.1"))},
                "insuinfo": self._insuinfo(person, row["balc_fen"]), "idetinfo": []}, ""

    # --- 2101 / 2102 ----------------------------------------------------------------------------

    def _purchase(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime
                  ) -> tuple[dict[str, Any], sqlite3.Row, dict[str, Any], list[dict[str, Any]], Split, list[Trace]]:
        info = _object(inp, "druginfo")
        details = inp.get("drugdetail")
        _need(info, "psn_no", "mdtrt_cert_type", "mdtrt_cert_no", "begntime", "medfee_sumamt", "insutype",
              "acct_used_flag", "med_type")
        person, row = self._person(db, to_text(info["psn_no"]))
        if self._find(db, to_text(info["mdtrt_cert_type"]), to_text(info["mdtrt_cert_no"]),
                      to_text(info.get("card_sn")))["psn_no"] != person["psn_no"]:
            raise Refuse("就诊凭证与人员编号不符 / the credential belongs to someone else")
        if to_text(info.get("certno")) and to_text(info["certno"]).upper() != person["certno"]:
            raise Refuse("证件号码与人员不符 / the certificate number does not match the person")
        if to_text(req.get("insuplc_admdvs")) != person["insuplc_admdvs"]:
            raise Refuse("参保地医保区划insuplc_admdvs与人员参保地不符 / insuplc_admdvs does not match the person")
        if person["psn_insu_stas"] != "1":
            raise Refuse("参保状态异常（暂停参保），不能结算 / the insurance is suspended: cannot settle")
        insutype = to_text(info["insutype"])
        if insutype != person["insutype"]:
            raise Refuse(f"险种{insutype}不可用于药店购药结算 / insured type {insutype} cannot settle here")
        if to_text(info["med_type"]) not in ("41", "14"):
            raise Refuse("医疗类别应为41定点药店购药或14门诊慢特病 / med_type must be 41 or 14")
        flag = to_text(info["acct_used_flag"])
        if flag not in ("0", "1"):
            raise Refuse("个人账户使用标志应为0或1 / acct_used_flag must be 0 or 1")
        try:
            datetime.strptime(to_text(info["begntime"]), DT)
        except ValueError as exc:
            raise Refuse("begntime格式应为yyyy-MM-dd HH:mm:ss / begntime must be yyyy-MM-dd HH:mm:ss") from exc
        if not isinstance(details, list) or not details:
            raise Refuse("费用明细drugdetail不能为空 / drugdetail must list the sold lines")
        lines, seen = [], set()
        for d in details:
            if not isinstance(d, dict):
                raise Refuse("费用明细格式错误 / a drugdetail row is not an object")
            _need(d, "feedetl_sn", "rx_circ_flag", "fee_ocur_time", "med_list_codg", "medins_list_codg",
                  "det_item_fee_sumamt", "cnt", "pric")
            sn = to_text(d["feedetl_sn"])
            if sn in seen:
                raise Refuse(f"费用明细流水号重复：{sn} / duplicate feedetl_sn {sn}")
            seen.add(sn)
            amount = amount_to_fen(d["det_item_fee_sumamt"], "det_item_fee_sumamt")
            cnt, pric = to_decimal(d["cnt"], "cnt"), to_decimal(d["pric"], "pric")
            if cnt <= 0 or pric < 0:
                raise Refuse(f"明细{sn}数量或单价无效 / line {sn}: bad cnt or pric")
            if abs(cnt * pric * 100 - amount) > 1:
                raise Refuse(f"明细{sn}金额与数量×单价不符 / line {sn}: amount is not cnt × pric")
            lines.append(Line(sn, amount, self.directory.category(to_text(d["med_list_codg"]))))
        if sum(ln.amount_fen for ln in lines) != amount_to_fen(info["medfee_sumamt"], "medfee_sumamt"):
            raise Refuse("医疗费总额与明细合计不符 / medfee_sumamt is not the sum of the lines")
        traces = self._traces(db, to_text(req["fixmedins_code"]), details, inp.get("drug_trac_info"))
        policy = self.policy
        year_used = row["dedc_used_fen"] if row["dedc_year"] == now.year else 0
        left = max(0, policy.deductible_fen.get(insutype, 0) - year_used)
        try:
            result = split(lines, insutype, balance_fen=row["balc_fen"], deductible_left_fen=left,
                           acct_used=flag == "1", policy=policy)
        except FundError as exc:
            raise Refuse(str(exc)) from exc
        return person, row, info, details, result, traces

    def _traces(self, db: sqlite3.Connection, code: str, details: list[dict[str, Any]], node: Any) -> list[Trace]:
        """drug_trac_info checked as a centre checks it (reference §8): well-formed rows naming sold lines; every
        line of a traced product with its codes, one per box sold whole or the opened box's one when split; no
        box sold whole here before, none sold split before now sent whole."""
        if node in (None, ""):
            node = []
        if not isinstance(node, list) or not all(isinstance(t, dict) for t in node):
            raise Refuse("追溯码节点drug_trac_info格式错误 / drug_trac_info must be a list of objects")
        by_sn: dict[str, list[Trace]] = {}
        sns = {to_text(d["feedetl_sn"]): d for d in details}
        for t in node:
            _need(t, "feedetl_sn", "drug_trac_codg", "trdn_flag", "min_prcunt_type")
            sn, trace, flag = to_text(t["feedetl_sn"]), to_text(t["drug_trac_codg"]), to_text(t["trdn_flag"])
            if sn not in sns:
                raise Refuse(f"追溯码所属费用明细{sn}不存在 / trace code for no drugdetail row {sn}")
            if not (len(trace) == 20 and trace.isdigit() and trace.startswith("8")):
                raise Refuse(f"药品追溯码{trace}格式错误（应为8开头的20位数字） / malformed trace code {trace}")
            if flag not in (TRDN_WHOLE, TRDN_SPLIT):
                raise Refuse(f"拆零标志trdn_flag应为0或1：{flag} / trdn_flag must be 0 or 1")
            by_sn.setdefault(sn, []).append(Trace(sn, trace, flag))
        whole_codes = [t.code for ts in by_sn.values() for t in ts if t.flag == TRDN_WHOLE]
        if len(whole_codes) != len(set(whole_codes)):
            raise Refuse("同一追溯码整盒销售了两次 / one trace code sold whole twice in one purchase")
        for sn, d in sns.items():
            mine = by_sn.get(sn, [])
            if not mine:
                if self.directory.traced(to_text(d["med_list_codg"])):
                    raise Refuse(f"明细{sn}药品追溯码缺失，无码不结算 / line {sn}: the drug's trace codes are missing")
                continue
            flags = {t.flag for t in mine}
            if len(flags) > 1:
                raise Refuse(f"明细{sn}的拆零标志不一致 / line {sn}: trdn_flag differs between its codes")
            cnt = to_decimal(d["cnt"], "cnt")
            if flags == {TRDN_WHOLE} and Decimal(len(mine)) != cnt:
                raise Refuse(f"明细{sn}整盒销售（拆零标志0）应每盒一个追溯码：数量{cnt}，追溯码{len(mine)}个；拆零销售应标记"
                             f"拆零标志1 / line {sn}: sold whole, one code per box ({cnt} boxes, {len(mine)} codes)")
            if flags == {TRDN_SPLIT} and len(mine) != 1:
                raise Refuse(f"明细{sn}拆零销售（拆零标志1）应只带所拆那一盒的追溯码 / line {sn}: a split line carries "
                             "its opened box's one code")
        for ts in by_sn.values():
            for t in ts:
                sold = {r["trdn_flag"] for r in db.execute(
                    "SELECT t.trdn_flag FROM trace_sale t JOIN settlement s ON s.setl_id = t.setl_id "
                    "WHERE t.fixmedins_code = ? AND t.code = ? AND s.status = 'active'", (code, t.code))}
                if TRDN_WHOLE in sold:
                    raise Refuse(f"药品追溯码{t.code}已有整盒销售记录，疑似重复销售（回流药/串换） / trace code {t.code} "
                                 "was already sold whole")
                if sold and t.flag == TRDN_WHOLE:
                    raise Refuse(f"药品追溯码{t.code}所在药盒已拆零销售，拆零标志应为1 / the box {t.code} was sold "
                                 "split: trdn_flag must be 1")
        return [t for ts in by_sn.values() for t in ts]

    def _output(self, person: dict[str, Any], info: dict[str, Any], details: list[dict[str, Any]], s: Split,
                setl_id: str, mdtrt_id: str, now: datetime, msgid: str) -> dict[str, Any]:
        policy, style = self.policy, self.chrgitm_lv_style
        a = fen_to_amount
        setlinfo = {
            "setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": person["psn_no"], "psn_name": person["psn_name"],
            "psn_cert_type": person["psn_cert_type"], "certno": person["certno"], "gend": person["gend"],
            "naty": person["naty"], "brdy": person["brdy"], "age": Decimal(0), "insutype": person["insutype"],
            "psn_type": person["psn_type"], "cvlserv_flag": "0", "setl_time": now.strftime(DT),
            "mdtrt_cert_type": to_text(info["mdtrt_cert_type"]), "med_type": to_text(info["med_type"]),
            "medfee_sumamt": a(s.medfee_fen), "fulamt_ownpay_amt": a(s.fulamt_ownpay_fen), "overlmt_selfpay": a(0),
            "preselfpay_amt": a(s.preselfpay_fen), "inscp_scp_amt": a(s.inscp_fen), "act_pay_dedc": a(s.act_pay_dedc_fen),
            "hifp_pay": a(s.hifp_pay_fen), "pool_prop_selfpay": s.fund_ratio, "cvlserv_pay": a(0), "hifes_pay": a(0),
            "hifmi_pay": a(0), "hifob_pay": a(0), "maf_pay": a(0), "oth_pay": a(0),
            "fund_pay_sumamt": a(s.fund_pay_sumamt_fen), "psn_part_amt": a(s.psn_part_amt_fen),
            "acct_pay": a(s.acct_pay_fen), "psn_cash_pay": a(s.psn_cash_pay_fen), "balc": a(s.balc_after_fen),
            "acct_mulaid_pay": a(0), "medins_setl_id": msgid, "clr_optins": person["insuplc_admdvs"], "clr_way": "1",
            "clr_type": "41",
        }
        fund_type = policy.fund_pay_type.get(person["insutype"], "999997")
        setldetail = [{"fund_pay_type": fund_type, "inscp_scp_amt": a(s.inscp_fen),
                       "crt_payb_lmt_amt": a(s.inscp_fen - s.act_pay_dedc_fen), "fund_payamt": a(s.hifp_pay_fen),
                       "fund_pay_type_name": FUND_PAY_TYPE_LABELS.get(fund_type, ""), "setl_proc_info": ""}
                      ] if s.hifp_pay_fen else []
        by_sn = {to_text(d["feedetl_sn"]): d for d in details}
        cuts = []
        for c in s.lines:
            d = by_sn[c.feedetl_sn]
            cuts.append({"feedetl_sn": c.feedetl_sn, "det_item_fee_sumamt": a(c.amount_fen),
                         "cnt": to_decimal(d["cnt"]), "pric": to_decimal(d["pric"]), "pric_uplmt_amt": a(0),
                         "selfpay_prop": c.selfpay_prop, "fulamt_ownpay_amt": a(c.fulamt_ownpay_fen),
                         "overlmt_amt": a(0), "preselfpay_amt": a(c.preselfpay_fen), "inscp_scp_amt": a(c.inscp_fen),
                         "chrgitm_lv": chrgitm_lv_code(c.category, style),
                         "med_chrgitm_type": _med_chrgitm_type(to_text(d["med_list_codg"])), "bas_medn_flag": "0",
                         "hi_nego_drug_flag": "0", "chld_medc_flag": "0", "list_sp_item_flag": "0",
                         "drt_reim_flag": "0",
                         "memo": "" if c.category is not InsuranceCategory.NONE else "目录外项目，全自费"})
        return {"setlinfo": setlinfo, "setldetail": setldetail, "detlcutinfo": cuts}

    def _ids(self, db: sqlite3.Connection, req: dict[str, Any], now: datetime) -> tuple[str, str]:
        admdvs = to_text(req["mdtrtarea_admvs"])
        return (f"{admdvs}{now:%Y%m%d%H%M%S}{Ledger.next_value(db, 'setl_id'):010d}",
                f"{admdvs}{now:%Y%m%d%H%M%S}{Ledger.next_value(db, 'mdtrt_id'):010d}")

    def _pre_settle(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        person, _, info, details, s, _ = self._purchase(db, req, inp, now)
        return self._output(person, info, details, s, "", "", now, to_text(req["msgid"])), ""

    def _settle(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        code, msgid = to_text(req["fixmedins_code"]), to_text(req["msgid"])
        if db.execute("SELECT 1 FROM reversal WHERE fixmedins_code = ? AND omsgid = ?", (code, msgid)).fetchone():
            raise Refuse(f"该报文已冲正，不能再结算：{msgid} / this msgid was reversed; settle with a new msgid")
        person, row, info, details, s, traces = self._purchase(db, req, inp, now)
        setl_id, mdtrt_id = self._ids(db, req, now)
        output = self._output(person, info, details, s, setl_id, mdtrt_id, now, msgid)
        used = (row["dedc_used_fen"] if row["dedc_year"] == now.year else 0) + s.act_pay_dedc_fen
        db.execute("UPDATE person SET balc_fen = ?, dedc_used_fen = ?, dedc_year = ? WHERE psn_no = ?",
                   (s.balc_after_fen, used, now.year, person["psn_no"]))
        db.execute("INSERT INTO settlement (setl_id, mdtrt_id, msgid, infno, fixmedins_code, psn_no, insutype, "
                   "clr_optins, setl_time, setl_date, medfee_fen, fund_fen, acct_fen, cash_fen, dedc_fen, "
                   "refd_setl_flag, ref_setl_id, status, answer) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (setl_id, mdtrt_id, msgid, "2102", code, person["psn_no"], person["insutype"],
                    person["insuplc_admdvs"], now.strftime(DT), now.date().isoformat(), s.medfee_fen,
                    s.fund_pay_sumamt_fen, s.acct_pay_fen, s.psn_cash_pay_fen, s.act_pay_dedc_fen, "0", None, "active",
                    wire.dumps(output)))
        db.executemany("INSERT INTO trace_sale (fixmedins_code, code, setl_id, feedetl_sn, trdn_flag) VALUES (?,?,?,?,?)",
                       [(code, t.code, setl_id, t.feedetl_sn, t.flag) for t in traces])
        return output, ""

    # --- 2103 / 2601 ----------------------------------------------------------------------------

    def _undo(self, db: sqlite3.Connection, row: sqlite3.Row) -> int:
        """Undo a ledger row's effect on the person: a settlement's account payment and deductible come
        back; a cancellation's (negative) row is taken again. Returns the balance after."""
        db.execute("UPDATE person SET balc_fen = balc_fen + ?, dedc_used_fen = MAX(0, dedc_used_fen - ?) "
                   "WHERE psn_no = ?", (row["acct_fen"], row["dedc_fen"], row["psn_no"]))
        return int(db.execute("SELECT balc_fen FROM person WHERE psn_no = ?", (row["psn_no"],)).fetchone()[0])

    def _cancel(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        data = _object(inp, "data")
        _need(data, "setl_id", "mdtrt_id", "psn_no")
        code, msgid = to_text(req["fixmedins_code"]), to_text(req["msgid"])
        if db.execute("SELECT 1 FROM reversal WHERE fixmedins_code = ? AND omsgid = ?", (code, msgid)).fetchone():
            raise Refuse(f"该报文已冲正：{msgid} / this msgid was reversed")
        row = db.execute("SELECT * FROM settlement WHERE setl_id = ? AND fixmedins_code = ? AND refd_setl_flag = '0'",
                         (to_text(data["setl_id"]), code)).fetchone()
        if row is None or row["mdtrt_id"] != to_text(data["mdtrt_id"]) or row["psn_no"] != to_text(data["psn_no"]):
            raise Refuse("结算记录不存在 / no such settlement")
        if row["status"] == "cancelled":
            raise Refuse("该结算已撤销 / the settlement is already cancelled")
        if row["status"] == "reversed":
            raise Refuse("该结算已冲正 / the settlement was reversed")
        person, _ = self._person(db, row["psn_no"])
        if to_text(req.get("insuplc_admdvs")) != person["insuplc_admdvs"]:
            raise Refuse("参保地医保区划insuplc_admdvs与人员参保地不符 / insuplc_admdvs does not match the person")
        balc = self._undo(db, row)
        original = wire.loads(row["answer"])
        setl_id, _ = self._ids(db, req, now)
        info = dict(original["setlinfo"])
        for k in SETL_MONEY:
            info[k] = -info[k]
        info["psn_pay"], info["cash_payamt"] = info.pop("psn_part_amt"), info.pop("psn_cash_pay")
        info.update(setl_id=setl_id, setl_time=now.strftime(DT), balc=fen_to_amount(balc), medins_setl_id=msgid)
        detail = [{**d, "inscp_scp_amt": -d["inscp_scp_amt"], "crt_payb_lmt_amt": -d["crt_payb_lmt_amt"],
                   "fund_payamt": -d["fund_payamt"]} for d in original["setldetail"]]
        output = {"setlinfo": info, "setldetail": detail}
        db.execute("UPDATE settlement SET status = 'cancelled' WHERE setl_id = ?", (row["setl_id"],))
        db.execute("INSERT INTO settlement (setl_id, mdtrt_id, msgid, infno, fixmedins_code, psn_no, insutype, "
                   "clr_optins, setl_time, setl_date, medfee_fen, fund_fen, acct_fen, cash_fen, dedc_fen, "
                   "refd_setl_flag, ref_setl_id, status, answer) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (setl_id, row["mdtrt_id"], msgid, "2103", code, row["psn_no"], row["insutype"], row["clr_optins"],
                    now.strftime(DT), now.date().isoformat(), -row["medfee_fen"], -row["fund_fen"], -row["acct_fen"],
                    -row["cash_fen"], -row["dedc_fen"], "1", row["setl_id"], "active", wire.dumps(output)))
        return output, ""

    def _reverse(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        data = _object(inp, "data")
        _need(data, "psn_no", "omsgid", "oinfno")
        code, omsgid, oinfno = to_text(req["fixmedins_code"]), to_text(data["omsgid"]), to_text(data["oinfno"])
        if oinfno not in ("2102", "2103"):
            raise Refuse(f"交易{oinfno}不支持冲正（药店可冲正2102、2103） / {oinfno} cannot be reversed here")
        row = db.execute("SELECT * FROM settlement WHERE fixmedins_code = ? AND msgid = ? AND infno = ?",
                         (code, omsgid, oinfno)).fetchone()
        if row is not None and row["psn_no"] != to_text(data["psn_no"]):
            raise Refuse("冲正的人员编号与原交易不符 / psn_no does not match the original")
        db.execute("INSERT OR IGNORE INTO reversal (fixmedins_code, omsgid, oinfno, at) VALUES (?, ?, ?, ?)",
                   (code, omsgid, oinfno, now.strftime(DT)))
        if row is None:
            return {}, "原交易不存在，已登记冲正（原交易迟到将被拒绝） / no such original; recorded so a late one is refused"
        if row["status"] == "reversed":
            return {}, "原交易已冲正 / already reversed"
        if oinfno == "2102":
            if row["status"] == "cancelled":
                raise Refuse("原结算已撤销，不能冲正 / the settlement was cancelled: it cannot be reversed")
            self._undo(db, row)
        else:  # reversing a cancellation puts the settlement back in force
            self._undo(db, row)
            db.execute("UPDATE settlement SET status = 'active' WHERE setl_id = ?", (row["ref_setl_id"],))
        db.execute("UPDATE settlement SET status = 'reversed' WHERE setl_id = ?", (row["setl_id"],))
        return {}, ""

    # --- 3201 -----------------------------------------------------------------------------------

    def _reconcile(self, db: sqlite3.Connection, req: dict[str, Any], inp: dict[str, Any], now: datetime) -> tuple[Any, str]:
        data = _object(inp, "data")
        _need(data, "insutype", "clr_type", "setl_optins", "stmt_begndate", "stmt_enddate", "medfee_sumamt",
              "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")
        if not same_code(data["clr_type"], "41"):
            raise Refuse("药店对账清算类别应为41 / clr_type must be 41 for a pharmacy")
        try:
            begin = date.fromisoformat(to_text(data["stmt_begndate"])[:10])
            end = date.fromisoformat(to_text(data["stmt_enddate"])[:10])
        except ValueError as exc:
            raise Refuse("对账日期格式应为yyyy-MM-dd / dates must be yyyy-MM-dd") from exc
        refunds = to_text(data.get("refd_setl_flag")) != "0"
        sql = ("SELECT COUNT(*) AS cnt, COALESCE(SUM(medfee_fen), 0) AS medfee, COALESCE(SUM(fund_fen), 0) AS fund, "
               "COALESCE(SUM(acct_fen), 0) AS acct FROM settlement WHERE fixmedins_code = ? AND insutype = ? "
               "AND clr_optins = ? AND setl_date BETWEEN ? AND ? AND status != 'reversed'")
        if not refunds:
            sql += " AND refd_setl_flag = '0'"
        ours = db.execute(sql, (to_text(req["fixmedins_code"]), to_text(data["insutype"]), to_text(data["setl_optins"]),
                                begin.isoformat(), end.isoformat())).fetchone()
        theirs = {"medfee": amount_to_fen(data["medfee_sumamt"]), "fund": amount_to_fen(data["fund_pay_sumamt"]),
                  "acct": amount_to_fen(data["acct_pay"]), "cnt": int(to_decimal(data["fixmedins_setl_cnt"]))}
        labels = {"medfee": "医疗费总额", "fund": "基金支付总额", "acct": "个人账户支付", "cnt": "结算笔数"}
        diffs = []
        for key, label in labels.items():
            if ours[key] != theirs[key]:
                show = (lambda v: str(v)) if key == "cnt" else (lambda v: format(fen_to_amount(v), "f"))
                diffs.append(f"{label} 中心{show(ours[key])} 机构{show(theirs[key])}")
        return {"stmtinfo": {"setl_optins": to_text(data["setl_optins"]), "stmt_rslt": "1" if diffs else "0",
                             "stmt_rslt_dscr": "；".join(diffs) if diffs else "对账平"}}, ""
