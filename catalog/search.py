"""In-memory catalog search for the till: exact codes first, then prefixes, then substrings.

Pure data structures, no I/O: the service builds one `SearchIndex` per store from the database and
feeds it `upsert`/`remove` as the catalog changes. Not thread-safe: searches apply pending writes,
so callers serialise access (one event loop, or a lock).

Ranking (see `SearchIndex.search`):
  exact    — the query equals a barcode, 国家医保编码, 批准文号 or item code;
  prefix   — a mnemonic variant, name, generic name or any of those codes starts with the query;
  contains — the query occurs inside the name, generic name or a mnemonic variant.
Each item appears once, at its best rank. Within a rank: shorter name, then item code, then item id.

Structures (kept consistent by `_index`/`_unindex`; writes are queued and applied by the next search):
  _ranges  first 2 characters -> every prefix key (codes included) with that head, sorted, and the
           item ids alongside, ties in rank order. bisect gives the keys equal to the query (exact
           rank: kept if the key is one of the doc's codes) and the keys starting with a 3+ char
           query. Bucketing by head keeps each list short, so an incremental insert's memmove is
           cheap; one sorted list of all ~900k keys made a single upsert cost ~2 ms.
  _heads   first 1 and 2 characters of every prefix key -> item ids in rank order. Short queries have
           huge bisect ranges (a 1-char query can match most of 100k items) but their top hits are
           simply the head of this list, so they are exact and O(limit).
  _grams   every unigram and bigram of the contains texts -> item ids in rank order. A query's rarest
           bigram list is a superset of its matches, already ordered, so we verify with `in` and stop
           after `limit` hits instead of intersecting whole lists.
Keeping the id lists in rank order (insort by sort key) is what lets every rank stop early.
"""

from __future__ import annotations

import gc
import operator
import re
import unicodedata
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Literal

Rank = Literal["exact", "prefix", "contains"]
Field = Literal["barcode", "nhsa_code", "approval_no", "code", "mnemonic", "name", "generic_name"]
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


def doc_values(doc: SearchDoc) -> list[tuple[Field, str]]:
    """The doc's searchable (field, normalised value) pairs, empty values left out."""
    out: list[tuple[Field, str]] = [("mnemonic", m) for m in normalise(doc.mnemonic).split()]
    singles: tuple[tuple[Field, str], ...] = (
        ("name", doc.name), ("generic_name", doc.generic_name), ("code", doc.code),
        ("nhsa_code", doc.nhsa_code or ""), ("approval_no", doc.approval_no),
    )
    for field, raw in singles + tuple(("barcode", b) for b in doc.barcodes):
        if value := normalise(raw):
            out.append((field, value))
    return out


def sort_key(doc: SearchDoc) -> SortKey:
    """Order within a rank: shorter name first, then item code; item id makes it total."""
    return (len(doc.name), doc.code, doc.item_id)


def matched_field(doc: SearchDoc, query: str, rank: Rank) -> Field | None:
    """The first field, in the rank's field order, that matches the normalised query at that rank."""
    values = doc_values(doc)
    if rank == "exact":
        fields, test = EXACT_FIELDS, str.__eq__
    elif rank == "prefix":
        fields, test = PREFIX_FIELDS, str.startswith
    else:
        fields, test = CONTAINS_FIELDS, lambda value, q: q in value
    for field in fields:
        if any(f == field and test(v, query) for f, v in values):
            return field
    return None


@dataclass(slots=True)
class _Entry:
    """What the index structures currently hold for one active doc (needed to undo it exactly)."""

    exact_keys: tuple[str, ...]
    prefix_blob: str  # _SEP + key1 + _SEP + key2 ...: (_SEP + q) in blob <=> some key starts with q
    contains_blob: str  # text1 + _SEP + text2 ...: q in blob <=> some text contains q

    def prefix_keys(self) -> list[str]:
        return self.prefix_blob.split(_SEP)[1:]

    def texts(self) -> list[str]:
        return self.contains_blob.split(_SEP)


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


