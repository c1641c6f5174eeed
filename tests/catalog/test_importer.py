"""Catalog import: a whole file validated at once; rows and errors named as the user sees them."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from catalog.classes import GspClass, InsuranceCategory, Route, Storage
from catalog.importer import (
    COLUMNS,
    ImportReport,
    ItemRow,
    RowError,
    parse_bytes,
    parse_file,
    write_template_xlsx,
)

NHSA = "XA02BCA211A012010100154"
EAN_A, EAN_B, EAN_C = "6901234567892", "6920152400012", "4006381333931"
EAN8 = "96385074"

MIN = ["code", "name", "gsp_class", "price"]  # the required columns
MASK = ["X1", "口罩", "other", "1"]  # a valid non-drug row for MIN
HEADER = ["商品编码", "商品名称", "经营类别", "零售价", "批准文号", "给药途径"]
AMOXICILLIN = ["A001", "阿莫西林胶囊", "处方药", "12.50", "国药准字H20003263", "内服"]


def write_csv(tmp_path: Path, rows: list[list[Any]], encoding: str = "utf-8", name: str = "a.csv") -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path = tmp_path / name
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(tmp_path: Path, rows: list[list[Any]], name: str = "items.xlsx") -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    path = tmp_path / name
    wb.save(path)
    return path


def parse_rows(tmp_path: Path, rows: list[list[Any]]) -> ImportReport:
    return parse_file(write_csv(tmp_path, rows))


def only_error(report: ImportReport) -> RowError:
    assert len(report.errors) == 1, [e.message_en for e in report.errors]
    return report.errors[0]


# --- accepted ---------------------------------------------------------------------------------------


def test_full_row_with_chinese_headers(tmp_path: Path) -> None:
    header = [c.zh for c in COLUMNS]
    row = {"商品编码": "A001", "商品名称": "阿莫西林胶囊", "通用名": "阿莫西林", "规格": "0.25g*24粒",
           "剂型": "胶囊剂", "生产企业": "某某制药", "批准文号": "国药准字H20003263", "经营类别": "处方药",
           "给药途径": "内服", "易串味": "否", "贮藏条件": "阴凉", "医保编码": NHSA, "医保类别": "甲",
           "零售价": "12.50", "单位": "盒", "拆零单位": "粒", "拆零系数": "24", "拆零价": "0.60",
           "药理分类": "青霉素类", "追溯码管理": "是", "条码": f"{EAN_A}; {EAN_B}、{EAN8}", "陈列区域": "RX-IN"}
    report = parse_rows(tmp_path, [header, [row[h] for h in header]])
    assert report.ok, [e.message_en for e in report.errors]
    [item] = report.rows
    assert item.row == 2
    assert item.fields() == {
        "code": "A001", "name": "阿莫西林胶囊", "generic_name": "阿莫西林", "spec": "0.25g*24粒",
        "dosage_form": "胶囊剂", "manufacturer": "某某制药", "approval_no": "国药准字H20003263",
        "gsp_class": "rx", "route": "internal", "odour_prone": False, "storage": "cool", "nhsa_code": NHSA,
        "insurance_category": "jia", "price_fen": 1250, "unit": "盒", "split_unit": "粒", "split_ratio": 24,
        "split_price_fen": 60, "pharm_class": "青霉素类", "traced": True, "mnemonic": "AMXLJN"}
    assert item.barcodes == (EAN_A, EAN_B, EAN8)
    assert item.zone_code == "RX-IN"


def test_english_headers_any_order_any_case_and_defaults(tmp_path: Path) -> None:
    report = parse_rows(tmp_path, [["Price", "NAME", "gsp_class", "code"], ["3", "创可贴", "医疗器械", "D1"]])
    [item] = report.rows
    assert (item.code, item.name, item.gsp_class, item.price_fen) == ("D1", "创可贴", GspClass.DEVICE, 300)
    # Defaults for every column left out.
    assert (item.route, item.storage, item.insurance_category) == (Route.OTHER, Storage.NORMAL,
                                                                   InsuranceCategory.NONE)
    assert (item.unit, item.split_unit, item.split_ratio, item.split_price_fen) == ("盒", None, 1, None)
    assert (item.odour_prone, item.traced, item.nhsa_code, item.barcodes, item.zone_code) == (
        False, False, None, (), None)
    assert item.mnemonic == "CKT"


def test_given_names_the_item_fields_the_file_has(tmp_path: Path) -> None:
    [item] = parse_rows(tmp_path, [[*MIN, "拆零价", "拆零单位", "拆零系数", "条码"],
                                   [*MASK, "0.5", "片", "2", EAN_A]]).rows
    assert item.given == {"code", "name", "mnemonic", "gsp_class", "price_fen",
                          "split_price_fen", "split_unit", "split_ratio"}
    assert item.given <= set(item.fields())


def test_fields_are_item_columns(tmp_path: Path) -> None:
    from server.db.models.catalog import Item

    [item] = parse_rows(tmp_path, [HEADER, AMOXICILLIN]).rows
    assert set(item.fields()) <= set(Item.model_fields)
    assert all(type(v) in (str, int, bool, type(None)) for v in item.fields().values())


def test_reading_the_same_file_twice_gives_equal_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [HEADER, AMOXICILLIN])
    assert parse_file(path).rows == parse_file(path).rows
    assert isinstance(parse_file(path).rows[0], ItemRow)


def test_csv_with_bom(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [HEADER, AMOXICILLIN], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = parse_file(path)
    assert report.ok and report.rows[0].code == "A001"  # not "\ufeff商品编码" as an unknown column


def test_gb18030_csv(tmp_path: Path) -> None:
    huoxiang = ["Z001", "藿香正气水", "甲类非处方药", "8", "国药准字Z1", "内服"]
    path = write_csv(tmp_path, [HEADER, AMOXICILLIN, huoxiang], encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    report = parse_file(path)
    assert report.ok
    assert [(r.name, r.mnemonic) for r in report.rows] == [("阿莫西林胶囊", "AMXLJN"),
                                                           ("藿香正气水", "HXZQS")]


def test_undecodable_csv_is_one_file_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\x81\x20\xff\xfe\x80")
    err = only_error(parse_file(path))
    assert err.row == 0 and "GB18030" in err.message_en


def test_xlsx_numeric_cells(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [
        [*MIN, "barcodes", "split_unit", "split_ratio", "split_price", "traced", "approval_no", "route"],
        [1001, "布洛芬缓释胶囊", "otc_b", 12.5, int(EAN_A), "粒", 20, 0.7, True, "国药准字H1", "内服"],
        ["1002", "口罩", "other", 3, None, None, None, None, False, None, None],
        ["1003", "体温计", "device", 19.9, None, None, None, None, 0, None, None],
    ])
    report = parse_file(path)
    assert report.ok, [e.message_en for e in report.errors]
    a, b, c = report.rows
    assert (a.code, a.price_fen, a.barcodes, a.split_ratio, a.split_price_fen, a.traced) == (
        "1001", 1250, (EAN_A,), 20, 70, True)
    assert (b.price_fen, b.traced) == (300, False)
    assert c.price_fen == 1990  # 19.9 * 100 in float is 1989.9999999999998; Decimal keeps it exact


def test_xlsx_float_price_with_three_decimals_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [MIN, ["X1", "口罩", "other", 12.345]])
    err = only_error(parse_file(path))
    assert (err.row, err.column, err.value) == (2, "price", "12.345")
    assert "两位小数" in err.message_zh and "more than 2 decimals" in err.message_en


def test_xlsx_blank_rows_keep_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [MIN, ["X1", "口罩", "other", 1], [],
                                 [None, None], ["X2", "口罩", "other", "abc"]])
    report = parse_file(path)
    assert [r.row for r in report.rows] == [2]
    assert only_error(report).row == 5


def test_xlsx_reads_the_first_sheet_only(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [MIN, ["X1", "口罩", "other", 1]])
    wb = load_workbook(path)
    wb.create_sheet("notes").append(["whatever", "is", "here"])
    wb.save(path)
    assert parse_file(path).ok


def test_kind_is_told_by_content_not_by_name(tmp_path: Path) -> None:
    xlsx = write_xlsx(tmp_path, [MIN, MASK], name="upload")
    assert parse_file(xlsx).ok
    assert parse_bytes(xlsx.read_bytes()).rows[0].code == "X1"


def test_template_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    write_template_xlsx(path)
    wb = load_workbook(path)
    assert [c.value for c in wb.worksheets[0][1]] == [c.zh for c in COLUMNS]
    assert wb.sheetnames[1] == "说明"
    err = only_error(parse_file(path))  # headers all recognised; only the missing data is reported
    assert "no data rows" in err.message_en


@pytest.mark.parametrize(("text", "fen"), [("0", 0), ("12.5", 1250), ("12.50", 1250), ("12.500", 1250),
                                           ("0.01", 1), ("１２.５", 1250), (" 7 ", 700)])
def test_prices_accepted(tmp_path: Path, text: str, fen: int) -> None:
    [item] = parse_rows(tmp_path, [MIN, ["X1", "口罩", "other", text]]).rows
    assert item.price_fen == fen


@pytest.mark.parametrize("value", ["是", "Y", "y", "1", "true", "TRUE", "yes"])
def test_true_words(tmp_path: Path, value: str) -> None:
    [item] = parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "易串味"],
                                   ["X1", "口罩", "other", "1", value]]).rows
    assert item.odour_prone is True


@pytest.mark.parametrize("value", ["否", "N", "0", "false", ""])
def test_false_words(tmp_path: Path, value: str) -> None:
    [item] = parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "追溯码管理"],
                                   ["X1", "口罩", "other", "1", value]]).rows
    assert item.traced is False


def test_herbal_pieces_need_neither_approval_number_nor_route(tmp_path: Path) -> None:
    [item] = parse_rows(tmp_path, [MIN, ["H1", "白术", "中药饮片", "0.35"]]).rows
    assert (item.gsp_class, item.approval_no, item.route) == (GspClass.HERBAL, "", Route.OTHER)
    assert item.mnemonic == "BZ"


def test_required_column_marker_star_tolerated(tmp_path: Path) -> None:
    header = ["商品编码*", "商品名称*", "经营类别*", "零售价*"]
    assert parse_rows(tmp_path, [header, ["X1", "口罩", "其他", "1"]]).ok


# --- refused ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "zh", "en"), [
    ("12.345", "两位小数", "more than 2 decimals"),
    ("-1", "负数", "negative"),
    ("-0.5", "负数", "negative"),
    ("abc", "不是金额", "not an amount"),
    ("1e3", "不是金额", "not an amount"),
    ("12.", "不是金额", "not an amount"),
    ("¥12", "不是金额", "not an amount"),
    ("1,200.00", "不是金额", "not an amount"),
    ("NaN", "不是金额", "not an amount"),
    ("99999999999", "过大", "too large"),
])
def test_prices_refused(tmp_path: Path, text: str, zh: str, en: str) -> None:
    header = ["code", "name", "gsp_class", "零售价"]
    err = only_error(parse_rows(tmp_path, [header, ["X1", "口罩", "other", text]]))
    assert (err.row, err.column, err.value) == (2, "零售价", text)
    assert zh in err.message_zh and en in err.message_en
    assert "第 2 行「零售价」" in err.message_zh and "row 2, column '零售价'" in err.message_en
    assert "12.50" in err.expected  # what is expected is spelled out


def test_missing_price_refused(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [MIN, ["X1", "口罩", "other", ""]]))
    assert err.column == "price" and "required" in err.message_en and "不能为空" in err.message_zh


@pytest.mark.refuses("CARD-02")
def test_non_drug_with_jia_refused_citing_card_02(tmp_path: Path) -> None:
    report = parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "医保类别"],
                                   ["F1", "蜂蜜", "普通食品", "30", "甲"]])
    err = only_error(report)
    assert (err.row, err.column, err.rule, err.value) == (2, "医保类别", "CARD-02", "甲")
    assert "CARD-02" in err.message_zh and "CARD-02" in err.message_en
    assert report.rows == []


@pytest.mark.refuses("CARD-02")
@pytest.mark.parametrize("cls", ["保健食品", "日化用品", "化妆品", "health_food", "food"])
def test_non_drugs_never_yi_either(tmp_path: Path, cls: str) -> None:
    err = only_error(parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "insurance_category"],
                                           ["F1", "x", cls, "30", "乙类"]]))
    assert err.rule == "CARD-02"


def test_non_drug_may_be_bing_or_off_list(tmp_path: Path) -> None:
    report = parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "医保类别"],
                                   ["F1", "蜂蜜", "普通食品", "30", "丙"],
                                   ["F2", "蜂蜜", "普通食品", "30", "目录外"]])
    assert [r.insurance_category for r in report.rows] == [InsuranceCategory.BING, InsuranceCategory.NONE]


@pytest.mark.refuses("CARD-02")
def test_non_drug_with_insurance_drug_code_refused(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "nhsa_code"],
                                           ["F1", "蜂蜜", "food", "30", NHSA]]))
    assert (err.column, err.rule) == ("nhsa_code", "CARD-02")


@pytest.mark.refuses("CARD-07")
def test_jia_drug_without_nhsa_code_refused(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [[*HEADER, "医保类别"], [*AMOXICILLIN, "甲"]]))
    # The column is absent from the file, so the error names it by its Chinese header.
    assert (err.row, err.column, err.rule) == (2, "医保编码", "CARD-07")


def test_malformed_nhsa_code_refused(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [[*HEADER, "医保编码"], [*AMOXICILLIN, NHSA.lower()]]))
    assert (err.column, err.rule) == ("医保编码", "CODE-NHSA")
    assert "小写" in err.message_zh and "lowercase" in err.message_en


def test_drug_without_approval_number_refused(tmp_path: Path) -> None:
    row = [*AMOXICILLIN]
    row[4] = ""
    err = only_error(parse_rows(tmp_path, [HEADER, row]))
    assert (err.row, err.column) == (2, "批准文号")
    assert "批准文号" in err.message_zh and "approval number" in err.message_en


@pytest.mark.refuses("GSP-01")
@pytest.mark.parametrize("route", ["", "其他", "other"])
def test_drug_without_route_refused(tmp_path: Path, route: str) -> None:
    row = [*AMOXICILLIN]
    row[5] = route
    err = only_error(parse_rows(tmp_path, [HEADER, row]))
    assert (err.column, err.rule) == ("给药途径", "GSP-01")


@pytest.mark.parametrize(("column", "value"), [
    ("经营类别", "药品"), ("给药途径", "鼻饲"), ("贮藏条件", "冷冻"), ("医保类别", "丁"), ("易串味", "maybe"),
])
def test_unrecognised_choices_refused(tmp_path: Path, column: str, value: str) -> None:
    header = ["商品编码", "商品名称", "经营类别", "零售价", column]
    row = ["X1", "口罩", "其他", "1", value]
    if column == "经营类别":
        header, row = header[:4], ["X1", "口罩", value, "1"]
    err = only_error(parse_rows(tmp_path, [header, row]))
    assert (err.column, err.value) == (column, value)
    assert value in err.message_zh and value in err.message_en


def test_bad_barcode_names_the_expected_check_digit(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "条码"],
                                           ["X1", "口罩", "other", "1", f"{EAN_B} 6901234567890"]]))
    assert (err.column, err.rule) == ("条码", "CODE-GTIN")
    assert "应为 2" in err.message_zh and "expected 2" in err.message_en


def test_barcode_in_scientific_notation_explained(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "条码"],
                                           ["X1", "口罩", "other", "1", "6.90123E+12"]]))
    assert "科学计数法" in err.message_zh and "scientific notation" in err.message_en


def test_duplicate_barcode_across_rows_names_both_rows(tmp_path: Path) -> None:
    report = parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "条码"],
                                   ["X1", "口罩", "other", "1", EAN_A],
                                   ["X2", "纱布", "other", "1", EAN_C],
                                   ["X3", "棉签", "other", "1", f"{EAN_B},{EAN_A}"]])
    err = only_error(report)
    assert (err.row, err.column, err.value) == (4, "条码", EAN_A)
    assert "第 2 行和第 4 行" in err.message_zh and "rows 2 and 4" in err.message_en
    assert [r.code for r in report.rows] == ["X1", "X2"]


def test_same_barcode_twice_in_one_row_is_one_barcode(tmp_path: Path) -> None:
    [item] = parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "条码"],
                                   ["X1", "口罩", "other", "1", f"{EAN_A};{EAN_A}"]]).rows
    assert item.barcodes == (EAN_A,)


def test_duplicate_item_code_names_the_first_row(tmp_path: Path) -> None:
    report = parse_rows(tmp_path, [MIN,
                                   ["X1", "口罩", "other", "1"], ["X1", "纱布", "other", "2"]])
    err = only_error(report)
    assert (err.row, err.column) == (3, "code")
    assert "第 2 行" in err.message_zh and "row 2" in err.message_en


@pytest.mark.parametrize(("code", "en"), [("X" * 31, "more than 30"), ("X 1", "spaces")])
def test_bad_item_codes_refused(tmp_path: Path, code: str, en: str) -> None:
    err = only_error(parse_rows(tmp_path, [MIN, [code, "口罩", "other", "1"]]))
    assert err.column == "code" and en in err.message_en


def test_too_long_name_refused(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [MIN, ["X1", "药" * 101, "other", "1"]]))
    assert err.column == "name" and "101" in err.message_en


@pytest.mark.parametrize(("cells", "column", "en"), [
    (["粒", "", "0.5"], "split_ratio", "needs a split ratio"),
    (["粒", "1", "0.5"], "split_ratio", "below 2"),
    (["粒", "2.5", "0.5"], "split_ratio", "not a whole number"),
    (["粒", "10", ""], "split_price", "needs a split price"),
    (["", "10", ""], "split_ratio", "needs a split unit"),
    (["", "", "0.5"], "split_price", "needs a split unit"),
])
def test_split_pack_rules(tmp_path: Path, cells: list[str], column: str, en: str) -> None:
    err = only_error(parse_rows(tmp_path, [["code", "name", "gsp_class", "price", "split_unit", "split_ratio",
                                            "split_price"], ["X1", "纱布", "other", "5", *cells]]))
    assert err.column == column and en in err.message_en


def test_every_problem_of_a_row_is_reported(tmp_path: Path) -> None:
    report = parse_rows(tmp_path, [[*HEADER, "医保类别", "条码"],
                                   ["A1", "阿莫西林胶囊", "处方药", "1.234", "", "", "甲", "123"]])
    assert {e.column for e in report.errors} == {"零售价", "批准文号", "给药途径", "医保编码", "条码"}
    assert all(e.row == 2 for e in report.errors)


# --- the file as a whole ------------------------------------------------------------------------------


def test_unknown_column_named_and_rows_not_checked(tmp_path: Path) -> None:
    report = parse_rows(tmp_path, [[*HEADER, "进价"], [*AMOXICILLIN, "abc"]])
    err = only_error(report)
    assert (err.row, err.column, err.value) == (1, "进价", "进价")
    assert "进价" in err.message_zh and "unknown column" in err.message_en
    assert report.rows == []


def test_missing_required_columns_are_one_error(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [["商品名称", "规格"], ["口罩", "10只"]]))
    assert err.row == 1 and err.column is None
    for name in ("商品编码", "经营类别", "零售价"):
        assert name in err.message_zh
    for key in ("code", "gsp_class", "price"):
        assert key in err.message_en
    assert "商品名称" not in err.message_zh


def test_duplicated_column_refused(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [["code", "商品编码", "name", "gsp_class", "price"],
                                           ["X1", "X1", "口罩", "other", "1"]]))
    assert (err.row, err.column) == (1, "商品编码")
    assert "code" in err.message_en


def test_data_under_a_blank_header_refused(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [["code", "name", "gsp_class", "price", ""],
                                           ["X1", "口罩", "other", "1", "surprise"]]))
    assert err.row == 1 and "column 5" in err.message_en


def test_blank_trailing_columns_ignored(tmp_path: Path) -> None:
    assert parse_rows(tmp_path, [[*MIN, "", ""], [*MASK, "", ""]]).ok


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b",,,\r\n"])
def test_empty_file_is_one_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    err = only_error(parse_file(path))
    assert err.row == 0 and "empty" in err.message_en and "为空" in err.message_zh


def test_header_without_data_rows_is_one_error(tmp_path: Path) -> None:
    err = only_error(parse_rows(tmp_path, [HEADER, ["", "", "", "", "", ""]]))
    assert err.row == 0 and "no data rows" in err.message_en


def test_empty_xlsx_is_one_error(tmp_path: Path) -> None:
    err = only_error(parse_file(write_xlsx(tmp_path, [])))
    assert "empty" in err.message_en


def test_old_xls_and_damaged_xlsx_refused(tmp_path: Path) -> None:
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert ".xlsx" in only_error(parse_file(xls)).message_en
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04not really a zip")
    assert "damaged" in only_error(parse_file(broken)).message_en
