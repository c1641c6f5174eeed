"""In-memory catalog search for the till: exact codes first, then prefixes, then substrings.

Pure data structures, no I/O: the service builds one `SearchIndex` per store from the database and
feeds it `upsert`/`remove` as the catalog changes. Not thread-safe: searches apply pending writes,
so callers serialise access (one event loop, or a lock).

Ranking (see `SearchIndex.search`):
  exact    — the query equals a barcode, 国家医保编码, 批准文号 or item code;
  prefix   — a mnemonic variant, name, generic name or any of those codes starts with the query;
  contains — the query occurs inside the name, generic name or a mnemonic variant.
Then, only while the list is short and the query reads as full pinyin (全拼: GANMAO, GANMAOLING), the items
whose name or generic name is spelled so — from the start (prefix) or inside (contains), field "pinyin". The
index holds no full spellings: the query's initials (GM) find the candidates, as a mnemonic query would, and
each candidate's spelling (catalog.mnemonic.spelled, cached) decides; so the index's size, its build and every
other query cost what they did.
Each item appears once, at its best rank. Within a rank: shorter name, then item code, then item id.

Structures (kept consistent by `_index`/`_unindex`; writes are queued and applied by the next search
or by `flush`, incrementally for a few docs, by one rebuild for a big batch):
  _ranges  first 2 characters -> every prefix key (codes included) with that head, sorted, and the
           item ids alongside, ties in rank order. bisect gives the keys equal to the query (exact
           rank, kept if the key is one of the doc's codes) and the keys starting with a 3+ char
           query. Bucketing by head keeps an incremental insert's memmove to one field's worth of
           keys; one sorted list of all ~900k keys made every upsert cost ~2.5 ms.
  _heads   first 1 and 2 characters of every prefix key -> item ids in rank order. Short queries have
           huge bisect ranges (a 1-char query can match most of 100k items) but their top hits are
           simply the head of this list, so they are exact and O(limit).
  _grams   every unigram and bigram of the contains texts -> item ids in rank order. A query's rarest
           bigram list is a superset of its matches, already ordered, so we test candidates in order
           and stop after `limit` hits instead of intersecting whole lists.
  _prefix_blob / _contains_blob  per doc, its keys joined by NUL, so "does any key start with /
           contain q" is one C-level `in`, run over candidate lists by compress/map without a
           Python-level loop.
Keeping the id lists in rank order (insort by sort key) is what lets every rank stop early. Results
are exact (equal to a brute-force scan) except in one documented corner: see PREFIX_RANGE_CAP.

At 100k items the index holds ~125 MB. The service should gc.freeze() after loading the catalog:
a full cyclic-GC pass over 100k SearchDocs costs ~200 ms, which would otherwise land on a keystroke.
"""

from __future__ import annotations

import gc
import operator
import re
import unicodedata
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import compress, islice, repeat
from typing import Literal

Rank = Literal["exact", "prefix", "contains"]
Field = Literal["barcode", "nhsa_code", "approval_no", "code", "mnemonic", "name", "generic_name", "pinyin"]
SortKey = tuple[int, str, int]

# Which fields take part in each rank, in the order used to name the matched field of a hit.
EXACT_FIELDS: tuple[Field, ...] = ("barcode", "nhsa_code", "approval_no", "code")
PREFIX_FIELDS: tuple[Field, ...] = ("mnemonic", "name", "generic_name", "code", "barcode", "nhsa_code",
                                    "approval_no")
