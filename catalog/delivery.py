"""A supplier's electronic delivery note (随货同行单) as a file, CSV or XLSX: read and validated whole, nothing written.

`parse_delivery(data)` gives every valid row and every error at once, each error naming the row as the user sees
it (the header is row 1) and the column as written in the file, in Chinese and English (catalog.importer.RowError,
the catalog import's own report). The service (server.services.stock.delivery_import) finds the items and zones and
makes a draft receipt that still needs its 验收 and approval.

The columns are mapped here, in one place (`COLUMNS`): each field and the headers suppliers' systems write for it.
Columns not listed (金额, 生产企业, 剂型 …) are read past. A CSV is UTF-8 (with or without the BOM Excel writes) or
GBK/GB18030 (Excel's "CSV" on a Chinese Windows); a file that is neither, or mixes the two, is refused naming each
row and column whose bytes do not decode.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from catalog.importer import (
    FILE_ROW,
    HEADER_ROW,
    CellError,
    RowError,
    Unreadable,
    blank_row,
    money_cell,
    read_xlsx,
    text_cell,
    whole_cell,
)


@dataclass(frozen=True, slots=True)
class Field_:
    key: str
    headers: tuple[str, ...]  # as suppliers write them; the first is the one named when the column is missing
    required: bool
    expected: str  # "中文 / English"


COLUMNS: tuple[Field_, ...] = (
    Field_("item_code", ("商品编码", "药品编码", "商品代码", "item_code"), False,
           "本店商品编码（或填条码）/ the store's item code (or a barcode)"),
    Field_("barcode", ("条码", "商品条码", "条形码", "barcode"), False, "商品条码（或填商品编码）/ a barcode (or the item code)"),
    Field_("name", ("品名", "商品名称", "药品名称", "通用名称", "name"), False, "品名 / the item's name"),
    Field_("lot_no", ("批号", "生产批号", "lot_no"), True, "1–30 个字符 / 1 to 30 characters"),
    Field_("manufactured_on", ("生产日期", "manufactured_on"), True,
           "日期，如 2026-01-05、2026/1/5 或 20260105 / a date, e.g. 2026-01-05, 2026/1/5 or 20260105"),
    Field_("expires_on", ("有效期至", "有效期", "失效日期", "expires_on"), True,
           "日期，如 2027-12-31 / a date, e.g. 2027-12-31"),
    Field_("qty", ("数量", "qty"), True, "大于 0 的整数（件/盒）/ a whole number of packs, more than 0"),
    Field_("unit_cost", ("单价", "含税单价", "进价", "unit_cost"), True,
           "金额（元），最多两位小数 / an amount in yuan, at most 2 decimals"),
    Field_("zone", ("货位", "区域", "zone"), False, "区域编码，空则为商品的陈列区域 / a zone code (blank: the item's zone)"),
    Field_("trace_codes", ("追溯码", "药品追溯码", "trace_codes"), False,
           "20 位追溯码，多个用 ; , 、 或空格分隔 / 20-digit trace codes separated by ; , 、 or spaces"),
    Field_("dynt_no", ("随货同行单号", "随货单号", "dynt_no"), False, "全单一致 / the same on every row"),
    Field_("purc_invo_no", ("发票号", "发票号码", "purc_invo_no"), False, "全单一致 / the same on every row"),
)
_BY_HEADER = {h: c for c in COLUMNS for h in c.headers}
_SEPARATORS = re.compile(r"[;,、；，\s]+")
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{4})(\d{2})(\d{2})")


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    row: int
    item_code: str
    barcode: str
    name: str
    lot_no: str
    manufactured_on: date
    expires_on: date
    qty: int
    unit_cost_fen: int
    zone: str
    trace_codes: tuple[str, ...]


@dataclass
class DeliveryReport:
    rows: list[DeliveryRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    encoding: str = ""  # utf-8, utf-8-sig, gb18030, xlsx
    dynt_no: str = ""  # 随货同行单号 as the file gives it ("" if it has no such column)
    purc_invo_no: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


# --- reading: the encoding ----------------------------------------------------------------------------------------

def _bad_cells(lines: list[bytes], encoding: str, header: list[str]) -> list[RowError]:
    """Each line that does not decode in `encoding`, with the column its first bad byte falls in."""
    out = []
    for n, raw in enumerate(lines, start=1):
        try:
            raw.decode(encoding)
        except UnicodeDecodeError as exc:
            cells = next(csv.reader([raw[:exc.start].decode(encoding, errors="replace")]), [""])
            col = len(cells) - 1
            name = header[col] if n > 1 and col < len(header) else f"第 {col + 1} 列"
            out.append(RowError(n, name, f"第 {n} 行「{name}」列的字节不是 {_ZH[encoding]} 编码：文件编码有误或混用了编码",
                                f"row {n}, column '{name}': bytes that are not {encoding}: a wrong or mixed encoding",
                                "整个文件保存为 UTF-8 或 GBK / save the whole file as UTF-8 or GBK",
                                raw[exc.start:exc.end].hex()))
    return out


_ZH = {"utf-8": "UTF-8", "gb18030": "GBK/GB18030"}


def _decode(data: bytes) -> tuple[str, str, list[RowError]]:
    """(text, encoding, errors): UTF-8 (BOM or not) if it decodes, else GBK (GB18030, its superset). A file whose
    lines are partly UTF-8 Chinese and partly not is mixed: the lines that are not are named."""
    if data.startswith(b"\xef\xbb\xbf"):
        body, encoding = data[3:], "utf-8"
    else:
        body, encoding = data, ""
    try:
        return body.decode("utf-8"), (encoding and "utf-8-sig") or "utf-8", []
    except UnicodeDecodeError:
        pass
    lines = body.splitlines()

    def utf8_chinese(line: bytes) -> bool:
        try:
            return not line.isascii() and bool(line.decode("utf-8"))
        except UnicodeDecodeError:
            return False

    target = "utf-8" if encoding or any(utf8_chinese(ln) for ln in lines) else "gb18030"
    header = [h.strip() for h in next(csv.reader([lines[0].decode(target, errors="replace")]), [])] if lines else []
    if errors := _bad_cells(lines, target, header):
        return "", target, errors
    return body.decode(target), target, []


# --- validating ---------------------------------------------------------------------------------------------------

def _date(raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = unicodedata.normalize("NFKC", text_cell(raw))
    m = _DATE.fullmatch(text)
    if m is None:
        raise CellError(f"「{text}」不是日期", f"'{text}' is not a date")
    y, mo, d = (int(x) for x in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
    try:
        return date(y, mo, d)
    except ValueError as exc:
        raise CellError(f"「{text}」不是有效日期", f"'{text}' is not a valid date") from exc


def _header(cells: list[Any], errors: list[RowError]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for pos, cell in enumerate(cells):
        written = text_cell(cell)
        col = _BY_HEADER.get(written) or _BY_HEADER.get(written.lower())
        if col is None:
            continue  # a column the receipt does not need (金额, 生产企业 …)
        if col.key in found:
            errors.append(RowError(HEADER_ROW, written, f"「{written}」与「{found[col.key][1]}」是同一列，重复",
                                   f"'{written}' repeats the column '{found[col.key][1]}'"))
        else:
            found[col.key] = (pos, written)
    for col in COLUMNS:
        if col.required and col.key not in found:
            errors.append(RowError(HEADER_ROW, col.headers[0], f"缺少必填列「{col.headers[0]}」",
                                   f"the required column '{col.headers[0]}' is missing", col.expected))
    if "item_code" not in found and "barcode" not in found:
        errors.append(RowError(HEADER_ROW, "商品编码", "须有「商品编码」或「条码」列", "a column 商品编码 or 条码 is needed",
                               COLUMNS[0].expected))
    return found


def _row(n: int, values: list[Any], header: dict[str, tuple[int, str]], errors: list[RowError]) -> DeliveryRow | None:
    got: dict[str, Any] = {}
    bad = False

    def cell(key: str) -> Any:
        pos = header.get(key, (None, ""))[0]
        return values[pos] if pos is not None and pos < len(values) else None

    parsers: dict[str, Any] = {
        "item_code": text_cell, "barcode": text_cell, "name": text_cell, "zone": text_cell,
        "lot_no": text_cell, "manufactured_on": _date, "expires_on": _date, "qty": whole_cell, "unit_cost": money_cell,
        "trace_codes": lambda raw: tuple(c for c in _SEPARATORS.split(text_cell(raw)) if c),
    }
    for col in COLUMNS:
        if col.key in ("dynt_no", "purc_invo_no"):
            continue
        raw = cell(col.key)
        written = header.get(col.key, (0, col.headers[0]))[1]
        if text_cell(raw) == "" and not isinstance(raw, date):
            if col.required:
                errors.append(RowError(n, written, f"第 {n} 行「{written}」不能为空", f"row {n}: '{written}' is empty",
                                       col.expected))
                bad = True
            got[col.key] = () if col.key == "trace_codes" else ""
            continue
        try:
            got[col.key] = parsers[col.key](raw)
        except CellError as exc:
            errors.append(RowError(n, written, f"第 {n} 行「{written}」{exc.zh}", f"row {n}, '{written}': {exc.en}",
                                   col.expected, text_cell(raw)))
            bad = True
    if not bad and not (got["item_code"] or got["barcode"]):
        errors.append(RowError(n, "商品编码", f"第 {n} 行没有商品编码也没有条码", f"row {n}: no item code and no barcode",
                               COLUMNS[0].expected))
        bad = True
    if not bad and (got["qty"] <= 0 or len(got["lot_no"]) > 30):
        what = ("qty", "数量须大于 0", "the quantity must be more than 0") if got["qty"] <= 0 else \
            ("lot_no", "批号超过 30 个字符", "the lot number is longer than 30 characters")
        col = next(c for c in COLUMNS if c.key == what[0])
        errors.append(RowError(n, header[what[0]][1], f"第 {n} 行{what[1]}", f"row {n}: {what[2]}", col.expected))
        bad = True
    if bad:
        return None
    return DeliveryRow(n, got["item_code"], got["barcode"], got["name"], got["lot_no"], got["manufactured_on"],
                       got["expires_on"], int(got["qty"]), int(got["unit_cost"]), got["zone"], got["trace_codes"])


def _voucher(key: str, table: list[list[Any]], header: dict[str, tuple[int, str]], errors: list[RowError]) -> str:
    """随货同行单号 / 发票号 as the file gives them: one value for the whole file (a row that differs is named)."""
    if key not in header:
        return ""
    pos, written = header[key]
    first = ""
    for n, values in enumerate(table[1:], start=HEADER_ROW + 1):
        if blank_row(values):
            continue
        value = text_cell(values[pos]) if pos < len(values) else ""
        if value and not first:
            first = value
        elif value and value != first:
            errors.append(RowError(n, written, f"第 {n} 行「{written}」为 {value}，与前面的 {first} 不一致：一张单据一个号",
                                   f"row {n}: '{written}' is {value}, not {first} as above: one note, one number",
                                   "全单一致 / the same on every row", value))
    return first


def parse_delivery(data: bytes) -> DeliveryReport:
    """Read and validate a delivery file (XLSX or CSV, told apart by content)."""
    report = DeliveryReport()
    try:
        if data.startswith(b"PK\x03\x04"):
            table, report.encoding = read_xlsx(data), "xlsx"
        else:
            text, report.encoding, report.errors = _decode(data)
            if report.errors:
                return report
            table = list(csv.reader(io.StringIO(text, newline="")))
    except (Unreadable, csv.Error) as exc:
        zh, en = (exc.zh, exc.en) if isinstance(exc, Unreadable) else ("无法读取该 CSV 文件", f"cannot read the CSV: {exc}")
        report.errors.append(RowError(FILE_ROW, None, zh, en))
        return report
    if not table or all(blank_row(r) for r in table):
        report.errors.append(RowError(FILE_ROW, None, "文件为空", "the file is empty"))
        return report
    header = _header(table[0], report.errors)
    if report.errors:
        return report
    for n, values in enumerate(table[1:], start=HEADER_ROW + 1):
        if not blank_row(values) and (row := _row(n, list(values), header, report.errors)) is not None:
            report.rows.append(row)
    report.dynt_no = _voucher("dynt_no", table, header, report.errors)
    report.purc_invo_no = _voucher("purc_invo_no", table, header, report.errors)
    if not report.rows and not report.errors:
        report.errors.append(RowError(FILE_ROW, None, "文件只有表头，没有数据行", "the file has a header but no rows"))
    return report
