"""Is the drug written on a prescription the item dispensed? (RX-04: no substitution, seen at review.)

The written name is compared with the dispensed item's generic name (通用名; its name where the catalog has no
generic name). Both are read alike first: full-width to half-width (NFKC: ＶｉｔＣ = VitC, （）= ()), no spaces
at all, lower case. A plain dosage-form suffix (片, 胶囊, 颗粒, 注射液 … the list below) may be written on one side
only — 阿莫西林 is 阿莫西林胶囊 — but two forms that differ do not match (阿莫西林片 is not 阿莫西林胶囊), and a
release or coating qualifier is part of the name (硝苯地平缓释片 is not 硝苯地平片: 缓释 stays after 片 is taken
off). Brand names in brackets and strengths written into the name are not read away: they do not match.
"""

from __future__ import annotations

import re
import unicodedata

# Longest first: 软胶囊 before 胶囊, 口服溶液 before 溶液.
FORMS: tuple[str, ...] = tuple(sorted((
    "片", "胶囊", "软胶囊", "颗粒", "丸", "滴丸", "散", "口服液", "口服溶液", "溶液", "糖浆", "合剂", "注射液",
    "注射剂", "滴眼液", "滴耳液", "滴鼻液", "眼膏", "软膏", "乳膏", "凝胶", "贴", "贴剂", "贴膏", "栓",
    "气雾剂", "喷雾剂", "混悬液", "干混悬剂", "酊", "搽剂", "洗剂", "膏", "粉", "茶",
), key=len, reverse=True))


def plain(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()


def split_form(name: str) -> tuple[str, str]:
    """(the name without its dosage-form suffix, that suffix or "")."""
    text = plain(name)
    for form in FORMS:
        if text.endswith(form) and len(text) > len(form):
            return text[: -len(form)], form
    return text, ""


def same_drug(written: str, generic: str) -> bool:
    w_base, w_form = split_form(written)
    g_base, g_form = split_form(generic)
    return bool(w_base) and w_base == g_base and (not w_form or not g_form or w_form == g_form)
