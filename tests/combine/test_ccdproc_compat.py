"""ccdproc 2.5.1 compatibility: the same calls give the same numbers where ccdproc is right.

Each test runs ccdproc live on the same inputs.  ccdcal computes in float32
by default (ccdproc in float64), so data are compared to float32 precision;
masks are compared exactly.  Deliberate differences are tested in the other
files and listed in docs/ccdproc-differences.md.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy import units as u
from astropy.nddata import CCDData
from astropy.stats import mad_std

import ccdcal
from ccdcal.errors import InvalidParameterError, StackMismatchError

GUIDE = {
    "method": "average",
    "sigma_clip": True,
    "sigma_clip_low_thresh": 5,
    "sigma_clip_high_thresh": 5,
    "sigma_clip_func": np.ma.median,
    "sigma_clip_dev_func": mad_std,
    "mem_limit": 350e6,
    "unit": "adu",
}


def _ccdproc_combine(ccdproc: Any, *args: Any, **kwargs: Any) -> CCDData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ccdproc.combine(*args, **kwargs)


def _close(ours: CCDData, theirs: CCDData, *, atol: float = 2e-3) -> None:
    np.testing.assert_array_equal(np.asarray(ours.mask), np.asarray(theirs.mask))
    good = ~np.asarray(theirs.mask)
    np.testing.assert_allclose(ours.data[good], theirs.data[good], rtol=2e-7, atol=atol)


# --------------------------------------------------------------------------- combine()


@pytest.mark.parametrize(
    ("func", "dev"),
    [(np.ma.median, mad_std), ("median", "mad_std"), (np.ma.mean, np.ma.std), ("mean", "std")],
)
def test_guide_call_on_raw_files(ccdproc: Any, raw_files: list[Path], func: Any, dev: Any) -> None:
    kwargs = dict(GUIDE, sigma_clip_func=func, sigma_clip_dev_func=dev)
    ours = ccdcal.combine([str(p) for p in raw_files], **kwargs)
    theirs = _ccdproc_combine(ccdproc, [str(p) for p in raw_files], **kwargs)
    assert ours.unit == theirs.unit == u.adu
    _close(ours, theirs)
    if dev in (mad_std, "mad_std"):
        # the cosmic-ray hits were really clipped: the result sits at the bias level
        assert abs(float(np.mean(ours.data)) - 1000.0) < 2.0


def test_guide_call_clips_what_ccdproc_clips(ccdproc: Any, raw_files: list[Path]) -> None:
    """One 5-sigma pass about the median with MAD: identical rejection sets."""
    ours = ccdcal.combine(raw_files, rejection_map=True, **GUIDE)
    stack = np.stack([np.asarray(CCDData.read(p, unit="adu").data, float) for p in raw_files])
    med = np.median(stack, axis=0)
    dev = mad_std(stack, axis=0)
    expected = ((stack < med - 5 * dev) | (stack > med + 5 * dev)).sum(axis=0)
    np.testing.assert_array_equal(ours.flags, expected)
    assert expected.sum() > 0


@pytest.mark.parametrize("method", ["average", "median", "sum"])
def test_plain_methods(ccdproc: Any, raw_files: list[Path], method: str) -> None:
    ours = ccdcal.combine(raw_files, method=method, unit="adu")
    theirs = _ccdproc_combine(ccdproc, [str(p) for p in raw_files], method=method, unit="adu")
    _close(ours, theirs, atol=2e-3 if method != "sum" else 2e-2)


def test_minmax_and_extrema_flags(ccdproc: Any, raw_files: list[Path]) -> None:
    kwargs = {
        "clip_extrema": True,
        "nlow": 1,
        "nhigh": 2,
        "minmax_clip": True,
        "minmax_clip_min": 900,
        "minmax_clip_max": 60000,
        "unit": "adu",
    }
    ours = ccdcal.combine(raw_files, **kwargs)
    theirs = _ccdproc_combine(ccdproc, [str(p) for p in raw_files], **kwargs)
    _close(ours, theirs)


def test_weights_per_frame_and_per_pixel(ccdproc: Any, raw_files: list[Path]) -> None:
    files = [str(p) for p in raw_files]
    w = np.arange(1.0, len(files) + 1)
    _close(
        ccdcal.combine(files, weights=w, unit="adu"),
        _ccdproc_combine(ccdproc, files, weights=w, unit="adu"),
    )
    wpix = np.random.default_rng(2).uniform(0.5, 2.0, (len(files), 30, 41))
    _close(
        ccdcal.combine(files, weights=wpix, unit="adu"),
        _ccdproc_combine(ccdproc, files, weights=wpix, unit="adu"),
    )
    # sum with weights is not normalised, as in ccdproc
    _close(
        ccdcal.combine(files, method="sum", weights=w, unit="adu"),
        _ccdproc_combine(ccdproc, files, method="sum", weights=w, unit="adu"),
        atol=0.05,
    )


def test_scale_function_and_array(ccdproc: Any, raw_files: list[Path]) -> None:
    files = [str(p) for p in raw_files]

    def inv_median(a: np.ndarray) -> float:
        return 1 / np.median(a)

    ours = ccdcal.combine(files, scale=inv_median, unit="adu")
    theirs = _ccdproc_combine(ccdproc, files, scale=inv_median, unit="adu")
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-6)
    factors = np.linspace(0.9, 1.1, len(files))
    _close(
        ccdcal.combine(files, scale=factors, method="median", unit="adu"),
        _ccdproc_combine(ccdproc, files, scale=factors, method="median", unit="adu"),
    )


def test_input_forms(ccdproc: Any, raw_files: list[Path]) -> None:
    """List, ndarray of names, comma-separated string, CCDData list, generator."""
    names = [str(p) for p in raw_files]
    reference = _ccdproc_combine(ccdproc, names, method="median", unit="adu")
    ccds = [CCDData.read(p, unit="adu") for p in names]
    forms = [names, np.array(names), ",".join(names), ccds, (c for c in ccds)]
    for form in forms:
        _close(ccdcal.combine(form, method="median", unit="adu"), reference)


def test_image_file_collection_ccds(ccdproc: Any, raw_files: list[Path]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ifc = ccdproc.ImageFileCollection(raw_files[0].parent)
        theirs = ccdproc.combine(ifc.ccds(ccd_kwargs={"unit": "adu"}), method="average")
        ours = ccdcal.combine(ifc.ccds(ccd_kwargs={"unit": "adu"}), method="average")
    _close(ours, theirs)


@pytest.mark.parametrize("method", ["average", "median", "sum"])
def test_combine_uncertainty_function(ccdproc: Any, raw_files: list[Path], method: str) -> None:
    """ccdproc's rule: f(stack, axis=0) / sqrt(n) (times n for the sum)."""
    names = [str(p) for p in raw_files]
    ours = ccdcal.combine(names, method=method, combine_uncertainty_function=np.std, unit="adu")
    theirs = _ccdproc_combine(
        ccdproc, names, method=method, combine_uncertainty_function=np.std, unit="adu"
    )
    np.testing.assert_allclose(ours.uncertainty.array, theirs.uncertainty.array, rtol=1e-5)


