"""Entering a prescription — paper or an electronic import — with its checks (RX-02, RX-05..07), its attachments, and reading it back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from catalog.classes import Route
from catalog.violations import Violation
from server import audit
from server.db.models import (
    Doctor,
    Item,
    MedicalInstitution,
    Prescription,
    PrescriptionLine,
    RxAttachment,
    RxReview,
    RxStatus,
    Sale,
    SaleLine,
    SaleStatus,
)
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.privacy import record_read
from server.rules import prescriptions as rx_rules
from server.rules import supply
from server.rules.prescriptions import Course
from server.services import records
from server.services.context import Ctx

MAX_ATTACHMENT_BYTES = 8 * 1024 * 1024


ATTACHMENT_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})


@dataclass
class RxLineIn:
    item_id: int
    qty: int
    dosage: str
    frequency: str
    route: str
    drug_name: str = ""  # as written on the prescription (a paper one must carry it, RX-02)
    split: bool = False  # qty counts split units (e.g. 粒) rather than packs
    dosage_form: str = ""  # 剂型 as written; the catalog's when blank


@dataclass
class RxIn:
    rx_no: str
    institution_code: str
    institution_name: str
    doctor_name: str
    issued_on: date
    patient_name: str
    patient_sex: str
    patient_age: int
    diagnosis: str
    lines: list[RxLineIn]
    for_insurance: bool = False
    source: str = "paper"
    doctor_code: str = ""
    doctor_signed: bool = False
    institution_sealed: bool = False
    waipei_sealed: bool = False
    valid_days: int | None = None  # as the prescriber extended it; None: the store's rx_validity_days
    patient_certno: str = ""
    patient_psn_no: str = ""
    diagnosis_code: str = ""
    course: Course = Course.ACUTE
    original: dict[str, Any] | None = None


def _institution_facts(s: Session, ctx: Ctx, rx: RxIn, on: date) -> rx_rules.InstitutionFacts | None:
    inst = s.exec(select(MedicalInstitution).where(MedicalInstitution.store_id == ctx.store_id,
                                                   MedicalInstitution.code == rx.institution_code)).first()
    if inst is None:
        return None
    designated = inst.designated and (inst.designated_until is None or inst.designated_until >= on)
    q = select(Doctor).where(Doctor.institution_id == inst.id, Doctor.active)
    q = q.where(Doctor.code == rx.doctor_code) if rx.doctor_code else q.where(Doctor.name == rx.doctor_name)
    return rx_rules.InstitutionFacts(inst.code, inst.name, designated, s.exec(q).first() is not None)


def generic_name(item: Item) -> str:
    """What a written drug name is matched against (RX-04): the 通用名, the item's name where it has none."""
    return item.generic_name.strip() or item.name


def pack_of(item: Item) -> supply.PackFacts:
    return supply.PackFacts(item.unit, item.split_unit, item.split_ratio, item.spec)


def supply_days(items: dict[int, Item], lines: list[RxLineIn]) -> tuple[list[int], list[Violation]]:
    """Each line's days' supply from its quantity, dose and frequency (RX-06), or why it cannot be computed."""
    days: list[int] = []
    problems: list[Violation] = []
    for n, ln in enumerate(lines, start=1):
        got = supply.supply_days(ln.qty, ln.split, ln.dosage, ln.frequency, pack_of(items[ln.item_id]),
                                 f"第{n}行 {ln.drug_name or items[ln.item_id].name}：")
        if isinstance(got, Violation):
            problems.append(got)
            days.append(0)
        else:
            days.append(got)
    return days, problems


def _line_facts(items: dict[int, Item], lines: list[RxLineIn], days: list[int]) -> tuple[rx_rules.RxLineFacts, ...]:
    return tuple(rx_rules.RxLineFacts(
        item_code=items[ln.item_id].code, drug_name=ln.drug_name, qty=ln.qty, days=d,
        dosage=ln.dosage, frequency=ln.frequency, route=ln.route, dosage_form=ln.dosage_form or items[ln.item_id].dosage_form,
        pharm_class=items[ln.item_id].pharm_class, injection=items[ln.item_id].route == Route.INJECTION.value,
        insulin="胰岛素" in (items[ln.item_id].generic_name + items[ln.item_id].name),
        generic_name=generic_name(items[ln.item_id])) for ln, d in zip(lines, days, strict=True))


