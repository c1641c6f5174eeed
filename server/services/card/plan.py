"""What the card may pay and what it would: each line card-eligible or self-pay with its rule (CARD-02, CARD-07,
RX-02), every check before the centre is asked (AGR-01, CARD-06, sign-in, RX-03/RX-11, the completion's own
refusals), the 2101/2102 request, and the 2101 preview."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from catalog.classes import GspClass, InsuranceCategory
from server.db.models import (
    Item,
    Prescription,
    PrescriptionLine,
    RxStatus,
    Sale,
    SaleInsured,
    SaleLine,
)
from server.db.models.base import id_of
from server.db.uow import read_session
from server.errors import AppError, refused
from server.insurance import messages as m
from server.insurance.errors import GatewayError
from server.insurance.gateway import Caller, InsuranceGateway
from server.rules import card as card_rules
from server.rules.agreement import card_settlement_refusals
from server.rules.prescriptions import patient_refusals
from server.rules.tenders import TenderOffer
from server.services.card.identify import open_card_sale
from server.services.context import Ctx
from server.services.insurance import sign_in as ins
from server.services.records import insured_of
from server.services.rx import dispensing as rx_dispensing
from server.services.sale import completion
from server.services.store.profile import get_store, standing


@dataclass
class CardLineView:
    line: card_rules.CardLine
    item_code: str
    nhsa_code: str
    spec: str
    qty: int
    split: bool
    unit_price_fen: int
    rx_line: PrescriptionLine | None


def _card_lines(s: Session, ctx: Ctx, sale: Sale) -> list[CardLineView]:
    rx: Prescription | None = s.get(Prescription, sale.prescription_id) if sale.prescription_id else None
    rx_ok = rx is not None and rx.status == RxStatus.APPROVED.value and rx.for_insurance
    rows = list(s.exec(select(SaleLine, Item).join(Item, col(Item.id) == SaleLine.item_id)
                       .where(SaleLine.sale_id == sale.id).order_by(col(SaleLine.line_no))))
    # Each Rx line goes out with the prescription line it will be dispensed against (RX-04's plan), so two
    # lines of one drug carry their own dosage and days.
    by_id: dict[int, PrescriptionLine] = {}
    plan: dict[int, int] = {}
    if rx is not None:
        by_id = {id_of(pl): pl for pl in s.exec(select(PrescriptionLine).where(PrescriptionLine.prescription_id == rx.id))}
        plan, _ = rx_dispensing.completion_refusals(s, ctx, sale, [
            rx_dispensing.RxLineView(id_of(ln), id_of(item), item.name, ln.qty, ln.split, item.split_ratio)
            for ln, item in rows if item.gsp_class == GspClass.RX.value])
    out: list[CardLineView] = []
    for ln, item in rows:
        is_rx = item.gsp_class == GspClass.RX.value
        rx_line = by_id.get(plan.get(id_of(ln), -1)) if is_rx else None
        out.append(CardLineView(card_rules.CardLine(
            sale_line_id=id_of(ln), name=item.name, gsp_class=GspClass(item.gsp_class),
            category=InsuranceCategory(item.insurance_category), nhsa_code=item.nhsa_code,
            mapping_uploaded_on=item.mapping_uploaded_on, unit_price_fen=ln.unit_price_fen, amount_fen=ln.amount_fen,
            rx=is_rx, rx_for_insurance=is_rx and rx_ok and rx_line is not None),
            item.code, item.nhsa_code or "", item.spec, ln.qty, ln.split, ln.unit_price_fen, rx_line))
    return out


def split_of(s: Session, ctx: Ctx, sale: Sale) -> tuple[card_rules.Split, list[CardLineView]]:
    views = _card_lines(s, ctx, sale)
    return card_rules.split_basket([v.line for v in views], ctx.today), views


def standing_refusals(s: Session, ctx: Ctx) -> list[Any]:
    return card_settlement_refusals(standing(get_store(s, ctx)), ctx.today)


@dataclass
class SettlementPlan:
    sale: Sale
    insured: SaleInsured
    caller: Caller
    request: m.SettleRequest
    card_lines: list[CardLineView]
    self_pay: list[tuple[card_rules.CardLine, list[Any]]]
    total_fen: int


def prepare(s: Session, ctx: Ctx, sale_id: str, till_code: str, forced: set[int] | None,
             offers: list[TenderOffer] | None = None) -> SettlementPlan:
    """Everything checked before the centre is asked; `offers` (settling): the sale locked and what the
    completion would refuse checked too, so a refusal never costs a 2102 and its reversal."""
    sale = open_card_sale(s, ctx, sale_id, till_code, lock=offers is not None)
    if offers is not None:
        completion.precheck(s, ctx, sale, till_code, offers)
    if problems := standing_refusals(s, ctx):  # AGR-01: cash goes on, the card does not
        raise refused(problems, status=403)
    sign_no = ins.require_signed_in(s, ctx)
    insured = insured_of(s, sale.id)
    if insured is None:
        raise AppError(422, "CARD-05", "请先读卡或扫描医保电子凭证识别参保人", "identify the insured person first (card or e-voucher)")
    split, views = split_of(s, ctx, sale)
    if forced is not None and (problems := card_rules.forced_refusals([v.line for v in views], forced, ctx.today)):
        raise refused(problems)
    if not split.card:
        raise AppError(422, "CARD-02", "本单没有可医保支付的商品，请用现金或其他方式支付",
                       "no line of this sale may be paid by the card: pay another way",
                       {"self_pay": [{"sale_line_id": ln.sale_line_id, "reasons": [v.as_dict() for v in vs]}
                                     for ln, vs in split.self_pay]})
    eligible = {ln.sale_line_id for ln in split.card}
    card_views = [v for v in views if v.line.sale_line_id in eligible]
    rx = s.get(Prescription, sale.prescription_id) if sale.prescription_id else None
    if rx is not None and any(v.line.rx for v in card_views):  # RX-03: the proxy buyer (RX-11) is recorded apart
        if problems := patient_refusals(rx.patient_name, rx.patient_certno, insured.psn_name, insured.certno):
            raise refused(problems)
    caller = ins.caller_for(s, ctx, sign_no, insured.insuplc_admdvs, dev_no=till_code)
    total = sum(v.line.amount_fen for v in card_views)
    begin = ctx.now.astimezone(ctx.settings.store.tz).replace(tzinfo=None)
    request = m.SettleRequest(
        druginfo=m.DrugInfo(psn_no=insured.psn_no, mdtrt_cert_type=insured.mdtrt_cert_type,
                            mdtrt_cert_no=insured.mdtrt_cert_no, card_sn=insured.card_sn,
                            psn_cert_type=insured.psn_cert_type, certno=insured.certno, psn_type=insured.psn_type,
                            psn_name=insured.psn_name, begntime=begin, medfee_sumamt_fen=total,
                            insutype=insured.insutype, acct_used_flag="1"),
        # CARD-01: exactly the sale's lines — code, name (the store's own code), quantity, price
        drugdetail=[m.DrugDetail(feedetl_sn=str(v.line.sale_line_id), fee_ocur_time=begin, med_list_codg=v.nhsa_code,
                                 medins_list_codg=v.item_code, det_item_fee_sumamt_fen=v.line.amount_fen,
                                 cnt=Decimal(v.qty), pric_fen=v.unit_price_fen,
                                 rx_circ_flag="1" if v.rx_line else "0", rxno=rx.rx_no if (rx and v.rx_line) else "",
                                 sin_dos_dscr=v.rx_line.dosage if v.rx_line else "",
                                 used_frqu_dscr=v.rx_line.frequency if v.rx_line else "",
                                 prd_days=Decimal(v.rx_line.days) if v.rx_line else Decimal(0),
                                 medc_way_dscr=v.rx_line.route if v.rx_line else "",
                                 bilg_dr_name=rx.doctor_name if (rx and v.rx_line) else "")
                    for v in card_views])
    return SettlementPlan(sale, insured, caller, request, card_views, split.self_pay, total)


@dataclass
class Preview:
    card_total_fen: int
    fund_pay_fen: int
    acct_pay_fen: int
    cash_pay_fen: int  # the insured person's cash part of the card lines
    balc_after_fen: int
    self_pay_fen: int  # lines the card does not pay
    due_otherwise_fen: int  # what the buyer pays in cash or other tender
    self_pay_lines: list[dict[str, Any]] = field(default_factory=list)
    card_line_ids: list[int] = field(default_factory=list)


def preview(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, sale_id: str, till_code: str,
            forced: set[int] | None = None) -> Preview:
    """2101: the split the pharmacist shows before confirming; nothing is recorded but the message log."""
    with read_session(engine) as s:
        prep = prepare(s, ctx, sale_id, till_code, forced)
        sale_total = prep.sale.total_fen
    try:
        ans = gateway.pre_settle(prep.caller, prep.request)
    except GatewayError as e:  # the sale stays open and can be paid otherwise
        raise e.to_app_error() from None
    info = ans.setlinfo
    self_pay = sale_total - prep.total_fen
    return Preview(prep.total_fen, info.fund_pay_sumamt_fen, info.acct_pay_fen, info.cash_fen, info.balc_fen, self_pay,
                   info.cash_fen + self_pay,
                   [{"sale_line_id": ln.sale_line_id, "name": ln.name, "amount_fen": ln.amount_fen,
                     "reasons": [v.as_dict() for v in vs]} for ln, vs in prep.self_pay],
                   [v.line.sale_line_id for v in prep.card_lines])
