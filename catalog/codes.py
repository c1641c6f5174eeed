"""Code rules: GTIN check digits, 药品追溯码, 国家医保编码, the check characters of 统一社会信用代码,
组织机构代码 and 居民身份证号. Pure functions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from catalog.violations import Violation

GTIN_LENGTHS = {8: "gtin8", 12: "gtin12", 13: "gtin13", 14: "gtin14"}


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits before it (weights 3,1,3,… from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def check_gtin(code: str) -> list[Violation]:
    """GTIN-8/12/13/14: digits only, a known length, a right check digit (the expected one named)."""
    if not code.isdigit() or not code.isascii():
        return [Violation("CODE-GTIN", f"条码 {code!r} 含有非数字字符",
                          f"barcode {code!r} contains non-digits", {"code": code})]
    if len(code) not in GTIN_LENGTHS:
        return [Violation("CODE-GTIN", f"条码 {code} 长度 {len(code)} 位，应为 8、12、13 或 14 位",
                          f"barcode {code} has {len(code)} digits; expected 8, 12, 13 or 14",
                          {"code": code, "length": len(code)})]
    expected = gtin_check_digit(code[:-1])
    if int(code[-1]) != expected:
        return [Violation("CODE-GTIN", f"条码 {code} 校验位错误：应为 {expected}，实为 {code[-1]}",
                          f"barcode {code}: wrong check digit {code[-1]}, expected {expected}",
                          {"code": code, "expected_check_digit": expected, "got": int(code[-1])})]
    return []



# --- check characters of the registration numbers on suppliers and staff ---------------------------
# 统一社会信用代码 (a supplier's business licence), its embedded 组织机构代码, and the 居民身份证号.

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_char(first17: str) -> str:
    """The check character of an 18-char 统一社会信用代码 (GB 32100-2015, mod 31)."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def check_uscc(code: str) -> list[Violation]:
    """A supplier's 统一社会信用代码 (GSP-05: who the supplier is): 18 characters of GB 32100's set, the last its
    check character."""
    text = code.strip().upper()
    if len(text) != 18 or any(c not in USCC_CHARS for c in text):
        return [Violation("GSP-05", f"统一社会信用代码 {code} 格式不对：应为 18 位数字或大写字母（不含 I O S V Z）",
                          f"unified social credit code {code}: 18 characters of GB 32100's set expected",
                          {"code": code})]
    if uscc_check_char(text[:17]) != text[17]:
        return [Violation("GSP-05", f"统一社会信用代码 {code} 校验位不对", f"unified social credit code {code}: "
                          "wrong check character", {"code": code, "expected": uscc_check_char(text[:17])})]
    return []


