"""What the insurance card may pay, as pure rules (server/rules/card.py): CARD-02 non-drug goods, gift / free
lines, 丙类 and off-list drugs are self-pay; CARD-07 no national code or no mapping uploaded by the sale date;
RX-02 an Rx line without an approved 外配处方; CARD-01 a forced line that is not in the sale. The split of a
mixed basket covers every line exactly once."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.classes import DRUG_CLASSES, GspClass, InsuranceCategory
from server.rules.card import (
    CardLine,
    PricedLine,
    disguise_refusals,
    forced_refusals,
    line_refusals,
    lines_digest,
    proxy_refusals,
    signature_refusals,
    split_basket,
)

SALE_DAY = date(2026, 11, 22)
NON_DRUG_CLASSES = [c for c in GspClass if not c.is_drug]
CARD_CATEGORIES = (InsuranceCategory.JIA, InsuranceCategory.YI)


def line(line_id: int = 1, **kw: Any) -> CardLine:
    """An eligible line by default: an OTC 甲类 drug with its national code, mapped before the sale."""
    base = CardLine(sale_line_id=line_id, name=f"药品{line_id}", gsp_class=GspClass.OTC_A,
                    category=InsuranceCategory.JIA, nhsa_code="XA01BCA123A001010100001",
                    mapping_uploaded_on=SALE_DAY - timedelta(days=30), unit_price_fen=1250,
                    amount_fen=2500, rx=False, rx_for_insurance=False)
    return replace(base, **kw)


def rules(line_: CardLine) -> list[str]:
    return [v.rule for v in line_refusals(line_, SALE_DAY)]


def test_the_non_drug_and_drug_classes_are_the_ones_the_rules_name() -> None:
    assert set(NON_DRUG_CLASSES) == {GspClass.HEALTH_FOOD, GspClass.FOOD, GspClass.DAILY_CHEMICAL,
                                     GspClass.COSMETIC, GspClass.DEVICE, GspClass.OTHER}
    assert DRUG_CLASSES == {GspClass.RX, GspClass.OTC_A, GspClass.OTC_B, GspClass.HERBAL}


# --- eligible lines ----------------------------------------------------------------------------------

@pytest.mark.parametrize("gsp_class", sorted(DRUG_CLASSES))
@pytest.mark.parametrize("category", CARD_CATEGORIES)
def test_a_mapped_jia_or_yi_drug_is_card_eligible(gsp_class: GspClass, category: InsuranceCategory) -> None:
    rx = gsp_class is GspClass.RX
    assert line_refusals(line(gsp_class=gsp_class, category=category, rx=rx, rx_for_insurance=rx), SALE_DAY) == []


def test_a_mapping_uploaded_on_the_sale_day_counts() -> None:
    assert rules(line(mapping_uploaded_on=SALE_DAY)) == []


# --- CARD-02 ------------------------------------------------------------------------------------------

@pytest.mark.refuses("CARD-02")
@pytest.mark.parametrize("gsp_class", NON_DRUG_CLASSES)
@pytest.mark.parametrize("category", list(InsuranceCategory))
def test_card02_non_drug_goods_are_never_eligible(gsp_class: GspClass, category: InsuranceCategory) -> None:
    """CARD-02: food, daily goods, cosmetics, health foods, devices, other — whatever their category says."""
    got = line_refusals(line(gsp_class=gsp_class, category=category), SALE_DAY)
    assert [v.rule for v in got] == ["CARD-02"]
    assert gsp_class.label in got[0].message_zh and "not a drug" in got[0].message_en
    assert got[0].details == {"sale_line_id": 1, "item": "药品1"}


@pytest.mark.refuses("CARD-02")
@pytest.mark.parametrize("unit_price_fen, amount_fen", [(0, 0), (0, 1250), (1250, 0)])
def test_card02_gift_or_free_lines_are_never_eligible(unit_price_fen: int, amount_fen: int) -> None:
    """CARD-02: no gift, bundle or "free" line inside a card sale (变相), even a mapped 甲类 drug."""
    got = line_refusals(line(unit_price_fen=unit_price_fen, amount_fen=amount_fen), SALE_DAY)
    assert [v.rule for v in got] == ["CARD-02"]
    assert "赠品" in got[0].message_zh and "gift" in got[0].message_en


@pytest.mark.refuses("CARD-02")
@pytest.mark.parametrize("category", [InsuranceCategory.BING, InsuranceCategory.NONE])
def test_card02_bing_and_off_list_drugs_are_self_pay(category: InsuranceCategory) -> None:
    """CARD-02: 丙类 and 目录外 drugs are self-pay, mapped or not, with a code or not."""
    unmapped: tuple[dict[str, Any], ...] = ({}, {"nhsa_code": None}, {"mapping_uploaded_on": None})
    for kw in unmapped:
        got = line_refusals(line(category=category, **kw), SALE_DAY)
        assert [v.rule for v in got] == ["CARD-02"]
        assert "自费" in got[0].message_zh and "self-pay" in got[0].message_en


# --- CARD-07 ------------------------------------------------------------------------------------------

@pytest.mark.refuses("CARD-07")
@pytest.mark.parametrize("category", CARD_CATEGORIES)
@pytest.mark.parametrize("code", [None, ""])
def test_card07_jia_yi_without_a_national_code_cannot_be_settled(category: InsuranceCategory, code: str | None) -> None:
    got = line_refusals(line(category=category, nhsa_code=code), SALE_DAY)
    assert [v.rule for v in got] == ["CARD-07"]
    assert "国家医保编码" in got[0].message_zh and "national insurance code" in got[0].message_en


@pytest.mark.refuses("CARD-07")
@pytest.mark.parametrize("uploaded", [None, SALE_DAY + timedelta(days=1), SALE_DAY + timedelta(days=400)])
def test_card07_mapping_not_uploaded_by_the_sale_date_is_self_pay(uploaded: date | None) -> None:
    """CARD-07: a new or unmapped item is self-pay until its mapping reached the centre (not after the sale)."""
    got = line_refusals(line(mapping_uploaded_on=uploaded), SALE_DAY)
    assert [v.rule for v in got] == ["CARD-07"]
    assert "对照" in got[0].message_zh and "mapping" in got[0].message_en


# --- RX-02 --------------------------------------------------------------------------------------------

@pytest.mark.refuses("RX-02")
def test_rx02_an_rx_line_without_an_approved_waipei_prescription_is_refused() -> None:
    got = line_refusals(line(gsp_class=GspClass.RX, rx=True, rx_for_insurance=False), SALE_DAY)
    assert [v.rule for v in got] == ["RX-02"]
    assert "外配处方" in got[0].message_zh and "外配处方" in got[0].message_en


@pytest.mark.refuses("RX-02", "CARD-07", "CARD-02")
def test_rx02_is_reported_beside_the_catalogue_reason() -> None:
    """An unmapped Rx line without its prescription: both reasons, so the cashier can fix both."""
    assert rules(line(gsp_class=GspClass.RX, rx=True, mapping_uploaded_on=None)) == ["CARD-07", "RX-02"]
    assert rules(line(gsp_class=GspClass.RX, rx=True, category=InsuranceCategory.BING)) == ["CARD-02", "RX-02"]


# --- the split ----------------------------------------------------------------------------------------

@pytest.mark.refuses("CARD-02", "RX-02")
def test_a_mixed_basket_is_split_with_its_totals() -> None:
    ok_jia = line(1, amount_fen=2500)
    ok_yi = line(2, category=InsuranceCategory.YI, amount_fen=1800)
    rx_ok = line(3, gsp_class=GspClass.RX, rx=True, rx_for_insurance=True, amount_fen=3600)
    food = line(4, gsp_class=GspClass.FOOD, amount_fen=990)
    gift = line(5, unit_price_fen=0, amount_fen=0)
    bing = line(6, category=InsuranceCategory.BING, amount_fen=700)
    rx_no = line(7, gsp_class=GspClass.RX, rx=True, amount_fen=1250)
    got = split_basket([ok_jia, ok_yi, rx_ok, food, gift, bing, rx_no], SALE_DAY)
    assert got.card == [ok_jia, ok_yi, rx_ok]
    assert [(ln.sale_line_id, [v.rule for v in vs]) for ln, vs in got.self_pay] == [
        (4, ["CARD-02"]), (5, ["CARD-02"]), (6, ["CARD-02"]), (7, ["RX-02"])]
    assert got.card_total_fen == 2500 + 1800 + 3600
    assert got.self_pay_total_fen == 990 + 0 + 700 + 1250


def test_an_empty_basket_splits_into_nothing() -> None:
    got = split_basket([], SALE_DAY)
    assert got.card == [] and got.self_pay == [] and got.card_total_fen == 0 and got.self_pay_total_fen == 0


# --- forced onto the card -----------------------------------------------------------------------------

@pytest.mark.refuses("CARD-01")
def test_card01_a_forced_line_that_is_not_in_the_sale_is_refused() -> None:
    got = forced_refusals([line(1), line(2)], {1, 99}, SALE_DAY)
    assert [(v.rule, v.details) for v in got] == [("CARD-01", {"sale_line_id": 99})]
    assert "99" in got[0].message_zh and "99" in got[0].message_en


@pytest.mark.refuses("CARD-02", "CARD-07", "RX-02", "CARD-01")
def test_forcing_ineligible_lines_is_refused_with_each_rule() -> None:
    """CARD-02 / CARD-07 / RX-02: whatever the client sends, a line the card may not pay is refused."""
    lines = [line(1), line(2, gsp_class=GspClass.COSMETIC), line(3, nhsa_code=None),
             line(4, gsp_class=GspClass.RX, rx=True), line(5, unit_price_fen=0, amount_fen=0)]
    got = forced_refusals(lines, {1, 2, 3, 4, 5, 6}, SALE_DAY)
    assert [(v.rule, v.details["sale_line_id"]) for v in got] == [
        ("CARD-02", 2), ("CARD-07", 3), ("RX-02", 4), ("CARD-02", 5), ("CARD-01", 6)]


def test_forcing_only_eligible_lines_or_nothing_is_accepted() -> None:
    lines = [line(1), line(2, category=InsuranceCategory.YI), line(3, gsp_class=GspClass.FOOD)]
    assert forced_refusals(lines, {1, 2}, SALE_DAY) == []
    assert forced_refusals(lines, set(), SALE_DAY) == []


# --- property: the split is a partition ---------------------------------------------------------------

_dates = st.one_of(st.none(), st.dates(min_value=SALE_DAY - timedelta(days=800),
                                       max_value=SALE_DAY + timedelta(days=30)))


@st.composite
def baskets(draw: st.DrawFn) -> list[CardLine]:
    n = draw(st.integers(0, 12))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True))
    out = []
    for i in ids:
        gsp_class = draw(st.sampled_from(list(GspClass)))
        unit = draw(st.integers(0, 100_000))
        out.append(line(i, gsp_class=gsp_class, category=draw(st.sampled_from(list(InsuranceCategory))),
                        nhsa_code=draw(st.sampled_from([None, "", "XA01BCA123A001010100001"])),
                        mapping_uploaded_on=draw(_dates), unit_price_fen=unit,
                        amount_fen=unit * draw(st.integers(0, 50)), rx=gsp_class is GspClass.RX,
                        rx_for_insurance=draw(st.booleans())))
    return out


@settings(max_examples=300, deadline=None)
@given(baskets())
def test_split_partitions_the_lines_exactly(lines: list[CardLine]) -> None:
    got = split_basket(lines, SALE_DAY)
    placed = [ln.sale_line_id for ln in got.card] + [ln.sale_line_id for ln, _ in got.self_pay]
    assert sorted(placed) == sorted(ln.sale_line_id for ln in lines)  # every line, once
    assert got.card_total_fen + got.self_pay_total_fen == sum(ln.amount_fen for ln in lines)
    for ln in got.card:
        assert ln.gsp_class.is_drug and ln.category in CARD_CATEGORIES and ln.nhsa_code and ln.amount_fen > 0
        assert ln.mapping_uploaded_on is not None and ln.mapping_uploaded_on <= SALE_DAY
        assert not ln.rx or ln.rx_for_insurance
    # forcing the card's own lines is accepted; forcing any self-pay line is refused, naming that line
    assert forced_refusals(lines, {ln.sale_line_id for ln in got.card}, SALE_DAY) == []
    for ln, why in got.self_pay:
        assert why  # a self-pay line always says why
        assert forced_refusals(lines, {ln.sale_line_id}, SALE_DAY) == why


def test_the_line_record_is_frozen() -> None:
    """A classified line cannot be edited after the split (the settlement sends what was classified)."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        line().amount_fen = 0  # type: ignore[misc]  # what the types forbid, shown refused at run time


