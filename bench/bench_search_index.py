"""Benchmark catalog.search.SearchIndex on 100k synthetic items: `python -m bench.bench_search_index`.

Prints build time, memory and per-query p50/p99 for each query kind. Figures are printed, not asserted;
the target is p99 <= 5 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace

from pypinyin import Style, lazy_pinyin

from catalog.codes import gtin_check_digit
from catalog.search import SearchDoc, SearchIndex

# Drug-ish name parts; names are brand? + 1-3 stems + dosage form, like "仁和布洛芬缓释胶囊".
STEMS = tuple("""
    阿莫 西林 头孢 克肟 布洛 芬 对乙酰 氨基酚 维生素 葡萄糖 酸钙 硝苯 地平 氯雷 他定 奥美 拉唑 甲硝 唑
    罗红 霉素 阿奇 左氧 氟沙星 复方 甘草 板蓝根 连花 清瘟 感冒 银翘 解毒 藿香 正气 六味 地黄 牛黄
    上清 蒙脱石 二甲 双胍 格列 美脲 辛伐 他汀 阿托 缬沙坦 厄贝 氨氯 苯磺酸 盐酸 小儿 止咳 化痰 清热
    消炎 益母草 乳酸 钙 锌 蒲地蓝 双黄连 金银花 三七 丹参 滴丸 健胃 消食 肠炎宁 胃康 黄连 素
