"""The sandbox centre's 医保目录: which national codes are 甲, 乙 or 丙 (what 1312 would return).

Built from the demo catalog: a demo item's 23-character code is class + generic + form (14 chars)
followed by a 9-character maker/spec tail, and the 甲/乙 class belongs to the generic and form,
so the bulk items' codes (same stems, other tails) classify the same way. Exact codes can be
added over the admin endpoint (tests, a store's own items). An unknown code is off-list: self-pay.

It also knows which products carry a 药品追溯码 (the demo catalog's traced items, and codes the admin
endpoint marks): a settlement of one of them without its codes is refused ("无码不结算", reference §8).
A code taken off that list is the store's code-less stock (无码库), still settled for now.
"""

from __future__ import annotations

import threading

from catalog.classes import InsuranceCategory

STEM = 14


class Directory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exact: dict[str, InsuranceCategory] = {}
        self._stems: dict[str, InsuranceCategory] = {}
        self._traced: set[str] = set()

    @classmethod
    def from_demo_catalog(cls) -> Directory:
        from catalog.demo_data import demo_items

        d = cls()
        for item in demo_items():
            if item.nhsa_code:
                d._exact[item.nhsa_code] = item.insurance_category
                d._stems.setdefault(item.nhsa_code[:STEM], item.insurance_category)
                if item.traced:
                    d._traced.add(item.nhsa_code)
        return d

    def add(self, code: str, category: InsuranceCategory, traced: bool | None = None) -> None:
        """`traced`: whether the product carries trace codes (None: as it was)."""
        with self._lock:
            self._exact[code] = category
            if traced is not None:
                self.set_traced(code, traced)

    def set_traced(self, code: str, traced: bool) -> None:
        if traced:
            self._traced.add(code)
        else:
            self._traced.discard(code)

    def traced(self, code: str) -> bool:
        """Whether a settlement of this product must carry its boxes' trace codes."""
        with self._lock:
            return code in self._traced

    def category(self, code: str) -> InsuranceCategory:
        with self._lock:
            if code in self._exact:
                return self._exact[code]
            if len(code) == 23 and code[:STEM] in self._stems:
                return self._stems[code[:STEM]]
        return InsuranceCategory.NONE

    def __len__(self) -> int:
        return len(self._exact)
