"""A sorted list that stays cheap to update at 100,000s of items: sorted buckets of bounded size.

One flat sorted list would make each insert or removal move every item after it (``list.insert`` is
linear), which is what makes loading a 100,000-product catalog item by item slow. Here items live in
sorted buckets of at most ``2 * LOAD`` items with a list of each bucket's maximum, so an update moves at
most one bucket, and a lookup is two bisections (the bucket, then the place in it). Iteration from a
given item onward and counting a range stay ordered and need no full pass. The same idea as the
``sortedcontainers`` package, cut down to what the catalog index uses.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, Generic, Protocol, TypeVar


class _Comparable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


T = TypeVar("T", bound=_Comparable)

LOAD = 512


class SortedList(Generic[T]):
    """Items kept in ascending order; duplicates allowed."""

    __slots__ = ("_buckets", "_len", "_maxes")

    def __init__(self, items: Iterable[T] = ()) -> None:
        """Start with ``items`` (sorted once, then cut into buckets: a bulk load, not one add per item)."""
        ordered = sorted(items)
        self._buckets: list[list[T]] = [ordered[i : i + LOAD] for i in range(0, len(ordered), LOAD)]
        self._maxes: list[T] = [bucket[-1] for bucket in self._buckets]
        self._len = len(ordered)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[T]:
        for bucket in self._buckets:
            yield from bucket

    def buckets(self) -> Iterator[list[T]]:
        """The items in order, a bucket (at most ``2 * LOAD`` items) at a time; read them, do not change them.

        For callers that filter with a list comprehension per bucket, which runs far faster than a Python
        loop over single items, and still stop early.
        """
        yield from self._buckets

    def add(self, item: T) -> None:
        self._len += 1
        if not self._buckets:
            self._buckets.append([item])
            self._maxes.append(item)
            return
        i = bisect_left(self._maxes, item)
        if i == len(self._maxes):  # beyond every item: the last bucket grows at its end
            i -= 1
            self._buckets[i].append(item)
            self._maxes[i] = item
        else:
            insort(self._buckets[i], item)
        bucket = self._buckets[i]
        if len(bucket) > 2 * LOAD:
            upper = bucket[LOAD:]
            del bucket[LOAD:]
            self._maxes[i] = bucket[-1]
            self._buckets.insert(i + 1, upper)
            self._maxes.insert(i + 1, upper[-1])

    def remove(self, item: T) -> None:
        """Remove one occurrence of ``item``; ``ValueError`` if there is none."""
        i = bisect_left(self._maxes, item)
        if i < len(self._maxes):
            bucket = self._buckets[i]
            j = bisect_left(bucket, item)
            if j < len(bucket) and not (item < bucket[j]):
                del bucket[j]
                self._len -= 1
                if bucket:
                    self._maxes[i] = bucket[-1]
                else:
                    del self._buckets[i]
                    del self._maxes[i]
                return
        raise ValueError(f"{item!r} is not in the list")

    def irange(self, start: T) -> Iterator[T]:
        """The items ``>= start``, in order."""
        i = bisect_left(self._maxes, start)
        if i == len(self._maxes):
            return
        bucket = self._buckets[i]
        yield from islice(bucket, bisect_left(bucket, start), None)
        for bucket in islice(self._buckets, i + 1, None):
            yield from bucket

    def count_range(self, low: T, high: T) -> int:
        """How many items ``x`` satisfy ``low <= x < high``, visiting only the buckets in between."""
        if not (low < high):
            return 0
        i_low, j_low = self._locate(low)
        i_high, j_high = self._locate(high)
        if i_low == i_high:
            return j_high - j_low
        between = sum(len(self._buckets[i]) for i in range(i_low + 1, min(i_high, len(self._buckets))))
        return len(self._buckets[i_low]) - j_low + between + j_high

    def _locate(self, item: T) -> tuple[int, int]:
        """(bucket, offset) where ``item`` would be inserted on the left; (len(buckets), 0) past the end."""
        i = bisect_left(self._maxes, item)
        if i == len(self._maxes):
            return i, 0
        return i, bisect_left(self._buckets[i], item)
