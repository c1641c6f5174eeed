"""Catalog import (商品资料导入) from CSV or XLSX: read and validate a whole file, write nothing.

`parse_file(path)` returns every valid row and every error at once, so the user fixes the file in
one pass. Errors name the row as the user sees it (the header is row 1), the column header as
written in the file, what is wrong and what is expected, in Chinese and English. The service
(server/services/catalog/importing.py) decides what to apply and checks what needs the database
(zones exist, barcodes not on another item).

Headers may be the Chinese or the English column name (COLUMNS), in any order. A header problem
(unknown, duplicated or missing required columns) stops the check there: every row would otherwise
repeat the same error.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from catalog.classes import GspClass, InsuranceCategory, Route, Storage, parse_enum
from catalog.codes import check_gtin, check_nhsa_code

E = TypeVar("E", bound=StrEnum)

FILE_ROW = 0  # RowError.row for a problem of the file as a whole (empty, unreadable)
HEADER_ROW = 1
MAX_FEN = 2**31 - 1  # prices are int columns; PostgreSQL's integer stops here


@dataclass(frozen=True, slots=True)
class Column:
    """One importable column: its English and Chinese header, and what a cell must hold."""

    key: str  # the English header
    zh: str  # the Chinese header
    required: bool
    expected_zh: str
    expected_en: str

    @property
    def expected(self) -> str:
        return f"{self.expected_zh} / {self.expected_en}"


_CLASS_LIST_ZH = "、".join(c.label for c in GspClass)
_CLASS_LIST_EN = ", ".join(c.value for c in GspClass)

COLUMNS: tuple[Column, ...] = (
    Column("code", "商品编码", True, "1–30 个字符，不含空格，文件内不重复",
           "1 to 30 characters, no spaces, unique in the file"),
    Column("name", "商品名称", True, "1–100 个字符", "1 to 100 characters"),
    Column("generic_name", "通用名", False, "最多 100 个字符", "at most 100 characters"),
    Column("spec", "规格", False, "最多 100 个字符", "at most 100 characters"),
    Column("dosage_form", "剂型", False, "最多 30 个字符", "at most 30 characters"),
    Column("manufacturer", "生产企业", False, "最多 100 个字符", "at most 100 characters"),
    Column("approval_no", "批准文号", False, "最多 50 个字符；处方药、甲类和乙类非处方药必填",
           "at most 50 characters; required for rx, otc_a and otc_b"),
    Column("gsp_class", "经营类别", True, _CLASS_LIST_ZH, _CLASS_LIST_EN),
    Column("route", "给药途径", False,
           "内服、外用、注射或其他，默认其他；药品（中药饮片除外）须为内服、外用或注射",
           "internal, external, injection or other (default); drugs other than herbal pieces need "
           "internal, external or injection"),
    Column("odour_prone", "易串味", False, "是/否（Y/N、1/0、true/false），默认否",
           "yes/no (Y/N, 1/0, true/false), default no"),
    Column("storage", "贮藏条件", False, "常温、阴凉或冷藏，默认常温",
           "normal, cool or cold (default normal)"),
    Column("nhsa_code", "医保编码", False,
           "国家统一医保编码：X/Z/T/C/H 开头的 20–27 位大写字母和数字，如 XA02BCA211A012010100154；"
           "甲类、乙类必填；仅药品",
           "national insurance code: X/Z/T/C/H then uppercase letters and digits, 20 to 27 long, "
           "e.g. XA02BCA211A012010100154; required for jia/yi; drugs only"),
    Column("insurance_category", "医保类别", False, "甲、乙、丙或目录外，默认目录外；非药品不能为甲、乙",
           "jia, yi, bing or none (default); non-drug goods cannot be jia or yi"),
    Column("price", "零售价", True, "金额（元），不小于 0，最多两位小数，如 12.50",
           "amount in yuan, not negative, at most 2 decimals, e.g. 12.50"),
    Column("unit", "单位", False, "最多 10 个字符，默认 盒", "at most 10 characters, default 盒"),
    Column("split_unit", "拆零单位", False, "最多 10 个字符，如 片", "at most 10 characters, e.g. 片"),
    Column("split_ratio", "拆零系数", False, "不小于 2 的整数（每单位含几个拆零单位）；填写拆零单位时必填",
           "a whole number of at least 2 (split units per unit); required with a split unit"),
    Column("split_price", "拆零价", False, "金额（元），最多两位小数；填写拆零单位时必填",
           "amount in yuan, at most 2 decimals; required with a split unit"),
    Column("pharm_class", "药理分类", False, "最多 30 个字符，如 青霉素类；一张处方同类药品有限量（RX-06）",
           "at most 30 characters, e.g. 青霉素类; a prescription's drugs of one class are limited (RX-06)"),
    Column("traced", "追溯码管理", False, "是/否（Y/N、1/0、true/false），默认否",
           "yes/no (Y/N, 1/0, true/false), default no"),
    Column("barcodes", "条码", False, "GTIN-8/12/13/14 条码，多个用 ; , 、 或空格分隔，文件内不重复",
           "GTIN-8/12/13/14 barcodes separated by ; , 、 or spaces, unique in the file"),
    Column("zone", "陈列区域", False, "区域编码，最多 20 个字符", "zone code, at most 20 characters"),
)
COLUMN_BY_KEY: dict[str, Column] = {c.key: c for c in COLUMNS}

DRUGS_NEEDING_APPROVAL = frozenset({GspClass.RX, GspClass.OTC_A, GspClass.OTC_B})
# 中药饮片 are sold by weight from drawers and have no single route on the label (catalog/items.py
# agrees); every other drug must say where it goes, for GSP-01's internal/external separation.
DRUGS_NEEDING_ROUTE = frozenset({GspClass.RX, GspClass.OTC_A, GspClass.OTC_B})

# Words a pharmacy writes that are not the enum's own label.
INSURANCE_ALIASES = {"目录外": InsuranceCategory.NONE, "甲类": InsuranceCategory.JIA,
                     "乙类": InsuranceCategory.YI, "丙类": InsuranceCategory.BING}
ROUTE_ALIASES = {"口服": Route.INTERNAL}
TRUE_WORDS = frozenset({"是", "y", "yes", "1", "true"})
FALSE_WORDS = frozenset({"否", "n", "no", "0", "false"})
BARCODE_SEPARATORS = re.compile(r"[;,、；，\s]+")
MONEY = re.compile(r"\d+(\.\d+)?", re.ASCII)
WHOLE = re.compile(r"\d+", re.ASCII)
SCIENTIFIC = re.compile(r"\d+(\.\d+)?[eE]\+?\d+")  # how Excel shows a long number in a General cell


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as the user sees it: header = 1, first data row = 2; 0 = the file as a whole
    column: str | None  # the header as written in the file (its Chinese name if the column is absent)
    message_zh: str
    message_en: str
    expected: str = ""  # what the cell must hold, "中文 / English"
    value: str | None = None  # the offending cell as read
    rule: str | None = None  # a rule or code ID where one applies (CARD-02, CODE-GTIN …)


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One valid data row: the Item columns it sets, its barcodes and its zone code."""

    row: int
    code: str
    name: str
    gsp_class: GspClass
    price_fen: int
    generic_name: str = ""
    spec: str = ""
    dosage_form: str = ""
    manufacturer: str = ""
    approval_no: str = ""
    route: Route = Route.OTHER
    odour_prone: bool = False
    storage: Storage = Storage.NORMAL
    nhsa_code: str | None = None
    insurance_category: InsuranceCategory = InsuranceCategory.NONE
    unit: str = "盒"
    split_unit: str | None = None
    split_ratio: int = 1
    split_price_fen: int | None = None
    pharm_class: str = ""
    traced: bool = False
    mnemonic: str = ""
    barcodes: tuple[str, ...] = ()
    zone_code: str | None = None
    # The Item fields whose column the file has. A column left out gets its default in fields();
    # when updating an existing item the service may prefer to leave such fields alone.
    given: frozenset[str] = frozenset()

    def fields(self) -> dict[str, Any]:
        """The Item column values this row sets, as the database holds them (enums as plain str)."""
        out: dict[str, Any] = {}
        for name in ITEM_FIELDS:
            value = getattr(self, name)
            out[name] = value.value if isinstance(value, StrEnum) else value
        return out