# --- the sale as a whole (CARD-02/03), who buys (RX-11), the signed list (CARD-05) -------------------------

def priced(line_id: int, gsp_class: GspClass, unit: int, catalog: int, qty: int = 1) -> PricedLine:
    return PricedLine(line_id, f"商品{line_id}", gsp_class, unit, unit * qty, catalog)


@pytest.mark.refuses("CARD-02", "CARD-03")
@pytest.mark.parametrize(("lines", "rule"), [
    ([priced(1, GspClass.OTC_A, 1250, 1250), priced(2, GspClass.FOOD, 0, 0)], "CARD-02"),  # a gift at 0
    ([priced(1, GspClass.OTC_A, 1250, 1250), priced(2, GspClass.OTC_B, 0, 0)], "CARD-02"),  # a "free" drug too
    ([priced(1, GspClass.OTC_A, 1250, 1250), priced(2, GspClass.DEVICE, 1, 990)], "CARD-02"),  # a token-price bundle
    ([priced(1, GspClass.OTC_A, 1500, 1250)], "CARD-03"),  # a drug above its one price
])
def test_a_card_sale_carrying_a_gift_or_an_underpriced_line_is_refused_whole(lines: list[PricedLine], rule: str) -> None:
    got = disguise_refusals(lines)
    assert [v.rule for v in got] == [rule] and got[0].details["sale_line_id"] == lines[-1].sale_line_id