CONTAINS_FIELDS: tuple[Field, ...] = ("name", "generic_name", "mnemonic")

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LOWER = re.compile(r"[a-z]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Joins a doc's keys into one string so a single C-level `in` tests all of them. Normalised text
# never contains it (control characters are dropped), so a match can never straddle two keys.
_SEP = "\x00"
_MAX_CHAR = "\U0010ffff"  # q + this bounds the bisect range of keys starting with q


@dataclass(frozen=True)
class SearchDoc:
    item_id: int
    code: str
    name: str
    generic_name: str
    mnemonic: str  # may hold several space-separated variants (多音字); any of them matches
    barcodes: tuple[str, ...]
    nhsa_code: str | None
    approval_no: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class SearchHit:
    item_id: int
    rank: Rank
    field: Field  # the first field (in the rank's field order) that matched


def normalise(text: str) -> str:
    """NFKC (full-width digits/letters -> half-width), control characters dropped, stripped, ASCII
    letters uppercased. Applied to queries and to indexed fields alike, so both sides always agree."""
    if not text.isascii():  # ASCII is NFKC-stable; most codes skip the call
        text = unicodedata.normalize("NFKC", text)
    if not text.isprintable():  # cheap check first: scanners append \r, \t, GS1 separators
        text = _CONTROL.sub("", text)
    text = text.strip()
    # str.upper would also fold non-ASCII letters (ß -> SS, Greek); only ASCII codes are uppercase.
    if not _ASCII_LOWER.search(text):
        return text  # the common case; returning the caller's own string lets the index share it
    return text.upper() if text.isascii() else text.translate(_ASCII_UPPER)


def field_values(doc: SearchDoc, field: Field) -> list[str]:
    """The doc's normalised values of one field, empty ones left out."""
    if field == "mnemonic":
        return normalise(doc.mnemonic).split()
    raws = doc.barcodes if field == "barcode" else (getattr(doc, field) or "",)
    return [value for raw in raws if (value := normalise(raw))]


# doc_values' order: every field once
_VALUE_FIELDS: tuple[Field, ...] = ("mnemonic", "name", "generic_name", "code", "nhsa_code", "approval_no", "barcode")


def doc_values(doc: SearchDoc) -> list[tuple[Field, str]]:
    """The doc's searchable (field, normalised value) pairs, empty values left out."""
    return [(field, value) for field in _VALUE_FIELDS for value in field_values(doc, field)]


def sort_key(doc: SearchDoc) -> SortKey:
    """Order within a rank: shorter name first, then item code; item id makes it total."""
    return (len(doc.name), doc.code, doc.item_id)


def matched_field(doc: SearchDoc, query: str, rank: Rank) -> Field | None:
    """The first field, in the rank's field order, that matches the normalised query at that rank."""
    test: Callable[[str, str], bool]
    if rank == "exact":
        fields, test = EXACT_FIELDS, str.__eq__
    elif rank == "prefix":
        fields, test = PREFIX_FIELDS, str.startswith
    else:
        fields, test = CONTAINS_FIELDS, lambda value, q: q in value
    # Field by field, stopping at the first that matches: named for every hit of every keystroke, and most
    # hits match on their rank's first field, so the others are not normalised for nothing.
    for field in fields:
        if any(test(v, query) for v in field_values(doc, field)):
            return field
    return None


def _parts(doc: SearchDoc) -> tuple[tuple[str, ...], list[str], list[str]]:
    """(exact keys, prefix keys, contains texts), normalised and de-duplicated. Same values as
    doc_values() without the field labels: this runs 100k times per rebuild."""
    mnemonics = normalise(doc.mnemonic).split()
    name, generic = normalise(doc.name), normalise(doc.generic_name)
    codes = [normalise(c) for c in (*doc.barcodes, doc.nhsa_code or "", doc.approval_no, doc.code)]
    exact = tuple(dict.fromkeys(c for c in codes if c))
    prefix = [k for k in dict.fromkeys([*mnemonics, name, generic, *exact]) if k]
    texts = [t for t in dict.fromkeys([name, generic, *mnemonics]) if t]
    return exact, prefix, texts


def _heads(keys: list[str]) -> set[str]:
    return {k[:1] for k in keys} | {k[:2] for k in keys}


def _grams(texts: list[str]) -> set[str]:
    out: set[str] = set()
    for text in texts:
        out.update(text)  # unigrams
        out.update(map(operator.add, text, text[1:]))  # bigrams, without a Python-level loop
    return out


class SearchIndex:
    """Per-store in-memory catalog index. Writes are O(1) and queued; the next search applies them."""

    # A 3+ char prefix query is answered one of two ways. Sorting the ids of its bisect range by sort
    # key is exact but costs ~1 us per key; walking the 2-char head list (rank order) and testing each
    # doc costs ~0.1 us per doc and can stop at `limit` hits. We walk when the expected walk
    # (needed * len(head) / range size) is under WALK_COST_RATIO * range size, sort otherwise.
    WALK_COST_RATIO = 8
    # Ranges up to this many keys are always answered exactly (walk, then sort the rest of the range).
    # A longer range (a code prefix shared by many items: '690', '国药准', 'XA0') is only walked, at
    # most DENSE_SCAN_BUDGET docs; should that not fill the limit, the rest come from the first
    # PREFIX_RANGE_CAP keys of the range, sorted — deterministic, but not necessarily the global best.
    # It takes a prefix that is common yet sparse within its 2-char head; the cashier types on anyway.
    PREFIX_RANGE_CAP = 2048
    DENSE_SCAN_BUDGET = 16384
    # More pending docs than this (or than 1/REBUILD_FRACTION of the index) are applied by one full
    # rebuild (~3 s at 100k); fewer are applied one by one (~1-1.5 ms each).
    REBUILD_MIN = 512
    REBUILD_FRACTION = 40
    # A full-pinyin query checks at most this many candidates' spellings (~20 us each the first time).
    PINYIN_BUDGET = 4096

    def __init__(self, docs: Iterable[SearchDoc] = ()) -> None:
        self._docs: dict[int, SearchDoc] = {d.item_id: d for d in docs}
        self._pending: set[int] = set()
        self._rebuild()

    def __len__(self) -> int:
        """Docs held, inactive ones included (they are kept so that reactivation is a plain upsert)."""
        return len(self._docs)

    def upsert(self, doc: SearchDoc) -> None:
        if self._docs.get(doc.item_id) == doc:
            return  # refreshes resend unchanged rows; don't queue work for them
        self._docs[doc.item_id] = doc
        self._pending.add(doc.item_id)

    def remove(self, item_id: int) -> None:
        """Forget an item; removing an unknown id is a no-op (sync may replay deletions)."""
        if self._docs.pop(item_id, None) is not None:
            self._pending.add(item_id)

    def flush(self) -> None:
        """Apply queued writes now (e.g. right after a sync) so the next keystroke doesn't pay for them.
        `search` calls this itself."""
        if not self._pending:
            return
        if len(self._pending) > max(self.REBUILD_MIN, len(self._sortkeys) // self.REBUILD_FRACTION):
            self._rebuild()
            return
        for item_id in sorted(self._pending):
            if item_id in self._sortkeys:
                self._unindex(item_id)
            doc = self._docs.get(item_id)
            if doc is not None and doc.active:
                self._index(doc)
        self._pending.clear()

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        q = normalise(query)
        if not q or limit <= 0:
            return []
        self.flush()
        ranked: list[tuple[Rank, list[int]]] = []
        exact = self._exact_ids(q, limit)
        ranked.append(("exact", exact))
        found = len(exact)
        if found < limit:
            prefix = self._prefix_ids(q, limit - found, set(exact))
            ranked.append(("prefix", prefix))
            found += len(prefix)
        if found < limit:
            contains = self._contains_ids(q, limit - found)
            ranked.append(("contains", contains))
            found += len(contains)
        hits = []
        for rank, ids in ranked:
            for item_id in ids:
                field = matched_field(self._docs[item_id], q, rank)
                assert field is not None, (item_id, q, rank)
                hits.append(SearchHit(item_id, rank, field))
        if found < limit and q.isascii() and q.isalpha():
            hits += self._pinyin_hits(q, limit - found, {h.item_id for h in hits})
        return hits

    # -- ranks ---------------------------------------------------------------------------------------

    def _exact_ids(self, q: str, limit: int) -> list[int]:
        bucket = self._ranges.get(q[:2])  # a 1-char q looks in the bucket of 1-char keys: right too
        if bucket is None:
            return []
        keys, pids = bucket
        lo = bisect_left(keys, q)
        # Ties are in rank order and a doc holds each key once; the key may be a name, not a code.
        exact_keys = self._exact_keys
        return [i for i in pids[lo:bisect_right(keys, q, lo)] if q in exact_keys[i]][:limit]

    def _prefix_ids(self, q: str, needed: int, exclude: set[int]) -> list[int]:
        head = self._heads.get(q[:2], [])
        if len(q) <= 2:  # every id in a head list matches; it's in rank order, so take the first ones
            return list(islice((i for i in head if i not in exclude), needed))
        keys, pids = self._ranges.get(q[:2], ([], []))
        lo = bisect_left(keys, q)
        size = bisect_left(keys, q + _MAX_CHAR, lo) - lo
        if not size:
            return []
        dense = size > self.PREFIX_RANGE_CAP
        if dense or needed * len(head) < self.WALK_COST_RATIO * size * size:
            budget = self.DENSE_SCAN_BUDGET if dense else 2 * self.WALK_COST_RATIO * size
            walked = head[:budget]
            out = _first(walked, self._prefix_blob, _SEP + q, needed, exclude)
            if len(out) == needed or len(walked) == len(head):
                return out
        else:
            out = []
        # Every match in the walked part is in `out`, so whatever is added here ranks after it.
        rest = set(pids[lo:lo + min(size, self.PREFIX_RANGE_CAP)]) - exclude - set(out)
        return out + sorted(rest, key=self._sortkeys.__getitem__)[:needed - len(out)]

    def _contains_ids(self, q: str, needed: int) -> list[int]:
        if len(q) <= 2:
            candidates = self._grams.get(q)  # exactly the docs containing q: no need to verify
        else:  # the rarest bigram's list holds every match; verify each candidate
            lists = []
            for i in range(len(q) - 1):
                grams = self._grams.get(q[i:i + 2])
                if grams is None:  # a bigram no document has: nothing contains q
                    return []
                lists.append(grams)
            candidates = min(lists, key=len)
        if not candidates:
            return []
        out = []
        marker, prefix_blob = _SEP + q, self._prefix_blob
        for item_id in _matching(candidates, self._contains_blob, q):
            if marker not in prefix_blob[item_id]:  # else it matched at a better rank
                out.append(item_id)
                if len(out) == needed:
                    break
        return out

    def _pinyin_hits(self, q: str, needed: int, exclude: set[int]) -> list[SearchHit]:
        """Items whose name (or generic name) is spelled q in full pinyin: those it begins, then those it is
        inside, each in rank order. The candidates are the items holding the initials q reads as."""
        # Imported on the first full-pinyin query: pypinyin's dictionaries cost half a second the service's start
        # need not pay (tests/server/test_start_up.py holds it to that).
        from catalog.mnemonic import pinyin_initials, spelled

        starts: list[int] = []
        inside: list[int] = []
        seen = set(exclude)
        budget = self.PINYIN_BUDGET
        for initials in pinyin_initials(q):
            candidates = self._grams.get(initials[:2])
            if not candidates:
                continue
            for item_id in _matching(candidates, self._contains_blob, initials):
                if item_id in seen:
                    continue
                seen.add(item_id)
                doc = self._docs[item_id]
                spellings = (spelled(doc.name), spelled(doc.generic_name))
                if any(s.startswith(q) for s in spellings):
                    starts.append(item_id)
                elif any(q in s for s in spellings):
                    inside.append(item_id)
                budget -= 1
                if len(starts) >= needed or not budget:
                    break
            if len(starts) >= needed or not budget:
                break
        rank_of = self._sortkeys.__getitem__
        prefix: Rank = "prefix"
        contains: Rank = "contains"
        found = [(i, prefix) for i in sorted(starts, key=rank_of)] + [(i, contains) for i in sorted(inside, key=rank_of)]
        return [SearchHit(i, rank, "pinyin") for i, rank in found[:needed]]

    # -- maintenance ---------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        # Millions of small acyclic objects: generational GC passes would only re-walk them.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._build()
        finally:
            if gc_was_enabled:
                gc.enable()
        self._pending.clear()

    def _build(self) -> None:
        active = sorted((d for d in self._docs.values() if d.active), key=sort_key)
        # Per-doc data lives in dicts of str and str-tuples, not in one object per doc: the cyclic GC
        # stops tracking such tuples, so 100k indexed docs add almost nothing to a full collection.
        self._sortkeys: dict[int, SortKey] = {}
        self._exact_keys: dict[int, tuple[str, ...]] = {}
        self._prefix_blob: dict[int, str] = {}  # _SEP + key1 + _SEP + key2 ...: (_SEP + q) in blob
        self._contains_blob: dict[int, str] = {}  # text1 + _SEP + text2 ...: q in blob  (one C call)
        # defaultdict while building (setdefault would allocate a throwaway list per call), plain after.
        heads: defaultdict[str, list[int]] = defaultdict(list)
        grams: defaultdict[str, list[int]] = defaultdict(list)
        range_keys: defaultdict[str, list[str]] = defaultdict(list)
        range_ids: defaultdict[str, list[int]] = defaultdict(list)
        for doc in active:  # in rank order, so appends keep every id list in rank order
            item_id = doc.item_id
            _, prefix, texts = self._store(doc)
            for head in _heads(prefix):
                heads[head].append(item_id)
            for gram in _grams(texts):
                grams[gram].append(item_id)
            for key in prefix:
                range_keys[key[:2]].append(key)
                range_ids[key[:2]].append(item_id)
        self._heads: dict[str, list[int]] = dict(heads)
        self._grams: dict[str, list[int]] = dict(grams)
        # A stable sort by key alone leaves ties in rank order, without building (key, rank) tuples.
        self._ranges: dict[str, tuple[list[str], list[int]]] = {}
        for head, keys in range_keys.items():
            ids = range_ids[head]
            order = sorted(range(len(keys)), key=keys.__getitem__)
            self._ranges[head] = ([keys[i] for i in order], [ids[i] for i in order])

    def _store(self, doc: SearchDoc) -> tuple[tuple[str, ...], list[str], list[str]]:
        exact, prefix, texts = _parts(doc)
        item_id = doc.item_id
        self._sortkeys[item_id] = sort_key(doc)
        self._exact_keys[item_id] = exact
        self._prefix_blob[item_id] = "".join(_SEP + k for k in prefix)
        self._contains_blob[item_id] = _SEP.join(texts)
        return exact, prefix, texts

    def _index(self, doc: SearchDoc) -> None:
        item_id = doc.item_id
        _, prefix, texts = self._store(doc)
        rank_of = self._sortkeys.__getitem__
        sk = rank_of(item_id)
        for head in _heads(prefix):
            insort(self._heads.setdefault(head, []), item_id, key=rank_of)
        for gram in _grams(texts):
            insort(self._grams.setdefault(gram, []), item_id, key=rank_of)
        for key in prefix:
            keys, ids = self._ranges.setdefault(key[:2], ([], []))
            at = _position(keys, ids, key, sk, rank_of)
            keys.insert(at, key)
            ids.insert(at, item_id)

    def _unindex(self, item_id: int) -> None:
        """Undo `_index`. Runs before the doc's sort key is replaced: the lists are ordered by it."""
        prefix = self._prefix_blob.pop(item_id).split(_SEP)[1:]
        texts = self._contains_blob.pop(item_id).split(_SEP)
        del self._exact_keys[item_id]
        rank_of, sk = self._sortkeys.__getitem__, self._sortkeys[item_id]
        for head in _heads(prefix):
            _discard(self._heads, head, bisect_left(self._heads[head], sk, key=rank_of))
        for gram in _grams(texts):
            _discard(self._grams, gram, bisect_left(self._grams[gram], sk, key=rank_of))
        for key in prefix:
            keys, ids = self._ranges[key[:2]]
            at = _position(keys, ids, key, sk, rank_of)
            del keys[at], ids[at]
            if not keys:
                del self._ranges[key[:2]]
        del self._sortkeys[item_id]


def _matching(ids: list[int], blobs: dict[int, str], needle: str) -> Iterator[int]:
    """The ids whose blob contains needle, lazily, in order. compress/map keep the per-id work in C
    (~0.1 us): a sparse query may have to test every id of a 10k-long list within the 5 ms budget."""
    return compress(ids, map(operator.contains, map(blobs.__getitem__, ids), repeat(needle)))


def _first(ids: list[int], blobs: dict[int, str], needle: str, needed: int, exclude: set[int]) -> list[int]:
    return list(islice((i for i in _matching(ids, blobs, needle) if i not in exclude), needed))


def _position(keys: list[str], ids: list[int], key: str, sk: SortKey,
              rank_of: Callable[[int], SortKey]) -> int:
    """Where (key, sk) is, or belongs, in a (key, rank)-ordered pair of parallel lists."""
    lo = bisect_left(keys, key)
    return bisect_left(ids, sk, lo, bisect_right(keys, key, lo), key=rank_of)


def _discard(lists: dict[str, list[int]], key: str, at: int) -> None:
    ids = lists[key]
    del ids[at]
    if not ids:
        del lists[key]  # 1-char queries would otherwise keep probing empty lists; also frees memory