def test_dtype_argument(ccdproc: Any) -> None:
    ccd = CCDData(np.ones((3, 3), dtype=np.uint16), unit="adu")
    frames = [ccd, ccd.multiply(2), ccd.multiply(3)]
    res = ccdcal.combine(frames, dtype=int)
    theirs = _ccdproc_combine(ccdproc, frames, dtype=int)
    assert res.data.dtype == theirs.data.dtype == np.dtype(int)
    np.testing.assert_array_equal(res.data, theirs.data)
    as64 = ccdcal.combine(frames[:2], dtype=np.float64)
    assert as64.data.dtype == np.float64
    np.testing.assert_array_equal(as64.data, _ccdproc_combine(ccdproc, frames[:2]).data)


def test_bad_input_errors() -> None:
    with pytest.raises(ValueError, match="unrecognised input for list of images"):
        ccdcal.combine(1)
    with pytest.raises(ValueError, match="unrecognised combine method"):
        ccdcal.combine([1, 2, 3], method="bad_method")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ccdcal.combine(["no-such-file-1.fits", "no-such-file-2.fits"])


def test_mismatched_frames_raise_type_error() -> None:
    a = CCDData(np.zeros((4, 4)), unit="adu")
    with pytest.raises(TypeError, match="not the same size"):
        ccdcal.combine([a, CCDData(np.zeros((5, 4)), unit="adu")])
    with pytest.raises(TypeError, match="don't have the same unit"):
        ccdcal.combine([a, CCDData(np.zeros((4, 4)), unit="s")])


