"""APDU exchange and card decoding, without a reader: the rules real cards impose on the reader code."""

from __future__ import annotations

from datetime import date

import pytest

from devices.card.apdu import exchange, refusal
from devices.card.atr import historical_bytes
from devices.card.errors import (
    CardNeedsAuthenticationError,
    ForeignCardError,
    StatusWordError,
    UnreadableCardError,
)
from devices.card.ssc import read_card
from tests.devices.vcard import ATR_T0, ATR_T1, CardFace, VirtualCard


class Script:
    """A transport answering from a list, recording what was sent."""

    def __init__(self, *answers: bytes) -> None:
        self.answers = list(answers)
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int, int]:
        self.sent.append(apdu)
        answer = self.answers.pop(0)
        return answer[:-2], answer[-2], answer[-1]


class CardTransport:
    """The virtual card's command logic without the socket: same answers as over vpcd."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card

    def transmit(self, apdu: bytes) -> tuple[bytes, int, int]:
        self.card.apdus.append(apdu)
        answer = self.card.respond(apdu)
        return answer[:-2], answer[-2], answer[-1]


def test_61xx_is_followed_by_get_response_until_9000() -> None:
    t = Script(bytes.fromhex("6105"), bytes.fromhex("01020304056103"), bytes.fromhex("0607089000"))
    resp = exchange(t, bytes.fromhex("00A404000F") + b"x" * 15)
    assert resp.ok and resp.data == bytes(range(1, 9))
    assert t.sent[1] == bytes.fromhex("00C0000005") and t.sent[2] == bytes.fromhex("00C0000003")


def test_6cxx_resends_the_same_command_with_the_le_the_card_names() -> None:
    t = Script(bytes.fromhex("6C0B"), bytes.fromhex("070941") + b"12345678" + bytes.fromhex("9000"))
    resp = exchange(t, bytes.fromhex("00B2072C09"))
    assert resp.ok and resp.data[:2] == b"\x07\x09"
    assert t.sent == [bytes.fromhex("00B2072C09"), bytes.fromhex("00B2072C0B")]


def test_a_card_that_never_stops_answering_61xx_is_unreadable_not_a_hang() -> None:
    t = Script(*[bytes.fromhex("6110")] * 40)
    with pytest.raises(UnreadableCardError):
        exchange(t, bytes.fromhex("00A4040002EF05"))


def test_status_words_are_named_in_both_languages() -> None:
    err = refusal(0x6982, "READ RECORD")
    assert isinstance(err, StatusWordError) and err.sw == 0x6982
    assert "6982" in err.message_zh and "安全状态不满足" in err.message_zh
    assert "security status not satisfied" in err.message_en and err.details["sw"] == "6982"
    assert "还可重试 2 次" in refusal(0x63C2, "VERIFY").message_zh
    assert "unknown status word" in refusal(0x6A99, "X").message_en


def test_atr_historical_bytes_follow_the_interface_bytes() -> None:
    assert historical_bytes(ATR_T0) == b"\x80SSC-DEMO-002"
    assert historical_bytes(ATR_T1) == b"SSC-DEMO\x02"
    assert historical_bytes(b"\x3b") == b""
    assert historical_bytes(bytes.fromhex("3BE900")) == b""  # truncated: no guessing


def test_a_card_is_read_into_the_record_the_person_lookup_needs() -> None:
    face = CardFace()
    record = read_card(CardTransport(VirtualCard(0, face=face)), ATR_T1)
    assert (record.card_no, record.card_sn, record.name, record.id_number) == (
        face.card_no, face.card_sn, face.name, face.id_number)
    assert record.region == "440300" and record.version == "2.00" and record.generation == 2
    assert record.issued_on == face.issued_on and record.valid_until == face.valid_until
    assert record.atr_history == b"SSC-DEMO\x02".hex().upper()
    assert record.person_lookup() == {"mdtrt_cert_type": "03", "mdtrt_cert_no": face.card_no, "card_sn": face.card_sn,
                                      "certno": face.id_number, "psn_name": face.name}


def test_a_name_with_a_rare_character_survives_gb18030() -> None:
    face = CardFace(name="王䶮")  # 䶮 is outside GBK's 2-byte range
    card = VirtualCard(0, face=face, records={(6, 2): bytes([0x09, 30]) + "王䶮".encode("gb18030").ljust(30, b"\0")})
    assert read_card(CardTransport(card), ATR_T1).name == "王䶮"


def test_a_record_longer_than_the_standard_is_read_again_with_its_own_length() -> None:
    long_name = "欧阳娜娜".encode("gbk").ljust(32, b"\0")  # this issuer writes 32 bytes, the standard says 30
    card = VirtualCard(0, records={(6, 2): bytes([0x09, len(long_name)]) + long_name})
    assert read_card(CardTransport(card), ATR_T1).name == "欧阳娜娜"
    assert card.apdus[-2:] == [bytes.fromhex("00B2023420"), bytes.fromhex("00B2023422")]


def test_padding_dates_mean_not_recorded() -> None:
    card = VirtualCard(0, records={(5, 6): bytes.fromhex("0604FFFFFFFF")})
    record = read_card(CardTransport(card), ATR_T1)
    assert record.valid_until is None and not record.expired(date(2100, 1, 1))


def test_a_card_without_the_social_security_application_is_foreign() -> None:
    with pytest.raises(ForeignCardError) as exc:
        read_card(CardTransport(VirtualCard(0, foreign=True)), ATR_T1)
    assert exc.value.code == "CARD_FOREIGN" and "不是社会保障卡" in exc.value.message_zh


def test_a_record_with_the_wrong_tag_is_unreadable_and_says_which() -> None:
    card = VirtualCard(0, records={(5, 7): bytes.fromhex("0A09") + b"D44030012"})
    with pytest.raises(UnreadableCardError) as exc:
        read_card(CardTransport(card), ATR_T1)
    assert "卡号" in exc.value.message_zh and "card number" in exc.value.message_en


def test_a_malformed_id_number_is_refused_without_showing_it() -> None:
    card = VirtualCard(0, face=CardFace(id_number="44030519800101001Z"))
    with pytest.raises(UnreadableCardError) as exc:
        read_card(CardTransport(card), ATR_T1)
    assert "社会保障号码" in exc.value.message_zh
    assert "44030519800101001Z" not in repr(exc.value.as_dict())


def test_a_third_generation_card_without_psam_points_at_the_regional_library() -> None:
    with pytest.raises(CardNeedsAuthenticationError) as exc:
        read_card(CardTransport(VirtualCard(0, third_generation=True)), ATR_T1)
    assert exc.value.code == "CARD_NEEDS_PSAM" and 'card_reader = "sdk"' in exc.value.message_en
