"""Code rules: GTIN check digits, 药品追溯码, 国家统一医保编码, the check characters of 统一社会信用代码,
组织机构代码 and 居民身份证号, and classifying a scanned code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.codes import (
    USCC_CHARS,
    CodeKind,
    check_gtin,
    check_nhsa_code,
    check_trace_code,
    classify_code,
    gtin_check_digit,
    id_check_char,
    mask_id,
    org_code_check_char,
    uscc_check_char,
)

GTIN_BODY = st.sampled_from([7, 11, 12, 13]).flatmap(
    lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n))

# --- GTIN ---------------------------------------------------------------------------------------------


@given(GTIN_BODY)
def test_any_body_with_its_computed_check_digit_validates(body: str) -> None:
    assert check_gtin(body + str(gtin_check_digit(body))) == []


@given(GTIN_BODY, st.integers(0, 9))
def test_any_other_check_digit_is_refused_naming_the_expected_one(body: str, digit: int) -> None:
    expected = gtin_check_digit(body)
    if digit == expected:
        return
    problems = check_gtin(body + str(digit))
    assert len(problems) == 1
    v = problems[0]
    assert v.rule == "CODE-GTIN"
    assert v.details["expected_check_digit"] == expected
    assert f"应为 {expected}" in v.message_zh
    assert f"expected {expected}" in v.message_en


def test_known_ean13() -> None:
    assert check_gtin("6901234567892") == []
    [v] = check_gtin("6901234567890")
    assert "应为 2" in v.message_zh and "expected 2" in v.message_en


@pytest.mark.parametrize(("code", "en"), [
    ("6901234567", "has 10 digits"),
    ("690123456789212", "has 15 digits"),
    ("69012345678A2", "non-digits"),
    ("６９０１２３４５６７８９２", "non-digits"),
    ("", "non-digits"),
])
def test_gtin_wrong_length_or_non_digits_refused(code: str, en: str) -> None:
    [v] = check_gtin(code)
    assert v.rule == "CODE-GTIN" and en in v.message_en


# --- 药品追溯码 ------------------------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=19, max_size=19))
def test_any_20_digits_starting_with_8_is_a_trace_code(tail: str) -> None:
    assert check_trace_code("8" + tail) == []


def test_trace_code_of_19_digits_refused_naming_the_length() -> None:
    [v] = check_trace_code("8" * 19)
    assert v.rule == "CODE-TRACE"
    assert "19" in v.message_zh and "20" in v.message_zh
    assert "19" in v.message_en and "20" in v.message_en
    assert v.details["length"] == 19


def test_trace_code_of_21_digits_refused() -> None:
    [v] = check_trace_code("8" * 21)
    assert v.details["length"] == 21


def test_trace_code_must_start_with_8() -> None:
    [v] = check_trace_code("9" + "1" * 19)
    assert v.rule == "CODE-TRACE"
    assert "首位为 9" in v.message_zh and "应为 8" in v.message_zh
    assert "starts with 9" in v.message_en


def test_trace_code_with_letters_names_them() -> None:
    problems = check_trace_code("8123456789012345678X")
    assert len(problems) == 1  # the length is right; only the letter is wrong
    assert "X" in problems[0].message_zh and "non-digits" in problems[0].message_en


def test_trace_code_full_width_digits_refused() -> None:
    # Full-width digits are str.isdigit() but not what the 医保 platform accepts.
    assert check_trace_code("８" + "1" * 19)


def test_trace_code_reports_every_problem() -> None:
    rules = check_trace_code("1234")
    assert len(rules) == 2  # length and first digit
    assert check_trace_code("") and check_trace_code("")[0].details["length"] == 0


# --- 国家统一医保编码 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [
    "XA02BCA211A012010100154", "XA02BCA393A012010383696",  # observed samples (23)
    "Z" + "A" * 19, "T" + "1" * 19, "C" + "0" * 26, "H" + "B2" * 13,
])
def test_plausible_nhsa_codes_accepted(code: str) -> None:
    assert check_nhsa_code(code) == []


@pytest.mark.parametrize(("code", "zh", "en"), [
    ("xa02bca211a012010100154", "小写", "lowercase"),
    ("XA02BCA211A01201010015４", "全角或中文", "non-ASCII"),
    ("XA02BCA211A01201010015药", "全角或中文", "non-ASCII"),
    ("XA02BCA211 A012010100154", "空格", "spaces"),
    ("XA02-BCA211A012010100154", "符号", "symbols"),
    ("AA02BCA211A012010100154", "不是已知类别", "category letter"),
    ("X" * 19, "长度 19", "19 characters"),
    ("X" * 28, "长度 28", "28 characters"),
    ("X" * 51, "长度 51", "51 characters"),
    ("6901234567892", "不是已知类别", "category letter"),
    ("", "为空", "empty"),
])
def test_malformed_nhsa_codes_refused_with_a_clear_message(code: str, zh: str, en: str) -> None:
    problems = check_nhsa_code(code)
    assert problems, code
    assert all(v.rule == "CODE-NHSA" for v in problems)
    assert any(zh in v.message_zh for v in problems), [v.message_zh for v in problems]
    assert any(en in v.message_en for v in problems), [v.message_en for v in problems]


def test_lowercase_nhsa_code_is_not_also_blamed_for_its_category_letter() -> None:
    [v] = check_nhsa_code("xa02bca211a012010100154")
    assert "lowercase" in v.message_en


# --- 统一社会信用代码 / 组织机构代码 / 居民身份证号 check characters ---------------------------------------

USCC_BODY = st.text(alphabet=USCC_CHARS, min_size=17, max_size=17)
ID_BODY = st.text(alphabet="0123456789", min_size=17, max_size=17)


def test_uscc_check_char_matches_the_standard_example() -> None:
    assert uscc_check_char("91350100M000100Y4") == "3"  # GB 32100-2015's sample 91350100M000100Y43


def test_org_code_check_char_matches_the_code_inside_the_uscc_example() -> None:
    # The 组织机构代码 is characters 9..17 of a 统一社会信用代码: M000100Y + check 4 in the sample above.
    assert org_code_check_char("M000100Y") == "4"
    assert org_code_check_char("12345678") == "8"  # 3+14+27+40+25+48+28+16 = 201; 11 - 201 % 11 = 8


def test_org_code_check_char_maps_ten_and_eleven_to_x_and_zero() -> None:
    assert org_code_check_char("00000006") == "X"  # 6*2 = 12; 11 - 12 % 11 = 10
    assert org_code_check_char("00000000") == "0"  # 11 - 0 % 11 = 11
    assert org_code_check_char("00000004") == "3"  # 4*2 = 8; 11 - 8 = 3


@pytest.mark.parametrize(("number", "masked"), [
    ("11010519491231002X", "1101**********002X"),
    (" 440300D1560000050050640776EF3192 ", "4403************************3192"),  # surrounding spaces go
    ("12345678", "1*******"),  # too short to keep both ends
    ("", ""),
    (None, ""),
])
def test_mask_id_keeps_the_region_and_the_last_four(number: str | None, masked: str) -> None:
    assert mask_id(number) == masked


def test_id_check_char_matches_the_standard_example() -> None:
    assert id_check_char("11010519491231002") == "X"  # GB 11643's sample 11010519491231002X


@given(USCC_BODY, st.integers(0, 16), st.sampled_from(USCC_CHARS))
def test_uscc_check_char_catches_any_single_substitution(body: str, at: int, char: str) -> None:
    if body[at] == char:
        return
    typo = body[:at] + char + body[at + 1:]
    assert uscc_check_char(typo) != uscc_check_char(body)


@given(ID_BODY, st.integers(0, 16), st.sampled_from("0123456789"))
def test_id_check_char_catches_any_single_substitution(body: str, at: int, digit: str) -> None:
    if body[at] == digit:
        return
    typo = body[:at] + digit + body[at + 1:]
    assert id_check_char(typo) != id_check_char(body)


# --- classify_code ------------------------------------------------------------------------------------


def test_classify_gtin() -> None:
    c = classify_code("6901234567892")
    assert (c.kind, c.code, c.violations, c.gtin) == (CodeKind.GTIN, "6901234567892", (), "6901234567892")


def test_classify_gtin_with_wrong_check_digit_is_unknown_with_the_reason() -> None:
    c = classify_code("6901234567890")
    assert c.kind is CodeKind.UNKNOWN
    assert [v.rule for v in c.violations] == ["CODE-GTIN"]
    assert c.violations[0].details["expected_check_digit"] == 2


def test_classify_strips_scanner_suffix_and_full_width_digits() -> None:
    assert classify_code("6901234567892\r\n").code == "6901234567892"
    c = classify_code("６９０１２３４５６７８９２")  # typed through a Chinese IME in full-width mode
    assert (c.kind, c.code) == (CodeKind.GTIN, "6901234567892")


def test_classify_trace_code() -> None:
    c = classify_code("81234567890123456789\r")
    assert (c.kind, c.code) == (CodeKind.TRACE, "81234567890123456789")


def test_classify_19_digit_trace_code_is_unknown_with_the_trace_reason() -> None:
    c = classify_code("8123456789012345678")
    assert c.kind is CodeKind.UNKNOWN
    assert [v.rule for v in c.violations] == ["CODE-TRACE"]


def test_classify_20_digits_not_starting_with_8_is_unknown() -> None:
    c = classify_code("91234567890123456789")
    assert c.kind is CodeKind.UNKNOWN
    assert "starts with 9" in c.violations[0].message_en


def test_classify_nhsa_code_even_with_caps_lock() -> None:
    assert classify_code("XA02BCA211A012010100154").kind is CodeKind.NHSA
    c = classify_code("xa02bca211a012010100154")
    assert (c.kind, c.code) == (CodeKind.NHSA, "XA02BCA211A012010100154")


def test_classify_gs1_forms() -> None:
    gs = "\x1d"
    c = classify_code(f"0106901234567892{gs}10LOT42{gs}17261231")
    assert c.kind is CodeKind.GS1 and c.gtin == "06901234567892"
    assert gs in c.code  # the separator survives: the fields need it

    aim = classify_code("]d2010690123456789217261231")
    assert aim.kind is CodeKind.GS1 and aim.code == "010690123456789217261231"
    assert aim.gtin == "06901234567892"

    bare = classify_code("0106901234567892")  # AI (01) alone
    assert bare.kind is CodeKind.GS1 and bare.gtin == "06901234567892"

    fnc1 = classify_code(f"{gs}0106901234567892")
    assert fnc1.kind is CodeKind.GS1 and fnc1.gtin == "06901234567892"


def test_classify_ai01_with_wrong_gtin_check_digit_is_unknown() -> None:
    c = classify_code("010690123456789017261231")
    assert c.kind is CodeKind.UNKNOWN
    assert c.violations[0].details["expected_check_digit"] == 2


@pytest.mark.parametrize("text", ["", "  \r\n", "hello", "\x00\xff\x1b[A garbage", "阿莫西林"])
def test_classify_junk_is_unknown(text: str) -> None:
    c = classify_code(text)
    assert c.kind is CodeKind.UNKNOWN and c.gtin is None


def test_code_kind_values_are_stable() -> None:
    assert {k.value for k in CodeKind} >= {"gtin", "trace", "nhsa", "gs1", "receipt", "unknown"}
