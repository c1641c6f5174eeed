"""Paying with the 医保 card: identify the insured person (1101), show the split (2101), settle (2102)
with the sale's completion, resolve an uncertain settlement (2601), cancel a settled one (2103).

The flow, in one place (DESIGN: "a card sale, end to end"):
  1. `identify`: card / e-voucher / typed ID number → 1101 → a snapshot on the sale (SaleInsured).
  2. `split_of`: each line card-eligible or self-pay with the rule that says so (CARD-02, CARD-07, RX-02).
  3. `preview`: 2101 for the eligible lines → fund, personal account, cash; nothing is recorded.
  4. `settle`: the checks (AGR-01, CARD-06, sign-in, RX-03/RX-11, the lines forced onto the card), then
     the msgid is committed as an intent with the sale marked "settling"; 2102 leaves; the answer is
     recorded with the sale's completion (stock, number, tenders, audit) in one transaction. A refusal
     puts the sale back to open; a timeout or lost answer leaves it "settlement uncertain" until 2601
     takes it back — at once if the centre answers, else by `resolve` or `recover` (at start-up).
No centre call happens inside a database transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from catalog.classes import GspClass, InsuranceCategory
from server import audit
from server.db.models import (
    CardSettlement,
    Item,
    Prescription,
    PrescriptionLine,
    RxStatus,
    Sale,
    SaleInsured,
    SaleLine,
    SaleReturn,
    SaleStatus,
    SettlementStatus,
    User,
)
from server.db.models.base import id_of
from server.db.uow import read_session, write_session
from server.errors import AppError, conflict, refused
from server.insurance import messages as m
from server.insurance.errors import GatewayError
from server.insurance.gateway import Caller, InsuranceGateway
from server.permissions import Action, allowed
from server.privacy import mask_id
from server.rules import card as card_rules
from server.rules.agreement import card_settlement_refusals
from server.rules.prescriptions import patient_refusals
from server.rules.tenders import TenderOffer
from server.services import records, sales_ledger
from server.services.context import Ctx
from server.services.insurance import sign_in as ins
from server.services.records import insured_of, settled_of
from server.services.rx import prescriptions
from server.services.sale import completion, returns
from server.services.store.profile import get_store, standing, usable_till
from server.services.store.shifts import open_shift_for
from server.services.store.users import active_roles, check_pin

UNRESOLVED = (SettlementStatus.INTENT.value, SettlementStatus.UNCERTAIN.value)
CERT_TYPES = {"voucher": "01", "id": "02", "card": "03"}  # mdtrt_cert_type (reference §9)


# --- 1. who the card pays for ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Identification:
    method: str  # card | voucher | id
    card_no: str = ""
    card_sn: str = ""
    token: str = ""
    certno: str = ""
    name: str = ""
    reason: str = ""  # required when an ID number is typed instead of reading a card
    insutype: str = ""  # which insurance, when the person has several
    buyer_name: str = ""  # 代购 (RX-11)
    buyer_certno: str = ""


def _query(how: Identification) -> m.PersonQuery:
    if how.method == "card":
        if not how.card_no or not how.card_sn:
            raise AppError(422, "CARD-05", "读卡需要社保卡号和卡识别码", "a card needs its number and identification code")
        return m.PersonQuery.by_card(how.card_no, how.card_sn)
    if how.method == "voucher":
        if not how.token:
            raise AppError(422, "CARD-05", "请扫描医保电子凭证", "scan the e-voucher QR code")
        return m.PersonQuery.by_ec_token(how.token)
    if not how.certno or not how.reason.strip():
        raise AppError(422, "CARD-05", "手工录入身份证号须同时填写原因", "a typed ID number needs the reason it was typed")
    return m.PersonQuery.by_id_number(how.certno, how.name)


def _open_sale(s: Session, ctx: Ctx, sale_id: str, till_code: str, lock: bool = False) -> Sale:
    sale = records.get_sale(s, ctx, sale_id, lock=lock)
    till = usable_till(s, ctx, till_code)  # CARD-06
    if sale.till_id != till.id:
        raise conflict("SALE-TILL", "该销售单正在其他收款机上处理", "the sale is open on another till")
    if sale.status == SaleStatus.SETTLING.value:
        raise conflict("SETTLE-UNCERTAIN", "该销售单医保结算结果待确认，请先处理", "the sale's card settlement is unresolved",
                       sale_id=sale_id)
    if sale.status != SaleStatus.OPEN.value:
        raise conflict("SALE-STATE", "只有未结账的销售单可以医保结算", f"the sale is {sale.status}", status=sale.status)
    return sale


def identify(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, sale_id: str, till_code: str,
             how: Identification) -> SaleInsured:
    query = _query(how)
    with read_session(engine) as s:
        _open_sale(s, ctx, sale_id, till_code)
        caller = ins.caller_for(s, ctx, ins.require_signed_in(s, ctx))
    try:
        person = gateway.person_info(caller, query)
    except GatewayError as e:
        raise e.to_app_error() from None
    if not person.insuinfo:
        raise AppError(422, "CARD-05", "医保中心未返回参保信息", "the centre returned no insurance for this person")
    row = person.insurance(how.insutype) if how.insutype else (person.insurance("310") or person.insuinfo[0])
    if row is None:
        raise AppError(422, "CARD-05", f"该人员没有险种 {how.insutype} 的参保记录",
                       f"the person has no insurance of type {how.insutype}", {"insutype": how.insutype})
    with write_session(engine) as s:
        sale = _open_sale(s, ctx, sale_id, till_code, lock=True)  # two identifications of one sale: one row
        existing = s.exec(select(SaleInsured).where(SaleInsured.sale_id == sale.id)).first()
        before = audit.snapshot(existing) if existing else None
        values: dict[str, Any] = dict(
            method=how.method, id_reason=how.reason.strip(), mdtrt_cert_type=query.mdtrt_cert_type,
            mdtrt_cert_no=query.mdtrt_cert_no, card_sn=query.card_sn, psn_no=person.baseinfo.psn_no,
            psn_name=person.baseinfo.psn_name, psn_cert_type=person.baseinfo.psn_cert_type or "01",
            certno=person.baseinfo.certno, gend=person.baseinfo.gend, insutype=row.insutype,
            psn_type=row.psn_type, balc_fen=row.balc_fen, insuplc_admdvs=row.insuplc_admdvs,
            buyer_name=how.buyer_name.strip(), buyer_certno=how.buyer_certno.strip(),
            identified_by=ctx.actor.user_id, identified_at=ctx.now)
        snap = existing or SaleInsured(store_id=ctx.store_id, sale_id=sale.id, **values)
        for k, v in values.items():
            setattr(snap, k, v)
        s.add(snap)
        audit.record_row(s, ctx.store_id, ctx.actor, "sale.insured", snap, before,
                         note=f"1101 {person.receipt.msgid}" + (f"；手工录入：{how.reason.strip()}" if how.method == "id" else ""))
        return snap


# --- 2. the split ---------------------------------------------------------------------------------------

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
        plan, _ = prescriptions.completion_refusals(s, ctx, sale, [
            prescriptions.RxLineView(id_of(ln), id_of(item), item.name, ln.qty, ln.split, item.split_ratio)
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


# --- 3. the checks before the centre is asked --------------------------------------------------------------

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


def _prepare(s: Session, ctx: Ctx, sale_id: str, till_code: str, forced: set[int] | None,
             offers: list[TenderOffer] | None = None) -> SettlementPlan:
    """Everything checked before the centre is asked; `offers` (settling): the sale locked and what the
    completion would refuse checked too, so a refusal never costs a 2102 and its reversal."""
    sale = _open_sale(s, ctx, sale_id, till_code, lock=offers is not None)
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
        prep = _prepare(s, ctx, sale_id, till_code, forced)
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


# --- 4. settle with the completion ---------------------------------------------------------------------------

_MAY_BECOME = {  # a settlement's status moves only along these edges (compare-and-set under a row lock)
    SettlementStatus.UNCERTAIN: {SettlementStatus.INTENT.value, SettlementStatus.UNCERTAIN.value},
    SettlementStatus.FAILED: {SettlementStatus.INTENT.value},
    SettlementStatus.REVERSED: {SettlementStatus.INTENT.value, SettlementStatus.UNCERTAIN.value},
}


def _mark(engine: Engine, ctx: Ctx, settlement_id: int, status: SettlementStatus, error: str = "",
          reopen: bool = False) -> bool:
    """Move the row to `status` if it is still where that may come from; False if someone else moved it first."""
    with write_session(engine) as s:
        row = s.get(CardSettlement, settlement_id, with_for_update=True)
        assert row is not None
        if row.status not in _MAY_BECOME[status]:
            return False
        before = audit.snapshot(row)
        row.status, row.error, row.resolved_at = status.value, error[:300], ctx.now
        s.add(row)
        if reopen:
            sale = sales_ledger.sale(s, ctx, row.sale_id, lock=True)
            live = s.exec(select(CardSettlement.id).where(CardSettlement.sale_id == row.sale_id,
                                                          CardSettlement.id != row.id,
                                                          col(CardSettlement.status).in_(UNRESOLVED))).first()
            if sale.status == SaleStatus.SETTLING.value and live is None:
                sales_ledger.change_sale(s, row.sale_id, status=SaleStatus.OPEN.value)
        audit.record_row(s, ctx.store_id, ctx.actor, f"settlement.{status.value}", row, before, note=error[:300])
        return True


def settle(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, sale_id: str, till_code: str,
           offers: list[TenderOffer], forced: set[int] | None = None) -> completion.Completion:
    """2102 and the completion. `offers` pay what the card does not (the person's cash part and self-pay lines)."""
    if any(o.kind == "insurance" for o in offers):
        raise AppError(422, "CARD-01", "医保支付金额由医保中心结算决定，不能手工填写",
                       "the card's part comes from the centre's settlement, not from the client")
    with read_session(engine) as s:  # a retried settle of a sale it already paid gets the first result
        sale = records.get_sale(s, ctx, sale_id)
        if sale.status == SaleStatus.COMPLETED.value and settled_of(s, sale.id) is not None:
            if usable_till(s, ctx, till_code).id != sale.till_id:
                raise conflict("SALE-TAKEN", f"该销售单已在其他收款机完成（小票号 {sale.sale_no}）",
                               f"the sale was completed on another till ({sale.sale_no})", sale_no=sale.sale_no)
            return completion.Completion(sale, replayed=True)
    with write_session(engine) as s:
        prep = _prepare(s, ctx, sale_id, till_code, forced, offers)
        msgid = ins.settlement_msgid(s, ctx)
        row = CardSettlement(store_id=ctx.store_id, sale_id=prep.sale.id, msgid=msgid, medfee_sumamt_fen=prep.total_fen,
                             lines=[_line_json(d) for d in prep.request.drugdetail], created_by=ctx.actor_id,
                             created_at=ctx.now)
        s.add(row)
        before = audit.snapshot(prep.sale)
        # nothing else happens to the sale until this is resolved
        settling = sales_ledger.change_sale(s, prep.sale.id, status=SaleStatus.SETTLING.value)
        audit.record_row(s, ctx.store_id, ctx.actor, "settlement.intent", row)
        audit.record(s, ctx.store_id, ctx.actor, "sale.settling", "sale", prep.sale.id, before,
                     audit.row_image(settling._asdict()), note=f"2102 msgid {msgid}")
        settlement_id, caller, request = id_of(row), prep.caller, prep.request
    try:
        answer = gateway.settle(caller, request, msgid)
    except GatewayError as e:
        if not e.uncertain:  # certainly not settled: the sale is open again and can be paid otherwise
            _mark(engine, ctx, settlement_id, SettlementStatus.FAILED, e.message_en, reopen=True)
            raise e.to_app_error() from None
        _mark(engine, ctx, settlement_id, SettlementStatus.UNCERTAIN, e.message_en)
        outcome = resolve(engine, ctx, gateway, settlement_id, force=True)
        raise AppError(424, "SETTLE-UNCERTAIN",
                       "医保结算结果不确定，" + ("已冲正撤销，请重新结算或改用其他方式支付" if outcome == "reversed"
                                         else "冲正未成功，请稍后在“待确认结算”中处理"),
                       "the settlement's outcome was uncertain; " + ("it was reversed: settle again or pay otherwise"
                                                                     if outcome == "reversed" else
                                                                     "the reversal did not go through yet: resolve it later"),
                       {"msgid": msgid, "settlement_id": settlement_id, "status": outcome}) from None
    try:
        return _record_and_complete(engine, ctx, settlement_id, answer, till_code, offers)
    except Exception as exc:
        # Settled at the centre but the sale cannot complete here (the tenders do not add up, a database
        # error): take the settlement back, so there is never a settlement without its sale.
        if _mark(engine, ctx, settlement_id, SettlementStatus.UNCERTAIN, str(getattr(exc, "message_en", exc))):
            resolve(engine, ctx, gateway, settlement_id, force=True)
        raise


def _line_json(d: m.DrugDetail) -> dict[str, Any]:
    return {"feedetl_sn": d.feedetl_sn, "med_list_codg": d.med_list_codg, "medins_list_codg": d.medins_list_codg,
            "cnt": str(d.cnt), "pric_fen": d.pric_fen, "det_item_fee_sumamt_fen": d.det_item_fee_sumamt_fen,
            "rxno": d.rxno}


def _record_and_complete(engine: Engine, ctx: Ctx, settlement_id: int, answer: m.Settlement, till_code: str,
                         offers: list[TenderOffer]) -> completion.Completion:
    info = answer.setlinfo
    with write_session(engine) as s:
        row = s.get(CardSettlement, settlement_id, with_for_update=True)
        assert row is not None
        if row.status != SettlementStatus.INTENT.value:  # resolved (reversed) while the answer was on its way
            raise conflict("SETTLE-STALE", "该结算已被冲正处理，本次应答作废", "the settlement was resolved meanwhile",
                           settlement_id=settlement_id, status=row.status)
        before = audit.snapshot(row)
        row.status, row.resolved_at = SettlementStatus.SETTLED.value, ctx.now
        row.fund_pay_fen, row.acct_pay_fen, row.cash_pay_fen = info.fund_pay_sumamt_fen, info.acct_pay_fen, info.cash_fen
        row.balc_fen, row.setl_id, row.mdtrt_id = info.balc_fen, info.setl_id, info.mdtrt_id
        row.answer = {k: str(v) if isinstance(v, Decimal) else v  # as received, the ID number left out (SEC-06)
                      for k, v in answer.receipt.output.get("setlinfo", {}).items() if k != "certno"}
        s.add(row)
        audit.record_row(s, ctx.store_id, ctx.actor, "settlement.settled", row, before, note=f"setl_id {info.setl_id}")
        card_fen = info.fund_pay_sumamt_fen + info.acct_pay_fen
        done = completion.complete(s, ctx, row.sale_id, till_code,
                                [TenderOffer("insurance", card_fen, card_fen, info.setl_id), *offers], settling=True)
        if done.replayed:  # never two settlements for one sale
            raise conflict("SALE-STATE", "该销售单已经完成收款", "the sale was already completed")
        return done


# --- resolving what is uncertain --------------------------------------------------------------------------

def resolve(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, settlement_id: int, force: bool = False) -> str:
    """2601 reversal by msgid of a settlement whose outcome is unknown: afterwards it is certainly not in
    effect and the sale is open again. Returns the settlement's status after the attempt.

    An intent younger than twice the centre's timeout may still have its 2102 in flight: it is left
    alone unless `force` (its own request giving up, or start-up, when nothing is in flight)."""
    with read_session(engine) as s:
        row = s.get(CardSettlement, settlement_id)
        if row is None or row.store_id != ctx.store_id:
            raise AppError(404, "NOT_FOUND", "结算记录不存在", "settlement not found", {"settlement_id": settlement_id})
        if row.status not in UNRESOLVED:
            return row.status
        in_flight = timedelta(seconds=2 * ctx.settings.insurance.timeout_seconds)
        if row.status == SettlementStatus.INTENT.value and not force and ctx.now - row.created_at < in_flight:
            return row.status
        insured = insured_of(s, row.sale_id)
        if ctx.actor.user_id is None:  # recovery at start-up: the reversal goes out as the settling operator
            creator = s.get(User, row.created_by)
            ctx = ctx.acting(audit.Actor(row.created_by, creator.username if creator else "system"))
        sign = ins.current_sign_in(s, ctx)
        caller = ins.caller_for(s, ctx, sign.sign_no if sign else "", insured.insuplc_admdvs if insured else "")
        msgid, psn_no = row.msgid, insured.psn_no if insured else ""
    try:
        gateway.reverse(caller, m.ReversalRequest(psn_no=psn_no, omsgid=msgid, oinfno="2102"))
    except GatewayError as e:
        _mark(engine, ctx, settlement_id, SettlementStatus.UNCERTAIN, f"2601: {e.message_en}")
        return SettlementStatus.UNCERTAIN.value
    _mark(engine, ctx, settlement_id, SettlementStatus.REVERSED, "reversed by 2601", reopen=True)
    return SettlementStatus.REVERSED.value


def unresolved(s: Session, ctx: Ctx) -> list[CardSettlement]:
    return list(s.exec(select(CardSettlement).where(CardSettlement.store_id == ctx.store_id,
                                                    col(CardSettlement.status).in_(UNRESOLVED))
                       .order_by(col(CardSettlement.id))))


def recover(engine: Engine, ctx: Ctx, gateway: InsuranceGateway) -> dict[int, str]:
    """At start-up: every settlement left as an intent (a crash between commit and answer) or uncertain
    is resolved before its sale can be touched again."""
    with read_session(engine) as s:
        ids = [id_of(r) for r in unresolved(s, ctx)]
    outcome = {i: resolve(engine, ctx, gateway, i, force=True) for i in ids}
    return outcome | recover_cancels(engine, ctx, gateway)


# --- cancelling a settled sale (2103): the card part goes back to the fund and the account ----------------

def _confirmer(engine: Engine, ctx: Ctx, username: str, pin: str) -> User:
    """CARD-04: a reversal on a later day needs a second person — another user allowed to do returns —
    whose PIN is checked with the login's lockout (a wrong one is counted and committed)."""
    refusal = AppError(403, "CARD-04", "隔日撤销须由另一位有退货权限的人员输入 PIN 确认",
                       "a later-day reversal needs a second person with return rights to confirm with their PIN")
    if not username or username == ctx.actor.name:
        raise refusal
    with write_session(engine) as s:
        user = check_pin(s, ctx, username, pin)
        ok = user is not None and user.id != ctx.actor.user_id and allowed(active_roles(s, id_of(user)), Action.SALE_RETURN)
    if not ok or user is None:
        raise refusal
    return user


def cancel(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, sale_id: str, till_code: str, return_id: str,
           reason: str, to_quarantine: bool, confirm_username: str = "", confirm_pin: str = "") -> Any:
    """Return a card-paid sale whole: 2103 cancels the settlement, then the return puts stock back by batch
    and refunds the cash part in cash; the card part is never refunded as cash (CARD-04).

    The cancellation is committed on its own as soon as the centre confirms it; the return follows. A
    retry with the same return id gets the first result; a return that failed after a confirmed 2103 is
    made by the retry without a second 2103.
    """
    if not reason.strip():
        raise AppError(422, "CARD-04", "撤销医保结算须填写原因", "cancelling a card settlement needs a reason")
    confirmer = _confirmer(engine, ctx, confirm_username, confirm_pin) if confirm_username else None
    with write_session(engine) as s:
        done = s.get(SaleReturn, return_id)
        if done is not None:
            if done.store_id != ctx.store_id or done.sale_id != sale_id:
                raise conflict("RETURN-ID", "退货单号已被使用", "this return id is already used")
            return done  # a retried cancellation: the first result, nothing sent again
        open_shift_for(s, ctx, till_code)  # the return will need the till's open shift: known before 2103
        sale = records.get_sale(s, ctx, sale_id, lock=True)
        if _cancelled_awaiting_return(s, sale.id):
            settlement_id = None
        else:
            row = settled_of(s, sale.id)
            if row is None:
                raise conflict("CARD-04", "该销售单没有有效的医保结算", "the sale has no settlement in effect",
                               sale_id=sale_id)
            if row.cancel_msgid:
                raise conflict("CARD-04", "上一次撤销结果待确认，请稍后再试", "a previous 2103 is still being resolved")
            if sale.business_date is not None and sale.business_date < ctx.today and confirmer is None:
                raise AppError(403, "CARD-04", "隔日撤销须由另一位有退货权限的人员输入 PIN 确认",
                               "a later-day reversal needs a second person with return rights to confirm with their PIN")
            insured = insured_of(s, sale.id)
            caller = ins.caller_for(s, ctx, ins.require_signed_in(s, ctx), insured.insuplc_admdvs if insured else "")
            before = audit.snapshot(row)
            row.cancel_msgid = ins.settlement_msgid(s, ctx)  # intent first: the 2103's msgid is on record
            s.add(row)
            audit.record_row(s, ctx.store_id, ctx.actor, "settlement.cancel_intent", row, before, note=reason)
            request = m.CancelRequest(setl_id=row.setl_id, mdtrt_id=row.mdtrt_id,
                                      psn_no=insured.psn_no if insured else "")
            settlement_id, cancel_msgid = row.id, row.cancel_msgid
    if settlement_id is not None:
        try:
            gateway.cancel(caller, request, msgid=cancel_msgid)
        except GatewayError as e:
            # Certainly not cancelled, or an uncertain 2103 taken back by 2601: the settlement stands and the
            # intent is cleared. An uncertain one that 2601 could not take back stays for `recover`.
            if not e.uncertain or _reverse_cancel(gateway, caller, request.psn_no, cancel_msgid):
                _clear_cancel(engine, ctx, settlement_id, e.message_en)
            raise e.to_app_error() from None
        with write_session(engine) as s:  # the centre has cancelled: recorded at once, on its own
            row = s.get(CardSettlement, settlement_id, with_for_update=True)
            assert row is not None
            before = audit.snapshot(row)
            row.status, row.cancel_reason = SettlementStatus.CANCELLED.value, reason.strip()
            row.cancelled_by, row.cancel_confirmed_by = ctx.actor.user_id, confirmer.id if confirmer else None
            s.add(row)
            audit.record_row(s, ctx.store_id, ctx.actor, "settlement.cancelled", row, before, note=reason)
    with write_session(engine) as s:
        return _return_whole(s, ctx, sale_id, till_code, return_id, reason, to_quarantine)


def _cancelled_awaiting_return(s: Session, sale_id: str) -> bool:
    cancelled = s.exec(select(CardSettlement.id).where(CardSettlement.sale_id == sale_id,
                                                       CardSettlement.status == SettlementStatus.CANCELLED.value)).first()
    if cancelled is None or settled_of(s, sale_id) is not None:
        return False
    lines = records.lines_of(s, sale_id)
    back = records.returned_so_far(s, [id_of(ln) for ln in lines])
    return any(ln.qty > back.get(id_of(ln), 0) for ln in lines)


def _return_whole(s: Session, ctx: Ctx, sale_id: str, till_code: str, return_id: str, reason: str,
                  to_quarantine: bool) -> Any:
    lines = records.lines_of(s, sale_id)
    back = records.returned_so_far(s, [id_of(ln) for ln in lines])
    requests = [returns.ReturnRequest(id_of(ln), ln.qty - back.get(id_of(ln), 0)) for ln in lines
                if ln.qty - back.get(id_of(ln), 0) > 0]
    return returns.create_return(s, ctx, return_id, sale_id, till_code, requests, reason, to_quarantine,
                                 card_cancelled=True)


def _reverse_cancel(gateway: InsuranceGateway, caller: Caller, psn_no: str, cancel_msgid: str) -> bool:
    try:
        gateway.reverse(caller, m.ReversalRequest(psn_no=psn_no, omsgid=cancel_msgid, oinfno="2103"))
        return True
    except GatewayError:
        return False


def _clear_cancel(engine: Engine, ctx: Ctx, settlement_id: int, why: str) -> None:
    with write_session(engine) as s:
        row = s.get(CardSettlement, settlement_id)
        assert row is not None
        before = audit.snapshot(row)
        row.cancel_msgid = ""
        s.add(row)
        audit.record_row(s, ctx.store_id, ctx.actor, "settlement.cancel_failed", row, before, note=why[:300])


def recover_cancels(engine: Engine, ctx: Ctx, gateway: InsuranceGateway) -> dict[int, str]:
    """A 2103 whose outcome is unknown (its intent left by a crash, or its 2601 failed): take it back
    with 2601 so the settlement certainly stands; the return can then be made again."""
    with read_session(engine) as s:
        rows = list(s.exec(select(CardSettlement).where(CardSettlement.store_id == ctx.store_id,
                                                        CardSettlement.status == SettlementStatus.SETTLED.value,
                                                        CardSettlement.cancel_msgid != "")))
        work = []
        for row in rows:
            insured = insured_of(s, row.sale_id)
            acting = ctx if ctx.actor.user_id is not None else ctx.acting(audit.Actor(row.created_by, "system"))
            sign = ins.current_sign_in(s, acting)
            work.append((id_of(row), row.cancel_msgid, insured.psn_no if insured else "",
                         ins.caller_for(s, acting, sign.sign_no if sign else "", insured.insuplc_admdvs if insured else "")))
    out: dict[int, str] = {}
    for settlement_id, msgid, psn_no, caller in work:
        if _reverse_cancel(gateway, caller, psn_no, msgid):
            _clear_cancel(engine, ctx, settlement_id, "2103 of unknown outcome reversed by 2601")
            out[settlement_id] = "settled"
        else:
            out[settlement_id] = "cancel_uncertain"
    return out


# --- what the receipt and the till show ---------------------------------------------------------------------

def masked(insured: SaleInsured) -> dict[str, Any]:
    return {"psn_name": insured.psn_name, "certno_masked": mask_id(insured.certno), "insutype": insured.insutype,
            "balc_fen": insured.balc_fen, "insuplc_admdvs": insured.insuplc_admdvs, "method": insured.method,
            "buyer_name": insured.buyer_name, "buyer_certno_masked": mask_id(insured.buyer_certno) if insured.buyer_certno else ""}

