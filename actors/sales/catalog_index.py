"""The till's in-memory catalog index: exact code lookups and search-as-you-type over 100,000 products.

Matching is on text after :func:`actors.sales.search_text.normalize` (no case, no accents). A product
matches a query when

* every query word is a prefix of some word of its name ("pan ama" finds "Pan Amasado"), or
* the whole query is a prefix of its SKU/PLU, or
* the whole query equals one of its barcodes.

Results: the exact-code matches first (query equal to a barcode or to the SKU), then the rest; each group
by normalized name, then id; at most ``limit``.

Speed: no query looks at every product. Every posting list is kept sorted in result order, so a query
reads one or a few sorted lists, lazily, and stops at ``limit``:

* every 1- and 2-character prefix of every name word has a posting list: a query word that short reads
  it directly (these are the dense queries: "p" matches a third of a minimarket, "ma" starts a hundred
  different words);
* a longer word finds the name words it starts by bisection in the sorted list of distinct words and
  merges their posting lists;
* of several query words, only the one with the fewest postings is read; the others are tested on each
  of its products with a substring test on the sort key (see :func:`_name_key`), a bucket at a time in
  list comprehensions;
* SKU prefixes of 1 or 2 characters have their own posting lists (numeric SKUs make "0" and "00" dense);
  a longer one is a bisection range of the sorted SKUs (a few products), sorted by name.

A query whose words rarely occur together is the slow case: it reads the whole posting list of its rarest
word (at 100,000 products, a few thousand keys, about a millisecond).

Updates keep every structure exact: putting a product again with a changed name, SKU or barcodes removes
its old words, prefixes and codes first, so a renamed product is not found by its old name.
"""

from __future__ import annotations

import heapq
import sys
import uuid
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Final

from actors.sales.errors import InvalidSearchError
from actors.sales.search_text import normalize, split_words, words
from actors.sales.sorted_list import SortedList
from schema.messages.catalog import ProductView

WORD_SHORT: Final = 2  # word prefixes up to this length have their own posting lists
SKU_SHORT: Final = 2  # SKU prefixes too (numeric SKUs make "0" and "00" dense)
# A longer query word that starts more than MERGE_MAX name words, and at least 1/DENSE of the products
# under its first WORD_SHORT characters, reads that prefix's posting list instead of merging word lists.
MERGE_MAX: Final = 4
DENSE: Final = 4

NameKey = str  # see _name_key


def _name_key(name: str, name_words: Sequence[str], product_id: uuid.UUID) -> NameKey:
    """``"<normalized name>\\0<id, 32 hex digits>\\0 <word> <word>..."``: what posting lists hold.

    Sorting these strings sorts by name, then id (the id has a fixed width and is unique, so the words
    after it never decide an order). One string compares in C, where a (name, UUID) tuple would call
    ``UUID.__lt__`` in Python on every tie. The words after the second NUL let a search test "does a word
    start with ``tok``" as ``" tok" in key`` without looking the product up: every word appears there
    after a space, the id has no space, and where the name itself has " tok" a word starts with ``tok``
    (query words are letters and digits only).
    """
    return f"{name}\0{product_id.hex}\0 {' '.join(name_words)}"  # normalize() leaves no NUL in a name


def _word_prefixes(name_words: Iterable[str]) -> set[str]:
    """The 1- and 2-character word prefixes with posting lists (``WORD_SHORT``), each once."""
    return {word[:1] for word in name_words} | {word[:2] for word in name_words}


def _sku_prefixes(sku: str) -> tuple[str, ...]:
    """The 1- and 2-character prefixes of a SKU with posting lists (``SKU_SHORT``)."""
    return (sku[:1], sku[:2]) if len(sku) > 1 else (sku,)


def _having(keys: Sequence[NameKey], needles: Sequence[str]) -> Sequence[NameKey]:
    """The keys containing every needle (list comprehensions, so the loop runs in C-speed bytecode)."""
    for needle in needles:
        keys = [key for key in keys if needle in key]
    return keys


