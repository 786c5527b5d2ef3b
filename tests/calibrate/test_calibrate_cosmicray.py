"""cosmicray_lacosmic and cosmicray_median: ground truth, ccdproc 2.5.1, documented fixes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData, StdDevUncertainty, VarianceUncertainty
from astropy.utils.exceptions import AstropyDeprecationWarning
from scipy import ndimage

import ccdcal
from ccdcal.calibrate._masked_median import masked_median_at, median_filter
from ccdcal.errors import (
    CcdcalDeprecationWarning,
    CosmicRayWarning,
    IncompatibleFramesError,
    InconsistentUnitsError,
    InvalidParameterError,
    ParameterTypeError,
)
from ccdcal.io.provenance import read_provenance
from ccdcal.testing.frames import Camera

GAIN = 2.0  # electron / adu, the Camera's default
READNOISE = 10.0  # electron (5 adu)


@dataclass(frozen=True)
class Scene:
    """A calibrated 256x256 light frame (adu) with injected cosmic rays of known position."""

    data: np.ndarray  # float32
    truth: np.ndarray  # cosmic-ray pixels
    stars: np.ndarray  # pixels where a star adds > 20 adu
    variance: np.ndarray  # noise variance of each pixel, adu²
    clean: np.ndarray  # the noise-free signal


@cache
def scene(seed: int, *, n_stars: int = 15, fwhm: float = 4.5) -> Scene:
    cam = Camera(shape=(256, 256), seed=seed, hot_fraction=0.0)
    frame = cam.light(60.0, sky=5.0, n_stars=n_stars, peak=(200, 20000), fwhm=fwhm, seed=seed)
    data = (frame.ccd.data - cam.truth.bias - 60.0 * cam.truth.dark_rate) / cam.truth.flat
    rng = np.random.default_rng([seed, 99])
    truth = np.zeros(data.shape, dtype=bool)
    for _ in range(40):  # 1-3 pixel hits, 150-3000 adu above the sky of 300 adu
        y, x = rng.integers(4, 252, 2)
        dy, dx = rng.integers(-1, 2, 2)
        for k in range(int(rng.integers(1, 4))):
            data[y + k * dy, x + k * dx] += rng.uniform(150, 3000)
            truth[y + k * dy, x + k * dx] = True
    variance = frame.variance / cam.truth.flat**2
    return Scene(
        data=data.astype(np.float32),
        truth=truth,
        stars=(frame.signal - 300.0) > 20,
        variance=variance,
        clean=frame.signal,
    )


def lacosmic(data: np.ndarray, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    result = ccdcal.cosmicray_lacosmic(data, gain=GAIN, readnoise=READNOISE, **kwargs)
    assert isinstance(result, tuple)
    return result


def near(truth: np.ndarray) -> np.ndarray:
    return ndimage.binary_dilation(truth, np.ones((3, 3), dtype=bool))


# --- cosmicray_lacosmic: ground truth ------------------------------------------------------


@pytest.mark.parametrize("seed", [2, 3])
def test_lacosmic_finds_the_injected_cosmic_rays_and_no_stars(seed):
    s = scene(seed)
    cleaned, crmask = lacosmic(s.data, sepmed=False, gain_apply=False)
    assert (crmask & s.truth).sum() >= 0.9 * s.truth.sum()
    isolated = crmask & ~near(s.truth)  # neighbours of a hit may be flagged (sigfrac)
    assert isolated.sum() <= 2e-4 * crmask.size
    assert not (isolated & s.stars).any()
    hits = s.truth & crmask
    noise = np.sqrt(s.variance[hits])
    # Cleaned hits are back near the true signal (5x5 mean of the neighbours) ...
    assert np.median(np.abs(cleaned[hits] - s.clean[hits]) / noise) < 3
    # ... and every pixel that was not flagged is exactly the input.
    np.testing.assert_array_equal(cleaned[~crmask], s.data[~crmask])


def test_lacosmic_default_separable_median_flags_sharp_blended_stars():
    # Documented advice, not a ccdcal choice: astroscrappy's default sepmed=True
    # flags wings of bright blended stars; sepmed=False (IRAF's filter) does not.
    s = scene(2)
    _, fast = lacosmic(s.data)
    _, full = lacosmic(s.data, sepmed=False)
    assert (fast & s.stars & ~near(s.truth)).sum() > 10
    assert not (full & s.stars & ~near(s.truth)).any()


# --- cosmicray_lacosmic: against ccdproc 2.5.1 ---------------------------------------------


def test_lacosmic_ccddata_matches_ccdproc(ccdproc):
    s = scene(3)
    mask = np.zeros(s.data.shape, dtype=bool)
    mask[100:103, 50] = True  # a masked bad column piece
    ccd = CCDData(s.data, unit="adu", mask=mask)
    args = {"gain": GAIN * u.electron / u.adu, "readnoise": READNOISE * u.electron}
    ours = ccdcal.cosmicray_lacosmic(ccd, **args)
    ref = ccdproc.cosmicray_lacosmic(ccd, **args)
    np.testing.assert_array_equal(ours.mask, ref.mask)
    assert ours.mask[mask].all()
    assert ours.unit == ref.unit == u.electron
    flagged = ours.mask & ~mask
    np.testing.assert_array_equal(ours.data[flagged], ref.data[flagged].astype(np.float32))
    # ccdproc's other pixels went through astroscrappy's float32 x*g/g: one ulp apart.
    np.testing.assert_allclose(ours.data, ref.data, rtol=2e-7)
    assert ours.data.dtype == np.float32
    assert ref.data.dtype == np.float64  # ccdproc promotes with any gain other than 1


@pytest.mark.parametrize("gain_apply", [True, False])
def test_lacosmic_array_matches_ccdproc(ccdproc, gain_apply):
    data = scene(2).data
    cleaned, crmask = lacosmic(data, gain_apply=gain_apply)
    ref_cleaned, ref_crmask = ccdproc.cosmicray_lacosmic(
        data, gain=GAIN, readnoise=READNOISE, gain_apply=gain_apply
    )
    np.testing.assert_array_equal(crmask, ref_crmask)
    np.testing.assert_allclose(cleaned, ref_cleaned, rtol=2e-7)
    factor = GAIN if gain_apply else 1.0
    np.testing.assert_array_equal(cleaned[~crmask], data[~crmask] * np.float32(factor))


def test_lacosmic_inbkg_and_invar_reach_astroscrappy_as_in_ccdproc(ccdproc):
    s = scene(3)
    background = ndimage.median_filter(s.data, size=15)
    variance = s.variance.astype(np.float32)
    ours = lacosmic(s.data, inbkg=background, invar=variance)
    ref = ccdproc.cosmicray_lacosmic(
        s.data, gain=GAIN, readnoise=READNOISE, inbkg=background, invar=variance
    )
    np.testing.assert_array_equal(ours[1], ref[1])
    np.testing.assert_allclose(ours[0], ref[0], rtol=2e-7)


def test_lacosmic_pssl_is_deprecated_and_works_as_in_ccdproc(ccdproc):
    sky_subtracted = scene(2).data - np.float32(300.0)
    with pytest.warns(CcdcalDeprecationWarning, match="pssl keyword will be removed") as rec:
        cleaned, crmask = lacosmic(sky_subtracted, pssl=300.0)
    assert issubclass(rec[0].category, AstropyDeprecationWarning)  # ccdproc's category
    assert rec[0].filename == __file__
    with pytest.warns(AstropyDeprecationWarning):
        ref_cleaned, ref_crmask = ccdproc.cosmicray_lacosmic(
            sky_subtracted, gain=GAIN, readnoise=READNOISE, pssl=300.0
        )
    np.testing.assert_array_equal(crmask, ref_crmask)
    np.testing.assert_allclose(cleaned, ref_cleaned, rtol=1e-6, atol=1e-3)


# --- cosmicray_lacosmic: documented differences --------------------------------------------


def test_lacosmic_uncertainty_is_gain_scaled_unlike_ccdproc(ccdproc):
    s = scene(2)
    sigma = np.sqrt(s.variance).astype(np.float32)
    ccd = CCDData(s.data, unit="adu", uncertainty=StdDevUncertainty(sigma))
    ours = ccdcal.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE)
    ref = ccdproc.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE)
    assert ours.unit == u.electron
    np.testing.assert_allclose(ours.uncertainty.array, GAIN * sigma, rtol=1e-7)
    np.testing.assert_array_equal(ref.uncertainty.array, sigma)  # ccdproc #729: still adu
    # In electrons, the scatter of the unflagged sky matches the gain-scaled σ.
    sky = ~ours.mask & ~s.stars
    pulls = (ours.data[sky] - GAIN * s.clean[sky]) / ours.uncertainty.array[sky]
    assert abs(np.std(pulls) - 1) < 0.03


def test_lacosmic_gain_apply_false_keeps_the_unit_unlike_ccdproc(ccdproc):
    ccd = CCDData(scene(2).data, unit="adu")
    ours = ccdcal.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE, gain_apply=False)
    ref = ccdproc.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE, gain_apply=False)
    assert ours.unit == u.adu
    assert ref.unit == u.electron  # ccdproc: data in adu labelled electron
    np.testing.assert_array_equal(ours.mask, ref.mask)
    np.testing.assert_array_equal(ours.data[~ours.mask], ccd.data[~ours.mask])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
def test_lacosmic_keeps_the_working_dtype(dtype):
    data = np.clip(scene(3).data, 0, None).astype(dtype)
    cleaned, crmask = lacosmic(data)
    expected = np.float64 if dtype == np.float64 else np.float32
    assert cleaned.dtype == expected
    # Unflagged pixels are the input times the gain, computed in that dtype.
    np.testing.assert_array_equal(cleaned[~crmask], data[~crmask].astype(expected) * expected(GAIN))


def test_lacosmic_masked_pixels_are_neither_flagged_nor_used_to_clean(ccdproc):
    rng = np.random.default_rng(5)
    data = rng.normal(300, 13, (64, 64)).astype(np.float32)
    data[30, 30] += 2000.0  # a cosmic ray ...
    data[30, 32] = 50000.0  # ... two pixels from a masked hot pixel
    mask = np.zeros(data.shape, dtype=bool)
    mask[30, 32] = True
    out = ccdcal.cosmicray_lacosmic(CCDData(data, unit="adu", mask=mask), gain=GAIN)
    assert out.mask[30, 30]
    assert abs(out.data[30, 30] / GAIN - 300) < 20  # the hot pixel is not in the mean
    # A masked array's mask is honoured too (ccdproc passes inmask=None for arrays).
    cleaned, crmask = lacosmic(np.ma.masked_array(data, mask))
    assert crmask[30, 30]
    assert not crmask[30, 32]
    assert abs(cleaned[30, 30] / GAIN - 300) < 20
    _, ref_crmask = ccdproc.cosmicray_lacosmic(np.array(data), gain=GAIN, readnoise=READNOISE)
    assert ref_crmask[30, 32]  # unmasked, the hot pixel is a "cosmic ray"


def test_lacosmic_nan_near_a_cosmic_ray_does_not_spread(ccdproc):
    rng = np.random.default_rng(6)
    data = rng.normal(300, 13, (64, 64)).astype(np.float32)
    data[20, 20] += 2000.0
    data[21, 22] = np.nan  # in the 5x5 cleaning box of the hit
    cleaned, crmask = lacosmic(data, gain_apply=False)
    assert crmask.sum() == 1
    assert crmask[20, 20]
    assert abs(cleaned[20, 20] - 300) < 20
    assert np.isnan(cleaned[21, 22])  # kept as it was, and not flagged
    ref_cleaned, ref_crmask = ccdproc.cosmicray_lacosmic(
        data, gain=GAIN, readnoise=READNOISE, gain_apply=False
    )
    assert ref_crmask[20, 20]
    assert np.isnan(ref_cleaned[20, 20])  # ccdproc: the NaN enters the cleaning mean


def test_lacosmic_invar_from_the_uncertainty():
    s = scene(3)
    sigma = np.sqrt(s.variance).astype(np.float32)
    ccd = CCDData(s.data, unit="adu", uncertainty=VarianceUncertainty(sigma**2))
    ours = ccdcal.cosmicray_lacosmic(
        ccd, gain=GAIN, readnoise=READNOISE, invar="uncertainty", sepmed=False
    )
    _, explicit = lacosmic(s.data, invar=sigma**2, sepmed=False)
    np.testing.assert_array_equal(ours.mask, explicit)
    assert (ours.mask & s.truth).sum() >= 0.9 * s.truth.sum()
    assert (ours.mask & ~near(s.truth)).sum() <= 2e-4 * s.data.size
    # A noise model 100x too large hides most hits: the variance is really used.
    _, loud = lacosmic(s.data, invar=(100 * sigma) ** 2, sepmed=False)
    assert loud.sum() < 0.5 * ours.mask.sum()


def test_lacosmic_units_that_convert_are_converted():
    ccd = CCDData(scene(2).data, unit="adu")
    ref = ccdcal.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE)
    kilo = CCDData(ccd.data / np.float32(1000), unit="kadu")
    out = ccdcal.cosmicray_lacosmic(
        kilo, gain=GAIN * u.electron / u.adu, readnoise=READNOISE * u.electron
    )
    np.testing.assert_array_equal(out.mask, ref.mask)
    assert out.unit == u.electron
    np.testing.assert_allclose(out.data, ref.data, rtol=1e-6)


def test_lacosmic_data_in_electrons(ccdproc):
    ccd = CCDData(scene(2).data * np.float32(GAIN), unit="electron")
    out = ccdcal.cosmicray_lacosmic(ccd, readnoise=READNOISE)
    assert out.unit == u.electron
    assert (out.mask & scene(2).truth).sum() >= 0.9 * scene(2).truth.sum()
    with pytest.warns(CosmicRayWarning, match="Image unit is electron") as rec:
        ccdcal.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE)
    assert issubclass(rec[0].category, UserWarning)  # what ccdproc issues
    assert rec[0].filename == __file__
    with pytest.warns(UserWarning, match="Image unit is electron"):
        ccdproc.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE)


def test_lacosmic_verbose_logs_instead_of_printing(caplog, capsys):
    with caplog.at_level(logging.INFO, logger="ccdcal.calibrate.cosmicray"):
        lacosmic(scene(2).data, verbose=True, niter=2)
    assert capsys.readouterr().out == ""
    assert any("astroscrappy: Starting 2 L.A.Cosmic iterations" in m for m in caplog.messages)


def test_lacosmic_records_structured_provenance_only():
    ccd = CCDData(scene(2).data, unit="adu", meta={"OBJECT": "M51"})
    out = ccdcal.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE, objlim=6.0)
    (rec,) = read_provenance(out.meta)
    assert rec["step"] == "cosmicray_lacosmic"
    assert rec["params"]["objlim"] == 6.0
    assert rec["params"]["gain"] == {"value": GAIN, "unit": "electron / adu"}
    assert rec["params"]["n_flagged"] == int(out.mask.sum())
    assert not any("COSMICRAY" in str(key).upper() for key in out.meta)
    assert out.meta["OBJECT"] == "M51"
    quiet = ccdcal.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE, add_keyword=False)
    assert read_provenance(quiet.meta) == []


def test_lacosmic_does_not_mutate_its_input(unchanged):
    snapshot, assert_unchanged = unchanged
    s = scene(2)
    mask = np.zeros(s.data.shape, dtype=bool)
    mask[5, 5] = True
    sigma = np.sqrt(s.variance).astype(np.float32)
    ccd = CCDData(
        s.data.copy(), unit="adu", mask=mask, uncertainty=StdDevUncertainty(sigma), meta={"A": 1}
    )
    before = snapshot(ccd)
    ccdcal.cosmicray_lacosmic(ccd, gain=GAIN, readnoise=READNOISE, invar="uncertainty")
    assert_unchanged(ccd, before)
    array = s.data.copy()
    lacosmic(array)
    np.testing.assert_array_equal(array, s.data)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"gain": 2.0 * u.adu / u.electron}, InconsistentUnitsError, "Inconsistent units"),
        ({"readnoise": 6.5 * u.adu}, InconsistentUnitsError, "Inconsistent units"),
        ({"gain": "2"}, ParameterTypeError, "gain must be a number or a Quantity"),
        ({"gain": 0.0}, InvalidParameterError, "gain must be positive"),
        ({"cleantype": "mean"}, InvalidParameterError, "cleantype='mean' is not one of"),
        ({"fsmode": "conv"}, InvalidParameterError, "fsmode='conv' is not one of"),
        ({"niter": -1}, InvalidParameterError, "niter must be an integer >= 0"),
        ({"inbkg": 5}, ParameterTypeError, "inbkg must be a numeric numpy array"),
        ({"invar": np.ones((3, 3))}, IncompatibleFramesError, r"invar has shape \(3, 3\)"),
        ({"invar": "sigma"}, InvalidParameterError, "invar='sigma'"),
        ({"invar": "uncertainty"}, InvalidParameterError, "needs a CCDData with an uncertainty"),
    ],
)
def test_lacosmic_argument_errors(kwargs, error, match):
    ccd = CCDData(np.ones((16, 16), dtype=np.float32), unit="adu")
    with pytest.raises(error, match=match):
        ccdcal.cosmicray_lacosmic(ccd, **kwargs)


def test_lacosmic_error_types_are_ccdprocs():
    ccd = CCDData(np.ones((16, 16), dtype=np.float32), unit="adu")
    with pytest.raises(ValueError, match="Inconsistent units for gain"):
        ccdcal.cosmicray_lacosmic(ccd, gain=2.0 * u.adu / u.electron)
    with pytest.raises(TypeError, match="ccd is not a CCDData or ndarray object"):
        ccdcal.cosmicray_lacosmic([[1.0, 2.0]])  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="needs a 2-D numeric image"):
        ccdcal.cosmicray_lacosmic(np.ones((2, 3, 4)))
    with (
        pytest.raises(ValueError, match="Cannot set both pssl and inbkg"),
        pytest.warns(CcdcalDeprecationWarning, match="pssl"),
    ):
        ccdcal.cosmicray_lacosmic(ccd, pssl=3.0, inbkg=ccd.data)


# --- cosmicray_median ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 4, 11])
def test_masked_median_filter_is_scipys_without_mask_and_exact_with_one(size):
    rng = np.random.default_rng(size)
    values = rng.normal(size=(23, 31)).astype(np.float32)
    bad = rng.random(values.shape) < 0.3
    rows, cols = np.nonzero(np.ones(values.shape, dtype=bool))
    none_bad = np.zeros(values.shape, dtype=bool)
    np.testing.assert_array_equal(
        masked_median_at(values, none_bad, size, rows, cols).reshape(values.shape),
        ndimage.median_filter(values, size=size),
    )
    filtered = median_filter(values, bad, size)
    for r, c in [(0, 0), (11, 15), (22, 30), (5, 29)]:  # brute force, edges reflected
        ys = _reflect(np.arange(r - size // 2, r - size // 2 + size), values.shape[0])
        xs = _reflect(np.arange(c - size // 2, c - size // 2 + size), values.shape[1])
        good = np.sort(values[np.ix_(ys, xs)][~bad[np.ix_(ys, xs)]])
        assert filtered[r, c] == good[good.size // 2]  # scipy's (upper) median


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    """scipy's 'reflect' edge: -1 -> 0, n -> n - 1."""
    index = np.where(index < 0, -index - 1, index)
    return np.where(index > n - 1, 2 * n - 1 - index, index)


