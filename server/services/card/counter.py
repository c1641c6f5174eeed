"""Where and by whom a card sale is made: the sale open at this till (CARD-06), the store's standing for the
card (AGR-01), the operator and their sign-in of today (9001) — what every step checks before the centre is
asked, read by prepared statements (a few rows, no ORM). A refusal is worded by the function that owns it
(store.profile.usable_till, insurance.sign_in), asked only when the fast read says there is one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.db.models import AgreementEvent, InsuranceSignIn, SaleStatus, Store, Till, User
from server.db.models.base import table_of
from server.db.prepared import Prepared
from server.db.uow import Unit, orm
from server.errors import conflict
from server.insurance.gateway import Caller
from server.rules.agreement import AgreementStep, span_refusals, till_refusals
from server.services import sales_ledger
from server.services.context import Ctx
from server.services.insurance import sign_in as ins
from server.services.store.profile import usable_till

_TILL, _STORE, _EVENT = table_of(Till), table_of(Store), table_of(AgreementEvent)
_SIGN_IN, _USER = table_of(InsuranceSignIn), table_of(User)

# The till a terminal says it is, with its store's site and licence (AGR-01/02) in the same row.
_POINT = Prepared(sa.select(_TILL.c.id, _TILL.c.store_id, _TILL.c.site_code, _TILL.c.status,
                            _STORE.c.site_code.label("store_site"), _STORE.c.drug_licence_no,
                            _STORE.c.drug_licence_expiry)
                  .select_from(_TILL).join(_STORE, _STORE.c.id == _TILL.c.store_id)
                  .where(_TILL.c.store_id == sa.bindparam("sid"), _TILL.c.code == sa.bindparam("code")))

# The agreement's history in the order its events take effect (AGR-01: the effective date decides).
_HISTORY = Prepared(sa.select(_EVENT.c.status, _EVENT.c.effective_on, _EVENT.c.ends_on)
                    .where(_EVENT.c.store_id == sa.bindparam("sid"))
                    .order_by(_EVENT.c.effective_on, _EVENT.c.id))

# The operator with the sign_no of their newest open sign-in of today (ins.current_sign_in's row), if any.
_SIGN_NO = (sa.select(_SIGN_IN.c.sign_no)
            .where(_SIGN_IN.c.store_id == sa.bindparam("sid"), _SIGN_IN.c.user_id == _USER.c.id,
                   _SIGN_IN.c.business_date == sa.bindparam("today"), _SIGN_IN.c.signed_out_at.is_(None))
            .order_by(_SIGN_IN.c.id.desc()).limit(1).scalar_subquery())
_OPERATOR = Prepared(sa.select(_USER.c.id, _USER.c.store_id, _USER.c.username, _USER.c.display_name,
                               _SIGN_NO.label("sign_no"))
                     .where(_USER.c.id == sa.bindparam("uid")))


@dataclass(frozen=True, slots=True)
class CardSale:
    sale: Any  # the sale's row (sales_ledger's named tuple)
    point: Any  # the till with its store's site and standing (_POINT's row)


def point_of(u: Unit, ctx: Ctx, till_code: str) -> Any:
    """The registered till the terminal says it is, with its store's standing; refused unless registered,
    active and bound here (AGR-02, CARD-06)."""
    row = _POINT.first(u.connection(), {"sid": ctx.store_id, "code": till_code})
    if row is None or till_refusals(row.store_id, row.site_code, row.status, ctx.store_id, row.store_site):
        usable_till(orm(u), ctx, till_code)  # the refusal, worded once
        raise AssertionError("usable_till refuses what till_refusals refuses")
    return row


def open_card_sale(u: Unit, ctx: Ctx, sale_id: str, till_code: str, lock: bool = False) -> CardSale:
    """The sale, open at this till, with nothing unresolved: the only sale the card may pay."""
    sale = sales_ledger.sale(u, ctx, sale_id, lock=lock)
    point = point_of(u, ctx, till_code)  # CARD-06
    if sale.till_id != point.id:
        raise conflict("SALE-TILL", "该销售单正在其他收款机上处理", "the sale is open on another till")
    if sale.status == SaleStatus.SETTLING.value:
        raise conflict("SETTLE-UNCERTAIN", "该销售单医保结算结果待确认，请先处理", "the sale's card settlement is unresolved",
                       sale_id=sale_id)
    if sale.status != SaleStatus.OPEN.value:
        raise conflict("SALE-STATE", "只有未结账的销售单可以医保结算", f"the sale is {sale.status}", status=sale.status)
    return CardSale(sale, point)


def standing_refusals(u: Unit, ctx: Ctx, point: Any, opened_at: datetime) -> list[Any]:
    """AGR-01: whether the store may settle this sale with the card — its agreement (each event from its
    effective date) and licence in force today and all through the sale's own time since it was opened
    (`opened_at`): a cost incurred during a suspension is never settled, whenever the sale is paid."""
    history = [AgreementStep(r.status, r.effective_on, r.ends_on) for r in _HISTORY.rows(u.connection(),
                                                                                         {"sid": ctx.store_id})]
    opened_on = min(opened_at.astimezone(ctx.settings.store.tz).date(), ctx.today)
    return span_refusals(history, opened_on, ctx.today, point.drug_licence_no, point.drug_licence_expiry)


def caller(u: Unit, ctx: Ctx, insuplc_admdvs: str = "", dev_no: str = "", signed_in: bool = True) -> Caller:
    """The envelope's operator for the acting user, with the sign_no of today's sign-in; `signed_in`: refused
    (INS-SIGNIN) without one, as settlement needs it (reference §1.4)."""
    user = (_OPERATOR.first(u.connection(), {"uid": ctx.actor.user_id, "sid": ctx.store_id, "today": ctx.today})
            if ctx.actor.user_id is not None else None)
    if user is None or user.store_id != ctx.store_id:
        ins.caller_for(orm(u), ctx)  # the refusal (INS-OPERATOR), worded once
        raise AssertionError("caller_for refuses an operator who is not of this store")
    if user.sign_no is None and signed_in:
        ins.require_signed_in(orm(u), ctx)  # the refusal (INS-SIGNIN), worded once
        raise AssertionError("require_signed_in refuses an operator not signed in today")
    return Caller(ins.opter_code(user), user.display_name, user.sign_no or "", insuplc_admdvs, dev_no=dev_no)