def test_a_card_sale_at_its_one_prices_is_no_disguise() -> None:
    assert disguise_refusals([priced(1, GspClass.OTC_A, 1250, 1250, 2), priced(2, GspClass.DEVICE, 990, 990)]) == []


@pytest.mark.refuses("RX-11")
@pytest.mark.parametrize(("name", "doc"), [("路人甲", ""), ("", "440301199001010012"), ("路人甲", "440301199001010011"),
                                           ("路人甲", "12-34"), ("  ", "440301199001010012")])
def test_rx11_a_proxy_buyer_needs_name_and_a_valid_document(name: str, doc: str) -> None:
    assert [v.rule for v in proxy_refusals(name, doc)] == ["RX-11"]


def test_rx11_no_proxy_or_a_complete_one_passes() -> None:
    assert proxy_refusals("", "") == []
    assert proxy_refusals("路人甲", "440301199001010012") == []
    assert proxy_refusals("路人甲", "11010519491231002x") == []  # GB 11643's sample, check character X
    assert proxy_refusals("Jane Roe", "E12345678") == []  # a passport


@pytest.mark.refuses("CARD-05")
def test_card05_the_list_paid_is_the_list_signed() -> None:
    listed = lines_digest([(1, 2, 700), (2, 1, 990)])
    assert listed == lines_digest([(2, 1, 990), (1, 2, 700)])  # the order lines are listed in does not matter
    assert signature_refusals(False, "", listed) == []  # the store does not record signatures
    assert [v.rule for v in signature_refusals(True, "", listed)] == ["CARD-05"]
    assert signature_refusals(True, listed, listed) == []
    more = lines_digest([(1, 3, 1050), (2, 1, 990)])
    assert "重新签字" in signature_refusals(True, listed, more)[0].message_zh