def test_median_matches_ccdproc_where_ccdproc_works(ccdproc):
    s = scene(2)
    sigma = np.sqrt(s.variance).astype(np.float32)
    ccd = CCDData(s.data, unit="adu", uncertainty=StdDevUncertainty(sigma))
    ours = ccdcal.cosmicray_median(ccd, thresh=5, mbox=11, gbox=3)
    ref = ccdproc.cosmicray_median(ccd, thresh=5, mbox=11, gbox=3)
    np.testing.assert_array_equal(ours.mask, ref.mask)
    np.testing.assert_array_equal(ours.data, ref.data)
    np.testing.assert_array_equal(ours.uncertainty.array, sigma)
    for error in (sigma, 6.5):
        data, crarr = ccdcal.cosmicray_median(s.data, error_image=error, thresh=5, mbox=7)
        ref_data, ref_crarr = ccdproc.cosmicray_median(s.data, error_image=error, thresh=5, mbox=7)
        np.testing.assert_array_equal(crarr, ref_crarr)
        np.testing.assert_array_equal(data, ref_data)


def test_median_finds_the_injected_cosmic_rays_and_replaces_them():
    s = scene(3)
    sigma = np.sqrt(s.variance).astype(np.float32)
    data, crarr = ccdcal.cosmicray_median(s.data, error_image=sigma, thresh=5, rbox=5)
    assert (crarr & s.truth).sum() >= 0.9 * s.truth.sum()
    # crmedian does flag star cores; elsewhere only rare 5σ noise peaks.
    assert (crarr & ~near(s.truth) & ~s.stars).sum() <= 1e-4 * crarr.size
    hits = crarr & s.truth & ~s.stars
    assert np.median(np.abs(data[hits] - s.clean[hits]) / sigma[hits]) < 2
    np.testing.assert_array_equal(data[~crarr], s.data[~crarr])


