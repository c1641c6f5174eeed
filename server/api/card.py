"""Paying with the 医保 card: identify the insured person, the split, 2101 preview, 2102 settle, 2601 resolve."""

from __future__ import annotations

import base64
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from server.api.deps import (
    CtxDep,
    RowId,
    Who,
    approval_of,
    get_state,
    guarded,
    json_response_bytes,
    second_of,
    unit_of_work,
)
from server.api.insurance import gateway_of
from server.api.schemas.card import (
    CancelIn,
    IdentifyIn,
    InsuredOut,
    MappingUploadedIn,
    PreviewIn,
    PreviewOut,
    SettleIn,
    SettlementOut,
    SignatureIn,
    SplitLineOut,
    SplitOut,
)
from server.api.schemas.selling import ReturnOut, SaleOut, TenderIn
from server.api.selling import SalePath, return_out, sale_out, till_of
from server.auth.grants import Authoriser
from server.db.models.base import id_of
from server.db.uow import Unit, read_session, read_unit
from server.errors import AppError
from server.permissions import Action
from server.rules.tenders import TenderOffer
from server.services import sales_ledger
from server.services.card import cancel as card_cancel
from server.services.card import identify as card_identify
from server.services.card import plan as card_plan
from server.services.card import rows as card_rows
from server.services.card import settle as card_settle
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.insurance import sign_in as insurance_session
from server.services.sale.completion import Completion
from server.services.store import second_person

router = APIRouter(tags=["card"])


def _offers(tenders: list[TenderIn]) -> list[TenderOffer]:
    return [TenderOffer(t.kind, t.amount_fen, t.tendered_fen if t.tendered_fen is not None else t.amount_fen,
                        t.reference) for t in tenders]


@router.post("/sales/{sale_id}/insured", response_model=InsuredOut, **guarded(Action.SELL))
async def identify(sale_id: SalePath, body: IdentifyIn, request: Request, ctx: CtxDep, who: Who) -> Response:
    how = card_identify.Identification(body.method, body.card_no, body.card_sn, body.token, body.certno, body.name, body.reason,
                              body.insutype, body.buyer_name, body.buyer_certno)
    if body.method == "reader":  # the card in the till's own reader (the devices issue keeps its whole record)
        devices = get_state(request).devices
        record = devices.current_card() if devices is not None else None
        if record is None:
            raise AppError(409, "CARD-05", "读卡器中没有社保卡，请插卡", "no social security card in the reader")
        lookup = record.person_lookup()
        how = card_identify.Identification("card", lookup["mdtrt_cert_no"], lookup.get("card_sn", ""), insutype=body.insutype,
                                  buyer_name=body.buyer_name, buyer_certno=body.buyer_certno)
    state = get_state(request)
    insured = await run_in_threadpool(card_identify.identify, state.engine, ctx, gateway_of(request), sale_id.lower(),
                                      till_of(who), how)
    return json_response_bytes(InsuredOut(**card_identify.masked(insured)).model_dump_json().encode())


@router.post("/sales/{sale_id}/card/signature", response_model=InsuredOut, **guarded(Action.SELL))
def signature(sale_id: SalePath, body: SignatureIn, request: Request, ctx: CtxDep, who: Who) -> InsuredOut:
    """CARD-05: the insured person (or the proxy buyer) signed the purchase list shown — the till's key, or the
    signature pad's image; recorded on the sale for the list as it is now."""
    try:
        image = base64.b64decode(body.image_b64, validate=True) if body.image_b64 else None
    except ValueError:  # binascii.Error (bad padding) is one
        raise AppError(422, "VALIDATION", "签名图像不是有效的 base64", "image_b64 is not valid base64") from None
    with unit_of_work(request, durable=False) as u:  # an open basket's edit, as an identification
        insured = card_identify.sign(u, ctx, sale_id.lower(), till_of(who), body.how, image)
        return InsuredOut(**card_identify.masked(insured))


@router.get("/sales/{sale_id}/card/split", response_model=SplitOut, **guarded(Action.SALE_READ))
def split(sale_id: SalePath, request: Request, ctx: CtxDep) -> SplitOut:
    with read_unit(get_state(request).engine) as u:
        sale = sales_ledger.sale(u, ctx, sale_id.lower())
        parts, _ = card_plan.split_of(u, ctx, sale)
        insured = card_rows.insured_of(u, sale.id)
    lines = [SplitLineOut(sale_line_id=ln.sale_line_id, name=ln.name, amount_fen=ln.amount_fen, card=True, reasons=[])
             for ln in parts.card]
    lines += [SplitLineOut(sale_line_id=ln.sale_line_id, name=ln.name, amount_fen=ln.amount_fen, card=False,
                           reasons=[v.as_dict() for v in vs]) for ln, vs in parts.self_pay]
    return SplitOut(insured=InsuredOut(**card_identify.masked(insured)) if insured else None,
                    card_total_fen=parts.card_total_fen, self_pay_fen=parts.self_pay_total_fen,
                    lines=sorted(lines, key=lambda x: x.sale_line_id))


