"""Money crosses the wire as 2-place decimals and comes back as the same integer fen; the reader is
tolerant the way live centres need and strict where a value cannot be what it claims."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.classes import InsuranceCategory
from server.insurance import codec, wire
from server.insurance.dicts import chrgitm_lv_category, chrgitm_lv_code, same_code
from server.insurance.messages import DetlCutInfo, SetlInfo


@given(st.integers(-10**15, 10**15))
def test_fen_round_trips_through_the_wire(fen: int) -> None:
    amount = wire.fen_to_amount(fen)
    assert amount.as_tuple().exponent == -2
    text = wire.dumps({"a": amount})
    assert wire.amount_to_fen(wire.loads(text)["a"]) == fen
    assert wire.amount_to_fen(format(amount, "f")) == fen  # the spec's string style too


def test_amounts_are_written_with_two_places_never_as_floats() -> None:
    assert wire.dumps({"a": wire.fen_to_amount(1230), "b": wire.fen_to_amount(-5), "c": wire.fen_to_amount(0)}) == \
        '{"a":12.30,"b":-0.05,"c":0.00}'
    with pytest.raises(wire.WireFormatError):
        wire.dumps({"a": 12.3})
    with pytest.raises(wire.WireFormatError):
        wire.fen_to_amount(12.3)  # type: ignore[arg-type]  # a float where fen (int) go: refused at run time too
    assert isinstance(wire.loads('{"a": 12.30}')["a"], Decimal)


def test_tolerant_reading() -> None:
    assert wire.amount_to_fen(None) == 0 and wire.amount_to_fen("") == 0
    assert wire.amount_to_fen(12) == 1200 and wire.amount_to_fen("12.3") == 1230
    assert wire.amount_to_fen(Decimal("-3.10")) == -310
    for bad in ("12.345", "abc", True, "NaN"):
        with pytest.raises(wire.WireFormatError):
            wire.amount_to_fen(bad)
    doc = {"medfee_sumamt": Decimal("12.3"), "acct_pay": "1.20", "psn_cash_pay": None, "pool_prop_selfpay": "0.7",
           "setl_id": 123, "warn_field": "kept", "clr_type": 41}
    s = codec.from_wire(SetlInfo, doc)
    assert (s.medfee_sumamt_fen, s.acct_pay_fen, s.psn_cash_pay_fen) == (1230, 120, 0)
    assert s.pool_prop_selfpay == Decimal("0.7") and s.setl_id == "123" and s.clr_type == "41"
    assert s.extra == {"warn_field": "kept"}  # unknown keys are kept, nothing received is lost
    assert codec.from_wire(SetlInfo, [doc]).medfee_sumamt_fen == 1230  # a one-row list is the row
    assert codec.from_wire(SetlInfo, None).medfee_sumamt_fen == 0
    assert codec.rows(None) == [] and codec.rows({"a": 1}) == [{"a": 1}]


def test_money_fields_keep_their_wire_names() -> None:
    cut = DetlCutInfo(feedetl_sn="1", det_item_fee_sumamt_fen=1250, chrgitm_lv="02")
    out = codec.to_wire(cut)
    assert out["det_item_fee_sumamt"] == Decimal("12.50") and "det_item_fee_sumamt_fen" not in out
    assert codec.from_wire(DetlCutInfo, out) == cut


@pytest.mark.parametrize(("raw", "category"), [
    ("01", InsuranceCategory.JIA), ("1", InsuranceCategory.JIA), (1, InsuranceCategory.JIA),
    ("02", InsuranceCategory.YI), ("2", InsuranceCategory.YI),
    ("03", InsuranceCategory.BING), ("3", InsuranceCategory.BING),
    ("", InsuranceCategory.NONE), (None, InsuranceCategory.NONE), ("9", InsuranceCategory.NONE),
])
def test_chrgitm_lv_in_both_spellings(raw: object, category: InsuranceCategory) -> None:
    """[HN] spells 甲/乙/丙 01/02/03, [JX] and [OI] 1/2/3: both are read alike."""
    assert chrgitm_lv_category(raw) is category


def test_chrgitm_lv_sent_in_the_region_s_spelling() -> None:
    assert chrgitm_lv_code(InsuranceCategory.YI, "2digit") == "02"
    assert chrgitm_lv_code(InsuranceCategory.YI, "1digit") == "2"
    assert chrgitm_lv_code(InsuranceCategory.NONE) == ""
    assert same_code("1", "01") and same_code("99", "99") and not same_code("1", "2") and same_code("A", "A")
