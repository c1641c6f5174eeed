"""catalog.search: ranking, normalisation, index maintenance, and a brute-force reference check."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.search import CONTAINS_FIELDS, EXACT_FIELDS, PREFIX_FIELDS, SearchDoc, SearchHit, SearchIndex

AMX = SearchDoc(1, "A001", "阿莫西林胶囊", "阿莫西林", "AMXLJN", ("6901234567892",),
                "XA02BCA211A012010100154", "国药准字H20013210")
TFKW = SearchDoc(2, "A002", "头孢克肟片", "头孢克肟", "TBKWP", ("6902222222226",), None, "国药准字H20030001")
BLF = SearchDoc(3, "A003", "布洛芬缓释胶囊", "布洛芬", "BLFHSJN BLFHZJN", ("6903333333335", "6903333333342"),
                "XN02BEB120E001010100001", "国药准字H10900089")


def ids(hits: list[SearchHit]) -> list[int]:
    return [h.item_id for h in hits]


def doc(item_id: int, **kw: Any) -> SearchDoc:
    base: dict[str, Any] = dict(code=f"C{item_id:04d}", name=f"药{item_id}", generic_name="", mnemonic="", barcodes=(),
                nhsa_code=None, approval_no="")
    base.update(kw)
    return SearchDoc(item_id, **base)


# -- reference ---------------------------------------------------------------------------------------

def ref_norm(text: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) != "Cc")
    return "".join(c.upper() if "a" <= c <= "z" else c for c in text.strip())


def reference(docs: dict[int, SearchDoc], query: str, limit: int = 10_000) -> list[tuple[int, str, str]]:
    """Scan every doc, classify it by its best rank, sort: the spec, written the obvious slow way."""
    q = ref_norm(query)
    if not q:
        return []
    tests = (("exact", EXACT_FIELDS, lambda v: v == q), ("prefix", PREFIX_FIELDS, lambda v: v.startswith(q)),
             ("contains", CONTAINS_FIELDS, lambda v: q in v))
    rows = []
    for d in docs.values():
        if not d.active:
            continue
        values = {
            "mnemonic": ref_norm(d.mnemonic).split(), "name": [ref_norm(d.name)],
            "generic_name": [ref_norm(d.generic_name)], "code": [ref_norm(d.code)],
            "barcode": [ref_norm(b) for b in d.barcodes], "nhsa_code": [ref_norm(d.nhsa_code or "")],
            "approval_no": [ref_norm(d.approval_no)],
        }
        for order, (rank, fields, test) in enumerate(tests):
            field = next((f for f in fields if any(v and test(v) for v in values[f])), None)
            if field:
                rows.append((order, len(d.name), d.code, d.item_id, rank, field))
                break
    rows.sort()
    return [(r[3], r[4], r[5]) for r in rows[:limit]]


def as_tuples(hits: list[SearchHit]) -> list[tuple[int, str, str]]:
    return [(h.item_id, h.rank, h.field) for h in hits]


# -- ranking -----------------------------------------------------------------------------------------

def test_exact_before_prefix_before_contains() -> None:
    # The contains doc has the shortest name: rank must still dominate name length.
    exact = doc(10, code="AMX", name="某某某某某某")
    prefix = doc(11, mnemonic="AMXLJN", name="阿莫西林胶囊")
    contains = doc(12, mnemonic="FFAMXL", name="短")
    index = SearchIndex([contains, prefix, exact])
    hits = index.search("amx")
    assert as_tuples(hits) == [
        (10, "exact", "code"), (11, "prefix", "mnemonic"), (12, "contains", "mnemonic")]


def test_barcode_exact() -> None:
    index = SearchIndex([AMX, TFKW, BLF])
    assert index.search("6903333333342") == [SearchHit(3, "exact", "barcode")]
    assert index.search(" 国药准字H20030001\r\n") == [SearchHit(2, "exact", "approval_no")]
    assert index.search("xa02bca211a012010100154") == [SearchHit(1, "exact", "nhsa_code")]


def test_mnemonic_prefix_and_variants() -> None:
    index = SearchIndex([AMX, TFKW, BLF])
    assert as_tuples(index.search("amx")) == [(1, "prefix", "mnemonic")]
    assert as_tuples(index.search("BLFHZ")) == [(3, "prefix", "mnemonic")]  # second variant
    assert as_tuples(index.search("头孢")) == [(2, "prefix", "name")]


def test_chinese_contains() -> None:
    index = SearchIndex([AMX, TFKW, BLF])
    assert as_tuples(index.search("莫西")) == [(1, "contains", "name")]
    assert ids(index.search("胶囊")) == [1, 3]  # shorter name first
    assert as_tuples(index.search("囊")) == [(1, "contains", "name"), (3, "contains", "name")]


def test_within_rank_order_is_independent_of_insertion_order() -> None:
    docs = [doc(i, code=f"K{9 - i}", name="维生素" + "C" * (i % 3), mnemonic="WSS") for i in range(9)]
    forward, backward = SearchIndex(docs), SearchIndex(reversed(docs))
    incremental = SearchIndex()
    for d in docs[::2] + docs[1::2]:
        incremental.upsert(d)
    expected = [i for _, _, i in sorted((len(d.name), d.code, d.item_id) for d in docs)]
    for index in (forward, backward, incremental):
        assert ids(index.search("wss")) == expected
        assert ids(index.search("维生")) == expected


def test_full_width_query_is_normalised() -> None:
    index = SearchIndex([AMX, TFKW, BLF])
    assert as_tuples(index.search("６９０１２３")) == [(1, "prefix", "barcode")]
    assert as_tuples(index.search("６９０１２３４５６７８９２")) == [(1, "exact", "barcode")]
    assert as_tuples(index.search("ＡＭＸ")) == [(1, "prefix", "mnemonic")]


def test_limit_respected_and_top_kept() -> None:
    docs = [doc(i, name="片" * (1 + i % 7), code=f"P{i:03d}") for i in range(40)]
    index = SearchIndex(docs)
    assert len(index.search("片", limit=5)) == 5
    assert as_tuples(index.search("片", limit=5)) == reference({d.item_id: d for d in docs}, "片", 5)
    assert index.search("片", limit=0) == []


def test_empty_and_blank_queries() -> None:
    index = SearchIndex([AMX])
    assert index.search("") == [] and index.search("  \u3000 ") == []
    assert index.search("不存在") == []


# -- maintenance -------------------------------------------------------------------------------------

def many(n: int) -> list[SearchDoc]:
    return [doc(1000 + i, name=f"填充药品{i}", mnemonic=f"TCYP{i}") for i in range(n)]


def test_upsert_changes_name() -> None:
    # Enough other docs that one upsert goes down the incremental path, not a rebuild.
    index = SearchIndex([AMX, TFKW, BLF, *many(600)])
    index.search("莫西")
    index.upsert(replace(AMX, name="头孢克洛胶囊", generic_name="头孢克洛", mnemonic="TBKLJN"))
    assert index.search("莫西") == []
    assert index.search("amxljn") == []
    assert as_tuples(index.search("克洛")) == [(1, "contains", "name")]
    assert ids(index.search("头孢")) == [2, 1]
    assert len(index) == 603


def test_remove() -> None:
    index = SearchIndex([AMX, TFKW, BLF])
    index.remove(1)
    index.remove(1)  # idempotent
    assert index.search("6901234567892") == [] and index.search("莫西") == []
    assert len(index) == 2
    index.upsert(AMX)
    assert ids(index.search("莫西")) == [1]


def test_inactive_not_returned() -> None:
    index = SearchIndex([replace(AMX, active=False), TFKW])
    assert index.search("amx") == [] and index.search("6901234567892") == []
    index.upsert(replace(TFKW, active=False))
    assert index.search("头孢") == []
    index.upsert(AMX)  # reactivated
    assert ids(index.search("amx")) == [1]
    assert len(index) == 2


def test_batch_of_writes_rebuilds_once_and_stays_consistent() -> None:
    base = many(100)
    index = SearchIndex(base)
    renamed = [replace(d, name="改名" + d.name, mnemonic="GM" + d.mnemonic) for d in base]
    for d in renamed:
        index.upsert(d)
    model = {d.item_id: d for d in renamed}
    for q in ("TCYP1", "GMTCYP1", "改名填充", "药品9", "C1"):
        assert as_tuples(index.search(q, limit=1000)) == reference(model, q)


def test_dense_prefix_range_is_exact() -> None:
    # '690' starts every barcode: far more keys than PREFIX_RANGE_CAP, walked in rank order instead.
    docs = [doc(i, name="药" * (1 + (i * 7919) % 13), barcodes=(f"690{i:010d}",)) for i in range(3000)]
    index = SearchIndex(docs)
    model = {d.item_id: d for d in docs}
    for q in ("690", "6900", "69000000001"):
        assert as_tuples(index.search(q)) == reference(model, q, 20)


def test_dense_prefix_range_over_budget_stays_valid() -> None:
    # Walk budget exhausted: the fill is approximate by design, but every hit must still be a true
    # prefix match, unique, and in order.
    docs = [doc(i, name="药" * (1 + (i * 7919) % 13), barcodes=(f"690{i:010d}",)) for i in range(3000)]
    index = SearchIndex(docs)
    index.DENSE_SCAN_BUDGET, index.PREFIX_RANGE_CAP = 5, 100
    model = {d.item_id: d for d in docs}
    hits = index.search("6900000001", limit=20)
    truth = {i: (rank, field) for i, rank, field in reference(model, "6900000001")}
    assert len(hits) == 20 and len(set(ids(hits))) == 20
    assert all(truth[h.item_id] == (h.rank, h.field) for h in hits)
    keys = [(len(model[i].name), model[i].code, i) for i in ids(hits)]
    assert keys == sorted(keys)


# -- property: the index agrees with the brute-force reference ---------------------------------------

CHARS = "阿莫西林胶囊片aAbB12１Ａ "
text = st.text(alphabet=CHARS, max_size=5)
docs_st = st.builds(
    SearchDoc,
    item_id=st.integers(0, 12),
    code=st.text(alphabet="AB12a", max_size=3),
    name=text,
    generic_name=text,
    mnemonic=st.lists(st.text(alphabet="ABab1", min_size=1, max_size=4), max_size=2).map(" ".join),
    barcodes=st.lists(st.text(alphabet="12１", min_size=1, max_size=4), max_size=2).map(tuple),
    nhsa_code=st.none() | st.text(alphabet="AB12", max_size=4),
    approval_no=st.text(alphabet="国药A12", max_size=4),
    active=st.sampled_from([True, True, True, False]),
)
ops_st = st.lists(st.one_of(docs_st, st.integers(0, 12)), max_size=12)  # doc: upsert, int: remove
random_query = st.text(alphabet=CHARS + "国药", max_size=4)


def field_slices(docs: list[SearchDoc]) -> st.SearchStrategy[str]:
    """Substrings of the docs' own fields, so that most queries hit something."""
    pool = sorted({v for d in docs for v in (d.code, d.name, d.generic_name, d.mnemonic, d.approval_no,
                                              d.nhsa_code or "", *d.barcodes) if v})
    if not pool:
        return random_query
    return st.sampled_from(pool).flatmap(lambda s: st.integers(0, len(s) - 1).flatmap(
        lambda i: st.integers(i + 1, len(s)).map(lambda j: s[i:j])))


