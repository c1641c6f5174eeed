"""The card wing's own rows — the insured person on a sale (sale_insured, 1101's snapshot) and the card
settlement (card_settlement: the intent, its answer, its cancellation) — read and written here only, by
Core statements built once and run prepared (server.db.prepared), as the sales ledger writes a sale.

One table, one write style: an ORM Session that would write one of these rows refuses to flush (the guard
in server.db.uow), so a settlement's status is never changed behind a copy someone holds. Reads return the
row as stored (RETURNING after a write), a named tuple with the table's columns; `image` is its audit image.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server import audit
from server.db.models import CardSettlement, SaleInsured, SettlementStatus
from server.db.models.base import table_of
from server.db.prepared import Prepared
from server.db.uow import Unit, refuse_orm_writes
from server.privacy import mask_id

refuse_orm_writes(SaleInsured, CardSettlement)

INSURED = table_of(SaleInsured)
SETTLEMENT = table_of(CardSettlement)

_INSURED_KEYS = tuple(c.key for c in INSURED.c if c.key != "id")
_SETTLEMENT_KEYS = tuple(c.key for c in SETTLEMENT.c if c.key != "id")


def image(model: type[SaleInsured] | type[CardSettlement], row: Any) -> dict[str, Any] | None:
    """The row's audit image, as audit.snapshot takes an ORM row's: the model's excluded columns left out
    (card numbers, e-voucher tokens), its identity numbers masked (SEC-06)."""
    if row is None:
        return None
    exclude, masked = set(model.__audit_exclude__), set(model.__audit_mask__)
    return audit.row_image({k: mask_id(v) if k in masked else v for k, v in row._asdict().items() if k not in exclude})


# --- the insured person ---------------------------------------------------------------------------------

_INSURED_OF = Prepared(sa.select(INSURED).where(INSURED.c.sale_id == sa.bindparam("sale")))
_ADD_INSURED = Prepared(sa.insert(INSURED).returning(*INSURED.c), _INSURED_KEYS)
_SET_INSURED = Prepared(sa.update(INSURED).where(INSURED.c.id == sa.bindparam("id_"))
                        .values({k: sa.bindparam(k) for k in _INSURED_KEYS if k not in ("store_id", "sale_id")})
                        .returning(*INSURED.c))


SIGNATURE_KEYS = ("signed_how", "signed_by", "signed_at", "signed_lines", "signature_image", "signature_sha256")
UNSIGNED: dict[str, Any] = {"signed_how": "", "signed_by": None, "signed_at": None, "signed_lines": "",
                            "signature_image": None, "signature_sha256": ""}
_SIGN = Prepared(sa.update(INSURED).where(INSURED.c.id == sa.bindparam("id_"))
                 .values({k: sa.bindparam(k) for k in SIGNATURE_KEYS}).returning(*INSURED.c))


def insured_of(u: Unit, sale_id: str) -> Any:
    """The insured person the sale was identified for, or None."""
    u.flush()
    return _INSURED_OF.first(u.connection(), {"sale": sale_id})


def put_insured(u: Unit, existing: Any, store_id: int, sale_id: str, values: dict[str, Any]) -> Any:
    """The sale's snapshot made, or replaced by a new identification (one row per sale); the row now.
    `values`: every column but id, store_id and sale_id."""
    if existing is None:
        return _ADD_INSURED.first(u.connection(), {"store_id": store_id, "sale_id": sale_id, **values})
    return _SET_INSURED.first(u.connection(), {"id_": existing.id, **values})


def sign(u: Unit, insured_id: int, values: dict[str, Any]) -> Any:
    """The purchase list's signature recorded on the snapshot (CARD-05; values: SIGNATURE_KEYS); the row now."""
    return _SIGN.first(u.connection(), {"id_": insured_id, **values})


# --- the settlement ---------------------------------------------------------------------------------------

_UNRESOLVED = sa.or_(SETTLEMENT.c.status == SettlementStatus.INTENT.value,
                     SETTLEMENT.c.status == SettlementStatus.UNCERTAIN.value)
_BY_ID = Prepared(sa.select(SETTLEMENT).where(SETTLEMENT.c.id == sa.bindparam("id")))
_BY_ID_LOCKED = Prepared(sa.select(SETTLEMENT).where(SETTLEMENT.c.id == sa.bindparam("id")).with_for_update())
_SETTLED = Prepared(sa.select(SETTLEMENT).where(SETTLEMENT.c.sale_id == sa.bindparam("sale"),
                                                SETTLEMENT.c.status == SettlementStatus.SETTLED.value))
