"""The sorting network that orders each pixel's values (and the frame ids that go with them)."""

from __future__ import annotations

import numpy as np
import pytest

from ccdcal.stacking._rowstats import apply_network, sorting_network


@pytest.mark.parametrize("n", [2, 3, 5, 10, 17, 40, 64, 100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sorts_every_column_and_carries_the_frame_ids(n: int, dtype: type) -> None:
    rng = np.random.default_rng(n)
    width = 300  # more than one scratch block, and a partial last block
    values = rng.normal(size=(n, width)).astype(dtype)
    values[0, ::7] = np.inf  # invalid values sort to the end
    if n > 2:
        values[1, ::5] = values[2, ::5]  # ties
    data = values.copy()
    ids = np.tile(np.arange(n, dtype=np.int32)[:, None], (1, width))
    apply_network(data, sorting_network(n), ids)
    np.testing.assert_array_equal(data, np.sort(values, axis=0))
    np.testing.assert_array_equal(np.take_along_axis(values, ids.astype(np.intp), axis=0), data)
    np.testing.assert_array_equal(np.sort(ids, axis=0), np.tile(np.arange(n)[:, None], (1, width)))


def test_sorts_without_ids() -> None:
    values = np.random.default_rng(1).normal(size=(12, 50)).astype(np.float32)
    data = values.copy()
    apply_network(data, sorting_network(12), np.empty((0, 0), np.int32))
    np.testing.assert_array_equal(data, np.sort(values, axis=0))
