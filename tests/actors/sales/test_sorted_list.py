from __future__ import annotations

from bisect import bisect_left

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sales import sorted_list
from actors.sales.sorted_list import SortedList

operations = st.lists(st.tuples(st.booleans(), st.integers(0, 60)), max_size=300)


@given(operations, st.integers(0, 61), st.integers(0, 61))
def test_behaves_like_a_sorted_python_list(ops: list[tuple[bool, int]], low: int, high: int) -> None:
    # Tiny buckets, so splits and emptied buckets happen within a few hundred operations.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sorted_list, "LOAD", 2)
        items: SortedList[int] = SortedList()
        model: list[int] = []
        for add, value in ops:
            if add:
                items.add(value)
                model.insert(bisect_left(model, value), value)
            elif value in model:
                items.remove(value)
                model.remove(value)
            else:
                with pytest.raises(ValueError, match="not in the list"):
                    items.remove(value)
            assert len(items) == len(model)
        assert list(items) == model
        assert all(0 < len(bucket) <= 4 for bucket in items.buckets())  # split at 2 * LOAD, none left empty
        assert list(items.irange(low)) == [x for x in model if x >= low]
        assert items.count_range(low, high) == len([x for x in model if low <= x < high])
