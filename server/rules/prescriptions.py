"""The prescription rules (RX-02..RX-07, RX-11) as pure functions of plain facts.

Entry checks a prescription's form and validity (RX-02, RX-07); review checks the prescriber's
limits (RX-06, which bind the prescriber: an over-limit prescription goes back, RX-05); dispensing
checks each Rx line against what the prescription still allows (RX-04); card settlement checks the
patient is the insured person or a recorded proxy purchase (RX-03, RX-11). RX-01 and RX-10 (a
pharmacist on duty approved it) are checked by the sale's completion with these facts' verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from catalog.violations import Violation
from server.rules.drug_names import plain, same_drug


class Course(StrEnum):
    """用药疗程类别, which sets the supply limit (RX-06)."""

    ACUTE = "acute"  # 急性病
    ORDINARY = "ordinary"  # 一般（profile B）
    CHRONIC = "chronic"  # 慢性病
    LONG_TERM = "long_term"  # 长期慢性病

    @property
    def label(self) -> str:
        return {"acute": "急性病", "ordinary": "一般疾病", "chronic": "慢性病", "long_term": "长期慢性病"}[self.value]


class RejectReason(StrEnum):
    """RX-05: a valid 外配处方 is refused only for one of these reasons."""

    COMPATIBILITY = "compatibility"  # 配伍疑义
    DOSE = "dose"  # 剂量疑义
    OVER_LIMIT = "over_limit"  # 超限量
    NOT_DESIGNATED = "not_designated"  # 非定点机构
    IDENTITY = "identity"  # 身份不符
    OUT_OF_STOCK = "out_of_stock"  # 缺货（转介其他定点药店）
    INVALID = "invalid"  # 处方不规范 / 过期

    @property
    def label(self) -> str:
        return REJECT_LABELS[self]


REJECT_LABELS = {
    RejectReason.COMPATIBILITY: "配伍疑义", RejectReason.DOSE: "剂量疑义", RejectReason.OVER_LIMIT: "超限量",
    RejectReason.NOT_DESIGNATED: "非定点机构", RejectReason.IDENTITY: "身份不符",
    RejectReason.OUT_OF_STOCK: "缺货，已转介其他定点药店", RejectReason.INVALID: "处方不规范或已失效",
}

# Profile A (default) and B: supply days per course, drugs per prescription, same-class drugs (RX-06).
SUPPLY_LIMITS = {
    "A": {Course.ACUTE: 7, Course.ORDINARY: 7, Course.CHRONIC: 15, Course.LONG_TERM: 30},
    "B": {Course.ACUTE: 3, Course.ORDINARY: 7, Course.CHRONIC: 15, Course.LONG_TERM: 15},
}
MAX_DRUGS = {"A": None, "B": 5}
MAX_SAME_CLASS = {"A": 2, "B": None}
NO_INJECTIONS = {"A": True, "B": False}


@dataclass(frozen=True, slots=True)
class InstitutionFacts:
    code: str
    name: str
    designated: bool  # 定点医疗机构 in the registry today
    doctor_registered: bool  # the prescriber is on the institution's list


@dataclass(frozen=True, slots=True)
class RxLineFacts:
    item_code: str
    drug_name: str  # as written on the prescription
    qty: int
    days: int  # computed from quantity, dose and frequency (server.rules.supply), never typed
    dosage: str  # 单次剂量, e.g. "0.5g"
    frequency: str  # 频次, e.g. "tid"
    route: str  # 用法 / 给药途径
    dosage_form: str = ""
    pharm_class: str = ""  # 药理分类, for the same-class limit
    injection: bool = False
    insulin: bool = False
    generic_name: str = ""  # the dispensed item's 通用名 (its name where the catalog has none)


@dataclass(frozen=True, slots=True)
class RxFacts:
    rx_no: str
    electronic: bool
    for_insurance: bool  # a 外配处方 to be paid by the card: RX-02's designated-institution checks apply
    institution: InstitutionFacts | None
    doctor_name: str
    doctor_signed: bool
    institution_sealed: bool
    waipei_sealed: bool
    issued_on: date | None
    valid_days: int  # as the prescriber extended it; 0: not written, the store's rx_validity_days holds
    patient_name: str
    patient_sex: str
    patient_age: int | None
    diagnosis: str
    course: Course
    lines: tuple[RxLineFacts, ...] = field(default_factory=tuple)


def _v(rule: str, zh: str, en: str, **details: object) -> Violation:
    return Violation(rule, zh, en, dict(details))


def content_refusals(rx: RxFacts, waipei_seal_required: bool) -> list[Violation]:
    """RX-02: who issued it, signed and sealed, and the content every prescription carries."""
    out: list[Violation] = []
    missing = [zh for zh, ok in (("患者姓名", rx.patient_name.strip()), ("性别", rx.patient_sex in ("男", "女")),
                                 ("年龄", rx.patient_age is not None), ("开具日期", rx.issued_on is not None),
                                 ("诊断", rx.diagnosis.strip()), ("处方医师", rx.doctor_name.strip()),
                                 ("药品", rx.lines)) if not ok]
    for n, ln in enumerate(rx.lines, start=1):
        missing += [f"第{n}行{zh}" for zh, ok in (("药品名称", ln.drug_name.strip()), ("剂型", ln.dosage_form.strip()), ("剂量", ln.dosage.strip()),
                                                 ("数量", ln.qty > 0), ("用法", ln.frequency.strip() and ln.route.strip()))
                     if not ok]
    if missing:
        out.append(_v("RX-02", f"处方内容不全：缺少{'、'.join(missing)}",
                      f"the prescription lacks required content: {len(missing)} item(s)", missing=missing))
    if not rx.electronic and not rx.doctor_signed:
        out.append(_v("RX-02", "处方无医师签名", "the prescription is not signed by the doctor"))
    if rx.for_insurance:
        inst = rx.institution
        if inst is None:
            out.append(_v("RX-02", "开方机构不在定点医疗机构名录中", "the issuing institution is not in the registry"))
        else:
            if not inst.designated:
                out.append(_v("RX-02", f"{inst.name} 不是定点医疗机构（或已暂停/解除协议）",
                              f"{inst.code} is not a designated medical institution", institution=inst.code))
            if not inst.doctor_registered:
                out.append(_v("RX-02", f"医师 {rx.doctor_name} 不在 {inst.name} 的医师名录中",
                              f"the prescriber is not registered at {inst.code}", institution=inst.code))
        if not rx.electronic and not rx.institution_sealed:
            out.append(_v("RX-02", "外配处方无定点医疗机构盖章", "the 外配处方 carries no institution seal"))
        if not rx.electronic and waipei_seal_required and not rx.waipei_sealed:
            out.append(_v("RX-02", "本统筹区要求加盖外配处方专用章", "this region requires the 外配处方 seal"))
    return out


def validity_refusals(rx: RxFacts, today: date, max_valid_days: int, *, default_valid_days: int) -> list[Violation]:
    """RX-07: not post-dated, not expired. Issue day = day 1; valid for the store's `rx_validity_days` unless the
    prescriber wrote another validity, which may not exceed `rx_max_extended_validity_days`."""
    if rx.issued_on is None:
        return []
    out: list[Violation] = []
    if rx.issued_on > today:
        out.append(_v("RX-07", f"处方开具日期 {rx.issued_on} 晚于今天，不得调配（预开处方）",
                      f"the prescription is post-dated ({rx.issued_on})", issued_on=rx.issued_on.isoformat()))
    if rx.valid_days > max_valid_days:
        out.append(_v("RX-07", f"处方有效期最长 {max_valid_days} 天（本处方写 {rx.valid_days} 天）",
                      f"validity may be extended to at most {max_valid_days} days", valid_days=rx.valid_days))
    written = rx.valid_days if rx.valid_days > 0 else default_valid_days
    last_day = rx.issued_on + timedelta(days=max(1, min(written, max_valid_days)) - 1)
    if today > last_day:
        out.append(_v("RX-07", f"处方已过期（{rx.issued_on} 开具，有效至 {last_day}）",
                      f"the prescription expired on {last_day}", issued_on=rx.issued_on.isoformat(),
                      valid_until=last_day.isoformat()))
    return out


@dataclass(frozen=True, slots=True)
class PriorRx:
    """Another prescription already on file, for split detection."""

    rx_no: str
    patient_name: str
    patient_id: str  # certno or psn_no; empty if none recorded
    doctor_name: str
    issued_on: date
    item_codes: frozenset[str]


def split_refusals(rx: RxFacts, patient_id: str, others: list[PriorRx]) -> list[Violation]:
    """RX-07: no split (分解) prescriptions — the same patient, prescriber and drug on several the same day."""
    mine = {ln.item_code for ln in rx.lines}
    out: list[Violation] = []
    for o in others:
        # The same person: by ID number where both carry one, by name otherwise (whichever was entered first).
        same_patient = (o.patient_id.upper() == patient_id.upper() if patient_id and o.patient_id
                        else o.patient_name == rx.patient_name)
        if o.rx_no != rx.rx_no and same_patient and o.doctor_name == rx.doctor_name and o.issued_on == rx.issued_on:
            shared = sorted(mine & o.item_codes)
            if shared:
                out.append(_v("RX-07", f"疑似分解处方：同一患者、同一医师同日另有处方 {o.rx_no} 开具相同药品",
                              f"possible split prescription: {o.rx_no} has the same patient, prescriber, day and drug",
                              other_rx=o.rx_no, items=shared))
    return out


def prescriber_limit_refusals(rx: RxFacts, profile: str) -> list[Violation]:
    """RX-06: the configured profile's limits; an over-limit prescription goes back to the prescriber (RX-05)."""
    out: list[Violation] = []
    limit = SUPPLY_LIMITS[profile][rx.course]
    for ln in rx.lines:
        if ln.days > limit:
            out.append(_v("RX-06", f"{ln.drug_name} 用量 {ln.days} 天，超过{rx.course.label}处方限量 {limit} 天",
                          f"{ln.item_code}: {ln.days} days exceeds the {rx.course.value} limit of {limit}",
                          item=ln.item_code, days=ln.days, limit=limit))
    if (most := MAX_DRUGS[profile]) is not None and len(rx.lines) > most:
        out.append(_v("RX-06", f"每张处方不得超过 {most} 种药品（本处方 {len(rx.lines)} 种）",
                      f"at most {most} drugs per prescription", drugs=len(rx.lines), limit=most))
    if (same := MAX_SAME_CLASS[profile]) is not None:
        by_class: dict[str, list[str]] = {}
        shown: dict[str, str] = {}
        for ln in rx.lines:
            if key := plain(ln.pharm_class):  # "ACEI", "ａｃｅｉ " are one class
                by_class.setdefault(key, []).append(ln.drug_name)
                shown.setdefault(key, ln.pharm_class.strip())
        for key, names in by_class.items():
            cls = shown[key]
            if len(names) > same:
                out.append(_v("RX-06", f"同类药品（{cls}）不得超过 {same} 种：{'、'.join(names)}",
                              f"at most {same} drugs of one class ({cls})", pharm_class=cls, drugs=names))
    if NO_INJECTIONS[profile]:
        for ln in rx.lines:
            if ln.injection and not ln.insulin:
                out.append(_v("RX-06", f"外配处方不得开具注射剂（胰岛素除外）：{ln.drug_name}",
                              f"no injections except insulin: {ln.item_code}", item=ln.item_code))
    return out


