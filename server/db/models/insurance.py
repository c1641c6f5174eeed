"""The insurance centre link: every message exchanged, the msgid sequence, the operators' sign-ins.

The message log is kept whole (the bodies exactly as sent and received) so a dispute with the
agency can be answered; logs and screens show them masked (SEC-06). It is append-only: an
exchange is an `out` row written before sending and an `in` row with what came back (or why
nothing did).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import UTCDateTime


class MessageDirection(StrEnum):
    OUT = "out"  # sent to the centre
    IN = "in"  # received (or the reason nothing was)


class MessageOutcome(StrEnum):
    SENT = "sent"  # an out row: about to leave
    OK = "ok"  # infcode 0
    REFUSED = "refused"  # infcode != 0 (err_msg kept)
    TIMEOUT = "timeout"  # no answer in time: uncertain
    LOST = "lost"  # connection dropped, gateway 5xx, garbled answer: uncertain
    UNREACHABLE = "unreachable"  # never left: certainly not processed
    TRANSPORT = "transport"  # the gateway turned it away (HTTP 4xx): not processed


class InsuranceMessage(Table, table=True):
    __tablename__ = "insurance_message"
    __table_args__ = (Index("ix_insurance_message_store_msgid", "store_id", "msgid"),)
    # Each row is imaged in the audit chain as it is written (ST-02): the body by digest, so the log shown to
    # managers carries no identity number (SEC-06) and an edit of a single character is still named.
    __audit_digest__ = ("body",)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    msgid: str = Field(max_length=30)
    infno: str = Field(max_length=6)
    direction: str = Field(max_length=3)
    at: datetime = Field(sa_type=UTCDateTime)
    body: str = Field(default="", sa_type=Text)  # exactly as sent / received; "" when nothing came back
    outcome: str = Field(max_length=12)
    err_msg: str = Field(default="", max_length=500)
    inf_refmsgid: str = Field(default="", max_length=40)
    opter: str = Field(default="", max_length=30)
    elapsed_ms: int | None = None  # in rows: from sending to this outcome


class InsuranceMsgidCounter(Table, table=True):
    """The last msgid handed out: its timestamp part and sequence, so msgids rise across restarts."""

    __tablename__ = "insurance_msgid_counter"

    store_id: int = Field(foreign_key="store.id", primary_key=True)
    stamp: str = Field(max_length=14)  # yyyyMMddHHmmss, store-local
    seq: int = 0  # 1..9999 within the stamp


class InsuranceSignIn(Table, table=True):
    """An operator's 9001 sign-in for a business day, closed by 9002 (sign_no goes into every envelope)."""

    __tablename__ = "insurance_sign_in"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    user_id: int = Field(foreign_key="app_user.id", index=True)
    opter: str = Field(max_length=30)
    sign_no: str = Field(max_length=30)
    sign_time: str = Field(default="", max_length=19)  # the centre's, as it said it
    business_date: date
    signed_in_at: datetime = Field(sa_type=UTCDateTime)
    mac: str = Field(default="", max_length=20)
    ip: str = Field(default="", max_length=20)
    signed_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sign_out_time: str = Field(default="", max_length=19)