def test_overwrite_output(tmp_path: Path) -> None:
    output = tmp_path / "fake.fits"
    ccd = CCDData(np.ones((3, 3)), unit="adu")
    ccd.write(output)
    with pytest.raises(OSError, match=r"fake\.fits' already exists"):
        ccdcal.combine([ccd, ccd.multiply(2)], output_file=str(output))
    res = ccdcal.combine([ccd, ccd.multiply(2)], output_file=output, overwrite_output=True)
    np.testing.assert_allclose(CCDData.read(output).data, res.data)


# --------------------------------------------------------------------------- Combiner


def _three(
    values: tuple[float, ...] = (0.0, -1000.0, 1000.0), shape: tuple[int, ...] = (10, 10)
) -> list[CCDData]:
    return [CCDData(np.zeros(shape) + v, unit=u.adu) for v in values]


def test_combiner_construction_errors() -> None:
    with pytest.raises(TypeError, match="ccd_iter should be a list"):
        ccdcal.Combiner(None)
    frame = CCDData(np.zeros((10, 10)), unit=u.adu)
    with pytest.raises(TypeError, match="only contain CCDData"):
        ccdcal.Combiner([frame, frame, None])
    with pytest.raises(TypeError, match="not the same size"):
        ccdcal.Combiner([frame, CCDData(np.zeros((20, 10)), unit=u.adu)])
    with pytest.raises(TypeError, match="same unit"):
        ccdcal.Combiner([frame, CCDData(np.zeros((10, 10)), unit=u.s)])
    assert issubclass(StackMismatchError, TypeError)


def test_combiner_data_arr_and_mask(ccdproc: Any) -> None:
    data = np.zeros((10, 10))
    data[5, 5] = 1
    ccd = CCDData(data, unit=u.adu, mask=data == 0)
    ours, theirs = ccdcal.Combiner([ccd] * 3), ccdproc.Combiner([ccd] * 3)
    assert ours.data_arr.shape == theirs.data_arr.shape == (3, 10, 10)
    np.testing.assert_array_equal(ours.data_arr.mask, theirs.data_arr.mask)
    for name in ("average_combine", "median_combine", "sum_combine"):
        a, b = getattr(ours, name)(), getattr(theirs, name)()
        np.testing.assert_array_equal(a.mask, b.mask)
        assert a.data[5, 5] == b.data[5, 5]
        assert a.meta["NCOMBINE"] == b.meta["NCOMBINE"] == 3


def test_combiner_dtype() -> None:
    ccd = CCDData(np.ones((4, 4)), unit=u.adu)
    c = ccdcal.Combiner([ccd] * 3, dtype=np.float32)
    assert c.data_arr.dtype == np.float32
    for name in ("average_combine", "median_combine", "sum_combine"):
        assert getattr(c, name)().dtype == c.dtype == np.float32
    assert ccdcal.Combiner([CCDData(np.ones((2, 2), np.float32), unit="adu")]).dtype == np.float32
    assert ccdcal.Combiner([CCDData(np.ones((2, 2), np.uint16), unit="adu")]).dtype == np.float32