def written_name_refusals(rx: RxFacts) -> list[Violation]:
    """RX-04: the drug written on the prescription is the item dispensed — the same generic name, read as
    server.rules.drug_names reads it. The pharmacist sees both at review; a mismatch is a substitution."""
    out: list[Violation] = []
    for n, ln in enumerate(rx.lines, start=1):
        if ln.drug_name.strip() and not same_drug(ln.drug_name, ln.generic_name):
            out.append(_v("RX-04", f"第{n}行处方写「{ln.drug_name}」，调配的是「{ln.generic_name}」：通用名不符，不得替换",
                          f"line {n}: written {ln.drug_name!r}, dispensed {ln.generic_name!r}: not the same generic "
                          "name (no substitution)", line_no=n, item=ln.item_code, written=ln.drug_name,
                          generic_name=ln.generic_name))
    return out


def review_reason_refusals(verdict: str, reason: RejectReason | None, referred_to: str) -> list[Violation]:
    """RX-05: a refusal takes a reason from the fixed list; a 缺货 refusal, or a referral, names the other
    designated pharmacy arranged for the patient; an approval takes no reason."""
    if verdict == "approved":
        return [] if reason is None else [_v("RX-05", "通过审核不需要拒绝原因", "an approval takes no refusal reason")]
    if reason is None:
        return [_v("RX-05", "拒绝调配须从规定原因中选择一项", "a refusal needs a reason from the fixed list",
                   reasons=[r.value for r in RejectReason])]
    if (verdict == "referred" or reason is RejectReason.OUT_OF_STOCK) and not referred_to.strip():
        return [_v("RX-05", "本店缺货或无法调配时，须登记为患者安排的其他定点药店",
                   "out of stock or unable to fill: name the other designated pharmacy arranged for the patient",
                   reason=reason.value)]
    return []


