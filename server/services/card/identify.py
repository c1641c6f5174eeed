"""The card pays for whom: the insured person identified (card, e-voucher, a typed ID number with its reason)
by 1101, kept as a snapshot on the sale; and how they are shown (masked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from server import audit
from server.db.models import (
    Sale,
    SaleInsured,
    SaleStatus,
)
from server.db.uow import read_session, write_session
from server.errors import AppError, conflict
from server.insurance import messages as m
from server.insurance.errors import GatewayError
from server.insurance.gateway import InsuranceGateway
from server.privacy import mask_id, record_read
from server.services import records
from server.services.context import Ctx
from server.services.insurance import sign_in as ins
from server.services.store.profile import usable_till

CERT_TYPES = {"voucher": "01", "id": "02", "card": "03"}  # mdtrt_cert_type (reference §9)


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


def open_card_sale(s: Session, ctx: Ctx, sale_id: str, till_code: str, lock: bool = False) -> Sale:
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
        open_card_sale(s, ctx, sale_id, till_code)
        caller = ins.caller_for(s, ctx, ins.require_signed_in(s, ctx))
    try:
        person = gateway.person_info(caller, query)
    except GatewayError as e:
        raise e.to_app_error() from None
    if how.method == "id":  # SEC-06: a look-up by the full ID number read the person's record: logged
        with write_session(engine) as s:
            record_read(s, ctx.store_id, ctx.actor, how.certno, person.baseinfo.psn_name, "1101 person info",
                        how.reason.strip())
    if not person.insuinfo:
        raise AppError(422, "CARD-05", "医保中心未返回参保信息", "the centre returned no insurance for this person")
    row = person.insurance(how.insutype) if how.insutype else (person.insurance("310") or person.insuinfo[0])
    if row is None:
        raise AppError(422, "CARD-05", f"该人员没有险种 {how.insutype} 的参保记录",
                       f"the person has no insurance of type {how.insutype}", {"insutype": how.insutype})
    with write_session(engine) as s:
        sale = open_card_sale(s, ctx, sale_id, till_code, lock=True)  # two identifications of one sale: one row
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


def masked(insured: SaleInsured) -> dict[str, Any]:
    return {"psn_name": insured.psn_name, "certno_masked": mask_id(insured.certno), "insutype": insured.insutype,
            "balc_fen": insured.balc_fen, "insuplc_admdvs": insured.insuplc_admdvs, "method": insured.method,
            "buyer_name": insured.buyer_name, "buyer_certno_masked": mask_id(insured.buyer_certno) if insured.buyer_certno else ""}