def test_median_without_any_error_uses_a_robust_sigma_unlike_ccdproc(ccdproc):
    s = scene(3)
    ccd = CCDData(s.data, unit="adu")
    with pytest.raises(AttributeError, match="has no attribute 'shape'"):
        ccdproc.cosmicray_median(ccd, thresh=5)
    out = ccdcal.cosmicray_median(ccd, thresh=5)
    (rec,) = read_provenance(out.meta)
    estimated = rec["params"]["error"]["robust_sigma"]
    sky_noise = float(np.sqrt(np.median(s.variance)))
    assert abs(estimated / sky_noise - 1) < 0.1
    assert (out.mask & s.truth).sum() >= 0.9 * s.truth.sum()
    assert (out.mask & ~near(s.truth) & ~s.stars).sum() <= 1e-4 * s.data.size
    # ccdproc's array default, the plain std, is inflated by the stars and misses hits.
    _, ref_crarr = ccdproc.cosmicray_median(s.data, thresh=5)
    _, crarr = ccdcal.cosmicray_median(s.data, thresh=5)
    np.testing.assert_array_equal(crarr, out.mask)
    assert (ref_crarr & s.truth).sum() < 0.8 * s.truth.sum()


def test_median_float_error_image_works_with_ccddata(ccdproc):
    ccd = CCDData(scene(2).data, unit="adu")
    with pytest.raises(AttributeError, match="has no attribute 'shape'"):
        ccdproc.cosmicray_median(ccd, error_image=6.5)
    out = ccdcal.cosmicray_median(ccd, error_image=6.5, thresh=5)
    _, ref_crarr = ccdproc.cosmicray_median(ccd.data, error_image=6.5, thresh=5)
    np.testing.assert_array_equal(out.mask, ref_crarr)


