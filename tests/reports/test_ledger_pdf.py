"""The PDFs: the shared writer (a titled table whose header repeats on every page, split across the page when wide,
totals, the footer with store, period, generated-at in the store's time and page x/y), the CJK font (found in one
place, a clear error when missing, glyphs not tofu), and the 进销存 as PDF — every page rendered and not blank,
its Chinese drawn from the embedded font, its figures read back by pdftotext equal to the ledger's."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from reports import ledger
from reports.export import fonts, pdf
from reports.export.pdf_doc import Col, Document, Footer, Table, split
from reports.layout import layout_from
from server.cli_progress import progress
from server.rules.movements import Column
from server.services.context import Ctx
from tests.conftest import seed_shop
from tests.reports import ledger_data
from tests.reports.pdf_check import (
    difference,
    drawn_from_font,
    embedded_font,
    embedded_fonts,
    inked,
    missing_glyphs,
    needs_poppler,
    pages,
)
from tests.reports.pdf_check import text as pdf_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 31, 17, 5, tzinfo=UTC)  # 2026-04-01 01:05 in Shanghai: the footer shows the store's day
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # rendering is no backend's concern


def _doc(title: str = "测试文档", landscape: bool = False) -> Document:
    return Document(title, Footer("丁点大药房", "2026-03-01 至 2026-03-31", AT, SHANGHAI), landscape=landscape)


def test_the_font_is_found_in_one_place_and_its_absence_is_said_in_both_languages(tmp_path: Path) -> None:
    path, index = fonts.cjk_font()
    assert path.is_file() and index >= 0
    with pytest.raises(fonts.FontMissing) as missing:
        fonts.cjk_font(((tmp_path / "none.ttc", 0),))
    assert fonts.PACKAGE in missing.value.message_zh and "未找到中文字体" in missing.value.message_zh
    assert fonts.PACKAGE in missing.value.message_en and str(tmp_path / "none.ttc") in missing.value.message_en


def test_a_wide_table_splits_into_parts_that_fit_each_repeating_its_keys_and_keeping_groups_whole() -> None:
    cols = [Col("编码", keep=True), Col("名称", keep=True), Col("规格")]
    for g in ("期初", "购进", "销售", "期末"):
        cols += [Col("数量", group=g), Col("成本", group=g), Col("零售", group=g)]
    widths = [20.0, 30.0, 15.0] + [12.0] * 12
    parts = split(cols, widths, 130.0)
    assert len(parts) > 1
    for p in parts:
        assert p[:2] == [0, 1] and sum(widths[i] for i in p) <= 130.0
        groups = [cols[i].group for i in p if cols[i].group]
        for g in set(groups):  # a group is whole in the one part it is in
            assert groups.count(g) == 3
    assert sorted({i for p in parts for i in p}) == list(range(len(cols)))
    assert split(cols, widths, 1000.0) == [list(range(len(cols)))]


@needs_poppler
def test_a_long_table_repeats_its_header_on_every_page_with_the_footer(tmp_path: Path) -> None:
    doc = _doc("长表")
    rows = [[f"C{n:04d}", f"阿莫西林胶囊{n}", f"{n * 3:,}", f"{n * 1.5:,.2f}"] for n in range(1, 181)]
    drawn: list[int] = []
    doc.table(Table("明细", [Col("编码", keep=True), Col("通用名", wrap=20), Col("数量", group="本期", align="R"),
                             Col("金额", group="本期", align="R")], rows, [["合计", "", "48,870", "24,435.00"]]),
              progress=drawn.append)
    path = doc.save(tmp_path / "long.pdf")
    assert sum(drawn) == len(rows) + 1
    images = pages(path)
    assert len(images) >= 3 and all(inked(i) > 500 for i in images)
    total, text_pages = len(images), pdf_text(path).split("\f")  # pdftotext ends each page with a form feed
    for n in range(1, total + 1):
        page = text_pages[n - 1]
        assert "编码" in page and "通用名" in page and "本期" in page and "金额" in page, n  # the header, every page
        assert f"第 {n}/{total} 页" in page and "丁点大药房" in page and "2026-03-01 至 2026-03-31" in page
        assert "生成于 2026-04-01 01:05" in page  # the store's time, not UTC's 17:05 of the day before
        if n > 1:
            assert "明细（续）" in page
    everything = "".join(text_pages)
    assert all(r[0] in everything for r in rows) and "24,435.00" in everything


@needs_poppler
def test_chinese_is_drawn_from_the_font_not_as_tofu(tmp_path: Path) -> None:
    known, tofu = "药品进销存", "\U00020000\U0002a6a5\U00020001\U0002a6a6\U00020002"  # the last: not in the font
    images = {}
    for name, s in (("known", known), ("tofu", tofu)):
        doc = _doc()
        doc.heading(s, size=60)
        page = pages(doc.save(tmp_path / f"{name}.pdf"), dpi=60)[0]
        images[name] = page.crop((0, round(14 * 60 / 25.4), page.width, round(50 * 60 / 25.4)))  # below the header
    font, boxes = drawn_from_font(*fonts.cjk_font(), known), drawn_from_font(*fonts.cjk_font(), tofu)
    # the PDF's rendering of the known string is the font's own drawing of it (FreeType, straight from the file),
    # and far from the font's notdef boxes; characters the font lacks would print as nothing (poppler) or boxes
    assert difference(images["known"], font) < 0.08
    assert difference(images["known"], boxes) > 0.25 and difference(font, boxes) > 0.25
    assert inked(images["tofu"]) == 0
    assert missing_glyphs(embedded_font(tmp_path / "known.pdf"), known) == []
    assert missing_glyphs(embedded_font(tmp_path / "tofu.pdf"), tofu) == list(sorted(tofu))


@needs_poppler
def test_a_province_s_layout_prints_its_own_columns(tmp_path: Path) -> None:
    ins = [c.value for c in Column if c.value.startswith("in_")]
    outs = [c.value for c in Column if c.value.startswith("out_") and c != Column.OUT_SALE]
    variant = layout_from({"name": "某省", "identity": ["code", "generic_name", "spec", "unit"], "columns": [
        {"key": "in_all", "zh": "本期入库", "sources": ins}, {"key": "sold", "zh": "本期销售", "sources": ["out_sale"]},
        {"key": "out_rest", "zh": "其他减少", "sources": outs}]})
    report = ledger.build([], [], 1, date(2026, 3, 1), date(2026, 3, 31), variant)
    cols = pdf.columns(report, batches=False)
    assert [c.title for c in cols if not c.group] == ["商品编码", "通用名", "规格", "单位"]
    assert list(dict.fromkeys(c.group for c in cols if c.group)) == ["期初", "本期入库", "本期销售", "其他减少", "期末"]
    assert pdf.sales_column(report) == "sold"
    words = pdf_text(pdf.write(report, tmp_path / "variant.pdf", "丁点大药房", AT, SHANGHAI))
    assert "本期入库" in words and "其他减少" in words and "购进入库" not in words


def test_the_progress_bar_is_silent_unless_stdout_is_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, tty = io.StringIO(), Terminal()
    for stream in (quiet, tty):
        with progress("生成 PDF", 10, stream=stream) as step:
            for _ in range(10):
                step(1)
    assert quiet.getvalue() == ""
    assert "生成 PDF" in tty.getvalue()


def _movements(engine: Engine, ctx: Ctx) -> tuple[ledger.LedgerReport, Any]:
    seed_shop(engine, ctx)
    with engine.connect() as conn:
        batches = [(int(a), int(b)) for a, b in conn.execute(text("SELECT id, item_id FROM batch WHERE store_id = :s"),
                                                             {"s": ctx.store_id})]
    ledger_data.write(engine, ledger_data.generated(ctx.store_id, batches, ctx.today - timedelta(days=20), 30, 150,
                                                    seed=7))
    end = ctx.today + timedelta(days=5)
    report = ledger.ledger_report(engine, ctx.store_id, ctx.today - timedelta(days=10), end)
    with engine.connect() as conn:  # the closing per item, summed here from the raw movements, not by the report
        closing = {code: (int(q), int(c), int(r)) for code, q, c, r in conn.execute(text(
            "SELECT i.code, SUM(m.qty), SUM(m.cost_fen), SUM(m.retail_fen) FROM stock_movement m "
            "JOIN item i ON i.id = m.item_id WHERE m.store_id = :s AND m.business_date <= :end GROUP BY i.code"),
            {"s": ctx.store_id, "end": end})}
    return report, closing


@needs_poppler
@sqlite_only
def test_the_ledger_as_pdf_renders_every_page_in_chinese_with_the_ledger_s_figures(engine: Engine, ctx: Ctx,
                                                                                    tmp_path: Path) -> None:
    report, closing = _movements(engine, ctx)
    drawn: list[int] = []
    path = pdf.write(report, tmp_path / "jxc.pdf", "丁点大药房", AT, SHANGHAI, drawn.append)
    assert sum(drawn) == pdf.rows(report)
    images = pages(path)
    assert len(images) >= 6 and all(inked(i) > 300 for i in images)
    # landscape A4
    assert images[0].width > images[0].height
    fonts_used = embedded_fonts(path)
    assert len(fonts_used) == 1 and fonts_used[0][-5:-2] == ["yes", "yes", "yes"]  # embedded, subset, ToUnicode
    whole = pdf_text(path)
    assert missing_glyphs(embedded_font(path), whole) == []
    for title in ("药品进销存报表", "按GSP分类汇总", "按医保类别汇总", "品种汇总", "批次明细", "核查", "本期销售（零售金额）按GSP分类",
                  "期末库存（成本金额）按GSP分类", "购进入库", "销售出库", "期初", "期末"):
        assert title in whole, title
    # the totals: a 合计 line of the items table holds the closing as the raw movements sum it
    q, c, r = (sum(v[i] for v in closing.values()) for i in range(3))
    assert (q, c, r) == (report.total.closing.qty, report.total.closing.cost, report.total.closing.retail)
    totals = [ln.split() for ln in whole.splitlines() if ln.strip().startswith("合计")]
    assert any(pdf.qty(q) in t and pdf.money(c) in t and pdf.money(r) in t for t in totals), totals
    # each item's closing on its own row, as the raw movements give it
    lines = [ln.split() for ln in whole.splitlines()]
    for code, (iq, ic, ir) in closing.items():
        shown = [v for v in (pdf.qty(iq, True), pdf.money(ic, True), pdf.money(ir, True)) if v]
        assert any(t and t[0] == code and all(v in t for v in shown) for t in lines), code
    # the chart's figures are the sales by GSP class at retail
    first = whole.split("\f")[0]
    for row in report.by_gsp_class:
        assert f"{pdf.class_label(row.gsp_class)}" in first
        assert f"{row.col('out_sale').retail / 100:,.2f} 元" in first
