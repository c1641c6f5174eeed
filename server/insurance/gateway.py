"""`InsuranceGateway`: the NHSA transactions a retail pharmacy uses, whatever carries them.

Every call names who makes it (`Caller`: the operator, the sign-in's sign_no, the insured person's
参保地 for the envelope). Every call may raise a `GatewayError` (server.insurance.errors); its
`uncertain` flag tells a settlement flow whether the centre may have acted.

Never call a gateway method inside an open database transaction (DESIGN: intent before effect):
the message log commits on its own, and a slow centre must not hold the store's write lock.
3501–3507 (进销存 uploads) go through the same envelope (`HttpGateway.call`) from server.insurance.uploads,
sent by the uploads worker from the outbox (server.services.outbox), never inline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from server.insurance.dicts import OPTER_TYPE_CLERK
from server.insurance.messages import (
    CancelRequest,
    FileInfo,
    PersonInfo,
    PersonQuery,
    Receipt,
    Reconciliation,
    ReconDetailRequest,
    ReconRequest,
    ReversalRequest,
    ReversalResult,
    Settlement,
    SettleRequest,
    SignInResult,
    SignOutResult,
)


@dataclass(frozen=True, slots=True)
class Caller:
    """The envelope's per-call fields: opter, opter_name, opter_type, sign_no, insuplc_admdvs, dev_no."""

    opter: str  # 经办人 code (the user's username)
    opter_name: str
    sign_no: str = ""  # from 9001; empty on 9001 itself
    insuplc_admdvs: str = ""  # 参保地 from 1101's insuinfo once psn_no is in the input; 9001 and 1101 send the
    # store's own 统筹区 when it is empty (the gateway fills it: the header always carries one there)
    opter_type: str = OPTER_TYPE_CLERK
    dev_no: str = ""  # the till's registered device number

    def with_insuplc(self, admdvs: str) -> Caller:
        return Caller(self.opter, self.opter_name, self.sign_no, admdvs, self.opter_type, self.dev_no)


@runtime_checkable


class Carrier(Protocol):
    """What sends one transaction and reads its answer (the HTTP gateways): the uploads' rows and the prescription
    platform's messages go through it."""

    def call(self, infno: str, caller: Caller, input_doc: dict[str, Any], msgid: str | None = None,
             read: Any = None, durable: bool = True) -> tuple[Receipt, Any]: ...


class InsuranceGateway(Protocol):
    def new_msgid(self) -> str:
        """A fresh msgid (its own committed transaction). Prefer server.insurance.msgid.allocate_msgid
        inside the transaction that records the intent."""
        ...

    def sign_in(self, caller: Caller, mac: str, ip: str) -> SignInResult:
        """9001 签到."""
        ...

    def sign_out(self, caller: Caller) -> SignOutResult:
        """9002 签退 of caller.sign_no."""
        ...

    def person_info(self, caller: Caller, query: PersonQuery) -> PersonInfo:
        """1101 人员信息获取."""
        ...

    def pre_settle(self, caller: Caller, request: SettleRequest) -> Settlement:
        """2101 药店预结算: the split, nothing booked."""
        ...

    def settle(self, caller: Caller, request: SettleRequest, msgid: str) -> Settlement:
        """2102 药店结算 with a msgid the caller committed as its intent first. Nothing leaves before a durable
        commit of the message's out row (the message log): the card settlement's intent, committed just
        before without a sync of its own, reaches the disk with it (server.services.card.settle)."""
        ...

    def cancel(self, caller: Caller, request: CancelRequest, msgid: str | None = None) -> Settlement:
        """2103 药店结算撤销 (amounts come back negative from live centres; the sandbox does the same)."""
        ...

    def reverse(self, caller: Caller, request: ReversalRequest, msgid: str | None = None) -> ReversalResult:
        """2601 冲正 of the message `request.omsgid` (a 2102 or 2103 whose answer was lost)."""
        ...

    def reconcile(self, caller: Caller, request: ReconRequest) -> Reconciliation:
        """3201 医药机构费用结算对总账."""
        ...

    def upload_file(self, caller: Caller, filename: str, content: bytes) -> FileInfo:
        """9101 文件上传 (a ZIP of TAB-separated UTF-8 text): the centre's file_qury_no for the file."""
        ...

    def download_file(self, caller: Caller, file_qury_no: str, filename: str) -> bytes:
        """9102 文件下载: the file's bytes."""
        ...

    def reconcile_detail(self, caller: Caller, request: ReconDetailRequest) -> FileInfo:
        """3202 医药机构费用结算对明细账 of the file uploaded by 9101: the result file to fetch by 9102."""
        ...
