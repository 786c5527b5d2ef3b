"""dtype policy: which floating type a computation and its result use.

ccdcal keeps precision: float32 data stay float32 through every step, integer
data (uint16 raw frames) are computed in floating point so they never wrap,
and float64 appears only when an input is float64 or when asked for.

Examples
--------
>>> import numpy as np
>>> working_dtype(np.uint16, np.float32)
dtype('float32')
>>> working_dtype(np.float32, np.float64)
dtype('float64')
>>> working_dtype(np.int32)
dtype('float64')
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["working_dtype"]

# Integer types whose every value is exact in float32.
_SMALL_INTS = {np.dtype(t) for t in (np.bool_, np.uint8, np.int8, np.uint16, np.int16)}


def working_dtype(*dtypes: DTypeLike | np.ndarray | None) -> np.dtype:
    """The floating dtype to compute in for inputs of the given dtypes.

    float32 unless one input is float64 (or wider), or an integer type that
    float32 cannot hold exactly (32- and 64-bit integers). ``None`` entries
    (absent calibration frames) are ignored; with no input, float32.
    """
    result = np.dtype(np.float32)
    for item in dtypes:
        if item is None:
            continue
        dt = item.dtype if isinstance(item, np.ndarray) else np.dtype(item)
        if dt.kind == "f":
            cand = np.dtype(np.float64) if dt.itemsize >= 8 else np.dtype(np.float32)
        elif dt.kind in "biu":
            cand = np.dtype(np.float32) if dt in _SMALL_INTS else np.dtype(np.float64)
        elif dt.kind == "c":
            raise TypeError(f"complex data ({dt}) are not CCD data")
        else:
            cand = np.dtype(np.float64)
        result = np.promote_types(result, cand)
    return result