""".split())
FORMS = ("胶囊", "片", "缓释胶囊", "缓释片", "颗粒", "口服液", "注射液", "软膏", "滴眼液", "丸", "分散片",
         "肠溶片", "糖浆", "喷雾剂", "贴", "散")
BRANDS = ("", "", "", "仁和", "修正", "同仁堂", "白云山", "999", "华润", "以岭", "云南白药", "太极", "哈药")
APPROVAL_KINDS = "HHHHZZS"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def initials(text: str) -> str:
    return "".join(p[0] for p in lazy_pinyin(text, style=Style.FIRST_LETTER) if p).upper()


def make_docs(n: int, seed: int) -> list[SearchDoc]:
    rng = random.Random(seed)
    cache: dict[str, str] = {}  # pypinyin per part once: the parts repeat, 100k whole names would be slow

    def mnemo(parts: list[str]) -> str:
        return "".join(cache[p] if p in cache else cache.setdefault(p, initials(p)) for p in parts)

    def digits(k: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(k))

    def letter() -> str:
        return rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")

    def gtin13() -> str:
        body = "69" + digits(10)
        return body + str(gtin_check_digit(body))

    docs = []
    for i in range(n):
        stems = rng.sample(STEMS, rng.choice((1, 2, 2, 2, 3)))
        form = rng.choice(FORMS)
        brand = rng.choice(BRANDS)
        generic = [*stems, form]
        name = [brand, *generic] if brand else generic
        mnemonic = mnemo(name)
        if rng.random() < 0.1:  # 多音字: a second spelling, e.g. 缓释 HS / HZ
            mnemonic += " " + mnemonic[:-1] + letter()
        drug = rng.random() < 0.8
        docs.append(SearchDoc(
            item_id=i + 1,
            code=f"{100000 + i}",
            name="".join(name),
            generic_name="".join(generic),
            mnemonic=mnemonic,
            barcodes=(gtin13(),) if rng.random() < 0.9 else (gtin13(), gtin13()),
            nhsa_code=(f"X{letter()}{digits(2)}{letter()}{letter()}{letter()}{digits(3)}{letter()}{digits(12)}"
                       if drug and rng.random() < 0.8 else None),
            approval_no=(f"国药准字{rng.choice(APPROVAL_KINDS)}{rng.choice(('19', '20'))}{digits(6)}"
                         if drug else ""),
            active=rng.random() < 0.97,
        ))
    return docs


def make_queries(docs: list[SearchDoc], k: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed + 1)
    active = [d for d in docs if d.active]

    def pick() -> SearchDoc:
        return rng.choice(active)

    def mid(s: str) -> str:  # a 2-3 char substring not at the start: a pure "contains" query
        size = rng.choice((2, 3))
        start = rng.randrange(1, max(2, len(s) - size + 1))
        return s[start:start + size]

    return {
        "pinyin prefix 1-4": [pick().mnemonic[:rng.randint(1, 4)].lower() for _ in range(k)],
        "name prefix 1-3": [pick().name[:rng.randint(1, 3)] for _ in range(k)],
        "barcode exact": [rng.choice(pick().barcodes) for _ in range(k)],
        "contains 2-3": [mid(pick().name) for _ in range(k)],
        "code prefix 1-6": [rng.choice((pick().barcodes[0], pick().approval_no or "国药准字H",
                                        pick().code))[:rng.randint(1, 6)] for _ in range(k)],
        "full-width barcode": [pick().barcodes[0].translate(FULL_WIDTH) for _ in range(k)],
    }


def percentile(sorted_ms: list[float], p: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, round(p / 100 * (len(sorted_ms) - 1)))]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args(argv)

    print(f"== SearchIndex alone: {args.items:,} synthetic docs, {args.queries:,} queries per kind ==")
    t0 = time.perf_counter()
    docs = make_docs(args.items, args.seed)
    queries = make_queries(docs, args.queries, args.seed)
    print(f"generated {len(docs):,} docs in {time.perf_counter() - t0:.1f} s "
          f"(e.g. {docs[0].name} {docs[0].mnemonic} {docs[0].barcodes[0]})")

    gc.collect()
    tracemalloc.start()
    SearchIndex(docs)  # measured separately: tracemalloc slows allocation-heavy code several-fold
    mem_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    gc.collect()
    index: SearchIndex | None = None

    def build() -> None:
        nonlocal index
        index = SearchIndex(docs)

    build_ms = timed(build)
    assert index is not None
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"build {build_ms / 1000:.2f} s | index peak {mem_mb:.0f} MB (tracemalloc) | "
          f"process max RSS {rss_mb:.0f} MB (docs + 2 builds)")
    # A full collection walks every tracked object (mostly the 100k SearchDocs here): a service should
    # gc.freeze() after loading its catalog, or that pause lands on some keystroke. We do the same.
    full_gc_ms = timed(gc.collect)
    gc.freeze()
    print(f"full gc.collect() {full_gc_ms:.0f} ms before gc.freeze(), {timed(gc.collect):.1f} ms after")

    # Each query runs 3 times back to back. The first run is the honest figure; the best of 3 shows
    # what is left once other processes' preemptions (a ~4 ms time slice on a busy 2-core box) are
    # filtered out — the index keeps no per-query cache, so repeats do the same work.
    print(f"{'query kind':<20} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'p99 best/3':>10} {'hits':>5}")
    for kind, qs in queries.items():
        for q in qs[:50]:  # warm up
            index.search(q, args.limit)
        first, best, hits = [], [], 0
        for q in qs:
            runs = []
            for _ in range(3):
                start = time.perf_counter_ns()
                found = index.search(q, args.limit)
                runs.append((time.perf_counter_ns() - start) / 1e6)
            hits += len(found)
            first.append(runs[0])
            best.append(min(runs))
        first.sort()
        best.sort()
        print(f"{kind:<20} {percentile(first, 50):7.3f} {percentile(first, 99):7.3f} {first[-1]:7.3f} "
              f"{percentile(best, 99):10.3f} {hits / len(qs):5.1f}")

    # Writes: one change is applied incrementally by the next search; a big batch triggers one rebuild.
    rng = random.Random(args.seed + 2)
    one = replace(rng.choice(docs), name="改名测试胶囊", mnemonic="GMCSJN")
    index.upsert(one)
    single_ms = timed(lambda: index.search("GMCSJN"))
    batch = [replace(d, name=d.name + "X") for d in rng.sample(docs, 300)]
    for d in batch:
        index.upsert(d)
    batch300_ms = timed(lambda: index.search("GMCSJN"))
    big = [replace(d, name=d.name + "Y") for d in rng.sample(docs, 10_000)]
    for d in big:
        index.upsert(d)
    rebuild_ms = timed(lambda: index.search("GMCSJN"))
    print(f"next search after: 1 upsert {single_ms:.1f} ms | 300 upserts {batch300_ms:.0f} ms | "
          f"10k upserts (one rebuild) {rebuild_ms:.0f} ms")


if __name__ == "__main__":
    main()