def facts_of(rx: RxIn, inst: rx_rules.InstitutionFacts | None, items: dict[int, Item],
             days: list[int]) -> rx_rules.RxFacts:
    return rx_rules.RxFacts(
        rx_no=rx.rx_no, electronic=rx.source == "electronic", for_insurance=rx.for_insurance, institution=inst,
        doctor_name=rx.doctor_name, doctor_signed=rx.doctor_signed, institution_sealed=rx.institution_sealed,
        waipei_sealed=rx.waipei_sealed, issued_on=rx.issued_on, valid_days=rx.valid_days or 0,
        patient_name=rx.patient_name, patient_sex=rx.patient_sex, patient_age=rx.patient_age,
        diagnosis=rx.diagnosis, course=rx.course, lines=_line_facts(items, rx.lines, days))


def stored_facts(s: Session, rx: Prescription) -> rx_rules.RxFacts:
    """A prescription on file as the rules see it (the review's RX-06, the completion's RX-07): the days' supply
    as computed at entry, the written names against the items' generic names as the catalog has them now."""
    lines = lines_of(s, id_of(rx))
    items = {id_of(i): i for i in s.exec(select(Item).where(col(Item.id).in_([ln.item_id for ln in lines])))}
    data = RxIn(rx_no=rx.rx_no, institution_code=rx.institution_code, institution_name=rx.institution_name,
                doctor_name=rx.doctor_name, issued_on=rx.issued_on, patient_name=rx.patient_name,
                patient_sex=rx.patient_sex, patient_age=rx.patient_age, diagnosis=rx.diagnosis,
                lines=[RxLineIn(ln.item_id, ln.qty, ln.dosage, ln.frequency, ln.route, ln.drug_name,
                                ln.split, ln.dosage_form) for ln in lines],
                for_insurance=rx.for_insurance, source=rx.source, doctor_signed=rx.doctor_signed,
                institution_sealed=rx.institution_sealed, waipei_sealed=rx.waipei_sealed, valid_days=rx.valid_days,
                course=Course(rx.course))
    return facts_of(data, None, items, [ln.days for ln in lines])


def _same_day_others(s: Session, ctx: Ctx, rx: RxIn) -> list[rx_rules.PriorRx]:
    found = s.exec(select(Prescription).where(Prescription.store_id == ctx.store_id,
                                              Prescription.issued_on == rx.issued_on,
                                              Prescription.doctor_name == rx.doctor_name,
                                              Prescription.status != RxStatus.REJECTED.value)).all()
    if not found:
        return []
    codes: dict[int, set[str]] = {}
    for rx_id, code in s.exec(select(PrescriptionLine.prescription_id, Item.code)
                              .join(Item, col(Item.id) == PrescriptionLine.item_id)
                              .where(col(PrescriptionLine.prescription_id).in_([p.id for p in found]))):
        codes.setdefault(rx_id, set()).add(code)
    return [rx_rules.PriorRx(p.rx_no, p.patient_name, p.patient_certno or p.patient_psn_no, p.doctor_name, p.issued_on,
                             frozenset(codes.get(id_of(p), set()))) for p in found]


# What the columns hold: an electronic prescription is checked against these as a typed one is by the API.
_TEXT_LIMITS = {"rx_no": 50, "institution_code": 30, "institution_name": 100, "doctor_name": 50, "doctor_code": 30,
                "patient_name": 50, "patient_certno": 30, "patient_psn_no": 30, "diagnosis": 200, "diagnosis_code": 30}


_LINE_TEXT_LIMITS = {"drug_name": 100, "dosage": 30, "frequency": 30, "route": 30, "dosage_form": 30}


def _shape_refusals(rx: RxIn) -> list[Violation]:
    bad = [k for k, most in _TEXT_LIMITS.items() if len(getattr(rx, k)) > most]
    bad += [f"lines[{n}].{k}" for n, ln in enumerate(rx.lines) for k, most in _LINE_TEXT_LIMITS.items()
            if len(getattr(ln, k)) > most]
    bad += [f"lines[{n}].qty" for n, ln in enumerate(rx.lines) if not 1 <= ln.qty <= 10_000]
    bad += [k for k, (lo, hi) in (("patient_age", (0, 150)), ("valid_days", (1, 30)))
            if getattr(rx, k) is not None and not lo <= getattr(rx, k) <= hi]
    if len(rx.lines) > 20:
        bad.append("lines")
    return [Violation("RX-02", f"处方字段超出范围或过长：{'、'.join(bad)}", f"fields out of range or too long: {bad}",
                      {"fields": bad})] if bad else []