def _having_lazily(keys: Sequence[NameKey], needles: Sequence[str]) -> Iterable[NameKey]:
    """:func:`_having` over ``keys`` in order, in growing slices: a dense match reads a few keys, a sparse one
    still runs in list comprehensions."""
    if not needles:
        return keys
    return chain.from_iterable(
        _having(keys[start : start + size], needles) for start, size in _slices(len(keys))
    )


def _slices(length: int) -> Iterator[tuple[int, int]]:
    """(start, size) covering ``range(length)``: 16, 32, 64... up to 1024 at a time."""
    start, size = 0, 16
    while start < length:
        yield start, size
        start += size
        size = min(2 * size, 1024)


def _distinct(keys: Iterable[NameKey]) -> Iterator[NameKey]:
    """Drop repeats from an ordered stream (a product under two merged words comes twice, side by side)."""
    last = None
    for key in keys:
        if key != last:
            yield key
            last = key


@dataclass(frozen=True, slots=True)
class _Entry:
    view: ProductView
    key: NameKey
    words: tuple[str, ...]  # distinct, interned: 100,000 names share a few thousand word strings
    sku: str
    barcodes: tuple[str, ...]  # tuples, not sets: a product has one or two, and sets cost 200 bytes

    @classmethod
    def of(cls, view: ProductView) -> _Entry:
        name = normalize(view.name)
        name_words = split_words(name)
        return cls(
            view=view,
            key=_name_key(name, name_words, view.id),
            words=tuple(sys.intern(word) for word in dict.fromkeys(name_words)),
            sku=normalize(view.sku),
            barcodes=tuple(sorted({code for code in map(normalize, view.barcodes) if code})),
        )

    def same_index(self, other: _Entry) -> bool:
        mine = (self.key, self.sku, self.barcodes)
        return mine == (other.key, other.sku, other.barcodes)


# Exact codes map to a tuple of ids: almost always one, several only when data shares a code by mistake.
def _add_id(postings: dict[str, tuple[uuid.UUID, ...]], code: str, product_id: uuid.UUID) -> None:
    postings[code] = (*postings.get(code, ()), product_id)


def _discard_id(postings: dict[str, tuple[uuid.UUID, ...]], code: str, product_id: uuid.UUID) -> None:
    ids = tuple(i for i in postings[code] if i != product_id)
    if ids:
        postings[code] = ids
    else:
        del postings[code]


def _add_key(postings: dict[str, SortedList[NameKey]], prefix: str, key: NameKey) -> None:
    keys = postings.get(prefix)
    if keys is None:
        keys = postings[prefix] = SortedList()
    keys.add(key)


def _discard_key(postings: dict[str, SortedList[NameKey]], prefix: str, key: NameKey) -> None:
    keys = postings[prefix]
    keys.remove(key)
    if not keys:
        del postings[prefix]