# Import column -> the Item field it sets, where the names differ (barcodes and zone set none).
COLUMN_FIELDS = {"price": "price_fen", "split_price": "split_price_fen"}

ITEM_FIELDS: tuple[str, ...] = (
    "code", "name", "generic_name", "spec", "dosage_form", "manufacturer", "approval_no", "gsp_class",
    "route", "odour_prone", "storage", "nhsa_code", "insurance_category", "price_fen", "unit",
    "split_unit", "split_ratio", "split_price_fen", "pharm_class", "traced", "mnemonic",
)


@dataclass
class ImportReport:
    rows: list[ItemRow] = field(default_factory=list)  # the valid rows, in file order
    errors: list[RowError] = field(default_factory=list)  # in file order

    @property
    def ok(self) -> bool:
        return not self.errors


# --- reading ----------------------------------------------------------------------------------------


class _Unreadable(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def parse_file(path: str | Path) -> ImportReport:
    """Read and validate a catalog file (CSV or XLSX, told apart by content, not by name)."""
    return parse_bytes(Path(path).read_bytes())


def parse_bytes(data: bytes) -> ImportReport:
    """As parse_file, for an upload already in memory."""
    try:
        table = _read_table(data)
    except _Unreadable as exc:
        return ImportReport(errors=[RowError(FILE_ROW, None, exc.zh, exc.en)])
    return _validate(table)


def _read_table(data: bytes) -> list[list[Any]]:
    if data.startswith(b"PK\x03\x04"):  # a zip container: XLSX
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: the old binary .xls
        raise _Unreadable("不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后导入",
                          "old Excel (.xls) files are not supported; save as .xlsx or CSV and import that")
    return _read_csv(data)


def _read_csv(data: bytes) -> list[list[Any]]:
    # Excel saves "CSV UTF-8" with a BOM and plain "CSV" in the system code page, GBK on a Chinese
    # Windows; GB18030 is a superset of GBK.
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise _Unreadable("无法识别文件编码，请保存为 UTF-8 或 GB18030 编码的 CSV",
                              "cannot decode the file; save it as CSV in UTF-8 or GB18030") from exc
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # e.g. a NUL byte: not a text file at all
        raise _Unreadable("无法读取该 CSV 文件", f"cannot read the CSV file: {exc}") from exc


def _read_xlsx(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook  # imported here: CSV imports do not pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # data_only: a formula cell gives the value Excel last computed, not the formula text.
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            if not wb.worksheets:
                return []
            ws = wb.worksheets[0]
            # Some writers store a wrong sheet size (e.g. "A1"); read-only mode would trust it and cut rows.
            ws.reset_dimensions()
            return [list(r) for r in ws.iter_rows(values_only=True)]
        finally:
            wb.close()
    # SyntaxError: what the XML parsers raise on a damaged sheet.
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, SyntaxError) as exc:
        raise _Unreadable("无法读取该 XLSX 文件，文件可能已损坏",
                          "cannot read the XLSX file; it may be damaged") from exc


# --- validating -------------------------------------------------------------------------------------


def _validate(table: list[list[Any]]) -> ImportReport:
    report = ImportReport()
    if all(_is_blank_row(r) for r in table):
        report.errors.append(RowError(FILE_ROW, None, "文件为空：没有表头，也没有数据",
                                      "the file is empty: no header and no data"))
        return report
    header = _read_header(table[0], table[1:], report.errors)
    if header is None:
        return report

    codes: dict[str, int] = {}  # item code -> first row
    barcodes: dict[str, int] = {}  # barcode -> row of the item it was first given to
    data_rows = 0
    for index, values in enumerate(table[1:], start=HEADER_ROW + 1):
        if _is_blank_row(values):
            continue  # trailing or spacer rows Excel leaves behind
        data_rows += 1
        parser = _RowParser(index, header, values)
        item = parser.parse()
        parser.check_unique(codes, barcodes)
        report.errors.extend(parser.errors)
        if item is not None and not parser.errors:
            report.rows.append(item)
    if data_rows == 0:
        report.errors.append(RowError(FILE_ROW, None, "文件只有表头，没有数据行",
                                      "the file has a header but no data rows"))
    return report


Header = dict[str, tuple[int, str]]  # column key -> (position, header as written)


def _read_header(cells: list[Any], data: list[list[Any]], errors: list[RowError]) -> Header | None:
    """Map each known column to its position. None (with errors) if the header is unusable."""
    aliases = {c.key: c for c in COLUMNS} | {c.zh: c for c in COLUMNS}
    found: Header = {}
    before = len(errors)
    width = max([len(cells), *(len(r) for r in data)])
    for pos in range(width):
        written = _text(cells[pos]) if pos < len(cells) else ""
        if not written:
            if any(pos < len(r) and not _blank(r[pos]) for r in data):
                errors.append(RowError(HEADER_ROW, None, f"第 1 行：第 {pos + 1} 列有数据但没有列名",
                                       f"row 1: column {pos + 1} holds data but has no header",
                                       expected="、".join(c.zh for c in COLUMNS)))
            continue
        # Tolerate a template's "*" marking required columns, full-width letters and English case.
        key = unicodedata.normalize("NFKC", written).rstrip("*").strip()
        column = aliases.get(key) or aliases.get(key.lower())
        if column is None:
            errors.append(RowError(
                HEADER_ROW, written, f"第 1 行：未知的列「{written}」",
                f"row 1: unknown column '{written}'", value=written,
                expected="列名应为：" + "、".join(c.zh for c in COLUMNS) + " / columns must be one of: "
                         + ", ".join(c.key for c in COLUMNS)))
        elif column.key in found:
            first = found[column.key][1]
            errors.append(RowError(
                HEADER_ROW, written, f"第 1 行：列「{written}」与列「{first}」重复（都是{column.zh}）",
                f"row 1: column '{written}' repeats column '{first}' (both are {column.key})", value=written,
                expected="每列只出现一次 / each column once"))
        else:
            found[column.key] = (pos, written)
    missing = [c for c in COLUMNS if c.required and c.key not in found]
    if missing:
        errors.append(RowError(
            HEADER_ROW, None, "第 1 行：缺少必填列 " + "、".join(c.zh for c in missing),
            "row 1: missing required columns " + ", ".join(f"{c.key} ({c.zh})" for c in missing),
            expected="、".join(c.zh for c in COLUMNS if c.required) + " / "
                     + ", ".join(c.key for c in COLUMNS if c.required)))
    return None if len(errors) > before else found


class _Bad(Exception):
    """A cell that does not parse: what is wrong, in both languages."""

    def __init__(self, zh: str, en: str, rule: str | None = None) -> None:
        super().__init__(en)
        self.zh, self.en, self.rule = zh, en, rule


class _RowParser:
    """Parses one data row and collects every error in it, not just the first."""

    def __init__(self, row: int, header: Header, values: list[Any]) -> None:
        self.row = row
        self.header = header
        self.values = values
        self.errors: list[RowError] = []
        self.parsed: dict[str, Any] = {}  # column key -> value, for the cells that parsed

    def raw(self, key: str) -> Any:
        pos = self.header[key][0] if key in self.header else len(self.values)
        return self.values[pos] if pos < len(self.values) else None

    def column_name(self, key: str) -> str:
        return self.header[key][1] if key in self.header else COLUMN_BY_KEY[key].zh

    def error(self, key: str, zh: str, en: str, value: str | None = None, rule: str | None = None) -> None:
        col = COLUMN_BY_KEY[key]
        name = self.column_name(key)
        self.errors.append(RowError(
            self.row, name, f"第 {self.row} 行「{name}」：{zh}；应为：{col.expected_zh}",
            f"row {self.row}, column '{name}': {en}; expected: {col.expected_en}",
            expected=col.expected, value=value, rule=rule))

    def parse(self) -> ItemRow | None:
        for column in COLUMNS:
            raw = self.raw(column.key)
            if column.required and _blank(raw):
                self.error(column.key, "不能为空", "a value is required")
                continue
            try:
                self.parsed[column.key] = PARSERS[column.key](raw)
            except _Bad as bad:
                self.error(column.key, bad.zh, bad.en, value=_text(raw), rule=bad.rule)
        # Rules across cells run on whatever parsed, so one bad cell does not hide another problem.
        self._class_checks()
        self._split_checks()
        if self.errors:
            return None
        v = self.parsed
        return ItemRow(
            row=self.row, code=v["code"], name=v["name"], gsp_class=v["gsp_class"], price_fen=v["price"],
            generic_name=v["generic_name"], spec=v["spec"], dosage_form=v["dosage_form"],
            manufacturer=v["manufacturer"], approval_no=v["approval_no"], route=v["route"],
            odour_prone=v["odour_prone"], storage=v["storage"], nhsa_code=v["nhsa_code"] or None,
            insurance_category=v["insurance_category"], unit=v["unit"], split_unit=v["split_unit"] or None,
            split_ratio=v["split_ratio"] or 1, split_price_fen=v["split_price"],
            pharm_class=v["pharm_class"], traced=v["traced"],
            mnemonic=_mnemonic(v["name"])[:100], barcodes=v["barcodes"], zone_code=v["zone"] or None,
            given=self._given())

    def _given(self) -> frozenset[str]:
        names = {COLUMN_FIELDS.get(key, key) for key in self.header}
        if "name" in names:
            names.add("mnemonic")  # follows the name
        return frozenset(names & set(ITEM_FIELDS))

    def _class_checks(self) -> None:
        """What the GSP class demands of the other cells (approval number, route, 医保 mapping)."""
        v = self.parsed
        gsp_class: GspClass | None = v.get("gsp_class")
        if gsp_class is None:
            return
        # A column the file leaves out is not "blank": an existing item keeps its value (a prices-only
        # file), and the service refuses to create a drug without one (catalog/items.py check_item).
        if gsp_class in DRUGS_NEEDING_APPROVAL and "approval_no" in self.header and v.get("approval_no") == "":
            self.error("approval_no", f"{gsp_class.label}须填写批准文号",
                       f"{gsp_class.value} needs its approval number")
        if gsp_class in DRUGS_NEEDING_ROUTE and "route" in self.header and v.get("route") is Route.OTHER:
            self.error("route", f"{gsp_class.label}须注明内服、外用或注射（内服外用分开陈列，GSP-01）",
                       f"{gsp_class.value} needs internal, external or injection (kept apart by GSP-01)",
                       value=_text(self.raw("route")), rule="GSP-01")
        insurance: InsuranceCategory | None = v.get("insurance_category")
        covered = insurance in (InsuranceCategory.JIA, InsuranceCategory.YI)
        nhsa_code = v.get("nhsa_code")  # None: the cell did not parse (already reported)
        if not gsp_class.is_drug:
            if covered:
                assert insurance is not None
                self.error("insurance_category",
                           f"{gsp_class.label}不是药品，医保卡不支付，不能为{insurance.label}类（CARD-02）",
                           f"{gsp_class.value} goods are never paid by the insurance card; "
                           f"they cannot be {insurance.value} (CARD-02)",
                           value=_text(self.raw("insurance_category")), rule="CARD-02")
            if nhsa_code:
                self.error("nhsa_code", f"{gsp_class.label}不是药品，不能对照医保药品编码（CARD-02）",
                           f"{gsp_class.value} goods cannot carry a national insurance drug code (CARD-02)",
                           value=nhsa_code, rule="CARD-02")
        elif covered and nhsa_code == "":
            assert insurance is not None
            self.error("nhsa_code", f"医保类别为{insurance.label}类的药品须填写国家统一医保编码（CARD-07）",
                       f"a {insurance.value} item needs its national insurance code (CARD-07)",
                       rule="CARD-07")

    def _split_checks(self) -> None:
        """拆零: a split unit needs a ratio of at least 2 and a split price; without one, neither."""
        v = self.parsed
        if "split_unit" not in v:
            return
        unit, ratio, price = v["split_unit"], v.get("split_ratio", "failed"), v.get("split_price", "failed")
        if unit:
            if ratio is None:
                self.error("split_ratio", f"填写了拆零单位「{unit}」，拆零系数不能为空",
                           f"a split unit ({unit}) needs a split ratio")
            elif isinstance(ratio, int) and ratio < 2:
                self.error("split_ratio", f"拆零系数 {ratio} 小于 2", f"split ratio {ratio} is below 2",
                           value=str(ratio))
            if price is None:
                self.error("split_price", f"填写了拆零单位「{unit}」，拆零价不能为空",
                           f"a split unit ({unit}) needs a split price")
            return
        if isinstance(ratio, int) and ratio != 1:
            self.error("split_ratio", "没有拆零单位，不能填写拆零系数", "a split ratio needs a split unit",
                       value=str(ratio))
        if isinstance(price, int):
            self.error("split_price", "没有拆零单位，不能填写拆零价", "a split price needs a split unit",
                       value=_text(self.raw("split_price")))

    def check_unique(self, codes: dict[str, int], barcodes: dict[str, int]) -> None:
        """Item codes and barcodes are unique across the file; the later row names the earlier one."""
        code = self.parsed.get("code")
        if code:
            first = codes.setdefault(code, self.row)
            if first != self.row:
                self.error("code", f"商品编码 {code} 与第 {first} 行重复",
                           f"item code {code} repeats row {first}", value=code)
        for barcode in self.parsed.get("barcodes", ()):
            owner = barcodes.setdefault(barcode, self.row)
            if owner != self.row:
                self.error("barcodes",
                           f"条码 {barcode} 在第 {owner} 行和第 {self.row} 行重复出现，"
                           "一个条码只能属于一个商品",
                           f"barcode {barcode} appears in rows {owner} and {self.row}; "
                           "a barcode belongs to one item only", value=barcode)


# --- cell parsers: raw cell (str from CSV; str/int/float/bool/datetime/None from XLSX) -> value ------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_blank_row(values: list[Any]) -> bool:
    return all(_blank(v) for v in values)


def _text(value: Any) -> str:
    """A cell as text, the way the user sees it: 10001.0 from a numeric XLSX cell reads 10001."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _code(raw: Any) -> str:
    text = _text(raw)
    if len(text) > 30:
        raise _Bad(f"长度 {len(text)} 超过 30 个字符", f"{len(text)} characters, more than 30")
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in text):
        raise _Bad("含有空格或控制字符", "contains spaces or control characters")
    return text


def _text_max(limit: int, default: str = "") -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = _text(raw)
        if len(text) > limit:
            raise _Bad(f"长度 {len(text)} 超过 {limit} 个字符", f"{len(text)} characters, more than {limit}")
        return text or default
    return parse


def _enum(enum: type[E], default: E | None = None, aliases: dict[str, E] | None = None) -> Callable[[Any], E]:
    def parse(raw: Any) -> E:
        text = _text(raw)
        if not text and default is not None:
            return default
        member = parse_enum(enum, text) or parse_enum(enum, text.lower()) or (aliases or {}).get(text)
        if member is None:
            raise _Bad(f"无法识别「{text}」", f"'{text}' is not recognised")
        return member
    return parse


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    text = _text(raw).lower()
    if not text or text in FALSE_WORDS:
        return False
    if text in TRUE_WORDS:
        return True
    raise _Bad(f"无法识别「{_text(raw)}」", f"'{_text(raw)}' is not yes or no")


def _money(raw: Any) -> int | None:
    """Yuan -> fen, exactly: Decimal throughout, never float arithmetic."""
    if _blank(raw):
        return None
    if isinstance(raw, bool):
        raise _Bad("不是金额", "not an amount")
    if isinstance(raw, int):
        amount = Decimal(raw)
    elif isinstance(raw, float):
        # str() gives the shortest text that round-trips, i.e. what Excel shows: 12.5 -> "12.5".
        try:
            amount = Decimal(str(raw))
        except InvalidOperation as exc:
            raise _Bad("不是金额", "not an amount") from exc
        if not amount.is_finite():
            raise _Bad("不是金额", "not an amount")
    else:
        text = unicodedata.normalize("NFKC", _text(raw))  # full-width １２.５０ is still 12.50
        if text.startswith("-"):
            raise _Bad("金额不能为负数", "the amount is negative")
        if not MONEY.fullmatch(text):
            raise _Bad(f"「{text}」不是金额", f"'{text}' is not an amount")
        amount = Decimal(text)
    if amount < 0:
        raise _Bad("金额不能为负数", "the amount is negative")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise _Bad(f"金额 {amount} 超过两位小数（分以下）", f"amount {amount} has more than 2 decimals")
    if fen > MAX_FEN:
        raise _Bad(f"金额 {amount} 过大", f"amount {amount} is too large")
    return int(fen)


def _whole(raw: Any) -> int | None:
    if _blank(raw):
        return None
    if isinstance(raw, bool):
        raise _Bad("不是整数", "not a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = unicodedata.normalize("NFKC", _text(raw))
    if not WHOLE.fullmatch(text):
        raise _Bad(f"「{text}」不是整数", f"'{text}' is not a whole number")
    return int(text)


def _nhsa(raw: Any) -> str:
    text = _text(raw)
    if not text:
        return ""
    problems = check_nhsa_code(text)
    if problems:
        raise _Bad("；".join(p.message_zh for p in problems), "; ".join(p.message_en for p in problems),
                   rule=problems[0].rule)
    return text


def _barcodes(raw: Any) -> tuple[str, ...]:
    text = _text(raw)
    if SCIENTIFIC.fullmatch(text):
        raise _Bad(f"条码显示为科学计数法 {text}，数字已丢失；请将该列设为文本格式后重新输入",
                   f"the barcode reads {text} (scientific notation; digits are lost); "
                   "format the column as text and enter the codes again", rule="CODE-GTIN")
    codes = [c for c in BARCODE_SEPARATORS.split(text) if c]
    problems = [v for c in codes for v in check_gtin(c)]
    if problems:
        raise _Bad("；".join(p.message_zh for p in problems), "; ".join(p.message_en for p in problems),
                   rule=problems[0].rule)
    return tuple(dict.fromkeys(codes))  # the same code twice on one row is one barcode


PARSERS: dict[str, Callable[[Any], Any]] = {
    "code": _code,
    "name": _text_max(100),
    "generic_name": _text_max(100),
    "spec": _text_max(100),
    "dosage_form": _text_max(30),
    "manufacturer": _text_max(100),
    "approval_no": _text_max(50),
    "gsp_class": _enum(GspClass),
    "route": _enum(Route, Route.OTHER, ROUTE_ALIASES),
    "odour_prone": _bool,
    "storage": _enum(Storage, Storage.NORMAL),
    "nhsa_code": _nhsa,
    "insurance_category": _enum(InsuranceCategory, InsuranceCategory.NONE, INSURANCE_ALIASES),
    "price": _money,
    "unit": _text_max(10, "盒"),
    "split_unit": _text_max(10),
    "split_ratio": _whole,
    "split_price": _money,
    "pharm_class": _text_max(30),
    "traced": _bool,
    "barcodes": _barcodes,
    "zone": _text_max(20),
}
assert set(PARSERS) == set(COLUMN_BY_KEY)


# --- template ---------------------------------------------------------------------------------------


def write_template_xlsx(path: str | Path) -> None:
    """An empty import sheet (Chinese headers) plus a 说明 sheet describing each column."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "商品资料"
    ws.append([c.zh for c in COLUMNS])
    # Text format for code-like columns, so Excel neither drops leading zeros nor writes 6.9E+12.
    for pos, column in enumerate(COLUMNS, start=1):
        if column.key in ("code", "approval_no", "nhsa_code", "barcodes", "zone"):
            ws.column_dimensions[get_column_letter(pos)].number_format = "@"
    notes = wb.create_sheet("说明")
    notes.append(["列名", "English", "必填", "说明", "Expected"])
    for column in COLUMNS:
        notes.append([column.zh, column.key, "是" if column.required else "", column.expected_zh,
                      column.expected_en])
    wb.save(path)


def _mnemonic(name: str) -> str:
    # Imported on first use: pypinyin's dictionaries cost the service half a second at start-up.
    from catalog.mnemonic import mnemonic

    return mnemonic(name)


# --- shared with the delivery import (catalog.delivery): one reading of XLSX files and of money and whole cells ---

CellError = _Bad
Unreadable = _Unreadable
read_xlsx = _read_xlsx
money_cell = _money
whole_cell = _whole
text_cell = _text
blank_row = _is_blank_row
