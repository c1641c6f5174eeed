"""What the card may pay and what it would: each line card-eligible or self-pay with its rule (CARD-02, CARD-07,
RX-02), every check before the centre is asked (AGR-01, CARD-06, sign-in, RX-03/RX-11, the completion's own
refusals), the 2101/2102 request with the boxes' trace codes, and the 2101 preview — refused when the centre's
answer does not settle exactly the sale (CARD-01)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import select

from catalog.classes import GspClass, InsuranceCategory
from server.db.models import Item, Prescription, PrescriptionLine, RxStatus, SaleLine
from server.db.models.base import id_of, table_of
from server.db.prepared import Prepared
from server.db.uow import Unit, orm, read_unit
from server.errors import AppError, refused
from server.insurance import messages as m
from server.insurance.dicts import MIN_PRCUNT_DOSE, MIN_PRCUNT_PACKAGE, TRDN_SPLIT, TRDN_WHOLE
from server.insurance.errors import GatewayError
from server.insurance.gateway import Caller, InsuranceGateway
from server.rules import card as card_rules
from server.rules.card_answer import answer_refusals
from server.rules.prescriptions import patient_refusals
from server.rules.tenders import TenderOffer
from server.services import sales_ledger
from server.services.card import counter, rows
from server.services.card.counter import open_card_sale
from server.services.context import Ctx
from server.services.rx import dispensing as rx_dispensing
from server.services.sale import completion, trace_codes

_LINE, _ITEM = table_of(SaleLine), table_of(Item)
# The sale's lines with what the card asks of each: what the line kept of its item when scanned (card_facts), the
# catalog's beside it (a line that kept nothing; a mapping recorded uploaded since), in one read.
_CARD_LINES = Prepared(sa.select(_LINE.c.id, _LINE.c.item_id, _LINE.c.qty, _LINE.c.split, _LINE.c.unit_price_fen,
                                 _LINE.c.amount_fen, *(_LINE.c[k] for k in sales_ledger.CARD_KEYS),
                                 *(_ITEM.c[k].label(f"item_{k}") for k in sales_ledger.CARD_KEYS),
                                 _ITEM.c.code, _ITEM.c.name, _ITEM.c.spec,
                                 _ITEM.c.split_ratio, _ITEM.c.price_fen, _ITEM.c.split_price_fen)
                       .join(_ITEM, _ITEM.c.id == _LINE.c.item_id)
                       .where(_LINE.c.sale_id == sa.bindparam("sale")).order_by(_LINE.c.line_no))


def _sold(row: Any) -> Any:
    """The row with the card's facts as sold (sales_ledger.card_facts) in place of the catalog's."""
    values = row._asdict()
    return row._replace(**sales_ledger.card_facts(values, {k: values[f"item_{k}"] for k in sales_ledger.CARD_KEYS}))


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
    catalog_price_fen: int  # the item's one price now (CARD-03), the line's unit (split or whole)


def _card_lines(u: Unit, ctx: Ctx, sale: Any) -> list[CardLineView]:
    lines = [_sold(row) for row in _CARD_LINES.rows(u.connection(), {"sale": sale.id})]
    # Each Rx line goes out with the prescription line it will be dispensed against (RX-04's plan), so two
    # lines of one drug carry their own dosage and days. A prescription is a reference row: the ORM's.
    rx = orm(u).get(Prescription, sale.prescription_id) if sale.prescription_id else None
    rx_ok = rx is not None and rx.status == RxStatus.APPROVED.value and rx.for_insurance
    by_id: dict[int, PrescriptionLine] = {}
    plan: dict[int, int] = {}
    if rx is not None:
        s = orm(u)
        by_id = {id_of(pl): pl for pl in s.exec(select(PrescriptionLine).where(PrescriptionLine.prescription_id == rx.id))}
        plan, _ = rx_dispensing.completion_refusals(s, ctx, sale, [
            rx_dispensing.RxLineView(ln.id, ln.item_id, ln.name, ln.qty, ln.split, ln.split_ratio)
            for ln in lines if ln.gsp_class == GspClass.RX.value])
    out: list[CardLineView] = []
    for ln in lines:
        is_rx = ln.gsp_class == GspClass.RX.value
        rx_line = by_id.get(plan.get(ln.id, -1)) if is_rx else None
        out.append(CardLineView(card_rules.CardLine(
            sale_line_id=ln.id, name=ln.name, gsp_class=GspClass(ln.gsp_class),
            category=InsuranceCategory(ln.insurance_category), nhsa_code=ln.nhsa_code,
            mapping_uploaded_on=ln.mapping_uploaded_on, unit_price_fen=ln.unit_price_fen, amount_fen=ln.amount_fen,
            rx=is_rx, rx_for_insurance=is_rx and rx_ok and rx_line is not None),
            ln.code, ln.nhsa_code or "", ln.spec, ln.qty, ln.split, ln.unit_price_fen, rx_line,
            int((ln.split_price_fen or 0) if ln.split else ln.price_fen)))
    return out


def split_of(u: Unit, ctx: Ctx, sale: Any) -> tuple[card_rules.Split, list[CardLineView]]:
    """Each line of the sale card-eligible or self-pay with its reasons; `sale`: the sale's row."""
    views = _card_lines(u, ctx, sale)
    return card_rules.split_basket([v.line for v in views], ctx.today), views