def test_median_masked_pixels_do_not_pollute_the_median(ccdproc):
    rng = np.random.default_rng(8)
    data = rng.normal(100, 5, (48, 48)).astype(np.float32)
    mask = np.zeros(data.shape, dtype=bool)
    mask[:, 14:27] = True  # a masked bleed trail of 13 columns ...
    mask[:, 20] = False  # ... with one good column through it
    data[mask] = 60000.0
    data[24, 20] += 200.0  # a cosmic ray on the good column
    data[5, 40] = 5000.0  # a masked hot pixel
    mask[5, 40] = True
    ccd = CCDData(data, unit="adu", mask=mask, uncertainty=StdDevUncertainty(np.full((48, 48), 5)))
    out = ccdcal.cosmicray_median(ccd, thresh=5, rbox=5)
    ref = ccdproc.cosmicray_median(ccd, thresh=5, rbox=5)
    assert out.mask[24, 20]
    assert not ref.mask[24, 20]  # ccdproc: the masked trail raises the local median
    assert abs(out.data[24, 20] - 100) < 15  # replaced from good pixels only
    assert (out.mask ^ mask).sum() == 1  # masked pixels are not "cosmic rays" ...
    np.testing.assert_array_equal(out.data[mask], data[mask])  # ... and keep their values
    assert ref.data[5, 40] < 200  # ccdproc overwrites the masked hot pixel


