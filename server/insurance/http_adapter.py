"""The HTTP adapter: the NHSA envelope over a pluggable transport and signer (reference §1).

Request envelope (§1.1): infno, msgid, mdtrtarea_admvs, insuplc_admdvs, recer_sys_code, dev_no,
dev_safe_info, cainfo, signtype, infver, opter_type, opter, opter_name, inf_time, fixmedins_code,
fixmedins_name, sign_no, input. Answer (§1.2): infcode, inf_refmsgid, refmsg_time, respond_time,
err_msg, output — read tolerantly (infcode as string or number, null nodes, extra keys).
Every exchange goes through the message log: the out row before sending, the in row after.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from server.db.models import MessageOutcome
from server.db.types import utcnow
from server.insurance import codec, wire
from server.insurance.errors import AnswerLost, CentreRefused, CentreTimeout, CentreUnreachable, TransportRefused
from server.insurance.gateway import Caller
from server.insurance.messages import (
    BaseInfo,
    CancelRequest,
    DetlCutInfo,
    FileInfo,
    IdetInfo,
    InsuInfo,
    PersonInfo,
    PersonQuery,
    Receipt,
    Reconciliation,
    ReconDetailRequest,
    ReconRequest,
    ReversalRequest,
    ReversalResult,
    SetlDetail,
    SetlInfo,
    Settlement,
    SettleRequest,
    SignInInput,
    SignInOutb,
    SignInResult,
    SignOutInput,
    SignOutResult,
    StmtInfo,
)
from server.insurance.msgid import MsgidSource
from server.insurance.msglog import MessageLog
from server.insurance.signing import PlainSigner, Signer
from server.insurance.transport import Broken, NoAnswer, NotSent, Transport

T = TypeVar("T")
DT = "%Y-%m-%d %H:%M:%S"


def answer_object(text: str) -> dict[str, Any]:
    """The centre's answer read as a JSON object (WireFormatError when it is not one)."""
    answer = wire.loads(text)
    if not isinstance(answer, dict):
        raise wire.WireFormatError("the answer is not a JSON object")
    return answer


