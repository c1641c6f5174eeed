"""追溯码 received into the store: each code scanned on a receipt line names one box of that line's item and, once the
receipt is approved, of the batch made of it. The till's "sold once" check asks `received` (a code received here is
sold only as its item, and only from the shelf); the 3505 upload and a recall ask `codes_of_batches`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from server.db.models import Receipt, ReceiptLine, ReceiptTraceCode
from server.db.models.base import table_of
from server.db.uow import Reader
from server.rules.stock import Outcome
from server.services.context import Ctx
from server.services.stock import ledger, receiving

_CODE, _LINE, _RECEIPT = table_of(ReceiptTraceCode), table_of(ReceiptLine), table_of(Receipt)


@dataclass(frozen=True, slots=True)
class Received:
    code: str
    item_id: int
    batch_id: int | None  # None until approved, and for a rejected line
    approved: bool  # its receipt approved and its line not rejected
    on_shelf: int  # its batch's sellable stock now (split units)


def received(s: Reader, ctx: Ctx, code: str) -> Received | None:
    """The box a code names, if it was received into this store."""
    s.flush()
    row = s.connection().execute(
        sa.select(_LINE.c.item_id, _LINE.c.batch_id, _LINE.c.outcome, _RECEIPT.c.status)
        .join(_LINE, _LINE.c.id == _CODE.c.line_id).join(_RECEIPT, _RECEIPT.c.id == _LINE.c.receipt_id)
        .where(_CODE.c.store_id == ctx.store_id, _CODE.c.code == code.strip())).first()
    if row is None:
        return None
    approved = row.status == receiving.APPROVED and row.outcome != Outcome.REJECTED.value and row.batch_id is not None
    shelf = ledger.on_hand(s, [row.batch_id]).get(row.batch_id, (0, 0))[0] if row.batch_id is not None else 0
    return Received(code.strip(), int(row.item_id), row.batch_id, approved, int(shelf))


def codes_of_batches(s: Reader, ctx: Ctx, batch_ids: Sequence[int]) -> dict[int, list[str]]:
    """The codes received per batch (in the order scanned): what the 3505 upload sends with a batch's sales."""
    if not batch_ids:
        return {}
    s.flush()
    rows = s.connection().execute(
        sa.select(_LINE.c.batch_id, _CODE.c.code).join(_LINE, _LINE.c.id == _CODE.c.line_id)
        .where(_CODE.c.store_id == ctx.store_id, _LINE.c.batch_id.in_(sorted(set(batch_ids))))
        .order_by(_CODE.c.id))
    out: dict[int, list[str]] = {}
    for batch_id, code in rows:
        out.setdefault(int(batch_id), []).append(code)
    return out
