"""Header records of every step (ccdproc form, structured form), dtype fidelity, immutability."""

from __future__ import annotations

import io

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

import ccdcal
from ccdcal.io.provenance import read_provenance


def _calls(lib, ccd, other):
    """The same call of every logged step, for ccdcal or ccdproc."""
    return {
        "subtract_bias": lambda: lib.subtract_bias(ccd, other),
        "subtract_dark": lambda: lib.subtract_dark(
            ccd, other, exposure_time="EXPTIME", exposure_unit=u.s, scale=True
        ),
        "flat_correct": lambda: lib.flat_correct(ccd, other, min_value=50.0),
        "gain_correct": lambda: lib.gain_correct(ccd, 2.0 * u.electron / u.adu),
        "create_deviation": lambda: lib.create_deviation(
            ccd, gain=2.0 * u.electron / u.adu, readnoise=5 * u.electron
        ),
        "trim_image": lambda: lib.trim_image(ccd, "[2:10, 3:5]"),
        "subtract_overscan": lambda: lib.subtract_overscan(
            ccd, fits_section="[1:4, *]", median=True, overscan_axis=1
        ),
    }


STEPS = list(_calls(ccdcal, None, None))


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("header_kind", ["fits", "dict"])
def test_ccdproc_form_is_identical(make_ccd, ccdproc, step, header_kind):
    ccd = make_ccd(header={"EXPTIME": 30.0})
    other = make_ccd(header={"EXPTIME": 60.0}, seed=3)
    if header_kind == "dict":
        ccd.meta, other.meta = dict(ccd.meta), dict(other.meta)
    ours = _calls(ccdcal, ccd, other)[step]()
    ref = _calls(ccdproc, ccd, other)[step]()
    ccdproc_keys = [k for k in ref.meta if k not in ccd.meta]
    assert len(ccdproc_keys) == 2
    for key in ccdproc_keys:
        assert ours.meta[key] == ref.meta[key]
    (rec,) = read_provenance(ours.meta)
    assert rec["step"] == step
    assert rec["version"] == ccdcal.__version__


@pytest.mark.parametrize("add_keyword", [None, False])
def test_logging_off_leaves_header_unchanged(make_ccd, add_keyword):
    ccd = make_ccd(header={"A": 1})
    new = ccdcal.create_deviation(ccd, readnoise=3 * u.adu, add_keyword=add_keyword)
    assert list(new.meta.keys()) == list(ccd.meta.keys())


def test_auto_logging_option_switches_both_forms_off(make_ccd):
    ccd, bias = make_ccd(), make_ccd(seed=2)
    with ccdcal.set_options(auto_logging=False):
        out = ccdcal.ccd_process(ccd, master_bias=bias, saturation=1e9)
    assert len(out.meta) == 0


@pytest.mark.parametrize(
    ("add_keyword", "expected"),
    [
        ("short", {"short": None}),
        ("toolongforfits", {"toolongforfits": None}),
        (
            {"process": "Added deviation", "current_temp": 42.9},
            {"process": "Added deviation", "current_temp": 42.9},
        ),
    ],
)
def test_user_supplied_log_entries(make_ccd, add_keyword, expected):
    ccd = make_ccd()
    ccd.meta = {}
    new = ccdcal.create_deviation(ccd, readnoise=3 * u.adu, add_keyword=add_keyword)
    for key, value in expected.items():
        assert new.meta[key] == value
        assert key not in ccd.meta
    kwd = ccdcal.Keyword("filter", value="V")
    assert ccdcal.subtract_bias(ccd, ccd, add_keyword=kwd).meta["filter"] == "V"


def test_calibration_files_and_checksums_are_recorded(make_ccd):
    ccd = make_ccd(header={"CCDCFILE": "light-001.fits"})
    bias = make_ccd(header={"CCDCFILE": "master-bias.fits"}, seed=4)
    flat = make_ccd(mean=1000, header={"CCDCFILE": "master-flat-V.fits"}, seed=5)
    out = ccdcal.ccd_process(ccd, master_bias=bias, master_flat=flat)
    records = {r["step"]: r for r in read_provenance(out.meta)}
    assert set(records) == {"subtract_bias", "flat_correct", "ccd_process"}
    assert records["subtract_bias"]["calibrations"]["master"]["file"] == "master-bias.fits"
    assert records["flat_correct"]["calibrations"]["flat"]["file"] == "master-flat-V.fits"
    assert records["flat_correct"]["params"]["norm_value"] == pytest.approx(
        flat.data.astype(np.float64).mean()
    )
    other_flat = flat.copy()
    other_flat.data[0, 0] += 1
    again = ccdcal.flat_correct(ccd, other_flat)
    (rec,) = read_provenance(again.meta)
    assert (
        rec["calibrations"]["flat"]["checksum"]
        != (records["flat_correct"]["calibrations"]["flat"]["checksum"])
    )


