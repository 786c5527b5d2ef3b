"""Scaling (ccdproc's factors and functions, ScaleBy, ZeroBy) and weights."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.nddata import CCDData

import ccdcal
from ccdcal.errors import (
    CombineError,
    ExposureTimeError,
    HeaderKeywordError,
    InvalidParameterError,
    SectionError,
)
from ccdcal.stacking import ScaleBy, ZeroBy
from ccdcal.stacking.scaling import half_sample_mode, parse_statsec
from ccdcal.testing.stacks import gaussian_stack


def _flats(levels: tuple[float, ...], *, seed: int = 1) -> list[CCDData]:
    """Flat-like frames: the same pattern at different levels, with EXPTIME = level/100."""
    rng = np.random.default_rng(seed)
    pattern = 1 + 0.05 * rng.standard_normal((20, 30))
    return [
        CCDData(
            (level * pattern).astype(np.float32),
            unit="adu",
            meta={"EXPTIME": level / 100, "LEVEL": level},
        )
        for level in levels
    ]


@pytest.mark.parametrize("statistic", ["median", "mean", "mode"])
def test_scale_by_statistic_brings_frames_to_the_mean_level(statistic: str) -> None:
    levels = (10000.0, 20000.0, 30000.0)
    frames = _flats(levels)
    result = ccdcal.combine(frames, scale=ScaleBy(statistic, max_samples=None))
    pattern = frames[0].data / levels[0]
    np.testing.assert_allclose(result.data / np.mean(levels), pattern, rtol=5e-3)
    assert result.meta["COMBSCAL"].startswith(statistic)


def test_scale_by_exposure_keyword_and_normalisation() -> None:
    frames = _flats((10000.0, 20000.0, 40000.0))
    pattern = frames[0].data / 10000.0
    by_exp = ccdcal.combine(frames, scale="exposure")
    np.testing.assert_allclose(by_exp.data, pattern * np.mean([10000, 20000, 40000]), rtol=1e-5)
    by_key = ccdcal.combine(frames, scale=ScaleBy("keyword", keyword="LEVEL", normalize="none"))
    np.testing.assert_allclose(by_key.data, pattern, rtol=1e-5)
    first = ccdcal.combine(frames, scale=ScaleBy("median", normalize="first"))
    np.testing.assert_allclose(np.median(first.data), np.median(frames[0].data), rtol=1e-4)


def test_scale_statsec_and_callable() -> None:
    frames = _flats((10000.0, 20000.0))
    frames[1].data[:, :10] = 0.0  # a bad region outside the statistics section
    section = ScaleBy("median", statsec="[11:30, 1:20]", max_samples=None)
    result = ccdcal.combine(frames, scale=section)
    ratio = frames[0].data[:, 10:] / (frames[1].data[:, 10:] / 2)
    np.testing.assert_allclose(ratio, 1.0, rtol=1e-5)
    assert np.isfinite(result.data).all()
    by_func = ccdcal.combine(frames, scale=ScaleBy(np.max))
    assert np.isfinite(by_func.data).all()


def test_ccdproc_scale_function_gets_the_whole_frame() -> None:
    frames = _flats((10000.0, 20000.0))
    seen = []

    def inv_median(data: np.ndarray) -> float:
        seen.append(data.shape)
        return 1 / float(np.median(data))

    result = ccdcal.combine(frames, scale=inv_median)
    assert seen == [(20, 30), (20, 30)]
    np.testing.assert_allclose(np.median(result.data), 1.0, rtol=1e-3)


def test_zero_offsets() -> None:
    stack, _ = gaussian_stack(3, (20, 20), level=100.0, noise=1.0, seed=3)
    stack += np.array([0.0, 50.0, -20.0], np.float32)[:, None, None]
    frames = [CCDData(s, unit="adu") for s in stack]
    result = ccdcal.combine(frames, zero=ZeroBy("median", normalize="first"))
    assert abs(float(np.median(result.data)) - float(np.median(stack[0]))) < 0.5
    offsets = ccdcal.combine(frames, zero=[0.0, -50.0, 20.0])
    np.testing.assert_allclose(
        offsets.data, stack[0] / 3 + stack[1] / 3 + stack[2] / 3 - 10, rtol=1e-5
    )


def test_scaling_errors() -> None:
    frames = _flats((10000.0, 20000.0))
    with pytest.raises(ValueError, match="same length as the number of images"):
        ccdcal.combine(frames, scale=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="scaling must be a function or an array"):
        ccdcal.combine(frames, scale=5)
    with pytest.raises(InvalidParameterError, match="unknown statistic 'average'"):
        ScaleBy("average")  # type: ignore[arg-type]
    with pytest.raises(HeaderKeywordError, match="no keyword 'EXPOSURE'"):
        ccdcal.combine(frames, scale=ScaleBy("exposure", keyword="EXPOSURE"))
    frames[1].meta["EXPTIME"] = 0.0
    with pytest.raises(ExposureTimeError, match="must be > 0"):
        ccdcal.combine(frames, scale="exposure")
    zero = [CCDData(np.zeros((3, 3)), unit="adu")] * 2
    with pytest.raises(CombineError, match="level is 0"):
        ccdcal.combine(zero, scale="median")
    with pytest.raises(SectionError, match="outside the frame"):
        ccdcal.combine(frames, scale=ScaleBy(statsec="[1:100, 1:5]"))
    with pytest.raises(SectionError, match="is not a FITS section"):
        parse_statsec("1:5,1:5", (10, 10))


def test_half_sample_mode() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(100, 1, 5000), rng.normal(300, 50, 2000)])
    assert half_sample_mode(values) == pytest.approx(100, abs=0.5)
    assert half_sample_mode(np.array([3.0])) == 3.0


def test_weight_forms() -> None:
    frames = [CCDData(np.full((2, 2), v), unit="adu") for v in (1.0, 2.0, 4.0)]
    assert float(ccdcal.combine(frames, weights=2.0).data[0, 0]) == pytest.approx(7 / 3)
    assert float(ccdcal.combine(frames, weights=[1, 0, 1]).data[0, 0]) == pytest.approx(2.5)
    assert float(ccdcal.combine(frames, method="sum", weights=2.0).data[0, 0]) == 14.0
    with pytest.raises(InvalidParameterError, match=">= 0"):
        ccdcal.combine(frames, weights=[1, -1, 1])
    with pytest.raises(InvalidParameterError, match="Length of weights not compatible"):
        ccdcal.combine(frames, weights=[1, 1])
    with pytest.raises(InvalidParameterError, match="unknown weights 'equal'"):
        ccdcal.combine(frames, weights="equal")
    with pytest.raises(CombineError, match="needs an uncertainty on every frame"):
        ccdcal.combine(frames, weights="inverse_variance")


def test_all_zero_weights_mask_the_pixel() -> None:
    frames = [CCDData(np.full((2, 2), v), unit="adu") for v in (1.0, 2.0)]
    w = np.ones((2, 2, 2))
    w[:, 0, 0] = 0
    result = ccdcal.combine(frames, weights=w)
    assert result.mask[0, 0]
    assert not result.mask[1, 1]
