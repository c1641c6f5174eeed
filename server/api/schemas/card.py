"""Paying with the 医保 card: identify, the split, the preview, the settlement, a cancellation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from server.api.schemas.common import UUID_PATTERN, SecondPerson, Strict
from server.api.schemas.selling import TenderIn


class IdentifyIn(Strict):
    method: Literal["card", "reader", "voucher", "id"] = Field(
        description="card: number + 卡识别码 typed or from a regional reader; reader: the card in this till's reader; "
                    "voucher: the scanned 医保电子凭证 token; id: an ID number typed, with the reason")
    card_no: str = Field(default="", max_length=40)
    card_sn: str = Field(default="", max_length=40)
    token: str = Field(default="", max_length=512)
    certno: str = Field(default="", max_length=30)
    name: str = Field(default="", max_length=50)
    reason: str = Field(default="", max_length=200)
    insutype: str = Field(default="", pattern=r"^(\d{3})?$")
    buyer_name: str = Field(default="", max_length=50, description="代购: the buyer (RX-11)")
    buyer_certno: str = Field(default="", max_length=30)


class SignatureIn(Strict):
    how: Literal["key", "pad"] = Field(description="key: the insured person (or the proxy buyer) signed the paper "
                                       "purchase list, confirmed at the till; pad: the signature pad's image")
    image_b64: str = Field(default="", max_length=350_000, pattern=r"^[A-Za-z0-9+/]*={0,2}$", description="pad: the image (PNG or JPEG), base64")


class InsuredOut(BaseModel):
    psn_name: str
    certno_masked: str
    insutype: str
    balc_fen: int
    insuplc_admdvs: str
    method: str
    buyer_name: str
    buyer_certno_masked: str
    signed_how: str = ""  # CARD-05: "" unsigned, key, pad
    signed_at: datetime | None = None


class SplitLineOut(BaseModel):
    sale_line_id: int
    name: str
    amount_fen: int
    card: bool
    reasons: list[dict[str, Any]]


class SplitOut(BaseModel):
    insured: InsuredOut | None
    card_total_fen: int
    self_pay_fen: int
    lines: list[SplitLineOut]


class PreviewIn(Strict):
    line_ids: list[int] | None = Field(default=None, max_length=200, description="the lines to put on the card "
                                       "(default: every eligible line); a line the card may not pay is refused")


class PreviewOut(BaseModel):
    card_total_fen: int
    fund_pay_fen: int
    acct_pay_fen: int
    cash_pay_fen: int
    balc_after_fen: int
    self_pay_fen: int
    due_otherwise_fen: int
    self_pay_lines: list[dict[str, Any]]
    card_line_ids: list[int]


class SettleIn(PreviewIn):
    tenders: list[TenderIn] = Field(default_factory=list, max_length=5,
                                    description="what pays the rest: the person's cash part and the self-pay lines")


class SettlementOut(BaseModel):
    id: int
    sale_id: str
    msgid: str
    status: str
    medfee_sumamt_fen: int
    fund_pay_fen: int
    acct_pay_fen: int
    cash_pay_fen: int
    error: str


class CancelIn(Strict):
    return_id: str = Field(pattern=UUID_PATTERN, description="the till's UUID for the return (retry-safe)")
    reason: str = Field(min_length=1, max_length=200)
    to_quarantine: bool = False  # a later-day reversal's second person: their grant in the header X-Second


class MappingUploadedIn(SecondPerson):
    """The mapping reached the centre today (never another day: no date is taken), confirmed by the other 医保
    administrator (CARD-07)."""

    item_ids: list[int] = Field(min_length=1, max_length=5000)