@router.post("/sales/{sale_id}/card/preview", response_model=PreviewOut, **guarded(Action.SELL))
async def preview(sale_id: SalePath, body: PreviewIn, request: Request, ctx: CtxDep, who: Who) -> Response:
    forced = set(body.line_ids) if body.line_ids is not None else None
    got = await run_in_threadpool(card_plan.preview, get_state(request).engine, ctx, gateway_of(request), sale_id.lower(),
                                  till_of(who), forced)
    return json_response_bytes(PreviewOut(**got.__dict__).model_dump_json().encode())


@router.post("/sales/{sale_id}/card/settle", response_model=SaleOut, **guarded(Action.SELL))
async def settle(sale_id: SalePath, body: SettleIn, request: Request, ctx: CtxDep, who: Who) -> Response:
    forced = set(body.line_ids) if body.line_ids is not None else None
    answer = await run_in_threadpool(card_settle.settle, get_state(request).engine, ctx, gateway_of(request),
                                     sale_id.lower(), till_of(who), _offers(body.tenders), forced,
                                     partial(_sale_json, ctx))
    return json_response_bytes(answer)


def _sale_json(ctx: Ctx, u: Unit, done: Completion, paid: list[TenderOffer] | None) -> bytes:
    """The completed sale as the till shows it, made in the completion's own unit of work from what it wrote
    (its lines, the tenders just paid): nothing read back."""
    return sale_out(u, ctx, done.sale, done.replayed, paid, done.lines).model_dump_json().encode()


@router.post("/sales/{sale_id}/card/cancel", response_model=ReturnOut, status_code=201, **guarded(Action.SALE_RETURN))
async def cancel(sale_id: SalePath, body: CancelIn, request: Request, ctx: CtxDep, who: Who,
                 by: Annotated[Authoriser | None, Depends(second_of(Action.SALE_RETURN))]) -> ReturnOut:
    """2103: the whole card-paid sale comes back; the card part to the fund and account, the rest as paid (CARD-04).
    A later-day reversal's second person confirmed at the till: their grant in the header X-Second."""
    state = get_state(request)
    confirmation = await run_in_threadpool(second_person.confirmation_of, state.engine, by)
    ip = insurance_session.terminal_ip(request.client.host if request.client else "")  # an authoriser's 9001, if any
    ret = await run_in_threadpool(card_cancel.cancel, state.engine, ctx, gateway_of(request), sale_id.lower(), till_of(who),
                                  body.return_id.lower(), body.reason, body.to_quarantine, confirmation, ip)
    with read_session(state.engine) as s:
        return return_out(s, ret)


def _settlement_out(row: Any) -> SettlementOut:
    return SettlementOut(id=row.id, sale_id=row.sale_id, msgid=row.msgid, status=row.status,
                         medfee_sumamt_fen=row.medfee_sumamt_fen, fund_pay_fen=row.fund_pay_fen,
                         acct_pay_fen=row.acct_pay_fen, cash_pay_fen=row.cash_pay_fen, error=row.error)


@router.get("/settlements/unresolved", response_model=list[SettlementOut], **guarded(Action.SALE_READ))
def unresolved(request: Request, ctx: CtxDep) -> list[SettlementOut]:
    with read_unit(get_state(request).engine) as u:
        return [_settlement_out(r) for r in card_settle.unresolved(u, ctx)]


@router.post("/settlements/{settlement_id}/resolve", response_model=SettlementOut, **guarded(Action.SELL))
async def resolve(settlement_id: RowId, request: Request, ctx: CtxDep) -> SettlementOut:
    state = get_state(request)
    await run_in_threadpool(card_settle.resolve, state.engine, ctx, gateway_of(request), settlement_id)
    with read_unit(state.engine) as u:
        return _settlement_out(card_rows.settlement(u, settlement_id))


@router.post("/items/mapping-uploaded", response_model=list[int], **guarded(Action.MAPPING_WRITE))
def mapping_uploaded(body: MappingUploadedIn, request: Request, ctx: CtxDep,
                     by: Annotated[Authoriser | None, Depends(second_of(Action.MAPPING_WRITE))]) -> list[int]:
    """CARD-07: a 医保 administrator records, with the other one's PIN, that these items' mappings reached the centre
    today (until the 3501 uploads record it themselves)."""
    if any(not 0 < i <= 2_147_483_647 for i in body.item_ids):
        raise AppError(422, "VALIDATION", "商品编号无效", "item ids must be positive 32-bit integers")
    approval = approval_of(request, ctx, by, body.reason)
    with unit_of_work(request) as s:
        return [id_of(i) for i in catalog_service.mark_mapping_uploaded(s, ctx, body.item_ids, approval)]
