"""Compiled loops that sum FITS data units for :mod:`ccdcal.io.checksum`.

Apart from it so that importing the FITS reader and writer does not load numba
(~0.2 s): the checksum imports this module when it first sums an array.

Examples
--------
>>> import numpy as np
>>> int(sum_words(np.array([1, 2**32 - 1], dtype=np.uint32)))
4294967296
>>> int(sum_swapped_words(np.array([1], dtype=np.uint32)))  # 0x00000001 read byte-swapped
16777216
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["sum_swapped_words", "sum_words"]


@njit(cache=True, nogil=True)
def sum_words(values: np.ndarray) -> np.uint64:  # pragma: no cover - compiled
    """Plain sum of a 1-D array of unsigned words of at most 32 bits, in 64 bits.

    One vectorised pass: several times faster than
    ``np.add.reduce(values, dtype=np.uint64)``, which converts in buffers.
    """
    total = np.uint64(0)
    for i in range(values.size):
        total += np.uint64(values[i])
    return total


@njit(cache=True, nogil=True)
def sum_swapped_words(values: np.ndarray) -> np.uint64:  # pragma: no cover - compiled
    """:func:`sum_words` of 32-bit words with their bytes reversed (``byteswap``).

    The bytes of each lane are summed apart (no swap per word), then shifted
    to where the swap puts them.
    """
    byte = np.uint64(0xFF)  # typed constants: uint64 with an int literal is float64 in numba
    one, two, three = np.uint64(8), np.uint64(16), np.uint64(24)
    low = second = third = high = np.uint64(0)
    for i in range(values.size):
        word = np.uint64(values[i])
        low += word & byte
        second += (word >> one) & byte
        third += (word >> two) & byte
        high += word >> three
    return (low << three) + (second << two) + (third << one) + high
