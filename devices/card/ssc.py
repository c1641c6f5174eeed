"""Reading a social security card (社会保障卡) over APDUs: its layout and the read procedure.

Layout (public terminal specs; `shared/reference/devices.md` §4): the application SSSE is selected
by name `sx1.sh.社会保障`; under it EF05 (发卡机构数据) and EF06 (持卡人基本信息) hold TLV records —
one item per record, 1-byte tag, 1-byte length, value. Items are read by record number with the
file's short identifier in P2 (`00 B2 <record> <SFI<<3|4> <Le>`), as the issuers' own reader
programs do. `an` values are left-aligned and padded with 00 bytes, `cn` values are BCD padded with
F nibbles, names are GBK (read as GB18030, its superset, so rare characters survive).

A 2nd-generation card gives every item without a PIN or PSAM. A 3rd-generation card (规范版本 3.00)
answers with the card number, name and ID number empty unless the terminal authenticated it: that is
refused with `CardNeedsAuthenticationError`, pointing at the regional library driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from devices.card.apdu import Transport, exchange, refusal
from devices.card.atr import historical_bytes
from devices.card.errors import CardNeedsAuthenticationError, ForeignCardError, UnreadableCardError
from devices.card.record import CardRecord, checked

SSSE_NAME = "sx1.sh.社会保障".encode("gbk")
SELECT_SSSE = bytes([0x00, 0xA4, 0x04, 0x00, len(SSSE_NAME)]) + SSSE_NAME
# A card that has no such application, or does not speak ISO 7816-4 at all.
FOREIGN_SW = {0x6A82, 0x6A81, 0x6A86, 0x6D00, 0x6E00}
SW_SHORT_RECORD = 0x6282  # end of record before Le bytes: the data that came is the whole record

EF05_SFI = 5
EF06_SFI = 6


@dataclass(frozen=True)
class Item:
    label: str  # what a person calls it, for messages
    sfi: int
    record: int
    tag: int
    length: int  # the standard's length; a card may differ (6Cxx / TLV length tell the truth)


CARD_SN = Item("卡识别码 card identification code", EF05_SFI, 1, 0x01, 16)
VERSION = Item("规范版本 card version", EF05_SFI, 3, 0x03, 4)
ISSUED_ON = Item("发卡日期 issue date", EF05_SFI, 5, 0x05, 4)
VALID_UNTIL = Item("卡有效期 validity", EF05_SFI, 6, 0x06, 4)
CARD_NO = Item("卡号 card number", EF05_SFI, 7, 0x07, 9)
ID_NUMBER = Item("社会保障号码 ID number", EF06_SFI, 1, 0x08, 18)
NAME = Item("姓名 name", EF06_SFI, 2, 0x09, 30)

def read_card(transport: Transport, atr: bytes, source: str = "pcsc") -> CardRecord:
    """Select SSSE, read the items the 1101 lookup needs, decode and check them."""
    resp = exchange(transport, SELECT_SSSE)
    if resp.sw in FOREIGN_SW:
        raise ForeignCardError(sw=f"{resp.sw:04X}", atr=atr.hex().upper())
    if not resp.ok:
        raise refusal(resp.sw, "SELECT SSSE 社会保障应用")

    card_sn = read_item(transport, CARD_SN).hex().upper()
    version = _an(read_item(transport, VERSION), VERSION)
    issued_on = _date(read_item(transport, ISSUED_ON))
    valid_until = _date(read_item(transport, VALID_UNTIL))
    card_no = _an(read_item(transport, CARD_NO), CARD_NO).upper()
    id_number = _an(read_item(transport, ID_NUMBER), ID_NUMBER).upper()
    name = _text(read_item(transport, NAME), NAME)

    if not (card_no and id_number and name) and version.startswith("3"):
        raise CardNeedsAuthenticationError(version, card_sn=card_sn)
    return checked(CardRecord(card_no=card_no, card_sn=card_sn, name=name, id_number=id_number, region=card_sn[:6],
                      version=version, issued_on=issued_on, valid_until=valid_until,
                      atr_history=historical_bytes(atr).hex().upper(), source=source))


def read_item(transport: Transport, item: Item) -> bytes:
    """READ RECORD of one item; the value with its tag and length checked. A record longer than the
    standard's length is read again with the length the card's own TLV states."""
    value, stated = _read_tlv(transport, item, item.length + 2)
    if len(value) < stated:
        value, stated = _read_tlv(transport, item, min(stated + 2, 0xFF))
        if len(value) < stated:
            raise UnreadableCardError(f"{item.label}记录不完整", f"the {item.label} record is truncated",
                                      expected=stated, got=len(value))
    return value


def _read_tlv(transport: Transport, item: Item, le: int) -> tuple[bytes, int]:
    apdu = bytes([0x00, 0xB2, item.record, (item.sfi << 3) | 4, le])
    resp = exchange(transport, apdu)
    if not resp.ok and not (resp.sw == SW_SHORT_RECORD and resp.data):
        raise refusal(resp.sw, f"READ RECORD {item.label}")
    data = resp.data
    if len(data) < 2 or data[0] != item.tag:
        raise UnreadableCardError(f"{item.label}记录格式不对", f"the {item.label} record is not the expected TLV",
                                  tag=f"{item.tag:02X}", got=data[:2].hex().upper())
    stated = data[1]
    return data[2:2 + stated], stated


def _an(value: bytes, item: Item) -> str:
    try:
        return value.rstrip(b"\x00\xff ").decode("ascii").strip()
    except UnicodeDecodeError:
        raise UnreadableCardError(f"{item.label}含有非法字符", f"the {item.label} holds invalid characters") from None


def _text(value: bytes, item: Item) -> str:
    try:
        return value.rstrip(b"\x00\xff ").decode("gb18030").strip()
    except UnicodeDecodeError:
        raise UnreadableCardError(f"{item.label}不是有效的中文编码", f"the {item.label} is not valid GBK text") from None


def _date(value: bytes) -> date | None:
    """cn YYYYMMDD; padding (FF…), zeros or an impossible date mean "not recorded"."""
    digits = value.hex().upper().rstrip("F")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None

