"""The card pays for whom: the insured person identified (card, e-voucher, a typed ID number with its reason)
by 1101, kept as a snapshot on the sale; and how they are shown (masked)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from server import audit
from server.db.models import SaleInsured
from server.db.uow import Unit, core_unit, read_unit
from server.errors import AppError, refused
from server.insurance import messages as m
from server.insurance.errors import GatewayError
from server.insurance.gateway import InsuranceGateway
from server.privacy import mask_id, record_read
from server.rules import card as card_rules
from server.rules.card import proxy_refusals
from server.services import sales_ledger
from server.services.card import counter, rows
from server.services.card.counter import open_card_sale
from server.services.context import Ctx

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


def identify(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, sale_id: str, till_code: str,
             how: Identification) -> Any:
    """1101 for the sale's insured person; the snapshot (sale_insured's row) as recorded. A proxy buyer (代购)
    is recorded with their name and identity document, or not at all (RX-11)."""
    if problems := proxy_refusals(how.buyer_name, how.buyer_certno):
        raise refused(problems)
    query = _query(how)
    with read_unit(engine) as u:
        open_card_sale(u, ctx, sale_id, till_code)
        caller = counter.caller(u, ctx)
    try:
        person = gateway.person_info(caller, query)
    except GatewayError as e:
        raise e.to_app_error() from None
    if how.method == "id":  # SEC-06: a look-up by the full ID number read the person's record: logged
        with core_unit(engine) as u:
            record_read(u, ctx.store_id, ctx.actor, how.certno, person.baseinfo.psn_name, "1101 person info",
                        how.reason.strip(), "POST /sales/{sale_id}/insured (by ID number)")
    if not person.insuinfo:
        raise AppError(422, "CARD-05", "医保中心未返回参保信息", "the centre returned no insurance for this person")
    row = person.insurance(how.insutype) if how.insutype else (person.insurance("310") or person.insuinfo[0])
    if row is None:
        raise AppError(422, "CARD-05", f"该人员没有险种 {how.insutype} 的参保记录",
                       f"the person has no insurance of type {how.insutype}", {"insutype": how.insutype})
    # An open basket's edit (durable=False, as a scan): the settlement's intent, committed on disk before
    # 2102 leaves, carries it there too; a power cut before that loses an identification, nothing paid for.
    with core_unit(engine, durable=False) as u:
        sale = open_card_sale(u, ctx, sale_id, till_code, lock=True).sale  # two identifications of one sale: one row
        existing = rows.insured_of(u, sale.id)
        values: dict[str, Any] = dict(
            method=how.method, id_reason=how.reason.strip(), mdtrt_cert_type=query.mdtrt_cert_type,
            mdtrt_cert_no=query.mdtrt_cert_no, card_sn=query.card_sn, psn_no=person.baseinfo.psn_no,
            psn_name=person.baseinfo.psn_name, psn_cert_type=person.baseinfo.psn_cert_type or "01",
            certno=person.baseinfo.certno, gend=person.baseinfo.gend, insutype=row.insutype,
            psn_type=row.psn_type, balc_fen=row.balc_fen, insuplc_admdvs=row.insuplc_admdvs,
            buyer_name=how.buyer_name.strip(), buyer_certno=how.buyer_certno.strip().upper(),
            identified_by=ctx.actor.user_id, identified_at=ctx.now) | rows.UNSIGNED  # a new person signs anew
        snap = rows.put_insured(u, existing, ctx.store_id, sale.id, values)
        audit.record(u, ctx.store_id, ctx.actor, "sale.insured", "sale_insured", snap.id,
                     rows.image(SaleInsured, existing), rows.image(SaleInsured, snap),
                     note=f"1101 {person.receipt.msgid}" + (f"；手工录入：{how.reason.strip()}" if how.method == "id" else ""))
        return snap


MAX_SIGNATURE_BYTES = 256 * 1024
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG: what signature pads hand over


def sign(u: Unit, ctx: Ctx, sale_id: str, till_code: str, how: str, image: bytes | None) -> Any:
    """CARD-05: the insured person (or the proxy buyer) signed the purchase list, as given — `key`: on the paper
    list, confirmed at the till by the operator; `pad`: the signature pad's image. Recorded on the sale's
    snapshot with who and when, for the list as it is now (a list changed afterwards is signed again)."""
    if how not in ("key", "pad"):
        raise AppError(422, "VALIDATION", "签字方式须为 key 或 pad", "how: key or pad")
    if how == "pad" and not (image and len(image) <= MAX_SIGNATURE_BYTES and image.startswith(_IMAGE_MAGIC)):
        raise AppError(422, "CARD-05", "签名板签字须附签名图像（PNG/JPEG，不超过 256 KB）",
                       "a signature-pad signature needs its image (PNG or JPEG, at most 256 KB)")
    if how == "key" and image:
        raise AppError(422, "VALIDATION", "键盘确认不附图像", "a key confirmation carries no image")
    sale = open_card_sale(u, ctx, sale_id, till_code, lock=True).sale
    before = rows.insured_of(u, sale.id)
    if before is None:
        raise AppError(422, "CARD-05", "请先识别参保人，再签字确认购药清单", "identify the insured person before the list is signed")
    listed = card_rules.lines_digest([(ln["id"], ln["qty"], ln["amount_fen"]) for ln in sales_ledger.lines(u, sale.id)])
    after = rows.sign(u, before.id, {"signed_how": how, "signed_by": ctx.actor.user_id, "signed_at": ctx.now,
                                     "signed_lines": listed, "signature_image": image if how == "pad" else None,
                                     "signature_sha256": hashlib.sha256(image).hexdigest() if how == "pad" and image
                                     else ""})
    audit.record(u, ctx.store_id, ctx.actor, "sale.signed", "sale_insured", after.id,
                 rows.image(SaleInsured, before), rows.image(SaleInsured, after), note=f"CARD-05 {how}")
    return after


def masked(insured: Any) -> dict[str, Any]:
    """The insured person as the till shows them (SEC-06); `insured`: sale_insured's row."""
    return {"psn_name": insured.psn_name, "certno_masked": mask_id(insured.certno), "insutype": insured.insutype,
            "balc_fen": insured.balc_fen, "insuplc_admdvs": insured.insuplc_admdvs, "method": insured.method,
            "buyer_name": insured.buyer_name, "buyer_certno_masked": mask_id(insured.buyer_certno) if insured.buyer_certno else "",
            "signed_how": insured.signed_how, "signed_at": insured.signed_at}