@settings(max_examples=300, deadline=None)
@given(initial=st.lists(docs_st, max_size=10), ops=ops_st, rebuild_always=st.booleans(),
       tiny_cap=st.booleans(), walk_ratio=st.sampled_from([0, 1, 8, 10**6]), data=st.data())
def test_matches_reference(initial: list[SearchDoc], ops: list[SearchDoc | int], rebuild_always: bool,
                           tiny_cap: bool, walk_ratio: int, data: st.DataObject) -> None:
    all_docs = initial + [op for op in ops if isinstance(op, SearchDoc)]
    queries = data.draw(st.lists(random_query | field_slices(all_docs), min_size=1, max_size=6))
    index = SearchIndex(initial)
    model = {d.item_id: d for d in initial}
    # Force each maintenance path (rebuild vs. incremental) and each way of ranking a prefix range:
    # sort it (ratio 0), walk the head list (huge ratio), walk a little then sort the rest (ratio 1).
    index.REBUILD_MIN = 0 if rebuild_always else 10**9
    index.WALK_COST_RATIO = walk_ratio
    if tiny_cap:
        index.PREFIX_RANGE_CAP = 1
    for step, op in enumerate(ops):
        if isinstance(op, SearchDoc):
            index.upsert(op)
            model[op.item_id] = op
        else:
            index.remove(op)
            model.pop(op, None)
        if step % 3 == 0:  # search between writes so pending batches of several sizes get flushed
            q = queries[step % len(queries)]
            assert as_tuples(ranked(index.search(q, limit=1000))) == reference(model, q)
    assert len(index) == len(model)
    for q in queries:
        assert as_tuples(ranked(index.search(q, limit=1000))) == reference(model, q)
        assert as_tuples(ranked(index.search(q, limit=3))) == reference(model, q, 3)