def _entry(exact: tuple[str, ...], prefix: list[str], texts: list[str]) -> _Entry:
    return _Entry(exact, "".join(_SEP + k for k in prefix), _SEP.join(texts))


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

    # Prefix ranges up to this many keys are ranked exactly by sorting their ids by sort key.
    PREFIX_RANGE_CAP = 2048
    # A longer range (3+ char query shared by many codes, e.g. '690' or '国药准') is dense, so we walk
    # the query's 2-char head list in rank order verifying each doc; the first hits found are the true
    # best. If this many docs are walked without filling the limit, the rest come from the first
    # PREFIX_RANGE_CAP keys of the range, sorted: deterministic, but possibly not the global best. Only
    # queries that are both very common and rare within their 2-char head (never seen in practice)
    # get there; the till user types another character anyway.
    DENSE_SCAN_BUDGET = 16384
    # More pending docs than this (or than 1/REBUILD_FRACTION of the index) are applied by one full
    # rebuild; fewer are applied one by one (each costs a few list memmoves on the 800k-key list).
    REBUILD_MIN = 512
    REBUILD_FRACTION = 20

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
        if len(self._pending) > max(self.REBUILD_MIN, len(self._entries) // self.REBUILD_FRACTION):
            self._rebuild()
            return
        for item_id in sorted(self._pending):
            if item_id in self._entries:
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
            ranked.append(("contains", self._contains_ids(q, limit - found)))
        hits = []
        for rank, ids in ranked:
            for item_id in ids:
                field = matched_field(self._docs[item_id], q, rank)
                assert field is not None, (item_id, q, rank)
                hits.append(SearchHit(item_id, rank, field))
        return hits

    # -- ranks ---------------------------------------------------------------------------------------

    def _exact_ids(self, q: str, limit: int) -> list[int]:
        bucket = self._ranges.get(q[:2])  # a 1-char q looks in the bucket of 1-char keys: right too
        if bucket is None:
            return []
        keys, pids = bucket
        lo = bisect_left(keys, q)
        # Ties are in rank order and a doc holds each key once; the key may be a name, not a code.
        entries = self._entries
        ids = [i for i in pids[lo:bisect_right(keys, q, lo)] if q in entries[i].exact_keys]
        return ids[:limit]

    def _prefix_ids(self, q: str, needed: int, exclude: set[int]) -> list[int]:
        if len(q) <= 2:  # every id in a head list matches; it's in rank order, so take the first ones
            return list(islice((i for i in self._heads.get(q, ()) if i not in exclude), needed))
        bucket = self._ranges.get(q[:2])
        if bucket is None:
            return []
        keys, pids = bucket
        lo = bisect_left(keys, q)
        hi = bisect_left(keys, q + _MAX_CHAR, lo)
        if hi - lo <= self.PREFIX_RANGE_CAP:
            ids = set(pids[lo:hi]) - exclude
            return sorted(ids, key=self._sortkeys.__getitem__)[:needed]
        marker, entries, out = _SEP + q, self._entries, []
        head = self._heads[q[:2]]
        for item_id in islice(head, self.DENSE_SCAN_BUDGET):
            if item_id not in exclude and marker in entries[item_id].prefix_blob:
                out.append(item_id)
                if len(out) == needed:
                    return out
        if len(out) < needed and len(head) > self.DENSE_SCAN_BUDGET:
            # Everything matching in the walked part is in `out`, so the fill ranks after it.
            rest = set(pids[lo:lo + self.PREFIX_RANGE_CAP]) - exclude - set(out)
            out += sorted(rest, key=self._sortkeys.__getitem__)[:needed - len(out)]
        return out

    def _contains_ids(self, q: str, needed: int) -> list[int]:
        if len(q) <= 2:
            candidates = self._grams.get(q)  # this gram list is exactly the docs containing q
            verify = False
        else:
            lists = [self._grams.get(q[i:i + 2]) for i in range(len(q) - 1)]
            candidates = None if None in lists else min(lists, key=len)  # type: ignore[arg-type]
            verify = True
        if not candidates:
            return []
        marker, entries, out = _SEP + q, self._entries, []
        for item_id in candidates:
            entry = entries[item_id]
            if marker in entry.prefix_blob:
                continue  # matches at a better rank (exact implies prefix)
            if verify and q not in entry.contains_blob:
                continue
            out.append(item_id)
            if len(out) == needed:
                break
        return out

    # -- maintenance ---------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        # Millions of small acyclic containers: generational GC passes would only re-walk them.
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
        self._sortkeys: dict[int, SortKey] = {d.item_id: sort_key(d) for d in active}
        self._entries: dict[int, _Entry] = {}
        # defaultdict while building (setdefault would allocate a throwaway list per call), plain after.
        heads: defaultdict[str, list[int]] = defaultdict(list)
        grams: defaultdict[str, list[int]] = defaultdict(list)
        range_keys: defaultdict[str, list[str]] = defaultdict(list)
        range_ids: defaultdict[str, list[int]] = defaultdict(list)
        for doc in active:  # in rank order, so appends keep every id list in rank order
            item_id = doc.item_id
            exact, prefix, texts = _parts(doc)
            self._entries[item_id] = _entry(exact, prefix, texts)
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

    def _index(self, doc: SearchDoc) -> None:
        item_id = doc.item_id
        exact, prefix, texts = _parts(doc)
        self._sortkeys[item_id] = sk = sort_key(doc)
        self._entries[item_id] = _entry(exact, prefix, texts)
        rank_of = self._sortkeys.__getitem__
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
        entry = self._entries.pop(item_id)
        rank_of, sk = self._sortkeys.__getitem__, self._sortkeys[item_id]
        prefix = entry.prefix_keys()
        for head in _heads(prefix):
            _discard(self._heads, head, bisect_left(self._heads[head], sk, key=rank_of))
        for gram in _grams(entry.texts()):
            _discard(self._grams, gram, bisect_left(self._grams[gram], sk, key=rank_of))
        for key in prefix:
            keys, ids = self._ranges[key[:2]]
            at = _position(keys, ids, key, sk, rank_of)
            del keys[at], ids[at]
            if not keys:
                del self._ranges[key[:2]]
        del self._sortkeys[item_id]


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