def test_median_replacement_leaves_out_the_cosmic_rays(ccdproc):
    rng = np.random.default_rng(9)
    data = rng.normal(100, 5, (32, 32)).astype(np.float32)
    data[10:14, 10:14] += 5000.0  # a 4x4 hit: 16 of the 25 pixels of a 5x5 box
    data_out, crarr = ccdcal.cosmicray_median(data, error_image=5.0, thresh=5, rbox=5)
    ref_data, ref_crarr = ccdproc.cosmicray_median(data, error_image=5.0, thresh=5, rbox=5)
    np.testing.assert_array_equal(crarr, ref_crarr)
    assert crarr[10:14, 10:14].all()
    assert np.all(np.abs(data_out[10:14, 10:14] - 100) < 15)
    assert ref_data[11, 11] > 1000  # ccdproc's box median includes the hit


def test_median_uint16_does_not_wrap_and_keeps_its_dtype(ccdproc):
    s = scene(2)
    data = np.clip(np.rint(s.data), 0, 65535).astype(np.uint16)
    out = ccdcal.cosmicray_median(CCDData(data, unit="adu"), error_image=13.5, thresh=5, rbox=5)
    assert out.data.dtype == np.uint16
    assert (out.mask & s.truth).sum() >= 0.9 * s.truth.sum()
    assert (out.mask & ~near(s.truth) & ~s.stars).sum() <= 1e-4 * data.size
    _, ref_crarr = ccdproc.cosmicray_median(data, error_image=13.5, thresh=5)
    assert ref_crarr.sum() > 0.3 * data.size  # every negative residual wrapped around


