"""Receipt import from a supplier's electronic delivery note (随货同行单, CSV or XLSX): the file read and checked whole
(catalog.delivery: its column mapping, its encoding), each row's item found by the store's item code or a barcode
and its zone (the row's, else the item's own), and one draft receipt made through `receiving.create` — which judges
the supplier, the voucher and every line as a receipt typed in is judged. Refused whole, each problem named by row
and column, nothing written; the draft still needs its 验收 and its approval by another person (GSP-05).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from sqlmodel import col, select

from catalog.delivery import DeliveryReport, parse_delivery
from catalog.importer import RowError
from server.db.models import Item, Receipt, Zone
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError
from server.services.catalog.items import find_by_barcode
from server.services.context import Ctx
from server.services.stock import receiving


def _refused(errors: list[RowError]) -> AppError:
    first = errors[0]
    return AppError(422, "IMPORT", f"随货同行单文件有 {len(errors)} 处错误，未导入：{first.message_zh}",
                    f"the delivery file has {len(errors)} error(s), nothing imported: {first.message_en}",
                    {"errors": [asdict(e) for e in errors]})


def _voucher(n: str, given: str, in_file: str, zh: str, errors: list[RowError]) -> str:
    if given.strip() and in_file and given.strip() != in_file:
        errors.append(RowError(0, zh, f"{zh} {given.strip()} 与文件中的 {in_file} 不一致",
                               f"{n} {given.strip()} differs from the file's {in_file}", "", in_file))
    return given.strip() or in_file


def _lines(u: Unit, ctx: Ctx, report: DeliveryReport, errors: list[RowError]) -> list[receiving.LineIn]:
    s = orm(u)
    codes = {r.item_code for r in report.rows if r.item_code}
    by_code = {i.code: i for i in s.exec(select(Item).where(Item.store_id == ctx.store_id,
                                                            col(Item.code).in_(sorted(codes))))} if codes else {}
    zones = {id_of(z): z.code for z in s.exec(select(Zone).where(Zone.store_id == ctx.store_id))}
    out = []
    for r in report.rows:
        item = by_code.get(r.item_code) if r.item_code else find_by_barcode(s, ctx, r.barcode)
        if item is None:
            column, value = ("商品编码", r.item_code) if r.item_code else ("条码", r.barcode)
            errors.append(RowError(r.row, column, f"第 {r.row} 行{column} {value} 不在本店商品目录中（先建档、首营）",
                                   f"row {r.row}: {column} {value} is in no catalog item of the store", "", value))
            continue
        zone = r.zone or zones.get(item.zone_id or 0, "")
        if not zone:
            errors.append(RowError(r.row, "货位", f"第 {r.row} 行未填货位，商品 {item.name} 也没有陈列区域",
                                   f"row {r.row}: no zone given and item {item.code} has none", "区域编码 / a zone code"))
            continue
        out.append(receiving.LineIn(item_id=id_of(item), lot_no=r.lot_no, manufactured_on=r.manufactured_on,
                                    expires_on=r.expires_on, qty=r.qty, unit_cost_fen=r.unit_cost_fen, zone_code=zone,
                                    trace_codes=r.trace_codes))
    return out


def import_delivery(u: Unit, ctx: Ctx, supplier_id: int, data: bytes, dynt_no: str = "", purc_invo_no: str = "",
                    business_date: date | None = None, note: str = "") -> Receipt:
    """A draft receipt from a delivery file (in the caller's unit: a refusal writes nothing)."""
    report = parse_delivery(data)
    errors = list(report.errors)
    if not errors:
        dynt_no = _voucher("dynt_no", dynt_no, report.dynt_no, "随货同行单号", errors)
        purc_invo_no = _voucher("purc_invo_no", purc_invo_no, report.purc_invo_no, "发票号", errors)
        lines = _lines(u, ctx, report, errors)
    if errors:
        raise _refused(errors)
    try:
        return receiving.create(u, ctx, receiving.PURCHASE, supplier_id, dynt_no, purc_invo_no, lines, business_date,
                                note or f"导入随货同行单（{report.encoding}，{len(lines)} 行）")
    except AppError as exc:  # the receipt's own refusals name line n: the file's row n + 1
        rows: dict[str, Any] = {str(n): r.row for n, r in enumerate(report.rows, start=1)}
        raise AppError(exc.status, exc.code, f"{exc.message_zh}（入库单第 n 行在文件中的行号见 file_rows）",
                       f"{exc.message_en} (the file's row of each line n: file_rows)",
                       dict(exc.details) | {"file_rows": rows}) from exc
