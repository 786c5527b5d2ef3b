"""Property: ccdcal's one-pass FITS writer writes exactly the bytes astropy writes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ccdcal.io import stream
from ccdcal.io.checksum import array_datasum

_WHEN = "2020-01-02T03:04:05"

_dtypes = st.sampled_from(
    ["<f4", ">f4", "<f8", ">f8", "u1", "i1", "<i2", ">i2", "<u2", ">u2", "<i4", "<u4", "<i8", ">u8"]
)


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(_dtypes))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=40))
    return draw(hnp.arrays(dtype, shape))


def _bytes(writer: str, data: list[np.ndarray], checksum: bool) -> bytes:
    hdul = fits.HDUList([fits.PrimaryHDU(data[0])])
    hdul.extend(fits.ImageHDU(array, name=f"EXT{n}") for n, array in enumerate(data[1:]))
    buffer = io.BytesIO()
    if writer == "astropy":
        hdul.writeto(buffer, checksum=checksum)
    else:
        assert stream.streamable(hdul)
        stream.write_hdulist(hdul, buffer, checksum=checksum)
    return buffer.getvalue()


@settings(max_examples=80, deadline=None)
@given(data=st.lists(arrays(), min_size=1, max_size=3), checksum=st.booleans())
def test_same_bytes_as_astropy(data: list[np.ndarray], checksum: bool) -> None:
    before = [array.copy() for array in data]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fits.hdu.base._ValidHDU, "_get_timestamp", lambda self: _WHEN)
        patch.setattr(stream, "_timestamp", lambda: _WHEN)
        ours = _bytes("ccdcal", data, checksum)
        assert ours == _bytes("astropy", data, checksum)
    for array, original in zip(data, before, strict=True):
        np.testing.assert_array_equal(array, original)  # NaN compares equal here
        assert array.dtype == original.dtype


@given(array=arrays())
def test_datasum_is_the_sum_of_the_big_endian_words(array: np.ndarray) -> None:
    raw = array.astype(array.dtype.newbyteorder(">")).tobytes()
    raw += bytes(-len(raw) % 4)
    total = sum(int.from_bytes(raw[i : i + 4], "big") for i in range(0, len(raw), 4))
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    assert array_datasum(array) == total