@dataclass
class SettlementPlan:
    sale: Any  # the sale's row (sales_ledger's named tuple)
    insured: Any  # sale_insured's row
    caller: Caller
    request: m.SettleRequest
    card_lines: list[CardLineView]
    self_pay: list[tuple[card_rules.CardLine, list[Any]]]
    total_fen: int


def prepare(u: Unit, ctx: Ctx, sale_id: str, till_code: str, forced: set[int] | None,
            offers: list[TenderOffer] | None = None) -> SettlementPlan:
    """Everything checked before the centre is asked; `offers` (settling): the sale locked and what the
    completion would refuse checked too, so a refusal never costs a 2102 and its reversal."""
    card_sale = open_card_sale(u, ctx, sale_id, till_code, lock=offers is not None)
    sale = card_sale.sale
    if offers is not None:
        completion.precheck(u, ctx, sale, till_code, offers)
    # AGR-01 over the sale's own time, from its opening to now: cash goes on, the card does not
    if problems := counter.standing_refusals(u, ctx, card_sale.point, sale.opened_at):
        raise refused(problems, status=403)
    caller = counter.caller(u, ctx, dev_no=till_code)  # INS-SIGNIN: not signed in today, no settlement
    insured = rows.insured_of(u, sale.id)
    if insured is None:
        raise AppError(422, "CARD-05", "请先读卡或扫描医保电子凭证识别参保人", "identify the insured person first (card or e-voucher)")
    if problems := card_rules.proxy_refusals(insured.buyer_name, insured.buyer_certno):  # RX-11
        raise refused(problems)
    split, views = split_of(u, ctx, sale)
    # CARD-02/03: no gift, free or under-priced (bundled, discounted) line rides inside a card sale
    if problems := card_rules.disguise_refusals([
            card_rules.PricedLine(v.line.sale_line_id, v.line.name, v.line.gsp_class, v.line.unit_price_fen,
                                  v.line.amount_fen, v.catalog_price_fen) for v in views]):
        raise refused(problems)
    if forced is not None and (problems := card_rules.forced_refusals([v.line for v in views], forced, ctx.today)):
        raise refused(problems)
    if not split.card:
        raise AppError(422, "CARD-02", "本单没有可医保支付的商品，请用现金或其他方式支付",
                       "no line of this sale may be paid by the card: pay another way",
                       {"self_pay": [{"sale_line_id": ln.sale_line_id, "reasons": [v.as_dict() for v in vs]}
                                     for ln, vs in split.self_pay]})
    # CARD-05, settling: the purchase list, as it is now, signed (where the store records signatures); the
    # preview comes first, so the person signs for the split they were shown
    if offers is not None:
        listed = card_rules.lines_digest([(v.line.sale_line_id, v.qty, v.line.amount_fen) for v in views])
        if problems := card_rules.signature_refusals(ctx.settings.rules.card_signature_required,
                                                     insured.signed_lines, listed):
            raise refused(problems)
    eligible = {ln.sale_line_id for ln in split.card}
    card_views = [v for v in views if v.line.sale_line_id in eligible]
    rx = orm(u).get(Prescription, sale.prescription_id) if sale.prescription_id else None
    if rx is not None and any(v.line.rx for v in card_views):  # RX-03: the proxy buyer (RX-11) is recorded apart
        if problems := patient_refusals(rx.patient_name, rx.patient_certno, insured.psn_name, insured.certno,
                                        rx.patient_psn_no if rx.source == "electronic" else "", insured.psn_no):
            raise refused(problems)
    caller = caller.with_insuplc(insured.insuplc_admdvs)
    total = sum(v.line.amount_fen for v in card_views)
    begin = ctx.now.astimezone(ctx.settings.store.tz).replace(tzinfo=None)
    codes = trace_codes.codes_by_line(u, sale.id)
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
                    for v in card_views],
        # CARD-01 too: the boxes sold, by their codes — a split line its opened box's, flagged 拆零
        drug_trac_info=[m.DrugTracInfo(feedetl_sn=str(v.line.sale_line_id), drug_trac_codg=code,
                                       trdn_flag=TRDN_SPLIT if v.split else TRDN_WHOLE,
                                       min_prcunt_type=MIN_PRCUNT_DOSE if v.split else MIN_PRCUNT_PACKAGE)
                        for v in card_views for code in codes.get(v.line.sale_line_id, [])])
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
    with read_unit(engine) as u:
        prep = prepare(u, ctx, sale_id, till_code, forced)
        sale_total = prep.sale.total_fen
    try:
        ans = gateway.pre_settle(prep.caller, prep.request)
    except GatewayError as e:  # the sale stays open and can be paid otherwise
        raise e.to_app_error() from None
    shares = ans.shares()
    if problems := answer_refusals(prep.total_fen, shares.medfee_fen, *ans.parts_exact(), "2101"):
        raise refused(problems)  # shown before anything is confirmed: nothing was booked
    self_pay = sale_total - prep.total_fen
    return Preview(prep.total_fen, shares.fund_fen, shares.acct_fen, shares.cash_fen, shares.balc_fen, self_pay,
                   shares.cash_fen + self_pay,
                   [{"sale_line_id": ln.sale_line_id, "name": ln.name, "amount_fen": ln.amount_fen,
                     "reasons": [v.as_dict() for v in vs]} for ln, vs in prep.self_pay],
                   [v.line.sale_line_id for v in prep.card_lines])
