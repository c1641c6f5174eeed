"""3501–3507 (进销存 uploads) over the gateway's envelope (reference §4): one row per message, its node by
transaction, the answer read at both levels.

[HN]/[JX] give these transactions no output node: infcode 0 is acceptance. Some regions answer infcode 0 and put
a business result in the output (a success flag and a message); where the output has one, it is read too, so a
row refused there is not taken as accepted. `Outcome` says which: accepted, rejected (the centre refused the
content: a person must look), or the gateway's transport error propagates (the worker retries it).

Kept beside the gateway rather than on `InsuranceGateway` so a region's adapter need not change to carry them:
any gateway with the HTTP adapter's `call` sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.insurance import wire
from server.insurance.errors import CentreRefused, ClockSkew
from server.insurance.gateway import Caller, Carrier
from server.insurance.messages import Receipt

NODE = {"3501": "invinfo", "3502": "invinfo", "3503": "purcinfo", "3504": "purcinfo", "3505": "selinfo",
        "3506": "selinfo", "3507": "data"}
# The business result some regions put in the output: {"succ_flag": "1"|"0", "fail_msg": …} (at the top or under
# "result"); absent, infcode alone decides.
_FAILED_FLAGS = frozenset({"0", "false", "fail", "failed", "-1"})



@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: bool
    message: str  # the centre's words: why it refused, or a note (a duplicate it already held)
    receipt: Receipt | None
    duplicate: bool = False  # the centre already held this fact (a retry of one that got through)


def business_result(output: dict[str, Any]) -> tuple[bool, str, bool]:
    """(accepted, message, duplicate) from an output that carries a business result; (True, "", False) without."""
    inner = output.get("result")
    node: dict[str, Any] = inner if isinstance(inner, dict) else output
    flag = wire.to_text(node.get("succ_flag")).strip().lower()
    message = wire.to_text(node.get("fail_msg") or node.get("err_msg") or node.get("msg"))
    duplicate = wire.to_text(node.get("dup_flag")).strip() == "1"
    if flag in _FAILED_FLAGS:
        return False, message or "中心未接收该记录 / the centre did not take the row", duplicate
    return True, message, duplicate


def send(gateway: Carrier, caller: Caller, txn: str, row: dict[str, Any], msgid: str) -> Outcome:
    """One upload with the msgid its outbox row keeps (every retry the same). A transport error (unreachable,
    timeout, lost answer) propagates: its outcome is unknown or nothing was done, and the row is sent again.
    The row's claim committed its msgid and payload durably before this: the message log's out row need not
    wait for the disk again (durable=False)."""
    # 3501–3507 carry one row under their node; the platform's 72xx reports carry their whole input (data, selinfo)
    doc = {NODE[txn]: row} if txn in NODE else row
    try:
        receipt, _ = gateway.call(txn, caller, doc, msgid, durable=False)
    except ClockSkew:
        raise  # the envelope's stamp, not the row: sent again after the wait, as a transport failure is
    except CentreRefused as exc:
        return Outcome(False, exc.err_msg or f"infcode {exc.infcode}", None)
    accepted, message, duplicate = business_result(receipt.output)
    return Outcome(accepted, message, receipt, duplicate)
