"""The social security card (社会保障卡) as the rest of the service sees it: one record per read.

Both real drivers fill it — the PC/SC driver from the card's files (EF05 发卡机构数据, EF06 持卡人基本信息),
the regional library driver from `ReadCardBas`'s pipe-separated answer — and the simulated reader
from the demo cards. The ID number (社会保障号码) stays whole inside the record because the
settlement message needs it, but every textual form of the record masks it (SEC-06): `repr`,
`str`, the event payload and anything logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from catalog.codes import mask_id
from devices.card.errors import UnreadableCardError

# 1101 就诊凭证类型: 03 = 社会保障卡
MDTRT_CERT_TYPE_CARD = "03"


@dataclass(frozen=True)
class CardRecord:
    card_no: str  # 卡号 (9 alphanumerics, printed on the card)
    card_sn: str  # 卡识别码 (32 hex chars: region + D156000005 + serial) → 1101 card_sn
    name: str  # 姓名
    id_number: str = field(repr=False)  # 社会保障号码 = 公民身份号码; masked in every textual form
    region: str  # 发卡地区行政区划代码 (6 digits)
    version: str  # 规范版本: 1.00 / 2.00 / 3.00
    issued_on: date | None = None  # 发卡日期
    valid_until: date | None = None  # 卡有效期
    # ReadCardBas's pBusiCardInfo: opaque, region-defined, passed on to the centre untouched
    business: str = field(default="", repr=False)
    atr_history: str = ""  # 卡复位信息 (ATR historical bytes, hex)
    source: str = ""  # which driver read it: pcsc | sdk | simulated

    @property
    def masked_id(self) -> str:
        return mask_id(self.id_number)

    @property
    def generation(self) -> int:
        """1, 2 or 3 from 规范版本 ("3.00" → 3); 0 when the card does not say."""
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else 0

    def expired(self, today: date) -> bool:
        return self.valid_until is not None and self.valid_until < today

    @property
    def mdtrt_cert_no(self) -> str:
        """1101 就诊凭证编号 for a card: the card number; where the regional library returned a business
        string, `卡号|业务串` as the library-based integrations send it (confirm with the region's spec)."""
        return f"{self.card_no}|{self.business}" if self.business else self.card_no

    def person_lookup(self) -> dict[str, str]:
        """The card's part of 1101's input `data` (人员信息获取): mdtrt_cert_type 03 with card_sn.
        Carries the whole ID number: for the settlement message only, never for display or logs."""
        return {"mdtrt_cert_type": MDTRT_CERT_TYPE_CARD, "mdtrt_cert_no": self.mdtrt_cert_no,
                "card_sn": self.card_sn, "certno": self.id_number, "psn_name": self.name}

    def public(self) -> dict[str, Any]:
        """What may be shown, logged or sent to the till: everything but the whole ID number and the
        business string (SEC-06)."""
        return {
            "card_no": self.card_no,
            "card_sn": self.card_sn,
            "name": self.name,
            "id_number_masked": self.masked_id,
            "region": self.region,
            "version": self.version,
            "issued_on": self.issued_on.isoformat() if self.issued_on else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "source": self.source,
        }

    def __repr__(self) -> str:
        return (f"CardRecord(card_no={self.card_no!r}, card_sn={self.card_sn!r}, name={self.name!r}, "
                f"id_number={self.masked_id!r}, region={self.region!r}, version={self.version!r}, "
                f"valid_until={self.valid_until!r}, source={self.source!r})")

    __str__ = __repr__


_CARD_SN = re.compile(r"[0-9A-F]{32}")
_REGION = re.compile(r"\d{6}")
_ID = re.compile(r"\d{17}[\dX]|\d{15}")
_CARD_NO = re.compile(r"[0-9A-Z]{6,20}")


def checked(record: CardRecord) -> CardRecord:
    """The record if every field the 1101 lookup needs is well-formed; else which field is not.
    The ID number's value never goes into the error (SEC-06)."""
    if not _CARD_SN.fullmatch(record.card_sn) or not _REGION.fullmatch(record.region):
        raise _bad("卡识别码", "card identification code", record.card_sn)
    if not _CARD_NO.fullmatch(record.card_no):
        raise _bad("卡号", "card number", record.card_no)
    if not _ID.fullmatch(record.id_number):
        raise _bad("社会保障号码", "ID number", record.masked_id)
    if not record.name:
        raise _bad("姓名", "name", "")
    return record


def _bad(zh: str, en: str, shown: str) -> UnreadableCardError:
    return UnreadableCardError(f"{zh}格式不对", f"the {en} is malformed", field=en, value=shown)