def test_median_variance_uncertainty_is_used_as_a_standard_deviation():
    s = scene(2)
    sigma = np.sqrt(s.variance).astype(np.float32)
    as_std = ccdcal.cosmicray_median(
        CCDData(s.data, unit="adu", uncertainty=StdDevUncertainty(sigma))
    )
    as_var = ccdcal.cosmicray_median(
        CCDData(s.data, unit="adu", uncertainty=VarianceUncertainty(sigma**2))
    )
    np.testing.assert_array_equal(as_std.mask, as_var.mask)


def test_median_records_provenance_and_does_not_mutate(unchanged):
    snapshot, assert_unchanged = unchanged
    s = scene(2)
    mask = np.zeros(s.data.shape, dtype=bool)
    mask[0, :5] = True
    ccd = CCDData(s.data.copy(), unit="adu", mask=mask, meta={"B": 2})
    before = snapshot(ccd)
    out = ccdcal.cosmicray_median(ccd, thresh=6, mbox=9, rbox=5)
    assert_unchanged(ccd, before)
    (rec,) = read_provenance(out.meta)
    assert rec["step"] == "cosmicray_median"
    assert rec["params"]["mbox"] == 9
    assert rec["params"]["error"] == {"robust_sigma": pytest.approx(13, rel=0.2)}
    assert rec["params"]["n_flagged"] == int((out.mask & ~mask).sum()) > 0
    assert not any("CRMEDIAN" in str(key).upper() for key in out.meta)


