"""What gets printed, as plain data: the sale receipt, the shift (Z) report, the prescription review slip.

The service fills these from the database when a print job is queued (the job keeps them as JSON, so a
job prints the same whenever the printer comes back); the renderer lays them out. Money in fen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


@dataclass(frozen=True)
class StoreHeader:
    name: str
    fixmedins_code: str  # 定点医药机构编号
    address: str = ""


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    spec: str
    qty: int
    unit: str
    unit_price_fen: int
    amount_fen: int
    gsp_class: str  # catalog.classes.GspClass value: the lines are grouped by it
    gsp_class_label: str
    insurance_mark: str = ""  # 甲 / 乙 / 丙, empty when off the list


@dataclass(frozen=True)
class TenderLine:
    kind: str  # cash | other | insurance
    label: str  # 现金 / 其他 / 医保
    amount_fen: int
    tendered_fen: int


@dataclass(frozen=True)
class CardSettlement:
    """The 医保 settlement breakdown of a card sale (CARD-05); the card-settlement work fills it."""

    fund_fen: int  # 统筹基金支付
    personal_account_fen: int  # 个人账户支付
    cash_fen: int  # 现金支付
    balance_after_fen: int | None  # 个人账户余额 after the sale
    insured_name: str
    insured_id_masked: str  # masked before it reaches a document (SEC-06)
    setl_id: str = ""  # 结算 ID from the centre
    insurance_region: str = ""  # 参保地
    signature_line: bool = True  # the buyer signs the merchant's copy
    buyer_name: str = ""  # 代购 (RX-11): who bought for the insured person
    buyer_id_masked: str = ""  # their identity document, masked (SEC-06)
    signed: str = ""  # CARD-05: how the signature was recorded ("" unrecorded), e.g. "签名板 2026-12-07 10:30:00"


@dataclass(frozen=True)
class ReceiptDoc:
    store: StoreHeader
    till_code: str
    sale_no: str
    completed_at: str  # local time, already formatted "YYYY-MM-DD HH:MM:SS"
    cashier: str
    pharmacist: str  # pharmacist on duty at the sale ("" if none was)
    lines: list[ReceiptLine]
    total_fen: int
    tenders: list[TenderLine]
    change_fen: int
    footer: str = ""
    card: CardSettlement | None = None
    reprint: bool = False


@dataclass(frozen=True)
class ZReportDoc:
    store: StoreHeader
    till_code: str
    shift_id: int
    business_date: str
    opened_at: str
    closed_at: str | None
    float_fen: int
    sales_count: int
    sales_fen: int
    by_tender: dict[str, int]
    voids_count: int
    voids_fen: int
    returns_count: int
    returns_fen: int
    refunds_by_tender: dict[str, int]
    cash_expected_fen: int
    counted_cash_fen: int | None
    variance_fen: int | None
    pharmacists: list[dict[str, str | None]] = field(default_factory=list)
    printed_at: str = ""
    reprint: bool = False
    # The audit chain's head when the report was laid out ("seq:hash"): kept on paper, outside the database,
    # it shows a later rewrite of the whole chain (`dingdian audit verify --anchor`).
    audit_anchor: str = ""


@dataclass(frozen=True)
class RxSlipLine:
    name: str
    spec: str
    qty: int
    unit: str
    usage: str = ""  # 用法用量


@dataclass(frozen=True)
class RxReviewSlip:
    """处方审核单: what the pharmacist reviewed and decided; the prescription work fills it."""

    store: StoreHeader
    till_code: str
    rx_no: str
    patient_name: str
    patient_id_masked: str
    prescriber: str
    institution: str
    issued_on: str
    lines: list[RxSlipLine]
    pharmacist: str
    verdict: str  # 通过 / 不通过 …
    reviewed_at: str
    opinion: str = ""
    sale_no: str = ""
    reprint: bool = False


@dataclass(frozen=True)
class ShelfLabelDoc:
    """One shelf label (价签, GSP-04) as the catalog's facts made it: the marks are derived by the service."""

    name: str
    spec: str
    maker: str  # 生产企业, or 产地 for 中药饮片
    unit: str
    price_fen: int
    barcode: str
    class_mark: str  # 处方药 / 甲类OTC / 乙类OTC / 中药饮片 / 非药品
    insurance_mark: str  # 医保甲类 / 医保乙类, or "" on a self-pay item


@dataclass(frozen=True)
class LabelSheet:
    """Shelf labels for the receipt printer, one per cut (a label run of server.services.catalog.labels)."""

    store: StoreHeader
    run_id: int
    printed_on: str
    labels: list[ShelfLabelDoc]


@dataclass(frozen=True)
class QrSheet:
    """Codes printed as QR, one per cut, each with its text under it (the demo's electronic prescription codes,
    issue #23: `dingdian eprx codes --printer`)."""

    store: StoreHeader
    title: str
    codes: list[str]


def to_json(doc: Any) -> dict[str, Any]:
    return asdict(doc)


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a document (and its nested dataclasses) from its JSON form."""
    hints = {f.name: f.type for f in fields(cls)}
    nested = {"store": StoreHeader, "lines": None, "tenders": TenderLine, "card": CardSettlement,
              "labels": ShelfLabelDoc}
    line_cls = {ReceiptDoc: ReceiptLine, RxReviewSlip: RxSlipLine}.get(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name not in hints:
            continue
        if value is not None and name in nested:
            target = line_cls if name == "lines" else nested[name]
            if target is None or not is_dataclass(target):
                kwargs[name] = value
            elif isinstance(value, list):
                kwargs[name] = [target(**v) for v in value]
            else:
                kwargs[name] = target(**value)
        else:
            kwargs[name] = value
    return cls(**kwargs)