def test_records_survive_a_fits_round_trip(make_ccd):
    ccd = make_ccd(header={"EXPTIME": 30.0})
    dark = make_ccd(header={"EXPTIME": 300.0}, seed=6)
    out = ccdcal.ccd_process(
        ccd,
        oscan="[1:3, *]",
        trim="[4:30, *]",
        dark_frame=dark[:, 3:],
        exposure_key="EXPTIME",
        exposure_unit=u.s,
        dark_scale=True,
    )
    buffer = io.BytesIO()
    fits.PrimaryHDU(out.data, header=out.header).writeto(buffer, output_verify="exception")
    header = fits.getheader(io.BytesIO(buffer.getvalue()))
    assert header["SUBTRACT_DARK"] == "subdark"
    assert header["SUBDARK"].startswith("ccd=<CCDData>, master=<CCDData>")
    assert [r["step"] for r in read_provenance(header)] == [
        "subtract_overscan",
        "trim_image",
        "subtract_dark",
        "ccd_process",
    ]


# --- dtype fidelity and immutability, for every step -------------------------------------


def _run(step, ccd, other):
    if step in ("block_average", "block_replicate"):
        return getattr(ccdcal, step)(ccd, 2)
    if step == "ccd_process":
        return ccdcal.ccd_process(
            ccd,
            master_bias=other,
            master_flat=other,
            error=True,
            gain=2 * u.electron / u.adu,
            readnoise=5 * u.electron,
            gain_corrected=False,
        )
    return _calls(ccdcal, ccd, other)[step]()


ARITHMETIC = [
    *[s for s in STEPS if s != "trim_image"],
    "block_average",
    "block_replicate",
    "ccd_process",
]


@pytest.mark.parametrize("step", ARITHMETIC)
@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(np.float32, np.float32), (np.uint16, np.float32), (np.float64, np.float64)],
)
def test_dtype_fidelity(make_ccd, step, dtype, expected):
    ccd = make_ccd(dtype=dtype, sigma=2.0, header={"EXPTIME": 30.0})
    other = make_ccd(dtype=dtype, header={"EXPTIME": 60.0}, seed=7)
    out = _run(step, ccd, other)
    if step == "create_deviation":
        assert out.data.dtype == dtype
        assert out.uncertainty.array.dtype == expected
    else:
        assert out.data.dtype == expected
        assert out.uncertainty.array.dtype == expected


@pytest.mark.parametrize("step", [*STEPS, "block_average", "block_replicate", "ccd_process"])
def test_steps_never_change_or_share_their_inputs(make_ccd, unchanged, step):
    snapshot, assert_unchanged = unchanged
    ccd = make_ccd(sigma=2.0, mask_fraction=0.1, header={"EXPTIME": 30.0})
    other = make_ccd(sigma=1.0, mask_fraction=0.1, header={"EXPTIME": 60.0}, seed=8)
    before, before_other = snapshot(ccd), snapshot(other)
    out = _run(step, ccd, other)
    assert out is not ccd
    for plane in (out.data, out.mask, out.uncertainty.array):
        assert not np.shares_memory(plane, ccd.data)
        assert not np.shares_memory(plane, ccd.mask)
        assert not np.shares_memory(plane, ccd.uncertainty.array)
    out.data[...] = 0
    out.mask[...] = True
    out.uncertainty.array[...] = 0
    out.meta["NEW"] = 1
    assert_unchanged(ccd, before)
    assert_unchanged(other, before_other)


def test_variance_uncertainty_is_propagated_as_standard_deviation():
    from astropy.nddata import VarianceUncertainty

    ccd = CCDData(
        np.full((2, 2), 10.0, np.float32),
        unit="adu",
        uncertainty=VarianceUncertainty(np.full((2, 2), 9.0, np.float32)),
    )
    bias = CCDData(
        np.ones((2, 2), np.float32),
        unit="adu",
        uncertainty=VarianceUncertainty(np.full((2, 2), 16.0, np.float32)),
    )
    out = ccdcal.subtract_bias(ccd, bias)
    np.testing.assert_allclose(out.uncertainty.array, 5.0)