def create(u: Unit, ctx: Ctx, rx: RxIn) -> Prescription:
    """Record a prescription after the entry checks (RX-02, RX-07); it awaits a pharmacist's review."""
    s = orm(u)
    if not rx.lines:
        raise refused([Violation("RX-02", "处方没有药品", "the prescription has no drug lines")])
    if problems := _shape_refusals(rx):
        raise refused(problems)
    items = {id_of(i): i for i in s.exec(select(Item).where(Item.store_id == ctx.store_id,
                                                         col(Item.id).in_({ln.item_id for ln in rx.lines})))}
    for ln in rx.lines:
        if ln.item_id not in items:
            raise not_found("处方药品", "prescribed item", item_id=ln.item_id)
    duplicate = s.exec(select(Prescription.id).where(Prescription.store_id == ctx.store_id,
                                                     Prescription.institution_code == rx.institution_code,
                                                     Prescription.rx_no == rx.rx_no)).first()
    if duplicate is not None:
        raise conflict("RX-07", f"处方 {rx.rx_no} 已登记过（不得转抄或重复使用处方）",
                       f"prescription {rx.rx_no} of {rx.institution_code} is already on file", prescription_id=duplicate)
    rules = ctx.settings.rules
    days, unreadable = supply_days(items, rx.lines)
    facts = facts_of(rx, _institution_facts(s, ctx, rx, ctx.today), items, days)
    problems = (unreadable + rx_rules.content_refusals(facts, rules.require_waipei_seal)
                + rx_rules.validity_refusals(facts, ctx.today, rules.rx_max_extended_validity_days,
                                             default_valid_days=rules.rx_validity_days)
                + rx_rules.split_refusals(facts, rx.patient_certno or rx.patient_psn_no, _same_day_others(s, ctx, rx)))
    if problems:
        raise refused(problems)
    inst = s.exec(select(MedicalInstitution).where(MedicalInstitution.store_id == ctx.store_id,
                                                   MedicalInstitution.code == rx.institution_code)).first()
    row = Prescription(
        store_id=ctx.store_id, rx_no=rx.rx_no, source=rx.source, for_insurance=rx.for_insurance,
        institution_id=inst.id if inst else None, institution_code=rx.institution_code,
        institution_name=rx.institution_name, doctor_code=rx.doctor_code, doctor_name=rx.doctor_name,
        doctor_signed=rx.doctor_signed, institution_sealed=rx.institution_sealed, waipei_sealed=rx.waipei_sealed,
        issued_on=rx.issued_on, valid_days=rx.valid_days or 0, patient_name=rx.patient_name, patient_sex=rx.patient_sex,
        patient_age=rx.patient_age, patient_certno=rx.patient_certno, patient_psn_no=rx.patient_psn_no,
        diagnosis=rx.diagnosis, diagnosis_code=rx.diagnosis_code, course=rx.course.value, original=rx.original,
        entered_by=ctx.actor_id, entered_at=ctx.now)
    s.add(row)
    s.flush()
    lines = [PrescriptionLine(store_id=ctx.store_id, prescription_id=id_of(row), line_no=n, item_id=ln.item_id,
                              drug_name=ln.drug_name, qty=ln.qty, split=ln.split,
                              dosage_form=ln.dosage_form or items[ln.item_id].dosage_form,
                              days=d,
                              dosage=ln.dosage, frequency=ln.frequency, route=ln.route)
             for n, (ln, d) in enumerate(zip(rx.lines, days, strict=True), start=1)]
    s.add_all(lines)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "rx.create", "prescription", row.id, None,
                 audit.snapshot(row) | {"lines": [audit.snapshot(ln) for ln in lines]})
    return row