def test_combiner_weights(ccdproc: Any) -> None:
    ours, theirs = ccdcal.Combiner(_three()), ccdproc.Combiner(_three())
    with pytest.raises(TypeError, match=r"weights must be a numpy.ndarray"):
        ours.weights = 1
    with pytest.raises(ValueError, match="1D weights expected"):
        ours.weights = np.ones((10, 10))
    with pytest.raises(ValueError, match="Length of weights not compatible"):
        ours.weights = np.array([1, 5, 10, 20])
    ours.weights = theirs.weights = np.array([1, 5, 10])
    np.testing.assert_allclose(ours.average_combine().data, 312.5)
    np.testing.assert_allclose(ours.average_combine().data, theirs.average_combine().data)
    np.testing.assert_allclose(ours.sum_combine().data, theirs.sum_combine().data)
    pixel = np.ones((3, 10, 10))
    pixel[:, 5, 5] = [1, 5, 10]
    ours.weights = theirs.weights = pixel
    np.testing.assert_allclose(ours.average_combine().data, theirs.average_combine().data)
    assert ours.average_combine().data[5, 5] == pytest.approx(312.5)


def test_combiner_minmax(ccdproc: Any) -> None:
    c = ccdcal.Combiner(_three())
    c.minmax_clipping(min_clip=-500, max_clip=500)
    assert c.median_combine().data.mean() == 0
    c = ccdcal.Combiner(_three())
    c.minmax_clipping(max_clip=500)
    assert c.data_arr[2].mask.all()
    assert not c.data_arr[1].mask.any()


@pytest.mark.parametrize("outlier", [1000.0, -1000.0])
def test_combiner_sigma_clipping_one_side(ccdproc: Any, outlier: float) -> None:
    values = (0.0, -10.0, 10.0, -10.0, 10.0, outlier)
    high, low = (3, None) if outlier > 0 else (None, 3)
    ours, theirs = ccdcal.Combiner(_three(values)), ccdproc.Combiner(_three(values))
    from astropy.stats import median_absolute_deviation as mad

    for c in (ours, theirs):
        c.sigma_clipping(high_thresh=high, low_thresh=low, func=np.ma.median, dev_func=mad)
    np.testing.assert_array_equal(ours.data_arr.mask, theirs.data_arr.mask)
    assert ours.data_arr[5].mask.all()


def test_combiner_sigma_clipping_single_pixel(ccdproc: Any) -> None:
    from astropy.stats import median_absolute_deviation as mad

    values = (0.0, -10.0, 10.0, -10.0, 10.0, -10.0)
    ours, theirs = ccdcal.Combiner(_three(values)), ccdproc.Combiner(_three(values))
    for c in (ours, theirs):
        c.data_arr[:5, 5, 5] = [0, -5, 5, -5, 25]
        c.sigma_clipping(high_thresh=3, low_thresh=None, func=np.ma.median, dev_func=mad)
    np.testing.assert_array_equal(ours.data_arr.mask, theirs.data_arr.mask)
    assert ours.data_arr.mask[4, 5, 5]


def test_combiner_clip_extrema(ccdproc: Any) -> None:
    frames = [CCDData(np.ones((3, 5)) * v, unit="adu") for v in (90.0, 20, 10, 40, 25, 35)]
    frames[0].data[0, 1] = 3.1
    frames[1].data[1, 2] = 100.1
    frames[1].data[2, 0] = 100.1
    ours, theirs = ccdcal.Combiner(frames), ccdproc.Combiner(frames)
    for c in (ours, theirs):
        c.clip_extrema(nlow=1, nhigh=1)
    np.testing.assert_allclose(ours.average_combine().data, theirs.average_combine().data)
    np.testing.assert_allclose(
        ours.average_combine().data,
        [
            [30.0, 22.5, 30.0, 30.0, 30.0],
            [30.0, 30.0, 47.5, 30.0, 30.0],
            [47.5, 30.0, 30.0, 30.0, 30.0],
        ],
    )
    via_combine = ccdcal.combine(frames, clip_extrema=True, nlow=1, nhigh=1)
    np.testing.assert_allclose(via_combine.data, ours.average_combine().data)


