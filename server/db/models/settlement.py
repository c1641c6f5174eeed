"""The insured person on a sale (1101 snapshot) and the card settlement (2101/2102/2103/2601).

A settlement row is written as an intent (its msgid committed) before 2102 leaves the process; the
answer is recorded with the sale's completion in one transaction. A row whose outcome is unknown
(`uncertain`, or an `intent` left by a crash) blocks its sale until it is resolved (2601 by msgid).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import JSONDoc, UTCDateTime


class SaleInsured(Table, table=True):
    """Who the card pays for: the 1101 answer as it stood when the sale was identified."""

    __tablename__ = "sale_insured"
    __audit_mask__ = ("certno", "buyer_certno")
    # card numbers, e-voucher tokens: never in the log; a signature-pad image by its digest (signature_sha256,
    # which audit verify checks against the bytes)
    __audit_exclude__ = ("mdtrt_cert_no", "card_sn", "signature_image")

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    sale_id: str = Field(foreign_key="sale.id", max_length=36, unique=True)
    method: str = Field(max_length=8)  # card | voucher | id
    id_reason: str = Field(default="", max_length=200)  # why an ID number was typed instead of a card
    mdtrt_cert_type: str = Field(max_length=3)  # 01 电子凭证, 02 身份证, 03 社保卡
    mdtrt_cert_no: str = Field(max_length=600)
    card_sn: str = Field(default="", max_length=40)
    psn_no: str = Field(max_length=30)
    psn_name: str = Field(max_length=50)
    psn_cert_type: str = Field(default="01", max_length=6)
    certno: str = Field(max_length=50)  # whole here; masked in every view and in the log (SEC-06)
    gend: str = Field(default="", max_length=6)
    insutype: str = Field(max_length=6)
    psn_type: str = Field(default="", max_length=6)
    balc_fen: int = 0  # the personal account's balance at identification
    insuplc_admdvs: str = Field(max_length=6)
    buyer_name: str = Field(default="", max_length=50)  # 代购 (RX-11): who bought for the insured person
    buyer_certno: str = Field(default="", max_length=50)
    identified_by: int = Field(foreign_key="app_user.id")
    identified_at: datetime = Field(sa_type=UTCDateTime)
    # CARD-05: the purchase list confirmed by the insured person's (or the proxy buyer's) signature, as given:
    # how (key: signed on paper, confirmed at the till by the operator; pad: the signature pad's image), who
    # recorded it, when, and which list (the digest of its lines: a list changed after signing is signed again).
    # A new identification starts unsigned. (No foreign key on signed_by: SQLite would rebuild the guarded table.)
    signed_how: str = Field(default="", max_length=8)
    signed_by: int | None = None
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    signed_lines: str = Field(default="", max_length=64)
    signature_image: bytes | None = Field(default=None, sa_type=LargeBinary)
    signature_sha256: str = Field(default="", max_length=64)


class SettlementStatus(StrEnum):
    INTENT = "intent"  # msgid committed, 2102 about to leave
    SETTLED = "settled"  # the centre's answer recorded with the completed sale
    UNCERTAIN = "uncertain"  # sent, no answer: resolved by 2601 before anything else happens to the sale
    FAILED = "failed"  # certainly not settled (refused, never sent): the sale is open again
    REVERSED = "reversed"  # 2601 took it back: the sale is open again
    CANCELLED = "cancelled"  # 2103 after completion: the card part went back to the fund and the account


class CardSettlement(Table, table=True):
    __tablename__ = "card_settlement"
    __table_args__ = (
        UniqueConstraint("store_id", "msgid"),
        # Never two live settlements for one sale, whatever two racing requests checked before.
        Index("ux_card_settlement_live", "sale_id", unique=True,
              sqlite_where=text("status IN ('intent', 'uncertain', 'settled')"),
              postgresql_where=text("status IN ('intent', 'uncertain', 'settled')")),
    )

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    sale_id: str = Field(foreign_key="sale.id", max_length=36, index=True)
    msgid: str = Field(max_length=30)  # our 2102 msgid = medins_setl_id; 2601 reverses by it
    status: str = Field(default=SettlementStatus.INTENT.value, max_length=10, index=True)
    medfee_sumamt_fen: int  # what was sent: the card-eligible lines (CARD-01)
    fund_pay_fen: int = 0
    acct_pay_fen: int = 0
    cash_pay_fen: int = 0  # the insured person's cash part of the settled lines
    balc_fen: int | None = None  # the personal account after this settlement (CARD-05)
    setl_id: str = Field(default="", max_length=30)
    mdtrt_id: str = Field(default="", max_length=30)
    lines: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONDoc)  # the drugdetail sent
    answer: dict[str, Any] | None = Field(default=None, sa_type=JSONDoc)  # setlinfo as received
    error: str = Field(default="", max_length=300)
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_msgid: str = Field(default="", max_length=30)
    cancel_reason: str = Field(default="", max_length=200)
    cancelled_by: int | None = Field(default=None, foreign_key="app_user.id")
    cancel_confirmed_by: int | None = Field(default=None, foreign_key="app_user.id")  # a later-day reversal (CARD-04)
