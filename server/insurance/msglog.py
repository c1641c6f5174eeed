"""The message log: every message to and from the centre, whole in the database, masked in logs.

Each row commits in its own transaction, never the caller's: the `out` row is on disk before the
message leaves, and the `in` row records what came back — or that nothing did — even when the
caller's own transaction is later rolled back. (The caller still writes its intent first; this log
is the evidence, not the recovery state.) Being evidence in a dispute with the centre, each row is
imaged in the audit chain in its own transaction (the body by digest), so `audit verify` names a row
edited, deleted or slipped in behind the service's back (ST-02); the database refuses UPDATE and DELETE.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server import audit
from server.db.models import InsuranceMessage, MessageDirection, MessageOutcome
from server.db.models.base import table_of
from server.db.prepared import Prepared
from server.db.types import utcnow
from server.db.uow import Unit, core_unit
from server.insurance import wire
from server.privacy import mask_id

log = logging.getLogger("dingdian.insurance")

# Identity numbers and credentials (SEC-06): certificate numbers, card numbers and card
# identification codes, e-voucher tokens (mdtrt_cert_no carries whichever the person showed).
PII_KEYS = frozenset({"certno", "mdtrt_cert_no", "card_sn", "prsc_dr_certno", "phar_certno", "ecToken",
                      "ec_token", "epc_token", "cert_no", "idcard"})


def masked(doc: Any) -> Any:
    """A copy of a message with every identity number masked (mask_id), for logs and screens."""
    if isinstance(doc, dict):
        return {k: (mask_id(wire.to_text(v)) if k in PII_KEYS and v not in (None, "") else masked(v))
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [masked(v) for v in doc]
    return doc


def masked_text(body: str) -> str:
    """The masked form of a message body; a body that is not JSON is not echoed at all."""
    if not body:
        return ""
    try:
        return wire.dumps(masked(wire.loads(body)))
    except (ValueError, wire.WireFormatError):
        return f"<{len(body)} bytes, not JSON: not logged>"


# Two rows per gateway call, each its own commit: written as one prepared insert, without an ORM round.
_MESSAGE = table_of(InsuranceMessage)
_ROW = Prepared(sa.insert(_MESSAGE).returning(_MESSAGE.c.id),
                columns=["store_id", "msgid", "infno", "direction", "at", "body", "outcome", "err_msg",
                         "inf_refmsgid", "opter", "elapsed_ms"])


class MessageLog:
    def __init__(self, engine: Engine, store_id: int) -> None:
        self._engine = engine
        self._store_id = store_id

    def sent(self, msgid: str | Callable[[Unit], str], infno: str, body: str | Callable[[str], str],
             opter: str = "", durable: bool = True) -> tuple[str, str]:
        """Before sending: durable, so what left the store is provable whatever happens next.

        `msgid` may be an allocator and `body` a function of the msgid: the msgid is then taken in the
        same transaction as the out row (one durable commit). Returns (msgid, body). durable=False: the caller
        committed the message's intent durably itself, with its msgid and content (an outbox row claimed):
        the out row is committed at synchronous=NORMAL (it survives a crash of the service; after a power
        cut the intent sends the same message again) — a sync per message held the writers' lock that long."""
        with core_unit(self._engine, durable=durable) as s:
            msgid = msgid if isinstance(msgid, str) else msgid(s)
            body = body if isinstance(body, str) else body(msgid)
            self._add(s, msgid, infno, MessageDirection.OUT, body, MessageOutcome.SENT, opter=opter)
        if log.isEnabledFor(logging.INFO):  # masking re-reads the body: only when someone listens
            log.info("→ %s %s %s", infno, msgid, masked_text(body))
        return msgid, body

    def received(self, msgid: str, infno: str, body: str, outcome: MessageOutcome, *, err_msg: str = "",
                 inf_refmsgid: str = "", elapsed_ms: int | None = None, opter: str = "") -> None:
        """What came back, or why nothing did. (NORMAL sync: the caller's next durable commit carries it.)"""
        with core_unit(self._engine, durable=False) as s:
            self._add(s, msgid, infno, MessageDirection.IN, body, outcome, err_msg=err_msg[:500],
                      inf_refmsgid=inf_refmsgid[:40], opter=opter, elapsed_ms=elapsed_ms)
        level = logging.INFO if outcome is MessageOutcome.OK else logging.WARNING
        if log.isEnabledFor(level):
            log.log(level, "← %s %s %s %s %s", infno, msgid, outcome.value, err_msg, masked_text(body))

    def _add(self, s: Unit, msgid: str, infno: str, direction: MessageDirection, body: str, outcome: MessageOutcome,
             *, err_msg: str = "", inf_refmsgid: str = "", opter: str = "", elapsed_ms: int | None = None) -> None:
        row = {"store_id": self._store_id, "msgid": msgid, "infno": infno, "direction": direction.value,
               "at": utcnow(), "body": body, "outcome": outcome.value, "err_msg": err_msg,
               "inf_refmsgid": inf_refmsgid, "opter": opter, "elapsed_ms": elapsed_ms}
        row["id"] = _ROW.scalar(s.connection(), row)
        # The operator is the one the envelope names (the user's username); the log knows no user id.
        audit.record(s, self._store_id, audit.Actor(None, opter or audit.SYSTEM.name), f"insurance.message.{direction.value}",
                     "insurance_message", row["id"], None, audit.image(InsuranceMessage, row))


def messages_for(s: Session, store_id: int, msgid: str) -> list[InsuranceMessage]:
    """Every row of one exchange, in order (what was sent, what came back)."""
    return list(s.exec(select(InsuranceMessage)
                       .where(InsuranceMessage.store_id == store_id, InsuranceMessage.msgid == msgid)
                       .order_by(col(InsuranceMessage.id))))