def test_combiner_clip_extrema_3d(ccdproc: Any) -> None:
    frames = [CCDData(np.ones((3, 3, 3)) * v, unit="adu") for v in (90.0, 20, 10, 40, 25, 35)]
    c = ccdcal.Combiner(frames)
    c.clip_extrema(nlow=1, nhigh=1)
    np.testing.assert_allclose(c.average_combine().data, 30.0)


def test_combiner_scaling(ccdproc: Any) -> None:
    base = CCDData(np.random.default_rng(4).normal(100, 5, (20, 20)), unit="adu")
    frames = [base, base.multiply(0.9), base.multiply(3)]

    def scale_by_mean(x: np.ndarray) -> float:
        return float(base.data.mean() / np.ma.average(x))

    ours, theirs = ccdcal.Combiner(frames), ccdproc.Combiner(frames)
    ours.scaling = theirs.scaling = scale_by_mean
    np.testing.assert_allclose(ours.scaling, theirs.scaling)
    np.testing.assert_allclose(
        ours.average_combine().data, theirs.average_combine().data, rtol=1e-10
    )
    np.testing.assert_allclose(ours.median_combine().data, theirs.median_combine().data, rtol=1e-10)
    with pytest.raises(TypeError, match="scaling must be a function or an array"):
        ours.scaling = 5
    with pytest.raises(ValueError, match="same length as the number of images"):
        ours.scaling = [5, 5, 5, 5]


def test_combiner_user_functions_see_masks(ccdproc: Any) -> None:
    data = np.ones((10, 10))
    data[5, 5] = 2
    frames = [CCDData(data, unit=u.adu, mask=data == 2)] * 2 + [CCDData(data, unit=u.adu)]
    expected = data.copy()
    c = ccdcal.Combiner(frames)
    np.testing.assert_allclose(c.average_combine(scale_func=np.ma.mean).data, expected)
    np.testing.assert_allclose(c.median_combine(median_func=np.ma.median).data, expected)
    expected_sum = 3 * data
    expected_sum[5, 5] = 2
    np.testing.assert_allclose(c.sum_combine(sum_func=np.ma.sum).data, expected_sum)


def test_combiner_generator_and_collection(ccdproc: Any, raw_files: list[Path]) -> None:
    frames = [CCDData.read(p, unit="adu") for p in raw_files[:3]]
    c = ccdcal.Combiner(f for f in frames)
    assert c.data_arr.shape == (3, 30, 41)
    np.testing.assert_allclose(
        c.average_combine().data, ccdproc.Combiner(frames).average_combine().data, atol=2e-3
    )


def test_combiner_user_uncertainty_function(ccdproc: Any) -> None:
    frames = [CCDData(np.random.default_rng(i).normal(10, 1, (5, 6)), unit="adu") for i in range(4)]
    ours, theirs = ccdcal.Combiner(frames), ccdproc.Combiner(frames)
    for name in ("average_combine", "median_combine", "sum_combine"):
        a = getattr(ours, name)(uncertainty_func=np.sum)
        b = getattr(theirs, name)(uncertainty_func=np.sum)
        np.testing.assert_allclose(a.uncertainty.array, b.uncertainty.array, rtol=1e-10)


def test_combiner_unknown_sigma_keyword() -> None:
    c = ccdcal.Combiner(_three())
    with pytest.raises(InvalidParameterError, match="unexpected keyword"):
        c.sigma_clipping(cenfunc="median")


def test_combiner_writeable_result(tmp_path: Path) -> None:
    c = ccdcal.Combiner(_three())
    for name in ("average_combine", "median_combine", "sum_combine"):
        getattr(c, name)().write(tmp_path / f"{name}.fits")