def from_electronic(s: Session, ctx: Ctx, doc: dict[str, Any]) -> RxIn:
    """An electronic 外配处方 as JSON → the entry form; drugs found by their 医保 code (med_list_codg)."""
    def need(key: str, where: dict[str, Any] = doc) -> Any:
        if where.get(key) in (None, ""):
            raise AppError(422, "RX-02", f"电子处方缺少字段 {key}", f"the electronic prescription lacks {key}",
                           {"field": key})
        return where[key]

    drugs = doc.get("rxdrugdetail")
    if not isinstance(drugs, list) or not drugs:
        raise AppError(422, "RX-02", "电子处方没有药品明细 rxdrugdetail", "rxdrugdetail is missing or empty",
                       {"field": "rxdrugdetail"})
    lines = []
    for d in drugs:
        if not isinstance(d, dict):
            raise AppError(422, "RX-02", "rxdrugdetail 的每一项须为对象", "each rxdrugdetail entry must be an object")
        code = need("med_list_codg", d)
        if not isinstance(code, str) or len(code) > 50:
            raise AppError(422, "RX-02", "电子处方字段 med_list_codg 须为医保编码文本", "med_list_codg must be a code (text)",
                           {"field": "med_list_codg"})
        item = s.exec(select(Item).where(Item.store_id == ctx.store_id, Item.nhsa_code == code)).first()
        if item is None:
            raise not_found(f"医保编码 {code} 对应的商品", f"item with national code {code}", med_list_codg=code)
        # prd_days is the prescriber's figure: kept in the original, the days' supply is computed (RX-06).
        dose = str(need("sin_doscnt", d))
        if d.get("sin_dosunt") and not dose.rstrip().endswith(str(d["sin_dosunt"])):
            dose += str(d["sin_dosunt"])  # 7203 may give the amount and its unit apart
        lines.append(RxLineIn(item_id=id_of(item), qty=_int(need("drug_cnt", d), "drug_cnt"), dosage=dose,
                              frequency=str(need("used_frquname", d)), route=str(need("medc_way_dscr", d)),
                              drug_name=str(d.get("drug_genname") or item.name),
                              dosage_form=str(d.get("drug_dosform") or "")))
    dise = doc.get("diseinfo") or [{}]
    first_dise = dise[0] if isinstance(dise, list) and dise and isinstance(dise[0], dict) else {}
    try:
        issued = date.fromisoformat(str(need("prsc_time"))[:10])
    except ValueError:
        raise AppError(422, "RX-02", "电子处方开具时间 prsc_time 格式错误", "prsc_time is not a date",
                       {"field": "prsc_time"}) from None
    return RxIn(rx_no=str(need("hi_rxno")), institution_code=str(need("fixmedins_code")),
                institution_name=str(need("fixmedins_name")), doctor_name=str(need("prsc_dr_name")),
                doctor_code=str(doc.get("prsc_dr_code") or ""), issued_on=issued,
                patient_name=str(need("patn_name")), patient_sex={"1": "男", "2": "女"}.get(str(need("gend")), "未知"),
                patient_age=_int(need("age"), "age"), diagnosis=str(first_dise.get("diag_name") or ""),
                diagnosis_code=str(first_dise.get("diag_code") or ""), lines=lines, for_insurance=True,
                source="electronic",
                valid_days=_int(doc["valid_days"], "valid_days") if doc.get("valid_days") not in (None, "") else None,
                patient_certno=str(doc.get("certno") or ""), patient_psn_no=str(doc.get("psn_no") or ""),
                course=_course(doc.get("course")), original=doc)


def _course(value: Any) -> Course:
    try:
        return Course(value) if isinstance(value, str) else Course.ACUTE
    except ValueError:
        raise AppError(422, "RX-02", f"疗程类别 course 无效：{value}", f"course must be one of {[c.value for c in Course]}",
                       {"field": "course"}) from None


def _int(value: Any, key: str) -> int:
    try:
        out = int(str(value).split(".")[0]) if str(value).replace(".", "", 1).isdigit() else int(value)
    except (TypeError, ValueError, OverflowError):
        raise AppError(422, "RX-02", f"电子处方字段 {key} 须为数字", f"{key} must be a number", {"field": key}) from None
    return out


def attach(u: Unit, ctx: Ctx, rx_id: int, content_type: str, data: bytes) -> RxAttachment:
    s = orm(u)
    rx = get(s, ctx, rx_id)
    if content_type not in ATTACHMENT_TYPES:
        raise AppError(415, "RX-08", "处方影像须为 JPEG、PNG 或 PDF", "the scan must be JPEG, PNG or PDF",
                       {"content_type": content_type})
    if not data or len(data) > MAX_ATTACHMENT_BYTES:
        raise AppError(413 if data else 422, "RX-08", f"处方影像须在 1 字节到 {MAX_ATTACHMENT_BYTES // 1048576} MB 之间",
                       f"the scan must be 1 byte to {MAX_ATTACHMENT_BYTES} bytes", {"size": len(data)})
    att = RxAttachment(store_id=ctx.store_id, prescription_id=id_of(rx), content_type=content_type,
                       sha256=hashlib.sha256(data).hexdigest(), size=len(data), data=data,
                       uploaded_by=ctx.actor_id, uploaded_at=ctx.now)
    s.add(att)
    audit.record_row(u, ctx.store_id, ctx.actor, "rx.attach", att)
    return att


def get(s: Session, ctx: Ctx, rx_id: int, lock: bool = False) -> Prescription:
    rx = s.get(Prescription, rx_id, with_for_update=lock or None)
    if rx is None or rx.store_id != ctx.store_id:
        raise not_found("处方", "prescription", prescription_id=rx_id)
    return rx


def lines_of(s: Session, rx_id: int) -> list[PrescriptionLine]:
    return list(s.exec(select(PrescriptionLine).where(PrescriptionLine.prescription_id == rx_id)
                       .order_by(col(PrescriptionLine.line_no))))


