"""The kinds of stock movement (库存变动类型) and where each one lands — pure data, one list (ST-01, ST-02).

Every movement the ledger writes has a kind from `MovementKind`, and every kind has one `MovementType`:
its direction, the 进销存 column it lands in (issue #20's in/out columns), how the insurance centre hears of
it (3501 盘存, 3502 库存变更 with its `inv_chg_type`, 3503 采购, 3504 采购退货, 3505 销售, 3506 销售退货;
nhsa-interface.md §4 and §9) and the regulator's bill type name (单据类型). The month-end report, the
uploads' outbox and the checklist read this list; a test holds it total over `MovementKind`.

Amounts on a movement are signed like its quantity: an outflow's qty, cost_fen and retail_fen are all
negative, so a batch's stock and its cost on hand are plain sums of its movements.

inv_chg_type: the dictionary's agreed codes are 101–107 ([HN]); 108+ disagree between provinces ([JX]
108 初始化入库; [OI] 108 商品采购入库 …), so none is used here: a province that wants them maps
`Upload` in its own adapter, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MovementKind(StrEnum):
    OPENING = "opening"  # 初始化入库: the store's first inventory, one approved document, never afterwards
    PURCHASE = "purchase"  # 采购入库 (GSP-05: inspected, approved)
    GIFT_IN = "gift_in"  # 赠品入库: a purchase at no cost (3503 prod_geay_flag = 1)
    PURCHASE_RETURN = "purchase_return"  # 购进退出: back to the supplier
    TRANSFER_IN = "transfer_in"  # 调拨入库: from another store of the chain
    TRANSFER_OUT = "transfer_out"  # 调拨出库
    SALE = "sale"  # 零售出库
    SALE_RETURN = "sale_return"  # 消费者退货入库
    COUNT_GAIN = "count_gain"  # 盘盈
    COUNT_LOSS = "count_loss"  # 盘亏
    DAMAGE = "damage"  # 报损 (broken, spoiled)
    EXPIRY_WRITEOFF = "expiry_writeoff"  # 过期报损
    DESTRUCTION = "destruction"  # 销毁 (two witnesses, the method)
    RECALL = "recall"  # 召回: pulled and handed back for a recall
    SAMPLING = "sampling"  # 抽检: taken by the regulator as a sample
    QUARANTINE_IN = "quarantine_in"  # 移入待验/不合格品区: sellable -> quarantine, within the store
    QUARANTINE_OUT = "quarantine_out"  # 待验放行: quarantine -> sellable, within the store
    OTHER_IN = "other_in"  # 其他入库
    OTHER_OUT = "other_out"  # 其他出库


class Direction(StrEnum):
    IN = "in"  # qty > 0
    OUT = "out"  # qty < 0
    MOVE = "move"  # a pair within the store (out of one location, into another): net zero, no column


class Column(StrEnum):
    """The 进销存 report's in and out columns (issue #20); opening and closing are sums, not kinds."""

    IN_PURCHASE = "in_purchase"
    IN_SALE_RETURN = "in_sale_return"
    IN_COUNT_GAIN = "in_count_gain"
    IN_TRANSFER = "in_transfer"
    IN_OTHER = "in_other"
    OUT_SALE = "out_sale"
    OUT_PURCHASE_RETURN = "out_purchase_return"
    OUT_COUNT_LOSS = "out_count_loss"
    OUT_DAMAGE = "out_damage"  # damage, expiry write-offs and destruction
    OUT_TRANSFER = "out_transfer"
    OUT_OTHER = "out_other"


@dataclass(frozen=True, slots=True)
class Upload:
    """How the centre hears of a movement: the transaction, and for 3502 its inv_chg_type."""

    txn: str  # "3501" … "3506"
    inv_chg_type: str | None = None  # 3502 only: 101 调拨入库 … 107 其他出库
    also_3502: str | None = None  # 3501 at the first inventory: [HN] also records one 3502 stock change


@dataclass(frozen=True, slots=True)
class MovementType:
    kind: MovementKind
    direction: Direction
    column: Column | None  # None: a move within the store (the report's totals do not change)
    upload: Upload | None  # None: the centre is not told (stock stays in the store)
    bill_zh: str  # the regulator's bill type (单据类型)


def _t(kind: MovementKind, direction: Direction, column: Column | None, upload: Upload | None,
       bill_zh: str) -> tuple[MovementKind, MovementType]:
    return kind, MovementType(kind, direction, column, upload, bill_zh)


K, D, C = MovementKind, Direction, Column
TYPES: dict[MovementKind, MovementType] = dict([
    _t(K.OPENING, D.IN, C.IN_OTHER, Upload("3501", also_3502="106"), "初始化入库"),
    _t(K.PURCHASE, D.IN, C.IN_PURCHASE, Upload("3503"), "采购入库"),
    _t(K.GIFT_IN, D.IN, C.IN_PURCHASE, Upload("3503"), "赠品入库"),
    _t(K.PURCHASE_RETURN, D.OUT, C.OUT_PURCHASE_RETURN, Upload("3504"), "购进退出"),
    _t(K.TRANSFER_IN, D.IN, C.IN_TRANSFER, Upload("3502", "101"), "调拨入库"),
    _t(K.TRANSFER_OUT, D.OUT, C.OUT_TRANSFER, Upload("3502", "102"), "调拨出库"),
    _t(K.SALE, D.OUT, C.OUT_SALE, Upload("3505"), "零售出库"),
    _t(K.SALE_RETURN, D.IN, C.IN_SALE_RETURN, Upload("3506"), "消费者退货入库"),
    _t(K.COUNT_GAIN, D.IN, C.IN_COUNT_GAIN, Upload("3502", "103"), "盘盈"),
    _t(K.COUNT_LOSS, D.OUT, C.OUT_COUNT_LOSS, Upload("3502", "104"), "盘亏"),
    _t(K.DAMAGE, D.OUT, C.OUT_DAMAGE, Upload("3502", "107"), "报损"),
    _t(K.EXPIRY_WRITEOFF, D.OUT, C.OUT_DAMAGE, Upload("3502", "107"), "过期报损"),
    _t(K.DESTRUCTION, D.OUT, C.OUT_DAMAGE, Upload("3502", "105"), "销毁"),
    _t(K.RECALL, D.OUT, C.OUT_OTHER, Upload("3502", "107"), "召回"),
    _t(K.SAMPLING, D.OUT, C.OUT_OTHER, Upload("3502", "107"), "抽检"),
    _t(K.QUARANTINE_IN, D.MOVE, None, None, "移入待验区"),
    _t(K.QUARANTINE_OUT, D.MOVE, None, None, "待验放行"),
    _t(K.OTHER_IN, D.IN, C.IN_OTHER, Upload("3502", "106"), "其他入库"),
    _t(K.OTHER_OUT, D.OUT, C.OUT_OTHER, Upload("3502", "107"), "其他出库"),
])


def type_of(kind: str) -> MovementType:
    """The type of a kind as stored (a KeyError names a kind the list lacks: the list is total)."""
    return TYPES[MovementKind(kind)]


def sign_agrees(kind: str, qty: int) -> bool:
    """Whether a movement's signed quantity goes the way its kind does (a MOVE's rows go either way);
    a correction of a movement has the corrected kind and the opposite sign, so it is allowed with corrects_id."""
    direction = type_of(kind).direction
    return direction == Direction.MOVE or (qty > 0) == (direction == Direction.IN)