_CANCELLED = Prepared(sa.select(SETTLEMENT.c.id).where(SETTLEMENT.c.sale_id == sa.bindparam("sale"),
                                                       SETTLEMENT.c.status == SettlementStatus.CANCELLED.value))
_LIVE_BESIDE = Prepared(sa.select(SETTLEMENT.c.id).where(SETTLEMENT.c.sale_id == sa.bindparam("sale"),
                                                         SETTLEMENT.c.id != sa.bindparam("id"), _UNRESOLVED))
_STORE_UNRESOLVED = Prepared(sa.select(SETTLEMENT).where(SETTLEMENT.c.store_id == sa.bindparam("sid"), _UNRESOLVED)
                             .order_by(SETTLEMENT.c.id))
_CANCELS_PENDING = Prepared(sa.select(SETTLEMENT).where(SETTLEMENT.c.store_id == sa.bindparam("sid"),
                                                        SETTLEMENT.c.status == SettlementStatus.SETTLED.value,
                                                        SETTLEMENT.c.cancel_msgid != "")
                            .order_by(SETTLEMENT.c.id))
_ADD_SETTLEMENT = Prepared(sa.insert(SETTLEMENT).returning(*SETTLEMENT.c), _SETTLEMENT_KEYS)
_CHANGES: dict[tuple[str, ...], Prepared] = {}


def settlement(u: Unit, settlement_id: int, lock: bool = False) -> Any:
    """The settlement's row (locked until the unit commits, when `lock`), or None."""
    u.flush()
    return (_BY_ID_LOCKED if lock else _BY_ID).first(u.connection(), {"id": settlement_id})


def settled_of(u: Unit, sale_id: str) -> Any:
    """The sale's settlement in effect, or None."""
    u.flush()
    return _SETTLED.first(u.connection(), {"sale": sale_id})


def cancelled_of(u: Unit, sale_id: str) -> int | None:
    """A cancelled (2103) settlement of the sale, if any: its id."""
    u.flush()
    return _CANCELLED.scalar(u.connection(), {"sale": sale_id})


def live_beside(u: Unit, sale_id: str, settlement_id: int) -> bool:
    """Whether the sale has another settlement whose outcome is not known yet."""
    return _LIVE_BESIDE.first(u.connection(), {"sale": sale_id, "id": settlement_id}) is not None


def unresolved(u: Unit, store_id: int) -> list[Any]:
    """The store's settlements left as an intent or uncertain, oldest first."""
    u.flush()
    return _STORE_UNRESOLVED.rows(u.connection(), {"sid": store_id})


def cancels_pending(u: Unit, store_id: int) -> list[Any]:
    """Settlements in effect with a 2103 on record whose outcome is unknown."""
    u.flush()
    return _CANCELS_PENDING.rows(u.connection(), {"sid": store_id})


def add_intent(u: Unit, values: dict[str, Any]) -> Any:
    """A new settlement, as an intent (values: the columns the intent knows; the rest take their defaults)."""
    row = {"status": SettlementStatus.INTENT.value, "fund_pay_fen": 0, "acct_pay_fen": 0, "cash_pay_fen": 0,
           "balc_fen": None, "setl_id": "", "mdtrt_id": "", "answer": None, "error": "", "resolved_at": None,
           "cancel_msgid": "", "cancel_reason": "", "cancelled_by": None, "cancel_confirmed_by": None} | values
    return _ADD_SETTLEMENT.first(u.connection(), row)


def change(u: Unit, settlement_id: int, **changes: Any) -> Any:
    """Set columns of a settlement; the row as it is now."""
    keys = tuple(sorted(changes))
    statement = _CHANGES.get(keys)
    if statement is None:  # one statement per set of columns changed, built on first use
        statement = _CHANGES.setdefault(keys, Prepared(
            sa.update(SETTLEMENT).where(SETTLEMENT.c.id == sa.bindparam("id_"))
            .values({k: sa.bindparam(k) for k in keys}).returning(*SETTLEMENT.c)))
    u.flush()
    return statement.first(u.connection(), {"id_": settlement_id, **changes})
