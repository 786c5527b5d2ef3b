"""Property: a FITS round trip keeps data, mask, uncertainty, unit and provenance."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from astropy.nddata import CCDData, StdDevUncertainty
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ccdcal.io import read_ccd, write_ccd
from ccdcal.io.provenance import read_provenance, record_step

_shapes = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24)
_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
_params = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
    st.one_of(st.integers(-(10**9), 10**9), st.floats(allow_nan=False), st.booleans(), _text),
    max_size=5,
)


@st.composite
def frames(draw: st.DrawFn) -> CCDData:
    shape = draw(_shapes)
    dtype = draw(st.sampled_from([np.float32, np.float64, np.uint16, np.int32]))
    if np.dtype(dtype).kind == "f":
        elements = st.floats(width=np.dtype(dtype).itemsize * 8, allow_nan=True)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    data = draw(hnp.arrays(dtype, shape, elements=elements))
    unc_dtype = dtype if np.dtype(dtype).kind == "f" else np.float32
    unc = draw(
        hnp.arrays(
            unc_dtype,
            shape,
            elements=st.floats(0, 2.0**60, width=np.dtype(unc_dtype).itemsize * 8),
        )
    )
    mask = draw(hnp.arrays(np.bool_, shape))
    unit = draw(st.sampled_from(["adu", "electron", "electron / s", "adu / s"]))
    # header floats hold at most 20 characters (FITS), so exposure times like a camera writes
    exptime = round(draw(st.floats(0, 1e5)), 3)
    meta = {"OBJECT": draw(_text), "EXPTIME": exptime}
    ccd = CCDData(data, unit=unit, uncertainty=StdDevUncertainty(unc), mask=mask, meta=meta)
    for step in draw(st.lists(st.sampled_from(["subtract_bias", "subtract_dark"]), max_size=3)):
        record_step(
            ccd,
            step,
            call_args={"ccd": ccd, "note": draw(_text)},
            params=draw(_params),
            calibrations={"master": f"{draw(st.text('abc', min_size=1, max_size=8))}.fits"},
        )
    return ccd


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ccd=frames(), suffix=st.sampled_from([".fits", ".fits.gz", ".fits.fz"]))
def test_round_trip_keeps_everything(ccd: CCDData, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_ccd(ccd, Path(folder) / f"frame{suffix}")
        back = read_ccd(path)
    assert back.data.dtype == ccd.data.dtype
    np.testing.assert_array_equal(back.data, ccd.data)  # NaN compares equal here
    np.testing.assert_array_equal(back.mask, ccd.mask)
    np.testing.assert_array_equal(back.uncertainty.array, ccd.uncertainty.array)
    assert back.unit == ccd.unit
    assert back.meta["OBJECT"] == ccd.meta["OBJECT"].rstrip()  # FITS drops trailing blanks
    assert back.meta["EXPTIME"] == ccd.meta["EXPTIME"]
    assert read_provenance(back.meta) == read_provenance(ccd.meta)
