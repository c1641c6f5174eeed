"""Transfers between stores (调拨) as pure functions: stock moves only between two stores of one chain (连锁), and only
to a store whose business scope (经营范围) covers what it receives (GSP-05: goods come by a lawful channel, into a
store licensed to keep them). Facts in, violations out; server.services.stock.transfers gathers the facts.
"""

from __future__ import annotations

from catalog.classes import GspClass
from catalog.violations import Violation
from server.rules.stock import SCOPE_OF_CLASS, Scope

# The words a store's licence writes its scope in (门店经营范围, free text) and the scope each names. 保健食品 is read
# before 食品 (it contains it): a store licensed for health food only is not licensed for food.
_SCOPE_WORDS: tuple[tuple[str, Scope], ...] = (
    ("处方药", Scope.DRUGS), ("非处方药", Scope.DRUGS), ("中药饮片", Scope.DRUGS), ("中成药", Scope.DRUGS),
    ("化学药", Scope.DRUGS), ("药品", Scope.DRUGS), ("医疗器械", Scope.DEVICES), ("保健食品", Scope.HEALTH_FOOD),
    ("食品", Scope.FOOD), ("化妆品", Scope.COSMETICS),
)


def store_scope(business_scope: str) -> frozenset[str]:
    """The scopes a store's business scope text names (日用品及其他 need no licence: always)."""
    text, found = business_scope, {Scope.SUNDRIES.value}
    for word, scope in _SCOPE_WORDS:
        if word in text:
            found.add(scope.value)
            text = text.replace(word, "")
    return frozenset(found)


def chain_refusal(from_store: str, from_chain: str, to_store: str, to_chain: str, same: bool) -> Violation | None:
    """GSP-05: a transfer goes to another store of the sender's own chain — not to itself, not outside the chain."""
    if same:
        return Violation("GSP-05", "调拨的收货门店不能是本店", "a transfer goes to another store", {"to": to_store})
    if not from_chain or from_chain != to_chain:
        return Violation("GSP-05", f"门店 {to_store} 不属于本店（{from_store}）所在的连锁，不能调拨",
                         f"store {to_store} is not of {from_store}'s chain: no transfer",
                         {"from_chain": from_chain, "to_chain": to_chain, "to": to_store})
    return None


def receiver_scope_refusal(store: str, scope: frozenset[str], item: str, gsp_class: str) -> Violation | None:
    """GSP-05: the receiving store's business scope covers each item it receives (no drugs to a store without)."""
    needed = SCOPE_OF_CLASS[GspClass(gsp_class)]
    if needed.value in scope:
        return None
    return Violation("GSP-05", f"门店 {store} 的经营范围不含{needed.label}，不能调入 {item}",
                     f"store {store}'s business scope does not cover {needed.value}: it cannot receive {item}",
                     {"store": store, "item": item, "needs": needed.value})