class HttpGateway:
    def __init__(self, *, url: str, fixmedins_code: str, fixmedins_name: str, mdtrtarea_admvs: str, tz: ZoneInfo,
                 infver: str, recer_sys_code: str, log: MessageLog, msgids: MsgidSource, transport: Transport,
                 signer: Signer | None = None, timeout: float = 30.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.url = url
        self.fixmedins_code = fixmedins_code
        self.fixmedins_name = fixmedins_name
        self.mdtrtarea_admvs = mdtrtarea_admvs
        self.tz = tz
        self.infver = infver
        self.recer_sys_code = recer_sys_code
        self.log = log
        self._msgids = msgids
        self.transport = transport
        self.signer = signer or PlainSigner()
        self.timeout = timeout
        self._clock = clock

    def close(self) -> None:
        self.transport.close()

    def new_msgid(self) -> str:
        return self._msgids()

    # --- the envelope ---------------------------------------------------------------------------

    def envelope(self, infno: str, msgid: str, caller: Caller, input_doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "infno": infno,
            "msgid": msgid,
            "mdtrtarea_admvs": self.mdtrtarea_admvs,
            "insuplc_admdvs": caller.insuplc_admdvs,
            "recer_sys_code": self.recer_sys_code,
            "dev_no": caller.dev_no,
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": self.infver,
            "opter_type": caller.opter_type,
            "opter": caller.opter,
            "opter_name": caller.opter_name,
            "inf_time": self._clock().astimezone(self.tz).strftime(DT),
            "fixmedins_code": self.fixmedins_code,
            "fixmedins_name": self.fixmedins_name,
            "sign_no": caller.sign_no,
            "input": input_doc,
        }

    def call(self, infno: str, caller: Caller, input_doc: dict[str, Any], msgid: str | None = None,
             read: Callable[[dict[str, Any]], T] | None = None, durable: bool = True) -> tuple[Receipt, T | None]:
        """Send one transaction; return the answer's receipt and its output read by `read`. durable=False: the
        caller's own durable intent holds the msgid and the input already (MessageLog.sent).

        Raises CentreRefused (infcode != 0), CentreUnreachable / TransportRefused (not processed),
        CentreTimeout / AnswerLost (uncertain)."""
        plain: dict[str, Any] = {}

        def build(mid: str) -> str:
            nonlocal plain
            plain = self.envelope(infno, mid, caller, input_doc)
            return wire.dumps(plain)

        # The out row is written before sending, with the msgid allocated in the same commit when the
        # caller brought none; the log keeps the plain envelope (a sealed one is unreadable in a dispute).
        # Sealing (an SM signer may fetch a token) happens after that commit, outside the writers' lock.
        msgid, logged = self.log.sent(msgid or self._msgids.allocate, infno, build, caller.opter,
                                      durable=durable or msgid is None)
        sealed, headers = self.signer.seal(plain)
        body = logged if isinstance(self.signer, PlainSigner) else wire.dumps(sealed)
        started = time.monotonic()

        def done(outcome: MessageOutcome, text: str = "", err: str = "", ref: str = "") -> None:
            self.log.received(msgid, infno, text, outcome, err_msg=err, inf_refmsgid=ref,
                              elapsed_ms=int((time.monotonic() - started) * 1000), opter=caller.opter)

        text = self._exchange(self.url, body, headers, infno, msgid, done)
        try:
            answer = self.signer.open(answer_object(text))
            if answer.get("infcode") in (None, ""):
                raise wire.WireFormatError("the answer has no infcode")
            infcode = int(wire.to_decimal(answer.get("infcode"), "infcode"))
        except (ValueError, wire.WireFormatError) as exc:
            done(MessageOutcome.LOST, text, f"unreadable answer: {exc}")
            raise AnswerLost(infno, msgid, f"unreadable answer: {exc}") from exc
        ref = wire.to_text(answer.get("inf_refmsgid"))
        err_msg = wire.to_text(answer.get("err_msg"))
        if infcode != 0:
            done(MessageOutcome.REFUSED, text, err_msg, ref)
            raise CentreRefused(infno, msgid, infcode, err_msg, ref)
        output = answer.get("output")
        output = output if isinstance(output, dict) else {}
        receipt = Receipt(infno=infno, msgid=msgid, inf_refmsgid=ref,
                          refmsg_time=wire.to_text(answer.get("refmsg_time")),
                          respond_time=wire.to_text(answer.get("respond_time")),
                          warn_msg=wire.to_text(answer.get("warn_msg")), output=output)
        try:
            result = read(output) if read else None
        except (ValueError, wire.WireFormatError) as exc:
            # Processed (infcode 0) but unreadable: for a settlement that is as bad as a lost answer.
            done(MessageOutcome.LOST, text, f"unreadable output: {exc}", ref)
            raise AnswerLost(infno, msgid, f"unreadable output: {exc}") from exc
        done(MessageOutcome.OK, text, "" if err_msg.lower() == "success" else err_msg, ref)
        return receipt, result

    def _exchange(self, url: str, body: str, headers: dict[str, str], infno: str, msgid: str,
                  done: Callable[..., None]) -> str:
        """Post one message and return the centre's answer as text; what went wrong on the way is logged
        (`done`) and raised as what it means for the transaction: not processed (CentreUnreachable,
        TransportRefused) or uncertain (CentreTimeout, AnswerLost). Both envelopes' gateways send through it."""
        try:
            reply = self.transport.post(url, body.encode("utf-8"),
                                        {"Content-Type": "application/json;charset=utf-8", **headers}, self.timeout)
        except NotSent as exc:
            done(MessageOutcome.UNREACHABLE, err=str(exc))
            raise CentreUnreachable(infno, msgid, str(exc)) from exc
        except NoAnswer as exc:
            done(MessageOutcome.TIMEOUT, err=str(exc))
            raise CentreTimeout(infno, msgid, self.timeout) from exc
        except Broken as exc:
            done(MessageOutcome.LOST, err=str(exc))
            raise AnswerLost(infno, msgid, str(exc)) from exc
        text = reply.body.decode("utf-8", errors="replace")
        if 400 <= reply.status < 500:
            done(MessageOutcome.TRANSPORT, text, f"HTTP {reply.status}")
            raise TransportRefused(infno, msgid, reply.status, text)
        if reply.status != 200:
            done(MessageOutcome.LOST, text, f"HTTP {reply.status}")
            raise AnswerLost(infno, msgid, f"HTTP {reply.status}")
        return text

    # --- the transactions -----------------------------------------------------------------------

    def _local(self, caller: Caller) -> str:
        """insuplc_admdvs where no insured person is known yet (9001, 1101): the caller's if it has one, else the
        store's own 统筹区 — the header must carry one (reference §1.1), and the centre routes by it."""
        return caller.insuplc_admdvs or self.mdtrtarea_admvs

    def sign_in(self, caller: Caller, mac: str, ip: str) -> SignInResult:
        signin = SignInInput(opter_no=caller.opter, mac=mac, ip=ip)
        receipt, out = self.call("9001", Caller(caller.opter, caller.opter_name, "", self._local(caller),
                                                caller.opter_type, caller.dev_no),
                                 {"signIn": codec.to_wire(signin)},
                                 read=lambda o: codec.from_wire(SignInOutb, o.get("signinoutb", o)))
        assert out is not None
        if not out.sign_no:
            raise AnswerLost("9001", receipt.msgid, "the sign-in answer carries no sign_no")
        return SignInResult(sign_no=out.sign_no, sign_time=out.sign_time, receipt=receipt)

    def sign_out(self, caller: Caller) -> SignOutResult:
        signout = SignOutInput(sign_no=caller.sign_no, opter_no=caller.opter)
        receipt, out = self.call("9002", caller, {"signOut": codec.to_wire(signout)},
                                 read=lambda o: codec.node(o.get("signoutoutb") or o.get("signinoutb") or o))
        return SignOutResult(sign_time=wire.to_text((out or {}).get("sign_time")), receipt=receipt)

    def person_info(self, caller: Caller, query: PersonQuery) -> PersonInfo:
        def read(o: dict[str, Any]) -> PersonInfo:
            return PersonInfo(baseinfo=codec.from_wire(BaseInfo, o.get("baseinfo")),
                              insuinfo=[codec.from_wire(InsuInfo, r) for r in codec.rows(o.get("insuinfo"))],
                              idetinfo=[codec.from_wire(IdetInfo, r) for r in codec.rows(o.get("idetinfo"))],
                              receipt=Receipt(infno="1101", msgid=""))

        receipt, out = self.call("1101", caller.with_insuplc(self._local(caller)), {"data": codec.to_wire(query)},
                                 read=read)
        assert out is not None
        return PersonInfo(baseinfo=out.baseinfo, insuinfo=out.insuinfo, idetinfo=out.idetinfo, receipt=receipt)

    def _settlement(self, infno: str, caller: Caller, input_doc: dict[str, Any], msgid: str | None) -> Settlement:
        def read(o: dict[str, Any]) -> tuple[SetlInfo, list[SetlDetail], list[DetlCutInfo]]:
            return (codec.from_wire(SetlInfo, o.get("setlinfo")),
                    [codec.from_wire(SetlDetail, r) for r in codec.rows(o.get("setldetail"))],
                    [codec.from_wire(DetlCutInfo, r) for r in codec.rows(o.get("detlcutinfo"))])

        receipt, out = self.call(infno, caller, input_doc, msgid, read=read)
        assert out is not None
        return Settlement(setlinfo=out[0], setldetail=out[1], detlcutinfo=out[2], receipt=receipt)

    def pre_settle(self, caller: Caller, request: SettleRequest) -> Settlement:
        return self._settlement("2101", caller, request.input(), None)

    def settle(self, caller: Caller, request: SettleRequest, msgid: str) -> Settlement:
        if not msgid:
            raise ValueError("2102 needs the msgid the caller committed as its intent")
        return self._settlement("2102", caller, request.input(), msgid)

    def cancel(self, caller: Caller, request: CancelRequest, msgid: str | None = None) -> Settlement:
        return self._settlement("2103", caller, {"data": codec.to_wire(request)}, msgid)

    def reverse(self, caller: Caller, request: ReversalRequest, msgid: str | None = None) -> ReversalResult:
        receipt, _ = self.call("2601", caller, {"data": codec.to_wire(request)}, msgid)
        return ReversalResult(receipt=receipt)

    def reconcile(self, caller: Caller, request: ReconRequest) -> Reconciliation:
        receipt, out = self.call("3201", caller, {"data": codec.to_wire(request)},
                                 read=lambda o: codec.from_wire(StmtInfo, o.get("stmtinfo")))
        assert out is not None
        return Reconciliation(stmtinfo=out, receipt=receipt)

    # --- files (9101 / 9102) and 3202 ----------------------------------------------------------------------
    # The byte array of 9101/9102 travels as base64 text in the JSON envelope (a Java byte[] as Jackson writes it).

    def upload_file(self, caller: Caller, filename: str, content: bytes) -> FileInfo:
        doc = {"fsUploadIn": {"in": base64.b64encode(content).decode("ascii"), "filename": filename,
                              "fixmedins_code": self.fixmedins_code}}
        _, out = self.call("9101", caller, doc, read=lambda o: codec.from_wire(FileInfo, o.get("fsUploadOut", o)))
        assert out is not None
        if not out.file_qury_no:
            raise wire.WireFormatError("9101: the answer carries no file_qury_no")
        return out

    def download_file(self, caller: Caller, file_qury_no: str, filename: str) -> bytes:
        doc = {"fsDownloadIn": {"file_qury_no": file_qury_no, "filename": filename,
                                "fixmedins_code": self.fixmedins_code}}

        def read(o: dict[str, Any]) -> bytes:
            text = wire.to_text(o.get("out", o.get("data", "")))
            try:
                return base64.b64decode(text, validate=True)
            except ValueError as exc:
                raise wire.WireFormatError(f"9102: the file is not base64: {exc}") from exc

        _, out = self.call("9102", caller, doc, read=read)
        assert out is not None
        return out

    def reconcile_detail(self, caller: Caller, request: ReconDetailRequest) -> FileInfo:
        _, out = self.call("3202", caller, {"data": codec.to_wire(request)},
                           read=lambda o: codec.from_wire(FileInfo, o.get("fileinfo")))
        assert out is not None
        return out