def ranked(hits: list[SearchHit]) -> list[SearchHit]:
    """The three ranks the reference models; full-pinyin hits only follow them (tested on their own below)."""
    return [h for h in hits if h.field != "pinyin"]


def pinyin_docs() -> list[SearchDoc]:
    from catalog.mnemonic import mnemonic_variants

    names = ["感冒灵颗粒", "复方感冒灵颗粒", "板蓝根颗粒", "小柴胡颗粒", "维生素C片", "感冒清热颗粒", "绿药膏"]
    return [doc(n, name=name, mnemonic=" ".join(mnemonic_variants(name))) for n, name in enumerate(names, 1)]


def test_full_pinyin_finds_names_spelled_so_after_the_other_ranks() -> None:
    index = SearchIndex(pinyin_docs())
    names = {d.item_id: d.name for d in pinyin_docs()}
    hits = index.search("ganmao")
    assert [(names[h.item_id], h.rank, h.field) for h in hits] == [
        ("感冒灵颗粒", "prefix", "pinyin"), ("感冒清热颗粒", "prefix", "pinyin"), ("复方感冒灵颗粒", "contains", "pinyin")]
    assert [names[i] for i in ids(index.search("ganmaoling"))] == ["感冒灵颗粒", "复方感冒灵颗粒"]
    assert [names[i] for i in ids(index.search("ganmaol"))] == ["感冒灵颗粒", "复方感冒灵颗粒"]  # still typing
    assert [names[i] for i in ids(index.search("ＸＩＡＯＣＨＡＩＨＵ"))] == ["小柴胡颗粒"]  # full-width, as an IME types
    assert [names[i] for i in ids(index.search("lvyao"))] == ["绿药膏"]  # ü typed as v
    # initials and Chinese as before, and the spelled items do not crowd them out
    assert [(names[h.item_id], h.field) for h in index.search("GML")] == [("感冒灵颗粒", "mnemonic"),
                                                                         ("复方感冒灵颗粒", "mnemonic")]
    assert [names[i] for i in ids(index.search("感冒灵"))] == ["感冒灵颗粒", "复方感冒灵颗粒"]
    assert index.search("ganmao", limit=1)[0].item_id == 1
    # what is not pinyin, or is spelled by nothing, finds nothing
    assert index.search("ganmaoxx") == [] and index.search("GMKL") == [] and index.search("zhuangzhuang") == []