@dataclass(frozen=True, slots=True)
class RxLineLeft:
    """A prescription line and what of it is still to be dispensed."""

    rx_line_id: int
    item_id: int
    drug_name: str
    remaining: int  # in the item's smallest unit (split units; whole packs × split ratio)


@dataclass(frozen=True, slots=True)
class RxSaleLine:
    sale_line_id: int
    item_id: int
    name: str
    qty: int  # in the item's smallest unit, like RxLineLeft.remaining


def dispense_plan(sale_lines: list[RxSaleLine], rx_lines: list[RxLineLeft]) -> tuple[dict[int, int], list[Violation]]:
    """RX-04: each dispensed Rx line maps to a prescription line of the same drug with enough left.

    Returns sale_line_id -> rx_line_id, and the refusals (no substitution, no more than prescribed).
    """
    left = {r.rx_line_id: r.remaining for r in rx_lines}
    plan: dict[int, int] = {}
    out: list[Violation] = []
    # Largest sale lines first, each to the prescription line with the least left that still holds it:
    # two lines of one drug (5 and 3 left) serve sale lines of 3 and 5.
    for sl in sorted(sale_lines, key=lambda x: -x.qty):
        candidates = [r for r in rx_lines if r.item_id == sl.item_id]
        if not candidates:
            out.append(_v("RX-04", f"{sl.name} 不在处方上，不得替换或加开药品",
                          f"{sl.name} is not on the prescription: no substitution", sale_line_id=sl.sale_line_id))
            continue
        fits = [r for r in candidates if left[r.rx_line_id] >= sl.qty]
        if not fits:
            remaining = max(left[r.rx_line_id] for r in candidates)
            what = "处方已调配完毕，不得重复调配" if remaining == 0 else f"超过处方剩余数量 {remaining}"
            out.append(_v("RX-04", f"{sl.name} 数量 {sl.qty}：{what}",
                          f"{sl.name}: {sl.qty} exceeds what the prescription still allows ({remaining})",
                          sale_line_id=sl.sale_line_id, remaining=remaining, requested=sl.qty))
            continue
        target = min(fits, key=lambda r: left[r.rx_line_id])
        left[target.rx_line_id] -= sl.qty
        plan[sl.sale_line_id] = target.rx_line_id
    out.sort(key=lambda v: [s.sale_line_id for s in sale_lines].index(v.details["sale_line_id"]))
    return plan, out


def patient_refusals(rx_patient_name: str, rx_patient_id: str, insured_name: str, insured_certno: str,
                     rx_psn_no: str = "", insured_psn_no: str = "") -> list[Violation]:
    """RX-03: the 外配处方's patient is the insured person whose card pays (处方使用人与参保人员身份一致).

    A proxy purchase (代购, RX-11) changes who stands at the counter — the buyer's identity is recorded
    beside the insured person's — never whose prescription it is (seed 004, 管理制度8 第二十一条). A prescription
    from the insurance platform names its insured person by 人员编号 (psn_no) as well: both must match.
    """
    same = (rx_patient_id.upper() == insured_certno.upper() if rx_patient_id and insured_certno
            else bool(rx_patient_name) and rx_patient_name == insured_name)
    same = same and (not rx_psn_no or rx_psn_no == insured_psn_no)
    if same:
        return []
    return [_v("RX-03", f"处方使用人（{rx_patient_name}）与参保人（{insured_name}）不一致，不得用其医保结算"
                        "（代购时由购药人另行登记身份，RX-11）",
               "the prescription's patient is not the insured person whose card pays; a proxy buyer (RX-11) "
               "does not change that")]
