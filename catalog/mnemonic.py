"""助记码 (mnemonic): the pinyin initials of an item name, typed at the till to find the item.

阿莫西林胶囊 -> AMXLJN. Latin letters and digits pass through uppercased (维生素C片 -> WSSCP,
0.9%氯化钠 -> 09LHN); punctuation, spaces and symbols are dropped.

We use pypinyin's phrase dictionary and its forward-maximum-matching segmenter, so a polyphonic
character takes the reading of the word it stands in (人参 shen, 银行 hang, 重组 chong). Then:

- PHARMACY_PHRASES corrects the phrases pypinyin reads wrongly in a pharmacy (玄参 is xuan *shen*,
  川芎 chuan *xiong*, 射干 *she* gan) and adds drug words it lacks (长效 *chang* xiao). They go into
  pypinyin's dictionary once, at import.
- PREFERRED_READINGS picks, for a character that stands alone (no phrase claims it), the reading a
  drug name means (参 in 参麦注射液 is shen; 炔 in 炔诺酮 is que). Kept local: we do not change
  pypinyin's single-character defaults for other users in the process.
- POLYPHONES lists the characters whose other reading a user may well type; mnemonic_variants
  offers those spellings too, so a search matches either.

We convert with pypinyin's data directly rather than through lazy_pinyin: the result is the same
(tests compare them) but about four times faster, which matters for a 100k-item catalog import.
"""

from __future__ import annotations

import itertools
import unicodedata
from functools import cache, lru_cache

from pypinyin import load_phrases_dict
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT, RE_HANS
from pypinyin.seg.simpleseg import seg

# Readings with tone marks, as pypinyin's dictionary holds them. Each entry was checked against
# what pypinyin 0.55 returns and is here only because that was wrong (or the word was missing).
PHARMACY_PHRASES: dict[str, str] = {
    # 参 is shen in herbs; pypinyin's dictionary has these as can.
    "玄参": "xuán shēn",
    "拳参": "quán shēn",
    "刺参": "cì shēn",
    "野山参": "yě shān shēn",
    # 术 is zhu in herbs (白术 and 苍术 are right already).
    "莪术": "é zhú",
    "枳术": "zhǐ zhú",
    # 芎 is xiong (the dictionary's first reading is the archaic qiong).
    "川芎": "chuān xiōng",
    # 壳 is qiao in these herbs.
    "枳壳": "zhǐ qiào",
    "蛤壳": "gé qiào",
    "射干": "shè gān",
    "螵蛸": "piāo xiāo",
    "重楼": "chóng lóu",
    "重酒石酸": "chóng jiǔ shí suān",  # bitartrate, as in 重酒石酸去甲肾上腺素
    "藏医": "zàng yī",
    "藏茵陈": "zàng yīn chén",
    "茶调": "chá tiáo",  # 川芎茶调散
    "长效": "cháng xiào",
    "粘膜": "nián mó",
    "粘合": "nián hé",
    "给药": "jǐ yào",
}

# For a character no phrase claims: the reading a drug name means, where pypinyin's default differs.
PREFERRED_READINGS: dict[str, str] = {
    "参": "shen",  # 参麦, 参附, 参苓, 参芪 … (参加, 参考 are phrases and keep can)
    "炔": "que",  # 炔诺酮, 炔雌醇 (alkyne)
    "芎": "xiong",
}

# Characters whose other initial a user may type when no phrase settles the reading.
# Obscure readings pypinyin also lists (服 bi, 液 shi, 眼 wen) are left out on purpose: they would
# only crowd the few variants we keep.
POLYPHONES: dict[str, str] = {
    "参": "SC", "术": "ZS", "重": "ZC", "长": "CZ", "行": "XH", "藏": "ZC", "调": "TD",
    "便": "BP", "给": "GJ", "乐": "LY", "传": "CZ", "蛤": "GH", "粘": "NZ", "会": "HK",
    "蔓": "MW", "荨": "XQ", "伽": "GJQ", "咖": "KG", "枸": "GJ", "射": "SY", "壳": "KQ",
    "芎": "XQ", "蛸": "XS",
}


def _load_phrases() -> None:
    load_phrases_dict({word: [[r] for r in readings.split()] for word, readings in PHARMACY_PHRASES.items()})


_load_phrases()  # once, at import: it also retrains pypinyin's segmenter


@cache
def _char_initial(char: str) -> str:
    """The initial of a character on its own (no phrase around it); '' if it has no pinyin."""
    if char in PREFERRED_READINGS:
        return PREFERRED_READINGS[char][0].upper()
    readings = PINYIN_DICT.get(ord(char))
    return _initial(readings.split(",")[0]) if readings else ""


def _initial(reading: str) -> str:
    """'shēn' -> 'S'; 'ǹg' -> 'N' (strip the tone mark before taking the first letter)."""
    return unicodedata.normalize("NFD", reading)[0].upper()


@lru_cache(maxsize=65536)
def _segment_initials(segment: str) -> tuple[str, ...]:
    """One initial per character of a segment: a phrase's readings, else each character alone.

    Cached: the same words (胶囊, 注射液, 颗粒) recur across a whole catalog.
    """
    if not RE_HANS.match(segment):
        return tuple(c.upper() for c in segment if c.isascii() and c.isalnum())
    if len(segment) > 1 and segment in PHRASES_DICT:
        return tuple(_initial(r[0]) for r in PHRASES_DICT[segment])
    return tuple(i for i in map(_char_initial, segment) if i)