@pytest.mark.parametrize(
    ("ccd", "kwargs", "error", "match"),
    [
        (10, {"error_image": 5.3}, TypeError, "ccd is not a CCDData or ndarray object"),
        (np.ones((8, 8)), {"error_image": "blank"}, TypeError, "error_image is not a float"),
        (
            np.ones((8, 8)),
            {"error_image": np.ones((4, 4))},
            IncompatibleFramesError,
            "error_image is not the same shape as data",
        ),
        (np.ones((8, 8)), {"error_image": 0.0}, InvalidParameterError, "must be positive"),
        (np.ones((8, 8)), {"mbox": 0}, InvalidParameterError, "mbox must be an integer >= 1"),
        (np.ones((8, 8)), {"rbox": 2.5}, InvalidParameterError, "rbox must be an integer >= 0"),
        (
            CCDData(np.ones((8, 8)), unit="adu"),
            {"error_image": 1.0 * u.s},
            InconsistentUnitsError,
            "error_image is in 's'",
        ),
    ],
)
def test_median_argument_errors(ccd, kwargs, error, match):
    with pytest.raises(error, match=match):
        ccdcal.cosmicray_median(ccd, **kwargs)
    if error is IncompatibleFramesError:
        assert issubclass(error, ValueError)  # ccdproc's type


def test_median_error_image_quantity_is_converted():
    data = scene(2).data
    ccd = CCDData(data, unit="adu")
    plain = ccdcal.cosmicray_median(ccd, error_image=6.5)
    quantity = ccdcal.cosmicray_median(ccd, error_image=0.0065 * u.kadu)
    np.testing.assert_array_equal(plain.mask, quantity.mask)
