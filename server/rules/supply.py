"""Days' supply (用药天数) computed from what a prescription line says, never typed (RX-06).

days = ⌈ quantity in the smallest unit ÷ (dose per take in that unit × takes per day) ⌉

The smallest unit is the catalog's: the split unit (拆零单位, `split_ratio` of them a pack) where the item is
split, else the pieces its spec counts ("0.25g*24粒" → 24 粒 a pack; "0.3g*12片*2板" → 24 片), else the pack.
A dose is read in that unit (2粒), in the pack unit (1盒), or as a strength the spec states per piece (0.5g of
0.25g capsules = 2 粒; 10ml of "10ml*6支" = 1 支). Anything the rules cannot convert is refused, not guessed:
an unknown frequency, a dose like 适量, a dose in g for an item whose spec states no strength in g.

Frequencies as prescriptions write them: the Latin codes (qd, bid, tid, qid, qNh, qn, hs, qod, qw, biw, tiw)
and the Chinese (每日一次, 一日三次, 每8小时一次, 每晚一次, 隔日一次, 每周两次 …). prn (必要时) alone
counts as one take a day: each take is at least a day's worth, so writing prn never stretches what the limit
allows; "prn tid" / "q8h prn" take the stated frequency.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

from catalog.violations import Violation

_LATIN: dict[str, Fraction] = {
    "qd": Fraction(1), "od": Fraction(1), "qn": Fraction(1), "hs": Fraction(1), "qm": Fraction(1),
    "qam": Fraction(1), "qpm": Fraction(1), "bid": Fraction(2), "tid": Fraction(3), "qid": Fraction(4),
    "qod": Fraction(1, 2), "qw": Fraction(1, 7), "biw": Fraction(2, 7), "tiw": Fraction(3, 7),
}
_PRN = frozenset({"prn", "必要时", "需要时"})
_CN_DIGITS: dict[str, Fraction] = {
    "一": Fraction(1), "二": Fraction(2), "两": Fraction(2), "三": Fraction(3), "四": Fraction(4), "五": Fraction(5),
    "六": Fraction(6), "七": Fraction(7), "八": Fraction(8), "九": Fraction(9), "十": Fraction(10),
    "十二": Fraction(12), "二十四": Fraction(24), "半": Fraction(1, 2)}
_NUM = r"(\d+(?:\.\d+)?|\d+/\d+|十二|二十四|[一二两三四五六七八九十半])"
_CN_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"^(?:每日|一日|每天|一天|日)(?:{_NUM})次$"), "per_day"),
    (re.compile(rf"^(?:每|q)(?:{_NUM})(?:小时|h)(?:一次|1次)?$"), "every_hours"),
    (re.compile(rf"^每周(?:{_NUM})次$"), "per_week"),
    (re.compile(r"^(?:每晚|每晨|睡前|每晚睡前|晚上)(?:一次|1次)?$"), "once"),
    (re.compile(r"^(?:隔日|隔天)(?:一次|1次)?$"), "every_other_day"),
)

# Units a strength is written in, in a base unit of their dimension.
_MEASURE: dict[str, tuple[str, Fraction]] = {
    "g": ("mass", Fraction(1000)), "克": ("mass", Fraction(1000)), "mg": ("mass", Fraction(1)),
    "毫克": ("mass", Fraction(1)), "μg": ("mass", Fraction(1, 1000)), "ug": ("mass", Fraction(1, 1000)),
    "mcg": ("mass", Fraction(1, 1000)), "微克": ("mass", Fraction(1, 1000)),
    "ml": ("volume", Fraction(1)), "毫升": ("volume", Fraction(1)), "l": ("volume", Fraction(1000)),
    "升": ("volume", Fraction(1000)), "iu": ("units", Fraction(1)), "u": ("units", Fraction(1)),
    "单位": ("units", Fraction(1)), "万iu": ("units", Fraction(10000)), "万u": ("units", Fraction(10000)),
    "万单位": ("units", Fraction(10000)),
}
_AMOUNT = re.compile(r"^(\d+(?:\.\d+)?|\d+/\d+|[一二两三四五六七八九十半])(.+)$")
_STRENGTH = re.compile(r"^(\d+(?:\.\d+)?)(万iu|万u|万单位|mg|μg|ug|mcg|ml|iu|g|l|u|克|毫克|微克|毫升|升|单位)")
_COUNT = re.compile(r"[*×x](\d+)([^\d*×x/()（）]+)")


def _plain(text: str) -> str:
    """Full-width to half-width, no spaces, lower case: ＴＩＤ, "t i d" and "tid" read alike."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _number(text: str) -> Fraction:
    if text in _CN_DIGITS:
        return _CN_DIGITS[text]
    return Fraction(text)