def org_code_check_char(body: str) -> str:
    """The check character of a 9-char 组织机构代码 (GB 11714, mod 11) after its 8 body characters
    (digits, or uppercase letters counted A=10 … Z=35)."""
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def id_check_char(first17: str) -> str:
    """The check character of an 18-digit 居民身份证号 (GB 11643, ISO 7064 MOD 11-2)."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def mask_id(number: str | None) -> str:
    """SEC-06, an identity number as shown, printed, exported or logged: 1101**********1234 (the region
    prefix and the last four stay, everything between is starred)."""
    if not number:
        return ""
    n = number.strip()
    if len(n) <= 8:
        return n[:1] + "*" * (len(n) - 1) if n else ""
    return n[:4] + "*" * (len(n) - 8) + n[-4:]


_WHOLE_ID = re.compile(r"(?<!\d)(\d{17}[\dXx])(?!\d)")


def _whole(candidate: str) -> str | None:
    n = candidate.upper()
    return n if id_check_char(n[:17]) == n[17] else None


def whole_ids_in(text: str) -> list[str]:
    """SEC-06's test: every whole 18-digit 居民身份证号 in `text` (its check character valid, so a setl_id or a
    licence number of 18 digits is left alone), upper-cased, in order. Bytes decoded as latin-1 work too: the
    digits are ASCII in UTF-8 and GBK alike, and neither encoding uses a digit byte inside another character."""
    return [n for m in _WHOLE_ID.finditer(text) if (n := _whole(m.group(1)))]


def mask_ids_in(text: str) -> str:
    """SEC-06 over free text (a note, a finding's evidence): every whole 18-digit 居民身份证号 in it (as
    whole_ids_in finds them) masked as mask_id does."""
    def masked(m: re.Match[str]) -> str:
        n = _whole(m.group(1))
        return mask_id(n) if n else m.group(1)

    return _WHOLE_ID.sub(masked, text)


# --- 药品追溯码 (drug traceability code) -----------------------------------------------------------
# 20 ASCII digits starting with 8: the 医保 check platform drops anything else (nhsa-interface.md §8).
# The 7-digit 药品标识码 + serial split is unconfirmed, so no check digit is validated here.
TRACE_LENGTH = 20
TRACE_FIRST_DIGIT = "8"


def check_trace_code(code: str) -> list[Violation]:
    """药品追溯码: exactly 20 ASCII digits, the first one 8. Each problem found is reported."""
    out: list[Violation] = []
    bad = _chars(code, lambda c: not (c.isascii() and c.isdigit()))
    if bad:
        out.append(Violation(
            "CODE-TRACE", f"追溯码 {code!r} 含有非数字字符 {bad!r}，应全部为数字",
            f"trace code {code!r} contains non-digits {bad!r}; expected digits only",
            {"code": code, "bad_chars": bad}))
    if len(code) != TRACE_LENGTH:
        out.append(Violation(
            "CODE-TRACE", f"追溯码 {code!r} 长度 {len(code)} 位，应为 {TRACE_LENGTH} 位",
            f"trace code {code!r} has {len(code)} characters; expected {TRACE_LENGTH} digits",
            {"code": code, "length": len(code), "expected_length": TRACE_LENGTH}))
    # A non-digit first character is already covered by the non-digit message above.
    first = code[:1]
    if first.isascii() and first.isdigit() and first != TRACE_FIRST_DIGIT:
        out.append(Violation(
            "CODE-TRACE", f"追溯码 {code} 首位为 {first}，应为 {TRACE_FIRST_DIGIT}",
            f"trace code {code} starts with {first}; expected {TRACE_FIRST_DIGIT}",
            {"code": code, "first_digit": first, "expected_first_digit": TRACE_FIRST_DIGIT}))
    return out


# --- 国家统一医保编码 (med_list_codg) ---------------------------------------------------------------
# The format is not officially confirmed (nhsa-interface.md §6): observed codes are 23 characters,
# e.g. XA02BCA211A012010100154. We accept a known category letter followed by uppercase letters and
# digits, 20..27 long, so a plausible code passes and a pasted name, a GTIN or a typo does not.
NHSA_PREFIXES: dict[str, tuple[str, str]] = {
    "X": ("西药", "western medicine"),
    "Z": ("中成药", "Chinese patent medicine"),
    "T": ("中药饮片", "Chinese herbal pieces"),
    "C": ("医用耗材", "medical consumable"),
    "H": ("医疗服务项目", "medical service"),
}
NHSA_MIN_LENGTH = 20
NHSA_MAX_LENGTH = 27
NHSA_FIELD_LENGTH = 50  # the interface field is C50; the DB column is as wide


def check_nhsa_code(code: str) -> list[Violation]:
    """国家统一医保编码: category letter (X/Z/T/C/H) + uppercase letters/digits, 20..27 characters."""
    if not code:
        return [Violation("CODE-NHSA", "医保编码为空", "national insurance code is empty", {"code": code})]
    out: list[Violation] = []
    # Full-width letters, Chinese, spaces and lowercase each get their own message: they are the usual
    # copy-paste accidents, and the user must see which one happened.
    non_ascii = _chars(code, lambda c: not c.isascii())
    if non_ascii:
        out.append(Violation(
            "CODE-NHSA", f"医保编码 {code!r} 含有全角或中文字符 {non_ascii!r}，应为半角字母和数字",
            f"national insurance code {code!r} contains non-ASCII characters {non_ascii!r}; "
            "expected ASCII letters and digits", {"code": code, "bad_chars": non_ascii}))
    if any(c.isspace() for c in code):
        out.append(Violation("CODE-NHSA", f"医保编码 {code!r} 含有空格",
                             f"national insurance code {code!r} contains spaces", {"code": code}))
    lower = _chars(code, lambda c: c.isascii() and c.islower())
    if lower:
        out.append(Violation(
            "CODE-NHSA", f"医保编码 {code!r} 含有小写字母 {lower!r}，字母应为大写",
            f"national insurance code {code!r} contains lowercase letters {lower!r}; "
            "letters must be uppercase",
            {"code": code, "bad_chars": lower}))
    symbols = _chars(code, lambda c: c.isascii() and not c.isspace() and not c.isalnum())
    if symbols:
        out.append(Violation(
            "CODE-NHSA", f"医保编码 {code!r} 含有符号 {symbols!r}，只能是字母和数字",
            f"national insurance code {code!r} contains symbols {symbols!r}; expected letters and digits",
            {"code": code, "bad_chars": symbols}))
    if code[0].upper() not in NHSA_PREFIXES:  # a lowercase x is reported as lowercase above
        allowed_zh = "、".join(f"{k}（{zh}）" for k, (zh, _) in NHSA_PREFIXES.items())
        allowed_en = ", ".join(f"{k} ({en})" for k, (_, en) in NHSA_PREFIXES.items())
        out.append(Violation(
            "CODE-NHSA", f"医保编码 {code!r} 首字符 {code[0]!r} 不是已知类别，应为 {allowed_zh}",
            f"national insurance code {code!r} starts with {code[0]!r}; expected a category letter: "
            f"{allowed_en}", {"code": code, "first": code[0], "expected_first": sorted(NHSA_PREFIXES)}))
    if not NHSA_MIN_LENGTH <= len(code) <= NHSA_MAX_LENGTH:
        out.append(Violation(
            "CODE-NHSA",
            f"医保编码 {code!r} 长度 {len(code)} 位，"
            f"应为 {NHSA_MIN_LENGTH}–{NHSA_MAX_LENGTH} 位（常见为 23 位）",
            f"national insurance code {code!r} has {len(code)} characters; "
            f"expected {NHSA_MIN_LENGTH} to {NHSA_MAX_LENGTH} (usually 23)",
            {"code": code, "length": len(code),
             "min_length": NHSA_MIN_LENGTH, "max_length": NHSA_MAX_LENGTH}))
    return out


def _chars(code: str, bad: Callable[[str], bool]) -> str:
    """The distinct offending characters, in order of first appearance (for the message)."""
    return "".join(dict.fromkeys(c for c in code if bad(c)))


# --- classifying a scanned or typed code ------------------------------------------------------------


class CodeKind(StrEnum):
    GTIN = "gtin"  # EAN-8 / UPC-A / EAN-13 / GTIN-14 with a right check digit
    TRACE = "trace"  # 药品追溯码
    NHSA = "nhsa"  # 国家统一医保编码
    GS1 = "gs1"  # a GS1 element string (DataMatrix on imported drugs): AIs, maybe GS separators
    RECEIPT = "receipt"  # the store's own receipt barcode: the sale number (小票号), for returns
    VOUCHER = "voucher"  # 医保电子凭证 token: opaque, short-lived; never parsed, never logged
    RX_QR = "rx_qr"  # 电子处方二维码 (epc_qrcd, decoded by the centre's 7201)
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ClassifiedCode:
    kind: CodeKind
    code: str  # normalised: NFKC, surrounding whitespace / scanner suffix removed, AIM prefix dropped
    violations: tuple[Violation, ...] = ()  # why an almost-code was refused (e.g. the expected check digit)
    gtin: str | None = None  # the GTIN to look the item up by: the code itself, or a GS1 string's AI (01)

    def __repr__(self) -> str:
        # A voucher token is a live credential: a log line or a traceback that prints this object
        # must not carry it (devices.md §5).
        code = redacted(self.code) if self.kind is CodeKind.VOUCHER else self.code
        return f"ClassifiedCode(kind={self.kind.value!r}, code={code!r}, violations={self.violations!r}, gtin={self.gtin!r})"

    @property
    def loggable(self) -> str:
        """The code as it may appear in a log or a status line (a voucher token never does)."""
        return redacted(self.code) if self.kind is CodeKind.VOUCHER else self.code


def redacted(secret: str) -> str:
    return f"<{len(secret)} chars withheld>"


GS = "\x1d"  # GS1 group separator between variable-length fields: kept, never stripped
# AIM symbology identifiers that announce GS1 data: DataMatrix, GS1-128, GS1 QR, GS1 DataBar.
GS1_AIM_PREFIXES = ("]d2", "]C1", "]Q3", "]e0")
_GS1_AI01 = re.compile(r"\(?01\)?(\d{14})")  # AI (01) + GTIN-14, bare or in its printed (01) form

# The store's own receipt barcode carries the sale number as the selling service assigns it:
# business date + "-" + the day's running number (server/services/sale/selling.py), e.g. 20261123-0042.
_RECEIPT_NO = re.compile(r"(\d{8})-(\d{4,6})")

# 医保电子凭证: the QR's text format is not public — the NHSA SDK normally drives its own scanner
# (devices.md §5). A general scanner that does yield voucher text yields an opaque credential; these
# prefixes are how it is recognised. "ECQR" is this project's demo stand-in: a region whose scanners
# deliver voucher text puts its marker here, so the serial and the keyboard-wedge paths agree.
VOUCHER_PREFIXES: tuple[str, ...] = ("ECQR",)
VOUCHER_MAX_LENGTH = 256

# 电子处方二维码: the 7201 request field epc_qrcd is C27 (nhsa-interface.md §7; medium confidence on the
# exact length): 27 letters and digits that are not a 医保编码.
RX_QR_LENGTH = 27
_RX_QR = re.compile(rf"[0-9A-Za-z]{{{RX_QR_LENGTH}}}")


def classify_code(text: str) -> ClassifiedCode:
    """What kind of code was scanned or typed? One function for the serial and the HID scanner paths.

    Normalises first: NFKC turns full-width digits and letters from a Chinese IME into ASCII, and
    the scanner's CR/LF suffix and surrounding spaces go. A GS byte inside the code is kept.
    """
    code = unicodedata.normalize("NFKC", text).strip(" \t\r\n")
    if not code:
        return ClassifiedCode(CodeKind.UNKNOWN, code)

    if code.startswith(VOUCHER_PREFIXES) and len(code) <= VOUCHER_MAX_LENGTH:
        return ClassifiedCode(CodeKind.VOUCHER, code)  # passed on whole: no further look at its content

    for prefix in GS1_AIM_PREFIXES:
        if code.startswith(prefix):
            body = code[len(prefix):]
            return ClassifiedCode(CodeKind.GS1, body, gtin=_gs1_gtin(body))

    if receipt_number(code) is not None:
        return ClassifiedCode(CodeKind.RECEIPT, code)

    digits = code.isascii() and code.isdigit()
    if digits and len(code) in GTIN_LENGTHS:
        problems = check_gtin(code)
        if problems:
            return ClassifiedCode(CodeKind.UNKNOWN, code, tuple(problems))
        return ClassifiedCode(CodeKind.GTIN, code, gtin=code)
    if digits and not check_trace_code(code):
        return ClassifiedCode(CodeKind.TRACE, code)

    if GS in code:
        return ClassifiedCode(CodeKind.GS1, code, gtin=_gs1_gtin(code))
    ai01 = _GS1_AI01.match(code)
    if ai01:
        problems = check_gtin(ai01.group(1))
        if problems:  # "01" + 14 digits with a wrong check digit: not to be trusted as GS1
            return ClassifiedCode(CodeKind.UNKNOWN, code, tuple(problems))
        return ClassifiedCode(CodeKind.GS1, code, gtin=ai01.group(1))

    # A 27-character QR that is not a 医保编码 as typed is a prescription's code (a 医保编码 has
    # uppercase letters; only the Caps-Lock rescue below would make it one).
    if _RX_QR.fullmatch(code) and check_nhsa_code(code):
        return ClassifiedCode(CodeKind.RX_QR, code)

    # Caps Lock on a keyboard-wedge scanner flips letter case; 医保编码 letters are uppercase.
    if not check_nhsa_code(code.upper()):
        return ClassifiedCode(CodeKind.NHSA, code.upper())

    if digits:
        # Within two digits of a trace code's length a mis-scan is most likely a trace code.
        near_trace = abs(len(code) - TRACE_LENGTH) <= 2
        return ClassifiedCode(CodeKind.UNKNOWN, code, tuple(check_trace_code(code) if near_trace
                                                            else check_gtin(code)))
    return ClassifiedCode(CodeKind.UNKNOWN, code)


def receipt_number(code: str) -> str | None:
    """The sale number if `code` is one of the store's receipt barcodes (a real date + day number)."""
    m = _RECEIPT_NO.fullmatch(code)
    if m is None:
        return None
    try:
        date.fromisoformat(f"{m.group(1)[:4]}-{m.group(1)[4:6]}-{m.group(1)[6:]}")
    except ValueError:
        return None
    return code


def _gs1_gtin(body: str) -> str | None:
    """The GTIN in AI (01) at the start of a GS1 element string, if its check digit is right."""
    m = _GS1_AI01.match(body.lstrip(GS))  # some scanners send FNC1 as a leading GS
    if m and not check_gtin(m.group(1)):
        return m.group(1)
    return None
