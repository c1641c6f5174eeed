"""助记码: pinyin initials, phrase-aware, with the pharmacy's own readings."""

from __future__ import annotations

import pytest
from pypinyin import Style, lazy_pinyin

from catalog.mnemonic import PHARMACY_PHRASES, PREFERRED_READINGS, mnemonic, mnemonic_variants


@pytest.mark.parametrize(("name", "expected"), [
    ("阿莫西林胶囊", "AMXLJN"),
    ("六味地黄丸", "LWDHW"),
    ("藿香正气水", "HXZQS"),
    ("重组人胰岛素注射液", "CZRYDSZSY"),  # 重 = chong in 重组
    ("人参", "RS"),  # shen, not can
    ("白术", "BZ"),  # zhu, not shu
    ("厚朴", "HP"),  # po
    ("地塞米松", "DSMS"),
    ("银行", "YH"),  # hang
    ("大黄", "DH"),
    ("阿胶", "EJ"),
    ("血府逐瘀丸", "XFZYW"),
    ("降压片", "JYP"),
    ("长春西汀注射液", "CCXTZSY"),
    ("藏红花", "ZHH"),
    ("便秘通", "BMT"),
    ("调经止痛片", "TJZTP"),
])
def test_examples(name: str, expected: str) -> None:
    assert mnemonic(name) == expected


@pytest.mark.parametrize(("name", "expected"), [
    # Each of these is here because pypinyin 0.55 alone gets it wrong (shown in the comment).
    ("玄参", "XS"),  # pypinyin alone: XC
    ("野山参", "YSS"),  # pypinyin alone: YSC
    ("参麦注射液", "SMZSY"),  # pypinyin alone: CMZSY
    ("参苓白术散", "SLBZS"),  # pypinyin alone: CLBZS
    ("莪术油", "EZY"),  # pypinyin alone: ESY
    ("川芎茶调散", "CXCTS"),  # pypinyin alone: CQCDS
    ("枳壳", "ZQ"),  # pypinyin alone: ZK
    ("射干", "SG"),  # pypinyin alone: YG
    ("海螵蛸", "HPX"),  # pypinyin alone: HPS
    ("重楼解毒酊", "CLJDD"),  # pypinyin alone: ZLJDD
    ("重酒石酸间羟胺注射液", "CJSSJQAZSY"),  # pypinyin alone: ZJSSJQAZSY
    ("长效胰岛素", "CXYDS"),  # pypinyin alone: ZXYDS
    ("炔诺酮片", "QNTP"),  # pypinyin alone: GNTP
    ("藏茵陈胶囊", "ZYCJN"),  # pypinyin alone: CYCJN
    ("胃粘膜保护剂", "WNMBHJ"),  # pypinyin alone: WZMBHJ
])
def test_pharmacy_readings_override_pypinyin(name: str, expected: str) -> None:
    assert mnemonic(name) == expected


def test_overrides_do_not_change_ordinary_words() -> None:
    # The phrases keep their common reading: only standalone 参 is read shen.
    assert mnemonic("参考") == "CK"
    assert mnemonic("参加") == "CJ"
    assert mnemonic("手术") == "SS"
    assert mnemonic("重量") == "ZL"


@pytest.mark.parametrize(("name", "expected"), [
    ("维生素C片", "WSSCP"),
    ("0.9%氯化钠注射液", "09LHNZSY"),
    ("0.9%氯化钠", "09LHN"),
    ("维生素B6片", "WSSB6P"),
    ("维生素Ｃ片", "WSSCP"),  # full-width letter
    ("牛黄解毒片（OTC）", "NHJDPOTC"),
    ("复方 甘草片 100片/瓶", "FFGCP100PP"),
    ("vitamin c", "VITAMINC"),
    ("", ""),
    ("  ", ""),
    ("%/-（）", ""),
])
def test_ascii_passes_through_and_punctuation_drops(name: str, expected: str) -> None:
    assert mnemonic(name) == expected


def test_same_as_pypinyin_lazy_pinyin_where_we_do_not_override() -> None:
    """Our direct conversion must equal pypinyin's own phrase-aware FIRST_LETTER conversion."""
    names = ["布洛芬缓释胶囊", "盐酸二甲双胍片", "硝苯地平控释片", "头孢呋辛酯片", "左氧氟沙星滴眼液",
             "氯雷他定片", "蒙脱石散", "复方甘草片", "连花清瘟胶囊", "板蓝根颗粒", "感冒灵颗粒",
             "云南白药气雾剂", "京都念慈菴蜜炼川贝枇杷膏", "马应龙麝香痔疮膏", "单硝酸异山梨酯片",
             "乌鸡白凤丸", "血塞通软胶囊", "咖啡因", "乐松", "行军散", "降糖宁胶囊", "着凉"]
    for name in names:
        assert not any(c in name for c in PREFERRED_READINGS)
        assert not any(p in name for p in PHARMACY_PHRASES)
        expected = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).upper()
        assert mnemonic(name) == expected, name


def test_variants_start_with_the_mnemonic_and_respect_the_limit() -> None:
    for name in ("阿莫西林胶囊", "参芪降糖颗粒", "长行重藏调便", "维生素C片", ""):
        variants = mnemonic_variants(name)
        assert variants[0] == mnemonic(name)
        assert 1 <= len(variants) <= 4
        assert len(set(variants)) == len(variants)
    assert len(mnemonic_variants("长行重藏调便", limit=2)) == 2
    assert len(mnemonic_variants("长行重藏调便", limit=100)) == 2 ** 6


def test_variants_offer_the_other_reading_of_an_unresolved_polyphone() -> None:
    assert mnemonic_variants("参芪降糖颗粒")[:2] == ["SQJTKL", "CQJTKL"]
    assert "YHC" in mnemonic_variants("银行长")  # 长 alone: zhang or chang; 银行 stays YH
    # One character changed before two.
    assert mnemonic_variants("长行") == ["ZX", "CX", "ZH", "CH"]


def test_variants_leave_phrases_alone() -> None:
    assert mnemonic_variants("白术") == ["BZ"]
    assert mnemonic_variants("人参") == ["RS"]
    assert mnemonic_variants("银行") == ["YH"]
    assert mnemonic_variants("六味地黄丸") == ["LWDHW"]


def test_spelled_is_the_full_pinyin_read_as_the_mnemonic_reads() -> None:
    from catalog.mnemonic import spelled

    assert spelled("感冒灵颗粒") == "GANMAOLINGKELI"
    assert spelled("维生素C片") == "WEISHENGSUCPIAN"
    assert spelled("绿药膏") == "LVYAOGAO"  # ü as it is typed
    assert spelled("参麦注射液").startswith("SHENMAI") and spelled("玄参") == "XUANSHEN"  # the pharmacy's readings


def test_pinyin_initials_reads_a_typed_spelling_and_refuses_what_is_not_one() -> None:
    from catalog.mnemonic import pinyin_initials

    assert pinyin_initials("ganmao")[0] == "GM"
    assert pinyin_initials("ganmaoling")[0] == "GML"
    assert pinyin_initials("ganm") == ["GM"]  # the last syllable not finished
    assert "BLG" in pinyin_initials("banlangen")
    assert pinyin_initials("GMKL") == [] and pinyin_initials("WSS") == [] and pinyin_initials("ga") == []
    assert pinyin_initials("阿莫") == [] and pinyin_initials("6901234") == []