def takes_per_day(frequency: str) -> Fraction | None:
    """How many takes a day the written frequency means; None when it is not one the rules read."""
    f = _plain(frequency).replace(".", "")  # q.d. = qd
    parts = [p for p in re.split(r"[,;/+]", f) if p]
    if len(parts) == 1 and (glued := re.fullmatch(r"(prn)(.+)|(.+?)(prn)", f)):
        parts = [p for p in glued.groups() if p]
    stated = [p for p in parts if p not in _PRN]
    if not stated:
        return Fraction(1) if parts else None  # prn alone: one take a day (see the module's note)
    if len(stated) > 1:
        return None
    code = stated[0]
    if code in _LATIN:
        return _LATIN[code]
    if m := re.fullmatch(r"q(\d+)h", code):
        hours = int(m.group(1))
        return Fraction(24, hours) if 0 < hours <= 24 * 7 else None
    for pattern, kind in _CN_PATTERNS:
        if m := pattern.match(code):
            if kind == "once":
                return Fraction(1)
            if kind == "every_other_day":
                return Fraction(1, 2)
            n = _number(m.group(1))
            if n <= 0:
                return None
            return {"per_day": n, "every_hours": Fraction(24) / n, "per_week": n / 7}[kind]
    return None


@dataclass(frozen=True, slots=True)
class PackFacts:
    """What the catalog says of an item's pack."""

    unit: str  # 盒, 瓶 …
    split_unit: str | None  # 拆零单位 (粒, 片 …) where the item is sold split
    split_ratio: int  # split units a pack
    spec: str  # 规格, e.g. "0.25g*24粒"


@dataclass(frozen=True, slots=True)
class _Pack:
    piece: str  # the smallest unit's name
    per_pack: int  # pieces a pack
    strength: tuple[str, Fraction] | None  # (dimension, amount in its base unit) a piece


def _pack(p: PackFacts) -> _Pack:
    spec = _plain(p.spec).replace("×", "*")
    strength = None
    if m := _STRENGTH.match(spec):
        dim, factor = _MEASURE[m.group(2)]
        strength = (dim, Fraction(m.group(1)) * factor)
    counts = _COUNT.findall(spec)
    spec_per_pack = math.prod(int(n) for n, _ in counts) if counts else 0
    spec_piece = counts[0][1] if counts else ""
    if not counts and (only := re.fullmatch(r"(\d+)([^\d]+)", spec)) and only.group(2) not in _MEASURE:
        spec_per_pack, spec_piece = int(only.group(1)), only.group(2)  # "10只", "24粒"
    if p.split_unit and p.split_ratio > 1:  # a spec's strength is a split unit's ("0.25g*24粒", "0.25g")
        return _Pack(_plain(p.split_unit), p.split_ratio, strength)
    if spec_per_pack > 0:
        return _Pack(spec_piece, spec_per_pack, strength if counts else None)
    return _Pack(_plain(p.unit), 1, strength)  # "200g" a tube: the strength is the pack's


def dose_in_pieces(dosage: str, pack: PackFacts) -> Fraction | None:
    """One take in the item's smallest unit; None when the written dose cannot be converted."""
    m = _AMOUNT.match(_plain(dosage))
    if m is None:
        return None
    amount, unit = _number(m.group(1)), m.group(2)
    if amount <= 0:
        return None
    pk = _pack(pack)
    if unit == pk.piece:
        return amount
    if unit == _plain(pack.unit):
        return amount * pk.per_pack
    if unit in _MEASURE and pk.strength is not None:
        dim, factor = _MEASURE[unit]
        if dim == pk.strength[0]:
            return amount * factor / pk.strength[1]
    return None


def supply_days(qty: int, split: bool, dosage: str, frequency: str, pack: PackFacts, drug: str = "") -> int | Violation:
    """The line's days' supply, or why it cannot be computed (RX-02: the dose and usage must be readable)."""
    per_day = takes_per_day(frequency)
    if per_day is None:
        return Violation("RX-02", f"{drug}频次「{frequency}」无法识别（如 qd、bid、tid、qid、q8h、qn、prn、每日三次）",
                         f"{drug}: the frequency {frequency!r} is not one the rules read", {"frequency": frequency})
    dose = dose_in_pieces(dosage, pack)
    if dose is None:
        return Violation("RX-02", f"{drug}单次剂量「{dosage}」无法按规格「{pack.spec}」换算为用药天数"
                                  f"（请写作如 2{pack.split_unit or '片'} 或规格所示的含量）",
                         f"{drug}: the dose {dosage!r} cannot be converted with the spec {pack.spec!r}",
                         {"dosage": dosage, "spec": pack.spec})
    pieces = qty if split else qty * _pack(pack).per_pack
    return max(1, math.ceil(Fraction(pieces) / (dose * per_day)))