def _normalise(text: str) -> str:
    # NFKC: full-width Ｃ and １ become ASCII, so they pass through like their half-width forms.
    return unicodedata.normalize("NFKC", text)


def mnemonic(text: str) -> str:
    """The uppercase pinyin initials of text: 重组人胰岛素注射液 -> CZRYDSZSY, 0.9%氯化钠 -> 09LHN."""
    return "".join(itertools.chain.from_iterable(_segment_initials(s) for s in seg(_normalise(text))))


def mnemonic_variants(text: str, limit: int = 4) -> list[str]:
    """mnemonic(text) first, then spellings with another reading of a polyphonic character.

    Only characters no phrase settles count (白术 is BZ, never BS), and only readings a user may
    type (POLYPHONES). At most `limit` spellings; often just [mnemonic(text)].
    """
    options: list[tuple[str, ...]] = []  # per character: its initial first, then the other ones
    for segment in seg(_normalise(text)):
        initials = _segment_initials(segment)
        if not RE_HANS.match(segment) or (len(segment) > 1 and segment in PHRASES_DICT):
            options.extend((i,) for i in initials)
            continue
        for char, primary in zip((c for c in segment if _char_initial(c)), initials, strict=True):
            others = tuple(i for i in POLYPHONES.get(char, "") if i != primary)
            options.append((primary, *others))
    base = [o[0] for o in options]
    out = ["".join(base)]
    open_positions = [n for n, o in enumerate(options) if len(o) > 1]
    # Fewest changes first: one character read the other way is likelier than two.
    for k in range(1, len(open_positions) + 1):
        for positions in itertools.combinations(open_positions, k):
            for choice in itertools.product(*(options[n][1:] for n in positions)):
                if len(out) >= limit:
                    return out
                spelling = base.copy()
                for n, initial in zip(positions, choice, strict=True):
                    spelling[n] = initial
                out.append("".join(spelling))
    return out


# --- full pinyin (全拼): ganmao finds 感冒灵颗粒 as GM does ------------------------------------------------

def _toneless(reading: str) -> str:
    """'lǜ' -> 'LV', 'shēn' -> 'SHEN': the letters a user types for a reading (ü typed as v)."""
    decomposed = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")  # ǜ is u, diaeresis, tone
    return "".join(c for c in decomposed if c.isascii()).upper()


@lru_cache(maxsize=65536)
def _segment_spelled(segment: str) -> str:
    if not RE_HANS.match(segment):
        return "".join(c.upper() for c in segment if c.isascii() and c.isalnum())
    if len(segment) > 1 and segment in PHRASES_DICT:
        return "".join(_toneless(r[0]) for r in PHRASES_DICT[segment])
    return "".join(map(_char_spelled, segment))


@cache
def _char_spelled(char: str) -> str:
    if char in PREFERRED_READINGS:
        return PREFERRED_READINGS[char].upper()
    readings = PINYIN_DICT.get(ord(char))
    return _toneless(readings.split(",")[0]) if readings else ""


@lru_cache(maxsize=131072)
def spelled(text: str) -> str:
    """The full pinyin of text, uppercase, no separators, read as mnemonic() reads it (the same phrases and
    preferred readings): 感冒灵颗粒 -> GANMAOLINGKELI, 维生素C片 -> WEISHENGSUCPIAN, 绿药膏 -> LVYAOGAO."""
    return "".join(_segment_spelled(s) for s in seg(_normalise(text)))


# Readings that are a consonant alone (呣 m, 嗯 n/ng, 哼 hm/hng): never a piece of a typed spelling, or
# nearly any string of initials would read as pinyin.
_NOT_TYPED = {"M", "N", "NG", "HM", "HNG"}


@cache
def _syllables() -> frozenset[str]:
    """Every toneless syllable pypinyin knows, as typed (ü as v; after j q x y it is written u anyway)."""
    out = {_toneless(r) for readings in PINYIN_DICT.values() for r in readings.split(",")}
    return frozenset(s for s in out if s.isalpha() and s not in _NOT_TYPED)


@cache
def _syllable_prefixes() -> frozenset[str]:
    return frozenset(s[:n] for s in _syllables() for n in range(1, len(s) + 1))


def pinyin_initials(query: str, limit: int = 4) -> list[str]:
    """The initials of `query` read as full pinyin typed so far (two syllables or more, the last maybe not
    finished): GANMAO -> GM, GANMAOL -> GML, XIAN -> XA (xi'an; xian alone is one syllable). Where the spelling
    splits more than one way, the readings with the fewest syllables first (at most `limit`); [] if it is not
    pinyin (initials such as GMKL, a code, a name)."""
    q = query.upper()
    if len(q) < 3 or not (q.isascii() and q.isalpha()):
        return []
    syllables, prefixes = _syllables(), _syllable_prefixes()
    out: list[str] = []

    def walk(at: int, initials: str) -> None:
        if len(out) >= 8 * limit:  # enough to choose the shortest from
            return
        if at == len(q):
            if len(initials) >= 2 and initials not in out:
                out.append(initials)
            return
        for end in range(min(len(q), at + 6), at, -1):  # the longest syllable first (zhuang: 6 letters)
            piece = q[at:end]
            if piece in syllables or (end == len(q) and piece in prefixes):
                walk(end, initials + piece[0])

    walk(0, "")
    return sorted(out, key=len)[:limit]