class CatalogIndex:
    """Products by id, by exact code and by search (rules in the module docstring)."""

    def __init__(self, views: Iterable[ProductView] = ()) -> None:
        self.load(views)

    def _clear(self) -> None:
        self._entries: dict[uuid.UUID, _Entry] = {}
        self._keyed: dict[NameKey, _Entry] = {}
        self._words: SortedList[str] = SortedList()  # distinct name words
        self._word_keys: dict[str, list[NameKey]] = {}  # word -> products having it, in result order
        self._prefix_keys: dict[str, SortedList[NameKey]] = {}  # short word prefix -> products
        self._skus: SortedList[tuple[str, NameKey]] = SortedList()
        self._sku_prefix_keys: dict[str, SortedList[NameKey]] = {}  # short SKU prefix -> products
        self._sku_ids: dict[str, tuple[uuid.UUID, ...]] = {}
        self._barcode_ids: dict[str, tuple[uuid.UUID, ...]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, product_id: uuid.UUID) -> ProductView | None:
        entry = self._entries.get(product_id)
        return entry.view if entry is not None else None

    # -- updates ------------------------------------------------------------------------------------

    def load(self, views: Iterable[ProductView]) -> None:
        """Replace everything with ``views`` (a repeated id: the last one wins), sorting each list once.

        Loading a catalog at start-up one :meth:`put` at a time would insert into sorted lists hundreds
        of thousands of times; collecting the postings first and sorting each list once gives the same
        index several times faster.
        """
        self._clear()
        entries = {view.id: _Entry.of(view) for view in views}
        word_keys: defaultdict[str, list[NameKey]] = defaultdict(list)
        prefix_keys: defaultdict[str, list[NameKey]] = defaultdict(list)
        sku_prefix_keys: defaultdict[str, list[NameKey]] = defaultdict(list)
        skus = []
        for product_id, entry in entries.items():
            key = entry.key
            self._keyed[key] = entry
            for word in entry.words:
                word_keys[word].append(key)
            for prefix in _word_prefixes(entry.words):
                prefix_keys[prefix].append(key)
            if entry.sku:
                skus.append((entry.sku, key))
                _add_id(self._sku_ids, entry.sku, product_id)
                for prefix in _sku_prefixes(entry.sku):
                    sku_prefix_keys[prefix].append(key)
            for code in entry.barcodes:
                _add_id(self._barcode_ids, code, product_id)
        self._entries = entries
        self._word_keys = {word: sorted(keys) for word, keys in word_keys.items()}
        self._words = SortedList(self._word_keys)
        self._prefix_keys = {prefix: SortedList(keys) for prefix, keys in prefix_keys.items()}
        self._skus = SortedList(skus)
        self._sku_prefix_keys = {prefix: SortedList(keys) for prefix, keys in sku_prefix_keys.items()}

    def put(self, view: ProductView) -> None:
        """Add ``view`` or replace the product with its id (a price change re-indexes nothing)."""
        entry = _Entry.of(view)
        old = self._entries.get(view.id)
        self._entries[view.id] = entry
        if old is not None:
            if old.same_index(entry):
                self._keyed[entry.key] = entry  # same postings, new view (a price change)
                return
            self._unindex(old)
        self._index(entry)

    def remove(self, product_id: uuid.UUID) -> bool:
        """Forget a product; False if it was not there."""
        entry = self._entries.pop(product_id, None)
        if entry is None:
            return False
        self._unindex(entry)
        return True

    def _index(self, entry: _Entry) -> None:
        key = entry.key
        self._keyed[key] = entry
        for word in entry.words:
            keys = self._word_keys.get(word)
            if keys is None:
                self._word_keys[word] = [key]
                self._words.add(word)
            else:
                insort(keys, key)
        for prefix in _word_prefixes(entry.words):
            _add_key(self._prefix_keys, prefix, key)
        if entry.sku:
            self._skus.add((entry.sku, key))
            _add_id(self._sku_ids, entry.sku, entry.view.id)
            for prefix in _sku_prefixes(entry.sku):
                _add_key(self._sku_prefix_keys, prefix, key)
        for code in entry.barcodes:
            _add_id(self._barcode_ids, code, entry.view.id)

    def _unindex(self, entry: _Entry) -> None:
        key = entry.key
        del self._keyed[key]
        for word in entry.words:
            keys = self._word_keys[word]
            del keys[bisect_left(keys, key)]
            if not keys:
                del self._word_keys[word]
                self._words.remove(word)
        for prefix in _word_prefixes(entry.words):
            _discard_key(self._prefix_keys, prefix, key)
        if entry.sku:
            self._skus.remove((entry.sku, key))
            _discard_id(self._sku_ids, entry.sku, entry.view.id)
            for prefix in _sku_prefixes(entry.sku):
                _discard_key(self._sku_prefix_keys, prefix, key)
        for code in entry.barcodes:
            _discard_id(self._barcode_ids, code, entry.view.id)

    # -- lookups ------------------------------------------------------------------------------------

    def by_code(self, code: str) -> ProductView | None:
        """The product whose barcode, else whose SKU/PLU, is ``code`` (case-insensitive for SKUs).

        A code shared by several products (a data error elsewhere) gives the first by name, then id,
        so the answer does not depend on load order.
        """
        query = normalize(code)
        ids = self._barcode_ids.get(query) or self._sku_ids.get(query)
        if not ids:
            return None
        return self._entries[min(ids, key=lambda i: self._entries[i].key)].view

    def search(self, q: str, limit: int = 20) -> list[ProductView]:
        """Products matching ``q``, exact-code matches first, then by name; at most ``limit``."""
        if limit < 1:
            raise InvalidSearchError(f"search limit must be at least 1, got {limit}", limit=limit)
        query = normalize(q)
        if not query:
            return []
        exact = {*self._barcode_ids.get(query, ()), *self._sku_ids.get(query, ())}
        first = sorted(self._entries[i].key for i in exact)[:limit]
        streams = [self._sku_stream(query)]
        tokens = set(words(q))
        if tokens:
            streams.append(self._name_stream(tokens))
        others = (key for key in _distinct(heapq.merge(*streams)) if self._keyed[key].view.id not in exact)
        rest = list(islice(others, limit - len(first)))
        return [self._keyed[key].view for key in first + rest]

    def _word_lists(self, token: str) -> list[list[NameKey]]:
        """The posting lists of the name words that ``token`` (longer than ``WORD_SHORT``) starts."""
        lists = []
        for word in self._words.irange(token):
            if not word.startswith(token):
                break
            lists.append(self._word_keys[word])
        return lists

    def _name_stream(self, tokens: set[str]) -> Iterable[NameKey]:
        """Products whose name has every token as a word prefix, in result order.

        The token with the fewest postings drives; the others are needles tested on its products. A long
        token drives as a lazy merge of the posting lists of the words it starts, unless it starts many
        words (brand names share syllables: "chi" starts hundreds) and makes up a good part of the posting
        list of its first ``WORD_SHORT`` characters: then that one list, with the token itself as one more
        needle, costs less than opening hundreds of lists.
        """
        sizes: dict[str, int] = {}
        merges: dict[str, list[list[NameKey]]] = {}
        for token in tokens:
            if len(token) <= WORD_SHORT:
                sizes[token] = len(self._prefix_keys.get(token, ()))
            else:
                merges[token] = self._word_lists(token)
                sizes[token] = sum(map(len, merges[token]))
            if not sizes[token]:
                return ()  # no word starts with this token: nothing matches by name
        driver = min(sizes, key=lambda token: (sizes[token], token))
        needles = [" " + token for token in sorted(tokens - {driver})]
        word_lists = merges.get(driver, [])
        prefixed = self._prefix_keys[driver[:WORD_SHORT]]
        if not word_lists or (len(word_lists) > MERGE_MAX and len(prefixed) <= DENSE * sizes[driver]):
            if word_lists:
                needles.append(" " + driver)
            return chain.from_iterable(_having(bucket, needles) for bucket in prefixed.buckets())
        if len(word_lists) == 1:
            return _having_lazily(word_lists[0], needles)
        return _distinct(heapq.merge(*(_having_lazily(keys, needles) for keys in word_lists)))

    def _sku_stream(self, query: str) -> Iterable[NameKey]:
        """Products whose SKU starts with ``query``, in result order."""
        if len(query) <= SKU_SHORT:
            return self._sku_prefix_keys.get(query, ())
        keys = []
        for sku, key in self._skus.irange((query, "")):
            if not sku.startswith(query):
                break
            keys.append(key)
        return sorted(keys)
