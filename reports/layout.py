"""The 进销存's columns, in one place (issue #20): identity, then opening, the in and out columns, closing.

No national template exists; this is the layout real pharmacies hand in. A province's variant is another
`LedgerLayout` (columns merged, renamed or reordered, identity fields dropped), built from a mapping by
`layout_from` — never a fork of the report. Which in/out column a movement lands in is decided by its kind
through server.rules.movements (the one list: kind -> `Column`); a layout only says how those `Column`s are
shown, so a kind added to that list lands in the right column here without a change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.rules.movements import Column


@dataclass(frozen=True, slots=True)
class Field:
    """An identity field of a row: its key in the row's identity, and its headers."""

    key: str
    zh: str
    en: str
    batch_only: bool = False  # blank on the item's own row (a batch's lot, expiry)


@dataclass(frozen=True, slots=True)
class ReportColumn:
    """An in or out column of the report: the movement columns (server.rules.movements.Column) it sums."""

    key: str
    zh: str
    en: str
    sources: tuple[Column, ...]

    @property
    def inflow(self) -> bool:
        return self.sources[0].value.startswith("in_")


@dataclass(frozen=True, slots=True)
class LedgerLayout:
    name: str
    identity: tuple[Field, ...]
    columns: tuple[ReportColumn, ...]  # the in columns, then the out columns

    def __post_init__(self) -> None:
        placed = [c for col in self.columns for c in col.sources]
        if sorted(placed) != sorted(Column) or any(len({c.value[:3] for c in col.sources}) != 1
                                                   for col in self.columns):
            raise ValueError(f"layout {self.name}: every movement column goes to exactly one report column, "
                             "and a report column is all in or all out")

    @property
    def ins(self) -> tuple[ReportColumn, ...]:
        return tuple(c for c in self.columns if c.inflow)

    @property
    def outs(self) -> tuple[ReportColumn, ...]:
        return tuple(c for c in self.columns if not c.inflow)

    def column_of(self) -> dict[Column, str]:
        return {src: col.key for col in self.columns for src in col.sources}


IDENTITY: tuple[Field, ...] = (
    Field("code", "商品编码", "store code"),
    Field("nhsa_code", "医保国家编码", "NHSA national code"),
    Field("generic_name", "通用名", "generic name"),
    Field("spec", "规格", "specification"),
    Field("dosage_form", "剂型", "dosage form"),
    Field("manufacturer", "生产企业", "manufacturer"),
    Field("approval_no", "批准文号", "approval number"),
    Field("batch_no", "批次号", "store batch", batch_only=True),
    Field("lot_no", "批号", "lot", batch_only=True),
    Field("expires_on", "有效期至", "expiry", batch_only=True),
    Field("unit", "单位", "unit"),
)

COLUMNS: tuple[ReportColumn, ...] = (
    ReportColumn("in_purchase", "购进入库", "purchases", (Column.IN_PURCHASE,)),
    ReportColumn("in_sale_return", "销售退回", "sale returns", (Column.IN_SALE_RETURN,)),
    ReportColumn("in_count_gain", "盘盈", "count gains", (Column.IN_COUNT_GAIN,)),
    ReportColumn("in_transfer", "调拨入库", "transfers in", (Column.IN_TRANSFER,)),
    ReportColumn("in_other", "其他入库", "other in", (Column.IN_OTHER,)),
    ReportColumn("out_sale", "销售出库", "sales", (Column.OUT_SALE,)),
    ReportColumn("out_purchase_return", "购进退出", "returns to supplier", (Column.OUT_PURCHASE_RETURN,)),
    ReportColumn("out_count_loss", "盘亏", "count losses", (Column.OUT_COUNT_LOSS,)),
    ReportColumn("out_damage", "报损销毁", "damage and destruction", (Column.OUT_DAMAGE,)),
    ReportColumn("out_transfer", "调拨出库", "transfers out", (Column.OUT_TRANSFER,)),
    ReportColumn("out_other", "其他出库", "other out", (Column.OUT_OTHER,)),
)

DEFAULT = LedgerLayout("default", IDENTITY, COLUMNS)

# The three figures of every column, and the opening and closing around them.
MEASURES: tuple[tuple[str, str, str], ...] = (("qty", "数量", "qty"), ("cost", "成本金额", "cost"),
                                              ("retail", "零售金额", "retail"))
OPENING = ("opening", "期初", "opening")
CLOSING = ("closing", "期末", "closing")


def layout_from(spec: Mapping[str, Any], base: LedgerLayout = DEFAULT) -> LedgerLayout:
    """A province's variant from configuration: {"name": ..., "identity": [keys to keep, in order],
    "columns": [{"key", "zh", "en", "sources": [movement column values]}, ...]}; what it leaves out is the base's."""
    fields = {f.key: f for f in base.identity}
    identity: Sequence[Field] = tuple(fields[k] for k in spec.get("identity", [f.key for f in base.identity]))
    columns = base.columns
    if "columns" in spec:
        columns = tuple(ReportColumn(c["key"], c["zh"], c.get("en", c["key"]),
                                     tuple(Column(s) for s in c["sources"])) for c in spec["columns"])
    return LedgerLayout(str(spec.get("name", base.name)), tuple(identity), columns)


def configured(spec: Mapping[str, Any]) -> LedgerLayout:
    """The store's layout: `[reports] ledger_layout` in config.toml, or the default when it names none."""
    return layout_from(spec) if spec else DEFAULT