def dispensed(s: Session, rx_line_ids: list[int]) -> dict[int, int]:
    """What completed sales dispensed against each prescription line, in the item's smallest unit
    (returns come back off it)."""
    if not rx_line_ids:
        return {}
    rows = s.execute(sa_select(col(SaleLine.id), col(SaleLine.rx_line_id), col(SaleLine.qty), col(SaleLine.split),
                               col(Item.split_ratio))
                     .join(Sale, col(Sale.id) == SaleLine.sale_id).join(Item, col(Item.id) == SaleLine.item_id)
                     .where(col(SaleLine.rx_line_id).in_(rx_line_ids),
                            col(Sale.status) == SaleStatus.COMPLETED.value)).all()
    back = records.returned_so_far(s, [r[0] for r in rows])
    out: dict[int, int] = {}
    for line_id, rx_line_id, qty, split, ratio in rows:
        out[rx_line_id] = out.get(rx_line_id, 0) + (qty - back.get(line_id, 0)) * (1 if split else ratio)
    return out


def base_qty(line: PrescriptionLine, split_ratio: int) -> int:
    return line.qty if line.split else line.qty * split_ratio


def reviews_of(s: Session, rx_id: int) -> list[RxReview]:
    return list(s.exec(select(RxReview).where(RxReview.prescription_id == rx_id).order_by(col(RxReview.id))))


def attachments_of(s: Session, rx_id: int) -> list[Any]:
    """The scans' descriptions, without their bytes (a search lists many prescriptions)."""
    return list(s.execute(sa_select(col(RxAttachment.id), col(RxAttachment.content_type), col(RxAttachment.sha256),
                                    col(RxAttachment.size), col(RxAttachment.uploaded_at))
                          .where(col(RxAttachment.prescription_id) == rx_id).order_by(col(RxAttachment.id))))


def attachment(s: Session, ctx: Ctx, rx_id: int, attachment_id: int) -> RxAttachment:
    att = s.get(RxAttachment, attachment_id)
    if att is None or att.prescription_id != rx_id or att.store_id != ctx.store_id:
        raise not_found("处方影像", "scan", attachment_id=attachment_id)
    return att


def search(s: Session, ctx: Ctx, date_from: date | None, date_to: date | None, patient: str | None,
           institution: str | None, limit: int = 200) -> list[Prescription]:
    """For the inspector: by issue date, patient (name or ID number) and institution (code or name)."""
    q = select(Prescription).where(Prescription.store_id == ctx.store_id)
    if date_from:
        q = q.where(Prescription.issued_on >= date_from)
    if date_to:
        q = q.where(Prescription.issued_on <= date_to)
    if patient:
        q = q.where((col(Prescription.patient_name) == patient) | (col(Prescription.patient_certno) == patient)
                    | (col(Prescription.patient_psn_no) == patient))
    if institution:
        q = q.where((col(Prescription.institution_code) == institution)
                    | col(Prescription.institution_name).contains(institution))
    return list(s.exec(q.order_by(col(Prescription.issued_on).desc(), col(Prescription.id).desc()).limit(limit)))


# --- SEC-06: reads of a person's full record are logged ---------------------------------------------------

def found_by_number(found: list[Prescription], patient: str | None) -> list[Prescription]:
    """The prescriptions a search found by the person's identity number (ID or 医保 number), not by name."""
    key = (patient or "").strip()
    return [rx for rx in found if key and key in (rx.patient_certno, rx.patient_psn_no)]


def record_search_read(u: Unit, ctx: Ctx, patient: str, found: list[Prescription], reason: str = "") -> None:
    """A search by a person's full identity number read their prescriptions: logged, the number masked."""
    mine = found_by_number(found, patient)
    if mine:
        record_read(u, ctx.store_id, ctx.actor, patient.strip(), mine[0].patient_name,
                    ("prescriptions " + ", ".join(rx.rx_no for rx in mine))[:300],
                    reason.strip() or "处方查询（按证件号）/ prescription search by identity number",
                    "GET /prescriptions?patient=")


def record_scan_read(u: Unit, ctx: Ctx, rx: Prescription, att: RxAttachment, reason: str = "") -> None:
    """A prescription's scan downloaded: the paper shows the whole record (ID number included): logged."""
    record_read(u, ctx.store_id, ctx.actor, rx.patient_certno or rx.patient_psn_no, rx.patient_name,
                f"scan #{att.id} of prescription {rx.rx_no}",
                reason.strip() or "处方影像下载 / prescription scan download",
                "GET /prescriptions/{rx_id}/attachments/{attachment_id}")
